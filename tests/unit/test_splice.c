/*
 * test_splice.c - editing a received message by splicing (src/sip/splice.c): the edits a
 * proxy makes (our Via before the first Via, a new Max-Forwards value, an Identity line
 * removed or added at the end of the headers), each compared byte for byte with the
 * expected message, and the refusals (overlaps, ranges outside the buffer, full arena or
 * edit list, an output buffer too small).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/sip/sipmsg.h"
#include "../../src/sip/splice.h"

static const char IN[] = "INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
                         "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
                         "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
                         "To: <sip:+12025550199@192.0.2.10>\r\n"
                         "Call-ID: 1@192.0.2.1\r\n"
                         "CSeq: 1 INVITE\r\n"
                         "Max-Forwards: 70\r\n"
                         "Identity: old.token.sig;info=<https://x.example/c.pem>\r\n"
                         "Content-Length: 4\r\n"
                         "\r\n"
                         "body";

static const char OUR_VIA[] = "Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKours\r\n";

static struct sip_msg msg;
static struct sip_edits ed;
static char out[SIP_MAX_MSG];

static int setup(void **state)
{
    char err[128];

    assert_int_equal(sip_parse(&msg, IN, strlen(IN), err, sizeof err), 0);
    sip_edits_init(&ed);
    return 0;
}

static void spliced_is(const char *want)
{
    size_t n = sip_splice(IN, strlen(IN), &ed, out, sizeof out);

    assert_int_not_equal(n, (size_t)-1);
    out[n] = '\0';
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void no_edits_copies_the_message(void **state)
{
    spliced_is(IN);
}

static void insert_via_before_first_via(void **state)
{
    const struct sip_hdr *via = sip_hdr_find(&msg, SH_VIA, 0);

    assert_int_equal(sip_edit_insert(&ed, via->line_off, OUR_VIA, strlen(OUR_VIA)), 0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKours\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 70\r\n"
               "Identity: old.token.sig;info=<https://x.example/c.pem>\r\n"
               "Content-Length: 4\r\n"
               "\r\n"
               "body");
}

static void replace_max_forwards_value(void **state)
{
    const struct sip_hdr *mf = sip_hdr_find(&msg, SH_MAX_FORWARDS, 0);

    assert_int_equal(sip_edit_replace(&ed, mf->value_off, mf->value_len, "69", 2), 0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 69\r\n"
               "Identity: old.token.sig;info=<https://x.example/c.pem>\r\n"
               "Content-Length: 4\r\n"
               "\r\n"
               "body");
}

static void delete_identity_line(void **state)
{
    const struct sip_hdr *id = sip_hdr_find(&msg, SH_IDENTITY, 0);

    assert_int_equal(sip_edit_delete(&ed, id->line_off, id->line_len), 0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 70\r\n"
               "Content-Length: 4\r\n"
               "\r\n"
               "body");
}

static void add_identity_at_end_of_headers(void **state)
{
    assert_int_equal(sip_edit_insertf(&ed, msg.hdrs_end, "Identity: %s;info=<%s>\r\n",
                                      "new.tok.sig", "https://y.example/c.pem"),
                     0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 70\r\n"
               "Identity: old.token.sig;info=<https://x.example/c.pem>\r\n"
               "Content-Length: 4\r\n"
               "Identity: new.tok.sig;info=<https://y.example/c.pem>\r\n"
               "\r\n"
               "body");
}

/* All four proxy edits at once, added in an order unlike the message's. */
static void edits_apply_in_offset_order(void **state)
{
    const struct sip_hdr *via = sip_hdr_find(&msg, SH_VIA, 0);
    const struct sip_hdr *mf = sip_hdr_find(&msg, SH_MAX_FORWARDS, 0);
    const struct sip_hdr *id = sip_hdr_find(&msg, SH_IDENTITY, 0);

    assert_int_equal(sip_edit_insert(&ed, msg.hdrs_end, "Identity: n\r\n", 13), 0);
    assert_int_equal(sip_edit_delete(&ed, id->line_off, id->line_len), 0);
    assert_int_equal(sip_edit_replace(&ed, mf->value_off, mf->value_len, "69", 2), 0);
    assert_int_equal(sip_edit_insert(&ed, via->line_off, OUR_VIA, strlen(OUR_VIA)), 0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKours\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 69\r\n"
               "Content-Length: 4\r\n"
               "Identity: n\r\n"
               "\r\n"
               "body");
}

