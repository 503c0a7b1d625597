/* rep_explain.c - what the reports for people (text and HTML) share: what verdicts and ICMP
 * errors mean, the evidence line of an attempt, the services' order and rows, the decode
 * problems and the closing notes. */
#include "rep_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* What each verdict means and what to check, in the spirit of the classic "Connection
 * refused" troubleshooting list. PORT is replaced by the service's port when one is shown;
 * `backquotes` mark commands. */
static const char *const explanations[REP_VERDICT_COUNT] = {
    [REP_ACCEPTED] = "The server answered with a SYN-ACK: a service is listening and reachable.",
    [REP_RESET_AFTER_ACCEPT] =
        "The handshake completed, then the server reset the connection before sending any "
        "data: the service accepted and threw the connection away. Typical causes: a "
        "connection limit (max clients, a full worker pool), TCP wrappers or an allow-list in "
        "the application, a load balancer or proxy with no healthy backend, a crash right "
        "after accept(). Check the service's logs at these times and its connection limits.",
    [REP_CLOSED_AFTER_ACCEPT] =
        "The handshake completed, then the server closed the connection (FIN) without "
        "sending any data. Typical causes: access control in the application (tcpd, "
        "allow/deny lists), a connection or rate limit, a proxy whose backend is gone, a "
        "protocol mismatch the server rejects silently. Check the service's logs.",
    [REP_REFUSED] =
        "The server's host answered the SYN with a TCP reset: nothing listens on that port at "
        "that address (service down, wrong port, bound to another address such as 127.0.0.1 "
        "or only IPv4/IPv6), or a host firewall rule rejects it with a reset. Check on the "
        "server: `ss -ltnp 'sport = :PORT'` (is it listening, on which address?), the service's "
        "status and logs, and `nft list ruleset` / `iptables -S` for 'reject with tcp reset'.",
    [REP_REFUSED_BY_MIDDLEBOX] =
        "A device between client and server answered with a TCP reset in the server's name; "
        "the server probably never saw the SYN. Check the firewalls, IPS and proxies on the "
        "path.",
    [REP_UNREACHABLE] = "An ICMP error came back instead of an answer from the service.",
    [REP_DROPPED] =
        "The SYN and its retransmissions got no answer at all: a firewall silently drops them "
        "(nft/iptables 'drop', a cloud security group), the host is down, or the route is a "
        "black hole. A closed port would have answered with a reset, so something is "
        "swallowing the packets. Check: `nft list ruleset` on the server and on the way, "
        "security groups, `ip route get SERVER` on the client, and whether the SYN reaches the "
        "server at all (`tcpdump -ni any 'tcp port PORT'` there).",
    [REP_HALF_OPEN] =
        "The server answered with a SYN-ACK, but the client never completed the handshake: "
        "the SYN-ACK was lost on the way back (a firewall on the return path, asymmetric "
        "routing, a stateful firewall that did not see the SYN) or the client gave up. The "
        "client keeps retrying its SYN when it never sees the SYN-ACK. Check the return path "
        "and the client's firewall.",
    [REP_CLIENT_ABORT] =
        "The client ended the attempt itself with a reset: after the SYN-ACK (a scanner, or "
        "an application that closed the socket), or before any answer came (a connect "
        "timeout shorter than the network's delay).",
    [REP_STALE] =
        "The server answered the SYN with a bare ACK instead of a SYN-ACK: it (or a NAT on "
        "the way) still holds state for this 4-tuple from an earlier connection (TIME-WAIT, "
        "or a challenge ACK, RFC 5961). The client usually resets and retries. Frequent "
        "stale answers point at port reuse by the client or a NAT re-using ports too fast.",
    [REP_BAD_SYNACK] =
        "The SYN-ACK acknowledged a sequence number the client never sent: a transparent "
        "proxy, NAT or load balancer rewriting sequence numbers, or a stale answer. The "
        "client will reset it.",
    [REP_UNDETERMINED] =
        "synscope cannot tell from this capture, and does not guess: the capture ended "
        "before the attempt was decided (capture longer), or only one direction of the "
        "conversation was captured (capture where both directions pass).",
};

