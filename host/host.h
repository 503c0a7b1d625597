/* host.h - host/'s one public header: host evidence (issue 19) for `synscope live` run on one
 * of an attempt's two hosts. What this host's kernel knows about the handshakes it sees: the
 * SYNs it dropped and why (BPF on skb:kfree_skb, tcp:tcp_send_reset), the nftables rule that
 * dropped or rejected them (synscope's own trace table), the listeners on a port with their
 * owners (sock_diag, a BPF task-file iterator), the listen-queue counters, its own addresses.
 * Facts only: report/ judges what they mean. The hev_*.h headers behind it are host/'s own.
 *
 * Life cycle: host_open before the privilege drop (every piece it can open, a note for each it
 * cannot), host_poll whenever host_fd is readable and before each batch of packets,
 * host_listeners / host_accepts / host_counters_at when an attempt is reported, host_close at
 * the end; host_abandon from a signal handler that ends the process. One thread at a time. */
#ifndef SYNSCOPE_HOST_H
#define SYNSCOPE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h" /* struct dec_addr */

#define HOST_ERRBUF_SIZE 256
#define HOST_NOTES_SIZE 1024 /* room for every one-line note host_open may write */

/* Error codes (negative returns, with a one-line message in errbuf). */
enum host_error {
    HOST_ERR_NOMEM = 1,
    HOST_ERR_POLL, /* reading the kernel's events failed */
};

struct host_config {
    bool pretend_no_btf; /* tests: behave as on a kernel without BTF (no drop reasons, no
                            socket owners from BPF) */
    bool pretend_no_nft; /* tests: behave as on a kernel without nf_tables */
};

struct host;

/* Opens every piece it can in the calling thread's network namespace; call as root, before
 * the privilege drop (everything keeps working after it, without any capability). A piece the
 * kernel or the privileges do not allow is left off, and notes receives one line for it
 * ("host evidence: drop reasons off: kernel has no BTF\n"); notes is "" when all is on.
 * Returns 0 and *out, or -HOST_ERR_NOMEM with errbuf. */
int host_open(struct host **out, const struct host_config *cfg, char *notes, size_t notes_len,
              char *errbuf, size_t errlen);

/* A descriptor readable (poll POLLIN) when kernel events wait; -1 when no piece has events. */
int host_fd(const struct host *h);

enum host_event_kind {
    HOST_EV_DROP = 1,   /* the kernel freed the packet (skb:kfree_skb) with a reason */
    HOST_EV_RESET_SENT, /* the kernel answered the packet with a RST (tcp:tcp_send_reset) */
    HOST_EV_NFT_DROP,   /* an nftables rule or policy dropped it */
    HOST_EV_NFT_REJECT, /* an nftables rule rejected it (answered with a RST or ICMP error) */
};

/* One kernel event about a TCP packet of this network namespace: small and fixed-size. The
 * tuple and seq are the packet's (for a SYN: src is the client, seq its ISN; for
 * HOST_EV_RESET_SENT the packet the reset answers). */
struct host_event {
    int64_t ts_ns;     /* CLOCK_REALTIME */
    uint8_t kind;      /* enum host_event_kind */
    uint8_t family;    /* 4 or 6 */
    uint8_t tcp_flags; /* DEC_TCP_* of the packet */
    bool output_path;  /* sent by this host and dropped before it had a device (DROP), or
                          traced in the output hook (NFT_*) */
    uint16_t reason;   /* DROP, RESET_SENT: the kernel's number (host_reason_name) */
    bool has_reason;
    uint32_t rule; /* NFT_*: the rule's number for host_rule_text, 0 when unknown */
    struct dec_addr src, dst;
    uint16_t sport, dport;
    uint32_t seq;
};

typedef void (*host_event_fn)(const struct host_event *ev, void *user);

/* Hands every waiting event to fn without blocking. Returns the number handed, or
 * -HOST_ERR_POLL with errbuf (the piece that failed is turned off). */
