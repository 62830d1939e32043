/*
 * run.c - stirwired's tap mode (run.h): one thread reads every source of the tap group
 * and feeds one engine.
 *
 * One thread is enough for what a TAP sees on one link: decoding costs microseconds a
 * message, and the signature check, which costs more, runs only once per INVITE; the
 * certificate fetches run on the verifier's own thread, and a call waiting for one is
 * parked while the capture goes on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "decode.h"
#include "hep.h"
#include "run.h"
#include "source.h"

#define MAX_FDS 1024
#define STOP_DRAIN_MS 5000 /* what a parked call may still wait at stop */

struct tap_run {
    pthread_t thread;
    int started;
    atomic_int stopping;
    struct sw_config *_Atomic next; /* a new configuration for the thread (a reference) */
    struct sw_config *cfg;          /* the thread's (a reference) */
    sw_ctx *ctx;
    struct tap_engine *engine;
    struct tap_decoder *dec;
    struct sw_stats st;
    struct sw_tap_conf conf; /* the sources as opened (strings borrowed from the first cfg) */
    char *names[SW_TAP_MAX_SOURCES];
    struct tap_live *live[SW_TAP_MAX_SOURCES];
    struct tap_hep_listener *hep[SW_TAP_MAX_SOURCES];
    char *pcaps[SW_TAP_MAX_SOURCES];
    size_t npcaps;
    uint64_t kernel_drops[SW_TAP_MAX_SOURCES];
};

static void on_frame(void *arg, const struct tap_frame *f)
{
    tap_decode_frame(arg, f);
}

struct tap_run *tap_run_open(struct sw_config *cfg, char *err, size_t errlen)
{
    struct tap_run *r;
    struct tap_engine_opts eo;
    struct tap_decode_limits lim;
    size_t i;

    if (cfg->tap == NULL || cfg->tap->n == 0) {
        snprintf(err, errlen, "tap: no sources");
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL || (r->ctx = sw_ctx_new()) == NULL) {
        free(r);
        snprintf(err, errlen, "tap: out of memory");
        return NULL;
    }
    tap_engine_opts_init(&eo);
    eo.cfg = cfg;
    eo.ctx = r->ctx;
    eo.st = &r->st;
    eo.max_parked = cfg->max_parked > 0 ? (size_t)cfg->max_parked : SW_DEFAULT_MAX_PARKED;
    tap_decode_limits_init(&lim);
    if ((r->engine = tap_engine_new(&eo, err, errlen)) == NULL ||
        (r->dec = tap_decoder_new(&lim, tap_engine_msg, r->engine)) == NULL) {
        if (r->engine != NULL)
            snprintf(err, errlen, "tap: out of memory");
        tap_run_free(r);
        return NULL;
    }
    for (i = 0; i < cfg->tap->n; i++) {
        const struct sw_tap_source *s = &cfg->tap->src[i];
        char why[512];
        if ((r->names[i] = strdup(s->name)) == NULL) {
            snprintf(err, errlen, "tap: out of memory");
            tap_run_free(r);
            return NULL;
        }
        r->conf.src[i].kind = s->kind;
        r->conf.src[i].name = r->names[i];
        r->conf.n = i + 1;
        why[0] = '\0';
        if (s->kind == SW_TAP_INTERFACE) {
            struct tap_live_opts lo;
            tap_live_opts_init(&lo);
            lo.snaplen = s->snaplen;
            lo.buffer_bytes = s->buffer;
            lo.promisc = s->promisc;
            lo.bpf = s->filter;
            r->live[i] = tap_live_open(s->name, &lo, (unsigned)i, why, sizeof(why));
            if (r->live[i] == NULL)
                goto fail;
        } else if (s->kind == SW_TAP_HEP) {
            if ((r->hep[i] = tap_hep_listen(s->name, s->auth_key, why, sizeof(why))) == NULL)
                goto fail;
        } else {
            r->pcaps[r->npcaps++] = r->names[i];
        }
        continue;
    fail:
        snprintf(err, errlen, "tap.sources[%zu]: %s", i, why);
        tap_run_free(r);
        return NULL;
    }
    return r;
}

int tap_run_same_sources(const struct tap_run *r, const struct sw_config *cfg)
{
    size_t i;

    if (cfg->tap == NULL || cfg->tap->n != r->conf.n)
        return 0;
    for (i = 0; i < r->conf.n; i++)
        if (cfg->tap->src[i].kind != r->conf.src[i].kind ||
            strcmp(cfg->tap->src[i].name, r->conf.src[i].name) != 0)
            return 0;
    return 1;
}

