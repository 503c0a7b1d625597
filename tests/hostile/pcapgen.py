#!/usr/bin/env python3
"""pcapgen.py - writes the hostile captures of tests/hostile/ (nothing of them is kept in git).

    pcapgen.py flood N OUT        N SYNs, each a distinct attempt (raw IPv4, 1 us apart)
    pcapgen.py scan N OUT         N SYNs from one client to N distinct servers
    pcapgen.py patho KIND N OUT   N frames of one pathological kind (see PATHO below), or of
                                  the plain SYN they are compared with (KIND plain)
    pcapgen.py absurd DIR         pcap files with absurd header fields (snaplen 0xffffffff,
                                  a record caplen of 2^31, ...), named after what is wrong
    pcapgen.py records FILE       prints the byte offset of every record boundary of a pcap
                                  file (its own parser; pcapng: the block boundaries)

Byte layouts: pcap file header and record header (pcap-savefile(5): magic a1b2c3d4 in the
writer's order, version 2.4, thiszone, sigfigs, snaplen, linktype; ts_sec, ts_usec, caplen,
len); IPv4 (RFC 791), IPv6 (RFC 8200), TCP (RFC 9293 3.1), 802.1Q (IEEE 802.1Q 9.6).
Checksums are left 0: synscope does not verify them (offloading often leaves them unset).
"""
import os
import struct
import sys

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
SYN = 0x02
BASE_SEC = 1700000000


def file_header(linktype, snaplen=65535, magic=0xA1B2C3D4):
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def record_header(ts_ns, caplen, wirelen=None):
    """Microsecond record header (the magic above is the microsecond one)."""
    return struct.pack("<IIII", BASE_SEC + ts_ns // 10**9, (ts_ns % 10**9) // 1000, caplen,
                       caplen if wirelen is None else wirelen)


def ipv4(src, dst, proto, payload_len, ident=1):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0, 64, proto, 0,
                       src, dst)


def tcp(sport, dport, seq, flags=SYN, options=b""):
    assert len(options) % 4 == 0 and len(options) <= 40
    offset = (20 + len(options)) // 4
    return struct.pack(">HHIIBBHHH", sport, dport, seq, 0, offset << 4, flags, 64240, 0, 0) + options


def ether(ethertype, vlan_tags=0):
    head = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    for _ in range(vlan_tags):
        head += struct.pack(">HH", 0x8100, 100)  # TPID, then priority/DEI/VLAN id 100
    return head + struct.pack(">H", ethertype)


