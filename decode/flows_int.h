/* flows_int.h - the flow engine's private header: its records, its table and what its files
 * share. Included by decode/flow*.c only (and white-box unit tests), never from another folder.
 *
 * One attempt per 4-tuple at a time, keyed on the canonical tuple in a chained hash table.
 * Memory is what bounds a flood, so an attempt is two records: a compact node (struct
 * flow_node: the key, links, timer and the first SYN) that is all a SYN nobody answered ever
 * needs, and a detail record (struct flow_cold: the full struct flow_attempt) taken from a pool
 * when a second packet arrives and given back when the attempt is emitted; a tombstone that
 * absorbs late packets is a node alone. IPv4 addresses live in the node, an IPv6 address pair
 * in a third pool. Time comes from packet timestamps (offline) or flow_advance() (live); a
 * hashed timer wheel fires deadlines; a creation-order list (the age list) gives oldest-first
 * eviction when --max-flows attempts are held. Every attempt is emitted exactly once.
 *
 * The files, one concern each:
 *   flows.c           the public entry points (flows.h): create, events in, clock, finish
 *   flow_pool.c       pools of fixed-size records that grow in place (struct pool)
 *   flow_hash.c       the tuple hash, the bucket chains and flow_events' fetch-ahead pipeline
 *   flow_node.c       an attempt's two records: a node's life (create, finish, evict, emit),
 *                     the first SYN in the node and the detail record made from it (promote)
 *   flow_wheel.c      the timer wheel: filing, firing due slots, the walk ahead
 *   flow_attempt.c    the state machine: what each packet or deadline means for its attempt
 *   flow_neighbour.c  address resolution (ARP, neighbour discovery) per address
 *
 * To add a fact to an attempt (a field of struct flow_attempt, flows.h):
 *   - a fact of a packet after the first SYN: set it where flow_attempt.c handles that packet
 *     (flow_on_tcp and the on_* functions it calls, flow_on_icmp). Nothing else changes: the
 *     detail record holds the whole struct flow_attempt, cleared when it is made (flow_promote).
 *   - a fact of another kind of event, joined to the attempt by its tuple: hash the event in
 *     flow_event_hash (flow_hash.c; the reader thread hashes, flow_events fetches ahead), route
 *     it in flow_event_in (flows.c) and handle it in flow_attempt.c as flow_on_icmp does:
 *     flow_find_tuple, flow_promote, then the field.
 *   - a fact of the first SYN that a lone SYN must keep: struct flow_node has no byte to spare
 *     (80 bytes, asserted below: the memory of a flood), so either the SYN takes a detail
 *     record (flow_promote in new_syn, as a SYN with payload does) or a byte is freed in the
 *     node; then flow_node_syn stores it and node_attempt (flow_node.c) copies it out.
 *   - a fact that every packet of a connection writes belongs in the detail record's first
 *     COLD_HOT_BYTES, the lines fetched ahead for each packet: before packets[] in struct
 *     flow_attempt. The assertion below says whether that part still fits; when it does not,
 *     COLD_HOT_BYTES grows by a line that every packet fetches (a cost to measure). */
#ifndef SYNSCOPE_FLOWS_INT_H
#define SYNSCOPE_FLOWS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode.h"
#include "flows.h"

#define NIL 0u              /* no record: index 0 of a pool is never handed out */
#define CACHE_LINE 64       /* bytes, what the fetches ahead count in */
#define WHEEL_SLOTS 65536u  /* a power of two, at most 2^16 (flow_node.filed_slot) */
#define WHEEL_TICK_SHIFT 20 /* 2^20 ns = 1 ms per slot, 69 s per turn */
#define NEIGHBOUR_SLOTS (2 * FLOW_MAX_NEIGHBOURS) /* open addressing, half full at most */

/* How long a tombstone absorbs late retransmissions (a SYN-ACK re-sent by a server for a
 * minute, a SYN retried after we declared it dropped) so they do not start new attempts. */
