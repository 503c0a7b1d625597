/* dec_names.c - the decoder's values as text: status names, link types, addresses. */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include "decode.h"

static const char *const status_names[] = {
    [DEC_OK_TCP] = "ok-tcp",
    [DEC_OK_ICMP] = "ok-icmp",
    [DEC_OK_NEIGH] = "ok-neigh",
    [DEC_SKIP_NOT_IP] = "skip-not-ip",
    [DEC_SKIP_NOT_TCP] = "skip-not-tcp",
    [DEC_SKIP_FRAGMENT] = "skip-fragment",
    [DEC_P_LINK_TRUNCATED] = "link-truncated",
    [DEC_P_LINK_TOO_MANY_TAGS] = "link-too-many-tags",
    [DEC_P_LINK_UNSUPPORTED] = "link-unsupported",
    [DEC_P_IP_BAD_VERSION] = "ip-bad-version",
    [DEC_P_IP4_TRUNCATED] = "ip4-truncated",
    [DEC_P_IP4_BAD_IHL] = "ip4-bad-ihl",
    [DEC_P_IP4_BAD_LENGTH] = "ip4-bad-length",
    [DEC_P_IP6_TRUNCATED] = "ip6-truncated",
    [DEC_P_IP6_BAD_LENGTH] = "ip6-bad-length",
    [DEC_P_IP6_EXT_TRUNCATED] = "ip6-ext-truncated",
    [DEC_P_IP6_EXT_BAD] = "ip6-ext-bad",
    [DEC_P_IP6_EXT_TOO_MANY] = "ip6-ext-too-many",
    [DEC_P_TCP_TRUNCATED] = "tcp-truncated",
    [DEC_P_TCP_SHORT] = "tcp-short",
    [DEC_P_TCP_BAD_OFFSET] = "tcp-bad-offset",
    [DEC_P_ICMP_TRUNCATED] = "icmp-truncated",
    [DEC_P_ICMP_SHORT] = "icmp-short",
    [DEC_P_ICMP_QUOTE_BAD] = "icmp-quote-bad",
};

_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == DEC_P_COUNT,
               "every enum dec_status value needs a name");

const char *dec_status_name(enum dec_status status)
{
    /* Compared as an int: a value cast in from outside the enum must not index the table. */
    int index = (int)status;

    if (index < 0 || index >= (int)DEC_P_COUNT || status_names[index] == NULL) {
        return "unknown";
    }
    return status_names[index];
}

bool dec_link_supported(int linktype)
{
    switch (linktype) {
    case DEC_LINK_NULL:
    case DEC_LINK_EN10MB:
    case DEC_LINK_RAW:
    case DEC_LINK_RAW_OPENBSD:
    case DEC_LINK_RAW_LT:
    case DEC_LINK_LOOP:
    case DEC_LINK_LINUX_SLL:
    case DEC_LINK_IPV4:
    case DEC_LINK_IPV6:
    case DEC_LINK_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

const char *dec_link_name(int linktype, char *buf, size_t buflen)
{
    switch (linktype) {
    case DEC_LINK_NULL:
        return "NULL";
    case DEC_LINK_EN10MB:
        return "EN10MB";
    case DEC_LINK_RAW:
    case DEC_LINK_RAW_OPENBSD:
    case DEC_LINK_RAW_LT:
        return "RAW";
    case DEC_LINK_LOOP:
        return "LOOP";
    case DEC_LINK_LINUX_SLL:
        return "LINUX_SLL";
    case DEC_LINK_IPV4:
        return "IPV4";
    case DEC_LINK_IPV6:
        return "IPV6";
    case DEC_LINK_LINUX_SLL2:
        return "LINUX_SLL2";
    default:
        break;
    }
    if (buf == NULL || buflen == 0) {
        return "DLT ?";
    }
    (void)snprintf(buf, buflen, "DLT %d", linktype);
    return buf;
}

const char *dec_addr_str(const struct dec_addr *addr, int family, char *buf, size_t buflen)
{
    int af = family == 4 ? AF_INET : family == 6 ? AF_INET6 : -1;

    if (buf == NULL || buflen == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (addr == NULL || af < 0 || buflen > (size_t)UINT32_MAX) {
        (void)snprintf(buf, buflen, "?");
        return buf;
    }
    if (af == AF_INET && buflen >= 16) {
        /* dotted quad by hand: reports print millions of them, inet_ntop goes through sprintf */
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            unsigned v = addr->b[i];
            if (v >= 100) {
                buf[n++] = (char)('0' + v / 100);
            }
            if (v >= 10) {
                buf[n++] = (char)('0' + v / 10 % 10);
            }
            buf[n++] = (char)('0' + v % 10);
            buf[n++] = i < 3 ? '.' : '\0';
        }
        return buf;
    }
    if (inet_ntop(af, addr->b, buf, (socklen_t)buflen) == NULL) {
        buf[0] = '\0'; /* buf too small: an empty string, never a partial address */
    }
    return buf;
}
