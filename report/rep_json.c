/* rep_json.c - JSON lines: one object per attempt, then services, then the summary. */
#include "rep_int.h"

#include <stdlib.h>
#include <string.h>

/* Attempt lines are built by hand in a buffer of the report's and handed to stdio in large
 * blocks: JSON lines of millions of attempts are the hot path of `read -f json`, where printf's
 * machinery and a write(2) per stdio buffer cost the most (bench/RESULTS.md).
 *
 * A line is written through a bare cursor (char *p, returned by every put_ function) with no
 * check of the room left per piece: write_attempt is only ever given LINE_MAX bytes of room,
 * and ATTEMPT_LINE_MAX below, the longest line it can write, is smaller (checked when
 * compiling). Checks per piece, and the reloads of a length kept in memory that they bring,
 * are what this saves (bench/RESULTS.md). So this is the one place in report/ that writes
 * text without struct rep_text. */
#define LINE_MAX 8192 /* an attempt's line, its host object included */
#define JSON_BUF_SIZE (256 * 1024)

/* The longest reason, Zeek state, verdict or flag name written (static names of at most 20
 * characters; a longer one would be cut here, never overflow the line). */
#define NAME_MAX_LEN 64
/* Room taken by one address: its text is copied REP_ADDR_LEN bytes at a time. */
#define ADDR_ROOM REP_ADDR_LEN
/* "%.3f" of milliseconds: a sign, up to 20 digits, ".000". */
#define MS_MAX (1 + 20 + 4)
/* Everything but the parts counted below: the keys, quotes and punctuation (about 530 bytes
 * with every optional field, the answer and end names included) and 19 numbers of at most 20
 * characters each. */
#define FIXED_MAX (640 + 19 * 20)
/* The timestamp: rep_time_iso_sec's text and ".000000Z". */
#define TIME_MAX (REP_TIME_LEN + 8)
/* A JSON string of n bytes: each may become a 6-byte \u escape; and its two quotes. */
#define JSON_STRING_MAX(n) (6 * (n) + 2)
#define ATTEMPT_LINE_MAX                                                                           \
    (FIXED_MAX + TIME_MAX + 3 * ADDR_ROOM + 3 * NAME_MAX_LEN + (2 + FLOW_MAX_SYN_TIMES) * MS_MAX + \
     REP_FLAG_COUNT * (3 + NAME_MAX_LEN) +                                                         \
     JSON_STRING_MAX(sizeof(((struct rep_judgement *)0)->evidence) - 1) +                          \
     JSON_STRING_MAX(FLOW_HISTORY_LEN) + FLOW_MAX_PACKETS * (1 + 10))
_Static_assert(ATTEMPT_LINE_MAX < LINE_MAX, "an attempt line must fit in LINE_MAX bytes");

void rep_json_flush(struct rep_report *r)
{
    if (r->json_len > 0) {
        fwrite(r->json_buf, 1, r->json_len, r->opts.out);
        r->json_len = 0;
    }
}

/* A string literal (its length known when compiling: the copy is a few moves). */
#define PUT_LIT(p, s) ((p) = (char *)memcpy((p), (s), sizeof(s) - 1) + sizeof(s) - 1)

/* A static name, at most NAME_MAX_LEN bytes of it; copied byte by byte: names are short, and
 * strlen and memcpy calls cost more than the copy. */
static inline char *put_name(char *p, const char *s)
{
    for (size_t i = 0; s[i] != '\0' && i < NAME_MAX_LEN; i++) {
        *p++ = s[i];
    }
    return p;
}

/* Nanoseconds as milliseconds with 3 decimals, rounded to the microsecond ("%.3f"). */
static char *put_ms(char *p, int64_t ns)
{
    uint64_t magnitude = (uint64_t)ns;
    if (ns < 0) {
        *p++ = '-';
        magnitude = -magnitude;
    }
    uint64_t us = (magnitude + 500) / 1000;
    p = rep_put_u64(p, us / 1000);
    unsigned frac = (unsigned)(us % 1000);
    p[0] = '.';
    p[1] = (char)('0' + frac / 100);
    return rep_put2(p + 2, frac % 100);
}

