/*
 * test_tap_decode.c - the TAP's packet decoder (src/tap/decode.c) on frames built here:
 * every link type (Ethernet, VLAN and QinQ, SLL, SLL2, BSD loopback both byte orders, raw
 * IP), IPv6 extension headers, IPv4 and IPv6 fragments (in order, reversed, missing,
 * overlapping), TCP (two messages in a segment, one message over three, out of order,
 * retransmitted, a gap that never fills), truncated frames and unknown link types. Each
 * test asserts the messages (bytes, frames) and the exact counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <cmocka.h>

#include "../../src/core/trunk.h"
#include "../../src/tap/decode.h"

static const char INVITE[] = "INVITE sip:+12025550100@example.com SIP/2.0\r\n"
                             "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
                             "From: <sip:+12025550199@example.com>;tag=1\r\n"
                             "To: <sip:+12025550100@example.com>\r\n"
                             "Call-ID: 1@192.0.2.1\r\n"
                             "CSeq: 1 INVITE\r\n"
                             "Content-Length: 10\r\n"
                             "\r\n"
                             "01234567\r\n";

static const char TRYING[] = "SIP/2.0 100 Trying\r\n"
                             "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
                             "Call-ID: 1@192.0.2.1\r\n"
                             "CSeq: 1 INVITE\r\n"
                             "Content-Length: 0\r\n"
                             "\r\n";

/* --- what the callback saw ---------------------------------------------------------------- */

#define MAXMSG 32
struct seen {
    size_t n;
    char data[MAXMSG][4096];
    size_t len[MAXMSG];
    struct tap_frame_ref frames[MAXMSG][TAP_MSG_MAX_FRAMES];
    size_t nframes[MAXMSG];
    int transport[MAXMSG];
    struct sockaddr_storage src[MAXMSG], dst[MAXMSG];
    int64_t ts[MAXMSG];
};

static struct seen S;
static struct tap_decoder *D;

static void on_msg(void *arg, const struct tap_msg *m)
{
    size_t i = S.n++;

    (void)arg;
    if (i >= MAXMSG)
        return;
    assert_true(m->len <= sizeof S.data[i]);
    memcpy(S.data[i], m->data, m->len);
    S.len[i] = m->len;
    memcpy(S.frames[i], m->frames, m->nframes * sizeof *m->frames);
    S.nframes[i] = m->nframes;
    S.transport[i] = m->transport;
    S.src[i] = m->src;
    S.dst[i] = m->dst;
    S.ts[i] = m->ts_us;
}

static int setup_limits(const struct tap_decode_limits *l)
{
    memset(&S, 0, sizeof S);
    D = tap_decoder_new(l, on_msg, NULL);
    return D == NULL ? -1 : 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_limits(NULL);
}

static int teardown(void **state)
{
    (void)state;
    tap_decoder_free(D);
    D = NULL;
    return 0;
}

static uint64_t seen(enum tap_seen s)
{
    return tap_decoder_counts(D)->seen[s];
}

static uint64_t dropped(enum tap_drop r)
{
    return tap_decoder_counts(D)->drop[r];
}

/* Every drop counter is 0 except those named (pairs of reason, count; ends with -1). */
static void drops_are(int first, ...)
{
    uint64_t want[TAP_DROP_N] = {0};
    va_list ap;
    int r;

    va_start(ap, first);
    for (r = first; r >= 0; r = va_arg(ap, int))
        want[r] = (uint64_t)va_arg(ap, int);
    va_end(ap);
    for (r = 0; r < TAP_DROP_N; r++)
        if (dropped((enum tap_drop)r) != want[r]) {
            print_error("drop %s: %llu, want %llu\n", tap_drop_names[r],
                        (unsigned long long)dropped((enum tap_drop)r), (unsigned long long)want[r]);
            fail();
        }
}

static void assert_msg(size_t i, const char *want, size_t wantlen)
{
    assert_true(i < S.n);
    assert_int_equal(S.len[i], wantlen);
    assert_memory_equal(S.data[i], want, wantlen);
}

static void assert_frames(size_t i, size_t n, ...)
{
    va_list ap;
    size_t k;

    assert_int_equal(S.nframes[i], n);
    va_start(ap, n);
    for (k = 0; k < n; k++) {
        assert_int_equal(S.frames[i][k].index, va_arg(ap, int));
        assert_int_equal(S.frames[i][k].source, 0);
    }
    va_end(ap);
}

/* --- frame builders ----------------------------------------------------------------------- */

static const unsigned char A4[4] = {192, 0, 2, 1}, B4[4] = {198, 51, 100, 7};
static const unsigned char A6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const unsigned char B6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

