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

#include "filter.h"

static int strip_configure(const config_setting_t *trunk, void **state, char *err, size_t errlen)
{
    *state = NULL;
    return 0;
}

static swf_result strip_request(void *state, struct swf_call *call)
{
    const struct sip_msg *m = call->msg;
    const struct sip_hdr *h;
    size_t n, saved_n = call->edits->n, saved_used = call->edits->used;

    for (n = 0; (h = sip_hdr_find(m, SH_IDENTITY, n)) != NULL; n++) {
        if (sip_edit_delete(call->edits, h->line_off, h->line_len) != 0) {
            /* All or nothing: a half-stripped request would confuse whoever reads it. */
            call->edits->n = saved_n;
            call->edits->used = saved_used;
            snprintf(call->note, sizeof(call->note),
                     "Identity not stripped: too many edits on this message");
            return SWF_CONTINUE;
        }
    }
    if (n > 0)
        snprintf(call->note, sizeof(call->note), "stripped %zu Identity header%s", n,
                 n == 1 ? "" : "s");
    return SWF_CONTINUE;
}

const struct swf_filter swf_strip = {
    .name = "strip",
    .configure = strip_configure,
    .request = strip_request,
    .response = NULL,
    .free = NULL,
};
