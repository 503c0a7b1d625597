/* hev_listen_match.c - whether a listening socket takes a SYN, following the kernel's
 * listener lookup, and why not: pure functions over hev_listen's answers. */
#include "hev_listen.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

/* ::ffff:a.b.c.d, an IPv6 socket's name for the IPv4 address a.b.c.d (RFC 4291 2.5.5.2) */
static bool v4_mapped(const uint8_t a[16])
{
    return all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff;
}

static bool loopback4(const uint8_t a[4])
{
    return a[0] == 127; /* 127.0.0.0/8, all of it local (RFC 1122 3.2.1.3) */
}

static bool loopback6(const uint8_t a[16])
{
    return (all_zero(a, 15) && a[15] == 1) || (v4_mapped(a) && loopback4(a + 12));
}

static bool dst_loopback(const struct hev_syn_dst *dst)
{
    return dst->family == AF_INET ? loopback4(dst->addr) : loopback6(dst->addr);
}

/* How an address the socket is bound to relates to the SYN's destination of the same family:
 * 2 the exact address, 1 the wildcard, or 0 (then *why says why not). */
static int same_family_address(const uint8_t *bound, const uint8_t *dst, size_t len,
                               bool dst_is_loopback, bool bound_is_loopback, enum hev_bound *why)
{
    if (all_zero(bound, len)) {
        return 1;
    }
    if (memcmp(bound, dst, len) == 0) {
        return 2;
    }
    *why = bound_is_loopback && !dst_is_loopback ? HEV_BOUND_LOOPBACK : HEV_BOUND_ADDRESS;
    return 0;
}

/* The address part of the match: 2 exact, 1 wildcard, 0 no (with *why). */
static int address_match(const struct hev_listener *l, const struct hev_syn_dst *dst,
                         enum hev_bound *why)
{
    bool dst_lo = dst_loopback(dst);
    if (dst->family == AF_INET) {
        if (l->family == AF_INET) {
            return same_family_address(l->addr, dst->addr, 4, dst_lo, loopback4(l->addr), why);
        }
        /* an IPv6 socket: the kernel's IPv4 lookup sees its IPv4 address, 0 for :: and the
         * mapped address for ::ffff:a.b.c.d, and skips it when it is IPV6_V6ONLY */
        if (all_zero(l->addr, 16) || v4_mapped(l->addr)) {
            if (l->v6only) {
                *why = HEV_BOUND_V6ONLY;
                return 0;
            }
            return same_family_address(l->addr + 12, dst->addr, 4, dst_lo, loopback4(l->addr + 12),
                                       why);
        }
        *why = loopback6(l->addr) && !dst_lo ? HEV_BOUND_LOOPBACK : HEV_BOUND_FAMILY;
        return 0;
    }
    /* an IPv6 SYN is looked up among IPv6 sockets only, by their IPv6 address */
    if (l->family == AF_INET) {
        *why = loopback4(l->addr) && !dst_lo ? HEV_BOUND_LOOPBACK : HEV_BOUND_FAMILY;
        return 0;
    }
    if (v4_mapped(l->addr)) {
        *why = loopback4(l->addr + 12) && !dst_lo ? HEV_BOUND_LOOPBACK : HEV_BOUND_FAMILY;
        return 0;
    }
    return same_family_address(l->addr, dst->addr, 16, dst_lo, loopback6(l->addr), why);
}

enum hev_bound hev_listener_takes(const struct hev_listener *l, const struct hev_syn_dst *dst,
                                  bool *device_unchecked)
{
    if (device_unchecked) {
        *device_unchecked = false;
    }
    if (l->port != dst->port) {
        return HEV_BOUND_PORT;
    }
    enum hev_bound why = HEV_BOUND_MATCH;
    if (address_match(l, dst, &why) == 0) {
        return why;
    }
    /* SO_BINDTODEVICE: only SYNs that came in on that device (inet_sk_bound_dev_eq) */
    if (l->ifindex != 0) {
        if (dst->ifindex == 0) {
            if (device_unchecked) {
                *device_unchecked = true;
            }
        } else if (l->ifindex != dst->ifindex) {
            return HEV_BOUND_DEVICE;
        }
    }
    return HEV_BOUND_MATCH;
}

void hev_listen_accepts(const struct hev_listener *list, size_t count,
                        const struct hev_syn_dst *dst, struct hev_accept_result *res)
{
    memset(res, 0, sizeof(*res));
    res->accept = HEV_ACCEPT_NO_LISTENER;
    res->why = HEV_BOUND_MATCH;
    res->listener = -1;
    int best = -1, best_rank = -1;
    bool best_unchecked = false;
    int nearest = -1;
    enum hev_bound nearest_why = HEV_BOUND_PORT;
    for (size_t i = 0; i < count; i++) {
        bool unchecked = false;
        enum hev_bound why = hev_listener_takes(&list[i], dst, &unchecked);
        if (why == HEV_BOUND_PORT) {
            continue;
        }
        if (why != HEV_BOUND_MATCH) {
            if (why < nearest_why) { /* the enum is ordered nearest first */
                nearest_why = why;
                nearest = (int)i;
            }
            continue;
        }
        /* the kernel looks up the exact address first and the wildcard only when that finds
         * nothing; within one, compute_score prefers a device-bound socket, then (for an
         * IPv4 SYN) an IPv4 socket over an IPv6 one */
        enum hev_bound ignored;
        int exact = address_match(&list[i], dst, &ignored) == 2;
        int rank = exact * 4 + (list[i].ifindex != 0) * 2 + (list[i].family == AF_INET);
        if (rank > best_rank) {
            best_rank = rank;
            best = (int)i;
            best_unchecked = unchecked;
        }
    }
    if (best >= 0) {
        res->accept = HEV_ACCEPT_LISTENING;
        res->listener = best;
        res->device_unchecked = best_unchecked;
    } else if (nearest >= 0) {
        res->accept = HEV_ACCEPT_BOUND_ELSEWHERE;
        res->why = nearest_why;
        res->listener = nearest;
    }
}

const char *hev_accept_name(enum hev_accept accept)
{
    switch (accept) {
    case HEV_ACCEPT_LISTENING:
        return "listening";
    case HEV_ACCEPT_NO_LISTENER:
        return "no-listener";
    case HEV_ACCEPT_BOUND_ELSEWHERE:
        return "bound-elsewhere";
    }
    return "unknown";
}

const char *hev_bound_name(enum hev_bound why)
{
    switch (why) {
    case HEV_BOUND_MATCH:
        return "match";
    case HEV_BOUND_DEVICE:
        return "device";
    case HEV_BOUND_V6ONLY:
        return "v6only";
    case HEV_BOUND_ADDRESS:
        return "address";
    case HEV_BOUND_LOOPBACK:
        return "loopback";
    case HEV_BOUND_FAMILY:
        return "family";
    case HEV_BOUND_PORT:
        return "port";
    }
    return "unknown";
}
