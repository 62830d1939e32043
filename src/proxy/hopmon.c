/*
 * hopmon.c - the hop monitor's two threads: re-resolution by TTL and OPTIONS health
 * checks (see hopmon.h).
 *
 * Why two threads: a DNS server that does not answer makes a resolution take seconds
 * (c-ares's timeouts), and health checks must keep their rhythm meanwhile. Neither
 * thread touches a worker's data: the resolver publishes whole new hop sets (the old one
 * is retired and freed a minute later, far past the microseconds a worker holds a hop),
 * and the health thread stores each hop's down flag atomically in the live sets.
 *
 * Health state belongs to an address and transport, not to a trunk or a set: two trunks
 * toward one SBC share a probe, and a re-resolved set or a reloaded configuration keeps
 * the state of the addresses it still has. A probe is one OPTIONS in flight at a time per
 * hop, from a socket of its own: a connected UDP socket (so an ICMP port unreachable comes
 * back as ECONNREFUSED at once) or a TCP connection kept open between probes. Any final
 * response other than 408 or 503 means the hop is alive (a 404 or 405 comes from a
 * working SIP server: carriers often refuse OPTIONS politely).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/resolve.h"
#include "hopmon.h"

#define MAX_PROBES 256
#define RETIRE_GRACE 60 /* seconds a replaced hop set is kept for workers still reading it */
#define TICK_MS 50

struct probe {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int transport;
    int fd;
    int connecting;
    int interval_ms, down_after, up_after;
    int outstanding; /* an OPTIONS sent and not yet answered */
    int misses, oks, down;
    int64_t next_send; /* ms, monotonic */
    unsigned cseq;
    char callid[128];
    char where[80]; /* "127.0.0.1:5060/udp" for logs */
    char in[4096];
    size_t inlen;
    int seen;
};

struct sw_hopmon {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct sw_config *cfg; /* under lock */
    int stopping;          /* under lock */
    pthread_t resolver, health;
    int have_resolver, have_health;
    struct probe probes[MAX_PROBES]; /* health thread only */
    size_t nprobes;
    uint64_t tag;
    _Atomic uint64_t marked_down, marked_up, dns_changes;
};

/* The configuration to work on, with a reference; NULL when stopping. */
static struct sw_config *take_config(struct sw_hopmon *mon)
{
    struct sw_config *cfg = NULL;

    pthread_mutex_lock(&mon->lock);
    if (!mon->stopping)
        cfg = sw_config_ref(mon->cfg);
    pthread_mutex_unlock(&mon->lock);
    return cfg;
}

/* Waits up to ms or until woken; 1 when stopping. */
static int nap(struct sw_hopmon *mon, int ms)
{
    struct timespec until;
    int stop;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mon->lock);
    if (!mon->stopping)
        pthread_cond_timedwait(&mon->wake, &mon->lock, &until);
    stop = mon->stopping;
    pthread_mutex_unlock(&mon->lock);
    return stop;
}

/* --- the resolver thread ------------------------------------------------------------------ */

static int same_set(const struct sw_hopset *a, const struct sw_hop *hops, size_t n)
{
    size_t i;

    if (a == NULL || a->n != n)
        return 0;
    for (i = 0; i < n; i++) {
        const struct sw_hop *x = &a->hops[i], *y = &hops[i];
        if (x->addrlen != y->addrlen || memcmp(&x->addr, &y->addr, x->addrlen) != 0 ||
            x->transport != y->transport || x->priority != y->priority || x->weight != y->weight)
            return 0;
    }
    return 1;
}

static void describe(const struct sw_hopset *set, char *out, size_t size)
{
    size_t i, used = 0;
    char where[64];

    out[0] = '\0';
    for (i = 0; i < set->n && used + 1 < size; i++) {
        int n;
        sw_addr_str((const struct sockaddr *)&set->hops[i].addr, where, sizeof(where));
        n = snprintf(out + used, size - used, "%s%s (priority %d, weight %d)", i ? ", " : "", where,
                     set->hops[i].priority, set->hops[i].weight);
        if (n < 0)
            break;
        used += (size_t)n < size - used ? (size_t)n : size - used - 1;
    }
}

