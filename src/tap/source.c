/*
 * source.c - capture files, the --failed-pcap writer and live capture (see source.h).
 *
 * Files: a plain file is handed over as a stdio FILE on its descriptor; a gzip'd file
 * (first bytes 1f 8b) and standard input go through zlib's gzread behind a fopencookie FILE
 * (zlib reads data that is not gzip as it is, which is how a pipe, whose first bytes cannot
 * be peeked, is read either way: the cookie reads the first 4 bytes ahead and hands them
 * out again). libpcap reads classic pcap from that FILE. pcapng is read here, block by
 * block (the ng_* functions), because libpcap 1.10 refuses a file whose interfaces have
 * different link types, which is what dumpcap writes for "-i eth0 -i any": each frame
 * carries its own interface's link type. Several files are merged by holding one pending
 * frame per file and handing out the earliest: the buffer of that frame (libpcap's, or the
 * file's own block buffer) stays valid because its file is not read again until the frame
 * has been handed out.
 *
 * The pcapng reader trusts no length: a block is 12 bytes to 16 MiB, a multiple of 4, and
 * ends with its own length; a packet's captured length lies inside its block; an option
 * lies inside its block. One buffer per file holds the current block (it grows to the
 * largest block seen, 16 MiB at most); nothing is allocated per frame.
 *
 * Rule: no error ends the process or is printed; a file that fails mid-way ends alone and
 * its message is kept for the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "source.h"

/* --- capture files ------------------------------------------------------------------ */

enum file_state { F_NEED, F_PENDING, F_ENDED };

/* One pcapng interface (IDB) of the current section. */
struct ng_if {
    int linktype; /* DLT_*, as libpcap maps the file's LINKTYPE_* */
    uint32_t snaplen;
    unsigned char tsresol; /* if_tsresol: 10^-n, or 2^-(n & 0x7f) when the high bit is set */
    int64_t tsoffset;      /* if_tsoffset: seconds added to every time */
};

/* stdio buffer of a file read: large reads, few system calls (the files are read once) */
#define FILE_BUF (1024 * 1024)

struct tap_file {
    char *name;
    pcap_t *p;     /* libpcap's handle (classic pcap), or NULL */
    FILE *fp;      /* the FILE read (pcap_close closes it; fclose for pcapng) */
    gzFile gz;     /* zlib's handle under fp for gzip'd files and stdin, else NULL */
    uint64_t size; /* bytes on disk; 0 when unknown (stdin) */
    uint64_t done; /* bytes consumed when the file ended */
    int linktype, snaplen;
    uint64_t index; /* frames read */
    enum file_state state;
    /* the pending frame (F_PENDING) */
    const unsigned char *data;
    size_t caplen, len;
    int flink; /* its link type: the file's, or (pcapng) its interface's */
    int64_t ts_us;
    /* pcapng (ng != 0) */
    int ng;
    int be;             /* the current section is big-endian */
    unsigned char *buf; /* the current block */
    size_t bufcap;      /* <= NG_MAX_BLOCK */
    struct ng_if *ifs;  /* the current section's interfaces */
    size_t nif, ifcap;  /* nif <= NG_MAX_IFS */
    uint64_t off;       /* offset of the next block in the (uncompressed) stream */
    int64_t last_ts;    /* the last frame's time, for simple packet blocks */
};

struct tap_files {
    struct tap_file *v;
    size_t n;
    size_t last; /* the file whose frame was handed out last, or n */
    char err[512];
};

/* What the fopencookie FILE reads: zlib's stream, whose first bytes were read ahead (to
   tell pcapng from pcap) and are handed out first. */
struct gz_cookie {
    gzFile gz;
    unsigned char pre[4];
    size_t npre, ipre;
};

static ssize_t gz_cookie_read(void *c, char *buf, size_t size)
{
    struct gz_cookie *k = c;

    if (k->ipre < k->npre) {
        size_t n = k->npre - k->ipre < size ? k->npre - k->ipre : size;
        memcpy(buf, k->pre + k->ipre, n);
        k->ipre += n;
        return (ssize_t)n;
    }
    if (size > INT_MAX)
        size = INT_MAX;
    int n = gzread(k->gz, buf, (unsigned)size);
    if (n < 0) {
        errno = EIO; /* the reason is gzerror's, which file_read quotes */
        return -1;
    }
    return n;
}

static int gz_cookie_close(void *c)
{
    struct gz_cookie *k = c;
    int rc = gzclose_r(k->gz) == Z_OK ? 0 : -1;

    free(k);
    return rc;
}

