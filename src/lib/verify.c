/*
 * verify.c - the verification procedure (RFC 8224 section 6.2, ATIS-1000074), in order.
 *
 * The order is the point: every check that needs nothing but the token itself runs
 * before the signature, and (once certificates are fetched) before any network access,
 * so a stale or malformed token costs microseconds and never makes us fetch anything.
 * Each failure returns the one sw_err that names it, with the detail in sw_errmsg().
 */
#include <stdlib.h>
#include <string.h>

#include "sw_int.h"

static sw_err check_header(sw_ctx *ctx, const sw_identity *id)
{
    const sw_passport *pp = id->pp;
    const char *alg = sw_passport_alg(pp), *typ = sw_passport_typ(pp);
    const char *ppt = sw_passport_ppt(pp), *alg_param = sw_identity_alg_param(id);
    const char *ppt_param = sw_identity_ppt_param(id), *info, *x5u;

    if (alg == NULL || strcmp(alg, "ES256") != 0)
        return swi_fail(ctx, SW_ERR_ALG, "PASSporT alg is %s%s%s, only ES256 is accepted",
                        alg ? "\"" : "", alg ? alg : "missing", alg ? "\"" : "");
    if (alg_param != NULL && strcmp(alg_param, "ES256") != 0)
        return swi_fail(ctx, SW_ERR_ALG, "Identity alg parameter is \"%s\", only ES256", alg_param);
    if (typ == NULL || strcmp(typ, "passport") != 0)
        return swi_fail(ctx, SW_ERR_TYP, "PASSporT typ is %s%s%s, expected \"passport\"",
                        typ ? "\"" : "", typ ? typ : "missing", typ ? "\"" : "");
    if (ppt == NULL || strcmp(ppt, "shaken") != 0)
        return swi_fail(ctx, SW_ERR_PPT, "PASSporT ppt is %s%s%s, expected \"shaken\"",
                        ppt ? "\"" : "", ppt ? ppt : "missing", ppt ? "\"" : "");
    /* RFC 8224 section 4: a PASSporT with a ppt needs the same ppt on the header. */
    if (ppt_param == NULL || strcmp(ppt_param, ppt) != 0)
        return swi_fail(ctx, SW_ERR_PPT,
                        "Identity ppt parameter is %s%s%s but the PASSporT says "
                        "\"%s\"",
                        ppt_param ? "\"" : "", ppt_param ? ppt_param : "missing",
                        ppt_param ? "\"" : "", ppt);
    if ((info = sw_identity_info(id)) == NULL)
        return swi_fail(ctx, SW_ERR_INFO_MISSING, "Identity header has no info=<URL> parameter");
    x5u = sw_passport_x5u(pp);
    if (x5u == NULL || strcmp(x5u, info) != 0)
        return swi_fail(ctx, SW_ERR_X5U_MISMATCH, "PASSporT x5u %s%s%s differs from info <%s>",
                        x5u ? "\"" : "", x5u ? x5u : "is missing", x5u ? "\"" : "", info);
    return SW_OK;
}

static sw_err check_iat(sw_ctx *ctx, const sw_passport *pp)
{
    const json_t *iat = json_object_get(pp->payload, "iat");
    int64_t now = sw_ctx_now(ctx), t;

    if (!json_is_integer(iat) || json_integer_value(iat) <= 0)
        return swi_fail(ctx, SW_ERR_IAT_MISSING,
                        "PASSporT iat is missing or not a positive "
                        "integer");
    t = (int64_t)json_integer_value(iat);
    if (t < now && now - t > ctx->max_age)
        return swi_fail(ctx, SW_ERR_STALE, "iat %lld is %lld s old, the maximum is %lld s",
                        (long long)t, (long long)(now - t), (long long)ctx->max_age);
    if (t > now && t - now > ctx->future_skew)
        return swi_fail(ctx, SW_ERR_FUTURE,
                        "iat %lld is %lld s in the future, the allowed skew is %lld s",
                        (long long)t, (long long)(t - now), (long long)ctx->future_skew);
    return SW_OK;
}

