/*
 * proxy.h - the stateless proxy's decisions (RFC 3261 section 16.11, RFC 3581): what to do
 * with one received SIP message, without any socket.
 *
 * sw_proxy_handle() takes the bytes as received and answers with one action: forward
 * these bytes there, reply with these bytes, or drop (with the reason). The network layer
 * (net.c) does the I/O; the capture path can call the same function and never send. No
 * state survives a call: CANCEL and ACK find their INVITE's next hop and branch because
 * both are computed from the message itself.
 */
#ifndef SW_PROXY_H
#define SW_PROXY_H

#include <stdint.h>
#include <sys/socket.h>

#include "../daemon/config.h"
#include "../lib/stirwire.h"

/* Bytes an output buffer must hold: the largest message plus everything we may add. */
#define SW_OUT_MAX (65535 + SIP_EDIT_ARENA + 1024)
/* Above this size a request should not go over UDP (RFC 3261 section 18.1.1). */
#define SW_UDP_MTU_LIMIT 1300

/* What a worker knows about itself when handling a message. */
struct sw_proxy_env {
    const struct sw_config *cfg;
    char host[256];  /* our advertised address for Via and Record-Route (no brackets) */
    int port;        /* our advertised port */
    sw_ctx *ctx;     /* this worker's libstirwire context */
    uint64_t secret; /* per-process key for branch hashing */
    int verbose;     /* describe forwarded messages in sw_out.why (debug logging) */
};

enum sw_action { SW_ACT_DROP, SW_ACT_FORWARD, SW_ACT_REPLY };

/* Per-worker counters (no locks: each worker has its own; the main thread sums them). */
struct sw_stats {
    uint64_t received, requests, responses;
    uint64_t forwarded_requests, forwarded_responses, replies;
    uint64_t signed_requests;
    uint64_t dropped_malformed, dropped_no_trunk, dropped_not_ours, dropped_by_filter;
    uint64_t dropped_loop;
    uint64_t replied_400, replied_403, replied_482, replied_483, replied_by_filter;
    uint64_t sent_tcp_for_size;
};

struct sw_out {
    enum sw_action act;
    size_t len;                  /* bytes of out to send */
    struct sockaddr_storage dst; /* where to */
    socklen_t dstlen;
    int transport;                /* SW_UDP or SW_TCP */
    const struct sw_trunk *trunk; /* the trunk matched, or NULL */
    char why[256];                /* for DROP and REPLY: one line for the log */
};

/*
 * Handles buf[0..len) received from src over transport (SW_UDP or SW_TCP). Writes the
 * message to send into out (capacity SW_OUT_MAX) and the decision into o.
 */
void sw_proxy_handle(const struct sw_proxy_env *env, const char *buf, size_t len,
                     const struct sockaddr *src, socklen_t srclen, int transport, char *out,
                     struct sw_out *o, struct sw_stats *st);

#endif /* SW_PROXY_H */
