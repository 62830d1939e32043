/*
 * verstat.c - the `verstat` filter: tells the PBX what verification found, the way
 * ATIS-1000074 section 5.3.1 (and 3GPP TS 24.229) say: a `verstat` parameter on the
 * calling number in P-Asserted-Identity and From.
 *
 * It reads the verdict the verify filter wrote (call->verdict.verstat: TN-Validation-Passed,
 * TN-Validation-Failed or No-TN-Validation) and, in each header its settings list
 * (verstat = { headers = [ "P-Asserted-Identity", "From" ]; }, both by default), puts
 * ";verstat=VALUE" on every URI that carries a telephone number:
 *   - a tel URI:   <tel:+12155551212;verstat=TN-Validation-Passed>   (a URI parameter)
 *   - a sip or sips URI with user=phone:
 *                  <sip:+12155551212;verstat=TN-Validation-Passed@example.com;user=phone>
 *     (a parameter of the user part, the telephone-subscriber of RFC 3261 section 19.1.6).
 * A sip URI without user=phone is not a telephone number for this purpose, whatever its
 * user part looks like (ATIS-1000074 puts verstat on tel URIs and user=phone SIP URIs).
 *
 * Decisions:
 *  - A verstat that arrived is never trusted (ATIS-1000074: the terminating side sets it).
 *    When this filter tags a call, every verstat it finds in the headers it manages goes:
 *    replaced by ours on a URI that carries a number, removed on one that does not (a
 *    verstat on a sip URI without user=phone would otherwise reach the PBX untouched).
 *    Headers the settings do not list are not ours to manage and stay as they came.
 *  - When there is no verdict to tell (no verify filter judged the call, verify's policy is
 *    "pass" (observe only), or no verstat value), the filter changes nothing at all, not
 *    even a foreign verstat: "pass" promises an untouched message, and a chain without
 *    verify has no judgement to replace it with. Operators who must keep foreign values
 *    from a PBX run verify with policy "tag" or "reject".
 *  - A URI with no angle brackets (addr-spec) gets them: RFC 3261 section 20.10 requires
 *    them once the URI holds a semicolon, and in From a bare URI's ";..." would otherwise be
 *    read as a header parameter. In From a bare URI ends at its first ';' (what follows is
 *    header parameters, so a bare sip URI there has no user=phone); P-Asserted-Identity
 *    has no header parameters (RFC 3325), so there a bare URI runs to the end of the value.
 *  - Every value of a P-Asserted-Identity header (comma-separated) and of every such
 *    header is handled: RFC 3325 allows one sip/sips and one tel identity, and each gets
 *    the parameter. From has one value.
 *  - All or nothing: when the edits do not fit (edit list or arena full) the message goes
 *    on exactly as it came, counted as not_added.
 *
 * Rule: edits are splices of the received bytes (call->edits); nothing is re-serialised,
 * so every byte other than the parameter (and brackets) stays as it arrived.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../src/core/filter.h"

/* The filter's counters: indexes into verstat_counters. */
enum {
    VS_PASSED,           /* requests tagged TN-Validation-Passed */
    VS_FAILED,           /* requests tagged TN-Validation-Failed */
    VS_NO_VALIDATION,    /* requests tagged No-TN-Validation */
    VS_NO_TN,            /* verdict to tell, but no managed header carried a number */
    VS_REPLACED_FOREIGN, /* URIs whose verstat that arrived was replaced by ours */
    VS_REMOVED_FOREIGN,  /* URIs without a number whose verstat that arrived was removed */
    VS_NOT_ADDED,        /* edits did not fit: the request went on untouched */
};
static const char *const verstat_counters[] = {
    "passed",           "failed",          "no_validation", "no_tn",
    "replaced_foreign", "removed_foreign", "not_added",     NULL,
};

static const char *const verstat_settings[] = {"headers", NULL};

struct verstat_conf {
    int pai;  /* manage P-Asserted-Identity */
    int from; /* manage From (and f:) */
};

/* --- reading the settings --------------------------------------------------------------- */

