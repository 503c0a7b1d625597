/* helper_thread.h - what read's helper threads (the report, which also reads files, and the
 * reader of a pipe) share, and the one picture of read's threads. report_thread_start
 * (cli/report_thread.c) and reader_start (cli/reader.c) create them, each calling
 * helper_thread_start first; cli/cmd_read.c wires them together.
 *
 * synscope read FILE...: two threads (regular files)
 *
 *          report thread (nice +5)                        main thread
 *   +----------------------------------+   ring 1    +---------------------------+
 *   | reading, the companion's turn:   |  4,096 rec. |                           |
 *   |  libpcap > dec_packet > hash  ---+------------>| reader_next: flow table   |
 *   |  (reader_pump, a batch of 256)   |  reader.c   |  (flow_events)            |
 *   |                                  |             |                           |
 *   | report, up to 64 items a turn:   |   ring 2    |  finished attempts and    |
 *   |  rep_attempt, rep_neighbour  <---+-------------+- neighbours (callbacks:   |
 *   |  > output file or stdout         |  512 items  |  report_thread_attempt)   |
 *   +----------------------------------+ report_th.c +---------------------------+
 *
 * synscope read - (a pipe, a terminal, or any file not regular): three threads
 *
 *   reader thread (nice +5)  --ring 1-->  main thread  --ring 2-->  report thread (nice +5)
 *   libpcap > dec_packet > hash           flow table                report > output
 *   (takes SIGINT and SIGTERM: a read waiting on the pipe is cut short; the others block them)
 *
 * Who wakes whom (cli/ring.h: always under the ring's lock, and only a side that sleeps):
 *   ring 1, producer (report thread or reader thread) > main: once a quarter of the ring is
 *     filled (a pipe: every record; always at the end of a file and at the end);
 *   ring 1, main > producer: once half the ring is free (files: report_thread_wake, which
 *     wakes the report thread for its reading turn; a pipe: the reader thread's condition);
 *   ring 2, main > report thread: once half the ring waits, or when ring 2 is full, or at
 *     the end;
 *   ring 2, report thread > main (asleep on a full ring 2): once half of it is free, or when
 *     the report thread has emptied it.
 * The report thread sleeps only when it has neither reading nor report work. Without threads
 * (one could not be created) the same code runs on the main thread: the reading within
 * reader_next, the report within the flow table's callbacks. */
#ifndef SYNSCOPE_CLI_HELPER_THREAD_H
#define SYNSCOPE_CLI_HELPER_THREAD_H

/* Called first by a helper thread: gives it a lower priority (nice +HELPER_NICE) than the
 * thread of the flow table, which bounds read's wall time. On two cores the helpers have one
 * and the flow table the other; at equal priority, a helper woken by the flow table often
 * preempts it on its own core. Never a higher priority: on a busy machine read then takes a
 * smaller share, not a larger one. */
void helper_thread_start(void);

#endif
