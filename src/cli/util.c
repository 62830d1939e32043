/*
 * util.c - helpers the stirwire subcommands share: one-line error messages, strict
 * number parsing, bounded reading of an Identity from an argument, stdin or a file, and
 * the options that set up a certificate verifier (check without --key, cert URL).
 *
 * Everything a subcommand prints about its input passes through here, so that no input,
 * however long or strange, can turn an error into more than one line or a crash. Input
 * is read with a hard cap (CLI_INPUT_MAX); the library refuses an Identity longer than
 * SW_IDENTITY_MAX anyway, the cap only keeps us from reading without bound first.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

const char cli_exit_help[] =
    "Exit status (the error class of the outcome):\n"
    "  0  valid / success\n"
    "  1  usage error (unknown option, missing or bad option value)\n"
    "  2  bad input file, key or argument (cannot read, not P-256, bad number)\n"
    "  3  no Identity\n"
    "  4  malformed Identity or PASSporT (also: too long)\n"
    "  5  stale or future-dated PASSporT\n"
    "  6  claims missing or not matching the call (--orig, --dest)\n"
    "  7  signature does not verify\n"
    "  8  certificate or info problem (cannot be fetched, untrusted, expired, revoked...)\n"
    "  9  internal error\n";

/* Replaces bytes that could break a one-line message. */
static void clean_line(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

static void vline(FILE *out, const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n < 0)
        snprintf(buf, sizeof(buf), "(message cannot be formatted)");
    else if ((size_t)n >= sizeof(buf))
        memcpy(buf + sizeof(buf) - 4, "...", 4);
    clean_line(buf);
    fprintf(out, "%s%s\n", prefix, buf);
}

void cli_err(const char *cmd, const char *fmt, ...)
{
    char prefix[64];
    va_list ap;

    if (cmd != NULL)
        snprintf(prefix, sizeof(prefix), "%s %s: ", CLI_PROG, cmd);
    else
        snprintf(prefix, sizeof(prefix), "%s: ", CLI_PROG);
    va_start(ap, fmt);
    vline(stderr, prefix, fmt, ap);
    va_end(ap);
}

void cli_line(FILE *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline(out, "", fmt, ap);
    va_end(ap);
}

const char *cli_quote(const char *s, char *buf, size_t size)
{
    size_t keep;

    if (size < 8) {
        if (size > 0)
            buf[0] = '\0';
        return buf;
    }
    if (s == NULL)
        s = "(null)";
    keep = size - 4;
    if (strlen(s) <= keep) {
        snprintf(buf, size, "%s", s);
    } else {
        memcpy(buf, s, keep);
        memcpy(buf + keep, "...", 4);
    }
    clean_line(buf);
    return buf;
}

int cli_getopt_error(const char *cmd, int c, int argc, char **argv)
{
    /*
     * getopt_long() leaves the offending word at argv[optind - 1] for a long option;
     * for a short one optopt names it. We print our own message (opterr is 0) so that
     * it is one line that names the subcommand.
     */
    const char *word = (optind > 0 && optind <= argc) ? argv[optind - 1] : NULL;
    char q[80];

    if (word != NULL && strncmp(word, "--", 2) == 0) {
        char name[80];
        size_t n = strcspn(word, "=");
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, word, n);
        name[n] = '\0';
        if (c == ':')
            cli_err(cmd, "option %s needs a value (see '%s %s --help')",
                    cli_quote(name, q, sizeof(q)), CLI_PROG, cmd);
        else if (word[n] == '=')
            cli_err(cmd, "option %s takes no value or is unknown (see '%s %s --help')",
                    cli_quote(name, q, sizeof(q)), CLI_PROG, cmd);
        else
            cli_err(cmd, "unknown option %s (see '%s %s --help')", cli_quote(name, q, sizeof(q)),
                    CLI_PROG, cmd);
    } else if (c == ':') {
        cli_err(cmd, "option -%c needs a value (see '%s %s --help')", optopt, CLI_PROG, cmd);
    } else if (optopt > 0x20 && optopt < 0x7f) {
        cli_err(cmd, "unknown option -%c (see '%s %s --help')", optopt, CLI_PROG, cmd);
    } else {
        cli_err(cmd, "unknown option (see '%s %s --help')", CLI_PROG, cmd);
    }
    return CLI_EXIT_USAGE;
}

int cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
                  int64_t *out)
{
    char q[80];
    char *end = NULL;
    long long v;

    errno = 0;
    /* strtoll skips leading white space; a value like " 5" is still not what we accept. */
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
        cli_err(cmd, "%s '%s' is not a number", opt, cli_quote(s, q, sizeof(q)));
        return -1;
    }
    v = strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
        cli_err(cmd, "%s '%s' is not a number", opt, cli_quote(s, q, sizeof(q)));
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        cli_err(cmd, "%s '%s' is out of range (%lld to %lld)", opt, cli_quote(s, q, sizeof(q)),
                (long long)min, (long long)max);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cli_exit_code(sw_err err)
{
    int cls = (int)sw_err_class(err);

    if (cls < (int)SW_CLASS_OK || cls > (int)SW_CLASS_INTERNAL)
        return CLI_EXIT_INTERNAL;
    return cls;
}