static void wr16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void wr32(unsigned char *p, uint32_t v)
{
    wr16(p, v >> 16);
    wr16(p + 2, v & 0xffff);
}

/* UDP header + payload into out; returns its length. */
static size_t udp(unsigned char *out, unsigned sport, unsigned dport, const void *pl, size_t n)
{
    wr16(out, sport);
    wr16(out + 2, dport);
    wr16(out + 4, (unsigned)(8 + n));
    wr16(out + 6, 0);
    if (n > 0)
        memcpy(out + 8, pl, n);
    return 8 + n;
}

#define SYN 2
#define FIN 1
#define RST 4
#define ACK 16

static size_t tcp(unsigned char *out, unsigned sport, unsigned dport, uint32_t seq, unsigned flags,
                  const void *pl, size_t n)
{
    memset(out, 0, 24);
    wr16(out, sport);
    wr16(out + 2, dport);
    wr32(out + 4, seq);
    out[12] = 6 << 4; /* 24 bytes: one option word (NOPs) */
    out[13] = (unsigned char)(flags | ACK);
    memset(out + 20, 1, 4);
    if (n > 0) /* a bare ACK or FIN has no payload (pl may be NULL) */
        memcpy(out + 24, pl, n);
    return 24 + n;
}

/* IPv4 header (with 4 bytes of options) + l4 into out. fo: flags and offset field. */
static size_t ip4(unsigned char *out, unsigned proto, unsigned id, unsigned fo, const void *l4,
                  size_t n)
{
    memset(out, 0, 24);
    out[0] = 0x46;
    wr16(out + 2, (unsigned)(24 + n));
    wr16(out + 4, id);
    wr16(out + 6, fo);
    out[8] = 64;
    out[9] = (unsigned char)proto;
    memcpy(out + 12, A4, 4);
    memcpy(out + 16, B4, 4);
    out[20] = 1; /* NOP options */
    out[21] = 1;
    out[22] = 1;
    out[23] = 0;
    memcpy(out + 24, l4, n);
    return 24 + n;
}

/* IPv6 header + ext (already chained, first next header nh) + l4 into out. */
static size_t ip6(unsigned char *out, unsigned nh, const void *rest, size_t n)
{
    memset(out, 0, 40);
    out[0] = 0x60;
    wr16(out + 4, (unsigned)n);
    out[6] = (unsigned char)nh;
    out[7] = 64;
    memcpy(out + 8, A6, 16);
    memcpy(out + 24, B6, 16);
    memcpy(out + 40, rest, n);
    return 40 + n;
}

/* Link header for linktype lt carrying the IP packet ip (version from its first nibble). */
static size_t link_wrap(unsigned char *out, int lt, int variant, const unsigned char *ip, size_t n)
{
    unsigned et = (ip[0] >> 4) == 6 ? 0x86dd : 0x0800;
    size_t h = 0;

    if (lt == DLT_EN10MB) {
        memset(out, 0xaa, 12);
        h = 12;
        if (variant >= 1) { /* QinQ: 802.1ad then 802.1Q; variant 1: one 802.1Q tag */
            wr16(out + h, variant == 2 ? 0x88a8 : 0x8100);
            wr16(out + h + 2, 100);
            h += 4;
        }
        if (variant == 2) {
            wr16(out + h, 0x8100);
            wr16(out + h + 2, 200);
            h += 4;
        }
        wr16(out + h, et);
        h += 2;
    } else if (lt == DLT_LINUX_SLL) {
        memset(out, 0, 14);
        wr16(out, 0);
        wr16(out + 2, 1);
        wr16(out + 4, 6);
        wr16(out + 14, et);
        h = 16;
    } else if (lt == DLT_LINUX_SLL2) {
        memset(out, 0, 20);
        wr16(out, et);
        wr16(out + 8, 1);
        out[11] = 6;
        h = 20;
    } else if (lt == DLT_NULL || lt == DLT_LOOP) {
        /* variant 0: little-endian family, 1: big-endian */
        uint32_t af = et == 0x0800 ? 2 : (uint32_t)(variant == 1 ? 24 : 30);

        if (lt == DLT_LOOP || variant == 1) {
            wr32(out, af);
        } else {
            out[0] = (unsigned char)af;
            out[1] = out[2] = out[3] = 0;
        }
        h = 4;
    }
    memcpy(out + h, ip, n);
    return h + n;
}

static uint64_t frame_no;

