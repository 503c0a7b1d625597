/* test_report_format.c - the hand-written formatters of report/ against the libc functions
 * they replace: rep_addr_format against inet_ntop (IPv6 exactly as RFC 5952 text, edge cases
 * and a million random addresses with zero runs), rep_time_iso_sec against gmtime+strftime,
 * rep_time_iso's microseconds, rep_clock_str and rep_endpoint_str against the libc code they
 * replace, and the string builder's printf and placeholders. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rep_int.h"

/* xorshift64*: reproducible random numbers */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

static void expect_as_inet_ntop(int family, const uint8_t *bytes)
{
    struct dec_addr addr;
    memset(&addr, 0, sizeof(addr));
    memcpy(addr.b, bytes, family == 4 ? 4 : 16);
    char want[INET6_ADDRSTRLEN], got[REP_ADDR_LEN];
    cr_assert_not_null(inet_ntop(family == 4 ? AF_INET : AF_INET6, addr.b, want, sizeof(want)));
    size_t n = rep_addr_format(family, &addr, got);
    cr_assert_str_eq(got, want);
    cr_assert_eq(n, strlen(want));
}

static void expect_words(const uint16_t words[8])
{
    uint8_t b[16];
    for (int i = 0; i < 8; i++) {
        b[2 * i] = (uint8_t)(words[i] >> 8);
        b[2 * i + 1] = (uint8_t)words[i];
    }
    expect_as_inet_ntop(6, b);
}

Test(addr_format, ipv4_every_byte_value)
{
    for (unsigned v = 0; v < 256; v++) {
        uint8_t b[4] = {(uint8_t)v, (uint8_t)(255 - v), (uint8_t)(v * 7), (uint8_t)(v / 3)};
        expect_as_inet_ntop(4, b);
    }
}

