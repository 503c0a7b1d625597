/* test_decode_parse.c - dec_packet() on inline packets: every link type, IPv4 and IPv6, TCP
 * options, ICMP errors, malformed frames, a truncation sweep and random bytes. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* ------------------------------------------------------------------------------------------ */
/* Fixtures. Addresses: client 192.0.2.1 / 2001:db8::1 port 55982, server 198.51.100.2 /
 * 2001:db8::2 port 80, router 203.0.113.9. IPv4 header checksums are correct (checked by the
 * fixtures_ip4_checksums test); TCP and ICMP checksums are correct except where noted.        */

/* Ethernet: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, ethertype IPv4 */
static const uint8_t eth_ip4[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02,
                                  0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00};
/* Ethernet: same addresses, ethertype IPv6 */
static const uint8_t eth_ip6[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02,
                                  0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd};
/* Ethernet 802.1Q: ethertype 0x8100, TCI priority 0 VLAN 100, inner ethertype IPv4 */
static const uint8_t eth_vlan_ip4[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00,
                                       0x00, 0x00, 0x01, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00};
/* Ethernet QinQ: 802.1ad 0x88a8 VLAN 200, then 802.1Q 0x8100 VLAN 100, then IPv6 */
static const uint8_t eth_qinq_ip6[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
                                       0x00, 0x00, 0x00, 0x01, 0x88, 0xa8, 0x00, 0xc8,
                                       0x81, 0x00, 0x00, 0x64, 0x86, 0xdd};
/* Ethernet old-style QinQ: 0x9100 VLAN 300, then 0x8100 VLAN 100, then IPv4 */
static const uint8_t eth_qinq9100_ip4[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
                                           0x00, 0x00, 0x00, 0x01, 0x91, 0x00, 0x01, 0x2c,
                                           0x81, 0x00, 0x00, 0x64, 0x08, 0x00};
/* Ethernet MPLS unicast 0x8847: label 100 (TC 0, S 0, TTL 64), label 200 (S 1, TTL 64) */
static const uint8_t eth_mpls2[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
                                    0x00, 0x00, 0x00, 0x01, 0x88, 0x47, 0x00, 0x06,
                                    0x40, 0x40, 0x00, 0x0c, 0x81, 0x40};
/* Ethernet MPLS multicast 0x8848: one label 16 with S 1 */
static const uint8_t eth_mpls1_mc[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00,
                                       0x00, 0x00, 0x01, 0x88, 0x48, 0x00, 0x01, 0x01, 0x40};
/* Ethernet ARP (ethertype 0x0806) request who-has 198.51.100.2 tell 192.0.2.1 */
static const uint8_t eth_arp[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
                                  0x01, 0x08, 0x06,
                                  /* ARP: Ethernet, IPv4, hlen 6, plen 4, request */
                                  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
                                  /* sender MAC, sender IP, target MAC, target IP */
                                  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x02};
/* Linux cooked v1: packet type 0 (to us), ARPHRD_ETHER, address length 6, address + 2 pad,
 * protocol IPv4 */
static const uint8_t sll_ip4[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x02, 0x00,
                                  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00};
/* Linux cooked v2: protocol IPv6, reserved, ifindex 2, ARPHRD_ETHER, packet type 4 (outgoing),
 * address length 6, address + 2 pad */
