/* dec_parse.c - raw frames to handshake events: link layers, IPv4/IPv6, TCP, ICMP errors. */
#include "decode.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dec_cursor.h"

/* Bounds on the work spent on one packet: a crafted frame cannot make us loop for long. */
#define DEC_MAX_VLAN_TAGS 8   /* 802.1Q/802.1ad tags followed */
#define DEC_MAX_MPLS_LABELS 8 /* MPLS label stack entries followed */
#define DEC_MAX_IP6_EXT 16    /* IPv6 extension headers followed */

/* Ethertypes (IEEE 802 numbers). */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100     /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8     /* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-standard QinQ, still seen */
#define ETHERTYPE_MPLS 0x8847     /* RFC 3032 unicast */
#define ETHERTYPE_MPLS_MC 0x8848  /* RFC 5332 multicast */

/* IP protocol / IPv6 next-header numbers (IANA). */
#define IPPROTO_NUM_HOPOPTS 0
#define IPPROTO_NUM_ICMP 1
#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_ROUTING 43
#define IPPROTO_NUM_FRAGMENT 44
#define IPPROTO_NUM_ESP 50
#define IPPROTO_NUM_AH 51
#define IPPROTO_NUM_ICMPV6 58
#define IPPROTO_NUM_NONE 59
#define IPPROTO_NUM_DSTOPTS 60
#define IPPROTO_NUM_MOBILITY 135
#define IPPROTO_NUM_HIP 139
#define IPPROTO_NUM_SHIM6 140

/* BSD address families as written in NULL/LOOP headers (tcpdump's BSD_AFNUM_*): IPv6 has a
 * different number on each BSD, and the capturing system's number is what the file holds. */
#define BSD_AF_INET 2
#define BSD_AF_INET6_BSD 24     /* NetBSD, OpenBSD, BSD/OS */
#define BSD_AF_INET6_FREEBSD 28 /* FreeBSD, DragonFly */
#define BSD_AF_INET6_DARWIN 30  /* macOS, iOS */

#define IP4_HDR_MIN 20
#define IP6_HDR_LEN 40
#define TCP_HDR_MIN 20
#define ICMP_HDR_LEN 8     /* type, code, checksum, 4 bytes of unused/pointer/MTU */
#define QUOTED_TCP_BYTES 8 /* RFC 792: the quote holds at least 64 bits of the datagram */

/* ------------------------------------------------------------------------------------------ */
/* Spans: captured bytes of one layer, and how much more of it was on the wire.              */

/* The captured part of a layer (cur) and the number of its bytes that were on the wire but are
 * not in the capture. Reading from cur does not change `uncaptured`: bytes on the wire from the
 * cursor on are always cur_left() + uncaptured. That sum is what tells a packet cut by the snap
 * length (the bytes existed) from one malformed on the wire (they never did). */
struct dec_span {
    struct dec_cursor cur;
    size_t uncaptured;
};

enum span_need_result {
    NEED_OK,    /* the bytes are captured */
    NEED_CUT,   /* on the wire but cut by the snap length */
    NEED_SHORT, /* not even on the wire: malformed */
};

/* Bytes from the cursor to the end of this layer on the wire. */
static size_t span_wire(const struct dec_span *span)
{
    return cur_left(&span->cur) + span->uncaptured;
}

static enum span_need_result span_need(const struct dec_span *span, size_t n)
{
    if (cur_has(&span->cur, n)) {
        return NEED_OK;
    }
    return span_wire(span) >= n ? NEED_CUT : NEED_SHORT;
}

/* Limits the span to its next len bytes on the wire (len <= span_wire()). This is the clamp to
 * a length field: bytes past it (Ethernet padding, a trailer, an FCS) are never read. */
static void span_clamp(struct dec_span *span, size_t len)
{
    size_t captured = cur_left(&span->cur);

    if (len < captured) {
        captured = len;
    }
    cur_limit(&span->cur, captured);
    span->uncaptured = len - captured;
}

/* ------------------------------------------------------------------------------------------ */
/* Steps: how a link or IP layer hands the packet on.                                         */

/* The layer to parse next, the span then being at its first byte. */
enum layer {
    LAYER_DONE, /* the packet is decided: see step.status */
    LAYER_IP4,
    LAYER_IP6,
    LAYER_TCP,
    LAYER_ICMP4,
    LAYER_ICMP6,
};

/* What a link or IP layer found. The layers return the next one rather than call its parser, so
 * that each parser has a single caller (dec_packet) and the compiler inlines the whole chain:
 * no calls, no stack-protector checks and the span kept in registers, for every packet. That
 * holds only while no function left out of line is given the span's address (or a local's): the
 * one loop kept out of line, walk_ip6_ext, takes and returns values. */
struct step {
    enum layer next;
    enum dec_status status; /* when next is LAYER_DONE */
};

static struct step step_done(enum dec_status status)
{
    struct step step = {LAYER_DONE, status};

    return step;
}

static struct step step_to(enum layer next)
{
    struct step step = {next, DEC_SKIP_NOT_IP}; /* status unused */

    return step;
}

/* ------------------------------------------------------------------------------------------ */
/* Names.                                                                                     */

