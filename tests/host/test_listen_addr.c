/* test_listen_addr.c - this namespace's own addresses (host/hev_addr.c): what RTM_GETADDR
 * gives, the lookup checked against the kernel's own routing answer (`ip route get` says
 * "local"), refreshes and their once-a-second rule. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <linux/if_addr.h>

#include "hev_addr.h"
#include "hev_test_net.h"

static struct hev_addr *addrs;
static char errbuf[HEV_ERRBUF_SIZE];

static void setup(void)
{
    cr_assert_eq(hevt_netns(), 0);
    /* a point-to-point address: IFA_LOCAL is ours, IFA_ADDRESS the peer's */
    cr_assert_eq(hevt_sh("ip addr add 10.9.0.1 peer 10.9.0.2 dev " HEVT_DEV), 0);
    cr_assert_eq(hev_addr_open(&addrs, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
}

static void teardown(void)
{
    hev_addr_close(addrs);
}

TestSuite(addr, .init = setup, .fini = teardown, .timeout = 30);

static bool local(int family, const char *text)
{
    uint8_t a[16];
    hevt_addr(family, text, a);
    return hev_addr_is_local(addrs, (uint8_t)family, a);
}

/* The kernel's answer: `ip route get` names a route of type local. */
static bool kernel_local(int family, const char *text)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "ip -o -%d route get %s 2>/dev/null", family == AF_INET ? 4 : 6,
             text);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[512] = "";
    char *got = fgets(line, sizeof(line), p);
    pclose(p);
    return got && strncmp(line, "local ", 6) == 0;
}

