/* report_thread.c - read's third stage: the report (verdicts, totals, output lines) on its own
 * thread, fed by the flow table's callbacks through a bounded single-producer,
 * single-consumer ring of finished attempts.
 *
 * The flow table emits attempts in order; they are copied into the ring and handed to
 * rep_attempt / rep_neighbour in that same order by the report thread, so the report is
 * exactly the one the callbacks would have written. The ring is cli/ring.h's (its contract
 * is stated there; the threads are drawn in cli/cmd_read.c). The producer publishes its
 * write index once per PUBLISH items and the consumer its read index once per PUBLISH items; a
 * side that finds the ring full (producer) or empty (consumer) spins briefly, then sleeps on a
 * condition variable: the producer until a slot is free, the consumer until an item, the end
 * or the companion's work is there.
 *
 * The thread may also take over a companion's work (read's reading, report_thread_adopt): it
 * then takes turns, a piece of the companion's work, then up to SERVE items, and sleeps only
 * when neither has anything to do. On two cores this keeps the flow table's thread alone on
 * one: with the reading on a thread of its own, the scheduler would share the other core
 * between the reader and the report in slices of milliseconds, longer than either ring lasts,
 * and the flow table's thread would wait for one or the other. */
#include "report_thread.h"

#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "helper_thread.h"
#include "ring.h"

#define SLOTS 512u /* a power of two, a multiple of PUBLISH */
#define PUBLISH 16u
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
    struct ring q; /* the items' indices; q.closed: no more items will come */

    alignas(64) struct rep_report *report;
    struct item *ring;
    pthread_t thread;

    atomic_int companion_state;        /* enum companion_state */
    struct report_companion companion; /* set before companion_state becomes ADOPTED */
    pthread_cond_t companion_gone;     /* COMPANION_DROPPED */
};

/* The producer's next free slot, once the consumer has made room (a slot: the consumer
 * gives slots back every PUBLISH items). */
static struct item *next_slot(struct report_thread *t)
{
    if (ring_full(&t->q) && ring_room(&t->q) == 0) {
        ring_wait_room(&t->q, SLOTS - 1, NULL, NULL);
    }
    return &t->ring[ring_slot(&t->q)];
}

/* Counts the item written; every PUBLISH items makes them visible, and wakes a sleeping
 * consumer once half of the ring is waiting for it, not for every few items: each wake-up is
 * a system call here and often a preemption of the other vCPU's thread. */
static void pushed(struct report_thread *t)
{
    if ((ring_push(&t->q) & (PUBLISH - 1)) == 0) {
        ring_publish(&t->q, SLOTS / 2);
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
    ring_give_back(&t->q, always ? SIZE_MAX : SLOTS / 2);
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
        pthread_mutex_lock(&t->q.lock);
        atomic_store_explicit(&t->companion_state, COMPANION_DROPPED, memory_order_release);
        pthread_cond_broadcast(&t->companion_gone);
        pthread_mutex_unlock(&t->q.lock);
    }
    return false;
}

/* Whether the companion needs the thread (under the lock, after consumer_sleeping is set). */
static bool companion_wants(void *arg)
{
    struct report_thread *t = arg;
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
        size_t ready = ring_poll(&t->q);
        if (ready == 0) {
            if (ring_closed(&t->q) && ring_poll(&t->q) == 0) {
                return NULL;
            }
            if (worked) {
                spin = 0;
                continue;
            }
            if (spin++ < RING_SPINS) {
                continue;
            }
            ring_sleep_for_items(&t->q, companion_wants, t);
            continue;
        }
        spin = 0;
        size_t served = ready < SERVE ? ready : SERVE;
        for (size_t i = 0; i < served; i++) {
            const struct item *it = &t->ring[ring_index(&t->q, t->q.read)];
            if (it->kind == ITEM_ATTEMPT) {
                rep_attempt(t->report, &it->u.attempt);
            } else {
                rep_neighbour(t->report, &it->u.neighbour);
            }
            ring_take(&t->q, 1);
            if ((t->q.read & (PUBLISH - 1)) == 0) {
                give_back(t, false);
            }
        }
        give_back(t, served == ready);
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
    ring_init(&t->q, SLOTS);
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
        ring_destroy(&t->q);
        pthread_cond_destroy(&t->companion_gone);
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
    ring_signal(&t->q, &t->q.consumer_wake, false);
}

void report_thread_wake(struct report_thread *t)
{
    if (atomic_load_explicit(&t->q.consumer_sleeping, memory_order_seq_cst) != 0) {
        ring_signal(&t->q, &t->q.consumer_wake, false);
    }
}

void report_thread_drop(struct report_thread *t)
{
    if (t == NULL ||
        atomic_load_explicit(&t->companion_state, memory_order_acquire) != COMPANION_ADOPTED) {
        return;
    }
    pthread_mutex_lock(&t->q.lock);
    atomic_store_explicit(&t->companion_state, COMPANION_DROP, memory_order_seq_cst);
    pthread_cond_signal(&t->q.consumer_wake);
    while (atomic_load_explicit(&t->companion_state, memory_order_acquire) != COMPANION_DROPPED) {
        pthread_cond_wait(&t->companion_gone, &t->q.lock);
    }
    pthread_mutex_unlock(&t->q.lock);
}

void report_thread_finish(struct report_thread *t)
{
    if (t == NULL) {
        return;
    }
    report_thread_drop(t);
    ring_close(&t->q);
    pthread_join(t->thread, NULL);
    ring_destroy(&t->q);
    pthread_cond_destroy(&t->companion_gone);
    free(t->ring);
    free(t);
}
