/*
 * framing.c - cuts SIP messages out of a byte stream (RFC 3261 section 18.3).
 *
 * The framer only finds boundaries; sip_parse() judges the message afterwards. It skips
 * CR/LF keep-alives, finds the empty line that ends the headers, and adds the value of
 * the one Content-Length (or "l") header, which a stream must carry. Anything that
 * cannot be framed within SIP_MAX_MSG bytes is NOT_SIP, so that a peer sending garbage
 * is dropped instead of making us buffer without end. Rule: never read buf[len] or
 * beyond, whatever the input; a caller hands us whatever the socket gave so far.
 */
#include <string.h>

#include "framing.h"
#include "sipmsg.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * The length of the headers including the empty line that ends them (CRLFCRLF or
 * LFLF, and mixes of the two), or 0 when buf[0..len) holds no end of headers.
 */
static size_t headers_end(const char *buf, size_t len)
{
    const char *nl;
    size_t i = 0;

    while (i < len && (nl = memchr(buf + i, '\n', len - i)) != NULL) {
        i = (size_t)(nl - buf) + 1;
        if (i < len && buf[i] == '\n')
            return i + 1;
        if (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
            return i + 2;
    }
    return 0;
}

/*
 * Finds Content-Length in the header lines of buf[0..hlen) (the start line skipped).
 * Returns 0 with *cl set, or -1 when it is missing, repeated, or not a number that fits
 * in SIP_MAX_MSG.
 */
static int content_length(const char *buf, size_t hlen, size_t *cl)
{
    static const char name[] = "content-length";
    const char *nl;
    size_t i, n, v;
    int found = 0;

    nl = memchr(buf, '\n', hlen);
    for (i = nl != NULL ? (size_t)(nl - buf) + 1 : hlen; i < hlen;) {
        size_t line = i;

        /* The name: "Content-Length" or "l", any case, then optional white space and ':'. */
        for (n = 0; n < sizeof name - 1 && i + n < hlen && lower(buf[i + n]) == name[n]; n++)
            ;
        if (n == sizeof name - 1 || (n == 0 && i < hlen && lower(buf[i]) == 'l'))
            i += n == 0 ? 1 : n;
        else
            i = hlen + 1; /* not this header */
        if (i <= hlen) {
            while (i < hlen && is_ws(buf[i]))
                i++;
            if (i < hlen && buf[i] == ':') {
                if (found)
                    return -1;
                found = 1;
                i++;
                /* The value, possibly on folded continuation lines. */
                while (i < hlen && (is_ws(buf[i]) || buf[i] == '\r' ||
                                    (buf[i] == '\n' && i + 1 < hlen && is_ws(buf[i + 1]))))
                    i++;
                for (v = 0, n = 0; i < hlen && buf[i] >= '0' && buf[i] <= '9'; i++, n++) {
                    v = v * 10 + (size_t)(buf[i] - '0');
                    if (v > SIP_MAX_MSG)
                        return -1;
                }
                if (n == 0)
                    return -1;
                while (i < hlen && (is_ws(buf[i]) || buf[i] == '\r' ||
                                    (buf[i] == '\n' && i + 1 < hlen && is_ws(buf[i + 1]))))
                    i++;
                if (i >= hlen || buf[i] != '\n')
                    return -1;
                *cl = v;
            }
        }
        /* On to the next line that is not a continuation of this one. */
        i = line;
        for (;;) {
            if ((nl = memchr(buf + i, '\n', hlen - i)) == NULL)
                return found ? 0 : -1;
            i = (size_t)(nl - buf) + 1;
            if (i >= hlen || !is_ws(buf[i]))
                break;
        }
    }
    return found ? 0 : -1;
}

enum sip_frame sip_frame(const char *buf, size_t len, size_t *n)
{
    size_t i, hlen, cl;

    if (len == 0)
        return SIP_FRAME_PARTIAL;
    if (buf[0] == '\r' || buf[0] == '\n') {
        for (i = 0; i < len && (buf[i] == '\r' || buf[i] == '\n'); i++)
            ;
        *n = i;
        return SIP_FRAME_KEEPALIVE;
    }
    hlen = headers_end(buf, len < SIP_MAX_MSG ? len : SIP_MAX_MSG);
    if (hlen == 0)
        return len >= SIP_MAX_MSG ? SIP_FRAME_NOT_SIP : SIP_FRAME_PARTIAL;
    /*
     * sip_parse() would refuse a NUL in the headers, except as the escaped octet of a
     * quoted-pair (valid, RFC 4475 3.1.1.2): refuse the stream now in the other cases.
     */
    if (!sip_nul_quoted(buf, hlen))
        return SIP_FRAME_NOT_SIP;
    if (content_length(buf, hlen, &cl) < 0 || cl > SIP_MAX_MSG - hlen)
        return SIP_FRAME_NOT_SIP;
    if (hlen + cl > len)
        return SIP_FRAME_PARTIAL;
    *n = hlen + cl;
    return SIP_FRAME_COMPLETE;
}
