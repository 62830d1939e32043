/*
 * fetch_test.c - the verifier against a real HTTPS server: x5u fetching, the fetch policy,
 * every defect of the test PKI with its own error, the CRL from the distribution point,
 * the cache (Cache-Control lifetimes, one fetch for many callers, the negative cache, the
 * cache directory) and the promise that no caller waits on someone else's slow fetch.
 *
 * Run by tests/integration/fetch.sh, which makes the PKI (tools/pki/make-test-pki.sh)
 * with its CRL distribution point on the server it starts (https_server.py), and passes
 * PKI_DIR and BASE_URL (https://127.0.0.1:PORT). The server counts requests per path
 * (GET /count), so "exactly one fetch" is asserted on what the server saw, not only on
 * the library's own counters. Every test builds its own verifier, so the caches of one
 * test never answer for another; counts are compared before and after, never absolute.
 *
 * The server is on 127.0.0.1 with a random port: the verifiers here turn on the lab
 * switches (ALLOW_PRIVATE, ALLOW_ANY_PORT, ALLOW_QUERY where a query is needed) except
 * where the test is about the switch itself.
 *
 * fetch.sh also serves deadcrl-*: a second STI PKI (another root, deadcrl-root.pem) whose
 * CRL distribution point is https://127.0.0.1:1, where nothing listens. Nothing here
 * connects anywhere but 127.0.0.1: the other private addresses in the ALLOW_NETS test are
 * refused before a socket exists.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stirwire.h"

#define ORIG "12025550100"
#define DEST "12025550199"
#define SPC "1234"

static const char *pki_dir;  /* env PKI_DIR */
static const char *base_url; /* env BASE_URL, https://127.0.0.1:PORT */
static sw_key *sp_key;       /* sp.key: signs the tokens that sp-chain.pem verifies */

/* --- helpers ----------------------------------------------------------------------------- */

/* A string made with printf (free). */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, f);
    n = vasprintf(&s, f, ap);
    va_end(ap);
    assert_true(n >= 0);
    return s;
}

static char *pki(const char *name)
{
    return fmt("%s/%s", pki_dir, name);
}

static char *url(const char *path)
{
    return fmt("%s%s", base_url, path);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0, n = size * nmemb;
    char *p = realloc(*buf, old + n + 1);

    if (p == NULL)
        return 0;
    memcpy(p + old, data, n);
    p[old + n] = '\0';
    *buf = p;
    return n;
}

/* The server's request counts, GET /count: {"/path": n, ...} (json_decref). */
static json_t *server_counts(void)
{
    char *u = url("/count"), *ca = pki("tls-ca.pem"), *body = NULL;
    CURL *c = curl_easy_init();
    json_t *root;

    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    assert_non_null(body);
    root = json_loads(body, 0, NULL);
    assert_true(json_is_object(root));
    free(body);
    free(ca);
    free(u);
    return root;
}

/* How many requests the server has seen for path (without the query). */
static long server_count(const char *path)
{
    json_t *root = server_counts(), *n = json_object_get(root, path);
    long count = json_is_integer(n) ? (long)json_integer_value(n) : 0;

    json_decref(root);
    return count;
}

/* Requests for every path together. */
static long server_total(void)
{
    json_t *root = server_counts(), *n;
    const char *k;
    long total = 0;

    json_object_foreach(root, k, n)
        total += (long)json_integer_value(n);
    json_decref(root);
    return total;
}

/* A bare verifier: nothing but the TLS CA of the test server and the given timeouts. */
static sw_verifier *bare_verifier(void)
{
    sw_verifier *v = sw_verifier_new();
    char *tls = pki("tls-ca.pem");

    assert_non_null(v);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_TLS_CA_FILE, tls), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CONNECT_TIMEOUT_MS, 1000), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_TIMEOUT_MS, 3000), SW_OK);
    free(tls);
    return v;
}

/* The lab verifier: trusts root.pem, may fetch from 127.0.0.1 on any port. */
static sw_verifier *lab_verifier(void)
{
    sw_verifier *v = bare_verifier();
    sw_ctx *ctx = sw_ctx_new();
    char *root = pki("root.pem");

    assert_non_null(ctx);
    assert_int_equal(sw_verifier_load_ca_file(v, ctx, root), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 1), SW_OK);
    sw_ctx_free(ctx);
    free(root);
    return v;
}

static sw_verifier *lab_verifier_query(void)
{
    sw_verifier *v = lab_verifier();

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_QUERY, 1), SW_OK);
    return v;
}

/* sw_verifier_get_cert_wait() for BASE_URL + path; the certificate is dropped. */
static sw_err get(sw_verifier *v, const char *path)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    char *u = url(path);
    sw_err err;

    assert_non_null(ctx);
    err = sw_verifier_get_cert_wait(v, ctx, u, &cert);
    if (err != SW_OK)
        print_message("    %s: %s (%s)\n", path, sw_err_name(err), sw_errmsg(ctx));
    assert_true((err == SW_OK) == (cert != NULL));
    sw_cert_free(cert);
    sw_ctx_free(ctx);
    free(u);
    return err;
}

/* An Identity header value signed with sp.key, x5u = x5u, at iat (sw_free). */
static char *sign_header(const char *x5u, int64_t iat)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_passport *pp = sw_passport_new();
    char *hdr = NULL;

    assert_non_null(ctx);
    assert_non_null(pp);
    assert_int_equal(sw_passport_set_attest(pp, 'A'), SW_OK);
    assert_int_equal(sw_passport_set_orig_tn(pp, ORIG), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, DEST), SW_OK);
    assert_int_equal(sw_passport_set_iat(pp, iat), SW_OK);
    assert_int_equal(sw_passport_set_x5u(pp, x5u), SW_OK);
    assert_int_equal(sw_sign(ctx, sp_key, pp, 0, &hdr), SW_OK);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
    return hdr;
}

