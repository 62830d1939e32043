/*
 * packet.c - the names of the TAP's counters (packet.h), from its two tables.
 */
#include "packet.h"

const char *const tap_seen_names[TAP_SEEN_N] = {
#define TAP_X_NAME(name, help) #name,
    TAP_SEEN_MAP(TAP_X_NAME)
#undef TAP_X_NAME
};
const char *const tap_seen_help[TAP_SEEN_N] = {
#define TAP_X_HELP(name, help) help,
    TAP_SEEN_MAP(TAP_X_HELP)
#undef TAP_X_HELP
};
const char *const tap_drop_names[TAP_DROP_N] = {"none",
#define TAP_X_NAME(name, help) #name,
                                                TAP_DROP_MAP(TAP_X_NAME)
#undef TAP_X_NAME
};
const char *const tap_drop_help[TAP_DROP_N] = {"not a drop",
#define TAP_X_HELP(name, help) help,
                                               TAP_DROP_MAP(TAP_X_HELP)
#undef TAP_X_HELP
};

void tap_counts_add(struct tap_counts *a, const struct tap_counts *b)
{
    size_t i;

    for (i = 0; i < TAP_SEEN_N; i++)
        a->seen[i] += b->seen[i];
    for (i = 0; i < TAP_DROP_N; i++)
        a->drop[i] += b->drop[i];
}
