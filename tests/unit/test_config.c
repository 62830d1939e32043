/*
 * test_config.c - stirwired's configuration loader (src/daemon/config.c): a full file is read
 * into every field, defaults apply when settings are absent, each kind of mistake is
 * reported with the line it is on (all of them in one run, as `stirwired -t` shows them),
 * and trunk matching picks the first trunk whose source, port and domain fit.
 *
 * Each test writes its configuration into a fresh mkdtemp directory, so the line numbers
 * asserted are those of the text in the test. Filters used: "strip" (no settings) and
 * "sign" (which refuses a trunk that gives it no key); the registry is the real one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <syslog.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../src/core/filter.h"
#include "../../src/daemon/conffile.h"
#include "../../src/http/server.h"

struct fixture {
    char dir[64];
    char path[128];
    char errs[8192];
    struct sw_config *cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/stirwire.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    static const char *const extra[] = {"trunks.conf", "key.pem"};
    char path[160];
    size_t i;

    sw_config_unref(f->cfg);
    unlink(f->path);
    /* Files some tests add, left behind when such a test fails half-way. */
    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, extra[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_conf(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Loads text; it must be valid. */
static struct sw_config *load_ok(struct fixture *f, const char *text)
{
    write_conf(f, text);
    sw_config_unref(f->cfg);
    f->cfg = NULL;
    if (sw_config_load(f->path, NULL, &f->cfg, f->errs, sizeof(f->errs)) != 0)
        fail_msg("unexpected errors:\n%s", f->errs);
    assert_non_null(f->cfg);
    return f->cfg;
}

/* Loads text; it must fail. Returns the number of error lines. */
static int load_bad(struct fixture *f, const char *text)
{
    const char *p;
    int n = 0;

    write_conf(f, text);
    sw_config_unref(f->cfg); /* a test may load a good file first */
    f->cfg = NULL;
    assert_int_equal(sw_config_load(f->path, NULL, &f->cfg, f->errs, sizeof(f->errs)), -1);
    assert_null(f->cfg);
    for (p = f->errs; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    return n;
}

/* Asserts that some error line is "PATH:line: ..." and contains every string given. */
static void has_error(struct fixture *f, int line, ...)
{
    char prefix[160];
    const char *p = f->errs;
    va_list ap;

    snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
    while ((p = strstr(p, prefix)) != NULL) {
        const char *eol = strchr(p, '\n'), *want;
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        char one[1024];
        int all = 1;

        if (len >= sizeof(one))
            len = sizeof(one) - 1;
        memcpy(one, p, len);
        one[len] = '\0';
        va_start(ap, line);
        while ((want = va_arg(ap, const char *)) != NULL)
            if (strstr(one, want) == NULL)
                all = 0;
        va_end(ap);
        if (all)
            return;
        p += len;
    }
    fail_msg("no error at line %d with the expected text in:\n%s", line, f->errs);
}

/* Asserts that the error lines are sorted by line number (one file). */
static void in_line_order(struct fixture *f)
{
    const char *p = f->errs;
    size_t plen = strlen(f->path);
    long last = 0;

    while (*p != '\0') {
        char *end;
        long line;
        assert_memory_equal(p, f->path, plen);
        line = strtol(p + plen + 1, &end, 10);
        assert_true(line >= last);
        last = line;
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
}

#define HAS_ERROR(f, line, ...) has_error(f, line, __VA_ARGS__, (const char *)NULL)

/* A listener, for files whose point is elsewhere. */
#define LISTEN "listen = ( { address = \"127.0.0.1\"; } );\n"

/* Every setting, each with a value other than its default. */
static const char full_conf[] =
    "# a complete file\n"
    "listen = ( { address = \"127.0.0.1\"; port = 5060; transport = [ \"udp\", \"tcp\" ];\n"
    "             advertise = \"192.0.2.1:5060\"; },\n"
    "           { address = \"::1\"; port = 5070; transport = [ \"udp\" ]; } );\n"
    "workers = 4;\n"
    "pid_file = \"/run/stirwired.pid\";\n"
    "user = \"root\";\n"
    "log = { syslog = true; level = \"debug\"; };\n"
    "udp_rcvbuf = 8388608;\n"
    "trunks = (\n"
    "  { name = \"pbx\";\n"
    "    match = { source = [ \"192.0.2.10/32\", \"2001:db8::/32\" ]; port = 5062;\n"
    "              domain = \"example.com\"; };\n"
    "    next_hop = \"sip:127.0.0.1:5080;transport=tcp\"; record_route = true;\n"
    "    udp_fragment = true; filters = [ \"strip\" ]; },\n"
    "  { name = \"carrier\"; match = { source = \"198.51.100.0/24\"; };\n"
    "    next_hop = \"sip:localhost\"; next_hop_tcp = true; },\n"
    "  { name = \"v6\"; match = { source = [ \"::/0\" ]; };\n"
    "    next_hop = \"sip:[::1]:5062;lr\"; filters = [ ]; }\n"
    ");\n";

static void loads_every_field_of_a_full_file(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, full_conf);
    const struct sockaddr_in *sin;
    const struct sockaddr_in6 *sin6;
    const struct sw_trunk *t;
    uint8_t a[16];

    assert_string_equal(c->path, f->path);
    assert_int_equal(c->nlisten, 2);
    sin = (const struct sockaddr_in *)&c->listen[0].addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 5060);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(c->listen[0].addrlen, sizeof(struct sockaddr_in));
    assert_int_equal(c->listen[0].transports, SW_UDP | SW_TCP);
    assert_string_equal(c->listen[0].advertise, "192.0.2.1:5060");
    sin6 = (const struct sockaddr_in6 *)&c->listen[1].addr;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 5070);
    assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    assert_int_equal(c->listen[1].transports, SW_UDP);
    assert_string_equal(c->listen[1].advertise, "");

    assert_int_equal(c->workers, 4);
    assert_string_equal(c->pid_file, "/run/stirwired.pid");
    assert_string_equal(c->user, "root");
    assert_int_equal(c->log_syslog, 1);
    assert_int_equal(c->log_level, LOG_DEBUG);
    assert_int_equal(c->udp_rcvbuf, 8388608);

    assert_int_equal(c->ntrunks, 3);
    t = &c->trunks[0];
    assert_string_equal(t->name, "pbx");
    assert_int_equal(t->nsources, 2);
    assert_int_equal(t->sources[0].family, AF_INET);
    assert_int_equal(t->sources[0].bits, 32);
    inet_pton(AF_INET, "192.0.2.10", a);
    assert_memory_equal(t->sources[0].addr, a, 4);
    assert_int_equal(t->sources[1].family, AF_INET6);
    assert_int_equal(t->sources[1].bits, 32);
    inet_pton(AF_INET6, "2001:db8::", a);
    assert_memory_equal(t->sources[1].addr, a, 16);
    assert_int_equal(t->match_port, 5062);
    assert_string_equal(t->match_domain, "example.com");
    assert_string_equal(t->next_hop.uri, "sip:127.0.0.1:5080;transport=tcp");
    assert_string_equal(t->next_hop.host, "127.0.0.1");
    assert_int_equal(t->next_hop.port, 5080);
    assert_int_equal(t->next_hop.transport, SW_TCP);
    assert_int_equal(t->next_hop.tcp_capable, 1);
    sin = (const struct sockaddr_in *)&t->next_hop.addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 5080);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(t->next_hop.addrlen, sizeof(struct sockaddr_in));
    assert_int_equal(t->record_route, 1);
    assert_int_equal(t->udp_fragment, 1);
    assert_int_equal(t->nchain, 1);
    assert_string_equal(t->chain[0].filter->name, "strip");

    t = &c->trunks[1];
    assert_string_equal(t->name, "carrier");
    assert_int_equal(t->nsources, 1);
    assert_int_equal(t->sources[0].bits, 24);
    assert_int_equal(t->match_port, 0);
    assert_null(t->match_domain);
    assert_string_equal(t->next_hop.host, "localhost");
    assert_int_equal(t->next_hop.port, 5060);
    assert_int_equal(t->next_hop.transport, SW_UDP);
    assert_int_equal(t->next_hop.tcp_capable, 1);
    assert_true(t->next_hop.addr.ss_family == AF_INET || t->next_hop.addr.ss_family == AF_INET6);
    assert_true(t->next_hop.addrlen > 0);
    assert_int_equal(t->record_route, 0);
    assert_int_equal(t->udp_fragment, 0);
    assert_int_equal(t->nchain, 0);

    t = &c->trunks[2];
    assert_string_equal(t->next_hop.host, "::1");
    assert_int_equal(t->next_hop.port, 5062);
    assert_int_equal(t->next_hop.transport, SW_UDP);
    assert_int_equal(t->next_hop.tcp_capable, 0);
    sin6 = (const struct sockaddr_in6 *)&t->next_hop.addr;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 5062);
    assert_int_equal(t->nsources, 1);
    assert_int_equal(t->sources[0].bits, 0);
}

