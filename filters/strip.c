/*
 * strip.c - the `strip` filter: removes every Identity header from requests.
 *
 * Some PBXs choke on a 700-byte Identity header (or on the compact `y:` form), so the
 * chain toward them usually ends with "strip", after verify and verstat have read it.
 * Each Identity line is deleted with its folded continuations and its line end; the rest
 * of the message stays byte for byte as it arrived. The filter has no settings.
 */
#include <stddef.h>
#include <stdio.h>

#include "../src/core/filter.h"

enum { STRIP_STRIPPED, STRIP_FAILED };
static const char *const strip_counters[] = {"stripped", "not_stripped", NULL};

static swf_result strip_request(void *state, struct swf_call *call)
{
    const struct sip_msg *m = call->msg;
    const struct sip_hdr *h;
    struct sip_edits_mark mark = sip_edits_mark(call->edits);
    size_t n;

    (void)state;
    for (n = 0; (h = sip_hdr_find(m, SH_IDENTITY, n)) != NULL; n++) {
        if (sip_edit_delete(call->edits, h->line_off, h->line_len) != 0) {
            /* All or nothing: a half-stripped request would confuse whoever reads it. */
            sip_edits_rollback(call->edits, mark);
            snprintf(call->note, sizeof(call->note),
                     "Identity not stripped: too many edits on this message");
            swf_count(call, STRIP_FAILED);
            return SWF_CONTINUE;
        }
    }
    if (n > 0) {
        snprintf(call->note, sizeof(call->note), "stripped %zu Identity header%s", n,
                 n == 1 ? "" : "s");
        swf_count(call, STRIP_STRIPPED);
    }
    return SWF_CONTINUE;
}

const struct swf_filter swf_strip = {
    .name = "strip",
    .settings = NULL, /* none: a "strip" group in a trunk is an error */
    .counters = strip_counters,
    .configure = NULL,
    .request = strip_request,
    .response = NULL,
    .free = NULL,
};
