/*
 * tap.h - the TAP's engine: a proxy that never sends (DESIGN.md, "The TAP").
 *
 * It takes the SIP messages the decoder (decode.h) or a HEP source (hep.h) yields,
 * parses them, recognises retransmitted requests (RFC 3261 section 17.2.3: same Call-ID,
 * CSeq and top Via branch, within 64*T1 = 32 s of capture time) and counts them once,
 * matches each request to a trunk by its source, destination and Request-URI host, and
 * runs the trunk's chain through the one pipeline in observe mode (call.observe = 1):
 * the same verify filter as the proxy judges the PASSporT at the packet's capture time
 * (call.now), and what the chain decides is recorded, never sent. When a filter waits for
 * a certificate (swf_park), the message is parked on the engine's wait queue and the next
 * messages go on; tap_engine_poll() resumes the woken ones. Each INVITE's verdict goes to
 * the caller's on_call callback (the report, the daemon's counters).
 *
 * Rule: an engine belongs to one thread (its context, its wait queue); several engines
 * may share one configuration and one verifier.
 */
#ifndef SW_TAP_TAP_H
#define SW_TAP_TAP_H

#include <stddef.h>
#include <stdint.h>

#include "../core/conf.h"
#include "../core/counters.h"
#include "../core/job.h"
#include "packet.h"
#include "report.h"

/* What the engine was handed, counted (beside the pipeline's struct sw_stats). */
#define TAP_ENGINE_MAP(X)                                                                          \
    X(messages, "SIP messages handed to the engine")                                               \
    X(requests, "requests")                                                                        \
    X(responses, "responses (not judged)")                                                         \
    X(invites, "INVITEs judged (each once)")                                                       \
    X(retransmissions, "retransmitted requests recognised and not judged again")                   \
    X(malformed, "messages that do not parse as SIP")                                              \
    X(no_trunk, "requests that match no trunk (not judged)")                                       \
    X(parked, "requests parked while a certificate was fetched")                                   \
    X(dropped_parked, "parked requests given up at the end (certificate never came)")

enum tap_engine_counter {
#define TAP_X_ENUM(name, help) TAP_ENGINE_##name,
    TAP_ENGINE_MAP(TAP_X_ENUM)
#undef TAP_X_ENUM
        TAP_ENGINE_N
};
extern const char *const tap_engine_names[TAP_ENGINE_N];
extern const char *const tap_engine_help[TAP_ENGINE_N];

typedef void (*tap_call_fn)(void *arg, const struct tap_call *c);

struct tap_engine_opts {
    struct sw_config *cfg; /* the trunks; borrowed (tap_engine_set_config swaps it) */
    sw_ctx *ctx;           /* borrowed; this engine's thread's */
    struct sw_stats *st;   /* the pipeline's and the filters' counters; borrowed, may be NULL */
    tap_call_fn on_call;   /* each judged INVITE; may be NULL */
    tap_call_fn on_retransmission; /* each retransmitted INVITE (c->v NULL); may be NULL */
    void *arg;
    size_t max_parked;    /* messages parked at once (1000) */
    size_t retrans_max;   /* transactions remembered for retransmissions (1 << 20) */
    int retrans_window_s; /* seconds of capture time a transaction is remembered (32) */
};
void tap_engine_opts_init(struct tap_engine_opts *o);

struct tap_engine;

/* A new engine. NULL with a reason in err (out of memory, no eventfd). */
struct tap_engine *tap_engine_new(const struct tap_engine_opts *o, char *err, size_t errlen);
/*
 * Frees it. Parked messages still waiting are given up (counted dropped_parked, and not
 * reported): call tap_engine_drain() first to have them judged.
 */
void tap_engine_free(struct tap_engine *e);
/* The configuration for the messages that follow (a reload). Borrowed: keep it alive. */
void tap_engine_set_config(struct tap_engine *e, struct sw_config *cfg);

/* One message (a tap_msg_fn: arg is the engine). */
void tap_engine_msg(void *engine, const struct tap_msg *m);
/* Resumes the parked messages whose certificates came; never blocks. Returns how many. */
size_t tap_engine_poll(struct tap_engine *e);
/* Parked messages now. */
size_t tap_engine_parked(const struct tap_engine *e);
/* The wait queue's eventfd (readable when parked messages can resume), for epoll. */
int tap_engine_fd(const struct tap_engine *e);
/*
 * Waits until nothing is parked, resuming as certificates come, for at most timeout_ms
 * (< 0: no limit). Returns what is still parked.
 */
size_t tap_engine_drain(struct tap_engine *e, int timeout_ms);
/* The engine's counters, indexed by enum tap_engine_counter. */
const uint64_t *tap_engine_counts(const struct tap_engine *e);
/* Its SIP-level drops (sip_malformed), to add to the decoder's. */
const struct tap_counts *tap_engine_tap_counts(const struct tap_engine *e);

#endif /* SW_TAP_TAP_H */
