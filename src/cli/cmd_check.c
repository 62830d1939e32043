/*
 * cmd_check.c - "stirwire check": verifies an Identity header value, with the
 * certificate behind its info URL (fetched and validated by the library's verifier) or
 * with a key given by --key.
 *
 * The verdict is printed on stdout (one "valid: ..." / "invalid: ..." line, or one JSON
 * object with --json) and the exit code is the error class of the outcome, so scripts
 * can act on the kind of failure. Problems with the tool's own inputs (options, the key,
 * CA or CRL files) are not verdicts: they go to stderr only. Everything is read and set
 * up before the network is touched, so a typo in an option never causes a fetch.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "check"

/* Bounds for the time options: a century of seconds, and the year 9999 for --now. */
#define AGE_MAX INT64_C(3155760000)
#define NOW_MAX INT64_C(253402300799)

void cmd_check_usage(FILE *out)
{
    fprintf(out,
            "Usage: %s check [--ca-file FILE | --ca-dir DIR]... [fetch options] [check options]\n"
            "                [IDENTITY | -]\n"
            "       %s check --key FILE [check options] [IDENTITY | -]\n"
            "\n"
            "Verifies a SIP Identity header value (RFC 8224, SHAKEN): JWT header, freshness of\n"
            "iat, claims, then the certificate and the ES256 signature. IDENTITY is the header\n"
            "value; '-' or none reads it from standard input (at most %d KiB). A leading\n"
            "\"Identity:\" or \"y:\" header name and trailing white space are ignored.\n"
            "\n"
            "Without --key the certificate is fetched from the info URL and must chain to a\n"
            "trust anchor given with --ca-file or --ca-dir (the STI-PA roots), carry a\n"
            "TNAuthList with an SPC and the SHAKEN policy, be P-256, not revoked, and valid at\n"
            "iat. The URL must be https, port 443 or 8443, on a public address, unless an\n"
            "--allow option relaxes that.\n"
            "\n"
            "Fetch options (not with --key):\n"
            "%s"
            "\n"
            "Check options:\n"
            "  -k, --key FILE         verify with this public key, certificate (PEM or DER) or\n"
            "                         private key instead of fetching; no certificate checks\n"
            "      --max-age SECONDS  how old iat may be (default 60)\n"
            "      --skew SECONDS     how far iat may lie in the future (default 5)\n"
            "      --now SECONDS      verify as if the time were this Unix time\n"
            "      --orig TN          the call's calling number; must equal orig.tn\n"
            "      --dest TN          the call's called number; must be in dest.tn\n"
            "      --json             print the verdict as one JSON object\n"
            "  -i, --input FILE       read IDENTITY from FILE\n"
            "  -h, --help             print this help\n"
            "\n"
            "Prints \"valid: ..., spc SPC, x5u URL\" or\n"
            "\"invalid: <error>: <detail> (SIP <status> <reason>)\".\n"
            "\n%s",
            CLI_PROG, CLI_PROG, CLI_INPUT_MAX / 1024, cli_fetch_help, cli_exit_help);
}

/* Checks that a --orig / --dest value is a telephone number; exit code. */
static int check_tn(const char *opt, const char *tn)
{
    char canon[SW_TN_MAX];
    char q[80];
    sw_err err;

    if (tn == NULL)
        return CLI_EXIT_OK;
    if ((err = sw_tn_canon(tn, canon, sizeof(canon))) != SW_OK) {
        cli_err(CMD, "%s '%s': %s", opt, cli_quote(tn, q, sizeof(q)), sw_strerror(err));
        return cli_exit_code(err);
    }
    return CLI_EXIT_OK;
}

/* The certificate side of a verdict: the SPC (NULL with --key) and the info URL. */
typedef struct {
    const char *spc, *x5u;
} cert_info;

