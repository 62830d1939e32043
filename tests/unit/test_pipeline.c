/*
 * test_pipeline.c - the message pipeline and its jobs (src/core/pipeline.c, job.c), without
 * sockets: a chain of test filters runs on a parsed message; one of them parks it, a
 * thread wakes it after a delay through the worker's wait queue, and the chain resumes at
 * that filter with its slot, the verdict and the edits made before the wait, on an owned
 * copy of the bytes, holding a reference to its configuration until the job is freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../src/core/pipeline.h"

#define INVITE                                                                                     \
    "INVITE sip:12025550199@pbx.example.com SIP/2.0\r\n"                                           \
    "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8\r\n"                                 \
    "Max-Forwards: 69\r\n"                                                                         \
    "From: <sip:12025550100@carrier.example.net>;tag=88\r\n"                                       \
    "To: <sip:12025550199@pbx.example.com>\r\n"                                                    \
    "Call-ID: 77@carrier.example.net\r\n"                                                          \
    "CSeq: 1 INVITE\r\n"                                                                           \
    "Content-Length: 0\r\n"                                                                        \
    "\r\n"

/* --- test filters --------------------------------------------------------------------- */

/* "first": adds a header and writes the verdict, before anyone waits. */
static swf_result first_request(void *state, struct swf_call *call)
{
    (void)state;
    sip_edit_insert(call->edits, call->msg->hdrs_end, "X-First: 1\r\n", 12);
    call->verdict.set = 1;
    call->verdict.attest = 'B';
    snprintf(call->verdict.orig, sizeof(call->verdict.orig), "12025550100");
    return SWF_CONTINUE;
}

static int waiter_calls;
static int waiter_lies; /* on resume, say WAIT again without parking */
static void *last_token;

/* "waiter": parks on its first call (counting in its slot), passes on its second. */
static swf_result waiter_request(void *state, struct swf_call *call)
{
    int *seen = call->slot;

    (void)state;
    waiter_calls++;
    if (*seen == 0) {
        *seen = 1;
        if ((last_token = swf_park(call)) == NULL) {
            *seen = 0;
            snprintf(call->note, sizeof(call->note), "could not park");
            return SWF_CONTINUE; /* fail open */
        }
        return SWF_WAIT;
    }
    if (waiter_lies)
        return SWF_WAIT;
    snprintf(call->note, sizeof(call->note), "resumed, slot %d", *seen);
    sip_edit_insert(call->edits, call->msg->hdrs_end, "X-Waited: 1\r\n", 13);
    return SWF_CONTINUE;
}

/* "liar": says WAIT without parking. */
static swf_result liar_request(void *state, struct swf_call *call)
{
    (void)state;
    (void)call;
    return SWF_WAIT;
}

/* "rejecter": answers 403. */
static swf_result rejecter_request(void *state, struct swf_call *call)
{
    (void)state;
    call->reply_status = 403;
    return SWF_REPLY;
}

/* "recorder": keeps what each done call saw (its slot as it was, the outcome, the source) */
struct done_seen {
    const char *name;
    swf_result result;
    const struct swf_filter *by;
    int slot_was;
    int status;
    int transport;
    int src_port;
    const void *src;
};
static struct done_seen seen[8];
static int nseen;

static swf_result recorder_request(void *state, struct swf_call *call)
{
    (void)state;
    *(int *)call->slot = 42; /* reached: its done hook finds this in its slot */
    return SWF_CONTINUE;
}

static void recorder_done(void *state, struct swf_call *call, swf_result result,
                          const struct swf_filter *by)
{
    struct done_seen *d = &seen[nseen++ % 8];

    d->name = state;
    d->result = result;
    d->by = by;
    d->slot_was = *(int *)call->slot;
    d->status = call->reply_status;
    d->transport = call->transport;
    d->src = call->src;
    d->src_port = call->src != NULL && call->src->sa_family == AF_INET
                      ? ntohs(((const struct sockaddr_in *)call->src)->sin_port)
                      : -1;
}

static const struct swf_filter f_recorder = {
    .name = "recorder", .request = recorder_request, .done = recorder_done};
/* the same hooks under another name, to see the order of the done calls */
static const struct swf_filter f_recorder2 = {
    .name = "recorder2", .request = recorder_request, .done = recorder_done};
