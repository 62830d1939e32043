/*
 * verify.c - the `verify` filter: judges the SHAKEN PASSporT of requests that arrive on a
 * trunk (RFC 8224 section 6.2, ATIS-1000074) and rejects, tags or only observes, as the
 * trunk's policy says.
 *
 * The judging itself is stir_verify() (src/sip/stir.h), the same function that
 * "stirwire check --sip" runs, so the daemon and the tool cannot disagree about a call.
 * This file adds what a trunk decides: which requests are verified (methods), how fresh
 * iat and Date must be, which outcomes reject and with what (the error's SIP status and
 * an RFC 9410 Reason header), what happens when the certificate cannot be had in time
 * (fetch_failure), and what happens to a call with no calling telephone number
 * (anonymous). It writes the verdict that verstat and audit read after it.
 *
 * Rules: a worker never waits on the network. A certificate that is not cached makes
 * the message wait: it is parked (swf_park) and resumed when the verifier's fetch ends;
 * each message parks at most once (its slot remembers it), so nothing can loop. The
 * certificate verifier is the daemon's one shared verifier (its cache serves every
 * trunk); the trunk's own freshness limits are set on the worker's context for each call.
 * Our own trouble (out of memory) never rejects a call: it goes on untagged, counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/conf.h"
#include "../src/core/filter.h"
#include "../src/sip/stir.h"

enum verify_policy {
    POLICY_REJECT, /* answer the classes listed in reject with the error's status */
    POLICY_TAG,    /* never reject for the PASSporT: forward with the verdict (verstat) */
    POLICY_PASS,   /* observe only: the verdict is written, verstat adds nothing */
};

enum verify_anon {
    ANON_NO_TN,  /* No-TN-Validation, never rejected */
    ANON_REJECT, /* 433 Anonymity Disallowed (unless the policy is pass) */
    ANON_VERIFY, /* its token is verified like any other */
};

struct verify_conf {
    sw_verifier *verifier; /* the daemon's one verifier, borrowed (it outlives configs) */
    enum verify_policy policy;
    unsigned reject_classes; /* bit (1u << sw_class) for each class that rejects */
    int fetch_closed;        /* fetch_failure = "closed" */
    enum verify_anon anonymous;
    struct stir_opts opts;
    int max_age, future_skew; /* seconds, for iat (and Date, in opts) */
    struct swf_methods methods;
};

/*
 * What the filter keeps in the message's slot between the park and the resume. The slot
 * is copied into the parked job, so it is written before swf_park.
 */
struct verify_slot {
    int parked; /* this message has waited once for its certificate */
};
_Static_assert(sizeof(struct verify_slot) <= SWF_SLOT_BYTES, "verify's slot is too large");

/* The filter's counters (filter.h): indexes into verify_counters. */
enum {
    VERIFY_PASSED,    /* TN-Validation-Passed */
    VERIFY_MISSING,   /* no shaken Identity */
    VERIFY_NO_TN,     /* no calling telephone number: not verified */
    VERIFY_MALFORMED, /* the failures, by class (sw_class) */
    VERIFY_STALE,
    VERIFY_CLAIMS,
    VERIFY_SIGNATURE,
    VERIFY_CERT,                /* the certificate was had and is not acceptable */
    VERIFY_FETCH_FAILED_OPEN,   /* the certificate could not be had: tagged No-TN-Validation */
    VERIFY_FETCH_FAILED_CLOSED, /* the certificate could not be had: a failure */
    VERIFY_ERROR,               /* our own trouble (out of memory): No-TN-Validation */
    VERIFY_REJECTED,            /* answered with a status (besides one of the above) */
    VERIFY_PARKED,              /* waited for a certificate fetch */
};
static const char *const verify_counters[] = {
    "passed",
    "missing",
    "no_tn",
    "malformed",
    "stale",
    "claims",
    "signature",
    "cert",
    "fetch_failed_open",
    "fetch_failed_closed",
    "error",
    "rejected",
    "parked",
    NULL,
};