static void absent_settings_take_their_defaults(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, LISTEN);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&c->listen[0].addr;

    assert_int_equal(c->nlisten, 1);
    assert_int_equal(ntohs(sin->sin_port), 5060);
    assert_int_equal(c->listen[0].transports, SW_UDP | SW_TCP);
    assert_int_equal(c->workers, 0);
    assert_null(c->pid_file);
    assert_null(c->user);
    assert_int_equal(c->log_syslog, 0);
    assert_int_equal(c->log_level, LOG_INFO);
    assert_int_equal(c->udp_rcvbuf, 0);
    assert_int_equal(c->ntrunks, 0);
}

static void reports_an_unknown_top_level_key_naming_the_known_ones(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "\nworkerz = 2;\n"), 1);
    HAS_ERROR(f, 3, "unknown setting \"workerz\"", "did you mean \"workers\"", "listen", "trunks",
              "udp_rcvbuf");
}

static void reports_an_unknown_trunk_key(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "trunks = ( { name = \"t\";\n"
                                        "  match = { source = \"10.0.0.0/8\"; };\n"
                                        "  next_hop = \"sip:10.1.2.3\";\n"
                                        "  recod_route = true; } );\n"),
                     1);
    HAS_ERROR(f, 5, "unknown setting \"recod_route\"", "trunk \"t\"", "record_route",
              "next_hop_tcp", "sign");
}

static void reports_a_bad_cidr_on_its_line(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "trunks = ( { name = \"t\";\n"
                                        "  match = { source = [ \"10.0.0.0/8\",\n"
                                        "                       \"10.0.0.300/8\",\n"
                                        "                       \"10.1.0.0/33\",\n"
                                        "                       \"10.1.2.3/16\" ]; };\n"
                                        "  next_hop = \"sip:10.1.2.3\"; } );\n"),
                     3);
    HAS_ERROR(f, 4, "\"10.0.0.300/8\"", "not a CIDR");
    HAS_ERROR(f, 5, "\"10.1.0.0/33\"", "0..32");
    HAS_ERROR(f, 6, "\"10.1.2.3/16\"", "10.1.0.0/16");
}

