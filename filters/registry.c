/*
 * registry.c - every filter stirwired knows, by the name a trunk's chain uses.
 *
 * The config loader turns filters = [ "sign" ] into descriptors through swf_lookup(); that
 * is the only way a filter enters a chain, so adding one means writing its file and
 * adding one line to each table below. Rule: the two tables list the same filters in
 * the same order (test_sign_filter checks it), and nothing here is mutable: the tables
 * are read by every worker without locks.
 */
#include <stddef.h>
#include <string.h>

#include "filter.h"

/* The descriptors, one per file in filters/. */
extern const struct swf_filter swf_sign;
extern const struct swf_filter swf_strip;

static const struct swf_filter *const filters[] = {
    &swf_sign,
    &swf_strip,
};

/*
 * Written out rather than read from the descriptors: C cannot take swf_sign.name in a
 * static initialiser, and building the list at run time would need global mutable state.
 */
static const char *const names[] = {
    "sign",
    "strip",
    NULL,
};

const struct swf_filter *swf_lookup(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (strcmp(filters[i]->name, name) == 0)
            return filters[i];
    return NULL;
}

const char *const *swf_names(void)
{
    return names;
}
