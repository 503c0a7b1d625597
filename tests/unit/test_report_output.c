/* test_report_output.c - the writers: JSON lines (fixed fields, one service object per server
 * address:port, one summary, escaping) and the text report (summary line, service rows, a
 * section per verdict with its explanation and evidence, decode problems, line widths). The
 * report writes into a memory stream; attempts come from the flow engine. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow_fixtures.h"
#include "report.h"

/* ---- the report under test: attempts from the engine, written into memory ---------------- */

struct written {
    char *text; /* what the report wrote, NUL-terminated */
    size_t length;
    char **lines; /* text split at '\n' (pointers into a copy) */
    size_t line_count;
    char *copy;
};

struct scenario {
    struct rig flows;
    struct rep_input_stats input;
    const char *files[2];
};

/* Six attempts to five services, 4 failed: a refusal, a dropped SYN with retries, an ICMP host
 * unreachable from a router, an IPv6 refusal and two accepted connections to one service. */
static void mixed_scenario(struct scenario *s)
{
    struct tuple refused = tuple4(40001, 81);
    struct tuple open1 = tuple4(40002, 80);
    struct tuple open2 = tuple4(40006, 80);
    struct tuple dropped = tuple4(40003, 443);
    struct tuple unreach = tuple4(40004, 22);
    struct tuple refused6 = tuple6(40005, 80);
    struct dec_addr router = addr4(10, 99, 0, 254);
    struct rig *r = &s->flows;

    dropped.server = addr4(10, 99, 0, 3);
    unreach.server = addr4(10, 99, 0, 4);
    memset(s, 0, sizeof(*s));
    rig_init(r);
    feed(r, syn(&refused, 1000), 0);                               /* 1 */
    feed(r, rst_ack(&refused, false, 0, 1001), 13000);             /* 2 */
    feed(r, syn(&dropped, 2000), 1 * MS);                          /* 3 */
    feed(r, syn(&open1, 3000), 2 * MS);                            /* 4 */
    feed(r, synack(&open1, 9000, 3001), 3 * MS);                   /* 5 */
    feed(r, ack_of(&open1, true, 3001, 9001), 4 * MS);             /* 6 */
    feed(r, data(&open1, true, 3001, 9001, 100), 5 * MS);          /* 7 */
    feed(r, data(&open1, false, 9001, 3101, 1000), 6 * MS);        /* 8 */
    feed(r, fin(&open1, true, 3101, 10001), 7 * MS);               /* 9 */
    feed(r, fin(&open1, false, 10001, 3102), 8 * MS);              /* 10 */
    feed(r, ack_of(&open1, true, 3102, 10002), 9 * MS);            /* 11 */
    feed(r, syn(&unreach, 4000), 10 * MS);                         /* 12 */
    feed(r, syn(&refused6, 5000), 1 * SEC);                        /* 13 */
    feed(r, rst_ack(&refused6, false, 0, 5001), 1 * SEC + 1 * MS); /* 14 */
    feed(r, syn(&dropped, 2000), 1 * SEC + 1 * MS);                /* 15 */
    feed(r, icmp_err(&router, &unreach, 4000, 3, 1), 2 * SEC);     /* 16 */
    feed(r, syn(&dropped, 2000), 3 * SEC + 1 * MS);                /* 17 */
    feed(r, syn(&open2, 6000), 3 * SEC + 2 * MS);                  /* 18 */
    feed(r, synack(&open2, 1, 6001), 3 * SEC + 3 * MS);            /* 19 */
    feed(r, ack_of(&open2, true, 6001, 2), 3 * SEC + 4 * MS);      /* 20 */
    advance_to(r, 60 * SEC);
    finish_all(r);
    cr_assert_eq(r->got.count, 6);

    s->files[0] = "first.pcap";
    s->files[1] = "we\"ird\nname\\.pcap";
    s->input.files = s->files;
    s->input.file_count = 2;
    s->input.packets = r->pkt + 5;
}

/* Runs the scenario's attempts through a report in the given format and returns its output. */
static struct written write_report(struct scenario *s, enum rep_format format)
{
    struct written w;
    struct rep_report *rep = NULL;
    char errbuf[128] = "";
    struct flow_stats stats = stats_of(&s->flows);

