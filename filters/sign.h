/*
 * sign.h - what the daemon may ask a configured `sign` filter, beside the filter
 * interface: its x5u, key and sign.cert, for the checks made once at start (does the x5u
 * serve sign.cert? does sign.cert expire soon?), which configure() cannot make (it must
 * not block on the network, and it has no channel for warnings).
 *
 * Rule: read-only; what it hands out is borrowed from the state, which lives as long as
 * the configuration that holds it (take a reference to that).
 */
#ifndef SW_FILTERS_SIGN_H
#define SW_FILTERS_SIGN_H

#include "../src/core/filter.h"

extern const struct swf_filter swf_sign;

struct swf_sign_info {
    const char *x5u;       /* the https URL put in every Identity's info */
    const sw_key *key;     /* the signing key */
    const sw_cert *cert;   /* sign.cert, NULL when not configured */
    const char *cert_path; /* its file, NULL when not configured */
};

/* Fills out from state when f is the sign filter: 0, or -1 (another filter, no state). */
int swf_sign_info(const struct swf_filter *f, const void *state, struct swf_sign_info *out);

/*
 * 1 when a PASSporT signed with key verifies with cert's public key (so the key is the
 * certificate's), 0 when it does not, -1 when signing failed. Signs at sw_ctx_now(ctx).
 */
int swf_sign_key_matches(sw_ctx *ctx, const sw_key *key, const sw_cert *cert);

#endif /* SW_FILTERS_SIGN_H */