static sw_identity *parse(const char *hdr)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = NULL;

    assert_non_null(ctx);
    assert_int_equal(sw_identity_parse(ctx, hdr, strlen(hdr), &id), SW_OK);
    sw_ctx_free(ctx);
    return id;
}

/* A fresh token for BASE_URL + path, parsed. */
static sw_identity *token_for(const char *path, int64_t iat)
{
    char *u = url(path), *hdr = sign_header(u, iat);
    sw_identity *id = parse(hdr);

    sw_free(hdr);
    free(u);
    return id;
}

/* A callback that counts its calls and lets a test wait for the first. */
struct done {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    sw_err result;
};

static void done_init(struct done *d)
{
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->calls = 0;
    d->result = SW_ERR_PENDING;
}

static void done_cb(void *arg, sw_err result)
{
    struct done *d = arg;

    pthread_mutex_lock(&d->lock);
    d->calls++;
    d->result = result;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* Waits up to ms for the callback; returns its result (SW_ERR_PENDING if it never came). */
static sw_err done_wait(struct done *d, long ms)
{
    struct timespec until;
    sw_err r;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->lock);
    while (d->calls == 0 && pthread_cond_timedwait(&d->cond, &d->lock, &until) == 0)
        ;
    r = d->calls ? d->result : SW_ERR_PENDING;
    pthread_mutex_unlock(&d->lock);
    return r;
}

static int done_calls(struct done *d)
{
    int n;

    pthread_mutex_lock(&d->lock);
    n = d->calls;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static void done_destroy(struct done *d)
{
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
}

static sw_verifier_stats stats(sw_verifier *v)
{
    sw_verifier_stats s;

    memset(&s, 0, sizeof(s));
    sw_verifier_get_stats(v, &s);
    return s;
}

/* --- the good certificate ------------------------------------------------------------------ */

static void good_chain_is_fetched_and_validated(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    char *u = url("/sp-chain.pem");

    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, u, &cert), SW_OK);
    assert_non_null(cert);
    assert_non_null(sw_cert_spc(cert));
    assert_string_equal(sw_cert_spc(cert), SPC);
    assert_int_equal(sw_cert_chain_length(cert), 1);
    sw_cert_free(cert);
    free(u);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void good_token_verifies_with_the_fetched_certificate(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = token_for("/sp-chain.pem", (int64_t)time(NULL));
    sw_err err;

    err = sw_verify_identity_wait(ctx, v, id, ORIG, DEST);
    if (err != SW_OK)
        print_message("    %s\n", sw_errmsg(ctx));
    assert_int_equal(err, SW_OK);
    assert_non_null(sw_ctx_last_spc(ctx));
    assert_string_equal(sw_ctx_last_spc(ctx), SPC);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* --- what the server answers ------------------------------------------------------------- */

static void status_404_is_http_status(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/404"), SW_ERR_CERT_HTTP_STATUS);
    sw_verifier_free(v);
}

static void status_500_is_http_status(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/500"), SW_ERR_CERT_HTTP_STATUS);
    sw_verifier_free(v);
}

static void slow_server_times_out(void **state)
{
    sw_verifier *v = lab_verifier_query();
    double t0;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_TIMEOUT_MS, 500), SW_OK);
    t0 = now_s();
    assert_int_equal(get(v, "/slow?ms=3000"), SW_ERR_CERT_TIMEOUT);
    assert_true(now_s() - t0 < 2.5);
    sw_verifier_free(v);
}

static void big_response_is_too_large(void **state)
{
    sw_verifier *v = lab_verifier_query();

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_MAX_BYTES, 32768), SW_OK);
    assert_int_equal(get(v, "/big?bytes=100000"), SW_ERR_CERT_TOO_LARGE);
    sw_verifier_free(v);
}

static void redirect_is_not_followed(void **state)
{
    sw_verifier *v = lab_verifier();
    long before = server_count("/sp-chain.pem");

    assert_int_equal(get(v, "/redirect"), SW_ERR_CERT_REDIRECT);
    assert_int_equal(server_count("/sp-chain.pem"), before);
    sw_verifier_free(v);
}

static void garbage_is_parse_error(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/garbage"), SW_ERR_CERT_PARSE);
    sw_verifier_free(v);
}

/* --- the fetch policy ---------------------------------------------------------------------- */

static void loopback_name_is_private_by_default(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    const char *port = strrchr(base_url, ':');
    char *u = fmt("https://localhost%s/sp-chain.pem", port);
    long before = server_count("/sp-chain.pem");

    assert_non_null(port);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 0), SW_OK);
    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, u, &cert), SW_ERR_CERT_PRIVATE);
    assert_null(cert);
    assert_int_equal(server_count("/sp-chain.pem"), before);
    free(u);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void loopback_address_is_private_by_default(void **state)
{
    sw_verifier *v = lab_verifier();

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 0), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_ERR_CERT_PRIVATE);
    sw_verifier_free(v);
}

/* Policy refusals come straight back from sw_verifier_get_cert(), before any queueing. */
static void expect_policy_refusal(sw_verifier *v, const char *u)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    sw_verifier_stats s;

    assert_int_equal(sw_verifier_get_cert(v, ctx, u, NULL, NULL, &cert), SW_ERR_CERT_URL);
    assert_null(cert);
    s = stats(v);
    assert_int_equal(s.fetches, 0);
    assert_int_equal(s.cache_misses, 0);
    sw_ctx_free(ctx);
}