    memset(&w, 0, sizeof(w));
    FILE *out = open_memstream(&w.text, &w.length);
    cr_assert_not_null(out);
    struct rep_options opts = {.format = format, .out = out, .cfg = {.syn_timeout_ns = 3 * SEC}};
    cr_assert_eq(rep_create(&rep, &opts, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    for (size_t i = 0; i < s->flows.got.count; i++) {
        rep_attempt(rep, &s->flows.got.items[i]);
    }
    cr_assert_eq(rep_finish(rep, &s->input, &stats, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    rep_destroy(rep);
    cr_assert_eq(fclose(out), 0);
    cr_assert_not_null(w.text);
    cr_assert_eq(strlen(w.text), w.length, "a NUL byte in the output");
    cr_assert(w.length > 0 && w.text[w.length - 1] == '\n', "output ends without a newline");

    w.copy = strdup(w.text);
    cr_assert_not_null(w.copy);
    for (char *p = w.copy; *p != '\0'; p++) {
        w.line_count += *p == '\n';
    }
    w.lines = calloc(w.line_count, sizeof(*w.lines));
    cr_assert_not_null(w.lines);
    size_t n = 0;
    for (char *p = w.copy; *p != '\0';) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        w.lines[n++] = p;
        p = nl + 1;
    }
    return w;
}

static void written_free(struct written *w)
{
    free(w->lines);
    free(w->copy);
    free(w->text);
}

static void scenario_free(struct scenario *s)
{
    rig_free(&s->flows);
}

/* ---- a small JSON checker (RFC 8259): syntax only; values are checked by substring -------- */

static void json_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') {
        (*p)++;
    }
}

static bool json_string_ok(const char **p)
{
    if (**p != '"') {
        return false;
    }
    for ((*p)++; **p != '"'; (*p)++) {
        unsigned char c = (unsigned char)**p;
        if (c == '\0' || c < 0x20) {
            return false;
        }
        if (c == '\\') {
            (*p)++;
            if (**p == 'u') {
                for (int i = 0; i < 4; i++) {
                    (*p)++;
                    if (strchr("0123456789abcdefABCDEF", **p) == NULL || **p == '\0') {
                        return false;
                    }
                }
            } else if (**p == '\0' || strchr("\"\\/bfnrt", **p) == NULL) {
                return false;
            }
        }
    }
    (*p)++;
    return true;
}

static bool json_digits(const char **p)
{
    if (**p < '0' || **p > '9') {
        return false;
    }
    while (**p >= '0' && **p <= '9') {
        (*p)++;
    }
    return true;
}

static bool json_number_ok(const char **p)
{
    if (**p == '-') {
        (*p)++;
    }
    if (**p == '0') {
        (*p)++;
    } else if (!json_digits(p)) {
        return false;
    }
    if (**p == '.') {
        (*p)++;
        if (!json_digits(p)) {
            return false;
        }
    }
    if (**p == 'e' || **p == 'E') {
        (*p)++;
        if (**p == '+' || **p == '-') {
            (*p)++;
        }
        if (!json_digits(p)) {
            return false;
        }
    }
    return true;
}

static bool json_value_ok(const char **p, int depth)
{
    if (depth > 32) {
        return false;
    }
    json_ws(p);
    if (**p == '{' || **p == '[') {
        char close = **p == '{' ? '}' : ']';
        bool object = **p == '{';
        (*p)++;
        json_ws(p);
        if (**p == close) {
            (*p)++;
            return true;
        }
        for (;;) {
            if (object) {
                json_ws(p);
                if (!json_string_ok(p)) {
                    return false;
                }
                json_ws(p);
                if (**p != ':') {
                    return false;
                }
                (*p)++;
            }
            if (!json_value_ok(p, depth + 1)) {
                return false;
            }
            json_ws(p);
            if (**p == close) {
                (*p)++;
                return true;
            }
            if (**p != ',') {
                return false;
            }
            (*p)++;
        }
    }
    if (**p == '"') {
        return json_string_ok(p);
    }
    for (size_t i = 0; i < 3; i++) {
        static const char *const words[] = {"true", "false", "null"};
        size_t n = strlen(words[i]);
        if (strncmp(*p, words[i], n) == 0) {
            *p += n;
            return true;
        }
    }
    return json_number_ok(p);
}

/* A whole line is exactly one JSON object. */
static bool json_line_ok(const char *line)
{
    const char *p = line;
    json_ws(&p);
    if (*p != '{' || !json_value_ok(&p, 0)) {
        return false;
    }
    json_ws(&p);
    return *p == '\0';
}

Test(report_output, json_checker_self_test)
{
    cr_assert(json_line_ok("{}"));
    cr_assert(json_line_ok("{\"a\":[1,-2.5e3,\"x\\u000a\\\"\",true,null,{}],\"b\":{\"c\":0}}"));
    cr_assert_not(json_line_ok("{\"a\":1"));
    cr_assert_not(json_line_ok("{\"a\":1}}"));
    cr_assert_not(json_line_ok("{\"a\":\"x\ny\"}"));
    cr_assert_not(json_line_ok("{\"a\":01}"));
    cr_assert_not(json_line_ok("{\"a\":1,}"));
    cr_assert_not(json_line_ok("{\"a\" 1}"));
    cr_assert_not(json_line_ok("{\"a\":\"\\x\"}"));
    cr_assert_not(json_line_ok("[1]"));
}

/* The value after "key": in line (the first occurrence), up to the next ',' or '}' at depth 0
 * of that value; copied into buf. */
static const char *json_field(const char *line, const char *key, char *buf, size_t buflen)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\":", key);
    const char *p = strstr(line, pattern);
    cr_assert_not_null(p, "no \"%s\" in %s", key, line);
    p += strlen(pattern);
    const char *start = p;
    if (!json_value_ok(&p, 0)) {
        cr_assert_fail("bad value for %s in %s", key, line);
    }
    size_t n = (size_t)(p - start);
    cr_assert_lt(n, buflen);
    memcpy(buf, start, n);
    buf[n] = '\0';
    return buf;
}

static bool iso_time_ok(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (strlen(s) != strlen(shape)) {
        return false;
    }
    for (size_t i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
            return false;
        }
    }
    return true;
}

