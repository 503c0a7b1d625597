/* metrics_serve.c - serves a registry of known counts on /metrics until SIGTERM or SIGINT, for
 * tests/metrics/prometheus.sh (curl, promtool and a real Prometheus scrape it).
 *
 * usage: metrics_serve ADDR:PORT [--allow-remote | --fill]
 * Prints "port N" on stdout once listening. The counts: see add_known() (prometheus.sh checks
 * the same figures). --fill: a full registry instead (1,000 servers of both families and
 * "other", every verdict and cause), for the size of a real scrape. */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char *const verdicts[] = {"accepted", "refused", "dropped"};
static const char *const causes[] = {"no-listener", "firewall-drop"};

static void add(struct met_registry *registry, const char *ip, uint16_t port, unsigned verdict,
                unsigned times, double rtt, int cause)
{
    struct met_attempt attempt;
    memset(&attempt, 0, sizeof attempt);
    attempt.family = strchr(ip, ':') ? 6 : 4;
    inet_pton(attempt.family == 6 ? AF_INET6 : AF_INET, ip, attempt.addr);
    attempt.port = port;
    attempt.verdict = verdict;
    attempt.failed = verdict != 0;
    attempt.has_rtt = rtt > 0;
    attempt.rtt_seconds = rtt;
    attempt.syn_retransmissions = verdict == 2 ? 2 : 0;
    attempt.cause = cause;
    for (unsigned i = 0; i < times; i++) {
        met_observe(registry, &attempt);
    }
}

/* max_series 2: the third server goes under "other" */
static void add_known(struct met_registry *registry)
{
    add(registry, "10.0.0.1", 80, 0, 5, 0.002, -1); /* accepted 5, rtt 2 ms */
    add(registry, "10.0.0.1", 80, 1, 3, 0, 0);      /* refused 3, no-listener */
    add(registry, "2001:db8::1", 22, 2, 4, 0, 1);   /* dropped 4, firewall-drop, 8 retrans */
    add(registry, "192.0.2.9", 443, 1, 7, 0, -1);   /* refused 7: other */
    struct met_capture capture = {1234, 7, 3, 1};
    met_set_capture(registry, &capture);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* a million attempts to 5,000 servers, IPv4 and IPv6 */
static void add_many(struct met_registry *registry)
{
    uint64_t state = 1;
    for (int i = 0; i < 1000000; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        struct met_attempt attempt;
        memset(&attempt, 0, sizeof attempt);
        uint32_t server = (uint32_t)(state >> 33) % 5000;
        attempt.family = server % 2 ? 6 : 4;
        attempt.addr[0] = attempt.family == 6 ? 0x20 : 10;
        attempt.addr[1] = attempt.family == 6 ? 0x01 : 0;
        memcpy(attempt.addr + 12 * (attempt.family == 6) + 2 * (attempt.family == 4), &server, 2);
        attempt.port = (uint16_t)(server % 3 ? 443 : 5432);
        attempt.verdict = (unsigned)(state >> 20) % 3;
        attempt.failed = attempt.verdict != 0;
        attempt.has_rtt = attempt.verdict == 0;
        attempt.rtt_seconds = (double)((state >> 8) % 100000) / 1e6;
        attempt.cause = attempt.failed ? (int)((state >> 4) % 2) : -1;
        met_observe(registry, &attempt);
    }
}

int main(int argc, char **argv)
{
    char errbuf[MET_ERRBUF_SIZE];
    if (argc < 2) {
        fprintf(stderr, "usage: metrics_serve ADDR:PORT [--allow-remote]\n");
        return 2;
    }
    bool fill = argc > 2 && strcmp(argv[2], "--fill") == 0;
    struct met_config config = {fill ? 0 : 2, verdicts, 3, causes, 2, "0.0.0-test"};
    struct met_registry *registry = met_registry_new(&config, errbuf);
    if (registry == NULL) {
        fprintf(stderr, "%s\n", errbuf);
        return 1;
    }
    if (fill) {
        add_many(registry);
    } else {
        add_known(registry);
    }
    struct met_http_config http_config;
    memset(&http_config, 0, sizeof http_config);
    http_config.registry = registry;
    http_config.allow_remote = argc > 2 && strcmp(argv[2], "--allow-remote") == 0;
    if (met_addr_parse(argv[1], &http_config.listen, errbuf) < 0) {
        fprintf(stderr, "%s\n", errbuf);
        met_registry_free(registry);
        return 2;
    }
    struct met_http *http = met_http_new(&http_config, errbuf);
    if (http == NULL) {
        fprintf(stderr, "%s\n", errbuf);
        met_registry_free(registry);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("port %u\n", met_http_port(http));
    fflush(stdout);
    while (!stop) {
        struct pollfd pfds[16];
        int fds[16];
        short events[16];
        size_t n = met_http_fds(http, fds, events, 16);
        for (size_t i = 0; i < n; i++) {
            pfds[i] = (struct pollfd){fds[i], events[i], 0};
        }
        poll(pfds, n, 100);
        met_http_step(http, now_ms());
    }
    met_http_free(http);
    met_registry_free(registry);
    return 0;
}
