/* flows.c - the flow engine's entry points (flows.h): a table made and freed, events fed in,
 * the clock, the end of input. The engine's records and files are described in flows_int.h. */
#include "flows_int.h"

#include <stdio.h>
#include <stdlib.h>

void flow_config_default(struct flow_config *cfg)
{
    cfg->syn_timeout_ns = 3000000000LL;
    cfg->idle_timeout_ns = 300000000000LL;
    cfg->max_attempts = 1000000;
    cfg->hash_seed = 0x5eed5eed5eed5eedULL;
}

int flow_create(struct flow_table **out, const struct flow_config *cfg, flow_emit_fn emit,
                void *user, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (cfg->max_attempts == 0 || cfg->max_attempts > (1u << 30)) {
        snprintf(errbuf, errlen, "max attempts must be between 1 and %u", 1u << 30);
        return -1;
    }
    struct flow_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    t->cfg = *cfg;
    t->emit = emit;
    t->user = user;
    t->nodes.size = sizeof(struct flow_node);
    t->colds.size = sizeof(struct flow_cold);
    t->pairs.size = sizeof(struct addr_pair);
    t->buckets.mask = 1023;
    t->buckets.heads = calloc(t->buckets.mask + 1, sizeof(*t->buckets.heads));
    if (t->buckets.heads == NULL) {
        free(t);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    /* at most max_attempts nodes are held (flow_node_create evicts first), each with at most one
     * detail record and one address pair; index 0 is never used */
    flow_pool_reserve(&t->nodes, (uint64_t)cfg->max_attempts + 1);
    flow_pool_reserve(&t->colds, (uint64_t)cfg->max_attempts + 1);
    flow_pool_reserve(&t->pairs, (uint64_t)cfg->max_attempts + 1);
    flow_wheel_clear(t);
    /* behind any clock: the walk ahead starts at the first packet's */
    t->wheel.ahead_tick = INT64_MIN;
    *out = t;
    return 0;
}

void flow_destroy(struct flow_table *t)
{
    if (t == NULL) {
        return;
    }
    flow_pool_destroy(&t->nodes);
    flow_pool_destroy(&t->colds);
    flow_pool_destroy(&t->pairs);
    free(t->buckets.heads);
    free(t->neighbours.slots);
    free(t->wheel.due);
    free(t);
}

int64_t flow_now(const struct flow_table *t)
{
    return t->now;
}

void flow_get_stats(const struct flow_table *t, struct flow_stats *stats)
{
    *stats = t->stats;
    stats->open = t->undecided;
}

void flow_set_provisional(struct flow_table *t, flow_emit_fn provisional, int64_t grace_ns)
{
    t->provisional = provisional;
    t->grace_ns = grace_ns;
}

void flow_advance(struct flow_table *t, int64_t now_ns)
{
    flow_wheel_advance(t, now_ns);
}

/* One event whose lookup hash (flow_event_hash) is known. */
void flow_event_in(struct flow_table *t, const struct dec_event *ev, int64_t ts_ns, uint32_t pkt,
                   uint64_t hash)
{
    flow_wheel_advance(t, ts_ns);
    flow_walk_ahead(t);
    int64_t ts = t->now; /* never earlier than what was already seen */
    if (ev->kind == DEC_EV_TCP) {
        flow_on_tcp(t, ev, ts, pkt, hash);
    } else if (ev->kind == DEC_EV_ICMP) {
        flow_on_icmp(t, ev, ts, pkt, hash);
    } else if (ev->kind == DEC_EV_NEIGH) {
        flow_on_neigh(t, ev, ts, pkt);
    }
}

void flow_event(struct flow_table *t, const struct dec_event *ev, int64_t ts_ns, uint32_t pkt)
{
    uint64_t hash = 0;
    (void)flow_event_hash(&t->cfg, ev, &hash);
    flow_event_in(t, ev, ts_ns, pkt, hash);
}

/* Emits every node held that is not a tombstone, oldest first. When most of the age list is
 * tombstones (60 s of them against seconds of attempts still open, and at its old end), the
 * open attempts are found from the young end back, until all `undecided` of them are, then
 * emitted in the other direction; their list takes at most a byte per node held.
 * Otherwise (a flood of open attempts, or no memory for the list) the whole age list is walked
 * from its old end. */
static void emit_undecided(struct flow_table *t)
{
    bool mostly_tombstones = (uint64_t)t->undecided * 4 <= t->stats.tracked;
    uint32_t *order =
        t->undecided > 0 && mostly_tombstones ? malloc(t->undecided * sizeof(*order)) : NULL;
    if (order == NULL) {
        for (uint32_t idx = t->age_head; idx != NIL;) {
            struct flow_node *n = node_at(t, idx);
            idx = n->age_next;
            if (idx != NIL) {
                __builtin_prefetch(node_at(t, idx));
            }
            if (n->state != ST_DONE) {
                flow_node_emit(t, n, FLOW_END_CAPTURE_END, t->now);
            }
        }
        return;
    }
    size_t first = t->undecided;
    for (uint32_t idx = t->age_tail; idx != NIL && first > 0;) {
        const struct flow_node *n = node_at(t, idx);
        if (n->state != ST_DONE) {
            order[--first] = idx;
        }
        idx = n->age_prev;
        if (idx != NIL) {
            __builtin_prefetch(node_at(t, idx));
        }
    }
    for (size_t i = first; i < t->undecided; i++) {
        flow_node_emit(t, node_at(t, order[i]), FLOW_END_CAPTURE_END, t->now);
    }
    free(order);
}

void flow_finish(struct flow_table *t)
{
    if (t->neighbours.fn != NULL && t->neighbours.slots != NULL) {
        flow_emit_neighbours(t);
        t->neighbours.fn = NULL; /* once */
    }
    /* every attempt still held is emitted, oldest first; then the table is emptied at once
     * rather than node by node */
    emit_undecided(t);
    memset(t->buckets.heads, 0, (t->buckets.mask + 1) * sizeof(*t->buckets.heads));
    flow_wheel_clear(t);
    pool_empty(&t->nodes);
    pool_empty(&t->colds);
    pool_empty(&t->pairs);
    t->age_head = t->age_tail = NIL;
    t->wheel.ahead = t->wheel.ahead_cold = NIL;
    t->stats.tracked = 0;
    t->undecided = 0;
}
