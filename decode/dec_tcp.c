/* dec_tcp.c - the TCP header (RFC 9293 3.1) and its options (RFC 9293 3.2, RFC 7323,
 * RFC 2018). */
#include "dec_int.h"

#define TCP_HDR_MIN 20

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
enum dec_status dec_parse_tcp(struct dec_span *span, struct dec_event *ev)
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
