/*
 * testutil.h - helpers shared by the unit tests: keys, signed tokens at a fixed clock, and
 * hand-made or tampered Identity headers (base64url segments re-encoded with swi_b64url_*).
 *
 * Every helper asserts (cmocka) on its own failures, so a test reads as the behaviour it
 * checks. Include after <cmocka.h> and its prerequisites. Memory handed out is freed with
 * free() unless the comment says sw_free().
 */
#ifndef SW_TESTUTIL_H
#define SW_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stirwire.h"
#include "sw_int.h"

/* The fixed clock of every test, and the numbers and URL the tokens carry. */
#define TU_NOW ((int64_t)1700000000)
#define TU_ORIG "12025550100"
#define TU_DEST "12025550199"
#define TU_X5U "https://cert.example.org/sp.pem"
#define TU_ORIGID "123e4567-e89b-42d3-a456-426614174000"
#define TU_HEADER_JSON                                                                             \
    "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" TU_X5U "\"}"

/* A context whose clock is TU_NOW. */
static inline sw_ctx *tu_ctx(void)
{
    sw_ctx *ctx = sw_ctx_new();
    assert_non_null(ctx);
    sw_ctx_set_now(ctx, TU_NOW);
    return ctx;
}

static inline sw_key *tu_key(void)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_key *key = NULL;
    assert_non_null(ctx);
    assert_int_equal(sw_key_generate(ctx, &key), SW_OK);
    assert_non_null(key);
    sw_ctx_free(ctx);
    return key;
}

static inline sw_pubkey *tu_pub(const sw_key *key)
{
    sw_ctx *ctx = sw_ctx_new();
    sw_pubkey *pub = NULL;
    assert_non_null(ctx);
    assert_int_equal(sw_pubkey_from_key(ctx, key, &pub), SW_OK);
    assert_non_null(pub);
    sw_ctx_free(ctx);
    return pub;
}

/* A complete passport: attest A, TU_ORIG to TU_DEST, iat, TU_ORIGID, TU_X5U. */
static inline sw_passport *tu_passport(int64_t iat)
{
    sw_passport *pp = sw_passport_new();
    assert_non_null(pp);
    assert_int_equal(sw_passport_set_attest(pp, 'A'), SW_OK);
    assert_int_equal(sw_passport_set_orig_tn(pp, TU_ORIG), SW_OK);
    assert_int_equal(sw_passport_add_dest_tn(pp, TU_DEST), SW_OK);
    assert_int_equal(sw_passport_set_iat(pp, iat), SW_OK);
    assert_int_equal(sw_passport_set_origid(pp, TU_ORIGID), SW_OK);
    assert_int_equal(sw_passport_set_x5u(pp, TU_X5U), SW_OK);
    return pp;
}

/*
 * Signs pp with key on a context whose clock is now; returns the header (sw_free).
 * Not inlined: gcc 12 at -O2 otherwise takes the result for a pointer to the local out.
 */
static __attribute__((noinline, unused)) char *tu_sign_pp(const sw_key *key, const sw_passport *pp,
                                                          int64_t now, unsigned flags)
{
    sw_ctx *ctx = sw_ctx_new();
    char *out = NULL;
    assert_non_null(ctx);
    sw_ctx_set_now(ctx, now);
    assert_int_equal(sw_sign(ctx, key, pp, flags, &out), SW_OK);
    assert_non_null(out);
    sw_ctx_free(ctx);
    return out;
}

/* The standard token with the given iat, full form (sw_free). */
static inline char *tu_sign(const sw_key *key, int64_t iat)
{
    sw_passport *pp = tu_passport(iat);
    char *out = tu_sign_pp(key, pp, TU_NOW, 0);
    sw_passport_free(pp);
    return out;
}

/* base64url of a NUL-terminated string (free). */
static inline char *tu_b64(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(swi_b64url_encoded_len(n) + 1);
    assert_non_null(out);
    swi_b64url_encode((const unsigned char *)s, n, out);
    return out;
}

/* Decodes n base64url characters into a NUL-terminated buffer (free); *outlen set if asked. */
static inline char *tu_unb64(const char *in, size_t n, size_t *outlen)
{
    unsigned char *out = malloc(n * 3 / 4 + 2);
    size_t len = 0;
    assert_non_null(out);
    assert_int_equal(swi_b64url_decode(in, n, out, &len), 0);
    out[len] = '\0';
    if (outlen != NULL)
        *outlen = len;
    return (char *)out;
}

