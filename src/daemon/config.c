/*
 * config.c - reads stirwired's libconfig file into a struct sw_config: listeners, workers,
 * logging, and the trunks with their resolved next hops and configured filter chains.
 *
 * The rule, after OpenBSD relayd: the whole file is checked before any of it is used, and
 * every problem is reported, not only the first, each as "FILE:LINE: message" so that
 * `stirwired -t` answers in one run. A key the loader does not know is an error that names
 * the known ones: a typo ("recod_route") must never silently leave a default in force.
 * Names in next_hop are resolved here, once, so that no worker ever waits on DNS, and each
 * filter in a chain reads its own settings through its configure() while the libconfig
 * tree is alive; the tree is destroyed before sw_config_load() returns, so a filter must
 * copy what it keeps. The result is immutable: workers read it without locks and a reload
 * builds a new one beside it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>

#include "config.h"

/*
 * Errors are kept as they are found and written out sorted by file (the main file first,
 * then included files in the order they first erred) and line, so that -t reads down the
 * file even though the checks visit it section by section.
 */
struct err {
    unsigned rank, line, seq;
    char *text; /* "FILE:LINE: message" */
};

struct errs {
    struct err *v;
    size_t n, cap;
    int lost; /* an error could not be stored (out of memory) */
    const char *path;
    char dir[512];         /* the main file's directory, "" for the working directory */
    const char *files[16]; /* included files seen, for rank (borrowed from libconfig) */
    size_t nfiles;
};

static unsigned file_rank(struct errs *e, const char *file)
{
    size_t i;

    if (strcmp(file, e->path) == 0)
        return 0;
    for (i = 0; i < e->nfiles; i++)
        if (strcmp(e->files[i], file) == 0)
            return (unsigned)i + 1;
    if (e->nfiles < sizeof(e->files) / sizeof(e->files[0]))
        e->files[e->nfiles++] = file;
    return (unsigned)e->nfiles;
}

