/* hev_nft_setup.c - the requests of nftables tracing over the control socket: the batch that
 * adds synscope's trace table, the one that removes it, and the sweep of tables left by
 * killed runs. */
#include "hev_nft_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH_LIMIT 8192 /* mnl_nlmsg_batch wants a buffer of twice its limit */
#define SWEEP_MAX 64

int nft_batch_send(struct hev_nft *h, const void *batch, size_t len, int n_acks)
{
    const struct nlmsghdr *first = batch;
    uint32_t seq_lo = first->nlmsg_seq, seq_hi = h->seq;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(h->ctl_fd, batch, len, 0, (const struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        return -errno;
    }
    while (n_acks > 0) {
        ssize_t n = recv(h->ctl_fd, h->buf, NFT_CTL_BUFSIZE, 0);
        if (n < 0 && (errno == EINTR || errno == ENOBUFS)) {
            continue; /* ENOBUFS: notifications overflowed, the acks still come */
        }
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -EIO;
        }
        int left = (int)n;
        for (const struct nlmsghdr *nlh = (const void *)h->buf; mnl_nlmsg_ok(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left)) {
            if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq < seq_lo ||
                nlh->nlmsg_seq >= seq_hi ||
                mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nlmsgerr)) {
                continue; /* a notification, or the ack of an abandoned request */
            }
            const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
            if (err->error != 0) {
                return err->error < 0 ? err->error : -EIO;
            }
            n_acks--;
        }
    }
    return 0;
}

/* ---- building batches ---------------------------------------------------------------- */

struct batch {
    char *buf;
    struct mnl_nlmsg_batch *b;
    int acks;
    bool full;
};

static bool batch_start(struct batch *bt, struct hev_nft *h)
{
    memset(bt, 0, sizeof(*bt));
    if ((bt->buf = malloc(2 * BATCH_LIMIT)) == NULL ||
        (bt->b = mnl_nlmsg_batch_start(bt->buf, BATCH_LIMIT)) == NULL) {
        free(bt->buf);
        return false;
    }
    nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), h->seq++);
    mnl_nlmsg_batch_next(bt->b);
    return true;
}

/* The header of the next message of the batch (every one asks for an ack). */
static struct nlmsghdr *batch_msg(struct batch *bt, struct hev_nft *h, uint16_t type,
                                  uint16_t flags)
{
    bt->acks++;
    return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
                                 flags | NLM_F_ACK, h->seq++);
}

static void batch_next(struct batch *bt)
{
    if (!mnl_nlmsg_batch_next(bt->b)) {
        bt->full = true;
    }
}

static void batch_end(struct batch *bt, struct hev_nft *h)
{
    nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), h->seq++);
    batch_next(bt);
}

static void batch_free(struct batch *bt)
{
    if (bt->b != NULL) {
        mnl_nlmsg_batch_stop(bt->b);
    }
    free(bt->buf);
}

static int batch_run(struct batch *bt, struct hev_nft *h)
{
    if (bt->full) {
        return -EMSGSIZE;
    }
    return nft_batch_send(h, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b), bt->acks);
}

/* Appends a DELTABLE of inet table name. */
static void add_deltable(struct batch *bt, struct hev_nft *h, const char *name)
{
    struct nlmsghdr *nlh = batch_msg(bt, h, NFT_MSG_DELTABLE, 0);
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
    batch_next(bt);
}

/* ---- the trace rules ------------------------------------------------------------------
 * In nft's words, each chain holds:
 *   meta l4proto tcp tcp flags & (syn | rst) != 0 meta nftrace set 1 accept
 *   meta l4proto icmp icmp type destination-unreachable meta nftrace set 1 accept
 *   meta l4proto icmp icmp type 11-12 meta nftrace set 1 accept      (time exceeded, parameter
 *                                                                      problem)
 *   meta l4proto ipv6-icmp icmpv6 type 1-4 meta nftrace set 1 accept (unreachable, too big,
 *                                                                      time exceeded, parameter)
 * `accept` ends this base chain only (the packet goes on to every other table's chains); it
 * saves the policy's trace message. */

