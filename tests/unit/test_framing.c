/*
 * test_framing.c - sip_frame() (src/sip/framing.c) on stream input: whole messages, two
 * in one buffer, a message arriving one byte at a time, CRLF keep-alives, the compact
 * "l:" name, and the inputs that are not SIP (no or bad Content-Length, headers that
 * never end).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/sip/framing.h"
#include "../../src/sip/sipmsg.h"

static const char MSG1[] = "INVITE sip:b@example.com SIP/2.0\r\n"
                           "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK-1\r\n"
                           "From: <sip:a@example.com>;tag=1\r\n"
                           "To: <sip:b@example.com>\r\n"
                           "Call-ID: 1@x\r\n"
                           "CSeq: 1 INVITE\r\n"
                           "Content-Length: 5\r\n"
                           "\r\n"
                           "hello";

static const char MSG2[] = "SIP/2.0 100 Trying\r\n"
                           "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK-1\r\n"
                           "From: <sip:a@example.com>;tag=1\r\n"
                           "To: <sip:b@example.com>\r\n"
                           "Call-ID: 1@x\r\n"
                           "CSeq: 1 INVITE\r\n"
                           "content-length:0\r\n"
                           "\r\n";

static enum sip_frame frame(const char *s, size_t len, size_t *n)
{
    *n = (size_t)-1;
    return sip_frame(s, len, n);
}

static void one_complete_message(void **state)
{
    size_t n;

    assert_int_equal(frame(MSG1, strlen(MSG1), &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(MSG1));
}

static void two_messages_in_one_buffer(void **state)
{
    char buf[1024];
    size_t n, len = (size_t)snprintf(buf, sizeof buf, "%s%s", MSG1, MSG2);

    assert_int_equal(frame(buf, len, &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(MSG1));
    assert_int_equal(frame(buf + n, len - n, &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(MSG2));
}

static void split_at_every_byte(void **state)
{
    size_t len = strlen(MSG1), i, n;
    char *copy;

    for (i = 0; i < len; i++) {
        /* A heap copy of exactly i bytes, so that ASan catches any read past len. */
        copy = malloc(i > 0 ? i : 1);
        assert_non_null(copy);
        memcpy(copy, MSG1, i);
        assert_int_equal(frame(copy, i, &n), SIP_FRAME_PARTIAL);
        free(copy);
    }
    assert_int_equal(frame(MSG1, len, &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, len);
}

