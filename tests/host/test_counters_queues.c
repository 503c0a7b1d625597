/* test_counters_queues.c - a full accept queue and a full SYN queue, made for real in a
 * namespace of the test's own, with SYN cookies off and on: the listener's queue and backlog
 * (host/hev_listen.c) as `ss -ltn` shows them, and which TcpExt counters move
 * (host/hev_counters.c), per second through a series. What this kernel does:
 *   accept queue full (backlog 1, never accept()ed): each further SYN is dropped and counted
 *     in ListenOverflows and ListenDrops, cookies or not (the accept queue is checked after
 *     the cookie decision, and a cookie does not make room in it);
 *   SYN queue full (half-open handshakes whose SYN-ACK goes nowhere): without cookies the SYN
 *     is dropped (TCPReqQFullDrop, ListenDrops); with them a cookie is sent
 *     (TCPReqQFullDoCookies, SyncookiesSent) and nothing is dropped. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <time.h>

#include "hev_counters.h"
#include "hev_listen.h"
#include "hev_test_net.h"

#define PORT 9000
#define CLIENTS 6

static struct hev_listen *lt;
static struct hev_counters_src *ctr;
static char errbuf[HEV_ERRBUF_SIZE];

static void setup(void)
{
    cr_assert_eq(hevt_netns(), 0);
    cr_assert_eq(hev_listen_open(&lt, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_assert_eq(hev_counters_open(&ctr, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
}

static void teardown(void)
{
    hev_listen_close(lt);
    hev_counters_close(ctr);
}

TestSuite(queues, .init = setup, .fini = teardown, .timeout = 30);

static void syncookies(int on)
{
    cr_assert_eq(hevt_write("/proc/sys/net/ipv4/tcp_syncookies", on ? "1" : "0"), 0);
}

static struct hev_counters read_counters(int64_t now_ns)
{
    struct hev_counters c;
    cr_assert_eq(hev_counters_read(ctr, now_ns, &c, errbuf, sizeof(errbuf)), HEV_CTR_COUNT, "%s",
                 errbuf);
    return c;
}

/* Waits (at most 2 s) until counter c has moved by at least want since before. */
static void wait_for(const struct hev_counters *before, enum hev_counter c, uint64_t want)
{
    for (int i = 0; i < 200; i++) {
        struct hev_counters now = read_counters(0);
        if (now.value[c] - before->value[c] >= want) {
            return;
        }
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
}

/* `ss -ltn` for PORT: Recv-Q and Send-Q of its only listener. */
static void ss_queues(unsigned *recvq, unsigned *sendq)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ss -Hltn 'sport = :%d'", PORT);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[256], state[32];
    int lines = 0;
    while (fgets(line, sizeof(line), p)) {
        cr_assert_eq(sscanf(line, "%31s %u %u", state, recvq, sendq), 3, "ss said: %s", line);
        cr_expect_str_eq(state, "LISTEN");
        lines++;
    }
    cr_assert_eq(pclose(p), 0);
    cr_assert_eq(lines, 1);
}

