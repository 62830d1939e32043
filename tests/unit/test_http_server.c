/*
 * test_http_server.c - the REST API's HTTP server (src/http/server.c) driven over real
 * sockets with libcurl: a server on 127.0.0.1 (a free port), a routing table of the test's
 * own (the server takes the table as a parameter, so these tests do not need api.c), and
 * handlers that echo what they were given, wait for a wake from another thread, or send a
 * file. TLS uses the test PKI of tools/pki/make-test-pki.sh (skipped without SRCDIR).
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/http/server.h"

/* ---- the test's handlers and routes ----------------------------------------------------- */

static atomic_int wake_delay_ms = 200;
static atomic_int waits_started, released;

static char *dupstr(const char *s, size_t *len)
{
    char *p = strdup(s);
    *len = strlen(s);
    return p;
}

static enum sw_http_rc h_hello(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp)
{
    (void)req;
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = dupstr(api->max_age == 99 ? "hello99" : "hello", &resp->body_len);
    snprintf(resp->headers, sizeof(resp->headers),
             "X-Test: yes\r\nbad header line\r\nX-Ctl: a\x01z\r\nX-Two: 2\r\n");
    return SW_HTTP_DONE;
}

/* the body back, with its length and content type */
static enum sw_http_rc h_echo(const struct sw_api *api, struct sw_http_req *req,
                              struct sw_http_resp *resp)
{
    char buf[256];

    (void)api;
    snprintf(buf, sizeof(buf), "%zu:%s:%.100s", req->body_len,
             req->content_type ? req->content_type : "-", req->body);
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = dupstr(buf, &resp->body_len);
    return SW_HTTP_DONE;
}

static enum sw_http_rc h_path(const struct sw_api *api, struct sw_http_req *req,
                              struct sw_http_resp *resp)
{
    char buf[512];

    (void)api;
    snprintf(buf, sizeof(buf), "%s|%s", req->path, req->raw_path);
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = dupstr(buf, &resp->body_len);
    return SW_HTTP_DONE;
}

static void *waker(void *arg)
{
    struct timespec t = {0, (long)atomic_load(&wake_delay_ms) * 1000000L};

    nanosleep(&t, NULL);
    sw_http_wake(arg, SW_OK);
    return NULL;
}

/* waits once (a thread wakes it after wake_delay_ms), then answers with the slot's note */
static enum sw_http_rc h_wait(const struct sw_api *api, struct sw_http_req *req,
                              struct sw_http_resp *resp)
{
    char buf[128];
    pthread_t t;

    (void)api;
    if (req->again == 0) {
        snprintf(req->slot, SW_HTTP_SLOT, "kept");
        atomic_fetch_add(&waits_started, 1);
        if (pthread_create(&t, NULL, waker, req->wake_arg) != 0)
            abort();
        pthread_detach(t);
        return SW_HTTP_AGAIN;
    }
    snprintf(buf, sizeof(buf), "again=%d slot=%s", req->again, (char *)req->slot);
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = dupstr(buf, &resp->body_len);
    return SW_HTTP_DONE;
}

/* the wake comes before the handler returns (a cached answer, a synchronous callback) */
static enum sw_http_rc h_syncwake(const struct sw_api *api, struct sw_http_req *req,
                                  struct sw_http_resp *resp)
{
    (void)api;
    if (req->again == 0) {
        sw_http_wake(req->wake_arg, SW_OK);
        return SW_HTTP_AGAIN;
    }
    resp->status = 202;
    resp->body = dupstr("sync", &resp->body_len);
    return SW_HTTP_DONE;
}

static char file_path[64];

static enum sw_http_rc h_file(const struct sw_api *api, struct sw_http_req *req,
                              struct sw_http_resp *resp)
{
    (void)api;
    (void)req;
    resp->fd = open(file_path, O_RDONLY);
    resp->fd_size = 11;
    resp->status = 200;
    resp->content_type = "application/x-pem-file";
    return SW_HTTP_DONE;
}