/* The bytes a JSON string holds as they are (RFC 8259 7): printable ASCII but '"' and '\\', and
 * everything from 0x80 on (UTF-8 is passed through). NUL is not: it ends the string. A table:
 * one load per byte instead of four comparisons, for the evidence sentences of refusals. */
/* clang-format off */
static const uint8_t json_plain[256] = {
    /* 0_ */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 1_ */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 2_ */ 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 3_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 4_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 5_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    /* 6_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 7_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    /* 8_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 9_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* A_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* B_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* C_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* D_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* E_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* F_ */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
};
/* clang-format on */

/* s escaped for a JSON string (RFC 8259 7): quotes, backslashes and control bytes (and DEL). */
static char *put_json_chars(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *c = (const unsigned char *)s;; c++) {
        if (json_plain[*c]) {
            *p++ = (char)*c;
        } else if (*c == '\0') {
            return p;
        } else if (*c == '"' || *c == '\\') {
            p[0] = '\\';
            p[1] = (char)*c;
            p += 2;
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 0xf]};
            memcpy(p, esc, sizeof(esc));
            p += sizeof(esc);
        }
    }
}

/* A JSON string: s escaped, in quotes. */
static char *put_json_string(char *p, const char *s)
{
    *p++ = '"';
    p = put_json_chars(p, s);
    *p++ = '"';
    return p;
}

/* Writes s as a JSON string to out, a piece at a time: the lines after the attempts (services,
 * diagnoses, the summary) hold strings of any length, a file name or an error. */
static void json_string(FILE *out, const char *s)
{
    char piece[256];
    char escaped[JSON_STRING_MAX(sizeof(piece) - 1)];
    size_t len = strlen(s);
    fputc('"', out);
    for (size_t at = 0; at < len; at += sizeof(piece) - 1) {
        size_t n = len - at < sizeof(piece) - 1 ? len - at : sizeof(piece) - 1;
        memcpy(piece, s + at, n);
        piece[n] = '\0';
        fwrite(escaped, 1, (size_t)(put_json_chars(escaped, piece) - escaped), out);
    }
    fputc('"', out);
}

/* Copies an address's text: all of its buffer (a fixed-size copy is a few moves; the line has
 * the room, ADDR_ROOM), then moves on by its length. */
static char *put_addr_text(char *p, const struct rep_addr_text *t)
{
    memcpy(p, t->text, sizeof(t->text));
    return p + t->len;
}

static void format_addr(struct rep_addr_text *t, int family, const struct dec_addr *addr)
{
    t->len = rep_addr_format(family, addr, t->text);
}

/* The client's address: most captures hold the attempts of a few clients, often one, so the
 * text of the last client of each family is kept and written again when it is the same. */
static const struct rep_addr_text *client_text(struct rep_report *r, const struct flow_attempt *a)
{
    struct rep_addr_memo *m = &r->client_memo[a->family == 6];
    if (!m->valid || m->family != a->family || !rep_addr_equal(&m->addr, &a->client)) {
        m->valid = true;
        m->family = a->family;
        m->addr = a->client;
        format_addr(&m->text, a->family, &a->client);
    }
    return &m->text;
}

static char *put_endpoint(char *p, const struct rep_addr_text *addr, uint16_t port)
{
    PUT_LIT(p, "{\"ip\":\"");
    p = put_addr_text(p, addr);
    PUT_LIT(p, "\",\"port\":");
    p = rep_put_u64(p, port);
    *p++ = '}';
    return p;
}

