/* rep_text.c - the report for people: services, failed attempts by verdict, what to check. */
#include "rep_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVICE_ROWS 30

/* What each verdict means and what to check, in the spirit of the classic "Connection
 * refused" troubleshooting list. PORT is replaced by the service's port when one is shown. */
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

/* Extra advice for an ICMP reason. */
static const char *icmp_advice(const char *reason)
{
    if (strcmp(reason, "port") == 0) {
        return "ICMP port unreachable for TCP means a firewall REJECT rule (plain nft 'reject' "
               "or iptables REJECT): a TCP stack answers a closed port with a reset, not ICMP. "
               "Look for the reject rule on the host that sent it.";
    }
    if (strstr(reason, "prohibited") != NULL) {
        return "Administratively prohibited: a firewall rule rejects the connection "
               "('reject with icmp admin-prohibited' or a router ACL). Look for it on the "
               "host that sent the error.";
    }
    if (strcmp(reason, "host") == 0 || strcmp(reason, "addr") == 0) {
        return "Host unreachable: the last router (or the client itself) could not reach the "
               "server's address on its local network, usually because nobody answered ARP / "
               "neighbour discovery: the host is down or the address is wrong. Check with "
               "`ip neigh` on the router and whether the server is up.";
    }
    if (strcmp(reason, "net") == 0 || strcmp(reason, "no-route") == 0) {
        return "Network unreachable: a router on the path has no route to the server's "
               "network. Check `ip route get SERVER` on the router that sent it.";
    }
    if (strcmp(reason, "ttl-exceeded") == 0) {
        return "TTL exceeded: the SYN looped or the path is longer than its TTL. Check for a "
               "routing loop (`traceroute -T -p PORT SERVER`).";
    }
    return "Check the host that sent the ICMP error and its rules or routes.";
}

static void print_wrapped(FILE *out, const char *text, const char *indent, int width, unsigned port)
{
    char expanded[2048];
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%u", port);
    /* replace PORT by the port number when there is one */
    size_t o = 0;
    for (const char *p = text; *p != '\0' && o + 16 < sizeof(expanded);) {
        if (port != 0 && strncmp(p, "PORT", 4) == 0) {
            o += (size_t)snprintf(expanded + o, sizeof(expanded) - o, "%s", portbuf);
            p += 4;
        } else {
            expanded[o++] = *p++;
        }
    }
    expanded[o] = '\0';
    const char *p = expanded;
    while (*p != '\0') {
        int len = (int)strlen(p);
        int take = len;
        if (len > width) {
            /* break at the last space that is not inside a `command` */
            bool quoted = false;
            int last_space = 0;
            for (int k = 0; k <= width && k < len; k++) {
                if (p[k] == '`') {
                    quoted = !quoted;
                } else if (p[k] == ' ' && !quoted) {
                    last_space = k;
                }
            }
            take = last_space;
            if (take == 0) {
                take = width;
            }
        }
        fprintf(out, "%s%.*s\n", indent, take, p);
        p += take;
        while (*p == ' ') {
            p++;
        }
    }
}

static const char *clock_str(int64_t ns, char *buf, size_t buflen)
{
    time_t sec = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns < 0 || gmtime_r(&sec, &tm) == NULL) {
        snprintf(buf, buflen, "??:??:??");
        return buf;
    }
    char hms[16];
    strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
    snprintf(buf, buflen, "%s.%06ld", hms, (long)((ns % 1000000000) / 1000));
    return buf;
}

static void fmt_ms(char *buf, size_t buflen, int64_t ns)
{
    double ms = (double)ns / 1e6;
    if (ms >= 1000.0) {
        snprintf(buf, buflen, "%.1f s", ms / 1000.0);
    } else {
        snprintf(buf, buflen, "%.3f ms", ms);
    }
}

