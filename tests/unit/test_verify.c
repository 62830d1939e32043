/*
 * test_verify.c - sw_verify() at a fixed clock: round trips, tampering, every check of
 * RFC 8224 section 6.2 / ATIS-1000074 with its exact error, cheap checks before the
 * signature, the compact form, and sign+verify from several threads sharing one key.
 */
#include "testutil.h"

#include <pthread.h>

static sw_key *key;    /* signs the tokens */
static sw_pubkey *pub; /* its public half */
static sw_key *other;  /* an unrelated key */
static sw_pubkey *other_pub;

static int setup(void **state)
{
    key = tu_key();
    pub = tu_pub(key);
    other = tu_key();
    other_pub = tu_pub(other);
    return 0;
}

static int teardown(void **state)
{
    sw_pubkey_free(other_pub);
    sw_key_free(other);
    sw_pubkey_free(pub);
    sw_key_free(key);
    return 0;
}

/* The standard payload with the given iat (free). */
static char *payload(int64_t iat)
{
    return tu_fmt(TU_PAYLOAD_FMT, (long long)iat);
}

/* A token over hand-made header JSON and the standard payload, really signed by key. */
static char *token_with_header(const char *header_json, const char *params)
{
    char *p = payload(TU_NOW);
    char *t = tu_token(key, header_json, p, params);
    free(p);
    return t;
}

/* A token over the standard header and a hand-made payload, really signed by key. */
static char *token_with_payload(const char *payload_json)
{
    return tu_token(key, TU_HEADER_JSON, payload_json, TU_PARAMS);
}

static void expect(char *hdr, sw_err want)
{
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), want);
    free(hdr);
}

/* --- round trips --------------------------------------------------------------------- */

static void verify_accepts_signed_token(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, pub, TU_ORIG, TU_DEST), SW_OK);
    sw_free(hdr);
}

static void verify_accepts_hand_made_token(void **state)
{
    /* Checks the helper itself: a token built by tu_token() verifies. */
    char *p = payload(TU_NOW);
    expect(token_with_payload(p), SW_OK);
    free(p);
}

static void verify_header_parses_and_verifies(void **state)
{
    sw_ctx *ctx = tu_ctx();
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(sw_verify_header(ctx, hdr, strlen(hdr), pub, TU_ORIG, TU_DEST), SW_OK);
    sw_free(hdr);
    sw_ctx_free(ctx);
}

static void verify_header_reports_parse_errors(void **state)
{
    sw_ctx *ctx = tu_ctx();
    assert_int_equal(sw_verify_header(ctx, "a.b", 3, pub, NULL, NULL), SW_ERR_IDENTITY_MALFORMED);
    assert_true(sw_errmsg(ctx)[0] != '\0');
    sw_ctx_free(ctx);
}

static void verify_accepts_reloaded_public_key(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    char *pem = NULL;
    sw_pubkey *p2 = NULL;
    char *hdr = tu_sign(key, TU_NOW);

    assert_int_equal(sw_key_public_pem(ctx, key, &pem), SW_OK);
    assert_int_equal(sw_pubkey_load_pem(ctx, pem, strlen(pem), &p2), SW_OK);
    assert_int_equal(tu_verify(hdr, p2, NULL, NULL), SW_OK);
    sw_pubkey_free(p2);
    sw_free(pem);
    sw_free(hdr);
    sw_ctx_free(ctx);
}

/* --- signature ----------------------------------------------------------------------- */

static void verify_rejects_tampered_payload(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    char *bad = tu_tamper(hdr, 1, "\"attest\":\"A\"", "\"attest\":\"B\"");
    assert_int_equal(tu_verify(bad, pub, NULL, NULL), SW_ERR_SIGNATURE);
    free(bad);
    sw_free(hdr);
}

static void verify_rejects_tampered_header(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    /* Still valid after re-encoding: only the byte order of the JSON changes. */
    char *bad = tu_tamper(hdr, 0, "{\"alg\":\"ES256\",", "{ \"alg\":\"ES256\",");
    assert_int_equal(tu_verify(bad, pub, NULL, NULL), SW_ERR_SIGNATURE);
    free(bad);
    sw_free(hdr);
}

static size_t flip_first_bit(unsigned char *buf, size_t len, void *arg)
{
    buf[10] ^= 0x01;
    return len;
}

static void verify_rejects_tampered_signature(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    char *bad = tu_edit_segment(hdr, 2, flip_first_bit, NULL);
    assert_string_not_equal(bad, hdr);
    assert_int_equal(tu_verify(bad, pub, NULL, NULL), SW_ERR_SIGNATURE);
    free(bad);
    sw_free(hdr);
}

