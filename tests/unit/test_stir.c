/*
 * test_stir.c - stir_verify() (src/sip/stir.c) on whole SIP requests: which Identity
 * header is chosen, what the request's numbers and Date make of it, and what the result
 * reports. Tokens are signed with a fresh key and verified with its public half (pub), so
 * nothing here touches the network; the clock is fixed at TU_NOW.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

#include "../../src/sip/fields.h"
#include "../../src/sip/stir.h"

#define NOW_DATE "Tue, 14 Nov 2023 22:13:20 GMT" /* TU_NOW */
#define FROM_OK "<sip:+" TU_ORIG "@a.example;user=phone>"
#define TO_OK "<sip:+" TU_DEST "@b.example;user=phone>"
#define RURI_OK "sip:+" TU_DEST "@b.example;user=phone"

static sw_key *key;
static sw_pubkey *pub;
static struct sip_msg msg;
static char *text; /* the request msg was parsed from (msg borrows it) */
static struct stir_result res;

static int setup(void **unused)
{
    (void)unused;
    key = tu_key();
    pub = tu_pub(key);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    sw_key_free(key);
    sw_pubkey_free(pub);
    free(text);
    text = NULL;
    return 0;
}

/* A shaken token for orig and one dest, at iat, full or compact form (free()able). */
static char *sign(const char *orig, const char *dest, int64_t iat, unsigned flags)
{
    sw_ctx *ctx = tu_ctx();
    const char *dests[1] = {dest};
    char *out = NULL, *copy;

    assert_int_equal(
        sw_sign_shaken(ctx, key, 'A', orig, dests, 1, iat, TU_ORIGID, TU_X5U, flags, &out), SW_OK);
    copy = tu_fmt("%s", out);
    sw_free(out);
    sw_ctx_free(ctx);
    return copy;
}

/* Parses an INVITE with these parts; extra is whole header lines (Identity, Date...). */
static void request(const char *ruri, const char *from, const char *to, const char *extra)
{
    char err[128];

    free(text);
    text = tu_fmt("INVITE %s SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n"
                  "From: %s;tag=1\r\n"
                  "To: %s\r\n"
                  "Call-ID: 1@x\r\n"
                  "CSeq: 1 INVITE\r\n"
                  "%s"
                  "Content-Length: 0\r\n"
                  "\r\n",
                  ruri, from, to, extra);
    if (sip_parse(&msg, text, strlen(text), err, sizeof(err)) != 0)
        fail_msg("does not parse: %s", err);
}

/* stir_verify with pub at TU_NOW, with the options given (NULL: the defaults). */
static sw_err verify_opts(const struct stir_opts *o)
{
    sw_ctx *ctx = tu_ctx();
    struct stir_opts d;
    sw_err err;

    stir_opts_init(&d);
    err = stir_verify(ctx, NULL, pub, &msg, o != NULL ? o : &d, 1, &res);
    assert_int_equal(err, res.err);
    if (err != SW_OK)
        assert_true(res.detail[0] != '\0');
    sw_ctx_free(ctx);
    return err;
}

static sw_err verify(void)
{
    return verify_opts(NULL);
}

/* A request with one full-form token for the standard numbers and a fresh Date. */
static void standard(const char *token_hdr_name)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Date: " NOW_DATE "\r\n%s: %s\r\n", token_hdr_name, tok);

    request(RURI_OK, FROM_OK, TO_OK, extra);
    free(extra);
    free(tok);
}

static void a_valid_request_passes_and_reports_the_token(void **unused)
{
    (void)unused;
    standard("Identity");
    assert_int_equal(verify(), SW_OK);
    assert_string_equal(res.verstat, "TN-Validation-Passed");
    assert_string_equal(res.detail, "");
    assert_int_equal(res.identities, 1);
    assert_int_equal(res.chosen, 0);
    assert_int_equal(res.compact, 0);
    assert_int_equal(res.no_number, 0);
    assert_int_equal(res.attest, 'A');
    assert_string_equal(res.orig, TU_ORIG);
    assert_string_equal(res.dest, TU_DEST);
    assert_string_equal(res.origid, TU_ORIGID);
    assert_string_equal(res.x5u, TU_X5U);
    assert_int_equal(res.iat, TU_NOW);
    assert_string_equal(res.spc, ""); /* no certificate with pub */
    assert_int_equal(res.has_div, 0);
}

