/* flow_fixtures.h - shared fixtures of the flow and report unit tests: addresses, tuples, TCP and
 * ICMP events built in memory, and a flow table ("rig") that collects the attempts it emits.
 * The helpers assert with Criterion, so they are called from inside a Test() only. */
#ifndef SS_TESTS_FLOW_FIXTURES_H
#define SS_TESTS_FLOW_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flows.h"
#include "report.h"

#define MS 1000000LL
#define SEC 1000000000LL
/* 2026-11-26T13:12:06.319804Z, the first SYN of DESIGN.md's JSON example */
#define T0 (1795698726LL * SEC + 319804000LL)

/* Both ends of a TCP conversation; family is 4 or 6. */
struct tuple {
    uint8_t family;
    struct dec_addr client, server;
    uint16_t client_port, server_port;
};

/* The IPv4 address a.b.c.d, the rest of the address zeroed. */
struct dec_addr addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);

/* The IPv6 address in text; fails the test if text is not one. */
struct dec_addr addr6(const char *text);

/* 10.99.0.1:client_port -> 10.99.0.2:server_port */
struct tuple tuple4(uint16_t client_port, uint16_t server_port);

/* [fd00:99::1]:client_port -> [fd00:99::2]:server_port */
struct tuple tuple6(uint16_t client_port, uint16_t server_port);

/* A TCP segment of the tuple; the client's packets have TTL 64, the server's 63 (one hop), IPv4
 * IP IDs 0x1111 (client) and 0x2222 (server), window 64240, no options. */
struct dec_event segment(const struct tuple *t, bool from_client, uint8_t flags, uint32_t seq,
                         uint32_t ack, uint32_t payload_len);

/* The client's SYN with sequence number isn, MSS 1460, SACK permitted, window scale 7. */
struct dec_event syn(const struct tuple *t, uint32_t isn);

/* The server's SYN-ACK with its ISN and the acknowledgement number ack. */
struct dec_event synack(const struct tuple *t, uint32_t server_isn, uint32_t ack);

/* A pure ACK (no payload) from either side. */
struct dec_event ack_of(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack);

/* A PSH+ACK segment carrying len bytes of payload from either side. */
struct dec_event data(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack,
                      uint32_t len);

/* A FIN+ACK (no payload) from either side. */
struct dec_event fin(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack);

/* An RST+ACK from either side. */
struct dec_event rst_ack(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack);

/* A bare RST (no ACK flag, ack 0) from either side. */
struct dec_event rst(const struct tuple *t, bool from_client, uint32_t seq);

/* An ICMP/ICMPv6 error sent by `from` to the client, quoting a SYN of `quoted` with quoted_seq;
 * TTL 62. */
struct dec_event icmp_err(const struct dec_addr *from, const struct tuple *quoted,
                          uint32_t quoted_seq, uint8_t type, uint8_t code);

/* The attempts a flow table emitted, in order; items is heap memory. */
struct collector {
    struct flow_attempt *items;
    size_t count, cap;
};

/* The flow table's emit callback: appends a copy of attempt to the struct collector in user. */
void collect(const struct flow_attempt *attempt, void *user);

/* A flow table with a fixed seed and a 3 s SYN timeout, and what it emitted. */
struct rig {
    struct flow_table *table;
    struct flow_config cfg;
    struct collector got;
    uint32_t pkt; /* number of the last packet fed */
};

/* Sets up r with at most max_attempts attempts tracked at once; fails the test on error. */
void rig_init_cap(struct rig *r, uint32_t max_attempts);

/* rig_init_cap with a cap of 1000000 (never reached by the tests). */
void rig_init(struct rig *r);

/* Feeds ev at T0 + at_ns as the next packet number. */
void feed(struct rig *r, struct dec_event ev, int64_t at_ns);

/* Moves the table's clock to T0 + at_ns (timers fire, attempts may be emitted). */
void advance_to(struct rig *r, int64_t at_ns);

/* The table's counters now. */
struct flow_stats stats_of(const struct rig *r);

/* rig_init, then the client's SYN of t with isn fed at T0 (packet 1). */
void rig_init_syn(struct rig *r, const struct tuple *t, uint32_t isn);

/* SYN, SYN-ACK and the client's ACK of t, 1 ms apart from T0 + at_ns; ISNs 1000 and 7000. */
void handshake(struct rig *r, const struct tuple *t, int64_t at_ns);

/* Ends the input and checks that every attempt started was emitted exactly once: the counts
 * agree, nothing is held, and no two records start with the same packet. */
void finish_all(struct rig *r);

/* Frees the table and the collected attempts. */
void rig_free(struct rig *r);

/* rep_judge of a with the rig's 3 s SYN timeout and the other settings zero. */
void judge(const struct flow_attempt *a, struct rep_judgement *j);

/* Runs the neighbour records given (as flow_finish does, first) and the collected attempts
 * through a JSON report with the rig's SYN timeout; returns the malloc'd output. */
char *report_json_with(struct rig *r, const struct flow_neighbour *neighbours, size_t count);

/* The only attempt emitted, judged: finishes the input first (and asserts there is one). */
struct rep_judgement judge_only(struct rig *r);

#endif
