/*
 * passport.c - the PASSporT object: JWT header and claims, and canonical JSON.
 *
 * The JSON objects are the truth; getters read from them so that a parsed token
 * keeps every claim we do not know (RFC 8225 section 8.3 lets others add claims,
 * and a verifier must not lose them). Canonical JSON (RFC 8225 section 9) is
 * jansson with JSON_SORT_KEYS | JSON_COMPACT; it is cached until the next change.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_int.h"

char *swi_json_canon(const json_t *obj)
{
    /* JSON_ENSURE_ASCII stays off: RFC 8225 keeps UTF-8 as is. */
    return json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
}

static void invalidate(sw_passport *pp)
{
    free(pp->header_json);
    free(pp->payload_json);
    pp->header_json = NULL;
    pp->payload_json = NULL;
}

sw_passport *swi_passport_from_json(json_t *header, json_t *payload)
{
    sw_passport *pp = calloc(1, sizeof(*pp));

    if (pp == NULL)
        return NULL;
    pp->header = header;
    pp->payload = payload;
    return pp;
}

sw_passport *sw_passport_new(void)
{
    json_t *h = json_object(), *p = json_object();
    sw_passport *pp;

    if (h == NULL || p == NULL || json_object_set_new(h, "alg", json_string("ES256")) != 0 ||
        json_object_set_new(h, "ppt", json_string("shaken")) != 0 ||
        json_object_set_new(h, "typ", json_string("passport")) != 0 ||
        (pp = swi_passport_from_json(h, p)) == NULL) {
        json_decref(h);
        json_decref(p);
        return NULL;
    }
    return pp;
}

void sw_passport_free(sw_passport *pp)
{
    if (pp == NULL)
        return;
    json_decref(pp->header);
    json_decref(pp->payload);
    invalidate(pp);
    free(pp);
}

sw_err sw_passport_set_attest(sw_passport *pp, char attest)
{
    char s[2] = {attest, '\0'};

    if (pp == NULL || (attest != 'A' && attest != 'B' && attest != 'C'))
        return SW_ERR_ATTEST;
    invalidate(pp);
    return json_object_set_new(pp->payload, "attest", json_string(s)) == 0 ? SW_OK : SW_ERR_NOMEM;
}

static json_t *sub_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);

    if (json_is_object(o))
        return o;
    o = json_object();
    if (o == NULL || json_object_set_new(parent, key, o) != 0)
        return NULL;
    return o;
}

sw_err sw_passport_set_orig_tn(sw_passport *pp, const char *tn)
{
    char canon[SW_TN_MAX];
    json_t *orig;
    sw_err err;

    if (pp == NULL || tn == NULL)
        return SW_ERR_INVAL;
    if ((err = sw_tn_canon(tn, canon, sizeof(canon))) != SW_OK)
        return err;
    invalidate(pp);
    if ((orig = sub_object(pp->payload, "orig")) == NULL ||
        json_object_set_new(orig, "tn", json_string(canon)) != 0)
        return SW_ERR_NOMEM;
    return SW_OK;
}

sw_err sw_passport_add_dest_tn(sw_passport *pp, const char *tn)
{
    char canon[SW_TN_MAX];
    json_t *dest, *arr;
    sw_err err;

    if (pp == NULL || tn == NULL)
        return SW_ERR_INVAL;
    if ((err = sw_tn_canon(tn, canon, sizeof(canon))) != SW_OK)
        return err;
    invalidate(pp);
    if ((dest = sub_object(pp->payload, "dest")) == NULL)
        return SW_ERR_NOMEM;
    arr = json_object_get(dest, "tn");
    if (!json_is_array(arr)) {
        if ((arr = json_array()) == NULL || json_object_set_new(dest, "tn", arr) != 0)
            return SW_ERR_NOMEM;
    }
    return json_array_append_new(arr, json_string(canon)) == 0 ? SW_OK : SW_ERR_NOMEM;
}

sw_err sw_passport_set_iat(sw_passport *pp, int64_t iat)
{
    if (pp == NULL || iat < 0)
        return SW_ERR_INVAL;
    invalidate(pp);
    return json_object_set_new(pp->payload, "iat", json_integer((json_int_t)iat)) == 0
               ? SW_OK
               : SW_ERR_NOMEM;
}

