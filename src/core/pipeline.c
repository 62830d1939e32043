/*
 * pipeline.c - runs a trunk's chain on one message (see pipeline.h).
 *
 * The loop is deliberately plain: call each filter's hook in order, give it its slot
 * (zeroed before its first call on this message, kept across a wait), collect its note
 * when debug logging wants it, and stop at the first answer that is not CONTINUE. What
 * the answers mean for the network is the caller's business. Once the caller has acted on
 * them, sw_pipeline_done() tells every filter with a done hook how the request ended (the
 * audit filter logs rejected calls that way, though the chain stopped before it).
 */
#include <stdio.h>
#include <string.h>

#include "pipeline.h"

swf_result sw_pipeline_run(struct sw_job *job, const struct swf_filter **by)
{
    const struct sw_trunk *t = job->call.trunk;
    struct swf_call *call = &job->call;
    int request = job->msg.is_request;

    *by = NULL;
    if (job->parked && job->st != NULL && job->entered != 0)
        job->st->resumed++;
    for (; t != NULL && job->next < t->nchain; job->next++) {
        const struct sw_chain_item *it = &t->chain[job->next];
        const struct swf_filter *f = it->filter;
        swf_result (*hook)(void *, struct swf_call *) = request ? f->request : f->response;
        swf_result r;

        if (hook == NULL)
            continue;
        if (!(job->entered & (1u << job->next))) {
            memset(job->slots[job->next], 0, SWF_SLOT_BYTES);
            job->entered |= 1u << job->next;
        }
        call->slot = job->slots[job->next];
        call->counters = job->st != NULL && it->index >= 0 ? job->st->filter[it->index] : NULL;
        call->note[0] = '\0';
        job->armed = 0;
        r = hook(it->state, call);
        if (job->verbose && call->note[0] != '\0') {
            size_t used = strlen(job->notes);
            snprintf(job->notes + used, sizeof(job->notes) - used, "%s%s: %s", used ? "; " : "",
                     f->name, call->note);
        }
        if (r == SWF_CONTINUE)
            continue;
        *by = f;
        if (r == SWF_WAIT) {
            /* a stack job parked during this hook has its copy; a heap job was re-armed */
            if (job->heap != NULL || (job->parked && job->armed))
                return SWF_WAIT; /* resumes here: job->next stays on this filter */
            snprintf(call->note, sizeof(call->note), "asked to wait without parking the message");
            return SWF_DROP;
        }
        if (r == SWF_REPLY && (!request || sip_is_method(&job->msg, "ACK"))) {
            /* nobody answers a response or an ACK: the filter's refusal is a drop */
            return SWF_DROP;
        }
        job->next++;
        return r;
    }
    return SWF_CONTINUE;
}

void sw_pipeline_done(struct sw_job *job, swf_result r, const struct swf_filter *by)
{
    const struct sw_trunk *t = job->call.trunk;
    struct swf_call *call = &job->call;
    size_t i;

    if (t == NULL || r == SWF_WAIT || !job->msg.is_request)
        return;
    for (i = 0; i < t->nchain; i++) {
        const struct sw_chain_item *it = &t->chain[i];
        const struct swf_filter *f = it->filter;

        if (f->done == NULL)
            continue;
        /* a filter the chain stopped before (or one without a request hook) starts clean */
        if (!(job->entered & (1u << i))) {
            memset(job->slots[i], 0, SWF_SLOT_BYTES);
            job->entered |= 1u << i;
        }
        call->slot = job->slots[i];
        call->counters = job->st != NULL && it->index >= 0 ? job->st->filter[it->index] : NULL;
        f->done(it->state, call, r, by);
    }
}