#define TOMBSTONE_NS 60000000000LL

/* Where an attempt is in its life (RFC 9293 3.3.2 seen from the wire). */
enum node_state {
    ST_WAIT = 1,    /* SYN sent, no answer yet */
    ST_ANSWERED,    /* refused / unreachable / bad SYN-ACK / bare ACK: lingering for retries */
    ST_SYNACK,      /* valid SYN-ACK, client's ACK not seen yet */
    ST_ESTABLISHED, /* following the connection to its end */
    ST_CLOSED,      /* RST or both FINs seen: lingering for stragglers */
    ST_DONE,        /* emitted after a timeout: a tombstone that absorbs late packets */
};

/* What identifies a packet when it is captured twice (flow_attempt.c: is_duplicate). */
struct packet_sig {
    int64_t ts;
    uint32_t seq, ack, payload_len;
    uint16_t ip_id;
    uint8_t flags, ttl;
};

/* The details of an attempt past its first SYN. What every packet of a connection reads or
 * writes comes first: the signatures, the history bits and the attempt's own per-packet fields
 * (struct flow_attempt begins with them) lie within its first COLD_HOT_BYTES, the lines
 * flow_events fetches ahead for each packet (flow_hash.c: prefetch_cold). */
struct flow_cold {
    struct packet_sig last[2]; /* last packet from the server [0] and the client [1] */
    uint16_t history_seen;     /* bit per history letter already recorded */
    uint8_t history_len;       /* letters recorded (bits set in history_seen) */
    struct flow_attempt a;
    int64_t syn_gap_ns;    /* gap between the last two SYNs (0: none yet) */
    int64_t synack_gap_ns; /* gap between the last two SYN-ACKs (0: none yet) */
    int64_t last_synack_ns;
};

#define COLD_HOT_BYTES (3 * CACHE_LINE)
_Static_assert(offsetof(struct flow_cold, a) + offsetof(struct flow_attempt, packets) +
                       sizeof(((struct flow_attempt *)0)->packets) <=
                   COLD_HOT_BYTES,
               "the per-packet fields (struct flow_attempt up to packets[]) are in the detail "
               "record's first COLD_HOT_BYTES, the lines fetched ahead for every packet");

/* The compact record of every attempt (and tombstone). While cold is NIL the attempt is one
 * SYN without payload and the fields below describe it completely. */
#define NODE_TIMER 0x01 /* linked in the wheel slot filed_slot */
#define NODE_V6 0x02    /* an IPv6 tuple (addr.v6), else IPv4 (addr.v4) */
#define NODE_LIVE 0x04  /* in the table (not on the free list) */
struct flow_node {
    int64_t deadline;
    int64_t first_ns; /* time of the first packet (the SYN while cold is NIL) */
    union {
        uint8_t v4[8]; /* client then server */
        uint32_t v6;   /* index of the address pair in the IPv6 pool */
    } addr;
    uint32_t hash_next; /* chain in a bucket, or the free list */
    uint32_t age_prev, age_next;
    uint32_t timer_prev, timer_next;
    uint32_t cold; /* detail record, or NIL */
    uint32_t isn;
    uint32_t first_pkt;
    /* the first SYN, while cold is NIL: what a duplicate and the report need of it */
    uint32_t syn_ack;
    uint32_t hash; /* the tuple's hash (its low half): the bucket, without hashing again */
    uint16_t client_port, server_port;
    uint16_t syn_ip_id;
    uint16_t syn_mss;
    uint16_t filed_slot; /* the wheel slot it is linked in (NODE_TIMER) */
    uint8_t state;       /* enum node_state; 0 in a node just made for a SYN-ACK */
    uint8_t syn_ttl;
    uint8_t syn_flags;
    uint8_t syn_opt_present;
    uint8_t syn_wscale;
    uint8_t bits; /* NODE_* */
};
_Static_assert(sizeof(struct flow_node) == 80, "a node is 80 bytes: the flood's memory");
/* Nodes lie at multiples of their size from a page-aligned base, so a node starts at most
 * CACHE_LINE - (its size's lowest set bit) into a line: prefetch_node's two fetches, its first
 * and last byte, must then cover it. */
