/* report_thread.c - read's third stage: the report (verdicts, totals, output lines) on its own
 * thread, fed by the flow table's callbacks through a bounded single-producer,
 * single-consumer ring of finished attempts.
 *
 * The flow table emits attempts in order; they are copied into the ring and handed to
 * rep_attempt / rep_neighbour in that same order by the report thread, so the report is
 * exactly the one the callbacks would have written. The producer publishes its write index
 * once per PUBLISH items and the consumer its read index once per PUBLISH items; a side that
 * finds the ring full (producer) or empty (consumer) spins briefly, then sleeps on a
 * condition variable. The sleeping flags and indices are stored and loaded with sequential
 * consistency: a side announces that it sleeps, then looks at the other side's index once
 * more (under the lock); the other side stores its index, then looks at the flag, and wakes
 * it under the lock; one of them always sees the other.
 *
 * The thread may also take over a companion's work (read's reading, report_thread_adopt): it
 * then takes turns, a piece of the companion's work, then up to SERVE items, and sleeps only
 * when neither has anything to do. On two cores this keeps the flow table's thread alone on
 * one: with the reading on a thread of its own, the scheduler shared the other core between
 * the reader and the report in slices of milliseconds, longer than either ring lasts, and the
 * flow table's thread waited for one or the other (60-250 ms of a 1.1 s read). */
#include "report_thread.h"

#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "helper_thread.h"

#define SLOTS 512u /* a power of two, a multiple of PUBLISH */
#define SLOT_MASK (SLOTS - 1)
#define PUBLISH 16u
#define SPINS 200
#define SERVE 64u /* items between two turns of the companion: about one batch of its reading */

/* The companion's state (report_thread_adopt, report_thread_drop) */
enum companion_state { COMPANION_NONE, COMPANION_ADOPTED, COMPANION_DROP, COMPANION_DROPPED };

enum item_kind { ITEM_ATTEMPT = 1, ITEM_NEIGHBOUR };

struct item {
    uint8_t kind;
    union {
        struct flow_attempt attempt;
        struct flow_neighbour neighbour;
    } u;
};

struct report_thread {
    alignas(64) atomic_size_t head; /* items published */
    atomic_int done;                /* no more items will come */
    alignas(64) atomic_size_t tail; /* items handed to the report */
    alignas(64) atomic_int producer_sleeping;
    atomic_int consumer_sleeping;
    pthread_mutex_t lock;
    pthread_cond_t producer_wake, consumer_wake;

    alignas(64) size_t write; /* the producer's own */
    size_t tail_seen;
    alignas(64) size_t read; /* the consumer's own */

    struct rep_report *report;
    struct item *ring;
    pthread_t thread;

    atomic_int companion_state;        /* enum companion_state */
    struct report_companion companion; /* set before companion_state becomes ADOPTED */
    pthread_cond_t companion_gone;     /* COMPANION_DROPPED */
};

static void wake(struct report_thread *t, pthread_cond_t *cond)
{
    pthread_mutex_lock(&t->lock);
    pthread_cond_signal(cond);
    pthread_mutex_unlock(&t->lock);
}

/* Makes the items written visible; wakes a sleeping consumer once half of the ring is waiting
 * for it (or always: at the end, or when the ring is full), not for every few items: each
 * wake-up is a system call here and often a preemption of the other vCPU's thread. */
static void publish(struct report_thread *t, bool always)
{
    atomic_store_explicit(&t->head, t->write, memory_order_seq_cst);
    if (atomic_load_explicit(&t->consumer_sleeping, memory_order_seq_cst) != 0 &&
        (always || t->write - atomic_load_explicit(&t->tail, memory_order_acquire) >= SLOTS / 2)) {
        wake(t, &t->consumer_wake);
    }
}

