/* hev_nft.c - nftables tracing: the handle's life (open, read, close, abandon) and the names
 * and sentences of its results. The netlink requests are in hev_nft_setup.c, the trace
 * correlation in hev_nft_trace.c, the rule texts in hev_nft_rules.c. */
#define _GNU_SOURCE /* SO_RCVBUFFORCE */
#include "hev_nft_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RCVBUF (4 << 20)
/* A firewall reload notifies every rule it adds; an overflow only marks every rule changed */
#define CTL_RCVBUF (1 << 20)
#define READ_BATCH                                                                                 \
    256 /* datagrams per socket per hev_nft_read, so that a flood cannot hold the                  \
           caller */

const char *hev_nft_strerror(int code)
{
    static const char *const names[] = {
        [HEV_NFT_ERR_ABSENT] = "absent",   [HEV_NFT_ERR_PERM] = "permission",
        [HEV_NFT_ERR_SOCKET] = "socket",   [HEV_NFT_ERR_KERNEL] = "kernel",
        [HEV_NFT_ERR_EXISTS] = "exists",   [HEV_NFT_ERR_NOMEM] = "out of memory",
        [HEV_NFT_ERR_LEFT] = "table left",
    };
    if (code < 0) {
        code = -code;
    }
    if (code <= 0 || (size_t)code >= sizeof(names) / sizeof(names[0]) || names[code] == NULL) {
        return "unknown";
    }
    return names[code];
}

const char *hev_nft_verdict_name(enum hev_nft_verdict v)
{
    switch (v) {
    case HEV_NFT_DROP:
        return "drop";
    case HEV_NFT_REJECT:
        return "reject";
    case HEV_NFT_DROP_OR_REJECT:
        return "drop-or-reject";
    }
    return "unknown";
}

const char *hev_nft_rule_state_name(enum hev_nft_rule_state s)
{
    switch (s) {
    case HEV_NFT_RULE_KNOWN:
        return "known";
    case HEV_NFT_RULE_POLICY:
        return "policy";
    case HEV_NFT_RULE_NEW:
        return "new";
    case HEV_NFT_RULE_CHANGED:
        return "changed";
    case HEV_NFT_RULE_NO_TEXT:
        return "no-text";
    }
    return "unknown";
}

static const char *family_name(uint8_t family)
{
    switch (family) {
    case NFPROTO_INET:
        return "inet";
    case NFPROTO_IPV4:
        return "ip";
    case NFPROTO_IPV6:
        return "ip6";
    case NFPROTO_ARP:
        return "arp";
    case NFPROTO_BRIDGE:
        return "bridge";
    case NFPROTO_NETDEV:
        return "netdev";
    }
    return "?";
}

int hev_nft_describe(const struct hev_nft_event *ev, char *buf, size_t len)
{
    const char *family = family_name(ev->table_family);
    unsigned long long handle = (unsigned long long)ev->rule_handle;
    switch (ev->rule_state) {
    case HEV_NFT_RULE_KNOWN:
        return snprintf(buf, len, "nft %s %s %s handle %llu: %s", family, ev->table, ev->chain,
                        handle, ev->rule_text != NULL ? ev->rule_text : "");
    case HEV_NFT_RULE_POLICY:
        return snprintf(buf, len, "nft %s %s %s policy drop", family, ev->table, ev->chain);
    case HEV_NFT_RULE_NEW:
        return snprintf(buf, len, "nft %s %s %s handle %llu (added after start-up, text unknown)",
                        family, ev->table, ev->chain, handle);
    case HEV_NFT_RULE_CHANGED:
        return snprintf(buf, len,
                        "nft %s %s %s handle %llu (ruleset changed since start-up, text unknown)",
                        family, ev->table, ev->chain, handle);
    case HEV_NFT_RULE_NO_TEXT:
        break;
    }
    return snprintf(buf, len, "nft %s %s %s handle %llu", family, ev->table, ev->chain, handle);
}

/* ---- opening -------------------------------------------------------------------------- */

/* A failed step as one line; errors are negative errnos. first: the first request to
 * nf_tables, where EINVAL means nfnetlink has no nf_tables subsystem. */
static int fail(int err, const char *what, bool first, char *errbuf, size_t errlen)
{
    int e = -err;
    if (e == EPROTONOSUPPORT || e == EAFNOSUPPORT || e == EOPNOTSUPP || (first && e == EINVAL)) {
        snprintf(errbuf, errlen, "nftables tracing off: this kernel has no nf_tables (%s: %s)",
                 what, strerror(e));
        return -HEV_NFT_ERR_ABSENT;
    }
    if (e == EPERM || e == EACCES) {
        snprintf(errbuf, errlen, "nftables tracing off: %s needs CAP_NET_ADMIN (%s)", what,
                 strerror(e));
        return -HEV_NFT_ERR_PERM;
    }
    snprintf(errbuf, errlen, "nftables tracing off: %s: %s", what, strerror(e));
    if (e == EEXIST) {
        return -HEV_NFT_ERR_EXISTS;
    }
    if (e == ENOMEM) {
        return -HEV_NFT_ERR_NOMEM;
    }
    return -HEV_NFT_ERR_KERNEL;
}