static const uint8_t sll2_ip6[] = {0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
                                   0x04, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
/* Linux cooked v2: protocol IPv4, otherwise as above */
static const uint8_t sll2_ip4[] = {0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
                                   0x04, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
/* BSD NULL: AF_INET (2) written by a little-endian host */
static const uint8_t null_le_ip4[] = {0x02, 0x00, 0x00, 0x00};
/* BSD NULL: AF_INET (2) written by a big-endian host */
static const uint8_t null_be_ip4[] = {0x00, 0x00, 0x00, 0x02};
/* BSD NULL: AF_INET6 of macOS (30), little-endian */
static const uint8_t null_le_ip6_darwin[] = {0x1e, 0x00, 0x00, 0x00};
/* BSD NULL: AF_INET6 of FreeBSD (28), big-endian */
static const uint8_t null_be_ip6_freebsd[] = {0x00, 0x00, 0x00, 0x1c};
/* OpenBSD LOOP: AF_INET (2), network order */
static const uint8_t loop_ip4[] = {0x00, 0x00, 0x00, 0x02};
/* OpenBSD LOOP: AF_INET6 of OpenBSD (24), network order */
static const uint8_t loop_ip6[] = {0x00, 0x00, 0x00, 0x18};

/* IPv4: IHL 5, total length 60, ID 0x1c46, DF, TTL 64, TCP, 192.0.2.1 -> 198.51.100.2 */
static const uint8_t ip4_syn_hdr[] = {0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06,
                                      0x32, 0x3f, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02};
/* TCP: 55982 -> 80, seq 0x11223344, ack 0, data offset 10, SYN, window 64240 */
static const uint8_t tcp_syn_opts[] = {
    0xda, 0xae, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
    0x16, 0x2d, 0x00, 0x00,
    /* options: MSS 1460, SACK permitted, timestamps 666428/0, NOP, window scale 7 */
    0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x0a, 0x2b, 0x3c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x03, 0x03, 0x07};

/* IPv6: payload length 40, next header TCP, hop limit 64, 2001:db8::2 -> 2001:db8::1 */
static const uint8_t ip6_synack_hdr[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
/* TCP: 80 -> 55982, seq 0x55667788, ack 0x11223345, data offset 10, SYN+ACK, window 64800 */
static const uint8_t tcp_synack_opts[] = {
    0x00, 0x50, 0xda, 0xae, 0x55, 0x66, 0x77, 0x88, 0x11, 0x22, 0x33, 0x45, 0xa0, 0x12, 0xfd, 0x20,
    0x2c, 0x06, 0x00, 0x00,
    /* options: MSS 1440, SACK permitted, timestamps 43981/666428, NOP, window scale 7 */
    0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0xab, 0xcd, 0x00, 0x0a, 0x2b, 0x3c,
    0x01, 0x03, 0x03, 0x07};

/* IPv4: total length 40, ID 0, DF, TTL 64, TCP, 198.51.100.2 -> 192.0.2.1 */
static const uint8_t ip4_rst_hdr[] = {0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
                                      0x4e, 0x99, 0xc6, 0x33, 0x64, 0x02, 0xc0, 0x00, 0x02, 0x01};
/* TCP: 80 -> 55982, seq 0, ack 0x11223345, data offset 5, RST+ACK, window 0 */
static const uint8_t tcp_rst[] = {0x00, 0x50, 0xda, 0xae, 0x00, 0x00, 0x00, 0x00, 0x11, 0x22,
                                  0x33, 0x45, 0x50, 0x14, 0x00, 0x00, 0xa4, 0x33, 0x00, 0x00};
/* Ethernet padding up to the 60-byte minimum: not zeros, so reading it would show */
static const uint8_t eth_padding[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};

/* IPv4: IHL 6, total length 44, ID 0x1c48, DF, TTL 64, TCP, 192.0.2.1 -> 198.51.100.2,
 * option Router Alert (RFC 2113) */
static const uint8_t ip4_opts_hdr[] = {0x46, 0x00, 0x00, 0x2c, 0x1c, 0x48, 0x40, 0x00,
                                       0x40, 0x06, 0x9d, 0x48, 0xc0, 0x00, 0x02, 0x01,
                                       0xc6, 0x33, 0x64, 0x02, 0x94, 0x04, 0x00, 0x00};
/* TCP: 55982 -> 80, seq 0x11223344, data offset 5, SYN, window 64240, no options */
static const uint8_t tcp_syn_plain[] = {0xda, 0xae, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00,
                                        0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0, 0xa9, 0x55, 0x00, 0x00};

/* IPv4 first fragment: total length 60, ID 0x1234, MF, offset 0, TTL 64, TCP (then
 * tcp_syn_opts; its checksum is the unfragmented one) */
static const uint8_t ip4_frag_first_hdr[] = {0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x20,
                                             0x00, 0x40, 0x06, 0x5c, 0x51, 0xc0, 0x00,
                                             0x02, 0x01, 0xc6, 0x33, 0x64, 0x02};
/* IPv4 later fragment: total length 28, ID 0x1234, offset 5 (40 bytes), TTL 64, TCP */
static const uint8_t ip4_frag_later_hdr[] = {0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x00,
                                             0x05, 0x40, 0x06, 0x7c, 0x6c, 0xc0, 0x00,
                                             0x02, 0x01, 0xc6, 0x33, 0x64, 0x02};
/* 8 bytes from the middle of a TCP segment */
static const uint8_t frag_data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

/* IPv6: payload length 48, next header hop-by-hop (0), hop limit 64, 2001:db8::1 ->
 * 2001:db8::2 */
static const uint8_t ip6_ext_hdr[] = {0x60, 0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x40, 0x20, 0x01,
                                      0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
/* hop-by-hop (next: destination options, length 0 = 8 bytes, PadN 4),
 * destination options (next: fragment, PadN 4),
 * fragment (next: TCP, offset 0, M 1, identification 0xdeadbeef) */
static const uint8_t ip6_ext_chain[] = {0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
                                        0x2c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
                                        0x06, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
/* TCP: 55982 -> 80, seq 0x11223345, ack 0x55667789, data offset 5, PSH+ACK, window 64240,
 * 4 bytes of payload "abcd" */
static const uint8_t tcp_psh_data[] = {0xda, 0xae, 0x00, 0x50, 0x11, 0x22, 0x33, 0x45,
                                       0x55, 0x66, 0x77, 0x89, 0x50, 0x18, 0xfa, 0xf0,
                                       0xa8, 0x46, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64};

/* IPv6: payload length 24, next header destination options (60), 2001:db8::1 -> ::2 */
static const uint8_t ip6_frag_later_hdr[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3c, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
/* destination options (next: fragment), fragment (next: TCP, offset 21 = 168 bytes, M 0) */
static const uint8_t ip6_frag_later_chain[] = {0x2c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
                                               0x06, 0x00, 0x00, 0xa8, 0xde, 0xad, 0xbe, 0xef};

/* IPv4: total length 56, TOS 0xc0, ID 0x4d2e, TTL 64, ICMP, 203.0.113.9 -> 192.0.2.1 */
static const uint8_t ip4_icmp_unreach_hdr[] = {0x45, 0xc0, 0x00, 0x38, 0x4d, 0x2e, 0x00,
                                               0x00, 0x40, 0x01, 0x2e, 0xcc, 0xcb, 0x00,
                                               0x71, 0x09, 0xc0, 0x00, 0x02, 0x01};
/* ICMP: type 3 destination unreachable, code 1 host unreachable, unused */
static const uint8_t icmp_host_unreach[] = {0x03, 0x01, 0xdd, 0x99, 0x00, 0x00, 0x00, 0x00};
/* quoted: the SYN's IPv4 header (ip4_syn_hdr: total length 60 though only 28 are quoted) and
 * its first 8 TCP bytes: 55982 -> 80, seq 0x11223344 */
static const uint8_t quoted_tcp8[] = {0xda, 0xae, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44};

/* IPv4: total length 56, TOS 0xc0, ID 7, TTL 254, ICMP, 203.0.113.9 -> 192.0.2.1 */
static const uint8_t ip4_icmp_ttl_hdr[] = {0x45, 0xc0, 0x00, 0x38, 0x00, 0x07, 0x00,
                                           0x00, 0xfe, 0x01, 0xbd, 0xf2, 0xcb, 0x00,
                                           0x71, 0x09, 0xc0, 0x00, 0x02, 0x01};
/* ICMP: type 11 time exceeded, code 0 in transit */
static const uint8_t icmp_time_exceeded[] = {0x0b, 0x00, 0xd5, 0x9a, 0x00, 0x00, 0x00, 0x00};
/* quoted IPv4: the SYN as the router saw it, TTL 1 */
static const uint8_t quoted_ip4_ttl1[] = {0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40,
                                          0x00, 0x01, 0x06, 0x71, 0x3f, 0xc0, 0x00,
                                          0x02, 0x01, 0xc6, 0x33, 0x64, 0x02};

/* IPv4: total length 28, ID 1, DF, TTL 64, ICMP, 192.0.2.1 -> 198.51.100.2 */
static const uint8_t ip4_icmp_echo_hdr[] = {0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x40,
                                            0x00, 0x40, 0x01, 0x4e, 0xa9, 0xc0, 0x00,
                                            0x02, 0x01, 0xc6, 0x33, 0x64, 0x02};
/* ICMP: type 8 echo request, id 1, sequence 1 */
static const uint8_t icmp_echo[] = {0x08, 0x00, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x01};

/* IPv4: total length 56, TOS 0xc0, ID 0x4d2f, TTL 64, ICMP, 198.51.100.2 -> 192.0.2.1 */
static const uint8_t ip4_icmp_udp_hdr[] = {0x45, 0xc0, 0x00, 0x38, 0x4d, 0x2f, 0x00,
                                           0x00, 0x40, 0x01, 0x40, 0x9f, 0xc6, 0x33,
                                           0x64, 0x02, 0xc0, 0x00, 0x02, 0x01};
/* ICMP: type 3, code 3 port unreachable */
static const uint8_t icmp_port_unreach[] = {0x03, 0x03, 0x2b, 0xb7, 0x00, 0x00, 0x00, 0x00};
/* quoted IPv4: total length 36, ID 2, DF, TTL 64, UDP, 192.0.2.1 -> 198.51.100.2 */
static const uint8_t quoted_ip4_udp[] = {0x45, 0x00, 0x00, 0x24, 0x00, 0x02, 0x40,
                                         0x00, 0x40, 0x11, 0x4e, 0x90, 0xc0, 0x00,
                                         0x02, 0x01, 0xc6, 0x33, 0x64, 0x02};
/* quoted UDP: 53504 -> 53, length 16 */
static const uint8_t quoted_udp8[] = {0xd1, 0x00, 0x00, 0x35, 0x00, 0x10, 0x00, 0x00};

/* IPv6: payload length 68, next header ICMPv6, hop limit 64, 2001:db8::2 -> 2001:db8::1 */
static const uint8_t ip6_icmp6_hdr[] = {0x60, 0x00, 0x00, 0x00, 0x00, 0x44, 0x3a, 0x40, 0x20, 0x01,
                                        0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
/* ICMPv6: type 1 destination unreachable, code 4 port unreachable, unused */
static const uint8_t icmp6_port_unreach[] = {0x01, 0x04, 0x3c, 0xce, 0x00, 0x00, 0x00, 0x00};
/* quoted IPv6: payload length 20, next header TCP, hop limit 64, 2001:db8::1 -> ::2 */
static const uint8_t quoted_ip6_syn[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
/* quoted TCP: the whole 20-byte SYN, 55982 -> 80, seq 0x11223344 */
static const uint8_t quoted_tcp20[] = {0xda, 0xae, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00,
                                       0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0, 0x3a, 0x18, 0x00, 0x00};

/* IPv6: payload length 64, next header ICMPv6, hop limit 62, 2001:db8:ffff::9 -> ::1
 * (ICMPv6 checksum not computed) */
static const uint8_t ip6_icmp6_ttl_hdr[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x3e, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
/* ICMPv6: type 3 time exceeded, code 0 hop limit exceeded */
static const uint8_t icmp6_time_exceeded[] = {0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
/* quoted IPv6: payload length 28, next header destination options, hop limit 1 */
static const uint8_t quoted_ip6_dstopts[] = {
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x3c, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
/* quoted destination options: next TCP, PadN 4 */
static const uint8_t quoted_dstopts[] = {0x06, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};

/* ------------------------------------------------------------------------------------------ */
/* Helpers.                                                                                   */

struct part {
    const uint8_t *bytes;
    size_t len;
};

#define PART(array)                                                                                \
    {                                                                                              \
        (array), sizeof(array)                                                                     \
    }
#define MAX_PARTS 6
#define FRAME_MAX 2048

/* A frame assembled from headers, with its link type and what decoding it must give. */
struct fixture {
    const char *name;
    int linktype;
    enum dec_status expect;
    struct part parts[MAX_PARTS];
};

struct frame {
    uint8_t bytes[FRAME_MAX];
    size_t len;
};

static void frame_add(struct frame *frame, const uint8_t *bytes, size_t len)
{
    cr_assert_leq(frame->len + len, sizeof(frame->bytes));
    memcpy(frame->bytes + frame->len, bytes, len);
    frame->len += len;
}

static void frame_build(struct frame *frame, const struct part *parts)
{
    frame->len = 0;
    for (size_t i = 0; i < MAX_PARTS && parts[i].bytes != NULL; i++) {
        frame_add(frame, parts[i].bytes, parts[i].len);
    }
}

#define FRAME(frame, ...)                                                                          \
    do {                                                                                           \
        const struct part frame_parts_[MAX_PARTS] = {__VA_ARGS__};                                 \
        frame_build((frame), frame_parts_);                                                        \
    } while (0)

/* Decodes caplen bytes of a frame that was wirelen long, from a heap copy of exactly caplen
 * bytes, so AddressSanitizer catches a read past the captured bytes. */
static enum dec_status decode_cut(const uint8_t *bytes, size_t caplen, size_t wirelen, int linktype,
                                  struct dec_event *ev)
{
    uint8_t *copy = malloc(caplen > 0 ? caplen : 1);
    enum dec_status status;

    cr_assert_not_null(copy);
    if (caplen > 0) {
        memcpy(copy, bytes, caplen);
    }
    status = dec_packet(copy, caplen, wirelen, linktype, ev);
    free(copy);
    return status;
}

static enum dec_status decode(const struct frame *frame, int linktype, struct dec_event *ev)
{
    return decode_cut(frame->bytes, frame->len, frame->len, linktype, ev);
}

static void expect_status(enum dec_status got, enum dec_status want)
{
    cr_assert_eq(got, want, "status %s, expected %s", dec_status_name(got), dec_status_name(want));
}

static void expect_addr(const struct dec_addr *addr, int family, const char *text)
{
    char buf[64];

    cr_assert_str_eq(dec_addr_str(addr, family, buf, sizeof(buf)), text);
    if (family == 4) {
        for (size_t i = 4; i < sizeof(addr->b); i++) {
            cr_assert_eq(addr->b[i], 0, "IPv4 address byte %zu not zero", i);
        }
    }
}

/* The SYN of ip4_syn_hdr + tcp_syn_opts, every field. */
static void expect_ip4_syn(const struct dec_event *ev, uint8_t notes)
{
    cr_assert_eq(ev->kind, DEC_EV_TCP);
    cr_assert_eq(ev->family, 4);
    cr_assert_eq(ev->ttl, 64);
    cr_assert_eq(ev->tcp_flags, DEC_TCP_SYN);
    cr_assert_eq(ev->notes, notes);
    cr_assert_eq(ev->has_ip_id, 1);
    cr_assert_eq(ev->ip_id, 0x1c46);
    expect_addr(&ev->src, 4, "192.0.2.1");
    expect_addr(&ev->dst, 4, "198.51.100.2");
    cr_assert_eq(ev->sport, 55982);
    cr_assert_eq(ev->dport, 80);
    cr_assert_eq(ev->seq, 0x11223344u);
    cr_assert_eq(ev->ack, 0);
    cr_assert_eq(ev->window, 64240);
    cr_assert_eq(ev->payload_len, 0);
    cr_assert_eq(ev->opts.present,
                 DEC_OPT_MSS | DEC_OPT_SACK_OK | DEC_OPT_TIMESTAMP | DEC_OPT_WSCALE);
    cr_assert_eq(ev->opts.mss, 1460);
    cr_assert_eq(ev->opts.wscale, 7);
    cr_assert_eq(ev->opts.tsval, 666428);
    cr_assert_eq(ev->opts.tsecr, 0);
    cr_assert_eq(ev->icmp_type, 0);
    cr_assert_eq(ev->icmp_code, 0);
    cr_assert_eq(ev->quoted_family, 0);
    cr_assert_eq(ev->quoted_sport, 0);
    cr_assert_eq(ev->quoted_dport, 0);
    cr_assert_eq(ev->quoted_seq, 0);
}

/* The SYN-ACK of ip6_synack_hdr + tcp_synack_opts. */
static void expect_ip6_synack(const struct dec_event *ev, uint8_t notes)
{
    cr_assert_eq(ev->kind, DEC_EV_TCP);
    cr_assert_eq(ev->family, 6);
    cr_assert_eq(ev->ttl, 64);
    cr_assert_eq(ev->tcp_flags, DEC_TCP_SYN | DEC_TCP_ACK);
    cr_assert_eq(ev->notes, notes);
    cr_assert_eq(ev->has_ip_id, 0);
    cr_assert_eq(ev->ip_id, 0);
    expect_addr(&ev->src, 6, "2001:db8::2");
    expect_addr(&ev->dst, 6, "2001:db8::1");
    cr_assert_eq(ev->sport, 80);
    cr_assert_eq(ev->dport, 55982);
    cr_assert_eq(ev->seq, 0x55667788u);
    cr_assert_eq(ev->ack, 0x11223345u);
    cr_assert_eq(ev->window, 64800);
    cr_assert_eq(ev->payload_len, 0);
    cr_assert_eq(ev->opts.present,
                 DEC_OPT_MSS | DEC_OPT_SACK_OK | DEC_OPT_TIMESTAMP | DEC_OPT_WSCALE);
    cr_assert_eq(ev->opts.mss, 1440);
    cr_assert_eq(ev->opts.wscale, 7);
    cr_assert_eq(ev->opts.tsval, 43981);
    cr_assert_eq(ev->opts.tsecr, 666428);
}

/* The ICMP quote of the SYN: 192.0.2.1:55982 -> 198.51.100.2:80, seq 0x11223344. */
static void expect_quoted_syn4(const struct dec_event *ev)
{
    cr_assert_eq(ev->kind, DEC_EV_ICMP);
    cr_assert_eq(ev->tcp_flags, 0);
    cr_assert_eq(ev->quoted_family, 4);
    expect_addr(&ev->quoted_src, 4, "192.0.2.1");
    expect_addr(&ev->quoted_dst, 4, "198.51.100.2");
    cr_assert_eq(ev->quoted_sport, 55982);
    cr_assert_eq(ev->quoted_dport, 80);
    cr_assert_eq(ev->quoted_seq, 0x11223344u);
    cr_assert_eq(ev->sport, 0);
    cr_assert_eq(ev->dport, 0);
    cr_assert_eq(ev->seq, 0);
    cr_assert_eq(ev->opts.present, 0);
}

/* Every valid fixture, used by the per-link tests, the truncation sweep and the fuzz loop. */
static const struct fixture valid_fixtures[] = {
    {"eth-ip4-syn",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"eth-ip6-synack",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_ip6), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"vlan-ip4-syn",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_vlan_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"qinq-ip6-synack",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_qinq_ip6), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"qinq9100-ip4-syn",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_qinq9100_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"mpls-ip4-syn",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_mpls2), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"mpls-mc-ip6-synack",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_mpls1_mc), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"sll-ip4-syn",
     DEC_LINK_LINUX_SLL,
     DEC_OK_TCP,
     {PART(sll_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"sll2-ip6-synack",
     DEC_LINK_LINUX_SLL2,
     DEC_OK_TCP,
     {PART(sll2_ip6), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"sll2-ip4-syn",
     DEC_LINK_LINUX_SLL2,
     DEC_OK_TCP,
     {PART(sll2_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"null-le-ip4-syn",
     DEC_LINK_NULL,
     DEC_OK_TCP,
     {PART(null_le_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"null-be-ip4-syn",
     DEC_LINK_NULL,
     DEC_OK_TCP,
     {PART(null_be_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"null-le-ip6-synack",
     DEC_LINK_NULL,
     DEC_OK_TCP,
     {PART(null_le_ip6_darwin), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"null-be-ip6-synack",
     DEC_LINK_NULL,
     DEC_OK_TCP,
     {PART(null_be_ip6_freebsd), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"loop-ip4-syn",
     DEC_LINK_LOOP,
     DEC_OK_TCP,
     {PART(loop_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"loop-ip6-synack",
     DEC_LINK_LOOP,
     DEC_OK_TCP,
     {PART(loop_ip6), PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"raw-ip4-syn", DEC_LINK_RAW, DEC_OK_TCP, {PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"raw-ip6-synack", DEC_LINK_RAW, DEC_OK_TCP, {PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"rawlt-ip4-syn", DEC_LINK_RAW_LT, DEC_OK_TCP, {PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"rawobsd-ip6-synack",
     DEC_LINK_RAW_OPENBSD,
     DEC_OK_TCP,
     {PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"ipv4-syn", DEC_LINK_IPV4, DEC_OK_TCP, {PART(ip4_syn_hdr), PART(tcp_syn_opts)}},
    {"ipv6-synack", DEC_LINK_IPV6, DEC_OK_TCP, {PART(ip6_synack_hdr), PART(tcp_synack_opts)}},
    {"eth-ip4-options",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_ip4), PART(ip4_opts_hdr), PART(tcp_syn_plain)}},
    {"eth-ip4-rst-padded",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_ip4), PART(ip4_rst_hdr), PART(tcp_rst), PART(eth_padding)}},
    {"eth-ip4-first-fragment",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_ip4), PART(ip4_frag_first_hdr), PART(tcp_syn_opts)}},
    {"eth-ip4-later-fragment",
     DEC_LINK_EN10MB,
     DEC_SKIP_FRAGMENT,
     {PART(eth_ip4), PART(ip4_frag_later_hdr), PART(frag_data)}},
    {"eth-ip6-ext-chain",
     DEC_LINK_EN10MB,
     DEC_OK_TCP,
     {PART(eth_ip6), PART(ip6_ext_hdr), PART(ip6_ext_chain), PART(tcp_psh_data)}},
    {"eth-ip6-later-fragment",
     DEC_LINK_EN10MB,
     DEC_SKIP_FRAGMENT,
     {PART(eth_ip6), PART(ip6_frag_later_hdr), PART(ip6_frag_later_chain), PART(frag_data)}},
    {"eth-icmp-host-unreach",
     DEC_LINK_EN10MB,
     DEC_OK_ICMP,
     {PART(eth_ip4), PART(ip4_icmp_unreach_hdr), PART(icmp_host_unreach), PART(ip4_syn_hdr),
      PART(quoted_tcp8)}},
    {"eth-icmp-time-exceeded",
     DEC_LINK_EN10MB,
     DEC_OK_ICMP,
     {PART(eth_ip4), PART(ip4_icmp_ttl_hdr), PART(icmp_time_exceeded), PART(quoted_ip4_ttl1),
      PART(quoted_tcp8)}},
    {"eth-icmp-echo",
     DEC_LINK_EN10MB,
     DEC_SKIP_NOT_TCP,
     {PART(eth_ip4), PART(ip4_icmp_echo_hdr), PART(icmp_echo)}},
    {"eth-icmp-quoting-udp",
     DEC_LINK_EN10MB,
     DEC_SKIP_NOT_TCP,
     {PART(eth_ip4), PART(ip4_icmp_udp_hdr), PART(icmp_port_unreach), PART(quoted_ip4_udp),
      PART(quoted_udp8)}},
    {"eth-icmp6-port-unreach",
     DEC_LINK_EN10MB,
     DEC_OK_ICMP,
     {PART(eth_ip6), PART(ip6_icmp6_hdr), PART(icmp6_port_unreach), PART(quoted_ip6_syn),
      PART(quoted_tcp20)}},
    {"raw-icmp6-time-exceeded-ext",
     DEC_LINK_RAW,
     DEC_OK_ICMP,
     {PART(ip6_icmp6_ttl_hdr), PART(icmp6_time_exceeded), PART(quoted_ip6_dstopts),
      PART(quoted_dstopts), PART(quoted_tcp20)}},
    {"eth-arp", DEC_LINK_EN10MB, DEC_OK_NEIGH, {PART(eth_arp)}},
};

#define FIXTURE_COUNT (sizeof(valid_fixtures) / sizeof(valid_fixtures[0]))

static const struct fixture *fixture_named(const char *name)
{
    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        if (strcmp(valid_fixtures[i].name, name) == 0) {
            return &valid_fixtures[i];
        }
    }
    cr_assert_fail("no fixture %s", name);
    return NULL;
}

/* Builds the named fixture and decodes it whole, checking its expected status. */
static void decode_fixture(const char *name, struct frame *frame, struct dec_event *ev)
{
    const struct fixture *fixture = fixture_named(name);

    frame_build(frame, fixture->parts);
    expect_status(decode(frame, fixture->linktype, ev), fixture->expect);
}

/* ------------------------------------------------------------------------------------------ */
/* Names and small functions.                                                                 */

Test(names, status_names)
{
    static const char *const want[DEC_P_COUNT] = {
        "ok-tcp",           "ok-icmp",          "ok-neigh",       "skip-not-ip",
        "skip-not-tcp",     "skip-fragment",    "link-truncated", "link-too-many-tags",
        "link-unsupported", "ip-bad-version",   "ip4-truncated",  "ip4-bad-ihl",
        "ip4-bad-length",   "ip6-truncated",    "ip6-bad-length", "ip6-ext-truncated",
        "ip6-ext-bad",      "ip6-ext-too-many", "tcp-truncated",  "tcp-short",
        "tcp-bad-offset",   "icmp-truncated",   "icmp-short",     "icmp-quote-bad"};

    for (int i = 0; i < DEC_P_COUNT; i++) {
        cr_assert_str_eq(dec_status_name((enum dec_status)i), want[i]);
    }
    cr_assert_str_eq(dec_status_name(DEC_P_COUNT), "unknown");
    cr_assert_str_eq(dec_status_name((enum dec_status)(-1)), "unknown");
    cr_assert_str_eq(dec_status_name((enum dec_status)1000), "unknown");
}

Test(names, status_problem_split)
{
    cr_assert_not(dec_status_is_problem(DEC_OK_TCP));
    cr_assert_not(dec_status_is_problem(DEC_SKIP_FRAGMENT));
    cr_assert(dec_status_is_problem(DEC_P_LINK_TRUNCATED));
    cr_assert(dec_status_is_problem(DEC_P_ICMP_QUOTE_BAD));
}

Test(names, link_names)
{
    char buf[24];

    cr_assert_str_eq(dec_link_name(DEC_LINK_NULL, buf, sizeof(buf)), "NULL");
    cr_assert_str_eq(dec_link_name(DEC_LINK_EN10MB, buf, sizeof(buf)), "EN10MB");
    cr_assert_str_eq(dec_link_name(DEC_LINK_RAW, buf, sizeof(buf)), "RAW");
    cr_assert_str_eq(dec_link_name(DEC_LINK_RAW_LT, buf, sizeof(buf)), "RAW");
    cr_assert_str_eq(dec_link_name(DEC_LINK_RAW_OPENBSD, buf, sizeof(buf)), "RAW");
    cr_assert_str_eq(dec_link_name(DEC_LINK_LOOP, buf, sizeof(buf)), "LOOP");
    cr_assert_str_eq(dec_link_name(DEC_LINK_LINUX_SLL, buf, sizeof(buf)), "LINUX_SLL");
    cr_assert_str_eq(dec_link_name(DEC_LINK_IPV4, buf, sizeof(buf)), "IPV4");
    cr_assert_str_eq(dec_link_name(DEC_LINK_IPV6, buf, sizeof(buf)), "IPV6");
    cr_assert_str_eq(dec_link_name(DEC_LINK_LINUX_SLL2, buf, sizeof(buf)), "LINUX_SLL2");
    cr_assert_str_eq(dec_link_name(147, buf, sizeof(buf)), "DLT 147");
    cr_assert_eq(dec_link_name(147, buf, sizeof(buf)), buf);
    cr_assert_str_eq(dec_link_name(-2147483647 - 1, buf, sizeof(buf)), "DLT -2147483648");
    cr_assert_not_null(dec_link_name(147, NULL, 0));
}

Test(names, link_supported)
{
    static const int supported[] = {DEC_LINK_NULL,        DEC_LINK_EN10MB, DEC_LINK_RAW,
                                    DEC_LINK_RAW_OPENBSD, DEC_LINK_RAW_LT, DEC_LINK_LOOP,
                                    DEC_LINK_LINUX_SLL,   DEC_LINK_IPV4,   DEC_LINK_IPV6,
                                    DEC_LINK_LINUX_SLL2};

    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        cr_assert(dec_link_supported(supported[i]), "link type %d", supported[i]);
    }
    cr_assert_not(dec_link_supported(147));
    cr_assert_not(dec_link_supported(-1));
    cr_assert_not(dec_link_supported(105)); /* 802.11 */
}

Test(names, addr_str)
{
    struct dec_addr addr;
    char buf[46];
    char tiny[4];

    memset(&addr, 0, sizeof(addr));
    addr.b[0] = 10;
    addr.b[3] = 7;
    cr_assert_str_eq(dec_addr_str(&addr, 4, buf, sizeof(buf)), "10.0.0.7");
    memset(&addr, 0xff, sizeof(addr));
    cr_assert_str_eq(dec_addr_str(&addr, 6, buf, sizeof(buf)),
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    cr_assert_str_eq(dec_addr_str(&addr, 4, buf, sizeof(buf)), "255.255.255.255");
    cr_assert_str_eq(dec_addr_str(&addr, 5, buf, sizeof(buf)), "?");
    cr_assert_str_eq(dec_addr_str(&addr, 4, tiny, sizeof(tiny)), "");
}

Test(names, unsupported_link)
{
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode(&frame, 147, &ev), DEC_P_LINK_UNSUPPORTED);
    expect_status(decode(&frame, -1, &ev), DEC_P_LINK_UNSUPPORTED);
}

/* ------------------------------------------------------------------------------------------ */
/* Whole packets.                                                                             */

Test(parse, eth_ip4_syn_every_field)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-ip4-syn", &frame, &ev);
    cr_assert_eq(frame.len, 74);
    expect_ip4_syn(&ev, 0);
}

Test(parse, eth_ip6_synack)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
}

Test(parse, vlan_and_qinq)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("vlan-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, DEC_NOTE_VLAN);
    decode_fixture("qinq-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, DEC_NOTE_VLAN);
    decode_fixture("qinq9100-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, DEC_NOTE_VLAN);
}

Test(parse, mpls)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("mpls-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
    decode_fixture("mpls-mc-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
}

Test(parse, mpls_not_ip_after_stack)
{
    /* bottom-of-stack label then a pseudowire control word (first nibble 0): not IP */
    static const uint8_t control_word[] = {0x00, 0x00, 0x00, 0x00};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_mpls1_mc), PART(control_word), PART(eth_ip4));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_SKIP_NOT_IP);
}

Test(parse, mpls_too_many_labels)
{
    /* 9 labels, none with the bottom-of-stack bit */
    static const uint8_t label[] = {0x00, 0x06, 0x40, 0x40};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_mpls1_mc));
    frame.len -= 4;
    for (int i = 0; i < 9; i++) {
        frame_add(&frame, label, sizeof(label));
    }
    frame_add(&frame, ip4_syn_hdr, sizeof(ip4_syn_hdr));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_LINK_TOO_MANY_TAGS);
}

Test(parse, linux_cooked)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("sll-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
    decode_fixture("sll2-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
    decode_fixture("sll2-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
}

Test(parse, linux_cooked_with_vlan_tag)
{
    /* SLL v1 whose protocol is 802.1Q: the tag was left in the payload */
    static const uint8_t sll_vlan[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x02, 0x00,
                                       0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x81, 0x00};
    /* 802.1Q TCI VLAN 5, ethertype IPv4 */
    static const uint8_t tag[] = {0x00, 0x05, 0x08, 0x00};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(sll_vlan), PART(tag), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_LINUX_SLL, &ev), DEC_OK_TCP);
    expect_ip4_syn(&ev, DEC_NOTE_VLAN);
}

Test(parse, null_both_byte_orders)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("null-le-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
    decode_fixture("null-be-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
    decode_fixture("null-le-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
    decode_fixture("null-be-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
}

Test(parse, null_every_ip6_family)
{
    static const uint8_t families[] = {24, 28, 30};
    struct frame frame;
    struct dec_event ev;

    for (size_t i = 0; i < sizeof(families); i++) {
        const uint8_t le[] = {families[i], 0, 0, 0};
        const uint8_t be[] = {0, 0, 0, families[i]};

        FRAME(&frame, PART(le), PART(ip6_synack_hdr), PART(tcp_synack_opts));
        expect_status(decode(&frame, DEC_LINK_NULL, &ev), DEC_OK_TCP);
        FRAME(&frame, PART(be), PART(ip6_synack_hdr), PART(tcp_synack_opts));
        expect_status(decode(&frame, DEC_LINK_NULL, &ev), DEC_OK_TCP);
        expect_status(decode(&frame, DEC_LINK_LOOP, &ev), DEC_OK_TCP);
    }
}

Test(parse, null_other_family)
{
    /* AF 7 (OSI) in either order: not IP */
    static const uint8_t af_osi[] = {0x07, 0x00, 0x00, 0x00};
    /* Linux's AF_INET6 (10) is not a BSD number */
    static const uint8_t af_linux6[] = {0x0a, 0x00, 0x00, 0x00};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(af_osi), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_NULL, &ev), DEC_SKIP_NOT_IP);
    FRAME(&frame, PART(af_linux6), PART(ip6_synack_hdr), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_NULL, &ev), DEC_SKIP_NOT_IP);
}

Test(parse, null_family_disagrees_with_version)
{
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(null_le_ip4), PART(ip6_synack_hdr), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_NULL, &ev), DEC_P_IP_BAD_VERSION);
}

Test(parse, loop_network_order_only)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("loop-ip4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
    decode_fixture("loop-ip6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
    /* LOOP is always network order: a little-endian 2 is not AF_INET */
    FRAME(&frame, PART(null_le_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_LOOP, &ev), DEC_SKIP_NOT_IP);
}

Test(parse, raw_links)
{
    static const int raw_types[] = {DEC_LINK_RAW, DEC_LINK_RAW_LT, DEC_LINK_RAW_OPENBSD};
    struct frame frame4, frame6;
    struct dec_event ev;

    FRAME(&frame4, PART(ip4_syn_hdr), PART(tcp_syn_opts));
    FRAME(&frame6, PART(ip6_synack_hdr), PART(tcp_synack_opts));
    for (size_t i = 0; i < sizeof(raw_types) / sizeof(raw_types[0]); i++) {
        expect_status(decode(&frame4, raw_types[i], &ev), DEC_OK_TCP);
        expect_ip4_syn(&ev, 0);
        expect_status(decode(&frame6, raw_types[i], &ev), DEC_OK_TCP);
        expect_ip6_synack(&ev, 0);
    }
}

Test(parse, raw_bad_version)
{
    static const uint8_t version5[] = {0x55, 0x00, 0x00, 0x14};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(version5), PART(tcp_syn_plain));
    expect_status(decode(&frame, DEC_LINK_RAW, &ev), DEC_P_IP_BAD_VERSION);
}

Test(parse, ipv4_and_ipv6_link_types)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("ipv4-syn", &frame, &ev);
    expect_ip4_syn(&ev, 0);
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_P_IP_BAD_VERSION);
    decode_fixture("ipv6-synack", &frame, &ev);
    expect_ip6_synack(&ev, 0);
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_IP_BAD_VERSION);
}

Test(parse, ethertype_disagrees_with_version)
{
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_ip4), PART(ip6_synack_hdr), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_IP_BAD_VERSION);
}

Test(parse, arp_request)
{
    struct frame frame;
    struct dec_event ev;
    static const uint8_t sender[4] = {192, 0, 2, 1}, target[4] = {198, 51, 100, 2};

    decode_fixture("eth-arp", &frame, &ev);
    cr_assert_eq(ev.kind, DEC_EV_NEIGH);
    cr_assert_eq(ev.family, 4);
    cr_assert_eq(ev.neigh_op, DEC_NEIGH_REQUEST);
    cr_assert_arr_eq(ev.src.b, sender, 4);
    cr_assert_arr_eq(ev.neigh_target.b, target, 4);
    /* an ARP reply: operation 2 */
    uint8_t reply[sizeof(eth_arp)];
    memcpy(reply, eth_arp, sizeof(reply));
    reply[21] = 2;
    cr_assert_eq(dec_packet(reply, sizeof(reply), sizeof(reply), DEC_LINK_EN10MB, &ev),
                 DEC_OK_NEIGH);
    cr_assert_eq(ev.neigh_op, DEC_NEIGH_REPLY);
    /* ARP for another protocol, or cut short: not ours */
    reply[16] = 0x86;
    reply[17] = 0xdd;
    cr_assert_eq(dec_packet(reply, sizeof(reply), sizeof(reply), DEC_LINK_EN10MB, &ev),
                 DEC_SKIP_NOT_IP);
    cr_assert_eq(dec_packet(eth_arp, 30, sizeof(eth_arp), DEC_LINK_EN10MB, &ev),
                 DEC_P_LINK_TRUNCATED);
    cr_assert_eq(dec_packet(eth_arp, 30, 30, DEC_LINK_EN10MB, &ev), DEC_SKIP_NOT_IP);
}

Test(parse, neighbour_solicitation_and_advertisement)
{
    /* Ethernet, IPv6 (next header 58, hop limit 255) fd00::1 -> ff02::1:ff00:2, ICMPv6 135
     * code 0, checksum, reserved, target fd00::2 */
    uint8_t ns[14 + 40 + 24] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x02, 0x02, 0, 0,  0,  0,
                                1,    0x86, 0xdd, 0x60, 0,    0,    0,    0, 24, 58, 255};
    static const uint8_t target[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    struct dec_event ev;

    ns[22] = 0xfd;
    ns[37] = 1;
    ns[38] = 0xff;
    ns[39] = 0x02;
    ns[49] = 1;
    ns[50] = 0xff;
    ns[53] = 2;
    ns[54] = 135;
    memcpy(ns + 62, target, 16);
    cr_assert_eq(dec_packet(ns, sizeof(ns), sizeof(ns), DEC_LINK_EN10MB, &ev), DEC_OK_NEIGH);
    cr_assert_eq(ev.kind, DEC_EV_NEIGH);
    cr_assert_eq(ev.family, 6);
    cr_assert_eq(ev.neigh_op, DEC_NEIGH_REQUEST);
    cr_assert_arr_eq(ev.neigh_target.b, target, 16);
    cr_assert_eq(ev.src.b[0], 0xfd);
    cr_assert_eq(ev.src.b[15], 1);
    ns[54] = 136;
    cr_assert_eq(dec_packet(ns, sizeof(ns), sizeof(ns), DEC_LINK_EN10MB, &ev), DEC_OK_NEIGH);
    cr_assert_eq(ev.neigh_op, DEC_NEIGH_REPLY);
    /* cut by the snap length before the target: a truncation, never a crash */
    for (size_t len = 0; len < sizeof(ns); len++) {
        enum dec_status st = dec_packet(ns, len, sizeof(ns), DEC_LINK_EN10MB, &ev);
        cr_assert(dec_status_is_problem(st), "len %zu: %s", len, dec_status_name(st));
    }
}

Test(parse, ip4_options)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-ip4-options", &frame, &ev);
    cr_assert_eq(ev.notes, DEC_NOTE_IP4_OPTIONS);
    cr_assert_eq(ev.ip_id, 0x1c48);
    cr_assert_eq(ev.sport, 55982);
    cr_assert_eq(ev.dport, 80);
    cr_assert_eq(ev.seq, 0x11223344u);
    cr_assert_eq(ev.tcp_flags, DEC_TCP_SYN);
    cr_assert_eq(ev.payload_len, 0);
    cr_assert_eq(ev.opts.present, 0);
}

Test(parse, ethernet_padding_is_not_payload)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-ip4-rst-padded", &frame, &ev);
    cr_assert_eq(frame.len, 60);
    cr_assert_eq(ev.payload_len, 0);
    cr_assert_eq(ev.tcp_flags, DEC_TCP_RST | DEC_TCP_ACK);
    cr_assert_eq(ev.ack, 0x11223345u);
    cr_assert_eq(ev.has_ip_id, 1);
    cr_assert_eq(ev.ip_id, 0);
    expect_addr(&ev.src, 4, "198.51.100.2");
    cr_assert_eq(ev.notes, 0);
}

Test(parse, ethernet_fcs_is_not_payload)
{
    /* a trailing 4-byte frame check sequence counted in the wire length */
    static const uint8_t fcs[] = {0x12, 0x34, 0x56, 0x78};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts), PART(fcs));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_OK_TCP);
    expect_ip4_syn(&ev, 0);
}

