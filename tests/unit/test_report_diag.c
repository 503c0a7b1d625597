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
    return report_json_with(r, NULL, 0);
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

/* ---- whose RST: the four signs of a middlebox (README, refused-by-middlebox) ---------------
 * Each sign has a test where it alone fires (verdict refused-by-middlebox, and evidence naming
 * that sign) and twins that look alike but must stay plain refusals: the first fails when the
 * rule is gone, the twins when it fires too eagerly. All packets of the server 10.0.9.1 that are
 * not changed on purpose arrive with TTL 63 (1 hop), so only the sign under test differs. */

/* An accepted attempt of t from its SYN at at_ns: the server's SYN-ACK rtt_ns later with IPv4 ID
 * ip_id (TTL 63), the client's ACK 0.1 ms after that. */
static void accepted_at(struct rig *r, const struct tuple *t, uint32_t isn, int64_t at_ns,
                        int64_t rtt_ns, uint16_t ip_id)
{
    feed(r, syn(t, isn), at_ns);
    struct dec_event sa = synack(t, isn * 7u, isn + 1);
    sa.ip_id = ip_id;
    feed(r, sa, at_ns + rtt_ns);
    feed(r, ack_of(t, true, isn + 1, isn * 7u + 1), at_ns + rtt_ns + MS / 10);
}

/* A refused attempt of t from its SYN at at_ns: a RST+ACK of the SYN rtt_ns later, in the
 * server's name, with TTL ttl and IPv4 ID ip_id. */
static void refused_at(struct rig *r, const struct tuple *t, uint32_t isn, int64_t at_ns,
                       int64_t rtt_ns, uint8_t ttl, uint16_t ip_id)
{
    feed(r, syn(t, isn), at_ns);
    struct dec_event rs = rst_ack(t, false, 0, isn + 1);
    rs.ttl = ttl;
    rs.ip_id = ip_id;
    feed(r, rs, at_ns + rtt_ns);
}

/* Ends the rig's input and returns the JSON report (malloc'd). */
static char *finish_json(struct rig *r)
{
    advance_to(r, 60 * SEC);
    finish_all(r);
    return report_json(r);
}

/* The JSON line of the attempt from client port cport to server port sport (malloc'd); fails
 * the test unless there is exactly one. */
