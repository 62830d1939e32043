/*
 * verifier.c - trust anchors, the certificate cache, and the fetch thread.
 *
 * Callers (proxy workers, the CLI) ask for the certificate behind an info URL. A hit
 * is a hash lookup under a mutex held for a few hundred nanoseconds; a miss queues
 * the URL for the one fetch thread, which runs every download with libcurl's multi
 * interface, so no caller ever waits on the network unless it asked to (the _wait
 * calls). Rules that keep this safe and cheap:
 *  - one URL, one fetch: later callers for a URL being fetched join its waiter list;
 *  - failures are remembered for the negative TTL, so a dead host is asked once;
 *  - callbacks run on the fetch thread with no lock held;
 *  - nothing here blocks while holding the lock (parsing and validation run outside);
 *  - the fetch thread reads settings only from the copy in its transfer (taken under the
 *    lock), so setters may run at any time, also while fetches are under way;
 *  - the trust anchors and CRL files have a lock of their own, trust_lock, held by the
 *    fetch thread while it validates a chain and by the loaders and reset_trust. Callers
 *    never take it, so a reload that reads CA files never holds up a cache hit. Order:
 *    trust_lock, then lock; never the other way round;
 *  - a reload never leaves a moment without trust: sw_verifier_reset_trust() only stages
 *    an empty set, the loaders fill the staged set, and the first CA file or directory
 *    loaded into it puts it in service (CRL files loaded before it come along).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_int.h"
#include "verifier.h"

#define CRL_CACHE_MAX 64
/* fetch outcomes are counted per sw_err number; larger numbers share the last slot */
#define OUTCOMES 64

enum { E_FETCHING, E_GOOD, E_BAD };

/*
 * The blocking calls wait on a waitsync: finish() fills it in under the lock (result,
 * detail, a certificate reference), so a waiting caller gets exactly the outcome of the
 * fetch it waited for, even when the cache does not keep it (a TTL of 0).
 */
struct waitsync {
    int done;
    sw_err result;
    sw_cert *cert;
    char msg[256];
};

struct swi_waiter {
    sw_fetch_cb cb;
    void *arg;
    struct waitsync *sync;
    struct swi_waiter *next;
};

struct swi_entry {
    char *url;
    uint64_t hash;
    int state;
    sw_cert *cert;
    sw_err err;
    char errmsg[256];
    int64_t expires;
    int disk; /* answered from the cache directory, not the network (fetch thread only) */
    struct swi_waiter *waiters;
    struct swi_entry *hnext;       /* hash chain */
    struct swi_entry *prev, *next; /* LRU list, most recent first */
};

struct swi_crl {
    char *url;
    X509_CRL *crl;
    int64_t expires;
};

/* A local answer (sw_verifier_add_local): the body served for url instead of a fetch. */
struct swi_local {
    char *url;
    char *body;
    size_t len;
    struct swi_local *next;
};
#define LOCAL_MAX 65536
#define LOCAL_BODY_MAX (1024 * 1024)

