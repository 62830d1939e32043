/*
 * stirwire.h - the public interface of libstirwire.
 *
 * libstirwire signs and verifies STIR/SHAKEN PASSporTs (RFC 8225, 8588) carried
 * in the SIP Identity header (RFC 8224), with ES256 through OpenSSL 3.
 *
 * Rules a user can rely on (and a contributor must not break):
 *  - Every handle is opaque; settings go through setters. sw_*_free(NULL) is a no-op.
 *  - Every outcome is one value of sw_err, generated from SW_ERR_MAP below; numbers,
 *    once released, never change. sw_errmsg() gives the per-call detail.
 *  - The library never prints, exits or aborts, and keeps no global mutable state.
 *    An sw_ctx belongs to one thread at a time; keys (sw_key, sw_pubkey) are immutable
 *    once loaded and may be shared by any number of threads and contexts.
 *  - Ownership: setters copy their strings; getters return pointers borrowed from the
 *    handle until it is freed or changed; a function that hands over memory says so,
 *    and that memory is released with sw_free().
 */
#ifndef STIRWIRE_H
#define STIRWIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The one error table. Columns:
 *   name, number, class, SIP status, SIP reason phrase, verstat, text.
 * The class groups outcomes for callers that act on kinds of failure (the CLI's exit
 * codes are the class numbers). The SIP status is what a verifier answers (RFC 8224
 * section 6.2.2 and ATIS-1000074); 0 means "not a verification outcome". The RFC 9410
 * Reason header is built from the status and the text (sw_err_reason_header()).
 */
