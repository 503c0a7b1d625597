/* hev_nft_trace.c - nftables trace messages followed to the packet's verdict, and ruleset
 * change notifications applied to the rule snapshot.
 *
 * One traced packet produces several messages with the same NFTA_TRACE_ID: in each base chain
 * it crosses, the first message carries its headers (network and transport, at most 40 and 20
 * bytes) and every rule that gave a verdict (continue, jump, accept, drop, ...) one message;
 * a base chain left without a verdict adds its policy. `accept` only ends one base chain (the
 * next table's chain on the same hook, and the later hooks, still run), so the only final
 * verdict a trace shows is drop: a `drop` rule, a `reject` rule (the kernel's trace says drop
 * for both: nft_reject sends its answer and returns NF_DROP), or a drop policy. */
#include "hev_nft_int.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/trace.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <string.h>

/* ---- validation -------------------------------------------------------------------------
 * libnftnl's parser ends the process (abi_breakage: a message on stderr, then exit) on an
 * attribute of the wrong size; every attribute it reads is checked here first, so it never
 * sees one. */

static int verdict_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, NFTA_VERDICT_MAX) < 0) {
        return MNL_CB_OK; /* newer than this header: not read */
    }
    if (type == NFTA_VERDICT_CODE && mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
        return MNL_CB_ERROR;
    }
    if (type == NFTA_VERDICT_CHAIN && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) {
        return MNL_CB_ERROR;
    }
    tb[type] = attr;
    return MNL_CB_OK;
}

static int trace_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(attr);
    enum mnl_attr_data_type want;
    if (mnl_attr_type_valid(attr, NFTA_TRACE_MAX) < 0) {
        return MNL_CB_OK;
    }
    switch (type) {
    case NFTA_TRACE_TABLE:
    case NFTA_TRACE_CHAIN:
        want = MNL_TYPE_NUL_STRING;
        break;
    case NFTA_TRACE_ID:
    case NFTA_TRACE_TYPE:
    case NFTA_TRACE_IIF:
    case NFTA_TRACE_OIF:
    case NFTA_TRACE_MARK:
    case NFTA_TRACE_NFPROTO:
    case NFTA_TRACE_POLICY:
        want = MNL_TYPE_U32;
        break;
    case NFTA_TRACE_IIFTYPE:
    case NFTA_TRACE_OIFTYPE:
        want = MNL_TYPE_U16;
        break;
    case NFTA_TRACE_RULE_HANDLE:
        want = MNL_TYPE_U64;
        break;
    case NFTA_TRACE_VERDICT:
        want = MNL_TYPE_NESTED;
        break;
    default: /* the three headers: read with bounds checks below; libnftnl refuses empty ones */
        want = MNL_TYPE_BINARY;
        break;
    }
    if (mnl_attr_validate(attr, want) < 0 ||
        (want == MNL_TYPE_BINARY && mnl_attr_get_payload_len(attr) == 0)) {
        return MNL_CB_ERROR;
    }
    tb[type] = attr;
    return MNL_CB_OK;
}

/* The kernel pads every attribute, so its messages end on a 4-byte boundary; libmnl reads
 * attributes up to the aligned end, which for an unaligned length lies past the message. */
static bool message_sane(const struct nlmsghdr *nlh)
{
    return nlh->nlmsg_len % NLMSG_ALIGNTO == 0 &&
           mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nfgenmsg);
}

static bool trace_valid(const struct nlmsghdr *nlh)
{
    const struct nlattr *tb[NFTA_TRACE_MAX + 1] = {0};
    if (!message_sane(nlh) || mnl_attr_parse(nlh, sizeof(struct nfgenmsg), trace_attr_cb, tb) < 0 ||
        tb[NFTA_TRACE_ID] == NULL || tb[NFTA_TRACE_TYPE] == NULL) {
        return false;
    }
    if (tb[NFTA_TRACE_VERDICT] != NULL) {
        const struct nlattr *vt[NFTA_VERDICT_MAX + 1] = {0};
        if (mnl_attr_parse_nested(tb[NFTA_TRACE_VERDICT], verdict_attr_cb, vt) < 0 ||
            vt[NFTA_VERDICT_CODE] == NULL) {
            return false;
        }
        int32_t code = (int32_t)ntohl(mnl_attr_get_u32(vt[NFTA_VERDICT_CODE]));
        if ((code == NFT_JUMP || code == NFT_GOTO) && vt[NFTA_VERDICT_CHAIN] == NULL) {
            return false;
        }
    }
    return true;
}

