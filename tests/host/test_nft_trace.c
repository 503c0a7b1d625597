/* test_nft_trace.c - host/ nftables tracing against the real kernel: a SYN dropped or rejected
 * by a rule is named with the rule's handle and text, its 4-tuple and ISN, for IPv4 and
 * IPv6, on the server's input and on the client's output; an accepted SYN gives nothing. */
#include "nft_lab.h"

TestSuite(nft_trace, .init = lab_up, .fini = lab_down, .timeout = 30);

static const char fw_input[] = "table inet fw {\n"
                               "  chain input { type filter hook input priority 0; }\n"
                               "}\n";
static const char fw_output[] = "table inet fw {\n"
                                "  chain output { type filter hook output priority 0; }\n"
                                "}\n";

/* The one event of a SYN from the client's port sport with this ISN, checked field by field
 * against the expected table, chain, handle, verdict and text. */
static void expect_syn_event(const struct lab_events *got, bool v6, uint16_t sport, uint32_t isn,
                             const char *chain, uint64_t handle, enum hev_nft_verdict verdict,
                             const char *text)
{
    cr_assert(got->n >= 1, "no event");
    const struct hev_nft_event *ev = &got->ev[0];
    char a[64], b[64], line[512];
    hev_nft_describe(ev, line, sizeof(line));
    cr_log_info("event: %s %s:%u > %s:%u seq %u: %s (%s)", hev_nft_verdict_name(ev->verdict),
                lab_addr(ev, ev->src, a, sizeof(a)), ev->sport, lab_addr(ev, ev->dst, b, sizeof(b)),
                ev->dport, ev->seq, line, hev_nft_rule_state_name(ev->rule_state));
    cr_assert(ev->have_tuple);
    cr_expect_eq(ev->family, v6 ? 6 : 4);
    cr_expect_eq(ev->ip_proto, IPPROTO_TCP);
    cr_expect_str_eq(lab_addr(ev, ev->src, a, sizeof(a)), v6 ? LAB_CLI6 : LAB_CLI4);
    cr_expect_str_eq(lab_addr(ev, ev->dst, b, sizeof(b)), v6 ? LAB_SRV6 : LAB_SRV4);
    cr_expect_eq(ev->sport, sport);
    cr_expect_eq(ev->dport, LAB_PORT);
    cr_expect_eq(ev->seq, isn, "seq %u, ISN %u", ev->seq, isn);
    cr_expect_eq(ev->tcp_flags & 0x12, 0x02, "a SYN without ACK");
    cr_expect_eq(ev->table_family, 1 /* NFPROTO_INET */);
    cr_expect_str_eq(ev->table, "fw");
    cr_expect_str_eq(ev->chain, chain);
    cr_expect_eq(ev->rule_handle, handle);
    cr_expect_eq(ev->verdict, verdict, "verdict %s", hev_nft_verdict_name(ev->verdict));
    cr_expect_eq(ev->rule_state, HEV_NFT_RULE_KNOWN);
    cr_expect_str_eq(got->text[0], text);
}