/* The producer's next free slot, once the consumer has made room. */
static struct item *next_slot(struct report_thread *t)
{
    if (t->write - t->tail_seen == SLOTS) {
        t->tail_seen = atomic_load_explicit(&t->tail, memory_order_acquire);
        if (t->write - t->tail_seen == SLOTS) {
            publish(t, true); /* all written must be visible, or the consumer never frees */
        }
        for (int spin = 0; t->write - t->tail_seen == SLOTS; spin++) {
            if (spin < SPINS) {
                t->tail_seen = atomic_load_explicit(&t->tail, memory_order_acquire);
                continue;
            }
            pthread_mutex_lock(&t->lock);
            atomic_store_explicit(&t->producer_sleeping, 1, memory_order_seq_cst);
            t->tail_seen = atomic_load_explicit(&t->tail, memory_order_seq_cst);
            while (t->write - t->tail_seen == SLOTS) {
                pthread_cond_wait(&t->producer_wake, &t->lock);
                t->tail_seen = atomic_load_explicit(&t->tail, memory_order_seq_cst);
            }
            atomic_store_explicit(&t->producer_sleeping, 0, memory_order_relaxed);
            pthread_mutex_unlock(&t->lock);
        }
    }
    return &t->ring[t->write & SLOT_MASK];
}

static void pushed(struct report_thread *t)
{
    t->write++;
    if ((t->write & (PUBLISH - 1)) == 0) {
        publish(t, false);
    }
}

void report_thread_attempt(struct report_thread *t, const struct flow_attempt *attempt)
{
    struct item *it = next_slot(t);
    it->kind = ITEM_ATTEMPT;
    it->u.attempt = *attempt;
    pushed(t);
}

void report_thread_neighbour(struct report_thread *t, const struct flow_neighbour *neighbour)
{
    struct item *it = next_slot(t);
    it->kind = ITEM_NEIGHBOUR;
    it->u.neighbour = *neighbour;
    pushed(t);
}

/* Gives the slots read back; wakes a producer sleeping on a full ring once half of it is free
 * (or always: when the consumer is about to wait). */
static void give_back(struct report_thread *t, bool always)
{
    atomic_store_explicit(&t->tail, t->read, memory_order_seq_cst);
    if (atomic_load_explicit(&t->producer_sleeping, memory_order_seq_cst) != 0 &&
        (always || atomic_load_explicit(&t->head, memory_order_acquire) - t->read <= SLOTS / 2)) {
        wake(t, &t->producer_wake);
    }
}

/* The companion's turn: a piece of its work, and the answer to a request to drop it. True
 * when it did some work. */
static bool companion_turn(struct report_thread *t)
{
    int state = atomic_load_explicit(&t->companion_state, memory_order_acquire);
    if (state == COMPANION_ADOPTED) {
        return t->companion.work(t->companion.arg);
    }
    if (state == COMPANION_DROP) {
        pthread_mutex_lock(&t->lock);
        atomic_store_explicit(&t->companion_state, COMPANION_DROPPED, memory_order_release);
        pthread_cond_broadcast(&t->companion_gone);
        pthread_mutex_unlock(&t->lock);
    }
    return false;
}

/* Whether the companion needs the thread (under the lock, after consumer_sleeping is set). */
static bool companion_wants(struct report_thread *t)
{
    int state = atomic_load_explicit(&t->companion_state, memory_order_seq_cst);
    return state == COMPANION_DROP ||
           (state == COMPANION_ADOPTED && t->companion.ready(t->companion.arg));
}

/* The consumer: items in order into the report until the producer is done, taking turns with
 * the companion's work. */
