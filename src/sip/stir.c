/*
 * stir.c - judges a SIP request's Identity headers (RFC 8224 section 6.2, ATIS-1000074,
 * RFC 8946 for div); see stir.h for the contract the verify filter and the tool share.
 *
 * The order is DESIGN.md's "Verification, in order", cheap first: count the Identity
 * headers (none: 428), read the calling number (none: No-TN-Validation, unless the caller
 * verifies anonymous calls), parse every header and pick the shaken one, check the Date
 * header, refuse a compact shaken token, and only then hand the token to libstirwire,
 * whose own order puts the certificate fetch after every check of the token. Nothing
 * here may log, print or keep state: two callers must get the same verdict for the same
 * bytes, and the result is plain data a parked job can keep.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fields.h"
#include "stir.h"

void stir_opts_init(struct stir_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dest_ruri = 0;
    o->date = STIR_DATE_CHECK;
    o->date_max_age = 60;
    o->date_future_skew = 5;
    o->anonymous_is_verified = 0;
}

/* What a parsed Identity header is, by its ppt (JWT header or ppt parameter). */
enum kind { K_SHAKEN, K_DIV, K_BASE, K_OTHER };

static int str_is(const char *s, const char *want)
{
    return s != NULL && strcmp(s, want) == 0;
}

/*
 * Either ppt saying "shaken" makes the header the shaken candidate: whether the two agree
 * is the library's check (RFC 8224 section 4), and a mismatch must come out as its 438,
 * not as "no shaken Identity". A base PASSporT (no ppt anywhere, RFC 8225) is the RFC
 * 8224 default; it is verified only when no shaken one is there (and then fails on ppt).
 */
static enum kind classify(const sw_identity *id)
{
    const char *h = sw_passport_ppt(sw_identity_passport(id)), *p = sw_identity_ppt_param(id);

    if (str_is(h, "shaken") || str_is(p, "shaken"))
        return K_SHAKEN;
    if (str_is(h, "div") || str_is(p, "div"))
        return K_DIV;
    if (h == NULL && p == NULL)
        return K_BASE;
    return K_OTHER;
}

/* Copies s into a fixed buffer of the result, cut to fit; "" for NULL. */
static void copy_str(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s != NULL ? s : "");
}