static size_t count_of(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* The line of the attempt from client port `port`. */
static const char *attempt_line(const struct written *w, unsigned port)
{
    char pattern[64];
    const char *found = NULL;
    snprintf(pattern, sizeof(pattern), "\"client\":{\"ip\":");
    for (size_t i = 0; i < w->line_count; i++) {
        char want[32];
        snprintf(want, sizeof(want), ",\"port\":%u},\"server\"", port);
        if (strstr(w->lines[i], "\"type\":\"attempt\"") && strstr(w->lines[i], want)) {
            cr_assert_null(found, "two attempt lines for port %u", port);
            found = w->lines[i];
        }
    }
    cr_assert_not_null(found, "no attempt line for client port %u", port);
    (void)pattern;
    return found;
}

/* ---- JSON lines --------------------------------------------------------------------------- */

Test(report_output, json_lines_are_valid_and_ordered)
{
    struct scenario s;
    mixed_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_JSON);

    cr_assert_eq(w.line_count, 6 + 5 + 1, "%zu lines:\n%s", w.line_count, w.text);
    for (size_t i = 0; i < w.line_count; i++) {
        cr_assert(json_line_ok(w.lines[i]), "line %zu is not one JSON object: %s", i + 1,
                  w.lines[i]);
        const char *type = i < 6    ? "{\"type\":\"attempt\""
                           : i < 11 ? "{\"type\":\"service\""
                                    : "{\"type\":\"summary\"";
        cr_assert_eq(strncmp(w.lines[i], type, strlen(type)), 0, "line %zu: %s", i + 1, w.lines[i]);
    }
    cr_assert_eq(count_of(w.text, "\"type\":\"summary\""), 1);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, json_attempt_has_the_fixed_fields)
{
    static const char *const fields[] = {
        "\"type\":\"attempt\"", "\"ts\":\"",      "\"client\":{\"ip\":\"",  "\"server\":{\"ip\":\"",
        "\"family\":",          "\"verdict\":\"", "\"reason\":\"",          "\"syns\":",
        "\"rtt_ms\":",          "\"waited_ms\":", "\"zeek_conn_state\":\"", "\"history\":\"",
        "\"packets\":[",
    };
    struct scenario s;
    mixed_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_JSON);

    for (size_t i = 0; i < 6; i++) {
        char buf[256];
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
            cr_assert_eq(count_of(w.lines[i], fields[k]), 1, "%s in %s", fields[k], w.lines[i]);
        }
        json_field(w.lines[i], "ts", buf, sizeof(buf));
        buf[strlen(buf) - 1] = '\0';
        cr_assert(iso_time_ok(buf + 1), "ts %s", buf);
        enum rep_verdict v;
        json_field(w.lines[i], "verdict", buf, sizeof(buf));
        buf[strlen(buf) - 1] = '\0';
        cr_assert_eq(rep_verdict_parse(buf + 1, &v), 0, "verdict %s", buf);
        bool answered = strstr(w.lines[i], "\"answer\":{") != NULL;
        cr_assert_eq(answered, strstr(w.lines[i], "\"rtt_ms\":null") == NULL, "%s", w.lines[i]);
        if (answered) {
            json_field(w.lines[i], "answer", buf, sizeof(buf));
            cr_assert(strstr(buf, "\"from\":\"") && strstr(buf, "\"ttl\":") &&
                          strstr(buf, "\"hops\":"),
                      "answer %s", buf);
        }
    }
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, json_refused_attempt_matches_the_design_example)
{
    struct scenario s;
    mixed_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_JSON);
    const char *line = attempt_line(&w, 40001);

    cr_assert_eq(strncmp(line,
                         "{\"type\":\"attempt\",\"ts\":\"2026-11-26T13:12:06.319804Z\","
                         "\"client\":{\"ip\":\"10.99.0.1\",\"port\":40001},"
                         "\"server\":{\"ip\":\"10.99.0.2\",\"port\":81},\"family\":4,"
                         "\"verdict\":\"refused\",\"reason\":\"rst\",\"syns\":1,"
                         "\"rtt_ms\":0.013,\"waited_ms\":0.013,",
                         strlen("{\"type\":\"attempt\",\"ts\":\"2026-11-26T13:12:06.319804Z\","
                                "\"client\":{\"ip\":\"10.99.0.1\",\"port\":40001},"
                                "\"server\":{\"ip\":\"10.99.0.2\",\"port\":81},\"family\":4,"
                                "\"verdict\":\"refused\",\"reason\":\"rst\",\"syns\":1,"
                                "\"rtt_ms\":0.013,\"waited_ms\":0.013,")),
                 0, "%s", line);
    cr_assert_not_null(strstr(line, "\"answer\":{\"kind\":\"rst\",\"from\":\"10.99.0.2\","
                                    "\"ttl\":63,\"hops\":1,\"sender\":\"server\",\"packet\":2"),
                       "%s", line);
    cr_assert_not_null(strstr(line, "\"zeek_conn_state\":\"REJ\",\"history\":\"Sr\","
                                    "\"packets\":[1,2]"),
                       "%s", line);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, json_other_attempts)
{
    struct scenario s;
    mixed_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_JSON);
    const char *line;

    line = attempt_line(&w, 40003); /* dropped: three SYNs, no answer */
    cr_assert_not_null(strstr(line, "\"server\":{\"ip\":\"10.99.0.3\",\"port\":443}"));
    cr_assert_not_null(strstr(line, "\"verdict\":\"dropped\",\"reason\":\"no-answer\",\"syns\":3,"
                                    "\"rtt_ms\":null,\"waited_ms\":3000.000"),
                       "%s", line);
    cr_assert_not_null(strstr(line, "\"retries_ms\":[1000.000,2000.000]"), "%s", line);
    cr_assert_null(strstr(line, "\"answer\""));
    cr_assert_not_null(strstr(line, "\"zeek_conn_state\":\"S0\",\"history\":\"S\","
                                    "\"packets\":[3,15,17]"),
                       "%s", line);

    line = attempt_line(&w, 40004); /* unreachable: host, from a router two hops away */
    cr_assert_not_null(strstr(line, "\"verdict\":\"unreachable\",\"reason\":\"host\""), "%s", line);
    cr_assert_not_null(strstr(line, "\"answer\":{\"kind\":\"icmp\",\"from\":\"10.99.0.254\","
                                    "\"ttl\":62,\"hops\":2,\"sender\":\"router\",\"packet\":16,"
                                    "\"icmp_type\":3,\"icmp_code\":1}"),
                       "%s", line);
    cr_assert_not_null(strstr(line, "\"rtt_ms\":1990.000,\"waited_ms\":1990.000"), "%s", line);
    cr_assert_not_null(strstr(line, "\"packets\":[12,16]"), "%s", line);

    line = attempt_line(&w, 40005); /* IPv6 refusal */
    cr_assert_not_null(strstr(line, "\"client\":{\"ip\":\"fd00:99::1\",\"port\":40005},"
                                    "\"server\":{\"ip\":\"fd00:99::2\",\"port\":80},\"family\":6,"
                                    "\"verdict\":\"refused\""),
                       "%s", line);
    cr_assert_not_null(strstr(line, "\"from\":\"fd00:99::2\""), "%s", line);
    cr_assert_null(strstr(line, "\"ip_id\""), "%s", line);

    line = attempt_line(&w, 40002); /* accepted, closed with FINs */
    cr_assert_not_null(strstr(line, "\"verdict\":\"accepted\",\"reason\":\"syn-ack\""), "%s", line);
    cr_assert_not_null(strstr(line, "\"zeek_conn_state\":\"SF\",\"history\":\"ShADdFf\""), "%s",
                       line);
    cr_assert_not_null(strstr(line, "\"client_bytes\":100,\"server_bytes\":1000"), "%s", line);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, json_one_service_object_per_server_port)
{
    static const char *const servers[] = {
        "\"server\":{\"ip\":\"10.99.0.2\",\"port\":81}",
        "\"server\":{\"ip\":\"10.99.0.2\",\"port\":80}",
        "\"server\":{\"ip\":\"10.99.0.3\",\"port\":443}",
        "\"server\":{\"ip\":\"10.99.0.4\",\"port\":22}",
        "\"server\":{\"ip\":\"fd00:99::2\",\"port\":80}",
    };
    struct scenario s;
    mixed_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_JSON);

    for (size_t k = 0; k < 5; k++) {
        size_t found = 0;
        for (size_t i = 0; i < w.line_count; i++) {
            if (strncmp(w.lines[i], "{\"type\":\"service\",", 18) == 0 &&
                strstr(w.lines[i], servers[k]) != NULL) {
                found++;
                cr_assert_not_null(strstr(w.lines[i], "\"diagnoses\":["), "%s", w.lines[i]);
                if (k == 1) {
                    cr_assert_not_null(
                        strstr(w.lines[i], "\"attempts\":2,\"verdicts\":{\"accepted\":2}"), "%s",
                        w.lines[i]);
                }
                if (k == 4) {
                    cr_assert_not_null(strstr(w.lines[i], "\"family\":6"), "%s", w.lines[i]);
                }
            }
        }
        cr_assert_eq(found, 1, "%zu service objects for %s", found, servers[k]);
    }
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, json_summary_counts_and_escapes)
{
    struct scenario s;
    mixed_scenario(&s);
    s.input.decode_status[DEC_P_IP4_BAD_IHL] = 3;
    s.input.decode_status[DEC_P_TCP_TRUNCATED] = 2;
    s.input.decode_status[DEC_SKIP_NOT_IP] = 7;
    s.input.error = "read error: \"x\"";
    struct written w = write_report(&s, REP_FORMAT_JSON);
    const char *summary = w.lines[w.line_count - 1];
    char buf[1024];

    cr_assert(json_line_ok(summary), "%s", summary);
    cr_assert_str_eq(json_field(summary, "files", buf, sizeof(buf)),
                     "[\"first.pcap\",\"we\\\"ird\\u000aname\\\\.pcap\"]");
    cr_assert_str_eq(json_field(summary, "packets", buf, sizeof(buf)), "25");
    cr_assert_str_eq(json_field(summary, "attempts", buf, sizeof(buf)), "6");
    cr_assert_str_eq(json_field(summary, "evicted", buf, sizeof(buf)), "0");
    cr_assert_str_eq(json_field(summary, "input_error", buf, sizeof(buf)),
                     "\"read error: \\\"x\\\"\"");

    /* every verdict is in the map, and the counts add up to the attempts */
    json_field(summary, "verdicts", buf, sizeof(buf));
    unsigned long long sum = 0;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        char key[48];
        snprintf(key, sizeof(key), "\"%s\":", rep_verdict_name((enum rep_verdict)v));
        const char *at = strstr(buf, key);
        cr_assert_not_null(at, "%s missing from %s", key, buf);
        char *end = NULL;
        sum += strtoull(at + strlen(key), &end, 10);
        cr_assert(end != at + strlen(key));
    }
    cr_assert_eq(sum, 6, "verdicts %s", buf);
    cr_assert_not_null(strstr(buf, "\"accepted\":2,"));
    cr_assert_not_null(strstr(buf, "\"refused\":2,"));
    cr_assert_not_null(strstr(buf, "\"unreachable\":1,"));
    cr_assert_not_null(strstr(buf, "\"dropped\":1,"));

    char want[128];
    snprintf(want, sizeof(want), "{\"%s\":3,\"%s\":2}", dec_status_name(DEC_P_IP4_BAD_IHL),
             dec_status_name(DEC_P_TCP_TRUNCATED));
    cr_assert_str_eq(json_field(summary, "decode_problems", buf, sizeof(buf)), want);
    snprintf(want, sizeof(want), "{\"%s\":7}", dec_status_name(DEC_SKIP_NOT_IP));
    cr_assert_str_eq(json_field(summary, "ignored", buf, sizeof(buf)), want);
    written_free(&w);
    scenario_free(&s);
}