static void feed_ts(int lt, const unsigned char *b, size_t n, int64_t ts)
{
    struct tap_frame f;

    f.data = b;
    f.caplen = n;
    f.len = n;
    f.linktype = lt;
    f.ts_us = ts;
    f.source = 0;
    f.index = ++frame_no;
    tap_decode_frame(D, &f);
}

static int64_t now_us = 1800000000LL * 1000000;

static void feed(int lt, const unsigned char *b, size_t n)
{
    now_us += 1000;
    feed_ts(lt, b, n, now_us);
}

/* Ethernet + IPv4 + (proto) l4 */
static void feed_eth4(unsigned proto, unsigned id, unsigned fo, const void *l4, size_t n)
{
    unsigned char ip[70000], fr[70100];
    size_t in = ip4(ip, proto, id, fo, l4, n);

    feed(DLT_EN10MB, fr, link_wrap(fr, DLT_EN10MB, 0, ip, in));
}

static void feed_tcp(uint32_t seq, unsigned flags, const void *pl, size_t n)
{
    unsigned char seg[70000];

    feed_eth4(6, 1, 0x4000, seg, tcp(seg, 40000, 5060, seq, flags, pl, n));
}

static void reset_frames(void)
{
    frame_no = 0;
}

/* --- link types --------------------------------------------------------------------------- */

static void every_link_type_carries_udp_sip(void **state)
{
    static const struct {
        int lt, variant, v6;
    } cases[] = {
        {DLT_EN10MB, 0, 0},
        {DLT_EN10MB, 1, 0},
        {DLT_EN10MB, 2, 0},
        {DLT_EN10MB, 2, 1},
        {DLT_LINUX_SLL, 0, 0},
        {DLT_LINUX_SLL, 0, 1},
        {DLT_LINUX_SLL2, 0, 0},
        {DLT_LINUX_SLL2, 0, 1},
        {DLT_NULL, 0, 0},
        {DLT_NULL, 1, 0},
        {DLT_NULL, 0, 1},
        {DLT_NULL, 1, 1},
        {DLT_LOOP, 0, 0},
        {DLT_LOOP, 0, 1},
        {DLT_RAW, 0, 0},
        {DLT_RAW, 0, 1},
        {101, 0, 0},
        {DLT_IPV4, 0, 0},
        {DLT_IPV6, 0, 1},
    };
    unsigned char u[2048], ip[2048], fr[2048];
    size_t i, un, in;

    reset_frames();
    un = udp(u, 5060, 5070, INVITE, strlen(INVITE));
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        in = cases[i].v6 ? ip6(ip, 17, u, un) : ip4(ip, 17, 7, 0x4000, u, un);
        feed(cases[i].lt, fr, link_wrap(fr, cases[i].lt, cases[i].variant, ip, in));
        assert_int_equal(S.n, i + 1);
        assert_msg(i, INVITE, strlen(INVITE));
        assert_frames(i, 1, (int)i + 1);
        assert_int_equal(S.transport[i], SW_UDP);
        if (cases[i].v6) {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&S.src[i];

            assert_int_equal(s->sin6_family, AF_INET6);
            assert_int_equal(ntohs(s->sin6_port), 5060);
            assert_memory_equal(&s->sin6_addr, A6, 16);
        } else {
            const struct sockaddr_in *s = (const struct sockaddr_in *)&S.dst[i];

            assert_int_equal(s->sin_family, AF_INET);
            assert_int_equal(ntohs(s->sin_port), 5070);
            assert_memory_equal(&s->sin_addr, B4, 4);
        }
    }
    assert_int_equal(seen(TAP_SEEN_frames), i);
    assert_int_equal(seen(TAP_SEEN_udp), i);
    assert_int_equal(seen(TAP_SEEN_sip), i);
    assert_int_equal(seen(TAP_SEEN_ipv4) + seen(TAP_SEEN_ipv6), i);
    drops_are(-1);
}

static void unknown_link_type_and_non_ip(void **state)
{
    unsigned char fr[64] = {0};

    feed(147, fr, sizeof fr); /* DLT_USER0 */
    wr16(fr + 12, 0x0806);    /* ARP */
    feed(DLT_EN10MB, fr, 60);
    wr16(fr + 12, 0x8100); /* ARP behind a VLAN tag */
    wr16(fr + 16, 0x0806);
    feed(DLT_EN10MB, fr, 60);
    assert_int_equal(S.n, 0);
    assert_int_equal(seen(TAP_SEEN_not_ip), 2);
    drops_are(TAP_DROP_linktype, 1, -1);
}

