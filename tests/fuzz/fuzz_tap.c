/*
 * fuzz_tap.c - libFuzzer target for the TAP's packet decoder (src/tap/decode.c): what any
 * frame on a mirrored port or in a capture file can hand it.
 *
 * Input: the first byte picks the link type (table below, its low 6 bits), or with its high
 * bit set HEP: each frame is then one HEP packet for tap_hep_decode (src/tap/hep.c), with
 * the auth key "k" required when bit 6 is set too; the rest is a list of frames,
 * each "dt len_hi len_lo bytes[len]": dt advances the capture time by dt * 50 ms (so the
 * fragment, gap and idle timers fire), len is the frame's captured length (cut at the
 * input's end). All frames go to one decoder with small limits (64 KiB of fragments,
 * 256 KiB of TCP, 64 flows), then finish and free. The target aborts when a message
 * breaks its contract (longer than max_msg, too many frames) or when bytes are still
 * charged to the decoder's memory after finish, so that an accounting slip shows up as a
 * crash.
 */
#include <pcap/dlt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../src/tap/decode.h"
#include "../../src/tap/hep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
                                DLT_RAW,    101,           DLT_IPV4,       DLT_IPV6, 147};

static volatile unsigned sink;

static void on_msg(void *arg, const struct tap_msg *m)
{
    const struct tap_decode_limits *l = arg;
    unsigned sum = 0;
    size_t i;

    if (m->len == 0 || m->len > l->max_msg || m->nframes > TAP_MSG_MAX_FRAMES ||
        (m->nframes > 0 && m->frames == NULL))
        abort();
    for (i = 0; i < m->len; i++) /* every byte must be readable (ASan) */
        sum += (unsigned char)m->data[i];
    for (i = 0; i < m->nframes; i++)
        sum += (unsigned)m->frames[i].index;
    sink = sum;
}

static struct tap_hep_buf hep_scratch;

/* A HEP packet: whatever it says, a message it yields must keep the contract. */
static void hep_one(const uint8_t *p, size_t len, int auth, const struct tap_decode_limits *l)
{
    struct tap_msg m;

    if (tap_hep_decode(p, len, auth ? "k" : NULL, &hep_scratch, &m) != TAP_DROP_none || m.len == 0)
        return;
    if (m.len > sizeof(hep_scratch.inflated) + len || m.frames != NULL ||
        m.srclen > sizeof(m.src) || m.dstlen > sizeof(m.dst))
        abort();
    on_msg((void *)l, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tap_decode_limits l;
    struct tap_decoder *d;
    struct tap_frame f;
    size_t pos = 1, fb, tb, nf;
    uint64_t index = 0;
    int64_t ts = 1800000000LL * 1000000;

    if (size < 1)
        return 0;
    tap_decode_limits_init(&l);
    l.frag_mem = 64 << 10;
    l.tcp_mem = 256 << 10;
    l.tcp_max_flows = 64;
    if ((d = tap_decoder_new(&l, on_msg, &l)) == NULL)
        return 0;
    while (pos + 3 <= size) {
        size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];

        ts += (int64_t)data[pos] * 50000;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        f.data = data + pos;
        f.caplen = len;
        f.len = len;
        if (data[0] & 0x80) { /* HEP: the frame is one HEP packet */
            hep_one(data + pos, len, data[0] & 0x40, &l);
            pos += len;
            continue;
        }
        f.linktype = linktypes[(data[0] & 0x3f) % (sizeof linktypes / sizeof linktypes[0])];
        f.ts_us = ts;
        f.source = 0;
        f.index = ++index;
        tap_decode_frame(d, &f);
        pos += len;
    }
    tap_decoder_finish(d);
    tap_decoder_held(d, &fb, &tb, &nf);
    if (fb != 0 || tb != 0 || nf != 0)
        abort();
    if (tap_decoder_counts(d)->seen[TAP_SEEN_frames] != index)
        abort();
    tap_decoder_free(d);
    return 0;
}
