/*
 * error.c - the one error table, turned into strings, classes and SIP answers.
 *
 * Everything here is generated from SW_ERR_MAP in stirwire.h so that a new error
 * needs one line there and nothing else. Numbers are part of the ABI: never
 * renumber, only append.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stdio.h>
#include <stdlib.h>

#include "sw_int.h"

struct sw_err_info {
    const char *name;
    const char *text;
    sw_class cls;
    int status;
    const char *reason;
    const char *verstat;
};

static const struct sw_err_info *err_info(sw_err err)
{
    static const struct sw_err_info unknown = {.name = "UNKNOWN",
                                               .text = "unknown error",
                                               .cls = SW_CLASS_INTERNAL,
                                               .status = 500,
                                               .reason = "Server Internal Error",
                                               .verstat = "No-TN-Validation"};
    switch (err) {
#define SW_XX_INFO(name, num, cls, status, reason, verstat, text)                                  \
    case SW_ERR_##name: {                                                                          \
        static const struct sw_err_info i = {                                                      \
            #name, text, SW_CLASS_##cls, status, reason, verstat};                                 \
        return &i;                                                                                 \
    }
        SW_ERR_MAP(SW_XX_INFO)
#undef SW_XX_INFO
    }
    return &unknown;
}

const char *sw_strerror(sw_err err)
{
    return err_info(err)->text;
}

const char *sw_err_name(sw_err err)
{
    return err_info(err)->name;
}

sw_class sw_err_class(sw_err err)
{
    return err_info(err)->cls;
}

const char *sw_class_text(sw_class cls)
{
    switch (cls) {
#define SW_XX_CTEXT(name, num, text)                                                               \
    case SW_CLASS_##name:                                                                          \
        return text;
        SW_CLASS_MAP(SW_XX_CTEXT)
#undef SW_XX_CTEXT
    }
    return "unknown class";
}

int sw_err_sip_status(sw_err err)
{
    return err_info(err)->status;
}

const char *sw_err_sip_reason(sw_err err)
{
    return err_info(err)->reason;
}

const char *sw_err_verstat(sw_err err)
{
    return err_info(err)->verstat;
}

size_t sw_err_reason_header(sw_err err, char *buf, size_t size)
{
    const struct sw_err_info *i = err_info(err);
    int n;

    if (i->status == 0 || err == SW_OK) {
        if (buf != NULL && size > 0)
            buf[0] = '\0';
        return 0;
    }
    /* RFC 9410: the text is a quoted-string; our texts contain no quotes or backslashes. */
    n = snprintf(buf, buf == NULL ? 0 : size, "STIR;cause=%d;text=\"%s\"", i->status, i->text);
    return n < 0 ? 0 : (size_t)n;
}

void sw_free(void *p)
{
    free(p);
}

/* Builds outside autotools (the fuzzer's) have no config.h. */
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

const char *sw_version(void)
{
    return PACKAGE_VERSION;
}