static void truncated_frames(void **state)
{
    unsigned char u[2048], ip[2048], fr[2048];
    size_t un = udp(u, 5060, 5060, INVITE, strlen(INVITE)), in, fn;

    in = ip4(ip, 17, 1, 0, u, un);
    fn = link_wrap(fr, DLT_EN10MB, 2, ip, in);
    feed(DLT_EN10MB, fr, 10);      /* Ethernet header cut */
    feed(DLT_EN10MB, fr, 16);      /* in the VLAN tags */
    feed(DLT_EN10MB, fr, 22 + 10); /* in the IPv4 header */
    feed(DLT_EN10MB, fr, fn - 1);  /* the IP total length says more */
    feed(DLT_LINUX_SLL2, fr, 19);
    feed(DLT_NULL, fr, 3);
    in = ip6(ip, 17, u, un);
    feed(DLT_RAW, ip, 39);
    feed(DLT_RAW, ip, in - 5);
    in = ip4(ip, 17, 1, 0, u, 5); /* IP says the UDP header is 5 bytes long */
    feed(DLT_RAW, ip, in);
    assert_int_equal(S.n, 0);
    drops_are(TAP_DROP_truncated, 9, -1);
    fr[0] = 0x45;
    wr16(fr + 2, 10); /* total length under the header's */
    feed(DLT_RAW, fr, 40);
    drops_are(TAP_DROP_truncated, 9, TAP_DROP_bad_ip, 1, -1);
}

static void not_sip_and_too_large(void **state)
{
    static const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    unsigned char u[2048];
    struct tap_decode_limits l;

    feed_eth4(17, 1, 0, u, udp(u, 5060, 5060, junk, strlen(junk)));
    feed_eth4(17, 1, 0, u, udp(u, 5060, 5060, "\r\n\r\n", 4));
    feed_eth4(1, 1, 0, u, 8); /* ICMP */
    assert_int_equal(seen(TAP_SEEN_not_sip), 2);
    assert_int_equal(seen(TAP_SEEN_not_udp_tcp), 1);
    teardown(state);
    tap_decode_limits_init(&l);
    l.max_msg = 100;
    assert_int_equal(setup_limits(&l), 0);
    feed_eth4(17, 1, 0, u, udp(u, 5060, 5060, INVITE, strlen(INVITE)));
    feed_tcp(1000, 0, INVITE, strlen(INVITE));
    assert_int_equal(S.n, 0);
    drops_are(TAP_DROP_sip_too_large, 2, -1);
}

/* CRLF before the start line is skipped; trailing CRLF stays part of the datagram. */
static void udp_keepalive_crlf_around_message(void **state)
{
    unsigned char u[2048];
    char pl[2048];
    int n = snprintf(pl, sizeof pl, "\r\n%s\r\n", INVITE);

    feed_eth4(17, 1, 0, u, udp(u, 5060, 5060, pl, (size_t)n));
    assert_int_equal(S.n, 1);
    assert_msg(0, pl + 2, (size_t)n - 2);
    drops_are(-1);
}

/* --- IPv6 extension headers --------------------------------------------------------------- */

static void ipv6_extension_headers(void **state)
{
    unsigned char rest[4096], ip[4096], fr[4096];
    size_t n = 0, in;

    /* hop-by-hop (8) -> routing (16) -> AH (16: len 2) -> destination options (8) -> UDP */
    memset(rest, 0, 48);
    rest[0] = 43;
    rest[1] = 0;
    rest[8] = 51;
    rest[9] = 1;
    rest[24] = 60;
    rest[25] = 2;
    rest[40] = 17;
    rest[41] = 0;
    n = 48 + udp(rest + 48, 5060, 5060, INVITE, strlen(INVITE));
    in = ip6(ip, 0, rest, n);
    reset_frames();
    feed(DLT_EN10MB, fr, link_wrap(fr, DLT_EN10MB, 0, ip, in));
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, strlen(INVITE));
    /* ESP: not readable */
    in = ip6(ip, 50, rest, 64);
    feed(DLT_RAW, ip, in);
    assert_int_equal(S.n, 1);
    assert_int_equal(seen(TAP_SEEN_not_udp_tcp), 1);
    drops_are(-1);
}

/* --- fragments ---------------------------------------------------------------------------- */

/* The UDP datagram carrying INVITE, cut in three: 8+96 bytes, 96, the rest. */
static unsigned char dgram[2048];
static size_t dgram_len;

static void make_dgram(void)
{
    dgram_len = udp(dgram, 5060, 5060, INVITE, strlen(INVITE));
}

static const size_t cut[4] = {0, 104, 200, 0};

