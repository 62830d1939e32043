/*
 * test_sign_filter.c - the filter registry and the `sign` and `strip` filters, end to end
 * on SIP text: a request is parsed, run through the filter's request hook, the edits are
 * spliced, and the result is parsed again and checked the way a carrier would check it
 * (sw_verify_header with the public key and the call's numbers).
 *
 * The key is made fresh for each run and written to a temporary file, because the filter
 * only takes a path; the clock is fixed (NOW) so that Date lines and iat are known.
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
#include <libconfig.h>

#include "../../filters/sign.h"
#include "../../src/core/filter.h"

extern const struct swf_filter swf_strip;

#define NOW ((int64_t)1700000000) /* Tue, 14 Nov 2023 22:13:20 GMT */
#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 GMT"
#define X5U "https://cert.example.org/sp.pem"

static char key_path[64];
static sw_key *key;
static sw_pubkey *pub;
static char pki_dir[64]; /* the test STI PKI, made on first use (test_pki) */
static int pki_made = -1;

/* The usual rules: a prefix, a range and an exact number give A, anything else B. */
#define RULES_ABC                                                                                  \
    "attest = ( { numbers = [ \"1202555\", \"13035550100-13035550199\", \"+1 404 555 0100\" ];"    \
    " level = \"A\"; }, { level = \"B\"; } );"

static int setup(void **unused)
{
    sw_ctx *ctx = sw_ctx_new();
    char *pem = NULL;
    int fd;

    assert_non_null(ctx);
    assert_int_equal(sw_key_generate(ctx, &key), SW_OK);
    assert_int_equal(sw_pubkey_from_key(ctx, key, &pub), SW_OK);
    assert_int_equal(sw_key_private_pem(ctx, key, &pem), SW_OK);
    snprintf(key_path, sizeof(key_path), "/tmp/test_sign_filter_XXXXXX");
    fd = mkstemp(key_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
    close(fd);
    sw_free(pem);
    sw_ctx_free(ctx);
    return 0;
}

static int teardown(void **unused)
{
    unlink(key_path);
    if (pki_made == 1) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", pki_dir);
    }
    sw_key_free(key);
    sw_pubkey_free(pub);
    return 0;
}

/* --- helpers ----------------------------------------------------------------------------- */

