/* signals.h - the one stop flag of every command: SIGINT or SIGTERM asks for a stop. */
#ifndef SYNSCOPE_CLI_SIGNALS_H
#define SYNSCOPE_CLI_SIGNALS_H

#include <stdatomic.h>

/* SIGINT or SIGTERM received: read and live stop reading and write the report of what they
 * have; probe stops sending and writes what it found. A second signal (either of them) kills
 * at once, so a report that takes long to write can still be cut short. An atomic (lock-free,
 * so usable in a handler): read's reader thread takes the signals while the main thread looks
 * at the flag. */
extern atomic_int stop_signal;

/* Installs the handler that sets stop_signal for SIGINT and SIGTERM, without SA_RESTART: a
 * read or poll that waits returns at once with EINTR. */
void catch_stop_signals(void);

#endif
