/*
 * test_tap_report.c - the TAP's report (src/tap/report.c): results as the contract maps
 * them, the summary JSON's numbers and orderings, the exit class, the bounded top lists
 * and timeline, the human table's lines, and the HTML file: self-contained, every hostile
 * string escaped (also in attributes), the PASSporT decoded, written atomically.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/core/trunk.h"
#include "../../src/tap/report.h"

/* 2026-11-29T10:00:00Z */
#define T0 1795946400LL

static struct swf_verdict mkv(sw_err err, char attest, const char *x5u, const char *spc,
                              const char *orig)
{
    struct swf_verdict v;

    memset(&v, 0, sizeof v);
    v.set = 1;
    v.verified = 1;
    v.err = err;
    v.attest = attest;
    snprintf(v.x5u, sizeof v.x5u, "%s", x5u);
    snprintf(v.spc, sizeof v.spc, "%s", spc);
    snprintf(v.orig, sizeof v.orig, "%s", orig);
    snprintf(v.dest, sizeof v.dest, "12025550199");
    v.verstat = err == SW_OK ? "TN-Validation-Passed" : "TN-Validation-Failed";
    v.identities = 1;
    if (err != SW_OK)
        snprintf(v.detail, sizeof v.detail, "%s", sw_strerror(err));
    return v;
}

static void add(struct tap_report *r, int64_t ts_us, const char *call_id,
                const struct swf_verdict *v, const char *identity)
{
    struct tap_call c = {
        .ts_us = ts_us,
        .call_id = call_id,
        .src = "192.0.2.1:5060",
        .dst = "[2001:db8::1]:5060",
        .transport = SW_UDP,
        .trunk = "carrier",
        .v = v,
        .identity = identity,
        .identity_len = identity != NULL ? strlen(identity) : 0,
    };

    tap_report_add(r, &c);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void b64url(const char *in, char *out, size_t outlen)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(in), i, o = 0;
    const unsigned char *p = (const unsigned char *)in;

    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        assert_true(o + 4 < outlen);
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* An Identity value whose header and payload are the given JSON texts. */
static void identity(const char *hdr, const char *payload, char *out, size_t outlen)
{
    char h[2048], p[2048];

    b64url(hdr, h, sizeof h);
    b64url(payload, p, sizeof p);
    int n = snprintf(out, outlen,
                     "%s.%s.c2ln;info=<https://cert.example.net/a.pem>;alg=ES256;ppt=shaken", h, p);

    assert_true(n > 0 && (size_t)n < outlen);
}

/* The mixed capture most tests read: 10 calls, 2 retransmissions. */
static struct tap_report *mixed(void)
{
    struct tap_report *r = tap_report_new(NULL);
    struct swf_verdict v;
    struct tap_counts counts;
    char *inputs[] = {"a.pcap", "b.pcapng.gz"};
    int i;

    assert_non_null(r);
    for (i = 0; i < 3; i++) {
        v = mkv(SW_OK, 'A', "https://cert.example.net/a.pem", "1234", "12025550100");
        add(r, (T0 + i) * 1000000 + 123456, "valid", &v, NULL);
    }
    for (i = 0; i < 2; i++) {
        v = mkv(SW_ERR_SIGNATURE, 'B', "https://user@Evil.Example.COM:8443/x.pem", "9999",
                "+1 (202) 555-0111");
        add(r, (T0 + 3) * 1000000, "sig", &v, NULL);
    }
    v = mkv(SW_ERR_STALE, 'A', "https://cert.example.net/a.pem", "1234", "12025550100");
    add(r, (T0 + 4) * 1000000, "stale", &v, NULL);
    v = mkv(SW_ERR_CERT_CONNECT, 'C', "https://down.example.org/c.pem", "", "13125550100");
    v.tagged_open = 1;
    add(r, (T0 + 5) * 1000000, "down", &v, NULL);
    v = mkv(SW_ERR_IDENTITY_MISSING, 0, "", "", "12025550100");
    add(r, (T0 + 6) * 1000000, "unsigned", &v, NULL);
    v = mkv(SW_ERR_NO_TN, 0, "", "", "");
    add(r, (T0 + 7) * 1000000, "notn", &v, NULL);
    add(r, (T0 + 12) * 1000000 + 623456, "noverdict", NULL, NULL);
    tap_report_retransmission(r);
    tap_report_retransmission(r);
    memset(&counts, 0, sizeof counts);
    counts.seen[TAP_SEEN_frames] = 100;
    counts.seen[TAP_SEEN_bytes] = 12345;
    counts.seen[TAP_SEEN_sip] = 12;
    counts.drop[TAP_DROP_truncated] = 2;
    tap_report_set_counts(r, &counts);
    tap_report_set_inputs(r, inputs, 2);
    return r;
}

static void results_follow_the_contract(void **state)
{
    struct swf_verdict v = mkv(SW_OK, 'A', "", "", "");

    (void)state;
    assert_string_equal(tap_call_result(NULL), "not-verified");
    assert_string_equal(tap_call_result(&v), "valid");
    v.verified = 0;
    assert_string_equal(tap_call_result(&v), "not-verified");
    v = mkv(SW_ERR_CERT_TIMEOUT, 'A', "", "", "");
    v.tagged_open = 1;
    assert_string_equal(tap_call_result(&v), "unverifiable");
    v = mkv(SW_ERR_NO_TN, 0, "", "", "");
    assert_string_equal(tap_call_result(&v), "no-tn");
    v = mkv(SW_ERR_IDENTITY_MISSING, 0, "", "", "");
    assert_string_equal(tap_call_result(&v), "unsigned");
    v = mkv(SW_ERR_CERT_TIMEOUT, 'A', "", "", "");
    assert_string_equal(tap_call_result(&v), "invalid");
    v = mkv(SW_ERR_SIGNATURE, 'A', "", "", "");
    assert_string_equal(tap_call_result(&v), "invalid");
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);

    assert_non_null(j);
    assert_true(json_is_integer(j));
    return json_integer_value(j);
}

