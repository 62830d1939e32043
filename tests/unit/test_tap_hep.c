/*
 * test_tap_hep.c - HEP decoding (src/tap/hep.c) on packets built here chunk by chunk: a
 * plain and a compressed SIP payload, IPv6 addresses, the auth key right, wrong and
 * missing, unknown chunks and vendors skipped, a chunk that overruns the packet, a length
 * field that lies, a non-SIP payload, HEPv2; then the listener over UDP and TCP on
 * 127.0.0.1 (counted drops, a stream that is not HEP closed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "../../src/core/addr.h"
#include "../../src/core/trunk.h"
#include "../../src/tap/hep.h"

static const char SIP[] = "INVITE sip:b@example.com SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1\r\n"
                          "Call-ID: 1@x\r\n"
                          "CSeq: 1 INVITE\r\n"
                          "Content-Length: 0\r\n"
                          "\r\n";

/* A HEPv3 packet under construction: the length field is set by pkt_end. */
struct pkt {
    unsigned char b[70000];
    size_t len;
};

static void pkt_start(struct pkt *p)
{
    memcpy(p->b, "HEP3\0\0", 6);
    p->len = 6;
}

static void chunk(struct pkt *p, unsigned vendor, unsigned type, const void *v, size_t vlen)
{
    unsigned char *c = p->b + p->len;
    size_t clen = vlen + 6;
    c[0] = (unsigned char)(vendor >> 8);
    c[1] = (unsigned char)vendor;
    c[2] = (unsigned char)(type >> 8);
    c[3] = (unsigned char)type;
    c[4] = (unsigned char)(clen >> 8);
    c[5] = (unsigned char)clen;
    memcpy(c + 6, v, vlen);
    p->len += clen;
}

static void chunk8(struct pkt *p, unsigned type, unsigned v)
{
    unsigned char b = (unsigned char)v;
    chunk(p, 0, type, &b, 1);
}

static void chunk16(struct pkt *p, unsigned type, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    chunk(p, 0, type, b, 2);
}

static void chunk32(struct pkt *p, unsigned type, uint32_t v)
{
    uint32_t n = htonl(v);
    chunk(p, 0, type, &n, 4);
}

static void pkt_end(struct pkt *p)
{
    p->b[4] = (unsigned char)(p->len >> 8);
    p->b[5] = (unsigned char)p->len;
}

/* The usual chunks of a SIP-over-UDP packet from 192.0.2.1:5060 to 192.0.2.2:5070. */
static void pkt_v4(struct pkt *p, int proto)
{
    struct in_addr a;

    pkt_start(p);
    chunk8(p, 0x01, 2);
    chunk8(p, 0x02, (unsigned)proto);
    inet_pton(AF_INET, "192.0.2.1", &a);
    chunk(p, 0, 0x03, &a, 4);
    inet_pton(AF_INET, "192.0.2.2", &a);
    chunk(p, 0, 0x04, &a, 4);
    chunk16(p, 0x07, 5060);
    chunk16(p, 0x08, 5070);
    chunk32(p, 0x09, 1700000000);
    chunk32(p, 0x0a, 123456);
    chunk8(p, 0x0b, 1);
    chunk32(p, 0x0c, 2001);
}

static struct tap_hep_buf scratch;

static enum tap_drop decode(const struct pkt *p, const char *key, struct tap_msg *m)
{
    return tap_hep_decode(p->b, p->len, key, &scratch, m);
}

static void assert_addr(const struct sockaddr_storage *ss, const char *want)
{
    char s[SW_ADDR_STRLEN];
    sw_addr_str((const struct sockaddr *)ss, s, sizeof(s));
    assert_string_equal(s, want);
}

static void v3_plain_payload(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    assert_memory_equal(m.data, SIP, m.len);
    assert_addr(&m.src, "192.0.2.1:5060");
    assert_addr(&m.dst, "192.0.2.2:5070");
    assert_int_equal(m.transport, SW_UDP);
    assert_true(m.ts_us == (int64_t)1700000000 * 1000000 + 123456);
    assert_null(m.frames);
}

