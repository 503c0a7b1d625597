/* test_http.c - the /metrics responder on loopback: good requests, each malformed request with
 * its status, slow clients, too many clients, deadlines, the refused non-local bind, and the
 * address parser. The test drives met_http_step() itself, with a clock it moves. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"

static const char *const verdicts[] = {"accepted", "refused"};
static struct met_registry *registry;
static struct met_http *http;
static uint64_t clock_ms = 1000;

static void start(unsigned max_clients)
{
    char errbuf[MET_ERRBUF_SIZE];
    struct met_config config = {10, verdicts, 2, NULL, 0, "9.9.9"};
    registry = met_registry_new(&config, errbuf);
    cr_assert_not_null(registry, "%s", errbuf);
    struct met_attempt attempt = {4, {127, 0, 0, 1}, 80, 1, true, false, 0, 0, -1};
    met_observe(registry, &attempt);
    struct met_http_config http_config;
    memset(&http_config, 0, sizeof http_config);
    http_config.registry = registry;
    http_config.max_clients = max_clients;
    http_config.timeout_ms = 5000;
    cr_assert_eq(met_addr_parse("127.0.0.1:0", &http_config.listen, errbuf), 0);
    http = met_http_new(&http_config, errbuf);
    cr_assert_not_null(http, "%s", errbuf);
}

static void stop(void)
{
    met_http_free(http);
    met_registry_free(registry);
}

static int client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(met_http_port(http))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0, "%s", strerror(errno));
    return fd;
}

/* Steps the server until the client reads end of file; returns what it read (malloc'd). */
static char *read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (int i = 0; i < 2000; i++) {
        met_http_step(http, clock_ms);
        ssize_t n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
        if (n == 0) {
            break;
        }
        if (n > 0) {
            len += (size_t)n;
            cr_assert_lt(len, cap);
            continue;
        }
        cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "%s", strerror(errno));
        usleep(1000);
    }
    buf[len] = '\0';
    return buf;
}

static char *exchange(const char *request, size_t len)
{
    int fd = client();
    cr_assert_eq(send(fd, request, len, 0), (ssize_t)len);
    char *response = read_all(fd);
    close(fd);
    return response;
}

static void expect_status(const char *request, size_t len, const char *status_line)
{
    char *response = exchange(request, len);
    cr_expect_eq(strncmp(response, status_line, strlen(status_line)), 0,
                 "request %.60s...: got %.60s, want %s", request, response, status_line);
    cr_expect_not_null(strstr(response, "Connection: close\r\n"));
    free(response);
}

#define STATUS(request, line) expect_status(request, sizeof request - 1, line)