Test(parse, ip4_fragments)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-ip4-first-fragment", &frame, &ev);
    cr_assert_eq(ev.ip_id, 0x1234);
    cr_assert_eq(ev.opts.mss, 1460);
    cr_assert_eq(ev.tcp_flags, DEC_TCP_SYN);
    decode_fixture("eth-ip4-later-fragment", &frame, &ev);
}

Test(parse, ip6_extension_chain)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-ip6-ext-chain", &frame, &ev);
    cr_assert_eq(ev.family, 6);
    cr_assert_eq(ev.notes, DEC_NOTE_IP6_EXT);
    cr_assert_eq(ev.tcp_flags, DEC_TCP_PSH | DEC_TCP_ACK);
    cr_assert_eq(ev.seq, 0x11223345u);
    cr_assert_eq(ev.ack, 0x55667789u);
    cr_assert_eq(ev.payload_len, 4);
    expect_addr(&ev.src, 6, "2001:db8::1");
    expect_addr(&ev.dst, 6, "2001:db8::2");
    decode_fixture("eth-ip6-later-fragment", &frame, &ev);
}

Test(parse, ip6_routing_ah_and_friends)
{
    /* IPv6: payload length 76 (set below), next header routing (43) */
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    /* routing (next AH, length 0), AH (next mobility, length 1 = 12 bytes),
     * mobility (next HIP), HIP (next shim6), shim6 (next TCP): 8 bytes each */
    static const uint8_t chain[] = {0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* routing */
                                    0x87, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                                    0x00, 0x00, 0x00, 0x07,                          /* AH */
                                    0x8b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  /* mobility */
                                    0x8c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  /* HIP */
                                    0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}; /* shim6 */
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[5] = (uint8_t)(sizeof(chain) + sizeof(tcp_synack_opts));
    ip6[6] = 43;
    FRAME(&frame, PART(ip6), PART(chain), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_OK_TCP);
    expect_ip6_synack(&ev, DEC_NOTE_IP6_EXT);
}

