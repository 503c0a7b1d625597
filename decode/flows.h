/* flows.h - the flow engine: correlates decoded events (decode.h) into connection attempts.
 * It records facts only; report/ judges what they mean. */
#ifndef SYNSCOPE_FLOWS_H
#define SYNSCOPE_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* How an attempt's record ended. */
enum flow_end {
    FLOW_END_CLOSED = 1,  /* connection closed: RST, or FIN from both sides */
    FLOW_END_TIMEOUT,     /* nothing more expected: timeout after the last packet */
    FLOW_END_REUSED,      /* a new SYN (other ISN) on the same 4-tuple replaced it */
    FLOW_END_CAPTURE_END, /* end of input with the attempt still open */
    FLOW_END_EVICTED,     /* pushed out by --max-flows */
};

/* What the server side answered first (the answer that decides the verdict). */
enum flow_answer {
    FLOW_ANS_NONE = 0,
    FLOW_ANS_SYNACK,     /* SYN-ACK acknowledging ISN+1 */
    FLOW_ANS_BAD_SYNACK, /* SYN-ACK acknowledging something else */
    FLOW_ANS_RST,        /* RST+ACK acknowledging ISN+1 */
    FLOW_ANS_ICMP,       /* ICMP/ICMPv6 error quoting the SYN */
    FLOW_ANS_BARE_ACK,   /* ACK without SYN: challenge ACK or TIME-WAIT (RFC 9293 3.10.7.4) */
};

#define FLOW_MAX_SYN_TIMES 8 /* SYN times kept (the retry schedule) */
#define FLOW_MAX_PACKETS 16  /* packet numbers kept per attempt */
#define FLOW_HISTORY_LEN 16  /* Zeek-style history letters kept */

/* Details of one packet from the answering side. */
struct flow_reply {
    int64_t ts_ns;
    struct dec_addr from; /* sender address (the server, or a router for ICMP) */
    uint8_t ttl;
    uint8_t has_ip_id;
    uint16_t ip_id;
    uint8_t flags;     /* TCP flags, or 0 for ICMP */
    uint8_t icmp_type; /* ICMP answers */
    uint8_t icmp_code;
    uint32_t seq; /* TCP sequence number */
    uint32_t ack; /* TCP acknowledgment number */
    uint32_t pkt; /* packet number */
    uint16_t window;
    struct dec_tcp_opts opts;
};

/* Everything seen for one connection attempt. Owned by the flow table; valid only during the
 * emit callback. Direction: client = sender of the SYN (or inferred from a SYN-ACK). */
struct flow_attempt {
    /* first what every packet of a connection updates: the lines of the flow table's detail
     * record fetched for every packet (flows_int.h, COLD_HOT_BYTES) */
    int64_t last_ns;                     /* last packet of the attempt */
    uint32_t packet_total;               /* packets of this attempt (handshake and beyond) */
    uint32_t packet_count;               /* packet numbers stored in packets[] */
    uint64_t client_bytes, server_bytes; /* TCP payload on the wire */
    int64_t server_first_data_ns;        /* 0 when the server sent no data */
    int64_t client_first_data_ns;
    uint32_t server_max_segment;        /* largest TCP payload the server sent */
    char history[FLOW_HISTORY_LEN + 1]; /* Zeek history letters, NUL-terminated */
    uint32_t packets[FLOW_MAX_PACKETS];

    uint8_t family;
    struct dec_addr client, server;
    uint16_t client_port, server_port;
    uint32_t isn;        /* client initial sequence number */
    uint32_t server_isn; /* sequence number of the valid SYN-ACK (when answer is SYN-ACK) */

    enum flow_end end;
    enum flow_answer answer; /* first decisive answer */
    struct flow_reply reply; /* details of that answer */
    /* a valid SYN-ACK that came after a RST or ICMP answer without a new SYN in between: the
     * server was alive and answering, so the RST or ICMP may not be its own */
    struct flow_reply synack_after_answer;

    uint32_t syn_count;                    /* SYNs from the client with this ISN */
    int64_t syn_ns[FLOW_MAX_SYN_TIMES];    /* times of the first SYNs */
    int64_t syn_last_ns;                   /* time of the last SYN */
    uint8_t syn_ttl;                       /* TTL of the first SYN as captured */
    struct dec_tcp_opts syn_opts;          /* options of the first SYN */
    bool saw_syn;                          /* false when built from a SYN-ACK alone */
    uint32_t synack_count;                 /* valid SYN-ACKs (retransmissions included) */
    int64_t synack_after_ack_ns;           /* a SYN-ACK repeated after the client's ACK, or 0 */
    uint32_t server_rst_count, icmp_count; /* all answers of these kinds */

