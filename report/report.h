/* report.h - verdicts for finished attempts, per-service aggregation, text and JSON writers. */
#ifndef SYNSCOPE_REPORT_H
#define SYNSCOPE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decode.h"
#include "flows.h"

/* Verdicts, README.md "Verdicts". The order is the order of the text report. */
enum rep_verdict {
    REP_ACCEPTED = 0,
    REP_RESET_AFTER_ACCEPT,
    REP_CLOSED_AFTER_ACCEPT,
    REP_REFUSED,
    REP_REFUSED_BY_MIDDLEBOX,
    REP_UNREACHABLE,
    REP_DROPPED,
    REP_HALF_OPEN,
    REP_CLIENT_ABORT,
    REP_STALE,
    REP_BAD_SYNACK,
    REP_UNDETERMINED,
    REP_VERDICT_COUNT
};

/* "accepted", "reset-after-accept", ... */
const char *rep_verdict_name(enum rep_verdict verdict);

/* Parses a verdict name; returns 0 and *out, or -1. */
int rep_verdict_parse(const char *name, enum rep_verdict *out);

/* True for verdicts that mean the connection did not work. */
bool rep_verdict_is_failure(enum rep_verdict verdict);

/* Who sent the deciding answer. */
enum rep_sender { REP_SENDER_NONE = 0, REP_SENDER_SERVER, REP_SENDER_ROUTER };

/* The judgement on one attempt. */
struct rep_judgement {
    enum rep_verdict verdict;
    const char *reason;     /* refines the verdict: "rst", "host", "capture-ended", ... */
    const char *zeek_state; /* Zeek conn_state: "REJ", "S0", "SF", ... */
    enum rep_sender sender;
    int hops;           /* hop distance of the answer (initial TTL guess - TTL), -1 unknown */
    int64_t rtt_ns;     /* answer time - the SYN before it; -1 when there is no answer */
    int64_t waited_ns;  /* first SYN to the answer, or to the last packet */
    int64_t start_ns;   /* first SYN (or first packet) */
    unsigned flags;     /* REP_FLAG_* */
    char evidence[256]; /* why a RST is the host's or a middlebox's; "" when nothing to say */
};

/* Notes on an attempt (rep_judgement.flags), named by rep_flag_name(). */
#define REP_FLAG_MIDDLEBOX_RESET 0x01  /* an established connection reset by a middlebox */
#define REP_FLAG_SYNCOOKIE 0x02        /* the SYN-ACK looks like a Linux SYN cookie */
#define REP_FLAG_SYNACK_AFTER_ACK 0x04 /* SYN-ACK re-sent after the client's ACK: queue full */
#define REP_FLAG_LATE_SYNACK 0x08      /* the server's SYN-ACK came after the RST/ICMP answer */
#define REP_FLAG_COUNT 4

/* "middlebox-reset", "syncookie", "synack-after-ack", "late-synack" for flag bit i. */
const char *rep_flag_name(unsigned bit_index);

struct rep_config {
    int64_t syn_timeout_ns; /* the flow engine's SYN timeout: capture-ended vs dropped */
};

/* Decides the verdict of a finished attempt. Pure. */
void rep_judge(const struct flow_attempt *attempt, const struct rep_config *cfg,
               struct rep_judgement *out);

/* Initial TTL guess (64, 128 or 255) minus the TTL seen. */
int rep_hops(uint8_t ttl);

/* Name of an ICMP/ICMPv6 unreachable or time-exceeded code ("host", "admin-prohibited"). */
const char *rep_icmp_reason(int family, uint8_t type, uint8_t code);

enum rep_format { REP_FORMAT_TEXT = 0, REP_FORMAT_JSON, REP_FORMAT_HTML };

struct rep_options {
    enum rep_format format;
    FILE *out; /* where to write; not closed by report/ */
    struct rep_config cfg;
    uint32_t list_limit;      /* failed attempts listed per verdict in text (0 = default 20) */
    bool live;                /* text: also one line per attempt as it is decided */
    bool failed_only;         /* live text lines: only failed attempts */
    bool keep_failed_packets; /* remember failed attempts' packet numbers (rep_failed_packets) */
};

/* What the input looked like, for the summary. */
struct rep_input_stats {
    uint64_t packets;                    /* packets read */
    uint64_t decode_status[DEC_P_COUNT]; /* per dec_status (skips and problems) */
    const char *const *files;            /* input names */
    size_t file_count;
    const char *error;       /* input error that stopped reading, or NULL */
    bool live;               /* a live capture: the counters below are set */
    uint64_t cap_received;   /* packets that passed the kernel filter */
    uint64_t cap_dropped;    /* dropped by the kernel (buffer full) */
    uint64_t cap_if_dropped; /* dropped by the interface */
    double duration_s;       /* how long the live capture ran */
};

struct rep_report;

/* Creates a report. Returns 0, or -1 with a message in errbuf. */
int rep_create(struct rep_report **out, const struct rep_options *opts, char *errbuf,
               size_t errlen);

/* Takes one finished attempt (the flow engine's emit callback calls this). JSON attempt lines
 * are written at once; text is written by rep_finish. */
void rep_attempt(struct rep_report *report, const struct flow_attempt *attempt);

/* Address resolution seen for one address (the flow engine's neighbour callback): feeds the
 * unresolved-neighbour diagnosis. */
void rep_neighbour(struct rep_report *report, const struct flow_neighbour *neighbour);

/* Live capture: an attempt announced early (flow_set_provisional's callback). Text: its line
 * at once ("accepted ... (still open)", "refused ..."); the final record is printed again only
 * when its verdict differs. JSON: nothing until the final record. */
