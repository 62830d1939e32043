/*
 * libsecsipid.h - the C API of libsecsipid 1.3 (github.com/asipto/secsipidx), provided
 * by stirwire's drop-in library (libsecsipid.so.1) on libstirwire, without a Go runtime.
 *
 * Names, arguments and return values are those of the Go library's header, so that a
 * program built against either runs on either. What ours does differently (it never
 * aborts its host, checks certificates, refuses future-dated tokens...) is listed in
 * stirwire's README.md, "libsecsipid drop-in".
 *
 * Rules a caller can rely on:
 *  - every string handed back through outPtr is allocated with malloc(); free() it;
 *  - *outPtr is always set when outPtr is not NULL, also on failure;
 *  - an identity given with a length need not be NUL-terminated (a length of 0 means
 *    it is); a NULL string argument counts as "";
 *  - the functions may be called from any number of threads at once, and before or
 *    after fork(); none of them exits, aborts or prints.
 *
 * Return codes (negative): -1 generic; -101..-114 certificate and public key; -151,
 * -152 private key; -201..-254 JWT header, payload and signature; -301..-304 Identity
 * header; -401..-404 HTTP; -451 file read.
 */
#ifndef __LIBSECSIPID_H__
#define __LIBSECSIPID_H__

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Signs headerJSON and payloadJSON (white space around them trimmed, the text otherwise
 * encoded as given) with the private key in the file prvkeyPath. *outPtr gets the JWT
 * "header.payload.signature". Returns its length, 0 on failure (*outPtr is then "").
 */
extern int SecSIPIDSignJSONHP(char *headerJSON, char *payloadJSON, char *prvkeyPath, char **outPtr);
/* The same with the private key's PEM text in prvkeyData (1.3). */
extern int SecSIPIDSignJSONHPPrvKey(char *headerJSON, char *payloadJSON, char *prvkeyData,
                                    char **outPtr);

/*
 * Builds and signs a SHAKEN PASSporT and writes the Identity header value
 * "<jwt>;info=<x5u>;alg=ES256;ppt=shaken" to *outPtr: origTN calling number, destTN
 * called number, attestVal "A", "B" or "C", origID ("" for a fresh UUID), x5uVal (""
 * for the x5u option), and the private key in the file prvkeyPath. Returns the length
 * of *outPtr, or an error code (< 0) with *outPtr "".
 */
extern int SecSIPIDGetIdentity(char *origTN, char *destTN, char *attestVal, char *origID,
                               char *x5uVal, char *prvkeyPath, char **outPtr);
/* The same with the private key's PEM text in prvkeyData. */
extern int SecSIPIDGetIdentityPrvKey(char *origTN, char *destTN, char *attestVal, char *origID,
                                     char *x5uVal, char *prvkeyData, char **outPtr);

/*
 * Checks a bare JWT (no header parameters): its iat is not older than expireVal seconds,
 * and its signature verifies with the public key or certificate at pubkeyPath (a file,
 * a file:// URL, or an http(s):// URL fetched within timeoutVal seconds). identityLen
 * is the length of identityVal, 0 when it is NUL-terminated. 0 when valid, else < 0.
 */
extern int SecSIPIDCheck(char *identityVal, int identityLen, int expireVal, char *pubkeyPath,
                         int timeoutVal);
/*
 * Checks a whole Identity header value with its parameters; also alg, ppt and that the
 * JWT's x5u equals info. An empty pubkeyPath fetches the certificate from info.
 */
extern int SecSIPIDCheckFull(char *identityVal, int identityLen, int expireVal, char *pubkeyPath,
                             int timeoutVal);
/*
 * The same with the public key or certificate's PEM text in pubkeyVal (pubkeyLen bytes,
 * 0 when NUL-terminated).
 */
extern int SecSIPIDCheckFullPubKey(char *identityVal, int identityLen, int expireVal,
                                   char *pubkeyVal, int pubkeyLen);

/*
 * Keeps fetched certificates in the directory dirPath ("" for none) for at least
 * expireVal seconds. Returns 0.
 */
extern int SecSIPIDSetFileCacheOptions(char *dirPath, int expireVal);

/*
 * Fetches urlVal (http or https) within timeoutVal seconds: *outPtr gets the body
 * (NUL-terminated) and *outLen its length. 0 on success, else < 0 (*outPtr NULL).
 */
extern int SecSIPIDGetURLContent(char *urlVal, int timeoutVal, char **outPtr, int *outLen);

/*
 * Library options. String options: CacheDirPath, CertCAFile, CertCAInter, CertCRLFile,
 * x5u. Number options: CacheExpires, CertVerify, and stirwire's fetch policy (README.md).
 * SetV takes "name=value". 0 when the option was set, -1 otherwise.
 */
extern int SecSIPIDOptSetS(char *optName, char *optVal);
extern int SecSIPIDOptSetN(char *optName, int optVal);
extern int SecSIPIDOptSetV(char *optNameVal);
/* Reads a number option into *optVal: 0, or -1 for an unknown name. Our own shape for
 * the 1.3 function: no upstream header we could read declares it (README.md). */
extern int SecSIPIDOptGetN(char *optName, int *optVal);

#ifdef __cplusplus
}
#endif

#endif
