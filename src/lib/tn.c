/*
 * tn.c - canonical telephone numbers (RFC 8224 section 8.3).
 *
 * A signer and a verifier must agree on one spelling of a number before they
 * compare it, so we keep digits (and '*', '#', which ATIS permits) and drop the
 * visual separators, a leading '+', and any URI scheme or host around them.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "sw_int.h"

#define SW_TN_DIGITS_MAX 32

sw_err sw_tn_canon(const char *in, char *out, size_t size)
{
    const char *p, *end;
    size_t n = 0;

    if (in == NULL || out == NULL || size == 0)
        return SW_ERR_INVAL;
    out[0] = '\0';
    p = in;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "tel:", 4) == 0) {
        p += 4;
        end = p + strcspn(p, ";");
    } else if (strncasecmp(p, "sip:", 4) == 0 || strncasecmp(p, "sips:", 5) == 0) {
        p += (p[3] == ':') ? 4 : 5;
        /* the user part: up to '@' (a number may carry ;phone-context params first) */
        end = p + strcspn(p, "@;>");
    } else {
        end = p + strlen(p);
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p < end && *p == '+')
        p++;
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '-' || c == '.' || c == '(' || c == ')' || c == ' ')
            continue;
        if (!isdigit(c) && c != '*' && c != '#')
            return SW_ERR_TN_INVALID;
        if (n >= SW_TN_DIGITS_MAX)
            return SW_ERR_TN_INVALID;
        if (n + 1 >= size)
            return SW_ERR_INVAL;
        out[n++] = (char)c;
    }
    if (n == 0)
        return SW_ERR_TN_INVALID;
    out[n] = '\0';
    return SW_OK;
}
