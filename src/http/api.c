/*
 * api.c - the handlers of the REST API: the secsipidx 1.2 compatible /v1 endpoints, the
 * JSON /v2 ones, the OpenAPI document, liveness and readiness; and the routing table that
 * src/http/server.c serves them from. Each handler is a plain function from a request
 * that the server has read whole to a response the server sends; nothing here knows
 * libmicrohttpd, so tests/unit/test_http_api.c calls the handlers directly.
 *
 * Verification never blocks a server thread. Every Identity is first judged with the
 * certificates already in the verifier's cache; when one must be fetched, the handler
 * joins the fetch with a callback that wakes the request once all of its fetches have
 * ended, and answers SW_HTTP_AGAIN. Called again (req->again), it judges everything anew
 * with the cache now filled (or the failure in the negative cache); a fetch that is still
 * not done then is a CERT_TIMEOUT, so no request waits twice.
 *
 * Rules a newcomer must not break: a handler answers every input with a response (a 4xx
 * JSON for bad input, never a crash); /v1 success answers stay byte for byte what
 * secsipidx sends; /v1/check never answers 200 for an Identity that does not verify; and
 * sw_http_wake() is called exactly once per SW_HTTP_AGAIN (see struct waitset).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "../sip/sipmsg.h"
#include "../sip/stir.h"
#include "api.h"
#include "handlers.h"

/* secsipidx answers its text bodies with Go's default for text: keep it byte for byte. */
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_JSON "application/json"

/* Largest iat /v2/sign takes: 9999-12-31T23:59:59Z (as "stirwire sign --iat"). */
#define IAT_MAX INT64_C(253402300799)
/* Longest SIP context value (/v2/verify from, pai, to, ruri, date). */
#define CTX_VALUE_MAX 512

const struct sw_http_route sw_http_routes[] = {
    {"/v1/check", 0, "POST", SW_HTTP_CHECK, sw_api_v1_check},
    {"/v1/sign-csv", 0, "POST", SW_HTTP_SIGN, sw_api_v1_sign_csv},
    {"/v1/pub/", 1, "GET,HEAD", SW_HTTP_OPEN, sw_api_pub},
    {"/v2/sign", 0, "POST", SW_HTTP_SIGN, sw_api_v2_sign},
    {"/v2/verify", 0, "POST", SW_HTTP_CHECK, sw_api_v2_verify},
    {"/v2/openapi.json", 0, "GET", SW_HTTP_OPEN, sw_api_openapi},
    {"/metrics", 0, "GET", SW_HTTP_OPS, sw_api_metrics},
    {"/healthz", 0, "GET", SW_HTTP_OPEN, sw_api_healthz},
    {"/readyz", 0, "GET", SW_HTTP_OPEN, sw_api_readyz},
    {NULL, 0, NULL, SW_HTTP_OPEN, NULL},
};

/* --- responses ------------------------------------------------------------------------- */

/* Sets the answer (once per request); body is handed over (malloc'd) or NULL. */
static void answer(struct sw_http_resp *resp, int status, const char *ctype, char *body, size_t len)
{
    resp->status = status;
    resp->content_type = ctype;
    resp->body = body;
    resp->body_len = body != NULL ? len : 0;
    resp->fd = -1;
    resp->fd_size = 0;
}

/* Appends one "Name: value\r\n" line; a line that would not fit whole is left out. */
static void add_header(struct sw_http_resp *resp, const char *name, const char *value)
{
    size_t used = strnlen(resp->headers, sizeof(resp->headers));
    int n = snprintf(resp->headers + used, sizeof(resp->headers) - used, "%s: %s\r\n", name, value);

    if (n < 0 || (size_t)n >= sizeof(resp->headers) - used)
        resp->headers[used] = '\0';
}

/* A text answer, copied. */
static void answer_text(struct sw_http_resp *resp, int status, const char *ctype, const char *text,
                        size_t len)
{
    char *b = malloc(len + 1);

    if (b == NULL) {
        answer(resp, 500, ctype, NULL, 0);
        return;
    }
    memcpy(b, text, len);
    b[len] = '\0';
    answer(resp, status, ctype, b, len);
}

/* A JSON answer from o (consumed), one line with a final newline, as curl users like it. */
static void answer_json(struct sw_http_resp *resp, int status, json_t *o)
{
    static const char nomem[] = "{\"error\":\"NOMEM\",\"message\":\"out of memory\"}\n";
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    size_t len;
    char *b;

    json_decref(o);
    if (text == NULL) {
        answer_text(resp, 500, CT_JSON, nomem, sizeof(nomem) - 1);
        return;
    }
    len = strlen(text);
    if ((b = realloc(text, len + 2)) == NULL) {
        free(text);
        answer(resp, 500, CT_JSON, NULL, 0);
        return;
    }
    b[len] = '\n';
    b[len + 1] = '\0';
    answer(resp, status, CT_JSON, b, len + 1);
}

/* Sets key to value; a value that failed to allocate (NULL) is skipped. */
static void jset(json_t *o, const char *key, json_t *value)
{
    if (value != NULL)
        json_object_set_new(o, key, value);
}

/* A JSON string, or null for NULL (json_string would answer NULL for invalid UTF-8). */
static json_t *jstr(const char *s)
{
    json_t *j;

    if (s == NULL)
        return json_null();
    if ((j = json_string(s)) == NULL)
        j = json_stringn_nocheck(s, strlen(s));
    return j;
}

/* {"error","message"} plus optional detail: the error object of a request problem. */
static json_t *error_object(const char *error, const char *message, const char *detail)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    jset(o, "error", jstr(error));
    jset(o, "message", jstr(message));
    if (detail != NULL && *detail != '\0')
        jset(o, "detail", jstr(detail));
    return o;
}