static const struct sw_http_route routes[] = {
    {"/t/hello", 0, "GET,HEAD", SW_HTTP_OPEN, h_hello},
    {"/t/echo", 0, "POST", SW_HTTP_OPEN, h_echo},
    {"/t/sign", 0, "POST", SW_HTTP_SIGN, h_echo},
    {"/t/ops", 0, "GET", SW_HTTP_OPS, h_hello},
    {"/t/pre/", 1, "GET,HEAD", SW_HTTP_OPEN, h_path},
    {"/t/wait", 0, "GET", SW_HTTP_CHECK, h_wait},
    {"/t/syncwake", 0, "GET", SW_HTTP_OPEN, h_syncwake},
    {"/t/file", 0, "GET,HEAD", SW_HTTP_OPEN, h_file},
    {NULL, 0, NULL, SW_HTTP_OPEN, NULL},
};

/* ---- a client --------------------------------------------------------------------------- */

struct res {
    CURLcode rc;
    long status;
    char body[2048];
    size_t len;
    char headers[4096];
    size_t hlen;
    double secs;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct res *r = arg;
    size_t k = sz * n, room = sizeof(r->body) - 1 - r->len;

    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct res *r = arg;
    size_t k = sz * n, room = sizeof(r->headers) - 1 - r->hlen;

    memcpy(r->headers + r->hlen, p, k < room ? k : room);
    r->hlen += k < room ? k : room;
    r->headers[r->hlen] = '\0';
    return sz * n;
}

struct call {
    const char *scheme; /* "http" or "https" */
    int port;
    const char *method, *path, *token, *ca;
    const char *body;
    size_t body_len;
    long timeout_ms;
    int chunked, insecure;
    struct res r;
};

static void do_call(struct call *c)
{
    CURL *e = curl_easy_init();
    struct curl_slist *hl = NULL, *rl = NULL;
    char url[512], auth[512];

    assert_non_null(e);
    memset(&c->r, 0, sizeof(c->r));
    snprintf(url, sizeof(url), "%s://%s:%d%s", c->scheme ? c->scheme : "http",
             c->ca ? "localhost" : "127.0.0.1", c->port, c->path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c->r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms ? c->timeout_ms : 5000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (c->ca != NULL) {
        /* the test certificate is for localhost: pin the name to 127.0.0.1 */
        snprintf(auth, sizeof(auth), "localhost:%d:127.0.0.1", c->port);
        rl = curl_slist_append(NULL, auth);
        curl_easy_setopt(e, CURLOPT_RESOLVE, rl);
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca);
        if (c->insecure) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    {
        struct curl_slist *h = NULL;
        if (c->token != NULL) {
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
            h = curl_slist_append(h, auth);
        }
        if (c->chunked)
            h = curl_slist_append(h, "Transfer-Encoding: chunked");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        hl = h;
    }
    if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? c->body : "");
        if (!c->chunked)
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(c->body ? c->body_len : 0));
    } else if (strcmp(c->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    }
    c->r.rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->r.status);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &c->r.secs);
    curl_easy_cleanup(e);
    curl_slist_free_all(hl);
    curl_slist_free_all(rl);
}

static struct res *get(int port, const char *method, const char *path)
{
    static struct call c;
    memset(&c, 0, sizeof(c));
    c.port = port;
    c.method = method;
    c.path = path;
    do_call(&c);
    return &c.r;
}

static int has_header(const struct res *r, const char *line)
{
    return strcasestr(r->headers, line) != NULL;
}

/* ---- fixtures ----------------------------------------------------------------------- */

static struct sw_api api1, api2;
static struct sw_http *srv;
static int port;

/*
 * Waits up to 2 s for the release count to reach n: MHD reports a request complete (and
 * so drops its api) just after the client has its answer, so a test that reloads right
 * after a request may look a moment too early (seen under ASan).
 */
static int released_reaches(int n)
{
    int i;

    for (i = 0; i < 400 && atomic_load(&released) < n; i++)
        usleep(5000);
    return atomic_load(&released);
}

static void on_release(struct sw_api *api, void *arg)
{
    (void)api;
    (void)arg;
    atomic_fetch_add(&released, 1);
}

static struct sw_http_conf base_conf(void)
{
    struct sw_http_conf c;

    sw_http_conf_init(&c);
    snprintf(c.listen, sizeof(c.listen), "127.0.0.1:0");
    c.threads = 2;
    c.timeout = 5;
    snprintf(c.token_sign, sizeof(c.token_sign), "s3cret");
    snprintf(c.token_check, sizeof(c.token_check), "chk");
    c.api_release = on_release;
    return c;
}