static int configure_fmt(const struct swf_filter *f, void **state, char *err, size_t errlen,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Configures f from the text of a trunk group (printf-style); returns what configure did. */
static int configure_fmt(const struct swf_filter *f, void **state, char *err, size_t errlen,
                         const char *fmt, ...)
{
    char text[2048];
    config_t cfg;
    const config_setting_t *trunk;
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
    {
        /* as the loader does: the group's keys checked, then the filter reads it */
        struct sw_cfg_errs errs;
        struct swf_conf fc;

        sw_cfg_errs_init(&errs, "test.conf");
        memset(&fc, 0, sizeof(fc));
        fc.errs = &errs;
        fc.trunk = trunk;
        fc.trunk_name = "t";
        rc = swf_configure(f, &fc, state);
        sw_cfg_errs_flush(&errs, err, errlen);
    }
    config_destroy(&cfg); /* the filter must have copied what it keeps */
    return rc;
}

/* A sign filter state from the settings of the sign group after key and x5u. */
static void *sign_state(const char *settings)
{
    char err[256];
    void *st;

    if (configure_fmt(&swf_sign, &st, err, sizeof(err),
                      "trunk = { sign = { key = \"%s\"; x5u = \"" X5U "\"; %s }; };", key_path,
                      settings) != 0)
        fail_msg("configure failed: %s", err);
    assert_non_null(st);
    return st;
}

/* A request; extra is inserted after CSeq (whole lines with CRLF), "" for none. */
static char *request(const char *method, const char *ruri_user, const char *from_user,
                     const char *to_user, const char *extra)
{
    char *buf = malloc(4096);

    assert_non_null(buf);
    snprintf(buf, 4096,
             "%s sip:%s@carrier.example.net SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
             "Max-Forwards: 70\r\n"
             "From: \"Alice\" <sip:%s@pbx.example.com>;tag=1928301774\r\n"
             "To: <sip:%s@carrier.example.net>\r\n"
             "Call-ID: a84b4c76e66710@pbx.example.com\r\n"
             "CSeq: 314159 %s\r\n"
             "%s"
             "Contact: <sip:alice@192.0.2.10>\r\n"
             "Content-Length: 0\r\n"
             "\r\n",
             method, ruri_user, from_user, to_user, method, extra);
    return buf;
}

/* One request through one filter: the input, the edits, the spliced output parsed again. */
struct run {
    char *text;
    struct sip_msg in, out;
    struct sip_edits ed;
    struct swf_call call;
    sw_ctx *ctx;
    char outbuf[SIP_MAX_MSG];
    size_t outlen;
    swf_result result;
    uint64_t counters[SWF_MAX_COUNTERS];
};

static struct run *run(const struct swf_filter *f, void *state, char *text)
{
    struct run *r = calloc(1, sizeof(*r));
    char err[256];

    assert_non_null(r);
    r->text = text;
    if (sip_parse(&r->in, text, strlen(text), err, sizeof(err)) != 0)
        fail_msg("input does not parse: %s", err);
    sip_edits_init(&r->ed);
    r->ctx = sw_ctx_new();
    assert_non_null(r->ctx);
    sw_ctx_set_now(r->ctx, NOW);
    r->call.msg = &r->in;
    r->call.edits = &r->ed;
    r->call.ctx = r->ctx;
    r->call.now = NOW;
    r->call.counters = r->counters;
    r->result = f->request(state, &r->call);
    r->outlen = sip_splice(text, strlen(text), &r->ed, r->outbuf, sizeof(r->outbuf));
    assert_true(r->outlen != (size_t)-1);
    if (sip_parse(&r->out, r->outbuf, r->outlen, err, sizeof(err)) != 0)
        fail_msg("output does not parse: %s\n%.*s", err, (int)r->outlen, r->outbuf);
    return r;
}

static void run_free(struct run *r)
{
    sw_ctx_free(r->ctx);
    free(r->text);
    free(r);
}

static size_t count_hdr(const struct sip_msg *m, enum sip_hdr_id id)
{
    size_t n = 0;

    while (sip_hdr_find(m, id, n) != NULL)
        n++;
    return n;
}

static void assert_unchanged(const struct run *r)
{
    assert_int_equal(r->outlen, strlen(r->text));
    assert_memory_equal(r->outbuf, r->text, r->outlen);
}

/*
 * The output holds exactly one Identity, which verifies for orig and dest, with the
 * attestation expected. Returns the token's iat.
 */
static int64_t assert_signed(struct run *r, const char *orig, const char *dest, char level)
{
    const struct sip_hdr *h;
    const char *value;
    sw_identity *id = NULL;
    int64_t iat;
    sw_err e;

    assert_int_equal(r->result, SWF_CONTINUE);
    assert_int_equal(count_hdr(&r->out, SH_IDENTITY), 1);
    h = sip_hdr_find(&r->out, SH_IDENTITY, 0);
    value = r->out.buf + h->value_off;
    e = sw_verify_header(r->ctx, value, h->value_len, pub, orig, dest);
    if (e != SW_OK)
        fail_msg("verify: %s (%s)", sw_strerror(e), sw_errmsg(r->ctx));
    assert_int_equal(sw_identity_parse(r->ctx, value, h->value_len, &id), SW_OK);
    assert_int_equal(sw_passport_attest(sw_identity_passport(id)), level);
    assert_string_equal(sw_identity_info(id), X5U);
    iat = sw_passport_iat(sw_identity_passport(id));
    sw_identity_free(id);
    assert_non_null(strstr(r->call.note, "signed attest"));
    return iat;
}

static void assert_not_signed(const struct run *r)
{
    assert_int_equal(r->result, SWF_CONTINUE);
    assert_int_equal(r->ed.n, 0);
    assert_unchanged(r);
    assert_non_null(strstr(r->call.note, "not signed"));
}

/* --- registry ---------------------------------------------------------------------------- */

static void test_registry_finds_every_filter_by_its_name(void **unused)
{
    const char *const *names = swf_names();
    size_t i;

    assert_ptr_equal(swf_lookup("sign"), &swf_sign);
    assert_ptr_equal(swf_lookup("strip"), &swf_strip);
    assert_null(swf_lookup("sgin"));
    assert_null(swf_lookup(NULL));
    for (i = 0; names[i] != NULL; i++) {
        assert_non_null(swf_lookup(names[i]));
        assert_string_equal(swf_lookup(names[i])->name, names[i]);
    }
    assert_true(i >= 2);
}

/* --- attestation by the rules ------------------------------------------------------------ */

static void test_sign_prefix_rule_gives_A(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", ""));

    assert_signed(r, "12025550100", "12025550199", 'A');
    assert_string_equal(r->call.note, "signed attest A orig 12025550100 dest 12025550199");
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_range_rule_gives_A_inside_only(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r;

    r = run(&swf_sign, st, request("INVITE", "12025550199", "13035550150", "12025550199", ""));
    assert_signed(r, "13035550150", "12025550199", 'A');
    run_free(r);
    r = run(&swf_sign, st, request("INVITE", "12025550199", "13035550100", "12025550199", ""));
    assert_signed(r, "13035550100", "12025550199", 'A');
    run_free(r);
    r = run(&swf_sign, st, request("INVITE", "12025550199", "13035550199", "12025550199", ""));
    assert_signed(r, "13035550199", "12025550199", 'A');
    run_free(r);
    r = run(&swf_sign, st, request("INVITE", "12025550199", "13035550200", "12025550199", ""));
    assert_signed(r, "13035550200", "12025550199", 'B');
    run_free(r);
    r = run(&swf_sign, st, request("INVITE", "12025550199", "130355501500", "12025550199", ""));
    assert_signed(r, "130355501500", "12025550199", 'B'); /* longer: not in the range */
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_number_written_with_separators_gives_A(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "+14045550100", "12025550199", ""));

    assert_signed(r, "14045550100", "12025550199", 'A');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_catch_all_rule_gives_B(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "15055550100", "12025550199", ""));

    assert_signed(r, "15055550100", "12025550199", 'B');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_first_matching_rule_wins(void **unused)
{
    /* the second rule is reachable (12025550100), but not for 15055550100 */
    void *st = sign_state("attest = ( { numbers = [ \"1505*\" ]; level = \"C\"; },"
                          " { numbers = [ \"15055550100\", \"12025550100\" ]; level = \"A\"; } );");
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "15055550100", "12025550199", ""));

    assert_signed(r, "15055550100", "12025550199", 'C');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_exact_number_matches_only_itself(void **unused)
{
    void *st = sign_state("attest = ( { numbers = [ \"13035550100\" ]; level = \"A\"; },"
                          " { level = \"C\"; } );");
    struct run *r;

    r = run(&swf_sign, st, request("INVITE", "12025550199", "13035550100", "12025550199", ""));
    assert_signed(r, "13035550100", "12025550199", 'A');
    run_free(r);
    /* the example: one digit more is another number */
    r = run(&swf_sign, st, request("INVITE", "12025550199", "130355501009", "12025550199", ""));
    assert_signed(r, "130355501009", "12025550199", 'C');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_star_makes_a_prefix(void **unused)
{
    void *st = sign_state("attest = ( { numbers = [ \"+1 303 555 01*\" ]; level = \"A\"; },"
                          " { level = \"C\"; } );");
    struct run *r;

    r = run(&swf_sign, st, request("INVITE", "12025550199", "130355501009", "12025550199", ""));
    assert_signed(r, "130355501009", "12025550199", 'A');
    run_free(r);
    r = run(&swf_sign, st, request("INVITE", "12025550199", "13035550200", "12025550199", ""));
    assert_signed(r, "13035550200", "12025550199", 'C');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_short_bare_entry_is_still_a_prefix(void **unused)
{
    /* written before '*' existed: "1202555" is no whole number, so it stays a prefix */
    void *st = sign_state("attest = ( { numbers = [ \"1202555\" ]; level = \"A\"; } );");
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", ""));

    assert_signed(r, "12025550100", "12025550199", 'A');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_no_matching_rule_leaves_request_unsigned(void **unused)
{
    void *st = sign_state("attest = ( { numbers = [ \"1202555\" ]; level = \"A\"; } );");
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "15055550100", "12025550199", ""));

    assert_not_signed(r);
    assert_non_null(strstr(r->call.note, "no attest rule"));
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_non_number_caller_leaves_request_unsigned(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "alice", "12025550199", ""));

    assert_not_signed(r);
    run_free(r);
    swf_sign.free(st);
}

