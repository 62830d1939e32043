/*
 * counters.h - the message path's counters, from one table.
 *
 * SW_COUNTER_MAP lists every counter once, with its help text. From it come the fields
 * of struct sw_stats (one per worker, written without locks, summed by the main thread),
 * the log summary, and the machine-readable form that the REST API serves as metrics.
 * Adding a counter is one line here and one increment where it happens. Filters keep
 * their own counters (named in their descriptors) in the same struct, one row each.
 */
#ifndef SW_CORE_COUNTERS_H
#define SW_CORE_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"

#define SW_COUNTER_MAP(X)                                                                          \
    X(received, "SIP messages received (requests and responses)")                                  \
    X(requests, "requests received")                                                               \
    X(responses, "responses received")                                                             \
    X(forwarded_requests, "requests forwarded to a next hop")                                      \
    X(forwarded_responses, "responses forwarded")                                                  \
    X(replies, "replies we sent ourselves")                                                        \
    X(replied_400, "requests answered 400 (malformed)")                                            \
    X(replied_403, "requests answered 403 (from a source that matches no trunk)")                  \
    X(replied_482, "requests answered 482 (loop)")                                                 \
    X(replied_483, "requests answered 483 (Max-Forwards 0)")                                       \
    X(replied_500, "requests answered 500 (more edits than we allow)")                             \
    X(replied_505, "requests answered 505 (SIP version other than 2.0)")                           \
    X(replied_416, "requests answered 416 (Request-URI scheme not sip, sips or tel)")              \
    X(replied_420, "requests answered 420 (Proxy-Require names an extension we lack)")             \
    X(replied_513, "requests answered 513 (too large for every transport the next hop takes)")     \
    X(dropped_bad_next_via, "responses dropped: next Via names a broadcast or multicast address")  \
    X(replied_by_filter, "requests answered by a filter (reject)")                                 \
    X(dropped_malformed, "messages dropped as malformed")                                          \
    X(dropped_no_trunk, "requests from a source that matches no trunk")                            \
    X(dropped_not_ours, "responses dropped: top Via not ours or next Via unusable")                \
    X(dropped_by_filter, "messages dropped by a filter")                                           \
    X(dropped_loop, "looped ACKs dropped")                                                         \
    X(sent_tcp_for_size, "requests sent over TCP because they grew past 1300 bytes")               \
    X(sent_udp, "messages handed to the kernel over UDP")                                          \
    X(sent_tcp, "messages written or queued on a TCP connection")                                  \
    X(send_failed_msgsize, "sends failed: too large for the transport (EMSGSIZE)")                 \
    X(send_failed_refused, "sends failed: connection refused (ECONNREFUSED)")                      \
    X(send_failed_unreachable, "sends failed: host or network unreachable")                        \
    X(send_failed_timeout, "sends failed: TCP connect timed out")                                  \
    X(send_failed_no_fd, "sends failed: no descriptor for a new connection (EMFILE)")              \
    X(send_failed_queue_full, "sends failed: the TCP connection's queue was full")                 \
    X(send_failed_conn_lost, "sends failed: the TCP connection closed with them queued")           \
    X(send_failed_other, "sends failed for another reason")                                        \
    X(icmp_unreachable, "ICMP destination unreachable read from the UDP sockets")                  \
    X(icmp_other, "other ICMP errors read from the UDP sockets")                                   \
    X(tcp_accepted, "TCP connections accepted")                                                    \
    X(tcp_connected, "TCP connections we opened")                                                  \
    X(tcp_refused_limit, "TCP connections refused: tcp.max_connections reached")                   \
    X(tcp_refused_per_source, "TCP connections refused: tcp.max_per_source reached")               \
    X(tcp_refused_not_trunk, "TCP connections refused: source in no trunk")                        \
    X(tcp_refused_no_fd, "TCP connections refused: out of descriptors (EMFILE)")                   \
    X(tcp_closed_by_peer, "TCP connections closed by the peer")                                    \
    X(tcp_closed_idle, "TCP connections closed after 900 s of silence")                            \
    X(tcp_closed_not_sip, "TCP connections closed: the stream was not SIP")                        \
    X(tcp_dropped_partial, "half-received messages dropped at tcp.partial_timeout")                \
    X(parked, "messages parked while a filter waited")                                             \
    X(resumed, "parked messages resumed")                                                          \
    X(park_refused, "waits refused because the worker's max_parked was reached")                   \
    X(retrans_absorbed, "retransmissions of a parked request dropped (it is forwarded once)")      \
    X(dropped_at_stop, "parked messages dropped at shutdown")                                      \
    X(hops_marked_down, "next hops marked down by OPTIONS health checks")                          \
    X(hops_marked_up, "next hops marked up again by OPTIONS health checks")                        \
    X(hops_dns_changes, "next hop sets changed by re-resolution (TTL)")

struct sw_stats {
#define SW_COUNTER_FIELD(name, help) uint64_t name;
    SW_COUNTER_MAP(SW_COUNTER_FIELD)
#undef SW_COUNTER_FIELD
    /* filter counters: row = registry index, column = index in the filter's counters */
    uint64_t filter[SWF_MAX_FILTERS][SWF_MAX_COUNTERS];
};

/* One row of the table, for whoever lists counters (metrics, logs). */
struct sw_counter_info {
    const char *name;
    const char *help;
    size_t offset; /* of the field in struct sw_stats */
};
/* The table, and its length. */
const struct sw_counter_info *sw_counters(size_t *n);

/* sum += one, field by field. */
void sw_stats_add(struct sw_stats *sum, const struct sw_stats *one);
/* A filter counter by names, 0 when there is no such filter or counter. */
uint64_t sw_stats_filter(const struct sw_stats *s, const char *filter, const char *counter);
/*
 * The log summary: "received 10, requests 9, ..." with the counters that are not zero
 * (received always), then each filter's ("sign: signed_a 4, ..."). Returns the length.
 */
size_t sw_stats_summary(const struct sw_stats *s, char *buf, size_t len);
/*
 * Every counter as "name value" lines, filter ones as "filter_<filter>_<counter>", in
 * table order: the machine-readable form. Returns the length (truncated to len).
 */
size_t sw_stats_text(const struct sw_stats *s, char *buf, size_t len);

/*
 * The certificate verifier's line for the log: its cache and fetch counters
 * (sw_verifier_get_stats), then each fetch failure by error name, those not zero
 * ("verifier: cache_hits 10, ...; failed: CERT_TIMEOUT 2, CERT_CONNECT 1"). v may be NULL
 * ("verifier: none"). Returns the length.
 */
size_t sw_verifier_summary(sw_verifier *v, char *buf, size_t len);

#endif /* SW_CORE_COUNTERS_H */
