/*
 * filter.h - what a filter is (interface version 2): one descriptor per file in filters/,
 * and the few calls a filter makes back into the engine.
 *
 * A trunk lists its chain in the config (filters = [ "verify", "strip" ]); the pipeline
 * (pipeline.h) runs the request hooks in that order on each request from the trunk, and
 * the response hooks on responses. A filter:
 *  - reads its own settings once, in configure(), through the swf_get_* readers, which
 *    report each error at the setting's own FILE:LINE into the loader's one error list;
 *  - is read-only while traffic flows (a reload builds new filter states beside the old
 *    ones and swaps whole configurations);
 *  - keeps per-message state only in what it is handed: its slot, the verdict, the edits;
 *  - counts what it does in its own counters (named in the descriptor), never in prose;
 *  - never sends, prints or exits: it edits (call->edits), answers (SWF_REPLY with a
 *    status), drops, or waits.
 *
 * Waiting: a filter that must wait for asynchronous work (a certificate fetch) calls
 * swf_park(call), which copies the message into an owned job, starts its asynchronous
 * work with the token it gets, and returns SWF_WAIT. When the work ends, from any thread,
 * it calls swf_wake(token); the worker then runs the chain again from this filter, with
 * the same slot and verdict, and the filter finds its result (in the cache, or in its
 * slot). swf_park returns NULL when the message cannot be parked (the worker's max_parked
 * is reached, or the caller cannot park at all): the filter then applies its fail policy.
 */
#ifndef SW_CORE_FILTER_H
#define SW_CORE_FILTER_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../lib/stirwire.h"
#include "../sip/sipmsg.h"
#include "../sip/splice.h"
#include "cfgread.h"

struct sw_trunk;
struct sw_services;

#define SWF_MAX_FILTERS 16  /* filters in the registry */
#define SWF_MAX_COUNTERS 16 /* counters a filter may have (verify has 13) */
#define SWF_SLOT_BYTES 128  /* per-message state a filter may keep (its slot) */

typedef enum {
    SWF_CONTINUE, /* go on with the next filter, then forward */
    SWF_REPLY,    /* answer the request with call->reply_status (requests only) */
    SWF_DROP,     /* drop the message (counted and logged by the engine) */
    SWF_WAIT,     /* parked with swf_park(): the chain resumes here after swf_wake() */
} swf_result;

/*
 * The typed verdict about the message's PASSporT: written by the filter that signs or
 * verifies, read by those after it (verstat, audit) and by the engine's counters.
 */
struct swf_verdict {
    int set;         /* 1 once a filter wrote it */
    int signed_here; /* 1: we added this PASSporT (sign), 0: it came with the message */
    char attest;     /* 'A', 'B', 'C', or 0 when unknown */
    char orig[SW_TN_MAX];
    char dest[SW_TN_MAX];
    char origid[40]; /* UUID, "" when unknown */
    char x5u[512];   /* "" when unknown */
    char spc[64];    /* SPC of the signer's certificate, "" when unknown */
    sw_err err;      /* SW_OK, or why the PASSporT is bad / could not be made */
    /* written by verify (src/sip/stir.h has the meaning of each) */
    int verified;        /* 1: a verify filter judged this message */
    const char *verstat; /* ATIS-1000074 value (static string), NULL when not judged */
    int64_t iat;         /* the PASSporT's iat, 0 when unknown */
    int identities;      /* Identity headers in the message */
    int identity_index;  /* header-order index of the Identity judged (stir.h's chosen), -1 */
    int has_div;         /* a div PASSporT (RFC 8946) came with it */
    char div_tn[SW_TN_MAX];
    int rejected;     /* verify answered the request with reply_status */
    int tagged_open;  /* the certificate could not be had and the trunk fails open */
    int pass_only;    /* the trunk's verify policy is "pass": observe, tag nothing */
    char detail[160]; /* why, in words ("" when valid) */
};

/* One message passing through a chain, as a filter sees it. */
struct swf_call {
    const struct sip_msg *msg;    /* as received */
    struct sip_edits *edits;      /* where a filter writes its changes */
    sw_ctx *ctx;                  /* the worker's libstirwire context */
    const struct sw_trunk *trunk; /* the trunk the message came from */
    const struct sockaddr *src;   /* where it came from (the peer, or the capture's source) */
    socklen_t srclen;
    int transport; /* SW_UDP or SW_TCP */
    int64_t now;   /* seconds: the socket's clock, or a packet's capture time in the TAP */
    int observe;   /* 1 in the TAP: nothing will be sent, REPLY only records a verdict */
    struct swf_verdict verdict;
    void *slot;         /* this filter's SWF_SLOT_BYTES, zeroed before its first call */
    uint64_t *counters; /* this filter's counters in the worker's table */
    /* for SWF_REPLY */
    int reply_status;
    char reply_reason[64];
    char reply_headers[512]; /* extra header lines, each ending in CRLF (e.g. Reason:) */
    /* one line saying what the filter did, for the debug log ("signed attest A ...") */
    char note[256];
};

/* What configure() is handed: where its settings are, and the process-wide services. */
struct swf_conf {
    struct sw_cfg_errs *errs;      /* the loader's one error list */
    const config_setting_t *trunk; /* the trunk's group */
    const config_setting_t *group; /* the filter's own group in it, NULL when absent */
    const char *trunk_name;
    const char *filter_name;
    struct sw_services *svc; /* process-wide services; NULL where none are offered */
    size_t errs_before;      /* errors in the list before configure() (the loader sets it) */
};