Test(parse, ip6_no_next_header_and_esp)
{
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[6] = 59; /* No Next Header */
    FRAME(&frame, PART(ip6), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_SKIP_NOT_TCP);
    ip6[6] = 50; /* ESP */
    FRAME(&frame, PART(ip6), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_SKIP_NOT_TCP);
    ip6[6] = 17; /* UDP */
    FRAME(&frame, PART(ip6), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_SKIP_NOT_TCP);
}

Test(parse, ip4_not_tcp)
{
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[9] = 17; /* UDP (checksum left stale: not verified) */
    FRAME(&frame, PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_SKIP_NOT_TCP);
}

Test(parse, tso_total_length_zero)
{
    /* Linux hands TSO/BIG TCP super-segments to the capture with total length 0 */
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    static const uint8_t data[100] = {0};
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[2] = 0;
    ip4[3] = 0;
    FRAME(&frame, PART(eth_ip4), PART(ip4), PART(tcp_syn_opts), PART(data));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.payload_len, 100);
}

Test(parse, ip6_payload_length_zero_runs_to_frame_end)
{
    /* jumbogram or BIG TCP: payload length 0 */
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    static const uint8_t data[30] = {0};
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[4] = 0;
    ip6[5] = 0;
    FRAME(&frame, PART(ip6), PART(tcp_synack_opts), PART(data));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.payload_len, 30);
}

