/* test_nft_rules.c - host/ nftables tracing without the kernel: the rule snapshot parser (nft's
 * listing), the reject test on a rule's text, and trace messages built in memory, valid,
 * malformed and cut at every length (libnftnl ends the process on some malformations, so
 * they must never reach it). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "hev_nft_int.h"

/* A listing as nft 1.0.6 prints it with -a: tabs, blank lines between blocks, sets whose
 * elements span lines, a chain comment, a quoted chain name, a rule comment holding the
 * marker, and the iptables-nft warning line of newer nft versions. */
static const char listing[] =
    "# Warning: table ip filter is managed by iptables-nft, do not touch!\n"
    "table ip filter { # handle 1\n"
    "\tchain INPUT { # handle 1\n"
    "\t\ttype filter hook input priority filter; policy accept;\n"
    "\t\tmeta l4proto tcp tcp dport 22 counter packets 0 bytes 0 drop # handle 4\n"
    "\t}\n"
    "}\n"
    "table inet fw { # handle 3\n"
    "\tset blocked { # handle 2\n"
    "\t\ttype ipv4_addr\n"
    "\t\telements = { 10.0.0.1, 10.0.0.2,\n"
    "\t\t\t     10.0.0.3 } # handle 9\n"
    "\t}\n"
    "\n"
    "\tchain input { # handle 1\n"
    "\t\ttype filter hook input priority filter; policy accept;\n"
    "\t\tcomment \"the door\"\n"
    "\t\tip saddr @blocked drop # handle 5\n"
    "\t\ttcp dport 8080 reject with tcp reset comment \"x # handle 77\" # handle 6\n"
    "\t}\n"
    "\n"
    "\tchain \"my chain\" { # handle 7\n"
    "\t\ttcp dport 1 reject # handle 8\n"
    "\t}\n"
    "}\n"
    "table ip6 fw { # handle 4\n"
    "\tchain input { # handle 1\n"
    "\t\ttcp dport 8080 drop # handle 5\n"
    "\t}\n"
    "}\n";

Test(nft_rules, parse_listing)
{
    struct nft_rules *r = nft_rules_parse(listing, strlen(listing));
    cr_assert_not_null(r);
    cr_expect_eq(nft_rules_count(r), 5, "rules: %zu", nft_rules_count(r));
    struct nft_rule_text *rule = nft_rules_find(r, NFPROTO_IPV4, "filter", "INPUT", 4);
    cr_assert_not_null(rule);
    cr_expect_str_eq(rule->text, "meta l4proto tcp tcp dport 22 counter packets 0 bytes 0 drop");
    rule = nft_rules_find(r, NFPROTO_INET, "fw", "input", 5);
    cr_assert_not_null(rule);
    cr_expect_str_eq(rule->text, "ip saddr @blocked drop");
    rule = nft_rules_find(r, NFPROTO_INET, "fw", "input", 6);
    cr_assert_not_null(rule);
    cr_expect_str_eq(rule->text, "tcp dport 8080 reject with tcp reset comment \"x # handle 77\"");
    rule = nft_rules_find(r, NFPROTO_INET, "fw", "my chain", 8);
    cr_assert_not_null(rule);
    cr_expect_str_eq(rule->text, "tcp dport 1 reject");
    rule = nft_rules_find(r, NFPROTO_IPV6, "fw", "input", 5);
    cr_assert_not_null(rule);
    cr_expect_str_eq(rule->text, "tcp dport 8080 drop");
    cr_expect_null(nft_rules_find(r, NFPROTO_INET, "fw", "input", 9), "a set element line");
    cr_expect_null(nft_rules_find(r, NFPROTO_IPV4, "fw", "input", 5), "another family");
    cr_expect_null(nft_rules_find(r, NFPROTO_INET, "fw", "input", 77), "inside a comment");
    nft_rules_free(r);
}

Test(nft_rules, mark_changed)
{
    struct nft_rules *r = nft_rules_parse(listing, strlen(listing));
    cr_assert_not_null(r);
    nft_rules_mark_changed(r, NFPROTO_INET, "fw", "input", 6);
    cr_expect(nft_rules_find(r, NFPROTO_INET, "fw", "input", 6)->changed);
    cr_expect(!nft_rules_find(r, NFPROTO_INET, "fw", "input", 5)->changed);
    nft_rules_mark_changed(r, NFPROTO_INET, "fw", "my chain", 0);
    cr_expect(nft_rules_find(r, NFPROTO_INET, "fw", "my chain", 8)->changed);
    cr_expect(!nft_rules_find(r, NFPROTO_INET, "fw", "input", 5)->changed);
    nft_rules_mark_changed(r, NFPROTO_INET, "fw", NULL, 0);
    cr_expect(nft_rules_find(r, NFPROTO_INET, "fw", "input", 5)->changed);
    cr_expect(!nft_rules_find(r, NFPROTO_IPV6, "fw", "input", 5)->changed, "other family");
    nft_rules_mark_changed(r, 0, NULL, NULL, 0);
    cr_expect(nft_rules_find(r, NFPROTO_IPV4, "filter", "INPUT", 4)->changed);
    nft_rules_free(r);
}

