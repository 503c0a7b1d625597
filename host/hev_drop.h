/* hev_drop.h - the kernel's own account of handshake packets, from a BPF program
 * (host/bpf/drops.bpf.c): the SYN, SYN-ACK, RST and ICMP errors it drops, with its drop
 * reason (skb:kfree_skb), the resets it sends (tcp:tcp_send_reset), and the processes that
 * hold a socket (a BPF task_file iterator, like `ss -p`). Part of host/, the only module
 * that knows libbpf; it never judges, never prints (libbpf's own messages are kept from
 * stderr). A handle is used from one thread at a time. */
#ifndef SYNSCOPE_HEV_DROP_H
#define SYNSCOPE_HEV_DROP_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h" /* struct dec_addr, DEC_TCP_* */

/* Error codes (negative returns). Every one comes with a one-line message in errbuf that
 * starts with what is off: "drop reasons off: kernel has no BTF". */
enum hev_drop_error {
    HEV_DROP_ERR_NO_BTF = 1,    /* no /sys/kernel/btf/vmlinux (or pretend_no_btf) */
    HEV_DROP_ERR_NO_TRACEPOINT, /* skb:kfree_skb missing, or without a reason argument */
    HEV_DROP_ERR_PERM,          /* needs root, or CAP_BPF and CAP_PERFMON */
    HEV_DROP_ERR_LOAD,          /* the kernel refused the program (verifier, CO-RE) */
    HEV_DROP_ERR_NOMEM,
    HEV_DROP_ERR_POLL, /* reading the ring buffer or the iterator failed */
};

/* Name of an error code ("no-btf", "perm", ...). */
const char *hev_drop_strerror(int code);

struct hev_drop_options {
    int pretend_no_btf;  /* tests: behave as on a kernel without BTF */
    uint32_t ring_bytes; /* ring buffer size, a power of 2 multiple of the page size; 0: 256 KiB */
    uint32_t only_netns; /* events of the network namespace with this inode only (and those
                            whose namespace the kernel does not tell), filtered in the kernel
                            from the attach on; 0: of every namespace */
};

enum hev_drop_kind {
    HEV_DROP_KFREE = 1,      /* the kernel dropped the packet (skb:kfree_skb) */
    HEV_DROP_RESET_SENT = 2, /* the kernel sent a RST answering it (tcp:tcp_send_reset) */
};

/* One kernel event. Addresses, ports, seq and ack are those of the packet dropped, or for
 * HEV_DROP_RESET_SENT of the packet the reset answers (the client's SYN: src is the
 * client, seq its ISN; the RST itself goes back with ack = seq + 1), except when
 * from_socket is set: a reset a socket sent on its own (an abort), src is the local
 * end, dst the remote one, seq and ack are 0. */
struct hev_drop_event {
    int64_t ts_ns;      /* CLOCK_REALTIME nanoseconds, comparable with cap_packet.ts_ns */
    uint64_t location;  /* kernel address of the code that freed the packet; 0 for resets */
    uint32_t netns_ino; /* inode of the network namespace (stat -L /proc/PID/ns/net); 0: unknown */
    uint32_t reason;    /* the kernel's number: name it with hev_drop_reason_name */
    int32_t ifindex;    /* the packet's device in that namespace; 0: none yet (output path) */
    uint8_t kind;       /* enum hev_drop_kind */
    uint8_t has_reason; /* reason is meaningful (resets: the kernel passes one since 6.10) */
    uint8_t from_socket;
    uint8_t family;    /* 4 or 6 */
    uint8_t proto;     /* 6 (TCP), 1 (ICMP) or 58 (ICMPv6) */
    uint8_t tcp_flags; /* DEC_TCP_*; 0 for ICMP */
    struct dec_addr src, dst;
    uint16_t sport, dport; /* TCP only */
    uint32_t seq, ack;     /* TCP only */
    /* ICMP/ICMPv6 error: type, code, and the TCP packet it quotes (same family) */
    uint8_t icmp_type, icmp_code;
    struct dec_addr quoted_src, quoted_dst;
    uint16_t quoted_sport, quoted_dport;
    uint32_t quoted_seq;
};

struct hev_drop;

/* Opens, loads and attaches the drop programs; call before the privilege drop. The kernel's
 * BTF gives the reason names (enum skb_drop_reason, enum sk_rst_reason). Returns 0 and *out,
 * or a negative hev_drop_error with the one line in errbuf ("drop reasons off: ..."), and
 * nothing left in the kernel. When only the reset events are missing (a kernel without
 * tcp:tcp_send_reset) it succeeds and hev_drop_note says so. */
int hev_drop_open(struct hev_drop **out, const struct hev_drop_options *opt, char *errbuf,
                  size_t errlen);

/* "" or a one-line note of what the open handle lacks ("reset events off: ..."). */
const char *hev_drop_note(const struct hev_drop *h);

/* A descriptor that is readable when events wait (for poll/epoll); owned by h. */
int hev_drop_fd(const struct hev_drop *h);

/* Return non-zero to stop hev_drop_poll (which then returns that value). ev is valid only
 * during the call. */
typedef int (*hev_drop_fn)(const struct hev_drop_event *ev, void *user);

/* Waits up to timeout_ms (0: not at all, -1: until an event) and hands every waiting event
 * to fn, oldest first. Works after the privilege drop. Returns the number of events handed,
 * fn's non-zero value if it stopped, or -HEV_DROP_ERR_POLL with the message in errbuf. */
int hev_drop_poll(struct hev_drop *h, int timeout_ms, hev_drop_fn fn, void *user, char *errbuf,
                  size_t errlen);

/* The kernel's name of ev's reason without its prefix ("NO_SOCKET", "NETFILTER_DROP" for a
 * drop; "NO_SOCKET", "NOT_SPECIFIED" for a reset), or NULL when the kernel has no name for
 * it or the event has none. Valid as long as h. */
const char *hev_drop_reason_name(const struct hev_drop *h, const struct hev_drop_event *ev);

/* Events lost because the ring buffer was full, since the open. */
uint64_t hev_drop_lost(const struct hev_drop *h);

/* Detaches and unloads everything; h may be NULL. The kernel also detaches the programs when
 * the process dies, as they live only as long as its descriptors. */
void hev_drop_close(struct hev_drop *h);

/* ---- socket owners ------------------------------------------------------------------------ */

struct hev_sockowner;

/* Loads the socket-owner iterator; call before the privilege drop (it keeps working after it,
 * without any capability). Returns 0 and *out, or a negative hev_drop_error with the line in
 * errbuf ("socket owners off: ..."). */
int hev_sockowner_open(struct hev_sockowner **out, const struct hev_drop_options *opt, char *errbuf,
                       size_t errlen);

struct hev_owner {
    uint32_t pid;  /* the process (thread group id); the lowest pid when several hold it */
    uint32_t fd;   /* its descriptor number there */
    char comm[16]; /* its command name, NUL-terminated */
};

/* Who holds the socket with inode number inode (inet_diag's idiag_inode, socket:[N]): runs
 * the iterator over every process's files. Returns 1 with *owner filled, 0 when no process
 * holds it, or -HEV_DROP_ERR_POLL with the message in errbuf. */
int hev_sockowner_find(struct hev_sockowner *so, uint64_t inode, struct hev_owner *owner,
                       char *errbuf, size_t errlen);

void hev_sockowner_close(struct hev_sockowner *so);

#endif