static void summary_has_every_number(void **state)
{
    struct tap_report *r = mixed();
    json_t *top = tap_report_summary(r), *s, *o, *a, *e;
    const char *key;
    json_t *val;
    const char *order[] = {"SIGNATURE", "CERT_CONNECT", "STALE"};
    size_t i;

    (void)state;
    assert_non_null(top);
    s = json_object_get(top, "summary");
    assert_non_null(s);
    a = json_object_get(s, "inputs");
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(json_string_value(json_array_get(a, 1)), "b.pcapng.gz");
    assert_string_equal(json_string_value(json_object_get(s, "first")),
                        "2026-11-29T10:00:00.123456Z");
    assert_string_equal(json_string_value(json_object_get(s, "last")),
                        "2026-11-29T10:00:12.623456Z");
    assert_true(json_real_value(json_object_get(s, "span_s")) == 12.5);
    assert_int_equal(jint(s, "calls"), 10);
    assert_int_equal(jint(s, "retransmissions"), 2);
    o = json_object_get(s, "results");
    assert_int_equal(json_object_size(o), 6);
    assert_int_equal(jint(o, "valid"), 3);
    assert_int_equal(jint(o, "invalid"), 3);
    assert_int_equal(jint(o, "unsigned"), 1);
    assert_int_equal(jint(o, "no-tn"), 1);
    assert_int_equal(jint(o, "unverifiable"), 1);
    assert_int_equal(jint(o, "not-verified"), 1);
    o = json_object_get(s, "attest");
    assert_int_equal(json_object_size(o), 3);
    assert_int_equal(jint(o, "A"), 4);
    assert_int_equal(jint(o, "B"), 2);
    assert_int_equal(jint(o, "C"), 1);
    /* errors: most frequent first, then by name */
    o = json_object_get(s, "errors");
    assert_int_equal(json_object_size(o), 3);
    i = 0;
    json_object_foreach(o, key, val) {
        assert_string_equal(key, order[i]);
        i++;
    }
    assert_int_equal(jint(o, "SIGNATURE"), 2);
    assert_int_equal(jint(o, "CERT_CONNECT"), 1);
    assert_int_equal(jint(o, "STALE"), 1);
    /* hosts: failed desc, then calls desc; lower-cased, no user info or port */
    a = json_object_get(s, "top_x5u_hosts");
    assert_int_equal(json_array_size(a), 3);
    e = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(e, "host")), "evil.example.com");
    assert_int_equal(jint(e, "calls"), 2);
    assert_int_equal(jint(e, "failed"), 2);
    e = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(e, "host")), "cert.example.net");
    assert_int_equal(jint(e, "calls"), 4);
    assert_int_equal(jint(e, "failed"), 1);
    e = json_array_get(a, 2);
    assert_string_equal(json_string_value(json_object_get(e, "host")), "down.example.org");
    assert_int_equal(jint(e, "calls"), 1);
    assert_int_equal(jint(e, "failed"), 1);
    a = json_object_get(s, "top_spc");
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "spc")), "9999");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "spc")), "1234");
    assert_int_equal(jint(json_array_get(a, 1), "calls"), 4);
    /* prefixes: the first 7 digits, punctuation skipped */
    a = json_object_get(s, "top_prefixes");
    assert_int_equal(json_array_size(a), 2);
    e = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(e, "prefix")), "1202555");
    assert_int_equal(jint(e, "calls"), 7);
    assert_int_equal(jint(e, "failed"), 3);
    e = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(e, "prefix")), "1312555");
    /* every counter by name */
    o = json_object_get(s, "seen");
    assert_int_equal(json_object_size(o), TAP_SEEN_N);
    assert_int_equal(jint(o, "frames"), 100);
    assert_int_equal(jint(o, "bytes"), 12345);
    assert_int_equal(jint(o, "not_sip"), 0);
    o = json_object_get(s, "dropped");
    assert_int_equal(json_object_size(o), TAP_DROP_N - 1);
    assert_null(json_object_get(o, "none"));
    assert_int_equal(jint(o, "truncated"), 2);
    assert_int_equal(jint(o, "kernel"), 0);
    assert_int_equal(tap_report_invalid(r), 3);
    json_decref(top);
    tap_report_free(r);
}

