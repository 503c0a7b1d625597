/* flow_pool.c - the flow engine's pools: arrays of fixed-size records that grow in place.
 *
 * Each pool (nodes, detail records, IPv6 address pairs) is one array of records: no allocation
 * per packet, only when the table grows, and a record is found by one multiply (pool_at). */
#define _GNU_SOURCE /* mremap */
#include "flows_int.h"

#include <sys/mman.h>

#define POOL_FIRST 4096u            /* records of a pool's first array */
#define HUGE_PAGE ((size_t)2 << 20) /* x86-64's and arm64's (4 KiB granule) huge page */

/* Reserves addresses for up to `records` records, aligned to a huge page, without memory
 * behind them (PROT_NONE, no commit charge): flow_pool_grow then makes them usable in place.
 *
 * Why: the pools are read at random, one line per record, and together outgrow what the
 * processor's TLB maps with 4 KiB pages, so most reads also walk the page tables (in a
 * virtual machine, the guest's and the host's). The range is marked for transparent huge
 * pages, which a mapping grown by mremap seldom ends up with (it moves and loses its
 * alignment). When the range cannot be reserved (an address-space limit), the pool is grown
 * with mremap instead. */
void flow_pool_reserve(struct pool *p, uint64_t records)
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
bool flow_pool_grow(struct pool *p)
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

void flow_pool_destroy(struct pool *p)
{
    if (p->reserved != NULL) {
        munmap(p->reserved, p->reserved_bytes);
    } else if (p->base != NULL) {
        munmap(p->base, p->bytes);
    }
}
