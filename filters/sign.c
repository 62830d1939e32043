/*
 * sign.c - the `sign` filter: puts a SHAKEN Identity header on requests that leave a trunk.
 *
 * The calling number comes from P-Asserted-Identity (else From), the called number from
 * To (or the Request-URI), the attestation from the trunk's number rules (first match
 * wins), iat from the Date header (a Date line is added when there is none; one more
 * than 60 s from our clock is replaced, or the request left unsigned, as sign.date says:
 * RFC 8224 section 6.1 makes the signer answer for the Date), and the key and x5u from
 * the trunk's `sign` group. sign.cert, when given, is the certificate the x5u serves:
 * configure() refuses a key that is not the certificate's and an expired certificate,
 * and the daemon compares it with what the x5u serves at start (swf_sign_info). The result is
 * spliced in as one "Identity:" line at the end of the header section; an Identity already there is
 * replaced or kept, as the trunk says. Every setting is checked in configure(), so the
 * request hook has no configuration errors left to meet.
 *
 * Rules: the configured state (the key above all) is shared read-only by every worker;
 * all per-call work uses call->ctx. The private key is read once, here, and nowhere else
 * in the daemon. A request the filter cannot sign is forwarded unsigned, never dropped
 * (see sign_request for why).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../src/core/conf.h" /* struct sw_services: the clock */
#include "../src/core/filter.h"
#include "../src/sip/fields.h"
#include "sign.h"

/*
 * One entry of a rule's numbers: an exact number, a prefix, or a range.
 *
 * "13035550100" is that number and no other; "1303555*" (a trailing '*') is every number
 * that starts with 1303555. For files written before the '*' existed, when a prefix was
 * written bare, an entry without '*' that is too short to be a whole number with its
 * country code (under SIGN_MIN_EXACT digits: "1202555") is still a prefix; the manual
 * asks for the '*'.
 */
enum tn_kind { TN_EXACT, TN_PREFIX, TN_RANGE };
#define SIGN_MIN_EXACT 8

struct tn_match {
    enum tn_kind kind;
    size_t len;         /* length of lo (and of hi, for a range) */
    char lo[SW_TN_MAX]; /* the prefix, or the first number of the range */
    char hi[SW_TN_MAX]; /* the last number of the range */
};

struct attest_rule {
    struct tn_match *numbers; /* NULL with nnumbers 0: the rule matches any number */
    size_t nnumbers;
    char level; /* 'A', 'B' or 'C' */
};

struct sign_conf {
    sw_key *key;
    char *x5u;
    char *origid; /* NULL: a fresh UUID for each call */
    struct attest_rule *rules;
    size_t nrules;
    int dest_ruri;     /* dest from the Request-URI, not To */
    int keep_existing; /* leave a request that has an Identity alone */
    int add_date;      /* add a Date header when the request has none */
    int date_mode;     /* DATE_REPLACE, DATE_UNSIGNED or DATE_KEEP: a Date far from our clock */
    sw_cert *cert;     /* sign.cert: the certificate the x5u serves, NULL when not given */
    char *cert_path;
    struct swf_methods methods;
};

/* sign.date: what becomes of a Date header more than DATE_SKEW s from our clock. */
enum { DATE_REPLACE, DATE_UNSIGNED, DATE_KEEP };
#define DATE_SKEW 60

/* The filter's counters (filter.h): indexes into sign_counters. */
enum {
    SIGN_SIGNED_A,
    SIGN_SIGNED_B,
    SIGN_SIGNED_C,
    SIGN_NO_NUMBER,     /* no telephone number for orig or dest: forwarded unsigned */
    SIGN_NO_RULE,       /* no attest rule for orig: forwarded unsigned */
    SIGN_ERROR,         /* signing or editing failed: forwarded unsigned */
    SIGN_KEPT_EXISTING, /* existing = "keep" and an Identity was there */
    SIGN_STALE_DATE,    /* date = "unsigned" and the Date was stale or unreadable */
    SIGN_DATE_REPLACED, /* date = "replace" put our Date in place of a stale one */
};
static const char *const sign_counters[] = {
    "signed_a",         "signed_b",
    "signed_c",         "unsigned_no_number",
    "unsigned_no_rule", "unsigned_error",
    "kept_existing",    "unsigned_stale_date",
    "date_replaced",    NULL,
};

