/* reader.c - the read pipeline: a reader thread (cap_loop and dec_packet) and the analysing
 * thread, joined by a bounded single-producer, single-consumer ring of decoded records. The
 * producer may also be another thread's companion work instead of a thread of its own (a host
 * calling reader_pump: read's report thread, for files), or run inside reader_next.
 *
 * The ring (cli/ring.h, which states its memory-ordering contract; the threads are drawn in
 * cli/cmd_read.c) holds RING_RECORDS records of about 150 bytes (600 KiB: within the L2
 * cache of one core). The producer writes records in place (dec_packet decodes straight into
 * the ring slot) and publishes its write index once per BATCH records, the consumer takes up
 * to BATCH records at a time and publishes its read index after each: two shared-index stores
 * per batch, none per packet. A side that finds the ring full (producer) or empty (consumer)
 * spins briefly, then sleeps on a condition variable, and is woken only once the other side
 * has made real progress (half the ring free; a quarter of it filled), so a slower consumer
 * does not keep the reader thread spinning on the second core, nor waking for every batch. */
#include "reader.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_thread.h"
#include "ring.h"

#define RING_RECORDS 4096u /* a power of two, a multiple of BATCH */
#define BATCH                                                                                      \
    READER_MAX_CHUNK         /* records per publication of the write index, and per reader_next    \
                              */
#define POSITION_EVERY 4096u /* records between two updates of the position */

/* cap_loop return values of the producer's callback */
#define LOOP_STOP 1  /* stop reading: stop requested */
#define LOOP_PAUSE 2 /* reading in the caller's thread: a batch is ready */

struct reader {
    /* the records' indices; q.closed: end and message are final (the reading has ended) */
    struct ring q;
    alignas(64) atomic_uint_least64_t position; /* bytes consumed, all files (the producer) */
    atomic_int stop_request;                    /* the consumer */
    atomic_int released; /* reader_finish: the parked producer may leave (q.producer_wake) */

    /* the producer's own */
    alignas(64) size_t publish_mask; /* publish when (write & publish_mask) == 0 */
    size_t wake_after;               /* records ahead of a sleeping consumer before waking it */
    size_t pause_at;                 /* in the caller's thread: stop the loop at this write count */
    struct cap_source *src;          /* the file being read, or NULL */
    size_t file_index;               /* next file to open */
    uint64_t bytes_before;           /* sizes of the files read to their end */
    enum reader_end end;
    char message[CAP_ERRBUF_SIZE];

    /* the consumer's own */
    alignas(64) bool consumer_stopped;

    struct reader_config cfg;
    struct reader_record *ring;
    struct flow_input *inputs; /* ring[i]'s, for flow_events */
    pthread_t thread;
    bool threaded; /* the reader thread exists */
    bool hosted;   /* cfg.host_wake: the host reads (reader_pump) */
    bool masked;   /* saved_mask holds the caller's mask */
    sigset_t saved_mask;
};

static bool stop_asked(const struct reader *r, memory_order order)
{
    return atomic_load_explicit(&r->stop_request, order) != 0 ||
           (r->cfg.stop_flag != NULL && atomic_load_explicit(r->cfg.stop_flag, order) != 0);
}

static bool stop_wanted(const struct reader *r)
{
    return stop_asked(r, memory_order_relaxed);
}

/* ---- producer ------------------------------------------------------------------------ */

/* Makes the records written so far visible, and wakes a sleeping consumer once there are
 * enough of them (or always, at the end). */
static void publish(struct reader *r, bool final)
{
    /* the position may cost a system call (ftello on libpcap's stream): once per
     * POSITION_EVERY records is enough for a line redrawn four times a second */
    if (r->cfg.track_position && r->src != NULL && (r->q.write & (POSITION_EVERY - 1)) == 0) {
        atomic_store_explicit(&r->position, r->bytes_before + cap_position(r->src),
                              memory_order_relaxed);
    }
    ring_publish(&r->q, final ? 0 : r->wake_after);
}

static bool stop_callback(void *r)
{
    return stop_wanted(r);
}