/* "port unreachable", "admin-prohibited", "ttl-exceeded" ... for an ICMP reason. */
static const char *icmp_label(const char *reason)
{
    static const struct {
        const char *reason, *label;
    } labels[] = {
        {"net", "net unreachable"},
        {"host", "host unreachable"},
        {"proto", "protocol unreachable"},
        {"port", "port unreachable"},
        {"addr", "address unreachable"},
        {"no-route", "no route to destination"},
        {"frag-needed", "fragmentation needed"},
    };
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (strcmp(reason, labels[i].reason) == 0) {
            return labels[i].label;
        }
    }
    return reason;
}

/* ", 3 SYNs" when the client retried an attempt that was answered. */
static void print_syns(FILE *out, const struct flow_attempt *a)
{
    if (a->syn_count > 1) {
        fprintf(out, "; %u SYNs", a->syn_count);
    }
}

/* One line of evidence for a failed attempt. */
/* The evidence for a verdict, on one line without its end. */
static void print_evidence(FILE *out, const struct flow_attempt *a, const struct rep_judgement *j,
                           int64_t syn_timeout_ns)
{
    char from[64] = "", t1[32], t2[32];
    if (a->answer != FLOW_ANS_NONE) {
        dec_addr_str(&a->reply.from, a->family, from, sizeof(from));
    }
    fmt_ms(t1, sizeof(t1), j->rtt_ns);
    fmt_ms(t2, sizeof(t2), j->waited_ns);
    switch (j->verdict) {
    case REP_REFUSED:
    case REP_REFUSED_BY_MIDDLEBOX:
        fprintf(out, "RST from %s after %s, ttl %u (%d hop%s)", from, t1, a->reply.ttl, j->hops,
                j->hops == 1 ? "" : "s");
        print_syns(out, a);
        break;
    case REP_UNREACHABLE:
        fprintf(out, "ICMP%s %s (%u/%u) from %s %s after %s, ttl %u (%d hop%s)",
                a->family == 6 ? "v6" : "", icmp_label(j->reason), a->reply.icmp_type,
                a->reply.icmp_code, j->sender == REP_SENDER_ROUTER ? "router" : "the server", from,
                t1, a->reply.ttl, j->hops, j->hops == 1 ? "" : "s");
        print_syns(out, a);
        break;
    case REP_DROPPED:
        fmt_ms(t1, sizeof(t1), a->seen_until_ns - a->last_ns);
        if (a->syn_count == 1) {
            fputs("1 SYN, no answer", out);
        } else {
            fprintf(out, "%u SYNs over %s, no answer", a->syn_count, t2);
        }

        if (a->syn_count > 1) {
            fputs(" (retries", out);
            uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
            for (uint32_t i = 1; i < kept; i++) {
                fprintf(out, " +%.1f", (double)(a->syn_ns[i] - a->syn_ns[i - 1]) / 1e9);
            }
            fprintf(out, "%s s)", a->syn_count > kept ? " ..." : "");
        }
        if (a->end == FLOW_END_CAPTURE_END) {
            fprintf(out, "; the capture ends %s after the last SYN", t1);
        }
        break;
    case REP_RESET_AFTER_ACCEPT:
    case REP_CLOSED_AFTER_ACCEPT:
        fmt_ms(t2, sizeof(t2),
               a->server_end.ts_ns - (a->handshake_ns ? a->handshake_ns : j->start_ns));
        fprintf(out,
                "accepted (SYN-ACK after %s), then %s from the server %s later, %llu bytes "
                "from the client, none from the server",
                t1, j->verdict == REP_RESET_AFTER_ACCEPT ? "RST" : "FIN", t2,
                (unsigned long long)a->client_bytes);
        break;
    case REP_HALF_OPEN:
        fprintf(out, "%u SYN-ACK%s from %s, no ACK from the client (%u SYN%s)", a->synack_count,
                a->synack_count == 1 ? "" : "s", from, a->syn_count, a->syn_count == 1 ? "" : "s");
        break;
    case REP_CLIENT_ABORT:
        fprintf(out, "client reset the attempt (%s) after %s", j->reason, t2);
        break;
    case REP_STALE:
        fprintf(out, "bare ACK from %s (ack %u, expected a SYN-ACK for %u)", from, a->reply.ack,
                a->isn + 1);
        break;
    case REP_BAD_SYNACK:
        fprintf(out, "SYN-ACK from %s acknowledges %u, the SYN was %u", from, a->reply.ack, a->isn);
        break;
    case REP_UNDETERMINED:
        if (strcmp(j->reason, "capture-ended") == 0) {
            fprintf(out, "capture ended %s after the first SYN, before the %.1f s timeout", t2,
                    (double)syn_timeout_ns / 1e9);
        } else if (strcmp(j->reason, "one-sided") == 0) {
            fprintf(out, "only one direction captured (%s)",
                    a->saw_syn ? "no SYN-ACK seen, yet the conversation went on"
                               : "SYN-ACK seen, no SYN");
        } else {
            fprintf(out, "%s", j->reason);
        }
        break;
    case REP_ACCEPTED:
        fprintf(out, "SYN-ACK from %s after %s, ttl %u (%d hop%s)%s", from, t1, a->reply.ttl,
                j->hops, j->hops == 1 ? "" : "s",
                a->handshake_done ? "" : ", client's ACK not seen (yet)");
        print_syns(out, a);
        break;
    case REP_VERDICT_COUNT:
        break;
    }
}

