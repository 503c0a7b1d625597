/* test_capture_filter.c - the BPF expression a capture is filtered with (capture/cap_filter.c):
 * synscope's handshake filter and the user's expression, on untagged, 802.1Q and QinQ frames
 * built here and on the VLAN captures of ../shared/external-pcaps, run with
 * pcap_offline_filter. The live tests check the same on a veth, where the kernel holds the tag. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cap_int.h"
#include "test_paths.h"

/* ---- frames ------------------------------------------------------------------------------- */

struct frame {
    uint8_t bytes[128];
    size_t len;
};

static void put16(struct frame *f, uint16_t v)
{
    f->bytes[f->len++] = (uint8_t)(v >> 8);
    f->bytes[f->len++] = (uint8_t)v;
}

/* An Ethernet frame with the given tags (TPID, VLAN id pairs; 0 tags = untagged) holding an
 * IPv4 TCP segment from 10.0.0.1:40000 to DST:PORT with FLAGS (0x02 SYN, 0x10 ACK). */
static struct frame tcp_frame(const uint16_t (*tags)[2], size_t tag_count, uint32_t dst,
                              uint16_t port, uint8_t flags)
{
    struct frame f = {.len = 0};
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    memcpy(f.bytes, macs, sizeof(macs));
    f.len = sizeof(macs);
    for (size_t i = 0; i < tag_count; i++) {
        put16(&f, tags[i][0]); /* TPID: 0x8100 802.1Q, 0x88a8 802.1ad */
        put16(&f, tags[i][1]); /* PCP 0, DEI 0, VLAN id */
    }
    put16(&f, 0x0800);
    /* IPv4: version 4, IHL 5, total length 40, TTL 64, protocol 6, checksum left 0 */
    static const uint8_t ip[12] = {0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0};
    memcpy(f.bytes + f.len, ip, sizeof(ip));
    f.len += sizeof(ip);
    put16(&f, 0x0a00);
    put16(&f, 0x0001); /* source 10.0.0.1 */
    put16(&f, (uint16_t)(dst >> 16));
    put16(&f, (uint16_t)dst);
    /* TCP: ports, sequence 1, acknowledgement 0, data offset 5, flags, window */
    put16(&f, 40000);
    put16(&f, port);
    put16(&f, 0);
    put16(&f, 1);
    put16(&f, 0);
    put16(&f, 0);
    f.bytes[f.len++] = 0x50;
    f.bytes[f.len++] = flags;
    put16(&f, 65535);
    put16(&f, 0); /* checksum */
    put16(&f, 0); /* urgent pointer */
    return f;
}

#define HOST_A 0x0a010203u /* 10.1.2.3 */
#define HOST_B 0x0a090909u /* 10.9.9.9 */
#define SYN 0x02
#define ACK 0x10

static const uint16_t no_tags[1][2] = {{0, 0}};
static const uint16_t one_tag[1][2] = {{0x8100, 100}};
static const uint16_t other_tag[1][2] = {{0x8100, 200}};
static const uint16_t qinq[2][2] = {{0x88a8, 7}, {0x8100, 100}};

/* Whether the filter built from OURS and USER passes frame F on an Ethernet handle. */
static bool passes(const char *ours, const char *user, const struct frame *f)
{
    pcap_t *pcap = pcap_open_dead(DLT_EN10MB, 256);
    cr_assert_not_null(pcap);
    struct bpf_program prog;
    char err[CAP_ERRBUF_SIZE];
    int rc = cap_compile_filter(pcap, &prog, ours, user, err, sizeof(err));
    cr_assert_eq(rc, 0, "ours %s, user %s: %s", ours ? "set" : "none", user ? user : "none", err);
    struct pcap_pkthdr hdr = {.caplen = (bpf_u_int32)f->len, .len = (bpf_u_int32)f->len};
    bool pass = pcap_offline_filter(&prog, &hdr, f->bytes) != 0;
    pcap_freecode(&prog);
    pcap_close(pcap);
    return pass;
}

/* ---- the keyword test and the expression -------------------------------------------------- */