static int on_packet(const struct cap_packet *pkt, void *user)
{
    struct reader *r = user;
    /* a full ring: wait until the consumer has taken half of it */
    if (ring_full(&r->q) && !ring_wait_room(&r->q, RING_RECORDS / 2, stop_callback, r)) {
        return LOOP_STOP;
    }
    size_t slot = ring_slot(&r->q);
    struct reader_record *rec = &r->ring[slot];
    struct flow_input *in = &r->inputs[slot];
    rec->status =
        (uint8_t)dec_packet(pkt->data, pkt->caplen, pkt->wirelen, pkt->linktype, &rec->ev);
    bool looked_up = rec->status == DEC_OK_TCP || rec->status == DEC_OK_ICMP;
    in->ev = looked_up || rec->status == DEC_OK_NEIGH ? &rec->ev : NULL;
    in->ts_ns = pkt->ts_ns;
    in->pkt = (uint32_t)(r->q.write + 1); /* wraps, as packet numbers do */
    in->hashed =
        looked_up && r->cfg.flows != NULL && flow_event_hash(r->cfg.flows, &rec->ev, &in->hash);
    size_t written = ring_push(&r->q);
    if ((written & r->publish_mask) == 0) {
        publish(r, false);
        if (stop_wanted(r)) {
            return LOOP_STOP;
        }
    }
    return written == r->pause_at ? LOOP_PAUSE : 0;
}

/* Opens the next file. False when the reading ends here (r->end set). */
static bool open_next(struct reader *r)
{
    if (r->file_index == r->cfg.path_count) {
        r->end = READER_END_DONE;
        return false;
    }
    if (stop_wanted(r)) {
        r->end = READER_END_STOPPED;
        return false;
    }
    if (r->q.write != 0) {
        publish(r, true); /* the next file may be a pipe that keeps us waiting */
    }
    int rc = cap_open_file(&r->src, r->cfg.paths[r->file_index], r->cfg.supported, r->message,
                           sizeof(r->message));
    if (rc != 0) {
        r->src = NULL;
        r->end = stop_wanted(r) ? READER_END_STOPPED : READER_END_INPUT;
        return false;
    }
    if (r->cfg.filter != NULL &&
        cap_set_filter(r->src, r->cfg.filter, r->message, sizeof(r->message)) != 0) {
        cap_close(r->src);
        r->src = NULL;
        r->end = READER_END_FILTER;
        return false;
    }
    /* a pipe or a terminal: every packet is handed over at once (it may be the last for a
     * while); a regular file: in batches */
    bool regular = cap_size(r->src) > 0;
    r->publish_mask = regular ? BATCH - 1 : 0;
    r->wake_after = regular ? RING_RECORDS / 4 : 1;
    return true;
}

/* Reads until the end, an error or a stop (then r->end is set and true is returned), or, in
 * the caller's thread, until r->pause_at records are written (false). */
static bool produce(struct reader *r)
{
    for (;;) {
        if (r->src == NULL && !open_next(r)) {
            return true;
        }
        int rc = cap_loop(r->src, on_packet, r, r->message, sizeof(r->message));
        if (rc == LOOP_PAUSE) {
            return false;
        }
        uint64_t size = cap_size(r->src);
        cap_close(r->src);
        r->src = NULL;
        r->file_index++;
        r->bytes_before += size;
        if (r->cfg.track_position) {
            atomic_store_explicit(&r->position, r->bytes_before, memory_order_relaxed);
        }
        /* a read cut short by a signal (EINTR) is not an input error */
        if (rc == LOOP_STOP || stop_wanted(r)) {
            r->end = READER_END_STOPPED;
            return true;
        }
        if (rc < 0) {
            r->end = READER_END_INPUT;
            return true;
        }
    }
}

static void *reader_main(void *arg)
{
    helper_thread_start();
    struct reader *r = arg;
    produce(r);
    publish(r, true);
    ring_close(&r->q);
    /* stay until reader_finish: the stop signals keep a thread that takes them */
    pthread_mutex_lock(&r->q.lock);
    while (atomic_load_explicit(&r->released, memory_order_acquire) == 0) {
        pthread_cond_wait(&r->q.producer_wake, &r->q.lock);
    }
    pthread_mutex_unlock(&r->q.lock);
    return NULL;
}

/* ---- consumer ------------------------------------------------------------------------ */

int reader_start(struct reader **out, const struct reader_config *cfg)
{
    *out = NULL;
    struct reader *r = aligned_alloc(alignof(struct reader), sizeof(struct reader));
    struct reader_record *ring = malloc(RING_RECORDS * sizeof(*ring));
    struct flow_input *inputs = malloc(RING_RECORDS * sizeof(*inputs));
    if (r == NULL || ring == NULL || inputs == NULL) {
        free(r);
        free(ring);
        free(inputs);
        return -1;
    }
    memset(r, 0, sizeof(*r));
    ring_init(&r->q, RING_RECORDS);
    atomic_init(&r->position, 0);
    atomic_init(&r->stop_request, 0);
    atomic_init(&r->released, 0);
    r->cfg = *cfg;
    r->ring = ring;
    r->inputs = inputs;
    r->pause_at = SIZE_MAX;
    if (cfg->host_wake != NULL) {
        r->hosted = true;
    } else if (cfg->threaded && pthread_create(&r->thread, NULL, reader_main, r) == 0) {
        r->threaded = true;
        if (cfg->reader_signals != NULL &&
            pthread_sigmask(SIG_BLOCK, cfg->reader_signals, &r->saved_mask) == 0) {
            r->masked = true;
        }
    }
    *out = r;
    return 0;
}

