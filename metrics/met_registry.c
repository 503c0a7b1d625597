/* met_registry.c - the registry: which servers have series of their own, and the counting.
 *
 * The rule (issue 23: at most max_series servers, chosen by failures then attempts, the rest
 * under server="other", memory that does not grow with traffic, counters that never go back):
 *
 * - All memory is taken at creation: max_series series, as many candidates, a Bloom filter.
 * - A server seen while a series is free gets one at once.
 * - Otherwise its attempts are counted under "other", and the server is watched as a candidate
 *   with the Space-Saving algorithm (Metwally et al., 2005): a fixed table of candidates; a new
 *   server takes the place of the weakest, inheriting its score as an overestimate (error).
 *   Any server with more than 1/max_series of the attempts counted under "other" is in it.
 * - A candidate whose sure score (score - error) beats the weakest series by a margin (twice
 *   its failures and 2 more, or as many failures and twice its attempts and 16 more: no
 *   flapping between two servers of the same rank) takes that series' place. The weakest
 *   series ends: its server goes into the Bloom filter of ended servers, and never gets a
 *   series again in this process (a false positive of the filter keeps a server under
 *   "other" too). This is what keeps counters monotonic: a series that came back would start
 *   again from zero, which Prometheus would read as a counter reset.
 * - Counts never move between series: a promoted server's series starts at zero (its earlier
 *   attempts stay in "other"), and an ended series' counts are not added to "other" (that
 *   would make "other" jump and its rate lie). Summed rates, sum(rate(...)), stay right;
 *   the sum of raw values over servers drops when a series ends, as when any target goes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_int.h"

const double met_rtt_bounds[MET_RTT_BOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5};

#define MET_BLOOM_BITS_PER_SERVER 32 /* with 4 hashes: under 1 in 1,000 false until N ended */
#define MET_BLOOM_HASHES 4

static uint64_t key_hash(const struct met_key *key, uint64_t seed)
{
    /* FNV-1a, 64 bits; the seed separates the Bloom filter's hashes from the index's */
    const uint8_t *p = (const uint8_t *)key;
    uint64_t hash = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < sizeof *key; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ULL;
    }
    return hash ^ (hash >> 29);
}

/* ---- index: key -> entry ---- */

static const struct met_key *index_key(const struct met_index *index, int32_t entry)
{
    return (const struct met_key *)((const char *)index->base + (size_t)entry * index->stride);
}

