/* test_report_diag_rules.c - the restrictions README states on two diagnoses, each tested with
 * twins that differ in one fact: unresolved-neighbour (counted only in the asker's own capture,
 * and only when no SYN to the address is on the wire) and overloaded against single-client (a
 * drop rule for one client is not a full accept queue). Attempts and neighbour records are
 * built in memory and the diagnoses read back from the JSON report. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_fixtures.h"

/* Ends the rig's input and runs its attempts, and the neighbour records given, through a JSON
 * report; returns the malloc'd output. */
static char *report_with(struct rig *r, const struct flow_neighbour *neighbours, size_t count)
{
    advance_to(r, 60 * SEC);
    finish_all(r);
    return report_json_with(r, neighbours, count);
}

/* The report line that starts with prefix (malloc'd), or NULL. */
static char *line_starting(const char *json, const char *prefix)
{
    for (const char *line = json; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            char *copy = strndup(line, len);
            cr_assert_not_null(copy);
            return copy;
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    return NULL;
}

/* Whether the report line starting with prefix exists and carries a diagnosis of kind. */
static bool has_diagnosis(const char *json, const char *prefix, const char *kind)
{
    char *line = line_starting(json, prefix);
    char want[64];
    snprintf(want, sizeof(want), "{\"kind\":\"%s\"", kind);
    bool found = line != NULL && strstr(line, want) != NULL;
    free(line);
    return found;
}

/* ---- unresolved-neighbour ------------------------------------------------------------------
 * Host A = 10.0.0.7 asks 3 times for X = 10.0.0.99 and gets no answer. */

#define HOST_X "{\"type\":\"host\",\"server\":{\"ip\":\"10.0.0.99\"}"

static struct flow_neighbour unanswered(uint32_t requests)
{
    struct flow_neighbour n = {.family = 4, .requests = requests, .replies = 0};
    n.addr = addr4(10, 0, 0, 99);
    n.asked_by = addr4(10, 0, 0, 7);
    n.first_ns = T0;
    n.last_ns = T0 + (int64_t)(requests - 1) * 900 * MS; /* Linux: about 1 s apart */
    n.first_pkt = 1;
    return n;
}

/* A tuple between client 10.0.0.<client>:<client_port> and server 10.0.<net>.<host>:<port>. */
static struct tuple between(uint8_t client, uint16_t client_port, uint8_t net, uint8_t host,
                            uint16_t port)
{
    struct tuple t = tuple4(client_port, port);
    t.client = addr4(10, 0, 0, client);
    t.server = addr4(10, 0, net, host);
    return t;
}

Test(report_diag_rules, neighbour_unanswered_in_the_askers_capture_is_diagnosed)
{
    struct rig r;
    rig_init(&r);
    struct tuple own = between(7, 40000, 9, 1, 80); /* A's own attempt elsewhere */
    handshake(&r, &own, 0);
    struct flow_neighbour n = unanswered(3);
    char *json = report_with(&r, &n, 1);
    cr_assert(has_diagnosis(json, HOST_X, "unresolved-neighbour"), "%s", json);
    cr_assert_not_null(strstr(json, "10.0.0.7 asked 3 times for 10.0.0.99 (ARP)"), "%s", json);
    free(json);
    rig_free(&r);
}

Test(report_diag_rules, neighbour_unanswered_with_no_attempt_at_all_is_diagnosed)
{
    struct rig r;
    rig_init(&r);
    struct flow_neighbour n = unanswered(3);
    char *json = report_with(&r, &n, 1);
    cr_assert(has_diagnosis(json, HOST_X, "unresolved-neighbour"), "%s", json);
    free(json);
    rig_free(&r);
}

/* The twin of the first test with the attempt made by B = 10.0.0.8 instead of A: the capture is
 * B's (or a span port's), and A's replies, unicast to A, may simply not be in it. */
Test(report_diag_rules, neighbour_asked_by_a_host_without_attempts_while_another_has_one_is_not)
{
    struct rig r;
    rig_init(&r);
    struct tuple other = between(8, 40000, 9, 1, 80);
    handshake(&r, &other, 0);
    struct flow_neighbour n = unanswered(3);
    char *json = report_with(&r, &n, 1);
    cr_assert_not(has_diagnosis(json, HOST_X, "unresolved-neighbour"), "%s", json);
    cr_assert_null(strstr(json, "unresolved-neighbour"), "%s", json);
    free(json);
    rig_free(&r);
}

/* The twin of the first test with A's SYN going to X itself: the SYN left the client, so the
 * address was resolved somehow (the reply is just not in the capture). */
Test(report_diag_rules, neighbour_with_a_syn_to_it_on_the_wire_is_not)
{
    struct rig r;
    rig_init(&r);
    struct tuple to_x = between(7, 40000, 0, 99, 80);
    feed(&r, syn(&to_x, 100), 3 * SEC);
    struct flow_neighbour n = unanswered(3);
    char *json = report_with(&r, &n, 1);
    cr_assert_not(has_diagnosis(json, HOST_X, "unresolved-neighbour"), "%s", json);
    cr_assert_null(strstr(json, "unresolved-neighbour"), "%s", json);
    free(json);
    rig_free(&r);
}

/* Asked once only: Linux asks 3 times before it gives up, so one request is no failure yet. */
Test(report_diag_rules, neighbour_asked_only_once_is_not)
{
    struct rig r;
    rig_init(&r);
    struct tuple own = between(7, 40000, 9, 1, 80);
    handshake(&r, &own, 0);
    struct flow_neighbour n = unanswered(1);
    char *json = report_with(&r, &n, 1);
    cr_assert_null(strstr(json, "unresolved-neighbour"), "%s", json);
    free(json);
    rig_free(&r);
}

/* ---- overloaded against single-client ------------------------------------------------------
 * One service, 10.0.9.1:80, clients 10.0.0.6, .7 and .8, every attempt within 1.5 s: accepted
 * ones (handshake, then closed by the client) and dropped ones (a SYN, no answer). The report
 * gets an accepted attempt 3 s after its close (the linger, one SYN timeout) and a dropped one
 * 4.5 s after its SYN, so an accepted attempt that starts less than 1.5 s after a drop reaches
 * the report first: the rule must hold in either order. */

#define SERVICE_80 "{\"type\":\"service\",\"server\":{\"ip\":\"10.0.9.1\",\"port\":80}"

static void accepted(struct rig *r, uint8_t client, uint16_t client_port, int64_t at_ns)
{
    struct tuple t = between(client, client_port, 9, 1, 80);
    handshake(r, &t, at_ns); /* ISNs 1000 and 7000 */
    feed(r, fin(&t, true, 1001, 7001), at_ns + 3 * MS);
    feed(r, fin(&t, false, 7001, 1002), at_ns + 4 * MS);
    feed(r, ack_of(&t, true, 1002, 7002), at_ns + 5 * MS);
}

static void dropped(struct rig *r, uint8_t client, uint16_t client_port, int64_t at_ns)
{
    struct tuple t = between(client, client_port, 9, 1, 80);
    feed(r, syn(&t, 500u + client_port), at_ns);
}

/* pcaps/single-client-v4: a drop rule for .7 alone, .8 connects in between. */
Test(report_diag_rules, drops_of_one_never_accepted_client_are_single_client_not_overload)
{
    struct rig r;
    rig_init(&r);
    dropped(&r, 7, 40000, 0);
    accepted(&r, 8, 50000, 300 * MS);
    dropped(&r, 7, 40001, 600 * MS);
    accepted(&r, 8, 50001, 900 * MS);
    char *json = report_with(&r, NULL, 0);
    cr_assert(has_diagnosis(json, SERVICE_80, "single-client"), "%s", json);
    cr_assert_not(has_diagnosis(json, SERVICE_80, "overloaded"), "%s", json);
    free(json);
    rig_free(&r);
}

/* The same with several other clients accepted before the first drop (the losing client is
 * then looked up among more than one accepted client). */
Test(report_diag_rules, drops_of_one_client_after_two_others_were_accepted_are_not_overload)
{
    struct rig r;
    rig_init(&r);
    accepted(&r, 8, 50000, 0);
    accepted(&r, 6, 50001, 100 * MS);
    dropped(&r, 7, 40000, 300 * MS);
    dropped(&r, 7, 40001, 600 * MS);
    char *json = report_with(&r, NULL, 0);
    cr_assert(has_diagnosis(json, SERVICE_80, "single-client"), "%s", json);
    cr_assert_not(has_diagnosis(json, SERVICE_80, "overloaded"), "%s", json);
    free(json);
    rig_free(&r);
}

/* Twin: the client whose SYNs are dropped was accepted too, before (and among two accepted
 * clients): no rule against it, the listener drops whoever comes when it is full. */
Test(report_diag_rules, drops_of_a_client_that_was_also_accepted_before_are_overload)
{
    struct rig r;
    rig_init(&r);
    accepted(&r, 8, 50000, 0);
    accepted(&r, 7, 40000, 100 * MS);
    dropped(&r, 7, 40001, 300 * MS);
    dropped(&r, 7, 40002, 600 * MS);
    char *json = report_with(&r, NULL, 0);
    cr_assert(has_diagnosis(json, SERVICE_80, "overloaded"), "%s", json);
    free(json);
    rig_free(&r);
}

/* Twin: accepted after its drop, and reaching the report after it (2 s later). */
Test(report_diag_rules, drops_of_a_client_that_is_accepted_later_are_overload)
{
    struct rig r;
    rig_init(&r);
    dropped(&r, 7, 40000, 0);
    accepted(&r, 8, 50000, 300 * MS);
    accepted(&r, 7, 40002, 2 * SEC);
    char *json = report_with(&r, NULL, 0);
    cr_assert(has_diagnosis(json, SERVICE_80, "overloaded"), "%s", json);
    free(json);
    rig_free(&r);
}

/* Twin: two clients lose SYNs, neither is ever accepted, a third is: not a rule about one
 * source. */
Test(report_diag_rules, drops_of_two_clients_are_overload)
{
    struct rig r;
    rig_init(&r);
    dropped(&r, 7, 40000, 0);
    accepted(&r, 8, 50000, 300 * MS);
    dropped(&r, 6, 40001, 600 * MS);
    accepted(&r, 8, 50001, 900 * MS);
    char *json = report_with(&r, NULL, 0);
    cr_assert(has_diagnosis(json, SERVICE_80, "overloaded"), "%s", json);
    cr_assert_not(has_diagnosis(json, SERVICE_80, "single-client"), "%s", json);
    free(json);
    rig_free(&r);
}

/* ---- the order of the diagnoses ------------------------------------------------------------
 * Most severe first, then by what they are about. Client 10.0.0.7 loses its SYNs at two
 * services while 10.0.0.8 connects (single-client, about the client: the failures are one
 * client's), and asks in vain for 10.0.200.2, then 10.0.200.1 (unresolved-neighbour: blocked).
 * The hosts come first although their addresses sort after the client's, and in the order of
 * their addresses, not of their records. */
Test(report_diag_rules, diagnoses_are_listed_most_severe_first_then_by_address)
{
    struct rig r;
    rig_init(&r);
    dropped(&r, 7, 40000, 0);
    accepted(&r, 8, 50000, 300 * MS);
    struct tuple other = between(7, 40001, 9, 2, 80);
    feed(&r, syn(&other, 900), 600 * MS);
    struct flow_neighbour n[2] = {unanswered(3), unanswered(3)};
    n[0].addr = addr4(10, 0, 200, 2);
    n[1].addr = addr4(10, 0, 200, 1);
    char *json = report_with(&r, n, 2);
    const char *host1 = strstr(json, "{\"type\":\"host\",\"server\":{\"ip\":\"10.0.200.1\"}");
    const char *host2 = strstr(json, "{\"type\":\"host\",\"server\":{\"ip\":\"10.0.200.2\"}");
    const char *client = strstr(json, "{\"type\":\"client\",\"client\":{\"ip\":\"10.0.0.7\"}");
    cr_assert(host1 != NULL && host2 != NULL && client != NULL, "%s", json);
    cr_assert(host1 < host2 && host2 < client, "%s", json);
    free(json);
    rig_free(&r);
}