Test(parse, payload_len_from_wire_not_caplen)
{
    /* a 1000-byte data segment captured with a 96-byte snap length */
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    static const uint8_t data[960] = {0};
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[2] = (uint8_t)((20 + 40 + 960) >> 8);
    ip4[3] = (uint8_t)((20 + 40 + 960) & 0xff);
    FRAME(&frame, PART(eth_ip4), PART(ip4), PART(tcp_syn_opts), PART(data));
    expect_status(decode_cut(frame.bytes, 96, frame.len, DEC_LINK_EN10MB, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.payload_len, 960);
    cr_assert_eq(ev.notes, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* ICMP errors.                                                                               */

Test(icmp, host_unreachable_quoting_syn)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-icmp-host-unreach", &frame, &ev);
    expect_quoted_syn4(&ev);
    cr_assert_eq(ev.family, 4);
    cr_assert_eq(ev.icmp_type, 3);
    cr_assert_eq(ev.icmp_code, 1);
    cr_assert_eq(ev.ttl, 64);
    cr_assert_eq(ev.has_ip_id, 1);
    cr_assert_eq(ev.ip_id, 0x4d2e);
    expect_addr(&ev.src, 4, "203.0.113.9");
    expect_addr(&ev.dst, 4, "192.0.2.1");
}

Test(icmp, time_exceeded)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-icmp-time-exceeded", &frame, &ev);
    expect_quoted_syn4(&ev);
    cr_assert_eq(ev.icmp_type, 11);
    cr_assert_eq(ev.icmp_code, 0);
    cr_assert_eq(ev.ttl, 254);
    cr_assert_eq(ev.ip_id, 7);
}

Test(icmp, icmp6_port_unreachable)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-icmp6-port-unreach", &frame, &ev);
    cr_assert_eq(ev.kind, DEC_EV_ICMP);
    cr_assert_eq(ev.family, 6);
    cr_assert_eq(ev.has_ip_id, 0);
    cr_assert_eq(ev.icmp_type, 1);
    cr_assert_eq(ev.icmp_code, 4);
    cr_assert_eq(ev.tcp_flags, 0);
    expect_addr(&ev.src, 6, "2001:db8::2");
    expect_addr(&ev.dst, 6, "2001:db8::1");
    cr_assert_eq(ev.quoted_family, 6);
    expect_addr(&ev.quoted_src, 6, "2001:db8::1");
    expect_addr(&ev.quoted_dst, 6, "2001:db8::2");
    cr_assert_eq(ev.quoted_sport, 55982);
    cr_assert_eq(ev.quoted_dport, 80);
    cr_assert_eq(ev.quoted_seq, 0x11223344u);
}

Test(icmp, icmp6_time_exceeded_quoting_extension_header)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("raw-icmp6-time-exceeded-ext", &frame, &ev);
    cr_assert_eq(ev.icmp_type, 3);
    cr_assert_eq(ev.icmp_code, 0);
    cr_assert_eq(ev.ttl, 62);
    expect_addr(&ev.src, 6, "2001:db8:ffff::9");
    cr_assert_eq(ev.quoted_family, 6);
    cr_assert_eq(ev.quoted_sport, 55982);
    cr_assert_eq(ev.quoted_seq, 0x11223344u);
    cr_assert_eq(ev.notes, 0, "the quote's extension headers are not the packet's");
}

Test(icmp, echo_and_udp_quote_are_skipped)
{
    struct frame frame;
    struct dec_event ev;

    decode_fixture("eth-icmp-echo", &frame, &ev);
    decode_fixture("eth-icmp-quoting-udp", &frame, &ev);
}

