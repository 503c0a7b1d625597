#!/usr/bin/env python3
"""Small servers and clients for tests/lab/record (Python 3 standard library only).

  lab.py serve PORT MODE      listen on [::]:PORT (dual stack, IPv4 too) and handle every
                              connection with MODE:
                                http  read one request, answer a fixed HTTP/1.0 200, close (FIN)
                                rst   accept and close at once with SO_LINGER {1,0} (RST)
                                fin   accept and close at once normally (FIN), no data
                                echo  echo whatever arrives; close (FIN) at EOF or after 1 s
                                      without data
                                data  accept, send 4000 bytes, close (FIN)
                                noaccept  listen(--backlog N, default 1) and never accept()
                              prints "ready PORT MODE" on stdout once listening.
  lab.py connect HOST PORT [--sport N] [--bind ADDR] [--mss N] [--http] [--recv] [--chat]
                 [--abort] [--timeout S] [--expect RESULT[,RESULT...]]
                              one connect(); prints what happened.  RESULT is "ok" or an errno
                              name (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, EACCES, ...); for
                              --recv/--http the result of reading is appended: "ok/eof",
                              "ok/ECONNRESET".  With --expect, exit 3 if the result differs.

  lab.py delay IFNAME MS      create the tun device IFNAME (IPv4 and IPv6 packets, no header)
                              and write every TCP packet the kernel routes into it back into
                              the kernel MS milliseconds later (a delay line where netem is
                              missing: the packet is then routed again, by the rules that
                              sent it there or not); prints "ready IFNAME" once the device
                              exists. Other packets (router solicitations, ...) are dropped.

No timeout by default: a blocking connect() then lasts as long as the kernel's SYN retries
(net.ipv4.tcp_syn_retries), which is what the dropped and half-open scenarios rely on.
"""
import argparse
import errno
import socket
import struct
import sys
import threading
import time

BODY = b"hello from the synscope lab\n"
RESPONSE = (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(BODY)) + BODY


def handle(conn, mode):
    try:
        if mode == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "echo":
            conn.settimeout(1)
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                conn.sendall(chunk)
        elif mode == "data":
            conn.sendall(b"x" * 3999 + b"\n")
        elif mode == "http":
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.sendall(RESPONSE)
            conn.shutdown(socket.SHUT_WR)
            # wait for the client's FIN (or RST) so the close is orderly
            while conn.recv(4096):
                pass
    except OSError:
        pass
    finally:
        conn.close()


def serve(port, mode, backlog):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(backlog if mode == "noaccept" else 64)
    print("ready", port, mode, flush=True)
    if mode == "noaccept":
        while True:
            time.sleep(3600)
    while True:
        conn, _ = s.accept()
        if mode in ("rst", "fin"):
            handle(conn, mode)  # at once, in the accepting thread
        else:
            threading.Thread(target=handle, args=(conn, mode), daemon=True).start()


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def connect(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if a.mss:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, a.mss)
    if a.sport or a.bind:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.bind or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), a.sport))
    if a.timeout:
        s.settimeout(a.timeout)
    t0 = time.monotonic()
    try:
        s.connect((a.host, a.port))
        result = "ok"
    except OSError as e:  # socket.timeout is an OSError too (TimeoutError, errno None)
        result = errname(e)
    took = time.monotonic() - t0
    sport = s.getsockname()[1] if result == "ok" or a.sport else 0
    if result == "ok" and a.chat:
        try:
            s.sendall(b"hello\n")
            got = s.recv(4096)
            s.sendall(b"y" * 599 + b"\n")
            got = s.recv(4096)
            result += "/eof" if not got else "/data"
        except OSError as e:
            result += "/" + errname(e)
    elif result == "ok" and (a.http or a.recv):
        try:
            if a.http:
                host = "[%s]" % a.host if fam == socket.AF_INET6 else a.host
                s.sendall(b"GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: synscope-lab\r\n\r\n"
                          % host.encode())
            got = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            result += "/eof" if not a.http else ("/http-%s" % got.split(b" ")[1].decode()
                                                 if got.startswith(b"HTTP/") else "/eof")
        except OSError as e:
            result += "/" + errname(e)
    if a.abort:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    hp = "[%s]:%d" % (a.host, a.port) if fam == socket.AF_INET6 else "%s:%d" % (a.host, a.port)
    print("connect %s sport=%s -> %s after %.3f s" % (hp, sport or "auto", result, took),
          flush=True)
    if a.expect and result not in a.expect.split(","):
        print("UNEXPECTED: wanted %s" % a.expect, file=sys.stderr, flush=True)
        return 3
    return 0