/* ---- packet headers ------------------------------------------------------------------- */

static uint16_t be16_at(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The trace's network header (at most 40 bytes: the IPv4 header with options up to 20 bytes
 * of them, or the fixed IPv6 header) and transport header (at most 20 bytes: the TCP header
 * without options, or the ICMP header and the first 12 bytes of the quoted IP header, which
 * hold no address). An IPv6 packet with extension headers names the first of them as next
 * header: its protocol is not known here, and neither are its ports. */
static void read_headers(struct nft_slot *s, const uint8_t *nh, uint32_t nlen, const uint8_t *th,
                         uint32_t tlen)
{
    bool later_fragment = false;
    if (nlen >= 20 && nh[0] >> 4 == 4 && (nh[0] & 0x0f) >= 5) {
        s->family = 4;
        s->ip_proto = nh[9];
        later_fragment = (be16_at(nh + 6) & 0x1fff) != 0;
        memset(s->src, 0, sizeof(s->src));
        memset(s->dst, 0, sizeof(s->dst));
        memcpy(s->src, nh + 12, 4);
        memcpy(s->dst, nh + 16, 4);
    } else if (nlen >= 40 && nh[0] >> 4 == 6) {
        s->family = 6;
        s->ip_proto = nh[6];
        memcpy(s->src, nh + 8, 16);
        memcpy(s->dst, nh + 24, 16);
    } else {
        return;
    }
    s->have_tuple = false;
    if (later_fragment || th == NULL) {
        return;
    }
    if (s->ip_proto == IPPROTO_TCP && tlen >= 14) {
        s->sport = be16_at(th);
        s->dport = be16_at(th + 2);
        s->seq = be32_at(th + 4);
        s->ack = be32_at(th + 8);
        s->tcp_flags = th[13];
        s->have_tuple = true;
    } else if (((s->family == 4 && s->ip_proto == IPPROTO_ICMP) ||
                (s->family == 6 && s->ip_proto == IPPROTO_ICMPV6)) &&
               tlen >= 2) {
        s->icmp_type = th[0];
        s->icmp_code = th[1];
        s->have_tuple = true;
    }
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, HEV_NFT_NAME_SIZE, "%s", src != NULL ? src : "");
}

/* The slot of this trace id; a new packet (or one whose slot was taken) starts empty. */
static struct nft_slot *slot_of(struct hev_nft *h, uint32_t id)
{
    struct nft_slot *s = &h->slots[id & (NFT_SLOTS - 1)];
    if (!s->used || s->id != id) {
        memset(s, 0, sizeof(*s));
        s->used = true;
        s->id = id;
    }
    return s;
}

/* Whether the message says the packet was dropped: a rule's verdict or a base chain's policy
 * (NF_DROP is 0; queue numbers and errors ride in the upper bits of a verdict). */
static bool is_drop(const struct nftnl_trace *t, bool *policy)
{
    uint32_t type = nftnl_trace_get_u32(t, NFTNL_TRACE_TYPE);
    *policy = type == NFT_TRACETYPE_POLICY;
    if (type == NFT_TRACETYPE_RULE && nftnl_trace_is_set(t, NFTNL_TRACE_VERDICT)) {
        int32_t code = (int32_t)nftnl_trace_get_u32(t, NFTNL_TRACE_VERDICT);
        return code >= 0 && (code & NF_VERDICT_MASK) == NF_DROP;
    }
    if (*policy && nftnl_trace_is_set(t, NFTNL_TRACE_POLICY)) {
        return (nftnl_trace_get_u32(t, NFTNL_TRACE_POLICY) & NF_VERDICT_MASK) == NF_DROP;
    }
    return false;
}

