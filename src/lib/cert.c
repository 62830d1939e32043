/*
 * cert.c - STI certificates (RFC 8226, ATIS-1000080): parsing, inspection, chain.
 *
 * Everything a verifier needs from a certificate is read once, when it is parsed:
 * the SPC from TNAuthList, the SHAKEN policy, the CRL distribution point, validity,
 * and whether the key is P-256. After that an sw_cert is immutable and shared by
 * reference between the cache and any number of threads; the per-call work is a
 * comparison of iat with the validity window, never an ASN.1 walk.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw_int.h"

#define SHAKEN_POLICY_OID "2.16.840.1.114569.1.1.3"
#define TNAUTHLIST_OID "1.3.6.1.5.5.7.1.26"
#define SW_CERT_MAX_BYTES (256 * 1024)

sw_cert *swi_cert_ref(sw_cert *cert)
{
    if (cert != NULL)
        __atomic_add_fetch(&cert->refs, 1, __ATOMIC_RELAXED);
    return cert;
}

void sw_cert_free(sw_cert *cert)
{
    if (cert == NULL || __atomic_sub_fetch(&cert->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    X509_free(cert->leaf);
    sk_X509_pop_free(cert->chain, X509_free);
    sw_pubkey_free(cert->pub);
    free(cert->subject);
    free(cert->issuer);
    free(cert->crl_url);
    free(cert);
}

static char *name_string(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *s = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
        (n = BIO_get_mem_data(bio, &data)) >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(bio);
    return s;
}

static int64_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static void read_tnauth(sw_cert *cert)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(TNAUTHLIST_OID, 1);
    const ASN1_OCTET_STRING *data;
    X509_EXTENSION *ext;
    int i;

    if (oid == NULL)
        return;
    i = X509_get_ext_by_OBJ(cert->leaf, oid, -1);
    ASN1_OBJECT_free(oid);
    if (i < 0 || (ext = X509_get_ext(cert->leaf, i)) == NULL ||
        (data = X509_EXTENSION_get_data(ext)) == NULL)
        return;
    if (sw_tnauth_decode(ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data), cert->spc,
                         sizeof(cert->spc)) != SW_OK)
        cert->spc[0] = '\0';
}

static void read_policies(sw_cert *cert)
{
    CERTIFICATEPOLICIES *pols = X509_get_ext_d2i(cert->leaf, NID_certificate_policies, NULL, NULL);
    char oid[64];
    int i;

    for (i = 0; pols != NULL && i < sk_POLICYINFO_num(pols); i++) {
        POLICYINFO *pi = sk_POLICYINFO_value(pols, i);
        if (OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1) > 0 &&
            strcmp(oid, SHAKEN_POLICY_OID) == 0)
            cert->shaken_policy = 1;
    }
    CERTIFICATEPOLICIES_free(pols);
}

static void read_crl_url(sw_cert *cert)
{
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(cert->leaf, NID_crl_distribution_points, NULL, NULL);
    int i, j;

    for (i = 0; dps != NULL && i < sk_DIST_POINT_num(dps) && cert->crl_url == NULL; i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
            if (gn->type == GEN_URI) {
                const ASN1_IA5STRING *uri = gn->d.uniformResourceIdentifier;
                cert->crl_url = strndup((const char *)ASN1_STRING_get0_data(uri),
                                        (size_t)ASN1_STRING_length(uri));
                break;
            }
        }
    }
    CRL_DIST_POINTS_free(dps);
}

static sw_err cert_from_x509s(sw_ctx *ctx, STACK_OF(X509) * certs, sw_cert **out)
{
    sw_cert *cert = calloc(1, sizeof(*cert));
    EVP_PKEY *pkey;

    if (cert == NULL) {
        sk_X509_pop_free(certs, X509_free);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    cert->refs = 1;
    cert->leaf = sk_X509_shift(certs);
    cert->chain = certs;
    cert->subject = name_string(X509_get_subject_name(cert->leaf));
    cert->issuer = name_string(X509_get_issuer_name(cert->leaf));
    cert->not_before = asn1_time(X509_get0_notBefore(cert->leaf));
    cert->not_after = asn1_time(X509_get0_notAfter(cert->leaf));
    cert->is_ca = (X509_get_extension_flags(cert->leaf) & EXFLAG_CA) != 0;
    read_tnauth(cert);
    read_policies(cert);
    read_crl_url(cert);
    if ((pkey = X509_get_pubkey(cert->leaf)) != NULL) {
        char *pem = NULL;
        BIO *bio = BIO_new(BIO_s_mem());
        long n;
        /* reuse the public-key loader so that the P-256 rule lives in one place */
        if (bio != NULL && PEM_write_bio_PUBKEY(bio, pkey) &&
            (n = BIO_get_mem_data(bio, &pem)) > 0) {
            char msg[sizeof(ctx->errmsg)];
            snprintf(msg, sizeof(msg), "%s", ctx ? ctx->errmsg : "");
            if (sw_pubkey_load_pem(ctx, pem, (size_t)n, &cert->pub) == SW_OK) {
                cert->key_ok = 1;
                X509_up_ref(cert->leaf);
                cert->pub->cert = cert->leaf;
            } else if (ctx != NULL) {
                snprintf(ctx->errmsg, sizeof(ctx->errmsg), "%s", msg);
            }
        }
        BIO_free(bio);
        EVP_PKEY_free(pkey);
    }
    ERR_clear_error();
    *out = cert;
    return SW_OK;
}