static void http_url_is_refused_by_default(void **state)
{
    /* the default policy, with trust anchors (without them nothing is even considered) */
    sw_verifier *v = sw_verifier_new();
    sw_ctx *ctx = sw_ctx_new();
    const char *hostport = strstr(base_url, "://");
    char *u = fmt("http%s/sp-chain.pem", hostport), *root = pki("root.pem");

    assert_int_equal(sw_verifier_load_ca_file(v, ctx, root), SW_OK);
    expect_policy_refusal(v, u);
    free(root);
    free(u);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void other_port_is_refused_without_allow_any_port(void **state)
{
    sw_verifier *v = lab_verifier();
    char *u = url("/sp-chain.pem");

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 0), SW_OK);
    expect_policy_refusal(v, u);
    free(u);
    sw_verifier_free(v);
}

static void query_is_refused_without_allow_query(void **state)
{
    sw_verifier *v = lab_verifier();
    char *u = url("/cachecontrol?max_age=60&file=sp-chain.pem");

    expect_policy_refusal(v, u);
    free(u);
    sw_verifier_free(v);
}

/* --- each defect of the test PKI, its own error -------------------------------------------- */

static void expired_chain_is_expired(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/expired-chain.pem"), SW_ERR_CERT_EXPIRED);
    sw_verifier_free(v);
}

static void notyet_chain_is_not_yet_valid(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/notyet-chain.pem"), SW_ERR_CERT_NOT_YET_VALID);
    sw_verifier_free(v);
}

static void notnauth_chain_has_no_tnauth(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/notnauth-chain.pem"), SW_ERR_CERT_TNAUTH);
    sw_verifier_free(v);
}

static void p384_chain_has_wrong_key(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/p384-chain.pem"), SW_ERR_CERT_KEY);
    sw_verifier_free(v);
}

static void rsa_chain_has_wrong_key(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/rsa-chain.pem"), SW_ERR_CERT_KEY);
    sw_verifier_free(v);
}

static void selfsigned_chain_is_untrusted(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/selfsigned-chain.pem"), SW_ERR_CERT_UNTRUSTED);
    sw_verifier_free(v);
}

static void revoked_chain_is_revoked_by_the_fetched_crl(void **state)
{
    sw_verifier *v = lab_verifier();
    long before = server_count("/inter.crl");

    assert_int_equal(get(v, "/revoked-chain.pem"), SW_ERR_CERT_REVOKED);
    /* the CRL came from the distribution point, the test server */
    assert_int_equal(server_count("/inter.crl"), before + 1);
    assert_int_equal(stats(v).crl_fetches, 1);
    sw_verifier_free(v);
}

static void revoked_chain_is_revoked_by_a_crl_file(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    char *crl = pki("inter.crl");
    long before = server_count("/inter.crl");

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0), SW_OK);
    assert_int_equal(sw_verifier_load_crl_file(v, ctx, crl), SW_OK);
    assert_int_equal(get(v, "/revoked-chain.pem"), SW_ERR_CERT_REVOKED);
    assert_int_equal(server_count("/inter.crl"), before);
    assert_int_equal(stats(v).crl_fetches, 0);
    free(crl);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void wrongpolicy_chain_lacks_the_policy(void **state)
{
    sw_verifier *v = lab_verifier();
    assert_int_equal(get(v, "/wrongpolicy-chain.pem"), SW_ERR_CERT_POLICY);
    sw_verifier_free(v);
}

static void no_trust_anchors_is_untrusted(void **state)
{
    sw_verifier *v = bare_verifier();
    long before = server_total();

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 1), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_ERR_CERT_UNTRUSTED);
    /* nothing could be trusted, so nothing was fetched */
    assert_int_equal(stats(v).fetches, 0);
    assert_int_equal(server_total(), before);
    sw_verifier_free(v);
}

/* --- cache lifetimes ----------------------------------------------------------------------- */

static void cache_control_max_age_is_honoured(void **state)
{
    sw_verifier *v = lab_verifier_query();
    const char *path = "/cachecontrol?max_age=3&file=sp-chain.pem";
    long before = server_count("/cachecontrol");
    sw_verifier_stats s0, s1;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_MIN_TTL, 1), SW_OK);
    assert_int_equal(get(v, path), SW_OK);
    assert_int_equal(server_count("/cachecontrol"), before + 1);
    s0 = stats(v);
    assert_int_equal(get(v, path), SW_OK);
    s1 = stats(v);
    assert_int_equal(server_count("/cachecontrol"), before + 1);
    assert_int_equal(s1.cache_hits, s0.cache_hits + 1);
    assert_int_equal(s1.fetches, s0.fetches);
    sleep_ms(4500);
    assert_int_equal(get(v, path), SW_OK);
    assert_int_equal(server_count("/cachecontrol"), before + 2);
    sw_verifier_free(v);
}

static void min_ttl_outlives_a_short_max_age(void **state)
{
    sw_verifier *v = lab_verifier_query();
    const char *path = "/cachecontrol?max_age=1&file=sp-chain.pem";
    long before = server_count("/cachecontrol");
    sw_verifier_stats s0;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_MIN_TTL, 86400), SW_OK);
    assert_int_equal(get(v, path), SW_OK);
    s0 = stats(v);
    sleep_ms(2000);
    assert_int_equal(get(v, path), SW_OK);
    assert_int_equal(server_count("/cachecontrol"), before + 1);
    assert_int_equal(stats(v).cache_hits, s0.cache_hits + 1);
    sw_verifier_free(v);
}

