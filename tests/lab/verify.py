#!/usr/bin/env python3
"""Sanity-check recorded captures against their .expected files (needs tshark).

  tests/lab/verify.py [DIR or NAME.pcap ...]      (default: pcaps/ of this repository)
  tests/lab/verify.py --groups NAME.pcap          print the attempts as .expected group lines
                                                  (verdict, client, server, syns, from, hops)

A deliberately small, independent reading of each capture (tshark fields, no synscope code):
it groups SYNs into attempts by (4-tuple, ISN), counts distinct SYN transmissions (by TCP
timestamp value, so the two copies of a forwarded packet in a router '-i any' capture count
once), finds the answer (SYN-ACK or RST acknowledging ISN+1, or an ICMP/ICMPv6 error quoting
the SYN's addresses, ports and sequence number) and what followed, and then matches the
attempts one-to-one against the lines of NAME.expected. It is a check that the recording did
what the scenario meant to do, not a reference implementation: the .expected files are
written from the scenarios (tests/lab/record), not from this script (except the group counts
of the timing-dependent overload and rate-limited captures, which record takes from
--groups and cross-checks with the clients' own results).

Hop distance: initial TTL guessed as the next of 64/128/255, minus the TTL seen. A valid RST
whose hop distance differs from that of the other packets of the same address (SYN-ACKs,
data, FINs, RSTs that are not answers to a SYN) is counted as refused-by-middlebox. So is one
followed by a SYN-ACK of the same address acknowledging the same SYN (no SYN sent again in
between), one that came in less than half the time of that address's fastest SYN-ACK (when
that is over 1 ms), and one with IPv4 ID 0 from an address whose other TCP packets (not RSTs)
all carry IDs that count up (at least 4, none 0, 4 in 5 steps between 1 and 1000).
Diagnosis lines (diagnosis=KIND ...) are not attempts; only unresolved-neighbour is checked
here (ARP requests / neighbour solicitations for the host, no reply, no SYN to it).
"""
import glob
import os
import subprocess
import sys

