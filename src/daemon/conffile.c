/*
 * conffile.c - reads stirwired's libconfig file into a struct sw_config: listeners, workers,
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
 *
 * The filters' groups are checked here too: a group named after a filter must belong to
 * a filter listed in that trunk's chain (a `sign = { }` group on a trunk that forgot
 * "sign" in its filters would otherwise be read, found fine, and never used, and its
 * calls would leave unsigned), and the filter must take settings at all.
 */
#define _GNU_SOURCE /* O_PATH (http.pub_dir) */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../core/cfgread.h"
#include "../core/filter.h"
#include "../http/server.h"
#include "conffile.h"

/* ---- the known keys ---------------------------------------------------------------- */

static const char *const top_keys[] = {"listen",     "workers", "pid_file",   "user", "log",
                                       "udp_rcvbuf", "trunks",  "max_parked", "tcp",  "dns",
                                       "verifier",   "http",    "tap",        NULL};
static const char *const listen_keys[] = {"address", "port", "transport", "advertise", NULL};
static const char *const log_keys[] = {"syslog", "level", NULL};
static const char *const trunk_keys[] = {
    "name",         "match",   "next_hop",     "next_hop_tcp",    "record_route",
    "udp_fragment", "filters", "health_check", "allow_self_loop", NULL};
static const char *const hop_keys[] = {"uri", "priority", "weight", NULL};
static const char *const health_keys[] = {"interval", "down_after", "up_after", NULL};
static const char *const dns_keys[] = {"servers", "min_ttl", "max_ttl", NULL};
static const char *const match_keys[] = {"source", "port", "domain", "destination", NULL};
static const char *const tap_keys[] = {"sources", NULL};
static const char *const tap_source_keys[] = {
    "pcap", "interface", "hep", "filter", "snaplen", "buffer", "promisc", "auth_key", NULL};

/*
 * Set while a file whose tap group has sources and which has no listen setting is read:
 * such a daemon only captures, and its trunks need no next_hop. The loader runs on the
 * main thread only.
 */
static int loading_tap_only;
static const char *const verifier_keys[] = {"ca_file",
                                            "ca_dir",
                                            "crl_files",
                                            "crl_fetch",
                                            "crl_unreachable",
                                            "allow_http",
                                            "allow_private",
                                            "allow_any_port",
                                            "allow_query",
                                            "allow_networks",
                                            "connect_timeout_ms",
                                            "timeout_ms",
                                            "max_bytes",
                                            "cache_entries",
                                            "min_ttl",
                                            "negative_ttl",
                                            "cache_dir",
                                            "tls_ca_file",
                                            NULL};
static const char *const http_keys[] = {"listen",   "tls_cert",        "tls_key",    "threads",
                                        "max_body", "max_connections", "max_per_ip", "timeout",
                                        "tokens",   "pub_dir",         "sign",       "check",
                                        NULL};
static const char *const http_token_keys[] = {"sign", "check", "ops", NULL};
static const char *const http_sign_keys[] = {"key", "x5u", NULL};
static const char *const http_check_keys[] = {"key", "max_age", "future_skew", NULL};
static const char *const tcp_keys[] = {"max_connections", "max_per_source", "partial_timeout",
                                       "trunk_sources_only", NULL};

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
    /* the port: digits only (strtol alone would take " 5060" and "+5060"), 1..65535 */
    if (strlen(p + 1) > 5 || strspn(p + 1, "0123456789") != strlen(p + 1) || p[1] == '\0')
        return 0;
    port = (int)strtol(p + 1, NULL, 10);
    return port >= 1 && port <= 65535;
}

/* ---- sections ----------------------------------------------------------------------- */

static void parse_transports(struct sw_cfg_errs *e, const config_setting_t *s, int *out)
{
    int n = sw_cfg_strings(e, s, "listen: transport"), i;

    if (n < 0)
        return;
    if (n == 0) {
        sw_cfg_error(e, s, "listen: transport must name at least one of udp, tcp");
        return;
    }
    *out = 0;
    for (i = 0; i < n; i++) {
        const char *t = sw_cfg_string_at(s, i);
        if (strcasecmp(t, "udp") == 0)
            *out |= SW_UDP;
        else if (strcasecmp(t, "tcp") == 0)
            *out |= SW_TCP;
        else
            sw_cfg_error(e, s, "listen: unknown transport \"%s\" (known: udp, tcp)", t);
    }
}

static void parse_listen(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *ls = config_setting_get_member(root, "listen"), *one;
    int n, i;

    if (ls == NULL) {
        sw_cfg_error(e, NULL, "no listen setting: at least one listener is needed");
        return;
    }
    if (config_setting_type(ls) == CONFIG_TYPE_GROUP) {
        n = 1;
    } else if (config_setting_type(ls) == CONFIG_TYPE_LIST) {
        n = config_setting_length(ls);
    } else {
        sw_cfg_error(e, ls, "listen must be a list of groups: ( { address = ...; port = ...; } )");
        return;
    }
    if (n == 0)
        sw_cfg_error(e, ls, "listen is empty: at least one listener is needed");
    if (n > SW_MAX_LISTEN) {
        sw_cfg_error(e, ls, "listen has %d entries; at most %d are supported", n, SW_MAX_LISTEN);
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
            sw_cfg_error(e, one, "listen entries must be groups: { address = ...; port = ...; }");
            continue;
        }
        sw_cfg_check_keys(e, one, listen_keys, NULL, "listen");
        if (sw_cfg_string(e, one, "address", "listen", &addr) == 0) {
            sw_cfg_error(e, one, "listen: address is missing");
            ok = 0;
        } else if (addr == NULL) {
            ok = 0;
        }
        if (sw_cfg_int(e, one, "port", "listen", 1, 65535, &port) < 0)
            ok = 0;
        l->transports = SW_UDP | SW_TCP;
        if ((t = config_setting_get_member(one, "transport")) != NULL)
            parse_transports(e, t, &l->transports);
        if (sw_cfg_string(e, one, "advertise", "listen", &adv) > 0) {
            if (strlen(adv) >= sizeof(l->advertise) || !valid_hostport(adv)) {
                sw_cfg_error(e, config_setting_get_member(one, "advertise"),
                             "listen: advertise \"%s\" must be host or host:port", adv);
                ok = 0;
            } else {
                memcpy(l->advertise, adv, strlen(adv) + 1);
            }
        }
        if (addr != NULL && sw_addr_from_ip(addr, port, &l->addr, &l->addrlen) != 0) {
            sw_cfg_error(e, config_setting_get_member(one, "address"),
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
                sw_cfg_error(e, one, "listen: %s port %d is listed twice for the same transport",
                             addr, port);
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

static void parse_log(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
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
        sw_cfg_error(e, log, "log must be a group: { syslog = false; level = \"info\"; }");
        return;
    }
    sw_cfg_check_keys(e, log, log_keys, NULL, "log");
    sw_cfg_bool(e, log, "syslog", "log", &cfg->log_syslog);
    if (sw_cfg_string(e, log, "level", "log", &level) > 0) {
        for (i = 0; levels[i].name != NULL; i++) {
            if (strcasecmp(levels[i].name, level) == 0) {
                cfg->log_level = levels[i].level;
                break;
            }
        }
        if (levels[i].name == NULL)
            sw_cfg_error(e, config_setting_get_member(log, "level"),
                         "log: unknown level \"%s\" (known: error, warning, notice, info, debug)",
                         level);
    }
}

/*
 * The tcp group: what one peer, and all of them, may hold of the daemon over TCP. Read at
 * every load; the descriptor limit that max_connections implies is raised at start-up only.
 */
static void parse_tcp(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *tcp = config_setting_get_member(root, "tcp");

    if (tcp == NULL)
        return;
    if (config_setting_type(tcp) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, tcp,
                     "tcp must be a group: { max_connections = 20000; max_per_source = 64; }");
        return;
    }
    sw_cfg_check_keys(e, tcp, tcp_keys, NULL, "tcp");
    sw_cfg_int(e, tcp, "max_connections", "tcp", 1, 1000000, &cfg->tcp_max_connections);
    sw_cfg_int(e, tcp, "max_per_source", "tcp", 0, 1000000, &cfg->tcp_max_per_source);
    sw_cfg_int(e, tcp, "partial_timeout", "tcp", 1, 3600, &cfg->tcp_partial_timeout);
    sw_cfg_bool(e, tcp, "trunk_sources_only", "tcp", &cfg->tcp_trunk_sources_only);
}

static void parse_match(struct sw_cfg_errs *e, const config_setting_t *ts, struct sw_trunk *t)
{
    const config_setting_t *m = config_setting_get_member(ts, "match"), *src;
    const char *domain = NULL;
    char what[300];
    int n, i;

    snprintf(what, sizeof(what), "trunk \"%s\": match", t->name);
    if (m == NULL) {
        sw_cfg_error(e, ts, "trunk \"%s\": match is missing (match = { source = [ \"CIDR\" ]; })",
                     t->name);
        return;
    }
    if (config_setting_type(m) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, m, "%s must be a group: { source = [ \"CIDR\" ]; }", what);
        return;
    }
    sw_cfg_check_keys(e, m, match_keys, NULL, what);
    sw_cfg_int(e, m, "port", what, 0, 65535, &t->match_port);
    if (sw_cfg_string(e, m, "domain", what, &domain) > 0 &&
        (t->match_domain = strdup(domain)) == NULL)
        sw_cfg_error(e, m, "out of memory");
    if ((src = config_setting_get_member(m, "destination")) != NULL) {
        /* the TAP's: where the message went (the proxy knows only where it came from) */
        char dwhat[300];
        snprintf(dwhat, sizeof(dwhat), "trunk \"%s\": match: destination", t->name);
        if ((n = sw_cfg_strings(e, src, dwhat)) > 0 &&
            (t->destinations = calloc((size_t)n, sizeof(*t->destinations))) != NULL) {
            for (i = 0; i < n; i++) {
                const char *c = sw_cfg_string_at(src, i);
                char why[160];
                if (sw_cidr_parse(c, &t->destinations[t->ndestinations], why, sizeof(why)) != 0)
                    sw_cfg_error(e, src, "%s \"%s\" is not a CIDR: %s", dwhat, c, why);
                else
                    t->ndestinations++;
            }
        }
    }
    if ((src = config_setting_get_member(m, "source")) == NULL) {
        sw_cfg_error(e, m, "%s: source is missing (use \"0.0.0.0/0\" and \"::/0\" to match any)",
                     what);
        return;
    }
    snprintf(what, sizeof(what), "trunk \"%s\": match: source", t->name);
    if ((n = sw_cfg_strings(e, src, what)) < 0)
        return;
    if (n == 0) {
        sw_cfg_error(e, src, "%s is empty", what);
        return;
    }
    if ((t->sources = calloc((size_t)n, sizeof(*t->sources))) == NULL) {
        sw_cfg_error(e, src, "out of memory");
        return;
    }
    for (i = 0; i < n; i++) {
        const char *c = sw_cfg_string_at(src, i);
        const config_setting_t *el = config_setting_type(src) == CONFIG_TYPE_STRING
                                         ? src
                                         : config_setting_get_elem(src, (unsigned)i);
        char why[160];
        if (sw_cidr_parse(c, &t->sources[t->nsources], why, sizeof(why)) != 0)
            sw_cfg_error(e, el, "%s \"%s\" is not a CIDR: %s", what, c, why);
        else
            t->nsources++;
    }
}

