/*
 * conf.h - a loaded configuration as the message path uses it: listeners, limits,
 * trunks with their filter chains, and the process-wide services the filters share.
 *
 * Rule (relayd): a struct sw_config is immutable once loaded. Workers read it without
 * locks; a reload builds a new one beside it and swaps the pointer. It is
 * reference-counted: the daemon holds one reference, and every parked message holds one
 * to the configuration it was matched under, so a reload never frees a trunk (or a
 * filter state) that a parked message will still run. The last sw_config_unref frees
 * it, on whichever thread that happens.
 *
 * The daemon's loader (src/daemon/conffile.h) builds these; nothing below the daemon
 * reads the file.
 */
#ifndef SW_CORE_CONF_H
#define SW_CORE_CONF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../lib/stirwire.h"
#include "resolve.h"
#include "trunk.h"

struct sw_http_conf; /* src/http/server.h */
struct sw_api;       /* src/http/api.h */

#define SW_MAX_LISTEN 8
#define SW_DEFAULT_MAX_PARKED 10000
/* the tcp group's defaults */
#define SW_DEFAULT_TCP_MAX_CONNECTIONS 20000
#define SW_DEFAULT_TCP_MAX_PER_SOURCE 64
#define SW_DEFAULT_TCP_PARTIAL_TIMEOUT 10

struct sw_listen {
    struct sockaddr_storage addr; /* address and port to bind */
    socklen_t addrlen;
    int transports;      /* SW_UDP | SW_TCP */
    char advertise[256]; /* host[:port] we put in Via / Record-Route ("" = bound) */
};

/*
 * Services one process offers every filter, whatever its trunk and across reloads: they
 * outlive configurations. Owned by the daemon (or a test); filters borrow them.
 */
struct sw_services {
    /* one certificate verifier (cache, fetch thread) for all trunks; see sw_services_verifier */
    sw_verifier *verifier;
    /* wall clock, seconds (tests set their own) */
    int64_t (*clock)(void);
};

/* Services with no verifier yet and the system clock. */
void sw_services_init(struct sw_services *svc);
/*
 * The shared verifier, made on first use (with the library's defaults: https only,
 * public addresses only, a 24 h cache). NULL when it cannot be made (out of memory).
 */
sw_verifier *sw_services_verifier(struct sw_services *svc);
/* Frees what the services own (the verifier); after every configuration is gone. */
void sw_services_clear(struct sw_services *svc);

/*
 * The top-level verifier group as read (every field holds a value: the library's default
 * when the file does not set it). The verifier itself lives in struct sw_services and
 * outlives configurations; the daemon applies these settings to it once the whole file
 * is valid (sw_config_apply_verifier in src/daemon/conffile.h), so a reload keeps the
 * certificate cache and a bad file changes nothing.
 */
#define SW_VERIFIER_MAX_CRL_FILES 32
struct sw_verifier_conf {
    int given; /* the file has a verifier group */
    long allow_http, allow_private, allow_any_port, allow_query;
    long connect_timeout_ms, timeout_ms, max_bytes; /* milliseconds, bytes */
    long cache_entries, min_ttl, negative_ttl;      /* entries, seconds */
    long crl_fetch;
    long crl_unreachable;                             /* 1: "tolerate", 0: "fail" */
    char *ca_file, *ca_dir, *cache_dir, *tls_ca_file; /* NULL: not set */
    char *allow_networks;                             /* "CIDR,CIDR,...", NULL: none */
    char *crl_files[SW_VERIFIER_MAX_CRL_FILES];
    size_t ncrl_files;
};

/*
 * The tap group: what the TAP captures (DESIGN.md, "The TAP"). Each source is a pcap or
 * pcapng file (read once at start), a live interface, or a HEP listener. The sources are
 * opened at start, before privileges are dropped; a reload changes the trunks they feed,
 * and a change to the sources themselves takes effect at the next restart (logged).
 */
#define SW_TAP_MAX_SOURCES 16
enum sw_tap_kind { SW_TAP_PCAP = 1, SW_TAP_INTERFACE, SW_TAP_HEP };
struct sw_tap_source {
    enum sw_tap_kind kind;
    char *name;     /* file path, interface name, or "udp:ADDR:PORT" / "tcp:ADDR:PORT" */
    char *filter;   /* interface: a BPF expression replacing the default; NULL: default */
    int snaplen;    /* interface: bytes kept of each frame (65535) */
    int buffer;     /* interface: kernel buffer bytes (32 MiB) */
    int promisc;    /* interface: promiscuous (1) */
    char *auth_key; /* HEP: the capture agents' password (chunk 0x000e); NULL: not checked */
};
struct sw_tap_conf {
    struct sw_tap_source src[SW_TAP_MAX_SOURCES];
    size_t n;
};

struct sw_config {
    atomic_int refs;
    unsigned generation; /* 1 for the first load, +1 per reload (for logs) */
    char *path;
    struct sw_listen listen[SW_MAX_LISTEN];
    size_t nlisten;
    int workers;    /* 0 = one per core */
    char *pid_file; /* NULL = none */
    char *user;     /* drop privileges to this user after binding; NULL = stay */
    int log_syslog; /* 0 = stderr */
    int log_level;  /* LOG_ERR .. LOG_DEBUG (syslog.h) */
    int udp_rcvbuf; /* bytes, 0 = system default */
    int max_parked; /* messages a worker may hold parked at once */
    int any_domain; /* some trunk matches on the Request-URI host */
    /* TCP limits (the tcp group) */
    int tcp_max_connections;    /* open connections in all (accepted and opened) */
    int tcp_max_per_source;     /* accepted connections from one address; 0 = no cap */
    int tcp_partial_timeout;    /* seconds a message may stay half-received */
    int tcp_trunk_sources_only; /* accept only from addresses in some trunk's match.source */
    struct sw_trunk *trunks;
    size_t ntrunks;
    /* how next hops' names are resolved (the top-level dns setting) */
    struct sw_dns dns;
    struct sw_verifier_conf verifier; /* the verifier group, applied to svc->verifier */
    /*
     * The http group (the REST API), NULL when the file has none (no HTTP listener), and
     * the handlers' state built from it at load (sign and check keys loaded, pub_dir
     * opened; verifier borrowed from svc). Both owned by the configuration; the daemon
     * fills in api's metrics and ready callbacks before it hands api to the server.
     */
    struct sw_http_conf *http;
    struct sw_api *api;
    struct sw_services *svc; /* borrowed */
    struct sw_tap_conf *tap; /* the tap group, NULL when the file has none */
    /* called by the last unref, before freeing (the daemon logs it); may be NULL */
    void (*on_free)(const struct sw_config *cfg);
};

/* A new empty configuration with one reference. NULL when out of memory. */
struct sw_config *sw_config_new(void);
/* Takes a reference (any thread). Returns cfg. */
struct sw_config *sw_config_ref(struct sw_config *cfg);
/* Drops a reference (any thread); the last one frees cfg and its filter states. */
void sw_config_unref(struct sw_config *cfg);

/*
 * The trunk a message from src belongs to (first match in file order), considering the
 * Request-URI host (ruri_host may be NULL) when a trunk matches on domain. NULL if none.
 */
const struct sw_trunk *sw_config_match(const struct sw_config *cfg, const struct sockaddr *src,
                                       const char *ruri_host);

#endif /* SW_CORE_CONF_H */