    bool handshake_done;  /* client's ACK of the SYN-ACK seen */
    uint8_t announced;    /* live: the answer (enum flow_answer) it was announced with, or
                           * FLOW_ANS_NONE when it was not announced */
    bool acks_in_capture; /* the input had shown a pure ACK or a data segment (of any
                           * connection) by the time this record was handed out: false for
                           * live capture, whose kernel filter passes none, and for a file
                           * it saved, so a missing handshake ACK is no evidence there */
    int64_t handshake_ns;

    /* after the handshake, or in place of it */
    int64_t client_fin_ns, server_fin_ns; /* 0 when not seen */
    int64_t client_rst_ns, server_rst_ns; /* first RST after the answer; 0 when not seen */
    struct flow_reply server_end;         /* the server's RST or FIN that ended it, if any */
    bool client_acked_unseen;             /* client ACKed although no SYN-ACK was seen */
    bool server_acked_unseen;             /* server ACKed the SYN without a SYN-ACK seen */

    int64_t first_ns;      /* first packet of the attempt */
    int64_t seen_until_ns; /* the clock when the record was closed (timeout or end) */

    /* host evidence (live on one of the attempt's hosts, flow_host): what this host's kernel
     * did with the SYN; all zero otherwise (read) */
    uint32_t host_rule;         /* FLOW_HOST_NFT_*: the rule's number at host/, 0 unknown */
    uint16_t host_drop_reason;  /* FLOW_HOST_DROPPED: the kernel's number for the reason */
    uint16_t host_reset_reason; /* FLOW_HOST_RESET_REASON: the reason given with the reset */
    uint8_t host_facts;         /* FLOW_HOST_* */
};

/* flow_attempt.host_facts */
#define FLOW_HOST_DROPPED 0x01      /* the kernel dropped the SYN (host_drop_reason) */
#define FLOW_HOST_RESET_SENT 0x02   /* the kernel answered the SYN with a RST */
#define FLOW_HOST_RESET_REASON 0x04 /* ... and said why (host_reset_reason) */
#define FLOW_HOST_NFT_DROP 0x08     /* an nftables rule or policy dropped the SYN */
#define FLOW_HOST_NFT_REJECT 0x10   /* an nftables rule rejected it */
#define FLOW_HOST_OUTPUT 0x20       /* dropped on this host's output path: it never left */
#define FLOW_HOST_ONLY                                                                             \
    0x40 /* the attempt exists only as a kernel event: its SYN was                                 \
            dropped before the capture could see it */

struct flow_config {
    int64_t syn_timeout_ns;  /* minimum wait after the last SYN before "dropped" (3 s) */
    int64_t idle_timeout_ns; /* an established connection idle this long is written (300 s) */
    uint32_t max_attempts;   /* hard cap on attempts tracked at once (1,000,000) */
    uint64_t hash_seed;      /* hash seed (the command line draws it at random; no output
                              * depends on it) */
};

/* Fills cfg with the defaults above. */
void flow_config_default(struct flow_config *cfg);

/* Counters of the flow engine. */
struct flow_stats {
    uint64_t attempts;           /* attempts started (each emitted exactly once) */
    uint64_t evicted;            /* of those, pushed out by the cap */
    uint64_t tracked;            /* currently held (tombstones of reported attempts too) */
    uint64_t open;               /* of those, attempts not reported yet */
    uint64_t peak_tracked;       /* most held at once */
    uint64_t unmatched_synack;   /* SYN-ACK with no SYN (an attempt is still built from it) */
    uint64_t unmatched_rst;      /* RST matching no attempt */
    uint64_t unmatched_icmp;     /* ICMP error quoting no attempt we saw */
    uint64_t invalid_answers;    /* RST/ICMP for an attempt that failed validation */
    uint64_t midstream;          /* TCP packets of connections whose handshake we never saw */
    uint64_t late_packets;       /* packets of attempts already reported after a timeout */
    uint64_t duplicates;         /* the same packet captured twice (router `-i any`) */
    uint64_t neighbours_dropped; /* addresses not followed: the neighbour table was full */
};

struct flow_table;

/* Called once per finished attempt, in the order they finish. */
typedef void (*flow_emit_fn)(const struct flow_attempt *attempt, void *user);

/* Creates a table. Returns 0, or -1 with a message in errbuf. */
int flow_create(struct flow_table **out, const struct flow_config *cfg, flow_emit_fn emit,
                void *user, char *errbuf, size_t errlen);

/* Feeds one decoded event seen at ts_ns (packet time), numbered pkt (1-based). Timers up to
 * ts_ns fire first. Time never runs backwards: an earlier ts_ns is treated as the latest. */
void flow_event(struct flow_table *table, const struct dec_event *ev, int64_t ts_ns, uint32_t pkt);

