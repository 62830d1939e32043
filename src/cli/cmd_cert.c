/*
 * cmd_cert.c - "stirwire cert": shows an STI certificate and whether a verifier would
 * accept it, from a file or from an x5u URL.
 *
 * A URL goes through the library's verifier exactly as "check" would fetch it (same
 * fetch policy, chain, CRL), so this is the tool for finding out why a call's
 * certificate is refused. A file gets the checks that need no network or trust store
 * (sw_cert_check at the current time): the library has no public call that validates
 * the chain of a local certificate, and we do not rebuild one here with OpenSSL, so the
 * tool says plainly that the chain of a file was not checked rather than implying it was.
 * As everywhere in the tool, the exit code is the class of the verdict.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"

#define CMD "cert"

/* What a file's verdict says about the chain when trust anchors were given. */
#define CHAIN_NOT_CHECKED "not checked for files (serve it over https and use the URL)"

void cmd_cert_usage(FILE *out)
{
    fprintf(out,
            "Usage: %s cert [--json] FILE\n"
            "       %s cert [--ca-file FILE | --ca-dir DIR]... [fetch options] [--json] URL\n"
            "\n"
            "Shows an STI certificate (RFC 8226, ATIS-1000080): subject, issuer, the SPC from\n"
            "TNAuthList, validity (UTC), the SHAKEN policy, the CRL distribution point, the\n"
            "number of certificates that came with it, and a verdict.\n"
            "\n"
            "FILE is a PEM file (leaf first, then intermediates) or one DER certificate; its\n"
            "verdict covers the checks that need no trust store: P-256 key, TNAuthList with an\n"
            "SPC, SHAKEN policy, not a CA, valid now. Its chain is not checked.\n"
            "URL (http:// or https://) is fetched and validated as 'check' does without --key:\n"
            "fetch policy, the checks above, the chain to --ca-file/--ca-dir, and the CRL.\n"
            "\n"
            "Options:\n"
            "      --json             print the result as one JSON object\n"
            "  -h, --help             print this help\n"
            "\n"
            "Fetch options (for a URL):\n"
            "%s"
            "\n"
            "Prints \"verdict: OK\" or \"verdict: <error>: <detail>\". Exit status: the class of\n"
            "the verdict: 0 OK, 1 usage error, 2 file or option file cannot be read,\n"
            "8 certificate problem, 9 internal error.\n",
            CLI_PROG, CLI_PROG, cli_fetch_help);
}

static int is_url(const char *s)
{
    return strncasecmp(s, "https://", 8) == 0 || strncasecmp(s, "http://", 7) == 0;
}

/* What was looked at and what came of it. */
typedef struct {
    const char *source;  /* "file" or "url" */
    const char *where;   /* the path or URL */
    const sw_cert *cert; /* NULL when a URL could not be fetched or validated */
    sw_err err;
    const char *detail;
    const char *chain; /* "checked", "not checked (...)" or NULL when not a question */
} cert_result;

static void print_text(const cert_result *r)
{
    const sw_cert *c = r->cert;
    char t1[32], t2[32];

    cli_line(stdout, "%-14s %s", r->source[0] == 'u' ? "url:" : "file:", r->where);
    if (c != NULL) {
        cli_line(stdout, "%-14s %s", "subject:", sw_cert_subject(c) ? sw_cert_subject(c) : "");
        cli_line(stdout, "%-14s %s", "issuer:", sw_cert_issuer(c) ? sw_cert_issuer(c) : "");
        cli_line(stdout, "%-14s %s", "SPC:", sw_cert_spc(c) ? sw_cert_spc(c) : "(none)");
        cli_line(stdout, "%-14s %s",
                 "not before:", cli_iso_time(sw_cert_not_before(c), t1, sizeof(t1)));
        cli_line(stdout, "%-14s %s",
                 "not after:", cli_iso_time(sw_cert_not_after(c), t2, sizeof(t2)));
        cli_line(stdout, "%-14s %s", "SHAKEN policy:", sw_cert_has_shaken_policy(c) ? "yes" : "no");
        cli_line(stdout, "%-14s %s", "CRL:", sw_cert_crl_url(c) ? sw_cert_crl_url(c) : "(none)");
        cli_line(stdout, "%-14s %zu", "chain length:", sw_cert_chain_length(c));
    }
    if (r->chain != NULL)
        cli_line(stdout, "%-14s %s", "chain:", r->chain);
    if (r->err == SW_OK)
        cli_line(stdout, "%-14s OK", "verdict:");
    else if (r->detail != NULL && *r->detail != '\0')
        cli_line(stdout, "%-14s %s: %s", "verdict:", sw_strerror(r->err), r->detail);
    else
        cli_line(stdout, "%-14s %s", "verdict:", sw_strerror(r->err));
}

/* Sets key to a new value (json NULL from a failed allocation is tolerated). */
static void jset(json_t *obj, const char *key, json_t *value)
{
    if (value != NULL)
        json_object_set_new(obj, key, value);
}

