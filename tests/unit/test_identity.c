/*
 * test_identity.c - parsing the SIP Identity header (RFC 8224 section 4): full and compact
 * forms, info/alg/ppt and extension parameters, every syntax error the parser must name,
 * and the JSON dump. Semantics (alg, claims, signature) are test_verify.c's.
 */
#include "testutil.h"

/* Signed by secsipidx 1.2.0; header and payload are spelled out in the tests below. */
#define SECSIPIDX_JWT                                                                              \
    "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly94LmV4YW1w" \
    "bGUvYy5wZW0ifQ.eyJhdHRlc3QiOiJBIiwiZGVzdCI6eyJ0biI6WyIxMjAyNTU1MDE5OSJdfSwiaWF0IjoxNzk1NDEx"  \
    "NTA1LCJvcmlnIjp7InRuIjoiMTIwMjU1NTAxMDAifSwib3JpZ2lkIjoiZTdmYWRlNGItMTMwYS00ZmVhLTkzMmUtYWM"  \
    "zNmRjYzE5NmJlIn0.UNRieVKqxtvjJrV_ZsDfU8sw8cRKkUF_XauFLZ4NGJixCSp8viMVa-IFDNY7Yj6-hG1polxp5ir" \
    "TF9anUdJzrw"
#define SECSIPIDX_HEADER SECSIPIDX_JWT ";info=<https://x.example/c.pem>;alg=ES256;ppt=shaken"
#define SECSIPIDX_HDR_B64                                                                          \
    "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly94LmV4YW1w" \
    "bGUvYy5wZW0ifQ"
#define SECSIPIDX_SIG_B64                                                                          \
    "UNRieVKqxtvjJrV_ZsDfU8sw8cRKkUF_XauFLZ4NGJixCSp8viMVa-IFDNY7Yj6-hG1polxp5irTF9anUdJzrw"
#define STD_PARAMS ";info=<https://x.example/c.pem>;alg=ES256;ppt=shaken"

/* Parses s on a fresh context and expects want; returns the identity on success. */
static sw_identity *parse_expect(const char *s, size_t len, sw_err want)
{
    sw_ctx *ctx = tu_ctx();
    sw_identity *id = NULL;
    assert_int_equal(sw_identity_parse(ctx, s, len, &id), want);
    if (want == SW_OK) {
        assert_non_null(id);
    } else {
        assert_null(id);
        assert_true(sw_errmsg(ctx)[0] != '\0');
    }
    sw_ctx_free(ctx);
    return id;
}

static sw_identity *parse_ok(const char *s)
{
    return parse_expect(s, strlen(s), SW_OK);
}

static void parse_fails(const char *s, sw_err want)
{
    parse_expect(s, strlen(s), want);
}

/* "<hdr>.<payload>.<sig>" + STD_PARAMS with the given base64url segments (free). */
static char *with_segments(const char *h, const char *p, const char *sig)
{
    return tu_fmt("%s.%s.%s%s", h, p, sig, STD_PARAMS);
}

static void parses_secsipidx_full_form(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_HEADER);
    assert_int_equal(sw_identity_is_compact(id), 0);
    assert_string_equal(sw_identity_info(id), "https://x.example/c.pem");
    assert_string_equal(sw_identity_alg_param(id), "ES256");
    assert_string_equal(sw_identity_ppt_param(id), "shaken");
    assert_int_equal(sw_identity_param_count(id), 3);
    sw_identity_free(id);
}

static void secsipidx_header_claims_are_readable(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_HEADER);
    const sw_passport *pp = sw_identity_passport(id);
    assert_non_null(pp);
    assert_string_equal(sw_passport_alg(pp), "ES256");
    assert_string_equal(sw_passport_typ(pp), "passport");
    assert_string_equal(sw_passport_ppt(pp), "shaken");
    assert_string_equal(sw_passport_x5u(pp), "https://x.example/c.pem");
    assert_int_equal(sw_passport_attest(pp), 'A');
    assert_string_equal(sw_passport_orig_tn(pp), "12025550100");
    assert_int_equal(sw_passport_dest_tn_count(pp), 1);
    assert_string_equal(sw_passport_dest_tn(pp, 0), "12025550199");
    assert_int_equal(sw_passport_iat(pp), 1795411505);
    assert_string_equal(sw_passport_origid(pp), "e7fade4b-130a-4fea-932e-ac36dcc196be");
    sw_identity_free(id);
}

