/*
 * resolve.c - next hops' names through c-ares (see resolve.h).
 *
 * One blocking call runs every query on a private channel and waits for the answers with
 * poll() (not select: a busy daemon has descriptors past FD_SETSIZE). The order follows
 * RFC 3263 section 4 without NAPTR: a name in the hosts file is taken from there; a URI
 * with no port asks SRV first, and an SRV answer's targets become hops with the records'
 * priorities and weights; otherwise the name's addresses are the hops. c-ares parses every
 * answer (ares_parse_srv_reply, ares_getaddrinfo); the SRV records' TTL, which c-ares 1.18
 * does not report, comes from the C library's resolver parser (ns_initparse, libresolv).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"

#define MAX_HOPS 64 /* resolved hops per trunk: more is a mistake in DNS, not a carrier */

void sw_dns_defaults(struct sw_dns *dns)
{
    memset(dns, 0, sizeof(*dns));
    dns->min_ttl = SW_DNS_MIN_TTL;
    dns->max_ttl = SW_DNS_MAX_TTL;
    dns->timeout_ms = 1500;
    dns->tries = 2;
}

int sw_resolve_init(void)
{
    return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

/* What one sw_resolve_specs call collects. */
struct collect {
    const struct sw_dns *dns;
    struct sw_hop hops[MAX_HOPS];
    size_t n;
    int ttl;
    int pending;
    int failed;
    char why[256];
};

/* One outstanding query and what its answer becomes. */
struct query {
    struct collect *c;
    const struct sw_hop_spec *spec;
    int port;     /* the SRV record's, or the URI's, or 5060 */
    int priority; /* the hop's */
    int weight;   /* the hop's */
    char name[256];
    int srv;        /* an SRV query (else addresses) */
    int srv_target; /* addresses of an SRV target: a failure fails this target only */
};

static void note_ttl(struct collect *c, int ttl)
{
    if (ttl < c->dns->min_ttl)
        ttl = c->dns->min_ttl;
    if (ttl > c->dns->max_ttl)
        ttl = c->dns->max_ttl;
    if (c->ttl == 0 || ttl < c->ttl)
        c->ttl = ttl;
}

static void add_hop(struct collect *c, const struct query *q, const struct sockaddr *sa,
                    socklen_t len)
{
    struct sw_hop *h;

    if (c->n >= MAX_HOPS || len > sizeof(h->addr))
        return;
    h = &c->hops[c->n++];
    memset(h, 0, sizeof(*h));
    h->uri = q->spec->uri;
    snprintf(h->host, sizeof(h->host), "%s", q->name);
    h->port = q->port;
    h->transport = q->spec->transport;
    h->tcp_capable = q->spec->transport == SW_TCP;
    memcpy(&h->addr, sa, len);
    h->addrlen = len;
    sw_addr_set_port(&h->addr, q->port);
    h->priority = q->priority;
    h->weight = q->weight;
}

static void fail(struct collect *c, const char *name, const char *err)
{
    if (!c->failed)
        snprintf(c->why, sizeof(c->why), "host \"%.200s\" does not resolve: %s", name, err);
    c->failed = 1;
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct query *q = arg;
    struct collect *c = q->c;
    struct ares_addrinfo_node *nd;
    size_t before = c->n;

    (void)timeouts;
    if (status == ARES_SUCCESS && ai != NULL) {
        for (nd = ai->nodes; nd != NULL; nd = nd->ai_next) {
            add_hop(c, q, nd->ai_addr, (socklen_t)nd->ai_addrlen);
            note_ttl(c, nd->ai_ttl);
        }
    }
    if (c->n == before && !q->srv_target)
        fail(c, q->name, status == ARES_SUCCESS ? "no address" : ares_strerror(status));
    ares_freeaddrinfo(ai);
    c->pending--;
    free(q);
}

static void ask_addresses(ares_channel ch, struct collect *c, const struct sw_hop_spec *spec,
                          const char *name, int port, int priority, int weight, int srv_target)
{
    struct ares_addrinfo_hints hints;
    struct query *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        fail(c, name, "out of memory");
        return;
    }
    q->c = c;
    q->spec = spec;
    q->port = port;
    q->priority = priority;
    q->weight = weight;
    q->srv_target = srv_target;
    snprintf(q->name, sizeof(q->name), "%.250s", name);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = spec->transport == SW_TCP ? SOCK_STREAM : SOCK_DGRAM;
    c->pending++;
    ares_getaddrinfo(ch, q->name, NULL, &hints, on_addrinfo, q);
}

