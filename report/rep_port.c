/* rep_port.c - probe mode's report: one row (or JSON object) per port, with nmap's state and
 * reason, synscope's verdict, and whether a RST is the host's or a middlebox's. */
#include "rep_int.h"

#include <string.h>

static const char *const state_names[REP_PORT_STATES] = {"open", "closed", "filtered",
                                                         "unreachable"};

/* The host's own hop distance: that of the SYN-ACKs of its open ports, when they agree. */
static bool host_hops(const struct rep_port *ports, size_t n, int *hops)
{
    int lo = 1000, hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (ports[i].state == REP_PORT_OPEN && ports[i].answered) {
            int h = rep_hops(ports[i].ttl);
            lo = h < lo ? h : lo;
            hi = h > hi ? h : hi;
        }
    }
    *hops = lo;
    return hi >= 0 && lo == hi;
}

void rep_ports_judge(struct rep_port *ports, size_t n)
{
    int own = -1;
    bool known = host_hops(ports, n, &own);
    for (size_t i = 0; i < n; i++) {
        struct rep_port *p = &ports[i];
        p->hops = p->answered ? rep_hops(p->ttl) : -1;
        p->evidence[0] = '\0';
        switch (p->state) {
        case REP_PORT_OPEN:
            p->verdict = REP_ACCEPTED;
            break;
        case REP_PORT_CLOSED:
            p->verdict = REP_REFUSED;
            if (known && p->hops != own) {
                p->verdict = REP_REFUSED_BY_MIDDLEBOX;
                snprintf(p->evidence, sizeof(p->evidence),
                         "the RST arrived with TTL %u = %d hop%s; the host's open ports answer "
                         "%d hop%s away",
                         p->ttl, p->hops, rep_plural(p->hops), own, rep_plural(own));
            } else if (known) {
                snprintf(p->evidence, sizeof(p->evidence),
                         "the RST arrived %d hop%s away, like the host's open ports", p->hops,
                         rep_plural(p->hops));
            } else {
                snprintf(p->evidence, sizeof(p->evidence),
                         "not enough evidence to tell the host from a middlebox: no open port "
                         "on this host to compare the RST with");
            }
            break;
        case REP_PORT_FILTERED:
            p->verdict = REP_DROPPED;
            break;
        default:
            p->verdict = REP_UNREACHABLE;
            break;
        }
    }
}

static void json_addr(FILE *out, const char *key, int family, const struct dec_addr *a)
{
    char ip[64];
    fprintf(out, ",\"%s\":\"%s\"", key, rep_addr_str(family, a, ip));
}

static void write_json(FILE *out, const struct rep_port *ports, size_t n,
                       const struct rep_probe_summary *sum, const unsigned *totals)
{
    for (size_t i = 0; i < n; i++) {
        const struct rep_port *p = &ports[i];
        char ip[REP_ADDR_LEN];
        fprintf(out,
                "{\"type\":\"port\",\"target\":{\"ip\":\"%s\",\"port\":%u},\"state\":\"%s\","
                "\"reason\":\"%s\"",
                rep_addr_str(p->family, &p->target, ip), p->port, state_names[p->state], p->reason);
        if (p->answered) {
            json_addr(out, "from", p->family, &p->from);
            fprintf(out, ",\"ttl\":%u,\"hops\":%d,\"rtt_ms\":%.3f", p->ttl, p->hops,
                    (double)p->rtt_ns / 1e6);
        }
        fprintf(out, ",\"verdict\":\"%s\",\"probes\":%u,\"answers\":%u,\"states\":{",
                rep_verdict_name(p->verdict), p->probes, p->answers);
        bool first = true;
        for (int s = 0; s < REP_PORT_STATES; s++) {
            if (p->states[s] != 0) {
                fprintf(out, "%s\"%s\":%u", first ? "" : ",", state_names[s], p->states[s]);
                first = false;
            }
        }
        fputc('}', out);
        if (p->has_last_hop) {
            json_addr(out, "last_hop", p->family, &p->last_hop);
            fprintf(out, ",\"last_hop_ttl\":%u", p->last_hop_ttl);
        }
        if (p->evidence[0] != '\0') {
            fprintf(out, ",\"evidence\":\"%s\"", p->evidence); /* our own text: no escaping */
        }
        fputs("}\n", out);
    }
    fprintf(out, "{\"type\":\"summary\",\"target\":\"%s\",\"ports\":{", sum->target);
    for (int s = 0; s < REP_PORT_STATES; s++) {
        fprintf(out, "%s\"%s\":%u", s ? "," : "", state_names[s], totals[s]);
    }
    fprintf(out, "},\"probes_sent\":%llu,\"ignored_answers\":%llu,\"duration_s\":%.3f%s}\n",
            (unsigned long long)sum->sent, (unsigned long long)sum->ignored_answers,
            sum->duration_s, sum->interrupted ? ",\"interrupted\":true" : "");
}