static void resolve_route(struct sw_hopmon *mon, const struct sw_config *cfg,
                          const struct sw_trunk *t, struct sw_route *r, int64_t now)
{
    struct sw_hop *hops = NULL;
    struct sw_hopset *set;
    size_t n = 0;
    int ttl;
    char why[300], text[1024];

    if (sw_resolve_specs(&cfg->dns, r->specs, r->nspecs, r->tcp_capable, &hops, &n, &ttl, why,
                         sizeof(why)) != 0) {
        /* keep the hops we have: a DNS outage must not take the trunk down */
        sw_log(LOG_WARNING, "trunk %s: next hops not re-resolved, the current ones stay: %s",
               t->name, why);
        r->next_resolve = now + cfg->dns.min_ttl;
        return;
    }
    r->next_resolve = now + ttl;
    set = sw_hopset_new(hops, n);
    free(hops);
    if (set == NULL)
        return;
    if (same_set(atomic_load(&r->live), set->hops, set->n)) {
        sw_hopset_free(set);
        return;
    }
    sw_route_publish(r, set, now);
    atomic_fetch_add(&mon->dns_changes, 1);
    describe(set, text, sizeof(text));
    sw_log(LOG_NOTICE, "trunk %s: next hops re-resolved (TTL %d s): %s", t->name, ttl, text);
}

static void *resolver_main(void *arg)
{
    struct sw_hopmon *mon = arg;
    struct sw_config *cfg;

    while ((cfg = take_config(mon)) != NULL) {
        int64_t now = sw_mono_ms() / 1000;
        size_t i;

        for (i = 0; i < cfg->ntrunks; i++) {
            struct sw_route *r = cfg->trunks[i].route;
            if (r == NULL || !r->dynamic)
                continue;
            if (r->next_resolve <= 0) /* set by the loader: minus the TTL seen then */
                r->next_resolve = now + (r->next_resolve < 0 ? -r->next_resolve : 1);
            if (now >= r->next_resolve)
                resolve_route(mon, cfg, &cfg->trunks[i], r, now);
            sw_route_reap(r, now, RETIRE_GRACE);
        }
        sw_config_unref(cfg);
        if (nap(mon, 500))
            break;
    }
    return NULL;
}

/* --- the health thread -------------------------------------------------------------------- */

static void probe_close(struct probe *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->connecting = 0;
    p->inlen = 0;
}

static int probe_open(struct probe *p)
{
    int one = 1;

    p->fd = socket(
        p->addr.ss_family,
        (p->transport == SW_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        return -1;
    if (p->transport == SW_TCP)
        setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen) != 0) {
        if (errno != EINPROGRESS) {
            probe_close(p);
            return -1;
        }
        p->connecting = 1;
    }
    return 0;
}

static void mark(struct sw_hopmon *mon, struct probe *p, int answered, const char *why)
{
    if (answered) {
        p->misses = 0;
        p->oks++;
        if (p->down && p->oks >= p->up_after) {
            p->down = 0;
            atomic_fetch_add(&mon->marked_up, 1);
            sw_log(LOG_NOTICE, "next hop %s is up again (%d OPTIONS answered)", p->where, p->oks);
        }
    } else {
        p->oks = 0;
        p->misses++;
        if (!p->down && p->misses >= p->down_after) {
            p->down = 1;
            atomic_fetch_add(&mon->marked_down, 1);
            sw_log(LOG_WARNING,
                   "next hop %s is down (%d OPTIONS in a row unanswered: %s); new calls go "
                   "to the other hops",
                   p->where, p->misses, why);
        }
    }
}