static void empty_report_has_every_key(void **state)
{
    struct tap_report *r = tap_report_new(NULL);
    json_t *top, *s;
    const char *keys[] = {"inputs",          "first",        "last",   "span_s", "calls",
                          "retransmissions", "results",      "attest", "errors", "top_x5u_hosts",
                          "top_spc",         "top_prefixes", "seen",   "dropped"};
    char *text;
    size_t i;

    (void)state;
    assert_non_null(r);
    top = tap_report_summary(r);
    assert_non_null(top);
    s = json_object_get(top, "summary");
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(s, keys[i]));
    assert_int_equal(json_object_size(s), sizeof keys / sizeof keys[0]);
    text = json_dumps(top, JSON_COMPACT);
    assert_non_null(strstr(text, "\"first\":null"));
    assert_non_null(strstr(text, "\"errors\":{}"));
    free(text);
    assert_int_equal(tap_report_exit_class(r), 0);
    json_decref(top);
    tap_report_free(r);
}

static void exit_class_is_the_most_common_invalid_class(void **state)
{
    struct tap_report *r = mixed();
    struct swf_verdict v;

    (void)state;
    /* SIGNATURE (7) twice, STALE (5) once; the unverifiable CERT_CONNECT does not count */
    assert_int_equal(tap_report_exit_class(r), SW_CLASS_SIGNATURE);
    tap_report_free(r);

    /* a tie: the lower class */
    r = tap_report_new(NULL);
    v = mkv(SW_ERR_SIGNATURE, 'A', "", "", "");
    add(r, T0 * 1000000, "1", &v, NULL);
    v = mkv(SW_ERR_CERT_EXPIRED, 'A', "", "", "");
    add(r, T0 * 1000000, "2", &v, NULL);
    assert_int_equal(tap_report_exit_class(r), SW_CLASS_SIGNATURE);
    v = mkv(SW_ERR_DATE_STALE, 'A', "", "", "");
    add(r, T0 * 1000000, "3", &v, NULL);
    assert_int_equal(tap_report_exit_class(r), SW_CLASS_STALE);
    tap_report_free(r);

    /* unverifiable, unsigned and no-tn calls alone: 0 */
    r = tap_report_new(NULL);
    v = mkv(SW_ERR_CERT_TIMEOUT, 'A', "", "", "");
    v.tagged_open = 1;
    add(r, T0 * 1000000, "1", &v, NULL);
    v = mkv(SW_ERR_IDENTITY_MISSING, 0, "", "", "");
    add(r, T0 * 1000000, "2", &v, NULL);
    v = mkv(SW_ERR_NO_TN, 0, "", "", "");
    add(r, T0 * 1000000, "3", &v, NULL);
    assert_int_equal(tap_report_exit_class(r), 0);
    assert_int_equal(tap_report_invalid(r), 0);
    /* an invalid call of a class outside 4..8 still exits non-zero */
    v = mkv(SW_ERR_TN_INVALID, 0, "", "", "");
    add(r, T0 * 1000000, "4", &v, NULL);
    assert_int_equal(tap_report_exit_class(r), SW_CLASS_MALFORMED);
    tap_report_free(r);
}