/* The deciding rule's text and the verdict it implies (a reject rule's trace says drop). */
static void name_rule(struct hev_nft *h, struct hev_nft_event *ev, bool policy)
{
    ev->verdict = HEV_NFT_DROP_OR_REJECT;
    if (policy) {
        ev->rule_state = HEV_NFT_RULE_POLICY;
        ev->verdict = HEV_NFT_DROP;
        return;
    }
    if (h->rules == NULL) {
        ev->rule_state = HEV_NFT_RULE_NO_TEXT;
        return;
    }
    const struct nft_rule_text *rule =
        nft_rules_find(h->rules, ev->table_family, ev->table, ev->chain, ev->rule_handle);
    if (rule == NULL) {
        ev->rule_state = HEV_NFT_RULE_NEW;
    } else if (rule->changed) {
        ev->rule_state = HEV_NFT_RULE_CHANGED;
    } else {
        ev->rule_state = HEV_NFT_RULE_KNOWN;
        ev->rule_text = rule->text;
        ev->verdict = nft_rule_text_rejects(rule->text) ? HEV_NFT_REJECT : HEV_NFT_DROP;
    }
}

static void fill_event(struct hev_nft_event *ev, const struct nft_slot *s,
                       const struct nftnl_trace *t, int64_t now_ns)
{
    memset(ev, 0, sizeof(*ev));
    ev->ts_ns = now_ns;
    ev->trace_id = s->id;
    ev->iif = s->iif;
    ev->oif = s->oif;
    ev->have_tuple = s->have_tuple;
    ev->family = s->family;
    ev->ip_proto = s->ip_proto;
    memcpy(ev->src, s->src, sizeof(ev->src));
    memcpy(ev->dst, s->dst, sizeof(ev->dst));
    ev->sport = s->sport;
    ev->dport = s->dport;
    ev->seq = s->seq;
    ev->ack = s->ack;
    ev->tcp_flags = s->tcp_flags;
    ev->icmp_type = s->icmp_type;
    ev->icmp_code = s->icmp_code;
    ev->table_family = (uint8_t)nftnl_trace_get_u32(t, NFTNL_TRACE_FAMILY);
    copy_name(ev->table, nftnl_trace_get_str(t, NFTNL_TRACE_TABLE));
    copy_name(ev->chain, nftnl_trace_get_str(t, NFTNL_TRACE_CHAIN));
    if (nftnl_trace_is_set(t, NFTNL_TRACE_RULE_HANDLE)) {
        ev->rule_handle = nftnl_trace_get_u64(t, NFTNL_TRACE_RULE_HANDLE);
    }
}

static bool own_table(const struct nftnl_trace *t)
{
    const char *table = nftnl_trace_get_str(t, NFTNL_TRACE_TABLE);
    return nftnl_trace_get_u32(t, NFTNL_TRACE_FAMILY) == NFPROTO_INET && table != NULL &&
           strncmp(table, HEV_NFT_TABLE_PREFIX, sizeof(HEV_NFT_TABLE_PREFIX) - 1) == 0;
}

int nft_trace_message(struct hev_nft *h, const struct nlmsghdr *nlh, int64_t now_ns,
                      struct hev_nft_event *ev)
{
    if (nlh->nlmsg_type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_TRACE)) {
        return 0;
    }
    struct nftnl_trace *t = NULL;
    if (!trace_valid(nlh) || (t = nftnl_trace_alloc()) == NULL ||
        nftnl_trace_nlmsg_parse(nlh, t) < 0) {
        h->stats.malformed++;
        if (t != NULL) {
            nftnl_trace_free(t);
        }
        return -1;
    }
    h->stats.messages++;
    struct nft_slot *s = slot_of(h, nftnl_trace_get_u32(t, NFTNL_TRACE_ID));
    uint32_t nlen = 0, tlen = 0;
    const uint8_t *nh = nftnl_trace_get_data(t, NFTNL_TRACE_NETWORK_HEADER, &nlen);
    const uint8_t *th = nftnl_trace_get_data(t, NFTNL_TRACE_TRANSPORT_HEADER, &tlen);
    if (nh != NULL) {
        if (s->family == 0) {
            h->stats.packets++;
        }
        read_headers(s, nh, nlen, th, th != NULL ? tlen : 0);
    }
    if (nftnl_trace_is_set(t, NFTNL_TRACE_IIF)) {
        s->iif = nftnl_trace_get_u32(t, NFTNL_TRACE_IIF);
    }
    if (nftnl_trace_is_set(t, NFTNL_TRACE_OIF)) {
        s->oif = nftnl_trace_get_u32(t, NFTNL_TRACE_OIF);
    }
    bool policy;
    int found = 0;
    if (!own_table(t) && is_drop(t, &policy)) {
        fill_event(ev, s, t, now_ns);
        name_rule(h, ev, policy);
        s->used = false; /* the packet is gone; its id may come back with another one */
        h->stats.events++;
        found = 1;
    }
    nftnl_trace_free(t);
    return found;
}

