/* rep_json.c - JSON lines: one object per attempt, then services, then the summary. */
#include "rep_int.h"

#include <stdlib.h>
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

/* Attempt lines are built by hand in a buffer of the report's and handed to stdio in large
 * blocks: JSON lines of millions of attempts are the hot path of `read -f json`, and printf's
 * machinery and a write(2) per stdio buffer were most of it. A line is at most LINE_MAX - 1
 * bytes (what does not fit is left out, never split). */
#define LINE_MAX 4096
#define JSON_BUF_SIZE (256 * 1024)

struct line {
    char *b;
    size_t n;
};

void rep_json_flush(struct rep_report *r)
{
    if (r->json_len > 0) {
        fwrite(r->json_buf, 1, r->json_len, r->opts.out);
        r->json_len = 0;
    }
}

static inline void put_mem(struct line *l, const char *s, size_t len)
{
    if (l->n + len < LINE_MAX) {
        memcpy(l->b + l->n, s, len);
        l->n += len;
    }
}

#define PUT_LIT(l, s) put_mem((l), (s), sizeof(s) - 1)

static inline void put_str(struct line *l, const char *s)
{
    put_mem(l, s, strlen(s));
}

static const char two_digits[] = "00010203040506070809101112131415161718192021222324252627282930"
                                 "31323334353637383940414243444546474849505152535455565758596061"
                                 "6263646566676869707172737475767778798081828384858687888990919293"
                                 "949596979899";

/* v in decimal, written in place two digits at a time */
static inline void put_u64(struct line *l, uint64_t v)
{
    size_t len = 1;
    for (uint64_t limit = 10; len < 20 && v >= limit; limit *= 10) {
        len++;
    }
    if (l->n + len >= LINE_MAX) {
        return;
    }
    char *p = l->b + l->n + len;
    l->n += len;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, two_digits + 2 * pair, 2);
    }
    if (v >= 10) {
        memcpy(p - 2, two_digits + 2 * v, 2);
    } else {
        p[-1] = (char)('0' + v);
    }
}

static void put_i64(struct line *l, int64_t v)
{
    if (v < 0) {
        PUT_LIT(l, "-");
        put_u64(l, (uint64_t)(-(v + 1)) + 1);
    } else {
        put_u64(l, (uint64_t)v);
    }
}

/* Nanoseconds as milliseconds with 3 decimals, rounded to the microsecond ("%.3f"). */
static void put_ms(struct line *l, int64_t ns)
{
    if (ns < 0) {
        PUT_LIT(l, "-");
        ns = -ns;
    }
    uint64_t us = ((uint64_t)ns + 500) / 1000;
    put_u64(l, us / 1000);
    char frac[4] = {'.', (char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10),
                    (char)('0' + us % 10)};
    put_mem(l, frac, sizeof(frac));
}

/* A JSON string (RFC 8259 7): quotes, backslashes and control bytes escaped. Runs of plain
 * bytes are copied at once. */
static void put_json_string(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    PUT_LIT(l, "\"");
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p != '"' && *p != '\\' && *p != 0x7f) {
            p++;
        }
        put_mem(l, (const char *)run, (size_t)(p - run));
        if (*p == '\0') {
            break;
        }
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            put_mem(l, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 0xf]};
            put_mem(l, esc, sizeof(esc));
        }
        p++;
    }
    PUT_LIT(l, "\"");
}

static void put_addr(struct line *l, int family, const struct dec_addr *addr)
{
    if (l->n + REP_ADDR_LEN < LINE_MAX) {
        l->n += rep_addr_format(family, addr, l->b + l->n); /* in place: it fits */
        return;
    }
    char ip[REP_ADDR_LEN];
    put_mem(l, ip, rep_addr_format(family, addr, ip));
}

static void put_endpoint(struct line *l, int family, const struct dec_addr *addr, uint16_t port)
{
    PUT_LIT(l, "{\"ip\":\"");
    put_addr(l, family, addr);
    PUT_LIT(l, "\",\"port\":");
    put_u64(l, port);
    PUT_LIT(l, "}");
}

/* ",\"key\":" and milliseconds, or null when ns < 0; key is a string literal */
#define PUT_MS_FIELD(l, key, ns)                                                                   \
    do {                                                                                           \
        PUT_LIT((l), ",\"" key "\":");                                                             \
        if ((ns) < 0) {                                                                            \
            PUT_LIT((l), "null");                                                                  \
        } else {                                                                                   \
            put_ms((l), (ns));                                                                     \
        }                                                                                          \
    } while (0)

