/*
 * cmd_pcap.c - "stirwire pcap": audits captured SIP traffic for STIR/SHAKEN, offline.
 *
 * Reads pcap and pcapng files (gzip'd too; several at once, merged in time order), and
 * runs every SIP message through the TAP (src/tap/): the decoder (link, VLAN, IP,
 * fragments, TCP reassembly), then the engine, which matches one built-in trunk and runs
 * the daemon's verify filter on it in observe mode (policy "pass"), so the tool judges a
 * call exactly as stirwired would have, at the moment the packet was captured: iat and
 * Date against the capture time, the certificate chain at the capture's first frame, the
 * leaf at iat. Certificates come from a directory mapped by x5u (--certs), the cache
 * directory, or a fetch under the usual policy (--no-fetch: never).
 *
 * Output: a table for people on stdout (or, with --json, one audit record per INVITE and
 * the summary as the last line), a progress line on stderr when it is a terminal, an
 * optional HTML report (--html) and a pcap of the failing calls' packets (--failed-pcap,
 * which reads the files twice more: once to find the failing calls' frames, once to copy
 * them). The exit code is 0 when no call failed verification, else the error class most
 * failures fall in (4..8), 2 for input that cannot be read, 1 for usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libconfig.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#include "../core/conf.h"
#include "../core/counters.h"
#include "../core/filter.h"
#include "../sip/sipmsg.h"
#include "../tap/decode.h"
#include "../tap/report.h"
#include "../tap/source.h"
#include "../tap/tap.h"

#define CMD "pcap"
#define AGE_MAX INT64_C(3155760000)
#define CERTS_MAX_FILES 65536

void cmd_pcap_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: %s pcap [options] FILE...\n"
        "\n"
        "Audits captured SIP traffic for STIR/SHAKEN: every INVITE in the capture is judged\n"
        "as stirwired's verify filter judges it, at the time it was captured. FILE is a\n"
        "pcap or pcapng file, gzip-compressed or not; several are merged in time order;\n"
        "'-' reads one from standard input. Link types: Ethernet (VLAN, QinQ), Linux\n"
        "cooked (SLL, SLL2), raw IP, BSD loopback; IPv4 and IPv6, fragments reassembled;\n"
        "SIP over UDP, TCP (reassembled) and WebSocket.\n"
        "\n"
        "Prints a summary table (calls by result, attestation and error; the x5u hosts,\n"
        "SPCs and calling-number prefixes with most failures; packets read and dropped by\n"
        "reason). Exits 0 when no call failed verification, else the error class most\n"
        "failures fall in (4 malformed, 5 stale, 6 claims, 7 signature, 8 certificate);\n"
        "2 when a file cannot be read.\n"
        "\n"
        "Output options:\n"
        "      --json             one JSON audit record per INVITE on stdout, then the\n"
        "                         summary as one JSON object {\"summary\": ...}\n"
        "      --html FILE        write a self-contained HTML report (no outside assets)\n"
        "      --failed-pcap FILE write the packets of the failing calls to a new pcap\n"
        "  -q, --quiet            no table (the exit code and the files only)\n"
        "      --no-progress      no progress line, even on a terminal\n"
        "\n"
        "Verification options:\n"
        "      --certs DIR        certificates for offline work: DIR/index lines \"URL FILE\",\n"
        "                         and files named after the URL (host and path, every\n"
        "                         character outside [A-Za-z0-9._-] as '_': the certificate\n"
        "                         of https://cert.example.net/sp.pem is\n"
        "                         DIR/cert.example.net_sp.pem); they answer before any fetch\n"
        "      --no-fetch         never use the network: certificates (and CRLs) from\n"
        "                         --certs and --cache-dir only; a CRL distribution point\n"
        "                         with no local copy is skipped (--crl files still count)\n"
        "      --no-verify        decode and report only (every call \"not-verified\")\n"
        "      --threads N        judge calls on N threads (1..16, default 1): one decodes,\n"
        "                         N judge, each call always on the same one\n"
        "      --max-age SECONDS  how old iat and Date may be at capture time (default 60)\n"
        "      --skew SECONDS     how far they may lie in the future (default 5)\n"
        "      --date MODE        the Date header: check (default), require or ignore\n"
        "      --dest-ruri        the called number is the Request-URI's, not To's\n"
        "      --anonymous MODE   a call with no calling number: no-tn (default) or verify\n"
        "\n"
        "Fetch options:\n"
        "%s"
        "\n"
        "  -h, --help             print this help\n",
        CLI_PROG, cli_fetch_help);
}

/* --- a set of 64-bit keys (Call-IDs hashed, frame references) ------------------------------ */

