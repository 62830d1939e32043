/*
 * tap.c - the TAP's engine (tap.h): parse, recognise retransmissions, match a trunk, run
 * the chain in observe mode, report each INVITE.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/addr.h"
#include "../core/pipeline.h"
#include "../sip/fields.h"
#include "../sip/sipmsg.h"
#include "tap.h"

const char *const tap_engine_names[TAP_ENGINE_N] = {
#define TAP_X_NAME(name, help) #name,
    TAP_ENGINE_MAP(TAP_X_NAME)
#undef TAP_X_NAME
};
const char *const tap_engine_help[TAP_ENGINE_N] = {
#define TAP_X_HELP(name, help) help,
    TAP_ENGINE_MAP(TAP_X_HELP)
#undef TAP_X_HELP
};

/*
 * The transactions seen lately, for retransmissions: a hash set of 64-bit keys, each
 * also on a FIFO in the order seen. Captures are read in time order, so the FIFO's head
 * is the oldest: entries past the window are dropped from the head, and so is the head
 * when the set is full (a retransmission of a forgotten transaction is then judged again:
 * counted twice, never lost).
 */
struct txn {
    uint64_t key;
    int64_t ts_us;
    struct txn *hnext; /* hash chain */
    struct txn *fnext; /* FIFO, oldest first */
};

struct tap_engine {
    struct tap_engine_opts o;
    struct sw_waitq q;
    int q_ok;
    uint64_t counts[TAP_ENGINE_N];
    struct tap_counts tc;
    struct txn **buckets;
    size_t nbuckets, ntxn;
    struct txn *fhead, *ftail, *free_txn;
};

void tap_engine_opts_init(struct tap_engine_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_parked = 1000;
    o->retrans_max = (size_t)1 << 20;
    o->retrans_window_s = 32;
}

struct tap_engine *tap_engine_new(const struct tap_engine_opts *o, char *err, size_t errlen)
{
    struct tap_engine *e = calloc(1, sizeof(*e));
    size_t n = 1024;

    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->o = *o;
    if (e->o.retrans_max == 0)
        e->o.retrans_max = 1;
    while (n < e->o.retrans_max && n < ((size_t)1 << 22))
        n <<= 1;
    e->nbuckets = n;
    if ((e->buckets = calloc(n, sizeof(*e->buckets))) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(e);
        return NULL;
    }
    if (sw_waitq_init(&e->q, e->o.max_parked ? e->o.max_parked : 1) != 0) {
        snprintf(err, errlen, "cannot make the wait queue: %s", strerror(errno));
        free(e->buckets);
        free(e);
        return NULL;
    }
    e->q_ok = 1;
    return e;
}

void tap_engine_free(struct tap_engine *e)
{
    struct sw_job *job, *next;
    struct txn *t;

    if (e == NULL)
        return;
    /*
     * Parked jobs still waiting for their wake are owned by the fetch callbacks until the
     * wake; only the woken ones can be freed here. The caller drains first (the CLI waits
     * for every fetch; the daemon drains with a timeout at stop), so what is left here is
     * counted as given up.
     */
    for (job = sw_waitq_take(&e->q); job != NULL; job = next) {
        next = job->qnext;
        e->counts[TAP_ENGINE_dropped_parked]++;
        sw_job_free(job);
    }
    e->counts[TAP_ENGINE_dropped_parked] += e->q.parked;
    if (e->q.parked == 0)
        sw_waitq_destroy(&e->q);
    /* else: a fetch still holds a job that points at q: leave it (the process is ending) */
    while ((t = e->fhead) != NULL) {
        e->fhead = t->fnext;
        free(t);
    }
    while ((t = e->free_txn) != NULL) {
        e->free_txn = t->fnext;
        free(t);
    }
    free(e->buckets);
    free(e);
}

void tap_engine_set_config(struct tap_engine *e, struct sw_config *cfg)
{
    e->o.cfg = cfg;
}

/* --- retransmissions --------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    while (n-- > 0)
        h = (h ^ *s++) * 1099511628211ULL;
    return h;
}

/* The request's transaction: Call-ID, CSeq number and method, top Via branch. */
static uint64_t txn_key(const struct sip_msg *m)
{
    const struct sip_hdr *h;
    struct sip_via via;
    uint64_t k = 1469598103934665603ULL;

    if ((h = sip_hdr_find(m, SH_CALL_ID, 0)) != NULL)
        k = fnv(k, m->buf + h->value_off, h->value_len);
    k = fnv(k, &m->cseq, sizeof(m->cseq));
    k = fnv(k, m->buf + m->cseq_method_off, m->cseq_method_len);
    if ((h = sip_hdr_find(m, SH_VIA, 0)) != NULL && sip_via_parse(m, h, &via) == 0)
        k = fnv(k, via.branch, strlen(via.branch));
    return k;
}

