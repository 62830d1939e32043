/*
 * resolve.h - next hops from names to addresses, as RFC 3263 says for a SIP URI without
 * NAPTR: SRV (_sip._udp / _sip._tcp) when the URI gives no port, else the name's A and
 * AAAA records, through c-ares (the DNS is never parsed by hand here).
 *
 * Blocking, with short timeouts: called by the loader (so that `stirwired -t` reports a
 * name that does not resolve) and by the hop monitor's resolver thread, never by a worker.
 * Each call makes its own c-ares channel, so calls on different threads share nothing.
 */
#ifndef SW_CORE_RESOLVE_H
#define SW_CORE_RESOLVE_H

#include <stddef.h>

#include "trunk.h"

#define SW_DNS_MIN_TTL 5    /* seconds: a record's TTL below this is taken as this */
#define SW_DNS_MAX_TTL 3600 /* and above this as this */

/* The top-level dns settings. */
struct sw_dns {
    char servers[512]; /* "127.0.0.1:5353,[::1]:53" for c-ares; "" = /etc/resolv.conf */
    int min_ttl, max_ttl;
    int timeout_ms; /* per try */
    int tries;
};

/* The defaults: the system's servers, TTLs clamped to 5..3600 s, 1.5 s x 2 tries. */
void sw_dns_defaults(struct sw_dns *dns);

/*
 * Once per process, before any thread resolves (c-ares's library init). 0 or -1.
 */
int sw_resolve_init(void);

/*
 * Resolves specs[0..nspecs) into hops: *hops (malloc'd; the caller frees it) with *n
 * entries, each borrowing its spec's URI; *ttl is the lowest TTL seen, clamped to the dns
 * settings (the time to resolve again). tcp_capable is copied into every hop. Returns 0,
 * or -1 with why saying which name failed and how (nothing to free then).
 */
int sw_resolve_specs(const struct sw_dns *dns, const struct sw_hop_spec *specs, size_t nspecs,
                     int tcp_capable, struct sw_hop **hops, size_t *n, int *ttl, char *why,
                     size_t whylen);

#endif /* SW_CORE_RESOLVE_H */
