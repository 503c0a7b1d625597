/* rep_json.c - JSON lines: one object per attempt, then services, then the summary. */
#include "rep_int.h"

#include <string.h>

/* Writes s as a JSON string (RFC 8259 7): quotes, backslashes and control bytes escaped. */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', out);
            fputc(*p, out);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\u%04x", *p);
        } else {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void json_endpoint(FILE *out, int family, const struct dec_addr *addr, uint16_t port)
{
    char ip[64];
    fprintf(out, "{\"ip\":\"%s\",\"port\":%u}", dec_addr_str(addr, family, ip, sizeof(ip)),
            (unsigned)port);
}

static void json_ms(FILE *out, const char *key, int64_t ns)
{
    if (ns < 0) {
        fprintf(out, ",\"%s\":null", key);
    } else {
        fprintf(out, ",\"%s\":%.3f", key, (double)ns / 1e6);
    }
}

static const char *answer_kind(enum flow_answer answer)
{
    switch (answer) {
    case FLOW_ANS_SYNACK:
        return "syn-ack";
    case FLOW_ANS_BAD_SYNACK:
        return "bad-syn-ack";
    case FLOW_ANS_RST:
        return "rst";
    case FLOW_ANS_ICMP:
        return "icmp";
    case FLOW_ANS_BARE_ACK:
        return "ack";
    case FLOW_ANS_NONE:
        break;
    }
    return "none";
}

static const char *end_name(enum flow_end end)
{
    switch (end) {
    case FLOW_END_CLOSED:
        return "closed";
    case FLOW_END_TIMEOUT:
        return "timeout";
    case FLOW_END_REUSED:
        return "reused";
    case FLOW_END_CAPTURE_END:
        return "capture-end";
    case FLOW_END_EVICTED:
        return "evicted";
    }
    return "unknown";
}

void rep_json_attempt(struct rep_report *r, const struct flow_attempt *a,
                      const struct rep_judgement *j)
{
    FILE *out = r->opts.out;
    char ts[40];
    fprintf(out, "{\"type\":\"attempt\",\"ts\":\"%s\",\"client\":",
            rep_time_iso(j->start_ns, ts, sizeof(ts)));
    json_endpoint(out, a->family, &a->client, a->client_port);
    fputs(",\"server\":", out);
    json_endpoint(out, a->family, &a->server, a->server_port);
    fprintf(out, ",\"family\":%u,\"verdict\":\"%s\",\"reason\":\"%s\",\"syns\":%u", a->family,
            rep_verdict_name(j->verdict), j->reason, a->syn_count);
    json_ms(out, "rtt_ms", j->rtt_ns);
    json_ms(out, "waited_ms", j->waited_ns);
    if (a->syn_count > 1) {
        fputs(",\"retries_ms\":[", out);
        uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
        for (uint32_t i = 1; i < kept; i++) {
            fprintf(out, "%s%.3f", i > 1 ? "," : "",
                    (double)(a->syn_ns[i] - a->syn_ns[i - 1]) / 1e6);
        }
        fputc(']', out);
    }
    if (a->answer != FLOW_ANS_NONE) {
        char ip[64];
        fprintf(out,
                ",\"answer\":{\"kind\":\"%s\",\"from\":\"%s\",\"ttl\":%u,\"hops\":%d,"
                "\"sender\":\"%s\",\"packet\":%u",
                answer_kind(a->answer), dec_addr_str(&a->reply.from, a->family, ip, sizeof(ip)),
                a->reply.ttl, j->hops, j->sender == REP_SENDER_ROUTER ? "router" : "server",
                a->reply.pkt);
        if (a->answer == FLOW_ANS_ICMP) {
            fprintf(out, ",\"icmp_type\":%u,\"icmp_code\":%u", a->reply.icmp_type,
                    a->reply.icmp_code);
        }
        if (a->reply.has_ip_id) {
            fprintf(out, ",\"ip_id\":%u", a->reply.ip_id);
        }
        fputc('}', out);
    }
    if (a->server_rst_count > 0 && a->answer != FLOW_ANS_RST) {
        fprintf(out, ",\"server_rsts\":%u", a->server_rst_count);
    }
    if (a->icmp_count > 0 && a->answer != FLOW_ANS_ICMP) {
        fprintf(out, ",\"icmp_errors\":%u", a->icmp_count);
    }
    if (a->synack_count > 1) {
        fprintf(out, ",\"synacks\":%u", a->synack_count);
    }
    if (j->flags != 0) {
        fputs(",\"flags\":[", out);
        bool first = true;
        for (unsigned bit = 0; bit < REP_FLAG_COUNT; bit++) {
            if (j->flags & (1u << bit)) {
                fprintf(out, "%s\"%s\"", first ? "" : ",", rep_flag_name(bit));
                first = false;
            }
        }
        fputc(']', out);
    }
    if (j->evidence[0] != '\0') {
        fputs(",\"evidence\":", out);
        json_string(out, j->evidence);
    }
    fprintf(out, ",\"handshake\":%s", a->handshake_done ? "true" : "false");
    if (a->handshake_done || a->client_bytes || a->server_bytes) {
        fprintf(out, ",\"client_bytes\":%llu,\"server_bytes\":%llu",
                (unsigned long long)a->client_bytes, (unsigned long long)a->server_bytes);
    }
    fprintf(out, ",\"end\":\"%s\",\"zeek_conn_state\":\"%s\",\"history\":", end_name(a->end),
            j->zeek_state);
    json_string(out, a->history);
    fputs(",\"packets\":[", out);
    for (uint32_t i = 0; i < a->packet_count; i++) {
        fprintf(out, "%s%u", i ? "," : "", a->packets[i]);
    }
    fprintf(out, "],\"packet_total\":%u}\n", a->packet_total);
}

static void json_verdict_map(FILE *out, const uint64_t *counts, bool all)
{
    fputc('{', out);
    bool first = true;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (!all && counts[v] == 0) {
            continue;
        }
        fprintf(out, "%s\"%s\":%llu", first ? "" : ",", rep_verdict_name((enum rep_verdict)v),
                (unsigned long long)counts[v]);
        first = false;
    }
    fputc('}', out);
}