Test(addr_format, ipv6_edge_cases)
{
    static const uint16_t cases[][8] = {
        {0, 0, 0, 0, 0, 0, 0, 0},                /* :: */
        {0, 0, 0, 0, 0, 0, 0, 1},                /* ::1 */
        {1, 0, 0, 0, 0, 0, 0, 0},                /* 1:: */
        {0, 0, 0, 0, 0, 0, 0x0a00, 0x0001},      /* ::10.0.0.1, IPv4-compatible */
        {0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001}, /* ::ffff:10.0.0.1, IPv4-mapped */
        {0, 0, 0, 0, 0, 0xfffe, 0x0a00, 0x0001}, /* not mapped: hex */
        {0, 0, 0, 0, 0xffff, 0, 0x0a00, 0x0001}, /* ::ffff:0:a00:1 (SIIT) */
        {0, 0, 0, 0, 0, 0, 0, 0xffff},           /* ::ffff */
        {0, 0, 0, 0, 0, 0, 0x0001, 0},           /* ::0.1.0.0 */
        {0, 0, 0, 0, 0, 0, 0, 0x0100},           /* ::256 in hex */
        {0x2001, 0xdb8, 0, 0, 1, 0, 0, 1},       /* first of two equal runs */
        {0x2001, 0xdb8, 0, 1, 0, 0, 0, 1},       /* the longer run */
        {0x2001, 0xdb8, 0, 1, 1, 1, 1, 1},       /* a single zero group stays "0" */
        {0x2001, 0, 0, 1, 0, 0, 0, 0},           /* trailing run */
        {0xfd00, 0, 0, 1, 0, 0, 0x1234, 0x5601},
        {0xfe80, 0, 0, 0, 0x0202, 0xb3ff, 0xfe1e, 0x8329},
        {0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff},
        {0, 0xf, 0xff, 0xfff, 0x1000, 0xabc, 0x10, 0},
        {0, 0, 1, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, 0xffff, 0xffff},
        {0, 0, 0, 0, 0, 0xffff, 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_words(cases[i]);
    }
}

Test(addr_format, ipv6_every_zero_pattern)
{
    /* each of the 256 patterns of zero and non-zero groups, the non-zero ones of 1 to 4 hex
     * digits, and the IPv4 forms' 0xffff in group 5 */
    uint64_t state = 7;
    for (unsigned pattern = 0; pattern < 256; pattern++) {
        for (int round = 0; round < 40; round++) {
            uint16_t words[8];
            for (int i = 0; i < 8; i++) {
                uint64_t r = next_random(&state);
                uint16_t v = (uint16_t)(r >> 16);
                v >>= (r & 3) * 4; /* 1 to 4 digits */
                words[i] = pattern & (1u << i) ? (v != 0 ? v : 1) : 0;
            }
            expect_words(words);
            if (!(pattern & 0x20)) {
                words[5] = 0xffff;
                expect_words(words);
            }
        }
    }
}

Test(addr_format, ipv6_random)
{
    uint64_t state = 88172645463325252ULL;
    for (int i = 0; i < 1000000; i++) {
        uint8_t b[16];
        uint64_t r1 = next_random(&state), r2 = next_random(&state);
        memcpy(b, &r1, 8);
        memcpy(b + 8, &r2, 8);
        uint64_t zeros = next_random(&state); /* zero some groups: runs of every length */
        for (int g = 0; g < 8; g++) {
            if ((zeros >> (g * 2) & 3) != 0) {
                b[2 * g] = b[2 * g + 1] = 0;
            }
        }
        expect_as_inet_ntop(6, b);
    }
}

Test(addr_format, unknown_family)
{
    struct dec_addr addr;
    memset(&addr, 0, sizeof(addr));
    char got[REP_ADDR_LEN], want[64];
    rep_addr_format(0, &addr, got);
    cr_assert_str_eq(got, dec_addr_str(&addr, 0, want, sizeof(want)));
}

static void expect_as_strftime(int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm;
    cr_assert_not_null(gmtime_r(&t, &tm));
    char want[64], got[REP_TIME_LEN];
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
    size_t n = rep_time_iso_sec(sec, got);
    cr_assert_str_eq(got, want, "at %lld", (long long)sec);
    cr_assert_eq(n, strlen(want));
}

Test(time_format, as_strftime)
{
    /* the whole range of int64_t nanoseconds (1677-09-21 to 2262-04-11), leap days, the
     * epoch and the seconds around it, the year 2000 and 2100 rules, 2038 */
    static const int64_t edges[] = {
        0,          -1,          1,          86399,        86400,        -86400,
        -86401,     951782400,   951868800,  4107542400,   4107628800,   2147483647,
        2147483648, -2208988800, 1795698726, 9223372036LL, -9223372037LL};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        expect_as_strftime(edges[i]);
    }
    uint64_t state = 99;
    for (int i = 0; i < 200000; i++) {
        int64_t sec = (int64_t)(next_random(&state) % 18446744074ULL) - 9223372037LL;
        expect_as_strftime(sec);
    }
    for (int64_t sec = 1795698726 - 200000; sec < 1795698726 + 200000; sec += 7) {
        expect_as_strftime(sec);
    }
}

/* rep_time_iso as it was written with gmtime_r, strftime and snprintf. It is also called with a
 * buffer too small on purpose (the output is cut where snprintf cuts it), which gcc -O3 sees
 * once it inlines the call. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
static const char *time_iso_by_libc(int64_t ns, char *buf, size_t buflen)
{
    time_t sec = (time_t)(ns / 1000000000);
    long usec = (long)((ns % 1000000000) / 1000);
    if (usec < 0) {
        usec += 1000000;
        sec -= 1;
    }
    struct tm tm;
    if (gmtime_r(&sec, &tm) == NULL) {
        snprintf(buf, buflen, "invalid-time");
        return buf;
    }
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, buflen, "%s.%06ldZ", date, usec);
    return buf;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Test(time_format, iso_with_microseconds)
{
    char got[40], want[40];
    cr_assert_str_eq(rep_time_iso(1795698726319804123LL, got, sizeof(got)),
                     "2026-11-26T13:12:06.319804Z");
    static const int64_t edges[] = {0,         -1,          -999,       -1000,
                                    -1001,     999,         1000,       INT64_MIN,
                                    INT64_MAX, -1000000000, 1000000000, -999999999};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        cr_assert_str_eq(rep_time_iso(edges[i], got, sizeof(got)),
                         time_iso_by_libc(edges[i], want, sizeof(want)));
    }
    uint64_t state = 5;
    for (int i = 0; i < 200000; i++) {
        int64_t ns = (int64_t)next_random(&state);
        cr_assert_str_eq(rep_time_iso(ns, got, sizeof(got)),
                         time_iso_by_libc(ns, want, sizeof(want)), "at %lld", (long long)ns);
    }
    char small[8], small_want[8]; /* cut where snprintf cuts */
    cr_assert_str_eq(rep_time_iso(0, small, sizeof(small)),
                     time_iso_by_libc(0, small_want, sizeof(small_want)));
}