/* only a done hook: never entered by the chain, still told */
static const struct swf_filter f_watcher = {.name = "watcher", .done = recorder_done};

static const struct swf_filter f_first = {.name = "first", .request = first_request};
static const struct swf_filter f_waiter = {.name = "waiter", .request = waiter_request};
static const struct swf_filter f_liar = {.name = "liar", .request = liar_request};
static const struct swf_filter f_rejecter = {.name = "rejecter", .request = rejecter_request};

/* --- fixture -------------------------------------------------------------------------- */

static struct sw_config *make_config(const struct swf_filter *const *chain, size_t n)
{
    struct sw_config *cfg = sw_config_new();
    struct sw_trunk *t;
    size_t i;

    assert_non_null(cfg);
    assert_non_null(cfg->trunks = calloc(1, sizeof(*cfg->trunks)));
    cfg->ntrunks = 1;
    t = &cfg->trunks[0];
    assert_non_null(t->name = strdup("t"));
    for (i = 0; i < n; i++) {
        t->chain[i].filter = chain[i];
        t->chain[i].index = -1;
    }
    t->nchain = n;
    return cfg;
}

static struct sockaddr_in src_addr(void)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(5060);
    inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
    return sin;
}

/* Parses text into job and starts it on cfg's trunk. */
static void start(struct sw_job *job, char *text, struct sw_config *cfg, struct sw_waitq *q,
                  struct sw_stats *st)
{
    struct sockaddr_in src = src_addr();
    char err[128];

    assert_int_equal(sip_parse(&job->msg, text, strlen(text), err, sizeof(err)), 0);
    sw_job_start(job, cfg, &cfg->trunks[0], (struct sockaddr *)&src, sizeof(src), SW_UDP,
                 1700000000, NULL, q, st);
    job->verbose = 1;
}

struct waker {
    void *token;
    int delay_ms;
};

static void *wake_later(void *arg)
{
    struct waker *w = arg;

    usleep((useconds_t)w->delay_ms * 1000);
    swf_wake(w->token);
    return NULL;
}

/* The spliced output of job. */
static char *output(const struct sw_job *job)
{
    static char out[SIP_MAX_MSG + SIP_EDIT_ARENA];
    size_t n = sip_splice(job->msg.buf, job->msg.len, &job->edits, out, sizeof(out) - 1);

    assert_true(n != (size_t)-1);
    out[n] = '\0';
    return out;
}

/* --- tests ---------------------------------------------------------------------------- */

static void wait_then_wake_from_another_thread_resumes_at_the_filter_that_waited(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_first, &f_waiter};
    struct sw_config *cfg = make_config(chain, 2);
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job, *h, *woken;
    const struct swf_filter *by;
    char *text = strdup(INVITE);
    struct waker wk;
    pthread_t th;
    struct pollfd pfd;

    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 10), 0);
    waiter_calls = 0;
    start(&job, text, cfg, &q, &st);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_WAIT);
    assert_ptr_equal(by, &f_waiter);
    h = job.heap;
    assert_non_null(h);
    assert_ptr_equal(last_token, h);
    assert_int_equal(q.parked, 1);
    assert_int_equal(st.parked, 1);
    /* the parked job holds its configuration */
    assert_int_equal(atomic_load(&cfg->refs), 2);
    /* and its own bytes: the receive buffer may be reused at once */
    memset(text, 'x', strlen(text));
    assert_ptr_not_equal(h->msg.buf, text);

    /* nothing is woken yet */
    assert_null(sw_waitq_take(&q));
    wk.token = h;
    wk.delay_ms = 50;
    assert_int_equal(pthread_create(&th, NULL, wake_later, &wk), 0);
    pfd.fd = q.efd;
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    woken = sw_waitq_take(&q);
    assert_ptr_equal(woken, h);
    assert_null(woken->qnext);
    pthread_join(th, NULL);

    assert_int_equal(sw_pipeline_run(woken, &by), SWF_CONTINUE);
    assert_null(by);
    assert_int_equal(waiter_calls, 2);
    assert_int_equal(st.resumed, 1);
    /* the edits from before the wait and after it, on the original bytes */
    assert_string_equal(output(woken),
                        "INVITE sip:12025550199@pbx.example.com SIP/2.0\r\n"
                        "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8\r\n"
                        "Max-Forwards: 69\r\n"
                        "From: <sip:12025550100@carrier.example.net>;tag=88\r\n"
                        "To: <sip:12025550199@pbx.example.com>\r\n"
                        "Call-ID: 77@carrier.example.net\r\n"
                        "CSeq: 1 INVITE\r\n"
                        "Content-Length: 0\r\n"
                        "X-First: 1\r\n"
                        "X-Waited: 1\r\n"
                        "\r\n");
    /* the verdict written before the wait survived it; the slot too */
    assert_int_equal(woken->call.verdict.attest, 'B');
    assert_string_equal(woken->call.verdict.orig, "12025550100");
    assert_non_null(strstr(woken->notes, "waiter: resumed, slot 1"));

    sw_job_free(woken);
    assert_int_equal(q.parked, 0);
    assert_int_equal(atomic_load(&cfg->refs), 1);
    sw_waitq_destroy(&q);
    sw_config_unref(cfg);
    free(text);
}