/* ",\"key\":value" for an unsigned count; key is a string literal */
#define PUT_COUNT(l, key, v)                                                                       \
    do {                                                                                           \
        PUT_LIT((l), ",\"" key "\":");                                                             \
        put_u64((l), (v));                                                                         \
    } while (0)

/* The timestamp, with the date and time of day formatted once per second. */
static void put_time(struct rep_report *r, struct line *l, int64_t ns)
{
    int64_t sec = ns / 1000000000;
    int64_t rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec -= 1;
    }
    if (!r->ts_cached || sec != r->ts_cache_sec) {
        r->ts_cache_len = rep_time_iso_sec(sec, r->ts_cache);
        if (r->ts_cache_len == 0) {
            /* what rep_time_iso writes, without its last 8 characters */
            memcpy(r->ts_cache, "inva", 4);
            r->ts_cache_len = 4;
        }
        r->ts_cache_sec = sec;
        r->ts_cached = true;
    }
    put_mem(l, r->ts_cache, r->ts_cache_len);
    char frac[8];
    uint64_t us = (uint64_t)rem / 1000;
    frac[0] = '.';
    for (int i = 6; i >= 1; i--) {
        frac[i] = (char)('0' + us % 10);
        us /= 10;
    }
    frac[7] = 'Z';
    put_mem(l, frac, sizeof(frac));
}

/* Literal strings with their lengths, for the fields every line has. */
struct lit {
    const char *s;
    size_t n;
};
#define LIT(s)                                                                                     \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }

static void put_lit(struct line *l, struct lit v)
{
    put_mem(l, v.s, v.n);
}

static struct lit answer_kind(enum flow_answer answer)
{
    static const struct lit kinds[] = {
        [FLOW_ANS_NONE] = LIT("none"),
        [FLOW_ANS_SYNACK] = LIT("syn-ack"),
        [FLOW_ANS_BAD_SYNACK] = LIT("bad-syn-ack"),
        [FLOW_ANS_RST] = LIT("rst"),
        [FLOW_ANS_ICMP] = LIT("icmp"),
        [FLOW_ANS_BARE_ACK] = LIT("ack"),
    };
    if ((unsigned)answer < sizeof(kinds) / sizeof(kinds[0]) && kinds[answer].s != NULL) {
        return kinds[answer];
    }
    return (struct lit)LIT("none");
}

static struct lit end_name(enum flow_end end)
{
    static const struct lit ends[] = {
        [FLOW_END_CLOSED] = LIT("closed"),   [FLOW_END_TIMEOUT] = LIT("timeout"),
        [FLOW_END_REUSED] = LIT("reused"),   [FLOW_END_CAPTURE_END] = LIT("capture-end"),
        [FLOW_END_EVICTED] = LIT("evicted"),
    };
    if ((unsigned)end < sizeof(ends) / sizeof(ends[0]) && ends[end].s != NULL) {
        return ends[end];
    }
    return (struct lit)LIT("unknown");
}

static void write_attempt(struct rep_report *r, struct line *l, const struct flow_attempt *a,
                          const struct rep_judgement *j);

void rep_json_attempt(struct rep_report *r, const struct flow_attempt *a,
                      const struct rep_judgement *j)
{
    if (r->json_buf == NULL) {
        r->json_buf = malloc(JSON_BUF_SIZE);
        r->json_len = 0;
    }
    if (r->json_buf == NULL) {
        char b[LINE_MAX];
        struct line l = {b, 0};
        write_attempt(r, &l, a, j);
        fwrite(l.b, 1, l.n, r->opts.out);
        return;
    }
    if (JSON_BUF_SIZE - r->json_len < LINE_MAX) {
        rep_json_flush(r);
    }
    struct line l = {r->json_buf + r->json_len, 0};
    write_attempt(r, &l, a, j);
    r->json_len += l.n;
}

