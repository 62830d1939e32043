/*
 * server.h - the HTTP server of the REST API, on libmicrohttpd: one listener (plain or
 * TLS), a thread pool, bearer tokens per endpoint group, a body limit, connection limits
 * and timeouts, a routing table, and suspend/resume for handlers that wait (see api.h).
 *
 * It knows nothing of STIR: it turns a request into a struct sw_http_req, calls the
 * route's handler with the current struct sw_api, and sends the struct sw_http_resp. Used
 * by stirwired (the http group of its file) and by "stirwire serve".
 *
 * The rule a newcomer must not break: a handler may run on any of the pool's threads and
 * a wake may come from any thread, so nothing here may assume that a request stays on
 * one thread, and nothing a request holds (its context, the api it started with) may be
 * freed while a wake for it can still arrive. See the comments in server.c.
 *
 * No libmicrohttpd type appears here either.
 */
#ifndef SW_HTTP_SERVER_H
#define SW_HTTP_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api.h"

/* Defaults of the http group (stirwired(8) documents them). */
#define SW_HTTP_DEFAULT_LISTEN "127.0.0.1:8090"
#define SW_HTTP_DEFAULT_THREADS 2
#define SW_HTTP_DEFAULT_MAX_BODY 65536
#define SW_HTTP_DEFAULT_MAX_CONNECTIONS 256
#define SW_HTTP_DEFAULT_TIMEOUT 10 /* seconds */
#define SW_HTTP_DEFAULT_MAX_AGE 60 /* seconds, check/verify */
#define SW_HTTP_DEFAULT_FUTURE_SKEW 5
/* bounds the loaders enforce */
#define SW_HTTP_MAX_THREADS 64
#define SW_HTTP_MAX_BODY_LIMIT (16 * 1024 * 1024)
#define SW_HTTP_MAX_TOKEN 256

/*
 * The http group, parsed. Plain data (fixed arrays, no pointers to free) so that it can
 * be copied; "" means "not set". The server reads listen, tls_*, threads, max_body,
 * max_connections, timeout and tokens; the rest (keys, pub_dir, max ages) is what the
 * loaders build the struct sw_api from, kept here so that the whole group is one value.
 */
struct sw_http_conf {
    char listen[128];                   /* "ADDR:PORT" or "[V6]:PORT" */
    char tls_cert[4096], tls_key[4096]; /* PEM files; HTTPS when both are set */
    int threads;                        /* thread pool size, 1..SW_HTTP_MAX_THREADS */
    int max_body;                       /* bytes; a larger body gets 413 */
    int max_connections;                /* connections at once, in all */
    int max_per_ip;                     /* connections at once from one address; 0: default */
    int timeout;                        /* seconds a connection may stay idle */
    char token_sign[SW_HTTP_MAX_TOKEN]; /* bearer tokens by endpoint group; "" = open */
    char token_check[SW_HTTP_MAX_TOKEN];
    char token_ops[SW_HTTP_MAX_TOKEN];
    char pub_dir[4096];                  /* root of /v1/pub/ */
    char sign_key[4096], sign_x5u[2048]; /* the sign group */
    char check_key[4096];                /* the check group */
    long long max_age, future_skew;      /* seconds */

    /*
     * Not from the file: set by the caller before sw_http_start / sw_http_reload.
     *
     * api_release: called once the server no longer uses the api passed with this conf
     * (after a reload put another in service and the last request that started with this
     * one has completed, or at sw_http_stop), on whichever thread that happens; NULL when
     * the caller frees the api itself after sw_http_stop. The daemon drops its reference
     * to the configuration that owns the api there.
     */
    void (*api_release)(struct sw_api *api, void *arg);
    void *api_release_arg;
    /*
     * access_log: one call per completed request (any pool thread): method, raw path,
     * status (0 when no response was sent: the client went away), body bytes sent,
     * milliseconds from the first byte to completion. NULL: no log.
     */
    void (*access_log)(void *arg, const char *method, const char *path, int status, uint64_t bytes,
                       double ms);
    void *access_log_arg;
    /* error_log: libmicrohttpd's own messages (TLS handshake failures, ...). NULL: none. */
    void (*error_log)(void *arg, const char *line);
    void *error_log_arg;
};