void rep_provisional(struct rep_report *report, const struct flow_attempt *attempt);

/* ---- host evidence (live on one of the attempt's hosts; issue 19) ------------------------ */

/* A listening socket on the attempt's server port, as cli gathered it from host/. */
struct rep_listener {
    uint8_t family; /* 4 or 6 */
    bool v6only;
    uint16_t port;
    struct dec_addr addr; /* all zero: the wildcard */
    const char *ifname;   /* bound device, "" when none */
    uint32_t queue, backlog;
    int32_t pid; /* -1 unknown */
    const char *comm;
};

enum rep_host_accept {
    REP_HOST_ACCEPT_UNKNOWN = 0, /* the listeners are not known (client side, or off) */
    REP_HOST_LISTENING,
    REP_HOST_NO_LISTENER,
    REP_HOST_BOUND_ELSEWHERE,
};

/* The listen-queue counters that moved in the attempt's second (REP_HOST_CTR_* indexes). */
enum rep_host_counter {
    REP_HOST_CTR_LISTEN_OVERFLOWS = 0,
    REP_HOST_CTR_LISTEN_DROPS,
    REP_HOST_CTR_REQQ_FULL_DROP,
    REP_HOST_CTR_REQQ_FULL_DO_COOKIES,
    REP_HOST_CTR_SYNCOOKIES_SENT,
    REP_HOST_CTR_SYNCOOKIES_FAILED,
    REP_HOST_CTR_COUNT
};

/* What this host knows about an attempt besides the facts flows recorded on it
 * (flow_attempt.host_*): gathered by cli when the attempt is reported. Strings and arrays are
 * valid during the call only. */
struct rep_host {
    bool server_side; /* the server address is this host's; else the client's */
    enum rep_host_accept accept;
    const char *bound_why; /* BOUND_ELSEWHERE: "loopback", "v6only", "address", "device",
                              "family" */
    int nearest;           /* the listener accept and bound_why are about, -1 */
    const struct rep_listener *listeners;
    size_t listener_count;    /* in listeners[] */
    size_t listener_total;    /* on the port (more than listener_count: not all given) */
    const char *drop_reason;  /* the kernel's name of host_drop_reason, or NULL */
    const char *reset_reason; /* the kernel's name of host_reset_reason, or NULL */
    const char *rule;         /* the nftables rule's text, or NULL */
    bool counters_known;
    uint64_t counters[REP_HOST_CTR_COUNT]; /* deltas in the attempt's second */
    const char *counter_names[REP_HOST_CTR_COUNT];
};

/* rep_attempt and rep_provisional with host evidence (host may be NULL: as without). */
void rep_attempt_host(struct rep_report *report, const struct flow_attempt *attempt,
                      const struct rep_host *host);
void rep_provisional_host(struct rep_report *report, const struct flow_attempt *attempt,
                          const struct rep_host *host);

/* Live: fills *out with the host evidence of a service (its listeners now, the counters'
 * differences over the capture) for its service object at rep_finish; returns false when the
 * server address is not this host's. Strings valid until the next call. */
typedef bool (*rep_service_host_fn)(uint8_t family, const struct dec_addr *addr, uint16_t port,
                                    struct rep_host *out, void *user);
void rep_set_service_host(struct rep_report *report, rep_service_host_fn fn, void *user);

/* Writes the rest (service objects and the summary). Returns 0, or -1 with errbuf set when
 * writing failed. */
int rep_finish(struct rep_report *report, const struct rep_input_stats *input,
               const struct flow_stats *flows, char *errbuf, size_t errlen);

/* After rep_finish, with keep_failed_packets: the packet numbers of every failed attempt
 * (and of connections reset by a middlebox), sorted, without duplicates. Owned by report. */
size_t rep_failed_packets(struct rep_report *report, const uint32_t **numbers);

/* Attempts seen so far with this verdict. */
uint64_t rep_verdict_count(const struct rep_report *report, enum rep_verdict verdict);

void rep_destroy(struct rep_report *report);

/* ---- probe mode (synscope probe): one result per port ----------------------------------- */

enum rep_port_state {
    REP_PORT_OPEN = 0,
    REP_PORT_CLOSED,
    REP_PORT_FILTERED,
    REP_PORT_UNREACHABLE,
    REP_PORT_STATES
};

struct rep_port {
    int family;
    struct dec_addr target;
    uint16_t port;
    enum rep_port_state state; /* nmap's state */
    const char *reason;        /* nmap's reason: "syn-ack", "reset", "no-response", ... */
    bool answered;
    struct dec_addr from; /* who answered */
    uint8_t ttl;
    int64_t rtt_ns;
    unsigned probes, answers;
    unsigned states[REP_PORT_STATES]; /* outcome of each attempt (--count) */
    bool has_last_hop;                /* --trace */
    struct dec_addr last_hop;
    unsigned last_hop_ttl;
    /* set by rep_ports_judge */
    int hops;
    enum rep_verdict verdict;
    char evidence[200];
};

struct rep_probe_summary {
    const char *target; /* as given */
    uint64_t sent, ignored_answers;
    double duration_s;
    bool interrupted;
};

/* Decides each port's verdict; a RST whose hop distance differs from the SYN-ACKs of the same
 * host's open ports is refused-by-middlebox. */
void rep_ports_judge(struct rep_port *ports, size_t n);

/* Writes the ports (text table or JSON lines "port" objects) and a summary. */
void rep_ports_write(FILE *out, enum rep_format format, const struct rep_port *ports, size_t n,
                     const struct rep_probe_summary *summary);

#endif