static void *consume(void *arg)
{
    helper_thread_start();
    struct report_thread *t = arg;
    for (int spin = 0;;) {
        bool worked = companion_turn(t);
        size_t head = atomic_load_explicit(&t->head, memory_order_acquire);
        if (t->read == head) {
            if (atomic_load_explicit(&t->done, memory_order_acquire) != 0 &&
                atomic_load_explicit(&t->head, memory_order_acquire) == t->read) {
                return NULL;
            }
            if (worked) {
                spin = 0;
                continue;
            }
            if (spin++ < SPINS) {
                continue;
            }
            pthread_mutex_lock(&t->lock);
            atomic_store_explicit(&t->consumer_sleeping, 1, memory_order_seq_cst);
            while (atomic_load_explicit(&t->head, memory_order_seq_cst) == t->read &&
                   atomic_load_explicit(&t->done, memory_order_seq_cst) == 0 &&
                   !companion_wants(t)) {
                pthread_cond_wait(&t->consumer_wake, &t->lock);
            }
            atomic_store_explicit(&t->consumer_sleeping, 0, memory_order_relaxed);
            pthread_mutex_unlock(&t->lock);
            continue;
        }
        spin = 0;
        for (size_t served = 0; t->read != head && served < SERVE; served++) {
            const struct item *it = &t->ring[t->read & SLOT_MASK];
            if (it->kind == ITEM_ATTEMPT) {
                rep_attempt(t->report, &it->u.attempt);
            } else {
                rep_neighbour(t->report, &it->u.neighbour);
            }
            t->read++;
            if ((t->read & (PUBLISH - 1)) == 0) {
                give_back(t, false);
            }
        }
        give_back(t, t->read == head);
    }
}

int report_thread_start(struct report_thread **out, struct rep_report *report)
{
    *out = NULL;
    struct report_thread *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    t->ring = malloc(SLOTS * sizeof(*t->ring));
    if (t->ring == NULL) {
        free(t);
        return -1;
    }
    t->report = report;
    atomic_init(&t->head, 0);
    atomic_init(&t->tail, 0);
    atomic_init(&t->done, 0);
    atomic_init(&t->producer_sleeping, 0);
    atomic_init(&t->consumer_sleeping, 0);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->producer_wake, NULL);
    pthread_cond_init(&t->consumer_wake, NULL);
    pthread_cond_init(&t->companion_gone, NULL);
    atomic_init(&t->companion_state, COMPANION_NONE);
    /* the report thread takes no signals: SIGINT and SIGTERM stay with the reader thread, or
     * the flow table's when this one reads (a signal would cut its writes short) */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    int rc = pthread_create(&t->thread, NULL, consume, t);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&t->producer_wake);
        pthread_cond_destroy(&t->consumer_wake);
        pthread_cond_destroy(&t->companion_gone);
        pthread_mutex_destroy(&t->lock);
        free(t->ring);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void report_thread_adopt(struct report_thread *t, const struct report_companion *companion)
{
    t->companion = *companion;
    atomic_store_explicit(&t->companion_state, COMPANION_ADOPTED, memory_order_seq_cst);
    wake(t, &t->consumer_wake);
}

void report_thread_wake(struct report_thread *t)
{
    if (atomic_load_explicit(&t->consumer_sleeping, memory_order_seq_cst) != 0) {
        wake(t, &t->consumer_wake);
    }
}

void report_thread_drop(struct report_thread *t)
{
    if (t == NULL ||
        atomic_load_explicit(&t->companion_state, memory_order_acquire) != COMPANION_ADOPTED) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    atomic_store_explicit(&t->companion_state, COMPANION_DROP, memory_order_seq_cst);
    pthread_cond_signal(&t->consumer_wake);
    while (atomic_load_explicit(&t->companion_state, memory_order_acquire) != COMPANION_DROPPED) {
        pthread_cond_wait(&t->companion_gone, &t->lock);
    }
    pthread_mutex_unlock(&t->lock);
}

void report_thread_finish(struct report_thread *t)
{
    if (t == NULL) {
        return;
    }
    report_thread_drop(t);
    publish(t, true);
    atomic_store_explicit(&t->done, 1, memory_order_seq_cst);
    wake(t, &t->consumer_wake);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->producer_wake);
    pthread_cond_destroy(&t->consumer_wake);
    pthread_cond_destroy(&t->companion_gone);
    pthread_mutex_destroy(&t->lock);
    free(t->ring);
    free(t);
}