/* A SYN-ACK of t with these options (the fixture's carries none). */
static struct dec_event synack_opts(const struct tuple *t, uint32_t server_isn, uint32_t ack,
                                    uint8_t present)
{
    struct dec_event ev = synack(t, server_isn, ack);
    ev.opts.present = present;
    ev.opts.mss = (present & DEC_OPT_MSS) ? 1460 : 0;
    ev.opts.wscale = (present & DEC_OPT_WSCALE) ? 7 : 0;
    return ev;
}

/* Attempts whose facts make the flags and the diagnoses that count them, each to its own
 * service (the client's SYNs offer MSS 1460, SACK and window scaling, no timestamps):
 *   port 96: a SYN-ACK with full options (41001), later one stripped to its MSS (41002);
 *   port 97: data segments of 1300 bytes, from the cookie MSS table (41003);
 *   port 98: SYN-ACKs stripped to the MSS and no full one (41004): a stack without options;
 *   port 95: the SYN-ACK re-sent after the client's ACK (41005);
 *   port 81: a RST, then the server's own SYN-ACK to the same SYN (41006);
 *   port 99: a RST and an ICMP error, each answered by a retried SYN and then a SYN-ACK
 *            (41007, 41008), a server RST ending the first, the second SYN-ACK sent twice. */
static void flags_scenario(struct scenario *s)
{
    const uint8_t full = DEC_OPT_MSS | DEC_OPT_WSCALE | DEC_OPT_SACK_OK;
    struct tuple cookie_full = tuple4(41001, 96);
    struct tuple cookie_stripped = tuple4(41002, 96);
    struct tuple cookie_mss = tuple4(41003, 97);
    struct tuple no_options = tuple4(41004, 98);
    struct tuple queue_full = tuple4(41005, 95);
    struct tuple late = tuple4(41006, 81);
    struct tuple after_rst = tuple4(41007, 99);
    struct tuple after_icmp = tuple4(41008, 99);
    struct rig *r = &s->flows;

    memset(s, 0, sizeof(*s));
    rig_init(r);
    feed(r, syn(&cookie_full, 1000), 0);
    feed(r, synack_opts(&cookie_full, 7000, 1001, full), 1 * MS);
    feed(r, ack_of(&cookie_full, true, 1001, 7001), 2 * MS);
    feed(r, fin(&cookie_full, true, 1001, 7001), 3 * MS);
    feed(r, fin(&cookie_full, false, 7001, 1002), 4 * MS);
    feed(r, ack_of(&cookie_full, true, 1002, 7002), 5 * MS);
    advance_to(r, 10 * SEC); /* written before the stripped one comes */
    cr_assert_eq(r->got.count, 1);

    feed(r, syn(&cookie_stripped, 2000), 10 * SEC);
    feed(r, synack_opts(&cookie_stripped, 8000, 2001, DEC_OPT_MSS), 10 * SEC + 1 * MS);
    feed(r, ack_of(&cookie_stripped, true, 2001, 8001), 10 * SEC + 2 * MS);

    feed(r, syn(&cookie_mss, 3000), 10 * SEC + 3 * MS);
    feed(r, synack(&cookie_mss, 9000, 3001), 10 * SEC + 4 * MS);
    feed(r, ack_of(&cookie_mss, true, 3001, 9001), 10 * SEC + 5 * MS);
    feed(r, data(&cookie_mss, false, 9001, 3001, 1300), 10 * SEC + 6 * MS);

    feed(r, syn(&no_options, 4000), 10 * SEC + 7 * MS);
    feed(r, synack_opts(&no_options, 1, 4001, DEC_OPT_MSS), 10 * SEC + 8 * MS);
    feed(r, ack_of(&no_options, true, 4001, 2), 10 * SEC + 9 * MS);

    feed(r, syn(&queue_full, 5000), 10 * SEC + 10 * MS);
    feed(r, synack(&queue_full, 500, 5001), 10 * SEC + 11 * MS);
    feed(r, ack_of(&queue_full, true, 5001, 501), 10 * SEC + 12 * MS);
    feed(r, synack(&queue_full, 500, 5001), 11 * SEC + 11 * MS); /* the ACK was not queued */

    feed(r, syn(&late, 6000), 10 * SEC + 20 * MS);
    feed(r, rst_ack(&late, false, 0, 6001), 10 * SEC + 21 * MS);
    feed(r, synack(&late, 600, 6001), 10 * SEC + 22 * MS);

    feed(r, syn(&after_rst, 7000), 10 * SEC + 30 * MS);
    feed(r, rst_ack(&after_rst, false, 0, 7001), 10 * SEC + 31 * MS);
    feed(r, syn(&after_rst, 7000), 11 * SEC + 30 * MS);
    feed(r, synack(&after_rst, 700, 7001), 11 * SEC + 31 * MS);
    feed(r, ack_of(&after_rst, true, 7001, 701), 11 * SEC + 32 * MS);
    feed(r, data(&after_rst, true, 7001, 701, 10), 11 * SEC + 33 * MS);
    feed(r, data(&after_rst, false, 701, 7011, 20), 11 * SEC + 34 * MS);
    feed(r, rst_ack(&after_rst, false, 721, 7011), 11 * SEC + 35 * MS);

    feed(r, syn(&after_icmp, 8000), 10 * SEC + 40 * MS);
    feed(r, icmp_err(&after_icmp.server, &after_icmp, 8000, 3, 13), 10 * SEC + 41 * MS);
    feed(r, syn(&after_icmp, 8000), 11 * SEC + 40 * MS);
    feed(r, synack(&after_icmp, 800, 8001), 11 * SEC + 41 * MS);
    feed(r, synack(&after_icmp, 800, 8001), 12 * SEC + 41 * MS);
    feed(r, ack_of(&after_icmp, true, 8001, 801), 12 * SEC + 42 * MS);
    advance_to(r, 60 * SEC);
    finish_all(r);
    cr_assert_eq(r->got.count, 8);
    s->input.packets = r->pkt;
}