static const char *const status_names[] = {
    [DEC_OK_TCP] = "ok-tcp",
    [DEC_OK_ICMP] = "ok-icmp",
    [DEC_OK_NEIGH] = "ok-neigh",
    [DEC_SKIP_NOT_IP] = "skip-not-ip",
    [DEC_SKIP_NOT_TCP] = "skip-not-tcp",
    [DEC_SKIP_FRAGMENT] = "skip-fragment",
    [DEC_P_LINK_TRUNCATED] = "link-truncated",
    [DEC_P_LINK_TOO_MANY_TAGS] = "link-too-many-tags",
    [DEC_P_LINK_UNSUPPORTED] = "link-unsupported",
    [DEC_P_IP_BAD_VERSION] = "ip-bad-version",
    [DEC_P_IP4_TRUNCATED] = "ip4-truncated",
    [DEC_P_IP4_BAD_IHL] = "ip4-bad-ihl",
    [DEC_P_IP4_BAD_LENGTH] = "ip4-bad-length",
    [DEC_P_IP6_TRUNCATED] = "ip6-truncated",
    [DEC_P_IP6_BAD_LENGTH] = "ip6-bad-length",
    [DEC_P_IP6_EXT_TRUNCATED] = "ip6-ext-truncated",
    [DEC_P_IP6_EXT_BAD] = "ip6-ext-bad",
    [DEC_P_IP6_EXT_TOO_MANY] = "ip6-ext-too-many",
    [DEC_P_TCP_TRUNCATED] = "tcp-truncated",
    [DEC_P_TCP_SHORT] = "tcp-short",
    [DEC_P_TCP_BAD_OFFSET] = "tcp-bad-offset",
    [DEC_P_ICMP_TRUNCATED] = "icmp-truncated",
    [DEC_P_ICMP_SHORT] = "icmp-short",
    [DEC_P_ICMP_QUOTE_BAD] = "icmp-quote-bad",
};

_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == DEC_P_COUNT,
               "every enum dec_status value needs a name");

const char *dec_status_name(enum dec_status status)
{
    /* Compared as an int: a value cast in from outside the enum must not index the table. */
    int index = (int)status;

    if (index < 0 || index >= (int)DEC_P_COUNT || status_names[index] == NULL) {
        return "unknown";
    }
    return status_names[index];
}