/*
 * The filters a trunk lists, each configured from its own group: the loader checks the
 * group's keys against the filter's declared settings first (so a typo gets its "did you
 * mean" at its own line), then the filter reads the values itself.
 */
static void parse_chain(struct sw_cfg_errs *e, const config_setting_t *ts, struct sw_trunk *t,
                        struct sw_services *svc)
{
    const config_setting_t *fs = config_setting_get_member(ts, "filters");
    char what[300], names[512];
    int n, i;

    if (fs == NULL)
        return; /* plain forwarding */
    snprintf(what, sizeof(what), "trunk \"%s\": filters", t->name);
    if ((n = sw_cfg_strings(e, fs, what)) <= 0)
        return;
    if (n > SW_MAX_CHAIN) {
        sw_cfg_error(e, fs, "%s lists %d filters; at most %d are supported", what, n, SW_MAX_CHAIN);
        return;
    }
    for (i = 0; i < n; i++) {
        const char *name = sw_cfg_string_at(fs, i);
        const struct swf_filter *f = swf_lookup(name);
        struct swf_conf fc;
        void *state = NULL;
        size_t k;
        int dup = 0;

        if (f == NULL) {
            sw_cfg_join(names, sizeof(names), swf_names(), NULL);
            sw_cfg_error(e, fs, "%s: unknown filter \"%s\" (known: %s)", what, name, names);
            continue;
        }
        for (k = 0; k < t->nchain; k++)
            dup |= t->chain[k].filter == f;
        if (dup) {
            sw_cfg_error(e, fs, "%s: \"%s\" is listed twice", what, name);
            continue;
        }
        memset(&fc, 0, sizeof(fc));
        fc.errs = e;
        fc.trunk = ts;
        fc.trunk_name = t->name;
        fc.svc = svc;
        if (swf_configure(f, &fc, &state) != 0)
            continue;
        t->chain[t->nchain].filter = f;
        t->chain[t->nchain].state = state;
        t->chain[t->nchain].index = swf_index(f);
        t->nchain++;
    }
}

/*
 * A member named after a filter is that filter's settings: it must belong to a filter
 * the trunk lists, and to one that takes settings. Both mistakes would otherwise pass
 * -t and leave the settings unused (an operator who forgot "sign" in filters would
 * forward every call unsigned).
 */
static void check_filter_groups(struct sw_cfg_errs *e, const config_setting_t *ts,
                                const struct sw_trunk *t)
{
    const config_setting_t *fs = config_setting_get_member(ts, "filters");
    const config_setting_t *s;
    unsigned i;

    for (i = 0; (s = config_setting_get_elem(ts, i)) != NULL; i++) {
        const char *name = config_setting_name(s);
        const struct swf_filter *f = name != NULL ? swf_lookup(name) : NULL;
        int listed = 0, k, n;

        if (f == NULL)
            continue;
        if (f->settings == NULL) {
            sw_cfg_error(e, s,
                         "trunk \"%s\": filter \"%s\" takes no settings; remove the \"%s\" group",
                         t->name, name, name);
            continue;
        }
        n = fs != NULL && config_setting_type(fs) != CONFIG_TYPE_STRING ? config_setting_length(fs)
                                                                        : (fs != NULL);
        for (k = 0; k < n; k++) {
            const char *listed_name = sw_cfg_string_at(fs, k);
            listed |= listed_name != NULL && strcmp(listed_name, name) == 0;
        }
        if (!listed)
            sw_cfg_error(e, s,
                         "trunk \"%s\": a \"%s\" group is given but \"%s\" is not in filters "
                         "(add it to filters = [ ... ] or remove the group)",
                         t->name, name, name);
    }
}

/* One entry of next_hop: a URI string, or a group { uri; priority; weight; }. */
static int parse_hop_entry(struct sw_cfg_errs *e, const config_setting_t *s, const char *tname,
                           int position, struct sw_hop_spec *spec)
{
    const char *uri = NULL;
    char why[300], what[300];
    int prio = position, weight = 1;

    snprintf(what, sizeof(what), "trunk \"%s\": next_hop", tname);
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        uri = config_setting_get_string(s);
    } else if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
        sw_cfg_check_keys(e, s, hop_keys, NULL, what);
        if (sw_cfg_string(e, s, "uri", what, &uri) == 0)
            sw_cfg_error(e, s, "%s: uri is missing ({ uri = \"sip:...\"; priority = 1; })", what);
        sw_cfg_int(e, s, "priority", what, 1, 32767, &prio);
        sw_cfg_int(e, s, "weight", what, 0, 65535, &weight);
    } else {
        sw_cfg_error(e, s,
                     "%s must be a sip: URI, a list of them, or a list of groups "
                     "{ uri = ...; priority = ...; weight = ...; }",
                     what);
        return -1;
    }
    if (uri == NULL)
        return -1;
    if (sw_hop_spec_parse(uri, spec, why, sizeof(why)) != 0) {
        sw_cfg_error(e, s, "%s \"%s\": %s", what, uri, why);
        return -1;
    }
    spec->priority = prio;
    spec->weight = weight;
    return 0;
}