/* zlib's last error on gz ("incorrect data check"; NULL when none, or when the stream was
   only cut short, which libpcap reports as a truncation). */
static const char *gz_error(gzFile gz)
{
    int zerr = Z_OK;
    const char *why;

    if (gz == NULL || (why = gzerror(gz, &zerr)) == NULL || zerr == Z_OK || zerr == Z_BUF_ERROR)
        return NULL;
    /* gzdopen names the file "<fd:N>", and gzerror puts that name first */
    if (strncmp(why, "<fd:", 4) == 0 && strstr(why, ": ") != NULL)
        why = strstr(why, ": ") + 2;
    return why;
}

static const unsigned char NG_MAGIC[4] = {0x0a, 0x0d, 0x0d, 0x0a};

/* Opens the FILE that path is read from; t->ng says whether it holds pcapng (by its first
   4 bytes, after gzip). 0, or -1 with err. */
static int open_stream(struct tap_file *t, const char *path, char *err, size_t errlen)
{
    int fd, gz;
    struct stat st;
    unsigned char magic[4];
    struct gz_cookie *k;

    if (strcmp(path, "-") == 0) {
        if ((fd = dup(STDIN_FILENO)) < 0) {
            snprintf(err, errlen, "-: %s", strerror(errno));
            return -1;
        }
        gz = 1; /* zlib passes plain data through */
    } else {
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: %s", path,
                     S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
            close(fd);
            return -1;
        }
        if (S_ISREG(st.st_mode)) {
            if (st.st_size == 0) {
                snprintf(err, errlen, "%s: empty file", path);
                close(fd);
                return -1;
            }
            t->size = (uint64_t)st.st_size;
            ssize_t got = pread(fd, magic, 4, 0);
            gz = got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
            t->ng = got == 4 && memcmp(magic, NG_MAGIC, 4) == 0;
        } else {
            gz = 1; /* a FIFO or device: cannot peek, zlib decides */
        }
    }
    if (!gz) {
        if ((t->fp = fdopen(fd, "rb")) == NULL) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        /* stdio's default buffer is one block (4 KiB): a read() every few frames */
        setvbuf(t->fp, NULL, _IOFBF, FILE_BUF);
        return 0;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL || (t->gz = gzdopen(fd, "rb")) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(k);
        close(fd);
        return -1;
    }
    k->gz = t->gz;
    gzbuffer(t->gz, 128 * 1024);
    /* a short read or an error here shows again, to libpcap, on the reads that follow */
    int got = gzread(t->gz, k->pre, 4);
    k->npre = got > 0 ? (size_t)got : 0;
    t->ng = k->npre == 4 && memcmp(k->pre, NG_MAGIC, 4) == 0;
    cookie_io_functions_t io = {.read = gz_cookie_read, .close = gz_cookie_close};
    if ((t->fp = fopencookie(k, "rb", io)) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        gzclose_r(t->gz);
        free(k);
        t->gz = NULL;
        return -1;
    }
    setvbuf(t->fp, NULL, _IOFBF, FILE_BUF);
    return 0;
}

/* Bytes of t consumed so far. */
static uint64_t file_done(const struct tap_file *t)
{
    if (t->fp == NULL)
        return t->done;
    if (t->gz != NULL) {
        z_off_t o = gzoffset(t->gz);
        if (o < 0) /* a pipe cannot tell its offset: count what came out of zlib */
            o = gztell(t->gz);
        return o < 0 ? 0 : (uint64_t)o;
    }
    off_t o = ftello(t->fp);
    return o < 0 ? 0 : (uint64_t)o;
}

static void file_end(struct tap_file *t)
{
    if (t->fp != NULL) {
        t->done = t->size != 0 ? t->size : file_done(t);
        if (t->p != NULL)
            pcap_close(t->p); /* closes fp, and through it gz */
        else
            fclose(t->fp);
        t->p = NULL;
        t->fp = NULL;
        t->gz = NULL;
    }
    free(t->buf);
    free(t->ifs);
    t->buf = NULL;
    t->ifs = NULL;
    t->bufcap = t->nif = t->ifcap = 0;
    t->state = F_ENDED;
}

/* --- pcapng ----------------------------------------------------------------------- */

#define NG_MAX_BLOCK (16u * 1024 * 1024)
#define NG_MAX_IFS 65536
#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_OPB 2u /* obsolete packet block */
#define NG_SPB 3u
#define NG_EPB 6u

/* What ng_block read. */
enum { NG_ERR = -1, NG_EOF = 0, NG_FRAME, NG_IF, NG_OTHER };

