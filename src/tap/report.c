/*
 * report.c - the TAP's report (report.h): counts by result, attestation and error, three
 * bounded top lists, a bounded timeline, the failing calls kept in full, and the three
 * ways of showing them (summary JSON, human table, one self-contained HTML file).
 *
 * Rules a newcomer must not break:
 *  - memory is bounded whatever the number of calls: each top list is a fixed-size hash
 *    table of at most TAP_REPORT_MAX_KEYS keys (later keys count under "(other)"), the
 *    timeline is TAP_REPORT_BUCKETS buckets whose width grows along a ladder where each
 *    width divides the next (so merging buckets is exact), and only keep_failed failing
 *    calls are copied, each with strings cut at fixed lengths;
 *  - every string a call carries came off the wire: the HTML escapes every byte that
 *    could mean something to a browser (also '/', '(' and '@', so no URL, "url(" or
 *    "@import" can appear in the file whatever the calls held), the table prints only
 *    printable ASCII, and JSON keys are made valid UTF-8 before jansson sees them;
 *  - the HTML loads nothing: inline CSS and SVG, a Content-Security-Policy that forbids
 *    every fetch, no script.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/trunk.h"

const char *const tap_result_names[TAP_RESULT_N] = {
    "valid", "invalid", "unsigned", "no-tn", "unverifiable", "not-verified",
};

/* Hash slots of a top list: a power of two well above TAP_REPORT_MAX_KEYS (load <= 0.62). */
#define TOP_SLOTS 16384
/* Longest key kept in a top list (an x5u host is at most 253 bytes in the DNS). */
#define TOP_KEY_MAX 255
/* Error numbers counted one by one (SW_ERR_MAP's numbers are below this). */
#define ERR_SLOTS 128
/* Longest Call-ID / address / trunk name kept with a failing call. */
#define KEEP_STR_MAX 1024
/* Input names kept (the rest are counted, not listed). */
#define MAX_INPUTS 1024
/* Buckets the HTML timeline shows at most. */
#define HTML_BUCKETS 60

struct top_entry {
    char *key; /* owned; NULL: free slot */
    uint64_t calls, failed;
};

struct top_list {
    struct top_entry *slots; /* TOP_SLOTS, allocated at the first key; NULL before */
    size_t n;                /* keys held */
    uint64_t other_calls, other_failed;
};

/* A failing call, copied. */
struct kept_call {
    int64_t ts_us;
    char *call_id, *src, *dst, *trunk; /* owned, never NULL */
    int transport;
    enum tap_result res;
    struct swf_verdict v; /* a copy (verstat is a static string) */
    char *identity;       /* owned, NULL: none */
    size_t identity_len;
};

struct tap_report {
    struct tap_report_opts o;
    uint64_t calls, retrans;
    uint64_t results[TAP_RESULT_N];
    uint64_t attest[3]; /* A, B, C */
    uint64_t errors[ERR_SLOTS];
    uint64_t errors_unknown; /* failing calls with an error number outside the slots */
    uint64_t invalid_class[SW_CLASS_PENDING + 1];
    struct top_list hosts, spcs, prefixes;
    int have_time;
    int64_t first_us, last_us;
    struct tap_counts counts;
    char **inputs;
    size_t ninputs;
    struct kept_call *kept; /* o.keep_failed slots */
    size_t nkept;
    uint64_t failed; /* failing calls, kept or not */
    /* the timeline: tl[i] counts calls in [tl_base + i * tl_w, + tl_w), per result */
    int tl_used;
    int64_t tl_w, tl_base, tl_lo, tl_hi; /* microseconds */
    uint64_t (*tl)[TAP_RESULT_N];        /* TAP_REPORT_BUCKETS */
    uint64_t (*tl2)[TAP_RESULT_N];       /* as many: where a refit rebuilds */
};

/* --- results ---------------------------------------------------------------------------- */

enum tap_result tap_call_result_code(const struct swf_verdict *v)
{
    if (v == NULL || !v->verified)
        return TAP_RESULT_NOT_VERIFIED;
    if (v->err == SW_OK)
        return TAP_RESULT_VALID;
    if (v->tagged_open)
        return TAP_RESULT_UNVERIFIABLE;
    if (v->err == SW_ERR_NO_TN)
        return TAP_RESULT_NO_TN;
    if (sw_err_class(v->err) == SW_CLASS_MISSING)
        return TAP_RESULT_UNSIGNED;
    return TAP_RESULT_INVALID;
}

const char *tap_call_result(const struct swf_verdict *v)
{
    return tap_result_names[tap_call_result_code(v)];
}

static int is_failed(enum tap_result res)
{
    return res == TAP_RESULT_INVALID || res == TAP_RESULT_UNVERIFIABLE;
}

/* --- plain words for each verification error ---------------------------------------------- */