static void inserts_at_one_offset_keep_their_order(void **state)
{
    assert_int_equal(sip_edit_insert(&ed, msg.hdrs_end, "A: 1\r\n", 6), 0);
    assert_int_equal(sip_edit_insert(&ed, msg.hdrs_end, "B: 2\r\n", 6), 0);
    assert_int_equal(sip_edit_insertf(&ed, msg.hdrs_end, "C: %d\r\n", 3), 0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 70\r\n"
               "Identity: old.token.sig;info=<https://x.example/c.pem>\r\n"
               "Content-Length: 4\r\n"
               "A: 1\r\nB: 2\r\nC: 3\r\n"
               "\r\n"
               "body");
}

/* An insert at the offset where a deleted line starts goes in front of the deletion. */
static void insert_where_a_deletion_starts(void **state)
{
    const struct sip_hdr *id = sip_hdr_find(&msg, SH_IDENTITY, 0);

    assert_int_equal(sip_edit_delete(&ed, id->line_off, id->line_len), 0);
    assert_int_equal(sip_edit_insert(&ed, id->line_off, "Identity: n\r\n", 13), 0);
    spliced_is("INVITE sip:+12025550199@192.0.2.10 SIP/2.0\r\n"
               "v: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport\r\n"
               "From: <sip:+12025550100@192.0.2.1>;tag=1\r\n"
               "To: <sip:+12025550199@192.0.2.10>\r\n"
               "Call-ID: 1@192.0.2.1\r\n"
               "CSeq: 1 INVITE\r\n"
               "Max-Forwards: 70\r\n"
               "Identity: n\r\n"
               "Content-Length: 4\r\n"
               "\r\n"
               "body");
}

static void overlapping_deletes_are_refused(void **state)
{
    const struct sip_hdr *id = sip_hdr_find(&msg, SH_IDENTITY, 0);

    assert_int_equal(sip_edit_delete(&ed, id->line_off, id->line_len), 0);
    assert_int_equal(sip_edit_replace(&ed, id->value_off, 3, "new", 3), 0);
    assert_int_equal(sip_splice(IN, strlen(IN), &ed, out, sizeof out), (size_t)-1);
}

static void same_range_twice_is_refused(void **state)
{
    assert_int_equal(sip_edit_delete(&ed, 10, 5), 0);
    assert_int_equal(sip_edit_delete(&ed, 10, 5), 0);
    assert_int_equal(sip_splice(IN, strlen(IN), &ed, out, sizeof out), (size_t)-1);
}

static void insert_inside_a_deletion_is_refused(void **state)
{
    assert_int_equal(sip_edit_insert(&ed, 12, "x", 1), 0);
    assert_int_equal(sip_edit_delete(&ed, 10, 5), 0);
    assert_int_equal(sip_splice(IN, strlen(IN), &ed, out, sizeof out), (size_t)-1);
}

static void adjacent_edits_are_fine(void **state)
{
    assert_int_equal(sip_edit_replace(&ed, 0, 6, "ACK", 3), 0);
    assert_int_equal(sip_edit_replace(&ed, 6, 1, "_", 1), 0);
    assert_int_equal(sip_splice(IN, strlen(IN), &ed, out, sizeof out), strlen(IN) - 3);
    assert_memory_equal(out, "ACK_sip:", 8);
}

static void edit_past_the_end_is_refused(void **state)
{
    size_t len = strlen(IN);

    assert_int_equal(sip_edit_delete(&ed, len - 2, 3), 0);
    assert_int_equal(sip_splice(IN, len, &ed, out, sizeof out), (size_t)-1);
    sip_edits_init(&ed);
    assert_int_equal(sip_edit_insert(&ed, len + 1, "x", 1), 0);
    assert_int_equal(sip_splice(IN, len, &ed, out, sizeof out), (size_t)-1);
    sip_edits_init(&ed);
    assert_int_equal(sip_edit_delete(&ed, 1, (size_t)-1), 0);
    assert_int_equal(sip_splice(IN, len, &ed, out, sizeof out), (size_t)-1);
}

