#!/usr/bin/env python3
"""send_frame.py - sends one Ethernet frame holding an IPv4 TCP segment, with or without VLAN
tags, on an interface through an AF_PACKET socket (root; run inside a test's namespace only).

    send_frame.py IFACE SRC_MAC DST_MAC TAGS SRC_IP:PORT DST_IP:PORT FLAGS SEQ ACK

TAGS: "-" for none, else TPID:VID pairs, outermost first ("8100:100", "88a8:7,8100:100").
FLAGS: TCP flags as letters (S, SA, R, RA, F, A). The IPv4 and TCP checksums are right.

The live tests use it to put tagged frames on a veth without the 8021q module: the receiving
side's kernel moves the outer tag into the packet's metadata (as a NIC with VLAN offload
does) and libpcap's filter must test it there, while the sending side's capture sees the tag
in the frame."""
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def endpoint(text):
    host, _, port = text.rpartition(":")
    return socket.inet_aton(host), int(port)


def frame(src_mac, dst_mac, tags, src, dst, flags, seq, ack):
    bits = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}
    flag_bits = sum(bits[c] for c in flags)
    (sip, sport), (dip, dport) = endpoint(src), endpoint(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flag_bits, 64240, 0, 0)
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
    if tags != "-":
        for tag in tags.split(","):
            tpid, vid = tag.split(":")
            eth += struct.pack("!HH", int(tpid, 16), int(vid))
    return eth + struct.pack("!H", 0x0800) + ip + tcp


def main():
    if len(sys.argv) != 10:
        sys.exit(__doc__.split("\n\n")[1])
    iface, src_mac, dst_mac, tags, src, dst, flags, seq, ack = sys.argv[1:]
    data = frame(src_mac, dst_mac, tags, src, dst, flags, int(seq), int(ack))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        s.send(data)


if __name__ == "__main__":
    main()