Test(nft_rules, reject_in_text)
{
    cr_expect(nft_rule_text_rejects("tcp dport 80 reject"));
    cr_expect(nft_rule_text_rejects("tcp dport 80 reject with icmpx admin-prohibited"));
    cr_expect(nft_rule_text_rejects("reject"));
    cr_expect(nft_rule_text_rejects("counter reject comment \"drop\""));
    cr_expect(!nft_rule_text_rejects("tcp dport 80 drop comment \"reject\""));
    cr_expect(!nft_rule_text_rejects("tcp dport 80 jump reject_chain"));
    cr_expect(!nft_rule_text_rejects("ip saddr @reject drop"));
    cr_expect(!nft_rule_text_rejects("tcp dport 80 drop"));
}

Test(nft_rules, garbage_listing)
{
    static const char junk[] = "table\n\tchain\n\t\t # handle \n\t\tx # handle 99999999999999999999"
                               "\ntable inet\n\t\trule # handle 3\n}\n\t}\n\t\t\t\n";
    struct nft_rules *r = nft_rules_parse(junk, sizeof(junk) - 1);
    cr_assert_not_null(r);
    cr_expect_eq(nft_rules_count(r), 0);
    nft_rules_free(r);
}

/* ---- trace messages ------------------------------------------------------------------- */

struct msg_spec {
    const char *table;
    uint32_t type;      /* NFT_TRACETYPE_* */
    int32_t verdict;    /* for a rule; policy for a policy */
    bool no_id;         /* leave NFTA_TRACE_ID out */
    bool short_verdict; /* a 2-byte NFTA_VERDICT_CODE */
    bool empty_header;  /* an empty NFTA_TRACE_NETWORK_HEADER */
    bool unterminated;  /* the table name without its NUL */
    bool jump_no_chain; /* NFT_JUMP without NFTA_VERDICT_CHAIN */
    const uint8_t *nh;  /* network header */
    size_t nh_len;
};

/* IPv4 10.66.0.1 > 10.66.0.2, TCP 40004 > 8080 SYN, seq 0x11223344 */
static const uint8_t ip4[20] = {0x45, 0, 0,  60, 0x12, 0x34, 0x40, 0,  64, 6,
                                0,    0, 10, 66, 0,    1,    10,   66, 0,  2};
static const uint8_t tcp[20] = {0x9c, 0x44, 0x1f, 0x90, 0x11, 0x22, 0x33, 0x44, 0, 0,
                                0,    0,    0xa0, 0x02, 0xfa, 0xf0, 0,    0,    0, 0};

static struct nlmsghdr *build(char *buf, const struct msg_spec *m)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_TRACE;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = NFPROTO_INET;
    if (!m->no_id) {
        mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(0xabcd0001));
    }
    mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(m->type));
    if (m->unterminated) {
        mnl_attr_put(nlh, NFTA_TRACE_TABLE, strlen(m->table), m->table);
    } else {
        mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, m->table);
    }
    mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, "input");
    mnl_attr_put_u32(nlh, NFTA_TRACE_IIF, htonl(3));
    if (m->type == NFT_TRACETYPE_POLICY) {
        mnl_attr_put_u32(nlh, NFTA_TRACE_POLICY, htonl((uint32_t)m->verdict));
    } else {
        mnl_attr_put_u64(nlh, NFTA_TRACE_RULE_HANDLE, htobe64(6));
        struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);
        if (m->short_verdict) {
            mnl_attr_put_u16(nlh, NFTA_VERDICT_CODE, 0);
        } else {
            mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)m->verdict));
        }
        if (m->verdict == NFT_JUMP && !m->jump_no_chain) {
            mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, "other");
        }
        mnl_attr_nest_end(nlh, nest);
    }
    if (m->empty_header) {
        mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, 0, NULL);
    } else if (m->nh != NULL) {
        mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, m->nh_len, m->nh);
        mnl_attr_put(nlh, NFTA_TRACE_TRANSPORT_HEADER, sizeof(tcp), tcp);
    }
    return nlh;
}

