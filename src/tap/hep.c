/*
 * hep.c - HEP decoding and the HEP listener (see hep.h).
 *
 * HEPv3: "HEP3", a u16 total length, then chunks (u16 vendor, u16 type, u16 length that
 * counts the 6-byte chunk header), all in network order; only vendor 0's generic chunks
 * are read, others skipped. HEPv1/v2 (as captagent and sipcapture write them): u8 version,
 * u8 header length (8 + the two addresses), u8 family, u8 protocol, u16 ports (network
 * order), the addresses, then for v2 a struct of u32 seconds, u32 microseconds, u16
 * capture id and 2 bytes of padding written in the sender's byte order (little-endian on
 * every agent seen in practice: read so), then the payload.
 *
 * Rule: decoding never reads a byte before checking it lies inside the packet, and never
 * allocates: a compressed payload inflates into the caller's fixed buffer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/addr.h"
#include "../core/trunk.h"
#include "hep.h"

/* HEPv3 generic chunk types (vendor 0). */
enum {
    HEP_IP_FAMILY = 0x01,
    HEP_IP_PROTO = 0x02,
    HEP_SRC_IP4 = 0x03,
    HEP_DST_IP4 = 0x04,
    HEP_SRC_IP6 = 0x05,
    HEP_DST_IP6 = 0x06,
    HEP_SRC_PORT = 0x07,
    HEP_DST_PORT = 0x08,
    HEP_TS_SEC = 0x09,
    HEP_TS_USEC = 0x0a,
    HEP_PROTO_TYPE = 0x0b,
    HEP_AUTH_KEY = 0x0e,
    HEP_PAYLOAD = 0x0f,
    HEP_PAYLOAD_Z = 0x10,
};

#define HEP_PROTO_SIP 1

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get32le(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void set_addr(struct sockaddr_storage *ss, socklen_t *len, int family,
                     const unsigned char *ip, unsigned port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, ip, 4);
        in->sin_port = htons((uint16_t)port);
        *len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, ip, 16);
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
    }
}

/*
 * Inflates in into s->inflated: zlib or gzip wrapper first (windowBits 15 + 32 detects
 * either), then raw deflate (-15), since agents differ. Returns the length, or -1 when
 * neither gives a complete stream within the buffer.
 */
static long inflate_payload(const unsigned char *in, size_t inlen, struct tap_hep_buf *s)
{
    static const int wbits[2] = {15 + 32, -15};

    for (int i = 0; i < 2; i++) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, wbits[i]) != Z_OK)
            return -1;
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)inlen;
        z.next_out = s->inflated;
        z.avail_out = sizeof(s->inflated);
        int rc = inflate(&z, Z_FINISH);
        long out = (long)z.total_out;
        inflateEnd(&z);
        if (rc == Z_STREAM_END)
            return out;
        if (rc == Z_BUF_ERROR && z.avail_out == 0)
            return -1; /* a valid stream, but larger than the buffer */
    }
    return -1;
}

static int auth_matches(const char *key, const unsigned char *v, size_t vlen)
{
    size_t klen = strlen(key);

    if (vlen == klen + 1 && v[klen] == '\0')
        vlen = klen; /* some agents send the key's terminating NUL */
    return vlen == klen && memcmp(v, key, klen) == 0;
}

static enum tap_drop decode_v3(const unsigned char *buf, size_t len, const char *auth_key,
                               struct tap_hep_buf *s, struct tap_msg *m)
{
    if (len < 6)
        return TAP_DROP_hep_malformed;
    size_t total = get16(buf + 4);
    if (total < 6 || total > len)
        return TAP_DROP_hep_malformed;

    int family = 0, proto = -1, ptype = -1, have_auth = 0;
    const unsigned char *src4 = NULL, *dst4 = NULL, *src6 = NULL, *dst6 = NULL;
    unsigned sport = 0, dport = 0;
    int have_sec = 0;
    uint32_t sec = 0, usec = 0;
    const unsigned char *payload = NULL, *zpayload = NULL;
    size_t plen = 0, zlen = 0;

