/*
 * report.h - the TAP's report: what the engine saw, aggregated call by call, and shown
 * three ways: a summary JSON object (the last line of "stirwire pcap --json"), a human
 * table, and one self-contained HTML file (timeline, tables, one card per failing call
 * with its PASSporT decoded).
 *
 * Rules: memory stays bounded whatever the number of calls (top lists keep at most
 * TAP_REPORT_MAX_KEYS distinct keys each, the rest counted under "(other)"; at most
 * keep_failed failing calls are copied; the timeline has at most TAP_REPORT_BUCKETS
 * buckets, widened as the capture grows). The report never prints or exits on its own:
 * it writes to the FILE or path it is given and reports errors through return values.
 * Everything a call carries is attacker-controlled: the HTML escapes all of it.
 */
#ifndef SW_TAP_REPORT_H
#define SW_TAP_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/filter.h"
#include "packet.h"

/* Distinct keys a top list (x5u host, SPC, prefix) counts on its own; the rest: "(other)". */
#define TAP_REPORT_MAX_KEYS 10000
/* Buckets of the internal timeline (the HTML shows at most 60, merged from these). */
#define TAP_REPORT_BUCKETS 4096
/* Bytes of an Identity value kept with a failing call (SW_IDENTITY_MAX). */
#define TAP_REPORT_IDENTITY_MAX SW_IDENTITY_MAX

/* One INVITE's verdict as the engine hands it over (everything borrowed for the call). */
struct tap_call {
    int64_t ts_us;               /* capture time of its first copy (microseconds, epoch) */
    const char *call_id;         /* "" when none */
    const char *src, *dst;       /* "192.0.2.1:5060", "[2001:db8::1]:5060" ("" unknown) */
    int transport;               /* SW_UDP / SW_TCP */
    const char *trunk;           /* "" when none */
    const struct swf_verdict *v; /* src/core/filter.h: attest, orig, dest, origid, x5u, spc,
                                    err, verified, verstat, iat, identities, has_div, div_tn,
                                    tagged_open, detail (NULL: taken as not verified) */
    const char *identity;        /* the Identity header value verified (NULL: none) */
    size_t identity_len;
};

/* A call's result, in the order the reports list them. */
enum tap_result {
    TAP_RESULT_VALID,
    TAP_RESULT_INVALID,
    TAP_RESULT_UNSIGNED,
    TAP_RESULT_NO_TN,
    TAP_RESULT_UNVERIFIABLE,
    TAP_RESULT_NOT_VERIFIED,
    TAP_RESULT_N
};
/* "valid", "invalid", "unsigned", "no-tn", "unverifiable", "not-verified", by the enum. */
extern const char *const tap_result_names[TAP_RESULT_N];

/*
 * "valid", "invalid", "unsigned", "no-tn", "unverifiable", "not-verified":
 * !v->verified -> not-verified; err OK -> valid; v->tagged_open -> unverifiable (the
 * certificate could not be had); SW_ERR_NO_TN -> no-tn; class MISSING -> unsigned;
 * anything else -> invalid. v NULL: not-verified. A static string.
 */
const char *tap_call_result(const struct swf_verdict *v);
enum tap_result tap_call_result_code(const struct swf_verdict *v);

/*
 * A sentence a customer's support engineer understands for a verification error
 * ("The signature does not match the call: ..."); sw_strerror() for an error the table
 * does not explain. Never NULL, static.
 */
const char *tap_report_reason(sw_err err);

struct tap_report_opts {
    size_t keep_failed; /* failing calls (invalid, unverifiable) kept in full for HTML (1000) */
    size_t top;         /* rows of each top list (10) */
};
void tap_report_opts_init(struct tap_report_opts *o); /* the defaults above */

/* o NULL: the defaults. NULL: out of memory. */
struct tap_report *tap_report_new(const struct tap_report_opts *o);
/* Counts one call; copies what it keeps (failing calls, top-list keys). */
void tap_report_add(struct tap_report *r, const struct tap_call *c);
void tap_report_retransmission(struct tap_report *r); /* a copy of an INVITE already counted */
void tap_report_set_counts(struct tap_report *r, const struct tap_counts *c); /* replaces */
/* The input names (file names, interfaces), copied; replaces earlier ones. */
void tap_report_set_inputs(struct tap_report *r, char *const *names, size_t n);
/*
 * Widens the capture's first/last time to include [first_us, last_us] (the engine may
 * hand the first and last frame's time; calls widen it too). Either may be 0: ignored.
 */
void tap_report_set_span(struct tap_report *r, int64_t first_us, int64_t last_us);

uint64_t tap_report_calls(const struct tap_report *r);
uint64_t tap_report_result_count(const struct tap_report *r, enum tap_result res);
uint64_t tap_report_invalid(const struct tap_report *r); /* calls whose result is invalid */
/*
 * The sw_class (4..8) most of the invalid calls fall in (ties: lower); 0 when none.
 * An invalid call whose error has a class outside 4..8 (TN_INVALID: input, CRYPTO:
 * internal) counts as MALFORMED (4), so that an invalid call never leaves 0.
 */
int tap_report_exit_class(const struct tap_report *r);

/*
 * The timeline as the HTML shows it: at most max_buckets (<= 60 is what the HTML uses)
 * buckets of *bucket_us each, the first starting at *start_us, counts[i][result].
 * Returns the number of buckets (0 when no call was added).
 */
size_t tap_report_timeline(const struct tap_report *r, size_t max_buckets, int64_t *start_us,
                           int64_t *bucket_us, uint64_t (*counts)[TAP_RESULT_N]);

/* {"summary": {...}}: a new reference; NULL: out of memory. */
json_t *tap_report_summary(const struct tap_report *r);
int tap_report_print(const struct tap_report *r, FILE *out); /* the human table; 0 or -1 */
/* Writes the HTML to path (a temporary file renamed over it). 0, or -1 and err. */
int tap_report_html(const struct tap_report *r, const char *path, char *err, size_t errlen);
void tap_report_free(struct tap_report *r); /* NULL: nothing */

#endif /* SW_TAP_REPORT_H */
