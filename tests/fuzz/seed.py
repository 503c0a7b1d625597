#!/usr/bin/env python3
"""seed.py - writes the decode target's seeds: one file per distinct frame of the given
captures (pcap and pcapng), as fuzz_decode.c reads them: byte 0 the index of the link type in
its DEC_LINK_* list, byte 1 zero (caplen == wirelen, or the record's own cut), then the frame.

Usage: seed.py OUTDIR CAPTURE... [--max-per-file N] [--max-len N]"""
import hashlib
import os
import struct
import sys

# fuzz_decode.c's links[] order
LINKS = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]


def pcap_frames(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        yield link, data[off:off + incl], orig
        off += incl


def pcapng_frames(data):
    off = 0
    e = "<"
    links = []
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12:
            return
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            iface, _, _, cap, orig = struct.unpack(e + "IIIII", body[:20])
            if iface < len(links):
                yield links[iface], body[20:20 + cap], orig
        elif btype == 3 and links:
            orig = struct.unpack(e + "I", body[:4])[0]
            yield links[0], body[4:4 + orig], orig
        off += blen


def main():
    args = sys.argv[1:]
    max_per_file, max_len = 40, 510
    if "--max-per-file" in args:
        i = args.index("--max-per-file")
        max_per_file = int(args[i + 1])
        del args[i:i + 2]
    if "--max-len" in args:
        i = args.index("--max-len")
        max_len = int(args[i + 1])
        del args[i:i + 2]
    outdir, captures = args[0], args[1:]
    os.makedirs(outdir, exist_ok=True)
    written = 0
    for path in captures:
        with open(path, "rb") as f:
            data = f.read()
        frames = pcapng_frames(data) if data[:4] == b"\x0a\x0d\x0d\x0a" else pcap_frames(data)
        seen = 0
        for link, frame, orig in frames:
            if link not in LINKS or seen >= max_per_file:
                continue
            frame = frame[:max_len]
            cut = min(255, max(0, (orig - len(frame) + 6) // 7))
            seed = bytes([LINKS.index(link), cut]) + frame
            name = hashlib.sha1(seed).hexdigest()
            target = os.path.join(outdir, name)
            if not os.path.exists(target):
                with open(target, "wb") as out:
                    out.write(seed)
                written += 1
                seen += 1
    print(f"seed.py: {written} frames written to {outdir}")


if __name__ == "__main__":
    main()