static void top_lists_are_bounded_with_an_other_row(void **state)
{
    struct tap_report_opts o = {.keep_failed = 0, .top = 3};
    struct tap_report *r = tap_report_new(&o);
    struct swf_verdict v;
    json_t *top, *a;
    char spc[32];
    int i;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < TAP_REPORT_MAX_KEYS; i++) {
        snprintf(spc, sizeof spc, "S%05d", i);
        v = mkv(SW_OK, 'A', "", spc, "");
        add(r, T0 * 1000000, "x", &v, NULL);
    }
    /* the list is full: these five go to "(other)", which then leads by failures */
    for (i = 0; i < 5; i++) {
        snprintf(spc, sizeof spc, "late%d", i);
        v = mkv(SW_ERR_SIGNATURE, 'A', "", spc, "");
        add(r, T0 * 1000000, "x", &v, NULL);
    }
    /* a key already held still counts as itself */
    v = mkv(SW_ERR_SIGNATURE, 'A', "", "S00042", "");
    add(r, T0 * 1000000, "x", &v, NULL);
    top = tap_report_summary(r);
    a = json_object_get(json_object_get(top, "summary"), "top_spc");
    assert_int_equal(json_array_size(a), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "spc")), "(other)");
    assert_int_equal(jint(json_array_get(a, 0), "calls"), 5);
    assert_int_equal(jint(json_array_get(a, 0), "failed"), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "spc")), "S00042");
    assert_int_equal(jint(json_array_get(a, 1), "calls"), 2);
    /* ties in failed and calls: by name */
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "spc")), "S00000");
    json_decref(top);
    tap_report_free(r);
}

static void x5u_hosts_are_parsed(void **state)
{
    struct tap_report *r = tap_report_new(NULL);
    struct swf_verdict v;
    json_t *top, *a;
    const char *urls[] = {"https://[2001:DB8::1]:8443/a.pem", "https://[2001:db8::1]/b.pem",
                          "http://plain.example?x=1", "not a url", "https://x.example#f"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        v = mkv(SW_OK, 'A', urls[i], "", "");
        add(r, T0 * 1000000, "x", &v, NULL);
    }
    top = tap_report_summary(r);
    a = json_object_get(json_object_get(top, "summary"), "top_x5u_hosts");
    assert_int_equal(json_array_size(a), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "host")),
                        "[2001:db8::1]");
    assert_int_equal(jint(json_array_get(a, 0), "calls"), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "host")),
                        "(not a URL)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "host")),
                        "plain.example");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 3), "host")),
                        "x.example");
    json_decref(top);
    tap_report_free(r);
}

static uint64_t timeline_total(const struct tap_report *r, size_t *n, int64_t *start,
                               int64_t *width)
{
    uint64_t counts[60][TAP_RESULT_N], total = 0;
    size_t i, k;

    *n = tap_report_timeline(r, 60, start, width, counts);
    for (i = 0; i < *n; i++)
        for (k = 0; k < TAP_RESULT_N; k++)
            total += counts[i][k];
    return total;
}