static void print_text(sw_err err, const char *detail, const sw_passport *pp, const cert_info *ci)
{
    char spc[SW_TN_MAX + 8] = "";
    int status = sw_err_sip_status(err);
    char sip[96] = "";
    char dest[512] = "";
    size_t i, n;

    if (err == SW_OK && pp != NULL) {
        n = sw_passport_dest_tn_count(pp);
        for (i = 0; i < n; i++) {
            const char *tn = sw_passport_dest_tn(pp, i);
            size_t used = strlen(dest);
            snprintf(dest + used, sizeof(dest) - used, "%s%s", i > 0 ? "," : "",
                     tn != NULL ? tn : "?");
        }
        /* No SPC with --key: the key says nothing about who holds it. */
        if (ci->spc != NULL)
            snprintf(spc, sizeof(spc), ", spc %s", ci->spc);
        cli_line(stdout, "valid: attest %c, orig %s, dest %s, iat %lld, origid %s%s, x5u %s",
                 sw_passport_attest(pp) ? sw_passport_attest(pp) : '?',
                 sw_passport_orig_tn(pp) ? sw_passport_orig_tn(pp) : "?", dest,
                 (long long)sw_passport_iat(pp),
                 sw_passport_origid(pp) ? sw_passport_origid(pp) : "(none)", spc,
                 ci->x5u != NULL ? ci->x5u : "(none)");
        return;
    }
    if (status != 0)
        snprintf(sip, sizeof(sip), " (SIP %d %s)", status, sw_err_sip_reason(err));
    if (detail != NULL && *detail != '\0')
        cli_line(stdout, "invalid: %s: %s%s", sw_strerror(err), detail, sip);
    else
        cli_line(stdout, "invalid: %s%s", sw_strerror(err), sip);
}

/* Sets key to a new value (json NULL from a failed allocation is tolerated). */
static void jset(json_t *obj, const char *key, json_t *value)
{
    if (value != NULL)
        json_object_set_new(obj, key, value);
}

/* The canonical JSON text s as a jansson value, or null. */
static json_t *json_of(const char *s)
{
    json_t *j;

    if (s == NULL || (j = json_loads(s, 0, NULL)) == NULL)
        return json_null();
    return j;
}

static json_t *claims_json(const sw_identity *id)
{
    const sw_passport *pp = sw_identity_passport(id);
    json_t *claims = json_object(), *dest = json_array();
    char attest[2] = {0, 0};
    size_t i, n;

    if (claims == NULL || dest == NULL || pp == NULL) {
        json_decref(claims);
        json_decref(dest);
        return json_null();
    }
    attest[0] = sw_passport_attest(pp);
    jset(claims, "attest", attest[0] ? cli_json_str(attest) : json_null());
    jset(claims, "orig", cli_json_str(sw_passport_orig_tn(pp)));
    n = sw_passport_dest_tn_count(pp);
    for (i = 0; i < n; i++)
        json_array_append_new(dest, cli_json_str(sw_passport_dest_tn(pp, i)));
    jset(claims, "dest", dest);
    jset(claims, "iat",
         sw_passport_iat(pp) != 0 ? json_integer((json_int_t)sw_passport_iat(pp)) : json_null());
    jset(claims, "origid", cli_json_str(sw_passport_origid(pp)));
    jset(claims, "x5u", cli_json_str(sw_passport_x5u(pp)));
    return claims;
}

