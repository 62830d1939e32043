/*
 * secsipid.c - the libsecsipid C API (libsecsipid.h) on libstirwire: a drop-in for the
 * Go library that Kamailio's secsipid module and other C programs link, without a Go
 * runtime in the host process.
 *
 * The checks follow the Go library's algorithm step by step, so that a caller sees the
 * same return code for the same input (the Go error codes are the RET_ values below);
 * the work itself is libstirwire's: base64url, ES256 with prepared OpenSSL contexts,
 * key and certificate parsing, and the verifier's fetcher and certificate cache for
 * URLs. Where the Go library crashes, aborts or is plainly wrong, this file returns an
 * error code or does the right thing instead; README.md lists each such difference.
 *
 * The Go API keeps its options in process-wide variables, so this file does too: one
 * mutex guards the options, the verifier built from them, the trust store built from
 * the CA/CRL files, and the parsed-key cache. Rules a newcomer must not break:
 *  - never exit, abort, assert or print: every failure is a return code;
 *  - never block on the network or on a file while holding g_lock;
 *  - objects shared between threads (keys, the verifier, the store) are immutable once
 *    published and reference-counted, so a thread may keep using one after an option
 *    change has replaced it;
 *  - after fork() the child drops (leaks) the parent's verifier, whose fetch thread
 *    does not exist in the child, and builds a new one on first use.
 */
#define _GNU_SOURCE /* memmem */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sw_int.h"
#include "verifier.h"
#include "libsecsipid.h"

#define EXPORT __attribute__((visibility("default")))

/* The Go library's return codes (secsipid.go), the only numbers callers see. */
enum {
    RET_OK = 0,
    RET_ERR = -1,
    RET_CERT_INVALID = -101,
    RET_CERT_FORMAT = -102,
    RET_CERT_EXPIRED = -103,
    RET_CERT_BEFORE = -104,
    RET_CERT_PROCESSING = -105,
    RET_CERT_NO_CAFILE = -106,
    RET_CERT_READ_CAFILE = -107,
    RET_CERT_NO_CAINTER = -108,
    RET_CERT_READ_CAINTER = -109,
    RET_CERT_NO_CRLFILE = -110,
    RET_CERT_READ_CRLFILE = -111,
    RET_CERT_REVOKED = -112,
    RET_CERT_INVALID_EC = -114,
    RET_PRVKEY_INVALID = -151,
    RET_PRVKEY_FORMAT = -152,
    RET_HDR_PARSE = -201,
    RET_HDR_ALG = -202,
    RET_HDR_PPT = -203,
    RET_HDR_TYP = -204,
    RET_HDR_X5U = -205,
    RET_PAYLOAD_PARSE = -231,
    RET_PAYLOAD_IAT = -232,
    RET_SIG_INVALID = -251,
    RET_SIG_SIZE = -253,
    RET_SIP_PARSE = -301,
    RET_SIP_ALG = -302,
    RET_SIP_PPT = -303,
    RET_SIP_INFO = -303,
    RET_HTTP_URL = -401,
    RET_HTTP_GET = -402,
    RET_HTTP_STATUS = -403,
    RET_HTTP_BODY = -404,
    RET_FILE_READ = -451,
};

/* Largest key, certificate or identity this file reads (a key file, a chain). */
#define DATA_MAX (256 * 1024)
/* Largest body SecSIPIDGetURLContent returns. */
#define URL_CONTENT_MAX (1024 * 1024)
/* Parsed keys kept (by SHA-256 of their text). */
#define KEYCACHE_MAX 32

/* --- options ----------------------------------------------------------------------------- */

struct opts {
    char *cache_dir, *ca_file, *ca_inter, *crl_file, *x5u;
    int cache_expire, cert_verify;
    /* stirwire's additions: the fetch policy (compat defaults: as open as the Go library) */
    int fetch_http, fetch_private, fetch_any_port, fetch_query;
    int future_skew, negative_ttl, fetch_max_bytes;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct opts g_opt = {
    .cache_expire = 3600,
    .fetch_http = 1,
    .fetch_private = 1,
    .fetch_any_port = 1,
    .fetch_query = 1,
    .future_skew = 60,
    .negative_ttl = 5,
    .fetch_max_bytes = 32768,
};
static const char g_x5u_default[] = "https://127.0.0.1/cert.pem";
/* Bumped by every option change; what was built from older options is rebuilt. */
static unsigned long g_gen = 1;

/* The number options, by name, for OptSetN/OptGetN/OptSetV. */
static const struct {
    const char *name;
    size_t off;
    int min;
} num_opts[] = {
    {"CacheExpires", offsetof(struct opts, cache_expire), INT_MIN},
    {"CertVerify", offsetof(struct opts, cert_verify), INT_MIN},
    {"FetchHTTP", offsetof(struct opts, fetch_http), 0},
    {"FetchPrivate", offsetof(struct opts, fetch_private), 0},
    {"FetchAnyPort", offsetof(struct opts, fetch_any_port), 0},
    {"FetchQuery", offsetof(struct opts, fetch_query), 0},
    {"FutureSkew", offsetof(struct opts, future_skew), -1},
    {"NegativeTTL", offsetof(struct opts, negative_ttl), 0},
    {"FetchMaxBytes", offsetof(struct opts, fetch_max_bytes), 1024},
};

/* The string options, by name. */
static char **str_opt(const char *name)
{
    if (strcmp(name, "CacheDirPath") == 0)
        return &g_opt.cache_dir;
    if (strcmp(name, "CertCAFile") == 0)
        return &g_opt.ca_file;
    if (strcmp(name, "CertCAInter") == 0)
        return &g_opt.ca_inter;
    if (strcmp(name, "CertCRLFile") == 0)
        return &g_opt.crl_file;
    if (strcmp(name, "x5u") == 0)
        return &g_opt.x5u;
    return NULL;
}

/* --- per-thread context, fork ------------------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_tkey;
static int g_tkey_ok;

static void tctx_free(void *p)
{
    sw_ctx_free(p);
}

struct vhold;
static struct vhold *g_vh;
static X509_STORE *g_store;
static int g_store_ret;
static unsigned long g_store_gen;

static void atfork_prepare(void)
{
    pthread_mutex_lock(&g_lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&g_lock);
}

static void atfork_child(void)
{
    /*
     * The verifier's fetch thread was not copied into this process, so the verifier
     * cannot be used or freed here: leave it (a few kilobytes) and build a new one.
     */
    g_vh = NULL;
    g_gen++;
    pthread_mutex_unlock(&g_lock);
}

static void init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_tkey_ok = pthread_key_create(&g_tkey, tctx_free) == 0;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* An unloaded library must not leave a key destructor pointing into it. */
__attribute__((destructor)) static void fini(void)
{
    if (g_tkey_ok)
        pthread_key_delete(g_tkey);
    g_tkey_ok = 0;
}

