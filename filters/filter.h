/*
 * filter.h - what a filter is: one descriptor per file in filters/.
 *
 * A trunk lists its chain in the config (filters = [ "sign" ]); the proxy runs the
 * request hooks in that order on each request from the trunk, and the response hooks on
 * responses. A filter reads its own settings once (configure), is read-only while
 * traffic flows (a reload builds new filter states beside the old ones and swaps whole
 * chains), and keeps per-message state only in the swf_call it is given. A filter that
 * has nothing to do answers SWF_CONTINUE. Filters never send, print or exit: they edit
 * (through call->edits), answer (SWF_REPLY with a status), drop, or wait.
 */
#ifndef SW_FILTER_H
#define SW_FILTER_H

#include <libconfig.h>
#include <stddef.h>

#include "../src/lib/stirwire.h"
#include "../src/sip/sipmsg.h"
#include "../src/sip/splice.h"

struct sw_trunk;

typedef enum {
    SWF_CONTINUE, /* go on with the next filter, then forward */
    SWF_REPLY,    /* answer the request with call->reply_status (requests only) */
    SWF_DROP,     /* drop the message silently (counted and logged by the proxy) */
    SWF_WAIT,     /* a certificate is being fetched: the proxy parks the message */
} swf_result;

/* One message passing through a chain. */
struct swf_call {
    const struct sip_msg *msg;    /* as received */
    struct sip_edits *edits;      /* where a filter writes its changes */
    sw_ctx *ctx;                  /* the worker's libstirwire context */
    const struct sw_trunk *trunk; /* the trunk the message came from */
    int64_t now;                  /* wall clock, seconds */
    /* for SWF_REPLY */
    int reply_status;
    char reply_reason[64];
    char reply_headers[512]; /* extra header lines, each ending in CRLF (e.g. Reason:) */
    /* one line saying what the filter did, for the debug log ("signed attest A ...") */
    char note[256];
};

struct swf_filter {
    const char *name;
    /*
     * Reads the filter's settings from the trunk's group (the filter's own subgroup is
     * usually config_setting_get_member(trunk, name)). On error writes a message naming
     * the setting into err and returns -1; the loader adds the file name and line.
     * *state may stay NULL for a filter without settings.
     */
    int (*configure)(const config_setting_t *trunk, void **state, char *err, size_t errlen);
    swf_result (*request)(void *state, struct swf_call *call);  /* may be NULL */
    swf_result (*response)(void *state, struct swf_call *call); /* may be NULL */
    void (*free)(void *state);                                  /* may be NULL */
};

/* The registry (filters/registry.c): every filter, by name. */
const struct swf_filter *swf_lookup(const char *name);
/* Names of all filters, NULL-terminated, for error messages ("known: sign, strip"). */
const char *const *swf_names(void);

#endif /* SW_FILTER_H */