/* One listener with backlog 1 that never calls accept(), CLIENTS connections to it. */
static void accept_queue_full(int family, const char *addr, int cookies)
{
    syncookies(cookies);
    const int64_t s = 1000000000LL;
    struct hev_series *series;
    cr_assert_eq(hev_series_new(&series, 8, errbuf, sizeof(errbuf)), 0);
    int fd = hevt_listen_opts(family, addr, PORT, 1, -1, NULL, 0);
    cr_assert_geq(fd, 0);
    struct hev_counters before = read_counters(1 * s);
    hev_series_add(series, &before);
    int clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = hevt_connect_async(family, addr, PORT);
        cr_assert_geq(clients[i], 0);
    }
    /* two complete (the queue is full when longer than the backlog), four SYNs dropped;
     * their retransmissions, a second later, would be dropped and counted too */
    wait_for(&before, HEV_CTR_LISTEN_OVERFLOWS, CLIENTS - 2);
    struct hev_counters after = read_counters(2 * s);
    hev_series_add(series, &after);

    struct hev_listener l;
    size_t total = 0;
    cr_assert_eq(hev_listen_dump(lt, PORT, &l, 1, &total, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_assert_eq(total, 1);
    cr_expect_eq(l.queue, 2);
    cr_expect_eq(l.backlog, 1);
    unsigned recvq = 0, sendq = 0;
    ss_queues(&recvq, &sendq);
    cr_expect_eq(l.queue, recvq, "queue %u, ss Recv-Q %u", l.queue, recvq);
    cr_expect_eq(l.backlog, sendq, "backlog %u, ss Send-Q %u", l.backlog, sendq);

    const struct hev_counter_interval *iv = hev_series_at(series, s + s / 2);
    cr_assert_not_null(iv);
    const struct hev_counters *d = &iv->delta;
    cr_expect_eq(d->present, (1u << HEV_CTR_COUNT) - 1);
    cr_expect_geq(d->value[HEV_CTR_LISTEN_OVERFLOWS], CLIENTS - 2);
    cr_expect_geq(d->value[HEV_CTR_LISTEN_DROPS], d->value[HEV_CTR_LISTEN_OVERFLOWS]);
    cr_expect_eq(d->value[HEV_CTR_REQQ_FULL_DROP], 0);
    cr_expect_eq(d->value[HEV_CTR_SYNCOOKIES_FAILED], 0);
    struct hev_counters whole;
    cr_assert_eq(hev_series_total(series, &whole), 0);
    cr_expect_eq(whole.value[HEV_CTR_LISTEN_OVERFLOWS], d->value[HEV_CTR_LISTEN_OVERFLOWS]);

    /* accept() makes room: the queue shrinks, as ss sees it. The clients still trying are
     * closed first, or a retransmitted SYN could take the room between the two readings. */
    for (int i = 0; i < CLIENTS; i++) {
        close(clients[i]);
    }
    int conn = accept(fd, NULL, NULL);
    cr_assert_geq(conn, 0);
    cr_assert_eq(hev_listen_dump(lt, PORT, &l, 1, &total, errbuf, sizeof(errbuf)), 0);
    ss_queues(&recvq, &sendq);
    cr_expect_eq(l.queue, 1);
    cr_expect_eq(l.queue, recvq);
    close(conn);
    close(fd);
    hev_series_free(series);
}

Test(queues, accept_queue_full_v4_no_cookies)
{
    accept_queue_full(AF_INET, "127.0.0.1", 0);
}

Test(queues, accept_queue_full_v4_cookies)
{
    accept_queue_full(AF_INET, "127.0.0.1", 1);
}

Test(queues, accept_queue_full_v6_no_cookies)
{
    accept_queue_full(AF_INET6, "::1", 0);
}

Test(queues, accept_queue_full_v6_cookies)
{
    accept_queue_full(AF_INET6, HEVT_V6, 1);
}

/* ---- SYNs whose handshake never completes ------------------------------------------------ */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* Sends a SYN from src:sport (an address of no host: the SYN-ACK finds no neighbour, and the
 * request stays half-open) to dst:PORT through a raw socket. */
static void raw_syn(int family, const char *src, const char *dst, uint16_t sport)
{
    uint8_t pkt[60];
    memset(pkt, 0, sizeof(pkt));
    size_t iplen = family == AF_INET ? 20 : 40;
    uint8_t *tcp = pkt + iplen;
    uint8_t s[16], d[16];
    size_t alen = family == AF_INET ? 4 : 16;
    cr_assert_eq(inet_pton(family, src, s), 1);
    cr_assert_eq(inet_pton(family, dst, d), 1);
    /* TCP: ports, sequence 1000, data offset 5, SYN, window 65535 */
    tcp[0] = (uint8_t)(sport >> 8);
    tcp[1] = (uint8_t)sport;
    tcp[2] = PORT >> 8;
    tcp[3] = PORT & 0xff;
    tcp[6] = 0x03;
    tcp[7] = 0xe8;
    tcp[12] = 0x50;
    tcp[13] = 0x02;
    tcp[14] = 0xff;
    tcp[15] = 0xff;
    /* checksum over the pseudo-header (RFC 793 3.1, RFC 8200 8.1) and the segment */
    uint32_t sum = sum16(s, alen, 0);
    sum = sum16(d, alen, sum);
    sum += 6 + 20;
    uint16_t check = fold(sum16(tcp, 20, sum));
    tcp[16] = (uint8_t)(check >> 8);
    tcp[17] = (uint8_t)check;
    if (family == AF_INET) {
        pkt[0] = 0x45; /* the kernel fills the total length and the header checksum */
        pkt[8] = 64;
        pkt[9] = 6;
        memcpy(pkt + 12, s, 4);
        memcpy(pkt + 16, d, 4);
    } else {
        pkt[0] = 0x60;
        pkt[5] = 20; /* payload length */
        pkt[6] = 6;
        pkt[7] = 64;
        memcpy(pkt + 8, s, 16);
        memcpy(pkt + 24, d, 16);
    }
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    cr_assert_geq(fd, 0, "raw socket: %s", strerror(errno));
    struct sockaddr_storage to;
    socklen_t tolen = hevt_sockaddr(family, dst, 0, &to);
    cr_assert_eq(sendto(fd, pkt, iplen + 20, 0, (struct sockaddr *)&to, tolen),
                 (ssize_t)(iplen + 20), "sendto: %s", strerror(errno));
    close(fd);
}

static void syn_queue_full(int family, int cookies)
{
    syncookies(cookies);
    const char *any = family == AF_INET ? "0.0.0.0" : "::";
    const char *dst = family == AF_INET ? HEVT_V4 : HEVT_V6;
    const char *nobody = family == AF_INET ? "10.0.0.99" : "2001:db8::99";
    int fd = hevt_listen_opts(family, any, PORT, 1, -1, NULL, 0);
    cr_assert_geq(fd, 0);
    struct hev_counters before = read_counters(1);
    for (int i = 0; i < 5; i++) {
        raw_syn(family, nobody, dst, (uint16_t)(40000 + i));
    }
    enum hev_counter moved = cookies ? HEV_CTR_REQQ_FULL_DO_COOKIES : HEV_CTR_REQQ_FULL_DROP;
    wait_for(&before, moved, 1);
    struct hev_counters after = read_counters(2), d;
    hev_counters_delta(&before, &after, &d);

    /* the accept queue stays empty: half-open requests are not in it */
    struct hev_listener l;
    size_t total = 0;
    cr_assert_eq(hev_listen_dump(lt, PORT, &l, 1, &total, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(l.queue, 0);
    cr_expect_eq(l.backlog, 1);
    /* at least one request was admitted before the queue was full, the others were not */
    cr_expect(d.value[moved] >= 1 && d.value[moved] <= 4, "%s moved by %llu",
              hev_counter_name(moved), (unsigned long long)d.value[moved]);
    cr_expect_eq(d.value[HEV_CTR_LISTEN_OVERFLOWS], 0);
    if (cookies) {
        cr_expect_eq(d.value[HEV_CTR_SYNCOOKIES_SENT], d.value[moved]);
        cr_expect_eq(d.value[HEV_CTR_REQQ_FULL_DROP], 0);
        cr_expect_eq(d.value[HEV_CTR_LISTEN_DROPS], 0);
    } else {
        cr_expect_eq(d.value[HEV_CTR_LISTEN_DROPS], d.value[moved]);
        cr_expect_eq(d.value[HEV_CTR_REQQ_FULL_DO_COOKIES], 0);
        cr_expect_eq(d.value[HEV_CTR_SYNCOOKIES_SENT], 0);
    }
    close(fd);
}

Test(queues, syn_queue_full_v4_no_cookies)
{
    syn_queue_full(AF_INET, 0);
}

Test(queues, syn_queue_full_v4_cookies)
{
    syn_queue_full(AF_INET, 1);
}

Test(queues, syn_queue_full_v6_no_cookies)
{
    syn_queue_full(AF_INET6, 0);
}

Test(queues, syn_queue_full_v6_cookies)
{
    syn_queue_full(AF_INET6, 1);
}
