/*
 * test_http_api.c - the REST API handlers (src/http/api.c), called directly with a
 * struct sw_http_req as the server would build it: the secsipidx-compatible /v1 answers
 * byte for byte, bad bodies, the /v2 JSON API and its batches, the wait for a certificate
 * (SW_HTTP_AGAIN and exactly one wake), and the OpenAPI document held true against the
 * routing table and against the handlers' answers to the document's own examples.
 *
 * The handlers wake a waiting request with sw_http_wake(), which the server defines; this
 * test is linked with -Wl,--wrap=sw_http_wake so that the calls land in
 * __wrap_sw_http_wake below, which counts them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../src/http/api.h"
#include "../../src/http/handlers.h"
#include "stirwire.h"

#define X5U "https://certs.example.net/sp.pem"
#define ORIG "12025550100"
#define DEST "12025550199"

/* --- the server's part, as far as the handlers see it ---------------------------------- */

static atomic_int wakes;

void __wrap_sw_http_wake(void *wake_arg, sw_err result);
void __wrap_sw_http_wake(void *wake_arg, sw_err result)
{
    (void)wake_arg;
    (void)result;
    atomic_fetch_add(&wakes, 1);
}

/* One call of a handler, as the server makes it. */
struct call {
    struct sw_http_req req;
    struct sw_http_resp resp;
    _Alignas(max_align_t) char slot[SW_HTTP_SLOT];
};

static enum sw_http_rc call_again(struct call *c, sw_http_handler h, const struct sw_api *api,
                                  int again)
{
    free(c->resp.body);
    memset(&c->resp, 0, sizeof(c->resp));
    c->resp.fd = -1;
    c->req.again = again;
    return h(api, &c->req, &c->resp);
}

/* Makes the request for body[0..len) (copied, NUL-terminated as the server does). */
static void prepare(struct call *c, const char *method, const char *path, const char *body,
                    size_t len)
{
    char *copy = malloc(len + 1);

    assert_non_null(copy);
    memcpy(copy, body, len);
    copy[len] = '\0';
    memset(c, 0, sizeof(*c));
    c->req.method = method;
    c->req.path = path;
    c->req.raw_path = path;
    c->req.body = copy;
    c->req.body_len = len;
    c->req.wake_arg = c;
    c->req.slot = c->slot;
}

/* The first call of h on that request. */
static enum sw_http_rc call(struct call *c, sw_http_handler h, const struct sw_api *api,
                            const char *method, const char *path, const char *body, size_t len)
{
    prepare(c, method, path, body, len);
    return call_again(c, h, api, 0);
}

static enum sw_http_rc post(struct call *c, sw_http_handler h, const struct sw_api *api,
                            const char *body)
{
    return call(c, h, api, "POST", "/", body, strlen(body));
}

static void call_free(struct call *c)
{
    free((char *)c->req.body);
    free(c->resp.body);
    memset(c, 0, sizeof(*c));
}

/* The answer's body as a string (the handlers always NUL-terminate it). */
static const char *body_of(const struct call *c)
{
    assert_non_null(c->resp.body);
    assert_int_equal(strlen(c->resp.body), c->resp.body_len);
    return c->resp.body;
}

static json_t *json_body(const struct call *c)
{
    json_error_t e;
    json_t *j = json_loads(body_of(c), 0, &e);

    if (j == NULL)
        fail_msg("not JSON (%s): %s", e.text, body_of(c));
    assert_string_equal(c->resp.content_type, "application/json");
    return j;
}

/* The string member k of the JSON answer (or of its element i when >= 0), copied. */
static char *json_member(const struct call *c, int i, const char *k)
{
    json_t *j = json_body(c), *o = i >= 0 ? json_array_get(j, (size_t)i) : j;
    json_t *v = json_object_get(o, k);
    char *s = json_is_string(v)  ? strdup(json_string_value(v))
              : json_is_true(v)  ? strdup("true")
              : json_is_false(v) ? strdup("false")
                                 : strdup("(none)");
    json_decref(j);
    return s;
}

static void assert_member(const struct call *c, int i, const char *k, const char *want)
{
    char *got = json_member(c, i, k);
    if (strcmp(got, want) != 0)
        fail_msg("%s: want %s, got %s in %s", k, want, got, body_of(c));
    free(got);
}

/* --- keys and tokens ------------------------------------------------------------------- */

struct fixture {
    sw_key *key;
    sw_pubkey *pub;
    struct sw_api api;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    sw_ctx *ctx = sw_ctx_new();

