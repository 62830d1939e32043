/*
 * metrics.h - GET /metrics: the Prometheus text exposition (format 0.0.4) of the message
 * path's counters (src/core/counters.h), the filters' counters, the certificate verifier
 * and the build, generated from the tables so that a new counter appears without an edit
 * here.
 *
 * The metric names (a dashboard and alerts depend on them: rename nothing lightly):
 *   stirwire_<name>_total                 every SW_COUNTER_MAP row, its help text as HELP
 *   stirwire_verify_total{outcome}        verify's verdicts, one outcome per judged request:
 *                                         passed, missing, no_tn, malformed, stale, claims,
 *                                         signature, cert, fetch_failed_open,
 *                                         fetch_failed_closed, error
 *   stirwire_verify_rejected_total        verify answered the request with a status
 *   stirwire_verify_parked_total          verify waited for a certificate fetch
 *   stirwire_sign_signed_total{attest}    A, B, C
 *   stirwire_sign_unsigned_total{reason}  no_number, no_rule, error, stale_date
 *   stirwire_sign_kept_existing_total, stirwire_sign_date_replaced_total
 *   stirwire_verstat_tagged_total{verstat} TN-Validation-Passed, TN-Validation-Failed,
 *                                         No-TN-Validation
 *   stirwire_verstat_<counter>_total      no_tn, replaced_foreign, removed_foreign, not_added
 *   stirwire_<filter>_<counter>_total     any other filter counter (strip, audit, and a
 *                                         counter or filter added later)
 *   stirwire_verifier_cache_hits_total, _cache_misses_total, _negative_hits_total,
 *   stirwire_verifier_downloads_total, _fetch_failures_total,
 *   stirwire_verifier_fetches_total{result} one per sw_err name: OK, CERT_TIMEOUT, ...
 *   stirwire_verifier_crl_fetches_total, _crl_failures_total, _crl_tolerated_total
 *   stirwire_build_info{version,library}  gauge, always 1
 *   stirwire_tap_<name>_total             stirwired's tap mode (src/tap/run.c appends them):
 *                                         what the TAP read (frames, bytes, ipv4, ..., sip)
 *                                         and what its engine did (invites,
 *                                         retransmissions, no_trunk, ...)
 *   stirwire_tap_dropped_total{reason}    linktype, truncated, frag_timeout, ..., kernel
 *
 * Why labels in some places and not others: a label groups series that partition one
 * thing, so that sum() over the label is meaningful (every judged request has exactly one
 * verify outcome; every signed request one attestation level) and a Grafana panel is one
 * query, "sum by (outcome) (rate(stirwire_verify_total[5m]))". Counters that overlap
 * those (a rejected request also has an outcome; a parked one gets one later) get their
 * own family, so that no sum counts a request twice.
 *
 * There is no "messages parked now" gauge: the counters are totals (parked counts a
 * message's first wait, resumed every resume, so parked - resumed is not the number
 * waiting); the number waiting lives in the workers' queues, outside struct sw_stats.
 */
#ifndef SW_HTTP_METRICS_H
#define SW_HTTP_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "../core/counters.h"
#include "api.h"

/* The Content-Type of the text exposition format. */
#define SW_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * The exposition of sum (the workers' counters summed; NULL: none of the counter and
 * filter families, as in "stirwire serve"), of v (NULL: no verifier families) and the
 * build info. Every family has its # HELP and # TYPE lines and its samples in one block;
 * label values are escaped as the format says. Returns a malloc'd NUL-terminated string
 * for the caller to free(), or NULL when out of memory.
 */
char *sw_metrics_text(const struct sw_stats *sum, sw_verifier *v);

/*
 * Pieces of the format, for whoever adds families (the HTTP server its own counters).
 * sw_metrics_family writes the # HELP line (help escaped: backslash, line feed) and the
 * # TYPE line (type "counter", "gauge", ...) of the metric family; its samples must
 * follow at once. sw_metrics_sample writes one sample "family{label="value"} n", without
 * braces when label is NULL, the value escaped (sw_metrics_label_value: backslash, double
 * quote, line feed). Names are the caller's: [a-zA-Z_:][a-zA-Z0-9_:]*, counters ending
 * in _total. Write errors show in ferror(out).
 */
void sw_metrics_family(FILE *out, const char *family, const char *help, const char *type);
void sw_metrics_sample(FILE *out, const char *family, const char *label, const char *value,
                       uint64_t n);
void sw_metrics_label_value(FILE *out, const char *value);

/*
 * GET /metrics: 200, Content-Type SW_METRICS_CONTENT_TYPE, the body api->metrics(arg)
 * when the daemon set it, else sw_metrics_text(NULL, api->verifier). The HTTP layer
 * appends its own counters. 500 JSON when the text cannot be made (out of memory).
 * Never waits (SW_HTTP_DONE).
 */
enum sw_http_rc sw_api_metrics(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp);

#endif /* SW_HTTP_METRICS_H */
