/* hev_nl.c - the netlink request/answer loop of host/'s inventory (libmnl), and the link
 * name lookup that the listener query and the address table share. */
#include "hev_nl_int.h"

#include "hev_err.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

/* A kernel answer comes in microseconds; two seconds means the socket is broken, and the
 * caller (the capture loop) must not wait longer than that. */
#define HEV_NL_TIMEOUT_S 2

int hev_nl_open(struct hev_nl *nl, int bus, const char *what, char *errbuf, size_t errlen)
{
    memset(nl, 0, sizeof(*nl));
    nl->what = what;
    nl->buf = malloc(HEV_NL_BUFSIZE);
    if (!nl->buf) {
        snprintf(errbuf, errlen, "%s: out of memory", what);
        return -HEV_ERR_NOMEM;
    }
    nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
    if (!nl->sock) {
        snprintf(errbuf, errlen, "%s: cannot open the netlink socket: %s", what, strerror(errno));
        hev_nl_close(nl);
        return -HEV_ERR_SOCKET;
    }
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(errbuf, errlen, "%s: cannot bind the netlink socket: %s", what, strerror(errno));
        hev_nl_close(nl);
        return -HEV_ERR_SOCKET;
    }
    struct timeval timeout = {.tv_sec = HEV_NL_TIMEOUT_S, .tv_usec = 0};
    if (setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof(timeout)) < 0) {
        snprintf(errbuf, errlen, "%s: cannot set the receive timeout: %s", what, strerror(errno));
        hev_nl_close(nl);
        return -HEV_ERR_SOCKET;
    }
    /* extended acks carry a message the kernel explains its refusals with; not needed, and a
     * kernel without them refuses the option, so the result is ignored */
    int off = 0;
    (void)mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &off, sizeof(off));
    nl->portid = mnl_socket_get_portid(nl->sock);
    nl->seq = (unsigned int)time(NULL);
    return 0;
}

void hev_nl_close(struct hev_nl *nl)
{
    if (nl->sock) {
        mnl_socket_close(nl->sock);
    }
    free(nl->buf);
    nl->sock = NULL;
    nl->buf = NULL;
}

/* Throws away whatever an earlier request left unread (a dump abandoned on a parse error),
 * so its answers are not taken for this request's. */
static void drain(struct hev_nl *nl)
{
    int fd = mnl_socket_get_fd(nl->sock);
    for (int i = 0; i < 4096; i++) {
        ssize_t got = recv(fd, nl->buf, HEV_NL_BUFSIZE, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return;
        }
    }
}

/* What the callback wrapper knows: whether a refusal came from the caller's callback (a
 * malformed answer) or from the kernel (an error message). */
struct wrap {
    mnl_cb_t cb;
    void *data;
    bool refused;
};

static int wrapped_cb(const struct nlmsghdr *nlh, void *arg)
{
    struct wrap *w = arg;
    int ret = w->cb(nlh, w->data);
    if (ret == MNL_CB_ERROR) {
        w->refused = true;
    }
    return ret;
}

/* The end of a dump. A dump the kernel could not start (no handler for the family or the
 * protocol asked for, tcp_diag not loaded) ends at once with an NLMSG_DONE whose payload is
 * the negative errno; libmnl's default handler ignores it, which would read as an empty
 * answer. */
static int done_cb(const struct nlmsghdr *nlh, void *arg)
{
    (void)arg;
    if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int32_t)) {
        int32_t error;
        memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
        if (error < 0 && error > -4096) {
            errno = -error;
            return MNL_CB_ERROR;
        }
    }
    return MNL_CB_STOP;
}

/* An error message, or the ack of a request (error 0), as libmnl's own handler reads it: a
 * table of control handlers given to mnl_cb_run2 replaces libmnl's for every type. */
static int error_cb(const struct nlmsghdr *nlh, void *arg)
{
    (void)arg;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) {
        errno = EBADMSG;
        return MNL_CB_ERROR;
    }
    struct nlmsgerr err;
    memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
    if (err.error == 0) {
        return MNL_CB_STOP;
    }
    errno = err.error < 0 && err.error > -4096 ? -err.error : EPROTO;
    return MNL_CB_ERROR;
}

static int noop_cb(const struct nlmsghdr *nlh, void *arg)
{
    (void)nlh;
    (void)arg;
    return MNL_CB_OK;
}