/* Prints the result as JSON; 0, or -1 when it cannot be built. */
static int print_json(const cert_result *r)
{
    const sw_cert *c = r->cert;
    json_t *o = json_object();
    char t1[32], t2[32];
    char *text;

    if (o == NULL)
        return -1;
    jset(o, "source", cli_json_str(r->source));
    jset(o, r->source, cli_json_str(r->where));
    if (c != NULL) {
        jset(o, "subject", cli_json_str(sw_cert_subject(c)));
        jset(o, "issuer", cli_json_str(sw_cert_issuer(c)));
        jset(o, "spc", cli_json_str(sw_cert_spc(c)));
        jset(o, "not_before", cli_json_str(cli_iso_time(sw_cert_not_before(c), t1, sizeof(t1))));
        jset(o, "not_after", cli_json_str(cli_iso_time(sw_cert_not_after(c), t2, sizeof(t2))));
        jset(o, "shaken_policy", json_boolean(sw_cert_has_shaken_policy(c)));
        jset(o, "crl_url", cli_json_str(sw_cert_crl_url(c)));
        jset(o, "chain_length", json_integer((json_int_t)sw_cert_chain_length(c)));
    }
    jset(o, "chain", cli_json_str(r->chain));
    jset(o, "valid", json_boolean(r->err == SW_OK));
    jset(o, "error", cli_json_str(sw_err_name(r->err)));
    jset(o, "code", json_integer((json_int_t)r->err));
    jset(o, "class", cli_json_str(sw_class_text(sw_err_class(r->err))));
    jset(o, "message", cli_json_str(sw_strerror(r->err)));
    jset(o, "detail", cli_json_str(r->detail != NULL ? r->detail : ""));
    if ((text = json_dumps(o, JSON_COMPACT)) == NULL) {
        json_decref(o);
        return -1;
    }
    printf("%s\n", text);
    free(text);
    json_decref(o);
    return 0;
}

static int report(int json, const cert_result *r)
{
    int rc = cli_exit_code(r->err);

    if (json) {
        if (print_json(r) != 0) {
            cli_err(CMD, "out of memory");
            return CLI_EXIT_INTERNAL;
        }
    } else {
        print_text(r);
    }
    if (fflush(stdout) != 0) {
        cli_err(CMD, "cannot write to standard output");
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_INPUT;
    }
    return rc;
}

static int cert_file(sw_ctx *ctx, const cli_fetch_opts *fo, int json, const char *path)
{
    cert_result r = {"file", path, NULL, SW_OK, "", NULL};
    sw_cert *cert = NULL;
    char q[200];
    int rc;

    r.err = sw_cert_load_file(ctx, path, &cert);
    if (r.err == SW_ERR_IO || r.err == SW_ERR_NOMEM || r.err == SW_ERR_INVAL) {
        /* The file itself is the problem, not a certificate: no verdict. */
        cli_err(CMD, "cannot read %s: %s", cli_quote(path, q, sizeof(q)), sw_errmsg(ctx));
        return cli_exit_code(r.err);
    }
    if (r.err == SW_OK) {
        r.cert = cert;
        r.err = sw_cert_check(ctx, cert, (int64_t)time(NULL));
    }
    if (r.err != SW_OK)
        r.detail = sw_errmsg(ctx);
    if (cli_fetch_has_anchors(fo) || fo->n_crl_files > 0)
        r.chain = CHAIN_NOT_CHECKED;
    rc = report(json, &r);
    sw_cert_free(cert);
    return rc;
}

static int cert_url(sw_ctx *ctx, const cli_fetch_opts *fo, int json, const char *url)
{
    cert_result r = {"url", url, NULL, SW_OK, "", NULL};
    char detail[1024];
    sw_verifier *v;
    sw_cert *cert = NULL;
    int rc;

    if ((v = cli_verifier_new(CMD, fo, ctx, &rc)) == NULL)
        return rc;
    r.err = sw_verifier_get_cert_wait(v, ctx, url, &cert);
    if (r.err == SW_OK)
        r.cert = cert;
    else
        r.detail = cli_fetch_detail(fo, ctx, r.err, detail, sizeof(detail));
    /* On success the verifier has validated the chain, unless told not to. */
    if (r.err == SW_OK)
        r.chain = fo->no_chain ? "not checked (--no-chain)" : "checked";
    rc = report(json, &r);
    sw_cert_free(cert);
    sw_verifier_free(v);
    return rc;
}

int cmd_cert(int argc, char **argv)
{
    enum { OPT_JSON = 256 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        CLI_FETCH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    cli_fetch_opts fo = {0};
    const char *arg;
    int json = 0, c, rc, taken;
    char q[80];
    sw_ctx *ctx;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            cmd_cert_usage(stdout);
            return CLI_EXIT_OK;
        default:
            if ((taken = cli_fetch_opt(CMD, &fo, c, optarg)) < 0)
                return CLI_EXIT_USAGE;
            if (taken == 0)
                return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind >= argc) {
        cli_err(CMD, "give a certificate FILE or URL (see '%s cert --help')", CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    arg = argv[optind++];
    if (optind < argc) {
        cli_err(CMD, "unexpected argument '%s': give one FILE or URL (see '%s cert --help')",
                cli_quote(argv[optind], q, sizeof(q)), CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    if ((ctx = sw_ctx_new()) == NULL) {
        cli_err(CMD, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    if (is_url(arg))
        rc = cert_url(ctx, &fo, json, arg);
    else
        rc = cert_file(ctx, &fo, json, arg);
    sw_ctx_free(ctx);
    return rc;
}
