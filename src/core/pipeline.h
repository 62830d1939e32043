/*
 * pipeline.h - the one function that runs a trunk's filter chain on a message.
 *
 * Both the proxy and the TAP call it: the proxy does its RFC 3261 work before (Max-
 * Forwards, Via, loop detection) and after (our Via, Record-Route, transport, splice);
 * the TAP calls it in observe mode and sends nothing. It runs the request hooks of a
 * request and the response hooks of a response, in chain order, from job->next on, and
 * answers what the chain decided. A WAIT means the job was parked (swf_park): the caller
 * forgets its stack job; the heap copy comes back through the wait queue, and the caller
 * runs sw_pipeline_run() on it again, which resumes at the filter that waited.
 */
#ifndef SW_CORE_PIPELINE_H
#define SW_CORE_PIPELINE_H

#include "job.h"

/*
 * Runs job's chain from job->next. Returns:
 *   SWF_CONTINUE  every filter passed it on: forward (the proxy) or record (the TAP);
 *   SWF_REPLY     a filter answers a request: call.reply_status / reply_reason / headers;
 *   SWF_DROP      a filter dropped it, or a REPLY to an ACK or to a response, or a WAIT
 *                 without swf_park (a filter bug; the note says which);
 *   SWF_WAIT      parked: job->heap holds the copy (on a resumed heap job, itself).
 * *by is set to the filter that decided a REPLY, DROP or WAIT (NULL for CONTINUE).
 */
swf_result sw_pipeline_run(struct sw_job *job, const struct swf_filter **by);

/*
 * Ends a request's chain: calls the done hook (filter.h) of every filter of the trunk's
 * chain that has one, in chain order, once each, with its own state, slot (zeroed when the
 * chain never reached it) and counters. r is what became of the request, decided by the
 * caller after its own work: SWF_CONTINUE forwarded, SWF_REPLY answered with
 * call.reply_status / reply_reason / reply_headers, SWF_DROP dropped; by is the filter that
 * decided it, or NULL when the chain passed the request on (CONTINUE) or the caller itself
 * answered or dropped it after the chain (the proxy's 513 or 500). Call it once per request
 * whose chain has run, never for SWF_WAIT (the chain has not ended) and never for a
 * response; both are ignored here. The hooks only observe.
 */
void sw_pipeline_done(struct sw_job *job, swf_result r, const struct swf_filter *by);

#endif /* SW_CORE_PIPELINE_H */
