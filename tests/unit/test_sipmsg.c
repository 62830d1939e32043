/*
 * test_sipmsg.c - sip_parse() and the header readers of src/sip/sipmsg.c: a sipp INVITE
 * read field by field, compact names, folding, LF-only lines, Via lists and IPv6, the
 * numbers and tags of From/To/P-Asserted-Identity/Request-URI, and every refusal
 * (missing mandatory headers, bad CSeq or Content-Length, too many headers, NUL bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "../../src/sip/sipmsg.h"

#define SDP                                                                                        \
    "v=0\r\n"                                                                                      \
    "o=user1 53655765 2353687637 IN IP4 192.0.2.1\r\n"                                             \
    "s=-\r\n"                                                                                      \
    "c=IN IP4 192.0.2.1\r\n"                                                                       \
    "t=0 0\r\n"                                                                                    \
    "m=audio 6000 RTP/AVP 0\r\n"                                                                   \
    "a=rtpmap:0 PCMU/8000\r\n"

/* What sipp's uac scenario sends (numbers in E.164, as a trunk would carry them). */
static const char INVITE[] =
    "INVITE sip:+12025550199@192.0.2.10:5060;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-4242-1-0;rport\r\n"
    "From: \"sipp\" <sip:+12025550100@192.0.2.1:5061>;tag=4242SIPpTag001\r\n"
    "To: <sip:+12025550199@192.0.2.10:5060>\r\n"
    "Call-ID: 1-4242@192.0.2.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: sip:sipp@192.0.2.1:5061\r\n"
    "Max-Forwards: 70\r\n"
    "Subject: Performance Test\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length:   129\r\n"
    "\r\n" SDP;

#define BASE_HDRS                                                                                  \
    "Via: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1\r\n"                                         \
    "From: <sip:+12025550100@example.com>;tag=a1\r\n"                                              \
    "To: <sip:+12025550199@example.com>\r\n"                                                       \
    "Call-ID: c1@192.0.2.1\r\n"

static struct sip_msg msg;
static char err[256];

static int parse(const char *s)
{
    err[0] = '\0';
    return sip_parse(&msg, s, strlen(s), err, sizeof err);
}

static void parses(const char *s)
{
    int rc = parse(s);
    if (rc != 0)
        fail_msg("sip_parse: %s", err);
}

static void refuses(const char *s, const char *reason)
{
    assert_int_equal(parse(s), -1);
    assert_string_equal(err, reason);
}

/* The value of header h as a string (tests only; a static buffer). */
static const char *value(const struct sip_hdr *h)
{
    static char v[512];
    assert_non_null(h);
    assert_true(h->value_len < sizeof v);
    memcpy(v, msg.buf + h->value_off, h->value_len);
    v[h->value_len] = '\0';
    return v;
}

static const char *name(const struct sip_hdr *h)
{
    static char v[64];
    assert_true(h->name_len < sizeof v);
    memcpy(v, msg.buf + h->name_off, h->name_len);
    v[h->name_len] = '\0';
    return v;
}

static const char *span(size_t off, size_t len)
{
    static char v[512];
    assert_true(len < sizeof v);
    memcpy(v, msg.buf + off, len);
    v[len] = '\0';
    return v;
}

static void sipp_invite_start_line(void **state)
{
    parses(INVITE);
    assert_true(msg.is_request);
    assert_string_equal(span(msg.method_off, msg.method_len), "INVITE");
    assert_string_equal(span(msg.ruri_off, msg.ruri_len),
                        "sip:+12025550199@192.0.2.10:5060;user=phone");
    assert_int_equal(msg.first_line_len, strlen("INVITE sip:+12025550199@192.0.2.10:5060;"
                                                "user=phone SIP/2.0\r\n"));
    assert_int_equal(msg.status, 0);
    assert_true(sip_is_method(&msg, "INVITE"));
    assert_false(sip_is_method(&msg, "invite"));
    assert_false(sip_is_method(&msg, "ACK"));
}