static sw_err check_claims(sw_ctx *ctx, const sw_passport *pp, const char *orig_tn,
                           const char *dest_tn)
{
    const char *attest = json_string_value(json_object_get(pp->payload, "attest"));
    const char *orig = sw_passport_orig_tn(pp), *origid = sw_passport_origid(pp);
    char want[SW_TN_MAX], have[SW_TN_MAX];
    size_t i, n = sw_passport_dest_tn_count(pp);

    if (attest == NULL || strlen(attest) != 1 || strchr("ABC", attest[0]) == NULL)
        return swi_fail(ctx, SW_ERR_ATTEST, "attest is %s%s%s, expected A, B or C",
                        attest ? "\"" : "", attest ? attest : "missing", attest ? "\"" : "");
    if (orig == NULL || sw_tn_canon(orig, have, sizeof(have)) != SW_OK)
        return swi_fail(ctx, SW_ERR_ORIG_MISSING, "orig.tn is %s",
                        orig ? "not a telephone number" : "missing");
    if (n == 0)
        return swi_fail(ctx, SW_ERR_DEST_MISSING, "dest.tn is missing or an empty list");
    for (i = 0; i < n; i++) {
        const char *d = sw_passport_dest_tn(pp, i);
        if (d == NULL || sw_tn_canon(d, want, sizeof(want)) != SW_OK)
            return swi_fail(ctx, SW_ERR_DEST_MISSING, "dest.tn[%zu] is not a telephone number", i);
    }
    if (origid == NULL || origid[0] == '\0')
        return swi_fail(ctx, SW_ERR_ORIGID_MISSING, "origid claim is missing");

    if (orig_tn != NULL) {
        if (sw_tn_canon(orig_tn, want, sizeof(want)) != SW_OK)
            return swi_fail(ctx, SW_ERR_ORIG_MISMATCH,
                            "calling number \"%.64s\" is not a "
                            "telephone number",
                            orig_tn);
        if (strcmp(want, have) != 0)
            return swi_fail(ctx, SW_ERR_ORIG_MISMATCH, "orig.tn %s is not the calling number %s",
                            have, want);
    }
    if (dest_tn != NULL) {
        if (sw_tn_canon(dest_tn, want, sizeof(want)) != SW_OK)
            return swi_fail(ctx, SW_ERR_DEST_MISMATCH,
                            "called number \"%.64s\" is not a "
                            "telephone number",
                            dest_tn);
        for (i = 0; i < n; i++) {
            if (sw_tn_canon(sw_passport_dest_tn(pp, i), have, sizeof(have)) == SW_OK &&
                strcmp(want, have) == 0)
                break;
        }
        if (i == n)
            return swi_fail(ctx, SW_ERR_DEST_MISMATCH,
                            "dest.tn does not contain the called "
                            "number %s",
                            want);
    }
    return SW_OK;
}

sw_err swi_verify_token(sw_ctx *ctx, const sw_identity *id, const char *orig_tn,
                        const char *dest_tn)
{
    sw_err err;

    ctx->errmsg[0] = '\0';
    if (id == NULL)
        return swi_fail(ctx, SW_ERR_IDENTITY_MISSING, "no Identity to verify");
    if (id->compact && !id->claims_set)
        return swi_fail(ctx, SW_ERR_IDENTITY_MALFORMED,
                        "compact form: the claims must first be rebuilt from the SIP message");
    if ((err = check_header(ctx, id)) != SW_OK || (err = check_iat(ctx, id->pp)) != SW_OK ||
        (err = check_claims(ctx, id->pp, orig_tn, dest_tn)) != SW_OK)
        return err;
    return SW_OK;
}

sw_err sw_verify(sw_ctx *ctx, const sw_identity *id, const sw_pubkey *pub, const char *orig_tn,
                 const char *dest_tn)
{
    sw_err err;

    if (ctx == NULL)
        return SW_ERR_INVAL;
    if ((err = swi_verify_token(ctx, id, orig_tn, dest_tn)) != SW_OK)
        return err;
    if (pub == NULL)
        return swi_fail(ctx, SW_ERR_CERT_UNAVAILABLE, "no key or certificate to verify with");
    return swi_es256_verify(ctx, pub->pkey, id->signing_input, id->signing_input_len, id->sig);
}

sw_err sw_verify_header(sw_ctx *ctx, const char *value, size_t len, const sw_pubkey *pub,
                        const char *orig_tn, const char *dest_tn)
{
    sw_identity *id;
    sw_err err;

    if ((err = sw_identity_parse(ctx, value, len, &id)) != SW_OK)
        return err;
    err = sw_verify(ctx, id, pub, orig_tn, dest_tn);
    sw_identity_free(id);
    return err;
}
