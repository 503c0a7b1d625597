#!/usr/bin/env python3
"""Small servers and clients for tests/lab/record (Python 3 standard library only).

  lab.py serve PORT MODE      listen on [::]:PORT (dual stack, IPv4 too) and handle every
                              connection with MODE:
                                http  read one request, answer a fixed HTTP/1.0 200, close (FIN)
                                rst   accept and close at once with SO_LINGER {1,0} (RST)
                                fin   accept and close at once normally (FIN), no data
                              prints "ready PORT MODE" on stdout once listening.
  lab.py connect HOST PORT [--sport N] [--http] [--recv] [--abort] [--timeout S]
                 [--expect RESULT[,RESULT...]]
                              one connect(); prints what happened.  RESULT is "ok" or an errno
                              name (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, EACCES, ...); for
                              --recv/--http the result of reading is appended: "ok/eof",
                              "ok/ECONNRESET".  With --expect, exit 3 if the result differs.

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


def serve(port, mode):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    print("ready", port, mode, flush=True)
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
    if a.sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", a.sport))
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
    if result == "ok" and (a.http or a.recv):
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


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("serve")
    ps.add_argument("port", type=int)
    ps.add_argument("mode", choices=["http", "rst", "fin"])
    pc = sub.add_parser("connect")
    pc.add_argument("host")
    pc.add_argument("port", type=int)
    pc.add_argument("--sport", type=int, default=0)
    pc.add_argument("--http", action="store_true")
    pc.add_argument("--recv", action="store_true")
    pc.add_argument("--abort", action="store_true", help="close with SO_LINGER {1,0} (RST)")
    pc.add_argument("--timeout", type=float, default=0)
    pc.add_argument("--expect", default="")
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a.port, a.mode)
        return 0
    return connect(a)


if __name__ == "__main__":
    sys.exit(main())