/*
 * The callers of a fetch get its result even when the result is not to be kept: with
 * MIN_TTL 0 and no lifetime from the server, or NEGATIVE_TTL 0, the answer is still the
 * answer to the question that started the fetch, and one question makes one request.
 */
static void zero_min_ttl_still_answers_the_caller_once(void **state)
{
    sw_verifier *v = lab_verifier();
    long before = server_count("/sp-chain.pem");

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_MIN_TTL, 0), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(server_count("/sp-chain.pem"), before + 1);
    sw_verifier_free(v);
}

static void zero_negative_ttl_fetches_a_failure_once(void **state)
{
    sw_verifier *v = lab_verifier();
    long before = server_count("/404");

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_NEGATIVE_TTL, 0), SW_OK);
    assert_int_equal(get(v, "/404"), SW_ERR_CERT_HTTP_STATUS);
    assert_int_equal(server_count("/404"), before + 1);
    sw_verifier_free(v);
}

/* --- one URL, one fetch -------------------------------------------------------------------- */

#define NTHREADS 100

struct worker {
    pthread_t thread;
    sw_verifier *v;
    const char *hdr;
    pthread_barrier_t *start;
    sw_err result;
};

static void *verify_worker(void *arg)
{
    struct worker *w = arg;
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = NULL;

    w->result = SW_ERR_NOMEM;
    if (ctx != NULL && sw_identity_parse(ctx, w->hdr, strlen(w->hdr), &id) == SW_OK) {
        pthread_barrier_wait(w->start);
        w->result = sw_verify_identity_wait(ctx, w->v, id, ORIG, DEST);
    } else {
        pthread_barrier_wait(w->start);
    }
    sw_identity_free(id);
    sw_ctx_free(ctx);
    return NULL;
}

static void concurrent_callers_share_one_fetch(void **state)
{
    sw_verifier *v = lab_verifier_query();
    static struct worker w[NTHREADS];
    pthread_barrier_t start;
    char path[96], *u, *hdr;
    long before = server_count("/slow");
    sw_verifier_stats s;
    int i, ok = 0;

    /* a URL no cache has seen, answered slowly so that every caller arrives during it */
    snprintf(path, sizeof(path), "/slow?ms=300&n=%ld", (long)getpid());
    u = url(path);
    hdr = sign_header(u, (int64_t)time(NULL));
    assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (i = 0; i < NTHREADS; i++) {
        w[i].v = v;
        w[i].hdr = hdr;
        w[i].start = &start;
        assert_int_equal(pthread_create(&w[i].thread, NULL, verify_worker, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].result == SW_OK;
        if (w[i].result != SW_OK)
            print_message("    thread %d: %s\n", i, sw_err_name(w[i].result));
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(ok, NTHREADS);
    assert_int_equal(server_count("/slow"), before + 1);
    s = stats(v);
    print_message("    stats: fetches %llu, crl_fetches %llu, misses %llu, hits %llu\n",
                  (unsigned long long)s.fetches, (unsigned long long)s.crl_fetches,
                  (unsigned long long)s.cache_misses, (unsigned long long)s.cache_hits);
    assert_true(s.crl_fetches <= 1);
    assert_int_equal(s.cache_misses, 1);
    /* stats.fetches counts x5u fetches; CRL downloads have their own counter */
    assert_int_equal(s.fetches, 1);
    sw_free(hdr);
    free(u);
    sw_verifier_free(v);
}

/* --- the negative cache -------------------------------------------------------------------- */

static void dead_host_is_asked_once_per_negative_ttl(void **state)
{
    sw_verifier *v = lab_verifier();
    const char *u = "https://127.0.0.1:1/x.pem";
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    struct done d;
    sw_verifier_stats s;
    int i;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_NEGATIVE_TTL, 2), SW_OK);
    done_init(&d);
    assert_int_equal(sw_verifier_get_cert(v, ctx, u, done_cb, &d, &cert), SW_ERR_PENDING);
    assert_int_equal(done_wait(&d, 5000), SW_ERR_CERT_CONNECT);
    assert_int_equal(stats(v).fetches, 1);
    for (i = 0; i < 50; i++) {
        assert_int_equal(sw_verifier_get_cert(v, ctx, u, done_cb, &d, &cert), SW_ERR_CERT_CONNECT);
        assert_null(cert);
    }
    s = stats(v);
    assert_int_equal(s.fetches, 1);
    assert_int_equal(s.negative_hits, 50);
    assert_int_equal(s.fetch_failures, 1);
    assert_int_equal(done_calls(&d), 1); /* remembered failures call no callback */
    sleep_ms(2500);
    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, u, &cert), SW_ERR_CERT_CONNECT);
    assert_int_equal(stats(v).fetches, 2);
    done_destroy(&d);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* --- nobody waits on someone else's slow fetch -------------------------------------------- */

