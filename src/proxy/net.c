/*
 * net.c - sockets, worker threads and TCP connections for stirwired (see net.h).
 *
 * Each worker runs one epoll loop over its own sockets: a SO_REUSEPORT UDP socket and TCP
 * listener per configured address, and the TCP connections it accepted or opened. UDP is
 * read and written in batches (recvmmsg, then one sendmmsg for everything the batch
 * produced). TCP connections live in one table keyed by peer address, because a response
 * must leave on the connection its request came in on, whichever worker handles it; the
 * table and each connection have a mutex (lock order: table, then connection).
 *
 * The configuration pointer is swapped atomically on reload; each worker bumps an epoch
 * counter between batches, and the main thread waits for every epoch to move before it
 * drops its reference to the old configuration, so a worker never reads freed memory.
 * A message a filter parks holds its own reference, so the old configuration lives on
 * until the last such message has left.
 *
 * TCP is where a peer can hold the daemon's resources, so it has limits (the tcp group,
 * read from the configuration in force): connections in all (never more than the
 * descriptor limit leaves room for), connections per source address, optionally only
 * sources some trunk names, and a deadline for a half-received message that further bytes
 * do not move. A connection has no input buffer until a message arrives in pieces: whole
 * messages are framed straight from the worker's receive buffer, and the buffer a partial
 * message needs grows with it and is freed when it completes. At the descriptor limit
 * (EMFILE) a worker closes its spare descriptor, accepts and closes the connection, takes
 * the spare again and pauses accepting for a moment, so it neither spins nor leaves peers
 * waiting in the backlog. Every refusal and every close is counted and logged (refusals
 * once per interval and reason).
 *
 * Every message that leaves is counted as sent or as failed by reason; a failed send is
 * taken back out of the forwarded (or replies) counters. The UDP sockets ask for ICMP
 * errors (IP_RECVERR): an unreachable next hop is read from the error queue, counted and
 * logged; the pending error that the kernel reports on the next send is retried once.
 *
 * Each worker also has a wait queue (src/core/job.h) whose eventfd is in its epoll set:
 * a filter's asynchronous work wakes a parked message there, and the worker resumes it
 * between batches with sw_proxy_resume(). At shutdown a worker keeps serving for up to
 * STOP_GRACE_SECS while messages are parked, so that they can finish.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../core/addr.h"
#include "../core/clock.h"
#include "../core/log.h"
#include "../sip/framing.h"
#include "net.h"

#define BATCH 32
#define MAX_WORKERS 256
#define TCP_OUT_MAX (1024 * 1024) /* queued bytes per connection before we give up on it */
#define CONN_BUCKETS 4096
#define SRC_BUCKETS 1024
#define CONN_IDLE_SECS 900 /* a connection silent this long is closed (RFC 5626 sends pings) */
#define STOP_GRACE_SECS 5  /* at shutdown, how long parked messages may still finish */
#define FD_HEADROOM 32     /* descriptors left beyond connections: files, reloads, fetches */
#define IN_MIN 4096        /* the first input buffer of a message that arrives in pieces */
#define IN_MAX (2 * SIP_MAX_MSG)
#define SWEEP_SECS 1         /* how often a worker looks for idle and half-received conns */
#define ACCEPT_PAUSE_MS 100  /* accepting pauses this long after EMFILE */
#define REFUSAL_LOG_SECS 10  /* one refusal line per reason and worker in this interval */
#define TRIM_AFTER_CLOSES 64 /* connections closed before memory is handed back (malloc_trim) */

enum item_kind { IT_UDP, IT_TCP_LISTEN, IT_CONN, IT_WAKE };

struct item {
    enum item_kind kind;
    int fd;
    int family;
    int paused; /* a listener that stopped accepting for a moment (EMFILE) */
};

/* What a sent message was, to take a failed send out of the right counter. */
enum out_kind { K_REQUEST, K_RESPONSE, K_REPLY, NKINDS };

/* Why a TCP connection was refused: a counter, a log line per interval. */
enum refusal { REF_LIMIT, REF_PER_SOURCE, REF_NOT_TRUNK, REF_NO_FD, NREFUSALS };

struct refusal_log {
    uint64_t since_log; /* refused since the last line */
    int64_t next_log;   /* monotonic seconds */
};

/*
 * Accepted connections from one source: an IPv4 address, or an IPv6 /64 (one host usually
 * has a whole /64 to pick addresses from); the port zeroed. Under the table's lock.
 */
struct src_count {
    struct sockaddr_storage addr;
    unsigned n;
    struct src_count *next;
};

struct conn {
    struct item it; /* first: epoll hands back the item pointer */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    int epfd; /* the owning worker's epoll */
    pthread_mutex_t lock;
    int connecting;
    int inbound;           /* accepted (counted per source), not opened by us */
    int64_t last_active;   /* seconds, monotonic; written by the owner only */
    int64_t partial_since; /* when the half-received message began; 0 = none (owner only) */
    char *in;              /* the half-received message, NULL when there is none */
    size_t inlen, incap;
    char *out;
    size_t outlen, outcap;
    unsigned queued[NKINDS]; /* messages (partly) in out, by kind; for failure counts */
    struct conn *hnext;
};

struct worker {
    struct sw_net *net;
    int idx;
    pthread_t thread;
    int epfd;
    struct item udp[SW_MAX_LISTEN], tcpl[SW_MAX_LISTEN];
    struct item wake;                 /* the wait queue's eventfd */
    struct sw_waitq q;                /* parked messages woken by their filters */
    const struct sw_config *seen_cfg; /* the configuration its limits were last read from */
    sw_ctx *ctx;
    struct sw_stats st;
    struct sw_proxy_env env; /* set up once; only cfg changes, per message */
    _Atomic uint64_t epoch;
    struct sw_log_limit lim;
    int spare_fd;             /* the reserve descriptor for EMFILE (/dev/null) */
    int64_t accept_resume_ms; /* when paused listeners accept again; 0 = none */
    struct refusal_log refused[NREFUSALS];
    unsigned closed_since_trim; /* connections closed since the last malloc_trim */
    /* receive batch */
    struct mmsghdr rmsg[BATCH];
    struct iovec riov[BATCH];
    struct sockaddr_storage raddr[BATCH];
    char *rbuf; /* BATCH * SIP_MAX_MSG */
    /* send batch: one sendmmsg per socket */
    char *obuf; /* BATCH * SW_OUT_MAX */
    struct mmsghdr smsg[BATCH];
    struct iovec siov[BATCH];
    struct sockaddr_storage saddr[BATCH];
    int sfd[BATCH];
    unsigned char skind[BATCH]; /* enum out_kind of each */
    int nsend;
};