const char *rep_explanation(enum rep_verdict verdict)
{
    return (unsigned)verdict < REP_VERDICT_COUNT ? explanations[verdict] : "";
}

/* What to check for an ICMP reason; several reasons share one. */
static const char advice_port[] =
    "ICMP port unreachable for TCP means a firewall REJECT rule (plain nft 'reject' or iptables "
    "REJECT): a TCP stack answers a closed port with a reset, not ICMP. Look for the reject rule "
    "on the host that sent it.";
static const char advice_prohibited[] =
    "Administratively prohibited: a firewall rule rejects the connection ('reject with icmp "
    "admin-prohibited' or a router ACL). Look for it on the host that sent the error.";
static const char advice_host[] =
    "Host unreachable: the last router (or the client itself) could not reach the server's "
    "address on its local network, usually because nobody answered ARP / neighbour discovery: "
    "the host is down or the address is wrong. Check with `ip neigh` on the router and whether "
    "the server is up.";
static const char advice_net[] =
    "Network unreachable: a router on the path has no route to the server's network. Check `ip "
    "route get SERVER` on the router that sent it.";
static const char advice_ttl[] =
    "TTL exceeded: the SYN looped or the path is longer than its TTL. Check for a routing loop "
    "(`traceroute -T -p PORT SERVER`).";
static const char advice_other[] =
    "Check the host that sent the ICMP error and its rules or routes.";

/* What the reports for people say of the reasons rep_icmp_reason names: a label (NULL: the
 * reason itself) and what to check (NULL: advice_other). */
static const struct icmp_words {
    const char *reason, *label, *advice;
} icmp_words[] = {
    {"net", "net unreachable", advice_net},
    {"host", "host unreachable", advice_host},
    {"proto", "protocol unreachable", NULL},
    {"port", "port unreachable", advice_port},
    {"addr", "address unreachable", advice_host},
    {"no-route", "no route to destination", advice_net},
    {"frag-needed", "fragmentation needed", NULL},
    {"net-prohibited", NULL, advice_prohibited},
    {"host-prohibited", NULL, advice_prohibited},
    {"admin-prohibited", NULL, advice_prohibited},
    {"ttl-exceeded", NULL, advice_ttl},
};

static const struct icmp_words *find_icmp_words(const char *reason)
{
    for (size_t i = 0; i < sizeof(icmp_words) / sizeof(icmp_words[0]); i++) {
        if (strcmp(reason, icmp_words[i].reason) == 0) {
            return &icmp_words[i];
        }
    }
    return NULL;
}

const char *rep_icmp_advice(const char *reason)
{
    const struct icmp_words *w = find_icmp_words(reason);
    return w != NULL && w->advice != NULL ? w->advice : advice_other;
}

const char *rep_icmp_label(const char *reason)
{
    const struct icmp_words *w = find_icmp_words(reason);
    return w != NULL && w->label != NULL ? w->label : reason;
}

size_t rep_icmp_reasons(const struct rep_report *r, const char **reasons, size_t max)
{
    size_t n = 0;
    for (uint32_t i = 0; i < r->listed_count[REP_UNREACHABLE] && n < max; i++) {
        const char *reason = r->listed[REP_UNREACHABLE][i].judgement.reason;
        bool seen = false;
        for (size_t k = 0; k < n; k++) {
            seen = seen || strcmp(reasons[k], reason) == 0;
        }
        if (!seen) {
            reasons[n++] = reason;
        }
    }
    return n;
}

/* "; 3 SYNs" when the client retried an attempt that was answered. */
static void append_syns(struct rep_text *ap, const struct flow_attempt *a)
{
    if (a->syn_count > 1) {
        rep_text_printf(ap, "; %u SYNs", a->syn_count);
    }
}