static void frag4(int k, uint16_t id)
{
    size_t off = cut[k], end = k == 2 ? dgram_len : cut[k + 1];

    feed_eth4(17, id, (unsigned)(off / 8) | (k < 2 ? 0x2000 : 0), dgram + off, end - off);
}

static void frag6(int k, uint32_t id, int with_dstopt)
{
    unsigned char rest[2048], ip[2048];
    size_t off = cut[k], end = k == 2 ? dgram_len : cut[k + 1], h = 0;

    if (with_dstopt) { /* an unfragmentable destination options header first */
        memset(rest, 0, 8);
        rest[0] = 44;
        h = 8;
    }
    rest[h] = 17;
    rest[h + 1] = 0;
    wr16(rest + h + 2, (unsigned)off | (k < 2 ? 1 : 0));
    wr32(rest + h + 4, id);
    memcpy(rest + h + 8, dgram + off, end - off);
    feed(DLT_RAW, ip, ip6(ip, with_dstopt ? 60 : 44, rest, h + 8 + end - off));
}

static void ipv4_fragments_in_order_and_reversed(void **state)
{
    make_dgram();
    reset_frames();
    frag4(0, 11);
    frag4(1, 11);
    assert_int_equal(S.n, 0);
    frag4(2, 11);
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, strlen(INVITE));
    assert_frames(0, 3, 1, 2, 3);
    frag4(2, 12);
    frag4(1, 12);
    frag4(0, 12);
    assert_int_equal(S.n, 2);
    assert_msg(1, INVITE, strlen(INVITE));
    assert_frames(1, 3, 4, 5, 6);
    assert_int_equal(seen(TAP_SEEN_fragments), 6);
    assert_int_equal(seen(TAP_SEEN_reassembled), 2);
    assert_int_equal(seen(TAP_SEEN_udp), 2);
    size_t held;
    tap_decoder_held(D, &held, NULL, NULL);
    assert_int_equal(held, 0);
    drops_are(-1);
}

static void ipv6_fragments_in_order_and_reversed(void **state)
{
    make_dgram();
    reset_frames();
    frag6(0, 0x10001, 0);
    frag6(1, 0x10001, 0);
    frag6(2, 0x10001, 0);
    frag6(1, 0x10002, 1);
    frag6(2, 0x10002, 1);
    frag6(0, 0x10002, 1);
    assert_int_equal(S.n, 2);
    assert_msg(0, INVITE, strlen(INVITE));
    assert_msg(1, INVITE, strlen(INVITE));
    assert_frames(0, 3, 1, 2, 3);
    assert_frames(1, 3, 4, 5, 6);
    assert_int_equal(((const struct sockaddr_in6 *)&S.src[1])->sin6_family, AF_INET6);
    assert_int_equal(seen(TAP_SEEN_reassembled), 2);
    drops_are(-1);
}

static void missing_fragment_times_out(void **state)
{
    make_dgram();
    frag4(0, 21);
    frag4(2, 21);
    frag6(0, 22, 0);
    tap_decoder_finish(D); /* at the end of input */
    assert_int_equal(S.n, 0);
    drops_are(TAP_DROP_frag_timeout, 2, -1);
    frag4(0, 23);
    now_us += 29 * 1000000LL; /* not yet */
    frag4(1, 24);
    drops_are(TAP_DROP_frag_timeout, 2, -1);
    now_us += 2 * 1000000LL; /* 31 s after the first: expired */
    frag4(0, 25);
    drops_are(TAP_DROP_frag_timeout, 3, -1);
    size_t held;
    tap_decoder_held(D, &held, NULL, NULL);
    assert_true(held > 0);
    tap_decoder_finish(D);
    drops_are(TAP_DROP_frag_timeout, 5, -1);
    tap_decoder_held(D, &held, NULL, NULL);
    assert_int_equal(held, 0);
}

static void overlapping_fragment_with_other_bytes_dropped(void **state)
{
    make_dgram();
    reset_frames();
    frag4(0, 31);
    frag4(1, 31);
    dgram[110] ^= 0x20; /* a second fragment 1 whose bytes differ */
    frag4(1, 31);
    dgram[110] ^= 0x20;
    frag4(1, 31); /* the same again: no harm */
    frag4(2, 31);
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, strlen(INVITE));
    assert_frames(0, 3, 1, 2, 5);
    drops_are(TAP_DROP_frag_overlap, 1, -1);
}

