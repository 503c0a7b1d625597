/* test_parse.c - the request parser alone (met_http_parse, white-box): no decision before the
 * request is whole, and hostile bytes (mutations, truncations) only ever get a known status.
 * Each call gets a buffer of exactly its length (a heap copy), so that the sanitizer build
 * catches a read past it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_int.h"

static int parse_exact(const char *bytes, size_t len, bool *head)
{
    char *copy = malloc(len > 0 ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, bytes, len);
    int status = met_http_parse(copy, len, head);
    free(copy);
    return status;
}

static bool known_status(int status)
{
    static const int known[] = {0, 200, 400, 404, 405, 413, 414, 431, 505};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (status == known[i]) {
            return true;
        }
    }
    return false;
}

Test(parse, no_decision_before_the_end)
{
    const char *good[] = {
        "GET /metrics HTTP/1.1\r\nHost: localhost:9911\r\nUser-Agent: Prometheus/2.42.0\r\n"
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
        "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
        "HEAD /metrics HTTP/1.0\r\n\r\n",
        "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    };
    for (size_t g = 0; g < sizeof good / sizeof good[0]; g++) {
        size_t len = strlen(good[g]);
        bool head = false;
        for (size_t cut = 0; cut < len; cut++) {
            cr_assert_eq(parse_exact(good[g], cut, &head), 0, "request %zu decided at %zu", g, cut);
        }
        cr_assert_eq(parse_exact(good[g], len, &head), 200, "request %zu", g);
        cr_expect_eq(head, g == 1);
    }
}

Test(parse, mutations_get_a_known_status)
{
    const char *seed = "GET /metrics HTTP/1.1\r\nHost: localhost:9911\r\nAccept: */*\r\n\r\n";
    size_t len = strlen(seed);
    char buf[256];
    uint64_t state = 42;
    for (int round = 0; round < 200000; round++) {
        memcpy(buf, seed, len);
        size_t n = len;
        int edits = 1 + round % 4;
        for (int e = 0; e < edits; e++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(state >> 33) % n;
            unsigned char byte = (unsigned char)(state >> 13);
            switch ((state >> 60) % 4) {
            case 0: /* replace */
                buf[at] = (char)byte;
                break;
            case 1: /* a separator byte */
                buf[at] = "\r\n :\0\t"[byte % 6];
                break;
            case 2: /* cut */
                n = at;
                break;
            default: /* insert */
                if (n < sizeof buf - 1) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (char)byte;
                    n++;
                }
            }
            if (n == 0) {
                break;
            }
        }
        bool head = false;
        int status = parse_exact(buf, n, &head);
        cr_assert(known_status(status), "status %d", status);
    }
}

Test(parse, limits)
{
    static char buf[MET_HTTP_REQUEST_MAX];
    bool head = false;
    memset(buf, 'a', sizeof buf);
    cr_expect_eq(parse_exact(buf, MET_HTTP_LINE_MAX - 1, &head), 0);
    cr_expect_eq(parse_exact(buf, MET_HTTP_LINE_MAX, &head), 414);
    /* a head that fills the buffer without its empty line */
    int n = snprintf(buf, sizeof buf, "GET /metrics HTTP/1.1\r\nHost: x\r\nX: ");
    memset(buf + n, 'b', sizeof buf - (size_t)n);
    cr_expect_eq(parse_exact(buf, sizeof buf - 1, &head), 0);
    cr_expect_eq(parse_exact(buf, sizeof buf, &head), 431);
}
