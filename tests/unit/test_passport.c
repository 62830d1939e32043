/*
 * test_passport.c - building a PASSporT: setters and getters, RFC 8225 section 9 canonical
 * JSON of header and payload, refusal of bad attest and numbers, and UUIDv4 origids.
 */
#include "testutil.h"

static void is_uuid_v4(const char *s)
{
    assert_non_null(s);
    assert_int_equal(strlen(s), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(s[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", s[i]));
    }
    assert_int_equal(s[14], '4');           /* version */
    assert_non_null(strchr("89ab", s[19])); /* RFC 4122 variant */
}

static void new_passport_has_shaken_header(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_string_equal(sw_passport_alg(pp), "ES256");
    assert_string_equal(sw_passport_typ(pp), "passport");
    assert_string_equal(sw_passport_ppt(pp), "shaken");
    assert_null(sw_passport_x5u(pp));
    sw_passport_free(pp);
}

static void new_passport_has_no_claims(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_attest(pp), '\0');
    assert_null(sw_passport_orig_tn(pp));
    assert_int_equal(sw_passport_dest_tn_count(pp), 0);
    assert_null(sw_passport_dest_tn(pp, 0));
    assert_int_equal(sw_passport_iat(pp), 0);
    assert_null(sw_passport_origid(pp));
    sw_passport_free(pp);
}

static void payload_json_is_canonical(void **state)
{
    sw_passport *pp = tu_passport(1700000000);
    assert_string_equal(sw_passport_payload_json(pp),
                        "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12025550199\"]},\"iat\":1700000000,"
                        "\"orig\":{\"tn\":\"12025550100\"},\"origid\":\"" TU_ORIGID "\"}");
    sw_passport_free(pp);
}

static void header_json_is_canonical(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_set_x5u(pp, "https://cert.example.org/sp.pem"), SW_OK);
    assert_string_equal(sw_passport_header_json(pp),
                        "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\","
                        "\"x5u\":\"https://cert.example.org/sp.pem\"}");
    sw_passport_free(pp);
}

static void payload_json_follows_changes(void **state)
{
    sw_passport *pp = tu_passport(1700000000);
    assert_non_null(strstr(sw_passport_payload_json(pp), "\"iat\":1700000000"));
    assert_int_equal(sw_passport_set_iat(pp, 1700000123), SW_OK);
    assert_non_null(strstr(sw_passport_payload_json(pp), "\"iat\":1700000123"));
    assert_int_equal(sw_passport_set_attest(pp, 'C'), SW_OK);
    assert_non_null(strstr(sw_passport_payload_json(pp), "\"attest\":\"C\""));
    sw_passport_free(pp);
}

static void header_json_follows_x5u_change(void **state)
{
    sw_passport *pp = tu_passport(1700000000);
    assert_non_null(strstr(sw_passport_header_json(pp), TU_X5U));
    assert_int_equal(sw_passport_set_x5u(pp, "https://other.example/b.pem"), SW_OK);
    assert_non_null(strstr(sw_passport_header_json(pp), "https://other.example/b.pem"));
    assert_null(strstr(sw_passport_header_json(pp), TU_X5U));
    sw_passport_free(pp);
}

static void getters_return_what_was_set(void **state)
{
    sw_passport *pp = tu_passport(1700000000);
    assert_int_equal(sw_passport_attest(pp), 'A');
    assert_string_equal(sw_passport_orig_tn(pp), TU_ORIG);
    assert_int_equal(sw_passport_dest_tn_count(pp), 1);
    assert_string_equal(sw_passport_dest_tn(pp, 0), TU_DEST);
    assert_null(sw_passport_dest_tn(pp, 1));
    assert_int_equal(sw_passport_iat(pp), 1700000000);
    assert_string_equal(sw_passport_origid(pp), TU_ORIGID);
    assert_string_equal(sw_passport_x5u(pp), TU_X5U);
    sw_passport_free(pp);
}

