/*
 * test_verstat_filter.c - the `verstat` filter (filters/verstat.c) on SIP text: a verdict is
 * set by hand (as verify would leave it), the request hook runs, the edits are spliced and
 * the result is compared byte for byte with the message expected: the parameter in each
 * URI form (tel, sip with user=phone, bare addr-spec, quoted display names, several
 * P-Asserted-Identity values, compact f:), a verstat from outside replaced or removed, and
 * nothing at all when verify only observed or did not judge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libconfig.h>

#include "../../src/core/filter.h"

extern const struct swf_filter swf_verstat;

#define PASSED "TN-Validation-Passed"
#define FAILED "TN-Validation-Failed"

/* An INVITE whose identity headers are `ids` (whole lines, CRLF each). */
#define MSG(ids)                                                                                   \
    "INVITE sip:+12025550199@pbx.example.com;user=phone SIP/2.0\r\n"                               \
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"                                 \
    "Max-Forwards: 70\r\n" ids "To: <sip:+12025550199@pbx.example.com;user=phone>\r\n"             \
    "Call-ID: a84b4c76e66710@carrier.example.net\r\n"                                              \
    "CSeq: 314159 INVITE\r\n"                                                                      \
    "Content-Length: 0\r\n"                                                                        \
    "\r\n"

/* --- helpers ----------------------------------------------------------------------------- */

/* A verstat state from the settings text of a trunk group ("" : no verstat group). */
static void *state_from(const char *trunk_text, char *err, size_t errlen, int *rc)
{
    config_t cfg;
    struct sw_cfg_errs errs;
    struct swf_conf fc;
    void *st = NULL;

    config_init(&cfg);
    if (config_read_string(&cfg, trunk_text) != CONFIG_TRUE)
        fail_msg("config text does not parse: %s", config_error_text(&cfg));
    sw_cfg_errs_init(&errs, "test.conf");
    memset(&fc, 0, sizeof(fc));
    fc.errs = &errs;
    fc.trunk = config_lookup(&cfg, "trunk");
    fc.trunk_name = "t";
    *rc = swf_configure(&swf_verstat, &fc, &st);
    sw_cfg_errs_flush(&errs, err, errlen);
    config_destroy(&cfg);
    return st;
}

static void *state_ok(const char *trunk_text)
{
    char err[512];
    int rc;
    void *st = state_from(trunk_text, err, sizeof(err), &rc);

    if (rc != 0)
        fail_msg("configure failed: %s", err);
    return st;
}

static uint64_t counters[SWF_MAX_COUNTERS];

/*
 * Runs the filter on text with the verdict given (verstat NULL: not judged) and checks the
 * spliced output against expect.
 */
static void check(void *state, const char *text, const char *verstat, int pass_only,
                  const char *expect)
{
    struct sip_msg m;
    struct sip_edits ed;
    struct swf_call call;
    char err[256], out[SIP_MAX_MSG];
    size_t n;

    if (sip_parse(&m, text, strlen(text), err, sizeof(err)) != 0)
        fail_msg("input does not parse: %s", err);
    sip_edits_init(&ed);
    memset(&call, 0, sizeof(call));
    call.msg = &m;
    call.edits = &ed;
    call.counters = counters;
    call.verdict.set = 1;
    call.verdict.verified = verstat != NULL;
    call.verdict.verstat = verstat;
    call.verdict.pass_only = pass_only;
    assert_int_equal(swf_verstat.request(state, &call), SWF_CONTINUE);
    n = sip_splice(text, strlen(text), &ed, out, sizeof(out) - 1);
    assert_true(n != (size_t)-1);
    out[n] = '\0';
    if (strcmp(out, expect) != 0)
        fail_msg("got:\n%s\nexpected:\n%s\nnote: %s", out, expect, call.note);
    /* what the PBX gets must still be a SIP message */
    if (sip_parse(&m, out, n, err, sizeof(err)) != 0)
        fail_msg("output does not parse: %s", err);
}

static void *default_state;

static int setup(void **unused)
{
    default_state = state_ok("trunk = { };");
    return 0;
}

static int teardown(void **unused)
{
    swf_verstat.free(default_state);
    return 0;
}

/* --- the URI forms ----------------------------------------------------------------------- */

static void tel_uri_gets_a_uri_parameter(void **unused)
{
    memset(counters, 0, sizeof(counters));
    check(default_state,
          MSG("P-Asserted-Identity: <tel:+12155551212>\r\n"
              "From: <tel:+12155551212>;tag=1928301774\r\n"),
          PASSED, 0,
          MSG("P-Asserted-Identity: <tel:+12155551212;verstat=TN-Validation-Passed>\r\n"
              "From: <tel:+12155551212;verstat=TN-Validation-Passed>;tag=1928301774\r\n"));
    assert_int_equal(counters[0], 1); /* passed: one request */
}

