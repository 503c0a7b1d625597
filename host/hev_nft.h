/* hev_nft.h - the nftables rule that dropped or rejected a handshake packet (issue 19, item 3):
 * synscope's own trace table, the kernel's trace messages followed to the packet's final
 * verdict, and the text of the deciding rule from a snapshot of the ruleset taken at start-up.
 *
 * Life cycle, in the network namespace to watch, as root (CAP_NET_ADMIN):
 *   hev_nft_check_legacy()   one line when iptables-legacy tables are loaded (their drops are
 *                            invisible to nftables tracing)
 *   hev_nft_open()           removes tables left by killed runs, adds table inet
 *                            synscope_trace_<pid> whose chains (prerouting and output, priority
 *                            -350) set `meta nftrace` on TCP SYN/RST and ICMP/ICMPv6 errors,
 *                            subscribes to the trace group, snapshots `nft -a list ruleset`
 *   (privilege drop)         the sockets stay open and keep delivering
 *   hev_nft_read()           whenever hev_nft_fd() is readable: one hev_nft_event per packet
 *                            that a rule or a chain policy dropped or rejected
 *   hev_nft_close()          removes the table; hev_nft_abandon() from a signal handler
 *
 * The table is created with the kernel's owner flag (NFT_TABLE_F_OWNER, Linux 5.12): the kernel
 * removes it when the socket that created it closes, whatever ends the process (SIGKILL
 * included), and without any capability. Kernels without the flag get an ordinary table, which
 * hev_nft_close removes while the process still has CAP_NET_ADMIN, and which the next start
 * removes otherwise. By hand: `nft delete table inet synscope_trace_<pid>`. */
#ifndef SYNSCOPE_HEV_NFT_H
#define SYNSCOPE_HEV_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEV_NFT_ERRBUF_SIZE 256
#define HEV_NFT_TABLE_PREFIX "synscope_trace_"
#define HEV_NFT_NAME_SIZE 64 /* table and chain names; longer ones are cut */

/* Error codes (negative returns, each with a one-line message in the caller's errbuf). */
enum hev_nft_error {
    HEV_NFT_ERR_ABSENT = 1, /* this kernel has no nf_tables (or no tracing) */
    HEV_NFT_ERR_PERM,       /* not allowed: nf_tables needs CAP_NET_ADMIN */
    HEV_NFT_ERR_SOCKET,     /* a netlink socket could not be opened, bound or read */
    HEV_NFT_ERR_KERNEL,     /* the kernel refused a request (errno named in errbuf) */
    HEV_NFT_ERR_EXISTS,     /* this process already has a trace table in this namespace */
    HEV_NFT_ERR_NOMEM,
    HEV_NFT_ERR_LEFT, /* close: the table could not be removed and outlives the process */
};

/* Name of an error code ("absent", "perm", ...); accepts either sign. */
const char *hev_nft_strerror(int code);

struct hev_nft_config {
    /* Do not ask for the owner flag: the table then outlives a killed process, as on kernels
     * before 5.12 (tests use it to leave a table behind). */
    bool no_owner;
    /* Behave as a kernel without nf_tables would (tests of the one-line message). */
    bool pretend_absent;
    /* Do not run nft for the rule texts: events name chain and handle only. */
    bool no_rule_text;
    /* The nft program; NULL: the first of /usr/sbin/nft, /sbin/nft, /usr/local/sbin/nft. */
    const char *nft_path;
    /* Receive buffer of the trace socket in bytes; 0: 4 MiB. A SYN flood makes several trace
     * messages per SYN; what overflows is counted as lost (hev_nft_stats.lost). */
    int rcvbuf_bytes;
};

struct hev_nft;

/* Opens tracing in the calling thread's network namespace. Needs CAP_NET_ADMIN (and root to
 * run nft for the snapshot). Removes the trace tables of earlier runs whose process is gone
 * (stats.stale_removed), adds this process's table, subscribes to the trace and ruleset
 * change groups, and takes the rule snapshot (a missing nft program is not an error: the
 * events then carry no text, rule_state HEV_NFT_RULE_NO_TEXT). Returns 0 and *out, or a
 * negative hev_nft_error with one line in errbuf: HEV_NFT_ERR_ABSENT ("nftables tracing off:
 * ..."), HEV_NFT_ERR_PERM, ... Nothing is left in the kernel on failure. cfg may be NULL. */
int hev_nft_open(struct hev_nft **out, const struct hev_nft_config *cfg, char *errbuf,
                 size_t errlen);

/* A descriptor that is readable (poll POLLIN) when hev_nft_read has something to read. */
int hev_nft_fd(const struct hev_nft *h);

/* The name of this run's table ("synscope_trace_812"), family inet. */
const char *hev_nft_table(const struct hev_nft *h);

/* Whether the kernel owns the table (removes it when the process ends, however it ends). */
bool hev_nft_owned(const struct hev_nft *h);

enum hev_nft_verdict {
    HEV_NFT_DROP = 1,       /* a `drop` rule, or the chain's policy */
    HEV_NFT_REJECT,         /* a `reject` rule: the host answered with a RST or an ICMP error */
    HEV_NFT_DROP_OR_REJECT, /* a rule whose text is unknown: the kernel's trace reports both
                               as drop */
};