static void fragment_memory_cap(void **state)
{
    struct tap_decode_limits l;

    teardown(state);
    tap_decode_limits_init(&l);
    l.frag_mem = 2000; /* room for one datagram's entry and a little */
    assert_int_equal(setup_limits(&l), 0);
    make_dgram();
    frag4(0, 41);
    frag4(0, 42);
    frag4(0, 43);
    assert_true(dropped(TAP_DROP_frag_memory) >= 1);
    tap_decoder_finish(D);
    assert_int_equal(dropped(TAP_DROP_frag_memory) + dropped(TAP_DROP_frag_timeout), 3);
}

/* --- TCP ---------------------------------------------------------------------------------- */

static void tcp_two_messages_in_one_segment(void **state)
{
    char two[4096];
    int n = snprintf(two, sizeof two, "%s%s", INVITE, TRYING);

    reset_frames();
    feed_tcp(999, SYN, NULL, 0);
    feed_tcp(1000, 0, two, (size_t)n);
    assert_int_equal(S.n, 2);
    assert_msg(0, INVITE, strlen(INVITE));
    assert_msg(1, TRYING, strlen(TRYING));
    assert_frames(0, 1, 2);
    assert_frames(1, 1, 2);
    assert_int_equal(S.transport[0], SW_TCP);
    assert_int_equal(ntohs(((const struct sockaddr_in *)&S.src[0])->sin_port), 40000);
    feed_tcp(1000 + (uint32_t)n, FIN, NULL, 0);
    size_t flows;
    tap_decoder_held(D, NULL, NULL, &flows);
    assert_int_equal(flows, 0);
    assert_int_equal(seen(TAP_SEEN_tcp), 3);
    drops_are(-1);
}

static void tcp_one_message_over_three_segments(void **state)
{
    size_t len = strlen(INVITE), held;

    reset_frames();
    feed_tcp(5000, 0, INVITE, 50);
    feed_tcp(5050, 0, INVITE + 50, 100);
    assert_int_equal(S.n, 0);
    tap_decoder_held(D, NULL, &held, NULL);
    assert_true(held >= 150);
    feed_tcp(5150, 0, INVITE + 150, len - 150);
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, len);
    assert_frames(0, 3, 1, 2, 3);
    tap_decoder_held(D, NULL, &held, NULL);
    assert_int_equal(held, 0);
    /* then a message over two segments straight after one in the same segment */
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s%s", TRYING, INVITE);
    size_t first = strlen(TRYING) + 100;
    feed_tcp((uint32_t)(5000 + len), 0, buf, first);
    feed_tcp((uint32_t)(5000 + len + first), 0, buf + first, (size_t)n - first);
    assert_int_equal(S.n, 3);
    assert_msg(1, TRYING, strlen(TRYING));
    assert_frames(1, 1, 4);
    assert_msg(2, INVITE, len);
    assert_frames(2, 2, 4, 5);
    drops_are(-1);
}

static void tcp_out_of_order_and_wraparound(void **state)
{
    size_t len = strlen(INVITE);
    uint32_t isn = 0xffffff00u; /* the sequence numbers wrap inside the message */

    reset_frames();
    feed_tcp(isn, SYN, NULL, 0);
    feed_tcp(isn + 1 + 200, 0, INVITE + 200, len - 200);
    feed_tcp(isn + 1 + 100, 0, INVITE + 100, 100);
    assert_int_equal(S.n, 0);
    feed_tcp(isn + 1, 0, INVITE, 100);
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, len);
    assert_frames(0, 3, 4, 3, 2);
    assert_int_equal(seen(TAP_SEEN_tcp_out_of_order), 2);
    drops_are(-1);
}

static void tcp_retransmission_dropped(void **state)
{
    size_t len = strlen(INVITE);

    reset_frames();
    feed_tcp(7000, 0, INVITE, 100);
    feed_tcp(7000, 0, INVITE, 100);      /* the same again */
    feed_tcp(7050, 0, INVITE + 50, 150); /* 50 old bytes, 100 new */
    feed_tcp(7200, 0, INVITE + 200, len - 200);
    feed_tcp(7200, 0, INVITE + 200, len - 200);
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, len);
    assert_frames(0, 3, 1, 3, 4);
    assert_int_equal(seen(TAP_SEEN_tcp_retransmitted), 3);
    drops_are(-1);
}