ICMP4 = {0: "net", 1: "host", 2: "proto", 3: "port", 4: "frag-needed", 6: "net-unknown",
         7: "host-unknown", 9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
ICMP6 = {0: "no-route", 1: "admin-prohibited", 2: "beyond-scope", 3: "addr", 4: "port",
         5: "policy-failed", 6: "reject-route"}
FIELDS = ["frame.number", "frame.time_relative", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
          "ip.ttl", "ipv6.hlim", "ip.id",
          "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
          "tcp.options.timestamp.tsval", "icmp.type", "icmp.code", "icmpv6.type",
          "icmpv6.code"]


def ep(ip, port):
    return "[%s]:%s" % (ip, port) if ":" in ip else "%s:%s" % (ip, port)


def hops(ttl):
    return next(i for i in (64, 128, 255) if ttl <= i) - ttl


def packets(path):
    out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=a", "-E", "aggregator=,"]
                         + sum([["-e", f] for f in FIELDS], []),
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        v = dict(zip(FIELDS, [x.split(",") if x else [] for x in line.split("\t")]))
        src = v["ip.src"] or v["ipv6.src"]
        dst = v["ip.dst"] or v["ipv6.dst"]
        ttl = v["ip.ttl"] or v["ipv6.hlim"]
        p = {"no": int(v["frame.number"][0]), "t": float(v["frame.time_relative"][0]),
             "src": src, "dst": dst, "hops": hops(int(ttl[0])) if ttl else None,
             "id": int(v["ip.id"][0], 16) if v["ip.id"] else None}
        if v["icmp.type"] or v["icmpv6.type"]:
            t6 = bool(v["icmpv6.type"])
            typ = int((v["icmpv6.type"] or v["icmp.type"])[0])
            code = int((v["icmpv6.code"] or v["icmp.code"])[0])
            if not v["tcp.srcport"]:
                continue
            p.update(kind="icmp", v6=t6, type=typ, code=code, qsrc=src[1], qdst=dst[1],
                     qsport=v["tcp.srcport"][0], qdport=v["tcp.dstport"][0],
                     qseq=int((v["tcp.seq_raw"] or v["tcp.seq"])[0]), src=src[0])
        elif v["tcp.srcport"]:
            p.update(kind="tcp", src=src[0], dst=dst[0], sport=v["tcp.srcport"][0],
                     dport=v["tcp.dstport"][0], flags=int(v["tcp.flags"][0], 16),
                     seq=int(v["tcp.seq_raw"][0]), ack=int(v["tcp.ack_raw"][0]),
                     len=int(v["tcp.len"][0]),
                     tsval=(v["tcp.options.timestamp.tsval"] or [None])[0])
        else:
            continue
        yield p


def attempts(path):
    pk = list(packets(path))
    atts = []
    for p in pk:
        if p["kind"] == "tcp" and p["flags"] & 0x12 == 0x02:  # SYN without ACK
            key = (p["src"], p["sport"], p["dst"], p["dport"], p["seq"])
            a = next((a for a in atts if a["key"] == key), None)
            if a is None:
                a = {"key": key, "tsvals": set(), "pk": []}
                atts.append(a)
            a["tsvals"].add(p["tsval"] or p["no"])
            a["pk"].append(p)
    for a in atts:
        c, cp, s, sp, isn = a["key"]
        a.update(client=c, server=ep(s, sp), syns=len(a["tsvals"]), verdict="dropped",
                 reason="no-answer", frm=None, handshake="no")
        first = a["pk"][0]["no"]
        fwd = lambda p: p["kind"] == "tcp" and (p["src"], p["sport"], p["dst"], p["dport"]) == (c, cp, s, sp)
        rev = lambda p: p["kind"] == "tcp" and (p["src"], p["sport"], p["dst"], p["dport"]) == (s, sp, c, cp)
        # later attempts on the same 4-tuple end this one's window
        later = [b["pk"][0]["no"] for b in atts if b is not a and b["key"][:4] == a["key"][:4]
                 and b["pk"][0]["no"] > first]
        end = min(later) if later else 1 << 30
        win = [p for p in pk if first <= p["no"] < end]
        for p in win:
            if rev(p) and p["flags"] & 0x12 == 0x12 and p["ack"] == (isn + 1) % (1 << 32):
                a.update(verdict="half-open", reason="no-ack", frm=p["src"], hops=p["hops"])
                a["synack"] = p
                srv_isn = p["seq"]
                ack = [q for q in win if fwd(q) and q["flags"] & 0x10 and q["no"] > p["no"]
                       and q["ack"] == (srv_isn + 1) % (1 << 32)]
                if ack:
                    a.update(verdict="accepted", reason="syn-ack", handshake="yes")
                    after = [q for q in win if rev(q) and q["no"] > ack[0]["no"]
                             and (q["len"] > 0 or q["flags"] & 0x05)]
                    if after and after[0]["len"] == 0 and after[0]["flags"] & 0x04:
                        a.update(verdict="reset-after-accept", reason="rst")
                    elif after and after[0]["len"] == 0 and after[0]["flags"] & 0x01:
                        a.update(verdict="closed-after-accept", reason="fin")
                break
            if rev(p) and p["flags"] & 0x04 and p["flags"] & 0x10 and p["ack"] == (isn + 1) % (1 << 32):
                a.update(verdict="refused", reason="rst", frm=p["src"], hops=p["hops"])
                a["rst_no"] = p["no"]
                a["rst"] = p
                # the same address's SYN-ACK for this SYN after it, no SYN sent again between
                for q in win:
                    if q["no"] <= p["no"]:
                        continue
                    if fwd(q) and q["flags"] & 0x12 == 0x02:
                        break
                    if rev(q) and q["flags"] & 0x12 == 0x12 and q["ack"] == (isn + 1) % (1 << 32):
                        a["late_synack"] = True
                        break
                break
            if rev(p) and p["flags"] & 0x17 == 0x10 and p["ack"] != (isn + 1) % (1 << 32):
                a.update(verdict="stale", reason="bare-ack", frm=p["src"])  # e.g. TIME-WAIT
                break
            if (p["kind"] == "icmp" and (p["qsrc"], p["qsport"], p["qdst"], p["qdport"], p["qseq"])
                    == (c, cp, s, sp, isn)):
                names = ICMP6 if p["v6"] else ICMP4
                reason = names.get(p["code"], "code-%d" % p["code"]) if p["type"] in (1, 3) else "ttl-exceeded"
                a.update(verdict="unreachable", reason=reason, frm=p["src"], hops=p["hops"])
                break
        a["sender"] = None if a["frm"] is None else ("server" if a["frm"] == s else "router")
    # the host's own hop distance: its TCP packets other than the RSTs answering a SYN
    answers = set(a.get("rst_no") for a in atts)
    own = {}
    for p in pk:
        if (p["kind"] == "tcp" and p["no"] not in answers and p["hops"] is not None
                and not p["flags"] & 0x04):
            own.setdefault(p["src"], set()).add(p["hops"])
    # the fastest SYN-ACK of each address (from the last SYN sent before it)
    def rtt(a, p):
        return p["t"] - max(q["t"] for q in a["pk"] if q["no"] < p["no"])
    fastest = {}
    for a in atts:
        if "synack" in a:
            r = rtt(a, a["synack"])
            fastest[a["synack"]["src"]] = min(r, fastest.get(a["synack"]["src"], r))
    # IPv4 IDs of each address's TCP packets other than RSTs, in capture order
    ids = {}
    for p in pk:
        if p["kind"] == "tcp" and p["id"] is not None and not p["flags"] & 0x04:
            ids.setdefault(p["src"], []).append(p["id"])

    def counting(x):
        steps = [(b - a) % 65536 for a, b in zip(x, x[1:])]
        return (len(x) >= 4 and 0 not in x
                and 5 * sum(1 <= d <= 1000 for d in steps) >= 4 * len(steps))
    for a in atts:
        if a["verdict"] != "refused":
            continue
        f, rst = a["frm"], a["rst"]
        if ((own.get(f) and a["hops"] not in own[f]) or a.get("late_synack")
                or (fastest.get(f, 0) > 0.001 and 2 * rtt(a, rst) < fastest[f])
                or (rst["id"] == 0 and counting(ids.get(f, [])))):
            a.update(verdict="refused-by-middlebox", sender=None)
    return atts


def neighbour_check(path, host):
    """ARP requests / neighbour solicitations for host, no reply, no TCP to host."""
    f = ["arp.opcode", "arp.dst.proto_ipv4", "arp.src.proto_ipv4", "icmpv6.type",
         "icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address", "ip.dst", "ipv6.dst",
         "tcp.flags"]
    out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t"]
                         + sum([["-e", x] for x in f], []),
                         capture_output=True, text=True, check=True).stdout
    asks = answers = syns = 0
    for line in out.splitlines():
        v = dict(zip(f, line.split("\t")))
        if v["arp.opcode"] == "1" and v["arp.dst.proto_ipv4"] == host:
            asks += 1
        elif v["arp.opcode"] == "2" and v["arp.src.proto_ipv4"] == host:
            answers += 1
        elif v["icmpv6.type"] == "135" and v["icmpv6.nd.ns.target_address"] == host:
            asks += 1
        elif v["icmpv6.type"] == "136" and v["icmpv6.nd.na.target_address"] == host:
            answers += 1
        elif v["tcp.flags"] and host in (v["ip.dst"], v["ipv6.dst"]):
            syns += 1
    return asks, answers, syns