static void json_status_map(FILE *out, const uint64_t *status, bool problems)
{
    fputc('{', out);
    bool first = true;
    for (int s = DEC_SKIP_NOT_IP; s < DEC_P_COUNT; s++) {
        if (s == DEC_SKIP_COUNT_END && !problems) {
            break;
        }
        if (status[s] == 0 || dec_status_is_problem((enum dec_status)s) != problems) {
            continue;
        }
        fprintf(out, "%s\"%s\":%llu", first ? "" : ",", dec_status_name((enum dec_status)s),
                (unsigned long long)status[s]);
        first = false;
    }
    fputc('}', out);
}

/* The diagnoses of one service (port != 0) or host (port == 0) as a JSON array. */
static void json_diagnoses(struct rep_report *r, int family, const struct dec_addr *addr,
                           uint16_t port, bool about_client)
{
    FILE *out = r->opts.out;
    bool first = true;
    fputc('[', out);
    for (size_t i = 0; i < r->diagnosis_count; i++) {
        const struct rep_diagnosis *d = &r->diagnoses[i];
        if (d->family != family || d->port != port || d->about_client != about_client ||
            memcmp(d->addr.b, addr->b, 16) != 0) {
            continue;
        }
        char next[600];
        rep_diag_next(d, next, sizeof(next));
        fprintf(out, "%s{\"kind\":\"%s\",\"summary\":", first ? "" : ",", d->kind);
        json_string(out, d->summary);
        fputs(",\"causes\":", out);
        json_string(out, d->causes);
        fputs(",\"ruled_out\":", out);
        json_string(out, d->ruled_out);
        fputs(",\"next\":", out);
        json_string(out, next);
        fputc('}', out);
        first = false;
    }
    fputc(']', out);
}

