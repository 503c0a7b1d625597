/* test_registry.c - the metrics registry: the exposition's lines, the bound on servers and the
 * "other" series, promotion by failures, counters that never go back under churn. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char *const verdicts[] = {"accepted", "refused", "dropped"};
static const char *const causes[] = {"no-listener", "a\"b\\c\nd"};

static struct met_registry *make(unsigned max_series)
{
    char errbuf[MET_ERRBUF_SIZE];
    struct met_config config = {max_series, verdicts, 3, causes, 2, "1.2.3"};
    struct met_registry *registry = met_registry_new(&config, errbuf);
    cr_assert_not_null(registry, "%s", errbuf);
    return registry;
}

static void observe(struct met_registry *registry, uint32_t ip, uint16_t port, unsigned verdict,
                    double rtt, int cause)
{
    struct met_attempt attempt;
    memset(&attempt, 0, sizeof attempt);
    attempt.family = 4;
    uint32_t be = htonl(ip);
    memcpy(attempt.addr, &be, 4);
    attempt.port = port;
    attempt.verdict = verdict;
    attempt.failed = verdict != 0;
    attempt.has_rtt = rtt >= 0;
    attempt.rtt_seconds = rtt;
    attempt.cause = cause;
    attempt.syn_retransmissions = verdict == 2;
    met_observe(registry, &attempt);
}

static char *render(const struct met_registry *registry)
{
    size_t len = met_render(registry, NULL, 0);
    char *text = malloc(len + 1);
    cr_assert_not_null(text);
    cr_assert_eq(met_render(registry, text, len + 1), len);
    cr_assert_eq(strlen(text), len);
    return text;
}

Test(registry, lines_of_one_server)
{
    struct met_registry *registry = make(10);
    observe(registry, 0x0a000001, 80, 0, 0.0007, -1);
    observe(registry, 0x0a000001, 80, 0, 0.003, -1);
    observe(registry, 0x0a000001, 80, 1, -1, 0);
    struct met_capture capture = {100, 2, 5, 1};
    met_set_capture(registry, &capture);
    char *text = render(registry);
    const char *want[] = {
        "# HELP synscope_attempts_total ",
        "# TYPE synscope_attempts_total counter\n",
        "synscope_attempts_total{server=\"10.0.0.1:80\",verdict=\"accepted\"} 2\n",
        "synscope_attempts_total{server=\"10.0.0.1:80\",verdict=\"refused\"} 1\n",
        "synscope_host_cause_total{server=\"10.0.0.1:80\",cause=\"no-listener\"} 1\n",
        "# TYPE synscope_handshake_rtt_seconds histogram\n",
        "synscope_handshake_rtt_seconds_bucket{server=\"10.0.0.1:80\",le=\"0.0005\"} 0\n",
        "synscope_handshake_rtt_seconds_bucket{server=\"10.0.0.1:80\",le=\"0.001\"} 1\n",
        "synscope_handshake_rtt_seconds_bucket{server=\"10.0.0.1:80\",le=\"0.005\"} 2\n",
        "synscope_handshake_rtt_seconds_bucket{server=\"10.0.0.1:80\",le=\"+Inf\"} 2\n",
        "synscope_handshake_rtt_seconds_count{server=\"10.0.0.1:80\"} 2\n",
        "synscope_syn_retransmissions_total{server=\"10.0.0.1:80\"} 0\n",
        "synscope_capture_packets_total 100\n",
        "synscope_capture_dropped_total 2\n",
        "synscope_attempts_open 5\n",
        "synscope_attempts_evicted_total 1\n",
        "synscope_build_info{version=\"1.2.3\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_expect_not_null(strstr(text, want[i]), "missing: %s\nin:\n%s", want[i], text);
    }
    cr_expect_null(strstr(text, "dropped\"}"), "zero counts by verdict are left out");
    cr_expect_null(strstr(text, "other"));
    free(text);
    met_registry_free(registry);
}

Test(registry, label_values_escaped)
{
    struct met_registry *registry = make(10);
    observe(registry, 0x0a000001, 80, 1, -1, 1);
    char *text = render(registry);
    cr_expect_not_null(strstr(text, "cause=\"a\\\"b\\\\c\\nd\"} 1\n"), "%s", text);
    free(text);
    met_registry_free(registry);
}

Test(registry, cut_output_counts_the_whole)
{
    struct met_registry *registry = make(10);
    observe(registry, 0x0a000001, 80, 1, -1, 1);
    char small[100];
    size_t len = met_render(registry, small, sizeof small);
    cr_expect_gt(len, sizeof small);
    cr_expect_eq(strlen(small), sizeof small - 1);
    met_registry_free(registry);
}

/* The value of the attempts_total line of server and verdict, or -1 when absent. */
static long long value_of(const char *text, const char *server, const char *verdict)
{
    char prefix[160];
    snprintf(prefix, sizeof prefix, "synscope_attempts_total{server=\"%s\",verdict=\"%s\"} ",
             server, verdict);
    const char *line = strstr(text, prefix);
    return line == NULL ? -1 : strtoll(line + strlen(prefix), NULL, 10);
}