static void keepalives_between_messages(void **state)
{
    char buf[1024];
    size_t n, off, len = (size_t)snprintf(buf, sizeof buf, "\r\n\r\n%s\r\n%s", MSG1, MSG2);

    assert_int_equal(frame(buf, len, &n), SIP_FRAME_KEEPALIVE);
    assert_int_equal(n, 4);
    off = n;
    assert_int_equal(frame(buf + off, len - off, &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(MSG1));
    off += n;
    assert_int_equal(frame(buf + off, len - off, &n), SIP_FRAME_KEEPALIVE);
    assert_int_equal(n, 2);
    off += n;
    assert_int_equal(frame(buf + off, len - off, &n), SIP_FRAME_COMPLETE);
    assert_int_equal(off + n, len);
}

static void lone_lf_keepalive(void **state)
{
    size_t n;

    assert_int_equal(frame("\nINV", 4, &n), SIP_FRAME_KEEPALIVE);
    assert_int_equal(n, 1);
}

static void empty_buffer_is_partial(void **state)
{
    size_t n;

    assert_int_equal(frame("", 0, &n), SIP_FRAME_PARTIAL);
}

static void missing_content_length_is_not_sip(void **state)
{
    static const char s[] = "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n";
    size_t n;

    assert_int_equal(frame(s, strlen(s), &n), SIP_FRAME_NOT_SIP);
}

static void bad_content_length_is_not_sip(void **state)
{
    static const char *const bad[] = {
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length: x\r\n\r\n",
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length: 1 2\r\n\r\n",
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length:\r\n\r\n",
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length: 65535\r\n\r\n",
        "OPTIONS sip:b@x SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n",
    };
    size_t i, n;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(frame(bad[i], strlen(bad[i]), &n), SIP_FRAME_NOT_SIP);
}

static void compact_l(void **state)
{
    static const char s[] = "OPTIONS sip:b@x SIP/2.0\r\nL : 3\r\nLx: 7\r\n\r\nabcdef";
    size_t n;

    assert_int_equal(frame(s, strlen(s), &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(s) - 3);
}

static void content_length_name_in_any_case_and_folded(void **state)
{
    static const char s[] =
        "OPTIONS sip:b@x SIP/2.0\r\nCONTENT-length\t:\r\n  2 \r\nX: y\r\n\r\nab";
    size_t n;

    assert_int_equal(frame(s, strlen(s), &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(s));
}

static void content_length_in_a_value_does_not_count(void **state)
{
    static const char s[] = "OPTIONS sip:b@x SIP/2.0\r\nSubject: Content-Length: 3\r\n"
                            "Content-Length: 0\r\n\r\n";
    size_t n;

    assert_int_equal(frame(s, strlen(s), &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(s));
}

static void lf_only_message(void **state)
{
    static const char s[] = "OPTIONS sip:b@x SIP/2.0\nl: 2\n\nabOPTIONS";
    size_t n;

    assert_int_equal(frame(s, strlen(s), &n), SIP_FRAME_COMPLETE);
    assert_int_equal(n, strlen(s) - 7);
}

static void body_not_yet_arrived_is_partial(void **state)
{
    size_t n;

    assert_int_equal(frame(MSG1, strlen(MSG1) - 1, &n), SIP_FRAME_PARTIAL);
}

static void endless_headers_are_not_sip(void **state)
{
    char *s = malloc(SIP_MAX_MSG + 10);
    size_t n;

    assert_non_null(s);
    memset(s, 'a', SIP_MAX_MSG + 10);
    assert_int_equal(frame(s, SIP_MAX_MSG - 1, &n), SIP_FRAME_PARTIAL);
    assert_int_equal(frame(s, SIP_MAX_MSG, &n), SIP_FRAME_NOT_SIP);
    assert_int_equal(frame(s, SIP_MAX_MSG + 10, &n), SIP_FRAME_NOT_SIP);
    free(s);
}

static void message_over_max_is_not_sip(void **state)
{
    char buf[128];
    size_t n;
    int len =
        snprintf(buf, sizeof buf, "OPTIONS sip:b@x SIP/2.0\r\nl: %d\r\n\r\n", SIP_MAX_MSG - 30);

    assert_int_equal(frame(buf, (size_t)len, &n), SIP_FRAME_NOT_SIP);
    len = snprintf(buf, sizeof buf, "OPTIONS sip:b@x SIP/2.0\r\nl: %d\r\n\r\n", SIP_MAX_MSG - 37);
    assert_int_equal(len, 37); /* exactly SIP_MAX_MSG in all */
    assert_int_equal(frame(buf, (size_t)len, &n), SIP_FRAME_PARTIAL);
}

static void nul_in_headers_is_not_sip(void **state)
{
    static const char s[] = "OPTIONS sip:b@x SIP/2.0\r\nX: \0\r\nl: 0\r\n\r\n";
    size_t n;

    assert_int_equal(frame(s, sizeof s - 1, &n), SIP_FRAME_NOT_SIP);
}

static void framed_message_parses(void **state)
{
    struct sip_msg m;
    char err[128];
    size_t n;

    assert_int_equal(frame(MSG2, strlen(MSG2), &n), SIP_FRAME_COMPLETE);
    assert_int_equal(sip_parse(&m, MSG2, n, err, sizeof err), 0);
    assert_int_equal(m.status, 100);
    assert_int_equal(m.body_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_complete_message),
        cmocka_unit_test(two_messages_in_one_buffer),
        cmocka_unit_test(split_at_every_byte),
        cmocka_unit_test(keepalives_between_messages),
        cmocka_unit_test(lone_lf_keepalive),
        cmocka_unit_test(empty_buffer_is_partial),
        cmocka_unit_test(missing_content_length_is_not_sip),
        cmocka_unit_test(bad_content_length_is_not_sip),
        cmocka_unit_test(compact_l),
        cmocka_unit_test(content_length_name_in_any_case_and_folded),
        cmocka_unit_test(content_length_in_a_value_does_not_count),
        cmocka_unit_test(lf_only_message),
        cmocka_unit_test(body_not_yet_arrived_is_partial),
        cmocka_unit_test(endless_headers_are_not_sip),
        cmocka_unit_test(message_over_max_is_not_sip),
        cmocka_unit_test(nul_in_headers_is_not_sip),
        cmocka_unit_test(framed_message_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