/* The "flags" array of an attempt line, "" when it has none. */
static const char *flags_of(const char *line, char *buf, size_t buflen)
{
    if (strstr(line, "\"flags\":") == NULL) {
        buf[0] = '\0';
        return buf;
    }
    return json_field(line, "flags", buf, buflen);
}

/* The diagnoses array of the service object of 10.99.0.2:port. */
static const char *service_diagnoses(const struct written *w, unsigned port, char *buf,
                                     size_t buflen)
{
    char want[64];
    snprintf(want, sizeof(want), "\"server\":{\"ip\":\"10.99.0.2\",\"port\":%u}", port);
    for (size_t i = 0; i < w->line_count; i++) {
        if (strncmp(w->lines[i], "{\"type\":\"service\",", 18) == 0 &&
            strstr(w->lines[i], want) != NULL) {
            return json_field(w->lines[i], "diagnoses", buf, buflen);
        }
    }
    cr_assert_fail("no service object for port %u", port);
    return NULL;
}

/* README: "flags" notes syncookie, synack-after-ack, late-synack; an attempt flagged
 * syncookie or synack-after-ack comes with its service's syn-cookies or overloaded
 * diagnosis, since both are read from the same facts. */
Test(report_output, json_attempt_flags_agree_with_the_service_diagnoses)
{
    static const struct {
        unsigned client_port, server_port;
        const char *flags;     /* the attempt's "flags" value, "" for none */
        const char *diagnosis; /* a diagnosis its service carries, or NULL for none */
    } cases[] = {
        {41001, 96, "", "\"kind\":\"syn-cookies\""},
        {41002, 96, "[\"syncookie\"]", "\"kind\":\"syn-cookies\""},
        {41003, 97, "[\"syncookie\"]", "\"kind\":\"syn-cookies\""},
        {41004, 98, "", NULL},
        {41005, 95, "[\"synack-after-ack\"]", "\"kind\":\"overloaded\""},
        {41006, 81, "[\"late-synack\"]", NULL},
        {41007, 99, "", NULL},
        {41008, 99, "", NULL},
    };
    struct scenario s;
    flags_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_JSON);
    char buf[2048];

    cr_assert_lt(attempt_line(&w, 41001), attempt_line(&w, 41002),
                 "the full SYN-ACK's attempt must be written first");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *line = attempt_line(&w, cases[i].client_port);
        cr_assert_str_eq(flags_of(line, buf, sizeof(buf)), cases[i].flags, "%s", line);
        service_diagnoses(&w, cases[i].server_port, buf, sizeof(buf));
        if (cases[i].diagnosis != NULL) {
            cr_assert_not_null(strstr(buf, cases[i].diagnosis), "port %u: %s", cases[i].server_port,
                               buf);
        } else {
            cr_assert_null(strstr(buf, "syn-cookies"), "port %u: %s", cases[i].server_port, buf);
            cr_assert_null(strstr(buf, "overloaded"), "port %u: %s", cases[i].server_port, buf);
        }
    }
    /* the late SYN-ACK is the server's own: the RST was not (README, refused-by-middlebox) */
    cr_assert_not_null(strstr(attempt_line(&w, 41006), "\"verdict\":\"refused-by-middlebox\""));
    written_free(&w);
    scenario_free(&s);
}

/* ---- every field README's "JSON lines" section names -------------------------------------- */

/* One field: in objects of this type, inside the value of `parent` (NULL: the object itself),
 * with a value of one of these JSON types (s string, n number, o object, a array, b boolean,
 * z null); `always` when every such object has it. */
struct documented_field {
    const char *type, *parent, *key, *types;
    bool always;
};

/* README.md, "JSON lines": the attempt table, the answer's and the handshake's keys, the
 * service and summary objects (a live capture's "capture" object is checked by tests/live). */
