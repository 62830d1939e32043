/*
 * test_tnauth.c - sw_tnauth_decode(), the reader of the TNAuthList extension value
 * (RFC 8226 section 9), on hand-written DER: the SPC of a SHAKEN certificate, an SPC after
 * range and one entries, and every way a hostile certificate can break the encoding.
 *
 * The bytes come from certificates anyone can make, so the rule tested here is: any input
 * gives SW_OK with a printable, NUL-terminated SPC that fits the buffer, or
 * SW_ERR_CERT_TNAUTH; never a crash or a read past the end. The last tests walk every
 * prefix and every one-byte change of the good value to check that rule exhaustively.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stirwire.h"

/* The value sp.pem of the test PKI carries: SEQUENCE { [0] IA5String "1234" }. */
static const unsigned char good[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4'};

/* range [1] { SEQUENCE { start "12025", count 10 } }, one [2] "12025550100", spc [0] "5678" */
#define RANGE_ENTRY 0xa1, 0x0c, 0x30, 0x0a, 0x16, 0x05, '1', '2', '0', '2', '5', 0x02, 0x01, 0x0a
#define ONE_ENTRY 0xa2, 0x0d, 0x16, 0x0b, '1', '2', '0', '2', '5', '5', '5', '0', '1', '0', '0'
static const unsigned char range_one_spc[] = {0x30, 0x25, RANGE_ENTRY, ONE_ENTRY, 0xa0, 0x06,
                                              0x16, 0x04, '5',         '6',       '7',  '8'};
static const unsigned char range_one_only[] = {0x30, 0x1d, RANGE_ENTRY, ONE_ENTRY};

/* Decodes into a 64-byte buffer pre-filled with 'X' so that a missing NUL shows. */
static sw_err decode(const unsigned char *der, size_t len, char spc[64])
{
    memset(spc, 'X', 64);
    return sw_tnauth_decode(der, len, spc, 64);
}

static void expect_refused(const unsigned char *der, size_t len)
{
    char spc[64];

    assert_int_equal(decode(der, len, spc), SW_ERR_CERT_TNAUTH);
}

/* Copies der into a buffer of exactly len bytes, so that ASan-like tools see overreads. */
static sw_err decode_exact(const unsigned char *der, size_t len, char *spc, size_t spc_size)
{
    unsigned char *copy = malloc(len ? len : 1);
    sw_err err;

    assert_non_null(copy);
    if (len)
        memcpy(copy, der, len);
    err = sw_tnauth_decode(copy, len, spc, spc_size);
    free(copy);
    return err;
}

/* --- what a SHAKEN certificate carries ------------------------------------------------ */

static void decode_reads_the_spc(void **state)
{
    char spc[64];

    assert_int_equal(decode(good, sizeof(good), spc), SW_OK);
    assert_string_equal(spc, "1234");
}

static void decode_skips_range_and_one_entries_before_the_spc(void **state)
{
    char spc[64];

    assert_int_equal(decode(range_one_spc, sizeof(range_one_spc), spc), SW_OK);
    assert_string_equal(spc, "5678");
}

static void decode_keeps_the_first_of_two_spcs(void **state)
{
    static const unsigned char two[] = {0x30, 0x10, 0xa0, 0x06, 0x16, 0x04, 'A', 'B', 'C',
                                        'D',  0xa0, 0x06, 0x16, 0x04, 'W',  'X', 'Y', 'Z'};
    char spc[64];

    assert_int_equal(decode(two, sizeof(two), spc), SW_OK);
    assert_string_equal(spc, "ABCD");
}

static void decode_accepts_a_minimal_long_form_length(void **state)
{
    /* 20 one entries (15 bytes each) and the SPC (8): 308 bytes of content, length
     * 82 01 34, the shortest encoding of 308, so valid DER. */
    unsigned char der[4 + 20 * 15 + 8];
    char spc[64];
    size_t n = 0, i;

    der[n++] = 0x30;
    der[n++] = 0x82;
    der[n++] = 0x01;
    der[n++] = 0x34;
    for (i = 0; i < 20; i++) {
        static const unsigned char one[] = {ONE_ENTRY};
        memcpy(der + n, one, sizeof(one));
        n += sizeof(one);
    }
    memcpy(der + n, (const unsigned char[]){0xa0, 0x06, 0x16, 0x04, '9', '8', '7', '6'}, 8);
    n += 8;
    assert_int_equal(n, sizeof(der));
    assert_int_equal(decode(der, n, spc), SW_OK);
    assert_string_equal(spc, "9876");
}

static void decode_fits_an_spc_exactly_into_the_buffer(void **state)
{
    char spc[5];

    assert_int_equal(sw_tnauth_decode(good, sizeof(good), spc, sizeof(spc)), SW_OK);
    assert_string_equal(spc, "1234");
}

/* --- no SPC --------------------------------------------------------------------------- */

static void decode_refuses_only_range_and_one_entries(void **state)
{
    expect_refused(range_one_only, sizeof(range_one_only));
}

static void decode_refuses_an_empty_sequence(void **state)
{
    static const unsigned char der[] = {0x30, 0x00};
    expect_refused(der, sizeof(der));
}

static void decode_refuses_an_empty_spc(void **state)
{
    static const unsigned char der[] = {0x30, 0x04, 0xa0, 0x02, 0x16, 0x00};
    expect_refused(der, sizeof(der));
}

static void decode_refuses_empty_input(void **state)
{
    char spc[64];

    assert_int_equal(sw_tnauth_decode(good, 0, spc, sizeof(spc)), SW_ERR_CERT_TNAUTH);
}

/* --- broken encodings ------------------------------------------------------------------ */

static void decode_refuses_every_truncation(void **state)
{
    char spc[64];
    size_t len;

    for (len = 0; len < sizeof(good); len++)
        assert_int_equal(decode_exact(good, len, spc, sizeof(spc)), SW_ERR_CERT_TNAUTH);
    for (len = 0; len < sizeof(range_one_spc); len++)
        assert_int_equal(decode_exact(range_one_spc, len, spc, sizeof(spc)), SW_ERR_CERT_TNAUTH);
}

static void decode_refuses_a_wrong_outer_tag(void **state)
{
    static const unsigned char set[] = {0x31, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4'};
    static const unsigned char octets[] = {0x04, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4'};
    static const unsigned char bare[] = {0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4'};

    expect_refused(set, sizeof(set));
    expect_refused(octets, sizeof(octets));
    expect_refused(bare, sizeof(bare));
}

static void decode_refuses_trailing_bytes(void **state)
{
    static const unsigned char der[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04,
                                        '1',  '2',  '3',  '4',  0x00};
    expect_refused(der, sizeof(der));
}

static void decode_refuses_trailing_bytes_inside_an_entry(void **state)
{
    /* [0] holds the IA5String and one byte more */
    static const unsigned char der[] = {0x30, 0x09, 0xa0, 0x07, 0x16, 0x04,
                                        '1',  '2',  '3',  '4',  0x00};
    expect_refused(der, sizeof(der));
}

static void decode_refuses_an_spc_with_a_control_character(void **state)
{
    static const unsigned char lf[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', '\n', '3', '4'};
    static const unsigned char nul[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', 0x00, '3', '4'};
    static const unsigned char del[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', 0x7f, '3', '4'};
    static const unsigned char high[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, '1', 0xc3, 0xa9, '4'};

    expect_refused(lf, sizeof(lf));
    expect_refused(nul, sizeof(nul));
    expect_refused(del, sizeof(del));
    expect_refused(high, sizeof(high));
}

static void decode_refuses_an_spc_longer_than_the_buffer(void **state)
{
    char spc[4];

    assert_int_equal(sw_tnauth_decode(good, sizeof(good), spc, sizeof(spc)), SW_ERR_CERT_TNAUTH);
    assert_int_equal(spc[0], '\0');
}

static void decode_refuses_an_spc_that_is_not_an_ia5string(void **state)
{
    static const unsigned char utf8[] = {0x30, 0x08, 0xa0, 0x06, 0x0c, 0x04, '1', '2', '3', '4'};
    static const unsigned char implicit[] = {0x30, 0x06, 0x80, 0x04, '1', '2', '3', '4'};

    expect_refused(utf8, sizeof(utf8));
    expect_refused(implicit, sizeof(implicit));
}

static void decode_refuses_lengths_past_the_end(void **state)
{
    static const unsigned char outer[] = {0x30, 0x09, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4'};
    static const unsigned char entry[] = {0x30, 0x08, 0xa0, 0x07, 0x16, 0x04, '1', '2', '3', '4'};
    static const unsigned char inner[] = {0x30, 0x08, 0xa0, 0x06, 0x16, 0x05, '1', '2', '3', '4'};
    static const unsigned char huge[] = {0x30, 0x7f, 0xa0, 0x06, 0x16, 0x04, '1', '2', '3', '4'};

    expect_refused(outer, sizeof(outer));
    expect_refused(entry, sizeof(entry));
    expect_refused(inner, sizeof(inner));
    expect_refused(huge, sizeof(huge));
}

static void decode_refuses_absurd_long_form_lengths(void **state)
{
    /* more length bytes than there is input, four and eight length bytes, lengths far
     * past the end (2^24 - 1, 2^32 - 1 when read as 32 bits) */
    static const unsigned char cut[] = {0x30, 0x83, 0x00};
    static const unsigned char four[] = {0x30, 0x84, 0x00, 0x00, 0x00, 0x08, 0xa0,
                                         0x06, 0x16, 0x04, '1',  '2',  '3',  '4'};
    static const unsigned char eight[] = {0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xa0, 0x06, 0x16, 0x04, '1',  '2'};
    static const unsigned char big[] = {0x30, 0x83, 0xff, 0xff, 0xff, 0xa0, 0x06,
                                        0x16, 0x04, '1',  '2',  '3',  '4'};
    static const unsigned char inner[] = {0x30, 0x0c, 0xa0, 0x0a, 0x16, 0x84, 0xff,
                                          0xff, 0xff, 0xff, '1',  '2',  '3',  '4'};
    static const unsigned char entry[] = {0x30, 0x0b, 0xa0, 0x83, 0xff, 0xff, 0xff,
                                          0x16, 0x04, '1',  '2',  '3',  '4'};

    expect_refused(cut, sizeof(cut));
    expect_refused(four, sizeof(four));
    expect_refused(eight, sizeof(eight));
    expect_refused(big, sizeof(big));
    expect_refused(inner, sizeof(inner));
    expect_refused(entry, sizeof(entry));
}

static void decode_refuses_non_minimal_long_form_lengths(void **state)
{
    /* DER (X.690 10.1) wants the shortest length encoding: 8 is 08, never 81 08 or
     * 82 00 08. A reader that takes both forms gives two encodings of one extension. */
    static const unsigned char outer81[] = {0x30, 0x81, 0x08, 0xa0, 0x06, 0x16,
                                            0x04, '1',  '2',  '3',  '4'};
    static const unsigned char outer82[] = {0x30, 0x82, 0x00, 0x08, 0xa0, 0x06,
                                            0x16, 0x04, '1',  '2',  '3',  '4'};
    static const unsigned char inner81[] = {0x30, 0x09, 0xa0, 0x07, 0x16, 0x81,
                                            0x04, '1',  '2',  '3',  '4'};

    expect_refused(outer81, sizeof(outer81));
    expect_refused(outer82, sizeof(outer82));
    expect_refused(inner81, sizeof(inner81));
}

static void decode_refuses_indefinite_length(void **state)
{
    static const unsigned char outer[] = {0x30, 0x80, 0xa0, 0x06, 0x16, 0x04,
                                          '1',  '2',  '3',  '4',  0x00, 0x00};
    static const unsigned char entry[] = {0x30, 0x0a, 0xa0, 0x80, 0x16, 0x04,
                                          '1',  '2',  '3',  '4',  0x00, 0x00};

    expect_refused(outer, sizeof(outer));
    expect_refused(entry, sizeof(entry));
}

static void decode_refuses_an_unknown_entry_tag(void **state)
{
    static const unsigned char a3[] = {0x30, 0x10, 0xa3, 0x06, 0x16, 0x04, '1', '2', '3',
                                       '4',  0xa0, 0x06, 0x16, 0x04, '5',  '6', '7', '8'};
    static const unsigned char a3_after[] = {0x30, 0x10, 0xa0, 0x06, 0x16, 0x04, '5', '6', '7',
                                             '8',  0xa3, 0x06, 0x16, 0x04, '1',  '2', '3', '4'};
    static const unsigned char bare[] = {0x30, 0x06, 0x16, 0x04, '1', '2', '3', '4'};
    static const unsigned char multibyte[] = {0x30, 0x09, 0xbf, 0x1f, 0x06, 0x16,
                                              0x04, '1',  '2',  '3',  '4'};

    expect_refused(a3, sizeof(a3));
    expect_refused(a3_after, sizeof(a3_after));
    expect_refused(bare, sizeof(bare));
    expect_refused(multibyte, sizeof(multibyte));
}

static void decode_refuses_missing_arguments(void **state)
{
    char spc[64];

    assert_int_equal(sw_tnauth_decode(NULL, 10, spc, sizeof(spc)), SW_ERR_INVAL);
    assert_int_equal(sw_tnauth_decode(good, sizeof(good), NULL, 64), SW_ERR_INVAL);
    assert_int_equal(sw_tnauth_decode(good, sizeof(good), spc, 0), SW_ERR_INVAL);
}

/* --- exhaustive: every outcome is OK with a clean SPC, or CERT_TNAUTH -------------------- */

static void check_outcome(sw_err err, const char *spc, size_t spc_size)
{
    size_t i, n;

    if (err != SW_OK) {
        assert_int_equal(err, SW_ERR_CERT_TNAUTH);
        return;
    }
    n = strnlen(spc, spc_size);
    assert_true(n > 0 && n < spc_size);
    for (i = 0; i < n; i++)
        assert_true(spc[i] >= 0x20 && spc[i] <= 0x7e);
}

static void decode_survives_every_one_byte_change(void **state)
{
    const unsigned char *inputs[] = {good, range_one_spc};
    const size_t sizes[] = {sizeof(good), sizeof(range_one_spc)};
    unsigned char buf[sizeof(range_one_spc)];
    char spc[8];
    size_t k, i;
    unsigned v;

    for (k = 0; k < 2; k++) {
        for (i = 0; i < sizes[k]; i++) {
            for (v = 0; v < 256; v++) {
                memcpy(buf, inputs[k], sizes[k]);
                buf[i] = (unsigned char)v;
                memset(spc, 'X', sizeof(spc));
                check_outcome(decode_exact(buf, sizes[k], spc, sizeof(spc)), spc, sizeof(spc));
            }
        }
    }
}

static void decode_survives_every_prefix_and_buffer_size(void **state)
{
    char spc[8];
    size_t len, size;

    for (len = 0; len <= sizeof(range_one_spc); len++) {
        for (size = 1; size <= sizeof(spc); size++) {
            memset(spc, 'X', sizeof(spc));
            check_outcome(decode_exact(range_one_spc, len, spc, size), spc, size);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_reads_the_spc),
        cmocka_unit_test(decode_skips_range_and_one_entries_before_the_spc),
        cmocka_unit_test(decode_keeps_the_first_of_two_spcs),
        cmocka_unit_test(decode_accepts_a_minimal_long_form_length),
        cmocka_unit_test(decode_fits_an_spc_exactly_into_the_buffer),
        cmocka_unit_test(decode_refuses_only_range_and_one_entries),
        cmocka_unit_test(decode_refuses_an_empty_sequence),
        cmocka_unit_test(decode_refuses_an_empty_spc),
        cmocka_unit_test(decode_refuses_empty_input),
        cmocka_unit_test(decode_refuses_every_truncation),
        cmocka_unit_test(decode_refuses_a_wrong_outer_tag),
        cmocka_unit_test(decode_refuses_trailing_bytes),
        cmocka_unit_test(decode_refuses_trailing_bytes_inside_an_entry),
        cmocka_unit_test(decode_refuses_an_spc_with_a_control_character),
        cmocka_unit_test(decode_refuses_an_spc_longer_than_the_buffer),
        cmocka_unit_test(decode_refuses_an_spc_that_is_not_an_ia5string),
        cmocka_unit_test(decode_refuses_lengths_past_the_end),
        cmocka_unit_test(decode_refuses_absurd_long_form_lengths),
        cmocka_unit_test(decode_refuses_non_minimal_long_form_lengths),
        cmocka_unit_test(decode_refuses_indefinite_length),
        cmocka_unit_test(decode_refuses_an_unknown_entry_tag),
        cmocka_unit_test(decode_refuses_missing_arguments),
        cmocka_unit_test(decode_survives_every_one_byte_change),
        cmocka_unit_test(decode_survives_every_prefix_and_buffer_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
