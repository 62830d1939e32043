/*
 * api.h - the REST API of stirwired and "stirwire serve": what a handler sees (a request
 * already read by the HTTP server) and what it answers, the routing table, and the state
 * the handlers share. No libmicrohttpd type appears here: src/http/server.c turns MHD's
 * requests into struct sw_http_req and sends struct sw_http_resp, so the handlers are
 * plain functions that unit tests call directly.
 *
 * Endpoints (issue "The REST API ..."; secsipidx 1.2 compatible under /v1):
 *   POST /v1/check        body: an Identity header value      -> 200 "OK\n" or a 4xx JSON
 *   POST /v1/sign-csv     body: OrigTN,DestTN,ATTEST,OrigID,X5U -> 200 "<identity>\n"
 *   GET|HEAD /v1/pub/F    a file of pub_dir (certificates served as x5u)
 *   POST /v2/sign         JSON claims (or an array of them)   -> JSON
 *   POST /v2/verify       JSON {identity, from, pai, to, ruri, date} (or an array) -> JSON
 *   GET /v2/openapi.json  the OpenAPI 3 document of all of this
 *   GET /metrics          Prometheus text exposition
 *   GET /healthz, /readyz liveness, readiness
 *
 * Waiting: a handler that needs a certificate that is not cached starts the fetch with
 * sw_verifier_get_cert(..., sw_http_wake, req->wake_arg, ...) (or anything that ends in
 * one call of sw_http_wake(req->wake_arg)) and returns SW_HTTP_AGAIN: the server suspends
 * the connection (its threads serve others) and, after the wake, calls the same handler
 * again with the same request; the handler then finds the certificate cached (or its
 * failure in the negative cache). req->again counts the calls so far, so a handler never
 * waits twice.
 */
#ifndef SW_HTTP_API_H
#define SW_HTTP_API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/stirwire.h"

/* A request as the handler sees it; everything is owned by the server. */
struct sw_http_req {
    const char *method;       /* "GET", "HEAD", "POST", ... */
    const char *path;         /* the URL path, percent-decoded by the server ("/v1/pub/a.pem") */
    const char *raw_path;     /* the path as sent, not decoded (for traversal checks) */
    const char *body;         /* the whole body (NUL-terminated copy), "" when none */
    size_t body_len;          /* bytes, at most the configured max_body */
    const char *content_type; /* NULL when absent */
    int again;                /* 0 on the first call; 1 after a wake (see above) */
    void *wake_arg;           /* for sw_http_wake */
    void *slot;               /* SW_HTTP_SLOT bytes the handler may keep across a wait */
};
#define SW_HTTP_SLOT 256

/* What the handler answers. The server frees body (free) or closes fd after sending. */
struct sw_http_resp {
    int status;               /* HTTP status */
    const char *content_type; /* a static string ("application/json") */
    char *body;               /* malloc'd, or NULL */
    size_t body_len;
    int fd; /* a file to send instead of body (pub), or -1 */
    uint64_t fd_size;
    char headers[512]; /* extra "Name: value\r\n" lines (Allow:, X-SIP-Status:, ...) */
};

/* A handler's answer: SW_HTTP_DONE (resp filled) or SW_HTTP_AGAIN (waiting, see above). */
enum sw_http_rc { SW_HTTP_DONE = 0, SW_HTTP_AGAIN = 1 };

/* Endpoint groups, each with its optional bearer token. */
enum sw_http_group { SW_HTTP_OPEN, SW_HTTP_SIGN, SW_HTTP_CHECK, SW_HTTP_OPS };

/*
 * The state the handlers share, built by the daemon (or "stirwire serve") from the http
 * group and handed to the server; read-only while requests run (a reload builds a new
 * one and the server swaps it between requests).
 */
struct sw_api {
    sw_key *sign_key;             /* NULL: the sign endpoints answer 503 */
    char *sign_x5u;               /* default x5u for sign-csv / v2 sign, NULL when none */
    sw_pubkey *check_key;         /* NULL: verify through the verifier */
    sw_verifier *verifier;        /* the daemon's one verifier (borrowed) */
    int64_t max_age, future_skew; /* seconds, for check/verify */
    int pub_dirfd;                /* pub_dir opened O_DIRECTORY|O_PATH, or -1 */
    /*
     * Prometheus text of everything outside the HTTP layer (proxy counters, filter
     * counters, verifier): malloc'd, or NULL. Set by the daemon; NULL in "stirwire serve"
     * (then only the verifier's and the HTTP layer's own metrics are served).
     */
    char *(*metrics)(void *arg);
    void *metrics_arg;
    int (*ready)(void *arg); /* 1 when ready (config loaded, workers running); NULL = ready */
    void *ready_arg;
};

typedef enum sw_http_rc (*sw_http_handler)(const struct sw_api *api, struct sw_http_req *req,
                                           struct sw_http_resp *resp);

/* One route: exact path, or a prefix when prefix = 1 ("/v1/pub/"). */
struct sw_http_route {
    const char *path;
    int prefix;
    const char *methods; /* "POST", "GET,HEAD": others get 405 with Allow: */
    enum sw_http_group group;
    sw_http_handler handler;
};

/* The routing table, NULL-path-terminated (api.c); the OpenAPI test walks it. */
extern const struct sw_http_route sw_http_routes[];

/* Wakes a suspended request (any thread, exactly once per SW_HTTP_AGAIN). Matches
 * sw_fetch_cb, so it can be given to the verifier directly. (server.c) */
void sw_http_wake(void *wake_arg, sw_err result);

/* Helpers for handlers (api.c): a JSON error answer {"error","message","detail",...}. */
void sw_http_error(struct sw_http_resp *resp, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* SW_HTTP_API_H */