void sw_http_error(struct sw_http_resp *resp, int status, const char *error, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    answer_json(resp, status, error_object(error, msg, NULL));
}

/* --- the per-thread context ------------------------------------------------------------ */

/*
 * An sw_ctx keeps prepared OpenSSL state, so that a key is set up once and not per
 * request; it belongs to one thread. Each server thread gets its own on first use,
 * freed when the thread ends. Settings are applied on every request, because a reload
 * may hand the server a new struct sw_api between two requests.
 */
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static int ctx_key_ok;

static void ctx_destroy(void *p)
{
    sw_ctx_free(p);
}

static void ctx_key_init(void)
{
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_destroy) == 0;
}

/*
 * The thread's context with the api's freshness settings, or NULL (out of memory).
 * max_age 0 (or less) means the library default, 60 s: secsipidx's "-expire 0", which
 * rejects every token, is not copied. future_skew below 0 means the default, 5 s.
 */
static sw_ctx *api_ctx(const struct sw_api *api)
{
    sw_ctx *ctx;

    pthread_once(&ctx_once, ctx_key_init);
    if (!ctx_key_ok)
        return NULL;
    if ((ctx = pthread_getspecific(ctx_key)) == NULL) {
        if ((ctx = sw_ctx_new()) == NULL)
            return NULL;
        if (pthread_setspecific(ctx_key, ctx) != 0) {
            sw_ctx_free(ctx);
            return NULL;
        }
    }
    sw_ctx_set_now(ctx, 0);
    sw_ctx_set_max_age(ctx, api->max_age > 0 ? api->max_age : 60);
    sw_ctx_set_future_skew(ctx, api->future_skew >= 0 ? api->future_skew : 5);
    return ctx;
}

/* --- verification shared by /v1/check and /v2/verify ---------------------------------- */

/* One Identity to judge, with its optional SIP context, and the verdict. */
struct vjob {
    const char *identity; /* the header value (not NUL-terminated) */
    size_t len;
    const char *from, *pai, *to, *ruri, *date; /* SIP context, NULL when absent */
    /* the verdict */
    sw_err err;
    int parsed;                   /* the Identity value parsed (else it is not a token) */
    int sip;                      /* judged as a SIP request by stir_verify() */
    char detail[STIR_DETAIL_MAX]; /* sw_errmsg() of the deciding step */
    char x5u[STIR_X5U_MAX];       /* the info URL: the certificate a PENDING one waits for */
    char spc[64];
    char orig[SW_TN_MAX], dest[SW_TN_MAX]; /* the request's numbers (sip) */
    /* an item that is not a valid request (/v2/verify): never judged */
    int bad;
    char bad_msg[200];
};

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* A context value as a SIP name-addr: a bare number becomes a sip: URI with user=phone. */
static void name_addr(char *out, size_t size, const char *v)
{
    if (strchr(v, '<') != NULL)
        snprintf(out, size, "%s", v);
    else if (strncasecmp(v, "sip:", 4) == 0 || strncasecmp(v, "sips:", 5) == 0 ||
             strncasecmp(v, "tel:", 4) == 0)
        snprintf(out, size, "<%s>", v);
    else
        snprintf(out, size, "<sip:%s@stirwire.invalid;user=phone>", v);
}