static void txn_unlink(struct tap_engine *e, struct txn *t)
{
    struct txn **pp = &e->buckets[t->key & (e->nbuckets - 1)];

    while (*pp != NULL && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp == t)
        *pp = t->hnext;
}

/* Drops the head of the FIFO (the oldest transaction). */
static void txn_pop(struct tap_engine *e)
{
    struct txn *t = e->fhead;

    e->fhead = t->fnext;
    if (e->fhead == NULL)
        e->ftail = NULL;
    txn_unlink(e, t);
    e->ntxn--;
    t->fnext = e->free_txn;
    e->free_txn = t;
}

/* 1 when key was seen within the window (a retransmission); else remembers it, 0. */
static int txn_seen(struct tap_engine *e, uint64_t key, int64_t ts_us)
{
    int64_t window = (int64_t)e->o.retrans_window_s * 1000000;
    struct txn *t;

    while (e->fhead != NULL && e->fhead->ts_us < ts_us - window)
        txn_pop(e);
    for (t = e->buckets[key & (e->nbuckets - 1)]; t != NULL; t = t->hnext)
        if (t->key == key)
            return 1;
    if (e->ntxn >= e->o.retrans_max)
        txn_pop(e);
    if ((t = e->free_txn) != NULL)
        e->free_txn = t->fnext;
    else if ((t = malloc(sizeof(*t))) == NULL)
        return 0; /* judged again if it comes back: counted twice, not lost */
    t->key = key;
    t->ts_us = ts_us;
    t->hnext = e->buckets[key & (e->nbuckets - 1)];
    e->buckets[key & (e->nbuckets - 1)] = t;
    t->fnext = NULL;
    if (e->ftail != NULL)
        e->ftail->fnext = t;
    else
        e->fhead = t;
    e->ftail = t;
    e->ntxn++;
    return 0;
}

/* --- reporting --------------------------------------------------------------------------- */

/* "ip:port" / "[v6]:port" of a known address; "" when the message did not say (HEP). */
static void addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t size)
{
    out[0] = '\0';
    if (len > 0) {
        sw_addr_str((const struct sockaddr *)ss, out, size);
        if (strcmp(out, "?") == 0) /* a family sw_addr_str cannot write */
            out[0] = '\0';
    }
}

/* The judged INVITE's record, handed to on_call (or on_retransmission when v is NULL). */
static void report(struct tap_engine *e, const struct sw_job *job, const struct swf_verdict *v,
                   tap_call_fn fn)
{
    const struct sip_msg *m = &job->msg;
    const struct sip_hdr *h;
    char callid[256], src[80], dst[80];
    struct tap_call c;

    if (fn == NULL)
        return;
    memset(&c, 0, sizeof(c));
    c.ts_us = job->ts_us;
    callid[0] = '\0';
    if ((h = sip_hdr_find(m, SH_CALL_ID, 0)) != NULL) {
        size_t n = h->value_len < sizeof(callid) - 1 ? h->value_len : sizeof(callid) - 1;
        memcpy(callid, m->buf + h->value_off, n);
        callid[n] = '\0';
    }
    addr_text(&job->src, job->srclen, src, sizeof(src));
    addr_text(&job->route.dst, job->route.dstlen, dst, sizeof(dst));
    c.call_id = callid;
    c.src = src;
    c.dst = dst;
    c.transport = job->transport;
    c.trunk = job->call.trunk != NULL && job->call.trunk->name != NULL ? job->call.trunk->name : "";
    c.v = v;
    if (v != NULL && v->identity_index >= 0 &&
        (h = sip_hdr_find(m, SH_IDENTITY, (size_t)v->identity_index)) != NULL) {
        c.identity = m->buf + h->value_off;
        c.identity_len = h->value_len;
    }
    fn(e->o.arg, &c);
}

/* The chain has ended for job's request (r, by): its done hooks, then the report. */
static void finish(struct tap_engine *e, struct sw_job *job, swf_result r,
                   const struct swf_filter *by)
{
    sw_pipeline_done(job, r, by);
    if (sip_is_method(&job->msg, "INVITE")) {
        e->counts[TAP_ENGINE_invites]++;
        report(e, job, &job->call.verdict, e->o.on_call);
    }
}

/* --- messages ---------------------------------------------------------------------------- */

