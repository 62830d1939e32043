/*
 * source.h - where the TAP's frames come from: capture files (pcap and pcapng, gzip'd or
 * not, several merged into one stream in time order; "-" for stdin), a live interface
 * through libpcap, and the writer of --failed-pcap.
 *
 * Rule: a frame handed out (struct tap_frame) points into libpcap's buffer and is valid
 * only until the next call on the same handle; whoever keeps it copies it. Nothing here
 * prints: every error is text naming the file or interface ("x.pcap: not a pcap or pcapng
 * file", "eth9: No such device exists").
 */
#ifndef SW_TAP_SOURCE_H
#define SW_TAP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* --- capture files ------------------------------------------------------------------ */

/* The most files one tap_files_open reads together (each holds a descriptor open). */
#define TAP_FILES_MAX 1024

struct tap_files;

/*
 * Opens n capture files (1 <= n <= TAP_FILES_MAX) to be read as one stream, frames in
 * time order (smallest ts_us first; equal times in the order of paths). Each is pcap or
 * pcapng (libpcap reads both, timestamps in microseconds), plain or gzip-compressed
 * (detected by its first bytes 1f 8b, whatever its name). "-" is standard input, once at
 * most (plain or gzip'd too). paths are copied. Every file is opened and its header read
 * here, so a missing or foreign file fails the open: NULL with err naming it
 * ("x.pcap: No such file or directory", "x.pcap: not a pcap or pcapng file",
 * "x.pcap: empty file").
 */
struct tap_files *tap_files_open(char *const *paths, size_t n, char *err, size_t errlen);

/*
 * The next frame of the merged stream into *out (source = the file's index in paths,
 * index = the frame's 1-based number in its file; the bytes are valid until the next call).
 * Returns 1, 0 at the end of every file, or -1 when one file failed: it is truncated
 * ("x.pcap: truncated at frame 12 (...)": a last record cut short, as a capture that was
 * copied while written leaves it) or unreadable. That file ends there, its message is
 * tap_files_error, and the next call goes on with the other files; a caller that prefers
 * to stop stops.
 */
int tap_files_next(struct tap_files *f, struct tap_frame *out);

/* The message of the last file that failed (tap_files_next's -1), or NULL when none did.
   Borrowed until tap_files_close. */
const char *tap_files_error(const struct tap_files *f);

/* The link type (DLT_*) and snapshot length of file source (its index in paths); -1 for
   an index out of range. */
int tap_files_linktype(const struct tap_files *f, unsigned source);
int tap_files_snaplen(const struct tap_files *f, unsigned source);

/*
 * Bytes consumed so far and the total, over every file: sizes on disk (compressed sizes
 * for gzip'd files, so the fraction is right). total is 0 when unknown (stdin is one of
 * the inputs); a pipe on stdin counts the bytes it gave (uncompressed) in done.
 */
void tap_files_progress(const struct tap_files *f, uint64_t *done, uint64_t *total);

/* Closes every file and frees f. NULL does nothing. */
void tap_files_close(struct tap_files *f);

/* --- the --failed-pcap writer ------------------------------------------------------- */

struct tap_writer;

/*
 * Creates (truncating) a classic pcap file at path ("-": standard output) with microsecond
 * timestamps, link type linktype (DLT_*) and snapshot length snaplen (<= 0: 262144).
 * NULL with err ("out.pcap: Permission denied").
 */
struct tap_writer *tap_writer_open(const char *path, int linktype, int snaplen, char *err,
                                   size_t errlen);

/* Appends one frame (fr->caplen bytes, cut at the snaplen; fr->len and fr->ts_us as they
   are). 0, or -1 when the file could not be written (errno). */
int tap_writer_write(struct tap_writer *w, const struct tap_frame *fr);

/* Flushes, closes and frees w. 0, or -1 when a write failed since the open (errno). NULL
   gives 0. */
int tap_writer_close(struct tap_writer *w);

/* --- live capture ------------------------------------------------------------------- */

/* The default filter: every UDP and TCP packet, and the fragments that carry no port
   (IPv4 fragments past the first; IPv6 packets whose first extension header is one the
   decoder walks: hop-by-hop 0, routing 43, fragment 44, destination options 60, AH 51).
   A port-only filter would lose non-first fragments. On Ethernet the same expression is
   also applied behind a VLAN tag: "F or (vlan and (F))" (other link types have no VLAN
   keyword in libpcap). */
#define TAP_LIVE_DEFAULT_BPF                                                                       \
    "(udp or tcp or (ip[6:2] & 0x1fff != 0) or (ip6 and (ip6[6] == 0 or ip6[6] == 43 or "          \
    "ip6[6] == 44 or ip6[6] == 60 or ip6[6] == 51)))"

struct tap_live_opts {
    int snaplen;      /* bytes captured of each packet (65535) */
    int buffer_bytes; /* the kernel's ring for this capture (32 MiB) */
    int promisc;      /* 1: promiscuous mode (1) */
    const char *bpf;  /* NULL: TAP_LIVE_DEFAULT_BPF; else replaces it (borrowed) */
};

/* The defaults above. */
void tap_live_opts_init(struct tap_live_opts *o);

struct tap_live;

/*
 * Opens interface ifname ("eth0", "lo", "any") for capture: snaplen, promiscuous mode,
 * buffer, immediate mode (no batching delay), microsecond timestamps, non-blocking, the
 * filter compiled and set. Frames carry source as their source. o NULL: the defaults.
 * NULL with err naming the interface and libpcap's reason ("eth9: No such device exists";
 * "eth0: ... Operation not permitted (needs CAP_NET_RAW: run as root)"; "lo: filter
 * \"...\": syntax error").
 */
struct tap_live *tap_live_open(const char *ifname, const struct tap_live_opts *o, unsigned source,
                               char *err, size_t errlen);

/* A descriptor that is readable when frames wait (pcap_get_selectable_fd). */
int tap_live_fd(const struct tap_live *l);

/* The interface's link type (DLT_*). */
int tap_live_linktype(const struct tap_live *l);

/*
 * Reads up to max frames (max <= 0: whatever one buffer holds) without blocking, calling
 * fn(arg, frame) for each (index counts from 1 over the capture). Returns how many, 0 when
 * none waited, or -1 (tap_live_error says why: the interface went away...).
 */
int tap_live_dispatch(struct tap_live *l, int max, void (*fn)(void *arg, const struct tap_frame *f),
                      void *arg);

/*
 * Packets since the open: received by the filter, dropped by the kernel for want of
 * buffer (ps_drop), dropped by the interface (ps_ifdrop). libpcap's 32-bit counters are
 * widened here (wraps between two calls are counted), so call it at least once per 2^32
 * packets. 0, or -1 (tap_live_error).
 */
int tap_live_stats(struct tap_live *l, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop);

/* The last error of l ("eth0: The interface went down"); "" when none. */
const char *tap_live_error(const struct tap_live *l);

/* Stops the capture and frees l. NULL does nothing. */
void tap_live_close(struct tap_live *l);

#endif /* SW_TAP_SOURCE_H */
