/* report_thread.h - the report on a thread of its own (synscope read): the flow table's
 * callbacks hand finished attempts and resolved addresses over in order, the thread feeds
 * them to rep_attempt and rep_neighbour. */
#ifndef SYNSCOPE_REPORT_THREAD_H
#define SYNSCOPE_REPORT_THREAD_H

#include "decode.h"
#include "report.h"

struct report_thread;

/* Starts the thread for report. Until report_thread_finish, nothing else may call into the
 * report. Returns 0, or -1 (no thread: the caller reports directly). */
int report_thread_start(struct report_thread **out, struct rep_report *report);

/* Copies the attempt (or the neighbour) for the report thread; waits while its queue is
 * full. Called from one thread only (the flow table's). */
void report_thread_attempt(struct report_thread *t, const struct flow_attempt *attempt);
void report_thread_neighbour(struct report_thread *t, const struct flow_neighbour *neighbour);

/* Waits until everything handed over is in the report, ends the thread and frees it. The
 * report is the caller's again. NULL is allowed. */
void report_thread_finish(struct report_thread *t);

#endif
