/*
 * trunk.c - next hops and trunk matching (see trunk.h).
 *
 * A next hop is read with libosip2's URI parser (osip_uri_parse), like every other SIP
 * URI stirwired reads; what it accepts and we do not support (sips:, a user part,
 * headers, other parameters) is refused here with a message that says so.
 */
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "../sip/sipmsg.h"
#include "filter.h"
#include "trunk.h"

/* host: letters, digits, dots and dashes (a DNS name), checked before getaddrinfo */
static int valid_name(const char *h)
{
    for (; *h != '\0'; h++)
        if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-')
            return 0;
    return 1;
}

static int hop_params(const osip_uri_t *u, struct sw_hop *hop, char *why, size_t whylen)
{
    int i, n = osip_list_size(&u->url_params);

    for (i = 0; i < n; i++) {
        const osip_uri_param_t *p = osip_list_get(&u->url_params, i);
        const char *name = p->gname != NULL ? p->gname : "";
        if (strcasecmp(name, "transport") == 0) {
            if (p->gvalue != NULL && strcasecmp(p->gvalue, "udp") == 0) {
                hop->transport = SW_UDP;
            } else if (p->gvalue != NULL && strcasecmp(p->gvalue, "tcp") == 0) {
                hop->transport = SW_TCP;
            } else {
                snprintf(why, whylen, "transport must be udp or tcp");
                return -1;
            }
        } else if (strcasecmp(name, "lr") == 0) {
            /* loose routing is all we do; accepted for URIs copied from a Route */
        } else {
            snprintf(why, whylen, "unknown parameter \"%s\" (known: transport, lr)", name);
            return -1;
        }
    }
    return 0;
}

int sw_hop_spec_parse(const char *uri, struct sw_hop_spec *spec, char *why, size_t whylen)
{
    osip_uri_t *u = NULL;
    struct sw_hop tmp;
    char *copy = NULL;
    int rc = -1;

    memset(spec, 0, sizeof(*spec));
    memset(&tmp, 0, sizeof(tmp));
    spec->transport = tmp.transport = SW_UDP;
    spec->priority = spec->weight = 1;
    if ((spec->uri = strdup(uri)) == NULL || (copy = strdup(uri)) == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    if (strncasecmp(uri, "sips:", 5) == 0) {
        snprintf(why, whylen, "sips (TLS) is not supported");
        goto out;
    }
    if (strncasecmp(uri, "sip:", 4) != 0) {
        snprintf(why, whylen, "must be a sip: URI (sip:host[:port][;transport=udp|tcp])");
        goto out;
    }
    if (osip_uri_init(&u) != 0 || osip_uri_parse(u, copy) != 0 || u->host == NULL ||
        u->host[0] == '\0') {
        snprintf(why, whylen, "is not a valid SIP URI with a host");
        goto out;
    }
    if (u->username != NULL) {
        snprintf(why, whylen, "must not have a user part");
        goto out;
    }
    if (osip_list_size(&u->url_headers) > 0 || strchr(uri, '?') != NULL) {
        snprintf(why, whylen, "must not carry headers");
        goto out;
    }
    if (strlen(u->host) >= sizeof(spec->host)) {
        snprintf(why, whylen, "has no valid host");
        goto out;
    }
    snprintf(spec->host, sizeof(spec->host), "%s", u->host);
    if (u->port != NULL) {
        char *end;
        long p = strtol(u->port, &end, 10);
        if (*u->port == '\0' || *end != '\0' || p < 1 || p > 65535) {
            snprintf(why, whylen, "port must be 1..65535");
            goto out;
        }
        spec->port = (int)p;
    }
    if (hop_params(u, &tmp, why, whylen) != 0)
        goto out;
    spec->transport = tmp.transport;

    /* libosip2 gives an IPv6 reference without its brackets */
    if (strchr(spec->host, ':') != NULL ||
        strspn(spec->host, "0123456789.") == strlen(spec->host)) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (sw_addr_from_ip(spec->host, 5060, &ss, &len) != 0) {
            snprintf(why, whylen, "\"%s\" is not a valid IP address", spec->host);
            goto out;
        }
        spec->is_ip = 1;
    } else if (!valid_name(spec->host)) {
        snprintf(why, whylen, "\"%s\" is not a valid host name", spec->host);
        goto out;
    }
    rc = 0;
out:
    osip_uri_free(u);
    free(copy);
    return rc;
}

