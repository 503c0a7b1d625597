/* hev_addr.c - the namespace's devices (RTM_GETLINK) and addresses (RTM_GETADDR) dumped over
 * rtnetlink with libmnl into a table, and the "is this address ours" lookup. */
#include "hev_addr.h"

#include "hev_nl_int.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct link {
    uint32_t ifindex;
    uint32_t flags; /* IFF_* */
    char name[IF_NAMESIZE];
};

/* A table under construction or in use: grown by doubling, at most HEV_ADDR_MAX entries. */
struct table {
    struct hev_local_addr *addrs;
    size_t addr_count, addr_cap;
    struct link *links;
    size_t link_count, link_cap;
    bool full; /* something did not fit */
};

struct hev_addr {
    struct hev_nl route;
    struct table now;
    bool refreshed;
    int64_t refreshed_ns;
};

static void table_free(struct table *t)
{
    free(t->addrs);
    free(t->links);
    memset(t, 0, sizeof(*t));
}

/* Room for one more element of size elem in *array (count, *cap); false when out of memory
 * or at the limit. */
static bool grow(void **array, size_t count, size_t *cap, size_t elem)
{
    if (count < *cap) {
        return true;
    }
    if (count >= HEV_ADDR_MAX) {
        return false;
    }
    size_t want = *cap ? *cap * 2 : 16;
    if (want > HEV_ADDR_MAX) {
        want = HEV_ADDR_MAX;
    }
    void *bigger = realloc(*array, want * elem);
    if (!bigger) {
        return false;
    }
    *array = bigger;
    *cap = want;
    return true;
}

/* ---- the dumps ---------------------------------------------------------------------------- */

static void links_restart(void *data)
{
    struct table *t = data;
    t->link_count = 0;
}

static void addrs_restart(void *data)
{
    struct table *t = data;
    t->addr_count = 0;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct table *t = data;
    if (nlh->nlmsg_type != RTM_NEWLINK) {
        return MNL_CB_OK;
    }
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg)) {
        return MNL_CB_ERROR;
    }
    struct ifinfomsg ifi;
    memcpy(&ifi, mnl_nlmsg_get_payload(nlh), sizeof(ifi));
    const struct nlattr *tb[IFLA_MAX + 1] = {0};
    if (mnl_attr_parse(nlh, sizeof(ifi), hev_nl_link_attr_cb, tb) < 0) {
        return MNL_CB_ERROR;
    }
    if (ifi.ifi_index <= 0) {
        return MNL_CB_ERROR;
    }
    if (!grow((void **)&t->links, t->link_count, &t->link_cap, sizeof(*t->links))) {
        t->full = true;
        return MNL_CB_OK;
    }
    struct link *l = &t->links[t->link_count++];
    memset(l, 0, sizeof(*l));
    l->ifindex = (uint32_t)ifi.ifi_index;
    l->flags = ifi.ifi_flags;
    if (tb[IFLA_IFNAME]) {
        snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
    }
    return MNL_CB_OK;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, IFA_MAX) < 0) {
        return MNL_CB_OK;
    }
    int type = mnl_attr_get_type(attr);
    switch (type) {
    case IFA_ADDRESS:
    case IFA_LOCAL:
        /* the length is checked against the family by the caller */
        if (mnl_attr_validate(attr, MNL_TYPE_BINARY) < 0) {
            return MNL_CB_ERROR;
        }
        tb[type] = attr;
        break;
    case IFA_FLAGS:
        if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
            return MNL_CB_ERROR;
        }
        tb[type] = attr;
        break;
    default:
        break;
    }
    return MNL_CB_OK;
}

static bool link_is_loopback(const struct table *t, uint32_t ifindex)
{
    for (size_t i = 0; i < t->link_count; i++) {
        if (t->links[i].ifindex == ifindex) {
            return (t->links[i].flags & IFF_LOOPBACK) != 0;
        }
    }
    return false;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    struct table *t = data;
    if (nlh->nlmsg_type != RTM_NEWADDR) {
        return MNL_CB_OK;
    }
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifaddrmsg)) {
        return MNL_CB_ERROR;
    }
    struct ifaddrmsg ifa;
    memcpy(&ifa, mnl_nlmsg_get_payload(nlh), sizeof(ifa));
    const struct nlattr *tb[IFA_MAX + 1] = {0};
    if (mnl_attr_parse(nlh, sizeof(ifa), addr_attr_cb, tb) < 0) {
        return MNL_CB_ERROR;
    }
    size_t len = ifa.ifa_family == AF_INET ? 4 : ifa.ifa_family == AF_INET6 ? 16 : 0;
    if (len == 0) {
        return MNL_CB_OK; /* another family (none is asked for, but skip it) */
    }
    /* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on a point-to-point link,
     * and the address itself otherwise (when IFA_LOCAL is then absent or the same) */
    const struct nlattr *which = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (!which) {
        return MNL_CB_OK;
    }
    if (mnl_attr_get_payload_len(which) != len || ifa.ifa_prefixlen > len * 8) {
        return MNL_CB_ERROR;
    }
    if (!grow((void **)&t->addrs, t->addr_count, &t->addr_cap, sizeof(*t->addrs))) {
        t->full = true;
        return MNL_CB_OK;
    }
    struct hev_local_addr *a = &t->addrs[t->addr_count++];
    memset(a, 0, sizeof(*a));
    a->family = ifa.ifa_family;
    a->prefixlen = ifa.ifa_prefixlen;
    a->scope = ifa.ifa_scope;
    a->ifindex = ifa.ifa_index;
    /* IFA_FLAGS holds all 32 bits; ifa_flags only the first 8 */
    a->flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa.ifa_flags;
    memcpy(a->addr, mnl_attr_get_payload(which), len);
    /* on a loopback device the kernel makes the whole IPv4 prefix local (fib_add_ifaddr adds
     * an RTN_LOCAL route for it); elsewhere, and for IPv6, only the address itself */
    a->whole_prefix = a->family == AF_INET && link_is_loopback(t, a->ifindex);
    return MNL_CB_OK;
}

