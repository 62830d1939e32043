/*
 * fuzz_tnauth.c - libFuzzer target for what an x5u host sends us: the TNAuthList reader
 * and the certificate loader.
 *
 * Each input goes through sw_tnauth_decode() (with a roomy and a tight SPC buffer: an
 * SW_OK answer must be a printable, NUL-terminated SPC that fits), then through
 * sw_cert_load_pem() as a response body would (PEM, or one DER certificate); a
 * certificate that loads is read with every getter and checked with sw_cert_check() at
 * the edges of its validity. The input is also wrapped as the DER of a certificate-less
 * TNAuthList body, so mutations of a bare entry reach the entry reader. Build and run
 * with tools/fuzz.sh; the seeds are in tests/fuzz/corpus/tnauth/.
 *
 * No global state: every run makes and frees its own context.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stirwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every string a getter returns, so that ASan sees a bad pointer. */
static size_t touch(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* sw_tnauth_decode() must answer SW_OK with a clean SPC, or SW_ERR_CERT_TNAUTH. */
static void decode(const uint8_t *der, size_t len, size_t spc_size)
{
    char spc[64];
    size_t i, n;
    sw_err err;

    memset(spc, 'X', sizeof(spc));
    err = sw_tnauth_decode(der, len, spc, spc_size);
    if (err == SW_ERR_CERT_TNAUTH)
        return;
    if (err != SW_OK)
        abort();
    n = strnlen(spc, spc_size);
    if (n == 0 || n >= spc_size)
        abort();
    for (i = 0; i < n; i++)
        if (spc[i] < 0x20 || spc[i] > 0x7e)
            abort();
}

static void exercise_cert(sw_ctx *ctx, const sw_cert *cert)
{
    int64_t nb = sw_cert_not_before(cert), na = sw_cert_not_after(cert);
    const char *spc;
    size_t n = 0;
    sw_err rc;

    n += touch(sw_cert_subject(cert)) + touch(sw_cert_issuer(cert)) + touch(sw_cert_spc(cert)) +
         touch(sw_cert_crl_url(cert));
    n += (size_t)sw_cert_has_shaken_policy(cert) + sw_cert_chain_length(cert);
    n += sw_cert_pubkey(cert) != NULL;
    rc = sw_cert_check(ctx, cert, nb);
    n += touch(sw_errmsg(ctx)) + touch(sw_err_name(rc));
    rc = sw_cert_check(ctx, cert, na);
    n += touch(sw_errmsg(ctx));
    rc = sw_cert_check(ctx, cert, nb - 1);
    n += touch(sw_errmsg(ctx));
    rc = sw_cert_check(ctx, cert, na + 1);
    n += touch(sw_errmsg(ctx)) + (size_t)rc;
    /* An SPC the certificate reports went through the reader: it must be clean. */
    for (spc = sw_cert_spc(cert); spc != NULL && *spc; spc++)
        if (*spc < 0x20 || *spc > 0x7e)
            abort();
    __asm__ volatile("" : : "r"(n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_ctx *ctx;
    sw_cert *cert = NULL;
    uint8_t *wrapped;

    decode(data, size, 64);
    decode(data, size, 5);
    decode(data, size, 1);
    /* the input as the body of a SEQUENCE, so bare entries are read as a list */
    if (size < 128 && (wrapped = malloc(size + 2)) != NULL) {
        wrapped[0] = 0x30;
        wrapped[1] = (uint8_t)size;
        memcpy(wrapped + 2, data, size);
        decode(wrapped, size + 2, 64);
        free(wrapped);
    }

    if ((ctx = sw_ctx_new()) == NULL)
        return 0;
    if (sw_cert_load_pem(ctx, (const char *)data, size, &cert) == SW_OK) {
        if (cert == NULL)
            abort();
        exercise_cert(ctx, cert);
    }
    sw_cert_free(cert);
    sw_ctx_free(ctx);
    return 0;
}