static size_t zero_signature(unsigned char *buf, size_t len, void *arg)
{
    memset(buf, 0, len);
    return len;
}

static void verify_rejects_all_zero_signature(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    char *bad = tu_edit_segment(hdr, 2, zero_signature, NULL);
    assert_int_equal(tu_verify(bad, pub, NULL, NULL), SW_ERR_SIGNATURE);
    free(bad);
    sw_free(hdr);
}

static void verify_rejects_wrong_key(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, other_pub, NULL, NULL), SW_ERR_SIGNATURE);
    sw_free(hdr);
}

static void verify_without_key_is_cert_unavailable(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, NULL, NULL, NULL), SW_ERR_CERT_UNAVAILABLE);
    sw_free(hdr);
}

/* --- alg, typ, ppt, x5u -------------------------------------------------------------- */

static void verify_rejects_alg_none(void **state)
{
    expect(token_with_header("{\"alg\":\"none\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                             "\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_ALG);
}

static void verify_rejects_alg_hs256(void **state)
{
    expect(token_with_header("{\"alg\":\"HS256\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                             "\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_ALG);
}

static void verify_rejects_alg_rs256(void **state)
{
    expect(token_with_header("{\"alg\":\"RS256\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                             "\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_ALG);
}

static void verify_rejects_missing_alg(void **state)
{
    expect(token_with_header("{\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_ALG);
}

static void verify_rejects_alg_none_even_unsigned(void **state)
{
    /* The classic attack: alg none and no real signature. */
    char *p = payload(TU_NOW);
    char *t = tu_token(NULL,
                       "{\"alg\":\"none\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                       "\"x5u\":\"" TU_X5U "\"}",
                       p, TU_PARAMS);
    expect(t, SW_ERR_ALG);
    free(p);
}

static void verify_rejects_alg_param_rs256(void **state)
{
    expect(token_with_header(TU_HEADER_JSON, ";info=<" TU_X5U ">;alg=RS256;ppt=shaken"),
           SW_ERR_ALG);
}

static void verify_accepts_missing_alg_param(void **state)
{
    /* RFC 8224: alg is optional in the header and defaults to ES256 for PASSporT. */
    expect(token_with_header(TU_HEADER_JSON, ";info=<" TU_X5U ">;ppt=shaken"), SW_OK);
}

static void verify_rejects_typ_jwt(void **state)
{
    expect(token_with_header("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"JWT\","
                             "\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_TYP);
}

static void verify_rejects_missing_typ(void **state)
{
    expect(token_with_header("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_TYP);
}

static void verify_rejects_ppt_div_under_shaken_param(void **state)
{
    expect(token_with_header("{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\","
                             "\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_PPT);
}

static void verify_rejects_missing_ppt(void **state)
{
    expect(token_with_header("{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" TU_X5U "\"}",
                             TU_PARAMS),
           SW_ERR_PPT);
}

static void verify_rejects_missing_ppt_param(void **state)
{
    /* RFC 8225 section 8.1: a ppt in the PASSporT must be carried in the header too. */
    expect(token_with_header(TU_HEADER_JSON, ";info=<" TU_X5U ">;alg=ES256"), SW_ERR_PPT);
}

static void verify_rejects_ppt_param_div_under_shaken_jwt(void **state)
{
    expect(token_with_header(TU_HEADER_JSON, ";info=<" TU_X5U ">;alg=ES256;ppt=div"), SW_ERR_PPT);
}

static void verify_accepts_quoted_ppt_param(void **state)
{
    expect(token_with_header(TU_HEADER_JSON, ";info=<" TU_X5U ">;alg=ES256;ppt=\"shaken\""), SW_OK);
}

static void verify_accepts_param_order_and_case(void **state)
{
    expect(token_with_header(TU_HEADER_JSON, " ; PPT=shaken ; ALG=ES256 ; Info=<" TU_X5U ">"),
           SW_OK);
}

static void verify_rejects_x5u_not_equal_to_info(void **state)
{
    expect(token_with_header(TU_HEADER_JSON, ";info=<https://evil.example/sp.pem>;alg=ES256;"
                                             "ppt=shaken"),
           SW_ERR_X5U_MISMATCH);
}

static void verify_rejects_missing_x5u(void **state)
{
    expect(
        token_with_header("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}", TU_PARAMS),
        SW_ERR_X5U_MISMATCH);
}

static void verify_rejects_missing_info(void **state)
{
    expect(token_with_header(TU_HEADER_JSON, ";alg=ES256;ppt=shaken"), SW_ERR_INFO_MISSING);
}

/* --- freshness ----------------------------------------------------------------------- */

static void verify_rejects_stale_iat(void **state)
{
    char *hdr = tu_sign(key, TU_NOW - 61);
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), SW_ERR_STALE);
    sw_free(hdr);
}

static void verify_accepts_iat_exactly_max_age_old(void **state)
{
    char *hdr = tu_sign(key, TU_NOW - 60);
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), SW_OK);
    sw_free(hdr);
}

static void verify_rejects_iat_beyond_future_skew(void **state)
{
    char *hdr = tu_sign(key, TU_NOW + 6);
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), SW_ERR_FUTURE);
    sw_free(hdr);
}

static void verify_accepts_iat_within_future_skew(void **state)
{
    char *hdr = tu_sign(key, TU_NOW + 5);
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), SW_OK);
    sw_free(hdr);
}

static void verify_honours_max_age_setting(void **state)
{
    sw_ctx *ctx = tu_ctx();
    char *hdr = tu_sign(key, TU_NOW - 1000);
    sw_ctx_set_max_age(ctx, 3600);
    assert_int_equal(sw_verify_header(ctx, hdr, strlen(hdr), pub, NULL, NULL), SW_OK);
    sw_ctx_set_max_age(ctx, 999);
    assert_int_equal(sw_verify_header(ctx, hdr, strlen(hdr), pub, NULL, NULL), SW_ERR_STALE);
    sw_free(hdr);
    sw_ctx_free(ctx);
}

static void verify_honours_future_skew_setting(void **state)
{
    sw_ctx *ctx = tu_ctx();
    char *hdr = tu_sign(key, TU_NOW + 30);
    sw_ctx_set_future_skew(ctx, 30);
    assert_int_equal(sw_verify_header(ctx, hdr, strlen(hdr), pub, NULL, NULL), SW_OK);
    sw_ctx_set_future_skew(ctx, 29);
    assert_int_equal(sw_verify_header(ctx, hdr, strlen(hdr), pub, NULL, NULL), SW_ERR_FUTURE);
    sw_free(hdr);
    sw_ctx_free(ctx);
}

static void stale_message_says_how_old(void **state)
{
    sw_ctx *ctx = tu_ctx();
    char *hdr = tu_sign(key, TU_NOW - 912);
    assert_int_equal(sw_verify_header(ctx, hdr, strlen(hdr), pub, NULL, NULL), SW_ERR_STALE);
    assert_non_null(strstr(sw_errmsg(ctx), "912"));
    sw_free(hdr);
    sw_ctx_free(ctx);
}

static void context_clock_is_fixed_by_set_now(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_ctx_set_now(ctx, 1234);
    assert_int_equal(sw_ctx_now(ctx), 1234);
    sw_ctx_set_now(ctx, 0);
    assert_true(sw_ctx_now(ctx) > TU_NOW); /* back to the real clock, which is past 2023 */
    sw_ctx_free(ctx);
}

static void verify_rejects_missing_iat(void **state)
{
    expect(token_with_payload("{\"attest\":\"A\",\"dest\":{\"tn\":[\"" TU_DEST "\"]},"
                              "\"orig\":{\"tn\":\"" TU_ORIG "\"},\"origid\":\"" TU_ORIGID "\"}"),
           SW_ERR_IAT_MISSING);
}

static void verify_rejects_string_iat(void **state)
{
    expect(token_with_payload("{\"attest\":\"A\",\"dest\":{\"tn\":[\"" TU_DEST "\"]},"
                              "\"iat\":\"1700000000\",\"orig\":{\"tn\":\"" TU_ORIG "\"},"
                              "\"origid\":\"" TU_ORIGID "\"}"),
           SW_ERR_IAT_MISSING);
}

static void verify_rejects_real_number_iat(void **state)
{
    expect(token_with_payload("{\"attest\":\"A\",\"dest\":{\"tn\":[\"" TU_DEST "\"]},"
                              "\"iat\":1700000000.5,\"orig\":{\"tn\":\"" TU_ORIG "\"},"
                              "\"origid\":\"" TU_ORIGID "\"}"),
           SW_ERR_IAT_MISSING);
}

/* --- claims -------------------------------------------------------------------------- */

static void verify_rejects_attest_d(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"attest\":\"A\"", "\"attest\":\"D\"");
    expect(token_with_payload(q), SW_ERR_ATTEST);
    free(q);
    free(p);
}

static void verify_rejects_missing_attest(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"attest\":\"A\",", "");
    expect(token_with_payload(q), SW_ERR_ATTEST);
    free(q);
    free(p);
}

static void verify_accepts_attest_c(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"attest\":\"A\"", "\"attest\":\"C\"");
    expect(token_with_payload(q), SW_OK);
    free(q);
    free(p);
}