static void send_options(struct sw_hopmon *mon, struct probe *p)
{
    struct sockaddr_storage local;
    socklen_t llen = sizeof(local);
    char lip[64], rip[64], msg[1024], lhost[80], rhost[80];
    int lport = 0, rport, n;
    const char *tp = p->transport == SW_TCP ? "TCP" : "UDP";

    if (p->fd < 0 && probe_open(p) != 0) {
        mark(mon, p, 0, strerror(errno));
        return;
    }
    if (p->connecting)
        return; /* sent when the connection is up (or counted as a miss) */
    if (getsockname(p->fd, (struct sockaddr *)&local, &llen) != 0)
        return;
    sw_addr_ip((struct sockaddr *)&local, lip, sizeof(lip), &lport);
    sw_addr_ip((struct sockaddr *)&p->addr, rip, sizeof(rip), &rport);
    snprintf(lhost, sizeof(lhost), strchr(lip, ':') ? "[%s]" : "%s", lip);
    snprintf(rhost, sizeof(rhost), strchr(rip, ':') ? "[%s]" : "%s", rip);
    p->cseq++;
    snprintf(p->callid, sizeof(p->callid), "swhc-%016llx-%u@%s", (unsigned long long)mon->tag,
             p->cseq, lip);
    n = snprintf(msg, sizeof(msg),
                 "OPTIONS sip:%s:%d%s SIP/2.0\r\n"
                 "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK-swhc%016llx%u;rport\r\n"
                 "Max-Forwards: 70\r\n"
                 "From: <sip:stirwired@%s>;tag=swhc%016llx\r\n"
                 "To: <sip:%s:%d>\r\n"
                 "Call-ID: %s\r\n"
                 "CSeq: %u OPTIONS\r\n"
                 "Accept: application/sdp\r\n"
                 "User-Agent: stirwired health check\r\n"
                 "Content-Length: 0\r\n\r\n",
                 rhost, rport, p->transport == SW_TCP ? ";transport=tcp" : "", tp, lhost, lport,
                 (unsigned long long)mon->tag, p->cseq, lhost, (unsigned long long)mon->tag, rhost,
                 rport, p->callid, p->cseq);
    if (n <= 0 || (size_t)n >= sizeof(msg))
        return;
    if (send(p->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
        int e = errno;
        probe_close(p); /* a TCP connection that broke; a UDP socket with an ICMP error */
        mark(mon, p, 0, strerror(e));
        return;
    }
    p->outstanding = 1;
}

/* Reads what the hop sent; an answer to our OPTIONS marks it alive. */
static void probe_read(struct sw_hopmon *mon, struct probe *p)
{
    for (;;) {
        ssize_t n = recv(p->fd, p->in + p->inlen, sizeof(p->in) - 1 - p->inlen, MSG_DONTWAIT);
        char *end;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            int e = n == 0 ? ECONNRESET : errno;
            probe_close(p);
            if (p->outstanding) {
                p->outstanding = 0;
                mark(mon, p, 0, strerror(e));
            }
            return;
        }
        if (n < 0)
            return;
        p->inlen += (size_t)n;
        p->in[p->inlen] = '\0';
        /* one response at a time: the end of its headers (Content-Length 0 to OPTIONS) */
        while ((end = strstr(p->in, "\r\n\r\n")) != NULL ||
               (p->transport == SW_UDP && p->inlen > 0)) {
            size_t used = end != NULL ? (size_t)(end + 4 - p->in) : p->inlen;
            int status = 0;
            if (strncmp(p->in, "SIP/2.0 ", 8) == 0)
                status = (int)strtol(p->in + 8, NULL, 10);
            if (status >= 200 && p->outstanding && p->callid[0] != '\0' &&
                memmem(p->in, used, p->callid, strlen(p->callid)) != NULL) {
                p->outstanding = 0;
                if (status == 408 || status == 503) {
                    char why[32];
                    snprintf(why, sizeof(why), "answered %d", status);
                    mark(mon, p, 0, why);
                } else {
                    mark(mon, p, 1, NULL);
                }
            }
            memmove(p->in, p->in + used, p->inlen - used);
            p->inlen -= used;
            p->in[p->inlen] = '\0';
            if (p->transport == SW_UDP)
                p->inlen = 0; /* a datagram is one message */
        }
        if (p->inlen >= sizeof(p->in) - 1)
            p->inlen = 0; /* not SIP we understand: start again */
    }
}

