/*
 * test_metrics.c - the Prometheus exposition of /metrics (src/http/metrics.c): every
 * counter of the table and of the filters with its value, one # HELP / # TYPE pair per
 * family and its samples in one block, the documented names dashboards rely on, label
 * and help escaping, the verifier's families, the handler, and (when promtool is
 * installed) "promtool check metrics" on the output.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/http/metrics.h"

/* --- a reader of the text format, just enough to check what we write ----------------------- */

/*
 * The value of the sample written exactly as key ("name" or "name{l=\"v\"}"), or -1 when
 * there is none; a second sample with the same key fails the test.
 */
static long long sample(const char *text, const char *key)
{
    char pat[512];
    const char *p, *q;
    long long v;

    snprintf(pat, sizeof(pat), "\n%s ", key);
    if ((p = strstr(text, pat)) == NULL)
        return -1;
    if ((q = strstr(p + 1, pat)) != NULL)
        fail_msg("sample %s written twice", key);
    v = strtoll(p + strlen(pat), NULL, 10);
    return v;
}

/* The HELP text of family, or NULL (static buffer). */
static const char *help_of(const char *text, const char *family)
{
    static char out[512];
    char pat[256];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "# HELP %s ", family);
    if ((p = strstr(text, pat)) == NULL)
        return NULL;
    p += strlen(pat);
    e = strchr(p, '\n');
    snprintf(out, sizeof(out), "%.*s", (int)(e - p), p);
    return out;
}

/* The sample's metric name (before '{' or ' ') into name. */
static void sample_name(const char *line, size_t len, char *name, size_t size)
{
    size_t i = 0;

    while (i < len && line[i] != '{' && line[i] != ' ')
        i++;
    snprintf(name, size, "%.*s", (int)i, line);
}

/*
 * Walks the whole text and checks its structure: every line is a HELP, TYPE or sample;
 * HELP is followed by the TYPE of the same family; each family is declared once; every
 * sample belongs to the family declared last (counters: exactly its name; others: its
 * name, or _bucket/_sum/_count of it); no family without samples. Returns the number of
 * families; *samples gets the number of samples.
 */
static size_t check_structure(const char *text, size_t *samples)
{
    char fams[512][128], cur[128] = "", name[128];
    size_t nfam = 0, nsamples = 0, in_cur = 0, i;
    const char *line = text;

    assert_true(text[0] != '\0' && text[strlen(text) - 1] == '\n');
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = (size_t)(end - line);

        if (strncmp(line, "# HELP ", 7) == 0) {
            const char *next = end + 1;
            char typeline[160];
            sample_name(line + 7, len - 7, name, sizeof(name));
            if (cur[0] != '\0' && in_cur == 0)
                fail_msg("family %s has no samples", cur);
            for (i = 0; i < nfam; i++)
                if (strcmp(fams[i], name) == 0)
                    fail_msg("family %s declared twice", name);
            assert_true(nfam < 512);
            snprintf(fams[nfam++], sizeof(fams[0]), "%s", name);
            snprintf(cur, sizeof(cur), "%s", name);
            in_cur = 0;
            snprintf(typeline, sizeof(typeline), "# TYPE %s ", name);
            if (strncmp(next, typeline, strlen(typeline)) != 0)
                fail_msg("HELP of %s is not followed by its TYPE", name);
            line = strchr(next, '\n') + 1;
            continue;
        }
        if (line[0] == '#')
            fail_msg("stray comment line: %.*s", (int)len, line);
        sample_name(line, len, name, sizeof(name));
        if (strcmp(name, cur) != 0)
            fail_msg("sample %s outside its family (current %s)", name, cur);
        assert_non_null(memchr(line, ' ', len));
        in_cur++;
        nsamples++;
        line = end + 1;
    }
    if (in_cur == 0)
        fail_msg("family %s has no samples", cur);
    *samples = nsamples;
    return nfam;
}

/* A filter counter's index, to set it in the stats. */
static void set_filter(struct sw_stats *st, const char *filter, const char *counter, uint64_t v)
{
    const struct swf_filter *f = swf_lookup(filter);
    size_t k;

    assert_non_null(f);
    for (k = 0; f->counters[k] != NULL; k++)
        if (strcmp(f->counters[k], counter) == 0) {
            st->filter[swf_index(f)][k] = v;
            return;
        }
    fail_msg("filter %s has no counter %s", filter, counter);
}

static struct sw_stats stats; /* the test's counters (large: not on the stack) */

