/* test_listen_hostile.c - the netlink answers are the kernel's, but every one is checked:
 * malformed sock_diag and rtnetlink messages built here are fed to the parsers of
 * host/hev_listen.c and host/hev_addr.c (included, to reach their static callbacks). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "../../host/hev_addr.c"
#include "../../host/hev_listen.c"

#include <linux/if_addr.h>

#include "hev_test_net.h"

TestSuite(hostile, .timeout = 30);

static uint8_t buf[4096];

/* ---- sock_diag ---------------------------------------------------------------------------- */

/* A SOCK_DIAG_BY_FAMILY answer for a listener on 127.0.0.1:port (or [::1] for AF_INET6). */
static struct nlmsghdr *diag_msg(uint8_t family, uint8_t state, uint16_t port)
{
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    struct inet_diag_msg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
    m->idiag_family = family;
    m->idiag_state = state;
    m->id.idiag_sport = htons(port);
    if (family == AF_INET) {
        m->id.idiag_src[0] = htonl(0x7f000001);
    } else {
        m->id.idiag_src[3] = htonl(1);
    }
    m->idiag_rqueue = 3;
    m->idiag_wqueue = 128;
    m->idiag_inode = 4242;
    return nlh;
}

static struct hev_listener got[4];

static struct dump new_dump(uint8_t family, uint16_t port, size_t max)
{
    memset(got, 0, sizeof(got));
    return (struct dump){.family = family, .port = port, .out = got, .max = max};
}

Test(hostile, diag_well_formed)
{
    struct nlmsghdr *nlh = diag_msg(AF_INET6, HEV_TCP_LISTEN, 80);
    mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 1);
    mnl_attr_put_u32(nlh, 200, 7); /* a type newer than any header: ignored */
    struct dump d = new_dump(AF_INET6, 80, 4);
    cr_assert_eq(diag_cb(nlh, &d), MNL_CB_OK);
    cr_assert_eq(d.count, 1);
    cr_expect(got[0].v6only);
    cr_expect_eq(got[0].queue, 3);
    cr_expect_eq(got[0].backlog, 128);
    cr_expect_eq(got[0].inode, 4242);
    cr_expect_eq(got[0].addr[15], 1);
}

Test(hostile, diag_short_payload)
{
    struct nlmsghdr *nlh = diag_msg(AF_INET, HEV_TCP_LISTEN, 80);
    nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct inet_diag_msg) - 1;
    struct dump d = new_dump(AF_INET, 80, 4);
    cr_expect_eq(diag_cb(nlh, &d), MNL_CB_ERROR);
    cr_expect_eq(d.count, 0);
    nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
    cr_expect_eq(diag_cb(nlh, &d), MNL_CB_ERROR);
}

Test(hostile, diag_wrong_family_state_port)
{
    struct dump d = new_dump(AF_INET, 80, 4);
    cr_expect_eq(diag_cb(diag_msg(AF_INET6, HEV_TCP_LISTEN, 80), &d), MNL_CB_ERROR,
                 "an IPv6 socket in an IPv4 dump");
    cr_expect_eq(diag_cb(diag_msg(AF_INET, 1 /* ESTABLISHED */, 80), &d), MNL_CB_OK);
    cr_expect_eq(diag_cb(diag_msg(AF_INET, HEV_TCP_LISTEN, 81), &d), MNL_CB_OK);
    cr_expect_eq(d.total, 0, "neither is a listener on port 80");
    struct nlmsghdr *nlh = diag_msg(AF_INET, HEV_TCP_LISTEN, 80);
    nlh->nlmsg_type = NLMSG_NOOP;
    cr_expect_eq(diag_cb(nlh, &d), MNL_CB_OK);
    cr_expect_eq(d.total, 0);
}

Test(hostile, diag_bad_attributes)
{
    struct dump d = new_dump(AF_INET6, 80, 4);
    /* SKV6ONLY without its byte */
    struct nlmsghdr *nlh = diag_msg(AF_INET6, HEV_TCP_LISTEN, 80);
    mnl_attr_put(nlh, INET_DIAG_SKV6ONLY, 0, NULL);
    cr_expect_eq(diag_cb(nlh, &d), MNL_CB_ERROR);
    cr_expect_eq(d.count, 0);

    /* an attribute whose length runs past the message: not read (libmnl stops there) */
    nlh = diag_msg(AF_INET6, HEV_TCP_LISTEN, 80);
    struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);
    mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 1);
    a->nla_len = 200;
    cr_expect_eq(diag_cb(nlh, &d), MNL_CB_OK);
    cr_expect_eq(d.count, 1);
    cr_expect_not(got[0].v6only, "the attribute that did not fit was not believed");

    /* an attribute length below the attribute header */
    nlh = diag_msg(AF_INET6, HEV_TCP_LISTEN, 80);
    a = mnl_nlmsg_get_payload_tail(nlh);
    mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 1);
    a->nla_len = 2;
    cr_expect_eq(diag_cb(nlh, &d), MNL_CB_OK);
    cr_expect_eq(d.count, 2);
    cr_expect_not(got[1].v6only);
}