/*
 * next_hop: one URI (the usual bump in the wire), a list of URIs (tried in order: the
 * first is primary, the next its backup, and so on), or a list of groups with explicit
 * priority (lower first) and weight (shares among equal priority). Names are resolved here
 * (RFC 3263: SRV when the URI has no port), so that -t reports one that does not resolve,
 * and again later by the hop monitor as their TTLs say.
 */
static void parse_next_hops(struct sw_cfg_errs *e, const config_setting_t *hop, struct sw_trunk *t,
                            int tcp, const struct sw_dns *dns)
{
    struct sw_route *r;
    struct sw_hopset *set;
    struct sw_hop *hops = NULL;
    size_t nhops = 0, i;
    int n, ttl, bad = 0;
    char why[300];

    if (config_setting_type(hop) == CONFIG_TYPE_STRING ||
        config_setting_type(hop) == CONFIG_TYPE_GROUP) {
        n = 1;
    } else if (config_setting_type(hop) == CONFIG_TYPE_LIST ||
               config_setting_type(hop) == CONFIG_TYPE_ARRAY) {
        if ((n = config_setting_length(hop)) == 0) {
            sw_cfg_error(e, hop, "trunk \"%s\": next_hop is empty", t->name);
            return;
        }
    } else {
        sw_cfg_error(e, hop, "trunk \"%s\": next_hop must be a string (a sip: URI) or a list",
                     t->name);
        return;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL ||
        (r->specs = calloc((size_t)n, sizeof(*r->specs))) == NULL) {
        free(r);
        sw_cfg_error(e, hop, "out of memory");
        return;
    }
    t->route = r;
    r->tcp_capable = tcp;
    for (i = 0; i < (size_t)n; i++) {
        const config_setting_t *one = n == 1 && (config_setting_type(hop) == CONFIG_TYPE_STRING ||
                                                 config_setting_type(hop) == CONFIG_TYPE_GROUP)
                                          ? hop
                                          : config_setting_get_elem(hop, (unsigned)i);
        if (parse_hop_entry(e, one, t->name, (int)i + 1, &r->specs[r->nspecs]) != 0) {
            sw_hop_spec_clear(&r->specs[r->nspecs]);
            bad = 1;
            continue;
        }
        r->dynamic |= !r->specs[r->nspecs].is_ip;
        r->nspecs++;
    }
    if (bad)
        return;
    if (sw_resolve_specs(dns, r->specs, r->nspecs, tcp, &hops, &nhops, &ttl, why, sizeof(why)) !=
        0) {
        sw_cfg_error(e, hop, "trunk \"%s\": next_hop: %s", t->name, why);
        return;
    }
    if ((set = sw_hopset_new(hops, nhops)) == NULL) {
        free(hops);
        sw_cfg_error(e, hop, "out of memory");
        return;
    }
    free(hops);
    sw_route_publish(r, set, 0);
    r->next_resolve = -ttl; /* relative until the hop monitor takes it: see hopmon.c */
    /* the first hop, as trunks with one next hop have always had it */
    t->next_hop = set->hops[0];
    t->next_hop.host[0] = '\0';
    snprintf(t->next_hop.host, sizeof(t->next_hop.host), "%s", r->specs[0].host);
    if ((t->next_hop.uri = strdup(set->hops[0].uri)) == NULL)
        sw_cfg_error(e, hop, "out of memory");
}

/* health_check = { interval = 5; down_after = 3; up_after = 2; } */
static void parse_health(struct sw_cfg_errs *e, const config_setting_t *ts, struct sw_trunk *t)
{
    const config_setting_t *h = config_setting_get_member(ts, "health_check");
    char what[300];

    if (h == NULL || t->route == NULL)
        return;
    snprintf(what, sizeof(what), "trunk \"%s\": health_check", t->name);
    if (config_setting_type(h) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, h, "%s must be a group: { interval = 5; down_after = 3; up_after = 2; }",
                     what);
        return;
    }
    sw_cfg_check_keys(e, h, health_keys, NULL, what);
    t->route->health.interval = 5;
    t->route->health.down_after = 3;
    t->route->health.up_after = 2;
    sw_cfg_int(e, h, "interval", what, 1, 3600, &t->route->health.interval);
    sw_cfg_int(e, h, "down_after", what, 1, 100, &t->route->health.down_after);
    sw_cfg_int(e, h, "up_after", what, 1, 100, &t->route->health.up_after);
}

/* dns = { servers = [ "127.0.0.1:5353" ]; min_ttl = 5; max_ttl = 3600; } */
static void parse_dns(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *d = config_setting_get_member(root, "dns"), *sv;
    size_t used = 0;
    int n, i;

    if (d == NULL)
        return;
    if (config_setting_type(d) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, d, "dns must be a group: { servers = [ \"IP[:PORT]\" ]; }");
        return;
    }
    sw_cfg_check_keys(e, d, dns_keys, NULL, "dns");
    sw_cfg_int(e, d, "min_ttl", "dns", 1, 86400, &cfg->dns.min_ttl);
    sw_cfg_int(e, d, "max_ttl", "dns", 1, 86400, &cfg->dns.max_ttl);
    if (cfg->dns.max_ttl < cfg->dns.min_ttl)
        sw_cfg_error(e, d, "dns: max_ttl %d is below min_ttl %d", cfg->dns.max_ttl,
                     cfg->dns.min_ttl);
    if ((sv = config_setting_get_member(d, "servers")) == NULL ||
        (n = sw_cfg_strings(e, sv, "dns: servers")) <= 0)
        return;
    for (i = 0; i < n; i++) {
        const char *one = sw_cfg_string_at(sv, i);
        struct sockaddr_storage ss;
        socklen_t len;
        char host[64];
        const char *colon = strrchr(one, ':');
        size_t hl;

        /* IPv4[:port] or [IPv6]:port, as c-ares takes them */
        if (one[0] == '[') {
            const char *end = strchr(one, ']');
            hl = end != NULL ? (size_t)(end - one - 1) : sizeof(host);
            if (hl < sizeof(host))
                memcpy(host, one + 1, hl);
            colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
        } else {
            hl = colon != NULL ? (size_t)(colon - one) : strlen(one);
            if (hl < sizeof(host))
                memcpy(host, one, hl);
        }
        if (hl >= sizeof(host) || (host[hl] = '\0', sw_addr_from_ip(host, 53, &ss, &len)) != 0 ||
            (colon != NULL &&
             (strtol(colon + 1, NULL, 10) < 1 || strtol(colon + 1, NULL, 10) > 65535 ||
              strspn(colon + 1, "0123456789") != strlen(colon + 1)))) {
            sw_cfg_error(e, sw_cfg_elem_at(sv, i),
                         "dns: server \"%s\" must be IPv4[:port] or [IPv6]:port", one);
            continue;
        }
        if (used + strlen(one) + 2 > sizeof(cfg->dns.servers)) {
            sw_cfg_error(e, sv, "dns: too many servers");
            return;
        }
        used += (size_t)snprintf(cfg->dns.servers + used, sizeof(cfg->dns.servers) - used, "%s%s",
                                 used ? "," : "", one);
    }
}

/* ---- the verifier group ------------------------------------------------------------ */

/* A path setting of the verifier group, copied into *out; the setting for errors, or NULL. */
static const config_setting_t *verifier_path(struct sw_cfg_errs *e, const config_setting_t *g,
                                             const char *key, char **out)
{
    const char *v = NULL;

    if (sw_cfg_string(e, g, key, "verifier.", &v) <= 0)
        return NULL;
    if (v[0] == '\0') {
        sw_cfg_error(e, config_setting_get_member(g, key), "verifier.%s: empty path", key);
        return NULL;
    }
    if ((*out = strdup(v)) == NULL) {
        sw_cfg_error(e, g, "out of memory");
        return NULL;
    }
    return config_setting_get_member(g, key);
}

