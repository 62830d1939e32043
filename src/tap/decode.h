/*
 * decode.h - the TAP's packet decoder: captured frames (packet.h's struct tap_frame) in,
 * SIP messages (struct tap_msg) out, through a callback.
 *
 * It reads the link layer (Ethernet with any number of VLAN tags, Linux cooked SLL and
 * SLL2, raw IP, BSD loopback), IPv4 and IPv6 (options, extension headers), reassembles IP
 * fragments, takes one SIP message from each UDP datagram and frames SIP messages out of
 * reassembled TCP streams (src/sip/framing.h). Everything it reads or loses is counted in
 * struct tap_counts, every loss by its reason.
 *
 * Rule: time is capture time (tap_frame.ts_us), never the clock: fragment and flow
 * timeouts are judged as frames arrive, and tap_decoder_finish() ends the input. All
 * memory the decoder holds is bounded by struct tap_decode_limits. A decoder is used by
 * one thread at a time.
 */
#ifndef SW_TAP_DECODE_H
#define SW_TAP_DECODE_H

#include <stddef.h>

#include "packet.h"

struct tap_decode_limits {
    size_t frag_mem;      /* bytes held in IP fragments at most (64 MiB) */
    int frag_timeout_s;   /* seconds of capture time a datagram may wait for its fragments (30) */
    size_t tcp_mem;       /* bytes held in TCP reassembly at most, all flows (256 MiB) */
    size_t tcp_max_flows; /* TCP flows followed at once (65536) */
    int tcp_idle_s;       /* seconds of capture time after which a silent flow is forgotten (300) */
    size_t max_msg;       /* largest SIP message in bytes (65535): larger is sip_too_large */
};

/* Fills l with the defaults above. */
void tap_decode_limits_init(struct tap_decode_limits *l);

/* Called for each message; m and everything it points to is valid during the call only. */
typedef void (*tap_msg_fn)(void *arg, const struct tap_msg *m);

/* A new decoder with a copy of l (NULL: the defaults). Returns NULL when out of memory. */
struct tap_decoder *tap_decoder_new(const struct tap_decode_limits *l, tap_msg_fn fn, void *arg);

/* Frees d and everything it holds, without counting what is pending (see finish). NULL: no-op. */
void tap_decoder_free(struct tap_decoder *d);

/* Decodes one frame: calls fn 0..n times (a frame may complete several TCP messages). The
   frame's bytes are not kept past the call (what must wait is copied). */
void tap_decode_frame(struct tap_decoder *d, const struct tap_frame *f);

/* End of input: held TCP segments are delivered past their gaps (the gaps counted
   tcp_gap), then every datagram still missing fragments is counted frag_timeout and
   every flow with a message half-read tcp_idle, and all of it is freed. The decoder can
   be fed again afterwards. */
void tap_decoder_finish(struct tap_decoder *d);

/* The counters so far, borrowed from d. */
const struct tap_counts *tap_decoder_counts(const struct tap_decoder *d);

/* Bytes currently held (IP fragments; TCP reassembly) and TCP flows followed: for tests
   and for the engine's status. Any pointer may be NULL. */
void tap_decoder_held(const struct tap_decoder *d, size_t *frag_bytes, size_t *tcp_bytes,
                      size_t *tcp_flows);

#endif /* SW_TAP_DECODE_H */