/* {"ip":"10.0.0.1","port":80} to out (a service line's server). */
static void json_endpoint(FILE *out, int family, const struct dec_addr *addr, uint16_t port)
{
    struct rep_addr_text text;
    format_addr(&text, family, addr);
    char line[32 + ADDR_ROOM];
    fwrite(line, 1, (size_t)(put_endpoint(line, &text, port) - line), out);
}

/* ",\"key\":" and milliseconds, or null when ns < 0; key is a string literal */
#define PUT_MS_FIELD(p, key, ns)                                                                   \
    do {                                                                                           \
        PUT_LIT((p), ",\"" key "\":");                                                             \
        if ((ns) < 0) {                                                                            \
            PUT_LIT((p), "null");                                                                  \
        } else {                                                                                   \
            (p) = put_ms((p), (ns));                                                               \
        }                                                                                          \
    } while (0)

/* ",\"key\":value" for an unsigned count; key is a string literal */
#define PUT_COUNT(p, key, v)                                                                       \
    do {                                                                                           \
        PUT_LIT((p), ",\"" key "\":");                                                             \
        (p) = rep_put_u64((p), (v));                                                               \
    } while (0)

/* The timestamp as rep_time_iso writes it. The date is formatted once per day and the time of
 * day from the seconds: attempts are not written in time order (refusals wait for evidence),
 * so a cache of the last second alone would miss often. */
static char *put_time(struct rep_report *r, char *p, int64_t ns)
{
    int64_t sec = ns / 1000000000;
    int64_t rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec -= 1;
    }
    int64_t day = sec / 86400, sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        day -= 1;
    }
    if (!r->ts_cached || day != r->ts_cache_day) {
        char full[REP_TIME_LEN];
        size_t n = rep_time_iso_sec(day * 86400, full);
        /* "YYYY-MM-DDThh:mm:ss" of a four-digit year; other years (never for int64_t
         * nanoseconds) take the slow way below */
        r->ts_date_ok = n == 19 && full[0] != '-';
        memcpy(r->ts_date, full, sizeof(r->ts_date));
        r->ts_cache_day = day;
        r->ts_cached = true;
    }
    if (r->ts_date_ok) {
        p = (char *)memcpy(p, r->ts_date, sizeof(r->ts_date)) + sizeof(r->ts_date);
        p = rep_put_hms(p, (unsigned)sod);
    } else {
        char full[REP_TIME_LEN];
        size_t n = rep_time_iso_sec(sec, full);
        if (n == 0) {
            PUT_LIT(p, "inva"); /* what rep_time_iso writes, without its last 8 characters */
        } else {
            p = (char *)memcpy(p, full, n) + n;
        }
    }
    p = rep_put_micros(p, (unsigned)(rem / 1000));
    *p++ = 'Z';
    return p;
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