static int setup(void **unused)
{
    struct sw_http_conf c = base_conf();
    char err[256] = "";
    int fd;

    (void)unused;
    memset(&api1, 0, sizeof(api1));
    api1.pub_dirfd = -1;
    api2 = api1;
    api2.max_age = 99;
    atomic_store(&released, 0);
    srv = sw_http_start(&c, routes, &api1, err, sizeof(err));
    if (srv == NULL)
        fail_msg("start: %s", err);
    port = sw_http_port(srv);
    assert_true(port > 0);
    snprintf(file_path, sizeof(file_path), "/tmp/test_http_XXXXXX");
    fd = mkstemp(file_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "PEM-CONTENT", 11), 11);
    close(fd);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    sw_http_stop(srv);
    srv = NULL;
    unlink(file_path);
    return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_route_answers_with_body_type_and_valid_extra_headers(void **unused)
{
    struct res *r = get(port, "GET", "/t/hello");

    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    assert_true(has_header(r, "Content-Type: text/plain"));
    assert_true(has_header(r, "X-Test: yes"));
    assert_true(has_header(r, "X-Two: 2"));
    assert_false(has_header(r, "bad header"));
    assert_false(has_header(r, "X-Ctl"));
}

static void test_unknown_path_is_404_json(void **unused)
{
    struct res *r = get(port, "GET", "/nope");

    assert_int_equal(r->status, 404);
    assert_true(has_header(r, "Content-Type: application/json"));
    assert_non_null(strstr(r->body, "\"error\":\"NOT_FOUND\""));
    /* an exact route does not match longer paths */
    assert_int_equal(get(port, "GET", "/t/hello/x")->status, 404);
    assert_int_equal(get(port, "GET", "/t/hell")->status, 404);
}

static void test_wrong_method_is_405_with_allow(void **unused)
{
    struct res *r = get(port, "DELETE", "/t/hello");

    assert_int_equal(r->status, 405);
    assert_true(has_header(r, "Allow: GET, HEAD"));
    assert_non_null(strstr(r->body, "METHOD_NOT_ALLOWED"));
    r = get(port, "GET", "/t/echo");
    assert_int_equal(r->status, 405);
    assert_true(has_header(r, "Allow: POST"));
}

static void test_prefix_route_gets_decoded_and_raw_path(void **unused)
{
    struct res *r = get(port, "GET", "/t/pre/a%2e%2e%2Fb.pem");

    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "/t/pre/a../b.pem|/t/pre/a%2e%2e%2Fb.pem");
    /* a bad escape or an encoded NUL is a 400, not a handler call */
    assert_int_equal(get(port, "GET", "/t/pre/%zz")->status, 400);
    assert_int_equal(get(port, "GET", "/t/pre/a%00b")->status, 400);
    assert_int_equal(get(port, "GET", "/t/pre/a%4")->status, 400);
}

static void test_token_missing_or_wrong_is_401_right_is_200(void **unused)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.port = port;
    c.method = "POST";
    c.path = "/t/sign";
    c.body = "x";
    c.body_len = 1;
    do_call(&c);
    assert_int_equal(c.r.status, 401);
    assert_true(has_header(&c.r, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(c.r.body, "UNAUTHORIZED"));
    c.token = "s3cre";
    do_call(&c);
    assert_int_equal(c.r.status, 401);
    assert_true(has_header(&c.r, "invalid_token"));
    c.token = "s3cret1";
    do_call(&c);
    assert_int_equal(c.r.status, 401);
    c.token = "chk"; /* another group's token */
    do_call(&c);
    assert_int_equal(c.r.status, 401);
    c.token = "s3cret";
    do_call(&c);
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.r.body, "1:application/x-www-form-urlencoded:x");
    /* a group without a token is open */
    assert_int_equal(get(port, "GET", "/t/ops")->status, 200);
}