static sw_ctx *tctx(void)
{
    sw_ctx *c;

    pthread_once(&g_once, init_once);
    if (!g_tkey_ok)
        return NULL;
    if ((c = pthread_getspecific(g_tkey)) == NULL) {
        if ((c = sw_ctx_new()) == NULL)
            return NULL;
        if (pthread_setspecific(g_tkey, c) != 0) {
            sw_ctx_free(c);
            return NULL;
        }
    }
    return c;
}

/* --- small helpers ------------------------------------------------------------------------ */

static const char *nz(const char *s)
{
    return s != NULL ? s : "";
}

static char *xstrdup(const char *s)
{
    return strdup(nz(s));
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Go's strings.TrimSpace for ASCII: the trimmed range of s[0..n). */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/*
 * Reads a whole file (at most DATA_MAX bytes) into a NUL-terminated buffer. A regular file
 * gets a buffer of its size (plus one byte, to see it grow): key files are read on every
 * call that names one, and a DATA_MAX buffer each time would be an mmap and munmap.
 */
static char *read_file(const char *path, size_t *len)
{
    struct stat st;
    size_t cap, n = 0;
    ssize_t r = 0;
    char *buf;
    int fd;

    if (path == NULL || *path == '\0' || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < DATA_MAX)
        cap = (size_t)st.st_size + 1;
    else
        cap = DATA_MAX + 1;
    if ((buf = malloc(cap + 1)) == NULL) {
        close(fd);
        return NULL;
    }
    while (n < cap && ((r = read(fd, buf + n, cap - n)) > 0 || (r < 0 && errno == EINTR)))
        n += r > 0 ? (size_t)r : 0;
    close(fd);
    if (r < 0 || n > DATA_MAX) {
        swi_wipe_free(buf, n);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* base64url decode into a fresh NUL-terminated buffer; NULL when not valid. */
static unsigned char *b64dec(const char *s, size_t n, size_t *outlen)
{
    unsigned char *out = malloc(n * 3 / 4 + 2);

    if (out == NULL)
        return NULL;
    if (swi_b64url_decode(s, n, out, outlen) != 0) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

/* --- the parsed-key cache ----------------------------------------------------------------- */

enum { K_PRIVATE, K_PUBLIC };

/* One parsed key or certificate, found by the SHA-256 of its text. Immutable. */
struct kent {
    int kind;
    unsigned char md[SHA256_DIGEST_LENGTH];
    int ret; /* the Go code when the text could not be used, else 0 */
    sw_key *key;
    sw_pubkey *pub;
    sw_cert *cert; /* the certificate (with any chain) the public key came from */
    int refs;      /* under g_lock; the cache's own reference included */
    unsigned long used;
    struct kent *next;
};

static struct kent *g_keys;
static size_t g_nkeys;
static unsigned long g_tick;

static void kent_free(struct kent *e)
{
    sw_key_free(e->key);
    sw_pubkey_free(e->pub);
    sw_cert_free(e->cert);
    free(e);
}

static void kent_put(struct kent *e)
{
    int last;

    if (e == NULL)
        return;
    pthread_mutex_lock(&g_lock);
    last = --e->refs == 0;
    pthread_mutex_unlock(&g_lock);
    if (last)
        kent_free(e);
}

/* The label of the first PEM block ("CERTIFICATE"), or NULL when there is none. */
static int pem_label(const char *data, size_t len, char *label, size_t size)
{
    const char *p = memmem(data, len, "-----BEGIN ", 11), *end;
    size_t n;

    if (p == NULL)
        return -1;
    p += 11;
    end = memmem(p, len - (size_t)(p - data), "-----", 5);
    if (end == NULL || (n = (size_t)(end - p)) >= size)
        return -1;
    memcpy(label, p, n);
    label[n] = '\0';
    return 0;
}

/* Parses the text as the Go library would, mapping each failure to its code. */
static void kent_parse(sw_ctx *ctx, struct kent *e, const char *data, size_t len)
{
    char label[64];
    sw_err err;

    if (e->kind == K_PRIVATE) {
        if (pem_label(data, len, label, sizeof(label)) != 0) {
            e->ret = RET_PRVKEY_FORMAT;
            return;
        }
        err = sw_key_load_pem(ctx, data, len, &e->key);
        if (err == SW_ERR_KEY_CURVE)
            e->ret = RET_PRVKEY_FORMAT; /* Go: "not EC private key" is -152 too */
        else if (err != SW_OK)
            e->ret = RET_PRVKEY_INVALID;
        return;
    }
    if (pem_label(data, len, label, sizeof(label)) != 0) {
        e->ret = RET_CERT_FORMAT;
        return;
    }
    if (strcmp(label, "CERTIFICATE") == 0) {
        if (sw_cert_load_pem(ctx, data, len, &e->cert) != SW_OK) {
            e->ret = RET_CERT_INVALID;
            return;
        }
    } else if (strcmp(label, "PUBLIC KEY") != 0) {
        e->ret = RET_CERT_INVALID;
        return;
    }
    err = sw_pubkey_load_pem(ctx, data, len, &e->pub);
    if (err == SW_ERR_KEY_CURVE)
        e->ret = RET_CERT_INVALID_EC;
    else if (err != SW_OK)
        e->ret = RET_CERT_INVALID;
}

/* A reference to the parsed form of data (never NULL unless out of memory). */
static struct kent *kent_get(sw_ctx *ctx, int kind, const char *data, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct kent *e, **pp, **oldest = NULL, *drop = NULL, *fresh;

    SHA256((const unsigned char *)data, len, md);
    pthread_mutex_lock(&g_lock);
    for (e = g_keys; e != NULL; e = e->next) {
        if (e->kind == kind && memcmp(e->md, md, sizeof(md)) == 0) {
            e->refs++;
            e->used = ++g_tick;
            pthread_mutex_unlock(&g_lock);
            return e;
        }
    }
    pthread_mutex_unlock(&g_lock);

    /* Parse outside the lock; two threads may parse one key, the first one is kept. */
    if ((fresh = calloc(1, sizeof(*fresh))) == NULL)
        return NULL;
    fresh->kind = kind;
    memcpy(fresh->md, md, sizeof(md));
    kent_parse(ctx, fresh, data, len);

    pthread_mutex_lock(&g_lock);
    for (e = g_keys; e != NULL; e = e->next) {
        if (e->kind == kind && memcmp(e->md, md, sizeof(md)) == 0) {
            e->refs++;
            e->used = ++g_tick;
            pthread_mutex_unlock(&g_lock);
            kent_free(fresh);
            return e;
        }
    }
    if (g_nkeys >= KEYCACHE_MAX) {
        for (pp = &g_keys; *pp != NULL; pp = &(*pp)->next)
            if (oldest == NULL || (*pp)->used < (*oldest)->used)
                oldest = pp;
        drop = *oldest;
        *oldest = drop->next;
        g_nkeys--;
        if (--drop->refs != 0)
            drop = NULL; /* still in use: its last user frees it */
    }
    fresh->refs = 2; /* the cache's and the caller's */
    fresh->used = ++g_tick;
    fresh->next = g_keys;
    g_keys = fresh;
    g_nkeys++;
    pthread_mutex_unlock(&g_lock);
    if (drop != NULL)
        kent_free(drop);
    return fresh;
}

/*
 * Key files by path. Kamailio names the same key file on every call; reading and hashing
 * it each time costs more than the ES256 signature. A file is taken as the one parsed
 * before while stat() shows the same device, inode, size, modification and change times
 * (a key replaced by rename, or rewritten in place, is read again); the Go library reads
 * the file on every call. Entries hold a reference to their parsed key.
 */
struct fent {
    char *path;
    int kind;
    struct stat st;
    struct kent *e;
    unsigned long used;
    struct fent *next;
};

static struct fent *g_files;
static size_t g_nfiles;

static int same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void fent_free(struct fent *f)
{
    while (f != NULL) {
        struct fent *next = f->next;
        kent_put(f->e);
        free(f->path);
        free(f);
        f = next;
    }
}

/* A reference to the parsed key in the file at path, or NULL with *ret set (RET_FILE_READ
 * when the file cannot be read, RET_ERR when out of memory). */
static struct kent *kent_file(sw_ctx *ctx, int kind, const char *path, int *ret)
{
    struct stat st, st2;
    struct fent *f, **pp, **oldest = NULL, *drop = NULL, *fresh;
    struct kent *e;
    size_t len = 0;
    char *data;

    *ret = RET_OK;
    if (path == NULL || *path == '\0' || stat(path, &st) != 0) {
        *ret = RET_FILE_READ;
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    for (f = g_files; f != NULL; f = f->next) {
        if (f->kind == kind && same_stat(&f->st, &st) && strcmp(f->path, path) == 0) {
            e = f->e;
            e->refs++;
            f->used = e->used = ++g_tick;
            pthread_mutex_unlock(&g_lock);
            return e;
        }
    }
    pthread_mutex_unlock(&g_lock);

    if ((data = read_file(path, &len)) == NULL) {
        *ret = RET_FILE_READ;
        return NULL;
    }
    e = kent_get(ctx, kind, data, len);
    swi_wipe_free(data, len);
    if (e == NULL) {
        *ret = RET_ERR;
        return NULL;
    }
    /* Remembered only when the file did not change while it was read. */
    if (stat(path, &st2) != 0 || !same_stat(&st, &st2) ||
        (fresh = calloc(1, sizeof(*fresh))) == NULL)
        return e;
    if ((fresh->path = strdup(path)) == NULL) {
        free(fresh);
        return e;
    }
    fresh->kind = kind;
    fresh->st = st;
    fresh->e = e;
    pthread_mutex_lock(&g_lock);
    e->refs++; /* the entry's */
    for (pp = &g_files; *pp != NULL;) {
        f = *pp;
        if (f->kind == kind && strcmp(f->path, path) == 0) {
            *pp = f->next; /* the same file as it was before */
            f->next = drop;
            drop = f;
            g_nfiles--;
        } else {
            pp = &f->next;
        }
    }
    if (g_nfiles >= KEYCACHE_MAX) {
        for (pp = &g_files; *pp != NULL; pp = &(*pp)->next)
            if (oldest == NULL || (*pp)->used < (*oldest)->used)
                oldest = pp;
        f = *oldest;
        *oldest = f->next;
        f->next = drop;
        drop = f;
        g_nfiles--;
    }
    fresh->used = ++g_tick;
    fresh->next = g_files;
    g_files = fresh;
    g_nfiles++;
    pthread_mutex_unlock(&g_lock);
    fent_free(drop); /* kent_put takes g_lock */
    return e;
}

/* --- the verifier (x5u fetching and the certificate cache) --------------------------------- */

struct vhold {
    sw_verifier *v;
    int refs; /* under g_lock, the global pointer's reference included */
    unsigned long gen;
    int timeout;
};

static void vhold_put(struct vhold *h)
{
    int last;

    if (h == NULL)
        return;
    pthread_mutex_lock(&g_lock);
    last = --h->refs == 0;
    pthread_mutex_unlock(&g_lock);
    if (last) {
        sw_verifier_free(h->v);
        free(h);
    }
}

/* A verifier set up from the options; called with g_lock held (no I/O happens here). */
static struct vhold *vhold_new(int timeout)
{
    struct vhold *h = calloc(1, sizeof(*h));
    const char *ca = getenv("SSL_CERT_FILE");
    long ms = timeout > 0 ? (long)timeout * 1000 : 5000;

    if (h == NULL || (h->v = sw_verifier_new()) == NULL) {
        free(h);
        return NULL;
    }
    sw_verifier_set_long(h->v, SW_OPT_ALLOW_HTTP, g_opt.fetch_http);
    sw_verifier_set_long(h->v, SW_OPT_ALLOW_PRIVATE, g_opt.fetch_private);
    sw_verifier_set_long(h->v, SW_OPT_ALLOW_ANY_PORT, g_opt.fetch_any_port);
    sw_verifier_set_long(h->v, SW_OPT_ALLOW_QUERY, g_opt.fetch_query);
    sw_verifier_set_long(h->v, SW_OPT_TIMEOUT_MS, ms);
    sw_verifier_set_long(h->v, SW_OPT_CONNECT_TIMEOUT_MS, ms < 2000 ? ms : 2000);
    sw_verifier_set_long(h->v, SW_OPT_MAX_BYTES, g_opt.fetch_max_bytes);
    sw_verifier_set_long(h->v, SW_OPT_MIN_TTL, g_opt.cache_expire > 0 ? g_opt.cache_expire : 0);
    sw_verifier_set_long(h->v, SW_OPT_NEGATIVE_TTL, g_opt.negative_ttl);
    /* CertVerify decides the chain checks (cert_verify() below), as in the Go library. */
    sw_verifier_set_long(h->v, SW_OPT_REQUIRE_CHAIN, 0);
    sw_verifier_set_long(h->v, SW_OPT_CRL_FETCH, 0);
    if (g_opt.cache_dir != NULL && *g_opt.cache_dir != '\0')
        sw_verifier_set_str(h->v, SW_OPT_CACHE_DIR, g_opt.cache_dir);
    /* Go's HTTP client trusts SSL_CERT_FILE; so do we, for drop-in behaviour. */
    if (ca != NULL && *ca != '\0')
        sw_verifier_set_str(h->v, SW_OPT_TLS_CA_FILE, ca);
    h->gen = g_gen;
    h->timeout = timeout;
    h->refs = 1;
    return h;
}

static struct vhold *vhold_get(int timeout)
{
    struct vhold *h, *old = NULL;

    pthread_mutex_lock(&g_lock);
    if (g_vh != NULL && (g_vh->gen != g_gen || g_vh->timeout != timeout)) {
        old = g_vh;
        g_vh = NULL;
        if (--old->refs != 0)
            old = NULL;
    }
    if (g_vh == NULL)
        g_vh = vhold_new(timeout);
    if ((h = g_vh) != NULL)
        h->refs++;
    pthread_mutex_unlock(&g_lock);
    if (old != NULL) {
        sw_verifier_free(old->v);
        free(old);
    }
    return h;
}

/* The Go code for a libstirwire fetch or certificate error. */
static int fetch_ret(sw_err err)
{
    switch (err) {
    case SW_OK:
        return RET_OK;
    case SW_ERR_CERT_URL:
        return RET_HTTP_URL;
    case SW_ERR_CERT_PRIVATE:
    case SW_ERR_CERT_CONNECT:
    case SW_ERR_CERT_TIMEOUT:
        return RET_HTTP_GET;
    case SW_ERR_CERT_HTTP_STATUS:
    case SW_ERR_CERT_REDIRECT:
        return RET_HTTP_STATUS;
    case SW_ERR_CERT_TOO_LARGE:
        return RET_HTTP_BODY;
    case SW_ERR_CERT_PARSE:
        return RET_CERT_FORMAT;
    case SW_ERR_CERT_KEY:
        return RET_CERT_INVALID_EC;
    case SW_ERR_CERT_EXPIRED:
        return RET_CERT_EXPIRED;
    case SW_ERR_CERT_NOT_YET_VALID:
        return RET_CERT_BEFORE;
    case SW_ERR_CERT_REVOKED:
        return RET_CERT_REVOKED;
    case SW_ERR_NOMEM:
    case SW_ERR_CRYPTO:
        return RET_ERR;
    default:
        return RET_CERT_INVALID;
    }
}

/* The certificate at an http(s) URL, through the verifier (memory and disk cache). */
static int fetch_cert(sw_ctx *ctx, const char *url, int timeout, sw_cert **out)
{
    struct vhold *h;
    sw_err err;

    *out = NULL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return RET_HTTP_URL;
    if ((h = vhold_get(timeout)) == NULL)
        return RET_ERR;
    err = sw_verifier_get_cert_wait(h->v, ctx, url, out);
    vhold_put(h);
    return fetch_ret(err);
}

/* --- CertVerify: the Go library's certificate checks, bit by bit ---------------------------- */

/* Reads every certificate of a PEM file into the store (as_trusted) or a stack. */
static int load_certs(const char *path, X509_STORE *store, STACK_OF(X509) * stack)
{
    BIO *bio = BIO_new_file(path, "r");
    X509 *x;
    int n = 0;

    if (bio == NULL)
        return -1;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (store != NULL)
            X509_STORE_add_cert(store, x);
        if (stack != NULL && sk_X509_push(stack, x) > 0)
            X509_up_ref(x);
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    ERR_clear_error();
    return n;
}

/*
 * The trust store for the options (system CAs for bit 1, the CA file for bit 2, the
 * system's when neither, as Go's x509 does), built once per option change; returns a
 * reference or NULL with *ret set.
 */
static X509_STORE *store_get(int cv, const char *ca_file, unsigned long gen, int *ret)
{
    X509_STORE *s;

    pthread_mutex_lock(&g_lock);
    if (g_store_gen == gen && (g_store != NULL || g_store_ret != 0)) {
        *ret = g_store_ret;
        s = g_store;
        if (s != NULL)
            X509_STORE_up_ref(s);
        pthread_mutex_unlock(&g_lock);
        return s;
    }
    pthread_mutex_unlock(&g_lock);

    *ret = RET_OK;
    if ((s = X509_STORE_new()) == NULL) {
        *ret = RET_CERT_PROCESSING;
    } else if ((cv & 2) || !(cv & 4)) {
        if (X509_STORE_set_default_paths(s) != 1)
            *ret = RET_CERT_PROCESSING;
    }
    if (s != NULL && *ret == RET_OK && (cv & 4)) {
        if (ca_file == NULL || *ca_file == '\0')
            *ret = RET_CERT_NO_CAFILE;
        else if (access(ca_file, R_OK) != 0)
            *ret = RET_CERT_READ_CAFILE;
        else if (load_certs(ca_file, s, NULL) <= 0)
            *ret = RET_CERT_PROCESSING;
    }
    ERR_clear_error();
    if (*ret != RET_OK) {
        X509_STORE_free(s);
        s = NULL;
    }
    pthread_mutex_lock(&g_lock);
    if (g_gen == gen) {
        if (g_store != NULL)
            X509_STORE_free(g_store);
        g_store = s;
        g_store_ret = *ret;
        g_store_gen = gen;
        if (s != NULL)
            X509_STORE_up_ref(s);
    }
    pthread_mutex_unlock(&g_lock);
    return s;
}

/*
 * Applies the CertVerify bits to a certificate (NULL when the key text held none):
 * 0 validity dates, 1 system CAs, 2 CA file, 3 intermediate CA file, 4 CRL file; any
 * bit set means the chain is verified.
 */
static int cert_verify(const sw_cert *cert)
{
    struct opts o;
    char *ca = NULL, *inter = NULL, *crlf = NULL;
    unsigned long gen;
    X509_STORE *store = NULL;
    X509_STORE_CTX *sctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    X509_CRL *crl = NULL;
    X509_REVOKED *rev = NULL;
    BIO *bio;
    time_t now = time(NULL);
    int ret = RET_OK, i;

    pthread_mutex_lock(&g_lock);
    o = g_opt;
    gen = g_gen;
    if (o.cert_verify != 0) {
        ca = xstrdup(o.ca_file);
        inter = xstrdup(o.ca_inter);
        crlf = xstrdup(o.crl_file);
    }
    pthread_mutex_unlock(&g_lock);
    if (o.cert_verify == 0)
        return RET_OK;
    if (ca == NULL || inter == NULL || crlf == NULL) {
        ret = RET_ERR;
        goto out;
    }
    if (cert == NULL) {
        ret = RET_CERT_FORMAT;
        goto out;
    }
    if (o.cert_verify & 1) {
        if (X509_cmp_time(X509_get0_notAfter(cert->leaf), &now) <= 0) {
            ret = RET_CERT_EXPIRED;
            goto out;
        }
        if (X509_cmp_time(X509_get0_notBefore(cert->leaf), &now) >= 0) {
            ret = RET_CERT_BEFORE;
            goto out;
        }
    }
    if ((store = store_get(o.cert_verify, ca, gen, &ret)) == NULL)
        goto out;
    if ((untrusted = sk_X509_new_null()) == NULL) {
        ret = RET_CERT_PROCESSING;
        goto out;
    }
    if (o.cert_verify & 8) {
        if (*inter == '\0') {
            ret = RET_CERT_NO_CAINTER;
            goto out;
        }
        if (access(inter, R_OK) != 0) {
            ret = RET_CERT_READ_CAINTER;
            goto out;
        }
        if (load_certs(inter, NULL, untrusted) <= 0) {
            ret = RET_CERT_PROCESSING;
            goto out;
        }
    }
    for (i = 0; cert->chain != NULL && i < sk_X509_num(cert->chain); i++) {
        X509 *x = sk_X509_value(cert->chain, i);
        if (sk_X509_push(untrusted, x) > 0)
            X509_up_ref(x);
    }
    if ((sctx = X509_STORE_CTX_new()) == NULL ||
        !X509_STORE_CTX_init(sctx, store, cert->leaf, untrusted)) {
        ret = RET_CERT_PROCESSING;
        goto out;
    }
    if (X509_verify_cert(sctx) != 1) {
        ret = RET_CERT_INVALID;
        goto out;
    }
    if (o.cert_verify & 16) {
        if (*crlf == '\0') {
            ret = RET_CERT_NO_CRLFILE;
            goto out;
        }
        if ((bio = BIO_new_file(crlf, "r")) == NULL) {
            ret = RET_CERT_READ_CRLFILE;
            goto out;
        }
        crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        if (crl == NULL) {
            (void)BIO_reset(bio);
            crl = d2i_X509_CRL_bio(bio, NULL);
        }
        BIO_free(bio);
        /* Go dereferences a nil CRL here and panics; an unusable file is a read error. */
        if (crl == NULL) {
            ret = RET_CERT_READ_CRLFILE;
            goto out;
        }
        if (X509_CRL_get0_by_serial(crl, &rev, X509_get_serialNumber(cert->leaf)) == 1) {
            ret = RET_CERT_REVOKED;
            goto out;
        }
    }
out:
    X509_CRL_free(crl);
    X509_STORE_CTX_free(sctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_free(store);
    ERR_clear_error();
    free(ca);
    free(inter);
    free(crlf);
    return ret;
}

/* --- the checks ---------------------------------------------------------------------------- */

/* Splits s[0..n) at sep into at most max parts; returns the count (more than max: max+1). */
static size_t split(const char *s, size_t n, char sep, const char **part, size_t *len, size_t max)
{
    size_t k = 0, start = 0, i;

    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == sep) {
            if (k == max)
                return max + 1;
            part[k] = s + start;
            len[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

/* A claim of the wrong JSON type is an unmarshalling error in Go; null is allowed. */
static int bad_type(json_t *o, const char *key, json_type type)
{
    json_t *v = json_object_get(o, key);
    return v != NULL && !json_is_null(v) && json_typeof(v) != type;
}

/* SJWTGetValidPayload: the payload decodes to the claims object, iat is fresh. */
static int check_payload(sw_ctx *ctx, const char *b64, size_t n, int expire)
{
    unsigned char *raw;
    size_t rawlen, i;
    json_t *o, *v, *tn;
    json_int_t iat = 0;
    int64_t now = sw_ctx_now(ctx);
    int skew, ret = RET_OK;

    if (n == 0 || (raw = b64dec(b64, n, &rawlen)) == NULL)
        return RET_PAYLOAD_PARSE;
    o = json_loadb((const char *)raw, rawlen, JSON_DECODE_ANY, NULL);
    free(raw);
    if (o == NULL || !(json_is_object(o) || json_is_null(o))) {
        json_decref(o);
        return RET_PAYLOAD_PARSE;
    }
    if (json_is_object(o)) {
        if (bad_type(o, "attest", JSON_STRING) || bad_type(o, "origid", JSON_STRING) ||
            bad_type(o, "iat", JSON_INTEGER) || bad_type(o, "orig", JSON_OBJECT) ||
            bad_type(o, "dest", JSON_OBJECT))
            ret = RET_PAYLOAD_PARSE;
        if ((v = json_object_get(o, "orig")) != NULL && json_is_object(v) &&
            bad_type(v, "tn", JSON_STRING))
            ret = RET_PAYLOAD_PARSE;
        if ((v = json_object_get(o, "dest")) != NULL && json_is_object(v) &&
            bad_type(v, "tn", JSON_ARRAY))
            ret = RET_PAYLOAD_PARSE;
        if ((tn = json_object_get(v, "tn")) != NULL && json_is_array(tn))
            for (i = 0; i < json_array_size(tn); i++)
                if (!json_is_string(json_array_get(tn, i)) && !json_is_null(json_array_get(tn, i)))
                    ret = RET_PAYLOAD_PARSE;
        if ((v = json_object_get(o, "iat")) != NULL && json_is_integer(v))
            iat = json_integer_value(v);
    }
    json_decref(o);
    if (ret != RET_OK)
        return ret;
    if (iat == 0 || now > (int64_t)iat + expire)
        return RET_PAYLOAD_IAT;
    pthread_mutex_lock(&g_lock);
    skew = g_opt.future_skew;
    pthread_mutex_unlock(&g_lock);
    /* The Go library accepts any iat in the future; ours allows FutureSkew seconds. */
    if (skew >= 0 && (int64_t)iat > now + skew)
        return RET_PAYLOAD_IAT;
    return RET_OK;
}

/* SJWTVerifyWithPubKey over "header.payload" with the base64url signature sig. */
static int check_signature(sw_ctx *ctx, const sw_pubkey *pub, const char *input, size_t inlen,
                           const char *sig, size_t siglen)
{
    unsigned char *raw;
    size_t rawlen;
    int ret;

    if ((raw = b64dec(sig, siglen, &rawlen)) == NULL)
        return RET_ERR;
    if (rawlen != 64)
        ret = RET_SIG_SIZE;
    else if (swi_es256_verify(ctx, pub->pkey, input, inlen, raw) == SW_OK)
        ret = RET_OK;
    else
        ret = RET_SIG_INVALID;
    free(raw);
    return ret;
}

/* SJWTCheckAttributes: the JWT header's alg, ppt, typ and x5u. */
static int check_attributes(const char *b64, size_t n, const char *info)
{
    unsigned char *raw;
    size_t rawlen;
    json_t *o;
    const char *s;
    int ret = RET_OK;

    if ((raw = b64dec(b64, n, &rawlen)) == NULL)
        return RET_HDR_PARSE;
    o = json_loadb((const char *)raw, rawlen, JSON_DECODE_ANY, NULL);
    free(raw);
    if (o == NULL || !(json_is_object(o) || json_is_null(o)) || bad_type(o, "alg", JSON_STRING) ||
        bad_type(o, "ppt", JSON_STRING) || bad_type(o, "typ", JSON_STRING) ||
        bad_type(o, "x5u", JSON_STRING)) {
        json_decref(o);
        return RET_HDR_PARSE;
    }
    if ((s = json_string_value(json_object_get(o, "alg"))) != NULL && *s && strcmp(s, "ES256"))
        ret = RET_HDR_ALG;
    else if ((s = json_string_value(json_object_get(o, "ppt"))) != NULL && *s &&
             strcmp(s, "shaken"))
        ret = RET_HDR_PPT;
    else if ((s = json_string_value(json_object_get(o, "typ"))) != NULL && *s &&
             strcmp(s, "passport"))
        ret = RET_HDR_TYP;
    else if ((s = json_string_value(json_object_get(o, "x5u"))) != NULL && *s && strcmp(s, info))
        ret = RET_HDR_X5U;
    json_decref(o);
    return ret;
}

/* A NUL-terminated copy of an identity given with a length (0: NUL-terminated). */
static char *identity_copy(const char *val, int len)
{
    size_t n;
    char *s;

    if (len < 0)
        return NULL;
    val = nz(val);
    n = len == 0 ? strlen(val) : (size_t)len;
    if (n > DATA_MAX || (s = malloc(n + 1)) == NULL)
        return NULL;
    memcpy(s, val, n);
    s[n] = '\0';
    return s;
}

/* Go's SJWTRemoveWhiteSpaces, in place. */
static void remove_spaces(char *s)
{
    char *w = s;

    for (; *s; s++)
        if (!is_space((unsigned char)*s))
            *w++ = *s;
    *w = '\0';
}

#define MAXPARAMS 32

/* SJWTGetValidInfoAttr over the ';' parts after the first; the info value in *info. */
static int info_attr(char **parts, size_t nparts, const char **info)
{
    const char *pinfo = "";
    size_t i, len;
    char *eq;

    for (i = 1; i < nparts; i++) {
        eq = strchr(parts[i], '=');
        if (eq == NULL || strchr(eq + 1, '=') != NULL)
            continue; /* Go: only "name=value" with exactly one '=' counts */
        *eq = '\0';
        if (strcmp(parts[i], "alg") == 0) {
            if (strcmp(eq + 1, "ES256") != 0)
                return RET_SIP_ALG;
        } else if (strcmp(parts[i], "ppt") == 0) {
            if (strcmp(eq + 1, "shaken") != 0 && strcmp(eq + 1, "\"shaken\"") != 0)
                return RET_SIP_PPT;
        } else if (strcmp(parts[i], "info") == 0) {
            pinfo = eq + 1;
        }
        *eq = '=';
    }
    len = strlen(pinfo);
    if (len <= 2)
        return RET_SIP_INFO;
    if (pinfo[0] == '<' && pinfo[len - 1] == '>') {
        /* the parts are ours to edit: cut the brackets in place */
        ((char *)pinfo)[len - 1] = '\0';
        pinfo++;
    }
    *info = pinfo;
    return RET_OK;
}

/* Splits a whitespace-free header value at ';' in place. */
static size_t split_params(char *s, char **parts)
{
    size_t n = 0;

    parts[n++] = s;
    for (; *s; s++) {
        if (*s == ';') {
            *s = '\0';
            if (n == MAXPARAMS)
                return n;
            parts[n++] = s + 1;
        }
    }
    return n;
}

enum { PK_PATH, PK_DATA };

/*
 * SJWTCheckIdentityPKMode: the bare JWT in jwt[0..n), its payload, then the public key
 * (from a path or URL, or the key text itself), CertVerify, and the signature.
 */
static int check_jwt(sw_ctx *ctx, const char *jwt, size_t n, int expire, const char *pk,
                     size_t pklen, int mode, int timeout)
{
    const char *tok[3];
    size_t tlen[3];
    struct kent *e = NULL;
    sw_cert *fetched = NULL;
    const sw_pubkey *pub;
    int ret;

    trim(&jwt, &n);
    if (split(jwt, n, '.', tok, tlen, 3) != 3)
        return RET_SIP_PARSE;
    if ((ret = check_payload(ctx, tok[1], tlen[1], expire)) != RET_OK)
        return ret;

    if (mode == PK_DATA) {
        e = kent_get(ctx, K_PUBLIC, pk, pklen);
    } else if (strncmp(pk, "http://", 7) == 0 || strncmp(pk, "https://", 8) == 0) {
        if ((ret = fetch_cert(ctx, pk, timeout, &fetched)) != RET_OK)
            return ret;
    } else {
        const char *path = pk;
        if (strncmp(pk, "file://", 7) == 0) {
            path = pk + 7; /* file:///a/b is /a/b; file://host/a/b is /a/b */
            if (*path != '/')
                path = (path = strchr(path, '/')) != NULL ? path : "";
        }
        if ((e = kent_file(ctx, K_PUBLIC, path, &ret)) == NULL)
            return ret;
    }
    if (fetched == NULL && e == NULL)
        return RET_ERR;
    if ((ret = cert_verify(fetched != NULL ? fetched : e->cert)) != RET_OK)
        goto out;
    if (fetched != NULL) {
        pub = sw_cert_pubkey(fetched);
    } else {
        if ((ret = e->ret) != RET_OK)
            goto out;
        pub = e->pub;
    }
    if (pub == NULL) {
        ret = RET_CERT_INVALID_EC;
        goto out;
    }
    ret = check_signature(ctx, pub, jwt, (size_t)(tok[2] - 1 - jwt), tok[2], tlen[2]);
out:
    kent_put(e);
    sw_cert_free(fetched);
    return ret;
}

/* SJWTCheckFullIdentityURL, with the cheap checks before the fetch. */
static int check_full_url(sw_ctx *ctx, char **parts, size_t nparts, int expire, int timeout)
{
    const char *info, *tok[3];
    size_t tlen[3];
    sw_cert *cert = NULL;
    int ret;

    if (nparts <= 1)
        return RET_SIP_PARSE;
    if ((ret = info_attr(parts, nparts, &info)) != RET_OK)
        return ret;
    if (split(parts[0], strlen(parts[0]), '.', tok, tlen, 3) != 3 || tlen[0] == 0)
        return RET_SIP_PARSE;
    /*
     * The Go library fetches first; we look at the payload first, so that a stale or
     * malformed token never makes us touch the network (DESIGN.md, verification order).
     */
    if ((ret = check_payload(ctx, tok[1], tlen[1], expire)) != RET_OK)
        return ret;
    if ((ret = fetch_cert(ctx, info, timeout, &cert)) != RET_OK)
        return ret;
    if ((ret = cert_verify(cert)) == RET_OK) {
        if (sw_cert_pubkey(cert) == NULL)
            ret = RET_CERT_INVALID_EC;
        else
            ret = check_signature(ctx, sw_cert_pubkey(cert), parts[0],
                                  (size_t)(tok[2] - 1 - parts[0]), tok[2], tlen[2]);
    }
    sw_cert_free(cert);
    if (ret != RET_OK)
        return ret;
    return check_attributes(tok[0], tlen[0], info);
}

enum { FULL_PATH, FULL_PUBKEY };

static int check_full(const char *idval, int idlen, int expire, const char *pk, size_t pklen,
                      int mode, int timeout)
{
    sw_ctx *ctx = tctx();
    char *id, *parts[MAXPARAMS];
    const char *info, *dot;
    size_t nparts;
    int ret;

    if (ctx == NULL || (id = identity_copy(idval, idlen)) == NULL)
        return RET_ERR;
    remove_spaces(id);
    nparts = split_params(id, parts);
    if (mode == FULL_PATH && *pk == '\0') {
        ret = check_full_url(ctx, parts, nparts, expire, timeout);
        free(id);
        return ret;
    }
    ret = check_jwt(ctx, parts[0], strlen(parts[0]), expire, pk, pklen,
                    mode == FULL_PUBKEY ? PK_DATA : PK_PATH, timeout);
    if (ret != RET_OK)
        goto out;
    if (nparts == 1) {
        /* Go: without parameters CheckFull fails but CheckFullPubKey passes */
        ret = mode == FULL_PUBKEY ? RET_OK : RET_SIP_PARSE;
        goto out;
    }
    if ((ret = info_attr(parts, nparts, &info)) != RET_OK)
        goto out;
    dot = strchr(parts[0], '.');
    if (dot == parts[0] || *parts[0] == '\0') {
        ret = mode == FULL_PUBKEY ? RET_OK : RET_HDR_PARSE;
        goto out;
    }
    ret =
        check_attributes(parts[0], dot != NULL ? (size_t)(dot - parts[0]) : strlen(parts[0]), info);
out:
    free(id);
    return ret;
}

/* --- the API: checking ------------------------------------------------------------------- */

EXPORT int SecSIPIDCheck(char *identityVal, int identityLen, int expireVal, char *pubkeyPath,
                         int timeoutVal)
{
    sw_ctx *ctx = tctx();
    char *id;
    int ret;

    if (ctx == NULL || (id = identity_copy(identityVal, identityLen)) == NULL)
        return RET_ERR;
    ret = check_jwt(ctx, id, strlen(id), expireVal, nz(pubkeyPath), 0, PK_PATH, timeoutVal);
    free(id);
    return ret;
}

EXPORT int SecSIPIDCheckFull(char *identityVal, int identityLen, int expireVal, char *pubkeyPath,
                             int timeoutVal)
{
    return check_full(identityVal, identityLen, expireVal, nz(pubkeyPath), 0, FULL_PATH,
                      timeoutVal);
}

EXPORT int SecSIPIDCheckFullPubKey(char *identityVal, int identityLen, int expireVal,
                                   char *pubkeyVal, int pubkeyLen)
{
    const char *pk = nz(pubkeyVal);
    size_t n;

    if (pubkeyLen < 0)
        return RET_ERR;
    n = pubkeyLen == 0 ? strlen(pk) : (size_t)pubkeyLen;
    return check_full(identityVal, identityLen, expireVal, pk, n, FULL_PUBKEY, 5);
}

/* --- the API: signing -------------------------------------------------------------------- */

/* *outPtr is always set: the result, or "" on failure, as the Go library does. */
static int hand_over(char **outPtr, char *s, int ret)
{
    if (s == NULL)
        s = strdup("");
    if (outPtr != NULL)
        *outPtr = s;
    else
        free(s);
    return ret;
}

/* Signs header.payload with the key e (a reference, handed over; NULL fails). */
static int sign_jwt(sw_ctx *ctx, const char *hdr, const char *payload, struct kent *e,
                    char **outPtr)
{
    const char *h = nz(hdr), *p = nz(payload);
    size_t hn = strlen(h), pn = strlen(p), n;
    unsigned char sig[64];
    char *out;

    if (ctx == NULL || e == NULL || e->ret != RET_OK) {
        kent_put(e);
        return hand_over(outPtr, NULL, 0);
    }
    trim(&h, &hn);
    trim(&p, &pn);
    n = swi_b64url_encoded_len(hn) + 1 + swi_b64url_encoded_len(pn);
    if (hn > DATA_MAX || pn > DATA_MAX || (out = malloc(n + 1 + 86 + 1)) == NULL) {
        kent_put(e);
        return hand_over(outPtr, NULL, 0);
    }
    n = swi_b64url_encode((const unsigned char *)h, hn, out);
    out[n++] = '.';
    n += swi_b64url_encode((const unsigned char *)p, pn, out + n);
    if (swi_es256_sign(ctx, e->key->pkey, out, n, sig) != SW_OK) {
        kent_put(e);
        free(out);
        return hand_over(outPtr, NULL, 0);
    }
    kent_put(e);
    out[n++] = '.';
    n += swi_b64url_encode(sig, sizeof(sig), out + n);
    return hand_over(outPtr, out, (int)n);
}

EXPORT int SecSIPIDSignJSONHP(char *headerJSON, char *payloadJSON, char *prvkeyPath, char **outPtr)
{
    sw_ctx *ctx = tctx();
    int ret;
    struct kent *e = ctx != NULL ? kent_file(ctx, K_PRIVATE, nz(prvkeyPath), &ret) : NULL;

    return sign_jwt(ctx, headerJSON, payloadJSON, e, outPtr);
}

EXPORT int SecSIPIDSignJSONHPPrvKey(char *headerJSON, char *payloadJSON, char *prvkeyData,
                                    char **outPtr)
{
    sw_ctx *ctx = tctx();
    const char *k = nz(prvkeyData);
    struct kent *e = ctx != NULL ? kent_get(ctx, K_PRIVATE, k, strlen(k)) : NULL;

    return sign_jwt(ctx, headerJSON, payloadJSON, e, outPtr);
}

/* A SHAKEN Identity signed with the key e (a reference, handed over); when e is NULL the
 * answer is eret. */
static int get_identity(sw_ctx *ctx, const char *orig, const char *dest, const char *attest,
                        const char *origid, const char *x5u, struct kent *e, int eret,
                        char **outPtr)
{
    const char *dests[1];
    char *url = NULL, *out = NULL;
    sw_err err;
    int ret;

    if (ctx == NULL || e == NULL) {
        kent_put(e);
        return hand_over(outPtr, NULL, ctx == NULL ? RET_ERR : eret);
    }
    if ((ret = e->ret) != RET_OK) {
        kent_put(e);
        return hand_over(outPtr, NULL, ret);
    }
    if (x5u == NULL || *x5u == '\0') {
        pthread_mutex_lock(&g_lock);
        url = strdup(g_opt.x5u != NULL && *g_opt.x5u ? g_opt.x5u : g_x5u_default);
        pthread_mutex_unlock(&g_lock);
        if (url == NULL) {
            kent_put(e);
            return hand_over(outPtr, NULL, RET_ERR);
        }
        x5u = url;
    }
    dests[0] = nz(dest);
    /*
     * The Go library signs whatever it is given; we sign only a valid SHAKEN PASSporT
     * (attest A/B/C, numbers canonicalised per RFC 8224 section 8.3, an x5u that fits in
     * info=<...>) and answer -1 otherwise.
     */
    attest = nz(attest);
    if (strlen(attest) != 1)
        err = SW_ERR_ATTEST;
    else
        err = sw_sign_shaken(ctx, e->key, attest[0], nz(orig), dests, 1, 0,
                             origid != NULL && *origid ? origid : NULL, x5u, 0, &out);
    kent_put(e);
    free(url);
    if (err != SW_OK) {
        sw_free(out);
        return hand_over(outPtr, NULL, RET_ERR);
    }
    /* sw_free() is free(): the string is the caller's to free() */
    return hand_over(outPtr, out, (int)strlen(out));
}

EXPORT int SecSIPIDGetIdentity(char *origTN, char *destTN, char *attestVal, char *origID,
                               char *x5uVal, char *prvkeyPath, char **outPtr)
{
    sw_ctx *ctx = tctx();
    int ret = RET_ERR;
    struct kent *e = ctx != NULL ? kent_file(ctx, K_PRIVATE, nz(prvkeyPath), &ret) : NULL;

    return get_identity(ctx, origTN, destTN, attestVal, origID, x5uVal, e, ret, outPtr);
}

EXPORT int SecSIPIDGetIdentityPrvKey(char *origTN, char *destTN, char *attestVal, char *origID,
                                     char *x5uVal, char *prvkeyData, char **outPtr)
{
    sw_ctx *ctx = tctx();
    const char *k = nz(prvkeyData);
    struct kent *e = ctx != NULL ? kent_get(ctx, K_PRIVATE, k, strlen(k)) : NULL;

    return get_identity(ctx, origTN, destTN, attestVal, origID, x5uVal, e, RET_ERR, outPtr);
}

/* --- the API: fetching -------------------------------------------------------------------- */

EXPORT int SecSIPIDGetURLContent(char *urlVal, int timeoutVal, char **outPtr, int *outLen)
{
    sw_ctx *ctx = tctx();
    struct swi_xfer x;
    const char *url = nz(urlVal);
    const char *ca = getenv("SSL_CERT_FILE");
    long ms = timeoutVal > 0 ? (long)timeoutVal * 1000 : 5000;
    sw_err err;
    char *out;
    int ret;

    if (outPtr != NULL)
        *outPtr = NULL;
    if (outLen != NULL)
        *outLen = 0;
    if (ctx == NULL)
        return RET_ERR;
    if (*url == '\0' || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return RET_HTTP_URL;
    memset(&x, 0, sizeof(x));
    pthread_mutex_lock(&g_lock);
    x.policy.allow_http = g_opt.fetch_http;
    x.policy.allow_private = g_opt.fetch_private;
    x.policy.allow_any_port = g_opt.fetch_any_port;
    x.policy.allow_query = g_opt.fetch_query;
    pthread_mutex_unlock(&g_lock);
    x.policy.connect_timeout_ms = ms < 2000 ? ms : 2000;
    x.policy.timeout_ms = ms;
    x.policy.max_bytes = URL_CONTENT_MAX;
    x.policy.tls_ca_file = ca != NULL && *ca != '\0' ? ca : NULL;
    if (swi_url_allowed(ctx, &x.policy, url) != SW_OK)
        return RET_HTTP_URL;
    if ((x.url = strdup(url)) == NULL)
        return RET_ERR;
    if (swi_xfer_setup(&x) != 0) {
        free(x.url);
        return RET_ERR;
    }
    err = swi_xfer_result(ctx, &x, curl_easy_perform(x.easy));
    ret = fetch_ret(err);
    if (ret == RET_OK) {
        if ((out = malloc(x.len + 1)) == NULL) {
            ret = RET_ERR;
        } else {
            memcpy(out, x.buf, x.len);
            out[x.len] = '\0';
            if (outPtr != NULL)
                *outPtr = out;
            else
                free(out);
            if (outLen != NULL)
                *outLen = (int)x.len;
        }
    }
    curl_easy_cleanup(x.easy);
    x.easy = NULL;
    free(x.buf);
    free(x.url);
    return ret;
}

/* --- the API: options --------------------------------------------------------------------- */

EXPORT int SecSIPIDSetFileCacheOptions(char *dirPath, int expireVal)
{
    char *dir = xstrdup(dirPath);

    if (dir == NULL)
        return RET_ERR;
    pthread_mutex_lock(&g_lock);
    free(g_opt.cache_dir);
    g_opt.cache_dir = dir;
    g_opt.cache_expire = expireVal;
    g_gen++;
    pthread_mutex_unlock(&g_lock);
    return RET_OK;
}

EXPORT int SecSIPIDOptSetS(char *optName, char *optVal)
{
    char **slot, *v;

    if (optName == NULL || (v = xstrdup(optVal)) == NULL)
        return RET_ERR;
    pthread_mutex_lock(&g_lock);
    if ((slot = str_opt(optName)) == NULL) {
        pthread_mutex_unlock(&g_lock);
        free(v);
        return RET_ERR;
    }
    free(*slot);
    *slot = v;
    g_gen++;
    pthread_mutex_unlock(&g_lock);
    return RET_OK;
}

EXPORT int SecSIPIDOptSetN(char *optName, int optVal)
{
    size_t i;

    if (optName == NULL)
        return RET_ERR;
    /* FetchStrict=1: libstirwire's own fetch policy (https, ports 443/8443, public hosts). */
    if (strcmp(optName, "FetchStrict") == 0) {
        pthread_mutex_lock(&g_lock);
        g_opt.fetch_http = g_opt.fetch_private = g_opt.fetch_any_port = g_opt.fetch_query =
            optVal ? 0 : 1;
        g_gen++;
        pthread_mutex_unlock(&g_lock);
        return RET_OK;
    }
    for (i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++) {
        if (strcmp(optName, num_opts[i].name) != 0)
            continue;
        if (optVal < num_opts[i].min)
            return RET_ERR;
        pthread_mutex_lock(&g_lock);
        *(int *)((char *)&g_opt + num_opts[i].off) = optVal;
        g_gen++;
        pthread_mutex_unlock(&g_lock);
        return RET_OK;
    }
    return RET_ERR;
}

EXPORT int SecSIPIDOptGetN(char *optName, int *optVal)
{
    size_t i;
    int v = 0, found = 0;

    if (optName == NULL)
        return RET_ERR;
    pthread_mutex_lock(&g_lock);
    if (strcmp(optName, "FetchStrict") == 0) {
        v = !(g_opt.fetch_http || g_opt.fetch_private || g_opt.fetch_any_port || g_opt.fetch_query);
        found = 1;
    }
    for (i = 0; !found && i < sizeof(num_opts) / sizeof(num_opts[0]); i++) {
        if (strcmp(optName, num_opts[i].name) == 0) {
            v = *(int *)((char *)&g_opt + num_opts[i].off);
            found = 1;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (!found)
        return RET_ERR;
    if (optVal != NULL)
        *optVal = v;
    return RET_OK;
}

EXPORT int SecSIPIDOptSetV(char *optNameVal)
{
    char *s, *eq, *end;
    long n;
    int ret;

    /* The Go library panics (and takes its host down) when there is no '='. */
    if (optNameVal == NULL || (eq = strchr(optNameVal, '=')) == NULL)
        return RET_ERR;
    if ((s = strdup(optNameVal)) == NULL)
        return RET_ERR;
    eq = s + (eq - optNameVal);
    *eq = '\0';
    pthread_mutex_lock(&g_lock);
    ret = str_opt(s) != NULL;
    pthread_mutex_unlock(&g_lock);
    if (ret) {
        ret = SecSIPIDOptSetS(s, eq + 1);
    } else {
        errno = 0;
        n = strtol(eq + 1, &end, 10);
        if (eq[1] == '\0' || *end != '\0' || errno != 0 || n < INT_MIN || n > INT_MAX)
            ret = RET_ERR;
        else
            ret = SecSIPIDOptSetN(s, (int)n);
    }
    free(s);
    return ret;
}