const char *rep_evidence(char *buf, size_t buflen, const struct flow_attempt *a,
                         const struct rep_judgement *j, int64_t syn_timeout_ns)
{
    char from[REP_ADDR_LEN] = "", t1[32], t2[32];
    if (buflen == 0) {
        return buf;
    }
    struct rep_text ap;
    rep_text_init(&ap, buf, buflen);
    if (a->answer != FLOW_ANS_NONE) {
        rep_addr_str(a->family, &a->reply.from, from);
    }
    rep_fmt_ms(t1, sizeof(t1), j->rtt_ns);
    rep_fmt_ms(t2, sizeof(t2), j->waited_ns);
    switch (j->verdict) {
    case REP_REFUSED:
    case REP_REFUSED_BY_MIDDLEBOX:
        rep_text_printf(&ap, "RST from %s after %s, ttl %u (%d hop%s)", from, t1, a->reply.ttl,
                        j->hops, rep_plural(j->hops));
        append_syns(&ap, a);
        break;
    case REP_UNREACHABLE:
        rep_text_printf(&ap, "ICMP%s %s (%u/%u) from %s %s after %s, ttl %u (%d hop%s)",
                        a->family == 6 ? "v6" : "", rep_icmp_label(j->reason), a->reply.icmp_type,
                        a->reply.icmp_code,
                        j->sender == REP_SENDER_ROUTER ? "router" : "the server", from, t1,
                        a->reply.ttl, j->hops, rep_plural(j->hops));
        append_syns(&ap, a);
        break;
    case REP_DROPPED:
        rep_fmt_ms(t1, sizeof(t1), a->seen_until_ns - a->last_ns);
        if (a->syn_count == 1) {
            rep_text_printf(&ap, "1 SYN, no answer");
        } else {
            rep_text_printf(&ap, "%u SYNs over %s, no answer", a->syn_count, t2);
        }
        if (a->syn_count > 1) {
            rep_text_printf(&ap, " (retries");
            uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
            for (uint32_t i = 1; i < kept; i++) {
                rep_text_printf(&ap, " +%.1f", (double)(a->syn_ns[i] - a->syn_ns[i - 1]) / 1e9);
            }
            rep_text_printf(&ap, "%s s)", a->syn_count > kept ? " ..." : "");
        }
        if (a->end == FLOW_END_CAPTURE_END) {
            rep_text_printf(&ap, "; the capture ends %s after the last SYN", t1);
        }
        break;
    case REP_RESET_AFTER_ACCEPT:
    case REP_CLOSED_AFTER_ACCEPT:
        rep_fmt_ms(t2, sizeof(t2),
                   a->server_end.ts_ns - (a->handshake_ns ? a->handshake_ns : j->start_ns));
        rep_text_printf(&ap,
                        "accepted (SYN-ACK after %s), then %s from the server %s later, %llu bytes "
                        "from the client, none from the server",
                        t1, j->verdict == REP_RESET_AFTER_ACCEPT ? "RST" : "FIN", t2,
                        (unsigned long long)a->client_bytes);
        break;
    case REP_HALF_OPEN:
        rep_text_printf(&ap, "%u SYN-ACK%s from %s, no ACK from the client (%u SYN%s)",
                        a->synack_count, rep_plural(a->synack_count), from, a->syn_count,
                        rep_plural(a->syn_count));
        break;
    case REP_CLIENT_ABORT:
        rep_text_printf(&ap, "client reset the attempt (%s) after %s", j->reason, t2);
        break;
    case REP_STALE:
        rep_text_printf(&ap, "bare ACK from %s (ack %u, expected a SYN-ACK for %u)", from,
                        a->reply.ack, a->isn + 1);
        break;
    case REP_BAD_SYNACK:
        rep_text_printf(&ap, "SYN-ACK from %s acknowledges %u, the SYN was %u", from, a->reply.ack,
                        a->isn);
        break;
    case REP_UNDETERMINED:
        if (strcmp(j->reason, "capture-ended") == 0) {
            rep_text_printf(&ap, "capture ended %s after the first SYN, before the %.1f s timeout",
                            t2, (double)syn_timeout_ns / 1e9);
        } else if (strcmp(j->reason, "one-sided") == 0) {
            rep_text_printf(&ap, "only one direction captured (%s)",
                            a->saw_syn ? "no SYN-ACK seen, yet the conversation went on"
                                       : "SYN-ACK seen, no SYN");
        } else {
            rep_text_printf(&ap, "%s", j->reason);
        }
        break;
    case REP_ACCEPTED:
        rep_text_printf(&ap, "SYN-ACK from %s after %s, ttl %u (%d hop%s)%s", from, t1,
                        a->reply.ttl, j->hops, rep_plural(j->hops),
                        a->handshake_done ? "" : ", client's ACK not seen (yet)");
        append_syns(&ap, a);
        break;
    case REP_VERDICT_COUNT:
        break;
    }
    return buf;
}