/* clang-format off: the tables read best as tables */
#define SW_ERR_MAP(XX)                                                                             \
    XX(OK, 0, OK, 200, "OK", "TN-Validation-Passed", "valid")                                      \
    XX(NOMEM, 1, INTERNAL, 500, "Server Internal Error", "No-TN-Validation", "out of memory")      \
    XX(INVAL, 2, USAGE, 0, "", "No-TN-Validation", "invalid argument")                             \
    XX(IO, 3, INPUT, 0, "", "No-TN-Validation", "cannot read input")                               \
    XX(KEY_PARSE, 4, INPUT, 0, "", "No-TN-Validation", "key or certificate cannot be parsed")      \
    XX(KEY_CURVE, 5, INPUT, 0, "", "No-TN-Validation", "key is not an EC P-256 key")               \
    XX(CRYPTO, 6, INTERNAL, 500, "Server Internal Error", "No-TN-Validation",                      \
       "cryptographic library failure")                                                            \
    XX(TN_INVALID, 7, INPUT, 0, "", "No-TN-Validation", "telephone number is not valid")           \
    XX(IDENTITY_MISSING, 10, MISSING, 428, "Use Identity Header", "No-TN-Validation",              \
       "no Identity header")                                                                       \
    XX(IDENTITY_MALFORMED, 11, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",  \
       "Identity header is malformed")                                                             \
    XX(IDENTITY_TOO_LONG, 12, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",   \
       "Identity header is too long")                                                              \
    XX(BASE64, 13, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",              \
       "PASSporT is not valid base64url")                                                          \
    XX(JSON, 14, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",                \
       "PASSporT header or payload is not a valid JSON object")                                    \
    XX(ALG, 15, MALFORMED, 437, "Unsupported Credential", "TN-Validation-Failed",                  \
       "signature algorithm is not ES256")                                                         \
    XX(TYP, 16, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",                 \
       "PASSporT typ is not passport")                                                             \
    XX(PPT, 17, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",                 \
       "PASSporT ppt is missing, unsupported or does not match the header")                        \
    XX(INFO_MISSING, 18, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                   \
       "Identity header has no info parameter")                                                    \
    XX(X5U_MISMATCH, 19, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                   \
       "PASSporT x5u does not equal the info parameter")                                           \
    XX(IAT_MISSING, 20, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",         \
       "PASSporT has no valid iat claim")                                                          \
    XX(STALE, 21, STALE, 403, "Stale Date", "TN-Validation-Failed",                                \
       "PASSporT iat is older than the maximum age")                                               \
    XX(FUTURE, 22, STALE, 403, "Stale Date", "TN-Validation-Failed",                               \
       "PASSporT iat is in the future")                                                            \
    XX(ATTEST, 23, CLAIMS, 438, "Invalid Identity Header", "TN-Validation-Failed",                 \
       "attest claim is missing or not A, B or C")                                                 \
    XX(ORIG_MISSING, 24, CLAIMS, 438, "Invalid Identity Header", "TN-Validation-Failed",           \
       "orig.tn claim is missing or not a telephone number")                                       \
    XX(DEST_MISSING, 25, CLAIMS, 438, "Invalid Identity Header", "TN-Validation-Failed",           \
       "dest.tn claim is missing or not a list of telephone numbers")                              \
    XX(ORIGID_MISSING, 26, CLAIMS, 438, "Invalid Identity Header", "TN-Validation-Failed",         \
       "origid claim is missing")                                                                  \
    XX(ORIG_MISMATCH, 27, CLAIMS, 438, "Invalid Identity Header", "TN-Validation-Failed",          \
       "orig.tn does not match the calling number")                                                \
    XX(DEST_MISMATCH, 28, CLAIMS, 438, "Invalid Identity Header", "TN-Validation-Failed",          \
       "dest.tn does not contain the called number")                                               \
    XX(SIGNATURE, 29, SIGNATURE, 438, "Invalid Identity Header", "TN-Validation-Failed",           \
       "signature does not verify")                                                                \
    XX(CERT_UNAVAILABLE, 30, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",               \
       "no key or certificate to verify with")                                                     \
    XX(PENDING, 31, PENDING, 0, "", "No-TN-Validation", "certificate fetch in progress")           \
    XX(CERT_URL, 32, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                       \
       "info URL is not allowed by the fetch policy")                                              \
    XX(CERT_PRIVATE, 33, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                   \
       "info URL leads to a private or special-purpose address")                                   \
    XX(CERT_CONNECT, 34, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                   \
       "certificate host cannot be reached")                                                       \
    XX(CERT_TIMEOUT, 35, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                   \
       "certificate fetch timed out")                                                              \
    XX(CERT_HTTP_STATUS, 36, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",               \
       "certificate server answered with an error status")                                         \
    XX(CERT_REDIRECT, 37, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                  \
       "certificate server answered with a redirect")                                              \
    XX(CERT_TOO_LARGE, 38, CERT, 436, "Bad Identity Info", "TN-Validation-Failed",                 \
       "certificate response is larger than the limit")                                            \
    XX(CERT_PARSE, 39, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",                \
       "certificate cannot be parsed")                                                             \
    XX(CERT_UNTRUSTED, 40, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",            \
       "certificate does not chain to a trust anchor")                                             \
    XX(CERT_EXPIRED, 41, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",              \
       "certificate has expired")                                                                  \
    XX(CERT_NOT_YET_VALID, 42, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",        \
       "certificate is not yet valid")                                                             \
    XX(CERT_KEY, 43, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",                  \
       "certificate key is not EC P-256")                                                          \
    XX(CERT_TNAUTH, 44, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",               \
       "certificate has no valid TNAuthList with an SPC")                                          \
    XX(CERT_POLICY, 45, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",               \
       "certificate lacks the SHAKEN certificate policy")                                          \
    XX(CERT_REVOKED, 46, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",              \
       "certificate is revoked")                                                                   \
    XX(CERT_CRL, 47, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",                  \
       "certificate revocation list cannot be fetched or checked")                                 \
    XX(CERT_CA, 48, CERT, 437, "Unsupported Credential", "TN-Validation-Failed",                   \
       "certificate is a CA, not an SP end-entity certificate")                                    \
    XX(NO_TN, 49, MISSING, 433, "Anonymity Disallowed", "No-TN-Validation",                        \
       "the call has no calling telephone number to validate")                                     \
    XX(DATE_STALE, 50, STALE, 403, "Stale Date", "TN-Validation-Failed",                           \
       "the Date header is too old or in the future")                                              \
    XX(DATE_MISSING, 51, STALE, 403, "Stale Date", "TN-Validation-Failed",                         \
       "the request has no Date header and the policy requires one")                               \
    XX(COMPACT_SHAKEN, 52, MALFORMED, 438, "Invalid Identity Header", "TN-Validation-Failed",      \
       "compact form of a shaken PASSporT: its claims cannot be rebuilt from the message")

