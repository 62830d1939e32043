/*
 * fields.c - numbers, dates and the Request-URI host of a SIP request (see fields.h).
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "../lib/stirwire.h"
#include "fields.h"

static int canon_hdr(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size)
{
    char raw[128];

    if (h == NULL || sip_hdr_number(m, h, raw, sizeof(raw)) != 0)
        return -1;
    return sw_tn_canon(raw, out, size) == SW_OK ? 0 : -1;
}

int sip_orig_number(const struct sip_msg *m, char *out, size_t size)
{
    const struct sip_hdr *h;
    size_t n;

    for (n = 0; (h = sip_hdr_find(m, SH_PAI, n)) != NULL; n++)
        if (canon_hdr(m, h, out, size) == 0)
            return 0;
    return canon_hdr(m, sip_hdr_find(m, SH_FROM, 0), out, size);
}

int sip_dest_number(const struct sip_msg *m, int from_ruri, char *out, size_t size)
{
    char raw[128];

    if (!from_ruri)
        return canon_hdr(m, sip_hdr_find(m, SH_TO, 0), out, size);
    if (sip_ruri_number(m, raw, sizeof(raw)) != 0)
        return -1;
    return sw_tn_canon(raw, out, size) == SW_OK ? 0 : -1;
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void sip_date_format(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int64_t sip_date_parse(const struct sip_msg *m, const struct sip_hdr *h)
{
    char buf[64];
    const char *end;
    struct tm tm;
    time_t t;

    if (h == NULL || h->value_len == 0 || h->value_len >= sizeof(buf))
        return -1;
    memcpy(buf, m->buf + h->value_off, h->value_len);
    buf[h->value_len] = '\0';
    memset(&tm, 0, sizeof(tm));
    /* strptime's %a and %b are the C locale's names: stirwired never calls setlocale */
    if ((end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
        return -1;
    end += strspn(end, " \t");
    if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1)
        return -1;
    return (int64_t)t;
}

const char *sip_ruri_host(const struct sip_msg *m, char *out, size_t size)
{
    osip_uri_t *u = NULL;
    const char *rc = NULL;
    char *s;

    if (m == NULL || !m->is_request || m->ruri_len == 0 || m->ruri_len > 4096)
        return NULL;
    if ((s = malloc(m->ruri_len + 1)) == NULL)
        return NULL;
    memcpy(s, m->buf + m->ruri_off, m->ruri_len);
    s[m->ruri_len] = '\0';
    if (osip_uri_init(&u) == 0 && osip_uri_parse(u, s) == 0 && u->scheme != NULL &&
        (osip_strcasecmp(u->scheme, "sip") == 0 || osip_strcasecmp(u->scheme, "sips") == 0) &&
        u->host != NULL && u->host[0] != '\0' && strlen(u->host) < size) {
        snprintf(out, size, "%s", u->host);
        rc = out;
    }
    osip_uri_free(u);
    free(s);
    return rc;
}
