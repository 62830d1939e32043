/*
 * job.c - jobs, parking, the wait queue and the parked transactions (see job.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "addr.h"
#include "job.h"

/* --- parked transactions ------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

void sw_txn_key_set(struct sw_txn_key *k, const char *branch, size_t branch_len, const char *method,
                    size_t method_len, const struct sockaddr *src)
{
    unsigned a;

    k->set = 0;
    if (branch_len <= 7 || branch_len >= sizeof(k->branch) || strncmp(branch, "z9hG4bK", 7) != 0 ||
        method_len == 0 || method_len >= sizeof(k->method))
        return;
    memcpy(k->branch, branch, branch_len);
    k->branch[branch_len] = '\0';
    memcpy(k->method, method, method_len);
    k->method[method_len] = '\0';
    a = sw_addr_hash(src);
    k->hash = fnv(fnv(fnv(14695981039346656037ULL, branch, branch_len), method, method_len), &a,
                  sizeof(a));
    k->set = 1;
}

void sw_txns_init(struct sw_txns *t)
{
    memset(t->bucket, 0, sizeof(t->bucket));
    atomic_init(&t->n, 0);
    pthread_mutex_init(&t->lock, NULL);
}

void sw_txns_destroy(struct sw_txns *t)
{
    pthread_mutex_destroy(&t->lock);
}

/* Branch comparison is exact: RFC 3261 section 17.2.3 compares branches case-sensitively. */
static int same_txn(const struct sw_job *j, const struct sw_txn_key *k, const struct sockaddr *src)
{
    return j->txn.hash == k->hash && strcmp(j->txn.branch, k->branch) == 0 &&
           strcmp(j->txn.method, k->method) == 0 &&
           sw_addr_equal((const struct sockaddr *)&j->src, src);
}

int sw_txns_has(struct sw_txns *t, const struct sw_txn_key *k, const struct sockaddr *src)
{
    const struct sw_job *j;
    int found = 0;

    /* the common case, nothing parked anywhere: no lock on the message path */
    if (t == NULL || !k->set || atomic_load_explicit(&t->n, memory_order_relaxed) == 0)
        return 0;
    pthread_mutex_lock(&t->lock);
    for (j = t->bucket[k->hash % SW_TXNS_BUCKETS]; j != NULL && !found; j = j->tnext)
        found = same_txn(j, k, src);
    pthread_mutex_unlock(&t->lock);
    return found;
}

static void txns_add(struct sw_txns *t, struct sw_job *h)
{
    struct sw_job **b = &t->bucket[h->txn.hash % SW_TXNS_BUCKETS];

    pthread_mutex_lock(&t->lock);
    h->tnext = *b;
    *b = h;
    h->in_txns = 1;
    atomic_fetch_add_explicit(&t->n, 1, memory_order_relaxed);
    pthread_mutex_unlock(&t->lock);
}