static sw_err set_string(sw_passport *pp, json_t *obj, const char *key, const char *value)
{
    if (pp == NULL)
        return SW_ERR_INVAL;
    invalidate(pp);
    if (value == NULL) {
        json_object_del(obj, key);
        return SW_OK;
    }
    /* json_string refuses invalid UTF-8, which is what we want in a token. */
    return json_object_set_new(obj, key, json_string(value)) == 0 ? SW_OK : SW_ERR_INVAL;
}

sw_err sw_passport_set_origid(sw_passport *pp, const char *origid)
{
    return pp == NULL ? SW_ERR_INVAL : set_string(pp, pp->payload, "origid", origid);
}

sw_err sw_passport_set_x5u(sw_passport *pp, const char *url)
{
    return pp == NULL ? SW_ERR_INVAL : set_string(pp, pp->header, "x5u", url);
}

static const char *get_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

char sw_passport_attest(const sw_passport *pp)
{
    const char *a = pp ? get_string(pp->payload, "attest") : NULL;

    return (a != NULL && a[0] != '\0' && a[1] == '\0') ? a[0] : '\0';
}

const char *sw_passport_orig_tn(const sw_passport *pp)
{
    return pp ? get_string(json_object_get(pp->payload, "orig"), "tn") : NULL;
}

size_t sw_passport_dest_tn_count(const sw_passport *pp)
{
    const json_t *arr = pp ? json_object_get(json_object_get(pp->payload, "dest"), "tn") : NULL;

    return json_is_array(arr) ? json_array_size(arr) : 0;
}

const char *sw_passport_dest_tn(const sw_passport *pp, size_t i)
{
    const json_t *arr = pp ? json_object_get(json_object_get(pp->payload, "dest"), "tn") : NULL;

    return json_string_value(json_array_get(arr, i));
}

int64_t sw_passport_iat(const sw_passport *pp)
{
    const json_t *iat = pp ? json_object_get(pp->payload, "iat") : NULL;

    return json_is_integer(iat) ? (int64_t)json_integer_value(iat) : 0;
}

const char *sw_passport_origid(const sw_passport *pp)
{
    return pp ? get_string(pp->payload, "origid") : NULL;
}

const char *sw_passport_x5u(const sw_passport *pp)
{
    return pp ? get_string(pp->header, "x5u") : NULL;
}

const char *sw_passport_alg(const sw_passport *pp)
{
    return pp ? get_string(pp->header, "alg") : NULL;
}

const char *sw_passport_typ(const sw_passport *pp)
{
    return pp ? get_string(pp->header, "typ") : NULL;
}

const char *sw_passport_ppt(const sw_passport *pp)
{
    return pp ? get_string(pp->header, "ppt") : NULL;
}

/*
 * The getters are const, but the canonical text is cached; the cache is private to
 * the object, which is not shared across threads while it is being changed.
 */
const char *sw_passport_header_json(const sw_passport *pp)
{
    sw_passport *m = (sw_passport *)pp;

    if (pp == NULL)
        return NULL;
    if (m->header_json == NULL)
        m->header_json = swi_json_canon(pp->header);
    return m->header_json;
}

const char *sw_passport_payload_json(const sw_passport *pp)
{
    sw_passport *m = (sw_passport *)pp;

    if (pp == NULL)
        return NULL;
    if (m->payload_json == NULL)
        m->payload_json = swi_json_canon(pp->payload);
    return m->payload_json;
}

static void uuid_format(const unsigned char b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

static void uuid_v4_bits(unsigned char b[16])
{
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

sw_err sw_uuid_v4(char out[37])
{
    unsigned char b[16];

    if (out == NULL)
        return SW_ERR_INVAL;
    if (RAND_bytes(b, sizeof(b)) != 1)
        return SW_ERR_CRYPTO;
    uuid_v4_bits(b);
    uuid_format(b, out);
    return SW_OK;
}

sw_err swi_uuid_v4(sw_ctx *ctx, char out[37])
{
    unsigned char *b;

    if (ctx->rnd_left < 16) {
        if (RAND_bytes(ctx->rnd, sizeof(ctx->rnd)) != 1)
            return SW_ERR_CRYPTO;
        ctx->rnd_left = sizeof(ctx->rnd);
    }
    b = ctx->rnd + sizeof(ctx->rnd) - ctx->rnd_left;
    uuid_v4_bits(b);
    uuid_format(b, out);
    /* used bytes are wiped so that a later memory dump cannot replay them */
    OPENSSL_cleanse(b, 16);
    ctx->rnd_left -= 16;
    return SW_OK;
}