static sw_err fail(struct stir_result *r, sw_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records our own verdict (not the library's) with its detail. */
static sw_err fail(struct stir_result *r, sw_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->err = err;
    return err;
}

/*
 * Notes a div PASSporT's orig.tn and div.tn as written (RFC 8946 section 3: "div":{"tn":
 * ...}). Only the first div is reported; it is never verified here, only shown beside
 * the shaken verdict.
 */
static void note_div(struct stir_result *r, const sw_identity *id)
{
    const sw_passport *pp = sw_identity_passport(id);
    const char *json = sw_passport_payload_json(pp);
    json_t *payload, *tn;

    if (r->has_div)
        return;
    r->has_div = 1;
    copy_str(r->div_orig, sizeof(r->div_orig), sw_passport_orig_tn(pp));
    if (json == NULL || (payload = json_loads(json, 0, NULL)) == NULL)
        return;
    tn = json_object_get(json_object_get(payload, "div"), "tn");
    if (json_is_array(tn))
        tn = json_array_get(tn, 0);
    copy_str(r->div_tn, sizeof(r->div_tn), json_string_value(tn));
    json_decref(payload);
}

/*
 * The Date header against now (RFC 8224 section 6.2.1 step 1; the same bounds as iat).
 * SW_OK, DATE_STALE (old, in the future or unreadable) or DATE_MISSING (under REQUIRE).
 */
static sw_err check_date(const struct sip_msg *m, const struct stir_opts *o, int64_t now,
                         struct stir_result *r)
{
    const struct sip_hdr *h = sip_hdr_find(m, SH_DATE, 0);
    int64_t t;

    if (o->date == STIR_DATE_IGNORE)
        return SW_OK;
    if (h == NULL)
        return o->date == STIR_DATE_REQUIRE
                   ? fail(r, SW_ERR_DATE_MISSING, "the request has no Date header")
                   : SW_OK;
    if ((t = sip_date_parse(m, h)) < 0)
        /* the value is not NUL-terminated: its length bounds what is printed */
        return fail(r, SW_ERR_DATE_STALE,
                    "Date header \"%.*s%s\" is not an RFC 1123 date in GMT "
                    "(\"Tue, 14 Nov 2023 22:13:20 GMT\")",
                    (int)(h->value_len > 64 ? 64 : h->value_len), m->buf + h->value_off,
                    h->value_len > 64 ? "..." : "");
    if (t < now && now - t > o->date_max_age)
        return fail(r, SW_ERR_DATE_STALE, "Date header is %lld s old, the maximum is %lld s",
                    (long long)(now - t), (long long)o->date_max_age);
    if (t > now && t - now > o->date_future_skew)
        return fail(r, SW_ERR_DATE_STALE,
                    "Date header is %lld s in the future, the allowed skew is %lld s",
                    (long long)(t - now), (long long)o->date_future_skew);
    return SW_OK;
}

/*
 * A compact base PASSporT carries no claims: they are rebuilt from the request (RFC 8224
 * section 5.2.1): orig.tn from the calling number, dest.tn from the called number, iat
 * from Date. Without a Date, iat cannot be rebuilt: DATE_MISSING.
 */
static sw_err rebuild_claims(sw_ctx *ctx, const struct sip_msg *m, sw_identity *id,
                             struct stir_result *r)
{
    int64_t iat = sip_date_parse(m, sip_hdr_find(m, SH_DATE, 0));
    sw_passport *pp;
    sw_err err = SW_OK;

    if (iat <= 0)
        return fail(r, SW_ERR_DATE_MISSING,
                    "compact form: iat is rebuilt from the Date header, and the request has "
                    "no valid one");
    if ((pp = sw_passport_new()) == NULL)
        return fail(r, SW_ERR_NOMEM, "out of memory");
    if (r->orig[0] != '\0')
        err = sw_passport_set_orig_tn(pp, r->orig);
    if (err == SW_OK && r->dest[0] != '\0')
        err = sw_passport_add_dest_tn(pp, r->dest);
    if (err == SW_OK)
        err = sw_passport_set_iat(pp, iat);
    if (err != SW_OK)
        fail(r, err, "compact form: the claims cannot be rebuilt: %s", sw_strerror(err));
    else if ((err = sw_identity_set_claims(ctx, id, pp)) != SW_OK)
        fail(r, err, "compact form: %s", sw_errmsg(ctx));
    sw_passport_free(pp);
    return err;
}

/* The chosen header's values, for the result (after a rebuild, the rebuilt ones). */
static void note_chosen(struct stir_result *r, const sw_identity *id)
{
    const sw_passport *pp = sw_identity_passport(id);
    char a = sw_passport_attest(pp);

    r->attest = (a == 'A' || a == 'B' || a == 'C') ? a : 0;
    copy_str(r->origid, sizeof(r->origid), sw_passport_origid(pp));
    copy_str(r->x5u, sizeof(r->x5u), sw_identity_info(id));
    r->iat = sw_passport_iat(pp);
    r->compact = sw_identity_is_compact(id);
}

/*
 * Parses every Identity header, notes a div, and keeps the chosen one in *chosen: the
 * first shaken one, else the first base PASSporT. With none, the verdict is
 * IDENTITY_MISSING (428), except that a request whose only Identity header is malformed
 * gets that header's own error (438): its sender meant to sign and got it wrong.
 */
static sw_err choose(sw_ctx *ctx, const struct sip_msg *m, struct stir_result *r,
                     sw_identity **chosen)
{
    const struct sip_hdr *h;
    sw_identity *id, *base = NULL;
    int base_index = -1, malformed = 0, divs = 0;
    sw_err err, first_err = SW_OK;
    char first_detail[STIR_DETAIL_MAX] = "";
    size_t n;

    *chosen = NULL;
    for (n = 0; (h = sip_hdr_find(m, SH_IDENTITY, n)) != NULL; n++) {
        /*
         * One header line is one value: RFC 8224's Identity has no comma-separated list
         * (a comma is no base64url character, so a list would fail to parse anyway).
         * Folded lines need no unfolding: the library takes CR and LF as white space
         * around the parameters, which is where RFC 3261 lets a line fold.
         */
        if ((err = sw_identity_parse(ctx, m->buf + h->value_off, h->value_len, &id)) != SW_OK) {
            if (err == SW_ERR_NOMEM)
                return fail(r, err, "out of memory");
            if (malformed++ == 0) {
                first_err = err;
                copy_str(first_detail, sizeof(first_detail), sw_errmsg(ctx));
            }
            continue;
        }
        switch (classify(id)) {
        case K_SHAKEN:
            if (*chosen == NULL) {
                *chosen = id;
                r->chosen = (int)n;
                continue;
            }
            break;
        case K_DIV:
            divs++;
            note_div(r, id);
            break;
        case K_BASE:
            if (base == NULL) {
                base = id;
                base_index = (int)n;
                continue;
            }
            break;
        case K_OTHER:
            break;
        }
        sw_identity_free(id);
    }
    if (*chosen != NULL) {
        sw_identity_free(base);
        return SW_OK;
    }
    if (base != NULL) {
        *chosen = base;
        r->chosen = base_index;
        return SW_OK;
    }
    if (r->identities == 1 && malformed == 1)
        return fail(r, first_err, "%s", first_detail);
    if (divs > 0 && divs == r->identities)
        return fail(r, SW_ERR_IDENTITY_MISSING,
                    "only a div PASSporT (RFC 8946), no shaken one to verify");
    if (malformed > 0)
        return fail(r, SW_ERR_IDENTITY_MISSING,
                    "%d Identity headers, none with ppt shaken (%d malformed; the first: %s)",
                    r->identities, malformed, first_detail);
    return fail(r, SW_ERR_IDENTITY_MISSING, "%d Identity header%s, none with ppt shaken",
                r->identities, r->identities == 1 ? "" : "s");
}

/* The verdict's derived fields, once err is final. */
static sw_err finish(struct stir_result *r, sw_ctx *ctx, sw_err err, int from_library)
{
    r->err = err;
    r->verstat = err == SW_ERR_PENDING ? NULL : sw_err_verstat(err);
    if (from_library)
        copy_str(r->detail, sizeof(r->detail), err == SW_OK ? "" : sw_errmsg(ctx));
    return err;
}

sw_err stir_verify(sw_ctx *ctx, sw_verifier *v, const sw_pubkey *pub, const struct sip_msg *m,
                   const struct stir_opts *o, int wait, struct stir_result *r)
{
    struct stir_opts defaults;
    sw_identity *id = NULL;
    const char *orig, *dest;
    sw_err err;

    if (r == NULL)
        return SW_ERR_INVAL;
    memset(r, 0, sizeof(*r));
    r->chosen = -1;
    if (ctx == NULL || m == NULL || !m->is_request) {
        fail(r, SW_ERR_INVAL, "%s",
             m == NULL || ctx == NULL ? "no context or message" : "a response, not a request");
        return finish(r, ctx, SW_ERR_INVAL, 0);
    }
    if (o == NULL) {
        stir_opts_init(&defaults);
        o = &defaults;
    }

    /* The numbers first: every verdict reports them, and they cost no allocation. */
    if (sip_orig_number(m, r->orig, sizeof(r->orig)) != 0) {
        r->orig[0] = '\0';
        r->no_number = 1;
    }
    if (sip_dest_number(m, o->dest_ruri, r->dest, sizeof(r->dest)) != 0)
        r->dest[0] = '\0';
    while (sip_hdr_find(m, SH_IDENTITY, (size_t)r->identities) != NULL)
        r->identities++;

    if (r->identities == 0) {
        fail(r, SW_ERR_IDENTITY_MISSING, "the request has no Identity header");
        return finish(r, ctx, r->err, 0);
    }
    /* ATIS-1000074: no calling number, nothing to validate; no token is looked at. */
    if (r->no_number && !o->anonymous_is_verified) {
        fail(r, SW_ERR_NO_TN,
             "the request has no calling telephone number "
             "(P-Asserted-Identity or From)");
        return finish(r, ctx, r->err, 0);
    }
    if ((err = choose(ctx, m, r, &id)) != SW_OK)
        return finish(r, ctx, err, 0);
    note_chosen(r, id);
    if ((err = check_date(m, o, sw_ctx_now(ctx), r)) != SW_OK)
        goto own;
    if (sw_identity_is_compact(id)) {
        /* attest and origid are in no SIP header: ATIS-1000074 requires the full form. */
        if (classify(id) == K_SHAKEN) {
            err = fail(r, SW_ERR_COMPACT_SHAKEN,
                       "attest and origid are in no SIP header; ATIS-1000074 requires the "
                       "full form");
            goto own;
        }
        if ((err = rebuild_claims(ctx, m, id, r)) != SW_OK)
            goto own;
        note_chosen(r, id);
    }

    /*
     * With no calling number (verified anyway by the caller's choice) "" is passed, not
     * NULL: NULL would skip the orig check and let any orig.tn through. Likewise dest.
     */
    orig = r->orig;
    dest = r->dest;
    if (pub != NULL) {
        err = sw_verify(ctx, id, pub, orig, dest);
    } else if (v == NULL) {
        err = sw_verify(ctx, id, NULL, orig, dest);
    } else if (sw_identity_info(id) != NULL && strlen(sw_identity_info(id)) >= sizeof(r->x5u)) {
        /* The caller waits on r->x5u for a PENDING fetch: it must be the whole URL. */
        err = fail(r, SW_ERR_CERT_URL, "info URL is longer than %d bytes", STIR_X5U_MAX - 1);
        goto own;
    } else {
        err = wait ? sw_verify_identity_wait(ctx, v, id, orig, dest)
                   : sw_verify_identity(ctx, v, id, orig, dest, NULL, NULL);
        copy_str(r->spc, sizeof(r->spc), sw_ctx_last_spc(ctx));
    }
    sw_identity_free(id);
    finish(r, ctx, err, 1);
    if (err == SW_ERR_ORIG_MISMATCH && r->no_number)
        fail(r, err, "the request has no calling telephone number to match orig.tn");
    return err;

own:
    sw_identity_free(id);
    return finish(r, ctx, err, 0);
}