static void test_body_over_max_body_is_413_and_server_goes_on(void **unused)
{
    struct call c;
    char *big = malloc(1024 * 1024);

    assert_non_null(big);
    memset(big, 'a', 1024 * 1024);
    memset(&c, 0, sizeof(c));
    c.port = port;
    c.method = "POST";
    c.path = "/t/echo";
    c.body = big;
    c.body_len = 1024 * 1024;
    do_call(&c);
    /* curl may see the close before it has sent everything; the 413 is there either way */
    assert_int_equal(c.r.status, 413);
    assert_non_null(strstr(c.r.body, "PAYLOAD_TOO_LARGE"));
    /* just at the limit is fine */
    c.body_len = SW_HTTP_DEFAULT_MAX_BODY;
    do_call(&c);
    assert_int_equal(c.r.status, 200);
    assert_non_null(strstr(c.r.body, "65536:"));
    /* chunked, no Content-Length: refused while it arrives */
    c.body_len = 1024 * 1024;
    big[c.body_len - 1] = '\0';
    c.chunked = 1;
    do_call(&c);
    assert_true(c.r.status == 413 || c.r.rc != CURLE_OK);
    free(big);
    assert_int_equal(get(port, "GET", "/t/hello")->status, 200);
}

static void test_empty_body_reaches_the_handler_as_empty_string(void **unused)
{
    struct call c;

    memset(&c, 0, sizeof(c));
    c.port = port;
    c.method = "POST";
    c.path = "/t/echo";
    do_call(&c);
    assert_int_equal(c.r.status, 200);
    assert_string_equal(c.r.body, "0:application/x-www-form-urlencoded:");
}

static void test_head_has_headers_and_no_body(void **unused)
{
    struct res *r = get(port, "HEAD", "/t/hello");

    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->len, 0);
    assert_true(has_header(r, "Content-Length: 5"));
    r = get(port, "HEAD", "/t/file");
    assert_int_equal(r->status, 200);
    assert_true(has_header(r, "Content-Length: 11"));
    r = get(port, "GET", "/t/file");
    assert_string_equal(r->body, "PEM-CONTENT");
    assert_true(has_header(r, "Content-Type: application/x-pem-file"));
}

static void *call_thread(void *arg)
{
    do_call(arg);
    return NULL;
}

static void test_waiting_handler_does_not_block_others(void **unused)
{
    struct call w;
    pthread_t t;
    struct res *r;
    char metrics[4096];

    memset(&w, 0, sizeof(w));
    w.port = port;
    w.method = "GET";
    w.path = "/t/wait";
    w.token = "chk";
    atomic_store(&wake_delay_ms, 200);
    atomic_store(&waits_started, 0);
    assert_int_equal(pthread_create(&t, NULL, call_thread, &w), 0);
    while (atomic_load(&waits_started) == 0)
        usleep(5000);
    usleep(20000);
    sw_http_metrics(srv, metrics, sizeof(metrics));
    assert_non_null(strstr(metrics, "stirwire_http_suspended 1\n"));
    /* with 2 threads, several quick requests pass while one waits */
    r = get(port, "GET", "/t/hello");
    assert_int_equal(r->status, 200);
    assert_true(r->secs < 0.15);
    r = get(port, "GET", "/t/hello");
    assert_int_equal(r->status, 200);
    r = get(port, "GET", "/t/hello");
    assert_int_equal(r->status, 200);
    pthread_join(t, NULL);
    assert_int_equal(w.r.status, 200);
    assert_string_equal(w.r.body, "again=1 slot=kept");
    assert_true(w.r.secs >= 0.19);
    sw_http_metrics(srv, metrics, sizeof(metrics));
    assert_non_null(strstr(metrics, "stirwire_http_suspended 0\n"));
}

static void test_many_waiting_requests_all_complete(void **unused)
{
    struct call w[8];
    pthread_t t[8];
    int i;

    atomic_store(&wake_delay_ms, 100);
    for (i = 0; i < 8; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].port = port;
        w[i].method = "GET";
        w[i].path = "/t/wait";
        w[i].token = "chk";
        assert_int_equal(pthread_create(&t[i], NULL, call_thread, &w[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].r.status, 200);
        assert_string_equal(w[i].r.body, "again=1 slot=kept");
    }
}

static void test_wake_before_the_handler_returns_is_not_lost(void **unused)
{
    struct res *r = get(port, "GET", "/t/syncwake");

    assert_int_equal(r->status, 202);
    assert_string_equal(r->body, "sync");
}

