/* test_counters.c - the TcpExt counters of /proc/net/netstat (host/hev_counters.c): parsing
 * by column name against hostile text, differences, the per-second series, and a real read
 * in a namespace of the test's own. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "hev_counters.h"
#include "hev_test_net.h"

#define ALL_BITS ((1u << HEV_CTR_COUNT) - 1)

TestSuite(counters, .timeout = 30);

static struct hev_counters parse(const char *text)
{
    struct hev_counters c;
    int present = hev_counters_parse(text, strlen(text), &c);
    cr_assert_geq(present, 0);
    cr_assert_leq(present, HEV_CTR_COUNT);
    return c;
}

Test(counters, names)
{
    cr_expect_str_eq(hev_counter_name(HEV_CTR_LISTEN_OVERFLOWS), "ListenOverflows");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_LISTEN_DROPS), "ListenDrops");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_REQQ_FULL_DROP), "TCPReqQFullDrop");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_REQQ_FULL_DO_COOKIES), "TCPReqQFullDoCookies");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_SYNCOOKIES_SENT), "SyncookiesSent");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_SYNCOOKIES_RECV), "SyncookiesRecv");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_SYNCOOKIES_FAILED), "SyncookiesFailed");
    cr_expect_str_eq(hev_counter_name(HEV_CTR_COUNT), "?");
}

Test(counters, parse_as_the_kernel_writes_it)
{
    /* the shape of 6.x's file, shortened: other blocks before and after, columns we do not
     * read in between */
    const char *text = "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts "
                       "ListenOverflows ListenDrops TCPReqQFullDoCookies TCPReqQFullDrop\n"
                       "TcpExt: 11 12 13 99 21 22 31 32\n"
                       "IpExt: InNoRoutes ListenOverflows\n"
                       "IpExt: 5 77\n"
                       "MPTcpExt: MPCapableSYNRX\n"
                       "MPTcpExt: 0\n";
    struct hev_counters c;
    cr_assert_eq(hev_counters_parse(text, strlen(text), &c), HEV_CTR_COUNT);
    cr_expect_eq(c.present, ALL_BITS);
    cr_expect_eq(c.malformed, 0);
    cr_expect_eq(c.value[HEV_CTR_SYNCOOKIES_SENT], 11);
    cr_expect_eq(c.value[HEV_CTR_SYNCOOKIES_RECV], 12);
    cr_expect_eq(c.value[HEV_CTR_SYNCOOKIES_FAILED], 13);
    cr_expect_eq(c.value[HEV_CTR_LISTEN_OVERFLOWS], 21, "IpExt's column of the same name");
    cr_expect_eq(c.value[HEV_CTR_LISTEN_DROPS], 22);
    cr_expect_eq(c.value[HEV_CTR_REQQ_FULL_DO_COOKIES], 31);
    cr_expect_eq(c.value[HEV_CTR_REQQ_FULL_DROP], 32);
}

Test(counters, missing_columns_are_absent_not_zero)
{
    struct hev_counters c = parse("TcpExt: ListenOverflows ListenDrops\nTcpExt: 4 5\n");
    cr_expect_eq(c.present, (1u << HEV_CTR_LISTEN_OVERFLOWS) | (1u << HEV_CTR_LISTEN_DROPS));
    cr_expect_eq(c.value[HEV_CTR_LISTEN_DROPS], 5);

    /* no TcpExt at all, an empty file, only a header */
    cr_expect_eq(parse("IpExt: A B\nIpExt: 1 2\n").present, 0);
    cr_expect_eq(parse("").present, 0);
    cr_expect_eq(parse("TcpExt: ListenOverflows ListenDrops\n").present, 0);
    /* values without a header */
    cr_expect_eq(parse("TcpExt: 1 2\n").present, 0);
    /* fewer values than names: the rest absent */
    c = parse("TcpExt: ListenOverflows ListenDrops SyncookiesSent\nTcpExt: 7\n");
    cr_expect_eq(c.present, 1u << HEV_CTR_LISTEN_OVERFLOWS);
    cr_expect_eq(c.value[HEV_CTR_LISTEN_OVERFLOWS], 7);
    /* more values than names: ignored */
    c = parse("TcpExt: ListenDrops\nTcpExt: 3 4 5 6\n");
    cr_expect_eq(c.present, 1u << HEV_CTR_LISTEN_DROPS);
    cr_expect_eq(c.value[HEV_CTR_LISTEN_DROPS], 3);
}

Test(counters, reordered_and_unknown_columns)
{
    struct hev_counters c = parse("TcpExt: FutureThing ListenDrops Other ListenOverflows\n"
                                  "TcpExt: 1 2 3 4\n");
    cr_expect_eq(c.value[HEV_CTR_LISTEN_DROPS], 2);
    cr_expect_eq(c.value[HEV_CTR_LISTEN_OVERFLOWS], 4);
    /* a name that only starts like ours is not ours */
    c = parse("TcpExt: ListenDropsX ListenDrop xListenDrops\nTcpExt: 1 2 3\n");
    cr_expect_eq(c.present, 0);
}