    assert_non_null(f);
    assert_non_null(ctx);
    assert_int_equal(sw_key_generate(ctx, &f->key), SW_OK);
    assert_int_equal(sw_pubkey_from_key(ctx, f->key, &f->pub), SW_OK);
    sw_ctx_free(ctx);
    f->api.sign_key = f->key;
    f->api.sign_x5u = (char *)X5U;
    f->api.check_key = f->pub;
    f->api.max_age = 60;
    f->api.future_skew = 5;
    f->api.pub_dirfd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sw_key_free(f->key);
    sw_pubkey_free(f->pub);
    free(f);
    return 0;
}

/* A token signed with key at iat (0: now); sw_free. */
static char *token(const sw_key *key, int64_t iat, const char *x5u)
{
    const char *dest[] = {DEST};
    sw_ctx *ctx = sw_ctx_new();
    char *out = NULL;

    assert_non_null(ctx);
    assert_int_equal(sw_sign_shaken(ctx, key, 'A', ORIG, dest, 1, iat, NULL, x5u, 0, &out), SW_OK);
    sw_ctx_free(ctx);
    return out;
}

/* --- /v1/check ------------------------------------------------------------------------- */

static void check_valid_is_secsipidx_ok(void **state)
{
    struct fixture *f = *state;
    char *t = token(f->key, 0, X5U);
    char buf[2 * SW_IDENTITY_MAX];
    struct call c;

    assert_int_equal(post(&c, sw_api_v1_check, &f->api, t), SW_HTTP_DONE);
    assert_int_equal(c.resp.status, 200);
    /* what secsipidx -http-srv sends: "OK\n" as text/plain; charset=utf-8 */
    assert_int_equal(c.resp.body_len, 3);
    assert_memory_equal(c.resp.body, "OK\n", 3);
    assert_string_equal(c.resp.content_type, "text/plain; charset=utf-8");
    assert_string_equal(c.resp.headers, "");
    call_free(&c);

    /* curl --data-binary @file keeps the file's line end; a header name is tolerated */
    snprintf(buf, sizeof(buf), "%s\r\n", t);
    post(&c, sw_api_v1_check, &f->api, buf);
    assert_int_equal(c.resp.status, 200);
    call_free(&c);
    snprintf(buf, sizeof(buf), "Identity: %s \n", t);
    post(&c, sw_api_v1_check, &f->api, buf);
    assert_int_equal(c.resp.status, 200);
    call_free(&c);
    sw_free(t);
}

static void check_bad_signature_is_422_with_sip_status(void **state)
{
    struct fixture *f = *state;
    char *t = token(f->key, 0, X5U);
    char *sig = strchr(strchr(t, '.') + 1, '.') + 1;
    struct call c;

    *sig = *sig == 'A' ? 'B' : 'A';
    post(&c, sw_api_v1_check, &f->api, t);
    assert_int_equal(c.resp.status, 422);
    assert_non_null(strstr(c.resp.headers, "X-SIP-Status: 438\r\n"));
    assert_non_null(strstr(c.resp.headers, "X-Stirwire-Error: SIGNATURE\r\n"));
    assert_member(&c, -1, "error", "SIGNATURE");
    assert_member(&c, -1, "sip_reason", "Invalid Identity Header");
    assert_member(&c, -1, "reason_header", "STIR;cause=438;text=\"signature does not verify\"");
    call_free(&c);
    sw_free(t);
}

static void check_bad_bodies_are_400(void **state)
{
    struct fixture *f = *state;
    static const char nul[] = "eyJh\0bGc";
    size_t big = 1024 * 1024;
    char *mb = malloc(big);
    struct call c;
    size_t i;

    assert_non_null(mb);
    post(&c, sw_api_v1_check, &f->api, "");
    assert_int_equal(c.resp.status, 400);
    assert_non_null(strstr(c.resp.headers, "X-Stirwire-Error: IDENTITY_MISSING\r\n"));
    call_free(&c);
    post(&c, sw_api_v1_check, &f->api, " \r\n");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    post(&c, sw_api_v1_check, &f->api, "hello world");
    assert_int_equal(c.resp.status, 400);
    assert_non_null(strstr(c.resp.headers, "X-SIP-Status: 438\r\n"));
    call_free(&c);
    call(&c, sw_api_v1_check, &f->api, "POST", "/v1/check", nul, sizeof(nul) - 1);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    /* binary garbage, 1 MB: the server caps bodies, but the handler must cope anyway */
    srand(7);
    for (i = 0; i < big; i++)
        mb[i] = (char)(rand() & 0xff);
    call(&c, sw_api_v1_check, &f->api, "POST", "/v1/check", mb, big);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    memset(mb, 'a', big);
    call(&c, sw_api_v1_check, &f->api, "POST", "/v1/check", mb, big);
    assert_int_equal(c.resp.status, 400);
    assert_non_null(strstr(c.resp.headers, "X-Stirwire-Error: IDENTITY_TOO_LONG\r\n"));
    call_free(&c);
    free(mb);
}