static int freed_generation;

static void on_free(const struct sw_config *cfg)
{
    freed_generation = (int)cfg->generation;
}

static void a_configuration_dropped_while_a_job_is_parked_is_freed_by_the_job(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_waiter};
    struct sw_config *cfg = make_config(chain, 1);
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job, *h;
    const struct swf_filter *by;
    char *text = strdup(INVITE);

    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 10), 0);
    cfg->generation = 7;
    cfg->on_free = on_free;
    freed_generation = 0;
    start(&job, text, cfg, &q, &st);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_WAIT);
    h = job.heap;
    /* a reload: the daemon drops its reference; the parked job still has the trunk */
    sw_config_unref(cfg);
    assert_int_equal(freed_generation, 0);
    assert_string_equal(h->call.trunk->name, "t");
    swf_wake(h);
    assert_ptr_equal(sw_waitq_take(&q), h);
    assert_int_equal(sw_pipeline_run(h, &by), SWF_CONTINUE);
    sw_job_free(h);
    assert_int_equal(freed_generation, 7);
    sw_waitq_destroy(&q);
    free(text);
}

static void past_max_parked_the_filter_is_refused_and_it_is_counted(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_waiter};
    struct sw_config *cfg = make_config(chain, 1);
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job1, job2;
    const struct swf_filter *by;
    char *text = strdup(INVITE);

    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 1), 0);
    start(&job1, text, cfg, &q, &st);
    assert_int_equal(sw_pipeline_run(&job1, &by), SWF_WAIT);
    start(&job2, text, cfg, &q, &st);
    /* the waiter fails open when it cannot park */
    assert_int_equal(sw_pipeline_run(&job2, &by), SWF_CONTINUE);
    assert_int_equal(job2.park_refused, 1);
    assert_int_equal(st.park_refused, 1);
    assert_non_null(strstr(job2.notes, "could not park"));
    assert_int_equal(q.parked, 1);
    sw_job_free(job1.heap);
    assert_int_equal(q.parked, 0);
    /* a caller without a queue cannot park at all */
    start(&job2, text, cfg, NULL, &st);
    assert_int_equal(sw_pipeline_run(&job2, &by), SWF_CONTINUE);
    assert_int_equal(st.park_refused, 2);
    sw_waitq_destroy(&q);
    sw_config_unref(cfg);
    free(text);
}

static void wait_without_parking_is_a_drop_and_a_reply_to_an_ack_too(void **unused)
{
    static const struct swf_filter *const liar[] = {&f_liar};
    static const struct swf_filter *const rej[] = {&f_rejecter, &f_first};
    struct sw_config *c1 = make_config(liar, 1), *c2 = make_config(rej, 2);
    struct sw_stats st;
    struct sw_job job;
    const struct swf_filter *by;
    char *invite = strdup(INVITE), *ack;

    memset(&st, 0, sizeof(st));
    start(&job, invite, c1, NULL, &st);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_DROP);
    assert_ptr_equal(by, &f_liar);
    assert_non_null(strstr(job.call.note, "without parking"));

    start(&job, invite, c2, NULL, &st);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_REPLY);
    assert_ptr_equal(by, &f_rejecter);
    assert_int_equal(job.call.reply_status, 403);
    assert_int_equal(job.edits.n, 0); /* the chain stopped: "first" never ran */

    ack = strdup("ACK sip:12025550199@pbx.example.com SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8\r\n"
                 "From: <sip:12025550100@carrier.example.net>;tag=88\r\n"
                 "To: <sip:12025550199@pbx.example.com>;tag=9\r\n"
                 "Call-ID: 77@carrier.example.net\r\n"
                 "CSeq: 1 ACK\r\n"
                 "Content-Length: 0\r\n"
                 "\r\n");
    start(&job, ack, c2, NULL, &st);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_DROP);
    sw_config_unref(c1);
    sw_config_unref(c2);
    free(invite);
    free(ack);
}

