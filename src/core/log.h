/*
 * log.h - stirwired's logging: stderr with a timestamp, or syslog.
 *
 * The daemon (its main thread and its workers, src/proxy/net.c, later the TAP) is the only
 * part of stirwire that logs; it lives in core so that the workers need nothing from
 * src/daemon. The library and the filters never log: they report errors as values and
 * notes, and the engine logs those. Per-message events that a flood could repeat (malformed
 * packets, unknown sources) go through sw_log_limited(), which allows a burst and then counts what
 * it suppressed, so a hostile sender cannot fill the disk; nothing is dropped unseen, since the
 * counters are in the periodic summary.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stdint.h>
#include <syslog.h>

/* Opens the log: to syslog (ident "stirwired") or to stderr; messages above level are skipped. */
void sw_log_open(int use_syslog, int level);
void sw_log_set_level(int level);
int sw_log_level(void);
void sw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A per-thread budget: at most `burst` messages per second; the rest are counted. */
struct sw_log_limit {
    int64_t second;
    unsigned used, suppressed;
};
void sw_log_limited(struct sw_log_limit *lim, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Logs the "N similar messages suppressed" line of a past second that no later message
 * has logged yet. The owner calls it from its periodic tick, so that the summary of a
 * burst's end is never lost for want of a next line.
 */
void sw_log_limit_flush(struct sw_log_limit *lim);

#endif /* SW_LOG_H */