/* The lowest TTL of the answer section's records (libresolv's parser), or -1. */
static int answer_ttl(const unsigned char *abuf, int alen)
{
    ns_msg msg;
    ns_rr rr;
    int i, n, ttl = -1;

    if (ns_initparse(abuf, alen, &msg) != 0)
        return -1;
    n = ns_msg_count(msg, ns_s_an);
    for (i = 0; i < n; i++)
        if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && ns_rr_type(rr) == ns_t_srv &&
            (ttl < 0 || (int)ns_rr_ttl(rr) < ttl))
            ttl = (int)ns_rr_ttl(rr);
    return ttl;
}

/* Carries the channel to the SRV callback, which asks for the targets' addresses. */
struct srv_query {
    struct query q;
    ares_channel ch;
};

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct srv_query *sq = arg;
    struct query *q = &sq->q;
    struct collect *c = q->c;
    struct ares_srv_reply *srv = NULL, *r;
    int ttl;

    (void)timeouts;
    if (status == ARES_SUCCESS && ares_parse_srv_reply(abuf, alen, &srv) == ARES_SUCCESS &&
        srv != NULL) {
        if ((ttl = answer_ttl(abuf, alen)) >= 0)
            note_ttl(c, ttl);
        for (r = srv; r != NULL; r = r->next) {
            /* RFC 2782: a target of "." means the service is not offered here */
            if (strcmp(r->host, ".") == 0 || r->host[0] == '\0')
                continue;
            ask_addresses(sq->ch, c, q->spec, r->host, r->port,
                          (q->spec->priority << 16) + r->priority, r->weight, 1);
        }
        ares_free_data(srv);
    } else if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_SUCCESS) {
        /* no SRV record: the name's own addresses, port 5060 (RFC 3263 4.2) */
        ask_addresses(sq->ch, c, q->spec, q->spec->host, 5060, q->spec->priority << 16,
                      q->spec->weight, 0);
    } else {
        fail(c, q->spec->host, ares_strerror(status)); /* the SRV query itself failed */
    }
    c->pending--;
    free(sq);
}

/* c-ares's ARES_GETSOCK_* macros shift a signed 1 into the sign bit for the last socket */
#define SOCK_READABLE(bits, i) (((unsigned)(bits) >> (i)) & 1u)
#define SOCK_WRITABLE(bits, i) (((unsigned)(bits) >> ((i) + ARES_GETSOCK_MAXNUM)) & 1u)