struct sw_net {
    struct sw_config *_Atomic cfg;
    atomic_int stopping;
    int nworkers, started;
    struct worker *w;
    size_t nlisten;
    char host[256]; /* advertised in Via and Record-Route */
    int port;
    uint64_t secret;
    pthread_mutex_t conns_lock;
    struct conn *conns[CONN_BUCKETS];
    struct src_count *srcs[SRC_BUCKETS];
    _Atomic uint64_t nconns;
    int fd_cap;          /* connections the descriptor limit leaves room for */
    struct sw_txns txns; /* requests parked on any worker, to absorb their retransmissions */
};

/* --- addresses ------------------------------------------------------------------------ */

static unsigned addr_bucket(const struct sockaddr *sa)
{
    return sw_addr_hash(sa) % CONN_BUCKETS;
}

/* The address to put in Via when we listen on a wildcard: the first non-loopback IPv4. */
static void wildcard_host(int family, char *out, size_t size)
{
    struct ifaddrs *ifs, *i;

    snprintf(out, size, "%s", family == AF_INET6 ? "::1" : "127.0.0.1");
    if (getifaddrs(&ifs) != 0)
        return;
    for (i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        if (((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)size);
        break;
    }
    freeifaddrs(ifs);
}

/* --- sockets -------------------------------------------------------------------------- */

static int bind_socket(const struct sw_listen *l, int type, int rcvbuf, char *err, size_t errlen)
{
    int fd, one = 1;
    char where[96];

    sw_addr_str((const struct sockaddr *)&l->addr, where, sizeof(where));
    if ((fd = socket(l->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        snprintf(err, errlen, "socket for %s: %s", where, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* every worker binds the same address; the kernel spreads packets and connections */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "SO_REUSEPORT on %s: %s", where, strerror(errno));
        close(fd);
        return -1;
    }
    if (rcvbuf > 0 && type == SOCK_DGRAM)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (type == SOCK_DGRAM) {
        /* ICMP errors (an unreachable next hop) land in the error queue: see read_icmp */
        setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        if (l->addr.ss_family == AF_INET6)
            setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0) {
        snprintf(err, errlen, "cannot bind %s/%s: %s", type == SOCK_DGRAM ? "udp" : "tcp", where,
                 strerror(errno));
        close(fd);
        return -1;
    }
    if (type == SOCK_STREAM && listen(fd, 1024) != 0) {
        snprintf(err, errlen, "cannot listen on tcp/%s: %s", where, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct sw_net *sw_net_bind(struct sw_config *cfg, int nworkers, char *err, size_t errlen)
{
    struct sw_net *net;
    const struct sw_listen *l0;
    size_t i;
    int w;

    if (nworkers < 1 || nworkers > MAX_WORKERS || cfg->nlisten == 0) {
        snprintf(err, errlen, "need 1..%d workers and at least one listener", MAX_WORKERS);
        return NULL;
    }
    if ((net = calloc(1, sizeof(*net))) == NULL ||
        (net->w = calloc((size_t)nworkers, sizeof(*net->w))) == NULL) {
        free(net);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_store(&net->cfg, cfg);
    net->nworkers = nworkers;
    net->nlisten = cfg->nlisten;
    pthread_mutex_init(&net->conns_lock, NULL);
    sw_txns_init(&net->txns);
    /* the branch key: unpredictable, so nobody can forge a branch that looks like ours */
    if (getrandom(&net->secret, sizeof(net->secret), 0) != (ssize_t)sizeof(net->secret))
        net->secret = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    net->fd_cap = INT32_MAX;
    for (w = 0; w < nworkers; w++) {
        net->w[w].epfd = -1;
        net->w[w].spare_fd = -1;
        for (i = 0; i < SW_MAX_LISTEN; i++)
            net->w[w].udp[i].fd = net->w[w].tcpl[i].fd = -1;
    }
    /* Via and Record-Route carry the first listener's address (see proxy.h) */
    l0 = &cfg->listen[0];
    if (l0->advertise[0] != '\0') {
        const char *colon = strrchr(l0->advertise, ':');
        if (colon != NULL && strchr(l0->advertise, ']') == NULL &&
            strchr(l0->advertise, ':') == colon) {
            snprintf(net->host, sizeof(net->host), "%.*s", (int)(colon - l0->advertise),
                     l0->advertise);
            net->port = (int)strtol(colon + 1, NULL, 10);
        } else {
            snprintf(net->host, sizeof(net->host), "%s", l0->advertise);
        }
    }
    if (net->port == 0)
        net->port = sw_addr_port((const struct sockaddr *)&l0->addr);
    if (net->host[0] == '\0') {
        char ip[64];
        if (l0->addr.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&l0->addr;
            if (in->sin_addr.s_addr == htonl(INADDR_ANY))
                wildcard_host(AF_INET, ip, sizeof(ip));
            else
                inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        } else {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&l0->addr;
            if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
                wildcard_host(AF_INET, ip, sizeof(ip));
            else
                inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        }
        snprintf(net->host, sizeof(net->host), "%s", ip);
    }
    for (w = 0; w < nworkers; w++) {
        struct worker *wk = &net->w[w];
        wk->net = net;
        wk->idx = w;
        for (i = 0; i < cfg->nlisten; i++) {
            const struct sw_listen *l = &cfg->listen[i];
            wk->udp[i].kind = IT_UDP;
            wk->tcpl[i].kind = IT_TCP_LISTEN;
            wk->udp[i].family = wk->tcpl[i].family = l->addr.ss_family;
            if ((l->transports & SW_UDP) &&
                (wk->udp[i].fd = bind_socket(l, SOCK_DGRAM, cfg->udp_rcvbuf, err, errlen)) < 0)
                goto fail;
            if ((l->transports & SW_TCP) &&
                (wk->tcpl[i].fd = bind_socket(l, SOCK_STREAM, 0, err, errlen)) < 0)
                goto fail;
        }
    }
    return net;
fail:
    sw_net_free(net);
    return NULL;
}

/* --- TCP connections ------------------------------------------------------------------ */

/* The entry of peer's address in the per-source table (table locked); *slot if none. */
static struct src_count **src_slot(struct sw_net *net, const struct sockaddr_storage *peer,
                                   struct sockaddr_storage *key)
{
    struct src_count **pp;

    memcpy(key, peer, sizeof(*key));
    sw_addr_set_port(key, 0);
    if (key->ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)key;
        memset(&in6->sin6_addr.s6_addr[8], 0, 8);
        in6->sin6_flowinfo = 0;
    }
    for (pp = &net->srcs[sw_addr_hash((struct sockaddr *)key) % SRC_BUCKETS]; *pp != NULL;
         pp = &(*pp)->next)
        if (sw_addr_equal((struct sockaddr *)&(*pp)->addr, (struct sockaddr *)key))
            break;
    return pp;
}

/* Counts one more connection from peer: 0, 1 when cap (0 = none) is reached, -1 (memory). */
static int src_take(struct sw_net *net, const struct sockaddr_storage *peer, int cap)
{
    struct sockaddr_storage key;
    struct src_count **pp;
    int rc = 0;

    pthread_mutex_lock(&net->conns_lock);
    pp = src_slot(net, peer, &key);
    if (*pp == NULL) {
        if ((*pp = calloc(1, sizeof(**pp))) == NULL)
            rc = -1;
        else
            memcpy(&(*pp)->addr, &key, sizeof(key));
    }
    if (rc == 0 && cap > 0 && (*pp)->n >= (unsigned)cap)
        rc = 1;
    if (rc == 0)
        (*pp)->n++;
    pthread_mutex_unlock(&net->conns_lock);
    return rc;
}

/* The other half of src_take; table locked. */
static void src_give_locked(struct sw_net *net, const struct sockaddr_storage *peer)
{
    struct sockaddr_storage key;
    struct src_count **pp = src_slot(net, peer, &key), *e = *pp;

    if (e != NULL && --e->n == 0) {
        *pp = e->next;
        free(e);
    }
}

static struct conn *conn_new(int fd, const struct sockaddr_storage *peer, socklen_t len, int epfd)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->it.kind = IT_CONN;
    c->it.fd = fd;
    c->it.family = peer->ss_family;
    memcpy(&c->peer, peer, len);
    c->peerlen = len;
    c->epfd = epfd;
    c->last_active = sw_mono_s();
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void conn_insert(struct sw_net *net, struct conn *c)
{
    unsigned b = addr_bucket((struct sockaddr *)&c->peer);

    pthread_mutex_lock(&net->conns_lock);
    c->hnext = net->conns[b];
    net->conns[b] = c;
    pthread_mutex_unlock(&net->conns_lock);
    atomic_fetch_add(&net->nconns, 1);
}

/*
 * A send that failed with err (an errno; 0: the connection was lost with it queued), n
 * times: counted by reason, and taken back out of what counted it as gone.
 */
static void count_failed(struct sw_stats *st, int err, int kind, uint64_t n)
{
    if (n == 0)
        return;
    switch (err) {
    case EMSGSIZE:
        st->send_failed_msgsize += n;
        break;
    case ECONNREFUSED:
        st->send_failed_refused += n;
        break;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
        st->send_failed_unreachable += n;
        break;
    case ETIMEDOUT:
        st->send_failed_timeout += n;
        break;
    case EMFILE:
    case ENFILE:
        st->send_failed_no_fd += n;
        break;
    case ENOBUFS: /* our own queue limit (conn_write_locked) */
        st->send_failed_queue_full += n;
        break;
    case 0:
    case ECONNRESET:
    case EPIPE:
        st->send_failed_conn_lost += n;
        break;
    default:
        st->send_failed_other += n;
    }
    /* the sums are what anyone reads: a worker's own field may pass below zero, theirs not */
    if (kind == K_REQUEST)
        st->forwarded_requests -= n;
    else if (kind == K_RESPONSE)
        st->forwarded_responses -= n;
    else
        st->replies -= n;
}

/*
 * Only the owning worker closes a connection. err says why messages still queued on it
 * did not leave (see count_failed).
 */
static void conn_close(struct worker *w, struct conn *c, int err)
{
    struct sw_net *net = w->net;
    struct conn **pp;
    int k;

    pthread_mutex_lock(&net->conns_lock);
    for (pp = &net->conns[addr_bucket((struct sockaddr *)&c->peer)]; *pp != NULL;
         pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    if (c->inbound)
        src_give_locked(net, &c->peer);
    /* a writer that found c before we unlinked it holds c->lock: wait for it */
    pthread_mutex_lock(&c->lock);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&net->conns_lock);
    atomic_fetch_sub(&net->nconns, 1);
    if (c->outlen > 0) {
        for (k = 0; k < NKINDS; k++) {
            count_failed(&w->st, err, k, c->queued[k]);
            w->st.sent_tcp -= c->queued[k];
        }
    }
    w->closed_since_trim++;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->it.fd, NULL);
    close(c->it.fd);
    pthread_mutex_destroy(&c->lock);
    free(c->in);
    free(c->out);
    free(c);
}

/*
 * Queues or writes bytes on c; called with c->lock held. -1 with errno when the message
 * cannot go (ENOBUFS: the queue is full).
 */
static int conn_write_locked(struct conn *c, const char *buf, size_t len, int kind)
{
    ssize_t n = 0;

    if (c->outlen == 0 && !c->connecting) {
        n = send(c->it.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (n < 0)
            n = 0;
        if ((size_t)n == len)
            return 0;
    }
    if (c->outlen + len - (size_t)n > TCP_OUT_MAX) {
        errno = ENOBUFS;
        return -1;
    }
    if (c->outlen + len - (size_t)n > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 65536;
        char *p;
        while (cap < c->outlen + len - (size_t)n)
            cap *= 2;
        if ((p = realloc(c->out, cap)) == NULL)
            return -1;
        c->out = p;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, buf + n, len - (size_t)n);
    c->outlen += len - (size_t)n;
    c->queued[kind]++;
    {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->it.fd, &ev);
    }
    return 0;
}

/* The open connection to key, locked (and the table unlocked), or NULL (table locked). */
static struct conn *conn_find_locked(struct sw_net *net, const struct sockaddr_storage *key)
{
    struct conn *c;

    for (c = net->conns[addr_bucket((const struct sockaddr *)key)]; c != NULL; c = c->hnext)
        if (sw_addr_equal((struct sockaddr *)&c->peer, (const struct sockaddr *)key))
            break;
    if (c != NULL) {
        pthread_mutex_lock(&c->lock);
        pthread_mutex_unlock(&net->conns_lock);
    }
    return c;
}

/*
 * Sends over TCP to dst: on the open connection to that peer, or a new one from this
 * worker. A response names the connection its request came in on (received:rport, RFC
 * 3261 section 18.2.2); when that one is gone, connect_port (the Via's sent-by port,
 * 0 = none) says where the peer listens: a connection to it is used or opened instead.
 */
static int tcp_send(struct worker *w, const struct sockaddr_storage *dst, socklen_t dstlen,
                    int connect_port, const char *buf, size_t len, int kind)
{
    struct sw_net *net = w->net;
    struct sockaddr_storage key;
    socklen_t keylen = dstlen;
    struct conn *c;
    int fd, rc, one = 1;

    memcpy(&key, dst, dstlen);
    sw_addr_normalise(&key, &keylen);
    pthread_mutex_lock(&net->conns_lock);
    if ((c = conn_find_locked(net, &key)) == NULL && connect_port > 0 &&
        connect_port != sw_addr_port((struct sockaddr *)&key)) {
        sw_addr_set_port(&key, connect_port);
        c = conn_find_locked(net, &key);
    }
    if (c != NULL) {
        rc = conn_write_locked(c, buf, len, kind);
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    pthread_mutex_unlock(&net->conns_lock);
    if ((fd = socket(key.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&key, keylen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if ((c = conn_new(fd, &key, keylen, w->epfd)) == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    w->st.tcp_connected++;
    c->connecting = 1;
    rc = conn_write_locked(c, buf, len, kind); /* queues: still connecting */
    {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    conn_insert(net, c);
    return rc;
}

/* --- message handling ----------------------------------------------------------------- */

static void env_init(struct worker *w, struct sw_proxy_env *env)
{
    snprintf(env->host, sizeof(env->host), "%s", w->net->host);
    env->port = w->net->port;
    env->ctx = w->ctx;
    env->secret = w->net->secret;
    env->waitq = &w->q;
}

/* The UDP socket to send to dst from: the receiving one when the family fits. */
static int udp_fd_for(struct worker *w, int recv_fd, int recv_family, struct sockaddr_storage *dst,
                      socklen_t *dstlen)
{
    size_t i;

    if (recv_fd >= 0 && recv_family == dst->ss_family)
        return recv_fd;
    for (i = 0; i < w->net->nlisten; i++)
        if (w->udp[i].fd >= 0 && w->udp[i].family == dst->ss_family)
            return w->udp[i].fd;
    /* an IPv4 destination from a dual-stack IPv6 socket, as a v4-mapped address */
    if (dst->ss_family == AF_INET) {
        for (i = 0; i < w->net->nlisten; i++) {
            if (w->udp[i].fd >= 0 && w->udp[i].family == AF_INET6) {
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
                memcpy(&in, dst, sizeof(in));
                memset(&in6, 0, sizeof(in6));
                in6.sin6_family = AF_INET6;
                in6.sin6_port = in.sin_port;
                in6.sin6_addr.s6_addr[10] = 0xff;
                in6.sin6_addr.s6_addr[11] = 0xff;
                memcpy(&in6.sin6_addr.s6_addr[12], &in.sin_addr, 4);
                memcpy(dst, &in6, sizeof(in6));
                *dstlen = sizeof(in6);
                return w->udp[i].fd;
            }
        }
    }
    return -1;
}

/*
 * Reads a UDP socket's error queue: the ICMP errors about datagrams we sent (IP_RECVERR),
 * each counted and logged at info (rate-limited), with the address it was sent to.
 */
static void read_icmp(struct worker *w, int fd)
{
    struct sockaddr_storage dst;
    char ctrl[512], byte, where[96];
    struct iovec iov = {.iov_base = &byte, .iov_len = sizeof(byte)};
    struct msghdr mh;
    struct cmsghdr *cm;
    int i;

    for (i = 0; i < 64; i++) {
        memset(&mh, 0, sizeof(mh));
        mh.msg_name = &dst;
        mh.msg_namelen = sizeof(dst);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctrl;
        mh.msg_controllen = sizeof(ctrl);
        if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return;
        for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
            const struct sock_extended_err *ee;
            int unreachable;
            socklen_t dlen = mh.msg_namelen;

            if (!(cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) &&
                !(cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR))
                continue;
            ee = (const struct sock_extended_err *)CMSG_DATA(cm);
            unreachable = (ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_type == 3) ||
                          (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && ee->ee_type == 1);
            if (unreachable)
                w->st.icmp_unreachable++;
            else
                w->st.icmp_other++;
            sw_addr_normalise(&dst, &dlen);
            sw_addr_str((struct sockaddr *)&dst, where, sizeof(where));
            sw_log_limited(&w->lim, LOG_INFO,
                           "ICMP error for a message sent to %s: %s (ICMP type %u code %u)", where,
                           strerror((int)ee->ee_errno), ee->ee_type, ee->ee_code);
        }
    }
}

/* An error that a UDP send reports for an ICMP message about an earlier datagram. */
static int icmp_errno(int err)
{
    return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN ||
           err == EPROTO || err == EMSGSIZE;
}

static void flush_udp(struct worker *w)
{
    int i = 0, j, n, err, retried = 0;
    char where[96];

    /* one sendmmsg per run of messages for the same socket */
    while (i < w->nsend) {
        for (j = i; j < w->nsend && w->sfd[j] == w->sfd[i]; j++)
            ;
        while (i < j) {
            n = sendmmsg(w->sfd[i], &w->smsg[i], (unsigned)(j - i), MSG_DONTWAIT);
            if (n > 0) {
                w->st.sent_udp += (uint64_t)n;
                i += n;
                retried = 0;
                continue;
            }
            err = errno;
            /*
             * With IP_RECVERR the kernel also reports an ICMP error on the next send from
             * the socket, whatever its destination: read the queue and send this one again.
             */
            if (!retried && icmp_errno(err)) {
                read_icmp(w, w->sfd[i]);
                retried = 1;
                continue;
            }
            retried = 0;
            sw_addr_str((struct sockaddr *)&w->saddr[i], where, sizeof(where));
            sw_log_limited(&w->lim, LOG_WARNING, "cannot send %zu bytes over UDP to %s: %s",
                           w->siov[i].iov_len, where, strerror(err));
            count_failed(&w->st, err, w->skind[i], 1);
            i++;
        }
    }
    w->nsend = 0;
}

/* The configuration for this message; a new one also brings its per-worker limits. */
static struct sw_config *current_config(struct worker *w)
{
    struct sw_config *cfg = atomic_load_explicit(&w->net->cfg, memory_order_acquire);

    if (cfg != w->seen_cfg) {
        w->q.max_parked = (size_t)cfg->max_parked;
        w->seen_cfg = cfg;
    }
    return cfg;
}

/* Sends what the proxy decided (or logs why not); out is in the send batch's next slot. */
static void act(struct worker *w, struct sw_out *o, char *out, int recv_fd, int recv_family)
{
    int fd, kind;

    if (o->park_refused)
        sw_log_limited(&w->lim, LOG_WARNING,
                       "a filter could not wait: %zu messages are parked on this worker "
                       "(max_parked); its fail policy applied",
                       w->q.parked);
    if (o->act == SW_ACT_PARKED) {
        if (sw_log_level() >= LOG_DEBUG)
            sw_log(LOG_DEBUG, "parked: %s", o->why);
        return;
    }
    if (o->act == SW_ACT_ABSORBED) {
        if (sw_log_level() >= LOG_DEBUG)
            sw_log(LOG_DEBUG, "absorbed: %s", o->why);
        return;
    }
    if (o->act == SW_ACT_DROP) {
        sw_log_limited(&w->lim, LOG_NOTICE, "dropped: %s", o->why);
        return;
    }
    if (o->act == SW_ACT_REPLY) {
        kind = K_REPLY;
        /* a refusal an operator must see (a PBX that matches no trunk, a malformed request) */
        if (o->len > 12 &&
            (memcmp(out, "SIP/2.0 400 ", 12) == 0 || memcmp(out, "SIP/2.0 403 ", 12) == 0))
            sw_log_limited(&w->lim, LOG_INFO, "replied %.3s: %s", out + 8, o->why);
        else if (sw_log_level() >= LOG_DEBUG)
            sw_log(LOG_DEBUG, "replied: %s", o->why);
    } else {
        kind = o->len >= 8 && memcmp(out, "SIP/2.0 ", 8) == 0 ? K_RESPONSE : K_REQUEST;
        if (sw_log_level() >= LOG_DEBUG)
            sw_log(LOG_DEBUG, "forwarded: %s", o->why);
    }
    if (o->transport == SW_TCP) {
        if (tcp_send(w, &o->dst, o->dstlen, o->connect_port, out, o->len, kind) != 0) {
            int err = errno;
            char where[96];
            sw_addr_str((struct sockaddr *)&o->dst, where, sizeof(where));
            sw_log_limited(&w->lim, LOG_WARNING, "cannot send %zu bytes over TCP to %s: %s", o->len,
                           where, strerror(err));
            count_failed(&w->st, err, kind, 1);
        } else {
            w->st.sent_tcp++;
        }
        return;
    }
    if ((fd = udp_fd_for(w, recv_fd, recv_family, &o->dst, &o->dstlen)) < 0) {
        sw_log_limited(&w->lim, LOG_WARNING, "no UDP socket of the right family for %s", o->why);
        count_failed(&w->st, EAFNOSUPPORT, kind, 1);
        return;
    }
    w->skind[w->nsend] = (unsigned char)kind;
    w->sfd[w->nsend] = fd;
    memcpy(&w->saddr[w->nsend], &o->dst, o->dstlen);
    w->siov[w->nsend].iov_base = out;
    w->siov[w->nsend].iov_len = o->len;
    memset(&w->smsg[w->nsend], 0, sizeof(w->smsg[0]));
    w->smsg[w->nsend].msg_hdr.msg_name = &w->saddr[w->nsend];
    w->smsg[w->nsend].msg_hdr.msg_namelen = o->dstlen;
    w->smsg[w->nsend].msg_hdr.msg_iov = &w->siov[w->nsend];
    w->smsg[w->nsend].msg_hdr.msg_iovlen = 1;
    w->nsend++;
}

/* Handles one received message. */
static void handle(struct worker *w, const char *buf, size_t len, struct sockaddr_storage *src,
                   socklen_t srclen, int transport, int recv_fd, int recv_family)
{
    struct sw_proxy_env *env = &w->env;
    struct sw_rx rx;
    struct sw_out o;
    char *out;

    if (w->nsend == BATCH)
        flush_udp(w);
    out = w->obuf + (size_t)w->nsend * SW_OUT_MAX;
    sw_addr_normalise(src, &srclen);
    env->cfg = current_config(w);
    env->verbose = sw_log_level() >= LOG_DEBUG;
    rx.buf = buf;
    rx.len = len;
    rx.src = (struct sockaddr *)src;
    rx.srclen = srclen;
    rx.transport = transport;
    rx.now = (int64_t)time(NULL);
    sw_proxy_handle(env, &rx, out, &o, &w->st);
    act(w, &o, out, recv_fd, recv_family);
}

/* Resumes the parked messages whose filters are done. */
static void on_wake(struct worker *w)
{
    struct sw_proxy_env *env = &w->env;
    struct sw_job *job, *next;
    struct sw_out o;
    char *out;

    for (job = sw_waitq_take(&w->q); job != NULL; job = next) {
        next = job->qnext;
        if (w->nsend == BATCH)
            flush_udp(w);
        out = w->obuf + (size_t)w->nsend * SW_OUT_MAX;
        env->cfg = current_config(w);
        env->verbose = sw_log_level() >= LOG_DEBUG;
        sw_proxy_resume(env, job, out, &o, &w->st);
        act(w, &o, out, -1, 0);
        if (o.act != SW_ACT_PARKED)
            sw_job_free(job);
    }
    flush_udp(w);
}

static void on_udp(struct worker *w, struct item *it)
{
    int n, i, rounds;

    for (rounds = 0; rounds < 8; rounds++) {
        for (i = 0; i < BATCH; i++) {
            w->riov[i].iov_base = w->rbuf + (size_t)i * SIP_MAX_MSG;
            w->riov[i].iov_len = SIP_MAX_MSG;
            memset(&w->rmsg[i].msg_hdr, 0, sizeof(w->rmsg[i].msg_hdr));
            w->rmsg[i].msg_hdr.msg_name = &w->raddr[i];
            w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->raddr[i]);
            w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
            w->rmsg[i].msg_hdr.msg_iovlen = 1;
        }
        n = recvmmsg(it->fd, w->rmsg, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0 && icmp_errno(errno)) {
            /* an ICMP error about a datagram we sent is reported first: read it, go on */
            read_icmp(w, it->fd);
            continue;
        }
        if (n <= 0)
            break;
        for (i = 0; i < n; i++) {
            const char *buf = w->riov[i].iov_base;
            size_t len = w->rmsg[i].msg_len;
            /* a bare CRLF keep-alive over UDP needs no answer */
            if (len <= 4 && strspn(buf, "\r\n") >= len)
                continue;
            handle(w, buf, len, &w->raddr[i], w->rmsg[i].msg_hdr.msg_namelen, SW_UDP, it->fd,
                   it->family);
        }
        flush_udp(w);
        if (n < BATCH)
            break;
    }
}

/* Whether some trunk's match.source holds addr (tcp.trunk_sources_only). */
static int trunk_source(const struct sw_config *cfg, const struct sockaddr *addr)
{
    size_t t, k;

    for (t = 0; t < cfg->ntrunks; t++)
        for (k = 0; k < cfg->trunks[t].nsources; k++)
            if (sw_cidr_match(&cfg->trunks[t].sources[k], addr))
                return 1;
    return 0;
}

static const char *refusal_text(int why)
{
    switch (why) {
    case REF_LIMIT:
        return "tcp.max_connections (or the descriptor limit) reached";
    case REF_PER_SOURCE:
        return "tcp.max_per_source reached for this address";
    case REF_NOT_TRUNK:
        return "the address is in no trunk (tcp.trunk_sources_only)";
    default:
        return "out of file descriptors (EMFILE)";
    }
}

/*
 * Counts a refused connection and logs it, once per REFUSAL_LOG_SECS and reason: the
 * first refusal of an interval is logged at once with its address, the rest of the
 * interval as one count (by the next refusal after it, or by the worker's tick).
 */
static void refused(struct worker *w, int why, const struct sockaddr_storage *peer)
{
    struct refusal_log *r = &w->refused[why];
    int64_t now = sw_mono_s();
    char where[96];

    if (why == REF_LIMIT)
        w->st.tcp_refused_limit++;
    else if (why == REF_PER_SOURCE)
        w->st.tcp_refused_per_source++;
    else if (why == REF_NOT_TRUNK)
        w->st.tcp_refused_not_trunk++;
    else
        w->st.tcp_refused_no_fd++;
    r->since_log++;
    if (now < r->next_log)
        return;
    if (peer != NULL) {
        sw_addr_str((const struct sockaddr *)peer, where, sizeof(where));
        sw_log(LOG_WARNING,
               "refusing TCP connection from %s: %s (more such refusals: one line per %d s)", where,
               refusal_text(why), REFUSAL_LOG_SECS);
    } else {
        sw_log(LOG_WARNING, "refusing TCP connections: %s (more such refusals: one line per %d s)",
               refusal_text(why), REFUSAL_LOG_SECS);
    }
    r->since_log = 0;
    r->next_log = now + REFUSAL_LOG_SECS;
}

/* The tick's part: the count of an interval that no later refusal has logged. */
static void refusals_flush(struct worker *w)
{
    int64_t now = sw_mono_s();
    int i;

    for (i = 0; i < NREFUSALS; i++) {
        struct refusal_log *r = &w->refused[i];
        if (r->since_log == 0 || now < r->next_log)
            continue;
        sw_log(LOG_WARNING, "refused %llu more TCP connection%s in the last %d s: %s",
               (unsigned long long)r->since_log, r->since_log == 1 ? "" : "s", REFUSAL_LOG_SECS,
               refusal_text(i));
        r->since_log = 0;
        r->next_log = now + REFUSAL_LOG_SECS;
    }
}

/*
 * accept4 failed for want of a descriptor. The pending connections would keep the
 * listener readable and the loop spinning: refuse them with the spare descriptor (close
 * it, accept, close, take it again), then pause this listener for ACCEPT_PAUSE_MS.
 */
static void refuse_no_fd(struct worker *w, struct item *it)
{
    struct sockaddr_storage peer;
    struct epoll_event ev = {.events = 0, .data.ptr = it};
    socklen_t len;
    int fd, i, had_spare = w->spare_fd >= 0;

    for (i = 0; i < 64 && w->spare_fd >= 0; i++) {
        close(w->spare_fd);
        len = sizeof(peer);
        fd = accept4(it->fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd >= 0)
            close(fd);
        w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        sw_addr_normalise(&peer, &len);
        refused(w, REF_NO_FD, &peer);
    }
    if (!had_spare) /* the connection stays in the backlog: count the event, name nobody */
        refused(w, REF_NO_FD, NULL);
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, it->fd, &ev);
    it->paused = 1;
    w->accept_resume_ms = sw_mono_ms() + ACCEPT_PAUSE_MS;
}

/* Listeners paused by refuse_no_fd accept again once their pause is over. */
static void resume_accept(struct worker *w)
{
    size_t l;

    if (w->accept_resume_ms == 0 || sw_mono_ms() < w->accept_resume_ms)
        return;
    for (l = 0; l < w->net->nlisten; l++) {
        if (w->tcpl[l].paused) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->tcpl[l]};
            epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->tcpl[l].fd, &ev);
            w->tcpl[l].paused = 0;
        }
    }
    w->accept_resume_ms = 0;
    if (w->spare_fd < 0)
        w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(struct worker *w, struct item *it)
{
    struct sw_net *net = w->net;
    const struct sw_config *cfg = current_config(w);
    uint64_t max =
        (uint64_t)(cfg->tcp_max_connections < net->fd_cap ? cfg->tcp_max_connections : net->fd_cap);
    struct sockaddr_storage peer;
    socklen_t len;
    struct conn *c;
    int fd, one = 1, i, rc;

    for (i = 0; i < 64; i++) {
        len = sizeof(peer);
        if ((fd = accept4(it->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC)) <
            0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                refuse_no_fd(w, it);
            return;
        }
        sw_addr_normalise(&peer, &len);
        if (atomic_load(&net->nconns) >= max) {
            refused(w, REF_LIMIT, &peer);
            close(fd);
            continue;
        }
        if (cfg->tcp_trunk_sources_only && !trunk_source(cfg, (struct sockaddr *)&peer)) {
            refused(w, REF_NOT_TRUNK, &peer);
            close(fd);
            continue;
        }
        if ((rc = src_take(net, &peer, cfg->tcp_max_per_source)) != 0) {
            if (rc > 0)
                refused(w, REF_PER_SOURCE, &peer);
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if ((c = conn_new(fd, &peer, len, w->epfd)) == NULL) {
            pthread_mutex_lock(&net->conns_lock);
            src_give_locked(net, &peer);
            pthread_mutex_unlock(&net->conns_lock);
            close(fd);
            continue;
        }
        c->inbound = 1;
        {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
        }
        conn_insert(net, c);
        w->st.tcp_accepted++;
    }
}

/*
 * Frames and handles the messages in buf[0..total) (c's own buffer or the worker's receive
 * buffer). Returns the bytes used, or (size_t)-1 after closing c (not SIP).
 */
static size_t conn_frames(struct worker *w, struct conn *c, const char *buf, size_t total)
{
    size_t used = 0, fl;
    enum sip_frame f;
    char where[96];

    for (;;) {
        f = sip_frame(buf + used, total - used, &fl);
        if (f == SIP_FRAME_KEEPALIVE) {
            used += fl;
        } else if (f == SIP_FRAME_COMPLETE) {
            handle(w, buf + used, fl, &c->peer, c->peerlen, SW_TCP, -1, 0);
            used += fl;
        } else if (f == SIP_FRAME_NOT_SIP || (f == SIP_FRAME_PARTIAL && total - used >= IN_MAX)) {
            sw_addr_str((struct sockaddr *)&c->peer, where, sizeof(where));
            w->st.dropped_malformed++;
            w->st.tcp_closed_not_sip++;
            sw_log_limited(&w->lim, LOG_NOTICE,
                           "closing TCP connection from %s: the stream is not SIP", where);
            flush_udp(w);
            conn_close(w, c, 0);
            return (size_t)-1;
        } else {
            return used;
        }
    }
}

/*
 * Keeps the rest of a message that arrived in part, buf[0..left), in c->in (sized to it,
 * never kept larger than it needs), or frees c->in when nothing is left. started: the
 * bytes begin a new message (its deadline starts now).
 */
static int conn_keep(struct conn *c, const char *buf, size_t left, int started)
{
    size_t want = IN_MIN;
    char *p;

    if (left == 0) {
        free(c->in);
        c->in = NULL;
        c->inlen = c->incap = 0;
        c->partial_since = 0;
        return 0;
    }
    while (want < left + IN_MIN / 2 && want < IN_MAX)
        want *= 2;
    if (want > IN_MAX)
        want = IN_MAX;
    if (c->in == NULL || want > c->incap || c->incap > 4 * want) {
        if (buf == c->in) { /* shrink or grow in place: realloc keeps the bytes */
            if ((p = realloc(c->in, want)) == NULL)
                return -1;
        } else {
            if ((p = malloc(want)) == NULL)
                return -1;
            memcpy(p, buf, left);
            free(c->in);
        }
        c->in = p;
        c->incap = want;
    } else if (buf != c->in) {
        memmove(c->in, buf, left);
    }
    c->inlen = left;
    if (started || c->partial_since == 0)
        c->partial_since = sw_mono_s();
    return 0;
}

static void on_conn(struct worker *w, struct conn *c, uint32_t events)
{
    ssize_t n;
    size_t used, total;
    char where[96];

    if (events & EPOLLOUT) {
        pthread_mutex_lock(&c->lock);
        if (c->connecting) {
            int e = 0;
            socklen_t el = sizeof(e);
            getsockopt(c->it.fd, SOL_SOCKET, SO_ERROR, &e, &el);
            if (e != 0) {
                pthread_mutex_unlock(&c->lock);
                sw_addr_str((struct sockaddr *)&c->peer, where, sizeof(where));
                sw_log_limited(&w->lim, LOG_WARNING, "TCP connect to %s: %s", where, strerror(e));
                conn_close(w, c, e);
                return;
            }
            c->connecting = 0;
        }
        while (c->outlen > 0) {
            n = send(c->it.fd, c->out, c->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0)
                break;
            memmove(c->out, c->out + n, c->outlen - (size_t)n);
            c->outlen -= (size_t)n;
        }
        if (c->outlen == 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->it.fd, &ev);
            memset(c->queued, 0, sizeof(c->queued));
            free(c->out); /* a queue is the exception: give its memory back */
            c->out = NULL;
            c->outcap = 0;
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        /*
         * A connection without a message in progress reads into the worker's receive
         * buffer (free between UDP batches): whole messages are handled from there and
         * only the start of an unfinished one is copied into a buffer of its own.
         */
        int own = c->inlen > 0;
        char *buf = own ? c->in : w->rbuf;
        size_t cap = own ? c->incap : IN_MAX;

        if (own && cap - c->inlen < IN_MIN / 2 && cap < IN_MAX) {
            size_t grow = cap * 2 > IN_MAX ? IN_MAX : cap * 2;
            char *p = realloc(c->in, grow);
            if (p == NULL) {
                conn_close(w, c, ENOMEM);
                return;
            }
            c->in = buf = p;
            c->incap = cap = grow;
        }
        n = recv(c->it.fd, buf + c->inlen, cap - c->inlen, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            w->st.tcp_closed_by_peer++;
            conn_close(w, c, n == 0 ? 0 : errno);
            return;
        }
        if (n < 0)
            break;
        c->last_active = sw_mono_s();
        total = c->inlen + (size_t)n;
        if ((used = conn_frames(w, c, buf, total)) == (size_t)-1)
            return;
        flush_udp(w);
        if (conn_keep(c, buf + used, total - used, used > 0) != 0) {
            conn_close(w, c, ENOMEM);
            return;
        }
    }
}

/*
 * Closes this worker's connections that have been silent for CONN_IDLE_SECS, and those
 * whose message has been half-received for tcp.partial_timeout (bytes that trickle in do
 * not move that deadline). Hands memory back after many closes.
 */
static void sweep(struct worker *w)
{
    struct conn *doomed[256], *c;
    int why[256];
    int64_t now = sw_mono_s(), idle = now - CONN_IDLE_SECS;
    int partial = current_config(w)->tcp_partial_timeout;
    size_t b, n, i;
    char where[96];

    do {
        n = 0;
        pthread_mutex_lock(&w->net->conns_lock);
        for (b = 0; b < CONN_BUCKETS && n < 256; b++) {
            for (c = w->net->conns[b]; c != NULL && n < 256; c = c->hnext) {
                if (c->epfd != w->epfd)
                    continue;
                if (c->last_active < idle) {
                    why[n] = 0;
                    doomed[n++] = c;
                } else if (c->partial_since != 0 && now - c->partial_since >= partial) {
                    why[n] = 1;
                    doomed[n++] = c;
                }
            }
        }
        pthread_mutex_unlock(&w->net->conns_lock);
        for (i = 0; i < n; i++) {
            if (why[i] == 0) {
                w->st.tcp_closed_idle++;
            } else {
                w->st.tcp_dropped_partial++;
                sw_addr_str((struct sockaddr *)&doomed[i]->peer, where, sizeof(where));
                sw_log_limited(&w->lim, LOG_NOTICE,
                               "closing TCP connection from %s: a message still incomplete "
                               "after %d s (tcp.partial_timeout), %zu bytes dropped",
                               where, partial, doomed[i]->inlen);
            }
            conn_close(w, doomed[i], 0);
        }
    } while (n == 256);
    if (w->closed_since_trim >= TRIM_AFTER_CLOSES) {
#ifndef __SANITIZE_ADDRESS__
        /* not under ASan: its allocator replaces glibc's, whose malloc_trim then walks an
         * arena ASan never set up (a SEGV in mtrim, seen in limits.sh) */
        malloc_trim(0);
#endif
        w->closed_since_trim = 0;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[64];
    int64_t next_sweep = sw_mono_s() + SWEEP_SECS;
    int n, i;

    int64_t stop_at = 0;

    for (;;) {
        /* at shutdown, keep serving while messages are parked, for a grace period */
        if (atomic_load(&w->net->stopping)) {
            if (stop_at == 0)
                stop_at = sw_mono_s() + STOP_GRACE_SECS;
            if (w->q.parked == 0 || sw_mono_s() >= stop_at)
                break;
        }
        if (sw_mono_s() >= next_sweep) {
            sweep(w);
            refusals_flush(w);
            sw_log_limit_flush(&w->lim);
            next_sweep = sw_mono_s() + SWEEP_SECS;
        }
        resume_accept(w);
        n = epoll_wait(w->epfd, ev, 64, 100);
        for (i = 0; i < n; i++) {
            struct item *it = ev[i].data.ptr;
            if (it->kind == IT_UDP) {
                if (ev[i].events & EPOLLERR)
                    read_icmp(w, it->fd);
                if (ev[i].events & EPOLLIN)
                    on_udp(w, it);
            } else if (it->kind == IT_TCP_LISTEN) {
                on_accept(w, it);
            } else if (it->kind == IT_WAKE) {
                on_wake(w);
            } else {
                on_conn(w, (struct conn *)it, ev[i].events);
            }
        }
        atomic_fetch_add_explicit(&w->epoch, 1, memory_order_release);
    }
    if (w->q.parked > 0)
        sw_log(LOG_WARNING, "worker %d stops with %zu messages still parked: they are dropped",
               w->idx, w->q.parked);
    return NULL;
}

long sw_net_fds_needed(const struct sw_config *cfg, int nworkers)
{
    /* per worker: a UDP socket and a listener per address, epoll, eventfd, the spare */
    return (long)cfg->tcp_max_connections + (long)nworkers * (2 * (long)cfg->nlisten + 3) +
           FD_HEADROOM + 32;
}

/* Descriptors open now (/proc/self/fd), or -1. */
static long fds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;

    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* How many connections the descriptor limit leaves room for, with FD_HEADROOM to spare. */
static void set_fd_cap(struct sw_net *net)
{
    const struct sw_config *cfg = atomic_load(&net->cfg);
    struct rlimit rl;
    long open_now = fds_open(), cap;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || open_now < 0)
        return;
    cap = (long)rl.rlim_cur - open_now - FD_HEADROOM;
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    net->fd_cap = cap < 1 ? 1 : (int)cap;
    if (net->fd_cap < cfg->tcp_max_connections)
        sw_log(LOG_WARNING,
               "the descriptor limit (%llu, %ld in use) leaves room for %d TCP connections, "
               "fewer than tcp.max_connections (%d): more are refused",
               (unsigned long long)rl.rlim_cur, open_now, net->fd_cap, cfg->tcp_max_connections);
}

int sw_net_start(struct sw_net *net, char *err, size_t errlen)
{
    int i;
    size_t l;

    for (i = 0; i < net->nworkers; i++) {
        struct worker *w = &net->w[i];
        if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 || (w->ctx = sw_ctx_new()) == NULL ||
            (w->rbuf = malloc((size_t)BATCH * SIP_MAX_MSG)) == NULL ||
            (w->obuf = malloc((size_t)BATCH * SW_OUT_MAX)) == NULL) {
            snprintf(err, errlen, "worker %d: out of memory", i);
            return -1;
        }
        if (sw_waitq_init(&w->q, (size_t)SW_DEFAULT_MAX_PARKED) != 0) {
            snprintf(err, errlen, "worker %d: eventfd: %s", i, strerror(errno));
            return -1;
        }
        /* one set for all workers: a retransmission may reach another worker (job.h) */
        w->q.txns = &net->txns;
        if ((w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "worker %d: /dev/null: %s", i, strerror(errno));
            return -1;
        }
        w->wake.kind = IT_WAKE;
        w->wake.fd = w->q.efd;
        {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wake};
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->q.efd, &ev);
        }
        env_init(w, &w->env);
        for (l = 0; l < net->nlisten; l++) {
            struct epoll_event ev = {.events = EPOLLIN};
            if (w->udp[l].fd >= 0) {
                ev.data.ptr = &w->udp[l];
                epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->udp[l].fd, &ev);
            }
            if (w->tcpl[l].fd >= 0) {
                ev.data.ptr = &w->tcpl[l];
                epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tcpl[l].fd, &ev);
            }
        }
    }
    set_fd_cap(net);
    for (i = 0; i < net->nworkers; i++) {
        if (pthread_create(&net->w[i].thread, NULL, worker_main, &net->w[i]) != 0) {
            snprintf(err, errlen, "cannot start worker %d: %s", i, strerror(errno));
            atomic_store(&net->stopping, 1);
            while (--i >= 0)
                pthread_join(net->w[i].thread, NULL);
            return -1;
        }
        net->started = i + 1;
    }
    return 0;
}

void sw_net_set_config(struct sw_net *net, struct sw_config *cfg)
{
    uint64_t seen[MAX_WORKERS];
    int i, waited;

    if (net == NULL) /* a TAP-only daemon has no listeners */
        return;
    atomic_store_explicit(&net->cfg, cfg, memory_order_release);
    for (i = 0; i < net->started; i++)
        seen[i] = atomic_load(&net->w[i].epoch);
    /* every worker passes its loop once (100 ms at most when idle) after the swap */
    for (i = 0; i < net->started; i++)
        for (waited = 0; atomic_load(&net->w[i].epoch) == seen[i] && waited < 500; waited++)
            usleep(10000);
}

void sw_net_stop(struct sw_net *net)
{
    int i;

    if (net == NULL)
        return;
    atomic_store(&net->stopping, 1);
    for (i = 0; i < net->started; i++) {
        struct worker *w = &net->w[i];
        struct sw_job *job, *next;

        pthread_join(w->thread, NULL);
        /* woken but never resumed (the grace ran out): count and free them */
        for (job = sw_waitq_take(&w->q); job != NULL; job = next) {
            next = job->qnext;
            sw_job_free(job);
        }
        /* the rest are still in their filters' hands: counted, left to the exit */
        w->st.dropped_at_stop += w->q.parked;
    }
    net->started = 0;
}

void sw_net_stats(struct sw_net *net, struct sw_stats *sum, uint64_t *tcp_conns, uint64_t *parked)
{
    int i;

    memset(sum, 0, sizeof(*sum));
    if (net == NULL) { /* a TAP-only daemon: no workers */
        if (tcp_conns != NULL)
            *tcp_conns = 0;
        if (parked != NULL)
            *parked = 0;
        return;
    }
    for (i = 0; i < net->nworkers; i++)
        sw_stats_add(sum, &net->w[i].st);
    if (tcp_conns != NULL)
        *tcp_conns = atomic_load(&net->nconns);
    if (parked != NULL) {
        *parked = 0;
        for (i = 0; i < net->nworkers; i++)
            *parked += net->w[i].q.parked; /* a glance for the log, not a synchronised sum */
    }
}

void sw_net_free(struct sw_net *net)
{
    int i;
    size_t l, b;

    if (net == NULL)
        return;
    if (net->started)
        sw_net_stop(net);
    for (i = 0; i < net->nworkers; i++) {
        if (net->w[i].q.parked > 0) {
            /*
             * A filter still holds a parked message and will wake it into this worker's
             * queue: keep the workers' memory for the rest of the process's life rather
             * than let that wake touch freed memory. Only at exit, after the grace.
             */
            return;
        }
    }
    for (b = 0; b < CONN_BUCKETS; b++) {
        struct conn *c = net->conns[b], *n;
        for (; c != NULL; c = n) {
            n = c->hnext;
            close(c->it.fd);
            free(c->in);
            free(c->out);
            free(c);
        }
    }
    for (b = 0; b < SRC_BUCKETS; b++) {
        struct src_count *e = net->srcs[b], *n;
        for (; e != NULL; e = n) {
            n = e->next;
            free(e);
        }
    }
    for (i = 0; i < net->nworkers; i++) {
        struct worker *w = &net->w[i];
        for (l = 0; l < net->nlisten; l++) {
            if (w->udp[l].fd >= 0)
                close(w->udp[l].fd);
            if (w->tcpl[l].fd >= 0)
                close(w->tcpl[l].fd);
        }
        sw_waitq_destroy(&w->q);
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->spare_fd >= 0)
            close(w->spare_fd);
        sw_ctx_free(w->ctx);
        free(w->rbuf);
        free(w->obuf);
    }
    sw_txns_destroy(&net->txns);
    free(net->w);
    free(net);
}
