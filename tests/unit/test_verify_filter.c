/*
 * test_verify_filter.c - the `verify` filter: its settings (every mistake reported at its
 * line, with "did you mean"), and what a trunk's policy does with each kind of outcome,
 * on SIP text run through the filter's request hook.
 *
 * The outcomes tested here are those decided before any certificate is needed (no
 * Identity, a stale Date or iat, claims that do not match the call, a malformed header,
 * no calling number), since a unit test has no STI-PA to chain a certificate to; the
 * certificate wait is tested through a real job and wait queue, with an x5u on 127.0.0.1
 * where nothing listens, so that the fetch fails at once and the message must be parked,
 * woken by the verifier's thread and resumed.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libconfig.h>

#include "../../src/core/conf.h"
#include "../../src/core/counters.h"
#include "../../src/core/filter.h"
#include "../../src/core/job.h"
#include "../../src/core/pipeline.h"

extern const struct swf_filter swf_verify;

#define NOW ((int64_t)1700000000) /* Tue, 14 Nov 2023 22:13:20 GMT */
#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 GMT"
#define HOUR_AGO_DATE "Tue, 14 Nov 2023 21:13:20 GMT"
#define X5U "https://cert.example.org/sp.pem"
#define ORIG "12025550100"
#define DEST "12025550199"

static sw_key *key;
static struct sw_services svc;

static int setup(void **unused)
{
    sw_ctx *ctx = sw_ctx_new();

    assert_non_null(ctx);
    assert_int_equal(sw_key_generate(ctx, &key), SW_OK);
    sw_ctx_free(ctx);
    sw_services_init(&svc);
    return 0;
}

static int teardown(void **unused)
{
    sw_key_free(key);
    sw_services_clear(&svc);
    return 0;
}

/* --- helpers ----------------------------------------------------------------------------- */

