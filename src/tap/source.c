/*
 * source.c - capture files, the --failed-pcap writer and live capture (see source.h).
 *
 * Files: libpcap reads pcap and pcapng from a FILE. A plain file is handed over as a
 * stdio FILE on its descriptor; a gzip'd file (first bytes 1f 8b) and standard input go
 * through zlib's gzread behind a fopencookie FILE (zlib reads data that is not gzip as it
 * is, which is how a pipe, whose first bytes cannot be peeked and put back, is read either
 * way). Several files are merged by holding one pending frame per file and handing out
 * the earliest: libpcap's buffer for that frame stays valid because its file is not read
 * again until the frame has been handed out.
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

struct tap_file {
    char *name;
    pcap_t *p;
    FILE *fp;      /* the FILE libpcap reads (pcap_close closes it) */
    gzFile gz;     /* zlib's handle under fp for gzip'd files and stdin, else NULL */
    uint64_t size; /* bytes on disk; 0 when unknown (stdin) */
    uint64_t done; /* bytes consumed when the file ended */
    int linktype, snaplen;
    uint64_t index; /* frames read */
    enum file_state state;
    struct pcap_pkthdr *hdr; /* the pending frame (F_PENDING) */
    const u_char *data;
};

struct tap_files {
    struct tap_file *v;
    size_t n;
    size_t last; /* the file whose frame was handed out last, or n */
    char err[512];
};

static ssize_t gz_cookie_read(void *c, char *buf, size_t size)
{
    if (size > INT_MAX)
        size = INT_MAX;
    int n = gzread((gzFile)c, buf, (unsigned)size);
    if (n < 0) {
        errno = EIO; /* the reason is gzerror's, which file_read quotes */
        return -1;
    }
    return n;
}

static int gz_cookie_close(void *c)
{
    return gzclose_r((gzFile)c) == Z_OK ? 0 : -1;
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

/* Opens the FILE that libpcap will read for path. 0, or -1 with err. */
static int open_stream(struct tap_file *t, const char *path, char *err, size_t errlen)
{
    int fd, gz;
    struct stat st;
    unsigned char magic[2];

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
            gz = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
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
        return 0;
    }
    if ((t->gz = gzdopen(fd, "rb")) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    gzbuffer(t->gz, 128 * 1024);
    cookie_io_functions_t io = {.read = gz_cookie_read, .close = gz_cookie_close};
    if ((t->fp = fopencookie(t->gz, "rb", io)) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        gzclose_r(t->gz);
        t->gz = NULL;
        return -1;
    }
    return 0;
}

/* Bytes of t consumed so far. */
static uint64_t file_done(const struct tap_file *t)
{
    if (t->p == NULL)
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
    if (t->p != NULL) {
        t->done = t->size != 0 ? t->size : file_done(t);
        pcap_close(t->p); /* closes fp, and through it gz */
        t->p = NULL;
        t->fp = NULL;
        t->gz = NULL;
    }
    t->state = F_ENDED;
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
    int rc = pcap_next_ex(t->p, &t->hdr, &t->data);
    if (rc == 1) {
        t->index++;
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
        if (best == f->n)
            best = i;
        else {
            const struct timeval *a = &t->hdr->ts, *b = &f->v[best].hdr->ts;
            if (a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_usec < b->tv_usec))
                best = i;
        }
    }
    if (best == f->n)
        return 0;
    struct tap_file *t = &f->v[best];
    f->last = best;
    out->data = t->data;
    out->caplen = t->hdr->caplen;
    out->len = t->hdr->len;
    out->linktype = t->linktype;
    out->ts_us = (int64_t)t->hdr->ts.tv_sec * 1000000 + t->hdr->ts.tv_usec;
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