static bool put_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
    if (e == NULL) {
        return false;
    }
    nftnl_rule_add_expr(r, e);
    return true;
}

static bool meta_l4proto_is(struct nftnl_rule *r, uint8_t proto)
{
    struct nftnl_expr *meta = nftnl_expr_alloc("meta");
    struct nftnl_expr *cmp = nftnl_expr_alloc("cmp");
    if (meta != NULL) {
        nftnl_expr_set_u32(meta, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
        nftnl_expr_set_u32(meta, NFTNL_EXPR_META_DREG, NFT_REG_1);
    }
    if (cmp != NULL) {
        nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(cmp, NFTNL_EXPR_CMP_DATA, &proto, sizeof(proto));
    }
    bool ok = put_expr(r, meta);
    if (!ok && cmp != NULL) {
        nftnl_expr_free(cmp);
        return false;
    }
    return put_expr(r, cmp) && ok;
}

/* One byte of the transport header into register 1. */
static bool transport_byte(struct nftnl_rule *r, uint32_t offset)
{
    struct nftnl_expr *e = nftnl_expr_alloc("payload");
    if (e != NULL) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
    }
    return put_expr(r, e);
}

static bool byte_masked_nonzero(struct nftnl_rule *r, uint8_t mask)
{
    static const uint8_t zero = 0;
    struct nftnl_expr *and = nftnl_expr_alloc("bitwise");
    if (and != NULL) {
        nftnl_expr_set_u32(and, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(and, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(and, NFTNL_EXPR_BITWISE_LEN, 1);
        nftnl_expr_set(and, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
        nftnl_expr_set(and, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
    }
    if (!put_expr(r, and)) {
        return false;
    }
    struct nftnl_expr *cmp = nftnl_expr_alloc("cmp");
    if (cmp != NULL) {
        nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
        nftnl_expr_set(cmp, NFTNL_EXPR_CMP_DATA, &zero, 1);
    }
    return put_expr(r, cmp);
}

static bool byte_in_range(struct nftnl_rule *r, uint8_t from, uint8_t to)
{
    struct nftnl_expr *e = nftnl_expr_alloc("range");
    if (e != NULL) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &from, 1);
        nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &to, 1);
    }
    return put_expr(r, e);
}

/* meta nftrace set 1 accept */
static bool trace_and_accept(struct nftnl_rule *r)
{
    static const uint8_t one = 1; /* nftrace is a one-byte register value (nft_meta_set) */
    struct nftnl_expr *imm = nftnl_expr_alloc("immediate");
    if (imm != NULL) {
        nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
        nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &one, 1);
    }
    if (!put_expr(r, imm)) {
        return false;
    }
    struct nftnl_expr *set = nftnl_expr_alloc("meta");
    if (set != NULL) {
        nftnl_expr_set_u32(set, NFTNL_EXPR_META_KEY, NFT_META_NFTRACE);
        nftnl_expr_set_u32(set, NFTNL_EXPR_META_SREG, NFT_REG_1);
    }
    if (!put_expr(r, set)) {
        return false;
    }
    struct nftnl_expr *verdict = nftnl_expr_alloc("immediate");
    if (verdict != NULL) {
        nftnl_expr_set_u32(verdict, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(verdict, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
    }
    return put_expr(r, verdict);
}

enum trace_rule { RULE_TCP, RULE_ICMP_UNREACH, RULE_ICMP_OTHER, RULE_ICMPV6, RULE_COUNT };

static bool build_match(struct nftnl_rule *r, enum trace_rule which)
{
    switch (which) {
    case RULE_TCP: /* the flags byte, RFC 9293 section 3.1 */
        return meta_l4proto_is(r, IPPROTO_TCP) && transport_byte(r, 13) &&
               byte_masked_nonzero(r, 0x02 | 0x04);
    case RULE_ICMP_UNREACH:
        return meta_l4proto_is(r, IPPROTO_ICMP) && transport_byte(r, 0) && byte_in_range(r, 3, 3);
    case RULE_ICMP_OTHER:
        return meta_l4proto_is(r, IPPROTO_ICMP) && transport_byte(r, 0) && byte_in_range(r, 11, 12);
    case RULE_ICMPV6: /* RFC 4443 section 3: error messages 1 to 4 */
        return meta_l4proto_is(r, IPPROTO_ICMPV6) && transport_byte(r, 0) && byte_in_range(r, 1, 4);
    default:
        return false;
    }
}

static bool add_rule(struct batch *bt, struct hev_nft *h, const char *chain, enum trace_rule which)
{
    struct nftnl_rule *r = nftnl_rule_alloc();
    if (r == NULL) {
        return false;
    }
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, h->table);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    bool ok = build_match(r, which) && trace_and_accept(r);
    if (ok) {
        struct nlmsghdr *nlh = batch_msg(bt, h, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        batch_next(bt);
    }
    nftnl_rule_free(r);
    return ok;
}

static bool add_chain(struct batch *bt, struct hev_nft *h, const char *name, uint32_t hook)
{
    struct nftnl_chain *c = nftnl_chain_alloc();
    if (c == NULL) {
        return false;
    }
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, h->table);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFT_TRACE_PRIORITY);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    struct nlmsghdr *nlh = batch_msg(bt, h, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    nftnl_chain_nlmsg_build_payload(nlh, c);
    batch_next(bt);
    nftnl_chain_free(c);
    bool ok = true;
    for (int which = 0; which < RULE_COUNT && ok; which++) {
        ok = add_rule(bt, h, name, (enum trace_rule)which);
    }
    return ok;
}

static int add_table_once(struct hev_nft *h, bool owned)
{
    struct batch bt;
    struct nftnl_table *t = nftnl_table_alloc();
    if (t == NULL || !batch_start(&bt, h)) {
        nftnl_table_free(t);
        return -ENOMEM;
    }
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, h->table);
    nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, owned ? NFT_TABLE_F_OWNER : 0);
    /* EXCL: a table of this name held by another socket of this process is an error, not
     * something to add rules to */
    struct nlmsghdr *nlh = batch_msg(&bt, h, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
    nftnl_table_nlmsg_build_payload(nlh, t);
    batch_next(&bt);
    nftnl_table_free(t);
    bool ok = add_chain(&bt, h, "pre", NF_INET_PRE_ROUTING) &&
              add_chain(&bt, h, "out", NF_INET_LOCAL_OUT);
    batch_end(&bt, h);
    int rc = ok ? batch_run(&bt, h) : -ENOMEM;
    batch_free(&bt);
    return rc;
}