static int index_init(struct met_index *index, unsigned entries, const void *base, size_t stride)
{
    uint32_t size = 16;
    while (size < 2u * entries) {
        size *= 2;
    }
    index->slots = malloc(sizeof *index->slots * size);
    if (index->slots == NULL) {
        return -1;
    }
    memset(index->slots, 0xff, sizeof *index->slots * size);
    index->mask = size - 1;
    index->base = base;
    index->stride = stride;
    return 0;
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t index_slot(const struct met_index *index, const struct met_key *key)
{
    uint32_t slot = (uint32_t)key_hash(key, 0) & index->mask;
    while (index->slots[slot] >= 0 &&
           memcmp(index_key(index, index->slots[slot]), key, sizeof *key) != 0) {
        slot = (slot + 1) & index->mask;
    }
    return slot;
}

static int32_t index_find(const struct met_index *index, const struct met_key *key)
{
    return index->slots[index_slot(index, key)];
}

static void index_set(struct met_index *index, const struct met_key *key, int32_t entry)
{
    index->slots[index_slot(index, key)] = entry;
}

/* Removes key (present); later entries of its run move back (Knuth's algorithm R). */
static void index_remove(struct met_index *index, const struct met_key *key)
{
    uint32_t hole = index_slot(index, key);
    uint32_t next = hole;
    index->slots[hole] = -1;
    for (;;) {
        next = (next + 1) & index->mask;
        int32_t entry = index->slots[next];
        if (entry < 0) {
            return;
        }
        uint32_t home = (uint32_t)key_hash(index_key(index, entry), 0) & index->mask;
        /* moves back unless its home lies cyclically in (hole, next] */
        bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (!stays) {
            index->slots[hole] = entry;
            index->slots[next] = -1;
            hole = next;
        }
    }
}

/* ---- scores and heaps (weakest on top) ---- */

static int score_cmp(struct met_score a, struct met_score b)
{
    if (a.failures != b.failures) {
        return a.failures < b.failures ? -1 : 1;
    }
    if (a.attempts != b.attempts) {
        return a.attempts < b.attempts ? -1 : 1;
    }
    return 0;
}

static bool score_beats(struct met_score challenger, struct met_score weakest)
{
    if (challenger.failures > 2 * weakest.failures + 2) {
        return true;
    }
    return challenger.failures >= weakest.failures &&
           challenger.attempts > 2 * weakest.attempts + 16;
}

/* A heap of entry indexes; each entry keeps its position (heap_pos) to be moved in place. */
struct heap_view {
    int32_t *heap;
    unsigned count;
    void *base;
    size_t stride;
    size_t score_offset;
    size_t pos_offset;
};

static struct met_score *heap_score(const struct heap_view *view, int32_t entry)
{
    return (struct met_score *)((char *)view->base + (size_t)entry * view->stride +
                                view->score_offset);
}

static void heap_place(const struct heap_view *view, unsigned pos, int32_t entry)
{
    view->heap[pos] = entry;
    int32_t *slot =
        (int32_t *)((char *)view->base + (size_t)entry * view->stride + view->pos_offset);
    *slot = (int32_t)pos;
}

static void heap_up(const struct heap_view *view, unsigned pos)
{
    int32_t entry = view->heap[pos];
    while (pos > 0) {
        unsigned parent = (pos - 1) / 2;
        if (score_cmp(*heap_score(view, view->heap[parent]), *heap_score(view, entry)) <= 0) {
            break;
        }
        heap_place(view, pos, view->heap[parent]);
        pos = parent;
    }
    heap_place(view, pos, entry);
}

static void heap_down(const struct heap_view *view, unsigned pos)
{
    int32_t entry = view->heap[pos];
    for (;;) {
        unsigned child = 2 * pos + 1;
        if (child >= view->count) {
            break;
        }
        if (child + 1 < view->count && score_cmp(*heap_score(view, view->heap[child + 1]),
                                                 *heap_score(view, view->heap[child])) < 0) {
            child++;
        }
        if (score_cmp(*heap_score(view, entry), *heap_score(view, view->heap[child])) <= 0) {
            break;
        }
        heap_place(view, pos, view->heap[child]);
        pos = child;
    }
    heap_place(view, pos, entry);
}

static struct heap_view series_heap(struct met_registry *registry)
{
    return (struct heap_view){registry->series_heap,
                              registry->series_count,
                              registry->series,
                              sizeof *registry->series,
                              offsetof(struct met_series, score),
                              offsetof(struct met_series, heap_pos)};
}

static struct heap_view candidate_heap(struct met_registry *registry)
{
    return (struct heap_view){registry->candidate_heap,
                              registry->candidate_count,
                              registry->candidates,
                              sizeof *registry->candidates,
                              offsetof(struct met_candidate, score),
                              offsetof(struct met_candidate, heap_pos)};
}

/* ---- the Bloom filter of ended servers ---- */

static void bloom_hashes(const struct met_registry *registry, const struct met_key *key,
                         uint32_t bits[MET_BLOOM_HASHES])
{
    uint64_t h1 = key_hash(key, 0x9e3779b97f4a7c15ULL);
    uint64_t h2 = key_hash(key, 0xc2b2ae3d27d4eb4fULL) | 1;
    for (unsigned i = 0; i < MET_BLOOM_HASHES; i++) {
        bits[i] = (uint32_t)(h1 + i * h2) & registry->ended_mask;
    }
}

static bool bloom_has(const struct met_registry *registry, const struct met_key *key)
{
    uint32_t bits[MET_BLOOM_HASHES];
    bloom_hashes(registry, key, bits);
    for (unsigned i = 0; i < MET_BLOOM_HASHES; i++) {
        if ((registry->ended[bits[i] / 64] & (1ULL << (bits[i] % 64))) == 0) {
            return false;
        }
    }
    return true;
}

static void bloom_add(struct met_registry *registry, const struct met_key *key)
{
    uint32_t bits[MET_BLOOM_HASHES];
    bloom_hashes(registry, key, bits);
    for (unsigned i = 0; i < MET_BLOOM_HASHES; i++) {
        registry->ended[bits[i] / 64] |= 1ULL << (bits[i] % 64);
    }
}

/* ---- creation ---- */

static int copy_names(char (*dst)[MET_NAME_MAX], const char *const *names, unsigned count,
                      const char *what, char *errbuf)
{
    if (count > MET_MAX_NAMES) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: %u %s names, at most %d", count, what,
                 MET_MAX_NAMES);
        return -1;
    }
    for (unsigned i = 0; i < count; i++) {
        if (names[i] == NULL || strlen(names[i]) >= MET_NAME_MAX) {
            snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: %s name %u missing or too long", what, i);
            return -1;
        }
        snprintf(dst[i], MET_NAME_MAX, "%s", names[i]);
    }
    return 0;
}