/* The table's counters with values 1000 + position, and some filter counters. */
static void fill(void)
{
    size_t n, i;
    const struct sw_counter_info *t = sw_counters(&n);

    memset(&stats, 0, sizeof(stats));
    for (i = 0; i < n; i++)
        *(uint64_t *)((char *)&stats + t[i].offset) = 1000 + i;
    set_filter(&stats, "sign", "signed_a", 31);
    set_filter(&stats, "sign", "signed_b", 32);
    set_filter(&stats, "sign", "signed_c", 33);
    set_filter(&stats, "sign", "unsigned_no_rule", 34);
    set_filter(&stats, "sign", "date_replaced", 35);
    set_filter(&stats, "verify", "passed", 41);
    set_filter(&stats, "verify", "signature", 42);
    set_filter(&stats, "verify", "fetch_failed_open", 43);
    set_filter(&stats, "verify", "rejected", 44);
    set_filter(&stats, "verify", "parked", 45);
    set_filter(&stats, "verstat", "failed", 51);
    set_filter(&stats, "strip", "stripped", 61);
}

/* --- the tests ----------------------------------------------------------------------------- */

static void every_table_counter_with_its_help_and_value(void **state)
{
    size_t n, i;
    const struct sw_counter_info *t = sw_counters(&n);
    char *text, fam[160], type[200];

    (void)state;
    fill();
    text = sw_metrics_text(&stats, NULL);
    assert_non_null(text);
    for (i = 0; i < n; i++) {
        snprintf(fam, sizeof(fam), "stirwire_%s_total", t[i].name);
        assert_int_equal(sample(text, fam), 1000 + (long long)i);
        assert_non_null(help_of(text, fam));
        assert_string_equal(help_of(text, fam), t[i].help);
        snprintf(type, sizeof(type), "# TYPE %s counter\n", fam);
        assert_non_null(strstr(text, type));
    }
    free(text);
}

static void filter_counters_in_labelled_families(void **state)
{
    char *text;

    (void)state;
    fill();
    text = sw_metrics_text(&stats, NULL);
    assert_non_null(text);
    assert_int_equal(sample(text, "stirwire_sign_signed_total{attest=\"A\"}"), 31);
    assert_int_equal(sample(text, "stirwire_sign_signed_total{attest=\"B\"}"), 32);
    assert_int_equal(sample(text, "stirwire_sign_signed_total{attest=\"C\"}"), 33);
    assert_int_equal(sample(text, "stirwire_sign_unsigned_total{reason=\"no_rule\"}"), 34);
    assert_int_equal(sample(text, "stirwire_sign_unsigned_total{reason=\"no_number\"}"), 0);
    assert_int_equal(sample(text, "stirwire_sign_date_replaced_total"), 35);
    assert_int_equal(sample(text, "stirwire_sign_kept_existing_total"), 0);
    assert_int_equal(sample(text, "stirwire_verify_total{outcome=\"passed\"}"), 41);
    assert_int_equal(sample(text, "stirwire_verify_total{outcome=\"signature\"}"), 42);
    assert_int_equal(sample(text, "stirwire_verify_total{outcome=\"fetch_failed_open\"}"), 43);
    assert_int_equal(sample(text, "stirwire_verify_total{outcome=\"missing\"}"), 0);
    /* overlapping counters are not outcomes: a sum over outcome counts each request once */
    assert_int_equal(sample(text, "stirwire_verify_total{outcome=\"rejected\"}"), -1);
    assert_int_equal(sample(text, "stirwire_verify_rejected_total"), 44);
    assert_int_equal(sample(text, "stirwire_verify_parked_total"), 45);
    assert_int_equal(
        sample(text, "stirwire_verstat_tagged_total{verstat=\"TN-Validation-Failed\"}"), 51);
    assert_int_equal(sample(text, "stirwire_strip_stripped_total"), 61);
    assert_int_equal(sample(text, "stirwire_audit_records_total"), 0);
    assert_non_null(strstr(text, "# TYPE stirwire_verify_total counter\n"));
    assert_non_null(strstr(text, "# TYPE stirwire_sign_signed_total counter\n"));
    free(text);
}