struct keyset {
    uint64_t *v; /* open addressing; 0 is "empty", so keys are made non-zero */
    size_t cap, n;
};

static int keyset_add(struct keyset *s, uint64_t k)
{
    size_t i;

    k |= 1;
    if ((s->n + 1) * 2 > s->cap) {
        struct keyset t = {NULL, s->cap ? s->cap * 2 : 1024, 0};
        if ((t.v = calloc(t.cap, sizeof(*t.v))) == NULL)
            return -1;
        for (i = 0; i < s->cap; i++)
            if (s->v[i] != 0)
                keyset_add(&t, s->v[i]);
        free(s->v);
        *s = t;
    }
    for (i = k & (s->cap - 1); s->v[i] != 0; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == k)
            return 0;
    s->v[i] = k;
    s->n++;
    return 1;
}

static int keyset_has(const struct keyset *s, uint64_t k)
{
    size_t i;

    if (s->cap == 0)
        return 0;
    k |= 1;
    for (i = k & (s->cap - 1); s->v[i] != 0; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == k)
            return 1;
    return 0;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    while (n-- > 0)
        h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
    return h;
}

static uint64_t frame_key(unsigned source, uint64_t index)
{
    return ((uint64_t)source << 48 | (index & 0xffffffffffffULL)) * 0x9E3779B97F4A7C15ULL;
}

/* --- state of one run ------------------------------------------------------------------------ */

struct run {
    struct tap_report *report;
    struct tap_engine *engine;
    sw_verifier *v;
    int check_time_set;
    int want_failed; /* --failed-pcap: remember the failing calls' Call-IDs */
    struct keyset failed_calls;
    struct keyset failed_frames;
    int64_t first_us, last_us;
    uint64_t invalid, calls;
    int threaded;         /* --threads > 1: the callbacks come from several engines */
    pthread_mutex_t lock; /* then guards the report, the counts and failed_calls */
    struct workers *workers;
};

static void on_call(void *arg, const struct tap_call *c)
{
    struct run *r = arg;
    const char *res;

    if (r->threaded)
        pthread_mutex_lock(&r->lock);
    tap_report_add(r->report, c);
    r->calls++;
    res = tap_call_result(c->v);
    if (strcmp(res, "invalid") == 0)
        r->invalid++;
    if (r->want_failed && (strcmp(res, "invalid") == 0 || strcmp(res, "unverifiable") == 0))
        keyset_add(&r->failed_calls, hash_bytes(c->call_id, strlen(c->call_id)));
    if (r->threaded)
        pthread_mutex_unlock(&r->lock);
}

static void on_retransmission(void *arg, const struct tap_call *c)
{
    struct run *r = arg;

    (void)c;
    if (r->threaded)
        pthread_mutex_lock(&r->lock);
    tap_report_retransmission(r->report);
    if (r->threaded)
        pthread_mutex_unlock(&r->lock);
}

/* --- --threads: engines on worker threads, fed by the decoding thread --------------------------
 */

/*
 * The decoding thread copies each message into a batch for the worker its Call-ID hashes
 * to, so that every message of a call (its retransmissions too) meets the same engine.
 * Batches are handed over under a mutex, at most BATCHES_MAX in flight per worker (the
 * decoder waits beyond that, so memory stays bounded).
 */
#define BATCH_BYTES (256 * 1024)
#define BATCH_MSGS 512
#define BATCHES_MAX 16
#define WORKERS_MAX 16

struct bitem {
    size_t off, len;
    struct sockaddr_storage src, dst;
    socklen_t srclen, dstlen;
    int transport;
    int64_t ts_us;
};

struct batch {
    size_t n, used;
    struct bitem item[BATCH_MSGS];
    char buf[BATCH_BYTES];
    struct batch *next;
};

struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct batch *head, *tail; /* full batches to judge */
    size_t queued;
    int done;          /* no more batches will come */
    struct batch *cur; /* being filled by the decoding thread */
    struct tap_engine *engine;
    sw_ctx *ctx;
    struct sw_stats st;
};

struct workers {
    size_t n;
    int finished;
    struct worker w[WORKERS_MAX];
};

