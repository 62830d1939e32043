/*
 * identity.c - the SIP Identity header value (RFC 8224 section 4): parse and print.
 *
 *   Identity: <b64 header>.<b64 payload>.<b64 sig>;info=<URI>;alg=ES256;ppt=shaken
 *
 * The value comes from whoever sent the INVITE, so parsing is strict and bounded:
 * a length cap before anything else, no NUL bytes, at most SWI_MAX_PARAMS parameters,
 * strict base64url, JSON objects only. The bytes that were signed are kept exactly as
 * received; we never re-encode before checking a signature. Semantics (alg, claims,
 * freshness) are not judged here but in verify.c, so that decode can show a token
 * that a verifier would refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sw_int.h"

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* RFC 3261 token characters. */
static int is_token(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

void sw_identity_free(sw_identity *id)
{
    size_t i;

    if (id == NULL)
        return;
    sw_passport_free(id->pp);
    free(id->signing_input);
    free(id->sig_b64);
    for (i = 0; i < id->nparams; i++) {
        free(id->param_name[i]);
        free(id->param_value[i]);
    }
    free(id);
}

/* Decodes one base64url segment into a JSON object. */
static sw_err decode_object(sw_ctx *ctx, const char *what, const char *b64, size_t n, json_t **out)
{
    unsigned char *raw;
    size_t rawlen;
    json_error_t jerr;
    json_t *obj;

    if ((raw = malloc(n * 3 / 4 + 1)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    if (swi_b64url_decode(b64, n, raw, &rawlen) != 0) {
        free(raw);
        return swi_fail(ctx, SW_ERR_BASE64, "PASSporT %s is not valid base64url", what);
    }
    /* Duplicate keys are refused: two readers could otherwise see two different claims. */
    obj = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    if (obj == NULL)
        return swi_fail(ctx, SW_ERR_JSON, "PASSporT %s is not valid JSON: %s (at byte %d)", what,
                        jerr.text, jerr.position);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return swi_fail(ctx, SW_ERR_JSON, "PASSporT %s is JSON but not an object", what);
    }
    *out = obj;
    return SW_OK;
}

/* The JWT header, from the context's one-entry cache when it repeats. */
static sw_err decode_header(sw_ctx *ctx, const char *b64, size_t n, json_t **out)
{
    sw_err err;
    char *copy;

    if (ctx != NULL && ctx->hdr_json != NULL && ctx->hdr_b64_len == n &&
        memcmp(ctx->hdr_b64, b64, n) == 0) {
        *out = json_incref(ctx->hdr_json);
        return SW_OK;
    }
    if ((err = decode_object(ctx, "header", b64, n, out)) != SW_OK || ctx == NULL)
        return err;
    if ((copy = malloc(n)) != NULL) {
        memcpy(copy, b64, n);
        free(ctx->hdr_b64);
        json_decref(ctx->hdr_json);
        ctx->hdr_b64 = copy;
        ctx->hdr_b64_len = n;
        ctx->hdr_json = json_incref(*out);
    }
    return SW_OK;
}

static sw_err add_param(sw_ctx *ctx, sw_identity *id, const char *name, size_t nlen,
                        const char *value, size_t vlen, int has_value)
{
    size_t i;

    if (id->nparams >= SWI_MAX_PARAMS)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                        "Identity header has more than %d parameters", SWI_MAX_PARAMS);
    for (i = 0; i < id->nparams; i++) {
        if (strlen(id->param_name[i]) == nlen && strncasecmp(id->param_name[i], name, nlen) == 0)
            return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                            "Identity header parameter %.*s appears twice", (int)nlen, name);
    }
    if ((id->param_name[i] = strndup(name, nlen)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    id->nparams++;
    if (has_value && (id->param_value[i] = strndup(value, vlen)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    return SW_OK;
}

/* Parses ";name[=value]" parameters from p to end. */
static sw_err parse_params(sw_ctx *ctx, sw_identity *id, const char *p, const char *end)
{
    while (p < end) {
        const char *name, *value = NULL;
        size_t nlen, vlen = 0;
        int has_value = 0, angle = 0;
        sw_err err;

        while (p < end && is_ws(*p))
            p++;
        if (p == end)
            break;
        if (*p != ';')
            return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                            "unexpected '%c' after the PASSporT; parameters start with ';'", *p);
        p++;
        while (p < end && is_ws(*p))
            p++;
        name = p;
        while (p < end && is_token(*p))
            p++;
        if ((nlen = (size_t)(p - name)) == 0)
            return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED, "empty Identity header parameter");
        while (p < end && is_ws(*p))
            p++;
        if (p < end && *p == '=') {
            p++;
            has_value = 1;
            while (p < end && is_ws(*p))
                p++;
            if (p < end && *p == '<') {
                /* ident-info-uri = LAQUOT absoluteURI RAQUOT; query strings are legal */
                angle = 1;
                value = ++p;
                while (p < end && *p != '>' && !is_ws(*p) && *p != '<')
                    p++;
                if (p == end || *p != '>')
                    return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                                    "parameter %.*s: '<' without a closing '>'", (int)nlen, name);
                vlen = (size_t)(p - value);
                p++;
            } else if (p < end && *p == '"') {
                /* quoted-string; peers quote ppt ("shaken"). No escapes are needed there. */
                value = ++p;
                while (p < end && *p != '"' && *p != '\\')
                    p++;
                if (p == end || *p != '"')
                    return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                                    "parameter %.*s: unterminated or escaped quoted string",
                                    (int)nlen, name);
                vlen = (size_t)(p - value);
                p++;
            } else {
                value = p;
                while (p < end && is_token(*p))
                    p++;
                if ((vlen = (size_t)(p - value)) == 0)
                    return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                                    "parameter %.*s has an empty value", (int)nlen, name);
            }
        }
        if (nlen == 4 && strncasecmp(name, "info", 4) == 0 && (!angle || vlen == 0))
            return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                            "info must be a URI in angle brackets: info=<https://...>");
        if ((err = add_param(ctx, id, name, nlen, value, vlen, has_value)) != SW_OK)
            return err;
    }
    return SW_OK;
}