/* One event of a batch for flow_events. */
struct flow_input {
    const struct dec_event *ev; /* NULL: a packet that is no event (skipped) */
    int64_t ts_ns;
    uint32_t pkt;
    bool hashed;   /* hash holds flow_event_hash of ev with the table's seed, which was true */
    uint64_t hash; /* (else flow_events computes it) */
};

/* The hash the flow table looks ev up with, cfg->hash_seed being the table's seed; false
 * for an event that is not looked up (address resolution). Pure: a reader thread computes
 * it for flow_events (flow_input.hashed), so that the table's thread does not. */
bool flow_event_hash(const struct flow_config *cfg, const struct dec_event *ev, uint64_t *hash);

/* Feeds count events in order, exactly as that many flow_event calls would; faster, since the
 * memory each lookup needs is fetched a few events ahead. */
void flow_events(struct flow_table *table, const struct flow_input *in, size_t count);

/* Address resolution seen for one address: ARP requests / neighbour solicitations for it, and
 * whether it ever answered. No answer while SYNs to it never appear means "No route to host"
 * was produced locally by the client's kernel. */
struct flow_neighbour {
    uint8_t family;
    struct dec_addr addr;     /* the address being resolved */
    struct dec_addr asked_by; /* the first host that asked */
    uint32_t requests, replies;
    int64_t first_ns, last_ns; /* first and last request */
    uint32_t first_pkt;
};

typedef void (*flow_neighbour_fn)(const struct flow_neighbour *neighbour, void *user);

/* At flow_finish, fn is called once for every address that was resolved (asked for) during
 * the input, before the remaining attempts are emitted. At most FLOW_MAX_NEIGHBOURS addresses
 * are followed; more are counted in flow_stats.neighbours_dropped. */
#define FLOW_MAX_NEIGHBOURS 4096
void flow_set_neighbour_callback(struct flow_table *table, flow_neighbour_fn fn);

/* Live capture: also announce attempts early, once each, through fn: a refusal or ICMP error
 * when it arrives, an accepted attempt still open grace_ns after its SYN-ACK. The final
 * record still comes through the emit callback, with `announced` set. */
void flow_set_provisional(struct flow_table *table, flow_emit_fn fn, int64_t grace_ns);

/* Advances the clock without a packet (live capture), firing due timers. */
void flow_advance(struct flow_table *table, int64_t now_ns);

/* End of input: every attempt still held is emitted with FLOW_END_CAPTURE_END. */
void flow_finish(struct flow_table *table);

/* The clock: the latest packet time seen. */
int64_t flow_now(const struct flow_table *table);

void flow_get_stats(const struct flow_table *table, struct flow_stats *stats);

/* A kernel event about an attempt's SYN (live host evidence; host.h's event, as cli hands
 * it over): joined to the attempt by the 4-tuple and the ISN. */
struct flow_host_event {
    int64_t ts_ns;
    uint8_t family;    /* 4 or 6 */
    uint8_t tcp_flags; /* of the packet the event is about: only SYNs are joined */
    uint8_t fact;      /* one FLOW_HOST_* bit: DROPPED, RESET_SENT, NFT_DROP, NFT_REJECT */
    bool output_path;  /* the packet was this host's own, dropped before it left */
    bool has_reason;
    uint16_t reason;          /* DROPPED, RESET_SENT: the kernel's number */
    uint32_t rule;            /* NFT_*: the rule's number */
    struct dec_addr src, dst; /* src: the client */
    uint16_t sport, dport;
    uint32_t seq; /* the ISN */
};

enum flow_host_result {
    FLOW_HOST_JOINED = 0, /* recorded on its attempt */
    FLOW_HOST_CREATED,    /* a SYN dropped on the output path that the capture never saw: an
                             attempt of its own (FLOW_HOST_ONLY) */
    FLOW_HOST_LATE,       /* its attempt was already emitted */
    FLOW_HOST_UNMATCHED,  /* no attempt with that tuple and ISN, or not about a SYN */
};

/* Records a host event on its attempt. Returns what became of it. Not from within an emit or
 * provisional callback. */
enum flow_host_result flow_host(struct flow_table *table, const struct flow_host_event *ev);

/* Whether ev is about attempt's SYN (tuple and ISN), and the facts of ev recorded on attempt
 * (as flow_host does): for a copy of an attempt held outside the table. Pure. */
bool flow_host_matches(const struct flow_attempt *attempt, const struct flow_host_event *ev);
void flow_host_record(struct flow_attempt *attempt, const struct flow_host_event *ev);

/* Frees the table; attempts still held are discarded without being emitted. */
void flow_destroy(struct flow_table *table);

#endif