/* qsort order of struct rep_listed: by start time, then first packet number. */
static int listed_order(const void *x, const void *y)
{
    const struct rep_listed *a = x;
    const struct rep_listed *b = y;
    if (a->judgement.start_ns != b->judgement.start_ns) {
        return a->judgement.start_ns < b->judgement.start_ns ? -1 : 1;
    }
    return a->attempt.packets[0] < b->attempt.packets[0] ? -1 : 1;
}

void rep_sort_listed(struct rep_report *r, enum rep_verdict verdict)
{
    if (r->listed_count[verdict] > 1) {
        qsort(r->listed[verdict], r->listed_count[verdict], sizeof(r->listed[verdict][0]),
              listed_order);
    }
}

/* The attempts of all failure verdicts among counts. */
static uint64_t failures(const uint64_t counts[REP_VERDICT_COUNT])
{
    uint64_t n = 0;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v)) {
            n += counts[v];
        }
    }
    return n;
}

uint64_t rep_failed_total(const struct rep_report *r)
{
    return failures(r->counts);
}

uint64_t rep_service_failures(const struct rep_service *s)
{
    return failures(s->counts);
}

/* qsort order of services: most failures first, then most attempts, then by address:port. */
static int service_order(const void *x, const void *y)
{
    const struct rep_service *a = *(const struct rep_service *const *)x;
    const struct rep_service *b = *(const struct rep_service *const *)y;
    uint64_t fa = rep_service_failures(a), fb = rep_service_failures(b);
    if (fa != fb) {
        return fa > fb ? -1 : 1;
    }
    if (a->total != b->total) {
        return a->total > b->total ? -1 : 1;
    }
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }
    int c = memcmp(a->addr.b, b->addr.b, sizeof(a->addr.b));
    if (c != 0) {
        return c;
    }
    return (int)a->port - (int)b->port;
}

const struct rep_service **rep_services_sorted(const struct rep_report *r)
{
    if (r->service_count == 0) {
        return NULL;
    }
    const struct rep_service **order = malloc(r->service_count * sizeof(*order));
    if (order == NULL) {
        return NULL;
    }
    for (uint32_t s = 0; s < r->service_count; s++) {
        order[s] = &r->services[s];
    }
    qsort(order, r->service_count, sizeof(*order), service_order);
    return order;
}

int rep_service_dominant(const struct rep_service *s)
{
    uint64_t best = 0;
    int best_v = -1;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v) && s->counts[v] > best) {
            best = s->counts[v];
            best_v = v;
        }
    }
    return best_v;
}

const char *rep_service_state(const struct rep_service *s)
{
    int best_v = rep_service_dominant(s);
    if (best_v < 0) {
        return s->counts[REP_ACCEPTED] ? "ok" : "undetermined";
    }
    return s->counts[best_v] == s->total ? rep_verdict_name((enum rep_verdict)best_v)
                                         : "failing sometimes";
}

unsigned rep_common_port(const struct rep_report *r, enum rep_verdict verdict)
{
    unsigned port = 0;
    for (uint32_t i = 0; i < r->listed_count[verdict]; i++) {
        unsigned p = r->listed[verdict][i].attempt.server_port;
        if (port != 0 && p != port) {
            return 0;
        }
        port = p;
    }
    return port;
}

