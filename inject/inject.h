/* inject.h - active probing: SYN probes built and sent with libnet, answers read through
 * capture/ and decode/, each port classified the way nmap's -sS --reason does. */
#ifndef SYNSCOPE_INJECT_H
#define SYNSCOPE_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

#define INJ_ERRBUF_SIZE 512

enum inj_error {
    INJ_ERR_ROUTE = 1, /* no route to the target (nothing was sent) */
    INJ_ERR_PERM,      /* not allowed to open raw sockets / capture */
    INJ_ERR_OPEN,      /* libnet or the capture could not be opened */
    INJ_ERR_SEND,      /* sending failed */
    INJ_ERR_NOMEM,
};

/* What a port answered, nmap's names (state) and synscope's. */
enum inj_state { INJ_OPEN = 0, INJ_CLOSED, INJ_FILTERED, INJ_UNREACHABLE, INJ_STATE_COUNT };

struct inj_config {
    int family; /* 4 or 6 */
    struct dec_addr target;
    const uint16_t *ports;
    size_t port_count;
    unsigned count;    /* attempts per port (default 1) */
    unsigned retries;  /* re-sends of an unanswered probe (default 1) */
    unsigned rate_pps; /* probes per second at most (default 100) */
    int64_t wait_ns;   /* minimum wait for an answer; grows to 3x the slowest RTT seen */
    bool trace;        /* for filtered ports: SYNs with TTL 1, 2, ... to find the last hop */
};

/* The outcome of one port. */
struct inj_port {
    uint16_t port;
    enum inj_state state; /* the most frequent outcome over --count attempts */
    const char *reason;   /* "syn-ack", "reset", "no-response", "admin-prohibited", ... */
    struct dec_addr from; /* who answered (the target, or a router for ICMP) */
    bool answered;
    uint8_t ttl; /* TTL / hop limit of that answer */
    uint8_t icmp_type, icmp_code;
    int64_t rtt_ns;                   /* of the first answer, -1 without one */
    unsigned probes, answers;         /* SYNs sent (retries included), valid answers */
    unsigned states[INJ_STATE_COUNT]; /* per attempt */
    bool has_last_hop;                /* --trace found a router answering before the silence */
    struct dec_addr last_hop;
    unsigned last_hop_ttl;
};

struct inj_stats {
    uint64_t sent;            /* SYN probes sent, retries and trace probes included */
    uint64_t ignored_answers; /* answers that failed the cookie check */
    uint64_t packets;         /* valid answers */
};

struct inj_probe;

/* Opens everything probing needs (raw socket, capture with a filter for the target) before
 * privileges are dropped. The source address is the one the kernel routes from; a target
 * without a route is -INJ_ERR_ROUTE. Returns 0 or a negative inj_error, message in errbuf. */
int inj_open(struct inj_probe **out, const struct inj_config *cfg, char *errbuf, size_t errlen);

/* Sends the probes (rate-limited, retried), reads the answers, answers each SYN-ACK with a RST
 * and classifies every port: results[i] is cfg->ports[i]. stop is polled (signals). */
int inj_run(struct inj_probe *probe, struct inj_port *results, struct inj_stats *stats,
            const atomic_int *stop, char *errbuf, size_t errlen);

void inj_close(struct inj_probe *probe);

#endif