static uint16_t ng16(const unsigned char *p, int be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t ng32(const unsigned char *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t ng64(const unsigned char *p, int be)
{
    return be ? (uint64_t)ng32(p, 1) << 32 | ng32(p + 4, 1)
              : (uint64_t)ng32(p + 4, 0) << 32 | ng32(p, 0);
}

/* The DLT_* value libpcap gives a file's LINKTYPE_* (they differ for a few, LINKTYPE_RAW
   101 being DLT_RAW above all), so that a frame says the same as from a classic pcap. */
static int ng_dlt(unsigned linktype)
{
    switch (linktype) {
    case 100:
        return DLT_ATM_RFC1483;
    case 101:
        return DLT_RAW;
    case 102:
        return DLT_SLIP_BSDOS;
    case 103:
        return DLT_PPP_BSDOS;
    default:
        return (int)linktype;
    }
}

/* A time of ticks in interface i's resolution, as microseconds since the epoch (saturated:
   a hostile time must not overflow). */
static int64_t ng_time(const struct ng_if *i, uint64_t ticks)
{
    unsigned e = i->tsresol & 0x7f;
    int64_t us, off;

    if (i->tsresol & 0x80) { /* 2^-e seconds */
        if (e > 44) {        /* keep frac * 10^6 under 2^64; the bits lost are < 1 us */
            ticks = e - 44 >= 64 ? 0 : ticks >> (e - 44);
            e = 44;
        }
        uint64_t sec = ticks >> e, frac = ticks & (((uint64_t)1 << e) - 1);
        us = sec > (uint64_t)INT64_MAX / 1000000
                 ? INT64_MAX
                 : (int64_t)(sec * 1000000 + ((frac * 1000000) >> e));
    } else if (e <= 6) { /* 10^-e seconds, e <= 6: multiply */
        uint64_t m = 1;
        while (e++ < 6)
            m *= 10;
        us = ticks > (uint64_t)INT64_MAX / m ? INT64_MAX : (int64_t)(ticks * m);
    } else { /* finer than a microsecond: divide (past 10^-25 every time is 0) */
        uint64_t d = 1;
        if (e - 6 > 19)
            ticks = 0;
        while (e-- > 6 && d <= UINT64_MAX / 10)
            d *= 10;
        us = (int64_t)((ticks / d) > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : ticks / d);
    }
    if (__builtin_mul_overflow(i->tsoffset, (int64_t)1000000, &off))
        return i->tsoffset < 0 ? INT64_MIN : INT64_MAX;
    if (__builtin_add_overflow(us, off, &us))
        return off < 0 ? INT64_MIN : INT64_MAX;
    return us;
}

/* Makes t->buf hold n bytes (n <= NG_MAX_BLOCK). 0, or -1 (out of memory). */
static int ng_reserve(struct tap_file *t, size_t n)
{
    if (n <= t->bufcap)
        return 0;
    size_t cap = t->bufcap != 0 ? t->bufcap : 4096;
    while (cap < n)
        cap *= 2;
    if (cap > NG_MAX_BLOCK)
        cap = NG_MAX_BLOCK;
    unsigned char *b = realloc(t->buf, cap);
    if (b == NULL)
        return -1;
    t->buf = b;
    t->bufcap = cap;
    return 0;
}

/* Reads n bytes into t->buf + at. NG_OTHER when all came; else NG_ERR with err saying
   why: a read error, or the end of the file inside the block at offset at. */
static int ng_read(struct tap_file *t, size_t at, size_t n, uint64_t blk, size_t want, char *err,
                   size_t errlen)
{
    size_t got = fread(t->buf + at, 1, n, t->fp);
    const char *zwhy;

    if (got == n)
        return NG_OTHER;
    if (ferror(t->fp)) {
        if ((zwhy = gz_error(t->gz)) != NULL)
            snprintf(err, errlen, "%s: frame %llu: gzip: %s", t->name,
                     (unsigned long long)t->index + 1, zwhy);
        else
            snprintf(err, errlen, "%s: frame %llu: %s", t->name, (unsigned long long)t->index + 1,
                     strerror(errno != 0 ? errno : EIO));
        return NG_ERR;
    }
    snprintf(err, errlen,
             "%s: truncated at frame %llu (the block at offset %llu has %zu of %zu bytes)", t->name,
             (unsigned long long)t->index + 1, (unsigned long long)blk, at + got, want);
    return NG_ERR;
}

/* The interface of a packet block, or NULL when the section has no such interface. */
static const struct ng_if *ng_iface(const struct tap_file *t, uint32_t id)
{
    return id < t->nif ? &t->ifs[id] : NULL;
}

/* Reads one block of t. NG_FRAME (a packet: the pending frame is set), NG_IF (an
   interface), NG_OTHER (a section header or a block skipped), NG_EOF (the file ends
   between blocks) or NG_ERR with err. */
static int ng_block(struct tap_file *t, char *err, size_t errlen)
{
    uint64_t at = t->off;
    unsigned char *b;
    uint32_t type, total;
    size_t head = 8;
    int be = t->be;

    if (ng_reserve(t, 12) != 0) {
        snprintf(err, errlen, "%s: out of memory", t->name);
        return NG_ERR;
    }
    b = t->buf;
    size_t got = fread(b, 1, 8, t->fp);
    if (got == 0 && !ferror(t->fp))
        return NG_EOF;
    if (got < 8) {
        if (ferror(t->fp))
            return ng_read(t, 0, 8, at, 8, err, errlen);
        snprintf(err, errlen,
                 "%s: truncated at frame %llu (the block at offset %llu has %zu of 8 bytes)",
                 t->name, (unsigned long long)t->index + 1, (unsigned long long)at, got);
        return NG_ERR;
    }
    if (memcmp(b, NG_MAGIC, 4) == 0) { /* a section: its byte-order magic says how to read it */
        if (ng_read(t, 8, 4, at, 12, err, errlen) != NG_OTHER)
            return NG_ERR;
        head = 12;
        if (ng32(b + 8, 1) == 0x1A2B3C4Du)
            be = 1;
        else if (ng32(b + 8, 0) == 0x1A2B3C4Du)
            be = 0;
        else {
            snprintf(err, errlen,
                     "%s: section header at offset %llu: byte-order magic %02x%02x%02x%02x",
                     t->name, (unsigned long long)at, b[8], b[9], b[10], b[11]);
            return NG_ERR;
        }
    }
    type = ng32(b, be);
    total = ng32(b + 4, be);
    if (total % 4 != 0 || total < 12 || total > NG_MAX_BLOCK) {
        snprintf(err, errlen, "%s: block of %lu bytes at offset %llu (%s)", t->name,
                 (unsigned long)total, (unsigned long long)at,
                 total % 4 != 0 ? "not a multiple of 4"
                 : total < 12   ? "under 12"
                                : "over 16 MiB");
        return NG_ERR;
    }
    if (ng_reserve(t, total) != 0) {
        snprintf(err, errlen, "%s: out of memory", t->name);
        return NG_ERR;
    }
    b = t->buf;
    if (total > head && ng_read(t, head, total - head, at, total, err, errlen) != NG_OTHER)
        return NG_ERR;
    t->off += total;
    if (ng32(b + total - 4, be) != total) {
        snprintf(err, errlen, "%s: block of %lu bytes at offset %llu ends with length %lu", t->name,
                 (unsigned long)total, (unsigned long long)at,
                 (unsigned long)ng32(b + total - 4, be));
        return NG_ERR;
    }
    /* the fixed part of each block read here: SHB 16, IDB 8, EPB and OPB 20, SPB 4 */
    size_t body = total - 12, fixed = type == NG_SHB                     ? 16
                                      : type == NG_IDB                   ? 8
                                      : type == NG_EPB || type == NG_OPB ? 20
                                      : type == NG_SPB                   ? 4
                                                                         : 0;
    if (body < fixed) {
        snprintf(err, errlen, "%s: block of %lu bytes at offset %llu: too short for its type %lu",
                 t->name, (unsigned long)total, (unsigned long long)at, (unsigned long)type);
        return NG_ERR;
    }
    const unsigned char *p = b + 8;
    if (type == NG_SHB) {
        unsigned major = ng16(p + 4, be), minor = ng16(p + 6, be);
        if (major != 1) {
            snprintf(err, errlen, "%s: section header at offset %llu: version %u.%u (1.x is read)",
                     t->name, (unsigned long long)at, major, minor);
            return NG_ERR;
        }
        t->be = be;
        t->nif = 0; /* a section's interfaces are its own */
        return NG_OTHER;
    }
    if (type == NG_IDB) {
        if (t->nif == NG_MAX_IFS) {
            snprintf(err, errlen, "%s: interface at offset %llu: over %d in one section", t->name,
                     (unsigned long long)at, NG_MAX_IFS);
            return NG_ERR;
        }
        if (t->nif == t->ifcap) {
            size_t cap = t->ifcap != 0 ? t->ifcap * 2 : 4;
            struct ng_if *v = realloc(t->ifs, cap * sizeof(*v));
            if (v == NULL) {
                snprintf(err, errlen, "%s: out of memory", t->name);
                return NG_ERR;
            }
            t->ifs = v;
            t->ifcap = cap;
        }
        struct ng_if *i = &t->ifs[t->nif++];
        i->linktype = ng_dlt(ng16(p, be));
        i->snaplen = ng32(p + 4, be);
        i->tsresol = 6;
        i->tsoffset = 0;
        /* options: code, length, value padded to 4 bytes; one that overruns ends them */
        for (size_t o = 8; body - o >= 4;) {
            unsigned code = ng16(p + o, be), len = ng16(p + o + 2, be);
            if (code == 0 || len > body - o - 4)
                break;
            if (code == 9 && len >= 1)
                i->tsresol = p[o + 4];
            else if (code == 14 && len >= 8)
                i->tsoffset = (int64_t)ng64(p + o + 4, be);
            o += 4 + (((size_t)len + 3) & ~(size_t)3);
            if (o > body)
                break;
        }
        return NG_IF;
    }
    if (type != NG_EPB && type != NG_OPB && type != NG_SPB)
        return NG_OTHER;

    const struct ng_if *i;
    uint32_t caplen, len;
    t->index++;
    if (type == NG_SPB) { /* interface 0, no time, as much as the block holds */
        i = ng_iface(t, 0);
        len = ng32(p, be);
        caplen = len < body - 4 ? len : (uint32_t)(body - 4);
        if (i != NULL && i->snaplen != 0 && caplen > i->snaplen)
            caplen = i->snaplen;
        t->data = p + 4;
        t->ts_us = t->last_ts;
    } else {
        i = ng_iface(t, type == NG_EPB ? ng32(p, be) : ng16(p, be));
        caplen = ng32(p + 12, be);
        len = ng32(p + 16, be);
        if (caplen > body - 20) {
            snprintf(
                err, errlen,
                "%s: frame %llu: captured length %lu exceeds its block of %lu bytes at offset %llu",
                t->name, (unsigned long long)t->index, (unsigned long)caplen, (unsigned long)total,
                (unsigned long long)at);
            return NG_ERR;
        }
        t->data = p + 20;
        /* a frame of no known interface keeps the last time, so it moves no clock */
        t->ts_us =
            i != NULL ? ng_time(i, (uint64_t)ng32(p + 4, be) << 32 | ng32(p + 8, be)) : t->last_ts;
    }
    t->caplen = caplen;
    t->len = len;
    /* no such interface: -1, a link type no decoder reads (dropped as "linktype") */
    t->flink = i != NULL ? i->linktype : -1;
    t->last_ts = t->ts_us;
    return NG_FRAME;
}

/* Reads t's blocks up to its first interface, which gives the file's link type and
   snapshot length. 0, or -1 with err. */
static int ng_open(struct tap_file *t, char *err, size_t errlen)
{
    for (;;) {
        switch (ng_block(t, err, errlen)) {
        case NG_IF:
            t->linktype = t->ifs[0].linktype;
            t->snaplen = t->ifs[0].snaplen > INT_MAX ? INT_MAX : (int)t->ifs[0].snaplen;
            t->state = F_NEED;
            return 0;
        case NG_OTHER:
            continue;
        case NG_FRAME:
            snprintf(err, errlen, "%s: a packet comes before any interface description block",
                     t->name);
            return -1;
        case NG_EOF:
            snprintf(err, errlen, "%s: no interface description block", t->name);
            return -1;
        default:
            return -1;
        }
    }
}

static int file_open(struct tap_file *t, const char *path, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";

    if ((t->name = strdup(path)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (open_stream(t, path, err, errlen) != 0)
        return -1;
    if (t->ng)
        return ng_open(t, err, errlen);
    t->p = pcap_fopen_offline_with_tstamp_precision(t->fp, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (t->p == NULL) {
        const char *zwhy = gz_error(t->gz);
        if (zwhy != NULL)
            snprintf(err, errlen, "%s: gzip: %s", path, zwhy);
        else if (strstr(perr, "unknown file format") != NULL)
            snprintf(err, errlen, "%s: not a pcap or pcapng file", path);
        else if (strstr(perr, "file header") != NULL) /* shorter than a file header */
            snprintf(err, errlen, "%s: not a pcap or pcapng file (%s)", path, perr);
        else
            snprintf(err, errlen, "%s: %s", path, perr);
        /* libpcap leaves the FILE to us when it fails */
        fclose(t->fp);
        t->fp = NULL;
        t->gz = NULL;
        return -1;
    }
    t->linktype = pcap_datalink(t->p);
    t->snaplen = pcap_snapshot(t->p);
    t->state = F_NEED;
    return 0;
}

struct tap_files *tap_files_open(char *const *paths, size_t n, char *err, size_t errlen)
{
    struct tap_files *f;
    size_t stdins = 0;

    if (n == 0 || n > TAP_FILES_MAX) {
        snprintf(err, errlen, "%zu capture files: between 1 and %d can be read together", n,
                 TAP_FILES_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        stdins += strcmp(paths[i], "-") == 0;
    if (stdins > 1) {
        snprintf(err, errlen, "-: standard input can be read once only");
        return NULL;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL || (f->v = calloc(n, sizeof(*f->v))) == NULL) {
        free(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->n = n;
    f->last = n;
    for (size_t i = 0; i < n; i++) {
        f->v[i].state = F_ENDED;
        if (file_open(&f->v[i], paths[i], err, errlen) != 0) {
            tap_files_close(f);
            return NULL;
        }
    }
    return f;
}

/* Reads t's next frame. 0 (pending or ended at EOF), or -1 with f->err (ended). */
static int file_read(struct tap_files *f, struct tap_file *t)
{
    struct pcap_pkthdr *h;
    const u_char *data;

    if (t->ng) {
        for (;;) {
            switch (ng_block(t, f->err, sizeof(f->err))) {
            case NG_FRAME:
                t->state = F_PENDING;
                return 0;
            case NG_EOF:
                file_end(t);
                return 0;
            case NG_ERR:
                file_end(t);
                return -1;
            default:
                continue; /* every block is at least 12 bytes: the file ends */
            }
        }
    }
    int rc = pcap_next_ex(t->p, &h, &data);
    if (rc == 1) {
        t->index++;
        t->data = data;
        t->caplen = h->caplen;
        t->len = h->len;
        t->flink = t->linktype;
        t->ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
        t->state = F_PENDING;
        return 0;
    }
    if (rc == PCAP_ERROR_BREAK) { /* end of file */
        file_end(t);
        return 0;
    }
    const char *why = pcap_geterr(t->p);
    const char *zwhy = gz_error(t->gz);
    if (zwhy != NULL)
        snprintf(f->err, sizeof(f->err), "%s: frame %llu: gzip: %s", t->name,
                 (unsigned long long)t->index + 1, zwhy);
    else if (strstr(why, "truncated") != NULL)
        snprintf(f->err, sizeof(f->err), "%s: truncated at frame %llu (%s)", t->name,
                 (unsigned long long)t->index + 1, why);
    else
        snprintf(f->err, sizeof(f->err), "%s: frame %llu: %s", t->name,
                 (unsigned long long)t->index + 1, why);
    file_end(t);
    return -1;
}

int tap_files_next(struct tap_files *f, struct tap_frame *out)
{
    size_t best = f->n;

    if (f->last < f->n && f->v[f->last].state == F_PENDING)
        f->v[f->last].state = F_NEED;
    f->last = f->n;
    for (size_t i = 0; i < f->n; i++) {
        struct tap_file *t = &f->v[i];
        if (t->state == F_NEED && file_read(f, t) != 0)
            return -1; /* the others are read on the next call */
        if (t->state != F_PENDING)
            continue;
        if (best == f->n || t->ts_us < f->v[best].ts_us)
            best = i;
    }
    if (best == f->n)
        return 0;
    struct tap_file *t = &f->v[best];
    f->last = best;
    out->data = t->data;
    out->caplen = t->caplen;
    out->len = t->len;
    out->linktype = t->flink;
    out->ts_us = t->ts_us;
    out->source = (unsigned)best;
    out->index = t->index;
    return 1;
}

const char *tap_files_error(const struct tap_files *f)
{
    return f->err[0] != '\0' ? f->err : NULL;
}

int tap_files_linktype(const struct tap_files *f, unsigned source)
{
    return source < f->n ? f->v[source].linktype : -1;
}

int tap_files_snaplen(const struct tap_files *f, unsigned source)
{
    return source < f->n ? f->v[source].snaplen : -1;
}

void tap_files_progress(const struct tap_files *f, uint64_t *done, uint64_t *total)
{
    int unknown = 0;

    *done = 0;
    *total = 0;
    for (size_t i = 0; i < f->n; i++) {
        *done += file_done(&f->v[i]);
        *total += f->v[i].size;
        unknown |= f->v[i].size == 0;
    }
    if (unknown)
        *total = 0;
}

void tap_files_close(struct tap_files *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        struct tap_file *t = &f->v[i];
        if (t->p != NULL)
            pcap_close(t->p);
        else if (t->fp != NULL)
            fclose(t->fp);
        free(t->buf);
        free(t->ifs);
        free(t->name);
    }
    free(f->v);
    free(f);
}

/* --- the --failed-pcap writer ------------------------------------------------------- */

struct tap_writer {
    pcap_t *dead;
    pcap_dumper_t *d;
    int snaplen;
    int failed; /* errno of the first failed write, or 0 */
};

struct tap_writer *tap_writer_open(const char *path, int linktype, int snaplen, char *err,
                                   size_t errlen)
{
    struct tap_writer *w;

    if (snaplen <= 0)
        snaplen = 262144;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    w->snaplen = snaplen;
    w->dead = pcap_open_dead_with_tstamp_precision(linktype, snaplen, PCAP_TSTAMP_PRECISION_MICRO);
    if (w->dead == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(w);
        return NULL;
    }
    errno = 0;
    if ((w->d = pcap_dump_open(w->dead, path)) == NULL) {
        /* libpcap's text is "PATH: reason" already */
        snprintf(err, errlen, "%s", pcap_geterr(w->dead));
        pcap_close(w->dead);
        free(w);
        return NULL;
    }
    return w;
}

int tap_writer_write(struct tap_writer *w, const struct tap_frame *fr)
{
    struct pcap_pkthdr h;
    int64_t sec = fr->ts_us / 1000000, usec = fr->ts_us % 1000000;

    if (usec < 0) {
        usec += 1000000;
        sec--;
    }
    h.ts.tv_sec = (time_t)sec;
    h.ts.tv_usec = (suseconds_t)usec;
    h.caplen = (bpf_u_int32)(fr->caplen > (size_t)w->snaplen ? (size_t)w->snaplen : fr->caplen);
    h.len = (bpf_u_int32)(fr->len > UINT32_MAX ? UINT32_MAX : fr->len);
    if (h.len < h.caplen)
        h.len = h.caplen;
    pcap_dump((u_char *)w->d, &h, fr->data);
    if (ferror(pcap_dump_file(w->d))) {
        if (w->failed == 0)
            w->failed = errno != 0 ? errno : EIO;
        errno = w->failed;
        return -1;
    }
    return 0;
}

int tap_writer_close(struct tap_writer *w)
{
    int failed;

    if (w == NULL)
        return 0;
    failed = w->failed;
    if (pcap_dump_flush(w->d) != 0 || ferror(pcap_dump_file(w->d)))
        failed = failed != 0 ? failed : (errno != 0 ? errno : EIO);
    pcap_dump_close(w->d);
    pcap_close(w->dead);
    free(w);
    if (failed != 0) {
        errno = failed;
        return -1;
    }
    return 0;
}

/* --- live capture ------------------------------------------------------------------- */

struct tap_live {
    pcap_t *p;
    char *name;
    unsigned source;
    int linktype;
    uint64_t index;
    /* pcap_stats' 32-bit counters, as last read, and their 64-bit sums */
    unsigned last_recv, last_drop, last_ifdrop;
    uint64_t recv, drop, ifdrop;
    void (*fn)(void *arg, const struct tap_frame *f);
    void *arg;
    char err[PCAP_ERRBUF_SIZE + 128];
};

void tap_live_opts_init(struct tap_live_opts *o)
{
    o->snaplen = 65535;
    o->buffer_bytes = 32 * 1024 * 1024;
    o->promisc = 1;
    o->bpf = NULL;
}

/* The err text for a failed pcap_activate. */
static void activate_error(const char *ifname, pcap_t *p, int status, char *err, size_t errlen)
{
    const char *why = pcap_geterr(p);
    const char *hint = "";

    if (why == NULL || why[0] == '\0')
        why = pcap_statustostr(status);
    if (status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED)
        hint = " (needs CAP_NET_RAW: run as root)";
    if (status == PCAP_ERROR_NO_SUCH_DEVICE && strstr(why, "No such device") == NULL)
        snprintf(err, errlen, "%s: No such device exists (%s)", ifname, why);
    else if (strncmp(why, ifname, strlen(ifname)) == 0 && why[strlen(ifname)] == ':')
        snprintf(err, errlen, "%s%s", why, hint); /* libpcap named it already */
    else
        snprintf(err, errlen, "%s: %s%s", ifname, why, hint);
}

struct tap_live *tap_live_open(const char *ifname, const struct tap_live_opts *o, unsigned source,
                               char *err, size_t errlen)
{
    struct tap_live_opts def;
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct tap_live *l;
    struct bpf_program prog;
    int status;

    if (o == NULL) {
        tap_live_opts_init(&def);
        o = &def;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL || (l->name = strdup(ifname)) == NULL) {
        free(l);
        snprintf(err, errlen, "%s: out of memory", ifname);
        return NULL;
    }
    l->source = source;
    if ((l->p = pcap_create(ifname, perr)) == NULL) {
        snprintf(err, errlen, "%s: %s", ifname, perr);
        goto fail;
    }
    pcap_set_snaplen(l->p, o->snaplen > 0 ? o->snaplen : 65535);
    pcap_set_promisc(l->p, o->promisc ? 1 : 0);
    pcap_set_buffer_size(l->p, o->buffer_bytes > 0 ? o->buffer_bytes : 32 * 1024 * 1024);
    pcap_set_immediate_mode(l->p, 1);
    pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_MICRO);
    if ((status = pcap_activate(l->p)) < 0) {
        activate_error(ifname, l->p, status, err, errlen);
        goto fail;
    }
    /* status > 0 is a warning (promiscuous mode not supported...): the capture runs */
    if (pcap_setnonblock(l->p, 1, perr) != 0) {
        snprintf(err, errlen, "%s: %s", ifname, perr);
        goto fail;
    }
    l->linktype = pcap_datalink(l->p);
    const char *bpf = o->bpf;
    if (bpf == NULL && l->linktype == DLT_EN10MB)
        bpf = TAP_LIVE_DEFAULT_BPF " or (vlan and (" TAP_LIVE_DEFAULT_BPF "))";
    else if (bpf == NULL)
        bpf = TAP_LIVE_DEFAULT_BPF;
    if (pcap_compile(l->p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s: filter \"%s\": %s", ifname, bpf, pcap_geterr(l->p));
        goto fail;
    }
    status = pcap_setfilter(l->p, &prog);
    pcap_freecode(&prog);
    if (status != 0) {
        snprintf(err, errlen, "%s: filter \"%s\": %s", ifname, bpf, pcap_geterr(l->p));
        goto fail;
    }
    return l;
fail:
    tap_live_close(l);
    return NULL;
}

int tap_live_fd(const struct tap_live *l)
{
    return pcap_get_selectable_fd(l->p);
}

int tap_live_linktype(const struct tap_live *l)
{
    return l->linktype;
}

static void live_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct tap_live *l = (struct tap_live *)user;
    struct tap_frame fr = {
        .data = bytes,
        .caplen = h->caplen,
        .len = h->len,
        .linktype = l->linktype,
        .ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec,
        .source = l->source,
        .index = ++l->index,
    };
    l->fn(l->arg, &fr);
}

int tap_live_dispatch(struct tap_live *l, int max, void (*fn)(void *arg, const struct tap_frame *f),
                      void *arg)
{
    l->fn = fn;
    l->arg = arg;
    int n = pcap_dispatch(l->p, max > 0 ? max : -1, live_cb, (u_char *)l);
    if (n == PCAP_ERROR_BREAK)
        return 0;
    if (n < 0) {
        snprintf(l->err, sizeof(l->err), "%s: %s", l->name, pcap_geterr(l->p));
        return -1;
    }
    return n;
}

int tap_live_stats(struct tap_live *l, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
    struct pcap_stat ps;

    if (pcap_stats(l->p, &ps) != 0) {
        snprintf(l->err, sizeof(l->err), "%s: %s", l->name, pcap_geterr(l->p));
        return -1;
    }
    /* differences modulo 2^32 survive one wrap of libpcap's counters between two calls */
    l->recv += (unsigned)(ps.ps_recv - l->last_recv);
    l->drop += (unsigned)(ps.ps_drop - l->last_drop);
    l->ifdrop += (unsigned)(ps.ps_ifdrop - l->last_ifdrop);
    l->last_recv = ps.ps_recv;
    l->last_drop = ps.ps_drop;
    l->last_ifdrop = ps.ps_ifdrop;
    *recv = l->recv;
    *drop = l->drop;
    *ifdrop = l->ifdrop;
    return 0;
}

const char *tap_live_error(const struct tap_live *l)
{
    return l->err;
}

void tap_live_close(struct tap_live *l)
{
    if (l == NULL)
        return;
    if (l->p != NULL)
        pcap_close(l->p);
    free(l->name);
    free(l);
}