Test(icmp, other_icmp6_types_skipped)
{
    /* ICMPv6 type 2 packet too big: not one of ours */
    uint8_t icmp6[sizeof(icmp6_port_unreach)];
    struct frame frame;
    struct dec_event ev;

    memcpy(icmp6, icmp6_port_unreach, sizeof(icmp6));
    icmp6[0] = 2;
    FRAME(&frame, PART(ip6_icmp6_hdr), PART(icmp6), PART(quoted_ip6_syn), PART(quoted_tcp20));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_SKIP_NOT_TCP);
}

Test(icmp, quote_inner_ihl_bad)
{
    uint8_t inner[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(inner, ip4_syn_hdr, sizeof(inner));
    inner[0] = 0x44; /* IHL 4 */
    FRAME(&frame, PART(ip4_icmp_unreach_hdr), PART(icmp_host_unreach), PART(inner),
          PART(quoted_tcp8));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_ICMP_QUOTE_BAD);
    inner[0] = 0x65; /* version 6 in an ICMPv4 quote */
    FRAME(&frame, PART(ip4_icmp_unreach_hdr), PART(icmp_host_unreach), PART(inner),
          PART(quoted_tcp8));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_ICMP_QUOTE_BAD);
}

Test(icmp, quote_uses_inner_ihl)
{
    /* the quoted header carries 4 bytes of options (IHL 6): the TCP ports follow them */
    uint8_t outer[sizeof(ip4_icmp_unreach_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(outer, ip4_icmp_unreach_hdr, sizeof(outer));
    outer[3] = 60; /* 20 + 8 + 24 + 8 (checksum left stale) */
    FRAME(&frame, PART(outer), PART(icmp_host_unreach), PART(ip4_opts_hdr), PART(quoted_tcp8));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_OK_ICMP);
    expect_quoted_syn4(&ev);
    cr_assert_eq(ev.notes, 0);
}

Test(icmp, quote_with_four_tcp_bytes)
{
    uint8_t outer[sizeof(ip4_icmp_unreach_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(outer, ip4_icmp_unreach_hdr, sizeof(outer));
    outer[3] = 52; /* 20 + 8 + 20 + 4 */
    FRAME(&frame, PART(outer), PART(icmp_host_unreach), PART(ip4_syn_hdr), PART(quoted_tcp8));
    frame.len -= 4;
    /* malformed on the wire */
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_ICMP_SHORT);
    /* the same quote with the last 4 bytes cut by the snap length */
    outer[3] = 56;
    FRAME(&frame, PART(outer), PART(icmp_host_unreach), PART(ip4_syn_hdr), PART(quoted_tcp8));
    expect_status(decode_cut(frame.bytes, frame.len - 4, frame.len, DEC_LINK_IPV4, &ev),
                  DEC_P_ICMP_TRUNCATED);
}

Test(icmp, quote_ends_inside_inner_header)
{
    uint8_t outer[sizeof(ip4_icmp_unreach_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(outer, ip4_icmp_unreach_hdr, sizeof(outer));
    outer[3] = 40; /* 20 + 8 + 12: the quoted header is cut at 12 bytes */
    FRAME(&frame, PART(outer), PART(icmp_host_unreach), PART(ip4_syn_hdr));
    frame.len -= 8;
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_ICMP_SHORT);
}

Test(icmp, header_short)
{
    /* IPv4 total length 24: only 4 bytes of an ICMP unreachable */
    uint8_t outer[sizeof(ip4_icmp_unreach_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(outer, ip4_icmp_unreach_hdr, sizeof(outer));
    outer[3] = 24;
    FRAME(&frame, PART(outer), PART(icmp_host_unreach));
    frame.len -= 4;
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_ICMP_SHORT);
}

Test(icmp, icmp6_quote_bad_version)
{
    uint8_t inner[sizeof(quoted_ip6_syn)];
    struct frame frame;
    struct dec_event ev;

    memcpy(inner, quoted_ip6_syn, sizeof(inner));
    inner[0] = 0x45;
    FRAME(&frame, PART(ip6_icmp6_hdr), PART(icmp6_port_unreach), PART(inner), PART(quoted_tcp20));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_P_ICMP_QUOTE_BAD);
}

Test(icmp, icmp6_quote_short)
{
    /* payload length 8 + 40 + 4: only 4 TCP bytes quoted */
    uint8_t outer[sizeof(ip6_icmp6_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(outer, ip6_icmp6_hdr, sizeof(outer));
    outer[5] = 52;
    FRAME(&frame, PART(outer), PART(icmp6_port_unreach), PART(quoted_ip6_syn), PART(quoted_tcp8));
    frame.len -= 4;
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_P_ICMP_SHORT);
}

Test(icmp, icmp6_quote_too_many_extension_headers)
{
    /* the quote: 17 destination options headers, each pointing to the next */
    static const uint8_t dstopts[] = {0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    uint8_t outer[sizeof(ip6_icmp6_hdr)];
    uint8_t inner[sizeof(quoted_ip6_syn)];
    struct frame frame;
    struct dec_event ev;

    memcpy(outer, ip6_icmp6_hdr, sizeof(outer));
    memcpy(inner, quoted_ip6_syn, sizeof(inner));
    inner[6] = 60;
    outer[5] = (uint8_t)(8 + 40 + 17 * 8 + 8);
    FRAME(&frame, PART(outer), PART(icmp6_port_unreach), PART(inner));
    for (int i = 0; i < 17; i++) {
        frame_add(&frame, dstopts, sizeof(dstopts));
    }
    frame_add(&frame, quoted_tcp8, sizeof(quoted_tcp8));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_P_ICMP_QUOTE_BAD);
}

/* ------------------------------------------------------------------------------------------ */
/* Malformed packets.                                                                         */

Test(malformed, ip4_bad_ihl)
{
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[0] = 0x44;
    FRAME(&frame, PART(eth_ip4), PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_IP4_BAD_IHL);
    ip4[0] = 0x40;
    FRAME(&frame, PART(eth_ip4), PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_IP4_BAD_IHL);
}

Test(malformed, ip4_ihl_beyond_total_length)
{
    /* IHL 15 (60 bytes) but total length 40 */
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[0] = 0x4f;
    ip4[3] = 40;
    FRAME(&frame, PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_IP4_BAD_LENGTH);
}

Test(malformed, ip4_total_length_too_big)
{
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[3] = 61; /* one more than the 60 bytes on the wire */
    FRAME(&frame, PART(eth_ip4), PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_IP4_BAD_LENGTH);
    /* even when the capture was cut: the wire length is what it is checked against */
    expect_status(decode_cut(frame.bytes, 40, frame.len, DEC_LINK_EN10MB, &ev),
                  DEC_P_IP4_BAD_LENGTH);
}

Test(malformed, ip4_total_length_below_header)
{
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[3] = 19;
    FRAME(&frame, PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_IP4_BAD_LENGTH);
}

Test(malformed, ip4_header_short_or_truncated)
{
    struct dec_event ev;

    /* 10 bytes of IPv4 on the wire: malformed */
    expect_status(decode_cut(ip4_syn_hdr, 10, 10, DEC_LINK_IPV4, &ev), DEC_P_IP4_BAD_LENGTH);
    /* 10 of 60 bytes captured: cut by the snap length */
    expect_status(decode_cut(ip4_syn_hdr, 10, 60, DEC_LINK_IPV4, &ev), DEC_P_IP4_TRUNCATED);
}

Test(malformed, ip6_payload_length_too_big)
{
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[5] = 41;
    FRAME(&frame, PART(eth_ip6), PART(ip6), PART(tcp_synack_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_IP6_BAD_LENGTH);
}

Test(malformed, ip6_header_short_or_truncated)
{
    struct dec_event ev;

    expect_status(decode_cut(ip6_synack_hdr, 30, 30, DEC_LINK_IPV6, &ev), DEC_P_IP6_BAD_LENGTH);
    expect_status(decode_cut(ip6_synack_hdr, 30, 80, DEC_LINK_IPV6, &ev), DEC_P_IP6_TRUNCATED);
}

Test(malformed, ip6_extension_longer_than_payload)
{
    /* hop-by-hop header claiming 16 bytes (length 1) with 8 bytes of payload in all */
    static const uint8_t hbh[] = {0x06, 0x01, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[5] = sizeof(hbh);
    ip6[6] = 0;
    FRAME(&frame, PART(ip6), PART(hbh));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_P_IP6_EXT_BAD);
    /* the same header cut by the snap length inside a longer packet */
    ip6[5] = 44;
    FRAME(&frame, PART(ip6), PART(hbh), PART(hbh), PART(tcp_syn_plain), PART(frag_data));
    expect_status(decode_cut(frame.bytes, 44, frame.len, DEC_LINK_IPV6, &ev),
                  DEC_P_IP6_EXT_TRUNCATED);
}

Test(malformed, ip6_hundred_extension_headers)
{
    static const uint8_t dstopts[] = {0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[4] = (uint8_t)((100 * 8 + 20) >> 8);
    ip6[5] = (uint8_t)((100 * 8 + 20) & 0xff);
    ip6[6] = 60;
    FRAME(&frame, PART(ip6));
    for (int i = 0; i < 100; i++) {
        frame_add(&frame, dstopts, sizeof(dstopts));
    }
    frame.bytes[frame.len - 8] = 6; /* the last points to TCP */
    frame_add(&frame, tcp_syn_plain, sizeof(tcp_syn_plain));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_P_IP6_EXT_TOO_MANY);
}

Test(malformed, ip6_sixteen_extension_headers_are_followed)
{
    static const uint8_t dstopts[] = {0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
    uint8_t ip6[sizeof(ip6_synack_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip6, ip6_synack_hdr, sizeof(ip6));
    ip6[5] = (uint8_t)(16 * 8 + 20);
    ip6[6] = 60;
    FRAME(&frame, PART(ip6));
    for (int i = 0; i < 16; i++) {
        frame_add(&frame, dstopts, sizeof(dstopts));
    }
    frame.bytes[frame.len - 8] = 6;
    frame_add(&frame, tcp_syn_plain, sizeof(tcp_syn_plain));
    expect_status(decode(&frame, DEC_LINK_IPV6, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_IP6_EXT);
}

Test(malformed, twenty_vlan_tags)
{
    static const uint8_t tag[] = {0x00, 0x64, 0x81, 0x00}; /* VLAN 100, next: another tag */
    static const uint8_t last_tag[] = {0x00, 0x64, 0x08, 0x00};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_vlan_ip4));
    frame.len -= 4;
    for (int i = 0; i < 19; i++) {
        frame_add(&frame, tag, sizeof(tag));
    }
    frame_add(&frame, last_tag, sizeof(last_tag));
    frame_add(&frame, ip4_syn_hdr, sizeof(ip4_syn_hdr));
    frame_add(&frame, tcp_syn_opts, sizeof(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_LINK_TOO_MANY_TAGS);
}

Test(malformed, eight_vlan_tags_are_followed)
{
    static const uint8_t tag[] = {0x00, 0x64, 0x81, 0x00};
    static const uint8_t last_tag[] = {0x00, 0x64, 0x08, 0x00};
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_vlan_ip4));
    frame.len -= 4;
    for (int i = 0; i < 7; i++) {
        frame_add(&frame, tag, sizeof(tag));
    }
    frame_add(&frame, last_tag, sizeof(last_tag));
    frame_add(&frame, ip4_syn_hdr, sizeof(ip4_syn_hdr));
    frame_add(&frame, tcp_syn_opts, sizeof(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_OK_TCP);
    expect_ip4_syn(&ev, DEC_NOTE_VLAN);
}

Test(malformed, link_header_short)
{
    struct dec_event ev;

    expect_status(decode_cut(eth_ip4, 13, 13, DEC_LINK_EN10MB, &ev), DEC_P_LINK_TRUNCATED);
    expect_status(decode_cut(sll_ip4, 15, 15, DEC_LINK_LINUX_SLL, &ev), DEC_P_LINK_TRUNCATED);
    expect_status(decode_cut(sll2_ip4, 19, 100, DEC_LINK_LINUX_SLL2, &ev), DEC_P_LINK_TRUNCATED);
    expect_status(decode_cut(null_le_ip4, 3, 3, DEC_LINK_NULL, &ev), DEC_P_LINK_TRUNCATED);
    expect_status(decode_cut(loop_ip4, 2, 60, DEC_LINK_LOOP, &ev), DEC_P_LINK_TRUNCATED);
    expect_status(dec_packet(NULL, 0, 0, DEC_LINK_EN10MB, &ev), DEC_P_LINK_TRUNCATED);
    expect_status(dec_packet(NULL, 0, 0, DEC_LINK_IPV4, &ev), DEC_P_IP4_BAD_LENGTH);
    expect_status(dec_packet(NULL, 0, 40, DEC_LINK_IPV6, &ev), DEC_P_IP6_TRUNCATED);
}

Test(malformed, tcp_data_offset_below_five)
{
    uint8_t tcp[sizeof(tcp_syn_opts)];
    struct frame frame;
    struct dec_event ev;

    memcpy(tcp, tcp_syn_opts, sizeof(tcp));
    tcp[12] = 0x40;
    FRAME(&frame, PART(ip4_syn_hdr), PART(tcp));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_TCP_BAD_OFFSET);
    tcp[12] = 0x00;
    FRAME(&frame, PART(ip4_syn_hdr), PART(tcp));
    expect_status(decode(&frame, DEC_LINK_IPV4, &ev), DEC_P_TCP_BAD_OFFSET);
}

Test(malformed, tcp_data_offset_past_payload)
{
    uint8_t tcp[sizeof(tcp_syn_opts)];
    struct frame frame;
    struct dec_event ev;

    memcpy(tcp, tcp_syn_opts, sizeof(tcp));
    tcp[12] = 0xf0; /* 60 bytes of header in a 40-byte IP payload */
    FRAME(&frame, PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp), PART(eth_padding));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_TCP_BAD_OFFSET);
    /* when the capture is short too, the IP length still shows it is malformed */
    expect_status(decode_cut(frame.bytes, 14 + 20 + 30, frame.len, DEC_LINK_EN10MB, &ev),
                  DEC_P_TCP_BAD_OFFSET);
}

Test(malformed, tcp_short)
{
    /* IPv4 total length 30: 10 bytes of TCP */
    uint8_t ip4[sizeof(ip4_syn_hdr)];
    struct frame frame;
    struct dec_event ev;

    memcpy(ip4, ip4_syn_hdr, sizeof(ip4));
    ip4[3] = 30;
    FRAME(&frame, PART(eth_ip4), PART(ip4), PART(tcp_syn_opts));
    expect_status(decode(&frame, DEC_LINK_EN10MB, &ev), DEC_P_TCP_SHORT);
    expect_status(decode_cut(frame.bytes, 14 + 20 + 5, frame.len, DEC_LINK_EN10MB, &ev),
                  DEC_P_TCP_SHORT);
    /* the same 10 bytes, but cut by the snap length from a full segment */
    FRAME(&frame, PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode_cut(frame.bytes, 14 + 20 + 10, frame.len, DEC_LINK_EN10MB, &ev),
                  DEC_P_TCP_TRUNCATED);
}

/* Decodes ip4_syn_hdr + tcp_syn_opts with its 20 option bytes replaced. */
static enum dec_status decode_with_options(const uint8_t options[20], struct dec_event *ev)
{
    uint8_t tcp[sizeof(tcp_syn_opts)];
    struct frame frame;

    memcpy(tcp, tcp_syn_opts, sizeof(tcp));
    memcpy(tcp + 20, options, 20);
    FRAME(&frame, PART(ip4_syn_hdr), PART(tcp));
    return decode(&frame, DEC_LINK_IPV4, ev);
}

Test(options, length_zero)
{
    /* MSS 1460, then an option of kind 30 with length 0 */
    static const uint8_t options[20] = {0x02, 0x04, 0x05, 0xb4, 0x1e, 0x00, 0x03, 0x03, 0x07};
    struct dec_event ev;

    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_BAD);
    cr_assert_eq(ev.opts.present, DEC_OPT_MSS, "options before the bad one are kept");
    cr_assert_eq(ev.opts.mss, 1460);
    cr_assert_eq(ev.sport, 55982, "the packet is still decoded");
}

Test(options, length_one)
{
    /* window scale 7, then an option of kind 8 with length 1 */
    static const uint8_t options[20] = {0x03, 0x03, 0x07, 0x08, 0x01, 0x02, 0x04, 0x05, 0xb4};
    struct dec_event ev;

    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_BAD);
    cr_assert_eq(ev.opts.present, DEC_OPT_WSCALE);
    cr_assert_eq(ev.opts.wscale, 7);
}

Test(options, running_past_header)
{
    /* NOPs, then a timestamp (length 10) starting 6 bytes before the end of the options */
    static const uint8_t options[20] = {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x04,
                                        0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01};
    struct dec_event ev;

    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_BAD);
    cr_assert_eq(ev.opts.present, DEC_OPT_MSS);
}