void sw_hop_spec_clear(struct sw_hop_spec *spec)
{
    free(spec->uri);
    spec->uri = NULL;
}

int sw_hop_parse(const char *uri, struct sw_hop *hop, char *why, size_t whylen)
{
    struct sw_hop_spec spec;

    memset(hop, 0, sizeof(*hop));
    hop->port = 5060;
    hop->transport = SW_UDP;
    hop->priority = hop->weight = 1;
    if (sw_hop_spec_parse(uri, &spec, why, whylen) != 0) {
        /* hop->uri is set, as before, for sw_hop_clear */
        hop->uri = spec.uri;
        return -1;
    }
    hop->uri = spec.uri;
    snprintf(hop->host, sizeof(hop->host), "%s", spec.host);
    hop->transport = spec.transport;
    if (spec.port != 0)
        hop->port = spec.port;
    if (spec.is_ip) {
        if (sw_addr_from_ip(hop->host, hop->port, &hop->addr, &hop->addrlen) != 0) {
            snprintf(why, whylen, "\"%s\" is not a valid IP address", hop->host);
            return -1;
        }
    } else {
        struct addrinfo hints, *res = NULL;
        int e;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = hop->transport == SW_TCP ? SOCK_STREAM : SOCK_DGRAM;
        if ((e = getaddrinfo(hop->host, NULL, &hints, &res)) != 0 || res == NULL) {
            snprintf(why, whylen, "host \"%s\" does not resolve: %s", hop->host,
                     e != 0 ? gai_strerror(e) : "no address");
            return -1;
        }
        memcpy(&hop->addr, res->ai_addr, res->ai_addrlen);
        hop->addrlen = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
        sw_addr_set_port(&hop->addr, hop->port);
    }
    if (hop->transport == SW_TCP)
        hop->tcp_capable = 1;
    return 0;
}

void sw_hop_clear(struct sw_hop *hop)
{
    free(hop->uri);
    hop->uri = NULL;
}

const struct sw_trunk *sw_trunk_match(const struct sw_trunk *trunks, size_t n,
                                      const struct sockaddr *src, const char *ruri_host)
{
    return sw_trunk_match_flow(trunks, n, src, NULL, ruri_host);
}

static int dst_matches(const struct sw_trunk *t, const struct sockaddr *dst)
{
    size_t k;

    if (dst == NULL || t->ndestinations == 0)
        return 1;
    for (k = 0; k < t->ndestinations; k++)
        if (sw_cidr_match(&t->destinations[k], dst))
            return 1;
    return 0;
}

const struct sw_trunk *sw_trunk_match_flow(const struct sw_trunk *trunks, size_t n,
                                           const struct sockaddr *src, const struct sockaddr *dst,
                                           const char *ruri_host)
{
    int port = sw_addr_port(src);
    size_t i, k;

    if (src->sa_family != AF_INET && src->sa_family != AF_INET6)
        return NULL;
    for (i = 0; i < n; i++) {
        const struct sw_trunk *t = &trunks[i];
        if (t->match_port != 0 && t->match_port != port)
            continue;
        if (t->match_domain != NULL &&
            (ruri_host == NULL || strcasecmp(t->match_domain, ruri_host) != 0))
            continue;
        if (!dst_matches(t, dst))
            continue;
        for (k = 0; k < t->nsources; k++)
            if (sw_cidr_match(&t->sources[k], src))
                return t;
    }
    return NULL;
}

void sw_trunk_clear(struct sw_trunk *t)
{
    size_t k;

    for (k = 0; k < t->nchain; k++)
        if (t->chain[k].filter->free != NULL && t->chain[k].state != NULL)
            t->chain[k].filter->free(t->chain[k].state);
    t->nchain = 0;
    free(t->name);
    free(t->sources);
    free(t->destinations);
    t->destinations = NULL;
    t->ndestinations = 0;
    free(t->match_domain);
    sw_hop_clear(&t->next_hop);
    sw_route_free(t->route);
    t->route = NULL;
    t->name = NULL;
    t->sources = NULL;
    t->match_domain = NULL;
}