static void tcp_gap_skipped_and_resynced(void **state)
{
    size_t len = strlen(INVITE);
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s%s", INVITE, TRYING);

    reset_frames();
    /* INVITE's first 100 bytes, then its 100 next never come, then the rest and a 100 */
    feed_tcp(1, 0, buf, 100);
    feed_tcp(201, 0, buf + 200, (size_t)n - 200);
    assert_int_equal(S.n, 0);
    now_us += 2500000; /* 2.5 s later, another segment of the flow: the gap is given up */
    feed_tcp((uint32_t)(1 + n), 0, INVITE, len);
    assert_int_equal(S.n, 2);
    assert_msg(0, TRYING, strlen(TRYING));
    assert_frames(0, 1, 2);
    assert_msg(1, INVITE, len);
    assert_frames(1, 1, 3);
    drops_are(TAP_DROP_tcp_gap, 100, -1);
    /* a gap still open at the end of input: skipped by finish() */
    feed_tcp((uint32_t)(1 + n + len + 50), 0, TRYING, strlen(TRYING));
    tap_decoder_finish(D);
    assert_int_equal(S.n, 3);
    drops_are(TAP_DROP_tcp_gap, 150, -1);
}

static void tcp_gap_skipped_by_timer(void **state)
{
    reset_frames();
    feed_tcp(1, 0, INVITE, 100);
    feed_tcp(301, 0, TRYING, strlen(TRYING));
    now_us += 3000000; /* another flow's frame 3 s later: the once-a-second check */
    feed_eth4(1, 1, 0, "icmp", 4);
    assert_int_equal(S.n, 1);
    assert_msg(0, TRYING, strlen(TRYING));
    drops_are(TAP_DROP_tcp_gap, 200, -1);
}

static void tcp_stream_not_starting_with_sip(void **state)
{
    static const char junk[] = "ontinuation of a message we did not see\r\n\r\n";

    reset_frames();
    feed_tcp(1, 0, junk, strlen(junk));
    feed_tcp((uint32_t)(1 + strlen(junk)), 0, "more junk", 9);
    feed_tcp((uint32_t)(10 + strlen(junk)), 0, TRYING, strlen(TRYING));
    assert_int_equal(S.n, 1);
    assert_msg(0, TRYING, strlen(TRYING));
    assert_frames(0, 1, 3);
    assert_int_equal(seen(TAP_SEEN_not_sip), 2);
    drops_are(-1);
}

static void tcp_idle_flow_with_half_message(void **state)
{
    size_t flows;

    feed_tcp(1, 0, INVITE, 100);
    now_us += 301 * 1000000LL;
    feed_eth4(1, 1, 0, "icmp", 4);
    tap_decoder_held(D, NULL, NULL, &flows);
    assert_int_equal(flows, 0);
    drops_are(TAP_DROP_tcp_idle, 1, -1);
    feed_tcp(5000, 0, INVITE, 100); /* and one at the end of input */
    feed_tcp(7000, RST, NULL, 0);   /* another 4-tuple? no: the same, reset: counted too */
    drops_are(TAP_DROP_tcp_idle, 2, -1);
    tap_decoder_finish(D);
    drops_are(TAP_DROP_tcp_idle, 2, -1);
}

static void tcp_flow_and_memory_limits(void **state)
{
    struct tap_decode_limits l;
    unsigned char seg[4096];

    teardown(state);
    tap_decode_limits_init(&l);
    l.tcp_max_flows = 1;
    l.tcp_mem = 300;
    assert_int_equal(setup_limits(&l), 0);
    feed_tcp(1, 0, INVITE, 200);
    feed_eth4(6, 1, 0, seg, tcp(seg, 40001, 5060, 1, 0, INVITE, 100)); /* a second flow */
    drops_are(TAP_DROP_tcp_flows, 1, -1);
    feed_tcp(401, 0, INVITE, 200); /* held behind a gap: over 300 bytes */
    drops_are(TAP_DROP_tcp_flows, 1, TAP_DROP_tcp_memory, 1, -1);
    tap_decoder_finish(D);
    drops_are(TAP_DROP_tcp_flows, 1, TAP_DROP_tcp_memory, 1, TAP_DROP_tcp_idle, 1, -1);
}

static void tcp_message_in_one_byte_segments(void **state)
{
    size_t len = strlen(INVITE), i;

    reset_frames();
    for (i = 0; i < len; i++)
        feed_tcp((uint32_t)(100 + i), 0, INVITE + i, 1);
    assert_int_equal(S.n, 1);
    assert_msg(0, INVITE, len);
    assert_int_equal(S.nframes[0], TAP_MSG_MAX_FRAMES); /* the list is cut, not the message */
    assert_int_equal(S.frames[0][0].index, 1);
    assert_int_equal(S.frames[0][TAP_MSG_MAX_FRAMES - 1].index, TAP_MSG_MAX_FRAMES);
    drops_are(-1);
}

