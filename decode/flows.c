/* flows.c - the flow engine: correlates handshake events into connection attempts.
 *
 * One attempt per 4-tuple at a time, keyed on the canonical tuple in a chained hash table.
 * Memory is what bounds a flood, so an attempt is two records: a compact node (80 bytes: the
 * key, links, timer and the first SYN) that is all a SYN nobody answered ever needs, and a
 * detail record (struct flow_cold: the full struct flow_attempt) taken from a pool when a second
 * packet arrives and given back when the attempt is emitted; a tombstone that absorbs late
 * packets is a node alone. IPv4 addresses live in the node, an IPv6 address pair in a third
 * pool. Each pool is one array of fixed-size records that grows in place (inside an address
 * range reserved up front, or with mremap): no allocation per packet, only when the table
 * grows, and a record is found by one multiply. Time comes from packet timestamps (offline) or
 * flow_advance() (live); a hashed timer wheel fires deadlines; a creation-order list gives
 * oldest-first eviction when --max-flows attempts are held. Every attempt is emitted exactly
 * once, and only facts are recorded here: report/ decides what they mean. */
#define _GNU_SOURCE /* mremap */
#include "flows.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NIL 0u
#define POOL_FIRST 4096u /* records of a pool's first array */
#define WHEEL_SLOTS 65536u
#define WHEEL_TICK_SHIFT 20 /* 2^20 ns = 1 ms per slot, 69 s per turn */

/* Where an attempt is in its life (RFC 9293 3.3.2 seen from the wire). */
enum node_state {
    ST_WAIT = 1,    /* SYN sent, no answer yet */
    ST_ANSWERED,    /* refused / unreachable / bad SYN-ACK / bare ACK: lingering for retries */
    ST_SYNACK,      /* valid SYN-ACK, client's ACK not seen yet */
    ST_ESTABLISHED, /* following the connection to its end */
    ST_CLOSED,      /* RST or both FINs seen: lingering for stragglers */
    ST_DONE,        /* emitted after a timeout: a tombstone that absorbs late packets */
};

/* How long a tombstone absorbs late retransmissions (a SYN-ACK re-sent by a server for a
 * minute, a SYN retried after we declared it dropped) so they do not start new attempts. */
#define TOMBSTONE_NS 60000000000LL

/* What identifies a packet when it is captured twice (see is_duplicate). */
struct packet_sig {
    int64_t ts;
    uint32_t seq, ack, payload_len;
    uint16_t ip_id;
    uint8_t flags, ttl;
};

/* The details of an attempt past its first SYN. What every packet of a connection reads or
 * writes comes first: the signatures, the history bits and the attempt's own per-packet fields
 * (struct flow_attempt begins with them) lie within its first 192 bytes. */
struct flow_cold {
    struct packet_sig last[2]; /* last packet from the server [0] and the client [1] */
    uint16_t history_seen;     /* bit per history letter already recorded */
    uint8_t history_len;       /* letters recorded (bits set in history_seen) */
    struct flow_attempt a;
    int64_t syn_gap_ns;    /* gap between the last two SYNs (0: none yet) */
    int64_t synack_gap_ns; /* gap between the last two SYN-ACKs (0: none yet) */
    int64_t last_synack_ns;
};

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
    uint8_t state;
    uint8_t syn_ttl;
    uint8_t syn_flags;
    uint8_t syn_opt_present;
    uint8_t syn_wscale;
    uint8_t bits; /* NODE_* */
};
_Static_assert(sizeof(struct flow_node) == 80, "a node is 80 bytes: the flood's memory");

struct addr_pair {
    struct dec_addr client, server; /* client.b[0..3] is the free list link when free */
};

/* A pool of fixed-size records in one mapping that grows; index 0 is never handed out.
 * Records may move when it grows: no pointer into a pool is kept across an allocation from it.
 * Normally the pool lies in an address range reserved for its largest size (pool_reserve) and
 * grows in place; when that range could not be had, it is one mapping grown with mremap. */
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

/* A node found due in fire_slot. */
struct flow_due {
    int64_t deadline;
    uint32_t first_pkt;
    uint32_t idx;
};

struct flow_table {
    struct flow_config cfg;
    flow_emit_fn emit;
    flow_emit_fn provisional; /* live: decided attempts announced early (provisional_time) */
    flow_neighbour_fn on_neighbour;
    struct flow_neighbour *neighbours; /* open addressing, FLOW_MAX_NEIGHBOURS * 2 slots */
    uint32_t neighbour_count;
    int64_t grace_ns;
    void *user;
    struct pool nodes, colds, pairs;
    uint32_t *buckets;
    uint64_t bucket_mask;
    uint32_t age_head, age_tail;
    uint32_t undecided; /* nodes held that are not tombstones: what flow_finish emits */
    uint32_t wheel[WHEEL_SLOTS];
    int64_t wheel_min[WHEEL_SLOTS];  /* no deadline in the slot is earlier (may be too low) */
    int64_t wheel_tick;              /* last tick processed */
    int64_t ahead_tick;              /* the tick whose slot walk_ahead is going through */
    uint32_t ahead;                  /* walk_ahead's next node in that slot, or NIL */
    uint32_t ahead_cold, ahead_line; /* a detail record it is fetching, its next line */
    bool ahead_rest;                 /* walk_ahead goes no further at this packet */
    struct flow_due *due;            /* fire_slot's due nodes */
    size_t due_cap;
    int64_t now;
    bool started;
    bool acks_seen; /* a TCP segment without SYN, FIN or RST has been seen (see on_tcp) */
    struct flow_stats stats;
};

static void *pool_at(const struct pool *p, uint32_t idx)
{
    return p->base + (size_t)idx * p->size;
}

static struct flow_node *node_at(const struct flow_table *t, uint32_t idx)
{
    return &((struct flow_node *)t->nodes.base)[idx];
}

static int node_family(const struct flow_node *n)
{
    return (n->bits & NODE_V6) ? 6 : 4;
}

static struct flow_cold *cold_at(const struct flow_table *t, uint32_t idx)
{
    return &((struct flow_cold *)t->colds.base)[idx];
}

/* Free records are chained through their first 4 bytes. */
static uint32_t *pool_link(const struct pool *p, uint32_t idx)
{
    return (uint32_t *)pool_at(p, idx);
}

#define HUGE_PAGE ((size_t)2 << 20) /* x86-64's and arm64's (4 KiB granule) huge page */

/* Reserves addresses for up to `records` records, aligned to a huge page, without memory
 * behind them (PROT_NONE, no commit charge): pool_grow then makes them usable in place.
 *
 * Why: the pools are read at random, one line per record, and together outgrow what the
 * processor's TLB maps with 4 KiB pages, so most reads also walk the page tables (in a
 * virtual machine, the guest's and the host's). The range is marked for transparent huge
 * pages, which a mapping grown by mremap seldom ends up with (it moves and loses its
 * alignment). Measured on bench/run's 1,000,000-attempt file: 51 of 59 MiB in huge pages
 * instead of none, wall time -5% to -13% (medians of alternating runs), peak RSS +2 MiB.
 * When the range cannot be reserved (an address-space limit), the pool is grown with mremap
 * as before. */
static void pool_reserve(struct pool *p, uint64_t records)
{
    if (records > UINT32_MAX) {
        records = UINT32_MAX; /* indexes are 32-bit */
    }
    if (records == 0 || records > (SIZE_MAX / 2 - HUGE_PAGE) / p->size) {
        return;
    }
    size_t usable = ((size_t)records * p->size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    size_t bytes = usable + HUGE_PAGE; /* room to align the start */
    void *m = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        return;
    }
    p->reserved = m;
    p->reserved_bytes = bytes;
    p->base = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    p->limit = (uint32_t)records;
#ifdef MADV_HUGEPAGE
    (void)madvise(p->base, usable, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
}

/* Makes the reserved range usable up to capacity records; once past a huge page, in whole
 * huge pages (a page only partly usable is never a huge one). Pages never touched cost
 * nothing. */
static bool pool_grow_reserved(struct pool *p, uint64_t capacity)
{
    if (capacity > p->limit) {
        capacity = p->limit;
    }
    if (capacity <= p->capacity) {
        return false;
    }
    size_t bytes = (size_t)capacity * p->size;
    if (bytes >= HUGE_PAGE) {
        bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); /* within the reservation */
        capacity = bytes / p->size < p->limit ? bytes / p->size : p->limit;
    }
    if (mprotect(p->base + p->bytes, bytes - p->bytes, PROT_READ | PROT_WRITE) != 0) {
        return false;
    }
    p->bytes = bytes;
    p->capacity = (uint32_t)capacity;
    return true;
}

/* Doubles the pool's array. Anonymous memory: pages never touched cost nothing, and the
 * records are not copied (a realloc through malloc might copy them, with both copies
 * resident at once). */