/* --- reading the settings --------------------------------------------------------------- */

static int is_uuid(const char *s)
{
    size_t i;

    if (strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/*
 * An x5u goes into the Identity header as info=<...>: it must be writable there (the
 * library's sw_x5u_check), and, since every verifier's default policy fetches https only,
 * an https URL with a host.
 */
static int check_x5u(const char *url)
{
    if (strncasecmp(url, "https://", 8) != 0 || url[8] == '\0' || url[8] == '/')
        return -1;
    return sw_x5u_check(url) == SW_OK ? 0 : -1;
}

static int all_digits(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/*
 * One numbers entry. A '-' is both a visual separator (sw_tn_canon drops it) and the
 * range mark, so: an entry with exactly one '-' is a range, and its two sides must be
 * numbers of equal length ("12025550100-12025550199"); an entry with no '-' or several
 * ("1-202-555-0100") is one number or prefix. Spaces, dots and a leading '+' are
 * separators everywhere ("+1 202 555 0100").
 */
static int parse_entry(const char *s, struct tn_match *out, char *why, size_t whylen)
{
    const char *dash = strchr(s, '-');
    char left[128];
    size_t n;

    memset(out, 0, sizeof(*out));
    if (dash == NULL || strchr(dash + 1, '-') != NULL) {
        char one[128];
        size_t len = strlen(s);
        int star = len > 0 && s[len - 1] == '*';

        if (len >= sizeof(one)) {
            snprintf(why, whylen, "\"%s\" is too long", s);
            return -1;
        }
        memcpy(one, s, len + 1);
        if (star)
            one[--len] = '\0';
        if (strchr(one, '*') != NULL || sw_tn_canon(one, out->lo, sizeof(out->lo)) != SW_OK ||
            (star && !all_digits(out->lo))) {
            snprintf(why, whylen,
                     "\"%s\" is not a telephone number, a prefix (\"1202555*\") or a range", s);
            return -1;
        }
        out->len = strlen(out->lo);
        out->kind = star || out->len < SIGN_MIN_EXACT ? TN_PREFIX : TN_EXACT;
        return 0;
    }
    n = (size_t)(dash - s);
    if (n >= sizeof(left)) {
        snprintf(why, whylen, "\"%s\" is too long", s);
        return -1;
    }
    memcpy(left, s, n);
    left[n] = '\0';
    if (sw_tn_canon(left, out->lo, sizeof(out->lo)) != SW_OK ||
        sw_tn_canon(dash + 1, out->hi, sizeof(out->hi)) != SW_OK || !all_digits(out->lo) ||
        !all_digits(out->hi)) {
        snprintf(why, whylen, "\"%s\" is not a range of two telephone numbers", s);
        return -1;
    }
    out->len = strlen(out->lo);
    if (strlen(out->hi) != out->len) {
        snprintf(why, whylen,
                 "range \"%s\" needs two numbers of the same length "
                 "(write a single number with spaces or dots, not one '-')",
                 s);
        return -1;
    }
    if (strcmp(out->lo, out->hi) > 0) {
        snprintf(why, whylen, "range \"%s\" ends before it starts", s);
        return -1;
    }
    out->kind = TN_RANGE;
    return 0;
}

static const char *const rule_keys[] = {"numbers", "level", NULL};

/* Whether every number that e matches is matched by f. */
static int covers(const struct tn_match *f, const struct tn_match *e)
{
    switch (f->kind) {
    case TN_PREFIX:
        /* a range of equal-length numbers whose ends share the prefix lies inside it */
        return e->len >= f->len && memcmp(e->lo, f->lo, f->len) == 0 &&
               (e->kind != TN_RANGE || memcmp(e->hi, f->lo, f->len) == 0);
    case TN_EXACT:
        return e->kind == TN_EXACT && e->len == f->len && strcmp(e->lo, f->lo) == 0;
    case TN_RANGE:
        return e->kind != TN_PREFIX && e->len == f->len && strcmp(e->lo, f->lo) >= 0 &&
               strcmp(e->kind == TN_RANGE ? e->hi : e->lo, f->hi) <= 0;
    }
    return 0;
}

/*
 * A rule no caller can reach: one after a rule without numbers (which matches every
 * caller), or one whose every entry an earlier rule's entries already match. First match
 * wins, so such a rule is a mistake `stirwired -t` must show, not a silent no-op.
 */
static void check_reachable(struct swf_conf *fc, const config_setting_t *attest,
                            const struct sign_conf *sc)
{
    size_t i, j, k, m;

    for (i = 1; i < sc->nrules; i++) {
        const struct attest_rule *r = &sc->rules[i];
        const config_setting_t *at = config_setting_get_elem(attest, (unsigned)i);
        size_t covered = 0;

        for (j = 0; j < i; j++) {
            if (sc->rules[j].nnumbers == 0 && sc->rules[j].level != 0) {
                swf_error(fc, at,
                          "sign.attest[%zu]: unreachable: sign.attest[%zu] before it has no "
                          "numbers and matches every caller",
                          i, j);
                break;
            }
        }
        if (j < i || r->nnumbers == 0)
            continue;
        for (k = 0; k < r->nnumbers; k++) {
            int c = 0;
            for (j = 0; j < i && !c; j++)
                for (m = 0; m < sc->rules[j].nnumbers && !c; m++)
                    c = covers(&sc->rules[j].numbers[m], &r->numbers[k]);
            covered += c != 0;
        }
        if (covered == r->nnumbers)
            swf_error(fc, at,
                      "sign.attest[%zu]: unreachable: every number it lists is matched by an "
                      "earlier rule (first match wins)",
                      i);
    }
}

/* One attest rule; every mistake in it is reported at its own line. */
static void read_rule(struct swf_conf *fc, const config_setting_t *r, size_t idx,
                      struct attest_rule *rule)
{
    const config_setting_t *nums, *s;
    char path[48], why[192];
    const char *v = NULL;
    int i, n;

    snprintf(path, sizeof(path), "sign.attest[%zu]", idx);
    if (!config_setting_is_group(r)) {
        swf_error(fc, r, "%s: must be a group { numbers = [...]; level = ...; }", path);
        return;
    }
    swf_check_keys(fc, r, path, rule_keys);
    if (config_setting_get_member(r, "level") == NULL)
        swf_error(fc, r, "%s.level: missing (A, B or C)", path);
    else if (swf_get_string(fc, r, path, "level", &v) > 0) {
        if (strlen(v) != 1 || strchr("ABC", v[0]) == NULL)
            swf_error(fc, config_setting_get_member(r, "level"), "%s.level: must be A, B or C",
                      path);
        else
            rule->level = v[0];
    }
    if ((nums = config_setting_get_member(r, "numbers")) == NULL)
        return;
    if (!config_setting_is_array(nums) && !config_setting_is_list(nums)) {
        swf_error(fc, nums, "%s.numbers: must be a list of strings", path);
        return;
    }
    if ((n = config_setting_length(nums)) == 0) {
        swf_error(fc, nums, "%s.numbers: empty (leave numbers out to match any number)", path);
        return;
    }
    if ((rule->numbers = calloc((size_t)n, sizeof(*rule->numbers))) == NULL) {
        swf_error(fc, nums, "%s.numbers: out of memory", path);
        return;
    }
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(nums, (unsigned)i);
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            swf_error(fc, s, "%s.numbers[%d]: must be a string", path, i);
        else if (parse_entry(config_setting_get_string(s), &rule->numbers[rule->nnumbers], why,
                             sizeof(why)) != 0)
            swf_error(fc, s, "%s.numbers[%d]: %s", path, i, why);
        else
            rule->nnumbers++;
    }
}

static void sign_free(void *state)
{
    struct sign_conf *sc = state;
    size_t i;

    if (sc == NULL)
        return;
    sw_key_free(sc->key);
    sw_cert_free(sc->cert);
    free(sc->cert_path);
    free(sc->x5u);
    free(sc->origid);
    for (i = 0; i < sc->nrules; i++)
        free(sc->rules[i].numbers);
    free(sc->rules);
    free(sc);
}

/* Checked by the loader, with "did you mean", before sign_configure runs. */
static const char *const sign_settings[] = {"key",     "x5u",      "attest",   "origid",
                                            "dest",    "existing", "add_date", "date",
                                            "methods", "cert",     NULL};

int swf_sign_key_matches(sw_ctx *ctx, const sw_key *key, const sw_cert *cert)
{
    static const char *const dest[] = {"12025550199"};
    int64_t now = sw_ctx_now(ctx);
    char *token = NULL;
    int ok;

    /*
     * Sign a token and verify it with the certificate's key, as every verifier will: the
     * library has no key comparison, and this one proves exactly what matters (that the
     * signatures we make verify with what the x5u serves). One ECDSA sign and verify, at
     * load time only.
     */
    if (sw_sign_shaken(ctx, key, 'A', "12025550100", dest, 1, now, NULL, "https://x.invalid/c", 0,
                       &token) != SW_OK)
        return -1;
    ok = sw_verify_header(ctx, token, strlen(token), sw_cert_pubkey(cert), "12025550100",
                          dest[0]) == SW_OK;
    sw_free(token);
    return ok;
}

/*
 * sign.cert: the certificate the x5u serves, read to catch at -t what every verifier
 * would refuse: a key that is not the certificate's (each signature fails, 438), and a
 * certificate past its notAfter (437). One that expires soon is only a warning, which
 * the daemon gives (swf_sign_info: configure() has no channel for warnings).
 */
static void read_cert(struct swf_conf *fc, const config_setting_t *g, struct sign_conf *sc,
                      sw_ctx *ctx)
{
    const config_setting_t *at = config_setting_get_member(g, "cert");
    const char *path = NULL;
    int64_t now = fc->svc != NULL && fc->svc->clock != NULL ? fc->svc->clock() : sw_ctx_now(ctx);
    char when[40];
    sw_err e;
    int m;

    if (swf_get_string(fc, g, "sign", "cert", &path) <= 0)
        return;
    if ((e = sw_cert_load_file(ctx, path, &sc->cert)) != SW_OK) {
        swf_error(fc, at, "sign.cert: cannot load %s: %s (%s)", path, sw_strerror(e),
                  sw_errmsg(ctx));
        return;
    }
    if ((sc->cert_path = strdup(path)) == NULL) {
        swf_error(fc, at, "sign.cert: out of memory");
        return;
    }
    if (sw_cert_not_after(sc->cert) < now) {
        sip_date_format(sw_cert_not_after(sc->cert), when, sizeof(when));
        swf_error(fc, at,
                  "sign.cert: %s expired on %s: every verifier refuses calls signed with it", path,
                  when);
    }
    sw_ctx_set_now(ctx, now);
    if ((m = swf_sign_key_matches(ctx, sc->key, sc->cert)) <= 0)
        swf_error(fc, at,
                  "sign.cert: %s does not hold the public key of sign.key%s: verifiers would "
                  "refuse every signature",
                  path, m < 0 ? " (a test signature failed)" : "");
}

static void read_settings(struct swf_conf *fc, const config_setting_t *g, struct sign_conf *sc)
{
    const config_setting_t *attest;
    const char *v = NULL, *keypath = NULL;
    size_t i;
    sw_ctx *ctx;
    sw_err e;
    int r, n;

    if ((r = swf_get_string(fc, g, "sign", "x5u", &v)) == 0)
        swf_error(fc, g, "sign.x5u: missing (the https URL of the signing certificate)");
    else if (r > 0 && check_x5u(v) != 0)
        swf_error(fc, config_setting_get_member(g, "x5u"), "sign.x5u: \"%s\" is not an https URL",
                  v);
    else if (r > 0 && (sc->x5u = strdup(v)) == NULL)
        swf_error(fc, g, "sign.x5u: out of memory");

    if ((attest = config_setting_get_member(g, "attest")) == NULL) {
        swf_error(fc, g, "sign.attest: missing (rules such as ( { level = \"A\"; } ))");
    } else if (!config_setting_is_list(attest)) {
        swf_error(fc, attest, "sign.attest: must be a list of rules ( { ... }, { ... } )");
    } else if ((n = config_setting_length(attest)) == 0) {
        swf_error(fc, attest, "sign.attest: empty (nothing would ever be signed)");
    } else if ((sc->rules = calloc((size_t)n, sizeof(*sc->rules))) == NULL) {
        swf_error(fc, attest, "sign.attest: out of memory");
    } else {
        for (i = 0; i < (size_t)n; i++) {
            sc->nrules++; /* counted first, so sign_free releases a half-read rule */
            read_rule(fc, config_setting_get_elem(attest, (unsigned)i), i, &sc->rules[i]);
        }
        check_reachable(fc, attest, sc);
    }

    if (swf_get_string(fc, g, "sign", "origid", &v) > 0 && strcmp(v, "per-call") != 0) {
        if (!is_uuid(v))
            swf_error(fc, config_setting_get_member(g, "origid"),
                      "sign.origid: must be \"per-call\" or a UUID, not \"%s\"", v);
        else if ((sc->origid = strdup(v)) == NULL)
            swf_error(fc, g, "sign.origid: out of memory");
    }

    if (swf_get_string(fc, g, "sign", "dest", &v) > 0) {
        if (strcmp(v, "to") != 0 && strcmp(v, "ruri") != 0)
            swf_error(fc, config_setting_get_member(g, "dest"),
                      "sign.dest: must be \"to\" or \"ruri\", not \"%s\"", v);
        sc->dest_ruri = strcmp(v, "ruri") == 0;
    }

    if (swf_get_string(fc, g, "sign", "existing", &v) > 0) {
        if (strcmp(v, "replace") != 0 && strcmp(v, "keep") != 0)
            swf_error(fc, config_setting_get_member(g, "existing"),
                      "sign.existing: must be \"replace\" or \"keep\", not \"%s\"", v);
        sc->keep_existing = strcmp(v, "keep") == 0;
    }

    sc->add_date = 1;
    swf_get_bool(fc, g, "sign", "add_date", &sc->add_date);

    if (swf_get_string(fc, g, "sign", "date", &v) > 0) {
        if (strcmp(v, "replace") == 0)
            sc->date_mode = DATE_REPLACE;
        else if (strcmp(v, "unsigned") == 0)
            sc->date_mode = DATE_UNSIGNED;
        else if (strcmp(v, "keep") == 0)
            sc->date_mode = DATE_KEEP;
        else
            swf_error(fc, config_setting_get_member(g, "date"),
                      "sign.date: must be \"replace\", \"unsigned\" or \"keep\", not \"%s\"", v);
    }

    swf_get_methods(fc, g, "sign", &sc->methods);

    /* The key last: a config with other mistakes never touches the key file. */
    if ((r = swf_get_string(fc, g, "sign", "key", &keypath)) == 0)
        swf_error(fc, g, "sign.key: missing (the PEM file of the signing key)");
    if (r <= 0 || swf_errors(fc) > 0)
        return;
    if ((ctx = sw_ctx_new()) == NULL) {
        swf_error(fc, g, "sign.key: out of memory");
        return;
    }
    if ((e = sw_key_load_file(ctx, keypath, &sc->key)) != SW_OK)
        swf_error(fc, config_setting_get_member(g, "key"), "sign.key: cannot load %s: %s (%s)",
                  keypath, sw_strerror(e), sw_errmsg(ctx));
    else
        read_cert(fc, g, sc, ctx);
    sw_ctx_free(ctx);
}

static int sign_configure(struct swf_conf *fc, void **state)
{
    struct sign_conf *sc;

    *state = NULL;
    if (fc->group == NULL) {
        swf_error(fc, fc->trunk,
                  "sign: missing group sign = { key = ...; x5u = ...; attest = ...; }");
        return -1;
    }
    if ((sc = calloc(1, sizeof(*sc))) == NULL) {
        swf_error(fc, NULL, "sign: out of memory");
        return -1;
    }
    read_settings(fc, fc->group, sc);
    if (swf_errors(fc) > 0) {
        sign_free(sc);
        return -1;
    }
    *state = sc;
    return 0;
}

/* --- signing a request ------------------------------------------------------------------ */

/* The level of the first rule that matches tn, or 0. */
static char attest_level(const struct sign_conf *sc, const char *tn)
{
    size_t len = strlen(tn), i, k;

    for (i = 0; i < sc->nrules; i++) {
        const struct attest_rule *r = &sc->rules[i];

        if (r->nnumbers == 0)
            return r->level;
        for (k = 0; k < r->nnumbers; k++) {
            const struct tn_match *t = &r->numbers[k];

            if (t->kind == TN_EXACT && len == t->len && memcmp(tn, t->lo, len) == 0)
                return r->level;
            if (t->kind == TN_PREFIX && len >= t->len && memcmp(tn, t->lo, t->len) == 0)
                return r->level;
            if (t->kind == TN_RANGE && len == t->len && strcmp(tn, t->lo) >= 0 &&
                strcmp(tn, t->hi) <= 0)
                return r->level;
        }
    }
    return 0;
}

/* dst = src, cut to fit; snprintf's format parsing costs more than the signing path allows */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* What we signed, for the filters after us (audit) and the counters. */
static void set_verdict(const struct sign_conf *sc, struct swf_call *call, char level,
                        const char *orig, const char *dest)
{
    struct swf_verdict *v = &call->verdict;

    v->set = 1;
    v->signed_here = 1;
    v->attest = level;
    copy_str(v->orig, sizeof(v->orig), orig);
    copy_str(v->dest, sizeof(v->dest), dest);
    /* a per-call origid is drawn inside sw_sign_shaken and not reported back */
    copy_str(v->origid, sizeof(v->origid), sc->origid != NULL ? sc->origid : "");
    copy_str(v->x5u, sizeof(v->x5u), sc->x5u);
    v->spc[0] = '\0';
    v->err = SW_OK;
}

/* Signs the PASSporT; the Identity value (sw_free) or NULL with call->note set. */
static char *make_identity(const struct sign_conf *sc, struct swf_call *call, char level,
                           const char *orig, const char *dest, int64_t iat)
{
    char *value = NULL;
    sw_err e;

    /* sw_sign_shaken writes the JSON directly: no PASSporT object per call */
    if ((e = sw_sign_shaken(call->ctx, sc->key, level, orig, &dest, 1, iat, sc->origid, sc->x5u, 0,
                            &value)) != SW_OK) {
        snprintf(call->note, sizeof(call->note), "not signed: %s (%s)", sw_strerror(e),
                 sw_errmsg(call->ctx));
        return NULL;
    }
    return value;
}

/*
 * A request we cannot sign (no telephone number, no rule for the number, a signing
 * failure) is forwarded unsigned with a note, never rejected or dropped: the proxy is a
 * bump in the wire, and an unsigned call still completes (the terminating side treats
 * it as unverified), whereas a rejected one is a lost call caused by our own trouble.
 * The proxy logs the note, so a key or library failure does not go unseen.
 * In the same spirit, with existing = "replace" an Identity already present is removed
 * only when ours takes its place.
 */
static swf_result sign_request(void *state, struct swf_call *call)
{
    const struct sign_conf *sc = state;
    const struct sip_msg *m = call->msg;
    struct sip_edits *ed = call->edits;
    struct sip_edits_mark mark = sip_edits_mark(ed);
    size_t n, replaced = 0;
    const struct sip_hdr *h, *date;
    char orig[SW_TN_MAX], dest[SW_TN_MAX], datestr[40];
    const char *eol;
    int64_t iat;
    char level, *value;
    int ok, stale = 0, date_replaced = 0;

    if (!m->is_request || !swf_methods_match(&sc->methods, m))
        return SWF_CONTINUE;
    if (m->hdrs_end >= m->len) /* no empty line to insert before; sip_parse should not allow it */
        return SWF_CONTINUE;
    if (sc->keep_existing && sip_hdr_find(m, SH_IDENTITY, 0) != NULL) {
        snprintf(call->note, sizeof(call->note), "not signed: kept the Identity already present");
        swf_count(call, SIGN_KEPT_EXISTING);
        return SWF_CONTINUE;
    }
    if (sip_orig_number(m, orig, sizeof(orig)) != 0) {
        snprintf(call->note, sizeof(call->note),
                 "not signed: no telephone number in P-Asserted-Identity or From");
        swf_count(call, SIGN_NO_NUMBER);
        return SWF_CONTINUE;
    }
    if (sip_dest_number(m, sc->dest_ruri, dest, sizeof(dest)) != 0) {
        snprintf(call->note, sizeof(call->note), "not signed: no telephone number in %s",
                 sc->dest_ruri ? "the Request-URI" : "To");
        swf_count(call, SIGN_NO_NUMBER);
        return SWF_CONTINUE;
    }
    if ((level = attest_level(sc, orig)) == 0) {
        snprintf(call->note, sizeof(call->note), "not signed: no attest rule matches orig %s",
                 orig);
        swf_count(call, SIGN_NO_RULE);
        return SWF_CONTINUE;
    }
    /*
     * RFC 8224 section 4: iat and Date should agree, so a Date the caller wrote is our iat.
     * But only a plausible one: a Date we cannot read, or one more than a minute from our
     * clock (a PBX with a wrong clock, a replayed INVITE), would make a token every
     * verifier refuses as stale, so iat is now. And RFC 8224 section 6.1 has the
     * authentication service make sure the Date is accurate, since verifiers check it
     * too (section 6.2 step 3): by default such a Date is replaced by ours; "unsigned"
     * forwards the request as it came; "keep" signs and leaves the bad Date, which
     * verifiers that check Date will refuse (the old behaviour, for a peer that needs the
     * caller's Date untouched).
     */
    iat = call->now;
    if ((date = sip_hdr_find(m, SH_DATE, 0)) != NULL) {
        int64_t t = sip_date_parse(m, date);

        if (t >= 0 && t >= call->now - DATE_SKEW && t <= call->now + DATE_SKEW)
            iat = t;
        else
            stale = t < 0 ? -1 : 1;
    }
    if (stale != 0 && sc->date_mode == DATE_UNSIGNED) {
        snprintf(call->note, sizeof(call->note),
                 "not signed: the Date is %s (sign.date = \"unsigned\")",
                 stale < 0 ? "unreadable" : "more than 60 s from our clock");
        swf_count(call, SIGN_STALE_DATE);
        return SWF_CONTINUE;
    }
    if ((value = make_identity(sc, call, level, orig, dest, iat)) == NULL) {
        swf_count(call, SIGN_ERROR);
        return SWF_CONTINUE;
    }

    /* Our lines end as the received ones do: CRLF, or LF for an LF-only message. */
    eol = m->buf[m->hdrs_end] == '\r' ? "\r\n" : "\n";
    ok = 1;
    if (!sc->keep_existing) {
        for (n = 0; ok && (h = sip_hdr_find(m, SH_IDENTITY, n)) != NULL; n++, replaced++)
            ok = sip_edit_delete(ed, h->line_off, h->line_len) == 0;
    }
    if (ok && date == NULL && sc->add_date) {
        sip_date_format(iat, datestr, sizeof(datestr));
        ok = sip_edit_insertf(ed, m->hdrs_end, "Date: %s%s", datestr, eol) == 0;
    } else if (ok && stale != 0 && sc->date_mode == DATE_REPLACE) {
        /* the whole line, folded parts included, becomes ours, where it stood */
        char line[64];
        int len;

        sip_date_format(iat, datestr, sizeof(datestr));
        len = snprintf(line, sizeof(line), "Date: %s%s", datestr, eol);
        ok = len > 0 && (size_t)len < sizeof(line) &&
             sip_edit_replace(ed, date->line_off, date->line_len, line, (size_t)len) == 0;
        date_replaced = 1;
    }
    if (ok)
        ok = sip_edit_insertf(ed, m->hdrs_end, "Identity: %s%s", value, eol) == 0;
    sw_free(value);
    if (!ok) {
        /* All or nothing: drop the edits made here, forward the request as it came. */
        sip_edits_rollback(ed, mark);
        snprintf(call->note, sizeof(call->note), "not signed: too many edits on this message");
        swf_count(call, SIGN_ERROR);
        return SWF_CONTINUE;
    }
    set_verdict(sc, call, level, orig, dest);
    swf_count(call, level == 'A' ? SIGN_SIGNED_A : level == 'B' ? SIGN_SIGNED_B : SIGN_SIGNED_C);
    if (date_replaced)
        swf_count(call, SIGN_DATE_REPLACED);
    snprintf(call->note, sizeof(call->note), "signed attest %c orig %s dest %s%s%s", level, orig,
             dest, replaced > 0 ? " (replaced the Identity present)" : "",
             date_replaced ? (stale < 0 ? " (replaced an unreadable Date)"
                                        : " (replaced a Date more than 60 s off)")
                           : "");
    return SWF_CONTINUE;
}

int swf_sign_info(const struct swf_filter *f, const void *state, struct swf_sign_info *out)
{
    const struct sign_conf *sc = state;

    if (f != &swf_sign || sc == NULL)
        return -1;
    out->x5u = sc->x5u;
    out->key = sc->key;
    out->cert = sc->cert;
    out->cert_path = sc->cert_path;
    return 0;
}

const struct swf_filter swf_sign = {
    .name = "sign",
    .settings = sign_settings,
    .counters = sign_counters,
    .configure = sign_configure,
    .request = sign_request,
    .response = NULL,
    .free = sign_free,
};
