#!/usr/bin/env python3
"""forge.py - forged answers to 'synscope probe', sent from the router of the probe tests'
namespace lab (Python 3 standard library only; root, in the router's namespace).

  forge.py IFACE CLIENT TARGET ROUTER PORTS LOG

Watches IFACE (the router's interface towards the client) for SYNs from CLIENT to TARGET on
one of PORTS (comma-separated) and answers each at once, on the wire towards the client, with
three packets that look like answers to it but fail synscope's ISN check:

  syn-ack  SYN-ACK from TARGET, ack = ISN + 2 (one off the SYN's ISN + 1)
  rst      RST+ACK from TARGET, ack = (ISN ^ 0x5a5a5a5a) + 1 (what a blind forger guesses)
  icmp     destination unreachable from ROUTER (ICMP 3/13 admin-prohibited, ICMPv6 1/1),
           quoting the SYN with sequence number ISN + 1

The order of the three turns with the port's place in PORTS (the first port gets syn-ack
first, the second rst first, the third icmp first, ...), so that a prober believing the first
answer it sees would call three filtered ports open, closed and unreachable. CLIENT, TARGET
and ROUTER are all IPv4 or all IPv6. Every forged packet is a line in LOG ("PORT KIND SEQ"),
written when it has been sent. Prints "ready" once it listens; runs until killed.
"""
import ipaddress
import socket
import struct
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
KINDS = ["syn-ack", "rst", "icmp"]


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                      src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def ip6(src, dst, proto, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src, dst) + payload


def l4_sum(v6, src, dst, proto, seg):
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), proto)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    return csum(pseudo + seg)


def tcp(v6, src, dst, sport, dport, seq, ack, flags):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      64240 if flags & 0x02 else 0, 0, 0)
    c = l4_sum(v6, src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    iface, client, target, router, ports, logpath = sys.argv[1:]
    c, t, r = (ipaddress.ip_address(a) for a in (client, target, router))
    v6 = c.version == 6
    cb, tb, rb = c.packed, t.packed, r.packed
    order = {}
    for i, p in enumerate(int(x) for x in ports.split(",")):
        order[p] = KINDS[i % 3:] + KINDS[:i % 3]
    log = open(logpath, "a", buffering=1)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    print("ready", flush=True)
    while True:
        frame, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING or len(frame) < 14:
            continue
        etype = struct.unpack("!H", frame[12:14])[0]
        pkt = frame[14:]
        if not v6 and etype == 0x0800 and len(pkt) >= 20 and pkt[9] == 6:
            ihl = (pkt[0] & 15) * 4
            if pkt[12:16] != cb or pkt[16:20] != tb:
                continue
            quoted_ip, seg = pkt[:ihl], pkt[ihl:]
        elif v6 and etype == 0x86DD and len(pkt) >= 40 and pkt[6] == 6:
            if pkt[8:24] != cb or pkt[24:40] != tb:
                continue
            quoted_ip, seg = pkt[:40], pkt[40:]
        else:
            continue
        if len(seg) < 20:
            continue
        sport, dport, isn = struct.unpack("!HHI", seg[:8])
        if seg[13] & 0x17 != 0x02 or dport not in order:  # a SYN (no ACK, RST, FIN)
            continue
        eth = frame[6:12] + frame[0:6] + frame[12:14]  # back to the sender, from this interface
        mk = ip6 if v6 else ip4
        for kind in order[dport]:
            if kind == "syn-ack":
                seq = (isn + 2) & 0xFFFFFFFF
                out = mk(tb, cb, 6, tcp(v6, tb, cb, dport, sport, 0x1234567, seq, 0x12))
            elif kind == "rst":
                seq = ((isn ^ 0x5A5A5A5A) + 1) & 0xFFFFFFFF
                out = mk(tb, cb, 6, tcp(v6, tb, cb, dport, sport, 0, seq, 0x14))
            else:
                seq = (isn + 1) & 0xFFFFFFFF
                quote = quoted_ip + seg[:4] + struct.pack("!I", seq) + seg[8:20]
                if v6:
                    body = struct.pack("!BBHI", 1, 1, 0, 0) + quote
                    c6 = l4_sum(True, rb, cb, 58, body)
                    out = ip6(rb, cb, 58, body[:2] + struct.pack("!H", c6) + body[4:])
                else:
                    body = struct.pack("!BBHI", 3, 13, 0, 0) + quote
                    out = ip4(rb, cb, 1, body[:2] + struct.pack("!H", csum(body)) + body[4:])
            s.send(eth + out)
            log.write("%d %s %d\n" % (dport, kind, seq))


if __name__ == "__main__":
    main()
