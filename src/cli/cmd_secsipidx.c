/*
 * cmd_secsipidx.c - "stirwire secsipidx ARGS", and the tool run under the name
 * secsipidx: the command line of the Go secsipidx (1.2/1.3), for scripts that exec it.
 *
 * The flags are Go's (flag package syntax: -name value, -name=value, --name); the work
 * is done by the libsecsipid drop-in (src/compat), so a check answers the library's
 * code and the exit status is that code modulo 256, as with secsipidx. Outputs match:
 * -sign prints the JWT, -sign-full the bare Identity value, -check "ok" or an "error
 * message:" line and "not-ok". The REST API flags (-http-srv, -https-srv, -http-dir...)
 * are refused with a clear message until stirwire's REST API exists.
 * Rule: stdout carries only what secsipidx prints there; our own diagnostics go to
 * stderr.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#ifdef SW_HAVE_SECSIPID
#include "../compat/secsipid.h"
#endif

#define CMD "secsipidx"

struct sx_opts {
    const char *fprvkey, *fpubkey, *header, *fheader, *payload, *fpayload, *identity, *fidentity;
    const char *alg, *ppt, *typ, *x5u, *attest, *desttn, *origtn, *origid;
    const char *cafile, *cainter, *crlfile, *cachedir;
    const char *httpsrv, *httpssrv, *httpspub, *httpsprv, *httpdir;
    long iat, expire, timeout, certverify, cacheexpire;
    int check, sign, signfull, jsonparse, ltest, version;
};

enum { T_STR, T_LONG, T_BOOL };

struct sx_flag {
    const char *name;
    int type;
    size_t off;
    const char *help;
};

#define S(f) T_STR, offsetof(struct sx_opts, f)
#define L(f) T_LONG, offsetof(struct sx_opts, f)
#define B(f) T_BOOL, offsetof(struct sx_opts, f)

static const struct sx_flag flags[] = {
    {"H", S(httpsrv), "http server bind address"},
    {"S", B(signfull), "sign the header and payload, with parameters"},
    {"a", S(attest), "attestation level (default: 'C')"},
    {"alg", S(alg), "encryption algorithm (default: ES256)"},
    {"attest", S(attest), "attestation level (default: 'C')"},
    {"c", B(check), "check validity of the signature"},
    {"ca-file", S(cafile), "file with root CA certificates in pem format"},
    {"ca-inter", S(cainter), "file with intermediate CA certificates in pem format"},
    {"cache-dir", S(cachedir), "path to the directory with cached certificates"},
    {"cache-expire", L(cacheexpire), "duration of cached certificates (seconds, default 3600)"},
    {"cert-verify", L(certverify), "certificate verification mode (default 0)"},
    {"check", B(check), "check validity of the signature"},
    {"crl-file", S(crlfile), "file with CRL in pem format"},
    {"d", S(desttn), "destination (called) number"},
    {"dest-tn", S(desttn), "destination (called) number"},
    {"expire", L(expire), "duration of token validity (in seconds)"},
    {"fheader", S(fheader), "path to file with header value in JSON format"},
    {"fidentity", S(fidentity), "path to file with identity value"},
    {"fpayload", S(fpayload), "path to file with payload value in JSON format"},
    {"fprvkey", S(fprvkey), "path to private key"},
    {"fpubkey", S(fpubkey), "path to public key"},
    {"header", S(header), "header value in JSON format"},
    {"http-dir", S(httpdir), "directory to serve over http"},
    {"http-srv", S(httpsrv), "http server bind address"},
    {"https-prvkey", S(httpsprv), "https server private key"},
    {"https-pubkey", S(httpspub), "https server public key"},
    {"https-srv", S(httpssrv), "https server bind address"},
    {"iat", L(iat), "timestamp when the token was created"},
    {"identity", S(identity), "identity value"},
    {"json-parse", B(jsonparse), "parse and re-serialize JSON header and payload values"},
    {"k", S(fprvkey), "path to private key"},
    {"l", B(ltest), "run local basic test"},
    {"ltest", B(ltest), "run local basic test"},
    {"o", S(origtn), "origination (calling) number"},
    {"orig-id", S(origid), "origination identifier"},
    {"orig-tn", S(origtn), "origination (calling) number"},
    {"p", S(fpubkey), "path to public key"},
    {"payload", S(payload), "payload value in JSON format"},
    {"ppt", S(ppt), "used extension (default: shaken)"},
    {"s", B(sign), "sign the header and payload"},
    {"sign", B(sign), "sign the header and payload"},
    {"sign-full", B(signfull), "sign the header and payload, with parameters"},
    {"timeout", L(timeout), "http get timeout (in seconds, default: 3)"},
    {"typ", S(typ), "token type (default: passport)"},
    {"version", B(version), "print version"},
    {"x5u", S(x5u), "location of the certificate used to sign the token"},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

void cmd_secsipidx_usage(FILE *out)
{
    size_t i;

    fprintf(out, "Usage of secsipidx (stirwire, libsecsipid 1.3 API):\n"
                 "    (some options have short and long version)\n");
    for (i = 0; i < NFLAGS; i++)
        fprintf(out, "  -%s%s\n    \t%s\n", flags[i].name,
                flags[i].type == T_STR    ? " string"
                : flags[i].type == T_LONG ? " int"
                                          : "",
                flags[i].help);
}

static const struct sx_flag *find_flag(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < NFLAGS; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* Go's flag package: -name, --name, -name=value, -name value; stops at "--" or a non-flag. */
static int parse(int argc, char **argv, struct sx_opts *o)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *val = NULL;
        const struct sx_flag *f;
        char q[64];

        if (a[0] != '-' || a[1] == '\0')
            break;
        a++;
        if (*a == '-') {
            a++;
            if (*a == '\0')
                break;
        }
        eq = strchr(a, '=');
        if (strcmp(a, "h") == 0 || strcmp(a, "help") == 0) {
            cmd_secsipidx_usage(stderr);
            return 0;
        }
        if ((f = find_flag(a, eq ? (size_t)(eq - a) : strlen(a))) == NULL) {
            fprintf(stderr, "flag provided but not defined: -%s\n", cli_quote(a, q, sizeof(q)));
            cmd_secsipidx_usage(stderr);
            return 1;
        }
        if (eq != NULL)
            val = eq + 1;
        if (f->type == T_BOOL) {
            int b = 1;
            if (val != NULL)
                b = strcmp(val, "true") == 0 || strcmp(val, "1") == 0 || strcmp(val, "t") == 0;
            *(int *)((char *)o + f->off) = b;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "flag needs an argument: -%s\n", f->name);
                cmd_secsipidx_usage(stderr);
                return 1;
            }
            val = argv[++i];
        }
        if (f->type == T_STR) {
            *(const char **)((char *)o + f->off) = val;
        } else {
            char *end;
            long n = strtol(val, &end, 0);
            if (*val == '\0' || *end != '\0') {
                fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n",
                        cli_quote(val, q, sizeof(q)), f->name);
                cmd_secsipidx_usage(stderr);
                return 1;
            }
            *(long *)((char *)o + f->off) = n;
        }
    }
    return -1;
}

