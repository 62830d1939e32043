/*
 * test_audit_filter.c - the `audit` filter (filters/audit.c) through the engine: a trunk
 * whose chain holds a test filter and audit runs an INVITE with sw_pipeline_run() and
 * sw_pipeline_done(), as the proxy does; the record is read back from the audit file and
 * its fields checked with jansson. A call rejected before the chain reaches audit is
 * logged with its status and Reason; other methods are not logged; a reconfigured filter
 * (a reload) writes to a new file at the path after the old one was moved away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <jansson.h>
#include <libconfig.h>

#include "../../src/core/pipeline.h"

extern const struct swf_filter swf_audit;

#define NOW ((int64_t)1700000000) /* 2023-11-14T22:13:20Z */

/* A request with that method (in the request line and CSeq). */
#define REQ(method)                                                                                \
    method " sip:+12025550199@pbx.example.com SIP/2.0\r\n"                                         \
           "Via: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKnashds8\r\n"                          \
           "Max-Forwards: 69\r\n"                                                                  \
           "From: <sip:+12025550100@carrier.example.net;user=phone>;tag=88\r\n"                    \
           "To: <sip:+12025550199@pbx.example.com>\r\n"                                            \
           "Call-ID: 77\"q@carrier.example.net\r\n"                                                \
           "CSeq: 1 " method "\r\n"                                                                \
           "Content-Length: 0\r\n"                                                                 \
           "\r\n"
#define INVITE REQ("INVITE")

static char path[64];

/* --- test filters ------------------------------------------------------------------------ */

/* "verifier": writes a verdict as verify would for a good call */
static swf_result verifier_request(void *state, struct swf_call *call)
{
    struct swf_verdict *v = &call->verdict;

    (void)state;
    v->set = v->verified = 1;
    v->attest = 'A';
    snprintf(v->orig, sizeof(v->orig), "12025550100");
    snprintf(v->dest, sizeof(v->dest), "12025550199");
    snprintf(v->origid, sizeof(v->origid), "123e4567-e89b-12d3-a456-426655440000");
    snprintf(v->x5u, sizeof(v->x5u), "https://cert.example.org/sp.pem");
    snprintf(v->spc, sizeof(v->spc), "1234");
    v->iat = NOW - 3;
    v->verstat = "TN-Validation-Passed";
    v->has_div = 1;
    snprintf(v->div_tn, sizeof(v->div_tn), "12025550111");
    return SWF_CONTINUE;
}

/* "rejecter": rejects as verify does a stale call (403 with RFC 9410's Reason) */
static swf_result rejecter_request(void *state, struct swf_call *call)
{
    struct swf_verdict *v = &call->verdict;

    (void)state;
    v->set = v->verified = v->rejected = 1;
    v->err = SW_ERR_DATE_STALE;
    v->verstat = "TN-Validation-Failed";
    snprintf(v->detail, sizeof(v->detail), "Date is 120 s old");
    call->reply_status = 403;
    snprintf(call->reply_reason, sizeof(call->reply_reason), "Stale Date");
    snprintf(call->reply_headers, sizeof(call->reply_headers),
             "Reason: STIR;cause=403;text=\"Stale Date\"\r\n");
    return SWF_REPLY;
}

static const struct swf_filter f_verifier = {.name = "verifier", .request = verifier_request};
static const struct swf_filter f_rejecter = {.name = "rejecter", .request = rejecter_request};

/* --- helpers ----------------------------------------------------------------------------- */

/* audit's state for output = out (configure as the loader runs it); NULL with err on error */
static void *audit_state(const char *out, char *err, size_t errlen)
{
    char text[256];
    config_t cfg;
    struct sw_cfg_errs errs;
    struct swf_conf fc;
    void *st = NULL;

    snprintf(text, sizeof(text), "trunk = { audit = { output = \"%s\"; }; };", out);
    config_init(&cfg);
    assert_int_equal(config_read_string(&cfg, text), CONFIG_TRUE);
    sw_cfg_errs_init(&errs, "test.conf");
    memset(&fc, 0, sizeof(fc));
    fc.errs = &errs;
    fc.trunk = config_lookup(&cfg, "trunk");
    fc.trunk_name = "t";
    if (swf_configure(&swf_audit, &fc, &st) != 0)
        st = NULL;
    sw_cfg_errs_flush(&errs, err, errlen);
    config_destroy(&cfg);
    return st;
}

/* A configuration with one trunk "carrier-in": first, then audit with state. */
static struct sw_config *make_config(const struct swf_filter *first, void *state)
{
    struct sw_config *cfg = sw_config_new();
    struct sw_trunk *t;

    assert_non_null(cfg);
    assert_non_null(cfg->trunks = calloc(1, sizeof(*cfg->trunks)));
    cfg->ntrunks = 1;
    t = &cfg->trunks[0];
    assert_non_null(t->name = strdup("carrier-in"));
    t->chain[0].filter = first;
    t->chain[0].index = -1;
    t->chain[1].filter = &swf_audit;
    t->chain[1].state = state; /* freed with the configuration (sw_trunk_clear) */
    t->chain[1].index = swf_index(&swf_audit);
    t->nchain = 2;
    return cfg;
}