static void txns_remove(struct sw_txns *t, struct sw_job *h)
{
    struct sw_job **p;

    pthread_mutex_lock(&t->lock);
    for (p = &t->bucket[h->txn.hash % SW_TXNS_BUCKETS]; *p != NULL; p = &(*p)->tnext) {
        if (*p == h) {
            *p = h->tnext;
            atomic_fetch_sub_explicit(&t->n, 1, memory_order_relaxed);
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    h->in_txns = 0;
}

/* --- the wait queue -------------------------------------------------------------------- */

int sw_waitq_init(struct sw_waitq *q, size_t max_parked)
{
    memset(q, 0, sizeof(*q));
    if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -1;
    pthread_mutex_init(&q->lock, NULL);
    q->tail = &q->head;
    q->max_parked = max_parked;
    return 0;
}

void sw_waitq_destroy(struct sw_waitq *q)
{
    if (q->tail == NULL)
        return; /* never initialised */
    close(q->efd);
    pthread_mutex_destroy(&q->lock);
    q->tail = NULL;
}

struct sw_job *sw_waitq_take(struct sw_waitq *q)
{
    struct sw_job *list;
    uint64_t n;

    /* clear first: a wake after this read writes again, so none is missed */
    if (read(q->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return NULL;
    pthread_mutex_lock(&q->lock);
    list = q->head;
    q->head = NULL;
    q->tail = &q->head;
    pthread_mutex_unlock(&q->lock);
    return list;
}

void sw_job_start(struct sw_job *job, struct sw_config *cfg, const struct sw_trunk *trunk,
                  const struct sockaddr *src, socklen_t srclen, int transport, int64_t now,
                  sw_ctx *ctx, struct sw_waitq *q, struct sw_stats *st)
{
    struct swf_call *c = &job->call;

    c->msg = &job->msg;
    c->edits = &job->edits;
    c->ctx = ctx;
    c->trunk = trunk;
    c->now = now;
    c->observe = 0;
    /*
     * The verdict's fields that its readers test (verstat, audit): a chain without a
     * signing or verifying filter leaves them as set here. Strings only get their first
     * byte; the whole struct (1.4 kB) is not worth clearing per message.
     */
    c->verdict.set = 0;
    c->verdict.signed_here = 0;
    c->verdict.attest = 0;
    c->verdict.orig[0] = c->verdict.dest[0] = c->verdict.origid[0] = '\0';
    c->verdict.x5u[0] = c->verdict.spc[0] = '\0';
    c->verdict.err = SW_OK;
    c->verdict.verified = 0;
    c->verdict.verstat = NULL;
    c->verdict.iat = 0;
    c->verdict.identities = 0;
    c->verdict.identity_index = -1;
    c->verdict.has_div = 0;
    c->verdict.div_tn[0] = '\0';
    c->verdict.rejected = 0;
    c->verdict.tagged_open = 0;
    c->verdict.pass_only = 0;
    c->verdict.detail[0] = '\0';
    c->slot = NULL;
    c->counters = NULL;
    c->reply_status = 0;
    c->reply_reason[0] = c->reply_headers[0] = c->note[0] = '\0';
    sip_edits_init(&job->edits);
    job->entered = 0;
    job->next = 0;
    job->cfg = cfg;
    if (srclen > sizeof(job->src))
        srclen = sizeof(job->src);
    memcpy(&job->src, src, srclen);
    job->srclen = srclen;
    job->transport = transport;
    /* the call's view of the source points into this job (swf_park re-points its copy) */
    c->src = (const struct sockaddr *)&job->src;
    c->srclen = srclen;
    c->transport = transport;
    job->q = q;
    job->st = st;
    job->verbose = 0;
    job->notes[0] = '\0';
    job->park_refused = 0;
    job->parked = 0;
    job->armed = 0;
    job->heap = NULL;
    job->owned = NULL;
    job->qnext = NULL;
    job->txn.set = 0;
    job->in_txns = 0;
    job->tnext = NULL;
}

void *swf_park(struct swf_call *call)
{
    /* call is the first member of its job: the cast is the container_of */
    struct sw_job *job = (struct sw_job *)call, *h;

    if (job->parked) {
        job->armed = 1;
        return job; /* waiting again after a resume: it is already owned */
    }
    if (job->q == NULL || job->q->parked >= job->q->max_parked) {
        job->park_refused = 1;
        if (job->st != NULL)
            job->st->park_refused++;
        return NULL;
    }
    if ((h = malloc(sizeof(*h))) == NULL ||
        (h->owned = malloc(job->msg.len ? job->msg.len : 1)) == NULL) {
        free(h);
        job->park_refused = 1;
        if (job->st != NULL)
            job->st->park_refused++;
        return NULL;
    }
    {
        char *owned = h->owned;
        memcpy(h, job, sizeof(*h));
        h->owned = owned;
    }
    memcpy(h->owned, job->msg.buf, job->msg.len);
    h->msg.buf = h->owned;
    h->call.msg = &h->msg;
    h->call.edits = &h->edits;
    h->call.src = (const struct sockaddr *)&h->src;
    h->call.slot = h->slots[job->next];
    h->cfg = sw_config_ref(job->cfg);
    h->parked = 1;
    h->armed = 1;
    h->heap = NULL;
    h->qnext = NULL;
    h->in_txns = 0;
    h->tnext = NULL;
    /*
     * Entered only now, after the copy: a retransmission that arrives on another worker
     * while this request is still in its chain is not absorbed (it runs the chain too).
     * That window is microseconds against a retransmission interval of 500 ms.
     */
    if (h->txn.set && job->q->txns != NULL)
        txns_add(job->q->txns, h);
    job->heap = h;
    job->q->parked++;
    if (job->st != NULL)
        job->st->parked++;
    return h;
}

void swf_wake(void *token)
{
    struct sw_job *job = token;
    struct sw_waitq *q = job->q;
    uint64_t one = 1;
    ssize_t w;

    pthread_mutex_lock(&q->lock);
    job->qnext = NULL;
    *q->tail = job;
    q->tail = &job->qnext;
    pthread_mutex_unlock(&q->lock);
    /* EAGAIN only when the counter is full, which means the worker is already signalled */
    w = write(q->efd, &one, sizeof(one));
    (void)w;
}

void sw_job_free(struct sw_job *job)
{
    if (job == NULL || !job->parked)
        return;
    if (job->q != NULL && job->q->parked > 0)
        job->q->parked--;
    if (job->in_txns)
        txns_remove(job->q->txns, job);
    sw_config_unref(job->cfg);
    free(job->owned);
    free(job);
}
