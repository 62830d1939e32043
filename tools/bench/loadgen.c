/*
 * loadgen.c - a SIP INVITE load generator for benchmarking stirwired (tools/bench/proxy).
 *
 * One program, two roles:
 *
 *   loadgen --source --bind IP:PORT --target IP:PORT [--rate N] [--duration S] ...
 *       Sends INVITEs (unique Call-ID, branch and From tag each; From +1202555xxxx, To
 *       1202555yyyy, a small SDP body, ~560 bytes in all) to the target in sendmmsg
 *       batches, at N INVITEs/s (paced) or, with --rate 0, as fast as the window of
 *       outstanding INVITEs allows (closed loop: at most --window INVITEs without a final
 *       answer, so a slow proxy is measured at its own pace instead of being flooded and
 *       measured by its socket buffer drops). Replies are read with recvmmsg. A "completed"
 *       INVITE is one whose 200 OK came back. Each INVITE carries
 *       "X-Lg-Ts: <CLOCK_MONOTONIC ns>;m=<0|1>" (m=1 inside the measuring window) so the sink
 *       can measure one-way latency; the source measures INVITE->200 round trips itself.
 *       For a verifying proxy: --from TN and --to TN put fixed numbers in From, To and the
 *       Request-URI (sip URIs with user=phone), and --header LINE (up to 4 times) adds a
 *       header line verbatim, e.g. an "Identity: ..." signed ahead of time for those
 *       numbers; every INVITE then carries the same token.
 *
 *   loadgen --sink --bind IP:PORT [--duration S]
 *       Answers each INVITE with a 200 OK (Via, From, To + tag, Call-ID, CSeq copied),
 *       recvmmsg / sendmmsg in batches, back to the packet's source address (the proxy or,
 *       without proxy, the source), and counts INVITEs, those carrying an Identity header,
 *       and those where a verifying proxy put ";verstat=" (RFC 8588 / 3GPP TS 24.229) into
 *       a header, with the number of them that say TN-Validation-Passed.
 *       Runs until --duration elapses or SIGINT/SIGTERM, then prints its counters.
 *
 * Output: "name: value" lines on stdout, names prefixed by --prefix (default "source_" /
 * "sink_"). Rates are counted over the measuring window [--warmup, --warmup + --duration].
 *
 * Build: `make bench` (or `make tools/bench/loadgen`) in the build tree. Pin with taskset.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXB 256        /* max batch */
#define BUFSZ 4096      /* per message buffer */
#define RING (1u << 20) /* send-time slots, indexed by sequence number */
#define MAXSAMPLES (1u << 23)
#define MAXHDR 4 /* --header lines */

/* the INVITE body; %u is the RTP port (a literal, so the compiler checks the format) */
#define SDP_FMT                                                                                    \
    "v=0\r\n"                                                                                      \
    "o=lg 53655765 2353687637 IN IP4 127.0.0.1\r\n"                                                \
    "s=-\r\n"                                                                                      \
    "c=IN IP4 127.0.0.1\r\n"                                                                       \
    "t=0 0\r\n"                                                                                    \
    "m=audio %u RTP/AVP 0 8 101\r\n"                                                               \
    "a=rtpmap:0 PCMU/8000\r\n"                                                                     \
    "a=rtpmap:101 telephone-event/8000\r\n"