/* A NETLINK_NETFILTER socket, bound, with a receive timeout for requests (reads of events
 * use MSG_DONTWAIT). Returns the descriptor or a negative errno. */
static int nl_open(uint32_t *portid, int rcvbuf)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        return -errno;
    }
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    socklen_t len = sizeof(sa);
    struct timeval timeout = {.tv_sec = 5};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    /* FORCE passes net.core.rmem_max (root); without it the plain one is capped there */
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    *portid = sa.nl_pid;
    return fd;
}

static int join_group(int fd, int group)
{
    return setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) == 0 ? 0
                                                                                           : -errno;
}

static void free_handle(struct hev_nft *h)
{
    int fds[] = {h->ctl_fd, h->trace_fd, h->epoll_fd, h->spare_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    nft_rules_free(h->rules);
    free(h->buf);
    free(h);
}

/* The trace socket, the ruleset notifications, the snapshot and the epoll set, once the table
 * exists. */
static int open_readers(struct hev_nft *h, const struct hev_nft_config *cfg, char *errbuf,
                        size_t errlen)
{
    uint32_t trace_portid;
    int rc = nl_open(&trace_portid, cfg->rcvbuf_bytes > 0 ? cfg->rcvbuf_bytes : DEFAULT_RCVBUF);
    if (rc < 0) {
        return fail(rc, "trace socket", false, errbuf, errlen);
    }
    h->trace_fd = rc;
    if ((rc = join_group(h->trace_fd, NFNLGRP_NFTRACE)) != 0) {
        return fail(rc, "trace group", false, errbuf, errlen);
    }
    /* notifications before the snapshot: a change racing with it marks rules changed */
    if ((rc = join_group(h->ctl_fd, NFNLGRP_NFTABLES)) != 0) {
        return fail(rc, "ruleset notifications", false, errbuf, errlen);
    }
    if (!cfg->no_rule_text && (rc = nft_rules_snapshot(&h->rules, cfg->nft_path)) < 0) {
        h->rules = NULL; /* the events then name handles only */
    }
    h->stats.snapshot_rules = nft_rules_count(h->rules);
    h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (h->spare_fd < 0 || h->epoll_fd < 0) {
        return fail(-errno, "descriptors", false, errbuf, errlen);
    }
    struct epoll_event in = {.events = EPOLLIN};
    in.data.fd = h->ctl_fd;
    if (epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, h->ctl_fd, &in) != 0) {
        return fail(-errno, "epoll", false, errbuf, errlen);
    }
    in.data.fd = h->trace_fd;
    if (epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, h->trace_fd, &in) != 0) {
        return fail(-errno, "epoll", false, errbuf, errlen);
    }
    return 0;
}

int hev_nft_open(struct hev_nft **out, const struct hev_nft_config *cfg, char *errbuf,
                 size_t errlen)
{
    static const struct hev_nft_config defaults;
    *out = NULL;
    cfg = cfg != NULL ? cfg : &defaults;
    if (cfg->pretend_absent) {
        return fail(-EPROTONOSUPPORT, "netlink socket", true, errbuf, errlen);
    }
    struct hev_nft *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->buf = malloc(NFT_CTL_BUFSIZE)) == NULL) {
        free(h);
        return fail(-ENOMEM, "handle", false, errbuf, errlen);
    }
    h->ctl_fd = h->trace_fd = h->epoll_fd = h->spare_fd = -1;
    h->seq = (uint32_t)time(NULL);
    snprintf(h->table, sizeof(h->table), "%s%ld", HEV_NFT_TABLE_PREFIX, (long)getpid());
    int rc = nl_open(&h->ctl_portid, CTL_RCVBUF);
    if (rc < 0) {
        free_handle(h);
        return fail(rc, "netlink socket", true, errbuf, errlen);
    }
    h->ctl_fd = rc;
    if ((rc = nft_sweep(h)) < 0) {
        free_handle(h);
        return fail(rc, "listing tables", true, errbuf, errlen);
    }
    h->stats.stale_removed = (uint64_t)rc;
    if ((rc = nft_add_table(h, cfg->no_owner)) == -EEXIST || rc == -EPERM) {
        /* the listing needed the same privilege: EPERM is the kernel refusing a table that
         * another socket owns */
        snprintf(errbuf, errlen,
                 "nftables tracing off: this process already traces here (table inet %s)",
                 h->table);
        free_handle(h);
        return -HEV_NFT_ERR_EXISTS;
    }
    if (rc != 0) {
        free_handle(h);
        return fail(rc, "adding the trace table", false, errbuf, errlen);
    }
    if ((rc = open_readers(h, cfg, errbuf, errlen)) != 0) {
        char ignored[HEV_NFT_ERRBUF_SIZE];
        (void)hev_nft_close(h, ignored, sizeof(ignored));
        return rc;
    }
    *out = h;
    return 0;
}

