/* flow_attempt.c - the flow engine's state machine: what each TCP segment, ICMP error and
 * deadline means for its attempt (enum node_state), and the facts it records. Only facts:
 * report/ decides what they mean. */
#include "flows_int.h"

/* ---- deadlines -------------------------------------------------------------------------- */

/* Live capture (DESIGN "Time": provisional, then final): a refusal or an ICMP error is
 * announced as soon as it arrives (the record itself lingers to collect retransmissions); an
 * accepted attempt once it is still open after the grace period, so that a reset right after
 * the handshake is reported as such. Each attempt is announced at most once. */
static int64_t provisional_time(const struct flow_table *t, const struct flow_node *n)
{
    if (t->provisional == NULL || n->cold == NIL) {
        return INT64_MAX;
    }
    const struct flow_attempt *a = &cold_at(t, n->cold)->a;
    if (a->announced != FLOW_ANS_NONE || !a->saw_syn) {
        return INT64_MAX;
    }
    if (n->state == ST_ANSWERED && (a->answer == FLOW_ANS_RST || a->answer == FLOW_ANS_ICMP)) {
        return a->reply.ts_ns;
    }
    if (a->answer == FLOW_ANS_SYNACK && (n->state == ST_SYNACK || n->state == ST_ESTABLISHED)) {
        return a->reply.ts_ns + t->grace_ns;
    }
    return INT64_MAX;
}

static bool provisional_due(const struct flow_table *t, const struct flow_node *n, int64_t now)
{
    return provisional_time(t, n) <= now;
}

/* Deadline after the latest packet: RFC 6298 backoff doubles the retransmission gap, so the
 * next retry is expected about twice the last gap later (we allow 2.5x); never less than the
 * SYN timeout. Before any retry is seen the gap is unknown: Windows and older Linux wait 3 s
 * (RFC 1122's initial RTO) before the first retry, plus timer slack, so the first wait is
 * 1.5x the SYN timeout; otherwise one connect() would be cut in two attempts. */
static void rearm(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    const struct flow_cold *c = n->cold != NIL ? cold_at(t, n->cold) : NULL;
    int64_t wait = t->cfg.syn_timeout_ns;
    if (n->state == ST_ESTABLISHED) {
        wait = t->cfg.idle_timeout_ns;
    } else if (n->state != ST_CLOSED) {
        /* a server answers each retransmitted SYN with a SYN-ACK at once, besides its own
         * retries: the larger of the two gaps is the one that tells the backoff */
        int64_t gap = 0;
        if (c != NULL) {
            gap = c->syn_gap_ns > c->synack_gap_ns ? c->syn_gap_ns : c->synack_gap_ns;
        }
        if (gap > (int64_t)1 << 60) {
            /* 36 years: a hostile capture's SYN schedule must not overflow last_ns + wait
             * (capture/ keeps packet times within +-2^32 s) */
            gap = (int64_t)1 << 60;
        }
        if (gap == 0) {
            wait = wait / 2 * 3;
        } else if (gap / 2 * 5 > wait) {
            wait = gap / 2 * 5;
        }
    }
    int64_t deadline = (c != NULL ? c->a.last_ns : n->first_ns) + wait;
    int64_t announce = provisional_time(t, n);
    flow_timer_set(t, idx, announce < deadline ? announce : deadline);
}

/* A due node: announced (live), emitted and freed, or emitted and kept as a tombstone. */
bool flow_node_due(struct flow_table *t, uint32_t idx, int64_t now)
{
    struct flow_node *n = node_at(t, idx);
    if (provisional_due(t, n, now)) {
        struct flow_attempt *a = &cold_at(t, n->cold)->a;
        a->announced = (uint8_t)a->answer;
        a->acks_in_capture = t->acks_seen;
        t->provisional(a, t->user);
        rearm(t, idx);
    } else if (node_ends_when_due(n)) {
        flow_node_finish(t, idx, FLOW_END_CLOSED, n->deadline);
        return false;
    } else {
        /* decided by silence: emit now, keep a tombstone for late packets */
        flow_node_emit(t, n, FLOW_END_TIMEOUT, n->deadline);
        flow_cold_release(t, n);
        n->state = ST_DONE;
        t->undecided--;
        flow_timer_set(t, idx, now + TOMBSTONE_NS);
    }
    return true;
}