static const struct documented_field documented_fields[] = {
    {"attempt", NULL, "type", "s", true},
    {"attempt", NULL, "ts", "s", true},
    {"attempt", NULL, "client", "o", true},
    {"attempt", "client", "ip", "s", true},
    {"attempt", "client", "port", "n", true},
    {"attempt", NULL, "server", "o", true},
    {"attempt", "server", "ip", "s", true},
    {"attempt", "server", "port", "n", true},
    {"attempt", NULL, "family", "n", true},
    {"attempt", NULL, "verdict", "s", true},
    {"attempt", NULL, "reason", "s", true},
    {"attempt", NULL, "syns", "n", true},
    {"attempt", NULL, "retries_ms", "a", false},
    {"attempt", NULL, "rtt_ms", "nz", true},
    {"attempt", NULL, "waited_ms", "n", true},
    {"attempt", NULL, "answer", "o", false},
    {"attempt", "answer", "kind", "s", true},
    {"attempt", "answer", "from", "s", true},
    {"attempt", "answer", "ttl", "n", true},
    {"attempt", "answer", "hops", "n", true},
    {"attempt", "answer", "sender", "s", true},
    {"attempt", "answer", "packet", "n", true},
    {"attempt", "answer", "icmp_type", "n", false},
    {"attempt", "answer", "icmp_code", "n", false},
    {"attempt", "answer", "ip_id", "n", false},
    {"attempt", NULL, "handshake", "b", true},
    {"attempt", NULL, "client_bytes", "n", false},
    {"attempt", NULL, "server_bytes", "n", false},
    {"attempt", NULL, "end", "s", true},
    {"attempt", NULL, "flags", "a", false},
    {"attempt", NULL, "evidence", "s", false},
    {"attempt", NULL, "server_rsts", "n", false},
    {"attempt", NULL, "icmp_errors", "n", false},
    {"attempt", NULL, "synacks", "n", false},
    {"attempt", NULL, "zeek_conn_state", "s", true},
    {"attempt", NULL, "history", "s", true},
    {"attempt", NULL, "packets", "a", true},
    {"attempt", NULL, "packet_total", "n", true},
    {"service", NULL, "type", "s", true},
    {"service", NULL, "server", "o", true},
    {"service", "server", "ip", "s", true},
    {"service", "server", "port", "n", true},
    {"service", NULL, "family", "n", true},
    {"service", NULL, "attempts", "n", true},
    {"service", NULL, "verdicts", "o", true},
    {"service", NULL, "diagnoses", "a", true},
    {"service", "diagnoses", "kind", "s", false},
    {"service", "diagnoses", "summary", "s", false},
    {"service", "diagnoses", "causes", "s", false},
    {"service", "diagnoses", "ruled_out", "s", false},
    {"service", "diagnoses", "next", "s", false},
    {"summary", NULL, "type", "s", true},
    {"summary", NULL, "files", "a", true},
    {"summary", NULL, "packets", "n", true},
    {"summary", NULL, "attempts", "n", true},
    {"summary", NULL, "verdicts", "o", true},
    {"summary", NULL, "decode_problems", "o", true},
    {"summary", NULL, "ignored", "o", true},
    {"summary", NULL, "evicted", "n", true},
    {"summary", NULL, "peak_tracked", "n", true},
    {"summary", NULL, "unmatched", "o", true},
    {"summary", "unmatched", "syn-ack", "n", true},
    {"summary", "unmatched", "rst", "n", true},
    {"summary", "unmatched", "icmp", "n", true},
    {"summary", NULL, "invalid_answers", "n", true},
    {"summary", NULL, "midstream_packets", "n", true},
    {"summary", NULL, "late_packets", "n", true},
    {"summary", NULL, "input_error", "s", false},
};

/* The JSON type letter of a value's text (see struct documented_field). */
static char json_type(const char *value)
{
    switch (value[0]) {
    case '"':
        return 's';
    case '{':
        return 'o';
    case '[':
        return 'a';
    case 't':
    case 'f':
        return 'b';
    case 'n':
        return 'z';
    default:
        return (value[0] == '-' || (value[0] >= '0' && value[0] <= '9')) ? 'n' : '?';
    }
}

/* README.md's "JSON lines" section, read beside this file; heap memory. */
static char *readme_json_section(void)
{
    char path[4096];
    const char *slash = strrchr(__FILE__, '/');
    cr_assert_not_null(slash, "__FILE__ %s has no directory", __FILE__);
    snprintf(path, sizeof(path), "%.*s/../../README.md", (int)(slash - __FILE__), __FILE__);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *start = strstr(text, "\n## JSON lines\n");
    cr_assert_not_null(start, "no JSON lines section in %s", path);
    char *end = strstr(start + 1, "\n## ");
    return strndup(start, end != NULL ? (size_t)(end - start) : strlen(start));
}

Test(report_output, json_every_documented_field_is_written_with_its_type)
{
    struct scenario mixed, flagged;
    mixed_scenario(&mixed);
    mixed.input.decode_status[DEC_P_IP4_BAD_IHL] = 1;
    mixed.input.error = "damaged after record 3";
    flags_scenario(&flagged);
    struct written w[2] = {write_report(&mixed, REP_FORMAT_JSON),
                           write_report(&flagged, REP_FORMAT_JSON)};
    char *readme = readme_json_section();

    for (size_t f = 0; f < sizeof(documented_fields) / sizeof(documented_fields[0]); f++) {
        const struct documented_field *d = &documented_fields[f];
        char want_type[32], key[48], parent_buf[4096], value[4096];
        snprintf(want_type, sizeof(want_type), "{\"type\":\"%s\",", d->type);
        snprintf(key, sizeof(key), "\"%s\":", d->key);
        snprintf(value, sizeof(value), "`%s`", d->key);
        cr_assert(strstr(readme, value) != NULL || strstr(readme, key) != NULL,
                  "README's JSON section names no %s", value);
        size_t objects = 0, with_key = 0;
        for (size_t k = 0; k < 2; k++) {
            for (size_t i = 0; i < w[k].line_count; i++) {
                const char *in = w[k].lines[i];
                if (strncmp(in, want_type, strlen(want_type)) != 0) {
                    continue;
                }
                if (d->parent != NULL) {
                    char parent_key[48];
                    snprintf(parent_key, sizeof(parent_key), "\"%s\":", d->parent);
                    if (strstr(in, parent_key) == NULL) {
                        continue;
                    }
                    in = json_field(in, d->parent, parent_buf, sizeof(parent_buf));
                    if (strcmp(in, "[]") == 0) {
                        continue; /* a service without diagnoses */
                    }
                }
                objects++;
                if (strstr(in, key) == NULL) {
                    cr_assert_not(d->always, "%s %s%s%s missing from %s", d->type,
                                  d->parent ? d->parent : "", d->parent ? "." : "", d->key, in);
                    continue;
                }
                with_key++;
                json_field(in, d->key, value, sizeof(value));
                cr_assert_not_null(strchr(d->types, json_type(value)),
                                   "%s %s: %s is not of type %s", d->type, d->key, value, d->types);
            }
        }
        cr_assert_gt(objects, 0, "no %s object%s%s to look for %s in", d->type,
                     d->parent ? " with " : "", d->parent ? d->parent : "", d->key);
        cr_assert_gt(with_key, 0, "no %s object has %s%s%s", d->type, d->parent ? d->parent : "",
                     d->parent ? "." : "", d->key);
    }
    free(readme);
    written_free(&w[0]);
    written_free(&w[1]);
    scenario_free(&mixed);
    scenario_free(&flagged);
}

Test(report_output, json_empty_input)
{
    struct scenario s;
    memset(&s, 0, sizeof(s));
    rig_init(&s.flows);
    finish_all(&s.flows);
    struct written w = write_report(&s, REP_FORMAT_JSON);

    cr_assert_eq(w.line_count, 1, "%s", w.text);
    cr_assert(json_line_ok(w.lines[0]), "%s", w.lines[0]);
    cr_assert_not_null(strstr(w.lines[0], "\"files\":[],\"packets\":0,\"attempts\":0,"));
    cr_assert_not_null(strstr(w.lines[0], "\"decode_problems\":{}"));
    written_free(&w);
    scenario_free(&s);
}

/* ---- text --------------------------------------------------------------------------------- */