Test(capture_filter, encapsulation_keywords)
{
    cr_assert(cap_filter_names_encapsulation("vlan 100"));
    cr_assert(cap_filter_names_encapsulation("VLAN"));
    cr_assert(cap_filter_names_encapsulation("tcp and (mpls 29)"));
    cr_assert(cap_filter_names_encapsulation("not vlan and host 10.1.2.3"));
    cr_assert(cap_filter_names_encapsulation("pppoes and ip"));
    cr_assert(cap_filter_names_encapsulation("geneve"));
    cr_assert_not(cap_filter_names_encapsulation("host 10.1.2.3"));
    cr_assert_not(cap_filter_names_encapsulation("tcp port 1"));
    cr_assert_not(cap_filter_names_encapsulation("host mpls-gw.example"));
    cr_assert_not(cap_filter_names_encapsulation("host vlan1"));
    cr_assert_not(cap_filter_names_encapsulation(""));
}

Test(capture_filter, expression_forms)
{
    char *e = cap_filter_expression(NULL, NULL, true);
    cr_assert_null(e, "no expression at all: no filter");
    e = cap_filter_expression(NULL, "host 10.1.2.3", false);
    cr_assert_str_eq(e, "host 10.1.2.3");
    free(e);
    e = cap_filter_expression("arp", "host 10.1.2.3", false);
    cr_assert_str_eq(e, "(arp) and (host 10.1.2.3)");
    free(e);
    e = cap_filter_expression("arp", "host 10.1.2.3", true);
    cr_assert_str_eq(e, "((arp) and (host 10.1.2.3)) or (vlan and (((arp) and (host 10.1.2.3)) or "
                        "(vlan and ((arp) and (host 10.1.2.3)))))");
    free(e);
    /* the user's own vlan comes first, ours after it */
    e = cap_filter_expression("arp", "vlan 100", true);
    cr_assert_str_eq(e, "(vlan 100) and (arp)");
    free(e);
}

/* ---- read --filter: the user's expression alone ------------------------------------------- */

Test(capture_filter, user_expression_matches_untagged_and_tagged_frames)
{
    const char *user = "host 10.1.2.3";
    struct frame plain = tcp_frame(no_tags, 0, HOST_A, 80, SYN);
    struct frame tagged = tcp_frame(one_tag, 1, HOST_A, 80, SYN);
    struct frame stacked = tcp_frame(qinq, 2, HOST_A, 80, SYN);
    cr_assert(passes(NULL, user, &plain), "untagged frame to 10.1.2.3");
    cr_assert(passes(NULL, user, &tagged), "802.1Q frame to 10.1.2.3");
    cr_assert(passes(NULL, user, &stacked), "QinQ frame to 10.1.2.3");
    struct frame other[3] = {tcp_frame(no_tags, 0, HOST_B, 80, SYN),
                             tcp_frame(one_tag, 1, HOST_B, 80, SYN),
                             tcp_frame(qinq, 2, HOST_B, 80, SYN)};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_not(passes(NULL, user, &other[i]), "frame %zu to 10.9.9.9 passed", i);
    }
    /* a port test: the offsets behind one and two tags */
    cr_assert(passes(NULL, "tcp port 80", &stacked));
    cr_assert_not(passes(NULL, "tcp port 81", &stacked));
    cr_assert(passes(NULL, "tcp[tcpflags] & tcp-syn != 0", &tagged));
    cr_assert_not(passes(NULL, "tcp[tcpflags] & tcp-ack != 0", &tagged));
}

Test(capture_filter, user_expression_naming_a_vlan_is_applied_as_written)
{
    struct frame plain = tcp_frame(no_tags, 0, HOST_A, 80, SYN);
    struct frame tagged = tcp_frame(one_tag, 1, HOST_A, 80, SYN);
    struct frame elsewhere = tcp_frame(other_tag, 1, HOST_A, 80, SYN);
    cr_assert(passes(NULL, "vlan 100 and host 10.1.2.3", &tagged));
    cr_assert_not(passes(NULL, "vlan 100 and host 10.1.2.3", &elsewhere));
    cr_assert_not(passes(NULL, "vlan 100 and host 10.1.2.3", &plain));
    cr_assert(passes(NULL, "not vlan", &plain));
    cr_assert_not(passes(NULL, "not vlan", &tagged));
}

/* ---- live: synscope's handshake filter and-ed with the user's ----------------------------- */