static void slow_fetch_does_not_delay_cached_verifications(void **state)
{
    sw_verifier *v = lab_verifier_query();
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = token_for("/sp-chain.pem", (int64_t)time(NULL));
    char *slow = url("/slow?ms=5000");
    sw_cert *cert = NULL;
    struct done d;
    double t0, elapsed;
    int i, ok = 0;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_TIMEOUT_MS, 10000), SW_OK);
    assert_int_equal(sw_verify_identity_wait(ctx, v, id, ORIG, DEST), SW_OK);
    done_init(&d);
    assert_int_equal(sw_verifier_get_cert(v, ctx, slow, done_cb, &d, &cert), SW_ERR_PENDING);
    t0 = now_s();
    for (i = 0; i < 1000; i++)
        ok += sw_verify_identity(ctx, v, id, ORIG, DEST, NULL, NULL) == SW_OK;
    elapsed = now_s() - t0;
    print_message("    1000 cached verifications while a 5 s fetch is pending: %.3f s\n", elapsed);
    assert_int_equal(ok, 1000);
    assert_true(elapsed < 2.0);
    assert_int_equal(done_calls(&d), 0); /* the slow one is still under way */
    assert_int_equal(done_wait(&d, 15000), SW_OK);
    assert_int_equal(sw_verifier_get_cert(v, ctx, slow, NULL, NULL, &cert), SW_OK);
    sw_cert_free(cert);
    done_destroy(&d);
    free(slow);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* --- the asynchronous API ------------------------------------------------------------------ */

static void async_verify_is_pending_then_ok(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = token_for("/sp-chain.pem", (int64_t)time(NULL));
    struct done d;

    done_init(&d);
    assert_int_equal(sw_verify_identity(ctx, v, id, ORIG, DEST, done_cb, &d), SW_ERR_PENDING);
    assert_null(sw_ctx_last_spc(ctx));
    assert_int_equal(done_wait(&d, 10000), SW_OK);
    sleep_ms(200); /* a second call of the callback would show by now */
    assert_int_equal(done_calls(&d), 1);
    assert_int_equal(sw_verify_identity(ctx, v, id, ORIG, DEST, done_cb, &d), SW_OK);
    assert_string_equal(sw_ctx_last_spc(ctx), SPC);
    assert_int_equal(done_calls(&d), 1);
    done_destroy(&d);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void stale_token_never_fetches(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = token_for("/stale-token-x5u.pem", (int64_t)time(NULL) - 3600);
    long before = server_total();
    struct done d;

    done_init(&d);
    assert_int_equal(sw_verify_identity(ctx, v, id, ORIG, DEST, done_cb, &d), SW_ERR_STALE);
    assert_int_equal(sw_verify_identity_wait(ctx, v, id, ORIG, DEST), SW_ERR_STALE);
    sleep_ms(200);
    assert_int_equal(stats(v).fetches, 0);
    assert_int_equal(stats(v).cache_misses, 0);
    assert_int_equal(server_count("/stale-token-x5u.pem"), 0);
    assert_int_equal(server_total(), before);
    assert_int_equal(done_calls(&d), 0);
    done_destroy(&d);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* --- the cache directory ------------------------------------------------------------------- */

/* CRL from a file, so that "no network" means none at all (CRLs are not kept on disk). */
static sw_verifier *disk_verifier(const char *dir)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    char *crl = pki("inter.crl");

    assert_int_equal(sw_verifier_set_str(v, SW_OPT_CACHE_DIR, dir), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0), SW_OK);
    assert_int_equal(sw_verifier_load_crl_file(v, ctx, crl), SW_OK);
    free(crl);
    sw_ctx_free(ctx);
    return v;
}

static void cache_dir_answers_a_new_verifier_without_network(void **state)
{
    char dir[] = "/tmp/sw-fetch-cache.XXXXXX";
    sw_verifier *v;
    long before, total;
    char *cmd;

    assert_non_null(mkdtemp(dir));
    before = server_count("/sp-chain.pem");
    v = disk_verifier(dir);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(stats(v).fetches, 1);
    sw_verifier_free(v);
    assert_int_equal(server_count("/sp-chain.pem"), before + 1);

    total = server_total();
    v = disk_verifier(dir);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(stats(v).fetches, 0);
    assert_int_equal(sw_verifier_fetch_count(v, SW_OK), 0); /* the disk is a cache */
    assert_int_equal(server_total(), total);
    sw_verifier_free(v);

    cmd = fmt("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* --- offline analysis: local answers, no network, a judging time of one's own ---------------- */

/* Reads a whole PKI file (the test's own, small). */
static char *slurp(const char *name, size_t *len)
{
    char *path = pki(name), *buf = malloc(65536);
    FILE *f = fopen(path, "rb");

    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 65536, f);
    assert_true(*len > 0);
    fclose(f);
    free(path);
    return buf;
}

/*
 * A local answer (sw_verifier_add_local) stands for a URL that nothing serves, on a name
 * that does not resolve and that the fetch policy would refuse: validated like a fetched
 * body (the chain, the CRL file), no request made. Offline, a URL without one fails at
 * once with CERT_UNAVAILABLE, and nothing goes out either.
 */
static void local_answer_needs_no_network_and_offline_fetches_nothing(void **state)
{
    const char *u = "http://sti.invalid:8080/sp-chain.pem?offline";
    sw_verifier *v = bare_verifier();
    sw_ctx *ctx = sw_ctx_new();
    char *root = pki("root.pem"), *crl = pki("inter.crl"), *other = url("/sp-chain.pem");
    sw_cert *cert = NULL;
    long total = server_total();
    size_t len;
    char *body = slurp("sp-chain.pem", &len);

    assert_int_equal(sw_verifier_load_ca_file(v, ctx, root), SW_OK);
    assert_int_equal(sw_verifier_load_crl_file(v, ctx, crl), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_OFFLINE, 1), SW_OK);
    /* the policy would let the test server's URL through: only "offline" stops it */
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 1), SW_OK);
    assert_int_equal(sw_verifier_add_local(v, u, body, len), SW_OK);
    assert_int_equal(sw_verifier_add_local(v, u, body, 0), SW_ERR_INVAL);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_OFFLINE, 2), SW_ERR_INVAL);
    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, u, &cert), SW_OK);
    assert_non_null(cert);
    assert_string_equal(sw_cert_spc(cert), SPC);
    sw_cert_free(cert);
    cert = NULL;
    /* the test server serves this one, but offline it is not asked */
    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, other, &cert), SW_ERR_CERT_UNAVAILABLE);
    assert_null(cert);
    assert_int_equal(stats(v).fetches, 0);
    assert_int_equal(server_total(), total);
    free(body);
    free(other);
    free(crl);
    free(root);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* SW_OPT_CHECK_TIME: a certificate and its chain judged at a given time, not the clock's. */
