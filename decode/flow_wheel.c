/* flow_wheel.c - the flow engine's timer wheel: each node's deadline filed in the slot of its
 * tick, slots fired in deadline order as the clock moves, and a walk that fetches ahead what
 * the next slots will need. What a deadline means for an attempt is flow_node_due's. */
#include "flows_int.h"

#include <stdlib.h>

/* Empty slots, none with a deadline. */
void flow_wheel_clear(struct flow_table *t)
{
    memset(t->wheel.slots, 0, sizeof(t->wheel.slots));
    for (uint32_t i = 0; i < WHEEL_SLOTS; i++) {
        t->wheel.min[i] = INT64_MAX;
    }
}

static uint32_t slot_of(int64_t deadline)
{
    return (uint32_t)((uint64_t)(deadline >> WHEEL_TICK_SHIFT) & (WHEEL_SLOTS - 1));
}

/* Timers are filed lazily: a node stays in the slot it was filed in while its deadline only
 * moves later (every packet of a connection moves it), and fire_slot files it again when
 * that slot comes round early. A deadline that moves earlier is moved at once. So the filed
 * deadline is never later than the node's deadline. */
void flow_timer_unlink(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    if (!(n->bits & NODE_TIMER)) {
        return;
    }
    if (n->timer_prev != NIL) {
        node_at(t, n->timer_prev)->timer_next = n->timer_next;
    } else {
        t->wheel.slots[n->filed_slot] = n->timer_next;
    }
    if (n->timer_next != NIL) {
        node_at(t, n->timer_next)->timer_prev = n->timer_prev;
    }
    n->bits &= (uint8_t)~NODE_TIMER;
    n->timer_prev = n->timer_next = NIL;
}

/* Links the node in the slot of its deadline. */
static void timer_file(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    uint32_t slot = slot_of(n->deadline);
    if (n->deadline < t->wheel.min[slot]) {
        t->wheel.min[slot] = n->deadline;
    }
    flow_timer_unlink(t, idx);
    n->filed_slot = (uint16_t)slot;
    n->bits |= NODE_TIMER;
    n->timer_prev = NIL;
    n->timer_next = t->wheel.slots[slot];
    if (n->timer_next != NIL) {
        node_at(t, n->timer_next)->timer_prev = idx;
    }
    t->wheel.slots[slot] = idx;
}

void flow_timer_set(struct flow_table *t, uint32_t idx, int64_t deadline)
{
    struct flow_node *n = node_at(t, idx);
    bool later = (n->bits & NODE_TIMER) && deadline >= n->deadline;
    n->deadline = deadline;
    if (!later) {
        timer_file(t, idx);
    }
}

/* ---- firing ----------------------------------------------------------------------------- */

/* A due node: flow_node_due decides what becomes of it; a node still in the wheel after that
 * is filed where its new deadline belongs. */
static void fire_node(struct flow_table *t, uint32_t idx, int64_t now)
{
    if (!flow_node_due(t, idx, now)) {
        return; /* freed */
    }
    const struct flow_node *n = node_at(t, idx);
    if (!(n->bits & NODE_TIMER)) {
        return;
    }
    if (n->filed_slot != slot_of(n->deadline)) {
        timer_file(t, idx); /* still filed in the slot being fired: file it where it belongs */
    } else if (n->deadline < t->wheel.min[n->filed_slot]) {
        /* a turn (or more) later in the same slot: the slot must be walked again by then */
        t->wheel.min[n->filed_slot] = n->deadline;
    }
}

/* Fetches at most max_lines of the cache lines holding c's attempt (what emitting it reads),
 * from the line `line` on (0: the one where it starts); returns the next line to fetch, or
 * 0 when none is left. The record's other fields are not read then. */
static uint32_t prefetch_attempt(const struct flow_cold *c, uint32_t line, uint32_t max_lines)
{
    const char *a = (const char *)&c->a;
    const char *first = (const char *)((uintptr_t)a & ~(uintptr_t)(CACHE_LINE - 1));
    const char *end = a + sizeof(c->a);
    for (const char *p = first + (size_t)line * CACHE_LINE; max_lines > 0;
         max_lines--, line++, p += CACHE_LINE) {
        if (p >= end) {
            return 0;
        }
        __builtin_prefetch(p);
    }
    return first + (size_t)line * CACHE_LINE < end ? line : 0;
}

/* Due nodes fire in the order of their deadlines (then of their first packets), whatever the
 * order they were filed in: the output does not depend on how timers are kept. */
static int due_cmp(const void *x, const void *y)
{
    const struct flow_due *a = x, *b = y;
    if (a->deadline != b->deadline) {
        return a->deadline < b->deadline ? -1 : 1;
    }
    return a->first_pkt < b->first_pkt ? -1 : a->first_pkt > b->first_pkt;
}

/* Sorts the due nodes of a slot by due_cmp: a few at a time (attempts begun within the same
 * millisecond), fewer instructions by insertion than through qsort's calls; stable as glibc's
 * merge sort, so the order is the same. */