/* Prints the verdict as JSON; exit code (internal error when it cannot be printed). */
static int print_json(sw_err err, const char *detail, const sw_identity *id, const cert_info *ci)
{
    json_t *o = json_object(), *pass;
    int status = sw_err_sip_status(err);
    char reason[512];
    size_t rlen = 0;
    char *text;

    if (o == NULL)
        goto nomem;
    jset(o, "valid", json_boolean(err == SW_OK));
    jset(o, "error", cli_json_str(sw_err_name(err)));
    jset(o, "code", json_integer((json_int_t)err));
    jset(o, "class", cli_json_str(sw_class_text(sw_err_class(err))));
    jset(o, "message", cli_json_str(sw_strerror(err)));
    jset(o, "detail", cli_json_str(detail != NULL ? detail : ""));
    jset(o, "sip_status", status != 0 ? json_integer(status) : json_null());
    jset(o, "sip_reason", status != 0 ? cli_json_str(sw_err_sip_reason(err)) : json_null());
    /* A Reason header explains a failure; a valid call has none. */
    if (err != SW_OK)
        rlen = sw_err_reason_header(err, reason, sizeof(reason));
    jset(o, "reason_header",
         rlen > 0 && rlen < sizeof(reason) ? cli_json_str(reason) : json_null());
    jset(o, "verstat", cli_json_str(sw_err_verstat(err)));
    jset(o, "spc", cli_json_str(ci->spc));
    jset(o, "x5u", cli_json_str(ci->x5u));
    if (id != NULL && sw_identity_passport(id) != NULL) {
        /*
         * "passport" holds the decoded JWT header and payload as received, unknown claims
         * included; "claims" the ones this tool knows, flattened. The order matters to
         * readers that take the first object with the claims in it: the signed payload.
         */
        const sw_passport *pp = sw_identity_passport(id);
        if ((pass = json_object()) != NULL) {
            jset(pass, "header", json_of(sw_passport_header_json(pp)));
            jset(pass, "payload", json_of(sw_passport_payload_json(pp)));
            jset(o, "passport", pass);
        }
        jset(o, "claims", claims_json(id));
    }
    if ((text = json_dumps(o, JSON_COMPACT)) == NULL)
        goto nomem;
    printf("%s\n", text);
    free(text);
    json_decref(o);
    return cli_exit_code(err);
nomem:
    json_decref(o);
    cli_err(CMD, "out of memory");
    return CLI_EXIT_INTERNAL;
}

static int verdict(int json, sw_err err, const char *detail, const sw_identity *id, const char *spc)
{
    int rc = cli_exit_code(err);
    cert_info ci = {spc, id != NULL ? sw_identity_info(id) : NULL};

    if (json)
        rc = print_json(err, detail, id, &ci);
    else
        print_text(err, detail, id != NULL ? sw_identity_passport(id) : NULL, &ci);
    if (fflush(stdout) != 0) {
        cli_err(CMD, "cannot write to standard output");
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_INPUT;
    }
    return rc;
}

