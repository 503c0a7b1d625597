/* test_listen.c - listening sockets from sock_diag (host/hev_listen.c) and whether one takes a
 * SYN (host/hev_listen_match.c), against the real kernel: each test runs in a network
 * namespace of its own, makes its listeners, and checks every answer with a real connect(). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "hev_listen.h"
#include "hev_test_net.h"

#define PORT 8765

static struct hev_listen *lt;
static char errbuf[HEV_ERRBUF_SIZE];

static void setup(void)
{
    cr_assert_eq(hevt_netns(), 0);
    cr_assert_eq(hev_listen_open(&lt, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
}

static void teardown(void)
{
    hev_listen_close(lt);
    lt = NULL;
}

TestSuite(listen, .init = setup, .fini = teardown, .timeout = 30);

/* The listeners on PORT, asked of the kernel now. */
static size_t query(struct hev_listener *out, size_t max)
{
    size_t total = 0;
    int ret = hev_listen_dump(lt, PORT, out, max, &total, errbuf, sizeof(errbuf));
    cr_assert_eq(ret, 0, "%s", errbuf);
    return total;
}

/* Asks whether the listeners take a SYN to addr (coming in on ifname, NULL: unknown), checks
 * the answer and the nearest reason, then sends a real SYN: the kernel must agree. */
static struct hev_accept_result expect(const struct hev_listener *list, size_t count, int family,
                                       const char *addr, const char *ifname, enum hev_accept accept,
                                       enum hev_bound why)
{
    struct hev_syn_dst dst = hevt_dst(family, addr, PORT, ifname);
    struct hev_accept_result res;
    hev_listen_accepts(list, count, &dst, &res);
    cr_expect_eq(res.accept, accept, "SYN to %s: %s, expected %s", addr,
                 hev_accept_name(res.accept), hev_accept_name(accept));
    cr_expect_eq(res.why, why, "SYN to %s: why %s, expected %s", addr, hev_bound_name(res.why),
                 hev_bound_name(why));
    int err = hevt_connect(family, addr, PORT);
    if (accept == HEV_ACCEPT_LISTENING) {
        cr_expect_eq(err, 0, "the kernel refused a SYN to %s: %s", addr, strerror(err));
    } else {
        cr_expect_eq(err, ECONNREFUSED, "the kernel answered a SYN to %s with: %s", addr,
                     err ? strerror(err) : "a connection");
    }
    return res;
}

Test(listen, no_listener_v4_v6)
{
    struct hev_listener list[4];
    int other = hevt_listen(AF_INET, "0.0.0.0", PORT + 1); /* another port: not an answer */
    cr_assert_geq(other, 0);
    cr_assert_eq(query(list, 4), 0);
    struct hev_accept_result res =
        expect(list, 0, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_NO_LISTENER, HEV_BOUND_MATCH);
    cr_expect_eq(res.listener, -1);
    expect(list, 0, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_NO_LISTENER, HEV_BOUND_MATCH);
    expect(list, 0, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_NO_LISTENER, HEV_BOUND_MATCH);
    close(other);
}

