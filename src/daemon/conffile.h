/*
 * conffile.h - stirwired's configuration file: one libconfig file (etc/stirwire.conf
 * documents every setting) read into the struct sw_config of src/core/conf.h.
 *
 * (Named conffile.h, not config.h, so that it is never mistaken for autoconf's.)
 *
 * Rule (relayd): the file is parsed once, fully validated, and only then used; every
 * error is reported, each at its own FILE:LINE, filters' settings included.
 */
#ifndef SW_DAEMON_CONFFILE_H
#define SW_DAEMON_CONFFILE_H

#include <stddef.h>

#include "../core/conf.h"

/*
 * Loads and validates path. svc (may be NULL) is what the filters get as process-wide
 * services. On success returns 0 and *out (one reference: sw_config_unref). On failure
 * returns -1 and writes every error found, one per line, as "FILE:LINE: message", into
 * errs.
 */
int sw_config_load(const char *path, struct sw_services *svc, struct sw_config **out, char *errs,
                   size_t errlen);

/*
 * Applies cfg's verifier group to the services' one verifier (made here when a verify
 * filter has not made it yet): the fetch policy and limits, then the trust anchors and
 * CRLs, dropped and read again from their files. The verifier and its certificate cache
 * stay. Call it once the whole configuration is valid (after sw_config_load succeeded),
 * with running the configuration in force (NULL at start): the cache size, cache_dir and
 * tls_ca_file cannot change while the verifier runs, and a change to them is reported as
 * waiting for a restart. Writes what it reports, one line each, into msgs (may be NULL).
 * Returns 0, or -1 when something could not be applied (a trust file that changed since
 * the check; out of memory): the verifier then holds what could be loaded.
 */
int sw_config_apply_verifier(const struct sw_config *cfg, const struct sw_config *running,
                             struct sw_services *svc, char *msgs, size_t len);

#endif /* SW_DAEMON_CONFFILE_H */
