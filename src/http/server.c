/*
 * server.c - the REST API's HTTP server on libmicrohttpd (MHD) 0.9.7x: listener, TLS,
 * bearer tokens, body limit, routing, suspend/resume, and the HTTP layer's counters.
 *
 * One request, in the order MHD calls us (on_request, the access handler):
 *   1. first call (headers read): percent-decode the path, find the route (404), check the
 *      method (405 + Allow), the group's bearer token (401 + WWW-Authenticate), and a
 *      declared Content-Length against max_body (413). Each of these answers at once, so
 *      no body we refuse is ever read into memory; MHD then closes the connection rather
 *      than read the rest. (One exception: a declared body over max_body but under
 *      SW_HTTP_DISCARD_MAX that the client sends without waiting for 100 Continue is read
 *      and dropped, and its 413 sent at the end, so that a reset does not eat it.) The request also
 * takes a reference to the api in service now: it runs with that api to the end, whatever a reload
 * does meanwhile.
 *   2. calls with upload data: appended to the body, never past max_body (a chunked body
 *      that grows past it gets 413 if MHD still lets us answer, else the connection is
 *      closed).
 *   3. the last call: the handler runs. SW_HTTP_AGAIN suspends the connection (the pool
 *      thread goes on serving others); sw_http_wake resumes it from any thread and MHD
 *      calls us again, and the handler runs again with again = 1 and the same slot.
 *
 * Lifetime of a request's context (struct req), the rule not to break: it is reference
 * counted. MHD holds one reference from the first call until MHD_OPTION_NOTIFY_COMPLETED;
 * every handler call that may end in SW_HTTP_AGAIN holds one more, which the wake drops
 * (or the server drops at once when the handler answered instead). So a wake that comes
 * after the connection is gone (the daemon closed it at shutdown) still finds its context,
 * sees "completed" and touches neither the connection nor the server; the last one to
 * drop a reference frees it. The context's mutex orders suspend, resume and completion:
 * MHD_resume_connection is called only while the context says "suspended and not
 * completed", under that mutex, so it never meets a connection MHD has freed.
 * (A client that disconnects while its request is suspended is not noticed by MHD, which
 * does not poll suspended sockets: the request resumes at the wake, its answer fails to
 * send, and it completes then. The wake is bounded by the verifier's fetch timeout.)
 *
 * Reload: the api, tokens and max_body are swapped under the server's mutex between
 * requests. TLS files, threads and limits are MHD daemon options, which MHD cannot change
 * on a running daemon: the old daemon is quiesced (stops accepting, keeps its open
 * connections), a new one starts on the same listening socket, and a thread stops the old
 * one when its connections are done. The listen address never changes while running.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define N_CLASSES 5                /* 1xx .. 5xx */
#define MAX_AGAIN 8                /* handler calls after wakes, before we call it a bug */
#define MAX_TLS_FILE (1024 * 1024) /* bytes of a PEM file */
#define STOP_WAIT_MS 5000          /* how long sw_http_stop waits for suspended requests */
#define MAX_PATH_LEN 8192          /* longer paths get 414 */

/* An api in service, and who still uses it (the server's slot, and requests in hand). */
struct api_ref {
    struct sw_api *api;
    atomic_int refs;
    void (*release)(struct sw_api *api, void *arg);
    void *arg;
};

/* A quiesced daemon finishing its connections after a reload (see the file comment). */
struct retired {
    struct MHD_Daemon *d;
    char *cert, *key;
    pthread_t thread;
    struct sw_http *h;
    long deadline_ms;
    struct retired *next;
};

struct sw_http {
    pthread_mutex_t lock; /* d, cur, tokens, max_body, conf, old */
    struct MHD_Daemon *d;
    char *cert, *key; /* the PEM text the running daemon was started with */
    struct retired *old;
    const struct sw_http_route *routes;
    size_t nroutes;
    struct api_ref *cur;
    char tokens[4][SW_HTTP_MAX_TOKEN]; /* by enum sw_http_group; [SW_HTTP_OPEN] unused */
    size_t max_body;
    struct sw_http_conf conf; /* the configuration in service (listen as bound) */
    /* the log callbacks of the conf given to sw_http_start; a reload does not change them */
    void (*access_log)(void *arg, const char *method, const char *path, int status, uint64_t bytes,
                       double ms);
    void *access_log_arg;
    void (*error_log)(void *arg, const char *line);
    void *error_log_arg;
    int port;
    atomic_int stopping;
    /* counters: requests by route (nroutes = no route) and status class */
    _Atomic uint64_t *requests;
    _Atomic uint64_t unauthorized, too_large;
    atomic_int suspended;
};

