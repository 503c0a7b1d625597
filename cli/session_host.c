/* session_host.c - host evidence in a live session (issue 19): host/ opened before the
 * privilege drop, its kernel events handed to the flow table, and when an attempt is reported
 * the listeners, owners and counters gathered for report/ (which does no I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "session.h"

/* The kernel's event about a SYN may be read after the capture shows the answer that its
 * drop or its rule caused (an nftables reject sends its RST before the trace of its verdict;
 * the kernel frees a SYN after the RST that answered it), and live announces a refusal or an
 * ICMP error at the answer. So such an announcement for an attempt on this host waits
 * HOLD_NS, and at most until the next tick (after each batch of packets, at least every
 * 200 ms), the events read meanwhile joined to the held copy. */
#define HOLD_MAX 64
#define HOLD_NS 5000000LL

/* What the report needs beside the attempt: listeners on the server's port (server side),
 * the names of the kernel's reasons, the rule's text, the counters of the attempt's second. */
struct gathered {
    struct rep_host rep;
    struct host_listener found[HOST_MAX_LISTENERS];
    struct rep_listener listeners[HOST_MAX_LISTENERS];
};

/* The listeners as they were when an attempt was announced: its final record comes seconds
 * later (it lingers for retransmissions), when a service restarted meanwhile would answer for
 * it. A few are kept, the oldest replaced first. */
#define MEMO_MAX 32

struct listener_memo {
    bool used;
    uint8_t family;
    struct dec_addr client;
    uint16_t client_port, server_port;
    uint32_t isn;
    struct gathered g;
};

struct host_hold {
    struct flow_attempt attempt[HOLD_MAX]; /* in arrival order from head */
    int64_t release_ns[HOLD_MAX];
    size_t head, count;
    struct listener_memo memos[MEMO_MAX];
    size_t memo_next;
};

static void release_oldest(struct session *s);
static bool service_host(uint8_t family, const struct dec_addr *addr, uint16_t port,
                         struct rep_host *out, void *user);