static void setters_copy_their_strings(void **state)
{
    sw_passport *pp = sw_passport_new();
    char origid[] = "abc", url[] = "https://a.example/x.pem";
    assert_int_equal(sw_passport_set_origid(pp, origid), SW_OK);
    assert_int_equal(sw_passport_set_x5u(pp, url), SW_OK);
    origid[0] = 'X';
    url[0] = 'X';
    assert_string_equal(sw_passport_origid(pp), "abc");
    assert_string_equal(sw_passport_x5u(pp), "https://a.example/x.pem");
    sw_passport_free(pp);
}

static void numbers_are_stored_canonical(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_set_orig_tn(pp, "+1 (202) 555-0100"), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, "tel:+1-202-555-0199"), SW_OK);
    assert_string_equal(sw_passport_orig_tn(pp), "12025550100");
    assert_string_equal(sw_passport_dest_tn(pp, 0), "12025550199");
    sw_passport_free(pp);
}

static void dest_numbers_keep_their_order(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_add_dest_tn(pp, "12025550199"), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, "12025550198"), SW_OK);
    assert_int_equal(sw_passport_dest_tn_count(pp), 2);
    assert_string_equal(sw_passport_dest_tn(pp, 0), "12025550199");
    assert_string_equal(sw_passport_dest_tn(pp, 1), "12025550198");
    assert_non_null(strstr(sw_passport_payload_json(pp),
                           "\"dest\":{\"tn\":[\"12025550199\",\"12025550198\"]}"));
    sw_passport_free(pp);
}

static void set_orig_tn_refuses_letters(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_set_orig_tn(pp, "alice"), SW_ERR_TN_INVALID);
    assert_null(sw_passport_orig_tn(pp));
    sw_passport_free(pp);
}

static void add_dest_tn_refuses_empty(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_add_dest_tn(pp, ""), SW_ERR_TN_INVALID);
    assert_int_equal(sw_passport_dest_tn_count(pp), 0);
    sw_passport_free(pp);
}

static void set_attest_accepts_a_b_c(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_set_attest(pp, 'A'), SW_OK);
    assert_int_equal(sw_passport_set_attest(pp, 'B'), SW_OK);
    assert_int_equal(sw_passport_set_attest(pp, 'C'), SW_OK);
    assert_int_equal(sw_passport_attest(pp), 'C');
    sw_passport_free(pp);
}

static void set_attest_refuses_d(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_set_attest(pp, 'B'), SW_OK);
    assert_int_equal(sw_passport_set_attest(pp, 'D'), SW_ERR_ATTEST);
    assert_int_equal(sw_passport_attest(pp), 'B');
    sw_passport_free(pp);
}

static void set_attest_refuses_lower_case(void **state)
{
    sw_passport *pp = sw_passport_new();
    assert_int_equal(sw_passport_set_attest(pp, 'a'), SW_ERR_ATTEST);
    sw_passport_free(pp);
}

static void uuid_v4_has_version_and_variant(void **state)
{
    for (int i = 0; i < 64; i++) {
        char uuid[37];
        memset(uuid, 'x', sizeof uuid);
        assert_int_equal(sw_uuid_v4(uuid), SW_OK);
        is_uuid_v4(uuid);
    }
}

static void uuid_v4_differs_each_call(void **state)
{
    char a[37], b[37];
    assert_int_equal(sw_uuid_v4(a), SW_OK);
    assert_int_equal(sw_uuid_v4(b), SW_OK);
    assert_string_not_equal(a, b);
}

/* The payload of a signed full-form header, decoded (free). */
static char *signed_payload(const char *hdr)
{
    const char *p = strchr(hdr, '.') + 1;
    return tu_unb64(p, strcspn(p, "."), NULL);
}

static void sign_fills_missing_origid_with_uuid_v4(void **state)
{
    sw_key *key = tu_key();
    sw_passport *pp = tu_passport(TU_NOW);
    char *hdr, *payload;
    json_t *obj;

    assert_int_equal(sw_passport_set_origid(pp, NULL), SW_OK);
    hdr = tu_sign_pp(key, pp, TU_NOW, 0);
    payload = signed_payload(hdr);
    obj = json_loads(payload, 0, NULL);
    assert_non_null(obj);
    is_uuid_v4(json_string_value(json_object_get(obj, "origid")));
    json_decref(obj);
    free(payload);
    sw_free(hdr);
    sw_passport_free(pp);
    sw_key_free(key);
}