static char *put_lit(char *p, struct lit v)
{
    return (char *)memcpy(p, v.s, v.n) + v.n;
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

/* The "answer" object: what answered the SYN, from where, at what distance. server is the
 * server address's text. */
static char *put_answer(char *p, const struct flow_attempt *a, const struct rep_judgement *j,
                        const struct rep_addr_text *server)
{
    PUT_LIT(p, ",\"answer\":{\"kind\":\"");
    p = put_lit(p, answer_kind(a->answer));
    PUT_LIT(p, "\",\"from\":\"");
    if (rep_addr_equal(&a->reply.from, &a->server)) {
        p = put_addr_text(p, server); /* most answers are the server's own */
    } else {
        struct rep_addr_text from;
        format_addr(&from, a->family, &a->reply.from);
        p = put_addr_text(p, &from);
    }
    *p++ = '"';
    PUT_COUNT(p, "ttl", a->reply.ttl);
    PUT_LIT(p, ",\"hops\":");
    p = rep_put_i64(p, j->hops);
    if (j->sender == REP_SENDER_ROUTER) {
        PUT_LIT(p, ",\"sender\":\"router\"");
    } else {
        PUT_LIT(p, ",\"sender\":\"server\"");
    }
    PUT_COUNT(p, "packet", a->reply.pkt);
    if (a->answer == FLOW_ANS_ICMP) {
        PUT_COUNT(p, "icmp_type", a->reply.icmp_type);
        PUT_COUNT(p, "icmp_code", a->reply.icmp_code);
    }
    if (a->reply.has_ip_id) {
        PUT_COUNT(p, "ip_id", a->reply.ip_id);
    }
    *p++ = '}';
    return p;
}

/* The "flags" array of an attempt's REP_FLAG_* bits. */
static char *put_flags(char *p, unsigned flags)
{
    PUT_LIT(p, ",\"flags\":[");
    bool first = true;
    for (unsigned bit = 0; bit < REP_FLAG_COUNT; bit++) {
        if (flags & (1u << bit)) {
            if (!first) {
                *p++ = ',';
            }
            *p++ = '"'; /* a static name like the verdict's: nothing to escape */
            p = put_name(p, rep_flag_name(bit));
            *p++ = '"';
            first = false;
        }
    }
    *p++ = ']';
    return p;
}

/* A JSON string of s cut to max bytes (escaped, at most 6 * max + 2 bytes), or null. */
static char *put_json_cut(char *p, const char *s, size_t max)
{
    if (s == NULL) {
        PUT_LIT(p, "null");
        return p;
    }
    char cut[512];
    size_t len = strnlen(s, max < sizeof(cut) - 1 ? max : sizeof(cut) - 1);
    memcpy(cut, s, len);
    cut[len] = '\0';
    return put_json_string(p, cut);
}

/* The listeners of the host object (at most 4; listener_total says how many there are). */
static char *put_listeners(char *p, const struct rep_host *h)
{
    PUT_LIT(p, ",\"listeners\":[");
    for (size_t i = 0; i < h->listener_count && i < 4; i++) {
        const struct rep_listener *l = &h->listeners[i];
        struct rep_addr_text ip;
        format_addr(&ip, l->family, &l->addr);
        if (i > 0) {
            *p++ = ',';
        }
        PUT_LIT(p, "{\"ip\":\"");
        p = put_addr_text(p, &ip);
        *p++ = '"';
        PUT_COUNT(p, "port", l->port);
        if (l->v6only) {
            PUT_LIT(p, ",\"v6only\":true");
        } else {
            PUT_LIT(p, ",\"v6only\":false");
        }
        PUT_COUNT(p, "queue", l->queue);
        PUT_COUNT(p, "backlog", l->backlog);
        PUT_LIT(p, ",\"pid\":");
        p = rep_put_i64(p, l->pid >= 0 ? l->pid : -1);
        PUT_LIT(p, ",\"comm\":");
        p = put_json_cut(p, l->pid >= 0 ? l->comm : NULL, 16);
        if (l->ifname != NULL && l->ifname[0] != '\0') {
            PUT_LIT(p, ",\"device\":");
            p = put_json_cut(p, l->ifname, 16);
        }
        *p++ = '}';
    }
    *p++ = ']';
    if (h->listener_total > h->listener_count) {
        PUT_COUNT(p, "listeners_total", h->listener_total);
    }
    return p;
}

/* The "host" object of an attempt: this host's account of it (issue 19). */
static char *put_host(char *p, const struct flow_attempt *a, const struct rep_judgement *j,
                      const struct rep_host *h)
{
    enum rep_host_cause cause = rep_host_cause(a, j, h);
    PUT_LIT(p, ",\"host\":{\"side\":\"");
    if (h->server_side) {
        PUT_LIT(p, "server");
    } else {
        PUT_LIT(p, "client");
    }
    PUT_LIT(p, "\",\"cause\":\"");
    p = put_name(p, rep_host_cause_name(cause));
    PUT_LIT(p, "\",\"kernel_reason\":");
    p = put_json_cut(p, rep_host_kernel_reason(a, h), 48);
    p = put_listeners(p, h);
    PUT_LIT(p, ",\"rule\":");
    p = put_json_cut(
        p, (a->host_facts & (FLOW_HOST_NFT_DROP | FLOW_HOST_NFT_REJECT)) ? h->rule : NULL, 200);
    char detail[768];
    rep_host_detail(detail, sizeof(detail), a, j, h, cause);
    PUT_LIT(p, ",\"detail\":");
    p = put_json_cut(p, detail, 400);
    *p++ = '}';
    return p;
}

/* Writes an attempt's line at p, which has LINE_MAX bytes of room; returns its end. */
static char *write_attempt(struct rep_report *r, char *p, const struct flow_attempt *a,
                           const struct rep_judgement *j, const struct rep_service *svc)
{
    /* the service row's text of the server address, formatted once per service */
    struct rep_addr_text formatted;
    const struct rep_addr_text *server = &formatted;
    if (svc != NULL) {
        server = &svc->addr_text;
    } else {
        format_addr(&formatted, a->family, &a->server);
    }
    PUT_LIT(p, "{\"type\":\"attempt\",\"ts\":\"");
    p = put_time(r, p, j->start_ns);
    PUT_LIT(p, "\",\"client\":");
    p = put_endpoint(p, client_text(r, a), a->client_port);
    PUT_LIT(p, ",\"server\":");
    p = put_endpoint(p, server, a->server_port);
    PUT_COUNT(p, "family", a->family);
    PUT_LIT(p, ",\"verdict\":\"");
    p = put_name(p, rep_verdict_name(j->verdict));
    PUT_LIT(p, "\",\"reason\":\"");
    p = put_name(p, j->reason);
    *p++ = '"';
    PUT_COUNT(p, "syns", a->syn_count);
    PUT_MS_FIELD(p, "rtt_ms", j->rtt_ns);
    PUT_MS_FIELD(p, "waited_ms", j->waited_ns);
    if (a->syn_count > 1) {
        PUT_LIT(p, ",\"retries_ms\":[");
        uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
        for (uint32_t i = 1; i < kept; i++) {
            if (i > 1) {
                *p++ = ',';
            }
            p = put_ms(p, a->syn_ns[i] - a->syn_ns[i - 1]);
        }
        *p++ = ']';
    }
    if (a->answer != FLOW_ANS_NONE) {
        p = put_answer(p, a, j, server);
    }
    if (a->server_rst_count > 0 && a->answer != FLOW_ANS_RST) {
        PUT_COUNT(p, "server_rsts", a->server_rst_count);
    }
    if (a->icmp_count > 0 && a->answer != FLOW_ANS_ICMP) {
        PUT_COUNT(p, "icmp_errors", a->icmp_count);
    }
    if (a->synack_count > 1) {
        PUT_COUNT(p, "synacks", a->synack_count);
    }
    if (j->flags != 0) {
        p = put_flags(p, j->flags);
    }
    if (j->evidence[0] != '\0') {
        PUT_LIT(p, ",\"evidence\":");
        p = put_json_string(p, j->evidence);
    }
    if (a->handshake_done) {
        PUT_LIT(p, ",\"handshake\":true");
    } else {
        PUT_LIT(p, ",\"handshake\":false");
    }
    if (a->handshake_done || a->client_bytes || a->server_bytes) {
        PUT_COUNT(p, "client_bytes", a->client_bytes);
        PUT_COUNT(p, "server_bytes", a->server_bytes);
    }
    PUT_LIT(p, ",\"end\":\"");
    p = put_lit(p, end_name(a->end));
    PUT_LIT(p, "\",\"zeek_conn_state\":\"");
    p = put_name(p, j->zeek_state);
    PUT_LIT(p, "\",\"history\":");
    p = put_json_string(p, a->history);
    PUT_LIT(p, ",\"packets\":[");
    uint32_t numbers = a->packet_count < FLOW_MAX_PACKETS ? a->packet_count : FLOW_MAX_PACKETS;
    for (uint32_t i = 0; i < numbers; i++) {
        if (i > 0) {
            *p++ = ',';
        }
        p = rep_put_u64(p, a->packets[i]);
    }
    *p++ = ']';
    PUT_COUNT(p, "packet_total", a->packet_total);
    if (r->host != NULL) {
        p = put_host(p, a, j, r->host);
    }
    PUT_LIT(p, "}\n");
    return p;
}

void rep_json_attempt(struct rep_report *r, const struct flow_attempt *a,
                      const struct rep_judgement *j, const struct rep_service *svc)
{
    if (r->json_buf == NULL) {
        r->json_buf = malloc(JSON_BUF_SIZE);
        r->json_len = 0;
    }
    if (r->json_buf == NULL) {
        char line[LINE_MAX];
        char *end = write_attempt(r, line, a, j, svc);
        fwrite(line, 1, (size_t)(end - line), r->opts.out);
        return;
    }
    if (JSON_BUF_SIZE - r->json_len < LINE_MAX) {
        rep_json_flush(r);
    }
    char *line = r->json_buf + r->json_len;
    r->json_len += (size_t)(write_attempt(r, line, a, j, svc) - line);
}

/* "name":n in a JSON object, after a comma unless it is the first. */
static void json_count(FILE *out, bool *first, const char *name, uint64_t n)
{
    fprintf(out, "%s\"%s\":%llu", *first ? "" : ",", name, (unsigned long long)n);
    *first = false;
}

static void json_verdict_map(FILE *out, const uint64_t *counts, bool all)
{
    bool first = true;
    fputc('{', out);
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (all || counts[v] != 0) {
            json_count(out, &first, rep_verdict_name((enum rep_verdict)v), counts[v]);
        }
    }
    fputc('}', out);
}