void tap_engine_msg(void *engine, const struct tap_msg *tm)
{
    struct tap_engine *e = engine;
    struct sw_config *cfg = e->o.cfg;
    const struct sw_trunk *trunk;
    const struct swf_filter *by = NULL;
    struct sw_job job;
    char err[160], rhost[256];
    swf_result r;

    e->counts[TAP_ENGINE_messages]++;
    if (e->o.st != NULL)
        e->o.st->received++;
    if (sip_parse(&job.msg, tm->data, tm->len, err, sizeof(err)) != 0) {
        e->counts[TAP_ENGINE_malformed]++;
        e->tc.drop[TAP_DROP_sip_malformed]++;
        if (e->o.st != NULL)
            e->o.st->dropped_malformed++;
        return;
    }
    if (!job.msg.is_request) {
        e->counts[TAP_ENGINE_responses]++;
        if (e->o.st != NULL)
            e->o.st->responses++;
        return;
    }
    e->counts[TAP_ENGINE_requests]++;
    if (e->o.st != NULL)
        e->o.st->requests++;
    if (txn_seen(e, txn_key(&job.msg), tm->ts_us)) {
        e->counts[TAP_ENGINE_retransmissions]++;
        if (sip_is_method(&job.msg, "INVITE") && e->o.on_retransmission != NULL) {
            job.ts_us = tm->ts_us;
            job.srclen = 0;
            job.route.dstlen = 0;
            job.transport = tm->transport;
            job.call.trunk = NULL;
            report(e, &job, NULL, e->o.on_retransmission);
        }
        return;
    }
    trunk = cfg == NULL
                ? NULL
                : sw_trunk_match_flow(
                      cfg->trunks, cfg->ntrunks, (const struct sockaddr *)&tm->src,
                      tm->dstlen ? (const struct sockaddr *)&tm->dst : NULL,
                      cfg->any_domain ? sip_ruri_host(&job.msg, rhost, sizeof(rhost)) : NULL);
    if (trunk == NULL) {
        e->counts[TAP_ENGINE_no_trunk]++;
        if (e->o.st != NULL)
            e->o.st->dropped_no_trunk++;
        return;
    }
    sw_job_start(&job, cfg, trunk, (const struct sockaddr *)&tm->src, tm->srclen, tm->transport,
                 tm->ts_us / 1000000, e->o.ctx, &e->q, e->o.st);
    job.call.observe = 1;
    job.ts_us = tm->ts_us;
    job.route.dstlen = tm->dstlen <= sizeof(job.route.dst) ? tm->dstlen : 0;
    if (job.route.dstlen > 0)
        memcpy(&job.route.dst, &tm->dst, job.route.dstlen);
    r = sw_pipeline_run(&job, &by);
    if (r == SWF_WAIT) {
        e->counts[TAP_ENGINE_parked]++;
        return; /* the heap copy comes back through the wait queue */
    }
    finish(e, &job, r, by);
}

size_t tap_engine_poll(struct tap_engine *e)
{
    struct sw_job *job, *next;
    const struct swf_filter *by;
    size_t n = 0;
    swf_result r;

    for (job = sw_waitq_take(&e->q); job != NULL; job = next) {
        next = job->qnext;
        by = NULL;
        r = sw_pipeline_run(job, &by);
        if (e->o.st != NULL)
            e->o.st->resumed++;
        n++;
        if (r == SWF_WAIT)
            continue; /* parked again (the filter decides; verify never waits twice) */
        finish(e, job, r, by);
        sw_job_free(job);
    }
    return n;
}

size_t tap_engine_parked(const struct tap_engine *e)
{
    return e->q.parked;
}

int tap_engine_fd(const struct tap_engine *e)
{
    return e->q.efd;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t tap_engine_drain(struct tap_engine *e, int timeout_ms)
{
    int64_t end = mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    struct pollfd p;

    tap_engine_poll(e);
    while (e->q.parked > 0) {
        int wait = 1000;
        if (timeout_ms >= 0) {
            int64_t left = end - mono_ms();
            if (left <= 0)
                break;
            wait = left < 1000 ? (int)left : 1000;
        }
        p.fd = e->q.efd;
        p.events = POLLIN;
        if (poll(&p, 1, wait) < 0 && errno != EINTR)
            break;
        tap_engine_poll(e);
    }
    return e->q.parked;
}

const uint64_t *tap_engine_counts(const struct tap_engine *e)
{
    return e->counts;
}

const struct tap_counts *tap_engine_tap_counts(const struct tap_engine *e)
{
    return &e->tc;
}
