/* met_int.h - private to metrics/: the registry's tables, shared by the ranking (met_registry.c)
 * and the exposition (met_render.c). */
#ifndef SYNSCOPE_MET_INT_H
#define SYNSCOPE_MET_INT_H

#include <stdint.h>

#include "metrics.h"

#define MET_MAX_NAMES 32
#define MET_NAME_MAX 64
/* SYN to SYN-ACK, in seconds: from a LAN's half millisecond to the 3 s of a first SYN
 * retransmission and beyond (a SYN-ACK to a retransmitted SYN lands above 1 s) */
#define MET_RTT_BOUNDS 13
extern const double met_rtt_bounds[MET_RTT_BOUNDS];

/* A server: family, address, port; padding zeroed so that keys compare with memcmp. */
struct met_key {
    uint8_t family;
    uint8_t addr[16];
    uint8_t pad;
    uint16_t port;
};

/* failures first, then attempts */
struct met_score {
    uint64_t failures;
    uint64_t attempts;
};

/* The counts of one series: a server of its own, or "other". */
struct met_series {
    struct met_key key; /* first: the index reads keys at the start of entries */
    struct met_score score;
    int32_t heap_pos;
    uint64_t verdicts[MET_MAX_NAMES];
    uint64_t causes[MET_MAX_NAMES];
    uint64_t rtt_buckets[MET_RTT_BOUNDS + 1]; /* not cumulative; the last one is +Inf */
    double rtt_sum;
    uint64_t syn_retransmissions;
};

/* A server counted under "other", watched for promotion (Space-Saving: score overestimates
 * the true counts by at most error). */
struct met_candidate {
    struct met_key key;
    struct met_score score;
    struct met_score error;
    int32_t heap_pos;
};

/* Open addressing (linear probing, deletion by backward shift) of entry indexes by key. */
struct met_index {
    int32_t *slots; /* -1: empty */
    uint32_t mask;
    const void *base; /* the entries, each starting with its struct met_key */
    size_t stride;
};

struct met_registry {
    unsigned max_series;
    unsigned max_candidates;
    char verdicts[MET_MAX_NAMES][MET_NAME_MAX];
    unsigned verdict_count;
    char causes[MET_MAX_NAMES][MET_NAME_MAX];
    unsigned cause_count;
    char version[MET_NAME_MAX];

    struct met_series *series; /* max_series entries, the first series_count in use */
    unsigned series_count;
    struct met_index series_index;
    int32_t *series_heap; /* weakest first */

    struct met_candidate *candidates;
    unsigned candidate_count;
    struct met_index candidate_index;
    int32_t *candidate_heap;

    uint64_t *ended;     /* Bloom filter of servers whose series ended */
    uint32_t ended_mask; /* bits - 1 */

    struct met_series other;
    struct met_capture capture;
    uint64_t promotions;
    uint64_t demotions;
};

/* HTTP request limits (met_http_parse.c) */
#define MET_HTTP_REQUEST_MAX 8192 /* the request line and headers; more: 431 */
#define MET_HTTP_LINE_MAX 1024    /* the request line; more: 414 */
#define MET_HTTP_HEADERS_MAX 32   /* header fields; more: 431 */

/* Looks at the len bytes of a request received so far. Returns 0 when more bytes are needed,
 * else the status to answer: 200 (GET or HEAD of /metrics; *head set for HEAD), 400, 404, 405,
 * 413 (a body announced), 414, 431, 505. Never reads past len. */
int met_http_parse(const char *buf, size_t len, bool *head);

/* "IP:PORT" or "[IP]:PORT" of a key */
void met_key_format(const struct met_key *key, char *buf, size_t cap);

#endif