/* A conf with every default and nothing set (listen is SW_HTTP_DEFAULT_LISTEN). */
static inline void sw_http_conf_init(struct sw_http_conf *c)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->listen, SW_HTTP_DEFAULT_LISTEN, sizeof(SW_HTTP_DEFAULT_LISTEN));
    c->threads = SW_HTTP_DEFAULT_THREADS;
    c->max_body = SW_HTTP_DEFAULT_MAX_BODY;
    c->max_connections = SW_HTTP_DEFAULT_MAX_CONNECTIONS;
    c->timeout = SW_HTTP_DEFAULT_TIMEOUT;
    c->max_age = SW_HTTP_DEFAULT_MAX_AGE;
    c->future_skew = SW_HTTP_DEFAULT_FUTURE_SKEW;
}

/*
 * "ADDR:PORT" (IPv4), "[ADDR]:PORT" (IPv6) into a socket address; a numeric address only
 * (nothing here resolves names), port 0..65535 (0: any free port, for tests). Returns 0,
 * or -1 when s is not of that form. Header-only so that the daemon's loader can check the
 * setting without linking the server.
 */
static inline int sw_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon, *h = s;
    size_t hl;
    char *end;
    long port;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || end - (colon + 1) > 5)
        return -1;
    if (s[0] == '[') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return -1;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return -1;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
    }
    return 0;
}

struct sw_http;

/*
 * Starts the server: binds conf->listen (that address only), reads the TLS files when
 * both are set (HTTPS; the libmicrohttpd must have TLS support), and serves routes
 * (NULL-path-terminated; borrowed, must outlive the server: normally sw_http_routes)
 * with api (borrowed until conf->api_release is called for it). Returns the server, or
 * NULL with a one-line reason in err.
 */
struct sw_http *sw_http_start(const struct sw_http_conf *conf, const struct sw_http_route *routes,
                              struct sw_api *api, char *err, size_t errlen);

/*
 * Puts a new configuration in service (any thread but a handler's): api, tokens and
 * max_body take effect for requests that start from now on (a request in hand finishes
 * with the api it started with; the old api is released when the last of them
 * completes). The TLS files are read again; when they (or threads, max_connections,
 * max_per_ip, timeout) changed, a new listener daemon takes over the listening socket
 * and the old one finishes its open connections, so no connection is refused meanwhile.
 * conf->listen cannot change while running: a different one is reported in err and
 * waits for a restart (the rest is applied; returns 1). Returns 0 when all was applied,
 * 1 when applied with a note in err, -1 when nothing was (a TLS file that cannot be read:
 * the running server and api stay as they were; api is not released).
 */
int sw_http_reload(struct sw_http *h, const struct sw_http_conf *conf, struct sw_api *api,
                   char *err, size_t errlen);

/*
 * Stops listening, finishes or closes every connection (a request suspended for a wake
 * gets up to a few seconds for it), releases the api, frees h. NULL does nothing.
 */
void sw_http_stop(struct sw_http *h);

/* The bound TCP port (the one chosen when conf->listen asked for port 0). */
int sw_http_port(const struct sw_http *h);

/*
 * The HTTP layer's own counters in Prometheus text exposition format (version 0.0.4):
 * stirwire_http_requests_total{route,code} (status class 1xx..5xx),
 * stirwire_http_unauthorized_total, stirwire_http_body_too_large_total,
 * stirwire_http_suspended (requests waiting for a wake now), stirwire_http_connections.
 * Writes at most len bytes (NUL-terminated, whole lines) into buf; returns the length of
 * the whole text, which is >= len when it did not fit.
 */
size_t sw_http_metrics(struct sw_http *h, char *buf, size_t len);

#endif /* SW_HTTP_SERVER_H */
