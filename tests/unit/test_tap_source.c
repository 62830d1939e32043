/*
 * test_tap_source.c - capture files (src/tap/source.c): pcap files written here with
 * libpcap's dumper, two with interleaved timestamps merged in time order, a gzip'd copy
 * (zlib gzopen) read alone and from stdin, a pcapng file written by hand (SHB, IDB, EPB
 * blocks), pcapng files of every block kind written by a small writer here (interfaces of
 * different link types, if_tsresol and if_tsoffset, simple and obsolete packet blocks, an
 * unknown block, a big-endian second section) and broken ones (each length checked), a
 * file whose last record is cut (the file ends with an error, the others go
 * on), files that are not captures, and the --failed-pcap writer read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../../src/tap/decode.h"
#include "../../src/tap/source.h"

static char dir[64];

static const char *path(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

/* A frame's bytes: 14 bytes of Ethernet-ish header, then "F<file> #<n>". */
static size_t make_frame(unsigned char *b, int file, int n)
{
    memset(b, 0, 14);
    b[12] = 0x08;
    return 14 + (size_t)snprintf((char *)b + 14, 64, "F%d #%d", file, n);
}

/* Writes a pcap file of frames at the given times (microseconds). */
static void write_pcap(const char *p, int file, const int64_t *ts, int n)
{
    pcap_t *dead =
        pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_MICRO);
    pcap_dumper_t *d = pcap_dump_open(dead, p);
    assert_non_null(d);
    for (int i = 0; i < n; i++) {
        unsigned char b[128];
        struct pcap_pkthdr h;
        h.caplen = h.len = (bpf_u_int32)make_frame(b, file, i + 1);
        h.ts.tv_sec = (time_t)(ts[i] / 1000000);
        h.ts.tv_usec = (suseconds_t)(ts[i] % 1000000);
        pcap_dump((u_char *)d, &h, b);
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

static void gzip_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    gzFile out = gzopen(to, "wb");
    char b[4096];
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(b, 1, sizeof(b), in)) > 0)
        assert_int_equal(gzwrite(out, b, (unsigned)n), (int)n);
    fclose(in);
    assert_int_equal(gzclose(out), Z_OK);
}

static void write_file(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return (uint64_t)st.st_size;
}

/* Reads every frame of paths; checks each frame's text; returns how many (max 64). */
struct seen {
    int n;
    char text[64][32];
    int64_t ts[64];
    unsigned source[64];
    uint64_t index[64];
};