/* The classes the reject list may name, as sw_class values; the names are the config's. */
static const char *const class_names[] = {"missing",   "malformed", "stale", "claims",
                                          "signature", "cert",      NULL};
static const sw_class class_values[] = {SW_CLASS_MISSING, SW_CLASS_MALFORMED, SW_CLASS_STALE,
                                        SW_CLASS_CLAIMS,  SW_CLASS_SIGNATURE, SW_CLASS_CERT};

#define CLASS_BIT(c) (1u << (unsigned)(c))
/* the default: every failure rejects; a call without Identity (most still come unsigned) does not
 */
#define DEFAULT_REJECT                                                                             \
    (CLASS_BIT(SW_CLASS_MALFORMED) | CLASS_BIT(SW_CLASS_STALE) | CLASS_BIT(SW_CLASS_CLAIMS) |      \
     CLASS_BIT(SW_CLASS_SIGNATURE) | CLASS_BIT(SW_CLASS_CERT))

/* --- reading the settings --------------------------------------------------------------- */

/* Checked by the loader, with "did you mean", before verify_configure runs. */
static const char *const verify_settings[] = {"policy",  "reject",  "fetch_failure", "anonymous",
                                              "date",    "max_age", "future_skew",   "dest",
                                              "methods", NULL};

/*
 * One of a few words: its index in words, or -1 after reporting the value (with the
 * closest word when there is one). Absent: -2, nothing reported.
 */
static int read_word(struct swf_conf *fc, const config_setting_t *g, const char *key,
                     const char *const *words)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    const char *v = NULL, *near;
    char known[256], hint[96] = "";
    int i;

    if (swf_get_string(fc, g, "verify", key, &v) <= 0)
        return v == NULL && s == NULL ? -2 : -1;
    for (i = 0; words[i] != NULL; i++)
        if (strcmp(words[i], v) == 0)
            return i;
    if ((near = sw_cfg_closest(v, words)) != NULL)
        snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", near);
    sw_cfg_join(known, sizeof(known), words, NULL);
    swf_error(fc, s, "verify.%s: unknown value \"%s\"%s; known: %s", key, v, hint, known);
    return -1;
}

static void read_reject(struct swf_conf *fc, const config_setting_t *s, struct verify_conf *vc)
{
    char known[128], hint[96];
    int i, n, k;

    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        swf_error(fc, s, "verify.reject: must be a list of error classes such as [ \"cert\" ]");
        return;
    }
    /* An empty list is allowed: policy "reject" then rejects nothing but what anonymous
     * and fetch_failure say (a trunk that rejects only anonymous calls). */
    vc->reject_classes = 0;
    n = config_setting_length(s);
    sw_cfg_join(known, sizeof(known), class_names, NULL);
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v, *near;

        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            swf_error(fc, e, "verify.reject[%d]: must be a string (one of %s)", i, known);
            continue;
        }
        v = config_setting_get_string(e);
        for (k = 0; class_names[k] != NULL; k++)
            if (strcmp(class_names[k], v) == 0)
                break;
        if (class_names[k] == NULL) {
            hint[0] = '\0';
            if ((near = sw_cfg_closest(v, class_names)) != NULL)
                snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", near);
            swf_error(fc, e, "verify.reject[%d]: unknown error class \"%s\"%s; known: %s", i, v,
                      hint, known);
            continue;
        }
        vc->reject_classes |= CLASS_BIT(class_values[k]);
    }
}