static void verify_rejects_missing_orig(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"orig\":{\"tn\":\"" TU_ORIG "\"},", "");
    expect(token_with_payload(q), SW_ERR_ORIG_MISSING);
    free(q);
    free(p);
}

static void verify_rejects_orig_that_is_not_a_number(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"orig\":{\"tn\":\"" TU_ORIG "\"}", "\"orig\":{\"tn\":\"alice\"}");
    expect(token_with_payload(q), SW_ERR_ORIG_MISSING);
    free(q);
    free(p);
}

static void verify_rejects_missing_dest(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"dest\":{\"tn\":[\"" TU_DEST "\"]},", "");
    expect(token_with_payload(q), SW_ERR_DEST_MISSING);
    free(q);
    free(p);
}

static void verify_rejects_empty_dest(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"dest\":{\"tn\":[\"" TU_DEST "\"]}", "\"dest\":{\"tn\":[]}");
    expect(token_with_payload(q), SW_ERR_DEST_MISSING);
    free(q);
    free(p);
}

static void verify_rejects_dest_tn_as_string(void **state)
{
    char *p = payload(TU_NOW);
    char *q =
        tu_replace(p, "\"dest\":{\"tn\":[\"" TU_DEST "\"]}", "\"dest\":{\"tn\":\"" TU_DEST "\"}");
    expect(token_with_payload(q), SW_ERR_DEST_MISSING);
    free(q);
    free(p);
}