static void print_packets(FILE *out, const struct flow_attempt *a)
{
    fputs("  pkts ", out);
    for (uint32_t i = 0; i < a->packet_count && i < 8; i++) {
        fprintf(out, "%s%u", i ? "," : "", a->packets[i]);
    }
    if (a->packet_count > 8) {
        fputs(",...", out);
    }
    fputc('\n', out);
}

static void print_tuple(FILE *out, const struct flow_attempt *a)
{
    char cli[64], srv[64];
    fprintf(out, "%s -> %s",
            rep_endpoint_str(a->family, &a->client, a->client_port, cli, sizeof(cli)),
            rep_endpoint_str(a->family, &a->server, a->server_port, srv, sizeof(srv)));
}

/* One line of evidence for a failed attempt in the report. */
static void print_attempt(FILE *out, const struct rep_listed *l, int64_t syn_timeout_ns)
{
    char when[32];
    fprintf(out, "  %s  ", clock_str(l->judgement.start_ns, when, sizeof(when)));
    print_tuple(out, &l->attempt);
    fputs("  ", out);
    print_evidence(out, &l->attempt, &l->judgement, syn_timeout_ns);
    print_packets(out, &l->attempt);
}

void rep_text_live_line(struct rep_report *r, const struct flow_attempt *a,
                        const struct rep_judgement *j, bool provisional)
{
    char when[32];
    FILE *out = r->opts.out;
    fprintf(out, "%s  %-19s ", clock_str(j->start_ns, when, sizeof(when)),
            rep_verdict_name(j->verdict));
    print_tuple(out, a);
    fputs("  ", out);
    print_evidence(out, a, j, r->opts.cfg.syn_timeout_ns);
    if (provisional) {
        fputs("  (still open)", out);
    }
    print_packets(out, a);
    fflush(out);
}

static int listed_order(const void *x, const void *y)
{
    const struct rep_listed *a = x;
    const struct rep_listed *b = y;
    if (a->judgement.start_ns != b->judgement.start_ns) {
        return a->judgement.start_ns < b->judgement.start_ns ? -1 : 1;
    }
    return a->attempt.packets[0] < b->attempt.packets[0] ? -1 : 1;
}

static uint64_t failures_of(const struct rep_service *s)
{
    uint64_t n = 0;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v)) {
            n += s->counts[v];
        }
    }
    return n;
}

static int service_order(const void *x, const void *y)
{
    const struct rep_service *a = *(const struct rep_service *const *)x;
    const struct rep_service *b = *(const struct rep_service *const *)y;
    uint64_t fa = failures_of(a), fb = failures_of(b);
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

/* The dominant failure of a service, for its row. */
static const char *service_state(const struct rep_service *s)
{
    uint64_t best = 0;
    int best_v = -1;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v) && s->counts[v] > best) {
            best = s->counts[v];
            best_v = v;
        }
    }
    if (best_v < 0) {
        return s->counts[REP_ACCEPTED] ? "ok" : "undetermined";
    }
    return best == s->total ? rep_verdict_name((enum rep_verdict)best_v) : "failing sometimes";
}

