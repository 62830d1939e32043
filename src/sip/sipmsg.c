/*
 * sipmsg.c - finds the parts of a received SIP message and reads the few header values
 * the proxy needs.
 *
 * sip_parse() runs once per message on the hot path: it walks the start line and the
 * header lines with memchr, records offsets into the caller's buffer, and never copies,
 * modifies or allocates. It checks only what a stateless proxy must rely on (start line,
 * mandatory headers, CSeq, Content-Length); header values are read later, on demand, by
 * libosip2's header parsers (Via, From/To/P-Asserted-Identity, URIs) from a copy of the
 * value. Rule: nothing here may write to m->buf; every change goes through splice.h.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/headers/osip_from.h>
#include <osipparser2/headers/osip_via.h>

#include "sipmsg.h"

/* Writes a one-line reason into err (when given) and returns -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* White space including the CR/LF of folded lines. */
static int is_lws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3261 section 25.1 token characters: alphanumerics and -.!%*_+`'~ (a table, since
 * every header name goes through it). */
static const unsigned char token_chars[256] = {
    ['-'] = 1,  ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1, ['`'] = 1,
    ['\''] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1,  ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1,  ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1,  ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1,  ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1,  ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1,  ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1,  ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int is_token(char c)
{
    return token_chars[(unsigned char)c];
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive comparison of p[0..n) with the NUL-terminated lower-case s. */
static int name_is(const char *p, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] == '\0' || lower(p[i]) != s[i])
            return 0;
    return s[n] == '\0';
}

static enum sip_hdr_id hdr_id(const char *p, size_t n)
{
    switch (n) {
    case 1:
        switch (lower(p[0])) {
        case 'v':
            return SH_VIA;
        case 'f':
            return SH_FROM;
        case 't':
            return SH_TO;
        case 'i':
            return SH_CALL_ID;
        case 'l':
            return SH_CONTENT_LENGTH;
        case 'c':
            return SH_CONTENT_TYPE;
        case 'y':
            return SH_IDENTITY; /* RFC 8224 section 4 */
        case 'm':
            return SH_CONTACT;
        default:
            return SH_OTHER;
        }
    case 2:
        return name_is(p, n, "to") ? SH_TO : SH_OTHER;
    case 3:
        return name_is(p, n, "via") ? SH_VIA : SH_OTHER;
    case 4:
        if (name_is(p, n, "from"))
            return SH_FROM;
        if (name_is(p, n, "cseq"))
            return SH_CSEQ;
        if (name_is(p, n, "date"))
            return SH_DATE;
        return SH_OTHER;
    case 5:
        return name_is(p, n, "route") ? SH_ROUTE : SH_OTHER;
    case 7:
        if (name_is(p, n, "call-id"))
            return SH_CALL_ID;
        if (name_is(p, n, "contact"))
            return SH_CONTACT;
        return SH_OTHER;
    case 8:
        return name_is(p, n, "identity") ? SH_IDENTITY : SH_OTHER;
    case 12:
        if (name_is(p, n, "max-forwards"))
            return SH_MAX_FORWARDS;
        if (name_is(p, n, "content-type"))
            return SH_CONTENT_TYPE;
        if (name_is(p, n, "record-route"))
            return SH_RECORD_ROUTE;
        return SH_OTHER;
    case 13:
        return name_is(p, n, "proxy-require") ? SH_PROXY_REQUIRE : SH_OTHER;
    case 14:
        return name_is(p, n, "content-length") ? SH_CONTENT_LENGTH : SH_OTHER;
    case 19:
        return name_is(p, n, "p-asserted-identity") ? SH_PAI : SH_OTHER;
    default:
        return SH_OTHER;
    }
}

/*
 * Reads a decimal number that must fill p[0..n) and be at most max. Returns 0 or -1;
 * leading zeros are allowed, signs and white space are not.
 */
