/*
 * config.h - stirwired's configuration: listeners, workers, logging, trunks with their
 * filter chains. One libconfig file (etc/stirwire.conf documents every setting).
 *
 * Rule (relayd): the file is parsed once, fully validated, and only then used. A loaded
 * struct sw_config is immutable: workers read it without locks; a reload builds a new
 * one beside it and swaps the pointer; the old one is freed once no worker can see it.
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../../filters/filter.h"

#define SW_MAX_CHAIN 8
#define SW_MAX_LISTEN 8

enum sw_transport { SW_UDP = 1, SW_TCP = 2 };

struct sw_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int bits;
};

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

struct sw_listen {
    struct sockaddr_storage addr; /* address and port to bind */
    socklen_t addrlen;
    int transports;      /* SW_UDP | SW_TCP */
    char advertise[256]; /* host[:port] we put in Via / Record-Route ("" = bound) */
};

struct sw_config {
    char *path;
    struct sw_listen listen[SW_MAX_LISTEN];
    size_t nlisten;
    int workers;    /* 0 = one per core */
    char *pid_file; /* NULL = none */
    char *user;     /* drop privileges to this user after binding; NULL = stay */
    int log_syslog; /* 0 = stderr */
    int log_level;  /* LOG_ERR .. LOG_DEBUG (syslog.h) */
    int udp_rcvbuf; /* bytes, 0 = system default */
    struct sw_trunk *trunks;
    size_t ntrunks;
};

/*
 * Loads and validates path. On success returns 0 and *out. On failure returns -1 and
 * writes every error found, one per line, as "FILE:LINE: message", into errs.
 */
int sw_config_load(const char *path, struct sw_config **out, char *errs, size_t errlen);
void sw_config_free(struct sw_config *cfg);

/*
 * The trunk a message from src belongs to (first match in file order), considering the
 * Request-URI host (ruri_host may be NULL) when a trunk matches on domain. NULL if none.
 */
const struct sw_trunk *sw_config_match(const struct sw_config *cfg, const struct sockaddr *src,
                                       const char *ruri_host);

#endif /* SW_CONFIG_H */
