/*
 * verifier.h - private pieces shared by fetch.c and verifier.c: the fetch policy
 * snapshot and one transfer.
 */
#ifndef SW_VERIFIER_H
#define SW_VERIFIER_H

#include <curl/curl.h>
#include <sys/socket.h>

#include "sw_int.h"

#ifdef PACKAGE_VERSION
#define PACKAGE_VERSION_STR PACKAGE_VERSION
#else
#define PACKAGE_VERSION_STR "unknown"
#endif

/* Most networks SW_OPT_ALLOW_NETS takes. */
#define SWI_MAX_NETS 32

/* One CIDR block of SW_OPT_ALLOW_NETS: host bits beyond prefix are zero. */
struct swi_net {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix; /* bits: 0..32 or 0..128 */
};

/*
 * The fetch policy and the verifier settings the fetch thread reads, copied under the
 * verifier's lock into each transfer, so that a transfer never reads settings that a
 * setter may be changing (settings may change at any time, e.g. on a reload).
 */
struct swi_policy {
    long allow_http, allow_private, allow_any_port, allow_query;
    long connect_timeout_ms, timeout_ms, max_bytes;
    long min_ttl, negative_ttl, crl_fetch, require_chain, crl_unreachable;
    long offline;            /* SW_OPT_OFFLINE: local answers and the cache directory only */
    int64_t check_time;      /* SW_OPT_CHECK_TIME: when chains are judged; 0: the clock */
    const char *tls_ca_file; /* borrowed: the transfer's own copy, or the caller's */
    size_t nnets;            /* special addresses allowed although allow_private is 0 */
    struct swi_net nets[SWI_MAX_NETS];
};

struct swi_entry;

struct swi_xfer {
    CURL *easy;
    char *url;
    struct swi_policy policy;
    char *tls_ca_copy; /* owned copy that policy.tls_ca_file points to (verifier transfers) */
    char *cache_dir;   /* owned copy of the verifier's cache directory, or NULL */
    char *buf;
    size_t len;
    int too_big, blocked;
    char blocked_addr[64];
    long max_age;        /* from Cache-Control, -1 when absent */
    int64_t expires_hdr; /* from Expires, 0 when absent */
    int is_crl;
    struct swi_entry *entry; /* the cache entry this transfer fills */
    sw_cert *cert;           /* for a CRL transfer: the certificate waiting for it */
    int64_t cert_expires;    /* and that certificate's cache lifetime */
    struct swi_xfer *next;
};

/* SW_OK when the policy allows fetching url, else SW_ERR_CERT_URL with the reason. */
sw_err swi_url_allowed(sw_ctx *ctx, const struct swi_policy *pol, const char *url);
/* 1 when the address is loopback, private, link-local or otherwise not a public host. */
int swi_addr_special(const struct sockaddr *sa);
/*
 * 1 when the policy lets a transfer connect to sa: a public address, any address with
 * allow_private, or a special one inside one of pol->nets.
 */
int swi_addr_allowed(const struct swi_policy *pol, const struct sockaddr *sa);
/*
 * Parses SW_OPT_ALLOW_NETS: comma-separated CIDR blocks ("127.0.0.0/8, ::1/128"); an
 * address without a prefix is one host, host bits beyond the prefix are cleared. NULL or
 * an empty string is no block. Fills nets (room for SWI_MAX_NETS) and *n; -1 on a block
 * that does not parse or past SWI_MAX_NETS, and then *n and nets say nothing.
 */
int swi_nets_parse(const char *text, struct swi_net *nets, size_t *n);
/* Creates the easy handle for x (x->url and x->policy set); 0 on success. */
int swi_xfer_setup(struct swi_xfer *x);
/* Maps curl's result and the HTTP status to SW_OK or a CERT_ error. */
sw_err swi_xfer_result(sw_ctx *ctx, struct swi_xfer *x, CURLcode rc);
void swi_xfer_free(struct swi_xfer *x);

#endif
