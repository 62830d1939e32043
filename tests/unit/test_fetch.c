/*
 * test_fetch.c - the verifier's settings that need no network: SW_OPT_ALLOW_NETS (the
 * CIDR parser and the address check the fetch thread's sockets go through),
 * SW_OPT_CRL_UNREACHABLE's values, sw_verifier_reset_trust() and
 * sw_verifier_fetch_count() on a verifier that has fetched nothing. What these do to
 * real fetches is in tests/integration/fetch_test.c.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "verifier.h"

/* A policy whose nets are parsed from text (asserted to parse). */
static struct swi_policy policy_with(const char *text)
{
    struct swi_policy pol;

    memset(&pol, 0, sizeof(pol));
    assert_int_equal(swi_nets_parse(text, pol.nets, &pol.nnets), 0);
    return pol;
}

/* Whether pol lets a transfer connect to the literal address text (IPv4 or IPv6). */
static int allowed(const struct swi_policy *pol, const char *text)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;

    memset(&in, 0, sizeof(in));
    memset(&in6, 0, sizeof(in6));
    if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        return swi_addr_allowed(pol, (struct sockaddr *)&in);
    }
    assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
    in6.sin6_family = AF_INET6;
    return swi_addr_allowed(pol, (struct sockaddr *)&in6);
}

static void no_nets_refuses_special_addresses(void **state)
{
    struct swi_policy pol = policy_with(NULL);

    assert_int_equal(pol.nnets, 0);
    assert_false(allowed(&pol, "127.0.0.1"));
    assert_false(allowed(&pol, "10.255.255.1"));
    assert_false(allowed(&pol, "::1"));
    assert_false(allowed(&pol, "fd00::1"));
    assert_true(allowed(&pol, "8.8.8.8"));
    assert_true(allowed(&pol, "2606:4700::1111"));
}

static void allow_private_allows_everything(void **state)
{
    struct swi_policy pol = policy_with("");

    pol.allow_private = 1;
    assert_true(allowed(&pol, "127.0.0.1"));
    assert_true(allowed(&pol, "10.1.2.3"));
    assert_true(allowed(&pol, "fe80::1"));
}

static void nets_allow_only_their_blocks(void **state)
{
    struct swi_policy pol = policy_with("127.0.0.0/8, ::1/128");

    assert_int_equal(pol.nnets, 2);
    assert_true(allowed(&pol, "127.0.0.1"));
    assert_true(allowed(&pol, "127.255.0.9"));
    assert_true(allowed(&pol, "::1"));
    assert_false(allowed(&pol, "10.255.255.1"));
    assert_false(allowed(&pol, "192.168.1.1"));
    assert_false(allowed(&pol, "::2"));
    assert_false(allowed(&pol, "fd00::1"));
    assert_true(allowed(&pol, "8.8.8.8")); /* public addresses never needed a block */
}

static void ipv4_block_covers_v4_mapped_ipv6(void **state)
{
    struct swi_policy pol = policy_with("127.0.0.0/8");

    assert_true(allowed(&pol, "::ffff:127.0.0.1"));
    assert_false(allowed(&pol, "::ffff:10.0.0.1"));
    assert_false(allowed(&pol, "::1")); /* an IPv4 block says nothing of IPv6 loopback */
}

static void prefix_boundaries_are_exact(void **state)
{
    struct swi_policy pol = policy_with("10.16.0.0/12,fd12:3456::/33,192.168.1.7");

    assert_int_equal(pol.nnets, 3);
    assert_true(allowed(&pol, "10.31.255.255"));
    assert_false(allowed(&pol, "10.32.0.1"));
    assert_false(allowed(&pol, "10.15.255.255"));
    assert_true(allowed(&pol, "fd12:3456:7fff::1"));
    assert_false(allowed(&pol, "fd12:3456:8000::1"));
    assert_true(allowed(&pol, "192.168.1.7"));
    assert_false(allowed(&pol, "192.168.1.8"));
}

static void host_bits_past_the_prefix_are_cleared(void **state)
{
    struct swi_policy pol = policy_with("10.1.2.3/8");

    assert_int_equal(pol.nets[0].prefix, 8);
    assert_int_equal(pol.nets[0].addr[0], 10);
    assert_int_equal(pol.nets[0].addr[1], 0);
    assert_int_equal(pol.nets[0].addr[3], 0);
    assert_true(allowed(&pol, "10.200.0.1"));
}

static void zero_prefix_covers_a_whole_family(void **state)
{
    struct swi_policy pol = policy_with("0.0.0.0/0");

    assert_true(allowed(&pol, "10.0.0.1"));
    assert_true(allowed(&pol, "127.0.0.1"));
    assert_false(allowed(&pol, "::1"));
}

static void bad_nets_do_not_parse(void **state)
{
    static const char *const bad[] = {
        "bogus",        "127.0.0.0/33", "::1/129",     "127.0.0.0/",    "/8",
        "127.0.0.0/8,", ",127.0.0.0/8", "10.0.0.0/+8", "10.0.0.0/ 8",   "10.0.0.0/8x",
        "10.0.0/8",     "a,,b",         "1.2.3.4/08a", "127.0.0.1 ::1", "10.0.0.0/0008",
    };
    struct swi_net nets[SWI_MAX_NETS];
    size_t i, n;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 7;
        if (swi_nets_parse(bad[i], nets, &n) == 0)
            fail_msg("\"%s\" parsed", bad[i]);
        assert_int_equal(n, 0);
    }
}

