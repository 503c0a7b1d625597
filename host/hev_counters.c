/* hev_counters.c - TcpExt counters of /proc/net/netstat: parsed by column name, read from a
 * file kept open across the privilege drop, differenced, and kept as a per-second series. */
#include "hev_counters.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const counter_names[HEV_CTR_COUNT] = {
    [HEV_CTR_LISTEN_OVERFLOWS] = "ListenOverflows",
    [HEV_CTR_LISTEN_DROPS] = "ListenDrops",
    [HEV_CTR_REQQ_FULL_DROP] = "TCPReqQFullDrop",
    [HEV_CTR_REQQ_FULL_DO_COOKIES] = "TCPReqQFullDoCookies",
    [HEV_CTR_SYNCOOKIES_SENT] = "SyncookiesSent",
    [HEV_CTR_SYNCOOKIES_RECV] = "SyncookiesRecv",
    [HEV_CTR_SYNCOOKIES_FAILED] = "SyncookiesFailed",
};

const char *hev_counter_name(enum hev_counter c)
{
    return (unsigned)c < HEV_CTR_COUNT ? counter_names[c] : "?";
}

/* ---- parsing ------------------------------------------------------------------------------ */

struct span {
    const char *p;
    size_t len;
};

static bool span_is(struct span s, const char *word)
{
    size_t n = strlen(word);
    return s.len == n && memcmp(s.p, word, n) == 0;
}

/* The next line of text[*pos..len) without its '\n'; false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, struct span *line)
{
    if (*pos >= len) {
        return false;
    }
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *line = (struct span){start, n};
    *pos += n + (nl ? 1 : 0);
    return true;
}

/* The next token of *rest separated by spaces or tabs; false when none is left. */
static bool next_token(struct span *rest, struct span *tok)
{
    size_t i = 0;
    while (i < rest->len && (rest->p[i] == ' ' || rest->p[i] == '\t' || rest->p[i] == '\r')) {
        i++;
    }
    size_t start = i;
    while (i < rest->len && rest->p[i] != ' ' && rest->p[i] != '\t' && rest->p[i] != '\r') {
        i++;
    }
    *tok = (struct span){rest->p + start, i - start};
    *rest = (struct span){rest->p + i, rest->len - i};
    return tok->len > 0;
}