Test(counters, hostile_values)
{
    /* not numbers: the column is there, its value is not: absent and said */
    struct hev_counters c =
        parse("TcpExt: ListenOverflows ListenDrops SyncookiesSent "
              "SyncookiesRecv SyncookiesFailed TCPReqQFullDrop\n"
              "TcpExt: -1 +2 0x10 3a 99999999999999999999 18446744073709551615\n");
    cr_expect_eq(c.present, 1u << HEV_CTR_REQQ_FULL_DROP);
    cr_expect_eq(c.value[HEV_CTR_REQQ_FULL_DROP], UINT64_MAX);
    cr_expect_eq(c.malformed, (1u << HEV_CTR_LISTEN_OVERFLOWS) | (1u << HEV_CTR_LISTEN_DROPS) |
                                  (1u << HEV_CTR_SYNCOOKIES_SENT) |
                                  (1u << HEV_CTR_SYNCOOKIES_RECV) |
                                  (1u << HEV_CTR_SYNCOOKIES_FAILED));
    /* one past UINT64_MAX */
    c = parse("TcpExt: ListenDrops\nTcpExt: 18446744073709551616\n");
    cr_expect_eq(c.present, 0);
    cr_expect_eq(c.malformed, 1u << HEV_CTR_LISTEN_DROPS);
}

Test(counters, hostile_layout)
{
    /* a name twice: the first value holds */
    struct hev_counters c = parse("TcpExt: ListenDrops ListenDrops\nTcpExt: 1 2\n"
                                  "TcpExt: ListenDrops\nTcpExt: 3\n");
    cr_expect_eq(c.value[HEV_CTR_LISTEN_DROPS], 1);
    /* tabs, carriage returns, runs of spaces, no final newline */
    c = parse("TcpExt:\tListenDrops   ListenOverflows\r\nTcpExt:  8\t9\r");
    cr_expect_eq(c.value[HEV_CTR_LISTEN_DROPS], 8);
    cr_expect_eq(c.value[HEV_CTR_LISTEN_OVERFLOWS], 9);
    /* a line that is not "Prefix: ..." breaks the pairing */
    c = parse("TcpExt: ListenDrops\ngarbage\nTcpExt: 5\n");
    cr_expect_eq(c.present, 0);
    /* a header of another block between: the pair is TcpExt's own */
    c = parse("TcpExt: ListenDrops\nIpExt: 5\nTcpExt: 6\n");
    cr_expect_eq(c.present, 0);
    /* blank lines, a lone colon, NUL bytes */
    const char nul[] = "TcpExt: ListenDrops\0\nTcpExt: 4\n:\n\n";
    cr_assert_geq(hev_counters_parse(nul, sizeof(nul) - 1, &c), 0);
    cr_expect_eq(c.present, 0, "a name with a NUL in it is not ours");
}

Test(counters, every_truncation)
{
    /* the text cut at every length, not NUL-terminated where it is cut: never read past len,
     * never more than the full text gives */
    const char *text = "TcpExt: ListenOverflows ListenDrops SyncookiesSent\n"
                       "TcpExt: 123 456 789\nIpExt: A\nIpExt: 1\n";
    size_t len = strlen(text);
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        cr_assert_not_null(copy);
        memcpy(copy, text, cut);
        struct hev_counters c;
        int present = hev_counters_parse(copy, cut, &c);
        cr_assert(present >= 0 && present <= 3);
        if (c.present & (1u << HEV_CTR_SYNCOOKIES_SENT)) {
            cr_assert(c.value[HEV_CTR_SYNCOOKIES_SENT] == 7 ||
                      c.value[HEV_CTR_SYNCOOKIES_SENT] == 78 ||
                      c.value[HEV_CTR_SYNCOOKIES_SENT] == 789);
        }
        free(copy);
    }
}

Test(counters, delta)
{
    struct hev_counters a = parse("TcpExt: ListenOverflows ListenDrops SyncookiesSent\n"
                                  "TcpExt: 10 20 30\n");
    struct hev_counters b = parse("TcpExt: ListenOverflows ListenDrops TCPReqQFullDrop\n"
                                  "TcpExt: 15 19 4\n");
    a.ts_ns = 1;
    b.ts_ns = 2;
    struct hev_counters d;
    hev_counters_delta(&a, &b, &d);
    cr_expect_eq(d.ts_ns, 2);
    /* ListenDrops went back (reset): absent; SyncookiesSent and TCPReqQFullDrop are each in
     * one reading only: absent */
    cr_expect_eq(d.present, 1u << HEV_CTR_LISTEN_OVERFLOWS);
    cr_expect_eq(d.value[HEV_CTR_LISTEN_OVERFLOWS], 5);
    /* in place */
    hev_counters_delta(&a, &b, &b);
    cr_expect_eq(b.present, 1u << HEV_CTR_LISTEN_OVERFLOWS);
    cr_expect_eq(b.value[HEV_CTR_LISTEN_OVERFLOWS], 5);
}