static void check_freshness_is_not_secsipidx(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    char *old = token(f->key, (int64_t)time(NULL) - 3600, X5U);
    char *future = token(f->key, (int64_t)time(NULL) + 3600, X5U);
    char *fresh = token(f->key, 0, X5U);
    struct call c;

    post(&c, sw_api_v1_check, &api, old);
    assert_int_equal(c.resp.status, 422);
    assert_non_null(strstr(c.resp.headers, "X-SIP-Status: 403\r\n"));
    assert_member(&c, -1, "error", "STALE");
    call_free(&c);
    /* secsipidx accepts any iat in the future */
    post(&c, sw_api_v1_check, &api, future);
    assert_int_equal(c.resp.status, 422);
    assert_member(&c, -1, "error", "FUTURE");
    call_free(&c);
    /* max_age 0 is the default 60 s, not secsipidx's "reject everything" */
    api.max_age = 0;
    post(&c, sw_api_v1_check, &api, fresh);
    assert_int_equal(c.resp.status, 200);
    call_free(&c);
    post(&c, sw_api_v1_check, &api, old);
    assert_int_equal(c.resp.status, 422);
    call_free(&c);
    sw_free(old);
    sw_free(future);
    sw_free(fresh);
}

static void check_without_key_or_verifier_is_503(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    struct call c;

    api.check_key = NULL;
    post(&c, sw_api_v1_check, &api, "x");
    assert_int_equal(c.resp.status, 503);
    assert_member(&c, -1, "error", "NOT_CONFIGURED");
    call_free(&c);
    post(&c, sw_api_v2_verify, &api, "{\"identity\":\"x\"}");
    assert_int_equal(c.resp.status, 503);
    call_free(&c);
}

/* --- /v1/sign-csv ---------------------------------------------------------------------- */

/* The payload JSON of an Identity value ("header.payload.sig;info=..."), decoded. */
static json_t *payload_of(const char *identity)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_identity *id = NULL;
    json_t *j;

    assert_int_equal(sw_identity_parse(ctx, identity, strcspn(identity, "\n"), &id), SW_OK);
    j = json_loads(sw_passport_payload_json(sw_identity_passport(id)), 0, NULL);
    assert_non_null(j);
    sw_identity_free(id);
    sw_ctx_free(ctx);
    return j;
}

static void sign_csv_answers_identity_and_newline(void **state)
{
    struct fixture *f = *state;
    sw_ctx *ctx = sw_ctx_new();
    const char *b;
    json_t *p;
    struct call c;

    post(&c, sw_api_v1_sign_csv, &f->api, ORIG "," DEST ",A,," X5U);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(c.resp.content_type, "text/plain; charset=utf-8");
    b = body_of(&c);
    assert_int_equal(b[c.resp.body_len - 1], '\n');
    assert_null(memchr(b, '\n', c.resp.body_len - 1));
    assert_non_null(strstr(b, ";info=<" X5U ">;alg=ES256;ppt=shaken\n"));
    assert_int_equal(sw_verify_header(ctx, b, c.resp.body_len - 1, f->pub, ORIG, DEST), SW_OK);
    /* an empty OrigID gets a UUID */
    p = payload_of(b);
    assert_int_equal(strlen(json_string_value(json_object_get(p, "origid"))), 36);
    json_decref(p);
    call_free(&c);
    sw_ctx_free(ctx);
}

