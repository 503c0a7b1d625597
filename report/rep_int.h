/* rep_int.h - report/'s private structures, shared by its writers. Never included elsewhere. */
#ifndef SYNSCOPE_REP_INT_H
#define SYNSCOPE_REP_INT_H

#include "rep_diag.h"
#include "rep_format.h"
#include "rep_index.h"
#include "report.h"

#include <string.h>

/* An address's text kept to be written again for the same address. */
struct rep_addr_memo {
    bool valid;
    uint8_t family;
    struct dec_addr addr;
    struct rep_addr_text text;
};

/* Totals for one server address:port. */
struct rep_service {
    uint8_t family;
    struct dec_addr addr;
    uint16_t port;
    uint64_t total;
    uint64_t counts[REP_VERDICT_COUNT];
    struct rep_addr_text addr_text; /* addr as text, for the JSON line of every attempt */
};

/* A failed attempt kept for the text listing. */
struct rep_listed {
    struct flow_attempt attempt;
    struct rep_judgement judgement;
    char host_detail[400]; /* live with host evidence: the finding on this host, else "" */
};

/* Whether every listed attempt of verdict v has a host finding (the generic paragraph is then
 * replaced by them), and the distinct findings, at most max of them (rep_text.c). */
size_t rep_host_findings(const struct rep_report *r, enum rep_verdict v, const char **findings,
                         size_t max);

/* Services with a row of their own: a scan of a large network must not grow the report
 * beyond any bound (--max-flows bounds the flow table only). 2^16 rows are 12 MiB. */
#define REP_MAX_SERVICES (1u << 16)

struct rep_report {
    struct rep_options opts;
    uint64_t attempts;
    uint64_t counts[REP_VERDICT_COUNT];
    struct rep_service *services; /* in the order they were first seen */
    uint32_t service_count, service_cap;
    struct rep_index service_index;
    uint64_t service_seed;      /* of the index's hash */
    uint64_t unlisted_attempts; /* attempts to services beyond REP_MAX_SERVICES */
    struct rep_listed *listed[REP_VERDICT_COUNT];
    uint32_t listed_count[REP_VERDICT_COUNT];
    int64_t first_ns, last_ns; /* time span of the attempts */
    bool alloc_failed;
    bool ts_cached;                      /* JSON: the date of ts_cache_day, formatted once */
    bool ts_date_ok;                     /* ts_date holds it (a four-digit year) */
    int64_t ts_cache_day;                /* days since 1970-01-01 */
    char ts_date[11];                    /* "2026-11-26T" */
    struct rep_addr_memo client_memo[2]; /* JSON: the last client address of IPv4, IPv6 */
    char *json_buf; /* JSON attempt lines not yet handed to stdio (rep_json_flush) */
    size_t json_len;
    uint32_t *failed_packets; /* --write-failed: packet numbers of failed attempts */
    size_t failed_count, failed_cap;
    struct rep_diag *diag;        /* evidence across attempts (rep_diag.c); may be NULL */
    struct flow_attempt *pending; /* refusals waiting for evidence (ring) */
    uint32_t pending_head, pending_count;
    int64_t newest_ns;                     /* latest packet time of any attempt */
    const struct rep_diagnosis *diagnoses; /* set by rep_finish */
    size_t diagnosis_count;
    const struct rep_host *host;      /* live: the host evidence of the attempt being reported */
    rep_service_host_fn service_host; /* live: the host evidence of a service, or NULL */
    void *service_host_user;
};

/* ---- host evidence (rep_host.c) ------------------------------------------------------------ */

/* host.cause of an attempt (issue 19). */
enum rep_host_cause {
    REP_CAUSE_LISTENING = 0,
    REP_CAUSE_NO_LISTENER,
    REP_CAUSE_BOUND_ELSEWHERE,
    REP_CAUSE_FIREWALL_DROP,
    REP_CAUSE_FIREWALL_REJECT,
    REP_CAUSE_ACCEPT_QUEUE_FULL,
    REP_CAUSE_SYN_QUEUE_FULL,
    REP_CAUSE_NO_ROUTE,
    REP_CAUSE_NEIGHBOUR_FAILED,
    REP_CAUSE_UNKNOWN,
};

/* "listening", "no-listener", ... */
const char *rep_host_cause_name(enum rep_host_cause cause);

/* The cause of the attempt's outcome on this host, from its facts and h. */
enum rep_host_cause rep_host_cause(const struct flow_attempt *a, const struct rep_judgement *j,
                                   const struct rep_host *h);

/* The kernel's name for what it did with the SYN (drop reason, else reset reason), or NULL. */
const char *rep_host_kernel_reason(const struct flow_attempt *a, const struct rep_host *h);

/* The sentence that names the cause with its evidence ("refused: no listener on
 * 10.0.0.5:5432, but postgres (pid 812) listens on 127.0.0.1:5432: ..."), cut to len. */