static void sip_uri_with_user_phone_gets_a_user_part_parameter(void **unused)
{
    check(default_state,
          MSG("From: \"Alice, \\\"the\\\" <boss>\" <sip:+12155551212@example.com;user=phone>"
              ";tag=77\r\n"),
          FAILED, 0,
          MSG("From: \"Alice, \\\"the\\\" <boss>\" "
              "<sip:+12155551212;verstat=TN-Validation-Failed@example.com;user=phone>;tag=77\r\n"));
}

static void sip_uri_with_password_and_user_params_keeps_them(void **unused)
{
    check(default_state,
          MSG("P-Asserted-Identity: <sips:+1-215-555-1212;isub=12:pw@[2001:db8::1]:5061;"
              "user=phone?X=y>\r\n"
              "From: <sip:anonymous@anonymous.invalid>;tag=9\r\n"),
          PASSED, 0,
          MSG("P-Asserted-Identity: <sips:+1-215-555-1212;isub=12;verstat=TN-Validation-Passed"
              ":pw@[2001:db8::1]:5061;user=phone?X=y>\r\n"
              "From: <sip:anonymous@anonymous.invalid>;tag=9\r\n"));
}

static void sip_uri_without_user_phone_is_not_a_number(void **unused)
{
    memset(counters, 0, sizeof(counters));
    check(default_state, MSG("From: <sip:+12155551212@example.com>;tag=1\r\n"), PASSED, 0,
          MSG("From: <sip:+12155551212@example.com>;tag=1\r\n"));
    assert_int_equal(counters[3], 1); /* no_tn */
    assert_int_equal(counters[0], 0);
}

static void display_name_token_without_quotes(void **unused)
{
    check(default_state, MSG("From: Alice Smith <tel:+12155551212;phone-context=x>;tag=1\r\n"),
          PASSED, 0,
          MSG("From: Alice Smith "
              "<tel:+12155551212;phone-context=x;verstat=TN-Validation-Passed>;tag=1\r\n"));
}

static void bare_uris_get_angle_brackets(void **unused)
{
    /* From: the bare URI ends at ';' (header parameters follow); PAI: at the value's end */
    check(default_state,
          MSG("P-Asserted-Identity: sip:+12155551212@example.com;user=phone\r\n"
              "From: tel:+12155551212;tag=abc\r\n"),
          PASSED, 0,
          MSG("P-Asserted-Identity: "
              "<sip:+12155551212;verstat=TN-Validation-Passed@example.com;user=phone>\r\n"
              "From: <tel:+12155551212;verstat=TN-Validation-Passed>;tag=abc\r\n"));
}

static void several_pai_values_and_headers_each_get_it_and_compact_from(void **unused)
{
    check(default_state,
          MSG("P-Asserted-Identity: \"Bob\" <sip:+12155551212@example.com;user=phone>, "
              "<tel:+12155551212>\r\n"
              "P-Asserted-Identity: <tel:+12155551313>\r\n"
              "f: <tel:+12155551212>;tag=x\r\n"),
          PASSED, 0,
          MSG("P-Asserted-Identity: \"Bob\" "
              "<sip:+12155551212;verstat=TN-Validation-Passed@example.com;user=phone>, "
              "<tel:+12155551212;verstat=TN-Validation-Passed>\r\n"
              "P-Asserted-Identity: <tel:+12155551313;verstat=TN-Validation-Passed>\r\n"
              "f: <tel:+12155551212;verstat=TN-Validation-Passed>;tag=x\r\n"));
}

/* --- verstat from outside ---------------------------------------------------------------- */

static void foreign_verstat_is_replaced_in_place(void **unused)
{
    memset(counters, 0, sizeof(counters));
    check(default_state,
          MSG("P-Asserted-Identity: <tel:+12155551212;VerStat=TN-Validation-Passed;x=1>\r\n"
              "From: <sip:+12155551212;verstat=TN-Validation-Passed@example.com;user=phone>"
              ";tag=1\r\n"),
          FAILED, 0,
          MSG("P-Asserted-Identity: <tel:+12155551212;verstat=TN-Validation-Failed;x=1>\r\n"
              "From: <sip:+12155551212;verstat=TN-Validation-Failed@example.com;user=phone>"
              ";tag=1\r\n"));
    assert_int_equal(counters[1], 1); /* failed */
    assert_int_equal(counters[4], 2); /* replaced_foreign: two URIs */
}

static void foreign_verstat_on_a_uri_without_number_is_removed(void **unused)
{
    memset(counters, 0, sizeof(counters));
    check(default_state,
          MSG("From: <sip:alice;verstat=TN-Validation-Passed@example.com>;tag=1\r\n"),
          "No-TN-Validation", 0, MSG("From: <sip:alice@example.com>;tag=1\r\n"));
    assert_int_equal(counters[5], 1); /* removed_foreign */
    assert_int_equal(counters[3], 1); /* no_tn */
}