    for (size_t off = 6; off < total;) {
        if (total - off < 6)
            return TAP_DROP_hep_malformed;
        unsigned vendor = get16(buf + off), type = get16(buf + off + 2);
        size_t clen = get16(buf + off + 4);
        if (clen < 6 || clen > total - off)
            return TAP_DROP_hep_malformed;
        const unsigned char *v = buf + off + 6;
        size_t vlen = clen - 6;
        off += clen;
        if (vendor != 0)
            continue;
        switch (type) {
        case HEP_IP_FAMILY:
        case HEP_IP_PROTO:
        case HEP_PROTO_TYPE:
            if (vlen != 1)
                return TAP_DROP_hep_malformed;
            if (type == HEP_IP_FAMILY)
                family = v[0];
            else if (type == HEP_IP_PROTO)
                proto = v[0];
            else
                ptype = v[0];
            break;
        case HEP_SRC_IP4:
        case HEP_DST_IP4:
            if (vlen != 4)
                return TAP_DROP_hep_malformed;
            *(type == HEP_SRC_IP4 ? &src4 : &dst4) = v;
            break;
        case HEP_SRC_IP6:
        case HEP_DST_IP6:
            if (vlen != 16)
                return TAP_DROP_hep_malformed;
            *(type == HEP_SRC_IP6 ? &src6 : &dst6) = v;
            break;
        case HEP_SRC_PORT:
        case HEP_DST_PORT:
            if (vlen != 2)
                return TAP_DROP_hep_malformed;
            *(type == HEP_SRC_PORT ? &sport : &dport) = get16(v);
            break;
        case HEP_TS_SEC:
        case HEP_TS_USEC:
            if (vlen != 4)
                return TAP_DROP_hep_malformed;
            if (type == HEP_TS_SEC) {
                sec = get32(v);
                have_sec = 1;
            } else {
                usec = get32(v);
            }
            break;
        case HEP_AUTH_KEY:
            if (auth_key != NULL && auth_key[0] != '\0' && auth_matches(auth_key, v, vlen))
                have_auth = 1;
            break;
        case HEP_PAYLOAD:
            if (payload == NULL) {
                payload = v;
                plen = vlen;
            }
            break;
        case HEP_PAYLOAD_Z:
            if (zpayload == NULL) {
                zpayload = v;
                zlen = vlen;
            }
            break;
        default:
            break; /* capture id, correlation id, vlan, node name...: not needed */
        }
    }

    if (auth_key != NULL && auth_key[0] != '\0' && !have_auth)
        return TAP_DROP_hep_auth;

    memset(m, 0, sizeof(*m));
    m->transport = proto == IPPROTO_TCP ? SW_TCP : SW_UDP;
    if (have_sec)
        m->ts_us = (int64_t)sec * 1000000 + usec;
    /* the family chunk decides when both kinds of address came; else what came */
    int use6 = family == AF_INET6 || family == 10 ? 1 : family == AF_INET ? 0 : -1;
    if (use6 != 1 && src4 != NULL)
        set_addr(&m->src, &m->srclen, AF_INET, src4, sport);
    else if (use6 != 0 && src6 != NULL)
        set_addr(&m->src, &m->srclen, AF_INET6, src6, sport);
    if (use6 != 1 && dst4 != NULL)
        set_addr(&m->dst, &m->dstlen, AF_INET, dst4, dport);
    else if (use6 != 0 && dst6 != NULL)
        set_addr(&m->dst, &m->dstlen, AF_INET6, dst6, dport);

    if (ptype != -1 && ptype != HEP_PROTO_SIP)
        return TAP_DROP_none; /* RTCP, logs, QoS reports...: ignored, m->len 0 */
    if (payload != NULL) {
        m->data = (const char *)payload;
        m->len = plen;
    } else if (zpayload != NULL) {
        long n = inflate_payload(zpayload, zlen, s);
        if (n < 0)
            return TAP_DROP_hep_inflate;
        m->data = (const char *)s->inflated;
        m->len = (size_t)n;
    }
    return TAP_DROP_none;
}

