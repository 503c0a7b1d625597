/* ring.h - read's bounded single-producer, single-consumer ring: the indices, and the sleeping
 * and waking of its two sides. Both of read's rings use it (cli/reader.c: decoded records to
 * the flow table; cli/report_thread.c: finished attempts to the report; the threads are drawn
 * in cli/cmd_read.c).
 *
 * The slots are the owner's: one or more arrays of `capacity` fixed-size entries (a power of
 * two), slot i of the stream at index i & (capacity - 1). The producer fills the slot at its
 * write count in place (ring_slot), counts it (ring_push) and, when its batching says so,
 * publishes (ring_publish); the consumer takes the published slots from its read count,
 * counts them (ring_take) and gives them back (ring_give_back). Indices are counts since the
 * start and wrap with size_t; a slot is the producer's while write - tail < capacity.
 *
 * The contract, once:
 *  - Who calls what. One producer and one consumer, each calling only the functions of its
 *    own side below (the side may change threads only through a synchronisation of its own,
 *    such as a thread's creation or join). The owner may use `lock` and the two condition
 *    variables for its own waits (a stop, an end), and `closed` as the producer's end mark.
 *  - What makes a slot's contents visible. The producer writes a slot with plain stores, then
 *    stores head (ring_publish, sequentially consistent, so a release); the consumer loads
 *    head with acquire (or seq_cst) and reads only slots below it: every write to those slots
 *    happens before its reads. Back the other way, the consumer's reads of a slot happen
 *    before its store of tail (release), and the producer writes a slot again only after
 *    loading a tail above it with acquire. closed is stored after the last publication: a
 *    consumer that loads closed non-zero (acquire) and then head sees the final head.
 *  - Sleeping without missing a wake-up (Dekker's pattern): a side about to sleep takes the
 *    lock, stores its sleeping flag, then loads the other side's index once more; the other
 *    side stores its index, then loads the flag, and signals under the lock. All four are
 *    sequentially consistent, so one of the two always sees the other's store; the lock
 *    closes the gap between the sleeper's last look and its pthread_cond_wait.
 *  - When to wake is the owner's policy (wake_after, wake_at, resume_at below): the ring only
 *    guarantees that a side asleep is woken when it is told to be, and that an index stored
 *    is seen. */
#ifndef SYNSCOPE_CLI_RING_H
#define SYNSCOPE_CLI_RING_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_SPINS 200 /* looks at the other side's index before sleeping */

struct ring {
    /* written by the producer */
    alignas(64) atomic_size_t head; /* slots published */
    atomic_int closed;              /* non-zero: no more slots will come; head is final */
    /* written by the consumer */
    alignas(64) atomic_size_t tail; /* slots given back */
    /* written only to sleep and wake */
    alignas(64) atomic_int producer_sleeping;
    atomic_int consumer_sleeping;
    size_t capacity; /* a power of two; never written after ring_init */
    pthread_mutex_t lock;
    pthread_cond_t producer_wake, consumer_wake;
    /* the producer's own */
    alignas(64) size_t write; /* slots written (published or not) */
    size_t tail_seen;         /* the last tail loaded */
    /* the consumer's own */
    alignas(64) size_t read; /* slots taken */
    size_t head_seen;        /* the last head loaded */
};

static inline void ring_init(struct ring *q, size_t capacity)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->closed, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->producer_sleeping, 0);
    atomic_init(&q->consumer_sleeping, 0);
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->producer_wake, NULL);
    pthread_cond_init(&q->consumer_wake, NULL);
    q->write = q->tail_seen = q->read = q->head_seen = 0;
}

static inline void ring_destroy(struct ring *q)
{
    pthread_cond_destroy(&q->producer_wake);
    pthread_cond_destroy(&q->consumer_wake);
    pthread_mutex_destroy(&q->lock);
}

static inline void ring_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Signals (or broadcasts) cond under the lock. Any thread. */
static inline void ring_signal(struct ring *q, pthread_cond_t *cond, bool all)
{
    pthread_mutex_lock(&q->lock);
    if (all) {
        pthread_cond_broadcast(cond);
    } else {
        pthread_cond_signal(cond);
    }
    pthread_mutex_unlock(&q->lock);
}

/* The index of slot n in the owner's arrays. Either side. */
static inline size_t ring_index(const struct ring *q, size_t n)
{
    return n & (q->capacity - 1);
}

/* ---- the producer's side ---- */

/* Whether the ring was full at the last look at tail (no atomic access). */
static inline bool ring_full(const struct ring *q)
{
    return q->write - q->tail_seen == q->capacity;
}

/* Loads tail (acquire): the free slots now. */
static inline size_t ring_room(struct ring *q)
{
    q->tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
    return q->capacity - (q->write - q->tail_seen);
}

/* The next slot to fill (check ring_full first). */
static inline size_t ring_slot(const struct ring *q)
{
    return ring_index(q, q->write);
}

/* Counts the slot just filled; it is not yet visible. Returns the new write count. */
static inline size_t ring_push(struct ring *q)
{
    return ++q->write;
}