static void sipp_invite_headers(void **state)
{
    static const struct {
        enum sip_hdr_id id;
        const char *name, *value;
    } want[] = {
        {SH_VIA, "Via", "SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-4242-1-0;rport"},
        {SH_FROM, "From", "\"sipp\" <sip:+12025550100@192.0.2.1:5061>;tag=4242SIPpTag001"},
        {SH_TO, "To", "<sip:+12025550199@192.0.2.10:5060>"},
        {SH_CALL_ID, "Call-ID", "1-4242@192.0.2.1"},
        {SH_CSEQ, "CSeq", "1 INVITE"},
        {SH_CONTACT, "Contact", "sip:sipp@192.0.2.1:5061"},
        {SH_MAX_FORWARDS, "Max-Forwards", "70"},
        {SH_OTHER, "Subject", "Performance Test"},
        {SH_CONTENT_TYPE, "Content-Type", "application/sdp"},
        {SH_CONTENT_LENGTH, "Content-Length", "129"},
    };
    size_t i, off = 0;

    parses(INVITE);
    assert_int_equal(msg.nhdrs, sizeof want / sizeof want[0]);
    off = msg.first_line_len;
    for (i = 0; i < msg.nhdrs; i++) {
        const struct sip_hdr *h = &msg.hdrs[i];
        assert_int_equal(h->id, want[i].id);
        assert_string_equal(name(h), want[i].name);
        assert_string_equal(value(h), want[i].value);
        assert_int_equal(h->line_off, off);
        assert_int_equal(h->name_off, off);
        assert_int_equal(h->line_len, strlen(want[i].name) + 2 + strlen(want[i].value) + 2 +
                                          (h->id == SH_CONTENT_LENGTH ? 2 : 0));
        off += h->line_len;
    }
    assert_int_equal(msg.hdrs_end, off);
}

static void sipp_invite_body_and_cseq(void **state)
{
    parses(INVITE);
    assert_int_equal(msg.body_off, msg.hdrs_end + 2);
    assert_int_equal(msg.body_len, 129);
    assert_int_equal(msg.body_len, strlen(SDP));
    assert_memory_equal(msg.buf + msg.body_off, SDP, msg.body_len);
    assert_int_equal(msg.len, strlen(INVITE));
    assert_int_equal(msg.cseq, 1);
    assert_string_equal(span(msg.cseq_method_off, msg.cseq_method_len), "INVITE");
    assert_int_equal(sip_max_forwards(&msg), 70);
}

static void sipp_invite_via(void **state)
{
    struct sip_via v;

    parses(INVITE);
    assert_int_equal(sip_via_parse(&msg, sip_hdr_find(&msg, SH_VIA, 0), &v), 0);
    assert_string_equal(v.transport, "UDP");
    assert_string_equal(v.host, "192.0.2.1");
    assert_int_equal(v.port, 5061);
    assert_string_equal(v.branch, "z9hG4bK-4242-1-0");
    assert_string_equal(v.received, "");
    assert_int_equal(v.rport, 0);
    assert_int_equal(v.value_len, strlen("SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-4242-1-0;"
                                         "rport"));
    assert_int_equal(v.more, 0);
}