static enum tap_drop decode_v12(const unsigned char *buf, size_t len, const char *auth_key,
                                struct tap_msg *m)
{
    if (len < 8)
        return TAP_DROP_hep_malformed;
    int version = buf[0], family = buf[2];
    size_t hl = buf[1], iplen;
    if (family == 2)
        iplen = 8;
    else if (family == 10)
        iplen = 32;
    else
        return TAP_DROP_hep_malformed;
    if (hl != 8 + iplen || len < hl)
        return TAP_DROP_hep_malformed;
    size_t off = hl;
    if (version == 2) {
        if (len - off < 12)
            return TAP_DROP_hep_malformed;
        off += 12;
    }
    if (auth_key != NULL && auth_key[0] != '\0')
        return TAP_DROP_hep_auth; /* v1/v2 cannot carry a key: refused when one is required */

    memset(m, 0, sizeof(*m));
    int af = family == 2 ? AF_INET : AF_INET6;
    size_t alen = family == 2 ? 4 : 16;
    set_addr(&m->src, &m->srclen, af, buf + 8, get16(buf + 4));
    set_addr(&m->dst, &m->dstlen, af, buf + 8 + alen, get16(buf + 6));
    m->transport = buf[3] == IPPROTO_TCP ? SW_TCP : SW_UDP;
    if (version == 2)
        m->ts_us = (int64_t)get32le(buf + hl) * 1000000 + get32le(buf + hl + 4);
    m->data = (const char *)buf + off;
    m->len = len - off;
    return TAP_DROP_none;
}

enum tap_drop tap_hep_decode(const unsigned char *buf, size_t len, const char *auth_key,
                             struct tap_hep_buf *s, struct tap_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len >= 4 && memcmp(buf, "HEP3", 4) == 0)
        return decode_v3(buf, len, auth_key, s, m);
    if (len >= 1 && (buf[0] == 1 || buf[0] == 2))
        return decode_v12(buf, len, auth_key, m);
    return TAP_DROP_hep_malformed;
}

/* --- the listener ------------------------------------------------------------------- */

/* Datagrams read in one recvmmsg, and at most per tap_hep_poll call. */
#define HEP_BATCH 16
#define HEP_MAX_DGRAMS 1024
/* A datagram's buffer: the largest UDP payload, plus one byte to see truncation. */
#define HEP_DGRAM_MAX 65536

struct hep_conn {
    int fd;
    size_t len;         /* bytes buffered */
    time_t last;        /* CLOCK_MONOTONIC seconds of the last byte read */
    unsigned char *buf; /* TAP_HEP_CONN_BUF bytes */
};

struct tap_hep_listener {
    int fd;
    int tcp;
    int port;
    char *auth_key; /* NULL: none */
    struct tap_counts counts;
    struct tap_hep_buf scratch;
    struct hep_conn conns[TAP_HEP_MAX_CONNS];
    size_t nconns;
    unsigned char *dgrams; /* HEP_BATCH * HEP_DGRAM_MAX (UDP) */
};

static time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Parses "udp:ADDR:PORT" / "tcp:[V6]:PORT". 0, or -1 with err. */
static int parse_spec(const char *spec, int *tcp, struct sockaddr_storage *ss, socklen_t *sl,
                      char *err, size_t errlen)
{
    char host[64];
    const char *p, *colon;

    if (strncmp(spec, "udp:", 4) == 0)
        *tcp = 0;
    else if (strncmp(spec, "tcp:", 4) == 0)
        *tcp = 1;
    else
        goto bad;
    p = spec + 4;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - p - 1) >= sizeof(host))
            goto bad;
        memcpy(host, p + 1, (size_t)(end - p - 1));
        host[end - p - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(p, ':');
        if (colon == NULL || (size_t)(colon - p) >= sizeof(host) ||
            memchr(p, ':', (size_t)(colon - p)))
            goto bad;
        memcpy(host, p, (size_t)(colon - p));
        host[colon - p] = '\0';
    }
    char *endp;
    errno = 0;
    long port = strtol(colon + 1, &endp, 10);
    if (colon[1] < '0' || colon[1] > '9' || *endp != '\0' || errno != 0 || port < 0 || port > 65535)
        goto bad;
    if (sw_addr_from_ip(host, (int)port, ss, sl) != 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "%s: not udp:ADDR:PORT or tcp:ADDR:PORT (ADDR an IP, [v6] bracketed)",
             spec);
    return -1;
}