static void reports_port_zero(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, "listen = (\n  { address = \"127.0.0.1\";\n    port = 0; } );\n"),
                     1);
    HAS_ERROR(f, 3, "port", "1..65535");
}

static void reports_an_unknown_filter_listing_the_known_ones(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "trunks = ( { name = \"t\";\n"
                                        "  match = { source = \"10.0.0.0/8\"; };\n"
                                        "  next_hop = \"sip:10.1.2.3\";\n"
                                        "  filters = [ \"strip\", \"sing\" ]; } );\n"),
                     1);
    HAS_ERROR(f, 5, "unknown filter \"sing\"", "known: ", "sign", "strip");
}

static void reports_a_duplicate_trunk_name(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "trunks = (\n"
                                        "  { name = \"t\"; match = { source = \"10.0.0.0/8\"; };\n"
                                        "    next_hop = \"sip:10.1.2.3\"; },\n"
                                        "  { name = \"t\"; match = { source = \"::/0\"; };\n"
                                        "    next_hop = \"sip:10.1.2.3\"; } );\n"),
                     1);
    HAS_ERROR(f, 5, "\"t\"", "used twice");
}

static void reports_a_syntax_error_on_its_line(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "workers = 2;\n\nlog = { level = ; };\n"), 1);
    HAS_ERROR(f, 4, "syntax error");
}

static void reports_every_error_in_one_run(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, "listen = ( { address = \"localhost\"; port = 70000;\n" /* 1 */
                                 "             transport = [ \"sctp\" ]; } );\n"
                                 "workers = 300;\n" /* 3 */
                                 "log = { level = \"verbose\"; };\n"
                                 "trunks = (\n" /* 5 */
                                 "  { name = \"\"; match = { source = \"10.0.0.0/8\"; };\n"
                                 "    next_hop = \"sip:10.1.2.3;transport=sctp\"; },\n" /* 7 */
                                 "  { name = \"b\"; match = { source = \"10.0.0.0/8\"; };\n"
                                 "    next_hop = \"http://10.1.2.3/\"; } );\n"), /* 9 */
                     8);
    HAS_ERROR(f, 1, "port", "70000");
    HAS_ERROR(f, 1, "\"localhost\"", "not an IPv4 or IPv6 address");
    HAS_ERROR(f, 2, "unknown transport \"sctp\"");
    HAS_ERROR(f, 3, "workers", "0..256");
    HAS_ERROR(f, 4, "unknown level \"verbose\"", "debug");
    HAS_ERROR(f, 6, "name must not be empty");
    HAS_ERROR(f, 7, "transport must be udp or tcp");
    HAS_ERROR(f, 9, "must be a sip: URI");
    in_line_order(f);
}

static void names_an_included_file_in_its_errors(void **state)
{
    struct fixture *f = *state;
    char inc[160];
    FILE *fp;

    snprintf(inc, sizeof(inc), "%s/trunks.conf", f->dir);
    assert_non_null(fp = fopen(inc, "w"));
    fputs("trunks = ( { name = \"t\"; match = { source = \"10.0.0.0/8\"; };\n"
          "  next_hop = \"sip:10.1.2.3\"; filterz = [ ]; } );\n",
          fp);
    assert_int_equal(fclose(fp), 0);
    /* Relative to the main file's directory, wherever the daemon runs. */
    assert_int_equal(load_bad(f, LISTEN "workers = -1;\n@include \"trunks.conf\"\n"), 2);
    HAS_ERROR(f, 2, "workers");
    assert_non_null(strstr(f->errs, "/trunks.conf:2: unknown setting \"filterz\""));
    /* The main file's errors come first. */
    assert_true(strstr(f->errs, "workers") < strstr(f->errs, "filterz"));
    unlink(inc);
}

static void reports_a_filters_own_error_at_the_trunk(void **state)
{
    struct fixture *f = *state;

    /* sign without its settings group: the filter refuses, the loader adds where. */
    assert_int_equal(load_bad(f, LISTEN "trunks = (\n"
                                        "  { name = \"pbx\";\n"
                                        "    match = { source = \"10.0.0.0/8\"; };\n"
                                        "    next_hop = \"sip:10.1.2.3\";\n"
                                        "    filters = [ \"sign\" ]; } );\n"),
                     1);
    HAS_ERROR(f, 3, "trunk \"pbx\": filter \"sign\": ");
}

static void reports_every_error_inside_a_filter_group_at_its_own_line(void **state)
{
    struct fixture *f = *state;

    /* three mistakes in one sign group: each at its line, all in one run, with a hint */
    assert_int_equal(load_bad(f,
                              LISTEN "trunks = (\n" /* 2 */
                                     "  { name = \"pbx\"; match = { source = \"10.0.0.0/8\"; };\n"
                                     "    next_hop = \"sip:10.1.2.3\"; filters = [ \"sign\" ];\n"
                                     "    sign = {\n" /* 5 */
                                     "      key = \"/etc/stirwire/k.pem\";\n"
                                     "      x5u = \"http://certs.example.net/sp.pem\";\n" /* 7 */
                                     "      atest = ( { level = \"A\"; } );\n"            /* 8 */
                                     "      origid = \"per-cal\";\n"                      /* 9 */
                                     "    }; } );\n"),
                     4);
    HAS_ERROR(f, 7, "trunk \"pbx\": filter \"sign\": ", "sign.x5u", "not an https URL");
    HAS_ERROR(f, 8, "sign.atest: unknown setting", "did you mean \"attest\"");
    HAS_ERROR(f, 9, "sign.origid", "per-cal");
    /* and the group misses attest: said at the group's line */
    HAS_ERROR(f, 5, "sign.attest: missing");
    in_line_order(f);
}

