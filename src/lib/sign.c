/*
 * sign.c - signing a PASSporT into an Identity header value (RFC 8224, 8225, 8588).
 *
 * The passport given is not changed: iat and origid, when the caller left them out,
 * are filled in on a shallow copy of the claims, so one prepared passport can be
 * signed again and again (the proxy's hot path does exactly that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_int.h"

/* True for strings that canonical JSON writes verbatim (no escapes needed). */
static int json_plain(const char *s)
{
    if (s == NULL)
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

sw_err sw_x5u_check(const char *url)
{
    const unsigned char *p;

    if (url == NULL || url[0] == '\0')
        return SW_ERR_INFO_MISSING;
    for (p = (const unsigned char *)url; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '<' || *p == '>' || *p == '"')
            return SW_ERR_INVAL;
    return SW_OK;
}

/* sw_x5u_check with the reason in ctx, for the signing functions. */
static sw_err x5u_usable(sw_ctx *ctx, const char *x5u)
{
    switch (sw_x5u_check(x5u)) {
    case SW_OK:
        return SW_OK;
    case SW_ERR_INFO_MISSING:
        return swi_fail(ctx, SW_ERR_INFO_MISSING, "cannot sign: no x5u certificate URL");
    default:
        return swi_fail(ctx, SW_ERR_INVAL,
                        "cannot sign: x5u URL contains '<', '>', '\"', white space or a "
                        "character that is not printable ASCII");
    }
}

static size_t put(char *buf, size_t o, const char *s)
{
    size_t n = strlen(s);

    memcpy(buf + o, s, n);
    return o + n;
}

/*
 * Canonical JSON of a shaken payload, written directly. jansson's sorted dump costs a
 * microsecond of allocations per token, 5% of an ECDSA sign, so the common case (only
 * the claims of RFC 8588, plain strings) is written here in RFC 8225 section 9 order;
 * anything else (extra claims, strings that need escaping) goes through jansson.
 * Returns NULL when the fast path does not apply.
 */
static char *shaken_json(char attest, const char *orig_tn, const char *const *dest, size_t n,
                         int64_t iat, const char *origid)
{
    size_t i, cap, o = 0;
    char num[24], *buf;

    if (!json_plain(orig_tn) || !json_plain(origid))
        return NULL;
    cap = 96 + strlen(orig_tn) + strlen(origid);
    for (i = 0; i < n; i++) {
        if (!json_plain(dest[i]))
            return NULL;
        cap += strlen(dest[i]) + 3;
    }
    if ((buf = malloc(cap)) == NULL)
        return NULL;
    o = put(buf, o, "{\"attest\":\"");
    buf[o++] = attest;
    o = put(buf, o, "\",\"dest\":{\"tn\":[");
    for (i = 0; i < n; i++) {
        o = put(buf, o, i ? ",\"" : "\"");
        o = put(buf, o, dest[i]);
        buf[o++] = '"';
    }
    snprintf(num, sizeof(num), "%lld", (long long)iat);
    o = put(buf, o, "]},\"iat\":");
    o = put(buf, o, num);
    o = put(buf, o, ",\"orig\":{\"tn\":\"");
    o = put(buf, o, orig_tn);
    o = put(buf, o, "\"},\"origid\":\"");
    o = put(buf, o, origid);
    o = put(buf, o, "\"}");
    buf[o] = '\0';
    return buf;
}

#define SW_MAX_DEST 64

static char *shaken_payload_json(const sw_passport *pp, int64_t iat, const char *origid)
{
    const json_t *payload = pp->payload, *orig = json_object_get(payload, "orig");
    const json_t *dest = json_object_get(payload, "dest");
    const char *key, *dests[SW_MAX_DEST];
    size_t i, n = sw_passport_dest_tn_count(pp);
    const json_t *v;

    json_object_foreach((json_t *)payload, key, v) {
        if (strcmp(key, "attest") != 0 && strcmp(key, "dest") != 0 && strcmp(key, "orig") != 0 &&
            strcmp(key, "iat") != 0 && strcmp(key, "origid") != 0)
            return NULL;
    }
    if (json_object_size(orig) != 1 || json_object_size(dest) != 1 || n > SW_MAX_DEST)
        return NULL;
    for (i = 0; i < n; i++)
        dests[i] = sw_passport_dest_tn(pp, i);
    return shaken_json(sw_passport_attest(pp), sw_passport_orig_tn(pp), dests, n, iat, origid);
}

/*
 * Writes <b64 header>.<b64 payload>.<b64 sig>;info=<x5u>;alg=ES256;ppt=<ppt> (the payload
 * left out for the compact form) into a new buffer in *out.
 */
static sw_err write_identity(sw_ctx *ctx, const sw_key *key, const char *hjson, const char *pjson,
                             const char *x5u, const char *ppt, unsigned flags, char **out)
{
    size_t hlen = strlen(hjson), plen = strlen(pjson), cap, o;
    unsigned char sig[64];
    char *buf;
    sw_err err;

    cap = swi_b64url_encoded_len(hlen) + swi_b64url_encoded_len(plen) + 86 + 2 + strlen(x5u) +
          (ppt ? strlen(ppt) : 0) + 32;
    if ((buf = malloc(cap)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    o = swi_b64url_encode((const unsigned char *)hjson, hlen, buf);
    buf[o++] = '.';
    o += swi_b64url_encode((const unsigned char *)pjson, plen, buf + o);
    /* The signature always covers the full header.payload, also for the compact form. */
    if ((err = swi_es256_sign(ctx, key->pkey, buf, o, sig)) != SW_OK) {
        free(buf);
        return err;
    }
    if (flags & SW_SIGN_COMPACT)
        o = strcspn(buf, ".") + 1;
    buf[o++] = '.';
    o += swi_b64url_encode(sig, sizeof(sig), buf + o);
    o += (size_t)snprintf(buf + o, cap - o, ";info=<%s>;alg=ES256%s%s", x5u, ppt ? ";ppt=" : "",
                          ppt ? ppt : "");
    /* never hand out a header that verifiers (ours included) refuse for its size */
    if (o > SW_IDENTITY_MAX) {
        free(buf);
        return swi_fail(ctx, SW_ERR_IDENTITY_TOO_LONG,
                        "the signed Identity would be %zu bytes, over the %d-byte limit", o,
                        SW_IDENTITY_MAX);
    }
    *out = buf;
    return SW_OK;
}

static sw_err check_claims(sw_ctx *ctx, const sw_passport *pp)
{
    if (sw_passport_attest(pp) == '\0')
        return swi_fail(ctx, SW_ERR_ATTEST, "cannot sign: no attestation level (A, B or C)");
    if (sw_passport_orig_tn(pp) == NULL)
        return swi_fail(ctx, SW_ERR_ORIG_MISSING, "cannot sign: no orig telephone number");
    if (sw_passport_dest_tn_count(pp) == 0)
        return swi_fail(ctx, SW_ERR_DEST_MISSING, "cannot sign: no dest telephone number");
    return x5u_usable(ctx, sw_passport_x5u(pp));
}

sw_err sw_sign(sw_ctx *ctx, const sw_key *key, const sw_passport *pp, unsigned flags, char **out)
{
    const char *hjson, *ppt, *origid_claim;
    char *pjson = NULL, origid[37];
    json_t *claims = NULL, *iat_claim;
    int64_t iat;
    sw_err err;

    if (ctx == NULL || key == NULL || pp == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "sw_sign needs a context, a key, a passport and out");
    *out = NULL;
    if ((err = check_claims(ctx, pp)) != SW_OK)
        return err;
    if ((hjson = sw_passport_header_json(pp)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    iat_claim = json_object_get(pp->payload, "iat");
    iat = json_is_integer(iat_claim) ? (int64_t)json_integer_value(iat_claim) : sw_ctx_now(ctx);
    if ((origid_claim = sw_passport_origid(pp)) == NULL) {
        if (swi_uuid_v4(ctx, origid) != SW_OK)
            return swi_fail(ctx, SW_ERR_CRYPTO, "random number generator failed");
        origid_claim = origid;
    }
    if ((pjson = shaken_payload_json(pp, iat, origid_claim)) == NULL) {
        if ((claims = json_copy(pp->payload)) == NULL ||
            json_object_set_new(claims, "iat", json_integer((json_int_t)iat)) != 0 ||
            json_object_set_new(claims, "origid", json_string(origid_claim)) != 0 ||
            (pjson = swi_json_canon(claims)) == NULL) {
            err = swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    ppt = sw_passport_ppt(pp);
    err = write_identity(ctx, key, hjson, pjson, sw_passport_x5u(pp), ppt, flags, out);
done:
    free(pjson);
    json_decref(claims);
    return err;
}

sw_err sw_sign_shaken(sw_ctx *ctx, const sw_key *key, char attest, const char *orig_tn,
                      const char *const *dest_tns, size_t ndest, int64_t iat, const char *origid,
                      const char *x5u, unsigned flags, char **out)
{
    char orig[SW_TN_MAX], dests[8][SW_TN_MAX], uuid[37], *hjson = NULL, *pjson = NULL;
    const char *dptr[8];
    size_t i, n;
    sw_err err;

    if (ctx == NULL || key == NULL || out == NULL || dest_tns == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "sw_sign_shaken needs a context, a key, dest and out");
    *out = NULL;
    if (attest != 'A' && attest != 'B' && attest != 'C')
        return swi_fail(ctx, SW_ERR_ATTEST, "cannot sign: attestation must be A, B or C");
    if (orig_tn == NULL || sw_tn_canon(orig_tn, orig, sizeof(orig)) != SW_OK)
        return swi_fail(ctx, SW_ERR_ORIG_MISSING, "cannot sign: orig is not a telephone number");
    if (ndest == 0 || ndest > 8)
        return swi_fail(ctx, SW_ERR_DEST_MISSING, "cannot sign: 1 to 8 dest numbers, not %zu",
                        ndest);
    for (i = 0; i < ndest; i++) {
        if (dest_tns[i] == NULL || sw_tn_canon(dest_tns[i], dests[i], SW_TN_MAX) != SW_OK)
            return swi_fail(ctx, SW_ERR_DEST_MISSING,
                            "cannot sign: dest %zu is not a telephone number", i);
        dptr[i] = dests[i];
    }
    if ((err = x5u_usable(ctx, x5u)) != SW_OK)
        return err;
    if (iat == 0)
        iat = sw_ctx_now(ctx);
    if (origid == NULL) {
        if (swi_uuid_v4(ctx, uuid) != SW_OK)
            return swi_fail(ctx, SW_ERR_CRYPTO, "random number generator failed");
        origid = uuid;
    }
    /* strings that need JSON escapes take the general path */
    if (!json_plain(x5u) || (pjson = shaken_json(attest, orig, dptr, ndest, iat, origid)) == NULL) {
        sw_passport *pp = sw_passport_new();
        err = SW_ERR_NOMEM;
        if (pp != NULL && sw_passport_set_attest(pp, attest) == SW_OK &&
            sw_passport_set_orig_tn(pp, orig) == SW_OK && sw_passport_set_iat(pp, iat) == SW_OK &&
            sw_passport_set_origid(pp, origid) == SW_OK && sw_passport_set_x5u(pp, x5u) == SW_OK) {
            for (i = 0; i < ndest && sw_passport_add_dest_tn(pp, dptr[i]) == SW_OK; i++)
                ;
            err = i == ndest ? sw_sign(ctx, key, pp, flags, out)
                             : swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
        } else {
            swi_fail(ctx, err, "cannot build the PASSporT");
        }
        sw_passport_free(pp);
        return err;
    }
    n = strlen(x5u) + 64;
    if ((hjson = malloc(n)) == NULL) {
        free(pjson);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    /* the canonical header: keys in sorted order, as jansson would write them */
    snprintf(hjson, n, "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"%s\"}",
             x5u);
    err = write_identity(ctx, key, hjson, pjson, x5u, "shaken", flags, out);
    free(hjson);
    free(pjson);
    return err;
}