static void put(struct errs *e, const char *file, unsigned line, const char *msg)
{
    struct err *one;
    char text[1400];
    const char *dir = "", *sep = "";

    /* libconfig names an included file as written; readers need it from where they are. */
    if (strcmp(file, e->path) != 0 && file[0] != '/' && e->dir[0] != '\0') {
        dir = e->dir;
        sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    }
    if (line > 0)
        snprintf(text, sizeof(text), "%s%s%s:%u: %s", dir, sep, file, line, msg);
    else
        snprintf(text, sizeof(text), "%s%s%s: %s", dir, sep, file, msg);
    if (e->n == e->cap) {
        size_t cap = e->cap > 0 ? e->cap * 2 : 16;
        struct err *v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            e->lost = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    one = &e->v[e->n];
    if ((one->text = strdup(text)) == NULL) {
        e->lost = 1;
        return;
    }
    one->rank = file_rank(e, file);
    one->line = line;
    one->seq = (unsigned)e->n;
    e->n++;
}

static int err_order(const void *pa, const void *pb)
{
    const struct err *a = pa, *b = pb;

    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Writes the errors, one a line, as many whole lines as fit (then "..."); frees them. */
static void flush_errs(struct errs *e, char *buf, size_t len)
{
    size_t used = 0, i;

    if (e->n > 1)
        qsort(e->v, e->n, sizeof(*e->v), err_order);
    if (buf != NULL && len > 0)
        buf[0] = '\0';
    for (i = 0; i < e->n + (size_t)e->lost; i++) {
        const char *text = i < e->n ? e->v[i].text : "out of memory while collecting errors";
        size_t tl = strlen(text);
        if (buf == NULL)
            break;
        if (used + tl + 2 > len) {
            if (used + 5 <= len)
                memcpy(buf + used, "...\n", 5);
            break;
        }
        memcpy(buf + used, text, tl);
        buf[used + tl] = '\n';
        used += tl + 1;
        buf[used] = '\0';
    }
    for (i = 0; i < e->n; i++)
        free(e->v[i].text);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

/* An error about setting where (NULL: about the file as a whole). */
static void errf(struct errs *e, const config_setting_t *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(struct errs *e, const config_setting_t *where, const char *fmt, ...)
{
    char msg[1024];
    const char *file = e->path;
    unsigned line = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (where != NULL) {
        line = config_setting_source_line(where);
        /* A setting from an @include'd file carries that file's name. */
        if (config_setting_source_file(where) != NULL)
            file = config_setting_source_file(where);
    }
    put(e, file, line, msg);
}

/* ---- the known keys ---------------------------------------------------------------- */

static const char *const top_keys[] = {"listen", "workers",    "pid_file", "user",
                                       "log",    "udp_rcvbuf", "trunks",   NULL};
static const char *const listen_keys[] = {"address", "port", "transport", "advertise", NULL};
static const char *const log_keys[] = {"syslog", "level", NULL};
static const char *const trunk_keys[] = {"name",         "match",        "next_hop", "next_hop_tcp",
                                         "record_route", "udp_fragment", "filters",  NULL};
static const char *const match_keys[] = {"source", "port", "domain", NULL};

static int in_list(const char *const *list, const char *s)
{
    size_t i;

    for (i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/*
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment),
 * for "did you mean": "recrod_route" is one edit from "record_route". Keys are short.
 */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    unsigned char d[33][33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

/* "a, b, c" from two NULL-terminated lists (the second may be NULL). */
static void join(char *out, size_t len, const char *const *a, const char *const *b)
{
    const char *const *lists[2] = {a, b};
    size_t used = 0, i, k;

    out[0] = '\0';
    for (k = 0; k < 2; k++) {
        for (i = 0; lists[k] != NULL && lists[k][i] != NULL; i++) {
            int w = snprintf(out + used, len - used, "%s%s", used > 0 ? ", " : "", lists[k][i]);
            if (w < 0 || (size_t)w >= len - used)
                return;
            used += (size_t)w;
        }
    }
}

/*
 * Every member of group must be in known (or in also, the filter names inside a trunk).
 * what names the group in the message ("top level", "trunk \"pbx\"").
 */
static void check_keys(struct errs *e, const config_setting_t *group, const char *const *known,
                       const char *const *also, const char *what)
{
    const config_setting_t *s;
    unsigned i;

    for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
        const char *name = config_setting_name(s);
        const char *best = NULL;
        /* Short names allow one edit, longer ones two: "foo" is not a typo of "log". */
        size_t bestd = strlen(name) <= 4 ? 2 : 3, k;
        char names[512], hint[128] = "";

        if (name == NULL || in_list(known, name) || in_list(also, name))
            continue;
        for (k = 0; known[k] != NULL; k++) {
            size_t d = distance(name, known[k]);
            if (d < bestd) {
                bestd = d;
                best = known[k];
            }
        }
        if (best != NULL)
            snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", best);
        join(names, sizeof(names), known, also);
        errf(e, s, "unknown setting \"%s\" in %s%s; known: %s", name, what, hint, names);
    }
}

/* ---- typed getters: each returns 1 when set and valid, 0 when absent, -1 on error ---- */

static int get_string(struct errs *e, const config_setting_t *group, const char *key,
                      const char *what, const char **out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        errf(e, s, "%s%s%s must be a string", what, *what ? ": " : "", key);
        return -1;
    }
    *out = config_setting_get_string(s);
    if (**out == '\0') {
        errf(e, s, "%s%s%s must not be empty", what, *what ? ": " : "", key);
        return -1;
    }
    return 1;
}

static int get_int(struct errs *e, const config_setting_t *group, const char *key, const char *what,
                   long long min, long long max, int *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    long long v;

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
        errf(e, s, "%s%s%s must be an integer", what, *what ? ": " : "", key);
        return -1;
    }
    v = config_setting_get_int64(s);
    if (v < min || v > max) {
        errf(e, s, "%s%s%s = %lld is out of range (%lld..%lld)", what, *what ? ": " : "", key, v,
             min, max);
        return -1;
    }
    *out = (int)v;
    return 1;
}

static int get_bool(struct errs *e, const config_setting_t *group, const char *key,
                    const char *what, int *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        errf(e, s, "%s%s%s must be true or false", what, *what ? ": " : "", key);
        return -1;
    }
    *out = config_setting_get_bool(s) ? 1 : 0;
    return 1;
}

/*
 * A setting that holds strings: one string, or an array or list of them. Returns the
 * count (0 for none), or -1 after reporting an element that is not a string.
 */
static int string_list(struct errs *e, const config_setting_t *s, const char *what)
{
    int n, i;

    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return 1;
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        errf(e, s, "%s must be a string or a list of strings", what);
        return -1;
    }
    n = config_setting_length(s);
    for (i = 0; i < n; i++) {
        const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(el) != CONFIG_TYPE_STRING) {
            errf(e, el, "%s must hold strings only", what);
            return -1;
        }
    }
    return n;
}

static const char *string_at(const config_setting_t *s, int i)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return config_setting_get_string(s);
    return config_setting_get_string_elem(s, i);
}

