/* test_report_judge.c - rep_judge on attempts produced by the flow engine from events built in
 * memory: every verdict the engine can lead to, with its reason, Zeek conn_state, sender, hop
 * distance and timing; rep_hops, the verdict names and the ICMP reason names. */
#include <criterion/criterion.h>

#include "decode.h"
#include "flow_fixtures.h"
#include "report.h"

static void expect(const struct rep_judgement *j, enum rep_verdict verdict, const char *reason,
                   const char *zeek_state)
{
    cr_assert_eq(j->verdict, verdict, "verdict %s, expected %s", rep_verdict_name(j->verdict),
                 rep_verdict_name(verdict));
    cr_assert_str_eq(j->reason, reason);
    cr_assert_str_eq(j->zeek_state, zeek_state);
}

/* judge_only, then expect on what it gives; returns the judgement for further checks. */
static struct rep_judgement judge_expect(struct rig *r, enum rep_verdict verdict,
                                         const char *reason, const char *zeek_state)
{
    struct rep_judgement j = judge_only(r);

    expect(&j, verdict, reason, zeek_state);
    return j;
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
    struct rep_judgement j = judge_expect(&r, REP_ACCEPTED, "syn-ack", "S1");
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
    judge_expect(&r, REP_ACCEPTED, "syn-ack", "SF");
    rig_free(&r);
}

Test(judge, accepted_at_capture_end_before_the_ack)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
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
    struct rep_judgement j = judge_expect(&r, REP_RESET_AFTER_ACCEPT, "rst", "RSTR");
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
    judge_expect(&r, REP_ACCEPTED, "syn-ack", "RSTR");
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
    judge_expect(&r, REP_CLOSED_AFTER_ACCEPT, "fin", "SF");
    rig_free(&r);
}

/* Zeek's S2 and S3 (base/protocols/conn/main.zeek): established, then a close attempt by one
 * side only, "but no reply from" the other. */
Test(judge, accepted_then_client_fin_only_is_s2)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, data(&t, true, 1001, 7001, 80), 3 * MS);
    feed(&r, data(&t, false, 7001, 1081, 500), 4 * MS);
    feed(&r, fin(&t, true, 1081, 7501), 5 * MS);
    advance_to(&r, 1 * SEC);
    judge_expect(&r, REP_ACCEPTED, "syn-ack", "S2");
    rig_free(&r);
}

Test(judge, accepted_then_server_fin_only_is_s3)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    handshake(&r, &t, 0);
    feed(&r, data(&t, true, 1001, 7001, 80), 3 * MS);
    feed(&r, data(&t, false, 7001, 1081, 500), 4 * MS); /* data first: not closed-after-accept */
    feed(&r, fin(&t, false, 7501, 1081), 5 * MS);
    advance_to(&r, 1 * SEC);
    judge_expect(&r, REP_ACCEPTED, "syn-ack", "S3");
    rig_free(&r);
}

/* ---- refused, unreachable ----------------------------------------------------------------- */

Test(judge, rst_answer_is_refused)
{
    struct tuple t = tuple4(55982, 81);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
    feed(&r, rst_ack(&t, false, 0, 1001), 13000); /* 13 us: the JSON example's RTT */
    struct rep_judgement j = judge_expect(&r, REP_REFUSED, "rst", "REJ");
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

    rig_init_syn(&r, &t, 1000);
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
    {4, 3, 2, "proto"}, /* RFC 792: protocol unreachable */
    {4, 3, 3, "port"},
    {4, 3, 10, "host-prohibited"},
    {4, 3, 13, "admin-prohibited"},
    {4, 11, 0, "ttl-exceeded"},
    {6, 1, 1, "admin-prohibited"},
    {6, 1, 2, "beyond-scope"}, /* RFC 4443 3.1: beyond scope of source address */
    {6, 1, 3, "addr"},
    {6, 1, 4, "port"},
    {6, 1, 5, "policy-failed"}, /* source address failed ingress/egress policy */
    {6, 1, 6, "reject-route"},  /* reject route to destination */
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

            rig_init_syn(&r, &t, 1000);
            feed(&r, icmp_err(from_server ? &t.server : &router, &t, 1000, c->type, c->code),
                 5 * MS);
            struct rep_judgement j = judge_expect(&r, REP_UNREACHABLE, c->reason, "S0");
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

    rig_init_syn(&r, &t, 1000);
    feed(&r, syn(&t, 1000), 1 * SEC);
    feed(&r, syn(&t, 1000), 3 * SEC);
    advance_to(&r, 20 * SEC);
    cr_assert_eq(r.got.count, 1);
    struct rep_judgement j = judge_expect(&r, REP_DROPPED, "no-answer", "S0");
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

    rig_init_syn(&r, &t, 1000);
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

        rig_init_syn(&r, &t, 1000);
        advance_to(&r, after_s * SEC);
        judge_expect(&r, REP_DROPPED, "no-answer", "S0");
        rig_free(&r);
    }
}