void rep_host_detail(char *buf, size_t len, const struct flow_attempt *a,
                     const struct rep_judgement *j, const struct rep_host *h,
                     enum rep_host_cause cause);

/* Writers: one attempt as a JSON line (svc: its service row, or NULL when it has none); the
 * service and summary objects; the text report. */
void rep_json_attempt(struct rep_report *r, const struct flow_attempt *a,
                      const struct rep_judgement *j, const struct rep_service *svc);
void rep_json_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows);
/* Hands the buffered attempt lines to stdio (before anything else is written to out). */
void rep_json_flush(struct rep_report *r);
void rep_text_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows);
/* HTML: one self-contained page (rep_html.c). */
void rep_html_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows);
/* Live text: one line for an attempt as it is decided (provisional: accepted, still open). */
void rep_text_live_line(struct rep_report *r, const struct flow_attempt *a,
                        const struct rep_judgement *j, bool provisional);

/* ---- Shared by the reports for people, text and HTML (rep_explain.c) ----------------------- */

/* What a verdict means and what to check: one paragraph; the word PORT stands for the
 * service's port and `backquotes` mark commands. Never NULL. */
const char *rep_explanation(enum rep_verdict verdict);

/* Advice for an ICMP reason of rep_icmp_reason() ("port", "host", ...). Never NULL. */
const char *rep_icmp_advice(const char *reason);

/* "port unreachable", "host unreachable" ... for an ICMP reason (the reason itself if unknown). */
const char *rep_icmp_label(const char *reason);

/* The distinct ICMP reasons of the listed unreachable attempts, in listing order, at most max
 * of them; returns how many were stored in reasons (static strings). */
size_t rep_icmp_reasons(const struct rep_report *r, const char **reasons, size_t max);

/* Writes text wrapped at width columns after indent, never breaking inside a `command`, with
 * PORT replaced by port when port is not 0 (rep_text.c). */
void rep_print_wrapped(FILE *out, const char *text, const char *indent, int width, unsigned port);

/* The evidence for a verdict on one line ("RST from 10.0.0.5 after 0.070 ms, ttl 63 (1 hop)");
 * plain text, not escaped; cut to buflen (512 bytes is always enough). Returns buf. */
const char *rep_evidence(char *buf, size_t buflen, const struct flow_attempt *a,
                         const struct rep_judgement *j, int64_t syn_timeout_ns);

/* Sorts r->listed[verdict] by start time, then first packet number. */
void rep_sort_listed(struct rep_report *r, enum rep_verdict verdict);

/* Attempts of all failure verdicts. */
uint64_t rep_failed_total(const struct rep_report *r);

/* Failed attempts of one service. */
uint64_t rep_service_failures(const struct rep_service *s);

/* The services, most failures first, then most attempts, then by address:port: a malloc'd
 * array of r->service_count pointers into r->services (the caller frees it), or NULL when
 * there are none or memory ran out. */
const struct rep_service **rep_services_sorted(const struct rep_report *r);

/* The failure verdict with most attempts of a service, or -1 when none failed. */
int rep_service_dominant(const struct rep_service *s);

/* A service's row in the tables of the reports for people: its name, its counts of attempts,
 * accepted, refused (by the host or a middlebox), dropped, unreachable and other (none of
 * those), and its state (rep_service_state). */
#define REP_ROW_COUNTS 6
struct rep_service_row {
    char name[64];
    uint64_t counts[REP_ROW_COUNTS];
    const char *state;
};
void rep_service_row(const struct rep_service *s, struct rep_service_row *row);

/* A service's state for its row: "ok", "undetermined", a verdict name when every attempt
 * failed that way, or "failing sometimes". */
const char *rep_service_state(const struct rep_service *s);

/* The port shown in advice: the one port all listed attempts of a verdict share, else 0. */
unsigned rep_common_port(const struct rep_report *r, enum rep_verdict verdict);

/* Room for rep_decode_problems' sentence, whatever the counts. */
#define REP_PROBLEMS_LEN 2048

/* "Decode problems: none." or "Decode problems: 3 packets could not be decoded: NAME 2 NAME 1"
 * with each NAME between open and close (HTML: "<code>", "</code>"). Returns buf. */
const char *rep_decode_problems(char buf[REP_PROBLEMS_LEN], const struct rep_input_stats *input,
                                const char *open, const char *close);

/* The closing notes of a report for people after its decode problems, one plain sentence
 * each: evictions, answers without a SYN, answers not believed, an input error, live counters. */
typedef void (*rep_note_fn)(const char *sentence, void *ctx);
void rep_closing_notes(const struct rep_input_stats *input, const struct flow_stats *flows,
                       rep_note_fn emit, void *ctx);

#endif
