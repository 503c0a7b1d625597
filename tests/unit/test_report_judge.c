/* test_report_judge.c - rep_judge on attempts produced by the flow engine from events built in
 * memory: every verdict the engine can lead to, with its reason, Zeek conn_state, sender, hop
 * distance and timing; rep_hops, the verdict names and the ICMP reason names. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "report.h"

/* ---- fixtures: addresses, tuples, packets, a table that collects what it emits ---------- */

#define MS 1000000LL
#define SEC 1000000000LL
/* 2026-11-26T13:12:06.319804Z, the first SYN of DESIGN.md's JSON example */
#define T0 (1795698726LL * SEC + 319804000LL)

struct tuple {
    uint8_t family;
    struct dec_addr client, server;
    uint16_t client_port, server_port;
};

static struct dec_addr addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct dec_addr x;

    memset(&x, 0, sizeof(x));
    x.b[0] = a;
    x.b[1] = b;
    x.b[2] = c;
    x.b[3] = d;
    return x;
}

static struct dec_addr addr6(const char *text)
{
    struct dec_addr x;

    memset(&x, 0, sizeof(x));
    cr_assert_eq(inet_pton(AF_INET6, text, x.b), 1, "bad test address %s", text);
    return x;
}

/* 10.99.0.1:client_port -> 10.99.0.2:server_port */
static struct tuple tuple4(uint16_t client_port, uint16_t server_port)
{
    struct tuple t = {.family = 4, .client_port = client_port, .server_port = server_port};

    t.client = addr4(10, 99, 0, 1);
    t.server = addr4(10, 99, 0, 2);
    return t;
}

/* [fd00:99::1]:client_port -> [fd00:99::2]:server_port */
static struct tuple tuple6(uint16_t client_port, uint16_t server_port)
{
    struct tuple t = {.family = 6, .client_port = client_port, .server_port = server_port};

    t.client = addr6("fd00:99::1");
    t.server = addr6("fd00:99::2");
    return t;
}

/* A TCP segment of the tuple; the client's packets have TTL 64, the server's 63 (one hop). */
static struct dec_event segment(const struct tuple *t, bool from_client, uint8_t flags,
                                uint32_t seq, uint32_t ack, uint32_t payload_len)
{
    struct dec_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = DEC_EV_TCP;
    ev.family = t->family;
    ev.ttl = from_client ? 64 : 63;
    ev.tcp_flags = flags;
    ev.has_ip_id = t->family == 4;
    ev.ip_id = from_client ? 0x1111 : 0x2222;
    ev.src = from_client ? t->client : t->server;
    ev.dst = from_client ? t->server : t->client;
    ev.sport = from_client ? t->client_port : t->server_port;
    ev.dport = from_client ? t->server_port : t->client_port;
    ev.seq = seq;
    ev.ack = ack;
    ev.window = 64240;
    ev.payload_len = payload_len;
    return ev;
}

static struct dec_event syn(const struct tuple *t, uint32_t isn)
{
    struct dec_event ev = segment(t, true, DEC_TCP_SYN, isn, 0, 0);

    ev.opts.present = DEC_OPT_MSS | DEC_OPT_SACK_OK | DEC_OPT_WSCALE;
    ev.opts.mss = 1460;
    ev.opts.wscale = 7;
    return ev;
}

static struct dec_event synack(const struct tuple *t, uint32_t server_isn, uint32_t ack)
{
    return segment(t, false, DEC_TCP_SYN | DEC_TCP_ACK, server_isn, ack, 0);
}

/* A pure ACK (no payload) from either side. */
static struct dec_event ack_of(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack)
{
    return segment(t, from_client, DEC_TCP_ACK, seq, ack, 0);
}

static struct dec_event data(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack,
                             uint32_t len)
{
    return segment(t, from_client, DEC_TCP_PSH | DEC_TCP_ACK, seq, ack, len);
}

static struct dec_event fin(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack)
{
    return segment(t, from_client, DEC_TCP_FIN | DEC_TCP_ACK, seq, ack, 0);
}

static struct dec_event rst_ack(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack)
{
    return segment(t, from_client, DEC_TCP_RST | DEC_TCP_ACK, seq, ack, 0);
}

