/*
 * test_key.c - loading keys: PKCS#8 and SEC1 private keys, refusal of keys that are not
 * P-256 (P-384, RSA, Ed25519), bad input and missing files, and public keys from a PEM
 * public key, a PEM or DER certificate (made here with OpenSSL) or a private key.
 */
#include "testutil.h"

#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* PEM (or DER for a certificate, with *len) of OpenSSL objects, as malloc()ed text. */
static char *bio_text(BIO *bio, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out;
    assert_true(n > 0);
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    if (len != NULL)
        *len = (size_t)n;
    BIO_free(bio);
    return out;
}

static char *pkcs8_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    return bio_text(bio, NULL);
}

static char *traditional_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    return bio_text(bio, NULL);
}

static char *public_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    return bio_text(bio, NULL);
}

static EVP_PKEY *p256(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(pkey);
    return pkey;
}

/* A self-signed certificate for pkey; PEM text, or DER bytes with *derlen when der is set. */
static char *self_signed_cert(EVP_PKEY *pkey, int der, size_t *derlen)
{
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *bio = BIO_new(BIO_s_mem());

    assert_non_null(x);
    assert_non_null(bio);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"SHAKEN test", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, pkey), 1);
    assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
    if (der)
        assert_int_equal(i2d_X509_bio(bio, x), 1);
    else
        assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    X509_free(x);
    return bio_text(bio, derlen);
}