/* --- hop sets, routes and the picker ------------------------------------------------------ */

/*
 * Priority first; then by address, so that one set of records gives one order however the
 * DNS server rotates them (a re-resolution that changes nothing publishes nothing).
 */
static int hop_order(const struct sw_hop *x, const struct sw_hop *y)
{
    int c;

    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->addrlen != y->addrlen)
        return x->addrlen < y->addrlen ? -1 : 1;
    if ((c = memcmp(&x->addr, &y->addr, x->addrlen)) != 0)
        return c;
    return x->transport - y->transport;
}

struct sw_hopset *sw_hopset_new(const struct sw_hop *hops, size_t n)
{
    struct sw_hopset *set = calloc(1, sizeof(*set));
    size_t i;

    if (set == NULL || (set->hops = calloc(n ? n : 1, sizeof(*set->hops))) == NULL ||
        (set->down = calloc(n ? n : 1, sizeof(*set->down))) == NULL) {
        sw_hopset_free(set);
        return NULL;
    }
    set->n = n;
    for (i = 0; i < n; i++) {
        set->hops[i] = hops[i];
        /* the URI strings belong to the specs (the route); a set borrows them */
        atomic_init(&set->down[i], 0);
    }
    for (i = 1; i < n; i++) {
        size_t k = i;
        while (k > 0 && hop_order(&set->hops[k - 1], &set->hops[k]) > 0) {
            struct sw_hop tmp = set->hops[k];
            set->hops[k] = set->hops[k - 1];
            set->hops[k - 1] = tmp;
            k--;
        }
    }
    return set;
}

void sw_hopset_free(struct sw_hopset *set)
{
    if (set == NULL)
        return;
    free(set->hops);
    free((void *)set->down);
    free(set);
}

static int same_hop(const struct sw_hop *a, const struct sw_hop *b)
{
    return a->transport == b->transport &&
           sw_addr_equal((const struct sockaddr *)&a->addr, (const struct sockaddr *)&b->addr);
}

void sw_route_publish(struct sw_route *route, struct sw_hopset *set, int64_t now)
{
    struct sw_hopset *old = atomic_load_explicit(&route->live, memory_order_acquire);
    size_t i, k;

    if (old != NULL)
        for (i = 0; i < set->n; i++)
            for (k = 0; k < old->n; k++)
                if (same_hop(&set->hops[i], &old->hops[k]))
                    atomic_store(&set->down[i], atomic_load(&old->down[k]));
    atomic_store_explicit(&route->live, set, memory_order_release);
    if (old != NULL) {
        old->retired_at = now;
        old->next_retired = route->retired;
        route->retired = old;
    }
}

void sw_route_reap(struct sw_route *route, int64_t now, int grace)
{
    struct sw_hopset **pp = &route->retired, *s;

    while ((s = *pp) != NULL) {
        if (now - s->retired_at >= grace) {
            *pp = s->next_retired;
            sw_hopset_free(s);
        } else {
            pp = &s->next_retired;
        }
    }
}

void sw_route_free(struct sw_route *route)
{
    size_t i;

    if (route == NULL)
        return;
    sw_route_reap(route, INT64_MAX, 0);
    sw_hopset_free(atomic_load(&route->live));
    for (i = 0; i < route->nspecs; i++)
        sw_hop_spec_clear(&route->specs[i]);
    free(route->specs);
    free(route);
}

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The hop whose address or name uri (a SIP URI, possibly in <>) names; -1 for none. */
static int hop_named(const struct sw_hopset *set, const char *uri, size_t len)
{
    char copy[512], ip[64];
    osip_uri_t *u = NULL;
    const char *p = uri;
    int found = -1, port = 0, hport;
    size_t i;

    while (len > 0 && (*p == ' ' || *p == '<')) {
        p++;
        len--;
    }
    for (i = 0; i < len && p[i] != '>'; i++)
        ;
    len = i;
    if (len == 0 || len >= sizeof(copy))
        return -1;
    memcpy(copy, p, len);
    copy[len] = '\0';
    if (osip_uri_init(&u) != 0)
        return -1;
    if (osip_uri_parse(u, copy) == 0 && u->host != NULL) {
        port = u->port != NULL ? (int)strtol(u->port, NULL, 10) : 0;
        for (i = 0; i < set->n && found < 0; i++) {
            sw_addr_ip((const struct sockaddr *)&set->hops[i].addr, ip, sizeof(ip), &hport);
            if ((strcasecmp(u->host, ip) == 0 || strcasecmp(u->host, set->hops[i].host) == 0) &&
                (port == 0 || port == hport))
                found = (int)i;
        }
    }
    osip_uri_free(u);
    return found;
}