/* ---- recording facts -------------------------------------------------------------------- */

/* Bit + 1 of each Zeek history letter in history_seen ('^': Zeek flipped the direction). */
static const uint8_t history_bits[128] = {
    ['S'] = 1, ['H'] = 2, ['F'] = 3,  ['R'] = 4,  ['D'] = 5,  ['A'] = 6,  ['s'] = 7,
    ['h'] = 8, ['f'] = 9, ['r'] = 10, ['d'] = 11, ['a'] = 12, ['^'] = 13,
};
static const char history_letters[] = "SHFRDAshfrda^"; /* by bit */

/* Records the letter of bit b of history_seen after the letters so far. */
static void append_history(struct flow_cold *c, int b)
{
    /* every letter is recorded once: 13 letters at most */
    int len = c->history_len++;
    c->history_seen |= (uint16_t)(1u << b);
    if (len < FLOW_HISTORY_LEN) {
        c->a.history[len] = history_letters[b];
        c->a.history[len + 1] = '\0';
    }
}

/* Zeek's history: one letter per kind of packet and direction, upper case for the client
 * (originator), recorded the first time it is seen (base/protocols/conn/main.zeek). */
static void add_history(struct flow_cold *c, char letter)
{
    unsigned char u = (unsigned char)letter;
    if (u >= sizeof(history_bits) || history_bits[u] == 0) {
        return;
    }
    if (!(c->history_seen & (1u << (history_bits[u] - 1)))) {
        append_history(c, history_bits[u] - 1);
    }
}

/* The server's letters a packet stands for, as history_seen bits, by its SYN, FIN, RST and ACK
 * flags and whether it carries data (the index record_history computes): 's' or 'h', then
 * 'f', 'r', and 'd' or a bare 'a', the order of their bits (the client's are the same 6 bits
 * lower). */
#define HISTORY_MASK(i)                                                                            \
    ((((i)&2) ? (((i)&8) ? 1u << 7 : 1u << 6) : 0u) | (((i)&1) ? 1u << 8 : 0u) |                   \
     (((i)&4) ? 1u << 9 : 0u) |                                                                    \
     (((i)&16)        ? 1u << 10                                                                   \
      : ((i)&15) == 8 ? 1u << 11                                                                   \
                      : 0u))
#define HISTORY_MASK4(i)                                                                           \
    HISTORY_MASK(i), HISTORY_MASK((i) + 1), HISTORY_MASK((i) + 2), HISTORY_MASK((i) + 3)
_Static_assert(DEC_TCP_FIN == 1 && DEC_TCP_SYN == 2 && DEC_TCP_RST == 4, "history_masks' index");
static const uint16_t history_masks[32] = {
    HISTORY_MASK4(0),  HISTORY_MASK4(4),  HISTORY_MASK4(8),  HISTORY_MASK4(12),
    HISTORY_MASK4(16), HISTORY_MASK4(20), HISTORY_MASK4(24), HISTORY_MASK4(28),
};

static void record_history(struct flow_cold *c, const struct dec_event *ev, bool from_client)
{
    uint8_t f = ev->tcp_flags;
    unsigned i = (f & (DEC_TCP_FIN | DEC_TCP_SYN | DEC_TCP_RST)) | ((f & DEC_TCP_ACK) ? 8u : 0u) |
                 (ev->payload_len > 0 ? 16u : 0u);
    uint32_t fresh = history_masks[i] >> (from_client ? 6 : 0);
    fresh &= ~(uint32_t)c->history_seen;
    while (fresh != 0) {
        append_history(c, __builtin_ctz(fresh)); /* lowest bit first: the letters' order */
        fresh &= fresh - 1;
    }
}

static void record_packet(struct flow_cold *c, uint32_t pkt, int64_t ts, bool evidence)
{
    struct flow_attempt *a = &c->a;
    a->packet_total++;
    a->last_ns = ts;
    if (evidence && a->packet_count < FLOW_MAX_PACKETS) {
        a->packets[a->packet_count++] = pkt;
    }
}

