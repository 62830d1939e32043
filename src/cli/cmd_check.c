/*
 * cmd_check.c - "stirwire check": verifies an Identity header value, with the
 * certificate behind its info URL (fetched and validated by the library's verifier) or
 * with a key given by --key; with --sip, a whole SIP request as copied from a log, judged
 * by stir_verify() (src/sip/stir.c), the very code of the daemon's verify filter, with
 * the filter's defaults, so the tool and the proxy cannot disagree about a call.
 *
 * The verdict is printed on stdout (one "valid: ..." / "invalid: ..." line, or one JSON
 * object with --json) and the exit code is the error class of the outcome, so scripts
 * can act on the kind of failure. Problems with the tool's own inputs (options, the key,
 * CA or CRL files) are not verdicts: they go to stderr only. Everything is read and set
 * up before the network is touched, so a typo in an option never causes a fetch.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

#include "../sip/fields.h"
#include "../sip/stir.h"

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
            "       %s check --sip FILE|- [--key FILE | fetch options] [check and SIP options]\n"
            "\n"
            "Verifies a SIP Identity header value (RFC 8224, SHAKEN): JWT header, freshness of\n"
            "iat, claims, then the certificate and the ES256 signature. IDENTITY is the header\n"
            "value, or a file that holds it; '-' or none reads it from standard input (at most\n"
            "%d KiB). A leading \"Identity:\" or \"y:\" header name and trailing white space\n"
            "are ignored.\n"
            "\n"
            "With --sip, FILE holds a whole SIP request (as copied from a log or sngrep: LF or\n"
            "CRLF line ends, compact header names, folded lines; lines before the request line\n"
            "and after the headers are ignored, and so is Content-Length). It is judged as the\n"
            "verify filter of stirwired judges it, with the same defaults: every Identity / y:\n"
            "header, the shaken one chosen and a div one (RFC 8946) reported, the calling\n"
            "number (P-Asserted-Identity, else From) and the called number (To) from the\n"
            "request, the Date header, then the token. The verstat the filter would add is\n"
            "printed too.\n"
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
            "SIP options (with --sip; --orig and --dest are then read from the request):\n"
            "      --sip FILE|-       verify the SIP request in FILE ('-': standard input)\n"
            "      --dest-ruri        the called number is the Request-URI's, not To's\n"
            "      --date MODE        the Date header: check (when present; default), require\n"
            "                         or ignore; --max-age and --skew bound it like iat\n"
            "      --anonymous MODE   a call with no calling number: no-tn (No-TN-Validation,\n"
            "                         its token is not looked at; default) or verify\n"
            "\n"
            "Prints \"valid: ..., spc SPC, x5u URL\" or\n"
            "\"invalid: <error>: <detail> (SIP <status> <reason>)\"; with --sip followed by\n"
            "\", verstat VALUE\".\n"
            "\n%s",
            CLI_PROG, CLI_PROG, CLI_PROG, CLI_INPUT_MAX / 1024, cli_fetch_help, cli_exit_help);
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

/* --- check --sip ---------------------------------------------------------------------- */

/* Whether line p[0..n) (no line end) is a SIP start line: "... SIP/2.0" or "SIP/2.0 ...". */
static int is_start_line(const char *p, size_t n)
{
    return (n > 8 && strncasecmp(p + n - 8, " SIP/2.0", 8) == 0) ||
           (n > 8 && strncasecmp(p, "SIP/2.0 ", 8) == 0);
}

/* Length of the header name at p[0..n) when the line is "name [WS] : ...", else 0. */
static size_t header_name(const char *p, size_t n)
{
    size_t i = 0, name;

    while (i < n && (isalnum((unsigned char)p[i]) || strchr("-.!%*_+`'~", p[i]) != NULL))
        i++;
    name = i;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return (name > 0 && i < n && p[i] == ':') ? name : 0;
}

/*
 * Rebuilds a request copied from a log into a message sip_parse() accepts; *out is
 * malloc()ed. Lines before the start line (a log prefix) are skipped; every line of the
 * start line and headers ends in CRLF, without trailing white space; the headers end at
 * the first blank line or at the first line that is neither a header nor a folded
 * continuation (trailing log text); what follows is the body. Content-Length lines are
 * dropped: a copy rarely keeps the body byte for byte (CRLF became LF, trailing white
 * space went), the body is not what is verified, and without the header sip_parse()
 * takes what follows as the body. The Identity values are copied byte for byte.
 */
