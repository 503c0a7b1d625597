/* rep_index.h - the open-addressing index report/ keeps over its dense tables of hosts and
 * services (address, port). Private to report/. */
#ifndef SYNSCOPE_REP_INDEX_H
#define SYNSCOPE_REP_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* One slot: 32 bits of the key's hash and the entry's number + 1 (0: empty). Entries live in
 * a dense array in the order they came; the index is 8 bytes a slot, so a probe touches one
 * cache line and the key itself is compared only when the hashes agree. */
struct rep_slot {
    uint32_t hash;
    uint32_t entry;
};

struct rep_index {
    struct rep_slot *slots;
    uint32_t mask; /* slots - 1, a power of two minus one */
    uint32_t count;
};

/* A hash of (family, address, port), seeded: a capture cannot be made to collide on purpose
 * without knowing the seed. Two multiply-xorshift rounds over the address's two halves. */
static inline uint32_t rep_key_hash(uint64_t seed, int family, const struct dec_addr *addr,
                                    uint16_t port)
{
    uint64_t lo, hi;
    memcpy(&lo, addr->b, sizeof(lo));
    memcpy(&hi, addr->b + 8, sizeof(hi));
    uint64_t h = seed ^ ((uint64_t)(uint8_t)family << 16 | port);
    h = (h ^ lo) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    h = (h ^ hi) * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 29;
    h *= 0x165667b19e3779f9ULL;
    return (uint32_t)(h ^ (h >> 32));
}

/* True when two addresses are equal (16 bytes, as two words). */
static inline bool rep_addr_equal(const struct dec_addr *x, const struct dec_addr *y)
{
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, x->b, 8);
    memcpy(&x1, x->b + 8, 8);
    memcpy(&y0, y->b, 8);
    memcpy(&y1, y->b + 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

/* An empty index of slots (a power of two). Returns false when out of memory. */
static inline bool rep_index_init(struct rep_index *x, uint32_t slots)
{
    x->slots = calloc(slots, sizeof(*x->slots));
    x->mask = slots - 1;
    x->count = 0;
    return x->slots != NULL;
}

static inline void rep_index_free(struct rep_index *x)
{
    free(x->slots);
    x->slots = NULL;
}

/* Probing: from *pos on, the next entry whose hash is hash, or UINT32_MAX at the empty slot
 * that ends the chain (*pos is then where a new key goes). Usage:
 *     uint32_t pos = hash, e;
 *     while ((e = rep_index_next(x, hash, &pos)) != UINT32_MAX) { if (same key) found; }  */
static inline uint32_t rep_index_next(const struct rep_index *x, uint32_t hash, uint32_t *pos)
{
    for (;;) {
        const struct rep_slot *s = &x->slots[*pos & x->mask];
        if (s->entry == 0) {
            *pos &= x->mask;
            return UINT32_MAX;
        }
        *pos = (*pos & x->mask) + 1;
        if (s->hash == hash) {
            return s->entry - 1;
        }
    }
}

/* Stores entry at the empty slot pos that rep_index_next ended on, then doubles the index
 * when it is more than half full (probes stay short). Returns false when it could not grow:
 * the entry is stored, and rep_index_has_room says no from now on. */
static inline bool rep_index_add(struct rep_index *x, uint32_t pos, uint32_t hash, uint32_t entry)
{
    x->slots[pos].hash = hash;
    x->slots[pos].entry = entry + 1;
    x->count++;
    if ((uint64_t)x->count * 2 <= (uint64_t)x->mask + 1) {
        return true;
    }
    uint32_t mask = x->mask * 2 + 1;
    struct rep_slot *grown = calloc((size_t)mask + 1, sizeof(*grown));
    if (grown == NULL) {
        return false;
    }
    for (uint32_t i = 0; i <= x->mask; i++) {
        if (x->slots[i].entry != 0) {
            uint32_t p = x->slots[i].hash & mask;
            while (grown[p].entry != 0) {
                p = (p + 1) & mask;
            }
            grown[p] = x->slots[i];
        }
    }
    free(x->slots);
    x->slots = grown;
    x->mask = mask;
    return true;
}

/* True when another key may be added: the index is at most half full (it is more only when
 * it could not grow). */
static inline bool rep_index_has_room(const struct rep_index *x)
{
    return (uint64_t)x->count * 2 <= (uint64_t)x->mask + 1;
}

#endif