/* --- numbers ----------------------------------------------------------------------------- */

static void test_sign_prefers_pai_over_from(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "15055550100", "12025550199",
                                "P-Asserted-Identity: <sip:+12025550100@pbx.example.com>\r\n"));

    assert_signed(r, "12025550100", "12025550199", 'A');
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_dest_from_ruri_when_set(void **unused)
{
    void *st = sign_state("dest = \"ruri\"; " RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "14155550100", "12025550100", "14155550199", ""));
    const struct sip_hdr *h;

    assert_signed(r, "12025550100", "14155550100", 'A');
    h = sip_hdr_find(&r->out, SH_IDENTITY, 0);
    assert_int_equal(sw_verify_header(r->ctx, r->out.buf + h->value_off, h->value_len, pub,
                                      "12025550100", "14155550199"),
                     SW_ERR_DEST_MISMATCH);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_fixed_origid_is_used(void **unused)
{
    void *st = sign_state("origid = \"123e4567-e89b-42d3-a456-426614174000\"; " RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", ""));
    const struct sip_hdr *h;
    sw_identity *id = NULL;

    assert_signed(r, "12025550100", "12025550199", 'A');
    h = sip_hdr_find(&r->out, SH_IDENTITY, 0);
    assert_int_equal(sw_identity_parse(r->ctx, r->out.buf + h->value_off, h->value_len, &id),
                     SW_OK);
    assert_string_equal(sw_passport_origid(sw_identity_passport(id)),
                        "123e4567-e89b-42d3-a456-426614174000");
    sw_identity_free(id);
    run_free(r);
    swf_sign.free(st);
}

/* --- an Identity already present --------------------------------------------------------- */

#define OLD_IDENTITY                                                                               \
    "Identity: eyJhbGciOiJFUzI1NiJ9.eyJhdHRlc3QiOiJDIn0.c2ln;info=<https://old.example/c.pem>;"    \
    "alg=ES256;ppt=shaken\r\n"

static void test_sign_keep_leaves_existing_identity(void **unused)
{
    void *st = sign_state("existing = \"keep\"; " RULES_ABC);
    struct run *r =
        run(&swf_sign, st,
            request("INVITE", "12025550199", "12025550100", "12025550199", OLD_IDENTITY));

    assert_not_signed(r);
    assert_int_equal(count_hdr(&r->out, SH_IDENTITY), 1);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_replace_swaps_existing_identity(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "12025550100", "12025550199",
                                OLD_IDENTITY "y: a.b.c;info=<https://old.example/d.pem>\r\n"));

    assert_signed(r, "12025550100", "12025550199", 'A');
    assert_null(strstr(r->outbuf, "old.example"));
    run_free(r);
    swf_sign.free(st);
}