static int read_all(struct tap_files *f, struct seen *s)
{
    struct tap_frame fr;
    int rc, errors = 0;

    memset(s, 0, sizeof(*s));
    while ((rc = tap_files_next(f, &fr)) != 0) {
        if (rc < 0) {
            errors++;
            continue;
        }
        assert_true(s->n < 64);
        assert_int_equal(fr.linktype, DLT_EN10MB);
        assert_true(fr.caplen > 14 && fr.caplen < 40);
        snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", (int)(fr.caplen - 14), fr.data + 14);
        s->ts[s->n] = fr.ts_us;
        s->source[s->n] = fr.source;
        s->index[s->n] = fr.index;
        s->n++;
    }
    return errors;
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_tap_source.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const int64_t TS_A[] = {1000000, 3000000, 5000000, 5000000};
static const int64_t TS_B[] = {2000000, 4000000, 5000000, 6000000};

static void two_files_merged_in_time_order(void **state)
{
    char err[256];
    struct seen s;
    write_pcap(path("a.pcap"), 0, TS_A, 4);
    write_pcap(path("b.pcap"), 1, TS_B, 4);
    char *paths[] = {(char *)path("a.pcap"), (char *)path("b.pcap")};
    struct tap_files *f = tap_files_open(paths, 2, err, sizeof(err));

    assert_non_null(f);
    assert_int_equal(tap_files_linktype(f, 0), DLT_EN10MB);
    assert_int_equal(tap_files_snaplen(f, 1), 65535);
    assert_int_equal(tap_files_linktype(f, 2), -1);
    assert_int_equal(read_all(f, &s), 0);
    assert_int_equal(s.n, 8);
    /* equal times (5 s: a#3, a#4, b#3) keep the files' order, a before b */
    static const char *want[] = {"F0 #1", "F1 #1", "F0 #2", "F1 #2",
                                 "F0 #3", "F0 #4", "F1 #3", "F1 #4"};
    for (int i = 0; i < 8; i++)
        assert_string_equal(s.text[i], want[i]);
    assert_int_equal(s.ts[1], 2000000);
    assert_int_equal(s.source[1], 1);
    assert_int_equal(s.index[7], 4);
    assert_null(tap_files_error(f));
    uint64_t done, total;
    tap_files_progress(f, &done, &total);
    assert_int_equal(total, file_size(path("a.pcap")) + file_size(path("b.pcap")));
    assert_int_equal(done, total);
    tap_files_close(f);
}

static void progress_moves(void **state)
{
    char err[256];
    int64_t ts[40];
    struct tap_frame fr;
    uint64_t done, total;

    for (int i = 0; i < 40; i++)
        ts[i] = 1000000 + i;
    write_pcap(path("p.pcap"), 0, ts, 40);
    char *paths[] = {(char *)path("p.pcap")};
    struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
    assert_non_null(f);
    tap_files_progress(f, &done, &total);
    assert_int_equal(total, file_size(path("p.pcap")));
    assert_true(done <= total);
    while (tap_files_next(f, &fr) == 1)
        ;
    tap_files_progress(f, &done, &total);
    assert_int_equal(done, total);
    tap_files_close(f);
}

static void gzip_file_read(void **state)
{
    char err[256];
    struct seen s;
    write_pcap(path("g.pcap"), 0, TS_A, 4);
    gzip_copy(path("g.pcap"), path("g.pcap.gz"));
    /* detected by its magic, not by its name */
    gzip_copy(path("g.pcap"), path("g-noext"));
    char *paths[] = {(char *)path("g.pcap.gz"), (char *)path("g-noext")};
    struct tap_files *f = tap_files_open(paths, 2, err, sizeof(err));

    assert_non_null(f);
    assert_int_equal(read_all(f, &s), 0);
    assert_int_equal(s.n, 8);
    assert_string_equal(s.text[0], "F0 #1");
    assert_int_equal(s.source[0], 0);
    assert_int_equal(s.source[1], 1);
    uint64_t done, total;
    tap_files_progress(f, &done, &total);
    assert_int_equal(total, file_size(path("g.pcap.gz")) + file_size(path("g-noext")));
    assert_int_equal(done, total);
    tap_files_close(f);
}

static void read_from_stdin(void **state)
{
    char err[256];
    struct seen s;
    int saved = dup(0);

    write_pcap(path("s.pcap"), 0, TS_B, 4);
    gzip_copy(path("s.pcap"), path("s.pcap.gz"));
    for (int gz = 0; gz < 2; gz++) {
        /* a pipe, as in "zcat x | stirwire pcap -": no seeking, no size */
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            int in = open(path(gz ? "s.pcap.gz" : "s.pcap"), O_RDONLY);
            char b[4096];
            ssize_t n;
            while ((n = read(in, b, sizeof(b))) > 0)
                if (write(pfd[1], b, (size_t)n) != n)
                    _exit(1);
            _exit(0);
        }
        close(pfd[1]);
        dup2(pfd[0], 0);
        close(pfd[0]);
        char *paths[] = {"-"};
        struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
        assert_non_null(f);
        assert_int_equal(read_all(f, &s), 0);
        assert_int_equal(s.n, 4);
        assert_string_equal(s.text[3], "F0 #4");
        uint64_t done, total;
        tap_files_progress(f, &done, &total);
        assert_int_equal(total, 0);
        tap_files_close(f);
        dup2(saved, 0);
    }
    close(saved);
    char *two[] = {"-", "-"};
    assert_null(tap_files_open(two, 2, err, sizeof(err)));
    assert_non_null(strstr(err, "once"));
}

/* pcapng, written block by block (little-endian, one interface, microsecond times). */
static void put32(unsigned char *b, size_t *off, uint32_t v)
{
    memcpy(b + *off, &v, 4);
    *off += 4;
}

static void put16(unsigned char *b, size_t *off, uint16_t v)
{
    memcpy(b + *off, &v, 2);
    *off += 2;
}