Test(http, get_and_head)
{
    start(8);
    char *response = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35);
    cr_expect_eq(strncmp(response, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", response);
    cr_expect_not_null(strstr(response, "Content-Type: text/plain; version=0.0.4"));
    const char *body = strstr(response, "\r\n\r\n");
    cr_assert_not_null(body);
    body += 4;
    const char *length = strstr(response, "Content-Length: ");
    cr_assert_not_null(length);
    cr_expect_eq(strtoul(length + 16, NULL, 10), strlen(body));
    cr_expect_not_null(
        strstr(body, "synscope_attempts_total{server=\"127.0.0.1:80\",verdict=\"refused\"} 1\n"));
    free(response);
    response = exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 36);
    cr_expect_eq(strncmp(response, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", response);
    cr_expect_eq(strcmp(strstr(response, "\r\n\r\n"), "\r\n\r\n"), 0, "HEAD has no body");
    free(response);
    STATUS("GET /metrics?name[]=x HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", "HTTP/1.1 200");
    STATUS("GET /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 200");
    STATUS("GET /metrics HTTP/1.1\r\nhOsT:   x  \r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200");
    struct met_http_stats stats;
    met_http_stats(http, &stats);
    cr_expect_eq(stats.served, 5);
    stop();
}

Test(http, each_malformed_request_its_status)
{
    start(8);
    STATUS("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404");
    STATUS("GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404");
    STATUS("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405");
    STATUS("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405");
    STATUS("GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400"); /* no Host */
    STATUS("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics HTTP/1.1\nHost: x\n\n", "HTTP/1.1 400"); /* bare LF */
    STATUS("GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics HTTP/1.1\r\nHost: x\x01y\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics\r\n\r\n", "HTTP/1.1 400"); /* HTTP/0.9 */
    STATUS("\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505");
    STATUS("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505"); /* h2 preface */
    STATUS("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 413");
    STATUS("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", "HTTP/1.1 400");
    STATUS("GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "HTTP/1.1 413");
    const char nul[] = "GET /me\0trics HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_status(nul, sizeof nul - 1, "HTTP/1.1 400");
    const char binary[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    expect_status(binary, sizeof binary - 1, "HTTP/1.1 400");
    stop();
}

Test(http, oversize_requests)
{
    start(8);
    size_t cap = 20000;
    char *request = malloc(cap);
    /* a request line longer than 1,024 bytes */
    int len = snprintf(request, cap, "GET /%01500d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    expect_status(request, (size_t)len, "HTTP/1.1 414");
    /* 40 header fields */
    len = snprintf(request, cap, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 40; i++) {
        len += snprintf(request + len, cap - (size_t)len, "X-%d: y\r\n", i);
    }
    len += snprintf(request + len, cap - (size_t)len, "\r\n");
    expect_status(request, (size_t)len, "HTTP/1.1 431");
    /* 9,000 bytes of one header field */
    len = snprintf(request, cap, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: %09000d\r\n\r\n", 0);
    expect_status(request, (size_t)len, "HTTP/1.1 431");
    free(request);
    stop();
}

Test(http, slow_clients_do_not_keep_a_scraper_out)
{
    start(8);
    int slow[20];
    for (int i = 0; i < 20; i++) {
        slow[i] = client();
        cr_assert_eq(send(slow[i], "GET /met", 8, 0), 8);
        met_http_step(http, clock_ms);
    }
    clock_ms += 100;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20; i++) {
            (void)!send(slow[i], "r", 1, MSG_NOSIGNAL); /* a byte now and then */
        }
        cr_expect_leq(met_http_step(http, clock_ms), 8);
        clock_ms += 100;
    }
    char *response = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 35);
    cr_expect_eq(strncmp(response, "HTTP/1.1 200 OK\r\n", 17), 0, "%s", response);
    free(response);
    struct met_http_stats stats;
    met_http_stats(http, &stats);
    cr_expect_eq(stats.served, 1);
    cr_expect_gt(stats.evicted + stats.refused, 0);
    /* at the deadline, every slow client is closed */
    clock_ms += 5000;
    cr_expect_eq(met_http_step(http, clock_ms), 0);
    for (int i = 0; i < 20; i++) {
        close(slow[i]);
    }
    stop();
}

Test(http, clients_over_the_limit_refused)
{
    start(8);
    int fds[12];
    for (int i = 0; i < 12; i++) {
        fds[i] = client(); /* all accepted in one step: none can be evicted */
    }
    cr_expect_eq(met_http_step(http, clock_ms), 8);
    struct met_http_stats stats;
    met_http_stats(http, &stats);
    cr_expect_eq(stats.refused, 4);
    int refused_seen = 0;
    for (int i = 0; i < 12; i++) {
        char buf[128] = {0};
        ssize_t n = recv(fds[i], buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n > 0 && strncmp(buf, "HTTP/1.1 503", 12) == 0) {
            refused_seen++;
        }
        close(fds[i]);
    }
    cr_expect_eq(refused_seen, 4);
    stop();
}

Test(http, deadline_closes_silent_client)
{
    start(8);
    int fd = client();
    cr_expect_eq(met_http_step(http, clock_ms), 1);
    cr_expect_eq(met_http_step(http, clock_ms + 4999), 1);
    cr_expect_eq(met_http_step(http, clock_ms + 5000), 0);
    char buf[16];
    cr_expect_eq(recv(fd, buf, sizeof buf, 0), 0, "closed without a response");
    struct met_http_stats stats;
    met_http_stats(http, &stats);
    cr_expect_eq(stats.timeouts, 1);
    close(fd);
    stop();
}

static struct met_http *open_at(const char *text, bool allow_remote, char *errbuf)
{
    struct met_http_config config;
    memset(&config, 0, sizeof config);
    cr_assert_eq(met_addr_parse(text, &config.listen, errbuf), 0, "%s", errbuf);
    config.allow_remote = allow_remote;
    return met_http_new(&config, errbuf);
}

Test(http, non_local_bind_refused_unless_asked)
{
    char errbuf[MET_ERRBUF_SIZE];
    cr_expect_null(open_at("0.0.0.0:0", false, errbuf));
    cr_expect_not_null(strstr(errbuf, "not a loopback address"), "%s", errbuf);
    cr_expect_null(open_at("[::]:0", false, errbuf));
    cr_expect_null(open_at("192.0.2.1:0", false, errbuf));
    struct met_http *remote = open_at("0.0.0.0:0", true, errbuf);
    cr_expect_not_null(remote, "%s", errbuf);
    met_http_free(remote);
    struct met_http *local6 = open_at("[::1]:0", false, errbuf);
    cr_expect_not_null(local6, "%s", errbuf);
    met_http_free(local6);
    struct met_http *local8 = open_at("127.1.2.3:0", false, errbuf);
    cr_expect_not_null(local8, "%s", errbuf);
    met_http_free(local8);
}

Test(http, address_parsing)
{
    char errbuf[MET_ERRBUF_SIZE];
    struct met_addr addr;
    cr_expect_eq(met_addr_parse("127.0.0.1:9911", &addr, errbuf), 0);
    cr_expect_eq(addr.family, 4);
    cr_expect_eq(addr.port, 9911);
    cr_expect_eq(met_addr_parse("[::1]:9911", &addr, errbuf), 0);
    cr_expect_eq(addr.family, 6);
    cr_expect(met_addr_is_loopback(&addr));
    char text[64];
    met_addr_format(&addr, text, sizeof text);
    cr_expect_str_eq(text, "[::1]:9911");
    const char *bad[] = {
        "127.0.0.1",  "::1:80",      "[::1]80",      "[::1]:", "1.2.3.4:70000",  "localhost:80",
        "1.2.3.4:-1", "1.2.3.4:80x", "[1.2.3.4]:80", "",       "1.2.3.4:000080", "[::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errbuf[0] = '\0';
        cr_expect_eq(met_addr_parse(bad[i], &addr, errbuf), -MET_ERR_ADDR, "%s", bad[i]);
        cr_expect_neq(errbuf[0], '\0');
        cr_expect_null(strchr(errbuf, '\n'), "one line");
    }
}