_Static_assert(CACHE_LINE - (sizeof(struct flow_node) & -sizeof(struct flow_node)) +
                       sizeof(struct flow_node) <=
                   2 * CACHE_LINE,
               "a node spans at most two cache lines");
_Static_assert(WHEEL_SLOTS <= 65536 && (WHEEL_SLOTS & (WHEEL_SLOTS - 1)) == 0,
               "wheel slots: a power of two that flow_node.filed_slot holds");

struct addr_pair {
    struct dec_addr client, server; /* client.b[0..3] is the free list link when free */
};

/* A pool of fixed-size records in one mapping that grows; index 0 is never handed out.
 * Records may move when it grows: no pointer into a pool is kept across an allocation from it.
 * Normally the pool lies in an address range reserved for its largest size (flow_pool_reserve)
 * and grows in place; when that range could not be had, it is one mapping grown with mremap. */
struct pool {
    char *base;
    size_t bytes;      /* readable and writable from base */
    uint32_t capacity; /* records that fit */
    uint32_t next_fresh;
    uint32_t free_list;
    size_t size;
    char *reserved;        /* the reserved range (base lies in it), or NULL */
    size_t reserved_bytes; /* its length */
    uint32_t limit;        /* records the reserved range holds */
};

/* The hash table's bucket heads: node indexes chained through flow_node.hash_next. */
struct flow_buckets {
    uint32_t *heads;
    uint64_t mask; /* buckets - 1 (a power of two less one) */
};

/* A node found due in a slot being fired. */
struct flow_due {
    int64_t deadline;
    uint32_t first_pkt;
    uint32_t idx;
};

/* The timer wheel: nodes chained through flow_node.timer_next in the slot of the tick their
 * deadline falls in (lazily: flow_wheel.c), and the walk ahead's position. */
struct flow_wheel {
    uint32_t slots[WHEEL_SLOTS];
    int64_t min[WHEEL_SLOTS];        /* no deadline in the slot is earlier (may be too low) */
    int64_t tick;                    /* last tick processed */
    int64_t ahead_tick;              /* the tick whose slot the walk ahead is going through */
    uint32_t ahead;                  /* the walk's next node in that slot, or NIL */
    uint32_t ahead_cold, ahead_line; /* a detail record it is fetching, its next line */
    bool ahead_rest;                 /* the walk goes no further at this packet */
    struct flow_due *due;            /* fire_slot's due nodes */
    size_t due_cap;
};

/* Addresses being resolved (flow_neighbour.c). */
struct flow_neighbours {
    flow_neighbour_fn fn;         /* flow_set_neighbour_callback's */
    struct flow_neighbour *slots; /* open addressing, NEIGHBOUR_SLOTS, made at first use */
    uint32_t count;
};

struct flow_table {
    struct flow_config cfg;
    flow_emit_fn emit;
    flow_emit_fn provisional; /* live: decided attempts announced early (flow_attempt.c) */
    struct flow_neighbours neighbours;
    int64_t grace_ns;
    void *user;
    struct pool nodes, colds, pairs; /* struct flow_node, flow_cold, addr_pair */
    struct flow_buckets buckets;
    uint32_t age_head, age_tail; /* the age list: oldest and youngest node held */
    uint32_t undecided;          /* nodes held that are not tombstones: what flow_finish emits */
    struct flow_wheel wheel;
    int64_t now;
    bool started;
    bool acks_seen; /* a TCP segment without SYN, FIN or RST has been seen (flow_on_tcp) */
    struct flow_stats stats;
};

/* ---- records: one multiply from an index ------------------------------------------------ */