static void test_client_gone_while_suspended_leaves_no_dangling_wake(void **unused)
{
    struct call w;
    char metrics[4096];

    memset(&w, 0, sizeof(w));
    w.port = port;
    w.method = "GET";
    w.path = "/t/wait";
    w.token = "chk";
    w.timeout_ms = 80; /* the client gives up before the wake (300 ms) */
    atomic_store(&wake_delay_ms, 300);
    do_call(&w);
    assert_int_equal(w.r.rc, CURLE_OPERATION_TIMEDOUT);
    usleep(400000);
    /* the wake came to a request whose client is gone: the server goes on */
    assert_int_equal(get(port, "GET", "/t/hello")->status, 200);
    sw_http_metrics(srv, metrics, sizeof(metrics));
    assert_non_null(strstr(metrics, "stirwire_http_suspended 0\n"));
    /* and one that is still suspended when the server stops (teardown) */
    w.timeout_ms = 50;
    atomic_store(&wake_delay_ms, 600);
    do_call(&w);
}

static void test_reload_swaps_api_and_tokens_and_releases_the_old_api(void **unused)
{
    struct sw_http_conf c = base_conf();
    struct call s;
    char err[256];

    assert_string_equal(get(port, "GET", "/t/hello")->body, "hello");
    snprintf(c.token_sign, sizeof(c.token_sign), "new");
    assert_int_equal(sw_http_reload(srv, &c, &api2, err, sizeof(err)), 0);
    assert_int_equal(released_reaches(1), 1); /* api1: no request holds it once they complete */
    assert_string_equal(get(port, "GET", "/t/hello")->body, "hello99");
    memset(&s, 0, sizeof(s));
    s.port = port;
    s.method = "POST";
    s.path = "/t/sign";
    s.token = "s3cret";
    do_call(&s);
    assert_int_equal(s.r.status, 401);
    s.token = "new";
    do_call(&s);
    assert_int_equal(s.r.status, 200);
    /* a different listen address waits for a restart; the rest applies */
    snprintf(c.listen, sizeof(c.listen), "127.0.0.1:1");
    assert_int_equal(sw_http_reload(srv, &c, &api1, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "restart"));
    assert_string_equal(get(port, "GET", "/t/hello")->body, "hello");
    /* threads change: a new daemon takes the socket over; the port stays */
    c.threads = 3;
    assert_int_equal(sw_http_reload(srv, &c, &api2, err, sizeof(err)), 1);
    assert_int_equal(sw_http_port(srv), port);
    assert_string_equal(get(port, "GET", "/t/hello")->body, "hello99");
    assert_int_equal(get(port, "GET", "/t/hello")->status, 200);
}

static void test_reload_while_a_request_waits_keeps_its_api(void **unused)
{
    struct sw_http_conf c = base_conf();
    struct call w;
    pthread_t t;
    char err[256];

    memset(&w, 0, sizeof(w));
    w.port = port;
    w.method = "GET";
    w.path = "/t/wait";
    w.token = "chk";
    atomic_store(&wake_delay_ms, 200);
    atomic_store(&waits_started, 0);
    assert_int_equal(pthread_create(&t, NULL, call_thread, &w), 0);
    while (atomic_load(&waits_started) == 0)
        usleep(5000);
    c.timeout = 7; /* forces a hand-over to a new daemon as well */
    assert_int_equal(sw_http_reload(srv, &c, &api2, err, sizeof(err)), 0);
    assert_int_equal(atomic_load(&released), 0); /* the waiting request holds api1 */
    assert_string_equal(get(port, "GET", "/t/hello")->body, "hello99");
    pthread_join(t, NULL);
    assert_int_equal(w.r.status, 200);
    assert_int_equal(released_reaches(1), 1);
}

static void test_bad_requests_do_not_crash(void **unused)
{
    static const char *const junk[] = {
        "\x00\x01\x02garbage\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /t/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "GET /t/hello HTTP/1.1\r\n\r\n",
        "GET /t/hello HTTP/9.9\r\nHost: x\r\n\r\n",
        "BREW /t/hello HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    struct sockaddr_in a;
    char buf[1024];
    size_t i;

    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct timeval tv = {2, 0};
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        assert_true(write(fd, junk[i], strlen(junk[i]) + (i == 0 ? 3 : 0)) > 0);
        (void)!read(fd, buf, sizeof(buf));
        close(fd);
    }
    assert_int_equal(get(port, "GET", "/t/hello")->status, 200);
}