static void timeline_picks_at_most_60_buckets(void **state)
{
    struct tap_report *r = mixed();
    struct swf_verdict v = mkv(SW_OK, 'A', "", "", "");
    uint64_t counts[60][TAP_RESULT_N];
    int64_t start, width;
    size_t n;
    int i;

    (void)state;
    /* 12.5 s: 13 buckets of 1 s */
    assert_int_equal(timeline_total(r, &n, &start, &width), 10);
    assert_int_equal(width, 1000000);
    assert_int_equal(n, 13);
    assert_int_equal(start, T0 * 1000000);
    n = tap_report_timeline(r, 60, &start, &width, counts);
    assert_int_equal(counts[3][TAP_RESULT_INVALID], 2);
    assert_int_equal(counts[5][TAP_RESULT_UNVERIFIABLE], 1);
    assert_int_equal(counts[12][TAP_RESULT_NOT_VERIFIED], 1);
    tap_report_free(r);

    /* one hour, out of order, then a call a day before: widths stay exact */
    r = tap_report_new(NULL);
    for (i = 0; i < 3601; i++)
        add(r, (T0 + (i * 7919) % 3601) * 1000000, "x", &v, NULL);
    assert_int_equal(timeline_total(r, &n, &start, &width), 3601);
    assert_int_equal(width, 120000000);
    assert_true(n <= 60);
    add(r, (T0 - 86400) * 1000000, "x", &v, NULL);
    assert_int_equal(timeline_total(r, &n, &start, &width), 3602);
    assert_true(n <= 60 && n >= 2);
    assert_true(start <= (T0 - 86400) * 1000000);
    assert_true(start + (int64_t)n * width > (T0 + 3600) * 1000000);
    tap_report_free(r);
}

static void every_verification_error_has_plain_words(void **state)
{
    static const sw_err all[] = {
#define X(name, num, cls, status, reason, verstat, text) SW_ERR_##name,
        SW_ERR_MAP(X)
#undef X
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        sw_class c = sw_err_class(all[i]);

        if (all[i] == SW_OK || c == SW_CLASS_USAGE ||
            (c == SW_CLASS_INPUT && all[i] != SW_ERR_TN_INVALID))
            continue;
        if (strcmp(tap_report_reason(all[i]), sw_strerror(all[i])) == 0)
            fail_msg("no plain words for %s", sw_err_name(all[i]));
        assert_true(strlen(tap_report_reason(all[i])) > 30);
    }
    assert_string_equal(tap_report_reason(SW_ERR_SIGNATURE),
                        "The signature does not match the call: the Identity header was altered "
                        "after signing, or signed with another key.");
    assert_string_equal(tap_report_reason((sw_err)999), sw_strerror((sw_err)999));
}