static int read_number(const char *p, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* "SIP/2.0", compared case-insensitively (RFC 3261 section 7.1). */
static int is_sip20(const char *p, size_t n)
{
    return name_is(p, n, "sip/2.0");
}

static int parse_request_line(struct sip_msg *m, const char *p, size_t n, char *err, size_t errlen)
{
    size_t i = 0, ruri;

    while (i < n && is_token(p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ' ')
        return fail(err, errlen, "request line does not start with a method and a space");
    m->is_request = 1;
    m->method_off = 0;
    m->method_len = i;
    ruri = ++i;
    while (i < n && p[i] != ' ' && (unsigned char)p[i] > 0x20 && p[i] != 0x7f)
        i++;
    if (i == ruri || i == n || p[i] != ' ')
        return fail(err, errlen, "request line has no Request-URI followed by a space");
    m->ruri_off = ruri;
    m->ruri_len = i - ruri;
    i++;
    if (!is_sip20(p + i, n - i))
        return fail(err, errlen, "request line does not end with SIP/2.0");
    return 0;
}

static int parse_status_line(struct sip_msg *m, const char *p, size_t n, char *err, size_t errlen)
{
    unsigned long code;

    /* "SIP/2.0 NNN" then, for a reason phrase, a space; some send none at all. */
    if (n < 11 || !is_sip20(p, 7) || p[7] != ' ')
        return fail(err, errlen, "status line does not start with SIP/2.0");
    if (read_number(p + 8, 3, 699, &code) < 0 || code < 100)
        return fail(err, errlen, "status line has no status code 100..699");
    if (n > 11 && p[11] != ' ')
        return fail(err, errlen, "status code is not followed by a space");
    m->is_request = 0;
    m->status = (int)code;
    return 0;
}

/* Trims the value range [vs, ve) of a finished header and records it. */
static void finish_header(struct sip_hdr *h, const char *buf, size_t vs, size_t ve)
{
    while (vs < ve && is_lws(buf[vs]))
        vs++;
    while (ve > vs && is_lws(buf[ve - 1]))
        ve--;
    h->value_off = vs;
    h->value_len = ve - vs;
}

static const char *const mandatory_names[] = {"Via", "From", "To", "Call-ID", "CSeq"};
static const enum sip_hdr_id mandatory_ids[] = {SH_VIA, SH_FROM, SH_TO, SH_CALL_ID, SH_CSEQ};

/* Checks the CSeq value "number LWS method" and records it. */
static int parse_cseq(struct sip_msg *m, const struct sip_hdr *h, char *err, size_t errlen)
{
    const char *v = m->buf + h->value_off;
    size_t n = h->value_len, i = 0, ms;
    unsigned long num;

    while (i < n && is_digit(v[i]))
        i++;
    if (read_number(v, i, 2147483647UL, &num) < 0)
        return fail(err, errlen, "CSeq number is missing or above 2^31-1");
    ms = i;
    while (i < n && is_lws(v[i]))
        i++;
    if (i == ms || i == n)
        return fail(err, errlen, "CSeq has no method after its number");
    ms = i;
    while (i < n && is_token(v[i]))
        i++;
    if (i != n)
        return fail(err, errlen, "CSeq method is not a token");
    m->cseq = (uint32_t)num;
    m->cseq_method_off = h->value_off + ms;
    m->cseq_method_len = n - ms;
    if (m->is_request &&
        (m->cseq_method_len != m->method_len ||
         memcmp(m->buf + m->cseq_method_off, m->buf + m->method_off, m->method_len) != 0))
        return fail(err, errlen, "CSeq method %.*s does not match %.*s", (int)m->cseq_method_len,
                    m->buf + m->cseq_method_off, (int)m->method_len, m->buf + m->method_off);
    return 0;
}

/* The mandatory headers, the single-valued ones, CSeq and Content-Length. */
static int check_headers(struct sip_msg *m, char *err, size_t errlen)
{
    size_t count[SH_LAST + 1] = {0};
    const struct sip_hdr *first[SH_LAST + 1] = {NULL};
    const struct sip_hdr *cl;
    unsigned long clen;
    size_t i, avail;

    for (i = 0; i < m->nhdrs; i++) {
        const struct sip_hdr *h = &m->hdrs[i];
        if (count[h->id]++ == 0)
            first[h->id] = h;
    }
    for (i = 0; i < sizeof mandatory_ids / sizeof mandatory_ids[0]; i++) {
        enum sip_hdr_id id = mandatory_ids[i];
        if (count[id] == 0)
            return fail(err, errlen, "missing %s header", mandatory_names[i]);
        /* Two From, To, Call-ID or CSeq lines make the message ambiguous (RFC 4475 3.1.2.19). */
        if (id != SH_VIA && count[id] > 1)
            return fail(err, errlen, "more than one %s header", mandatory_names[i]);
        if (first[id]->value_len == 0)
            return fail(err, errlen, "empty %s header", mandatory_names[i]);
    }
    if (parse_cseq(m, first[SH_CSEQ], err, errlen) < 0)
        return -1;

    avail = m->len - m->body_off;
    if (count[SH_CONTENT_LENGTH] == 0) {
        m->body_len = avail;
        return 0;
    }
    /* Two lengths invite request smuggling: whichever one the next hop believes. */
    if (count[SH_CONTENT_LENGTH] > 1)
        return fail(err, errlen, "more than one Content-Length header");
    cl = first[SH_CONTENT_LENGTH];
    if (read_number(m->buf + cl->value_off, cl->value_len, SIP_MAX_MSG, &clen) < 0)
        return fail(err, errlen, "Content-Length is not a number up to %d", SIP_MAX_MSG);
    if (clen > avail)
        return fail(err, errlen, "body of %zu bytes is shorter than Content-Length %lu", avail,
                    clen);
    /* RFC 3261 section 18.3: bytes after the body are discarded. */
    m->body_len = (size_t)clen;
    m->len = m->body_off + m->body_len;
    return 0;
}

/* Out of line: the rare case must not weigh on the header loop's code. */
static __attribute__((noinline, cold)) int bad_nul(const char *p, size_t n)
{
    return !sip_nul_quoted(p, n);
}

int sip_parse(struct sip_msg *m, const char *buf, size_t len, char *err, size_t errlen)
{
    struct sip_hdr *cur = NULL;
    const char *nl;
    size_t pos, eol, end, vs = 0, ve = 0;

    m->buf = buf;
    m->len = len;
    m->is_request = 0;
    m->method_off = m->method_len = m->ruri_off = m->ruri_len = 0;
    m->status = 0;
    m->first_line_len = m->hdrs_end = m->body_off = m->body_len = 0;
    m->cseq = 0;
    m->cseq_method_off = m->cseq_method_len = 0;
    m->nhdrs = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    if (len > SIP_MAX_MSG)
        return fail(err, errlen, "message of %zu bytes is larger than %d", len, SIP_MAX_MSG);
    if (buf == NULL || (nl = memchr(buf, '\n', len)) == NULL)
        return fail(err, errlen, "no line end after the start line");
    eol = (size_t)(nl - buf);
    end = (eol > 0 && buf[eol - 1] == '\r') ? eol - 1 : eol;
    if (memchr(buf, '\0', end) != NULL)
        return fail(err, errlen, "NUL byte in the start line");
    m->first_line_len = eol + 1;
    if (end >= 4 && name_is(buf, 4, "sip/")) {
        if (parse_status_line(m, buf, end, err, errlen) < 0)
            return -1;
    } else if (parse_request_line(m, buf, end, err, errlen) < 0) {
        return -1;
    }

    for (pos = eol + 1;; pos = eol + 1) {
        if (pos >= len || (nl = memchr(buf + pos, '\n', len - pos)) == NULL)
            return fail(err, errlen, "headers do not end with an empty line");
        eol = (size_t)(nl - buf);
        end = (eol > pos && buf[eol - 1] == '\r') ? eol - 1 : eol;
        if (end == pos) {
            m->hdrs_end = pos;
            m->body_off = eol + 1;
            break;
        }
        if (memchr(buf + pos, '\0', end - pos) != NULL && bad_nul(buf + pos, end - pos))
            return fail(err, errlen, "NUL byte in header line %zu", m->nhdrs + 1);
        if (is_ws(buf[pos])) {
            /* A folded line continues the previous header's line and value (7.3.1). */
            if (cur == NULL)
                return fail(err, errlen, "folded line before the first header");
            cur->line_len = eol + 1 - cur->line_off;
            ve = end;
            continue;
        }
        if (cur != NULL)
            finish_header(cur, buf, vs, ve);
        if (m->nhdrs == SIP_MAX_HEADERS)
            return fail(err, errlen, "more than %d header lines", SIP_MAX_HEADERS);
        cur = &m->hdrs[m->nhdrs++];
        cur->line_off = pos;
        cur->line_len = eol + 1 - pos;
        cur->name_off = pos;
        for (vs = pos; vs < end && is_token(buf[vs]);)
            vs++;
        cur->name_len = vs - pos;
        if (cur->name_len == 0)
            return fail(err, errlen, "header line %zu has no name", m->nhdrs);
        while (vs < end && is_ws(buf[vs]))
            vs++;
        if (vs == end || buf[vs] != ':')
            return fail(err, errlen, "header %.*s has no colon", (int)cur->name_len,
                        buf + cur->name_off);
        cur->id = hdr_id(buf + pos, cur->name_len);
        vs++;
        ve = end;
    }
    if (cur != NULL)
        finish_header(cur, buf, vs, ve);
    return check_headers(m, err, errlen);
}

const struct sip_hdr *sip_hdr_find(const struct sip_msg *m, enum sip_hdr_id id, size_t n)
{
    size_t i;

    for (i = 0; i < m->nhdrs; i++)
        if (m->hdrs[i].id == id && n-- == 0)
            return &m->hdrs[i];
    return NULL;
}

int sip_is_method(const struct sip_msg *m, const char *name)
{
    size_t n = strlen(name);

    return m->is_request && m->method_len == n && memcmp(m->buf + m->method_off, name, n) == 0;
}

/*
 * The length of the first value of a comma-separated list in p[0..n), without trailing
 * white space. Commas inside quoted strings, [IPv6] references and (with angle) <URIs>
 * do not count. *comma is set to the offset of the separating comma, or n when none.
 */
size_t sip_first_value(const char *p, size_t n, int angle, size_t *comma)
{
    size_t i, end;
    int quoted = 0, bracket = 0, ang = 0;

    for (i = 0; i < n; i++) {
        char c = p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quoted = 0;
        } else if (c == '"') {
            quoted = 1;
        } else if (c == '[') {
            bracket = 1;
        } else if (c == ']') {
            bracket = 0;
        } else if (angle && c == '<') {
            ang = 1;
        } else if (angle && c == '>') {
            ang = 0;
        } else if (c == ',' && !bracket && !ang) {
            break;
        }
    }
    *comma = i;
    end = i;
    while (end > 0 && is_lws(p[end - 1]))
        end--;
    return end;
}

/* A NUL-terminated copy of p[0..n) for libosip2, folding line breaks into spaces. */
static char *copy_value(const char *p, size_t n)
{
    char *s;
    size_t i;

    if ((s = malloc(n + 1)) == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        s[i] = (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') ? ' ' : p[i];
    s[n] = '\0';
    return s;
}

/* Copies the NUL-terminated src into out; -1 when it does not fit. */
static int copy_out(char *out, size_t size, const char *src, size_t n)
{
    if (n >= size)
        return -1;
    memcpy(out, src, n);
    out[n] = '\0';
    return 0;
}

static int valid_hdr(const struct sip_msg *m, const struct sip_hdr *h)
{
    return m != NULL && h != NULL && h->value_off <= m->len &&
           h->value_len <= m->len - h->value_off;
}

/*
 * The common spelling of a Via value, read without libosip2: "SIP/2.0/UDP host[:port]"
 * followed by ";name[=token]" parameters, no white space inside, no quotes, no IPv6
 * brackets. A proxy parses two or three Vias per call; libosip2 spends about a microsecond
 * of allocations on each, which is several percent of signing a call. Anything else
 * returns -1 and goes to libosip2, so this is an accelerator, not a second grammar.
 */
static int via_fast(const char *p, size_t n, struct sip_via *out)
{
    struct sip_via v;
    size_t i = 8, k;
    unsigned long num;

    if (n < 10 || strncasecmp(p, "SIP/2.0/", 8) != 0)
        return -1;
    memset(&v, 0, sizeof(v));
    v.rport = -1;
    for (k = i; k < n && ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'z'); k++)
        ;
    if (k == i || k >= n || (p[k] != ' ' && p[k] != '\t') ||
        copy_out(v.transport, sizeof(v.transport), p + i, k - i) < 0)
        return -1;
    for (i = k; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
        ;
    for (k = i; k < n && (is_digit(p[k]) || ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'z') ||
                          p[k] == '.' || p[k] == '-');
         k++)
        ;
    if (k == i || copy_out(v.host, sizeof(v.host), p + i, k - i) < 0)
        return -1;
    i = k;
    if (i < n && p[i] == ':') {
        for (k = ++i; k < n && is_digit(p[k]); k++)
            ;
        if (k == i || read_number(p + i, k - i, 65535, &num) < 0 || num == 0)
            return -1;
        v.port = (int)num;
        i = k;
    }
    while (i < n) {
        size_t name, nlen, val = 0, vlen = 0;

        if (p[i] != ';')
            return -1;
        for (name = ++i; i < n && token_chars[(unsigned char)p[i]]; i++)
            ;
        if ((nlen = i - name) == 0)
            return -1;
        if (i < n && p[i] == '=') {
            for (val = ++i; i < n && (token_chars[(unsigned char)p[i]] || p[i] == ':'); i++)
                ;
            if ((vlen = i - val) == 0)
                return -1;
        }
        if (nlen == 6 && strncasecmp(p + name, "branch", 6) == 0) {
            if (vlen == 0 || copy_out(v.branch, sizeof(v.branch), p + val, vlen) < 0)
                return -1;
        } else if (nlen == 8 && strncasecmp(p + name, "received", 8) == 0) {
            if (vlen == 0 || copy_out(v.received, sizeof(v.received), p + val, vlen) < 0)
                return -1;
        } else if (nlen == 5 && strncasecmp(p + name, "rport", 5) == 0) {
            if (vlen == 0)
                v.rport = 0;
            else if (read_number(p + val, vlen, 65535, &num) < 0 || num == 0)
                return -1;
            else
                v.rport = (int)num;
        }
    }
    v.value_len = out->value_len;
    v.more = out->more;
    *out = v;
    return 0;
}

static int via_parse(const struct sip_msg *m, const struct sip_hdr *h, struct sip_via *out,
                     int allow_fast)
{
    osip_via_t *via = NULL;
    osip_generic_param_t *p = NULL;
    unsigned long num;
    size_t comma, vlen;
    char *s = NULL;
    int rc = -1;

    memset(out, 0, sizeof *out);
    out->rport = -1;
    if (!valid_hdr(m, h))
        return -1;
    vlen = sip_first_value(m->buf + h->value_off, h->value_len, 0, &comma);
    out->value_len = vlen;
    out->more = comma < h->value_len;
    if (allow_fast && vlen > 0 && via_fast(m->buf + h->value_off, vlen, out) == 0)
        return 0;
    if (vlen == 0 || (s = copy_value(m->buf + h->value_off, vlen)) == NULL)
        return -1;
    if (osip_via_init(&via) != 0)
        goto out;
    if (osip_via_parse(via, s) != 0 || via->version == NULL || strcmp(via->version, "2.0") != 0 ||
        via->protocol == NULL || via->host == NULL || via->host[0] == '\0')
        goto out;
    if (copy_out(out->transport, sizeof out->transport, via->protocol, strlen(via->protocol)) < 0 ||
        copy_out(out->host, sizeof out->host, via->host, strlen(via->host)) < 0)
        goto out;
    if (via->port != NULL) {
        if (read_number(via->port, strlen(via->port), 65535, &num) < 0 || num == 0)
            goto out;
        out->port = (int)num;
    }
    if (osip_via_param_get_byname(via, "branch", &p) == 0 && p != NULL && p->gvalue != NULL &&
        copy_out(out->branch, sizeof out->branch, p->gvalue, strlen(p->gvalue)) < 0)
        goto out;
    p = NULL;
    if (osip_via_param_get_byname(via, "received", &p) == 0 && p != NULL && p->gvalue != NULL &&
        copy_out(out->received, sizeof out->received, p->gvalue, strlen(p->gvalue)) < 0)
        goto out;
    p = NULL;
    if (osip_via_param_get_byname(via, "rport", &p) == 0 && p != NULL) {
        if (p->gvalue == NULL || p->gvalue[0] == '\0') {
            out->rport = 0;
        } else {
            if (read_number(p->gvalue, strlen(p->gvalue), 65535, &num) < 0 || num == 0)
                goto out;
            out->rport = (int)num;
        }
    }
    rc = 0;
out:
    osip_via_free(via);
    free(s);
    return rc;
}

int sip_via_parse(const struct sip_msg *m, const struct sip_hdr *h, struct sip_via *out)
{
    return via_parse(m, h, out, 1);
}

int sip_via_parse_osip(const struct sip_msg *m, const struct sip_hdr *h, struct sip_via *out)
{
    return via_parse(m, h, out, 0);
}

int sip_via_rest(const struct sip_msg *m, const struct sip_hdr *h, const struct sip_via *v,
                 struct sip_hdr *rest)
{
    size_t i, comma;

    if (!valid_hdr(m, h) || !v->more || v->value_len > h->value_len)
        return -1;
    sip_first_value(m->buf + h->value_off, h->value_len, 0, &comma);
    if (comma >= h->value_len)
        return -1;
    for (i = comma + 1; i < h->value_len && is_lws(m->buf[h->value_off + i]);)
        i++;
    if (i == h->value_len)
        return -1;
    *rest = *h;
    rest->value_off = h->value_off + i;
    rest->value_len = h->value_len - i;
    return 0;
}

/*
 * The number in a parsed URI: the user part of sip:/sips: without user parameters, or
 * the global or local number of tel: (libosip2 leaves all of a tel: URI after the scheme
 * in url->string, parameters included).
 */
static int uri_number(const osip_uri_t *u, char *out, size_t size)
{
    const char *s;
    size_t n;

    if (u == NULL || u->scheme == NULL)
        return -1;
    if (osip_strcasecmp(u->scheme, "sip") == 0 || osip_strcasecmp(u->scheme, "sips") == 0)
        s = u->username;
    else if (osip_strcasecmp(u->scheme, "tel") == 0)
        s = u->string;
    else
        return -1;
    if (s == NULL)
        return -1;
    for (n = 0; s[n] != '\0' && s[n] != ';'; n++)
        ;
    if (n == 0)
        return -1;
    return copy_out(out, size, s, n);
}

/* Parses the first name-addr of h with osip_from_parse; NULL when it does not parse. */
static osip_from_t *parse_name_addr(const struct sip_msg *m, const struct sip_hdr *h)
{
    osip_from_t *f = NULL;
    size_t comma, n;
    char *s;

    if (!valid_hdr(m, h))
        return NULL;
    /* P-Asserted-Identity may hold a sip: and a tel: value, comma-separated (RFC 3325). */
    n = sip_first_value(m->buf + h->value_off, h->value_len, 1, &comma);
    if (n == 0 || (s = copy_value(m->buf + h->value_off, n)) == NULL)
        return NULL;
    if (osip_from_init(&f) != 0) {
        free(s);
        return NULL;
    }
    if (osip_from_parse(f, s) != 0) {
        osip_from_free(f);
        f = NULL;
    }
    free(s);
    return f;
}

/*
 * The number of the common spellings of a From / To / P-Asserted-Identity value without
 * libosip2: an optional unquoted display name, then <sip:user@...>, <tel:number...> or a
 * bare sip: URI. Quotes, escapes or anything unusual return -1 for libosip2 to judge.
 */
static int number_fast(const char *p, size_t n, char *out, size_t size)
{
    const char *end = p + n, *lt, *u, *stop;
    int tel;

    if (memchr(p, '"', n) != NULL || memchr(p, '%', n) != NULL)
        return -1;
    if ((lt = memchr(p, '<', n)) != NULL)
        p = lt + 1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (end - p > 4 && strncasecmp(p, "sip:", 4) == 0) {
        u = p + 4;
        tel = 0;
    } else if (end - p > 5 && strncasecmp(p, "sips:", 5) == 0) {
        u = p + 5;
        tel = 0;
    } else if (end - p > 4 && strncasecmp(p, "tel:", 4) == 0) {
        u = p + 4;
        tel = 1;
    } else {
        return -1;
    }
    for (stop = u; stop < end && *stop != '@' && *stop != ';' && *stop != '>' && *stop != ' ' &&
                   *stop != ',' && *stop != '?';
         stop++)
        ;
    if (stop == u)
        return -1;
    if (!tel) {
        /* user params (";phone-context") may come before the '@'; a URI without '@' has no user */
        const char *at = memchr(u, '@', (size_t)(end - u));
        const char *close = lt ? memchr(u, '>', (size_t)(end - u)) : NULL;
        if (at == NULL || (close != NULL && at > close))
            return -1;
    }
    return copy_out(out, size, u, (size_t)(stop - u));
}

static int hdr_number(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size,
                      int allow_fast)
{
    osip_from_t *f;
    size_t comma, n;
    int rc;

    if (allow_fast && valid_hdr(m, h)) {
        n = sip_first_value(m->buf + h->value_off, h->value_len, 1, &comma);
        if (n > 0 && number_fast(m->buf + h->value_off, n, out, size) == 0)
            return 0;
    }
    if ((f = parse_name_addr(m, h)) == NULL)
        return -1;
    rc = uri_number(f->url, out, size);
    osip_from_free(f);
    return rc;
}

int sip_hdr_number(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size)
{
    return hdr_number(m, h, out, size, 1);
}

int sip_hdr_number_osip(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size)
{
    return hdr_number(m, h, out, size, 0);
}

int sip_ruri_number(const struct sip_msg *m, char *out, size_t size)
{
    osip_uri_t *u = NULL;
    char *s;
    int rc = -1;

    if (m == NULL || !m->is_request || m->ruri_len == 0 || m->ruri_off > m->len ||
        m->ruri_len > m->len - m->ruri_off)
        return -1;
    if ((s = copy_value(m->buf + m->ruri_off, m->ruri_len)) == NULL)
        return -1;
    if (osip_uri_init(&u) == 0 && osip_uri_parse(u, s) == 0)
        rc = uri_number(u, out, size);
    osip_uri_free(u);
    free(s);
    return rc;
}

int sip_hdr_tag(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size)
{
    osip_generic_param_t *tag = NULL;
    osip_from_t *f;
    int rc = -1;

    if (size == 0 || (f = parse_name_addr(m, h)) == NULL)
        return -1;
    if (osip_from_get_tag(f, &tag) != 0 || tag == NULL) {
        out[0] = '\0';
        rc = 0;
    } else if (tag->gvalue != NULL && tag->gvalue[0] != '\0') {
        rc = copy_out(out, size, tag->gvalue, strlen(tag->gvalue));
    }
    osip_from_free(f);
    return rc;
}

int sip_nul_quoted(const char *p, size_t n)
{
    size_t i;
    int quoted = 0;

    if (memchr(p, '\0', n) == NULL)
        return 1;
    for (i = 0; i < n; i++) {
        if (p[i] == '\n') {
            quoted = 0;
        } else if (quoted && p[i] == '\\' && i + 1 < n && p[i + 1] != '\r' && p[i + 1] != '\n') {
            i++; /* the escaped octet, NUL included */
        } else if (p[i] == '"') {
            quoted = !quoted;
        } else if (p[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

int sip_max_forwards(const struct sip_msg *m)
{
    const struct sip_hdr *h = sip_hdr_find(m, SH_MAX_FORWARDS, 0);
    unsigned long v;

    if (h == NULL)
        return -1;
    if (!valid_hdr(m, h) || read_number(m->buf + h->value_off, h->value_len, 255, &v) < 0) {
        /* digits, but too many hops for the 0..255 of RFC 3261 section 20.22 */
        if (valid_hdr(m, h) &&
            read_number(m->buf + h->value_off, h->value_len, ULONG_MAX / 100, &v) == 0)
            return -3;
        return -2;
    }
    return (int)v;
}
