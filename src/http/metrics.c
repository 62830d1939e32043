/*
 * metrics.c - the Prometheus text exposition of the counters (see metrics.h for the names
 * and why they are shaped so).
 *
 * Everything is generated from the tables: SW_COUNTER_MAP for the message path, the
 * filters' descriptors (swf_all) for their counters, SW_ERR_MAP for the verifier's fetch
 * outcomes. The one hand-written table here, fmaps, only gives some filter counters a
 * family with a label and a help text; a filter counter it does not know still appears,
 * as stirwire_<filter>_<counter>_total, so adding a counter never needs an edit here. The
 * rule a newcomer must not break: a family's samples are written in one block under its
 * one # HELP / # TYPE pair (Prometheus rejects a family split in two, or named twice).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* A filter counter's place in the exposition: family (after "stirwire_", before
 * "_total"), its label (NULL: none) and the family's help text. */
struct fmap {
    const char *filter, *counter;
    const char *family, *label, *value;
    const char *help;
};

#define VERIFY_HELP                                                                                \
    "requests judged by the verify filter, by outcome (one per request): passed, missing (no "     \
    "shaken Identity), no_tn, the failure classes, fetch_failed_open/closed (the certificate "     \
    "could not be had), error"
#define SIGNED_HELP "requests signed by the sign filter, by attestation level"
#define UNSIGNED_HELP "requests the sign filter forwarded unsigned, by reason"
#define TAGGED_HELP "requests the verstat filter tagged, by the verstat value"

static const struct fmap fmaps[] = {
    {"verify", "passed", "verify", "outcome", "passed", VERIFY_HELP},
    {"verify", "missing", "verify", "outcome", "missing", VERIFY_HELP},
    {"verify", "no_tn", "verify", "outcome", "no_tn", VERIFY_HELP},
    {"verify", "malformed", "verify", "outcome", "malformed", VERIFY_HELP},
    {"verify", "stale", "verify", "outcome", "stale", VERIFY_HELP},
    {"verify", "claims", "verify", "outcome", "claims", VERIFY_HELP},
    {"verify", "signature", "verify", "outcome", "signature", VERIFY_HELP},
    {"verify", "cert", "verify", "outcome", "cert", VERIFY_HELP},
    {"verify", "fetch_failed_open", "verify", "outcome", "fetch_failed_open", VERIFY_HELP},
    {"verify", "fetch_failed_closed", "verify", "outcome", "fetch_failed_closed", VERIFY_HELP},
    {"verify", "error", "verify", "outcome", "error", VERIFY_HELP},
    {"verify", "rejected", "verify_rejected", NULL, NULL,
     "requests the verify filter answered with a status (each also has its outcome)"},
    {"verify", "parked", "verify_parked", NULL, NULL,
     "requests the verify filter parked to wait for a certificate fetch"},
    {"sign", "signed_a", "sign_signed", "attest", "A", SIGNED_HELP},
    {"sign", "signed_b", "sign_signed", "attest", "B", SIGNED_HELP},
    {"sign", "signed_c", "sign_signed", "attest", "C", SIGNED_HELP},
    {"sign", "unsigned_no_number", "sign_unsigned", "reason", "no_number", UNSIGNED_HELP},
    {"sign", "unsigned_no_rule", "sign_unsigned", "reason", "no_rule", UNSIGNED_HELP},
    {"sign", "unsigned_error", "sign_unsigned", "reason", "error", UNSIGNED_HELP},
    {"sign", "unsigned_stale_date", "sign_unsigned", "reason", "stale_date", UNSIGNED_HELP},
    {"sign", "kept_existing", "sign_kept_existing", NULL, NULL,
     "requests that came with an Identity, kept as they were (existing = keep)"},
    {"sign", "date_replaced", "sign_date_replaced", NULL, NULL,
     "stale Date headers the sign filter replaced with its own (date = replace)"},
    {"verstat", "passed", "verstat_tagged", "verstat", "TN-Validation-Passed", TAGGED_HELP},
    {"verstat", "failed", "verstat_tagged", "verstat", "TN-Validation-Failed", TAGGED_HELP},
    {"verstat", "no_validation", "verstat_tagged", "verstat", "No-TN-Validation", TAGGED_HELP},
    {"verstat", "no_tn", "verstat_no_tn", NULL, NULL,
     "requests with a verdict to tell but no managed header carrying a telephone number"},
    {"verstat", "replaced_foreign", "verstat_replaced_foreign", NULL, NULL,
     "URIs whose verstat as received was replaced by ours"},
    {"verstat", "removed_foreign", "verstat_removed_foreign", NULL, NULL,
     "URIs without a telephone number whose verstat as received was removed"},
    {"verstat", "not_added", "verstat_not_added", NULL, NULL,
     "requests left untagged because the edits did not fit"},
    {"strip", "stripped", "strip_stripped", NULL, NULL,
     "requests whose Identity headers the strip filter removed"},
    {"strip", "not_stripped", "strip_not_stripped", NULL, NULL,
     "requests whose Identity headers could not be removed (too many edits)"},
    {"audit", "records", "audit_records", NULL, NULL, "audit records written"},
    {"audit", "write_failed", "audit_write_failed", NULL, NULL,
     "audit records that could not be written"},
};