static volatile sig_atomic_t stop_flag;
static void on_sig(int s)
{
    (void)s;
    stop_flag = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *c = strrchr(s, ':');
    if (!c || (size_t)(c - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(c - s));
    host[c - s] = 0;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(c + 1));
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* a header line "Name:" (or its compact form) at the start of a line; returns value start */
static const char *find_hdr(const char *buf, size_t len, const char *name, const char *compact,
                            const char **eol)
{
    const char *p = buf, *end = buf + len;
    size_t nl = strlen(name), cl = compact ? strlen(compact) : 0;
    /* skip the start line */
    p = memchr(p, '\n', (size_t)(end - p));
    while (p && ++p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        const char *le = e ? e : end;
        if (le - p <= 1) /* empty line: end of headers */
            return NULL;
        const char *v = NULL;
        if ((size_t)(le - p) > nl && strncasecmp(p, name, nl) == 0)
            v = p + nl;
        else if (cl && (size_t)(le - p) > cl && strncasecmp(p, compact, cl) == 0)
            v = p + cl;
        if (v) {
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            if (v < le && *v == ':') {
                v++;
                while (v < le && (*v == ' ' || *v == '\t'))
                    v++;
                *eol = (le > v && le[-1] == '\r') ? le - 1 : le;
                return v;
            }
        }
        p = e;
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void print_pcts(const char *pfx, const char *what, uint32_t *s, size_t n)
{
    static const double q[] = {0.5, 0.9, 0.99, 0.999};
    static const char *qn[] = {"p50", "p90", "p99", "p999"};
    size_t i;
    printf("%s%s_samples: %zu\n", pfx, what, n);
    if (n == 0)
        return;
    qsort(s, n, sizeof(*s), cmp_u32);
    for (i = 0; i < 4; i++) {
        size_t k = (size_t)(q[i] * (double)(n - 1));
        printf("%s%s_%s_us: %.1f\n", pfx, what, qn[i], s[k] / 1000.0);
    }
    printf("%s%s_max_us: %.1f\n", pfx, what, s[n - 1] / 1000.0);
}

static int mksock(const char *bind_s, int buf)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
    if (fd < 0 || parse_addr(bind_s, &a) != 0) {
        fprintf(stderr, "loadgen: bad --bind %s\n", bind_s);
        exit(2);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* FORCE variants pass net.core.[rw]mem_max as root; fall back to the capped ones */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "loadgen: bind %s: %s\n", bind_s, strerror(errno));
        exit(2);
    }
    return fd;
}

struct opts {
    int source, sink;
    const char *bind, *target, *prefix;
    double rate, duration, warmup, drain;
    int batch, window, buf, lat;
    const char *from, *to;     /* fixed numbers (user parts), or NULL: per-INVITE ones */
    char extra[MAXHDR * 1024]; /* the --header lines, each ending in CRLF */
    size_t nextra, extralen;
};

/* ---------------------------------------------------------------------------------- sink */

static int run_sink(const struct opts *o)
{
    int fd = mksock(o->bind, o->buf), b = o->batch, i, n;
    static char rbuf[MAXB][BUFSZ], sbuf[MAXB][BUFSZ];
    struct mmsghdr rm[MAXB], sm[MAXB];
    struct iovec riov[MAXB], siov[MAXB];
    struct sockaddr_in ra[MAXB];
    uint64_t invites = 0, with_id = 0, others = 0, replies = 0, send_err = 0, measured = 0,
             measured_id = 0, verstat = 0, verstat_passed = 0;
    uint64_t t_first = 0, t_last = 0, tag = 0;
    uint32_t *lat = o->lat ? malloc(MAXSAMPLES * sizeof(uint32_t)) : NULL;
    size_t nlat = 0;
    uint64_t deadline = o->duration > 0 ? now_ns() + (uint64_t)(o->duration * 1e9) : 0;
    const char *p = o->prefix ? o->prefix : "sink_";

    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (stop_flag || (deadline && now_ns() >= deadline))
            break;
        if (poll(&pf, 1, 50) <= 0)
            continue;
        for (i = 0; i < b; i++) {
            riov[i].iov_base = rbuf[i];
            riov[i].iov_len = BUFSZ - 1;
            memset(&rm[i].msg_hdr, 0, sizeof(rm[i].msg_hdr));
            rm[i].msg_hdr.msg_iov = &riov[i];
            rm[i].msg_hdr.msg_iovlen = 1;
            rm[i].msg_hdr.msg_name = &ra[i];
            rm[i].msg_hdr.msg_namelen = sizeof(ra[i]);
        }
        n = recvmmsg(fd, rm, (unsigned)b, MSG_DONTWAIT, NULL);
        if (n <= 0)
            continue;
        uint64_t t = now_ns();
        int ns = 0;
        for (i = 0; i < n; i++) {
            char *m = rbuf[i];
            size_t len = rm[i].msg_len;
            const char *e, *v;
            m[len] = 0;
            if (len < 8 || strncmp(m, "INVITE ", 7) != 0) {
                others++;
                continue;
            }
            invites++;
            if (!t_first)
                t_first = t;
            t_last = t;
            int has_id = find_hdr(m, len, "Identity", "y", &e) != NULL;
            with_id += has_id;
            /* the body (SDP) never says verstat=, so the whole message can be searched */
            const char *vs = memmem(m, len, "verstat=", 8);
            if (vs) {
                verstat++;
                verstat_passed += strncmp(vs + 8, "TN-Validation-Passed", 20) == 0;
            }
            if ((v = find_hdr(m, len, "X-Lg-Ts", NULL, &e)) != NULL) {
                char *q;
                uint64_t ts = strtoull(v, &q, 10);
                if (strncmp(q, ";m=1", 4) == 0) {
                    measured++;
                    measured_id += has_id;
                    if (lat && nlat < MAXSAMPLES && t > ts)
                        lat[nlat++] = (uint32_t)((t - ts) > 0xffffffffu ? 0xffffffffu : t - ts);
                }
            }
            /* build the 200 OK: Via (all, in order), From, To (+tag), Call-ID, CSeq */
            char *out = sbuf[ns], *w = out, *wend = out + BUFSZ;
            w += snprintf(w, (size_t)(wend - w), "SIP/2.0 200 OK\r\n");
            const char *lp = memchr(m, '\n', len);
            int to_done = 0;
            while (lp && ++lp < m + len) {
                const char *le = memchr(lp, '\n', (size_t)(m + len - lp));
                if (!le || le - lp <= 1)
                    break;
                size_t ll = (size_t)(le - lp) + 1;
                int keep = 0, is_to = 0;
                if (!strncasecmp(lp, "Via:", 4) || !strncasecmp(lp, "v:", 2) ||
                    !strncasecmp(lp, "From:", 5) || !strncasecmp(lp, "f:", 2) ||
                    !strncasecmp(lp, "Call-ID:", 8) || !strncasecmp(lp, "i:", 2) ||
                    !strncasecmp(lp, "CSeq:", 5))
                    keep = 1;
                else if (!to_done && (!strncasecmp(lp, "To:", 3) || !strncasecmp(lp, "t:", 2)))
                    keep = is_to = 1;
                if (keep && (size_t)(wend - w) > ll + 64) {
                    if (is_to) {
                        size_t vl = ll - ((ll >= 2 && lp[ll - 2] == '\r') ? 2 : 1);
                        memcpy(w, lp, vl);
                        w += vl;
                        if (!memmem(lp, vl, ";tag=", 5))
                            w += sprintf(w, ";tag=lgs%llx", (unsigned long long)++tag);
                        w += sprintf(w, "\r\n");
                        to_done = 1;
                    } else {
                        memcpy(w, lp, ll);
                        w += ll;
                    }
                }
                lp = le;
            }
            w += snprintf(w, (size_t)(wend - w),
                          "Contact: <sip:sink@%s>\r\nContent-Length: 0\r\n\r\n", "127.0.0.1");
            siov[ns].iov_base = out;
            siov[ns].iov_len = (size_t)(w - out);
            memset(&sm[ns].msg_hdr, 0, sizeof(sm[ns].msg_hdr));
            sm[ns].msg_hdr.msg_iov = &siov[ns];
            sm[ns].msg_hdr.msg_iovlen = 1;
            sm[ns].msg_hdr.msg_name = &ra[i];
            sm[ns].msg_hdr.msg_namelen = rm[i].msg_hdr.msg_namelen;
            ns++;
        }
        int off = 0;
        while (off < ns) {
            int r = sendmmsg(fd, sm + off, (unsigned)(ns - off), 0);
            if (r <= 0) {
                send_err += (uint64_t)(ns - off);
                break;
            }
            off += r;
            replies += (uint64_t)r;
        }
    }
    printf("%sinvites: %llu\n", p, (unsigned long long)invites);
    printf("%sinvites_with_identity: %llu\n", p, (unsigned long long)with_id);
    printf("%sinvites_with_verstat: %llu\n", p, (unsigned long long)verstat);
    printf("%sinvites_verstat_passed: %llu\n", p, (unsigned long long)verstat_passed);
    printf("%sinvites_measured: %llu\n", p, (unsigned long long)measured);
    printf("%sinvites_measured_with_identity: %llu\n", p, (unsigned long long)measured_id);
    printf("%sother_messages: %llu\n", p, (unsigned long long)others);
    printf("%sreplies_sent: %llu\n", p, (unsigned long long)replies);
    printf("%ssend_errors: %llu\n", p, (unsigned long long)send_err);
    printf("%sactive_s: %.3f\n", p, t_last > t_first ? (t_last - t_first) / 1e9 : 0.0);
    if (lat) {
        print_pcts(p, "oneway", lat, nlat);
        free(lat);
    }
    fflush(stdout);
    close(fd);
    return 0;
}