static void fill_reply(struct flow_reply *r, const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    memset(r, 0, sizeof(*r));
    r->ts_ns = ts;
    r->from = ev->src;
    r->ttl = ev->ttl;
    r->has_ip_id = ev->has_ip_id;
    r->ip_id = ev->ip_id;
    r->pkt = pkt;
    if (ev->kind == DEC_EV_TCP) {
        r->flags = ev->tcp_flags;
        r->seq = ev->seq;
        r->ack = ev->ack;
        r->window = ev->window;
        r->opts = ev->opts;
    } else {
        r->icmp_type = ev->icmp_type;
        r->icmp_code = ev->icmp_code;
    }
}

static void remember(struct flow_cold *c, const struct dec_event *ev, int64_t ts, bool from_client)
{
    struct packet_sig *last = &c->last[from_client];
    last->ts = ts;
    last->seq = ev->seq;
    last->ack = ev->ack;
    last->payload_len = ev->payload_len;
    last->ip_id = ev->ip_id;
    last->flags = ev->tcp_flags;
    last->ttl = ev->ttl;
}

/* ---- what a packet means ---------------------------------------------------------------- */

/* An attempt built from a SYN-ACK: the receiver is the client. */
static void start_from_synack(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                              int64_t ts, uint32_t pkt)
{
    struct flow_attempt *a = &c->a;
    a->isn = n->isn = ev->ack - 1;
    n->first_pkt = pkt;
    a->first_ns = n->first_ns = ts;
    a->last_ns = ts;
    n->state = ST_SYNACK;
}

static void on_client_syn(struct flow_cold *c, const struct dec_event *ev, int64_t ts)
{
    struct flow_attempt *a = &c->a;
    if (!a->saw_syn) {
        /* SYN after its SYN-ACK (reordered capture): attach it */
        a->saw_syn = true;
        a->syn_count = 1;
        a->syn_ns[0] = ts;
        a->syn_last_ns = ts;
        a->syn_ttl = ev->ttl;
        a->syn_opts = ev->opts;
        return;
    }
    if (a->syn_count < FLOW_MAX_SYN_TIMES) {
        a->syn_ns[a->syn_count] = ts;
    }
    c->syn_gap_ns = ts - a->syn_last_ns;
    a->syn_count++;
    a->syn_last_ns = ts;
}

static void on_synack(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                      int64_t ts, uint32_t pkt)
{
    struct flow_attempt *a = &c->a;
    if (ev->ack != a->isn + 1) {
        if (a->answer == FLOW_ANS_NONE) {
            a->answer = FLOW_ANS_BAD_SYNACK;
            fill_reply(&a->reply, ev, ts, pkt);
            n->state = ST_ANSWERED;
        }
        return;
    }
    if (c->last_synack_ns != 0) {
        c->synack_gap_ns = ts - c->last_synack_ns;
    }
    c->last_synack_ns = ts;
    a->synack_count++;
    if (a->handshake_done && a->synack_after_ack_ns == 0) {
        a->synack_after_ack_ns = ts;
    }
    /* The outcome is what the client finally got. After a RST or an ICMP error the client
     * gives up (Linux) unless it sends its SYN again (Windows retries after both): a SYN-ACK
     * answering such a retry decides (server_rst_count and icmp_count keep the earlier
     * answers as evidence). A SYN-ACK with no retry in between came too late for the client,
     * so the first answer stands; that the server answered at all is kept as evidence that
     * someone else sent the RST or ICMP (DESIGN: host traffic after the RST). */
    bool retried = a->syn_last_ns > a->reply.ts_ns;
    if ((a->answer == FLOW_ANS_RST || a->answer == FLOW_ANS_ICMP) && !retried) {
        if (a->synack_after_answer.ts_ns == 0) {
            fill_reply(&a->synack_after_answer, ev, ts, pkt);
        }
        return;
    }
    if (a->answer != FLOW_ANS_SYNACK && a->answer != FLOW_ANS_BAD_SYNACK) {
        if (a->answer == FLOW_ANS_BARE_ACK) {
            a->client_rst_ns = 0; /* the client's RST answered the stale ACK, not this SYN-ACK */
        }
        a->answer = FLOW_ANS_SYNACK;
        fill_reply(&a->reply, ev, ts, pkt);
        c->a.server_isn = ev->seq;
        if (n->state == ST_WAIT || n->state == ST_ANSWERED) {
            n->state = ST_SYNACK;
        }
    }
}

