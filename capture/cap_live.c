/* cap_live.c - live capture: a kernel filter for handshake packets, immediate mode, a save
 * file and kernel drop counters (the privilege drop is in cap_priv.c). */
#include "cap_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the verdicts need, for one level of encapsulation (pcap-filter(7)):
 * - IPv4 TCP with SYN, FIN or RST (the handshake, its answers and the ends);
 * - ICMP destination unreachable (3) and time exceeded (11);
 * - IPv6 TCP with SYN/FIN/RST at the fixed offset 40 (no extension headers), ICMPv6
 *   unreachable (1), time exceeded (3) and neighbour solicitation/advertisement (135/136);
 * - IPv6 packets with extension headers (next header not TCP, UDP or ICMPv6): rare, and
 *   libpcap cannot look past them, so they are passed and decode/ sorts them out;
 * - ARP, for neighbours that never answer.
 * Bulk data and pure ACKs do not pass: a download costs a handful of packets. */
#define HANDSHAKE_EXPR                                                                             \
    "((ip and tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0)"                                     \
    " or (icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed))"           \
    " or (ip6 and ip6[6] == 6 and ip6[53] & 0x07 != 0)"                                            \
    " or (ip6 and ip6[6] == 58 and (ip6[40] == 1 or ip6[40] == 3 or ip6[40] == 135"                \
    " or ip6[40] == 136))"                                                                         \
    " or (ip6 and ip6[6] != 6 and ip6[6] != 17 and ip6[6] != 58)"                                  \
    " or arp)"

const char *cap_handshake_filter(void)
{
    return HANDSHAKE_EXPR;
}

/* "no interface 'eth9' (interfaces: lo, eth0, any)" */
static void list_interfaces(const char *name, char *errbuf, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE];
    pcap_if_t *all = NULL;
    size_t used = (size_t)snprintf(errbuf, errlen, "no interface '%s'", name);
    if (pcap_findalldevs(&all, pcap_err) != 0 || all == NULL) {
        return;
    }
    const char *sep = " (interfaces: ";
    for (pcap_if_t *dev = all; dev != NULL && used < errlen; dev = dev->next) {
        used += (size_t)snprintf(errbuf + used, errlen - used, "%s%s", sep, dev->name);
        sep = ", ";
    }
    if (used < errlen) {
        snprintf(errbuf + used, errlen - used, ")");
    }
    pcap_freealldevs(all);
}

static int activate_error(pcap_t *pcap, int rc, const char *name, char *errbuf, size_t errlen)
{
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        list_interfaces(name, errbuf, errlen);
        return -CAP_ERR_NO_DEVICE;
    case PCAP_ERROR_PERM_DENIED:
        snprintf(errbuf, errlen,
                 "capturing on %s is not permitted: run as root, or give the program the "
                 "capture capabilities with 'setcap cap_net_raw,cap_net_admin=eip synscope'",
                 name);
        return -CAP_ERR_PERM;
    case PCAP_ERROR_IFACE_NOT_UP:
        snprintf(errbuf, errlen, "interface %s is down", name);
        return -CAP_ERR_OPEN;
    default:
        snprintf(errbuf, errlen, "cannot capture on %s: %s", name,
                 rc == PCAP_ERROR ? pcap_geterr(pcap) : pcap_statustostr(rc));
        return -CAP_ERR_OPEN;
    }
}

/* Compiles and sets synscope's filter and-ed with the user's. */
static int set_live_filter(pcap_t *pcap, const char *user, char *errbuf, size_t errlen)
{
    struct bpf_program prog;
    int rc = cap_compile_filter(pcap, &prog, HANDSHAKE_EXPR, user, errbuf, errlen);
    if (rc != 0) {
        return rc;
    }
    rc = pcap_setfilter(pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(errbuf, errlen, "setting the filter: %s", pcap_geterr(pcap));
        return -CAP_ERR_FILTER;
    }
    return 0;
}

