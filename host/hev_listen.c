/* hev_listen.c - listening TCP sockets from sock_diag (inet_diag dumps over libmnl), and the
 * per-port cache that asks the kernel at most once a second per port. */
#include "hev_listen.h"

#include "hev_nl_int.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The kernel's state number of a listening socket (include/net/tcp_states.h: TCP_LISTEN). */
#define HEV_TCP_LISTEN 10

struct port_entry {
    bool used;
    bool asked; /* the kernel was asked at least once */
    uint16_t port;
    int error;            /* that request's result: 0 or a negative hev_err, whose message */
    char message[160];    /* is repeated until the next request */
    int64_t refreshed_ns; /* when the kernel was last asked about this port */
    uint64_t last_use;    /* the cache's use counter when last asked: the lowest is evicted */
    size_t count;         /* listeners held in list */
    size_t total;         /* listeners the kernel had (more than count when list was full) */
    struct hev_listener *list;
    size_t capacity;
};

struct hev_listen {
    struct hev_nl diag;
    struct hev_nl route;
    uint64_t use_counter;
    struct port_entry ports[HEV_LISTEN_CACHE_PORTS];
};

int hev_listen_open(struct hev_listen **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    struct hev_listen *lt = calloc(1, sizeof(*lt));
    if (!lt) {
        snprintf(errbuf, errlen, "listeners: out of memory");
        return -HEV_ERR_NOMEM;
    }
    int ret = hev_nl_open(&lt->diag, NETLINK_SOCK_DIAG, "sock_diag", errbuf, errlen);
    if (ret == 0) {
        ret = hev_nl_open(&lt->route, NETLINK_ROUTE, "rtnetlink", errbuf, errlen);
    }
    if (ret < 0) {
        hev_listen_close(lt);
        return ret;
    }
    *out = lt;
    return 0;
}

void hev_listen_close(struct hev_listen *lt)
{
    if (!lt) {
        return;
    }
    hev_nl_close(&lt->diag);
    hev_nl_close(&lt->route);
    for (size_t i = 0; i < HEV_LISTEN_CACHE_PORTS; i++) {
        free(lt->ports[i].list);
    }
    free(lt);
}

/* ---- one dump --------------------------------------------------------------------------- */

struct dump {
    uint8_t family;
    uint16_t port; /* 0: all */
    struct hev_listener *out;
    size_t max;
    size_t count;       /* written to out */
    size_t total;       /* seen */
    size_t count_start; /* count and total before this family's dump (an interrupted dump */
    size_t total_start; /* starts again from there) */
};

static void dump_restart(void *data)
{
    struct dump *d = data;
    d->count = d->count_start;
    d->total = d->total_start;
}

static int diag_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, INET_DIAG_MAX) < 0) {
        return MNL_CB_OK; /* an attribute newer than this header */
    }
    if (mnl_attr_get_type(attr) == INET_DIAG_SKV6ONLY) {
        if (mnl_attr_validate(attr, MNL_TYPE_U8) < 0) {
            return MNL_CB_ERROR;
        }
        tb[INET_DIAG_SKV6ONLY] = attr;
    }
    return MNL_CB_OK;
}

static int diag_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump *d = data;
    if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
        return MNL_CB_OK;
    }
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct inet_diag_msg)) {
        return MNL_CB_ERROR;
    }
    struct inet_diag_msg msg;
    memcpy(&msg, mnl_nlmsg_get_payload(nlh), sizeof(msg)); /* alignment: never assume it */
    const struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
    if (mnl_attr_parse(nlh, sizeof(msg), diag_attr_cb, tb) < 0) {
        return MNL_CB_ERROR;
    }
    if (msg.idiag_family != d->family) {
        return MNL_CB_ERROR; /* asked for one family: another is not an answer to it */
    }
    uint16_t port = ntohs(msg.id.idiag_sport);
    /* the kernel filters on the state and the port asked for; checked again all the same,
     * as a kernel that ignored the port filter would otherwise answer with every listener */
    if (msg.idiag_state != HEV_TCP_LISTEN || (d->port != 0 && port != d->port)) {
        return MNL_CB_OK;
    }
    d->total++;
    if (d->count >= d->max) {
        return MNL_CB_OK;
    }
    struct hev_listener *l = &d->out[d->count++];
    memset(l, 0, sizeof(*l));
    l->family = msg.idiag_family;
    l->port = port;
    memcpy(l->addr, msg.id.idiag_src, msg.idiag_family == AF_INET ? 4 : 16);
    l->v6only = msg.idiag_family == AF_INET6 && tb[INET_DIAG_SKV6ONLY] &&
                mnl_attr_get_u8(tb[INET_DIAG_SKV6ONLY]) != 0;
    l->ifindex = msg.id.idiag_if;
    /* for a listener, tcp_diag reports the accept queue's length and limit here
     * (net/ipv4/tcp_diag.c, tcp_diag_get_info), as ss prints them */
    l->queue = msg.idiag_rqueue;
    l->backlog = msg.idiag_wqueue;
    l->uid = msg.idiag_uid;
    l->inode = msg.idiag_inode;
    l->cookie = (uint64_t)msg.id.idiag_cookie[1] << 32 | msg.id.idiag_cookie[0];
    return MNL_CB_OK;
}