static void v3_tcp_transport(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_v4(&p, 6);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.transport, SW_TCP);
}

static void v3_compressed_payload(void **state)
{
    struct pkt p;
    struct tap_msg m;
    unsigned char z[1024];
    uLongf zlen = sizeof(z);

    assert_int_equal(compress(z, &zlen, (const Bytef *)SIP, strlen(SIP)), Z_OK);
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x10, z, zlen);
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    assert_memory_equal(m.data, SIP, m.len);
    assert_ptr_equal(m.data, (const char *)scratch.inflated);
}

static void deflated_payload(int wbits);

/* Raw deflate (-15) and the gzip wrapper (31), which some agents send. */
static void v3_raw_deflate_and_gzip_payloads(void **state)
{
    for (int wbits = -15; wbits <= 31; wbits += 46)
        deflated_payload(wbits);
}

static void deflated_payload(int wbits)
{
    struct pkt p;
    struct tap_msg m;
    unsigned char z[1024];
    z_stream s;

    memset(&s, 0, sizeof(s));
    assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (Bytef *)SIP;
    s.avail_in = (uInt)strlen(SIP);
    s.next_out = z;
    s.avail_out = sizeof(z);
    assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t zlen = s.total_out;
    deflateEnd(&s);
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x10, z, zlen);
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    assert_memory_equal(m.data, SIP, m.len);
}

static void v3_compressed_garbage_is_inflate_drop(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_v4(&p, 17);
    chunk(&p, 0, 0x10, "not deflate at all", 18);
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_hep_inflate);
}

static void v3_ipv6_addresses(void **state)
{
    struct pkt p;
    struct tap_msg m;
    struct in6_addr a;

    pkt_start(&p);
    chunk8(&p, 0x01, 10);
    chunk8(&p, 0x02, 17);
    inet_pton(AF_INET6, "2001:db8::1", &a);
    chunk(&p, 0, 0x05, &a, 16);
    inet_pton(AF_INET6, "2001:db8::2", &a);
    chunk(&p, 0, 0x06, &a, 16);
    chunk16(&p, 0x07, 5060);
    chunk16(&p, 0x08, 5061);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_addr(&m.src, "[2001:db8::1]:5060");
    assert_addr(&m.dst, "[2001:db8::2]:5061");
    assert_int_equal(m.ts_us, 0);
}

static void v3_auth_key(void **state)
{
    struct pkt p;
    struct tap_msg m;

    /* right */
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0e, "secret", 6);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, "secret", &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    /* not checked when none is configured */
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(decode(&p, "", &m), TAP_DROP_none);
    /* wrong, or a prefix of the key */
    assert_int_equal(decode(&p, "secreT", &m), TAP_DROP_hep_auth);
    assert_int_equal(decode(&p, "secret2", &m), TAP_DROP_hep_auth);
    /* with its terminating NUL, as some agents send it */
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0e, "secret", 7);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, "secret", &m), TAP_DROP_none);
    /* missing */
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, "secret", &m), TAP_DROP_hep_auth);
    /* under another vendor it is not the key */
    pkt_v4(&p, 17);
    chunk(&p, 0x0022, 0x0e, "secret", 6);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, "secret", &m), TAP_DROP_hep_auth);
}

static void v3_unknown_chunks_skipped(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_v4(&p, 17);
    chunk(&p, 0, 0x11, "corr-id", 7);               /* correlation id */
    chunk(&p, 0, 0x7777, "whatever", 8);            /* unknown generic type */
    chunk(&p, 0x0022, 0x0f, "not the payload", 15); /* another vendor's "payload" */
    chunk(&p, 0x0022, 0x01, "xxxx", 4);             /* another vendor's chunk of another size */
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    assert_memory_equal(m.data, SIP, m.len);
}