static char *attempt_line(const char *json, uint16_t cport, uint16_t sport)
{
    char client[64], server[64];
    snprintf(client, sizeof(client), "\"port\":%u},\"server\":", (unsigned)cport);
    snprintf(server, sizeof(server), "\"server\":{\"ip\":\"10.0.9.1\",\"port\":%u}",
             (unsigned)sport);
    char *found = NULL;
    for (const char *line = json; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
        char *copy = strndup(line, len);
        cr_assert_not_null(copy);
        if (strncmp(copy, "{\"type\":\"attempt\"", 17) == 0 && strstr(copy, client) != NULL &&
            strstr(copy, server) != NULL) {
            cr_assert_null(found, "two attempts from port %u to port %u:\n%s", cport, sport, json);
            found = copy;
        } else {
            free(copy);
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    cr_assert_not_null(found, "no attempt from port %u to port %u in:\n%s", cport, sport, json);
    return found;
}

/* The attempt from cport to sport has the verdict and its evidence contains the text. */
static void assert_attempt(const char *json, uint16_t cport, uint16_t sport, const char *verdict,
                           const char *evidence)
{
    char *line = attempt_line(json, cport, sport);
    char want[64];
    snprintf(want, sizeof(want), "\"verdict\":\"%s\"", verdict);
    cr_assert_not_null(strstr(line, want), "want %s in:\n%s", want, line);
    const char *ev = strstr(line, "\"evidence\":\"");
    cr_assert_not_null(ev, "no evidence in:\n%s", line);
    cr_assert_not_null(strstr(ev, evidence), "want evidence \"%s\" in:\n%s", evidence, line);
    free(line);
}

/* What the evidence of a refusal says when the RST is judged the host's own. */
#define LIKE_THE_SERVER "the RST arrived 1 hop away, like the server's own packets"

/* -- sign 1: hop distance. (This test was called rst_from_closer_than_the_server_is_a_middlebox;
 * "closer" is the speed sign's word, this one is about hops.) */
Test(report_diag, hops_sign_rst_fewer_hops_away_than_the_servers_synack_is_a_middlebox)
{
    struct rig r;
    rig_init(&r);
    /* the server's SYN-ACK on port 80 arrives with TTL 61 (3 hops); a RST for port 81 with
     * TTL 63 (1 hop): someone nearer answered in the server's name */
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

Test(report_diag, hops_sign_rst_as_many_hops_away_as_the_servers_synack_is_the_host)
{
    struct rig r;
    rig_init(&r);
    struct tuple ok = between(7, 40000, 80), refused = between(7, 40001, 81);
    accepted_at(&r, &ok, 100, 0, 5 * MS, 0x2222);
    refused_at(&r, &refused, 300, 1 * SEC, 5 * MS, 63, 0x2222);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

/* -- sign 2: speed. A RST that comes in less than half the time of the server's fastest
 * SYN-ACK came from nearer than the server, whatever its TTL says (a middlebox may copy the
 * server's TTL). Only when the SYN-ACKs take more than 1 ms: below that, scheduling noise. */
Test(report_diag, speed_sign_rst_under_half_the_fastest_synack_time_is_a_middlebox)
{
    struct rig r;
    rig_init(&r);
    /* the refusal comes first in the capture: it waits for the SYN-ACKs that come later */
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 0, 8 * MS, 63, 0x2222);
    for (uint16_t i = 0; i < 3; i++) {
        struct tuple ok = between(7, (uint16_t)(40010 + i), 80);
        accepted_at(&r, &ok, 1000u + i * 100u, (1 + i) * SEC, (20 + 5 * i) * MS, 0x2222);
    }
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused-by-middlebox",
                   "the RST came after 8.000 ms, the server's fastest SYN-ACK after 20.000 ms: it "
                   "came from closer than the server");
    cr_assert_not_null(strstr(json, "\"kind\":\"middlebox-reset\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, speed_sign_rst_about_as_fast_as_the_synacks_is_the_host)
{
    struct rig r;
    rig_init(&r);
    /* SYN-ACKs after 20 ms; RSTs after 19 ms (as fast) and 11 ms (faster, but not twice) */
    struct tuple ok = between(7, 40000, 80);
    accepted_at(&r, &ok, 100, 0, 20 * MS, 0x2222);
    struct tuple same = between(7, 40001, 81), nearly = between(7, 40002, 81);
    refused_at(&r, &same, 300, 1 * SEC, 19 * MS, 63, 0x2222);
    refused_at(&r, &nearly, 500, 2 * SEC, 11 * MS, 63, 0x2222);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    assert_attempt(json, 40002, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, speed_sign_compares_with_the_fastest_synack_not_a_slow_one)
{
    struct rig r;
    rig_init(&r);
    /* one SYN-ACK after 40 ms, one after 4 ms: a RST after 3 ms is not faster than the host */
    struct tuple slow = between(7, 40000, 80), fast = between(7, 40003, 80);
    accepted_at(&r, &slow, 100, 0, 40 * MS, 0x2222);
    accepted_at(&r, &fast, 200, 1 * SEC, 4 * MS, 0x2222);
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 2 * SEC, 3 * MS, 63, 0x2222);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, speed_sign_needs_synacks_slower_than_1_ms)
{
    struct rig r;
    rig_init(&r);
    /* a LAN: SYN-ACKs after 0.8 ms, a RST after 0.05 ms. Sixteen times faster, but at these
     * times that says more about the server's scheduling than about where the RST came from */
    struct tuple ok = between(7, 40000, 80), refused = between(7, 40001, 81);
    accepted_at(&r, &ok, 100, 0, 800000, 0x2222);
    refused_at(&r, &refused, 300, 1 * SEC, 50000, 63, 0x2222);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

/* -- sign 3: IP ID. A host whose IPv4 IDs count up (a global counter: Windows, many embedded
 * stacks) does not send ID 0; nft's and many firewalls' forged RSTs carry 0. Linux itself sends
 * ID 0 in its SYN-ACKs and RSTs (DF set), so a host that sends 0 itself proves nothing. */
Test(report_diag, ipid_sign_rst_with_id_0_while_the_hosts_ids_count_is_a_middlebox)
{
    struct rig r;
    rig_init(&r);
    /* four SYN-ACKs with IDs 1000, 1003, 1004, 1012 (counting, other traffic between); the RST
     * of port 81, as fast and as far away as they, with ID 0 */
    static const uint16_t ids[] = {1000, 1003, 1004, 1012};
    for (uint16_t i = 0; i < 4; i++) {
        struct tuple ok = between(7, (uint16_t)(40010 + i), 80);
        accepted_at(&r, &ok, 1000u + i * 100u, i * SEC, 5 * MS, ids[i]);
    }
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 5 * SEC, 5 * MS, 63, 0);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused-by-middlebox",
                   "the RST has IP ID 0 while the server's own packets carry counting IDs");
    cr_assert_not_null(strstr(json, "\"kind\":\"middlebox-reset\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, ipid_sign_id_0_from_a_host_with_random_ids_is_the_host)
{
    struct rig r;
    rig_init(&r);
    /* the same, but the host's IDs are random: ID 0 is one of them by chance */
    static const uint16_t ids[] = {0x9c41, 0x1e07, 0xd3a2, 0x4b90, 0x7f15};
    for (uint16_t i = 0; i < 5; i++) {
        struct tuple ok = between(7, (uint16_t)(40010 + i), 80);
        accepted_at(&r, &ok, 1000u + i * 100u, i * SEC, 5 * MS, ids[i]);
    }
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 6 * SEC, 5 * MS, 63, 0);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, ipid_sign_id_0_from_a_host_that_sends_id_0_itself_is_the_host)
{
    struct rig r;
    rig_init(&r);
    /* counting IDs in four SYN-ACKs, but a fifth with ID 0 (as Linux sends them): ID 0 is
     * this host's own habit */
    static const uint16_t ids[] = {1000, 1003, 1004, 1012, 0};
    for (uint16_t i = 0; i < 5; i++) {
        struct tuple ok = between(7, (uint16_t)(40010 + i), 80);
        accepted_at(&r, &ok, 1000u + i * 100u, i * SEC, 5 * MS, ids[i]);
    }
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 6 * SEC, 5 * MS, 63, 0);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, ipid_sign_needs_more_than_three_counting_ids)
{
    struct rig r;
    rig_init(&r);
    /* three counting IDs are two steps: too few to call it a counter */
    static const uint16_t ids[] = {1000, 1003, 1004};
    for (uint16_t i = 0; i < 3; i++) {
        struct tuple ok = between(7, (uint16_t)(40010 + i), 80);
        accepted_at(&r, &ok, 1000u + i * 100u, i * SEC, 5 * MS, ids[i]);
    }
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 5 * SEC, 5 * MS, 63, 0);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, ipid_sign_counting_icmp_ids_do_not_make_the_hosts_rst_ids_count)
{
    struct rig r;
    rig_init(&r);
    /* a Linux server, no SYN-ACK in the capture: its ICMP port unreachables count per
     * destination (IDs 37469, 37484, 37509, 37517, 37519 in a real capture), its own RST for a
     * closed port carries ID 0 like every Linux RST. The ICMP counter says nothing about the
     * IDs of its TCP packets (pcaps/refused-linux-id0-v4 is this from the real kernel) */
    static const uint16_t ids[] = {37469, 37484, 37509, 37517, 37519};
    for (uint16_t i = 0; i < 5; i++) {
        struct tuple t = between(7, (uint16_t)(40010 + i), 85);
        feed(&r, syn(&t, 1000u + i * 100u), i * 100 * MS);
        struct dec_event ic = icmp_err(&t.server, &t, 1000u + i * 100u, 3, 3);
        ic.ttl = 63;
        ic.has_ip_id = true;
        ic.ip_id = ids[i];
        feed(&r, ic, i * 100 * MS + MS / 10);
    }
    struct tuple refused = between(7, 40001, 81);
    refused_at(&r, &refused, 300, 2 * SEC, MS / 10, 63, 0);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    free(json);
    rig_free(&r);
}

/* -- sign 4: the server's own SYN-ACK after the RST. The SYN reached the server, which
 * answered it: the RST that came first was someone else's (an IPS that injects RSTs and lets
 * the SYN pass). */
Test(report_diag, late_synack_sign_servers_synack_after_the_rst_is_a_middlebox)
{
    struct rig r;
    rig_init(&r);
    struct tuple t = between(7, 40001, 81);
    refused_at(&r, &t, 300, 0, 1 * MS, 63, 0x2222);
    feed(&r, synack(&t, 9000, 301), 3 * MS);        /* acknowledges this SYN */
    feed(&r, rst(&t, true, 301), 3 * MS + MS / 10); /* the client's kernel: no socket */
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused-by-middlebox",
                   "the server's own SYN-ACK (TTL 63) came after the RST");
    cr_assert_not_null(strstr(json, "\"kind\":\"middlebox-reset\""), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, late_synack_sign_synack_of_another_isn_after_the_rst_is_not_the_servers)
{
    struct rig r;
    rig_init(&r);
    /* an accepted connection on port 80 gives the host's hops; the SYN-ACK after the RST of
     * port 81 acknowledges 5001, not this SYN's 301: not an answer to it */
    struct tuple ok = between(7, 40000, 80), t = between(7, 40001, 81);
    accepted_at(&r, &ok, 100, 0, 1 * MS, 0x2222);
    refused_at(&r, &t, 300, 1 * SEC, 1 * MS, 63, 0x2222);
    feed(&r, synack(&t, 9000, 5001), 1 * SEC + 3 * MS);
    char *json = finish_json(&r);
    assert_attempt(json, 40001, 81, "refused", LIKE_THE_SERVER);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    cr_assert_null(strstr(json, "came after the RST"), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag, late_synack_sign_synack_to_a_syn_sent_again_after_the_rst_is_an_accept)
{
    struct rig r;
    rig_init(&r);
    /* the client sends its SYN again after the RST (Windows does, Linux does not) and the
     * SYN-ACK answers that: the listener was back, not a sign of a middlebox */
    struct tuple ok = between(7, 40000, 80), t = between(7, 40001, 81);
    accepted_at(&r, &ok, 100, 0, 1 * MS, 0x2222);
    refused_at(&r, &t, 300, 1 * SEC, 1 * MS, 63, 0x2222);
    feed(&r, syn(&t, 300), 1 * SEC + 500 * MS);
    feed(&r, synack(&t, 9000, 301), 1 * SEC + 501 * MS);
    feed(&r, ack_of(&t, true, 301, 9001), 1 * SEC + 502 * MS);
    char *json = finish_json(&r);
    char *line = attempt_line(json, 40001, 81);
    cr_assert_not_null(strstr(line, "\"verdict\":\"accepted\""), "%s", line);
    free(line);
    cr_assert_null(strstr(json, "\"verdict\":\"refused-by-middlebox\""), "%s", json);
    cr_assert_null(strstr(json, "came after the RST"), "%s", json);
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