static void sign_csv_fields(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    json_t *p;
    struct call c;

    /* white space around fields goes (secsipidx would sign " A " as the attestation) */
    post(&c, sw_api_v1_sign_csv, &api, " +1 202 555 0100 , 12025550199 , b , my-id , " X5U "\n");
    assert_int_equal(c.resp.status, 200);
    p = payload_of(body_of(&c));
    assert_string_equal(json_string_value(json_object_get(p, "attest")), "B");
    assert_string_equal(json_string_value(json_object_get(p, "origid")), "my-id");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "orig"), "tn")), ORIG);
    json_decref(p);
    call_free(&c);
    /* a sixth field is ignored, as secsipidx does */
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",A,," X5U ",extra");
    assert_int_equal(c.resp.status, 200);
    assert_non_null(strstr(body_of(&c), "info=<" X5U ">"));
    call_free(&c);
    /* an empty X5U is the configured default */
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",C,,");
    assert_int_equal(c.resp.status, 200);
    assert_non_null(strstr(body_of(&c), "info=<" X5U ">"));
    call_free(&c);
    /* missing or wrong attestation, too few fields, bad numbers: 400 */
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",,," X5U);
    assert_int_equal(c.resp.status, 400);
    assert_member(&c, -1, "error", "ATTEST");
    call_free(&c);
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",D,," X5U);
    assert_int_equal(c.resp.status, 400);
    assert_member(&c, -1, "error", "ATTEST");
    call_free(&c);
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",A,");
    assert_int_equal(c.resp.status, 400);
    assert_member(&c, -1, "error", "BAD_REQUEST");
    call_free(&c);
    post(&c, sw_api_v1_sign_csv, &api, "");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    post(&c, sw_api_v1_sign_csv, &api, "a,b,c,d,e");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    post(&c, sw_api_v1_sign_csv, &api, "abc," DEST ",A,," X5U);
    assert_int_equal(c.resp.status, 400);
    assert_member(&c, -1, "error", "TN_INVALID");
    call_free(&c);
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",A,,https://x/<a>");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    /* no default X5U: an empty one is a 400; no key: 503 */
    api.sign_x5u = NULL;
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",A,,");
    assert_int_equal(c.resp.status, 400);
    assert_member(&c, -1, "error", "INFO_MISSING");
    call_free(&c);
    api.sign_key = NULL;
    post(&c, sw_api_v1_sign_csv, &api, ORIG "," DEST ",A,," X5U);
    assert_int_equal(c.resp.status, 503);
    call_free(&c);
    post(&c, sw_api_v2_sign, &api, "{}");
    assert_int_equal(c.resp.status, 503);
    call_free(&c);
}

/* --- /v2 ------------------------------------------------------------------------------- */

static void v2_sign_then_verify(void **state)
{
    struct fixture *f = *state;
    char *identity, body[2 * SW_IDENTITY_MAX];
    json_t *j;
    struct call c;

    post(&c, sw_api_v2_sign, &f->api,
         "{\"orig\":\"+1-202-555-0100\",\"dest\":[\"12025550199\",\"12025550198\"],"
         "\"attest\":\"a\",\"origid\":\"abc\"}");
    assert_int_equal(c.resp.status, 200);
    j = json_body(&c);
    identity = strdup(json_string_value(json_object_get(j, "identity")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "passport"), "header"), "x5u")),
                        X5U);
    assert_int_equal(
        json_array_size(json_object_get(
            json_object_get(json_object_get(json_object_get(j, "passport"), "payload"), "dest"),
            "tn")),
        2);
    json_decref(j);
    call_free(&c);

    snprintf(body, sizeof(body), "{\"identity\":\"%s\"}", identity);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_int_equal(c.resp.status, 200);
    assert_member(&c, -1, "valid", "true");
    assert_member(&c, -1, "error", "OK");
    assert_member(&c, -1, "verstat", "TN-Validation-Passed");
    j = json_body(&c);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "claims"), "orig")),
                        ORIG);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "claims"), "origid")),
                        "abc");
    json_decref(j);
    call_free(&c);
    free(identity);
}