void rep_json_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows)
{
    FILE *out = r->opts.out;
    for (uint32_t s = 0; s < r->service_count; s++) {
        const struct rep_service *svc = &r->services[s];
        fputs("{\"type\":\"service\",\"server\":", out);
        json_endpoint(out, svc->family, &svc->addr, svc->port);
        fprintf(out, ",\"family\":%u,\"attempts\":%llu,\"verdicts\":", svc->family,
                (unsigned long long)svc->total);
        json_verdict_map(out, svc->counts, false);
        fputs(",\"diagnoses\":", out);
        json_diagnoses(r, svc->family, &svc->addr, svc->port, false);
        fputs("}\n", out);
    }
    /* host-level diagnoses (an address that never answered ARP/ND has no service) */
    for (size_t i = 0; i < r->diagnosis_count; i++) {
        const struct rep_diagnosis *d = &r->diagnoses[i];
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            seen = r->diagnoses[k].port == 0 && r->diagnoses[k].family == d->family &&
                   r->diagnoses[k].about_client == d->about_client &&
                   memcmp(r->diagnoses[k].addr.b, d->addr.b, 16) == 0;
        }
        if (d->port != 0 || seen) {
            continue;
        }
        char ip[64];
        if (d->about_client) {
            fprintf(out,
                    "{\"type\":\"client\",\"client\":{\"ip\":\"%s\"},\"family\":%u,"
                    "\"diagnoses\":",
                    dec_addr_str(&d->addr, d->family, ip, sizeof(ip)), d->family);
            json_diagnoses(r, d->family, &d->addr, 0, true);
            fputs("}\n", out);
            continue;
        }
        fprintf(out, "{\"type\":\"host\",\"server\":{\"ip\":\"%s\"},\"family\":%u,\"diagnoses\":",
                dec_addr_str(&d->addr, d->family, ip, sizeof(ip)), d->family);
        json_diagnoses(r, d->family, &d->addr, 0, false);
        fputs("}\n", out);
    }
    fputs("{\"type\":\"summary\",\"files\":[", out);
    for (size_t i = 0; i < input->file_count; i++) {
        if (i > 0) {
            fputc(',', out);
        }
        json_string(out, input->files[i]);
    }
    fprintf(out, "],\"packets\":%llu,\"attempts\":%llu,\"verdicts\":",
            (unsigned long long)input->packets, (unsigned long long)r->attempts);
    json_verdict_map(out, r->counts, true);
    fputs(",\"decode_problems\":", out);
    json_status_map(out, input->decode_status, true);
    fputs(",\"ignored\":", out);
    json_status_map(out, input->decode_status, false);
    fprintf(out,
            ",\"evicted\":%llu,\"peak_tracked\":%llu,\"unmatched\":{\"syn-ack\":%llu,\"rst\":%llu,"
            "\"icmp\":%llu},\"invalid_answers\":%llu,\"midstream_packets\":%llu,"
            "\"late_packets\":%llu,\"duplicates\":%llu",
            (unsigned long long)flows->evicted, (unsigned long long)flows->peak_tracked,
            (unsigned long long)flows->unmatched_synack, (unsigned long long)flows->unmatched_rst,
            (unsigned long long)flows->unmatched_icmp, (unsigned long long)flows->invalid_answers,
            (unsigned long long)flows->midstream, (unsigned long long)flows->late_packets,
            (unsigned long long)flows->duplicates);
    if (input->live) {
        fprintf(out,
                ",\"capture\":{\"received\":%llu,\"dropped\":%llu,\"if_dropped\":%llu,"
                "\"duration_s\":%.3f}",
                (unsigned long long)input->cap_received, (unsigned long long)input->cap_dropped,
                (unsigned long long)input->cap_if_dropped, input->duration_s);
    }
    if (input->error != NULL) {
        fputs(",\"input_error\":", out);
        json_string(out, input->error);
    }
    fputs("}\n", out);
}
