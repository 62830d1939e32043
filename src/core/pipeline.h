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

#endif /* SW_CORE_PIPELINE_H */