/* The files of the tap group, once, at start (a replay: their calls judged as captured). */
static void read_pcaps(struct tap_run *r)
{
    char err[512];
    struct tap_files *f;
    struct tap_frame fr;
    int rc;

    if (r->npcaps == 0)
        return;
    if ((f = tap_files_open(r->pcaps, r->npcaps, err, sizeof(err))) == NULL) {
        sw_log(LOG_ERR, "tap: %s", err);
        return;
    }
    while (!atomic_load(&r->stopping) && (rc = tap_files_next(f, &fr)) != 0) {
        if (rc < 0) { /* that file ends there; the others go on */
            sw_log(LOG_WARNING, "tap: %s", tap_files_error(f));
            continue;
        }
        tap_decode_frame(r->dec, &fr);
        tap_engine_poll(r->engine);
        if (tap_engine_parked(r->engine) >= 512)
            tap_engine_drain(r->engine, 100);
    }
    tap_files_close(f);
    sw_log(LOG_INFO, "tap: %zu capture file%s read", r->npcaps, r->npcaps == 1 ? "" : "s");
}

static void take_config(struct tap_run *r)
{
    struct sw_config *c = atomic_exchange(&r->next, NULL);

    if (c == NULL)
        return;
    tap_engine_set_config(r->engine, c);
    sw_config_unref(r->cfg);
    r->cfg = c;
}