Test(capture_filter, handshake_filter_with_user_expression)
{
    const char *ours = cap_handshake_filter();
    const char *user = "host 10.1.2.3";
    const uint16_t(*const tag_sets[])[2] = {no_tags, one_tag, qinq};
    const size_t tag_counts[] = {0, 1, 2};
    for (size_t i = 0; i < 3; i++) {
        struct frame syn = tcp_frame(tag_sets[i], tag_counts[i], HOST_A, 80, SYN);
        struct frame ack = tcp_frame(tag_sets[i], tag_counts[i], HOST_A, 80, ACK);
        struct frame syn_b = tcp_frame(tag_sets[i], tag_counts[i], HOST_B, 80, SYN);
        cr_assert(passes(ours, NULL, &syn), "%zu tags: a SYN passes our filter", i);
        cr_assert(passes(ours, user, &syn), "%zu tags: a SYN to 10.1.2.3 passes ours and 'host'",
                  i);
        cr_assert_not(passes(ours, user, &ack), "%zu tags: a pure ACK passed", i);
        cr_assert_not(passes(ours, NULL, &ack), "%zu tags: a pure ACK passed ours", i);
        cr_assert_not(passes(ours, user, &syn_b), "%zu tags: a SYN to 10.9.9.9 passed", i);
        cr_assert(passes(ours, "tcp port 80", &syn), "%zu tags: 'tcp port 80'", i);
        cr_assert_not(passes(ours, "tcp port 1", &syn), "%zu tags: 'tcp port 1'", i);
        cr_assert_not(passes(ours, "ip6", &syn), "%zu tags: 'ip6' passed an IPv4 SYN", i);
    }
    struct frame tagged = tcp_frame(one_tag, 1, HOST_A, 80, SYN);
    struct frame elsewhere = tcp_frame(other_tag, 1, HOST_A, 80, SYN);
    struct frame tagged_ack = tcp_frame(one_tag, 1, HOST_A, 80, ACK);
    cr_assert(passes(ours, "vlan 100", &tagged));
    cr_assert_not(passes(ours, "vlan 100", &elsewhere));
    cr_assert_not(passes(ours, "vlan 100", &tagged_ack), "ours applies behind the user's vlan");
}

/* A link type without tags in the frame (Linux cooked `any`) takes the untagged form; a user
 * expression that names a vlan there is the user's mistake, reported as theirs. */
Test(capture_filter, cooked_link_type)
{
    pcap_t *pcap = pcap_open_dead(DLT_LINUX_SLL2, 256);
    struct bpf_program prog;
    char err[CAP_ERRBUF_SIZE];
    cr_assert_eq(
        cap_compile_filter(pcap, &prog, cap_handshake_filter(), "host 10.1.2.3", err, sizeof(err)),
        0, "%s", err);
    pcap_freecode(&prog);
    cr_assert_eq(
        cap_compile_filter(pcap, &prog, cap_handshake_filter(), "vlan 100", err, sizeof(err)),
        -CAP_ERR_FILTER);
    cr_assert(strncmp(err, "filter 'vlan 100': ", 19) == 0, "%s", err);
    cr_assert_eq(cap_compile_filter(pcap, &prog, NULL, "host nowhere..", err, sizeof(err)),
                 -CAP_ERR_FILTER);
    cr_assert(strncmp(err, "filter 'host nowhere..': ", 25) == 0, "%s", err);
    pcap_close(pcap);
}

/* ---- the VLAN captures of other projects -------------------------------------------------- */

/* Packets of PATH that pass PROG, or, when PROG is NULL, that pass EXPRESSION compiled by
 * libpcap as written (the reference). */
static size_t count_passing(const char *path, const char *ours, const char *user,
                            const char *expression)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pcap = pcap_open_offline(path, err);
    cr_assert_not_null(pcap, "%s: %s", path, err);
    struct bpf_program prog;
    if (expression != NULL) {
        cr_assert_eq(pcap_compile(pcap, &prog, expression, 1, PCAP_NETMASK_UNKNOWN), 0, "%s: %s",
                     expression, pcap_geterr(pcap));
    } else {
        char cerr[CAP_ERRBUF_SIZE];
        cr_assert_eq(cap_compile_filter(pcap, &prog, ours, user, cerr, sizeof(cerr)), 0, "%s",
                     cerr);
    }
    size_t passing = 0;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    while (pcap_next_ex(pcap, &hdr, &data) == 1) {
        passing += pcap_offline_filter(&prog, hdr, data) != 0;
    }
    pcap_freecode(&prog);
    pcap_close(pcap);
    return passing;
}

