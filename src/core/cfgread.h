/*
 * cfgread.h - reading libconfig settings with one error list: typed getters, unknown-key
 * checks with "did you mean", and errors kept as "FILE:LINE: message".
 *
 * The daemon's loader and every filter's settings reader use these, so that an error is
 * reported at the line of the setting that is wrong (inside a filter's group too, and in
 * @include'd files with their own names), every error is reported rather than the first,
 * and the errors come out sorted by file and line, as `stirwired -t` prints them.
 *
 * Getters return 1 when the setting is present and valid, 0 when it is absent, and -1
 * when it is present but wrong (the error is already in the list). The `what` argument
 * names where the setting lives in messages: "trunk \"pbx\"" gives
 * "trunk "pbx": record_route must be true or false"; a `what` ending in '.' is joined
 * without a separator ("sign." gives "sign.x5u must be a string").
 */
#ifndef SW_CORE_CFGREAD_H
#define SW_CORE_CFGREAD_H

#include <libconfig.h>
#include <stddef.h>

struct sw_cfg_err {
    unsigned rank, line, seq;
    char *text; /* "FILE:LINE: message" */
};

/* The error list of one load. Zero it, then sw_cfg_errs_init(). */
struct sw_cfg_errs {
    struct sw_cfg_err *v;
    size_t n, cap;
    int lost; /* an error could not be stored (out of memory) */
    const char *path;
    char dir[512];         /* the main file's directory, "" for the working directory */
    const char *files[16]; /* included files seen, for rank (borrowed from libconfig) */
    size_t nfiles;
};

/* path: the main file (borrowed; must outlive e). Sets dir from it. */
void sw_cfg_errs_init(struct sw_cfg_errs *e, const char *path);
/* Errors so far (a lost one counts). */
size_t sw_cfg_errs_count(const struct sw_cfg_errs *e);
/*
 * Writes the errors sorted by file and line, one a line, as many whole lines as fit
 * (then "..."), into buf (may be NULL), and frees them.
 */
void sw_cfg_errs_flush(struct sw_cfg_errs *e, char *buf, size_t len);

/* An error at the line of setting where (NULL: about the file as a whole). */
void sw_cfg_error(struct sw_cfg_errs *e, const config_setting_t *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error at file:line (libconfig's syntax errors). */
void sw_cfg_error_at(struct sw_cfg_errs *e, const char *file, unsigned line, const char *msg);

/*
 * Every member of group must be in known (or in also); an unknown one is an error at its
 * line that suggests the closest known name and lists the known ones.
 */
void sw_cfg_check_keys(struct sw_cfg_errs *e, const config_setting_t *group,
                       const char *const *known, const char *const *also, const char *what);

int sw_cfg_string(struct sw_cfg_errs *e, const config_setting_t *group, const char *key,
                  const char *what, const char **out);
int sw_cfg_int(struct sw_cfg_errs *e, const config_setting_t *group, const char *key,
               const char *what, long long min, long long max, int *out);
int sw_cfg_bool(struct sw_cfg_errs *e, const config_setting_t *group, const char *key,
                const char *what, int *out);
/*
 * A setting that holds strings: one string, or an array or list of them. Returns the
 * count (0 for an empty list), or -1 after reporting an element that is not a string.
 */
int sw_cfg_strings(struct sw_cfg_errs *e, const config_setting_t *s, const char *what);
/* The i-th string of such a setting, and the setting to report an error about it at. */
const char *sw_cfg_string_at(const config_setting_t *s, int i);
const config_setting_t *sw_cfg_elem_at(const config_setting_t *s, int i);

/*
 * The name in known (NULL-terminated) closest to name, for "did you mean": within one
 * edit for names of up to 4 characters, two for longer ones; NULL when none is that close.
 */
const char *sw_cfg_closest(const char *name, const char *const *known);

/* "a, b, c" from two NULL-terminated lists (the second may be NULL). */
void sw_cfg_join(char *out, size_t len, const char *const *a, const char *const *b);

#endif /* SW_CORE_CFGREAD_H */