const char *rep_decode_problems(char buf[REP_PROBLEMS_LEN], const struct rep_input_stats *input,
                                const char *open, const char *close)
{
    struct rep_text t;
    rep_text_init(&t, buf, REP_PROBLEMS_LEN);
    uint64_t total = 0;
    for (int s = DEC_SKIP_COUNT_END; s < DEC_P_COUNT; s++) {
        total += input->decode_status[s];
    }
    if (total == 0) {
        REP_TEXT_LIT(&t, "Decode problems: none.");
        return buf;
    }
    rep_text_printf(&t, "Decode problems: %llu packet%s could not be decoded:",
                    (unsigned long long)total, rep_plural((int64_t)total));
    for (int s = DEC_SKIP_COUNT_END; s < DEC_P_COUNT; s++) {
        if (input->decode_status[s] != 0) {
            rep_text_printf(&t, " %s%s%s %llu", open, dec_status_name((enum dec_status)s), close,
                            (unsigned long long)input->decode_status[s]);
        }
    }
    return buf;
}

/* Formats one closing note (cut at 1 KiB) and hands it to emit. */
static void emit_note(rep_note_fn emit, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit_note(rep_note_fn emit, void *ctx, const char *fmt, ...)
{
    char note[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(note, sizeof(note), fmt, args);
    va_end(args);
    emit(note, ctx);
}

void rep_closing_notes(const struct rep_input_stats *input, const struct flow_stats *flows,
                       rep_note_fn emit, void *ctx)
{
    if (flows->evicted != 0) {
        emit_note(emit, ctx,
                  "Evicted: %llu attempts were pushed out by --max-flows before they were "
                  "decided (counted above as they stood).",
                  (unsigned long long)flows->evicted);
    }
    if (flows->unmatched_synack + flows->unmatched_rst + flows->unmatched_icmp != 0) {
        emit_note(
            emit, ctx, "Without a SYN in the capture: %llu SYN-ACK, %llu RST, %llu ICMP error%s.",
            (unsigned long long)flows->unmatched_synack, (unsigned long long)flows->unmatched_rst,
            (unsigned long long)flows->unmatched_icmp, rep_plural(flows->unmatched_icmp));
    }
    if (flows->invalid_answers != 0) {
        emit_note(emit, ctx,
                  "Ignored answers: %llu RST or ICMP that did not acknowledge or quote the SYN "
                  "(not believed).",
                  (unsigned long long)flows->invalid_answers);
    }
    if (input->error != NULL) {
        emit_note(emit, ctx, "Input error: %s (the report covers what was read before it).",
                  input->error);
    }
    if (input->live) {
        emit_note(emit, ctx,
                  "Capture: %.1f s, %llu packets passed the kernel filter, %llu dropped by the "
                  "kernel, %llu by the interface.%s",
                  input->duration_s, (unsigned long long)input->cap_received,
                  (unsigned long long)input->cap_dropped, (unsigned long long)input->cap_if_dropped,
                  input->cap_dropped + input->cap_if_dropped != 0
                      ? " Verdicts may be missing answers: raise --buffer-size."
                      : "");
    }
}

void rep_service_row(const struct rep_service *s, struct rep_service_row *row)
{
    uint64_t refused = s->counts[REP_REFUSED] + s->counts[REP_REFUSED_BY_MIDDLEBOX];
    rep_endpoint_str(s->family, &s->addr, s->port, row->name, sizeof(row->name));
    row->counts[0] = s->total;
    row->counts[1] = s->counts[REP_ACCEPTED];
    row->counts[2] = refused;
    row->counts[3] = s->counts[REP_DROPPED];
    row->counts[4] = s->counts[REP_UNREACHABLE];
    row->counts[5] = s->total - s->counts[REP_ACCEPTED] - refused - s->counts[REP_DROPPED] -
                     s->counts[REP_UNREACHABLE];
    row->state = rep_service_state(s);
}
