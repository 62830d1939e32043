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

/* The fetch policy, copied into each transfer so that a transfer never reads settings. */
struct swi_policy {
    long allow_http, allow_private, allow_any_port, allow_query;
    long connect_timeout_ms, timeout_ms, max_bytes;
    const char *tls_ca_file; /* owned by the verifier, which outlives its transfers */
};

struct swi_entry;

struct swi_xfer {
    CURL *easy;
    char *url;
    struct swi_policy policy;
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
/* Creates the easy handle for x (x->url and x->policy set); 0 on success. */
int swi_xfer_setup(struct swi_xfer *x);
/* Maps curl's result and the HTTP status to SW_OK or a CERT_ error. */
sw_err swi_xfer_result(sw_ctx *ctx, struct swi_xfer *x, CURLcode rc);
void swi_xfer_free(struct swi_xfer *x);

#endif
