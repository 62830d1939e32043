/*
 * framing.h - where one SIP message ends in a byte stream (TCP, reassembled captures).
 *
 * RFC 3261 section 18.3: on a stream the message length comes from Content-Length (or
 * its compact form "l"); CRLF keep-alives (RFC 5626 section 4.4.1) may sit between
 * messages. The framer looks at the front of a buffer and answers with one of the
 * outcomes below, never reading past len and never needing more than SIP_MAX_MSG bytes.
 */
#ifndef SW_FRAMING_H
#define SW_FRAMING_H

#include <stddef.h>

enum sip_frame {
    SIP_FRAME_PARTIAL,   /* need more bytes */
    SIP_FRAME_COMPLETE,  /* *n bytes form one message */
    SIP_FRAME_KEEPALIVE, /* *n bytes of CR/LF to skip (answer "\r\n" to a double CRLF ping) */
    SIP_FRAME_NOT_SIP,   /* not a SIP message: headers too long, no or bad Content-Length */
};

/* Frames the front of buf[0..len). *n is set for COMPLETE and KEEPALIVE. */
enum sip_frame sip_frame(const char *buf, size_t len, size_t *n);

#endif /* SW_FRAMING_H */
