/*
 * sign.c - the `sign` filter: puts a SHAKEN Identity header on requests that leave a trunk.
 *
 * The calling number comes from P-Asserted-Identity (else From), the called number from
 * To (or the Request-URI), the attestation from the trunk's number rules (first match
 * wins), iat from the Date header (a Date line is added when there is none), and the
 * key and x5u from the trunk's `sign` group. The result is spliced in as one
 * "Identity:" line at the end of the header section; an Identity already there is
 * replaced or kept, as the trunk says. Every setting is checked in configure(), so the
 * request hook has no configuration errors left to meet.
 *
 * Rules: the configured state (the key above all) is shared read-only by every worker;
 * all per-call work uses call->ctx. The private key is read once, here, and nowhere else
 * in the daemon. A request the filter cannot sign is forwarded unsigned, never dropped
 * (see sign_request for why).
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "filter.h"

#define SIGN_MAX_METHODS 16
#define SIGN_METHOD_MAX 32

/* One entry of a rule's numbers: a prefix (a whole number is its own prefix) or a range. */
enum tn_kind { TN_PREFIX, TN_RANGE };

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
    char methods[SIGN_MAX_METHODS][SIGN_METHOD_MAX];
    size_t nmethods;
};

/* --- reading the settings --------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A string member: 1 and *out when present, 0 when absent, -1 (err written) when not a string. */
static int get_string(const config_setting_t *group, const char *name, const char **out, char *err,
                      size_t errlen)
{
    const config_setting_t *s = config_setting_get_member(group, name);

    *out = NULL;
    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(err, errlen, "sign.%s: must be a string", name);
    *out = config_setting_get_string(s);
    return 1;
}

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
 * An x5u goes into the Identity header as info=<...>: it must be https, have a host,
 * and hold nothing that would end the angle brackets or the header line.
 */
static int check_x5u(const char *url)
{
    const char *p;

    if (strncasecmp(url, "https://", 8) != 0 || url[8] == '\0' || url[8] == '/')
        return -1;
    for (p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '<' || *p == '>' ||
            *p == '"')
            return -1;
    return 0;
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
        if (sw_tn_canon(s, out->lo, sizeof(out->lo)) != SW_OK)
            return fail(why, whylen, "\"%s\" is not a telephone number or prefix", s);
        out->kind = TN_PREFIX;
        out->len = strlen(out->lo);
        return 0;
    }
    n = (size_t)(dash - s);
    if (n >= sizeof(left))
        return fail(why, whylen, "\"%s\" is too long", s);
    memcpy(left, s, n);
    left[n] = '\0';
    if (sw_tn_canon(left, out->lo, sizeof(out->lo)) != SW_OK ||
        sw_tn_canon(dash + 1, out->hi, sizeof(out->hi)) != SW_OK || !all_digits(out->lo) ||
        !all_digits(out->hi))
        return fail(why, whylen, "\"%s\" is not a range of two telephone numbers", s);
    out->len = strlen(out->lo);
    if (strlen(out->hi) != out->len)
        return fail(why, whylen,
                    "range \"%s\" needs two numbers of the same length "
                    "(write a single number with spaces or dots, not one '-')",
                    s);
    if (strcmp(out->lo, out->hi) > 0)
        return fail(why, whylen, "range \"%s\" ends before it starts", s);
    out->kind = TN_RANGE;
    return 0;
}

static int read_rule(const config_setting_t *r, size_t idx, struct attest_rule *rule, char *err,
                     size_t errlen)
{
    const config_setting_t *s, *nums = NULL, *level = NULL;
    const char *name, *v;
    char why[192];
    int i, n;

    if (!config_setting_is_group(r))
        return fail(err, errlen,
                    "sign.attest[%zu]: must be a group { numbers = [...]; level = ...; }", idx);
    for (i = 0; (s = config_setting_get_elem(r, (unsigned)i)) != NULL; i++) {
        name = config_setting_name(s);
        if (strcmp(name, "numbers") == 0)
            nums = s;
        else if (strcmp(name, "level") == 0)
            level = s;
        else
            return fail(err, errlen, "sign.attest[%zu].%s: unknown setting (numbers, level)", idx,
                        name);
    }
    if (level == NULL)
        return fail(err, errlen, "sign.attest[%zu].level: missing (A, B or C)", idx);
    v = config_setting_type(level) == CONFIG_TYPE_STRING ? config_setting_get_string(level) : NULL;
    if (v == NULL || strlen(v) != 1 || strchr("ABC", v[0]) == NULL)
        return fail(err, errlen, "sign.attest[%zu].level: must be A, B or C", idx);
    rule->level = v[0];
    if (nums == NULL)
        return 0;
    if (!config_setting_is_array(nums) && !config_setting_is_list(nums))
        return fail(err, errlen, "sign.attest[%zu].numbers: must be a list of strings", idx);
    if ((n = config_setting_length(nums)) == 0)
        return fail(err, errlen,
                    "sign.attest[%zu].numbers: empty (leave numbers out to match any number)", idx);
    if ((rule->numbers = calloc((size_t)n, sizeof(*rule->numbers))) == NULL)
        return fail(err, errlen, "sign.attest[%zu].numbers: out of memory", idx);
    for (i = 0; i < n; i++) {
        s = config_setting_get_elem(nums, (unsigned)i);
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return fail(err, errlen, "sign.attest[%zu].numbers[%d]: must be a string", idx, i);
        if (parse_entry(config_setting_get_string(s), &rule->numbers[i], why, sizeof(why)) != 0)
            return fail(err, errlen, "sign.attest[%zu].numbers[%d]: %s", idx, i, why);
        rule->nnumbers++;
    }
    return 0;
}

