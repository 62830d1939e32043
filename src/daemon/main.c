/*
 * main.c - stirwired: start-up, signals, reload and shutdown.
 *
 * Order matters, as in relayd: load and validate the whole configuration first (so -t and
 * a bad start fail before anything is bound), bind every socket, drop privileges, go to
 * the background, write the pid file, start the workers, then the REST API's server (the
 * http group; its threads must start after daemon()). Then the main thread only waits
 * for signals: SIGHUP builds a new configuration beside the running one and swaps it in
 * (a bad one leaves the old running and says why; the old one is freed when the last
 * message parked under it has left), SIGUSR1 logs the counters, SIGTERM
 * and SIGINT let the workers finish the message in hand and exit. Only this file may stop
 * the process, and only during start-up.
 */
#ifdef HAVE_CONFIG_H
#include <config.h> /* autoconf's, from the build tree; ours is conffile.h */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/resolve.h"
#include "../http/api.h"
#include "../http/metrics.h"
#include "../http/server.h"
#include "../proxy/hopmon.h"
#include "../proxy/net.h"
#include "../tap/run.h"
#include "conffile.h"
#include "notify.h"
#include "signcheck.h"
#include "../core/log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define ERRBUF 16384
#define SUMMARY_INTERVAL 60 /* seconds between counter summaries in the log */

static struct sw_hopmon *hopmon; /* re-resolves next hops and checks their health */
static struct tap_run *tap;      /* the tap group's capture thread, NULL without one */

/*
 * The REST API (the http group): its server, and what its /metrics and /readyz read. The
 * handlers run on the server's threads, so these are set before the server starts and
 * cleared only after it has stopped (sw_http_stop waits for the requests in hand).
 */
static _Atomic(struct sw_http *) http;
static struct sw_net *metrics_net;
static struct sw_services *metrics_svc;
static atomic_int workers_ready; /* 1 while the workers run: GET /readyz */

static void usage(FILE *f)
{
    fprintf(f, "usage: stirwired [-c FILE] [-t] [-f] [-p PIDFILE] [-h] [-V]\n"
               "\n"
               "  -c FILE     configuration file (default " SYSCONFDIR "/stirwire.conf)\n"
               "  -t          check the configuration, print \"configuration OK\" or the\n"
               "              errors with their lines, and exit\n"
               "  -f          stay in the foreground (logs go to stderr unless log.syslog)\n"
               "  -p PIDFILE  write the pid here (overrides pid_file)\n"
               "  -h          this help\n"
               "  -V          version\n"
               "\n"
               "Signals: HUP reloads the configuration, keys and trust anchors; USR1 logs the\n"
               "counters; TERM or INT stop after the messages in hand.\n"
               "Exit status: 0 stopped cleanly, 1 configuration or start-up error, 2 usage.\n");
}

/*
 * The counters in the log: the message path's (each filter's behind its name: verify's
 * outcomes are there), then, when a verifier exists, its own line (cache, fetches, and
 * fetch failures by error name).
 */
static void log_stats(struct sw_net *net, struct sw_services *svc, const char *when)
{
    struct sw_stats s;
    uint64_t conns, parked;
    char line[4096];

    sw_net_stats(net, &s, &conns, &parked);
    sw_hopmon_stats(hopmon, &s);
    tap_run_stats(tap, &s, NULL, NULL);
    sw_stats_summary(&s, line, sizeof(line));
    sw_log(LOG_INFO, "%s: %s; %llu TCP connections open, %llu messages parked", when, line,
           (unsigned long long)conns, (unsigned long long)parked);
    if (svc->verifier != NULL) {
        sw_verifier_summary(svc->verifier, line, sizeof(line));
        sw_log(LOG_INFO, "%s: %s", when, line);
    }
    if (tap != NULL) {
        tap_run_summary(tap, line, sizeof(line));
        sw_log(LOG_INFO, "%s: %s", when, line);
    }
}

/* The last reference to a configuration is gone (a reload, or the last parked message). */
static void config_freed(const struct sw_config *cfg)
{
    sw_log(LOG_INFO, "configuration #%u of %s freed", cfg->generation, cfg->path);
}