static void check_time_judges_the_chain_at_that_time(void **state)
{
    sw_verifier *v = lab_verifier();

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0), SW_OK);
    /* twenty years on, the good chain has expired */
    assert_int_equal(
        sw_verifier_set_long(v, SW_OPT_CHECK_TIME, (long)time(NULL) + 20L * 366 * 86400), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_ERR_CERT_EXPIRED);
    sw_verifier_free(v);
    /* a minute on, it is valid, as with the clock */
    v = lab_verifier();
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CHECK_TIME, (long)time(NULL) + 60), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    sw_verifier_free(v);
}

/* --- a CRL distribution point that cannot be reached ------------------------------------- */

/* The lab verifier that also trusts the deadcrl PKI's root. */
static sw_verifier *deadcrl_verifier(long tolerate)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    char *root = pki("deadcrl-root.pem");

    assert_int_equal(sw_verifier_load_ca_file(v, ctx, root), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_UNREACHABLE, tolerate), SW_OK);
    free(root);
    sw_ctx_free(ctx);
    return v;
}

static void unreachable_crl_fails_closed_by_default(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    char *root = pki("deadcrl-root.pem");
    long before = server_count("/deadcrl-sp-chain.pem");
    sw_verifier_stats s;

    /* the default, not set: fail closed */
    assert_int_equal(sw_verifier_load_ca_file(v, ctx, root), SW_OK);
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_ERR_CERT_CRL);
    assert_int_equal(server_count("/deadcrl-sp-chain.pem"), before + 1);
    s = stats(v);
    assert_int_equal(s.fetches, 1);
    assert_int_equal(s.crl_fetches, 1);
    assert_int_equal(s.crl_failures, 1);
    assert_int_equal(s.crl_tolerated, 0);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_CRL), 1);
    assert_int_equal(sw_verifier_fetch_count(v, SW_OK), 0);
    /* remembered like any failure */
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_ERR_CERT_CRL);
    assert_int_equal(stats(v).negative_hits, 1);
    free(root);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void unreachable_crl_is_tolerated_for_the_negative_ttl(void **state)
{
    sw_verifier *v = deadcrl_verifier(1);
    long before = server_count("/deadcrl-sp-chain.pem");
    sw_verifier_stats s;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_NEGATIVE_TTL, 2), SW_OK);
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_OK);
    s = stats(v);
    assert_int_equal(s.crl_fetches, 1);
    assert_int_equal(s.crl_failures, 1);
    assert_int_equal(s.crl_tolerated, 1);
    assert_int_equal(s.fetch_failures, 0);
    assert_int_equal(sw_verifier_fetch_count(v, SW_OK), 1);
    /* kept, but only briefly: within the negative TTL a hit, then fetched again */
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_OK);
    assert_int_equal(stats(v).cache_hits, s.cache_hits + 1);
    assert_int_equal(server_count("/deadcrl-sp-chain.pem"), before + 1);
    sleep_ms(2500);
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_OK);
    assert_int_equal(server_count("/deadcrl-sp-chain.pem"), before + 2);
    s = stats(v);
    assert_int_equal(s.crl_fetches, 2); /* the CRL was tried again */
    assert_int_equal(s.crl_tolerated, 2);
    assert_int_equal(sw_verifier_fetch_count(v, SW_OK), 2);
    sw_verifier_free(v);
}

static void crl_files_still_apply_when_the_crl_is_tolerated(void **state)
{
    sw_verifier *v = deadcrl_verifier(1);
    sw_ctx *ctx = sw_ctx_new();
    char *crl = pki("deadcrl-inter.crl");

    assert_int_equal(sw_verifier_load_crl_file(v, ctx, crl), SW_OK);
    /* revoked by the CRL file: refused before its (dead) distribution point is tried */
    assert_int_equal(get(v, "/deadcrl-revoked-chain.pem"), SW_ERR_CERT_REVOKED);
    assert_int_equal(stats(v).crl_tolerated, 0);
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_OK);
    assert_int_equal(stats(v).crl_tolerated, 1);
    free(crl);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* --- networks allowed by SW_OPT_ALLOW_NETS ------------------------------------------------ */

static sw_err get_url(sw_verifier *v, const char *u)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    sw_err err;

    assert_non_null(ctx);
    err = sw_verifier_get_cert_wait(v, ctx, u, &cert);
    print_message("    %s: %s (%s)\n", u, sw_err_name(err), sw_errmsg(ctx));
    sw_cert_free(cert);
    sw_ctx_free(ctx);
    return err;
}

