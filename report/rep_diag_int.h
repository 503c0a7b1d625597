/* rep_diag_int.h - the evidence rep_diag.c gathers across attempts, for the rules that make
 * diagnoses of it (rep_diag_rules.c). Private to those two files. */
#ifndef SYNSCOPE_REP_DIAG_INT_H
#define SYNSCOPE_REP_DIAG_INT_H

#include "rep_diag.h"
#include "rep_index.h"

#define MAX_DIAGNOSES 256

/* What the server host's own packets look like. */
struct host_info {
    struct dec_addr addr;
    uint8_t family;
    uint16_t ipid_last;     /* to tell a counting IP ID from a random one */
    uint32_t own_packets;   /* SYN-ACKs, its own FINs, ICMP from itself */
    int hops_min, hops_max; /* hop distance of those packets */
    int64_t synack_rtt_min; /* fastest SYN-ACK, -1 none */
    uint32_t ipid_nonzero;  /* of its TCP packets with an IPv4 ID: how many were not 0 */
    uint32_t ipid_zero;
    uint32_t ipid_steps, ipid_small_steps; /* pairs of IDs seen; pairs 1..1000 apart, upward */
    uint32_t attempts;                     /* attempts to any of its ports */
    uint32_t as_client;                    /* attempts it made as a client */
};

/* What the diagnoses need of one service. */
struct service_info {
    struct dec_addr addr;
    uint8_t family;
    uint16_t port;
    uint32_t example; /* evidence of a middlebox attempt: rep_diag.examples[example - 1] */
    uint64_t counts[REP_VERDICT_COUNT];
    int64_t ok_first, ok_last;     /* accepted attempts (first SYN times) */
    int64_t lost_first, lost_last; /* dropped or half-open */
    int64_t ref_first, ref_last;   /* refused */
    uint32_t synacks, cookie_like, synack_after_ack, quick_resets;
    uint32_t synacks_stripped, synacks_full; /* MSS-only SYN-ACKs; ones with WS or SACK */
    uint32_t middlebox_resets;
    uint32_t port_unreachable;
    int64_t rst_first, rst_last; /* times of the refusing RSTs */
    struct dec_addr failed_client, ok_client;
    uint32_t failed_clients, ok_clients; /* 0, 1, or 2 meaning "more than one" */
    bool ok_from_other_client;
    /* whose SYNs went unanswered (dropped, half-open), and whether that one client was also
     * accepted here: a drop rule for one source is not an overloaded listener */
    struct dec_addr lost_client;
    uint32_t lost_clients;     /* 0, 1, or 2 meaning "more than one" */
    bool lost_client_accepted; /* or may have been: see ok_client_bits */
    uint64_t ok_client_bits;   /* bit client_bit() of every accepted client */
};

struct rep_diag {
    uint64_t seed;           /* of the hosts' and services' index hashes */
    struct host_info *hosts; /* dense, in the order they were first seen */
    uint32_t host_count, host_cap;
    struct rep_index host_index;
    struct service_info *services; /* dense, in the order they were first judged */
    uint32_t service_count, service_cap;
    struct rep_index service_index;
    char (*examples)[256];
    uint32_t example_count, example_cap;
    struct flow_neighbour *neighbours;
    uint32_t neighbour_count, neighbour_cap;
    uint64_t attempts; /* every attempt observed */
    /* across all services: who fails, and whether anyone else succeeds */
    struct dec_addr failed_client, ok_client;
    uint32_t failed_clients, ok_clients; /* 0, 1, or 2 meaning "more than one" */
    uint8_t failed_family;
    uint32_t failed_services; /* services where that client failed */
    uint64_t client_failures;
    struct rep_diagnosis results[MAX_DIAGNOSES];
    size_t result_count;
};

/* The host of an address, if it was seen; never adds one. */
struct host_info *rep_diag_find_host(const struct rep_diag *d, int family,
                                     const struct dec_addr *addr);

#endif