static void on_server_rst(struct flow_table *t, struct flow_node *n, struct flow_cold *c,
                          const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    struct flow_attempt *a = &c->a;
    a->server_rst_count++;
    /* A server sends a RST+ACK with the SYN-ACK's sequence number + 1 only from an established
     * socket (the application accepted and aborted): the handshake completed even when its
     * ACK is not in the capture (live capture passes no pure ACKs). Its time is unknown. */
    if (n->state == ST_SYNACK && a->answer == FLOW_ANS_SYNACK && !a->handshake_done &&
        (ev->tcp_flags & DEC_TCP_ACK) && ev->seq == a->server_isn + 1 && a->saw_syn) {
        a->handshake_done = true;
        a->handshake_ns = a->reply.ts_ns;
    }
    if (n->state == ST_WAIT || (n->state == ST_ANSWERED && a->answer == FLOW_ANS_BARE_ACK)) {
        /* RFC 9293 3.10.7.3: in SYN-SENT a RST is acceptable only if it ACKs the SYN */
        if ((ev->tcp_flags & DEC_TCP_ACK) && ev->ack == a->isn + 1) {
            if (a->answer == FLOW_ANS_NONE) {
                a->answer = FLOW_ANS_RST;
                fill_reply(&a->reply, ev, ts, pkt);
            }
            n->state = ST_ANSWERED;
        } else {
            t->stats.invalid_answers++;
        }
        return;
    }
    if (n->state == ST_SYNACK || n->state == ST_ESTABLISHED) {
        if (a->server_rst_ns == 0) {
            a->server_rst_ns = ts;
            if (a->server_end.ts_ns == 0) {
                fill_reply(&a->server_end, ev, ts, pkt);
            }
        }
        n->state = ST_CLOSED;
    } else if (n->state == ST_CLOSED && a->server_rst_ns == 0 &&
               (a->client_fin_ns != 0 || a->server_fin_ns != 0)) {
        a->server_rst_ns = ts; /* a RST after the FINs: Zeek's responder state is RESET */
    }
}

static void on_client_rst(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                          int64_t ts)
{
    struct flow_attempt *a = &c->a;
    if (a->client_rst_ns == 0) {
        a->client_rst_ns = ts;
    }
    /* A RST+ACK acknowledging the SYN-ACK comes from an established socket (a kernel
     * answering an unknown SYN-ACK sends a bare RST): the handshake completed even if its
     * ACK is not in the capture (live capture passes no pure ACKs). */
    if (n->state == ST_SYNACK && a->answer == FLOW_ANS_SYNACK && (ev->tcp_flags & DEC_TCP_ACK) &&
        ev->ack == a->server_isn + 1 && !a->handshake_done) {
        a->handshake_done = true;
        a->handshake_ns = a->reply.ts_ns; /* the ACK itself was not seen: time unknown */
    }
    switch (n->state) {
    case ST_WAIT:
    case ST_SYNACK:
    case ST_ESTABLISHED:
        n->state = ST_CLOSED;
        break;
    default:
        /* after a refusal or a bare ACK: a client RST is routine (stale state is being
         * cleared); a retried SYN may follow */
        break;
    }
}

static void on_fin(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev, int64_t ts,
                   uint32_t pkt, bool from_client)
{
    struct flow_attempt *a = &c->a;
    if (from_client) {
        if (a->client_fin_ns == 0) {
            a->client_fin_ns = ts;
        }
    } else if (a->server_fin_ns == 0) {
        a->server_fin_ns = ts;
        if (a->server_end.ts_ns == 0) {
            fill_reply(&a->server_end, ev, ts, pkt);
        }
    }
    if (a->client_fin_ns != 0 && a->server_fin_ns != 0) {
        n->state = ST_CLOSED;
    }
}