static inline void *pool_at(const struct pool *p, uint32_t idx)
{
    return p->base + (size_t)idx * p->size;
}

static inline struct flow_node *node_at(const struct flow_table *t, uint32_t idx)
{
    return &((struct flow_node *)t->nodes.base)[idx];
}

static inline struct flow_cold *cold_at(const struct flow_table *t, uint32_t idx)
{
    return &((struct flow_cold *)t->colds.base)[idx];
}

static inline struct addr_pair *pair_at(const struct flow_table *t, const struct flow_node *n)
{
    return pool_at(&t->pairs, n->addr.v6);
}

static inline int node_family(const struct flow_node *n)
{
    return (n->bits & NODE_V6) ? 6 : 4;
}

static inline bool addr_eq(const struct dec_addr *x, const struct dec_addr *y)
{
    return memcmp(x->b, y->b, sizeof(x->b)) == 0;
}

/* Whether a due node is freed rather than kept (flow_node_due): freeing walks its bucket,
 * which the wheel's walks fetch ahead. */
static inline bool node_ends_when_due(const struct flow_node *n)
{
    return n->state == ST_CLOSED || n->state == ST_DONE;
}

/* Fetches both lines of the node idx, read from memory that may have changed since: nothing
 * unless idx is a record of the pool. */
static inline void prefetch_node(const struct flow_table *t, uint32_t idx)
{
    if (idx != NIL && idx < t->nodes.capacity) {
        const char *node = (const char *)node_at(t, idx);
        __builtin_prefetch(node);
        __builtin_prefetch(node + sizeof(struct flow_node) - 1);
    }
}

/* ---- flow_pool.c ------------------------------------------------------------------------ */

/* Reserves addresses for up to `records` records without memory behind them; the pool then
 * grows in place. Without the reservation (it may fail), flow_pool_grow uses mremap. */
void flow_pool_reserve(struct pool *p, uint64_t records);
/* Doubles the pool's usable records; false when it cannot. */
bool flow_pool_grow(struct pool *p);
void flow_pool_destroy(struct pool *p);

/* Free records are chained through their first 4 bytes. */
static inline uint32_t *pool_link(const struct pool *p, uint32_t idx)
{
    return (uint32_t *)pool_at(p, idx);
}

/* A record's index, or NIL when memory is exhausted. */
static inline uint32_t pool_alloc(struct pool *p)
{
    if (p->free_list != NIL) {
        uint32_t idx = p->free_list;
        p->free_list = *pool_link(p, idx);
        return idx;
    }
    if (p->next_fresh == 0) {
        p->next_fresh = 1; /* index 0 is NIL */
    }
    if (p->next_fresh >= p->capacity && !flow_pool_grow(p)) {
        return NIL;
    }
    return p->next_fresh++;
}

static inline void pool_free(struct pool *p, uint32_t idx)
{
    *pool_link(p, idx) = p->free_list;
    p->free_list = idx;
}

/* Every record free again, at once (the memory stays). */
static inline void pool_empty(struct pool *p)
{
    p->next_fresh = 1;
    p->free_list = NIL;
}

/* ---- flow_hash.c ------------------------------------------------------------------------ */

/* The attempt of the tuple {a:aport, b:bport} in either direction (*forward: a is its client),
 * or NIL; hash is the tuple's (flow_event_hash). */
uint32_t flow_find_tuple(const struct flow_table *t, int family, const struct dec_addr *a,
                         uint16_t aport, const struct dec_addr *b, uint16_t bport, uint64_t hash,
                         bool *forward);
/* Links the node (its hash set) at the head of its bucket's chain. */
static inline void flow_bucket_insert(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    n->hash_next = t->buckets.heads[n->hash & t->buckets.mask];
    t->buckets.heads[n->hash & t->buckets.mask] = idx;
}
/* Unlinks the node from its bucket's chain. */
void flow_bucket_remove(struct flow_table *t, uint32_t idx);
/* Doubles the buckets when the table holds more nodes than there are buckets. */
void flow_buckets_fit(struct flow_table *t);
/* A seeded hash of an address alone (the neighbour table's). */
uint64_t flow_addr_hash(uint64_t seed, const struct dec_addr *addr);