/* The Request-URI for ruri (or, absent, the To URI): a bare URI, no angle brackets. */
static void request_uri(char *out, size_t size, const char *v)
{
    const char *lt, *gt;

    if (v == NULL) {
        snprintf(out, size, "sip:stirwire.invalid");
    } else if ((lt = strchr(v, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
        snprintf(out, size, "%.*s", (int)(gt - lt - 1), lt + 1);
    } else if (strncasecmp(v, "sip:", 4) == 0 || strncasecmp(v, "sips:", 5) == 0 ||
               strncasecmp(v, "tel:", 4) == 0) {
        snprintf(out, size, "%s", v);
    } else {
        snprintf(out, size, "sip:%s@stirwire.invalid;user=phone", v);
    }
    /* a space would end the Request-URI: cut there (the parser then judges what is left) */
    out[strcspn(out, " \t")] = '\0';
}

/*
 * Builds the smallest INVITE that carries the context and the Identity, so that
 * stir_verify() reads its numbers and Date exactly as the verify filter reads a call's.
 * *out is malloc'd. 0, or -1 (out of memory).
 */
static int build_request(const struct vjob *j, char **out, size_t *outlen)
{
    char from[CTX_VALUE_MAX + 64], to[CTX_VALUE_MAX + 64], pai[CTX_VALUE_MAX + 64];
    char ruri[CTX_VALUE_MAX + 64];
    size_t cap = j->len + 6 * (CTX_VALUE_MAX + 64) + 512;
    char *b = malloc(cap);
    int n;

    if (b == NULL)
        return -1;
    name_addr(from, sizeof(from), j->from != NULL ? j->from : "sip:anonymous@anonymous.invalid");
    name_addr(to, sizeof(to), j->to != NULL ? j->to : j->ruri);
    pai[0] = '\0';
    if (j->pai != NULL)
        name_addr(pai, sizeof(pai), j->pai);
    request_uri(ruri, sizeof(ruri), j->ruri != NULL ? j->ruri : j->to);
    n = snprintf(b, cap,
                 "INVITE %s SIP/2.0\r\n"
                 "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-stirwire-api\r\n"
                 "Max-Forwards: 70\r\n"
                 "From: %s;tag=api\r\n"
                 "To: %s\r\n"
                 "%s%s%s"
                 "Call-ID: api@stirwire.invalid\r\n"
                 "CSeq: 1 INVITE\r\n"
                 "%s%s%s"
                 "Identity: %.*s\r\n"
                 "Content-Length: 0\r\n"
                 "\r\n",
                 ruri, from, to, pai[0] ? "P-Asserted-Identity: " : "", pai, pai[0] ? "\r\n" : "",
                 j->date != NULL ? "Date: " : "", j->date != NULL ? j->date : "",
                 j->date != NULL ? "\r\n" : "", (int)j->len, j->identity);
    if (n < 0 || (size_t)n >= cap) {
        free(b);
        return -1;
    }
    *out = b;
    *outlen = (size_t)n;
    return 0;
}

/* Judges j with the certificates at hand: the verdict, or SW_ERR_PENDING with j->x5u. */
static void verify_job(const struct sw_api *api, sw_ctx *ctx, struct vjob *j)
{
    sw_identity *id = NULL;
    struct stir_result r;
    struct stir_opts o;
    struct sip_msg *m;
    char perr[160];
    char *text = NULL;
    size_t textlen;

    j->detail[0] = j->spc[0] = '\0';
    if (!j->sip) {
        if ((j->err = sw_identity_parse(ctx, j->identity, j->len, &id)) != SW_OK) {
            j->parsed = 0;
            copy_str(j->detail, sizeof(j->detail), sw_errmsg(ctx));
            return;
        }
        j->parsed = 1;
        copy_str(j->x5u, sizeof(j->x5u), sw_identity_info(id));
        if (api->check_key != NULL) {
            j->err = sw_verify(ctx, id, api->check_key, NULL, NULL);
        } else {
            j->err = sw_verify_identity(ctx, api->verifier, id, NULL, NULL, NULL, NULL);
            copy_str(j->spc, sizeof(j->spc), sw_ctx_last_spc(ctx));
        }
        if (j->err != SW_OK)
            copy_str(j->detail, sizeof(j->detail), sw_errmsg(ctx));
        sw_identity_free(id);
        return;
    }

    /* With SIP context: the request as the verify filter would see it. */
    if ((m = malloc(sizeof(*m))) == NULL || build_request(j, &text, &textlen) != 0) {
        free(m);
        j->err = SW_ERR_NOMEM;
        return;
    }
    if (sip_parse(m, text, textlen, perr, sizeof(perr)) != 0 || !m->is_request) {
        /* the context values broke the request: say which, as a bad value of the call */
        j->err = SW_ERR_INVAL;
        snprintf(j->detail, sizeof(j->detail), "the SIP context does not make a request: %s", perr);
    } else {
        stir_opts_init(&o);
        o.dest_ruri = j->to == NULL;
        o.date_max_age = api->max_age > 0 ? api->max_age : 60;
        o.date_future_skew = api->future_skew >= 0 ? api->future_skew : 5;
        stir_verify(ctx, api->check_key != NULL ? NULL : api->verifier, api->check_key, m, &o, 0,
                    &r);
        j->err = r.err;
        j->parsed = r.chosen >= 0;
        copy_str(j->detail, sizeof(j->detail), r.detail);
        copy_str(j->x5u, sizeof(j->x5u), r.x5u);
        copy_str(j->spc, sizeof(j->spc), r.spc);
        copy_str(j->orig, sizeof(j->orig), r.orig);
        copy_str(j->dest, sizeof(j->dest), r.dest);
    }
    free(text);
    free(m);
}

/*
 * The wait of one request: the fetches it joined, plus one for the handler itself while
 * it is still registering them (the guard). Whoever brings the count to 0 decides: the
 * last fetch callback wakes the request; the handler, when it drops its guard last (every
 * fetch already ended), judges again at once and wakes nobody. So the wake comes exactly
 * once per SW_HTTP_AGAIN, never without one. Lives in req->slot, which the server keeps
 * until the request is done, so it outlives every callback.
 */
struct waitset {
    atomic_int remaining;
    void *wake_arg;
};
_Static_assert(sizeof(struct waitset) <= SW_HTTP_SLOT, "struct waitset must fit the slot");

static void waitset_cb(void *arg, sw_err result)
{
    struct waitset *w = arg;
    void *wake_arg = w->wake_arg;

    if (atomic_fetch_sub(&w->remaining, 1) == 1)
        sw_http_wake(wake_arg, result);
}

/* A pending verdict that will not wait any more. */
static void timeout_job(struct vjob *j)
{
    j->err = SW_ERR_CERT_TIMEOUT;
    snprintf(j->detail, sizeof(j->detail), "the certificate at %s was not fetched in time", j->x5u);
}

/*
 * Judges jobs[0..n) (the bad ones skipped). SW_HTTP_DONE with every verdict final, or
 * SW_HTTP_AGAIN when certificates are being fetched (one wake will follow).
 */
static enum sw_http_rc run_jobs(const struct sw_api *api, struct sw_http_req *req, sw_ctx *ctx,
                                struct vjob *jobs, size_t n)
{
    struct waitset *w = req->slot;
    size_t i, pending = 0;
    sw_cert *cert;
    sw_err err;

    for (i = 0; i < n; i++) {
        if (jobs[i].bad)
            continue;
        verify_job(api, ctx, &jobs[i]);
        if (jobs[i].err == SW_ERR_PENDING)
            pending++;
    }
    if (pending == 0)
        return SW_HTTP_DONE;
    /* Waited once already (or nothing to wait with): what is still pending timed out. */
    if (req->again || api->verifier == NULL || w == NULL) {
        for (i = 0; i < n; i++)
            if (!jobs[i].bad && jobs[i].err == SW_ERR_PENDING)
                timeout_job(&jobs[i]);
        return SW_HTTP_DONE;
    }
    w->wake_arg = req->wake_arg;
    atomic_init(&w->remaining, 1);
    for (i = 0; i < n; i++) {
        if (jobs[i].bad || jobs[i].err != SW_ERR_PENDING)
            continue;
        /* joins the fetch the verification started; counted before it can end */
        atomic_fetch_add(&w->remaining, 1);
        cert = NULL;
        err = sw_verifier_get_cert(api->verifier, ctx, jobs[i].x5u, waitset_cb, w, &cert);
        if (err != SW_ERR_PENDING)
            atomic_fetch_sub(&w->remaining, 1); /* ended already: no callback will come */
        sw_cert_free(cert);
    }
    if (atomic_fetch_sub(&w->remaining, 1) > 1)
        return SW_HTTP_AGAIN;
    /* Every fetch ended while we registered: judge the waiting ones now, no wake. */
    for (i = 0; i < n; i++) {
        if (jobs[i].bad || jobs[i].err != SW_ERR_PENDING)
            continue;
        verify_job(api, ctx, &jobs[i]);
        if (jobs[i].err == SW_ERR_PENDING)
            timeout_job(&jobs[i]);
    }
    return SW_HTTP_DONE;
}

/* The verdict fields every verification answer carries (v1 errors and v2 results). */
static void verdict_fields(json_t *o, const struct vjob *j)
{
    int status = sw_err_sip_status(j->err);
    char reason[512];
    size_t rlen = 0;

    jset(o, "error", jstr(sw_err_name(j->err)));
    jset(o, "message", jstr(sw_strerror(j->err)));
    jset(o, "detail", jstr(j->detail));
    jset(o, "sip_status", status != 0 ? json_integer(status) : json_null());
    jset(o, "sip_reason", status != 0 ? jstr(sw_err_sip_reason(j->err)) : json_null());
    /* A Reason header explains a failure; a valid call has none. */
    if (j->err != SW_OK)
        rlen = sw_err_reason_header(j->err, reason, sizeof(reason));
    jset(o, "reason_header", rlen > 0 && rlen < sizeof(reason) ? jstr(reason) : json_null());
    jset(o, "verstat", jstr(sw_err_verstat(j->err)));
}

/* --- /v1/check ------------------------------------------------------------------------- */

/*
 * The Identity value in a /v1/check body: white space around it (curl --data-binary of a
 * file keeps its final newline) and a leading "Identity:" or "y:" header name are not
 * part of it. secsipidx trims the same white space but fails on the header name.
 */
static const char *identity_value(const char *body, size_t len, size_t *outlen)
{
    while (len > 0 && isspace((unsigned char)body[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char)*body)) {
        body++;
        len--;
    }
    if (len >= 9 && strncasecmp(body, "Identity:", 9) == 0) {
        body += 9;
        len -= 9;
    } else if (len >= 2 && strncasecmp(body, "y:", 2) == 0) {
        body += 2;
        len -= 2;
    }
    while (len > 0 && isspace((unsigned char)*body)) {
        body++;
        len--;
    }
    *outlen = len;
    return body;
}

/* A /v1/check failure: the verdict as JSON, with the SIP status and error name headers. */
static void check_failure(struct sw_http_resp *resp, int status, const struct vjob *j)
{
    json_t *o = json_object();
    char num[16];

    if (o != NULL) {
        verdict_fields(o, j);
        if (j->x5u[0] != '\0')
            jset(o, "x5u", jstr(j->x5u));
    }
    answer_json(resp, status, o);
    if (sw_err_sip_status(j->err) != 0) {
        snprintf(num, sizeof(num), "%d", sw_err_sip_status(j->err));
        add_header(resp, "X-SIP-Status", num);
    }
    add_header(resp, "X-Stirwire-Error", sw_err_name(j->err));
}

enum sw_http_rc sw_api_v1_check(const struct sw_api *api, struct sw_http_req *req,
                                struct sw_http_resp *resp)
{
    struct vjob j;
    enum sw_http_rc rc;
    sw_ctx *ctx;
    int status;

    memset(&j, 0, sizeof(j));
    if (api->check_key == NULL && api->verifier == NULL) {
        sw_http_error(resp, 503, "NOT_CONFIGURED", "no check key and no verifier configured");
        return SW_HTTP_DONE;
    }
    j.identity = identity_value(req->body, req->body_len, &j.len);
    if (memchr(req->body, '\0', req->body_len) != NULL) {
        j.err = SW_ERR_IDENTITY_MALFORMED;
        copy_str(j.detail, sizeof(j.detail), "the body holds a NUL byte");
    } else if (j.len == 0) {
        j.err = SW_ERR_IDENTITY_MISSING;
        copy_str(j.detail, sizeof(j.detail), "empty body: send the Identity header value");
    } else if (j.len > SW_IDENTITY_MAX) {
        j.err = SW_ERR_IDENTITY_TOO_LONG;
        snprintf(j.detail, sizeof(j.detail), "%zu bytes, at most %d", j.len, SW_IDENTITY_MAX);
    }
    if (j.err != SW_OK) {
        check_failure(resp, 400, &j);
        return SW_HTTP_DONE;
    }
    if ((ctx = api_ctx(api)) == NULL) {
        sw_http_error(resp, 500, "NOMEM", "out of memory");
        return SW_HTTP_DONE;
    }
    if ((rc = run_jobs(api, req, ctx, &j, 1)) == SW_HTTP_AGAIN)
        return rc;
    if (j.err == SW_OK) {
        answer_text(resp, 200, CT_TEXT, "OK\n", 3);
        return SW_HTTP_DONE;
    }
    /* not a token at all: a bad request; a token that fails: 422; our own trouble: 500 */
    if (sw_err_class(j.err) == SW_CLASS_INTERNAL)
        status = 500;
    else
        status = j.parsed ? 422 : 400;
    check_failure(resp, status, &j);
    return SW_HTTP_DONE;
}

/* --- signing shared by /v1/sign-csv and /v2/sign --------------------------------------- */

/* What to sign; strings borrowed. */
struct sjob {
    char attest;
    const char *orig;
    const char *dests[8];
    size_t ndest;
    const char *origid; /* NULL: a fresh UUIDv4 */
    const char *x5u;    /* NULL: api->sign_x5u */
    int64_t iat;        /* 0: now */
};

/*
 * Signs s. Returns the Identity value (sw_free) or NULL with *status, *error and msg set
 * (400 for bad claims, 500 for our own failure).
 */
static char *sign_job(const struct sw_api *api, sw_ctx *ctx, const struct sjob *s, int *status,
                      const char **error, char *msg, size_t msgsize)
{
    const char *x5u = s->x5u != NULL && *s->x5u != '\0' ? s->x5u : api->sign_x5u;
    char canon[SW_TN_MAX];
    char *out = NULL;
    size_t i;
    sw_err err;

    *status = 400;
    if (x5u == NULL || *x5u == '\0') {
        *error = sw_err_name(SW_ERR_INFO_MISSING);
        snprintf(msg, msgsize, "no x5u given and no default x5u configured");
        return NULL;
    }
    if (sw_x5u_check(x5u) != SW_OK) {
        *error = sw_err_name(SW_ERR_INVAL);
        snprintf(msg, msgsize, "x5u '%.200s' cannot be written in an Identity header", x5u);
        return NULL;
    }
    if (s->attest != 'A' && s->attest != 'B' && s->attest != 'C') {
        *error = sw_err_name(SW_ERR_ATTEST);
        snprintf(msg, msgsize, "attest must be A, B or C");
        return NULL;
    }
    if (s->orig == NULL || sw_tn_canon(s->orig, canon, sizeof(canon)) != SW_OK) {
        *error = sw_err_name(SW_ERR_TN_INVALID);
        snprintf(msg, msgsize, "orig '%.80s' is not a telephone number",
                 s->orig != NULL ? s->orig : "");
        return NULL;
    }
    for (i = 0; i < s->ndest; i++)
        if (sw_tn_canon(s->dests[i], canon, sizeof(canon)) != SW_OK) {
            *error = sw_err_name(SW_ERR_TN_INVALID);
            snprintf(msg, msgsize, "dest '%.80s' is not a telephone number", s->dests[i]);
            return NULL;
        }
    if ((err = sw_sign_shaken(ctx, api->sign_key, s->attest, s->orig, s->dests, s->ndest, s->iat,
                              s->origid, x5u, 0, &out)) != SW_OK) {
        *status = sw_err_class(err) == SW_CLASS_INTERNAL ? 500 : 400;
        *error = sw_err_name(err);
        snprintf(msg, msgsize, "%s: %s", sw_strerror(err), sw_errmsg(ctx));
        return NULL;
    }
    /* Verifiers (this library too) refuse a longer Identity: not a result to hand out. */
    if (strlen(out) > SW_IDENTITY_MAX) {
        *error = sw_err_name(SW_ERR_IDENTITY_TOO_LONG);
        snprintf(msg, msgsize, "the Identity would be %zu bytes, more than %d", strlen(out),
                 SW_IDENTITY_MAX);
        sw_free(out);
        return NULL;
    }
    *status = 200;
    return out;
}

/* --- /v1/sign-csv ---------------------------------------------------------------------- */

/* Cuts white space from both ends of [*s, *s + *len). */
static void trim(char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
    while (*len > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
}

/*
 * The body is split as secsipidx splits it: the white space around the whole body goes,
 * then every comma separates a field; fewer than 5 fields is a 400, fields after the
 * fifth are ignored. Unlike secsipidx, the white space around each field goes too (it
 * signs " A " as attest " A "), and the values are checked before signing.
 */
enum sw_http_rc sw_api_v1_sign_csv(const struct sw_api *api, struct sw_http_req *req,
                                   struct sw_http_resp *resp)
{
    char *copy, *p, *field[5], msg[256];
    size_t len, flen, nf = 0;
    const char *error;
    struct sjob s;
    char *out, *b;
    sw_ctx *ctx;
    int status;

    if (api->sign_key == NULL) {
        sw_http_error(resp, 503, "NOT_CONFIGURED", "no signing key configured");
        return SW_HTTP_DONE;
    }
    if (memchr(req->body, '\0', req->body_len) != NULL) {
        sw_http_error(resp, 400, "BAD_REQUEST", "the body holds a NUL byte");
        return SW_HTTP_DONE;
    }
    if ((copy = malloc(req->body_len + 1)) == NULL) {
        sw_http_error(resp, 500, "NOMEM", "out of memory");
        return SW_HTTP_DONE;
    }
    memcpy(copy, req->body, req->body_len);
    copy[req->body_len] = '\0';
    p = copy;
    len = req->body_len;
    trim(&p, &len);
    p[len] = '\0';
    for (;;) {
        char *comma = strchr(p, ',');
        flen = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (nf < 5) {
            char *f = p;
            size_t fl = flen;
            trim(&f, &fl);
            f[fl] = '\0';
            field[nf] = f;
        }
        nf++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (nf < 5 || len == 0) {
        sw_http_error(resp, 400, "BAD_REQUEST",
                      "too few fields: %zu of 5 (OrigTN,DestTN,ATTEST,OrigID,X5U)",
                      len == 0 ? (size_t)0 : nf);
        free(copy);
        return SW_HTTP_DONE;
    }
    memset(&s, 0, sizeof(s));
    s.orig = field[0];
    s.dests[0] = field[1];
    s.ndest = 1;
    s.attest = strlen(field[2]) == 1 ? (char)toupper((unsigned char)field[2][0]) : 0;
    s.origid = field[3][0] != '\0' ? field[3] : NULL;
    s.x5u = field[4][0] != '\0' ? field[4] : NULL;
    if ((ctx = api_ctx(api)) == NULL) {
        sw_http_error(resp, 500, "NOMEM", "out of memory");
        free(copy);
        return SW_HTTP_DONE;
    }
    out = sign_job(api, ctx, &s, &status, &error, msg, sizeof(msg));
    free(copy);
    if (out == NULL) {
        sw_http_error(resp, status, error, "%s", msg);
        return SW_HTTP_DONE;
    }
    /* secsipidx's answer: the value and a newline, as text */
    len = strlen(out);
    if ((b = malloc(len + 2)) == NULL) {
        sw_free(out);
        sw_http_error(resp, 500, "NOMEM", "out of memory");
        return SW_HTTP_DONE;
    }
    memcpy(b, out, len);
    b[len] = '\n';
    b[len + 1] = '\0';
    sw_free(out);
    answer(resp, 200, CT_TEXT, b, len + 1);
    return SW_HTTP_DONE;
}

/* --- JSON requests (/v2) --------------------------------------------------------------- */

/*
 * Parses a /v2 body: an object, or an array of at most SW_API_BATCH_MAX. NULL after
 * answering the error (400 with jansson's line and column, 413 for a large batch).
 */
static json_t *parse_body(struct sw_http_req *req, struct sw_http_resp *resp)
{
    json_error_t jerr;
    json_t *in, *o;

    if ((in = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        char where[sizeof(jerr.text) + 48];

        /* the place in words for people, and as numbers for programs */
        snprintf(where, sizeof(where), "%s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        if ((o = error_object("BAD_JSON", "the body is not valid JSON", where)) != NULL) {
            jset(o, "line", json_integer(jerr.line));
            jset(o, "column", json_integer(jerr.column));
        }
        answer_json(resp, 400, o);
        return NULL;
    }
    if (!json_is_object(in) && !json_is_array(in)) {
        json_decref(in);
        sw_http_error(resp, 400, "BAD_REQUEST", "the body must be a JSON object or an array");
        return NULL;
    }
    if (json_is_array(in) && json_array_size(in) > SW_API_BATCH_MAX) {
        sw_http_error(resp, 413, "BATCH_TOO_LARGE", "%zu items in the batch, at most %d",
                      json_array_size(in), SW_API_BATCH_MAX);
        json_decref(in);
        return NULL;
    }
    return in;
}

/* The first key of o not in the NULL-terminated list known, or NULL. */
static const char *unknown_key(json_t *o, const char *const *known)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach(o, key, v) {
        for (i = 0; known[i] != NULL; i++)
            if (strcmp(key, known[i]) == 0)
                break;
        if (known[i] == NULL)
            return key;
    }
    return NULL;
}

/* The canonical JSON text s as a value, or null. */
static json_t *json_of(const char *s)
{
    json_t *j;

    if (s == NULL || (j = json_loads(s, 0, NULL)) == NULL)
        return json_null();
    return j;
}

/* {"header":{...},"payload":{...}} of an Identity value, or null. */
static json_t *passport_json(sw_ctx *ctx, const char *value, size_t len)
{
    sw_identity *id = NULL;
    const sw_passport *pp;
    json_t *o;

    if (sw_identity_parse(ctx, value, len, &id) != SW_OK ||
        (pp = sw_identity_passport(id)) == NULL || (o = json_object()) == NULL) {
        sw_identity_free(id);
        return json_null();
    }
    jset(o, "header", json_of(sw_passport_header_json(pp)));
    jset(o, "payload", json_of(sw_passport_payload_json(pp)));
    sw_identity_free(id);
    return o;
}

/* --- /v2/sign -------------------------------------------------------------------------- */

/* Signs one request object; the result or error object, and its HTTP status. */
static json_t *v2_sign_one(const struct sw_api *api, sw_ctx *ctx, json_t *in, int *status)
{
    static const char *const known[] = {"orig", "dest", "attest", "origid", "x5u", "iat", NULL};
    json_t *v, *o;
    const char *key, *error, *attest;
    struct sjob s;
    char msg[256];
    char *out;
    size_t i;

    *status = 400;
    memset(&s, 0, sizeof(s));
    if (!json_is_object(in))
        return error_object("BAD_REQUEST", "a sign request is a JSON object", NULL);
    if ((key = unknown_key(in, known)) != NULL) {
        snprintf(msg, sizeof(msg),
                 "unknown field '%.80s' (known: orig, dest, attest, origid, "
                 "x5u, iat)",
                 key);
        return error_object("BAD_REQUEST", msg, NULL);
    }
    /*
     * orig and dest as plain numbers, or as a PASSporT writes them (RFC 8225 section 5.2:
     * {"tn": ...}), so that a payload decoded elsewhere can be sent back as it is.
     */
    v = json_object_get(in, "orig");
    if (json_is_object(v))
        v = json_object_get(v, "tn");
    if (!json_is_string(v))
        return error_object("BAD_REQUEST",
                            "orig must be a string (the calling number) or {\"tn\": string}", NULL);
    s.orig = json_string_value(v);
    v = json_object_get(in, "dest");
    if (json_is_object(v))
        v = json_object_get(v, "tn");
    if (json_is_string(v)) {
        s.dests[s.ndest++] = json_string_value(v);
    } else if (json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= 8) {
        for (i = 0; i < json_array_size(v); i++) {
            if (!json_is_string(json_array_get(v, i)))
                return error_object("BAD_REQUEST", "dest must hold strings", NULL);
            s.dests[s.ndest++] = json_string_value(json_array_get(v, i));
        }
    } else {
        return error_object("BAD_REQUEST",
                            "dest must be a string, an array of 1 to 8 strings, or {\"tn\": ...}",
                            NULL);
    }
    if (!json_is_string(v = json_object_get(in, "attest")) ||
        strlen(attest = json_string_value(v)) != 1)
        return error_object(sw_err_name(SW_ERR_ATTEST), "attest must be \"A\", \"B\" or \"C\"",
                            NULL);
    s.attest = (char)toupper((unsigned char)attest[0]);
    if ((v = json_object_get(in, "origid")) != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || *json_string_value(v) == '\0')
            return error_object("BAD_REQUEST", "origid must be a non-empty string", NULL);
        s.origid = json_string_value(v);
    }
    if ((v = json_object_get(in, "x5u")) != NULL && !json_is_null(v)) {
        if (!json_is_string(v))
            return error_object("BAD_REQUEST", "x5u must be a string", NULL);
        s.x5u = json_string_value(v);
    }
    if ((v = json_object_get(in, "iat")) != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > IAT_MAX)
            return error_object("BAD_REQUEST", "iat must be a Unix time in seconds", NULL);
        s.iat = (int64_t)json_integer_value(v);
    }
    if ((out = sign_job(api, ctx, &s, status, &error, msg, sizeof(msg))) == NULL)
        return error_object(error, msg, NULL);
    if ((o = json_object()) != NULL) {
        jset(o, "identity", jstr(out));
        jset(o, "passport", passport_json(ctx, out, strlen(out)));
    }
    sw_free(out);
    if (o == NULL)
        *status = 500;
    return o;
}

enum sw_http_rc sw_api_v2_sign(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp)
{
    json_t *in, *out, *item;
    sw_ctx *ctx;
    size_t i;
    int status;

    if (api->sign_key == NULL) {
        sw_http_error(resp, 503, "NOT_CONFIGURED", "no signing key configured");
        return SW_HTTP_DONE;
    }
    if ((in = parse_body(req, resp)) == NULL)
        return SW_HTTP_DONE;
    if ((ctx = api_ctx(api)) == NULL) {
        json_decref(in);
        sw_http_error(resp, 500, "NOMEM", "out of memory");
        return SW_HTTP_DONE;
    }
    if (json_is_object(in)) {
        out = v2_sign_one(api, ctx, in, &status);
        json_decref(in);
        answer_json(resp, out != NULL ? status : 500, out);
        return SW_HTTP_DONE;
    }
    /* a batch: each item its own result or error object, the whole answer 200 */
    if ((out = json_array()) != NULL) {
        json_array_foreach(in, i, item) {
            json_t *one = v2_sign_one(api, ctx, item, &status);
            if (one == NULL || json_array_append_new(out, one) != 0) {
                json_decref(out);
                out = NULL;
                break;
            }
        }
    }
    json_decref(in);
    answer_json(resp, 200, out);
    return SW_HTTP_DONE;
}

/* --- /v2/verify ------------------------------------------------------------------------ */

/* Fills j from one request object; 0, or -1 with j->bad and j->bad_msg set. */
static int v2_verify_read(json_t *in, struct vjob *j)
{
    static const char *const known[] = {"identity", "from", "pai", "to", "ruri", "date", NULL};
    static const char *const ctxkeys[] = {"from", "pai", "to", "ruri", "date"};
    const char **slot[] = {&j->from, &j->pai, &j->to, &j->ruri, &j->date};
    const char *key, *s;
    json_t *v;
    size_t i;

    j->bad = 1;
    if (!json_is_object(in)) {
        copy_str(j->bad_msg, sizeof(j->bad_msg), "a verify request is a JSON object");
        return -1;
    }
    if ((key = unknown_key(in, known)) != NULL) {
        snprintf(j->bad_msg, sizeof(j->bad_msg),
                 "unknown field '%.60s' (known: identity, from, pai, to, ruri, date)", key);
        return -1;
    }
    if (!json_is_string(v = json_object_get(in, "identity"))) {
        copy_str(j->bad_msg, sizeof(j->bad_msg),
                 "identity must be a string (the Identity header value)");
        return -1;
    }
    j->identity = json_string_value(v);
    j->len = json_string_length(v);
    for (i = 0; i < 5; i++) {
        if ((v = json_object_get(in, ctxkeys[i])) == NULL || json_is_null(v))
            continue;
        /* a line end or NUL would make another header: these are values, not lines */
        s = json_is_string(v) ? json_string_value(v) : "";
        if (!json_is_string(v) || json_string_length(v) > CTX_VALUE_MAX ||
            s[strcspn(s, "\r\n")] != '\0' || strlen(s) != json_string_length(v) || *s == '\0') {
            snprintf(j->bad_msg, sizeof(j->bad_msg),
                     "%s must be a non-empty string of at most %d bytes on one line", ctxkeys[i],
                     CTX_VALUE_MAX);
            return -1;
        }
        *slot[i] = s;
        j->sip = 1;
    }
    if (j->sip && j->from == NULL && j->pai == NULL) {
        copy_str(j->bad_msg, sizeof(j->bad_msg),
                 "SIP context needs from or pai (the calling party; an anonymous call is "
                 "from \"sip:anonymous@anonymous.invalid\")");
        return -1;
    }
    if (j->sip && j->to == NULL && j->ruri == NULL) {
        copy_str(j->bad_msg, sizeof(j->bad_msg), "SIP context needs to or ruri (the called party)");
        return -1;
    }
    if (memchr(j->identity, '\0', j->len) != NULL || memchr(j->identity, '\r', j->len) != NULL ||
        memchr(j->identity, '\n', j->len) != NULL) {
        copy_str(j->bad_msg, sizeof(j->bad_msg), "identity must be one line");
        return -1;
    }
    j->bad = 0;
    return 0;
}

/* The claims this API knows, flattened, from the Identity value; null when it does not parse. */
static json_t *claims_json(sw_ctx *ctx, const struct vjob *j)
{
    sw_identity *id = NULL;
    const sw_passport *pp;
    json_t *claims, *dest;
    char attest[2] = {0, 0};
    size_t i, n;

    if (sw_identity_parse(ctx, j->identity, j->len, &id) != SW_OK ||
        (pp = sw_identity_passport(id)) == NULL) {
        sw_identity_free(id);
        return json_null();
    }
    claims = json_object();
    dest = json_array();
    if (claims == NULL || dest == NULL) {
        json_decref(claims);
        json_decref(dest);
        sw_identity_free(id);
        return NULL;
    }
    attest[0] = sw_passport_attest(pp);
    jset(claims, "attest", attest[0] ? jstr(attest) : json_null());
    jset(claims, "orig", jstr(sw_passport_orig_tn(pp)));
    n = sw_passport_dest_tn_count(pp);
    for (i = 0; i < n; i++)
        json_array_append_new(dest, jstr(sw_passport_dest_tn(pp, i)));
    jset(claims, "dest", dest);
    jset(claims, "iat",
         sw_passport_iat(pp) != 0 ? json_integer((json_int_t)sw_passport_iat(pp)) : json_null());
    jset(claims, "origid", jstr(sw_passport_origid(pp)));
    jset(claims, "x5u", jstr(sw_passport_x5u(pp)));
    sw_identity_free(id);
    return claims;
}

/* One verdict as its JSON result (or the item's request error). */
static json_t *v2_verify_result(sw_ctx *ctx, const struct vjob *j)
{
    json_t *o;

    if (j->bad)
        return error_object("BAD_REQUEST", j->bad_msg, NULL);
    if ((o = json_object()) == NULL)
        return NULL;
    jset(o, "valid", json_boolean(j->err == SW_OK));
    verdict_fields(o, j);
    jset(o, "claims", j->len > 0 ? claims_json(ctx, j) : json_null());
    jset(o, "spc", j->spc[0] ? jstr(j->spc) : json_null());
    jset(o, "x5u", j->x5u[0] ? jstr(j->x5u) : json_null());
    if (j->sip) {
        /* the numbers of the call as the verify filter read them from the context */
        jset(o, "orig", j->orig[0] ? jstr(j->orig) : json_null());
        jset(o, "dest", j->dest[0] ? jstr(j->dest) : json_null());
    }
    return o;
}

enum sw_http_rc sw_api_v2_verify(const struct sw_api *api, struct sw_http_req *req,
                                 struct sw_http_resp *resp)
{
    struct vjob *jobs;
    json_t *in, *out, *item;
    size_t i, n;
    sw_ctx *ctx;
    enum sw_http_rc rc;

    if (api->check_key == NULL && api->verifier == NULL) {
        sw_http_error(resp, 503, "NOT_CONFIGURED", "no check key and no verifier configured");
        return SW_HTTP_DONE;
    }
    if ((in = parse_body(req, resp)) == NULL)
        return SW_HTTP_DONE;
    n = json_is_array(in) ? json_array_size(in) : 1;
    ctx = api_ctx(api);
    if ((jobs = calloc(n > 0 ? n : 1, sizeof(*jobs))) == NULL || ctx == NULL) {
        free(jobs);
        json_decref(in);
        sw_http_error(resp, 500, "NOMEM", "out of memory");
        return SW_HTTP_DONE;
    }
    for (i = 0; i < n; i++)
        v2_verify_read(json_is_array(in) ? json_array_get(in, i) : in, &jobs[i]);
    if (json_is_object(in) && jobs[0].bad) {
        sw_http_error(resp, 400, "BAD_REQUEST", "%s", jobs[0].bad_msg);
        goto out;
    }
    /* The strings the jobs point to belong to in, which lives until the answer is built. */
    if ((rc = run_jobs(api, req, ctx, jobs, n)) == SW_HTTP_AGAIN) {
        free(jobs);
        json_decref(in);
        return rc;
    }
    if (json_is_object(in)) {
        answer_json(resp, 200, v2_verify_result(ctx, &jobs[0]));
    } else {
        if ((out = json_array()) != NULL)
            for (i = 0; i < n; i++)
                if ((item = v2_verify_result(ctx, &jobs[i])) == NULL ||
                    json_array_append_new(out, item) != 0) {
                    json_decref(out);
                    out = NULL;
                    break;
                }
        answer_json(resp, 200, out);
    }
out:
    free(jobs);
    json_decref(in);
    return SW_HTTP_DONE;
}

/* --- the document, liveness, readiness ------------------------------------------------- */

enum sw_http_rc sw_api_openapi(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp)
{
    answer_text(resp, 200, CT_JSON, sw_http_openapi_json, strlen(sw_http_openapi_json));
    return SW_HTTP_DONE;
}

enum sw_http_rc sw_api_healthz(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp)
{
    static const char ok[] = "{\"status\":\"ok\"}\n";

    answer_text(resp, 200, CT_JSON, ok, sizeof(ok) - 1);
    return SW_HTTP_DONE;
}

enum sw_http_rc sw_api_readyz(const struct sw_api *api, struct sw_http_req *req,
                              struct sw_http_resp *resp)
{
    static const char ready[] = "{\"status\":\"ready\"}\n";
    static const char not_ready[] = "{\"status\":\"not ready\"}\n";

    if (api->ready == NULL || api->ready(api->ready_arg))
        answer_text(resp, 200, CT_JSON, ready, sizeof(ready) - 1);
    else
        answer_text(resp, 503, CT_JSON, not_ready, sizeof(not_ready) - 1);
    return SW_HTTP_DONE;
}
