/* kernel_types.h - the few kernel types the BPF programs of host/bpf/ read, written by hand.
 *
 * Each struct lists only the fields used, under their kernel names, and carries
 * preserve_access_index: clang records every field access as a CO-RE relocation, and libbpf
 * rewrites the offsets at load time from the running kernel's BTF (/sys/kernel/btf/vmlinux).
 * A field that sits in an anonymous union or struct in the kernel (sk_buff's headers group,
 * sock_common's address pair) is declared flat here: libbpf finds it through the anonymous
 * members. Why not a vmlinux.h generated at build time: see host/CMakeLists.txt. */
#ifndef SYNSCOPE_HOST_BPF_KERNEL_TYPES_H
#define SYNSCOPE_HOST_BPF_KERNEL_TYPES_H

#include <linux/bpf.h>
#include <linux/types.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
    unsigned int inum; /* the inode number of /proc/PID/ns/net */
};

struct net {
    struct ns_common ns;
};

typedef struct {
    struct net *net;
} possible_net_t;

struct net_device {
    int ifindex;
    possible_net_t nd_net;
};

struct in6_addr {
    union {
        __u8 u6_addr8[16];
    } in6_u;
};

struct sock_common {
    __be32 skc_daddr;     /* IPv4 remote address */
    __be32 skc_rcv_saddr; /* IPv4 local address */
    __be16 skc_dport;     /* remote port, network order */
    __u16 skc_num;        /* local port, host order */
    unsigned short skc_family;
    possible_net_t skc_net;
    struct in6_addr skc_v6_daddr;
    struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
    struct sock_common __sk_common;
};

/* the source port of what a socket sends (skc_num is cleared when a closing socket gives its
 * port back, before it sends its reset) */
struct inet_sock {
    __be16 inet_sport;
};

struct sk_buff {
    struct net_device *dev;
    struct sock *sk;
    int skb_iif;
    __be16 protocol;
    __u16 transport_header;
    __u16 network_header;
    unsigned char *head;
};

/* the socket-owner iterator (iter/task_file) */
struct task_struct {
    int tgid;
    char comm[16];
};

struct inode {
    unsigned short i_mode;
    unsigned long i_ino;
};

struct file {
    struct inode *f_inode;
};

struct seq_file;

struct bpf_iter_meta {
    struct seq_file *seq;
};

struct bpf_iter__task_file {
    struct bpf_iter_meta *meta;
    struct task_struct *task;
    __u32 fd;
    struct file *file;
};

#pragma clang attribute pop

#endif