/* ---- flow_node.c ------------------------------------------------------------------------ */

/* A new node for the tuple client -> server, linked in its bucket and at the young end of the
 * age list, everything else zero (state 0); NIL when memory is exhausted and nothing can be
 * evicted. */
uint32_t flow_node_create(struct flow_table *t, uint64_t hash, int family,
                          const struct dec_addr *client, uint16_t client_port,
                          const struct dec_addr *server, uint16_t server_port);
/* Fills a new node with its first SYN: everything about a lone SYN is in the node. */
void flow_node_syn(struct flow_node *n, const struct dec_event *ev, int64_t ts, uint32_t pkt);
/* The last packet seen from one side of an attempt without a detail record: the SYN it stands
 * for from the client, nothing yet from the server. (With a detail record, its last[].) */
struct packet_sig flow_syn_sig(const struct flow_node *n, bool from_client);
/* The node's detail record, made from the node when it has none yet; NULL when memory is
 * exhausted: the attempt is then evicted (counted) rather than kept wrong. May evict other
 * nodes: node pointers are read again after it. */
struct flow_cold *flow_promote(struct flow_table *t, uint32_t idx);
/* Gives the detail record back, if any. */
void flow_cold_release(struct flow_table *t, struct flow_node *n);
/* Hands the attempt to the emit callback. */
void flow_node_emit(struct flow_table *t, struct flow_node *n, enum flow_end end,
                    int64_t seen_until);
/* Unlinks the node from every list and frees it; emits its attempt unless it is a tombstone
 * (already emitted). */
void flow_node_finish(struct flow_table *t, uint32_t idx, enum flow_end end, int64_t seen_until);

/* ---- flow_wheel.c ----------------------------------------------------------------------- */

/* Empty slots, none with a deadline. */
void flow_wheel_clear(struct flow_table *t);
/* Sets the node's deadline and files it in the wheel (lazily, see flow_wheel.c). */
void flow_timer_set(struct flow_table *t, uint32_t idx, int64_t deadline);
/* Takes the node out of the wheel, if it is in it. */
void flow_timer_unlink(struct flow_table *t, uint32_t idx);
/* Moves the clock to now (never back), firing the deadlines passed in deadline order. */
void flow_wheel_advance(struct flow_table *t, int64_t now);
/* Once per packet: fetches ahead what the next ticks' slots will need when they fire. */
void flow_walk_ahead(struct flow_table *t);

/* ---- flow_attempt.c --------------------------------------------------------------------- */

/* A TCP segment, looked up with hash (flow_event_hash). */
void flow_on_tcp(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt,
                 uint64_t hash);
/* An ICMP error, looked up by the tuple it quotes with hash. */
void flow_on_icmp(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt,
                  uint64_t hash);
/* The node's deadline has come (the wheel calls it): the attempt is announced (live), emitted
 * and freed, or emitted and kept as a tombstone with a new deadline. False when it was freed. */
bool flow_node_due(struct flow_table *t, uint32_t idx, int64_t now);

/* ---- flow_neighbour.c ------------------------------------------------------------------- */

/* An ARP or neighbour discovery event. */
void flow_on_neigh(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt);
/* Hands every address asked for to the neighbour callback, in the order of the first request. */
void flow_emit_neighbours(struct flow_table *t);

/* ---- flows.c ---------------------------------------------------------------------------- */

/* One event whose lookup hash (flow_event_hash) is known. */
void flow_event_in(struct flow_table *t, const struct dec_event *ev, int64_t ts_ns, uint32_t pkt,
                   uint64_t hash);

#endif
