/*
 * sw_int.h - libstirwire's private structures and internal helpers.
 *
 * Internal names start with swi_ so that the export regex (^sw_) keeps them out of
 * the shared library; unit tests reach them through the convenience library.
 * Rule: nothing here prints, exits or keeps global mutable state.
 */
#ifndef SW_INT_H
#define SW_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <jansson.h>
#include <stdarg.h>

#include "stirwire.h"

#define SWI_SPC_MAX 64

struct sw_ctx {
    int64_t max_age;     /* seconds iat may lie in the past */
    int64_t future_skew; /* seconds iat may lie in the future */
    int64_t now;         /* fixed clock for tests, 0 = time() */
    char errmsg[512];
    /*
     * Prepared OpenSSL contexts, kept per thread so that the provider lookup and key
     * set-up of OpenSSL 3 (several microseconds) happen once per key, not per call.
     * Each holds a reference on its EVP_PKEY so the pointer cannot be reused while
     * cached.
     */
    EVP_MD *sha256;
    EVP_MD_CTX *mdctx;
    EVP_PKEY *sign_pkey;
    EVP_PKEY_CTX *sign_pctx;
    EVP_PKEY *verify_pkey;
    EVP_PKEY_CTX *verify_pctx;
    /*
     * Random bytes for origid, drawn from OpenSSL's DRBG a kilobyte at a time: one
     * RAND_bytes call costs about as much as the rest of building a token.
     */
    unsigned char rnd[1024];
    size_t rnd_left;
    /*
     * The last JWT header seen by sw_identity_parse() on this context and its decoded
     * object: calls from one signer repeat the same header, and decoding it is a third
     * of the parse. The object is shared by reference and never modified.
     */
    char *hdr_b64;
    size_t hdr_b64_len;
    json_t *hdr_json;
    /* SPC of the certificate used by the last full verification */
    char last_spc[SWI_SPC_MAX];
};

struct sw_key {
    EVP_PKEY *pkey;
};

struct sw_pubkey {
    EVP_PKEY *pkey;
    X509 *cert; /* the certificate it came from, or NULL */
};

struct sw_passport {
    json_t *header;  /* JWT header object */
    json_t *payload; /* claims object */
    /* cached canonical JSON, rebuilt lazily after a change */
    char *header_json;
    char *payload_json;
};

#define SWI_MAX_CHAIN 8

struct sw_cert {
    int refs; /* atomic */
    X509 *leaf;
    STACK_OF(X509) * chain; /* intermediates as received, without the leaf */
    sw_pubkey *pub;         /* NULL when the key is unusable (key_ok == 0) */
    char *subject, *issuer, *crl_url;
    char spc[SWI_SPC_MAX];
    int key_ok, shaken_policy, is_ca;
    int64_t not_before, not_after;
};

/* A new reference to cert. */
sw_cert *swi_cert_ref(sw_cert *cert);

/*
 * Checks cert's chain against store at time `at`, then the leaf's revocation status in
 * crls (may be NULL); with crl_required, a CRL from the leaf's issuer must be among
 * them. SW_OK or a CERT_ error.
 */
sw_err swi_cert_verify_chain(sw_ctx *ctx, X509_STORE *store, const sw_cert *cert,
                             STACK_OF(X509_CRL) * crls, int crl_required, int64_t at);

#define SWI_MAX_PARAMS 16

struct sw_identity {
    sw_passport *pp;
    int compact;
    int claims_set; /* compact form: sw_identity_set_claims() was called */
    /* the exact bytes the signature covers: "<b64 header>.<b64 payload>" */
    char *signing_input;
    size_t signing_input_len;
    unsigned char sig[64]; /* r || s */
    size_t sig_len;        /* 64 when well formed */
    char *sig_b64;
    size_t nparams;
    char *param_name[SWI_MAX_PARAMS];
    char *param_value[SWI_MAX_PARAMS];
};

/* Records the detail of an error on the context and returns err. */
sw_err swi_fail(sw_ctx *ctx, sw_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* base64url without padding (RFC 7515 section 2). */
size_t swi_b64url_encoded_len(size_t n);
/* Writes the encoding and a NUL into out (room: encoded_len + 1); returns its length. */
size_t swi_b64url_encode(const unsigned char *in, size_t n, char *out);
/*
 * Decodes n characters into out (room: n * 3 / 4 + 1). Rejects padding, characters
 * outside the alphabet, a length of 1 mod 4 and non-zero trailing bits.
 * Returns 0 and sets *outlen, or -1.
 */
int swi_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);

/* Canonical JSON (sorted keys, compact); caller frees with free(). */
char *swi_json_canon(const json_t *obj);

/* A passport from decoded header and payload objects (references are taken). */
sw_passport *swi_passport_from_json(json_t *header, json_t *payload);

/*
 * ES256 over data with the context's prepared signing context; writes r || s (64 bytes).
 */
sw_err swi_es256_sign(sw_ctx *ctx, EVP_PKEY *pkey, const void *data, size_t len,
                      unsigned char sig[64]);
/* Checks an r || s signature; SW_OK or SW_ERR_SIGNATURE. */
sw_err swi_es256_verify(sw_ctx *ctx, EVP_PKEY *pkey, const void *data, size_t len,
                        const unsigned char sig[64]);

/* A UUIDv4 from the context's random pool. */
sw_err swi_uuid_v4(sw_ctx *ctx, char out[37]);

/* The token checks of sw_verify(), everything but the signature. */
sw_err swi_verify_token(sw_ctx *ctx, const sw_identity *id, const char *orig_tn,
                        const char *dest_tn);

/* Wipes and frees a buffer that held key material. */
void swi_wipe_free(void *p, size_t len);

#endif /* SW_INT_H */