static void sign_uses_context_clock_when_iat_unset(void **state)
{
    sw_key *key = tu_key();
    sw_passport *pp = sw_passport_new();
    char *hdr, *payload;

    assert_int_equal(sw_passport_set_attest(pp, 'B'), SW_OK);
    assert_int_equal(sw_passport_set_orig_tn(pp, TU_ORIG), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, TU_DEST), SW_OK);
    assert_int_equal(sw_passport_set_x5u(pp, TU_X5U), SW_OK);
    hdr = tu_sign_pp(key, pp, 1712345678, 0);
    payload = signed_payload(hdr);
    assert_non_null(strstr(payload, "\"iat\":1712345678"));
    free(payload);
    sw_free(hdr);
    sw_passport_free(pp);
    sw_key_free(key);
}

static void sign_writes_full_form_with_params(void **state)
{
    sw_key *key = tu_key();
    char *hdr = tu_sign(key, TU_NOW);
    const char *semi = strchr(hdr, ';');
    char *header;

    assert_non_null(semi);
    assert_string_equal(semi, TU_PARAMS);
    header = tu_unb64(hdr, strcspn(hdr, "."), NULL);
    assert_string_equal(header, TU_HEADER_JSON);
    free(header);
    sw_free(hdr);
    sw_key_free(key);
}

static void sign_compact_leaves_payload_empty(void **state)
{
    sw_key *key = tu_key();
    sw_passport *pp = tu_passport(TU_NOW);
    char *hdr = tu_sign_pp(key, pp, TU_NOW, SW_SIGN_COMPACT);
    const char *dot = strchr(hdr, '.');
    assert_non_null(dot);
    assert_int_equal(dot[1], '.');
    assert_non_null(strstr(hdr, TU_PARAMS));
    sw_free(hdr);
    sw_passport_free(pp);
    sw_key_free(key);
}

static void sign_refuses_passport_without_orig(void **state)
{
    sw_ctx *ctx = tu_ctx();
    sw_key *key = tu_key();
    sw_passport *pp = sw_passport_new();
    char *out = NULL;

    assert_int_equal(sw_passport_set_attest(pp, 'A'), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, TU_DEST), SW_OK);
    assert_int_equal(sw_passport_set_x5u(pp, TU_X5U), SW_OK);
    assert_int_equal(sw_sign(ctx, key, pp, 0, &out), SW_ERR_ORIG_MISSING);
    assert_null(out);
    assert_true(sw_errmsg(ctx)[0] != '\0');
    sw_passport_free(pp);
    sw_key_free(key);
    sw_ctx_free(ctx);
}

static void sign_refuses_passport_without_x5u(void **state)
{
    sw_ctx *ctx = tu_ctx();
    sw_key *key = tu_key();
    sw_passport *pp = sw_passport_new();
    char *out = NULL;

    assert_int_equal(sw_passport_set_attest(pp, 'A'), SW_OK);
    assert_int_equal(sw_passport_set_orig_tn(pp, TU_ORIG), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, TU_DEST), SW_OK);
    assert_int_equal(sw_sign(ctx, key, pp, 0, &out), SW_ERR_INFO_MISSING);
    assert_null(out);
    sw_passport_free(pp);
    sw_key_free(key);
    sw_ctx_free(ctx);
}

static void json_canon_sorts_keys_without_spaces(void **state)
{
    json_t *obj = json_loads("{ \"b\" : 1, \"a\" : { \"d\" : [1, 2], \"c\" : \"x\" } }", 0, NULL);
    char *s = swi_json_canon(obj);
    assert_string_equal(s, "{\"a\":{\"c\":\"x\",\"d\":[1,2]},\"b\":1}");
    free(s);
    json_decref(obj);
}