static void write_text(FILE *out, const struct rep_port *ports, size_t n,
                       const struct rep_probe_summary *sum, const unsigned *totals)
{
    fprintf(out,
            "synscope probe %s: %zu port%s, %u open, %u closed, %u filtered, %u unreachable "
            "(%.1f s, %llu probes)%s\n\n",
            sum->target, n, rep_plural(n), totals[REP_PORT_OPEN], totals[REP_PORT_CLOSED],
            totals[REP_PORT_FILTERED], totals[REP_PORT_UNREACHABLE], sum->duration_s,
            (unsigned long long)sum->sent, sum->interrupted ? " (interrupted)" : "");
    fprintf(out, "%-9s %-12s %-40s %4s %5s %11s  %s\n", "PORT", "STATE", "REASON", "TTL", "HOPS",
            "RTT", "VERDICT");
    for (size_t i = 0; i < n; i++) {
        const struct rep_port *p = &ports[i];
        char port[16], reason[96], rtt[32] = "-", ttl[8] = "-", hops[8] = "-";
        snprintf(port, sizeof(port), "%u/tcp", p->port);
        snprintf(reason, sizeof(reason), "%s", p->reason);
        if (p->answered) {
            char ip[64];
            rep_addr_str(p->family, &p->from, ip);
            if (memcmp(p->from.b, p->target.b, sizeof(p->from.b)) != 0) {
                snprintf(reason, sizeof(reason), "%s from %s", p->reason, ip);
            }
            rep_fmt_ms(rtt, sizeof(rtt), p->rtt_ns);
            snprintf(ttl, sizeof(ttl), "%u", p->ttl);
            snprintf(hops, sizeof(hops), "%d", p->hops);
        } else if (p->has_last_hop) {
            char ip[64];
            snprintf(reason, sizeof(reason), "no-response, last hop %s (ttl %u)",
                     rep_addr_str(p->family, &p->last_hop, ip), p->last_hop_ttl);
        }
        fprintf(out, "%-9s %-12s %-40s %4s %5s %11s  %s", port, state_names[p->state], reason, ttl,
                hops, rtt, rep_verdict_name(p->verdict));
        unsigned attempts = p->states[0] + p->states[1] + p->states[2] + p->states[3];
        if (p->states[p->state] != attempts) {
            fprintf(out, "  (%u of %u attempts)", p->states[p->state], attempts);
        }
        fputc('\n', out);
    }
    /* what each failing verdict means, once */
    bool shown[REP_VERDICT_COUNT] = {false};
    for (size_t i = 0; i < n; i++) {
        const struct rep_port *p = &ports[i];
        if (p->verdict == REP_ACCEPTED || shown[p->verdict]) {
            continue;
        }
        shown[p->verdict] = true;
        char text[1200];
        snprintf(text, sizeof(text), "%s: %s", rep_verdict_name(p->verdict),
                 rep_explanation(p->verdict));
        unsigned same = 0; /* PORT stands for the port only when it is the only one */
        for (size_t k = 0; k < n; k++) {
            same += ports[k].verdict == p->verdict;
        }
        fputc('\n', out);
        rep_print_wrapped(out, text, "", 96, same == 1 ? p->port : 0);
        if (p->evidence[0] != '\0') {
            snprintf(text, sizeof(text), "port %u: %s", p->port, p->evidence);
            rep_print_wrapped(out, text, "  ", 94, 0);
        }
    }
}

void rep_ports_write(FILE *out, enum rep_format format, const struct rep_port *ports, size_t n,
                     const struct rep_probe_summary *sum)
{
    unsigned totals[REP_PORT_STATES] = {0};
    for (size_t i = 0; i < n; i++) {
        totals[ports[i].state]++;
    }
    if (format == REP_FORMAT_JSON) {
        write_json(out, ports, n, sum, totals);
    } else {
        write_text(out, ports, n, sum, totals);
    }
}
