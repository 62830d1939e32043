/*
 * b64.c - base64url without padding (RFC 7515 section 2), strict on input.
 *
 * A JWS has exactly one encoding of each byte string, so the decoder refuses
 * padding, foreign characters and stray trailing bits rather than guessing:
 * two different strings must never verify as the same token.
 */
#include "sw_int.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decoding table: 0..63 for alphabet characters, 64 for anything else. */
static const unsigned char b64url_value[256] = {
#define X64 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
    X64,           X64,
    /* 0x20 */ 64, 64,  64,  64,  64,  64,  64,  64,  64, 64, 64, 64, 64, 62, 64, 64,
    /* 0x30 */ 52, 53,  54,  55,  56,  57,  58,  59,  60, 61, 64, 64, 64, 64, 64, 64,
    /* 0x40 */ 64, 0,   1,   2,   3,   4,   5,   6,   7,  8,  9,  10, 11, 12, 13, 14,
    /* 0x50 */ 15, 16,  17,  18,  19,  20,  21,  22,  23, 24, 25, 64, 64, 64, 64, 63,
    /* 0x60 */ 64, 26,  27,  28,  29,  30,  31,  32,  33, 34, 35, 36, 37, 38, 39, 40,
    /* 0x70 */ 41, 42,  43,  44,  45,  46,  47,  48,  49, 50, 51, 64, 64, 64, 64, 64,
    X64,           X64, X64, X64, X64, X64, X64, X64,
#undef X64
};

size_t swi_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t swi_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

int swi_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    size_t i, o = 0, rem = n % 4;
    unsigned v;

    if (rem == 1)
        return -1;
    for (i = 0; i + 4 <= n; i += 4) {
        unsigned a = b64url_value[(unsigned char)in[i]], b = b64url_value[(unsigned char)in[i + 1]];
        unsigned c = b64url_value[(unsigned char)in[i + 2]];
        unsigned d = b64url_value[(unsigned char)in[i + 3]];
        if ((a | b | c | d) & 64)
            return -1;
        v = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (rem >= 2) {
        unsigned a = b64url_value[(unsigned char)in[i]], b = b64url_value[(unsigned char)in[i + 1]];
        unsigned c = rem == 3 ? b64url_value[(unsigned char)in[i + 2]] : 0;
        if ((a | b | c) & 64)
            return -1;
        v = a << 18 | b << 12 | c << 6;
        /* The bits past the last whole byte must be zero (RFC 4648 section 3.5). */
        if (rem == 2 && (v & 0xffff) != 0)
            return -1;
        if (rem == 3 && (v & 0xff) != 0)
            return -1;
        out[o++] = (unsigned char)(v >> 16);
        if (rem == 3)
            out[o++] = (unsigned char)(v >> 8);
    }
    *outlen = o;
    return 0;
}
