/*
 * ctx.c - the per-thread context: verification settings, the last error's detail,
 * and OpenSSL contexts prepared once per key.
 *
 * A context is used by one thread at a time; nothing in it is shared, so no locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw_int.h"

/* ATIS-1000074 recommends rejecting a PASSporT whose iat is over a minute old. */
#define SW_DEFAULT_MAX_AGE 60
/* Clocks of well-run carriers agree within a second or two; a few seconds covers NTP drift. */
#define SW_DEFAULT_FUTURE_SKEW 5

sw_ctx *sw_ctx_new(void)
{
    sw_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->max_age = SW_DEFAULT_MAX_AGE;
    ctx->future_skew = SW_DEFAULT_FUTURE_SKEW;
    return ctx;
}

void sw_ctx_free(sw_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_PKEY_CTX_free(ctx->sign_pctx);
    EVP_PKEY_free(ctx->sign_pkey);
    EVP_PKEY_CTX_free(ctx->verify_pctx);
    EVP_PKEY_free(ctx->verify_pkey);
    EVP_MD_CTX_free(ctx->mdctx);
    EVP_MD_free(ctx->sha256);
    OPENSSL_cleanse(ctx->rnd, sizeof(ctx->rnd));
    free(ctx->hdr_b64);
    json_decref(ctx->hdr_json);
    free(ctx);
}

const char *sw_errmsg(const sw_ctx *ctx)
{
    return ctx == NULL ? "" : ctx->errmsg;
}

void sw_ctx_set_max_age(sw_ctx *ctx, int64_t seconds)
{
    if (ctx != NULL && seconds >= 0)
        ctx->max_age = seconds;
}

void sw_ctx_set_future_skew(sw_ctx *ctx, int64_t seconds)
{
    if (ctx != NULL && seconds >= 0)
        ctx->future_skew = seconds;
}

void sw_ctx_set_now(sw_ctx *ctx, int64_t unix_seconds)
{
    if (ctx != NULL)
        ctx->now = unix_seconds;
}

int64_t sw_ctx_now(const sw_ctx *ctx)
{
    if (ctx != NULL && ctx->now != 0)
        return ctx->now;
    return (int64_t)time(NULL);
}

sw_err swi_fail(sw_ctx *ctx, sw_err err, const char *fmt, ...)
{
    va_list ap;

    if (ctx == NULL)
        return err;
    if (fmt == NULL) {
        snprintf(ctx->errmsg, sizeof(ctx->errmsg), "%s", sw_strerror(err));
        return err;
    }
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
    va_end(ap);
    return err;
}

void swi_wipe_free(void *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}