static struct hev_counters reading(int64_t ts_ns, uint64_t overflows)
{
    struct hev_counters c;
    memset(&c, 0, sizeof(c));
    c.ts_ns = ts_ns;
    c.present = 1u << HEV_CTR_LISTEN_OVERFLOWS;
    c.value[HEV_CTR_LISTEN_OVERFLOWS] = overflows;
    return c;
}

Test(counters, series)
{
    const int64_t s = 1000000000LL;
    struct hev_series *series;
    char errbuf[HEV_ERRBUF_SIZE];
    cr_assert_eq(hev_series_new(&series, 3, errbuf, sizeof(errbuf)), 0);
    struct hev_counters total;
    cr_expect_eq(hev_series_total(series, &total), -1);
    cr_expect_null(hev_series_at(series, 5 * s));

    cr_expect_eq(hev_series_add(series, &(struct hev_counters){0}), 1); /* base, at 0 */
    struct hev_counters r = reading(10 * s, 100);
    cr_expect_eq(hev_series_add(series, &r), 1); /* base */
    cr_expect_eq(hev_series_count(series), 1);   /* (0, 10s]: absent on one side */
    r = reading(11 * s, 104);
    hev_series_add(series, &r);
    r = reading(12 * s, 104);
    hev_series_add(series, &r);
    r = reading(12 * s, 999); /* not after the last: ignored */
    cr_expect_eq(hev_series_add(series, &r), 0);
    cr_expect_eq(hev_series_count(series), 3);

    const struct hev_counter_interval *iv = hev_series_at(series, 10 * s + 1);
    cr_assert_not_null(iv);
    cr_expect_eq(iv->start_ns, 10 * s);
    cr_expect_eq(iv->end_ns, 11 * s);
    cr_expect_eq(iv->delta.value[HEV_CTR_LISTEN_OVERFLOWS], 4);
    iv = hev_series_at(series, 11 * s); /* the end belongs to the interval */
    cr_assert_not_null(iv);
    cr_expect_eq(iv->end_ns, 11 * s);
    iv = hev_series_at(series, 11 * s + 1);
    cr_assert_not_null(iv);
    cr_expect_eq(iv->delta.value[HEV_CTR_LISTEN_OVERFLOWS], 0);
    cr_expect(iv->delta.present & (1u << HEV_CTR_LISTEN_OVERFLOWS));
    cr_expect_null(hev_series_at(series, 12 * s + 1)); /* after the last reading */
    iv = hev_series_at(series, 5 * s);
    cr_assert_not_null(iv);
    cr_expect_eq(iv->delta.present, 0);

    /* a fourth interval overwrites the oldest */
    r = reading(13 * s, 110);
    hev_series_add(series, &r);
    cr_expect_eq(hev_series_count(series), 3);
    cr_expect_eq(hev_series_overwritten(series), 1);
    cr_expect_null(hev_series_at(series, 5 * s));
    cr_expect_eq(hev_series_get(series, 0)->start_ns, 10 * s);
    cr_expect_eq(hev_series_get(series, 2)->end_ns, 13 * s);
    cr_expect_null(hev_series_get(series, 3));
    cr_assert_eq(hev_series_total(series, &total), 0);
    cr_expect_eq(total.present, 0, "the first reading had nothing");
    hev_series_free(series);

    cr_expect_eq(hev_series_new(&series, 0, errbuf, sizeof(errbuf)), -HEV_ERR_ARG);
    hev_series_free(NULL);
}

Test(counters, real_read)
{
    cr_assert_eq(hevt_netns(), 0);
    struct hev_counters_src *src;
    char errbuf[HEV_ERRBUF_SIZE];
    cr_assert_eq(hev_counters_open(&src, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    struct hev_counters c;
    /* this kernel has all of them, and a namespace of its own starts them at 0 */
    cr_assert_eq(hev_counters_read(src, 42, &c, errbuf, sizeof(errbuf)), HEV_CTR_COUNT, "%s",
                 errbuf);
    cr_expect_eq(c.ts_ns, 42);
    cr_expect_eq(c.present, ALL_BITS);
    for (int i = 0; i < HEV_CTR_COUNT; i++) {
        cr_expect_eq(c.value[i], 0, "%s", hev_counter_name(i));
    }
    /* read again: fresh, the same file */
    cr_assert_eq(hev_counters_read(src, 43, &c, errbuf, sizeof(errbuf)), HEV_CTR_COUNT);
    hev_counters_close(src);
    hev_counters_close(NULL);
}
