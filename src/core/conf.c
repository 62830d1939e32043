/*
 * conf.c - the reference-counted configuration and the shared services (see conf.h).
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../http/server.h" /* struct sw_http_conf, struct sw_api: freed here */
#include "conf.h"

static int64_t system_clock(void)
{
    return (int64_t)time(NULL);
}

void sw_services_init(struct sw_services *svc)
{
    svc->verifier = NULL;
    svc->clock = system_clock;
}

sw_verifier *sw_services_verifier(struct sw_services *svc)
{
    /* made on the loader's thread (configure() runs there), so no lock is needed */
    if (svc->verifier == NULL)
        svc->verifier = sw_verifier_new();
    return svc->verifier;
}

void sw_services_clear(struct sw_services *svc)
{
    sw_verifier_free(svc->verifier);
    svc->verifier = NULL;
}

struct sw_config *sw_config_new(void)
{
    struct sw_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL)
        return NULL;
    atomic_init(&cfg->refs, 1);
    cfg->max_parked = SW_DEFAULT_MAX_PARKED;
    cfg->tcp_max_connections = SW_DEFAULT_TCP_MAX_CONNECTIONS;
    cfg->tcp_max_per_source = SW_DEFAULT_TCP_MAX_PER_SOURCE;
    cfg->tcp_partial_timeout = SW_DEFAULT_TCP_PARTIAL_TIMEOUT;
    sw_dns_defaults(&cfg->dns);
    /* the library's defaults (stirwire.h, sw_opt), so that a file without a verifier
     * group, loaded on reload, puts them back */
    cfg->verifier.connect_timeout_ms = 2000;
    cfg->verifier.timeout_ms = 4000;
    cfg->verifier.max_bytes = 32768;
    cfg->verifier.cache_entries = 4096;
    cfg->verifier.min_ttl = 86400;
    cfg->verifier.negative_ttl = 30;
    cfg->verifier.crl_fetch = 1;
    return cfg;
}

struct sw_config *sw_config_ref(struct sw_config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void sw_config_unref(struct sw_config *cfg)
{
    size_t i;

    if (cfg == NULL || atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (cfg->on_free != NULL)
        cfg->on_free(cfg);
    for (i = 0; i < cfg->ntrunks; i++)
        sw_trunk_clear(&cfg->trunks[i]);
    free(cfg->trunks);
    free(cfg->verifier.ca_file);
    free(cfg->verifier.ca_dir);
    free(cfg->verifier.cache_dir);
    free(cfg->verifier.tls_ca_file);
    free(cfg->verifier.allow_networks);
    for (i = 0; i < cfg->verifier.ncrl_files; i++)
        free(cfg->verifier.crl_files[i]);
    free(cfg->http); /* plain data */
    if (cfg->tap != NULL) {
        for (i = 0; i < cfg->tap->n; i++) {
            free(cfg->tap->src[i].name);
            free(cfg->tap->src[i].filter);
            free(cfg->tap->src[i].auth_key);
        }
        free(cfg->tap);
    }
    if (cfg->api != NULL) {
        sw_key_free(cfg->api->sign_key);
        free(cfg->api->sign_x5u);
        sw_pubkey_free(cfg->api->check_key);
        if (cfg->api->pub_dirfd >= 0)
            close(cfg->api->pub_dirfd);
        free(cfg->api);
    }
    free(cfg->path);
    free(cfg->pid_file);
    free(cfg->user);
    free(cfg);
}

const struct sw_trunk *sw_config_match(const struct sw_config *cfg, const struct sockaddr *src,
                                       const char *ruri_host)
{
    if (cfg == NULL || src == NULL)
        return NULL;
    return sw_trunk_match(cfg->trunks, cfg->ntrunks, src, ruri_host);
}