def burst(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    t0 = time.monotonic()
    results = [None] * a.n
    socks = []

    def one(i):
        time.sleep(max(0.0, t0 + i * a.interval - time.monotonic()))
        s = socket.socket(fam, socket.SOCK_STREAM)
        if a.defer_ack:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
        s.settimeout(a.timeout)
        t = time.monotonic()
        try:
            s.connect((a.host, a.port))
            r = "ok"
            socks.append(s)
        except OSError as e:
            r = "timeout" if e.errno is None else errname(e)
            s.close()
        results[i] = (t - t0, r, time.monotonic() - t)

    th = [threading.Thread(target=one, args=(i,)) for i in range(a.n)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    time.sleep(max(0.0, t0 + a.hold - time.monotonic()))
    for s in socks:
        s.close()
    for i, (start, r, took) in enumerate(results):
        print("burst %2d start %.3f s -> %s after %.3f s" % (i, start, r, took))
    names = ["ok", "ECONNREFUSED", "timeout"]
    names += sorted(set(r for _, r, _ in results) - set(names))
    print("burst: " + " ".join("%s=%d" % (n, sum(r == n for _, r, _ in results)) for n in names),
          flush=True)
    return 0


def delay(ifname, ms):
    import collections
    import fcntl
    import os
    import select
    tunsetiff, iff_tun, iff_no_pi = 0x400454CA, 0x0001, 0x1000
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, tunsetiff, struct.pack("16sH", ifname.encode(), iff_tun | iff_no_pi))
    print("ready", ifname, flush=True)
    line = collections.deque()  # (when to write it back, packet)
    while True:
        wait = None if not line else max(0.0, line[0][0] - time.monotonic())
        if select.select([fd], [], [], wait)[0]:
            pkt = os.read(fd, 65536)
            version = pkt[0] >> 4 if pkt else 0
            if (version == 4 and len(pkt) >= 20 and pkt[9] == 6) or \
                    (version == 6 and len(pkt) >= 40 and pkt[6] == 6):
                line.append((time.monotonic() + ms / 1000.0, pkt))
        now = time.monotonic()
        while line and line[0][0] <= now:
            os.write(fd, line.popleft()[1])


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("serve")
    ps.add_argument("port", type=int)
    ps.add_argument("mode", choices=["http", "rst", "fin", "echo", "data", "noaccept"])
    ps.add_argument("--backlog", type=int, default=1)
    pc = sub.add_parser("connect")
    pc.add_argument("host")
    pc.add_argument("port", type=int)
    pc.add_argument("--sport", type=int, default=0)
    pc.add_argument("--bind", default="")
    pc.add_argument("--mss", type=int, default=0)
    pc.add_argument("--chat", action="store_true")
    pc.add_argument("--http", action="store_true")
    pc.add_argument("--recv", action="store_true")
    pc.add_argument("--abort", action="store_true", help="close with SO_LINGER {1,0} (RST)")
    pc.add_argument("--timeout", type=float, default=0)
    pc.add_argument("--expect", default="")
    pb = sub.add_parser("burst")
    pb.add_argument("host")
    pb.add_argument("port", type=int)
    pb.add_argument("-n", type=int, default=20)
    pb.add_argument("--interval", type=float, default=0)
    pb.add_argument("--timeout", type=float, default=3.5)
    pb.add_argument("--hold", type=float, default=4)
    pb.add_argument("--defer-ack", action="store_true")
    pd = sub.add_parser("delay")
    pd.add_argument("ifname")
    pd.add_argument("ms", type=float)
    a = p.parse_args()
    if a.cmd == "delay":
        delay(a.ifname, a.ms)
        return 0
    if a.cmd == "serve":
        serve(a.port, a.mode, a.backlog)
        return 0
    if a.cmd == "burst":
        return burst(a)
    return connect(a)


if __name__ == "__main__":
    sys.exit(main())