/* Classes of outcome; the CLI exits with the class number. */
#define SW_CLASS_MAP(XX)                                                                           \
    XX(OK, 0, "valid")                                                                             \
    XX(USAGE, 1, "usage error")                                                                    \
    XX(INPUT, 2, "bad input file, key or argument")                                                \
    XX(MISSING, 3, "no Identity")                                                                  \
    XX(MALFORMED, 4, "malformed Identity or PASSporT")                                             \
    XX(STALE, 5, "stale or future-dated PASSporT")                                                 \
    XX(CLAIMS, 6, "claims missing or not matching the call")                                       \
    XX(SIGNATURE, 7, "signature does not verify")                                                  \
    XX(CERT, 8, "certificate or info problem")                                                     \
    XX(INTERNAL, 9, "internal error")                                                              \
    XX(PENDING, 10, "pending: waiting for a certificate")
/* clang-format on */

typedef enum {
#define SW_XX_ENUM(name, num, cls, status, reason, verstat, text) SW_ERR_##name = num,
    SW_ERR_MAP(SW_XX_ENUM)
#undef SW_XX_ENUM
} sw_err;

#define SW_OK SW_ERR_OK

typedef enum {
#define SW_XX_CLASS(name, num, text) SW_CLASS_##name = num,
    SW_CLASS_MAP(SW_XX_CLASS)
#undef SW_XX_CLASS
} sw_class;

/* Limits. An Identity header longer than this is refused before any decoding. */
#define SW_IDENTITY_MAX 8192
/* Length of a canonical telephone number buffer (digits plus NUL). */
#define SW_TN_MAX 64

/* --- errors ---------------------------------------------------------------------------- */

/* Short text for an error ("signature does not verify"); never NULL. */
const char *sw_strerror(sw_err err);
/* Stable symbolic name without prefix ("SIGNATURE"); "UNKNOWN" for a value not in the table. */
const char *sw_err_name(sw_err err);
sw_class sw_err_class(sw_err err);
const char *sw_class_text(sw_class cls);
/* SIP status a verifier answers (0 when the error is not a verification outcome). */
int sw_err_sip_status(sw_err err);
/* SIP reason phrase for that status ("Invalid Identity Header"); "" when none. */
const char *sw_err_sip_reason(sw_err err);
/* ATIS-1000074 verstat value. */
const char *sw_err_verstat(sw_err err);
/*
 * Writes the RFC 9410 Reason header value, e.g. STIR;cause=438;text="signature does not
 * verify", into buf (always NUL-terminated when size > 0). Returns the length it needed,
 * as snprintf does; 0 when err has no SIP status.
 */
size_t sw_err_reason_header(sw_err err, char *buf, size_t size);

/* Releases memory that a function of this library handed over. NULL is fine. */
void sw_free(void *p);

/* --- context --------------------------------------------------------------------------- */

/*
 * A context carries verification settings, the last error's detail, and per-thread
 * crypto state (prepared OpenSSL contexts, so that a key is set up once, not per call).
 * Use one context per thread.
 */
typedef struct sw_ctx sw_ctx;

sw_ctx *sw_ctx_new(void);
void sw_ctx_free(sw_ctx *ctx);
/* Detail of the last error on this context ("iat 1700000000 is 912 s old, max 60"). */
const char *sw_errmsg(const sw_ctx *ctx);

/* Maximum age of iat in seconds (default 60, ATIS-1000074). */
void sw_ctx_set_max_age(sw_ctx *ctx, int64_t seconds);
/* How far iat may lie in the future, for clock skew (default 5 s). */
void sw_ctx_set_future_skew(sw_ctx *ctx, int64_t seconds);
/* Fixes "now" for verification and signing (tests, replaying captures); 0 = the clock. */
void sw_ctx_set_now(sw_ctx *ctx, int64_t unix_seconds);
/* Current time as the context sees it. */
int64_t sw_ctx_now(const sw_ctx *ctx);

/* --- keys ------------------------------------------------------------------------------ */

/* A private P-256 signing key. Immutable after loading; share it between threads freely. */
typedef struct sw_key sw_key;
/* A public P-256 key, possibly with the certificate it came from. Immutable, shareable. */
typedef struct sw_pubkey sw_pubkey;