static sw_err sip_from_log(const char *in, size_t n, char **out, size_t *outlen)
{
    const char *p = in, *end = in + n, *line, *nl;
    size_t len, o = 0, cap = 2 * n + 8, name;
    int in_headers = 0, dropping = 0, found = 0;
    char *b;

    *out = NULL;
    *outlen = 0;
    if ((b = malloc(cap)) == NULL)
        return SW_ERR_NOMEM;
    /* Find the start line; with none, start at the first non-blank line. */
    for (line = p; line < end; line = nl < end ? nl + 1 : end) {
        if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
            nl = end;
        for (len = (size_t)(nl - line); len > 0 && isspace((unsigned char)line[len - 1]);)
            len--;
        if (is_start_line(line, len)) {
            p = line;
            found = 1;
            break;
        }
    }
    if (!found)
        while (p < end && isspace((unsigned char)*p))
            p++;
    for (line = p; line < end; line = nl < end ? nl + 1 : end) {
        if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
            nl = end;
        for (len = (size_t)(nl - line); len > 0 && isspace((unsigned char)line[len - 1]);)
            len--;
        if (in_headers && len == 0) {
            line = nl < end ? nl + 1 : end;
            break;
        }
        if (in_headers && (line[0] == ' ' || line[0] == '\t')) {
            if (dropping)
                continue;
        } else if (in_headers) {
            if ((name = header_name(line, len)) == 0)
                break; /* trailing log text: the headers ended */
            dropping = (name == 14 && strncasecmp(line, "Content-Length", 14) == 0) ||
                       (name == 1 && (line[0] == 'l' || line[0] == 'L'));
            if (dropping)
                continue;
        }
        memcpy(b + o, line, len);
        o += len;
        b[o++] = '\r';
        b[o++] = '\n';
        in_headers = 1;
    }
    b[o++] = '\r';
    b[o++] = '\n';
    /* The body, cut so that the message stays within what sip_parse() takes. */
    if (line < end && o < SIP_MAX_MSG) {
        len = (size_t)(end - line);
        if (len > SIP_MAX_MSG - o)
            len = SIP_MAX_MSG - o;
        memcpy(b + o, line, len);
        o += len;
    }
    *out = b;
    *outlen = o;
    return SW_OK;
}

static void print_sip_text(const struct stir_result *r)
{
    char spc[80] = "", div[SW_TN_MAX + 8] = "", which[48] = "", sip[96] = "";
    int status = sw_err_sip_status(r->err);
    const char *verstat = r->verstat != NULL ? r->verstat : "(pending)";

    if (r->has_div)
        snprintf(div, sizeof(div), ", div %s", r->div_tn[0] ? r->div_tn : "?");
    if (r->identities > 1 && r->chosen >= 0)
        snprintf(which, sizeof(which), ", Identity %d of %d", r->chosen + 1, r->identities);
    if (r->err == SW_OK) {
        /* No SPC with --key: the key says nothing about who holds it. */
        if (r->spc[0] != '\0')
            snprintf(spc, sizeof(spc), ", spc %s", r->spc);
        cli_line(stdout,
                 "valid: attest %c, orig %s, dest %s, iat %lld, origid %s%s, x5u %s%s%s, "
                 "verstat %s",
                 r->attest ? r->attest : '?', r->orig, r->dest, (long long)r->iat,
                 r->origid[0] ? r->origid : "(none)", spc, r->x5u[0] ? r->x5u : "(none)", div,
                 which, verstat);
        return;
    }
    if (status != 0)
        snprintf(sip, sizeof(sip), " (SIP %d %s)", status, sw_err_sip_reason(r->err));
    cli_line(stdout, "invalid: %s%s%s%s%s%s, verstat %s", sw_strerror(r->err),
             r->detail[0] ? ": " : "", r->detail, sip, div, which, verstat);
}