static void test_metrics_count_routes_classes_401_413(void **unused)
{
    char m[8192];
    size_t n, small;
    struct call c;

    get(port, "GET", "/t/hello");
    get(port, "GET", "/nope");
    memset(&c, 0, sizeof(c));
    c.port = port;
    c.method = "POST";
    c.path = "/t/sign";
    do_call(&c);
    n = sw_http_metrics(srv, m, sizeof(m));
    assert_true(n < sizeof(m));
    assert_int_equal(strlen(m), n);
    assert_non_null(strstr(m, "# TYPE stirwire_http_requests_total counter\n"));
    assert_non_null(strstr(m, "stirwire_http_requests_total{route=\"/t/hello\",code=\"2xx\"} 1\n"));
    assert_non_null(strstr(m, "stirwire_http_requests_total{route=\"none\",code=\"4xx\"} 1\n"));
    assert_non_null(strstr(m, "stirwire_http_requests_total{route=\"/t/sign\",code=\"4xx\"} 1\n"));
    assert_non_null(strstr(m, "stirwire_http_unauthorized_total 1\n"));
    assert_non_null(strstr(m, "stirwire_http_body_too_large_total 0\n"));
    /* a small buffer: whole lines only, the full length returned */
    small = sw_http_metrics(srv, m, 100);
    assert_int_equal(small, n);
    assert_true(strlen(m) < 100);
    assert_true(strlen(m) == 0 || m[strlen(m) - 1] == '\n');
}