/* Loads a private key from a PEM file (PKCS#8 or SEC1 "EC PRIVATE KEY"). */
sw_err sw_key_load_file(sw_ctx *ctx, const char *path, sw_key **out);
/* Same from memory. The library wipes its own copies of the key text. */
sw_err sw_key_load_pem(sw_ctx *ctx, const char *pem, size_t len, sw_key **out);
/* Makes a fresh P-256 key. */
sw_err sw_key_generate(sw_ctx *ctx, sw_key **out);
/* PEM of the private key (PKCS#8) or of its public half; *out is handed over (sw_free). */
sw_err sw_key_private_pem(sw_ctx *ctx, const sw_key *key, char **out);
sw_err sw_key_public_pem(sw_ctx *ctx, const sw_key *key, char **out);
void sw_key_free(sw_key *key);

/*
 * Loads a public key from a file holding a PEM public key, a PEM or DER certificate
 * (the first one is used), or a private key (its public half).
 */
sw_err sw_pubkey_load_file(sw_ctx *ctx, const char *path, sw_pubkey **out);
sw_err sw_pubkey_load_pem(sw_ctx *ctx, const char *pem, size_t len, sw_pubkey **out);
/* The public half of a private key. */
sw_err sw_pubkey_from_key(sw_ctx *ctx, const sw_key *key, sw_pubkey **out);
void sw_pubkey_free(sw_pubkey *pub);

/* --- PASSporT -------------------------------------------------------------------------- */

/*
 * A PASSporT: its JWT header (alg, typ, ppt, x5u) and payload claims. Built by a signer
 * with the setters, or produced by sw_identity_parse(), in which case claims this library
 * does not know are kept in the JSON and reachable with sw_passport_payload_json().
 */
typedef struct sw_passport sw_passport;

sw_passport *sw_passport_new(void);
void sw_passport_free(sw_passport *pp);
/* attest is 'A', 'B' or 'C'. */
sw_err sw_passport_set_attest(sw_passport *pp, char attest);
/* Telephone numbers are canonicalised (RFC 8224 section 8.3) before they are stored. */
sw_err sw_passport_set_orig_tn(sw_passport *pp, const char *tn);
sw_err sw_passport_add_dest_tn(sw_passport *pp, const char *tn);
sw_err sw_passport_set_iat(sw_passport *pp, int64_t iat);
/* NULL (the default) makes sw_sign() put a fresh UUIDv4 in each token it signs. */
sw_err sw_passport_set_origid(sw_passport *pp, const char *origid);
sw_err sw_passport_set_x5u(sw_passport *pp, const char *url);

/* Getters; strings are borrowed. Missing values are NULL, 0 or '\0'. */
char sw_passport_attest(const sw_passport *pp);
const char *sw_passport_orig_tn(const sw_passport *pp);
size_t sw_passport_dest_tn_count(const sw_passport *pp);
const char *sw_passport_dest_tn(const sw_passport *pp, size_t i);
int64_t sw_passport_iat(const sw_passport *pp);
const char *sw_passport_origid(const sw_passport *pp);
const char *sw_passport_x5u(const sw_passport *pp);
const char *sw_passport_alg(const sw_passport *pp);
const char *sw_passport_typ(const sw_passport *pp);
const char *sw_passport_ppt(const sw_passport *pp);

/*
 * Canonical JSON (RFC 8225 section 9: sorted keys, no white space) of the JWT header and
 * of the payload. Borrowed; valid until the passport changes.
 */
const char *sw_passport_header_json(const sw_passport *pp);
const char *sw_passport_payload_json(const sw_passport *pp);

/* --- signing --------------------------------------------------------------------------- */

/* Flags for sw_sign(). */
#define SW_SIGN_COMPACT 0x1u /* write the compact form "header..signature" (RFC 8224 4.1) */

/*
 * Signs a shaken PASSporT and writes the Identity header value
 *   <jwt>;info=<x5u>;alg=ES256;ppt=shaken
 * The passport needs attest, orig, at least one dest and x5u; iat defaults to now and
 * origid to a fresh UUIDv4. *out is handed over (sw_free).
 */
sw_err sw_sign(sw_ctx *ctx, const sw_key *key, const sw_passport *pp, unsigned flags, char **out);