Test(registry, bounded_rest_under_other)
{
    struct met_registry *registry = make(3);
    for (uint32_t i = 0; i < 100; i++) {
        observe(registry, 0x0a000000 + i, 80, 0, -1, -1);
    }
    struct met_registry_stats stats;
    met_registry_stats(registry, &stats);
    cr_expect_eq(stats.series, 3);
    cr_expect_leq(stats.candidates, 16);
    char *text = render(registry);
    cr_expect_eq(value_of(text, "other", "accepted"), 97, "%s", text);
    cr_expect_eq(value_of(text, "10.0.0.0:80", "accepted"), 1);
    cr_expect_eq(value_of(text, "10.0.0.3:80", "accepted"), -1);
    free(text);
    met_registry_free(registry);
}

Test(registry, failing_server_promoted_ended_one_never_returns)
{
    struct met_registry *registry = make(2);
    observe(registry, 0x0a000001, 80, 0, -1, -1); /* A: one success */
    observe(registry, 0x0a000002, 80, 0, -1, -1);
    observe(registry, 0x0a000002, 80, 0, -1, -1); /* B: two */
    for (int i = 0; i < 3; i++) {
        observe(registry, 0x0a000003, 80, 1, -1, -1); /* C: refused, under "other" */
    }
    /* the third refusal promoted C: its series starts at zero, the three stay in "other" */
    observe(registry, 0x0a000003, 80, 1, -1, -1);
    observe(registry, 0x0a000003, 80, 1, -1, -1);
    char *text = render(registry);
    cr_expect_eq(value_of(text, "10.0.0.3:80", "refused"), 2, "%s", text);
    cr_expect_eq(value_of(text, "10.0.0.1:80", "accepted"), -1, "A's series ended");
    cr_expect_eq(value_of(text, "other", "refused"), 3);
    free(text);
    /* A fails a lot now: its series does not come back (it would restart from zero) */
    for (int i = 0; i < 50; i++) {
        observe(registry, 0x0a000001, 80, 1, -1, -1);
    }
    text = render(registry);
    cr_expect_eq(value_of(text, "10.0.0.1:80", "refused"), -1, "%s", text);
    cr_expect_eq(value_of(text, "other", "refused"), 53);
    free(text);
    struct met_registry_stats stats;
    met_registry_stats(registry, &stats);
    cr_expect_eq(stats.demotions, 1);
    met_registry_free(registry);
}

/* Every line of attempts_total: "server\tverdict" -> value, as the exposition shows it. */
struct sample_set {
    char keys[64][96];
    long long values[64];
    unsigned count;
};

static void parse_samples(const char *text, struct sample_set *set)
{
    set->count = 0;
    const char *prefix = "synscope_attempts_total{";
    for (const char *line = strstr(text, prefix); line != NULL; line = strstr(line + 1, prefix)) {
        const char *close = strstr(line, "} ");
        cr_assert_not_null(close);
        cr_assert_lt(set->count, 64);
        size_t len = (size_t)(close - line);
        cr_assert_lt(len, 96);
        memcpy(set->keys[set->count], line, len);
        set->keys[set->count][len] = '\0';
        set->values[set->count++] = strtoll(close + 2, NULL, 10);
    }
}