/*
 * GET /metrics: the workers' counters summed (as SIGUSR1 logs them), the verifier's, and
 * the HTTP layer's own. Runs on an HTTP thread; the sums are a glance at counters the
 * workers write without locks (each a 64-bit word), as for the log.
 */
static char *http_metrics(void *arg)
{
    struct sw_stats s;
    struct sw_http *h = atomic_load(&http);
    size_t cl, hl;
    char *core, *out;

    (void)arg;
    sw_net_stats(metrics_net, &s, NULL, NULL);
    sw_hopmon_stats(hopmon, &s);
    tap_run_stats(tap, &s, NULL, NULL);
    if ((core = sw_metrics_text(&s, metrics_svc->verifier)) == NULL)
        return NULL;
    if (tap != NULL) { /* the TAP's own families (what it read and dropped) */
        char *t = tap_run_metrics(tap), *both;
        if (t == NULL || (both = realloc(core, strlen(core) + strlen(t) + 1)) == NULL) {
            free(t);
            free(core);
            return NULL;
        }
        core = both;
        strcat(core, t);
        free(t);
    }
    cl = strlen(core);
    hl = sw_http_metrics(h, NULL, 0);
    for (;;) {
        size_t got;
        if ((out = realloc(core, cl + hl + 1)) == NULL) {
            free(core);
            return NULL;
        }
        core = out;
        /* the counters may grow between the two calls: measure again until it fits */
        if ((got = sw_http_metrics(h, out + cl, hl + 1)) <= hl)
            return out;
        hl = got;
    }
}

static int http_ready(void *arg)
{
    (void)arg;
    return atomic_load(&workers_ready);
}

/* The server no longer uses a configuration's api: drop the reference it held. */
static void http_release(struct sw_api *api, void *arg)
{
    (void)api;
    sw_config_unref(arg);
}

static void http_error_log(void *arg, const char *line)
{
    (void)arg;
    sw_log(LOG_WARNING, "http: %s", line);
}

static void http_access_log(void *arg, const char *method, const char *path, int status,
                            uint64_t bytes, double ms)
{
    (void)arg;
    sw_log(LOG_DEBUG, "http: %s %s %d %llu bytes %.1f ms", method, path, status,
           (unsigned long long)bytes, ms);
}

/*
 * Puts cfg's http group in service: starts the server (first time, or a group added by a
 * reload), hands it cfg's api (a reload), or stops it (the group was removed). The server
 * holds a reference to cfg for as long as it uses cfg's api. Returns 0, or -1 with the
 * reason in errs (the running server, if any, is unchanged).
 */
static int http_apply(struct sw_config *cfg, char *errs, size_t len)
{
    struct sw_http_conf hc;
    struct sw_http *h = atomic_load(&http);
    int rc;

    errs[0] = '\0';
    if (cfg->http == NULL) {
        if (h != NULL) {
            atomic_store(&http, NULL);
            sw_http_stop(h);
            sw_log(LOG_NOTICE, "http: no http group any more: the REST API listener is closed");
        }
        return 0;
    }
    cfg->api->metrics = http_metrics;
    cfg->api->ready = http_ready;
    hc = *cfg->http;
    hc.api_release = http_release;
    hc.api_release_arg = sw_config_ref(cfg);
    hc.error_log = http_error_log;
    hc.access_log = http_access_log;
    if (h == NULL) {
        if ((h = sw_http_start(&hc, sw_http_routes, cfg->api, errs, len)) == NULL) {
            sw_config_unref(cfg);
            return -1;
        }
        atomic_store(&http, h);
        sw_log(LOG_NOTICE, "http: REST API on %s%s (port %d)", hc.listen,
               hc.tls_cert[0] != '\0' ? " with TLS" : "", sw_http_port(h));
        return 0;
    }
    if ((rc = sw_http_reload(h, &hc, cfg->api, errs, len)) < 0) {
        sw_config_unref(cfg);
        return -1;
    }
    if (rc > 0)
        sw_log(LOG_WARNING, "reload: %s", errs);
    return 0;
}