static void a_resumed_job_that_waits_again_must_park_again(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_waiter};
    struct sw_config *cfg = make_config(chain, 1);
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job, *h;
    const struct swf_filter *by;
    char *text = strdup(INVITE);

    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 10), 0);
    start(&job, text, cfg, &q, &st);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_WAIT);
    h = job.heap;
    swf_wake(h);
    assert_ptr_equal(sw_waitq_take(&q), h);
    /* WAIT with nothing that will ever wake it: a drop, not a message lost in limbo */
    waiter_lies = 1;
    assert_int_equal(sw_pipeline_run(h, &by), SWF_DROP);
    waiter_lies = 0;
    assert_non_null(strstr(h->call.note, "without parking"));
    sw_job_free(h);
    assert_int_equal(q.parked, 0);
    sw_waitq_destroy(&q);
    sw_config_unref(cfg);
    free(text);
}

/* make_config with each chain item's state set to its filter's name (recorder_done reads it) */
static struct sw_config *make_named_config(const struct swf_filter *const *chain, size_t n)
{
    struct sw_config *cfg = make_config(chain, n);
    size_t i;

    for (i = 0; i < n; i++)
        cfg->trunks[0].chain[i].state = (void *)chain[i]->name;
    return cfg;
}

static void done_hooks_hear_a_forwarded_request_once_each_in_chain_order(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_recorder, &f_first, &f_watcher,
                                                     &f_recorder2};
    struct sw_config *cfg = make_named_config(chain, 4);
    struct sw_job job;
    const struct swf_filter *by;
    char *text = strdup(INVITE);

    nseen = 0;
    start(&job, text, cfg, NULL, NULL);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_CONTINUE);
    sw_pipeline_done(&job, SWF_CONTINUE, NULL);
    assert_int_equal(nseen, 3);
    assert_string_equal(seen[0].name, "recorder");
    assert_string_equal(seen[1].name, "watcher");
    assert_string_equal(seen[2].name, "recorder2");
    assert_int_equal(seen[0].slot_was, 42);
    assert_int_equal(seen[1].slot_was, 0); /* no request hook: a zeroed slot */
    assert_int_equal(seen[2].slot_was, 42);
    assert_int_equal(seen[0].result, SWF_CONTINUE);
    assert_null(seen[0].by);
    /* the call names its source, inside the job */
    assert_ptr_equal(seen[0].src, &job.src);
    assert_int_equal(seen[0].src_port, 5060);
    assert_int_equal(seen[0].transport, SW_UDP);
    assert_int_equal(job.call.srclen, sizeof(struct sockaddr_in));
    sw_config_unref(cfg);
    free(text);
}

static void done_hooks_hear_a_reply_even_where_the_chain_stopped_before_them(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_recorder, &f_rejecter, &f_recorder2};
    struct sw_config *cfg = make_named_config(chain, 3);
    struct sw_job job;
    const struct swf_filter *by;
    char *text = strdup(INVITE);

    nseen = 0;
    start(&job, text, cfg, NULL, NULL);
    /* a slot left dirty by an earlier message must not leak into this one */
    memset(job.slots[2], 0x5a, SWF_SLOT_BYTES);
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_REPLY);
    sw_pipeline_done(&job, SWF_REPLY, by);
    assert_int_equal(nseen, 2);
    assert_string_equal(seen[1].name, "recorder2");
    assert_int_equal(seen[1].slot_was, 0); /* never reached: zeroed */
    assert_int_equal(seen[1].result, SWF_REPLY);
    assert_ptr_equal(seen[1].by, &f_rejecter);
    assert_int_equal(seen[1].status, 403);
    assert_int_equal(seen[0].slot_was, 42);
    /* WAIT is not an end, and a response has no done */
    nseen = 0;
    sw_pipeline_done(&job, SWF_WAIT, by);
    assert_int_equal(nseen, 0);
    sw_config_unref(cfg);
    free(text);
}