static void v2_verify_with_sip_context(void **state)
{
    struct fixture *f = *state;
    char *t = token(f->key, 0, X5U);
    char body[2 * SW_IDENTITY_MAX];
    struct call c;

    snprintf(body, sizeof(body),
             "{\"identity\":\"%s\",\"from\":\"sip:+12025550100@pbx.example.net\","
             "\"to\":\"\\\"Bob\\\" <tel:+1-202-555-0199>\"}",
             t);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_member(&c, -1, "valid", "true");
    assert_member(&c, -1, "orig", ORIG);
    assert_member(&c, -1, "dest", DEST);
    call_free(&c);
    /* the calling number does not match orig.tn */
    snprintf(body, sizeof(body), "{\"identity\":\"%s\",\"from\":\"12025550111\",\"to\":\"%s\"}", t,
             DEST);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_int_equal(c.resp.status, 200);
    assert_member(&c, -1, "valid", "false");
    assert_member(&c, -1, "error", "ORIG_MISMATCH");
    assert_member(&c, -1, "verstat", "TN-Validation-Failed");
    call_free(&c);
    /* P-Asserted-Identity wins over From; the called number from the Request-URI */
    snprintf(body, sizeof(body),
             "{\"identity\":\"%s\",\"from\":\"12025550111\",\"pai\":\"tel:+12025550100\","
             "\"ruri\":\"sip:12025550199@carrier.example.com\"}",
             t);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_member(&c, -1, "valid", "true");
    call_free(&c);
    /* a stale Date header */
    snprintf(body, sizeof(body),
             "{\"identity\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
             "\"date\":\"Tue, 14 Nov 2023 22:13:20 GMT\"}",
             t, ORIG, DEST);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_member(&c, -1, "error", "DATE_STALE");
    call_free(&c);
    /* anonymous: no number to validate */
    snprintf(body, sizeof(body),
             "{\"identity\":\"%s\",\"from\":\"sip:anonymous@anonymous.invalid\",\"to\":\"%s\"}", t,
             DEST);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_member(&c, -1, "error", "NO_TN");
    call_free(&c);
    /* a line end in a value would add a header: refused */
    snprintf(body, sizeof(body),
             "{\"identity\":\"%s\",\"from\":\"%s\\r\\nIdentity: x\",\"to\":\"%s\"}", t, ORIG, DEST);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    snprintf(body, sizeof(body), "{\"identity\":\"%s\",\"date\":\"x\"}", t);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    sw_free(t);
}

static void v2_batches_and_json_errors(void **state)
{
    struct fixture *f = *state;
    char *t = token(f->key, 0, X5U);
    char *body = malloc(200 * 64), *p;
    json_t *j;
    struct call c;
    int i;

    assert_non_null(body);
    post(&c, sw_api_v2_sign, &f->api,
         "[{\"orig\":\"12025550100\",\"dest\":\"12025550199\",\"attest\":\"B\"},"
         "{\"orig\":\"12025550100\",\"dest\":\"12025550199\",\"attest\":\"Z\"},"
         "\"nope\",{\"orig\":\"1\",\"dest\":[],\"attest\":\"A\"}]");
    assert_int_equal(c.resp.status, 200);
    j = json_body(&c);
    assert_int_equal(json_array_size(j), 4);
    assert_non_null(json_object_get(json_array_get(j, 0), "identity"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "error")),
                        "ATTEST");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "error")),
                        "BAD_REQUEST");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 3), "error")),
                        "BAD_REQUEST");
    json_decref(j);
    call_free(&c);

    snprintf(body, 200 * 64, "[{\"identity\":\"%s\"},{\"identity\":\"garbage\"},{},[]]", t);
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_int_equal(c.resp.status, 200);
    assert_member(&c, 0, "valid", "true");
    assert_member(&c, 1, "valid", "false");
    assert_member(&c, 2, "error", "BAD_REQUEST");
    assert_member(&c, 3, "error", "BAD_REQUEST");
    call_free(&c);
    post(&c, sw_api_v2_verify, &f->api, "[]");
    assert_string_equal(body_of(&c), "[]\n");
    call_free(&c);

    /* 101 items: 413 */
    p = body;
    *p++ = '[';
    for (i = 0; i <= SW_API_BATCH_MAX; i++)
        p += sprintf(p, "%s{\"identity\":\"x\"}", i ? "," : "");
    strcpy(p, "]");
    post(&c, sw_api_v2_verify, &f->api, body);
    assert_int_equal(c.resp.status, 413);
    assert_member(&c, -1, "error", "BATCH_TOO_LARGE");
    call_free(&c);

    /* not JSON: 400 with jansson's line and column */
    post(&c, sw_api_v2_sign, &f->api, "{\n  \"orig\": 12025550100,,\n}");
    assert_int_equal(c.resp.status, 400);
    j = json_body(&c);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "BAD_JSON");
    assert_int_equal(json_integer_value(json_object_get(j, "line")), 2);
    assert_true(json_integer_value(json_object_get(j, "column")) > 0);
    json_decref(j);
    call_free(&c);
    post(&c, sw_api_v2_verify, &f->api, "");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    post(&c, sw_api_v2_verify, &f->api, "42");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    post(&c, sw_api_v2_sign, &f->api, "{\"orig\":\"1\",\"orig\":\"2\"}");
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    free(body);
    sw_free(t);
}

/* --- waiting for a certificate --------------------------------------------------------- */

/*
 * A verifier that may try loopback over http on any port, and needs no trust anchor:
 * 127.0.0.1:1 refuses the connection at once.
 */