/* rep_clock_str as it was written with gmtime_r, strftime and snprintf. */
static const char *clock_by_libc(int64_t ns, char *buf, size_t buflen)
{
    time_t sec = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns < 0 || gmtime_r(&sec, &tm) == NULL) {
        snprintf(buf, buflen, "??:??:??");
        return buf;
    }
    char hms[16];
    strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
    snprintf(buf, buflen, "%s.%06ld", hms, (long)((ns % 1000000000) / 1000));
    return buf;
}

Test(time_format, clock_as_strftime)
{
    char got[32], want[32];
    static const int64_t edges[] = {0,
                                    -1,
                                    999,
                                    1000,
                                    86399999999999LL,
                                    86400000000000LL,
                                    INT64_MAX,
                                    INT64_MIN,
                                    1795698726319804123LL};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        cr_assert_str_eq(rep_clock_str(edges[i], got, sizeof(got)),
                         clock_by_libc(edges[i], want, sizeof(want)));
    }
    uint64_t state = 11;
    for (int i = 0; i < 200000; i++) {
        int64_t ns = (int64_t)next_random(&state);
        cr_assert_str_eq(rep_clock_str(ns, got, sizeof(got)), clock_by_libc(ns, want, sizeof(want)),
                         "at %lld", (long long)ns);
    }
}

Test(addr_format, endpoint_as_snprintf)
{
    uint64_t state = 3;
    for (int i = 0; i < 100000; i++) {
        struct dec_addr addr;
        uint64_t r1 = next_random(&state), r2 = next_random(&state);
        memcpy(addr.b, &r1, 8);
        memcpy(addr.b + 8, &r2, 8);
        int family = i % 2 == 0 ? 4 : 6;
        uint16_t port = (uint16_t)(r1 >> 48);
        char ip[64], want[64], got[64];
        dec_addr_str(&addr, family, ip, sizeof(ip));
        snprintf(want, sizeof(want), family == 6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
        cr_assert_str_eq(rep_endpoint_str(family, &addr, port, got, sizeof(got)), want);
    }
}

Test(text, printf_and_placeholders_cut_as_snprintf)
{
    char buf[16];
    struct rep_text t;
    rep_text_init(&t, buf, sizeof(buf));
    rep_text_printf(&t, "%s %u", "port", 80u);
    rep_text_printf(&t, "; %d hop%s", 2, rep_plural(2));
    cr_assert_str_eq(buf, "port 80; 2 hops");
    rep_text_printf(&t, "more");
    cr_assert_str_eq(buf, "port 80; 2 hops");
    char filled[64];
    rep_text_init(&t, filled, sizeof(filled));
    rep_text_fill(&t, "ss PORT on SERVER (ADDR), PORTS", 443, "fd00::1");
    cr_assert_str_eq(filled, "ss 443 on fd00::1 (fd00::1), 443S");
    rep_text_init(&t, filled, sizeof(filled));
    rep_text_fill(&t, "PORT SERVER", 0, NULL);
    cr_assert_str_eq(filled, "PORT SERVER");
}
