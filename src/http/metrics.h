/*
 * metrics.h - the Prometheus text exposition (format 0.0.4) of what stirwired counts: the
 * counters table (src/core/counters.h: proxy, TAP and filter counters), the verifier's
 * cache and fetch statistics, and build info. The HTTP layer's own counters come from
 * sw_http_metrics (server.h); GET /metrics serves both.
 */
#ifndef SW_HTTP_METRICS_H
#define SW_HTTP_METRICS_H

#include "../core/counters.h"
#include "../lib/stirwire.h"

/*
 * The text for the summed worker counters sum (may be NULL: only the verifier and build
 * info) and verifier v (may be NULL). Returns malloc'd NUL-terminated text (the caller
 * frees it), or NULL when out of memory. (metrics.c)
 */
char *sw_metrics_text(const struct sw_stats *sum, sw_verifier *v);

#endif /* SW_HTTP_METRICS_H */
