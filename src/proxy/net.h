/*
 * net.h - stirwired's sockets and worker threads.
 *
 * One worker per core; each has its own SO_REUSEPORT UDP socket and TCP listener per
 * configured address (the kernel spreads load between them), its own epoll loop, its own
 * libstirwire context and counters: nothing on the message path takes a lock except the
 * TCP connection table. Messages are read and sent in batches (recvmmsg / sendmmsg).
 */
#ifndef SW_NET_H
#define SW_NET_H

#include <stddef.h>

#include "../core/conf.h"
#include "../core/counters.h"
#include "proxy.h"

struct sw_net;

/*
 * Binds every listener for nworkers workers (done before dropping privileges). On error
 * returns NULL with a message naming the address in err.
 */
struct sw_net *sw_net_bind(struct sw_config *cfg, int nworkers, char *err, size_t errlen);
/*
 * The file descriptors cfg needs with nworkers workers: tcp.max_connections, every
 * worker's sockets, and some room; the daemon raises RLIMIT_NOFILE to it at start-up.
 */
long sw_net_fds_needed(const struct sw_config *cfg, int nworkers);
/* Starts the workers. 0, or -1 with err. */
int sw_net_start(struct sw_net *net, char *err, size_t errlen);
/*
 * Makes the workers use cfg from their next message on, and returns once none of them can
 * still be using the previous one on its stack; the caller may then drop its reference
 * to it (parked messages hold their own).
 */
void sw_net_set_config(struct sw_net *net, struct sw_config *cfg);
/*
 * Lets the workers finish what they are doing (parked messages get up to 5 s), stops and
 * joins them.
 */
void sw_net_stop(struct sw_net *net);
/* Sums the workers' counters; the open TCP connections and parked messages (may be NULL). */
void sw_net_stats(struct sw_net *net, struct sw_stats *sum, uint64_t *tcp_conns, uint64_t *parked);
void sw_net_free(struct sw_net *net);

#endif /* SW_NET_H */
