/* flow_neighbour.c - address resolution seen in the input: for each address asked for (ARP,
 * IPv6 neighbour discovery), who asked, how often, and whether it ever answered. */
#include "flows_int.h"

#include <stdlib.h>

void flow_set_neighbour_callback(struct flow_table *t, flow_neighbour_fn fn)
{
    t->neighbours.fn = fn;
}

/* The entry for an address, created when create is set; NULL when absent or the table full. */
static struct flow_neighbour *neighbour_at(struct flow_table *t, int family,
                                           const struct dec_addr *addr, bool create)
{
    if (t->neighbours.slots == NULL) {
        if (!create) {
            return NULL;
        }
        t->neighbours.slots = calloc(NEIGHBOUR_SLOTS, sizeof(*t->neighbours.slots));
        if (t->neighbours.slots == NULL) {
            return NULL;
        }
    }
    uint64_t h = flow_addr_hash(t->cfg.hash_seed, addr);
    for (uint32_t i = 0; i < NEIGHBOUR_SLOTS; i++) {
        struct flow_neighbour *n = &t->neighbours.slots[(h + i) & (NEIGHBOUR_SLOTS - 1)];
        if (n->family == 0) {
            if (!create) {
                return NULL;
            }
            if (t->neighbours.count >= FLOW_MAX_NEIGHBOURS) {
                t->stats.neighbours_dropped++;
                return NULL;
            }
            t->neighbours.count++;
            n->family = (uint8_t)family;
            n->addr = *addr;
            return n;
        }
        if (n->family == family && addr_eq(&n->addr, addr)) {
            return n;
        }
    }
    return NULL;
}

void flow_on_neigh(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    if (ev->neigh_op == DEC_NEIGH_REQUEST) {
        /* RFC 5227 ARP probes and announcements ask for the sender's own address: not a
         * resolution */
        if (addr_eq(&ev->src, &ev->neigh_target)) {
            return;
        }
        struct flow_neighbour *n = neighbour_at(t, ev->family, &ev->neigh_target, true);
        if (n == NULL) {
            return;
        }
        if (n->requests++ == 0) {
            n->first_ns = ts;
            n->first_pkt = pkt;
            n->asked_by = ev->src;
        }
        n->last_ns = ts;
        return;
    }
    /* an ARP reply's sender, or a neighbour advertisement's target, is the resolved address */
    const struct dec_addr *resolved = ev->family == 4 ? &ev->src : &ev->neigh_target;
    struct flow_neighbour *n = neighbour_at(t, ev->family, resolved, true);
    if (n != NULL) {
        n->replies++;
    }
}

/* First asked for first; the same packet (never, but cheap to rule out) by address. */
static int neighbour_cmp(const void *x, const void *y)
{
    const struct flow_neighbour *a = *(const struct flow_neighbour *const *)x;
    const struct flow_neighbour *b = *(const struct flow_neighbour *const *)y;
    if (a->first_pkt != b->first_pkt) {
        return a->first_pkt < b->first_pkt ? -1 : 1;
    }
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }
    return memcmp(a->addr.b, b->addr.b, sizeof(a->addr.b));
}

/* The addresses asked for, in the order of their first request: the table's slots follow the
 * hash seed, which the output must not depend on (the command line draws it at random). Out
 * of memory for the order: slot order, the same neighbours. */
void flow_emit_neighbours(struct flow_table *t)
{
    const struct flow_neighbour **order = malloc(NEIGHBOUR_SLOTS * sizeof(*order));
    size_t count = 0;
    for (uint32_t i = 0; i < NEIGHBOUR_SLOTS; i++) {
        const struct flow_neighbour *n = &t->neighbours.slots[i];
        if (n->family == 0 || n->requests == 0) {
            continue;
        }
        if (order != NULL) {
            order[count++] = n;
        } else {
            t->neighbours.fn(n, t->user);
        }
    }
    if (order == NULL) {
        return;
    }
    qsort(order, count, sizeof(*order), neighbour_cmp);
    for (size_t i = 0; i < count; i++) {
        t->neighbours.fn(order[i], t->user);
    }
    free(order);
}