static int dump(struct hev_addr *a, struct table *t, int type, char *errbuf, size_t errlen)
{
    uint8_t buf[NLMSG_SPACE(sizeof(struct ifinfomsg)) + 64];
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (uint16_t)type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    if (type == RTM_GETLINK) {
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, 0); /* names and flags, no VF statistics */
        return hev_nl_request(&a->route, nlh, link_cb, t, links_restart, NULL, errbuf, errlen);
    }
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_UNSPEC; /* both families in one dump */
    return hev_nl_request(&a->route, nlh, addr_cb, t, addrs_restart, NULL, errbuf, errlen);
}

/* ---- the handle --------------------------------------------------------------------------- */

int hev_addr_open(struct hev_addr **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    struct hev_addr *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(errbuf, errlen, "addresses: out of memory");
        return -HEV_ERR_NOMEM;
    }
    int ret = hev_nl_open(&a->route, NETLINK_ROUTE, "rtnetlink", errbuf, errlen);
    if (ret == 0) {
        ret = hev_addr_refresh(a, 0, errbuf, errlen);
        a->refreshed = false; /* read, but at no time of the caller's clock */
    }
    if (ret < 0) {
        hev_addr_close(a);
        return ret;
    }
    *out = a;
    return 0;
}

void hev_addr_close(struct hev_addr *a)
{
    if (!a) {
        return;
    }
    hev_nl_close(&a->route);
    table_free(&a->now);
    free(a);
}

int hev_addr_refresh(struct hev_addr *a, int64_t now_ns, char *errbuf, size_t errlen)
{
    a->refreshed = true;
    a->refreshed_ns = now_ns;
    struct table t;
    memset(&t, 0, sizeof(t));
    /* devices first: an address's whole_prefix depends on its device's IFF_LOOPBACK */
    int ret = dump(a, &t, RTM_GETLINK, errbuf, errlen);
    if (ret == 0) {
        ret = dump(a, &t, RTM_GETADDR, errbuf, errlen);
    }
    if (ret < 0) {
        table_free(&t);
        return ret;
    }
    table_free(&a->now);
    a->now = t;
    if (t.full) {
        snprintf(errbuf, errlen,
                 "addresses: more than %d addresses or devices, or out of "
                 "memory: the table holds %zu addresses",
                 HEV_ADDR_MAX, t.addr_count);
        return -HEV_ERR_FULL;
    }
    return 0;
}

int hev_addr_maybe_refresh(struct hev_addr *a, int64_t now_ns, char *errbuf, size_t errlen)
{
    if (a->refreshed && now_ns >= a->refreshed_ns &&
        now_ns - a->refreshed_ns < HEV_ADDR_REFRESH_NS) {
        return 0;
    }
    int ret = hev_addr_refresh(a, now_ns, errbuf, errlen);
    return ret < 0 ? ret : 1;
}

/* Whether the first prefixlen bits of x and y are the same. */
static bool prefix_equal(const uint8_t *x, const uint8_t *y, unsigned prefixlen)
{
    unsigned bytes = prefixlen / 8, bits = prefixlen % 8;
    if (memcmp(x, y, bytes) != 0) {
        return false;
    }
    if (bits == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xffu << (8 - bits));
    return (x[bytes] & mask) == (y[bytes] & mask);
}

const struct hev_local_addr *hev_addr_lookup(const struct hev_addr *a, uint8_t family,
                                             const uint8_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
        family = AF_INET;
        addr += 12;
    }
    if (family != AF_INET && family != AF_INET6) {
        return NULL;
    }
    size_t len = family == AF_INET ? 4 : 16;
    const struct hev_local_addr *in_prefix = NULL;
    for (size_t i = 0; i < a->now.addr_count; i++) {
        const struct hev_local_addr *l = &a->now.addrs[i];
        if (l->family != family) {
            continue;
        }
        if (memcmp(l->addr, addr, len) == 0) {
            return l; /* the address itself before a prefix it falls in */
        }
        if (l->whole_prefix && !in_prefix && prefix_equal(l->addr, addr, l->prefixlen)) {
            in_prefix = l;
        }
    }
    return in_prefix;
}

bool hev_addr_is_local(const struct hev_addr *a, uint8_t family, const uint8_t *addr)
{
    return hev_addr_lookup(a, family, addr) != NULL;
}

size_t hev_addr_count(const struct hev_addr *a)
{
    return a->now.addr_count;
}

const struct hev_local_addr *hev_addr_get(const struct hev_addr *a, size_t i)
{
    return i < a->now.addr_count ? &a->now.addrs[i] : NULL;
}

bool hev_addr_ifname(const struct hev_addr *a, uint32_t ifindex, char name[IF_NAMESIZE])
{
    for (size_t i = 0; i < a->now.link_count; i++) {
        if (a->now.links[i].ifindex == ifindex) {
            memcpy(name, a->now.links[i].name, IF_NAMESIZE);
            return name[0] != '\0';
        }
    }
    name[0] = '\0';
    return false;
}
