/*
 * handlers.h - every handler of the routing table (sw_http_routes in api.c), one
 * declaration each, so that api.c can list the ones written in other files (pub.c,
 * metrics.c) and the unit tests can call any of them directly. All have the
 * sw_http_handler signature of api.h: they read the request, fill the response, and
 * answer SW_HTTP_DONE, or SW_HTTP_AGAIN after arranging exactly one sw_http_wake().
 */
#ifndef SW_HTTP_HANDLERS_H
#define SW_HTTP_HANDLERS_H

#include "api.h"

/* POST /v1/check: an Identity header value -> 200 "OK\n", or a 4xx JSON verdict. (api.c) */
enum sw_http_rc sw_api_v1_check(const struct sw_api *api, struct sw_http_req *req,
                                struct sw_http_resp *resp);
/* POST /v1/sign-csv: "OrigTN,DestTN,ATTEST,OrigID,X5U" -> 200 "<identity>\n". (api.c) */
enum sw_http_rc sw_api_v1_sign_csv(const struct sw_api *api, struct sw_http_req *req,
                                   struct sw_http_resp *resp);
/* GET|HEAD /v1/pub/<file>: a file of pub_dir. (pub.c) */
enum sw_http_rc sw_api_pub(const struct sw_api *api, struct sw_http_req *req,
                           struct sw_http_resp *resp);
/* POST /v2/sign: JSON claims, or an array of them -> JSON. (api.c) */
enum sw_http_rc sw_api_v2_sign(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp);
/* POST /v2/verify: {"identity", SIP context...}, or an array of them -> JSON verdicts. (api.c) */
enum sw_http_rc sw_api_v2_verify(const struct sw_api *api, struct sw_http_req *req,
                                 struct sw_http_resp *resp);
/* GET /v2/openapi.json: the OpenAPI 3.0 document (src/http/openapi.json). (api.c) */
enum sw_http_rc sw_api_openapi(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp);
/* GET /metrics: Prometheus text exposition. (metrics.c) */
enum sw_http_rc sw_api_metrics(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp);
/* GET /healthz: 200 {"status":"ok"} while the process answers. (api.c) */
enum sw_http_rc sw_api_healthz(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp);
/* GET /readyz: 200 {"status":"ready"} or 503 {"status":"not ready"} from api->ready. (api.c) */
enum sw_http_rc sw_api_readyz(const struct sw_api *api, struct sw_http_req *req,
                              struct sw_http_resp *resp);

/*
 * The OpenAPI document, NUL-terminated, generated at build time from src/http/openapi.json
 * by a rule in Makefile.am (src/http/openapi_json.c), so the served text is the file.
 */
extern const char sw_http_openapi_json[];

/* Largest number of items in a /v2/sign or /v2/verify batch; more get 413. */
#define SW_API_BATCH_MAX 100

#endif /* SW_HTTP_HANDLERS_H */