int host_poll(struct host *h, host_event_fn fn, void *user, char *errbuf, size_t errlen);

/* The kernel's name of a reason of a HOST_EV_DROP or HOST_EV_RESET_SENT event ("NO_SOCKET",
 * "NETFILTER_DROP"), or NULL. Valid as long as h. */
const char *host_reason_name(const struct host *h, uint8_t kind, uint16_t reason);

/* The text of rule number rule ("nft inet fw input handle 3: tcp dport 8080 drop"), or NULL.
 * Valid as long as h. */
const char *host_rule_text(const struct host *h, uint32_t rule);

/* Whether addr (family 4 or 6) is one of this namespace's addresses (asked again at most once
 * a second, now_ns being CLOCK_REALTIME). */
bool host_is_local(struct host *h, uint8_t family, const struct dec_addr *addr, int64_t now_ns);

/* One listening socket, as `ss -ltnp` shows it. */
struct host_listener {
    uint8_t family; /* 4 or 6 */
    bool v6only;
    uint16_t port;
    struct dec_addr addr; /* all zero: the wildcard */
    char ifname[16];      /* SO_BINDTODEVICE, "" when none */
    uint32_t queue;       /* accept queue now (Recv-Q) */
    uint32_t backlog;     /* its limit (Send-Q) */
    int32_t pid;          /* owner; -1 unknown */
    char comm[16];
};

#define HOST_MAX_LISTENERS 16

/* The listeners on port (asked of the kernel at most once a second per port). Writes up to max
 * to out and returns how many there are in all (may exceed max), or -1 when listeners are off
 * or the kernel could not be asked. */
int host_listeners(struct host *h, uint16_t port, int64_t now_ns, struct host_listener *out,
                   size_t max);

enum host_accept {
    HOST_ACCEPT_LISTENING = 0, /* a listener takes a SYN to that address */
    HOST_ACCEPT_NO_LISTENER,   /* nothing listens on the port, on any address */
    HOST_ACCEPT_BOUND_ELSEWHERE,
};

/* Whether one of list takes a SYN to addr:port (family 4 or 6), as the kernel's lookup does;
 * *why ("loopback", "v6only", "address", "device", "family") and *nearest (index in list, -1)
 * name the nearest listener when none does. */
enum host_accept host_accepts(struct host *h, const struct host_listener *list, size_t count,
                              uint8_t family, const struct dec_addr *addr, uint16_t port,
                              const char **why, int *nearest);

/* The listen-queue counters (TcpExt) of this namespace that moved. */
enum host_counter {
    HOST_CTR_LISTEN_OVERFLOWS = 0,
    HOST_CTR_LISTEN_DROPS,
    HOST_CTR_REQQ_FULL_DROP,
    HOST_CTR_REQQ_FULL_DO_COOKIES,
    HOST_CTR_SYNCOOKIES_SENT,
    HOST_CTR_SYNCOOKIES_FAILED,
    HOST_CTR_COUNT
};

struct host_counters {
    bool known;
    uint64_t value[HOST_CTR_COUNT];
};

/* "ListenOverflows", ... */
const char *host_counter_name(enum host_counter c);

/* Reads the counters when a second has passed since the last reading (call at each tick). */
void host_counters_tick(struct host *h, int64_t now_ns);

/* Differences over the second that holds ts_ns (or, when it is not closed yet, since the last
 * reading, read now). */
void host_counters_at(struct host *h, int64_t ts_ns, struct host_counters *out);

/* Differences over the whole capture so far (read now). */
void host_counters_total(struct host *h, int64_t now_ns, struct host_counters *out);

/* Detaches and removes everything (the trace table included); h may be NULL. */
void host_close(struct host *h);

/* For a signal handler about to end the process (async-signal-safe): makes the kernel remove
 * the trace table. Only host_close may follow. */
void host_abandon(struct host *h);

#endif
