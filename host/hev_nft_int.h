/* hev_nft_int.h - private to host/'s nftables tracing (hev_nft*.c): the handle, the netlink
 * requests that build and remove the trace table, the trace correlation and the rule
 * snapshot. */
#ifndef SYNSCOPE_HEV_NFT_INT_H
#define SYNSCOPE_HEV_NFT_INT_H

#include "hev_nft.h"

#include <linux/netlink.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Priority of the trace chains: after defragmentation (-400), before raw (-300), conntrack
 * (-200), mangle, NAT and filter, so that every later chain sees `nftrace` set (nft's
 * "ruleset debug/tracing" advice: set it in a chain that runs before the rules to trace). */
#define NFT_TRACE_PRIORITY (-350)

/* Packets in flight whose headers were seen and whose verdict is not known yet, by trace id:
 * a direct-mapped table, a newer packet takes the slot of an older one with the same low bits
 * (its verdict then carries no tuple, which the event says). */
#define NFT_SLOTS 1024

/* Receive buffers: a trace message is a few hundred bytes; a ruleset change notification
 * carries a whole rule and may be large. */
#define NFT_TRACE_BUFSIZE 16384
#define NFT_CTL_BUFSIZE 65536

struct nft_slot {
    uint32_t id;
    bool used;
    bool have_tuple;
    uint8_t family;
    uint8_t ip_proto;
    uint8_t tcp_flags;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint32_t seq;
    uint32_t ack;
    uint32_t iif;
    uint32_t oif;
};

struct nft_rules;

struct hev_nft {
    int ctl_fd;   /* owns the table; ruleset change notifications (NFNLGRP_NFTABLES) */
    int trace_fd; /* NFNLGRP_NFTRACE */
    int epoll_fd; /* readable when either is */
    int spare_fd; /* /dev/null: dup2'ed over ctl_fd by hev_nft_abandon */
    uint32_t ctl_portid;
    uint32_t seq;
    bool owned;
    volatile sig_atomic_t abandoned;
    char table[HEV_NFT_NAME_SIZE];
    /* The batch that deletes the table, built at open so that a signal handler only sends */
    uint8_t del_batch[512];
    size_t del_len;
    struct nft_rules *rules; /* NULL: no snapshot */
    struct hev_nft_stats stats;
    uint8_t *buf; /* NFT_CTL_BUFSIZE bytes */
    struct nft_slot slots[NFT_SLOTS];
};

/* ---- hev_nft_setup.c: requests over the control socket -------------------------------- */

/* Sends a batch (begin, messages, end) and waits for the acknowledgement of each of the
 * n_acks messages that asked for one. Returns 0, or the kernel's negative errno, or -EIO /
 * -ETIMEDOUT when the socket failed. */
int nft_batch_send(struct hev_nft *h, const void *batch, size_t len, int n_acks);

/* Deletes the inet tables named HEV_NFT_TABLE_PREFIX<pid> that no kernel owner holds and whose
 * pid is no longer alive (or is this process: a table from an earlier process with the same
 * pid). Returns the number removed, or a negative errno. */
int nft_sweep(struct hev_nft *h);

/* Adds h->table with its two chains and their rules, owned unless no_owner (and unowned when
 * the kernel does not know the flag: h->owned says which). Builds h->del_batch. Returns 0 or
 * a negative errno. */
int nft_add_table(struct hev_nft *h, bool no_owner);

/* ---- hev_nft_trace.c: trace messages and ruleset changes ------------------------------ */

/* One trace message from the kernel: records the headers for its trace id, and when it is a
 * drop verdict of a rule or a policy outside synscope's own tables, fills *ev and returns 1.
 * Returns 0 for anything else, -1 for a message that fails validation (counted). */
int nft_trace_message(struct hev_nft *h, const struct nlmsghdr *nlh, int64_t now_ns,
                      struct hev_nft_event *ev);

/* One ruleset change notification: a deleted table, chain or rule marks the snapshot's rules
 * under it as changed. Other messages are ignored. */
void nft_change_message(struct hev_nft *h, const struct nlmsghdr *nlh);

/* ---- hev_nft_rules.c: the snapshot of `nft -a list ruleset` --------------------------- */

struct nft_rule_text {
    uint8_t family; /* NFPROTO_* */
    bool changed;   /* deleted (or its chain or table) since the snapshot */
    uint64_t handle;
    const char *table;
    const char *chain;
    const char *text;
};

/* Runs nft (path, or the first one found) and parses its listing. Returns 0 and *out, 1 when
 * no nft program exists (*out NULL), or a negative errno. */
int nft_rules_snapshot(struct nft_rules **out, const char *nft_path);

/* Parses a listing of `nft -a list ruleset` held in memory (tests feed their own). Returns
 * NULL when out of memory. */
struct nft_rules *nft_rules_parse(const char *listing, size_t len);

size_t nft_rules_count(const struct nft_rules *rules);

/* The rule with this handle in (family, table, chain), or NULL. */
struct nft_rule_text *nft_rules_find(struct nft_rules *rules, uint8_t family, const char *table,
                                     const char *chain, uint64_t handle);

/* Marks rules as changed: every rule of the table (chain NULL), of one chain (handle 0), one
 * rule, or every rule (table NULL: notifications were lost). */
void nft_rules_mark_changed(struct nft_rules *rules, uint8_t family, const char *table,
                            const char *chain, uint64_t handle);

/* Whether the rule's text holds a `reject` statement (a word outside quoted strings). */
bool nft_rule_text_rejects(const char *text);

void nft_rules_free(struct nft_rules *rules);

#endif