/* --- Date and iat ------------------------------------------------------------------------ */

static void test_sign_adds_date_and_uses_it_as_iat(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", ""));
    const char *date_line = "Date: " NOW_DATE "\r\nIdentity: ";
    size_t hdrs_end = r->in.hdrs_end, added;

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    assert_int_equal(count_hdr(&r->out, SH_DATE), 1);
    /* The output is the input with two lines added just before the empty line. */
    added = r->outlen - strlen(r->text);
    assert_memory_equal(r->outbuf, r->text, hdrs_end);
    assert_memory_equal(r->outbuf + hdrs_end, date_line, strlen(date_line));
    assert_memory_equal(r->outbuf + hdrs_end + added - 2, "\r\n", 2);
    assert_memory_equal(r->outbuf + hdrs_end + added, r->text + hdrs_end,
                        strlen(r->text) - hdrs_end);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_no_date_added_when_add_date_false(void **unused)
{
    void *st = sign_state("add_date = false; " RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", ""));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    assert_int_equal(count_hdr(&r->out, SH_DATE), 0);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_uses_date_present_as_iat(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "12025550100", "12025550199",
                                "Date: Tue, 14 Nov 2023 22:13:10 GMT\r\n"));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW - 10);
    assert_int_equal(count_hdr(&r->out, SH_DATE), 1);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_stale_date_means_now(void **unused)
{
    /* a Date an hour old would make a token every verifier refuses: iat is our clock */
    void *st = sign_state(RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "12025550100", "12025550199",
                                "Date: Tue, 14 Nov 2023 21:13:20 GMT\r\n"));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    assert_int_equal(count_hdr(&r->out, SH_DATE), 1);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_unreadable_date_means_now(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st,
            request("INVITE", "12025550199", "12025550100", "12025550199", "Date: yesterday\r\n"));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    assert_int_equal(count_hdr(&r->out, SH_DATE), 1);
    run_free(r);
    swf_sign.free(st);
}

/* The sign filter's counter by name, from the run. */
static uint64_t counter(const struct run *r, const char *name)
{
    size_t i;

    for (i = 0; swf_sign.counters[i] != NULL; i++)
        if (strcmp(swf_sign.counters[i], name) == 0)
            return r->counters[i];
    fail_msg("no sign counter %s", name);
    return 0;
}

#define OLD_DATE "Date: Tue, 14 Nov 2023 21:13:20 GMT\r\n" /* an hour before NOW */

