/* helper_thread.h - what read's helper threads (the report, which also reads files, and the
 * reader of a pipe) share: their priority. report_thread_start (cli/report_thread.c) and
 * reader_start (cli/reader.c) create them, each calling helper_thread_start first.
 * The threads are drawn at the top of cli/cmd_read.c, which starts them. */
#ifndef SYNSCOPE_CLI_HELPER_THREAD_H
#define SYNSCOPE_CLI_HELPER_THREAD_H

/* Called first by a helper thread: gives it a lower priority (nice +HELPER_NICE) than the
 * thread of the flow table, which bounds read's wall time. On two cores the helpers have one
 * and the flow table the other; at equal priority, a helper woken by the flow table often
 * preempts it on its own core. Never a higher priority: on a busy machine read then takes a
 * smaller share, not a larger one. */
void helper_thread_start(void);

#endif
