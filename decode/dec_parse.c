/* dec_parse.c - raw frames to handshake events: dec_packet, which chains the layers' parsers
 * (dec_int.h: IPv4 and IPv6 in dec_ip.c, TCP in dec_tcp.c, ICMP errors in dec_icmp.c), and the
 * link layers (Ethernet and its tags, Linux cooked, BSD loopback, raw IP, MPLS, ARP). */
#include "dec_int.h"

/* Ethertypes (IEEE 802 numbers). */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100     /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8     /* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-standard QinQ, still seen */
#define ETHERTYPE_MPLS 0x8847     /* RFC 3032 unicast */
#define ETHERTYPE_MPLS_MC 0x8848  /* RFC 5332 multicast */

/* BSD address families as written in NULL/LOOP headers (tcpdump's BSD_AFNUM_*): IPv6 has a
 * different number on each BSD, and the capturing system's number is what the file holds. */
#define BSD_AF_INET 2
#define BSD_AF_INET6_BSD 24     /* NetBSD, OpenBSD, BSD/OS */
#define BSD_AF_INET6_FREEBSD 28 /* FreeBSD, DragonFly */
#define BSD_AF_INET6_DARWIN 30  /* macOS, iOS */

/* ------------------------------------------------------------------------------------------ */
/* Link layers.                                                                               */

/* The IP version nibble decides (raw links, and after an MPLS label stack). `other` is what
 * a nibble that is neither 4 nor 6 means for the caller. `inline`, as it has two callers: one
 * left out of line would take the span's address (see struct step in dec_int.h). */
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
        step = dec_parse_ip4(&span, ev);
    } else if (step.next == LAYER_IP6) {
        step = dec_parse_ip6(&span, ev);
    }
    switch (step.next) {
    case LAYER_TCP:
        return dec_parse_tcp(&span, ev);
    case LAYER_ICMP4:
        return dec_parse_icmp4(&span, ev);
    case LAYER_ICMP6:
        return dec_parse_icmp6(&span, ev);
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