sw_err sw_cert_load_pem(sw_ctx *ctx, const char *data, size_t len, sw_cert **out)
{
    STACK_OF(X509) * certs;
    BIO *bio;
    X509 *x;

    if (data == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no certificate given");
    *out = NULL;
    if (len > SW_CERT_MAX_BYTES)
        return swi_fail(ctx, SW_ERR_CERT_PARSE, "certificate data is larger than %d bytes",
                        SW_CERT_MAX_BYTES);
    if ((certs = sk_X509_new_null()) == NULL || (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
        sk_X509_free(certs);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(certs) >= SWI_MAX_CHAIN || !sk_X509_push(certs, x)) {
            X509_free(x);
            BIO_free(bio);
            sk_X509_pop_free(certs, X509_free);
            return swi_fail(ctx, SW_ERR_CERT_PARSE, "more than %d certificates in one response",
                            SWI_MAX_CHAIN);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (sk_X509_num(certs) == 0) {
        const unsigned char *p = (const unsigned char *)data;
        if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != (const unsigned char *)data + len) {
            X509_free(x);
            ERR_clear_error();
            sk_X509_free(certs);
            return swi_fail(ctx, SW_ERR_CERT_PARSE,
                            "no PEM or DER X.509 certificate found in %zu bytes", len);
        }
        sk_X509_push(certs, x);
    }
    return cert_from_x509s(ctx, certs, out);
}

sw_err sw_cert_load_file(sw_ctx *ctx, const char *path, sw_cert **out)
{
    FILE *f;
    char *buf;
    size_t n;
    sw_err err;

    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no file name given");
    if ((f = fopen(path, "rb")) == NULL)
        return swi_fail(ctx, SW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if ((buf = malloc(SW_CERT_MAX_BYTES + 1)) == NULL) {
        fclose(f);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    n = fread(buf, 1, SW_CERT_MAX_BYTES + 1, f);
    fclose(f);
    err = sw_cert_load_pem(ctx, buf, n, out);
    free(buf);
    return err;
}

const sw_pubkey *sw_cert_pubkey(const sw_cert *cert)
{
    return cert ? cert->pub : NULL;
}

const char *sw_cert_subject(const sw_cert *cert)
{
    return cert ? cert->subject : NULL;
}

const char *sw_cert_issuer(const sw_cert *cert)
{
    return cert ? cert->issuer : NULL;
}

int64_t sw_cert_not_before(const sw_cert *cert)
{
    return cert ? cert->not_before : 0;
}

int64_t sw_cert_not_after(const sw_cert *cert)
{
    return cert ? cert->not_after : 0;
}

const char *sw_cert_spc(const sw_cert *cert)
{
    return (cert && cert->spc[0]) ? cert->spc : NULL;
}

int sw_cert_has_shaken_policy(const sw_cert *cert)
{
    return cert ? cert->shaken_policy : 0;
}

const char *sw_cert_crl_url(const sw_cert *cert)
{
    return cert ? cert->crl_url : NULL;
}

size_t sw_cert_chain_length(const sw_cert *cert)
{
    return cert ? (size_t)sk_X509_num(cert->chain) : 0;
}

sw_err sw_cert_check(sw_ctx *ctx, const sw_cert *cert, int64_t at)
{
    if (cert == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no certificate given");
    if (!cert->key_ok)
        return swi_fail(ctx, SW_ERR_CERT_KEY, "certificate %s: key is not EC P-256",
                        cert->subject ? cert->subject : "");
    if (cert->is_ca)
        return swi_fail(ctx, SW_ERR_CERT_CA, "certificate %s is a CA certificate",
                        cert->subject ? cert->subject : "");
    if (at < cert->not_before)
        return swi_fail(ctx, SW_ERR_CERT_NOT_YET_VALID,
                        "certificate %s is valid from %lld, the time checked is %lld",
                        cert->subject ? cert->subject : "", (long long)cert->not_before,
                        (long long)at);
    if (at > cert->not_after)
        return swi_fail(
            ctx, SW_ERR_CERT_EXPIRED, "certificate %s expired at %lld, the time checked is %lld",
            cert->subject ? cert->subject : "", (long long)cert->not_after, (long long)at);
    if (cert->spc[0] == '\0')
        return swi_fail(ctx, SW_ERR_CERT_TNAUTH,
                        "certificate %s has no TNAuthList (1.3.6.1.5.5.7.1.26) with an SPC",
                        cert->subject ? cert->subject : "");
    if (!cert->shaken_policy)
        return swi_fail(ctx, SW_ERR_CERT_POLICY,
                        "certificate %s lacks the SHAKEN policy " SHAKEN_POLICY_OID,
                        cert->subject ? cert->subject : "");
    return SW_OK;
}

static sw_err map_verify_error(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return SW_ERR_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return SW_ERR_CERT_NOT_YET_VALID;
    case X509_V_ERR_CERT_REVOKED:
        return SW_ERR_CERT_REVOKED;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
        return SW_ERR_CERT_CRL;
    default:
        return SW_ERR_CERT_UNTRUSTED;
    }
}

/*
 * Revocation is checked by hand after the chain is built rather than with
 * X509_V_FLAG_CRL_CHECK: OpenSSL's flag demands a CRL for every issuer, while we have
 * CRL files for some issuers and the fetched CRL for this leaf's distribution point.
 * A CRL counts when it names the leaf's issuer and its signature verifies with the
 * issuer's key.
 */
static sw_err check_revocation(sw_ctx *ctx, const sw_cert *cert, X509 *issuer,
                               STACK_OF(X509_CRL) * crls, int crl_required)
{
    X509_REVOKED *rev;
    int i, matched = 0;

    for (i = 0; crls != NULL && i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
            continue;
        if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
            ERR_clear_error();
            return swi_fail(ctx, SW_ERR_CERT_CRL, "CRL from %s has a bad signature",
                            cert->issuer ? cert->issuer : "the issuer");
        }
        matched = 1;
        if (X509_CRL_get0_by_cert(crl, &rev, cert->leaf) == 1)
            return swi_fail(ctx, SW_ERR_CERT_REVOKED, "certificate %s is revoked by its issuer",
                            cert->subject ? cert->subject : "");
    }
    ERR_clear_error();
    if (crl_required && !matched)
        return swi_fail(ctx, SW_ERR_CERT_CRL, "no valid CRL from the issuer %s",
                        cert->issuer ? cert->issuer : "");
    return SW_OK;
}

sw_err swi_cert_verify_chain(sw_ctx *ctx, X509_STORE *store, const sw_cert *cert,
                             STACK_OF(X509_CRL) * crls, int crl_required, int64_t at)
{
    X509_STORE_CTX *sctx;
    STACK_OF(X509) * chain;
    int ok, e;
    sw_err err = SW_OK;

    if ((sctx = X509_STORE_CTX_new()) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (!X509_STORE_CTX_init(sctx, store, cert->leaf, cert->chain)) {
        X509_STORE_CTX_free(sctx);
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_CRYPTO, "cannot set up certificate verification");
    }
    X509_STORE_CTX_set_time(sctx, 0, (time_t)at);
    ok = X509_verify_cert(sctx);
    e = X509_STORE_CTX_get_error(sctx);
    if (ok == 1) {
        chain = X509_STORE_CTX_get0_chain(sctx);
        if (sk_X509_num(chain) < 2)
            err = swi_fail(ctx, SW_ERR_CERT_UNTRUSTED, "certificate %s is itself a trust anchor",
                           cert->subject ? cert->subject : "");
        else
            err = check_revocation(ctx, cert, sk_X509_value(chain, 1), crls, crl_required);
    } else {
        err = swi_fail(ctx, map_verify_error(e), "certificate %s: %s",
                       cert->subject ? cert->subject : "", X509_verify_cert_error_string(e));
    }
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return err;
}