static struct hev_nft *fake_handle(void)
{
    struct hev_nft *h = calloc(1, sizeof(*h));
    cr_assert_not_null(h);
    h->rules = nft_rules_parse(listing, strlen(listing));
    return h;
}

static void free_fake(struct hev_nft *h)
{
    nft_rules_free(h->rules);
    free(h);
}

Test(nft_rules, trace_drop_with_headers)
{
    struct hev_nft *h = fake_handle();
    char buf[1024];
    struct msg_spec m = {.table = "fw",
                         .type = NFT_TRACETYPE_RULE,
                         .verdict = NF_DROP,
                         .nh = ip4,
                         .nh_len = sizeof(ip4)};
    struct hev_nft_event ev;
    cr_assert_eq(nft_trace_message(h, build(buf, &m), 42, &ev), 1);
    cr_expect(ev.have_tuple);
    cr_expect_eq(ev.family, 4);
    cr_expect_eq(ev.sport, 40004);
    cr_expect_eq(ev.dport, 8080);
    cr_expect_eq(ev.seq, 0x11223344u);
    cr_expect_eq(ev.tcp_flags, 0x02);
    cr_expect_eq(ev.iif, 3u);
    cr_expect_eq(ev.trace_id, 0xabcd0001u);
    cr_expect_eq(ev.ts_ns, 42);
    cr_expect_eq(ev.rule_handle, 6);
    cr_expect_eq(ev.rule_state, HEV_NFT_RULE_KNOWN);
    cr_expect_eq(ev.verdict, HEV_NFT_REJECT);
    cr_expect_str_eq(ev.rule_text,
                     "tcp dport 8080 reject with tcp reset comment \"x # handle 77\"");
    free_fake(h);
}

/* The headers come in one message, the verdict in a later one of the same trace id. */
Test(nft_rules, trace_headers_then_verdict)
{
    struct hev_nft *h = fake_handle();
    char buf[1024];
    struct msg_spec first = {.table = "fw",
                             .type = NFT_TRACETYPE_RULE,
                             .verdict = NFT_CONTINUE,
                             .nh = ip4,
                             .nh_len = sizeof(ip4)};
    struct msg_spec jump = {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NFT_JUMP};
    struct msg_spec policy = {.table = "fw", .type = NFT_TRACETYPE_POLICY, .verdict = NF_DROP};
    struct hev_nft_event ev;
    cr_assert_eq(nft_trace_message(h, build(buf, &first), 1, &ev), 0);
    cr_assert_eq(nft_trace_message(h, build(buf, &jump), 1, &ev), 0);
    cr_assert_eq(nft_trace_message(h, build(buf, &policy), 1, &ev), 1);
    cr_expect(ev.have_tuple);
    cr_expect_eq(ev.seq, 0x11223344u);
    cr_expect_eq(ev.rule_state, HEV_NFT_RULE_POLICY);
    cr_expect_eq(ev.verdict, HEV_NFT_DROP);
    cr_expect_eq(ev.rule_handle, 0);
    /* the packet is gone: a verdict for the same id without headers has no tuple */
    cr_assert_eq(nft_trace_message(h, build(buf, &policy), 1, &ev), 1);
    cr_expect(!ev.have_tuple);
    free_fake(h);
}

/* synscope's own tables never decide (and never drop); accept is not a final verdict. */
Test(nft_rules, trace_not_reported)
{
    struct hev_nft *h = fake_handle();
    char buf[1024];
    struct msg_spec own = {
        .table = "synscope_trace_1", .type = NFT_TRACETYPE_RULE, .verdict = NF_DROP};
    struct msg_spec accept = {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NF_ACCEPT};
    struct msg_spec policy = {.table = "fw", .type = NFT_TRACETYPE_POLICY, .verdict = NF_ACCEPT};
    struct hev_nft_event ev;
    cr_expect_eq(nft_trace_message(h, build(buf, &own), 1, &ev), 0);
    cr_expect_eq(nft_trace_message(h, build(buf, &accept), 1, &ev), 0);
    cr_expect_eq(nft_trace_message(h, build(buf, &policy), 1, &ev), 0);
    cr_expect_eq(h->stats.messages, 3);
    free_fake(h);
}