static void keeps_received_bytes_as_signing_input(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_HEADER);
    const char *jwt = SECSIPIDX_JWT;
    size_t n = strrchr(jwt, '.') - jwt;
    assert_int_equal(id->signing_input_len, n);
    assert_memory_equal(id->signing_input, jwt, n);
    assert_int_equal(id->sig_len, 64);
    sw_identity_free(id);
}

static void keeps_received_payload_json(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_HEADER);
    assert_string_equal(sw_passport_payload_json(sw_identity_passport(id)),
                        "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12025550199\"]},\"iat\":1795411505,"
                        "\"orig\":{\"tn\":\"12025550100\"},"
                        "\"origid\":\"e7fade4b-130a-4fea-932e-ac36dcc196be\"}");
    sw_identity_free(id);
}

static void parses_compact_form(void **state)
{
    char *s = tu_fmt("%s..%s%s", SECSIPIDX_HDR_B64, SECSIPIDX_SIG_B64, STD_PARAMS);
    sw_identity *id = parse_ok(s);
    assert_int_equal(sw_identity_is_compact(id), 1);
    assert_string_equal(sw_passport_alg(sw_identity_passport(id)), "ES256");
    assert_string_equal(sw_passport_x5u(sw_identity_passport(id)), "https://x.example/c.pem");
    assert_null(sw_passport_orig_tn(sw_identity_passport(id)));
    sw_identity_free(id);
    free(s);
}

static void parses_jwt_without_params(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_JWT);
    assert_int_equal(sw_identity_param_count(id), 0);
    assert_null(sw_identity_info(id));
    assert_null(sw_identity_alg_param(id));
    assert_null(sw_identity_ppt_param(id));
    sw_identity_free(id);
}

static void parses_only_len_bytes(void **state)
{
    const char *s = SECSIPIDX_HEADER ";junk=\"unterminated";
    sw_identity *id = parse_expect(s, strlen(SECSIPIDX_HEADER), SW_OK);
    assert_int_equal(sw_identity_param_count(id), 3);
    sw_identity_free(id);
}

static void info_keeps_query_string(void **state)
{
    sw_identity *id =
        parse_ok(SECSIPIDX_JWT ";info=<https://c.example/x.pem?a=1&b=2>;alg=ES256;ppt=shaken");
    assert_string_equal(sw_identity_info(id), "https://c.example/x.pem?a=1&b=2");
    assert_string_equal(sw_identity_ppt_param(id), "shaken");
    sw_identity_free(id);
}

static void info_may_contain_semicolon_inside_brackets(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_JWT ";info=<https://c.example/x.pem;v=2>;alg=ES256");
    assert_string_equal(sw_identity_info(id), "https://c.example/x.pem;v=2");
    assert_string_equal(sw_identity_alg_param(id), "ES256");
    sw_identity_free(id);
}

static void ppt_may_be_quoted(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_JWT ";info=<https://x.example/c.pem>;alg=ES256;"
                                             "ppt=\"shaken\"");
    assert_string_equal(sw_identity_ppt_param(id), "shaken");
    sw_identity_free(id);
}

static void keeps_unknown_params(void **state)
{
    sw_identity *id = parse_ok(SECSIPIDX_HEADER ";foo=bar;flag");
    assert_int_equal(sw_identity_param_count(id), 5);
    assert_string_equal(sw_identity_param(id, "foo"), "bar");
    assert_string_equal(sw_identity_param_name(id, 3), "foo");
    assert_string_equal(sw_identity_param_value(id, 3), "bar");
    assert_string_equal(sw_identity_param_name(id, 4), "flag");
    assert_null(sw_identity_param_value(id, 4));
    assert_null(sw_identity_param(id, "absent"));
    sw_identity_free(id);
}

static void params_keep_their_order(void **state)
{
    sw_identity *id =
        parse_ok(SECSIPIDX_JWT ";ppt=shaken;alg=ES256;info=<https://x.example/c.pem>");
    assert_string_equal(sw_identity_param_name(id, 0), "ppt");
    assert_string_equal(sw_identity_param_name(id, 1), "alg");
    assert_string_equal(sw_identity_param_name(id, 2), "info");
    assert_null(sw_identity_param_name(id, 3));
    sw_identity_free(id);
}

static void tolerates_whitespace_around_separators(void **state)
{
    sw_identity *id =
        parse_ok(SECSIPIDX_JWT " ; info = <https://x.example/c.pem> ;alg= ES256 ;\tppt =shaken");
    assert_string_equal(sw_identity_info(id), "https://x.example/c.pem");
    assert_string_equal(sw_identity_alg_param(id), "ES256");
    assert_string_equal(sw_identity_ppt_param(id), "shaken");
    sw_identity_free(id);
}

