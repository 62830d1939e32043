/*
 * log.c - stirwired's logging (see log.h). Settings are written once at start-up and on
 * reload, from the main thread; workers only read them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define SW_LOG_BURST 20 /* messages a second per thread for floodable events */

static int log_syslog;
static volatile int log_level = LOG_INFO;

static const char *level_name(int level)
{
    switch (level) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
        return "notice";
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void sw_log_open(int use_syslog, int level)
{
    log_syslog = use_syslog;
    log_level = level;
    if (use_syslog)
        openlog("stirwired", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void sw_log_set_level(int level)
{
    log_level = level;
}

int sw_log_level(void)
{
    return log_level;
}

static void vlog(int level, const char *fmt, va_list ap)
{
    char msg[2048]; /* the counter summary is one line */
    struct timespec ts;
    struct tm tm;
    char stamp[32];

    if (level > log_level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_syslog) {
        syslog(level, "%s", msg);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf per line, so lines from several threads do not interleave */
    fprintf(stderr, "%s.%03ldZ stirwired %s: %s\n", stamp, ts.tv_nsec / 1000000L, level_name(level),
            msg);
}

void sw_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void sw_log_limit_flush(struct sw_log_limit *lim)
{
    int64_t now = (int64_t)time(NULL);

    if (lim->suppressed == 0 || now == lim->second)
        return;
    sw_log(LOG_NOTICE, "%u similar messages suppressed in the last second", lim->suppressed);
    lim->second = now;
    lim->used = 0;
    lim->suppressed = 0;
}

void sw_log_limited(struct sw_log_limit *lim, int level, const char *fmt, ...)
{
    int64_t now = (int64_t)time(NULL);
    va_list ap;

    if (level > log_level)
        return;
    if (now != lim->second) {
        if (lim->suppressed > 0)
            sw_log(LOG_NOTICE, "%u similar messages suppressed in the last second",
                   lim->suppressed);
        lim->second = now;
        lim->used = 0;
        lim->suppressed = 0;
    }
    if (lim->used >= SW_LOG_BURST) {
        lim->suppressed++;
        return;
    }
    lim->used++;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}