static void test_listen_parsing(void **unused)
{
    struct sockaddr_storage ss;
    socklen_t len;

    assert_int_equal(sw_http_parse_listen("127.0.0.1:8090", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8090);
    assert_int_equal(sw_http_parse_listen("[::1]:8090", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(sw_http_parse_listen("::1:8090", &ss, &len), -1);
    assert_int_equal(sw_http_parse_listen("localhost:8090", &ss, &len), -1);
    assert_int_equal(sw_http_parse_listen("127.0.0.1", &ss, &len), -1);
    assert_int_equal(sw_http_parse_listen("127.0.0.1:65536", &ss, &len), -1);
    assert_int_equal(sw_http_parse_listen("127.0.0.1:+80", &ss, &len), -1);
    assert_int_equal(sw_http_parse_listen("127.0.0.1:80x", &ss, &len), -1);
    assert_int_equal(sw_http_parse_listen("[::1]8090", &ss, &len), -1);
}

static void test_bad_conf_is_refused_with_a_reason(void **unused)
{
    struct sw_http_conf c = base_conf();
    char err[256];
    struct sw_http *h;

    snprintf(c.listen, sizeof(c.listen), "nowhere");
    assert_null(sw_http_start(&c, routes, &api1, err, sizeof(err)));
    assert_non_null(strstr(err, "listen"));
    c = base_conf();
    snprintf(c.tls_cert, sizeof(c.tls_cert), "/nonexistent.pem");
    assert_null(sw_http_start(&c, routes, &api1, err, sizeof(err)));
    assert_non_null(strstr(err, "together"));
    snprintf(c.tls_key, sizeof(c.tls_key), "/nonexistent.key");
    assert_null(sw_http_start(&c, routes, &api1, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent.pem"));
    /* the port in use */
    c = base_conf();
    snprintf(c.listen, sizeof(c.listen), "127.0.0.1:%d", port);
    h = sw_http_start(&c, routes, &api1, err, sizeof(err));
    assert_null(h);
    assert_non_null(strstr(err, "cannot listen"));
    /* a reload with a missing TLS file changes nothing */
    c = base_conf();
    snprintf(c.tls_cert, sizeof(c.tls_cert), "/nonexistent.pem");
    snprintf(c.tls_key, sizeof(c.tls_key), "/nonexistent.key");
    assert_int_equal(sw_http_reload(srv, &c, &api2, err, sizeof(err)), -1);
    assert_string_equal(get(port, "GET", "/t/hello")->body, "hello");
    assert_int_equal(atomic_load(&released), 0);
}

/* The test PKI, made once; NULL (TLS tests skip) without SRCDIR or openssl. */
static const char *test_pki(void)
{
    static char dir[64];
    static int made = -1;
    const char *src = getenv("SRCDIR");
    char cmd[512];

    if (made < 0) {
        made = 0;
        snprintf(dir, sizeof(dir), "/tmp/test_http_pki_XXXXXX");
        if (src != NULL && mkdtemp(dir) != NULL) {
            snprintf(cmd, sizeof(cmd), "'%s/tools/pki/make-test-pki.sh' '%s' >/dev/null 2>&1", src,
                     dir);
            made = system(cmd) == 0;
        }
    }
    return made ? dir : NULL;
}

static void test_tls_serves_https_and_reloads_its_files(void **unused)
{
    struct sw_http_conf c = base_conf();
    const char *pki = test_pki();
    char err[256], ca[128];
    struct sw_http *h;
    struct call k;

    if (pki == NULL)
        skip();
    snprintf(c.tls_cert, sizeof(c.tls_cert), "%s/tls-server.pem", pki);
    snprintf(c.tls_key, sizeof(c.tls_key), "%s/tls-server.key", pki);
    snprintf(ca, sizeof(ca), "%s/tls-ca.pem", pki);
    c.api_release = NULL;
    h = sw_http_start(&c, routes, &api1, err, sizeof(err));
    if (h == NULL)
        fail_msg("TLS start: %s", err);
    memset(&k, 0, sizeof(k));
    k.scheme = "https";
    k.port = sw_http_port(h);
    k.ca = ca;
    k.method = "GET";
    k.path = "/t/hello";
    do_call(&k);
    assert_int_equal(k.r.rc, CURLE_OK);
    assert_int_equal(k.r.status, 200);
    assert_string_equal(k.r.body, "hello");
    /* plain HTTP to the TLS port gets no answer */
    assert_int_equal(get(k.port, "GET", "/t/hello")->status, 0);
    /* the same files again: nothing to hand over; still HTTPS */
    assert_int_equal(sw_http_reload(h, &c, &api2, err, sizeof(err)), 0);
    do_call(&k);
    assert_string_equal(k.r.body, "hello99");
    /* another certificate and key: a new daemon takes over the socket and serves them */
    snprintf(c.tls_cert, sizeof(c.tls_cert), "%s/selfsigned.pem", pki);
    snprintf(c.tls_key, sizeof(c.tls_key), "%s/selfsigned.key", pki);
    if (sw_http_reload(h, &c, &api1, err, sizeof(err)) != 0)
        fail_msg("reload with selfsigned.pem: %s", err);
    do_call(&k);
    assert_int_not_equal(k.r.rc, CURLE_OK); /* not signed by tls-ca.pem */
    k.insecure = 1;
    do_call(&k);
    assert_int_equal(k.r.rc, CURLE_OK);
    assert_string_equal(k.r.body, "hello");
    k.insecure = 0;
    snprintf(c.tls_cert, sizeof(c.tls_cert), "%s/tls-server.pem", pki);
    snprintf(c.tls_key, sizeof(c.tls_key), "%s/tls-server.key", pki);
    assert_int_equal(sw_http_reload(h, &c, &api2, err, sizeof(err)), 0);
    do_call(&k);
    assert_int_equal(k.r.rc, CURLE_OK);
    /* a key file that is not a key: refused, the running TLS stays */
    snprintf(c.tls_key, sizeof(c.tls_key), "%s/tls-ca.pem", pki);
    assert_int_equal(sw_http_reload(h, &c, &api1, err, sizeof(err)), -1);
    do_call(&k);
    assert_int_equal(k.r.status, 200);
    assert_string_equal(k.r.body, "hello99");
    sw_http_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_parsing),
        cmocka_unit_test_setup_teardown(test_route_answers_with_body_type_and_valid_extra_headers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_method_is_405_with_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_route_gets_decoded_and_raw_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_token_missing_or_wrong_is_401_right_is_200, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_body_over_max_body_is_413_and_server_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_body_reaches_the_handler_as_empty_string, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_head_has_headers_and_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_handler_does_not_block_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_many_waiting_requests_all_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_before_the_handler_returns_is_not_lost, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_while_suspended_leaves_no_dangling_wake,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_swaps_api_and_tokens_and_releases_the_old_api,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_while_a_request_waits_keeps_its_api, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests_do_not_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_count_routes_classes_401_413, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_conf_is_refused_with_a_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_serves_https_and_reloads_its_files, setup,
                                        teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
