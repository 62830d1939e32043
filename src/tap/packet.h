/*
 * packet.h - what the TAP's parts hand each other: a captured frame (from a pcap file or
 * a live interface), a SIP message decoded out of frames or out of a HEP packet, and the
 * counters that say what was read and what was dropped, by reason.
 *
 * The flow (DESIGN.md, "The TAP"):
 *   source (source.h: pcap/pcapng files, .gz too, several merged in time order; a live
 *   interface)  --struct tap_frame-->  decoder (decode.h: link, VLAN, IPv4/IPv6,
 *   fragments, UDP, TCP reassembly, SIP framing)  --struct tap_msg-->  engine (tap.h:
 *   parse, retransmissions, trunk match, the pipeline in observe mode)  -->  report
 *   (report.h: summary, JSON, HTML).
 *   A HEP source (hep.h) yields struct tap_msg directly.
 *
 * Rule: nothing here owns memory across calls: a frame's and a message's bytes are valid
 * only during the call that hands them over; whoever keeps them copies them.
 */
#ifndef SW_TAP_PACKET_H
#define SW_TAP_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One captured frame, as a source yields it. */
struct tap_frame {
    const unsigned char *data; /* the captured bytes */
    size_t caplen;             /* bytes captured (data's length) */
    size_t len;                /* bytes on the wire (caplen < len: cut by the snaplen) */
    int linktype;              /* DLT_* as libpcap names it (DLT_EN10MB, DLT_LINUX_SLL...) */
    int64_t ts_us;             /* capture time: microseconds since the epoch */
    unsigned source;           /* which source it came from (file index, 0-based) */
    uint64_t index;            /* 1-based frame number within its source */
};

/* Where one frame sits: enough to find it again in a second pass (--failed-pcap). */
struct tap_frame_ref {
    unsigned source;
    uint64_t index;
};

/* The most frames a message lists as its own (a longer list is cut, not an error). */
#define TAP_MSG_MAX_FRAMES 64

/* One SIP message as captured. */
struct tap_msg {
    const char *data; /* the message's bytes (start line to end of body) */
    size_t len;
    struct sockaddr_storage src, dst; /* as seen on the wire (or as the HEP packet says) */
    socklen_t srclen, dstlen;
    int transport; /* SW_UDP or SW_TCP (src/core/trunk.h); SIP over WebSocket is SW_TCP */
    int64_t ts_us; /* capture time of the frame that completed the message */
    const struct tap_frame_ref *frames; /* the frames it was read from, in order; NULL for HEP */
    size_t nframes;                     /* at most TAP_MSG_MAX_FRAMES */
};

/* What was read, counted by kind (not losses). */
#define TAP_SEEN_MAP(X)                                                                            \
    X(frames, "frames read")                                                                       \
    X(bytes, "bytes read (captured lengths)")                                                      \
    X(ipv4, "IPv4 packets")                                                                        \
    X(ipv6, "IPv6 packets")                                                                        \
    X(fragments, "IP fragments")                                                                   \
    X(reassembled, "IP datagrams reassembled from fragments")                                      \
    X(udp, "UDP datagrams")                                                                        \
    X(tcp, "TCP segments")                                                                         \
    X(tcp_retransmitted, "TCP segments whose bytes were already seen (retransmissions)")           \
    X(tcp_out_of_order, "TCP segments that arrived before a gap was filled")                       \
    X(websocket, "WebSocket frames carrying SIP")                                                  \
    X(hep, "HEP packets")                                                                          \
    X(sip, "SIP messages")                                                                         \
    X(not_ip, "frames that carry no IP (ARP, LLDP...), ignored")                                   \
    X(not_sip, "UDP and TCP payloads that are not SIP, ignored")                                   \
    X(not_udp_tcp, "IP packets that carry neither UDP nor TCP (ICMP, ESP...), ignored")

/* What was lost, by reason. Every one is shown in the summary. */
#define TAP_DROP_MAP(X)                                                                            \
    X(linktype, "frames of a link type the decoder does not read")                                 \
    X(truncated, "frames cut short (snaplen or a broken header)")                                  \
    X(bad_ip, "IP headers that do not parse (version, lengths, checksum-free sanity)")             \
    X(frag_timeout, "IP datagrams whose fragments never all came (timeout)")                       \
    X(frag_memory, "IP fragments dropped at the reassembly memory cap")                            \
    X(frag_overlap, "IP fragments that overlap others with different bytes")                       \
    X(tcp_gap, "TCP stream bytes skipped because a segment never came")                            \
    X(tcp_memory, "TCP segments dropped at the reassembly memory cap")                             \
    X(tcp_flows, "TCP flows not followed: too many at once")                                       \
    X(tcp_idle, "TCP flows closed idle with a message half-read")                                  \
    X(sip_too_large, "SIP messages over the size limit")                                           \
    X(sip_malformed, "SIP messages that do not parse")                                             \
    X(hep_malformed, "HEP packets that do not parse")                                              \
    X(hep_auth, "HEP packets with a wrong or missing auth key")                                    \
    X(hep_inflate, "HEP compressed payloads that do not inflate")                                  \
    X(kernel, "packets the kernel dropped before the capture read them (live)")

enum tap_seen {
#define TAP_X_ENUM(name, help) TAP_SEEN_##name,
    TAP_SEEN_MAP(TAP_X_ENUM)
#undef TAP_X_ENUM
        TAP_SEEN_N
};

enum tap_drop {
    TAP_DROP_none = 0, /* not a drop: the value "no reason" where one is returned */
#define TAP_X_ENUM(name, help) TAP_DROP_##name,
    TAP_DROP_MAP(TAP_X_ENUM)
#undef TAP_X_ENUM
        TAP_DROP_N
};

/* Counters: one set per decoder / source; the engine sums them for the summary. */
struct tap_counts {
    uint64_t seen[TAP_SEEN_N];
    uint64_t drop[TAP_DROP_N]; /* drop[TAP_DROP_none] stays 0 */
};

/* Names ("frames", "frag_timeout") and help texts, indexed by the enums (packet.c). */
extern const char *const tap_seen_names[TAP_SEEN_N];
extern const char *const tap_seen_help[TAP_SEEN_N];
extern const char *const tap_drop_names[TAP_DROP_N];
extern const char *const tap_drop_help[TAP_DROP_N];

/* a += b, field by field */
void tap_counts_add(struct tap_counts *a, const struct tap_counts *b);

#endif /* SW_TAP_PACKET_H */
