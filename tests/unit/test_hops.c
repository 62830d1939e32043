/*
 * test_hops.c - a trunk's next hops (src/core/trunk.c, read by src/daemon/conffile.c): the
 * forms next_hop takes (one URI, a list, groups with priority and weight), health_check and
 * dns settings with their errors, what -t reports across trunks (a next hop that is our
 * own listener, a trunk an earlier one shadows), and sw_trunk_pick_hop: by priority, then by weight
 * with the Call-ID as the draw, away from hops marked down, and inside a dialog toward the hop its
 * Route or Request-URI names. Addresses are IP literals: no DNS is asked.
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
#include <cmocka.h>

#include "../../src/daemon/conffile.h"
#include "../../src/sip/sipmsg.h"

static char dir[64], path[128], errs[8192];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_hops.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/stirwire.conf", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static struct sw_config *load(const char *text, int ok)
{
    struct sw_config *c = NULL;
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    errs[0] = '\0';
    assert_int_equal(sw_config_load(path, NULL, &c, errs, sizeof(errs)), ok ? 0 : -1);
    if (ok)
        assert_non_null(c);
    return c;
}

#define HEAD                                                                                       \
    "listen = ( { address = \"192.0.2.1\"; } );\n"                                                 \
    "trunks = ( { name = \"t\"; match = { source = \"10.0.0.0/8\"; };\n"

static const char *hop_ip(const struct sw_hop *h, int *port)
{
    static char ip[64];
    sw_addr_ip((const struct sockaddr *)&h->addr, ip, sizeof(ip), port);
    return ip;
}

/* An INVITE with this Call-ID, and when totag is not NULL an in-dialog BYE to ruri. */
static const char *msg(struct sip_msg *m, char *buf, size_t size, const char *callid,
                       const char *totag, const char *ruri, const char *route)
{
    char err[160];
    int n = snprintf(buf, size,
                     "%s %s SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-%s\r\n"
                     "%s%s%s"
                     "From: <sip:12025550100@10.0.0.1>;tag=a\r\n"
                     "To: <sip:12025550199@example.com>%s%s\r\n"
                     "Call-ID: %s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                     totag ? "BYE" : "INVITE", ruri ? ruri : "sip:12025550199@example.com", callid,
                     route ? "Route: " : "", route ? route : "", route ? "\r\n" : "",
                     totag ? ";tag=" : "", totag ? totag : "", callid, totag ? "BYE" : "INVITE");
    assert_true(n > 0 && (size_t)n < size);
    assert_int_equal(sip_parse(m, buf, (size_t)n, err, sizeof(err)), 0);
    return buf;
}

static void one_uri_is_one_hop_as_before(void **state)
{
    struct sw_config *c = load(HEAD "next_hop = \"sip:10.1.2.3:5070;transport=tcp\"; } );\n", 1);
    const struct sw_trunk *t = &c->trunks[0];
    int port;

    (void)state;
    assert_non_null(t->route);
    assert_int_equal(atomic_load(&t->route->live)->n, 1);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, NULL), &port), "10.1.2.3");
    assert_int_equal(port, 5070);
    assert_int_equal(sw_trunk_pick_hop(t, NULL)->transport, SW_TCP);
    assert_string_equal(t->next_hop.uri, "sip:10.1.2.3:5070;transport=tcp");
    sw_config_unref(c);
}

static void a_list_is_primary_then_backups(void **state)
{
    struct sw_config *c =
        load(HEAD "next_hop = [ \"sip:10.1.1.1\", \"sip:10.1.1.2\", \"sip:10.1.1.3\" ]; } );\n", 1);
    const struct sw_trunk *t = &c->trunks[0];
    struct sw_hopset *set = atomic_load(&t->route->live);
    struct sip_msg m;
    char buf[1024], id[32];
    int i, port;

    (void)state;
    assert_int_equal(set->n, 3);
    for (i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "call-%d", i);
        msg(&m, buf, sizeof(buf), id, NULL, NULL, NULL);
        assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.1.1.1");
    }
    atomic_store(&set->down[0], 1);
    msg(&m, buf, sizeof(buf), "x", NULL, NULL, NULL);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.1.1.2");
    atomic_store(&set->down[1], 1);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.1.1.3");
    /* all down: the best priority is tried anyway */
    atomic_store(&set->down[2], 1);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.1.1.1");
    sw_config_unref(c);
}