static void sipp_invite_numbers_and_tags(void **state)
{
    char out[64];

    parses(INVITE);
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_FROM, 0), out, sizeof out), 0);
    assert_string_equal(out, "+12025550100");
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_TO, 0), out, sizeof out), 0);
    assert_string_equal(out, "+12025550199");
    assert_int_equal(sip_ruri_number(&msg, out, sizeof out), 0);
    assert_string_equal(out, "+12025550199");
    assert_int_equal(sip_hdr_tag(&msg, sip_hdr_find(&msg, SH_FROM, 0), out, sizeof out), 0);
    assert_string_equal(out, "4242SIPpTag001");
    assert_int_equal(sip_hdr_tag(&msg, sip_hdr_find(&msg, SH_TO, 0), out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void status_line_200(void **state)
{
    parses("SIP/2.0 200 OK\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert_false(msg.is_request);
    assert_int_equal(msg.status, 200);
    assert_int_equal(msg.method_len, 0);
    assert_int_equal(msg.first_line_len, 16);
    assert_false(sip_is_method(&msg, "INVITE"));
    assert_string_equal(span(msg.cseq_method_off, msg.cseq_method_len), "INVITE");
}

static void status_line_without_reason(void **state)
{
    parses("SIP/2.0 180\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(msg.status, 180);
}

static void status_line_code_out_of_range(void **state)
{
    refuses("SIP/2.0 099 Odd\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "status line has no status code 100..699");
    refuses("SIP/2.0 700 Odd\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "status line has no status code 100..699");
}

static void compact_forms(void **state)
{
    parses("INVITE sip:bob@example.com SIP/2.0\r\n"
           "v: SIP/2.0/TCP h.example.com\r\n"
           "f: <sip:alice@example.com>;tag=1\r\n"
           "t: <sip:bob@example.com>\r\n"
           "i: abc\r\n"
           "CSeq: 2 INVITE\r\n"
           "m: <sip:alice@h.example.com>\r\n"
           "y: eyJ.eyJ.sig;info=<https://c.example/x.pem>\r\n"
           "c: application/sdp\r\n"
           "L: 0\r\n"
           "\r\n");
    assert_int_equal(msg.nhdrs, 9);
    assert_int_equal(msg.hdrs[0].id, SH_VIA);
    assert_int_equal(msg.hdrs[1].id, SH_FROM);
    assert_int_equal(msg.hdrs[2].id, SH_TO);
    assert_int_equal(msg.hdrs[3].id, SH_CALL_ID);
    assert_int_equal(msg.hdrs[5].id, SH_CONTACT);
    assert_int_equal(msg.hdrs[6].id, SH_IDENTITY);
    assert_int_equal(msg.hdrs[7].id, SH_CONTENT_TYPE);
    assert_int_equal(msg.hdrs[8].id, SH_CONTENT_LENGTH);
    assert_string_equal(name(&msg.hdrs[6]), "y");
    assert_string_equal(value(sip_hdr_find(&msg, SH_IDENTITY, 0)),
                        "eyJ.eyJ.sig;info=<https://c.example/x.pem>");
}

static void long_names_any_case(void **state)
{
    parses("INVITE sip:bob@example.com SIP/2.0\r\n" BASE_HDRS "cseq: 1 INVITE\r\n"
           "MAX-FORWARDS: 9\r\n"
           "p-asserted-identity: <tel:+12025550100>\r\n"
           "IDENTITY: x\r\n"
           "record-route: <sip:p.example.com;lr>\r\n"
           "Route: <sip:q.example.com;lr>\r\n"
           "DATE: Sat, 13 Nov 2010 23:29:00 GMT\r\n"
           "\r\n");
    assert_int_equal(msg.hdrs[4].id, SH_CSEQ);
    assert_int_equal(msg.hdrs[5].id, SH_MAX_FORWARDS);
    assert_int_equal(msg.hdrs[6].id, SH_PAI);
    assert_int_equal(msg.hdrs[7].id, SH_IDENTITY);
    assert_int_equal(msg.hdrs[8].id, SH_RECORD_ROUTE);
    assert_int_equal(msg.hdrs[9].id, SH_ROUTE);
    assert_int_equal(msg.hdrs[10].id, SH_DATE);
    assert_int_equal(sip_max_forwards(&msg), 9);
}

static void white_space_around_colon_and_value(void **state)
{
    parses("INVITE sip:bob@example.com SIP/2.0\r\n" BASE_HDRS "CSeq  :\t 1 INVITE \t\r\n\r\n");
    assert_string_equal(name(&msg.hdrs[4]), "CSeq");
    assert_string_equal(value(&msg.hdrs[4]), "1 INVITE");
}

static void folded_line_belongs_to_previous_header(void **state)
{
    static const char s[] = "INVITE sip:bob@example.com SIP/2.0\r\n" BASE_HDRS "Subject: first\r\n"
                            " second\r\n"
                            "\tthird \r\n"
                            "CSeq: 1\r\n"
                            "  INVITE\r\n"
                            "\r\n";
    const struct sip_hdr *h;

    parses(s);
    assert_int_equal(msg.nhdrs, 6);
    h = &msg.hdrs[4];
    assert_string_equal(name(h), "Subject");
    assert_string_equal(value(h), "first\r\n second\r\n\tthird");
    assert_string_equal(span(h->line_off, h->line_len),
                        "Subject: first\r\n second\r\n\tthird \r\n");
    assert_int_equal(msg.hdrs[5].line_off, h->line_off + h->line_len);
    assert_int_equal(msg.cseq, 1);
    assert_string_equal(span(msg.cseq_method_off, msg.cseq_method_len), "INVITE");
}

static void folded_line_before_any_header(void **state)
{
    refuses("INVITE sip:bob@example.com SIP/2.0\r\n x\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "folded line before the first header");
}

static void lf_only_line_ends(void **state)
{
    static const char s[] = "OPTIONS sip:bob@example.com SIP/2.0\n"
                            "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-2\n"
                            "From: <sip:a@example.com>;tag=9\n"
                            "To: <sip:bob@example.com>\n"
                            "Call-ID: lf@x\n"
                            "Subject: a\n"
                            " b\n"
                            "CSeq: 7 OPTIONS\n"
                            "Content-Length: 4\n"
                            "\n"
                            "abcd";

    parses(s);
    assert_int_equal(msg.first_line_len, strlen("OPTIONS sip:bob@example.com SIP/2.0\n"));
    assert_int_equal(msg.nhdrs, 7);
    assert_string_equal(value(&msg.hdrs[0]), "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-2");
    assert_string_equal(value(&msg.hdrs[4]), "a\n b");
    assert_int_equal(msg.cseq, 7);
    assert_int_equal(msg.body_off, strlen(s) - 4);
    assert_int_equal(msg.hdrs_end, msg.body_off - 1);
    assert_int_equal(msg.body_len, 4);
}

static void several_via_lines_in_order(void **state)
{
    struct sip_via v;

    parses("SIP/2.0 180 Ringing\r\n"
           "Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKa\r\n"
           "v: SIP/2.0/TCP p2.example.com:5070;branch=z9hG4bKb\r\n" BASE_HDRS
           "CSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(sip_via_parse(&msg, sip_hdr_find(&msg, SH_VIA, 0), &v), 0);
    assert_string_equal(v.host, "p1.example.com");
    assert_int_equal(sip_via_parse(&msg, sip_hdr_find(&msg, SH_VIA, 1), &v), 0);
    assert_string_equal(v.host, "p2.example.com");
    assert_string_equal(v.transport, "TCP");
    assert_int_equal(v.port, 5070);
    assert_int_equal(sip_via_parse(&msg, sip_hdr_find(&msg, SH_VIA, 2), &v), 0);
    assert_string_equal(v.host, "192.0.2.1");
    assert_null(sip_hdr_find(&msg, SH_VIA, 3));
}

static void via_list_on_one_line(void **state)
{
    struct sip_via v, w;
    struct sip_hdr rest;
    const struct sip_hdr *h;

    parses("SIP/2.0 200 OK\r\n"
           "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa;x=\"1,2\" , SIP/2.0/UDP "
           "b.example.com;received=192.0.2.7;rport=5099;branch=z9hG4bKb\r\n" BASE_HDRS
           "CSeq: 1 INVITE\r\n\r\n");
    h = sip_hdr_find(&msg, SH_VIA, 0);
    assert_int_equal(sip_via_parse(&msg, h, &v), 0);
    assert_string_equal(v.host, "a.example.com");
    assert_string_equal(v.branch, "z9hG4bKa");
    assert_int_equal(v.more, 1);
    assert_int_equal(v.value_len, strlen("SIP/2.0/UDP a.example.com;branch=z9hG4bKa;x=\"1,2\""));
    assert_int_equal(sip_via_rest(&msg, h, &v, &rest), 0);
    assert_int_equal(rest.value_off, h->value_off + v.value_len + 3);
    assert_int_equal(sip_via_parse(&msg, &rest, &w), 0);
    assert_string_equal(w.host, "b.example.com");
    assert_string_equal(w.received, "192.0.2.7");
    assert_int_equal(w.rport, 5099);
    assert_string_equal(w.branch, "z9hG4bKb");
    assert_int_equal(w.more, 0);
    assert_int_equal(sip_via_rest(&msg, &rest, &w, &rest), -1);
}

static void via_ipv6_host_without_brackets(void **state)
{
    struct sip_via v;

    parses("OPTIONS sip:[2001:db8::10] SIP/2.0\r\n"
           "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-6, SIP/2.0/UDP [2001:db8::2]\r\n"
           "From: <sip:a@[2001:db8::1]>;tag=6\r\nTo: <sip:b@[2001:db8::10]>\r\n"
           "Call-ID: 6@x\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_int_equal(sip_via_parse(&msg, msg.hdrs, &v), 0);
    assert_string_equal(v.host, "2001:db8::1");
    assert_int_equal(v.port, 5060);
    assert_int_equal(v.more, 1);
    assert_int_equal(v.value_len, strlen("SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-6"));
}

static void via_without_host_is_refused(void **state)
{
    struct sip_via v;

    parses("OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP\r\n"
           "From: <sip:a@x>;tag=6\r\nTo: <sip:b@x>\r\nCall-ID: 6@x\r\nCSeq: 1 OPTIONS\r\n\r\n");
    assert_int_equal(sip_via_parse(&msg, msg.hdrs, &v), -1);
}

static void missing(const char *drop, const char *reason)
{
    static const char *const lines[] = {
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1\r\n",
        "From: <sip:a@example.com>;tag=1\r\n",
        "To: <sip:b@example.com>\r\n",
        "Call-ID: x@y\r\n",
        "CSeq: 1 INVITE\r\n",
    };
    char s[1024];
    size_t i, n;

    n = (size_t)snprintf(s, sizeof s, "INVITE sip:b@example.com SIP/2.0\r\n");
    for (i = 0; i < 5; i++)
        if (strncmp(lines[i], drop, strlen(drop)) != 0)
            n += (size_t)snprintf(s + n, sizeof s - n, "%s", lines[i]);
    snprintf(s + n, sizeof s - n, "\r\n");
    refuses(s, reason);
}

static void missing_via(void **state)
{
    missing("Via", "missing Via header");
}

static void missing_from(void **state)
{
    missing("From", "missing From header");
}

static void missing_to(void **state)
{
    missing("To", "missing To header");
}

static void missing_call_id(void **state)
{
    missing("Call-ID", "missing Call-ID header");
}

static void missing_cseq(void **state)
{
    missing("CSeq", "missing CSeq header");
}

static void cseq_not_a_number(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: one INVITE\r\n\r\n",
            "CSeq number is missing or above 2^31-1");
}

static void cseq_above_2_31(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 2147483648 INVITE\r\n\r\n",
            "CSeq number is missing or above 2^31-1");
}

static void cseq_at_2_31_minus_1(void **state)
{
    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 2147483647 INVITE\r\n\r\n");
    assert_int_equal(msg.cseq, 2147483647u);
}

static void cseq_without_method(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1\r\n\r\n",
            "CSeq has no method after its number");
}

static void cseq_method_mismatch(void **state)
{
    refuses("ACK sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "CSeq method INVITE does not match ACK");
}

static void cseq_ack_and_cancel_carry_their_own_method(void **state)
{
    parses("ACK sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 ACK\r\n\r\n");
    assert_true(sip_is_method(&msg, "ACK"));
    parses("CANCEL sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 CANCEL\r\n\r\n");
    assert_true(sip_is_method(&msg, "CANCEL"));
}

static void cseq_twice(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n\r\n",
            "more than one CSeq header");
}

static void content_length_not_a_number(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nContent-Length: 1x\r\n\r\n",
            "Content-Length is not a number up to 65535");
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nl: -1\r\n\r\n",
            "Content-Length is not a number up to 65535");
}

static void content_length_twice(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS
            "CSeq: 1 INVITE\r\nContent-Length: 0\r\nl: 0\r\n\r\n",
            "more than one Content-Length header");
}

static void body_shorter_than_content_length(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nContent-Length: 5\r\n\r\n"
            "abcd",
            "body of 4 bytes is shorter than Content-Length 5");
}

static void bytes_after_content_length_are_ignored(void **state)
{
    static const char s[] =
        "INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nContent-Length: 2\r\n\r\nabcd";

    parses(s);
    assert_int_equal(msg.body_len, 2);
    assert_int_equal(msg.len, strlen(s) - 2);
}

static void no_content_length_body_is_the_rest(void **state)
{
    static const char s[] = "INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\nxyz";

    parses(s);
    assert_int_equal(msg.body_off, strlen(s) - 3);
    assert_int_equal(msg.body_len, 3);
    assert_int_equal(msg.len, strlen(s));
}

/* A request with BASE_HDRS, CSeq and extra "X-N: n" lines. */
static char *with_extra_headers(size_t extra)
{
    size_t cap = 128 + 64 * (extra + 8), n, i;
    char *s = malloc(cap);

    assert_non_null(s);
    n = (size_t)snprintf(s, cap, "INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n");
    for (i = 0; i < extra; i++)
        n += (size_t)snprintf(s + n, cap - n, "X-%zu: %zu\r\n", i, i);
    snprintf(s + n, cap - n, "\r\n");
    return s;
}

static void accepts_128_headers(void **state)
{
    char *s = with_extra_headers(SIP_MAX_HEADERS - 5);

    parses(s);
    assert_int_equal(msg.nhdrs, SIP_MAX_HEADERS);
    free(s);
}

static void refuses_129_headers(void **state)
{
    char *s = with_extra_headers(SIP_MAX_HEADERS - 4);

    refuses(s, "more than 128 header lines");
    free(s);
}

static void refuses_nul_in_header(void **state)
{
    static const char s[] = "INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INV\0ITE\r\n\r\n";

    assert_int_equal(sip_parse(&msg, s, sizeof s - 1, err, sizeof err), -1);
    assert_string_equal(err, "NUL byte in header line 5");
}

/* RFC 4475 3.1.1.2: a NUL escaped by a quoted-pair inside a quoted string is valid. */
static void accepts_nul_in_quoted_pair(void **state)
{
    static const char s[] =
        "INVITE sip:b@x SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1\r\n"
        "From: <sip:+12025550100@example.com>;tag=a1\r\n"
        "To: \"BEL:\\\a NUL:\\\0 DEL:\\\x7f\" <sip:+12025550199@example.com>\r\n"
        "Call-ID: c1@192.0.2.1\r\nCSeq: 1 INVITE\r\n\r\n";

    assert_int_equal(sip_parse(&msg, s, sizeof s - 1, err, sizeof err), 0);
    assert_int_equal(msg.nhdrs, 5);
}

/* Only the escaped octet of a quoted-pair between quotes may be a NUL. */
static void nul_quoted_rules(void **state)
{
    assert_int_equal(sip_nul_quoted("a\"b\\\0c\"", 7), 1);
    assert_int_equal(sip_nul_quoted("abc", 3), 1);
    assert_int_equal(sip_nul_quoted("a\\\0", 3), 0);     /* outside quotes */
    assert_int_equal(sip_nul_quoted("\"a\0\"", 4), 0);   /* not escaped */
    assert_int_equal(sip_nul_quoted("\"a\n\\\0", 5), 0); /* quotes end at a line end */
}

static void finds_proxy_require(void **state)
{
    static const char s[] =
        "OPTIONS sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 OPTIONS\r\nPROXY-require: foo\r\n\r\n";

    assert_int_equal(sip_parse(&msg, s, sizeof s - 1, err, sizeof err), 0);
    assert_non_null(sip_hdr_find(&msg, SH_PROXY_REQUIRE, 0));
}

static void accepts_nul_in_body(void **state)
{
    static const char s[] =
        "INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nl: 3\r\n\r\na\0b";

    assert_int_equal(sip_parse(&msg, s, sizeof s - 1, err, sizeof err), 0);
    assert_int_equal(msg.body_len, 3);
}

static void refuses_message_over_max(void **state)
{
    char *s = calloc(1, SIP_MAX_MSG + 1);

    assert_non_null(s);
    assert_int_equal(sip_parse(&msg, s, SIP_MAX_MSG + 1, err, sizeof err), -1);
    assert_string_equal(err, "message of 65536 bytes is larger than 65535");
    free(s);
}

static void refuses_bad_request_lines(void **state)
{
    refuses("INVITE sip:b@x SIP/3.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "request line does not end with SIP/2.0");
    refuses("INVITE sip:b@x\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "request line has no Request-URI followed by a space");
    refuses("INVITE sip:b@x SIP/2.0 extra\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "request line does not end with SIP/2.0");
    refuses("INVITE  sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n",
            "request line has no Request-URI followed by a space");
    refuses("INV@TE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INV@TE\r\n\r\n",
            "request line does not start with a method and a space");
}

static void accepts_lower_case_version(void **state)
{
    parses("INVITE sip:b@x sip/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n");
}

static void refuses_missing_empty_line(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n",
            "headers do not end with an empty line");
}

static void refuses_header_without_colon(void **state)
{
    refuses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq 1 INVITE\r\n\r\n",
            "header CSeq has no colon");
}

static void pai_tel_number_with_parameters(void **state)
{
    char out[32];

    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n"
           "P-Asserted-Identity: <tel:+12025550100;phone-context=example.com>\r\n\r\n");
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_PAI, 0), out, sizeof out), 0);
    assert_string_equal(out, "+12025550100");
}

