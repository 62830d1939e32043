/*
 * hopmon.h - the hop monitor: two threads beside the workers that keep every trunk's next
 * hops current. The resolver thread resolves names again as their TTLs say (RFC 3263 SRV,
 * then addresses, through src/core/resolve.h) and publishes a changed set with an atomic
 * pointer swap (sw_route_publish); the health thread sends OPTIONS to each hop of a trunk
 * with health_check, every interval, from sockets of its own over the hop's transport, and
 * marks a hop down after down_after unanswered ones and up again after up_after answers.
 * Workers never wait for either: they read the published sets (sw_trunk_pick_hop).
 *
 * It follows the running configuration: sw_hopmon_set_config() after each reload. It holds
 * a reference to that configuration, so a reload never frees routes under it.
 */
#ifndef SW_PROXY_HOPMON_H
#define SW_PROXY_HOPMON_H

#include <stddef.h>

#include "../core/conf.h"
#include "../core/counters.h"

struct sw_hopmon;

/* Starts both threads on cfg (takes a reference). NULL with err when a thread cannot start. */
struct sw_hopmon *sw_hopmon_start(struct sw_config *cfg, char *err, size_t errlen);
/* Follows cfg from now on (takes a reference, drops the previous one); any thread. */
void sw_hopmon_set_config(struct sw_hopmon *mon, struct sw_config *cfg);
/* Adds the monitor's counters (hops marked down and up, DNS changes) to sum. */
void sw_hopmon_stats(struct sw_hopmon *mon, struct sw_stats *sum);
/* Stops and joins the threads, drops the reference, frees mon. NULL does nothing. */
void sw_hopmon_stop(struct sw_hopmon *mon);

#endif /* SW_PROXY_HOPMON_H */