static void done_hooks_of_a_resumed_job_see_its_own_source(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_recorder, &f_waiter};
    struct sw_config *cfg = make_named_config(chain, 2);
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job, *h;
    const struct swf_filter *by;
    char *text = strdup(INVITE);

    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 10), 0);
    start(&job, text, cfg, &q, &st);
    job.transport = job.call.transport = SW_TCP;
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_WAIT);
    h = job.heap;
    /* the stack job is gone once parked: the copy's pointers must not lead back to it */
    memset(&job, 0, sizeof(job));
    assert_ptr_equal(h->call.src, &h->src);
    swf_wake(h);
    assert_ptr_equal(sw_waitq_take(&q), h);
    assert_int_equal(sw_pipeline_run(h, &by), SWF_CONTINUE);
    nseen = 0;
    sw_pipeline_done(h, SWF_CONTINUE, NULL);
    assert_int_equal(nseen, 1);
    assert_ptr_equal(seen[0].src, &h->src);
    assert_int_equal(seen[0].src_port, 5060);
    assert_int_equal(seen[0].transport, SW_TCP);
    assert_int_equal(seen[0].slot_was, 42);
    sw_job_free(h);
    sw_waitq_destroy(&q);
    sw_config_unref(cfg);
    free(text);
}

/*
 * RFC 3261 17.2.3 matching for parked requests: while a job is parked, the same branch,
 * method and source are found (whichever worker asks: the set is shared); another branch,
 * method or source port is not; once the job is freed (it was resumed and forwarded),
 * nothing is found, so later retransmissions pass as a stateless proxy passes them.
 */
static void a_parked_request_is_found_by_branch_method_and_source_until_it_is_freed(void **unused)
{
    static const struct swf_filter *const chain[] = {&f_waiter};
    struct sw_config *cfg = make_config(chain, 1);
    struct sw_waitq q1, q2;
    struct sw_txns txns;
    struct sw_stats st;
    struct sw_job job, *h;
    struct sw_txn_key k;
    const struct swf_filter *by;
    struct sockaddr_in src = src_addr(), other = src_addr();
    const char *b = "z9hG4bKnashds8";
    char *text = strdup(INVITE);

    memset(&st, 0, sizeof(st));
    sw_txns_init(&txns);
    assert_int_equal(sw_waitq_init(&q1, 10), 0);
    assert_int_equal(sw_waitq_init(&q2, 10), 0);
    q1.txns = q2.txns = &txns;
    other.sin_port = htons(5062);

    start(&job, text, cfg, &q1, &st);
    sw_txn_key_set(&job.txn, b, strlen(b), "INVITE", 6, (struct sockaddr *)&src);
    assert_true(job.txn.set);
    /* not parked yet: nothing to absorb */
    assert_false(sw_txns_has(q2.txns, &job.txn, (struct sockaddr *)&src));
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_WAIT);
    h = job.heap;
    assert_non_null(h);
    assert_true(h->in_txns);

    sw_txn_key_set(&k, b, strlen(b), "INVITE", 6, (struct sockaddr *)&src);
    assert_true(sw_txns_has(q2.txns, &k, (struct sockaddr *)&src));
    sw_txn_key_set(&k, b, strlen(b), "CANCEL", 6, (struct sockaddr *)&src);
    assert_false(sw_txns_has(&txns, &k, (struct sockaddr *)&src));
    sw_txn_key_set(&k, "z9hG4bKnashds9", 14, "INVITE", 6, (struct sockaddr *)&src);
    assert_false(sw_txns_has(&txns, &k, (struct sockaddr *)&src));
    sw_txn_key_set(&k, b, strlen(b), "INVITE", 6, (struct sockaddr *)&other);
    assert_false(sw_txns_has(&txns, &k, (struct sockaddr *)&other));
    /* an RFC 2543 branch gives no key: nothing is ever absorbed for it */
    sw_txn_key_set(&k, "1234", 4, "INVITE", 6, (struct sockaddr *)&src);
    assert_false(k.set);
    assert_false(sw_txns_has(&txns, &k, (struct sockaddr *)&src));

    swf_wake(h);
    assert_ptr_equal(sw_waitq_take(&q1), h);
    assert_int_equal(sw_pipeline_run(h, &by), SWF_CONTINUE);
    /* resumed but not yet freed: still parked as far as retransmissions go */
    sw_txn_key_set(&k, b, strlen(b), "INVITE", 6, (struct sockaddr *)&src);
    assert_true(sw_txns_has(&txns, &k, (struct sockaddr *)&src));
    sw_job_free(h);
    assert_false(sw_txns_has(&txns, &k, (struct sockaddr *)&src));
    assert_int_equal(atomic_load(&txns.n), 0);

    sw_waitq_destroy(&q1);
    sw_waitq_destroy(&q2);
    sw_txns_destroy(&txns);
    sw_config_unref(cfg);
    free(text);
}