struct met_registry *met_registry_new(const struct met_config *config, char *errbuf)
{
    unsigned max_series = config->max_series == 0 ? MET_DEFAULT_MAX_SERIES : config->max_series;
    if (max_series > MET_MAX_SERIES_LIMIT) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: at most %d series, not %u",
                 MET_MAX_SERIES_LIMIT, max_series);
        return NULL;
    }
    struct met_registry *registry = calloc(1, sizeof *registry);
    if (registry == NULL) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: out of memory");
        return NULL;
    }
    registry->max_series = max_series;
    registry->max_candidates = max_series < 16 ? 16 : max_series;
    if (copy_names(registry->verdicts, config->verdicts, config->verdict_count, "verdict", errbuf) <
            0 ||
        copy_names(registry->causes, config->causes, config->cause_count, "cause", errbuf) < 0) {
        free(registry);
        return NULL;
    }
    registry->verdict_count = config->verdict_count;
    registry->cause_count = config->cause_count;
    snprintf(registry->version, sizeof registry->version, "%s",
             config->version != NULL ? config->version : "");

    uint32_t bloom_bits = 1024;
    while (bloom_bits < MET_BLOOM_BITS_PER_SERVER * max_series) {
        bloom_bits *= 2;
    }
    registry->ended_mask = bloom_bits - 1;
    registry->series = calloc(max_series, sizeof *registry->series);
    registry->series_heap = calloc(max_series, sizeof *registry->series_heap);
    registry->candidates = calloc(registry->max_candidates, sizeof *registry->candidates);
    registry->candidate_heap = calloc(registry->max_candidates, sizeof *registry->candidate_heap);
    registry->ended = calloc(bloom_bits / 64, sizeof *registry->ended);
    if (registry->series == NULL || registry->series_heap == NULL || registry->candidates == NULL ||
        registry->candidate_heap == NULL || registry->ended == NULL ||
        index_init(&registry->series_index, max_series, registry->series,
                   sizeof *registry->series) < 0 ||
        index_init(&registry->candidate_index, registry->max_candidates, registry->candidates,
                   sizeof *registry->candidates) < 0) {
        met_registry_free(registry);
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: out of memory");
        return NULL;
    }
    return registry;
}

void met_registry_free(struct met_registry *registry)
{
    if (registry == NULL) {
        return;
    }
    free(registry->series);
    free(registry->series_heap);
    free(registry->series_index.slots);
    free(registry->candidates);
    free(registry->candidate_heap);
    free(registry->candidate_index.slots);
    free(registry->ended);
    free(registry);
}

/* ---- counting ---- */

static void count_into(const struct met_registry *registry, struct met_series *series,
                       const struct met_attempt *attempt)
{
    series->score.attempts++;
    if (attempt->failed) {
        series->score.failures++;
    }
    if (attempt->verdict < registry->verdict_count) {
        series->verdicts[attempt->verdict]++;
    }
    if (attempt->cause >= 0 && (unsigned)attempt->cause < registry->cause_count) {
        series->causes[attempt->cause]++;
    }
    series->syn_retransmissions += attempt->syn_retransmissions;
    if (attempt->has_rtt && isfinite(attempt->rtt_seconds) && attempt->rtt_seconds >= 0) {
        unsigned bucket = 0;
        while (bucket < MET_RTT_BOUNDS && attempt->rtt_seconds > met_rtt_bounds[bucket]) {
            bucket++;
        }
        series->rtt_buckets[bucket]++;
        series->rtt_sum += attempt->rtt_seconds;
    }
}

static void series_add(struct met_registry *registry, unsigned slot, const struct met_key *key)
{
    struct met_series *series = &registry->series[slot];
    memset(series, 0, sizeof *series);
    series->key = *key;
    index_set(&registry->series_index, key, (int32_t)slot);
    registry->promotions++;
}

