/*
 * job.c - jobs, parking and the wait queue (see job.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "job.h"

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
    sw_config_unref(job->cfg);
    free(job->owned);
    free(job);
}
