/* flow_node.c - an attempt's two records: the 80-byte node every attempt has (its life in the
 * table: made, linked, evicted, finished) and the detail record it takes at its second packet.
 * What a lone SYN leaves in the node, and how the attempt is rebuilt from it, are side by side
 * here (flow_node_syn, node_attempt, flow_syn_sig). */
#include "flows_int.h"

/* ---- the first SYN in the node, and the attempt made from it -------------------------- */

/* A node for a first SYN: everything about it is in the node. */
void flow_node_syn(struct flow_node *n, const struct dec_event *ev, int64_t ts, uint32_t pkt)
{
    n->isn = ev->seq;
    n->first_ns = ts;
    n->first_pkt = pkt;
    n->syn_ack = ev->ack;
    n->syn_ip_id = ev->ip_id;
    n->syn_ttl = ev->ttl;
    n->syn_flags = ev->tcp_flags;
    n->syn_opt_present = ev->opts.present;
    n->syn_wscale = ev->opts.wscale;
    n->syn_mss = ev->opts.mss;
    n->state = ST_WAIT;
}

/* The node's addresses as struct dec_addr. */
static void node_addrs(const struct flow_table *t, const struct flow_node *n,
                       struct dec_addr *client, struct dec_addr *server)
{
    if (node_family(n) == 4) {
        memset(client, 0, sizeof(*client));
        memset(server, 0, sizeof(*server));
        memcpy(client->b, n->addr.v4, 4);
        memcpy(server->b, n->addr.v4 + 4, 4);
    } else {
        const struct addr_pair *p = pair_at(t, n);
        *client = p->client;
        *server = p->server;
    }
}

/* The attempt as the report sees it: the detail record, or one built from the node alone. */
static const struct flow_attempt *node_attempt(const struct flow_table *t,
                                               const struct flow_node *n, struct flow_attempt *buf)
{
    if (n->cold != NIL) {
        return &cold_at(t, n->cold)->a;
    }
    memset(buf, 0, sizeof(*buf));
    buf->family = (uint8_t)node_family(n);
    node_addrs(t, n, &buf->client, &buf->server);
    buf->client_port = n->client_port;
    buf->server_port = n->server_port;
    buf->isn = n->isn;
    buf->syn_count = 1;
    buf->syn_ns[0] = n->first_ns;
    buf->syn_last_ns = n->first_ns;
    buf->syn_ttl = n->syn_ttl;
    buf->syn_opts.present = n->syn_opt_present;
    buf->syn_opts.wscale = n->syn_wscale;
    buf->syn_opts.mss = n->syn_mss;
    buf->saw_syn = true;
    buf->first_ns = n->first_ns;
    buf->last_ns = n->first_ns;
    buf->packet_total = 1;
    buf->packet_count = 1;
    buf->packets[0] = n->first_pkt;
    buf->history[0] = 'S';
    return buf;
}

/* The last packet seen from one side of an attempt without a detail record: the SYN it stands
 * for from the client, nothing yet from the server. (With a detail record, its last[].) */
struct packet_sig flow_syn_sig(const struct flow_node *n, bool from_client)
{
    struct packet_sig sig = {0};
    if (from_client) {
        sig.ts = n->first_ns;
        sig.seq = n->isn;
        sig.ack = n->syn_ack;
        sig.ip_id = n->syn_ip_id;
        sig.flags = n->syn_flags;
        sig.ttl = n->syn_ttl;
    }
    return sig;
}

/* ---- a node's life ---------------------------------------------------------------------- */

/* Hands the attempt to the emit callback. */
void flow_node_emit(struct flow_table *t, struct flow_node *n, enum flow_end end,
                    int64_t seen_until)
{
    if (end == FLOW_END_EVICTED) {
        t->stats.evicted++;
    }
    if (t->emit == NULL) {
        return;
    }
    struct flow_attempt buf;
    struct flow_attempt *a = (struct flow_attempt *)node_attempt(t, n, &buf);
    a->end = end;
    a->seen_until_ns = seen_until;
    a->acks_in_capture = t->acks_seen;
    t->emit(a, t->user);
}

void flow_cold_release(struct flow_table *t, struct flow_node *n)
{
    if (n->cold != NIL) {
        pool_free(&t->colds, n->cold);
        n->cold = NIL;
    }
}

/* Unlinks the node from every list and frees it; emits its attempt unless it is a tombstone
 * (already emitted). */
void flow_node_finish(struct flow_table *t, uint32_t idx, enum flow_end end, int64_t seen_until)
{
    struct flow_node *n = node_at(t, idx);
    flow_bucket_remove(t, idx);
    /* age list */
    if (n->age_prev != NIL) {
        node_at(t, n->age_prev)->age_next = n->age_next;
    } else {
        t->age_head = n->age_next;
    }
    if (n->age_next != NIL) {
        node_at(t, n->age_next)->age_prev = n->age_prev;
    } else {
        t->age_tail = n->age_prev;
    }
    flow_timer_unlink(t, idx);
    t->stats.tracked--;
    n->bits &= (uint8_t) ~(NODE_TIMER | NODE_LIVE);
    if (n->state != ST_DONE) {
        t->undecided--;
        flow_node_emit(t, n, end, seen_until);
    }
    flow_cold_release(t, n);
    if (node_family(n) == 6) {
        pool_free(&t->pairs, n->addr.v6);
    }
    pool_free(&t->nodes, idx);
}