static void read_settings(struct swf_conf *fc, const config_setting_t *g, struct verify_conf *vc)
{
    static const char *const policies[] = {"reject", "tag", "pass", NULL};
    static const char *const fetch[] = {"open", "closed", NULL};
    static const char *const anon[] = {"no-tn", "reject", "verify", NULL};
    static const char *const dates[] = {"check", "require", "ignore", NULL};
    static const char *const dests[] = {"to", "ruri", NULL};
    const config_setting_t *s;
    int w;

    if ((w = read_word(fc, g, "policy", policies)) >= 0)
        vc->policy = w == 0 ? POLICY_REJECT : w == 1 ? POLICY_TAG : POLICY_PASS;
    if ((s = config_setting_get_member(g, "reject")) != NULL)
        read_reject(fc, s, vc);
    if ((w = read_word(fc, g, "fetch_failure", fetch)) >= 0)
        vc->fetch_closed = w == 1;
    if ((w = read_word(fc, g, "anonymous", anon)) >= 0)
        vc->anonymous = w == 0 ? ANON_NO_TN : w == 1 ? ANON_REJECT : ANON_VERIFY;
    vc->opts.anonymous_is_verified = vc->anonymous == ANON_VERIFY;
    if ((w = read_word(fc, g, "date", dates)) >= 0)
        vc->opts.date = w == 0 ? STIR_DATE_CHECK : w == 1 ? STIR_DATE_REQUIRE : STIR_DATE_IGNORE;
    if ((w = read_word(fc, g, "dest", dests)) >= 0)
        vc->opts.dest_ruri = w == 1;
    /*
     * ATIS-1000074 asks for 60 s; a day is far past any sane clock error, and a skew over
     * an hour would accept tokens minted for later use.
     */
    swf_get_int(fc, g, "verify", "max_age", 1, 86400, &vc->max_age);
    swf_get_int(fc, g, "verify", "future_skew", 0, 3600, &vc->future_skew);
    vc->opts.date_max_age = vc->max_age;
    vc->opts.date_future_skew = vc->future_skew;
    swf_get_methods(fc, g, "verify", &vc->methods);
}

static void verify_free(void *state)
{
    free(state);
}

/*
 * A trunk may list "verify" without a group: it then gets the defaults (policy tag,
 * fetch_failure open, anonymous no-tn, Date checked when present, 60 s / 5 s, To).
 */
static int verify_configure(struct swf_conf *fc, void **state)
{
    struct verify_conf *vc;

    *state = NULL;
    if ((vc = calloc(1, sizeof(*vc))) == NULL) {
        swf_error(fc, NULL, "verify: out of memory");
        return -1;
    }
    stir_opts_init(&vc->opts);
    vc->policy = POLICY_TAG;
    vc->reject_classes = DEFAULT_REJECT;
    vc->anonymous = ANON_NO_TN;
    vc->max_age = 60;
    vc->future_skew = 5;
    if (fc->group != NULL)
        read_settings(fc, fc->group, vc);
    else
        swf_get_methods(fc, NULL, "verify", &vc->methods);
    /* the shared verifier, made (with the library's defaults) if the verifier group is
     * absent; tests that offer no services cannot verify */
    if (fc->svc == NULL || (vc->verifier = sw_services_verifier(fc->svc)) == NULL)
        swf_error(fc, NULL, "verify: needs the daemon's certificate verifier (%s)",
                  fc->svc == NULL ? "none is offered here" : "out of memory");
    if (swf_errors(fc) > 0) {
        verify_free(vc);
        return -1;
    }
    *state = vc;
    return 0;
}

/* --- verifying a request ---------------------------------------------------------------- */

/* dst = src, cut to fit */
static void copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/*
 * The certificate could not be had in time: the host did not answer, the transfer timed
 * out, the server answered an error status. These say nothing about the caller, only
 * about the network between us and the signer's server, which is why the trunk chooses
 * (fetch_failure) rather than the reject list. A certificate that was had and is bad
 * (untrusted, expired, revoked, an x5u the policy does not fetch) is a "cert" failure.
 */
static int fetch_failure(sw_err e)
{
    return e == SW_ERR_CERT_CONNECT || e == SW_ERR_CERT_TIMEOUT || e == SW_ERR_CERT_HTTP_STATUS;
}

static void wake_cb(void *arg, sw_err result)
{
    (void)result; /* the resumed call finds it in the cache (or the negative cache) */
    swf_wake(arg);
}