static void print_services(FILE *out, struct rep_report *r)
{
    if (r->service_count == 0) {
        return;
    }
    const struct rep_service **order = malloc(r->service_count * sizeof(*order));
    if (order == NULL) {
        return;
    }
    for (uint32_t s = 0; s < r->service_count; s++) {
        order[s] = &r->services[s];
    }
    qsort(order, r->service_count, sizeof(*order), service_order);
    fprintf(out, "%-32s %8s %8s %8s %8s %8s %8s  %s\n", "SERVICE", "ATTEMPTS", "ACCEPTED",
            "REFUSED", "DROPPED", "UNREACH", "OTHER", "STATE");
    uint32_t rows = r->service_count < SERVICE_ROWS ? r->service_count : SERVICE_ROWS;
    for (uint32_t i = 0; i < rows; i++) {
        const struct rep_service *s = order[i];
        char name[64];
        uint64_t refused = s->counts[REP_REFUSED] + s->counts[REP_REFUSED_BY_MIDDLEBOX];
        uint64_t other = s->total - s->counts[REP_ACCEPTED] - refused - s->counts[REP_DROPPED] -
                         s->counts[REP_UNREACHABLE];
        rep_endpoint_str(s->family, &s->addr, s->port, name, sizeof(name));
        if (strlen(name) > 32) {
            /* a long IPv6 endpoint gets a line of its own, so the columns stay aligned */
            fprintf(out, "%s\n", name);
            name[0] = '\0';
        }
        fprintf(out, "%-32s %8llu %8llu %8llu %8llu %8llu %8llu  %s\n", name,
                (unsigned long long)s->total, (unsigned long long)s->counts[REP_ACCEPTED],
                (unsigned long long)refused, (unsigned long long)s->counts[REP_DROPPED],
                (unsigned long long)s->counts[REP_UNREACHABLE], (unsigned long long)other,
                service_state(s));
    }
    if (r->service_count > rows) {
        fprintf(out, "... and %u more services (all of them with -f json)\n",
                r->service_count - rows);
    }
    fputc('\n', out);
    free(order);
}

/* Port shown in advice: the one port all listed attempts of this verdict share, else 0. */
static unsigned common_port(const struct rep_report *r, enum rep_verdict v)
{
    unsigned port = 0;
    for (uint32_t i = 0; i < r->listed_count[v]; i++) {
        unsigned p = r->listed[v][i].attempt.server_port;
        if (port != 0 && p != port) {
            return 0;
        }
        port = p;
    }
    return port;
}

static void print_unreachable_advice(FILE *out, const struct rep_report *r)
{
    const char *done[16];
    size_t ndone = 0;
    for (uint32_t i = 0; i < r->listed_count[REP_UNREACHABLE] && ndone < 16; i++) {
        const char *reason = r->listed[REP_UNREACHABLE][i].judgement.reason;
        bool seen = false;
        for (size_t k = 0; k < ndone; k++) {
            seen = seen || strcmp(done[k], reason) == 0;
        }
        if (seen) {
            continue;
        }
        done[ndone++] = reason;
        char head[64];
        snprintf(head, sizeof(head), "%s: ", reason);
        char text[1024];
        snprintf(text, sizeof(text), "%s%s", head, icmp_advice(reason));
        print_wrapped(out, text, "  ", 94, 0);
    }
}

static void print_decode_problems(FILE *out, const struct rep_input_stats *input)
{
    uint64_t total = 0;
    for (int s = DEC_SKIP_COUNT_END; s < DEC_P_COUNT; s++) {
        total += input->decode_status[s];
    }
    if (total == 0) {
        fputs("Decode problems: none.\n", out);
        return;
    }
    fprintf(out, "Decode problems: %llu packet%s could not be decoded:", (unsigned long long)total,
            total == 1 ? "" : "s");
    for (int s = DEC_SKIP_COUNT_END; s < DEC_P_COUNT; s++) {
        if (input->decode_status[s] != 0) {
            fprintf(out, " %s %llu", dec_status_name((enum dec_status)s),
                    (unsigned long long)input->decode_status[s]);
        }
    }
    fputc('\n', out);
}

