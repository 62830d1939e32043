/*
 * key.c - ES256 keys and the raw sign / verify operations.
 *
 * Keys are parsed once and then only read, so one sw_key can serve every thread.
 * Speed matters here more than anywhere: the per-call cost around ECDSA must stay
 * small beside the ECDSA itself. So the SHA-256 is done with a pre-fetched EVP_MD and
 * the EVP_PKEY_CTX is prepared once per (context, key) and reused, which is what
 * `openssl speed` does too. JWS wants r || s (64 bytes); OpenSSL speaks DER, so we
 * convert at the edge.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_int.h"

/* A PEM key or certificate chain larger than this is not something we sign with. */
#define SW_KEY_FILE_MAX (256 * 1024)

static void openssl_detail(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();

    buf[0] = '\0';
    if (e != 0)
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
}

/* P-256 is the only curve ES256 allows (RFC 7518 section 3.4). */
static sw_err check_p256(sw_ctx *ctx, EVP_PKEY *pkey, const char *what)
{
    char group[64] = "";
    size_t glen = 0;

    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
        return swi_fail(ctx, SW_ERR_KEY_CURVE, "%s is a %s key, ES256 needs an EC P-256 key", what,
                        EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "non-EC");
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &glen))
        return swi_fail(ctx, SW_ERR_KEY_CURVE, "%s has no named curve, ES256 needs P-256", what);
    if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)
        return swi_fail(ctx, SW_ERR_KEY_CURVE, "%s is on curve %s, ES256 needs P-256 (prime256v1)",
                        what, group);
    return SW_OK;
}