static const struct {
    sw_err err;
    const char *text;
} reasons[] = {
    {SW_ERR_NOMEM, "The verifier ran out of memory while judging this call; the call itself "
                   "may be fine."},
    {SW_ERR_CRYPTO, "The cryptographic library failed while checking this call; the call "
                    "itself may be fine. Please report it to stirwire's maintainers."},
    {SW_ERR_TN_INVALID, "A telephone number in the call or in its PASSporT is not a valid "
                        "number (wrong characters or length), so it cannot be checked."},
    {SW_ERR_IDENTITY_MISSING, "The call carries no Identity header: the originating provider "
                              "did not sign it."},
    {SW_ERR_IDENTITY_MALFORMED, "The Identity header is not laid out as a signed PASSporT "
                                "(three dot-separated parts and its parameters), so it cannot "
                                "be read. A device on the path may have cut or rewritten it."},
    {SW_ERR_IDENTITY_TOO_LONG, "The Identity header is longer than any genuine PASSporT, so it "
                               "was refused before being read."},
    {SW_ERR_BASE64, "Part of the PASSporT is not valid base64url text: the Identity header was "
                    "damaged on the way, or was never a real PASSporT."},
    {SW_ERR_JSON, "The PASSporT's header or claims do not decode to JSON: the Identity header "
                  "was damaged or produced by faulty signing software."},
    {SW_ERR_ALG, "The PASSporT is signed with an algorithm other than ES256, the only one "
                 "SHAKEN allows."},
    {SW_ERR_TYP, "The PASSporT does not declare itself as a PASSporT (its typ is wrong)."},
    {SW_ERR_PPT, "The PASSporT's extension (ppt, e.g. shaken) is missing, not supported, or "
                 "differs between the token and the Identity header's parameters."},
    {SW_ERR_INFO_MISSING, "The Identity header does not say where the signing certificate is "
                          "(no info parameter), so the signature cannot be checked."},
    {SW_ERR_X5U_MISMATCH, "The certificate address inside the PASSporT (x5u) differs from the "
                          "one in the Identity header's info parameter: one of them was "
                          "altered."},
    {SW_ERR_IAT_MISSING, "The PASSporT has no valid signing time (iat), so its freshness "
                         "cannot be judged."},
    {SW_ERR_STALE, "The PASSporT was signed too long before the call reached us: it may be a "
                   "replayed signature, or the signer's clock is wrong."},
    {SW_ERR_FUTURE, "The PASSporT's signing time is in the future: the signer's clock is "
                    "ahead, or the token was forged."},
    {SW_ERR_ATTEST, "The PASSporT has no valid attestation level (it must be A, B or C)."},
    {SW_ERR_ORIG_MISSING, "The PASSporT does not name a valid calling number (orig.tn)."},
    {SW_ERR_DEST_MISSING, "The PASSporT does not name valid called numbers (dest.tn)."},
    {SW_ERR_ORIGID_MISSING, "The PASSporT has no origination identifier (origid), which SHAKEN "
                            "requires."},
    {SW_ERR_ORIG_MISMATCH, "The calling number in the call differs from the number the "
                           "signature vouches for: the caller ID was changed after signing, or "
                           "the signature belongs to another call."},
    {SW_ERR_DEST_MISMATCH, "The called number in the call is not among the numbers the "
                           "signature was made for: the call was redirected or the signature "
                           "belongs to another call."},
    {SW_ERR_SIGNATURE, "The signature does not match the call: the Identity header was altered "
                       "after signing, or signed with another key."},
    {SW_ERR_CERT_UNAVAILABLE, "The signing certificate could not be obtained, so the signature "
                              "could not be checked."},
    {SW_ERR_PENDING, "The signing certificate was still being fetched when the call was "
                     "judged."},
    {SW_ERR_CERT_URL, "The certificate address (x5u) is not one our fetch policy allows "
                      "(scheme, port or query string), so it was not fetched."},
    {SW_ERR_CERT_PRIVATE, "The certificate address (x5u) leads to a private or special-purpose "
                          "network address, so it was not fetched."},
    {SW_ERR_CERT_CONNECT, "The certificate server named by x5u could not be reached (name not "
                          "found, or connection refused)."},
    {SW_ERR_CERT_TIMEOUT, "The certificate server named by x5u did not answer in time."},
    {SW_ERR_CERT_HTTP_STATUS, "The certificate server answered with an error instead of the "
                              "certificate (for example 404 Not Found)."},
    {SW_ERR_CERT_REDIRECT, "The certificate server answered with a redirect, which SHAKEN does "
                           "not allow to follow."},
    {SW_ERR_CERT_TOO_LARGE, "The certificate server sent more data than any certificate "
                            "needs, so the answer was refused."},
    {SW_ERR_CERT_PARSE, "What the certificate server sent is not a readable certificate."},
    {SW_ERR_CERT_UNTRUSTED, "The signing certificate was not issued by a trusted STI "
                            "certification authority."},
    {SW_ERR_CERT_EXPIRED, "The signing certificate had expired when the call was signed."},
    {SW_ERR_CERT_NOT_YET_VALID, "The signing certificate was not yet valid when the call was "
                                "signed."},
    {SW_ERR_CERT_KEY, "The signing certificate's key is not the EC P-256 key SHAKEN "
                      "requires."},
    {SW_ERR_CERT_TNAUTH, "The signing certificate does not name the service provider (no "
                         "valid TNAuthList with an SPC)."},
    {SW_ERR_CERT_POLICY, "The signing certificate lacks the SHAKEN certificate policy."},
    {SW_ERR_CERT_REVOKED, "The signing certificate has been revoked by its certification "
                          "authority."},
    {SW_ERR_CERT_CRL, "The certificate revocation list could not be fetched or checked, so "
                      "the certificate's status is unknown."},
    {SW_ERR_CERT_CA, "The PASSporT is signed with a certification authority's certificate "
                     "instead of a service provider's own certificate."},
    {SW_ERR_NO_TN, "The call has no calling telephone number (anonymous or a SIP user name), "
                   "so there is nothing to validate."},
    {SW_ERR_DATE_STALE, "The call's Date header is too far from the time the call was seen: "
                        "a replay, or a wrong clock at the sender."},
    {SW_ERR_DATE_MISSING, "The call has no Date header, and the policy requires one."},
    {SW_ERR_COMPACT_SHAKEN, "The PASSporT is in compact form (claims left out), and the call "
                            "does not carry what is needed to rebuild them."},
};

const char *tap_report_reason(sw_err err)
{
    size_t i;

    for (i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].err == err)
            return reasons[i].text;
    return sw_strerror(err);
}

/* --- small helpers ------------------------------------------------------------------------- */

