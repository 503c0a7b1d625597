/* report_thread.h - the report on a thread of its own (synscope read): the flow table's
 * callbacks hand finished attempts and resolved addresses over in order, the thread feeds
 * them to rep_attempt and rep_neighbour. The thread can also do a companion's work (read's
 * reading) in turns with the report's. */
#ifndef SYNSCOPE_REPORT_THREAD_H
#define SYNSCOPE_REPORT_THREAD_H

#include <stdbool.h>

#include "flows.h"
#include "report.h"

/* Work the report thread does besides the report, taking turns with it. */
struct report_companion {
    /* does a piece of the work (about as long as SERVE items of the report); false when
     * there was nothing to do */
    bool (*work)(void *arg);
    /* whether work would do something now: called after the thread announced that it
     * sleeps, so it must load what other threads store with sequential consistency (those
     * threads then call report_thread_wake) */
    bool (*ready)(void *arg);
    void *arg;
};

struct report_thread;

/* Starts the thread for report. Until report_thread_finish, nothing else may call into the
 * report. Returns 0, or -1 (no thread: the caller reports directly). */
int report_thread_start(struct report_thread **out, struct rep_report *report);

/* Copies the attempt (or the neighbour) for the report thread; waits while its queue is
 * full. Called from one thread only (the flow table's). */
void report_thread_attempt(struct report_thread *t, const struct flow_attempt *attempt);
void report_thread_neighbour(struct report_thread *t, const struct flow_neighbour *neighbour);

/* Gives the thread the companion's work, until report_thread_drop. Once at most. */
void report_thread_adopt(struct report_thread *t, const struct report_companion *companion);

/* Wakes the thread if it sleeps: the companion has work for it. Any thread; call after
 * storing (with sequential consistency) what makes the companion ready. */
void report_thread_wake(struct report_thread *t);

/* Waits until the thread no longer calls the companion. NULL, or no companion, is allowed. */
void report_thread_drop(struct report_thread *t);

/* Waits until everything handed over is in the report, ends the thread and frees it. The
 * report is the caller's again. NULL is allowed. */
void report_thread_finish(struct report_thread *t);

#endif