static void pcapng_file_read(void **state)
{
    unsigned char b[4096];
    size_t off = 0;
    char err[256];
    struct seen s;

    /* Section Header Block */
    put32(b, &off, 0x0A0D0D0A);
    put32(b, &off, 28);
    put32(b, &off, 0x1A2B3C4D);
    put16(b, &off, 1);
    put16(b, &off, 0);
    put32(b, &off, 0xffffffff);
    put32(b, &off, 0xffffffff);
    put32(b, &off, 28);
    /* Interface Description Block: Ethernet, snaplen 65535, no options (microseconds) */
    put32(b, &off, 1);
    put32(b, &off, 20);
    put16(b, &off, DLT_EN10MB);
    put16(b, &off, 0);
    put32(b, &off, 65535);
    put32(b, &off, 20);
    /* Enhanced Packet Blocks */
    for (int i = 0; i < 3; i++) {
        unsigned char fr[64];
        size_t n = make_frame(fr, 7, i + 1), padded = (n + 3) & ~(size_t)3;
        uint64_t ts = 1700000000000000ULL + (uint64_t)i * 250000;
        uint32_t blen = (uint32_t)(32 + padded);
        put32(b, &off, 6);
        put32(b, &off, blen);
        put32(b, &off, 0);
        put32(b, &off, (uint32_t)(ts >> 32));
        put32(b, &off, (uint32_t)ts);
        put32(b, &off, (uint32_t)n);
        put32(b, &off, (uint32_t)n);
        memset(b + off, 0, padded);
        memcpy(b + off, fr, n);
        off += padded;
        put32(b, &off, blen);
    }
    write_file(path("n.pcapng"), b, off);
    char *paths[] = {(char *)path("n.pcapng")};
    struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(read_all(f, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[2], "F7 #3");
    assert_true(s.ts[0] == (int64_t)1700000000000000LL);
    assert_true(s.ts[2] == (int64_t)1700000000500000LL);
    tap_files_close(f);
}

/* --- pcapng of every block kind, by a writer that takes the section's byte order ---- */

struct ngw {
    unsigned char b[8192];
    size_t n;
    int be;
};

static void ngw_u16(struct ngw *w, uint16_t v)
{
    w->b[w->n++] = (unsigned char)(w->be ? v >> 8 : v);
    w->b[w->n++] = (unsigned char)(w->be ? v : v >> 8);
}

static void ngw_u32(struct ngw *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w->b[w->n++] = (unsigned char)(v >> (w->be ? 24 - 8 * i : 8 * i));
}

static void ngw_u64(struct ngw *w, uint64_t v)
{
    ngw_u32(w, (uint32_t)(w->be ? v >> 32 : v));
    ngw_u32(w, (uint32_t)(w->be ? v : v >> 32));
}

static void ngw_bytes(struct ngw *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
    while (w->n % 4 != 0)
        w->b[w->n++] = 0;
}

/* Starts a block: its type and a length that ngw_end fills in. */
static size_t ngw_begin(struct ngw *w, uint32_t type)
{
    size_t at = w->n;
    ngw_u32(w, type);
    ngw_u32(w, 0);
    return at;
}

static void ngw_end(struct ngw *w, size_t at)
{
    size_t end = w->n;
    uint32_t total = (uint32_t)(end - at + 4);
    w->n = at + 4;
    ngw_u32(w, total);
    w->n = end;
    ngw_u32(w, total);
}

static void ngw_shb(struct ngw *w, int be)
{
    w->be = be;
    size_t at = ngw_begin(w, 0x0A0D0D0A);
    ngw_u32(w, 0x1A2B3C4D);
    ngw_u16(w, 1);
    ngw_u16(w, 0);
    ngw_u64(w, UINT64_MAX);
    ngw_end(w, at);
}

/* An interface; tsresol < 0: no if_tsresol option; tsoffset 0: none. */
static void ngw_idb(struct ngw *w, uint16_t linktype, int tsresol, int64_t tsoffset)
{
    size_t at = ngw_begin(w, 1);
    ngw_u16(w, linktype);
    ngw_u16(w, 0);
    ngw_u32(w, 65535);
    if (tsresol >= 0) {
        unsigned char r = (unsigned char)tsresol;
        ngw_u16(w, 9);
        ngw_u16(w, 1);
        ngw_bytes(w, &r, 1);
    }
    if (tsoffset != 0) {
        ngw_u16(w, 14);
        ngw_u16(w, 8);
        ngw_u64(w, (uint64_t)tsoffset);
    }
    ngw_u16(w, 0); /* opt_endofopt */
    ngw_u16(w, 0);
    ngw_end(w, at);
}

/* An enhanced (type 6) or obsolete (type 2) packet block carrying text. */
static void ngw_packet(struct ngw *w, uint32_t type, uint32_t ifid, uint64_t ticks,
                       const char *text)
{
    size_t at = ngw_begin(w, type);
    if (type == 6)
        ngw_u32(w, ifid);
    else {
        ngw_u16(w, (uint16_t)ifid);
        ngw_u16(w, 0);
    }
    ngw_u32(w, (uint32_t)(ticks >> 32));
    ngw_u32(w, (uint32_t)ticks);
    ngw_u32(w, (uint32_t)strlen(text));
    ngw_u32(w, (uint32_t)strlen(text) + 100); /* cut by a snaplen */
    ngw_bytes(w, text, strlen(text));
    ngw_end(w, at);
}

static void ngw_spb(struct ngw *w, const char *text)
{
    size_t at = ngw_begin(w, 3);
    ngw_u32(w, (uint32_t)strlen(text));
    ngw_bytes(w, text, strlen(text));
    ngw_end(w, at);
}

struct ngseen {
    int n;
    char text[16][32];
    int linktype[16];
    int64_t ts[16];
    size_t len[16];
    uint64_t index[16];
    int errors;
};

static void ng_read_all(struct tap_files *f, struct ngseen *s)
{
    struct tap_frame fr;
    int rc;

    memset(s, 0, sizeof(*s));
    while ((rc = tap_files_next(f, &fr)) != 0) {
        if (rc < 0) {
            s->errors++;
            continue;
        }
        assert_true(s->n < 16);
        snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", (int)fr.caplen, fr.data);
        s->linktype[s->n] = fr.linktype;
        s->ts[s->n] = fr.ts_us;
        s->len[s->n] = fr.len;
        s->index[s->n] = fr.index;
        s->n++;
    }
}

#define T0 1700000000LL /* seconds */

/* Two sections: little-endian with interfaces Ethernet (microseconds), raw (nanoseconds)
   and USER0 147 (2^-10 s, 100 s offset); then big-endian with one interface. */
static void ngw_mixed(struct ngw *w)
{
    w->n = 0;
    ngw_shb(w, 0);
    ngw_idb(w, 1, -1, 0);
    ngw_idb(w, 101, 9, 0);
    ngw_idb(w, 147, 0x80 | 10, 100);
    ngw_packet(w, 6, 0, (uint64_t)T0 * 1000000 + 1, "eth");
    ngw_packet(w, 6, 1, (uint64_t)T0 * 1000000000 + 2999, "raw");
    size_t at = ngw_begin(w, 0x0BAD); /* an unknown block, skipped */
    ngw_bytes(w, "whatever it holds", 17);
    ngw_end(w, at);
    ngw_packet(w, 6, 2, ((uint64_t)T0 << 10) + 512, "user0");
    ngw_spb(w, "simple");
    ngw_packet(w, 2, 1, (uint64_t)(T0 + 1) * 1000000000, "obsolete");
    ngw_shb(w, 1);
    ngw_idb(w, 147, -1, 0);
    ngw_packet(w, 6, 0, (uint64_t)(T0 + 2) * 1000000, "big-endian");
    ngw_packet(w, 6, 1, (uint64_t)(T0 + 3) * 1000000, "if 1 of the old section");
}

static void pcapng_interfaces_of_several_link_types(void **state)
{
    char err[256];
    struct ngw w;
    struct ngseen s;

    ngw_mixed(&w);
    write_file(path("mixed.pcapng"), w.b, w.n);
    gzip_copy(path("mixed.pcapng"), path("mixed.pcapng.gz"));
    for (int gz = 0; gz < 2; gz++) {
        char *paths[] = {(char *)path(gz ? "mixed.pcapng.gz" : "mixed.pcapng")};
        struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
        assert_non_null(f);
        assert_int_equal(tap_files_linktype(f, 0), DLT_EN10MB);
        assert_int_equal(tap_files_snaplen(f, 0), 65535);
        ng_read_all(f, &s);
        assert_int_equal(s.errors, 0);
        assert_null(tap_files_error(f));
        assert_int_equal(s.n, 7);
        static const char *text[] = {
            "eth", "raw", "user0", "simple", "obsolete", "big-endian", "if 1 of the old section"};
        /* LINKTYPE_RAW 101 is DLT_RAW, as libpcap says for a classic pcap */
        static const int lt[] = {DLT_EN10MB, DLT_RAW, 147, DLT_EN10MB, DLT_RAW, 147, -1};
        static const int64_t ts[] = {T0 * 1000000 + 1,
                                     T0 * 1000000 + 2,
                                     (T0 + 100) * 1000000 + 500000,
                                     (T0 + 100) * 1000000 + 500000,
                                     (T0 + 1) * 1000000,
                                     (T0 + 2) * 1000000,
                                     (T0 + 2) * 1000000};
        for (int i = 0; i < 7; i++) {
            assert_string_equal(s.text[i], text[i]);
            assert_int_equal(s.linktype[i], lt[i]);
            assert_true(s.ts[i] == ts[i]);
            assert_int_equal(s.index[i], i + 1);
        }
        assert_int_equal(s.len[0], 103);
        assert_int_equal(s.len[3], 6); /* a simple packet block's original length */
        uint64_t done, total;
        tap_files_progress(f, &done, &total);
        assert_int_equal(total, file_size(paths[0]));
        assert_int_equal(done, total);
        tap_files_close(f);
    }
}

/* A frame of an interface the section lacks reaches the decoder with a link type that
   it counts as dropped ("linktype"). */
static void pcapng_unknown_interface_dropped_as_linktype(void **state)
{
    char err[256];
    struct ngw w;
    struct tap_frame fr;

    w.n = 0;
    ngw_shb(&w, 0);
    ngw_idb(&w, 1, -1, 0);
    ngw_packet(&w, 6, 9, (uint64_t)T0 * 1000000, "interface 9");
    write_file(path("if9.pcapng"), w.b, w.n);
    char *paths[] = {(char *)path("if9.pcapng")};
    struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
    struct tap_decoder *d = tap_decoder_new(NULL, NULL, NULL);
    assert_non_null(f);
    assert_non_null(d);
    assert_int_equal(tap_files_next(f, &fr), 1);
    assert_int_equal(fr.linktype, -1);
    assert_int_equal(fr.index, 1);
    tap_decode_frame(d, &fr);
    assert_int_equal(tap_files_next(f, &fr), 0);
    assert_null(tap_files_error(f));
    assert_int_equal(tap_decoder_counts(d)->drop[TAP_DROP_linktype], 1);
    assert_int_equal(tap_decoder_counts(d)->seen[TAP_SEEN_frames], 1);
    tap_decoder_free(d);
    tap_files_close(f);
}

/* A good file up to its first packet; break(w) appends what breaks it. Returns the error
   after reading, with *frames the frames read before it. */
static const char *ng_broken(const char *name, void (*brk)(struct ngw *w), int *frames, char *e,
                             size_t elen)
{
    char err[256];
    struct ngw w;
    struct ngseen s;

    w.n = 0;
    ngw_shb(&w, 0);
    ngw_idb(&w, 1, -1, 0);
    ngw_packet(&w, 6, 0, (uint64_t)T0 * 1000000, "good"); /* SHB 28, IDB 24, EPB 36 bytes */
    brk(&w);
    write_file(path(name), w.b, w.n);
    char *paths[] = {(char *)path(name)};
    struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
    assert_non_null(f);
    ng_read_all(f, &s);
    *frames = s.n;
    assert_int_equal(s.errors, 1);
    snprintf(e, elen, "%s", tap_files_error(f) != NULL ? tap_files_error(f) : "");
    uint64_t done, total;
    tap_files_progress(f, &done, &total);
    assert_int_equal(done, total);
    tap_files_close(f);
    return e;
}

#define BRK 88 /* where the block after the good one starts */

static void brk_trailer(struct ngw *w)
{
    ngw_packet(w, 6, 0, (uint64_t)T0 * 1000000, "bad end"); /* 44 bytes at offset 88 */
    w->b[w->n - 4] = 48;
}

static void brk_not4(struct ngw *w)
{
    ngw_packet(w, 6, 0, (uint64_t)T0 * 1000000, "odd");
    w->b[BRK + 4] = 41;
}

static void brk_huge(struct ngw *w)
{
    ngw_packet(w, 6, 0, (uint64_t)T0 * 1000000, "huge");
    memset(w->b + BRK + 4, 0xff, 4);
    w->b[BRK + 4] = 0xfc;
}

static void brk_cut(struct ngw *w)
{
    ngw_packet(w, 6, 0, (uint64_t)T0 * 1000000, "cut short");
    w->n -= 5;
}

static void brk_caplen(struct ngw *w)
{
    ngw_packet(w, 6, 0, (uint64_t)T0 * 1000000, "caplen");
    w->b[BRK + 20] = 9; /* 9 bytes captured in a body of 8 */
}

static void brk_header(struct ngw *w)
{
    static const unsigned char half[5] = {6, 0, 0, 0, 32};
    memcpy(w->b + w->n, half, 5);
    w->n += 5;
}

static void pcapng_broken_blocks(void **state)
{
    char e[512];
    int n;

    ng_broken("b1.pcapng", brk_trailer, &n, e, sizeof(e));
    assert_non_null(strstr(e, "/b1.pcapng: block of 40 bytes at offset 88 ends with length 48"));
    assert_int_equal(n, 1);
    ng_broken("b2.pcapng", brk_not4, &n, e, sizeof(e));
    assert_non_null(strstr(e, "/b2.pcapng: block of 41 bytes at offset 88 (not a multiple of 4)"));
    assert_int_equal(n, 1);
    ng_broken("b3.pcapng", brk_huge, &n, e, sizeof(e));
    assert_non_null(strstr(e, "/b3.pcapng: block of 4294967292 bytes at offset 88 (over 16 MiB)"));
    assert_int_equal(n, 1);
    ng_broken("b4.pcapng", brk_cut, &n, e, sizeof(e));
    assert_non_null(strstr(e, "/b4.pcapng: truncated at frame 2 (the block at offset 88 has 39 of "
                              "44 bytes)"));
    assert_int_equal(n, 1);
    ng_broken("b5.pcapng", brk_caplen, &n, e, sizeof(e));
    assert_non_null(strstr(e, "/b5.pcapng: frame 2: captured length 9 exceeds its block of 40 "
                              "bytes at offset 88"));
    assert_int_equal(n, 1);
    ng_broken("b6.pcapng", brk_header, &n, e, sizeof(e));
    assert_non_null(strstr(e, "/b6.pcapng: truncated at frame 2 (the block at offset 88 has 5 of "
                              "8 bytes)"));
    assert_int_equal(n, 1);
}

/* What fails the open: the section header or the blocks before the first interface. */
static void pcapng_broken_headers(void **state)
{
    char err[256];
    struct ngw w;
    char *paths[] = {(char *)path("h.pcapng")};

    w.n = 0;
    ngw_shb(&w, 0);
    write_file(paths[0], w.b, w.n);
    assert_null(tap_files_open(paths, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "/h.pcapng: no interface description block"));

    ngw_packet(&w, 6, 0, 0, "before");
    write_file(paths[0], w.b, w.n);
    assert_null(tap_files_open(paths, 1, err, sizeof(err)));
    assert_non_null(
        strstr(err, "/h.pcapng: a packet comes before any interface description block"));

    w.b[8] = 0x55; /* the byte-order magic */
    write_file(paths[0], w.b, w.n);
    assert_null(tap_files_open(paths, 1, err, sizeof(err)));
    assert_non_null(
        strstr(err, "/h.pcapng: section header at offset 0: byte-order magic 553c2b1a"));

    w.n = 0;
    ngw_shb(&w, 1);
    w.b[13] = 2; /* version 2.0 */
    write_file(paths[0], w.b, w.n);
    assert_null(tap_files_open(paths, 1, err, sizeof(err)));
    assert_non_null(
        strstr(err, "/h.pcapng: section header at offset 0: version 2.0 (1.x is read)"));

    write_file(paths[0], w.b, 10);
    assert_null(tap_files_open(paths, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "/h.pcapng: truncated at frame 1 (the block at offset 0 has 10 of "
                                "12 bytes)"));
}

static void truncated_file_ends_alone(void **state)
{
    char err[256];
    struct seen s;
    struct tap_frame fr;

    write_pcap(path("t.pcap"), 0, TS_A, 4);
    /* cut the last record in the middle of its data */
    assert_int_equal(truncate(path("t.pcap"), (off_t)file_size(path("t.pcap")) - 3), 0);
    write_pcap(path("u.pcap"), 1, TS_B, 4);
    char *paths[] = {(char *)path("t.pcap"), (char *)path("u.pcap")};
    struct tap_files *f = tap_files_open(paths, 2, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(read_all(f, &s), 1);
    assert_int_equal(s.n, 7); /* t's three whole frames and all of u */
    assert_string_equal(s.text[6], "F1 #4");
    const char *e = tap_files_error(f);
    assert_non_null(e);
    assert_non_null(strstr(e, "t.pcap: truncated at frame 4"));
    tap_files_close(f);

    /* cut in the middle of the last record's header: the same */
    write_pcap(path("h.pcap"), 0, TS_A, 2);
    assert_int_equal(truncate(path("h.pcap"), (off_t)file_size(path("h.pcap")) - 25), 0);
    char *one[] = {(char *)path("h.pcap")};
    f = tap_files_open(one, 1, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(tap_files_next(f, &fr), 1);
    assert_int_equal(tap_files_next(f, &fr), -1);
    assert_non_null(strstr(tap_files_error(f), "h.pcap: truncated at frame 2"));
    assert_int_equal(tap_files_next(f, &fr), 0);
    tap_files_close(f);
}

static void not_a_capture(void **state)
{
    char err[256];

    write_file(path("x.pcap"), "this is not a capture file at all\n", 34);
    char *paths[] = {(char *)path("x.pcap")};
    assert_null(tap_files_open(paths, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "x.pcap: not a pcap or pcapng file"));

    /* gzip'd text: not a capture either */
    gzip_copy(path("x.pcap"), path("x.pcap.gz"));
    char *gz[] = {(char *)path("x.pcap.gz")};
    assert_null(tap_files_open(gz, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "x.pcap.gz: not a pcap or pcapng file"));

    write_file(path("e.pcap"), "", 0);
    char *empty[] = {(char *)path("e.pcap")};
    assert_null(tap_files_open(empty, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "e.pcap: empty file"));

    char *missing[] = {(char *)path("nope.pcap")};
    assert_null(tap_files_open(missing, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "nope.pcap: No such file or directory"));

    /* one bad file among good ones fails the open, naming it */
    write_pcap(path("ok.pcap"), 0, TS_A, 1);
    char *mixed[] = {(char *)path("ok.pcap"), (char *)path("x.pcap")};
    assert_null(tap_files_open(mixed, 2, err, sizeof(err)));
    assert_non_null(strstr(err, "x.pcap: not a pcap"));
    char *dirs[] = {dir};
    assert_null(tap_files_open(dirs, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "is a directory"));
    assert_null(tap_files_open(paths, 0, err, sizeof(err)));
}

static void writer_round_trip(void **state)
{
    char err[256];
    struct seen s;
    unsigned char b[64];
    struct tap_writer *w = tap_writer_open(path("w.pcap"), DLT_EN10MB, 0, err, sizeof(err));

    assert_non_null(w);
    for (int i = 0; i < 3; i++) {
        struct tap_frame fr = {.data = b, .linktype = DLT_EN10MB};
        fr.caplen = fr.len = make_frame(b, 9, i + 1);
        fr.ts_us = 1700000000123456LL + i;
        assert_int_equal(tap_writer_write(w, &fr), 0);
    }
    assert_int_equal(tap_writer_close(w), 0);
    char *paths[] = {(char *)path("w.pcap")};
    struct tap_files *f = tap_files_open(paths, 1, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(tap_files_snaplen(f, 0), 262144);
    assert_int_equal(read_all(f, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[1], "F9 #2");
    assert_true(s.ts[2] == 1700000000123458LL);
    tap_files_close(f);

    assert_null(tap_writer_open("/nonexistent/dir/w.pcap", DLT_EN10MB, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/dir/w.pcap"));
    assert_int_equal(tap_writer_close(NULL), 0);
}

static void live_bad_interface(void **state)
{
    char err[512];

    assert_null(tap_live_open("nosuchif9", NULL, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "nosuchif9"));
    tap_live_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_files_merged_in_time_order),
        cmocka_unit_test(progress_moves),
        cmocka_unit_test(gzip_file_read),
        cmocka_unit_test(read_from_stdin),
        cmocka_unit_test(pcapng_file_read),
        cmocka_unit_test(pcapng_interfaces_of_several_link_types),
        cmocka_unit_test(pcapng_unknown_interface_dropped_as_linktype),
        cmocka_unit_test(pcapng_broken_blocks),
        cmocka_unit_test(pcapng_broken_headers),
        cmocka_unit_test(truncated_file_ends_alone),
        cmocka_unit_test(not_a_capture),
        cmocka_unit_test(writer_round_trip),
        cmocka_unit_test(live_bad_interface),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