/* -------------------------------------------------------------------------------- source */

static int run_source(const struct opts *o)
{
    int fd = mksock(o->bind, o->buf), b = o->batch, i;
    struct sockaddr_in dst, me;
    socklen_t ml = sizeof(me);
    static char sbuf[MAXB][BUFSZ], rbuf[MAXB][BUFSZ];
    struct mmsghdr sm[MAXB], rm[MAXB];
    struct iovec siov[MAXB], riov[MAXB];
    uint64_t *sent_at = calloc(RING, sizeof(uint64_t));
    uint32_t *rtt = o->lat ? malloc(MAXSAMPLES * sizeof(uint32_t)) : NULL;
    size_t nrtt = 0;
    uint64_t seq = 0, done = 0, done_m = 0, sent_m = 0, other_resp = 0, other_resp_m = 0,
             stalls = 0, send_err = 0, late = 0, bad = 0;
    char myip[32];
    const char *p = o->prefix ? o->prefix : "source_";
    char sdpbuf[512];
    pid_t pid = getpid();
    /* fixed numbers are telephone numbers: user=phone (RFC 3261 19.1.1), as a verifier wants */
    const char *uphone_from = o->from ? ";user=phone" : "";
    const char *uphone_to = o->to ? ";user=phone" : "";

    if (parse_addr(o->target, &dst) != 0) {
        fprintf(stderr, "loadgen: bad --target\n");
        return 2;
    }
    getsockname(fd, (struct sockaddr *)&me, &ml);
    inet_ntop(AF_INET, &me.sin_addr, myip, sizeof(myip));
    unsigned myport = ntohs(me.sin_port);

    for (i = 0; i < b; i++) {
        siov[i].iov_base = sbuf[i];
        memset(&sm[i].msg_hdr, 0, sizeof(sm[i].msg_hdr));
        sm[i].msg_hdr.msg_iov = &siov[i];
        sm[i].msg_hdr.msg_iovlen = 1;
        sm[i].msg_hdr.msg_name = &dst;
        sm[i].msg_hdr.msg_namelen = sizeof(dst);
    }

    uint64_t t0 = now_ns();
    uint64_t t_ms = t0 + (uint64_t)(o->warmup * 1e9);     /* measuring starts */
    uint64_t t_me = t_ms + (uint64_t)(o->duration * 1e9); /* measuring ends, stop sending */
    uint64_t t_end = t_me + (uint64_t)(o->drain * 1e9);   /* stop receiving */
    uint64_t last_progress = t0;
    int64_t outstanding = 0;
    double per_ns = o->rate / 1e9;

    for (;;) {
        uint64_t t = now_ns();
        if (stop_flag || t >= t_end)
            break;
        if (t >= t_me && outstanding <= 0)
            break;
        /* how many may we send now */
        int64_t can = 0;
        if (t < t_me) {
            if (o->rate > 0)
                can = (int64_t)((double)(t - t0) * per_ns) - (int64_t)seq;
            else
                can = b;
            if (can > b)
                can = b;
            if (o->window > 0 && can > o->window - outstanding)
                can = o->window - outstanding;
        }
        if (can > 0) {
            int m = 1;
            int meas = t >= t_ms;
            for (i = 0; i < can; i++) {
                uint64_t s = seq + (uint64_t)i;
                unsigned x = (unsigned)(s % 10000), y = (unsigned)((s * 7919) % 10000);
                char fu[64], tu[64];
                int bl =
                    snprintf(sdpbuf, sizeof(sdpbuf), SDP_FMT, 10000 + (unsigned)(s % 50000) * 2);
                if (o->from)
                    snprintf(fu, sizeof(fu), "%s", o->from);
                else
                    snprintf(fu, sizeof(fu), "+1202555%04u", x);
                if (o->to)
                    snprintf(tu, sizeof(tu), "%s", o->to);
                else
                    snprintf(tu, sizeof(tu), "1202555%04u", y);
                int l = snprintf(sbuf[i], BUFSZ,
                                 "INVITE sip:%s@127.0.0.1:5060%s SIP/2.0\r\n"
                                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-lg%d-%llu;rport\r\n"
                                 "Max-Forwards: 70\r\n"
                                 "From: <sip:%s@%s%s>;tag=lg%llu\r\n"
                                 "To: <sip:%s@127.0.0.1%s>\r\n"
                                 "Call-ID: lg%llu-%d@%s\r\n"
                                 "CSeq: 1 INVITE\r\n"
                                 "Contact: <sip:%s@%s:%u>\r\n"
                                 "X-Lg-Ts: %llu;m=%d\r\n"
                                 "%s"
                                 "Content-Type: application/sdp\r\n"
                                 "Content-Length: %d\r\n\r\n%s",
                                 tu, uphone_to, myip, myport, pid, (unsigned long long)s, fu, myip,
                                 uphone_from, (unsigned long long)s, tu, uphone_to,
                                 (unsigned long long)s, pid, myip, fu, myip, myport,
                                 (unsigned long long)t, meas, o->extra, bl, sdpbuf);
                if (l >= BUFSZ) {
                    fprintf(stderr, "loadgen: INVITE longer than %d bytes\n", BUFSZ - 1);
                    exit(2);
                }
                siov[i].iov_len = (size_t)l;
                sent_at[s % RING] = t;
            }
            m = (int)can;
            int off = 0;
            while (off < m) {
                int r = sendmmsg(fd, sm + off, (unsigned)(m - off), 0);
                if (r <= 0) {
                    if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
                        continue;
                    send_err += (uint64_t)(m - off);
                    break;
                }
                off += r;
            }
            seq += (uint64_t)m;
            outstanding += m;
            if (meas)
                sent_m += (uint64_t)m;
        }
        /* read whatever has come back */
        int got = 0;
        for (;;) {
            for (i = 0; i < b; i++) {
                riov[i].iov_base = rbuf[i];
                riov[i].iov_len = BUFSZ - 1;
                memset(&rm[i].msg_hdr, 0, sizeof(rm[i].msg_hdr));
                rm[i].msg_hdr.msg_iov = &riov[i];
                rm[i].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(fd, rm, (unsigned)b, MSG_DONTWAIT, NULL);
            if (n <= 0)
                break;
            uint64_t tr = now_ns();
            got += n;
            for (i = 0; i < n; i++) {
                char *m = rbuf[i];
                size_t len = rm[i].msg_len;
                const char *e, *v;
                m[len] = 0;
                if (len < 12 || strncmp(m, "SIP/2.0 ", 8) != 0) {
                    bad++;
                    continue;
                }
                int code = atoi(m + 8);
                if (code < 200)
                    continue; /* provisional: not final */
                v = find_hdr(m, len, "Call-ID", "i", &e);
                uint64_t s = 0;
                if (!v || strncmp(v, "lg", 2) != 0) {
                    bad++;
                    continue;
                }
                s = strtoull(v + 2, NULL, 10);
                uint64_t ts = sent_at[s % RING];
                int meas = ts >= t_ms && ts < t_me;
                outstanding--;
                if (code == 200) {
                    done++;
                    if (meas) {
                        done_m++;
                        if (rtt && nrtt < MAXSAMPLES && tr > ts)
                            rtt[nrtt++] =
                                (uint32_t)((tr - ts) > 0xffffffffu ? 0xffffffffu : tr - ts);
                    }
                } else {
                    other_resp++;
                    other_resp_m += meas;
                }
            }
            last_progress = tr;
            if (n < b)
                break;
        }
        if (outstanding < 0) {
            late += (uint64_t)-outstanding;
            outstanding = 0;
        }
        /* closed loop: window full and nothing came back for 200 ms -> count those as lost */
        t = now_ns();
        if (outstanding > 0 && t - last_progress > 200000000ull &&
            (o->window > 0 && outstanding >= o->window)) {
            outstanding = 0;
            stalls++;
            last_progress = t;
        }
        if (got == 0) {
            /* sleep until the next INVITE is due or a reply arrives */
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            struct timespec to = {0, 10000000}; /* 10 ms */
            if (t < t_me && o->rate > 0) {
                uint64_t next = t0 + (uint64_t)((double)(seq + 1) / per_ns);
                uint64_t d = next > t ? next - t : 0;
                if (d < 10000000ull)
                    to.tv_nsec = (long)d;
            } else if (t < t_me && (o->window <= 0 || outstanding < o->window)) {
                to.tv_nsec = 0; /* free to send more right away */
            }
            if (to.tv_nsec > 0)
                ppoll(&pf, 1, &to, NULL);
        }
    }
    double win = o->duration;
    printf("%starget: %s\n", p, o->target);
    printf("%srate_target: %.0f\n", p, o->rate);
    printf("%swindow: %d\n", p, o->window);
    printf("%sbatch: %d\n", p, b);
    printf("%ssent: %llu\n", p, (unsigned long long)seq);
    printf("%ssent_measured: %llu\n", p, (unsigned long long)sent_m);
    printf("%scompleted: %llu\n", p, (unsigned long long)done);
    printf("%scompleted_measured: %llu\n", p, (unsigned long long)done_m);
    printf("%snon200_finals: %llu\n", p, (unsigned long long)other_resp);
    printf("%snon200_finals_measured: %llu\n", p, (unsigned long long)other_resp_m);
    printf("%slost: %llu\n", p,
           (unsigned long long)(seq > done + other_resp ? seq - done - other_resp : 0));
    printf("%sstalls: %llu\n", p, (unsigned long long)stalls);
    printf("%slate_or_duplicate: %llu\n", p, (unsigned long long)late);
    printf("%sunparsable_replies: %llu\n", p, (unsigned long long)bad);
    printf("%ssend_errors: %llu\n", p, (unsigned long long)send_err);
    printf("%ssent_per_s: %.0f\n", p, sent_m / win);
    printf("%scompleted_per_s: %.0f\n", p, done_m / win);
    if (rtt) {
        print_pcts(p, "rtt", rtt, nrtt);
        free(rtt);
    }
    fflush(stdout);
    free(sent_at);
    close(fd);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --source --bind IP:PORT --target IP:PORT [--rate N (0 = max)]\n"
            "               [--duration S] [--warmup S] [--drain S] [--batch N] [--window N]\n"
            "               [--buf BYTES] [--no-lat] [--prefix P] [--from TN] [--to TN]\n"
            "               [--header LINE]... (at most %d)\n"
            "       loadgen --sink --bind IP:PORT [--duration S (0 = until signal)] [--batch N]\n"
            "               [--buf BYTES] [--no-lat] [--prefix P]\n",
            MAXHDR);
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {.rate = 0,
                     .duration = 5,
                     .warmup = 1,
                     .drain = 0.5,
                     .batch = 32,
                     .window = 512,
                     .buf = 8 << 20,
                     .lat = 1};
    static const struct option lo[] = {{"source", no_argument, 0, 'S'},
                                       {"sink", no_argument, 0, 'K'},
                                       {"bind", required_argument, 0, 'b'},
                                       {"target", required_argument, 0, 't'},
                                       {"rate", required_argument, 0, 'r'},
                                       {"duration", required_argument, 0, 'd'},
                                       {"warmup", required_argument, 0, 'w'},
                                       {"drain", required_argument, 0, 'D'},
                                       {"batch", required_argument, 0, 'B'},
                                       {"window", required_argument, 0, 'W'},
                                       {"buf", required_argument, 0, 'u'},
                                       {"no-lat", no_argument, 0, 'L'},
                                       {"prefix", required_argument, 0, 'p'},
                                       {"from", required_argument, 0, 'f'},
                                       {"to", required_argument, 0, 'T'},
                                       {"header", required_argument, 0, 'H'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'S':
            o.source = 1;
            break;
        case 'K':
            o.sink = 1;
            break;
        case 'b':
            o.bind = optarg;
            break;
        case 't':
            o.target = optarg;
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 'd':
            o.duration = atof(optarg);
            break;
        case 'w':
            o.warmup = atof(optarg);
            break;
        case 'D':
            o.drain = atof(optarg);
            break;
        case 'B':
            o.batch = atoi(optarg);
            break;
        case 'W':
            o.window = atoi(optarg);
            break;
        case 'u':
            o.buf = atoi(optarg);
            break;
        case 'L':
            o.lat = 0;
            break;
        case 'p':
            o.prefix = optarg;
            break;
        case 'f':
            o.from = optarg;
            break;
        case 'T':
            o.to = optarg;
            break;
        case 'H': {
            size_t l = strlen(optarg);
            if (o.nextra == MAXHDR || l + 3 > sizeof(o.extra) - o.extralen ||
                strpbrk(optarg, "\r\n")) {
                fprintf(stderr, "loadgen: too many, too long or multi-line --header\n");
                usage();
            }
            memcpy(o.extra + o.extralen, optarg, l);
            memcpy(o.extra + o.extralen + l, "\r\n", 3);
            o.extralen += l + 2;
            o.nextra++;
            break;
        }
        default:
            usage();
        }
    }
    if (o.source == o.sink || !o.bind || (o.source && !o.target) || o.batch < 1 || o.batch > MAXB)
        usage();
    if (o.source && o.duration <= 0)
        usage();
    if ((o.from && strlen(o.from) > 40) || (o.to && strlen(o.to) > 40))
        usage();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sig;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return o.sink ? run_sink(&o) : run_source(&o);
}