def parse_expected(path):
    lines = []
    for raw in open(path):
        line = raw.split("#", 1)[0].strip()
        if not line or line == "others":
            continue
        kv = {}
        for tok in line.split():
            if ">=" in tok:
                k, v = tok.split(">=", 1)
                kv[k] = (">=", v)
            else:
                k, v = tok.split("=", 1)
                kv[k] = ("=", v)
        lines.append(kv)
    return lines


def matches(kv, a):
    got = {"verdict": a["verdict"], "reason": a["reason"], "client": a["client"],
           "server": a["server"], "syns": a["syns"], "from": a["frm"], "sender": a["sender"],
           "handshake": a["handshake"], "hops": a.get("hops")}
    for k, (op, v) in kv.items():
        if k in ("count", "flag"):  # flag=: synscope's notes on an attempt, not read here
            continue
        if k == "handshake" and a["verdict"] in ("refused", "refused-by-middlebox",
                                                 "unreachable", "dropped"):
            continue
        if k == "syns":
            if not (a["syns"] >= int(v) if op == ">=" else a["syns"] == int(v)):
                return False
        elif str(got.get(k)) != v:
            return False
    return True


def check(pcap):
    exp = pcap[:-5] + ".expected"
    atts = attempts(pcap)
    lines = parse_expected(exp)
    left = list(atts)
    ok = True
    for kv in [kv for kv in lines if "diagnosis" in kv]:
        if kv["diagnosis"][1] == "unresolved-neighbour":
            host = kv["host"][1]
            asks, answers, syns = neighbour_check(pcap, host)
            if not asks or answers or syns:
                ok = False
                print("  unresolved-neighbour %s: %d requests, %d replies, %d TCP packets" % (
                    host, asks, answers, syns))
    lines = [kv for kv in lines if "diagnosis" not in kv]
    # most specific lines first (as tests/regress/check.py does)
    lines.sort(key=lambda kv: -len(kv))
    for kv in lines:
        n = int(kv.get("count", ("=", "1"))[1])
        m = [a for a in left if matches(kv, a)][:n]
        if len(m) < n:
            ok = False
            print("  MISSING %d x %s" % (n - len(m), " ".join("%s%s%s" % (k, o, v) for k, (o, v) in kv.items())))
        for a in m:
            left.remove(a)
    for a in left:
        ok = False
        print("  UNEXPECTED attempt %s -> %s syns=%d %s/%s from=%s (packet %d)" % (
            a["client"], a["server"], a["syns"], a["verdict"], a["reason"], a["frm"], a["pk"][0]["no"]))
    print("%-34s %3d attempts  %s" % (os.path.basename(pcap), len(atts), "ok" if ok else "MISMATCH"))
    return ok


def groups(pcap):
    """One .expected line per (verdict, client, server, syns, from, hops) with its count."""
    seen = {}
    for a in attempts(pcap):
        key = [("verdict", a["verdict"]), ("reason", a["reason"]), ("client", a["client"]),
               ("server", a["server"]), ("syns", a["syns"])]
        if a["frm"]:
            key += [("from", a["frm"]), ("hops", a["hops"])]
        if a["verdict"] in ("accepted", "half-open"):
            key += [("handshake", a["handshake"])]
        seen[tuple(key)] = seen.get(tuple(key), 0) + 1
    for key, n in sorted(seen.items(), key=lambda kn: (kn[0][0][1], kn[0][4][1])):
        print(" ".join("%s=%s" % kv for kv in key) + " count=%d" % n)
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.argv[1:2] == ["--groups"]:
        return groups(sys.argv[2])
    args = sys.argv[1:] or [os.path.join(here, "..", "..", "pcaps")]
    files = []
    for a in args:
        files += sorted(glob.glob(os.path.join(a, "*.pcap"))) if os.path.isdir(a) else [a]
    bad = [f for f in files if not check(f)]
    return 1 if bad or not files else 0


if __name__ == "__main__":
    sys.exit(main())
