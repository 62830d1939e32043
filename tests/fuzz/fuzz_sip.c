/*
 * fuzz_sip.c - libFuzzer target for the SIP message layer (src/sip/): what any peer on a
 * trunk, or any packet on a mirrored port, can hand stirwired.
 *
 * Each input is read twice: as a TCP stream (sip_frame() in a loop, skipping keep-alives,
 * each COMPLETE message parsed) and as one UDP datagram. A message that parses goes
 * through every reader (Via with its comma list, numbers, tags, Max-Forwards, the
 * Request-URI) and through a splice with the edits a proxy makes; the target aborts when
 * an offset lies outside the message or the spliced length is not what the edits add up
 * to, so that a wrong offset shows up as a crash and not only as an out-of-bounds read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/sip/framing.h"
#include "../../src/sip/sipmsg.h"
#include "../../src/sip/splice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int within(size_t off, size_t len, size_t lo, size_t hi)
{
    return off >= lo && off <= hi && len <= hi - off;
}

static void check_offsets(const struct sip_msg *m, size_t size)
{
    size_t i;

    if (m->len > size || m->body_off > m->len || m->body_len != m->len - m->body_off ||
        m->hdrs_end > m->body_off || m->first_line_len > m->hdrs_end || m->nhdrs > SIP_MAX_HEADERS)
        abort();
    if (m->is_request && (!within(m->method_off, m->method_len, 0, m->first_line_len) ||
                          !within(m->ruri_off, m->ruri_len, 0, m->first_line_len)))
        abort();
    if (!within(m->cseq_method_off, m->cseq_method_len, m->first_line_len, m->hdrs_end))
        abort();
    for (i = 0; i < m->nhdrs; i++) {
        const struct sip_hdr *h = &m->hdrs[i];
        size_t end = h->line_off + h->line_len;
        if (!within(h->line_off, h->line_len, m->first_line_len, m->hdrs_end) ||
            !within(h->name_off, h->name_len, h->line_off, end) ||
            !within(h->value_off, h->value_len, h->line_off, end) || h->name_len == 0)
            abort();
        if (i > 0 && h->line_off != m->hdrs[i - 1].line_off + m->hdrs[i - 1].line_len)
            abort();
    }
}

static void read_headers(const struct sip_msg *m)
{
    char out[256];
    struct sip_via v;
    struct sip_hdr rest;
    size_t i;
    int k;

    (void)sip_max_forwards(m);
    (void)sip_ruri_number(m, out, sizeof out);
    (void)sip_ruri_number(m, out, 4);
    (void)sip_is_method(m, "INVITE");
    for (i = 0; i < m->nhdrs; i++) {
        const struct sip_hdr *h = &m->hdrs[i];
        /* Every reader on every header, whatever its name: values come from strangers. */
        rest = *h;
        for (k = 0; k < 8 && sip_via_parse(m, &rest, &v) == 0; k++) {
            if (v.value_len > rest.value_len)
                abort();
            if (!v.more || sip_via_rest(m, &rest, &v, &rest) < 0)
                break;
        }
        (void)sip_hdr_number(m, h, out, sizeof out);
        (void)sip_hdr_number(m, h, out, 3);
        (void)sip_hdr_tag(m, h, out, sizeof out);
        (void)sip_hdr_tag(m, h, out, 2);
    }
}

static void splice_like_a_proxy(const struct sip_msg *m)
{
    static char out[SIP_MAX_MSG + SIP_EDIT_ARENA];
    static const char via[] = "Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKfuzz\r\n";
    struct sip_edits ed;
    const struct sip_hdr *h;
    size_t i, n, want = m->len;

    sip_edits_init(&ed);
    if (m->nhdrs > 0 && sip_edit_insert(&ed, m->hdrs[0].line_off, via, sizeof via - 1) == 0)
        want += sizeof via - 1;
    if ((h = sip_hdr_find(m, SH_MAX_FORWARDS, 0)) != NULL &&
        sip_edit_replace(&ed, h->value_off, h->value_len, "69", 2) == 0)
        want = want - h->value_len + 2;
    for (i = 0; (h = sip_hdr_find(m, SH_IDENTITY, i)) != NULL; i++)
        if (sip_edit_delete(&ed, h->line_off, h->line_len) == 0)
            want -= h->line_len;
    if (sip_edit_insertf(&ed, m->hdrs_end, "Identity: %s;info=<%s>\r\n", "a.b.c",
                         "https://x.example/c.pem") == 0)
        want += ed.e[ed.n - 1].ins_len;
    n = sip_splice(m->buf, m->len, &ed, out, sizeof out);
    if (n != want)
        abort();
    /* The part before the first edit is the received bytes, untouched. */
    if (m->nhdrs > 0 && memcmp(out, m->buf, m->hdrs[0].line_off) != 0)
        abort();
    (void)sip_splice(m->buf, m->len, &ed, out, m->len / 2);
}

static void one_message(const char *buf, size_t len)
{
    struct sip_msg *m = malloc(sizeof *m);
    char err[128];

    if (m == NULL)
        return;
    if (sip_parse(m, buf, len, err, sizeof err) == 0) {
        check_offsets(m, len);
        read_headers(m);
        splice_like_a_proxy(m);
    } else if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t pos = 0, n;
    int frames = 0;

    while (pos < size && frames++ < 64) {
        enum sip_frame r = sip_frame(buf + pos, size - pos, &n);
        if (r == SIP_FRAME_KEEPALIVE || r == SIP_FRAME_COMPLETE) {
            if (n == 0 || n > size - pos)
                abort();
            if (r == SIP_FRAME_COMPLETE)
                one_message(buf + pos, n);
            pos += n;
        } else {
            break;
        }
    }
    one_message(buf, size);
    return 0;
}