static struct probe *probe_find(struct sw_hopmon *mon, const struct sw_hop *h)
{
    size_t i;
    struct probe *p;

    for (i = 0; i < mon->nprobes; i++) {
        p = &mon->probes[i];
        if (p->transport == h->transport && p->addrlen == h->addrlen &&
            memcmp(&p->addr, &h->addr, h->addrlen) == 0)
            return p;
    }
    if (mon->nprobes == MAX_PROBES)
        return NULL;
    p = &mon->probes[mon->nprobes++];
    memset(p, 0, sizeof(*p));
    p->fd = -1;
    memcpy(&p->addr, &h->addr, h->addrlen);
    p->addrlen = h->addrlen;
    p->transport = h->transport;
    {
        char w[72];
        sw_addr_str((const struct sockaddr *)&h->addr, w, sizeof(w));
        snprintf(p->where, sizeof(p->where), "%s/%s", w, h->transport == SW_TCP ? "tcp" : "udp");
    }
    p->next_send = sw_mono_ms();
    return p;
}

/* Probes for every hop of every checked trunk; the others closed. */
static void sync_probes(struct sw_hopmon *mon, const struct sw_config *cfg)
{
    size_t i, k;

    for (i = 0; i < mon->nprobes; i++)
        mon->probes[i].seen = 0;
    for (i = 0; i < cfg->ntrunks; i++) {
        const struct sw_route *r = cfg->trunks[i].route;
        const struct sw_hopset *set;
        if (r == NULL || r->health.interval == 0 || (set = atomic_load(&r->live)) == NULL)
            continue;
        for (k = 0; k < set->n; k++) {
            struct probe *p = probe_find(mon, &set->hops[k]);
            if (p == NULL)
                continue;
            if (!p->seen) {
                p->interval_ms = r->health.interval * 1000;
                p->down_after = r->health.down_after;
                p->up_after = r->health.up_after;
            }
            p->seen = 1;
            /* a worker reads this flag; the state may come from an earlier set or config */
            atomic_store_explicit(&((struct sw_hopset *)set)->down[k], p->down,
                                  memory_order_relaxed);
        }
    }
    for (i = 0; i < mon->nprobes;) {
        if (!mon->probes[i].seen) {
            probe_close(&mon->probes[i]);
            mon->probes[i] = mon->probes[--mon->nprobes];
        } else {
            i++;
        }
    }
}