static sw_verifier *lab_verifier(void)
{
    sw_verifier *v = sw_verifier_new();

    assert_non_null(v);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_HTTP, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, 1), SW_OK);
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_CONNECT_TIMEOUT_MS, 1000), SW_OK);
    /* no anchors here: without this the verifier refuses before it fetches anything */
    assert_int_equal(sw_verifier_set_long(v, SW_OPT_REQUIRE_CHAIN, 0), SW_OK);
    return v;
}

/* Waits (at most 10 s) until the wakes reach n; then a little longer, to see no more. */
static void wait_wakes(int n)
{
    int i;

    for (i = 0; i < 1000 && atomic_load(&wakes) < n; i++)
        usleep(10000);
    usleep(200000);
    assert_int_equal(atomic_load(&wakes), n);
}

/*
 * Posts body to h where certificates must be fetched. The handler waits (SW_HTTP_AGAIN,
 * one wake, then SW_HTTP_DONE when called again) or, when every fetch it started ended
 * while it was still registering them (a refused connection on a loaded machine can be
 * that quick), answers at once and wakes nobody (api.c's struct waitset): both are right.
 * Returns the wakes that must have come: 1 after a wait, 0 for an answer at once.
 */
static int post_waiting(struct call *c, sw_http_handler h, const struct sw_api *api,
                        const char *body)
{
    if (post(c, h, api, body) == SW_HTTP_AGAIN) {
        wait_wakes(1);
        assert_int_equal(call_again(c, h, api, 1), SW_HTTP_DONE);
        return 1;
    }
    wait_wakes(0);
    return 0;
}

static void check_waits_for_the_certificate_once(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    char *t = token(f->key, 0, "http://127.0.0.1:1/cert.pem");
    struct call c;
    int waited;

    api.check_key = NULL;
    api.verifier = lab_verifier();
    atomic_store(&wakes, 0);
    waited = post_waiting(&c, sw_api_v1_check, &api, t);
    assert_int_equal(c.resp.status, 422);
    assert_non_null(strstr(c.resp.headers, "X-SIP-Status: 436\r\n"));
    assert_member(&c, -1, "error", "CERT_CONNECT");
    call_free(&c);
    /* remembered in the negative cache: answered at once, no wait and no wake */
    assert_int_equal(post(&c, sw_api_v1_check, &api, t), SW_HTTP_DONE);
    assert_int_equal(c.resp.status, 422);
    assert_int_equal(atomic_load(&wakes), waited);
    call_free(&c);
    sw_verifier_free(api.verifier);
    sw_free(t);
}

static void verify_batch_waits_once_for_all_fetches(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    char *t1 = token(f->key, 0, "http://127.0.0.1:1/a.pem");
    char *t2 = token(f->key, 0, "http://127.0.0.1:1/b.pem");
    char *body = malloc(4 * SW_IDENTITY_MAX);
    struct call c;
    int waited;

    assert_non_null(body);
    snprintf(body, 4 * SW_IDENTITY_MAX,
             "[{\"identity\":\"%s\"},{\"identity\":\"%s\"},{\"identity\":\"%s\",\"from\":\"%s\","
             "\"to\":\"%s\"},{\"identity\":\"bad\"}]",
             t1, t2, t1, ORIG, DEST);
    api.check_key = NULL;
    api.verifier = lab_verifier();
    atomic_store(&wakes, 0);
    waited = post_waiting(&c, sw_api_v2_verify, &api, body);
    assert_int_equal(c.resp.status, 200);
    assert_member(&c, 0, "error", "CERT_CONNECT");
    assert_member(&c, 1, "error", "CERT_CONNECT");
    assert_member(&c, 2, "error", "CERT_CONNECT");
    assert_member(&c, 3, "valid", "false");
    call_free(&c);
    assert_int_equal(atomic_load(&wakes), waited); /* one wake for all, or none */
    sw_verifier_free(api.verifier);
    free(body);
    sw_free(t1);
    sw_free(t2);
}

static void again_while_still_pending_is_cert_timeout(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    /* a URL no fetch has tried yet: on a call after the wait its fetch is just starting */
    char *t = token(f->key, 0, "http://127.0.0.1:1/late.pem");
    struct call c;

    api.check_key = NULL;
    api.verifier = lab_verifier();
    atomic_store(&wakes, 0);
    prepare(&c, "POST", "/v1/check", t, strlen(t));
    /* called after a wait already: no second wait, a timeout; and nothing will wake it */
    assert_int_equal(call_again(&c, sw_api_v1_check, &api, 1), SW_HTTP_DONE);
    assert_int_equal(c.resp.status, 422);
    assert_non_null(strstr(c.resp.headers, "X-SIP-Status: 436\r\n"));
    assert_member(&c, -1, "error", "CERT_TIMEOUT");
    call_free(&c);
    wait_wakes(0);
    sw_verifier_free(api.verifier);
    sw_free(t);
}