static int read_methods(const config_setting_t *s, struct sign_conf *sc, char *err, size_t errlen)
{
    const char *v;
    int i, n;

    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return fail(err, errlen, "sign.methods: must be a list of method names");
    if ((n = config_setting_length(s)) == 0)
        return fail(err, errlen, "sign.methods: empty (leave it out to sign INVITEs)");
    if (n > SIGN_MAX_METHODS)
        return fail(err, errlen, "sign.methods: at most %d methods", SIGN_MAX_METHODS);
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        size_t len, k;

        v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
        if (v == NULL || (len = strlen(v)) == 0 || len >= SIGN_METHOD_MAX)
            return fail(err, errlen, "sign.methods[%d]: must be a method name such as \"INVITE\"",
                        i);
        for (k = 0; k < len; k++)
            if (v[k] < 'A' || v[k] > 'Z')
                return fail(err, errlen,
                            "sign.methods[%d]: \"%s\" is not a method name (upper-case letters)", i,
                            v);
        memcpy(sc->methods[i], v, len + 1);
    }
    sc->nmethods = (size_t)n;
    return 0;
}

static void sign_free(void *state)
{
    struct sign_conf *sc = state;
    size_t i;

    if (sc == NULL)
        return;
    sw_key_free(sc->key);
    free(sc->x5u);
    free(sc->origid);
    for (i = 0; i < sc->nrules; i++)
        free(sc->rules[i].numbers);
    free(sc->rules);
    free(sc);
}

static const char *const known_settings[] = {"key",  "x5u",      "attest",   "origid",
                                             "dest", "existing", "add_date", "methods"};

