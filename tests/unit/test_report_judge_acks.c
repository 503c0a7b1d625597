/* test_report_judge_acks.c - an answered attempt whose handshake ACK is not in the capture: a
 * failure (half-open) only when the input could have shown that ACK, or when the server re-sent
 * its SYN-ACK or the client its SYN. Live capture's kernel filter passes no pure ACKs (nor does
 * a file it saved): there a healthy connection still open must stay accepted. */
#include <criterion/criterion.h>

#include "decode.h"
#include "flow_fixtures.h"
#include "report.h"

/* A SYN and one SYN-ACK, then 30 s of nothing from this connection. */
static void answered_once(struct rig *r, const struct tuple *t)
{
    rig_init_syn(r, t, 1000);
    feed(r, synack(t, 7000, 1001), 1 * MS);
}

Test(judge_acks, no_acks_in_input_single_synack_is_accepted)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;
    answered_once(&r, &t);
    advance_to(&r, 30 * SEC);
    struct rep_judgement j = judge_only(&r);
    cr_assert_not(r.got.items[0].acks_in_capture);
    cr_assert_eq(j.verdict, REP_ACCEPTED, "verdict %s", rep_verdict_name(j.verdict));
    cr_assert_str_eq(j.reason, "syn-ack");
    cr_assert_not(rep_verdict_is_failure(j.verdict));
    rig_free(&r);
}

Test(judge_acks, no_acks_in_input_synack_repeated_is_half_open)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;
    answered_once(&r, &t);
    feed(&r, synack(&t, 7000, 1001), 1 * SEC + 1 * MS); /* the server never got the ACK */
    advance_to(&r, 30 * SEC);
    struct rep_judgement j = judge_only(&r);
    cr_assert_eq(j.verdict, REP_HALF_OPEN, "verdict %s", rep_verdict_name(j.verdict));
    cr_assert_str_eq(j.reason, "no-ack");
    rig_free(&r);
}

Test(judge_acks, no_acks_in_input_syn_after_synack_is_half_open)
{
    struct tuple t = tuple4(55982, 80);
    struct rig r;
    answered_once(&r, &t);
    feed(&r, syn(&t, 1000), 1 * SEC + 5 * MS); /* the client never saw the SYN-ACK */
    advance_to(&r, 30 * SEC);
    struct rep_judgement j = judge_only(&r);
    cr_assert_eq(j.verdict, REP_HALF_OPEN, "verdict %s", rep_verdict_name(j.verdict));
    rig_free(&r);
}

/* A capture that holds pure ACKs (here another connection's) could have shown this one's: its
 * absence after the timeout is a half-open attempt, as before. */
Test(judge_acks, acks_in_input_single_synack_is_half_open)
{
    struct tuple t = tuple4(55982, 80);
    struct tuple other = tuple4(41000, 443);
    struct rig r;
    answered_once(&r, &t);
    feed(&r, ack_of(&other, true, 5001, 9001), 2 * MS); /* midstream: only makes ACKs visible */
    advance_to(&r, 30 * SEC);
    struct rep_judgement j = judge_only(&r);
    cr_assert(r.got.items[0].acks_in_capture);
    cr_assert_eq(j.verdict, REP_HALF_OPEN, "verdict %s", rep_verdict_name(j.verdict));
    rig_free(&r);
}

/* FIN and RST segments carry the ACK flag but pass the live filter: they do not make ACKs
 * visible. */
Test(judge_acks, fin_and_rst_do_not_count_as_acks)
{
    struct tuple t = tuple4(55982, 80);
    struct tuple other = tuple4(41000, 443);
    struct rig r;
    answered_once(&r, &t);
    feed(&r, fin(&other, true, 5001, 9001), 2 * MS);
    feed(&r, rst_ack(&other, false, 9001, 5002), 3 * MS);
    advance_to(&r, 30 * SEC);
    struct rep_judgement j = judge_only(&r);
    cr_assert_not(r.got.items[0].acks_in_capture);
    cr_assert_eq(j.verdict, REP_ACCEPTED, "verdict %s", rep_verdict_name(j.verdict));
    rig_free(&r);
}