static void allow_nets_lets_only_the_chosen_networks_through(void **state)
{
    sw_verifier *v = lab_verifier();
    long before = server_count("/404");

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 0), SW_OK);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, "127.0.0.0/8, ::1/128"), SW_OK);
    /* the x5u and its CRL, both from 127.0.0.1 */
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(stats(v).crl_fetches, 1);
    /* a bad list changes nothing */
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, "127.0.0.0/33"), SW_ERR_INVAL);
    assert_int_equal(get(v, "/404"), SW_ERR_CERT_HTTP_STATUS);
    assert_int_equal(server_count("/404"), before + 1);
    /* other private addresses stay refused (at the socket: nothing is sent to them) */
    assert_int_equal(get_url(v, "https://10.255.255.1/x.pem"), SW_ERR_CERT_PRIVATE);
    assert_int_equal(get_url(v, "https://192.168.255.1:8443/x.pem"), SW_ERR_CERT_PRIVATE);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_PRIVATE), 2);
    /* and without the list, 127.0.0.1 is private again */
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, ""), SW_OK);
    assert_int_equal(get(v, "/500"), SW_ERR_CERT_PRIVATE);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_PRIVATE), 3);
    sw_verifier_free(v);
}

/* --- replacing the trust anchors --------------------------------------------------------- */

static void load_ca(sw_verifier *v, const char *name)
{
    sw_ctx *ctx = sw_ctx_new();
    char *path = pki(name);

    assert_int_equal(sw_verifier_load_ca_file(v, ctx, path), SW_OK);
    free(path);
    sw_ctx_free(ctx);
}

static void trust_reset_changes_the_verdict_for_new_fetches(void **state)
{
    sw_verifier *v = lab_verifier_query();
    char path[96];
    sw_verifier_stats s;

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_UNREACHABLE, 1), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(sw_verifier_reset_trust(v), SW_OK);
    /* the cache is kept */
    s = stats(v);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(stats(v).cache_hits, s.cache_hits + 1);
    /* until a new CA is loaded, the old anchors serve */
    snprintf(path, sizeof(path), "/slow?ms=1&n=%ld-1", (long)getpid());
    assert_int_equal(get(v, path), SW_OK);
    assert_int_equal(get(v, "/deadcrl-sp-chain.pem"), SW_ERR_CERT_UNTRUSTED);
    /* the other root: the first PKI's chain is no longer trusted, the other's is */
    load_ca(v, "deadcrl-root.pem");
    snprintf(path, sizeof(path), "/slow?ms=1&n=%ld-2", (long)getpid());
    assert_int_equal(get(v, path), SW_ERR_CERT_UNTRUSTED);
    /* a new URL: the failure above is remembered for the negative TTL */
    assert_int_equal(get(v, "/cachecontrol?max_age=60&file=deadcrl-sp-chain.pem"), SW_OK);
    /* and back */
    assert_int_equal(sw_verifier_reset_trust(v), SW_OK);
    load_ca(v, "root.pem");
    snprintf(path, sizeof(path), "/slow?ms=1&n=%ld-3", (long)getpid());
    assert_int_equal(get(v, path), SW_OK);
    sw_verifier_free(v);
}

static void trust_reset_drops_the_crl_files(void **state)
{
    sw_verifier *v = lab_verifier_query();
    sw_ctx *ctx = sw_ctx_new();
    char *crl = pki("inter.crl");

    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0), SW_OK);
    assert_int_equal(sw_verifier_load_crl_file(v, ctx, crl), SW_OK);
    assert_int_equal(get(v, "/revoked-chain.pem"), SW_ERR_CERT_REVOKED);
    assert_int_equal(sw_verifier_reset_trust(v), SW_OK);
    load_ca(v, "root.pem");
    assert_int_equal(get(v, "/cachecontrol?max_age=60&file=revoked-chain.pem"), SW_OK);
    free(crl);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* A reload on another thread: reset, load, and the setters again, over and over. */
struct reloader {
    pthread_t thread;
    sw_verifier *v;
    int stop; /* under lock */
    pthread_mutex_t lock;
    long rounds;
};

static void *reload_loop(void *arg)
{
    struct reloader *r = arg;
    sw_ctx *ctx = sw_ctx_new();
    char *root = pki("root.pem"), *tls = pki("tls-ca.pem");
    int stop = 0;

    while (!stop) {
        if (sw_verifier_reset_trust(r->v) != SW_OK ||
            sw_verifier_load_ca_file(r->v, ctx, root) != SW_OK ||
            sw_verifier_set_str(r->v, SW_OPT_TLS_CA_FILE, tls) != SW_OK ||
            sw_verifier_set_str(r->v, SW_OPT_ALLOW_NETS, "127.0.0.0/8") != SW_OK ||
            sw_verifier_set_long(r->v, SW_OPT_TIMEOUT_MS, 3000) != SW_OK ||
            sw_verifier_set_long(r->v, SW_OPT_CRL_UNREACHABLE, 0) != SW_OK)
            break;
        pthread_mutex_lock(&r->lock);
        r->rounds++;
        stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        sleep_ms(1);
    }
    free(tls);
    free(root);
    sw_ctx_free(ctx);
    return NULL;
}

static void reload_while_fetching_is_safe(void **state)
{
    sw_verifier *v = lab_verifier_query();
    struct reloader r = {.v = v};
    char path[96];
    int i;
    sw_err err;

    pthread_mutex_init(&r.lock, NULL);
    assert_int_equal(pthread_create(&r.thread, NULL, reload_loop, &r), 0);
    for (i = 0; i < 30; i++) {
        snprintf(path, sizeof(path), "/slow?ms=0&n=%ld-reload-%d", (long)getpid(), i);
        /* a reset only stages: there is never a moment without the anchors */
        if ((err = get(v, path)) != SW_OK)
            fail_msg("%s: %s", path, sw_err_name(err));
    }
    pthread_mutex_lock(&r.lock);
    r.stop = 1;
    pthread_mutex_unlock(&r.lock);
    pthread_join(r.thread, NULL);
    print_message("    30 fetches OK during %ld reloads\n", r.rounds);
    assert_true(r.rounds > 0);
    pthread_mutex_destroy(&r.lock);
    sw_verifier_free(v);
}

