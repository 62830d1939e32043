/*
 * cmd_serve.c - "stirwire serve": the REST API of stirwired (src/http/) as a standalone
 * server, configured from the command line instead of the http group: sign with --key and
 * --x5u, check with --check-key or through a verifier (--ca-file / --ca-dir and the fetch
 * options), serve certificates from --pub-dir. It runs until SIGINT or SIGTERM.
 *
 * The server and the handlers are the daemon's; only the wiring differs: no proxy
 * counters (api->metrics is NULL, so /metrics shows the verifier and the HTTP layer) and
 * always ready. With -v every request is logged as one line on stderr.
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../http/server.h"
#include "cli.h"

#define CMD "serve"

void cmd_serve_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: %s serve [--listen ADDR:PORT] [--key FILE --x5u URL]\n"
        "                [--check-key FILE | --ca-file FILE | --ca-dir DIR ...] [fetch options]\n"
        "                [--pub-dir DIR] [--token-sign T] [--token-check T] [--token-ops T]\n"
        "                [--tls-cert FILE --tls-key FILE] [--max-age S] [--threads N] [-v]\n"
        "\n"
        "Serves the REST API of stirwired until SIGINT or SIGTERM: POST /v1/check,\n"
        "POST /v1/sign-csv, GET /v1/pub/FILE (secsipidx compatible), POST /v2/sign,\n"
        "POST /v2/verify, GET /v2/openapi.json, GET /metrics, /healthz, /readyz.\n"
        "\n"
        "  --listen ADDR:PORT  where to listen (default %s; [::1]:PORT for IPv6)\n"
        "  --key FILE          the signing key (PEM) for the sign endpoints (else they\n"
        "                      answer 503)\n"
        "  --x5u URL           the default x5u of what is signed\n"
        "  --check-key FILE    verify with this public key (or certificate) instead of\n"
        "                      fetching the certificate from the token's x5u\n"
        "  --pub-dir DIR       serve DIR's files under /v1/pub/\n"
        "  --token-sign T      bearer token for the sign endpoints (likewise --token-check\n"
        "                      for check and verify, --token-ops for /metrics)\n"
        "  --tls-cert FILE     HTTPS with this certificate (chain) and --tls-key FILE\n"
        "  --max-age S         seconds a token stays fresh for check/verify (default %d)\n"
        "  --threads N         server threads (default %d)\n"
        "  --idle-timeout S    seconds a connection may stay idle (default %d)\n"
        "  -v                  log one line per request to stderr\n"
        "\n"
        "Fetch options (without --check-key):\n"
        "%s",
        CLI_PROG, SW_HTTP_DEFAULT_LISTEN, SW_HTTP_DEFAULT_MAX_AGE, SW_HTTP_DEFAULT_THREADS,
        SW_HTTP_DEFAULT_TIMEOUT, cli_fetch_help);
}

static void access_log(void *arg, const char *method, const char *path, int status, uint64_t bytes,
                       double ms)
{
    (void)arg;
    fprintf(stderr, "%s: %s %s %d %llu %.1fms\n", CLI_PROG, method, path, status,
            (unsigned long long)bytes, ms);
}

static void error_log(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "%s %s: %s\n", CLI_PROG, CMD, line);
}

/* copies a value into a conf field; 0, or -1 after a usage error (too long) */
static int set(char *field, size_t size, const char *opt, const char *v)
{
    if (strlen(v) == 0 || strlen(v) >= size) {
        fprintf(stderr, "%s %s: %s must be 1 to %zu characters\n", CLI_PROG, CMD, opt, size - 1);
        return -1;
    }
    memcpy(field, v, strlen(v) + 1);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    enum {
        OPT_LISTEN = 1,
        OPT_X5U,
        OPT_CHECK_KEY,
        OPT_PUB_DIR,
        OPT_TOKEN_SIGN,
        OPT_TOKEN_CHECK,
        OPT_TOKEN_OPS,
        OPT_TLS_CERT,
        OPT_TLS_KEY,
        OPT_MAX_AGE,
        OPT_THREADS,
        OPT_IDLE_TIMEOUT,
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"key", required_argument, NULL, 'k'},
        {"x5u", required_argument, NULL, OPT_X5U},
        {"check-key", required_argument, NULL, OPT_CHECK_KEY},
        {"pub-dir", required_argument, NULL, OPT_PUB_DIR},
        {"token-sign", required_argument, NULL, OPT_TOKEN_SIGN},
        {"token-check", required_argument, NULL, OPT_TOKEN_CHECK},
        {"token-ops", required_argument, NULL, OPT_TOKEN_OPS},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        CLI_FETCH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static struct sw_http_conf hc; /* large: not on the stack */
    cli_fetch_opts fo = {0};
    struct sw_api api;
    struct sw_http *h = NULL;
    sw_ctx *ctx = NULL;
    sigset_t sigs;
    int64_t n;
    int c, rc = CLI_EXIT_OK, taken, verbose = 0, sig;
    char err[1024];

    sw_http_conf_init(&hc);
    memset(&api, 0, sizeof(api));
    api.pub_dirfd = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:vh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            if (set(hc.listen, sizeof(hc.listen), "--listen", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case 'k':
            if (set(hc.sign_key, sizeof(hc.sign_key), "--key", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_X5U:
            if (set(hc.sign_x5u, sizeof(hc.sign_x5u), "--x5u", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_CHECK_KEY:
            if (set(hc.check_key, sizeof(hc.check_key), "--check-key", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_PUB_DIR:
            if (set(hc.pub_dir, sizeof(hc.pub_dir), "--pub-dir", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_TOKEN_SIGN:
            if (set(hc.token_sign, sizeof(hc.token_sign), "--token-sign", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_TOKEN_CHECK:
            if (set(hc.token_check, sizeof(hc.token_check), "--token-check", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_TOKEN_OPS:
            if (set(hc.token_ops, sizeof(hc.token_ops), "--token-ops", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_TLS_CERT:
            if (set(hc.tls_cert, sizeof(hc.tls_cert), "--tls-cert", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_TLS_KEY:
            if (set(hc.tls_key, sizeof(hc.tls_key), "--tls-key", optarg) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_AGE:
            /* at least 1: secsipidx's expire 0 (reject everything) is not copied */
            if (cli_parse_i64(CMD, "--max-age", optarg, 1, 86400LL * 366, &n) != 0)
                return CLI_EXIT_USAGE;
            hc.max_age = n;
            break;
        case OPT_THREADS:
            if (cli_parse_i64(CMD, "--threads", optarg, 1, SW_HTTP_MAX_THREADS, &n) != 0)
                return CLI_EXIT_USAGE;
            hc.threads = (int)n;
            break;
        case OPT_IDLE_TIMEOUT: /* --timeout is the certificate fetch's (cli_fetch_opts) */
            if (cli_parse_i64(CMD, "--idle-timeout", optarg, 1, 3600, &n) != 0)
                return CLI_EXIT_USAGE;
            hc.timeout = (int)n;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            cmd_serve_usage(stdout);
            return CLI_EXIT_OK;
        default:
            if ((taken = cli_fetch_opt(CMD, &fo, c, optarg)) < 0)
                return CLI_EXIT_USAGE;
            if (taken == 0)
                return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s %s: unexpected argument \"%s\"\n", CLI_PROG, CMD, argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if ((hc.tls_cert[0] != '\0') != (hc.tls_key[0] != '\0')) {
        fprintf(stderr, "%s %s: --tls-cert and --tls-key go together\n", CLI_PROG, CMD);
        return CLI_EXIT_USAGE;
    }
    if (hc.check_key[0] != '\0' && fo.given) {
        fprintf(stderr, "%s %s: --check-key and the fetch options exclude each other\n", CLI_PROG,
                CMD);
        return CLI_EXIT_USAGE;
    }
    if ((ctx = sw_ctx_new()) == NULL)
        return CLI_EXIT_INTERNAL;
    api.max_age = hc.max_age;
    api.future_skew = hc.future_skew;
    if (hc.sign_key[0] != '\0' && sw_key_load_file(ctx, hc.sign_key, &api.sign_key) != SW_OK) {
        fprintf(stderr, "%s %s: --key %s: %s\n", CLI_PROG, CMD, hc.sign_key, sw_errmsg(ctx));
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    if (hc.sign_x5u[0] != '\0' && (api.sign_x5u = strdup(hc.sign_x5u)) == NULL) {
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if (hc.check_key[0] != '\0' &&
        sw_pubkey_load_file(ctx, hc.check_key, &api.check_key) != SW_OK) {
        fprintf(stderr, "%s %s: --check-key %s: %s\n", CLI_PROG, CMD, hc.check_key, sw_errmsg(ctx));
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    /* the verifier serves check/verify without --check-key, and /metrics shows its cache */
    if ((api.verifier = cli_verifier_new(CMD, &fo, ctx, &rc)) == NULL)
        goto out;
    if (hc.pub_dir[0] != '\0' &&
        (api.pub_dirfd = open(hc.pub_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "%s %s: --pub-dir %s: %s\n", CLI_PROG, CMD, hc.pub_dir, strerror(errno));
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    hc.error_log = error_log;
    if (verbose)
        hc.access_log = access_log;

    /* the server's threads inherit this mask: only this thread takes the signals */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((h = sw_http_start(&hc, sw_http_routes, &api, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s %s: %s\n", CLI_PROG, CMD, err);
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    fprintf(stderr, "%s %s: listening on %s%s (port %d)\n", CLI_PROG, CMD, hc.listen,
            hc.tls_cert[0] != '\0' ? " with TLS" : "", sw_http_port(h));
    while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
        ;
    if (verbose)
        fprintf(stderr, "%s %s: %s: stopping\n", CLI_PROG, CMD,
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    sw_http_stop(h);
out:
    if (api.pub_dirfd >= 0)
        close(api.pub_dirfd);
    sw_verifier_free(api.verifier);
    sw_pubkey_free(api.check_key);
    sw_key_free(api.sign_key);
    free(api.sign_x5u);
    sw_ctx_free(ctx);
    return rc;
}