struct tap_hep_listener *tap_hep_listen(const char *spec, const char *auth_key, char *err,
                                        size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int tcp, one = 1;
    struct tap_hep_listener *l;

    if (parse_spec(spec, &tcp, &ss, &sl, err, errlen) != 0)
        return NULL;
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        snprintf(err, errlen, "%s: out of memory", spec);
        return NULL;
    }
    l->tcp = tcp;
    l->fd = -1;
    if (auth_key != NULL && auth_key[0] != '\0' && (l->auth_key = strdup(auth_key)) == NULL)
        goto nomem;
    if (!tcp && (l->dgrams = malloc((size_t)HEP_BATCH * HEP_DGRAM_MAX)) == NULL)
        goto nomem;
    l->fd =
        socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
        goto fail;
    }
    if (tcp)
        setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    else {
        int rcvbuf = 4 * 1024 * 1024; /* bursts of HEP must not overflow the default 208 KiB */
        setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    if (bind(l->fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "%s: bind: %s", spec, strerror(errno));
        goto fail;
    }
    if (tcp && listen(l->fd, 128) != 0) {
        snprintf(err, errlen, "%s: listen: %s", spec, strerror(errno));
        goto fail;
    }
    sl = sizeof(ss);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0)
        l->port = sw_addr_port((struct sockaddr *)&ss);
    return l;
nomem:
    snprintf(err, errlen, "%s: out of memory", spec);
fail:
    tap_hep_close(l);
    return NULL;
}

int tap_hep_fd(const struct tap_hep_listener *l)
{
    return l->fd;
}

int tap_hep_local_port(const struct tap_hep_listener *l)
{
    return l->port;
}

size_t tap_hep_fds(const struct tap_hep_listener *l, int *fds, size_t max)
{
    size_t n = 0;

    if (n < max)
        fds[n] = l->fd;
    n++;
    for (size_t i = 0; i < l->nconns; i++, n++)
        if (n < max)
            fds[n] = l->conns[i].fd;
    return n;
}

const struct tap_counts *tap_hep_counts(const struct tap_hep_listener *l)
{
    return &l->counts;
}

/* Decodes and counts one packet; calls fn for a SIP message. Returns 1 if delivered. */
static int handle_packet(struct tap_hep_listener *l, const unsigned char *p, size_t n,
                         tap_msg_fn fn, void *arg)
{
    struct tap_msg m;

    l->counts.seen[TAP_SEEN_hep]++;
    l->counts.seen[TAP_SEEN_bytes] += n;
    enum tap_drop d = tap_hep_decode(p, n, l->auth_key, &l->scratch, &m);
    if (d != TAP_DROP_none) {
        l->counts.drop[d]++;
        return 0;
    }
    if (m.len == 0) {
        l->counts.seen[TAP_SEEN_not_sip]++;
        return 0;
    }
    if (m.ts_us == 0)
        m.ts_us = real_now_us();
    l->counts.seen[TAP_SEEN_sip]++;
    fn(arg, &m);
    return 1;
}