static void insert_at_the_very_end(void **state)
{
    size_t len = strlen(IN);

    assert_int_equal(sip_edit_insert(&ed, len, "!", 1), 0);
    assert_int_equal(sip_splice(IN, len, &ed, out, sizeof out), len + 1);
    assert_memory_equal(out + len - 4, "body!", 5);
}

static void arena_full_is_refused(void **state)
{
    static char big[SIP_EDIT_ARENA];

    memset(big, 'x', sizeof big);
    assert_int_equal(sip_edit_insert(&ed, 0, big, SIP_EDIT_ARENA - 1), 0);
    assert_int_equal(sip_edit_insert(&ed, 0, "ab", 2), -1);
    assert_int_equal(sip_edit_insertf(&ed, 0, "%s", "a"), -1);
    assert_int_equal(sip_edit_insert(&ed, 0, "a", 1), 0);
    assert_int_equal(sip_edit_insert(&ed, 0, "a", 1), -1);
    assert_int_equal(ed.n, 2);
    assert_int_equal(ed.used, SIP_EDIT_ARENA);
}

static void insertf_too_long_leaves_no_edit(void **state)
{
    assert_int_equal(sip_edit_insert(&ed, 0, "x", 1), 0);
    assert_int_equal(sip_edit_insertf(&ed, 0, "%*s", SIP_EDIT_ARENA, "y"), -1);
    assert_int_equal(ed.n, 1);
    assert_int_equal(ed.used, 1);
}

static void edit_list_full_is_refused(void **state)
{
    size_t i;

    for (i = 0; i < SIP_MAX_EDITS; i++)
        assert_int_equal(sip_edit_insert(&ed, i, "x", 1), 0);
    assert_int_equal(sip_edit_insert(&ed, 0, "x", 1), -1);
    assert_int_equal(sip_edit_delete(&ed, 0, 1), -1);
    assert_int_equal(sip_edit_insertf(&ed, 0, "x"), -1);
}

static void output_too_small_is_refused(void **state)
{
    size_t len = strlen(IN);

    assert_int_equal(sip_edit_insert(&ed, 0, "x", 1), 0);
    assert_int_equal(sip_splice(IN, len, &ed, out, len), (size_t)-1);
    assert_int_equal(sip_splice(IN, len, &ed, out, len + 1), len + 1);
    assert_int_equal(sip_splice(IN, len, &ed, out, 0), (size_t)-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(no_edits_copies_the_message, setup),
        cmocka_unit_test_setup(insert_via_before_first_via, setup),
        cmocka_unit_test_setup(replace_max_forwards_value, setup),
        cmocka_unit_test_setup(delete_identity_line, setup),
        cmocka_unit_test_setup(add_identity_at_end_of_headers, setup),
        cmocka_unit_test_setup(edits_apply_in_offset_order, setup),
        cmocka_unit_test_setup(inserts_at_one_offset_keep_their_order, setup),
        cmocka_unit_test_setup(insert_where_a_deletion_starts, setup),
        cmocka_unit_test_setup(overlapping_deletes_are_refused, setup),
        cmocka_unit_test_setup(same_range_twice_is_refused, setup),
        cmocka_unit_test_setup(insert_inside_a_deletion_is_refused, setup),
        cmocka_unit_test_setup(adjacent_edits_are_fine, setup),
        cmocka_unit_test_setup(edit_past_the_end_is_refused, setup),
        cmocka_unit_test_setup(insert_at_the_very_end, setup),
        cmocka_unit_test_setup(arena_full_is_refused, setup),
        cmocka_unit_test_setup(insertf_too_long_leaves_no_edit, setup),
        cmocka_unit_test_setup(edit_list_full_is_refused, setup),
        cmocka_unit_test_setup(output_too_small_is_refused, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