static void v3_truncated_chunk_is_malformed(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    /* the last chunk says it is 10 bytes longer than the packet */
    size_t last = p.len - strlen(SIP) - 6;
    unsigned clen = (unsigned)(strlen(SIP) + 16);
    p.b[last + 4] = (unsigned char)(clen >> 8);
    p.b[last + 5] = (unsigned char)clen;
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_hep_malformed);
    /* a chunk length below its own header */
    p.b[last + 4] = 0;
    p.b[last + 5] = 3;
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_hep_malformed);
    /* a chunk of the wrong size for its type */
    pkt_start(&p);
    chunk(&p, 0, 0x07, "\x13\xc4\x00", 3);
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_hep_malformed);
}

static void v3_length_field_lies(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    /* longer than the packet */
    assert_int_equal(tap_hep_decode(p.b, p.len - 1, NULL, &scratch, &m), TAP_DROP_hep_malformed);
    /* shorter than the packet: a chunk now overruns the declared length */
    p.b[4] = (unsigned char)((p.len - 1) >> 8);
    p.b[5] = (unsigned char)(p.len - 1);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_hep_malformed);
    /* below the header */
    p.b[4] = 0;
    p.b[5] = 2;
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_hep_malformed);
    /* trailing bytes after the declared length are ignored */
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    memcpy(p.b + p.len, "junk", 4);
    assert_int_equal(tap_hep_decode(p.b, p.len + 4, NULL, &scratch, &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    /* too short to hold the header, and not HEP at all */
    assert_int_equal(tap_hep_decode(p.b, 5, NULL, &scratch, &m), TAP_DROP_hep_malformed);
    assert_int_equal(
        tap_hep_decode((const unsigned char *)"GET / HTTP/1.1", 14, NULL, &scratch, &m),
        TAP_DROP_hep_malformed);
}

static void v3_not_sip_ignored(void **state)
{
    struct pkt p;
    struct tap_msg m;

    pkt_start(&p);
    chunk8(&p, 0x0b, 5); /* RTCP */
    chunk(&p, 0, 0x0f, "{\"rtcp\":1}", 10);
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.len, 0);
    /* no payload at all (a keep-alive) */
    pkt_v4(&p, 17);
    pkt_end(&p);
    assert_int_equal(decode(&p, NULL, &m), TAP_DROP_none);
    assert_int_equal(m.len, 0);
}

/* HEPv2 as captagent writes it: header, addresses, then seconds/microseconds/capture id
   in the sender's (little-endian) byte order, then the payload. */
static size_t build_v2(unsigned char *b, int version, int family)
{
    size_t iplen = family == 2 ? 8 : 32, off;
    b[0] = (unsigned char)version;
    b[1] = (unsigned char)(8 + iplen);
    b[2] = (unsigned char)family;
    b[3] = 6; /* TCP */
    b[4] = 5060 >> 8;
    b[5] = 5060 & 0xff;
    b[6] = 5080 >> 8;
    b[7] = 5080 & 0xff;
    if (family == 2) {
        inet_pton(AF_INET, "198.51.100.1", b + 8);
        inet_pton(AF_INET, "198.51.100.2", b + 12);
    } else {
        inet_pton(AF_INET6, "2001:db8::a", b + 8);
        inet_pton(AF_INET6, "2001:db8::b", b + 24);
    }
    off = 8 + iplen;
    if (version == 2) {
        uint32_t sec = 1700000001, usec = 42;
        unsigned char t[12] = {(unsigned char)sec,
                               (unsigned char)(sec >> 8),
                               (unsigned char)(sec >> 16),
                               (unsigned char)(sec >> 24),
                               (unsigned char)usec,
                               0,
                               0,
                               0,
                               0xd1,
                               0x07,
                               0,
                               0};
        memcpy(b + off, t, 12);
        off += 12;
    }
    memcpy(b + off, SIP, strlen(SIP));
    return off + strlen(SIP);
}