static int read_settings(const config_setting_t *g, struct sign_conf *sc, char *err, size_t errlen)
{
    const config_setting_t *s, *attest;
    const char *v, *keypath;
    size_t i, k;
    sw_ctx *ctx;
    sw_err e;
    int r, n;

    for (i = 0; (s = config_setting_get_elem(g, (unsigned)i)) != NULL; i++) {
        const char *name = config_setting_name(s);

        for (k = 0; k < sizeof(known_settings) / sizeof(known_settings[0]); k++)
            if (strcmp(name, known_settings[k]) == 0)
                break;
        if (k == sizeof(known_settings) / sizeof(known_settings[0]))
            return fail(err, errlen,
                        "sign.%s: unknown setting (key, x5u, attest, origid, dest, existing, "
                        "add_date, methods)",
                        name);
    }

    if ((r = get_string(g, "x5u", &v, err, errlen)) < 0)
        return -1;
    if (r == 0)
        return fail(err, errlen, "sign.x5u: missing (the https URL of the signing certificate)");
    if (check_x5u(v) != 0)
        return fail(err, errlen, "sign.x5u: \"%s\" is not an https URL", v);
    if ((sc->x5u = strdup(v)) == NULL)
        return fail(err, errlen, "sign.x5u: out of memory");

    if ((attest = config_setting_get_member(g, "attest")) == NULL)
        return fail(err, errlen, "sign.attest: missing (rules such as ( { level = \"A\"; } ))");
    if (!config_setting_is_list(attest))
        return fail(err, errlen, "sign.attest: must be a list of rules ( { ... }, { ... } )");
    if ((n = config_setting_length(attest)) == 0)
        return fail(err, errlen, "sign.attest: empty (nothing would ever be signed)");
    if ((sc->rules = calloc((size_t)n, sizeof(*sc->rules))) == NULL)
        return fail(err, errlen, "sign.attest: out of memory");
    for (i = 0; i < (size_t)n; i++) {
        sc->nrules++; /* counted first, so sign_free releases a half-read rule */
        if (read_rule(config_setting_get_elem(attest, (unsigned)i), i, &sc->rules[i], err,
                      errlen) != 0)
            return -1;
    }

    if ((r = get_string(g, "origid", &v, err, errlen)) < 0)
        return -1;
    if (r == 1 && strcmp(v, "per-call") != 0) {
        if (!is_uuid(v))
            return fail(err, errlen, "sign.origid: must be \"per-call\" or a UUID, not \"%s\"", v);
        if ((sc->origid = strdup(v)) == NULL)
            return fail(err, errlen, "sign.origid: out of memory");
    }

    if ((r = get_string(g, "dest", &v, err, errlen)) < 0)
        return -1;
    if (r == 1 && strcmp(v, "to") != 0 && strcmp(v, "ruri") != 0)
        return fail(err, errlen, "sign.dest: must be \"to\" or \"ruri\", not \"%s\"", v);
    sc->dest_ruri = r == 1 && strcmp(v, "ruri") == 0;

    if ((r = get_string(g, "existing", &v, err, errlen)) < 0)
        return -1;
    if (r == 1 && strcmp(v, "replace") != 0 && strcmp(v, "keep") != 0)
        return fail(err, errlen, "sign.existing: must be \"replace\" or \"keep\", not \"%s\"", v);
    sc->keep_existing = r == 1 && strcmp(v, "keep") == 0;

    sc->add_date = 1;
    if ((s = config_setting_get_member(g, "add_date")) != NULL) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return fail(err, errlen, "sign.add_date: must be true or false");
        sc->add_date = config_setting_get_bool(s);
    }

    if ((s = config_setting_get_member(g, "methods")) != NULL) {
        if (read_methods(s, sc, err, errlen) != 0)
            return -1;
    } else {
        memcpy(sc->methods[0], "INVITE", sizeof("INVITE"));
        sc->nmethods = 1;
    }

    /* The key last: a config with other mistakes never touches the key file. */
    if ((r = get_string(g, "key", &keypath, err, errlen)) < 0)
        return -1;
    if (r == 0)
        return fail(err, errlen, "sign.key: missing (the PEM file of the signing key)");
    if ((ctx = sw_ctx_new()) == NULL)
        return fail(err, errlen, "sign.key: out of memory");
    if ((e = sw_key_load_file(ctx, keypath, &sc->key)) != SW_OK) {
        fail(err, errlen, "sign.key: cannot load %s: %s (%s)", keypath, sw_strerror(e),
             sw_errmsg(ctx));
        sw_ctx_free(ctx);
        return -1;
    }
    sw_ctx_free(ctx);
    return 0;
}

static int sign_configure(const config_setting_t *trunk, void **state, char *err, size_t errlen)
{
    const config_setting_t *g = config_setting_get_member(trunk, "sign");
    struct sign_conf *sc;

    *state = NULL;
    if (g == NULL)
        return fail(err, errlen,
                    "sign: missing group sign = { key = ...; x5u = ...; attest = ...; }");
    if (!config_setting_is_group(g))
        return fail(err, errlen, "sign: must be a group { key = ...; x5u = ...; attest = ...; }");
    if ((sc = calloc(1, sizeof(*sc))) == NULL)
        return fail(err, errlen, "sign: out of memory");
    if (read_settings(g, sc, err, errlen) != 0) {
        sign_free(sc);
        return -1;
    }
    *state = sc;
    return 0;
}

/* --- signing a request ------------------------------------------------------------------ */

static int method_listed(const struct sign_conf *sc, const struct sip_msg *m)
{
    size_t i;

    for (i = 0; i < sc->nmethods; i++)
        if (sip_is_method(m, sc->methods[i]))
            return 1;
    return 0;
}

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

            if (t->kind == TN_PREFIX && len >= t->len && memcmp(tn, t->lo, t->len) == 0)
                return r->level;
            if (t->kind == TN_RANGE && len == t->len && strcmp(tn, t->lo) >= 0 &&
                strcmp(tn, t->hi) <= 0)
                return r->level;
        }
    }
    return 0;
}

static int canon_hdr(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size)
{
    char raw[128];

    if (h == NULL || sip_hdr_number(m, h, raw, sizeof(raw)) != 0)
        return -1;
    return sw_tn_canon(raw, out, size) == SW_OK ? 0 : -1;
}

/*
 * The calling number: the first P-Asserted-Identity line that holds a telephone number
 * (a PBX may send a sip: identity and a tel: one), else From.
 */
static int orig_number(const struct sip_msg *m, char *out, size_t size)
{
    const struct sip_hdr *h;
    size_t n;

    for (n = 0; (h = sip_hdr_find(m, SH_PAI, n)) != NULL; n++)
        if (canon_hdr(m, h, out, size) == 0)
            return 0;
    return canon_hdr(m, sip_hdr_find(m, SH_FROM, 0), out, size);
}