static void tolerates_leading_and_trailing_whitespace(void **state)
{
    sw_identity *id = parse_ok("  " SECSIPIDX_HEADER " \t");
    assert_string_equal(sw_identity_ppt_param(id), "shaken");
    sw_identity_free(id);
}

static void param_names_are_case_insensitive(void **state)
{
    sw_identity *id =
        parse_ok(SECSIPIDX_JWT ";INFO=<https://x.example/c.pem>;Alg=ES256;PPT=shaken");
    assert_string_equal(sw_identity_info(id), "https://x.example/c.pem");
    assert_string_equal(sw_identity_alg_param(id), "ES256");
    assert_string_equal(sw_identity_ppt_param(id), "shaken");
    assert_string_equal(sw_identity_param(id, "aLG"), "ES256");
    sw_identity_free(id);
}

static void refuses_empty(void **state)
{
    parse_fails("", SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_only_whitespace(void **state)
{
    parse_fails("   ", SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_two_segments(void **state)
{
    parse_fails(SECSIPIDX_HDR_B64 "." SECSIPIDX_SIG_B64 STD_PARAMS, SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_four_segments(void **state)
{
    parse_fails(SECSIPIDX_JWT "." SECSIPIDX_SIG_B64 STD_PARAMS, SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_bad_base64_in_header(void **state)
{
    char *s = tu_replace(SECSIPIDX_HEADER, "eyJhbGci", "eyJh*Gci");
    parse_fails(s, SW_ERR_BASE64);
    free(s);
}

static void refuses_padded_base64_in_signature(void **state)
{
    char *p = tu_b64("{}");
    char *s = with_segments(SECSIPIDX_HDR_B64, p, SECSIPIDX_SIG_B64 "==");
    parse_fails(s, SW_ERR_BASE64);
    free(s);
    free(p);
}

static void refuses_header_that_is_not_json(void **state)
{
    char *h = tu_b64("hello, world");
    char *p = tu_b64("{\"attest\":\"A\"}");
    char *s = with_segments(h, p, SECSIPIDX_SIG_B64);
    parse_fails(s, SW_ERR_JSON);
    free(s);
    free(h);
    free(p);
}

static void refuses_header_that_is_a_json_array(void **state)
{
    char *h = tu_b64("[\"alg\",\"ES256\"]");
    char *p = tu_b64("{\"attest\":\"A\"}");
    char *s = with_segments(h, p, SECSIPIDX_SIG_B64);
    parse_fails(s, SW_ERR_JSON);
    free(s);
    free(h);
    free(p);
}

static void refuses_payload_that_is_a_json_array(void **state)
{
    char *p = tu_b64("[1,2,3]");
    char *s = with_segments(SECSIPIDX_HDR_B64, p, SECSIPIDX_SIG_B64);
    parse_fails(s, SW_ERR_JSON);
    free(s);
    free(p);
}

static void refuses_payload_with_trailing_garbage(void **state)
{
    char *p = tu_b64("{\"attest\":\"A\"} x");
    char *s = with_segments(SECSIPIDX_HDR_B64, p, SECSIPIDX_SIG_B64);
    parse_fails(s, SW_ERR_JSON);
    free(s);
    free(p);
}

static void refuses_header_cut_in_the_middle(void **state)
{
    const char *s = SECSIPIDX_HEADER;
    parse_expect(s, strlen(s) / 2, SW_ERR_IDENTITY_MALFORMED);
}

static void never_accepts_a_truncated_jwt(void **state)
{
    /* Every proper prefix of the JWT must be refused by parse or by verify, never crash. */
    sw_key *key = tu_key();
    sw_pubkey *pub = tu_pub(key);
    char *hdr = tu_sign(key, TU_NOW);
    size_t jwtlen = strcspn(hdr, ";");

    for (size_t n = 0; n < jwtlen; n++) {
        char *cut = tu_fmt("%.*s" TU_PARAMS, (int)n, hdr);
        assert_int_not_equal(tu_verify(cut, pub, NULL, NULL), SW_OK);
        free(cut);
    }
    assert_int_equal(tu_verify(hdr, pub, NULL, NULL), SW_OK);
    sw_free(hdr);
    sw_pubkey_free(pub);
    sw_key_free(key);
}

static void refuses_header_longer_than_max(void **state)
{
    size_t pad = SW_IDENTITY_MAX;
    char *big = malloc(pad + 1);
    char *s;
    memset(big, 'a', pad);
    big[pad] = '\0';
    s = tu_fmt("%s;x=%s", SECSIPIDX_HEADER, big);
    parse_fails(s, SW_ERR_IDENTITY_TOO_LONG);
    free(s);
    free(big);
}

static void accepts_header_of_exactly_max_length(void **state)
{
    size_t base = strlen(SECSIPIDX_HEADER ";x="), pad = SW_IDENTITY_MAX - base;
    char *big = malloc(pad + 1);
    char *s;
    sw_identity *id;
    memset(big, 'a', pad);
    big[pad] = '\0';
    s = tu_fmt("%s;x=%s", SECSIPIDX_HEADER, big);
    assert_int_equal(strlen(s), SW_IDENTITY_MAX);
    id = parse_ok(s);
    assert_int_equal(strlen(sw_identity_param(id, "x")), pad);
    sw_identity_free(id);
    free(s);
    free(big);
}

static void refuses_info_without_angle_brackets(void **state)
{
    parse_fails(SECSIPIDX_JWT ";info=https://x.example/c.pem;alg=ES256;ppt=shaken",
                SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_info_with_unclosed_bracket(void **state)
{
    parse_fails(SECSIPIDX_JWT ";info=<https://x.example/c.pem;alg=ES256;ppt=shaken",
                SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_empty_param_name(void **state)
{
    parse_fails(SECSIPIDX_JWT ";=x" STD_PARAMS, SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_signature_of_63_bytes(void **state)
{
    /*
     * The library decides the signature length at parse time: a signature that does not
     * decode to exactly 64 bytes (r || s) is IDENTITY_MALFORMED, before any crypto.
     */
    unsigned char sig[63];
    char b64[100];
    char *p = tu_b64("{}"), *s;
    memset(sig, 0x11, sizeof sig);
    swi_b64url_encode(sig, sizeof sig, b64);
    s = with_segments(SECSIPIDX_HDR_B64, p, b64);
    parse_fails(s, SW_ERR_IDENTITY_MALFORMED);
    free(s);
    free(p);
}

static void refuses_empty_signature(void **state)
{
    char *p = tu_b64("{}");
    char *s = with_segments(SECSIPIDX_HDR_B64, p, "");
    parse_fails(s, SW_ERR_IDENTITY_MALFORMED);
    free(s);
    free(p);
}

static void accepts_sixteen_params(void **state)
{
    sw_identity *id =
        parse_ok(SECSIPIDX_HEADER ";a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;i=9;j=10;k=11;l=12;"
                                  "m=13");
    assert_int_equal(sw_identity_param_count(id), 16);
    assert_string_equal(sw_identity_param(id, "m"), "13");
    sw_identity_free(id);
}

static void refuses_seventeen_params(void **state)
{
    parse_fails(SECSIPIDX_HEADER ";a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;i=9;j=10;k=11;l=12;m=13;n=14",
                SW_ERR_IDENTITY_MALFORMED);
}

static void null_value_is_identity_missing(void **state)
{
    /* No header at all is what a verifier answers 428 for, not a malformed one. */
    sw_ctx *ctx = tu_ctx();
    sw_identity *id = NULL;
    assert_int_equal(sw_identity_parse(ctx, NULL, 0, &id), SW_ERR_IDENTITY_MISSING);
    assert_null(id);
    sw_ctx_free(ctx);
}

static void refuses_duplicate_param(void **state)
{
    parse_fails(SECSIPIDX_HEADER ";PPT=div", SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_nul_byte(void **state)
{
    const char s[] = SECSIPIDX_JWT "\0" STD_PARAMS;
    parse_expect(s, sizeof s - 1, SW_ERR_IDENTITY_MALFORMED);
}

static void refuses_duplicate_json_keys(void **state)
{
    /* Two iat claims would let two readers see two different tokens. */
    char *p = tu_b64("{\"iat\":1,\"iat\":2}");
    char *s = with_segments(SECSIPIDX_HDR_B64, p, SECSIPIDX_SIG_B64);
    parse_fails(s, SW_ERR_JSON);
    free(s);
    free(p);
}

static void to_json_keeps_every_param(void **state)
{
    /* A quoted value with bytes that are not UTF-8 must not vanish from the dump. */
    sw_ctx *ctx = tu_ctx();
    sw_identity *id = parse_ok(SECSIPIDX_HEADER ";foo=\"a\xff\xfe\"");
    char *out = NULL;
    json_t *obj;

    assert_int_equal(sw_identity_to_json(ctx, id, &out), SW_OK);
    obj = json_loads(out, 0, NULL);
    assert_non_null(obj);
    assert_int_equal(json_object_size(json_object_get(obj, "params")), 4);
    assert_non_null(json_object_get(json_object_get(obj, "params"), "foo"));
    json_decref(obj);
    sw_free(out);
    sw_identity_free(id);
    sw_ctx_free(ctx);
}

static void to_json_has_header_payload_params(void **state)
{
    sw_ctx *ctx = tu_ctx();
    sw_identity *id = parse_ok(SECSIPIDX_HEADER ";foo=bar");
    char *out = NULL;
    json_t *obj;
    json_error_t jerr;

    assert_int_equal(sw_identity_to_json(ctx, id, &out), SW_OK);
    obj = json_loads(out, 0, &jerr);
    assert_non_null(obj);
    assert_true(json_is_object(json_object_get(obj, "header")));
    assert_true(json_is_object(json_object_get(obj, "payload")));
    assert_true(json_is_object(json_object_get(obj, "params")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "header"), "x5u")),
                        "https://x.example/c.pem");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(obj, "payload"), "iat")),
                     1795411505);
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "params"), "foo")),
                        "bar");
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "params"), "info")),
                        "https://x.example/c.pem");
    assert_string_equal(json_string_value(json_object_get(obj, "signature")), SECSIPIDX_SIG_B64);
    assert_string_equal(json_string_value(json_object_get(obj, "form")), "full");
    json_decref(obj);
    sw_free(out);
    sw_identity_free(id);
    sw_ctx_free(ctx);
}

static void to_json_says_compact_form(void **state)
{
    sw_ctx *ctx = tu_ctx();
    char *s = tu_fmt("%s..%s%s", SECSIPIDX_HDR_B64, SECSIPIDX_SIG_B64, STD_PARAMS);
    sw_identity *id = parse_ok(s);
    char *out = NULL;
    json_t *obj;

    assert_int_equal(sw_identity_to_json(ctx, id, &out), SW_OK);
    obj = json_loads(out, 0, NULL);
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "form")), "compact");
    json_decref(obj);
    sw_free(out);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_secsipidx_full_form),
        cmocka_unit_test(secsipidx_header_claims_are_readable),
        cmocka_unit_test(keeps_received_bytes_as_signing_input),
        cmocka_unit_test(keeps_received_payload_json),
        cmocka_unit_test(parses_compact_form),
        cmocka_unit_test(parses_jwt_without_params),
        cmocka_unit_test(parses_only_len_bytes),
        cmocka_unit_test(info_keeps_query_string),
        cmocka_unit_test(info_may_contain_semicolon_inside_brackets),
        cmocka_unit_test(ppt_may_be_quoted),
        cmocka_unit_test(keeps_unknown_params),
        cmocka_unit_test(params_keep_their_order),
        cmocka_unit_test(tolerates_whitespace_around_separators),
        cmocka_unit_test(tolerates_leading_and_trailing_whitespace),
        cmocka_unit_test(param_names_are_case_insensitive),
        cmocka_unit_test(refuses_empty),
        cmocka_unit_test(refuses_only_whitespace),
        cmocka_unit_test(refuses_two_segments),
        cmocka_unit_test(refuses_four_segments),
        cmocka_unit_test(refuses_bad_base64_in_header),
        cmocka_unit_test(refuses_padded_base64_in_signature),
        cmocka_unit_test(refuses_header_that_is_not_json),
        cmocka_unit_test(refuses_header_that_is_a_json_array),
        cmocka_unit_test(refuses_payload_that_is_a_json_array),
        cmocka_unit_test(refuses_payload_with_trailing_garbage),
        cmocka_unit_test(refuses_header_cut_in_the_middle),
        cmocka_unit_test(never_accepts_a_truncated_jwt),
        cmocka_unit_test(refuses_header_longer_than_max),
        cmocka_unit_test(accepts_header_of_exactly_max_length),
        cmocka_unit_test(refuses_info_without_angle_brackets),
        cmocka_unit_test(refuses_info_with_unclosed_bracket),
        cmocka_unit_test(refuses_empty_param_name),
        cmocka_unit_test(refuses_signature_of_63_bytes),
        cmocka_unit_test(refuses_empty_signature),
        cmocka_unit_test(accepts_sixteen_params),
        cmocka_unit_test(refuses_seventeen_params),
        cmocka_unit_test(null_value_is_identity_missing),
        cmocka_unit_test(refuses_duplicate_param),
        cmocka_unit_test(refuses_nul_byte),
        cmocka_unit_test(refuses_duplicate_json_keys),
        cmocka_unit_test(to_json_keeps_every_param),
        cmocka_unit_test(to_json_has_header_payload_params),
        cmocka_unit_test(to_json_says_compact_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
