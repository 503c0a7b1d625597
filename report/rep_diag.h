/* rep_diag.h - report/'s diagnoses across attempts: the server hosts' own hop distances (to tell
 * a host's RST from a middlebox's), and per-service and per-host diagnoses. Private to report/. */
#ifndef SYNSCOPE_REP_DIAG_H
#define SYNSCOPE_REP_DIAG_H

#include "report.h"

/* One diagnosis: what is wrong with a service (port != 0), a server host (port == 0) or a
 * client (about_client), why we think so, what it rules out, and what to run next. */
struct rep_diagnosis {
    const char *kind; /* "overloaded", "syn-cookies", ... (static) */
    uint8_t family;
    struct dec_addr addr;
    uint16_t port;
    bool about_client;     /* addr is a client (the failures of one client), not a server */
    char summary[400];     /* one or two sentences with the numbers */
    const char *causes;    /* likely causes (static text) */
    const char *ruled_out; /* causes the evidence rules out (static text) */
    const char *next;      /* commands to run next; PORT and SERVER stand for the values */
};

struct rep_diag;

/* Returns NULL when out of memory (then diagnoses are simply not made). */
struct rep_diag *rep_diag_create(void);
void rep_diag_destroy(struct rep_diag *d);

/* The index hashes of an attempt's server and client hosts: computed once, by
 * rep_diag_prefetch, for rep_diag_observe's lookups. */
struct rep_diag_keys {
    uint32_t server, client;
};

/* Starts loading the index slots and entries of an attempt's server, client and service into
 * the cache, so that the lookups of rep_diag_observe and rep_diag_account overlap their cache
 * misses instead of waiting for each in turn; fills keys. No effect on anything but time. */
void rep_diag_prefetch(const struct rep_diag *d, const struct flow_attempt *a,
                       struct rep_diag_keys *keys);

/* Learns from an attempt's own packets what its server host looks like (hop distance and RTT
 * of its SYN-ACKs, its IP IDs). Called for every attempt before any is judged against it, with
 * the keys rep_diag_prefetch filled for it. */
void rep_diag_observe(struct rep_diag *d, const struct flow_attempt *a,
                      const struct rep_diag_keys *keys);

/* For a judged attempt: a RST answer whose hop distance, RTT or IP ID does not fit the server's
 * own packets becomes refused-by-middlebox; an established connection's RST that does not fit
 * the SYN-ACK is flagged as a middlebox reset. Fills j->evidence either way. */
void rep_diag_middlebox(const struct rep_diag *d, const struct flow_attempt *a,
                        struct rep_judgement *j);

/* Counts a judged attempt for the per-service diagnoses. Returns the service's number (the
 * services are numbered 0, 1, ... in the order they first came), or UINT32_MAX when it has
 * none (table full, out of memory, or d NULL). */
uint32_t rep_diag_account(struct rep_diag *d, const struct flow_attempt *a,
                          const struct rep_judgement *j);

/* Address resolution seen for an address (flow_set_neighbour_callback). */
void rep_diag_neighbour(struct rep_diag *d, const struct flow_neighbour *n);

/* Computes the diagnoses once every attempt is in: the most severe first, then by address and
 * port (rep_diag_rules.c says how severe each kind is). *out points to them (owned by d). */
size_t rep_diag_finish(struct rep_diag *d, const struct rep_diagnosis **out);

/* The commands to run next with PORT, SERVER and ADDR filled in. */
void rep_diag_next(const struct rep_diagnosis *diagnosis, char *buf, size_t len);

/* What a diagnosis is about, as the reports for people name it: "10.0.0.5:80", "10.0.0.5",
 * "10.0.0.7 (client)". Returns buf (64 bytes is always enough). */
const char *rep_diag_where(const struct rep_diagnosis *diagnosis, char *buf, size_t len);

#endif