static int dest_number(const struct sign_conf *sc, const struct sip_msg *m, char *out, size_t size)
{
    char raw[128];

    if (!sc->dest_ruri)
        return canon_hdr(m, sip_hdr_find(m, SH_TO, 0), out, size);
    if (sip_ruri_number(m, raw, sizeof(raw)) != 0)
        return -1;
    return sw_tn_canon(raw, out, size) == SW_OK ? 0 : -1;
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* RFC 1123 date in GMT, as RFC 3261 section 20.17 wants; written without the locale. */
static void format_date(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The time of a Date header, or -1 when it is not an RFC 1123 date. */
static int64_t parse_date(const struct sip_msg *m, const struct sip_hdr *h)
{
    char buf[64];
    const char *end;
    struct tm tm;
    time_t t;

    if (h->value_len == 0 || h->value_len >= sizeof(buf))
        return -1;
    memcpy(buf, m->buf + h->value_off, h->value_len);
    buf[h->value_len] = '\0';
    memset(&tm, 0, sizeof(tm));
    if ((end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
        return -1;
    end += strspn(end, " \t");
    if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1)
        return -1;
    return (int64_t)t;
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
    size_t saved_n = ed->n, saved_used = ed->used, n, replaced = 0;
    const struct sip_hdr *h, *date;
    char orig[SW_TN_MAX], dest[SW_TN_MAX], datestr[40];
    const char *eol;
    int64_t iat;
    char level, *value;
    int ok;

    if (!m->is_request || !method_listed(sc, m))
        return SWF_CONTINUE;
    if (m->hdrs_end >= m->len) /* no empty line to insert before; sip_parse should not allow it */
        return SWF_CONTINUE;
    if (sc->keep_existing && sip_hdr_find(m, SH_IDENTITY, 0) != NULL) {
        snprintf(call->note, sizeof(call->note), "not signed: kept the Identity already present");
        return SWF_CONTINUE;
    }
    if (orig_number(m, orig, sizeof(orig)) != 0) {
        snprintf(call->note, sizeof(call->note),
                 "not signed: no telephone number in P-Asserted-Identity or From");
        return SWF_CONTINUE;
    }
    if (dest_number(sc, m, dest, sizeof(dest)) != 0) {
        snprintf(call->note, sizeof(call->note), "not signed: no telephone number in %s",
                 sc->dest_ruri ? "the Request-URI" : "To");
        return SWF_CONTINUE;
    }
    if ((level = attest_level(sc, orig)) == 0) {
        snprintf(call->note, sizeof(call->note), "not signed: no attest rule matches orig %s",
                 orig);
        return SWF_CONTINUE;
    }
    /*
     * RFC 8224 section 4: iat and Date should agree, so a Date the caller wrote is our iat.
     * But only a plausible one: a Date we cannot read, or one more than a minute from our
     * clock (a PBX with a wrong clock, a replayed INVITE), is left alone and iat is now,
     * since a token dated by it would be refused as stale by every verifier.
     */
    iat = call->now;
    if ((date = sip_hdr_find(m, SH_DATE, 0)) != NULL) {
        int64_t t = parse_date(m, date);

        if (t >= 0 && t >= call->now - 60 && t <= call->now + 60)
            iat = t;
    }
    if ((value = make_identity(sc, call, level, orig, dest, iat)) == NULL)
        return SWF_CONTINUE;

    /* Our lines end as the received ones do: CRLF, or LF for an LF-only message. */
    eol = m->buf[m->hdrs_end] == '\r' ? "\r\n" : "\n";
    ok = 1;
    if (!sc->keep_existing) {
        for (n = 0; ok && (h = sip_hdr_find(m, SH_IDENTITY, n)) != NULL; n++, replaced++)
            ok = sip_edit_delete(ed, h->line_off, h->line_len) == 0;
    }
    if (ok && date == NULL && sc->add_date) {
        format_date(iat, datestr, sizeof(datestr));
        ok = sip_edit_insertf(ed, m->hdrs_end, "Date: %s%s", datestr, eol) == 0;
    }
    if (ok)
        ok = sip_edit_insertf(ed, m->hdrs_end, "Identity: %s%s", value, eol) == 0;
    sw_free(value);
    if (!ok) {
        /* All or nothing: drop the edits made here, forward the request as it came. */
        ed->n = saved_n;
        ed->used = saved_used;
        snprintf(call->note, sizeof(call->note), "not signed: too many edits on this message");
        return SWF_CONTINUE;
    }
    snprintf(call->note, sizeof(call->note), "signed attest %c orig %s dest %s%s", level, orig,
             dest, replaced > 0 ? " (replaced the Identity present)" : "");
    return SWF_CONTINUE;
}

const struct swf_filter swf_sign = {
    .name = "sign",
    .configure = sign_configure,
    .request = sign_request,
    .response = NULL,
    .free = sign_free,
};
