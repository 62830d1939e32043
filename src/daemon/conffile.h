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

#endif /* SW_DAEMON_CONFFILE_H */