/* Every counter of every registered filter is one sample: none lost, none twice. */
static void every_filter_counter_once(void **state)
{
    size_t nf, i, k, ncounters = 0, nfam, nsamples, ntable;
    const struct swf_filter *const *fs = swf_all(&nf);
    char *text;
    uint64_t v = 1;

    (void)state;
    memset(&stats, 0, sizeof(stats));
    for (i = 0; i < nf; i++)
        for (k = 0; fs[i]->counters != NULL && fs[i]->counters[k] != NULL; k++) {
            stats.filter[i][k] = 7000000 + v++; /* unique, so each value shows once */
            ncounters++;
        }
    text = sw_metrics_text(&stats, NULL);
    assert_non_null(text);
    for (v = 1; v <= ncounters; v++) {
        char want[32];
        const char *p = text;
        int seen = 0;
        snprintf(want, sizeof(want), " %llu\n", (unsigned long long)(7000000 + v));
        while ((p = strstr(p, want)) != NULL) {
            seen++;
            p++;
        }
        assert_int_equal(seen, 1);
    }
    nfam = check_structure(text, &nsamples);
    sw_counters(&ntable);
    /* the table, the filter counters and build_info: no other samples without a verifier */
    assert_int_equal(nsamples, ntable + ncounters + 1);
    assert_true(nfam < nsamples);
    free(text);
}

static void structure_is_one_block_per_family(void **state)
{
    sw_verifier *v = sw_verifier_new();
    size_t nsamples;
    char *text;

    (void)state;
    fill();
    assert_non_null(v);
    text = sw_metrics_text(&stats, v);
    assert_non_null(text);
    check_structure(text, &nsamples);
    assert_non_null(strstr(text, "# TYPE stirwire_build_info gauge\n"));
    assert_non_null(
        strstr(text, "\nstirwire_build_info{version=\"" PACKAGE_VERSION "\",library=\""));
    free(text);
    sw_verifier_free(v);
}

/* Without counters ("stirwire serve"): the verifier and the build only. */
static void no_stats_no_counter_families(void **state)
{
    sw_verifier *v = sw_verifier_new();
    size_t nsamples;
    char *text;

    (void)state;
    assert_non_null(v);
    text = sw_metrics_text(NULL, v);
    assert_non_null(text);
    assert_null(strstr(text, "stirwire_received_total"));
    assert_null(strstr(text, "stirwire_verify_total"));
    assert_null(strstr(text, "stirwire_sign_"));
    assert_int_equal(sample(text, "stirwire_verifier_cache_hits_total"), 0);
    check_structure(text, &nsamples);
    free(text);
    text = sw_metrics_text(NULL, NULL);
    assert_non_null(text);
    assert_null(strstr(text, "stirwire_verifier_"));
    check_structure(text, &nsamples);
    assert_int_equal(nsamples, 1); /* build_info */
    free(text);
    sw_verifier_free(v);
}

/*
 * The verifier's families move: a fetch from a port where nothing listens fails with
 * CERT_CONNECT (counted by result), and asking again is a negative hit.
 */
static void verifier_fetch_failures_by_error_name(void **state)
{
    sw_verifier *v = sw_verifier_new();
    sw_ctx *ctx = sw_ctx_new();
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[128], key[128];
    sw_cert *cert = NULL;
    char *text;

    (void)state;
    assert_non_null(v);
    assert_non_null(ctx);
    /* bound, not listening: the connection is refused, and no one else gets the port */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/sp.pem", (unsigned)ntohs(sa.sin_port));
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_HTTP, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 1), SW_OK);
    assert_int_equal(sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, "127.0.0.0/8"), SW_OK);
    /* no anchors: without this the lookup is refused before any fetch (not counted) */
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_REQUIRE_CHAIN, 0), SW_OK);
    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, url, &cert), SW_ERR_CERT_CONNECT);
    assert_int_equal(sw_verifier_get_cert_wait(v, ctx, url, &cert), SW_ERR_CERT_CONNECT);
    close(fd);

    text = sw_metrics_text(NULL, v);
    assert_non_null(text);
    assert_int_equal(sample(text, "stirwire_verifier_fetches_total{result=\"CERT_CONNECT\"}"), 1);
    assert_int_equal(sample(text, "stirwire_verifier_fetches_total{result=\"OK\"}"), 0);
    assert_int_equal(sample(text, "stirwire_verifier_cache_misses_total"), 1);
    assert_int_equal(sample(text, "stirwire_verifier_negative_hits_total"), 1);
    assert_int_equal(sample(text, "stirwire_verifier_fetch_failures_total"), 1);
    assert_int_equal(sample(text, "stirwire_verifier_downloads_total"), 1);
    assert_int_equal(sample(text, "stirwire_verifier_crl_fetches_total"), 0);
    assert_int_equal(sample(text, "stirwire_verifier_crl_failures_total"), 0);
    assert_int_equal(sample(text, "stirwire_verifier_crl_tolerated_total"), 0);
    /* every error name of the table has its sample */