Test(listen, loopback_only_v4)
{
    int fd = hevt_listen_opts(AF_INET, "127.0.0.1", PORT, 7, -1, NULL, 0);
    cr_assert_geq(fd, 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 1);
    const struct hev_listener *l = &list[0];
    uint8_t lo[16];
    hevt_addr(AF_INET, "127.0.0.1", lo);
    cr_expect_eq(l->family, AF_INET);
    cr_expect_eq(l->port, PORT);
    cr_expect_arr_eq(l->addr, lo, 16);
    cr_expect_not(l->v6only);
    cr_expect_eq(l->ifindex, 0);
    cr_expect_str_empty(l->ifname);
    cr_expect_eq(l->queue, 0);
    cr_expect_eq(l->backlog, 7);
    cr_expect_eq(l->uid, getuid());
    cr_expect_eq(l->inode, hevt_inode(fd));
    cr_expect_neq(l->cookie, 0);

    struct hev_accept_result res =
        expect(list, 1, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_LOOPBACK);
    cr_expect_eq(res.listener, 0);
    expect(list, 1, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    /* the example: the client tries ::1 */
    expect(list, 1, AF_INET6, "::1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_FAMILY);
    expect(list, 1, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_LOOPBACK);
    close(fd);
}

Test(listen, loopback_only_v6)
{
    int fd = hevt_listen(AF_INET6, "::1", PORT);
    cr_assert_geq(fd, 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 1);
    uint8_t lo[16];
    hevt_addr(AF_INET6, "::1", lo);
    cr_expect_eq(list[0].family, AF_INET6);
    cr_expect_arr_eq(list[0].addr, lo, 16);
    cr_expect_eq(list[0].inode, hevt_inode(fd));

    expect(list, 1, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_LOOPBACK);
    expect(list, 1, AF_INET6, "::1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    /* IPv4 SYNs: ::1 is no IPv4 address, loopback or not */
    expect(list, 1, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_LOOPBACK);
    expect(list, 1, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_FAMILY);
    close(fd);
}

Test(listen, another_address)
{
    int fd = hevt_listen(AF_INET, HEVT_V4, PORT);
    int fd6 = hevt_listen(AF_INET6, HEVT_V6, PORT);
    cr_assert(fd >= 0 && fd6 >= 0);
    cr_assert_eq(hevt_sh("ip addr add 10.0.0.3/24 dev " HEVT_DEV " && "
                         "ip addr add 2001:db8::3/64 dev " HEVT_DEV " nodad"),
                 0);
    cr_assert_eq(hevt_wait_local(AF_INET6, "2001:db8::3"), 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 2);
    cr_expect_eq(list[0].family, AF_INET); /* IPv4 first */
    cr_expect_eq(list[1].family, AF_INET6);
    expect(list, 2, AF_INET, "10.0.0.3", HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_ADDRESS);
    expect(list, 2, AF_INET6, "2001:db8::3", HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE,
           HEV_BOUND_ADDRESS);
    expect(list, 2, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_ADDRESS);
    struct hev_accept_result res =
        expect(list, 2, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    cr_expect_eq(res.listener, 1);
    close(fd);
    close(fd6);
}

Test(listen, v4_wildcard_and_v6_syn)
{
    int fd = hevt_listen(AF_INET, "0.0.0.0", PORT);
    cr_assert_geq(fd, 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 1);
    expect(list, 1, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 1, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 1, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_FAMILY);
    expect(list, 1, AF_INET6, "::1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_FAMILY);
    close(fd);
}

Test(listen, v6only_on)
{
    int fd = hevt_listen_opts(AF_INET6, "::", PORT, 16, 1, NULL, 0);
    cr_assert_geq(fd, 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 1);
    cr_expect(list[0].v6only);
    expect(list, 1, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_V6ONLY);
    expect(list, 1, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_V6ONLY);
    expect(list, 1, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 1, AF_INET6, "::1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    close(fd);
}

Test(listen, v6only_off)
{
    int fd = hevt_listen_opts(AF_INET6, "::", PORT, 16, 0, NULL, 0);
    cr_assert_geq(fd, 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 1);
    cr_expect_not(list[0].v6only);
    expect(list, 1, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 1, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 1, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    close(fd);
}

Test(listen, v4_mapped_address)
{
    /* an IPv6 socket bound to ::ffff:127.0.0.1 is an IPv4 listener on 127.0.0.1 */
    int fd = hevt_listen_opts(AF_INET6, "::ffff:127.0.0.1", PORT, 16, 0, NULL, 0);
    cr_assert_geq(fd, 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 1);
    cr_expect_eq(list[0].family, AF_INET6);
    expect(list, 1, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 1, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_LOOPBACK);
    expect(list, 1, AF_INET6, "::1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_FAMILY);
    close(fd);
}

Test(listen, bound_to_device)
{
    int fd = hevt_listen_opts(AF_INET, "0.0.0.0", PORT, 16, -1, HEVT_DEV, 0);
    int fd6 = hevt_listen_opts(AF_INET6, "::", PORT, 16, 1, HEVT_DEV, 0);
    cr_assert(fd >= 0 && fd6 >= 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 2);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(list[i].ifindex, if_nametoindex(HEVT_DEV));
        cr_expect_str_eq(list[i].ifname, HEVT_DEV);
    }
    /* a SYN from this host to the device's own address counts as coming in on that device */
    expect(list, 2, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    expect(list, 2, AF_INET6, HEVT_V6, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    struct hev_accept_result res =
        expect(list, 2, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_DEVICE);
    cr_expect_eq(res.listener, 0);
    res = expect(list, 2, AF_INET6, "::1", "lo", HEV_ACCEPT_BOUND_ELSEWHERE, HEV_BOUND_DEVICE);
    cr_expect_eq(res.listener, 1);

    /* the SYN's device unknown: taken as a match, and said */
    struct hev_syn_dst dst = hevt_dst(AF_INET, "127.0.0.1", PORT, NULL);
    hev_listen_accepts(list, 2, &dst, &res);
    cr_expect_eq(res.accept, HEV_ACCEPT_LISTENING);
    cr_expect(res.device_unchecked);
    close(fd);
    close(fd6);
}

Test(listen, exact_address_before_wildcard)
{
    /* two sockets of one SO_REUSEPORT owner: the kernel gives a SYN to 10.0.0.1 to the one
     * bound to 10.0.0.1, a SYN to 127.0.0.1 to the wildcard */
    int any = hevt_listen_opts(AF_INET, "0.0.0.0", PORT, 16, -1, NULL, 1);
    int exact = hevt_listen_opts(AF_INET, HEVT_V4, PORT, 16, -1, NULL, 1);
    cr_assert(any >= 0 && exact >= 0);
    struct hev_listener list[4];
    cr_assert_eq(query(list, 4), 2);
    int exact_index = list[0].inode == hevt_inode(exact) ? 0 : 1;
    cr_assert_eq(list[exact_index].inode, hevt_inode(exact));

    struct hev_accept_result res =
        expect(list, 2, AF_INET, HEVT_V4, HEVT_DEV, HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    cr_expect_eq(res.listener, exact_index);
    cr_expect_eq(list[res.listener].queue, 0, "the queue was read before the connection");
    int fd = hevt_accept(exact); /* the kernel queued it there */
    cr_expect_geq(fd, 0, "the connection to %s did not go to its exact listener", HEVT_V4);
    if (fd >= 0) {
        close(fd);
    }
    res = expect(list, 2, AF_INET, "127.0.0.1", "lo", HEV_ACCEPT_LISTENING, HEV_BOUND_MATCH);
    cr_expect_eq(res.listener, 1 - exact_index);
    fd = hevt_accept(any);
    cr_expect_geq(fd, 0);
    if (fd >= 0) {
        close(fd);
    }
    close(any);
    close(exact);
}

Test(listen, every_port_and_truncation)
{
    int a = hevt_listen(AF_INET, "0.0.0.0", PORT);
    int b = hevt_listen(AF_INET6, "::1", PORT + 1);
    int c = hevt_listen(AF_INET, "127.0.0.1", PORT + 2);
    cr_assert(a >= 0 && b >= 0 && c >= 0);
    struct hev_listener list[8];
    size_t total = 0;
    cr_assert_eq(hev_listen_dump(lt, 0, list, 8, &total, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_eq(total, 3);
    bool seen[3] = {false, false, false};
    for (size_t i = 0; i < total && i < 8; i++) {
        cr_assert(list[i].port >= PORT && list[i].port <= PORT + 2);
        seen[list[i].port - PORT] = true;
    }
    cr_expect(seen[0] && seen[1] && seen[2]);
    /* room for one: the count says three */
    cr_assert_eq(hev_listen_dump(lt, 0, list, 1, &total, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(total, 3);
    cr_assert_eq(hev_listen_dump(lt, 0, NULL, 0, &total, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(total, 3);
    close(a);
    close(b);
    close(c);
}

Test(listen, restart_seen_within_a_second)
{
    const int64_t t0 = 5000000000LL, second = HEV_LISTEN_REFRESH_NS;
    struct hev_listener list[4];
    size_t total = 0;
    int fd = hevt_listen(AF_INET, "127.0.0.1", PORT);
    cr_assert_geq(fd, 0);
    cr_assert_eq(hev_listen_get(lt, PORT, t0, list, 4, &total, errbuf, sizeof(errbuf)), 1, "%s",
                 errbuf);
    cr_assert_eq(total, 1);
    uint8_t lo[16], v4[16];
    hevt_addr(AF_INET, "127.0.0.1", lo);
    hevt_addr(AF_INET, HEVT_V4, v4);
    cr_expect_arr_eq(list[0].addr, lo, 16);

    /* the service restarts on another address */
    close(fd);
    fd = hevt_listen(AF_INET, HEVT_V4, PORT);
    cr_assert_geq(fd, 0);

    /* within the second: the cache answers, the kernel is not asked */
    cr_assert_eq(hev_listen_get(lt, PORT, t0 + second / 2, list, 4, &total, errbuf, sizeof(errbuf)),
                 0);
    cr_assert_eq(total, 1);
    cr_expect_arr_eq(list[0].addr, lo, 16);
    cr_assert_eq(hev_listen_get(lt, PORT, t0 + second - 1, list, 4, &total, errbuf, sizeof(errbuf)),
                 0);
    /* another port has a second of its own */
    cr_assert_eq(
        hev_listen_get(lt, PORT + 1, t0 + second / 2, list, 4, &total, errbuf, sizeof(errbuf)), 1);
    cr_expect_eq(total, 0);

    /* a second later: asked again, the new socket */
    cr_assert_eq(hev_listen_get(lt, PORT, t0 + second, list, 4, &total, errbuf, sizeof(errbuf)), 1);
    cr_assert_eq(total, 1);
    cr_expect_arr_eq(list[0].addr, v4, 16);
    cr_expect_eq(list[0].inode, hevt_inode(fd));

    /* a clock that went back asks again rather than trust an answer from the future */
    close(fd);
    cr_assert_eq(hev_listen_get(lt, PORT, t0, list, 4, &total, errbuf, sizeof(errbuf)), 1);
    cr_expect_eq(total, 0);
}

Test(listen, many_listeners_on_one_port)
{
    /* a SO_REUSEPORT group larger than the cache's first allocation */
    int fds[40];
    for (int i = 0; i < 40; i++) {
        fds[i] = hevt_listen_opts(AF_INET, "0.0.0.0", PORT, 16, -1, NULL, 1);
        cr_assert_geq(fds[i], 0);
    }
    struct hev_listener list[64];
    size_t total = 0;
    cr_assert_eq(hev_listen_get(lt, PORT, 1, list, 64, &total, errbuf, sizeof(errbuf)), 1, "%s",
                 errbuf);
    cr_expect_eq(total, 40);
    cr_assert_eq(hev_listen_get(lt, PORT, 2, list, 10, &total, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(total, 40);
    for (int i = 0; i < 40; i++) {
        close(fds[i]);
    }
}

Test(listen, cache_is_bounded)
{
    /* more ports than the cache holds: the one asked longest ago makes room */
    size_t total = 0;
    for (uint16_t port = 1; port <= HEV_LISTEN_CACHE_PORTS + 10; port++) {
        cr_assert_eq(hev_listen_get(lt, port, 1, NULL, 0, &total, errbuf, sizeof(errbuf)), 1,
                     "port %u: %s", (unsigned)port, errbuf);
    }
    cr_expect_eq(
        hev_listen_get(lt, HEV_LISTEN_CACHE_PORTS + 10, 1, NULL, 0, &total, errbuf, sizeof(errbuf)),
        0, "still held");
    cr_expect_eq(hev_listen_get(lt, 1, 1, NULL, 0, &total, errbuf, sizeof(errbuf)), 1,
                 "evicted: asked again within its second");
    cr_expect_eq(hev_listen_get(lt, 0, 1, NULL, 0, &total, errbuf, sizeof(errbuf)), -HEV_ERR_ARG);
}

Test(listen, names)
{
    cr_expect_str_eq(hev_accept_name(HEV_ACCEPT_LISTENING), "listening");
    cr_expect_str_eq(hev_accept_name(HEV_ACCEPT_NO_LISTENER), "no-listener");
    cr_expect_str_eq(hev_accept_name(HEV_ACCEPT_BOUND_ELSEWHERE), "bound-elsewhere");
    cr_expect_str_eq(hev_bound_name(HEV_BOUND_V6ONLY), "v6only");
    cr_expect_str_eq(hev_bound_name(HEV_BOUND_LOOPBACK), "loopback");
    cr_expect_str_eq(hev_strerror(-HEV_ERR_KERNEL), "kernel");
    cr_expect_str_eq(hev_strerror(99), "unknown");
}