Test(hostile, diag_more_than_room)
{
    struct dump d = new_dump(AF_INET, 0, 2);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(diag_cb(diag_msg(AF_INET, HEV_TCP_LISTEN, (uint16_t)(80 + i)), &d), MNL_CB_OK);
    }
    cr_expect_eq(d.count, 2);
    cr_expect_eq(d.total, 5);
    cr_expect_eq(got[2].port, 0, "nothing written past max");
}

/* ---- rtnetlink ---------------------------------------------------------------------------- */

static struct nlmsghdr *addr_msg(uint8_t family, uint8_t prefixlen, uint32_t ifindex)
{
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWADDR;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = family;
    ifa->ifa_prefixlen = prefixlen;
    ifa->ifa_index = ifindex;
    return nlh;
}

Test(hostile, addr_lengths)
{
    struct table t;
    memset(&t, 0, sizeof(t));
    static const uint8_t v4[4] = {10, 0, 0, 1}, v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

    struct nlmsghdr *nlh = addr_msg(AF_INET, 24, 2);
    mnl_attr_put(nlh, IFA_LOCAL, 4, v4);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_OK);
    cr_expect_eq(t.addr_count, 1);

    nlh = addr_msg(AF_INET, 24, 2);
    mnl_attr_put(nlh, IFA_LOCAL, 3, v4);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "three bytes of IPv4 address");
    nlh = addr_msg(AF_INET, 24, 2);
    mnl_attr_put(nlh, IFA_ADDRESS, 16, v6);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "an IPv6 address in an IPv4 message");
    nlh = addr_msg(AF_INET6, 64, 2);
    mnl_attr_put(nlh, IFA_ADDRESS, 4, v4);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "an IPv4 address in an IPv6 message");
    nlh = addr_msg(AF_INET, 33, 2);
    mnl_attr_put(nlh, IFA_LOCAL, 4, v4);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "prefix /33");
    nlh = addr_msg(AF_INET6, 129, 2);
    mnl_attr_put(nlh, IFA_ADDRESS, 16, v6);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "prefix /129");
    nlh = addr_msg(AF_INET, 24, 2);
    mnl_attr_put(nlh, IFA_LOCAL, 4, v4);
    mnl_attr_put(nlh, IFA_FLAGS, 2, v4);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "two bytes of flags");
    nlh = addr_msg(AF_INET, 24, 2);
    nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct ifaddrmsg) - 1;
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_ERROR, "a short ifaddrmsg");
    cr_expect_eq(t.addr_count, 1);

    /* skipped, not errors: another family, no address at all */
    nlh = addr_msg(AF_PACKET, 0, 2);
    mnl_attr_put(nlh, IFA_ADDRESS, 6, v6);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_OK);
    nlh = addr_msg(AF_INET6, 64, 2);
    cr_expect_eq(addr_cb(nlh, &t), MNL_CB_OK);
    cr_expect_eq(t.addr_count, 1);
    table_free(&t);
}

Test(hostile, link_names)
{
    struct table t;
    memset(&t, 0, sizeof(t));
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_index = 3;
    struct nlattr *name = mnl_nlmsg_get_payload_tail(nlh);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
    cr_expect_eq(link_cb(nlh, &t), MNL_CB_OK);
    cr_expect_str_eq(t.links[0].name, "eth0");

    ((char *)mnl_attr_get_payload(name))[4] = 'X'; /* no NUL: refused */
    cr_expect_eq(link_cb(nlh, &t), MNL_CB_ERROR);

    memset(buf, 0, sizeof(buf));
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_index = 4;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "a-name-longer-than-ifnamsiz");
    cr_expect_eq(link_cb(nlh, &t), MNL_CB_ERROR);
    ifi->ifi_index = 0;
    cr_expect_eq(link_cb(nlh, &t), MNL_CB_ERROR, "ifindex 0");
    cr_expect_eq(t.link_count, 1);
    table_free(&t);
}

/* ---- the request loop against the kernel --------------------------------------------------- */