static bool is_evidence_line(const char *line)
{
    /* "  13:12:06.319804  10.99.0.1:40001 -> ..." */
    const char *shape = "  dd:dd:dd.dddddd  ";
    for (size_t i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? (line[i] < '0' || line[i] > '9') : line[i] != shape[i]) {
            return false;
        }
    }
    return true;
}

/* Text for people: explanations and advice wrap at 96 columns, nothing else but the evidence
 * lines (one per attempt, so that grep finds them whole) goes past 120, and the service rows
 * keep their columns under the header's. */
static void check_line_widths(const struct written *w)
{
    char report[4096] = "";
    size_t used = 0;

    for (size_t i = 0; i < w->line_count; i++) {
        const char *line = w->lines[i];
        size_t width = strlen(line);
        bool wrapped = strncmp(line, "  ", 2) == 0 && strncmp(line, "  ... ", 6) != 0;
        if (is_evidence_line(line) || width <= (wrapped ? 96u : 120u)) {
            continue;
        }
        if (used < sizeof(report)) {
            used +=
                (size_t)snprintf(report + used, sizeof(report) - used, "\n%zu: %s", width, line);
        }
    }
    cr_assert_eq(used, 0, "lines too wide:%s", report);

    for (size_t i = 0; i < w->line_count; i++) {
        const char *state = strstr(w->lines[i], "  STATE");
        if (strncmp(w->lines[i], "SERVICE ", 8) != 0 || state == NULL) {
            continue;
        }
        size_t column = (size_t)(state - w->lines[i]) + 2;
        for (size_t k = i + 1; k < w->line_count && w->lines[k][0] != '\0'; k++) {
            const char *row = w->lines[k];
            if (strncmp(row, "... ", 4) == 0 || strlen(row) <= column) {
                continue; /* "... and N more", or an endpoint on its own line */
            }
            cr_assert(row[column - 3] >= '0' && row[column - 3] <= '9' && row[column - 2] == ' ' &&
                          row[column - 1] == ' ' && row[column] != ' ',
                      "row not aligned with the header:\n%s\n%s", w->lines[i], row);
        }
    }
}

/* The text with every line break and the indentation after it turned into one space, so a
 * phrase is found wherever the wrapping broke it. */