static void read_headers(struct swf_conf *fc, const config_setting_t *s, struct verstat_conf *vc)
{
    int i, n;

    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        swf_error(fc, s,
                  "verstat.headers: must be a list such as [ \"P-Asserted-Identity\", "
                  "\"From\" ]");
        return;
    }
    if ((n = config_setting_length(s)) == 0) {
        swf_error(fc, s, "verstat.headers: empty (leave it out for P-Asserted-Identity and From)");
        return;
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v =
            config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;

        /* header names are case-insensitive (RFC 3261 section 7.3.1) */
        if (v != NULL && strcasecmp(v, "P-Asserted-Identity") == 0)
            vc->pai = 1;
        else if (v != NULL && strcasecmp(v, "From") == 0)
            vc->from = 1;
        else
            swf_error(fc, e, "verstat.headers[%d]: must be \"P-Asserted-Identity\" or \"From\"", i);
    }
}

static int verstat_configure(struct swf_conf *fc, void **state)
{
    struct verstat_conf *vc;
    const config_setting_t *s;

    *state = NULL;
    if ((vc = calloc(1, sizeof(*vc))) == NULL) {
        swf_error(fc, NULL, "verstat: out of memory");
        return -1;
    }
    if (fc->group != NULL && (s = config_setting_get_member(fc->group, "headers")) != NULL) {
        read_headers(fc, s, vc);
    } else {
        vc->pai = 1;
        vc->from = 1;
    }
    if (swf_errors(fc) > 0) {
        free(vc);
        return -1;
    }
    *state = vc;
    return 0;
}

static void verstat_free(void *state)
{
    free(state);
}

/* --- finding the URI and its parameters in the bytes ------------------------------------ */