/* Logs each line of a multi-line error buffer. */
static void log_lines(int level, const char *prefix, const char *errs)
{
    const char *p = errs, *nl;

    while (*p != '\0') {
        nl = strchr(p, '\n');
        sw_log(level, "%s%.*s", prefix, nl ? (int)(nl - p) : (int)strlen(p), p);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
}

static int drop_privileges(const char *user)
{
    struct passwd *pw;

    if ((pw = getpwnam(user)) == NULL) {
        sw_log(LOG_ERR, "user %s does not exist", user);
        return -1;
    }
    /* already that user (systemd's User=, as the packaged unit runs us): nothing to drop */
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
        return 0;
    if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        sw_log(LOG_ERR, "cannot become user %s: %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_pid(const char *path)
{
    char buf[32];
    int fd, n;

    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        sw_log(LOG_ERR, "cannot write pid file %s: %s", path, strerror(errno));
        return -1;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return close(fd);
}

/*
 * Raises RLIMIT_NOFILE to what the configuration needs (tcp.max_connections and every
 * worker's sockets), the hard limit too when we may (root, before dropping privileges).
 * A limit we cannot raise is logged: the workers then refuse connections past what it
 * leaves room for, rather than meet EMFILE.
 */
static void raise_nofile(const struct sw_config *cfg, int nworkers)
{
    long need = sw_net_fds_needed(cfg, nworkers);
    struct rlimit rl, want;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= (rlim_t)need)
        return;
    want.rlim_cur = (rlim_t)need;
    want.rlim_max =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
        sw_log(LOG_INFO, "descriptor limit raised from %llu to %ld for tcp.max_connections %d",
               (unsigned long long)rl.rlim_cur, need, cfg->tcp_max_connections);
        return;
    }
    want.rlim_cur = rl.rlim_max;
    want.rlim_max = rl.rlim_max;
    if (rl.rlim_max > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0)
        rl.rlim_cur = rl.rlim_max;
    sw_log(LOG_WARNING,
           "cannot raise the descriptor limit to %ld (tcp.max_connections %d): it stays at %llu "
           "(hard limit %llu); raise it (LimitNOFILE= in systemd, ulimit -n) or lower "
           "tcp.max_connections",
           need, cfg->tcp_max_connections, (unsigned long long)rl.rlim_cur,
           (unsigned long long)rl.rlim_max);
}

/* sign.cert close to its end: on stderr for -t, in the log otherwise */
static void warn_stderr(const char *line)
{
    fprintf(stderr, "stirwired: warning: %s\n", line);
}

static void warn_log(const char *line)
{
    sw_log(LOG_WARNING, "%s", line);
}

static int same_listeners(const struct sw_config *a, const struct sw_config *b)
{
    size_t i;

    if (a->nlisten != b->nlisten || a->workers != b->workers)
        return 0;
    for (i = 0; i < a->nlisten; i++)
        if (a->listen[i].addrlen != b->listen[i].addrlen ||
            memcmp(&a->listen[i].addr, &b->listen[i].addr, a->listen[i].addrlen) != 0 ||
            a->listen[i].transports != b->listen[i].transports ||
            strcmp(a->listen[i].advertise, b->listen[i].advertise) != 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = SYSCONFDIR "/stirwire.conf", *pid_override = NULL;
    char pid_file[4096] = ""; /* a copy: a reload frees the configuration it came from */
    int test = 0, foreground = 0, c, nworkers, sig;
    struct sw_config *cfg, *next;
    struct sw_services svc;
    unsigned generation = 1;
    struct sw_net *net;
    char *errs;
    sigset_t sigs;
    struct timespec tick = {SUMMARY_INTERVAL, 0};
    uint64_t last_received = 0;

    while ((c = getopt(argc, argv, "c:tfp:hV")) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'p':
            pid_override = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("stirwired %s (libstirwire %s)\n", PACKAGE_VERSION, sw_version());
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "stirwired: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if ((errs = malloc(ERRBUF)) == NULL)
        return 1;
    errs[0] = '\0';
    sw_services_init(&svc);
    if (sw_resolve_init() != 0) {
        fprintf(stderr, "stirwired: cannot initialise c-ares\n");
        return 1;
    }
    if (sw_config_load(path, &svc, &cfg, errs, ERRBUF) != 0) {
        fputs(errs, stderr);
        fprintf(stderr, "stirwired: %s: configuration not valid\n", path);
        return 1;
    }
    if (test) {
        sw_signcheck_expiry(cfg, (int64_t)time(NULL), warn_stderr);
        printf("configuration OK\n");
        sw_config_unref(cfg);
        sw_services_clear(&svc);
        free(errs);
        return 0;
    }
    cfg->generation = generation;
    cfg->on_free = config_freed;

    sw_log_open(cfg->log_syslog || !foreground, cfg->log_level);
    /* the verifier group, once the whole file is valid (the check loaded its files) */
    if (sw_config_apply_verifier(cfg, NULL, &svc, errs, ERRBUF) != 0) {
        log_lines(LOG_ERR, "", errs);
        if (!foreground)
            fputs(errs, stderr);
        return 1;
    }
    log_lines(LOG_WARNING, "", errs);
    nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1)
        nworkers = 1;
    raise_nofile(cfg, nworkers);
    /* a daemon that only captures (a tap group and no listen setting) binds nothing */
    net = NULL;
    if (cfg->nlisten > 0 && (net = sw_net_bind(cfg, nworkers, errs, ERRBUF)) == NULL) {
        sw_log(LOG_ERR, "%s", errs);
        if (!foreground)
            fprintf(stderr, "stirwired: %s\n", errs);
        return 1;
    }
    /* captures are opened with the privileges they need, before they are dropped */
    if (cfg->tap != NULL && (tap = tap_run_open(cfg, errs, ERRBUF)) == NULL) {
        sw_log(LOG_ERR, "%s", errs);
        if (!foreground)
            fprintf(stderr, "stirwired: %s\n", errs);
        return 1;
    }
    if (cfg->user != NULL && drop_privileges(cfg->user) != 0)
        return 1;
    if (!foreground && daemon(0, 0) != 0) {
        sw_log(LOG_ERR, "cannot go to the background: %s", strerror(errno));
        return 1;
    }
    if (pid_override != NULL || cfg->pid_file != NULL)
        snprintf(pid_file, sizeof(pid_file), "%s", pid_override ? pid_override : cfg->pid_file);
    if (pid_file[0] != '\0' && write_pid(pid_file) != 0)
        return 1;

    /* workers inherit this mask: only the main thread takes signals, with sigtimedwait */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (net != NULL && sw_net_start(net, errs, ERRBUF) != 0) {
        sw_log(LOG_ERR, "%s", errs);
        return 1;
    }
    if ((hopmon = sw_hopmon_start(cfg, errs, ERRBUF)) == NULL) {
        sw_log(LOG_ERR, "%s", errs);
        return 1;
    }
    if (tap != NULL && tap_run_start(tap, cfg, errs, ERRBUF) != 0) {
        sw_log(LOG_ERR, "%s", errs);
        return 1;
    }
    if (tap != NULL) {
        size_t i;
        for (i = 0; i < cfg->tap->n; i++)
            sw_log(LOG_NOTICE, "tap: source %zu: %s %s%s%s", i,
                   cfg->tap->src[i].kind == SW_TAP_INTERFACE ? "capturing on interface"
                   : cfg->tap->src[i].kind == SW_TAP_HEP     ? "receiving HEP on"
                                                             : "reading capture file",
                   cfg->tap->src[i].name, cfg->tap->src[i].filter ? ", filter " : "",
                   cfg->tap->src[i].filter ? cfg->tap->src[i].filter : "");
    }
    sw_log(LOG_NOTICE,
           "stirwired %s started: %d worker%s, %zu listener%s, %zu trunk%s, %zu tap source%s, "
           "from %s",
           PACKAGE_VERSION, net != NULL ? nworkers : 0, nworkers == 1 ? "" : "s", cfg->nlisten,
           cfg->nlisten == 1 ? "" : "s", cfg->ntrunks, cfg->ntrunks == 1 ? "" : "s",
           cfg->tap != NULL ? cfg->tap->n : 0, cfg->tap != NULL && cfg->tap->n == 1 ? "" : "s",
           path);
    /* after the workers run: the x5u check has its own thread and never delays them */
    sw_signcheck_expiry(cfg, (int64_t)time(NULL), warn_log);
    sw_signcheck_x5u_start(cfg);
    /* the REST API, once the workers run (its threads start after daemon()) */
    metrics_net = net;
    metrics_svc = &svc;
    atomic_store(&workers_ready, 1);
    if (http_apply(cfg, errs, ERRBUF) != 0) {
        sw_log(LOG_ERR, "%s", errs);
        return 1;
    }
    /* ready for systemd once everything serves, the REST API included */
    sw_notify("READY=1\nSTATUS=configuration #%u, %zu trunk(s)", generation, cfg->ntrunks);

    for (;;) {
        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig < 0) {
            struct sw_stats s;
            sw_net_stats(net, &s, NULL, NULL);
            tap_run_stats(tap, &s, NULL, NULL);
            if (s.received != last_received)
                log_stats(net, &svc, "summary");
            last_received = s.received;
            continue;
        }
        if (sig == SIGUSR1) {
            log_stats(net, &svc, "counters");
        } else if (sig == SIGHUP) {
            sw_notify("RELOADING=1");
            errs[0] = '\0';
            if (sw_config_load(path, &svc, &next, errs, ERRBUF) != 0) {
                log_lines(LOG_ERR, "reload: ", errs);
                sw_log(LOG_ERR, "reload failed: the running configuration stays in force");
                sw_notify("READY=1\nSTATUS=reload failed, configuration #%u", cfg->generation);
                continue;
            }
            if (!same_listeners(cfg, next))
                sw_log(LOG_WARNING, "reload: changes to listen and workers take effect only "
                                    "after a restart");
            /*
             * The one verifier takes the new verifier group now that the whole file is
             * valid: its cache stays; its trust anchors and CRLs are read again.
             */
            if (sw_config_apply_verifier(next, cfg, &svc, errs, ERRBUF) != 0) {
                log_lines(LOG_ERR, "reload: ", errs);
                sw_log(LOG_ERR, "reload: the verifier holds only the trust files that could "
                                "be read; fix them and reload again");
            } else {
                log_lines(LOG_WARNING, "reload: ", errs);
            }
            next->generation = ++generation;
            next->on_free = config_freed;
            sw_signcheck_expiry(next, (int64_t)time(NULL), warn_log);
            sw_signcheck_x5u_start(next);
            /* the REST API: a bad TLS file leaves the running server and its api in place */
            if (http_apply(next, errs, ERRBUF) != 0)
                sw_log(LOG_ERR, "reload: %s; the running REST API configuration stays", errs);
            sw_net_set_config(net, next);
            if (tap != NULL) {
                if (!tap_run_same_sources(tap, next))
                    sw_log(LOG_WARNING, "reload: changes to tap.sources take effect only after a "
                                        "restart; the trunks apply now");
                tap_run_set_config(tap, next);
            } else if (next->tap != NULL) {
                sw_log(LOG_WARNING, "reload: a tap group added by a reload starts only after a "
                                    "restart");
            }
            sw_hopmon_set_config(hopmon, next);
            {
                /* what still holds the old one: parked messages, each with a reference */
                int held = atomic_load(&cfg->refs) - 1;
                if (held > 0)
                    sw_log(LOG_INFO,
                           "reload: configuration #%u stays until the %d parked message%s "
                           "that use it have left",
                           cfg->generation, held, held == 1 ? "" : "s");
            }
            sw_config_unref(cfg);
            cfg = next;
            sw_log_set_level(cfg->log_level);
            sw_log(LOG_NOTICE, "reloaded %s: configuration #%u, %zu trunk%s", path, cfg->generation,
                   cfg->ntrunks, cfg->ntrunks == 1 ? "" : "s");
            sw_notify("READY=1\nSTATUS=configuration #%u, %zu trunk(s)", cfg->generation,
                      cfg->ntrunks);
        } else {
            sw_log(LOG_NOTICE, "%s: finishing the messages in hand and stopping",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
            sw_notify("STOPPING=1");
            break;
        }
    }
    /* the REST API first: its /metrics reads the workers' counters */
    atomic_store(&workers_ready, 0);
    sw_http_stop(atomic_exchange(&http, NULL));
    sw_net_stop(net);
    tap_run_stop(tap);
    log_stats(net, &svc, "at exit");
    tap_run_free(tap);
    tap = NULL;
    sw_hopmon_stop(hopmon);
    hopmon = NULL;
    sw_net_free(net);
    if (pid_file[0] != '\0')
        unlink(pid_file);
    sw_config_unref(cfg);
    sw_services_clear(&svc);
    free(errs);
    sw_log(LOG_NOTICE, "stopped");
    return 0;
}
