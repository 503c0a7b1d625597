/* hev_nl_int.h - private to host/: one netlink request/answer loop over libmnl, shared by the
 * listener query (NETLINK_SOCK_DIAG) and the local addresses and link names (NETLINK_ROUTE). */
#ifndef SYNSCOPE_HEV_NL_INT_H
#define SYNSCOPE_HEV_NL_INT_H

#include <libmnl/libmnl.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

/* Receive buffer: netlink dumps come in messages of at most 32 KiB (the kernel sizes each dump
 * skb to what recvmsg can take, up to 32 KiB), and a larger one would be cut (ENOSPC). */
#define HEV_NL_BUFSIZE 32768

struct hev_nl {
    struct mnl_socket *sock;
    unsigned int portid;
    unsigned int seq;
    const char *what; /* "sock_diag", "rtnetlink": named in messages */
    uint8_t *buf;     /* HEV_NL_BUFSIZE bytes */
};

/* Opens and binds a netlink socket of the given bus in the calling thread's network
 * namespace, with a receive timeout so that no request can hang the caller. Returns 0, or
 * -HEV_ERR_SOCKET / -HEV_ERR_NOMEM with a message in errbuf. */
int hev_nl_open(struct hev_nl *nl, int bus, const char *what, char *errbuf, size_t errlen);

/* Closes the socket; nl may be zeroed or already closed. */
void hev_nl_close(struct hev_nl *nl);

/* Sends req (nlmsg_seq is set here; NLM_F_REQUEST, and NLM_F_ACK or NLM_F_DUMP, by the
 * caller) and calls cb(nlh, data) on every answer until the end of the dump or the ack. A
 * callback refuses an answer by returning MNL_CB_ERROR: -HEV_ERR_PARSE. A dump the kernel
 * marks as interrupted (NLM_F_DUMP_INTR: the table changed under it) is asked again, at most
 * three times, after restart(data) (NULL: nothing to reset). Answers left from an earlier,
 * abandoned request are discarded first. Returns 0; -HEV_ERR_KERNEL with the kernel's errno in
 * errbuf and in *kernel_errno (may be NULL); or -HEV_ERR_SEND / -HEV_ERR_RECV. */
int hev_nl_request(struct hev_nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data,
                   void (*restart)(void *data), int *kernel_errno, char *errbuf, size_t errlen);

/* The name of interface ifindex, asked of the kernel over nl (a NETLINK_ROUTE socket, so the
 * name is the one in the socket's namespace). Returns 1 with name filled, 0 when no such
 * interface exists (name ""), or a negative hev_err. */
int hev_nl_link_name(struct hev_nl *nl, uint32_t ifindex, char name[IF_NAMESIZE], char *errbuf,
                     size_t errlen);

/* mnl_attr_parse callback of an RTM_NEWLINK message: tb[IFLA_IFNAME] is set when the name is a
 * valid NUL-terminated string that fits IF_NAMESIZE (data: const struct nlattr *[IFLA_MAX + 1]). */
int hev_nl_link_attr_cb(const struct nlattr *attr, void *data);

#endif
