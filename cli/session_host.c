/* session_host.c - host evidence in a live session (issue 19): host/ opened before the
 * privilege drop, its kernel events handed to the flow table, and when an attempt is reported
 * the listeners, owners and counters gathered for report/ (which does no I/O). */
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "session.h"

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
}

/* What the report needs beside the attempt: listeners on the server's port (server side),
 * the names of the kernel's reasons, the rule's text, the counters of the attempt's second. */
struct gathered {
    struct rep_host rep;
    struct host_listener found[HOST_MAX_LISTENERS];
    struct rep_listener listeners[HOST_MAX_LISTENERS];
};

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

void session_host_attempt(struct session *s, const struct flow_attempt *a, bool provisional)
{
    struct gathered g;
    bool local = gather(s, a, &g);
    if (provisional) {
        rep_provisional_host(s->report, a, local ? &g.rep : NULL);
    } else {
        rep_attempt_host(s->report, a, local ? &g.rep : NULL);
    }
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
    host_close(s->host);
    s->host = NULL;
}
