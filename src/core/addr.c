/*
 * addr.c - socket addresses and CIDR blocks (see addr.h).
 *
 * Rule: nothing here may block or resolve a name; these functions run on every message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

void sw_addr_ip(const struct sockaddr *sa, char *ip, size_t size, int *port)
{
    ip[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)size);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        /* an IPv4-mapped peer on a dual-stack socket is shown as plain IPv4 */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, (socklen_t)size);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)size);
        *port = ntohs(in6->sin6_port);
    }
}

void sw_addr_str(const struct sockaddr *sa, char *out, size_t size)
{
    char ip[64];
    int port;

    sw_addr_ip(sa, ip, sizeof(ip), &port);
    if (ip[0] == '\0')
        snprintf(out, size, "?");
    else if (strchr(ip, ':') != NULL)
        snprintf(out, size, "[%s]:%d", ip, port);
    else
        snprintf(out, size, "%s:%d", ip, port);
}

int sw_addr_from_ip(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (port < 0 || port > 65535)
        return -1;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    /* "fe80::1%eth0": only getaddrinfo knows scope names; numeric only, so no DNS */
    if (strchr(host, ':') != NULL && strchr(host, '%') != NULL) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_INET6;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_flags = AI_NUMERICHOST;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
            return -1;
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -1;
}

int sw_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

int sw_addr_unicast(const struct sockaddr *sa)
{
    const unsigned char *b;

    if (sa->sa_family == AF_INET) {
        b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_MULTICAST(v6) || IN6_IS_ADDR_UNSPECIFIED(v6))
            return 0;
        if (!IN6_IS_ADDR_V4MAPPED(v6))
            return 1;
        b = v6->s6_addr + 12;
    } else {
        return 0;
    }
    return !((b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) || b[0] >= 224);
}

void sw_addr_set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

void sw_addr_normalise(struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        struct sockaddr_in in;
        memset(&in, 0, sizeof(in));
        in.sin_family = AF_INET;
        in.sin_port = in6->sin6_port;
        memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
        memcpy(ss, &in, sizeof(in));
        *len = sizeof(in);
    }
}

int sw_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return 0;
}

unsigned sw_addr_hash(const struct sockaddr *sa)
{
    const unsigned char *p;
    size_t n, i;
    unsigned h = 2166136261u;

    if (sa->sa_family == AF_INET) {
        p = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        n = 4;
        h = (h ^ ((const struct sockaddr_in *)sa)->sin_port) * 16777619u;
    } else if (sa->sa_family == AF_INET6) {
        p = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        n = 16;
        h = (h ^ ((const struct sockaddr_in6 *)sa)->sin6_port) * 16777619u;
    } else {
        return h;
    }
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* --- CIDR ----------------------------------------------------------------------------- */

/* Digits only, value in 0..max. */
static int prefix_len(const char *s, int max, int *out)
{
    long v = 0;
    size_t i, len = strlen(s);

    if (len == 0 || len > 3)
        return -1;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int sw_cidr_parse(const char *s, struct sw_cidr *c, char *why, size_t whylen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    int max, i;

    memset(c, 0, sizeof(*c));
    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(why, whylen, "not an address");
        return -1;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, c->addr) == 1) {
        c->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
        c->family = AF_INET6;
        max = 128;
    } else {
        snprintf(why, whylen, "\"%s\" is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    c->bits = max;
    if (slash != NULL && prefix_len(slash + 1, max, &c->bits) != 0) {
        snprintf(why, whylen, "prefix length must be 0..%d", max);
        return -1;
    }
    /*
     * Bits set past the prefix are refused rather than masked: "198.51.100.7/24" is more
     * often a typo for a host or for the network than a way of writing the network.
     */
    for (i = c->bits; i < max; i++) {
        if (c->addr[i / 8] & (0x80 >> (i % 8))) {
            struct sw_cidr net = *c;
            char txt[INET6_ADDRSTRLEN];
            int j;
            for (j = c->bits; j < max; j++)
                net.addr[j / 8] &= (uint8_t) ~(0x80 >> (j % 8));
            inet_ntop(c->family, net.addr, txt, sizeof(txt));
            snprintf(why, whylen, "host bits set past /%d (the network is %s/%d)", c->bits, txt,
                     c->bits);
            return -1;
        }
    }
    return 0;
}

static int block_has(const struct sw_cidr *c, int family, const uint8_t *addr)
{
    int full = c->bits / 8, rem = c->bits % 8;

    if (c->family != family)
        return 0;
    if (full > 0 && memcmp(c->addr, addr, (size_t)full) != 0)
        return 0;
    if (rem != 0) {
        uint8_t mask = (uint8_t)(0xff << (8 - rem));
        if ((addr[full] & mask) != c->addr[full])
            return 0;
    }
    return 1;
}

int sw_cidr_match(const struct sw_cidr *c, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return block_has(c, AF_INET, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a6 = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        /* a dual-stack socket shows an IPv4 peer as ::ffff:a.b.c.d; IPv4 blocks match it */
        if (IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr) &&
            block_has(c, AF_INET, a6 + 12))
            return 1;
        return block_has(c, AF_INET6, a6);
    }
    return 0;
}