void session_host_open(struct session *s, bool pretend_no_btf, bool pretend_no_nft)
{
    char notes[HOST_NOTES_SIZE], errbuf[HOST_ERRBUF_SIZE];
    struct host_config cfg = {.pretend_no_btf = pretend_no_btf, .pretend_no_nft = pretend_no_nft};
    if (host_open(&s->host, &cfg, notes, sizeof(notes), errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        s->host = NULL;
        return;
    }
    fputs(notes, stderr); /* "host evidence: drop reasons off: ..." lines, or nothing */
    s->host_hold = calloc(1, sizeof(*s->host_hold)); /* NULL: announcements are not held */
    rep_set_service_host(s->report, service_host, s);
}

static uint8_t host_fact(uint8_t kind)
{
    switch (kind) {
    case HOST_EV_DROP:
        return FLOW_HOST_DROPPED;
    case HOST_EV_RESET_SENT:
        return FLOW_HOST_RESET_SENT;
    case HOST_EV_NFT_DROP:
        return FLOW_HOST_NFT_DROP;
    default:
        return FLOW_HOST_NFT_REJECT;
    }
}

static void on_host_event(const struct host_event *ev, void *user)
{
    struct session *s = user;
    struct flow_host_event fev = {
        .ts_ns = ev->ts_ns,
        .family = ev->family,
        .tcp_flags = ev->tcp_flags,
        .fact = host_fact(ev->kind),
        .output_path = ev->output_path,
        .has_reason = ev->has_reason,
        .reason = ev->reason,
        .rule = ev->rule,
        .src = ev->src,
        .dst = ev->dst,
        .sport = ev->sport,
        .dport = ev->dport,
        .seq = ev->seq,
    };
    struct host_hold *hold = s->host_hold;
    for (size_t i = 0; hold != NULL && i < hold->count; i++) {
        struct flow_attempt *held = &hold->attempt[(hold->head + i) % HOLD_MAX];
        if (flow_host_matches(held, &fev)) {
            flow_host_record(held, &fev);
        }
    }
    switch (flow_host(s->flows, &fev)) {
    case FLOW_HOST_JOINED:
        s->host_events++;
        break;
    case FLOW_HOST_CREATED:
        s->host_events++;
        s->host_created++;
        break;
    case FLOW_HOST_LATE:
        s->host_late++;
        break;
    default:
        break;
    }
}

void session_host_drain(struct session *s, int64_t now_ns)
{
    char errbuf[HOST_ERRBUF_SIZE];
    if (s->host == NULL) {
        return;
    }
    if (host_poll(s->host, on_host_event, s, errbuf, sizeof(errbuf)) < 0) {
        fprintf(stderr, "synscope: host evidence: %s (that part is off from now on)\n", errbuf);
    }
    host_counters_tick(s->host, now_ns);
    while (s->host_hold != NULL && s->host_hold->count > 0 &&
           s->host_hold->release_ns[s->host_hold->head] <= now_ns) {
        release_oldest(s);
    }
}

static void gather_listeners(struct session *s, const struct flow_attempt *a, int64_t now,
                             struct gathered *g)
{
    int total = host_listeners(s->host, a->server_port, now, g->found, HOST_MAX_LISTENERS);
    if (total < 0) {
        return;
    }
    size_t count = (size_t)total < HOST_MAX_LISTENERS ? (size_t)total : HOST_MAX_LISTENERS;
    for (size_t i = 0; i < count; i++) {
        const struct host_listener *l = &g->found[i];
        g->listeners[i] = (struct rep_listener){
            .family = l->family,
            .v6only = l->v6only,
            .port = l->port,
            .addr = l->addr,
            .ifname = l->ifname,
            .queue = l->queue,
            .backlog = l->backlog,
            .pid = l->pid,
            .comm = l->comm,
        };
    }
    g->rep.listeners = g->listeners;
    g->rep.listener_count = count;
    g->rep.listener_total = (size_t)total;
    const char *why = NULL;
    int nearest = -1;
    enum host_accept acc = host_accepts(s->host, g->found, count, a->family, &a->server,
                                        a->server_port, &why, &nearest);
    g->rep.accept = acc == HOST_ACCEPT_NO_LISTENER       ? REP_HOST_NO_LISTENER
                    : acc == HOST_ACCEPT_BOUND_ELSEWHERE ? REP_HOST_BOUND_ELSEWHERE
                                                         : REP_HOST_LISTENING;
    g->rep.bound_why = why;
    g->rep.nearest = nearest;
}

/* Fills g for an attempt on this host; false when neither end is this host's. */
static bool gather(struct session *s, const struct flow_attempt *a, struct gathered *g)
{
    int64_t now = clock_now_ns();
    memset(&g->rep, 0, sizeof(g->rep));
    g->rep.nearest = -1;
    if (host_is_local(s->host, a->family, &a->server, now)) {
        g->rep.server_side = true;
        gather_listeners(s, a, now, g);
        struct host_counters ctr;
        host_counters_at(s->host, a->syn_last_ns != 0 ? a->syn_last_ns : a->first_ns, &ctr);
        g->rep.counters_known = ctr.known;
        for (int c = 0; c < REP_HOST_CTR_COUNT && c < HOST_CTR_COUNT; c++) {
            g->rep.counters[c] = ctr.value[c];
            g->rep.counter_names[c] = host_counter_name((enum host_counter)c);
        }
    } else if (!(a->host_facts & FLOW_HOST_ONLY) &&
               !host_is_local(s->host, a->family, &a->client, now)) {
        return false;
    }
    if (a->host_facts & FLOW_HOST_DROPPED) {
        g->rep.drop_reason = host_reason_name(s->host, HOST_EV_DROP, a->host_drop_reason);
    }
    if (a->host_facts & FLOW_HOST_RESET_REASON) {
        g->rep.reset_reason = host_reason_name(s->host, HOST_EV_RESET_SENT, a->host_reset_reason);
    }
    g->rep.rule = host_rule_text(s->host, a->host_rule);
    return true;
}

static bool memo_is(const struct listener_memo *m, const struct flow_attempt *a)
{
    return m->used && m->family == a->family && m->isn == a->isn &&
           m->client_port == a->client_port && m->server_port == a->server_port &&
           memcmp(&m->client, &a->client, sizeof(a->client)) == 0;
}

static void memo_keep(struct host_hold *hold, const struct flow_attempt *a,
                      const struct gathered *g)
{
    struct listener_memo *m = &hold->memos[hold->memo_next];
    hold->memo_next = (hold->memo_next + 1) % MEMO_MAX;
    m->used = true;
    m->family = a->family;
    m->client = a->client;
    m->client_port = a->client_port;
    m->server_port = a->server_port;
    m->isn = a->isn;
    m->g = *g;
}

/* The announcement's listeners in place of today's, if it was announced. */
static void memo_use(struct host_hold *hold, const struct flow_attempt *a, struct gathered *g)
{
    for (size_t i = 0; i < MEMO_MAX; i++) {
        struct listener_memo *m = &hold->memos[i];
        if (memo_is(m, a)) {
            memcpy(g->found, m->g.found, sizeof(g->found));
            memcpy(g->listeners, m->g.listeners, sizeof(g->listeners));
            for (size_t k = 0; k < HOST_MAX_LISTENERS; k++) { /* strings into g's own copy */
                g->listeners[k].ifname = g->found[k].ifname;
                g->listeners[k].comm = g->found[k].comm;
            }
            g->rep.listeners = g->listeners;
            g->rep.listener_count = m->g.rep.listener_count;
            g->rep.listener_total = m->g.rep.listener_total;
            g->rep.accept = m->g.rep.accept;
            g->rep.bound_why = m->g.rep.bound_why;
            g->rep.nearest = m->g.rep.nearest;
            m->used = false;
            return;
        }
    }
}

static void report_attempt(struct session *s, const struct flow_attempt *a, bool provisional)
{
    struct gathered g;
    bool local = gather(s, a, &g);
    if (local && provisional && s->host_hold != NULL) {
        memo_keep(s->host_hold, a, &g);
    } else if (local && a->announced != FLOW_ANS_NONE && s->host_hold != NULL) {
        memo_use(s->host_hold, a, &g);
    }
    if (provisional) {
        rep_provisional_host(s->report, a, local ? &g.rep : NULL);
    } else {
        rep_attempt_host(s->report, a, local ? &g.rep : NULL);
    }
}

/* The oldest held announcement is made. */
static void release_oldest(struct session *s)
{
    struct host_hold *hold = s->host_hold;
    const struct flow_attempt *a = &hold->attempt[hold->head];
    hold->head = (hold->head + 1) % HOLD_MAX;
    hold->count--;
    report_attempt(s, a, true); /* the slot is not reused during the call */
}

/* Releases the held announcements up to and including a's, if a's is held (its final record
 * has come). */
static void release_for(struct session *s, const struct flow_attempt *a)
{
    struct host_hold *hold = s->host_hold;
    for (size_t i = 0; i < hold->count; i++) {
        const struct flow_attempt *held = &hold->attempt[(hold->head + i) % HOLD_MAX];
        if (held->isn == a->isn && held->client_port == a->client_port &&
            held->server_port == a->server_port &&
            memcmp(&held->client, &a->client, sizeof(a->client)) == 0) {
            for (size_t k = 0; k <= i; k++) {
                release_oldest(s);
            }
            return;
        }
    }
}

void session_host_attempt(struct session *s, const struct flow_attempt *a, bool provisional)
{
    struct host_hold *hold = s->host_hold;
    if (hold == NULL) {
        report_attempt(s, a, provisional);
        return;
    }
    if (!provisional) {
        release_for(s, a);
        report_attempt(s, a, false);
        return;
    }
    if (a->answer != FLOW_ANS_RST && a->answer != FLOW_ANS_ICMP) {
        report_attempt(s, a, true); /* accepted: announced after the grace period already */
        return;
    }
    if (hold->count == HOLD_MAX) {
        release_oldest(s);
    }
    size_t slot = (hold->head + hold->count) % HOLD_MAX;
    hold->attempt[slot] = *a;
    hold->release_ns[slot] = clock_now_ns() + HOLD_NS;
    hold->count++;
}

/* rep_service_host_fn: a service on this host, its listeners and the counters so far. */
static bool service_host(uint8_t family, const struct dec_addr *addr, uint16_t port,
                         struct rep_host *out, void *user)
{
    struct session *s = user;
    static struct gathered g; /* strings valid until the next call */
    int64_t now = clock_now_ns();
    if (s->host == NULL || !host_is_local(s->host, family, addr, now)) {
        return false;
    }
    struct flow_attempt probe;
    memset(&probe, 0, sizeof(probe));
    probe.family = family;
    probe.server = *addr;
    probe.server_port = port;
    memset(&g.rep, 0, sizeof(g.rep));
    g.rep.nearest = -1;
    g.rep.server_side = true;
    gather_listeners(s, &probe, now, &g);
    struct host_counters ctr;
    host_counters_total(s->host, now, &ctr);
    g.rep.counters_known = ctr.known;
    for (int c = 0; c < REP_HOST_CTR_COUNT && c < HOST_CTR_COUNT; c++) {
        g.rep.counters[c] = ctr.value[c];
        g.rep.counter_names[c] = host_counter_name((enum host_counter)c);
    }
    *out = g.rep;
    return true;
}

void session_host_close(struct session *s)
{
    if (s->host == NULL) {
        return;
    }
    if (s->host_late > 0) {
        fprintf(stderr,
                "synscope: host evidence: %llu kernel events came after their attempt was "
                "reported\n",
                (unsigned long long)s->host_late);
    }
    while (s->host_hold != NULL && s->host_hold->count > 0) {
        release_oldest(s);
    }
    free(s->host_hold);
    s->host_hold = NULL;
    rep_set_service_host(s->report, NULL, NULL);
    host_close(s->host);
    s->host = NULL;
}