static void verifier_flag(struct sw_cfg_errs *e, const config_setting_t *g, const char *key,
                          long *out)
{
    int b = (int)*out;

    if (sw_cfg_bool(e, g, key, "verifier.", &b) > 0)
        *out = b;
}

static void verifier_int(struct sw_cfg_errs *e, const config_setting_t *g, const char *key,
                         long long min, long long max, long *out)
{
    int n = (int)*out;

    if (sw_cfg_int(e, g, key, "verifier.", min, max, &n) > 0)
        *out = n;
}

/* allow_networks = [ "127.0.0.0/8", "::1" ]: checked here, handed on as "CIDR,CIDR". */
static void verifier_networks(struct sw_cfg_errs *e, const config_setting_t *s,
                              struct sw_verifier_conf *vc)
{
    char joined[4096], why[160];
    size_t used = 0;
    int n, i;

    if ((n = sw_cfg_strings(e, s, "verifier.allow_networks")) <= 0)
        return;
    for (i = 0; i < n; i++) {
        const char *one = sw_cfg_string_at(s, i);
        struct sw_cidr c;
        int w;

        if (sw_cidr_parse(one, &c, why, sizeof(why)) != 0) {
            sw_cfg_error(e, sw_cfg_elem_at(s, i), "verifier.allow_networks[%d]: %s", i, why);
            continue;
        }
        w = snprintf(joined + used, sizeof(joined) - used, "%s%s", used ? "," : "", one);
        if (w < 0 || (size_t)w >= sizeof(joined) - used) {
            sw_cfg_error(e, s, "verifier.allow_networks: too many networks");
            return;
        }
        used += (size_t)w;
    }
    if (used > 0 && (vc->allow_networks = strdup(joined)) == NULL)
        sw_cfg_error(e, s, "out of memory");
}

/*
 * The trust anchors and CRLs are loaded here, into a verifier of our own that is thrown
 * away, so that `stirwired -t` and a reload see an unreadable or empty CA file at its
 * line before anything changes; the daemon's verifier is given them only once the whole
 * file is valid (sw_config_apply_verifier).
 */
static void verifier_trust(struct sw_cfg_errs *e, const struct sw_verifier_conf *vc,
                           const config_setting_t *at_file, const config_setting_t *at_dir,
                           const config_setting_t *crls)
{
    sw_verifier *scratch = sw_verifier_new();
    sw_ctx *ctx = sw_ctx_new();
    size_t i;

    if (scratch == NULL || ctx == NULL) {
        sw_cfg_error(e, at_file, "out of memory");
    } else {
        if (vc->ca_file != NULL && sw_verifier_load_ca_file(scratch, ctx, vc->ca_file) != SW_OK)
            sw_cfg_error(e, at_file, "verifier.ca_file: %s", sw_errmsg(ctx));
        if (vc->ca_dir != NULL && sw_verifier_load_ca_dir(scratch, ctx, vc->ca_dir) != SW_OK)
            sw_cfg_error(e, at_dir, "verifier.ca_dir: %s", sw_errmsg(ctx));
        for (i = 0; i < vc->ncrl_files; i++)
            if (sw_verifier_load_crl_file(scratch, ctx, vc->crl_files[i]) != SW_OK)
                sw_cfg_error(e, sw_cfg_elem_at(crls, (int)i), "verifier.crl_files[%zu]: %s", i,
                             sw_errmsg(ctx));
    }
    sw_ctx_free(ctx);
    sw_verifier_free(scratch);
}

/*
 * verifier = { ca_file = ...; crl_files = [ ... ]; allow_http = false; ... }: the one
 * certificate verifier every trunk's verify filter shares (see struct sw_verifier_conf).
 */
static void parse_verifier(struct sw_cfg_errs *e, const config_setting_t *root,
                           struct sw_config *cfg)
{
    const config_setting_t *g = config_setting_get_member(root, "verifier");
    const config_setting_t *at_file, *at_dir, *crls, *s;
    struct sw_verifier_conf *vc = &cfg->verifier;
    const char *v = NULL;
    struct stat st;
    int n, i;