/* Runs text through cfg's chain and ends it as the proxy would; returns the result. */
static swf_result run(struct sw_config *cfg, const char *text, struct sw_stats *st)
{
    struct sockaddr_in sin;
    struct sw_job job;
    const struct swf_filter *by;
    char err[128];
    swf_result r;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(5071);
    inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr);
    assert_int_equal(sip_parse(&job.msg, text, strlen(text), err, sizeof(err)), 0);
    sw_job_start(&job, cfg, &cfg->trunks[0], (struct sockaddr *)&sin, sizeof(sin), SW_TCP, NOW,
                 NULL, NULL, st);
    r = sw_pipeline_run(&job, &by);
    sw_pipeline_done(&job, r, by);
    return r;
}

/* The lines of the audit file at p (NUL-terminated, static). */
static const char *file_text(const char *p)
{
    static char buf[16384];
    FILE *f = fopen(p, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Line number i (0-based) of text parsed as JSON; the line must be one compact object. */
static json_t *record(const char *text, int i)
{
    const char *p = text, *e;
    json_error_t je;
    json_t *o;

    for (; i > 0; i--) {
        assert_non_null(p = strchr(p, '\n'));
        p++;
    }
    assert_non_null(e = strchr(p, '\n'));
    o = json_loadb(p, (size_t)(e - p), 0, &je);
    if (o == NULL)
        fail_msg("not JSON: %s: %.*s", je.text, (int)(e - p), p);
    assert_true(json_is_object(o));
    return o;
}

static void assert_member_str(json_t *o, const char *key, const char *want)
{
    json_t *v = json_object_get(o, key);

    if (want == NULL) {
        if (!json_is_null(v))
            fail_msg("%s: expected null", key);
        return;
    }
    if (!json_is_string(v))
        fail_msg("%s: expected the string \"%s\"", key, want);
    assert_string_equal(json_string_value(v), want);
}

static int setup(void **unused)
{
    int fd;

    snprintf(path, sizeof(path), "/tmp/test_audit_XXXXXX");
    assert_true((fd = mkstemp(path)) >= 0);
    close(fd);
    return 0;
}

static int teardown(void **unused)
{
    char moved[80];

    snprintf(moved, sizeof(moved), "%s.1", path);
    unlink(path);
    unlink(moved);
    return 0;
}

static void truncate_file(void)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fclose(f);
}

/* --- tests ------------------------------------------------------------------------------- */

static void a_forwarded_invite_is_one_json_line_with_the_verdict(void **unused)
{
    char err[256];
    struct sw_stats st;
    struct sw_config *cfg;
    json_t *o;
    const char *text;

    truncate_file();
    memset(&st, 0, sizeof(st));
    cfg = make_config(&f_verifier, audit_state(path, err, sizeof(err)));
    assert_non_null(cfg->trunks[0].chain[1].state);
    assert_int_equal(run(cfg, INVITE, &st), SWF_CONTINUE);
    text = file_text(path);
    assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text)); /* exactly one line */
    o = record(text, 0);
    assert_member_str(o, "time", "2023-11-14T22:13:20.000Z");
    assert_member_str(o, "src", "198.51.100.7:5071");
    assert_member_str(o, "transport", "tcp");
    assert_member_str(o, "trunk", "carrier-in");
    assert_member_str(o, "call_id", "77\"q@carrier.example.net");
    assert_member_str(o, "method", "INVITE");
    assert_member_str(o, "orig", "12025550100");
    assert_member_str(o, "dest", "12025550199");
    assert_member_str(o, "attest", "A");
    assert_member_str(o, "origid", "123e4567-e89b-12d3-a456-426655440000");
    assert_member_str(o, "x5u", "https://cert.example.org/sp.pem");
    assert_member_str(o, "spc", "1234");
    assert_int_equal(json_integer_value(json_object_get(o, "iat")), NOW - 3);
    assert_int_equal(json_integer_value(json_object_get(o, "iat_age")), 3);
    assert_true(json_is_true(json_object_get(o, "verified")));
    assert_true(json_is_false(json_object_get(o, "signed_here")));
    assert_member_str(o, "verstat", "TN-Validation-Passed");
    assert_member_str(o, "error", NULL);
    assert_member_str(o, "detail", NULL);
    assert_member_str(o, "sip_status", NULL);
    assert_member_str(o, "reason", NULL);
    assert_true(json_is_false(json_object_get(o, "rejected")));
    assert_member_str(o, "result", "forwarded");
    assert_member_str(o, "div", "12025550111");
    json_decref(o);
    assert_int_equal(sw_stats_filter(&st, "audit", "records"), 1);
    assert_int_equal(sw_stats_filter(&st, "audit", "write_failed"), 0);
    sw_config_unref(cfg);
}

