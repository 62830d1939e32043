/*
 * test_fields.c - the request values signing and verifying both read (src/sip/fields.c):
 * calling and called numbers in canonical form, the Date header both ways, the
 * Request-URI host, the first value of a comma list, and rolling edits back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/sip/fields.h"
#include "../../src/sip/splice.h"

static struct sip_msg m;

static void parse(const char *text)
{
    char err[128];

    if (sip_parse(&m, text, strlen(text), err, sizeof(err)) != 0)
        fail_msg("does not parse: %s", err);
}

#define REQ(ruri, from, to, extra)                                                                 \
    "INVITE " ruri " SIP/2.0\r\n"                                                                  \
    "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n"                                               \
    "From: " from ";tag=1\r\n"                                                                     \
    "To: " to "\r\n"                                                                               \
    "Call-ID: 1@x\r\n"                                                                             \
    "CSeq: 1 INVITE\r\n" extra "Content-Length: 0\r\n"                                             \
    "\r\n"

static void orig_prefers_a_pai_with_a_number_then_from(void **unused)
{
    char out[40];

    parse(REQ("sip:+1-202-555-0199@x", "<sip:+1 (202) 555.0100@x>", "<tel:+12025550199>",
              "P-Asserted-Identity: <sip:alice@x>\r\n"
              "P-Asserted-Identity: <tel:+1-303-555-0100>\r\n"));
    assert_int_equal(sip_orig_number(&m, out, sizeof(out)), 0);
    assert_string_equal(out, "13035550100");
    parse(REQ("sip:x", "<sip:+12025550100@x;user=phone>", "<sip:x@y>", ""));
    assert_int_equal(sip_orig_number(&m, out, sizeof(out)), 0);
    assert_string_equal(out, "12025550100");
    parse(REQ("sip:x", "\"Anonymous\" <sip:anonymous@anonymous.invalid>", "<sip:x@y>", ""));
    assert_int_equal(sip_orig_number(&m, out, sizeof(out)), -1);
}

static void dest_comes_from_to_or_the_request_uri(void **unused)
{
    char out[40];

    parse(REQ("sip:+1-202-555-0199@x;user=phone", "<sip:1@x>", "<tel:+1-404-555-0100>", ""));
    assert_int_equal(sip_dest_number(&m, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "14045550100");
    assert_int_equal(sip_dest_number(&m, 1, out, sizeof(out)), 0);
    assert_string_equal(out, "12025550199");
}

static void dates_round_trip_and_bad_ones_are_refused(void **unused)
{
    char out[40];

    sip_date_format(1700000000, out, sizeof(out));
    assert_string_equal(out, "Tue, 14 Nov 2023 22:13:20 GMT");
    parse(REQ("sip:x", "<sip:1@x>", "<sip:2@x>", "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"));
    assert_int_equal(sip_date_parse(&m, sip_hdr_find(&m, SH_DATE, 0)), 1700000000);
    parse(REQ("sip:x", "<sip:1@x>", "<sip:2@x>", "Date: Tue, 14 Nov 2023 22:13:20 PST\r\n"));
    assert_int_equal(sip_date_parse(&m, sip_hdr_find(&m, SH_DATE, 0)), -1);
    parse(REQ("sip:x", "<sip:1@x>", "<sip:2@x>", "Date: yesterday\r\n"));
    assert_int_equal(sip_date_parse(&m, sip_hdr_find(&m, SH_DATE, 0)), -1);
    assert_int_equal(sip_date_parse(&m, NULL), -1);
}

static void the_request_uri_host_is_read_with_libosip2(void **unused)
{
    char out[64];

    parse(REQ("sip:12025550199@PBX.example.com:5070;user=phone", "<sip:1@x>", "<sip:2@x>", ""));
    assert_string_equal(sip_ruri_host(&m, out, sizeof(out)), "PBX.example.com");
    parse(REQ("sips:[2001:db8::1]:5061", "<sip:1@x>", "<sip:2@x>", ""));
    assert_string_equal(sip_ruri_host(&m, out, sizeof(out)), "2001:db8::1");
    parse(REQ("tel:+12025550199", "<sip:1@x>", "<sip:2@x>", ""));
    assert_null(sip_ruri_host(&m, out, sizeof(out)));
    parse(REQ("sip:1@averyveryverylonghostname.example.com", "<sip:1@x>", "<sip:2@x>", ""));
    assert_null(sip_ruri_host(&m, out, 8)); /* does not fit: none rather than a cut name */
}

static void the_first_list_value_skips_commas_in_quotes_brackets_and_uris(void **unused)
{
    const char *v = "\"a, \\\"b\" <sip:x@y;p=1,2>;q=1 , <sip:z@w>";
    size_t comma, n = sip_first_value(v, strlen(v), 1, &comma);

    assert_int_equal(n, strlen("\"a, \\\"b\" <sip:x@y;p=1,2>;q=1"));
    assert_int_equal(v[comma], ',');
    /* without angle, a comma inside <> ends the value (Via has no <>) */
    n = sip_first_value(v, strlen(v), 0, &comma);
    assert_int_equal(comma, strlen("\"a, \\\"b\" <sip:x@y;p=1"));
    v = "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1";
    n = sip_first_value(v, strlen(v), 0, &comma);
    assert_int_equal(n, strlen(v));
    assert_int_equal(comma, strlen(v));
}

static void a_rollback_undoes_every_edit_after_the_mark(void **unused)
{
    static struct sip_edits ed;
    struct sip_edits_mark mk;
    char out[64];
    const char *in = "abcdef";

    sip_edits_init(&ed);
    assert_int_equal(sip_edit_insert(&ed, 1, "X", 1), 0);
    mk = sip_edits_mark(&ed);
    assert_int_equal(sip_edit_insert(&ed, 3, "YY", 2), 0);
    assert_int_equal(sip_edit_delete(&ed, 4, 1), 0);
    sip_edits_rollback(&ed, mk);
    assert_int_equal(sip_splice(in, 6, &ed, out, sizeof(out)), 7);
    assert_memory_equal(out, "aXbcdef", 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orig_prefers_a_pai_with_a_number_then_from),
        cmocka_unit_test(dest_comes_from_to_or_the_request_uri),
        cmocka_unit_test(dates_round_trip_and_bad_ones_are_refused),
        cmocka_unit_test(the_request_uri_host_is_read_with_libosip2),
        cmocka_unit_test(the_first_list_value_skips_commas_in_quotes_brackets_and_uris),
        cmocka_unit_test(a_rollback_undoes_every_edit_after_the_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