int hev_nft_fd(const struct hev_nft *h)
{
    return h->epoll_fd;
}

const char *hev_nft_table(const struct hev_nft *h)
{
    return h->table;
}

bool hev_nft_owned(const struct hev_nft *h)
{
    return h->owned;
}

void hev_nft_get_stats(const struct hev_nft *h, struct hev_nft_stats *stats)
{
    *stats = h->stats;
}

/* ---- reading -------------------------------------------------------------------------- */

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads what waits on one socket. Messages that are not from the kernel are ignored (only
 * the kernel sends on these groups; a process with CAP_NET_ADMIN could try). */
static int drain(struct hev_nft *h, int fd, bool trace, hev_nft_event_fn fn, void *user,
                 int *events, char *errbuf, size_t errlen)
{
    for (int i = 0; i < READ_BATCH; i++) {
        struct sockaddr_nl from;
        socklen_t fromlen = sizeof(from);
        ssize_t n =
            recvfrom(fd, h->buf, NFT_CTL_BUFSIZE, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (n < 0 && errno == ENOBUFS) {
            if (trace) {
                h->stats.lost++;
            } else { /* a deletion may be among the lost notifications */
                nft_rules_mark_changed(h->rules, 0, NULL, NULL, 0);
                h->stats.ruleset_changes++;
            }
            continue;
        }
        if (n < 0 && h->abandoned) {
            return 0; /* hev_nft_abandon replaced the control socket meanwhile */
        }
        if (n < 0) {
            snprintf(errbuf, errlen, "nftables %s socket: %s", trace ? "trace" : "ruleset",
                     strerror(errno));
            return -HEV_NFT_ERR_SOCKET;
        }
        if (fromlen != sizeof(from) || from.nl_pid != 0) {
            continue;
        }
        int left = (int)n;
        int64_t now = realtime_ns();
        for (const struct nlmsghdr *nlh = (const void *)h->buf; mnl_nlmsg_ok(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left)) {
            struct hev_nft_event ev;
            if (!trace) {
                nft_change_message(h, nlh);
            } else if (nft_trace_message(h, nlh, now, &ev) == 1) {
                fn(&ev, user);
                (*events)++;
            }
        }
    }
    return 0;
}

int hev_nft_read(struct hev_nft *h, hev_nft_event_fn fn, void *user, char *errbuf, size_t errlen)
{
    int events = 0;
    if (h->abandoned) {
        return 0;
    }
    int rc = drain(h, h->ctl_fd, false, fn, user, &events, errbuf, errlen);
    if (rc == 0) {
        rc = drain(h, h->trace_fd, true, fn, user, &events, errbuf, errlen);
    }
    return rc < 0 ? rc : events;
}

/* ---- closing -------------------------------------------------------------------------- */

int hev_nft_close(struct hev_nft *h, char *errbuf, size_t errlen)
{
    if (h == NULL) {
        return 0;
    }
    int rc = 0;
    if (!h->abandoned && h->ctl_fd >= 0 && h->del_len > 0) {
        int del = nft_batch_send(h, h->del_batch, h->del_len, 1);
        if (del != 0 && del != -ENOENT && !h->owned) {
            snprintf(errbuf, errlen,
                     "nftables: table inet %s is left behind (%s); the next start removes it, "
                     "or: nft delete table inet %s",
                     h->table, strerror(-del), h->table);
            rc = -HEV_NFT_ERR_LEFT;
        }
    }
    free_handle(h); /* closing the control socket removes an owned table */
    return rc;
}

void hev_nft_abandon(struct hev_nft *h)
{
    if (h == NULL || h->abandoned || h->ctl_fd < 0) {
        return;
    }
    h->abandoned = 1;
    if (h->del_len > 0) {
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        (void)sendto(h->ctl_fd, h->del_batch, h->del_len, MSG_DONTWAIT,
                     (const struct sockaddr *)&kernel, sizeof(kernel));
    }
    if (h->spare_fd >= 0) {
        /* releases the socket, keeping the descriptor number valid for hev_nft_close */
        (void)dup2(h->spare_fd, h->ctl_fd);
    }
}