static void a_call_rejected_before_audit_is_logged_with_status_and_reason(void **unused)
{
    char err[256];
    struct sw_stats st;
    struct sw_config *cfg;
    json_t *o;

    truncate_file();
    memset(&st, 0, sizeof(st));
    cfg = make_config(&f_rejecter, audit_state(path, err, sizeof(err)));
    assert_int_equal(run(cfg, INVITE, &st), SWF_REPLY);
    o = record(file_text(path), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "sip_status")), 403);
    assert_member_str(o, "reason", "STIR;cause=403;text=\"Stale Date\"");
    assert_true(json_is_true(json_object_get(o, "rejected")));
    assert_member_str(o, "result", "rejected");
    assert_member_str(o, "error", "DATE_STALE");
    assert_member_str(o, "detail", "Date is 120 s old");
    assert_member_str(o, "verstat", "TN-Validation-Failed");
    /* no verdict numbers: the message's own */
    assert_member_str(o, "orig", "12025550100");
    assert_member_str(o, "dest", "12025550199");
    assert_member_str(o, "attest", NULL);
    assert_member_str(o, "iat", NULL);
    assert_member_str(o, "iat_age", NULL);
    assert_member_str(o, "div", NULL);
    json_decref(o);
    assert_int_equal(sw_stats_filter(&st, "audit", "records"), 1);
    sw_config_unref(cfg);
}

static void other_methods_are_not_logged(void **unused)
{
    char err[256];
    struct sw_stats st;
    struct sw_config *cfg;

    truncate_file();
    memset(&st, 0, sizeof(st));
    cfg = make_config(&f_verifier, audit_state(path, err, sizeof(err)));
    assert_int_equal(run(cfg, REQ("OPTIONS"), &st), SWF_CONTINUE);
    assert_string_equal(file_text(path), "");
    assert_int_equal(sw_stats_filter(&st, "audit", "records"), 0);
    sw_config_unref(cfg);
}

static void records_append_and_a_reload_follows_a_rotated_file(void **unused)
{
    char err[256], moved[80];
    struct sw_stats st;
    struct sw_config *old, *next;
    struct stat sb;
    const char *text;

    truncate_file();
    memset(&st, 0, sizeof(st));
    snprintf(moved, sizeof(moved), "%s.1", path);
    old = make_config(&f_verifier, audit_state(path, err, sizeof(err)));
    run(old, INVITE, &st);
    run(old, INVITE, &st);
    /* logrotate moves the file; until the reload the old configuration writes there */
    assert_int_equal(rename(path, moved), 0);
    run(old, INVITE, &st);
    /* the reload: a new configuration opens the path again and creates the file, 0640 */
    next = make_config(&f_verifier, audit_state(path, err, sizeof(err)));
    assert_non_null(next->trunks[0].chain[1].state);
    assert_int_equal(stat(path, &sb), 0);
    run(next, INVITE, &st);
    sw_config_unref(old); /* closes the old descriptor */
    text = file_text(moved);
    json_decref(record(text, 2));
    assert_null(strchr(strchr(strchr(strchr(text, '\n') + 1, '\n') + 1, '\n') + 1, '\n'));
    text = file_text(path);
    json_decref(record(text, 0));
    assert_int_equal(sw_stats_filter(&st, "audit", "records"), 4);
    sw_config_unref(next);
}

static void new_file_mode_is_0640_and_bad_outputs_are_errors(void **unused)
{
    char err[256], p[80];
    struct stat sb;
    mode_t old = umask(0);
    void *st;

    snprintf(p, sizeof(p), "%s.new", path);
    unlink(p);
    assert_non_null(st = audit_state(p, err, sizeof(err)));
    umask(old);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    swf_audit.free(st);
    unlink(p);
    assert_null(audit_state("/nonexistent-dir/audit.log", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(audit_state("", err, sizeof(err)));
    assert_non_null(strstr(err, "audit.output"));
    /* stdout and syslog need nothing opened */
    assert_non_null(st = audit_state("syslog", err, sizeof(err)));
    swf_audit.free(st);
    assert_non_null(st = audit_state("stdout", err, sizeof(err)));
    swf_audit.free(st);
}

static void a_failed_write_is_counted_and_the_call_goes_on(void **unused)
{
    char err[256];
    struct sw_stats st;
    struct sw_config *cfg;
    void *state;

    memset(&st, 0, sizeof(st));
    /* every write to /dev/full fails with ENOSPC */
    if ((state = audit_state("/dev/full", err, sizeof(err))) == NULL)
        skip();
    cfg = make_config(&f_verifier, state);
    assert_int_equal(run(cfg, INVITE, &st), SWF_CONTINUE);
    assert_int_equal(sw_stats_filter(&st, "audit", "write_failed"), 1);
    assert_int_equal(sw_stats_filter(&st, "audit", "records"), 0);
    sw_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_forwarded_invite_is_one_json_line_with_the_verdict),
        cmocka_unit_test(a_call_rejected_before_audit_is_logged_with_status_and_reason),
        cmocka_unit_test(other_methods_are_not_logged),
        cmocka_unit_test(records_append_and_a_reload_follows_a_rotated_file),
        cmocka_unit_test(new_file_mode_is_0640_and_bad_outputs_are_errors),
        cmocka_unit_test(a_failed_write_is_counted_and_the_call_goes_on),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