/* The removal batch, kept for hev_nft_close and hev_nft_abandon. */
static int build_del_batch(struct hev_nft *h)
{
    struct batch bt;
    if (!batch_start(&bt, h)) {
        return -ENOMEM;
    }
    add_deltable(&bt, h, h->table);
    batch_end(&bt, h);
    int rc = -EMSGSIZE;
    size_t len = mnl_nlmsg_batch_size(bt.b);
    if (!bt.full && len <= sizeof(h->del_batch)) {
        memcpy(h->del_batch, mnl_nlmsg_batch_head(bt.b), len);
        h->del_len = len;
        rc = 0;
    }
    batch_free(&bt);
    return rc;
}

int nft_add_table(struct hev_nft *h, bool no_owner)
{
    int rc = -EOPNOTSUPP;
    h->owned = !no_owner;
    if (h->owned) {
        rc = add_table_once(h, true);
    }
    if (rc == -EOPNOTSUPP) { /* before Linux 5.12 unknown table flags are refused so */
        h->owned = false;
        rc = add_table_once(h, false);
    }
    if (rc == 0 && (rc = build_del_batch(h)) != 0) {
        struct batch bt; /* the table exists: remove it before failing */
        if (batch_start(&bt, h)) {
            add_deltable(&bt, h, h->table);
            batch_end(&bt, h);
            (void)batch_run(&bt, h);
            batch_free(&bt);
        }
    }
    return rc;
}

/* ---- the sweep ------------------------------------------------------------------------ */

struct sweep {
    pid_t self;
    size_t count;
    char name[SWEEP_MAX][HEV_NFT_NAME_SIZE];
};