/* Whether every slot written is published. */
static inline bool ring_all_published(const struct ring *q)
{
    return atomic_load_explicit(&q->head, memory_order_relaxed) == q->write;
}

/* Makes the slots written visible, and wakes a sleeping consumer when at least wake_after
 * slots are waiting for it (0: whenever it sleeps). */
static inline void ring_publish(struct ring *q, size_t wake_after)
{
    atomic_store_explicit(&q->head, q->write, memory_order_seq_cst);
    if (atomic_load_explicit(&q->consumer_sleeping, memory_order_seq_cst) != 0 &&
        (wake_after == 0 ||
         q->write - atomic_load_explicit(&q->tail, memory_order_acquire) >= wake_after)) {
        ring_signal(q, &q->consumer_wake, false);
    }
}

/* The ring is full (ring_full): publishes what is unpublished (or the consumer would never
 * free a slot), spins a little, then sleeps until at most resume_at slots are in use or
 * stop(arg), which is then checked under the lock after each wake-up (whoever makes it true
 * signals producer_wake). Returns false when it left on stop(arg). */
static inline bool ring_wait_room(struct ring *q, size_t resume_at, bool (*stop)(void *), void *arg)
{
    if (!ring_all_published(q)) {
        ring_publish(q, 0);
    }
    for (int spin = 0; spin < RING_SPINS; spin++) {
        if (ring_room(q) != 0) {
            return true;
        }
        ring_cpu_relax();
    }
    pthread_mutex_lock(&q->lock);
    atomic_store_explicit(&q->producer_sleeping, 1, memory_order_seq_cst);
    bool stopped;
    for (;;) {
        q->tail_seen = atomic_load_explicit(&q->tail, memory_order_seq_cst);
        stopped = stop != NULL && stop(arg);
        if (q->write - q->tail_seen <= resume_at || stopped) {
            break;
        }
        pthread_cond_wait(&q->producer_wake, &q->lock);
    }
    atomic_store_explicit(&q->producer_sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
    return !stopped;
}

/* Publishes everything, marks the end, and wakes the consumer. Once, last. */
static inline void ring_close(struct ring *q)
{
    ring_publish(q, 0);
    atomic_store_explicit(&q->closed, 1, memory_order_seq_cst);
    ring_signal(q, &q->consumer_wake, true);
}

/* ---- the consumer's side ---- */

/* Slots published and not yet taken, at the last look at head (no atomic access). */
static inline size_t ring_ready(const struct ring *q)
{
    return q->head_seen - q->read;
}

/* Loads head (acquire): the slots published and not yet taken now. */
static inline size_t ring_poll(struct ring *q)
{
    q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
    return q->head_seen - q->read;
}

/* Whether the producer has closed the ring (acquire; reload head after it). */
static inline bool ring_closed(const struct ring *q)
{
    return atomic_load_explicit(&q->closed, memory_order_acquire) != 0;
}

/* Counts n slots as taken (read); they stay the consumer's until ring_give_back. */
static inline void ring_take(struct ring *q, size_t n)
{
    q->read += n;
}

/* Gives the slots taken back to the producer, and wakes it if it sleeps and at most wake_at
 * slots are still in use (SIZE_MAX: whenever it sleeps). */
static inline void ring_give_back(struct ring *q, size_t wake_at)
{
    atomic_store_explicit(&q->tail, q->read, memory_order_seq_cst);
    if (atomic_load_explicit(&q->producer_sleeping, memory_order_seq_cst) != 0 &&
        (wake_at == SIZE_MAX ||
         atomic_load_explicit(&q->head, memory_order_acquire) - q->read <= wake_at)) {
        ring_signal(q, &q->producer_wake, false);
    }
}

/* Sleeps while nothing is published, the ring is not closed and not wake(arg) (checked under
 * the lock after the consumer announced that it sleeps: whoever makes it true stores with
 * sequential consistency, then signals consumer_wake if consumer_sleeping). */
static inline void ring_sleep_for_items(struct ring *q, bool (*wake)(void *), void *arg)
{
    pthread_mutex_lock(&q->lock);
    atomic_store_explicit(&q->consumer_sleeping, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&q->head, memory_order_seq_cst) == q->read &&
           atomic_load_explicit(&q->closed, memory_order_seq_cst) == 0 &&
           (wake == NULL || !wake(arg))) {
        pthread_cond_wait(&q->consumer_wake, &q->lock);
    }
    atomic_store_explicit(&q->consumer_sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
}

/* Nothing is ready: spins a little, then sleeps, until something is published or the ring
 * is closed. Returns ring_poll (0: closed and everything taken). */
static inline size_t ring_wait_items(struct ring *q)
{
    for (int spin = 0; spin < RING_SPINS; spin++) {
        if (ring_poll(q) != 0 || ring_closed(q)) {
            break;
        }
        ring_cpu_relax();
    }
    if (ring_ready(q) == 0 && !ring_closed(q)) {
        ring_sleep_for_items(q, NULL, NULL);
    }
    return ring_poll(q); /* closed is stored after the last publication: head is final */
}

#endif
