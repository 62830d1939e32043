/*
 * metrics_dump.c - prints sw_metrics_text() of made-up counters, for metrics.sh (which
 * hands it to promtool and checks the Grafana dashboard's metric names against it).
 *
 * Every counter of the table and of every filter gets a different non-zero value (its
 * position), so a family that lost its samples or a value written to the wrong sample
 * shows. The verifier is a fresh one: its families are there, with zeros. With the
 * argument "serve" the counters are left out, as "stirwire serve" does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/metrics.h"

int main(int argc, char **argv)
{
    static struct sw_stats st; /* large: not on the stack */
    uint64_t *all = (uint64_t *)&st;
    size_t i, n = sizeof(st) / sizeof(uint64_t);
    int serve = argc > 1 && strcmp(argv[1], "serve") == 0;
    sw_verifier *v = sw_verifier_new();
    char *text;

    for (i = 0; i < n; i++)
        all[i] = i + 1;
    if (v == NULL || (text = sw_metrics_text(serve ? NULL : &st, v)) == NULL) {
        fprintf(stderr, "metrics_dump: out of memory\n");
        return 1;
    }
    fputs(text, stdout);
    free(text);
    sw_verifier_free(v);
    return 0;
}