static void more_than_the_limit_does_not_parse(void **state)
{
    struct swi_net nets[SWI_MAX_NETS];
    char text[SWI_MAX_NETS * 20 + 40] = "";
    size_t i, len = 0, n;

    for (i = 0; i < SWI_MAX_NETS; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s10.%zu.0.0/16", i ? "," : "", i);
    assert_int_equal(swi_nets_parse(text, nets, &n), 0);
    assert_int_equal(n, SWI_MAX_NETS);
    snprintf(text + len, sizeof(text) - len, ",10.200.0.0/16");
    assert_int_equal(swi_nets_parse(text, nets, &n), -1);
}

static void set_str_allow_nets_takes_a_list_and_refuses_a_bad_one(void **state)
{
    sw_verifier *v = sw_verifier_new();

    assert_non_null(v);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, "127.0.0.0/8,::1/128"), SW_OK);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, "127.0.0.0/33"), SW_ERR_INVAL);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, NULL), SW_OK);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, " "), SW_OK);
    /* a string option is not a long one, nor the other way round */
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_NETS, 1), SW_ERR_INVAL);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_CRL_UNREACHABLE, "1"), SW_ERR_INVAL);
    sw_verifier_free(v);
}

static void crl_unreachable_takes_zero_or_one(void **state)
{
    sw_verifier *v = sw_verifier_new();

    assert_non_null(v);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_UNREACHABLE, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_UNREACHABLE, 0), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_UNREACHABLE, 2), SW_ERR_INVAL);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CRL_UNREACHABLE, -1), SW_ERR_INVAL);
    sw_verifier_free(v);
}

/* Whether get_cert for an http:// URL gets as far as the URL policy (anchors present). */
static sw_err http_verdict(sw_verifier *v)
{
    sw_ctx *ctx = tu_ctx();
    sw_cert *cert = NULL;
    sw_err err = sw_verifier_get_cert(v, ctx, "http://example.org/x.pem", NULL, NULL, &cert);

    assert_null(cert);
    sw_ctx_free(ctx);
    return err;
}

static void reset_trust_keeps_the_old_anchors_until_a_new_ca_is_loaded(void **state)
{
    sw_verifier *v = sw_verifier_new();
    sw_ctx *ctx = tu_ctx();
    const char *ca = "/etc/ssl/certs/ca-certificates.crt";

    if (access(ca, R_OK) != 0) {
        sw_ctx_free(ctx);
        sw_verifier_free(v);
        skip();
    }
    assert_non_null(v);
    assert_int_equal(sw_verifier_reset_trust(NULL), SW_ERR_INVAL);
    assert_int_equal(sw_verifier_reset_trust(v), SW_OK); /* nothing loaded yet: fine */
    assert_int_equal(http_verdict(v), SW_ERR_CERT_UNTRUSTED);
    assert_int_equal(sw_verifier_load_ca_file(v, ctx, ca), SW_OK);
    /* with anchors, the URL is refused by the policy (no fetch) */
    assert_int_equal(http_verdict(v), SW_ERR_CERT_URL);
    assert_int_equal(sw_verifier_reset_trust(v), SW_OK);
    assert_int_equal(sw_verifier_reset_trust(v), SW_OK); /* a staged set replaced */
    assert_int_equal(http_verdict(v), SW_ERR_CERT_URL);  /* the old set still serves */
    /* a file that is no CA leaves the staged set staged */
    assert_int_equal(sw_verifier_load_ca_file(v, ctx, "/dev/null"), SW_ERR_KEY_PARSE);
    assert_int_equal(http_verdict(v), SW_ERR_CERT_URL);
    assert_int_equal(sw_verifier_load_ca_file(v, ctx, ca), SW_OK);
    assert_int_equal(http_verdict(v), SW_ERR_CERT_URL);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void fetch_count_starts_at_zero_and_clamps(void **state)
{
    sw_verifier *v = sw_verifier_new();
    sw_verifier_stats s;

    assert_non_null(v);
    assert_int_equal(sw_verifier_fetch_count(NULL, SW_OK), 0);
    assert_int_equal(sw_verifier_fetch_count(v, SW_OK), 0);
    assert_int_equal(sw_verifier_fetch_count(v, SW_ERR_CERT_CRL), 0);
    assert_int_equal(sw_verifier_fetch_count(v, (sw_err)1000), 0);
    assert_int_equal(sw_verifier_fetch_count(v, (sw_err)-1), 0);
    memset(&s, 0xff, sizeof(s));
    sw_verifier_get_stats(v, &s);
    assert_int_equal(s.crl_tolerated, 0);
    assert_int_equal(s.crl_failures, 0);
    sw_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_nets_refuses_special_addresses),
        cmocka_unit_test(allow_private_allows_everything),
        cmocka_unit_test(nets_allow_only_their_blocks),
        cmocka_unit_test(ipv4_block_covers_v4_mapped_ipv6),
        cmocka_unit_test(prefix_boundaries_are_exact),
        cmocka_unit_test(host_bits_past_the_prefix_are_cleared),
        cmocka_unit_test(zero_prefix_covers_a_whole_family),
        cmocka_unit_test(bad_nets_do_not_parse),
        cmocka_unit_test(more_than_the_limit_does_not_parse),
        cmocka_unit_test(set_str_allow_nets_takes_a_list_and_refuses_a_bad_one),
        cmocka_unit_test(crl_unreachable_takes_zero_or_one),
        cmocka_unit_test(reset_trust_keeps_the_old_anchors_until_a_new_ca_is_loaded),
        cmocka_unit_test(fetch_count_starts_at_zero_and_clamps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