int cap_open_live(struct cap_source **out, const struct cap_live_config *cfg,
                  int (*supported)(int linktype), char *errbuf, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    *out = NULL;
    pcap_t *pcap = pcap_create(cfg->interface, pcap_err);
    if (pcap == NULL) {
        snprintf(errbuf, errlen, "cannot capture on %s: %s", cfg->interface, pcap_err);
        return -CAP_ERR_OPEN;
    }
    /* Immediate mode: each packet is handed over at once, so verdicts are not held back by
     * the kernel's buffering (TPACKET_V3 blocks otherwise wait for their timeout). */
    (void)pcap_set_snaplen(pcap, cfg->snaplen);
    (void)pcap_set_promisc(pcap, 0);
    (void)pcap_set_immediate_mode(pcap, 1);
    (void)pcap_set_buffer_size(pcap, cfg->buffer_bytes);
    (void)pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(pcap);
    if (rc < 0) {
        rc = activate_error(pcap, rc, cfg->interface, errbuf, errlen);
        pcap_close(pcap);
        return rc;
    }
    int linktype = pcap_datalink(pcap);
    if (supported != NULL && !supported(linktype)) {
        const char *dlt = pcap_datalink_val_to_name(linktype);
        snprintf(errbuf, errlen, "%s: unsupported link type %d (%s)", cfg->interface, linktype,
                 dlt != NULL ? dlt : "unknown");
        pcap_close(pcap);
        return -CAP_ERR_LINKTYPE;
    }
    rc = set_live_filter(pcap, cfg->filter, errbuf, errlen);
    if (rc != 0) {
        pcap_close(pcap);
        return rc;
    }
    if (pcap_setnonblock(pcap, 1, pcap_err) != 0) {
        snprintf(errbuf, errlen, "cannot capture on %s: %s", cfg->interface, pcap_err);
        pcap_close(pcap);
        return -CAP_ERR_OPEN;
    }
    pcap_dumper_t *dumper = NULL;
    if (cfg->save_path != NULL) {
        dumper = pcap_dump_open(pcap, cfg->save_path);
        if (dumper == NULL) {
            snprintf(errbuf, errlen, "cannot write '%s': %s", cfg->save_path, pcap_geterr(pcap));
            pcap_close(pcap);
            return -CAP_ERR_SAVE;
        }
    }
    struct cap_source *src = cap_source_new(pcap, cfg->interface, 0);
    if (src == NULL) {
        if (dumper != NULL) {
            pcap_dump_close(dumper);
        }
        snprintf(errbuf, errlen, "out of memory");
        return -CAP_ERR_NOMEM;
    }
    src->dumper = dumper;
    *out = src;
    return 0;
}

struct live_batch {
    struct cap_source *src;
    cap_packet_fn fn;
    void *user;
    int stop;
};

static void on_live_packet(u_char *arg, const struct pcap_pkthdr *hdr, const u_char *data)
{
    struct live_batch *batch = (struct live_batch *)(void *)arg;
    if (batch->stop != 0) {
        return;
    }
    if (batch->src->dumper != NULL) {
        pcap_dump((u_char *)batch->src->dumper, hdr, data);
    }
    batch->src->count++;
    struct cap_packet pkt;
    cap_packet_from(&pkt, hdr, data, batch->src->linktype);
    batch->stop = batch->fn(&pkt, batch->user);
    if (batch->stop != 0) {
        pcap_breakloop(batch->src->pcap);
    }
}

int cap_loop_live(struct cap_source *src, cap_packet_fn fn, cap_tick_fn tick, void *user,
                  int poll_ms, char *errbuf, size_t errlen)
{
    struct live_batch batch = {.src = src, .fn = fn, .user = user, .stop = 0};
    int fd = pcap_get_selectable_fd(src->pcap);
    for (;;) {
        if (fd >= 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            /* EINTR (a signal) is fine: the tick below decides whether to stop */
            (void)poll(&pfd, 1, poll_ms);
        }
        int rc = pcap_dispatch(src->pcap, -1, on_live_packet, (u_char *)&batch);
        if (batch.stop != 0) {
            return batch.stop;
        }
        if (rc == PCAP_ERROR) {
            snprintf(errbuf, errlen, "capture on %s failed: %s", src->name, pcap_geterr(src->pcap));
            return -CAP_ERR_READ;
        }
        /* pcap_dump() cannot report a failed write: the stream's error flag keeps it */
        if (src->dumper != NULL &&
            (pcap_dump_flush(src->dumper) != 0 || ferror(pcap_dump_file(src->dumper)))) {
            snprintf(errbuf, errlen, "writing the save file failed: %s", strerror(errno));
            return -CAP_ERR_SAVE;
        }
        int stop = tick(user);
        if (stop != 0) {
            return stop;
        }
    }
}

int cap_get_stats(struct cap_source *src, struct cap_stats *stats, char *errbuf, size_t errlen)
{
    struct pcap_stat ps;
    memset(stats, 0, sizeof(*stats));
    if (pcap_stats(src->pcap, &ps) != 0) {
        snprintf(errbuf, errlen, "%s: %s", src->name, pcap_geterr(src->pcap));
        return -CAP_ERR_READ;
    }
    stats->received = ps.ps_recv;
    stats->dropped = ps.ps_drop;
    stats->if_dropped = ps.ps_ifdrop;
    return 0;
}
