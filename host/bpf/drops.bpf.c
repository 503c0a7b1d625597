/* drops.bpf.c - kernel side of host evidence (issue 19): the handshake packets the kernel
 * drops (skb:kfree_skb, with the drop reason), the resets it sends (tcp:tcp_send_reset), and
 * an iterator naming the processes that hold socket files (like `ss -p`).
 *
 * The packet programs run on every freed skb of the machine, so they keep only what a
 * connection attempt is made of: TCP segments with SYN or RST set (SYN, SYN-ACK, RST), and
 * ICMP/ICMPv6 errors quoting a TCP header. They read the headers from the packet itself
 * (skb->head + network_header): a SYN that finds no socket has its addresses only there.
 * The transport header offset is computed from the IP header rather than read from the skb,
 * since an skb dropped early in ip_rcv/ipv6_rcv has transport_header still at the network
 * header. Raw tracepoints (raw_tp/) rather than classic ones: no tracefs needed to attach.
 * Every field of a kernel struct is read through CO-RE relocations (kernel_types.h).
 *
 * Licence: bpf_probe_read_kernel is for GPL-compatible programs only. */
#include "kernel_types.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "drops.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* user space sets the size (hev_drop_options.ring_bytes) before loading */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;        /* events the full ring buffer refused */
__u64 owner_inode = 0; /* socket_owners emits this inode only; 0: every socket file */
__u32 only_netns = 0;  /* events of this network namespace only (and those whose namespace
                          is unknown); 0: of every namespace. A flood in another namespace of
                          the machine must not fill the ring buffer with what nobody reads */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_ICMPV6 58
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define S_IFMT 0170000
#define S_IFSOCK 0140000

struct ip4_head {
    __u8 version_ihl;
    __u8 tos;
    __be16 tot_len;
    __be16 id;
    __be16 frag_off;
    __u8 ttl;
    __u8 protocol;
    __be16 check;
    __u8 saddr[4];
    __u8 daddr[4];
};

struct ip6_head {
    __be32 version_class_flow;
    __be16 payload_len;
    __u8 nexthdr;
    __u8 hop_limit;
    __u8 saddr[16];
    __u8 daddr[16];
};

struct tcp_head {
    __be16 source;
    __be16 dest;
    __be32 seq;
    __be32 ack_seq;
    __u8 data_offset;
    __u8 flags;
    __be16 window;
};

/* the first 8 bytes of TCP, all an ICMP error has to quote (RFC 792) */
struct tcp_quote {
    __be16 source;
    __be16 dest;
    __be32 seq;
};

/* Reads an IPv4 header at p: 0 and the transport header's address and protocol in *l4 and
 * *proto, or -1 (not IPv4, a later fragment, unreadable). */
static __always_inline int read_ip4(const unsigned char *p, __u8 *saddr, __u8 *daddr,
                                    const unsigned char **l4, __u8 *proto)
{
    struct ip4_head ip;

    if (bpf_probe_read_kernel(&ip, sizeof(ip), p))
        return -1;
    if ((ip.version_ihl >> 4) != 4 || (ip.version_ihl & 0x0f) < 5)
        return -1;
    if (bpf_ntohs(ip.frag_off) & 0x1fff) /* only the first fragment holds the TCP header */
        return -1;
    __builtin_memcpy(saddr, ip.saddr, 4);
    __builtin_memcpy(daddr, ip.daddr, 4);
    *l4 = p + (ip.version_ihl & 0x0f) * 4;
    *proto = ip.protocol;
    return 0;
}

/* Reads an IPv6 header at p and skips up to four extension headers (hop-by-hop, routing,
 * destination options, fragment; RFC 8200 4): as read_ip4. */
static __always_inline int read_ip6(const unsigned char *p, __u8 *saddr, __u8 *daddr,
                                    const unsigned char **l4, __u8 *proto)
{
    struct ip6_head ip;
    const unsigned char *next;
    __u8 nexthdr;

    if (bpf_probe_read_kernel(&ip, sizeof(ip), p))
        return -1;
    if ((bpf_ntohl(ip.version_class_flow) >> 28) != 6)
        return -1;
    __builtin_memcpy(saddr, ip.saddr, 16);
    __builtin_memcpy(daddr, ip.daddr, 16);
    next = p + sizeof(ip);
    nexthdr = ip.nexthdr;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        __u8 ext[4];

        if (nexthdr != 0 && nexthdr != 43 && nexthdr != 60 && nexthdr != 44)
            break;
        if (bpf_probe_read_kernel(ext, sizeof(ext), next))
            return -1;
        if (nexthdr == 44) { /* fragment: 8 bytes, offset in bits 3..15 of bytes 2-3 */
            if (((ext[2] << 8) | ext[3]) & 0xfff8)
                return -1;
            next += 8;
        } else {
            next += (ext[1] + 1) * 8;
        }
        nexthdr = ext[0];
    }
    *l4 = next;
    *proto = nexthdr;
    return 0;
}

