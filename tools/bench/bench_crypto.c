/*
 * bench_crypto.c - how many Identity headers libstirwire signs and verifies a second on one
 * thread, to set beside `openssl speed ecdsap256` (the ES256 ceiling; see tools/bench/crypto).
 *
 * It uses only the public header, as any user of the library would: the key is loaded (or
 * made) once, then each signing iteration builds a PASSporT and calls sw_sign(), and each
 * verifying iteration calls sw_verify_header() on one pre-signed header with the call's
 * numbers, so the whole path (parse, claims, freshness, signature) is measured, not just
 * the ECDSA operation. The context's clock is fixed so that the token stays fresh however
 * long the run lasts.
 *
 * Usage: bench_crypto [seconds per test (default 3)] [private key PEM (default: generated)]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stirwire.h"

#define ORIG_TN "12025550100"
#define DEST_TN "12025550199"
#define X5U "https://cert.example.org/bench.pem"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const sw_ctx *ctx, const char *what, sw_err err)
{
    fprintf(stderr, "bench_crypto: %s: %s (%s)\n", what, sw_strerror(err),
            ctx != NULL ? sw_errmsg(ctx) : "");
    return 1;
}

/* Builds the PASSporT a signer would build for one call. */
static sw_err build_passport(sw_passport **out, int64_t iat)
{
    sw_passport *pp;
    sw_err err;

    if ((pp = sw_passport_new()) == NULL)
        return SW_ERR_NOMEM;
    if ((err = sw_passport_set_attest(pp, 'A')) != SW_OK ||
        (err = sw_passport_set_orig_tn(pp, ORIG_TN)) != SW_OK ||
        (err = sw_passport_add_dest_tn(pp, DEST_TN)) != SW_OK ||
        (err = sw_passport_set_x5u(pp, X5U)) != SW_OK ||
        (err = sw_passport_set_iat(pp, iat)) != SW_OK) {
        sw_passport_free(pp);
        return err;
    }
    *out = pp;
    return SW_OK;
}

/* Signs Identity headers for `seconds`; returns the rate, or a negative value on error. */
static double bench_sign(sw_ctx *ctx, const sw_key *key, double seconds)
{
    unsigned long n = 0;
    double start = now_s(), elapsed;
    int64_t iat = (int64_t)time(NULL);

    do {
        /* Check the clock every 64 iterations only: it is cheap, but not free. */
        for (int i = 0; i < 64; i++) {
            sw_passport *pp;
            char *ident = NULL;
            sw_err err;

            if ((err = build_passport(&pp, iat)) != SW_OK) {
                fail(ctx, "building a PASSporT", err);
                return -1.0;
            }
            err = sw_sign(ctx, key, pp, 0, &ident);
            sw_passport_free(pp);
            if (err != SW_OK) {
                fail(ctx, "sw_sign", err);
                return -1.0;
            }
            sw_free(ident);
            n++;
        }
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return (double)n / elapsed;
}

/* Verifies one pre-signed header for `seconds`; returns the rate, negative on error. */
static double bench_verify(sw_ctx *ctx, const sw_pubkey *pub, const char *ident, double seconds)
{
    unsigned long n = 0;
    size_t len = strlen(ident);
    double start = now_s(), elapsed;

    do {
        for (int i = 0; i < 64; i++) {
            sw_err err = sw_verify_header(ctx, ident, len, pub, ORIG_TN, DEST_TN);

            if (err != SW_OK) {
                fail(ctx, "sw_verify_header", err);
                return -1.0;
            }
            n++;
        }
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return (double)n / elapsed;
}

int main(int argc, char **argv)
{
    double seconds = 3.0, sign_rate, verify_rate;
    sw_ctx *ctx = NULL;
    sw_key *key = NULL;
    sw_pubkey *pub = NULL;
    sw_passport *pp = NULL;
    char *ident = NULL;
    int64_t iat;
    sw_err err;
    int rc = 1;

    if (argc > 1) {
        char *end;

        errno = 0;
        seconds = strtod(argv[1], &end);
        if (errno != 0 || end == argv[1] || *end != '\0' || seconds <= 0 || seconds > 3600) {
            fprintf(stderr, "usage: %s [seconds (default 3)] [private key PEM]\n", argv[0]);
            return 1;
        }
    }
    if ((ctx = sw_ctx_new()) == NULL) {
        fprintf(stderr, "bench_crypto: out of memory\n");
        return 1;
    }
    err = argc > 2 ? sw_key_load_file(ctx, argv[2], &key) : sw_key_generate(ctx, &key);
    if (err != SW_OK) {
        rc = fail(ctx, argc > 2 ? argv[2] : "generating a key", err);
        goto out;
    }
    if ((err = sw_pubkey_from_key(ctx, key, &pub)) != SW_OK) {
        rc = fail(ctx, "sw_pubkey_from_key", err);
        goto out;
    }

    /*
     * The verify test checks one token over and over: fix the context's clock at its iat
     * so it never goes stale, and check it once before timing so that a failure is an
     * error, not a fast loop.
     */
    iat = (int64_t)time(NULL);
    if ((err = build_passport(&pp, iat)) != SW_OK) {
        rc = fail(ctx, "building a PASSporT", err);
        goto out;
    }
    if ((err = sw_sign(ctx, key, pp, 0, &ident)) != SW_OK) {
        rc = fail(ctx, "sw_sign", err);
        goto out;
    }
    sw_ctx_set_now(ctx, iat);
    if ((err = sw_verify_header(ctx, ident, strlen(ident), pub, ORIG_TN, DEST_TN)) != SW_OK) {
        rc = fail(ctx, "verifying the benchmark token", err);
        goto out;
    }
    sw_ctx_set_now(ctx, 0);

    if ((sign_rate = bench_sign(ctx, key, seconds)) < 0)
        goto out;
    sw_ctx_set_now(ctx, iat);
    if ((verify_rate = bench_verify(ctx, pub, ident, seconds)) < 0)
        goto out;

    printf("stirwire_version: %s\n", sw_version());
    printf("stirwire_identity_bytes: %zu\n", strlen(ident));
    printf("stirwire_sign_identity_per_s: %.0f\n", sign_rate);
    printf("stirwire_verify_identity_per_s: %.0f\n", verify_rate);
    rc = 0;
out:
    sw_free(ident);
    sw_passport_free(pp);
    sw_pubkey_free(pub);
    sw_key_free(key);
    sw_ctx_free(ctx);
    return rc;
}