/* --- fetch outcomes ---------------------------------------------------------------------- */

static void fetch_count_counts_fetches_by_outcome(void **state)
{
    sw_verifier *v = lab_verifier();
    sw_ctx *ctx = sw_ctx_new();
    sw_cert *cert = NULL;
    uint64_t sum = 0;
    int e;

    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK);
    assert_int_equal(get(v, "/sp-chain.pem"), SW_OK); /* a hit */
    assert_int_equal(get(v, "/404"), SW_ERR_CERT_HTTP_STATUS);
    assert_int_equal(get(v, "/404"), SW_ERR_CERT_HTTP_STATUS); /* remembered */
    assert_int_equal(get(v, "/expired-chain.pem"), SW_ERR_CERT_EXPIRED);
    /* refused by the policy: no fetch */
    assert_int_equal(sw_verifier_get_cert(v, ctx, "ftp://127.0.0.1/x", NULL, NULL, &cert),
                     SW_ERR_CERT_URL);
    assert_int_equal(sw_verifier_fetch_count(v, SW_OK), 1);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_HTTP_STATUS), 1);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_EXPIRED), 1);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_URL), 0);
    for (e = 0; e < 64; e++)
        sum += sw_verifier_fetch_count(v, (sw_err)e);
    assert_int_equal(sum, stats(v).fetches);
    assert_int_equal(sum, 3);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

/* --- main ---------------------------------------------------------------------------------- */

static int setup(void **state)
{
    sw_ctx *ctx = sw_ctx_new();
    char *keyfile;

    if ((pki_dir = getenv("PKI_DIR")) == NULL || (base_url = getenv("BASE_URL")) == NULL) {
        fprintf(stderr, "fetch_test: PKI_DIR and BASE_URL must be set (run fetch.sh)\n");
        return -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    keyfile = pki("sp.key");
    if (ctx == NULL || sw_key_load_file(ctx, keyfile, &sp_key) != SW_OK) {
        fprintf(stderr, "fetch_test: %s: %s\n", keyfile, ctx ? sw_errmsg(ctx) : "no memory");
        free(keyfile);
        sw_ctx_free(ctx);
        return -1;
    }
    free(keyfile);
    sw_ctx_free(ctx);
    return 0;
}

static int teardown(void **state)
{
    sw_key_free(sp_key);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_chain_is_fetched_and_validated),
        cmocka_unit_test(good_token_verifies_with_the_fetched_certificate),
        cmocka_unit_test(status_404_is_http_status),
        cmocka_unit_test(status_500_is_http_status),
        cmocka_unit_test(slow_server_times_out),
        cmocka_unit_test(big_response_is_too_large),
        cmocka_unit_test(redirect_is_not_followed),
        cmocka_unit_test(garbage_is_parse_error),
        cmocka_unit_test(loopback_name_is_private_by_default),
        cmocka_unit_test(loopback_address_is_private_by_default),
        cmocka_unit_test(http_url_is_refused_by_default),
        cmocka_unit_test(other_port_is_refused_without_allow_any_port),
        cmocka_unit_test(query_is_refused_without_allow_query),
        cmocka_unit_test(expired_chain_is_expired),
        cmocka_unit_test(notyet_chain_is_not_yet_valid),
        cmocka_unit_test(notnauth_chain_has_no_tnauth),
        cmocka_unit_test(p384_chain_has_wrong_key),
        cmocka_unit_test(rsa_chain_has_wrong_key),
        cmocka_unit_test(selfsigned_chain_is_untrusted),
        cmocka_unit_test(revoked_chain_is_revoked_by_the_fetched_crl),
        cmocka_unit_test(revoked_chain_is_revoked_by_a_crl_file),
        cmocka_unit_test(wrongpolicy_chain_lacks_the_policy),
        cmocka_unit_test(no_trust_anchors_is_untrusted),
        cmocka_unit_test(cache_control_max_age_is_honoured),
        cmocka_unit_test(min_ttl_outlives_a_short_max_age),
        cmocka_unit_test(zero_min_ttl_still_answers_the_caller_once),
        cmocka_unit_test(zero_negative_ttl_fetches_a_failure_once),
        cmocka_unit_test(concurrent_callers_share_one_fetch),
        cmocka_unit_test(dead_host_is_asked_once_per_negative_ttl),
        cmocka_unit_test(slow_fetch_does_not_delay_cached_verifications),
        cmocka_unit_test(async_verify_is_pending_then_ok),
        cmocka_unit_test(stale_token_never_fetches),
        cmocka_unit_test(cache_dir_answers_a_new_verifier_without_network),
        cmocka_unit_test(local_answer_needs_no_network_and_offline_fetches_nothing),
        cmocka_unit_test(check_time_judges_the_chain_at_that_time),
        cmocka_unit_test(unreachable_crl_fails_closed_by_default),
        cmocka_unit_test(unreachable_crl_is_tolerated_for_the_negative_ttl),
        cmocka_unit_test(crl_files_still_apply_when_the_crl_is_tolerated),
        cmocka_unit_test(allow_nets_lets_only_the_chosen_networks_through),
        cmocka_unit_test(trust_reset_changes_the_verdict_for_new_fetches),
        cmocka_unit_test(trust_reset_drops_the_crl_files),
        cmocka_unit_test(reload_while_fetching_is_safe),
        cmocka_unit_test(fetch_count_counts_fetches_by_outcome),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
