/*
 * proxy.h - the stateless proxy's decisions (RFC 3261 section 16.11, RFC 3581): what to do
 * with one received SIP message, without any socket.
 *
 * sw_proxy_handle() takes the bytes as received and answers with one action: forward
 * these bytes there, reply with these bytes, drop (with the reason), or parked (a filter
 * waits; the worker gets the job back through its wait queue and calls
 * sw_proxy_resume()). The network layer (net.c) does the I/O. No state survives a
 * message: CANCEL and ACK find their INVITE's next hop and branch because both are
 * computed from the message itself. The TAP does not call this: it runs the same
 * pipeline (src/core/pipeline.h) without the proxy's routing.
 */
#ifndef SW_PROXY_H
#define SW_PROXY_H

#include <stdint.h>
#include <sys/socket.h>

#include "../core/conf.h"
#include "../core/counters.h"
#include "../core/job.h"
#include "../lib/stirwire.h"

/* Bytes an output buffer must hold: the largest message plus everything we may add. */
#define SW_OUT_MAX (65535 + SIP_EDIT_ARENA + 1024)
/* Above this size a request should not go over UDP (RFC 3261 section 18.1.1). */
#define SW_UDP_MTU_LIMIT 1300

/* What a worker knows about itself when handling a message. */
struct sw_proxy_env {
    struct sw_config *cfg;  /* current; a parked job takes its own reference */
    struct sw_waitq *waitq; /* this worker's wake-up queue; NULL: filters cannot park */
    char host[256];         /* our advertised address for Via and Record-Route (no brackets) */
    int port;               /* our advertised port */
    sw_ctx *ctx;            /* this worker's libstirwire context */
    uint64_t secret;        /* per-process key for branch hashing */
    int verbose;            /* describe forwarded messages in sw_out.why (debug logging) */
};

enum sw_action {
    SW_ACT_DROP,
    SW_ACT_FORWARD,
    SW_ACT_REPLY,
    SW_ACT_PARKED,   /* a filter waits: nothing to send now, the job comes back later */
    SW_ACT_ABSORBED, /* a retransmission of a parked request: dropped, logged at debug only */
};

/* One received message: its bytes (borrowed) and where and when it came from. */
struct sw_rx {
    const char *buf;
    size_t len;
    const struct sockaddr *src;
    socklen_t srclen;
    int transport; /* SW_UDP or SW_TCP */
    int64_t now;   /* wall clock seconds when it was read: the time filters see */
};

struct sw_out {
    enum sw_action act;
    size_t len;                  /* bytes of out to send */
    struct sockaddr_storage dst; /* where to */
    socklen_t dstlen;
    int transport;                /* SW_UDP or SW_TCP */
    int connect_port;             /* TCP: no connection to dst open -> connect to this port */
    const struct sw_trunk *trunk; /* the trunk matched, or NULL */
    int park_refused;             /* a filter could not wait (max_parked): log a warning */
    char why[256];                /* for DROP and REPLY: one line for the log */
};

/*
 * Handles one received message. Writes the message to send into out (capacity
 * SW_OUT_MAX) and the decision into o; counts into st.
 */
void sw_proxy_handle(const struct sw_proxy_env *env, const struct sw_rx *rx, char *out,
                     struct sw_out *o, struct sw_stats *st);
/*
 * Finishes a parked job that its filter woke: the chain goes on from the filter that
 * waited, then everything sw_proxy_handle would have done. Unless o->act is
 * SW_ACT_PARKED again, the caller frees the job (sw_job_free) once it has sent out.
 */
void sw_proxy_resume(const struct sw_proxy_env *env, struct sw_job *job, char *out,
                     struct sw_out *o, struct sw_stats *st);

#endif /* SW_PROXY_H */