sw_err cli_read_input(const char *path, char **buf, size_t *len, char *msg, size_t msgsize)
{
    int is_stdin = (path == NULL || strcmp(path, "-") == 0);
    const char *name = is_stdin ? "standard input" : path;
    char q[80];
    FILE *f;
    char *b;
    size_t n = 0;

    *buf = NULL;
    *len = 0;
    msg[0] = '\0';
    /* One byte more than the cap tells "exactly 64 KiB" from "more". */
    if ((b = malloc(CLI_INPUT_MAX + 2)) == NULL) {
        snprintf(msg, msgsize, "out of memory");
        return SW_ERR_NOMEM;
    }
    if (is_stdin) {
        f = stdin;
    } else if ((f = fopen(path, "rb")) == NULL) {
        snprintf(msg, msgsize, "cannot open %s: %s", cli_quote(name, q, sizeof(q)),
                 strerror(errno));
        free(b);
        return SW_ERR_IO;
    }
    while (n < CLI_INPUT_MAX + 1) {
        size_t got = fread(b + n, 1, CLI_INPUT_MAX + 1 - n, f);
        if (got == 0)
            break;
        n += got;
    }
    if (ferror(f)) {
        snprintf(msg, msgsize, "cannot read %s: %s", cli_quote(name, q, sizeof(q)),
                 strerror(errno));
        if (!is_stdin)
            fclose(f);
        free(b);
        return SW_ERR_IO;
    }
    if (!is_stdin)
        fclose(f);
    if (n > CLI_INPUT_MAX) {
        snprintf(msg, msgsize, "%s is longer than %d KiB, the most stirwire reads",
                 cli_quote(name, q, sizeof(q)), CLI_INPUT_MAX / 1024);
        free(b);
        return SW_ERR_IDENTITY_TOO_LONG;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return SW_OK;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* If s (of len bytes) starts with the header name, then optional blanks and ':', skips it. */
static size_t header_name_len(const char *s, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    size_t i;

    if (len < nlen + 1 || strncasecmp(s, name, nlen) != 0)
        return 0;
    i = nlen;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < len && s[i] == ':')
        return i + 1;
    return 0;
}

const char *cli_identity_trim(const char *s, size_t *len)
{
    size_t n = *len;
    size_t skip;

    while (n > 0 && is_ws(*s)) {
        s++;
        n--;
    }
    if ((skip = header_name_len(s, n, "Identity")) == 0)
        skip = header_name_len(s, n, "y");
    s += skip;
    n -= skip;
    while (n > 0 && is_ws(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_ws(s[n - 1]))
        n--;
    *len = n;
    return s;
}

sw_err cli_get_identity(const char *arg, const char *path, char **owned, const char **value,
                        size_t *len, char *msg, size_t msgsize)
{
    struct stat st;
    sw_err err;

    *owned = NULL;
    *value = NULL;
    *len = 0;
    msg[0] = '\0';
    /*
     * An argument that names a regular file is that file: "stirwire check identity.txt"
     * is what a user types, and no Identity value is also the name of a file (it would
     * need a file named like a 100-character base64url token in the current directory).
     */
    if (arg != NULL && path == NULL && strcmp(arg, "-") != 0 && stat(arg, &st) == 0 &&
        S_ISREG(st.st_mode)) {
        path = arg;
        arg = NULL;
    }
    if (arg != NULL && strcmp(arg, "-") != 0) {
        *len = strlen(arg);
        *value = cli_identity_trim(arg, len);
    } else {
        if ((err = cli_read_input(path, owned, len, msg, msgsize)) != SW_OK)
            return err;
        *value = cli_identity_trim(*owned, len);
    }
    if (*len == 0) {
        snprintf(msg, msgsize, "the input is empty");
        return SW_ERR_IDENTITY_MISSING;
    }
    return SW_OK;
}

void cli_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;

    while (len-- > 0)
        *v++ = 0;
}

json_t *cli_json_str(const char *s)
{
    json_t *j;
    char *copy;
    size_t i, n;

    if (s == NULL)
        return json_null();
    if ((j = json_string(s)) != NULL)
        return j;
    /* Not valid UTF-8: keep the ASCII and mark every other byte. */
    n = strlen(s);
    if ((copy = malloc(n + 1)) == NULL)
        return json_null();
    for (i = 0; i < n; i++)
        copy[i] = ((unsigned char)s[i] < 0x80) ? s[i] : '?';
    copy[n] = '\0';
    j = json_string(copy);
    free(copy);
    return j != NULL ? j : json_null();
}

void cli_key_error(const char *cmd, const sw_ctx *ctx, sw_err err, const char *path)
{
    const char *detail = ctx != NULL ? sw_errmsg(ctx) : NULL;
    char q[200];

    if (detail == NULL || *detail == '\0' || strcmp(detail, sw_strerror(err)) == 0)
        cli_err(cmd, "cannot read key %s: %s", cli_quote(path, q, sizeof(q)), sw_strerror(err));
    else
        cli_err(cmd, "cannot read key %s: %s: %s", cli_quote(path, q, sizeof(q)), sw_strerror(err),
                detail);
}

const char *cli_iso_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "?");
    return buf;
}