    if (g == NULL)
        return;
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, g, "verifier must be a group: { ca_file = \"/etc/stirwire/sti-ca.pem\"; }");
        return;
    }
    vc->given = 1;
    sw_cfg_check_keys(e, g, verifier_keys, NULL, "verifier.");
    verifier_flag(e, g, "allow_http", &vc->allow_http);
    verifier_flag(e, g, "allow_private", &vc->allow_private);
    verifier_flag(e, g, "allow_any_port", &vc->allow_any_port);
    verifier_flag(e, g, "allow_query", &vc->allow_query);
    verifier_flag(e, g, "crl_fetch", &vc->crl_fetch);
    if (sw_cfg_string(e, g, "crl_unreachable", "verifier.", &v) > 0) {
        if (strcmp(v, "fail") == 0 || strcmp(v, "tolerate") == 0)
            vc->crl_unreachable = strcmp(v, "tolerate") == 0;
        else
            sw_cfg_error(e, config_setting_get_member(g, "crl_unreachable"),
                         "verifier.crl_unreachable: must be \"fail\" or \"tolerate\", not \"%s\"",
                         v);
    }
    /* Limits: a fetch is on the path of a waiting call, so seconds, not minutes. */
    verifier_int(e, g, "connect_timeout_ms", 1, 60000, &vc->connect_timeout_ms);
    verifier_int(e, g, "timeout_ms", 1, 120000, &vc->timeout_ms);
    if (vc->connect_timeout_ms > vc->timeout_ms)
        sw_cfg_error(e, config_setting_get_member(g, "connect_timeout_ms"),
                     "verifier.connect_timeout_ms %ld is above timeout_ms %ld (the whole "
                     "transfer's limit)",
                     vc->connect_timeout_ms, vc->timeout_ms);
    verifier_int(e, g, "max_bytes", 1024, 1048576, &vc->max_bytes);
    verifier_int(e, g, "cache_entries", 1, 10000000, &vc->cache_entries);
    verifier_int(e, g, "min_ttl", 0, 31536000, &vc->min_ttl);
    verifier_int(e, g, "negative_ttl", 0, 86400, &vc->negative_ttl);
    if ((s = config_setting_get_member(g, "allow_networks")) != NULL)
        verifier_networks(e, s, vc);

    at_file = verifier_path(e, g, "ca_file", &vc->ca_file);
    at_dir = verifier_path(e, g, "ca_dir", &vc->ca_dir);
    if ((s = verifier_path(e, g, "cache_dir", &vc->cache_dir)) != NULL &&
        (stat(vc->cache_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        sw_cfg_error(e, s, "verifier.cache_dir: %s is not a directory", vc->cache_dir);
    if ((s = verifier_path(e, g, "tls_ca_file", &vc->tls_ca_file)) != NULL &&
        access(vc->tls_ca_file, R_OK) != 0)
        sw_cfg_error(e, s, "verifier.tls_ca_file: cannot read %s: %s", vc->tls_ca_file,
                     strerror(errno));
    if ((crls = config_setting_get_member(g, "crl_files")) != NULL &&
        (n = sw_cfg_strings(e, crls, "verifier.crl_files")) > 0) {
        if (n > SW_VERIFIER_MAX_CRL_FILES) {
            sw_cfg_error(e, crls, "verifier.crl_files: at most %d files",
                         SW_VERIFIER_MAX_CRL_FILES);
            n = SW_VERIFIER_MAX_CRL_FILES;
        }
        for (i = 0; i < n; i++) {
            if ((vc->crl_files[vc->ncrl_files] = strdup(sw_cfg_string_at(crls, i))) == NULL) {
                sw_cfg_error(e, crls, "out of memory");
                break;
            }
            vc->ncrl_files++;
        }
    }
    verifier_trust(e, vc, at_file != NULL ? at_file : g, at_dir != NULL ? at_dir : g, crls);
}

/*
 * A trunk that verifies while the verifier has no trust anchors would fail every signed
 * call (no certificate chains to anything): that is a mistake -t must show, not a
 * surprise on the first call.
 */
static void check_verify_anchors(struct sw_cfg_errs *e, const config_setting_t *root,
                                 const struct sw_config *cfg)
{
    const config_setting_t *ts = config_setting_get_member(root, "trunks");
    size_t i, k;

    if (cfg->verifier.ca_file != NULL || cfg->verifier.ca_dir != NULL || ts == NULL ||
        config_setting_type(ts) != CONFIG_TYPE_LIST ||
        (size_t)config_setting_length(ts) != cfg->ntrunks)
        return;
    for (i = 0; i < cfg->ntrunks; i++) {
        for (k = 0; k < cfg->trunks[i].nchain; k++) {
            if (strcmp(cfg->trunks[i].chain[k].filter->name, "verify") != 0)
                continue;
            sw_cfg_error(
                e, config_setting_get_elem(ts, (unsigned)i),
                "trunk \"%s\": filter \"verify\" needs trust anchors: set verifier.ca_file or "
                "verifier.ca_dir (the STI-PA roots); without them every signed call fails",
                cfg->trunks[i].name);
            return;
        }
    }
}

static void parse_trunk(struct sw_cfg_errs *e, const config_setting_t *ts, struct sw_trunk *t,
                        const struct sw_trunk *earlier, size_t nearlier, struct sw_services *svc,
                        const struct sw_dns *dns)
{
    const config_setting_t *hop;
    const char *name = NULL;
    char what[300];
    size_t k;
    int tcp = 0;

    if (sw_cfg_string(e, ts, "name", "trunk", &name) == 0)
        sw_cfg_error(e, ts, "trunk: name is missing");
    if (name != NULL) {
        for (k = 0; k < nearlier; k++) {
            if (earlier[k].name != NULL && strcmp(earlier[k].name, name) == 0) {
                sw_cfg_error(e, config_setting_get_member(ts, "name"),
                             "trunk name \"%s\" is used twice (trunk names must be unique)", name);
                break;
            }
        }
        t->name = strdup(name);
    } else {
        t->name = strdup("");
    }
    if (t->name == NULL) {
        sw_cfg_error(e, ts, "out of memory");
        return;
    }
    snprintf(what, sizeof(what), "trunk \"%s\"", t->name);
    sw_cfg_check_keys(e, ts, trunk_keys, swf_names(), what);
    parse_match(e, ts, t);

    if (sw_cfg_bool(e, ts, "next_hop_tcp", what, &tcp) > 0 && tcp)
        tcp = 1;
    if ((hop = config_setting_get_member(ts, "next_hop")) == NULL) {
        if (!loading_tap_only)
            sw_cfg_error(e, ts, "trunk \"%s\": next_hop is missing", t->name);
    } else
        parse_next_hops(e, hop, t, tcp, dns);
    parse_health(e, ts, t);
    sw_cfg_bool(e, ts, "record_route", what, &t->record_route);
    sw_cfg_bool(e, ts, "udp_fragment", what, &t->udp_fragment);
    check_filter_groups(e, ts, t);
    parse_chain(e, ts, t, svc);
}

static void parse_trunks(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *ts = config_setting_get_member(root, "trunks");
    int n, i;

    if (ts == NULL)
        return;
    if (config_setting_type(ts) != CONFIG_TYPE_LIST) {
        sw_cfg_error(e, ts, "trunks must be a list of groups: ( { name = ...; ... }, ... )");
        return;
    }
    if ((n = config_setting_length(ts)) == 0)
        return;
    if ((cfg->trunks = calloc((size_t)n, sizeof(*cfg->trunks))) == NULL) {
        sw_cfg_error(e, ts, "out of memory");
        return;
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *one = config_setting_get_elem(ts, (unsigned)i);
        if (config_setting_type(one) != CONFIG_TYPE_GROUP) {
            sw_cfg_error(e, one, "trunks: each trunk must be a group: { name = ...; ... }");
            continue;
        }
        parse_trunk(e, one, &cfg->trunks[cfg->ntrunks], cfg->trunks, cfg->ntrunks, cfg->svc,
                    &cfg->dns);
        if (cfg->trunks[cfg->ntrunks].match_domain != NULL)
            cfg->any_domain = 1;
        cfg->ntrunks++;
    }
}

/* Whether every address block of b lies inside one of a's. */
static int sources_cover(const struct sw_trunk *a, const struct sw_trunk *b)
{
    size_t i, k;

    for (k = 0; k < b->nsources; k++) {
        const struct sw_cidr *c = &b->sources[k];
        struct sockaddr_storage ss;
        int in = 0;

        memset(&ss, 0, sizeof(ss));
        ss.ss_family = (sa_family_t)c->family;
        if (c->family == AF_INET)
            memcpy(&((struct sockaddr_in *)&ss)->sin_addr, c->addr, 4);
        else
            memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, c->addr, 16);
        for (i = 0; i < a->nsources && !in; i++)
            in = a->sources[i].family == c->family && a->sources[i].bits <= c->bits &&
                 sw_cidr_match(&a->sources[i], (struct sockaddr *)&ss);
        if (!in)
            return 0;
    }
    return b->nsources > 0;
}

/* A listener of ours that addr (with transport) names: a request sent there comes back. */
static const struct sw_listen *our_listener(const struct sw_config *cfg, const struct sw_hop *h)
{
    size_t i;

    for (i = 0; i < cfg->nlisten; i++) {
        const struct sw_listen *l = &cfg->listen[i];
        struct sockaddr_storage any;
        socklen_t len;
        int lport = sw_addr_port((const struct sockaddr *)&l->addr);

        if (lport != h->port || !(l->transports & h->transport))
            continue;
        if (sw_addr_equal((const struct sockaddr *)&l->addr, (const struct sockaddr *)&h->addr))
            return l;
        /* a wildcard listener takes whatever reaches its port, loopback included */
        if (sw_addr_from_ip(l->addr.ss_family == AF_INET ? "0.0.0.0" : "::", lport, &any, &len) ==
                0 &&
            sw_addr_equal((const struct sockaddr *)&l->addr, (const struct sockaddr *)&any)) {
            char ip[64];
            int p;
            sw_addr_ip((const struct sockaddr *)&h->addr, ip, sizeof(ip), &p);
            if (strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0)
                return l;
        }
    }
    return NULL;
}

/*
 * What no single trunk shows, once the file is otherwise valid: a next hop written as one
 * of our own listeners' addresses (every request would come straight back: a loop that
 * only 482 ends; a test of loop detection says allow_self_loop), and a trunk that can never match
 * because an earlier one, with no narrower port or domain, takes every source it lists (first match
 * wins).
 */
static void check_trunks(struct sw_cfg_errs *e, const config_setting_t *root,
                         const struct sw_config *cfg)
{
    const config_setting_t *ts = config_setting_get_member(root, "trunks");
    size_t i, j, k;

    /* on a file with other errors, half-read trunks would only add noise */
    if (sw_cfg_errs_count(e) > 0 || ts == NULL || config_setting_type(ts) != CONFIG_TYPE_LIST ||
        (size_t)config_setting_length(ts) != cfg->ntrunks)
        return;
    for (j = 0; j < cfg->ntrunks; j++) {
        const struct sw_trunk *t = &cfg->trunks[j];
        const config_setting_t *one = config_setting_get_elem(ts, (unsigned)j);
        const struct sw_route *r = t->route;
        int allow = 0;

        sw_cfg_bool(e, one, "allow_self_loop", "", &allow);
        /* next hops written as addresses: a name may point at us today and not tomorrow */
        for (k = 0; r != NULL && !allow && k < r->nspecs; k++) {
            struct sw_hop h;
            char where[96];
            memset(&h, 0, sizeof(h));
            h.port = r->specs[k].port != 0 ? r->specs[k].port : 5060;
            h.transport = r->specs[k].transport;
            if (!r->specs[k].is_ip ||
                sw_addr_from_ip(r->specs[k].host, h.port, &h.addr, &h.addrlen) != 0 ||
                our_listener(cfg, &h) == NULL)
                continue;
            sw_addr_str((const struct sockaddr *)&h.addr, where, sizeof(where));
            sw_cfg_error(e, config_setting_get_member(one, "next_hop"),
                         "trunk \"%s\": next hop %s is our own listener: every request would "
                         "loop back to us (set allow_self_loop = true only to test loop "
                         "detection)",
                         t->name, where);
            break;
        }
        for (i = 0; i < j; i++) {
            const struct sw_trunk *a = &cfg->trunks[i];
            if ((a->match_port != 0 && a->match_port != t->match_port) ||
                (a->match_domain != NULL &&
                 (t->match_domain == NULL || strcasecmp(a->match_domain, t->match_domain) != 0)))
                continue;
            if (sources_cover(a, t)) {
                sw_cfg_error(e, one,
                             "trunk \"%s\" can never match: trunk \"%s\" before it takes every "
                             "source it lists (first match wins; put the narrower trunk first)",
                             t->name, a->name);
                break;
            }
        }
    }
}

/* ---- the http group (the REST API) -------------------------------------------------------- */

/* A string setting copied into a fixed buffer; 1 when set, 0 when absent, -1 when wrong. */
static int http_str(struct sw_cfg_errs *e, const config_setting_t *g, const char *key,
                    const char *what, char *out, size_t size)
{
    const char *v = NULL;
    int rc = sw_cfg_string(e, g, key, what, &v);

    if (rc <= 0)
        return rc;
    if (v[0] == '\0' || strlen(v) >= size) {
        sw_cfg_error(e, config_setting_get_member(g, key), "%s%s must be 1 to %zu characters", what,
                     key, size - 1);
        return -1;
    }
    memcpy(out, v, strlen(v) + 1);
    return 1;
}

/*
 * tls_cert and tls_key, read now so that -t reports them: the certificate (chain) and the
 * private key must load and belong together. (The server reads them again at start and on
 * every SIGHUP; libmicrohttpd's GnuTLS takes what OpenSSL takes here.)
 */
static void http_check_tls(struct sw_cfg_errs *e, const config_setting_t *g,
                           const struct sw_http_conf *hc)
{
    const config_setting_t *cs = config_setting_get_member(g, "tls_cert");
    const config_setting_t *ks = config_setting_get_member(g, "tls_key");
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    FILE *f;

    if ((f = fopen(hc->tls_cert, "r")) == NULL) {
        sw_cfg_error(e, cs, "http.tls_cert %s: %s", hc->tls_cert, strerror(errno));
        return;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        sw_cfg_error(e, cs, "http.tls_cert %s: no PEM certificate in it", hc->tls_cert);
        return;
    }
    if ((f = fopen(hc->tls_key, "r")) == NULL) {
        sw_cfg_error(e, ks, "http.tls_key %s: %s", hc->tls_key, strerror(errno));
    } else {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (k == NULL)
            sw_cfg_error(e, ks,
                         "http.tls_key %s: no PEM private key in it (an encrypted key "
                         "cannot be used)",
                         hc->tls_key);
        else if (X509_check_private_key(x, k) != 1)
            sw_cfg_error(e, ks, "http.tls_key %s is not the key of http.tls_cert %s", hc->tls_key,
                         hc->tls_cert);
    }
    EVP_PKEY_free(k);
    X509_free(x);
}

/* A bearer token: printable ASCII without spaces (RFC 6750 §2.1's b64token, loosely). */
static void http_token(struct sw_cfg_errs *e, const config_setting_t *g, const char *key, char *out,
                       size_t size)
{
    const char *p;

    if (http_str(e, g, key, "http.tokens.", out, size) <= 0)
        return;
    for (p = out; *p != '\0'; p++) {
        if (*p <= ' ' || *p > '~') {
            sw_cfg_error(e, config_setting_get_member(g, key),
                         "http.tokens.%s: a token is printable ASCII without spaces", key);
            out[0] = '\0';
            return;
        }
    }
}

/* A subgroup of http, or NULL (an error when it is there but not a group). */
static const config_setting_t *http_group(struct sw_cfg_errs *e, const config_setting_t *g,
                                          const char *key, const char *const *known)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    char what[32];

    if (s == NULL)
        return NULL;
    snprintf(what, sizeof(what), "http.%s", key);
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, s, "%s must be a group: { ... }", what);
        return NULL;
    }
    sw_cfg_check_keys(e, s, known, NULL, what);
    return s;
}