/* --- liveness, readiness --------------------------------------------------------------- */

static int not_ready(void *arg)
{
    return *(int *)arg;
}

static void health_and_readiness(void **state)
{
    struct fixture *f = *state;
    struct sw_api api = f->api;
    int ready = 0;
    struct call c;

    call(&c, sw_api_healthz, &api, "GET", "/healthz", "", 0);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(body_of(&c), "{\"status\":\"ok\"}\n");
    call_free(&c);
    call(&c, sw_api_readyz, &api, "GET", "/readyz", "", 0);
    assert_int_equal(c.resp.status, 200);
    call_free(&c);
    api.ready = not_ready;
    api.ready_arg = &ready;
    call(&c, sw_api_readyz, &api, "GET", "/readyz", "", 0);
    assert_int_equal(c.resp.status, 503);
    call_free(&c);
    ready = 1;
    call(&c, sw_api_readyz, &api, "GET", "/readyz", "", 0);
    assert_int_equal(c.resp.status, 200);
    call_free(&c);
}

/* --- the OpenAPI document -------------------------------------------------------------- */

static json_t *served_document(const struct sw_api *api)
{
    struct call c;
    json_t *doc;

    call(&c, sw_api_openapi, api, "GET", "/v2/openapi.json", "", 0);
    assert_int_equal(c.resp.status, 200);
    doc = json_body(&c);
    call_free(&c);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    return doc;
}

/* The document's path of a route: a prefix route takes its file as a parameter. */
static void doc_path(const struct sw_http_route *r, char *out, size_t size)
{
    snprintf(out, size, "%s%s", r->path, r->prefix ? "{file}" : "");
}

static const struct sw_http_route *route_of(const char *docpath)
{
    const struct sw_http_route *r;
    char p[128];

    for (r = sw_http_routes; r->path != NULL; r++) {
        doc_path(r, p, sizeof(p));
        if (strcmp(p, docpath) == 0)
            return r;
    }
    return NULL;
}

/* 1 when method (lower case, as in the document) is one of the route's methods. */
static int route_has(const struct sw_http_route *r, const char *method)
{
    char list[64], *m, *save = NULL;
    size_t i;

    snprintf(list, sizeof(list), "%s", r->methods);
    for (i = 0; list[i]; i++)
        list[i] = (char)(list[i] >= 'A' && list[i] <= 'Z' ? list[i] + 32 : list[i]);
    for (m = strtok_r(list, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save))
        if (strcmp(m, method) == 0)
            return 1;
    return 0;
}

static void openapi_matches_the_routing_table(void **state)
{
    struct fixture *f = *state;
    json_t *doc = served_document(&f->api), *paths = json_object_get(doc, "paths"), *item, *op;
    const struct sw_http_route *r;
    char p[128], list[64], *m, *save = NULL;
    const char *path, *method;
    size_t i, n = 0;

    /* every route and method is documented ... */
    for (r = sw_http_routes; r->path != NULL; r++, n++) {
        doc_path(r, p, sizeof(p));
        if ((item = json_object_get(paths, p)) == NULL)
            fail_msg("route %s is not in the document", p);
        snprintf(list, sizeof(list), "%s", r->methods);
        for (i = 0; list[i]; i++)
            list[i] = (char)(list[i] >= 'A' && list[i] <= 'Z' ? list[i] + 32 : list[i]);
        for (m = strtok_r(list, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save))
            if (json_object_get(item, m) == NULL)
                fail_msg("%s %s is not in the document", m, p);
        assert_non_null(r->handler);
    }
    assert_int_equal(n, 9);
    /* ... and everything documented is routed */
    json_object_foreach(paths, path, item) {
        if ((r = route_of(path)) == NULL)
            fail_msg("documented path %s has no route", path);
        json_object_foreach(item, method, op) {
            if (strcmp(method, "parameters") == 0 || strncmp(method, "x-", 2) == 0)
                continue;
            if (!route_has(r, method))
                fail_msg("documented %s %s is not routed (%s)", method, path, r->methods);
            assert_non_null(json_object_get(op, "responses"));
        }
    }
    json_decref(doc);
}

