/*
 * registry.c - every filter stirwired knows, by the name a trunk's chain uses.
 *
 * The config loader turns filters = [ "sign" ] into descriptors through swf_lookup(); that
 * is the only way a filter enters a chain, so adding a filter means writing its file and
 * adding one line to the table below. A filter's position here is its row in the counter
 * table (counters.h), so the table is fixed at build time and read by every worker
 * without locks. Test builds (SW_TEST_FILTERS) add filters that exist only to exercise
 * the engine.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "../src/core/filter.h"

extern const struct swf_filter swf_sign, swf_strip, swf_verify, swf_verstat, swf_audit;
#ifdef SW_TEST_FILTERS
extern const struct swf_filter swf_delay;
#endif

static const struct swf_filter *const filters[] = {
    &swf_sign,  &swf_strip, &swf_verify, &swf_verstat, &swf_audit,
#ifdef SW_TEST_FILTERS
    &swf_delay,
#endif
};

#define NFILTERS (sizeof(filters) / sizeof(filters[0]))

/* built from the descriptors: C cannot take swf_sign.name in a static initialiser */
static const char *names[NFILTERS + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void fill_names(void)
{
    size_t i;

    for (i = 0; i < NFILTERS; i++)
        names[i] = filters[i]->name;
    names[NFILTERS] = NULL;
}

const struct swf_filter *swf_lookup(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < NFILTERS; i++)
        if (strcmp(filters[i]->name, name) == 0)
            return filters[i];
    return NULL;
}

const char *const *swf_names(void)
{
    pthread_once(&names_once, fill_names);
    return names;
}

const struct swf_filter *const *swf_all(size_t *n)
{
    *n = NFILTERS;
    return filters;
}

int swf_index(const struct swf_filter *f)
{
    size_t i;

    for (i = 0; i < NFILTERS; i++)
        if (filters[i] == f)
            return (int)i;
    return -1;
}