/* Reads a whole (small) file; the buffer is NUL-terminated. */
static sw_err read_file(sw_ctx *ctx, const char *path, char **out, size_t *outlen)
{
    FILE *f;
    char *buf;
    size_t n;

    if (path == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no file name given");
    if ((f = fopen(path, "rb")) == NULL)
        return swi_fail(ctx, SW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if ((buf = malloc(SW_KEY_FILE_MAX + 1)) == NULL) {
        fclose(f);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory reading %s", path);
    }
    n = fread(buf, 1, SW_KEY_FILE_MAX + 1, f);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        swi_wipe_free(buf, SW_KEY_FILE_MAX + 1);
        return swi_fail(ctx, SW_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    fclose(f);
    if (n > SW_KEY_FILE_MAX) {
        swi_wipe_free(buf, SW_KEY_FILE_MAX + 1);
        return swi_fail(ctx, SW_ERR_KEY_PARSE, "%s is larger than %d bytes: not a key", path,
                        SW_KEY_FILE_MAX);
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return SW_OK;
}

sw_err sw_key_load_pem(sw_ctx *ctx, const char *pem, size_t len, sw_key **out)
{
    BIO *bio;
    EVP_PKEY *pkey;
    sw_key *key;
    sw_err err;
    char detail[256];

    if (out == NULL || pem == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no key given");
    *out = NULL;
    if (len > SW_KEY_FILE_MAX || len > INT32_MAX)
        return swi_fail(ctx, SW_ERR_KEY_PARSE, "key text is larger than %d bytes", SW_KEY_FILE_MAX);
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    /* PEM_read_bio_PrivateKey takes PKCS#8 and the traditional "EC PRIVATE KEY". */
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        openssl_detail(detail, sizeof(detail));
        return swi_fail(ctx, SW_ERR_KEY_PARSE, "no PEM private key found%s%s",
                        detail[0] ? ": " : "", detail);
    }
    if ((err = check_p256(ctx, pkey, "the private key")) != SW_OK) {
        EVP_PKEY_free(pkey);
        return err;
    }
    if ((key = calloc(1, sizeof(*key))) == NULL) {
        EVP_PKEY_free(pkey);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    key->pkey = pkey;
    *out = key;
    return SW_OK;
}

/*
 * Reads path and hands its text to one of the PEM loaders below. The text is wiped as
 * soon as it is parsed (STYLE.md): it may be a private key, whichever loader asked.
 */
static sw_err load_file(sw_ctx *ctx, const char *path,
                        sw_err (*load)(sw_ctx *, const char *, size_t, void *), void *out)
{
    char *buf = NULL;
    size_t len = 0;
    sw_err err;

    if ((err = read_file(ctx, path, &buf, &len)) != SW_OK)
        return err;
    err = load(ctx, buf, len, out);
    swi_wipe_free(buf, SW_KEY_FILE_MAX + 1);
    if (err != SW_OK && ctx != NULL) {
        char msg[sizeof(ctx->errmsg)];
        snprintf(msg, sizeof(msg), "%s", ctx->errmsg);
        swi_fail(ctx, err, "%s: %s", path, msg);
    }
    return err;
}

static sw_err load_key(sw_ctx *ctx, const char *pem, size_t len, void *out)
{
    return sw_key_load_pem(ctx, pem, len, out);
}

sw_err sw_key_load_file(sw_ctx *ctx, const char *path, sw_key **out)
{
    if (out != NULL)
        *out = NULL;
    return load_file(ctx, path, load_key, out);
}

sw_err sw_key_generate(sw_ctx *ctx, sw_key **out)
{
    sw_key *key;
    EVP_PKEY *pkey;

    if (out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no output given");
    *out = NULL;
    if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "P-256 key generation failed");
    }
    if ((key = calloc(1, sizeof(*key))) == NULL) {
        EVP_PKEY_free(pkey);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    key->pkey = pkey;
    *out = key;
    return SW_OK;
}

static sw_err bio_to_string(sw_ctx *ctx, BIO *bio, char **out)
{
    char *data, *s;
    long n = BIO_get_mem_data(bio, &data);

    if (n <= 0 || (s = malloc((size_t)n + 1)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *out = s;
    return SW_OK;
}

sw_err sw_key_private_pem(sw_ctx *ctx, const sw_key *key, char **out)
{
    BIO *bio;
    sw_err err;

    if (key == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no key given");
    if ((bio = BIO_new(BIO_s_secmem())) == NULL && (bio = BIO_new(BIO_s_mem())) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (!PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(bio);
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "cannot write the private key as PEM");
    }
    err = bio_to_string(ctx, bio, out);
    BIO_free(bio);
    return err;
}

static sw_err public_pem(sw_ctx *ctx, EVP_PKEY *pkey, char **out)
{
    BIO *bio;
    sw_err err;

    if ((bio = BIO_new(BIO_s_mem())) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (!PEM_write_bio_PUBKEY(bio, pkey)) {
        BIO_free(bio);
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "cannot write the public key as PEM");
    }
    err = bio_to_string(ctx, bio, out);
    BIO_free(bio);
    return err;
}

sw_err sw_key_public_pem(sw_ctx *ctx, const sw_key *key, char **out)
{
    if (key == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no key given");
    return public_pem(ctx, key->pkey, out);
}

void sw_key_free(sw_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

static sw_err pubkey_new(sw_ctx *ctx, EVP_PKEY *pkey, X509 *cert, sw_pubkey **out)
{
    sw_pubkey *pub;
    sw_err err;

    if ((err = check_p256(ctx, pkey, cert ? "the certificate's key" : "the public key")) != SW_OK) {
        EVP_PKEY_free(pkey);
        X509_free(cert);
        return err;
    }
    if ((pub = calloc(1, sizeof(*pub))) == NULL) {
        EVP_PKEY_free(pkey);
        X509_free(cert);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    pub->pkey = pkey;
    pub->cert = cert;
    *out = pub;
    return SW_OK;
}

sw_err sw_pubkey_load_pem(sw_ctx *ctx, const char *pem, size_t len, sw_pubkey **out)
{
    BIO *bio;
    EVP_PKEY *pkey;
    X509 *cert;
    const unsigned char *der = (const unsigned char *)pem;

    if (out == NULL || pem == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no key given");
    *out = NULL;
    if (len > SW_KEY_FILE_MAX)
        return swi_fail(ctx, SW_ERR_KEY_PARSE, "key text is larger than %d bytes", SW_KEY_FILE_MAX);
    /* Try, in turn: a certificate, a public key, a private key (PEM), a DER certificate. */
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert != NULL) {
        BIO_free(bio);
        ERR_clear_error();
        if ((pkey = X509_get_pubkey(cert)) == NULL) {
            X509_free(cert);
            return swi_fail(ctx, SW_ERR_KEY_PARSE, "certificate has no usable public key");
        }
        return pubkey_new(ctx, pkey, cert, out);
    }
    (void)BIO_reset(bio);
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (pkey == NULL) {
        (void)BIO_reset(bio);
        pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    if (pkey != NULL) {
        ERR_clear_error();
        return pubkey_new(ctx, pkey, NULL, out);
    }
    cert = d2i_X509(NULL, &der, (long)len);
    ERR_clear_error();
    if (cert != NULL) {
        if ((pkey = X509_get_pubkey(cert)) == NULL) {
            X509_free(cert);
            return swi_fail(ctx, SW_ERR_KEY_PARSE, "certificate has no usable public key");
        }
        return pubkey_new(ctx, pkey, cert, out);
    }
    return swi_fail(ctx, SW_ERR_KEY_PARSE,
                    "no certificate, public key or private key found (PEM or DER)");
}

static sw_err load_pubkey(sw_ctx *ctx, const char *pem, size_t len, void *out)
{
    return sw_pubkey_load_pem(ctx, pem, len, out);
}

sw_err sw_pubkey_load_file(sw_ctx *ctx, const char *path, sw_pubkey **out)
{
    if (out != NULL)
        *out = NULL;
    return load_file(ctx, path, load_pubkey, out);
}

sw_err sw_pubkey_from_key(sw_ctx *ctx, const sw_key *key, sw_pubkey **out)
{
    char *pem;
    sw_err err;

    if (key == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no key given");
    *out = NULL;
    if ((err = public_pem(ctx, key->pkey, &pem)) != SW_OK)
        return err;
    err = sw_pubkey_load_pem(ctx, pem, strlen(pem), out);
    free(pem);
    return err;
}

void sw_pubkey_free(sw_pubkey *pub)
{
    if (pub == NULL)
        return;
    EVP_PKEY_free(pub->pkey);
    X509_free(pub->cert);
    free(pub);
}

/* --- raw ES256 ------------------------------------------------------------------------- */

static sw_err digest(sw_ctx *ctx, const void *data, size_t len, unsigned char md[32])
{
    unsigned int mdlen = 0;

    if (ctx->sha256 == NULL && (ctx->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "SHA-256 is not available");
    }
    /* one EVP_MD_CTX per context, reused: EVP_Digest() would allocate one per call */
    if (ctx->mdctx == NULL && (ctx->mdctx = EVP_MD_CTX_new()) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (!EVP_DigestInit_ex(ctx->mdctx, ctx->sha256, NULL) ||
        !EVP_DigestUpdate(ctx->mdctx, data, len) || !EVP_DigestFinal_ex(ctx->mdctx, md, &mdlen) ||
        mdlen != 32) {
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "SHA-256 failed");
    }
    return SW_OK;
}

/* Returns the prepared context for pkey in the slot, making it when the key changed. */
static EVP_PKEY_CTX *prepared(EVP_PKEY **slot_key, EVP_PKEY_CTX **slot_ctx, EVP_PKEY *pkey,
                              int sign)
{
    EVP_PKEY_CTX *pctx;

    if (*slot_key == pkey && *slot_ctx != NULL)
        return *slot_ctx;
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
        return NULL;
    if ((sign ? EVP_PKEY_sign_init(pctx) : EVP_PKEY_verify_init(pctx)) <= 0) {
        EVP_PKEY_CTX_free(pctx);
        return NULL;
    }
    EVP_PKEY_CTX_free(*slot_ctx);
    EVP_PKEY_free(*slot_key);
    EVP_PKEY_up_ref(pkey);
    *slot_key = pkey;
    *slot_ctx = pctx;
    return pctx;
}

/*
 * JWS carries r || s; OpenSSL's ECDSA speaks DER: SEQUENCE { INTEGER r, INTEGER s }.
 * For P-256 the whole thing is at most 72 bytes, so both directions are written here
 * without BIGNUM allocations (two of them per call cost more than the SHA-256).
 */
static size_t der_int(unsigned char *out, const unsigned char *v)
{
    size_t skip = 0, len, o = 0;

    while (skip < 31 && v[skip] == 0)
        skip++;
    len = 32 - skip;
    out[o++] = 0x02;
    out[o++] = (unsigned char)(len + (v[skip] & 0x80 ? 1 : 0));
    if (v[skip] & 0x80)
        out[o++] = 0x00;
    memcpy(out + o, v + skip, len);
    return o + len;
}

static size_t rs_to_der(const unsigned char sig[64], unsigned char der[72])
{
    unsigned char body[70];
    size_t n = der_int(body, sig);

    n += der_int(body + n, sig + 32);
    der[0] = 0x30;
    der[1] = (unsigned char)n;
    memcpy(der + 2, body, n);
    return n + 2;
}

/* Reads one DER INTEGER into a 32-byte big-endian field; 0 on success. */
static int der_read_int(const unsigned char **p, const unsigned char *end, unsigned char out[32])
{
    size_t len;

    if (end - *p < 2 || (*p)[0] != 0x02)
        return -1;
    len = (*p)[1];
    *p += 2;
    if (len == 0 || (size_t)(end - *p) < len)
        return -1;
    while (len > 0 && **p == 0) {
        (*p)++;
        len--;
    }
    if (len > 32)
        return -1;
    memset(out, 0, 32 - len);
    memcpy(out + 32 - len, *p, len);
    *p += len;
    return 0;
}

static int der_to_rs(const unsigned char *der, size_t derlen, unsigned char sig[64])
{
    const unsigned char *p = der + 2, *end = der + derlen;

    if (derlen < 8 || der[0] != 0x30 || der[1] != derlen - 2)
        return -1;
    if (der_read_int(&p, end, sig) != 0 || der_read_int(&p, end, sig + 32) != 0 || p != end)
        return -1;
    return 0;
}

sw_err swi_es256_sign(sw_ctx *ctx, EVP_PKEY *pkey, const void *data, size_t len,
                      unsigned char sig[64])
{
    unsigned char md[32], der[80];
    size_t derlen = sizeof(der);
    EVP_PKEY_CTX *pctx;
    sw_err err;

    if ((err = digest(ctx, data, len, md)) != SW_OK)
        return err;
    if ((pctx = prepared(&ctx->sign_pkey, &ctx->sign_pctx, pkey, 1)) == NULL ||
        EVP_PKEY_sign(pctx, der, &derlen, md, sizeof(md)) <= 0) {
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "ECDSA signing failed");
    }
    if (der_to_rs(der, derlen, sig) != 0)
        return swi_fail(ctx, SW_ERR_CRYPTO, "ECDSA signature cannot be decoded");
    return SW_OK;
}

sw_err swi_es256_verify(sw_ctx *ctx, EVP_PKEY *pkey, const void *data, size_t len,
                        const unsigned char sig[64])
{
    unsigned char md[32], der[72];
    size_t derlen;
    EVP_PKEY_CTX *pctx;
    int ok;
    sw_err err;

    if ((err = digest(ctx, data, len, md)) != SW_OK)
        return err;
    derlen = rs_to_der(sig, der);
    if ((pctx = prepared(&ctx->verify_pkey, &ctx->verify_pctx, pkey, 0)) == NULL) {
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "cannot prepare ECDSA verification");
    }
    ok = EVP_PKEY_verify(pctx, der, derlen, md, sizeof(md));
    ERR_clear_error();
    if (ok != 1)
        return swi_fail(ctx, SW_ERR_SIGNATURE, "ES256 signature does not verify with the key");
    return SW_OK;
}
