/*
 * tnauth.c - decoding the TNAuthList certificate extension (RFC 8226 section 9).
 *
 *   TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
 *   TNEntry ::= CHOICE { spc [0] ServiceProviderCode,     -- IA5String
 *                        range [1] TelephoneNumberRange,
 *                        one [2] TelephoneNumber }          -- EXPLICIT tags
 *
 * The bytes come from a certificate that an attacker may have made, so this is a
 * small bounded DER reader, not a general one: definite lengths only, every length
 * checked against what is left, no recursion. SHAKEN certificates carry an SPC
 * (ATIS-1000080); range and one entries are stepped over.
 */
#include <string.h>

#include "sw_int.h"

/* Reads a tag and a definite length; *p moves past them. 0 on success. */
static int der_header(const unsigned char **p, const unsigned char *end, unsigned *tag, size_t *len)
{
    size_t n, i;

    if (end - *p < 2)
        return -1;
    *tag = (*p)[0];
    if ((*tag & 0x1f) == 0x1f) /* multi-byte tags are not used here */
        return -1;
    n = (*p)[1];
    *p += 2;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 3 || (size_t)(end - *p) < k) /* indefinite or absurd lengths */
            return -1;
        for (n = 0, i = 0; i < k; i++)
            n = n << 8 | (*p)[i];
        /* DER: the shortest length form only (X.690 10.1) */
        if ((*p)[0] == 0 || n < 128)
            return -1;
        *p += k;
    }
    if ((size_t)(end - *p) < n)
        return -1;
    *len = n;
    return 0;
}

sw_err sw_tnauth_decode(const unsigned char *der, size_t len, char *spc, size_t spc_size)
{
    const unsigned char *p = der, *end, *seq_end;
    unsigned tag;
    size_t n;
    int found = 0;

    if (der == NULL || spc == NULL || spc_size == 0)
        return SW_ERR_INVAL;
    spc[0] = '\0';
    end = der + len;
    if (der_header(&p, end, &tag, &n) != 0 || tag != 0x30 || n == 0 || p + n != end)
        return SW_ERR_CERT_TNAUTH;
    seq_end = p + n;
    while (p < seq_end) {
        const unsigned char *entry;
        size_t elen;

        if (der_header(&p, seq_end, &tag, &elen) != 0)
            return SW_ERR_CERT_TNAUTH;
        entry = p;
        p += elen;
        if (tag == 0xa0 && !found) {
            /* [0] EXPLICIT IA5String */
            const unsigned char *q = entry;
            size_t slen, i;
            unsigned itag;

            if (der_header(&q, entry + elen, &itag, &slen) != 0 || itag != 0x16 ||
                q + slen != entry + elen || slen == 0 || slen >= spc_size)
                return SW_ERR_CERT_TNAUTH;
            for (i = 0; i < slen; i++) {
                /* an SPC is printable; refuse controls so it is safe in logs */
                if (q[i] < 0x20 || q[i] > 0x7e)
                    return SW_ERR_CERT_TNAUTH;
                spc[i] = (char)q[i];
            }
            spc[slen] = '\0';
            found = 1;
        } else if (tag != 0xa0 && tag != 0xa1 && tag != 0xa2) {
            return SW_ERR_CERT_TNAUTH;
        }
    }
    return found ? SW_OK : SW_ERR_CERT_TNAUTH;
}