static struct dec_event rst(const struct tuple *t, bool from_client, uint32_t seq)
{
    return segment(t, from_client, DEC_TCP_RST, seq, 0, 0);
}

/* An ICMP/ICMPv6 error sent by `from` to the client, quoting a SYN of `quoted` with quoted_seq. */
static struct dec_event icmp_err(const struct dec_addr *from, const struct tuple *quoted,
                                 uint32_t quoted_seq, uint8_t type, uint8_t code)
{
    struct dec_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = DEC_EV_ICMP;
    ev.family = quoted->family;
    ev.ttl = 62;
    ev.src = *from;
    ev.dst = quoted->client;
    ev.icmp_type = type;
    ev.icmp_code = code;
    ev.quoted_family = quoted->family;
    ev.quoted_src = quoted->client;
    ev.quoted_dst = quoted->server;
    ev.quoted_sport = quoted->client_port;
    ev.quoted_dport = quoted->server_port;
    ev.quoted_seq = quoted_seq;
    return ev;
}

struct collector {
    struct flow_attempt *items;
    size_t count, cap;
};

static void collect(const struct flow_attempt *attempt, void *user)
{
    struct collector *c = user;

    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct flow_attempt *items = realloc(c->items, cap * sizeof(*items));

        cr_assert_not_null(items);
        c->items = items;
        c->cap = cap;
    }
    c->items[c->count++] = *attempt;
}

/* A flow table with a fixed seed and a 3 s SYN timeout, and what it emitted. */
struct rig {
    struct flow_table *table;
    struct flow_config cfg;
    struct collector got;
    uint32_t pkt; /* number of the last packet fed */
};

static void rig_init_cap(struct rig *r, uint32_t max_attempts)
{
    char errbuf[128];

    memset(r, 0, sizeof(*r));
    flow_config_default(&r->cfg);
    r->cfg.syn_timeout_ns = 3 * SEC;
    r->cfg.hash_seed = 0x0123456789abcdefULL;
    r->cfg.max_attempts = max_attempts;
    cr_assert_eq(flow_create(&r->table, &r->cfg, collect, &r->got, errbuf, sizeof(errbuf)), 0, "%s",
                 errbuf);
}

static void rig_init(struct rig *r)
{
    rig_init_cap(r, 1000000);
}

/* Feeds ev at T0 + at_ns as the next packet number. */
static void feed(struct rig *r, struct dec_event ev, int64_t at_ns)
{
    flow_event(r->table, &ev, T0 + at_ns, ++r->pkt);
}

static void advance_to(struct rig *r, int64_t at_ns)
{
    flow_advance(r->table, T0 + at_ns);
}

static struct flow_stats stats_of(const struct rig *r)
{
    struct flow_stats s;

    flow_get_stats(r->table, &s);
    return s;
}

/* Ends the input and checks that every attempt started was emitted exactly once: the counts
 * agree, nothing is held, and no two records start with the same packet. */
static void finish_all(struct rig *r)
{
    flow_finish(r->table);
    struct flow_stats s = stats_of(r);

    cr_assert_eq(s.tracked, 0);
    cr_assert_eq(s.attempts, r->got.count, "%llu attempts started, %zu emitted",
                 (unsigned long long)s.attempts, r->got.count);
    for (size_t i = 0; i < r->got.count; i++) {
        cr_assert_geq(r->got.items[i].packet_count, 1);
        for (size_t k = i + 1; k < r->got.count; k++) {
            cr_assert_neq(r->got.items[i].packets[0], r->got.items[k].packets[0],
                          "attempts %zu and %zu both start at packet %u", i, k,
                          r->got.items[i].packets[0]);
        }
    }
}

static void rig_free(struct rig *r)
{
    flow_destroy(r->table);
    free(r->got.items);
}

static void judge(const struct flow_attempt *a, struct rep_judgement *j)
{
    struct rep_config cfg = {.syn_timeout_ns = 3 * SEC};

    rep_judge(a, &cfg, j);
}

/* The only attempt emitted, judged: finishes the input first. */
static struct rep_judgement judge_only(struct rig *r)
{
    struct rep_judgement j;

    finish_all(r);
    cr_assert_eq(r->got.count, 1, "%zu attempts emitted", r->got.count);
    judge(&r->got.items[0], &j);
    return j;
}