static const struct fmap *fmap_find(const char *filter, const char *counter)
{
    size_t i;

    for (i = 0; i < sizeof(fmaps) / sizeof(fmaps[0]); i++)
        if (strcmp(fmaps[i].filter, filter) == 0 && strcmp(fmaps[i].counter, counter) == 0)
            return &fmaps[i];
    return NULL;
}

/* --- the format's escapes ------------------------------------------------------------------ */

void sw_metrics_family(FILE *out, const char *family, const char *help, const char *type)
{
    const char *p;

    /* HELP text: backslash and line feed escaped (the format's rule for HELP) */
    fprintf(out, "# HELP %s ", family);
    for (p = help; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fprintf(out, "\n# TYPE %s %s\n", family, type);
}

void sw_metrics_label_value(FILE *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            fputs("\\\\", out);
        else if (*v == '"')
            fputs("\\\"", out);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

void sw_metrics_sample(FILE *out, const char *family, const char *label, const char *value,
                       uint64_t n)
{
    fputs(family, out);
    if (label != NULL) {
        fprintf(out, "{%s=\"", label);
        sw_metrics_label_value(out, value);
        fputs("\"}", out);
    }
    fprintf(out, " %llu\n", (unsigned long long)n);
}

/* --- the filters' counters ----------------------------------------------------------------- */

/* One filter counter with its family, before the families are grouped. */
struct fentry {
    char family[112]; /* the whole name, stirwire_..._total */
    const char *label, *value, *help;
    char own_help[128]; /* for a counter fmaps does not know */
    uint64_t n;
    int done;
};

/* Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*: anything else in a name becomes '_'. */
static void name_part(char *dst, size_t size, const char *a, const char *b)
{
    size_t i;

    snprintf(dst, size, "%s_%s", a, b);
    for (i = 0; dst[i] != '\0'; i++)
        if (!((dst[i] >= 'a' && dst[i] <= 'z') || (dst[i] >= 'A' && dst[i] <= 'Z') ||
              (dst[i] >= '0' && dst[i] <= '9') || dst[i] == '_'))
            dst[i] = '_';
}

/*
 * Every counter of every registered filter, in registry order; then each family once,
 * at the place of its first counter, with all its samples under it.
 */
static int put_filters(FILE *out, const struct sw_stats *sum)
{
    size_t nf, i, k, n = 0;
    const struct swf_filter *const *fs = swf_all(&nf);
    struct fentry *e = calloc(SWF_MAX_FILTERS * SWF_MAX_COUNTERS, sizeof(*e));

    if (e == NULL)
        return -1;
    for (i = 0; i < nf && i < SWF_MAX_FILTERS; i++) {
        for (k = 0; fs[i]->counters != NULL && fs[i]->counters[k] != NULL && k < SWF_MAX_COUNTERS;
             k++) {
            const char *c = fs[i]->counters[k];
            const struct fmap *m = fmap_find(fs[i]->name, c);
            struct fentry *x = &e[n++];
            char base[80];

            x->n = sum->filter[i][k];
            if (m != NULL) {
                snprintf(base, sizeof(base), "%s", m->family);
                x->label = m->label;
                x->value = m->value;
                x->help = m->help;
            } else {
                name_part(base, sizeof(base), fs[i]->name, c);
                snprintf(x->own_help, sizeof(x->own_help), "the %s filter's counter %s",
                         fs[i]->name, c);
                x->help = x->own_help;
            }
            /* format 0.0.4: the family is named as its samples are, _total included */
            snprintf(x->family, sizeof(x->family), "stirwire_%s_total", base);
        }
    }
    for (i = 0; i < n; i++) {
        if (e[i].done)
            continue;
        sw_metrics_family(out, e[i].family, e[i].help, "counter");
        for (k = i; k < n; k++) {
            if (e[k].done || strcmp(e[k].family, e[i].family) != 0)
                continue;
            sw_metrics_sample(out, e[k].family, e[k].label, e[k].value, e[k].n);
            e[k].done = 1;
        }
    }
    free(e);
    return 0;
}

/* --- the verifier -------------------------------------------------------------------------- */

static void put_counter(FILE *out, const char *family, const char *help, uint64_t n)
{
    sw_metrics_family(out, family, help, "counter");
    sw_metrics_sample(out, family, NULL, NULL, n);
}

static void put_verifier(FILE *out, sw_verifier *v)
{
    sw_verifier_stats st;

    sw_verifier_get_stats(v, &st);
    put_counter(out, "stirwire_verifier_cache_hits_total",
                "x5u certificates answered from the verifier's cache", st.cache_hits);
    put_counter(out, "stirwire_verifier_cache_misses_total",
                "x5u certificates not in the cache (a fetch started or was joined)",
                st.cache_misses);
    put_counter(out, "stirwire_verifier_negative_hits_total",
                "x5u lookups answered with a failure remembered from an earlier fetch",
                st.negative_hits);
    put_counter(out, "stirwire_verifier_downloads_total", "x5u downloads made over HTTP(S)",
                st.fetches);
    put_counter(out, "stirwire_verifier_fetch_failures_total",
                "x5u certificates that could not be had or were not acceptable", st.fetch_failures);
    /* every error code of the library's table, so that a new one is never left out */
    sw_metrics_family(
        out, "stirwire_verifier_fetches_total",
        "x5u fetches by final outcome (OK: the certificate was had and validated; else "
        "the error name), each cache miss once",
        "counter");
#define SW_XX_FETCHED(name, ...)                                                                   \
    sw_metrics_sample(out, "stirwire_verifier_fetches_total", "result", #name,                     \
                      sw_verifier_fetch_count(v, SW_ERR_##name));
    SW_ERR_MAP(SW_XX_FETCHED)
#undef SW_XX_FETCHED
    put_counter(out, "stirwire_verifier_crl_fetches_total",
                "CRL downloads from distribution points", st.crl_fetches);
    put_counter(out, "stirwire_verifier_crl_failures_total",
                "certificates whose CRL distribution point could not be fetched or parsed",
                st.crl_failures);
    put_counter(out, "stirwire_verifier_crl_tolerated_total",
                "of those, certificates accepted without the CRL (crl_unreachable tolerate)",
                st.crl_tolerated);
}

/* --- all of it ----------------------------------------------------------------------------- */

char *sw_metrics_text(const struct sw_stats *sum, sw_verifier *v)
{
    char *buf = NULL, fam[112];
    size_t len = 0, i, n;
    FILE *out = open_memstream(&buf, &len);
    int rc = 0;

    if (out == NULL)
        return NULL;
    if (sum != NULL) {
        const struct sw_counter_info *t = sw_counters(&n);
        for (i = 0; i < n; i++) {
            snprintf(fam, sizeof(fam), "stirwire_%s_total", t[i].name);
            put_counter(out, fam, t[i].help, *(const uint64_t *)((const char *)sum + t[i].offset));
        }
        rc = put_filters(out, sum);
    }
    if (v != NULL)
        put_verifier(out, v);
    sw_metrics_family(out, "stirwire_build_info",
                      "the stirwire version (label version) and libstirwire's (library)", "gauge");
    fputs("stirwire_build_info{version=\"", out);
    sw_metrics_label_value(out, PACKAGE_VERSION);
    fputs("\",library=\"", out);
    sw_metrics_label_value(out, sw_version());
    fputs("\"} 1\n", out);
    /* a write error (memory) shows in ferror, or in fclose, which flushes */
    if (ferror(out))
        rc = -1;
    if (fclose(out) != 0)
        rc = -1;
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

enum sw_http_rc sw_api_metrics(const struct sw_api *api, struct sw_http_req *req,
                               struct sw_http_resp *resp)
{
    char *text = api->metrics != NULL ? api->metrics(api->metrics_arg)
                                      : sw_metrics_text(NULL, api->verifier);

    (void)req;
    resp->fd = -1;
    if (text == NULL) {
        /* sw_http_error would need memory too: a static answer is the one that works */
        static const char oom[] = "{\"error\":\"NOMEM\",\"message\":\"out of memory\"}\n";
        resp->status = 500;
        resp->content_type = "application/json";
        resp->body = strdup(oom);
        resp->body_len = resp->body != NULL ? sizeof(oom) - 1 : 0;
        return SW_HTTP_DONE;
    }
    resp->status = 200;
    resp->content_type = SW_METRICS_CONTENT_TYPE;
    resp->body = text;
    resp->body_len = strlen(text);
    return SW_HTTP_DONE;
}
