/*
 * fuzz_identity.c - libFuzzer target for the Identity header parser and verifier.
 *
 * The input is one Identity header value, as a peer would send it. When it parses, every
 * getter, the JSON dump and sw_verify() run on it (with the clock set to its own iat, so
 * that the signature check is reached too), and a compact form gets claims. The first
 * bytes also go through sw_tn_canon(). Build and run with tools/fuzz.sh.
 *
 * The one global, the verification key, is the fuzzer's own: it is made once and only
 * read afterwards, as the library allows for keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stirwire.h"

static sw_pubkey *fuzz_pub;
static sw_passport *fuzz_claims;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;

    if (ctx == NULL || sw_key_generate(ctx, &key) != SW_OK ||
        sw_pubkey_from_key(ctx, key, &fuzz_pub) != SW_OK)
        abort();
    sw_key_free(key);
    sw_ctx_free(ctx);
    fuzz_claims = sw_passport_new();
    if (fuzz_claims == NULL || sw_passport_set_attest(fuzz_claims, 'A') != SW_OK ||
        sw_passport_set_orig_tn(fuzz_claims, "12025550100") != SW_OK ||
        sw_passport_add_dest_tn(fuzz_claims, "12025550199") != SW_OK ||
        sw_passport_set_iat(fuzz_claims, 1795411505) != SW_OK ||
        sw_passport_set_origid(fuzz_claims, "e7fade4b-130a-4fea-932e-ac36dcc196be") != SW_OK)
        abort();
    return 0;
}

/* Reads every string a getter returns, so that ASan sees a bad pointer. */
static size_t touch(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

static void exercise(sw_ctx *ctx, sw_identity *id)
{
    const sw_passport *pp = sw_identity_passport(id);
    size_t n = 0, i;
    char *json = NULL, reason[128];
    int64_t iat;
    sw_err rc;

    n += (size_t)sw_identity_is_compact(id);
    n += touch(sw_identity_info(id)) + touch(sw_identity_alg_param(id)) +
         touch(sw_identity_ppt_param(id)) + touch(sw_identity_param(id, "INFO"));
    for (i = 0; i <= sw_identity_param_count(id); i++)
        n += touch(sw_identity_param_name(id, i)) + touch(sw_identity_param_value(id, i));
    n += (size_t)(unsigned char)sw_passport_attest(pp);
    n += touch(sw_passport_orig_tn(pp)) + touch(sw_passport_origid(pp)) +
         touch(sw_passport_x5u(pp)) + touch(sw_passport_alg(pp)) + touch(sw_passport_typ(pp)) +
         touch(sw_passport_ppt(pp)) + touch(sw_passport_header_json(pp)) +
         touch(sw_passport_payload_json(pp));
    for (i = 0; i <= sw_passport_dest_tn_count(pp); i++)
        n += touch(sw_passport_dest_tn(pp, i));
    if (sw_identity_to_json(ctx, id, &json) == SW_OK)
        n += touch(json);
    sw_free(json);

    /* Make the clock agree with the token so that the later checks are reached too. */
    iat = sw_passport_iat(pp);
    sw_ctx_set_now(ctx, iat > 0 ? iat : 1);
    rc = sw_verify(ctx, id, fuzz_pub, NULL, NULL);
    n += touch(sw_errmsg(ctx)) + touch(sw_err_name(rc)) + touch(sw_strerror(rc));
    n += sw_err_reason_header(rc, reason, sizeof reason);
    rc = sw_verify(ctx, id, fuzz_pub, "+1 (202) 555-0100", "tel:+1-202-555-0199");
    n += touch(sw_errmsg(ctx));
    /* A random token signed by our key would be a forgery: flag it as a crash. */
    if (rc == SW_OK)
        abort();
    if (sw_identity_is_compact(id) && sw_identity_set_claims(ctx, id, fuzz_claims) == SW_OK) {
        rc = sw_verify(ctx, id, fuzz_pub, NULL, NULL);
        n += touch(sw_errmsg(ctx));
        if (rc == SW_OK)
            abort();
    }
    /* Keep n alive so the reads above are not optimised away. */
    __asm__ volatile("" : : "r"(n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = NULL;
    char prefix[48], tn[SW_TN_MAX];
    size_t plen = size < sizeof prefix - 1 ? size : sizeof prefix - 1;

    if (ctx == NULL)
        return 0;
    if (sw_identity_parse(ctx, (const char *)data, size, &id) == SW_OK)
        exercise(ctx, id);
    sw_identity_free(id);
    /* A second parse on the same context: the context caches the last JWT header. */
    if (sw_identity_parse(ctx, (const char *)data, size, &id) == SW_OK)
        sw_identity_free(id);

    memcpy(prefix, data, plen);
    prefix[plen] = '\0';
    sw_tn_canon(prefix, tn, sizeof tn);
    sw_tn_canon(prefix, tn, 4); /* a buffer too small for most numbers */
    sw_ctx_free(ctx);
    return 0;
}