/* One request (see the file comment for its lifetime). */
struct req {
    pthread_mutex_t lock;
    int refs, completed, suspended, woken; /* under lock */
    struct MHD_Connection *conn;
    struct sw_http *h;
    struct api_ref *ar; /* NULL when answered before the handler */
    size_t route;       /* index, or h->nroutes when none */
    char method[16];
    char *raw_path, *path;
    char *body;
    size_t len, max_body;
    int again, responded, status;
    int discard;        /* over max_body: the body is read and dropped, then 413 */
    uint64_t discarded; /* bytes dropped so far */
    uint64_t sent;
    struct timespec t0;
    union {
        max_align_t align;
        unsigned char b[SW_HTTP_SLOT];
    } slot;
};

/*
 * A body over max_body that the client is already sending is read and dropped up to this
 * many bytes, so that its 413 arrives (see start()); a larger one is refused at once.
 */
#define SW_HTTP_DISCARD_MAX (8u << 20)

/* ---- small helpers ------------------------------------------------------------------ */

static void errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* A PEM file's text, NUL-terminated (malloc'd), or NULL with the reason in err. */
static char *read_pem(const char *what, const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *buf;
    ssize_t n;
    size_t got = 0;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        errf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_TLS_FILE) {
        errf(err, errlen, "%s %s: not a regular file of at most %d bytes", what, path,
             MAX_TLS_FILE);
        close(fd);
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    while (got < (size_t)st.st_size &&
           ((n = read(fd, buf + got, (size_t)st.st_size - got)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    if (strstr(buf, "-----BEGIN ") == NULL) {
        errf(err, errlen, "%s %s: no PEM data", what, path);
        explicit_bzero(buf, got);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Frees a PEM text; the key's is wiped first. */
static void free_pem(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Compares a presented token with the configured one in time that depends on neither. */
static int token_ok(const char *given, size_t glen, const char *want)
{
    size_t wlen = strlen(want), i;
    unsigned char diff = (unsigned char)(glen != wlen);

    for (i = 0; i < wlen; i++)
        diff |= (unsigned char)(want[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

/*
 * The Authorization header's bearer token (RFC 6750 §2.1): "Bearer" (any case), spaces,
 * the token. Sets *tok and *len; 0 when the header is absent or of another scheme.
 */
static int bearer(const char *hdr, const char **tok, size_t *len)
{
    size_t n;

    if (hdr == NULL || strncasecmp(hdr, "Bearer", 6) != 0 || (hdr[6] != ' ' && hdr[6] != '\t'))
        return 0;
    hdr += 6;
    while (*hdr == ' ' || *hdr == '\t')
        hdr++;
    n = strlen(hdr);
    while (n > 0 && (hdr[n - 1] == ' ' || hdr[n - 1] == '\t'))
        n--;
    *tok = hdr;
    *len = n;
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The percent-decoded path (malloc'd), or NULL for a bad escape or an encoded NUL. */
static char *decode_path(const char *raw)
{
    size_t n = strlen(raw), i, o = 0;
    char *out = malloc(n + 1);
    int hi, lo;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (raw[i] != '%') {
            out[o++] = raw[i];
            continue;
        }
        if (i + 2 >= n)
            goto bad;
        if ((hi = hexval((unsigned char)raw[i + 1])) < 0 ||
            (lo = hexval((unsigned char)raw[i + 2])) < 0 || (hi == 0 && lo == 0))
            goto bad;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* Whether method is in the route's comma-separated list. */
static int method_allowed(const char *list, const char *method)
{
    size_t ml = strlen(method);
    const char *p = list;

    while (*p != '\0') {
        size_t l = strcspn(p, ",");
        if (l == ml && strncmp(p, method, ml) == 0)
            return 1;
        p += l;
        if (*p == ',')
            p++;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* JSON string body of s (only our own messages and names go through here). */
static size_t json_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;

    for (; *s != '\0' && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

/* ---- api references ------------------------------------------------------------------ */

static struct api_ref *api_ref_new(struct sw_api *api, const struct sw_http_conf *c)
{
    struct api_ref *ar = calloc(1, sizeof(*ar));

    if (ar == NULL)
        return NULL;
    ar->api = api;
    atomic_init(&ar->refs, 1);
    ar->release = c->api_release;
    ar->arg = c->api_release_arg;
    return ar;
}

static void api_ref_drop(struct api_ref *ar)
{
    if (ar == NULL || atomic_fetch_sub(&ar->refs, 1) != 1)
        return;
    if (ar->release != NULL)
        ar->release(ar->api, ar->arg);
    free(ar);
}

/* ---- counters ------------------------------------------------------------------------ */

static void count(struct sw_http *h, size_t route, int status)
{
    int cls = status / 100 - 1;

    if (cls < 0)
        cls = 0;
    if (cls >= N_CLASSES)
        cls = N_CLASSES - 1;
    atomic_fetch_add(&h->requests[route * N_CLASSES + (size_t)cls], 1);
}

/* Appends to buf what fits (whole lines), counting the whole length in *total. */
static void put(char *buf, size_t len, size_t *total, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *total, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    if (buf != NULL && *total + (size_t)n < len) {
        memcpy(buf + *total, line, (size_t)n);
        buf[*total + (size_t)n] = '\0';
    } else if (buf != NULL && len > 0 && *total < len) {
        buf[*total] = '\0'; /* stop at the last whole line */
        len = 0;
    }
    *total += (size_t)n;
}

size_t sw_http_metrics(struct sw_http *h, char *buf, size_t len)
{
    static const char *const classes[N_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const union MHD_DaemonInfo *info;
    unsigned conns = 0;
    size_t total = 0, i;
    int c;

    if (buf != NULL && len > 0)
        buf[0] = '\0';
    if (h == NULL)
        return 0;
    put(buf, len, &total,
        "# HELP stirwire_http_requests_total HTTP requests answered, by route and status "
        "class.\n# TYPE stirwire_http_requests_total counter\n");
    for (i = 0; i <= h->nroutes; i++) {
        for (c = 0; c < N_CLASSES; c++) {
            uint64_t v = atomic_load(&h->requests[i * N_CLASSES + (size_t)c]);
            char route[256];
            if (v == 0)
                continue;
            /* route paths are ours; escaped anyway as the exposition format asks */
            json_escape(route, sizeof(route), i < h->nroutes ? h->routes[i].path : "none");
            put(buf, len, &total, "stirwire_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                route, classes[c], (unsigned long long)v);
        }
    }
    put(buf, len, &total,
        "# HELP stirwire_http_unauthorized_total Requests refused with 401 (missing or wrong "
        "bearer token).\n# TYPE stirwire_http_unauthorized_total counter\n"
        "stirwire_http_unauthorized_total %llu\n",
        (unsigned long long)atomic_load(&h->unauthorized));
    put(buf, len, &total,
        "# HELP stirwire_http_body_too_large_total Requests refused with 413 (body over "
        "max_body).\n# TYPE stirwire_http_body_too_large_total counter\n"
        "stirwire_http_body_too_large_total %llu\n",
        (unsigned long long)atomic_load(&h->too_large));
    put(buf, len, &total,
        "# HELP stirwire_http_suspended Requests waiting for a certificate now.\n"
        "# TYPE stirwire_http_suspended gauge\nstirwire_http_suspended %d\n",
        atomic_load(&h->suspended));
    pthread_mutex_lock(&h->lock);
    if (h->d != NULL &&
        (info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)) != NULL)
        conns = info->num_connections;
    pthread_mutex_unlock(&h->lock);
    put(buf, len, &total,
        "# HELP stirwire_http_connections Open HTTP connections.\n"
        "# TYPE stirwire_http_connections gauge\nstirwire_http_connections %u\n",
        conns);
    return total;
}

/* ---- requests ------------------------------------------------------------------------ */

static void req_free(struct req *r)
{
    pthread_mutex_destroy(&r->lock);
    free(r->raw_path);
    free(r->path);
    free(r->body);
    free(r);
}

/* Drops one reference (under no lock); the last frees. */
static void req_unref(struct req *r)
{
    int last;

    pthread_mutex_lock(&r->lock);
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last)
        req_free(r);
}

/*
 * Adds resp->headers' "Name: value" lines to m. A line that is not a valid header (no
 * colon, a name with characters outside RFC 9110's token, a control character in the
 * value) is left out rather than sent.
 */
static void add_extra_headers(struct MHD_Response *m, const char *headers, size_t size)
{
    char buf[sizeof(((struct sw_http_resp *)0)->headers) + 1];
    char *line, *save = NULL;
    size_t n = strnlen(headers, size);

    memcpy(buf, headers, n);
    buf[n] = '\0';
    for (line = strtok_r(buf, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':'), *v, *p;
        int ok = colon != NULL && colon != line;
        for (p = line; ok && p < colon; p++)
            ok = isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p) != NULL;
        if (!ok)
            continue;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        for (p = v; ok && *p != '\0'; p++)
            ok = (unsigned char)*p >= 0x20 || *p == '\t';
        if (ok && *v != '\0')
            MHD_add_response_header(m, line, v);
    }
}

/* Sends resp (taking its body or fd in every case) and counts it. */
static enum MHD_Result send_resp(struct sw_http *h, struct req *r, struct sw_http_resp *resp)
{
    struct MHD_Response *m = NULL;
    enum MHD_Result ret;
    int status = resp->status;

    if (status < 100 || status > 599)
        status = 500;
    if (resp->fd >= 0) {
        free(resp->body);
        if ((m = MHD_create_response_from_fd64(resp->fd_size, resp->fd)) == NULL)
            close(resp->fd);
        r->sent = resp->fd_size;
    } else if (resp->body != NULL) {
        if ((m = MHD_create_response_from_buffer(resp->body_len, resp->body,
                                                 MHD_RESPMEM_MUST_FREE)) == NULL)
            free(resp->body);
        r->sent = resp->body_len;
    } else {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    resp->body = NULL;
    resp->fd = -1;
    if (m == NULL)
        return MHD_NO; /* out of memory: MHD closes the connection */
    if (resp->content_type != NULL)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    add_extra_headers(m, resp->headers, sizeof(resp->headers));
    ret = MHD_queue_response(r->conn, (unsigned)status, m);
    MHD_destroy_response(m);
    if (ret == MHD_YES) {
        r->responded = 1;
        r->status = status;
        count(h, r->route, status);
    }
    return ret;
}

/* A JSON error of our own: {"error":"NAME","message":"..."}, with one extra header. */
static enum MHD_Result send_error(struct sw_http *h, struct req *r, int status, const char *name,
                                  const char *msg, const char *hname, const char *hvalue)
{
    struct sw_http_resp resp;
    char esc[512];
    int n;

    memset(&resp, 0, sizeof(resp));
    resp.fd = -1;
    resp.status = status;
    resp.content_type = "application/json";
    json_escape(esc, sizeof(esc), msg);
    if ((resp.body = malloc(sizeof(esc) + 128)) == NULL)
        return MHD_NO;
    n = snprintf(resp.body, sizeof(esc) + 128, "{\"error\":\"%s\",\"message\":\"%s\"}\n", name,
                 esc);
    resp.body_len = (size_t)n;
    if (hname != NULL)
        snprintf(resp.headers, sizeof(resp.headers), "%s: %s\r\n", hname, hvalue);
    return send_resp(h, r, &resp);
}

/* First call: everything decided from the request line and headers (see the file comment). */
static enum MHD_Result start(struct sw_http *h, struct req *r, const char *url, const char *method)
{
    const struct sw_http_route *rt;
    const char *auth, *cl, *tok;
    size_t i, tlen;
    int ok = 1;

    if (strlen(url) > MAX_PATH_LEN)
        return send_error(h, r, 414, "URI_TOO_LONG", "the path is too long", NULL, NULL);
    if ((r->raw_path = strdup(url)) == NULL)
        return MHD_NO;
    if ((r->path = decode_path(url)) == NULL)
        return send_error(h, r, 400, "BAD_REQUEST", "the path has a bad percent escape", NULL,
                          NULL);
    for (i = 0; i < h->nroutes; i++) {
        rt = &h->routes[i];
        if (rt->prefix ? strncmp(r->path, rt->path, strlen(rt->path)) == 0
                       : strcmp(r->path, rt->path) == 0)
            break;
    }
    r->route = i;
    if (i == h->nroutes)
        return send_error(h, r, 404, "NOT_FOUND", "no such endpoint", NULL, NULL);
    rt = &h->routes[i];
    if (!method_allowed(rt->methods, method)) {
        char allow[128];
        size_t o = 0;
        const char *p = rt->methods;
        /* "GET,HEAD" as "GET, HEAD" */
        while (*p != '\0' && o + 3 < sizeof(allow)) {
            if (*p == ',') {
                allow[o++] = ',';
                allow[o++] = ' ';
                for (p++; *p == ' '; p++)
                    ;
            } else {
                allow[o++] = *p++;
            }
        }
        allow[o] = '\0';
        return send_error(h, r, 405, "METHOD_NOT_ALLOWED", "method not allowed here", "Allow",
                          allow);
    }
    auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    pthread_mutex_lock(&h->lock);
    if (rt->group != SW_HTTP_OPEN && (unsigned)rt->group < 4 && h->tokens[rt->group][0] != '\0')
        ok = bearer(auth, &tok, &tlen) && token_ok(tok, tlen, h->tokens[rt->group]);
    if (ok) {
        r->ar = h->cur;
        atomic_fetch_add(&r->ar->refs, 1);
        r->max_body = h->max_body;
    }
    pthread_mutex_unlock(&h->lock);
    if (!ok) {
        atomic_fetch_add(&h->unauthorized, 1);
        /* RFC 6750 §3: error="invalid_token" only when a token was presented */
        return send_error(h, r, 401, "UNAUTHORIZED",
                          auth == NULL ? "a bearer token is needed" : "wrong bearer token",
                          "WWW-Authenticate",
                          auth == NULL ? "Bearer realm=\"stirwire\""
                                       : "Bearer realm=\"stirwire\", error=\"invalid_token\"");
    }
    cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        unsigned long long v;
        const char *expect;

        errno = 0;
        v = strtoull(cl, &end, 10);
        expect = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (errno == 0 && v > r->max_body && v <= SW_HTTP_DISCARD_MAX &&
            (expect == NULL || strcasecmp(expect, "100-continue") != 0)) {
            /*
             * A client already sending a body we refuse (no Expect: 100-continue): an
             * answer now, and the close after it, would meet its unread bytes, and the
             * kernel would reset the connection, often before the client read the 413.
             * So the body is read and dropped (never stored) and the 413 comes at its end,
             * as nginx's lingering close does; past SW_HTTP_DISCARD_MAX it is not worth it.
             */
            atomic_fetch_add(&h->too_large, 1);
            r->discard = 1;
            return MHD_YES;
        }
        if (errno != 0 || v > r->max_body) {
            atomic_fetch_add(&h->too_large, 1);
            return send_error(h, r, 413, "PAYLOAD_TOO_LARGE", "the body is larger than allowed",
                              "Connection", "close");
        }
    }
    return MHD_YES;
}

/* The handler, again after each wake, until it answers or suspends. */
static enum MHD_Result run(struct sw_http *h, struct req *r, const char *method)
{
    const struct sw_http_route *rt = &h->routes[r->route];
    struct sw_http_req req;
    struct sw_http_resp resp;
    enum sw_http_rc rc;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = r->path;
    req.raw_path = r->raw_path;
    req.body = r->body != NULL ? r->body : "";
    req.body_len = r->len;
    req.content_type =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req.wake_arg = r;
    req.slot = r->slot.b;
    for (;;) {
        if (r->again > MAX_AGAIN)
            return send_error(h, r, 500, "INTERNAL", "the handler kept waiting", NULL, NULL);
        req.again = r->again;
        memset(&resp, 0, sizeof(resp));
        resp.fd = -1;
        resp.status = 500;
        /* the reference a wake will drop, taken before the handler can hand out wake_arg */
        pthread_mutex_lock(&r->lock);
        r->refs++;
        r->woken = 0;
        pthread_mutex_unlock(&r->lock);
        rc = rt->handler(r->ar->api, &req, &resp);
        if (rc != SW_HTTP_AGAIN) {
            req_unref(r); /* no wake will come: MHD's reference keeps r */
            return send_resp(h, r, &resp);
        }
        /* a waiting handler answers nothing; anything it left is freed, not sent */
        free(resp.body);
        if (resp.fd >= 0)
            close(resp.fd);
        r->again++;
        pthread_mutex_lock(&r->lock);
        if (r->woken) {
            /* the wake came while the handler was still running: no need to suspend */
            pthread_mutex_unlock(&r->lock);
            continue;
        }
        r->suspended = 1;
        atomic_fetch_add(&h->suspended, 1);
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&r->lock);
        return MHD_YES;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct sw_http *h = cls;
    struct req *r = *con_cls;

    (void)version;
    if (r == NULL) {
        if ((r = calloc(1, sizeof(*r))) == NULL)
            return MHD_NO;
        pthread_mutex_init(&r->lock, NULL);
        r->refs = 1; /* MHD's, until on_completed */
        r->conn = c;
        r->h = h;
        r->route = h->nroutes;
        snprintf(r->method, sizeof(r->method), "%s", method);
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        *con_cls = r;
        return start(h, r, url, method);
    }
    if (r->responded) {
        *upload_size = 0; /* answered already: whatever still comes is dropped */
        return MHD_YES;
    }
    if (r->discard) {
        r->discarded += *upload_size;
        if (r->discarded > SW_HTTP_DISCARD_MAX)
            return MHD_NO; /* more than it declared, or endless: close */
        if (*upload_size != 0) {
            *upload_size = 0;
            return MHD_YES;
        }
        return send_error(h, r, 413, "PAYLOAD_TOO_LARGE", "the body is larger than allowed",
                          "Connection", "close");
    }
    if (*upload_size != 0) {
        if (*upload_size > r->max_body - r->len) {
            atomic_fetch_add(&h->too_large, 1);
            if (send_error(h, r, 413, "PAYLOAD_TOO_LARGE", "the body is larger than allowed",
                           "Connection", "close") != MHD_YES)
                return MHD_NO; /* mid-upload MHD may refuse a response: close instead */
            *upload_size = 0;
            return MHD_YES;
        }
        if (r->body == NULL && (r->body = malloc(r->max_body + 1)) == NULL)
            return MHD_NO;
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        r->body[r->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    return run(h, r, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sw_http *h = cls;
    struct req *r = *con_cls;
    struct timespec t1;

    (void)c;
    (void)toe;
    if (r == NULL)
        return;
    *con_cls = NULL;
    if (h->access_log != NULL) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        h->access_log(h->access_log_arg, r->method, r->raw_path != NULL ? r->raw_path : "?",
                      r->status, r->status != 0 ? r->sent : 0,
                      (double)(t1.tv_sec - r->t0.tv_sec) * 1e3 +
                          (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6);
    }
    if (!r->responded)
        count(h, r->route, 0); /* the connection ended without an answer: in 1xx */
    api_ref_drop(r->ar);
    r->ar = NULL;
    pthread_mutex_lock(&r->lock);
    r->completed = 1;
    if (r->suspended) {
        /* closed while waiting (shutdown): the wake, when it comes, only drops its ref */
        r->suspended = 0;
        atomic_fetch_sub(&h->suspended, 1);
    }
    pthread_mutex_unlock(&r->lock);
    req_unref(r);
}

void sw_http_wake(void *wake_arg, sw_err result)
{
    struct req *r = wake_arg;
    int last;

    (void)result; /* the handler finds the outcome in the cache when it runs again */
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->woken = 1;
    if (r->suspended && !r->completed) {
        r->suspended = 0;
        atomic_fetch_sub(&r->h->suspended, 1);
        MHD_resume_connection(r->conn);
    }
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last)
        req_free(r);
}

/* MHD's path unescaping is off: we get the raw path and decode it ourselves (start()). */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct sw_http *h = cls;
    char line[512];
    size_t n;

    if (h->error_log == NULL)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    h->error_log(h->error_log_arg, line);
}

/* ---- daemons ------------------------------------------------------------------------- */

/* An MHD daemon for c: on sa (a fresh bind) or on listen_fd (a reload's hand-over). */
static struct MHD_Daemon *start_daemon(struct sw_http *h, const struct sw_http_conf *c,
                                       const struct sockaddr *sa, int listen_fd, const char *cert,
                                       const char *key)
{
    struct MHD_OptionItem o[16];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    int n = 0, per_ip = c->max_per_ip;

    /* per address: a quarter of all connections (at least 8) unless set */
    if (per_ip <= 0)
        per_ip = c->max_connections / 4 > 8 ? c->max_connections / 4 : 8;
    if (cert != NULL)
        flags |= MHD_USE_TLS;
    /* first, or MHD prints what comes before it to stderr itself */
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h};
    if (c->threads > 1)
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, c->threads, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, c->max_connections, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, c->timeout, NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, h};
    if (listen_fd >= 0)
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL};
    else
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *)sa};
    if (cert != NULL) {
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key};
    }
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (sa != NULL && sa->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, o,
                            MHD_OPTION_END);
}

/*
 * Whether cert and key load (and match): a daemon without a listening socket or threads
 * is started with them and stopped at once. MHD offers no other way to ask.
 */
static int tls_usable(const char *cert, const char *key)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_TLS, 0, NULL, NULL,
                                            on_request, NULL, MHD_OPTION_HTTPS_MEM_CERT, cert,
                                            MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);

    if (d == NULL)
        return 0;
    MHD_stop_daemon(d);
    return 1;
}

/* Stops a retired daemon once its connections are done (or at its deadline, or at stop). */
static void *retire_thread(void *arg)
{
    struct retired *o = arg;
    const union MHD_DaemonInfo *info;

    while (!atomic_load(&o->h->stopping) && now_ms() < o->deadline_ms) {
        info = MHD_get_daemon_info(o->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0)
            break;
        sleep_ms(50);
    }
    MHD_stop_daemon(o->d);
    return NULL;
}

static int check_conf(const struct sw_http_conf *c, int *tls, char *err, size_t errlen)
{
    if (c->threads < 1 || c->threads > SW_HTTP_MAX_THREADS || c->max_body < 0 ||
        c->max_body > SW_HTTP_MAX_BODY_LIMIT || c->max_connections < 1 || c->timeout < 0) {
        errf(err, errlen, "http: threads, max_body, max_connections or timeout out of range");
        return -1;
    }
    if ((c->tls_cert[0] != '\0') != (c->tls_key[0] != '\0')) {
        errf(err, errlen, "http: tls_cert and tls_key go together");
        return -1;
    }
    *tls = c->tls_cert[0] != '\0';
    if (*tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        errf(err, errlen, "http: this libmicrohttpd has no TLS support");
        return -1;
    }
    return 0;
}

static void take_settings(struct sw_http *h, const struct sw_http_conf *c)
{
    snprintf(h->tokens[SW_HTTP_SIGN], SW_HTTP_MAX_TOKEN, "%s", c->token_sign);
    snprintf(h->tokens[SW_HTTP_CHECK], SW_HTTP_MAX_TOKEN, "%s", c->token_check);
    snprintf(h->tokens[SW_HTTP_OPS], SW_HTTP_MAX_TOKEN, "%s", c->token_ops);
    h->max_body = (size_t)c->max_body;
}

struct sw_http *sw_http_start(const struct sw_http_conf *conf, const struct sw_http_route *routes,
                              struct sw_api *api, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct sw_http *h;
    const union MHD_DaemonInfo *info;
    int tls;
    size_t n = 0;

    if (conf == NULL || routes == NULL || api == NULL) {
        errf(err, errlen, "http: nothing to serve");
        return NULL;
    }
    if (check_conf(conf, &tls, err, errlen) != 0)
        return NULL;
    if (sw_http_parse_listen(conf->listen, &ss, &sl) != 0) {
        errf(err, errlen, "http: listen \"%s\" is not ADDR:PORT or [ADDR]:PORT", conf->listen);
        return NULL;
    }
    while (routes[n].path != NULL)
        n++;
    if ((h = calloc(1, sizeof(*h))) == NULL ||
        (h->requests = calloc((n + 1) * N_CLASSES, sizeof(*h->requests))) == NULL ||
        (h->cur = api_ref_new(api, conf)) == NULL) {
        if (h != NULL)
            free(h->requests);
        free(h);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->routes = routes;
    h->nroutes = n;
    h->conf = *conf;
    h->access_log = conf->access_log;
    h->access_log_arg = conf->access_log_arg;
    h->error_log = conf->error_log;
    h->error_log_arg = conf->error_log_arg;
    take_settings(h, conf);
    if (tls && ((h->cert = read_pem("http: tls_cert", conf->tls_cert, err, errlen)) == NULL ||
                (h->key = read_pem("http: tls_key", conf->tls_key, err, errlen)) == NULL))
        goto fail;
    if ((h->d = start_daemon(h, conf, (struct sockaddr *)&ss, -1, h->cert, h->key)) == NULL) {
        errf(err, errlen,
             "http: cannot listen on %s (address in use, not ours, or a bad TLS certificate or "
             "key)",
             conf->listen);
        goto fail;
    }
    if ((info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT)) != NULL)
        h->port = info->port;
    return h;
fail:
    free_pem(h->cert);
    free_pem(h->key);
    /* the caller keeps the api: it was never in service */
    free(h->cur);
    free(h->requests);
    pthread_mutex_destroy(&h->lock);
    free(h);
    return NULL;
}

int sw_http_port(const struct sw_http *h)
{
    return h != NULL ? h->port : 0;
}

int sw_http_reload(struct sw_http *h, const struct sw_http_conf *conf, struct sw_api *api,
                   char *err, size_t errlen)
{
    char *cert = NULL, *key = NULL;
    struct api_ref *ar, *old_ar;
    struct retired *o = NULL;
    int tls, rc = 0, restart;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (h == NULL || conf == NULL || api == NULL) {
        errf(err, errlen, "http: nothing to reload");
        return -1;
    }
    if (check_conf(conf, &tls, err, errlen) != 0)
        return -1;
    if (tls && ((cert = read_pem("http: tls_cert", conf->tls_cert, err, errlen)) == NULL ||
                (key = read_pem("http: tls_key", conf->tls_key, err, errlen)) == NULL)) {
        free_pem(cert);
        return -1;
    }
    if ((ar = api_ref_new(api, conf)) == NULL) {
        free_pem(cert);
        free_pem(key);
        errf(err, errlen, "out of memory");
        return -1;
    }
    restart = !same_text(cert, h->cert) || !same_text(key, h->key) ||
              conf->threads != h->conf.threads ||
              conf->max_connections != h->conf.max_connections ||
              conf->max_per_ip != h->conf.max_per_ip || conf->timeout != h->conf.timeout;
    if (restart) {
        struct MHD_Daemon *nd;
        MHD_socket fd, spare;

        /* the new TLS files must work before the listener is touched */
        if (tls && !tls_usable(cert, key)) {
            free(ar);
            free_pem(cert);
            free_pem(key);
            errf(err, errlen,
                 "http: tls_cert %s and tls_key %s do not make a usable certificate and key; the "
                 "running ones stay",
                 conf->tls_cert, conf->tls_key);
            return -1;
        }

        if ((o = calloc(1, sizeof(*o))) == NULL) {
            free(ar);
            free_pem(cert);
            free_pem(key);
            errf(err, errlen, "out of memory");
            return -1;
        }
        /*
         * The hand-over: the old daemon stops accepting and gives us its socket; the new
         * one listens on it. Connections waiting in the backlog meanwhile are kept.
         */
        pthread_mutex_lock(&h->lock);
        fd = MHD_quiesce_daemon(h->d);
        pthread_mutex_unlock(&h->lock);
        if (fd == MHD_INVALID_SOCKET) {
            free(o);
            free(ar);
            free_pem(cert);
            free_pem(key);
            errf(err, errlen, "http: cannot hand the listener over; restart to apply");
            return -1;
        }
        /*
         * A daemon that fails to start closes the socket it was given: it gets a
         * duplicate, so that the old settings can go back on the original.
         */
        spare = dup(fd);
        if ((nd = start_daemon(h, conf, NULL, fd, cert, key)) == NULL) {
            /* put the old settings back on the socket; the new ones are refused */
            nd = spare >= 0 ? start_daemon(h, &h->conf, NULL, spare, h->cert, h->key) : NULL;
            errf(err, errlen, "http: the new TLS certificate or key (or limits) cannot be used; %s",
                 nd != NULL ? "the old ones stay" : "the listener is closed: restart");
            /* both the quiesced daemon and the replacement use h->cert and h->key */
            o->d = h->d;
            free_pem(cert);
            free_pem(key);
            cert = key = NULL;
            if (nd == NULL && spare >= 0)
                close(spare);
            rc = -1;
        } else {
            if (spare >= 0)
                close(spare);
            o->d = h->d;
            o->cert = h->cert;
            o->key = h->key;
            h->cert = cert;
            h->key = key;
            cert = key = NULL;
        }
        o->h = h;
        o->deadline_ms = now_ms() + (long)(conf->timeout > 0 ? conf->timeout : 60) * 3000 + 60000;
        pthread_mutex_lock(&h->lock);
        h->d = nd;
        o->next = h->old;
        h->old = o;
        pthread_mutex_unlock(&h->lock);
        if (pthread_create(&o->thread, NULL, retire_thread, o) != 0) {
            /* no thread: stop it here (waits for its connections) */
            MHD_stop_daemon(o->d);
            o->d = NULL;
        }
        if (rc != 0) {
            free(ar);
            return -1;
        }
    } else {
        free_pem(cert);
        free_pem(key);
    }
    pthread_mutex_lock(&h->lock);
    old_ar = h->cur;
    h->cur = ar;
    take_settings(h, conf);
    {
        char listen[sizeof(h->conf.listen)];
        memcpy(listen, h->conf.listen, sizeof(listen));
        h->conf = *conf;
        if (strcmp(listen, conf->listen) != 0) {
            errf(err, errlen, "http: listen changes from %s to %s only after a restart", listen,
                 conf->listen);
            rc = 1;
        }
        memcpy(h->conf.listen, listen, sizeof(listen));
    }
    pthread_mutex_unlock(&h->lock);
    api_ref_drop(old_ar);
    return rc;
}

void sw_http_stop(struct sw_http *h)
{
    struct retired *o, *next;
    long until;
    MHD_socket fd;

    if (h == NULL)
        return;
    atomic_store(&h->stopping, 1);
    /* no new connections; requests waiting for a wake get a few seconds for it */
    if (h->d != NULL && (fd = MHD_quiesce_daemon(h->d)) != MHD_INVALID_SOCKET)
        close(fd);
    until = now_ms() + STOP_WAIT_MS;
    while (atomic_load(&h->suspended) > 0 && now_ms() < until)
        sleep_ms(20);
    if (h->d != NULL)
        MHD_stop_daemon(h->d);
    h->d = NULL;
    for (o = h->old; o != NULL; o = next) {
        next = o->next;
        if (o->d != NULL)
            pthread_join(o->thread, NULL);
        free_pem(o->cert);
        free_pem(o->key);
        free(o);
    }
    api_ref_drop(h->cur);
    free_pem(h->cert);
    free_pem(h->key);
    free(h->requests);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
