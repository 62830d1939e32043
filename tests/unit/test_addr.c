/*
 * test_addr.c - the address toolkit (src/core/addr.c): literals in and out, v4-mapped
 * peers seen as IPv4, equality and hashing, CIDR parsing and matching, and next hops
 * read with libosip2 (src/core/trunk.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "../../src/core/trunk.h"

static void literals_become_addresses_and_back(void **unused)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char s[SW_ADDR_STRLEN];

    assert_int_equal(sw_addr_from_ip("192.0.2.1", 5060, &ss, &len), 0);
    sw_addr_str((struct sockaddr *)&ss, s, sizeof(s));
    assert_string_equal(s, "192.0.2.1:5060");
    assert_int_equal(sw_addr_port((struct sockaddr *)&ss), 5060);
    assert_int_equal(sw_addr_from_ip("2001:db8::1", 5061, &ss, &len), 0);
    sw_addr_str((struct sockaddr *)&ss, s, sizeof(s));
    assert_string_equal(s, "[2001:db8::1]:5061");
    assert_int_equal(sw_addr_from_ip("10.1", 5060, &ss, &len), -1);
    assert_int_equal(sw_addr_from_ip("0x7f.0.0.1", 5060, &ss, &len), -1);
    assert_int_equal(sw_addr_from_ip("example.com", 5060, &ss, &len), -1);
}

static void a_v4_mapped_peer_is_ipv4_everywhere(void **unused)
{
    struct sockaddr_storage a, b;
    socklen_t la, lb;
    struct sw_cidr c;
    char why[128], ip[64];
    int port;

    assert_int_equal(sw_addr_from_ip("::ffff:198.51.100.7", 5060, &a, &la), 0);
    assert_int_equal(sw_addr_from_ip("198.51.100.7", 5060, &b, &lb), 0);
    sw_addr_ip((struct sockaddr *)&a, ip, sizeof(ip), &port);
    assert_string_equal(ip, "198.51.100.7");
    assert_int_equal(sw_cidr_parse("198.51.100.0/24", &c, why, sizeof(why)), 0);
    assert_true(sw_cidr_match(&c, (struct sockaddr *)&a));
    assert_false(sw_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
    sw_addr_normalise(&a, &la);
    assert_int_equal(la, sizeof(struct sockaddr_in));
    assert_true(sw_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
    assert_int_equal(sw_addr_hash((struct sockaddr *)&a), sw_addr_hash((struct sockaddr *)&b));
}

static void cidrs_refuse_host_bits_and_match_by_prefix(void **unused)
{
    struct sw_cidr c;
    struct sockaddr_storage ss;
    socklen_t len;
    char why[128];

    assert_int_equal(sw_cidr_parse("10.1.2.3/16", &c, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "10.1.0.0/16"));
    assert_int_equal(sw_cidr_parse("10.0.0.0/33", &c, why, sizeof(why)), -1);
    assert_int_equal(sw_cidr_parse("2001:db8::/32", &c, why, sizeof(why)), 0);
    assert_int_equal(sw_addr_from_ip("2001:db8:ffff::1", 1, &ss, &len), 0);
    assert_true(sw_cidr_match(&c, (struct sockaddr *)&ss));
    assert_int_equal(sw_addr_from_ip("2001:db9::1", 1, &ss, &len), 0);
    assert_false(sw_cidr_match(&c, (struct sockaddr *)&ss));
    assert_int_equal(sw_cidr_parse("192.0.2.9", &c, why, sizeof(why)), 0);
    assert_int_equal(c.bits, 32);
}

static void next_hops_are_read_with_libosip2(void **unused)
{
    struct sw_hop hop;
    char why[256];

    assert_int_equal(sw_hop_parse("sip:[::1]:5062;lr;transport=TCP", &hop, why, sizeof(why)), 0);
    assert_string_equal(hop.host, "::1");
    assert_int_equal(hop.port, 5062);
    assert_int_equal(hop.transport, SW_TCP);
    assert_int_equal(hop.tcp_capable, 1);
    sw_hop_clear(&hop);
    assert_int_equal(sw_hop_parse("sip:alice@10.0.0.1", &hop, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "user part"));
    sw_hop_clear(&hop);
    assert_int_equal(sw_hop_parse("sip:10.0.0.1?Route=x", &hop, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "headers"));
    sw_hop_clear(&hop);
    assert_int_equal(sw_hop_parse("sip:10.0.0.1;maddr=1.2.3.4", &hop, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "maddr"));
    sw_hop_clear(&hop);
    assert_int_equal(sw_hop_parse("sip:10.0.0.1:0", &hop, why, sizeof(why)), -1);
    sw_hop_clear(&hop);
    assert_int_equal(sw_hop_parse("sips:10.0.0.1", &hop, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "sips"));
    sw_hop_clear(&hop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literals_become_addresses_and_back),
        cmocka_unit_test(a_v4_mapped_peer_is_ipv4_everywhere),
        cmocka_unit_test(cidrs_refuse_host_bits_and_match_by_prefix),
        cmocka_unit_test(next_hops_are_read_with_libosip2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
