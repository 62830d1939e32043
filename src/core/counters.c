/*
 * counters.c - the counter table's summaries (see counters.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"

static const struct sw_counter_info table[] = {
#define SW_COUNTER_ROW(name, help) {#name, help, offsetof(struct sw_stats, name)},
    SW_COUNTER_MAP(SW_COUNTER_ROW)
#undef SW_COUNTER_ROW
};

const struct sw_counter_info *sw_counters(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

static uint64_t value(const struct sw_stats *s, size_t i)
{
    return *(const uint64_t *)((const char *)s + table[i].offset);
}

void sw_stats_add(struct sw_stats *sum, const struct sw_stats *one)
{
    /* every member is a uint64_t: add them as an array */
    const uint64_t *src = (const uint64_t *)one;
    uint64_t *dst = (uint64_t *)sum;
    size_t i, n = sizeof(*sum) / sizeof(uint64_t);

    for (i = 0; i < n; i++)
        dst[i] += src[i];
}

uint64_t sw_stats_filter(const struct sw_stats *s, const char *filter, const char *counter)
{
    const struct swf_filter *f = swf_lookup(filter);
    int idx = f != NULL ? swf_index(f) : -1;
    size_t i;

    if (idx < 0 || f->counters == NULL)
        return 0;
    for (i = 0; f->counters[i] != NULL && i < SWF_MAX_COUNTERS; i++)
        if (strcmp(f->counters[i], counter) == 0)
            return s->filter[idx][i];
    return 0;
}

/* Appends to buf[*used..len), keeping it NUL-terminated; stops quietly when full. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*used >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *used = (size_t)n >= len - *used ? len - 1 : *used + (size_t)n;
}

/*
 * Both forms from one walk over the table and the filters' rows: the summary leaves out
 * zeros (received excepted) and groups a filter's counters behind its name; the text form
 * writes every counter on its own line.
 */
static size_t format(const struct sw_stats *s, char *buf, size_t len, int summary)
{
    size_t used = 0, i, k, nf;
    const struct swf_filter *const *fs = swf_all(&nf);

    if (len == 0)
        return 0;
    buf[0] = '\0';
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        unsigned long long v = (unsigned long long)value(s, i);
        if (!summary)
            append(buf, len, &used, "%s %llu\n", table[i].name, v);
        else if (i == 0 || v != 0)
            append(buf, len, &used, "%s%s %llu", i ? ", " : "", table[i].name, v);
    }
    for (i = 0; i < nf && i < SWF_MAX_FILTERS; i++) {
        int any = 0;
        for (k = 0; fs[i]->counters != NULL && fs[i]->counters[k] != NULL; k++) {
            unsigned long long v = (unsigned long long)s->filter[i][k];
            if (!summary)
                append(buf, len, &used, "filter_%s_%s %llu\n", fs[i]->name, fs[i]->counters[k], v);
            else if (v != 0) /* the filter's name before its first counter */
                append(buf, len, &used, any ? ", %s%s%s %llu" : "; %s%s%s %llu",
                       any ? "" : fs[i]->name, any ? "" : ": ", fs[i]->counters[k], v);
            any |= v != 0;
        }
    }
    return used;
}

size_t sw_stats_summary(const struct sw_stats *s, char *buf, size_t len)
{
    return format(s, buf, len, 1);
}

size_t sw_stats_text(const struct sw_stats *s, char *buf, size_t len)
{
    return format(s, buf, len, 0);
}

size_t sw_verifier_summary(sw_verifier *v, char *buf, size_t len)
{
    sw_verifier_stats st;
    size_t used = 0;
    int any = 0;
    uint64_t n;

    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (v == NULL) {
        append(buf, len, &used, "verifier: none");
        return used;
    }
    sw_verifier_get_stats(v, &st);
    append(buf, len, &used,
           "verifier: cache_hits %llu, cache_misses %llu, fetches %llu, fetch_failures %llu, "
           "negative_hits %llu, crl_fetches %llu",
           (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
           (unsigned long long)st.fetches, (unsigned long long)st.fetch_failures,
           (unsigned long long)st.negative_hits, (unsigned long long)st.crl_fetches);
    /* every error code in the library's table, so that a new one is never left out */
#define SW_XX_FAILED(name, ...)                                                                    \
    if (SW_ERR_##name != SW_OK && (n = sw_verifier_fetch_count(v, SW_ERR_##name)) != 0) {          \
        append(buf, len, &used, "%s%s %llu", any ? ", " : "; failed: ", #name,                     \
               (unsigned long long)n);                                                             \
        any = 1;                                                                                   \
    }
    SW_ERR_MAP(SW_XX_FAILED)
#undef SW_XX_FAILED
    return used;
}
