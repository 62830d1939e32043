/*
 * cfgread.c - typed libconfig getters and the one error list (see cfgread.h).
 *
 * Errors are kept as they are found and written out sorted by file (the main file first,
 * then included files in the order they first erred) and line, so that -t reads down the
 * file even though the checks visit it section by section.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgread.h"

void sw_cfg_errs_init(struct sw_cfg_errs *e, const char *path)
{
    const char *slash;

    memset(e, 0, sizeof(*e));
    e->path = path != NULL ? path : "(none)";
    /* @include "trunks.conf" is relative to the main file, not to our working directory */
    if (path != NULL && (slash = strrchr(path, '/')) != NULL &&
        (size_t)(slash - path) + 2 <= sizeof(e->dir)) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(e->dir, path, n);
        e->dir[n] = '\0';
    }
}

size_t sw_cfg_errs_count(const struct sw_cfg_errs *e)
{
    return e->n + (size_t)e->lost;
}

static unsigned file_rank(struct sw_cfg_errs *e, const char *file)
{
    size_t i;

    if (strcmp(file, e->path) == 0)
        return 0;
    for (i = 0; i < e->nfiles; i++)
        if (strcmp(e->files[i], file) == 0)
            return (unsigned)i + 1;
    if (e->nfiles < sizeof(e->files) / sizeof(e->files[0]))
        e->files[e->nfiles++] = file;
    return (unsigned)e->nfiles;
}