static void test_sign_replaces_stale_date_in_place(void **unused)
{
    /* RFC 8224 6.1: the signer answers for the Date; by default a stale one becomes ours */
    void *st = sign_state(RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "12025550100", "12025550199", OLD_DATE));
    const char *at = strstr(r->text, OLD_DATE), *ident;
    size_t before = (size_t)(at - r->text), hdrs_end = r->in.hdrs_end;
    const char *fresh = "Date: " NOW_DATE "\r\n";

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    /* exact bytes: the text up to the Date line, our Date line where it stood, ... */
    assert_memory_equal(r->outbuf, r->text, before);
    assert_memory_equal(r->outbuf + before, fresh, strlen(fresh));
    /* ... the rest as it came up to the end of the headers, then Identity, then the rest */
    assert_memory_equal(r->outbuf + before + strlen(fresh), at + strlen(OLD_DATE),
                        hdrs_end - before - strlen(OLD_DATE));
    ident = r->outbuf + hdrs_end - strlen(OLD_DATE) + strlen(fresh);
    assert_memory_equal(ident, "Identity: ", 10);
    assert_string_equal(strstr(ident, "\r\n") + 2, r->text + hdrs_end);
    assert_int_equal(count_hdr(&r->out, SH_DATE), 1);
    assert_int_equal(counter(r, "date_replaced"), 1);
    assert_non_null(strstr(r->call.note, "replaced a Date"));
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_replaces_unreadable_date(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st,
            request("INVITE", "12025550199", "12025550100", "12025550199", "Date: yesterday\r\n"));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    assert_non_null(strstr(r->outbuf, "\r\nDate: " NOW_DATE "\r\n"));
    assert_null(strstr(r->outbuf, "yesterday"));
    assert_int_equal(counter(r, "date_replaced"), 1);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_date_unsigned_forwards_stale_date_unsigned(void **unused)
{
    void *st = sign_state("date = \"unsigned\"; " RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "12025550100", "12025550199", OLD_DATE));

    assert_not_signed(r);
    assert_non_null(strstr(r->call.note, "Date"));
    assert_int_equal(counter(r, "unsigned_stale_date"), 1);
    assert_int_equal(counter(r, "signed_a"), 0);
    run_free(r);
    /* a fresh Date is signed as usual under this mode */
    r = run(&swf_sign, st,
            request("INVITE", "12025550199", "12025550100", "12025550199",
                    "Date: Tue, 14 Nov 2023 22:13:00 GMT\r\n"));
    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW - 20);
    assert_int_equal(counter(r, "unsigned_stale_date"), 0);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_date_keep_leaves_stale_date(void **unused)
{
    /* the old behaviour: signed with iat = now, the caller's Date untouched */
    void *st = sign_state("date = \"keep\"; " RULES_ABC);
    struct run *r = run(&swf_sign, st,
                        request("INVITE", "12025550199", "12025550100", "12025550199", OLD_DATE));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW);
    assert_non_null(strstr(r->outbuf, OLD_DATE));
    assert_null(strstr(r->outbuf, NOW_DATE));
    assert_int_equal(counter(r, "date_replaced"), 0);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_fresh_date_is_kept_and_is_iat(void **unused)
{
    void *st = sign_state(RULES_ABC);
    const char *d = "Date: Tue, 14 Nov 2023 22:12:30 GMT\r\n"; /* 50 s before NOW */
    struct run *r =
        run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", d));

    assert_int_equal(assert_signed(r, "12025550100", "12025550199", 'A'), NOW - 50);
    /* only the Identity line is added: the Date stays as it came */
    assert_int_equal(r->ed.n, 1);
    assert_non_null(strstr(r->outbuf, d));
    assert_int_equal(counter(r, "date_replaced"), 0);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_lf_only_request_gets_lf_lines(void **unused)
{
    void *st = sign_state(RULES_ABC);
    char *text = request("INVITE", "12025550199", "12025550100", "12025550199", ""), *w = text;
    const char *p;
    struct run *r;

    for (p = text; *p != '\0'; p++) /* the same request with bare LF line ends */
        if (*p != '\r')
            *w++ = *p;
    *w = '\0';
    r = run(&swf_sign, st, text);
    assert_signed(r, "12025550100", "12025550199", 'A');
    assert_null(memchr(r->outbuf, '\r', r->outlen));
    run_free(r);
    swf_sign.free(st);
}

/* --- methods ----------------------------------------------------------------------------- */

static void test_sign_leaves_non_invite_alone(void **unused)
{
    void *st = sign_state(RULES_ABC);
    struct run *r =
        run(&swf_sign, st, request("OPTIONS", "12025550199", "12025550100", "12025550199", ""));

    assert_int_equal(r->result, SWF_CONTINUE);
    assert_int_equal(r->ed.n, 0);
    assert_unchanged(r);
    run_free(r);
    swf_sign.free(st);
}

static void test_sign_methods_setting_lists_what_is_signed(void **unused)
{
    void *st = sign_state("methods = [ \"MESSAGE\" ]; " RULES_ABC);
    struct run *r;

    r = run(&swf_sign, st, request("MESSAGE", "12025550199", "12025550100", "12025550199", ""));
    assert_signed(r, "12025550100", "12025550199", 'A');
    run_free(r);
    r = run(&swf_sign, st, request("INVITE", "12025550199", "12025550100", "12025550199", ""));
    assert_int_equal(r->ed.n, 0);
    assert_unchanged(r);
    run_free(r);
    swf_sign.free(st);
}

/* --- bad settings ------------------------------------------------------------------------ */

static void assert_rejected(const char *expect, const char *fmt_after_key)
{
    char err[1024];
    void *st = (void *)1;
    int rc;

    rc = configure_fmt(&swf_sign, &st, err, sizeof(err),
                       "trunk = { sign = { key = \"%s\"; %s }; };", key_path, fmt_after_key);
    if (rc != -1 || strstr(err, expect) == NULL)
        fail_msg("settings \"%s\": expected an error with \"%s\", got rc %d \"%s\"", fmt_after_key,
                 expect, rc, err);
    assert_null(st);
}

static void test_sign_rejects_bad_settings(void **unused)
{
    char err[1024];
    void *st;

#define OKX "x5u = \"" X5U "\"; "
    assert_rejected("sign.x5u: missing", RULES_ABC);
    assert_rejected("sign.x5u", "x5u = \"http://cert.example.org/sp.pem\"; " RULES_ABC);
    assert_rejected("sign.x5u", "x5u = 5; " RULES_ABC);
    assert_rejected("sign.attest: missing", OKX);
    assert_rejected("sign.attest", OKX "attest = ();");
    assert_rejected("sign.attest[1].level: must be A, B or C",
                    OKX "attest = ( { level = \"A\"; }, { level = \"D\"; } );");
    assert_rejected("sign.attest[0].level: missing", OKX "attest = ( { numbers = [ \"1\" ]; } );");
    assert_rejected("sign.attest[0].numbers[1]",
                    OKX "attest = ( { numbers = [ \"1202\", \"12a\" ]; level = \"A\"; } );");
    assert_rejected("sign.attest[0].numbers[0]",
                    OKX "attest = ( { numbers = [ \"1202-12025550199\" ]; level = \"A\"; } );");
    assert_rejected("sign.attest[0].numbers[0]", OKX
                    "attest = ( { numbers = [ \"12025550199-12025550100\" ]; level = \"A\"; } );");
    assert_rejected("sign.attest[0].numbers",
                    OKX "attest = ( { numbers = [ ]; level = \"A\"; } );");
    assert_rejected("sign.attest[0].numbers[0]",
                    OKX "attest = ( { numbers = [ \"12*02\" ]; level = \"A\"; } );");
    assert_rejected("sign.attest[0].numbers[0]", OKX
                    "attest = ( { numbers = [ \"12025550100-12025550199*\" ]; level = \"A\"; } );");
    /* unreachable rules: after a catch-all, and entirely inside earlier rules */
    assert_rejected(
        "sign.attest[1]: unreachable: sign.attest[0] before it has no numbers",
        OKX "attest = ( { level = \"B\"; }, { numbers = [ \"1202*\" ]; level = \"A\"; } );");
    assert_rejected("sign.attest[2]: unreachable: every number",
                    OKX "attest = ( { numbers = [ \"1202*\" ]; level = \"A\"; },"
                        " { numbers = [ \"13035550100-13035550199\" ]; level = \"B\"; },"
                        " { numbers = [ \"12025550100\", \"13035550150\","
                        " \"1202555*\", \"13035550120-13035550130\" ]; level = \"C\"; } );");
    assert_rejected("sign.attest[0].lvl", OKX "attest = ( { lvl = \"A\"; } );");
    assert_rejected("sign.origid", OKX "origid = \"not-a-uuid\"; " RULES_ABC);
    assert_rejected("sign.dest", OKX "dest = \"from\"; " RULES_ABC);
    assert_rejected("sign.existing", OKX "existing = \"drop\"; " RULES_ABC);
    assert_rejected("sign.add_date", OKX "add_date = \"yes\"; " RULES_ABC);
    assert_rejected("sign.date: must be \"replace\", \"unsigned\" or \"keep\"",
                    OKX "date = \"drop\"; " RULES_ABC);
    assert_rejected("sign.cert: cannot load /nonexistent/sp.pem",
                    OKX "cert = \"/nonexistent/sp.pem\"; " RULES_ABC);
    assert_rejected("sign.methods[0]", OKX "methods = [ \"invite\" ]; " RULES_ABC);
    assert_rejected("sign.methods", OKX "methods = [ ]; " RULES_ABC);
    assert_rejected("sign.atest: unknown setting", OKX "atest = ( { level = \"A\"; } );");
#undef OKX

    /* No key, a key that does not exist, no sign group at all. */
    assert_int_equal(configure_fmt(&swf_sign, &st, err, sizeof(err),
                                   "trunk = { sign = { x5u = \"" X5U "\"; " RULES_ABC " }; };"),
                     -1);
    assert_non_null(strstr(err, "sign.key: missing"));
    assert_int_equal(configure_fmt(&swf_sign, &st, err, sizeof(err),
                                   "trunk = { sign = { key = \"/nonexistent/k.pem\"; x5u = \"" X5U
                                   "\"; " RULES_ABC " }; };"),
                     -1);
    assert_non_null(strstr(err, "sign.key"));
    assert_non_null(strstr(err, "/nonexistent/k.pem"));
    assert_int_equal(configure_fmt(&swf_sign, &st, err, sizeof(err), "trunk = { name = \"x\"; };"),
                     -1);
    assert_non_null(strstr(err, "sign"));
}

/* --- sign.cert ------------------------------------------------------------------------- */

/*
 * The test STI PKI (tools/pki/make-test-pki.sh, from SRCDIR, which make check sets), made
 * once into a temporary directory; NULL (the test skips) without SRCDIR or openssl.
 */
static const char *test_pki(void)
{
    static char dir[64];
    static int made = -1;
    const char *src = getenv("SRCDIR");
    char cmd[512];

    if (made < 0) {
        made = 0;
        snprintf(dir, sizeof(dir), "/tmp/test_sign_pki_XXXXXX");
        if (src != NULL && mkdtemp(dir) != NULL) {
            snprintf(cmd, sizeof(cmd), "'%s/tools/pki/make-test-pki.sh' '%s' >/dev/null 2>&1", src,
                     dir);
            made = system(cmd) == 0;
        }
    }
    return made ? dir : NULL;
}

/* configure with key and cert files of the test PKI ("" key: the test's own key) */
static int configure_cert(const char *keyfile, const char *certfile, void **st, char *err,
                          size_t errlen)
{
    char keypath[128], certpath[128];

    if (keyfile[0] == '\0')
        snprintf(keypath, sizeof(keypath), "%s", key_path);
    else
        snprintf(keypath, sizeof(keypath), "%s/%s", test_pki(), keyfile);
    snprintf(certpath, sizeof(certpath), "%s/%s", test_pki(), certfile);
    return configure_fmt(&swf_sign, st, err, errlen,
                         "trunk = { sign = { key = \"%s\"; cert = \"%s\"; x5u = \"" X5U
                         "\"; " RULES_ABC " }; };",
                         keypath, certpath);
}

static void test_sign_cert_matching_key_is_accepted(void **unused)
{
    struct swf_sign_info si;
    char err[1024];
    void *st;

    if (test_pki() == NULL)
        skip();
    if (configure_cert("sp.key", "sp-chain.pem", &st, err, sizeof(err)) != 0)
        fail_msg("sp.key with sp-chain.pem: %s", err);
    assert_int_equal(swf_sign_info(&swf_sign, st, &si), 0);
    assert_non_null(si.cert);
    assert_string_equal(si.x5u, X5U);
    assert_non_null(strstr(si.cert_path, "sp-chain.pem"));
    assert_int_equal(swf_sign_info(&swf_strip, st, &si), -1);
    swf_sign.free(st);
}

static void test_sign_cert_of_another_key_is_an_error(void **unused)
{
    char err[1024];
    void *st;

    if (test_pki() == NULL)
        skip();
    /* the test's own fresh key against the PKI's SP certificate */
    assert_int_equal(configure_cert("", "sp.pem", &st, err, sizeof(err)), -1);
    assert_null(st);
    if (strstr(err, "sign.cert:") == NULL ||
        strstr(err, "does not hold the public key of sign.key") == NULL)
        fail_msg("got: %s", err);
}

static void test_sign_expired_cert_is_an_error(void **unused)
{
    char err[1024];
    void *st;

    if (test_pki() == NULL)
        skip();
    assert_int_equal(configure_cert("expired.key", "expired.pem", &st, err, sizeof(err)), -1);
    if (strstr(err, "sign.cert:") == NULL || strstr(err, "expired on") == NULL ||
        strstr(err, "2021") == NULL)
        fail_msg("got: %s", err);
    /* its key is its own: only the date is wrong */
    assert_null(strstr(err, "does not hold"));
}

/* --- strip ------------------------------------------------------------------------------- */

#define STRIP_FMT                                                                                  \
    "INVITE sip:12025550199@pbx.example.com SIP/2.0\r\n"                                           \
    "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds8\r\n"                                 \
    "%s"                                                                                           \
    "Max-Forwards: 69\r\n"                                                                         \
    "f: <sip:12025550100@carrier.example.net>;tag=88\r\n"                                          \
    "t: <sip:12025550199@pbx.example.com>\r\n"                                                     \
    "%s"                                                                                           \
    "i: 77@carrier.example.net\r\n"                                                                \
    "CSeq: 1 INVITE\r\n"                                                                           \
    "Content-Length: 0\r\n"                                                                        \
    "\r\n"

static void test_strip_removes_identity_and_compact_y_and_nothing_else(void **unused)
{
    char *text = malloc(2048), expect[2048];
    void *st = (void *)1;
    char err[256];
    struct run *r;

    assert_non_null(text);
    snprintf(text, 2048, STRIP_FMT,
             "Identity: aaa.bbb.ccc;info=<https://a.example/c.pem>\r\n"
             " ;alg=ES256;ppt=shaken\r\n",
             "y: ddd..eee;info=<https://b.example/c.pem>;ppt=shaken\r\n");
    snprintf(expect, sizeof(expect), STRIP_FMT, "", "");
    assert_int_equal(configure_fmt(&swf_strip, &st, err, sizeof(err), "trunk = { };"), 0);
    assert_null(st);
    r = run(&swf_strip, st, text);
    assert_int_equal(r->result, SWF_CONTINUE);
    assert_int_equal(r->outlen, strlen(expect));
    assert_memory_equal(r->outbuf, expect, r->outlen);
    assert_string_equal(r->call.note, "stripped 2 Identity headers");
    run_free(r);
}

static void test_strip_leaves_message_without_identity_alone(void **unused)
{
    struct run *r =
        run(&swf_strip, NULL, request("INVITE", "12025550199", "12025550100", "12025550199", ""));

    assert_int_equal(r->ed.n, 0);
    assert_unchanged(r);
    run_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_finds_every_filter_by_its_name),
        cmocka_unit_test(test_sign_prefix_rule_gives_A),
        cmocka_unit_test(test_sign_exact_number_matches_only_itself),
        cmocka_unit_test(test_sign_star_makes_a_prefix),
        cmocka_unit_test(test_sign_short_bare_entry_is_still_a_prefix),
        cmocka_unit_test(test_sign_range_rule_gives_A_inside_only),
        cmocka_unit_test(test_sign_number_written_with_separators_gives_A),
        cmocka_unit_test(test_sign_catch_all_rule_gives_B),
        cmocka_unit_test(test_sign_first_matching_rule_wins),
        cmocka_unit_test(test_sign_no_matching_rule_leaves_request_unsigned),
        cmocka_unit_test(test_sign_non_number_caller_leaves_request_unsigned),
        cmocka_unit_test(test_sign_prefers_pai_over_from),
        cmocka_unit_test(test_sign_dest_from_ruri_when_set),
        cmocka_unit_test(test_sign_fixed_origid_is_used),
        cmocka_unit_test(test_sign_keep_leaves_existing_identity),
        cmocka_unit_test(test_sign_replace_swaps_existing_identity),
        cmocka_unit_test(test_sign_adds_date_and_uses_it_as_iat),
        cmocka_unit_test(test_sign_no_date_added_when_add_date_false),
        cmocka_unit_test(test_sign_uses_date_present_as_iat),
        cmocka_unit_test(test_sign_stale_date_means_now),
        cmocka_unit_test(test_sign_unreadable_date_means_now),
        cmocka_unit_test(test_sign_replaces_stale_date_in_place),
        cmocka_unit_test(test_sign_replaces_unreadable_date),
        cmocka_unit_test(test_sign_date_unsigned_forwards_stale_date_unsigned),
        cmocka_unit_test(test_sign_date_keep_leaves_stale_date),
        cmocka_unit_test(test_sign_fresh_date_is_kept_and_is_iat),
        cmocka_unit_test(test_sign_lf_only_request_gets_lf_lines),
        cmocka_unit_test(test_sign_leaves_non_invite_alone),
        cmocka_unit_test(test_sign_methods_setting_lists_what_is_signed),
        cmocka_unit_test(test_sign_rejects_bad_settings),
        cmocka_unit_test(test_sign_cert_matching_key_is_accepted),
        cmocka_unit_test(test_sign_cert_of_another_key_is_an_error),
        cmocka_unit_test(test_sign_expired_cert_is_an_error),
        cmocka_unit_test(test_strip_removes_identity_and_compact_y_and_nothing_else),
        cmocka_unit_test(test_strip_leaves_message_without_identity_alone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
