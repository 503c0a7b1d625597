/* hev_nft_legacy.c - whether iptables-legacy tables are loaded: they filter packets beside
 * nftables, and nftables tracing never sees what they drop. */
#include <netinet/in.h> /* before the kernel's headers, which then skip linux/in.h */

#include "hev_nft_int.h"

#include <errno.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LEGACY_TABLES_MAX 8

/* Entries of a loaded legacy table beyond its built-in chains (one policy entry per hook,
 * one final error entry): rules, or user chains. Returns -1 when the kernel does not say.
 * Only for a name the kernel listed: asking for another would load that table. */
static long extra_entries(int family, const char *name)
{
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) {
        return -1;
    }
    struct ipt_getinfo info; /* struct ip6t_getinfo has the same layout */
    _Static_assert(sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo), "getinfo layout");
    memset(&info, 0, sizeof(info));
    size_t len_name = strlen(name);
    if (len_name >= sizeof(info.name)) {
        close(fd);
        return -1;
    }
    memcpy(info.name, name, len_name);
    socklen_t len = sizeof(info);
    int rc = family == AF_INET ? getsockopt(fd, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len)
                               : getsockopt(fd, IPPROTO_IPV6, IP6T_SO_GET_INFO, &info, &len);
    close(fd);
    if (rc != 0 || len != sizeof(info)) {
        return -1;
    }
    unsigned int builtin = (unsigned int)__builtin_popcount(info.valid_hooks) + 1;
    return info.num_entries > builtin ? (long)(info.num_entries - builtin) : 0;
}

/* Appends "ip: filter (with rules), nat" for one family's loaded tables to msg at *used.
 * Returns the number of tables, or -1 when the list cannot be read. */
static int list_family(int family, char *msg, size_t msglen, size_t *used)
{
    const char *file = family == AF_INET ? "ip_tables_names" : "ip6_tables_names";
    char path[64];
    snprintf(path, sizeof(path), "/proc/thread-self/net/%s", file);
    FILE *f = fopen(path, "re");
    if (f == NULL && errno == ENOENT) {
        snprintf(path, sizeof(path), "/proc/net/%s", file); /* before Linux 3.17 */
        f = fopen(path, "re");
    }
    if (f == NULL) {
        return errno == ENOENT ? 0 : -1; /* ENOENT: no legacy iptables in this kernel */
    }
    char name[XT_TABLE_MAXNAMELEN + 2];
    int count = 0;
    while (count < LEGACY_TABLES_MAX && fgets(name, sizeof(name), f) != NULL) {
        name[strcspn(name, "\n")] = '\0';
        if (name[0] == '\0') {
            continue;
        }
        long extra = extra_entries(family, name);
        const char *sep = count == 0 ? (*used > 0 ? "; " : "") : ", ";
        const char *fam = count == 0 ? (family == AF_INET ? "ip: " : "ip6: ") : "";
        if (*used < msglen) {
            *used += (size_t)snprintf(msg + *used, msglen - *used, "%s%s%s%s", sep, fam, name,
                                      extra > 0    ? " with rules"
                                      : extra == 0 ? " empty"
                                                   : "");
        }
        count++;
    }
    fclose(f);
    return count;
}

int hev_nft_check_legacy(char *msg, size_t msglen)
{
    char tables[192] = "";
    size_t used = 0;
    int v4 = list_family(AF_INET, tables, sizeof(tables), &used);
    int v6 = list_family(AF_INET6, tables, sizeof(tables), &used);
    if (v4 < 0 || v6 < 0) {
        snprintf(msg, msglen, "iptables-legacy: cannot read the list of its tables: %s",
                 strerror(errno));
        return -HEV_NFT_ERR_SOCKET;
    }
    if (v4 + v6 == 0) {
        if (msglen > 0) {
            msg[0] = '\0';
        }
        return 0;
    }
    snprintf(msg, msglen,
             "iptables-legacy tables are loaded (%s): nftables tracing does not see what they "
             "drop, so no rule is named for it",
             tables);
    return 1;
}