static void verify_rejects_missing_origid(void **state)
{
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, ",\"origid\":\"" TU_ORIGID "\"", "");
    expect(token_with_payload(q), SW_ERR_ORIGID_MISSING);
    free(q);
    free(p);
}

static void verify_matches_numbers_in_canonical_form(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, pub, "+1-202-555-0100", "tel:+1 (202) 555-0199"), SW_OK);
    sw_free(hdr);
}

static void verify_rejects_orig_mismatch(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, pub, "12025550101", TU_DEST), SW_ERR_ORIG_MISMATCH);
    sw_free(hdr);
}

static void verify_rejects_dest_mismatch(void **state)
{
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, pub, TU_ORIG, "12025550198"), SW_ERR_DEST_MISMATCH);
    sw_free(hdr);
}

static void verify_finds_called_number_among_several_dest(void **state)
{
    sw_passport *pp = tu_passport(TU_NOW);
    char *hdr;
    assert_int_equal(sw_passport_add_dest_tn(pp, "12025550198"), SW_OK);
    hdr = tu_sign_pp(key, pp, TU_NOW, 0);
    assert_int_equal(tu_verify(hdr, pub, TU_ORIG, "12025550198"), SW_OK);
    sw_free(hdr);
    sw_passport_free(pp);
}

static void verify_reports_non_number_caller_as_orig_mismatch(void **state)
{
    /* A From of sip:alice@... has no number, so it cannot match orig.tn: 438, not a usage error. */
    char *hdr = tu_sign(key, TU_NOW);
    assert_int_equal(tu_verify(hdr, pub, "alice", NULL), SW_ERR_ORIG_MISMATCH);
    sw_free(hdr);
}

static void verify_keeps_unknown_claims(void **state)
{
    sw_ctx *ctx = tu_ctx();
    char *p = payload(TU_NOW);
    char *q = tu_replace(p, "\"attest\":\"A\",", "\"attest\":\"A\",\"foo\":1,");
    char *hdr = token_with_payload(q);
    sw_identity *id = NULL;
    char *out = NULL;
    json_t *obj;

    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    assert_int_equal(sw_verify(ctx, id, pub, TU_ORIG, TU_DEST), SW_OK);
    assert_non_null(strstr(sw_passport_payload_json(sw_identity_passport(id)), "\"foo\":1"));
    assert_int_equal(sw_identity_to_json(ctx, id, &out), SW_OK);
    obj = json_loads(out, 0, NULL);
    assert_non_null(obj);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(obj, "payload"), "foo")),
                     1);
    json_decref(obj);
    sw_free(out);
    sw_identity_free(id);
    free(hdr);
    free(q);
    free(p);
    sw_ctx_free(ctx);
}

