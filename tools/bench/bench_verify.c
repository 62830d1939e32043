/*
 * bench_verify.c - verifying Identity headers against a cached, chain-checked certificate:
 * the rate a verifier sustains once a carrier's certificate is in the cache, and the cost
 * of a cache hit on its own. tools/bench/verify runs it beside `openssl speed ecdsap256`.
 *
 * Each iteration parses the header and runs sw_verify_identity() (token checks, cache
 * lookup, certificate validity at iat, signature), exactly what the proxy does per INVITE.
 * The certificate is fetched once, through the real fetch path, from the URL given.
 *
 * Usage: bench_verify SECONDS KEY.pem X5U-URL ROOT.pem TLS-CA.pem
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stirwire.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const sw_ctx *ctx, const char *what, sw_err err)
{
    fprintf(stderr, "bench_verify: %s: %s (%s)\n", what, sw_strerror(err), sw_errmsg(ctx));
    return 1;
}

int main(int argc, char **argv)
{
    sw_ctx *ctx;
    sw_key *key;
    sw_verifier *v;
    sw_passport *pp;
    sw_identity *id;
    sw_cert *cert;
    char *hdr;
    double secs, t0, t;
    long n, hits;
    size_t len;
    sw_err err;

    if (argc != 6 || (secs = strtod(argv[1], NULL)) <= 0) {
        fprintf(stderr, "usage: bench_verify SECONDS KEY.pem X5U-URL ROOT.pem TLS-CA.pem\n");
        return 1;
    }
    if ((ctx = sw_ctx_new()) == NULL || (v = sw_verifier_new()) == NULL ||
        (pp = sw_passport_new()) == NULL)
        return 1;
    sw_ctx_set_now(ctx, (int64_t)time(NULL));
    if ((err = sw_key_load_file(ctx, argv[2], &key)) != SW_OK)
        return die(ctx, "key", err);
    if ((err = sw_verifier_load_ca_file(v, ctx, argv[4])) != SW_OK)
        return die(ctx, "trust anchors", err);
    sw_verifier_set_str(v, SW_OPT_TLS_CA_FILE, argv[5]);
    sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 1); /* the bench server is on loopback */
    sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 1);
    sw_passport_set_attest(pp, 'A');
    sw_passport_set_orig_tn(pp, "12025550100");
    sw_passport_add_dest_tn(pp, "12025550199");
    sw_passport_set_x5u(pp, argv[3]);
    if ((err = sw_sign(ctx, key, pp, 0, &hdr)) != SW_OK)
        return die(ctx, "sign", err);
    len = strlen(hdr);
    if ((err = sw_identity_parse(ctx, hdr, len, &id)) != SW_OK ||
        (err = sw_verify_identity_wait(ctx, v, id, "12025550100", "12025550199")) != SW_OK)
        return die(ctx, "first verification (fetch)", err);
    sw_identity_free(id);

    n = 0;
    t0 = now_s();
    do {
        int i;
        for (i = 0; i < 100; i++) {
            if ((err = sw_identity_parse(ctx, hdr, len, &id)) != SW_OK ||
                (err = sw_verify_identity(ctx, v, id, "12025550100", "12025550199", NULL, NULL)) !=
                    SW_OK)
                return die(ctx, "verify", err);
            sw_identity_free(id);
        }
        n += 100;
    } while ((t = now_s() - t0) < secs);
    printf("stirwire_verify_cached_chain_per_s: %.0f\n", n / t);

    hits = 0;
    t0 = now_s();
    do {
        int i;
        for (i = 0; i < 10000; i++) {
            if ((err = sw_verifier_get_cert(v, ctx, argv[3], NULL, NULL, &cert)) != SW_OK)
                return die(ctx, "cache lookup", err);
            sw_cert_free(cert);
        }
        hits += 10000;
    } while ((t = now_s() - t0) < secs / 3);
    printf("stirwire_cache_hit_ns: %.0f\n", t / hits * 1e9);
    sw_free(hdr);
    sw_passport_free(pp);
    sw_key_free(key);
    sw_verifier_free(v);
    sw_ctx_free(ctx);
    return 0;
}