static void expect(const struct rep_judgement *j, enum rep_verdict verdict, const char *reason,
                   const char *zeek_state)
{
    cr_assert_eq(j->verdict, verdict, "verdict %s, expected %s", rep_verdict_name(j->verdict),
                 rep_verdict_name(verdict));
    cr_assert_str_eq(j->reason, reason);
    cr_assert_str_eq(j->zeek_state, zeek_state);
}

/* SYN, SYN-ACK and the client's ACK of a tuple, 1 ms apart from at_ns; ISNs 1000 and 7000. */
static void handshake(struct rig *r, const struct tuple *t, int64_t at_ns)
{
    feed(r, syn(t, 1000), at_ns);
    feed(r, synack(t, 7000, 1001), at_ns + 1 * MS);
    feed(r, ack_of(t, true, 1001, 7001), at_ns + 2 * MS);
}

/* ---- accepted and what follows ------------------------------------------------------------ */

Test(judge, accepted_open_connection_is_s1)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, data(&t, true, 1001, 7001, 80), 3 * MS);
    feed(&r, data(&t, false, 7001, 1081, 500), 4 * MS);
    advance_to(&r, 1 * SEC);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_ACCEPTED, "syn-ack", "S1");
    cr_assert_eq(j.sender, REP_SENDER_SERVER);
    cr_assert_eq(j.hops, 1);
    cr_assert_eq(j.rtt_ns, 1 * MS);
    cr_assert_eq(j.waited_ns, 1 * MS);
    cr_assert_eq(j.start_ns, T0);
    cr_assert_not(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

Test(judge, accepted_and_closed_normally_is_sf)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, data(&t, true, 1001, 7001, 80), 3 * MS);
    feed(&r, data(&t, false, 7001, 1081, 500), 4 * MS);
    feed(&r, fin(&t, true, 1081, 7501), 5 * MS);
    feed(&r, fin(&t, false, 7501, 1082), 6 * MS);
    feed(&r, ack_of(&t, true, 1082, 7502), 7 * MS);
    advance_to(&r, 4 * SEC);
    cr_assert_eq(r.got.count, 1);
    cr_assert_eq(r.got.items[0].end, FLOW_END_CLOSED);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_ACCEPTED, "syn-ack", "SF");
    rig_free(&r);
}

Test(judge, accepted_at_capture_end_before_the_ack)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, synack(&t, 7000, 1001), 1 * MS);
    advance_to(&r, 1 * SEC); /* the ACK may be just after the end of the capture */
    struct rep_judgement j = judge_only(&r);
    cr_assert_eq(j.verdict, REP_ACCEPTED);
    rig_free(&r);
}

Test(judge, server_rst_after_handshake_is_reset_after_accept)
{
    struct tuple t = tuple4(55982, 3306);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, data(&t, true, 1001, 7001, 40), 3 * MS);
    feed(&r, rst_ack(&t, false, 7001, 1041), 4 * MS);
    advance_to(&r, 4 * SEC);
    cr_assert_eq(r.got.count, 1);
    cr_assert_eq(r.got.items[0].end, FLOW_END_CLOSED);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_RESET_AFTER_ACCEPT, "rst", "RSTR");
    cr_assert(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

Test(judge, server_rst_after_its_data_is_accepted)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, data(&t, true, 1001, 7001, 40), 3 * MS);
    feed(&r, data(&t, false, 7001, 1041, 300), 4 * MS);
    feed(&r, rst_ack(&t, false, 7301, 1041), 5 * MS);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_ACCEPTED, "syn-ack", "RSTR");
    rig_free(&r);
}

Test(judge, server_fin_before_any_data_is_closed_after_accept)
{
    struct tuple t = tuple4(55982, 25);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, fin(&t, false, 7001, 1001), 3 * MS);
    feed(&r, fin(&t, true, 1001, 7002), 4 * MS);
    feed(&r, ack_of(&t, false, 7002, 1002), 5 * MS);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_CLOSED_AFTER_ACCEPT, "fin", "SF");
    rig_free(&r);
}

/* ---- refused, unreachable ----------------------------------------------------------------- */