static int refuse_cb(const struct nlmsghdr *nlh, void *data)
{
    (void)nlh;
    (*(int *)data)++;
    return MNL_CB_ERROR;
}

/* A dump of every listener in the namespace on nl, with diag_cb into d. */
static int dump_all(struct hev_nl *nl, mnl_cb_t cb, void *data, char *errbuf, size_t errlen)
{
    uint8_t req_buf[NLMSG_SPACE(sizeof(struct inet_diag_req_v2))];
    memset(req_buf, 0, sizeof(req_buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
    req->sdiag_family = AF_INET;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = 1u << HEV_TCP_LISTEN;
    return hev_nl_request(nl, nlh, cb, data, NULL, NULL, errbuf, errlen);
}

Test(hostile, abandoned_dump_then_another)
{
    cr_assert_eq(hevt_netns(), 0);
    /* enough listeners that the dump takes several messages of 32 KiB */
    enum { N = 600 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = hevt_listen(AF_INET, "127.0.0.1", (uint16_t)(20000 + i));
        cr_assert_geq(fds[i], 0);
    }
    char errbuf[HEV_ERRBUF_SIZE];
    struct hev_nl nl;
    cr_assert_eq(hev_nl_open(&nl, NETLINK_SOCK_DIAG, "sock_diag", errbuf, sizeof(errbuf)), 0);
    int calls = 0;
    cr_expect_eq(dump_all(&nl, refuse_cb, &calls, errbuf, sizeof(errbuf)), -HEV_ERR_PARSE);
    cr_expect_eq(calls, 1);
    cr_expect_str_eq(errbuf, "sock_diag: malformed answer from the kernel");
    /* the rest of the abandoned dump is not taken for the next one's */
    static struct hev_listener all[N];
    struct dump d = {.family = AF_INET, .out = all, .max = N};
    cr_expect_eq(dump_all(&nl, diag_cb, &d, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_eq(d.total, N);

    /* a request the kernel refuses: its errno, and the socket goes on */
    uint8_t req_buf[NLMSG_SPACE(sizeof(struct inet_diag_req_v2))];
    memset(req_buf, 0, sizeof(req_buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
    req->sdiag_family = AF_INET;
    req->sdiag_protocol = 200; /* no such protocol handler */
    int kerr = 0;
    cr_expect_eq(hev_nl_request(&nl, nlh, diag_cb, &d, NULL, &kerr, errbuf, sizeof(errbuf)),
                 -HEV_ERR_KERNEL);
    cr_expect_neq(kerr, 0);
    cr_expect_neq(strstr(errbuf, "refused"), NULL, "%s", errbuf);
    d = (struct dump){.family = AF_INET, .out = all, .max = N};
    cr_expect_eq(dump_all(&nl, diag_cb, &d, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_eq(d.total, N);
    hev_nl_close(&nl);
    hev_nl_close(&nl); /* twice: harmless */

    /* link names: a device that does not exist is no error */
    struct hev_nl route;
    cr_assert_eq(hev_nl_open(&route, NETLINK_ROUTE, "rtnetlink", errbuf, sizeof(errbuf)), 0);
    char name[IF_NAMESIZE];
    cr_expect_eq(hev_nl_link_name(&route, 1, name, errbuf, sizeof(errbuf)), 1);
    cr_expect_str_eq(name, "lo");
    cr_expect_eq(hev_nl_link_name(&route, 9999, name, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_str_empty(name);
    cr_expect_eq(hev_nl_link_name(&route, 0, name, errbuf, sizeof(errbuf)), 0);
    /* the same question asked raw: the kernel's error message, its errno */
    uint8_t link_req[NLMSG_SPACE(sizeof(struct ifinfomsg))];
    memset(link_req, 0, sizeof(link_req));
    nlh = mnl_nlmsg_put_header(link_req);
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_index = 9999;
    struct table t;
    memset(&t, 0, sizeof(t));
    cr_expect_eq(hev_nl_request(&route, nlh, link_cb, &t, NULL, &kerr, errbuf, sizeof(errbuf)),
                 -HEV_ERR_KERNEL);
    cr_expect_eq(kerr, ENODEV);
    ifi->ifi_index = 1;
    cr_expect_eq(hev_nl_request(&route, nlh, link_cb, &t, NULL, &kerr, errbuf, sizeof(errbuf)), 0,
                 "%s", errbuf);
    cr_expect_eq(t.link_count, 1);
    table_free(&t);
    hev_nl_close(&route);
    for (int i = 0; i < N; i++) {
        close(fds[i]);
    }
}