struct swf_filter {
    const char *name;
    /*
     * Names of the settings its group may hold (NULL-terminated), or NULL: the filter
     * takes no settings, and a group named after it in a trunk is an error. The loader
     * checks the names (with "did you mean") before configure() runs.
     */
    const char *const *settings;
    /* Names of its counters, NULL-terminated (NULL: none); at most SWF_MAX_COUNTERS. */
    const char *const *counters;
    /*
     * Reads the settings (fc->group) into *state. Reports every error through swf_error /
     * the swf_get_* readers and returns -1, or returns 0. May be NULL (no settings, no
     * state). The libconfig tree dies after loading: copy what you keep.
     */
    int (*configure)(struct swf_conf *fc, void **state);
    swf_result (*request)(void *state, struct swf_call *call);  /* may be NULL */
    swf_result (*response)(void *state, struct swf_call *call); /* may be NULL */
    void (*free)(void *state);                                  /* may be NULL */
    /*
     * Called once per request when its chain has ended, however it ended, for every
     * filter of the chain that has it, even one the chain never reached (a verify
     * reject stops the chain before audit): result is the chain's answer (CONTINUE:
     * forwarded, REPLY: answered with call->reply_status, DROP), by the filter that gave
     * it (NULL for CONTINUE, and when the proxy itself answered after the chain: 513, 500).
     * Its slot is zeroed when the chain never reached it. Observes only: changes nothing.
     * May be NULL.
     */
    void (*done)(void *state, struct swf_call *call, swf_result result,
                 const struct swf_filter *by);
};

/* --- settings readers, for configure() --------------------------------------------------- */

/*
 * An error at the line of where (NULL: the filter's group, or the trunk when it has
 * none), prefixed with 'trunk "NAME": filter "FILTER": '.
 */
void swf_error(struct swf_conf *fc, const config_setting_t *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Typed readers of group's member key: 1 set and valid, 0 absent, -1 wrong (reported as
 * "PATH.KEY must be ..." at its line). path names the group ("sign", "sign.attest[0]").
 */
int swf_get_string(struct swf_conf *fc, const config_setting_t *group, const char *path,
                   const char *key, const char **out);
int swf_get_int(struct swf_conf *fc, const config_setting_t *group, const char *path,
                const char *key, long long min, long long max, int *out);
int swf_get_bool(struct swf_conf *fc, const config_setting_t *group, const char *path,
                 const char *key, int *out);
/* Unknown members of a nested group (the filter's own group is checked by the loader). */
void swf_check_keys(struct swf_conf *fc, const config_setting_t *group, const char *path,
                    const char *const *known);
/* Errors reported so far for this filter. */
size_t swf_errors(const struct swf_conf *fc);

/* The request methods a filter acts on (its "methods" setting). */
#define SWF_MAX_METHODS 16
#define SWF_METHOD_MAX 32
struct swf_methods {
    char name[SWF_MAX_METHODS][SWF_METHOD_MAX];
    size_t n;
};
/*
 * Reads group's "methods" (a list of upper-case method names, 1..SWF_MAX_METHODS) into
 * out; absent: out is [ "INVITE" ], the dialog-creating request STIR is about. Errors
 * go to the list as "PATH.methods[i]: ...". Returns 0, or -1 when something was wrong.
 */
int swf_get_methods(struct swf_conf *fc, const config_setting_t *group, const char *path,
                    struct swf_methods *out);
/* Whether request m's method is one of ms. */
int swf_methods_match(const struct swf_methods *ms, const struct sip_msg *m);

/*
 * Configures f from the trunk group fc->trunk, as the loader does: the filter's group
 * (a member named after it) must be a group, its keys must be among f->settings (each
 * unknown one reported with "did you mean"), then f->configure reads the values. fc needs
 * errs, trunk, trunk_name and svc; the rest is filled here. 0 and *state, or -1.
 */
int swf_configure(const struct swf_filter *f, struct swf_conf *fc, void **state);

/* --- while traffic flows ----------------------------------------------------------------- */

/* Adds one to the filter's counter number i (its index in the descriptor's counters). */
static inline void swf_count(struct swf_call *call, unsigned i)
{
    if (call->counters != NULL && i < SWF_MAX_COUNTERS)
        call->counters[i]++;
}

/*
 * Parks the message: copies it, with its edits, slot and verdict as they are now, into
 * an owned job, and returns a token for swf_wake(), or NULL when it cannot be parked (the
 * limit is reached: counted and logged by the engine). After a non-NULL return the filter
 * may still count (swf_count) but changes nothing else in call, and returns SWF_WAIT.
 */
void *swf_park(struct swf_call *call);
/* Asks the worker to resume the parked message; any thread, exactly once per park. */
void swf_wake(void *token);

/* --- the registry (filters/registry.c) --------------------------------------------------- */

const struct swf_filter *swf_lookup(const char *name);
/* Names of all filters, NULL-terminated, for error messages ("known: sign, strip"). */
const char *const *swf_names(void);
/* The filters, in registry order (their index in counter tables), and their number. */
const struct swf_filter *const *swf_all(size_t *n);
/* The registry index of f, or -1. */
int swf_index(const struct swf_filter *f);

#endif /* SW_CORE_FILTER_H */