/*
 * The same for a shaken PASSporT given as plain values, without an sw_passport: the
 * proxy's per-INVITE path, with no JSON objects built. Numbers are canonicalised; 1 to 8
 * dest numbers; iat 0 means now; origid NULL means a fresh UUIDv4. The output is what
 * sw_sign() writes for the same claims. *out is handed over (sw_free).
 */
sw_err sw_sign_shaken(sw_ctx *ctx, const sw_key *key, char attest, const char *orig_tn,
                      const char *const *dest_tns, size_t ndest, int64_t iat, const char *origid,
                      const char *x5u, unsigned flags, char **out);

/* --- Identity header ------------------------------------------------------------------- */

/* A parsed Identity header value: parameters, PASSporT and the bytes that were signed. */
typedef struct sw_identity sw_identity;

/*
 * Parses one Identity header value (what follows "Identity:"), full or compact form.
 * Only the syntax is checked here: base64url, JSON objects, parameters. Semantics
 * (alg, typ, ppt, claims, freshness, signature) are sw_verify()'s.
 */
sw_err sw_identity_parse(sw_ctx *ctx, const char *value, size_t len, sw_identity **out);
void sw_identity_free(sw_identity *id);

/* True when the header used the compact form (empty payload segment). */
int sw_identity_is_compact(const sw_identity *id);
/*
 * For the compact form: supplies the claims rebuilt from the SIP message. The payload
 * becomes their canonical JSON, which is then what the signature is checked over.
 */
sw_err sw_identity_set_claims(sw_ctx *ctx, sw_identity *id, const sw_passport *claims);
/* The PASSporT (header and payload claims). Borrowed. */
const sw_passport *sw_identity_passport(const sw_identity *id);
/* Header parameters; NULL when absent. info is returned without the angle brackets. */
const char *sw_identity_info(const sw_identity *id);
const char *sw_identity_alg_param(const sw_identity *id);
const char *sw_identity_ppt_param(const sw_identity *id);
/* Any parameter by name (case-insensitive), e.g. an extension; NULL when absent. */
const char *sw_identity_param(const sw_identity *id, const char *name);
size_t sw_identity_param_count(const sw_identity *id);
/* i-th parameter name and value (value NULL for a parameter without "="). */
const char *sw_identity_param_name(const sw_identity *id, size_t i);
const char *sw_identity_param_value(const sw_identity *id, size_t i);
/*
 * The whole header as JSON: {"header":{...},"payload":{...},"params":{...},
 * "signature":"...","form":"full"|"compact"}. *out is handed over (sw_free).
 */
sw_err sw_identity_to_json(sw_ctx *ctx, const sw_identity *id, char **out);

/* --- verification ---------------------------------------------------------------------- */

/*
 * Verifies a parsed Identity in the order of RFC 8224 section 6.2 and ATIS-1000074,
 * cheap checks first: alg, typ, ppt, x5u equals info, iat within the context's max age
 * and future skew, attest, orig and dest claims, orig_tn and dest_tn against the call
 * (each may be NULL to skip; compared in canonical form), then the signature with pub
 * over the received header.payload bytes. Returns SW_OK or the first failure; the
 * detail is in sw_errmsg(ctx).
 */
sw_err sw_verify(sw_ctx *ctx, const sw_identity *id, const sw_pubkey *pub, const char *orig_tn,
                 const char *dest_tn);

/* sw_identity_parse() and sw_verify() in one call. */
sw_err sw_verify_header(sw_ctx *ctx, const char *value, size_t len, const sw_pubkey *pub,
                        const char *orig_tn, const char *dest_tn);

/* --- certificates (RFC 8226, ATIS-1000080) --------------------------------------------- */

/*
 * An STI certificate: the leaf (end-entity) certificate, the intermediates that came
 * with it, and what a verifier reads from it. Immutable and reference-counted: a cache
 * hands out references, sw_cert_free() drops one.
 */
typedef struct sw_cert sw_cert;