static int configure_svc(struct sw_services *s, void **state, char *err, size_t errlen,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Configures verify from the text of a trunk group (printf-style), as the loader does. */
static int configure_svc(struct sw_services *s, void **state, char *err, size_t errlen,
                         const char *fmt, ...)
{
    char text[2048];
    config_t cfg;
    const config_setting_t *trunk;
    struct sw_cfg_errs errs;
    struct swf_conf fc;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    config_init(&cfg);
    if (config_read_string(&cfg, text) != CONFIG_TRUE)
        fail_msg("config text does not parse: %s (line %d): %s", config_error_text(&cfg),
                 config_error_line(&cfg), text);
    trunk = config_lookup(&cfg, "trunk");
    assert_non_null(trunk);
    err[0] = '\0';
    *state = NULL;
    sw_cfg_errs_init(&errs, "test.conf");
    memset(&fc, 0, sizeof(fc));
    fc.errs = &errs;
    fc.trunk = trunk;
    fc.trunk_name = "t";
    fc.svc = s;
    rc = swf_configure(&swf_verify, &fc, state);
    sw_cfg_errs_flush(&errs, err, errlen);
    config_destroy(&cfg); /* the filter must have copied what it keeps */
    return rc;
}

/* A verify state from the settings of its group ("" for an empty group). */
static void *verify_state(const char *settings)
{
    char err[512];
    void *st;

    if (configure_svc(&svc, &st, err, sizeof(err), "trunk = { verify = { %s }; };", settings) != 0)
        fail_msg("configure failed: %s", err);
    assert_non_null(st);
    return st;
}

/* The errors configure reports for settings, which must fail. */
static const char *configure_errors(const char *settings)
{
    static char err[1024];
    void *st;

    assert_int_equal(
        configure_svc(&svc, &st, err, sizeof(err), "trunk = { verify = { %s }; };", settings), -1);
    assert_null(st);
    return err;
}

/* An Identity header line for orig/dest at iat, signed with the test key. */
static char *identity_line(const char *orig, const char *dest, int64_t iat, const char *x5u)
{
    static char line[2048];
    sw_ctx *ctx = sw_ctx_new();
    char *value = NULL;

    assert_non_null(ctx);
    if (sw_sign_shaken(ctx, key, 'A', orig, &dest, 1, iat, NULL, x5u, 0, &value) != SW_OK)
        fail_msg("sign: %s", sw_errmsg(ctx));
    snprintf(line, sizeof(line), "Identity: %s\r\n", value);
    sw_free(value);
    sw_ctx_free(ctx);
    return line;
}

/* An INVITE (or method) from from_user to DEST; extra lines after CSeq ("" for none). */
static char *request(const char *method, const char *from_user, const char *extra)
{
    char *buf = malloc(8192);

    assert_non_null(buf);
    snprintf(buf, 8192,
             "%s sip:" DEST "@pbx.example.com SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:%s@carrier.example.net>;tag=88\r\n"
             "To: <sip:" DEST "@pbx.example.com>\r\n"
             "Call-ID: 77@carrier.example.net\r\n"
             "CSeq: 1 %s\r\n"
             "%s"
             "Content-Length: 0\r\n"
             "\r\n",
             method, from_user, method, extra);
    return buf;
}

/* One request through the filter's hook, outside any job (it must not need to wait). */
struct run {
    char *text;
    struct sip_msg msg;
    struct sip_edits ed;
    struct swf_call call;
    unsigned char slot[SWF_SLOT_BYTES];
    uint64_t counters[SWF_MAX_COUNTERS];
    sw_ctx *ctx;
    swf_result result;
};

static struct run *run(void *state, char *text)
{
    struct run *r = calloc(1, sizeof(*r));
    char err[256];

    assert_non_null(r);
    r->text = text;
    if (sip_parse(&r->msg, text, strlen(text), err, sizeof(err)) != 0)
        fail_msg("input does not parse: %s", err);
    sip_edits_init(&r->ed);
    r->ctx = sw_ctx_new();
    assert_non_null(r->ctx);
    r->call.msg = &r->msg;
    r->call.edits = &r->ed;
    r->call.ctx = r->ctx;
    r->call.now = NOW;
    r->call.slot = r->slot;
    r->call.counters = r->counters;
    r->result = swf_verify.request(state, &r->call);
    return r;
}

static void run_free(struct run *r)
{
    sw_ctx_free(r->ctx);
    free(r->text);
    free(r);
}

/* The index of a verify counter by name. */
static uint64_t counter(const struct run *r, const char *name)
{
    size_t i;

    for (i = 0; swf_verify.counters[i] != NULL; i++)
        if (strcmp(swf_verify.counters[i], name) == 0)
            return r->counters[i];
    fail_msg("no verify counter %s", name);
    return 0;
}

/* The sum of every verify counter: exactly one outcome (plus rejected) per request. */
static uint64_t counted(const struct run *r)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; swf_verify.counters[i] != NULL; i++)
        n += r->counters[i];
    return n;
}

static void assert_reply(const struct run *r, int status, const char *reason, const char *cause)
{
    char want[64];

    assert_int_equal(r->result, SWF_REPLY);
    assert_int_equal(r->call.reply_status, status);
    assert_string_equal(r->call.reply_reason, reason);
    snprintf(want, sizeof(want), "Reason: STIR;cause=%s;text=\"", cause);
    assert_memory_equal(r->call.reply_headers, want, strlen(want));
    assert_string_equal(r->call.reply_headers + strlen(r->call.reply_headers) - 2, "\r\n");
    assert_int_equal(r->call.verdict.rejected, 1);
    assert_int_equal(counter(r, "rejected"), 1);
    assert_int_equal(r->ed.n, 0);
}

static void assert_forwarded(const struct run *r, sw_err err, const char *verstat)
{
    assert_int_equal(r->result, SWF_CONTINUE);
    assert_int_equal(r->call.verdict.set, 1);
    assert_int_equal(r->call.verdict.verified, 1);
    assert_int_equal(r->call.verdict.signed_here, 0);
    assert_int_equal(r->call.verdict.rejected, 0);
    assert_int_equal(r->call.verdict.err, err);
    assert_string_equal(r->call.verdict.verstat, verstat);
    assert_int_equal(r->ed.n, 0); /* verify never edits: verstat and strip do */
    assert_int_equal(counter(r, "rejected"), 0);
}