struct sw_verifier {
    pthread_mutex_t lock;
    struct swi_local *locals; /* under lock */
    size_t nlocals;
    pthread_cond_t cond;
    struct swi_policy policy; /* policy.tls_ca_file borrows tls_ca_file */
    long cache_entries;
    char *cache_dir, *tls_ca_file;
    /* the trust anchors and CRL files, under trust_lock (see the top of the file) */
    pthread_mutex_t trust_lock;
    X509_STORE *store;
    STACK_OF(X509_CRL) * crl_files;
    int anchors; /* written under both locks, so either is enough to read it */
    /* after sw_verifier_reset_trust(), the set being loaded; NULL when none is staged */
    X509_STORE *next_store;
    STACK_OF(X509_CRL) * next_crl_files;
    struct swi_crl crls[CRL_CACHE_MAX]; /* fetched CRLs: fetch thread only */
    /* the cache */
    struct swi_entry **buckets;
    size_t nbuckets, count;
    struct swi_entry lru; /* sentinel */
    /* the fetch thread */
    pthread_t thread;
    int started, stopping;
    CURLM *multi;
    struct swi_xfer *queue;  /* transfers to add, handed over under the lock */
    struct swi_xfer *active; /* transfers in the multi handle (fetch thread only) */
    sw_ctx *tctx;            /* the fetch thread's own context */
    sw_verifier_stats stats;
    uint64_t outcomes[OUTCOMES]; /* x5u fetches by their final sw_err */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

sw_verifier *sw_verifier_new(void)
{
    sw_verifier *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    if ((v->store = X509_STORE_new()) == NULL || (v->crl_files = sk_X509_CRL_new_null()) == NULL) {
        X509_STORE_free(v->store);
        free(v);
        return NULL;
    }
    /* refcounted and thread-safe in libcurl >= 7.84; paired with the cleanup in free */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_init(&v->lock, NULL);
    pthread_mutex_init(&v->trust_lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    v->policy.connect_timeout_ms = 2000;
    v->policy.timeout_ms = 4000;
    v->policy.max_bytes = 32768;
    v->cache_entries = 4096;
    v->policy.min_ttl = 86400; /* ATIS-1000074: keep a certificate at least a day */
    v->policy.negative_ttl = 30;
    v->policy.crl_fetch = 1;
    v->policy.require_chain = 1;
    v->policy.crl_unreachable = 0; /* fail closed: an unknown revocation status is a 437 */
    v->lru.next = v->lru.prev = &v->lru;
    return v;
}

static void entry_free(struct swi_entry *e)
{
    sw_cert_free(e->cert);
    free(e->url);
    free(e);
}

void sw_verifier_free(sw_verifier *v)
{
    struct swi_entry *e, *n;
    size_t i;

    if (v == NULL)
        return;
    if (v->started) {
        pthread_mutex_lock(&v->lock);
        v->stopping = 1;
        pthread_mutex_unlock(&v->lock);
        curl_multi_wakeup(v->multi);
        pthread_join(v->thread, NULL);
    }
    for (e = v->lru.next; e != &v->lru; e = n) {
        n = e->next;
        entry_free(e);
    }
    free(v->buckets);
    for (i = 0; i < CRL_CACHE_MAX; i++) {
        free(v->crls[i].url);
        X509_CRL_free(v->crls[i].crl);
    }
    sk_X509_CRL_pop_free(v->crl_files, X509_CRL_free);
    X509_STORE_free(v->store);
    sk_X509_CRL_pop_free(v->next_crl_files, X509_CRL_free);
    X509_STORE_free(v->next_store);
    while (v->locals != NULL) {
        struct swi_local *l = v->locals;
        v->locals = l->next;
        free(l->url);
        free(l->body);
        free(l);
    }
    free(v->cache_dir);
    free(v->tls_ca_file);
    sw_ctx_free(v->tctx);
    curl_multi_cleanup(v->multi);
    pthread_mutex_destroy(&v->lock);
    pthread_mutex_destroy(&v->trust_lock);
    pthread_cond_destroy(&v->cond);
    free(v);
    curl_global_cleanup();
}

static void evict(sw_verifier *v);

sw_err sw_verifier_set_long(sw_verifier *v, sw_opt opt, long value)
{
    if (v == NULL || value < 0)
        return SW_ERR_INVAL;
    pthread_mutex_lock(&v->lock);
    switch (opt) {
    case SW_OPT_ALLOW_HTTP:
        v->policy.allow_http = value;
        break;
    case SW_OPT_ALLOW_PRIVATE:
        v->policy.allow_private = value;
        break;
    case SW_OPT_ALLOW_ANY_PORT:
        v->policy.allow_any_port = value;
        break;
    case SW_OPT_ALLOW_QUERY:
        v->policy.allow_query = value;
        break;
    case SW_OPT_CONNECT_TIMEOUT_MS:
        v->policy.connect_timeout_ms = value;
        break;
    case SW_OPT_TIMEOUT_MS:
        v->policy.timeout_ms = value;
        break;
    case SW_OPT_MAX_BYTES:
        v->policy.max_bytes = value > 0 ? value : 1;
        break;
    case SW_OPT_CACHE_ENTRIES:
        if (value == 0) {
            pthread_mutex_unlock(&v->lock);
            return SW_ERR_INVAL;
        }
        /* the hash table is sized at first use; later, only the limit changes */
        v->cache_entries = value;
        if (v->buckets != NULL)
            evict(v);
        break;
    case SW_OPT_MIN_TTL:
        v->policy.min_ttl = value;
        break;
    case SW_OPT_NEGATIVE_TTL:
        v->policy.negative_ttl = value;
        break;
    case SW_OPT_CRL_FETCH:
        v->policy.crl_fetch = value;
        break;
    case SW_OPT_REQUIRE_CHAIN:
        v->policy.require_chain = value;
        break;
    case SW_OPT_CHECK_TIME:
        v->policy.check_time = (int64_t)value;
        break;
    case SW_OPT_OFFLINE:
        if (value > 1) {
            pthread_mutex_unlock(&v->lock);
            return SW_ERR_INVAL;
        }
        v->policy.offline = value;
        break;
    case SW_OPT_CRL_UNREACHABLE:
        if (value > 1) { /* 0 and 1 only, so that other modes can come later */
            pthread_mutex_unlock(&v->lock);
            return SW_ERR_INVAL;
        }
        v->policy.crl_unreachable = value;
        break;
    default:
        pthread_mutex_unlock(&v->lock);
        return SW_ERR_INVAL;
    }
    pthread_mutex_unlock(&v->lock);
    return SW_OK;
}

sw_err sw_verifier_set_str(sw_verifier *v, sw_opt opt, const char *value)
{
    char *copy = NULL, **slot;

    if (v == NULL)
        return SW_ERR_INVAL;
    if (opt == SW_OPT_ALLOW_NETS) {
        struct swi_net nets[SWI_MAX_NETS];
        size_t n;
        if (swi_nets_parse(value, nets, &n) != 0)
            return SW_ERR_INVAL; /* and nothing changed */
        pthread_mutex_lock(&v->lock);
        memcpy(v->policy.nets, nets, n * sizeof(nets[0]));
        v->policy.nnets = n;
        pthread_mutex_unlock(&v->lock);
        return SW_OK;
    }
    if (opt == SW_OPT_CACHE_DIR)
        slot = &v->cache_dir;
    else if (opt == SW_OPT_TLS_CA_FILE)
        slot = &v->tls_ca_file;
    else
        return SW_ERR_INVAL;
    if (value != NULL && (copy = strdup(value)) == NULL)
        return SW_ERR_NOMEM;
    /* transfers under way keep their own copies (get_cert), so the old string can go */
    pthread_mutex_lock(&v->lock);
    free(*slot);
    *slot = copy;
    v->policy.tls_ca_file = v->tls_ca_file;
    pthread_mutex_unlock(&v->lock);
    return SW_OK;
}

/* Under trust_lock: the store a CA loader adds to (the staged one after a reset). */
static X509_STORE *ca_target(sw_verifier *v)
{
    return v->next_store != NULL ? v->next_store : v->store;
}

/*
 * Under trust_lock, after a CA was loaded into ca_target(): the store holds anchors, and
 * a staged set goes into service in place of the old one.
 */
static void ca_loaded(sw_verifier *v)
{
    if (v->next_store != NULL) {
        X509_STORE_free(v->store); /* the fetch thread uses it only under trust_lock */
        sk_X509_CRL_pop_free(v->crl_files, X509_CRL_free);
        v->store = v->next_store;
        v->crl_files = v->next_crl_files;
        v->next_store = NULL;
        v->next_crl_files = NULL;
    }
    pthread_mutex_lock(&v->lock);
    v->anchors = 1;
    pthread_mutex_unlock(&v->lock);
}

sw_err sw_verifier_load_ca_file(sw_verifier *v, sw_ctx *ctx, const char *path)
{
    if (v == NULL || path == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no CA file given");
    if (access(path, R_OK) != 0)
        return swi_fail(ctx, SW_ERR_IO, "cannot read CA file %s: %s", path, strerror(errno));
    pthread_mutex_lock(&v->trust_lock);
    if (X509_STORE_load_file(ca_target(v), path) != 1) {
        pthread_mutex_unlock(&v->trust_lock);
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_KEY_PARSE, "%s holds no PEM CA certificate", path);
    }
    ca_loaded(v);
    pthread_mutex_unlock(&v->trust_lock);
    return SW_OK;
}

sw_err sw_verifier_load_ca_dir(sw_verifier *v, sw_ctx *ctx, const char *path)
{
    struct stat st;

    if (v == NULL || path == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no CA directory given");
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return swi_fail(ctx, SW_ERR_IO, "CA directory %s: %s", path,
                        errno ? strerror(errno) : "not a directory");
    /* hashed directory (c_rehash / openssl rehash), looked up on demand */
    pthread_mutex_lock(&v->trust_lock);
    if (X509_STORE_load_path(ca_target(v), path) != 1) {
        pthread_mutex_unlock(&v->trust_lock);
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_IO, "cannot use CA directory %s", path);
    }
    ca_loaded(v);
    pthread_mutex_unlock(&v->trust_lock);
    return SW_OK;
}

sw_err sw_verifier_load_crl_file(sw_verifier *v, sw_ctx *ctx, const char *path)
{
    STACK_OF(X509_CRL) * got;
    BIO *bio;
    X509_CRL *crl;
    int i, n = 0;

    if (v == NULL || path == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no CRL file given");
    if ((bio = BIO_new_file(path, "rb")) == NULL) {
        ERR_clear_error();
        return swi_fail(ctx, SW_ERR_IO, "cannot open CRL file %s", path);
    }
    /* read outside trust_lock, so the fetch thread never waits on this file */
    if ((got = sk_X509_CRL_new_null()) == NULL) {
        BIO_free(bio);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
        if (sk_X509_CRL_push(got, crl) <= 0)
            X509_CRL_free(crl);
    if (sk_X509_CRL_num(got) == 0) {
        (void)BIO_reset(bio);
        if ((crl = d2i_X509_CRL_bio(bio, NULL)) != NULL && sk_X509_CRL_push(got, crl) <= 0)
            X509_CRL_free(crl);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (sk_X509_CRL_num(got) == 0) {
        sk_X509_CRL_free(got);
        return swi_fail(ctx, SW_ERR_KEY_PARSE, "%s holds no PEM or DER CRL", path);
    }
    pthread_mutex_lock(&v->trust_lock);
    for (i = 0; i < sk_X509_CRL_num(got); i++) {
        crl = sk_X509_CRL_value(got, i);
        if (sk_X509_CRL_push(v->next_crl_files ? v->next_crl_files : v->crl_files, crl) > 0)
            sk_X509_CRL_set(got, i, NULL); /* now the verifier's */
        else
            n++;
    }
    pthread_mutex_unlock(&v->trust_lock);
    sk_X509_CRL_pop_free(got, X509_CRL_free); /* what could not be added (and NULLs) */
    if (n > 0)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory adding the CRLs of %s", path);
    return SW_OK;
}

sw_err sw_verifier_reset_trust(sw_verifier *v)
{
    X509_STORE *store, *old_store;
    STACK_OF(X509_CRL) * files, *old_files;

    if (v == NULL)
        return SW_ERR_INVAL;
    /* everything new is made first, so that a failure changes nothing */
    if ((store = X509_STORE_new()) == NULL || (files = sk_X509_CRL_new_null()) == NULL) {
        X509_STORE_free(store);
        return SW_ERR_NOMEM;
    }
    /* staged, not in service: a set staged earlier and never completed is dropped */
    pthread_mutex_lock(&v->trust_lock);
    old_store = v->next_store;
    old_files = v->next_crl_files;
    v->next_store = store;
    v->next_crl_files = files;
    pthread_mutex_unlock(&v->trust_lock);
    X509_STORE_free(old_store);
    sk_X509_CRL_pop_free(old_files, X509_CRL_free);
    return SW_OK;
}

void sw_verifier_get_stats(sw_verifier *v, sw_verifier_stats *out)
{
    if (v == NULL || out == NULL)
        return;
    pthread_mutex_lock(&v->lock);
    *out = v->stats;
    pthread_mutex_unlock(&v->lock);
}

static size_t outcome_slot(sw_err err)
{
    return (int)err < 0 || (int)err >= OUTCOMES ? OUTCOMES - 1 : (size_t)err;
}

uint64_t sw_verifier_fetch_count(sw_verifier *v, sw_err err)
{
    uint64_t n;

    if (v == NULL)
        return 0;
    pthread_mutex_lock(&v->lock);
    n = v->outcomes[outcome_slot(err)];
    pthread_mutex_unlock(&v->lock);
    return n;
}

/* --- cache (all under v->lock) -------------------------------------------------------- */

static struct swi_entry *lookup(sw_verifier *v, const char *url, uint64_t h)
{
    struct swi_entry *e;

    for (e = v->buckets[h & (v->nbuckets - 1)]; e != NULL; e = e->hnext)
        if (e->hash == h && strcmp(e->url, url) == 0)
            return e;
    return NULL;
}

static void lru_unlink(struct swi_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push_front(sw_verifier *v, struct swi_entry *e)
{
    e->next = v->lru.next;
    e->prev = &v->lru;
    v->lru.next->prev = e;
    v->lru.next = e;
}

static void remove_entry(sw_verifier *v, struct swi_entry *e)
{
    struct swi_entry **pp = &v->buckets[e->hash & (v->nbuckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    v->count--;
    entry_free(e);
}

/* Drops least recently used entries past the limit; entries being fetched stay. */
static void evict(sw_verifier *v)
{
    struct swi_entry *e = v->lru.prev, *p;

    while (v->count > (size_t)v->cache_entries && e != &v->lru) {
        p = e->prev;
        if (e->state != E_FETCHING)
            remove_entry(v, e);
        e = p;
    }
}

/* --- fetch thread ---------------------------------------------------------------------- */

static void *fetch_thread(void *arg);

static sw_err start_thread(sw_verifier *v, sw_ctx *ctx)
{
    if (v->started)
        return SW_OK;
    if (v->buckets == NULL) {
        size_t n = 16;
        while (n < (size_t)v->cache_entries && n < ((size_t)1 << 24))
            n <<= 1;
        if ((v->buckets = calloc(n, sizeof(*v->buckets))) == NULL)
            return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
        v->nbuckets = n;
    }
    if ((v->tctx = sw_ctx_new()) == NULL || (v->multi = curl_multi_init()) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (pthread_create(&v->thread, NULL, fetch_thread, v) != 0) {
        curl_multi_cleanup(v->multi);
        v->multi = NULL;
        return swi_fail(ctx, SW_ERR_NOMEM, "cannot start the fetch thread");
    }
    v->started = 1;
    return SW_OK;
}

static void finish(sw_verifier *v, struct swi_entry *e, sw_err err, const char *msg, sw_cert *cert,
                   int64_t expires)
{
    struct swi_waiter *w, *n, *callbacks = NULL;

    pthread_mutex_lock(&v->lock);
    e->state = err == SW_OK ? E_GOOD : E_BAD;
    e->err = err;
    snprintf(e->errmsg, sizeof(e->errmsg), "%s", msg ? msg : "");
    sw_cert_free(e->cert);
    e->cert = err == SW_OK ? cert : NULL;
    if (err != SW_OK) {
        sw_cert_free(cert);
        v->stats.fetch_failures++;
    }
    if (!e->disk)
        v->outcomes[outcome_slot(err)]++;
    e->disk = 0;
    e->expires = expires;
    for (w = e->waiters; w != NULL; w = n) {
        n = w->next;
        if (w->sync != NULL) {
            w->sync->done = 1;
            w->sync->result = err;
            w->sync->cert = err == SW_OK ? swi_cert_ref(e->cert) : NULL;
            snprintf(w->sync->msg, sizeof(w->sync->msg), "%s", e->errmsg);
            free(w);
        } else {
            w->next = callbacks;
            callbacks = w;
        }
    }
    e->waiters = NULL;
    evict(v);
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    for (w = callbacks; w != NULL; w = n) {
        n = w->next;
        w->cb(w->arg, err);
        free(w);
    }
}

/* Ends x's fetch with err (detail in the fetch thread's context), kept negative_ttl. */
static void fail(sw_verifier *v, struct swi_xfer *x, sw_err err)
{
    finish(v, x->entry, err, sw_errmsg(v->tctx), NULL,
           (int64_t)time(NULL) + x->policy.negative_ttl);
}

static X509_CRL *crl_lookup(sw_verifier *v, const char *url)
{
    int64_t now = (int64_t)time(NULL);
    size_t i;

    for (i = 0; i < CRL_CACHE_MAX; i++)
        if (v->crls[i].url != NULL && strcmp(v->crls[i].url, url) == 0 && v->crls[i].expires > now)
            return v->crls[i].crl;
    return NULL;
}

/* Keeps a fetched CRL until its nextUpdate; replaces the entry that expires first. */
static void crl_store(sw_verifier *v, const char *url, X509_CRL *crl, long min_ttl)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    struct tm tm;
    int64_t expires = (int64_t)time(NULL) + min_ttl;
    size_t i, slot = 0;

    if (next != NULL && ASN1_TIME_to_tm(next, &tm))
        expires = (int64_t)timegm(&tm);
    for (i = 0; i < CRL_CACHE_MAX; i++) {
        if (v->crls[i].url != NULL && strcmp(v->crls[i].url, url) == 0) {
            slot = i;
            break;
        }
        if (v->crls[i].expires < v->crls[slot].expires)
            slot = i;
    }
    free(v->crls[slot].url);
    X509_CRL_free(v->crls[slot].crl);
    v->crls[slot].url = strdup(url);
    v->crls[slot].crl = crl;
    v->crls[slot].expires = v->crls[slot].url ? expires : 0;
}

/*
 * Chain, then revocation; hands cert to x's cache entry either way. crl_missing: the
 * leaf's CRL distribution point could not be had and the policy tolerates that, so the
 * chain is checked with the CRL files only and the result is kept no longer than the
 * negative TTL, after which the next caller fetches again and the CRL is tried again.
 */
static void complete_cert(sw_verifier *v, struct swi_xfer *x, sw_cert *cert, int64_t expires,
                          int crl_missing)
{
    STACK_OF(X509_CRL) * crls;
    X509_CRL *fetched = NULL;
    int64_t now = (int64_t)time(NULL);
    sw_err err;
    int i;

    if (x->policy.require_chain) {
        /* the store and the CRL files may be replaced by a reload: trust_lock keeps them */
        pthread_mutex_lock(&v->trust_lock);
        if (!v->anchors) {
            pthread_mutex_unlock(&v->trust_lock);
            swi_fail(v->tctx, SW_ERR_CERT_UNTRUSTED,
                     "no trust anchors are configured (CA file or directory) to check %s",
                     x->entry->url);
            fail(v, x, SW_ERR_CERT_UNTRUSTED);
            sw_cert_free(cert);
            return;
        }
        if ((crls = sk_X509_CRL_new_null()) == NULL) {
            pthread_mutex_unlock(&v->trust_lock);
            swi_fail(v->tctx, SW_ERR_NOMEM, "out of memory");
            fail(v, x, SW_ERR_NOMEM);
            sw_cert_free(cert);
            return;
        }
        for (i = 0; i < sk_X509_CRL_num(v->crl_files); i++)
            sk_X509_CRL_push(crls, sk_X509_CRL_value(v->crl_files, i));
        /* a CRL that another fetch brought in the meantime counts after all */
        if (x->policy.crl_fetch && cert->crl_url != NULL &&
            (fetched = crl_lookup(v, cert->crl_url)) != NULL) {
            sk_X509_CRL_push(crls, fetched);
            crl_missing = 0;
        }
        err = swi_cert_verify_chain(v->tctx, v->store, cert, crls, fetched != NULL,
                                    x->policy.check_time != 0 ? x->policy.check_time : now);
        pthread_mutex_unlock(&v->trust_lock);
        sk_X509_CRL_free(crls); /* the CRLs themselves stay where they are kept */
        if (err != SW_OK) {
            fail(v, x, err);
            sw_cert_free(cert);
            return;
        }
    }
    if (crl_missing && expires > now + x->policy.negative_ttl)
        expires = now + x->policy.negative_ttl;
    finish(v, x->entry, SW_OK, "", cert, expires);
}

/*
 * The leaf's CRL could not be had (the detail is in the fetch thread's context): by the
 * policy, the certificate fails with SW_ERR_CERT_CRL, or goes on without that CRL.
 */
static void crl_unavailable(sw_verifier *v, struct swi_xfer *x, sw_cert *cert, int64_t expires)
{
    int tolerate = x->policy.crl_unreachable != 0;

    pthread_mutex_lock(&v->lock);
    v->stats.crl_failures++;
    if (tolerate)
        v->stats.crl_tolerated++;
    pthread_mutex_unlock(&v->lock);
    if (tolerate) {
        complete_cert(v, x, cert, expires, 1);
        return;
    }
    fail(v, x, SW_ERR_CERT_CRL);
    sw_cert_free(cert);
}

static void start_xfer(sw_verifier *v, struct swi_xfer *x);
static int begin_xfer(sw_verifier *v, struct swi_xfer *x);
static int has_local(const sw_verifier *v, const char *url);

static void cache_path(const char *dir, const char *url, char *path, size_t size)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    size_t i;

    SHA256((const unsigned char *)url, strlen(url), md);
    for (i = 0; i < sizeof(md); i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(path, size, "%s/%s.pem", dir, hex);
}

/* Atomic: a reader sees the old file or the whole new one, never half. */
static void disk_store(const char *dir, const char *url, const char *body, size_t len,
                       int64_t expires)
{
    char path[4096], tmp[4200];
    FILE *f;
    int fd, ok;

    cache_path(dir, url, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
        return;
    if ((f = fdopen(fd, "wb")) == NULL) {
        close(fd);
        unlink(tmp);
        return;
    }
    ok = fprintf(f, "stirwire-cache 1 %lld %s\n", (long long)expires, url) > 0 &&
         fwrite(body, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

/* The chain to the anchors with the CRL files only (no fetched CRL required). */
static sw_err chain_precheck(sw_verifier *v, const sw_cert *cert, int64_t now)
{
    STACK_OF(X509_CRL) * crls;
    sw_err err;
    int i;

    pthread_mutex_lock(&v->trust_lock);
    if (!v->anchors) {
        pthread_mutex_unlock(&v->trust_lock);
        return swi_fail(v->tctx, SW_ERR_CERT_UNTRUSTED,
                        "no trust anchors are configured (CA file or directory)");
    }
    if ((crls = sk_X509_CRL_new_null()) == NULL) {
        pthread_mutex_unlock(&v->trust_lock);
        return swi_fail(v->tctx, SW_ERR_NOMEM, "out of memory");
    }
    for (i = 0; i < sk_X509_CRL_num(v->crl_files); i++)
        sk_X509_CRL_push(crls, sk_X509_CRL_value(v->crl_files, i));
    err = swi_cert_verify_chain(v->tctx, v->store, cert, crls, 0, now);
    pthread_mutex_unlock(&v->trust_lock);
    sk_X509_CRL_free(crls);
    return err;
}

static void body_done(sw_verifier *v, struct swi_xfer *x, const char *body, size_t len,
                      int64_t expires, int from_disk)
{
    int64_t now = (int64_t)time(NULL);
    /* judged at the configured time (a capture's), else now */
    int64_t at = x->policy.check_time != 0 ? x->policy.check_time : now;
    sw_cert *cert;
    sw_err err;

    if ((err = sw_cert_load_pem(v->tctx, body, len, &cert)) != SW_OK) {
        fail(v, x, err);
        return;
    }
    if ((err = sw_cert_check(v->tctx, cert, at)) != SW_OK) {
        fail(v, x, err);
        sw_cert_free(cert);
        return;
    }
    /* kept no longer than it is valid, unless it is judged at another time than now */
    if (x->policy.check_time == 0 && expires > cert->not_after)
        expires = cert->not_after;
    if (!from_disk && x->cache_dir != NULL)
        disk_store(x->cache_dir, x->url, body, len, expires);
    if (x->policy.require_chain && x->policy.crl_fetch && cert->crl_url != NULL &&
        crl_lookup(v, cert->crl_url) == NULL) {
        struct swi_xfer *c;
        int local;

        /*
         * The chain first, with the CRL files alone: a certificate that does not chain to
         * our anchors (or that a CRL file already revokes) fails now, and the URL it names
         * as its CRL distribution point, which is then only the attacker's word, is
         * never fetched.
         */
        if ((err = chain_precheck(v, cert, at)) != SW_OK) {
            fail(v, x, err);
            sw_cert_free(cert);
            return;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL || (c->url = strdup(cert->crl_url)) == NULL) {
            free(c);
            swi_fail(v->tctx, SW_ERR_NOMEM, "out of memory");
            fail(v, x, SW_ERR_NOMEM);
            sw_cert_free(cert);
            return;
        }
        /* a URL answered locally is not fetched: the fetch policy has nothing to judge */
        pthread_mutex_lock(&v->lock);
        local = has_local(v, c->url);
        pthread_mutex_unlock(&v->lock);
        if (!local && (err = swi_url_allowed(v->tctx, &x->policy, c->url)) != SW_OK) {
            char msg[300];
            snprintf(msg, sizeof(msg), "%s", sw_errmsg(v->tctx));
            swi_fail(v->tctx, SW_ERR_CERT_CRL, "CRL distribution point: %s", msg);
            swi_xfer_free(c);
            crl_unavailable(v, x, cert, expires);
            return;
        }
        /* the CRL transfer answers for the same entry, under the same policy */
        c->policy = x->policy;
        if (x->tls_ca_copy != NULL) {
            if ((c->tls_ca_copy = strdup(x->tls_ca_copy)) == NULL) {
                swi_xfer_free(c);
                swi_fail(v->tctx, SW_ERR_NOMEM, "out of memory");
                fail(v, x, SW_ERR_NOMEM);
                sw_cert_free(cert);
                return;
            }
            c->policy.tls_ca_file = c->tls_ca_copy;
        }
        c->is_crl = 1;
        c->entry = x->entry;
        c->cert = cert;
        c->cert_expires = expires;
        if (begin_xfer(v, c))
            swi_xfer_free(c);
        return;
    }
    complete_cert(v, x, cert, expires, 0);
}

static void crl_done(sw_verifier *v, struct swi_xfer *x, sw_err err)
{
    X509_CRL *crl = NULL;
    sw_cert *cert = x->cert;

    x->cert = NULL;
    if (err == SW_OK) {
        BIO *bio = BIO_new_mem_buf(x->buf, (int)x->len);
        if (bio != NULL && (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) == NULL) {
            const unsigned char *p = (const unsigned char *)x->buf;
            crl = d2i_X509_CRL(NULL, &p, (long)x->len);
        }
        BIO_free(bio);
        ERR_clear_error();
        if (crl == NULL)
            swi_fail(v->tctx, SW_ERR_CERT_CRL, "CRL %s: not a PEM or DER CRL", x->url);
    } else {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s", sw_errmsg(v->tctx));
        swi_fail(v->tctx, SW_ERR_CERT_CRL, "CRL cannot be fetched: %s", msg);
    }
    if (crl == NULL) {
        crl_unavailable(v, x, cert, x->cert_expires);
        return;
    }
    crl_store(v, x->url, crl, x->policy.min_ttl);
    complete_cert(v, x, cert, x->cert_expires, 0);
}

static void xfer_done(sw_verifier *v, struct swi_xfer *x, CURLcode rc)
{
    int64_t now = (int64_t)time(NULL), ttl = x->policy.min_ttl;
    sw_err err;

    if (!x->is_crl) { /* CRL downloads are counted in crl_fetches */
        pthread_mutex_lock(&v->lock);
        v->stats.fetches++;
        pthread_mutex_unlock(&v->lock);
    }
    err = swi_xfer_result(v->tctx, x, rc);
    if (x->is_crl) {
        crl_done(v, x, err);
        return;
    }
    if (err != SW_OK) {
        fail(v, x, err);
        return;
    }
    /* the server's lifetime counts when it is longer than our minimum */
    if (x->max_age > ttl)
        ttl = x->max_age;
    else if (x->max_age < 0 && x->expires_hdr - now > ttl)
        ttl = x->expires_hdr - now;
    body_done(v, x, x->buf, x->len, now + ttl, 0);
}

/* A fresh copy in the cache directory answers without the network. */
static int disk_lookup(sw_verifier *v, struct swi_xfer *x)
{
    char path[4096], head[2200], url[2100];
    long long expires;
    FILE *f;
    char *body;
    size_t n;

    if (x->cache_dir == NULL)
        return 0;
    cache_path(x->cache_dir, x->url, path, sizeof(path));
    if ((f = fopen(path, "rb")) == NULL)
        return 0;
    if (fgets(head, sizeof(head), f) == NULL ||
        sscanf(head, "stirwire-cache 1 %lld %2047s", &expires, url) != 2 ||
        strcmp(url, x->url) != 0 || expires <= (long long)time(NULL) ||
        (body = malloc((size_t)x->policy.max_bytes + 1)) == NULL) {
        fclose(f);
        return 0;
    }
    n = fread(body, 1, (size_t)x->policy.max_bytes + 1, f);
    fclose(f);
    if (n == 0 || n > (size_t)x->policy.max_bytes) {
        free(body);
        return 0;
    }
    x->entry->disk = 1; /* a cache hit, not a fetch: fetch_count does not see it */
    body_done(v, x, body, n, (int64_t)expires, 1);
    free(body);
    return 1;
}

/* A local answer (sw_verifier_add_local) serves x's URL, a certificate or a CRL, offline. */
static int local_lookup(sw_verifier *v, struct swi_xfer *x)
{
    struct swi_local *l;
    char *body = NULL;
    size_t len = 0;

    pthread_mutex_lock(&v->lock);
    for (l = v->locals; l != NULL; l = l->next)
        if (strcmp(l->url, x->url) == 0)
            break;
    if (l != NULL && (body = malloc(l->len)) != NULL) {
        memcpy(body, l->body, l->len);
        len = l->len;
    }
    pthread_mutex_unlock(&v->lock);
    if (body == NULL)
        return 0;
    if (x->is_crl) { /* a CRL distribution point answered locally: as if downloaded */
        free(x->buf);
        x->buf = body;
        x->len = len;
        crl_done(v, x, SW_OK);
        return 1;
    }
    x->entry->disk = 1; /* not a fetch: fetch_count does not see it */
    body_done(v, x, body, len, (int64_t)time(NULL) + x->policy.min_ttl, 1);
    free(body);
    return 1;
}

/* Offline (SW_OPT_OFFLINE): what no local answer or cache file served fails here. */
static void offline_fail(sw_verifier *v, struct swi_xfer *x)
{
    swi_fail(v->tctx, SW_ERR_CERT_UNAVAILABLE,
             "offline: no local certificate for %s (and fetching is off)", x->url);
    if (x->is_crl)
        crl_done(v, x, SW_ERR_CERT_UNAVAILABLE);
    else
        fail(v, x, SW_ERR_CERT_UNAVAILABLE);
}

/*
 * Where a transfer (an x5u certificate or a CRL) is answered from, in order: a local
 * answer, the cache directory (certificates only: a CRL transfer has no cache_dir), and,
 * unless the verifier is offline, the network. Returns 1 when x has ended here (the
 * caller frees it), 0 when it is under way in the multi handle. Fetch thread only.
 */
static int begin_xfer(sw_verifier *v, struct swi_xfer *x)
{
    if (local_lookup(v, x) || disk_lookup(v, x))
        return 1;
    if (x->policy.offline) {
        offline_fail(v, x);
        return 1;
    }
    if (x->is_crl) { /* CRL downloads are counted when they start */
        pthread_mutex_lock(&v->lock);
        v->stats.crl_fetches++;
        pthread_mutex_unlock(&v->lock);
    }
    start_xfer(v, x);
    return 0;
}

/* Only the fetch thread calls this. */
static void start_xfer(sw_verifier *v, struct swi_xfer *x)
{
    if (swi_xfer_setup(x) != 0) {
        swi_fail(v->tctx, SW_ERR_NOMEM, "cannot set up a transfer for %s", x->url);
        if (x->is_crl)
            crl_done(v, x, SW_ERR_NOMEM);
        else
            fail(v, x, SW_ERR_NOMEM);
        swi_xfer_free(x);
        return;
    }
    x->next = v->active;
    v->active = x;
    curl_multi_add_handle(v->multi, x->easy);
}

static void active_remove(sw_verifier *v, struct swi_xfer *x)
{
    struct swi_xfer **pp = &v->active;

    while (*pp != NULL && *pp != x)
        pp = &(*pp)->next;
    if (*pp == x)
        *pp = x->next;
    x->next = NULL;
}

static void *fetch_thread(void *arg)
{
    sw_verifier *v = arg;
    struct swi_xfer *q, *x;
    CURLMsg *msg;
    int running, left;

    for (;;) {
        pthread_mutex_lock(&v->lock);
        q = v->queue;
        v->queue = NULL;
        running = v->stopping;
        pthread_mutex_unlock(&v->lock);
        if (running)
            break;
        while ((x = q) != NULL) {
            q = x->next;
            x->next = NULL;
            if (begin_xfer(v, x))
                swi_xfer_free(x);
        }
        curl_multi_perform(v->multi, &running);
        while ((msg = curl_multi_info_read(v->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(v->multi, msg->easy_handle);
            if (x != NULL) {
                active_remove(v, x);
                xfer_done(v, x, msg->data.result);
                swi_xfer_free(x);
            }
        }
        curl_multi_poll(v->multi, NULL, 0, 1000, NULL);
    }
    /* Shutting down: everything still queued or in flight fails, and its callers hear. */
    swi_fail(v->tctx, SW_ERR_CERT_CONNECT, "the verifier is shutting down");
    while ((x = v->active) != NULL) {
        v->active = x->next;
        curl_multi_remove_handle(v->multi, x->easy);
        x->next = q;
        q = x;
    }
    pthread_mutex_lock(&v->lock);
    x = v->queue;
    v->queue = NULL;
    pthread_mutex_unlock(&v->lock);
    while (x != NULL) {
        struct swi_xfer *n = x->next;
        x->next = q;
        q = x;
        x = n;
    }
    while ((x = q) != NULL) {
        q = x->next;
        fail(v, x, SW_ERR_CERT_CONNECT);
        swi_xfer_free(x);
    }
    return NULL;
}

/* --- public lookups -------------------------------------------------------------------- */

/* Under v->lock: url has a local answer. */
static int has_local(const sw_verifier *v, const char *url)
{
    const struct swi_local *l;

    for (l = v->locals; l != NULL; l = l->next)
        if (strcmp(l->url, url) == 0)
            return 1;
    return 0;
}

sw_err sw_verifier_add_local(sw_verifier *v, const char *url, const void *body, size_t len)
{
    struct swi_local *l;
    char *u, *b;

    if (v == NULL || url == NULL || url[0] == '\0' || body == NULL || len == 0 ||
        len > LOCAL_BODY_MAX)
        return SW_ERR_INVAL;
    if ((u = strdup(url)) == NULL || (b = malloc(len)) == NULL) {
        free(u);
        return SW_ERR_NOMEM;
    }
    memcpy(b, body, len);
    pthread_mutex_lock(&v->lock);
    for (l = v->locals; l != NULL; l = l->next)
        if (strcmp(l->url, url) == 0)
            break;
    if (l != NULL) { /* replaces the body */
        free(l->body);
        l->body = b;
        l->len = len;
        free(u);
    } else if (v->nlocals >= LOCAL_MAX || (l = calloc(1, sizeof(*l))) == NULL) {
        pthread_mutex_unlock(&v->lock);
        free(u);
        free(b);
        return v->nlocals >= LOCAL_MAX ? SW_ERR_INVAL : SW_ERR_NOMEM;
    } else {
        l->url = u;
        l->body = b;
        l->len = len;
        l->next = v->locals;
        v->locals = l;
        v->nlocals++;
    }
    pthread_mutex_unlock(&v->lock);
    return SW_OK;
}

static sw_err get_cert(sw_verifier *v, sw_ctx *ctx, const char *url, sw_fetch_cb cb, void *arg,
                       struct waitsync *sync, sw_cert **out)
{
    int64_t now = (int64_t)time(NULL);
    struct swi_entry *e;
    struct swi_waiter *w = NULL;
    struct swi_xfer *x;
    uint64_t h;
    sw_err err;
    int created = 0;

    if (out != NULL)
        *out = NULL;
    if (v == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no verifier or output given");
    if (url == NULL || url[0] == '\0')
        return swi_fail(ctx, SW_ERR_INFO_MISSING, "no certificate URL");
    h = fnv1a(url);
    pthread_mutex_lock(&v->lock);
    if (!v->started && (err = start_thread(v, ctx)) != SW_OK) {
        pthread_mutex_unlock(&v->lock);
        return err;
    }
    e = lookup(v, url, h);
    if (e != NULL && e->state == E_GOOD && now < e->expires) {
        *out = swi_cert_ref(e->cert);
        lru_unlink(e);
        lru_push_front(v, e);
        v->stats.cache_hits++;
        pthread_mutex_unlock(&v->lock);
        return SW_OK;
    }
    if (e != NULL && e->state == E_BAD && now < e->expires) {
        char msg[sizeof(e->errmsg)];
        int64_t left = e->expires - now;
        err = e->err;
        snprintf(msg, sizeof(msg), "%s", e->errmsg);
        v->stats.negative_hits++;
        pthread_mutex_unlock(&v->lock);
        return swi_fail(ctx, err, "%s (failure remembered for %lld s more)", msg, (long long)left);
    }
    if ((cb != NULL || sync != NULL) && (w = calloc(1, sizeof(*w))) == NULL) {
        pthread_mutex_unlock(&v->lock);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    if (w != NULL) {
        w->cb = cb;
        w->arg = arg;
        w->sync = sync;
    }
    if (e != NULL && e->state == E_FETCHING) {
        if (w != NULL) {
            w->next = e->waiters;
            e->waiters = w;
        }
        pthread_mutex_unlock(&v->lock);
        return SW_ERR_PENDING;
    }
    /* A miss: the policy is checked before anything is queued (and never cached). */
    if (v->policy.require_chain && !v->anchors)
        err = swi_fail(ctx, SW_ERR_CERT_UNTRUSTED,
                       "no trust anchors are configured (CA file or directory) to check %s", url);
    else if (has_local(v, url)) /* answered locally: nothing is fetched, no policy to apply */
        err = SW_OK;
    else
        err = swi_url_allowed(ctx, &v->policy, url);
    if (err != SW_OK) {
        pthread_mutex_unlock(&v->lock);
        free(w);
        return err;
    }
    x = calloc(1, sizeof(*x));
    if (e == NULL && x != NULL && (e = calloc(1, sizeof(*e))) != NULL) {
        if ((e->url = strdup(url)) == NULL) {
            free(e);
            e = NULL;
        } else {
            e->hash = h;
            e->hnext = v->buckets[h & (v->nbuckets - 1)];
            v->buckets[h & (v->nbuckets - 1)] = e;
            lru_push_front(v, e);
            v->count++;
            created = 1;
        }
    }
    /* the transfer gets its own copy of the settings and strings: they may change later */
    if (x == NULL || e == NULL || (x->url = strdup(url)) == NULL ||
        (v->tls_ca_file != NULL && (x->tls_ca_copy = strdup(v->tls_ca_file)) == NULL) ||
        (v->cache_dir != NULL && (x->cache_dir = strdup(v->cache_dir)) == NULL)) {
        if (created) /* no transfer will ever finish it */
            remove_entry(v, e);
        pthread_mutex_unlock(&v->lock);
        swi_xfer_free(x);
        free(w);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    e->state = E_FETCHING;
    if (w != NULL) {
        w->next = e->waiters;
        e->waiters = w;
    }
    x->policy = v->policy;
    x->policy.tls_ca_file = x->tls_ca_copy;
    x->entry = e;
    x->next = v->queue;
    v->queue = x;
    v->stats.cache_misses++;
    evict(v);
    pthread_mutex_unlock(&v->lock);
    curl_multi_wakeup(v->multi);
    return swi_fail(ctx, SW_ERR_PENDING, "fetching %s", url);
}

sw_err sw_verifier_get_cert(sw_verifier *v, sw_ctx *ctx, const char *url, sw_fetch_cb cb, void *arg,
                            sw_cert **out)
{
    return get_cert(v, ctx, url, cb, arg, NULL, out);
}

sw_err sw_verifier_get_cert_wait(sw_verifier *v, sw_ctx *ctx, const char *url, sw_cert **out)
{
    struct waitsync ws;
    sw_err err;

    memset(&ws, 0, sizeof(ws));
    if ((err = get_cert(v, ctx, url, NULL, NULL, &ws, out)) != SW_ERR_PENDING)
        return err;
    pthread_mutex_lock(&v->lock);
    while (!ws.done)
        pthread_cond_wait(&v->cond, &v->lock);
    pthread_mutex_unlock(&v->lock);
    *out = ws.cert;
    if (ws.result != SW_OK)
        return swi_fail(ctx, ws.result, "%s", ws.msg);
    return SW_OK;
}

/* --- full verification ----------------------------------------------------------------- */

static sw_err verify_with_cert(sw_ctx *ctx, const sw_identity *id, sw_cert *cert)
{
    sw_err err;

    /* the certificate must have been valid when the token was signed */
    if ((err = sw_cert_check(ctx, cert, sw_passport_iat(id->pp))) == SW_OK)
        err = swi_es256_verify(ctx, cert->pub->pkey, id->signing_input, id->signing_input_len,
                               id->sig);
    snprintf(ctx->last_spc, sizeof(ctx->last_spc), "%s", cert->spc);
    sw_cert_free(cert);
    return err;
}

sw_err sw_verify_identity(sw_ctx *ctx, sw_verifier *v, const sw_identity *id, const char *orig_tn,
                          const char *dest_tn, sw_fetch_cb cb, void *arg)
{
    sw_cert *cert;
    sw_err err;

    if (ctx == NULL)
        return SW_ERR_INVAL;
    ctx->last_spc[0] = '\0';
    /* cheap checks first: a stale or malformed token never makes us fetch anything */
    if ((err = swi_verify_token(ctx, id, orig_tn, dest_tn)) != SW_OK)
        return err;
    if ((err = sw_verifier_get_cert(v, ctx, sw_identity_info(id), cb, arg, &cert)) != SW_OK)
        return err;
    return verify_with_cert(ctx, id, cert);
}

sw_err sw_verify_identity_wait(sw_ctx *ctx, sw_verifier *v, const sw_identity *id,
                               const char *orig_tn, const char *dest_tn)
{
    sw_cert *cert;
    sw_err err;

    if (ctx == NULL)
        return SW_ERR_INVAL;
    ctx->last_spc[0] = '\0';
    if ((err = swi_verify_token(ctx, id, orig_tn, dest_tn)) != SW_OK)
        return err;
    if ((err = sw_verifier_get_cert_wait(v, ctx, sw_identity_info(id), &cert)) != SW_OK)
        return err;
    return verify_with_cert(ctx, id, cert);
}

const char *sw_ctx_last_spc(const sw_ctx *ctx)
{
    return (ctx != NULL && ctx->last_spc[0]) ? ctx->last_spc : NULL;
}