/* Runs the channel until every query has answered (c-ares's own timeouts bound it). */
static void wait_all(ares_channel ch, struct collect *c)
{
    while (c->pending > 0) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        struct timeval tv, *tvp;
        int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM), i, n = 0, ms, r;

        for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            if (!SOCK_READABLE(bits, i) && !SOCK_WRITABLE(bits, i))
                continue;
            pfd[n].fd = socks[i];
            pfd[n].events = (short)((SOCK_READABLE(bits, i) ? POLLIN : 0) |
                                    (SOCK_WRITABLE(bits, i) ? POLLOUT : 0));
            pfd[n].revents = 0;
            n++;
        }
        tvp = ares_timeout(ch, NULL, &tv);
        ms = tvp != NULL ? (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) : 100;
        r = poll(pfd, (nfds_t)n, ms > 0 ? ms : 1);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
            continue;
        }
        for (i = 0; i < n; i++)
            ares_process_fd(
                ch, (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD,
                (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
    }
}

/* A name from the hosts file, as the system would take it: no SRV, no DNS. 1 when found. */
static int from_hosts_file(ares_channel ch, struct collect *c, const struct sw_hop_spec *spec)
{
    static const int families[] = {AF_INET, AF_INET6};
    struct query q;
    size_t f;
    int found = 0;

    memset(&q, 0, sizeof(q));
    q.spec = spec;
    q.port = spec->port != 0 ? spec->port : 5060;
    q.priority = spec->priority << 16;
    q.weight = spec->weight;
    snprintf(q.name, sizeof(q.name), "%s", spec->host);
    for (f = 0; f < 2 && !found; f++) {
        struct hostent *he = NULL;
        char **a;
        if (ares_gethostbyname_file(ch, spec->host, families[f], &he) != ARES_SUCCESS || he == NULL)
            continue;
        for (a = he->h_addr_list; *a != NULL; a++) {
            struct sockaddr_storage ss;
            socklen_t len;
            char ip[INET6_ADDRSTRLEN];
            if (inet_ntop(he->h_addrtype, *a, ip, sizeof(ip)) == NULL ||
                sw_addr_from_ip(ip, q.port, &ss, &len) != 0)
                continue;
            add_hop(c, &q, (struct sockaddr *)&ss, len);
            found = 1;
        }
        ares_free_hostent(he);
    }
    if (found)
        note_ttl(c, c->dns->max_ttl < 300 ? c->dns->max_ttl : 300);
    return found;
}

int sw_resolve_specs(const struct sw_dns *dns, const struct sw_hop_spec *specs, size_t nspecs,
                     int tcp_capable, struct sw_hop **hops, size_t *n, int *ttl, char *why,
                     size_t whylen)
{
    struct ares_options opts;
    ares_channel ch = NULL;
    struct collect *c;
    size_t i;
    int rc = -1, e;

    *hops = NULL;
    *n = 0;
    *ttl = dns->max_ttl;
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    c->dns = dns;
    memset(&opts, 0, sizeof(opts));
    opts.timeout = dns->timeout_ms;
    opts.tries = dns->tries;
    if ((e = ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)) != ARES_SUCCESS) {
        snprintf(why, whylen, "c-ares: %s", ares_strerror(e));
        goto out;
    }
    if (dns->servers[0] != '\0' &&
        (e = ares_set_servers_ports_csv(ch, dns->servers)) != ARES_SUCCESS) {
        snprintf(why, whylen, "dns servers \"%s\": %s", dns->servers, ares_strerror(e));
        goto out;
    }
    for (i = 0; i < nspecs; i++) {
        const struct sw_hop_spec *s = &specs[i];
        if (s->is_ip) {
            struct query q;
            struct sockaddr_storage ss;
            socklen_t len;
            memset(&q, 0, sizeof(q));
            q.spec = s;
            q.port = s->port != 0 ? s->port : 5060;
            q.priority = s->priority << 16;
            q.weight = s->weight;
            snprintf(q.name, sizeof(q.name), "%s", s->host);
            if (sw_addr_from_ip(s->host, q.port, &ss, &len) == 0)
                add_hop(c, &q, (struct sockaddr *)&ss, len);
            continue;
        }
        if (from_hosts_file(ch, c, s))
            continue;
        if (s->port == 0) {
            struct srv_query *sq = calloc(1, sizeof(*sq));
            if (sq == NULL) {
                snprintf(why, whylen, "out of memory");
                goto out;
            }
            sq->ch = ch;
            sq->q.c = c;
            sq->q.spec = s;
            sq->q.srv = 1;
            snprintf(sq->q.name, sizeof(sq->q.name), "_sip._%s.%.240s",
                     s->transport == SW_TCP ? "tcp" : "udp", s->host);
            c->pending++;
            ares_query(ch, sq->q.name, ns_c_in, ns_t_srv, on_srv, sq);
        } else {
            ask_addresses(ch, c, s, s->host, s->port, s->priority << 16, s->weight, 0);
        }
    }
    wait_all(ch, c);
    if (c->failed) {
        snprintf(why, whylen, "%s", c->why);
        goto out;
    }
    if (c->n == 0) {
        snprintf(why, whylen, "no address found for any next hop");
        goto out;
    }
    if ((*hops = calloc(c->n, sizeof(**hops))) == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    for (i = 0; i < c->n; i++) {
        c->hops[i].tcp_capable |= tcp_capable;
        (*hops)[i] = c->hops[i];
    }
    *n = c->n;
    *ttl = c->ttl > 0 ? c->ttl : dns->max_ttl;
    rc = 0;
out:
    if (ch != NULL)
        ares_destroy(ch); /* runs the callbacks still pending, with ARES_EDESTRUCTION */
    free(c);
    return rc;
}