int cmd_check(int argc, char **argv)
{
    enum { OPT_MAX_AGE = 256, OPT_SKEW, OPT_NOW, OPT_ORIG, OPT_DEST, OPT_JSON };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        {"skew", required_argument, NULL, OPT_SKEW},
        {"now", required_argument, NULL, OPT_NOW},
        {"orig", required_argument, NULL, OPT_ORIG},
        {"dest", required_argument, NULL, OPT_DEST},
        {"json", no_argument, NULL, OPT_JSON},
        {"input", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        CLI_FETCH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    cli_fetch_opts fo = {0};
    const char *keyfile = NULL, *orig = NULL, *dest = NULL, *input = NULL, *arg = NULL;
    int64_t max_age = -1, skew = -1, now = -1;
    int json = 0, c, rc = CLI_EXIT_OK, taken;
    char q[80];
    char msg[1100];
    char *owned = NULL;
    const char *value;
    size_t len;
    sw_ctx *ctx = NULL;
    sw_pubkey *pub = NULL;
    sw_verifier *v = NULL;
    sw_identity *id = NULL;
    const char *detail, *spc = NULL;
    char fetch_detail[1024];
    sw_err err;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keyfile = optarg;
            break;
        case OPT_MAX_AGE:
            if (cli_parse_i64(CMD, "--max-age", optarg, 0, AGE_MAX, &max_age) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_SKEW:
            if (cli_parse_i64(CMD, "--skew", optarg, 0, AGE_MAX, &skew) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_NOW:
            if (cli_parse_i64(CMD, "--now", optarg, 1, NOW_MAX, &now) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ORIG:
            orig = optarg;
            break;
        case OPT_DEST:
            dest = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'i':
            input = optarg;
            break;
        case 'h':
            cmd_check_usage(stdout);
            return CLI_EXIT_OK;
        default:
            if ((taken = cli_fetch_opt(CMD, &fo, c, optarg)) < 0)
                return CLI_EXIT_USAGE;
            if (taken == 0)
                return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind < argc)
        arg = argv[optind++];
    if (optind < argc) {
        cli_err(CMD, "unexpected argument '%s': give one IDENTITY (see '%s check --help')",
                cli_quote(argv[optind], q, sizeof(q)), CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    if (arg != NULL && input != NULL) {
        cli_err(CMD, "give IDENTITY or --input FILE, not both");
        return CLI_EXIT_USAGE;
    }
    if ((rc = check_tn("--orig", orig)) != CLI_EXIT_OK ||
        (rc = check_tn("--dest", dest)) != CLI_EXIT_OK)
        return rc;
    if (keyfile != NULL && fo.given) {
        cli_err(CMD, "--key verifies with that key; the fetch options (--ca-file, --allow-..., "
                     "...) are for verifying through the info URL: give one or the other");
        return CLI_EXIT_USAGE;
    }

    if ((ctx = sw_ctx_new()) == NULL) {
        cli_err(CMD, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    if (max_age >= 0)
        sw_ctx_set_max_age(ctx, max_age);
    if (skew >= 0)
        sw_ctx_set_future_skew(ctx, skew);
    if (now > 0)
        sw_ctx_set_now(ctx, now);
    if (keyfile != NULL && (err = sw_pubkey_load_file(ctx, keyfile, &pub)) != SW_OK) {
        cli_key_error(CMD, ctx, err, keyfile);
        rc = cli_exit_code(err);
        goto out;
    }
    if (keyfile == NULL && (v = cli_verifier_new(CMD, &fo, ctx, &rc)) == NULL)
        goto out;

    err = cli_get_identity(arg, input, &owned, &value, &len, msg, sizeof(msg));
    if (err == SW_ERR_IO || err == SW_ERR_NOMEM) {
        cli_err(CMD, "%s", msg);
        rc = cli_exit_code(err);
        goto out;
    }
    if (err != SW_OK) {
        /* Too long or empty: a verdict about the Identity, like the library's own. */
        rc = verdict(json, err, msg, NULL, NULL);
        goto out;
    }
    if ((err = sw_identity_parse(ctx, value, len, &id)) != SW_OK) {
        rc = verdict(json, err, sw_errmsg(ctx), NULL, NULL);
        goto out;
    }
    if (pub != NULL) {
        err = sw_verify(ctx, id, pub, orig, dest);
        detail = sw_errmsg(ctx);
    } else {
        err = sw_verify_identity_wait(ctx, v, id, orig, dest);
        detail = cli_fetch_detail(&fo, ctx, err, fetch_detail, sizeof(fetch_detail));
        spc = sw_ctx_last_spc(ctx);
    }
    if (err != SW_OK && sw_identity_is_compact(id)) {
        /*
         * The compact form carries no claims: a proxy rebuilds them from the SIP message,
         * which check does not have. Say so, or the failure would look like a bad token.
         */
        snprintf(msg, sizeof(msg),
                 "compact form, whose claims come from the SIP message "
                 "(not available to check): %s",
                 detail);
        rc = verdict(json, err, msg, id, spc);
    } else {
        rc = verdict(json, err, err == SW_OK ? "" : detail, id, spc);
    }

out:
    sw_identity_free(id);
    free(owned);
    sw_pubkey_free(pub);
    sw_verifier_free(v);
    sw_ctx_free(ctx);
    return rc;
}