/* A WebSocket frame header (RFC 6455 5.2) for n payload bytes; mask NULL: unmasked. */
static size_t ws_head(unsigned char *out, size_t n, const unsigned char *mask)
{
    size_t h = 2;

    out[0] = 0x81; /* FIN, text */
    if (n < 126) {
        out[1] = (unsigned char)n;
    } else {
        out[1] = 126;
        wr16(out + 2, (unsigned)n);
        h = 4;
    }
    if (mask != NULL) {
        out[1] |= 0x80;
        memcpy(out + h, mask, 4);
        h += 4;
    }
    return h;
}

static void websocket_frames_carry_sip(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: sbc.example.com\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                               "Connection: Upgrade\r\n\r\n";
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    unsigned char seg[8192], l4[8192];
    size_t n, i, len = strlen(INVITE);

    reset_frames();
    /* the client: the upgrade and a masked INVITE in one segment, then a ping */
    memcpy(seg, req, strlen(req));
    n = strlen(req);
    n += ws_head(seg + n, len, mask);
    for (i = 0; i < len; i++)
        seg[n + i] = (unsigned char)(INVITE[i] ^ mask[i & 3]);
    n += len;
    feed_eth4(6, 1, 0, l4, tcp(l4, 40000, 5060, 1, 0, seg, n));
    seg[0] = 0x89; /* ping */
    seg[1] = 0x80;
    memcpy(seg + 2, mask, 4);
    feed_eth4(6, 1, 0, l4, tcp(l4, 40000, 5060, (uint32_t)(1 + n), 0, seg, 6));
    /* the server: the 101, then a 100 Trying over two segments */
    feed_eth4(6, 1, 0, l4, tcp(l4, 5060, 40000, 9, 0, resp, strlen(resp)));
    n = ws_head(seg, strlen(TRYING), NULL);
    memcpy(seg + n, TRYING, strlen(TRYING));
    n += strlen(TRYING);
    feed_eth4(6, 1, 0, l4, tcp(l4, 5060, 40000, (uint32_t)(9 + strlen(resp)), 0, seg, 30));
    feed_eth4(6, 1, 0, l4,
              tcp(l4, 5060, 40000, (uint32_t)(9 + strlen(resp) + 30), 0, seg + 30, n - 30));
    assert_int_equal(S.n, 2);
    assert_msg(0, INVITE, len);
    assert_frames(0, 1, 1);
    assert_int_equal(S.transport[0], SW_TCP);
    assert_msg(1, TRYING, strlen(TRYING));
    assert_frames(1, 2, 4, 5);
    assert_int_equal(seen(TAP_SEEN_websocket), 2);
    assert_int_equal(seen(TAP_SEEN_not_sip), 0);
    drops_are(-1);
}

/* --- speed -------------------------------------------------------------------------------- */

static void udp_decode_speed(void **state)
{
    unsigned char u[2048], ip[2048], fr[2048];
    size_t fn = link_wrap(fr, DLT_EN10MB, 1, ip,
                          ip4(ip, 17, 1, 0, u, udp(u, 5060, 5060, INVITE, strlen(INVITE))));
    struct tap_decoder *d = tap_decoder_new(NULL, on_msg, NULL);
    struct timespec t0, t1;
    struct tap_frame f = {fr, fn, fn, DLT_EN10MB, now_us, 0, 0};
    const unsigned N = 1000000;
    unsigned i;
    double s;

    assert_non_null(d);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < N; i++) {
        S.n = 0;
        f.index = i + 1;
        f.ts_us += 10;
        tap_decode_frame(d, &f);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(tap_decoder_counts(d)->seen[TAP_SEEN_sip], N);
    s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("decode speed: %.0f UDP SIP frames/s\n", N / s);
    tap_decoder_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_link_type_carries_udp_sip, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_link_type_and_non_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(not_sip_and_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(udp_keepalive_crlf_around_message, setup, teardown),
        cmocka_unit_test_setup_teardown(ipv6_extension_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(ipv4_fragments_in_order_and_reversed, setup, teardown),
        cmocka_unit_test_setup_teardown(ipv6_fragments_in_order_and_reversed, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_fragment_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(overlapping_fragment_with_other_bytes_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(fragment_memory_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_two_messages_in_one_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_one_message_over_three_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_out_of_order_and_wraparound, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_retransmission_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_gap_skipped_and_resynced, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_gap_skipped_by_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_stream_not_starting_with_sip, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_idle_flow_with_half_message, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_flow_and_memory_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_message_in_one_byte_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(websocket_frames_carry_sip, setup, teardown),
        cmocka_unit_test(udp_decode_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
