/*
 * decode.c - captured frames to SIP messages (decode.h): link layers, IPv4/IPv6, IP
 * fragment reassembly, UDP, TCP stream reassembly and SIP framing.
 *
 * The path of a plain UDP SIP frame allocates nothing and touches no table: link header,
 * IP header, UDP header, a look at the first bytes, the callback. Fragments wait in a
 * hash table keyed by (source, destination, id, protocol) as a sorted list of pieces;
 * TCP flows (one per direction) in a hash table keyed by the 4-tuple, with a buffer of
 * in-order bytes not yet framed and a sorted list of segments that came early.
 *
 * Rules a newcomer must not break: every read of a header is checked against the bytes
 * captured (short = truncated); every byte held is charged to frag_mem or tcp_mem and
 * every drop is counted by its reason; time is the capture's (ts_us), and the timers
 * (fragment timeout, TCP gap and idle) are checked at most once per capture second.
 */
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/trunk.h"
#include "../sip/framing.h"
#include "decode.h"

#define US 1000000LL
#define MAX_DGRAM 65535              /* largest reassembled IP payload */
#define GAP_WAIT_US (2 * US)         /* a TCP gap is skipped after this much capture time */
#define GAP_MAX_HELD ((size_t)65536) /* ... or when this many bytes wait behind it */
#define FRAG_BUCKETS 1024            /* hash buckets of the fragment table (power of 2) */
#define LINKTYPE_RAW 101             /* what a pcap file says for raw IP */
#define NO_START ((size_t)-1)

/* A TCP direction's or a datagram's addresses (IPv4 ones in the first 4 bytes, rest 0). */
struct key {
    unsigned char src[16], dst[16];
    uint16_t sport, dport; /* host order; 0 for fragment keys */
    uint8_t v6;
};

/* A packet on its way up: its addresses and the frames it came from. */
struct pkt {
    struct key k;
    int64_t ts;
    const struct tap_frame_ref *refs;
    size_t nrefs;
};

/* One fragment's bytes, at offset off of the datagram's payload. */
struct fpiece {
    struct fpiece *next; /* sorted by off */
    size_t off, len;
    unsigned char data[];
};

/* A datagram waiting for its fragments. */
struct frag {
    struct frag *hnext;         /* hash chain */
    struct frag *aprev, *anext; /* age list: oldest first */
    struct key k;
    uint32_t id;
    uint8_t proto; /* IPv4 protocol; IPv6 the fragment header's next header */
    int have_total;
    size_t total; /* payload length, known once the last fragment came */
    size_t mem;   /* bytes charged to frag_mem */
    int64_t first_ts;
    struct fpiece *pieces;
    struct tap_frame_ref refs[TAP_MSG_MAX_FRAMES]; /* in arrival order */
    size_t nrefs;
};

/* Which frame the in-order bytes of a flow's buffer up to end came from. */
struct sref {
    struct tap_frame_ref ref;
    size_t end;
};

/* A TCP segment that came before the bytes in front of it. */
struct seg {
    struct seg *next; /* sorted by seq */
    uint32_t seq;
    size_t len, nrefs;
    struct tap_frame_ref *refs; /* inside the same allocation */
    unsigned char data[];
};

/* One direction of a TCP connection. */
struct flow {
    struct flow *hnext;
    struct flow *lprev, *lnext; /* LRU list: least recently active first */
    struct key k;
    uint32_t hash;
    int64_t last_ts;
    int have_seq;
    uint32_t next_seq; /* the next byte expected in order */
    int sync;          /* the buffer starts at a message boundary (or inside one we frame) */
    int rescan;        /* not in sync after a loss: look for a start line anywhere */
    int fresh;         /* its SYN was seen and no byte yet: early segments are worth holding */
    char *buf;         /* in-order bytes not yet framed */
    size_t len, cap;
    struct sref *refs; /* frames of buf's bytes, by end offset */
    size_t nref, refcap;
    struct seg *ooo; /* early segments */
    size_t ooo_bytes, ooo_mem;
    int64_t gap_ts; /* capture time the first early segment came */
    size_t mem;     /* bytes charged to tcp_mem */
};

struct tap_decoder {
    struct tap_decode_limits lim;
    tap_msg_fn fn;
    void *arg;
    struct tap_counts c;
    int swept;
    int64_t sweep_s; /* capture second of the last timer check */

    struct frag *fb[FRAG_BUCKETS];
    struct frag *ahead, *atail;
    size_t fmem;

    struct flow **tb; /* tnb buckets */
    size_t tnb;
    struct flow *lhead, *ltail;
    size_t nflows, tmem, ngaps;

    unsigned char scratch[MAX_DGRAM]; /* a reassembled datagram's payload */
    struct tap_frame_ref mrefs[TAP_MSG_MAX_FRAMES];
};