static long long lookup(const struct sample_set *set, const char *key)
{
    for (unsigned i = 0; i < set->count; i++) {
        if (strcmp(set->keys[i], key) == 0) {
            return set->values[i];
        }
    }
    return -1;
}

Test(registry, counters_monotonic_under_churn)
{
    struct met_registry *registry = make(8);
    struct sample_set before, now, ended;
    memset(&before, 0, sizeof before);
    memset(&ended, 0, sizeof ended);
    uint64_t state = 12345;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 300; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            /* skewed: small server numbers often; which servers fail shifts over time */
            uint32_t server = (uint32_t)((state >> 33) % 64);
            server = (uint32_t)(server * server / 64 + (uint32_t)round / 20);
            unsigned verdict = (unsigned)((state >> 20) % 3);
            if ((server + (uint32_t)round / 50) % 5 != 0) {
                verdict = 0;
            }
            observe(registry, 0x0a000000 + server, 80, verdict, 0.001, -1);
        }
        char *text = render(registry);
        parse_samples(text, &now);
        free(text);
        for (unsigned k = 0; k < now.count; k++) {
            cr_assert_eq(lookup(&ended, now.keys[k]), -1, "series came back: %s", now.keys[k]);
            long long old = lookup(&before, now.keys[k]);
            cr_assert_geq(now.values[k], old, "went back: %s %lld -> %lld", now.keys[k], old,
                          now.values[k]);
        }
        for (unsigned k = 0; k < before.count; k++) {
            if (lookup(&now, before.keys[k]) < 0 && lookup(&ended, before.keys[k]) < 0) {
                cr_assert_lt(ended.count, 64);
                snprintf(ended.keys[ended.count++], sizeof ended.keys[0], "%s", before.keys[k]);
            }
        }
        before = now;
    }
    struct met_registry_stats stats;
    met_registry_stats(registry, &stats);
    cr_expect_gt(stats.demotions, 0, "the churn must move servers in and out");
    cr_expect_leq(stats.series, 8);
    cr_expect_leq(stats.candidates, 16);
    met_registry_free(registry);
}

Test(registry, totals_equal_observations_without_churn)
{
    struct met_registry *registry = make(4);
    long long sent = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        observe(registry, 0x0a000000 + i % 20, 80, 0, -1, -1);
        sent++;
    }
    char *text = render(registry);
    struct sample_set set;
    parse_samples(text, &set);
    long long sum = 0;
    for (unsigned k = 0; k < set.count; k++) {
        sum += set.values[k];
    }
    cr_expect_eq(sum, sent, "%s", text);
    free(text);
    met_registry_free(registry);
}

Test(registry, refuses_bad_config)
{
    char errbuf[MET_ERRBUF_SIZE];
    struct met_config config = {MET_MAX_SERIES_LIMIT + 1, verdicts, 3, NULL, 0, "x"};
    cr_expect_null(met_registry_new(&config, errbuf));
    cr_expect_not_null(strstr(errbuf, "series"));
    config.max_series = 0;
    config.verdict_count = 33;
    cr_expect_null(met_registry_new(&config, errbuf));
}

/* The memory taken at creation is all there is: a million attempts to 100,000 servers, at the
 * default limit, allocate nothing. */
Test(registry, memory_flat_under_traffic)
{
    struct met_registry *registry = make(0);
    uint64_t state = 7;
    for (int i = 0; i < 20000; i++) { /* fills the series and the candidates */
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        observe(registry, (uint32_t)(state >> 40), 443, (unsigned)(state >> 20) % 3, 0.01, -1);
    }
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 1000000; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t server = (uint32_t)(state >> 33) % 100000;
        observe(registry, 0x0a000000 + server, 443, (unsigned)(state >> 20) % 3, 0.01, -1);
    }
    struct mallinfo2 after = mallinfo2();
    cr_expect_eq(after.uordblks, before.uordblks, "%zu bytes more",
                 after.uordblks - before.uordblks);
    struct met_registry_stats stats;
    met_registry_stats(registry, &stats);
    cr_expect_eq(stats.series, MET_DEFAULT_MAX_SERIES);
    cr_expect_eq(stats.candidates, MET_DEFAULT_MAX_SERIES);
    met_registry_free(registry);
}