Test(capture_filter, external_vlan_captures)
{
    static const struct {
        const char *file;
        const char *host; /* an address seen inside the tags */
    } cases[] = {
        {"zeek_mixed-vlan-mpls.pcap", "10.0.0.15"},
        {"zeek_simpleauth.pcap", NULL},
    };
    char root[4096], path[4300], user[64], reference[2048];
    repo_root(root, sizeof(root));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "%s/../shared/external-pcaps/%s", root, cases[i].file);
        size_t tagged = count_passing(path, NULL, NULL, "vlan");
        cr_assert_gt(tagged, 0, "%s has no VLAN-tagged frame", cases[i].file);
        const char *host = cases[i].host;
        if (host == NULL) {
            /* the first tagged IPv4 packet's destination */
            char err[PCAP_ERRBUF_SIZE];
            pcap_t *pcap = pcap_open_offline(path, err);
            cr_assert_not_null(pcap);
            struct pcap_pkthdr *hdr;
            const u_char *data;
            static char found[32];
            while (pcap_next_ex(pcap, &hdr, &data) == 1) {
                /* 802.1Q, then IPv4: its destination at 14 + 4 + 16 */
                if (hdr->caplen >= 38 && data[12] == 0x81 && data[13] == 0 && data[16] == 8 &&
                    data[17] == 0) {
                    snprintf(found, sizeof(found), "%u.%u.%u.%u", data[34], data[35], data[36],
                             data[37]);
                    break;
                }
            }
            pcap_close(pcap);
            cr_assert_neq(found[0], '\0', "%s: no tagged IPv4 packet", cases[i].file);
            host = found;
        }
        snprintf(user, sizeof(user), "host %s", host);
        /* read --filter: what libpcap selects untagged plus what it selects behind one tag */
        size_t want = count_passing(path, NULL, NULL, user);
        snprintf(reference, sizeof(reference), "vlan and %s", user);
        size_t want_tagged = count_passing(path, NULL, NULL, reference);
        cr_assert_gt(want_tagged, 0, "%s: no tagged packet of %s", cases[i].file, host);
        cr_assert_eq(count_passing(path, NULL, user, NULL), want + want_tagged, "%s, --filter '%s'",
                     cases[i].file, user);
        /* live: the handshake packets among them, tagged or not */
        const char *ours = cap_handshake_filter();
        snprintf(reference, sizeof(reference), "(%s) and %s", ours, user);
        size_t want_hs = count_passing(path, NULL, NULL, reference);
        snprintf(reference, sizeof(reference), "vlan and ((%s) and %s)", ours, user);
        size_t want_hs_tagged = count_passing(path, NULL, NULL, reference);
        cr_assert_gt(want_hs_tagged, 0, "%s: no tagged handshake packet", cases[i].file);
        cr_assert_eq(count_passing(path, ours, user, NULL), want_hs + want_hs_tagged,
                     "%s, live with '%s'", cases[i].file, user);
    }
}

/* The handshake filter passes what the neighbour diagnoses need: every ARP request of the
 * unresolved-neighbour captures, and every neighbour solicitation and advertisement. */
Test(capture_filter, handshake_filter_passes_neighbour_discovery)
{
    static const struct {
        const char *file;
        const char *neighbour; /* libpcap's expression for the neighbour packets */
    } cases[] = {
        {"unresolved-neighbour-v4.pcap", "arp"},
        {"unresolved-neighbour-v6.pcap", "icmp6 and (ip6[40] == 135 or ip6[40] == 136)"},
    };
    char root[4096], path[4300], reference[2048];
    repo_root(root, sizeof(root));
    const char *ours = cap_handshake_filter();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "%s/pcaps/%s", root, cases[i].file);
        size_t neighbour = count_passing(path, NULL, NULL, cases[i].neighbour);
        cr_assert_gt(neighbour, 0, "%s: no neighbour packet", cases[i].file);
        snprintf(reference, sizeof(reference), "(%s) and (%s)", ours, cases[i].neighbour);
        cr_assert_eq(count_passing(path, NULL, NULL, reference), neighbour,
                     "%s: the handshake filter drops neighbour packets", cases[i].file);
        /* and the live filter as a whole passes at least those */
        cr_assert_geq(count_passing(path, ours, NULL, NULL), neighbour, "%s", cases[i].file);
    }
}