static void refuses_a_filter_group_for_a_filter_the_trunk_does_not_run(void **state)
{
    struct fixture *f = *state;

    /*
     * A sign group on a trunk whose filters forgot "sign": it would be read, found fine
     * and never used, and every call would leave unsigned. Even a group whose key file
     * does not exist used to pass -t.
     */
    assert_int_equal(load_bad(f,
                              LISTEN "trunks = (\n"
                                     "  { name = \"pbx\"; match = { source = \"10.0.0.0/8\"; };\n"
                                     "    next_hop = \"sip:10.1.2.3\"; filters = [ \"strip\" ];\n"
                                     "    sign = { key = \"/nonexistent.pem\";\n" /* 5 */
                                     "             x5u = \"https://c.example.net/sp.pem\";\n"
                                     "             attest = ( { level = \"A\"; } ); }; } );\n"),
                     1);
    HAS_ERROR(f, 5, "trunk \"pbx\"", "\"sign\" is not in filters");
}

static void refuses_a_group_for_a_filter_that_takes_no_settings(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f,
                              LISTEN "trunks = (\n"
                                     "  { name = \"pbx\"; match = { source = \"10.0.0.0/8\"; };\n"
                                     "    next_hop = \"sip:10.1.2.3\"; filters = [ \"strip\" ];\n"
                                     "    strip = { all = true; }; } );\n"), /* 5 */
                     1);
    HAS_ERROR(f, 5, "filter \"strip\" takes no settings");
}

/* A P-256 key in PEM at path, for the sign filter. */
static void write_key(const char *path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    FILE *fp = fopen(path, "w");

    assert_non_null(pkey);
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(fp), 0);
    EVP_PKEY_free(pkey);
}

static void configures_each_filter_of_a_chain_in_order(void **state)
{
    struct fixture *f = *state;
    char key[160], *text;
    const struct sw_config *c;
    size_t n;

    snprintf(key, sizeof(key), "%s/key.pem", f->dir);
    write_key(key);
    n = strlen(key) + 512;
    text = malloc(n);
    assert_non_null(text);
    snprintf(text, n,
             LISTEN "trunks = ( { name = \"pbx\"; match = { source = \"10.0.0.0/8\"; };\n"
                    "  next_hop = \"sip:10.1.2.3\"; filters = [ \"strip\", \"sign\" ];\n"
                    "  sign = { key = \"%s\"; x5u = \"https://certs.example.net/sp.pem\";\n"
                    "           attest = ( { level = \"B\"; } ); }; } );\n",
             key);
    c = load_ok(f, text);
    assert_int_equal(c->trunks[0].nchain, 2);
    assert_string_equal(c->trunks[0].chain[0].filter->name, "strip");
    assert_string_equal(c->trunks[0].chain[1].filter->name, "sign");
    assert_non_null(c->trunks[0].chain[1].state);
    free(text);
    /* The filter's state is freed by sw_config_unref (teardown); the key file may go now. */
    unlink(key);
}

static void reports_a_next_hop_name_that_does_not_resolve(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "trunks = ( { name = \"t\";\n"
                                        "  match = { source = \"10.0.0.0/8\"; };\n"
                                        "  next_hop = \"sip:no-such-host.invalid:5060\"; } );\n"),
                     1);
    HAS_ERROR(f, 4, "\"no-such-host.invalid\"", "does not resolve");
}

static void reports_missing_listen_and_trunk_essentials(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, "workers = 1;\n"
                                 "trunks = ( { name = \"t\"; } );\n"),
                     3);
    assert_non_null(strstr(f->errs, "at least one listener"));
    HAS_ERROR(f, 2, "match is missing");
    HAS_ERROR(f, 2, "next_hop is missing");
}

static void reports_too_long_and_repeated_chains(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load_bad(f, LISTEN "trunks = (\n"
                                        "  { name = \"a\"; match = { source = \"10.0.0.0/8\"; };\n"
                                        "    next_hop = \"sip:10.1.2.3\";\n"
                                        "    filters = [ \"strip\", \"strip\" ]; },\n"
                                        "  { name = \"b\"; match = { source = \"10.0.0.0/8\"; };\n"
                                        "    next_hop = \"sip:10.1.2.3\";\n"
                                        "    filters = [ \"strip\", \"strip\", \"strip\", "
                                        "\"strip\", \"strip\", \"strip\", \"strip\", \"strip\", "
                                        "\"strip\" ]; } );\n"),
                     2);
    HAS_ERROR(f, 5, "\"strip\" is listed twice");
    HAS_ERROR(f, 8, "at most 8");
}

static void reports_an_unreadable_file(void **state)
{
    struct fixture *f = *state;
    struct sw_config *c = NULL;

    assert_int_equal(
        sw_config_load("/nonexistent/stirwire.conf", NULL, &c, f->errs, sizeof(f->errs)), -1);
    assert_null(c);
    assert_non_null(strstr(f->errs, "/nonexistent/stirwire.conf: cannot open: "));
}

static void keeps_errors_within_a_small_buffer(void **state)
{
    struct fixture *f = *state;
    struct sw_config *c = NULL;
    char small[40];

    write_conf(f, "workers = 1000;\nudp_rcvbuf = -1;\nfoo = 1;\n");
    memset(small, 'x', sizeof(small));
    assert_int_equal(sw_config_load(f->path, NULL, &c, small, sizeof(small)), -1);
    assert_null(c);
    /* Whole lines only, then "..." when more did not fit. */
    assert_true(memchr(small, '\0', sizeof(small)) != NULL);
    assert_true(strlen(small) == 0 || strstr(small, "...\n") != NULL);
    assert_int_equal(sw_config_load(f->path, NULL, &c, NULL, 0), -1);
    assert_int_equal(sw_config_load(f->path, NULL, &c, f->errs, sizeof(f->errs)), -1);
    assert_int_equal(strstr(f->errs, ":3: unknown setting \"foo\"") != NULL, 1);
}