/*
 * The http group: the REST API's listener and the state of its handlers. Everything it
 * names is opened here (TLS files, keys, pub_dir), so that `stirwired -t` reports a
 * missing or wrong file at its line and a reload with such a file changes nothing.
 */
static void parse_http(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *g = config_setting_get_member(root, "http"), *s;
    struct sw_http_conf *hc;
    struct sw_api *api;
    struct sockaddr_storage ss;
    socklen_t sl;
    sw_ctx *ctx;
    int v;

    if (g == NULL)
        return; /* no group, no HTTP listener */
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, g, "http must be a group: { listen = \"127.0.0.1:8090\"; ... }");
        return;
    }
    hc = calloc(1, sizeof(*hc));
    api = calloc(1, sizeof(*api));
    ctx = sw_ctx_new();
    if (hc == NULL || api == NULL || ctx == NULL) {
        free(hc);
        free(api);
        sw_ctx_free(ctx);
        sw_cfg_error(e, g, "out of memory");
        return;
    }
    cfg->http = hc;
    cfg->api = api;
    api->pub_dirfd = -1;
    sw_http_conf_init(hc);
    sw_cfg_check_keys(e, g, http_keys, NULL, "http");

    if (http_str(e, g, "listen", "http.", hc->listen, sizeof(hc->listen)) > 0 &&
        (sw_http_parse_listen(hc->listen, &ss, &sl) != 0 ||
         ((struct sockaddr_in *)&ss)->sin_port == 0))
        sw_cfg_error(e, config_setting_get_member(g, "listen"),
                     "http.listen \"%s\" must be ADDR:PORT or [ADDR]:PORT with a numeric address "
                     "and a port of 1 to 65535",
                     hc->listen);
    http_str(e, g, "tls_cert", "http.", hc->tls_cert, sizeof(hc->tls_cert));
    http_str(e, g, "tls_key", "http.", hc->tls_key, sizeof(hc->tls_key));
    if ((hc->tls_cert[0] != '\0') != (hc->tls_key[0] != '\0'))
        sw_cfg_error(e, g, "http: tls_cert and tls_key go together (HTTPS needs both)");
    else if (hc->tls_cert[0] != '\0')
        http_check_tls(e, g, hc);
    sw_cfg_int(e, g, "threads", "http.", 1, SW_HTTP_MAX_THREADS, &hc->threads);
    sw_cfg_int(e, g, "max_body", "http.", 0, SW_HTTP_MAX_BODY_LIMIT, &hc->max_body);
    sw_cfg_int(e, g, "max_connections", "http.", 1, 100000, &hc->max_connections);
    sw_cfg_int(e, g, "max_per_ip", "http.", 0, 100000, &hc->max_per_ip);
    sw_cfg_int(e, g, "timeout", "http.", 1, 3600, &hc->timeout);

    if ((s = http_group(e, g, "tokens", http_token_keys)) != NULL) {
        http_token(e, s, "sign", hc->token_sign, sizeof(hc->token_sign));
        http_token(e, s, "check", hc->token_check, sizeof(hc->token_check));
        http_token(e, s, "ops", hc->token_ops, sizeof(hc->token_ops));
    }
    if (http_str(e, g, "pub_dir", "http.", hc->pub_dir, sizeof(hc->pub_dir)) > 0 &&
        (api->pub_dirfd = open(hc->pub_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        sw_cfg_error(e, config_setting_get_member(g, "pub_dir"), "http.pub_dir %s: %s", hc->pub_dir,
                     strerror(errno));

    if ((s = http_group(e, g, "sign", http_sign_keys)) != NULL) {
        if (http_str(e, s, "key", "http.sign.", hc->sign_key, sizeof(hc->sign_key)) == 0)
            sw_cfg_error(e, s, "http.sign: key is missing (the signing key's PEM file)");
        else if (hc->sign_key[0] != '\0' &&
                 sw_key_load_file(ctx, hc->sign_key, &api->sign_key) != SW_OK)
            sw_cfg_error(e, config_setting_get_member(s, "key"), "http.sign.key %s: %s",
                         hc->sign_key, sw_errmsg(ctx));
        if (http_str(e, s, "x5u", "http.sign.", hc->sign_x5u, sizeof(hc->sign_x5u)) > 0) {
            if (strncmp(hc->sign_x5u, "https://", 8) != 0 &&
                strncmp(hc->sign_x5u, "http://", 7) != 0)
                sw_cfg_error(e, config_setting_get_member(s, "x5u"),
                             "http.sign.x5u \"%s\" must be an https:// (or http://) URL",
                             hc->sign_x5u);
            else if ((api->sign_x5u = strdup(hc->sign_x5u)) == NULL)
                sw_cfg_error(e, s, "out of memory");
        }
    }
    if ((s = http_group(e, g, "check", http_check_keys)) != NULL) {
        if (http_str(e, s, "key", "http.check.", hc->check_key, sizeof(hc->check_key)) > 0 &&
            sw_pubkey_load_file(ctx, hc->check_key, &api->check_key) != SW_OK)
            sw_cfg_error(e, config_setting_get_member(s, "key"), "http.check.key %s: %s",
                         hc->check_key, sw_errmsg(ctx));
        /* secsipidx's expire 0 rejects every token: here max_age is at least 1 */
        if (sw_cfg_int(e, s, "max_age", "http.check.", 1, 86400 * 366, &v) > 0)
            hc->max_age = v;
        if (sw_cfg_int(e, s, "future_skew", "http.check.", 0, 3600, &v) > 0)
            hc->future_skew = v;
    }
    api->max_age = hc->max_age;
    api->future_skew = hc->future_skew;
    /*
     * The one verifier of the process: /v1/check and /v2/verify without check.key fetch
     * and check certificates through it (its trust is the verifier group), and /metrics
     * shows its cache. Made here when no verify filter made it yet.
     */
    if (cfg->svc != NULL && (api->verifier = sw_services_verifier(cfg->svc)) == NULL)
        sw_cfg_error(e, g, "http: out of memory (verifier)");
    sw_ctx_free(ctx);
}

/* One source of the tap group: exactly one of pcap, interface, hep, and its options. */
static void parse_tap_source(struct sw_cfg_errs *e, const config_setting_t *g,
                             struct sw_tap_source *ts)
{
    static const char *const kinds[] = {"pcap", "interface", "hep"};
    const char *v = NULL, *which = NULL;
    int k, n = 0, promisc = 1;

    sw_cfg_check_keys(e, g, tap_source_keys, NULL, "tap.sources");
    for (k = 0; k < 3; k++)
        if (sw_cfg_string(e, g, kinds[k], "tap.sources", &v) > 0) {
            n++;
            which = kinds[k];
            ts->kind = (enum sw_tap_kind)(k + 1);
            free(ts->name);
            ts->name = strdup(v);
        }
    if (n != 1) {
        sw_cfg_error(e, g,
                     "tap.sources: each source is one of { pcap = \"FILE\"; }, { interface = "
                     "\"IFACE\"; } or { hep = \"udp:ADDR:PORT\"; }%s",
                     n > 1 ? " (this one names several)" : "");
        return;
    }
    ts->snaplen = 65535;
    ts->buffer = 32 * 1024 * 1024;
    ts->promisc = 1;
    if (ts->kind == SW_TAP_INTERFACE) {
        if (sw_cfg_string(e, g, "filter", "tap.sources", &v) > 0)
            ts->filter = strdup(v);
        sw_cfg_int(e, g, "snaplen", "tap.sources", 256, 262144, &ts->snaplen);
        sw_cfg_int(e, g, "buffer", "tap.sources", 65536, 1 << 30, &ts->buffer);
        if (sw_cfg_bool(e, g, "promisc", "tap.sources", &promisc) > 0)
            ts->promisc = promisc;
    } else if (ts->kind == SW_TAP_HEP) {
        if (strncmp(ts->name, "udp:", 4) != 0 && strncmp(ts->name, "tcp:", 4) != 0)
            sw_cfg_error(e, g, "tap.sources: hep = \"%s\": write udp:ADDR:PORT or tcp:ADDR:PORT",
                         ts->name);
        if (sw_cfg_string(e, g, "auth_key", "tap.sources", &v) > 0)
            ts->auth_key = strdup(v);
    }
    /* options that belong to another kind of source are mistakes worth a line */
    if (ts->kind != SW_TAP_INTERFACE)
        for (k = 0; k < 4; k++) {
            static const char *const iface_only[] = {"filter", "snaplen", "buffer", "promisc"};
            if (config_setting_get_member(g, iface_only[k]) != NULL)
                sw_cfg_error(e, config_setting_get_member(g, iface_only[k]),
                             "tap.sources: %s is for interface sources, not %s", iface_only[k],
                             which);
        }
    if (ts->kind != SW_TAP_HEP && config_setting_get_member(g, "auth_key") != NULL)
        sw_cfg_error(e, config_setting_get_member(g, "auth_key"),
                     "tap.sources: auth_key is for hep sources, not %s", which);
}

static void parse_tap(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const config_setting_t *g = config_setting_get_member(root, "tap"), *srcs, *one;
    int n, i;

    if (g == NULL)
        return;
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        sw_cfg_error(e, g,
                     "tap must be a group: tap = { sources = ( { interface = \"eth1\"; } ); }");
        return;
    }
    sw_cfg_check_keys(e, g, tap_keys, NULL, "tap");
    if ((cfg->tap = calloc(1, sizeof(*cfg->tap))) == NULL) {
        sw_cfg_error(e, g, "out of memory");
        return;
    }
    srcs = config_setting_get_member(g, "sources");
    if (srcs == NULL || config_setting_type(srcs) != CONFIG_TYPE_LIST ||
        (n = config_setting_length(srcs)) == 0) {
        sw_cfg_error(e, srcs != NULL ? srcs : g,
                     "tap.sources must be a non-empty list of groups: ( { interface = \"eth1\"; "
                     "}, { hep = \"udp:0.0.0.0:9060\"; } )");
        return;
    }
    if (n > SW_TAP_MAX_SOURCES) {
        sw_cfg_error(e, srcs, "tap.sources has %d entries; at most %d are supported", n,
                     SW_TAP_MAX_SOURCES);
        n = SW_TAP_MAX_SOURCES;
    }
    for (i = 0; i < n; i++) {
        one = config_setting_get_elem(srcs, (unsigned)i);
        if (config_setting_type(one) != CONFIG_TYPE_GROUP) {
            sw_cfg_error(e, one, "tap.sources entries must be groups");
            continue;
        }
        parse_tap_source(e, one, &cfg->tap->src[cfg->tap->n++]);
    }
}

static void parse_top(struct sw_cfg_errs *e, const config_setting_t *root, struct sw_config *cfg)
{
    const char *s = NULL;

    sw_cfg_check_keys(e, root, top_keys, NULL, "the top level");
    parse_tap(e, root, cfg);
    /* a daemon that only captures needs no listener, and its trunks no next hop */
    loading_tap_only = cfg->tap != NULL && config_setting_get_member(root, "listen") == NULL;
    if (!loading_tap_only)
        parse_listen(e, root, cfg);
    sw_cfg_int(e, root, "workers", "", 0, 256, &cfg->workers);
    if (sw_cfg_string(e, root, "pid_file", "", &s) > 0) {
        if (s[0] != '/')
            sw_cfg_error(e, config_setting_get_member(root, "pid_file"),
                         "pid_file \"%s\" must be an absolute path", s);
        else if ((cfg->pid_file = strdup(s)) == NULL)
            sw_cfg_error(e, root, "out of memory");
    }
    s = NULL;
    if (sw_cfg_string(e, root, "user", "", &s) > 0) {
        /* Checked now so that -t catches it, not the first start after a reboot. */
        if (getpwnam(s) == NULL)
            sw_cfg_error(e, config_setting_get_member(root, "user"), "user \"%s\" does not exist",
                         s);
        else if ((cfg->user = strdup(s)) == NULL)
            sw_cfg_error(e, root, "out of memory");
    }
    parse_log(e, root, cfg);
    sw_cfg_int(e, root, "udp_rcvbuf", "", 0, INT_MAX, &cfg->udp_rcvbuf);
    sw_cfg_int(e, root, "max_parked", "", 1, 1000000, &cfg->max_parked);
    parse_tcp(e, root, cfg);
    parse_dns(e, root, cfg);
    parse_verifier(e, root, cfg);
    parse_trunks(e, root, cfg);
    check_trunks(e, root, cfg);
    check_verify_anchors(e, root, cfg);
    parse_http(e, root, cfg);
}

/* ---- the API ------------------------------------------------------------------------ */

int sw_config_load(const char *path, struct sw_services *svc, struct sw_config **out, char *errbuf,
                   size_t errlen)
{
    struct sw_cfg_errs e;
    struct sw_config *cfg = NULL;
    struct stat st;
    config_t lc;
    FILE *fp;

    sw_cfg_errs_init(&e, path);
    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL) {
        sw_cfg_error(&e, NULL, "no configuration file given");
        goto fail;
    }
    /* Opened here rather than by libconfig, whose I/O errors do not say what went wrong. */
    if ((fp = fopen(path, "r")) == NULL) {
        sw_cfg_error(&e, NULL, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        sw_cfg_error(&e, NULL, "is a directory");
        fclose(fp);
        goto fail;
    }
    if ((cfg = sw_config_new()) == NULL || (cfg->path = strdup(path)) == NULL) {
        sw_cfg_error(&e, NULL, "out of memory");
        fclose(fp);
        goto fail;
    }
    cfg->svc = svc;

    config_init(&lc);
    if (e.dir[0] != '\0')
        config_set_include_dir(&lc, e.dir);
    if (config_read(&lc, fp) != CONFIG_TRUE) {
        const char *file = config_error_file(&lc) != NULL ? config_error_file(&lc) : path;
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            sw_cfg_error(&e, NULL, "cannot read: %s", config_error_text(&lc));
        else
            sw_cfg_error_at(&e, file, (unsigned)config_error_line(&lc), config_error_text(&lc));
    } else {
        parse_top(&e, config_root_setting(&lc), cfg);
    }
    fclose(fp);
    config_destroy(&lc);
    if (sw_cfg_errs_count(&e) == 0) {
        *out = cfg;
        sw_cfg_errs_flush(&e, errbuf, errlen);
        return 0;
    }
fail:
    sw_config_unref(cfg);
    sw_cfg_errs_flush(&e, errbuf, errlen);
    return -1;
}

/* ---- applying the verifier group ----------------------------------------------------- */

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* One more line in msgs, as much as fits. */
static void note_line(char *msgs, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note_line(char *msgs, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (msgs == NULL || *used + 1 >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msgs + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *used = (size_t)n >= len - *used ? len - 1 : *used + (size_t)n;
    if (*used + 1 < len) {
        msgs[(*used)++] = '\n';
        msgs[*used] = '\0';
    }
}

int sw_config_apply_verifier(const struct sw_config *cfg, const struct sw_config *running,
                             struct sw_services *svc, char *msgs, size_t len)
{
    static const struct {
        sw_opt opt;
        size_t off;
    } longs[] = {
        {SW_OPT_ALLOW_HTTP, offsetof(struct sw_verifier_conf, allow_http)},
        {SW_OPT_ALLOW_PRIVATE, offsetof(struct sw_verifier_conf, allow_private)},
        {SW_OPT_ALLOW_ANY_PORT, offsetof(struct sw_verifier_conf, allow_any_port)},
        {SW_OPT_ALLOW_QUERY, offsetof(struct sw_verifier_conf, allow_query)},
        {SW_OPT_CONNECT_TIMEOUT_MS, offsetof(struct sw_verifier_conf, connect_timeout_ms)},
        {SW_OPT_TIMEOUT_MS, offsetof(struct sw_verifier_conf, timeout_ms)},
        {SW_OPT_MAX_BYTES, offsetof(struct sw_verifier_conf, max_bytes)},
        {SW_OPT_MIN_TTL, offsetof(struct sw_verifier_conf, min_ttl)},
        {SW_OPT_NEGATIVE_TTL, offsetof(struct sw_verifier_conf, negative_ttl)},
        {SW_OPT_CRL_FETCH, offsetof(struct sw_verifier_conf, crl_fetch)},
        {SW_OPT_CRL_UNREACHABLE, offsetof(struct sw_verifier_conf, crl_unreachable)},
    };
    const struct sw_verifier_conf *vc = &cfg->verifier;
    const struct sw_verifier_conf *old = running != NULL ? &running->verifier : NULL;
    size_t used = 0, i;
    sw_verifier *v;
    sw_ctx *ctx;
    int rc = 0;

    if (msgs != NULL && len > 0)
        msgs[0] = '\0';
    if (svc == NULL)
        return 0;
    /* A configuration that verifies nowhere and says nothing of the verifier: nothing to do. */
    if (svc->verifier == NULL && !vc->given)
        return 0;
    if ((v = sw_services_verifier(svc)) == NULL || (ctx = sw_ctx_new()) == NULL) {
        note_line(msgs, len, &used, "verifier: out of memory");
        return -1;
    }
    for (i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        long value = *(const long *)(const void *)((const char *)vc + longs[i].off);
        if (sw_verifier_set_long(v, longs[i].opt, value) != SW_OK) {
            note_line(msgs, len, &used, "verifier: cannot set option %d to %ld", (int)longs[i].opt,
                      value);
            rc = -1;
        }
    }
    if (sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, vc->allow_networks) != SW_OK) {
        note_line(msgs, len, &used, "verifier: cannot set allow_networks");
        rc = -1;
    }
    /*
     * The cache's size and the strings that transfers borrow are fixed once the verifier
     * has started (the library refuses them then): a change to them waits for a restart,
     * and the running values stay, which is safe.
     */
    if (old == NULL || old->cache_entries != vc->cache_entries) {
        if (sw_verifier_set_long(v, SW_OPT_CACHE_ENTRIES, vc->cache_entries) != SW_OK)
            note_line(msgs, len, &used,
                      "verifier.cache_entries: the change to %ld takes effect after a restart",
                      vc->cache_entries);
    }
    if (old == NULL || !same_str(old->cache_dir, vc->cache_dir)) {
        if (sw_verifier_set_str(v, SW_OPT_CACHE_DIR, vc->cache_dir) != SW_OK)
            note_line(msgs, len, &used,
                      "verifier.cache_dir: the change takes effect after a restart");
    }
    if (old == NULL || !same_str(old->tls_ca_file, vc->tls_ca_file)) {
        if (sw_verifier_set_str(v, SW_OPT_TLS_CA_FILE, vc->tls_ca_file) != SW_OK)
            note_line(msgs, len, &used,
                      "verifier.tls_ca_file: the change takes effect after a restart");
    }
    /*
     * Trust: dropped and read again from the files, which may have changed since the
     * last load (that is what a SIGHUP after renewing a root or a CRL is for). The files
     * were read moments ago by the check, so a failure here means one changed in between.
     * The CRL files go first: the first CA loaded puts the new set in service in place
     * of the old (sw_verifier_reset_trust), so no certificate meets anchors without
     * their CRLs.
     */
    sw_verifier_reset_trust(v);
    for (i = 0; i < vc->ncrl_files; i++) {
        if (sw_verifier_load_crl_file(v, ctx, vc->crl_files[i]) != SW_OK) {
            note_line(msgs, len, &used, "verifier.crl_files[%zu]: %s", i, sw_errmsg(ctx));
            rc = -1;
        }
    }
    if (vc->ca_file != NULL && sw_verifier_load_ca_file(v, ctx, vc->ca_file) != SW_OK) {
        note_line(msgs, len, &used, "verifier.ca_file: %s", sw_errmsg(ctx));
        rc = -1;
    }
    if (vc->ca_dir != NULL && sw_verifier_load_ca_dir(v, ctx, vc->ca_dir) != SW_OK) {
        note_line(msgs, len, &used, "verifier.ca_dir: %s", sw_errmsg(ctx));
        rc = -1;
    }
    sw_ctx_free(ctx);
    return rc;
}