static void verify_checks_received_bytes_not_canonical_json(void **state)
{
    /* A payload with spaces and unsorted keys verifies over the bytes that were signed. */
    expect(token_with_payload("{ \"origid\" : \"" TU_ORIGID "\", \"orig\":{\"tn\":\"" TU_ORIG "\"},"
                              "\"iat\":1700000000,\"dest\":{\"tn\":[\"" TU_DEST "\"]},"
                              "\"attest\":\"A\" }"),
           SW_OK);
}

/* --- order of checks ----------------------------------------------------------------- */

static void verify_reports_stale_before_signature(void **state)
{
    char *hdr = tu_sign(other, TU_NOW - 3600);
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), SW_ERR_STALE);
    sw_free(hdr);
}

static void verify_reports_alg_before_signature(void **state)
{
    char *p = payload(TU_NOW);
    char *t = tu_token(other,
                       "{\"alg\":\"RS256\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                       "\"x5u\":\"" TU_X5U "\"}",
                       p, TU_PARAMS);
    assert_int_equal(tu_verify(t, pub, NULL, NULL), SW_ERR_ALG);
    free(t);
    free(p);
}

static void verify_reports_claims_before_signature(void **state)
{
    char *hdr = tu_sign(other, TU_NOW);
    assert_int_equal(tu_verify(hdr, pub, NULL, "12025550198"), SW_ERR_DEST_MISMATCH);
    sw_free(hdr);
}

static void verify_reports_x5u_before_freshness(void **state)
{
    char *p = payload(TU_NOW - 3600);
    char *t = tu_token(key, TU_HEADER_JSON, p, ";info=<https://evil.example/a.pem>;ppt=shaken");
    expect(t, SW_ERR_X5U_MISMATCH);
    free(p);
}

/* --- compact form -------------------------------------------------------------------- */

static void verify_compact_with_right_claims(void **state)
{
    sw_ctx *ctx = tu_ctx();
    sw_passport *pp = tu_passport(TU_NOW);
    char *hdr = tu_sign_pp(key, pp, TU_NOW, SW_SIGN_COMPACT);
    sw_identity *id = NULL;

    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    assert_int_equal(sw_identity_is_compact(id), 1);
    assert_int_equal(sw_identity_set_claims(ctx, id, pp), SW_OK);
    assert_int_equal(sw_verify(ctx, id, pub, TU_ORIG, TU_DEST), SW_OK);
    sw_identity_free(id);
    sw_free(hdr);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
}

static void verify_compact_without_claims_is_malformed(void **state)
{
    /* Without the claims rebuilt from the SIP message there is nothing to check. */
    sw_ctx *ctx = tu_ctx();
    sw_passport *pp = tu_passport(TU_NOW);
    char *hdr = tu_sign_pp(key, pp, TU_NOW, SW_SIGN_COMPACT);
    sw_identity *id = NULL;

    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    assert_int_equal(sw_verify(ctx, id, pub, TU_ORIG, TU_DEST), SW_ERR_IDENTITY_MALFORMED);
    assert_non_null(strstr(sw_errmsg(ctx), "compact"));
    sw_identity_free(id);
    sw_free(hdr);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
}

static void signed_payload_is_canonical_json(void **state)
{
    /*
     * sw_sign writes the common payload itself (a fast path); it must be byte for byte
     * what jansson's canonical dump of the same claims gives, with and without escapes.
     */
    static const char *origids[] = {TU_ORIGID, "quote\"and\\back", "caf\xc3\xa9"};
    size_t i;

    for (i = 0; i < sizeof(origids) / sizeof(origids[0]); i++) {
        sw_ctx *ctx = tu_ctx();
        sw_passport *pp = tu_passport(TU_NOW);
        sw_identity *id = NULL;
        char *hdr, *canon;

        assert_int_equal(sw_passport_add_dest_tn(pp, "12025550142"), SW_OK);
        assert_int_equal(sw_passport_set_origid(pp, origids[i]), SW_OK);
        hdr = tu_sign_pp(key, pp, TU_NOW, 0);
        assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
        canon = json_dumps(id->pp->payload, JSON_SORT_KEYS | JSON_COMPACT);
        {
            size_t hlen = strcspn(hdr, "."), plen = strcspn(hdr + hlen + 1, ".");
            size_t rawlen;
            char *raw = tu_unb64(hdr + hlen + 1, plen, &rawlen);
            assert_int_equal(rawlen, strlen(canon));
            assert_memory_equal(raw, canon, rawlen);
            free(raw);
        }
        free(canon);
        sw_identity_free(id);
        sw_free(hdr);
        sw_passport_free(pp);
        sw_ctx_free(ctx);
    }
}

