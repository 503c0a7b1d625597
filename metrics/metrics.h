/* metrics.h - Prometheus metrics of a live run: a registry of bounded cardinality, its text
 * exposition (format 0.0.4) and a minimal HTTP/1.1 responder for GET /metrics (issue 23).
 *
 * The module knows nothing of verdicts or causes: the caller names them at creation (the
 * report's verdict names, the host evidence's cause names) and passes indexes afterwards.
 * Nothing here allocates after creation except one response buffer per HTTP connection. */
#ifndef SYNSCOPE_METRICS_H
#define SYNSCOPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MET_ERRBUF_SIZE 256
#define MET_DEFAULT_MAX_SERIES 1000 /* --metrics-max-series */
#define MET_MAX_SERIES_LIMIT 100000 /* the largest limit accepted */

/* Error codes (negative returns). */
enum met_error {
    MET_ERR_NOMEM = 1,
    MET_ERR_ARG,    /* a bad argument: a limit out of range, too many names */
    MET_ERR_ADDR,   /* an address that does not parse */
    MET_ERR_REMOTE, /* a non-local address without allow_remote */
    MET_ERR_SOCKET, /* socket, bind or listen failed (errno in the message) */
    MET_ERR_SPACE,  /* the caller's buffer is too small */
};

/* ---- The registry ---- */

struct met_registry;

struct met_config {
    unsigned max_series;         /* servers with series of their own; 0: the default */
    const char *const *verdicts; /* names of the verdict label values, by index */
    unsigned verdict_count;      /* at most 32 */
    const char *const *causes;   /* names of the cause label values (may be NULL) */
    unsigned cause_count;        /* at most 32 */
    const char *version;         /* synscope_build_info{version} */
};

/* One finished, judged attempt. The server is the address and port the SYN went to. */
struct met_attempt {
    uint8_t family;   /* 4 or 6 */
    uint8_t addr[16]; /* the first 4 bytes for IPv4, network order */
    uint16_t port;    /* host order */
    unsigned verdict; /* index into met_config.verdicts */
    bool failed;      /* the verdict means the connection did not work (ranks servers) */
    bool has_rtt;     /* a SYN-ACK came: rtt_seconds is SYN to SYN-ACK */
    double rtt_seconds;
    uint32_t syn_retransmissions;
    int cause; /* index into met_config.causes, or -1 for no host cause */
};

/* The capture's own figures, set whenever the caller has them (gauges and counters that
 * the caller keeps monotonic: they are written as given). */
struct met_capture {
    uint64_t packets;       /* synscope_capture_packets_total */
    uint64_t dropped;       /* synscope_capture_dropped_total (pcap_stats ps_drop) */
    uint64_t attempts_open; /* synscope_attempts_open */
    uint64_t evicted;       /* synscope_attempts_evicted_total */
};

/* Creates a registry; the names are copied. Returns NULL and fills errbuf. All memory is
 * taken here: observing never allocates. Not thread-safe: one thread observes and renders
 * (the HTTP step below runs in the observing thread). */
struct met_registry *met_registry_new(const struct met_config *config, char *errbuf);
void met_registry_free(struct met_registry *registry);

/* Counts one attempt (under its server's series, or under server="other"). */
void met_observe(struct met_registry *registry, const struct met_attempt *attempt);

/* Sets the capture's figures. */
void met_set_capture(struct met_registry *registry, const struct met_capture *capture);

/* Renders the exposition into buf (cap bytes, NUL-terminated when it fits). Returns the length
 * of the whole text (as snprintf does: more than cap - 1 means it was cut; call again with a
 * buffer of return + 1 bytes). */
size_t met_render(const struct met_registry *registry, char *buf, size_t cap);

/* Figures about the registry itself, for tests and for the run's summary. */
struct met_registry_stats {
    unsigned series;     /* servers with series of their own now */
    unsigned candidates; /* servers watched for promotion (counted under "other") */
    uint64_t promotions; /* servers given a series of their own */
    uint64_t demotions;  /* servers whose series ended (never to come back, see met_rank.c) */
};
void met_registry_stats(const struct met_registry *registry, struct met_registry_stats *out);

/* ---- Addresses ---- */

struct met_addr {
    uint8_t family;   /* 4 or 6 */
    uint8_t addr[16]; /* network order */
    uint16_t port;    /* host order; 0 lets the kernel choose (tests) */
};

/* Parses "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6). Returns 0, or -MET_ERR_ADDR with one line
 * in errbuf naming what is wrong. */
int met_addr_parse(const char *text, struct met_addr *out, char *errbuf);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool met_addr_is_loopback(const struct met_addr *addr);

/* "IP:PORT" or "[IP]:PORT" into buf (at least 48 bytes). */
void met_addr_format(const struct met_addr *addr, char *buf, size_t cap);

/* ---- The HTTP responder ---- */

struct met_http;

struct met_http_config {
    struct met_addr listen;
    bool allow_remote;    /* bind a non-loopback address (--metrics-allow-remote) */
    unsigned max_clients; /* connections served at once; 0: 8 (see met_http.c for more) */
    unsigned timeout_ms;  /* a connection's whole life, request and response; 0: 5000 */
    const struct met_registry *registry;
};

/* Opens the listening socket (non-blocking). Returns NULL and fills errbuf: an address that is
 * not loopback without allow_remote is refused before any socket is made. */
struct met_http *met_http_new(const struct met_http_config *config, char *errbuf);
void met_http_free(struct met_http *http);

/* The port bound (useful with port 0). */
uint16_t met_http_port(const struct met_http *http);

/* The descriptors to wait on and the events wanted, for a caller that polls (at most
 * max_clients + 1). Returns how many were written to fds/events (cap entries each). */
size_t met_http_fds(const struct met_http *http, int *fds, short *events, size_t cap);

/* Does whatever can be done now without waiting: accepts, reads requests, writes responses,
 * closes connections past their deadline. now_ms is a monotonic clock in milliseconds. Never
 * blocks; its work is bounded (one read and one write per connection, a few accepts).
 * Returns the number of connections open after the step. */
unsigned met_http_step(struct met_http *http, uint64_t now_ms);

/* Counters of the responder, for tests and the run's summary. */
struct met_http_stats {
    uint64_t served;   /* 200 responses */
    uint64_t rejected; /* 4xx/5xx responses */
    uint64_t refused;  /* connections over max_clients, answered 503 */
    uint64_t evicted;  /* slow clients closed to make room for a new one */
    uint64_t timeouts; /* connections closed at their deadline */
};
void met_http_stats(const struct met_http *http, struct met_http_stats *out);

#endif