/* One request and its answers: 0 done, 1 interrupted dump (ask again), or a negative hev_err. */
static int request_once(struct hev_nl *nl, struct nlmsghdr *req, struct wrap *w, int *kerr,
                        char *errbuf, size_t errlen)
{
    req->nlmsg_seq = ++nl->seq;
    if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0) {
        snprintf(errbuf, errlen, "%s: cannot send the request: %s", nl->what, strerror(errno));
        return -HEV_ERR_SEND;
    }
    for (;;) {
        ssize_t got = mnl_socket_recvfrom(nl->sock, nl->buf, HEV_NL_BUFSIZE);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(errbuf, errlen, "%s: no answer: %s", nl->what,
                     errno == EAGAIN ? "timed out" : strerror(errno));
            return -HEV_ERR_RECV;
        }
        errno = 0;
        /* never written: not const only because mnl_cb_run2 takes it so */
        static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {[NLMSG_NOOP] = noop_cb,
                                               [NLMSG_ERROR] = error_cb,
                                               [NLMSG_DONE] = done_cb,
                                               [NLMSG_OVERRUN] = noop_cb};
        int ret = mnl_cb_run2(nl->buf, (size_t)got, req->nlmsg_seq, nl->portid, wrapped_cb, w, ctl,
                              NLMSG_MIN_TYPE);
        if (ret == MNL_CB_STOP) {
            return 0;
        }
        if (ret == MNL_CB_OK) {
            continue;
        }
        if (w->refused) {
            snprintf(errbuf, errlen, "%s: malformed answer from the kernel", nl->what);
            return -HEV_ERR_PARSE;
        }
        if (errno == EINTR) {
            return 1; /* NLM_F_DUMP_INTR */
        }
        if (errno == ESRCH || errno == EPROTO || errno == EBADMSG) {
            /* libmnl's own refusals: a sequence or port that is not ours, a message that
             * does not fit in what was received */
            snprintf(errbuf, errlen, "%s: malformed answer from the kernel (%s)", nl->what,
                     strerror(errno));
            return -HEV_ERR_PARSE;
        }
        if (kerr) {
            *kerr = errno;
        }
        snprintf(errbuf, errlen, "%s: the kernel refused the request: %s", nl->what,
                 strerror(errno));
        return -HEV_ERR_KERNEL;
    }
}

int hev_nl_request(struct hev_nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data,
                   void (*restart)(void *data), int *kernel_errno, char *errbuf, size_t errlen)
{
    if (kernel_errno) {
        *kernel_errno = 0;
    }
    for (int attempt = 0;; attempt++) {
        drain(nl);
        struct wrap w = {.cb = cb, .data = data, .refused = false};
        int ret = request_once(nl, req, &w, kernel_errno, errbuf, errlen);
        if (ret <= 0) {
            return ret;
        }
        if (attempt == 2) {
            snprintf(errbuf, errlen, "%s: the dump was interrupted three times in a row", nl->what);
            return -HEV_ERR_RECV;
        }
        if (restart) {
            restart(data);
        }
    }
}

struct link_name {
    uint32_t ifindex;
    char *name;
    bool found;
};

int hev_nl_link_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, IFLA_MAX) < 0) {
        return MNL_CB_OK; /* newer than this header: not ours */
    }
    if (mnl_attr_get_type(attr) == IFLA_IFNAME) {
        if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0 ||
            mnl_attr_get_payload_len(attr) > IF_NAMESIZE) {
            return MNL_CB_ERROR;
        }
        tb[IFLA_IFNAME] = attr;
    }
    return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_name *ln = data;
    if (nlh->nlmsg_type != RTM_NEWLINK) {
        return MNL_CB_OK;
    }
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg)) {
        return MNL_CB_ERROR;
    }
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = {0};
    if (mnl_attr_parse(nlh, sizeof(*ifi), hev_nl_link_attr_cb, tb) < 0) {
        return MNL_CB_ERROR;
    }
    if ((uint32_t)ifi->ifi_index == ln->ifindex && tb[IFLA_IFNAME]) {
        snprintf(ln->name, IF_NAMESIZE, "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        ln->found = true;
    }
    return MNL_CB_OK;
}

int hev_nl_link_name(struct hev_nl *nl, uint32_t ifindex, char name[IF_NAMESIZE], char *errbuf,
                     size_t errlen)
{
    name[0] = '\0';
    if (ifindex == 0 || ifindex > INT32_MAX) {
        return 0;
    }
    uint8_t req_buf[NLMSG_SPACE(sizeof(struct ifinfomsg)) + 64];
    memset(req_buf, 0, sizeof(req_buf));
    struct nlmsghdr *req = mnl_nlmsg_put_header(req_buf);
    req->nlmsg_type = RTM_GETLINK;
    req->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(req, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = (int)ifindex;
    /* the name and nothing else: no statistics, no VF list */
    mnl_attr_put_u32(req, IFLA_EXT_MASK, 0);
    struct link_name ln = {.ifindex = ifindex, .name = name, .found = false};
    int kerr = 0;
    int ret = hev_nl_request(nl, req, link_cb, &ln, NULL, &kerr, errbuf, errlen);
    if (ret == -HEV_ERR_KERNEL && kerr == ENODEV) {
        return 0;
    }
    if (ret < 0) {
        return ret;
    }
    return ln.found ? 1 : 0;
}
