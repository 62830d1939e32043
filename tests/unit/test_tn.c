/*
 * test_tn.c - telephone number canonicalisation (RFC 8224 section 8.3): bare numbers with
 * visual separators, tel:, sip: and sips: URIs, and the inputs that must be refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stirwire.h"

static void canon_is(const char *in, const char *want)
{
    char out[SW_TN_MAX];
    memset(out, 'x', sizeof out);
    assert_int_equal(sw_tn_canon(in, out, sizeof out), SW_OK);
    assert_string_equal(out, want);
}

static void canon_refuses(const char *in)
{
    char out[SW_TN_MAX];
    assert_int_equal(sw_tn_canon(in, out, sizeof out), SW_ERR_TN_INVALID);
}

static void canon_keeps_plain_digits(void **state)
{
    canon_is("12025550100", "12025550100");
}

static void canon_drops_plus_spaces_and_parentheses(void **state)
{
    canon_is("+1 (202) 555-0100", "12025550100");
}

static void canon_drops_dots(void **state)
{
    canon_is("1.202.555.0100", "12025550100");
}

static void canon_reads_tel_uri(void **state)
{
    canon_is("tel:+1-202-555-0100", "12025550100");
}

static void canon_reads_sip_uri_with_user_phone(void **state)
{
    canon_is("sip:+12025550100@example.com;user=phone", "12025550100");
}

static void canon_reads_sip_uri_without_params(void **state)
{
    canon_is("sip:+12025550100@example.com", "12025550100");
}

static void canon_reads_sips_uri(void **state)
{
    canon_is("sips:+1-202-555-0100@example.com;user=phone", "12025550100");
}

static void canon_accepts_32_digits(void **state)
{
    canon_is("12345678901234567890123456789012", "12345678901234567890123456789012");
}

static void canon_accepts_single_digit(void **state)
{
    canon_is("7", "7");
}

static void canon_keeps_star_and_hash(void **state)
{
    canon_is("*67 (202) 555-0100#", "*672025550100#");
}

static void canon_refuses_empty(void **state)
{
    canon_refuses("");
}

static void canon_refuses_only_separators(void **state)
{
    canon_refuses("+ (-) .");
}

static void canon_refuses_letters(void **state)
{
    canon_refuses("1202555CALL");
}

static void canon_refuses_33_digits(void **state)
{
    canon_refuses("123456789012345678901234567890123");
}

static void canon_refuses_sip_uri_with_alphabetic_user(void **state)
{
    canon_refuses("sip:alice@example.com");
}

static void canon_refuses_empty_tel_uri(void **state)
{
    canon_refuses("tel:");
}

static void canon_refuses_null_input(void **state)
{
    char out[SW_TN_MAX];
    assert_int_equal(sw_tn_canon(NULL, out, sizeof out), SW_ERR_INVAL);
}

static void canon_refuses_buffer_too_small(void **state)
{
    char out[11]; /* 11 digits need 12 bytes */
    assert_int_equal(sw_tn_canon("12025550100", out, sizeof out), SW_ERR_INVAL);
}

static void canon_fits_exact_buffer(void **state)
{
    char out[12];
    assert_int_equal(sw_tn_canon("+1-202-555-0100", out, sizeof out), SW_OK);
    assert_string_equal(out, "12025550100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(canon_keeps_plain_digits),
        cmocka_unit_test(canon_drops_plus_spaces_and_parentheses),
        cmocka_unit_test(canon_drops_dots),
        cmocka_unit_test(canon_reads_tel_uri),
        cmocka_unit_test(canon_reads_sip_uri_with_user_phone),
        cmocka_unit_test(canon_reads_sip_uri_without_params),
        cmocka_unit_test(canon_reads_sips_uri),
        cmocka_unit_test(canon_accepts_32_digits),
        cmocka_unit_test(canon_accepts_single_digit),
        cmocka_unit_test(canon_keeps_star_and_hash),
        cmocka_unit_test(canon_refuses_empty),
        cmocka_unit_test(canon_refuses_only_separators),
        cmocka_unit_test(canon_refuses_letters),
        cmocka_unit_test(canon_refuses_33_digits),
        cmocka_unit_test(canon_refuses_sip_uri_with_alphabetic_user),
        cmocka_unit_test(canon_refuses_empty_tel_uri),
        cmocka_unit_test(canon_refuses_null_input),
        cmocka_unit_test(canon_refuses_buffer_too_small),
        cmocka_unit_test(canon_fits_exact_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
