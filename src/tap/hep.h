/*
 * hep.h - HEP (Homer Encapsulation Protocol) as a TAP source: one HEP packet decoded into
 * the SIP message it carries (HEPv3 "HEP3" chunks, and the older v1/v2 fixed headers), and
 * a listener that receives HEP over UDP or TCP from capture agents (captagent, heplify,
 * Kamailio/OpenSIPS siptrace) and hands each SIP message on as a struct tap_msg.
 *
 * Rule: a HEP packet is untrusted input. Every length is checked against the bytes that
 * came before anything is read; a compressed payload inflates into a fixed 64 KiB buffer
 * and no further. Nothing here prints or exits: drops are counted by reason (packet.h).
 */
#ifndef SW_TAP_HEP_H
#define SW_TAP_HEP_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* Called once for each SIP message a source yields; m and its bytes are borrowed for the
   call. (decode.h declares the same type: C11 allows the identical typedef twice.) */
typedef void (*tap_msg_fn)(void *arg, const struct tap_msg *m);

/* Scratch space for an inflated (chunk 0x0010) payload: a message larger than this is
   counted hep_inflate. */
struct tap_hep_buf {
    unsigned char inflated[65536];
};

/*
 * Decodes one HEP packet of len bytes: HEPv3 (starts with "HEP3"), or HEPv1/v2 (byte 0 is
 * 1 or 2).
 *
 * auth_key NULL or "": not checked. Otherwise a HEPv3 packet must carry chunk 0x000e equal
 * to it (one trailing NUL in the chunk is tolerated), and a v1/v2 packet, which has no
 * place for a key, is refused: both TAP_DROP_hep_auth.
 *
 * On TAP_DROP_none (0), m is filled: data/len the SIP payload (pointing into buf, or into
 * s->inflated for a compressed payload: valid while both are), src/dst from the address
 * and port chunks (srclen/dstlen 0 when the packet names none), transport SW_TCP for IP
 * protocol 6 and SW_UDP otherwise, ts_us from chunks 0x0009/0x000a or v2's time (0 when
 * the packet has none), frames NULL. A packet whose payload is not SIP (chunk 0x000b other
 * than 1) or that carries no payload at all also returns TAP_DROP_none, with m->len 0: the
 * caller ignores it (counted not_sip).
 *
 * Otherwise the reason: TAP_DROP_hep_malformed (bad magic or version, a length that
 * overruns the packet, a chunk of the wrong size), TAP_DROP_hep_auth, TAP_DROP_hep_inflate
 * (a compressed payload that does not inflate, or inflates past 64 KiB). Bytes after the
 * HEPv3 length field's end are ignored.
 */
enum tap_drop tap_hep_decode(const unsigned char *buf, size_t len, const char *auth_key,
                             struct tap_hep_buf *s, struct tap_msg *m);

/* Largest number of TCP connections one listener keeps; more are accepted and closed. */
#define TAP_HEP_MAX_CONNS 256
/* Bytes buffered per TCP connection (a HEPv3 packet is at most 65535 bytes). */
#define TAP_HEP_CONN_BUF (128 * 1024)
/* Seconds after which a TCP connection that sent nothing is closed. */
#define TAP_HEP_IDLE_S 300

struct tap_hep_listener;

/*
 * A HEP listener bound to spec: "udp:ADDR:PORT" or "tcp:ADDR:PORT", ADDR an IPv4 literal
 * or a bracketed IPv6 one ("udp:[::1]:9060"); PORT 0 picks a free port
 * (tap_hep_local_port). auth_key as for tap_hep_decode (copied; NULL or "": none).
 * Returns the listener (free with tap_hep_close), or NULL with a message in err
 * ("tcp:1.2.3.4:9060: bind: Cannot assign requested address").
 */
struct tap_hep_listener *tap_hep_listen(const char *spec, const char *auth_key, char *err,
                                        size_t errlen);

/* The listening socket (UDP: the only one), for a caller's poll/epoll. */
int tap_hep_fd(const struct tap_hep_listener *l);

/* The port the listener is bound to (host order). */
int tap_hep_local_port(const struct tap_hep_listener *l);

/*
 * Every descriptor the listener reads now (the listening socket first, then its TCP
 * connections), at most max of them into fds. Returns how many it has (which may exceed
 * max). The set changes after each tap_hep_poll.
 */
size_t tap_hep_fds(const struct tap_hep_listener *l, int *fds, size_t max);

/*
 * Waits up to timeout_ms milliseconds (0: not at all; negative: without end) for any of
 * the listener's descriptors, then reads what is ready without blocking: UDP datagrams
 * (one HEP packet each, in batches, at most 1024 a call), TCP connections accepted (over
 * TAP_HEP_MAX_CONNS: closed at once) and read, their streams framed by the HEPv3 length
 * field (a stream that does not start with "HEP3" where a packet should start is closed
 * and counted hep_malformed), idle ones closed after TAP_HEP_IDLE_S. fn is called for
 * each SIP message (m->ts_us is the arrival time when the packet carries none).
 * Returns the number of messages delivered, or -1 with errno (poll failed; EINTR gives 0).
 */
int tap_hep_poll(struct tap_hep_listener *l, int timeout_ms, tap_msg_fn fn, void *arg);

/* Counters since the start: seen hep, bytes, sip, not_sip; drops hep_malformed, hep_auth,
   hep_inflate. Borrowed until tap_hep_close. */
const struct tap_counts *tap_hep_counts(const struct tap_hep_listener *l);

/* Closes every socket and frees l. NULL does nothing. */
void tap_hep_close(struct tap_hep_listener *l);

#endif /* SW_TAP_HEP_H */