Test(options, kind_without_length_at_end)
{
    /* 19 NOPs and then a lone MSS kind byte in the last position */
    uint8_t options[20];
    struct dec_event ev;

    memset(options, 0x01, sizeof(options));
    options[19] = 0x02;
    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_BAD);
    cr_assert_eq(ev.opts.present, 0);
}

Test(options, wrong_length_for_known_option)
{
    /* MSS with length 3 */
    static const uint8_t options[20] = {0x02, 0x03, 0x05, 0x03, 0x03, 0x07};
    struct dec_event ev;

    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_BAD);
    cr_assert_eq(ev.opts.present, 0);
}

Test(options, sack_blocks_and_unknown_options)
{
    /* SACK with one block (length 10), unknown kind 254 length 4, window scale 14, EOL,
     * then junk after EOL that must be ignored */
    static const uint8_t options[20] = {0x05, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
                                        0xfe, 0x04, 0xaa, 0xbb, 0x03, 0x03, 0x0e, 0x00, 0x02, 0x00};
    struct dec_event ev;

    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, 0);
    cr_assert_eq(ev.opts.present, DEC_OPT_SACK | DEC_OPT_WSCALE);
    cr_assert_eq(ev.opts.wscale, 14);
}

Test(options, bad_sack_length)
{
    static const uint8_t options[20] = {0x05, 0x06, 0x00, 0x00, 0x00, 0x01};
    struct dec_event ev;

    expect_status(decode_with_options(options, &ev), DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_BAD);
}

Test(options, cut_by_snap_length)
{
    /* the capture ends 6 bytes into the options: MSS is there, the timestamp is not */
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode_cut(frame.bytes, 14 + 20 + 20 + 6, frame.len, DEC_LINK_EN10MB, &ev),
                  DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_TRUNCATED);
    cr_assert_eq(ev.opts.present, DEC_OPT_MSS | DEC_OPT_SACK_OK);
    cr_assert_eq(ev.opts.mss, 1460);
    cr_assert_eq(ev.seq, 0x11223344u);
    /* cut in the middle of the MSS value: the option is not reported */
    expect_status(decode_cut(frame.bytes, 14 + 20 + 20 + 3, frame.len, DEC_LINK_EN10MB, &ev),
                  DEC_OK_TCP);
    cr_assert_eq(ev.notes, DEC_NOTE_OPT_TRUNCATED);
    cr_assert_eq(ev.opts.present, 0);
    cr_assert_eq(ev.opts.mss, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Properties.                                                                                */

Test(properties, fixtures_ip4_checksums)
{
    /* every IPv4 header in the fixtures has a correct header checksum (RFC 1071) */
    static const struct part headers[] = {
        PART(ip4_syn_hdr),        PART(ip4_rst_hdr),        PART(ip4_opts_hdr),
        PART(ip4_frag_first_hdr), PART(ip4_frag_later_hdr), PART(ip4_icmp_unreach_hdr),
        PART(ip4_icmp_ttl_hdr),   PART(quoted_ip4_ttl1),    PART(ip4_icmp_echo_hdr),
        PART(ip4_icmp_udp_hdr),   PART(quoted_ip4_udp)};

    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        uint32_t sum = 0;

        for (size_t j = 0; j + 1 < headers[i].len; j += 2) {
            sum += ((uint32_t)headers[i].bytes[j] << 8) | headers[i].bytes[j + 1];
        }
        while (sum > 0xffff) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        cr_assert_eq(sum, 0xffff, "IPv4 header %zu: checksum wrong", i);
    }
}

