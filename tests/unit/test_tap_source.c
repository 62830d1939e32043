/*
 * test_tap_source.c - capture files (src/tap/source.c): pcap files written here with
 * libpcap's dumper, two with interleaved timestamps merged in time order, a gzip'd copy
 * (zlib gzopen) read alone and from stdin, a pcapng file written by hand (SHB, IDB, EPB
 * blocks), a file whose last record is cut (the file ends with an error, the others go
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
        cmocka_unit_test(truncated_file_ends_alone),
        cmocka_unit_test(not_a_capture),
        cmocka_unit_test(writer_round_trip),
        cmocka_unit_test(live_bad_interface),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
