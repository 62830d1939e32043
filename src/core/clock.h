/*
 * clock.h - the monotonic clock the engine's timers read (idle and partial-message
 * deadlines, health-check intervals, the test filter's delays).
 *
 * Monotonic, not wall time: a clock step (NTP, an operator's date) must not close every
 * connection or fire every timer at once. Message time (iat, Date) is the wall clock and
 * comes from the message's source (struct sw_rx), not from here.
 */
#ifndef SW_CORE_CLOCK_H
#define SW_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
static inline int64_t sw_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds on CLOCK_MONOTONIC. */
static inline int64_t sw_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

#endif /* SW_CORE_CLOCK_H */