static void a_tampered_payload_fails_on_the_signature(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *bad = tu_tamper(tok, 1, TU_ORIGID, "00000000-e89b-42d3-a456-426614174000");
    char *extra = tu_fmt("Identity: %s\r\n", bad);

    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_SIGNATURE);
    assert_string_equal(res.verstat, "TN-Validation-Failed");
    assert_int_equal(sw_err_sip_status(res.err), 438);
    free(extra);
    free(bad);
    free(tok);
}

static void another_calling_number_is_an_orig_mismatch(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Identity: %s\r\n", tok);

    (void)unused;
    request(RURI_OK, "<sip:+13035550100@a.example;user=phone>", TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_ORIG_MISMATCH);
    assert_string_equal(res.orig, "13035550100");
    /* P-Asserted-Identity comes before From */
    free(extra);
    extra = tu_fmt("P-Asserted-Identity: <tel:+%s>\r\nIdentity: %s\r\n", TU_ORIG, tok);
    request(RURI_OK, "<sip:+13035550100@a.example;user=phone>", TO_OK, extra);
    assert_int_equal(verify(), SW_OK);
    free(extra);
    free(tok);
}

static void the_called_number_comes_from_to_or_the_request_uri(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Identity: %s\r\n", tok);
    struct stir_opts o;

    (void)unused;
    /* To holds the signed number; the Request-URI another one (a forwarded call) */
    request("sip:+14045550100@b.example;user=phone", FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_OK);
    stir_opts_init(&o);
    o.dest_ruri = 1;
    assert_int_equal(verify_opts(&o), SW_ERR_DEST_MISMATCH);
    assert_string_equal(res.dest, "14045550100");
    free(extra);
    free(tok);
}

static void tel_uris_and_visual_separators_are_canonical(void **unused)
{
    char *tok = sign("+1 (202) 555-0100", "1-202-555-0199", TU_NOW, 0);
    char *extra = tu_fmt("Identity: %s\r\n", tok);

    (void)unused;
    request("tel:+1-202-555-0199", "<tel:+1-202-555-0100>",
            "\"Bob\" <sip:+1(202)555.0199@b.example;user=phone>", extra);
    assert_int_equal(verify(), SW_OK);
    assert_string_equal(res.orig, TU_ORIG);
    assert_string_equal(res.dest, TU_DEST);
    free(extra);
    free(tok);
}

static void a_stale_future_or_unreadable_date_is_stale(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char date[64], *extra;
    struct stir_opts o;

    (void)unused;
    sip_date_format(TU_NOW - 61, date, sizeof(date));
    extra = tu_fmt("Date: %s\r\nIdentity: %s\r\n", date, tok);
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_DATE_STALE);
    assert_non_null(strstr(res.detail, "61 s old"));
    assert_int_equal(sw_err_sip_status(res.err), 403);
    /* the chosen token is reported even though the Date decided */
    assert_int_equal(res.chosen, 0);
    assert_int_equal(res.attest, 'A');
    stir_opts_init(&o);
    o.date = STIR_DATE_IGNORE;
    assert_int_equal(verify_opts(&o), SW_OK);
    o.date = STIR_DATE_CHECK;
    o.date_max_age = 61;
    assert_int_equal(verify_opts(&o), SW_OK);
    free(extra);

    sip_date_format(TU_NOW + 6, date, sizeof(date));
    extra = tu_fmt("Date: %s\r\nIdentity: %s\r\n", date, tok);
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_DATE_STALE);
    assert_non_null(strstr(res.detail, "future"));
    free(extra);

    extra = tu_fmt("Date: yesterday\r\nIdentity: %s\r\n", tok);
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_DATE_STALE);
    assert_non_null(strstr(res.detail, "yesterday"));
    free(extra);
    free(tok);
}

static void a_missing_date_is_fine_unless_required(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Identity: %s\r\n", tok);
    struct stir_opts o;

    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_OK);
    stir_opts_init(&o);
    o.date = STIR_DATE_REQUIRE;
    assert_int_equal(verify_opts(&o), SW_ERR_DATE_MISSING);
    assert_string_equal(res.verstat, "TN-Validation-Failed");
    free(extra);
    free(tok);
}

static void an_anonymous_caller_is_no_tn_before_its_token(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Identity: %s\r\n", tok);
    struct stir_opts o;

    (void)unused;
    request(RURI_OK, "\"Anonymous\" <sip:anonymous@anonymous.invalid>", TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_NO_TN);
    assert_int_equal(res.no_number, 1);
    assert_string_equal(res.verstat, "No-TN-Validation");
    assert_string_equal(res.orig, "");
    assert_int_equal(res.chosen, -1); /* no token was looked at */
    /* verified like any call, its token cannot match "no number" */
    stir_opts_init(&o);
    o.anonymous_is_verified = 1;
    assert_int_equal(verify_opts(&o), SW_ERR_ORIG_MISMATCH);
    assert_int_equal(res.no_number, 1);
    /* with no Identity at all, the call is missing one */
    request(RURI_OK, "\"Anonymous\" <sip:anonymous@anonymous.invalid>", TO_OK, "");
    assert_int_equal(verify(), SW_ERR_IDENTITY_MISSING);
    assert_int_equal(res.identities, 0);
    free(extra);
    free(tok);
}

