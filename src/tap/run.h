/*
 * run.h - stirwired's tap mode: the sources of the tap group, captured by one thread that
 * feeds the TAP's engine (tap.h) with the trunks of the running configuration.
 *
 * Start-up order (as the proxy's): tap_run_open() opens every source (capture handles
 * need CAP_NET_RAW, HEP ports below 1024 need CAP_NET_BIND_SERVICE) before the daemon
 * drops privileges; tap_run_start() starts the thread after daemon(). A reload hands the
 * new configuration to the thread (tap_run_set_config): its trunks and filters apply to
 * the next message; the sources stay as opened (a change to them needs a restart, which
 * the daemon logs). tap_run_stop() stops reading, gives parked calls a few seconds to
 * get their certificates, and joins the thread; tap_run_free() frees it.
 */
#ifndef SW_TAP_RUN_H
#define SW_TAP_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "../core/conf.h"
#include "../core/counters.h"
#include "packet.h"
#include "tap.h"

struct tap_run;

/*
 * Opens cfg->tap's sources (cfg must have a tap group). The configuration is borrowed
 * until tap_run_start takes its own reference. NULL with a reason in err naming the
 * source ("tap.sources[1]: eth9: No such device exists").
 */
struct tap_run *tap_run_open(struct sw_config *cfg, char *err, size_t errlen);
/* Starts the capture thread with cfg (a reference is taken). 0, or -1 with err. */
int tap_run_start(struct tap_run *r, struct sw_config *cfg, char *err, size_t errlen);
/* The configuration for the messages that follow (a reference is taken; any thread). */
void tap_run_set_config(struct tap_run *r, struct sw_config *cfg);
/* Whether cfg's tap sources are those r has open (else a restart is needed). */
int tap_run_same_sources(const struct tap_run *r, const struct sw_config *cfg);
/*
 * Adds the TAP's counters to what the caller sums: the pipeline's and the filters'
 * (st, may be NULL), what was read and dropped by reason, the kernel's drops included
 * (tc, may be NULL), and the engine's (engine[TAP_ENGINE_N], may be NULL). Any thread;
 * a glance, not a synchronised snapshot.
 */
void tap_run_stats(struct tap_run *r, struct sw_stats *st, struct tap_counts *tc, uint64_t *engine);
/*
 * The TAP's counters in the Prometheus text format, for GET /metrics: one family per
 * TAP_SEEN_MAP and TAP_ENGINE_MAP row (stirwire_tap_<name>_total), and
 * stirwire_tap_dropped_total{reason} (every TAP_DROP_MAP reason). A malloc'd string for the
 * caller to free, or NULL (out of memory). Any thread.
 */
char *tap_run_metrics(struct tap_run *r);
/* One line for the log: the sources and what they read and dropped. */
void tap_run_summary(struct tap_run *r, char *buf, size_t size);
/* Stops reading, lets parked calls finish (a few seconds at most), joins the thread. */
void tap_run_stop(struct tap_run *r);
/* Stops it if needed, then frees everything. NULL does nothing. */
void tap_run_free(struct tap_run *r);

#endif /* SW_TAP_RUN_H */