Test(nft_rules, trace_malformed_refused)
{
    struct hev_nft *h = fake_handle();
    char buf[1024];
    const struct msg_spec bad[] = {
        {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NF_DROP, .no_id = true},
        {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NF_DROP, .short_verdict = true},
        {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NF_DROP, .empty_header = true},
        {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NF_DROP, .unterminated = true},
        {.table = "fw", .type = NFT_TRACETYPE_RULE, .verdict = NFT_JUMP, .jump_no_chain = true},
    };
    struct hev_nft_event ev;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(nft_trace_message(h, build(buf, &bad[i]), 1, &ev), -1, "case %zu", i);
    }
    cr_expect_eq(h->stats.malformed, sizeof(bad) / sizeof(bad[0]));
    free_fake(h);
}

/* Short network headers: no tuple, no read beyond them (ASan). */
Test(nft_rules, trace_short_headers)
{
    struct hev_nft *h = fake_handle();
    char buf[1024];
    struct hev_nft_event ev;
    for (size_t len = 1; len < sizeof(ip4); len++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, ip4, len);
        struct msg_spec m = {.table = "fw",
                             .type = NFT_TRACETYPE_RULE,
                             .verdict = NF_DROP,
                             .nh = copy,
                             .nh_len = len};
        cr_expect_eq(nft_trace_message(h, build(buf, &m), 1, &ev), 1);
        cr_expect(!ev.have_tuple, "a %zu-byte header", len);
        free(copy);
    }
    free_fake(h);
}

/* The valid message cut at every length, as a short read would leave it: refused or read,
 * never a crash or an exit. */
Test(nft_rules, trace_truncation_sweep)
{
    struct hev_nft *h = fake_handle();
    char buf[1024];
    struct msg_spec m = {.table = "fw",
                         .type = NFT_TRACETYPE_RULE,
                         .verdict = NF_DROP,
                         .nh = ip4,
                         .nh_len = sizeof(ip4)};
    struct nlmsghdr *full = build(buf, &m);
    uint32_t total = full->nlmsg_len;
    for (uint32_t len = sizeof(struct nlmsghdr); len <= total; len++) {
        char *cut = malloc(len);
        memcpy(cut, buf, len);
        ((struct nlmsghdr *)cut)->nlmsg_len = len;
        struct hev_nft_event ev;
        int rc = nft_trace_message(h, (struct nlmsghdr *)cut, 1, &ev);
        cr_expect(rc >= -1 && rc <= 1);
        free(cut);
    }
    free_fake(h);
}

/* Ruleset notifications: a deleted rule, chain or table marks the snapshot; a malformed one is
 * counted and changes nothing. */
static struct nlmsghdr *change(char *buf, uint16_t type, uint8_t family)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type);
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = family;
    return nlh;
}

Test(nft_rules, ruleset_changes)
{
    struct hev_nft *h = fake_handle();
    char buf[512];
    struct nlmsghdr *nlh = change(buf, NFT_MSG_DELRULE, NFPROTO_INET);
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "fw");
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "input");
    mnl_attr_put_u16(nlh, NFTA_RULE_HANDLE, 5); /* malformed: a handle is 64 bits */
    nft_change_message(h, nlh);
    cr_expect_eq(h->stats.malformed, 1);
    cr_expect(!nft_rules_find(h->rules, NFPROTO_INET, "fw", "input", 5)->changed);
    nlh = change(buf, NFT_MSG_DELRULE, NFPROTO_INET);
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "fw");
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "input");
    mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, htobe64(5));
    nft_change_message(h, nlh);
    cr_expect(nft_rules_find(h->rules, NFPROTO_INET, "fw", "input", 5)->changed);
    cr_expect(!nft_rules_find(h->rules, NFPROTO_INET, "fw", "input", 6)->changed);
    nlh = change(buf, NFT_MSG_DELCHAIN, NFPROTO_INET);
    mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, "fw");
    mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "my chain");
    nft_change_message(h, nlh);
    cr_expect(nft_rules_find(h->rules, NFPROTO_INET, "fw", "my chain", 8)->changed);
    cr_expect(!nft_rules_find(h->rules, NFPROTO_INET, "fw", "input", 6)->changed);
    nlh = change(buf, NFT_MSG_DELTABLE, NFPROTO_IPV6);
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "fw");
    nft_change_message(h, nlh);
    cr_expect(nft_rules_find(h->rules, NFPROTO_IPV6, "fw", "input", 5)->changed);
    cr_expect(!nft_rules_find(h->rules, NFPROTO_INET, "fw", "input", 6)->changed);
    nlh = change(buf, NFT_MSG_NEWRULE, NFPROTO_INET); /* additions change no text */
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "fw");
    nft_change_message(h, nlh);
    cr_expect_eq(h->stats.ruleset_changes, 3);
    free_fake(h);
}