/* A div PASSporT (RFC 8946) for the standard call, diverted from div_tn. */
static char *div_token(void)
{
    char *payload = tu_fmt("{\"dest\":{\"tn\":[\"" TU_DEST "\"]},\"div\":{\"tn\":\"14045550100\"},"
                           "\"iat\":%lld,\"orig\":{\"tn\":\"" TU_ORIG "\"}}",
                           (long long)TU_NOW);
    char *tok = tu_token(
        key, "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"" TU_X5U "\"}",
        payload, ";info=<" TU_X5U ">;ppt=div");

    free(payload);
    return tok;
}

static void a_div_passport_is_reported_and_the_shaken_one_chosen(void **unused)
{
    char *div = div_token(), *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Identity: %s\r\nIdentity: %s\r\n", div, tok);

    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_OK);
    assert_int_equal(res.identities, 2);
    assert_int_equal(res.chosen, 1);
    assert_int_equal(res.has_div, 1);
    assert_string_equal(res.div_orig, TU_ORIG);
    assert_string_equal(res.div_tn, "14045550100");
    free(extra);
    free(tok);
    free(div);
}

static void a_div_passport_alone_is_a_missing_identity(void **unused)
{
    char *div = div_token();
    char *extra = tu_fmt("Identity: %s\r\n", div);

    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_IDENTITY_MISSING);
    assert_int_equal(sw_err_sip_status(res.err), 428);
    assert_non_null(strstr(res.detail, "only a div PASSporT"));
    assert_int_equal(res.chosen, -1);
    assert_int_equal(res.has_div, 1);
    free(extra);
    free(div);
}

static void headers_of_other_types_are_a_missing_identity(void **unused)
{
    char *rph = tu_token(key, "{\"alg\":\"ES256\",\"ppt\":\"rph\",\"typ\":\"passport\"}", "{}",
                         ";info=<" TU_X5U ">;ppt=rph");
    char *extra = tu_fmt("Identity: %s\r\nIdentity: %s\r\n", rph, rph);

    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_IDENTITY_MISSING);
    assert_string_equal(res.detail, "2 Identity headers, none with ppt shaken");
    free(extra);
    free(rph);
}

static void a_garbage_header_beside_a_good_one_is_skipped(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *extra = tu_fmt("Identity: not/a-token;info=<x>\r\nIdentity: %s\r\n", tok);

    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_OK);
    assert_int_equal(res.identities, 2);
    assert_int_equal(res.chosen, 1);
    free(extra);
    free(tok);
}

static void a_lone_malformed_header_gets_its_own_error(void **unused)
{
    (void)unused;
    request(RURI_OK, FROM_OK, TO_OK, "Identity: abc/def.ghi.jkl;info=<x>\r\n");
    assert_int_equal(verify(), SW_ERR_BASE64);
    assert_int_equal(sw_err_sip_status(res.err), 438);
    request(RURI_OK, FROM_OK, TO_OK, "Identity: abc\r\n");
    assert_int_equal(verify(), SW_ERR_IDENTITY_MALFORMED);
    /* two malformed ones: nothing shaken to verify */
    request(RURI_OK, FROM_OK, TO_OK, "Identity: abc\r\nIdentity: x/y\r\n");
    assert_int_equal(verify(), SW_ERR_IDENTITY_MISSING);
    assert_non_null(strstr(res.detail, "2 malformed"));
}

static void a_compact_shaken_token_is_refused(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, SW_SIGN_COMPACT);
    char *extra = tu_fmt("Date: " NOW_DATE "\r\nIdentity: %s\r\n", tok);

    (void)unused;
    assert_non_null(strstr(tok, ".."));
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_COMPACT_SHAKEN);
    assert_int_equal(sw_err_sip_status(res.err), 438);
    assert_int_equal(res.compact, 1);
    assert_int_equal(res.chosen, 0);
    free(extra);
    free(tok);
}

static void the_compact_header_name_y_is_an_identity(void **unused)
{
    (void)unused;
    standard("y");
    assert_int_equal(verify(), SW_OK);
    assert_int_equal(res.identities, 1);
    assert_int_equal(res.chosen, 0);
}