/* Network namespace and device of an skb: the device's namespace, else the socket's (an skb
 * on the output path has no device before ip_output). */
static __always_inline void read_where(struct sk_buff *skb, struct drops_raw *e)
{
    struct net_device *dev = BPF_CORE_READ(skb, dev);
    struct net *net = 0;

    if (dev) {
        e->ifindex = BPF_CORE_READ(dev, ifindex);
        net = BPF_CORE_READ(dev, nd_net.net);
    }
    if (!net) {
        struct sock *sk = BPF_CORE_READ(skb, sk);

        if (sk)
            net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
    }
    if (!e->ifindex)
        e->ifindex = BPF_CORE_READ(skb, skb_iif);
    if (net)
        e->netns_ino = BPF_CORE_READ(net, ns.inum);
}

/* ICMP/ICMPv6 error at l4: keeps destination unreachable, packet too big (v6), time exceeded
 * and parameter problem whose quoted packet is TCP; fills the quote. 0 or -1. */
static __always_inline int parse_icmp(const unsigned char *l4, struct drops_raw *e)
{
    __u8 icmp[2];
    const unsigned char *inner_l4;
    struct tcp_quote tcp;
    __u8 proto;

    if (bpf_probe_read_kernel(icmp, sizeof(icmp), l4))
        return -1;
    if (e->family == 4) {
        if (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12) /* RFC 792 */
            return -1;
        if (read_ip4(l4 + 8, e->inner_saddr, e->inner_daddr, &inner_l4, &proto))
            return -1;
    } else {
        if (icmp[0] < 1 || icmp[0] > 4) /* RFC 4443 3.1-3.4 */
            return -1;
        if (read_ip6(l4 + 8, e->inner_saddr, e->inner_daddr, &inner_l4, &proto))
            return -1;
    }
    if (proto != PROTO_TCP)
        return -1;
    if (bpf_probe_read_kernel(&tcp, sizeof(tcp), inner_l4))
        return -1;
    e->icmp_type = icmp[0];
    e->icmp_code = icmp[1];
    e->inner_sport = tcp.source;
    e->inner_dport = tcp.dest;
    e->inner_seq = tcp.seq;
    return 0;
}

/* Reads the headers of skb into e. any_tcp: keep every TCP segment, else only those with
 * SYN or RST. 0 when e holds a packet to report, -1 when it is not one. */
static __always_inline int parse_skb(struct sk_buff *skb, struct drops_raw *e, int any_tcp)
{
    const unsigned char *head = BPF_CORE_READ(skb, head);
    __u16 network = BPF_CORE_READ(skb, network_header);
    __u16 protocol = bpf_ntohs(BPF_CORE_READ(skb, protocol));
    const unsigned char *l4;
    __u8 proto;

    if (!head || network == (__u16)~0U)
        return -1;
    if (protocol == ETH_P_IP) {
        e->family = 4;
        if (read_ip4(head + network, e->saddr, e->daddr, &l4, &proto))
            return -1;
    } else if (protocol == ETH_P_IPV6) {
        e->family = 6;
        if (read_ip6(head + network, e->saddr, e->daddr, &l4, &proto))
            return -1;
    } else {
        return -1;
    }
    e->proto = proto;
    if (proto == PROTO_TCP) {
        struct tcp_head tcp;

        if (bpf_probe_read_kernel(&tcp, sizeof(tcp), l4))
            return -1;
        if (!any_tcp && !(tcp.flags & (TCP_FLAG_SYN | TCP_FLAG_RST)))
            return -1;
        e->tcp_flags = tcp.flags;
        e->sport = tcp.source;
        e->dport = tcp.dest;
        e->seq = tcp.seq;
        e->ack = tcp.ack_seq;
    } else if ((proto == PROTO_ICMP && e->family == 4) ||
               (proto == PROTO_ICMPV6 && e->family == 6)) {
        if (parse_icmp(l4, e))
            return -1;
    } else {
        return -1;
    }
    read_where(skb, e);
    return 0;
}