static int table_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, NFTA_TABLE_MAX) < 0) {
        return MNL_CB_OK;
    }
    if ((type == NFTA_TABLE_NAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) ||
        ((type == NFTA_TABLE_FLAGS || type == NFTA_TABLE_OWNER) &&
         mnl_attr_validate(attr, MNL_TYPE_U32) < 0)) {
        return MNL_CB_ERROR;
    }
    tb[type] = attr;
    return MNL_CB_OK;
}

/* Whether a table named prefix<pid> is a leftover: no kernel owner, and its process is gone
 * (or is this one: the table is from an earlier process that had this pid). */
static bool leftover(const char *name, bool owned, pid_t self)
{
    size_t plen = sizeof(HEV_NFT_TABLE_PREFIX) - 1;
    if (owned || strncmp(name, HEV_NFT_TABLE_PREFIX, plen) != 0) {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long pid = strtoul(name + plen, &end, 10);
    if (errno != 0 || end == name + plen || *end != '\0' || pid == 0 || pid > 0x7fffffffUL) {
        return false;
    }
    if ((pid_t)pid == self) {
        return true;
    }
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
    struct sweep *sw = data;
    const struct nlattr *tb[NFTA_TABLE_MAX + 1] = {0};
    if (nlh->nlmsg_len % NLMSG_ALIGNTO != 0 || /* see message_sane in hev_nft_trace.c */
        mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg) ||
        mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_attr_cb, tb) < 0) {
        errno = EPROTO;
        return MNL_CB_ERROR;
    }
    if (tb[NFTA_TABLE_NAME] == NULL) {
        return MNL_CB_OK;
    }
    const char *name = mnl_attr_get_str(tb[NFTA_TABLE_NAME]);
    bool owned = tb[NFTA_TABLE_OWNER] != NULL ||
                 (tb[NFTA_TABLE_FLAGS] != NULL &&
                  (ntohl(mnl_attr_get_u32(tb[NFTA_TABLE_FLAGS])) & NFT_TABLE_F_OWNER) != 0);
    if (leftover(name, owned, sw->self) && sw->count < SWEEP_MAX &&
        strlen(name) < HEV_NFT_NAME_SIZE) {
        snprintf(sw->name[sw->count++], HEV_NFT_NAME_SIZE, "%s", name);
    }
    return MNL_CB_OK;
}

/* Dumps the inet tables into sw. Returns 0 or a negative errno. */
static int list_tables(struct hev_nft *h, struct sweep *sw)
{
    char req[256];
    uint32_t seq = h->seq++;
    struct nlmsghdr *nlh =
        nftnl_nlmsg_build_hdr(req, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_DUMP, seq);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(h->ctl_fd, nlh, nlh->nlmsg_len, 0, (const struct sockaddr *)&kernel,
               sizeof(kernel)) < 0) {
        return -errno;
    }
    for (;;) {
        ssize_t n = recv(h->ctl_fd, h->buf, NFT_CTL_BUFSIZE, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        }
        int rc = mnl_cb_run(h->buf, (size_t)n, seq, h->ctl_portid, table_cb, sw);
        if (rc == MNL_CB_STOP) {
            return 0;
        }
        if (rc < 0) {
            return errno != 0 ? -errno : -EPROTO;
        }
    }
}

int nft_sweep(struct hev_nft *h)
{
    struct sweep *sw = calloc(1, sizeof(*sw));
    if (sw == NULL) {
        return -ENOMEM;
    }
    sw->self = getpid();
    int rc = list_tables(h, sw);
    int removed = 0;
    for (size_t i = 0; rc == 0 && i < sw->count; i++) {
        struct batch bt;
        if (!batch_start(&bt, h)) {
            rc = -ENOMEM;
            break;
        }
        add_deltable(&bt, h, sw->name[i]);
        batch_end(&bt, h);
        int del = batch_run(&bt, h);
        batch_free(&bt);
        if (del == 0) {
            removed++;
        } else if (del != -ENOENT) { /* ENOENT: another start removed it first */
            rc = del;
        }
    }
    free(sw);
    return rc < 0 ? rc : removed;
}