/* Reading in the caller's thread: reads up to a batch. */
static void produce_inline(struct reader *r)
{
    if (atomic_load_explicit(&r->q.closed, memory_order_relaxed) != 0) {
        return;
    }
    r->pause_at = r->q.write + BATCH;
    if (produce(r)) {
        ring_close(&r->q);
    } else {
        ring_publish(&r->q, 0);
    }
}

bool reader_pump(struct reader *r)
{
    if (atomic_load_explicit(&r->q.closed, memory_order_relaxed) != 0) {
        return false;
    }
    size_t room = ring_room(&r->q);
    if (room < BATCH && !stop_wanted(r)) {
        return false;
    }
    r->pause_at = r->q.write + (room < BATCH ? room : BATCH);
    if (produce(r)) {
        publish(r, true);
        ring_close(&r->q);
    } else {
        publish(r, false);
    }
    return true;
}

bool reader_pump_ready(const struct reader *r)
{
    if (atomic_load_explicit(&r->q.closed, memory_order_seq_cst) != 0) {
        return false;
    }
    /* the host is the producer: q.write is its own */
    size_t tail = atomic_load_explicit(&r->q.tail, memory_order_seq_cst);
    return r->q.write - tail <= RING_RECORDS / 2 || stop_asked(r, memory_order_seq_cst);
}

size_t reader_next(struct reader *r, const struct reader_record **records,
                   const struct flow_input **inputs)
{
    if (r->consumer_stopped) {
        return 0;
    }
    size_t count = ring_ready(&r->q);
    if (count == 0 && (count = ring_poll(&r->q)) == 0) {
        if (r->threaded || r->hosted) {
            count = ring_wait_items(&r->q);
        } else {
            produce_inline(r);
            count = ring_poll(&r->q);
        }
        if (count == 0) {
            return 0;
        }
    }
    size_t slot = ring_index(&r->q, r->q.read);
    size_t to_wrap = RING_RECORDS - slot;
    count = count < BATCH ? count : BATCH;
    count = count < to_wrap ? count : to_wrap;
    *records = &r->ring[slot];
    *inputs = &r->inputs[slot];
    return count;
}

void reader_release(struct reader *r, size_t count)
{
    ring_take(&r->q, count);
    /* the producer waits for half the ring */
    ring_give_back(&r->q, RING_RECORDS / 2);
    if (r->hosted &&
        atomic_load_explicit(&r->q.head, memory_order_relaxed) - r->q.read <= RING_RECORDS / 2) {
        r->cfg.host_wake(r->cfg.host_arg);
    }
}

void reader_stop(struct reader *r)
{
    r->consumer_stopped = true;
    atomic_store_explicit(&r->stop_request, 1, memory_order_seq_cst);
    if (r->threaded) {
        ring_signal(&r->q, &r->q.producer_wake, true);
    } else if (r->hosted) {
        r->cfg.host_wake(r->cfg.host_arg);
    }
}

uint64_t reader_position(const struct reader *r)
{
    return atomic_load_explicit(&r->position, memory_order_relaxed);
}

enum reader_end reader_finish(struct reader *r, char *errbuf, size_t errlen)
{
    int saved_errno = errno;
    if (r->threaded) {
        if (!ring_closed(&r->q)) {
            reader_stop(r);
        }
        pthread_mutex_lock(&r->q.lock);
        atomic_store_explicit(&r->released, 1, memory_order_release);
        pthread_cond_broadcast(&r->q.producer_wake);
        pthread_mutex_unlock(&r->q.lock);
        pthread_join(r->thread, NULL);
        if (r->masked) {
            pthread_sigmask(SIG_SETMASK, &r->saved_mask, NULL);
        }
    } else if (atomic_load_explicit(&r->q.closed, memory_order_relaxed) == 0) {
        cap_close(r->src); /* stopped by the consumer in the middle of a file */
        r->src = NULL;
        r->end = READER_END_STOPPED;
    }
    enum reader_end end = r->end;
    if (end == READER_END_INPUT || end == READER_END_FILTER) {
        snprintf(errbuf, errlen, "%s", r->message);
    }
    ring_destroy(&r->q);
    free(r->ring);
    free(r->inputs);
    free(r);
    errno = saved_errno;
    return end;
}