static void services_give_one_verifier_to_everyone(void **unused)
{
    struct sw_services svc;
    sw_verifier *v;

    sw_services_init(&svc);
    assert_null(svc.verifier); /* nothing is made until a filter asks */
    assert_non_null(svc.clock);
    assert_true(svc.clock() > 1700000000);
    v = sw_services_verifier(&svc);
    assert_non_null(v);
    assert_ptr_equal(sw_services_verifier(&svc), v);
    sw_services_clear(&svc);
    assert_null(svc.verifier);
}

static void counters_come_out_of_one_table(void **unused)
{
    struct sw_stats a, b;
    const struct sw_counter_info *t;
    char text[8192], line[128];
    size_t n, i;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.received = 3;
    a.parked = 2;
    b.received = 4;
    b.filter[swf_index(swf_lookup("sign"))][0] = 5; /* signed_a */
    sw_stats_add(&a, &b);
    assert_int_equal(a.received, 7);
    assert_int_equal(sw_stats_filter(&a, "sign", "signed_a"), 5);
    assert_int_equal(sw_stats_filter(&a, "sign", "no_such"), 0);
    assert_int_equal(sw_stats_filter(&a, "no_such", "signed_a"), 0);
    /* the summary: what is not zero, then each filter's own */
    sw_stats_summary(&a, text, sizeof(text));
    assert_string_equal(text, "received 7, parked 2; sign: signed_a 5");
    /* the text form: every counter of the table, one a line, and every filter's */
    sw_stats_text(&a, text, sizeof(text));
    t = sw_counters(&n);
    assert_true(n >= 20);
    for (i = 0; i < n; i++) {
        snprintf(line, sizeof(line), "%s%s %llu\n", i ? "\n" : "", t[i].name,
                 (unsigned long long)*(const uint64_t *)((const char *)&a + t[i].offset));
        if (i == 0)
            assert_memory_equal(text, line, strlen(line));
        else
            assert_non_null(strstr(text, line));
    }
    assert_non_null(strstr(text, "\nfilter_sign_signed_a 5\n"));
    assert_non_null(strstr(text, "\nfilter_strip_stripped 0\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_then_wake_from_another_thread_resumes_at_the_filter_that_waited),
        cmocka_unit_test(a_configuration_dropped_while_a_job_is_parked_is_freed_by_the_job),
        cmocka_unit_test(past_max_parked_the_filter_is_refused_and_it_is_counted),
        cmocka_unit_test(wait_without_parking_is_a_drop_and_a_reply_to_an_ack_too),
        cmocka_unit_test(a_resumed_job_that_waits_again_must_park_again),
        cmocka_unit_test(done_hooks_hear_a_forwarded_request_once_each_in_chain_order),
        cmocka_unit_test(done_hooks_hear_a_reply_even_where_the_chain_stopped_before_them),
        cmocka_unit_test(done_hooks_of_a_resumed_job_see_its_own_source),
        cmocka_unit_test(a_parked_request_is_found_by_branch_method_and_source_until_it_is_freed),
        cmocka_unit_test(services_give_one_verifier_to_everyone),
        cmocka_unit_test(counters_come_out_of_one_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
