/* decode.h - raw packet bytes to handshake events (parse) and events to attempts (flows). */
#ifndef SYNSCOPE_DECODE_H
#define SYNSCOPE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------ */
/* Link types: the DLT_ values libpcap's pcap_datalink() reports on Linux.                    */

#define DEC_LINK_NULL 0         /* BSD loopback: 4-byte address family in host byte order */
#define DEC_LINK_EN10MB 1       /* Ethernet, with 802.1Q / 802.1ad (QinQ) tags and MPLS */
#define DEC_LINK_RAW 12         /* raw IPv4 or IPv6 (LINKTYPE_RAW 101 maps to this) */
#define DEC_LINK_RAW_OPENBSD 14 /* DLT_RAW's value on OpenBSD, seen in files from there */
#define DEC_LINK_RAW_LT 101     /* LINKTYPE_RAW, in case a reader does not map it */
#define DEC_LINK_LOOP 108       /* OpenBSD loopback: 4-byte address family, network order */
#define DEC_LINK_LINUX_SLL 113  /* Linux cooked capture v1 (`-i any` before libpcap 1.10) */
#define DEC_LINK_IPV4 228       /* raw IPv4 */
#define DEC_LINK_IPV6 229       /* raw IPv6 */
#define DEC_LINK_LINUX_SLL2 276 /* Linux cooked capture v2 */

/* True when dec_packet() can decode frames of this link type. */
bool dec_link_supported(int linktype);

/* A short name for any link type ("EN10MB", "LINUX_SLL2", "DLT 147"); never NULL.
 * The returned pointer is static or points into buf (which must hold 24 bytes). */
const char *dec_link_name(int linktype, char *buf, size_t buflen);

/* ------------------------------------------------------------------------------------------ */
/* What dec_packet() found. DEC_OK_* fill the event; DEC_SKIP_* are packets we have no use for
 * (not problems); every other value is a decode problem, counted by name in the summary.     */

enum dec_status {
    DEC_OK_TCP = 0, /* a TCP segment: ev->kind == DEC_EV_TCP */
    DEC_OK_ICMP,    /* an ICMP/ICMPv6 error quoting a TCP header: ev->kind == DEC_EV_ICMP */
    DEC_OK_NEIGH,   /* ARP or neighbour solicitation/advertisement: ev->kind == DEC_EV_NEIGH */

    DEC_SKIP_NOT_IP,    /* ARP, LLDP, other ethertypes / address families */
    DEC_SKIP_NOT_TCP,   /* UDP, ICMP echo, other protocols, ICMP errors quoting non-TCP */
    DEC_SKIP_FRAGMENT,  /* IPv4/IPv6 fragment other than the first: carries no TCP header */
    DEC_SKIP_COUNT_END, /* marker: values below this are not problems */

    /* problems: "truncated" = cut by the capture's snap length (caplen < len),
     * "short"/"bad" = malformed on the wire */
    DEC_P_LINK_TRUNCATED = DEC_SKIP_COUNT_END, /* link header cut short */
    DEC_P_LINK_TOO_MANY_TAGS,                  /* more VLAN/MPLS labels than we follow */
    DEC_P_LINK_UNSUPPORTED,                    /* link type dec_link_supported() rejects */
    DEC_P_IP_BAD_VERSION,                      /* IP version nibble neither 4 nor 6 */
    DEC_P_IP4_TRUNCATED,                       /* IPv4 header cut by snap length */
    DEC_P_IP4_BAD_IHL,                         /* IHL < 5 */
    DEC_P_IP4_BAD_LENGTH,    /* total length < header length, or > bytes on the wire; a total
                              * length of 0 (Linux BIG TCP, TSO) means "to the end of the frame" */
    DEC_P_IP6_TRUNCATED,     /* IPv6 header cut by snap length */
    DEC_P_IP6_BAD_LENGTH,    /* payload length larger than the bytes on the wire */
    DEC_P_IP6_EXT_TRUNCATED, /* extension header cut by snap length */
    DEC_P_IP6_EXT_BAD,       /* extension header longer than the payload */
    DEC_P_IP6_EXT_TOO_MANY,  /* extension-header chain longer than we follow */
    DEC_P_TCP_TRUNCATED,     /* the 20-byte TCP header cut by snap length */
    DEC_P_TCP_SHORT,         /* fewer than 20 bytes of TCP in the IP payload */
    DEC_P_TCP_BAD_OFFSET,    /* data offset < 5, or beyond the IP payload */
    DEC_P_ICMP_TRUNCATED,    /* ICMP header or quoted packet cut by snap length */
    DEC_P_ICMP_SHORT,        /* ICMP error too short to quote IP + 8 bytes */
    DEC_P_ICMP_QUOTE_BAD,    /* quoted IP header malformed */
    DEC_P_COUNT
};

/* Stable kebab-case name of a status ("ip4-bad-ihl", "skip-not-ip"); never NULL. */
const char *dec_status_name(enum dec_status status);

/* True when status is a decode problem (to be counted and reported). */
static inline bool dec_status_is_problem(enum dec_status status)
{
    return status >= DEC_SKIP_COUNT_END;
}