/* The sample file in etc/ must use only settings the loader knows. */
static void sample_file_uses_only_known_settings(void **state)
{
    struct fixture *f = *state;
    const char *srcdir = getenv("SRCDIR");
    char path[4096];
    struct sw_config *c = NULL;
    struct sw_services svc;
    const char *p;

    if (srcdir == NULL)
        skip();
    snprintf(path, sizeof(path), "%s/etc/stirwire.conf", srcdir);

    sw_services_init(&svc);
    if (sw_config_load(path, &svc, &c, f->errs, sizeof(f->errs)) == 0) {
        sw_config_unref(c);
        sw_services_clear(&svc);
        return;
    }
    sw_services_clear(&svc);
    /*
     * Only the files it names that are not on this machine may be objected to: the sign
     * filter's key, the verifier's CA and CRL files.
     */
    if (strstr(f->errs, "unknown setting") != NULL || strstr(f->errs, "syntax error") != NULL)
        fail_msg("sample configuration:\n%s", f->errs);
    for (p = f->errs; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        char one[1024];

        snprintf(one, sizeof(one), "%.*s", (int)len, p);
        if (strstr(one, "filter \"sign\"") == NULL && strstr(one, ": verifier.ca_") == NULL &&
            strstr(one, ": verifier.crl_files") == NULL &&
            strstr(one, ": verifier.cache_dir") == NULL &&
            strstr(one, ": verifier.tls_ca_file") == NULL)
            fail_msg("sample configuration:\n%s", f->errs);
        p += len + (eol != NULL);
    }
}

/* ---- matching ---------------------------------------------------------------------- */

static struct sockaddr_storage addr(const char *ip, int port)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    return ss;
}

/* The name of the trunk src:port (with Request-URI host) matches, or "-" for none. */
static const char *match(const struct sw_config *c, const char *ip, int port, const char *host)
{
    struct sockaddr_storage ss = addr(ip, port);
    const struct sw_trunk *t = sw_config_match(c, (const struct sockaddr *)&ss, host);
    return t != NULL ? t->name : "-";
}

static const char match_conf[] =
    LISTEN "trunks = (\n"
           "  { name = \"port\"; match = { source = \"192.0.2.0/24\"; port = 5099; };\n"
           "    next_hop = \"sip:10.1.2.3\"; },\n"
           "  { name = \"domain\"; match = { source = \"192.0.2.0/24\"; domain = \"Example.COM\"; "
           "};\n"
           "    next_hop = \"sip:10.1.2.3\"; },\n"
           "  { name = \"net\"; match = { source = [ \"192.0.2.0/25\", \"2001:db8:1::/48\" ]; };\n"
           "    next_hop = \"sip:10.1.2.3\"; },\n"
           "  { name = \"host\"; match = { source = [ \"198.51.100.7\", \"2001:db8::7\" ]; };\n"
           "    next_hop = \"sip:10.1.2.3\"; },\n"
           "  { name = \"odd\"; match = { source = [ \"203.0.112.0/23\" ]; };\n"
           "    next_hop = \"sip:10.1.2.3\"; },\n"
           "  { name = \"wide\"; match = { source = [ \"192.0.0.0/8\" ]; };\n"
           "    next_hop = \"sip:10.1.2.3\"; } );\n";

static void matches_ipv4_cidrs(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);

    assert_string_equal(match(c, "192.0.2.1", 5060, NULL), "net");
    assert_string_equal(match(c, "192.0.2.127", 5060, NULL), "net");
    assert_string_equal(match(c, "192.0.2.128", 5060, NULL), "wide");
    assert_string_equal(match(c, "198.51.100.7", 5060, NULL), "host");
    assert_string_equal(match(c, "198.51.100.8", 5060, NULL), "-");
    assert_string_equal(match(c, "203.0.113.200", 1, NULL), "odd");
    assert_string_equal(match(c, "203.0.112.5", 1, NULL), "odd");
    assert_string_equal(match(c, "203.0.114.5", 1, NULL), "-");
}

static void matches_ipv6_cidrs(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);

    assert_string_equal(match(c, "2001:db8:1:ffff::1", 5060, NULL), "net");
    assert_string_equal(match(c, "2001:db8:2::1", 5060, NULL), "-");
    assert_string_equal(match(c, "2001:db8::7", 5060, NULL), "host");
    assert_string_equal(match(c, "2001:db8::8", 5060, NULL), "-");
}

static void matches_ipv4_mapped_sources_against_ipv4_cidrs(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);

    assert_string_equal(match(c, "::ffff:192.0.2.1", 5060, NULL), "net");
    assert_string_equal(match(c, "::ffff:198.51.100.7", 5060, NULL), "host");
    assert_string_equal(match(c, "::ffff:198.51.100.8", 5060, NULL), "-");
    /* Not mapped: the same low 32 bits in another IPv6 address are not that IPv4 peer. */
    assert_string_equal(match(c, "::198.51.100.7", 5060, NULL), "-");
}

static void matches_on_source_port_when_set(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);

    assert_string_equal(match(c, "192.0.2.200", 5099, NULL), "port");
    assert_string_equal(match(c, "::ffff:192.0.2.200", 5099, NULL), "port");
    assert_string_equal(match(c, "192.0.2.200", 5098, NULL), "wide");
}