/* What one header value asks for; offsets are into the message buffer. */
struct uri_edit {
    int tn;          /* the URI carries a telephone number */
    int bare;        /* no angle brackets: they are added around [us, ue) */
    size_t us, ue;   /* the URI */
    size_t ins;      /* where ";verstat=..." goes when none is there */
    size_t vs[4][2]; /* verstat parameters found: [start (';'), end) */
    size_t nvs;      /* how many (at most 4 are handled; more is not a real message) */
    int too_many_vs; /* more than 4 */
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Case-insensitive comparison of p[0..n) with the NUL-terminated word. */
static int word_is(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/*
 * The parameters ";name[=value]" in b[from..to): records each one named verstat in u, and
 * returns 1 when one of them is name=value (case-insensitive), 0 when none is (want_name
 * NULL: 0).
 */
static int scan_params(const char *b, size_t from, size_t to, struct uri_edit *u,
                       const char *want_name, const char *want_value)
{
    size_t s = from, e, eq;
    int found = 0;

    while (s < to && b[s] == ';') {
        for (e = s + 1; e < to && b[e] != ';'; e++)
            ;
        for (eq = s + 1; eq < e && b[eq] != '='; eq++)
            ;
        if (u != NULL && word_is(b + s + 1, eq - s - 1, "verstat")) {
            if (u->nvs < 4) {
                u->vs[u->nvs][0] = s;
                u->vs[u->nvs][1] = e;
                u->nvs++;
            } else {
                u->too_many_vs = 1;
            }
        }
        if (want_name != NULL && word_is(b + s + 1, eq - s - 1, want_name) && eq < e &&
            word_is(b + eq + 1, e - eq - 1, want_value))
            found = 1;
        s = e;
    }
    return found;
}

/* Whether b[from..to) is a telephone number (sw_tn_canon: digits, visual separators, '+'). */
static int is_number(const char *b, size_t from, size_t to)
{
    char raw[64], canon[SW_TN_MAX];

    if (to <= from || to - from >= sizeof(raw))
        return 0;
    memcpy(raw, b + from, to - from);
    raw[to - from] = '\0';
    return sw_tn_canon(raw, canon, sizeof(canon)) == SW_OK;
}

/*
 * Reads one header value b[v..v+n) (a name-addr or an addr-spec) into u. from_hdr: the
 * value is a From value (a bare URI ends at its first ';'). Returns 0, or -1 when the
 * value holds no URI this filter understands (left alone).
 */
static int read_value(const char *b, size_t v, size_t n, int from_hdr, struct uri_edit *u)
{
    size_t i, end = v + n, colon, at, ue_user, numend, q;
    int inq = 0;

    memset(u, 0, sizeof(*u));
    /* a '<' outside the display name's quoted string starts a name-addr */
    for (i = v; i < end; i++) {
        if (inq) {
            if (b[i] == '\\' && i + 1 < end)
                i++;
            else if (b[i] == '"')
                inq = 0;
        } else if (b[i] == '"') {
            inq = 1;
        } else if (b[i] == '<') {
            break;
        }
    }
    if (i < end) {
        u->us = i + 1;
        for (u->ue = u->us; u->ue < end && b[u->ue] != '>'; u->ue++)
            ;
        if (u->ue == end)
            return -1; /* no closing '>' */
    } else {
        u->bare = 1;
        for (u->us = v; u->us < end && is_ws(b[u->us]); u->us++)
            ;
        for (u->ue = u->us; u->ue < end && !is_ws(b[u->ue]) && !(from_hdr && b[u->ue] == ';');
             u->ue++)
            ;
    }
    for (colon = u->us; colon < u->ue && b[colon] != ':'; colon++)
        ;
    if (colon == u->ue)
        return -1;

    if (word_is(b + u->us, colon - u->us, "tel")) {
        /* tel:NUMBER;params (RFC 3966): the parameter goes at the end of the URI */
        for (numend = colon + 1; numend < u->ue && b[numend] != ';'; numend++)
            ;
        scan_params(b, numend, u->ue, u, NULL, NULL);
        u->tn = is_number(b, colon + 1, numend);
        u->ins = u->ue;
        return 0;
    }
    if (!word_is(b + u->us, colon - u->us, "sip") && !word_is(b + u->us, colon - u->us, "sips"))
        return -1;
    /* sip:user[;uparams][:password]@host[;params][?headers] */
    for (at = colon + 1; at < u->ue && b[at] != '@'; at++)
        ;
    if (at == u->ue)
        return -1; /* no user part: nothing to put a parameter on */
    for (ue_user = colon + 1; ue_user < at && b[ue_user] != ':'; ue_user++)
        ;
    for (numend = colon + 1; numend < ue_user && b[numend] != ';'; numend++)
        ;
    scan_params(b, numend, ue_user, u, NULL, NULL);
    u->ins = ue_user;
    /* the URI parameters after the host; the host itself holds no ';' (not even [IPv6]) */
    for (i = at + 1; i < u->ue && b[i] != ';' && b[i] != '?'; i++)
        ;
    for (q = i; q < u->ue && b[q] != '?'; q++)
        ;
    u->tn = scan_params(b, i, q, NULL, "user", "phone") && is_number(b, colon + 1, numend);
    return 0;
}

/*
 * The edits for one URI: ours in place of the first verstat there (or added), the others
 * removed; or, for a URI without a number, every verstat removed. Counts into *replaced /
 * *removed. Returns 1 when the URI was tagged, 0 when not, -1 when an edit did not fit.
 */
static int edit_uri(struct sip_edits *ed, const struct uri_edit *u, const char *value,
                    int *replaced, int *removed)
{
    size_t k;

    if (!u->tn) {
        for (k = 0; k < u->nvs; k++)
            if (sip_edit_delete(ed, u->vs[k][0], u->vs[k][1] - u->vs[k][0]) != 0)
                return -1;
        *removed += u->nvs > 0;
        return 0;
    }
    if (u->bare && sip_edit_insert(ed, u->us, "<", 1) != 0)
        return -1;
    if (u->nvs > 0) {
        char text[96];
        int len = snprintf(text, sizeof(text), ";verstat=%s", value);

        if (len < 0 || (size_t)len >= sizeof(text) ||
            sip_edit_replace(ed, u->vs[0][0], u->vs[0][1] - u->vs[0][0], text, (size_t)len) != 0)
            return -1;
        for (k = 1; k < u->nvs; k++)
            if (sip_edit_delete(ed, u->vs[k][0], u->vs[k][1] - u->vs[k][0]) != 0)
                return -1;
        (*replaced)++;
    } else if (sip_edit_insertf(ed, u->ins, ";verstat=%s", value) != 0) {
        return -1;
    }
    if (u->bare && sip_edit_insert(ed, u->ue, ">", 1) != 0)
        return -1;
    return 1;
}

/* Every value of every header with that id; tagged / replaced / removed are added to. */
static int edit_headers(const struct sip_msg *m, struct sip_edits *ed, enum sip_hdr_id id,
                        const char *value, int *tagged, int *replaced, int *removed)
{
    const struct sip_hdr *h;
    size_t n, off, len, comma, vlen;
    struct uri_edit u;
    int r;

    for (n = 0; (h = sip_hdr_find(m, id, n)) != NULL; n++) {
        for (off = h->value_off, len = h->value_len; len > 0;) {
            vlen = sip_first_value(m->buf + off, len, 1, &comma);
            if (read_value(m->buf, off, vlen, id == SH_FROM, &u) == 0) {
                if (u.too_many_vs)
                    return -1; /* more verstat parameters than we track: not ours to guess */
                if ((r = edit_uri(ed, &u, value, replaced, removed)) < 0)
                    return -1;
                *tagged += r;
            }
            if (id == SH_FROM || comma >= len)
                break; /* From has one value */
            /* the next value starts after the comma and its white space */
            off += comma + 1;
            len -= comma + 1;
            while (len > 0 && is_ws(m->buf[off])) {
                off++;
                len--;
            }
        }
    }
    return 0;
}

/* --- the request hook ------------------------------------------------------------------- */

/* swf_count n times (the foreign-verstat counters count URIs, not requests) */
static void count_n(struct swf_call *call, unsigned i, int n)
{
    if (call->counters != NULL && n > 0)
        call->counters[i] += (uint64_t)n;
}

static swf_result verstat_request(void *state, struct swf_call *call)
{
    const struct verstat_conf *vc = state;
    const struct swf_verdict *v = &call->verdict;
    struct sip_edits_mark mark = sip_edits_mark(call->edits);
    int tagged = 0, replaced = 0, removed = 0, rc = 0;

    if (!v->verified || v->pass_only || v->verstat == NULL)
        return SWF_CONTINUE; /* nothing judged, or observe only: the message stays as it is */
    if (vc->pai)
        rc = edit_headers(call->msg, call->edits, SH_PAI, v->verstat, &tagged, &replaced, &removed);
    if (rc == 0 && vc->from)
        rc =
            edit_headers(call->msg, call->edits, SH_FROM, v->verstat, &tagged, &replaced, &removed);
    if (rc != 0) {
        /* All or nothing: a half-tagged request would tell the PBX two different things. */
        sip_edits_rollback(call->edits, mark);
        snprintf(call->note, sizeof(call->note), "verstat %s not added: too many edits",
                 v->verstat);
        swf_count(call, VS_NOT_ADDED);
        return SWF_CONTINUE;
    }
    count_n(call, VS_REPLACED_FOREIGN, replaced);
    count_n(call, VS_REMOVED_FOREIGN, removed);
    if (tagged == 0) {
        swf_count(call, VS_NO_TN);
        snprintf(call->note, sizeof(call->note), "verstat %s: no telephone number to put it on%s",
                 v->verstat, removed ? " (foreign verstat removed)" : "");
        return SWF_CONTINUE;
    }
    if (strcmp(v->verstat, "TN-Validation-Passed") == 0)
        swf_count(call, VS_PASSED);
    else if (strcmp(v->verstat, "TN-Validation-Failed") == 0)
        swf_count(call, VS_FAILED);
    else
        swf_count(call, VS_NO_VALIDATION);
    snprintf(call->note, sizeof(call->note), "verstat %s on %d URI%s%s", v->verstat, tagged,
             tagged == 1 ? "" : "s", replaced ? " (foreign verstat replaced)" : "");
    return SWF_CONTINUE;
}

const struct swf_filter swf_verstat = {
    .name = "verstat",
    .settings = verstat_settings,
    .counters = verstat_counters,
    .configure = verstat_configure,
    .request = verstat_request,
    .response = NULL,
    .free = verstat_free,
    .done = NULL,
};