/* --- settings ---------------------------------------------------------------------------- */

static void test_defaults_need_no_group(void **unused)
{
    char err[256];
    void *st = NULL;

    assert_int_equal(configure_svc(&svc, &st, err, sizeof(err), "trunk = { };"), 0);
    assert_non_null(st);
    assert_non_null(svc.verifier); /* the shared one, made on first use */
    swf_verify.free(st);
}

static void test_every_setting_is_read(void **unused)
{
    void *st = verify_state("policy = \"reject\"; reject = [ \"missing\", \"cert\" ];"
                            " fetch_failure = \"closed\"; anonymous = \"verify\";"
                            " date = \"require\"; max_age = 120; future_skew = 10;"
                            " dest = \"ruri\"; methods = [ \"INVITE\", \"MESSAGE\" ];");
    swf_verify.free(st);
}

static void test_without_services_is_an_error(void **unused)
{
    char err[512];
    void *st;

    assert_int_equal(configure_svc(NULL, &st, err, sizeof(err), "trunk = { verify = { }; };"), -1);
    assert_non_null(strstr(err, "needs the daemon's certificate verifier"));
}

static void test_bad_policy_names_the_closest_value(void **unused)
{
    const char *err = configure_errors("policy = \"rejct\";");

    assert_non_null(strstr(err, "test.conf:1:"));
    assert_non_null(strstr(err, "verify.policy: unknown value \"rejct\""));
    assert_non_null(strstr(err, "did you mean \"reject\"?"));
    assert_non_null(strstr(err, "known: reject, tag, pass"));
}

static void test_unknown_reject_class_is_reported(void **unused)
{
    const char *err =
        configure_errors("policy = \"reject\"; reject = [ \"stale\", \"sigature\" ];");

    assert_non_null(strstr(err, "verify.reject[1]: unknown error class \"sigature\""));
    assert_non_null(strstr(err, "did you mean \"signature\"?"));
    err = configure_errors("reject = [ 438 ];");
    assert_non_null(strstr(err, "verify.reject[0]: must be a string"));
    err = configure_errors("reject = \"cert\";");
    assert_non_null(strstr(err, "verify.reject: must be a list"));
}

static void test_unknown_key_names_the_closest_one(void **unused)
{
    const char *err = configure_errors("polcy = \"tag\";");

    assert_non_null(strstr(err, "polcy"));
    assert_non_null(strstr(err, "did you mean \"policy\"?"));
}

static void test_every_bad_value_is_reported_at_once(void **unused)
{
    const char *err =
        configure_errors("fetch_failure = \"opne\";\n anonymous = \"allow\";\n date = 1;\n"
                         " max_age = 0;\n future_skew = 99999;\n dest = \"from\";\n"
                         " methods = [ \"invite\" ];");

    assert_non_null(strstr(err, "verify.fetch_failure: unknown value \"opne\" (did you mean "
                                "\"open\"?)"));
    assert_non_null(strstr(err, "verify.anonymous: unknown value \"allow\""));
    assert_non_null(strstr(err, "test.conf:3:"));
    assert_non_null(strstr(err, "max_age"));
    assert_non_null(strstr(err, "future_skew"));
    assert_non_null(strstr(err, "verify.dest: unknown value \"from\""));
    assert_non_null(strstr(err, "\"invite\" is not a method name"));
    assert_non_null(strstr(err, "test.conf:7:"));
    err = configure_errors("methods = [ ];");
    assert_non_null(strstr(err, "verify.methods: empty"));
}

/* --- what the policy does ---------------------------------------------------------------- */