static void sort_due(struct flow_due *d, size_t n)
{
    if (n > 16) {
        qsort(d, n, sizeof(*d), due_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct flow_due x = d[i];
        size_t j = i;
        for (; j > 0 && due_cmp(&x, &d[j - 1]) < 0; j--) {
            d[j] = d[j - 1];
        }
        d[j] = x;
    }
}

/* Fires the due deadlines of a slot. A slot whose earliest deadline is still ahead is not
 * walked: the clock moves on every packet, and walking the current slot each time would cost
 * as many steps as attempts share the slot. */
static void fire_slot(struct flow_table *t, uint32_t slot, int64_t now)
{
    if (t->wheel.min[slot] > now) {
        return;
    }
    t->wheel.min[slot] = INT64_MAX; /* recomputed below; timer_file lowers it meanwhile */
    size_t due = 0;
    uint32_t idx = t->wheel.slots[slot];
    while (idx != NIL) {
        struct flow_node *n = node_at(t, idx);
        uint32_t next = n->timer_next;
        if (next != NIL) {
            __builtin_prefetch(node_at(t, next));
        }
        if (n->deadline <= now) {
            if (node_ends_when_due(n)) {
                /* flow_node_finish will walk its bucket: fetch it while the others are collected */
                __builtin_prefetch(&t->buckets.heads[n->hash & t->buckets.mask]);
            }
            if (n->cold != NIL) {
                /* its attempt is about to be emitted (read whole) */
                (void)prefetch_attempt(cold_at(t, n->cold), 0, UINT32_MAX); /* all its lines */
            }
            if (due == t->wheel.due_cap) {
                size_t cap = t->wheel.due_cap ? t->wheel.due_cap * 2 : 256;
                struct flow_due *nd = realloc(t->wheel.due, cap * sizeof(*nd));
                if (nd == NULL) {
                    fire_node(t, idx, now); /* out of memory: at once, in filing order */
                    idx = next;
                    continue;
                }
                t->wheel.due = nd;
                t->wheel.due_cap = cap;
            }
            t->wheel.due[due++] = (struct flow_due){n->deadline, n->first_pkt, idx};
        } else if (slot_of(n->deadline) != slot) {
            timer_file(t, idx); /* the deadline moved on since it was filed here */
        } else if (n->deadline < t->wheel.min[slot]) {
            t->wheel.min[slot] = n->deadline; /* not due yet: stays in the slot */
        }
        idx = next;
    }
    sort_due(t->wheel.due, due);
    for (size_t i = 0; i < due; i++) {
        fire_node(t, t->wheel.due[i].idx, now);
    }
}

void flow_wheel_advance(struct flow_table *t, int64_t now)
{
    if (!t->started) {
        t->started = true;
        t->now = now;
        t->wheel.tick = now >> WHEEL_TICK_SHIFT;
        return;
    }
    if (now <= t->now) {
        return;
    }
    t->now = now;
    int64_t tick = now >> WHEEL_TICK_SHIFT;
    int64_t steps = tick - t->wheel.tick;
    if (steps >= (int64_t)WHEEL_SLOTS) {
        steps = WHEEL_SLOTS - 1; /* a jump of a whole turn or more: visit every slot once */
    }
    /* visit the slot of the last tick (deadlines after the previous clock within it), those of
     * the ticks passed, and the current one */
    for (int64_t i = steps; i >= 0; i--) {
        fire_slot(t, (uint32_t)((uint64_t)(tick - i) & (WHEEL_SLOTS - 1)), now);
    }
    t->wheel.tick = tick;
}

/* ---- the walk ahead --------------------------------------------------------------------- */

/* Fetches ahead what the next ticks' slots will need when they fire: their nodes and, for a
 * node due by then, its attempt (the part of its detail record that emitting it reads, whole)
 * and its bucket. A walk in fire_slot otherwise meets one cache miss after another, each node
 * (filed seconds ago) being reached through the one before: the table's costliest wait.
 *
 * flow_walk_ahead is called once per packet. It goes one node further every other packet (the
 * node it reads was fetched two packets before), and fetches an attempt AHEAD_LINES lines per
 * packet (all its lines at once would fill the queue of pending fetches and stall). It
 * walks a slot to its end, then the next one, at most AHEAD_TICKS ticks ahead of the clock.
 * "Due by then" includes the tick after the slot's: a node whose deadline moved a little later
 * is filed again, in the next slot, only when its own slot fires.
 *
 * Only hints: the lists change under the walk (a node may be refiled, freed or reused), so an
 * index is checked against its pool before it makes an address, and what is read decides
 * nothing but what is fetched. */
#define AHEAD_TICKS 2
#define AHEAD_LINES 6

void flow_walk_ahead(struct flow_table *t)
{
    struct flow_wheel *w = &t->wheel;
    if (w->ahead_cold != NIL) {
        w->ahead_line =
            w->ahead_cold < t->colds.capacity
                ? prefetch_attempt(cold_at(t, w->ahead_cold), w->ahead_line, AHEAD_LINES)
                : 0;
        if (w->ahead_line != 0) {
            return;
        }
        w->ahead_cold = NIL;
    }
    w->ahead_rest = !w->ahead_rest;
    if (w->ahead_rest) {
        return;
    }
    uint32_t idx = w->ahead;
    if (w->ahead_tick <= w->tick) {
        /* behind the clock (or just started): from the next tick's slot */
        w->ahead_tick = w->tick + 1;
        idx = w->slots[(uint64_t)w->ahead_tick & (WHEEL_SLOTS - 1)];
    } else if (idx == NIL) {
        if (w->ahead_tick >= w->tick + AHEAD_TICKS) {
            return; /* far enough ahead */
        }
        w->ahead_tick++;
        idx = w->slots[(uint64_t)w->ahead_tick & (WHEEL_SLOTS - 1)];
    } else if (idx < t->nodes.capacity) {
        const struct flow_node *n = node_at(t, idx);
        if (n->deadline < (w->ahead_tick + 2) * ((int64_t)1 << WHEEL_TICK_SHIFT)) {
            if (n->cold != NIL) {
                w->ahead_cold = n->cold;
                w->ahead_line = 0;
            }
            /* flow_node_finish walks its bucket */
            if (node_ends_when_due(n)) {
                __builtin_prefetch(&t->buckets.heads[n->hash & t->buckets.mask]);
            }
        }
        idx = n->timer_next;
    } else {
        idx = NIL;
    }
    w->ahead = idx;
    prefetch_node(t, idx);
}
