/*
 * trunk.h - trunks: who a message comes from (match), where its requests go (the next
 * hop), and what is done to it on the way (the chain of filters).
 *
 * These are the message path's own types: the daemon's loader builds them, the proxy and
 * the TAP read them, and no worker ever changes one. Nothing on the message path waits on
 * DNS: a trunk's next hops are resolved when the file is loaded, and then again, as their
 * TTLs say, by the hop monitor's own thread (src/proxy/hopmon.c), which publishes each new
 * set of resolved hops (a struct sw_hopset) with an atomic pointer swap, and marks hops
 * down and up from its OPTIONS health checks. Workers only read: sw_trunk_pick_hop().
 *
 * The rule for readers: a hop that sw_trunk_pick_hop() returns stays valid for the message
 * in hand, not longer (a replaced set is freed a grace period after it was retired, and
 * with its configuration at the latest).
 */
#ifndef SW_CORE_TRUNK_H
#define SW_CORE_TRUNK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

#define SW_MAX_CHAIN 8

enum sw_transport { SW_UDP = 1, SW_TCP = 2 };

struct swf_filter;
struct sip_msg;

/* Where a trunk's requests go: one resolved address. */
struct sw_hop {
    char *uri; /* as written: "sip:carrier.example.net:5060;transport=udp" */
    char host[256];
    int port;                     /* 5060 when absent */
    int transport;                /* SW_UDP or SW_TCP (";transport=tcp") */
    int tcp_capable;              /* the hop also takes TCP (setting next_hop_tcp) */
    struct sockaddr_storage addr; /* resolved address */
    socklen_t addrlen;
    int priority; /* lower first: (configured priority << 16) + the SRV record's priority */
    int weight;   /* among equal priority: the SRV record's weight, else the configured one */
};

/*
 * One next hop as configured: a URI with its priority and weight. A host name is looked
 * up as RFC 3263 says for a URI without NAPTR: no port given -> SRV _sip._udp.NAME (or
 * _sip._tcp with ;transport=tcp), each SRV target's addresses becoming hops; no SRV record,
 * or a port given -> the name's A/AAAA addresses, every one a hop. A name in the hosts file
 * is taken from there. An IP literal is one hop and is never looked up.
 */
struct sw_hop_spec {
    char *uri;
    char host[256];
    int port;      /* 0 when the URI gives none */
    int transport; /* SW_UDP or SW_TCP */
    int is_ip;
    int priority; /* as configured: 1 first */
    int weight;   /* as configured, >= 1 */
};

/* A trunk's resolved hops, sorted by priority: published whole, never changed after. */
struct sw_hopset {
    size_t n;
    struct sw_hop *hops;
    _Atomic int *down;  /* per hop: 1 while health checks say it is down (hop monitor writes) */
    int64_t retired_at; /* monotonic seconds, once replaced */
    struct sw_hopset *next_retired;
};

/* OPTIONS health checks of a trunk's hops (interval 0: none). */
struct sw_health {
    int interval;   /* seconds between OPTIONS to each hop */
    int down_after; /* unanswered OPTIONS in a row that mark a hop down */
    int up_after;   /* answered OPTIONS in a row that mark a down hop up again */
};

/*
 * A trunk's next hops as they live: what was configured, and the set of hops resolved
 * from it last. live is read by workers (atomic load), written by the hop monitor only.
 */
struct sw_route {
    struct sw_hop_spec *specs;
    size_t nspecs;
    int tcp_capable; /* next_hop_tcp: every hop also takes TCP */
    int dynamic;     /* some spec is a name: the hop monitor resolves it again */
    struct sw_hopset *_Atomic live;
    struct sw_hopset *retired; /* hop monitor's thread only (and the final free) */
    int64_t next_resolve;      /* hop monitor's thread only: monotonic seconds */
    struct sw_health health;
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
    int match_port; /* 0 = any source port */
    /* the TAP only: destination addresses (match.destination); 0 = any destination */
    struct sw_cidr *destinations;
    size_t ndestinations;
    char *match_domain; /* NULL = any Request-URI host */
    /* the first hop resolved at load (the only one for one IP address) */
    struct sw_hop next_hop;
    /* all the next hops, as they live; NULL: next_hop alone (a trunk built by hand) */
    struct sw_route *route;
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
 * Reads a next hop's URI, as sw_hop_parse does, without resolving anything: fills spec
 * (priority 1, weight 1; the caller sets them). Returns 0, or -1 with a message in why
 * (spec->uri may be set: sw_hop_spec_clear frees it).
 */
int sw_hop_spec_parse(const char *uri, struct sw_hop_spec *spec, char *why, size_t whylen);
void sw_hop_spec_clear(struct sw_hop_spec *spec);

/* A new hop set of n hops (sorted here by priority), every one up. NULL: out of memory. */
struct sw_hopset *sw_hopset_new(const struct sw_hop *hops, size_t n);
void sw_hopset_free(struct sw_hopset *set);

/*
 * Publishes set as route's live hops (the hop monitor's thread, or the loader): health
 * state is carried over from the set it replaces for the same address and transport, and
 * that one is retired (freed by sw_route_reap after a grace, or with the route).
 */
void sw_route_publish(struct sw_route *route, struct sw_hopset *set, int64_t now);
/* Frees the retired sets older than grace seconds (the hop monitor's thread). */
void sw_route_reap(struct sw_route *route, int64_t now, int grace);
void sw_route_free(struct sw_route *route);

/*
 * The hop a request goes to (never NULL for a loaded trunk). A request inside a dialog
 * (its To has a tag) whose Route or Request-URI names one of the trunk's hops goes to that
 * hop, up or not: the dialog lives there. Any other request goes to the hops of the best
 * priority that are up (all of them, when none is up), chosen by weight with the Call-ID's
 * hash as the draw: the draw is random across calls, and the same for every request of a
 * call (INVITE, CANCEL, ACK), as a stateless proxy needs. Reads the live set without locks.
 */
const struct sw_hop *sw_trunk_pick_hop(const struct sw_trunk *trunk, const struct sip_msg *m);

/*
 * The trunk of trunks[0..n) a message from src belongs to: the first, in file order,
 * whose sources, port and (when it has one) Request-URI domain fit. ruri_host may be
 * NULL (no host known, or a response). NULL when none matches.
 */
const struct sw_trunk *sw_trunk_match(const struct sw_trunk *trunks, size_t n,
                                      const struct sockaddr *src, const char *ruri_host);

/*
 * The same for a message seen on the wire by the TAP, which also knows where it went: a
 * trunk with destinations (match.destination) takes only messages to one of them. dst
 * NULL: destinations are not considered (as sw_trunk_match).
 */
const struct sw_trunk *sw_trunk_match_flow(const struct sw_trunk *trunks, size_t n,
                                           const struct sockaddr *src, const struct sockaddr *dst,
                                           const char *ruri_host);

/* Frees what the trunk owns, its filter states included (not t itself). */
void sw_trunk_clear(struct sw_trunk *t);

#endif /* SW_CORE_TRUNK_H */