/* ---- addresses ---------------------------------------------------------------------- */

/*
 * An IP literal (IPv6 may carry a %scope) into sa with port. inet_pton for IPv4, because
 * getaddrinfo would also take "10.1" or "0x7f.1"; getaddrinfo for IPv6 for the scope id.
 */
static int ip_literal(const char *s, int port, struct sockaddr_storage *sa, socklen_t *salen)
{
    memset(sa, 0, sizeof(*sa));
    if (strchr(s, ':') == NULL) {
        struct sockaddr_in *sin = (struct sockaddr_in *)sa;
        if (inet_pton(AF_INET, s, &sin->sin_addr) != 1)
            return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *salen = sizeof(*sin);
        return 0;
    } else {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_INET6;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_flags = AI_NUMERICHOST;
        if (getaddrinfo(s, NULL, &hints, &res) != 0 || res == NULL)
            return -1;
        memcpy(sa, res->ai_addr, res->ai_addrlen);
        *salen = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
        return 0;
    }
}

/* Digits only, value in min..max; for ports and prefix lengths. */
static int parse_uint(const char *s, size_t len, long min, long max, int *out)
{
    long v = 0;
    size_t i;

    if (len == 0 || len > 6)
        return -1;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a host: /32 or /128). */
static int parse_cidr(const char *s, struct sw_cidr *c, char *why, size_t whylen)
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
    if (slash != NULL && parse_uint(slash + 1, strlen(slash + 1), 0, max, &c->bits) != 0) {
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

static int cidr_contains(const struct sw_cidr *c, int family, const uint8_t *addr)
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

/* host[:port] or [v6]:port, as put in Via and Record-Route; not resolved. */
static int valid_hostport(const char *s)
{
    const char *p = s, *end;
    int port;

    if (*p == '[') {
        char v6[INET6_ADDRSTRLEN];
        struct in6_addr a;
        end = strchr(p, ']');
        if (end == NULL || (size_t)(end - p - 1) >= sizeof(v6))
            return 0;
        memcpy(v6, p + 1, (size_t)(end - p - 1));
        v6[end - p - 1] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1)
            return 0;
        p = end + 1;
    } else {
        end = p + strcspn(p, ":");
        if (end == p)
            return 0;
        for (; p < end; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
                return 0;
    }
    if (*p == '\0')
        return 1;
    if (*p != ':')
        return 0;
    return parse_uint(p + 1, strlen(p + 1), 1, 65535, &port) == 0;
}

/* ---- next hop ----------------------------------------------------------------------- */

/*
 * "sip:host[:port][;transport=udp|tcp][;lr]". The host is an IP literal or a name that
 * must resolve now; the first address getaddrinfo gives (RFC 6724 order) is used.
 */
static int parse_hop(struct errs *e, const config_setting_t *s, const char *trunk,
                     struct sw_hop *hop)
{
    const char *uri = config_setting_get_string(s), *p, *end;
    size_t hlen;
    int bracket = 0;

    hop->port = 5060;
    hop->transport = SW_UDP;
    if ((hop->uri = strdup(uri)) == NULL) {
        errf(e, s, "out of memory");
        return -1;
    }
    if (strncasecmp(uri, "sips:", 5) == 0) {
        errf(e, s, "trunk \"%s\": next_hop \"%s\": sips (TLS) is not supported", trunk, uri);
        return -1;
    }
    if (strncasecmp(uri, "sip:", 4) != 0) {
        errf(e, s,
             "trunk \"%s\": next_hop \"%s\" must be a sip: URI "
             "(sip:host[:port][;transport=udp|tcp])",
             trunk, uri);
        return -1;
    }
    p = uri + 4;
    if (memchr(p, '@', strcspn(p, ";?")) != NULL) {
        errf(e, s, "trunk \"%s\": next_hop \"%s\" must not have a user part", trunk, uri);
        return -1;
    }
    if (*p == '[') {
        bracket = 1;
        end = strchr(p, ']');
        if (end == NULL) {
            errf(e, s, "trunk \"%s\": next_hop \"%s\": missing \"]\"", trunk, uri);
            return -1;
        }
        p++;
        hlen = (size_t)(end - p);
        end++;
    } else {
        hlen = strcspn(p, ":;?");
        end = p + hlen;
    }
    if (hlen == 0 || hlen >= sizeof(hop->host)) {
        errf(e, s, "trunk \"%s\": next_hop \"%s\" has no valid host", trunk, uri);
        return -1;
    }
    memcpy(hop->host, p, hlen);
    hop->host[hlen] = '\0';
    if (*end == ':') {
        size_t plen = strcspn(end + 1, ";?");
        if (parse_uint(end + 1, plen, 1, 65535, &hop->port) != 0) {
            errf(e, s, "trunk \"%s\": next_hop \"%s\": port must be 1..65535", trunk, uri);
            return -1;
        }
        end += 1 + plen;
    }
    if (*end == '?') {
        errf(e, s, "trunk \"%s\": next_hop \"%s\" must not carry headers", trunk, uri);
        return -1;
    }
    while (*end == ';') {
        const char *param = end + 1;
        size_t len = strcspn(param, ";?");
        if (len == 13 && strncasecmp(param, "transport=udp", 13) == 0) {
            hop->transport = SW_UDP;
        } else if (len == 13 && strncasecmp(param, "transport=tcp", 13) == 0) {
            hop->transport = SW_TCP;
        } else if (len == 2 && strncasecmp(param, "lr", 2) == 0) {
            /* loose routing is all we do; accepted for URIs copied from a Route */
        } else if (len > 10 && strncasecmp(param, "transport=", 10) == 0) {
            errf(e, s, "trunk \"%s\": next_hop \"%s\": transport must be udp or tcp", trunk, uri);
            return -1;
        } else {
            errf(e, s,
                 "trunk \"%s\": next_hop \"%s\": unknown parameter \"%.*s\" (known: transport, lr)",
                 trunk, uri, (int)len, param);
            return -1;
        }
        end = param + len;
    }
    if (*end != '\0') {
        errf(e, s, "trunk \"%s\": next_hop \"%s\": unexpected \"%s\"", trunk, uri, end);
        return -1;
    }

    if (bracket || strspn(hop->host, "0123456789.") == hlen) {
        if (ip_literal(hop->host, hop->port, &hop->addr, &hop->addrlen) != 0 ||
            (bracket && hop->addr.ss_family != AF_INET6)) {
            errf(e, s, "trunk \"%s\": next_hop \"%s\": \"%s\" is not a valid IP address", trunk,
                 uri, hop->host);
            return -1;
        }
    } else {
        struct addrinfo hints, *res = NULL;
        int rc;
        const char *c;
        for (c = hop->host; *c != '\0'; c++) {
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-') {
                errf(e, s, "trunk \"%s\": next_hop \"%s\": \"%s\" is not a valid host name", trunk,
                     uri, hop->host);
                return -1;
            }
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = hop->transport == SW_TCP ? SOCK_STREAM : SOCK_DGRAM;
        if ((rc = getaddrinfo(hop->host, NULL, &hints, &res)) != 0 || res == NULL) {
            errf(e, s, "trunk \"%s\": next_hop host \"%s\" does not resolve: %s", trunk, hop->host,
                 rc != 0 ? gai_strerror(rc) : "no address");
            return -1;
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
    return 0;
}

/* ---- sections ----------------------------------------------------------------------- */

static void parse_transports(struct errs *e, const config_setting_t *s, int *out)
{
    int n = string_list(e, s, "listen: transport"), i;

    if (n < 0)
        return;
    if (n == 0) {
        errf(e, s, "listen: transport must name at least one of udp, tcp");
        return;
    }
    *out = 0;
    for (i = 0; i < n; i++) {
        const char *t = string_at(s, i);
        if (strcasecmp(t, "udp") == 0)
            *out |= SW_UDP;
        else if (strcasecmp(t, "tcp") == 0)
            *out |= SW_TCP;
        else
            errf(e, s, "listen: unknown transport \"%s\" (known: udp, tcp)", t);
    }
}

static void parse_listen(struct errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *ls = config_setting_get_member(root, "listen"), *one;
    int n, i;

    if (ls == NULL) {
        errf(e, NULL, "no listen setting: at least one listener is needed");
        return;
    }
    if (config_setting_type(ls) == CONFIG_TYPE_GROUP) {
        n = 1;
    } else if (config_setting_type(ls) == CONFIG_TYPE_LIST) {
        n = config_setting_length(ls);
    } else {
        errf(e, ls, "listen must be a list of groups: ( { address = ...; port = ...; } )");
        return;
    }
    if (n == 0)
        errf(e, ls, "listen is empty: at least one listener is needed");
    if (n > SW_MAX_LISTEN) {
        errf(e, ls, "listen has %d entries; at most %d are supported", n, SW_MAX_LISTEN);
        n = SW_MAX_LISTEN;
    }
    for (i = 0; i < n; i++) {
        struct sw_listen *l = &cfg->listen[cfg->nlisten];
        const char *addr = NULL, *adv = NULL;
        const config_setting_t *t;
        int port = 5060, ok = 1;
        size_t k;

        one = config_setting_type(ls) == CONFIG_TYPE_GROUP
                  ? ls
                  : config_setting_get_elem(ls, (unsigned)i);
        if (config_setting_type(one) != CONFIG_TYPE_GROUP) {
            errf(e, one, "listen entries must be groups: { address = ...; port = ...; }");
            continue;
        }
        check_keys(e, one, listen_keys, NULL, "listen");
        if (get_string(e, one, "address", "listen", &addr) == 0) {
            errf(e, one, "listen: address is missing");
            ok = 0;
        } else if (addr == NULL) {
            ok = 0;
        }
        if (get_int(e, one, "port", "listen", 1, 65535, &port) < 0)
            ok = 0;
        l->transports = SW_UDP | SW_TCP;
        if ((t = config_setting_get_member(one, "transport")) != NULL)
            parse_transports(e, t, &l->transports);
        if (get_string(e, one, "advertise", "listen", &adv) > 0) {
            if (strlen(adv) >= sizeof(l->advertise) || !valid_hostport(adv)) {
                errf(e, config_setting_get_member(one, "advertise"),
                     "listen: advertise \"%s\" must be host or host:port", adv);
                ok = 0;
            } else {
                memcpy(l->advertise, adv, strlen(adv) + 1);
            }
        }
        if (addr != NULL && ip_literal(addr, port, &l->addr, &l->addrlen) != 0) {
            errf(e, config_setting_get_member(one, "address"),
                 "listen: address \"%s\" is not an IPv4 or IPv6 address", addr);
            ok = 0;
        }
        if (!ok)
            continue;
        /* Two listeners on one address, port and transport could never both bind. */
        for (k = 0; k < cfg->nlisten; k++) {
            if (cfg->listen[k].addrlen == l->addrlen &&
                memcmp(&cfg->listen[k].addr, &l->addr, l->addrlen) == 0 &&
                (cfg->listen[k].transports & l->transports) != 0) {
                errf(e, one, "listen: %s port %d is listed twice for the same transport", addr,
                     port);
                ok = 0;
                break;
            }
        }
        if (ok)
            cfg->nlisten++;
        else
            memset(l, 0, sizeof(*l));
    }
}

static void parse_log(struct errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
                  {"info", LOG_INFO}, {"debug", LOG_DEBUG},     {NULL, 0}};
    const config_setting_t *log = config_setting_get_member(root, "log");
    const char *level = NULL;
    size_t i;

    cfg->log_syslog = 0;
    cfg->log_level = LOG_INFO;
    if (log == NULL)
        return;
    if (config_setting_type(log) != CONFIG_TYPE_GROUP) {
        errf(e, log, "log must be a group: { syslog = false; level = \"info\"; }");
        return;
    }
    check_keys(e, log, log_keys, NULL, "log");
    get_bool(e, log, "syslog", "log", &cfg->log_syslog);
    if (get_string(e, log, "level", "log", &level) > 0) {
        for (i = 0; levels[i].name != NULL; i++) {
            if (strcasecmp(levels[i].name, level) == 0) {
                cfg->log_level = levels[i].level;
                break;
            }
        }
        if (levels[i].name == NULL)
            errf(e, config_setting_get_member(log, "level"),
                 "log: unknown level \"%s\" (known: error, warning, notice, info, debug)", level);
    }
}

static void parse_match(struct errs *e, const config_setting_t *ts, struct sw_trunk *t)
{
    const config_setting_t *m = config_setting_get_member(ts, "match"), *src;
    const char *domain = NULL;
    char what[300];
    int n, i;

    snprintf(what, sizeof(what), "trunk \"%s\": match", t->name);
    if (m == NULL) {
        errf(e, ts, "trunk \"%s\": match is missing (match = { source = [ \"CIDR\" ]; })", t->name);
        return;
    }
    if (config_setting_type(m) != CONFIG_TYPE_GROUP) {
        errf(e, m, "%s must be a group: { source = [ \"CIDR\" ]; }", what);
        return;
    }
    check_keys(e, m, match_keys, NULL, what);
    get_int(e, m, "port", what, 0, 65535, &t->match_port);
    if (get_string(e, m, "domain", what, &domain) > 0 && (t->match_domain = strdup(domain)) == NULL)
        errf(e, m, "out of memory");
    if ((src = config_setting_get_member(m, "source")) == NULL) {
        errf(e, m, "%s: source is missing (use \"0.0.0.0/0\" and \"::/0\" to match any)", what);
        return;
    }
    snprintf(what, sizeof(what), "trunk \"%s\": match: source", t->name);
    if ((n = string_list(e, src, what)) < 0)
        return;
    if (n == 0) {
        errf(e, src, "%s is empty", what);
        return;
    }
    if ((t->sources = calloc((size_t)n, sizeof(*t->sources))) == NULL) {
        errf(e, src, "out of memory");
        return;
    }
    for (i = 0; i < n; i++) {
        const char *c = string_at(src, i);
        const config_setting_t *el = config_setting_type(src) == CONFIG_TYPE_STRING
                                         ? src
                                         : config_setting_get_elem(src, (unsigned)i);
        char why[160];
        if (parse_cidr(c, &t->sources[t->nsources], why, sizeof(why)) != 0)
            errf(e, el, "%s \"%s\" is not a CIDR: %s", what, c, why);
        else
            t->nsources++;
    }
}

static void parse_chain(struct errs *e, const config_setting_t *ts, struct sw_trunk *t)
{
    const config_setting_t *fs = config_setting_get_member(ts, "filters");
    char what[300], names[512];
    int n, i;

    if (fs == NULL)
        return; /* plain forwarding */
    snprintf(what, sizeof(what), "trunk \"%s\": filters", t->name);
    if ((n = string_list(e, fs, what)) <= 0)
        return;
    if (n > SW_MAX_CHAIN) {
        errf(e, fs, "%s lists %d filters; at most %d are supported", what, n, SW_MAX_CHAIN);
        return;
    }
    for (i = 0; i < n; i++) {
        const char *name = string_at(fs, i);
        const struct swf_filter *f = swf_lookup(name);
        char err[512];
        void *state = NULL;
        size_t k;
        int dup = 0;

        if (f == NULL) {
            join(names, sizeof(names), swf_names(), NULL);
            errf(e, fs, "%s: unknown filter \"%s\" (known: %s)", what, name, names);
            continue;
        }
        for (k = 0; k < t->nchain; k++)
            dup |= t->chain[k].filter == f;
        if (dup) {
            errf(e, fs, "%s: \"%s\" is listed twice", what, name);
            continue;
        }
        err[0] = '\0';
        if (f->configure != NULL && f->configure(ts, &state, err, sizeof(err)) != 0) {
            /* On failure the filter owns whatever it made; state is not kept. */
            errf(e, ts, "trunk \"%s\": filter \"%s\": %s", t->name, name,
                 err[0] != '\0' ? err : "invalid settings");
            continue;
        }
        t->chain[t->nchain].filter = f;
        t->chain[t->nchain].state = state;
        t->nchain++;
    }
}

static void parse_trunk(struct errs *e, const config_setting_t *ts, struct sw_trunk *t,
                        const struct sw_trunk *earlier, size_t nearlier)
{
    const config_setting_t *hop;
    const char *name = NULL;
    char what[300];
    size_t k;
    int tcp = 0;

    if (get_string(e, ts, "name", "trunk", &name) == 0)
        errf(e, ts, "trunk: name is missing");
    if (name != NULL) {
        for (k = 0; k < nearlier; k++) {
            if (earlier[k].name != NULL && strcmp(earlier[k].name, name) == 0) {
                errf(e, config_setting_get_member(ts, "name"),
                     "trunk name \"%s\" is used twice (trunk names must be unique)", name);
                break;
            }
        }
        t->name = strdup(name);
    } else {
        t->name = strdup("");
    }
    if (t->name == NULL) {
        errf(e, ts, "out of memory");
        return;
    }
    snprintf(what, sizeof(what), "trunk \"%s\"", t->name);
    check_keys(e, ts, trunk_keys, swf_names(), what);
    parse_match(e, ts, t);

    if ((hop = config_setting_get_member(ts, "next_hop")) == NULL)
        errf(e, ts, "trunk \"%s\": next_hop is missing", t->name);
    else if (config_setting_type(hop) != CONFIG_TYPE_STRING)
        errf(e, hop, "trunk \"%s\": next_hop must be a string (a sip: URI)", t->name);
    else
        parse_hop(e, hop, t->name, &t->next_hop);
    if (get_bool(e, ts, "next_hop_tcp", what, &tcp) > 0 && tcp)
        t->next_hop.tcp_capable = 1;
    get_bool(e, ts, "record_route", what, &t->record_route);
    get_bool(e, ts, "udp_fragment", what, &t->udp_fragment);
    parse_chain(e, ts, t);
}

static void parse_trunks(struct errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *ts = config_setting_get_member(root, "trunks");
    int n, i;

    if (ts == NULL)
        return;
    if (config_setting_type(ts) != CONFIG_TYPE_LIST) {
        errf(e, ts, "trunks must be a list of groups: ( { name = ...; ... }, ... )");
        return;
    }
    if ((n = config_setting_length(ts)) == 0)
        return;
    if ((cfg->trunks = calloc((size_t)n, sizeof(*cfg->trunks))) == NULL) {
        errf(e, ts, "out of memory");
        return;
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *one = config_setting_get_elem(ts, (unsigned)i);
        if (config_setting_type(one) != CONFIG_TYPE_GROUP) {
            errf(e, one, "trunks: each trunk must be a group: { name = ...; ... }");
            continue;
        }
        parse_trunk(e, one, &cfg->trunks[cfg->ntrunks], cfg->trunks, cfg->ntrunks);
        cfg->ntrunks++;
    }
}

static void parse_top(struct errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const char *s = NULL;

    check_keys(e, root, top_keys, NULL, "the top level");
    parse_listen(e, root, cfg);
    get_int(e, root, "workers", "", 0, 256, &cfg->workers);
    if (get_string(e, root, "pid_file", "", &s) > 0) {
        if (s[0] != '/')
            errf(e, config_setting_get_member(root, "pid_file"),
                 "pid_file \"%s\" must be an absolute path", s);
        else if ((cfg->pid_file = strdup(s)) == NULL)
            errf(e, root, "out of memory");
    }
    s = NULL;
    if (get_string(e, root, "user", "", &s) > 0) {
        /* Checked now so that -t catches it, not the first start after a reboot. */
        if (getpwnam(s) == NULL)
            errf(e, config_setting_get_member(root, "user"), "user \"%s\" does not exist", s);
        else if ((cfg->user = strdup(s)) == NULL)
            errf(e, root, "out of memory");
    }
    parse_log(e, root, cfg);
    get_int(e, root, "udp_rcvbuf", "", 0, INT_MAX, &cfg->udp_rcvbuf);
    parse_trunks(e, root, cfg);
}

/* ---- the API ------------------------------------------------------------------------ */

int sw_config_load(const char *path, struct sw_config **out, char *errs, size_t errlen)
{
    struct errs e;
    struct sw_config *cfg = NULL;
    struct stat st;
    config_t lc;
    const char *slash;
    FILE *fp;

    memset(&e, 0, sizeof(e));
    e.path = path != NULL ? path : "(none)";
    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL) {
        errf(&e, NULL, "no configuration file given");
        goto fail;
    }
    /* Opened here rather than by libconfig, whose I/O errors do not say what went wrong. */
    if ((fp = fopen(path, "r")) == NULL) {
        errf(&e, NULL, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        errf(&e, NULL, "is a directory");
        fclose(fp);
        goto fail;
    }
    if ((cfg = calloc(1, sizeof(*cfg))) == NULL || (cfg->path = strdup(path)) == NULL) {
        errf(&e, NULL, "out of memory");
        fclose(fp);
        goto fail;
    }

    config_init(&lc);
    /* @include "trunks.conf" is relative to the main file, not to our working directory. */
    if ((slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) + 2 <= sizeof(e.dir)) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(e.dir, path, n);
        e.dir[n] = '\0';
        config_set_include_dir(&lc, e.dir);
    }
    if (config_read(&lc, fp) != CONFIG_TRUE) {
        const char *file = config_error_file(&lc) != NULL ? config_error_file(&lc) : path;
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            errf(&e, NULL, "cannot read: %s", config_error_text(&lc));
        else
            put(&e, file, (unsigned)config_error_line(&lc), config_error_text(&lc));
    } else {
        parse_top(&e, config_root_setting(&lc), cfg);
    }
    fclose(fp);
    config_destroy(&lc);
    if (e.n == 0 && !e.lost) {
        *out = cfg;
        flush_errs(&e, errs, errlen);
        return 0;
    }
fail:
    sw_config_free(cfg);
    flush_errs(&e, errs, errlen);
    return -1;
}

void sw_config_free(struct sw_config *cfg)
{
    size_t i, k;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->ntrunks; i++) {
        struct sw_trunk *t = &cfg->trunks[i];
        for (k = 0; k < t->nchain; k++)
            if (t->chain[k].filter->free != NULL && t->chain[k].state != NULL)
                t->chain[k].filter->free(t->chain[k].state);
        free(t->name);
        free(t->sources);
        free(t->match_domain);
        free(t->next_hop.uri);
    }
    free(cfg->trunks);
    free(cfg->path);
    free(cfg->pid_file);
    free(cfg->user);
    free(cfg);
}