Test(judge, rst_answer_is_refused)
{
    struct tuple t = tuple4(55982, 81);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, rst_ack(&t, false, 0, 1001), 13000); /* 13 us: the JSON example's RTT */
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_REFUSED, "rst", "REJ");
    cr_assert_eq(j.hops, 1); /* TTL 63 */
    cr_assert_eq(j.sender, REP_SENDER_SERVER);
    cr_assert_eq(j.rtt_ns, 13000);
    cr_assert_eq(j.waited_ns, 13000);
    rig_free(&r);
}

Test(judge, refusal_after_retries_measures_rtt_from_the_last_syn)
{
    struct tuple t = tuple4(55982, 81);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, syn(&t, 1000), 1 * SEC);
    feed(&r, rst_ack(&t, false, 0, 1001), 1 * SEC + 2 * MS);
    struct rep_judgement j = judge_only(&r);
    cr_assert_eq(j.verdict, REP_REFUSED);
    cr_assert_eq(j.rtt_ns, 2 * MS);
    cr_assert_eq(j.waited_ns, 1 * SEC + 2 * MS);
    rig_free(&r);
}

struct icmp_case {
    uint8_t family, type, code;
    const char *reason;
};

static const struct icmp_case icmp_cases[] = {
    {4, 3, 1, "host"},
    {4, 3, 3, "port"},
    {4, 3, 10, "host-prohibited"},
    {4, 3, 13, "admin-prohibited"},
    {4, 11, 0, "ttl-exceeded"},
    {6, 1, 1, "admin-prohibited"},
    {6, 1, 3, "addr"},
    {6, 1, 4, "port"},
    {6, 3, 0, "ttl-exceeded"},
};

/* Each ICMP error, sent once by a router and once by the server's own address. */
Test(judge, icmp_answer_is_unreachable_with_the_code_name)
{
    for (size_t i = 0; i < sizeof(icmp_cases) / sizeof(icmp_cases[0]); i++) {
        const struct icmp_case *c = &icmp_cases[i];
        for (int from_server = 0; from_server < 2; from_server++) {
            struct tuple t = c->family == 4 ? tuple4(55982, 80) : tuple6(55982, 80);
            struct dec_addr router = c->family == 4 ? addr4(192, 0, 2, 1) : addr6("2001:db8::1");
            struct rig r;

            rig_init(&r);
            feed(&r, syn(&t, 1000), 0);
            feed(&r, icmp_err(from_server ? &t.server : &router, &t, 1000, c->type, c->code),
                 5 * MS);
            struct rep_judgement j = judge_only(&r);
            expect(&j, REP_UNREACHABLE, c->reason, "S0");
            cr_assert_eq(j.sender, from_server ? REP_SENDER_SERVER : REP_SENDER_ROUTER,
                         "case %zu from_server %d", i, from_server);
            cr_assert_eq(j.hops, 2); /* TTL 62 */
            cr_assert_eq(j.rtt_ns, 5 * MS);
            cr_assert_str_eq(rep_icmp_reason(c->family, c->type, c->code), c->reason);
            rig_free(&r);
        }
    }
}

/* ---- no answer ---------------------------------------------------------------------------- */

Test(judge, unanswered_syns_are_dropped)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, syn(&t, 1000), 1 * SEC);
    feed(&r, syn(&t, 1000), 3 * SEC);
    advance_to(&r, 20 * SEC);
    cr_assert_eq(r.got.count, 1);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_DROPPED, "no-answer", "S0");
    cr_assert_eq(j.sender, REP_SENDER_NONE);
    cr_assert_eq(j.hops, -1);
    cr_assert_eq(j.rtt_ns, -1);
    cr_assert_eq(j.waited_ns, 3 * SEC);
    rig_free(&r);
}