/* The verdict, from stir_verify's result, for verstat, audit and the engine. */
static void set_verdict(struct swf_call *call, const struct stir_result *r, const char *verstat)
{
    struct swf_verdict *v = &call->verdict;

    v->set = 1;
    v->signed_here = 0;
    v->attest = r->attest;
    v->identity_index = r->chosen;
    copy_str(v->orig, sizeof(v->orig), r->orig);
    copy_str(v->dest, sizeof(v->dest), r->dest);
    copy_str(v->origid, sizeof(v->origid), r->origid);
    copy_str(v->x5u, sizeof(v->x5u), r->x5u);
    copy_str(v->spc, sizeof(v->spc), r->spc);
    v->err = r->err;
    v->verified = 1;
    v->verstat = verstat;
    v->iat = r->iat;
    v->identities = r->identities;
    v->has_div = r->has_div;
    copy_str(v->div_tn, sizeof(v->div_tn), r->div_tn);
    v->rejected = 0;
    v->tagged_open = 0;
    v->pass_only = 0;
    copy_str(v->detail, sizeof(v->detail), r->detail);
}

/* Answers the request with err's status, reason phrase and RFC 9410 Reason header. */
static swf_result reject(struct swf_call *call, sw_err err)
{
    char reason[256];
    int status = sw_err_sip_status(err);

    if (status < 300) /* not a verification outcome: cannot be an answer (never happens) */
        return SWF_CONTINUE;
    call->reply_status = status;
    copy_str(call->reply_reason, sizeof(call->reply_reason), sw_err_sip_reason(err));
    call->reply_headers[0] = '\0';
    if (sw_err_reason_header(err, reason, sizeof(reason)) > 0)
        snprintf(call->reply_headers, sizeof(call->reply_headers), "Reason: %s\r\n", reason);
    call->verdict.rejected = 1;
    swf_count(call, VERIFY_REJECTED);
    return SWF_REPLY;
}

static unsigned class_counter(sw_class c)
{
    switch (c) {
    case SW_CLASS_MALFORMED:
        return VERIFY_MALFORMED;
    case SW_CLASS_STALE:
        return VERIFY_STALE;
    case SW_CLASS_CLAIMS:
        return VERIFY_CLAIMS;
    case SW_CLASS_SIGNATURE:
        return VERIFY_SIGNATURE;
    case SW_CLASS_CERT:
        return VERIFY_CERT;
    case SW_CLASS_MISSING:
        return VERIFY_MISSING;
    default:
        return VERIFY_ERROR;
    }
}

/*
 * What the trunk does with a judged request. In order: a fetch failure goes by
 * fetch_failure; a call with no calling number by anonymous; anything else by the policy
 * and, under "reject", the reject list. Policy "pass" observes only and never rejects,
 * whatever fetch_failure and anonymous say: it is how a trunk is watched before it is
 * trusted to reject. Our own failures (no SIP status) never reject.
 */
static swf_result decide(const struct verify_conf *vc, struct swf_call *call,
                         const struct stir_result *r, int park_refused)
{
    const char *policy = vc->policy == POLICY_REJECT ? "reject"
                         : vc->policy == POLICY_TAG  ? "tag"
                                                     : "pass";
    sw_err e = r->err;
    int may_reject = vc->policy != POLICY_PASS;
    swf_result res = SWF_CONTINUE;

    if (e == SW_OK) {
        set_verdict(call, r, sw_err_verstat(e));
        swf_count(call, VERIFY_PASSED);
        snprintf(call->note, sizeof(call->note), "verified: attest %c orig %s dest %s",
                 r->attest ? r->attest : '?', r->orig, r->dest);
    } else if (park_refused || fetch_failure(e)) {
        if (!vc->fetch_closed) {
            set_verdict(call, r, "No-TN-Validation");
            call->verdict.tagged_open = 1;
            swf_count(call, VERIFY_FETCH_FAILED_OPEN);
        } else {
            set_verdict(call, r, sw_err_verstat(e));
            swf_count(call, VERIFY_FETCH_FAILED_CLOSED);
            if (may_reject)
                res = reject(call, e);
        }
        snprintf(call->note, sizeof(call->note), "certificate not had (fetch_failure %s): %s%s%s",
                 vc->fetch_closed ? "closed" : "open", sw_strerror(e), r->detail[0] ? ": " : "",
                 r->detail);
    } else if (e == SW_ERR_NO_TN) {
        set_verdict(call, r, sw_err_verstat(e));
        swf_count(call, VERIFY_NO_TN);
        if (vc->anonymous == ANON_REJECT && may_reject)
            res = reject(call, e);
        snprintf(call->note, sizeof(call->note), "no calling telephone number (anonymous %s)",
                 vc->anonymous == ANON_REJECT ? "reject" : "no-tn");
    } else {
        sw_class c = sw_err_class(e);

        set_verdict(call, r, sw_err_verstat(e));
        swf_count(call, class_counter(c));
        if (vc->policy == POLICY_REJECT && (vc->reject_classes & CLASS_BIT(c)) != 0 &&
            sw_err_sip_status(e) >= 300)
            res = reject(call, e);
        snprintf(call->note, sizeof(call->note), "%s (%s): %s%s%s", sw_err_name(e), policy,
                 sw_strerror(e), r->detail[0] ? ": " : "", r->detail);
    }
    call->verdict.pass_only = vc->policy == POLICY_PASS;
    return res;
}

