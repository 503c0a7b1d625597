/* hev_listen.h - the listening TCP sockets of this network namespace, from the kernel's own
 * socket table (NETLINK_SOCK_DIAG, inet_diag), and whether one of them takes a given SYN.
 * Facts only: which socket, bound where, how full; report/ decides what they mean. */
#ifndef SYNSCOPE_HEV_LISTEN_H
#define SYNSCOPE_HEV_LISTEN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hev_err.h"

/* A cached port is asked of the kernel again at most this often (per port). */
#define HEV_LISTEN_REFRESH_NS 1000000000LL
/* Ports remembered by the cache; the one used longest ago makes room for a new one. */
#define HEV_LISTEN_CACHE_PORTS 256

/* One listening TCP socket, as `ss -ltn` shows it. */
struct hev_listener {
    uint8_t family;           /* AF_INET or AF_INET6 */
    bool v6only;              /* IPV6_V6ONLY (INET_DIAG_SKV6ONLY); false for AF_INET */
    uint16_t port;            /* local port, host order */
    uint8_t addr[16];         /* local address, network order; AF_INET uses the first 4 bytes;
                                 all zero: the wildcard 0.0.0.0 or :: */
    uint32_t ifindex;         /* device of SO_BINDTODEVICE, 0: none */
    char ifname[IF_NAMESIZE]; /* its name in the socket's namespace; "" if none or gone */
    uint32_t queue;           /* accept queue: connections waiting for accept() (ss Recv-Q) */
    uint32_t backlog;         /* its limit: listen()'s backlog, capped by somaxconn (ss Send-Q) */
    uint32_t uid;             /* the socket's owner */
    uint64_t inode;           /* socket inode: "socket:[inode]" in /proc/PID/fd */
    uint64_t cookie;          /* the kernel's socket cookie (the BPF helpers' id) */
};

struct hev_listen;

/* Opens a sock_diag socket and a rtnetlink socket (for the names of bound devices) in the
 * calling thread's network namespace: every later answer is about that namespace, whatever
 * namespace the caller is in by then. Needs no privilege, and the sockets stay usable after
 * the caller drops every privilege (setuid nobody, no capabilities). Returns 0 and *out (to
 * free with hev_listen_close), or a negative hev_err with a message in errbuf. One handle
 * serves one thread at a time. */
int hev_listen_open(struct hev_listen **out, char *errbuf, size_t errlen);

/* Closes the sockets and frees the cache; lt may be NULL. */
void hev_listen_close(struct hev_listen *lt);

/* Asks the kernel now, without the cache: the TCP sockets in LISTEN state on port (host
 * order; 0: every port), IPv4 then IPv6. Up to max are written to out; *total receives how
 * many there are (more than max: the rest are not written, and the call still succeeds).
 * Returns 0, or a negative hev_err (errbuf says which request failed). */
int hev_listen_dump(struct hev_listen *lt, uint16_t port, struct hev_listener *out, size_t max,
                    size_t *total, char *errbuf, size_t errlen);

/* Like hev_listen_dump for one port (not 0), through the cache: the kernel is asked only when
 * this port was last asked HEV_LISTEN_REFRESH_NS or more before now_ns (or never, or now_ns
 * went back), so that a service restarted during a capture is seen within a second while a
 * flood of SYNs costs one dump per port and second. now_ns is the caller's clock (packet time
 * or CLOCK_MONOTONIC, one of them throughout). Returns 1 when the kernel was asked, 0 when the
 * answer is the cached one, or a negative hev_err (a failed refresh is not retried before the
 * next second either; out is then empty). */
int hev_listen_get(struct hev_listen *lt, uint16_t port, int64_t now_ns, struct hev_listener *out,
                   size_t max, size_t *total, char *errbuf, size_t errlen);

/* ---- does a listener take this SYN? (pure: no I/O) ---------------------------------------- */

/* Where a SYN was sent: its destination, as it reached this host. */
struct hev_syn_dst {
    uint8_t family;   /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order; AF_INET: the first 4 bytes */
    uint16_t port;    /* host order */
    uint32_t ifindex; /* the device the SYN came in on; 0: unknown. A SYN from this host itself
                         counts as coming in on the device that holds its destination address
                         (lo for 127.0.0.1; hev_addr_lookup tells which) */
};

enum hev_accept {
    HEV_ACCEPT_LISTENING = 0,   /* a listener takes the SYN */
    HEV_ACCEPT_NO_LISTENER,     /* nothing listens on the port, on any address or family */
    HEV_ACCEPT_BOUND_ELSEWHERE, /* listeners on the port, but none for this address, family or
                                   device */
};

/* Why one listener does not take the SYN. */
enum hev_bound {
    HEV_BOUND_MATCH = 0, /* it takes it */
    HEV_BOUND_DEVICE,    /* the address matches, but the socket is bound to another device */
    HEV_BOUND_V6ONLY,    /* an IPv6 socket on :: with IPV6_V6ONLY, and an IPv4 SYN */
    HEV_BOUND_ADDRESS,   /* bound to another address of the SYN's family */
    HEV_BOUND_LOOPBACK,  /* bound to a loopback address (127.0.0.0/8, ::1, ::ffff:127.x), and
                            the SYN is sent to an address that is not loopback */
    HEV_BOUND_FAMILY,    /* a socket of the other family only (0.0.0.0 for an IPv6 SYN, ::1
                            or another IPv6 address for an IPv4 SYN) */
    HEV_BOUND_PORT,      /* another port: not a listener of this SYN's service at all */
};

struct hev_accept_result {
    enum hev_accept accept;
    enum hev_bound why;    /* BOUND_ELSEWHERE: the reason of the nearest listener (DEVICE is
                              nearest, then V6ONLY, ADDRESS, LOOPBACK, FAMILY); else MATCH */
    int listener;          /* index in the list: the socket the kernel picks (LISTENING), the
                              nearest listener (BOUND_ELSEWHERE), -1 (NO_LISTENER) */
    bool device_unchecked; /* the answer took a device-bound listener as a match because the
                              SYN's device is unknown (ifindex 0) */
};

/* Whether listener l takes a SYN to dst, and if not, why. *device_unchecked (may be NULL) is
 * set when l is bound to a device and dst's device is unknown: l is then taken as a match. */
enum hev_bound hev_listener_takes(const struct hev_listener *l, const struct hev_syn_dst *dst,
                                  bool *device_unchecked);

/* Whether one of the listeners (typically hev_listen_get's answer for dst->port; others are
 * ignored) takes a SYN to dst, following the kernel's lookup (net/ipv4/inet_hashtables.c,
 * net/ipv6/inet6_hashtables.c): a socket on the exact address before one on the wildcard, and
 * among those a device-bound one before an unbound one, IPv4 before IPv6. An IPv4 SYN is
 * taken by an IPv6 socket on :: (or on ::ffff:its-address) only when IPV6_V6ONLY is off.
 * Not modelled: VRF devices (net.ipv4.tcp_l3mdev_accept), SO_REUSEPORT's choice inside a
 * group (any member is named), BPF sk_lookup programs. */
void hev_listen_accepts(const struct hev_listener *list, size_t count,
                        const struct hev_syn_dst *dst, struct hev_accept_result *res);

/* "listening", "no-listener", "bound-elsewhere" (the host.cause words of issue 19). */
const char *hev_accept_name(enum hev_accept accept);

/* "match", "device", "v6only", "address", "loopback", "family", "port". */
const char *hev_bound_name(enum hev_bound why);

#endif