/* Where the deciding rule's text comes from. */
enum hev_nft_rule_state {
    HEV_NFT_RULE_KNOWN = 1, /* in the start-up snapshot, unchanged since: rule_text is set */
    HEV_NFT_RULE_POLICY,    /* no rule: the chain's policy decided (rule_handle 0) */
    HEV_NFT_RULE_NEW,       /* not in the snapshot: added after start-up */
    HEV_NFT_RULE_CHANGED,   /* its rule, chain or table was deleted since the snapshot, so the
                               snapshot's text may belong to another rule: not given */
    HEV_NFT_RULE_NO_TEXT,   /* no snapshot (nft not found, or no_rule_text) */
};

/* One traced packet that nftables dropped or rejected, with what the trace says about it.
 * Addresses are in network byte order (IPv4 in the first 4 bytes), ports and numbers in host
 * order. A packet whose headers were not seen (trace messages lost) has have_tuple false. */
struct hev_nft_event {
    int64_t ts_ns;     /* CLOCK_REALTIME when the verdict's trace message was read */
    uint32_t trace_id; /* the kernel's NFTA_TRACE_ID for this packet */
    uint32_t iif;      /* input interface index, 0 for a locally sent packet */
    uint32_t oif;      /* output interface index, 0 before routing */
    bool have_tuple;
    uint8_t family;   /* 4 or 6 */
    uint8_t ip_proto; /* 6 (TCP), 1 (ICMP), 58 (ICMPv6), or another number */
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport; /* TCP only */
    uint16_t dport;
    uint32_t seq; /* TCP sequence number: the ISN for a SYN */
    uint32_t ack;
    uint8_t tcp_flags;
    uint8_t icmp_type; /* ICMP and ICMPv6 only (the quoted packet is beyond the trace's 20
                          bytes of transport header) */
    uint8_t icmp_code;

    enum hev_nft_verdict verdict;
    enum hev_nft_rule_state rule_state;
    uint8_t table_family;          /* NFPROTO_*: 1 inet, 2 ip, 10 ip6, 7 bridge, 5 netdev */
    char table[HEV_NFT_NAME_SIZE]; /* of the deciding rule or policy */
    char chain[HEV_NFT_NAME_SIZE]; /* a regular chain reached by jump is named itself */
    uint64_t rule_handle;          /* 0 for a policy */
    const char *rule_text;         /* as `nft list ruleset` prints it, without "# handle";
                                      NULL unless KNOWN; owned by the handle, valid until
                                      hev_nft_close */
};

typedef void (*hev_nft_event_fn)(const struct hev_nft_event *ev, void *user);

/* Threads: hev_nft_read, hev_nft_get_stats and hev_nft_close from one thread at a time;
 * hev_nft_abandon from a signal handler in any thread. */

/* Reads what is waiting without blocking: ruleset changes first (they mark snapshot rules as
 * changed), then trace messages; calls fn for each drop or reject. Trace messages lost to a
 * full socket buffer are counted, not errors. Works after the privilege drop. Returns the
 * number of events, or a negative hev_nft_error (HEV_NFT_ERR_SOCKET) with errbuf. */
int hev_nft_read(struct hev_nft *h, hev_nft_event_fn fn, void *user, char *errbuf, size_t errlen);

struct hev_nft_stats {
    uint64_t messages;        /* trace messages read */
    uint64_t packets;         /* packets whose headers were seen */
    uint64_t events;          /* drops and rejects reported */
    uint64_t lost;            /* times the kernel dropped trace messages (ENOBUFS) */
    uint64_t malformed;       /* messages refused by validation */
    uint64_t ruleset_changes; /* deletions of tables, chains and rules since start-up */
    uint64_t stale_removed;   /* tables of killed runs removed by hev_nft_open */
    uint64_t snapshot_rules;  /* rules in the start-up snapshot */
    uint64_t table_removed;   /* this run's table was removed by someone else: tracing has
                                 stopped (`nft flush ruleset`, as a firewall reload does,
                                 removes an unowned table; an owned one is kept) */
};
void hev_nft_get_stats(const struct hev_nft *h, struct hev_nft_stats *stats);

/* "nft inet fw input handle 3: tcp dport 8081 drop", or "nft inet fw input handle 7 (added
 * after start-up, text unknown)", "nft inet fw input policy drop". Returns snprintf's count. */
int hev_nft_describe(const struct hev_nft_event *ev, char *buf, size_t len);

const char *hev_nft_verdict_name(enum hev_nft_verdict v);       /* "drop", "reject", ... */
const char *hev_nft_rule_state_name(enum hev_nft_rule_state s); /* "known", "policy", ... */

/* Removes the table and frees everything. After the privilege drop the kernel refuses the
 * removal (nfnetlink checks CAP_NET_ADMIN of the sending task); an owned table goes all the
 * same when the socket closes here. Returns 0, or -HEV_NFT_ERR_LEFT with the command that
 * removes the table by hand when it outlives the process (an unowned table without the
 * privilege). h may be NULL. */
int hev_nft_close(struct hev_nft *h, char *errbuf, size_t errlen);

/* For a signal handler that is about to end the process (async-signal-safe: send and dup2
 * only): removes the table if the privilege is still there, and releases the owning socket so
 * that the kernel removes an owned table. Events stop; only hev_nft_close may follow. */
void hev_nft_abandon(struct hev_nft *h);

/* Whether iptables-legacy tables are loaded in the calling thread's network namespace
 * (/proc/net/ip_tables_names, ip6_tables_names): nftables tracing cannot see what they drop.
 * Returns 1 with one line in msg naming them (and which hold rules, when the kernel says),
 * 0 when none is loaded, or -HEV_NFT_ERR_SOCKET when /proc cannot be read. */
int hev_nft_check_legacy(char *msg, size_t msglen);

#endif