static void matches_on_request_uri_domain_when_set(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);

    assert_string_equal(match(c, "192.0.2.200", 5060, "example.com"), "domain");
    assert_string_equal(match(c, "192.0.2.200", 5060, "EXAMPLE.com"), "domain");
    assert_string_equal(match(c, "192.0.2.200", 5060, "example.org"), "wide");
    assert_string_equal(match(c, "192.0.2.200", 5060, NULL), "wide");
}

static void first_matching_trunk_wins(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);

    /* 192.0.2.1:5099 fits "port", "net" and "wide": file order decides. */
    assert_string_equal(match(c, "192.0.2.1", 5099, "example.com"), "port");
    assert_string_equal(match(c, "192.0.2.1", 5060, "example.com"), "domain");
    assert_string_equal(match(c, "192.0.2.1", 5060, "example.net"), "net");
}

static void no_match_gives_null(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, match_conf);
    struct sockaddr_storage ss;

    assert_string_equal(match(c, "10.0.0.1", 5060, NULL), "-");
    assert_string_equal(match(c, "::1", 5060, NULL), "-");
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    assert_null(sw_config_match(c, (const struct sockaddr *)&ss, NULL));
    assert_null(sw_config_match(NULL, (const struct sockaddr *)&ss, NULL));
    c = load_ok(f, LISTEN);
    assert_string_equal(match(c, "192.0.2.1", 5060, NULL), "-");
}

/* The tcp group: its values, its defaults, and its errors at their lines. */
static void reads_the_tcp_limits(void **state)
{
    struct fixture *f = *state;
    struct sw_config *c;

    c = load_ok(f, LISTEN);
    assert_int_equal(c->tcp_max_connections, SW_DEFAULT_TCP_MAX_CONNECTIONS);
    assert_int_equal(c->tcp_max_per_source, SW_DEFAULT_TCP_MAX_PER_SOURCE);
    assert_int_equal(c->tcp_partial_timeout, SW_DEFAULT_TCP_PARTIAL_TIMEOUT);
    assert_int_equal(c->tcp_trunk_sources_only, 0);
    c = load_ok(f, LISTEN "tcp = { max_connections = 500; max_per_source = 0;\n"
                          "  partial_timeout = 3; trunk_sources_only = true; };\n");
    assert_int_equal(c->tcp_max_connections, 500);
    assert_int_equal(c->tcp_max_per_source, 0);
    assert_int_equal(c->tcp_partial_timeout, 3);
    assert_int_equal(c->tcp_trunk_sources_only, 1);
    load_bad(f, LISTEN "tcp = {\n  max_conections = 5;\n  partial_timeout = 0;\n};\n");
    has_error(f, 3, "max_conections", "max_connections", NULL);
    has_error(f, 4, "partial_timeout", "1..3600", NULL);
}

/* ---- the verifier group --------------------------------------------------------------- */

/* Trust anchors any Debian machine has; the tests that need a readable CA file skip without. */
#define BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static void reads_the_verifier_group(void **state)
{
    struct fixture *f = *state;
    struct sw_config *c;
    char text[2048];

    if (access(BUNDLE, R_OK) != 0)
        skip();
    c = load_ok(f, LISTEN);
    assert_int_equal(c->verifier.given, 0);
    assert_int_equal(c->verifier.timeout_ms, 4000); /* the library's defaults */
    assert_int_equal(c->verifier.crl_fetch, 1);
    assert_int_equal(c->verifier.min_ttl, 86400);
    assert_null(c->verifier.ca_file);
    snprintf(text, sizeof(text),
             LISTEN "verifier = {\n"
                    "  ca_file = \"" BUNDLE "\"; ca_dir = \"%s\";\n"
                    "  crl_fetch = false; crl_unreachable = \"tolerate\";\n"
                    "  allow_http = true; allow_private = true; allow_any_port = true;\n"
                    "  allow_query = true; allow_networks = [ \"127.0.0.0/8\", \"::1\" ];\n"
                    "  connect_timeout_ms = 500; timeout_ms = 1500; max_bytes = 65536;\n"
                    "  cache_entries = 100; min_ttl = 3600; negative_ttl = 5;\n"
                    "  cache_dir = \"%s\"; tls_ca_file = \"" BUNDLE "\";\n"
                    "};\n",
             f->dir, f->dir);
    c = load_ok(f, text);
    assert_int_equal(c->verifier.given, 1);
    assert_string_equal(c->verifier.ca_file, BUNDLE);
    assert_string_equal(c->verifier.ca_dir, f->dir);
    assert_int_equal(c->verifier.crl_fetch, 0);
    assert_int_equal(c->verifier.crl_unreachable, 1);
    assert_int_equal(c->verifier.allow_http + c->verifier.allow_private +
                         c->verifier.allow_any_port + c->verifier.allow_query,
                     4);
    assert_string_equal(c->verifier.allow_networks, "127.0.0.0/8,::1");
    assert_int_equal(c->verifier.connect_timeout_ms, 500);
    assert_int_equal(c->verifier.timeout_ms, 1500);
    assert_int_equal(c->verifier.max_bytes, 65536);
    assert_int_equal(c->verifier.cache_entries, 100);
    assert_int_equal(c->verifier.min_ttl, 3600);
    assert_int_equal(c->verifier.negative_ttl, 5);
    assert_string_equal(c->verifier.cache_dir, f->dir);
    assert_string_equal(c->verifier.tls_ca_file, BUNDLE);
}