static void sign_shaken_matches_sign(void **state)
{
    /*
     * sw_sign_shaken (no PASSporT object) and sw_sign must sign the same header.payload
     * bytes for the same claims, with and without JSON escapes in x5u and origid.
     */
    static const char *x5us[] = {TU_X5U, "https://cert.example.org/a\\b.pem"};
    static const char *origids[] = {TU_ORIGID, "caf\xc3\xa9"};
    const char *dests[] = {"+1 (202) 555-0199", "12025550142"};
    size_t i;

    for (i = 0; i < 2; i++) {
        sw_ctx *ctx = tu_ctx();
        sw_passport *pp = sw_passport_new();
        char *a = NULL, *b = NULL;

        sw_ctx_set_now(ctx, TU_NOW);
        assert_int_equal(sw_passport_set_attest(pp, 'B'), SW_OK);
        assert_int_equal(sw_passport_set_orig_tn(pp, "+1-202-555-0100"), SW_OK);
        assert_int_equal(sw_passport_add_dest_tn(pp, dests[0]), SW_OK);
        assert_int_equal(sw_passport_add_dest_tn(pp, dests[1]), SW_OK);
        assert_int_equal(sw_passport_set_iat(pp, TU_NOW), SW_OK);
        assert_int_equal(sw_passport_set_origid(pp, origids[i]), SW_OK);
        assert_int_equal(sw_passport_set_x5u(pp, x5us[i]), SW_OK);
        assert_int_equal(sw_sign(ctx, key, pp, 0, &a), SW_OK);
        assert_int_equal(sw_sign_shaken(ctx, key, 'B', "+1-202-555-0100", dests, 2, TU_NOW,
                                        origids[i], x5us[i], 0, &b),
                         SW_OK);
        /* header.payload identical (signatures differ: ECDSA is randomised) */
        assert_int_equal(strcspn(a, ".") + strcspn(a + strcspn(a, ".") + 1, "."),
                         strcspn(b, ".") + strcspn(b + strcspn(b, ".") + 1, "."));
        assert_memory_equal(a, b, strcspn(a, ".") + 1 + strcspn(a + strcspn(a, ".") + 1, "."));
        assert_string_equal(strchr(a, ';'), strchr(b, ';'));
        assert_int_equal(tu_verify(b, pub, "12025550100", "12025550142"), SW_OK);
        sw_free(a);
        sw_free(b);
        sw_passport_free(pp);
        sw_ctx_free(ctx);
    }
}

static void sign_shaken_refuses_bad_values(void **state)
{
    sw_ctx *ctx = tu_ctx();
    const char *dest[] = {TU_DEST}, *bad[] = {"alice"};
    char *out = NULL;

    assert_int_equal(sw_sign_shaken(ctx, key, 'D', TU_ORIG, dest, 1, 0, NULL, TU_X5U, 0, &out),
                     SW_ERR_ATTEST);
    assert_int_equal(sw_sign_shaken(ctx, key, 'A', "bob", dest, 1, 0, NULL, TU_X5U, 0, &out),
                     SW_ERR_ORIG_MISSING);
    assert_int_equal(sw_sign_shaken(ctx, key, 'A', TU_ORIG, bad, 1, 0, NULL, TU_X5U, 0, &out),
                     SW_ERR_DEST_MISSING);
    assert_int_equal(sw_sign_shaken(ctx, key, 'A', TU_ORIG, dest, 0, 0, NULL, TU_X5U, 0, &out),
                     SW_ERR_DEST_MISSING);
    assert_int_equal(sw_sign_shaken(ctx, key, 'A', TU_ORIG, dest, 1, 0, NULL, NULL, 0, &out),
                     SW_ERR_INFO_MISSING);
    assert_int_equal(
        sw_sign_shaken(ctx, key, 'A', TU_ORIG, dest, 1, 0, NULL, "https://x/<y>", 0, &out),
        SW_ERR_INVAL);
    assert_null(out);
    sw_ctx_free(ctx);
}