/* ---- ruleset changes ------------------------------------------------------------------ */

struct change_attrs {
    int name_attr;  /* the attribute holding the table's name in this message type */
    int chain_attr; /* the chain's name, or -1 */
    int max;
    const struct nlattr *tb[NFTA_RULE_MAX + NFTA_CHAIN_MAX + NFTA_TABLE_MAX + 3];
};

static int change_attr_cb(const struct nlattr *attr, void *data)
{
    struct change_attrs *c = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, (uint16_t)c->max) < 0) {
        return MNL_CB_OK;
    }
    if ((type == c->name_attr || type == c->chain_attr) &&
        mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0) {
        return MNL_CB_ERROR;
    }
    if (c->chain_attr == NFTA_RULE_CHAIN && type == NFTA_RULE_HANDLE &&
        mnl_attr_validate(attr, MNL_TYPE_U64) < 0) {
        return MNL_CB_ERROR;
    }
    c->tb[type] = attr;
    return MNL_CB_OK;
}

void nft_change_message(struct hev_nft *h, const struct nlmsghdr *nlh)
{
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) {
        return;
    }
    struct change_attrs c = {.chain_attr = -1};
    switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
    case NFT_MSG_DELTABLE:
        c.name_attr = NFTA_TABLE_NAME;
        c.max = NFTA_TABLE_MAX;
        break;
    case NFT_MSG_DELCHAIN:
        c.name_attr = NFTA_CHAIN_TABLE;
        c.chain_attr = NFTA_CHAIN_NAME;
        c.max = NFTA_CHAIN_MAX;
        break;
    case NFT_MSG_DELRULE:
        c.name_attr = NFTA_RULE_TABLE;
        c.chain_attr = NFTA_RULE_CHAIN;
        c.max = NFTA_RULE_MAX;
        break;
    default:
        return;
    }
    const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
    if (!message_sane(nlh) || mnl_attr_parse(nlh, sizeof(*nfg), change_attr_cb, &c) < 0 ||
        c.tb[c.name_attr] == NULL) {
        h->stats.malformed++;
        return;
    }
    const char *chain = c.chain_attr >= 0 && c.tb[c.chain_attr] != NULL
                            ? mnl_attr_get_str(c.tb[c.chain_attr])
                            : NULL;
    uint64_t handle = 0;
    if (c.chain_attr == NFTA_RULE_CHAIN) {
        if (c.tb[NFTA_RULE_HANDLE] == NULL || chain == NULL) {
            h->stats.malformed++;
            return;
        }
        handle = be64toh(mnl_attr_get_u64(c.tb[NFTA_RULE_HANDLE]));
    }
    const char *table = mnl_attr_get_str(c.tb[c.name_attr]);
    if (strcmp(table, h->table) == 0 && nfg->nfgen_family == NFPROTO_INET) {
        /* counted once, for the table (its rules and chains are notified before it) */
        h->stats.table_removed += NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_DELTABLE;
        return;
    }
    h->stats.ruleset_changes++;
    nft_rules_mark_changed(h->rules, nfg->nfgen_family, table, chain, handle);
}