Test(addr, agrees_with_the_kernel)
{
    static const struct {
        int family;
        const char *addr;
        bool local;
    } cases[] = {
        {AF_INET, HEVT_V4, true},         {AF_INET, HEVT_V4_OTHER, false},
        {AF_INET, "127.0.0.1", true},     {AF_INET, "127.1.2.3", true}, /* all of 127/8 */
        {AF_INET, "10.9.0.1", true},      {AF_INET, "10.9.0.2", false}, /* the peer */
        {AF_INET, "192.0.2.1", false},    {AF_INET6, HEVT_V6, true},
        {AF_INET6, "2001:db8::2", false}, {AF_INET6, "::1", true},
        {AF_INET6, "::2", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(local(cases[i].family, cases[i].addr), cases[i].local, "%s", cases[i].addr);
        cr_expect_eq(kernel_local(cases[i].family, cases[i].addr), cases[i].local,
                     "the kernel on %s", cases[i].addr);
    }
    /* an IPv4-mapped address is its IPv4 address */
    cr_expect(local(AF_INET6, "::ffff:10.0.0.1"));
    cr_expect_not(local(AF_INET6, "::ffff:10.0.0.2"));
    /* the wildcard is no address of a host */
    cr_expect_not(local(AF_INET, "0.0.0.0"));
    cr_expect_not(local(AF_INET6, "::"));
    uint8_t a[16] = {0};
    cr_expect_not(hev_addr_is_local(addrs, AF_UNSPEC, a));
}

Test(addr, entries)
{
    uint8_t lo[16], v4[16], peer[16];
    hevt_addr(AF_INET, "127.0.0.1", lo);
    hevt_addr(AF_INET, HEVT_V4, v4);
    hevt_addr(AF_INET, "10.9.0.1", peer);
    const struct hev_local_addr *l = hev_addr_lookup(addrs, AF_INET, v4);
    cr_assert_not_null(l);
    cr_expect_eq(l->family, AF_INET);
    cr_expect_eq(l->prefixlen, 24);
    cr_expect_eq(l->ifindex, if_nametoindex(HEVT_DEV));
    cr_expect_not(l->whole_prefix);
    cr_expect_arr_eq(l->addr, v4, 4);

    uint8_t in_lo[16];
    hevt_addr(AF_INET, "127.9.9.9", in_lo);
    l = hev_addr_lookup(addrs, AF_INET, in_lo);
    cr_assert_not_null(l);
    cr_expect(l->whole_prefix);
    cr_expect_eq(l->prefixlen, 8);
    cr_expect_eq(l->ifindex, if_nametoindex("lo"));
    cr_expect_arr_eq(l->addr, lo, 4);

    l = hev_addr_lookup(addrs, AF_INET, peer);
    cr_assert_not_null(l);
    cr_expect_eq(l->prefixlen, 32);

    /* every address of the namespace, link-local ones included */
    size_t v6_link_local = 0, count = hev_addr_count(addrs);
    cr_expect_geq(count, 6);
    for (size_t i = 0; i < count; i++) {
        const struct hev_local_addr *e = hev_addr_get(addrs, i);
        cr_assert_not_null(e);
        if (e->family == AF_INET6 && e->addr[0] == 0xfe && (e->addr[1] & 0xc0) == 0x80) {
            v6_link_local++;
            cr_expect(hev_addr_is_local(addrs, AF_INET6, e->addr));
        }
    }
    cr_expect_geq(v6_link_local, 1);
    cr_expect_null(hev_addr_get(addrs, count));

    char name[IF_NAMESIZE];
    cr_expect(hev_addr_ifname(addrs, if_nametoindex(HEVT_DEV), name));
    cr_expect_str_eq(name, HEVT_DEV);
    cr_expect(hev_addr_ifname(addrs, 1, name));
    cr_expect_str_eq(name, "lo");
    cr_expect_not(hev_addr_ifname(addrs, 999, name));
    cr_expect_str_empty(name);
}

Test(addr, refresh_once_a_second)
{
    const int64_t t0 = 7000000000LL, s = HEV_ADDR_REFRESH_NS;
    cr_expect_eq(hev_addr_maybe_refresh(addrs, t0, errbuf, sizeof(errbuf)), 1,
                 "open read the table at no time of the caller's: due");
    cr_assert_eq(hevt_sh("ip addr add 10.0.0.5/24 dev " HEVT_DEV " && "
                         "ip addr add 2001:db8::5/64 dev " HEVT_DEV " nodad"),
                 0);
    cr_assert_eq(hevt_wait_local(AF_INET6, "2001:db8::5"), 0);
    cr_expect_not(local(AF_INET, "10.0.0.5"));
    cr_expect_eq(hev_addr_maybe_refresh(addrs, t0 + s - 1, errbuf, sizeof(errbuf)), 0);
    cr_expect_not(local(AF_INET, "10.0.0.5"));
    cr_expect_eq(hev_addr_maybe_refresh(addrs, t0 + s, errbuf, sizeof(errbuf)), 1, "%s", errbuf);
    cr_expect(local(AF_INET, "10.0.0.5"));
    cr_expect(local(AF_INET6, "2001:db8::5"));

    cr_assert_eq(hevt_sh("ip addr del 10.0.0.5/24 dev " HEVT_DEV), 0);
    cr_expect_eq(hev_addr_refresh(addrs, t0 + s + 1, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_not(local(AF_INET, "10.0.0.5"));
    cr_expect(local(AF_INET6, "2001:db8::5"));
    /* the clock went back: due */
    cr_expect_eq(hev_addr_maybe_refresh(addrs, t0, errbuf, sizeof(errbuf)), 1);
}

Test(addr, a_device_goes_away)
{
    unsigned gone = if_nametoindex(HEVT_DEV);
    char name[IF_NAMESIZE];
    cr_expect(hev_addr_ifname(addrs, gone, name));
    cr_assert_eq(hevt_sh("ip link del " HEVT_DEV), 0); /* its peer goes with it */
    cr_assert_eq(hev_addr_refresh(addrs, 1, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_not(local(AF_INET, HEVT_V4));
    cr_expect_not(local(AF_INET6, HEVT_V6));
    cr_expect(local(AF_INET, "127.0.0.1"));
    cr_expect_not(hev_addr_ifname(addrs, gone, name));
    hev_addr_close(NULL);
}