/* An unsigned decimal of digits only, without overflow. */
static bool parse_u64(struct span s, uint64_t *out)
{
    if (s.len == 0 || s.len > 20) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* One "TcpExt:" pair: names and values, after their prefixes, walked side by side. */
static void parse_pair(struct span names, struct span values, struct hev_counters *out)
{
    struct span name, value;
    while (next_token(&names, &name)) {
        bool have_value = next_token(&values, &value);
        for (int c = 0; c < HEV_CTR_COUNT; c++) {
            uint32_t bit = 1u << c;
            if (!span_is(name, counter_names[c]) || ((out->present | out->malformed) & bit)) {
                continue;
            }
            if (!have_value) {
                break; /* fewer values than names: absent */
            }
            if (parse_u64(value, &out->value[c])) {
                out->present |= bit;
            } else {
                out->malformed |= bit;
            }
            break;
        }
        if (!have_value) {
            return;
        }
    }
}

int hev_counters_parse(const char *text, size_t len, struct hev_counters *out)
{
    memset(out, 0, sizeof(*out));
    size_t pos = 0;
    struct span line, header_prefix = {NULL, 0}, header = {NULL, 0};
    bool have_header = false;
    while (next_line(text, len, &pos, &line)) {
        struct span rest = line, prefix;
        if (!next_token(&rest, &prefix) || prefix.p[prefix.len - 1] != ':') {
            have_header = false; /* not a line of the format: the pairing starts again */
            continue;
        }
        if (have_header && prefix.len == header_prefix.len &&
            memcmp(prefix.p, header_prefix.p, prefix.len) == 0) {
            if (span_is(prefix, "TcpExt:")) {
                parse_pair(header, rest, out);
            }
            have_header = false;
        } else {
            header_prefix = prefix;
            header = rest;
            have_header = true;
        }
    }
    int present = 0;
    for (int c = 0; c < HEV_CTR_COUNT; c++) {
        present += (out->present >> c) & 1u;
    }
    return present;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* /proc/net/netstat is a few kilobytes; a file larger than this is not it. */
#define HEV_NETSTAT_MAX (1u << 20)

struct hev_counters_src {
    int fd;
    char *buf;
    size_t size;
};

int hev_counters_open(struct hev_counters_src **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    struct hev_counters_src *src = calloc(1, sizeof(*src));
    if (!src) {
        snprintf(errbuf, errlen, "counters: out of memory");
        return -HEV_ERR_NOMEM;
    }
    /* thread-self: the namespace of the calling thread (one that did setns), where self
     * would be the main thread's */
    const char *path = "/proc/thread-self/net/netstat";
    src->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (src->fd < 0 && errno == ENOENT) {
        path = "/proc/self/net/netstat"; /* kernels before 3.17 */
        src->fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (src->fd < 0) {
        snprintf(errbuf, errlen, "counters: cannot open %s: %s", path, strerror(errno));
        free(src);
        return -HEV_ERR_PROC;
    }
    src->size = 16384;
    src->buf = malloc(src->size);
    if (!src->buf) {
        snprintf(errbuf, errlen, "counters: out of memory");
        hev_counters_close(src);
        return -HEV_ERR_NOMEM;
    }
    *out = src;
    return 0;
}

void hev_counters_close(struct hev_counters_src *src)
{
    if (!src) {
        return;
    }
    if (src->fd >= 0) {
        close(src->fd);
    }
    free(src->buf);
    free(src);
}

int hev_counters_read(struct hev_counters_src *src, int64_t now_ns, struct hev_counters *out,
                      char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    /* a seq_file read again from offset 0 is generated again: fresh values */
    if (lseek(src->fd, 0, SEEK_SET) < 0) {
        snprintf(errbuf, errlen, "counters: cannot rewind /proc/net/netstat: %s", strerror(errno));
        return -HEV_ERR_PROC;
    }
    size_t used = 0;
    for (;;) {
        if (used == src->size) {
            if (src->size >= HEV_NETSTAT_MAX) {
                snprintf(errbuf, errlen, "counters: /proc/net/netstat is larger than %u bytes",
                         HEV_NETSTAT_MAX);
                return -HEV_ERR_PROC;
            }
            char *bigger = realloc(src->buf, src->size * 2);
            if (!bigger) {
                snprintf(errbuf, errlen, "counters: out of memory");
                return -HEV_ERR_NOMEM;
            }
            src->buf = bigger;
            src->size *= 2;
        }
        ssize_t got = read(src->fd, src->buf + used, src->size - used);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            snprintf(errbuf, errlen, "counters: cannot read /proc/net/netstat: %s",
                     strerror(errno));
            return -HEV_ERR_PROC;
        }
        if (got == 0) {
            break;
        }
        used += (size_t)got;
    }
    int present = hev_counters_parse(src->buf, used, out);
    out->ts_ns = now_ns;
    return present;
}

void hev_counters_delta(const struct hev_counters *before, const struct hev_counters *after,
                        struct hev_counters *delta)
{
    struct hev_counters d;
    memset(&d, 0, sizeof(d));
    d.ts_ns = after->ts_ns;
    for (int c = 0; c < HEV_CTR_COUNT; c++) {
        uint32_t bit = 1u << c;
        if ((before->present & after->present & bit) && after->value[c] >= before->value[c]) {
            d.present |= bit;
            d.value[c] = after->value[c] - before->value[c];
        }
    }
    *delta = d;
}

/* ---- the series --------------------------------------------------------------------------- */

struct hev_series {
    size_t capacity;
    size_t head;  /* index of the oldest interval */
    size_t count; /* intervals held */
    uint64_t overwritten;
    size_t readings;
    struct hev_counters first;
    struct hev_counters last;
    struct hev_counter_interval *ring;
};

int hev_series_new(struct hev_series **out, size_t capacity, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (capacity == 0 || capacity > SIZE_MAX / sizeof(struct hev_counter_interval)) {
        snprintf(errbuf, errlen, "counters: a series of %zu intervals", capacity);
        return -HEV_ERR_ARG;
    }
    struct hev_series *s = calloc(1, sizeof(*s));
    if (s) {
        s->ring = calloc(capacity, sizeof(*s->ring));
    }
    if (!s || !s->ring) {
        hev_series_free(s);
        snprintf(errbuf, errlen, "counters: out of memory for %zu intervals", capacity);
        return -HEV_ERR_NOMEM;
    }
    s->capacity = capacity;
    *out = s;
    return 0;
}

void hev_series_free(struct hev_series *s)
{
    if (s) {
        free(s->ring);
        free(s);
    }
}

int hev_series_add(struct hev_series *s, const struct hev_counters *reading)
{
    if (s->readings > 0 && reading->ts_ns <= s->last.ts_ns) {
        return 0;
    }
    if (s->readings == 0) {
        s->first = *reading;
    } else {
        size_t slot;
        if (s->count < s->capacity) {
            slot = (s->head + s->count) % s->capacity;
            s->count++;
        } else {
            slot = s->head;
            s->head = (s->head + 1) % s->capacity;
            s->overwritten++;
        }
        struct hev_counter_interval *iv = &s->ring[slot];
        iv->start_ns = s->last.ts_ns;
        iv->end_ns = reading->ts_ns;
        hev_counters_delta(&s->last, reading, &iv->delta);
    }
    s->last = *reading;
    s->readings++;
    return 1;
}

size_t hev_series_count(const struct hev_series *s)
{
    return s->count;
}

const struct hev_counter_interval *hev_series_get(const struct hev_series *s, size_t i)
{
    return i < s->count ? &s->ring[(s->head + i) % s->capacity] : NULL;
}

uint64_t hev_series_overwritten(const struct hev_series *s)
{
    return s->overwritten;
}

const struct hev_counter_interval *hev_series_at(const struct hev_series *s, int64_t ts_ns)
{
    /* intervals are contiguous and in time order: a binary search on their ends */
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hev_series_get(s, mid)->end_ns < ts_ns) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    const struct hev_counter_interval *iv = hev_series_get(s, lo);
    return iv && iv->start_ns < ts_ns ? iv : NULL;
}

int hev_series_total(const struct hev_series *s, struct hev_counters *total)
{
    if (s->readings < 2) {
        return -1;
    }
    hev_counters_delta(&s->first, &s->last, total);
    return 0;
}