static void pai_list_takes_first_value(void **state)
{
    char out[32];

    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n"
           "P-Asserted-Identity: \"A, B\" <sip:+12025550111@example.com;user=phone>, "
           "<tel:+12025550122>\r\n\r\n");
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_PAI, 0), out, sizeof out), 0);
    assert_string_equal(out, "+12025550111");
}

static void number_drops_user_parameters(void **state)
{
    char out[32];

    parses("INVITE sip:+12025550199;npdi;rn=+12025550000@example.com;user=phone SIP/2.0\r\n"
           "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
           "From: <sip:+12025550100;isup-oli=62@example.com>;tag=1\r\n"
           "To: <sip:bob@example.com>\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(sip_ruri_number(&msg, out, sizeof out), 0);
    assert_string_equal(out, "+12025550199");
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_FROM, 0), out, sizeof out), 0);
    assert_string_equal(out, "+12025550100");
    assert_int_equal(sip_hdr_tag(&msg, sip_hdr_find(&msg, SH_FROM, 0), out, sizeof out), 0);
    assert_string_equal(out, "1");
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_TO, 0), out, sizeof out), 0);
    assert_string_equal(out, "bob");
}

static void tel_request_uri(void **state)
{
    char out[32];

    parses("INVITE tel:+12025550199;phone-context=x SIP/2.0\r\n" BASE_HDRS
           "CSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(sip_ruri_number(&msg, out, sizeof out), 0);
    assert_string_equal(out, "+12025550199");
}

static void number_absent_or_too_long(void **state)
{
    char out[13];

    parses("INVITE sip:example.com SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(sip_ruri_number(&msg, out, sizeof out), -1);
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_FROM, 0), out, 12), -1);
    assert_int_equal(sip_hdr_number(&msg, sip_hdr_find(&msg, SH_FROM, 0), out, 13), 0);
    assert_string_equal(out, "+12025550100");
}