static void json_status_map(FILE *out, const uint64_t *status, bool problems)
{
    bool first = true;
    fputc('{', out);
    for (int s = problems ? DEC_SKIP_COUNT_END : DEC_SKIP_NOT_IP; s < DEC_P_COUNT; s++) {
        if (status[s] != 0 && dec_status_is_problem((enum dec_status)s) == problems) {
            json_count(out, &first, dec_status_name((enum dec_status)s), status[s]);
        }
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

/* A service's "host" object: its listeners now and the counters over the capture. */
static void json_service_host(struct rep_report *r, const struct rep_service *svc)
{
    struct rep_host h;
    memset(&h, 0, sizeof(h));
    h.nearest = -1;
    if (r->service_host == NULL ||
        !r->service_host(svc->family, &svc->addr, svc->port, &h, r->service_host_user)) {
        return;
    }
    char line[LINE_MAX];
    char *p = line;
    PUT_LIT(p, ",\"host\":{\"side\":\"server\"");
    p = put_listeners(p, &h);
    if (h.counters_known) {
        PUT_LIT(p, ",\"counters\":{");
        for (int c = 0; c < REP_HOST_CTR_COUNT; c++) {
            if (c > 0) {
                *p++ = ',';
            }
            p = put_json_cut(p, h.counter_names[c], 32);
            *p++ = ':';
            p = rep_put_u64(p, h.counters[c]);
        }
        *p++ = '}';
    }
    *p++ = '}';
    fwrite(line, 1, (size_t)(p - line), r->opts.out);
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
        json_service_host(r, svc);
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
                    rep_addr_str(d->family, &d->addr, ip), d->family);
            json_diagnoses(r, d->family, &d->addr, 0, true);
            fputs("}\n", out);
            continue;
        }
        fprintf(out, "{\"type\":\"host\",\"server\":{\"ip\":\"%s\"},\"family\":%u,\"diagnoses\":",
                rep_addr_str(d->family, &d->addr, ip), d->family);
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