static int dump_family(struct hev_listen *lt, struct dump *d, uint8_t family, char *errbuf,
                       size_t errlen)
{
    uint8_t buf[NLMSG_SPACE(sizeof(struct inet_diag_req_v2))];
    memset(buf, 0, sizeof(buf));
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
    req->sdiag_family = family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = 1u << HEV_TCP_LISTEN;
    /* the listening-socket walk of inet_diag skips sockets of another source port when one is
     * given (a port of 0 asks for all) */
    req->id.idiag_sport = htons(d->port);
    req->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    d->family = family;
    d->count_start = d->count;
    d->total_start = d->total;
    int kerr = 0;
    int ret = hev_nl_request(&lt->diag, nlh, diag_cb, d, dump_restart, &kerr, errbuf, errlen);
    if (ret == -HEV_ERR_KERNEL && family == AF_INET6 && kerr == ENOENT) {
        return 0; /* a kernel without IPv6 has no AF_INET6 handler: no IPv6 listener */
    }
    return ret;
}

/* Fills ifname for the device-bound listeners, one question per distinct device. */
static int name_devices(struct hev_listen *lt, struct hev_listener *list, size_t count,
                        char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        if (list[i].ifindex == 0) {
            continue;
        }
        bool known = false;
        for (size_t j = 0; j < i; j++) {
            if (list[j].ifindex == list[i].ifindex) {
                memcpy(list[i].ifname, list[j].ifname, sizeof(list[i].ifname));
                known = true;
                break;
            }
        }
        if (known) {
            continue;
        }
        int ret = hev_nl_link_name(&lt->route, list[i].ifindex, list[i].ifname, errbuf, errlen);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int hev_listen_dump(struct hev_listen *lt, uint16_t port, struct hev_listener *out, size_t max,
                    size_t *total, char *errbuf, size_t errlen)
{
    *total = 0;
    if (max > 0 && !out) {
        snprintf(errbuf, errlen, "listeners: no room for the answer");
        return -HEV_ERR_ARG;
    }
    struct dump d = {.port = port, .out = out, .max = max};
    int ret = dump_family(lt, &d, AF_INET, errbuf, errlen);
    if (ret == 0) {
        ret = dump_family(lt, &d, AF_INET6, errbuf, errlen);
    }
    if (ret == 0) {
        ret = name_devices(lt, out, d.count, errbuf, errlen);
    }
    if (ret < 0) {
        return ret;
    }
    *total = d.total;
    return 0;
}

/* ---- the per-port cache ----------------------------------------------------------------- */

static struct port_entry *entry_for(struct hev_listen *lt, uint16_t port)
{
    struct port_entry *free_slot = NULL;
    struct port_entry *oldest = NULL;
    for (size_t i = 0; i < HEV_LISTEN_CACHE_PORTS; i++) {
        struct port_entry *e = &lt->ports[i];
        if (e->used && e->port == port) {
            return e;
        }
        if (!e->used) {
            if (!free_slot) {
                free_slot = e;
            }
        } else if (!oldest || e->last_use < oldest->last_use) {
            oldest = e;
        }
    }
    struct port_entry *e = free_slot ? free_slot : oldest;
    e->used = true;
    e->port = port;
    e->asked = false;
    e->error = 0;
    e->count = 0;
    e->total = 0;
    e->refreshed_ns = 0;
    return e;
}

static bool refresh_due(const struct port_entry *e, int64_t now_ns)
{
    return !e->asked || now_ns < e->refreshed_ns ||
           now_ns - e->refreshed_ns >= HEV_LISTEN_REFRESH_NS;
}

static int refresh(struct hev_listen *lt, struct port_entry *e, char *errbuf, size_t errlen)
{
    e->count = 0;
    e->total = 0;
    /* a group that keeps growing between two dumps gets three tries; then the listeners
     * that fit are kept, and total says how many there were */
    for (int attempt = 0;; attempt++) {
        size_t total = 0;
        int ret = hev_listen_dump(lt, e->port, e->list, e->capacity, &total, errbuf, errlen);
        if (ret < 0) {
            return ret;
        }
        if (total <= e->capacity || attempt == 2) {
            e->count = total <= e->capacity ? total : e->capacity;
            e->total = total;
            return 0;
        }
        /* more listeners than room: grow to what the kernel has (plus some, for a group that
         * grows meanwhile) and ask again */
        size_t capacity = total + 8;
        struct hev_listener *list = realloc(e->list, capacity * sizeof(*list));
        if (!list) {
            snprintf(errbuf, errlen, "listeners: out of memory for %zu listeners on port %u", total,
                     (unsigned)e->port);
            return -HEV_ERR_NOMEM;
        }
        e->list = list;
        e->capacity = capacity;
    }
}

int hev_listen_get(struct hev_listen *lt, uint16_t port, int64_t now_ns, struct hev_listener *out,
                   size_t max, size_t *total, char *errbuf, size_t errlen)
{
    *total = 0;
    if (port == 0 || (max > 0 && !out)) {
        snprintf(errbuf, errlen, "listeners: port 0 or no room for the answer");
        return -HEV_ERR_ARG;
    }
    struct port_entry *e = entry_for(lt, port);
    e->last_use = ++lt->use_counter;
    int asked = 0;
    if (refresh_due(e, now_ns)) {
        /* a failure is kept until the next second too, so that a broken socket costs one
         * failed request per second and port, not one per SYN */
        e->asked = true;
        e->refreshed_ns = now_ns;
        e->error = refresh(lt, e, e->message, sizeof(e->message));
        if (e->error < 0) {
            e->count = 0;
            e->total = 0;
        }
        asked = 1;
    }
    if (e->error < 0) {
        snprintf(errbuf, errlen, "%s", e->message);
        return e->error;
    }
    size_t n = e->count < max ? e->count : max;
    if (n > 0) {
        memcpy(out, e->list, n * sizeof(*out));
    }
    *total = e->total;
    return asked;
}