static int has_text(const char *p, size_t n, const char *word)
{
    size_t i, w = strlen(word);

    for (i = 0; i + w <= n; i++)
        if (strncasecmp(p + i, word, w) == 0)
            return 1;
    return 0;
}

/* Inside a dialog: the hop the Route set or the Request-URI names, or -1. */
static int dialog_hop(const struct sw_hopset *set, const struct sip_msg *m)
{
    const struct sip_hdr *h;
    char tag[128];
    size_t i, off, comma, n;
    int k;

    /* most requests carry no "tag" in To at all: only those pay for libosip2's parse */
    if ((h = sip_hdr_find(m, SH_TO, 0)) == NULL ||
        !has_text(m->buf + h->value_off, h->value_len, "tag") ||
        sip_hdr_tag(m, h, tag, sizeof(tag)) != 0 || tag[0] == '\0')
        return -1;
    /* our own Route entry names no hop of ours (stirwired -t refuses a self-loop) */
    for (i = 0; i < 4 && (h = sip_hdr_find(m, SH_ROUTE, i)) != NULL; i++) {
        for (off = 0; off < h->value_len; off += comma + 1) {
            const char *v = m->buf + h->value_off + off;
            n = sip_first_value(v, h->value_len - off, 1, &comma);
            if ((k = hop_named(set, v, n)) >= 0)
                return k;
            if (comma >= h->value_len - off)
                break;
        }
    }
    return hop_named(set, m->buf + m->ruri_off, m->ruri_len);
}

static uint64_t eff_weight(const struct sw_hop *h)
{
    /* RFC 2782: weight 0 is chosen only rarely when others have weight */
    return h->weight > 0 ? (uint64_t)h->weight * 100 : 1;
}

const struct sw_hop *sw_trunk_pick_hop(const struct sw_trunk *trunk, const struct sip_msg *m)
{
    const struct sw_hopset *set;
    const struct sip_hdr *cid;
    uint64_t total = 0, draw;
    size_t i, first = 0;
    int k, any_up = 0, prio;

    if (trunk->route == NULL ||
        (set = atomic_load_explicit(&trunk->route->live, memory_order_acquire)) == NULL ||
        set->n == 0)
        return &trunk->next_hop;
    if (set->n == 1)
        return &set->hops[0];
    if (m != NULL && (k = dialog_hop(set, m)) >= 0)
        return &set->hops[k];
    for (i = 0; i < set->n; i++) {
        if (!atomic_load_explicit(&set->down[i], memory_order_relaxed)) {
            first = i;
            any_up = 1;
            break;
        }
    }
    prio = set->hops[first].priority;
    for (i = first; i < set->n && set->hops[i].priority == prio; i++)
        if (!any_up || !atomic_load_explicit(&set->down[i], memory_order_relaxed))
            total += eff_weight(&set->hops[i]);
    cid = m != NULL ? sip_hdr_find(m, SH_CALL_ID, 0) : NULL;
    draw = cid != NULL ? fnv(m->buf + cid->value_off, cid->value_len) : 0;
    draw %= total;
    for (i = first; i < set->n && set->hops[i].priority == prio; i++) {
        uint64_t w;
        if (any_up && atomic_load_explicit(&set->down[i], memory_order_relaxed))
            continue;
        w = eff_weight(&set->hops[i]);
        if (draw < w)
            return &set->hops[i];
        draw -= w;
    }
    return &set->hops[first];
}