/* Parses a leaf followed by intermediates, PEM (any number) or one DER certificate. */
sw_err sw_cert_load_pem(sw_ctx *ctx, const char *data, size_t len, sw_cert **out);
sw_err sw_cert_load_file(sw_ctx *ctx, const char *path, sw_cert **out);
void sw_cert_free(sw_cert *cert);
/* The leaf's public key, borrowed for the life of the certificate. */
const sw_pubkey *sw_cert_pubkey(const sw_cert *cert);
/* One-line subject and issuer (RFC 2253), borrowed. */
const char *sw_cert_subject(const sw_cert *cert);
const char *sw_cert_issuer(const sw_cert *cert);
int64_t sw_cert_not_before(const sw_cert *cert);
int64_t sw_cert_not_after(const sw_cert *cert);
/* The Service Provider Code from TNAuthList (first SPC entry), or NULL. */
const char *sw_cert_spc(const sw_cert *cert);
/* 1 when certificatePolicies holds the SHAKEN policy 2.16.840.1.114569.1.1.3. */
int sw_cert_has_shaken_policy(const sw_cert *cert);
/* First URI of the CRL distribution points, or NULL. */
const char *sw_cert_crl_url(const sw_cert *cert);
/* Certificates that came with the leaf (intermediates). */
size_t sw_cert_chain_length(const sw_cert *cert);
/*
 * The checks that need no trust store: P-256 key, TNAuthList with an SPC, SHAKEN policy,
 * not a CA, valid at the time given. SW_OK or the first CERT_ error.
 */
sw_err sw_cert_check(sw_ctx *ctx, const sw_cert *cert, int64_t at);

/*
 * Decodes the DER value of a TNAuthList extension (RFC 8226 section 9). Writes the first
 * SPC into spc (NUL-terminated) and returns SW_OK; SW_ERR_CERT_TNAUTH when the DER is
 * malformed or holds no SPC entry. Exposed for tools and the fuzzer.
 */
sw_err sw_tnauth_decode(const unsigned char *der, size_t len, char *spc, size_t spc_size);

/* --- the verifier: trust anchors, x5u fetching and the certificate cache ----------------- */

/*
 * A verifier is shared by all threads: it holds the trust anchors and CRLs, the fetch
 * policy, the certificate cache, and one thread that fetches x5u and CRL URLs with
 * libcurl's multi interface. Callers never wait on the network unless they ask to
 * (the _wait functions, for the CLI). Configure it before the first verification; the
 * setters, sw_verifier_reset_trust() and the loaders may also be called later, from any
 * thread, while verifications run (a configuration reload): a fetch already under way
 * keeps the settings it started with, later fetches use the new ones.
 */
typedef struct sw_verifier sw_verifier;

typedef enum {
    SW_OPT_ALLOW_HTTP = 1,     /* long: accept http:// x5u (default 0: https only) */
    SW_OPT_ALLOW_PRIVATE,      /* long: allow loopback/private/special addresses (0) */
    SW_OPT_ALLOW_ANY_PORT,     /* long: allow ports other than 443 and 8443 (0) */
    SW_OPT_ALLOW_QUERY,        /* long: allow userinfo, query and fragment in x5u (0) */
    SW_OPT_CONNECT_TIMEOUT_MS, /* long: connect timeout (2000) */
    SW_OPT_TIMEOUT_MS,         /* long: whole-transfer timeout (4000) */
    SW_OPT_MAX_BYTES,          /* long: largest response body (32768) */
    SW_OPT_CACHE_ENTRIES,      /* long: certificates kept in memory (4096, > 0) */
    SW_OPT_MIN_TTL,            /* long s: least lifetime of a cached cert (86400) */
    SW_OPT_NEGATIVE_TTL,       /* long s: how long a failed fetch is remembered (30) */
    SW_OPT_CRL_FETCH,          /* long: fetch the leaf's CRL distribution point (1) */
    SW_OPT_REQUIRE_CHAIN,      /* long: require a chain to a trust anchor (1) */
    SW_OPT_CACHE_DIR,          /* string: directory that keeps fetched certs (NULL) */
    SW_OPT_TLS_CA_FILE,        /* string: CA bundle for the HTTPS servers (system's) */
    /*
     * long: what a certificate whose CRL distribution point cannot be fetched or parsed
     * (connect error, timeout, HTTP status, not a CRL, refused by the fetch policy) gets.
     * 0 (default): fail closed, SW_ERR_CERT_CRL (437). 1: tolerate: the chain is checked
     * with the CRL files alone, and the certificate is cached only for the negative TTL,
     * so the CRL is tried again soon; counted in stats.crl_tolerated. Other values: INVAL.
     */
    SW_OPT_CRL_UNREACHABLE,
    /*
     * string: comma-separated CIDR blocks, IPv4 or IPv6 ("127.0.0.0/8, ::1/128"), of
     * loopback/private/special addresses that x5u and CRL URLs may still lead to while
     * SW_OPT_ALLOW_PRIVATE is 0 (a lab, a test, an STI-CR inside one's own network). The
     * address actually connected to is checked, whether the URL names a host or an
     * address. An address without /prefix is one host; host bits past the prefix are
     * ignored. At most 32 blocks. NULL or "" (default): none. A block that does not parse:
     * SW_ERR_INVAL, and the setting keeps its old value.
     */
    SW_OPT_ALLOW_NETS,
    /*
     * long, Unix seconds: the time at which a fetched certificate and its chain are
     * judged (validity, CRLs), for analysing a capture after the fact; 0 (default): the
     * clock. The leaf's validity at the PASSporT's iat is checked at every verification
     * in any case. A certificate judged at a past time is cached for the usual TTL even
     * when it has expired since.
     */
    SW_OPT_CHECK_TIME,
    /*
     * long: 1 = never use the network: a certificate comes from a local answer
     * (sw_verifier_add_local) or the cache directory, else fails with
     * SW_ERR_CERT_UNAVAILABLE; a CRL distribution point without a local answer is
     * unreachable (SW_OPT_CRL_UNREACHABLE decides). 0 (default): fetch.
     */
    SW_OPT_OFFLINE,
} sw_opt;