static void passport_from_json_reads_claims(void **state)
{
    /* The passport takes over the caller's references: no json_decref() afterwards. */
    json_t *h = json_loads(TU_HEADER_JSON, 0, NULL);
    json_t *p = json_loads("{\"attest\":\"B\",\"dest\":{\"tn\":[\"1\",\"2\"]},\"iat\":5,"
                           "\"orig\":{\"tn\":\"3\"},\"origid\":\"o\",\"foo\":1}",
                           0, NULL);
    sw_passport *pp = swi_passport_from_json(h, p);
    assert_non_null(pp);
    assert_int_equal(sw_passport_attest(pp), 'B');
    assert_string_equal(sw_passport_orig_tn(pp), "3");
    assert_int_equal(sw_passport_dest_tn_count(pp), 2);
    assert_string_equal(sw_passport_dest_tn(pp, 1), "2");
    assert_int_equal(sw_passport_iat(pp), 5);
    assert_string_equal(sw_passport_origid(pp), "o");
    assert_string_equal(sw_passport_x5u(pp), TU_X5U);
    assert_non_null(strstr(sw_passport_payload_json(pp), "\"foo\":1"));
    sw_passport_free(pp);
}

static void x5u_check_refuses_what_would_break_the_header(void **unused)
{
    assert_int_equal(sw_x5u_check("https://cert.example.org/sp.pem"), SW_OK);
    assert_int_equal(sw_x5u_check("http://10.0.0.1:8080/a?b=c"), SW_OK); /* policy elsewhere */
    assert_int_equal(sw_x5u_check(NULL), SW_ERR_INFO_MISSING);
    assert_int_equal(sw_x5u_check(""), SW_ERR_INFO_MISSING);
    assert_int_equal(sw_x5u_check("https://a.example/x>;info=<https://evil"), SW_ERR_INVAL);
    assert_int_equal(sw_x5u_check("https://a.example/a b"), SW_ERR_INVAL);
    assert_int_equal(sw_x5u_check("https://a.example/\"q"), SW_ERR_INVAL);
    assert_int_equal(sw_x5u_check("https://a.example/x\r\nVia: evil"), SW_ERR_INVAL);
    assert_int_equal(sw_x5u_check("https://a.example/\xc3\xa9"), SW_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_passport_has_shaken_header),
        cmocka_unit_test(new_passport_has_no_claims),
        cmocka_unit_test(payload_json_is_canonical),
        cmocka_unit_test(header_json_is_canonical),
        cmocka_unit_test(payload_json_follows_changes),
        cmocka_unit_test(header_json_follows_x5u_change),
        cmocka_unit_test(getters_return_what_was_set),
        cmocka_unit_test(setters_copy_their_strings),
        cmocka_unit_test(numbers_are_stored_canonical),
        cmocka_unit_test(dest_numbers_keep_their_order),
        cmocka_unit_test(set_orig_tn_refuses_letters),
        cmocka_unit_test(add_dest_tn_refuses_empty),
        cmocka_unit_test(set_attest_accepts_a_b_c),
        cmocka_unit_test(set_attest_refuses_d),
        cmocka_unit_test(set_attest_refuses_lower_case),
        cmocka_unit_test(uuid_v4_has_version_and_variant),
        cmocka_unit_test(uuid_v4_differs_each_call),
        cmocka_unit_test(sign_fills_missing_origid_with_uuid_v4),
        cmocka_unit_test(sign_uses_context_clock_when_iat_unset),
        cmocka_unit_test(sign_writes_full_form_with_params),
        cmocka_unit_test(sign_compact_leaves_payload_empty),
        cmocka_unit_test(sign_refuses_passport_without_orig),
        cmocka_unit_test(sign_refuses_passport_without_x5u),
        cmocka_unit_test(x5u_check_refuses_what_would_break_the_header),
        cmocka_unit_test(json_canon_sorts_keys_without_spaces),
        cmocka_unit_test(passport_from_json_reads_claims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