static bool pool_grow(struct pool *p)
{
    uint64_t capacity = p->capacity ? (uint64_t)p->capacity * 2 : POOL_FIRST;
    if (p->reserved != NULL) {
        return pool_grow_reserved(p, capacity);
    }
    if (capacity > UINT32_MAX) {
        capacity = UINT32_MAX; /* indexes are 32-bit */
    }
    if (capacity <= p->capacity || capacity > SIZE_MAX / p->size) {
        return false;
    }
    size_t bytes = (size_t)capacity * p->size;
    void *m = p->base == NULL
                  ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                  : mremap(p->base, p->bytes, bytes, MREMAP_MAYMOVE);
    if (m == MAP_FAILED) {
        return false;
    }
    p->base = m;
    p->bytes = bytes;
    p->capacity = (uint32_t)capacity;
    return true;
}

/* A record's index, or NIL when memory is exhausted. */
static uint32_t pool_alloc(struct pool *p)
{
    if (p->free_list != NIL) {
        uint32_t idx = p->free_list;
        p->free_list = *pool_link(p, idx);
        return idx;
    }
    if (p->next_fresh == 0) {
        p->next_fresh = 1; /* index 0 is NIL */
    }
    if (p->next_fresh >= p->capacity && !pool_grow(p)) {
        return NIL;
    }
    return p->next_fresh++;
}

static void pool_free(struct pool *p, uint32_t idx)
{
    *pool_link(p, idx) = p->free_list;
    p->free_list = idx;
}

static void pool_destroy(struct pool *p)
{
    if (p->reserved != NULL) {
        munmap(p->reserved, p->reserved_bytes);
    } else if (p->base != NULL) {
        munmap(p->base, p->bytes);
    }
}

/* Empty slots, none with a deadline. */
static void wheel_clear(struct flow_table *t)
{
    memset(t->wheel, 0, sizeof(t->wheel));
    for (uint32_t i = 0; i < WHEEL_SLOTS; i++) {
        t->wheel_min[i] = INT64_MAX;
    }
}

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
    t->bucket_mask = 1023;
    t->buckets = calloc(t->bucket_mask + 1, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        free(t);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    /* at most max_attempts nodes are held (node_create evicts first), each with at most one
     * detail record and one address pair; index 0 is never used */
    pool_reserve(&t->nodes, (uint64_t)cfg->max_attempts + 1);
    pool_reserve(&t->colds, (uint64_t)cfg->max_attempts + 1);
    pool_reserve(&t->pairs, (uint64_t)cfg->max_attempts + 1);
    wheel_clear(t);
    t->ahead_tick = INT64_MIN; /* behind any clock: walk_ahead starts at the first packet's */
    *out = t;
    return 0;
}

void flow_destroy(struct flow_table *t)
{
    if (t == NULL) {
        return;
    }
    pool_destroy(&t->nodes);
    pool_destroy(&t->colds);
    pool_destroy(&t->pairs);
    free(t->buckets);
    free(t->neighbours);
    free(t->due);
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

/* ---- keys and hashing ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* any byte order: only hashed */
    return v;
}

static uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* The 128-bit product of x and y folded to 64 bits (wyhash's "mum"): one multiplication that
 * carries every bit of both into the middle bits, which the fold brings down to the low ones
 * the buckets take. */
__extension__ typedef unsigned __int128 u128;

static uint64_t mum(uint64_t x, uint64_t y)
{
    u128 m = (u128)x * y;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

/* The seed's other words: with the seed unknown, so is each of them. */
#define SEED_B 0x9e3779b97f4a7c15ULL
#define SEED_C 0xc2b2ae3d27d4eb4fULL
#define SEED_D 0x165667b19e3779f9ULL

/* An IPv6 endpoint as one word (two different ones may agree: the table compares keys). */
static uint64_t endpoint_key6(uint64_t seed, const struct dec_addr *addr, uint16_t port)
{
    return mum(load64(addr->b) ^ seed ^ SEED_C, load64(addr->b + 8) ^ seed ^ SEED_D) ^ port;
}

/* Hash of the unordered tuple, the same for both directions: the endpoints, each one word
 * (an IPv4 address and port as 48 bits), are put in order and multiplied, seeded. About a
 * third of the instructions of three rounds of a 64-bit finalizer, which the reading thread
 * spent on every packet. */
static uint64_t tuple_hash(uint64_t seed, int family, const struct dec_addr *a, uint16_t aport,
                           const struct dec_addr *b, uint16_t bport)
{
    uint64_t x, y;
    if (family == 4) {
        x = (uint64_t)load32(a->b) << 16 | aport;
        y = (uint64_t)load32(b->b) << 16 | bport;
    } else {
        x = endpoint_key6(seed, a, aport);
        y = endpoint_key6(seed, b, bport);
    }
    uint64_t lo = x < y ? x : y;
    uint64_t hi = x ^ y ^ lo;
    return mum(lo ^ seed, hi ^ seed ^ SEED_B);
}

static bool addr_eq(const struct dec_addr *x, const struct dec_addr *y)
{
    return memcmp(x->b, y->b, sizeof(x->b)) == 0;
}

static struct addr_pair *pair_at(const struct flow_table *t, const struct flow_node *n)
{
    return pool_at(&t->pairs, n->addr.v6);
}

/* The node's addresses as struct dec_addr. */
static void node_addrs(const struct flow_table *t, const struct flow_node *n,
                       struct dec_addr *client, struct dec_addr *server)
{
    if (node_family(n) == 4) {
        memset(client, 0, sizeof(*client));
        memset(server, 0, sizeof(*server));
        memcpy(client->b, n->addr.v4, 4);
        memcpy(server->b, n->addr.v4 + 4, 4);
    } else {
        const struct addr_pair *p = pair_at(t, n);
        *client = p->client;
        *server = p->server;
    }
}

/* Does the node's address pair equal {x, y} in this order? */
static bool node_addrs_are(const struct flow_table *t, const struct flow_node *n,
                           const struct dec_addr *x, const struct dec_addr *y)
{
    if (node_family(n) == 4) {
        return memcmp(n->addr.v4, x->b, 4) == 0 && memcmp(n->addr.v4 + 4, y->b, 4) == 0;
    }
    const struct addr_pair *p = pair_at(t, n);
    return addr_eq(&p->client, x) && addr_eq(&p->server, y);
}

/* Does the node's tuple equal {a:aport, b:bport} in either direction? *forward: a is the
 * client. */
static bool node_matches(const struct flow_table *t, const struct flow_node *n, int family,
                         const struct dec_addr *a, uint16_t aport, const struct dec_addr *b,
                         uint16_t bport, bool *forward)
{
    if (node_family(n) != family) {
        return false;
    }
    if (n->client_port == aport && n->server_port == bport && node_addrs_are(t, n, a, b)) {
        *forward = true;
        return true;
    }
    if (n->client_port == bport && n->server_port == aport && node_addrs_are(t, n, b, a)) {
        *forward = false;
        return true;
    }
    return false;
}

/* ---- timer wheel --------------------------------------------------------------------- */

static uint32_t slot_of(int64_t deadline)
{
    return (uint32_t)((uint64_t)(deadline >> WHEEL_TICK_SHIFT) & (WHEEL_SLOTS - 1));
}

/* Timers are filed lazily: a node stays in the slot it was filed in while its deadline only
 * moves later (every packet of a connection moves it), and fire_slot files it again when
 * that slot comes round early. A deadline that moves earlier is moved at once. So the filed
 * deadline is never later than the node's deadline. */
static void timer_unlink(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    if (!(n->bits & NODE_TIMER)) {
        return;
    }
    if (n->timer_prev != NIL) {
        node_at(t, n->timer_prev)->timer_next = n->timer_next;
    } else {
        t->wheel[n->filed_slot] = n->timer_next;
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
    if (n->deadline < t->wheel_min[slot]) {
        t->wheel_min[slot] = n->deadline;
    }
    timer_unlink(t, idx);
    n->filed_slot = (uint16_t)slot;
    n->bits |= NODE_TIMER;
    n->timer_prev = NIL;
    n->timer_next = t->wheel[slot];
    if (n->timer_next != NIL) {
        node_at(t, n->timer_next)->timer_prev = idx;
    }
    t->wheel[slot] = idx;
}

static void timer_set(struct flow_table *t, uint32_t idx, int64_t deadline)
{
    struct flow_node *n = node_at(t, idx);
    bool later = (n->bits & NODE_TIMER) && deadline >= n->deadline;
    n->deadline = deadline;
    if (!later) {
        timer_file(t, idx);
    }
}

/* ---- node life ----------------------------------------------------------------------- */

static int grow_buckets(struct flow_table *t)
{
    uint64_t new_mask = t->bucket_mask * 2 + 1;
    uint32_t *nb = calloc(new_mask + 1, sizeof(*nb));
    if (nb == NULL) {
        return -1; /* keep the old table: longer chains, still correct */
    }
    /* through the pool in address order, not along the age list: the same nodes, read as
     * a stream instead of one cache miss each */
    for (uint32_t idx = 1; idx < t->nodes.next_fresh; idx++) {
        struct flow_node *n = node_at(t, idx);
        if (n->bits & NODE_LIVE) {
            n->hash_next = nb[n->hash & new_mask];
            nb[n->hash & new_mask] = idx;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->bucket_mask = new_mask;
    return 0;
}

/* The attempt as the report sees it: the detail record, or one built from the node alone. */
static const struct flow_attempt *node_attempt(const struct flow_table *t,
                                               const struct flow_node *n, struct flow_attempt *buf)
{
    if (n->cold != NIL) {
        return &cold_at(t, n->cold)->a;
    }
    memset(buf, 0, sizeof(*buf));
    buf->family = (uint8_t)node_family(n);
    node_addrs(t, n, &buf->client, &buf->server);
    buf->client_port = n->client_port;
    buf->server_port = n->server_port;
    buf->isn = n->isn;
    buf->syn_count = 1;
    buf->syn_ns[0] = n->first_ns;
    buf->syn_last_ns = n->first_ns;
    buf->syn_ttl = n->syn_ttl;
    buf->syn_opts.present = n->syn_opt_present;
    buf->syn_opts.wscale = n->syn_wscale;
    buf->syn_opts.mss = n->syn_mss;
    buf->saw_syn = true;
    buf->first_ns = n->first_ns;
    buf->last_ns = n->first_ns;
    buf->packet_total = 1;
    buf->packet_count = 1;
    buf->packets[0] = n->first_pkt;
    buf->history[0] = 'S';
    return buf;
}

/* Hands the attempt to the emit callback. */
static void emit_node(struct flow_table *t, struct flow_node *n, enum flow_end end,
                      int64_t seen_until)
{
    if (end == FLOW_END_EVICTED) {
        t->stats.evicted++;
    }
    if (t->emit == NULL) {
        return;
    }
    struct flow_attempt buf;
    struct flow_attempt *a = (struct flow_attempt *)node_attempt(t, n, &buf);
    a->end = end;
    a->seen_until_ns = seen_until;
    a->acks_in_capture = t->acks_seen;
    t->emit(a, t->user);
}

static void cold_release(struct flow_table *t, struct flow_node *n)
{
    if (n->cold != NIL) {
        pool_free(&t->colds, n->cold);
        n->cold = NIL;
    }
}

/* Unlinks the node from every list and frees it; emits its attempt unless it is a tombstone
 * (already emitted). */
static void finish_node(struct flow_table *t, uint32_t idx, enum flow_end end, int64_t seen_until)
{
    struct flow_node *n = node_at(t, idx);
    /* hash chain */
    uint32_t *link = &t->buckets[n->hash & t->bucket_mask];
    while (*link != idx && *link != NIL) {
        link = &node_at(t, *link)->hash_next;
    }
    if (*link == idx) { /* always: it was filed under n->hash */
        *link = n->hash_next;
    }
    /* age list */
    if (n->age_prev != NIL) {
        node_at(t, n->age_prev)->age_next = n->age_next;
    } else {
        t->age_head = n->age_next;
    }
    if (n->age_next != NIL) {
        node_at(t, n->age_next)->age_prev = n->age_prev;
    } else {
        t->age_tail = n->age_prev;
    }
    timer_unlink(t, idx);
    t->stats.tracked--;
    n->bits &= (uint8_t) ~(NODE_TIMER | NODE_LIVE);
    if (n->state != ST_DONE) {
        t->undecided--;
        emit_node(t, n, end, seen_until);
    }
    cold_release(t, n);
    if (node_family(n) == 6) {
        pool_free(&t->pairs, n->addr.v6);
    }
    pool_free(&t->nodes, idx);
}

static void evict_oldest(struct flow_table *t)
{
    finish_node(t, t->age_head, FLOW_END_EVICTED, t->now);
    if (t->age_head != NIL) {
        /* a flood evicts one attempt per packet: fetch the next one's bucket meanwhile */
        __builtin_prefetch(&t->buckets[node_at(t, t->age_head)->hash & t->bucket_mask]);
    }
}

/* A new node for the tuple client -> server, linked in its bucket and at the young end of the
 * age list, everything else zero; NIL when memory is exhausted and nothing can be evicted. */
static uint32_t node_create(struct flow_table *t, uint64_t hash, int family,
                            const struct dec_addr *client, uint16_t client_port,
                            const struct dec_addr *server, uint16_t server_port)
{
    if (t->stats.tracked >= t->cfg.max_attempts && t->age_head != NIL) {
        evict_oldest(t);
    }
    uint32_t idx = pool_alloc(&t->nodes);
    uint32_t pair = family == 6 ? pool_alloc(&t->pairs) : NIL;
    while ((idx == NIL || (family == 6 && pair == NIL)) && t->age_head != NIL) {
        /* out of memory: make room by evicting, then reuse what it held */
        evict_oldest(t);
        if (idx == NIL) {
            idx = pool_alloc(&t->nodes);
        }
        if (family == 6 && pair == NIL) {
            pair = pool_alloc(&t->pairs);
        }
    }
    if (idx == NIL || (family == 6 && pair == NIL)) {
        if (idx != NIL) {
            pool_free(&t->nodes, idx);
        }
        if (pair != NIL) {
            pool_free(&t->pairs, pair);
        }
        return NIL;
    }
    struct flow_node *n = node_at(t, idx);
    memset(n, 0, sizeof(*n));
    n->bits = family == 6 ? NODE_LIVE | NODE_V6 : NODE_LIVE;
    n->hash = (uint32_t)hash;
    n->client_port = client_port;
    n->server_port = server_port;
    if (family == 4) {
        memcpy(n->addr.v4, client->b, 4);
        memcpy(n->addr.v4 + 4, server->b, 4);
    } else {
        n->addr.v6 = pair;
        struct addr_pair *p = pool_at(&t->pairs, pair);
        p->client = *client;
        p->server = *server;
    }
    n->hash_next = t->buckets[hash & t->bucket_mask];
    t->buckets[hash & t->bucket_mask] = idx;
    n->age_prev = t->age_tail;
    if (t->age_tail != NIL) {
        node_at(t, t->age_tail)->age_next = idx;
    } else {
        t->age_head = idx;
    }
    t->age_tail = idx;
    t->stats.attempts++;
    t->stats.tracked++;
    t->undecided++;
    if (t->stats.tracked > t->stats.peak_tracked) {
        t->stats.peak_tracked = t->stats.tracked;
    }
    if (t->stats.tracked > t->bucket_mask + 1 && t->bucket_mask + 1 < (uint64_t)1 << 31) {
        (void)grow_buckets(t);
    }
    return idx;
}

/* The last packet seen from one side of an attempt without a detail record: the SYN it stands
 * for from the client, nothing yet from the server. (With a detail record, its last[].) */
static struct packet_sig syn_sig(const struct flow_node *n, bool from_client)
{
    struct packet_sig sig = {0};
    if (from_client) {
        sig.ts = n->first_ns;
        sig.seq = n->isn;
        sig.ack = n->syn_ack;
        sig.ip_id = n->syn_ip_id;
        sig.flags = n->syn_flags;
        sig.ttl = n->syn_ttl;
    }
    return sig;
}

/* The node's detail record, created from the node (its one SYN) when it has none yet; NULL
 * when memory is exhausted: the attempt is then evicted (counted) rather than kept wrong. */
static struct flow_cold *promote(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    if (n->cold != NIL) {
        return cold_at(t, n->cold);
    }
    uint32_t ci = pool_alloc(&t->colds);
    while (ci == NIL && t->age_head != NIL && t->age_head != idx) {
        evict_oldest(t);
        ci = pool_alloc(&t->colds);
    }
    if (ci == NIL) {
        finish_node(t, idx, FLOW_END_EVICTED, t->now);
        return NULL;
    }
    struct flow_cold *c = cold_at(t, ci);
    memset(c, 0, offsetof(struct flow_cold, a)); /* node_attempt clears the attempt */
    c->syn_gap_ns = c->synack_gap_ns = c->last_synack_ns = 0;
    if (n->state == 0) {
        /* a node just created for a SYN-ACK: the caller fills the rest */
        memset(&c->a, 0, sizeof(c->a));
        c->a.family = (uint8_t)node_family(n);
        node_addrs(t, n, &c->a.client, &c->a.server);
        c->a.client_port = n->client_port;
        c->a.server_port = n->server_port;
    } else {
        node_attempt(t, n, &c->a);
        c->last[1] = syn_sig(n, true); /* the SYN the node stood for */
        c->history_seen = 1u;          /* 'S' */
        c->history_len = 1;
    }
    n->cold = ci;
    return c;
}

/* ---- timers -------------------------------------------------------------------------- */

static void rearm(struct flow_table *t, uint32_t idx);

/* Live capture (DESIGN "Time": provisional, then final): a refusal or an ICMP error is
 * announced as soon as it arrives (the record itself lingers to collect retransmissions); an
 * accepted attempt once it is still open after the grace period, so that a reset right after
 * the handshake is reported as such. Each attempt is announced at most once. */
static int64_t provisional_time(const struct flow_table *t, const struct flow_node *n)
{
    if (t->provisional == NULL || n->cold == NIL) {
        return INT64_MAX;
    }
    const struct flow_attempt *a = &cold_at(t, n->cold)->a;
    if (a->announced != FLOW_ANS_NONE || !a->saw_syn) {
        return INT64_MAX;
    }
    if (n->state == ST_ANSWERED && (a->answer == FLOW_ANS_RST || a->answer == FLOW_ANS_ICMP)) {
        return a->reply.ts_ns;
    }
    if (a->answer == FLOW_ANS_SYNACK && (n->state == ST_SYNACK || n->state == ST_ESTABLISHED)) {
        return a->reply.ts_ns + t->grace_ns;
    }
    return INT64_MAX;
}

static bool provisional_due(const struct flow_table *t, const struct flow_node *n, int64_t now)
{
    return provisional_time(t, n) <= now;
}

/* A due node: announced (live), emitted and freed, or emitted and kept as a tombstone. */
static void fire_node(struct flow_table *t, uint32_t idx, int64_t now)
{
    struct flow_node *n = node_at(t, idx);
    if (provisional_due(t, n, now)) {
        struct flow_attempt *a = &cold_at(t, n->cold)->a;
        a->announced = (uint8_t)a->answer;
        a->acks_in_capture = t->acks_seen;
        t->provisional(a, t->user);
        rearm(t, idx);
    } else if (n->state == ST_CLOSED || n->state == ST_DONE) {
        finish_node(t, idx, FLOW_END_CLOSED, n->deadline);
        return;
    } else {
        /* decided by silence: emit now, keep a tombstone for late packets */
        emit_node(t, n, FLOW_END_TIMEOUT, n->deadline);
        cold_release(t, n);
        n->state = ST_DONE;
        t->undecided--;
        timer_set(t, idx, now + TOMBSTONE_NS);
    }
    if (!(n->bits & NODE_TIMER)) {
        return;
    }
    if (n->filed_slot != slot_of(n->deadline)) {
        timer_file(t, idx); /* still filed in the slot being fired: file it where it belongs */
    } else if (n->deadline < t->wheel_min[n->filed_slot]) {
        /* a turn (or more) later in the same slot: the slot must be walked again by then */
        t->wheel_min[n->filed_slot] = n->deadline;
    }
}

/* Fetches at most max_lines of the cache lines holding c's attempt (what emitting it reads),
 * from the line `line` on (0: the one where it starts); returns the next line to fetch, or
 * 0 when none is left. The record's other fields are not read then. */
static uint32_t prefetch_attempt(const struct flow_cold *c, uint32_t line, uint32_t max_lines)
{
    const char *a = (const char *)&c->a;
    const char *first = (const char *)((uintptr_t)a & ~(uintptr_t)63);
    const char *end = a + sizeof(c->a);
    for (const char *p = first + (size_t)line * 64; max_lines > 0; max_lines--, line++, p += 64) {
        if (p >= end) {
            return 0;
        }
        __builtin_prefetch(p);
    }
    return first + (size_t)line * 64 < end ? line : 0;
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
    if (t->wheel_min[slot] > now) {
        return;
    }
    t->wheel_min[slot] = INT64_MAX; /* recomputed below; timer_set lowers it meanwhile */
    size_t due = 0;
    uint32_t idx = t->wheel[slot];
    while (idx != NIL) {
        struct flow_node *n = node_at(t, idx);
        uint32_t next = n->timer_next;
        if (next != NIL) {
            __builtin_prefetch(node_at(t, next));
        }
        if (n->deadline <= now) {
            if (n->state == ST_CLOSED || n->state == ST_DONE) {
                /* finish_node will walk its bucket: fetch it while the others are collected */
                __builtin_prefetch(&t->buckets[n->hash & t->bucket_mask]);
            }
            if (n->cold != NIL) {
                /* its attempt is about to be emitted (read whole) */
                (void)prefetch_attempt(cold_at(t, n->cold), 0, UINT32_MAX); /* all its lines */
            }
            if (due == t->due_cap) {
                size_t cap = t->due_cap ? t->due_cap * 2 : 256;
                struct flow_due *nd = realloc(t->due, cap * sizeof(*nd));
                if (nd == NULL) {
                    fire_node(t, idx, now); /* out of memory: at once, in filing order */
                    idx = next;
                    continue;
                }
                t->due = nd;
                t->due_cap = cap;
            }
            t->due[due++] = (struct flow_due){n->deadline, n->first_pkt, idx};
        } else if (slot_of(n->deadline) != slot) {
            timer_file(t, idx); /* the deadline moved on since it was filed here */
        } else if (n->deadline < t->wheel_min[slot]) {
            t->wheel_min[slot] = n->deadline; /* not due yet: stays in the slot */
        }
        idx = next;
    }
    sort_due(t->due, due);
    for (size_t i = 0; i < due; i++) {
        fire_node(t, t->due[i].idx, now);
    }
}

static void advance(struct flow_table *t, int64_t now)
{
    if (!t->started) {
        t->started = true;
        t->now = now;
        t->wheel_tick = now >> WHEEL_TICK_SHIFT;
        return;
    }
    if (now <= t->now) {
        return;
    }
    t->now = now;
    int64_t tick = now >> WHEEL_TICK_SHIFT;
    int64_t steps = tick - t->wheel_tick;
    if (steps >= (int64_t)WHEEL_SLOTS) {
        steps = WHEEL_SLOTS - 1; /* a jump of a whole turn or more: visit every slot once */
    }
    /* visit the slot of the last tick (deadlines after the previous clock within it), those of
     * the ticks passed, and the current one */
    for (int64_t i = steps; i >= 0; i--) {
        fire_slot(t, (uint32_t)((uint64_t)(tick - i) & (WHEEL_SLOTS - 1)), now);
    }
    t->wheel_tick = tick;
}

/* Fetches both lines of the node idx, read from memory that may have changed since: nothing
 * unless idx is a record of the pool. */
static void prefetch_node(const struct flow_table *t, uint32_t idx)
{
    if (idx != NIL && idx < t->nodes.capacity) {
        const char *node = (const char *)node_at(t, idx);
        __builtin_prefetch(node);
        __builtin_prefetch(node + sizeof(struct flow_node) - 1);
    }
}

/* Fetches ahead what the next ticks' slots will need when they fire: their nodes and, for a
 * node due by then, its attempt (the part of its detail record that emitting it reads, whole)
 * and its bucket. A walk in fire_slot otherwise meets one cache miss after another, each node
 * (filed seconds ago) being reached through the one before: the table's costliest wait, a
 * third of its time.
 *
 * walk_ahead is called once per packet. It goes one node further every other packet (the
 * node it reads was fetched two packets before), and fetches an attempt AHEAD_LINES lines per
 * packet (all its lines at once would fill the queue of pending fetches and stall). It
 * walks a slot to its end, then the next one, at most AHEAD_TICKS ticks ahead of the clock.
 * "Due by then" includes the tick after the slot's: a node whose deadline moved a little later
 * is filed again, in the next slot, only when its own slot fires.
 *
 * Only hints: the lists change under the walk (a node may be refiled, freed or reused), so an
 * index is checked against its pool before it makes an address, and what is read decides
 * nothing but what is fetched. Measured on bench/run's 1,000,000-attempt file: the flow
 * table's thread spent 16-20% fewer samples (perf), wall time 8% lower (10 alternating runs). */
#define AHEAD_TICKS 2
#define AHEAD_LINES 6

static void walk_ahead(struct flow_table *t)
{
    if (t->ahead_cold != NIL) {
        t->ahead_line =
            t->ahead_cold < t->colds.capacity
                ? prefetch_attempt(cold_at(t, t->ahead_cold), t->ahead_line, AHEAD_LINES)
                : 0;
        if (t->ahead_line != 0) {
            return;
        }
        t->ahead_cold = NIL;
    }
    t->ahead_rest = !t->ahead_rest;
    if (t->ahead_rest) {
        return;
    }
    uint32_t idx = t->ahead;
    if (t->ahead_tick <= t->wheel_tick) {
        /* behind the clock (or just started): from the next tick's slot */
        t->ahead_tick = t->wheel_tick + 1;
        idx = t->wheel[(uint64_t)t->ahead_tick & (WHEEL_SLOTS - 1)];
    } else if (idx == NIL) {
        if (t->ahead_tick >= t->wheel_tick + AHEAD_TICKS) {
            return; /* far enough ahead */
        }
        t->ahead_tick++;
        idx = t->wheel[(uint64_t)t->ahead_tick & (WHEEL_SLOTS - 1)];
    } else if (idx < t->nodes.capacity) {
        const struct flow_node *n = node_at(t, idx);
        if (n->deadline < (t->ahead_tick + 2) * ((int64_t)1 << WHEEL_TICK_SHIFT)) {
            if (n->cold != NIL) {
                t->ahead_cold = n->cold;
                t->ahead_line = 0;
            }
            /* finish_node walks its bucket */
            if (n->state == ST_CLOSED || n->state == ST_DONE) {
                __builtin_prefetch(&t->buckets[n->hash & t->bucket_mask]);
            }
        }
        idx = n->timer_next;
    } else {
        idx = NIL;
    }
    t->ahead = idx;
    prefetch_node(t, idx);
}

void flow_advance(struct flow_table *t, int64_t now_ns)
{
    advance(t, now_ns);
}

/* Deadline after the latest packet: RFC 6298 backoff doubles the retransmission gap, so the
 * next retry is expected about twice the last gap later (we allow 2.5x); never less than the
 * SYN timeout. Before any retry is seen the gap is unknown: Windows and older Linux wait 3 s
 * (RFC 1122's initial RTO) before the first retry, plus timer slack, so the first wait is
 * 1.5x the SYN timeout; otherwise one connect() would be cut in two attempts. */
static void rearm(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    const struct flow_cold *c = n->cold != NIL ? cold_at(t, n->cold) : NULL;
    int64_t wait = t->cfg.syn_timeout_ns;
    if (n->state == ST_ESTABLISHED) {
        wait = t->cfg.idle_timeout_ns;
    } else if (n->state != ST_CLOSED) {
        /* a server answers each retransmitted SYN with a SYN-ACK at once, besides its own
         * retries: the larger of the two gaps is the one that tells the backoff */
        int64_t gap = 0;
        if (c != NULL) {
            gap = c->syn_gap_ns > c->synack_gap_ns ? c->syn_gap_ns : c->synack_gap_ns;
        }
        if (gap > (int64_t)1 << 60) {
            /* 36 years: a hostile capture's SYN schedule must not overflow last_ns + wait
             * (capture/ keeps packet times within +-2^32 s) */
            gap = (int64_t)1 << 60;
        }
        if (gap == 0) {
            wait = wait / 2 * 3;
        } else if (gap / 2 * 5 > wait) {
            wait = gap / 2 * 5;
        }
    }
    int64_t deadline = (c != NULL ? c->a.last_ns : n->first_ns) + wait;
    int64_t announce = provisional_time(t, n);
    timer_set(t, idx, announce < deadline ? announce : deadline);
}

void flow_set_provisional(struct flow_table *t, flow_emit_fn provisional, int64_t grace_ns)
{
    t->provisional = provisional;
    t->grace_ns = grace_ns;
}

/* ---- recording facts ----------------------------------------------------------------- */

/* Bit + 1 of each Zeek history letter in history_seen ('^': Zeek flipped the direction). */
static const uint8_t history_bits[128] = {
    ['S'] = 1, ['H'] = 2, ['F'] = 3,  ['R'] = 4,  ['D'] = 5,  ['A'] = 6,  ['s'] = 7,
    ['h'] = 8, ['f'] = 9, ['r'] = 10, ['d'] = 11, ['a'] = 12, ['^'] = 13,
};
static const char history_letters[] = "SHFRDAshfrda^"; /* by bit */

/* Records the letter of bit b of history_seen after the letters so far. */
static void append_history(struct flow_cold *c, int b)
{
    /* every letter is recorded once: 13 letters at most */
    int len = c->history_len++;
    c->history_seen |= (uint16_t)(1u << b);
    if (len < FLOW_HISTORY_LEN) {
        c->a.history[len] = history_letters[b];
        c->a.history[len + 1] = '\0';
    }
}

/* Zeek's history: one letter per kind of packet and direction, upper case for the client
 * (originator), recorded the first time it is seen (base/protocols/conn/main.zeek). */
static void add_history(struct flow_cold *c, char letter)
{
    unsigned char u = (unsigned char)letter;
    if (u >= sizeof(history_bits) || history_bits[u] == 0) {
        return;
    }
    if (!(c->history_seen & (1u << (history_bits[u] - 1)))) {
        append_history(c, history_bits[u] - 1);
    }
}

/* The server's letters a packet stands for, as history_seen bits, by its SYN, FIN, RST and ACK
 * flags and whether it carries data (history_index): 's' or 'h', then 'f', 'r', and 'd' or a
 * bare 'a', the order of their bits (the client's are the same 6 bits lower). */
#define HISTORY_MASK(i)                                                                            \
    ((((i)&2) ? (((i)&8) ? 1u << 7 : 1u << 6) : 0u) | (((i)&1) ? 1u << 8 : 0u) |                   \
     (((i)&4) ? 1u << 9 : 0u) |                                                                    \
     (((i)&16)        ? 1u << 10                                                                   \
      : ((i)&15) == 8 ? 1u << 11                                                                   \
                      : 0u))
#define HISTORY_MASK4(i)                                                                           \
    HISTORY_MASK(i), HISTORY_MASK((i) + 1), HISTORY_MASK((i) + 2), HISTORY_MASK((i) + 3)
_Static_assert(DEC_TCP_FIN == 1 && DEC_TCP_SYN == 2 && DEC_TCP_RST == 4, "history_masks' index");
static const uint16_t history_masks[32] = {
    HISTORY_MASK4(0),  HISTORY_MASK4(4),  HISTORY_MASK4(8),  HISTORY_MASK4(12),
    HISTORY_MASK4(16), HISTORY_MASK4(20), HISTORY_MASK4(24), HISTORY_MASK4(28),
};

static void record_history(struct flow_cold *c, const struct dec_event *ev, bool from_client)
{
    uint8_t f = ev->tcp_flags;
    unsigned i = (f & (DEC_TCP_FIN | DEC_TCP_SYN | DEC_TCP_RST)) | ((f & DEC_TCP_ACK) ? 8u : 0u) |
                 (ev->payload_len > 0 ? 16u : 0u);
    uint32_t fresh = history_masks[i] >> (from_client ? 6 : 0);
    fresh &= ~(uint32_t)c->history_seen;
    while (fresh != 0) {
        append_history(c, __builtin_ctz(fresh)); /* lowest bit first: the letters' order */
        fresh &= fresh - 1;
    }
}

static void record_packet(struct flow_cold *c, uint32_t pkt, int64_t ts, bool evidence)
{
    struct flow_attempt *a = &c->a;
    a->packet_total++;
    a->last_ns = ts;
    if (evidence && a->packet_count < FLOW_MAX_PACKETS) {
        a->packets[a->packet_count++] = pkt;
    }
}

static void fill_reply(struct flow_reply *r, const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    memset(r, 0, sizeof(*r));
    r->ts_ns = ts;
    r->from = ev->src;
    r->ttl = ev->ttl;
    r->has_ip_id = ev->has_ip_id;
    r->ip_id = ev->ip_id;
    r->pkt = pkt;
    if (ev->kind == DEC_EV_TCP) {
        r->flags = ev->tcp_flags;
        r->seq = ev->seq;
        r->ack = ev->ack;
        r->window = ev->window;
        r->opts = ev->opts;
    } else {
        r->icmp_type = ev->icmp_type;
        r->icmp_code = ev->icmp_code;
    }
}

/* A node for a first SYN: everything about it is in the node. */
static void start_syn(struct flow_node *n, const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    n->isn = ev->seq;
    n->first_ns = ts;
    n->first_pkt = pkt;
    n->syn_ack = ev->ack;
    n->syn_ip_id = ev->ip_id;
    n->syn_ttl = ev->ttl;
    n->syn_flags = ev->tcp_flags;
    n->syn_opt_present = ev->opts.present;
    n->syn_wscale = ev->opts.wscale;
    n->syn_mss = ev->opts.mss;
    n->state = ST_WAIT;
}

/* An attempt built from a SYN-ACK: the receiver is the client. */
static void start_from_synack(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                              int64_t ts, uint32_t pkt)
{
    struct flow_attempt *a = &c->a;
    a->isn = n->isn = ev->ack - 1;
    n->first_pkt = pkt;
    a->first_ns = n->first_ns = ts;
    a->last_ns = ts;
    n->state = ST_SYNACK;
}

static void on_client_syn(struct flow_cold *c, const struct dec_event *ev, int64_t ts)
{
    struct flow_attempt *a = &c->a;
    if (!a->saw_syn) {
        /* SYN after its SYN-ACK (reordered capture): attach it */
        a->saw_syn = true;
        a->syn_count = 1;
        a->syn_ns[0] = ts;
        a->syn_last_ns = ts;
        a->syn_ttl = ev->ttl;
        a->syn_opts = ev->opts;
        return;
    }
    if (a->syn_count < FLOW_MAX_SYN_TIMES) {
        a->syn_ns[a->syn_count] = ts;
    }
    c->syn_gap_ns = ts - a->syn_last_ns;
    a->syn_count++;
    a->syn_last_ns = ts;
}

static void on_synack(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                      int64_t ts, uint32_t pkt)
{
    struct flow_attempt *a = &c->a;
    if (ev->ack != a->isn + 1) {
        if (a->answer == FLOW_ANS_NONE) {
            a->answer = FLOW_ANS_BAD_SYNACK;
            fill_reply(&a->reply, ev, ts, pkt);
            n->state = ST_ANSWERED;
        }
        return;
    }
    if (c->last_synack_ns != 0) {
        c->synack_gap_ns = ts - c->last_synack_ns;
    }
    c->last_synack_ns = ts;
    a->synack_count++;
    if (a->handshake_done && a->synack_after_ack_ns == 0) {
        a->synack_after_ack_ns = ts;
    }
    /* The outcome is what the client finally got. After a RST or an ICMP error the client
     * gives up (Linux) unless it sends its SYN again (Windows retries after both): a SYN-ACK
     * answering such a retry decides (server_rst_count and icmp_count keep the earlier
     * answers as evidence). A SYN-ACK with no retry in between came too late for the client,
     * so the first answer stands; that the server answered at all is kept as evidence that
     * someone else sent the RST or ICMP (DESIGN: host traffic after the RST). */
    bool retried = a->syn_last_ns > a->reply.ts_ns;
    if ((a->answer == FLOW_ANS_RST || a->answer == FLOW_ANS_ICMP) && !retried) {
        if (a->synack_after_answer.ts_ns == 0) {
            fill_reply(&a->synack_after_answer, ev, ts, pkt);
        }
        return;
    }
    if (a->answer != FLOW_ANS_SYNACK && a->answer != FLOW_ANS_BAD_SYNACK) {
        if (a->answer == FLOW_ANS_BARE_ACK) {
            a->client_rst_ns = 0; /* the client's RST answered the stale ACK, not this SYN-ACK */
        }
        a->answer = FLOW_ANS_SYNACK;
        fill_reply(&a->reply, ev, ts, pkt);
        c->a.server_isn = ev->seq;
        if (n->state == ST_WAIT || n->state == ST_ANSWERED) {
            n->state = ST_SYNACK;
        }
    }
}

static void on_server_rst(struct flow_table *t, struct flow_node *n, struct flow_cold *c,
                          const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    struct flow_attempt *a = &c->a;
    a->server_rst_count++;
    /* A server sends a RST+ACK with the SYN-ACK's sequence number + 1 only from an established
     * socket (the application accepted and aborted): the handshake completed even when its
     * ACK is not in the capture (live capture passes no pure ACKs). Its time is unknown. */
    if (n->state == ST_SYNACK && a->answer == FLOW_ANS_SYNACK && !a->handshake_done &&
        (ev->tcp_flags & DEC_TCP_ACK) && ev->seq == a->server_isn + 1 && a->saw_syn) {
        a->handshake_done = true;
        a->handshake_ns = a->reply.ts_ns;
    }
    if (n->state == ST_WAIT || (n->state == ST_ANSWERED && a->answer == FLOW_ANS_BARE_ACK)) {
        /* RFC 9293 3.10.7.3: in SYN-SENT a RST is acceptable only if it ACKs the SYN */
        if ((ev->tcp_flags & DEC_TCP_ACK) && ev->ack == a->isn + 1) {
            if (a->answer == FLOW_ANS_NONE) {
                a->answer = FLOW_ANS_RST;
                fill_reply(&a->reply, ev, ts, pkt);
            }
            n->state = ST_ANSWERED;
        } else {
            t->stats.invalid_answers++;
        }
        return;
    }
    if (n->state == ST_SYNACK || n->state == ST_ESTABLISHED) {
        if (a->server_rst_ns == 0) {
            a->server_rst_ns = ts;
            if (a->server_end.ts_ns == 0) {
                fill_reply(&a->server_end, ev, ts, pkt);
            }
        }
        n->state = ST_CLOSED;
    } else if (n->state == ST_CLOSED && a->server_rst_ns == 0 &&
               (a->client_fin_ns != 0 || a->server_fin_ns != 0)) {
        a->server_rst_ns = ts; /* a RST after the FINs: Zeek's responder state is RESET */
    }
}

static void on_client_rst(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                          int64_t ts)
{
    struct flow_attempt *a = &c->a;
    if (a->client_rst_ns == 0) {
        a->client_rst_ns = ts;
    }
    /* A RST+ACK acknowledging the SYN-ACK comes from an established socket (a kernel
     * answering an unknown SYN-ACK sends a bare RST): the handshake completed even if its
     * ACK is not in the capture (live capture passes no pure ACKs). */
    if (n->state == ST_SYNACK && a->answer == FLOW_ANS_SYNACK && (ev->tcp_flags & DEC_TCP_ACK) &&
        ev->ack == a->server_isn + 1 && !a->handshake_done) {
        a->handshake_done = true;
        a->handshake_ns = a->reply.ts_ns; /* the ACK itself was not seen: time unknown */
    }
    switch (n->state) {
    case ST_WAIT:
    case ST_SYNACK:
    case ST_ESTABLISHED:
        n->state = ST_CLOSED;
        break;
    default:
        /* after a refusal or a bare ACK: a client RST is routine (stale state is being
         * cleared); a retried SYN may follow */
        break;
    }
}

static void on_fin(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev, int64_t ts,
                   uint32_t pkt, bool from_client)
{
    struct flow_attempt *a = &c->a;
    if (from_client) {
        if (a->client_fin_ns == 0) {
            a->client_fin_ns = ts;
        }
    } else if (a->server_fin_ns == 0) {
        a->server_fin_ns = ts;
        if (a->server_end.ts_ns == 0) {
            fill_reply(&a->server_end, ev, ts, pkt);
        }
    }
    if (a->client_fin_ns != 0 && a->server_fin_ns != 0) {
        n->state = ST_CLOSED;
    }
}

static void on_data_or_ack(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                           int64_t ts, uint32_t pkt, bool from_client)
{
    struct flow_attempt *a = &c->a;
    uint8_t f = ev->tcp_flags;
    if (from_client) {
        if (ev->payload_len > 0) {
            a->client_bytes += ev->payload_len;
            if (a->client_first_data_ns == 0) {
                a->client_first_data_ns = ts;
            }
        }
        if (!(f & DEC_TCP_ACK)) {
            return;
        }
        if (n->state == ST_SYNACK && a->answer == FLOW_ANS_SYNACK) {
            a->handshake_done = true;
            /* a pure ACK is the handshake's; an ACK that already carries data or a FIN only
             * says the handshake happened earlier (live capture passes no pure ACKs) */
            bool pure = ev->payload_len == 0 && !(f & (DEC_TCP_FIN | DEC_TCP_RST));
            a->handshake_ns = pure ? ts : a->reply.ts_ns;
            n->state = ST_ESTABLISHED;
        } else if (n->state == ST_SYNACK && !a->saw_syn) {
            n->state = ST_ESTABLISHED;
        } else if (n->state == ST_WAIT) {
            /* the client acknowledges a SYN-ACK the capture does not hold */
            a->client_acked_unseen = true;
            n->state = ST_ESTABLISHED;
        }
        return;
    }
    if (ev->payload_len > 0) {
        a->server_bytes += ev->payload_len;
        if (ev->payload_len > a->server_max_segment) {
            a->server_max_segment = ev->payload_len;
        }
        if (a->server_first_data_ns == 0) {
            a->server_first_data_ns = ts;
        }
    }
    if (n->state == ST_SYNACK && !a->saw_syn && (f & DEC_TCP_ACK)) {
        /* only the server's side is captured: its ACKs and data after the SYN-ACK show the
         * connection going on, so it is followed like an established one */
        n->state = ST_ESTABLISHED;
    }
    if (n->state == ST_WAIT && (f & DEC_TCP_ACK)) {
        if (ev->ack == a->isn + 1) {
            /* acknowledges our SYN without a SYN flag: the SYN-ACK is missing here */
            a->server_acked_unseen = true;
            n->state = ST_ESTABLISHED;
        } else if (ev->payload_len == 0) {
            /* RFC 9293 3.10.7.4 / RFC 5961 4: challenge ACK, or TIME-WAIT answering */
            a->answer = FLOW_ANS_BARE_ACK;
            fill_reply(&a->reply, ev, ts, pkt);
            n->state = ST_ANSWERED;
        }
    }
    (void)pkt;
}

static bool is_evidence(const struct dec_event *ev, const struct flow_node *n)
{
    if (ev->kind == DEC_EV_ICMP) {
        return true;
    }
    if (ev->tcp_flags & (DEC_TCP_SYN | DEC_TCP_RST | DEC_TCP_FIN)) {
        return true;
    }
    /* the handshake's final ACK, or answers while the attempt is undecided */
    return n->state != ST_ESTABLISHED && n->state != ST_CLOSED;
}

/* A capture on a router with `-i any`, or merged from two taps, holds each forwarded packet
 * twice: once as it came in, once as it went out with the TTL one lower, microseconds apart.
 * A real retransmission keeps its TTL and comes at least a minimum RTO (200 ms) later. */
#define DUPLICATE_WINDOW_NS 10000000LL

static bool same_packet(const struct packet_sig *last, const struct dec_event *ev, int64_t ts)
{
    return last->ts != 0 && ts - last->ts <= DUPLICATE_WINDOW_NS && last->ttl != ev->ttl &&
           last->seq == ev->seq && last->ack == ev->ack && last->flags == ev->tcp_flags &&
           last->payload_len == ev->payload_len && (!ev->has_ip_id || last->ip_id == ev->ip_id);
}

static bool is_duplicate(const struct flow_table *t, const struct flow_node *n,
                         const struct dec_event *ev, int64_t ts, bool from_client)
{
    if (n->cold != NIL) {
        return same_packet(&cold_at(t, n->cold)->last[from_client], ev, ts); /* in place */
    }
    struct packet_sig syn = syn_sig(n, from_client);
    return same_packet(&syn, ev, ts);
}

static void remember(struct flow_cold *c, const struct dec_event *ev, int64_t ts, bool from_client)
{
    struct packet_sig *last = &c->last[from_client];
    last->ts = ts;
    last->seq = ev->seq;
    last->ack = ev->ack;
    last->payload_len = ev->payload_len;
    last->ip_id = ev->ip_id;
    last->flags = ev->tcp_flags;
    last->ttl = ev->ttl;
}

/* The attempt of the tuple {a:aport, b:bport} in either direction (*forward: a is its client),
 * or NIL; hash is the tuple's (tuple_hash). */
static uint32_t find_tuple(const struct flow_table *t, int family, const struct dec_addr *a,
                           uint16_t aport, const struct dec_addr *b, uint16_t bport, uint64_t hash,
                           bool *forward)
{
    *forward = false;
    for (uint32_t idx = t->buckets[hash & t->bucket_mask]; idx != NIL;) {
        const struct flow_node *n = node_at(t, idx);
        if (n->hash == (uint32_t)hash && node_matches(t, n, family, a, aport, b, bport, forward)) {
            return idx;
        }
        idx = n->hash_next;
    }
    return NIL;
}

/* A first SYN: a new node; the detail record only when the SYN says more than "S". */
static void new_syn(struct flow_table *t, const struct dec_event *ev, uint64_t hash, int64_t ts,
                    uint32_t pkt)
{
    uint32_t idx = node_create(t, hash, ev->family, &ev->src, ev->sport, &ev->dst, ev->dport);
    if (idx == NIL) {
        return;
    }
    start_syn(node_at(t, idx), ev, ts, pkt);
    if (ev->payload_len > 0 || (ev->tcp_flags & DEC_TCP_FIN)) {
        struct flow_cold *c = promote(t, idx);
        if (c == NULL) {
            return;
        }
        remember(c, ev, ts, true);
        record_history(c, ev, true);
    }
    rearm(t, idx);
}

/* A SYN-ACK whose SYN was not seen (yet): an attempt built from it. */
static void new_synack(struct flow_table *t, const struct dec_event *ev, uint64_t hash, int64_t ts,
                       uint32_t pkt)
{
    uint32_t idx = node_create(t, hash, ev->family, &ev->dst, ev->dport, &ev->src, ev->sport);
    if (idx == NIL) {
        return;
    }
    struct flow_cold *c = promote(t, idx);
    if (c == NULL) {
        return;
    }
    struct flow_node *n = node_at(t, idx);
    start_from_synack(n, c, ev, ts, pkt);
    remember(c, ev, ts, false);
    c->a.answer = FLOW_ANS_SYNACK;
    fill_reply(&c->a.reply, ev, ts, pkt);
    c->a.synack_count = 1;
    c->last_synack_ns = ts;
    c->a.server_isn = ev->seq;
    add_history(c, '^');
    record_history(c, ev, false);
    record_packet(c, pkt, ts, true);
    rearm(t, idx);
}

static void on_tcp(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt,
                   uint64_t hash)
{
    bool forward;
    uint32_t idx =
        find_tuple(t, ev->family, &ev->src, ev->sport, &ev->dst, ev->dport, hash, &forward);
    uint8_t f = ev->tcp_flags;
    bool syn = (f & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) == DEC_TCP_SYN;
    bool synack = (f & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) == (DEC_TCP_SYN | DEC_TCP_ACK);
    /* Whether the input carries pure ACKs and data at all: live capture's kernel filter (and
     * a file it saved) passes only SYN, FIN and RST, so there a handshake's ACK is never seen
     * and its absence proves nothing (report/ reads it from each attempt). */
    t->acks_seen |= (f & (DEC_TCP_SYN | DEC_TCP_FIN | DEC_TCP_RST)) == 0;

    if (idx == NIL) {
        if (syn) {
            new_syn(t, ev, hash, ts, pkt);
        } else if (synack) {
            t->stats.unmatched_synack++;
            new_synack(t, ev, hash, ts, pkt);
        } else if (f & DEC_TCP_RST) {
            t->stats.unmatched_rst++;
        } else {
            t->stats.midstream++;
        }
        return;
    }
    struct flow_node *n = node_at(t, idx);
    bool same_syn = syn && forward && n->isn == ev->seq;
    if (n->state == ST_DONE) {
        if (!syn || same_syn) {
            /* a late retransmission or answer of an attempt already reported */
            t->stats.late_packets++;
            timer_set(t, idx, t->now + TOMBSTONE_NS);
            return;
        }
        finish_node(t, idx, FLOW_END_CLOSED, ts); /* silent: a tombstone is not emitted again */
        new_syn(t, ev, hash, ts, pkt);
        return;
    }
    if (is_duplicate(t, n, ev, ts, forward)) {
        t->stats.duplicates++;
        return;
    }
    if (syn && !same_syn) {
        /* a new ISN on this 4-tuple (or the other direction): a new attempt */
        finish_node(t, idx, FLOW_END_REUSED, ts);
        new_syn(t, ev, hash, ts, pkt);
        return;
    }
    struct flow_cold *c = promote(t, idx);
    if (c == NULL) {
        return;
    }
    n = node_at(t, idx);
    remember(c, ev, ts, forward);
    if (syn) {
        if (!c->a.saw_syn) {
            t->stats.unmatched_synack--; /* its SYN was only reordered after it */
        }
        on_client_syn(c, ev, ts);
        record_history(c, ev, true);
        record_packet(c, pkt, ts, true);
        rearm(t, idx);
        return;
    }
    bool from_client = forward;
    bool evidence = is_evidence(ev, n);
    if (synack) {
        if (from_client) {
            /* simultaneous open or a confused peer: note it, no state change */
            record_history(c, ev, true);
        } else {
            on_synack(n, c, ev, ts, pkt);
            record_history(c, ev, false);
        }
    } else {
        record_history(c, ev, from_client);
        if (f & DEC_TCP_RST) {
            if (from_client) {
                on_client_rst(n, c, ev, ts);
            } else {
                on_server_rst(t, n, c, ev, ts, pkt);
            }
        } else {
            on_data_or_ack(n, c, ev, ts, pkt, from_client);
            if ((f & DEC_TCP_FIN) && (n->state == ST_ESTABLISHED || n->state == ST_SYNACK)) {
                on_fin(n, c, ev, ts, pkt, from_client);
            }
        }
    }
    record_packet(c, pkt, ts, evidence);
    if (n->state == ST_ESTABLISHED && t->provisional == NULL) {
        /* rearm for most packets, without its call: the idle deadline after this one */
        timer_set(t, idx, c->a.last_ns + t->cfg.idle_timeout_ns);
        return;
    }
    rearm(t, idx);
}

static void on_icmp(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt,
                    uint64_t hash)
{
    /* RFC 5927 4.1: believe an ICMP error only if it quotes the tuple and a sequence number
     * we sent; for a SYN that is exactly the ISN. */
    bool forward;
    uint32_t idx = find_tuple(t, ev->quoted_family, &ev->quoted_src, ev->quoted_sport,
                              &ev->quoted_dst, ev->quoted_dport, hash, &forward);
    if (idx == NIL) {
        t->stats.unmatched_icmp++;
        return;
    }
    struct flow_node *n = node_at(t, idx);
    if (n->state == ST_DONE) {
        t->stats.late_packets++;
        return;
    }
    bool saw_syn = n->cold == NIL || cold_at(t, n->cold)->a.saw_syn;
    if (!forward || !saw_syn) {
        t->stats.unmatched_icmp++;
        return;
    }
    bool answer = n->state == ST_WAIT || n->state == ST_ANSWERED;
    if (answer && ev->quoted_seq != n->isn) {
        t->stats.invalid_answers++;
        return;
    }
    struct flow_cold *c = promote(t, idx);
    if (c == NULL) {
        return;
    }
    n = node_at(t, idx);
    if (answer) {
        struct flow_attempt *a = &c->a;
        a->icmp_count++;
        if (a->answer == FLOW_ANS_NONE) {
            a->answer = FLOW_ANS_ICMP;
            fill_reply(&a->reply, ev, ts, pkt);
        }
        n->state = ST_ANSWERED;
        record_packet(c, pkt, ts, true);
        rearm(t, idx);
        return;
    }
    /* an ICMP error about a segment of an established connection (PMTU, ...): not an answer
     * to the SYN; keep it as evidence only */
    record_packet(c, pkt, ts, false);
}

/* ---- address resolution ------------------------------------------------------------ */

#define NEIGHBOUR_SLOTS (2 * FLOW_MAX_NEIGHBOURS)

void flow_set_neighbour_callback(struct flow_table *t, flow_neighbour_fn fn)
{
    t->on_neighbour = fn;
}

/* The entry for an address, created when create is set; NULL when absent or the table full. */
static struct flow_neighbour *neighbour_at(struct flow_table *t, int family,
                                           const struct dec_addr *addr, bool create)
{
    if (t->neighbours == NULL) {
        if (!create) {
            return NULL;
        }
        t->neighbours = calloc(NEIGHBOUR_SLOTS, sizeof(*t->neighbours));
        if (t->neighbours == NULL) {
            return NULL;
        }
    }
    uint64_t h = mix64(t->cfg.hash_seed ^ load64(addr->b) ^ mix64(load64(addr->b + 8)));
    for (uint32_t i = 0; i < NEIGHBOUR_SLOTS; i++) {
        struct flow_neighbour *n = &t->neighbours[(h + i) & (NEIGHBOUR_SLOTS - 1)];
        if (n->family == 0) {
            if (!create) {
                return NULL;
            }
            if (t->neighbour_count >= FLOW_MAX_NEIGHBOURS) {
                t->stats.neighbours_dropped++;
                return NULL;
            }
            t->neighbour_count++;
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

static void on_neigh(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt)
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

/* TCP events are looked up by their tuple, ICMP errors by the tuple they quote. */
bool flow_event_hash(const struct flow_config *cfg, const struct dec_event *ev, uint64_t *hash)
{
    if (ev->kind == DEC_EV_TCP) {
        *hash = tuple_hash(cfg->hash_seed, ev->family, &ev->src, ev->sport, &ev->dst, ev->dport);
        return true;
    }
    if (ev->kind == DEC_EV_ICMP) {
        *hash = tuple_hash(cfg->hash_seed, ev->quoted_family, &ev->quoted_src, ev->quoted_sport,
                           &ev->quoted_dst, ev->quoted_dport);
        return true;
    }
    return false;
}

/* One event whose lookup hash (event_hash) is known. */
static void event_in(struct flow_table *t, const struct dec_event *ev, int64_t ts_ns, uint32_t pkt,
                     uint64_t hash)
{
    advance(t, ts_ns);
    walk_ahead(t);
    int64_t ts = t->now; /* never earlier than what was already seen */
    if (ev->kind == DEC_EV_TCP) {
        on_tcp(t, ev, ts, pkt, hash);
    } else if (ev->kind == DEC_EV_ICMP) {
        on_icmp(t, ev, ts, pkt, hash);
    } else if (ev->kind == DEC_EV_NEIGH) {
        on_neigh(t, ev, ts, pkt);
    }
}

void flow_event(struct flow_table *t, const struct dec_event *ev, int64_t ts_ns, uint32_t pkt)
{
    uint64_t hash = 0;
    (void)flow_event_hash(&t->cfg, ev, &hash);
    event_in(t, ev, ts_ns, pkt, hash);
}

/* The cache lines of a detail record that a packet touches: its first 192 bytes (struct
 * flow_cold), over four lines since records are not aligned to them. */
static void prefetch_cold(const struct flow_cold *c)
{
    __builtin_prefetch(c);
    __builtin_prefetch((const char *)c + 64);
    __builtin_prefetch((const char *)c + 128);
    __builtin_prefetch((const char *)c + 191);
}

#define GROUP 16 /* events per step of the fetch pipeline */
#define STAGES 4 /* groups in flight: buckets, nodes, detail records, fed */

/* What the fetch pipeline knows of one group of events. */
struct fetch_group {
    uint64_t hash[GROUP];
    uint32_t node[GROUP]; /* the first node of the event's bucket, or NIL */
    bool looked_up[GROUP];
};

static void fetch_buckets(const struct flow_table *t, const struct flow_input *in, size_t n,
                          struct fetch_group *g)
{
    for (size_t i = 0; i < n; i++) {
        g->hash[i] = in[i].hash;
        g->looked_up[i] =
            in[i].hashed || (in[i].ev != NULL && flow_event_hash(&t->cfg, in[i].ev, &g->hash[i]));
        if (g->looked_up[i]) {
            __builtin_prefetch(&t->buckets[g->hash[i] & t->bucket_mask]);
        }
    }
}

static void fetch_nodes(const struct flow_table *t, size_t n, struct fetch_group *g)
{
    for (size_t i = 0; i < n; i++) {
        g->node[i] = g->looked_up[i] ? t->buckets[g->hash[i] & t->bucket_mask] : NIL;
        prefetch_node(t, g->node[i]);
    }
}

static void fetch_colds(const struct flow_table *t, size_t n, const struct fetch_group *g)
{
    for (size_t i = 0; i < n; i++) {
        if (g->node[i] != NIL && g->node[i] < t->nodes.capacity) {
            uint32_t cold = node_at(t, g->node[i])->cold;
            if (cold != NIL && cold < t->colds.capacity) {
                prefetch_cold(cold_at(t, cold));
            }
        }
    }
}

/* Each packet's lookup is a few dependent cache misses (bucket, node, detail record) in a
 * table much larger than the caches. A batch is taken in groups, through a pipeline: while
 * one group is fed, the detail records of the next are fetched, the nodes of the one after,
 * and the buckets of the one after that, so every fetch has a group's time to arrive and the
 * misses overlap instead of following one another. The fetches are hints only: the table
 * changes while they are in flight, so an index read is checked against its pool before it
 * makes an address, and what is read decides nothing but what is fetched. */
void flow_events(struct flow_table *t, const struct flow_input *in, size_t count)
{
    struct fetch_group groups[STAGES];
    size_t ngroups = (count + GROUP - 1) / GROUP;
#define GROUP_SIZE(k) (count - (k)*GROUP < GROUP ? count - (k)*GROUP : GROUP)
    for (size_t k = 0; k < ngroups && k < STAGES - 1; k++) {
        fetch_buckets(t, &in[k * GROUP], GROUP_SIZE(k), &groups[k]);
    }
    for (size_t k = 0; k < ngroups && k < STAGES - 2; k++) {
        fetch_nodes(t, GROUP_SIZE(k), &groups[k]);
    }
    if (ngroups > 0) {
        fetch_colds(t, GROUP_SIZE(0), &groups[0]);
    }
    for (size_t k = 0; k < ngroups; k++) {
        size_t b = k + STAGES - 1, n = k + STAGES - 2, c = k + 1; /* each stage's group */
        if (b < ngroups) {
            fetch_buckets(t, &in[b * GROUP], GROUP_SIZE(b), &groups[b % STAGES]);
        }
        if (n < ngroups) {
            fetch_nodes(t, GROUP_SIZE(n), &groups[n % STAGES]);
        }
        if (c < ngroups) {
            fetch_colds(t, GROUP_SIZE(c), &groups[c % STAGES]);
        }
        const struct fetch_group *g = &groups[k % STAGES];
        const struct flow_input *batch = &in[k * GROUP];
        for (size_t i = 0; i < GROUP_SIZE(k); i++) {
            if (batch[i].ev != NULL) {
                event_in(t, batch[i].ev, batch[i].ts_ns, batch[i].pkt, g->hash[i]);
            }
        }
    }
#undef GROUP_SIZE
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
static void emit_neighbours(struct flow_table *t)
{
    const struct flow_neighbour **order = malloc(NEIGHBOUR_SLOTS * sizeof(*order));
    size_t count = 0;
    for (uint32_t i = 0; i < NEIGHBOUR_SLOTS; i++) {
        const struct flow_neighbour *n = &t->neighbours[i];
        if (n->family == 0 || n->requests == 0) {
            continue;
        }
        if (order != NULL) {
            order[count++] = n;
        } else {
            t->on_neighbour(n, t->user);
        }
    }
    if (order == NULL) {
        return;
    }
    qsort(order, count, sizeof(*order), neighbour_cmp);
    for (size_t i = 0; i < count; i++) {
        t->on_neighbour(order[i], t->user);
    }
    free(order);
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
                emit_node(t, n, FLOW_END_CAPTURE_END, t->now);
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
        emit_node(t, node_at(t, order[i]), FLOW_END_CAPTURE_END, t->now);
    }
    free(order);
}

void flow_finish(struct flow_table *t)
{
    if (t->on_neighbour != NULL && t->neighbours != NULL) {
        emit_neighbours(t);
        t->on_neighbour = NULL; /* once */
    }
    /* every attempt still held is emitted, oldest first; then the table is emptied at once
     * rather than node by node */
    emit_undecided(t);
    memset(t->buckets, 0, (t->bucket_mask + 1) * sizeof(*t->buckets));
    wheel_clear(t);
    struct pool *pools[] = {&t->nodes, &t->colds, &t->pairs};
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
        pools[i]->next_fresh = 1;
        pools[i]->free_list = NIL;
    }
    t->age_head = t->age_tail = NIL;
    t->ahead = t->ahead_cold = NIL;
    t->stats.tracked = 0;
    t->undecided = 0;
}