static int read_udp(struct tap_hep_listener *l, tap_msg_fn fn, void *arg)
{
    struct mmsghdr mm[HEP_BATCH];
    struct iovec iov[HEP_BATCH];
    int delivered = 0;

    for (int got = 0; got < HEP_MAX_DGRAMS;) {
        memset(mm, 0, sizeof(mm));
        for (int i = 0; i < HEP_BATCH; i++) {
            iov[i].iov_base = l->dgrams + (size_t)i * HEP_DGRAM_MAX;
            iov[i].iov_len = HEP_DGRAM_MAX;
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(l->fd, mm, HEP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break; /* EAGAIN, or an error the next poll will see again */
        for (int i = 0; i < n; i++) {
            if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
                l->counts.seen[TAP_SEEN_hep]++;
                l->counts.drop[TAP_DROP_hep_malformed]++;
                continue;
            }
            delivered += handle_packet(l, iov[i].iov_base, mm[i].msg_len, fn, arg);
        }
        got += n;
        if (n < HEP_BATCH)
            break;
    }
    return delivered;
}

static void conn_close(struct tap_hep_listener *l, size_t i)
{
    close(l->conns[i].fd);
    free(l->conns[i].buf);
    l->conns[i] = l->conns[--l->nconns];
}

static void accept_tcp(struct tap_hep_listener *l, time_t now)
{
    /* at most a listen backlog's worth a call, so a flood cannot hold the loop */
    for (int k = 0; k < 128; k++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (l->nconns >= TAP_HEP_MAX_CONNS) {
            close(fd);
            continue;
        }
        struct hep_conn *c = &l->conns[l->nconns];
        if ((c->buf = malloc(TAP_HEP_CONN_BUF)) == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->len = 0;
        c->last = now;
        l->nconns++;
    }
}

/* Reads connection i and frames its HEPv3 packets. Returns messages delivered; closes the
   connection (and sets *closed) at end of stream, on an error or on a stream that is not
   HEPv3. */
static int read_conn(struct tap_hep_listener *l, size_t i, time_t now, tap_msg_fn fn, void *arg,
                     int *closed)
{
    struct hep_conn *c = &l->conns[i];
    int delivered = 0;

    *closed = 0;
    /* a few reads a call, so one busy connection cannot starve the others */
    for (int k = 0; k < 4; k++) {
        ssize_t n = read(c->fd, c->buf + c->len, TAP_HEP_CONN_BUF - c->len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (n <= 0) {
            conn_close(l, i);
            *closed = 1;
            return delivered;
        }
        c->len += (size_t)n;
        c->last = now;
        size_t off = 0;
        while (c->len - off >= 6) {
            const unsigned char *p = c->buf + off;
            size_t total = get16(p + 4);
            if (memcmp(p, "HEP3", 4) != 0 || total < 6) {
                l->counts.seen[TAP_SEEN_hep]++;
                l->counts.drop[TAP_DROP_hep_malformed]++;
                conn_close(l, i);
                *closed = 1;
                return delivered;
            }
            if (c->len - off < total)
                break;
            delivered += handle_packet(l, p, total, fn, arg);
            off += total;
        }
        if (off > 0) {
            memmove(c->buf, c->buf + off, c->len - off);
            c->len -= off;
        }
        if ((size_t)n < TAP_HEP_CONN_BUF / 2)
            break; /* probably drained */
    }
    return delivered;
}

int tap_hep_poll(struct tap_hep_listener *l, int timeout_ms, tap_msg_fn fn, void *arg)
{
    struct pollfd pfd[1 + TAP_HEP_MAX_CONNS];
    size_t n = 0;
    int delivered = 0;

    pfd[n++] = (struct pollfd){.fd = l->fd, .events = POLLIN};
    for (size_t i = 0; i < l->nconns; i++)
        pfd[n++] = (struct pollfd){.fd = l->conns[i].fd, .events = POLLIN};
    int r = poll(pfd, (nfds_t)n, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    time_t now = mono_now();

    if (!l->tcp) {
        if (pfd[0].revents)
            delivered += read_udp(l, fn, arg);
        return delivered;
    }
    /* connections first (their indexes in pfd match l->conns until one closes), walking
       backwards so that a close, which moves the last connection into its slot, does not
       skip one */
    for (size_t i = l->nconns; i-- > 0;) {
        int closed = 0;
        if (pfd[1 + i].revents) {
            delivered += read_conn(l, i, now, fn, arg, &closed);
            if (closed)
                continue;
        }
        if (now - l->conns[i].last >= TAP_HEP_IDLE_S)
            conn_close(l, i);
    }
    if (pfd[0].revents)
        accept_tcp(l, now);
    return delivered;
}

void tap_hep_close(struct tap_hep_listener *l)
{
    if (l == NULL)
        return;
    while (l->nconns > 0)
        conn_close(l, l->nconns - 1);
    if (l->fd >= 0)
        close(l->fd);
    free(l->dgrams);
    free(l->auth_key);
    free(l);
}