Test(properties, every_fixture_decodes_as_expected)
{
    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        struct frame frame;
        struct dec_event ev;
        enum dec_status status;

        frame_build(&frame, valid_fixtures[i].parts);
        status = decode(&frame, valid_fixtures[i].linktype, &ev);
        cr_assert_eq(status, valid_fixtures[i].expect, "%s: %s, expected %s",
                     valid_fixtures[i].name, dec_status_name(status),
                     dec_status_name(valid_fixtures[i].expect));
    }
}

Test(properties, event_bytes_are_deterministic)
{
    /* padding included: an event filled over garbage equals one filled over zeros */
    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        struct frame frame;
        struct dec_event ev_a, ev_b;

        frame_build(&frame, valid_fixtures[i].parts);
        memset(&ev_a, 0x00, sizeof(ev_a));
        memset(&ev_b, 0xa5, sizeof(ev_b));
        (void)decode(&frame, valid_fixtures[i].linktype, &ev_a);
        (void)decode(&frame, valid_fixtures[i].linktype, &ev_b);
        cr_assert_eq(memcmp(&ev_a, &ev_b, sizeof(ev_a)), 0, "%s", valid_fixtures[i].name);
    }
}

Test(properties, wirelen_below_caplen_is_tolerated)
{
    struct frame frame;
    struct dec_event ev;

    FRAME(&frame, PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(decode_cut(frame.bytes, frame.len, 10, DEC_LINK_EN10MB, &ev), DEC_OK_TCP);
    expect_ip4_syn(&ev, 0);
}

Test(properties, null_event_pointer)
{
    struct frame frame;

    FRAME(&frame, PART(eth_ip4), PART(ip4_syn_hdr), PART(tcp_syn_opts));
    expect_status(dec_packet(frame.bytes, frame.len, frame.len, DEC_LINK_EN10MB, NULL), DEC_OK_TCP);
}

static bool is_truncation(enum dec_status status)
{
    switch (status) {
    case DEC_P_LINK_TRUNCATED:
    case DEC_P_IP4_TRUNCATED:
    case DEC_P_IP6_TRUNCATED:
    case DEC_P_IP6_EXT_TRUNCATED:
    case DEC_P_TCP_TRUNCATED:
    case DEC_P_ICMP_TRUNCATED:
        return true;
    default:
        return false;
    }
}

/* A TCP event from a capture cut inside the options: the same as the full one except for the
 * options lost and the note saying so. */
static void expect_options_cut(const char *name, size_t caplen, const struct dec_event *full,
                               const struct dec_event *cut)
{
    struct dec_event cut_base = *cut;
    struct dec_event full_base = *full;

    cr_assert_eq(cut->notes, full->notes | DEC_NOTE_OPT_TRUNCATED, "%s at %zu: notes %#x", name,
                 caplen, cut->notes);
    cr_assert_eq(cut->opts.present & ~full->opts.present, 0, "%s at %zu: invented options", name,
                 caplen);
    if (cut->opts.present & DEC_OPT_MSS) {
        cr_assert_eq(cut->opts.mss, full->opts.mss, "%s at %zu", name, caplen);
    } else {
        cr_assert_eq(cut->opts.mss, 0, "%s at %zu", name, caplen);
    }
    if (cut->opts.present & DEC_OPT_WSCALE) {
        cr_assert_eq(cut->opts.wscale, full->opts.wscale, "%s at %zu", name, caplen);
    } else {
        cr_assert_eq(cut->opts.wscale, 0, "%s at %zu", name, caplen);
    }
    if (cut->opts.present & DEC_OPT_TIMESTAMP) {
        cr_assert_eq(cut->opts.tsval, full->opts.tsval, "%s at %zu", name, caplen);
        cr_assert_eq(cut->opts.tsecr, full->opts.tsecr, "%s at %zu", name, caplen);
    } else {
        cr_assert_eq(cut->opts.tsval, 0, "%s at %zu", name, caplen);
        cr_assert_eq(cut->opts.tsecr, 0, "%s at %zu", name, caplen);
    }
    /* everything else is byte-identical */
    memset(&cut_base.opts, 0, sizeof(cut_base.opts));
    memset(&full_base.opts, 0, sizeof(full_base.opts));
    cut_base.notes = 0;
    full_base.notes = 0;
    cr_assert_eq(memcmp(&cut_base, &full_base, sizeof(cut_base)), 0,
                 "%s at %zu: fields differ from the full decode", name, caplen);
}

Test(properties, truncation_sweep)
{
    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        const struct fixture *fixture = &valid_fixtures[i];
        struct frame frame;
        struct dec_event full;

        frame_build(&frame, fixture->parts);
        expect_status(decode(&frame, fixture->linktype, &full), fixture->expect);
        for (size_t caplen = 0; caplen <= frame.len; caplen++) {
            struct dec_event cut;
            enum dec_status status =
                decode_cut(frame.bytes, caplen, frame.len, fixture->linktype, &cut);

            if (status != fixture->expect) {
                cr_assert(is_truncation(status), "%s cut at %zu of %zu: %s", fixture->name, caplen,
                          frame.len, dec_status_name(status));
                continue;
            }
            if (status != DEC_OK_TCP && status != DEC_OK_ICMP) {
                continue;
            }
            if (memcmp(&cut, &full, sizeof(cut)) == 0) {
                continue;
            }
            cr_assert_eq(status, DEC_OK_TCP, "%s cut at %zu: ICMP event differs", fixture->name,
                         caplen);
            expect_options_cut(fixture->name, caplen, &full, &cut);
        }
    }
}

/* xorshift64*: a fixed-seed generator, so a failure reproduces. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static const int fuzz_linktypes[] = {DEC_LINK_NULL,
                                     DEC_LINK_EN10MB,
                                     DEC_LINK_RAW,
                                     DEC_LINK_RAW_OPENBSD,
                                     DEC_LINK_RAW_LT,
                                     DEC_LINK_LOOP,
                                     DEC_LINK_LINUX_SLL,
                                     DEC_LINK_IPV4,
                                     DEC_LINK_IPV6,
                                     DEC_LINK_LINUX_SLL2,
                                     147};

/* Decodes and checks what any OK event must satisfy. */
static void decode_and_check(const uint8_t *bytes, size_t caplen, size_t wirelen, int linktype)
{
    struct dec_event ev;
    enum dec_status status = decode_cut(bytes, caplen, wirelen, linktype, &ev);

    cr_assert((int)status >= 0 && (int)status < (int)DEC_P_COUNT);
    cr_assert_str_neq(dec_status_name(status), "unknown");
    if (status == DEC_OK_TCP) {
        cr_assert_eq(ev.kind, DEC_EV_TCP);
        cr_assert(ev.family == 4 || ev.family == 6);
        cr_assert_eq(ev.quoted_family, 0);
        cr_assert_leq(ev.payload_len, wirelen);
    } else if (status == DEC_OK_ICMP) {
        cr_assert_eq(ev.kind, DEC_EV_ICMP);
        cr_assert(ev.family == 4 || ev.family == 6);
        cr_assert_eq(ev.quoted_family, ev.family);
        cr_assert_eq(ev.tcp_flags, 0);
    }
}

Test(properties, random_bytes_never_crash)
{
    uint64_t state = 0x5eed5eed12345678ull;
    uint8_t bytes[512];

    for (int round = 0; round < 6000; round++) {
        size_t len = (size_t)(next_random(&state) % sizeof(bytes));
        int linktype = fuzz_linktypes[round % (sizeof(fuzz_linktypes) / sizeof(int))];

        for (size_t i = 0; i < len; i++) {
            bytes[i] = (uint8_t)next_random(&state);
        }
        /* give half of the buffers a plausible start, so the walk gets past the first check */
        if (round % 2 == 0 && len > 20) {
            if (linktype == DEC_LINK_EN10MB) {
                bytes[12] = (round % 4) ? 0x08 : 0x86;
                bytes[13] = (round % 4) ? 0x00 : 0xdd;
                bytes[14] = (round % 4) ? 0x45 : 0x60;
            } else {
                bytes[0] = (round % 4) ? 0x45 : 0x60;
            }
        }
        decode_and_check(bytes, len, len + (size_t)(next_random(&state) % 3) * 100, linktype);
    }
}

Test(properties, mutated_fixtures_never_crash)
{
    uint64_t state = 0x0123456789abcdefull;

    for (int round = 0; round < 8000; round++) {
        const struct fixture *fixture = &valid_fixtures[next_random(&state) % FIXTURE_COUNT];
        struct frame frame;
        int flips = 1 + (int)(next_random(&state) % 4);
        size_t caplen;

        frame_build(&frame, fixture->parts);
        for (int i = 0; i < flips; i++) {
            size_t at = (size_t)(next_random(&state) % frame.len);

            frame.bytes[at] = (uint8_t)next_random(&state);
        }
        caplen = (size_t)(next_random(&state) % (frame.len + 1));
        decode_and_check(frame.bytes, caplen, frame.len, fixture->linktype);
        decode_and_check(frame.bytes, frame.len, frame.len, fixture->linktype);
    }
}

Test(properties, status_without_event_is_the_same)
{
    /* ev == NULL decodes into a scratch event of its own (dec_packet_no_event): the status must
     * be the one an event would get, for every fixture cut at every length, on every link type
     * as well as its own. */
    static const int links[] = {DEC_LINK_NULL, DEC_LINK_EN10MB,     DEC_LINK_RAW,
                                DEC_LINK_LOOP, DEC_LINK_LINUX_SLL,  DEC_LINK_IPV4,
                                DEC_LINK_IPV6, DEC_LINK_LINUX_SLL2, 9999};

    for (size_t i = 0; i < FIXTURE_COUNT; i++) {
        const struct fixture *fixture = &valid_fixtures[i];
        struct frame frame;

        frame_build(&frame, fixture->parts);
        for (size_t caplen = 0; caplen <= frame.len; caplen++) {
            for (size_t l = 0; l <= sizeof(links) / sizeof(links[0]); l++) {
                int linktype = l < sizeof(links) / sizeof(links[0]) ? links[l] : fixture->linktype;
                struct dec_event ev;
                enum dec_status with_event =
                    decode_cut(frame.bytes, caplen, frame.len, linktype, &ev);
                enum dec_status without =
                    decode_cut(frame.bytes, caplen, frame.len, linktype, NULL);

                cr_assert_eq(without, with_event, "%s cut at %zu, link %d: %s without an event",
                             fixture->name, caplen, linktype, dec_status_name(without));
            }
        }
    }
}