static char *dup_cut(const char *s, size_t max)
{
    size_t n;
    char *d;

    if (s == NULL)
        s = "";
    n = strnlen(s, max);
    if ((d = malloc(n + 1)) == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Replaces every byte outside printable ASCII by '?', so the key is safe in any output. */
static void ascii_only(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* "2026-11-29T10:00:00.123456Z" */
static void fmt_time(int64_t us, char *buf, size_t len)
{
    time_t t = (time_t)floordiv(us, 1000000);
    long frac = (long)(us - (int64_t)t * 1000000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* --- top lists ------------------------------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Counts one call under key (cut and made ASCII here); past the cap, under "(other)". */
static void top_add(struct top_list *t, const char *key, int failed)
{
    char k[TOP_KEY_MAX + 1];
    size_t i;

    snprintf(k, sizeof k, "%s", key);
    ascii_only(k);
    if (t->slots == NULL && (t->slots = calloc(TOP_SLOTS, sizeof *t->slots)) == NULL)
        goto other;
    for (i = hash_str(k) & (TOP_SLOTS - 1);; i = (i + 1) & (TOP_SLOTS - 1)) {
        struct top_entry *e = &t->slots[i];

        if (e->key == NULL) {
            if (t->n >= TAP_REPORT_MAX_KEYS || (e->key = dup_cut(k, TOP_KEY_MAX)) == NULL)
                goto other;
            t->n++;
        } else if (strcmp(e->key, k) != 0) {
            continue;
        }
        e->calls++;
        e->failed += failed ? 1 : 0;
        return;
    }
other:
    t->other_calls++;
    t->other_failed += failed ? 1 : 0;
}

static void top_free(struct top_list *t)
{
    size_t i;

    if (t->slots == NULL)
        return;
    for (i = 0; i < TOP_SLOTS; i++)
        free(t->slots[i].key);
    free(t->slots);
}

/* A row of a sorted top list (key borrowed from the list, or "(other)"). */
struct top_row {
    const char *key;
    uint64_t calls, failed;
};

static int top_row_cmp(const void *a, const void *b)
{
    const struct top_row *x = a, *y = b;

    if (x->failed != y->failed)
        return x->failed > y->failed ? -1 : 1;
    if (x->calls != y->calls)
        return x->calls > y->calls ? -1 : 1;
    return strcmp(x->key, y->key);
}

/*
 * The list's rows sorted (failed desc, calls desc, name), at most max of them, in a new
 * array (*rows, free it; NULL with 0 rows). Returns the row count, or (size_t)-1: ENOMEM.
 */
static size_t top_sorted(const struct top_list *t, size_t max, struct top_row **rows)
{
    size_t i, n = 0;
    struct top_row *r;

    *rows = NULL;
    if ((r = malloc((t->n + 1) * sizeof *r)) == NULL)
        return (size_t)-1;
    for (i = 0; t->slots != NULL && i < TOP_SLOTS; i++)
        if (t->slots[i].key != NULL)
            r[n++] = (struct top_row){t->slots[i].key, t->slots[i].calls, t->slots[i].failed};
    if (t->other_calls > 0)
        r[n++] = (struct top_row){"(other)", t->other_calls, t->other_failed};
    qsort(r, n, sizeof *r, top_row_cmp);
    if (n > max)
        n = max;
    if (n == 0) {
        free(r);
        return 0;
    }
    *rows = r;
    return n;
}

/*
 * The host of an x5u URL, lower-cased, without user info or port: "https://U@Cert.Example
 * .net:8443/a.pem" -> "cert.example.net"; "[2001:db8::1]" keeps its brackets. Not a URL:
 * "(not a URL)".
 */
static void x5u_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://"), *end, *at, *h;
    size_t n, i;

    if (p == NULL || p == url) {
        snprintf(out, outlen, "(not a URL)");
        return;
    }
    p += 3;
    end = p + strcspn(p, "/?#");
    for (at = NULL, h = p; h < end; h++)
        if (*h == '@')
            at = h;
    if (at != NULL)
        p = at + 1;
    if (*p == '[') {
        h = memchr(p, ']', (size_t)(end - p));
        n = h != NULL ? (size_t)(h - p) + 1 : (size_t)(end - p);
    } else {
        h = memchr(p, ':', (size_t)(end - p));
        n = h != NULL ? (size_t)(h - p) : (size_t)(end - p);
    }
    if (n == 0) {
        snprintf(out, outlen, "(not a URL)");
        return;
    }
    if (n >= outlen)
        n = outlen - 1;
    for (i = 0; i < n; i++)
        out[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : p[i];
    out[n] = '\0';
}

/* The first 7 digits of a number ("+1 202-555-0100" -> "1202555"); "" without digits. */
static void tn_prefix(const char *tn, char out[8])
{
    size_t n = 0;

    for (; *tn != '\0' && n < 7; tn++)
        if (*tn >= '0' && *tn <= '9')
            out[n++] = *tn;
    out[n] = '\0';
}

/* --- the timeline ---------------------------------------------------------------------- */

/*
 * Bucket widths (microseconds), each dividing the next, so that buckets of one width
 * merge exactly into buckets of the next. Past the table, widths double.
 */
static const int64_t ladder[] = {
    100000LL,     200000LL,     1000000LL,     2000000LL,     10000000LL,
    20000000LL,   60000000LL,   120000000LL,   600000000LL,   1200000000LL,
    3600000000LL, 7200000000LL, 21600000000LL, 43200000000LL, 86400000000LL,
};

static int64_t ladder_next(int64_t w)
{
    size_t i;

    for (i = 0; i + 1 < sizeof ladder / sizeof ladder[0]; i++)
        if (ladder[i] == w)
            return ladder[i + 1];
    return w < INT64_MAX / 2 ? w * 2 : w;
}

/* Buckets of width w that [lo, hi] spans. */
static int64_t tl_span(int64_t lo, int64_t hi, int64_t w)
{
    return floordiv(hi, w) - floordiv(lo, w) + 1;
}

/* Rebuilds the timeline so that [tl_lo, tl_hi] fits: same width if it does, else wider. */
static void tl_refit(struct tap_report *r)
{
    int64_t w = r->tl_w, base;
    size_t i, j;
    uint64_t(*tmp)[TAP_RESULT_N];

    while (tl_span(r->tl_lo, r->tl_hi, w) > TAP_REPORT_BUCKETS && ladder_next(w) != w)
        w = ladder_next(w);
    base = floordiv(r->tl_lo, w) * w;
    memset(r->tl2, 0, TAP_REPORT_BUCKETS * sizeof *r->tl2);
    for (i = 0; i < TAP_REPORT_BUCKETS; i++) {
        int64_t t = r->tl_base + (int64_t)i * r->tl_w, k;
        size_t res;

        for (res = 0; res < TAP_RESULT_N && r->tl[i][res] == 0; res++)
            ;
        if (res == TAP_RESULT_N)
            continue;
        /* w is a multiple of tl_w and t is a bucket start: the bucket falls in one */
        k = floordiv(t, w) - floordiv(base, w);
        j = k < 0 ? 0 : k >= TAP_REPORT_BUCKETS ? TAP_REPORT_BUCKETS - 1 : (size_t)k;
        for (res = 0; res < TAP_RESULT_N; res++)
            r->tl2[j][res] += r->tl[i][res];
    }
    tmp = r->tl;
    r->tl = r->tl2;
    r->tl2 = tmp;
    r->tl_w = w;
    r->tl_base = base;
}

static void tl_add(struct tap_report *r, int64_t t, enum tap_result res)
{
    int64_t k;

    if (!r->tl_used) {
        r->tl_used = 1;
        r->tl_w = ladder[0];
        r->tl_base = floordiv(t, r->tl_w) * r->tl_w;
        r->tl_lo = r->tl_hi = t;
    }
    if (t < r->tl_lo)
        r->tl_lo = t;
    if (t > r->tl_hi)
        r->tl_hi = t;
    k = floordiv(t, r->tl_w) - floordiv(r->tl_base, r->tl_w);
    if (k < 0 || k >= TAP_REPORT_BUCKETS) {
        tl_refit(r);
        k = floordiv(t, r->tl_w) - floordiv(r->tl_base, r->tl_w);
    }
    if (k < 0)
        k = 0;
    if (k >= TAP_REPORT_BUCKETS)
        k = TAP_REPORT_BUCKETS - 1;
    r->tl[k][res]++;
}

size_t tap_report_timeline(const struct tap_report *r, size_t max_buckets, int64_t *start_us,
                           int64_t *bucket_us, uint64_t (*counts)[TAP_RESULT_N])
{
    int64_t d, n, first;
    size_t i, res;

    if (!r->tl_used || max_buckets == 0)
        return 0;
    d = r->tl_w;
    while (tl_span(r->tl_lo, r->tl_hi, d) > (int64_t)max_buckets && ladder_next(d) != d)
        d = ladder_next(d);
    n = tl_span(r->tl_lo, r->tl_hi, d);
    if (n > (int64_t)max_buckets)
        n = (int64_t)max_buckets;
    first = floordiv(r->tl_lo, d);
    *start_us = first * d;
    *bucket_us = d;
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (i = 0; i < TAP_REPORT_BUCKETS; i++) {
        int64_t k = floordiv(r->tl_base + (int64_t)i * r->tl_w, d) - first;

        if (k < 0)
            k = 0;
        if (k >= n)
            k = n - 1;
        for (res = 0; res < TAP_RESULT_N; res++)
            counts[k][res] += r->tl[i][res];
    }
    return (size_t)n;
}

/* --- building --------------------------------------------------------------------------- */

void tap_report_opts_init(struct tap_report_opts *o)
{
    o->keep_failed = 1000;
    o->top = 10;
}

struct tap_report *tap_report_new(const struct tap_report_opts *o)
{
    struct tap_report *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    if (o != NULL)
        r->o = *o;
    else
        tap_report_opts_init(&r->o);
    r->tl = calloc(TAP_REPORT_BUCKETS, sizeof *r->tl);
    r->tl2 = calloc(TAP_REPORT_BUCKETS, sizeof *r->tl2);
    if (r->o.keep_failed > 0)
        r->kept = calloc(r->o.keep_failed, sizeof *r->kept);
    if (r->tl == NULL || r->tl2 == NULL || (r->o.keep_failed > 0 && r->kept == NULL)) {
        tap_report_free(r);
        return NULL;
    }
    return r;
}

static void widen(struct tap_report *r, int64_t t)
{
    if (!r->have_time) {
        r->have_time = 1;
        r->first_us = r->last_us = t;
    }
    if (t < r->first_us)
        r->first_us = t;
    if (t > r->last_us)
        r->last_us = t;
}

static void keep_call(struct tap_report *r, const struct tap_call *c, enum tap_result res)
{
    struct kept_call *k = &r->kept[r->nkept];

    memset(k, 0, sizeof *k);
    k->ts_us = c->ts_us;
    k->transport = c->transport;
    k->res = res;
    k->call_id = dup_cut(c->call_id, KEEP_STR_MAX);
    k->src = dup_cut(c->src, KEEP_STR_MAX);
    k->dst = dup_cut(c->dst, KEEP_STR_MAX);
    k->trunk = dup_cut(c->trunk, KEEP_STR_MAX);
    if (c->v != NULL)
        k->v = *c->v;
    if (c->identity != NULL) {
        k->identity_len = c->identity_len;
        if (k->identity_len > TAP_REPORT_IDENTITY_MAX)
            k->identity_len = TAP_REPORT_IDENTITY_MAX;
        if ((k->identity = malloc(k->identity_len + 1)) != NULL) {
            memcpy(k->identity, c->identity, k->identity_len);
            k->identity[k->identity_len] = '\0';
        }
    }
    if (k->call_id == NULL || k->src == NULL || k->dst == NULL || k->trunk == NULL ||
        (c->identity != NULL && k->identity == NULL)) {
        /* out of memory: this call is counted but not shown */
        free(k->call_id);
        free(k->src);
        free(k->dst);
        free(k->trunk);
        free(k->identity);
        return;
    }
    r->nkept++;
}

void tap_report_add(struct tap_report *r, const struct tap_call *c)
{
    const struct swf_verdict *v = c->v;
    enum tap_result res = tap_call_result_code(v);
    int failed = is_failed(res);
    char key[TOP_KEY_MAX + 1];

    r->calls++;
    r->results[res]++;
    widen(r, c->ts_us);
    tl_add(r, c->ts_us, res);
    if (v != NULL && v->attest >= 'A' && v->attest <= 'C')
        r->attest[v->attest - 'A']++;
    if (failed) {
        int e = (int)v->err, cls;

        r->failed++;
        if (e >= 0 && e < ERR_SLOTS)
            r->errors[e]++;
        else
            r->errors_unknown++;
        if (res == TAP_RESULT_INVALID) {
            cls = (int)sw_err_class(v->err);
            if (cls < SW_CLASS_MALFORMED || cls > SW_CLASS_CERT)
                cls = SW_CLASS_MALFORMED;
            r->invalid_class[cls]++;
        }
        if (r->nkept < r->o.keep_failed)
            keep_call(r, c, res);
    }
    if (v != NULL && v->x5u[0] != '\0') {
        char x5u[sizeof v->x5u];

        snprintf(x5u, sizeof x5u, "%s", v->x5u);
        x5u_host(x5u, key, sizeof key);
        top_add(&r->hosts, key, failed);
    }
    if (v != NULL && v->spc[0] != '\0') {
        snprintf(key, sizeof key, "%.*s", (int)sizeof v->spc, v->spc);
        top_add(&r->spcs, key, failed);
    }
    if (v != NULL) {
        char tn[sizeof v->orig + 1];

        snprintf(tn, sizeof tn, "%.*s", (int)sizeof v->orig, v->orig);
        tn_prefix(tn, key);
        if (key[0] != '\0')
            top_add(&r->prefixes, key, failed);
    }
}

void tap_report_retransmission(struct tap_report *r)
{
    r->retrans++;
}

void tap_report_set_counts(struct tap_report *r, const struct tap_counts *c)
{
    r->counts = *c;
}

void tap_report_set_inputs(struct tap_report *r, char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < r->ninputs; i++)
        free(r->inputs[i]);
    free(r->inputs);
    r->inputs = NULL;
    r->ninputs = 0;
    if (n > MAX_INPUTS)
        n = MAX_INPUTS;
    if (n == 0 || (r->inputs = calloc(n, sizeof *r->inputs)) == NULL)
        return;
    for (i = 0; i < n; i++)
        if ((r->inputs[r->ninputs] = dup_cut(names[i], PATH_MAX)) != NULL)
            r->ninputs++;
}

void tap_report_set_span(struct tap_report *r, int64_t first_us, int64_t last_us)
{
    if (first_us != 0)
        widen(r, first_us);
    if (last_us != 0)
        widen(r, last_us);
}

uint64_t tap_report_calls(const struct tap_report *r)
{
    return r->calls;
}

uint64_t tap_report_result_count(const struct tap_report *r, enum tap_result res)
{
    return (unsigned)res < TAP_RESULT_N ? r->results[res] : 0;
}

uint64_t tap_report_invalid(const struct tap_report *r)
{
    return r->results[TAP_RESULT_INVALID];
}

int tap_report_exit_class(const struct tap_report *r)
{
    int cls, best = 0;

    for (cls = SW_CLASS_MALFORMED; cls <= SW_CLASS_CERT; cls++)
        if (r->invalid_class[cls] > 0 &&
            (best == 0 || r->invalid_class[cls] > r->invalid_class[best]))
            best = cls;
    return best;
}

void tap_report_free(struct tap_report *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->nkept; i++) {
        free(r->kept[i].call_id);
        free(r->kept[i].src);
        free(r->kept[i].dst);
        free(r->kept[i].trunk);
        free(r->kept[i].identity);
    }
    free(r->kept);
    for (i = 0; i < r->ninputs; i++)
        free(r->inputs[i]);
    free(r->inputs);
    top_free(&r->hosts);
    top_free(&r->spcs);
    top_free(&r->prefixes);
    free(r->tl);
    free(r->tl2);
    free(r);
}

/* --- errors, sorted ------------------------------------------------------------------------ */

struct err_row {
    const char *name;
    sw_err err;
    uint64_t n;
};

static int err_row_cmp(const void *a, const void *b)
{
    const struct err_row *x = a, *y = b;

    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The errors of failing calls, most frequent first (then by name). Returns the count. */
static size_t errors_sorted(const struct tap_report *r, struct err_row rows[ERR_SLOTS + 1])
{
    size_t n = 0;
    int e;

    for (e = 0; e < ERR_SLOTS; e++)
        if (r->errors[e] > 0)
            rows[n++] = (struct err_row){sw_err_name((sw_err)e), (sw_err)e, r->errors[e]};
    if (r->errors_unknown > 0)
        rows[n++] = (struct err_row){"UNKNOWN", (sw_err)-1, r->errors_unknown};
    qsort(rows, n, sizeof *rows, err_row_cmp);
    return n;
}

/* --- the summary JSON ------------------------------------------------------------------------ */

/* A JSON string of s; bytes jansson refuses (not UTF-8) become '?'. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    char *c;

    if (j != NULL || (c = dup_cut(s, PATH_MAX)) == NULL)
        return j;
    ascii_only(c);
    j = json_string(c);
    free(c);
    return j;
}

static int jset(json_t *o, const char *key, json_t *v)
{
    return v == NULL ? -1 : json_object_set_new(o, key, v);
}

static json_t *top_json(const struct top_list *t, size_t max, const char *keyname)
{
    struct top_row *rows;
    size_t n = top_sorted(t, max, &rows), i;
    json_t *a = json_array();

    if (a == NULL || n == (size_t)-1) {
        json_decref(a);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(a, o) != 0 ||
            jset(o, keyname, jstr(rows[i].key)) != 0 ||
            jset(o, "calls", json_integer((json_int_t)rows[i].calls)) != 0 ||
            jset(o, "failed", json_integer((json_int_t)rows[i].failed)) != 0) {
            free(rows);
            json_decref(a);
            return NULL;
        }
    }
    free(rows);
    return a;
}

json_t *tap_report_summary(const struct tap_report *r)
{
    json_t *top = json_object(), *s = json_object(), *o;
    struct err_row errs[ERR_SLOTS + 1];
    char tb[64];
    size_t i, n;
    int bad = 0;

    if (top == NULL || s == NULL || json_object_set_new(top, "summary", s) != 0) {
        json_decref(top);
        return NULL;
    }
    o = json_array();
    bad |= jset(s, "inputs", o);
    for (i = 0; o != NULL && i < r->ninputs; i++)
        bad |= json_array_append_new(o, jstr(r->inputs[i]));
    if (r->have_time) {
        fmt_time(r->first_us, tb, sizeof tb);
        bad |= jset(s, "first", json_string(tb));
        fmt_time(r->last_us, tb, sizeof tb);
        bad |= jset(s, "last", json_string(tb));
        bad |= jset(s, "span_s", json_real((double)(r->last_us - r->first_us) / 1e6));
    } else {
        bad |= jset(s, "first", json_null());
        bad |= jset(s, "last", json_null());
        bad |= jset(s, "span_s", json_real(0));
    }
    bad |= jset(s, "calls", json_integer((json_int_t)r->calls));
    bad |= jset(s, "retransmissions", json_integer((json_int_t)r->retrans));
    o = json_object();
    bad |= jset(s, "results", o);
    for (i = 0; o != NULL && i < TAP_RESULT_N; i++)
        bad |= jset(o, tap_result_names[i], json_integer((json_int_t)r->results[i]));
    o = json_object();
    bad |= jset(s, "attest", o);
    for (i = 0; o != NULL && i < 3; i++) {
        char k[2] = {(char)('A' + i), '\0'};

        bad |= jset(o, k, json_integer((json_int_t)r->attest[i]));
    }
    o = json_object();
    bad |= jset(s, "errors", o);
    n = errors_sorted(r, errs);
    for (i = 0; o != NULL && i < n; i++)
        bad |= jset(o, errs[i].name, json_integer((json_int_t)errs[i].n));
    bad |= jset(s, "top_x5u_hosts", top_json(&r->hosts, r->o.top, "host"));
    bad |= jset(s, "top_spc", top_json(&r->spcs, r->o.top, "spc"));
    bad |= jset(s, "top_prefixes", top_json(&r->prefixes, r->o.top, "prefix"));
    o = json_object();
    bad |= jset(s, "seen", o);
    for (i = 0; o != NULL && i < TAP_SEEN_N; i++)
        bad |= jset(o, tap_seen_names[i], json_integer((json_int_t)r->counts.seen[i]));
    o = json_object();
    bad |= jset(s, "dropped", o);
    for (i = 1; o != NULL && i < TAP_DROP_N; i++)
        bad |= jset(o, tap_drop_names[i], json_integer((json_int_t)r->counts.drop[i]));
    if (bad) {
        json_decref(top);
        return NULL;
    }
    return top;
}

/* --- the human table ------------------------------------------------------------------------ */

/* Prints s with every byte outside printable ASCII as '?' (a terminal obeys escapes). */
static void put_ascii(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fputc(((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) ? '?' : *s, out);
}

static void print_top(FILE *out, const char *title, const char *col, const struct top_list *t,
                      size_t max)
{
    struct top_row *rows;
    size_t n = top_sorted(t, max, &rows), i, w = strlen(col);

    fprintf(out, "\n%s\n", title);
    if (n == (size_t)-1 || n == 0) {
        fprintf(out, "  none\n");
        return;
    }
    for (i = 0; i < n; i++)
        if (strlen(rows[i].key) > w)
            w = strlen(rows[i].key);
    fprintf(out, "  %-*s  %10s  %10s\n", (int)w, col, "calls", "failed");
    for (i = 0; i < n; i++) {
        fprintf(out, "  ");
        put_ascii(out, rows[i].key);
        fprintf(out, "%*s  %10llu  %10llu\n", (int)(w - strlen(rows[i].key)), "",
                (unsigned long long)rows[i].calls, (unsigned long long)rows[i].failed);
    }
    free(rows);
}

static double pct(uint64_t n, uint64_t of)
{
    return of == 0 ? 0.0 : 100.0 * (double)n / (double)of;
}

int tap_report_print(const struct tap_report *r, FILE *out)
{
    struct err_row errs[ERR_SLOTS + 1];
    char tb[64];
    size_t i, n, w;
    int any;

    fprintf(out, "Capture\n");
    fprintf(out, "  %-16s ", "inputs");
    for (i = 0; i < r->ninputs; i++) {
        fprintf(out, "%s", i > 0 ? ", " : "");
        put_ascii(out, r->inputs[i]);
    }
    fprintf(out, "%s\n", r->ninputs == 0 ? "-" : "");
    if (r->have_time) {
        fmt_time(r->first_us, tb, sizeof tb);
        fprintf(out, "  %-16s %s\n", "first", tb);
        fmt_time(r->last_us, tb, sizeof tb);
        fprintf(out, "  %-16s %s\n", "last", tb);
        fprintf(out, "  %-16s %.3f s\n", "span", (double)(r->last_us - r->first_us) / 1e6);
    } else {
        fprintf(out, "  %-16s -\n  %-16s -\n  %-16s 0.000 s\n", "first", "last", "span");
    }
    fprintf(out, "  %-16s %llu\n", "calls", (unsigned long long)r->calls);
    fprintf(out, "  %-16s %llu\n", "retransmissions", (unsigned long long)r->retrans);

    fprintf(out, "\nCalls by result\n");
    for (i = 0; i < TAP_RESULT_N; i++)
        fprintf(out, "  %-16s %10llu  %5.1f%%\n", tap_result_names[i],
                (unsigned long long)r->results[i], pct(r->results[i], r->calls));

    fprintf(out, "\nCalls by attestation\n");
    for (i = 0; i < 3; i++)
        fprintf(out, "  %-16c %10llu  %5.1f%%\n", (int)('A' + i), (unsigned long long)r->attest[i],
                pct(r->attest[i], r->calls));

    fprintf(out, "\nErrors (invalid and unverifiable calls)\n");
    n = errors_sorted(r, errs);
    for (i = 0, w = 16; i < n; i++)
        if (strlen(errs[i].name) > w)
            w = strlen(errs[i].name);
    for (i = 0; i < n; i++)
        fprintf(out, "  %-*s %10llu  %s\n", (int)w, errs[i].name, (unsigned long long)errs[i].n,
                sw_strerror(errs[i].err));
    if (n == 0)
        fprintf(out, "  none\n");

    print_top(out, "Top failing x5u hosts", "host", &r->hosts, r->o.top);
    print_top(out, "Top failing SPCs", "spc", &r->spcs, r->o.top);
    print_top(out, "Top failing calling-number prefixes", "prefix", &r->prefixes, r->o.top);

    fprintf(out, "\nPackets read\n");
    for (i = 0, w = 0; i < TAP_SEEN_N; i++)
        if (strlen(tap_seen_names[i]) > w)
            w = strlen(tap_seen_names[i]);
    for (i = 0; i < TAP_SEEN_N; i++)
        fprintf(out, "  %-*s %12llu\n", (int)w, tap_seen_names[i],
                (unsigned long long)r->counts.seen[i]);

    fprintf(out, "\nPackets dropped by reason\n");
    for (i = 1, w = 0, any = 0; i < TAP_DROP_N; i++)
        if (r->counts.drop[i] > 0 && strlen(tap_drop_names[i]) > w)
            w = strlen(tap_drop_names[i]);
    for (i = 1; i < TAP_DROP_N; i++)
        if (r->counts.drop[i] > 0) {
            fprintf(out, "  %-*s %12llu  %s\n", (int)w, tap_drop_names[i],
                    (unsigned long long)r->counts.drop[i], tap_drop_help[i]);
            any = 1;
        }
    if (!any)
        fprintf(out, "  none\n");
    return ferror(out) ? -1 : 0;
}

/* --- HTML ----------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/*
 * Writes n bytes of s for HTML text or a quoted attribute: markup characters as
 * entities, and also '/', '(', ')', '@', '`', '=' so that nothing in the file can read
 * as a URL, "url(" or "@import" whatever the input; control bytes and bytes that are not
 * UTF-8 as the visible text "\xNN" (newlines and tabs kept when keep_nl).
 */
static void esc_n(FILE *out, const char *s, size_t n, int keep_nl)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, l;

    while (i < n) {
        unsigned char c = p[i];

        switch (c) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
        case '/':
        case '(':
        case ')':
        case '@':
        case '`':
        case '=':
            fprintf(out, "&#%d;", c);
            break;
        default:
            if ((c == '\n' || c == '\t') && keep_nl) {
                fputc(c, out);
            } else if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\x%02x", c);
            } else if ((l = utf8_len(p + i, n - i)) == 0) {
                fprintf(out, "\\x%02x", c);
            } else {
                fwrite(p + i, 1, l, out);
                i += l;
                continue;
            }
        }
        i++;
    }
}

static void esc(FILE *out, const char *s)
{
    esc_n(out, s != NULL ? s : "", s != NULL ? strlen(s) : 0, 0);
}

static const char *const result_colors[TAP_RESULT_N] = {
    "#2e7d32", "#c62828", "#8d8d8d", "#5c85ad", "#ef6c00", "#cfcfcf",
};
/* Bottom to top in the stacked bars: failures first, where the eye starts. */
static const enum tap_result stack_order[TAP_RESULT_N] = {
    TAP_RESULT_INVALID,  TAP_RESULT_UNVERIFIABLE, TAP_RESULT_VALID,
    TAP_RESULT_UNSIGNED, TAP_RESULT_NO_TN,        TAP_RESULT_NOT_VERIFIED,
};

static const char css[] =
    "body{font-family:sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px "
    "solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}h4{font-size:13px;margin:"
    "10px 0 4px}"
    "table{border-collapse:collapse;margin:4px 0 12px}td,th{padding:3px 10px;text-align:left;"
    "border-bottom:1px solid #eee;vertical-align:top}th{background:#f4f4f4}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".grid{display:flex;flex-wrap:wrap;gap:24px}.grid>div{min-width:240px}"
    ".card{border:1px solid #ddd;border-left:6px solid #c62828;border-radius:4px;padding:10px "
    "14px;margin:12px 0;background:#fcfcfc}.card.unverifiable{border-left-color:#ef6c00}"
    ".reason{font-size:15px;margin:4px 0 8px}.kv th{width:170px;background:none;font-weight:"
    "normal;color:#555}.kv td{word-break:break-all}"
    "pre{background:#f4f4f4;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:"
    "break-all;margin:0}.muted{color:#777}.err{font-family:monospace}"
    ".sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}"
    "svg text{font-family:sans-serif;font-size:11px;fill:#444}";

/* One count row of a table (label already plain). */
static void html_row(FILE *out, const char *label, uint64_t n, uint64_t of, const char *color)
{
    fprintf(out, "<tr><td>");
    if (color != NULL)
        fprintf(out, "<span class=\"sw\" style=\"background:%s\"></span>", color);
    esc(out, label);
    fprintf(out, "</td><td class=\"n\">%llu</td><td class=\"n\">%.1f%%</td></tr>\n",
            (unsigned long long)n, pct(n, of));
}

/* A time axis label for bucket start t, precise enough for bucket width d. */
static void axis_label(int64_t t, int64_t d, int multi_day, char *buf, size_t len)
{
    time_t s = (time_t)floordiv(t, 1000000);
    struct tm tm;

    if (gmtime_r(&s, &tm) == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    if (d >= 86400000000LL)
        snprintf(buf, len, "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
    else if (multi_day)
        snprintf(buf, len, "%02d-%02d %02d:%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
    else if (d >= 60000000LL)
        snprintf(buf, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
    else if (d >= 1000000LL)
        snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(buf, len, "%02d:%02d:%02d.%01d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)((t - (int64_t)s * 1000000) / 100000));
}

static void fmt_width(int64_t d, char *buf, size_t len)
{
    if (d < 1000000)
        snprintf(buf, len, "%lld ms", (long long)(d / 1000));
    else if (d < 60000000LL)
        snprintf(buf, len, "%lld s", (long long)(d / 1000000));
    else if (d < 3600000000LL)
        snprintf(buf, len, "%lld min", (long long)(d / 60000000LL));
    else if (d < 86400000000LL)
        snprintf(buf, len, "%lld h", (long long)(d / 3600000000LL));
    else
        snprintf(buf, len, "%lld d", (long long)(d / 86400000000LL));
}

static void html_timeline(FILE *out, const struct tap_report *r)
{
    uint64_t counts[HTML_BUCKETS][TAP_RESULT_N], max = 0, tot;
    int64_t start, d;
    size_t n = tap_report_timeline(r, HTML_BUCKETS, &start, &d, counts), i, k, step;
    const double x0 = 60, y0 = 20, pw = 900, ph = 220;
    double bw, x, y, h;
    char lb[64], wb[32];
    int multi_day;

    fprintf(out, "<h2>Timeline</h2>\n");
    if (n == 0) {
        fprintf(out, "<p class=\"muted\">No calls.</p>\n");
        return;
    }
    for (i = 0; i < n; i++) {
        for (k = 0, tot = 0; k < TAP_RESULT_N; k++)
            tot += counts[i][k];
        if (tot > max)
            max = tot;
    }
    multi_day =
        floordiv(start, 86400000000LL) != floordiv(start + (int64_t)n * d - 1, 86400000000LL);
    fmt_width(d, wb, sizeof wb);
    fprintf(out, "<p class=\"muted\">Calls per %s, by result (times UTC).</p>\n", wb);
    fprintf(out,
            "<svg viewBox=\"0 0 1000 300\" width=\"1000\" height=\"300\" role=\"img\" "
            "aria-label=\"calls per %s by result\">\n",
            wb);
    bw = pw / (double)n;
    /* axes and the y scale: 0, half, max */
    fprintf(out,
            "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n"
            "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n",
            x0, y0, x0, y0 + ph, x0, y0 + ph, x0 + pw, y0 + ph);
    for (k = 0; k < 3; k++) {
        uint64_t v = k == 0 ? 0 : k == 1 ? max / 2 : max;

        if (k == 1 && max < 2)
            continue;
        y = y0 + ph - (max > 0 ? ph * (double)v / (double)max : 0);
        fprintf(out,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%llu</text>\n",
                x0 + 1, y, x0 + pw, y, x0 - 6, y + 4, (unsigned long long)v);
    }
    for (i = 0; i < n; i++) {
        x = x0 + bw * (double)i;
        y = y0 + ph;
        for (k = 0, tot = 0; k < TAP_RESULT_N; k++)
            tot += counts[i][k];
        for (k = 0; k < TAP_RESULT_N; k++) {
            enum tap_result res = stack_order[k];

            if (counts[i][res] == 0)
                continue;
            h = ph * (double)counts[i][res] / (double)max;
            y -= h;
            fprintf(out,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"%s\"><title>",
                    x + bw * 0.1, y, bw * 0.8, h, result_colors[res]);
            fmt_time(start + (int64_t)i * d, lb, sizeof lb);
            fprintf(out, "%s: %llu %s of %llu</title></rect>\n", lb,
                    (unsigned long long)counts[i][res], tap_result_names[res],
                    (unsigned long long)tot);
        }
    }
    /* at most 7 time labels, at bucket starts */
    step = (n + 6) / 7;
    for (i = 0; i <= n; i += step) {
        axis_label(start + (int64_t)i * d, d, multi_day, lb, sizeof lb);
        fprintf(out,
                "<line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.0f\" stroke=\"#888\"/>"
                "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                x0 + bw * (double)i, y0 + ph, x0 + bw * (double)i, y0 + ph + 5, x0 + bw * (double)i,
                y0 + ph + 18, lb);
    }
    /* the legend */
    for (k = 0, x = x0; k < TAP_RESULT_N; k++) {
        enum tap_result res = stack_order[k];

        fprintf(out,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
                x, y0 + ph + 34, result_colors[res], x + 16, y0 + ph + 44, tap_result_names[res]);
        x += 130;
    }
    fprintf(out, "</svg>\n");
}

static void html_top(FILE *out, const char *title, const char *col, const struct top_list *t,
                     size_t max)
{
    struct top_row *rows;
    size_t n = top_sorted(t, max, &rows), i;

    fprintf(out, "<div><h3>%s</h3>\n", title);
    if (n == (size_t)-1 || n == 0) {
        fprintf(out, "<p class=\"muted\">none</p></div>\n");
        return;
    }
    fprintf(out, "<table><tr><th>%s</th><th>calls</th><th>failed</th></tr>\n", col);
    for (i = 0; i < n; i++) {
        fprintf(out, "<tr><td>");
        esc(out, rows[i].key);
        fprintf(out, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td></tr>\n",
                (unsigned long long)rows[i].calls, (unsigned long long)rows[i].failed);
    }
    fprintf(out, "</table></div>\n");
    free(rows);
}

/* Decodes base64url (padding and whitespace tolerated: this shows, it does not judge). */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    unsigned char *o = malloc(n / 4 * 3 + 3);
    uint32_t acc = 0;
    size_t i, len = 0;
    int bits = 0, v;

    if (o == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-' || c == '+')
            v = 62;
        else if (c == '_' || c == '/')
            v = 63;
        else if (c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        else {
            free(o);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = len;
    return o;
}

/* One part of the PASSporT: decoded and pretty-printed when it is JSON, else its bytes. */
static void html_part(FILE *out, const char *title, const char *s, size_t n)
{
    unsigned char *raw;
    size_t len;
    json_t *j;
    json_error_t jerr;
    char *pretty;

    fprintf(out, "<h4>%s</h4>\n", title);
    if (n == 0) {
        fprintf(out, "<p class=\"muted\">empty (a compact PASSporT leaves it out)</p>\n");
        return;
    }
    if ((raw = b64url_decode(s, n, &len)) == NULL) {
        fprintf(out, "<p class=\"muted\">not base64url; as received:</p><pre>");
        esc_n(out, s, n, 1);
        fprintf(out, "</pre>\n");
        return;
    }
    j = json_loadb((const char *)raw, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    pretty = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
    if (pretty != NULL) {
        fprintf(out, "<pre>");
        esc_n(out, pretty, strlen(pretty), 1);
        fprintf(out, "</pre>\n");
    } else {
        fprintf(out, "<p class=\"muted\">not JSON; the decoded bytes:</p><pre>");
        esc_n(out, (const char *)raw, len, 1);
        fprintf(out, "</pre>\n");
    }
    free(pretty);
    json_decref(j);
    free(raw);
}

static void html_passport(FILE *out, const char *id, size_t idlen)
{
    size_t tok, a, b;

    if (id == NULL) {
        fprintf(out, "<p class=\"muted\">No Identity header was kept for this call.</p>\n");
        return;
    }
    /* the token ends where the header's parameters begin */
    for (tok = 0; tok < idlen && (id[tok] == ' ' || id[tok] == '\t'); tok++)
        ;
    id += tok;
    idlen -= tok;
    for (tok = 0; tok < idlen && id[tok] != ';' && id[tok] != ' ' && id[tok] != '\t'; tok++)
        ;
    for (a = 0; a < tok && id[a] != '.'; a++)
        ;
    for (b = a + 1; b < tok && id[b] != '.'; b++)
        ;
    if (a >= tok || b >= tok) {
        fprintf(out, "<p class=\"muted\">The Identity value is not three dot-separated "
                     "parts; it cannot be decoded.</p>\n");
    } else {
        html_part(out, "PASSporT header", id, a);
        html_part(out, "PASSporT payload", id + a + 1, b - a - 1);
    }
    fprintf(out, "<details><summary>Identity header value</summary><pre>");
    esc_n(out, id, idlen, 0);
    fprintf(out, "</pre></details>\n");
}

static void kv_open(FILE *out, const char *label)
{
    fprintf(out, "<tr><th>%s</th><td>", label);
}

static void kv(FILE *out, const char *label, const char *value)
{
    kv_open(out, label);
    if (value == NULL || value[0] == '\0')
        fprintf(out, "<span class=\"muted\">-</span>");
    else
        esc(out, value);
    fprintf(out, "</td></tr>\n");
}

static void html_card(FILE *out, const struct kept_call *k, size_t idx)
{
    const struct swf_verdict *v = &k->v;
    char tb[64], a[2] = {v->attest, '\0'};

    fmt_time(k->ts_us, tb, sizeof tb);
    fprintf(out, "<section class=\"card %s\" id=\"call-%zu\" data-call-id=\"",
            tap_result_names[k->res], idx + 1);
    esc(out, k->call_id);
    fprintf(out, "\">\n<h3>%s &mdash; <span class=\"err\">%s</span> &mdash; %s</h3>\n",
            tap_result_names[k->res], sw_err_name(v->err), tb);
    fprintf(out, "<p class=\"reason\">");
    esc(out, tap_report_reason(v->err));
    fprintf(out, "</p>\n<table class=\"kv\">\n");
    kv(out, "Time (UTC)", tb);
    kv(out, "Call-ID", k->call_id);
    kv_open(out, "Source &rarr; destination");
    esc(out, k->src[0] != '\0' ? k->src : "?");
    fprintf(out, " &rarr; ");
    esc(out, k->dst[0] != '\0' ? k->dst : "?");
    fprintf(out, " (%s)</td></tr>\n", k->transport == SW_TCP ? "TCP" : "UDP");
    kv(out, "Trunk", k->trunk);
    kv_open(out, "Calling &rarr; called");
    esc(out, v->orig[0] != '\0' ? v->orig : "?");
    fprintf(out, " &rarr; ");
    esc(out, v->dest[0] != '\0' ? v->dest : "?");
    fprintf(out, "</td></tr>\n");
    kv(out, "Attestation", a);
    kv(out, "Origination ID", v->origid);
    kv(out, "Certificate (x5u)", v->x5u);
    kv(out, "SPC", v->spc);
    if (v->iat != 0) {
        fmt_time((int64_t)v->iat * 1000000, tb, sizeof tb);
        kv(out, "Signed at (iat)", tb);
    } else {
        kv(out, "Signed at (iat)", "");
    }
    kv(out, "Verstat", v->verstat);
    kv_open(out, "Error");
    fprintf(out, "<span class=\"err\">%s</span>: ", sw_err_name(v->err));
    esc(out, sw_strerror(v->err));
    fprintf(out, " <span class=\"muted\">(");
    esc(out, sw_class_text(sw_err_class(v->err)));
    fprintf(out, ")</span></td></tr>\n");
    kv(out, "Detail", v->detail);
    kv_open(out, "Identity headers");
    fprintf(out, "%d%s", v->identities, v->has_div ? " (with a div PASSporT for " : "");
    if (v->has_div) {
        esc(out, v->div_tn);
        fprintf(out, ")");
    }
    fprintf(out, "</td></tr>\n</table>\n");
    html_passport(out, k->identity, k->identity_len);
    fprintf(out, "</section>\n");
}

static void html_body(FILE *out, const struct tap_report *r)
{
    struct err_row errs[ERR_SLOTS + 1];
    char tb[64];
    size_t i, n;

    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n"
            "<title>stirwire TAP report</title>\n<style>%s</style>\n</head>\n<body>\n",
            css);
    fprintf(out, "<h1>stirwire TAP report</h1>\n<p class=\"muted\">");
    for (i = 0; i < r->ninputs; i++) {
        fprintf(out, "%s", i > 0 ? ", " : "");
        esc(out, r->inputs[i]);
    }
    fprintf(out, "</p>\n<h2>Capture</h2>\n<table>\n");
    if (r->have_time) {
        fmt_time(r->first_us, tb, sizeof tb);
        fprintf(out, "<tr><td>first</td><td>%s</td></tr>\n", tb);
        fmt_time(r->last_us, tb, sizeof tb);
        fprintf(out, "<tr><td>last</td><td>%s</td></tr>\n", tb);
        fprintf(out, "<tr><td>span</td><td>%.3f s</td></tr>\n",
                (double)(r->last_us - r->first_us) / 1e6);
    }
    fprintf(out, "<tr><td>calls</td><td class=\"n\">%llu</td></tr>\n",
            (unsigned long long)r->calls);
    fprintf(out, "<tr><td>retransmissions</td><td class=\"n\">%llu</td></tr>\n</table>\n",
            (unsigned long long)r->retrans);

    html_timeline(out, r);

    fprintf(out, "<h2>Summary</h2>\n<div class=\"grid\">\n<div><h3>Calls by result</h3><table>"
                 "<tr><th>result</th><th>calls</th><th>share</th></tr>\n");
    for (i = 0; i < TAP_RESULT_N; i++)
        html_row(out, tap_result_names[i], r->results[i], r->calls, result_colors[i]);
    fprintf(out, "</table></div>\n<div><h3>Calls by attestation</h3><table>"
                 "<tr><th>attest</th><th>calls</th><th>share</th></tr>\n");
    for (i = 0; i < 3; i++) {
        char a[2] = {(char)('A' + i), '\0'};

        html_row(out, a, r->attest[i], r->calls, NULL);
    }
    fprintf(out, "</table></div>\n</div>\n<h3>Errors (invalid and unverifiable calls)</h3>\n");
    n = errors_sorted(r, errs);
    if (n == 0) {
        fprintf(out, "<p class=\"muted\">none</p>\n");
    } else {
        fprintf(out, "<table><tr><th>error</th><th>calls</th><th>what it means</th></tr>\n");
        for (i = 0; i < n; i++) {
            fprintf(out, "<tr><td class=\"err\">%s</td><td class=\"n\">%llu</td><td>", errs[i].name,
                    (unsigned long long)errs[i].n);
            esc(out, tap_report_reason(errs[i].err));
            fprintf(out, "</td></tr>\n");
        }
        fprintf(out, "</table>\n");
    }
    fprintf(out, "<div class=\"grid\">\n");
    html_top(out, "Top failing x5u hosts", "host", &r->hosts, r->o.top);
    html_top(out, "Top failing SPCs", "SPC", &r->spcs, r->o.top);
    html_top(out, "Top failing calling-number prefixes", "prefix", &r->prefixes, r->o.top);
    fprintf(out, "</div>\n<h2>Packets</h2>\n<div class=\"grid\">\n<div><h3>Read</h3><table>\n");
    for (i = 0; i < TAP_SEEN_N; i++) {
        fprintf(out, "<tr><td>%s</td><td class=\"n\">%llu</td><td class=\"muted\">",
                tap_seen_names[i], (unsigned long long)r->counts.seen[i]);
        esc(out, tap_seen_help[i]);
        fprintf(out, "</td></tr>\n");
    }
    fprintf(out, "</table></div>\n<div><h3>Dropped by reason</h3><table>\n");
    for (i = 1, n = 0; i < TAP_DROP_N; i++) {
        if (r->counts.drop[i] == 0)
            continue;
        fprintf(out, "<tr><td>%s</td><td class=\"n\">%llu</td><td class=\"muted\">",
                tap_drop_names[i], (unsigned long long)r->counts.drop[i]);
        esc(out, tap_drop_help[i]);
        fprintf(out, "</td></tr>\n");
        n++;
    }
    if (n == 0)
        fprintf(out, "<tr><td>none</td></tr>\n");
    fprintf(out, "</table></div>\n</div>\n");

    fprintf(out, "<h2>Failing calls</h2>\n");
    if (r->failed == 0)
        fprintf(out, "<p class=\"muted\">No call failed verification.</p>\n");
    else
        fprintf(out,
                "<p class=\"muted\">%llu failing calls (invalid or unverifiable); %zu "
                "shown.</p>\n",
                (unsigned long long)r->failed, r->nkept);
    for (i = 0; i < r->nkept; i++)
        html_card(out, &r->kept[i], i);
    fprintf(out, "</body>\n</html>\n");
}

int tap_report_html(const struct tap_report *r, const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    FILE *out;
    int fd, e;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    (void)fchmod(fd, 0644);
    if ((out = fdopen(fd, "w")) == NULL) {
        e = errno;
        close(fd);
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -1;
    }
    html_body(out, r);
    if (fflush(out) != 0 || ferror(out) || fsync(fd) != 0) {
        e = errno != 0 ? errno : EIO;
        fclose(out);
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -1;
    }
    if (fclose(out) != 0) {
        e = errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -1;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}