static void on_data_or_ack(struct flow_node *n, struct flow_cold *c, const struct dec_event *ev,
                           int64_t ts, uint32_t pkt, bool from_client)
{
    struct flow_attempt *a = &c->a;
    uint8_t f = ev->tcp_flags;
    if (from_client) {
        if (ev->payload_len > 0) {
            a->client_bytes += ev->payload_len;
            if (a->client_first_data_ns == 0) {
                a->client_first_data_ns = ts;
            }
        }
        if (!(f & DEC_TCP_ACK)) {
            return;
        }
        if (n->state == ST_SYNACK && a->answer == FLOW_ANS_SYNACK) {
            a->handshake_done = true;
            /* a pure ACK is the handshake's; an ACK that already carries data or a FIN only
             * says the handshake happened earlier (live capture passes no pure ACKs) */
            bool pure = ev->payload_len == 0 && !(f & (DEC_TCP_FIN | DEC_TCP_RST));
            a->handshake_ns = pure ? ts : a->reply.ts_ns;
            n->state = ST_ESTABLISHED;
        } else if (n->state == ST_SYNACK && !a->saw_syn) {
            n->state = ST_ESTABLISHED;
        } else if (n->state == ST_WAIT) {
            /* the client acknowledges a SYN-ACK the capture does not hold */
            a->client_acked_unseen = true;
            n->state = ST_ESTABLISHED;
        }
        return;
    }
    if (ev->payload_len > 0) {
        a->server_bytes += ev->payload_len;
        if (ev->payload_len > a->server_max_segment) {
            a->server_max_segment = ev->payload_len;
        }
        if (a->server_first_data_ns == 0) {
            a->server_first_data_ns = ts;
        }
    }
    if (n->state == ST_SYNACK && !a->saw_syn && (f & DEC_TCP_ACK)) {
        /* only the server's side is captured: its ACKs and data after the SYN-ACK show the
         * connection going on, so it is followed like an established one */
        n->state = ST_ESTABLISHED;
    }
    if (n->state == ST_WAIT && (f & DEC_TCP_ACK)) {
        if (ev->ack == a->isn + 1) {
            /* acknowledges our SYN without a SYN flag: the SYN-ACK is missing here */
            a->server_acked_unseen = true;
            n->state = ST_ESTABLISHED;
        } else if (ev->payload_len == 0) {
            /* RFC 9293 3.10.7.4 / RFC 5961 4: challenge ACK, or TIME-WAIT answering */
            a->answer = FLOW_ANS_BARE_ACK;
            fill_reply(&a->reply, ev, ts, pkt);
            n->state = ST_ANSWERED;
        }
    }
    (void)pkt;
}

static bool is_evidence(const struct dec_event *ev, const struct flow_node *n)
{
    if (ev->kind == DEC_EV_ICMP) {
        return true;
    }
    if (ev->tcp_flags & (DEC_TCP_SYN | DEC_TCP_RST | DEC_TCP_FIN)) {
        return true;
    }
    /* the handshake's final ACK, or answers while the attempt is undecided */
    return n->state != ST_ESTABLISHED && n->state != ST_CLOSED;
}

/* A capture on a router with `-i any`, or merged from two taps, holds each forwarded packet
 * twice: once as it came in, once as it went out with the TTL one lower, microseconds apart.
 * A real retransmission keeps its TTL and comes at least a minimum RTO (200 ms) later. */
#define DUPLICATE_WINDOW_NS 10000000LL

static bool same_packet(const struct packet_sig *last, const struct dec_event *ev, int64_t ts)
{
    return last->ts != 0 && ts - last->ts <= DUPLICATE_WINDOW_NS && last->ttl != ev->ttl &&
           last->seq == ev->seq && last->ack == ev->ack && last->flags == ev->tcp_flags &&
           last->payload_len == ev->payload_len && (!ev->has_ip_id || last->ip_id == ev->ip_id);
}