/* The Call-ID's hash, read from the raw message (header names case-insensitive, i:). */
static uint64_t callid_hash(const char *p, size_t n)
{
    const char *e = p + n, *l = p;

    while (l < e) {
        const char *nl = memchr(l, '\n', (size_t)(e - l)), *v;
        size_t ll = (size_t)((nl != NULL ? nl : e) - l);
        if (ll <= 2) /* the empty line: the headers end */
            break;
        v = NULL;
        if (ll > 8 && strncasecmp(l, "Call-ID", 7) == 0 && (l[7] == ':' || l[7] == ' '))
            v = l + 7;
        else if (ll > 2 && (l[0] == 'i' || l[0] == 'I') && (l[1] == ':' || l[1] == ' '))
            v = l + 1;
        if (v != NULL) {
            const char *ve = l + ll;
            while (v < ve && (*v == ' ' || *v == ':' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            return hash_bytes(v, (size_t)(ve - v));
        }
        l = nl != NULL ? nl + 1 : e;
    }
    return 0;
}

static void worker_push(struct worker *w, struct batch *b)
{
    pthread_mutex_lock(&w->lock);
    while (w->queued >= BATCHES_MAX)
        pthread_cond_wait(&w->cond, &w->lock);
    b->next = NULL;
    if (w->tail != NULL)
        w->tail->next = b;
    else
        w->head = b;
    w->tail = b;
    w->queued++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct batch *b;
    struct tap_msg m;
    size_t i;

    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->done)
            pthread_cond_wait(&w->cond, &w->lock);
        if ((b = w->head) == NULL) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        w->head = b->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        memset(&m, 0, sizeof(m));
        for (i = 0; i < b->n; i++) {
            const struct bitem *it = &b->item[i];
            m.data = b->buf + it->off;
            m.len = it->len;
            memcpy(&m.src, &it->src, sizeof(m.src));
            memcpy(&m.dst, &it->dst, sizeof(m.dst));
            m.srclen = it->srclen;
            m.dstlen = it->dstlen;
            m.transport = it->transport;
            m.ts_us = it->ts_us;
            tap_engine_msg(w->engine, &m);
        }
        free(b);
        tap_engine_poll(w->engine);
        if (tap_engine_parked(w->engine) >= 512)
            tap_engine_drain(w->engine, 100);
    }
    tap_engine_drain(w->engine, 60000);
    return NULL;
}

/* The decoding thread's side: the message to its worker's batch. */
static void workers_msg(struct workers *ws, const struct tap_msg *m)
{
    struct worker *w = &ws->w[callid_hash(m->data, m->len) % ws->n];
    struct batch *b = w->cur;
    struct bitem *it;

    if (m->len > BATCH_BYTES)
        return; /* cannot happen: the decoder's max_msg is 64 KiB */
    if (b != NULL && (b->n == BATCH_MSGS || b->used + m->len > BATCH_BYTES)) {
        worker_push(w, b);
        b = w->cur = NULL;
    }
    if (b == NULL) {
        if ((b = malloc(sizeof(*b))) == NULL)
            return; /* counted by nobody: out of memory ends the run soon anyway */
        b->n = b->used = 0;
        w->cur = b;
    }
    it = &b->item[b->n++];
    it->off = b->used;
    it->len = m->len;
    memcpy(b->buf + b->used, m->data, m->len);
    b->used += m->len;
    memcpy(&it->src, &m->src, sizeof(it->src));
    memcpy(&it->dst, &m->dst, sizeof(it->dst));
    it->srclen = m->srclen;
    it->dstlen = m->dstlen;
    it->transport = m->transport;
    it->ts_us = m->ts_us;
}