/* printf into fresh memory (free). */
static inline char *tu_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *tu_fmt(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;
    /* Says what gcc's -fsanitize=undefined otherwise makes -Wformat-truncation doubt. */
    if (fmt == NULL)
        abort();
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Replaces the first "from" in s by "to" (free); asserts that "from" occurs. */
static inline char *tu_replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    assert_non_null(p);
    return tu_fmt("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

/*
 * A full-form Identity header over hand-made JSON, really signed with key (or with a
 * zero signature when key is NULL): b64(header).b64(payload).b64(sig) followed by params
 * as given (e.g. ";info=<...>;alg=ES256;ppt=shaken", or "" for none). Returns free()able.
 */
static inline char *tu_token(const sw_key *key, const char *header_json, const char *payload_json,
                             const char *params)
{
    char *h = tu_b64(header_json);
    char *p = tu_b64(payload_json);
    char *input = tu_fmt("%s.%s", h, p);
    unsigned char sig[64];
    char sig_b64[100];
    char *out;

    memset(sig, 0, sizeof sig);
    if (key != NULL) {
        sw_ctx *ctx = sw_ctx_new();
        assert_non_null(ctx);
        assert_int_equal(swi_es256_sign(ctx, key->pkey, input, strlen(input), sig), SW_OK);
        sw_ctx_free(ctx);
    }
    swi_b64url_encode(sig, sizeof sig, sig_b64);
    out = tu_fmt("%s.%s%s", input, sig_b64, params);
    free(h);
    free(p);
    free(input);
    return out;
}

/* The usual parameters for TU_X5U. */
#define TU_PARAMS ";info=<" TU_X5U ">;alg=ES256;ppt=shaken"

/* The standard claims as JSON, with iat; handy for hand-made tokens. */
#define TU_PAYLOAD_FMT                                                                             \
    "{\"attest\":\"A\",\"dest\":{\"tn\":[\"" TU_DEST                                               \
    "\"]},\"iat\":%lld,\"orig\":{\"tn\":\"" TU_ORIG "\"},\"origid\":\"" TU_ORIGID "\"}"

/*
 * Decodes segment seg (0 header, 1 payload, 2 signature) of the Identity header hdr,
 * lets edit change the decoded bytes, and returns hdr with that segment re-encoded
 * (free). edit gets the buffer (room for 4096 bytes) and its length, returns the new one.
 */
typedef size_t (*tu_edit_fn)(unsigned char *buf, size_t len, void *arg);

static inline char *tu_edit_segment(const char *hdr, int seg, tu_edit_fn edit, void *arg)
{
    const char *start = hdr, *end;
    unsigned char buf[4096];
    char enc[5600];
    size_t len = 0;
    int i;

    for (i = 0; i < seg; i++) {
        start = strchr(start, '.');
        assert_non_null(start);
        start++;
    }
    end = start + strcspn(start, ".;");
    assert_true((size_t)(end - start) * 3 / 4 + 1 <= sizeof buf);
    assert_int_equal(swi_b64url_decode(start, (size_t)(end - start), buf, &len), 0);
    len = edit(buf, len, arg);
    assert_true(len <= sizeof buf && swi_b64url_encoded_len(len) < sizeof enc);
    swi_b64url_encode(buf, len, enc);
    return tu_fmt("%.*s%s%s", (int)(start - hdr), hdr, enc, end);
}

/* An edit for tu_edit_segment: replace the string pair {from, to} in the decoded text. */
static inline size_t tu_edit_replace(unsigned char *buf, size_t len, void *arg)
{
    const char *const *pair = arg;
    char *text = malloc(len + 1), *rep;
    size_t n;
    assert_non_null(text);
    memcpy(text, buf, len);
    text[len] = '\0';
    rep = tu_replace(text, pair[0], pair[1]);
    n = strlen(rep);
    assert_true(n <= 4096);
    memcpy(buf, rep, n);
    free(text);
    free(rep);
    return n;
}

/* Re-encodes segment seg of hdr with the first "from" in its decoded text replaced by "to". */
static inline char *tu_tamper(const char *hdr, int seg, const char *from, const char *to)
{
    const char *pair[2] = {from, to};
    return tu_edit_segment(hdr, seg, tu_edit_replace, (void *)pair);
}

/*
 * Parses and verifies hdr on a fresh context at TU_NOW; asserts the outcome is want and,
 * for a failure, that sw_errmsg() says something. Returns the outcome.
 */
static inline sw_err tu_verify(const char *hdr, const sw_pubkey *pub, const char *orig,
                               const char *dest)
{
    sw_ctx *ctx = tu_ctx();
    sw_identity *id = NULL;
    sw_err rc = sw_identity_parse(ctx, hdr, strlen(hdr), &id);
    if (rc == SW_OK) {
        assert_non_null(id);
        rc = sw_verify(ctx, id, pub, orig, dest);
    }
    if (rc != SW_OK) {
        assert_non_null(sw_errmsg(ctx));
        assert_true(sw_errmsg(ctx)[0] != '\0');
    }
    sw_identity_free(id);
    sw_ctx_free(ctx);
    return rc;
}

#endif /* SW_TESTUTIL_H */