/* A rule on the server's input: the client's SYN is traced to it. */
static void input_rule(bool v6, const char *rule, enum hev_nft_verdict verdict, int connect_errno)
{
    lab_nft(lab.srv, fw_input);
    uint64_t handle = lab_add_rule(lab.srv, "inet fw input", rule);
    struct hev_nft *h = lab_open(lab.srv, NULL);
    uint16_t sport = v6 ? 40006 : 40004;
    uint32_t isn = v6 ? 0xc0ffee06u : 0x11223344u;
    int fd = lab_connect(v6, LAB_PORT, isn, sport);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    expect_syn_event(&got, v6, sport, isn, "input", handle, verdict, rule);
    if (connect_errno != 0) { /* the host's answer reached the client */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        cr_expect(poll(&p, 1, 2000) == 1);
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        cr_expect_eq(so_error, connect_errno, "connect: %s", strerror(so_error));
    }
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

Test(nft_trace, drop_v4)
{
    input_rule(false, "tcp dport 8080 drop", HEV_NFT_DROP, 0);
}

Test(nft_trace, drop_v6)
{
    input_rule(true, "tcp dport 8080 drop", HEV_NFT_DROP, 0);
}

Test(nft_trace, reject_tcp_reset_v4)
{
    input_rule(false, "tcp dport 8080 reject with tcp reset", HEV_NFT_REJECT, ECONNREFUSED);
}

Test(nft_trace, reject_tcp_reset_v6)
{
    input_rule(true, "tcp dport 8080 reject with tcp reset", HEV_NFT_REJECT, ECONNREFUSED);
}

/* icmpx admin-prohibited is ICMP type 3 code 13 (connect() fails with EHOSTUNREACH,
 * icmp_err_convert) and ICMPv6 type 1 code 1 (EACCES, icmpv6_err_convert). */
Test(nft_trace, reject_icmpx_admin_v4)
{
    input_rule(false, "tcp dport 8080 reject with icmpx admin-prohibited", HEV_NFT_REJECT,
               EHOSTUNREACH);
}

Test(nft_trace, reject_icmpx_admin_v6)
{
    input_rule(true, "tcp dport 8080 reject with icmpx admin-prohibited", HEV_NFT_REJECT, EACCES);
}

/* A rule on the client's own output: the SYN never leaves the client. */
static void output_drop(bool v6)
{
    lab_nft(lab.cli, fw_output);
    const char *rule = "tcp dport 8080 drop";
    uint64_t handle = lab_add_rule(lab.cli, "inet fw output", rule);
    struct hev_nft *h = lab_open(lab.cli, NULL);
    uint16_t sport = v6 ? 41006 : 41004;
    uint32_t isn = v6 ? 0x0badcafeu : 0x7fffffffu;
    int fd = lab_connect(v6, LAB_PORT, isn, sport);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    expect_syn_event(&got, v6, sport, isn, "output", handle, HEV_NFT_DROP, rule);
    cr_expect_eq(got.ev[0].iif, 0u, "a local packet has no input interface");
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

Test(nft_trace, output_drop_v4)
{
    output_drop(false);
}

Test(nft_trace, output_drop_v6)
{
    output_drop(true);
}

/* A rule that accepts in one table, a chain without rules (policy accept) in another, a
 * listener: the handshake is traced (messages are read) and nothing is reported. */
static void accepted(bool v6)
{
    lab_nft(lab.srv, fw_input);
    lab_add_rule(lab.srv, "inet fw input", "tcp dport 8080 accept");
    lab_nft(lab.srv, "table inet other {\n"
                     "  chain input { type filter hook input priority 10; policy accept; }\n"
                     "}\n");
    int lfd = lab_listen(v6, LAB_PORT);
    struct hev_nft *h = lab_open(lab.srv, NULL);
    int fd = lab_connect(v6, LAB_PORT, 1000, 42000);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    cr_assert(poll(&p, 1, 2000) == 1);
    int so_error = -1;
    socklen_t len = sizeof(so_error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    cr_assert_eq(so_error, 0, "connect: %s", strerror(so_error));
    struct lab_events got = {0};
    lab_collect(h, &got, 1000, 0);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_log_info("accepted: %llu trace messages, %llu packets", (unsigned long long)st.messages,
                (unsigned long long)st.packets);
    cr_expect_geq(st.packets, 2, "the SYN and the SYN-ACK were traced");
    cr_expect_eq(got.n, 0, "an accepted SYN gives no drop");
    cr_expect_eq(st.events, 0);
    close(fd);
    close(lfd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

Test(nft_trace, accepted_v4)
{
    accepted(false);
}

Test(nft_trace, accepted_v6)
{
    accepted(true);
}

/* A chain policy drop: no rule, handle 0. */
Test(nft_trace, policy_drop)
{
    lab_nft(lab.srv, "table inet fw {\n"
                     "  chain input { type filter hook input priority 0; policy drop; }\n"
                     "}\n");
    struct hev_nft *h = lab_open(lab.srv, NULL);
    int fd = lab_connect(false, LAB_PORT, 77, 43000);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1);
    cr_expect_eq(got.ev[0].rule_state, HEV_NFT_RULE_POLICY);
    cr_expect_eq(got.ev[0].verdict, HEV_NFT_DROP);
    cr_expect_eq(got.ev[0].rule_handle, 0);
    cr_expect_str_eq(got.ev[0].chain, "input");
    cr_expect_eq(got.ev[0].seq, 77u);
    char line[256];
    hev_nft_describe(&got.ev[0], line, sizeof(line));
    cr_expect_str_eq(line, "nft inet fw input policy drop");
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* A drop in a regular chain reached by jump: that chain is named, with its rule. */
Test(nft_trace, drop_in_jumped_chain)
{
    lab_nft(lab.srv, "table inet fw {\n"
                     "  chain input { type filter hook input priority 0; }\n"
                     "  chain blocked { }\n"
                     "}\n");
    uint64_t handle = lab_add_rule(lab.srv, "inet fw blocked", "counter drop");
    lab_add_rule(lab.srv, "inet fw input", "tcp dport 8080 jump blocked");
    struct hev_nft *h = lab_open(lab.srv, NULL);
    int fd = lab_connect(true, LAB_PORT, 5, 43001);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1);
    cr_expect_str_eq(got.ev[0].chain, "blocked");
    cr_expect_eq(got.ev[0].rule_handle, handle);
    cr_expect_str_eq(got.text[0], "counter packets 0 bytes 0 drop", "the snapshot's text: %s",
                     got.text[0]);
    cr_expect_eq(got.ev[0].seq, 5u);
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* A rule added after start-up: named by handle, its text unknown, drop or reject unknown. */
Test(nft_trace, rule_added_later)
{
    lab_nft(lab.srv, fw_input);
    struct hev_nft *h = lab_open(lab.srv, NULL);
    uint64_t handle = lab_add_rule(lab.srv, "inet fw input", "tcp dport 8080 reject");
    int fd = lab_connect(false, LAB_PORT, 9, 43002);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1);
    cr_expect_eq(got.ev[0].rule_state, HEV_NFT_RULE_NEW);
    cr_expect_eq(got.ev[0].verdict, HEV_NFT_DROP_OR_REJECT);
    cr_expect_eq(got.ev[0].rule_handle, handle);
    cr_expect_null(got.ev[0].rule_text);
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* The table is deleted and rebuilt after start-up: its handles start again, so the snapshot's
 * text for the same handle belongs to another rule and must not be shown. */
Test(nft_trace, table_rebuilt_later)
{
    lab_nft(lab.srv, fw_input);
    uint64_t first = lab_add_rule(lab.srv, "inet fw input", "tcp dport 9999 accept");
    struct hev_nft *h = lab_open(lab.srv, NULL);
    lab_nft(lab.srv, "delete table inet fw\n");
    lab_nft(lab.srv, fw_input);
    uint64_t again = lab_add_rule(lab.srv, "inet fw input", "tcp dport 8080 drop");
    cr_assert_eq(first, again, "the rebuilt table reuses the handle (%llu, %llu)",
                 (unsigned long long)first, (unsigned long long)again);
    int fd = lab_connect(false, LAB_PORT, 11, 43003);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1);
    cr_expect_eq(got.ev[0].rule_state, HEV_NFT_RULE_CHANGED);
    cr_expect_null(got.ev[0].rule_text, "stale text: %s", got.text[0]);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_expect_geq(st.ruleset_changes, 1);
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* Tables of the ip and ip6 families: the family is part of the rule's key (the same table
 * name may exist in several). */
static void family_table(bool v6)
{
    const char *family = v6 ? "ip6" : "ip";
    char script[256], where[64];
    snprintf(script, sizeof(script),
             "table %s fw {\n  chain input { type filter hook input priority 0; }\n}\n"
             "table inet fw {\n  chain input { type filter hook input priority 10; }\n}\n",
             family);
    lab_nft(lab.srv, script);
    snprintf(where, sizeof(where), "%s fw input", family);
    lab_add_rule(lab.srv, "inet fw input", "tcp dport 8081 drop"); /* same handle, other port */
    uint64_t handle = lab_add_rule(lab.srv, where, "tcp dport 8080 counter drop");
    struct hev_nft *h = lab_open(lab.srv, NULL);
    int fd = lab_connect(v6, LAB_PORT, 3, 43010);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1);
    cr_expect_eq(got.ev[0].table_family, v6 ? 10 : 2);
    cr_expect_eq(got.ev[0].rule_handle, handle);
    cr_expect_eq(got.ev[0].rule_state, HEV_NFT_RULE_KNOWN);
    cr_expect_str_eq(got.text[0], "tcp dport 8080 counter packets 0 bytes 0 drop");
    char line[512], want[512];
    hev_nft_describe(&got.ev[0], line, sizeof(line));
    snprintf(want, sizeof(want), "nft %s fw input handle %llu: %s", family,
             (unsigned long long)handle, got.text[0]);
    cr_expect_str_eq(line, want);
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

Test(nft_trace, ip_family_table)
{
    family_table(false);
}

Test(nft_trace, ip6_family_table)
{
    family_table(true);
}

/* A firewall reload (`flush ruleset`, then the new rules) during the capture: the owned table
 * survives it and tracing goes on; an unowned one is removed, which the stats say. */
Test(nft_trace, flush_ruleset_owned)
{
    struct hev_nft *h = lab_open(lab.srv, NULL);
    lab_nft(lab.srv, "flush ruleset\n");
    lab_nft(lab.srv, fw_input);
    uint64_t handle = lab_add_rule(lab.srv, "inet fw input", "tcp dport 8080 drop");
    int fd = lab_connect(false, LAB_PORT, 21, 43020);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1, "tracing stopped with the reload");
    cr_expect_eq(got.ev[0].rule_handle, handle);
    cr_expect_eq(got.ev[0].rule_state, HEV_NFT_RULE_NEW);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_expect_eq(st.table_removed, 0);
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

Test(nft_trace, flush_ruleset_unowned)
{
    struct hev_nft_config cfg = {.no_owner = true};
    struct hev_nft *h = lab_open(lab.srv, &cfg);
    lab_nft(lab.srv, "flush ruleset\n");
    struct lab_events got = {0};
    lab_collect(h, &got, 300, 0);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_expect_eq(st.table_removed, 1, "%llu", (unsigned long long)st.table_removed);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* Without the nft program there is no snapshot: the rule is named by table, chain and handle,
 * and a drop cannot be told from a reject. */
Test(nft_trace, no_nft_program)
{
    lab_nft(lab.srv, fw_input);
    uint64_t handle = lab_add_rule(lab.srv, "inet fw input", "tcp dport 8080 reject");
    struct hev_nft_config cfg = {.nft_path = "/nonexistent/nft"};
    struct hev_nft *h = lab_open(lab.srv, &cfg);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_expect_eq(st.snapshot_rules, 0);
    int fd = lab_connect(false, LAB_PORT, 31, 43030);
    struct lab_events got = {0};
    lab_collect(h, &got, 3000, 1);
    cr_assert_eq(got.n, 1);
    cr_expect_eq(got.ev[0].rule_state, HEV_NFT_RULE_NO_TEXT);
    cr_expect_eq(got.ev[0].verdict, HEV_NFT_DROP_OR_REJECT);
    cr_expect_null(got.ev[0].rule_text);
    char line[256], want[128];
    hev_nft_describe(&got.ev[0], line, sizeof(line));
    snprintf(want, sizeof(want), "nft inet fw input handle %llu", (unsigned long long)handle);
    cr_expect_str_eq(line, want);
    close(fd);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}