void rep_text_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows)
{
    FILE *out = r->opts.out;
    uint64_t failed = 0;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v)) {
            failed += r->counts[v];
        }
    }
    char t1[40], t2[40];
    fprintf(out, "synscope: %llu packet%s, %llu connection attempt%s, %llu failed",
            (unsigned long long)input->packets, input->packets == 1 ? "" : "s",
            (unsigned long long)r->attempts, r->attempts == 1 ? "" : "s",
            (unsigned long long)failed);
    if (r->attempts > 0) {
        fprintf(out, " (%s to %s)", rep_time_iso(r->first_ns, t1, sizeof(t1)),
                rep_time_iso(r->last_ns, t2, sizeof(t2)));
    }
    fputs("\n\n", out);
    print_services(out, r);

    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (v == REP_ACCEPTED || r->counts[v] == 0) {
            continue;
        }
        char upper[32];
        const char *name = rep_verdict_name((enum rep_verdict)v);
        size_t k = 0;
        for (; name[k] != '\0' && k + 1 < sizeof(upper); k++) {
            upper[k] = (char)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 32 : name[k]);
        }
        upper[k] = '\0';
        fprintf(out, "%s: %llu attempt%s\n", upper, (unsigned long long)r->counts[v],
                r->counts[v] == 1 ? "" : "s");
        print_wrapped(out, explanations[v], "  ", 94, common_port(r, (enum rep_verdict)v));
        if (v == REP_UNREACHABLE) {
            print_unreachable_advice(out, r);
        }
        if (r->listed_count[v] > 1) {
            qsort(r->listed[v], r->listed_count[v], sizeof(r->listed[v][0]), listed_order);
        }
        for (uint32_t i = 0; i < r->listed_count[v]; i++) {
            print_attempt(out, &r->listed[v][i], r->opts.cfg.syn_timeout_ns);
        }
        if (r->counts[v] > r->listed_count[v]) {
            fprintf(out, "  ... and %llu more (all of them with -f json)\n",
                    (unsigned long long)(r->counts[v] - r->listed_count[v]));
        }
        fputc('\n', out);
    }
    if (failed == 0 && r->attempts > 0) {
        fputs("No failed connection attempts.\n\n", out);
    }
    print_decode_problems(out, input);
    if (flows->evicted != 0) {
        fprintf(out,
                "Evicted: %llu attempts were pushed out by --max-flows before they were "
                "decided (counted above as they stood).\n",
                (unsigned long long)flows->evicted);
    }
    if (flows->unmatched_synack + flows->unmatched_rst + flows->unmatched_icmp != 0) {
        fprintf(out, "Without a SYN in the capture: %llu SYN-ACK, %llu RST, %llu ICMP error%s.\n",
                (unsigned long long)flows->unmatched_synack,
                (unsigned long long)flows->unmatched_rst, (unsigned long long)flows->unmatched_icmp,
                flows->unmatched_icmp == 1 ? "" : "s");
    }
    if (flows->invalid_answers != 0) {
        fprintf(out,
                "Ignored answers: %llu RST or ICMP that did not acknowledge or quote the "
                "SYN (not believed).\n",
                (unsigned long long)flows->invalid_answers);
    }
    if (input->error != NULL) {
        fprintf(out, "Input error: %s (the report covers what was read before it).\n",
                input->error);
    }
    if (input->live) {
        fprintf(out,
                "Capture: %.1f s, %llu packets passed the kernel filter, %llu dropped by the "
                "kernel, %llu by the interface.%s\n",
                input->duration_s, (unsigned long long)input->cap_received,
                (unsigned long long)input->cap_dropped, (unsigned long long)input->cap_if_dropped,
                input->cap_dropped + input->cap_if_dropped != 0
                    ? " Verdicts may be missing answers: raise --buffer-size."
                    : "");
    }
}