static void reports_verifier_mistakes_at_their_lines(void **state)
{
    struct fixture *f = *state;
    char text[2048];

    snprintf(text, sizeof(text),
             LISTEN "verifier = {\n"                                    /* 2 */
                    "  ca_fiel = \"/x.pem\";\n"                         /* 3 */
                    "  ca_file = \"/nonexistent/sti-ca.pem\";\n"        /* 4 */
                    "  crl_files = [ \"%s\" ];\n"                       /* 5 */
                    "  crl_unreachable = \"ignore\";\n"                 /* 6 */
                    "  allow_networks = [ \"127.0.0.1/8\" ];\n"         /* 7 */
                    "  connect_timeout_ms = 5000; timeout_ms = 4000;\n" /* 8 */
                    "  cache_dir = \"%s\";\n"                           /* 9 */
                    "  allow_http = \"yes\";\n"                         /* 10 */
                    "};\n",
             f->path, f->path);
    load_bad(f, text);
    has_error(f, 3, "ca_fiel", "did you mean \"ca_file\"", NULL);
    has_error(f, 4, "verifier.ca_file", "/nonexistent/sti-ca.pem", NULL);
    has_error(f, 5, "verifier.crl_files[0]", "CRL", NULL);
    has_error(f, 6, "crl_unreachable", "\"fail\" or \"tolerate\"", NULL);
    has_error(f, 7, "verifier.allow_networks[0]", NULL);
    has_error(f, 8, "connect_timeout_ms 5000 is above timeout_ms 4000", NULL);
    has_error(f, 9, "verifier.cache_dir", "not a directory", NULL);
    has_error(f, 10, "allow_http", NULL);
    in_line_order(f);
    load_bad(f, LISTEN "verifier = \"/etc/stirwire\";\n");
    has_error(f, 2, "verifier must be a group", NULL);
}

/* A trunk that verifies with no trust anchor would fail every signed call. */
static void verify_without_trust_anchors_is_an_error(void **state)
{
    struct fixture *f = *state;
    struct sw_services svc;
    struct sw_config *c = NULL;

    sw_services_init(&svc);
    write_conf(f, LISTEN "trunks = ( { name = \"carrier\"; match = { source = \"0.0.0.0/0\"; };\n"
                         "  next_hop = \"sip:127.0.0.1:5080\"; filters = [ \"verify\" ]; } );\n");
    assert_int_equal(sw_config_load(f->path, &svc, &c, f->errs, sizeof(f->errs)), -1);
    has_error(f, 2, "trunk \"carrier\"", "needs trust anchors", "verifier.ca_file", NULL);
    sw_services_clear(&svc);
}

/*
 * The one verifier outlives configurations: a good file is applied to it, a bad one
 * (which sw_config_load refuses) never reaches it, and a reload applies to the same one.
 */
static void verifier_is_applied_only_from_a_valid_file_and_kept(void **state)
{
    struct fixture *f = *state;
    struct sw_services svc;
    struct sw_config *c = NULL, *next = NULL;
    sw_verifier *v;
    char msgs[1024];
    static const char trunk[] =
        "trunks = ( { name = \"carrier\"; match = { source = \"0.0.0.0/0\"; };\n"
        "  next_hop = \"sip:127.0.0.1:5080\"; filters = [ \"verify\" ];\n"
        "  verify = { policy = \"reject\"; }; } );\n";
    char text[1024];

    if (access(BUNDLE, R_OK) != 0)
        skip();
    sw_services_init(&svc);
    snprintf(text, sizeof(text), LISTEN "verifier = { ca_file = \"" BUNDLE "\"; };\n%s", trunk);
    write_conf(f, text);
    if (sw_config_load(f->path, &svc, &c, f->errs, sizeof(f->errs)) != 0)
        fail_msg("unexpected errors:\n%s", f->errs);
    v = svc.verifier;
    assert_non_null(v); /* made by the verify filter's configure */
    assert_int_equal(sw_config_apply_verifier(c, NULL, &svc, msgs, sizeof(msgs)), 0);
    assert_string_equal(msgs, "");
    assert_ptr_equal(svc.verifier, v);

    /* a reload with a mistake in the verifier group: refused, nothing applied */
    snprintf(text, sizeof(text), LISTEN "verifier = { ca_file = \"/nonexistent.pem\"; };\n%s",
             trunk);
    write_conf(f, text);
    assert_int_equal(sw_config_load(f->path, &svc, &next, f->errs, sizeof(f->errs)), -1);
    assert_null(next);
    has_error(f, 2, "verifier.ca_file", NULL);
    assert_ptr_equal(svc.verifier, v);

    /* a good reload: the same verifier takes the new settings */
    snprintf(text, sizeof(text),
             LISTEN "verifier = { ca_file = \"" BUNDLE "\"; negative_ttl = 5; };\n%s", trunk);
    write_conf(f, text);
    if (sw_config_load(f->path, &svc, &next, f->errs, sizeof(f->errs)) != 0)
        fail_msg("unexpected errors:\n%s", f->errs);
    assert_int_equal(sw_config_apply_verifier(next, c, &svc, msgs, sizeof(msgs)), 0);
    assert_ptr_equal(svc.verifier, v);
    sw_config_unref(c);
    sw_config_unref(next);
    sw_services_clear(&svc);
}

/* ---- the http group ---------------------------------------------------------------- */

static void no_http_group_means_no_listener(void **state)
{
    struct fixture *f = *state;
    const struct sw_config *c = load_ok(f, LISTEN);

    assert_null(c->http);
    assert_null(c->api);
}