static void v2_packet(void **state)
{
    unsigned char b[1024];
    struct tap_msg m;
    size_t n = build_v2(b, 2, 2);

    assert_int_equal(tap_hep_decode(b, n, NULL, &scratch, &m), TAP_DROP_none);
    assert_int_equal(m.len, strlen(SIP));
    assert_memory_equal(m.data, SIP, m.len);
    assert_addr(&m.src, "198.51.100.1:5060");
    assert_addr(&m.dst, "198.51.100.2:5080");
    assert_int_equal(m.transport, SW_TCP);
    assert_true(m.ts_us == (int64_t)1700000001 * 1000000 + 42);
    /* v2 over IPv6, and v1 (no time) */
    n = build_v2(b, 2, 10);
    assert_int_equal(tap_hep_decode(b, n, NULL, &scratch, &m), TAP_DROP_none);
    assert_addr(&m.src, "[2001:db8::a]:5060");
    assert_int_equal(m.len, strlen(SIP));
    n = build_v2(b, 1, 2);
    assert_int_equal(tap_hep_decode(b, n, NULL, &scratch, &m), TAP_DROP_none);
    assert_int_equal(m.ts_us, 0);
    assert_int_equal(m.len, strlen(SIP));
    /* no place for a key: refused when one is required */
    assert_int_equal(tap_hep_decode(b, n, "secret", &scratch, &m), TAP_DROP_hep_auth);
    /* cut inside the addresses; a bad family */
    assert_int_equal(tap_hep_decode(b, 12, NULL, &scratch, &m), TAP_DROP_hep_malformed);
    b[2] = 7;
    assert_int_equal(tap_hep_decode(b, n, NULL, &scratch, &m), TAP_DROP_hep_malformed);
}

/* --- the listener --- */

struct got {
    int n;
    char last[512];
    char src[SW_ADDR_STRLEN];
    int transport;
};

static void on_msg(void *arg, const struct tap_msg *m)
{
    struct got *g = arg;
    size_t n = m->len < sizeof(g->last) - 1 ? m->len : sizeof(g->last) - 1;
    memcpy(g->last, m->data, n);
    g->last[n] = '\0';
    sw_addr_str((const struct sockaddr *)&m->src, g->src, sizeof(g->src));
    g->transport = m->transport;
    g->n++;
}

/* Polls until want messages came or the listener's counters show done drops (2 s at most). */
static void pump(struct tap_hep_listener *l, struct got *g, int want, int drops)
{
    for (int i = 0; i < 200; i++) {
        const struct tap_counts *c = tap_hep_counts(l);
        uint64_t d = c->drop[TAP_DROP_hep_malformed] + c->drop[TAP_DROP_hep_auth];
        if (g->n >= want && d >= (uint64_t)drops)
            return;
        assert_true(tap_hep_poll(l, 10, on_msg, g) >= 0);
    }
}

static int connect_to(int type, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void listener_udp(void **state)
{
    char err[256];
    struct got g = {0};
    struct pkt p;
    struct tap_hep_listener *l = tap_hep_listen("udp:127.0.0.1:0", "key", err, sizeof(err));

    assert_non_null(l);
    int port = tap_hep_local_port(l);
    assert_true(port > 0);
    int fds[4];
    assert_int_equal(tap_hep_fds(l, fds, 4), 1);
    assert_int_equal(fds[0], tap_hep_fd(l));

    int fd = connect_to(SOCK_DGRAM, port);
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0e, "key", 3);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    assert_int_equal(send(fd, p.b, p.len, 0), (ssize_t)p.len);
    assert_int_equal(send(fd, p.b, p.len, 0), (ssize_t)p.len);
    assert_int_equal(send(fd, "garbage", 7, 0), 7);
    pkt_v4(&p, 17);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP)); /* no key */
    pkt_end(&p);
    assert_int_equal(send(fd, p.b, p.len, 0), (ssize_t)p.len);
    pump(l, &g, 2, 2);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.last, SIP);
    assert_string_equal(g.src, "192.0.2.1:5060");
    const struct tap_counts *c = tap_hep_counts(l);
    assert_int_equal(c->seen[TAP_SEEN_hep], 4);
    assert_int_equal(c->seen[TAP_SEEN_sip], 2);
    assert_int_equal(c->drop[TAP_DROP_hep_malformed], 1);
    assert_int_equal(c->drop[TAP_DROP_hep_auth], 1);
    close(fd);
    tap_hep_close(l);
}