static void *health_main(void *arg)
{
    struct sw_hopmon *mon = arg;
    struct pollfd pfd[MAX_PROBES];
    size_t idx[MAX_PROBES];
    struct sw_config *cfg;

    while ((cfg = take_config(mon)) != NULL) {
        int64_t now = sw_mono_ms();
        size_t i, n = 0;

        sync_probes(mon, cfg);
        sw_config_unref(cfg);
        for (i = 0; i < mon->nprobes; i++) {
            struct probe *p = &mon->probes[i];
            if (now < p->next_send)
                continue;
            if (p->outstanding) {
                p->outstanding = 0;
                mark(mon, p, 0, p->connecting ? "no connection" : "no answer");
                if (p->transport == SW_TCP)
                    probe_close(p); /* a fresh connection for the next try */
            }
            p->next_send = now + p->interval_ms;
            send_options(mon, p);
            if (p->connecting)
                p->outstanding = 1; /* the OPTIONS goes when the connection is up */
        }
        for (i = 0; i < mon->nprobes; i++) {
            struct probe *p = &mon->probes[i];
            if (p->fd < 0)
                continue;
            pfd[n].fd = p->fd;
            pfd[n].events = (short)(POLLIN | (p->connecting ? POLLOUT : 0));
            pfd[n].revents = 0;
            idx[n++] = i;
        }
        if (poll(pfd, (nfds_t)n, TICK_MS) > 0) {
            for (i = 0; i < n; i++) {
                struct probe *p = &mon->probes[idx[i]];
                if (pfd[i].revents == 0 || p->fd != pfd[i].fd)
                    continue;
                if (p->connecting && (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
                    int e = 0;
                    socklen_t el = sizeof(e);
                    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el);
                    if (e != 0) {
                        probe_close(p);
                        p->outstanding = 0;
                        mark(mon, p, 0, strerror(e));
                        continue;
                    }
                    p->connecting = 0;
                    send_options(mon, p);
                    continue;
                }
                if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
                    probe_read(mon, p);
            }
        }
        pthread_mutex_lock(&mon->lock);
        i = (size_t)mon->stopping;
        pthread_mutex_unlock(&mon->lock);
        if (i)
            break;
    }
    for (size_t i = 0; i < mon->nprobes; i++)
        probe_close(&mon->probes[i]);
    return NULL;
}

/* --- the API ------------------------------------------------------------------------------ */

struct sw_hopmon *sw_hopmon_start(struct sw_config *cfg, char *err, size_t errlen)
{
    struct sw_hopmon *mon = calloc(1, sizeof(*mon));

    if (mon == NULL) {
        snprintf(err, errlen, "hop monitor: out of memory");
        return NULL;
    }
    pthread_mutex_init(&mon->lock, NULL);
    pthread_cond_init(&mon->wake, NULL);
    mon->cfg = sw_config_ref(cfg);
    if (getrandom(&mon->tag, sizeof(mon->tag), 0) != (ssize_t)sizeof(mon->tag))
        mon->tag = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (pthread_create(&mon->resolver, NULL, resolver_main, mon) != 0) {
        snprintf(err, errlen, "cannot start the resolver thread: %s", strerror(errno));
        sw_hopmon_stop(mon);
        return NULL;
    }
    mon->have_resolver = 1;
    if (pthread_create(&mon->health, NULL, health_main, mon) != 0) {
        snprintf(err, errlen, "cannot start the health check thread: %s", strerror(errno));
        sw_hopmon_stop(mon);
        return NULL;
    }
    mon->have_health = 1;
    return mon;
}

void sw_hopmon_set_config(struct sw_hopmon *mon, struct sw_config *cfg)
{
    struct sw_config *old;

    pthread_mutex_lock(&mon->lock);
    old = mon->cfg;
    mon->cfg = sw_config_ref(cfg);
    pthread_cond_broadcast(&mon->wake);
    pthread_mutex_unlock(&mon->lock);
    sw_config_unref(old);
}

void sw_hopmon_stats(struct sw_hopmon *mon, struct sw_stats *sum)
{
    if (mon == NULL)
        return;
    sum->hops_marked_down += atomic_load(&mon->marked_down);
    sum->hops_marked_up += atomic_load(&mon->marked_up);
    sum->hops_dns_changes += atomic_load(&mon->dns_changes);
}

void sw_hopmon_stop(struct sw_hopmon *mon)
{
    if (mon == NULL)
        return;
    pthread_mutex_lock(&mon->lock);
    mon->stopping = 1;
    pthread_cond_broadcast(&mon->wake);
    pthread_mutex_unlock(&mon->lock);
    if (mon->have_resolver)
        pthread_join(mon->resolver, NULL);
    if (mon->have_health)
        pthread_join(mon->health, NULL);
    sw_config_unref(mon->cfg);
    pthread_mutex_destroy(&mon->lock);
    pthread_cond_destroy(&mon->wake);
    free(mon);
}