def write_flood(count, path, scan=False):
    """count SYNs, each from a distinct (address, port) to 192.0.2.1:80, 1 us apart.

    The source address is 10.0.0.0 + i: a spoofed flood, every client distinct. With scan, the
    other way round: 10.0.0.1 scans the servers 172.16.0.0 + i on port 80, every service
    distinct. The record template is patched in place: about a second per million."""
    dst = bytes([192, 0, 2, 1])
    template = bytearray(record_header(0, 40) + ipv4(b"\0\0\0\0", dst, 6, 20) + tcp(0, 80, 0))
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(file_header(LINKTYPE_RAW))
        batch = bytearray()
        pack_into = struct.pack_into
        for i in range(count):
            ts_us = i  # 1 us apart: the whole flood is within the SYN timeout
            pack_into("<II", template, 0, BASE_SEC + ts_us // 1000000, ts_us % 1000000)
            if scan:
                pack_into(">II", template, 16 + 12, 0x0A000001, 0xAC100000 + i)  # src, dst
            else:
                pack_into(">I", template, 16 + 12, 0x0A000000 + i)  # IPv4 source
            pack_into(">HHI", template, 36, 1024 + i % 64000, 80, i * 2654435761 & 0xFFFFFFFF)
            batch += template
            if len(batch) >= 1 << 22:
                f.write(batch)
                batch = bytearray()
        f.write(batch)


def ip6_ext_chain(count):
    """An IPv6 SYN behind count destination options headers of 8 bytes each (synscope follows
    16, the most a sane sender uses; more is counted as a malformed packet)."""
    src = bytes.fromhex("fd000000000000000000000000000001")
    dst = bytes.fromhex("fd000000000000000000000000000002")
    chain = b""
    for k in range(count):
        following = 60 if k + 1 < count else 6  # destination options ... then TCP
        chain += struct.pack(">BB", following, 0) + b"\x01\x04\x00\x00\x00\x00"  # PadN
    seg = tcp(40000, 80, 1)
    ip6 = struct.pack(">IHBB16s16s", 0x60000000, len(chain) + len(seg), 60, 64, src, dst)
    return ether(0x86DD) + ip6 + chain + seg


PATHO = {
    # the longest IPv6 extension-header chain synscope follows (16), then TCP
    "ip6-ext16": lambda: ip6_ext_chain(16),
    # a longer chain (200 headers) than it follows: cut short and counted
    "ip6-ext200": lambda: ip6_ext_chain(200),
    # 8 nested 802.1Q tags, then an IPv4 SYN with 40 bytes of NOP options (synscope follows
    # 8 tags)
    "vlan8": lambda: ether(0x0800, 8) + ipv4(b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 60)
    + tcp(40000, 80, 1, SYN, b"\x01" * 40),
    # 9 tags: one more than followed
    "vlan9": lambda: ether(0x0800, 9) + ipv4(b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 20)
    + tcp(40000, 80, 1),
    # a TCP options area of 40 NOPs
    "nop40": lambda: ether(0x0800) + ipv4(b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 60)
    + tcp(40000, 80, 1, SYN, b"\x01" * 40),
    # options whose length bytes say 0 and 1 (a parser that trusts them loops forever)
    "optloop": lambda: ether(0x0800) + ipv4(b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 60)
    + tcp(40000, 80, 1, SYN, (b"\x02\x00" + b"\x03\x01") * 10),
    # the plain SYN the others are compared with
    "plain": lambda: ether(0x0800) + ipv4(b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 20)
    + tcp(40000, 80, 1),
}


def write_patho(kind, count, path):
    """count copies of one frame; the source port (and so the attempt) changes every frame so
    the flow engine does the same work for every kind."""
    frame = bytearray(PATHO[kind]())
    # where the TCP source port is: just before the destination port 80 (0x0050) that
    # follows 40000 (0x9c40)
    sport_at = bytes(frame).index(b"\x9c\x40\x00\x50")
    rec = bytearray(record_header(0, len(frame))) + frame
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(file_header(LINKTYPE_ETHERNET))
        for i in range(count):
            struct.pack_into("<II", rec, 0, BASE_SEC + i // 1000000, i % 1000000)
            struct.pack_into(">H", rec, 16 + sport_at, 1024 + i % 60000)
            f.write(rec)


def write_absurd(folder):
    """Files whose headers ask for absurd sizes; each must be refused without allocating."""
    syn = ipv4(b"\x0a\0\0\x01", b"\x0a\0\0\x02", 6, 20) + tcp(40000, 80, 1)
    files = {
        # the file header's snap length is 4 GiB - 1; the one record is an ordinary SYN
        "snaplen-4g": file_header(LINKTYPE_RAW, 0xFFFFFFFF) + record_header(0, len(syn)) + syn,
        # a record that claims 2^31 captured bytes (the file ends after 40)
        "caplen-2g": file_header(LINKTYPE_RAW) + record_header(0, 1 << 31) + syn,
        # a record caplen of 4 GiB - 1, under an absurd snap length too
        "caplen-4g-snaplen-4g": file_header(LINKTYPE_RAW, 0xFFFFFFFF)
        + record_header(0, 0xFFFFFFFF) + syn,
        # caplen larger than the snap length (200 MB > 65535), after one good record
        "caplen-over-snaplen": file_header(LINKTYPE_RAW) + record_header(0, len(syn)) + syn
        + record_header(1000, 200 * 1000 * 1000) + syn,
        # big-endian file, caplen 0x7fffffff
        "caplen-2g-be": struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW)
        + struct.pack(">IIII", BASE_SEC, 0, 0x7FFFFFFF, 0x7FFFFFFF) + syn,
        # pcapng: a section header block whose length says 2^31 (the file is 28 bytes)
        "pcapng-shb-2g": struct.pack("<IIIHHq", 0x0A0D0D0A, 1 << 31, 0x1A2B3C4D, 1, 0, -1)
        + struct.pack("<I", 28),
        # pcapng: a good section and interface (snaplen 0xffffffff), then an enhanced
        # packet block that claims 2^31 bytes
        "pcapng-epb-2g": struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
        + struct.pack("<IIHHII", 1, 20, LINKTYPE_RAW, 0, 0xFFFFFFFF, 20)
        + struct.pack("<IIIIIII", 6, 1 << 31, 0, 0, 0, 1 << 31, 1 << 31) + syn,
    }
    for name, data in files.items():
        with open(os.path.join(folder, name + (".pcapng" if "pcapng" in name else ".pcap")),
                  "wb") as f:
            f.write(data)


def record_boundaries(path):
    """Offsets where a record (pcap) or block (pcapng) ends, the end of the file header
    first. Stops at the first record that runs past the end of the file."""
    data = open(path, "rb").read()
    magic = data[:4]
    out = []
    if magic == b"\x0a\x0d\x0d\x0a":  # pcapng: every block has its total length at +4
        pos = 0
        order = "<"
        while pos + 12 <= len(data):
            if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":  # a section header: its byte order
                order = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            (length,) = struct.unpack_from(order + "I", data, pos + 4)
            if length < 12 or pos + length > len(data):
                break
            pos += length
            out.append(pos)
        return out
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    pos = 24
    out.append(pos)
    while pos + 16 <= len(data):
        (caplen,) = struct.unpack_from(order + "I", data, pos + 8)
        if pos + 16 + caplen > len(data):
            break
        pos += 16 + caplen
        out.append(pos)
    return out


def main(argv):
    if len(argv) == 4 and argv[1] in ("flood", "scan"):
        write_flood(int(argv[2]), argv[3], argv[1] == "scan")
    elif len(argv) == 5 and argv[1] == "patho" and argv[2] in PATHO:
        write_patho(argv[2], int(argv[3]), argv[4])
    elif len(argv) == 3 and argv[1] == "absurd":
        write_absurd(argv[2])
    elif len(argv) == 3 and argv[1] == "records":
        print(" ".join(str(b) for b in record_boundaries(argv[2])))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