static void a_folded_identity_header_is_read_whole(void **unused)
{
    char *tok = sign(TU_ORIG, TU_DEST, TU_NOW, 0);
    char *semi = strchr(tok, ';');
    char *extra;

    (void)unused;
    assert_non_null(semi);
    extra = tu_fmt("Identity: %.*s\r\n   %s\r\n", (int)(semi - tok), tok, semi);
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_OK);
    assert_string_equal(res.x5u, TU_X5U);
    free(extra);
    free(tok);
}

/*
 * A compact base PASSporT (no ppt): its claims are rebuilt from the request (orig, dest,
 * iat from Date) and the library judges the rest; a SHAKEN verifier then refuses it on
 * ppt, which shows that the rebuilt signature input got that far.
 */
static void a_compact_base_passport_is_rebuilt_from_the_request(void **unused)
{
    char *payload = tu_fmt("{\"dest\":{\"tn\":[\"" TU_DEST
                           "\"]},\"iat\":%lld,\"orig\":{\"tn\":\"" TU_ORIG "\"}}",
                           (long long)TU_NOW);
    char *full = tu_token(key, "{\"alg\":\"ES256\",\"typ\":\"passport\",\"x5u\":\"" TU_X5U "\"}",
                          payload, ";info=<" TU_X5U ">");
    char *dot = strchr(full, '.'), *dot2, *compact, *extra;

    (void)unused;
    dot2 = strchr(dot + 1, '.');
    compact = tu_fmt("%.*s.%s", (int)(dot - full), full, dot2);
    extra = tu_fmt("Date: " NOW_DATE "\r\nIdentity: %s\r\n", compact);
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_PPT);
    assert_int_equal(res.compact, 1);
    assert_int_equal(res.chosen, 0);
    assert_int_equal(res.iat, TU_NOW);
    free(extra);
    /* without a Date there is no iat to rebuild */
    extra = tu_fmt("Identity: %s\r\n", compact);
    request(RURI_OK, FROM_OK, TO_OK, extra);
    assert_int_equal(verify(), SW_ERR_DATE_MISSING);
    free(extra);
    free(compact);
    free(full);
    free(payload);
}

static void a_response_is_not_verified(void **unused)
{
    static const char resp[] = "SIP/2.0 200 OK\r\n"
                               "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n"
                               "From: <sip:1@x>;tag=1\r\nTo: <sip:2@x>;tag=2\r\n"
                               "Call-ID: 1@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    char err[128];

    (void)unused;
    assert_int_equal(sip_parse(&msg, resp, strlen(resp), err, sizeof(err)), 0);
    assert_int_equal(verify(), SW_ERR_INVAL);
}

static void without_key_or_verifier_the_certificate_is_unavailable(void **unused)
{
    sw_ctx *ctx = tu_ctx();

    (void)unused;
    standard("Identity");
    assert_int_equal(stir_verify(ctx, NULL, NULL, &msg, NULL, 1, &res), SW_ERR_CERT_UNAVAILABLE);
    assert_string_equal(res.verstat, "TN-Validation-Failed");
    sw_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_request_passes_and_reports_the_token),
        cmocka_unit_test(a_tampered_payload_fails_on_the_signature),
        cmocka_unit_test(another_calling_number_is_an_orig_mismatch),
        cmocka_unit_test(the_called_number_comes_from_to_or_the_request_uri),
        cmocka_unit_test(tel_uris_and_visual_separators_are_canonical),
        cmocka_unit_test(a_stale_future_or_unreadable_date_is_stale),
        cmocka_unit_test(a_missing_date_is_fine_unless_required),
        cmocka_unit_test(an_anonymous_caller_is_no_tn_before_its_token),
        cmocka_unit_test(a_div_passport_is_reported_and_the_shaken_one_chosen),
        cmocka_unit_test(a_div_passport_alone_is_a_missing_identity),
        cmocka_unit_test(headers_of_other_types_are_a_missing_identity),
        cmocka_unit_test(a_garbage_header_beside_a_good_one_is_skipped),
        cmocka_unit_test(a_lone_malformed_header_gets_its_own_error),
        cmocka_unit_test(a_compact_shaken_token_is_refused),
        cmocka_unit_test(the_compact_header_name_y_is_an_identity),
        cmocka_unit_test(a_folded_identity_header_is_read_whole),
        cmocka_unit_test(a_compact_base_passport_is_rebuilt_from_the_request),
        cmocka_unit_test(a_response_is_not_verified),
        cmocka_unit_test(without_key_or_verifier_the_certificate_is_unavailable),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