/* Reads a whole file (tests/data/...); malloc'd. */
static char *slurp(const char *rel, size_t *len)
{
    char path[1024], *b;
    FILE *fp;
    long n;

    snprintf(path, sizeof(path), "%s/%s", TEST_SRCDIR, rel);
    if ((fp = fopen(path, "rb")) == NULL)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    rewind(fp);
    b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/*
 * Runs every example request body of the document through its handler with the key the
 * examples were signed with (tools/http_api_examples.sh) and checks the status the
 * example promises (x-status, which the operation must document) and, where given, the
 * error name (x-error: the "error" member, or the element's, and /v1/check's header).
 */
static void openapi_examples_answer_as_documented(void **state)
{
    json_t *doc, *paths, *item, *op, *content, *media, *examples, *ex, *val;
    const char *path, *method, *mt, *name, *want_error;
    struct sw_api api;
    const struct sw_http_route *r;
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;
    sw_pubkey *pub = NULL;
    char *pem, *body, *got, code[8], hdr[96];
    size_t len, count = 0;
    struct call c;
    int want;

    (void)state;
    pem = slurp("tests/data/http_api_key.pem", &len);
    assert_int_equal(sw_key_load_pem(ctx, pem, len, &key), SW_OK);
    assert_int_equal(sw_pubkey_from_key(ctx, key, &pub), SW_OK);
    free(pem);
    memset(&api, 0, sizeof(api));
    api.sign_key = key;
    api.sign_x5u = (char *)X5U;
    api.check_key = pub;
    api.max_age = INT64_C(3155760000); /* the examples' iat is 1700000000 */
    api.future_skew = 5;
    api.pub_dirfd = -1;

    doc = served_document(&api);
    paths = json_object_get(doc, "paths");
    json_object_foreach(paths, path, item) {
        json_object_foreach(item, method, op) {
            content = json_object_get(json_object_get(op, "requestBody"), "content");
            json_object_foreach(content, mt, media) {
                examples = json_object_get(media, "examples");
                json_object_foreach(examples, name, ex) {
                    r = route_of(path);
                    assert_non_null(r);
                    val = json_object_get(ex, "value");
                    body = json_is_string(val) ? strdup(json_string_value(val))
                                               : json_dumps(val, JSON_COMPACT);
                    assert_non_null(body);
                    want = (int)json_integer_value(json_object_get(ex, "x-status"));
                    snprintf(code, sizeof(code), "%d", want);
                    if (json_object_get(json_object_get(op, "responses"), code) == NULL)
                        fail_msg("%s %s example %s: status %d not documented", method, path, name,
                                 want);
                    assert_int_equal(call(&c, r->handler, &api, "POST", path, body, strlen(body)),
                                     SW_HTTP_DONE);
                    if (c.resp.status != want)
                        fail_msg("%s %s example %s: status %d, documented %d: %s", method, path,
                                 name, c.resp.status, want, c.resp.body);
                    want_error = json_string_value(json_object_get(ex, "x-error"));
                    if (want_error != NULL) {
                        got = json_member(&c, -1, "error");
                        if (strcmp(got, want_error) != 0)
                            fail_msg("%s %s example %s: error %s, documented %s", method, path,
                                     name, got, want_error);
                        free(got);
                        if (strcmp(path, "/v1/check") == 0) {
                            snprintf(hdr, sizeof(hdr), "X-Stirwire-Error: %s\r\n", want_error);
                            assert_non_null(strstr(c.resp.headers, hdr));
                        }
                    }
                    call_free(&c);
                    free(body);
                    count++;
                }
            }
        }
    }
    assert_true(count >= 15);
    json_decref(doc);
    sw_key_free(key);
    sw_pubkey_free(pub);
    sw_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(check_valid_is_secsipidx_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(check_bad_signature_is_422_with_sip_status, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(check_bad_bodies_are_400, setup, teardown),
        cmocka_unit_test_setup_teardown(check_freshness_is_not_secsipidx, setup, teardown),
        cmocka_unit_test_setup_teardown(check_without_key_or_verifier_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(sign_csv_answers_identity_and_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(sign_csv_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(v2_sign_then_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(v2_verify_with_sip_context, setup, teardown),
        cmocka_unit_test_setup_teardown(v2_batches_and_json_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(check_waits_for_the_certificate_once, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_batch_waits_once_for_all_fetches, setup, teardown),
        cmocka_unit_test_setup_teardown(again_while_still_pending_is_cert_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(health_and_readiness, setup, teardown),
        cmocka_unit_test_setup_teardown(openapi_matches_the_routing_table, setup, teardown),
        cmocka_unit_test(openapi_examples_answer_as_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