sw_verifier *sw_verifier_new(void);
/* Stops the fetch thread (transfers in flight fail with their callbacks called). */
void sw_verifier_free(sw_verifier *v);
/*
 * Settings (the sw_opt list says which take a long and which a string). SW_OK, or
 * SW_ERR_INVAL (unknown option, wrong kind, bad value: nothing changes), SW_ERR_NOMEM.
 * Strings are copied.
 */
sw_err sw_verifier_set_long(sw_verifier *v, sw_opt opt, long value);
sw_err sw_verifier_set_str(sw_verifier *v, sw_opt opt, const char *value);
/* Trust anchors and CRLs (PEM; CRL files also DER). May be called several times. */
sw_err sw_verifier_load_ca_file(sw_verifier *v, sw_ctx *ctx, const char *path);
sw_err sw_verifier_load_ca_dir(sw_verifier *v, sw_ctx *ctx, const char *path);
sw_err sw_verifier_load_crl_file(sw_verifier *v, sw_ctx *ctx, const char *path);
/*
 * Drops every trust anchor and CRL file loaded so far, for a configuration reload that
 * loads the new ones with the three functions above. There is never a moment without
 * anchors: the reset starts a new, empty set; the loaders that follow fill it; the first
 * CA file or directory loaded into it puts the new set in service in place of the old
 * (so load the CRL files first, then the CA files, and no certificate is ever checked
 * against half a set). Until then the old set stays in use; a second reset drops a new
 * set not yet in service. The certificate cache and the CRLs fetched from distribution
 * points are kept: certificates already validated stay valid until they leave the
 * cache; fetches that complete later are judged by the new set. Safe while verifications
 * and fetches run. SW_OK, SW_ERR_INVAL (v NULL), SW_ERR_NOMEM (nothing changed).
 */
sw_err sw_verifier_reset_trust(sw_verifier *v);

/*
 * A local answer for url (offline analysis: a directory of certificates mapped by x5u):
 * when url's certificate is needed, body[0..len) (PEM, the leaf first) is used as if it
 * had been fetched, and validated the same way (chain, TNAuthList, CRL files); when url
 * is a CRL distribution point, body is the CRL (PEM or DER). The fetch policy (scheme,
 * address, port) does not apply, since nothing is fetched. A later call
 * for the same url replaces the body. Copies both. At most 65536 URLs, each body at most
 * 1 MiB. SW_OK, SW_ERR_INVAL (v, url or body missing, len 0 or over 1 MiB, too many
 * URLs), SW_ERR_NOMEM.
 */
