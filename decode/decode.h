/* decode.h - raw packet bytes to handshake events: the parser's API (dec_packet in
 * dec_parse.c, the layers above the link in dec_ip.c, dec_tcp.c and dec_icmp.c behind
 * dec_int.h). The flow engine that correlates the events into attempts has its own header,
 * flows.h. */
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
/* dec_packet clears an event in two parts of known sizes, its first 64 bytes and the rest
 * (sizeof - 64): a few vector stores each, where one clear of the whole starts a string store. */
_Static_assert(sizeof(struct dec_event) > 64, "dec_packet's second clear is sizeof - 64 bytes");

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

#endif