static bool is_duplicate(const struct flow_table *t, const struct flow_node *n,
                         const struct dec_event *ev, int64_t ts, bool from_client)
{
    if (n->cold != NIL) {
        return same_packet(&cold_at(t, n->cold)->last[from_client], ev, ts); /* in place */
    }
    struct packet_sig syn = flow_syn_sig(n, from_client);
    return same_packet(&syn, ev, ts);
}

/* A first SYN: a new node; the detail record only when the SYN says more than "S". */
static void new_syn(struct flow_table *t, const struct dec_event *ev, uint64_t hash, int64_t ts,
                    uint32_t pkt)
{
    uint32_t idx = flow_node_create(t, hash, ev->family, &ev->src, ev->sport, &ev->dst, ev->dport);
    if (idx == NIL) {
        return;
    }
    flow_node_syn(node_at(t, idx), ev, ts, pkt);
    if (ev->payload_len > 0 || (ev->tcp_flags & DEC_TCP_FIN)) {
        struct flow_cold *c = flow_promote(t, idx);
        if (c == NULL) {
            return;
        }
        remember(c, ev, ts, true);
        record_history(c, ev, true);
    }
    rearm(t, idx);
}

/* A SYN-ACK whose SYN was not seen (yet): an attempt built from it. */
static void new_synack(struct flow_table *t, const struct dec_event *ev, uint64_t hash, int64_t ts,
                       uint32_t pkt)
{
    uint32_t idx = flow_node_create(t, hash, ev->family, &ev->dst, ev->dport, &ev->src, ev->sport);
    if (idx == NIL) {
        return;
    }
    struct flow_cold *c = flow_promote(t, idx);
    if (c == NULL) {
        return;
    }
    struct flow_node *n = node_at(t, idx);
    start_from_synack(n, c, ev, ts, pkt);
    remember(c, ev, ts, false);
    c->a.answer = FLOW_ANS_SYNACK;
    fill_reply(&c->a.reply, ev, ts, pkt);
    c->a.synack_count = 1;
    c->last_synack_ns = ts;
    c->a.server_isn = ev->seq;
    add_history(c, '^');
    record_history(c, ev, false);
    record_packet(c, pkt, ts, true);
    rearm(t, idx);
}

void flow_on_tcp(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt,
                 uint64_t hash)
{
    bool forward;
    uint32_t idx =
        flow_find_tuple(t, ev->family, &ev->src, ev->sport, &ev->dst, ev->dport, hash, &forward);
    uint8_t f = ev->tcp_flags;
    bool syn = (f & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) == DEC_TCP_SYN;
    bool synack = (f & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) == (DEC_TCP_SYN | DEC_TCP_ACK);
    /* Whether the input carries pure ACKs and data at all: live capture's kernel filter (and
     * a file it saved) passes only SYN, FIN and RST, so there a handshake's ACK is never seen
     * and its absence proves nothing (report/ reads it from each attempt). */
    t->acks_seen |= (f & (DEC_TCP_SYN | DEC_TCP_FIN | DEC_TCP_RST)) == 0;

    if (idx == NIL) {
        if (syn) {
            new_syn(t, ev, hash, ts, pkt);
        } else if (synack) {
            t->stats.unmatched_synack++;
            new_synack(t, ev, hash, ts, pkt);
        } else if (f & DEC_TCP_RST) {
            t->stats.unmatched_rst++;
        } else {
            t->stats.midstream++;
        }
        return;
    }
    struct flow_node *n = node_at(t, idx);
    bool same_syn = syn && forward && n->isn == ev->seq;
    if (n->state == ST_DONE) {
        if (!syn || same_syn) {
            /* a late retransmission or answer of an attempt already reported */
            t->stats.late_packets++;
            flow_timer_set(t, idx, t->now + TOMBSTONE_NS);
            return;
        }
        flow_node_finish(t, idx, FLOW_END_CLOSED,
                         ts); /* silent: a tombstone is not emitted again */
        new_syn(t, ev, hash, ts, pkt);
        return;
    }
    if (is_duplicate(t, n, ev, ts, forward)) {
        t->stats.duplicates++;
        return;
    }
    if (syn && !same_syn) {
        /* a new ISN on this 4-tuple (or the other direction): a new attempt */
        flow_node_finish(t, idx, FLOW_END_REUSED, ts);
        new_syn(t, ev, hash, ts, pkt);
        return;
    }
    struct flow_cold *c = flow_promote(t, idx);
    if (c == NULL) {
        return;
    }
    n = node_at(t, idx);
    remember(c, ev, ts, forward);
    if (syn) {
        if (!c->a.saw_syn) {
            t->stats.unmatched_synack--; /* its SYN was only reordered after it */
        }
        on_client_syn(c, ev, ts);
        record_history(c, ev, true);
        record_packet(c, pkt, ts, true);
        rearm(t, idx);
        return;
    }
    bool from_client = forward;
    bool evidence = is_evidence(ev, n);
    if (synack) {
        if (from_client) {
            /* simultaneous open or a confused peer: note it, no state change */
            record_history(c, ev, true);
        } else {
            on_synack(n, c, ev, ts, pkt);
            record_history(c, ev, false);
        }
    } else {
        record_history(c, ev, from_client);
        if (f & DEC_TCP_RST) {
            if (from_client) {
                on_client_rst(n, c, ev, ts);
            } else {
                on_server_rst(t, n, c, ev, ts, pkt);
            }
        } else {
            on_data_or_ack(n, c, ev, ts, pkt, from_client);
            if ((f & DEC_TCP_FIN) && (n->state == ST_ESTABLISHED || n->state == ST_SYNACK)) {
                on_fin(n, c, ev, ts, pkt, from_client);
            }
        }
    }
    record_packet(c, pkt, ts, evidence);
    if (n->state == ST_ESTABLISHED && t->provisional == NULL) {
        /* rearm for most packets, without its call: the idle deadline after this one */
        flow_timer_set(t, idx, c->a.last_ns + t->cfg.idle_timeout_ns);
        return;
    }
    rearm(t, idx);
}