#define SW_XX_HAS(name, ...)                                                                       \
    snprintf(key, sizeof(key), "stirwire_verifier_fetches_total{result=\"%s\"}", #name);           \
    assert_true(sample(text, key) >= 0);
    SW_ERR_MAP(SW_XX_HAS)
#undef SW_XX_HAS
    free(text);
    sw_ctx_free(ctx);
    sw_verifier_free(v);
}

static void label_values_and_help_are_escaped(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(out);
    sw_metrics_family(out, "x_total", "a \\ back\nslash \"quoted\"", "counter");
    sw_metrics_sample(out, "x_total", "l", "a\"b\\c\nd", 5);
    sw_metrics_sample(out, "x_total", NULL, NULL, 6);
    assert_int_equal(fclose(out), 0);
    /* HELP escapes backslash and line feed only; label values also the double quote */
    assert_string_equal(buf, "# HELP x_total a \\\\ back\\nslash \"quoted\"\n"
                             "# TYPE x_total counter\n"
                             "x_total{l=\"a\\\"b\\\\c\\nd\"} 5\n"
                             "x_total 6\n");
    free(buf);
}

/* "promtool check metrics" (Debian's prometheus package) on the whole output, when installed. */
static void promtool_accepts_it(void **state)
{
    sw_verifier *v = sw_verifier_new();
    char *text, cmd[256], tmpl[] = "/tmp/sw-promtool.XXXXXX", line[512];
    FILE *p, *r;
    int fd, st;

    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        sw_verifier_free(v);
        skip(); /* cmocka: shown as skipped */
    }
    fill();
    text = sw_metrics_text(&stats, v);
    assert_non_null(text);
    fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "promtool check metrics >%s 2>&1", tmpl);
    p = popen(cmd, "w");
    assert_non_null(p);
    fputs(text, p);
    st = pclose(p);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        r = fopen(tmpl, "r");
        while (r != NULL && fgets(line, sizeof(line), r) != NULL)
            print_error("promtool: %s", line);
        if (r != NULL)
            fclose(r);
    }
    /* promtool also prints lint warnings with status 0 = none; any output is a finding */
    r = fopen(tmpl, "r");
    assert_non_null(r);
    assert_null(fgets(line, sizeof(line), r));
    fclose(r);
    unlink(tmpl);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(text);
    sw_verifier_free(v);
}

/* --- the handler --------------------------------------------------------------------------- */

static char *daemon_text(void *arg)
{
    return strdup((const char *)arg);
}

static void handler_serves_the_daemon_text_or_its_own(void **state)
{
    struct sw_api api;
    struct sw_http_req req = {.method = "GET", .path = "/metrics", .body = ""};
    struct sw_http_resp resp;

    (void)state;
    memset(&api, 0, sizeof(api));
    api.pub_dirfd = -1;
    api.metrics = daemon_text;
    api.metrics_arg = "stirwire_received_total 3\n";
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(sw_api_metrics(&api, &req, &resp), SW_HTTP_DONE);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(resp.body, "stirwire_received_total 3\n");
    assert_int_equal(resp.body_len, strlen(resp.body));
    assert_int_equal(resp.fd, -1);
    free(resp.body);

    /* "stirwire serve": no daemon counters, the verifier's and the build's */
    api.metrics = NULL;
    api.verifier = sw_verifier_new();
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(sw_api_metrics(&api, &req, &resp), SW_HTTP_DONE);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "\nstirwire_verifier_cache_hits_total 0\n"));
    assert_null(strstr(resp.body, "stirwire_received_total"));
    assert_int_equal(resp.body_len, strlen(resp.body));
    free(resp.body);
    sw_verifier_free(api.verifier);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_table_counter_with_its_help_and_value),
        cmocka_unit_test(filter_counters_in_labelled_families),
        cmocka_unit_test(every_filter_counter_once),
        cmocka_unit_test(structure_is_one_block_per_family),
        cmocka_unit_test(no_stats_no_counter_families),
        cmocka_unit_test(verifier_fetch_failures_by_error_name),
        cmocka_unit_test(label_values_and_help_are_escaped),
        cmocka_unit_test(promtool_accepts_it),
        cmocka_unit_test(handler_serves_the_daemon_text_or_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
