/*
 * fuzz_http.c - libFuzzer target for the REST API's handlers (src/http/api.c, pub.c): what
 * an HTTP client sends them, after the server has read it.
 *
 * The first input byte picks the endpoint; the rest is the request body (for /v1/pub/,
 * the path after the prefix, used as both the decoded and the raw path):
 *   0 POST /v1/check    1 POST /v1/sign-csv    2 POST /v2/sign    3 POST /v2/verify
 *   4 GET /v1/pub/...
 * The handlers run with a signing key, its public half as the check key (nothing is
 * fetched: no verifier) and a pub directory holding one file. The target aborts when an
 * answer breaks the server's contract: a status outside 200..599, no content type, a
 * body length without a body, a handler that asks to wait (it has nothing to wait for
 * here), or a 200 from /v1/check that the library does not confirm.
 *
 * Built by tools/fuzz.sh from the library, src/sip's readers and the two handler files
 * only; the server (server.c), the OpenAPI document and /metrics are not linked, so the
 * three symbols the routes table names from them are given here.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../src/http/api.h"
#include "../../src/http/handlers.h"
#include "../../src/http/pub.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- what the routes table names and this target does not link ---------------------------- */

const char sw_http_openapi_json[] = "{}";

void sw_http_wake(void *wake_arg, sw_err result)
{
    (void)wake_arg;
    (void)result;
    abort(); /* no verifier, so no fetch: nothing may wait */
}

enum sw_http_rc sw_api_metrics(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp)
{
    (void)api;
    (void)req;
    sw_http_error(resp, 404, "NOT_FOUND", "not in this target");
    return SW_HTTP_DONE;
}

/* --- the target ------------------------------------------------------------------------------ */

static struct sw_api api;
static sw_pubkey *pub;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/fuzz_http.XXXXXX", path[64];
    sw_ctx *ctx = sw_ctx_new();
    FILE *f;

    (void)argc;
    (void)argv;
    if (ctx == NULL || mkdtemp(dir) == NULL || sw_key_generate(ctx, &api.sign_key) != SW_OK ||
        sw_pubkey_from_key(ctx, api.sign_key, &pub) != SW_OK)
        abort();
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    if ((f = fopen(path, "w")) == NULL)
        abort();
    fputs("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    api.check_key = pub;
    api.sign_x5u = strdup("https://cert.example.org/sp.pem");
    api.max_age = 60;
    api.future_skew = 5;
    api.pub_dirfd = open(dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
    if (api.pub_dirfd < 0)
        abort();
    sw_ctx_free(ctx);
    return 0;
}

/* Whether /v1/check's 200 is right: the library must accept the same body. */
static void confirm_valid(const char *body, size_t len)
{
    sw_ctx *ctx = sw_ctx_new();
    const char *p = body, *end = body + len;
    sw_err e;

    /* the handler tolerates a leading header name and trailing white space */
    if (len >= 9 && strncasecmp(p, "Identity:", 9) == 0)
        p += 9;
    else if (len >= 2 && strncasecmp(p, "y:", 2) == 0)
        p += 2;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    sw_ctx_set_max_age(ctx, api.max_age);
    sw_ctx_set_future_skew(ctx, api.future_skew);
    e = sw_verify_header(ctx, p, (size_t)(end - p), pub, NULL, NULL);
    sw_ctx_free(ctx);
    if (e != SW_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/v1/check", "/v1/sign-csv", "/v2/sign", "/v2/verify"};
    _Alignas(max_align_t) char slot[SW_HTTP_SLOT];
    struct sw_http_req req;
    struct sw_http_resp resp;
    char *body, *path = NULL;
    enum sw_http_rc rc;
    unsigned which;

    if (size < 1)
        return 0;
    which = data[0] % 5;
    if ((body = malloc(size)) == NULL)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    memset(slot, 0, sizeof(slot));
    resp.fd = -1;
    req.slot = slot;
    req.wake_arg = NULL;
    if (which < 4) {
        req.method = "POST";
        req.path = paths[which];
        req.raw_path = paths[which];
        req.body = body;
        req.body_len = size - 1;
        rc = which == 0   ? sw_api_v1_check(&api, &req, &resp)
             : which == 1 ? sw_api_v1_sign_csv(&api, &req, &resp)
             : which == 2 ? sw_api_v2_sign(&api, &req, &resp)
                          : sw_api_v2_verify(&api, &req, &resp);
    } else {
        /* the path may hold anything the server lets through: it decodes %00 as an error */
        if (memchr(body, '\0', size - 1) != NULL || (path = malloc(size + 8)) == NULL) {
            free(body);
            return 0;
        }
        memcpy(path, "/v1/pub/", 8);
        memcpy(path + 8, body, size);
        req.method = (size & 1) ? "HEAD" : "GET";
        req.path = path;
        req.raw_path = path;
        req.body = "";
        rc = sw_api_pub(&api, &req, &resp);
    }
    if (rc != SW_HTTP_DONE || resp.status < 200 || resp.status > 599 || resp.content_type == NULL ||
        (resp.body == NULL && resp.body_len != 0))
        abort();
    if (which == 0 && resp.status == 200)
        confirm_valid(body, size - 1);
    if (resp.fd >= 0)
        close(resp.fd);
    free(resp.body);
    free(path);
    free(body);
    return 0;
}