static void table_lines(void **state)
{
    struct tap_report *r = mixed();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    size_t i;
    const char *lines[] = {
        "Capture\n",
        "  inputs           a.pcap, b.pcapng.gz\n",
        "  first            2026-11-29T10:00:00.123456Z\n",
        "  span             12.500 s\n",
        "  calls            10\n",
        "  retransmissions  2\n",
        "\nCalls by result\n  valid                     3   30.0%\n"
        "  invalid                   3   30.0%\n",
        "  not-verified              1   10.0%\n",
        "\nCalls by attestation\n  A                         4   40.0%\n",
        "\nErrors (invalid and unverifiable calls)\n"
        "  SIGNATURE                 2  signature does not verify\n"
        "  CERT_CONNECT              1  certificate host cannot be reached\n"
        "  STALE                     1  PASSporT iat is older than the maximum age\n",
        "\nTop failing x5u hosts\n"
        "  host                   calls      failed\n"
        "  evil.example.com           2           2\n"
        "  cert.example.net           4           1\n"
        "  down.example.org           1           1\n",
        "\nTop failing SPCs\n  spc        calls      failed\n  9999           2           2\n",
        "\nTop failing calling-number prefixes\n",
        "  1202555           7           3\n",
        "\nPackets read\n  frames                     100\n",
        "  bytes                    12345\n",
        "\nPackets dropped by reason\n  truncated            2  frames cut short",
    };

    (void)state;
    assert_non_null(f);
    assert_int_equal(tap_report_print(r, f), 0);
    fclose(f);
    for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (strstr(buf, lines[i]) == NULL)
            fail_msg("line %zu missing from the table:\n%s", i, (fputs(buf, stderr), ""));
    /* only nonzero drops */
    assert_null(strstr(buf, "kernel"));
    free(buf);
    tap_report_free(r);

    /* no drops at all: "none" */
    r = tap_report_new(NULL);
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(tap_report_print(r, f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\nPackets dropped by reason\n  none\n"));
    assert_non_null(strstr(buf, "\nTop failing SPCs\n  none\n"));
    free(buf);
    tap_report_free(r);
}

static void table_is_plain_ascii(void **state)
{
    struct tap_report *r = tap_report_new(NULL);
    struct swf_verdict v = mkv(SW_ERR_SIGNATURE, 'A', "https://\x1b[31mred\xc3\xa9/x", "S\x07", "");
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    add(r, T0 * 1000000, "x", &v, NULL);
    assert_int_equal(tap_report_print(r, f), 0);
    fclose(f);
    for (i = 0; i < len; i++)
        assert_true(buf[i] == '\n' || (buf[i] >= 0x20 && buf[i] < 0x7f));
    assert_non_null(strstr(buf, "  ?[31mred?? "));
    free(buf);
    tap_report_free(r);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tap_report.XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char HOSTILE_ID[] = "<script>alert(\"id\")</script>&'x\" onload=\"y";
static const char HOSTILE_X5U[] = "https://\"><img src=\"http://evil.example/x.png\">/a.pem";
static const char HOSTILE_ORIG[] = "<b>&\"1202'";

/* Writes the report's HTML to DIR/NAME (and the path to the env var for html_check.sh). */
static char *html_of(struct tap_report *r, const char *name)
{
    char path[256], err[256] = "";

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (tap_report_html(r, path, err, sizeof err) != 0)
        fail_msg("tap_report_html: %s", err);
    return read_all(path);
}

static void html_escapes_everything_hostile(void **state)
{
    struct tap_report *r = mixed();
    struct swf_verdict v = mkv(SW_ERR_SIGNATURE, 'A', HOSTILE_X5U, "</td>", HOSTILE_ORIG);
    char id[4096];
    char *html;
    const char *keep = getenv("TAP_REPORT_HTML_KEEP");

    (void)state;
    snprintf(v.detail, sizeof v.detail, "detail <i>%s</i>", "&amp;");
    identity("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":"
             "\"https://cert.example.net/a.pem\"}",
             "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12025550199\"]},\"iat\":1795946400,"
             "\"orig\":{\"tn\":\"</pre><script>x()</script>\"},\"origid\":\"u-1\"}",
             id, sizeof id);
    add(r, (T0 + 8) * 1000000, HOSTILE_ID, &v, id);
    html = html_of(r, "hostile.html");
    if (keep != NULL) {
        FILE *f = fopen(keep, "w");

        assert_non_null(f);
        fputs(html, f);
        fclose(f);
    }
    /* self-contained */
    assert_non_null(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" "
                                 "content=\"default-src 'none'; style-src 'unsafe-inline'; "
                                 "img-src data:\">"));
    assert_null(strstr(html, "src=\"http"));
    assert_null(strstr(html, "href=\"http"));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "//"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<b>"));
    assert_null(strstr(html, "<i>"));
    assert_null(strstr(html, "</td>&"));
    /* the only "http" is the CSP's http-equiv, and the escaped (inert) hostile texts */
    assert_non_null(strstr(html, "&lt;script&gt;alert&#40;&quot;id&quot;&#41;&lt;&#47;script&gt;"
                                 "&amp;&#39;x&quot; onload&#61;&quot;y"));
    /* in an attribute too */
    assert_non_null(strstr(html, "data-call-id=\"&lt;script&gt;"));
    assert_non_null(strstr(html, "&lt;b&gt;&amp;&quot;1202&#39;"));
    assert_non_null(strstr(html, "&lt;&#47;td&gt;"));
    assert_non_null(strstr(html, "detail &lt;i&gt;&amp;amp;&lt;&#47;i&gt;"));
    /* the card: error, plain words, decoded PASSporT pretty-printed */
    assert_non_null(strstr(html, "<span class=\"err\">SIGNATURE</span>"));
    assert_non_null(strstr(html, "The signature does not match the call: the Identity header "
                                 "was altered after signing, or signed with another key."));
    assert_non_null(strstr(html, "\n  &quot;attest&quot;: &quot;A&quot;,\n"));
    assert_non_null(strstr(html, "&quot;ppt&quot;: &quot;shaken&quot;"));
    assert_non_null(strstr(html, "&quot;tn&quot;: &quot;&lt;&#47;pre&gt;&lt;script&gt;x&#40;"));
    /* the timeline and the tables */
    assert_non_null(strstr(html, "<svg "));
    assert_non_null(strstr(html, "<rect "));
    assert_non_null(strstr(html, ">10:00:00</text>"));
    assert_non_null(strstr(html, ">invalid</text>"));
    assert_non_null(strstr(html, "<td>evil.example.com</td>"));
    assert_non_null(strstr(html, "5 failing calls (invalid or unverifiable); 5 shown."));
    free(html);
    tap_report_free(r);
}

static void html_shows_what_does_not_decode(void **state)
{
    struct tap_report *r = tap_report_new(NULL);
    struct swf_verdict v = mkv(SW_ERR_BASE64, 'A', "", "", "");
    char id[512], b[64];
    char *html;

    (void)state;
    add(r, T0 * 1000000, "1", &v, "not*base64.eyJ9.sig;info=<x>");
    v = mkv(SW_ERR_COMPACT_SHAKEN, 'A', "", "", "");
    add(r, T0 * 1000000, "2", &v, "..c2ln");
    v = mkv(SW_ERR_JSON, 'A', "", "", "");
    b64url("no json \x01<", b, sizeof b);
    snprintf(id, sizeof id, "%s.%s.sig", b, b);
    add(r, T0 * 1000000, "3", &v, id);
    v = mkv(SW_ERR_IDENTITY_MALFORMED, 'A', "", "", "");
    add(r, T0 * 1000000, "4", &v, "garbage");
    v = mkv(SW_ERR_SIGNATURE, 'A', "", "", "");
    add(r, T0 * 1000000, "5", &v, NULL);
    html = html_of(r, "undecodable.html");
    assert_non_null(strstr(html, "not base64url; as received:</p><pre>not*base64</pre>"));
    assert_non_null(strstr(html, "empty (a compact PASSporT leaves it out)"));
    assert_non_null(strstr(html, "not JSON; the decoded bytes:</p><pre>no json \\x01&lt;</pre>"));
    assert_non_null(strstr(html, "not three dot-separated parts"));
    assert_non_null(strstr(html, "No Identity header was kept for this call."));
    free(html);
    tap_report_free(r);
}

static void html_keeps_at_most_keep_failed(void **state)
{
    struct tap_report_opts o = {.keep_failed = 2, .top = 10};
    struct tap_report *r = tap_report_new(&o);
    struct swf_verdict v = mkv(SW_ERR_STALE, 'A', "", "", "");
    char *html, *p;
    int i, cards = 0;

    (void)state;
    for (i = 0; i < 5; i++)
        add(r, T0 * 1000000, "x", &v, NULL);
    html = html_of(r, "kept.html");
    for (p = html; (p = strstr(p, "<section class=\"card")) != NULL; p++)
        cards++;
    assert_int_equal(cards, 2);
    assert_non_null(strstr(html, "5 failing calls (invalid or unverifiable); 2 shown."));
    free(html);
    tap_report_free(r);
}

static void html_write_is_atomic_and_reports_errors(void **state)
{
    struct tap_report *r = mixed();
    char path[256], err[256] = "";
    char *html;

    (void)state;
    snprintf(path, sizeof path, "%s/no/such/dir/r.html", tmpdir);
    assert_int_equal(tap_report_html(r, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    /* an existing file is replaced whole */
    snprintf(path, sizeof path, "%s/replace.html", tmpdir);
    {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs("old contents", f);
        fclose(f);
    }
    assert_int_equal(tap_report_html(r, path, err, sizeof err), 0);
    html = read_all(path);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(html, "</html>\n"));
    free(html);
    tap_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(results_follow_the_contract),
        cmocka_unit_test(summary_has_every_number),
        cmocka_unit_test(empty_report_has_every_key),
        cmocka_unit_test(exit_class_is_the_most_common_invalid_class),
        cmocka_unit_test(top_lists_are_bounded_with_an_other_row),
        cmocka_unit_test(x5u_hosts_are_parsed),
        cmocka_unit_test(timeline_picks_at_most_60_buckets),
        cmocka_unit_test(every_verification_error_has_plain_words),
        cmocka_unit_test(table_lines),
        cmocka_unit_test(table_is_plain_ascii),
        cmocka_unit_test(html_escapes_everything_hostile),
        cmocka_unit_test(html_shows_what_does_not_decode),
        cmocka_unit_test(html_keeps_at_most_keep_failed),
        cmocka_unit_test(html_write_is_atomic_and_reports_errors),
    };

    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