/* ------------------------------------------------------------------------------------------ */
/* The event: one small, fixed-size record per relevant packet.                               */

/* An address: IPv4 in the first 4 bytes, the rest zero. */
struct dec_addr {
    uint8_t b[16];
};

enum dec_kind { DEC_EV_TCP = 1, DEC_EV_ICMP = 2, DEC_EV_NEIGH = 3 };

/* Address resolution (kind == DEC_EV_NEIGH): who asks for whom, and who answers. */
enum dec_neigh_op {
    DEC_NEIGH_REQUEST = 1, /* ARP request (RFC 826) / neighbour solicitation (RFC 4861 4.3) */
    DEC_NEIGH_REPLY = 2,   /* ARP reply / neighbour advertisement (RFC 4861 4.4) */
};

#define DEC_TCP_FIN 0x01
#define DEC_TCP_SYN 0x02
#define DEC_TCP_RST 0x04
#define DEC_TCP_PSH 0x08
#define DEC_TCP_ACK 0x10
#define DEC_TCP_URG 0x20
#define DEC_TCP_ECE 0x40
#define DEC_TCP_CWR 0x80

/* TCP options seen (bits of dec_tcp_opts.present), RFC 9293 3.2, RFC 7323, RFC 2018. */
#define DEC_OPT_MSS 0x01
#define DEC_OPT_WSCALE 0x02
#define DEC_OPT_SACK_OK 0x04
#define DEC_OPT_TIMESTAMP 0x08
#define DEC_OPT_SACK 0x10

struct dec_tcp_opts {
    uint8_t present; /* DEC_OPT_* */
    uint8_t wscale;
    uint16_t mss;
    uint32_t tsval, tsecr;
};

/* Notes on a decoded packet: not reasons to drop it. */
#define DEC_NOTE_OPT_BAD 0x01       /* option with a bad length or past the data offset: stopped */
#define DEC_NOTE_OPT_TRUNCATED 0x02 /* options cut by the snap length */
#define DEC_NOTE_IP4_OPTIONS 0x04   /* IPv4 header carried options */
#define DEC_NOTE_IP6_EXT 0x08       /* IPv6 extension headers were skipped */
#define DEC_NOTE_VLAN 0x10          /* frame carried 802.1Q/802.1ad tags */

struct dec_event {
    uint8_t kind;             /* enum dec_kind */
    uint8_t family;           /* 4 or 6 */
    uint8_t ttl;              /* IPv4 TTL or IPv6 hop limit of the (outer) packet */
    uint8_t tcp_flags;        /* DEC_TCP_*; 0 for ICMP */
    uint8_t notes;            /* DEC_NOTE_* */
    uint8_t has_ip_id;        /* ip_id is meaningful (IPv4) */
    uint16_t ip_id;           /* IPv4 identification */
    struct dec_addr src, dst; /* outer addresses: for ICMP, src is who sent the error */
    /* TCP (kind == DEC_EV_TCP) */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t window;
    uint32_t payload_len; /* TCP payload bytes on the wire (from the IP length, not caplen) */
    struct dec_tcp_opts opts;
    /* ICMP/ICMPv6 error (kind == DEC_EV_ICMP): type/code, and the quoted TCP packet */
    uint8_t icmp_type, icmp_code;
    uint8_t quoted_family;
    struct dec_addr quoted_src, quoted_dst;
    uint16_t quoted_sport, quoted_dport;
    uint32_t quoted_seq;
    /* ARP / ND (kind == DEC_EV_NEIGH): src is the sender's protocol address, neigh_target the
     * address being resolved (request) or announced (reply) */
    uint8_t neigh_op; /* enum dec_neigh_op */
    struct dec_addr neigh_target;
};

/* Decodes one captured frame. bytes holds caplen bytes of a frame that was wirelen bytes long
 * on the wire; linktype is a DEC_LINK_* value. Pure: no I/O, no globals, no allocation.
 * Reads only through a bounds-checked cursor: any byte pattern is safe.
 * Returns DEC_OK_TCP or DEC_OK_ICMP with *ev filled, or a skip/problem status (ev undefined).
 * ICMP: IPv4 type 3 (unreachable) and 11 (time exceeded), ICMPv6 type 1 and 3, whose quoted
 * packet is TCP with at least the 8 bytes holding ports and sequence number. ARP for IPv4
 * over Ethernet-sized hardware addresses, ICMPv6 neighbour solicitation and advertisement:
 * DEC_OK_NEIGH. */
enum dec_status dec_packet(const uint8_t *bytes, size_t caplen, size_t wirelen, int linktype,
                           struct dec_event *ev);

/* Formats an address as text (inet_ntop); buf must hold 46 bytes. Returns buf. */
const char *dec_addr_str(const struct dec_addr *addr, int family, char *buf, size_t buflen);

/* ------------------------------------------------------------------------------------------ */
/* The flow engine: correlates events into connection attempts (facts only; report/ judges). */

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
    /* first what every packet of a connection updates: the flow table's cache lines */
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
};

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

/* Frees the table; attempts still held are discarded without being emitted. */
void flow_destroy(struct flow_table *table);

#endif
