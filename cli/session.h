/* session.h - one analysis run of read or live: capture -> decode -> flows -> report, and the
 * exit code it ends with. */
#ifndef SYNSCOPE_CLI_SESSION_H
#define SYNSCOPE_CLI_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capture.h"
#include "decode.h"
#include "flows.h"
#include "report.h"
#include "report_thread.h"

struct session {
    struct flow_config flow_cfg;
    struct rep_options rep_opts;
    const char *output; /* -o, or NULL for stdout */
    bool fail_on[REP_VERDICT_COUNT];

    struct flow_table *flows;
    struct rep_report *report;
    struct report_thread *report_thread; /* read: the report's own thread, or NULL */
    struct rep_input_stats input;
    uint64_t decode_status[DEC_P_COUNT];
    FILE *out;
    bool output_broken;
    bool reported;         /* session_report has run */
    char user_filter[160]; /* the user's BPF expression (shortened), "" when none */
    uint64_t evicted;      /* attempts pushed out by --max-flows (session_report) */
    uint64_t packet_limit; /* live --count, 0 = none */
    char input_error[CAP_ERRBUF_SIZE];
    struct host *host;           /* live: host evidence (session_host.c), or NULL when off */
    struct host_hold *host_hold; /* refusals held back a few ms for their kernel events */
    uint64_t host_events;        /* kernel events joined to their attempt */
    uint64_t host_late;          /* ... that came after their attempt was reported */
    uint64_t host_created; /* SYNs dropped before the capture saw them: attempts of their own */
};

/* Fills s with the defaults of the options (text to standard output, a fresh hash seed). */
void session_defaults(struct session *s);

/* Opens the output and creates the report and the flow table. Returns 0 or EXIT_RUNTIME. */
int session_start(struct session *s);

/* A packet into the flow table (a cap_packet_fn of capture.h, user is the session). Returns 1
 * to stop reading: a stop signal, a broken output, or the --count limit reached. */
int session_packet(const struct cap_packet *pkt, void *user);

/* The flow table's provisional callback (live --grace), user is the session. */
void session_provisional(const struct flow_attempt *attempt, void *user);

/* Whether the decoder reads this link type (1) or not (0), for capture's open functions. */
int link_supported(int linktype);

/* Notes an input error that stopped reading; the report still covers what came before. */
void session_input_error(struct session *s, const char *message);

/* Keeps the user's BPF expression for session_report's note. */
void session_set_filter(struct session *s, const char *expression);

/* Ends the flows (the last attempts are judged) and writes the rest of the report, once. */
void session_report(struct session *s);

/* Reports (when report is true, and not done yet), closes the output, frees the session, and
 * turns status (so far) into the exit code: a write error, then --fail-on. */
int session_finish(struct session *s, int status, bool report);

/* True when out is a pipe or socket whose reader has gone away (the write failed with EPIPE
 * at some point; errno may have changed since). */
bool reader_gone(FILE *out);

/* ---- host evidence (session_host.c; live only) ---- */

struct host;

/* Opens host evidence as host_open does (before the privilege drop) and prints its notes on
 * stderr. Never fails the run: without it, s->host stays NULL. */
void session_host_open(struct session *s, bool pretend_no_btf, bool pretend_no_nft);

/* Hands the kernel's waiting events to the flow table (before each batch, at each tick). */
void session_host_drain(struct session *s, int64_t now_ns);

/* An attempt (final or provisional) to the report with its host evidence. */
void session_host_attempt(struct session *s, const struct flow_attempt *attempt, bool provisional);

/* Closes host evidence (removes the trace table); prints the late events' count. */
void session_host_close(struct session *s);

/* The real-time clock in nanoseconds. */
int64_t clock_now_ns(void);

#endif