bool dec_link_supported(int linktype)
{
    switch (linktype) {
    case DEC_LINK_NULL:
    case DEC_LINK_EN10MB:
    case DEC_LINK_RAW:
    case DEC_LINK_RAW_OPENBSD:
    case DEC_LINK_RAW_LT:
    case DEC_LINK_LOOP:
    case DEC_LINK_LINUX_SLL:
    case DEC_LINK_IPV4:
    case DEC_LINK_IPV6:
    case DEC_LINK_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

const char *dec_link_name(int linktype, char *buf, size_t buflen)
{
    switch (linktype) {
    case DEC_LINK_NULL:
        return "NULL";
    case DEC_LINK_EN10MB:
        return "EN10MB";
    case DEC_LINK_RAW:
    case DEC_LINK_RAW_OPENBSD:
    case DEC_LINK_RAW_LT:
        return "RAW";
    case DEC_LINK_LOOP:
        return "LOOP";
    case DEC_LINK_LINUX_SLL:
        return "LINUX_SLL";
    case DEC_LINK_IPV4:
        return "IPV4";
    case DEC_LINK_IPV6:
        return "IPV6";
    case DEC_LINK_LINUX_SLL2:
        return "LINUX_SLL2";
    default:
        break;
    }
    if (buf == NULL || buflen == 0) {
        return "DLT ?";
    }
    (void)snprintf(buf, buflen, "DLT %d", linktype);
    return buf;
}

const char *dec_addr_str(const struct dec_addr *addr, int family, char *buf, size_t buflen)
{
    int af = family == 4 ? AF_INET : family == 6 ? AF_INET6 : -1;

    if (buf == NULL || buflen == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (addr == NULL || af < 0 || buflen > (size_t)UINT32_MAX) {
        (void)snprintf(buf, buflen, "?");
        return buf;
    }
    if (af == AF_INET && buflen >= 16) {
        /* dotted quad by hand: reports print millions of them, inet_ntop goes through sprintf */
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            unsigned v = addr->b[i];
            if (v >= 100) {
                buf[n++] = (char)('0' + v / 100);
            }
            if (v >= 10) {
                buf[n++] = (char)('0' + v / 10 % 10);
            }
            buf[n++] = (char)('0' + v % 10);
            buf[n++] = i < 3 ? '.' : '\0';
        }
        return buf;
    }
    if (inet_ntop(af, addr->b, buf, (socklen_t)buflen) == NULL) {
        buf[0] = '\0'; /* buf too small: an empty string, never a partial address */
    }
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* TCP (RFC 9293 3.1) and its options (RFC 9293 3.2, RFC 7323, RFC 2018).                     */

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_SACK 5
#define TCPOPT_TIMESTAMP 8

/* Walks the options area: the `opts` span holds the captured options and, as uncaptured, the
 * rest of the data offset. Problems become notes; the walk always advances and ends at the
 * first one, since a bad length means the following bytes cannot be framed. */
static void parse_tcp_options(struct dec_span *opts, struct dec_event *ev)
{
    struct dec_cursor *cur = &opts->cur;

    if (opts->uncaptured > 0) {
        ev->notes |= DEC_NOTE_OPT_TRUNCATED;
    }
    while (cur_left(cur) > 0) {
        uint8_t kind = cur_u8(cur);
        uint8_t len;
        enum span_need_result need;
        struct dec_hdr data; /* the option's len - 2 bytes after kind and length */

        if (kind == TCPOPT_EOL) {
            return; /* the rest is padding */
        }
        if (kind == TCPOPT_NOP) {
            continue;
        }
        need = span_need(opts, 1);
        if (need != NEED_OK) {
            /* the kind byte ends the captured options: cut, or no room for a length at all */
            ev->notes |= need == NEED_CUT ? DEC_NOTE_OPT_TRUNCATED : DEC_NOTE_OPT_BAD;
            return;
        }
        len = cur_u8(cur);
        if (len < 2) {
            ev->notes |= DEC_NOTE_OPT_BAD; /* a length counts kind and length bytes */
            return;
        }
        need = span_need(opts, (size_t)len - 2);
        if (need != NEED_OK) {
            ev->notes |= need == NEED_CUT ? DEC_NOTE_OPT_TRUNCATED : DEC_NOTE_OPT_BAD;
            return;
        }
        data = cur_hdr(cur, (size_t)len - 2);
        switch (kind) {
        case TCPOPT_MSS:
            if (len != 4) {
                ev->notes |= DEC_NOTE_OPT_BAD;
                return;
            }
            ev->opts.mss = hdr_be16(data, 0);
            ev->opts.present |= DEC_OPT_MSS;
            break;
        case TCPOPT_WSCALE:
            if (len != 3) {
                ev->notes |= DEC_NOTE_OPT_BAD;
                return;
            }
            ev->opts.wscale = hdr_u8(data, 0);
            ev->opts.present |= DEC_OPT_WSCALE;
            break;
        case TCPOPT_SACK_OK:
            if (len != 2) {
                ev->notes |= DEC_NOTE_OPT_BAD;
                return;
            }
            ev->opts.present |= DEC_OPT_SACK_OK;
            break;
        case TCPOPT_SACK:
            /* RFC 2018 3: 2 + 8 bytes per block, at least one block */
            if (len < 10 || (len - 2) % 8 != 0) {
                ev->notes |= DEC_NOTE_OPT_BAD;
                return;
            }
            ev->opts.present |= DEC_OPT_SACK;
            break;
        case TCPOPT_TIMESTAMP:
            if (len != 10) {
                ev->notes |= DEC_NOTE_OPT_BAD;
                return;
            }
            ev->opts.tsval = hdr_be32(data, 0);
            ev->opts.tsecr = hdr_be32(data, 4);
            ev->opts.present |= DEC_OPT_TIMESTAMP;
            break;
        default:
            break; /* unknown kinds are skipped by their length */
        }
    }
}

/* The span holds the IP payload (clamped to the IP length). */
static enum dec_status parse_tcp(struct dec_span *span, struct dec_event *ev)
{
    size_t wire = span_wire(span);
    size_t hdr_len;
    struct dec_hdr tcp;
    struct dec_span opts;

    switch (span_need(span, TCP_HDR_MIN)) {
    case NEED_OK:
        break;
    case NEED_CUT:
        return DEC_P_TCP_TRUNCATED;
    case NEED_SHORT:
        return DEC_P_TCP_SHORT;
    }
    tcp = cur_hdr(&span->cur, TCP_HDR_MIN);
    ev->sport = hdr_be16(tcp, 0);
    ev->dport = hdr_be16(tcp, 2);
    ev->seq = hdr_be32(tcp, 4);
    ev->ack = hdr_be32(tcp, 8);
    hdr_len = (size_t)(hdr_u8(tcp, 12) >> 4) * 4;
    ev->tcp_flags = hdr_u8(tcp, 13); /* the low 8 bits: CWR..FIN; AE/NS is not kept */
    ev->window = hdr_be16(tcp, 14);
    /* 16: checksum, urgent pointer */

    if (hdr_len < TCP_HDR_MIN || hdr_len > wire) {
        return DEC_P_TCP_BAD_OFFSET;
    }
    /* From lengths on the wire: a capture cut after the header still counts the payload. */
    ev->payload_len = wire - hdr_len > UINT32_MAX ? UINT32_MAX : (uint32_t)(wire - hdr_len);

    opts = *span;
    span_clamp(&opts, hdr_len - TCP_HDR_MIN);
    parse_tcp_options(&opts, ev);

    ev->kind = DEC_EV_TCP;
    return DEC_OK_TCP;
}

/* ------------------------------------------------------------------------------------------ */
/* ICMP and ICMPv6 errors: the quoted packet (RFC 792, RFC 1812 4.3.2.3, RFC 4443 2.4).       */

/* The quote of a problem: cut by the snap length, or too short on the wire. */
static enum dec_status quote_short(enum span_need_result need)
{
    return need == NEED_CUT ? DEC_P_ICMP_TRUNCATED : DEC_P_ICMP_SHORT;
}

/* The first 8 bytes of the quoted TCP header: ports and sequence number. `inline`, like the
 * other parsers with two callers: one left out of line would take the span's address, which
 * keeps the span in memory and adds a stack-protector check to dec_packet (see struct step). */
static inline enum dec_status parse_quoted_tcp(struct dec_span *quote, struct dec_event *ev)
{
    enum span_need_result need = span_need(quote, QUOTED_TCP_BYTES);
    struct dec_hdr tcp;

    if (need != NEED_OK) {
        return quote_short(need);
    }
    tcp = cur_hdr(&quote->cur, QUOTED_TCP_BYTES);
    ev->quoted_sport = hdr_be16(tcp, 0);
    ev->quoted_dport = hdr_be16(tcp, 2);
    ev->quoted_seq = hdr_be32(tcp, 4);
    ev->tcp_flags = 0;
    ev->kind = DEC_EV_ICMP;
    return DEC_OK_ICMP;
}

/* Reads the ICMP/ICMPv6 header. Returns DEC_OK_ICMP to go on to the quote. (inline: see
 * parse_quoted_tcp) */
static inline enum dec_status parse_icmp_header(struct dec_span *span, struct dec_event *ev,
                                                uint8_t unreach_type, uint8_t exceeded_type)
{
    enum span_need_result need = span_need(span, 1);

    if (need != NEED_OK) {
        return quote_short(need);
    }
    /* The type first: an echo or a neighbour solicitation is not ours, short or not. */
    ev->icmp_type = cur_peek_u8(&span->cur);
    if (ev->icmp_type != unreach_type && ev->icmp_type != exceeded_type) {
        return DEC_SKIP_NOT_TCP;
    }
    need = span_need(span, ICMP_HDR_LEN);
    if (need != NEED_OK) {
        return quote_short(need);
    }
    /* type, code, checksum, then unused / length / MTU */
    ev->icmp_code = hdr_u8(cur_hdr(&span->cur, ICMP_HDR_LEN), 1);
    return DEC_OK_ICMP;
}

/* ICMP destination unreachable (3) or time exceeded (11) quoting an IPv4 TCP packet. The quoted
 * header's own IHL frames it; its total length describes the original packet, of which only the
 * start is quoted, so it is not checked against what is here. */
static enum dec_status parse_icmp4(struct dec_span *span, struct dec_event *ev)
{
    struct dec_cursor *cur = &span->cur;
    enum dec_status status = parse_icmp_header(span, ev, 3, 11);
    enum span_need_result need;
    uint8_t first;
    size_t ihl;
    struct dec_hdr ip;
    uint16_t frag;
    uint8_t proto;

    if (status != DEC_OK_ICMP) {
        return status;
    }
    need = span_need(span, 1);
    if (need != NEED_OK) {
        return quote_short(need);
    }
    first = cur_peek_u8(cur);
    ihl = (size_t)(first & 0x0f) * 4;
    if ((first >> 4) != 4 || ihl < IP4_HDR_MIN) {
        return DEC_P_ICMP_QUOTE_BAD;
    }
    need = span_need(span, ihl);
    if (need != NEED_OK) {
        return quote_short(need);
    }
    ip = cur_hdr(cur, IP4_HDR_MIN);
    frag = hdr_be16(ip, 6);
    proto = hdr_u8(ip, 9);
    hdr_bytes(ip, 12, ev->quoted_src.b, 4);
    hdr_bytes(ip, 16, ev->quoted_dst.b, 4);
    (void)cur_skip(cur, ihl - IP4_HDR_MIN); /* inner options */
    if (proto != IPPROTO_NUM_TCP) {
        return DEC_SKIP_NOT_TCP;
    }
    if ((frag & 0x1fff) != 0) {
        return DEC_SKIP_FRAGMENT; /* a later fragment quoted: its first bytes are not TCP's */
    }
    ev->quoted_family = 4;
    return parse_quoted_tcp(span, ev);
}

/* ------------------------------------------------------------------------------------------ */
/* IPv6 extension headers (RFC 8200 4, RFC 4302 for AH).                                      */

enum ext_result {
    EXT_DONE,     /* next is an upper-layer protocol, len bytes on */
    EXT_CUT,      /* an extension header cut by the snap length */
    EXT_SHORT,    /* an extension header longer than the payload on the wire */
    EXT_TOO_MANY, /* more than DEC_MAX_IP6_EXT headers */
    EXT_FRAGMENT, /* a fragment other than the first */
    EXT_NOT_TCP,  /* No Next Header, or ESP: nothing we can read follows */
};

/* Where a walk over the extension headers ended. */
struct ext_walk {
    enum ext_result result;
    uint8_t next;  /* the header that stopped the walk: on EXT_DONE, the upper layer */
    uint8_t count; /* extension headers walked (at most DEC_MAX_IP6_EXT) */
    size_t len;    /* their bytes, all captured: the caller skips them on EXT_DONE */
};

/* Walks the extension headers from the start of `from`, next being the first one's number.
 * The walk (a loop, which the compiler keeps out of line) takes the span by value and returns
 * by value: the address of the caller's span, or of any of its locals, would keep the span in
 * memory and add a stack-protector check to dec_packet, for every packet of every kind. */
static struct ext_walk walk_ip6_ext(struct dec_span from, uint8_t next)
{
    struct dec_span *span = &from;
    struct dec_cursor *cur = &span->cur;
    struct ext_walk walk = {EXT_DONE, next, 0, 0};

    for (;;) {
        enum span_need_result need;
        struct dec_cursor look; /* reads ahead; cur moves only past a whole header */
        uint8_t following;
        size_t len;

        switch (walk.next) {
        case IPPROTO_NUM_HOPOPTS:
        case IPPROTO_NUM_ROUTING:
        case IPPROTO_NUM_FRAGMENT:
        case IPPROTO_NUM_AH:
        case IPPROTO_NUM_DSTOPTS:
        case IPPROTO_NUM_MOBILITY:
        case IPPROTO_NUM_HIP:
        case IPPROTO_NUM_SHIM6:
            break;
        case IPPROTO_NUM_NONE:
        case IPPROTO_NUM_ESP: /* encrypted: the TCP header, if any, is not readable */
            walk.result = EXT_NOT_TCP;
            return walk;
        default:
            return walk; /* EXT_DONE */
        }
        if (walk.count >= DEC_MAX_IP6_EXT) {
            walk.result = EXT_TOO_MANY;
            return walk;
        }
        walk.count++;
        need = span_need(span, 2);
        if (need != NEED_OK) {
            walk.result = need == NEED_CUT ? EXT_CUT : EXT_SHORT;
            return walk;
        }
        look = *cur;
        following = cur_u8(&look);
        len = cur_u8(&look);
        if (walk.next == IPPROTO_NUM_FRAGMENT) {
            len = 8; /* fixed size; its second byte is reserved (RFC 8200 4.5) */
        } else if (walk.next == IPPROTO_NUM_AH) {
            len = (len + 2) * 4; /* RFC 4302 2.2: in 4-byte units, minus 2 */
        } else {
            len = (len + 1) * 8; /* in 8-byte units, not counting the first 8 */
        }
        need = span_need(span, len);
        if (need != NEED_OK) {
            walk.result = need == NEED_CUT ? EXT_CUT : EXT_SHORT;
            return walk;
        }
        /* fragment offset (13 bits) above 3 flag bits: only offset 0 holds the TCP header */
        if (walk.next == IPPROTO_NUM_FRAGMENT && (cur_be16(&look) >> 3) != 0) {
            walk.result = EXT_FRAGMENT;
            return walk;
        }
        (void)cur_skip(cur, len);
        walk.len += len;
        walk.next = following;
    }
}

/* ICMPv6 neighbour solicitation (135) or advertisement (136), RFC 4861 4.3/4.4: 4 bytes of
 * reserved/flags, then the target address. */
static enum dec_status parse_nd(struct dec_span *span, struct dec_event *ev, uint8_t type)
{
    struct dec_cursor *cur = &span->cur;
    enum span_need_result need = span_need(span, 4 + 4 + 16);
    if (need != NEED_OK) {
        return need == NEED_CUT ? DEC_P_ICMP_TRUNCATED : DEC_SKIP_NOT_TCP;
    }
    (void)cur_skip(cur, 8); /* type, code, checksum, reserved/flags */
    (void)cur_bytes(cur, ev->neigh_target.b, 16);
    ev->neigh_op = type == 135 ? DEC_NEIGH_REQUEST : DEC_NEIGH_REPLY;
    ev->kind = DEC_EV_NEIGH;
    return DEC_OK_NEIGH;
}

/* ICMPv6 destination unreachable (1) or time exceeded (3) quoting an IPv6 TCP packet. */
static enum dec_status parse_icmp6(struct dec_span *span, struct dec_event *ev)
{
    if (cur_has(&span->cur, 1)) {
        uint8_t type = cur_peek_u8(&span->cur);
        if (type == 135 || type == 136) {
            return parse_nd(span, ev, type);
        }
    }
    struct dec_cursor *cur = &span->cur;
    enum dec_status status = parse_icmp_header(span, ev, 1, 3);
    enum span_need_result need;
    struct dec_hdr ip6;
    struct ext_walk walk;

    if (status != DEC_OK_ICMP) {
        return status;
    }
    need = span_need(span, 1);
    if (need != NEED_OK) {
        return quote_short(need);
    }
    if ((cur_peek_u8(cur) >> 4) != 6) {
        return DEC_P_ICMP_QUOTE_BAD;
    }
    need = span_need(span, IP6_HDR_LEN);
    if (need != NEED_OK) {
        return quote_short(need);
    }
    ip6 = cur_hdr(cur, IP6_HDR_LEN);
    walk = walk_ip6_ext(*span, hdr_u8(ip6, 6));
    hdr_bytes(ip6, 8, ev->quoted_src.b, 16);
    hdr_bytes(ip6, 24, ev->quoted_dst.b, 16);
    switch (walk.result) {
    case EXT_DONE:
        break;
    case EXT_CUT:
        return DEC_P_ICMP_TRUNCATED;
    case EXT_SHORT:
        return DEC_P_ICMP_SHORT;
    case EXT_TOO_MANY:
        return DEC_P_ICMP_QUOTE_BAD;
    case EXT_FRAGMENT:
        return DEC_SKIP_FRAGMENT;
    case EXT_NOT_TCP:
        return DEC_SKIP_NOT_TCP;
    }
    (void)cur_skip(cur, walk.len); /* the walk checked they are captured */
    if (walk.next != IPPROTO_NUM_TCP) {
        return DEC_SKIP_NOT_TCP;
    }
    ev->quoted_family = 6;
    return parse_quoted_tcp(span, ev);
}

/* ------------------------------------------------------------------------------------------ */
/* IPv4 (RFC 791) and IPv6 (RFC 8200).                                                        */

static struct step parse_ip4(struct dec_span *span, struct dec_event *ev)
{
    struct dec_cursor *cur = &span->cur;
    enum span_need_result need = span_need(span, 1);
    uint8_t first;
    size_t hdr_len, total_len;
    struct dec_hdr ip;
    uint16_t frag;
    uint8_t proto;

    if (need != NEED_OK) {
        return step_done(need == NEED_CUT ? DEC_P_IP4_TRUNCATED : DEC_P_IP4_BAD_LENGTH);
    }
    first = cur_peek_u8(cur);
    if ((first >> 4) != 4) {
        return step_done(DEC_P_IP_BAD_VERSION);
    }
    hdr_len = (size_t)(first & 0x0f) * 4;
    if (hdr_len < IP4_HDR_MIN) {
        return step_done(DEC_P_IP4_BAD_IHL);
    }
    need = span_need(span, IP4_HDR_MIN);
    if (need != NEED_OK) {
        return step_done(need == NEED_CUT ? DEC_P_IP4_TRUNCATED : DEC_P_IP4_BAD_LENGTH);
    }
    ip = cur_hdr(cur, IP4_HDR_MIN);
    total_len = hdr_be16(ip, 2);
    ev->ip_id = hdr_be16(ip, 4);
    ev->has_ip_id = 1;
    frag = hdr_be16(ip, 6);
    ev->ttl = hdr_u8(ip, 8);
    proto = hdr_u8(ip, 9);
    /* 10: checksum, not verified: offloading often leaves it unset */
    hdr_bytes(ip, 12, ev->src.b, 4);
    hdr_bytes(ip, 16, ev->dst.b, 4);
    ev->family = 4;

    /* Total length 0 is what Linux writes for IPv4 BIG TCP (GSO packets over 64 KiB, captured
     * before segmentation), and what some TSO setups show; like tcpdump, take the packet to
     * run to the end of the frame rather than call it malformed. */
    if (total_len == 0) {
        total_len = span_wire(span) + IP4_HDR_MIN;
    }
    if (total_len < hdr_len || total_len - IP4_HDR_MIN > span_wire(span)) {
        return step_done(DEC_P_IP4_BAD_LENGTH);
    }
    if ((frag & 0x1fff) != 0) {
        return step_done(DEC_SKIP_FRAGMENT); /* RFC 791: only offset 0 carries the TCP header */
    }
    if (hdr_len > IP4_HDR_MIN) {
        ev->notes |= DEC_NOTE_IP4_OPTIONS;
        if (!cur_skip(cur, hdr_len - IP4_HDR_MIN)) {
            return step_done(
                DEC_P_IP4_TRUNCATED); /* on the wire: total_len >= hdr_len was checked */
        }
    }
    span_clamp(span, total_len - hdr_len);

    switch (proto) {
    case IPPROTO_NUM_TCP:
        return step_to(LAYER_TCP);
    case IPPROTO_NUM_ICMP:
        return step_to(LAYER_ICMP4);
    default:
        return step_done(DEC_SKIP_NOT_TCP);
    }
}

static struct step parse_ip6(struct dec_span *span, struct dec_event *ev)
{
    struct dec_cursor *cur = &span->cur;
    enum span_need_result need = span_need(span, 1);
    size_t payload_len;
    struct dec_hdr ip6;
    uint8_t next;
    struct ext_walk walk;

    if (need != NEED_OK) {
        return step_done(need == NEED_CUT ? DEC_P_IP6_TRUNCATED : DEC_P_IP6_BAD_LENGTH);
    }
    if ((cur_peek_u8(cur) >> 4) != 6) {
        return step_done(DEC_P_IP_BAD_VERSION);
    }
    need = span_need(span, IP6_HDR_LEN);
    if (need != NEED_OK) {
        return step_done(need == NEED_CUT ? DEC_P_IP6_TRUNCATED : DEC_P_IP6_BAD_LENGTH);
    }
    ip6 = cur_hdr(cur, IP6_HDR_LEN); /* 0: version, traffic class, flow label */
    payload_len = hdr_be16(ip6, 4);
    next = hdr_u8(ip6, 6);
    ev->ttl = hdr_u8(ip6, 7);
    hdr_bytes(ip6, 8, ev->src.b, 16);
    hdr_bytes(ip6, 24, ev->dst.b, 16);
    ev->family = 6;
    ev->has_ip_id = 0;

    /* 0: a jumbogram (RFC 2675, length in a hop-by-hop option) or a Linux BIG TCP / GSO
     * packet captured before segmentation; either way the packet runs to the end of the frame. */
    if (payload_len == 0) {
        payload_len = span_wire(span);
    }
    if (payload_len > span_wire(span)) {
        return step_done(DEC_P_IP6_BAD_LENGTH);
    }
    span_clamp(span, payload_len);

    walk = walk_ip6_ext(*span, next);
    switch (walk.result) {
    case EXT_DONE:
        break;
    case EXT_CUT:
        return step_done(DEC_P_IP6_EXT_TRUNCATED);
    case EXT_SHORT:
        return step_done(DEC_P_IP6_EXT_BAD);
    case EXT_TOO_MANY:
        return step_done(DEC_P_IP6_EXT_TOO_MANY);
    case EXT_FRAGMENT:
        return step_done(DEC_SKIP_FRAGMENT);
    case EXT_NOT_TCP:
        return step_done(DEC_SKIP_NOT_TCP);
    }
    (void)cur_skip(cur, walk.len); /* the walk checked they are captured */
    if (walk.count > 0) {
        ev->notes |= DEC_NOTE_IP6_EXT;
    }
    switch (walk.next) {
    case IPPROTO_NUM_TCP:
        return step_to(LAYER_TCP);
    case IPPROTO_NUM_ICMPV6:
        return step_to(LAYER_ICMP6);
    default:
        return step_done(DEC_SKIP_NOT_TCP);
    }
}

/* The IP version nibble decides (raw links, and after an MPLS label stack). `other` is what
 * a nibble that is neither 4 nor 6 means for the caller. (inline: see parse_quoted_tcp) */
static inline struct step parse_ip_any(struct dec_span *span, enum dec_status other)
{
    if (!cur_has(&span->cur, 1)) {
        return step_done(DEC_P_LINK_TRUNCATED); /* not a byte to tell the version by */
    }
    switch (cur_peek_u8(&span->cur) >> 4) {
    case 4:
        return step_to(LAYER_IP4);
    case 6:
        return step_to(LAYER_IP6);
    default:
        return step_done(other);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Link layers.                                                                               */

/* MPLS label stack entries (RFC 3032 2.1: label 20 bits, TC 3, bottom of stack 1, TTL 8) up to
 * the one with the bottom-of-stack bit. The stack does not say what it carries: guess from the
 * version nibble, as tcpdump does. Anything else (a pseudowire control word, an Ethernet frame)
 * is not IP to us. */
static struct step parse_mpls(struct dec_span *span)
{
    unsigned labels = 0;

    for (;;) {
        uint32_t entry;

        if (labels >= DEC_MAX_MPLS_LABELS) {
            return step_done(DEC_P_LINK_TOO_MANY_TAGS);
        }
        labels++;
        if (!cur_has(&span->cur, 4)) {
            return step_done(DEC_P_LINK_TRUNCATED);
        }
        entry = cur_be32(&span->cur);
        if ((entry & 0x100) != 0) {
            break;
        }
    }
    return parse_ip_any(span, DEC_SKIP_NOT_IP);
}

/* ARP (RFC 826) for IPv4: hardware type, protocol type 0x0800, lengths, operation, then the
 * sender's and the target's hardware and protocol addresses. Anything else is not ours. */
static enum dec_status parse_arp(struct dec_span *span, struct dec_event *ev)
{
    struct dec_cursor *cur = &span->cur;
    enum span_need_result need = span_need(span, 8);
    if (need != NEED_OK) {
        return need == NEED_CUT ? DEC_P_LINK_TRUNCATED : DEC_SKIP_NOT_IP;
    }
    struct dec_hdr arp = cur_hdr(cur, 8); /* 0: hardware type */
    uint16_t ptype = hdr_be16(arp, 2);
    uint8_t hlen = hdr_u8(arp, 4);
    uint8_t plen = hdr_u8(arp, 5);
    uint16_t op = hdr_be16(arp, 6);
    if (ptype != ETHERTYPE_IPV4 || plen != 4 || (op != 1 && op != 2)) {
        return DEC_SKIP_NOT_IP;
    }
    need = span_need(span, 2 * (size_t)hlen + 8);
    if (need != NEED_OK) {
        return need == NEED_CUT ? DEC_P_LINK_TRUNCATED : DEC_SKIP_NOT_IP;
    }
    (void)cur_skip(cur, hlen);
    (void)cur_bytes(cur, ev->src.b, 4);
    (void)cur_skip(cur, hlen);
    (void)cur_bytes(cur, ev->neigh_target.b, 4);
    ev->family = 4;
    ev->neigh_op = op == 1 ? DEC_NEIGH_REQUEST : DEC_NEIGH_REPLY;
    ev->kind = DEC_EV_NEIGH;
    return DEC_OK_NEIGH;
}

/* Follows VLAN tags (IEEE 802.1Q, 802.1ad, and the older 0x9100 QinQ) then dispatches on the
 * ethertype. Shared by Ethernet and the cooked captures, which may keep a tag in the payload. */
static struct step parse_ethertype(struct dec_span *span, uint16_t ethertype, struct dec_event *ev)
{
    unsigned tags = 0;

    /* One switch for the tags and the payloads: a tagged frame is rare, and testing for a tag
     * before dispatching would cost every untagged one the comparisons. IPv4, most frames, is
     * tested before it: the switch compiles to a tree of comparisons. */
    for (;;) {
        struct dec_hdr tag;

        if (ethertype == ETHERTYPE_IPV4) {
            return step_to(LAYER_IP4);
        }
        switch (ethertype) {
        case ETHERTYPE_IPV6:
            return step_to(LAYER_IP6);
        case ETHERTYPE_ARP:
            return step_done(parse_arp(span, ev));
        case ETHERTYPE_MPLS:
        case ETHERTYPE_MPLS_MC:
            return parse_mpls(span);
        case ETHERTYPE_VLAN:
        case ETHERTYPE_QINQ:
        case ETHERTYPE_QINQ_OLD:
            break; /* a tag: follow it below */
        default:
            return step_done(DEC_SKIP_NOT_IP); /* LLDP, 802.3 length field, ... */
        }
        if (tags >= DEC_MAX_VLAN_TAGS) {
            return step_done(DEC_P_LINK_TOO_MANY_TAGS);
        }
        tags++;
        tag = cur_hdr(&span->cur, 4); /* 0: priority, DEI, VLAN id */
        if (!tag.ok) {
            return step_done(DEC_P_LINK_TRUNCATED);
        }
        ev->notes |= DEC_NOTE_VLAN;
        ethertype = hdr_be16(tag, 2);
    }
}

/* NULL and LOOP: a 4-byte BSD address family. */
static struct step parse_bsd_af(struct dec_span *span, bool any_order)
{
    struct dec_cursor look = span->cur;
    uint32_t be, le;

    if (!cur_has(&span->cur, 4)) {
        return step_done(DEC_P_LINK_TRUNCATED);
    }
    be = cur_be32(&look);
    le = cur_le32(&span->cur);
    /* NULL is in the byte order of the machine that captured, which the file does not record:
     * the values are small, so each is recognised in either order without ambiguity. LOOP is
     * always in network order. */
    if (!any_order) {
        le = be;
    }
    if (be == BSD_AF_INET || le == BSD_AF_INET) {
        return step_to(LAYER_IP4);
    }
    if (be == BSD_AF_INET6_BSD || be == BSD_AF_INET6_FREEBSD || be == BSD_AF_INET6_DARWIN ||
        le == BSD_AF_INET6_BSD || le == BSD_AF_INET6_FREEBSD || le == BSD_AF_INET6_DARWIN) {
        return step_to(LAYER_IP6);
    }
    return step_done(DEC_SKIP_NOT_IP);
}

/* The link header, up to the network layer. */
static struct step parse_link(struct dec_span *span, int linktype, struct dec_event *ev)
{
    size_t hdr_len, type_at; /* Ethernet and cooked headers: length, offset of the ethertype */
    struct dec_hdr link;

    /* Ethernet is tested first, outside the switch: it is nearly every capture, and the switch
     * over these sparse DLT numbers compiles to a tree of comparisons. */
    if (linktype == DEC_LINK_EN10MB) {
        /* destination, source, ethertype (IEEE 802.3 3.1.1) */
        hdr_len = 14;
        type_at = 12;
    } else {
        switch (linktype) {
        case DEC_LINK_LINUX_SLL:
            /* packet type, ARPHRD type, address length, 8 address bytes, protocol */
            hdr_len = 16;
            type_at = 14;
            break;
        case DEC_LINK_LINUX_SLL2:
            /* protocol, reserved, interface index, ARPHRD type, packet type, address length,
             * 8 address bytes */
            hdr_len = 20;
            type_at = 0;
            break;
        case DEC_LINK_NULL: /* in the capturing host's byte order */
        case DEC_LINK_LOOP: /* in network byte order */
            return parse_bsd_af(span, linktype == DEC_LINK_NULL);
        case DEC_LINK_RAW:
        case DEC_LINK_RAW_LT:
        case DEC_LINK_RAW_OPENBSD:
            return parse_ip_any(span, DEC_P_IP_BAD_VERSION);
        case DEC_LINK_IPV4:
            return step_to(LAYER_IP4);
        case DEC_LINK_IPV6:
            return step_to(LAYER_IP6);
        default:
            return step_done(DEC_P_LINK_UNSUPPORTED);
        }
    }
    link = cur_hdr(&span->cur, hdr_len);
    if (!link.ok) {
        return step_done(DEC_P_LINK_TRUNCATED);
    }
    return parse_ethertype(span, hdr_be16(link, type_at), ev);
}

/* dec_packet without an event: still decode, the status alone is worth counting. The scratch
 * event is here, out of line, rather than in dec_packet, where it would add a stack-protector
 * check (-fstack-protector-strong guards every function with a local array) to every packet. */
static enum dec_status dec_packet_no_event(const uint8_t *bytes, size_t caplen, size_t wirelen,
                                           int linktype) __attribute__((noinline));

enum dec_status dec_packet(const uint8_t *bytes, size_t caplen, size_t wirelen, int linktype,
                           struct dec_event *ev)
{
    struct dec_span span;
    struct step step;

    if (ev == NULL) {
        return dec_packet_no_event(bytes, caplen, wirelen, linktype);
    }
    /* padding too: equal packets give byte-identical events. Two memsets, because gcc makes
     * one memset of this size a rep stos (slow to start, once per packet) but these a few
     * 16-byte stores of a zeroed register */
    memset(ev, 0, 64);
    memset((uint8_t *)ev + 64, 0, sizeof(*ev) - 64);
    if (bytes == NULL) {
        caplen = 0;
    }
    if (wirelen < caplen) {
        wirelen = caplen; /* a reader's inconsistency: what was captured was on the wire */
    }
    cur_init(&span.cur, bytes, caplen);
    span.uncaptured = wirelen - caplen;

    step = parse_link(&span, linktype, ev);
    if (step.next == LAYER_IP4) {
        step = parse_ip4(&span, ev);
    } else if (step.next == LAYER_IP6) {
        step = parse_ip6(&span, ev);
    }
    switch (step.next) {
    case LAYER_TCP:
        return parse_tcp(&span, ev);
    case LAYER_ICMP4:
        return parse_icmp4(&span, ev);
    case LAYER_ICMP6:
        return parse_icmp6(&span, ev);
    case LAYER_IP4:
    case LAYER_IP6: /* not from an IP layer: none carries IP in IP */
    case LAYER_DONE:
        break;
    }
    return step.status;
}

static enum dec_status dec_packet_no_event(const uint8_t *bytes, size_t caplen, size_t wirelen,
                                           int linktype)
{
    struct dec_event scratch;

    return dec_packet(bytes, caplen, wirelen, linktype, &scratch);
}