#ifdef SW_HAVE_SECSIPID
/* A whole file as a string (trailing newline kept), or NULL. */
static char *slurp(const char *path)
{
    char *buf = NULL, msg[256];
    size_t len;

    if (cli_read_input(path, &buf, &len, msg, sizeof(msg)) != SW_OK) {
        fprintf(stderr, "%s\n", msg);
        return NULL;
    }
    return buf;
}

static char *header_json(const struct sx_opts *o)
{
    json_t *h = json_pack("{s:s, s:s, s:s, s:s}", "alg", o->alg, "ppt", o->ppt, "typ", o->typ,
                          "x5u", *o->x5u ? o->x5u : "https://127.0.0.1/cert.pem");
    char *s = h ? json_dumps(h, JSON_COMPACT) : NULL;

    json_decref(h);
    return s;
}

static char *payload_json(const struct sx_opts *o)
{
    char uuid[37];
    json_t *p;
    char *s;

    if (*o->origid == '\0' && sw_uuid_v4(uuid) != SW_OK)
        return NULL;
    p = json_pack("{s:s, s:{s:[s]}, s:I, s:{s:s}, s:s}", "attest", o->attest, "dest", "tn",
                  o->desttn, "iat", (json_int_t)(o->iat ? o->iat : (long)time(NULL)), "orig", "tn",
                  o->origtn, "origid", *o->origid ? o->origid : uuid);
    s = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return s;
}

