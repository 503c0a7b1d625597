/* hev_counters.h - the kernel's listen-queue and SYN-cookie counters (TcpExt of
 * /proc/net/netstat) of one network namespace: snapshots, their differences, and a series
 * of per-second differences that ties them to the attempts of each second. */
#ifndef SYNSCOPE_HEV_COUNTERS_H
#define SYNSCOPE_HEV_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "hev_err.h"

/* The counters read, by their TcpExt names (see hev_counter_name). */
enum hev_counter {
    HEV_CTR_LISTEN_OVERFLOWS = 0, /* ListenOverflows: a SYN or a handshake's last ACK met a full
                                     accept queue */
    HEV_CTR_LISTEN_DROPS,         /* ListenDrops: anything a listener dropped, overflows
                                     included */
    HEV_CTR_REQQ_FULL_DROP,       /* TCPReqQFullDrop: a SYN dropped, the SYN queue full and
                                     no cookies */
    HEV_CTR_REQQ_FULL_DO_COOKIES, /* TCPReqQFullDoCookies: the SYN queue full, a cookie sent */
    HEV_CTR_SYNCOOKIES_SENT,      /* SyncookiesSent */
    HEV_CTR_SYNCOOKIES_RECV,      /* SyncookiesRecv: a valid cookie came back */
    HEV_CTR_SYNCOOKIES_FAILED,    /* SyncookiesFailed: an ACK with an invalid cookie */
    HEV_CTR_COUNT
};

/* One reading, or the difference of two. */
struct hev_counters {
    int64_t ts_ns;      /* when it was read, the caller's clock (a difference: the
                           later reading's) */
    uint32_t present;   /* bit (1u << c): value[c] holds a number. Absent: the
                           kernel has no such column, or (a difference) one of the
                           two readings lacked it or it went backwards */
    uint32_t malformed; /* bit (1u << c): the column is there but its value is not a
                           number (then absent too) */
    uint64_t value[HEV_CTR_COUNT];
};

/* The column name in /proc/net/netstat ("ListenOverflows", ...); "?" out of range. */
const char *hev_counter_name(enum hev_counter c);

/* Parses the text of /proc/net/netstat (len bytes, need not be NUL-terminated): pairs of lines
 * "TcpExt: Name Name ..." / "TcpExt: value value ...", matched by name, so that columns the
 * kernel adds, removes or reorders change nothing; unknown columns are ignored, a name seen
 * twice keeps its first value, values beyond the names and names beyond the values are
 * ignored. Fills out (ts_ns 0). Returns how many of the counters are present (0 to
 * HEV_CTR_COUNT); never fails. Pure. */
int hev_counters_parse(const char *text, size_t len, struct hev_counters *out);

struct hev_counters_src;

/* Opens /proc/thread-self/net/netstat: the calling thread's network namespace, kept for the
 * life of the handle (the open file stays bound to it), and readable after the privilege drop.
 * Returns 0 and *out, or -HEV_ERR_PROC / -HEV_ERR_NOMEM with a message in errbuf. One handle
 * serves one thread at a time. */
int hev_counters_open(struct hev_counters_src **out, char *errbuf, size_t errlen);

/* Reads the counters now; out->ts_ns = now_ns. Returns the number present (as
 * hev_counters_parse), or -HEV_ERR_PROC with a message in errbuf. */
int hev_counters_read(struct hev_counters_src *src, int64_t now_ns, struct hev_counters *out,
                      char *errbuf, size_t errlen);

/* Closes the file; src may be NULL. */
void hev_counters_close(struct hev_counters_src *src);

/* after - before, per counter: present only where both are present and after >= before (a
 * counter that went back was reset, its namespace recreated: no difference can be told).
 * delta->ts_ns = after->ts_ns. delta may be either argument. */
void hev_counters_delta(const struct hev_counters *before, const struct hev_counters *after,
                        struct hev_counters *delta);

/* ---- per-second series ------------------------------------------------------------------- */

/* The difference over one interval between two readings: what moved in (start_ns, end_ns]. */
struct hev_counter_interval {
    int64_t start_ns;
    int64_t end_ns;
    struct hev_counters delta;
};

struct hev_series;

/* A series keeping the last capacity intervals (more: the oldest are overwritten and counted).
 * Returns 0 and *out, or -HEV_ERR_NOMEM / -HEV_ERR_ARG (capacity 0). */
int hev_series_new(struct hev_series **out, size_t capacity, char *errbuf, size_t errlen);

/* Frees the series; s may be NULL. */
void hev_series_free(struct hev_series *s);

/* Adds a reading (the caller reads once a second of capture, at increasing ts_ns). The first
 * one is the base; each later one closes the interval since the previous reading. A reading
 * whose ts_ns is not after the previous one is ignored (returns 0; 1 when added). */
int hev_series_add(struct hev_series *s, const struct hev_counters *reading);

/* The interval holding ts_ns (start_ns < ts_ns <= end_ns), to tie an attempt at ts_ns to what
 * the counters did in its second; NULL when ts_ns is before the first reading, after the last,
 * or in an interval already overwritten. Valid until the next hev_series_add. */
const struct hev_counter_interval *hev_series_at(const struct hev_series *s, int64_t ts_ns);

/* Intervals held (at most the capacity), and the i-th of them, oldest first (NULL past the
 * end). */
size_t hev_series_count(const struct hev_series *s);
const struct hev_counter_interval *hev_series_get(const struct hev_series *s, size_t i);

/* Intervals overwritten since the start. */
uint64_t hev_series_overwritten(const struct hev_series *s);

/* The difference between the first and the last reading (the whole capture); returns 0 and
 * fills total, or -1 when fewer than two readings were added. */
int hev_series_total(const struct hev_series *s, struct hev_counters *total);

#endif
