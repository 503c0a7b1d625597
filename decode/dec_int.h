/* dec_int.h - decode/'s private header: what the parser's files share (spans, steps, the
 * protocol numbers) and the layer parsers that dec_packet (dec_parse.c) chains. */
#ifndef SYNSCOPE_DEC_INT_H
#define SYNSCOPE_DEC_INT_H

#include "dec_cursor.h"
#include "decode.h"

/* Bounds on the work spent on one packet: a crafted frame cannot make us loop for long. */
#define DEC_MAX_VLAN_TAGS 8   /* 802.1Q/802.1ad tags followed */
#define DEC_MAX_MPLS_LABELS 8 /* MPLS label stack entries followed */
#define DEC_MAX_IP6_EXT 16    /* IPv6 extension headers followed */

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

#define IP4_HDR_MIN 20
#define IP6_HDR_LEN 40

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
static inline size_t span_wire(const struct dec_span *span)
{
    return cur_left(&span->cur) + span->uncaptured;
}

static inline enum span_need_result span_need(const struct dec_span *span, size_t n)
{
    if (cur_has(&span->cur, n)) {
        return NEED_OK;
    }
    return span_wire(span) >= n ? NEED_CUT : NEED_SHORT;
}

/* Limits the span to its next len bytes on the wire (len <= span_wire()). This is the clamp to
 * a length field: bytes past it (Ethernet padding, a trailer, an FCS) are never read. */
static inline void span_clamp(struct dec_span *span, size_t len)
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
 * that each parser has a single caller (dec_packet) and the compiler inlines the whole chain,
 * across decode/'s files with link-time optimisation (gcc's release builds): no calls, no
 * stack-protector checks and the span kept in registers, for every packet. That holds only
 * while no function left out of line is given the span's address (or a local's): the one loop
 * kept out of line, dec_walk_ip6_ext, takes and returns values. */
struct step {
    enum layer next;
    enum dec_status status; /* when next is LAYER_DONE */
};

static inline struct step step_done(enum dec_status status)
{
    struct step step = {LAYER_DONE, status};

    return step;
}

static inline struct step step_to(enum layer next)
{
    struct step step = {next, DEC_SKIP_NOT_IP}; /* status unused */

    return step;
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

/* Walks the extension headers from the start of `from`, next being the first one's number
 * (dec_ip.c; IPv6 and the packet an ICMPv6 error quotes). */
struct ext_walk dec_walk_ip6_ext(struct dec_span from, uint8_t next);

/* ------------------------------------------------------------------------------------------ */
/* The layers' parsers, chained by dec_packet (dec_parse.c).                                  */

/* IPv4 (RFC 791) and IPv6 (RFC 8200, its extension headers skipped), dec_ip.c: the span is
 * clamped to the IP payload; the step names the transport layer, or the status. */
struct step dec_parse_ip4(struct dec_span *span, struct dec_event *ev);
struct step dec_parse_ip6(struct dec_span *span, struct dec_event *ev);

/* TCP and its options, dec_tcp.c: the span holds the IP payload. */
enum dec_status dec_parse_tcp(struct dec_span *span, struct dec_event *ev);

/* ICMP and ICMPv6 errors quoting a TCP packet, and ICMPv6 neighbour discovery, dec_icmp.c: the
 * span holds the IP payload. */
enum dec_status dec_parse_icmp4(struct dec_span *span, struct dec_event *ev);
enum dec_status dec_parse_icmp6(struct dec_span *span, struct dec_event *ev);

#endif
