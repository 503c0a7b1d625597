/* flow_hash.c - the flow engine's hash table: the seeded tuple hash, the bucket chains of
 * nodes, and flow_events' pipeline that fetches each lookup's memory a few events ahead. */
#include "flows_int.h"

#include <stdlib.h>

/* ---- the hash ------------------------------------------------------------------------- */

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
 * (an IPv4 address and port as 48 bits), are put in order and multiplied, seeded: one
 * multiplication where a 64-bit finalizer takes rounds of them, since the reading thread
 * hashes every packet. */
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

uint64_t flow_addr_hash(uint64_t seed, const struct dec_addr *addr)
{
    return mix64(seed ^ load64(addr->b) ^ mix64(load64(addr->b + 8)));
}

/* ---- buckets ---------------------------------------------------------------------------- */

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

/* The attempt of the tuple {a:aport, b:bport} in either direction (*forward: a is its client),
 * or NIL; hash is the tuple's (tuple_hash). */
uint32_t flow_find_tuple(const struct flow_table *t, int family, const struct dec_addr *a,
                         uint16_t aport, const struct dec_addr *b, uint16_t bport, uint64_t hash,
                         bool *forward)
{
    *forward = false;
    for (uint32_t idx = t->buckets.heads[hash & t->buckets.mask]; idx != NIL;) {
        const struct flow_node *n = node_at(t, idx);
        if (n->hash == (uint32_t)hash && node_matches(t, n, family, a, aport, b, bport, forward)) {
            return idx;
        }
        idx = n->hash_next;
    }
    return NIL;
}

void flow_bucket_remove(struct flow_table *t, uint32_t idx)
{
    const struct flow_node *n = node_at(t, idx);
    uint32_t *link = &t->buckets.heads[n->hash & t->buckets.mask];
    while (*link != idx && *link != NIL) {
        link = &node_at(t, *link)->hash_next;
    }
    if (*link == idx) { /* always: it was filed under n->hash */
        *link = n->hash_next;
    }
}

static int grow_buckets(struct flow_table *t)
{
    uint64_t new_mask = t->buckets.mask * 2 + 1;
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
    free(t->buckets.heads);
    t->buckets.heads = nb;
    t->buckets.mask = new_mask;
    return 0;
}

void flow_buckets_fit(struct flow_table *t)
{
    if (t->stats.tracked > t->buckets.mask + 1 && t->buckets.mask + 1 < (uint64_t)1 << 31) {
        (void)grow_buckets(t);
    }
}

/* ---- the fetch pipeline ----------------------------------------------------------------- */

/* The cache lines of a detail record that a packet touches: its first COLD_HOT_BYTES (three
 * lines' worth), over four lines since records are not aligned to them. */
static void prefetch_cold(const struct flow_cold *c)
{
    __builtin_prefetch(c);
    __builtin_prefetch((const char *)c + CACHE_LINE);
    __builtin_prefetch((const char *)c + 2 * CACHE_LINE);
    __builtin_prefetch((const char *)c + COLD_HOT_BYTES - 1);
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
            __builtin_prefetch(&t->buckets.heads[g->hash[i] & t->buckets.mask]);
        }
    }
}

static void fetch_nodes(const struct flow_table *t, size_t n, struct fetch_group *g)
{
    for (size_t i = 0; i < n; i++) {
        g->node[i] = g->looked_up[i] ? t->buckets.heads[g->hash[i] & t->buckets.mask] : NIL;
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
                flow_event_in(t, batch[i].ev, batch[i].ts_ns, batch[i].pkt, g->hash[i]);
            }
        }
    }
#undef GROUP_SIZE
}
