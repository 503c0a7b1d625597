/* dec_ip.c - IPv4 (RFC 791), IPv6 (RFC 8200) and IPv6's extension headers (RFC 8200 4; AH:
 * RFC 4302). */
#include "dec_int.h"

/* Walks the extension headers from the start of `from`, next being the first one's number.
 * The walk (a loop, which the compiler keeps out of line) takes the span by value and returns
 * by value: the address of the caller's span, or of any of its locals, would keep the span in
 * memory and add a stack-protector check to dec_packet, for every packet of every kind. */
struct ext_walk dec_walk_ip6_ext(struct dec_span from, uint8_t next)
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

struct step dec_parse_ip4(struct dec_span *span, struct dec_event *ev)
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

struct step dec_parse_ip6(struct dec_span *span, struct dec_event *ev)
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

    walk = dec_walk_ip6_ext(*span, next);
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