/* Writes len bytes to a fresh temporary file; returns its path (free, and unlink). */
static char *temp_file(const void *data, size_t len)
{
    char *path = tu_fmt("/tmp/sw_test_key_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void load_key_pem_expect(const char *pem, sw_err want)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;
    assert_int_equal(sw_key_load_pem(ctx, pem, strlen(pem), &key), want);
    if (want == SW_OK)
        assert_non_null(key);
    else
        assert_true(sw_errmsg(ctx)[0] != '\0');
    sw_key_free(key);
    sw_ctx_free(ctx);
}

static void generate_makes_a_p256_key(void **state)
{
    sw_key *key = tu_key();
    assert_non_null(key->pkey);
    assert_int_equal(EVP_PKEY_is_a(key->pkey, "EC"), 1);
    assert_int_equal(EVP_PKEY_get_bits(key->pkey), 256);
    sw_key_free(key);
}

static void private_pem_is_pkcs8_and_loads_back(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = tu_key(), *back = NULL;
    char *pem = NULL;

    assert_int_equal(sw_key_private_pem(ctx, key, &pem), SW_OK);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(sw_key_load_pem(ctx, pem, strlen(pem), &back), SW_OK);
    assert_int_equal(EVP_PKEY_eq(key->pkey, back->pkey), 1);
    sw_free(pem);
    sw_key_free(key);
    sw_key_free(back);
    sw_ctx_free(ctx);
}

static void loads_pkcs8_pem_made_by_openssl(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = pkcs8_pem(pkey);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    load_key_pem_expect(pem, SW_OK);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void loads_sec1_ec_private_key_pem(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = traditional_pem(pkey);
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;

    assert_non_null(strstr(pem, "-----BEGIN EC PRIVATE KEY-----"));
    assert_int_equal(sw_key_load_pem(ctx, pem, strlen(pem), &key), SW_OK);
    assert_int_equal(EVP_PKEY_eq(key->pkey, pkey), 1);
    sw_key_free(key);
    sw_ctx_free(ctx);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void loads_pem_without_trailing_nul(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = pkcs8_pem(pkey);
    size_t len = strlen(pem);
    char *exact = malloc(len); /* no terminating NUL: len alone says where it ends */
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;

    memcpy(exact, pem, len);
    assert_int_equal(sw_key_load_pem(ctx, exact, len, &key), SW_OK);
    sw_key_free(key);
    sw_ctx_free(ctx);
    free(exact);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void refuses_p384_key(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    char *pem = pkcs8_pem(pkey);
    load_key_pem_expect(pem, SW_ERR_KEY_CURVE);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void refuses_rsa_key(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *pem = pkcs8_pem(pkey);
    load_key_pem_expect(pem, SW_ERR_KEY_CURVE);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void refuses_ed25519_key(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *pem = pkcs8_pem(pkey);
    load_key_pem_expect(pem, SW_ERR_KEY_CURVE);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void refuses_garbage_as_key_parse(void **state)
{
    load_key_pem_expect("this is not a key\n", SW_ERR_KEY_PARSE);
}

static void refuses_truncated_pem_as_key_parse(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = pkcs8_pem(pkey);
    pem[strlen(pem) / 2] = '\0';
    load_key_pem_expect(pem, SW_ERR_KEY_PARSE);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void refuses_public_key_as_private_key(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = public_pem(pkey);
    load_key_pem_expect(pem, SW_ERR_KEY_PARSE);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void load_file_reads_private_key(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = pkcs8_pem(pkey);
    char *path = temp_file(pem, strlen(pem));
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;

    assert_int_equal(sw_key_load_file(ctx, path, &key), SW_OK);
    assert_int_equal(EVP_PKEY_eq(key->pkey, pkey), 1);
    sw_key_free(key);
    sw_ctx_free(ctx);
    unlink(path);
    free(path);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void load_file_missing_is_io(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;
    assert_int_equal(sw_key_load_file(ctx, "/nonexistent/stirwire/key.pem", &key), SW_ERR_IO);
    assert_null(key);
    assert_true(sw_errmsg(ctx)[0] != '\0');
    sw_ctx_free(ctx);
}

static void pubkey_load_file_missing_is_io(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;
    assert_int_equal(sw_pubkey_load_file(ctx, "/nonexistent/stirwire/cert.pem", &pub), SW_ERR_IO);
    assert_null(pub);
    sw_ctx_free(ctx);
}

static void public_pem_loads_as_pubkey(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = tu_key();
    sw_pubkey *pub = NULL;
    char *pem = NULL;

    assert_int_equal(sw_key_public_pem(ctx, key, &pem), SW_OK);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_null(strstr(pem, "PRIVATE"));
    assert_int_equal(sw_pubkey_load_pem(ctx, pem, strlen(pem), &pub), SW_OK);
    assert_int_equal(EVP_PKEY_eq(pub->pkey, key->pkey), 1);
    assert_null(pub->cert);
    sw_free(pem);
    sw_pubkey_free(pub);
    sw_key_free(key);
    sw_ctx_free(ctx);
}

static void pem_certificate_loads_as_pubkey(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = self_signed_cert(pkey, 0, NULL);
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_pem(ctx, pem, strlen(pem), &pub), SW_OK);
    assert_int_equal(EVP_PKEY_eq(pub->pkey, pkey), 1);
    assert_non_null(pub->cert);
    sw_pubkey_free(pub);
    sw_ctx_free(ctx);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void der_certificate_file_loads_as_pubkey(void **state)
{
    EVP_PKEY *pkey = p256();
    size_t len = 0;
    char *der = self_signed_cert(pkey, 1, &len);
    char *path = temp_file(der, len);
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_file(ctx, path, &pub), SW_OK);
    assert_int_equal(EVP_PKEY_eq(pub->pkey, pkey), 1);
    sw_pubkey_free(pub);
    sw_ctx_free(ctx);
    unlink(path);
    free(path);
    free(der);
    EVP_PKEY_free(pkey);
}

static void pem_certificate_file_loads_as_pubkey(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = self_signed_cert(pkey, 0, NULL);
    char *path = temp_file(pem, strlen(pem));
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_file(ctx, path, &pub), SW_OK);
    assert_int_equal(EVP_PKEY_eq(pub->pkey, pkey), 1);
    sw_pubkey_free(pub);
    sw_ctx_free(ctx);
    unlink(path);
    free(path);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void private_key_pem_loads_as_pubkey(void **state)
{
    EVP_PKEY *pkey = p256();
    char *pem = pkcs8_pem(pkey);
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_pem(ctx, pem, strlen(pem), &pub), SW_OK);
    assert_int_equal(EVP_PKEY_eq(pub->pkey, pkey), 1);
    sw_pubkey_free(pub);
    sw_ctx_free(ctx);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void pubkey_from_key_is_its_public_half(void **state)
{
    sw_key *key = tu_key();
    sw_pubkey *pub = tu_pub(key);
    assert_int_equal(EVP_PKEY_eq(pub->pkey, key->pkey), 1);
    sw_pubkey_free(pub);
    sw_key_free(key);
}

static void pubkey_refuses_p384_certificate(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    char *pem = self_signed_cert(pkey, 0, NULL);
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_pem(ctx, pem, strlen(pem), &pub), SW_ERR_KEY_CURVE);
    assert_null(pub);
    sw_ctx_free(ctx);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void pubkey_refuses_rsa_public_key(void **state)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *pem = public_pem(pkey);
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_pem(ctx, pem, strlen(pem), &pub), SW_ERR_KEY_CURVE);
    sw_ctx_free(ctx);
    free(pem);
    EVP_PKEY_free(pkey);
}

static void pubkey_refuses_garbage_as_key_parse(void **state)
{
    const char *junk = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;

    assert_int_equal(sw_pubkey_load_pem(ctx, junk, strlen(junk), &pub), SW_ERR_KEY_PARSE);
    assert_null(pub);
    sw_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generate_makes_a_p256_key),
        cmocka_unit_test(private_pem_is_pkcs8_and_loads_back),
        cmocka_unit_test(loads_pkcs8_pem_made_by_openssl),
        cmocka_unit_test(loads_sec1_ec_private_key_pem),
        cmocka_unit_test(loads_pem_without_trailing_nul),
        cmocka_unit_test(refuses_p384_key),
        cmocka_unit_test(refuses_rsa_key),
        cmocka_unit_test(refuses_ed25519_key),
        cmocka_unit_test(refuses_garbage_as_key_parse),
        cmocka_unit_test(refuses_truncated_pem_as_key_parse),
        cmocka_unit_test(refuses_public_key_as_private_key),
        cmocka_unit_test(load_file_reads_private_key),
        cmocka_unit_test(load_file_missing_is_io),
        cmocka_unit_test(pubkey_load_file_missing_is_io),
        cmocka_unit_test(public_pem_loads_as_pubkey),
        cmocka_unit_test(pem_certificate_loads_as_pubkey),
        cmocka_unit_test(der_certificate_file_loads_as_pubkey),
        cmocka_unit_test(pem_certificate_file_loads_as_pubkey),
        cmocka_unit_test(private_key_pem_loads_as_pubkey),
        cmocka_unit_test(pubkey_from_key_is_its_public_half),
        cmocka_unit_test(pubkey_refuses_p384_certificate),
        cmocka_unit_test(pubkey_refuses_rsa_public_key),
        cmocka_unit_test(pubkey_refuses_garbage_as_key_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