Test(judge, capture_end_soon_after_the_syn_is_undetermined)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    advance_to(&r, 1 * SEC);
    struct rep_judgement j = judge_only(&r);
    cr_assert_eq(r.got.items[0].end, FLOW_END_CAPTURE_END);
    expect(&j, REP_UNDETERMINED, "capture-ended", "S0");
    cr_assert_eq(j.waited_ns, 1 * SEC);
    cr_assert_not(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

Test(judge, capture_end_after_the_timeout_is_dropped)
{
    /* 4 s: still held (the first wait is 1.5 x the timeout), judged at the end of input */
    for (int64_t after_s = 4; after_s <= 5; after_s++) {
        struct tuple t = tuple4(55982, 80);
        struct rig r;

        rig_init(&r);
        feed(&r, syn(&t, 1000), 0);
        advance_to(&r, after_s * SEC);
        struct rep_judgement j = judge_only(&r);
        expect(&j, REP_DROPPED, "no-answer", "S0");
        rig_free(&r);
    }
}

Test(judge, synack_without_ack_is_half_open)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, synack(&t, 7000, 1001), 1 * MS);
    feed(&r, synack(&t, 7000, 1001), 1 * SEC + 1 * MS); /* the server re-sends it */
    feed(&r, syn(&t, 1000), 1 * SEC + 5 * MS);          /* the client never saw it */
    advance_to(&r, 30 * SEC);
    cr_assert_eq(r.got.count, 1);
    cr_assert_eq(r.got.items[0].synack_count, 2);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_HALF_OPEN, "no-ack", "S1");
    cr_assert(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

/* ---- the client gives up, odd answers ----------------------------------------------------- */

Test(judge, client_rst_after_synack_is_client_abort)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, synack(&t, 7000, 1001), 1 * MS);
    feed(&r, rst(&t, true, 1001), 2 * MS); /* a SYN scanner */
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_CLIENT_ABORT, "rst-after-syn-ack", "RSTO");
    rig_free(&r);
}

Test(judge, client_rst_before_any_answer_is_client_abort)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, syn(&t, 1000), 1 * SEC);
    feed(&r, rst(&t, true, 1001), 1500 * MS); /* connect timeout of 1.5 s */
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_CLIENT_ABORT, "rst-before-answer", "RSTOS0");
    cr_assert_eq(j.waited_ns, 1500 * MS);
    rig_free(&r);
}

Test(judge, bare_ack_answer_is_stale)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, ack_of(&t, false, 5000, 987654), 1 * MS);
    advance_to(&r, 10 * SEC);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_STALE, "bare-ack", "OTH");
    cr_assert_eq(j.sender, REP_SENDER_SERVER);
    rig_free(&r);
}

Test(judge, bare_ack_then_client_rst_is_stale_rstos0)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, ack_of(&t, false, 5000, 987654), 1 * MS);
    feed(&r, rst(&t, true, 987654), 2 * MS);
    struct rep_judgement j = judge_only(&r);
    cr_assert_str_eq(r.got.items[0].history, "SaR");
    expect(&j, REP_STALE, "bare-ack", "RSTOS0");
    rig_free(&r);
}

Test(judge, stale_answer_then_successful_retry_is_accepted)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, ack_of(&t, false, 5000, 987654), 1 * MS);
    feed(&r, rst(&t, true, 987654), 2 * MS);
    feed(&r, syn(&t, 1000), 1 * SEC);
    feed(&r, synack(&t, 7000, 1001), 1 * SEC + 1 * MS);
    feed(&r, ack_of(&t, true, 1001, 7001), 1 * SEC + 2 * MS);
    feed(&r, data(&t, true, 1001, 7001, 10), 1 * SEC + 3 * MS);
    feed(&r, rst_ack(&t, false, 7001, 1011), 1 * SEC + 4 * MS);
    struct rep_judgement j = judge_only(&r);
    /* the RST that cleared the stale state is not the client ending this connection */
    expect(&j, REP_RESET_AFTER_ACCEPT, "rst", "RSTR");
    cr_assert_eq(j.rtt_ns, 1 * MS);
    rig_free(&r);
}

Test(judge, synack_with_wrong_ack_is_bad_synack)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, synack(&t, 7000, 99), 1 * MS);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_BAD_SYNACK, "wrong-ack", "OTH");
    cr_assert(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

/* ---- undetermined ------------------------------------------------------------------------- */

Test(judge, synack_only_is_one_sided)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, synack(&t, 7000, 1001), 0);
    struct rep_judgement j = judge_only(&r);
    expect(&j, REP_UNDETERMINED, "one-sided", "OTH");
    cr_assert_eq(j.start_ns, T0);
    rig_free(&r);
}

Test(judge, client_side_only_is_one_sided)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, syn(&t, 1000), 0);
    feed(&r, ack_of(&t, true, 1001, 7001), 2 * MS); /* ACKs a SYN-ACK we did not capture */
    feed(&r, data(&t, true, 1001, 7001, 100), 3 * MS);
    struct rep_judgement j = judge_only(&r);
    cr_assert(r.got.items[0].client_acked_unseen);
    expect(&j, REP_UNDETERMINED, "one-sided", "S0");
    rig_free(&r);
}