/* Hands over the last batches and waits for every worker to finish. */
static void workers_finish(struct workers *ws)
{
    size_t i;

    if (ws->finished)
        return;
    ws->finished = 1;
    for (i = 0; i < ws->n; i++) {
        struct worker *w = &ws->w[i];
        if (w->cur != NULL) {
            worker_push(w, w->cur);
            w->cur = NULL;
        }
        pthread_mutex_lock(&w->lock);
        w->done = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    for (i = 0; i < ws->n; i++)
        pthread_join(ws->w[i].thread, NULL);
}

/* The decoder's callback: the engine judges the message (here or on a worker). */
static void on_msg(void *arg, const struct tap_msg *m)
{
    struct run *r = arg;

    if (r->workers != NULL)
        workers_msg(r->workers, m);
    else
        tap_engine_msg(r->engine, m);
}

/* --- certificates for offline work ----------------------------------------------------------- */

/* The file name --certs derives from a URL: host and path, other characters as '_'. */
static void url_file_name(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    size_t n = 0;

    p = p != NULL ? p + 3 : url;
    for (; *p != '\0' && n + 1 < size; p++) {
        unsigned char ch = (unsigned char)*p;
        out[n++] = ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_')
                       ? (char)ch
                       : '_';
    }
    out[n] = '\0';
}

static int read_small_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return -1;
    if ((buf = malloc(1024 * 1024 + 1)) == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, 1024 * 1024 + 1, f);
    fclose(f);
    if (n == 0 || n > 1024 * 1024) {
        free(buf);
        errno = n == 0 ? EINVAL : EFBIG;
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/*
 * --certs DIR, first way: DIR/index, "URL FILE" a line (FILE relative to DIR; '#' starts
 * a comment). Every URL it names is answered locally (sw_verifier_add_local). The second
 * way, a file named after its URL, cannot be listed in advance (a name does not give the
 * URL back): certs_resolve() looks for it when the capture first shows that URL, before
 * the call is judged, so the fetch thread finds it in the same local table.
 * 0, -1 (errno: the index cannot be read), -2 (a bad line, reported here).
 */
static int certs_index(const char *dir, sw_verifier *v, size_t *loaded)
{
    char path[4096], line[4096], file[4096], q[200];
    FILE *f;
    unsigned lineno = 0;

    snprintf(path, sizeof(path), "%s/index", dir);
    if ((f = fopen(path, "r")) == NULL)
        return errno == ENOENT ? 0 : -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        char url[2100], name[2048], *body;
        size_t len;
        lineno++;
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
            continue;
        if (sscanf(line, "%2047s %2047s", url, name) != 2) {
            cli_err(CMD, "%s:%u: want \"URL FILE\"", cli_quote(path, q, sizeof(q)), lineno);
            fclose(f);
            return -2;
        }
        snprintf(file, sizeof(file), "%s%s%s", name[0] == '/' ? "" : dir, name[0] == '/' ? "" : "/",
                 name);
        if (read_small_file(file, &body, &len) != 0) {
            cli_err(CMD, "%s:%u: cannot read %s: %s", cli_quote(path, q, sizeof(q)), lineno, name,
                    strerror(errno));
            fclose(f);
            return -2;
        }
        if (sw_verifier_add_local(v, url, body, len) != SW_OK) {
            cli_err(CMD, "%s:%u: cannot use %s", cli_quote(path, q, sizeof(q)), lineno, name);
            free(body);
            fclose(f);
            return -2;
        }
        free(body);
        (*loaded)++;
    }
    fclose(f);
    return 0;
}

struct certs {
    const char *dir;
    struct keyset tried; /* URLs (hashed) already looked up */
    sw_verifier *v;
};

/* The x5u of each Identity the capture shows gets its derived file, when DIR has one. */
static void certs_resolve(struct certs *cs, const char *url)
{
    char name[1024], path[4096], *body;
    size_t len;

    if (cs->dir == NULL || keyset_add(&cs->tried, hash_bytes(url, strlen(url))) != 1)
        return;
    url_file_name(url, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", cs->dir, name);
    if (read_small_file(path, &body, &len) == 0) {
        sw_verifier_add_local(cs->v, url, body, len);
        free(body);
    }
}

/* --- the run --------------------------------------------------------------------------------- */

struct pass_ctx {
    struct run *run;
    struct certs *certs;
};

/* The decoder's callback in the main pass: derived certificate names, then the engine. */
static void main_msg(void *arg, const struct tap_msg *m)
{
    struct pass_ctx *pc = arg;

    if (pc->certs != NULL && pc->certs->dir != NULL) {
        /* each info=<URL> (RFC 8224 section 4.1): the certificates it names */
        const char *p = m->data, *e = m->data + m->len, *q;
        char url[1024];
        int k;
        for (k = 0; k < 8 && (p = memmem(p, (size_t)(e - p), "info=<", 6)) != NULL; k++) {
            p += 6;
            if ((q = memchr(p, '>', (size_t)(e - p))) == NULL)
                break;
            if ((size_t)(q - p) < sizeof(url)) {
                memcpy(url, p, (size_t)(q - p));
                url[q - p] = '\0';
                certs_resolve(pc->certs, url);
            }
            p = q;
        }
    }
    on_msg(pc->run, m);
}

/* Pass 2 of --failed-pcap: the frames of every message of a failing call. */
static void failed_msg(void *arg, const struct tap_msg *m)
{
    struct run *r = arg;
    struct sip_msg sm;
    const struct sip_hdr *h;
    char err[80];
    size_t i;

    if (sip_parse(&sm, m->data, m->len, err, sizeof(err)) != 0 ||
        (h = sip_hdr_find(&sm, SH_CALL_ID, 0)) == NULL ||
        !keyset_has(&r->failed_calls, hash_bytes(sm.buf + h->value_off, h->value_len)))
        return;
    for (i = 0; i < m->nframes; i++)
        keyset_add(&r->failed_frames, frame_key(m->frames[i].source, m->frames[i].index));
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(struct tap_files *f, const struct run *r, int final)
{
    uint64_t done, total;

    tap_files_progress(f, &done, &total);
    if (final) {
        fprintf(stderr, "\r\033[K");
        return;
    }
    if (total > 0)
        fprintf(stderr, "\r\033[Kreading: %3d%%  %.1f MB  %llu INVITEs, %llu failed verification",
                (int)(done * 100 / total), done / 1e6, (unsigned long long)r->calls,
                (unsigned long long)r->invalid);
    else
        fprintf(stderr, "\r\033[Kreading: %.1f MB  %llu INVITEs, %llu failed verification",
                done / 1e6, (unsigned long long)r->calls, (unsigned long long)r->invalid);
    fflush(stderr);
}

/* Reads files[] through dec; fn sees each frame first (NULL: none). -1 after an error. */
static int read_files(char *const *files, size_t n, struct tap_decoder *dec, struct run *r,
                      int show_progress, int (*fn)(void *arg, const struct tap_frame *f), void *arg)
{
    char err[512];
    struct tap_files *f = tap_files_open(files, n, err, sizeof(err));
    struct tap_frame fr;
    double next = now_s() + 0.5;
    uint64_t k = 0;
    int rc;

    if (f == NULL) {
        cli_err(CMD, "%s", err);
        return -1;
    }
    for (;;) {
        if ((rc = tap_files_next(f, &fr)) == 0)
            break;
        if (rc < 0) { /* that file ends here (truncated, unreadable); the others go on */
            cli_err(CMD, "warning: %s", tap_files_error(f));
            continue;
        }
        if (fn != NULL && fn(arg, &fr) != 0)
            continue;
        if (r != NULL) {
            if (!r->check_time_set && r->v != NULL) {
                /* chains are judged at the capture's start (SW_OPT_CHECK_TIME) */
                sw_verifier_set_long(r->v, SW_OPT_CHECK_TIME, (long)(fr.ts_us / 1000000));
                r->check_time_set = 1;
            }
            if (r->first_us == 0 || fr.ts_us < r->first_us)
                r->first_us = fr.ts_us;
            if (fr.ts_us > r->last_us)
                r->last_us = fr.ts_us;
        }
        if (dec != NULL)
            tap_decode_frame(dec, &fr);
        if (r != NULL) {
            tap_engine_poll(r->engine);
            /* a capture with many new x5u URLs: let the fetches catch up */
            if (tap_engine_parked(r->engine) >= 512)
                tap_engine_drain(r->engine, 100);
        }
        if (show_progress && (++k & 1023) == 0 && now_s() >= next) {
            progress(f, r, 0);
            next = now_s() + 0.5;
        }
    }
    if (show_progress)
        progress(f, r, 1);
    tap_files_close(f);
    return 0;
}

struct writer_ctx {
    struct run *r;
    struct tap_writer *w;
    int linktype;
    uint64_t written, skipped;
};

static int write_failed(void *arg, const struct tap_frame *f)
{
    struct writer_ctx *wc = arg;

    if (keyset_has(&wc->r->failed_frames, frame_key(f->source, f->index))) {
        if (f->linktype != wc->linktype)
            wc->skipped++;
        else if (tap_writer_write(wc->w, f) == 0)
            wc->written++;
    }
    return 1; /* nothing else to do with the frame */
}

static int failed_pcap(char *const *files, size_t n, struct run *r, const char *out)
{
    struct tap_decode_limits lim;
    struct tap_decoder *dec;
    struct writer_ctx wc = {r, NULL, 0, 0, 0};
    char err[512], q[200];
    struct tap_files *f;

    tap_decode_limits_init(&lim);
    if ((dec = tap_decoder_new(&lim, failed_msg, r)) == NULL) {
        cli_err(CMD, "out of memory");
        return -1;
    }
    if (r->failed_calls.n > 0 && read_files(files, n, dec, NULL, 0, NULL, NULL) != 0) {
        tap_decoder_free(dec);
        return -1;
    }
    tap_decoder_finish(dec);
    tap_decoder_free(dec);
    if ((f = tap_files_open(files, n, err, sizeof(err))) == NULL) {
        cli_err(CMD, "%s", err);
        return -1;
    }
    wc.linktype = tap_files_linktype(f, 0);
    wc.w = tap_writer_open(out, wc.linktype, tap_files_snaplen(f, 0), err, sizeof(err));
    tap_files_close(f);
    if (wc.w == NULL) {
        cli_err(CMD, "--failed-pcap %s: %s", cli_quote(out, q, sizeof(q)), err);
        return -1;
    }
    if (r->failed_frames.n > 0 && read_files(files, n, NULL, NULL, 0, write_failed, &wc) != 0) {
        tap_writer_close(wc.w);
        return -1;
    }
    if (tap_writer_close(wc.w) != 0) {
        cli_err(CMD, "--failed-pcap %s: write failed", cli_quote(out, q, sizeof(q)));
        return -1;
    }
    if (wc.skipped > 0)
        cli_err(CMD,
                "warning: --failed-pcap: %llu frames of another link type than the first file's "
                "left out",
                (unsigned long long)wc.skipped);
    return 0;
}

/* --- the chain: one trunk, verify (observe) and audit ----------------------------------------- */

struct chain {
    config_t lc;
    int lc_init;
    struct sw_config *cfg;
    struct sw_services svc;
};

static int build_chain(struct chain *ch, sw_verifier *v, int verify, int json, int64_t max_age,
                       int64_t skew, const char *date, int dest_ruri, const char *anonymous)
{
    char text[1024], errs[2048];
    struct sw_cfg_errs e;
    const config_setting_t *tg;
    struct sw_trunk *t;
    const char *names[2];
    size_t n = 0, i;

    snprintf(text, sizeof(text),
             "t = { verify = { policy = \"pass\"; max_age = %lld; future_skew = %lld; "
             "date = \"%s\"; dest = \"%s\"; anonymous = \"%s\"; }; "
             "audit = { output = \"stdout\"; }; };",
             (long long)max_age, (long long)skew, date, dest_ruri ? "ruri" : "to", anonymous);
    config_init(&ch->lc); /* it allocates: config_destroy at the end (lc_init) */
    ch->lc_init = 1;
    if (config_read_string(&ch->lc, text) != CONFIG_TRUE) {
        cli_err(CMD, "internal: %s", config_error_text(&ch->lc));
        return -1;
    }
    tg = config_lookup(&ch->lc, "t");
    sw_services_init(&ch->svc);
    ch->svc.verifier = v;
    if ((ch->cfg = sw_config_new()) == NULL || (t = calloc(1, sizeof(*t))) == NULL ||
        (t->name = strdup("capture")) == NULL) {
        cli_err(CMD, "out of memory");
        return -1;
    }
    ch->cfg->trunks = t;
    ch->cfg->ntrunks = 1;
    ch->cfg->svc = &ch->svc;
    /* every source: one trunk for the whole capture */
    if ((t->sources = calloc(2, sizeof(*t->sources))) == NULL) {
        cli_err(CMD, "out of memory");
        return -1;
    }
    sw_cidr_parse("0.0.0.0/0", &t->sources[0], errs, sizeof(errs));
    sw_cidr_parse("::/0", &t->sources[1], errs, sizeof(errs));
    t->nsources = 2;
    if (verify)
        names[n++] = "verify";
    if (json)
        names[n++] = "audit";
    sw_cfg_errs_init(&e, "stirwire pcap");
    for (i = 0; i < n; i++) {
        struct swf_conf fc;
        const struct swf_filter *f = swf_lookup(names[i]);
        memset(&fc, 0, sizeof(fc));
        fc.errs = &e;
        fc.trunk = tg;
        fc.trunk_name = t->name;
        fc.svc = &ch->svc;
        if (f == NULL || swf_configure(f, &fc, &t->chain[t->nchain].state) != 0) {
            sw_cfg_errs_flush(&e, errs, sizeof(errs));
            cli_err(CMD, "internal: %s: %s", names[i], errs);
            return -1;
        }
        t->chain[t->nchain].filter = f;
        t->chain[t->nchain].index = swf_index(f);
        t->nchain++;
    }
    sw_cfg_errs_flush(&e, NULL, 0);
    return 0;
}

enum {
    OPT_JSON = 1,
    OPT_HTML,
    OPT_FAILED,
    OPT_NO_PROGRESS,
    OPT_CERTS,
    OPT_NO_FETCH,
    OPT_NO_VERIFY,
    OPT_MAX_AGE,
    OPT_SKEW,
    OPT_DATE,
    OPT_DEST_RURI,
    OPT_ANONYMOUS,
    OPT_THREADS,
};

int cmd_pcap(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"html", required_argument, NULL, OPT_HTML},
        {"failed-pcap", required_argument, NULL, OPT_FAILED},
        {"quiet", no_argument, NULL, 'q'},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"certs", required_argument, NULL, OPT_CERTS},
        {"no-fetch", no_argument, NULL, OPT_NO_FETCH},
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        {"skew", required_argument, NULL, OPT_SKEW},
        {"date", required_argument, NULL, OPT_DATE},
        {"dest-ruri", no_argument, NULL, OPT_DEST_RURI},
        {"anonymous", required_argument, NULL, OPT_ANONYMOUS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"help", no_argument, NULL, 'h'},
        CLI_FETCH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    cli_fetch_opts fo = {0};
    const char *html = NULL, *failed = NULL, *certs_dir = NULL, *date = "check";
    const char *anonymous = "no-tn";
    int json = 0, quiet = 0, no_progress = 0, no_fetch = 0, no_verify = 0, dest_ruri = 0;
    int64_t max_age = 60, skew = 5, nthreads = 1;
    int c, taken, rc = CLI_EXIT_OK, show_progress;
    char q[200], err[512];
    size_t i, nfiles, loaded = 0;
    char **files;
    struct run run;
    struct certs certs;
    struct chain ch;
    struct pass_ctx pc;
    struct tap_decode_limits lim;
    struct tap_decoder *dec = NULL;
    struct tap_engine_opts eo;
    struct tap_report_opts ro;
    struct tap_counts total;
    struct sw_stats *st = NULL;
    sw_ctx *ctx = NULL;
    json_t *summary;
    struct stat sb;

    memset(&run, 0, sizeof(run));
    memset(&certs, 0, sizeof(certs));
    memset(&ch, 0, sizeof(ch));
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HTML:
            html = optarg;
            break;
        case OPT_FAILED:
            failed = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case OPT_NO_PROGRESS:
            no_progress = 1;
            break;
        case OPT_CERTS:
            certs_dir = optarg;
            break;
        case OPT_NO_FETCH:
            no_fetch = 1;
            break;
        case OPT_NO_VERIFY:
            no_verify = 1;
            break;
        case OPT_MAX_AGE:
            if (cli_parse_i64(CMD, "--max-age", optarg, 1, 86400, &max_age) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_SKEW:
            if (cli_parse_i64(CMD, "--skew", optarg, 0, 3600, &skew) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_DATE:
            if (strcmp(optarg, "check") != 0 && strcmp(optarg, "require") != 0 &&
                strcmp(optarg, "ignore") != 0) {
                cli_err(CMD, "--date '%s': give check, require or ignore",
                        cli_quote(optarg, q, sizeof(q)));
                return CLI_EXIT_USAGE;
            }
            date = optarg;
            break;
        case OPT_DEST_RURI:
            dest_ruri = 1;
            break;
        case OPT_ANONYMOUS:
            if (strcmp(optarg, "no-tn") != 0 && strcmp(optarg, "verify") != 0) {
                cli_err(CMD, "--anonymous '%s': give no-tn or verify",
                        cli_quote(optarg, q, sizeof(q)));
                return CLI_EXIT_USAGE;
            }
            anonymous = optarg;
            break;
        case OPT_THREADS:
            if (cli_parse_i64(CMD, "--threads", optarg, 1, WORKERS_MAX, &nthreads) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            cmd_pcap_usage(stdout);
            return CLI_EXIT_OK;
        default:
            if ((taken = cli_fetch_opt(CMD, &fo, c, optarg)) < 0)
                return CLI_EXIT_USAGE;
            if (taken == 0)
                return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind >= argc) {
        cli_err(CMD, "give one or more capture files (see '%s pcap --help')", CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    files = argv + optind;
    nfiles = (size_t)(argc - optind);
    for (i = 0; i < nfiles; i++) {
        if (strcmp(files[i], "-") == 0) {
            if (nfiles > 1 || failed != NULL) {
                cli_err(CMD, "'-' (standard input) must be the only file, and cannot be read "
                             "again for --failed-pcap");
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        if (stat(files[i], &sb) != 0 || !S_ISREG(sb.st_mode)) {
            cli_err(CMD, "%s: %s", cli_quote(files[i], q, sizeof(q)),
                    errno != 0 && stat(files[i], &sb) != 0 ? strerror(errno)
                                                           : "not a regular file");
            return CLI_EXIT_INPUT;
        }
    }
    if (certs_dir != NULL && (stat(certs_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        cli_err(CMD, "--certs %s: not a directory", cli_quote(certs_dir, q, sizeof(q)));
        return CLI_EXIT_INPUT;
    }

    if ((ctx = sw_ctx_new()) == NULL) {
        cli_err(CMD, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    if (!no_verify) {
        if ((run.v = cli_verifier_new(CMD, &fo, ctx, &rc)) == NULL)
            goto out;
        if (no_fetch) {
            /*
             * Offline, a CRL distribution point is answered by --certs or not at all: one
             * that cannot be had must not fail every call (the --crl files still count).
             */
            sw_verifier_set_long(run.v, SW_OPT_OFFLINE, 1);
            sw_verifier_set_long(run.v, SW_OPT_CRL_UNREACHABLE, 1);
        }
        if (certs_dir != NULL) {
            int r = certs_index(certs_dir, run.v, &loaded);
            if (r == -1) {
                cli_err(CMD, "--certs %s: cannot read its index: %s",
                        cli_quote(certs_dir, q, sizeof(q)), strerror(errno));
                rc = CLI_EXIT_INPUT;
                goto out;
            }
            if (r < 0) {
                rc = CLI_EXIT_INPUT;
                goto out;
            }
            certs.dir = certs_dir;
            certs.v = run.v;
        }
    }
    if (build_chain(&ch, run.v, !no_verify, json, max_age, skew, date, dest_ruri, anonymous) != 0) {
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    tap_report_opts_init(&ro);
    if ((run.report = tap_report_new(&ro)) == NULL || (st = calloc(1, sizeof(*st))) == NULL) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    tap_report_set_inputs(run.report, files, nfiles);
    run.want_failed = failed != NULL;
    tap_engine_opts_init(&eo);
    eo.cfg = ch.cfg;
    eo.ctx = ctx;
    eo.st = st;
    eo.on_call = on_call;
    eo.on_retransmission = on_retransmission;
    eo.arg = &run;
    if ((run.engine = tap_engine_new(&eo, err, sizeof(err))) == NULL) {
        cli_err(CMD, "%s", err);
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if (nthreads > 1) {
        /* engines on worker threads; this one only decodes */
        if ((run.workers = calloc(1, sizeof(*run.workers))) == NULL) {
            cli_err(CMD, "out of memory");
            rc = CLI_EXIT_INTERNAL;
            goto out;
        }
        run.threaded = 1;
        pthread_mutex_init(&run.lock, NULL);
        for (i = 0; i < (size_t)nthreads; i++) {
            struct worker *w = &run.workers->w[i];
            pthread_mutex_init(&w->lock, NULL);
            pthread_cond_init(&w->cond, NULL);
            eo.st = &w->st;
            if ((w->ctx = sw_ctx_new()) == NULL ||
                (eo.ctx = w->ctx, w->engine = tap_engine_new(&eo, err, sizeof(err))) == NULL ||
                pthread_create(&w->thread, NULL, worker_main, w) != 0) {
                cli_err(CMD, "cannot start worker %zu: %s", i,
                        w->ctx == NULL ? "out of memory" : err);
                rc = CLI_EXIT_INTERNAL;
                goto out;
            }
            run.workers->n++;
        }
    }
    tap_decode_limits_init(&lim);
    pc.run = &run;
    pc.certs = &certs;
    if ((dec = tap_decoder_new(&lim, main_msg, &pc)) == NULL) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    show_progress = !no_progress && isatty(STDERR_FILENO);
    if (read_files(files, nfiles, dec, &run, show_progress, NULL, NULL) != 0) {
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    tap_decoder_finish(dec);
    if (run.workers != NULL)
        workers_finish(run.workers); /* each drains its own engine */
    /* the last fetches: each is bounded by the fetch timeout */
    if (tap_engine_drain(run.engine, 60000) > 0)
        cli_err(CMD, "warning: %zu calls still waited for a certificate after 60 s",
                tap_engine_parked(run.engine));

    memset(&total, 0, sizeof(total));
    tap_counts_add(&total, tap_decoder_counts(dec));
    tap_counts_add(&total, tap_engine_tap_counts(run.engine));
    for (i = 0; run.workers != NULL && i < run.workers->n; i++)
        tap_counts_add(&total, tap_engine_tap_counts(run.workers->w[i].engine));
    tap_report_set_counts(run.report, &total);
    tap_report_set_span(run.report, run.first_us, run.last_us);
    fflush(stdout); /* the audit records (written by the filter on descriptor 1) come first */
    if (json) {
        if ((summary = tap_report_summary(run.report)) != NULL) {
            char *s = json_dumps(summary, JSON_COMPACT);
            if (s != NULL)
                printf("%s\n", s);
            free(s);
            json_decref(summary);
        }
    } else if (!quiet) {
        tap_report_print(run.report, stdout);
    }
    fflush(stdout);
    if (html != NULL && tap_report_html(run.report, html, err, sizeof(err)) != 0) {
        cli_err(CMD, "--html %s: %s", cli_quote(html, q, sizeof(q)), err);
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    if (failed != NULL && failed_pcap(files, nfiles, &run, failed) != 0) {
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    rc = tap_report_exit_class(run.report);
out:
    if (run.workers != NULL) {
        workers_finish(run.workers);
        for (i = 0; i < run.workers->n; i++) {
            tap_engine_free(run.workers->w[i].engine);
            sw_ctx_free(run.workers->w[i].ctx);
        }
        free(run.workers);
    }
    tap_engine_free(run.engine);
    tap_decoder_free(dec);
    tap_report_free(run.report);
    if (ch.cfg != NULL)
        sw_config_unref(ch.cfg);
    if (ch.lc_init)
        config_destroy(&ch.lc);
    sw_verifier_free(run.v);
    sw_ctx_free(ctx);
    free(st);
    free(run.failed_calls.v);
    free(run.failed_frames.v);
    free(certs.tried.v);
    return rc;
}
