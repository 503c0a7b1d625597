/* progress.h - the progress line of 'synscope read' on a terminal: bytes read of the total,
 * percent, packets per second, attempts open and the time left, redrawn in place. */
#ifndef SYNSCOPE_PROGRESS_H
#define SYNSCOPE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
    FILE *tty;            /* where the line is drawn (standard error) */
    uint64_t total_bytes; /* all inputs' sizes */
    int64_t started_ns;   /* monotonic clock at progress_start */
    int64_t drawn_ns;     /* when the line was last drawn, 0 = never */
    int width;            /* terminal columns, the line is cut to fit */
};

/* Starts the clock. The line is drawn on tty (a terminal) by progress_update. */
void progress_start(struct progress *p, FILE *tty, uint64_t total_bytes);

/* Meant to be called every few thousand packets: looks at the clock and redraws the line when
 * it was drawn more than a quarter of a second ago (or never). bytes: consumed so far. */
void progress_update(struct progress *p, uint64_t bytes, uint64_t packets, uint64_t attempts_open);

/* Erases the line, if one was drawn, so that what comes next starts on a clean line. */
void progress_end(struct progress *p);

#endif