static void ruri_number_of_response(void **state)
{
    char out[32];

    parses("SIP/2.0 200 OK\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(sip_ruri_number(&msg, out, sizeof out), -1);
}

static void to_tag_of_response(void **state)
{
    char out[32];

    parses("SIP/2.0 487 Request Terminated\r\n"
           "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=f1\r\n"
           "To: \"Bob\" <sip:b@x>;tag=t-77\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(msg.status, 487);
    assert_int_equal(sip_hdr_tag(&msg, sip_hdr_find(&msg, SH_TO, 0), out, sizeof out), 0);
    assert_string_equal(out, "t-77");
}

static void max_forwards_absent_or_bad(void **state)
{
    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\n\r\n");
    assert_int_equal(sip_max_forwards(&msg), -1);
    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nMax-Forwards: 256\r\n\r\n");
    assert_int_equal(sip_max_forwards(&msg), -3); /* a number, out of range */
    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nMax-Forwards: 300\r\n\r\n");
    assert_int_equal(sip_max_forwards(&msg), -3);
    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nMax-Forwards: 7a\r\n\r\n");
    assert_int_equal(sip_max_forwards(&msg), -2);
    parses("INVITE sip:b@x SIP/2.0\r\n" BASE_HDRS "CSeq: 1 INVITE\r\nMax-Forwards: 0\r\n\r\n");
    assert_int_equal(sip_max_forwards(&msg), 0);
}

static void err_may_be_null(void **state)
{
    assert_int_equal(sip_parse(&msg, "x", 1, NULL, 0), -1);
}

/*
 * The fast paths for common Via and name-addr spellings must read exactly what libosip2
 * reads; where they decline, libosip2 answers. Each value is read both ways and compared.
 */
static void fast_paths_agree_with_libosip2(void **state)
{
    static const char *vias[] = {
        "SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1;rport",
        "SIP/2.0/TCP host.example.com;branch=z9hG4bKx;received=10.0.0.1;rport=5099",
        "SIP/2.0/udp 10.1.2.3:5060;rport;branch=z9hG4bK.a_b-c",
        "SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK1;maddr=224.2.0.1;ttl=16",
        "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6",
        "SIP/2.0/UDP 10.0.0.1 ; branch=z9hG4bK7",
        "SIP / 2.0 / UDP 10.0.0.1:5060;branch=z9hG4bK8",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK9;received=2001:db8::9",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK10, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK11",
    };
    static const char *froms[] = {
        "<sip:+12025550100@example.com>;tag=a1",
        "Alice <sip:12025550100@example.com;user=phone>;tag=x",
        "\"Bob, Jr.\" <sip:+1-202-555-0100@example.com>",
        "<tel:+12025550100;phone-context=example.com>",
        "sip:12025550100@example.com;tag=bare",
        "<sips:+12025550100;npdi@example.com>",
        "<sip:alice@example.com>",
        "<sip:example.com>",
        "<sip:%2B12025550100@example.com>",
    };
    char buf[1024], a[128], b[128];
    size_t i;

    for (i = 0; i < sizeof(vias) / sizeof(vias[0]); i++) {
        struct sip_via fast, slow;
        int rf, rs;
        snprintf(buf, sizeof buf,
                 "OPTIONS sip:x@example.com SIP/2.0\r\nVia: %s\r\n" BASE_HDRS
                 "CSeq: 1 OPTIONS\r\n\r\n",
                 vias[i]);
        parses(buf);
        rf = sip_via_parse(&msg, sip_hdr_find(&msg, SH_VIA, 0), &fast);
        rs = sip_via_parse_osip(&msg, sip_hdr_find(&msg, SH_VIA, 0), &slow);
        if (rf != rs)
            fail_msg("Via \"%s\": %d with fast paths, %d with libosip2 alone", vias[i], rf, rs);
        if (rf != 0)
            continue;
        if (strcasecmp(fast.transport, slow.transport) != 0 || strcmp(fast.host, slow.host) != 0 ||
            fast.port != slow.port || strcmp(fast.branch, slow.branch) != 0 ||
            strcmp(fast.received, slow.received) != 0 || fast.rport != slow.rport ||
            fast.value_len != slow.value_len || fast.more != slow.more)
            fail_msg("Via \"%s\" read differently: %s %s:%d b=%s r=%s rp=%d | %s %s:%d b=%s r=%s "
                     "rp=%d",
                     vias[i], fast.transport, fast.host, fast.port, fast.branch, fast.received,
                     fast.rport, slow.transport, slow.host, slow.port, slow.branch, slow.received,
                     slow.rport);
    }
    for (i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
        int rf, rs;
        snprintf(buf, sizeof buf,
                 "OPTIONS sip:x@example.com SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bK-1\r\n"
                 "From: %s\r\nTo: <sip:+12025550199@example.com>\r\nCall-ID: c1@192.0.2.1\r\n"
                 "CSeq: 1 OPTIONS\r\n\r\n",
                 froms[i]);
        parses(buf);
        a[0] = b[0] = '\0';
        rf = sip_hdr_number(&msg, sip_hdr_find(&msg, SH_FROM, 0), a, sizeof a);
        rs = sip_hdr_number_osip(&msg, sip_hdr_find(&msg, SH_FROM, 0), b, sizeof b);
        if (rf != rs || (rf == 0 && strcmp(a, b) != 0))
            fail_msg("From \"%s\": fast %d \"%s\", libosip2 %d \"%s\"", froms[i], rf, a, rs, b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sipp_invite_start_line),
        cmocka_unit_test(sipp_invite_headers),
        cmocka_unit_test(sipp_invite_body_and_cseq),
        cmocka_unit_test(sipp_invite_via),
        cmocka_unit_test(sipp_invite_numbers_and_tags),
        cmocka_unit_test(status_line_200),
        cmocka_unit_test(status_line_without_reason),
        cmocka_unit_test(status_line_code_out_of_range),
        cmocka_unit_test(compact_forms),
        cmocka_unit_test(long_names_any_case),
        cmocka_unit_test(white_space_around_colon_and_value),
        cmocka_unit_test(folded_line_belongs_to_previous_header),
        cmocka_unit_test(folded_line_before_any_header),
        cmocka_unit_test(lf_only_line_ends),
        cmocka_unit_test(several_via_lines_in_order),
        cmocka_unit_test(via_list_on_one_line),
        cmocka_unit_test(via_ipv6_host_without_brackets),
        cmocka_unit_test(via_without_host_is_refused),
        cmocka_unit_test(missing_via),
        cmocka_unit_test(missing_from),
        cmocka_unit_test(missing_to),
        cmocka_unit_test(missing_call_id),
        cmocka_unit_test(missing_cseq),
        cmocka_unit_test(cseq_not_a_number),
        cmocka_unit_test(cseq_above_2_31),
        cmocka_unit_test(cseq_at_2_31_minus_1),
        cmocka_unit_test(cseq_without_method),
        cmocka_unit_test(cseq_method_mismatch),
        cmocka_unit_test(cseq_ack_and_cancel_carry_their_own_method),
        cmocka_unit_test(cseq_twice),
        cmocka_unit_test(content_length_not_a_number),
        cmocka_unit_test(content_length_twice),
        cmocka_unit_test(body_shorter_than_content_length),
        cmocka_unit_test(bytes_after_content_length_are_ignored),
        cmocka_unit_test(no_content_length_body_is_the_rest),
        cmocka_unit_test(accepts_128_headers),
        cmocka_unit_test(refuses_129_headers),
        cmocka_unit_test(refuses_nul_in_header),
        cmocka_unit_test(accepts_nul_in_quoted_pair),
        cmocka_unit_test(nul_quoted_rules),
        cmocka_unit_test(finds_proxy_require),
        cmocka_unit_test(accepts_nul_in_body),
        cmocka_unit_test(refuses_message_over_max),
        cmocka_unit_test(refuses_bad_request_lines),
        cmocka_unit_test(accepts_lower_case_version),
        cmocka_unit_test(refuses_missing_empty_line),
        cmocka_unit_test(refuses_header_without_colon),
        cmocka_unit_test(pai_tel_number_with_parameters),
        cmocka_unit_test(pai_list_takes_first_value),
        cmocka_unit_test(number_drops_user_parameters),
        cmocka_unit_test(tel_request_uri),
        cmocka_unit_test(number_absent_or_too_long),
        cmocka_unit_test(ruri_number_of_response),
        cmocka_unit_test(to_tag_of_response),
        cmocka_unit_test(max_forwards_absent_or_bad),
        cmocka_unit_test(err_may_be_null),
        cmocka_unit_test(fast_paths_agree_with_libosip2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