Test(judge, evicted_unanswered_attempt_is_undetermined)
{
    struct tuple a = tuple4(1001, 80);
    struct tuple b = tuple4(1002, 80);
    struct rig r;
    struct rep_judgement j;

    rig_init_cap(&r, 1);
    feed(&r, syn(&a, 1), 0);
    feed(&r, syn(&b, 2), 1 * MS);
    finish_all(&r);
    cr_assert_eq(r.got.count, 2);
    cr_assert_eq(r.got.items[0].end, FLOW_END_EVICTED);
    judge(&r.got.items[0], &j);
    cr_assert_eq(j.verdict, REP_UNDETERMINED);
    cr_assert_str_eq(j.reason, "evicted");
    rig_free(&r);
}

/* ---- helpers and names -------------------------------------------------------------------- */

Test(judge, hops_from_ttl)
{
    static const struct {
        uint8_t ttl;
        int hops;
    } cases[] = {{64, 0}, {63, 1}, {1, 63}, {65, 63}, {128, 0}, {120, 8}, {255, 0}, {250, 5}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(rep_hops(cases[i].ttl), cases[i].hops, "ttl %u", cases[i].ttl);
    }
}

Test(judge, verdict_names_round_trip)
{
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        const char *name = rep_verdict_name((enum rep_verdict)v);
        enum rep_verdict back = REP_VERDICT_COUNT;

        cr_assert_not_null(name);
        cr_assert_str_neq(name, "unknown");
        cr_assert_eq(rep_verdict_parse(name, &back), 0, "%s", name);
        cr_assert_eq(back, v);
        for (int k = 0; k < v; k++) {
            cr_assert_str_neq(name, rep_verdict_name((enum rep_verdict)k));
        }
    }
    enum rep_verdict out = REP_ACCEPTED;
    cr_assert_eq(rep_verdict_parse("Refused", &out), -1);
    cr_assert_eq(rep_verdict_parse("", &out), -1);
    cr_assert_eq(rep_verdict_parse("refused ", &out), -1);
    cr_assert_str_eq(rep_verdict_name(REP_VERDICT_COUNT), "unknown");
    cr_assert_str_eq(rep_verdict_name(REP_REFUSED_BY_MIDDLEBOX), "refused-by-middlebox");
    cr_assert_str_eq(rep_verdict_name(REP_RESET_AFTER_ACCEPT), "reset-after-accept");
}

Test(judge, failure_verdicts)
{
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        bool ok = v == REP_ACCEPTED || v == REP_UNDETERMINED;
        cr_assert_eq(rep_verdict_is_failure((enum rep_verdict)v), !ok, "%s",
                     rep_verdict_name((enum rep_verdict)v));
    }
}

Test(judge, icmp_reason_names)
{
    cr_assert_str_eq(rep_icmp_reason(4, 3, 0), "net");
    cr_assert_str_eq(rep_icmp_reason(4, 3, 9), "net-prohibited");
    cr_assert_str_eq(rep_icmp_reason(4, 3, 15), "precedence-cutoff");
    cr_assert_str_eq(rep_icmp_reason(4, 3, 16), "unreach-other");
    cr_assert_str_eq(rep_icmp_reason(4, 3, 255), "unreach-other");
    cr_assert_str_eq(rep_icmp_reason(4, 11, 1), "reassembly-exceeded");
    cr_assert_str_eq(rep_icmp_reason(4, 5, 0), "icmp-other");
    cr_assert_str_eq(rep_icmp_reason(6, 1, 0), "no-route");
    cr_assert_str_eq(rep_icmp_reason(6, 1, 7), "srh-error");
    cr_assert_str_eq(rep_icmp_reason(6, 1, 8), "unreach-other");
    cr_assert_str_eq(rep_icmp_reason(6, 1, 255), "unreach-other");
    cr_assert_str_eq(rep_icmp_reason(6, 3, 1), "reassembly-exceeded");
    cr_assert_str_eq(rep_icmp_reason(6, 2, 0), "icmp-other"); /* packet too big */
}