static int do_sign(const struct sx_opts *o, int full)
{
    char *h, *p, *out = NULL;
    int n;

    if (*o->fprvkey == '\0') {
        printf("path to private key not provided\n");
        return 255;
    }
    h = *o->fheader ? slurp(o->fheader) : *o->header ? strdup(o->header) : header_json(o);
    p = *o->fpayload ? slurp(o->fpayload) : *o->payload ? strdup(o->payload) : payload_json(o);
    if (h == NULL || p == NULL) {
        free(h);
        free(p);
        return 255;
    }
    n = SecSIPIDSignJSONHP(h, p, (char *)o->fprvkey, &out);
    free(h);
    free(p);
    if (n <= 0) {
        printf("Unable to parse ECDSA private key: key must be PEM encoded\n");
        free(out);
        return 255;
    }
    if (full)
        printf("%s;info=<%s>;alg=%s;ppt=%s\n", out, *o->x5u ? o->x5u : "https://127.0.0.1/cert.pem",
               o->alg, o->ppt);
    else
        printf("%s\n", out);
    free(out);
    return 0;
}

static int do_check(const struct sx_opts *o)
{
    char *id = NULL;
    const char *v = o->identity;
    int rc;
    long expire = o->expire;

    if (*o->fidentity) {
        /* secsipidx checks an unreadable file's content as "" (a parse error, -301) */
        if ((id = slurp(o->fidentity)) == NULL && (id = strdup("")) == NULL)
            return 255;
        v = id;
    } else if (*v == '\0' && *o->fidentity == '\0') {
        printf("Identity value not provided\nnot-ok\n");
        free(id);
        return 255;
    }
    /* secsipidx 1.2 checks only with -fpubkey (the library fetches from info) */
    if (*o->fpubkey == '\0') {
        printf("path to public key not provided\nnot-ok\n");
        free(id);
        return 255;
    }
    SecSIPIDOptSetN("CertVerify", (int)o->certverify);
    SecSIPIDOptSetS("CertCAFile", (char *)o->cafile);
    SecSIPIDOptSetS("CertCAInter", (char *)o->cainter);
    SecSIPIDOptSetS("CertCRLFile", (char *)o->crlfile);
    SecSIPIDSetFileCacheOptions((char *)o->cachedir, (int)o->cacheexpire);
    /* As secsipidx: -expire defaults to 0, so a token is valid only in the second it was
     * made; scripts pass -expire. */
    if (expire > INT_MAX / 2)
        expire = INT_MAX / 2;
    rc = SecSIPIDCheckFull((char *)v, 0, (int)expire, (char *)o->fpubkey, (int)o->timeout);
    free(id);
    if (rc == 0) {
        printf("ok\n");
        return 0;
    }
    printf("error message: identity check failed (%d)\nnot-ok\n", rc);
    return rc & 0xff;
}
#endif

int cmd_secsipidx(int argc, char **argv)
{
    struct sx_opts o = {
        .fprvkey = "",
        .fpubkey = "",
        .header = "",
        .fheader = "",
        .payload = "",
        .fpayload = "",
        .identity = "",
        .fidentity = "",
        .alg = "ES256",
        .ppt = "shaken",
        .typ = "passport",
        .x5u = "",
        .attest = "C",
        .desttn = "",
        .origtn = "",
        .origid = "",
        .cafile = "",
        .cainter = "",
        .crlfile = "",
        .cachedir = "",
        .httpsrv = "",
        .httpssrv = "",
        .httpspub = "",
        .httpsprv = "",
        .httpdir = "",
        .timeout = 3,
        .cacheexpire = 3600,
    };
    int rc;

    if ((rc = parse(argc, argv, &o)) >= 0)
        return rc;
    if (o.version) {
        printf("secsipidx v1.3.0 (stirwire %s)\n", sw_version());
        return 1;
    }
    if (*o.httpsrv || *o.httpssrv || *o.httpdir || *o.httpspub || *o.httpsprv) {
        cli_err(CMD, "the HTTP REST API (-http-srv, -https-srv, -http-dir) is not built yet in "
                     "stirwire; use stirwired's REST API when it lands");
        return 1;
    }
    if (o.ltest) {
        cli_err(CMD, "-ltest is not supported");
        return 1;
    }
#ifdef SW_HAVE_SECSIPID
    if (o.signfull)
        return do_sign(&o, 1);
    if (o.sign)
        return do_sign(&o, 0);
    if (o.check)
        return do_check(&o);
#else
    if (o.signfull || o.sign || o.check) {
        cli_err(CMD, "built without the libsecsipid drop-in (--disable-libsecsipid)");
        return 1;
    }
#endif
    printf("secsipidx v1.3.0\nrun 'secsipidx --help' to see the options\n");
    return 0;
}
