/*
 * job.h - one message in flight through the pipeline, and the queue that wakes parked
 * ones.
 *
 * A job starts on the stack of whoever received the message (a worker, later the TAP):
 * the bytes stay where they arrived, the parse is offsets into them, the edits and each
 * filter's slot sit in the job. That fast path allocates nothing. Only when a filter
 * must wait (swf_park) is the job copied to the heap with its own copy of the bytes and
 * a reference to the configuration it was matched under; the copy waits in no list at
 * all until its filter calls swf_wake(), which puts it on its worker's wait queue and
 * signals the worker's eventfd. The worker then resumes it (sw_pipeline_run from the
 * filter that waited) and frees it with sw_job_free().
 *
 * Rule: a parked job belongs to the worker that parked it; only swf_wake() may be called
 * from another thread, once per park.
 *
 * The parked transactions (struct sw_txns) are the one thing workers share: a UAC that
 * retransmits a request while it is parked (RFC 3261 section 17.1.1.2: every T1 over UDP)
 * must not have the copy run the chain again and be forwarded a second time. The kernel
 * spreads a SO_REUSEPORT group's datagrams by a hash of the 4-tuple, so a retransmission
 * usually reaches the worker that parked the first copy, but nothing guarantees it (the
 * group changes when sockets are opened or closed, and a client may move to TCP), so the
 * set is process-wide, under a mutex. It costs nothing while no job is parked (an atomic
 * count is read first) and one short critical section per request while some are.
 */
#ifndef SW_CORE_JOB_H
#define SW_CORE_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "counters.h"
#include "filter.h"

/*
 * A request's transaction, as RFC 3261 section 17.2.3 matches a retransmission to it: the
 * top Via's branch (only an RFC 3261 one, starting with z9hG4bK: older clients' branches
 * are not unique, and nothing is absorbed for them) and the method; the source address
 * (the job's src) stands for the Via's sent-by, which a NAT may rewrite. Filled by the
 * proxy before the chain runs; swf_park enters a parked job's key in its queue's set.
 */
#define SW_TXN_BRANCH_MAX 128
struct sw_txn_key {
    int set;       /* 0: this request has no key (no RFC 3261 branch, a response, the TAP) */
    uint64_t hash; /* of branch, method and source */
    char branch[SW_TXN_BRANCH_MAX];
    char method[32];
};

/*
 * Fills k from a branch and a method (not NUL-terminated) and the source. A branch
 * without the RFC 3261 magic cookie, or one or a method too long to copy, leaves k->set 0.
 */
void sw_txn_key_set(struct sw_txn_key *k, const char *branch, size_t branch_len, const char *method,
                    size_t method_len, const struct sockaddr *src);

#define SW_TXNS_BUCKETS 1024
/* The parked transactions of the process: heap jobs linked through their tnext. */
struct sw_txns {
    pthread_mutex_t lock;
    atomic_size_t n; /* jobs in the set; read without the lock to skip it when 0 */
    struct sw_job *bucket[SW_TXNS_BUCKETS];
};

void sw_txns_init(struct sw_txns *t);
/* Destroys the lock; jobs still in the set are not touched (the exit frees them). */
void sw_txns_destroy(struct sw_txns *t);
/*
 * 1 when a parked job has k's transaction from src (a retransmission to absorb), else 0.
 * Any thread; k->set 0 or t NULL: 0.
 */
int sw_txns_has(struct sw_txns *t, const struct sw_txn_key *k, const struct sockaddr *src);

/* The wake-up queue of one worker. */
struct sw_waitq {
    int efd; /* eventfd: readable when jobs were woken; in the worker's epoll set */
    pthread_mutex_t lock;
    struct sw_job *head, **tail; /* woken jobs, in wake order (under lock) */
    size_t parked;               /* jobs parked now (worker thread only) */
    size_t max_parked;           /* limit on parked, from the configuration */
    struct sw_txns *txns;        /* the process's parked transactions, or NULL (none kept) */
};

/* Creates the eventfd; txns starts NULL (the owner shares one set among its queues). 0,
 * or -1 (errno set). */
int sw_waitq_init(struct sw_waitq *q, size_t max_parked);
void sw_waitq_destroy(struct sw_waitq *q);
/* Takes every woken job (worker thread), clearing the eventfd; a list linked by qnext. */
struct sw_job *sw_waitq_take(struct sw_waitq *q);

/* What the proxy keeps about a message between its work before and after the chain. */
struct sw_job_route {
    char branch[64];             /* our branch for a request */
    struct sockaddr_storage dst; /* a response's destination */
    socklen_t dstlen;
    int transport;    /* a response's transport */
    int connect_port; /* TCP: the sent-by port, when the connection to dst is gone */
};

struct sw_job {
    struct swf_call call; /* first member: swf_park() finds the job from the call */
    struct sip_msg msg;
    struct sip_edits edits;
    unsigned char slots[SW_MAX_CHAIN][SWF_SLOT_BYTES];
    uint32_t entered;      /* bit i: chain filter i has been called (its slot is zeroed) */
    size_t next;           /* the chain position to run next */
    struct sw_config *cfg; /* matched under; a counted reference only when parked */
    struct sockaddr_storage src;
    socklen_t srclen;
    int transport;             /* SW_UDP or SW_TCP, as received */
    struct sw_waitq *q;        /* where a park waits; NULL: this caller cannot park */
    struct sw_stats *st;       /* the worker's counters */
    int verbose;               /* collect the filters' notes */
    char notes[256];           /* "sign: signed attest A ..." when verbose */
    int park_refused;          /* a filter wanted to wait and max_parked was reached */
    int parked;                /* this is the heap copy */
    int armed;                 /* swf_park was called during the current hook */
    struct sw_job *heap;       /* on the stack job: its heap copy once parked */
    char *owned;               /* the heap copy's bytes */
    struct sw_job *qnext;      /* wait queue link */
    struct sw_job_route route; /* the TAP keeps the message's destination in route.dst */
    int64_t ts_us;             /* the TAP: capture time, microseconds (0 in the proxy) */
    struct sw_txn_key txn;     /* set by the proxy; entered in q->txns while parked */
    int in_txns;               /* the heap copy is in q->txns */
    struct sw_job *tnext;      /* q->txns bucket link (under its lock) */
};

/*
 * Prepares job for a message already parsed into job->msg (its bytes borrowed), from src
 * over transport, matched to trunk under cfg (no reference taken), seen at now. Fills
 * only what the pipeline reads: nothing is zeroed wholesale, so this costs nanoseconds.
 */
void sw_job_start(struct sw_job *job, struct sw_config *cfg, const struct sw_trunk *trunk,
                  const struct sockaddr *src, socklen_t srclen, int transport, int64_t now,
                  sw_ctx *ctx, struct sw_waitq *q, struct sw_stats *st);
/*
 * Ends a parked (heap) job: its bytes, its configuration reference, its queue count, its
 * entry in the parked transactions (later retransmissions pass again).
 */
void sw_job_free(struct sw_job *job);

#endif /* SW_CORE_JOB_H */
