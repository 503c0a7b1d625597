/* dec_icmp.c - ICMP and ICMPv6 errors and the TCP packet they quote (RFC 792, RFC 1812 4.3.2.3,
 * RFC 4443 2.4), and ICMPv6 neighbour discovery (RFC 4861). */
#include "dec_int.h"

#define ICMP_HDR_LEN 8     /* type, code, checksum, 4 bytes of unused/pointer/MTU */
#define QUOTED_TCP_BYTES 8 /* RFC 792: the quote holds at least 64 bits of the datagram */

/* The quote of a problem: cut by the snap length, or too short on the wire. */
static enum dec_status quote_short(enum span_need_result need)
{
    return need == NEED_CUT ? DEC_P_ICMP_TRUNCATED : DEC_P_ICMP_SHORT;
}

/* The first 8 bytes of the quoted TCP header: ports and sequence number. `inline`, like the
 * other parsers with two callers: one left out of line would take the span's address, which
 * keeps the span in memory and adds a stack-protector check to dec_packet (see struct step,
 * dec_int.h). */
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
enum dec_status dec_parse_icmp4(struct dec_span *span, struct dec_event *ev)
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
enum dec_status dec_parse_icmp6(struct dec_span *span, struct dec_event *ev)
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
    walk = dec_walk_ip6_ext(*span, hdr_u8(ip6, 6));
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