const struct sw_trunk *sw_config_match(const struct sw_config *cfg, const struct sockaddr *src,
                                       const char *ruri_host)
{
    const uint8_t *a4 = NULL, *a6 = NULL;
    int port;
    size_t i, k;

    if (cfg == NULL || src == NULL)
        return NULL;
    if (src->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)src;
        a4 = (const uint8_t *)&sin->sin_addr;
        port = ntohs(sin->sin_port);
    } else if (src->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;
        a6 = (const uint8_t *)&sin6->sin6_addr;
        /* A dual-stack socket shows an IPv4 peer as ::ffff:a.b.c.d; IPv4 CIDRs match it. */
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            a4 = a6 + 12;
        port = ntohs(sin6->sin6_port);
    } else {
        return NULL;
    }
    for (i = 0; i < cfg->ntrunks; i++) {
        const struct sw_trunk *t = &cfg->trunks[i];
        int hit = 0;
        if (t->match_port != 0 && t->match_port != port)
            continue;
        if (t->match_domain != NULL &&
            (ruri_host == NULL || strcasecmp(t->match_domain, ruri_host) != 0))
            continue;
        for (k = 0; k < t->nsources && !hit; k++)
            hit = (a4 != NULL && cidr_contains(&t->sources[k], AF_INET, a4)) ||
                  (a6 != NULL && cidr_contains(&t->sources[k], AF_INET6, a6));
        if (hit)
            return t;
    }
    return NULL;
}