static swf_result verify_request(void *state, struct swf_call *call)
{
    const struct verify_conf *vc = state;
    struct verify_slot *slot = call->slot;
    struct stir_result r;
    int park_refused = 0;
    sw_cert *cert = NULL;
    void *token;
    sw_err e;

    if (!call->msg->is_request || !swf_methods_match(&vc->methods, call->msg))
        return SWF_CONTINUE;
    /*
     * The context is the worker's, shared by every trunk: this trunk's limits are set for
     * this call. Its "now" is the message's: the arrival time in the proxy (also when the
     * message resumes after a fetch, so the wait does not age the token), the capture
     * time in the TAP. It is put back to the clock afterwards.
     */
    sw_ctx_set_max_age(call->ctx, vc->max_age);
    sw_ctx_set_future_skew(call->ctx, vc->future_skew);
    sw_ctx_set_now(call->ctx, call->now);
    e = stir_verify(call->ctx, vc->verifier, NULL, call->msg, &vc->opts, 0, &r);
    if (e == SW_ERR_PENDING && slot->parked) {
        /*
         * Woken, yet still not cached: the fetch ended and its result is already gone
         * (a cache too small for the traffic, or the entry evicted). Waiting again could
         * loop; the certificate was not had in time.
         */
        r.err = e = SW_ERR_CERT_TIMEOUT;
        copy_str(r.detail, sizeof(r.detail),
                 "the certificate fetch ended but its result was not in the cache");
    } else if (e == SW_ERR_PENDING) {
        slot->parked = 1; /* before swf_park: the slot is copied into the job */
        if ((token = swf_park(call)) == NULL) {
            slot->parked = 0;
            park_refused = 1;
            r.err = e = SW_ERR_CERT_UNAVAILABLE;
            snprintf(r.detail, sizeof(r.detail),
                     "cannot wait for the certificate from %.120s: no message may be parked now "
                     "(max_parked)",
                     r.x5u);
        } else {
            swf_count(call, VERIFY_PARKED);
            /*
             * stir_verify started the fetch without a callback; this joins it with ours.
             * When the fetch ended in between, no callback will come: we wake ourselves,
             * since a parked message must be woken exactly once.
             */
            if (sw_verifier_get_cert(vc->verifier, call->ctx, r.x5u, wake_cb, token, &cert) !=
                SW_ERR_PENDING) {
                sw_cert_free(cert);
                swf_wake(token);
            }
            sw_ctx_set_now(call->ctx, 0);
            return SWF_WAIT;
        }
    }
    sw_ctx_set_now(call->ctx, 0);
    return decide(vc, call, &r, park_refused);
}

const struct swf_filter swf_verify = {
    .name = "verify",
    .settings = verify_settings,
    .counters = verify_counters,
    .configure = verify_configure,
    .request = verify_request,
    .response = NULL,
    .free = verify_free,
};
