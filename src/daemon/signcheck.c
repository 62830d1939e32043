/*
 * signcheck.c - does the x5u serve the certificate we sign for? (see signcheck.h)
 *
 * A signer whose x5u serves another certificate (an old one left on the web server after
 * a renewal, the wrong file) has every call it signs refused with 438 Invalid Identity
 * Header, and nothing on our side would show it. With sign.cert given, configure() has
 * already refused a key that is not the certificate's and an expired certificate; this
 * file does what must not happen in configure(): a warning for a certificate close to
 * its end, and one look at the x5u, on its own thread, after the workers run, so that a
 * slow or dead certificate host never delays the start.
 *
 * The fetch uses a verifier of its own with the library's default policy (https, public
 * addresses, port 443 or 8443, size and time limits), relaxed only where the verifier
 * group relaxes it (apply_fetch_policy): what every verifier applies, so a
 * fetch refused here is refused by them too. It does not ask for a chain to trust anchors
 * (a signer usually has none configured; trust is the terminating side's business): the
 * question is only whether the bytes served are our certificate.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../../filters/sign.h"
#include "../core/log.h"
#include "../core/trunk.h"
#include "../sip/fields.h"
#include "signcheck.h"

int sw_signcheck_expiry(const struct sw_config *cfg, int64_t now, void (*warn)(const char *line))
{
    struct swf_sign_info si;
    char line[1024], when[40];
    size_t t, i;
    int n = 0;

    for (t = 0; t < cfg->ntrunks; t++) {
        const struct sw_trunk *tr = &cfg->trunks[t];
        for (i = 0; i < tr->nchain; i++) {
            int64_t left;
            if (swf_sign_info(tr->chain[i].filter, tr->chain[i].state, &si) != 0 || si.cert == NULL)
                continue;
            left = sw_cert_not_after(si.cert) - now;
            if (left >= SW_SIGNCHECK_WARN_SECS)
                continue;
            sip_date_format(sw_cert_not_after(si.cert), when, sizeof(when));
            snprintf(line, sizeof(line),
                     "trunk \"%s\": sign.cert %s expires on %s (in %lld hours): renew it and "
                     "put the new one at %s",
                     tr->name, si.cert_path, when, (long long)(left / 3600), si.x5u);
            warn(line);
            n++;
        }
    }
    return n;
}

/* The same certificate: our key verifies with it, and the same subject and dates. */
static int same_cert(sw_ctx *ctx, const struct swf_sign_info *si, const sw_cert *got)
{
    return swf_sign_key_matches(ctx, si->key, got) == 1 &&
           sw_cert_not_after(got) == sw_cert_not_after(si->cert) &&
           sw_cert_not_before(got) == sw_cert_not_before(si->cert) &&
           strcmp(sw_cert_subject(got), sw_cert_subject(si->cert)) == 0;
}

/*
 * The operator's fetch policy (the verifier group's allow_* settings, networks, timeouts
 * and TLS CA), so that an x5u the daemon's own verifier may fetch (a lab's x5u on
 * 127.0.0.1 with allow_networks) is checked rather than reported as unfetchable. Trust
 * anchors are not applied: the point is what the URL serves, not whether we trust it.
 */
static void apply_fetch_policy(sw_verifier *v, const struct sw_verifier_conf *vc)
{
    if (!vc->given)
        return;
    sw_verifier_set_long(v, SW_OPT_ALLOW_HTTP, vc->allow_http);
    sw_verifier_set_long(v, SW_OPT_ALLOW_PRIVATE, vc->allow_private);
    sw_verifier_set_long(v, SW_OPT_ALLOW_ANY_PORT, vc->allow_any_port);
    sw_verifier_set_long(v, SW_OPT_ALLOW_QUERY, vc->allow_query);
    sw_verifier_set_long(v, SW_OPT_CONNECT_TIMEOUT_MS, vc->connect_timeout_ms);
    sw_verifier_set_long(v, SW_OPT_TIMEOUT_MS, vc->timeout_ms);
    sw_verifier_set_long(v, SW_OPT_MAX_BYTES, vc->max_bytes);
    if (vc->allow_networks != NULL)
        sw_verifier_set_str(v, SW_OPT_ALLOW_NETS, vc->allow_networks);
    if (vc->tls_ca_file != NULL)
        sw_verifier_set_str(v, SW_OPT_TLS_CA_FILE, vc->tls_ca_file);
}

static void *x5u_main(void *arg)
{
    struct sw_config *cfg = arg;
    struct swf_sign_info si;
    sw_verifier *v = sw_verifier_new();
    sw_ctx *ctx = sw_ctx_new();
    char when[40];
    size_t t, i;
    sw_err e;

    if (v == NULL || ctx == NULL) {
        sw_log(LOG_WARNING, "cannot check the sign filters' x5u: out of memory");
        goto out;
    }
    sw_verifier_set_long(v, SW_OPT_REQUIRE_CHAIN, 0);
    sw_verifier_set_long(v, SW_OPT_CRL_FETCH, 0);
    apply_fetch_policy(v, &cfg->verifier);
    for (t = 0; t < cfg->ntrunks; t++) {
        const struct sw_trunk *tr = &cfg->trunks[t];
        for (i = 0; i < tr->nchain; i++) {
            sw_cert *got = NULL;

            if (swf_sign_info(tr->chain[i].filter, tr->chain[i].state, &si) != 0 || si.cert == NULL)
                continue;
            if ((e = sw_verifier_get_cert_wait(v, ctx, si.x5u, &got)) != SW_OK) {
                sw_log(LOG_WARNING, "trunk \"%s\": cannot fetch x5u %s: %s (%s)", tr->name, si.x5u,
                       sw_strerror(e), sw_errmsg(ctx));
                continue;
            }
            if (same_cert(ctx, &si, got)) {
                sw_log(LOG_INFO, "trunk \"%s\": x5u %s serves sign.cert %s", tr->name, si.x5u,
                       si.cert_path);
            } else {
                sip_date_format(sw_cert_not_after(got), when, sizeof(when));
                sw_log(LOG_WARNING,
                       "trunk \"%s\": x5u %s serves a different certificate than sign.cert %s "
                       "(it serves \"%s\", valid until %s): verifiers will refuse our signatures",
                       tr->name, si.x5u, si.cert_path, sw_cert_subject(got), when);
            }
            sw_cert_free(got);
        }
    }
out:
    sw_ctx_free(ctx);
    sw_verifier_free(v);
    sw_config_unref(cfg);
    return NULL;
}

int sw_signcheck_x5u_start(struct sw_config *cfg)
{
    struct swf_sign_info si;
    pthread_attr_t attr;
    pthread_t th;
    size_t t, i;
    int any = 0, rc;

    for (t = 0; t < cfg->ntrunks && !any; t++)
        for (i = 0; i < cfg->trunks[t].nchain && !any; i++)
            any = swf_sign_info(cfg->trunks[t].chain[i].filter, cfg->trunks[t].chain[i].state,
                                &si) == 0 &&
                  si.cert != NULL;
    if (!any)
        return 0; /* no sign.cert anywhere: no thread */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &attr, x5u_main, sw_config_ref(cfg));
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        sw_config_unref(cfg);
        sw_log(LOG_WARNING, "cannot start the x5u check: %s", strerror(rc));
        return -1;
    }
    return 0;
}