static __always_inline void emit(struct drops_raw *e)
{
    if (only_netns && e->netns_ino && e->netns_ino != only_netns)
        return;
    e->boot_ns = bpf_ktime_get_boot_ns();
    if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
        __sync_fetch_and_add(&lost, 1);
}

/* skb:kfree_skb(skb, location, reason[, rx_sk]); the reason argument exists since 5.17 and
 * user space checks it in the kernel's BTF before loading */
SEC("raw_tp/kfree_skb")
int on_kfree_skb(struct bpf_raw_tracepoint_args *ctx)
{
    struct drops_raw e;

    __builtin_memset(&e, 0, sizeof(e));
    if (parse_skb((struct sk_buff *)ctx->args[0], &e, 0))
        return 0;
    e.kind = DROPS_KIND_DROP;
    e.location = ctx->args[1];
    e.reason = (__u32)ctx->args[2];
    e.has_reason = 1;
    emit(&e);
    return 0;
}

/* A reset with no packet to answer (an abort, a close with unread data or SO_LINGER 0): the
 * socket's own tuple, local to remote. */
static __always_inline int fill_from_sock(const struct sock *sk, struct drops_raw *e)
{
    unsigned short family = BPF_CORE_READ(sk, __sk_common.skc_family);
    struct net *net;

    if (family == AF_INET) {
        __be32 saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __be32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);

        e->family = 4;
        __builtin_memcpy(e->saddr, &saddr, 4);
        __builtin_memcpy(e->daddr, &daddr, 4);
    } else if (family == AF_INET6) {
        e->family = 6;
        BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    } else {
        return -1;
    }
    e->proto = PROTO_TCP;
    e->sport = BPF_CORE_READ((const struct inet_sock *)sk, inet_sport);
    e->dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
    e->origin = DROPS_ORIGIN_SOCKET;
    net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
    if (net)
        e->netns_ino = BPF_CORE_READ(net, ns.inum);
    return 0;
}

/* tcp:tcp_send_reset(sk, skb[, reason]): skb is the packet being answered (the SYN to a
 * closed port), NULL for a reset a socket sends on its own; sk is NULL when no socket
 * matched (since 6.10). */
static __always_inline int send_reset(struct bpf_raw_tracepoint_args *ctx, struct drops_raw *e)
{
    struct sk_buff *skb = (struct sk_buff *)ctx->args[1];
    const struct sock *sk = (const struct sock *)ctx->args[0];

    __builtin_memset(e, 0, sizeof(*e));
    e->kind = DROPS_KIND_RESET;
    if (skb)
        return parse_skb(skb, e, 1);
    if (sk)
        return fill_from_sock(sk, e);
    return -1;
}

SEC("raw_tp/tcp_send_reset")
int on_send_reset(struct bpf_raw_tracepoint_args *ctx)
{
    struct drops_raw e;

    if (send_reset(ctx, &e))
        return 0;
    e.reason = (__u32)ctx->args[2];
    e.has_reason = 1;
    emit(&e);
    return 0;
}

/* the same, for kernels whose tcp_send_reset has no reason argument (before 6.10) */
SEC("raw_tp/tcp_send_reset")
int on_send_reset_noreason(struct bpf_raw_tracepoint_args *ctx)
{
    struct drops_raw e;

    if (send_reset(ctx, &e))
        return 0;
    emit(&e);
    return 0;
}

/* One record per socket file of every process: the owner of a socket inode, read by
 * hev_sockowner_* with bpf_iter_create(). Threads sharing their process's file table are
 * skipped by the kernel's task_file iterator. */
SEC("iter/task_file")
int socket_owners(struct bpf_iter__task_file *ctx)
{
    struct seq_file *seq = ctx->meta->seq;
    struct task_struct *task = ctx->task;
    struct file *file = ctx->file;
    struct drops_owner rec;
    struct inode *inode;

    if (!task || !file)
        return 0;
    inode = BPF_CORE_READ(file, f_inode);
    if (!inode || (BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
        return 0;
    __builtin_memset(&rec, 0, sizeof(rec));
    rec.inode = BPF_CORE_READ(inode, i_ino);
    if (owner_inode && rec.inode != owner_inode)
        return 0;
    rec.pid = BPF_CORE_READ(task, tgid);
    rec.fd = ctx->fd;
    BPF_CORE_READ_STR_INTO(&rec.comm, task, comm);
    bpf_seq_write(seq, &rec, sizeof(rec));
    return 0;
}