static void evict_oldest(struct flow_table *t)
{
    flow_node_finish(t, t->age_head, FLOW_END_EVICTED, t->now);
    if (t->age_head != NIL) {
        /* a flood evicts one attempt per packet: fetch the next one's bucket meanwhile */
        __builtin_prefetch(&t->buckets.heads[node_at(t, t->age_head)->hash & t->buckets.mask]);
    }
}

/* A new node for the tuple client -> server, linked in its bucket and at the young end of the
 * age list, everything else zero; NIL when memory is exhausted and nothing can be evicted. */
uint32_t flow_node_create(struct flow_table *t, uint64_t hash, int family,
                          const struct dec_addr *client, uint16_t client_port,
                          const struct dec_addr *server, uint16_t server_port)
{
    if (t->stats.tracked >= t->cfg.max_attempts && t->age_head != NIL) {
        evict_oldest(t);
    }
    uint32_t idx = pool_alloc(&t->nodes);
    uint32_t pair = family == 6 ? pool_alloc(&t->pairs) : NIL;
    while ((idx == NIL || (family == 6 && pair == NIL)) && t->age_head != NIL) {
        /* out of memory: make room by evicting, then reuse what it held */
        evict_oldest(t);
        if (idx == NIL) {
            idx = pool_alloc(&t->nodes);
        }
        if (family == 6 && pair == NIL) {
            pair = pool_alloc(&t->pairs);
        }
    }
    if (idx == NIL || (family == 6 && pair == NIL)) {
        if (idx != NIL) {
            pool_free(&t->nodes, idx);
        }
        if (pair != NIL) {
            pool_free(&t->pairs, pair);
        }
        return NIL;
    }
    struct flow_node *n = node_at(t, idx);
    memset(n, 0, sizeof(*n));
    n->bits = family == 6 ? NODE_LIVE | NODE_V6 : NODE_LIVE;
    n->hash = (uint32_t)hash;
    n->client_port = client_port;
    n->server_port = server_port;
    if (family == 4) {
        memcpy(n->addr.v4, client->b, 4);
        memcpy(n->addr.v4 + 4, server->b, 4);
    } else {
        n->addr.v6 = pair;
        struct addr_pair *p = pool_at(&t->pairs, pair);
        p->client = *client;
        p->server = *server;
    }
    flow_bucket_insert(t, idx);
    n->age_prev = t->age_tail;
    if (t->age_tail != NIL) {
        node_at(t, t->age_tail)->age_next = idx;
    } else {
        t->age_head = idx;
    }
    t->age_tail = idx;
    t->stats.attempts++;
    t->stats.tracked++;
    t->undecided++;
    if (t->stats.tracked > t->stats.peak_tracked) {
        t->stats.peak_tracked = t->stats.tracked;
    }
    flow_buckets_fit(t);
    return idx;
}

/* The node's detail record, created from the node (its one SYN) when it has none yet; NULL
 * when memory is exhausted: the attempt is then evicted (counted) rather than kept wrong. */
struct flow_cold *flow_promote(struct flow_table *t, uint32_t idx)
{
    struct flow_node *n = node_at(t, idx);
    if (n->cold != NIL) {
        return cold_at(t, n->cold);
    }
    uint32_t ci = pool_alloc(&t->colds);
    while (ci == NIL && t->age_head != NIL && t->age_head != idx) {
        evict_oldest(t);
        ci = pool_alloc(&t->colds);
    }
    if (ci == NIL) {
        flow_node_finish(t, idx, FLOW_END_EVICTED, t->now);
        return NULL;
    }
    struct flow_cold *c = cold_at(t, ci);
    memset(c, 0, offsetof(struct flow_cold, a)); /* node_attempt clears the attempt */
    c->syn_gap_ns = c->synack_gap_ns = c->last_synack_ns = 0;
    if (n->state == 0) {
        /* a node just created for a SYN-ACK: the caller fills the rest */
        memset(&c->a, 0, sizeof(c->a));
        c->a.family = (uint8_t)node_family(n);
        node_addrs(t, n, &c->a.client, &c->a.server);
        c->a.client_port = n->client_port;
        c->a.server_port = n->server_port;
    } else {
        node_attempt(t, n, &c->a);
        c->last[1] = flow_syn_sig(n, true); /* the SYN the node stood for */
        c->history_seen = 1u;               /* 'S' */
        c->history_len = 1;
    }
    n->cold = ci;
    return c;
}
