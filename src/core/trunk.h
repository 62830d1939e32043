/*
 * trunk.h - trunks: who a message comes from (match), where its requests go (the next
 * hop), and what is done to it on the way (the chain of filters).
 *
 * These are the message path's own types: the daemon's loader builds them, the proxy and
 * the TAP read them, and no worker ever changes one. A next hop is resolved once, when
 * the file is loaded, so that nothing on the message path waits on DNS.
 */
#ifndef SW_CORE_TRUNK_H
#define SW_CORE_TRUNK_H

#include <stddef.h>
#include <sys/socket.h>

#include "addr.h"

#define SW_MAX_CHAIN 8

enum sw_transport { SW_UDP = 1, SW_TCP = 2 };

struct swf_filter;

/* Where a trunk's requests go: resolved once, at load time. */
struct sw_hop {
    char *uri; /* as written: "sip:carrier.example.net:5060;transport=udp" */
    char host[256];
    int port;                     /* 5060 when absent */
    int transport;                /* SW_UDP or SW_TCP (";transport=tcp") */
    int tcp_capable;              /* the hop also takes TCP (setting next_hop_tcp) */
    struct sockaddr_storage addr; /* resolved address */
    socklen_t addrlen;
};

struct sw_chain_item {
    const struct swf_filter *filter;
    void *state;
    int index; /* the filter's registry index: its row in the counter table */
};

struct sw_trunk {
    char *name;
    struct sw_cidr *sources; /* match: source addresses */
    size_t nsources;
    int match_port;     /* 0 = any source port */
    char *match_domain; /* NULL = any Request-URI host */
    struct sw_hop next_hop;
    int record_route;
    int udp_fragment; /* send requests over 1300 bytes as fragmented UDP, not TCP */
    struct sw_chain_item chain[SW_MAX_CHAIN];
    size_t nchain;
};

/*
 * Reads a next hop, "sip:host[:port][;transport=udp|tcp][;lr]", with libosip2's URI
 * parser, and resolves host (an IP literal, or a name: the first address getaddrinfo
 * gives, RFC 6724 order). This is the only place a name is resolved, at load time.
 * Returns 0, or -1 with a message in why (hop->uri may be set: sw_hop_clear frees it).
 */
int sw_hop_parse(const char *uri, struct sw_hop *hop, char *why, size_t whylen);
void sw_hop_clear(struct sw_hop *hop);

/*
 * The trunk of trunks[0..n) a message from src belongs to: the first, in file order,
 * whose sources, port and (when it has one) Request-URI domain fit. ruri_host may be
 * NULL (no host known, or a response). NULL when none matches.
 */
const struct sw_trunk *sw_trunk_match(const struct sw_trunk *trunks, size_t n,
                                      const struct sockaddr *src, const char *ruri_host);

/* Frees what the trunk owns, its filter states included (not t itself). */
void sw_trunk_clear(struct sw_trunk *t);

#endif /* SW_CORE_TRUNK_H */
