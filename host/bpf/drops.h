/* drops.h - the records the BPF programs of drops.bpf.c hand to user space: one layout shared
 * by the BPF side and host/hev_drop.c (include <linux/types.h> first). Fixed size, no
 * pointers; multi-byte packet fields stay in network byte order, user space converts them. */
#ifndef SYNSCOPE_HOST_BPF_DROPS_H
#define SYNSCOPE_HOST_BPF_DROPS_H

#define DROPS_KIND_DROP 1  /* skb:kfree_skb */
#define DROPS_KIND_RESET 2 /* tcp:tcp_send_reset */

/* drops_raw.origin */
#define DROPS_ORIGIN_PACKET 0 /* tuple, seq and ack read from the packet's own headers */
#define DROPS_ORIGIN_SOCKET 1 /* a reset with no packet to answer: tuple of the socket */

/* One event in the ring buffer. */
struct drops_raw {
    __u64 boot_ns;   /* bpf_ktime_get_boot_ns() at the tracepoint */
    __u64 location;  /* kernel address of the caller of kfree_skb (0 for resets) */
    __u32 netns_ino; /* inode of the packet's network namespace, 0 when unknown */
    __u32 reason;    /* enum skb_drop_reason (drop) or enum sk_rst_reason (reset) */
    __s32 ifindex;   /* the packet's device (or the one it came in on), 0 when unknown */
    __u8 kind;       /* DROPS_KIND_* */
    __u8 family;     /* 4 or 6 */
    __u8 proto;      /* IPPROTO_TCP, IPPROTO_ICMP or IPPROTO_ICMPV6 */
    __u8 tcp_flags;  /* TCP flags byte (13) of the packet, 0 for ICMP */
    __u8 saddr[16];  /* IPv4 in the first 4 bytes */
    __u8 daddr[16];
    __be16 sport, dport;
    __be32 seq, ack;
    __u8 icmp_type, icmp_code;
    __u8 has_reason; /* tcp_send_reset of this kernel carries a reason */
    __u8 origin;     /* DROPS_ORIGIN_* */
    /* ICMP/ICMPv6 error: the quoted IP + TCP header (same family as the outer packet) */
    __u8 inner_saddr[16];
    __u8 inner_daddr[16];
    __be16 inner_sport, inner_dport;
    __be32 inner_seq;
};

/* One socket file found by the socket-owner iterator. */
struct drops_owner {
    __u64 inode;   /* socket inode (the number in socket:[N], ss -e's ino) */
    __u32 pid;     /* thread group id of a process holding it */
    __u32 fd;      /* its descriptor number in that process */
    char comm[16]; /* the task's command name */
};

#endif