static void verify_compact_rebuilds_claims_from_non_canonical_numbers(void **state)
{
    /* The SIP message carries "+1-202-555-0100"; the rebuilt claims are canonical anyway. */
    sw_ctx *ctx = tu_ctx();
    sw_passport *pp = tu_passport(TU_NOW);
    sw_passport *claims = sw_passport_new();
    char *hdr = tu_sign_pp(key, pp, TU_NOW, SW_SIGN_COMPACT);
    sw_identity *id = NULL;

    assert_int_equal(sw_passport_set_attest(claims, 'A'), SW_OK);
    assert_int_equal(sw_passport_set_orig_tn(claims, "+1-202-555-0100"), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(claims, "+1 (202) 555-0199"), SW_OK);
    assert_int_equal(sw_passport_set_iat(claims, TU_NOW), SW_OK);
    assert_int_equal(sw_passport_set_origid(claims, TU_ORIGID), SW_OK);
    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    assert_int_equal(sw_identity_set_claims(ctx, id, claims), SW_OK);
    assert_int_equal(sw_verify(ctx, id, pub, NULL, NULL), SW_OK);
    sw_identity_free(id);
    sw_free(hdr);
    sw_passport_free(claims);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
}

static void verify_compact_with_wrong_claims_fails(void **state)
{
    sw_ctx *ctx = tu_ctx();
    sw_passport *pp = tu_passport(TU_NOW);
    sw_passport *wrong = tu_passport(TU_NOW);
    char *hdr = tu_sign_pp(key, pp, TU_NOW, SW_SIGN_COMPACT);
    sw_identity *id = NULL;

    assert_int_equal(sw_passport_set_orig_tn(wrong, "12025550111"), SW_OK);
    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    assert_int_equal(sw_identity_set_claims(ctx, id, wrong), SW_OK);
    assert_int_equal(sw_verify(ctx, id, pub, NULL, NULL), SW_ERR_SIGNATURE);
    assert_true(sw_errmsg(ctx)[0] != '\0');
    sw_identity_free(id);
    sw_free(hdr);
    sw_passport_free(wrong);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
}

static void verify_compact_with_wrong_iat_fails(void **state)
{
    sw_ctx *ctx = tu_ctx();
    sw_passport *pp = tu_passport(TU_NOW);
    sw_passport *wrong = tu_passport(TU_NOW - 1);
    char *hdr = tu_sign_pp(key, pp, TU_NOW, SW_SIGN_COMPACT);
    sw_identity *id = NULL;

    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    assert_int_equal(sw_identity_set_claims(ctx, id, wrong), SW_OK);
    assert_int_equal(sw_verify(ctx, id, pub, NULL, NULL), SW_ERR_SIGNATURE);
    sw_identity_free(id);
    sw_free(hdr);
    sw_passport_free(wrong);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
}

/* --- threads ------------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 500

struct worker {
    pthread_t tid;
    int ok;
    sw_err first_failure;
};

static void *sign_and_verify(void *arg)
{
    struct worker *w = arg;
    sw_ctx *ctx = sw_ctx_new();
    sw_passport *pp = sw_passport_new();

    if (ctx == NULL || pp == NULL || sw_passport_set_attest(pp, 'B') != SW_OK ||
        sw_passport_set_orig_tn(pp, TU_ORIG) != SW_OK ||
        sw_passport_add_dest_tn(pp, TU_DEST) != SW_OK || sw_passport_set_x5u(pp, TU_X5U) != SW_OK) {
        w->first_failure = SW_ERR_NOMEM;
        goto out;
    }
    sw_ctx_set_now(ctx, TU_NOW);
    for (int i = 0; i < ROUNDS; i++) {
        char *hdr = NULL;
        sw_err rc = sw_passport_set_iat(pp, TU_NOW - (i % 50));
        if (rc == SW_OK)
            rc = sw_sign(ctx, key, pp, 0, &hdr);
        if (rc == SW_OK)
            rc = sw_verify_header(ctx, hdr, strlen(hdr), pub, TU_ORIG, TU_DEST);
        /* A foreign key must keep failing too: the per-thread cache must not mix keys. */
        if (rc == SW_OK &&
            sw_verify_header(ctx, hdr, strlen(hdr), other_pub, NULL, NULL) != SW_ERR_SIGNATURE)
            rc = SW_ERR_CRYPTO;
        sw_free(hdr);
        if (rc == SW_OK)
            w->ok++;
        else if (w->first_failure == SW_OK)
            w->first_failure = rc;
    }
out:
    sw_passport_free(pp);
    sw_ctx_free(ctx);
    return NULL;
}

