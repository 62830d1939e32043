/*
 * delay.c - the `delay` filter, built only into the test daemon (SW_TEST_FILTERS): it
 * parks matching requests and resumes them after a fixed delay, so that tests can drive
 * the engine's WAIT path (park, wake from another thread, resume, reload while parked)
 * without a certificate server that answers slowly.
 *
 * Settings: delay = { ms = 1500; match = "park"; } parks requests whose Request-URI user
 * starts with `match` (default: every request) for `ms` milliseconds (default 1000). A
 * resumed request gets an "X-Parked: <ms>" header, so the far side can tell which calls
 * waited. One timer thread per configured filter wakes the parked messages; it lives as
 * long as the filter state, which a parked message keeps alive through its reference to
 * the configuration.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/core/clock.h"
#include "../src/core/filter.h"

struct timer {
    int64_t due_ms;
    void *token;
    struct timer *next;
};

struct delay_conf {
    int ms;
    char match[64];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct timer *head, **tail; /* FIFO: every timer has the same delay */
    int stop;
};

struct delay_slot {
    int waited; /* set before parking: the resumed call passes */
};

enum { DELAY_PARKED, DELAY_RESUMED, DELAY_NOT_PARKED };
static const char *const delay_counters[] = {"parked", "resumed", "not_parked", NULL};
static const char *const delay_settings[] = {"ms", "match", NULL};

static void *timer_main(void *arg)
{
    struct delay_conf *dc = arg;

    pthread_mutex_lock(&dc->lock);
    while (!dc->stop || dc->head != NULL) {
        struct timer *t = dc->head;
        int64_t now = sw_mono_ms();

        if (t == NULL) {
            pthread_cond_wait(&dc->cond, &dc->lock);
            continue;
        }
        if (t->due_ms > now && !dc->stop) {
            struct timespec until;
            int64_t ms = t->due_ms - now;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += ms / 1000;
            until.tv_nsec += (ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&dc->cond, &dc->lock, &until);
            continue;
        }
        dc->head = t->next;
        if (dc->head == NULL)
            dc->tail = &dc->head;
        pthread_mutex_unlock(&dc->lock);
        swf_wake(t->token);
        free(t);
        pthread_mutex_lock(&dc->lock);
    }
    pthread_mutex_unlock(&dc->lock);
    return NULL;
}

static void delay_free(void *state)
{
    struct delay_conf *dc = state;

    if (dc == NULL)
        return;
    pthread_mutex_lock(&dc->lock);
    dc->stop = 1;
    pthread_cond_signal(&dc->cond);
    pthread_mutex_unlock(&dc->lock);
    pthread_join(dc->thread, NULL);
    pthread_cond_destroy(&dc->cond);
    pthread_mutex_destroy(&dc->lock);
    free(dc);
}

static int delay_configure(struct swf_conf *fc, void **state)
{
    struct delay_conf *dc;
    const char *match = NULL;
    pthread_condattr_t ca;

    if ((dc = calloc(1, sizeof(*dc))) == NULL) {
        swf_error(fc, NULL, "out of memory");
        return -1;
    }
    dc->ms = 1000;
    if (fc->group != NULL) {
        swf_get_int(fc, fc->group, "delay", "ms", 0, 60000, &dc->ms);
        if (swf_get_string(fc, fc->group, "delay", "match", &match) > 0) {
            if (strlen(match) >= sizeof(dc->match))
                swf_error(fc, config_setting_get_member(fc->group, "match"),
                          "delay.match: at most %zu characters", sizeof(dc->match) - 1);
            else
                snprintf(dc->match, sizeof(dc->match), "%s", match);
        }
    }
    if (swf_errors(fc) > 0) {
        free(dc);
        return -1;
    }
    pthread_mutex_init(&dc->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&dc->cond, &ca);
    pthread_condattr_destroy(&ca);
    dc->tail = &dc->head;
    if (pthread_create(&dc->thread, NULL, timer_main, dc) != 0) {
        swf_error(fc, NULL, "cannot start the timer thread: %s", strerror(errno));
        pthread_cond_destroy(&dc->cond);
        pthread_mutex_destroy(&dc->lock);
        free(dc);
        return -1;
    }
    *state = dc;
    return 0;
}

/* Whether the Request-URI's user part starts with match. */
static int matches(const struct delay_conf *dc, const struct sip_msg *m)
{
    const char *p = m->buf + m->ruri_off, *colon;
    size_t n = strlen(dc->match);

    if (n == 0)
        return 1;
    if ((colon = memchr(p, ':', m->ruri_len)) == NULL)
        return 0;
    colon++;
    return (size_t)(p + m->ruri_len - colon) >= n && memcmp(colon, dc->match, n) == 0;
}

static swf_result delay_request(void *state, struct swf_call *call)
{
    struct delay_conf *dc = state;
    struct delay_slot *slot = call->slot;
    struct timer *t;
    void *token;

    if (slot->waited) {
        snprintf(call->note, sizeof(call->note), "resumed after %d ms", dc->ms);
        sip_edit_insertf(call->edits, call->msg->hdrs_end, "X-Parked: %d\r\n", dc->ms);
        swf_count(call, DELAY_RESUMED);
        return SWF_CONTINUE;
    }
    if (!matches(dc, call->msg) || sip_is_method(call->msg, "ACK"))
        return SWF_CONTINUE;
    if ((t = malloc(sizeof(*t))) == NULL)
        return SWF_CONTINUE;
    slot->waited = 1; /* before swf_park: the parked copy carries it */
    if ((token = swf_park(call)) == NULL) {
        slot->waited = 0;
        free(t);
        snprintf(call->note, sizeof(call->note), "not parked (limit reached): passed on");
        swf_count(call, DELAY_NOT_PARKED);
        return SWF_CONTINUE; /* this filter fails open */
    }
    swf_count(call, DELAY_PARKED);
    t->due_ms = sw_mono_ms() + dc->ms;
    t->token = token;
    t->next = NULL;
    pthread_mutex_lock(&dc->lock);
    *dc->tail = t;
    dc->tail = &t->next;
    pthread_cond_signal(&dc->cond);
    pthread_mutex_unlock(&dc->lock);
    return SWF_WAIT;
}

const struct swf_filter swf_delay = {
    .name = "delay",
    .settings = delay_settings,
    .counters = delay_counters,
    .configure = delay_configure,
    .request = delay_request,
    .response = NULL,
    .free = delay_free,
};