static void write_attempt(struct rep_report *r, struct line *l, const struct flow_attempt *a,
                          const struct rep_judgement *j)
{
    PUT_LIT(l, "{\"type\":\"attempt\",\"ts\":\"");
    put_time(r, l, j->start_ns);
    PUT_LIT(l, "\",\"client\":");
    put_endpoint(l, a->family, &a->client, a->client_port);
    PUT_LIT(l, ",\"server\":");
    put_endpoint(l, a->family, &a->server, a->server_port);
    PUT_COUNT(l, "family", a->family);
    PUT_LIT(l, ",\"verdict\":\"");
    put_str(l, rep_verdict_name(j->verdict));
    PUT_LIT(l, "\",\"reason\":\"");
    put_str(l, j->reason);
    PUT_LIT(l, "\"");
    PUT_COUNT(l, "syns", a->syn_count);
    PUT_MS_FIELD(l, "rtt_ms", j->rtt_ns);
    PUT_MS_FIELD(l, "waited_ms", j->waited_ns);
    if (a->syn_count > 1) {
        PUT_LIT(l, ",\"retries_ms\":[");
        uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
        for (uint32_t i = 1; i < kept; i++) {
            if (i > 1) {
                PUT_LIT(l, ",");
            }
            put_ms(l, a->syn_ns[i] - a->syn_ns[i - 1]);
        }
        PUT_LIT(l, "]");
    }
    if (a->answer != FLOW_ANS_NONE) {
        PUT_LIT(l, ",\"answer\":{\"kind\":\"");
        put_lit(l, answer_kind(a->answer));
        PUT_LIT(l, "\",\"from\":\"");
        put_addr(l, a->family, &a->reply.from);
        PUT_LIT(l, "\"");
        PUT_COUNT(l, "ttl", a->reply.ttl);
        PUT_LIT(l, ",\"hops\":");
        put_i64(l, j->hops);
        if (j->sender == REP_SENDER_ROUTER) {
            PUT_LIT(l, ",\"sender\":\"router\"");
        } else {
            PUT_LIT(l, ",\"sender\":\"server\"");
        }
        PUT_COUNT(l, "packet", a->reply.pkt);
        if (a->answer == FLOW_ANS_ICMP) {
            PUT_COUNT(l, "icmp_type", a->reply.icmp_type);
            PUT_COUNT(l, "icmp_code", a->reply.icmp_code);
        }
        if (a->reply.has_ip_id) {
            PUT_COUNT(l, "ip_id", a->reply.ip_id);
        }
        PUT_LIT(l, "}");
    }
    if (a->server_rst_count > 0 && a->answer != FLOW_ANS_RST) {
        PUT_COUNT(l, "server_rsts", a->server_rst_count);
    }
    if (a->icmp_count > 0 && a->answer != FLOW_ANS_ICMP) {
        PUT_COUNT(l, "icmp_errors", a->icmp_count);
    }
    if (a->synack_count > 1) {
        PUT_COUNT(l, "synacks", a->synack_count);
    }
    if (j->flags != 0) {
        PUT_LIT(l, ",\"flags\":[");
        bool first = true;
        for (unsigned bit = 0; bit < REP_FLAG_COUNT; bit++) {
            if (j->flags & (1u << bit)) {
                if (!first) {
                    PUT_LIT(l, ",");
                }
                put_json_string(l, rep_flag_name(bit));
                first = false;
            }
        }
        PUT_LIT(l, "]");
    }
    if (j->evidence[0] != '\0') {
        PUT_LIT(l, ",\"evidence\":");
        put_json_string(l, j->evidence);
    }
    if (a->handshake_done) {
        PUT_LIT(l, ",\"handshake\":true");
    } else {
        PUT_LIT(l, ",\"handshake\":false");
    }
    if (a->handshake_done || a->client_bytes || a->server_bytes) {
        PUT_COUNT(l, "client_bytes", a->client_bytes);
        PUT_COUNT(l, "server_bytes", a->server_bytes);
    }
    PUT_LIT(l, ",\"end\":\"");
    put_lit(l, end_name(a->end));
    PUT_LIT(l, "\",\"zeek_conn_state\":\"");
    put_str(l, j->zeek_state);
    PUT_LIT(l, "\",\"history\":");
    put_json_string(l, a->history);
    PUT_LIT(l, ",\"packets\":[");
    for (uint32_t i = 0; i < a->packet_count; i++) {
        if (i > 0) {
            PUT_LIT(l, ",");
        }
        put_u64(l, a->packets[i]);
    }
    PUT_LIT(l, "]");
    PUT_COUNT(l, "packet_total", a->packet_total);
    PUT_LIT(l, "}\n");
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
    rep_json_flush(r);
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
    if (r->unlisted_attempts != 0) {
        /* attempts to services beyond the REP_MAX_SERVICES with a "service" line */
        fprintf(out, ",\"unlisted_service_attempts\":%llu",
                (unsigned long long)r->unlisted_attempts);
    }
    if (input->error != NULL) {
        fputs(",\"input_error\":", out);
        json_string(out, input->error);
    }
    fputs("}\n", out);
}