/* --- fetching certificates ------------------------------------------------------------ */

const char cli_fetch_help[] =
    "      --ca-file FILE     trust anchors (PEM), e.g. the STI-PA roots; repeatable\n"
    "      --ca-dir DIR       trust anchors in a hashed directory (openssl rehash)\n"
    "      --crl FILE         a CRL (PEM or DER) to check revocation with; repeatable\n"
    "      --no-chain         do not require a chain to a trust anchor (lab use only)\n"
    "      --no-crl-fetch     do not fetch the certificate's CRL distribution point\n"
    "      --allow-http       also fetch http:// URLs (default: https only)\n"
    "      --allow-private    allow loopback, private and special-purpose addresses\n"
    "      --allow-any-port   allow ports other than 443 and 8443\n"
    "      --allow-query      allow user information, query and fragment in the URL\n"
    "      --tls-ca FILE      CA bundle for the HTTPS certificate of the x5u host\n"
    "                         (default: the system's)\n"
    "      --timeout SECONDS  how long one fetch may take, connecting included; decimals\n"
    "                         allowed (default 4, of which at most 2 to connect)\n"
    "      --cache-dir DIR    keep fetched certificates in DIR and reuse fresh ones\n";

/* Longest --timeout: an hour, far beyond any sensible certificate fetch. */
#define FETCH_TIMEOUT_MAX_MS 3600000L

/*
 * Parses SECONDS with up to millisecond precision ("4", "0.5", "2.25"); digits beyond
 * the third decimal are accepted and dropped. Written by hand rather than with strtod,
 * which would also take "inf", "0x1p2" and the locale's decimal separator.
 */
static int parse_timeout(const char *cmd, const char *s, long *ms)
{
    char q[80];
    const char *p = s;
    long whole = 0, frac = 0, scale = 100;
    int digits = 0;

    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        whole = whole * 10 + (*p - '0');
        if (whole > FETCH_TIMEOUT_MAX_MS / 1000)
            goto range;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (digits == 0 || *p != '\0') {
        cli_err(cmd, "--timeout '%s' is not a number of seconds", cli_quote(s, q, sizeof(q)));
        return -1;
    }
    *ms = whole * 1000 + frac;
    if (*ms < 1 || *ms > FETCH_TIMEOUT_MAX_MS)
        goto range;
    return 0;
range:
    cli_err(cmd, "--timeout '%s' is out of range (0.001 to %ld seconds)",
            cli_quote(s, q, sizeof(q)), FETCH_TIMEOUT_MAX_MS / 1000);
    return -1;
}

static int add_file(const char *cmd, const char *opt, const char **list, size_t *n, const char *arg)
{
    if (*n >= CLI_FETCH_FILES_MAX) {
        cli_err(cmd, "%s may be given at most %d times", opt, CLI_FETCH_FILES_MAX);
        return -1;
    }
    list[(*n)++] = arg;
    return 1;
}

int cli_fetch_opt(const char *cmd, cli_fetch_opts *fo, int c, const char *arg)
{
    int r = 1;

    switch (c) {
    case CLI_FOPT_CA_FILE:
        r = add_file(cmd, "--ca-file", fo->ca_files, &fo->n_ca_files, arg);
        break;
    case CLI_FOPT_CA_DIR:
        r = add_file(cmd, "--ca-dir", fo->ca_dirs, &fo->n_ca_dirs, arg);
        break;
    case CLI_FOPT_CRL:
        r = add_file(cmd, "--crl", fo->crl_files, &fo->n_crl_files, arg);
        break;
    case CLI_FOPT_ALLOW_HTTP:
        fo->allow_http = 1;
        break;
    case CLI_FOPT_ALLOW_PRIVATE:
        fo->allow_private = 1;
        break;
    case CLI_FOPT_ALLOW_ANY_PORT:
        fo->allow_any_port = 1;
        break;
    case CLI_FOPT_ALLOW_QUERY:
        fo->allow_query = 1;
        break;
    case CLI_FOPT_NO_CHAIN:
        fo->no_chain = 1;
        break;
    case CLI_FOPT_NO_CRL_FETCH:
        fo->no_crl_fetch = 1;
        break;
    case CLI_FOPT_TIMEOUT:
        r = parse_timeout(cmd, arg, &fo->timeout_ms) == 0 ? 1 : -1;
        break;
    case CLI_FOPT_TLS_CA:
        fo->tls_ca = arg;
        break;
    case CLI_FOPT_CACHE_DIR:
        fo->cache_dir = arg;
        break;
    default:
        return 0;
    }
    if (r == 1)
        fo->given = 1;
    return r;
}