static void *run_thread(void *arg)
{
    struct tap_run *r = arg;
    struct pollfd pfd[MAX_FDS];
    int owner[MAX_FDS]; /* source index of each pollfd, -1: the engine's */
    int fds[MAX_FDS];
    size_t i, n, k, m;

    read_pcaps(r);
    while (!atomic_load(&r->stopping)) {
        take_config(r);
        n = 0;
        pfd[n].fd = tap_engine_fd(r->engine);
        pfd[n].events = POLLIN;
        owner[n++] = -1;
        for (i = 0; i < r->conf.n && n < MAX_FDS; i++) {
            if (r->live[i] != NULL) {
                pfd[n].fd = tap_live_fd(r->live[i]);
                pfd[n].events = POLLIN;
                owner[n++] = (int)i;
            } else if (r->hep[i] != NULL) {
                m = tap_hep_fds(r->hep[i], fds, MAX_FDS - n);
                for (k = 0; k < m && n < MAX_FDS; k++) {
                    pfd[n].fd = fds[k];
                    pfd[n].events = POLLIN;
                    owner[n++] = (int)i;
                }
            }
        }
        if (poll(pfd, (nfds_t)n, 200) < 0 && errno != EINTR) {
            sw_log(LOG_ERR, "tap: poll: %s", strerror(errno));
            break;
        }
        for (k = 0; k < n; k++) {
            if (owner[k] < 0 || !(pfd[k].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            i = (size_t)owner[k];
            if (r->live[i] != NULL) {
                if (tap_live_dispatch(r->live[i], 512, on_frame, r->dec) < 0)
                    sw_log(LOG_ERR, "tap: %s: capture failed", r->names[i]);
            } else if (r->hep[i] != NULL) {
                tap_hep_poll(r->hep[i], 0, tap_engine_msg, r->engine);
                /* one call reads every ready descriptor of this listener */
                while (k + 1 < n && owner[k + 1] == (int)i)
                    k++;
            }
        }
        tap_engine_poll(r->engine);
    }
    tap_engine_drain(r->engine, STOP_DRAIN_MS);
    return NULL;
}

int tap_run_start(struct tap_run *r, struct sw_config *cfg, char *err, size_t errlen)
{
    int e;

    r->cfg = sw_config_ref(cfg);
    tap_engine_set_config(r->engine, cfg);
    if ((e = pthread_create(&r->thread, NULL, run_thread, r)) != 0) {
        snprintf(err, errlen, "tap: cannot start its thread: %s", strerror(e));
        return -1;
    }
    r->started = 1;
    return 0;
}

void tap_run_set_config(struct tap_run *r, struct sw_config *cfg)
{
    struct sw_config *old = atomic_exchange(&r->next, sw_config_ref(cfg));

    sw_config_unref(old); /* a configuration the thread never took */
}

void tap_run_stats(struct tap_run *r, struct sw_stats *st, struct tap_counts *tc, uint64_t *engine)
{
    size_t i;

    if (r == NULL)
        return;
    if (st != NULL)
        sw_stats_add(st, &r->st);
    if (tc != NULL) {
        tap_counts_add(tc, tap_decoder_counts(r->dec));
        tap_counts_add(tc, tap_engine_tap_counts(r->engine));
        for (i = 0; i < r->conf.n; i++) {
            if (r->hep[i] != NULL)
                tap_counts_add(tc, tap_hep_counts(r->hep[i]));
            if (r->live[i] != NULL) {
                uint64_t recv, drop, ifdrop;
                if (tap_live_stats(r->live[i], &recv, &drop, &ifdrop) == 0)
                    r->kernel_drops[i] = drop + ifdrop;
                tc->drop[TAP_DROP_kernel] += r->kernel_drops[i];
            }
        }
    }
    if (engine != NULL) {
        const uint64_t *c = tap_engine_counts(r->engine);
        for (i = 0; i < TAP_ENGINE_N; i++)
            engine[i] += c[i];
    }
}

char *tap_run_metrics(struct tap_run *r)
{
    struct tap_counts tc;
    uint64_t eng[TAP_ENGINE_N];
    char *out = NULL;
    size_t len = 0, i;
    FILE *f;

    if ((f = open_memstream(&out, &len)) == NULL)
        return NULL;
    memset(&tc, 0, sizeof(tc));
    memset(eng, 0, sizeof(eng));
    tap_run_stats(r, NULL, &tc, eng);
    for (i = 0; i < TAP_SEEN_N; i++)
        fprintf(f,
                "# HELP stirwire_tap_%s_total TAP: %s\n# TYPE stirwire_tap_%s_total counter\n"
                "stirwire_tap_%s_total %llu\n",
                tap_seen_names[i], tap_seen_help[i], tap_seen_names[i], tap_seen_names[i],
                (unsigned long long)tc.seen[i]);
    for (i = 0; i < TAP_ENGINE_N; i++)
        fprintf(f,
                "# HELP stirwire_tap_%s_total TAP: %s\n# TYPE stirwire_tap_%s_total counter\n"
                "stirwire_tap_%s_total %llu\n",
                tap_engine_names[i], tap_engine_help[i], tap_engine_names[i], tap_engine_names[i],
                (unsigned long long)eng[i]);
    /* every loss has exactly one reason: one family, summable */
    fprintf(f, "# HELP stirwire_tap_dropped_total TAP: what could not be read, by reason\n"
               "# TYPE stirwire_tap_dropped_total counter\n");
    for (i = 1; i < TAP_DROP_N; i++)
        fprintf(f, "stirwire_tap_dropped_total{reason=\"%s\"} %llu\n", tap_drop_names[i],
                (unsigned long long)tc.drop[i]);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

void tap_run_summary(struct tap_run *r, char *buf, size_t size)
{
    struct tap_counts tc;
    uint64_t eng[TAP_ENGINE_N];
    size_t i, off = 0;
    int any = 0;

    memset(&tc, 0, sizeof(tc));
    memset(eng, 0, sizeof(eng));
    tap_run_stats(r, NULL, &tc, eng);
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + off, off < size ? size - off : 0, __VA_ARGS__);                    \
        if (w_ > 0)                                                                                \
            off += (size_t)w_;                                                                     \
    } while (0)
    PUT("tap: %llu frames, %llu SIP messages, %llu INVITEs judged, %llu retransmissions, "
        "%llu requests matched no trunk; dropped:",
        (unsigned long long)tc.seen[TAP_SEEN_frames], (unsigned long long)eng[TAP_ENGINE_messages],
        (unsigned long long)eng[TAP_ENGINE_invites],
        (unsigned long long)eng[TAP_ENGINE_retransmissions],
        (unsigned long long)eng[TAP_ENGINE_no_trunk]);
    for (i = 1; i < TAP_DROP_N; i++)
        if (tc.drop[i] != 0) {
            PUT(" %s %llu", tap_drop_names[i], (unsigned long long)tc.drop[i]);
            any = 1;
        }
    if (!any)
        PUT(" none");
#undef PUT
    if (size > 0 && off >= size)
        buf[size - 1] = '\0';
}

void tap_run_stop(struct tap_run *r)
{
    if (r == NULL || !r->started)
        return;
    atomic_store(&r->stopping, 1);
    pthread_join(r->thread, NULL);
    r->started = 0;
}

void tap_run_free(struct tap_run *r)
{
    size_t i;

    if (r == NULL)
        return;
    tap_run_stop(r);
    tap_decoder_free(r->dec);
    tap_engine_free(r->engine);
    for (i = 0; i < SW_TAP_MAX_SOURCES; i++) {
        if (r->live[i] != NULL)
            tap_live_close(r->live[i]);
        tap_hep_close(r->hep[i]);
        free(r->names[i]);
    }
    sw_config_unref(atomic_exchange(&r->next, NULL));
    sw_config_unref(r->cfg);
    sw_ctx_free(r->ctx);
    free(r);
}