void sw_cfg_error_at(struct sw_cfg_errs *e, const char *file, unsigned line, const char *msg)
{
    struct sw_cfg_err *one;
    char text[1400];
    const char *dir = "", *sep = "";

    /* libconfig names an included file as written; readers need it from where they are. */
    if (strcmp(file, e->path) != 0 && file[0] != '/' && e->dir[0] != '\0') {
        dir = e->dir;
        sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    }
    if (line > 0)
        snprintf(text, sizeof(text), "%s%s%s:%u: %s", dir, sep, file, line, msg);
    else
        snprintf(text, sizeof(text), "%s%s%s: %s", dir, sep, file, msg);
    if (e->n == e->cap) {
        size_t cap = e->cap > 0 ? e->cap * 2 : 16;
        struct sw_cfg_err *v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            e->lost = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    one = &e->v[e->n];
    if ((one->text = strdup(text)) == NULL) {
        e->lost = 1;
        return;
    }
    one->rank = file_rank(e, file);
    one->line = line;
    one->seq = (unsigned)e->n;
    e->n++;
}

static int err_order(const void *pa, const void *pb)
{
    const struct sw_cfg_err *a = pa, *b = pb;

    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Writes the errors, one a line, as many whole lines as fit (then "..."); frees them. */
void sw_cfg_errs_flush(struct sw_cfg_errs *e, char *buf, size_t len)
{
    size_t used = 0, i;

    if (e->n > 1)
        qsort(e->v, e->n, sizeof(*e->v), err_order);
    if (buf != NULL && len > 0)
        buf[0] = '\0';
    for (i = 0; i < e->n + (size_t)e->lost; i++) {
        const char *text = i < e->n ? e->v[i].text : "out of memory while collecting errors";
        size_t tl = strlen(text);
        if (buf == NULL)
            break;
        if (used + tl + 2 > len) {
            if (used + 5 <= len)
                memcpy(buf + used, "...\n", 5);
            break;
        }
        memcpy(buf + used, text, tl);
        buf[used + tl] = '\n';
        used += tl + 1;
        buf[used] = '\0';
    }
    for (i = 0; i < e->n; i++)
        free(e->v[i].text);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

void sw_cfg_error(struct sw_cfg_errs *e, const config_setting_t *where, const char *fmt, ...)
{
    char msg[1024];
    const char *file = e->path;
    unsigned line = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (where != NULL) {
        line = config_setting_source_line(where);
        /* A setting from an @include'd file carries that file's name. */
        if (config_setting_source_file(where) != NULL)
            file = config_setting_source_file(where);
    }
    sw_cfg_error_at(e, file, line, msg);
}

/* ---- the known keys ---------------------------------------------------------------- */

static int in_list(const char *const *list, const char *s)
{
    size_t i;

    for (i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/*
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment),
 * for "did you mean": "recrod_route" is one edit from "record_route". Keys are short.
 */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    unsigned char d[33][33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

const char *sw_cfg_closest(const char *name, const char *const *known)
{
    const char *best = NULL;
    size_t bestd, k;

    if (name == NULL || known == NULL)
        return NULL;
    /* Short names allow one edit, longer ones two: "foo" is not a typo of "log". */
    bestd = strlen(name) <= 4 ? 2 : 3;
    for (k = 0; known[k] != NULL; k++) {
        size_t d = distance(name, known[k]);
        if (d < bestd) {
            bestd = d;
            best = known[k];
        }
    }
    return best;
}

/* "a, b, c" from two NULL-terminated lists (the second may be NULL). */
void sw_cfg_join(char *out, size_t len, const char *const *a, const char *const *b)
{
    const char *const *lists[2] = {a, b};
    size_t used = 0, i, k;

    out[0] = '\0';
    for (k = 0; k < 2; k++) {
        for (i = 0; lists[k] != NULL && lists[k][i] != NULL; i++) {
            int w = snprintf(out + used, len - used, "%s%s", used > 0 ? ", " : "", lists[k][i]);
            if (w < 0 || (size_t)w >= len - used)
                return;
            used += (size_t)w;
        }
    }
}

/*
 * Every member of group must be in known (or in also, the filter names inside a trunk).
 * what names the group in the message ("top level", "trunk \"pbx\""), or is a dotted path
 * ending in '.' ("sign." gives "sign.atest: unknown setting").
 */
void sw_cfg_check_keys(struct sw_cfg_errs *e, const config_setting_t *group,
                       const char *const *known, const char *const *also, const char *what)
{
    const config_setting_t *s;
    unsigned i;

    for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
        const char *name = config_setting_name(s);
        const char *best;
        size_t wl = strlen(what);
        char names[512], hint[128] = "";

        if (name == NULL || in_list(known, name) || in_list(also, name))
            continue;
        if ((best = sw_cfg_closest(name, known)) != NULL)
            snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", best);
        sw_cfg_join(names, sizeof(names), known, also);
        if (wl > 0 && what[wl - 1] == '.') /* a dotted path: "sign.atest: unknown setting" */
            sw_cfg_error(e, s, "%s%s: unknown setting%s; known: %s", what, name, hint, names);
        else
            sw_cfg_error(e, s, "unknown setting \"%s\" in %s%s; known: %s", name, what, hint,
                         names);
    }
}

/* ---- typed getters: each returns 1 when set and valid, 0 when absent, -1 on error ---- */

/* How what and a key are joined in a message: "what: key", "what.key" or "key". */
static const char *joiner(const char *what)
{
    size_t n = strlen(what);

    if (n == 0 || what[n - 1] == '.')
        return "";
    return ": ";
}

int sw_cfg_string(struct sw_cfg_errs *e, const config_setting_t *group, const char *key,
                  const char *what, const char **out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        sw_cfg_error(e, s, "%s%s%s must be a string", what, joiner(what), key);
        return -1;
    }
    *out = config_setting_get_string(s);
    if (**out == '\0') {
        sw_cfg_error(e, s, "%s%s%s must not be empty", what, joiner(what), key);
        return -1;
    }
    return 1;
}

int sw_cfg_int(struct sw_cfg_errs *e, const config_setting_t *group, const char *key,
               const char *what, long long min, long long max, int *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);
    long long v;

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
        sw_cfg_error(e, s, "%s%s%s must be an integer", what, joiner(what), key);
        return -1;
    }
    v = config_setting_get_int64(s);
    if (v < min || v > max) {
        sw_cfg_error(e, s, "%s%s%s = %lld is out of range (%lld..%lld)", what, joiner(what), key, v,
                     min, max);
        return -1;
    }
    *out = (int)v;
    return 1;
}

int sw_cfg_bool(struct sw_cfg_errs *e, const config_setting_t *group, const char *key,
                const char *what, int *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        sw_cfg_error(e, s, "%s%s%s must be true or false", what, joiner(what), key);
        return -1;
    }
    *out = config_setting_get_bool(s) ? 1 : 0;
    return 1;
}

/*
 * A setting that holds strings: one string, or an array or list of them. Returns the
 * count (0 for none), or -1 after reporting an element that is not a string.
 */
int sw_cfg_strings(struct sw_cfg_errs *e, const config_setting_t *s, const char *what)
{
    int n, i;

    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return 1;
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
        sw_cfg_error(e, s, "%s must be a string or a list of strings", what);
        return -1;
    }
    n = config_setting_length(s);
    for (i = 0; i < n; i++) {
        const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(el) != CONFIG_TYPE_STRING) {
            sw_cfg_error(e, el, "%s must hold strings only", what);
            return -1;
        }
    }
    return n;
}

const char *sw_cfg_string_at(const config_setting_t *s, int i)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return config_setting_get_string(s);
    return config_setting_get_string_elem(s, i);
}

/* ---- addresses ---------------------------------------------------------------------- */

const config_setting_t *sw_cfg_elem_at(const config_setting_t *s, int i)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return s;
    return config_setting_get_elem(s, (unsigned)i);
}