static char *flat(const char *text)
{
    char *out = malloc(strlen(text) + 1);
    size_t o = 0;

    cr_assert_not_null(out);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\n') {
            while (p[1] == ' ') {
                p++;
            }
            out[o++] = ' ';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

static size_t line_index(const struct written *w, const char *prefix)
{
    for (size_t i = 0; i < w->line_count; i++) {
        if (strncmp(w->lines[i], prefix, strlen(prefix)) == 0) {
            return i;
        }
    }
    cr_assert_fail("no line starting with \"%s\" in:\n%s", prefix, w->text);
    return 0;
}

Test(report_output, text_mixed_report)
{
    struct scenario s;
    mixed_scenario(&s);
    struct written w = write_report(&s, REP_FORMAT_TEXT);

    cr_assert_str_eq(w.lines[0], "synscope: 25 packets, 6 connection attempts, 4 failed "
                                 "(2026-11-26T13:12:06.319804Z to 2026-11-26T13:12:09.323804Z)");
    size_t header = line_index(&w, "SERVICE ");
    cr_assert_not_null(strstr(w.lines[header], "ATTEMPTS"));
    size_t row = line_index(&w, "10.99.0.2:80 ");
    cr_assert_gt(row, header);
    cr_assert_not_null(strstr(w.lines[row], " 2        2        0        0        0        0  ok"),
                       "%s", w.lines[row]);
    row = line_index(&w, "10.99.0.3:443 ");
    cr_assert_not_null(strstr(w.lines[row], "  dropped"), "%s", w.lines[row]);
    line_index(&w, "[fd00:99::2]:80 ");

    size_t refused = line_index(&w, "REFUSED: 2 attempts");
    size_t unreach = line_index(&w, "UNREACHABLE: 1 attempt");
    size_t dropped = line_index(&w, "DROPPED: 1 attempt");
    cr_assert(refused < unreach && unreach < dropped, "sections in the verdict order");
    cr_assert_null(strstr(w.text, "ACCEPTED:"));
    cr_assert_not_null(strstr(w.lines[refused + 1], "  The server's host answered the SYN"));
    /* two ports: the advice keeps the placeholder */
    char *text = flat(w.text);
    cr_assert_not_null(strstr(text, "ss -ltnp 'sport = :PORT'"), "%s", text);
    free(text);

    size_t ev = line_index(&w, "  13:12:06.319804  10.99.0.1:40001 -> 10.99.0.2:81  ");
    cr_assert_gt(ev, refused);
    cr_assert_str_eq(w.lines[ev], "  13:12:06.319804  10.99.0.1:40001 -> 10.99.0.2:81  RST from "
                                  "10.99.0.2 after 0.013 ms, ttl 63 (1 hop); the RST arrived 1 hop "
                                  "away, like the server's own packets  pkts 1,2");
    ev = line_index(&w, "  13:12:07.319804  [fd00:99::1]:40005 -> [fd00:99::2]:80  RST from");
    cr_assert_not_null(strstr(w.lines[ev], "  pkts 13,14"));
    ev = line_index(&w, "  13:12:06.329804  10.99.0.1:40004 -> 10.99.0.4:22  ICMP host "
                        "unreachable (3/1) from router 10.99.0.254");
    cr_assert_not_null(strstr(w.lines[ev], "after 2.0 s, ttl 62 (2 hops)  pkts 12,16"), "%s",
                       w.lines[ev]);
    ev = line_index(&w, "  13:12:06.320804  10.99.0.1:40003 -> 10.99.0.3:443  3 SYNs over 3.0 s");
    cr_assert_not_null(strstr(w.lines[ev], "(retries +1.0 +2.0 s)  pkts 3,15,17"), "%s",
                       w.lines[ev]);
    line_index(&w, "  host: Host unreachable");
    cr_assert_not_null(strstr(w.text, "\nDecode problems: none.\n"));
    check_line_widths(&w);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, text_single_port_advice_and_decode_problems)
{
    struct tuple t = tuple4(40001, 8080);
    struct scenario s;

    memset(&s, 0, sizeof(s));
    rig_init(&s.flows);
    feed(&s.flows, syn(&t, 1000), 0);
    feed(&s.flows, rst_ack(&t, false, 0, 1001), 1 * MS);
    finish_all(&s.flows);
    s.input.packets = 9;
    s.input.decode_status[DEC_P_IP4_BAD_IHL] = 3;
    s.input.decode_status[DEC_P_TCP_TRUNCATED] = 4;
    struct written w = write_report(&s, REP_FORMAT_TEXT);

    char *text = flat(w.text);
    cr_assert_not_null(strstr(text, "ss -ltnp 'sport = :8080'"), "%s", text);
    cr_assert_null(strstr(text, "PORT"));
    free(text);
    line_index(&w, "REFUSED: 1 attempt");
    char want[160];
    snprintf(want, sizeof(want), "Decode problems: 7 packets could not be decoded: %s 3 %s 4",
             dec_status_name(DEC_P_IP4_BAD_IHL), dec_status_name(DEC_P_TCP_TRUNCATED));
    cr_assert_str_eq(w.lines[line_index(&w, "Decode problems:")], want);
    check_line_widths(&w);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, text_every_engine_verdict_stays_readable)
{
    /* one attempt of each verdict the engine leads to, to one service each */
    struct scenario s;
    struct dec_addr router = addr4(10, 99, 0, 254);
    struct rig *r = &s.flows;
    uint16_t port = 1000;

    memset(&s, 0, sizeof(s));
    rig_init(r);
    struct tuple t = tuple4(50000, port++); /* reset-after-accept */
    feed(r, syn(&t, 1), 0);
    feed(r, synack(&t, 100, 2), 1 * MS);
    feed(r, ack_of(&t, true, 2, 101), 2 * MS);
    feed(r, rst_ack(&t, false, 101, 2), 3 * MS);
    t = tuple4(50000, port++); /* closed-after-accept */
    feed(r, syn(&t, 1), 0);
    feed(r, synack(&t, 100, 2), 1 * MS);
    feed(r, ack_of(&t, true, 2, 101), 2 * MS);
    feed(r, fin(&t, false, 101, 2), 3 * MS);
    t = tuple4(50000, port++); /* unreachable, admin-prohibited */
    feed(r, syn(&t, 1), 0);
    feed(r, icmp_err(&router, &t, 1, 3, 13), 1 * MS);
    t = tuple4(50000, port++); /* half-open */
    feed(r, syn(&t, 1), 0);
    feed(r, synack(&t, 100, 2), 1 * MS);
    t = tuple4(50000, port++); /* client-abort */
    feed(r, syn(&t, 1), 0);
    feed(r, rst(&t, true, 2), 1 * MS);
    t = tuple4(50000, port++); /* stale */
    feed(r, syn(&t, 1), 0);
    feed(r, ack_of(&t, false, 5, 77), 1 * MS);
    t = tuple4(50000, port++); /* bad-synack */
    feed(r, syn(&t, 1), 0);
    feed(r, synack(&t, 100, 99), 1 * MS);
    t = tuple4(50000, port++); /* undetermined, one-sided */
    feed(r, synack(&t, 100, 2), 0);
    advance_to(r, 30 * SEC);
    t = tuple4(50000, port++); /* undetermined, capture-ended */
    feed(r, syn(&t, 1), 30 * SEC);
    advance_to(r, 31 * SEC);
    finish_all(r);
    s.input.packets = r->pkt;
    struct written w = write_report(&s, REP_FORMAT_TEXT);

    static const char *const sections[] = {
        "RESET-AFTER-ACCEPT: 1 attempt", "CLOSED-AFTER-ACCEPT: 1 attempt", "UNREACHABLE: 1 attempt",
        "HALF-OPEN: 1 attempt",          "CLIENT-ABORT: 1 attempt",        "STALE: 1 attempt",
        "BAD-SYNACK: 1 attempt",         "UNDETERMINED: 2 attempts",
    };
    size_t last = 0;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        size_t at = line_index(&w, sections[i]);
        cr_assert_gt(at, last, "%s out of order", sections[i]);
        last = at;
    }
    cr_assert_not_null(strstr(w.text, "then RST from the server"), "%s", w.text);
    cr_assert_not_null(strstr(w.text, "then FIN from the server"));
    char *text = flat(w.text);
    cr_assert_not_null(strstr(text, "admin-prohibited: Administratively prohibited"), "%s", text);
    free(text);
    cr_assert_not_null(strstr(w.text, "capture ended 1.0 s after the first SYN, before the "
                                      "3.0 s timeout"),
                       "%s", w.text);
    cr_assert_not_null(strstr(w.text, "only one direction captured (SYN-ACK seen, no SYN)"));
    cr_assert_not_null(strstr(w.text, "Without a SYN in the capture: 1 SYN-ACK"));
    cr_assert_null(strstr(w.text, "No failed connection attempts."));
    check_line_widths(&w);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, text_no_failures)
{
    struct tuple t = tuple4(40001, 80);
    struct scenario s;

    memset(&s, 0, sizeof(s));
    rig_init(&s.flows);
    feed(&s.flows, syn(&t, 1000), 0);
    feed(&s.flows, synack(&t, 1, 1001), 1 * MS);
    feed(&s.flows, ack_of(&t, true, 1001, 2), 2 * MS);
    finish_all(&s.flows);
    s.input.packets = 3;
    struct written w = write_report(&s, REP_FORMAT_TEXT);

    cr_assert_str_eq(w.lines[0], "synscope: 3 packets, 1 connection attempt, 0 failed "
                                 "(2026-11-26T13:12:06.319804Z to 2026-11-26T13:12:06.321804Z)");
    line_index(&w, "No failed connection attempts.");
    line_index(&w, "Decode problems: none.");
    cr_assert_null(strstr(w.text, "Evicted"));
    check_line_widths(&w);
    written_free(&w);
    scenario_free(&s);
}

Test(report_output, text_many_services_and_evictions_stay_readable)
{
    struct scenario s;

    memset(&s, 0, sizeof(s));
    rig_init_cap(&s.flows, 10);
    for (uint32_t i = 0; i < 40; i++) {
        struct tuple t = tuple6((uint16_t)(30000 + i), (uint16_t)(60000 + i));
        t.server = addr6("2001:db8:1234:5678:9abc:def0:1234:5678");
        feed(&s.flows, syn(&t, i), (int64_t)i * MS);
        feed(&s.flows, rst_ack(&t, false, 0, i + 1), (int64_t)i * MS + 1000);
    }
    finish_all(&s.flows);
    s.input.packets = 80;
    struct written w = write_report(&s, REP_FORMAT_TEXT);

    line_index(&w, "REFUSED: 40 attempts");
    line_index(&w, "  ... and 20 more (all of them with -f json)");
    line_index(&w, "... and 10 more services (all of them with -f json)");
    line_index(&w, "Evicted: 30 attempts");
    /* the 40-character IPv6 endpoints get lines of their own above their counts */
    size_t row = line_index(&w, "[2001:db8:1234:5678:9abc:def0:1234:5678]:60000");
    cr_assert_str_eq(w.lines[row], "[2001:db8:1234:5678:9abc:def0:1234:5678]:60000");
    cr_assert_eq(strncmp(w.lines[row + 1], "                                        1", 41), 0,
                 "%s", w.lines[row + 1]);
    check_line_widths(&w);
    written_free(&w);
    scenario_free(&s);
}
