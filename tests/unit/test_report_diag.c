/* test_report_diag.c - diagnoses across attempts: whose RST it was, and the per-service and
 * per-client diagnoses, from attempts built in memory and read back from the JSON report. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_fixtures.h"

/* Runs the collected attempts through a JSON report; returns the malloc'd output. */
static char *report_json(struct rig *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert_not_null(out);
    struct rep_options opts = {.format = REP_FORMAT_JSON, .out = out};
    opts.cfg.syn_timeout_ns = r->cfg.syn_timeout_ns;
    struct rep_report *rep = NULL;
    char err[128];
    cr_assert_eq(rep_create(&rep, &opts, err, sizeof(err)), 0);
    for (size_t i = 0; i < r->got.count; i++) {
        rep_attempt(rep, &r->got.items[i]);
    }
    struct rep_input_stats input = {0};
    struct flow_stats fs = stats_of(r);
    cr_assert_eq(rep_finish(rep, &input, &fs, err, sizeof(err)), 0);
    rep_destroy(rep);
    fclose(out);
    return buf;
}

/* A tuple between client 10.0.0.<client> and server 10.0.9.1:<port>. */
static struct tuple between(uint8_t client, uint16_t client_port, uint16_t port)
{
    struct tuple t = tuple4(client_port, port);
    t.client = addr4(10, 0, 0, client);
    t.server = addr4(10, 0, 9, 1);
    return t;
}

Test(report_diag, one_client_fails_everywhere_others_connect)
{
    struct rig r;
    rig_init(&r);
    /* client .7 gets no answer at two services; client .8 connects to one of them */
    struct tuple bad80 = between(7, 40000, 80), bad443 = between(7, 40001, 443);
    struct tuple good80 = between(8, 50000, 80);
    feed(&r, syn(&bad80, 100), 0);
    feed(&r, syn(&bad443, 200), 10 * MS);
    handshake(&r, &good80, 20 * MS);
    advance_to(&r, 30 * SEC);
    finish_all(&r);
    char *json = report_json(&r);
    cr_assert_not_null(strstr(json, "{\"type\":\"client\",\"client\":{\"ip\":\"10.0.0.7\"}"), "%s",
                       json);
    cr_assert_not_null(strstr(json, "\"kind\":\"single-client\""));
    cr_assert_not_null(strstr(json, "at 2 services, come from 10.0.0.7"), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, failures_from_two_clients_are_not_one_client)
{
    struct rig r;
    rig_init(&r);
    struct tuple a = between(7, 40000, 80), b = between(6, 40001, 443);
    struct tuple good = between(8, 50000, 80);
    feed(&r, syn(&a, 100), 0);
    feed(&r, syn(&b, 200), 10 * MS);
    handshake(&r, &good, 20 * MS);
    advance_to(&r, 30 * SEC);
    finish_all(&r);
    char *json = report_json(&r);
    cr_assert_null(strstr(json, "\"type\":\"client\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, rst_from_closer_than_the_server_is_a_middlebox)
{
    struct rig r;
    rig_init(&r);
    /* the server's SYN-ACK on port 80 arrives with TTL 61 (3 hops); a RST for port 81 with
     * TTL 63 (1 hop): someone closer answered in the server's name */
    struct tuple ok = between(7, 40000, 80), refused = between(7, 40001, 81);
    feed(&r, syn(&ok, 100), 0);
    struct dec_event sa = synack(&ok, 5000, 101);
    sa.ttl = 61;
    feed(&r, sa, 5 * MS);
    feed(&r, ack_of(&ok, true, 101, 5001), 6 * MS);
    feed(&r, syn(&refused, 300), 10 * MS);
    struct dec_event rst = rst_ack(&refused, false, 0, 301);
    rst.ttl = 63;
    feed(&r, rst, 11 * MS);
    advance_to(&r, 30 * SEC);
    finish_all(&r);
    char *json = report_json(&r);
    cr_assert_not_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    cr_assert_not_null(strstr(json, "the RST arrived with TTL 63 = 1 hop; 10.0.9.1's own "
                                    "packets arrive 3 hops away"),
                       "%s", json);
    cr_assert_not_null(strstr(json, "\"kind\":\"middlebox-reset\""));
    free(json);
    rig_free(&r);
}

Test(report_diag, rst_without_other_evidence_says_so)
{
    struct rig r;
    rig_init(&r);
    struct tuple refused = between(7, 40001, 81);
    feed(&r, syn(&refused, 300), 0);
    feed(&r, rst_ack(&refused, false, 0, 301), 1 * MS);
    advance_to(&r, 30 * SEC);
    finish_all(&r);
    char *json = report_json(&r);
    cr_assert_not_null(strstr(json, "\"verdict\":\"refused\""), "%s", json);
    cr_assert_not_null(strstr(json, "not enough evidence to tell the host from a middlebox"));
    free(json);
    rig_free(&r);
}