static void pass_only_or_no_verdict_changes_nothing_not_even_foreign(void **unused)
{
    const char *text = MSG("P-Asserted-Identity: <tel:+12155551212;verstat=TN-Validation-Passed>"
                           "\r\nFrom: <tel:+12155551212>;tag=1\r\n");

    memset(counters, 0, sizeof(counters));
    check(default_state, text, FAILED, 1, text); /* verify's policy "pass" */
    check(default_state, text, NULL, 0, text);   /* no verify in the chain */
    assert_int_equal(counters[1] + counters[4] + counters[5], 0);
}

/* --- settings ---------------------------------------------------------------------------- */

static void headers_setting_limits_what_is_tagged(void **unused)
{
    void *pai_only = state_ok("trunk = { verstat = { headers = [ \"p-asserted-identity\" ]; }; };");
    void *from_only = state_ok("trunk = { verstat = { headers = [ \"From\" ]; }; };");
    const char *text = MSG("P-Asserted-Identity: <tel:+12155551212>\r\n"
                           "From: <tel:+12155551212;verstat=No-TN-Validation>;tag=1\r\n");

    /* an unlisted header is not ours: even its foreign verstat stays */
    check(pai_only, text, PASSED, 0,
          MSG("P-Asserted-Identity: <tel:+12155551212;verstat=TN-Validation-Passed>\r\n"
              "From: <tel:+12155551212;verstat=No-TN-Validation>;tag=1\r\n"));
    check(from_only, text, PASSED, 0,
          MSG("P-Asserted-Identity: <tel:+12155551212>\r\n"
              "From: <tel:+12155551212;verstat=TN-Validation-Passed>;tag=1\r\n"));
    swf_verstat.free(pai_only);
    swf_verstat.free(from_only);
}

static void bad_settings_are_reported(void **unused)
{
    char err[512];
    int rc;

    assert_null(
        state_from("trunk = { verstat = { headers = [ \"To\" ]; }; };", err, sizeof(err), &rc));
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "verstat.headers[0]"));
    assert_null(state_from("trunk = { verstat = { headers = [ ]; }; };", err, sizeof(err), &rc));
    assert_non_null(strstr(err, "empty"));
    assert_null(
        state_from("trunk = { verstat = { header = [ \"From\" ]; }; };", err, sizeof(err), &rc));
    assert_non_null(strstr(err, "did you mean"));
}

static void edits_that_do_not_fit_leave_the_request_untouched(void **unused)
{
    const char *text = MSG("P-Asserted-Identity: <tel:+12155551212>, <tel:+12155551213>\r\n"
                           "From: <tel:+12155551212>;tag=1\r\n");
    struct sip_msg m;
    struct sip_edits ed;
    struct swf_call call;
    char err[256];

    assert_int_equal(sip_parse(&m, text, strlen(text), err, sizeof(err)), 0);
    sip_edits_init(&ed);
    /* room for one more edit only: the second URI cannot be tagged */
    while (ed.n < SIP_MAX_EDITS - 1)
        assert_int_equal(sip_edit_insert(&ed, 0, "", 0), 0);
    memset(&call, 0, sizeof(call));
    memset(counters, 0, sizeof(counters));
    call.msg = &m;
    call.edits = &ed;
    call.counters = counters;
    call.verdict.verified = 1;
    call.verdict.verstat = PASSED;
    assert_int_equal(swf_verstat.request(default_state, &call), SWF_CONTINUE);
    assert_int_equal(ed.n, SIP_MAX_EDITS - 1);
    assert_int_equal(counters[6], 1); /* not_added */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tel_uri_gets_a_uri_parameter),
        cmocka_unit_test(sip_uri_with_user_phone_gets_a_user_part_parameter),
        cmocka_unit_test(sip_uri_with_password_and_user_params_keeps_them),
        cmocka_unit_test(sip_uri_without_user_phone_is_not_a_number),
        cmocka_unit_test(display_name_token_without_quotes),
        cmocka_unit_test(bare_uris_get_angle_brackets),
        cmocka_unit_test(several_pai_values_and_headers_each_get_it_and_compact_from),
        cmocka_unit_test(foreign_verstat_is_replaced_in_place),
        cmocka_unit_test(foreign_verstat_on_a_uri_without_number_is_removed),
        cmocka_unit_test(pass_only_or_no_verdict_changes_nothing_not_even_foreign),
        cmocka_unit_test(headers_setting_limits_what_is_tagged),
        cmocka_unit_test(bad_settings_are_reported),
        cmocka_unit_test(edits_that_do_not_fit_leave_the_request_untouched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