static void loads_the_http_group_with_its_keys_and_defaults(void **state)
{
    struct fixture *f = *state;
    char key[160], text[1400];
    const struct sw_config *c;

    snprintf(key, sizeof(key), "%s/key.pem", f->dir);
    write_key(key);
    snprintf(text, sizeof(text),
             LISTEN "http = { listen = \"[::1]:8091\"; threads = 3; max_body = 1000;\n"
                    "  tokens = { sign = \"s3cret\"; ops = \"m\"; };\n"
                    "  pub_dir = \"%s\";\n"
                    "  sign = { key = \"%s\"; x5u = \"https://certs.example.net/sp.pem\"; };\n"
                    "  check = { key = \"%s\"; max_age = 90; };\n};\n",
             f->dir, key, key);
    c = load_ok(f, text);
    assert_non_null(c->http);
    assert_non_null(c->api);
    assert_string_equal(c->http->listen, "[::1]:8091");
    assert_int_equal(c->http->threads, 3);
    assert_int_equal(c->http->max_body, 1000);
    assert_int_equal(c->http->max_connections, SW_HTTP_DEFAULT_MAX_CONNECTIONS);
    assert_int_equal(c->http->timeout, SW_HTTP_DEFAULT_TIMEOUT);
    assert_string_equal(c->http->token_sign, "s3cret");
    assert_string_equal(c->http->token_check, "");
    assert_string_equal(c->http->token_ops, "m");
    assert_non_null(c->api->sign_key);
    assert_string_equal(c->api->sign_x5u, "https://certs.example.net/sp.pem");
    assert_non_null(c->api->check_key);
    assert_true(c->api->pub_dirfd >= 0);
    assert_int_equal(c->api->max_age, 90);
    assert_int_equal(c->api->future_skew, SW_HTTP_DEFAULT_FUTURE_SKEW);
    sw_config_unref(f->cfg);
    f->cfg = NULL;
    unlink(key);
}

static void reports_every_http_error_at_its_line(void **state)
{
    struct fixture *f = *state;

    load_bad(f, LISTEN "http = {\n"                                                         /* 2 */
                       "  listn = \"127.0.0.1:8090\";\n"                                    /* 3 */
                       "  tls_cert = \"/nonexistent/cert.pem\";\n"                          /* 4 */
                       "  threads = 0;\n"                                                   /* 5 */
                       "  tokens = { sign = \"a b\"; chek = \"x\"; };\n"                    /* 6 */
                       "  pub_dir = \"/nonexistent/pub\";\n"                                /* 7 */
                       "  sign = { key = \"/nonexistent/key.pem\"; x5u = \"ftp://x\"; };\n" /* 8 */
                       "  check = { max_age = 0; };\n"                                      /* 9 */
                       "};\n"
                       "http2 = 1;\n");
    has_error(f, 3, "listn", "listen", NULL);
    has_error(f, 2, "tls_cert and tls_key go together", NULL);
    has_error(f, 5, "threads", NULL);
    has_error(f, 6, "tokens.sign", "printable", NULL);
    has_error(f, 6, "chek", "check", NULL);
    has_error(f, 7, "pub_dir", "/nonexistent/pub", NULL);
    has_error(f, 8, "sign.key", "/nonexistent/key.pem", NULL);
    has_error(f, 8, "x5u", "ftp://x", NULL);
    has_error(f, 9, "max_age", NULL);
    has_error(f, 11, "http2", "http", NULL);
    load_bad(f, LISTEN "http = { listen = \"localhost:8090\"; };\n");
    has_error(f, 2, "http.listen", "ADDR:PORT", NULL);
    load_bad(f, LISTEN "http = { listen = \"127.0.0.1:0\"; };\n");
    has_error(f, 2, "http.listen", NULL);
    load_bad(f, LISTEN "http = { tls_cert = \"/nonexistent/c.pem\"; tls_key = \"/x.key\"; };\n");
    has_error(f, 2, "http.tls_cert /nonexistent/c.pem", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(loads_every_field_of_a_full_file),
        T(no_http_group_means_no_listener),
        T(loads_the_http_group_with_its_keys_and_defaults),
        T(reports_every_http_error_at_its_line),
        T(absent_settings_take_their_defaults),
        T(reports_an_unknown_top_level_key_naming_the_known_ones),
        T(reports_an_unknown_trunk_key),
        T(reports_a_bad_cidr_on_its_line),
        T(reports_port_zero),
        T(reports_an_unknown_filter_listing_the_known_ones),
        T(reports_a_duplicate_trunk_name),
        T(reports_a_syntax_error_on_its_line),
        T(reports_every_error_in_one_run),
        T(names_an_included_file_in_its_errors),
        T(reports_a_filters_own_error_at_the_trunk),
        T(reports_every_error_inside_a_filter_group_at_its_own_line),
        T(refuses_a_filter_group_for_a_filter_the_trunk_does_not_run),
        T(refuses_a_group_for_a_filter_that_takes_no_settings),
        T(configures_each_filter_of_a_chain_in_order),
        T(reports_a_next_hop_name_that_does_not_resolve),
        T(reports_missing_listen_and_trunk_essentials),
        T(reports_too_long_and_repeated_chains),
        T(reports_an_unreadable_file),
        T(keeps_errors_within_a_small_buffer),
        T(sample_file_uses_only_known_settings),
        T(matches_ipv4_cidrs),
        T(matches_ipv6_cidrs),
        T(matches_ipv4_mapped_sources_against_ipv4_cidrs),
        T(matches_on_source_port_when_set),
        T(matches_on_request_uri_domain_when_set),
        T(first_matching_trunk_wins),
        T(no_match_gives_null),
        T(reads_the_tcp_limits),
        T(reads_the_verifier_group),
        T(reports_verifier_mistakes_at_their_lines),
        T(verify_without_trust_anchors_is_an_error),
        T(verifier_is_applied_only_from_a_valid_file_and_kept),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