#define SEEN(d, x) ((d)->c.seen[TAP_SEEN_##x]++)
#define DROP(d, x) ((d)->c.drop[TAP_DROP_##x]++)

void tap_decode_limits_init(struct tap_decode_limits *l)
{
    l->frag_mem = (size_t)64 << 20;
    l->frag_timeout_s = 30;
    l->tcp_mem = (size_t)256 << 20;
    l->tcp_max_flows = 65536;
    l->tcp_idle_s = 300;
    l->max_msg = 65535;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t hash_key(const struct key *k, uint32_t extra)
{
    const unsigned char *p;
    uint32_t h = 2166136261u ^ extra;
    size_t i;

    for (p = k->src, i = 0; i < 16; i++)
        h = (h ^ p[i]) * 16777619u;
    for (p = k->dst, i = 0; i < 16; i++)
        h = (h ^ p[i]) * 16777619u;
    h = (h ^ k->sport) * 16777619u;
    h = (h ^ k->dport) * 16777619u;
    h = (h ^ k->v6) * 16777619u;
    return h ^ (h >> 15);
}

static int key_eq(const struct key *a, const struct key *b)
{
    return a->sport == b->sport && a->dport == b->dport && a->v6 == b->v6 &&
           memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0;
}

/* --- SIP messages out -------------------------------------------------------------------- */

static int is_token(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-.!%*_+`'~", c) != NULL);
}

static int scheme(const unsigned char *p, size_t len, const char *s, size_t n)
{
    size_t i;

    if (len < n)
        return 0;
    for (i = 0; i < n; i++)
        if ((p[i] | 0x20) != (unsigned char)s[i] && p[i] != (unsigned char)s[i])
            return 0;
    return 1;
}

/* Whether p starts with a SIP start line: "METHOD sip:", "sips:", "tel:" or "SIP/2.0 ". */
static int looks_sip(const unsigned char *p, size_t len)
{
    size_t i;

    if (len >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0)
        return 1;
    for (i = 0; i < len && i < 32 && is_token(p[i]); i++)
        ;
    if (i == 0 || i >= len || p[i] != ' ')
        return 0;
    p += i + 1;
    len -= i + 1;
    return scheme(p, len, "sip:", 4) || scheme(p, len, "sips:", 5) || scheme(p, len, "tel:", 4);
}

/* The offset of the first SIP start line in p at the start or after a LF, or NO_START. */
static size_t find_start(const unsigned char *p, size_t len)
{
    const unsigned char *nl;
    size_t i = 0;

    for (;;) {
        if (looks_sip(p + i, len - i))
            return i;
        if ((nl = memchr(p + i, '\n', len - i)) == NULL)
            return NO_START;
        i = (size_t)(nl - p) + 1;
    }
}

static void set_addr(struct sockaddr_storage *ss, socklen_t *sl, int v6, const unsigned char *a,
                     uint16_t port)
{
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, a, 16);
        *sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a, 4);
        *sl = sizeof *s4;
    }
}

static void emit(struct tap_decoder *d, const struct key *k, int transport, int64_t ts,
                 const void *data, size_t len, const struct tap_frame_ref *refs, size_t nrefs)
{
    struct tap_msg m;

    if (len > d->lim.max_msg) {
        DROP(d, sip_too_large);
        return;
    }
    memset(&m, 0, sizeof m);
    m.data = data;
    m.len = len;
    set_addr(&m.src, &m.srclen, k->v6, k->src, k->sport);
    set_addr(&m.dst, &m.dstlen, k->v6, k->dst, k->dport);
    m.transport = transport;
    m.ts_us = ts;
    m.frames = refs;
    m.nframes = nrefs < TAP_MSG_MAX_FRAMES ? nrefs : TAP_MSG_MAX_FRAMES;
    SEEN(d, sip);
    d->fn(d->arg, &m);
}

/* --- UDP ---------------------------------------------------------------------------------- */

static void udp(struct tap_decoder *d, struct pkt *pk, const unsigned char *p, size_t n)
{
    size_t ulen, i;

    if (n < 8) {
        DROP(d, truncated);
        return;
    }
    ulen = rd16(p + 4);
    if (ulen < 8) {
        DROP(d, bad_ip);
        return;
    }
    if (ulen > n) {
        DROP(d, truncated);
        return;
    }
    SEEN(d, udp);
    pk->k.sport = rd16(p);
    pk->k.dport = rd16(p + 2);
    p += 8;
    n = ulen - 8;
    /* CR/LF before the start line is allowed (RFC 3261 section 7.5); after it, kept. */
    for (i = 0; i < n && (p[i] == '\r' || p[i] == '\n'); i++)
        ;
    if (!looks_sip(p + i, n - i)) {
        SEEN(d, not_sip);
        return;
    }
    emit(d, &pk->k, SW_UDP, pk->ts, p + i, n - i, pk->refs, pk->nrefs);
}

/* --- TCP ---------------------------------------------------------------------------------- */

/* Charges f's current holdings to tcp_mem. */
static void recharge(struct tap_decoder *d, struct flow *f)
{
    d->tmem -= f->mem;
    f->mem = f->len + f->nref * sizeof(struct sref) + f->ooo_mem;
    d->tmem += f->mem;
}

static void flow_clear_buf(struct tap_decoder *d, struct flow *f)
{
    f->len = 0;
    f->nref = 0;
    recharge(d, f);
}

static void flow_clear_ooo(struct tap_decoder *d, struct flow *f)
{
    struct seg *s;

    while ((s = f->ooo) != NULL) {
        f->ooo = s->next;
        free(s);
    }
    if (f->gap_ts != 0)
        d->ngaps--;
    f->ooo_bytes = f->ooo_mem = 0;
    f->gap_ts = 0;
    recharge(d, f);
}

static void flow_close(struct tap_decoder *d, struct flow *f, int count)
{
    struct flow **pp;

    if (count && (f->len > 0 || f->ooo != NULL))
        DROP(d, tcp_idle);
    flow_clear_ooo(d, f);
    flow_clear_buf(d, f);
    for (pp = &d->tb[f->hash & (d->tnb - 1)]; *pp != f; pp = &(*pp)->hnext)
        ;
    *pp = f->hnext;
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        d->lhead = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    else
        d->ltail = f->lprev;
    d->nflows--;
    free(f->buf);
    free(f->refs);
    free(f);
}

/*
 * Frames the messages at the front of b[0..n) (f->buf itself, or a segment's bytes when
 * nothing is buffered: then every message came from refs). Returns the bytes used up.
 */
static size_t frame_bytes(struct tap_decoder *d, struct flow *f, int64_t ts, const char *b,
                          size_t n, const struct tap_frame_ref *refs, size_t nrefs)
{
    size_t pos = 0, m, i, at, nr;
    enum sip_frame r;

    while (pos < n) {
        r = sip_frame(b + pos, n - pos, &m);
        if (r == SIP_FRAME_KEEPALIVE) {
            pos += m;
            continue;
        }
        if (r == SIP_FRAME_COMPLETE) {
            if (refs != NULL) {
                emit(d, &f->k, SW_TCP, ts, b + pos, m, refs, nrefs);
            } else {
                /* The frames whose bytes overlap [pos, pos + m). */
                size_t start = 0;

                for (i = 0, nr = 0; i < f->nref && start < pos + m; start = f->refs[i++].end)
                    if (f->refs[i].end > pos && nr < TAP_MSG_MAX_FRAMES)
                        d->mrefs[nr++] = f->refs[i].ref;
                emit(d, &f->k, SW_TCP, ts, b + pos, m, d->mrefs, nr);
            }
            pos += m;
            continue;
        }
        if (r == SIP_FRAME_PARTIAL) {
            if (n - pos > d->lim.max_msg) {
                DROP(d, sip_too_large);
                f->sync = 0;
                f->rescan = 1;
                pos = n;
            }
            break;
        }
        /* Not SIP: resync at the next start line in what we have, else in later data. */
        SEEN(d, not_sip);
        at = find_start((const unsigned char *)b + pos + 1, n - pos - 1);
        if (at == NO_START) {
            f->sync = 0;
            f->rescan = 1;
            pos = n;
            break;
        }
        pos += 1 + at;
    }
    return pos;
}

/* Appends to f's buffer; 0, or -1 when over tcp_mem (the bytes are not taken). */
static int flow_append(struct tap_decoder *d, struct flow *f, const unsigned char *p, size_t len,
                       const struct tap_frame_ref *refs, size_t nrefs)
{
    size_t i;

    if (d->tmem + len + nrefs * sizeof(struct sref) > d->lim.tcp_mem)
        return -1;
    if (f->len + len > f->cap) {
        size_t cap = f->cap ? f->cap : 2048;
        char *nb;

        while (cap < f->len + len)
            cap *= 2;
        if ((nb = realloc(f->buf, cap)) == NULL)
            return -1;
        f->buf = nb;
        f->cap = cap;
    }
    if (f->nref + nrefs > f->refcap) {
        size_t cap = f->refcap ? f->refcap : 8;
        struct sref *nr;

        while (cap < f->nref + nrefs)
            cap *= 2;
        if ((nr = realloc(f->refs, cap * sizeof *nr)) == NULL)
            return -1;
        f->refs = nr;
        f->refcap = cap;
    }
    memcpy(f->buf + f->len, p, len);
    f->len += len;
    for (i = 0; i < nrefs; i++) {
        f->refs[f->nref].ref = refs[i];
        f->refs[f->nref++].end = f->len;
    }
    recharge(d, f);
    return 0;
}

/* In-order stream bytes (their frames refs) for f. */
static void deliver(struct tap_decoder *d, struct flow *f, int64_t ts, const unsigned char *p,
                    size_t len, const struct tap_frame_ref *refs, size_t nrefs)
{
    size_t used, i, j;

    f->fresh = 0;
    if (!f->sync) {
        size_t at;

        if (f->rescan) {
            at = find_start(p, len);
        } else {
            for (at = 0; at < len && (p[at] == '\r' || p[at] == '\n'); at++)
                ;
            if (at < len && !looks_sip(p + at, len - at))
                at = NO_START;
        }
        if (at == NO_START || at >= len) {
            if (at == NO_START)
                SEEN(d, not_sip);
            return;
        }
        f->sync = 1;
        f->rescan = 0;
        p += at;
        len -= at;
    }
    if (f->len == 0) {
        /* Nothing buffered: frame straight from the segment, keep only the rest. */
        used = frame_bytes(d, f, ts, (const char *)p, len, refs, nrefs);
        if (used < len && flow_append(d, f, p + used, len - used, refs, nrefs) < 0) {
            DROP(d, tcp_memory);
            f->sync = 0;
            f->rescan = 1;
        }
        return;
    }
    if (flow_append(d, f, p, len, refs, nrefs) < 0) {
        DROP(d, tcp_memory);
        flow_clear_buf(d, f);
        f->sync = 0;
        f->rescan = 1;
        return;
    }
    used = frame_bytes(d, f, ts, f->buf, f->len, NULL, 0);
    if (used == 0)
        return;
    memmove(f->buf, f->buf + used, f->len - used);
    f->len -= used;
    for (i = 0; i < f->nref && f->refs[i].end <= used; i++)
        ;
    for (j = 0; i < f->nref; i++, j++) {
        f->refs[j].ref = f->refs[i].ref;
        f->refs[j].end = f->refs[i].end - used;
    }
    f->nref = f->len > 0 ? j : 0;
    recharge(d, f);
}

/* Delivers the early segments that are in order now. */
static void drain(struct tap_decoder *d, struct flow *f, int64_t ts)
{
    struct seg *s;

    while ((s = f->ooo) != NULL) {
        int32_t diff = (int32_t)(s->seq - f->next_seq);
        size_t skip;

        if (diff > 0)
            break;
        f->ooo = s->next;
        f->ooo_bytes -= s->len;
        f->ooo_mem -= sizeof *s + s->len + s->nrefs * sizeof *s->refs;
        recharge(d, f);
        skip = (size_t)(-(int64_t)diff);
        if (skip < s->len) {
            f->next_seq = s->seq + (uint32_t)s->len;
            deliver(d, f, ts, s->data + skip, s->len - skip, s->refs, s->nrefs);
        } else {
            SEEN(d, tcp_retransmitted);
        }
        free(s);
    }
    if (f->ooo == NULL && f->gap_ts != 0) {
        f->gap_ts = 0;
        d->ngaps--;
    }
}

/* Gives up on the bytes missing before the first early segment. */
static void skip_gap(struct tap_decoder *d, struct flow *f, int64_t ts)
{
    if (f->ooo == NULL)
        return;
    d->c.drop[TAP_DROP_tcp_gap] += (uint32_t)(f->ooo->seq - f->next_seq);
    flow_clear_buf(d, f);
    f->sync = 0;
    f->rescan = 1;
    f->next_seq = f->ooo->seq;
    drain(d, f, ts);
}

/* Keeps a segment that came before the bytes in front of it. */
static void hold(struct tap_decoder *d, struct flow *f, uint32_t seq, const unsigned char *p,
                 size_t len, const struct tap_frame_ref *refs, size_t nrefs, int64_t ts)
{
    size_t need = sizeof(struct seg) + len + nrefs * sizeof *refs;
    struct seg *s, **pp;

    for (pp = &f->ooo; *pp != NULL && (int32_t)((*pp)->seq - seq) < 0; pp = &(*pp)->next)
        ;
    if (*pp != NULL && (*pp)->seq == seq && (*pp)->len >= len) {
        SEEN(d, tcp_retransmitted);
        return;
    }
    if (d->tmem + need > d->lim.tcp_mem || (s = malloc(need)) == NULL) {
        DROP(d, tcp_memory);
        return;
    }
    SEEN(d, tcp_out_of_order);
    s->seq = seq;
    s->len = len;
    s->nrefs = nrefs;
    s->refs = (struct tap_frame_ref *)(s->data + len);
    memcpy(s->data, p, len);
    memcpy(s->refs, refs, nrefs * sizeof *refs);
    s->next = *pp;
    *pp = s;
    f->ooo_bytes += len;
    f->ooo_mem += need;
    if (f->gap_ts == 0) {
        f->gap_ts = ts != 0 ? ts : 1;
        d->ngaps++;
    }
    recharge(d, f);
    if (f->ooo_bytes > GAP_MAX_HELD)
        skip_gap(d, f, ts);
}

static struct flow *flow_find(struct tap_decoder *d, const struct key *k, uint32_t h)
{
    struct flow *f;

    for (f = d->tb[h & (d->tnb - 1)]; f != NULL; f = f->hnext)
        if (f->hash == h && key_eq(&f->k, k))
            return f;
    return NULL;
}

static void flow_touch(struct tap_decoder *d, struct flow *f, int64_t ts)
{
    f->last_ts = ts;
    if (d->ltail == f)
        return;
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        d->lhead = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    f->lprev = d->ltail;
    f->lnext = NULL;
    if (d->ltail)
        d->ltail->lnext = f;
    else
        d->lhead = f;
    d->ltail = f;
}

static void flow_reset(struct tap_decoder *d, struct flow *f)
{
    flow_clear_ooo(d, f);
    flow_clear_buf(d, f);
    f->sync = 0;
    f->rescan = 0;
    f->have_seq = 0;
    f->fresh = 0;
}

static void tcp(struct tap_decoder *d, struct pkt *pk, const unsigned char *p, size_t n)
{
    size_t doff, len;
    uint32_t seq, h;
    unsigned flags;
    struct flow *f;
    int32_t diff;

    if (n < 20) {
        DROP(d, truncated);
        return;
    }
    doff = (size_t)(p[12] >> 4) * 4;
    if (doff < 20) {
        DROP(d, bad_ip);
        return;
    }
    if (doff > n) {
        DROP(d, truncated);
        return;
    }
    SEEN(d, tcp);
    pk->k.sport = rd16(p);
    pk->k.dport = rd16(p + 2);
    seq = rd32(p + 4);
    flags = p[13]; /* FIN 1, SYN 2, RST 4 */
    p += doff;
    len = n - doff;
    h = hash_key(&pk->k, 6);
    if ((f = flow_find(d, &pk->k, h)) == NULL) {
        if ((len == 0 && !(flags & 2)) || (flags & 4))
            return;
        if (d->nflows >= d->lim.tcp_max_flows || (f = calloc(1, sizeof *f)) == NULL) {
            DROP(d, tcp_flows);
            return;
        }
        f->k = pk->k;
        f->hash = h;
        f->hnext = d->tb[h & (d->tnb - 1)];
        d->tb[h & (d->tnb - 1)] = f;
        f->lprev = d->ltail;
        if (d->ltail)
            d->ltail->lnext = f;
        else
            d->lhead = f;
        d->ltail = f;
        d->nflows++;
    }
    flow_touch(d, f, pk->ts);
    if (flags & 4) {
        flow_close(d, f, 1);
        return;
    }
    if (f->ooo != NULL && pk->ts - f->gap_ts >= GAP_WAIT_US)
        skip_gap(d, f, pk->ts);
    if (flags & 2) {
        /* A new connection on the same 4-tuple starts afresh; a repeated SYN changes nothing. */
        if (!f->have_seq || f->next_seq != seq + 1) {
            flow_reset(d, f);
            f->have_seq = 1;
            f->next_seq = seq + 1;
            f->fresh = 1;
        }
        seq++;
    }
    if (!f->have_seq) {
        f->have_seq = 1; /* first seen mid-stream: it starts here */
        f->next_seq = seq;
    }
    if (len > 0) {
        diff = (int32_t)(seq - f->next_seq);
        if (diff < 0) {
            size_t old = (size_t)(-(int64_t)diff);

            SEEN(d, tcp_retransmitted);
            if (old >= len)
                goto fin;
            p += old;
            len -= old;
            seq = f->next_seq;
            diff = 0;
        }
        if (diff > 0 && (f->sync || f->fresh)) {
            hold(d, f, seq, p, len, pk->refs, pk->nrefs, pk->ts);
            return;
        }
        /* In order; or not following SIP yet, when whatever comes next is taken as it is. */
        f->next_seq = seq + (uint32_t)len;
        deliver(d, f, pk->ts, p, len, pk->refs, pk->nrefs);
        drain(d, f, pk->ts);
    }
fin:
    if ((flags & 1) && f->ooo == NULL && seq + (uint32_t)len == f->next_seq)
        flow_close(d, f, 1);
}

/* --- IP ----------------------------------------------------------------------------------- */

static void ip6_payload(struct tap_decoder *d, struct pkt *pk, unsigned nh, const unsigned char *p,
                        size_t n, int reassembled);

static void l4(struct tap_decoder *d, struct pkt *pk, unsigned proto, const unsigned char *p,
               size_t n)
{
    if (proto == IPPROTO_UDP)
        udp(d, pk, p, n);
    else if (proto == IPPROTO_TCP)
        tcp(d, pk, p, n);
    else
        SEEN(d, not_udp_tcp);
}

static void frag_free(struct tap_decoder *d, struct frag *e)
{
    struct frag **pp;
    struct fpiece *pc;

    for (pp = &d->fb[hash_key(&e->k, e->id ^ ((uint32_t)e->proto << 24)) & (FRAG_BUCKETS - 1)];
         *pp != e; pp = &(*pp)->hnext)
        ;
    *pp = e->hnext;
    if (e->aprev)
        e->aprev->anext = e->anext;
    else
        d->ahead = e->anext;
    if (e->anext)
        e->anext->aprev = e->aprev;
    else
        d->atail = e->aprev;
    while ((pc = e->pieces) != NULL) {
        e->pieces = pc->next;
        free(pc);
    }
    d->fmem -= e->mem;
    free(e);
}

/* One fragment (its payload part p[0..n) at byte offset off; more: not the last). */
static void frag_add(struct tap_decoder *d, struct pkt *pk, unsigned proto, uint32_t id, size_t off,
                     int more, const unsigned char *p, size_t n)
{
    uint32_t h = hash_key(&pk->k, id ^ ((uint32_t)proto << 24));
    struct fpiece *pc, **pp;
    struct frag *e;
    size_t end = off + n, need = sizeof *pc + n;

    SEEN(d, fragments);
    if (n == 0 || (more && n % 8 != 0) || end > MAX_DGRAM) {
        DROP(d, bad_ip);
        return;
    }
    for (e = d->fb[h & (FRAG_BUCKETS - 1)]; e != NULL; e = e->hnext)
        if (e->id == id && e->proto == proto && key_eq(&e->k, &pk->k))
            break;
    if (e == NULL) {
        if (d->fmem + sizeof *e + need > d->lim.frag_mem || (e = calloc(1, sizeof *e)) == NULL) {
            DROP(d, frag_memory);
            return;
        }
        e->k = pk->k;
        e->id = id;
        e->proto = (uint8_t)proto;
        e->first_ts = pk->ts;
        e->mem = sizeof *e;
        d->fmem += e->mem;
        e->hnext = d->fb[h & (FRAG_BUCKETS - 1)];
        d->fb[h & (FRAG_BUCKETS - 1)] = e;
        e->aprev = d->atail;
        if (d->atail)
            d->atail->anext = e;
        else
            d->ahead = e;
        d->atail = e;
    }
    /* The last fragment fixes the length; nothing may go past it. */
    if ((!more && e->have_total && e->total != end) || (e->have_total && end > e->total)) {
        DROP(d, frag_overlap);
        return;
    }
    for (pc = e->pieces; pc != NULL; pc = pc->next) {
        size_t lo = off > pc->off ? off : pc->off;
        size_t hi = end < pc->off + pc->len ? end : pc->off + pc->len;

        if (lo < hi && memcmp(p + (lo - off), pc->data + (lo - pc->off), hi - lo) != 0) {
            DROP(d, frag_overlap);
            return;
        }
        if (pc->off <= off && pc->off + pc->len >= end)
            return; /* a copy of bytes we have */
    }
    if (d->fmem + need > d->lim.frag_mem || (pc = malloc(need)) == NULL) {
        /* This datagram cannot complete now: give it up. */
        DROP(d, frag_memory);
        frag_free(d, e);
        return;
    }
    pc->off = off;
    pc->len = n;
    memcpy(pc->data, p, n);
    for (pp = &e->pieces; *pp != NULL && (*pp)->off < off; pp = &(*pp)->next)
        ;
    pc->next = *pp;
    *pp = pc;
    e->mem += need;
    d->fmem += need;
    if (!more) {
        e->have_total = 1;
        e->total = end;
    }
    if (e->nrefs < TAP_MSG_MAX_FRAMES)
        e->refs[e->nrefs++] = pk->refs[0];
    if (!e->have_total)
        return;
    /* Complete when the pieces cover [0, total) without a hole. */
    end = 0;
    for (pc = e->pieces; pc != NULL && pc->off <= end; pc = pc->next)
        if (pc->off + pc->len > end)
            end = pc->off + pc->len;
    if (end < e->total)
        return;
    {
        struct tap_frame_ref refs[TAP_MSG_MAX_FRAMES];
        struct pkt whole = *pk;
        size_t total = e->total;

        for (pc = e->pieces; pc != NULL; pc = pc->next)
            memcpy(d->scratch + pc->off, pc->data, pc->len);
        memcpy(refs, e->refs, e->nrefs * sizeof *refs);
        whole.refs = refs;
        whole.nrefs = e->nrefs;
        frag_free(d, e);
        SEEN(d, reassembled);
        if (whole.k.v6)
            ip6_payload(d, &whole, proto, d->scratch, total, 1);
        else
            l4(d, &whole, proto, d->scratch, total);
    }
}

static void ip4(struct tap_decoder *d, struct pkt *pk, const unsigned char *p, size_t n)
{
    size_t ihl, tot, fo;

    if (n < 20) {
        DROP(d, truncated);
        return;
    }
    ihl = (size_t)(p[0] & 15) * 4;
    tot = rd16(p + 2);
    if (p[0] >> 4 != 4 || ihl < 20 || tot < ihl) {
        DROP(d, bad_ip);
        return;
    }
    if (tot > n) {
        DROP(d, truncated);
        return;
    }
    SEEN(d, ipv4);
    memcpy(pk->k.src, p + 12, 4);
    memcpy(pk->k.dst, p + 16, 4);
    fo = rd16(p + 6);
    if (fo & 0x3fff)
        frag_add(d, pk, p[9], rd16(p + 4), (fo & 0x1fff) * 8, (fo & 0x2000) != 0, p + ihl,
                 tot - ihl);
    else
        l4(d, pk, p[9], p + ihl, tot - ihl);
}

/* IPv6 extension headers from nh on, then the upper layer (reassembled: no fragment header). */
static void ip6_payload(struct tap_decoder *d, struct pkt *pk, unsigned nh, const unsigned char *p,
                        size_t n, int reassembled)
{
    size_t hl, fo;

    for (;;) {
        switch (nh) {
        case 0:  /* hop-by-hop options */
        case 43: /* routing */
        case 60: /* destination options */
        case 51: /* AH */
            if (n < 2) {
                DROP(d, truncated);
                return;
            }
            hl = nh == 51 ? ((size_t)p[1] + 2) * 4 : ((size_t)p[1] + 1) * 8;
            if (hl > n) {
                DROP(d, truncated);
                return;
            }
            nh = p[0];
            p += hl;
            n -= hl;
            break;
        case 44: /* fragment */
            if (n < 8) {
                DROP(d, truncated);
                return;
            }
            if (reassembled) {
                DROP(d, bad_ip);
                return;
            }
            fo = rd16(p + 2);
            if ((fo & 0xfff9) == 0) { /* an atomic fragment (RFC 6946): the whole packet */
                nh = p[0];
                p += 8;
                n -= 8;
                break;
            }
            frag_add(d, pk, p[0], rd32(p + 4), fo & 0xfff8, fo & 1, p + 8, n - 8);
            return;
        default:
            l4(d, pk, nh, p, n);
            return;
        }
    }
}

static void ip6(struct tap_decoder *d, struct pkt *pk, const unsigned char *p, size_t n)
{
    size_t plen;

    if (n < 40) {
        DROP(d, truncated);
        return;
    }
    plen = rd16(p + 4);
    if (p[0] >> 4 != 6 || plen == 0) { /* plen 0: a jumbogram, not SIP's */
        DROP(d, bad_ip);
        return;
    }
    if (40 + plen > n) {
        DROP(d, truncated);
        return;
    }
    SEEN(d, ipv6);
    pk->k.v6 = 1;
    memcpy(pk->k.src, p + 8, 16);
    memcpy(pk->k.dst, p + 24, 16);
    ip6_payload(d, pk, p[6], p + 40, plen, 0);
}

/* --- timers ------------------------------------------------------------------------------- */

static void sweep(struct tap_decoder *d, int64_t now)
{
    int64_t ftmo = (int64_t)d->lim.frag_timeout_s * US, idle = (int64_t)d->lim.tcp_idle_s * US;
    struct flow *f, *next;

    while (d->ahead != NULL && now - d->ahead->first_ts > ftmo) {
        DROP(d, frag_timeout);
        frag_free(d, d->ahead);
    }
    while (d->lhead != NULL && now - d->lhead->last_ts > idle)
        flow_close(d, d->lhead, 1);
    if (d->ngaps > 0)
        for (f = d->lhead; f != NULL; f = next) {
            next = f->lnext;
            if (f->ooo != NULL && now - f->gap_ts >= GAP_WAIT_US)
                skip_gap(d, f, now);
        }
}

/* --- frames ------------------------------------------------------------------------------- */

/* Raw IP: DLT_RAW is 12 on most systems and 14 on OpenBSD (where 12 is DLT_LOOP, tested
   first), a file says LINKTYPE_RAW (101); DLT_IPV4 and DLT_IPV6 say which version. */
static int is_raw(int lt)
{
    static const int raw[] = {DLT_RAW, 12, 14, LINKTYPE_RAW, DLT_IPV4, DLT_IPV6};
    size_t i;

    for (i = 0; i < sizeof raw / sizeof raw[0]; i++)
        if (lt == raw[i])
            return 1;
    return 0;
}

static int is_vlan(unsigned et)
{
    return et == 0x8100 || et == 0x88a8 || et == 0x9100;
}

void tap_decode_frame(struct tap_decoder *d, const struct tap_frame *fr)
{
    const unsigned char *p = fr->data;
    size_t n = fr->caplen, off;
    struct tap_frame_ref ref;
    int lt = fr->linktype;
    unsigned et = 0; /* ethertype; 0: the IP version nibble decides */
    struct pkt pk;
    int64_t sec;

    SEEN(d, frames);
    d->c.seen[TAP_SEEN_bytes] += n;
    sec = fr->ts_us / US;
    if (!d->swept || sec > d->sweep_s) {
        d->swept = 1;
        d->sweep_s = sec;
        sweep(d, fr->ts_us);
    }
    if (p == NULL)
        n = 0;
    if (lt == DLT_EN10MB) {
        if (n < 14)
            goto truncated;
        et = rd16(p + 12);
        off = 14;
    } else if (lt == DLT_LINUX_SLL) {
        if (n < 16)
            goto truncated;
        et = rd16(p + 14);
        off = 16;
    } else if (lt == DLT_LINUX_SLL2) {
        if (n < 20)
            goto truncated;
        et = rd16(p);
        off = 20;
    } else if (lt == DLT_NULL || lt == DLT_LOOP) {
        uint32_t le, be;

        if (n < 4)
            goto truncated;
        le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        be = rd32(p);
        if (le == 2 || be == 2)
            et = 0x0800;
        else if (le == 24 || le == 28 || le == 30 || be == 24 || be == 28 || be == 30)
            et = 0x86dd;
        else {
            SEEN(d, not_ip);
            return;
        }
        off = 4;
    } else if (is_raw(lt)) {
        if (n < 1)
            goto truncated;
        et = p[0] >> 4 == 4 ? 0x0800 : p[0] >> 4 == 6 ? 0x86dd : 0;
        if (et == 0 || (lt == DLT_IPV4 && et != 0x0800) || (lt == DLT_IPV6 && et != 0x86dd)) {
            DROP(d, bad_ip);
            return;
        }
        off = 0;
    } else {
        DROP(d, linktype);
        return;
    }
    while (is_vlan(et)) { /* 802.1Q / 802.1ad tags, as many as there are */
        if (n < off + 4)
            goto truncated;
        et = rd16(p + off + 2);
        off += 4;
    }
    if (et != 0x0800 && et != 0x86dd) {
        SEEN(d, not_ip);
        return;
    }
    ref.source = fr->source;
    ref.index = fr->index;
    memset(&pk.k, 0, sizeof pk.k);
    pk.ts = fr->ts_us;
    pk.refs = &ref;
    pk.nrefs = 1;
    if (et == 0x0800)
        ip4(d, &pk, p + off, n - off);
    else
        ip6(d, &pk, p + off, n - off);
    return;
truncated:
    DROP(d, truncated);
}

/* --- the decoder -------------------------------------------------------------------------- */

struct tap_decoder *tap_decoder_new(const struct tap_decode_limits *l, tap_msg_fn fn, void *arg)
{
    struct tap_decoder *d;
    size_t nb = 16;

    if ((d = calloc(1, sizeof *d)) == NULL)
        return NULL;
    if (l != NULL)
        d->lim = *l;
    else
        tap_decode_limits_init(&d->lim);
    d->fn = fn;
    d->arg = arg;
    while (nb < d->lim.tcp_max_flows && nb < ((size_t)1 << 20))
        nb *= 2;
    d->tnb = nb;
    if ((d->tb = calloc(nb, sizeof *d->tb)) == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

void tap_decoder_finish(struct tap_decoder *d)
{
    struct flow *f;

    for (f = d->lhead; f != NULL; f = f->lnext)
        while (f->ooo != NULL)
            skip_gap(d, f, f->last_ts);
    while (d->lhead != NULL)
        flow_close(d, d->lhead, 1);
    while (d->ahead != NULL) {
        DROP(d, frag_timeout);
        frag_free(d, d->ahead);
    }
    d->swept = 0;
}

void tap_decoder_free(struct tap_decoder *d)
{
    if (d == NULL)
        return;
    while (d->lhead != NULL)
        flow_close(d, d->lhead, 0);
    while (d->ahead != NULL)
        frag_free(d, d->ahead);
    free(d->tb);
    free(d);
}

const struct tap_counts *tap_decoder_counts(const struct tap_decoder *d)
{
    return &d->c;
}

void tap_decoder_held(const struct tap_decoder *d, size_t *frag_bytes, size_t *tcp_bytes,
                      size_t *tcp_flows)
{
    if (frag_bytes)
        *frag_bytes = d->fmem;
    if (tcp_bytes)
        *tcp_bytes = d->tmem;
    if (tcp_flows)
        *tcp_flows = d->nflows;
}