static void sign_and_verify_from_four_threads(void **state)
{
    struct worker w[THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&w[i].tid, NULL, sign_and_verify, &w[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].first_failure, SW_OK);
        assert_int_equal(w[i].ok, ROUNDS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_accepts_signed_token),
        cmocka_unit_test(verify_accepts_hand_made_token),
        cmocka_unit_test(verify_header_parses_and_verifies),
        cmocka_unit_test(verify_header_reports_parse_errors),
        cmocka_unit_test(verify_accepts_reloaded_public_key),
        cmocka_unit_test(verify_rejects_tampered_payload),
        cmocka_unit_test(verify_rejects_tampered_header),
        cmocka_unit_test(verify_rejects_tampered_signature),
        cmocka_unit_test(verify_rejects_all_zero_signature),
        cmocka_unit_test(verify_rejects_wrong_key),
        cmocka_unit_test(verify_without_key_is_cert_unavailable),
        cmocka_unit_test(verify_rejects_alg_none),
        cmocka_unit_test(verify_rejects_alg_hs256),
        cmocka_unit_test(verify_rejects_alg_rs256),
        cmocka_unit_test(verify_rejects_missing_alg),
        cmocka_unit_test(verify_rejects_alg_none_even_unsigned),
        cmocka_unit_test(verify_rejects_alg_param_rs256),
        cmocka_unit_test(verify_accepts_missing_alg_param),
        cmocka_unit_test(verify_rejects_typ_jwt),
        cmocka_unit_test(verify_rejects_missing_typ),
        cmocka_unit_test(verify_rejects_ppt_div_under_shaken_param),
        cmocka_unit_test(verify_rejects_missing_ppt),
        cmocka_unit_test(verify_rejects_missing_ppt_param),
        cmocka_unit_test(verify_rejects_ppt_param_div_under_shaken_jwt),
        cmocka_unit_test(verify_accepts_quoted_ppt_param),
        cmocka_unit_test(verify_accepts_param_order_and_case),
        cmocka_unit_test(verify_rejects_x5u_not_equal_to_info),
        cmocka_unit_test(verify_rejects_missing_x5u),
        cmocka_unit_test(verify_rejects_missing_info),
        cmocka_unit_test(verify_rejects_stale_iat),
        cmocka_unit_test(verify_accepts_iat_exactly_max_age_old),
        cmocka_unit_test(verify_rejects_iat_beyond_future_skew),
        cmocka_unit_test(verify_accepts_iat_within_future_skew),
        cmocka_unit_test(verify_honours_max_age_setting),
        cmocka_unit_test(verify_honours_future_skew_setting),
        cmocka_unit_test(stale_message_says_how_old),
        cmocka_unit_test(context_clock_is_fixed_by_set_now),
        cmocka_unit_test(verify_rejects_missing_iat),
        cmocka_unit_test(verify_rejects_string_iat),
        cmocka_unit_test(verify_rejects_real_number_iat),
        cmocka_unit_test(verify_rejects_attest_d),
        cmocka_unit_test(verify_rejects_missing_attest),
        cmocka_unit_test(verify_accepts_attest_c),
        cmocka_unit_test(verify_rejects_missing_orig),
        cmocka_unit_test(verify_rejects_orig_that_is_not_a_number),
        cmocka_unit_test(verify_rejects_missing_dest),
        cmocka_unit_test(verify_rejects_empty_dest),
        cmocka_unit_test(verify_rejects_dest_tn_as_string),
        cmocka_unit_test(verify_rejects_missing_origid),
        cmocka_unit_test(verify_matches_numbers_in_canonical_form),
        cmocka_unit_test(verify_rejects_orig_mismatch),
        cmocka_unit_test(verify_rejects_dest_mismatch),
        cmocka_unit_test(verify_finds_called_number_among_several_dest),
        cmocka_unit_test(verify_reports_non_number_caller_as_orig_mismatch),
        cmocka_unit_test(verify_keeps_unknown_claims),
        cmocka_unit_test(verify_checks_received_bytes_not_canonical_json),
        cmocka_unit_test(verify_reports_stale_before_signature),
        cmocka_unit_test(verify_reports_alg_before_signature),
        cmocka_unit_test(verify_reports_claims_before_signature),
        cmocka_unit_test(verify_reports_x5u_before_freshness),
        cmocka_unit_test(verify_compact_with_right_claims),
        cmocka_unit_test(verify_compact_without_claims_is_malformed),
        cmocka_unit_test(signed_payload_is_canonical_json),
        cmocka_unit_test(sign_shaken_matches_sign),
        cmocka_unit_test(sign_shaken_refuses_bad_values),
        cmocka_unit_test(verify_compact_rebuilds_claims_from_non_canonical_numbers),
        cmocka_unit_test(verify_compact_with_wrong_claims_fails),
        cmocka_unit_test(verify_compact_with_wrong_iat_fails),
        cmocka_unit_test(sign_and_verify_from_four_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
