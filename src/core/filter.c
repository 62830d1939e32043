/*
 * filter.c - the settings readers a filter's configure() uses (see filter.h).
 *
 * They are the loader's own getters (cfgread.h) with the filter's place in the file put
 * in front of each message, so an error inside `sign = { ... }` reads
 * 'FILE:LINE: trunk "pbx": filter "sign": sign.x5u must be a string' at x5u's line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "filter.h"

/* 'trunk "pbx": filter "sign": ' + path + '.' : the what of the cfgread getters */
static void what(const struct swf_conf *fc, const char *path, char *out, size_t size)
{
    snprintf(out, size, "trunk \"%s\": filter \"%s\": %s.", fc->trunk_name, fc->filter_name, path);
}

void swf_error(struct swf_conf *fc, const config_setting_t *where, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (where == NULL)
        where = fc->group != NULL ? fc->group : fc->trunk;
    sw_cfg_error(fc->errs, where, "trunk \"%s\": filter \"%s\": %s", fc->trunk_name,
                 fc->filter_name, msg);
}

int swf_get_string(struct swf_conf *fc, const config_setting_t *group, const char *path,
                   const char *key, const char **out)
{
    char w[512];

    what(fc, path, w, sizeof(w));
    *out = NULL;
    return sw_cfg_string(fc->errs, group, key, w, out);
}

int swf_get_int(struct swf_conf *fc, const config_setting_t *group, const char *path,
                const char *key, long long min, long long max, int *out)
{
    char w[512];

    what(fc, path, w, sizeof(w));
    return sw_cfg_int(fc->errs, group, key, w, min, max, out);
}

int swf_get_bool(struct swf_conf *fc, const config_setting_t *group, const char *path,
                 const char *key, int *out)
{
    char w[512];

    what(fc, path, w, sizeof(w));
    return sw_cfg_bool(fc->errs, group, key, w, out);
}

void swf_check_keys(struct swf_conf *fc, const config_setting_t *group, const char *path,
                    const char *const *known)
{
    char w[512];

    what(fc, path, w, sizeof(w));
    sw_cfg_check_keys(fc->errs, group, known, NULL, w);
}

size_t swf_errors(const struct swf_conf *fc)
{
    return sw_cfg_errs_count(fc->errs) - fc->errs_before;
}

int swf_configure(const struct swf_filter *f, struct swf_conf *fc, void **state)
{
    *state = NULL;
    fc->filter_name = f->name;
    fc->group = config_setting_get_member(fc->trunk, f->name);
    fc->errs_before = sw_cfg_errs_count(fc->errs);
    if (fc->group != NULL && f->settings != NULL) {
        if (config_setting_type(fc->group) != CONFIG_TYPE_GROUP) {
            swf_error(fc, fc->group, "%s must be a group { ... }", f->name);
            return -1;
        }
        swf_check_keys(fc, fc->group, f->name, f->settings);
    }
    if (f->configure != NULL && f->configure(fc, state) != 0) {
        *state = NULL; /* on failure the filter has freed whatever it made */
        if (swf_errors(fc) == 0)
            swf_error(fc, NULL, "invalid settings");
        return -1;
    }
    if (swf_errors(fc) > 0) { /* an unknown key in its group, though it read the rest */
        if (f->free != NULL && *state != NULL)
            f->free(*state);
        *state = NULL;
        return -1;
    }
    return 0;
}

int swf_get_methods(struct swf_conf *fc, const config_setting_t *group, const char *path,
                    struct swf_methods *out)
{
    const config_setting_t *s = group != NULL ? config_setting_get_member(group, "methods") : NULL;
    size_t before = swf_errors(fc);
    const char *v;
    int i, n;

    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        memcpy(out->name[0], "INVITE", sizeof("INVITE"));
        out->n = 1;
        return 0;
    }
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        swf_error(fc, s, "%s.methods: must be a list of method names", path);
        return -1;
    }
    if ((n = config_setting_length(s)) == 0) {
        swf_error(fc, s, "%s.methods: empty (leave it out for INVITEs only)", path);
        return -1;
    }
    if (n > SWF_MAX_METHODS) {
        swf_error(fc, s, "%s.methods: at most %d methods", path, SWF_MAX_METHODS);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        size_t len, k;

        v = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
        if (v == NULL || (len = strlen(v)) == 0 || len >= SWF_METHOD_MAX) {
            swf_error(fc, e, "%s.methods[%d]: must be a method name such as \"INVITE\"", path, i);
            continue;
        }
        for (k = 0; k < len; k++)
            if (v[k] < 'A' || v[k] > 'Z')
                break;
        if (k < len) {
            swf_error(fc, e, "%s.methods[%d]: \"%s\" is not a method name (upper-case letters)",
                      path, i, v);
            continue;
        }
        memcpy(out->name[out->n++], v, len + 1);
    }
    return swf_errors(fc) > before ? -1 : 0;
}

int swf_methods_match(const struct swf_methods *ms, const struct sip_msg *m)
{
    size_t i;

    for (i = 0; i < ms->n; i++)
        if (sip_is_method(m, ms->name[i]))
            return 1;
    return 0;
}