/* The verdict on a SIP request as JSON; exit code. id: the chosen header, parsed again. */
static int print_sip_json(const struct stir_result *r, const sw_identity *id)
{
    json_t *o = json_object(), *div, *pass;
    int status = sw_err_sip_status(r->err);
    char reason[512], attest[2] = {r->attest, 0};
    size_t rlen = 0;
    char *text;

    if (o == NULL)
        goto nomem;
    jset(o, "valid", json_boolean(r->err == SW_OK));
    jset(o, "error", cli_json_str(sw_err_name(r->err)));
    jset(o, "code", json_integer((json_int_t)r->err));
    jset(o, "class", cli_json_str(sw_class_text(sw_err_class(r->err))));
    jset(o, "message", cli_json_str(sw_strerror(r->err)));
    jset(o, "detail", cli_json_str(r->detail));
    jset(o, "sip_status", status != 0 ? json_integer(status) : json_null());
    jset(o, "sip_reason", status != 0 ? cli_json_str(sw_err_sip_reason(r->err)) : json_null());
    if (r->err != SW_OK)
        rlen = sw_err_reason_header(r->err, reason, sizeof(reason));
    jset(o, "reason_header",
         rlen > 0 && rlen < sizeof(reason) ? cli_json_str(reason) : json_null());
    jset(o, "verstat", r->verstat != NULL ? cli_json_str(r->verstat) : json_null());
    jset(o, "spc", r->spc[0] ? cli_json_str(r->spc) : json_null());
    jset(o, "x5u", r->x5u[0] ? cli_json_str(r->x5u) : json_null());
    jset(o, "orig", r->orig[0] ? cli_json_str(r->orig) : json_null());
    jset(o, "dest", r->dest[0] ? cli_json_str(r->dest) : json_null());
    jset(o, "no_number", json_boolean(r->no_number));
    jset(o, "identities", json_integer(r->identities));
    jset(o, "chosen", r->chosen >= 0 ? json_integer(r->chosen) : json_null());
    jset(o, "compact", json_boolean(r->compact));
    jset(o, "attest", r->attest ? cli_json_str(attest) : json_null());
    jset(o, "iat", r->iat != 0 ? json_integer((json_int_t)r->iat) : json_null());
    jset(o, "origid", r->origid[0] ? cli_json_str(r->origid) : json_null());
    if (r->has_div && (div = json_object()) != NULL) {
        jset(div, "orig", r->div_orig[0] ? cli_json_str(r->div_orig) : json_null());
        jset(div, "tn", r->div_tn[0] ? cli_json_str(r->div_tn) : json_null());
        jset(o, "div", div);
    } else {
        jset(o, "div", json_null());
    }
    if (id != NULL && sw_identity_passport(id) != NULL) {
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
    return cli_exit_code(r->err);
nomem:
    json_decref(o);
    cli_err(CMD, "out of memory");
    return CLI_EXIT_INTERNAL;
}

/*
 * check --sip: reads, parses and judges the request; prints the verdict; exit code. A
 * message that is no SIP request is a problem of the input (stderr), not a verdict.
 */
static int check_sip(const char *path, int json, sw_ctx *ctx, sw_verifier *v, const sw_pubkey *pub,
                     const struct stir_opts *so, const cli_fetch_opts *fo)
{
    static struct sip_msg m; /* large (the header table): not on the stack */
    struct stir_result r;
    char msg[1100], perr[160], q[80];
    char *raw = NULL, *req = NULL;
    size_t rawlen, reqlen;
    sw_identity *id = NULL;
    const struct sip_hdr *h;
    int rc;
    sw_err err;

    if ((err = cli_read_input(path, &raw, &rawlen, msg, sizeof(msg))) != SW_OK) {
        cli_err(CMD, "%s", msg);
        return err == SW_ERR_IDENTITY_TOO_LONG ? CLI_EXIT_INPUT : cli_exit_code(err);
    }
    if ((err = sip_from_log(raw, rawlen, &req, &reqlen)) != SW_OK) {
        free(raw);
        cli_err(CMD, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    free(raw);
    if (sip_parse(&m, req, reqlen, perr, sizeof(perr)) != 0) {
        cli_err(CMD, "%s is not a SIP request: %s",
                path == NULL || strcmp(path, "-") == 0 ? "standard input"
                                                       : cli_quote(path, q, sizeof(q)),
                perr);
        free(req);
        return CLI_EXIT_INPUT;
    }
    if (!m.is_request) {
        cli_err(CMD, "the message is a response (SIP/2.0 %d): give the request", m.status);
        free(req);
        return CLI_EXIT_INPUT;
    }
    stir_verify(ctx, v, pub, &m, so, 1, &r);
    if (pub == NULL && sw_err_class(r.err) == SW_CLASS_CERT)
        snprintf(r.detail, sizeof(r.detail), "%s",
                 cli_fetch_detail(fo, ctx, r.err, msg, sizeof(msg)));
    if (json) {
        /* the chosen header once more, for its decoded "passport" and "claims" */
        if (r.chosen >= 0 && (h = sip_hdr_find(&m, SH_IDENTITY, (size_t)r.chosen)) != NULL &&
            sw_identity_parse(ctx, m.buf + h->value_off, h->value_len, &id) != SW_OK)
            id = NULL;
        rc = print_sip_json(&r, id);
        sw_identity_free(id);
    } else {
        print_sip_text(&r);
        rc = cli_exit_code(r.err);
    }
    free(req);
    if (fflush(stdout) != 0) {
        cli_err(CMD, "cannot write to standard output");
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_INPUT;
    }
    return rc;
}

int cmd_check(int argc, char **argv)
{
    enum {
        OPT_MAX_AGE = 256,
        OPT_SKEW,
        OPT_NOW,
        OPT_ORIG,
        OPT_DEST,
        OPT_JSON,
        OPT_SIP,
        OPT_DEST_RURI,
        OPT_DATE,
        OPT_ANONYMOUS
    };
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"max-age", required_argument, NULL, OPT_MAX_AGE},
        {"skew", required_argument, NULL, OPT_SKEW},
        {"now", required_argument, NULL, OPT_NOW},
        {"orig", required_argument, NULL, OPT_ORIG},
        {"dest", required_argument, NULL, OPT_DEST},
        {"json", no_argument, NULL, OPT_JSON},
        {"input", required_argument, NULL, 'i'},
        {"sip", required_argument, NULL, OPT_SIP},
        {"dest-ruri", no_argument, NULL, OPT_DEST_RURI},
        {"date", required_argument, NULL, OPT_DATE},
        {"anonymous", required_argument, NULL, OPT_ANONYMOUS},
        {"help", no_argument, NULL, 'h'},
        CLI_FETCH_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    cli_fetch_opts fo = {0};
    const char *keyfile = NULL, *orig = NULL, *dest = NULL, *input = NULL, *arg = NULL;
    const char *sip = NULL, *sip_only = NULL;
    struct stir_opts so;
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

    stir_opts_init(&so);
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
        case OPT_SIP:
            sip = optarg;
            break;
        case OPT_DEST_RURI:
            so.dest_ruri = 1;
            sip_only = "--dest-ruri";
            break;
        case OPT_DATE:
            if (strcmp(optarg, "check") == 0) {
                so.date = STIR_DATE_CHECK;
            } else if (strcmp(optarg, "require") == 0) {
                so.date = STIR_DATE_REQUIRE;
            } else if (strcmp(optarg, "ignore") == 0) {
                so.date = STIR_DATE_IGNORE;
            } else {
                cli_err(CMD, "--date '%s': give check, require or ignore",
                        cli_quote(optarg, q, sizeof(q)));
                return CLI_EXIT_USAGE;
            }
            sip_only = "--date";
            break;
        case OPT_ANONYMOUS:
            if (strcmp(optarg, "no-tn") == 0) {
                so.anonymous_is_verified = 0;
            } else if (strcmp(optarg, "verify") == 0) {
                so.anonymous_is_verified = 1;
            } else {
                cli_err(CMD, "--anonymous '%s': give no-tn or verify",
                        cli_quote(optarg, q, sizeof(q)));
                return CLI_EXIT_USAGE;
            }
            sip_only = "--anonymous";
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
    if (sip != NULL && (arg != NULL || input != NULL)) {
        cli_err(CMD, "--sip reads the request from its FILE: give no IDENTITY or --input");
        return CLI_EXIT_USAGE;
    }
    if (sip != NULL && (orig != NULL || dest != NULL)) {
        cli_err(CMD, "with --sip the numbers are read from the request: give no --orig or "
                     "--dest (--dest-ruri reads the called number from the Request-URI)");
        return CLI_EXIT_USAGE;
    }
    if (sip == NULL && sip_only != NULL) {
        cli_err(CMD, "%s is an option of --sip", sip_only);
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
    if (sip != NULL) {
        /* the Date header is bounded like iat, as the filter's max_age and future_skew */
        so.date_max_age = max_age >= 0 ? max_age : so.date_max_age;
        so.date_future_skew = skew >= 0 ? skew : so.date_future_skew;
        rc = check_sip(sip, json, ctx, v, pub, &so, &fo);
        goto out;
    }

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