sw_err sw_identity_parse(sw_ctx *ctx, const char *value, size_t len, sw_identity **out)
{
    const char *p, *end, *tok_end, *dot1 = NULL, *dot2 = NULL, *q;
    json_t *header = NULL, *payload = NULL;
    sw_identity *id;
    unsigned char sigraw[SW_IDENTITY_MAX];
    size_t siglen, sig_b64len;
    sw_err err;

    if (out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no output given");
    *out = NULL;
    if (value == NULL)
        return swi_fail(ctx, SW_ERR_IDENTITY_MISSING, "no Identity header value");
    if (len > SW_IDENTITY_MAX)
        return swi_fail(ctx, SW_ERR_IDENTITY_TOO_LONG,
                        "Identity header is %zu bytes, the limit is %d", len, SW_IDENTITY_MAX);
    if (memchr(value, '\0', len) != NULL)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED, "Identity header contains a NUL byte");
    p = value;
    end = value + len;
    while (p < end && is_ws(*p))
        p++;
    while (end > p && is_ws(end[-1]))
        end--;
    if (p == end)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED, "Identity header is empty");

    /* signed-identity-digest: three base64url segments separated by two dots */
    for (q = p; q < end && (is_b64url(*q) || *q == '.'); q++) {
        if (*q != '.')
            continue;
        if (dot1 == NULL)
            dot1 = q;
        else if (dot2 == NULL)
            dot2 = q;
        else
            return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                            "PASSporT has more than three dot-separated parts");
    }
    tok_end = q;
    if (tok_end < end && *tok_end != ';' && !is_ws(*tok_end))
        return swi_fail(ctx, SW_ERR_BASE64, "PASSporT contains '%c', not a base64url character",
                        *tok_end);
    if (dot2 == NULL)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                        "PASSporT must be header.payload.signature (found %s)",
                        dot1 ? "two parts" : "one part");
    if (dot1 == p)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED, "PASSporT header part is empty");
    if (dot2 + 1 == tok_end)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED, "PASSporT signature part is empty");

    if ((id = calloc(1, sizeof(*id))) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    id->compact = (dot2 == dot1 + 1);

    /* signature */
    sig_b64len = (size_t)(tok_end - dot2 - 1);
    if (swi_b64url_decode(dot2 + 1, sig_b64len, sigraw, &siglen) != 0) {
        err = swi_fail(ctx, SW_ERR_BASE64, "PASSporT signature is not valid base64url");
        goto fail;
    }
    if (siglen != 64) {
        err = swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                       "ES256 signature must be 64 bytes (r||s), this one is %zu", siglen);
        goto fail;
    }
    memcpy(id->sig, sigraw, 64);
    id->sig_len = 64;
    if ((id->sig_b64 = strndup(dot2 + 1, sig_b64len)) == NULL ||
        (id->signing_input = strndup(p, (size_t)(dot2 - p))) == NULL) {
        err = swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    id->signing_input_len = (size_t)(dot2 - p);

    if ((err = decode_header(ctx, p, (size_t)(dot1 - p), &header)) != SW_OK)
        goto fail;
    if (id->compact)
        payload = json_object();
    else if ((err = decode_object(ctx, "payload", dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload)) !=
             SW_OK)
        goto fail;
    if (payload == NULL || (id->pp = swi_passport_from_json(header, payload)) == NULL) {
        err = swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    header = payload = NULL;

    if ((err = parse_params(ctx, id, tok_end, end)) != SW_OK)
        goto fail;
    *out = id;
    return SW_OK;

fail:
    json_decref(header);
    json_decref(payload);
    sw_identity_free(id);
    return err;
}

int sw_identity_is_compact(const sw_identity *id)
{
    return id != NULL && id->compact;
}

sw_err sw_identity_set_claims(sw_ctx *ctx, sw_identity *id, const sw_passport *claims)
{
    const char *pjson;
    char *b64, *input;
    size_t hlen, plen;
    json_t *copy;

    if (id == NULL || claims == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no identity or claims given");
    if (!id->compact)
        return swi_fail(ctx, SW_ERR_INVAL, "claims can be supplied only for the compact form");
    if ((pjson = sw_passport_payload_json(claims)) == NULL ||
        (copy = json_deep_copy(claims->payload)) == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    /* the header part of the signing input stays as received: up to the first dot */
    hlen = strcspn(id->signing_input, ".");
    plen = strlen(pjson);
    if ((b64 = malloc(swi_b64url_encoded_len(plen) + 1)) == NULL ||
        (input = malloc(hlen + 1 + swi_b64url_encoded_len(plen) + 1)) == NULL) {
        free(b64);
        json_decref(copy);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    swi_b64url_encode((const unsigned char *)pjson, plen, b64);
    memcpy(input, id->signing_input, hlen);
    input[hlen] = '.';
    memcpy(input + hlen + 1, b64, strlen(b64) + 1);
    free(b64);
    free(id->signing_input);
    id->signing_input = input;
    id->signing_input_len = strlen(input);
    json_decref(id->pp->payload);
    id->pp->payload = copy;
    free(id->pp->payload_json);
    id->pp->payload_json = NULL;
    id->claims_set = 1;
    return SW_OK;
}

const sw_passport *sw_identity_passport(const sw_identity *id)
{
    return id ? id->pp : NULL;
}

const char *sw_identity_param(const sw_identity *id, const char *name)
{
    size_t i;

    if (id == NULL || name == NULL)
        return NULL;
    for (i = 0; i < id->nparams; i++)
        if (strcasecmp(id->param_name[i], name) == 0)
            return id->param_value[i];
    return NULL;
}

const char *sw_identity_info(const sw_identity *id)
{
    return sw_identity_param(id, "info");
}

const char *sw_identity_alg_param(const sw_identity *id)
{
    return sw_identity_param(id, "alg");
}

const char *sw_identity_ppt_param(const sw_identity *id)
{
    return sw_identity_param(id, "ppt");
}

size_t sw_identity_param_count(const sw_identity *id)
{
    return id ? id->nparams : 0;
}

const char *sw_identity_param_name(const sw_identity *id, size_t i)
{
    return (id && i < id->nparams) ? id->param_name[i] : NULL;
}

const char *sw_identity_param_value(const sw_identity *id, size_t i)
{
    return (id && i < id->nparams) ? id->param_value[i] : NULL;
}

/*
 * A JSON string for a parameter value. Values are raw bytes from the wire; when they
 * are not UTF-8, bytes from 0x80 up are shown as \xHH so that nothing silently vanishes.
 */
static json_t *param_string(const char *value)
{
    json_t *j;
    char *buf;
    size_t i, o = 0, n;

    if (value == NULL)
        return json_true();
    if ((j = json_string(value)) != NULL)
        return j;
    n = strlen(value);
    if ((buf = malloc(n * 4 + 1)) == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x80) {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, 5, "\\x%02x", c);
            o += 4;
        }
    }
    buf[o] = '\0';
    j = json_string(buf);
    free(buf);
    return j;
}

sw_err sw_identity_to_json(sw_ctx *ctx, const sw_identity *id, char **out)
{
    json_t *root, *params;
    size_t i;

    if (id == NULL || out == NULL)
        return swi_fail(ctx, SW_ERR_INVAL, "no identity given");
    if ((root = json_object()) == NULL || (params = json_object()) == NULL) {
        json_decref(root);
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    }
    json_object_set(root, "header", id->pp->header);
    json_object_set(root, "payload", id->pp->payload);
    for (i = 0; i < id->nparams; i++)
        json_object_set_new(params, id->param_name[i], param_string(id->param_value[i]));
    json_object_set_new(root, "params", params);
    json_object_set_new(root, "signature", json_string(id->sig_b64));
    json_object_set_new(root, "form", json_string(id->compact ? "compact" : "full"));
    *out = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(root);
    if (*out == NULL)
        return swi_fail(ctx, SW_ERR_NOMEM, "out of memory");
    return SW_OK;
}
