/*
 * fields.h - the values of a SIP request that signing and verifying both read: the
 * calling and called numbers in canonical form, the Date header, the Request-URI host.
 *
 * The sign filter reads them to make a PASSporT; the verify filter reads the same ones
 * to check one (RFC 8224 section 6.2 step 2 compares orig and dest with exactly these),
 * so both must read them one way. Values come from libosip2's parsers or the checked
 * fast paths of sipmsg.h; nothing here allocates on the common path except where noted.
 */
#ifndef SW_SIP_FIELDS_H
#define SW_SIP_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "sipmsg.h"

/*
 * The calling number, canonical (RFC 8224 section 8.3: digits only): the first
 * P-Asserted-Identity that holds a telephone number (a PBX may send a sip: identity and a
 * tel: one), else From. 0, or -1 when none holds a number.
 */
int sip_orig_number(const struct sip_msg *m, char *out, size_t size);
/*
 * The called number, canonical: from To, or from the Request-URI when from_ruri.
 * 0, or -1 when there is none.
 */
int sip_dest_number(const struct sip_msg *m, int from_ruri, char *out, size_t size);

/* The time of a Date header (RFC 3261 section 20.17, RFC 1123 in GMT), or -1. */
int64_t sip_date_parse(const struct sip_msg *m, const struct sip_hdr *h);
/* An RFC 1123 date in GMT for t, written without the locale ("Sun, 29 Nov 2026 ..."). */
void sip_date_format(int64_t t, char *out, size_t size);

/*
 * The host of the Request-URI (a sip: or sips: URI; an IPv6 reference without brackets),
 * read with libosip2 (it allocates). Returns out, or NULL when there is none.
 */
const char *sip_ruri_host(const struct sip_msg *m, char *out, size_t size);

#endif /* SW_SIP_FIELDS_H */