static void listener_tcp(void **state)
{
    char err[256];
    struct got g = {0};
    struct pkt p;
    struct tap_hep_listener *l = tap_hep_listen("tcp:127.0.0.1:0", NULL, err, sizeof(err));

    assert_non_null(l);
    int port = tap_hep_local_port(l);
    int fd = connect_to(SOCK_STREAM, port);
    pkt_v4(&p, 6);
    chunk(&p, 0, 0x0f, SIP, strlen(SIP));
    pkt_end(&p);
    /* two packets in one write, then a third split across two writes */
    unsigned char two[2 * sizeof(p.b)];
    memcpy(two, p.b, p.len);
    memcpy(two + p.len, p.b, p.len);
    assert_int_equal(write(fd, two, 2 * p.len), (ssize_t)(2 * p.len));
    pump(l, &g, 2, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(write(fd, p.b, 10), 10);
    pump(l, &g, 3, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(write(fd, p.b + 10, p.len - 10), (ssize_t)(p.len - 10));
    pump(l, &g, 3, 0);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.last, SIP);
    assert_int_equal(g.transport, SW_TCP);
    int fds[4];
    assert_int_equal(tap_hep_fds(l, fds, 4), 2);

    /* a stream that is not HEP3 is closed and counted */
    int bad = connect_to(SOCK_STREAM, port);
    assert_int_equal(write(bad, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    pump(l, &g, 3, 1);
    assert_int_equal(tap_hep_counts(l)->drop[TAP_DROP_hep_malformed], 1);
    char b;
    for (int i = 0; i < 100 && tap_hep_fds(l, fds, 4) != 2; i++)
        tap_hep_poll(l, 10, on_msg, &g);
    assert_int_equal(tap_hep_fds(l, fds, 4), 2);
    assert_int_equal(read(bad, &b, 1), 0); /* closed by the listener */
    close(bad);
    close(fd);
    tap_hep_close(l);
}

static void listener_bad_specs(void **state)
{
    char err[256];

    assert_null(tap_hep_listen("sctp:127.0.0.1:9060", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "sctp:127.0.0.1:9060"));
    assert_null(tap_hep_listen("udp:localhost:9060", NULL, err, sizeof(err)));
    assert_null(tap_hep_listen("udp:127.0.0.1", NULL, err, sizeof(err)));
    assert_null(tap_hep_listen("udp:127.0.0.1:70000", NULL, err, sizeof(err)));
    assert_null(tap_hep_listen("tcp:[::1:9060", NULL, err, sizeof(err)));
    assert_null(tap_hep_listen("udp:192.0.2.77:9060", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "bind"));
    struct tap_hep_listener *l = tap_hep_listen("udp:[::1]:0", NULL, err, sizeof(err));
    if (l != NULL) /* a host without IPv6 loopback skips this one */
        assert_true(tap_hep_local_port(l) > 0);
    tap_hep_close(l);
    tap_hep_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v3_plain_payload),
        cmocka_unit_test(v3_tcp_transport),
        cmocka_unit_test(v3_compressed_payload),
        cmocka_unit_test(v3_raw_deflate_and_gzip_payloads),
        cmocka_unit_test(v3_compressed_garbage_is_inflate_drop),
        cmocka_unit_test(v3_ipv6_addresses),
        cmocka_unit_test(v3_auth_key),
        cmocka_unit_test(v3_unknown_chunks_skipped),
        cmocka_unit_test(v3_truncated_chunk_is_malformed),
        cmocka_unit_test(v3_length_field_lies),
        cmocka_unit_test(v3_not_sip_ignored),
        cmocka_unit_test(v2_packet),
        cmocka_unit_test(listener_udp),
        cmocka_unit_test(listener_tcp),
        cmocka_unit_test(listener_bad_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
