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

int sw_hop_parse(const char *uri, struct sw_hop *hop, char *why, size_t whylen)
{
    osip_uri_t *u = NULL;
    char *copy = NULL;
    int rc = -1;

    memset(hop, 0, sizeof(*hop));
    hop->port = 5060;
    hop->transport = SW_UDP;
    if ((hop->uri = strdup(uri)) == NULL || (copy = strdup(uri)) == NULL) {
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
    if (strlen(u->host) >= sizeof(hop->host)) {
        snprintf(why, whylen, "has no valid host");
        goto out;
    }
    snprintf(hop->host, sizeof(hop->host), "%s", u->host);
    if (u->port != NULL) {
        char *end;
        long p = strtol(u->port, &end, 10);
        if (*u->port == '\0' || *end != '\0' || p < 1 || p > 65535) {
            snprintf(why, whylen, "port must be 1..65535");
            goto out;
        }
        hop->port = (int)p;
    }
    if (hop_params(u, hop, why, whylen) != 0)
        goto out;

    /* libosip2 gives an IPv6 reference without its brackets */
    if (strchr(hop->host, ':') != NULL || strspn(hop->host, "0123456789.") == strlen(hop->host)) {
        if (sw_addr_from_ip(hop->host, hop->port, &hop->addr, &hop->addrlen) != 0) {
            snprintf(why, whylen, "\"%s\" is not a valid IP address", hop->host);
            goto out;
        }
    } else {
        struct addrinfo hints, *res = NULL;
        int e;
        if (!valid_name(hop->host)) {
            snprintf(why, whylen, "\"%s\" is not a valid host name", hop->host);
            goto out;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = hop->transport == SW_TCP ? SOCK_STREAM : SOCK_DGRAM;
        if ((e = getaddrinfo(hop->host, NULL, &hints, &res)) != 0 || res == NULL) {
            snprintf(why, whylen, "host \"%s\" does not resolve: %s", hop->host,
                     e != 0 ? gai_strerror(e) : "no address");
            goto out;
        }
        memcpy(&hop->addr, res->ai_addr, res->ai_addrlen);
        hop->addrlen = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
        if (hop->addr.ss_family == AF_INET)
            ((struct sockaddr_in *)&hop->addr)->sin_port = htons((uint16_t)hop->port);
        else
            ((struct sockaddr_in6 *)&hop->addr)->sin6_port = htons((uint16_t)hop->port);
    }
    if (hop->transport == SW_TCP)
        hop->tcp_capable = 1;
    rc = 0;
out:
    osip_uri_free(u);
    free(copy);
    return rc;
}

void sw_hop_clear(struct sw_hop *hop)
{
    free(hop->uri);
    hop->uri = NULL;
}

const struct sw_trunk *sw_trunk_match(const struct sw_trunk *trunks, size_t n,
                                      const struct sockaddr *src, const char *ruri_host)
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
    free(t->match_domain);
    sw_hop_clear(&t->next_hop);
    t->name = NULL;
    t->sources = NULL;
    t->match_domain = NULL;
}