int cli_fetch_has_anchors(const cli_fetch_opts *fo)
{
    return fo->n_ca_files > 0 || fo->n_ca_dirs > 0;
}

/* Reports that a file or directory option cannot be used; sets *rc. */
static void fetch_file_error(const char *cmd, const sw_ctx *ctx, sw_err err, const char *opt,
                             const char *path, int *rc)
{
    const char *detail = sw_errmsg(ctx);
    char q[200];

    if (detail == NULL || *detail == '\0')
        detail = sw_strerror(err);
    cli_err(cmd, "%s %s: %s", opt, cli_quote(path, q, sizeof(q)), detail);
    *rc = cli_exit_code(err);
}

sw_verifier *cli_verifier_new(const char *cmd, const cli_fetch_opts *fo, sw_ctx *ctx, int *rc)
{
    sw_verifier *v;
    sw_err err = SW_OK;
    size_t i;

    if ((v = sw_verifier_new()) == NULL) {
        cli_err(cmd, "out of memory");
        *rc = CLI_EXIT_INTERNAL;
        return NULL;
    }
    /* The setters refuse only bad values, and these are all in range. */
    sw_verifier_set_long(v, SW_OPT_ALLOW_HTTP, fo->allow_http);
    sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, fo->allow_private);
    sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, fo->allow_any_port);
    sw_verifier_set_long(v, SW_OPT_ALLOW_QUERY, fo->allow_query);
    sw_verifier_set_long(v, SW_OPT_REQUIRE_CHAIN, !fo->no_chain);
    sw_verifier_set_long(v, SW_OPT_CRL_FETCH, !fo->no_crl_fetch);
    if (fo->timeout_ms > 0) {
        /* One budget for the whole fetch: a slow connect may use all of it. */
        sw_verifier_set_long(v, SW_OPT_TIMEOUT_MS, fo->timeout_ms);
        sw_verifier_set_long(v, SW_OPT_CONNECT_TIMEOUT_MS, fo->timeout_ms);
    }
    if ((fo->tls_ca != NULL && (err = sw_verifier_set_str(v, SW_OPT_TLS_CA_FILE, fo->tls_ca))) ||
        (fo->cache_dir != NULL &&
         (err = sw_verifier_set_str(v, SW_OPT_CACHE_DIR, fo->cache_dir)))) {
        cli_err(cmd, "%s", sw_strerror(err));
        *rc = cli_exit_code(err);
        goto fail;
    }
    for (i = 0; i < fo->n_ca_files; i++)
        if ((err = sw_verifier_load_ca_file(v, ctx, fo->ca_files[i])) != SW_OK) {
            fetch_file_error(cmd, ctx, err, "--ca-file", fo->ca_files[i], rc);
            goto fail;
        }
    for (i = 0; i < fo->n_ca_dirs; i++)
        if ((err = sw_verifier_load_ca_dir(v, ctx, fo->ca_dirs[i])) != SW_OK) {
            fetch_file_error(cmd, ctx, err, "--ca-dir", fo->ca_dirs[i], rc);
            goto fail;
        }
    for (i = 0; i < fo->n_crl_files; i++)
        if ((err = sw_verifier_load_crl_file(v, ctx, fo->crl_files[i])) != SW_OK) {
            fetch_file_error(cmd, ctx, err, "--crl", fo->crl_files[i], rc);
            goto fail;
        }
    return v;
fail:
    sw_verifier_free(v);
    return NULL;
}

const char *cli_fetch_detail(const cli_fetch_opts *fo, const sw_ctx *ctx, sw_err err, char *buf,
                             size_t size)
{
    const char *detail = sw_errmsg(ctx);

    if (detail == NULL)
        detail = "";
    /*
     * Without anchors the library can only say that none are configured; the user needs
     * to know which option gives them.
     */
    if (err == SW_ERR_CERT_UNTRUSTED && !fo->no_chain && !cli_fetch_has_anchors(fo))
        snprintf(buf, size, "%s%suse --ca-file/--ca-dir with your STI-PA trust anchors", detail,
                 *detail ? "; " : "");
    else
        snprintf(buf, size, "%s", detail);
    return buf;
}