static void equal_priority_shares_by_weight_and_a_call_keeps_its_hop(void **state)
{
    struct sw_config *c =
        load(HEAD "next_hop = ( { uri = \"sip:10.2.0.1\"; weight = 3; },\n"
                  "              { uri = \"sip:10.2.0.2\"; priority = 1; },\n"
                  "              { uri = \"sip:10.2.0.3\"; priority = 2; } ); } );\n",
             1);
    const struct sw_trunk *t = &c->trunks[0];
    struct sip_msg m;
    char buf[1024], id[32], first[64];
    int i, n1 = 0, n2 = 0, n3 = 0, port;

    (void)state;
    for (i = 0; i < 4000; i++) {
        const char *ip;
        snprintf(id, sizeof(id), "%d-4242@10.0.0.1", i);
        msg(&m, buf, sizeof(buf), id, NULL, NULL, NULL);
        ip = hop_ip(sw_trunk_pick_hop(t, &m), &port);
        n1 += strcmp(ip, "10.2.0.1") == 0;
        n2 += strcmp(ip, "10.2.0.2") == 0;
        n3 += strcmp(ip, "10.2.0.3") == 0;
        /* the CANCEL and the ACK of this call: the same Call-ID, the same hop */
        snprintf(first, sizeof(first), "%s", ip);
        assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), first);
    }
    print_message("weights 3:1 over 4000 calls: %d, %d (priority 2: %d)\n", n1, n2, n3);
    assert_int_equal(n3, 0);
    assert_in_range(n1, 2800, 3200);
    assert_in_range(n2, 800, 1200);
    sw_config_unref(c);
}

static void in_dialog_requests_follow_route_or_request_uri(void **state)
{
    struct sw_config *c = load(HEAD "next_hop = [ \"sip:10.3.0.1\", \"sip:10.3.0.2\" ]; } );\n", 1);
    const struct sw_trunk *t = &c->trunks[0];
    struct sw_hopset *set = atomic_load(&t->route->live);
    struct sip_msg m;
    char buf[1024];
    int port;

    (void)state;
    /* the Request-URI is the backup's Contact: the dialog lives there */
    msg(&m, buf, sizeof(buf), "d1", "xyz", "sip:10.3.0.2:5060", NULL);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.3.0.2");
    /* a Route set: our entry, then the SBC's */
    msg(&m, buf, sizeof(buf), "d2", "xyz", "sip:12025550199@198.51.100.7",
        "<sip:192.0.2.1;lr>, <sip:10.3.0.2;lr>");
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.3.0.2");
    /* even when that hop is marked down: no other hop knows the dialog */
    atomic_store(&set->down[1], 1);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.3.0.2");
    /* a new request never goes to a hop that is down */
    msg(&m, buf, sizeof(buf), "n1", NULL, "sip:12025550199@10.3.0.2", NULL);
    assert_string_equal(hop_ip(sw_trunk_pick_hop(t, &m), &port), "10.3.0.1");
    sw_config_unref(c);
}

static void a_republished_set_keeps_the_health_of_its_addresses(void **state)
{
    struct sw_config *c = load(HEAD "next_hop = [ \"sip:10.4.0.1\", \"sip:10.4.0.2\" ]; } );\n", 1);
    struct sw_route *r = c->trunks[0].route;
    struct sw_hopset *old = atomic_load(&r->live), *set;
    struct sw_hop hops[2];

    (void)state;
    atomic_store(&old->down[1], 1);
    hops[0] = old->hops[1]; /* the other order: the set sorts them */
    hops[1] = old->hops[0];
    set = sw_hopset_new(hops, 2);
    assert_non_null(set);
    sw_route_publish(r, set, 100);
    assert_ptr_equal(atomic_load(&r->live), set);
    assert_int_equal(atomic_load(&set->down[0]), 0);
    assert_int_equal(atomic_load(&set->down[1]), 1);
    assert_ptr_equal(r->retired, old);
    sw_route_reap(r, 110, 60);
    assert_ptr_equal(r->retired, old); /* within the grace */
    sw_route_reap(r, 160, 60);
    assert_null(r->retired);
    sw_config_unref(c);
}

static void reads_health_check_and_dns(void **state)
{
    struct sw_config *c =
        load("dns = { servers = [ \"127.0.0.1:5353\", \"[::1]:53\" ]; "
             "min_ttl = 2; max_ttl = 60; };\n" HEAD "next_hop = \"sip:10.5.0.1\";\n"
             "health_check = { interval = 2; down_after = 4; }; } );\n",
             1);
    const struct sw_route *r = c->trunks[0].route;

    (void)state;
    assert_string_equal(c->dns.servers, "127.0.0.1:5353,[::1]:53");
    assert_int_equal(c->dns.min_ttl, 2);
    assert_int_equal(c->dns.max_ttl, 60);
    assert_int_equal(r->health.interval, 2);
    assert_int_equal(r->health.down_after, 4);
    assert_int_equal(r->health.up_after, 2);
    assert_int_equal(r->dynamic, 0);
    sw_config_unref(c);
}