static void test_missing_identity_is_tagged_by_default(void **unused)
{
    void *st = verify_state("policy = \"reject\";");
    struct run *r = run(st, request("INVITE", ORIG, ""));

    assert_forwarded(r, SW_ERR_IDENTITY_MISSING, "No-TN-Validation");
    assert_int_equal(counter(r, "missing"), 1);
    assert_int_equal(counted(r), 1);
    assert_string_equal(r->call.verdict.orig, ORIG);
    assert_string_equal(r->call.verdict.dest, DEST);
    assert_int_equal(r->call.verdict.identities, 0);
    assert_non_null(strstr(r->call.note, "IDENTITY_MISSING"));
    run_free(r);
    swf_verify.free(st);
}

static void test_missing_identity_is_428_when_listed(void **unused)
{
    void *st = verify_state("policy = \"reject\"; reject = [ \"missing\" ];");
    struct run *r = run(st, request("INVITE", ORIG, ""));

    assert_reply(r, 428, "Use Identity Header", "428");
    assert_int_equal(r->call.verdict.err, SW_ERR_IDENTITY_MISSING);
    assert_int_equal(counter(r, "missing"), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_stale_date_is_403_with_reason(void **unused)
{
    char extra[4096];
    void *st = verify_state("policy = \"reject\";");
    struct run *r;

    snprintf(extra, sizeof(extra), "Date: " HOUR_AGO_DATE "\r\n%s",
             identity_line(ORIG, DEST, NOW, X5U));
    r = run(st, request("INVITE", ORIG, extra));
    assert_reply(r, 403, "Stale Date", "403");
    assert_int_equal(r->call.verdict.err, SW_ERR_DATE_STALE);
    assert_string_equal(r->call.verdict.verstat, "TN-Validation-Failed");
    assert_int_equal(r->call.verdict.attest, 'A');
    assert_string_equal(r->call.verdict.x5u, X5U);
    assert_int_equal(r->call.verdict.iat, NOW);
    assert_int_equal(r->call.verdict.identities, 1);
    assert_int_equal(counter(r, "stale"), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_stale_iat_under_tag_is_forwarded_failed(void **unused)
{
    void *st = verify_state("policy = \"tag\";");
    struct run *r = run(st, request("INVITE", ORIG, identity_line(ORIG, DEST, NOW - 3600, X5U)));

    assert_forwarded(r, SW_ERR_STALE, "TN-Validation-Failed");
    assert_int_equal(r->call.verdict.pass_only, 0);
    assert_int_equal(counter(r, "stale"), 1);
    assert_int_equal(counted(r), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_max_age_is_the_trunks(void **unused)
{
    /* 100 s old: too old for the default 60, fresh for a trunk that allows 120 */
    void *st = verify_state("policy = \"reject\"; reject = [ \"stale\" ]; max_age = 120;");
    struct run *r =
        run(st, request("INVITE", ORIG, identity_line(ORIG, "19995550000", NOW - 100, X5U)));

    /* not stale: the next check (dest) decides, and claims is not listed */
    assert_forwarded(r, SW_ERR_DEST_MISMATCH, "TN-Validation-Failed");
    assert_int_equal(counter(r, "claims"), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_claims_mismatch_is_438(void **unused)
{
    void *st = verify_state("policy = \"reject\";");
    struct run *r = run(st, request("INVITE", ORIG, identity_line("13035550100", DEST, NOW, X5U)));

    assert_reply(r, 438, "Invalid Identity Header", "438");
    assert_int_equal(r->call.verdict.err, SW_ERR_ORIG_MISMATCH);
    assert_int_equal(counter(r, "claims"), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_malformed_identity_is_438(void **unused)
{
    void *st = verify_state("policy = \"reject\";");
    struct run *r =
        run(st, request("INVITE", ORIG,
                        "Identity: not-a-token;info=<" X5U ">;alg=ES256;ppt=shaken\r\n"));

    assert_reply(r, 438, "Invalid Identity Header", "438");
    assert_int_equal(sw_err_class(r->call.verdict.err), SW_CLASS_MALFORMED);
    assert_int_equal(counter(r, "malformed"), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_pass_observes_and_never_rejects(void **unused)
{
    void *st = verify_state("policy = \"pass\"; anonymous = \"reject\";");
    struct run *r = run(st, request("INVITE", ORIG, identity_line(ORIG, DEST, NOW - 3600, X5U)));

    assert_forwarded(r, SW_ERR_STALE, "TN-Validation-Failed");
    assert_int_equal(r->call.verdict.pass_only, 1);
    run_free(r);
    r = run(st, request("INVITE", "anonymous", identity_line(ORIG, DEST, NOW, X5U)));
    assert_forwarded(r, SW_ERR_NO_TN, "No-TN-Validation");
    assert_int_equal(r->call.verdict.pass_only, 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_anonymous_is_no_tn_by_default(void **unused)
{
    void *st = verify_state("policy = \"reject\"; reject = [ \"missing\" ];");
    struct run *r = run(st, request("INVITE", "anonymous", identity_line(ORIG, DEST, NOW, X5U)));

    /* never rejected, though "missing" (the class of NO_TN) is listed */
    assert_forwarded(r, SW_ERR_NO_TN, "No-TN-Validation");
    assert_int_equal(counter(r, "no_tn"), 1);
    assert_int_equal(counted(r), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_anonymous_reject_is_433(void **unused)
{
    void *st = verify_state("anonymous = \"reject\";"); /* under the default policy, tag */
    struct run *r = run(st, request("INVITE", "anonymous", identity_line(ORIG, DEST, NOW, X5U)));

    assert_reply(r, 433, "Anonymity Disallowed", "433");
    assert_int_equal(counter(r, "no_tn"), 1);
    run_free(r);
    swf_verify.free(st);
}

static void test_anonymous_verify_judges_the_token(void **unused)
{
    void *st = verify_state("policy = \"reject\"; anonymous = \"verify\";");
    struct run *r = run(st, request("INVITE", "anonymous", identity_line(ORIG, DEST, NOW, X5U)));

    /* no calling number to match orig against: a claims failure, not NO_TN */
    assert_int_equal(r->result, SWF_REPLY);
    assert_int_equal(sw_err_class(r->call.verdict.err), SW_CLASS_CLAIMS);
    run_free(r);
    swf_verify.free(st);
}

static void test_unlisted_methods_are_left_alone(void **unused)
{
    void *st = verify_state("policy = \"reject\"; reject = [ \"missing\" ];");
    struct run *r = run(st, request("OPTIONS", ORIG, ""));

    assert_int_equal(r->result, SWF_CONTINUE);
    assert_int_equal(r->call.verdict.set, 0);
    assert_int_equal(counted(r), 0);
    run_free(r);
    swf_verify.free(st);
    st = verify_state("policy = \"reject\"; reject = [ \"missing\" ]; methods = [ \"MESSAGE\" ];");
    r = run(st, request("MESSAGE", ORIG, ""));
    assert_int_equal(r->result, SWF_REPLY);
    run_free(r);
    swf_verify.free(st);
}

/* --- waiting for the certificate --------------------------------------------------------- */

/* A one-trunk configuration whose chain is verify with settings. */
static struct sw_config *verify_config(const char *settings)
{
    struct sw_config *cfg = sw_config_new();
    struct sw_trunk *t;

    assert_non_null(cfg);
    assert_non_null(cfg->trunks = calloc(1, sizeof(*cfg->trunks)));
    cfg->ntrunks = 1;
    t = &cfg->trunks[0];
    assert_non_null(t->name = strdup("t"));
    t->chain[0].filter = &swf_verify;
    t->chain[0].state = verify_state(settings);
    t->chain[0].index = swf_index(&swf_verify);
    t->nchain = 1;
    return cfg;
}

static void start(struct sw_job *job, char *text, struct sw_config *cfg, sw_ctx *ctx,
                  struct sw_waitq *q, struct sw_stats *st)
{
    struct sockaddr_in src;
    char err[128];

    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    src.sin_port = htons(5060);
    inet_pton(AF_INET, "198.51.100.7", &src.sin_addr);
    assert_int_equal(sip_parse(&job->msg, text, strlen(text), err, sizeof(err)), 0);
    sw_job_start(job, cfg, &cfg->trunks[0], (struct sockaddr *)&src, sizeof(src), SW_UDP, NOW, ctx,
                 q, st);
}

/* A valid-looking call whose certificate is on 127.0.0.1:8443, where nothing listens. */
#define LOCAL_X5U "https://127.0.0.1:8443/sp.pem"

/*
 * The verifier fetches nothing while it has no trust anchor; any will do here, since the
 * fetch fails before a certificate is seen. A missing bundle skips the test.
 */
#define ANY_ANCHORS "/etc/ssl/certs/ca-certificates.crt"

static void allow_local_fetch(void)
{
    sw_verifier *v = sw_services_verifier(&svc);
    sw_ctx *ctx = sw_ctx_new();

    assert_non_null(v);
    assert_non_null(ctx);
    if (access(ANY_ANCHORS, R_OK) != 0) {
        sw_ctx_free(ctx);
        skip();
    }
    assert_int_equal(sw_verifier_load_ca_file(v, ctx, ANY_ANCHORS), SW_OK);
    sw_ctx_free(ctx);
    /* the failure is remembered (negative_ttl, 30 s): the resumed call finds it there;
     * so each test uses its own URL */
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 1), SW_OK);
}

static void test_fetch_waits_parked_then_fails_open(void **unused)
{
    struct sw_config *cfg;
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job, *woken;
    const struct swf_filter *by;
    struct pollfd pfd;
    sw_ctx *ctx = sw_ctx_new();
    char *text;
    int idx = swf_index(&swf_verify);

    allow_local_fetch();
    cfg = verify_config("policy = \"reject\";");
    text = request("INVITE", ORIG, identity_line(ORIG, DEST, NOW, LOCAL_X5U));
    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 10), 0);
    start(&job, text, cfg, ctx, &q, &st);
    if (sw_pipeline_run(&job, &by) != SWF_WAIT)
        fail_msg("did not wait: %s", job.call.note);
    assert_ptr_equal(by, &swf_verify);
    assert_int_equal(st.filter[idx][12], 1); /* parked */

    /* the verifier's thread wakes it once the fetch has failed */
    pfd.fd = q.efd;
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    woken = sw_waitq_take(&q);
    assert_ptr_equal(woken, job.heap);
    assert_null(woken->qnext);
    assert_int_equal(sw_pipeline_run(woken, &by), SWF_CONTINUE);
    assert_int_equal(woken->call.verdict.tagged_open, 1);
    assert_string_equal(woken->call.verdict.verstat, "No-TN-Validation");
    assert_int_equal(woken->call.verdict.err, SW_ERR_CERT_CONNECT);
    assert_string_equal(woken->call.verdict.x5u, LOCAL_X5U);
    assert_int_equal(st.filter[idx][8], 1); /* fetch_failed_open */
    assert_int_equal(st.filter[idx][11], 0);
    sw_job_free(woken);
    sw_waitq_destroy(&q);
    sw_config_unref(cfg);
    sw_ctx_free(ctx);
    free(text);
}

static void test_fetch_failure_closed_is_436(void **unused)
{
    struct sw_config *cfg;
    struct sw_waitq q;
    struct sw_stats st;
    struct sw_job job, *woken;
    const struct swf_filter *by;
    struct pollfd pfd;
    sw_ctx *ctx = sw_ctx_new();
    char *text;

    allow_local_fetch();
    cfg = verify_config("policy = \"reject\"; fetch_failure = \"closed\";");
    text = request("INVITE", ORIG,
                   identity_line(ORIG, DEST, NOW, "https://127.0.0.1:8443/closed.pem"));
    memset(&st, 0, sizeof(st));
    assert_int_equal(sw_waitq_init(&q, 10), 0);
    start(&job, text, cfg, ctx, &q, &st);
    if (sw_pipeline_run(&job, &by) != SWF_WAIT)
        fail_msg("did not wait: %s", job.call.note);
    pfd.fd = q.efd;
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    woken = sw_waitq_take(&q);
    assert_int_equal(sw_pipeline_run(woken, &by), SWF_REPLY);
    assert_int_equal(woken->call.reply_status, 436);
    assert_string_equal(woken->call.reply_reason, "Bad Identity Info");
    assert_non_null(strstr(woken->call.reply_headers, "Reason: STIR;cause=436;"));
    assert_int_equal(woken->call.verdict.tagged_open, 0);
    assert_string_equal(woken->call.verdict.verstat, "TN-Validation-Failed");
    sw_job_free(woken);
    sw_waitq_destroy(&q);
    sw_config_unref(cfg);
    sw_ctx_free(ctx);
    free(text);
}

static void test_no_room_to_park_applies_fetch_failure(void **unused)
{
    struct sw_config *cfg;
    struct sw_stats st;
    struct sw_job job;
    const struct swf_filter *by;
    sw_ctx *ctx = sw_ctx_new();
    char *text;
    int idx = swf_index(&swf_verify);

    allow_local_fetch();
    cfg = verify_config("policy = \"reject\";");
    /* another URL than the tests above, so that nothing of theirs is cached */
    text =
        request("INVITE", ORIG, identity_line(ORIG, DEST, NOW, "https://127.0.0.1:8443/other.pem"));
    memset(&st, 0, sizeof(st));
    start(&job, text, cfg, ctx, NULL, &st); /* no wait queue: this caller cannot park */
    assert_int_equal(sw_pipeline_run(&job, &by), SWF_CONTINUE);
    assert_int_equal(job.call.verdict.tagged_open, 1);
    assert_int_equal(job.call.verdict.err, SW_ERR_CERT_UNAVAILABLE);
    assert_non_null(strstr(job.call.verdict.detail, "max_parked"));
    assert_int_equal(st.filter[idx][8], 1);  /* fetch_failed_open */
    assert_int_equal(st.filter[idx][12], 0); /* not parked */
    sw_config_unref(cfg);
    sw_ctx_free(ctx);
    free(text);
}

static void test_counter_names_fit_the_table(void **unused)
{
    size_t n = 0;

    while (swf_verify.counters[n] != NULL)
        n++;
    assert_true(n <= SWF_MAX_COUNTERS);
    assert_string_equal(swf_verify.counters[8], "fetch_failed_open");
    assert_string_equal(swf_verify.counters[11], "rejected");
    assert_string_equal(swf_verify.counters[12], "parked");
    assert_ptr_equal(swf_lookup("verify"), &swf_verify);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_need_no_group),
        cmocka_unit_test(test_every_setting_is_read),
        cmocka_unit_test(test_without_services_is_an_error),
        cmocka_unit_test(test_bad_policy_names_the_closest_value),
        cmocka_unit_test(test_unknown_reject_class_is_reported),
        cmocka_unit_test(test_unknown_key_names_the_closest_one),
        cmocka_unit_test(test_every_bad_value_is_reported_at_once),
        cmocka_unit_test(test_missing_identity_is_tagged_by_default),
        cmocka_unit_test(test_missing_identity_is_428_when_listed),
        cmocka_unit_test(test_stale_date_is_403_with_reason),
        cmocka_unit_test(test_stale_iat_under_tag_is_forwarded_failed),
        cmocka_unit_test(test_max_age_is_the_trunks),
        cmocka_unit_test(test_claims_mismatch_is_438),
        cmocka_unit_test(test_malformed_identity_is_438),
        cmocka_unit_test(test_pass_observes_and_never_rejects),
        cmocka_unit_test(test_anonymous_is_no_tn_by_default),
        cmocka_unit_test(test_anonymous_reject_is_433),
        cmocka_unit_test(test_anonymous_verify_judges_the_token),
        cmocka_unit_test(test_unlisted_methods_are_left_alone),
        cmocka_unit_test(test_fetch_waits_parked_then_fails_open),
        cmocka_unit_test(test_fetch_failure_closed_is_436),
        cmocka_unit_test(test_no_room_to_park_applies_fetch_failure),
        cmocka_unit_test(test_counter_names_fit_the_table),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