Test(judge, synack_without_ack_is_half_open)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
    feed(&r, synack(&t, 7000, 1001), 1 * MS);
    feed(&r, synack(&t, 7000, 1001), 1 * SEC + 1 * MS); /* the server re-sends it */
    feed(&r, syn(&t, 1000), 1 * SEC + 5 * MS);          /* the client never saw it */
    advance_to(&r, 30 * SEC);
    cr_assert_eq(r.got.count, 1);
    cr_assert_eq(r.got.items[0].synack_count, 2);
    struct rep_judgement j = judge_expect(&r, REP_HALF_OPEN, "no-ack", "S1");
    cr_assert(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

/* ---- the client gives up, odd answers ----------------------------------------------------- */

Test(judge, client_rst_after_synack_is_client_abort)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
    feed(&r, synack(&t, 7000, 1001), 1 * MS);
    feed(&r, rst(&t, true, 1001), 2 * MS); /* a SYN scanner */
    judge_expect(&r, REP_CLIENT_ABORT, "rst-after-syn-ack", "RSTO");
    rig_free(&r);
}

Test(judge, client_rst_before_any_answer_is_client_abort)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
    feed(&r, syn(&t, 1000), 1 * SEC);
    feed(&r, rst(&t, true, 1001), 1500 * MS); /* connect timeout of 1.5 s */
    struct rep_judgement j = judge_expect(&r, REP_CLIENT_ABORT, "rst-before-answer", "RSTOS0");
    cr_assert_eq(j.waited_ns, 1500 * MS);
    rig_free(&r);
}

Test(judge, bare_ack_answer_is_stale)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
    feed(&r, ack_of(&t, false, 5000, 987654), 1 * MS);
    advance_to(&r, 10 * SEC);
    struct rep_judgement j = judge_expect(&r, REP_STALE, "bare-ack", "OTH");
    cr_assert_eq(j.sender, REP_SENDER_SERVER);
    rig_free(&r);
}

Test(judge, bare_ack_then_client_rst_is_stale_rstos0)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
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

    rig_init_syn(&r, &t, 1000);
    feed(&r, ack_of(&t, false, 5000, 987654), 1 * MS);
    feed(&r, rst(&t, true, 987654), 2 * MS);
    handshake(&r, &t, 1 * SEC);
    feed(&r, data(&t, true, 1001, 7001, 10), 1 * SEC + 3 * MS);
    feed(&r, rst_ack(&t, false, 7001, 1011), 1 * SEC + 4 * MS);
    /* the RST that cleared the stale state is not the client ending this connection */
    struct rep_judgement j = judge_expect(&r, REP_RESET_AFTER_ACCEPT, "rst", "RSTR");
    cr_assert_eq(j.rtt_ns, 1 * MS);
    rig_free(&r);
}

Test(judge, synack_with_wrong_ack_is_bad_synack)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
    feed(&r, synack(&t, 7000, 99), 1 * MS);
    struct rep_judgement j = judge_expect(&r, REP_BAD_SYNACK, "wrong-ack", "OTH");
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
    struct rep_judgement j = judge_expect(&r, REP_UNDETERMINED, "one-sided", "OTH");
    cr_assert_eq(j.start_ns, T0);
    rig_free(&r);
}

/* Zeek's RSTRH: "Responder sent a SYN ACK followed by a RST, we never saw a SYN from the
 * (purported) originator". */
Test(judge, synack_then_server_rst_only_is_one_sided_rstrh)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init(&r);
    feed(&r, synack(&t, 7000, 1001), 0);
    feed(&r, rst_ack(&t, false, 7001, 1001), 1 * MS);
    judge_expect(&r, REP_UNDETERMINED, "one-sided", "RSTRH");
    rig_free(&r);
}

Test(judge, client_side_only_is_one_sided)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;

    rig_init_syn(&r, &t, 1000);
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