sw_err sw_verifier_add_local(sw_verifier *v, const char *url, const void *body, size_t len);

/* Called from the fetch thread when a fetch ends; keep it short (wake your loop). */
typedef void (*sw_fetch_cb)(void *arg, sw_err result);

/*
 * Gets the validated certificate for url. From the cache: SW_OK and a reference in *out.
 * A failure remembered in the negative cache: that error. Otherwise the fetch starts
 * (or joins one under way for the same URL), cb(arg, result) will be called once from
 * the fetch thread, and SW_ERR_PENDING is returned: call again after the callback.
 */
sw_err sw_verifier_get_cert(sw_verifier *v, sw_ctx *ctx, const char *url, sw_fetch_cb cb, void *arg,
                            sw_cert **out);
/* The same, waiting for the fetch (for command-line use). */
sw_err sw_verifier_get_cert_wait(sw_verifier *v, sw_ctx *ctx, const char *url, sw_cert **out);

/*
 * Full verification: the token checks of sw_verify() first (nothing is fetched for a
 * stale or malformed token), then the certificate from info (cache or fetch), its
 * validity at iat, and the signature. SW_ERR_PENDING with cb as above when a fetch had
 * to start: call again after the callback. The certificate's SPC is then read with
 * sw_ctx_last_spc(ctx), valid until the next sw_verify_identity*() on ctx.
 */
sw_err sw_verify_identity(sw_ctx *ctx, sw_verifier *v, const sw_identity *id, const char *orig_tn,
                          const char *dest_tn, sw_fetch_cb cb, void *arg);
sw_err sw_verify_identity_wait(sw_ctx *ctx, sw_verifier *v, const sw_identity *id,
                               const char *orig_tn, const char *dest_tn);
/* The SPC of the certificate used by the last sw_verify_identity*() on ctx, or NULL. */
const char *sw_ctx_last_spc(const sw_ctx *ctx);

/*
 * Counters, for logs and tests. fetches counts x5u downloads, crl_fetches CRL ones.
 * crl_failures: certificates whose CRL distribution point could not be fetched or parsed;
 * crl_tolerated: those of them that went on without it (SW_OPT_CRL_UNREACHABLE 1).
 * New counters are only ever added at the end.
 */
typedef struct {
    uint64_t cache_hits, cache_misses, fetches, fetch_failures, negative_hits, crl_fetches;
    uint64_t crl_tolerated, crl_failures;
} sw_verifier_stats;
void sw_verifier_get_stats(sw_verifier *v, sw_verifier_stats *out);
/*
 * How many x5u fetches ended with err (SW_OK: the certificate was had and validated),
 * counting each cache miss once by its final outcome, the chain and CRL checks included.
 * Cache hits, remembered failures, policy refusals (answered before any fetch) and
 * answers from the cache directory are not fetches. Errors numbered 63 and above share
 * one count. 0 for a NULL v.
 */
uint64_t sw_verifier_fetch_count(sw_verifier *v, sw_err err);

/* --- helpers --------------------------------------------------------------------------- */

/*
 * Canonical form of a telephone number (RFC 8224 section 8.3): accepts a bare number or a
 * tel: / sip: / sips: URI (user part), drops visual separators ( - . ( ) space ) and a
 * leading '+'; what remains must be 1..32 digits (ATIS also allows '*' and '#').
 */
sw_err sw_tn_canon(const char *in, char *out, size_t size);

/*
 * Whether url can be written as the x5u claim and as info=<url> in an Identity header
 * (RFC 8224 section 4): not empty, printable ASCII only, and no '<', '>', '"' or white
 * space, which would end the angle brackets or the header line. Says nothing of the
 * scheme or of whether fetching it is allowed (that is the verifier's fetch policy).
 * SW_OK, SW_ERR_INFO_MISSING (NULL or empty) or SW_ERR_INVAL.
 */
sw_err sw_x5u_check(const char *url);

/* A random UUIDv4 from OpenSSL's RNG, lower case, into out[37]. */
sw_err sw_uuid_v4(char out[37]);

/* The library's version string ("0.1.0"). */
const char *sw_version(void);

#ifdef __cplusplus
}
#endif
#endif /* STIRWIRE_H */
