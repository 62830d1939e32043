/*
 * stir.h - verifying a SIP request's Identity headers (RFC 8224 section 6.2,
 * ATIS-1000074), as the verify filter and "stirwire check --sip" share it.
 *
 * One function, stir_verify(), judges a whole request: it considers every Identity (and
 * compact y:) header, picks the one whose ppt is "shaken", reports a "div" PASSporT
 * (RFC 8946) beside it without mistaking it for the shaken one, checks the Date header,
 * reads the calling number (P-Asserted-Identity, else From) and the called number (To,
 * or the Request-URI) in canonical form, and runs libstirwire's verification (token
 * checks first, then the certificate, then the signature over the received bytes).
 * The filter and the tool call it with the same options, so they cannot disagree.
 *
 * Rules: nothing here sends, prints, exits or logs; the only allocations are the
 * library's parse of each Identity header (freed before returning). The result is
 * plain data, copied into fixed buffers, so a filter may keep it in a parked job.
 */
#ifndef SW_SIP_STIR_H
#define SW_SIP_STIR_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/stirwire.h"
#include "sipmsg.h"

/* How the Date header is treated (RFC 8224 section 6.2.1 step 1). */
enum stir_date_mode {
    STIR_DATE_CHECK,   /* when present it must be fresh; a missing Date is fine (default) */
    STIR_DATE_REQUIRE, /* it must be present and fresh: a missing one is DATE_MISSING */
    STIR_DATE_IGNORE,  /* not looked at */
};

/* What the caller decides; stir_opts_init() gives the defaults. */
struct stir_opts {
    int dest_ruri;             /* called number from the Request-URI instead of To (0) */
    enum stir_date_mode date;  /* STIR_DATE_CHECK */
    int64_t date_max_age;      /* seconds a Date may lie in the past (60) */
    int64_t date_future_skew;  /* seconds a Date may lie in the future (5) */
    int anonymous_is_verified; /* 0 (default): a call with no calling telephone number is
                                  NO_TN (No-TN-Validation) before any token is looked at;
                                  1: its token is verified like any other */
};

/* Fills o with the defaults above. */
void stir_opts_init(struct stir_opts *o);

#define STIR_X5U_MAX 512
#define STIR_DETAIL_MAX 256

/* The verdict, plain data. Strings are "" when unknown. */
struct stir_result {
    sw_err err;                   /* SW_OK, SW_ERR_PENDING (see stir_verify), or the failure */
    const char *verstat;          /* sw_err_verstat(err): a static string; NULL while PENDING */
    char detail[STIR_DETAIL_MAX]; /* why, in words (sw_errmsg of the deciding step) */
    int identities;               /* Identity / y: header values in the request */
    int chosen;                   /* index (0-based, header order) of the shaken one, -1 if none */
    int compact;                  /* the chosen one is in compact form */
    int no_number;                /* the request has no usable calling telephone number */
    char attest;                  /* from the chosen PASSporT: 'A', 'B', 'C', or 0 */
    char orig[SW_TN_MAX];         /* the calling number of the request, canonical */
    char dest[SW_TN_MAX];         /* the called number of the request, canonical */
    char origid[40];              /* the PASSporT's origid */
    char x5u[STIR_X5U_MAX];       /* the chosen header's info URL (the certificate to fetch) */
    char spc[64];                 /* the certificate's SPC, once it was used */
    int64_t iat;                  /* the PASSporT's iat, 0 when unknown */
    int has_div;                  /* a div PASSporT (RFC 8946) was present */
    char div_orig[SW_TN_MAX];     /* its orig.tn and div.tn, as written */
    char div_tn[SW_TN_MAX];
};

/*
 * Verifies request m at sw_ctx_now(ctx) (set the context's max age and skew for iat).
 * The certificate comes from pub when it is not NULL (no certificate checks: the CLI's
 * --key), else from v: with wait = 1 the call blocks until a fetch ends (the CLI); with
 * wait = 0 a certificate that is not cached starts its fetch (no callback) and the result
 * is SW_ERR_PENDING with r->x5u set: the caller waits for it with
 * sw_verifier_get_cert(v, ctx, r->x5u, cb, arg, ...) and calls stir_verify again.
 * Returns r->err. m must be a request; a response is SW_ERR_INVAL.
 */
sw_err stir_verify(sw_ctx *ctx, sw_verifier *v, const sw_pubkey *pub, const struct sip_msg *m,
                   const struct stir_opts *o, int wait, struct stir_result *r);

#endif /* SW_SIP_STIR_H */