/* The candidate's score after this attempt; adds or replaces (Space-Saving). Returns its entry. */
static int32_t candidate_count(struct met_registry *registry, const struct met_key *key,
                               bool failed)
{
    int32_t entry = index_find(&registry->candidate_index, key);
    if (entry < 0) {
        struct met_score inherited = {0, 0};
        if (registry->candidate_count < registry->max_candidates) {
            entry = (int32_t)registry->candidate_count++;
            struct heap_view view = candidate_heap(registry);
            heap_place(&view, (unsigned)entry, entry);
        } else {
            entry = registry->candidate_heap[0];
            inherited = registry->candidates[entry].score;
            index_remove(&registry->candidate_index, &registry->candidates[entry].key);
        }
        struct met_candidate *candidate = &registry->candidates[entry];
        candidate->key = *key;
        candidate->score = inherited;
        candidate->error = inherited;
        index_set(&registry->candidate_index, key, entry);
    }
    struct met_candidate *candidate = &registry->candidates[entry];
    candidate->score.attempts++;
    if (failed) {
        candidate->score.failures++;
    }
    /* a new entry sits at the bottom of the heap, an old one only grew */
    struct heap_view view = candidate_heap(registry);
    heap_up(&view, (unsigned)candidate->heap_pos);
    heap_down(&view, (unsigned)candidate->heap_pos);
    return entry;
}

static void candidate_remove(struct met_registry *registry, int32_t entry)
{
    struct met_candidate *candidate = &registry->candidates[entry];
    index_remove(&registry->candidate_index, &candidate->key);
    unsigned pos = (unsigned)candidate->heap_pos;
    int32_t last = (int32_t)(registry->candidate_count - 1);
    struct heap_view view = candidate_heap(registry);
    /* the heap's last item takes the freed position; the last entry moves into the freed
     * entry so that entries stay packed */
    int32_t tail = registry->candidate_heap[registry->candidate_count - 1];
    view.count = --registry->candidate_count;
    if (pos < view.count) {
        heap_place(&view, pos, tail);
        heap_down(&view, pos);
        heap_up(&view, (unsigned)registry->candidates[tail].heap_pos);
    }
    if (entry != last) {
        struct met_candidate *moved = &registry->candidates[last];
        index_remove(&registry->candidate_index, &moved->key);
        *candidate = *moved;
        index_set(&registry->candidate_index, &candidate->key, entry);
        registry->candidate_heap[candidate->heap_pos] = entry;
    }
}

/* A candidate that beats the weakest series takes its place; the weakest series ends. */
static void maybe_promote(struct met_registry *registry, int32_t entry)
{
    struct met_candidate *candidate = &registry->candidates[entry];
    struct met_score sure = {candidate->score.failures - candidate->error.failures,
                             candidate->score.attempts - candidate->error.attempts};
    int32_t weakest = registry->series_heap[0];
    if (!score_beats(sure, registry->series[weakest].score)) {
        return;
    }
    struct met_key key = candidate->key;
    candidate_remove(registry, entry);
    bloom_add(registry, &registry->series[weakest].key);
    index_remove(&registry->series_index, &registry->series[weakest].key);
    registry->demotions++;
    series_add(registry, (unsigned)weakest, &key);
    /* starts at zero: the weakest there is; it goes down to its place from the top */
    struct heap_view view = series_heap(registry);
    heap_place(&view, 0, weakest);
}

void met_observe(struct met_registry *registry, const struct met_attempt *attempt)
{
    struct met_key key;
    memset(&key, 0, sizeof key);
    key.family = attempt->family == 6 ? 6 : 4;
    memcpy(key.addr, attempt->addr, key.family == 6 ? 16 : 4);
    key.port = attempt->port;

    int32_t slot = index_find(&registry->series_index, &key);
    if (slot < 0 && registry->series_count < registry->max_series && !bloom_has(registry, &key)) {
        slot = (int32_t)registry->series_count++;
        series_add(registry, (unsigned)slot, &key);
        struct heap_view view = series_heap(registry);
        heap_place(&view, (unsigned)slot, slot);
        heap_up(&view, (unsigned)slot);
    }
    if (slot >= 0) {
        struct met_series *series = &registry->series[slot];
        count_into(registry, series, attempt);
        struct heap_view view = series_heap(registry);
        heap_down(&view, (unsigned)series->heap_pos);
        return;
    }
    count_into(registry, &registry->other, attempt);
    if (bloom_has(registry, &key)) {
        return;
    }
    int32_t entry = candidate_count(registry, &key, attempt->failed);
    maybe_promote(registry, entry);
}

void met_set_capture(struct met_registry *registry, const struct met_capture *capture)
{
    registry->capture = *capture;
}

void met_registry_stats(const struct met_registry *registry, struct met_registry_stats *out)
{
    out->series = registry->series_count;
    out->candidates = registry->candidate_count;
    out->promotions = registry->promotions;
    out->demotions = registry->demotions;
}