void flow_on_icmp(struct flow_table *t, const struct dec_event *ev, int64_t ts, uint32_t pkt,
                  uint64_t hash)
{
    /* RFC 5927 4.1: believe an ICMP error only if it quotes the tuple and a sequence number
     * we sent; for a SYN that is exactly the ISN. */
    bool forward;
    uint32_t idx = flow_find_tuple(t, ev->quoted_family, &ev->quoted_src, ev->quoted_sport,
                                   &ev->quoted_dst, ev->quoted_dport, hash, &forward);
    if (idx == NIL) {
        t->stats.unmatched_icmp++;
        return;
    }
    struct flow_node *n = node_at(t, idx);
    if (n->state == ST_DONE) {
        t->stats.late_packets++;
        return;
    }
    bool saw_syn = n->cold == NIL || cold_at(t, n->cold)->a.saw_syn;
    if (!forward || !saw_syn) {
        t->stats.unmatched_icmp++;
        return;
    }
    bool answer = n->state == ST_WAIT || n->state == ST_ANSWERED;
    if (answer && ev->quoted_seq != n->isn) {
        t->stats.invalid_answers++;
        return;
    }
    struct flow_cold *c = flow_promote(t, idx);
    if (c == NULL) {
        return;
    }
    n = node_at(t, idx);
    if (answer) {
        struct flow_attempt *a = &c->a;
        a->icmp_count++;
        if (a->answer == FLOW_ANS_NONE) {
            a->answer = FLOW_ANS_ICMP;
            fill_reply(&a->reply, ev, ts, pkt);
        }
        n->state = ST_ANSWERED;
        record_packet(c, pkt, ts, true);
        rearm(t, idx);
        return;
    }
    /* an ICMP error about a segment of an established connection (PMTU, ...): not an answer
     * to the SYN; keep it as evidence only */
    record_packet(c, pkt, ts, false);
}

bool flow_host_matches(const struct flow_attempt *a, const struct flow_host_event *hev)
{
    return (hev->tcp_flags & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) == DEC_TCP_SYN &&
           a->family == hev->family && a->isn == hev->seq && a->client_port == hev->sport &&
           a->server_port == hev->dport && addr_eq(&a->client, &hev->src) &&
           addr_eq(&a->server, &hev->dst);
}

