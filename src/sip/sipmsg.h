/*
 * sipmsg.h - a SIP message as it arrived, the positions of its parts, and the few
 * header values the proxy reads (Via, From/To/P-Asserted-Identity numbers, tags).
 *
 * Rule: the message bytes are never re-serialised. sip_parse() only records offsets
 * into the received buffer; values are read with libosip2's header parsers; every
 * change the proxy makes is a splice (splice.h) applied to the original bytes. This is
 * what keeps a forwarded message identical to the received one except for our edits.
 * The capture path (TAP) and sockets produce the same struct sip_msg.
 */
#ifndef SW_SIPMSG_H
#define SW_SIPMSG_H

#include <stddef.h>
#include <stdint.h>

#define SIP_MAX_MSG 65535   /* largest message we accept (UDP's limit) */
#define SIP_MAX_HEADERS 128 /* header lines; more is refused as malformed */

/* Headers the proxy needs to find; long and compact names map to one id. */
enum sip_hdr_id {
    SH_OTHER = 0,
    SH_VIA,            /* Via, v */
    SH_FROM,           /* From, f */
    SH_TO,             /* To, t */
    SH_CALL_ID,        /* Call-ID, i */
    SH_CSEQ,           /* CSeq */
    SH_MAX_FORWARDS,   /* Max-Forwards */
    SH_ROUTE,          /* Route */
    SH_RECORD_ROUTE,   /* Record-Route */
    SH_CONTENT_LENGTH, /* Content-Length, l */
    SH_CONTENT_TYPE,   /* Content-Type, c */
    SH_IDENTITY,       /* Identity, y */
    SH_DATE,           /* Date */
    SH_PAI,            /* P-Asserted-Identity */
    SH_CONTACT,        /* Contact, m */
    SH_PROXY_REQUIRE,  /* Proxy-Require */
    SH_LAST = SH_PROXY_REQUIRE,
};

struct sip_hdr {
    enum sip_hdr_id id;
    size_t line_off, line_len;   /* the whole line(s), folded continuations and CRLF included */
    size_t name_off, name_len;   /* the name as written */
    size_t value_off, value_len; /* the value, without surrounding white space */
};

struct sip_msg {
    const char *buf; /* the bytes as received; borrowed, must outlive the struct */
    size_t len;      /* the whole message: headers and body */
    int is_request;
    /* request line: METHOD SP Request-URI SP SIP/2.0 CRLF */
    size_t method_off, method_len, ruri_off, ruri_len;
    /* status line: SIP/2.0 SP code SP reason CRLF */
    int status;
    size_t first_line_len; /* including its CRLF (or LF) */
    size_t hdrs_end;       /* offset of the empty line that ends the headers */
    size_t body_off, body_len;
    uint32_t cseq; /* CSeq number */
    size_t cseq_method_off, cseq_method_len;
    struct sip_hdr hdrs[SIP_MAX_HEADERS];
    size_t nhdrs;
};

/*
 * Parses the start line and header lines of buf[0..len) (one complete message, e.g. from
 * sip_frame() or a datagram). Checks: a valid start line, SIP/2.0, header lines of the
 * form name ":" value (folding allowed), at most SIP_MAX_HEADERS, the mandatory headers
 * (Via, From, To, Call-ID, CSeq, and Max-Forwards is optional), a CSeq whose method matches
 * a request's method, Content-Length (when present) equal to what follows the headers on
 * datagrams (stream framing has already cut the message). LF-only line ends are accepted.
 * Returns 0, or -1 with a one-line reason in err ("CSeq method INVITE does not match ACK").
 * On a datagram longer than its Content-Length, m->len is cut to the end of the body
 * (RFC 3261 section 18.3: the extra bytes are discarded); splice and forward m->len bytes.
 */
int sip_parse(struct sip_msg *m, const char *buf, size_t len, char *err, size_t errlen);

/* The n-th (0-based) header line with that id, or NULL. */
const struct sip_hdr *sip_hdr_find(const struct sip_msg *m, enum sip_hdr_id id, size_t n);

/* True when the request's method is name (case-sensitive, as RFC 3261 says). */
int sip_is_method(const struct sip_msg *m, const char *name);

/* One Via value (the first in a header line that may hold several, comma-separated). */
struct sip_via {
    char transport[8]; /* "UDP", "TCP", "TLS" ... */
    char host[256];    /* sent-by host (IPv6 without brackets) */
    int port;          /* 0 when absent */
    char branch[128];  /* "" when absent */
    char received[64]; /* "" when absent */
    int rport;         /* -1 absent, 0 present without value, else the value */
    size_t value_len;  /* bytes of this Via value within the header value */
    int more;          /* 1 when another Via value follows on the same line */
};

/*
 * Parses the first Via value of header line h (libosip2's osip_via_parse underneath).
 * Returns 0 or -1.
 */
int sip_via_parse(const struct sip_msg *m, const struct sip_hdr *h, struct sip_via *out);

/*
 * The same readers with libosip2 alone, skipping the fast paths for common spellings;
 * for tests that check the fast paths read exactly what libosip2 reads.
 */
int sip_via_parse_osip(const struct sip_msg *m, const struct sip_hdr *h, struct sip_via *out);
int sip_hdr_number_osip(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size);

/*
 * When v (parsed from h) has more = 1: fills rest with a copy of h whose value is narrowed
 * to what follows the first value's comma (line and name unchanged), so that
 * sip_via_parse(m, rest, ...) reads the second Via value of the line. The first value
 * with its comma is h->value_off .. rest->value_off (what to delete when popping it).
 * Returns 0, or -1 when no value follows.
 */
int sip_via_rest(const struct sip_msg *m, const struct sip_hdr *h, const struct sip_via *v,
                 struct sip_hdr *rest);

/*
 * The telephone number of a From / To / P-Asserted-Identity value or of the Request-URI:
 * the user part of a sip:/sips: URI or the number of a tel: URI, copied to out
 * (not canonicalised; libstirwire's sw_tn_canon() does that). 0, or -1 when none.
 */
int sip_hdr_number(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size);
int sip_ruri_number(const struct sip_msg *m, char *out, size_t size);
/* The tag parameter of a From / To value, "" when none. 0 or -1 (malformed). */
int sip_hdr_tag(const struct sip_msg *m, const struct sip_hdr *h, char *out, size_t size);
/*
 * The end of the first value of a comma-separated header value p[0..n): the length of
 * the value without trailing white space. Commas inside quoted strings (with their
 * quoted-pairs), [IPv6] references and, when angle is set, <URIs> do not count. *comma
 * is set to the offset of the separating comma, or n when there is none.
 */
size_t sip_first_value(const char *p, size_t n, int angle, size_t *comma);
/*
 * Whether every NUL byte in p[0..n) is the escaped octet of a quoted-pair inside a quoted
 * string ("\<NUL>" between double quotes: valid, RFC 3261 section 25.1; RFC 4475 3.1.1.2).
 * Quote state restarts at each line end. 1 when p holds no NUL at all.
 */
int sip_nul_quoted(const char *p, size_t n);
/*
 * The Max-Forwards value, -1 when absent, -2 when not a number, -3 when a number above
 * 255 (out of RFC 3261's range).
 */
int sip_max_forwards(const struct sip_msg *m);

#endif /* SW_SIPMSG_H */
