/* hev_addr.h - this network namespace's own addresses (RTM_GETADDR over rtnetlink) and its
 * devices, so that the caller knows when an attempt's server or client is on this host. */
#ifndef SYNSCOPE_HEV_ADDR_H
#define SYNSCOPE_HEV_ADDR_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hev_err.h"

/* hev_addr_maybe_refresh asks the kernel again at most this often. */
#define HEV_ADDR_REFRESH_NS 1000000000LL
/* Addresses and devices kept at most (a refresh with more keeps this many: -HEV_ERR_FULL). */
#define HEV_ADDR_MAX 65536

struct hev_local_addr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t prefixlen;
    uint8_t scope;     /* RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST, ... */
    bool whole_prefix; /* every address of the prefix is local: an IPv4 address on a loopback
                          device (127.0.0.1/8 makes all of 127.0.0.0/8 this host's) */
    uint8_t addr[16];  /* network order; AF_INET: the first 4 bytes */
    uint32_t ifindex;  /* the device holding it */
    uint32_t flags;    /* IFA_F_* (IFA_F_TENTATIVE: IPv6 duplicate detection not done yet,
                          the address cannot be used) */
};

struct hev_addr;

/* Opens a rtnetlink socket in the calling thread's network namespace (every answer is about
 * that namespace) and reads the addresses once. Needs no privilege; the socket stays usable
 * after the privilege drop. Returns 0 and *out (to free with hev_addr_close), or a negative
 * hev_err with a message in errbuf. One handle serves one thread at a time. */
int hev_addr_open(struct hev_addr **out, char *errbuf, size_t errlen);

/* Closes the socket and frees the table; a may be NULL. */
void hev_addr_close(struct hev_addr *a);

/* Reads the devices and the addresses again, now. On failure the previous table is kept.
 * Returns 0, or a negative hev_err. */
int hev_addr_refresh(struct hev_addr *a, int64_t now_ns, char *errbuf, size_t errlen);

/* hev_addr_refresh when the last refresh is HEV_ADDR_REFRESH_NS or more before now_ns (or
 * now_ns went back); returns 1 when it asked the kernel, 0 when not, or a negative hev_err. */
int hev_addr_maybe_refresh(struct hev_addr *a, int64_t now_ns, char *errbuf, size_t errlen);

/* The local address entry that addr (family AF_INET or AF_INET6, network order) is, or falls
 * in (whole_prefix); an IPv4-mapped IPv6 address is looked up as IPv4. NULL when addr is not
 * this namespace's. The device (ifindex) is the one a SYN from this host to addr counts as
 * coming in on. Valid until the next refresh. */
const struct hev_local_addr *hev_addr_lookup(const struct hev_addr *a, uint8_t family,
                                             const uint8_t *addr);

/* Whether addr is one of this namespace's own addresses (hev_addr_lookup != NULL). */
bool hev_addr_is_local(const struct hev_addr *a, uint8_t family, const uint8_t *addr);

/* The addresses held, and the i-th of them (NULL past the end), in the kernel's order. */
size_t hev_addr_count(const struct hev_addr *a);
const struct hev_local_addr *hev_addr_get(const struct hev_addr *a, size_t i);

/* The name of device ifindex as of the last refresh ("" and false when unknown). */
bool hev_addr_ifname(const struct hev_addr *a, uint32_t ifindex, char name[IF_NAMESIZE]);

#endif