void flow_host_record(struct flow_attempt *a, const struct flow_host_event *hev)
{
    a->host_facts |= hev->fact;
    if (hev->output_path) {
        a->host_facts |= FLOW_HOST_OUTPUT;
    }
    if (hev->fact == FLOW_HOST_DROPPED) {
        a->host_drop_reason = hev->reason;
    } else if (hev->fact == FLOW_HOST_RESET_SENT && hev->has_reason) {
        a->host_facts |= FLOW_HOST_RESET_REASON;
        a->host_reset_reason = hev->reason;
    } else if (hev->fact & (FLOW_HOST_NFT_DROP | FLOW_HOST_NFT_REJECT)) {
        a->host_rule = hev->rule;
    }
}

/* A kernel event about a SYN (live host evidence), joined by the tuple and the ISN. A SYN this
 * host dropped on its way out was never captured: it becomes an attempt of its own. */
enum flow_host_result flow_host(struct flow_table *t, const struct flow_host_event *hev)
{
    if ((hev->tcp_flags & (DEC_TCP_SYN | DEC_TCP_ACK | DEC_TCP_RST)) != DEC_TCP_SYN) {
        return FLOW_HOST_UNMATCHED;
    }
    struct dec_event ev = {.kind = DEC_EV_TCP,
                           .family = hev->family,
                           .tcp_flags = hev->tcp_flags,
                           .src = hev->src,
                           .dst = hev->dst,
                           .sport = hev->sport,
                           .dport = hev->dport,
                           .seq = hev->seq};
    uint64_t hash = 0;
    (void)flow_event_hash(&t->cfg, &ev, &hash);
    bool forward;
    enum flow_host_result result = FLOW_HOST_JOINED;
    uint32_t idx =
        flow_find_tuple(t, ev.family, &ev.src, ev.sport, &ev.dst, ev.dport, hash, &forward);
    if (idx != NIL && (!forward || node_at(t, idx)->isn != hev->seq)) {
        return FLOW_HOST_UNMATCHED;
    }
    if (idx != NIL && node_at(t, idx)->state == ST_DONE) {
        return FLOW_HOST_LATE;
    }
    if (idx == NIL) {
        if (!hev->output_path || !(hev->fact & (FLOW_HOST_DROPPED | FLOW_HOST_NFT_DROP))) {
            return FLOW_HOST_UNMATCHED;
        }
        int64_t ts = hev->ts_ns > t->now ? hev->ts_ns : t->now;
        idx = flow_node_create(t, hash, ev.family, &ev.src, ev.sport, &ev.dst, ev.dport);
        if (idx == NIL) {
            return FLOW_HOST_UNMATCHED;
        }
        flow_node_syn(node_at(t, idx), &ev, ts, 0);
        result = FLOW_HOST_CREATED;
    }
    struct flow_cold *c = flow_promote(t, idx);
    if (c == NULL) {
        return FLOW_HOST_UNMATCHED;
    }
    struct flow_attempt *a = &c->a;
    if (result == FLOW_HOST_CREATED) {
        a->host_facts |= FLOW_HOST_ONLY;
        a->packet_count = 0; /* no packet of the capture */
        a->packet_total = 0;
    } else if ((a->host_facts & FLOW_HOST_ONLY) && hev->ts_ns > a->syn_last_ns &&
               (hev->fact & (FLOW_HOST_DROPPED | FLOW_HOST_NFT_DROP)) &&
               hev->ts_ns - a->syn_last_ns > 200000000LL) {
        /* a retransmission of the SYN, dropped again (the drop and the nftables trace of one
         * SYN come together) */
        if (a->syn_count < FLOW_MAX_SYN_TIMES) {
            a->syn_ns[a->syn_count] = hev->ts_ns;
        }
        a->syn_count++;
        a->syn_last_ns = hev->ts_ns;
        a->last_ns = hev->ts_ns;
    }
    flow_host_record(a, hev);
    if (result == FLOW_HOST_CREATED || (a->host_facts & FLOW_HOST_ONLY)) {
        rearm(t, idx);
    }
    return result;
}