static void reports_mistakes_in_hops_at_their_lines(void **state)
{
    (void)state;
    assert_null(load("dns = { servers = [ \"localhost\" ]; };\n"                /* 1 */
                     HEAD                                                       /* 2, 3 */
                     "next_hop = ( { uri = \"sip:10.6.0.1\"; weight = -1; },\n" /* 4 */
                     "             { priority = 1; },\n"                        /* 5 */
                     "             { uri = \"sip:10.6.0.2\"; prio = 2; },\n"    /* 6 */
                     "             \"http://x\" );\n"                           /* 7 */
                     "health_check = { interval = 0; }; } );\n",                /* 8 */
                     0));
    assert_non_null(strstr(errs, ":1: dns: server \"localhost\""));
    assert_non_null(strstr(errs, ":4: "));
    assert_non_null(strstr(errs, ":5: trunk \"t\": next_hop: uri is missing"));
    assert_non_null(strstr(errs, ":6: "));
    assert_non_null(strstr(errs, "prio"));
    assert_non_null(strstr(errs, ":7: trunk \"t\": next_hop \"http://x\""));
    assert_non_null(strstr(errs, ":8: "));
}

static void reports_a_next_hop_that_is_our_own_listener(void **state)
{
    struct sw_config *c;

    (void)state;
    assert_null(load("listen = ( { address = \"127.0.0.1\"; port = 5070; } );\n"
                     "trunks = ( { name = \"t\"; match = { source = \"10.0.0.0/8\"; };\n"
                     "  next_hop = [ \"sip:10.7.0.1\", \"sip:127.0.0.1:5070\" ]; } );\n",
                     0));
    assert_non_null(strstr(errs, ":3: trunk \"t\": next hop 127.0.0.1:5070 is our own listener"));
    /* a wildcard listener takes loopback too */
    assert_null(load("listen = ( { address = \"0.0.0.0\"; } );\n"
                     "trunks = ( { name = \"t\"; match = { source = \"10.0.0.0/8\"; };\n"
                     "  next_hop = \"sip:127.0.0.1\"; } );\n",
                     0));
    assert_non_null(strstr(errs, "is our own listener"));
    /* another port, or a test of loop detection that says so, is fine */
    c = load("listen = ( { address = \"127.0.0.1\"; port = 5070; } );\n"
             "trunks = ( { name = \"loop\"; match = { source = \"10.9.0.0/16\"; };\n"
             "  next_hop = \"sip:127.0.0.1:5070\"; allow_self_loop = true; },\n"
             "  { name = \"t\"; match = { source = \"10.0.0.0/8\"; };\n"
             "  next_hop = \"sip:127.0.0.1:5080\"; } );\n",
             1);
    sw_config_unref(c);
}

static void reports_a_trunk_an_earlier_one_shadows(void **state)
{
    struct sw_config *c;

    (void)state;
    assert_null(load(HEAD "next_hop = \"sip:10.8.0.1\"; },\n" /* 2, 3 */
                          "  { name = \"inner\"; match = { source = [ \"10.1.0.0/16\", "
                          "\"10.2.3.4\" ]; port = 5060; };\n" /* 4 */
                          "    next_hop = \"sip:10.8.0.2\"; } );\n",
                     0));
    assert_non_null(strstr(errs, ":4: trunk \"inner\" can never match: trunk \"t\""));
    /* narrower first, or an earlier trunk restricted by port or domain: fine */
    c = load("listen = ( { address = \"192.0.2.1\"; } );\n"
             "trunks = ( { name = \"inner\"; match = { source = \"10.1.0.0/16\"; };\n"
             "    next_hop = \"sip:10.8.0.2\"; },\n"
             "  { name = \"dom\"; match = { source = \"10.0.0.0/8\"; domain = \"a.example\"; };\n"
             "    next_hop = \"sip:10.8.0.2\"; },\n"
             "  { name = \"all\"; match = { source = [ \"10.0.0.0/8\", \"::/0\" ]; };\n"
             "    next_hop = \"sip:10.8.0.1\"; } );\n",
             1);
    sw_config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_uri_is_one_hop_as_before),
        cmocka_unit_test(a_list_is_primary_then_backups),
        cmocka_unit_test(equal_priority_shares_by_weight_and_a_call_keeps_its_hop),
        cmocka_unit_test(in_dialog_requests_follow_route_or_request_uri),
        cmocka_unit_test(a_republished_set_keeps_the_health_of_its_addresses),
        cmocka_unit_test(reads_health_check_and_dns),
        cmocka_unit_test(reports_mistakes_in_hops_at_their_lines),
        cmocka_unit_test(reports_a_next_hop_that_is_our_own_listener),
        cmocka_unit_test(reports_a_trunk_an_earlier_one_shadows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
