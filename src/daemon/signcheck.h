/*
 * signcheck.h - the daemon's checks of each sign filter's certificate (sign.cert) that
 * configure() cannot make: a warning when it expires within a week (printed by -t,
 * logged at start and reload), and, once at start, a fetch of the x5u to see that it
 * serves that certificate. See signcheck.c.
 */
#ifndef SW_DAEMON_SIGNCHECK_H
#define SW_DAEMON_SIGNCHECK_H

#include <stdint.h>

#include "../core/conf.h"

/* A sign.cert expiring in less than this (seconds) is warned about. */
#define SW_SIGNCHECK_WARN_SECS (7 * 86400)

/*
 * Calls warn(line) for each trunk whose sign.cert expires within SW_SIGNCHECK_WARN_SECS of
 * now; returns how many. line is "trunk "NAME": sign.cert PATH expires on DATE (in N
 * hours)", without a newline.
 */
int sw_signcheck_expiry(const struct sw_config *cfg, int64_t now, void (*warn)(const char *line));

/*
 * Starts a detached thread that fetches, once, the x5u of every sign filter that has
 * sign.cert, and logs a warning when it cannot be fetched or serves another certificate
 * (an info line when it serves the right one). Never blocks the caller; the thread holds
 * a reference to cfg until it is done. 0, or -1 when the thread cannot start (logged).
 */
int sw_signcheck_x5u_start(struct sw_config *cfg);

#endif /* SW_DAEMON_SIGNCHECK_H */
