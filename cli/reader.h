/* reader.h - the read pipeline of 'synscope read': the reader opens the capture files one
 * after the other, reads them (cap_loop) and decodes every packet (dec_packet is pure), and
 * hands one compact record per packet to the analysing thread through a bounded
 * single-producer, single-consumer ring (cli/ring.h). The reading runs on a reader thread of
 * its own, on another thread a batch at a time (reader_pump: read's report thread, for files),
 * or on the analysing thread itself, within reader_next. */
#ifndef SYNSCOPE_READER_H
#define SYNSCOPE_READER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "decode.h"
#include "flows.h"

/* One packet, as the analysis needs it: what the decoder said and, for DEC_OK_*, the event.
 * The packet bytes are not kept. Packets are numbered by their order in the ring. Its time,
 * number and tuple hash are in its struct flow_input (reader_next). */
struct reader_record {
    uint8_t status;      /* enum dec_status */
    struct dec_event ev; /* filled when status is DEC_OK_TCP, DEC_OK_ICMP or DEC_OK_NEIGH */
};

/* How the reading ended. */
enum reader_end {
    READER_END_DONE = 0, /* every file was read to its end */
    READER_END_STOPPED,  /* stopped: reader_stop(), or *stop_flag became non-zero */
    READER_END_INPUT,    /* a file could not be opened or is damaged: the message says which */
    READER_END_FILTER,   /* the BPF filter could not be set on a file: the message says why */
};

struct reader_config {
    const char *const *paths; /* the files, in order; "-" is standard input */
    size_t path_count;
    const char *filter;             /* BPF expression set on every file, or NULL */
    int (*supported)(int linktype); /* link types decode/ reads (see cap_open_file) */
    const atomic_int *stop_flag;    /* non-zero: stop reading (a signal handler sets it) */
    const sigset_t *reader_signals; /* delivered to the reader thread while it lives (so that
                                     * a read waiting on a pipe is cut short), or NULL */
    bool track_position;            /* keep reader_position() up to date */
    bool threaded;                  /* false: read in the caller's thread, within reader_next */
    /* non-NULL (threaded is then ignored): no reader thread; another thread, the host, reads
     * by calling reader_pump, and host_wake(host_arg) is called (from the consumer's thread)
     * when the ring has room again or the reading should stop. The stop signals are then left
     * to the caller's thread. */
    void (*host_wake)(void *host_arg);
    void *host_arg;
    const struct flow_config *flows; /* the flow table's: events are hashed for it (the hash
                                      * costs the analysing thread nothing), or NULL */
};

struct reader;

/* Starts reading. With cfg->threaded, starts the reader thread; when it cannot be created the
 * reader silently reads in the caller's thread instead (same records, same end). The signals
 * in cfg->reader_signals are blocked in the calling thread until reader_finish. cfg and the
 * strings it points to must outlive the reader. Returns 0, or -1 when out of memory. */
int reader_start(struct reader **out, const struct reader_config *cfg);

/* Most records reader_next hands out at once. */
#define READER_MAX_CHUNK 256u

/* The next records, in packet order: sets *records to up to a batch of them and returns how
 * many, waiting for the reader if needed; 0 once the reading has ended and every record was
 * taken. *inputs is the same packets as the flow table takes them (flow_events): inputs[i] is
 * records[i]'s event (ev NULL when it is none), its capture time, its number (the first
 * packet read is 1) and, with cfg->flows, its hash. Both stay valid until reader_release. */
size_t reader_next(struct reader *r, const struct reader_record **records,
                   const struct flow_input **inputs);

/* The host's piece of reading (cfg->host_wake): reads up to a batch of records when the ring
 * has room for one, or ends the reading. False when there was nothing to do. Only the host
 * calls it, and not after reader_finish has begun. */
bool reader_pump(struct reader *r);

/* Whether reader_pump would do something now: the reading has not ended and half the ring is
 * free, or a stop was asked. Loads with sequential consistency (see report_companion). */
bool reader_pump_ready(const struct reader *r);

/* Gives back the records of the last reader_next, which the reader may then overwrite. */
void reader_release(struct reader *r, size_t count);

/* Asks the reader to stop (the consumer does not want more records); reader_next then returns
 * what was already read and 0. */
void reader_stop(struct reader *r);

/* Bytes of the input consumed so far, all files together (cfg->track_position). Any thread. */
uint64_t reader_position(const struct reader *r);

/* Stops the reader if it still runs, waits for it (with a host, the host must no longer call
 * reader_pump), restores the caller's signal mask and frees it. Returns how the reading ended;
 * for READER_END_INPUT and READER_END_FILTER the one-line message is in errbuf. errno is left
 * as it was. */
enum reader_end reader_finish(struct reader *r, char *errbuf, size_t errlen);

#endif
