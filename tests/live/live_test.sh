#!/usr/bin/env bash
# live_test.sh - live-capture tests of synscope (root, network namespaces).
#
#   live_test.sh SYNSCOPE TEST
#
# TEST is one of: verdicts-v4 verdicts-v6 any bulk-filter privileges save-file errors
# json-duration user-filter. Each test builds its own namespaces (sslive-<pid>-cli, -rtr, -srv):
#
#   sslive-N-cli                 sslive-N-rtr                         sslive-N-srv
#   c0 10.97.1.2/24  ── veth ──  r1 10.97.1.1/24   r2 10.97.2.1/24 ── veth ── s0 10.97.2.2/24
#      fd97:1::2/64                 fd97:1::1/64      fd97:2::1/64               fd97:2::2/64
#
# starts real listeners (tests/lab/lab.py) and nftables rules in the server namespace, runs
# 'synscope live' in the client namespace, drives real clients (curl, lab.py) and compares what
# synscope printed with what the scenarios did. Ports on the server (as in tests/lab/record):
#   80 HTTP | 81 closed | 82 nft reject with tcp reset | 83 nft drop |
#   84 nft reject with icmp(v6) admin-prohibited | 85 nft reject (port unreachable) |
#   86 accept + close with SO_LINGER {1,0} (RST) | 87 accept + close (FIN)
#   88 HTTP, 89 echo (closes after 1 s of silence): verdicts-* only, for the grace period
#   10.97.2.99 / fd97:2::99: nobody owns it, the router's neighbour resolution fails.
# Traffic never leaves the namespaces; everything is removed on exit, also on failure.
#
# Not root or no network namespaces: prints "SKIPPED: ..." and exits 77, unless CI=true, then
# it fails. Prints "ok: ..." / "FAIL: ..." per check and "N passed, M failed" at the end.
set -u

if [ $# -ne 2 ]; then
    echo "usage: live_test.sh SYNSCOPE TEST" >&2
    exit 2
fi
SYNSCOPE=$(realpath "$1")
TEST=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$(realpath "$HERE/../lab/lab.py")

PASSED=0
FAILED=0
T0=$(date +%s%N)
log() { echo "  [$((($(date +%s%N) - T0) / 1000000)) ms] $*"; }
ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
# check DESCRIPTION COMMAND...: ok when the command succeeds
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
    echo "$TEST: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}

skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: live tests need root and network namespaces ($1), and CI=true forbids skipping"
        echo "$TEST: 0 passed, 1 failed"
        exit 1
    fi
    echo "SKIPPED: live tests need root and network namespaces ($1)"
    exit 77
}

case $TEST in
verdicts-v4 | verdicts-v6 | any | bulk-filter | privileges | save-file | errors | json-duration | user-filter) ;;
*)
    echo "live_test.sh: unknown test '$TEST'" >&2
    exit 2
    ;;
esac
[ -x "$SYNSCOPE" ] || { echo "FAIL: $SYNSCOPE is not an executable"; exit 1; }
[ "$(id -u)" = 0 ] || skip_or_fail "not root"
command -v ip >/dev/null || skip_or_fail "no 'ip' command"

P=sslive-$$
NC=$P-cli NR=$P-rtr NS=$P-srv
NAMESPACES=()
PIDS=()
T=$(mktemp -d /tmp/sslive.XXXXXX)
chmod 755 "$T"

alive() { # PID: running and not a zombie
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}

cleanup() {
    local rc=$? p ns i
    set +e
    trap - EXIT INT TERM HUP
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do
        # only processes inside our own namespaces, i.e. ones this script started
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
    done
    for i in 1 2 3 4 5 6 7 8 9 10; do
        local left=0
        for p in "${PIDS[@]}"; do alive "$p" && left=1; done
        for ns in "${NAMESPACES[@]}"; do [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && left=1; done
        [ $left = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    for ns in "${NAMESPACES[@]}"; do
        [ -e "/run/netns/$ns" ] && ip netns del "$ns"
    done
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 130' INT TERM HUP

# The namespaces: a failing 'ip netns add' means no network namespaces here.
add_ns() {
    if ! ip netns add "$1" 2>"$T/netns.err"; then
        skip_or_fail "ip netns add: $(head -1 "$T/netns.err")"
    fi
    NAMESPACES+=("$1")
    ip -n "$1" link set lo up
}

for t in nft curl python3; do
    command -v "$t" >/dev/null || { echo "FAIL: '$t' is needed by the live tests"; exit 1; }
done
PY=$(python3 -c 'import sys; print(sys.executable)')
[ -f "$LAB" ] || { echo "FAIL: $LAB is missing"; exit 1; }

C4=10.97.1.2 R4C=10.97.1.1 R4S=10.97.2.1 S4=10.97.2.2 X4=10.97.2.99
C6=fd97:1::2 R6C=fd97:1::1 R6S=fd97:2::1 S6=fd97:2::2 X6=fd97:2::99

inc() { ip netns exec "$NC" "$@"; }
ins() { ip netns exec "$NS" "$@"; }

setup_topology() {
    local ns l
    for ns in "$NC" "$NR" "$NS"; do add_ns "$ns"; done
    ip link add c0 netns "$NC" type veth peer name r1 netns "$NR" || return 1
    ip link add r2 netns "$NR" type veth peer name s0 netns "$NS" || return 1
    for ns in "$NC" "$NR" "$NS"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 \
            net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
    done
    ip netns exec "$NR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
    # the router gives up resolving the unowned address after 3 probes 0.9 s apart
    ip netns exec "$NR" sysctl -qw net.ipv4.neigh.r2.mcast_solicit=3 \
        net.ipv4.neigh.r2.retrans_time_ms=900 net.ipv6.neigh.r2.mcast_solicit=3 \
        net.ipv6.neigh.r2.retrans_time_ms=900 || return 1
    ip -n "$NC" addr add $C4/24 dev c0 && ip -n "$NC" addr add $C6/64 dev c0 nodad &&
        ip -n "$NR" addr add $R4C/24 dev r1 && ip -n "$NR" addr add $R6C/64 dev r1 nodad &&
        ip -n "$NR" addr add $R4S/24 dev r2 && ip -n "$NR" addr add $R6S/64 dev r2 nodad &&
        ip -n "$NS" addr add $S4/24 dev s0 && ip -n "$NS" addr add $S6/64 dev s0 nodad || return 1
    for l in "$NC c0" "$NR r1" "$NR r2" "$NS s0"; do
        set -- $l
        ip netns exec "$1" sysctl -qw net.ipv6.conf."$2".accept_dad=0 || return 1
        # no segmentation offload: every segment of a download is one packet on the veth
        if command -v ethtool >/dev/null; then
            ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1
        fi
        ip -n "$1" link set "$2" up || return 1
    done
    ip -n "$NC" route add default via $R4C && ip -n "$NC" -6 route add default via $R6C &&
        ip -n "$NS" route add default via $R4S && ip -n "$NS" -6 route add default via $R6S ||
        return 1
    ins nft -f - <<'EOF' || return 1
table inet sslive {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 82 reject with tcp reset
        tcp dport 83 drop
        meta nfproto ipv4 tcp dport 84 reject with icmp type admin-prohibited
        meta nfproto ipv6 tcp dport 84 reject with icmpv6 type admin-prohibited
        tcp dport 85 reject
    }
}
EOF
}

# start_server PORT MODE: lab.py listener in the server namespace, waits for "ready"
start_server() {
    local i
    ins "$PY" "$LAB" serve "$1" "$2" >"$T/serve-$1.out" 2>&1 &
    PIDS+=($!)
    for i in $(seq 1 50); do
        grep -q "^ready $1" "$T/serve-$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "FAIL: listener on port $1 did not start: $(cat "$T/serve-$1.out")"
    return 1
}

setup_all() {
    setup_topology || { fail "network namespaces and veths set up"; finish; }
    start_server 80 http && start_server 86 rst && start_server 87 fin ||
        { fail "listeners started"; finish; }
    # routes and neighbours are in place: one HTTP request per family (before any capture)
    http_get probe4 "http://$S4:80/"
    http_get probe6 "http://[$S6]:80/"
    if [ "$(head -1 "$T/client-probe4")/$(head -1 "$T/client-probe6")" != 200/200 ]; then
        fail "the server answers HTTP from the client ($S4, $S6): $(cat "$T/client-probe4" "$T/client-probe6" | tr '\n' ' ')"
        finish
    fi
    rm -f "$T/client-probe4" "$T/client-probe6"
}

# wait_until DECISECONDS COMMAND...: true once COMMAND succeeds, false at the deadline
wait_until() {
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

# start_live NAME NAMESPACE ARGS...: 'synscope live ARGS' in NAMESPACE, stdout in $T/NAME.out,
# stderr in $T/NAME.err; waits until it says it captures. Sets LIVE_PID.
LIVE_PID=
start_live() {
    local name=$1 ns=$2
    shift 2
    log "start: synscope live $*"
    ip netns exec "$ns" "$SYNSCOPE" live "$@" >"$T/$name.out" 2>"$T/$name.err" &
    LIVE_PID=$!
    PIDS+=("$LIVE_PID")
    if wait_until 100 grep -q 'synscope: capturing handshakes on' "$T/$name.err"; then
        log "ready: $name (pid $LIVE_PID)"
        return 0
    fi
    fail "synscope live $* ($name) did not report that it captures within 10 s; stderr: $(head -c 600 "$T/$name.err")"
    return 1
}

# stop_live PID [SIGNAL]: sends SIGNAL (INT), waits up to 10 s; sets STOP_RC
STOP_RC=
stop_live() {
    local pid=$1 sig=${2:-INT}
    log "SIG$sig to pid $pid"
    kill -s "$sig" "$pid" 2>/dev/null
    if ! wait_until 100 eval '! alive '"$pid"; then
        fail "synscope (pid $pid) still runs 10 s after SIG$sig"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
    STOP_RC=$?
}

# no sanitizer report or crash message in a stderr file
check_stderr_clean() {
    if grep -qE 'Sanitizer|runtime error:|Segmentation|Aborted' "$1"; then
        fail "$2: sanitizer or crash report on stderr: $(grep -m3 -E 'Sanitizer|runtime error:|Segmentation|Aborted' "$1")"
    else
        ok "$2: no sanitizer or crash report on stderr"
    fi
}

# client NAME ARGS...: lab.py connect in the client namespace, result in $T/client-NAME
client() {
    local name=$1
    shift
    inc "$PY" "$LAB" connect "$@" >"$T/client-$name" 2>&1
    echo "rc=$?" >>"$T/client-$name"
}
# check_client NAME: the client's connect() ended as the scenario expects (--expect)
check_client() {
    if grep -q '^rc=0$' "$T/client-$1"; then
        ok "client $1: $(head -1 "$T/client-$1")"
    else
        fail "client $1 did not end as the scenario expects: $(tr '\n' ' ' <"$T/client-$1")"
    fi
}
# http_get NAME URL: curl in the client namespace; the HTTP code in $T/client-NAME
http_get() {
    local name=$1 url=$2
    inc curl -g -s -m 5 -o /dev/null -w '%{http_code}\n' "$url" >"$T/client-$name" 2>&1
    echo "rc=$?" >>"$T/client-$name"
}
check_http() {
    if [ "$(head -1 "$T/client-$1")" = 200 ]; then
        ok "client $1: HTTP 200"
    else
        fail "client $1: wanted HTTP 200, got: $(tr '\n' ' ' <"$T/client-$1")"
    fi
}
# held_get NAME HOST PORT SECONDS: connects, waits SECONDS, then an HTTP GET to the lab.py
# listener (it waits 5 s for the request); the HTTP code in $T/client-NAME, as http_get
held_get() {
    inc "$PY" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
time.sleep(float(sys.argv[3]))
s.sendall(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
got = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
s.close()
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/") else "no HTTP answer")
' "$2" "$3" "$4" >"$T/client-$1" 2>&1
    echo "rc=$?" >>"$T/client-$1"
}

# ---------------------------------------------------------------- checks in Python
cat >"$T/check.py" <<'PYEOF'
"""Checks of synscope's live output; prints ok:/FAIL: lines."""
import json
import os
import re
import sys


def out(good, what):
    print(("ok: " if good else "FAIL: ") + what)


def load_json(path):
    objs = []
    with open(path) as f:
        lines = f.read().splitlines()
    bad = 0
    for i, line in enumerate(lines, 1):
        try:
            objs.append(json.loads(line))
        except ValueError:
            bad += 1
            out(False, "%s line %d is not JSON: %r" % (path, i, line[:200]))
    if not bad:
        out(bool(lines), "%s: %d lines, all JSON" % (path, len(lines)))
    return objs


def read_spec(path):
    """verdict reason server_ip port [key=value...] per line"""
    spec = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            e = {"verdict": w[0], "reason": w[1], "ip": w[2], "port": int(w[3])}
            for kv in w[4:]:
                k, v = kv.split("=", 1)
                e[k] = v
            spec.append(e)
    return spec


def check_summary(objs, path):
    """the report structure; returns (attempts, summary)"""
    att = [o for o in objs if o.get("type") == "attempt"]
    summ = [o for o in objs if o.get("type") == "summary"]
    good = len(summ) == 1 and objs and objs[-1].get("type") == "summary"
    out(good, "%s: ends with exactly one summary object" % path)
    if not good:
        return att, None
    s = summ[0]
    types = [o.get("type") for o in objs]
    order = types == sorted(types, key=["attempt", "service", "summary"].index)
    out(order, "%s: attempt lines, then service lines, then the summary" % path)
    total = sum(s.get("verdicts", {}).values())
    out(total == len(att) == s.get("attempts"),
        "%s: every attempt counted once (verdicts sum %d, attempt lines %d, attempts %s)"
        % (path, total, len(att), s.get("attempts")))
    cap = s.get("capture")
    good = isinstance(cap, dict) and all(
        isinstance(cap.get(k), (int, float)) for k in ("received", "dropped", "if_dropped",
                                                        "duration_s"))
    out(good, "%s: summary has capture counters %s" % (path, json.dumps(cap)))
    if good:
        out(cap["dropped"] == 0 and cap["received"] >= s.get("packets", 0) > 0,
            "%s: kernel received %s >= packets read %s > 0, dropped %s"
            % (path, cap["received"], s.get("packets"), cap["dropped"]))
    return att, s


def cmd_attempts(path, specpath, exact="exact"):
    """every expected attempt is there exactly once with its verdict; nothing else"""
    objs = load_json(path)
    att, _ = check_summary(objs, path)
    spec = read_spec(specpath)
    for e in spec:
        name = "%s:%d" % (e["ip"], e["port"])
        got = [a for a in att
               if a["server"]["ip"] == e["ip"] and a["server"]["port"] == e["port"]]
        if len(got) != int(e.get("count", 1)):
            out(False, "%s: want %s attempt(s) to %s (%s), got %d: %s"
                % (path, e.get("count", 1), name, e["verdict"], len(got),
                   [a.get("verdict") for a in got]))
            continue
        for a in got:
            check_attempt(path, name, e, a)
    if exact == "exact":
        want = {(e["ip"], e["port"]) for e in spec}
        extra = [a for a in att if (a["server"]["ip"], a["server"]["port"]) not in want]
        out(not extra, "%s: no attempts besides the expected ones%s"
            % (path, "" if not extra else ": " + json.dumps(extra)[:800]))


def check_attempt(path, name, e, a):
    problems = []
    if a.get("verdict") != e["verdict"]:
        problems.append("verdict %s, want %s" % (a.get("verdict"), e["verdict"]))
    if e["reason"] != "-" and a.get("reason") != e["reason"]:
        problems.append("reason %s, want %s" % (a.get("reason"), e["reason"]))
    if a.get("client", {}).get("ip") != e.get("client"):
        problems.append("client %s, want %s" % (a.get("client"), e.get("client")))
    if not isinstance(a.get("syns"), int) or a["syns"] < int(e.get("minsyns", 1)):
        problems.append("syns %s, want >= %s" % (a.get("syns"), e.get("minsyns", 1)))
    ans = a.get("answer") or {}
    for k in ("sender", "from"):
        if k in e and ans.get(k) != e[k]:
            problems.append("answer.%s %s, want %s" % (k, ans.get(k), e[k]))
    if "handshake" in e and a.get("handshake") != (e["handshake"] == "yes"):
        problems.append("handshake %s, want %s" % (a.get("handshake"), e["handshake"]))
    out(not problems, "%s: %s -> %s %s/%s%s" % (
        path, e.get("client"), name, e["verdict"], e["reason"],
        (": " + "; ".join(problems) + "; got " + json.dumps(a)) if problems else ""))


LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+)\s+(\S+)\s+(\S+) -> (\S+)\s")


def split_hostport(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def text_lines(path):
    """the live verdict lines of a text output, per (server ip, port): [(verdict, line)]"""
    with open(path) as f:
        lines = f.read().splitlines()
    by = {}
    for line in lines:
        m = LINE.match(line)
        if m:
            by.setdefault(split_hostport(m.group(4)), []).append((m.group(2), line))
    return by


# The live kernel filter passes no pure ACK: an accepted connection still open when its grace
# period ends has no visible ACK. It must still be announced "accepted ... (still open)", not
# "half-open ... no ACK from the client" (report/rep_verdict.c, acks_in_capture); such a line
# is a failure.
def known_half_open(g):
    return g[0] == "half-open" and "no ACK from the client" in g[1]


def known_bug(what):
    out(False, what)


def cmd_text(path, specpath, when):
    """README: a line for each attempt as soon as it is decided; an accepted one once it has
    lasted the grace period, shown as '(still open)' (open=yes in the spec: it lasted the
    grace period), or at its end; a line printed again only if the final verdict differs.
    So per expected attempt: at most one '(still open)' line, the first, saying accepted,
    only for open=yes; then exactly one final line with the expected verdict, none when that
    verdict is the accepted the '(still open)' line said."""
    by = text_lines(path)
    for e in read_spec(specpath):
        name = "%s:%d" % (e["ip"], e["port"])
        got = by.get((e["ip"], e["port"]), [])
        if not got:
            out(False, "%s: no verdict line for %s %s" % (when, name, e["verdict"]))
            continue
        shown = " | ".join(g[1].strip()[:150] for g in got)
        still = [g for g in got if "(still open)" in g[1]]
        final = [g for g in got if "(still open)" not in g[1]]
        if e.get("open") == "yes":
            if "(still open)" not in got[0][1] and known_half_open(got[0]):
                known_bug("%s: %s lasted the grace period: its first line says half-open, "
                          "not accepted (still open): %s" % (when, name, shown))
            else:
                out(len(still) == 1 and "(still open)" in got[0][1] and got[0][0] == "accepted",
                    "%s: %s lasted the grace period: its first line says accepted (still open), "
                    "once: %s" % (when, name, shown))
            final = [g for g in got[1:] if "(still open)" not in g[1]]
            if e["verdict"] == "accepted":
                out(not final, "%s: %s not printed again, its final verdict is the accepted "
                    "already shown: %s" % (when, name, shown))
            else:
                out(len(final) == 1 and final[0][0] == e["verdict"],
                    "%s: %s printed again once, as %s, since that differs: %s"
                    % (when, name, e["verdict"], shown))
        else:
            out(not still, "%s: %s has no '(still open)' line (decided within the grace "
                "period): %s" % (when, name, shown))
            out(len(final) == 1 and final[0][0] == e["verdict"],
                "%s: exactly one line for %s, saying %s: %s" % (when, name, e["verdict"], shown))


def cmd_quiet(path, specpath, when):
    """-q / --failed-only: lines for the failed attempts only, once each; nothing for the
    accepted ones, not even '(still open)'"""
    by = text_lines(path)
    spec = read_spec(specpath)
    held = {(e["ip"], e["port"]) for e in spec if e["verdict"] == "accepted" and e.get("open") == "yes"}
    for key in held:
        for g in [g for g in by.get(key, []) if known_half_open(g)]:
            known_bug("%s: a half-open line for %s:%d, accepted and still open: %s"
                      % (when, key[0], key[1], g[1].strip()[:150]))
            by[key].remove(g)
    every = [g for got in by.values() for g in got]
    acc = [g[1].strip()[:150] for g in every if g[0] == "accepted" or "(still open)" in g[1]]
    out(bool(every) and not acc, "%s: %d lines, none for an accepted attempt%s"
        % (when, len(every), (": " + " | ".join(acc)) if acc else ""))
    for e in spec:
        name = "%s:%d" % (e["ip"], e["port"])
        got = by.get((e["ip"], e["port"]), [])
        shown = " | ".join(g[1].strip()[:150] for g in got) or "none"
        if e["verdict"] == "accepted":
            out(not got, "%s: no line for the accepted %s: %s" % (when, name, shown))
        else:
            out(len(got) == 1 and got[0][0] == e["verdict"],
                "%s: one line for the failed %s, saying %s: %s" % (when, name, e["verdict"], shown))


def cmd_decided(path, specpath):
    """exit 0 once every expected attempt has a final (not provisional) verdict line, or, when
    it is expected to stay accepted after a '(still open)' line (open=yes), that line"""
    by = text_lines(path)
    for e in read_spec(specpath):
        got = by.get((e["ip"], e["port"]), [])
        if not any("(still open)" not in g[1] for g in got) and not (
                e.get("open") == "yes" and e["verdict"] == "accepted" and got):
            sys.exit(1)
    sys.exit(0)


def cmd_report(path, count):
    """after the stop: the text report with the attempt count and the capture line"""
    with open(path) as f:
        text = f.read()
    m = re.search(r"^synscope: (\d+) packets?, (\d+) connection attempts?", text, re.M)
    out(m is not None and int(m.group(2)) == int(count),
        "text report: header with %s attempts: %s" % (count, m.group(0) if m else "missing"))
    out(re.search(r"^Capture: .*packets? passed the kernel filter", text, re.M) is not None,
        "text report: capture line with kernel counters")


def cmd_same(live, read):
    """the save file read back gives the same attempts as the live run"""
    def key(o):
        return (o["verdict"], o["client"]["ip"], o["client"]["port"], o["server"]["ip"],
                o["server"]["port"])
    a = sorted(key(o) for o in load_json(live) if o.get("type") == "attempt")
    b = sorted(key(o) for o in load_json(read) if o.get("type") == "attempt")
    out(bool(a) and a == b, "read of the save file gives the live attempts: live %s / read %s"
        % (a, b) if a != b else "read of the save file gives the %d live attempts" % len(a))


def cmd_summary(path, expr):
    """a Python expression over s (the summary object), a (attempt list)"""
    objs = load_json(path)
    s = objs[-1] if objs and objs[-1].get("type") == "summary" else {}
    a = [o for o in objs if o.get("type") == "attempt"]
    try:
        good = bool(eval(expr, {"s": s, "a": a}))
    except Exception as e:  # a missing field is a failure, not a crash
        good = False
        expr += " (%s: %s)" % (type(e).__name__, e)
    out(good, "%s: %s" % (path, expr))


if __name__ == "__main__":
    {"attempts": cmd_attempts, "text": cmd_text, "report": cmd_report, "same": cmd_same,
     "decided": cmd_decided, "quiet": cmd_quiet,
     "summary": cmd_summary}[sys.argv[1]](*sys.argv[2:])
PYEOF

# pycheck ARGS...: runs check.py, counts its ok:/FAIL: lines
pycheck() {
    local line
    "$PY" "$T/check.py" "$@" >"$T/pycheck.out" 2>&1 || echo "FAIL: check.py $1 crashed" >>"$T/pycheck.out"
    while IFS= read -r line; do
        case $line in
        ok:*) ok "${line#ok: }" ;;
        FAIL:*) fail "${line#FAIL: }" ;;
        *) echo "  $line" ;;
        esac
    done <"$T/pycheck.out"
}

# ---------------------------------------------------------------- tests

# verdicts FAMILY IFACE SCENARIOS: live text + live JSON side by side, real clients,
# refusal printed at once, everything decided before SIGINT, JSON compared with the spec
run_verdicts() {
    local fam=$1 iface=$2 set=$3 S X C R host
    if [ "$fam" = 6 ]; then S=$S6 X=$X6 C=$C6 R=$R6C; else S=$S4 X=$X4 C=$C4 R=$R4C; fi
    host=$S
    [ "$fam" = 6 ] && host="[$S]"
    setup_all
    # 88: HTTP, asked by a client that waits 3.5 s first; 89: echo, which closes after 1 s
    # of silence (FIN, no data)
    start_server 88 http && start_server 89 echo || { fail "listeners on 88, 89 started"; finish; }
    start_live text "$NC" -i "$iface" || finish
    local text_pid=$LIVE_PID
    start_live json "$NC" -i "$iface" -f json -o "$T/live.json" || finish
    local json_pid=$LIVE_PID
    # -q: failed attempts only; --grace 0.5: 89 is shown accepted (still open), then again
    start_live quiet "$NC" -i "$iface" -q || finish
    local quiet_pid=$LIVE_PID
    start_live grace "$NC" -i "$iface" --grace 0.5 || finish
    local grace_pid=$LIVE_PID

    # refused: its line is on stdout at once, while synscope runs
    client refused-closed "$S" 81 --timeout 3 --expect ECONNREFUSED
    if wait_until 10 grep -qE "refused +.* -> \[?$S\]?:81 " "$T/text.out"; then
        ok "refused line for $S:81 printed within 1 s, before any signal"
    else
        fail "no refused line for $S:81 within 1 s of the refusal; stdout so far: $(cat "$T/text.out")"
    fi

    local pids=() n
    log "scenarios"
    : >"$T/spec"
    echo "refused rst $S 81 client=$C sender=server from=$S" >>"$T/spec"
    http_get accepted "http://$host:80/" & pids+=($!)
    echo "accepted syn-ack $S 80 client=$C sender=server from=$S handshake=yes" >>"$T/spec"
    client dropped "$S" 83 --timeout 3 --expect TimeoutError & pids+=($!)
    echo "dropped no-answer $S 83 client=$C minsyns=2" >>"$T/spec"
    # open longer than the grace period (2 s): an "accepted ... (still open)" line, not
    # printed again when it ends, since its final verdict is the same
    held_get accepted-held "$S" 88 3.5 & pids+=($!)
    echo "accepted syn-ack $S 88 client=$C sender=server from=$S handshake=yes open=yes" >>"$T/spec"
    # closed by the server after 1 s: one closed-after-accept line (within the grace period)
    client closed-later "$S" 89 --recv --timeout 3 --expect ok/eof & pids+=($!)
    echo "closed-after-accept fin $S 89 client=$C sender=server from=$S handshake=yes" >>"$T/spec"
    if [ "$set" = full ]; then
        client refused-nft "$S" 82 --timeout 3 --expect ECONNREFUSED & pids+=($!)
        echo "refused rst $S 82 client=$C sender=server from=$S" >>"$T/spec"
        local errno=EHOSTUNREACH
        [ "$fam" = 6 ] && errno=EACCES
        client admin-prohibited "$S" 84 --timeout 3 --expect $errno & pids+=($!)
        echo "unreachable admin-prohibited $S 84 client=$C sender=server from=$S" >>"$T/spec"
        client port-unreachable "$S" 85 --timeout 3 --expect ECONNREFUSED & pids+=($!)
        echo "unreachable port $S 85 client=$C sender=server from=$S" >>"$T/spec"
        client reset-after-accept "$S" 86 --recv --timeout 3 --expect ok/ECONNRESET,ECONNRESET & pids+=($!)
        echo "reset-after-accept rst $S 86 client=$C sender=server from=$S handshake=yes" >>"$T/spec"
        client closed-after-accept "$S" 87 --recv --timeout 3 --expect ok/eof & pids+=($!)
        echo "closed-after-accept fin $S 87 client=$C sender=server from=$S handshake=yes" >>"$T/spec"
        client host-unreachable "$X" 80 --timeout 6 --expect EHOSTUNREACH & pids+=($!)
        if [ "$fam" = 6 ]; then
            echo "unreachable addr $X 80 client=$C sender=router from=$R" >>"$T/spec"
        else
            echo "unreachable host $X 80 client=$C sender=router from=$R" >>"$T/spec"
        fi
    else
        # -i any: the other family too (cooked SLL2 frames for both)
        local S2=$S6 h2="[$S6]" C2=$C6
        [ "$fam" = 6 ] && S2=$S4 h2=$S4 C2=$C4
        http_get accepted-other "http://$h2:80/" & pids+=($!)
        echo "accepted syn-ack $S2 80 client=$C2 sender=server handshake=yes" >>"$T/spec"
        client refused-other "$S2" 81 --timeout 3 --expect ECONNREFUSED & pids+=($!)
        echo "refused rst $S2 81 client=$C2 sender=server from=$S2" >>"$T/spec"
    fi
    wait "${pids[@]}"
    for n in "$T"/client-*; do
        n=${n#"$T"/client-}
        case $n in accepted*) check_http "$n" ;; *) check_client "$n" ;; esac
    done

    # every attempt decided while running (dropped after its timeout, accepted after the grace)
    local want
    want=$(wc -l <"$T/spec")
    # with --grace 0.5, 89 lasted the grace period; -q expects the failed attempts only
    sed -E 's/^(closed-after-accept .* 89 .*)$/\1 open=yes/' "$T/spec" >"$T/spec-grace"
    grep -v '^accepted ' "$T/spec" >"$T/spec-failed"
    log "clients done"
    all_decided() {
        "$PY" "$T/check.py" decided "$T/text.out" "$T/spec" &&
            "$PY" "$T/check.py" decided "$T/grace.out" "$T/spec-grace" &&
            "$PY" "$T/check.py" decided "$T/quiet.out" "$T/spec-failed"
    }
    if wait_until 120 all_decided; then
        log "every attempt has a verdict line"
    else
        log "not every attempt got a verdict line within 12 s"
    fi
    sleep 0.5
    local r
    for r in text quiet grace; do cp "$T/$r.out" "$T/$r.before"; done
    cp "$T/live.json" "$T/json.before"
    stop_live "$text_pid" INT
    check "text run: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    stop_live "$json_pid" INT
    check "json run: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    stop_live "$quiet_pid" INT
    check "-q run: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    stop_live "$grace_pid" INT
    check "--grace 0.5 run: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    for r in text json quiet grace; do check_stderr_clean "$T/$r.err" "$r run"; done
    check "json run with -o: nothing on stdout" [ ! -s "$T/json.out" ]

    pycheck text "$T/text.before" "$T/spec" "text lines before SIGINT"
    pycheck quiet "$T/quiet.before" "$T/spec" "-q lines before SIGINT"
    pycheck text "$T/grace.before" "$T/spec-grace" "--grace 0.5 lines before SIGINT"
    pycheck report "$T/text.out" "$want"
    pycheck attempts "$T/live.json" "$T/spec"
    # the JSON attempt lines are written while running too, not only at the stop
    check "json: refused attempt written before SIGINT" grep -q "\"port\":81},.*\"verdict\":\"refused\"" "$T/json.before"
    echo "--- text output"
    cat "$T/text.out"
}

test_bulk_filter() {
    command -v ethtool >/dev/null || fail "ethtool is needed to switch segmentation offload off"
    setup_all
    mkdir -p "$T/www"
    head -c 52428800 /dev/zero >"$T/www/big.bin"
    ins "$PY" -m http.server 8000 --bind "$S4" --directory "$T/www" >"$T/http.log" 2>&1 &
    PIDS+=($!)
    if ! wait_until 50 eval "ins ss -Hltn 'sport = :8000' | grep -q 8000"; then
        fail "http.server listens on $S4:8000"
        finish
    fi
    start_live bulk "$NC" -i c0 -f json -o "$T/bulk.json" || finish
    local rx0 rx1 got
    rx0=$(inc cat /sys/class/net/c0/statistics/rx_packets)
    got=$(inc curl -s -m 30 -o /dev/null -w '%{http_code} %{size_download}' "http://$S4:8000/big.bin")
    rx1=$(inc cat /sys/class/net/c0/statistics/rx_packets)
    check "download: HTTP 200 and 52428800 bytes (got '$got')" [ "$got" = "200 52428800" ]
    check "download: $((rx1 - rx0)) packets arrived on c0 (want >= 30000)" [ $((rx1 - rx0)) -ge 30000 ]
    sleep 2.5 # the accepted attempt's grace
    stop_live "$LIVE_PID" INT
    check "exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    check_stderr_clean "$T/bulk.err" "bulk run"
    echo "accepted syn-ack $S4 8000 client=$C4 sender=server handshake=yes" >"$T/spec"
    pycheck attempts "$T/bulk.json" "$T/spec"
    pycheck summary "$T/bulk.json" "0 < s['packets'] < 60"
    pycheck summary "$T/bulk.json" "s['capture']['received'] < 60"
    tail -1 "$T/bulk.json"
}

# proc_field PID FIELD: the values of a /proc/PID/status line
proc_field() { awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' "/proc/$1/status"; }

# the synscope process whose command line holds MARK (a unique output file name)
find_live_pid() {
    local p
    for p in $(ip netns pids "$NC"); do
        if [ "$(readlink "/proc/$p/exe")" = "$SYNSCOPE" ] &&
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$1"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# check_fd7_closed WHAT PID: the root-only file handed down as descriptor 7 was closed at
# start-up (in every case, -Z root included); the number itself may be taken again by a
# descriptor synscope opens afterwards (host evidence's BPF objects)
check_fd7_closed() {
    check "$1: inherited fd 7 (a root-only file) is closed" \
        [ "$(readlink "/proc/$2/fd/7" 2>/dev/null)" != "$T/inherited" ]
    check "$1: no descriptor on the inherited file" \
        eval "! ls -l /proc/$2/fd 2>/dev/null | grep -qF '$T/inherited'"
}

test_privileges() {
    setup_all
    local nobody_uid nobody_gid pid uids gids f
    nobody_uid=$(id -u nobody) nobody_gid=$(id -g nobody)
    check "user nobody is 65534:65534 here (got $nobody_uid:$nobody_gid)" \
        [ "$nobody_uid:$nobody_gid" = 65534:65534 ]
    # a root-only file each run inherits as descriptor 7, as from a parent that left it open
    printf 'inherited\n' >"$T/inherited" && chmod 0600 "$T/inherited"

    # default: becomes nobody once the capture and the output file are open
    start_live priv-default "$NC" -i c0 -f json -o "$T/priv-default.json" 7<"$T/inherited" || finish
    pid=$(find_live_pid priv-default.json)
    check "found the synscope process ($pid, started as $LIVE_PID)" [ -n "$pid" ]
    pid=${pid:-$LIVE_PID}
    uids=$(proc_field "$pid" Uid) gids=$(proc_field "$pid" Gid)
    check "default user: Uid line '$uids' all $nobody_uid" \
        [ "$(echo $uids)" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ]
    check "default user: Gid line '$gids' all $nobody_gid" \
        [ "$(echo $gids)" = "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" ]
    local g
    g=$(proc_field "$pid" Groups)
    check "default user: supplementary groups '$g' hold nothing but $nobody_gid" \
        [ -z "$(echo $g | tr ' ' '\n' | grep -vx "$nobody_gid")" ]
    check "default user: CapEff $(proc_field "$pid" CapEff) is zero" \
        [ "$(proc_field "$pid" CapEff)" = 0000000000000000 ]
    for f in CapPrm CapInh CapAmb; do
        check "default user: $f $(proc_field "$pid" $f) is zero" \
            [ "$(proc_field "$pid" $f)" = 0000000000000000 ]
    done
    check "default user: NoNewPrivs $(proc_field "$pid" NoNewPrivs) is 1" \
        [ "$(proc_field "$pid" NoNewPrivs)" = 1 ]
    check_fd7_closed "default user" "$pid"
    check "default user: stderr says it runs as nobody without capabilities" \
        grep -q 'capturing handshakes on c0 as nobody (uid 65534), no capabilities; ' "$T/priv-default.err"
    # it still captures after the drop
    client priv-refused "$S4" 81 --timeout 3 --expect ECONNREFUSED
    check_client priv-refused
    sleep 0.3
    stop_live "$LIVE_PID" INT
    check "default user: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    check_stderr_clean "$T/priv-default.err" "default user"
    echo "refused rst $S4 81 client=$C4 sender=server" >"$T/spec"
    pycheck attempts "$T/priv-default.json" "$T/spec"

    # -Z root keeps root and its capabilities (the opt-out), but not inherited descriptors
    start_live priv-root "$NC" -i c0 -Z root -o "$T/priv-root.txt" 7<"$T/inherited" || finish
    pid=$(find_live_pid priv-root.txt)
    pid=${pid:-$LIVE_PID}
    uids=$(proc_field "$pid" Uid)
    check "-Z root: Uid line '$uids' all 0" [ "$(echo $uids)" = "0 0 0 0" ]
    check "-Z root: CapEff $(proc_field "$pid" CapEff) not zero" \
        [ "$(proc_field "$pid" CapEff)" != 0000000000000000 ]
    # README: "-Z root ... (and no_new_privs is not set)"; only telling when this script's
    # own NoNewPrivs is 0 (it is inherited, and cannot be unset)
    if [ "$(proc_field $$ NoNewPrivs)" = 0 ]; then
        check "-Z root: NoNewPrivs $(proc_field "$pid" NoNewPrivs) is 0 (not set)" \
            [ "$(proc_field "$pid" NoNewPrivs)" = 0 ]
    else
        echo "  note: this script runs with NoNewPrivs 1, so -Z root's cannot be 0: not checked"
    fi
    check_fd7_closed "-Z root" "$pid"
    check "-Z root: stderr says it runs as root with its privileges" \
        grep -q 'capturing handshakes on c0 as root, privileges kept (-Z root); ' "$T/priv-root.err"
    stop_live "$LIVE_PID" INT
    check "-Z root: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]

    # -Z USER: another user
    if id daemon >/dev/null 2>&1; then
        local du dg
        du=$(id -u daemon) dg=$(id -g daemon)
        start_live priv-daemon "$NC" -i c0 -Z daemon -o "$T/priv-daemon.txt" || finish
        pid=$(find_live_pid priv-daemon.txt)
        pid=${pid:-$LIVE_PID}
        uids=$(proc_field "$pid" Uid) gids=$(proc_field "$pid" Gid)
        check "-Z daemon: Uid line '$uids' all $du, Gid line '$gids' all $dg" \
            [ "$(echo $uids / $gids)" = "$du $du $du $du / $dg $dg $dg $dg" ]
        check "-Z daemon: CapEff is zero" [ "$(proc_field "$pid" CapEff)" = 0000000000000000 ]
        check "-Z daemon: stderr says so" \
            grep -q "capturing handshakes on c0 as daemon (uid $du), no capabilities; " "$T/priv-daemon.err"
        stop_live "$LIVE_PID" INT
        check "-Z daemon: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    fi
}

test_save_file() {
    setup_all
    start_live save "$NC" -i c0 -w "$T/save.pcap" -f json -o "$T/save-live.json" || finish
    local pids=()
    http_get accepted "http://$S4:80/" & pids+=($!)
    client refused "$S4" 81 --timeout 3 --expect ECONNREFUSED & pids+=($!)
    client refused6 "$S6" 82 --timeout 3 --expect ECONNREFUSED & pids+=($!)
    client admin "$S4" 84 --timeout 3 --expect EHOSTUNREACH & pids+=($!)
    client closed "$S6" 87 --recv --timeout 3 --expect ok/eof & pids+=($!)
    client reset "$S4" 86 --recv --timeout 3 --expect ok/ECONNRESET,ECONNRESET & pids+=($!)
    client dropped "$S4" 83 --timeout 3 --expect TimeoutError & pids+=($!)
    wait "${pids[@]}"
    for n in refused refused6 admin closed reset dropped; do check_client $n; done
    check_http accepted
    # wait for the dropped verdict, then one more attempt: the save file's last packet comes
    # after the dropped attempt's timeout, so reading it offline reaches the same verdict
    wait_until 80 grep -q '"verdict":"dropped"' "$T/save-live.json"
    client refused-last "$S4" 81 --timeout 3 --expect ECONNREFUSED
    check_client refused-last
    sleep 2.5
    stop_live "$LIVE_PID" INT
    check "exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    check_stderr_clean "$T/save.err" "save run"
    check "save file written" [ -s "$T/save.pcap" ]
    "$SYNSCOPE" read "$T/save.pcap" -f json >"$T/save-read.json" 2>"$T/save-read.err"
    local rc=$?
    check "synscope read of the save file: exit 0 (got $rc; $(head -c 300 "$T/save-read.err"))" [ $rc = 0 ]
    cat >"$T/spec" <<EOF
accepted syn-ack $S4 80 client=$C4
refused rst $S4 81 client=$C4 count=2
refused rst $S6 82 client=$C6
unreachable admin-prohibited $S4 84 client=$C4
closed-after-accept fin $S6 87 client=$C6
reset-after-accept rst $S4 86 client=$C4
dropped no-answer $S4 83 client=$C4 minsyns=2
EOF
    pycheck attempts "$T/save-live.json" "$T/spec"
    pycheck same "$T/save-live.json" "$T/save-read.json"
    pycheck summary "$T/save-read.json" "s['packets'] == $("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["packets"])' "$T/save-live.json" 2>/dev/null || echo -1)"
}

test_errors() {
    add_ns "$NC"
    ip -n "$NC" link add ssveth0 type veth peer name ssveth1 ||
        fail "veth pair ssveth0/ssveth1 created in $NC"
    local rc
    # unknown interface: one line listing the interfaces that exist
    inc "$SYNSCOPE" live -i nosuch0 >"$T/e1.out" 2>"$T/e1.err"
    rc=$?
    check "unknown interface: exit 2 (got $rc)" [ $rc = 2 ]
    check "unknown interface: exactly one stderr line (got $(wc -l <"$T/e1.err"): $(cat "$T/e1.err"))" \
        [ "$(wc -l <"$T/e1.err")" = 1 ]
    local ifc
    for ifc in lo ssveth0 ssveth1; do
        check "unknown interface: the line names nosuch0 and lists $ifc: $(cat "$T/e1.err")" \
            grep -qE "nosuch0.*[ (]${ifc}[,)]" "$T/e1.err"
    done
    check "unknown interface: nothing on stdout" [ ! -s "$T/e1.out" ]

    # bad filter: libpcap's message naming the expression
    inc "$SYNSCOPE" live -i lo 'tcp port banana' >"$T/e2.out" 2>"$T/e2.err"
    rc=$?
    check "bad filter: exit 2 (got $rc)" [ $rc = 2 ]
    check "bad filter: stderr names the expression: $(cat "$T/e2.err")" \
        grep -qF "tcp port banana" "$T/e2.err"
    local pcapmsg="unknown port 'banana'"
    if command -v tcpdump >/dev/null; then
        # tcpdump prints libpcap's own message for the same expression
        pcapmsg=$(tcpdump -d 'tcp port banana' 2>&1 >/dev/null | grep -v '^Warning' | tail -1)
        pcapmsg=${pcapmsg#tcpdump: }
        pcapmsg=${pcapmsg#can\'t parse filter expression: }
    fi
    check "bad filter: stderr holds libpcap's message \"$pcapmsg\"" grep -qF -- "$pcapmsg" "$T/e2.err"
    check "bad filter: one stderr line" [ "$(wc -l <"$T/e2.err")" = 1 ]

    # no interface
    inc "$SYNSCOPE" live >"$T/e3.out" 2>"$T/e3.err"
    rc=$?
    check "no interface: exit 2 (got $rc)" [ $rc = 2 ]
    check "no interface: stderr says an interface is needed: $(head -2 "$T/e3.err")" \
        grep -qiE "interface|-i" "$T/e3.err"

    # without the privilege to capture
    if command -v setpriv >/dev/null; then
        inc setpriv --reuid=65534 --regid=65534 --clear-groups "$SYNSCOPE" live -i lo \
            >"$T/e4.out" 2>"$T/e4.err"
        rc=$?
        check "unprivileged: exit 1 (got $rc)" [ $rc = 1 ]
        check "unprivileged: exactly one stderr line (got: $(cat "$T/e4.err"))" \
            [ "$(wc -l <"$T/e4.err")" = 1 ]
        check "unprivileged: the line mentions root and setcap" \
            grep -q "root.*setcap\|setcap.*root" "$T/e4.err"
    else
        fail "setpriv (util-linux) is needed for the unprivileged case"
    fi

    # unknown -Z user
    inc "$SYNSCOPE" live -i lo -Z nosuchuser >"$T/e5.out" 2>"$T/e5.err"
    rc=$?
    check "-Z nosuchuser: exit 2 (got $rc)" [ $rc = 2 ]
    check "-Z nosuchuser: stderr names the user: $(head -1 "$T/e5.err")" grep -q nosuchuser "$T/e5.err"
    check "-Z nosuchuser: did not start capturing" \
        eval "! grep -q 'capturing handshakes' '$T/e5.err'"

    # a save file that cannot be created: runtime failure
    inc "$SYNSCOPE" live -i lo -w /nonexistent-dir/x.pcap >"$T/e6.out" 2>"$T/e6.err"
    rc=$?
    check "-w into a missing folder: exit 1 (got $rc): $(head -1 "$T/e6.err")" [ $rc = 1 ]
    for n in 1 2 3 4 5 6; do check_stderr_clean "$T/e$n.err" "error case $n"; done
}

test_json_duration() {
    setup_all
    local t0 t1 ms rc pid i fpid
    # --duration 3 -f json to stdout: ends by itself; --fail-on applies to live as to read:
    # --fail-on dropped (nothing dropped) still exits 0, and a second capture beside it with
    # --fail-on refused sees the refusal and exits 3
    t0=$(date +%s%N)
    start_live dur "$NC" -i c0 --duration 3 -f json --fail-on dropped || finish
    pid=$LIVE_PID
    start_live dur-fail "$NC" -i c0 --duration 3 --fail-on refused || finish
    fpid=$LIVE_PID
    client dur-refused "$S4" 81 --timeout 3 --expect ECONNREFUSED
    wait_until 100 eval '! alive '"$pid"
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    if alive "$pid"; then
        fail "--duration 3: still running after $ms ms"
        stop_live "$pid" KILL
    else
        wait "$pid"
        rc=$?
        check "--duration 3 --fail-on dropped, nothing dropped: exit 0 (got $rc)" [ $rc = 0 ]
    fi
    if wait_until 30 eval '! alive '"$fpid"; then
        wait "$fpid"
        rc=$?
        check "--duration 3 --fail-on refused, a refusal seen: exit 3 (got $rc)" [ $rc = 3 ]
    else
        fail "--duration 3 --fail-on refused: still running 3 s after the other capture ended"
        stop_live "$fpid" KILL
    fi
    check "--fail-on refused: the refused line is on stdout" \
        grep -qE "^[0-9:.]+ +refused +.* -> $S4:81 " "$T/dur-fail.out"
    pycheck report "$T/dur-fail.out" 1
    check_stderr_clean "$T/dur-fail.err" "--duration --fail-on refused"
    check "--duration 3: ended by itself after $ms ms (want 2900..7000)" [ $ms -ge 2900 -a $ms -le 7000 ]
    check_stderr_clean "$T/dur.err" "--duration"
    pycheck summary "$T/dur.out" "s['type'] == 'summary' and set(s['capture']) >= {'received', 'dropped', 'if_dropped', 'duration_s'}"
    pycheck summary "$T/dur.out" "2.9 <= s['capture']['duration_s'] <= 4.5"
    pycheck summary "$T/dur.out" "[(x['verdict'], x['server']['port']) for x in a] == [('refused', 81)]"

    # --count 5: stops after 5 packets
    start_live count "$NC" -i c0 --count 5 -f json || finish
    pid=$LIVE_PID
    for i in 1 2 3 4 5 6 7 8 9 10; do
        alive "$pid" || break
        client count-$i "$S4" 81 --timeout 3 --expect ECONNREFUSED
        sleep 0.3
    done
    if wait_until 50 eval '! alive '"$pid"; then
        wait "$pid"
        rc=$?
        check "--count 5: exit 0 once 5 packets were read (got $rc, after $i connections)" [ $rc = 0 ]
    else
        fail "--count 5: still running after 10 refused connections (20 packets)"
        stop_live "$pid" KILL
    fi
    check_stderr_clean "$T/count.err" "--count"
    pycheck summary "$T/count.out" "s['packets'] == 5"
    pycheck summary "$T/count.out" "s['capture']['received'] >= 5"

    # SIGTERM: like SIGINT
    start_live term "$NC" -i c0 || finish
    pid=$LIVE_PID
    client term-refused "$S4" 81 --timeout 3 --expect ECONNREFUSED
    wait_until 20 grep -q "refused .* -> $S4:81 " "$T/term.out"
    stop_live "$pid" TERM
    check "SIGTERM: exit 0 (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    echo "refused rst $S4 81" >"$T/spec"
    pycheck text "$T/term.out" "$T/spec" "SIGTERM run"
    pycheck report "$T/term.out" 1
    check_stderr_clean "$T/term.err" "SIGTERM"

    # | head -1: ends quietly once head has gone and another packet comes
    (
        inc "$SYNSCOPE" live -i c0 2>"$T/head.err"
        echo $? >"$T/head.rc"
    ) | head -1 >"$T/head.out" &
    PIDS+=($!)
    if ! wait_until 100 grep -q 'capturing handshakes' "$T/head.err"; then
        fail "| head -1: synscope did not start: $(cat "$T/head.err")"
    fi
    for i in 1 2 3 4 5 6 7 8 9 10; do
        [ -s "$T/head.rc" ] && break
        client head-$i "$S4" 81 --timeout 3 --expect ECONNREFUSED
        sleep 0.4
    done
    wait_until 30 test -s "$T/head.rc"
    check "| head -1: synscope ended with exit 0 (got '$(cat "$T/head.rc" 2>/dev/null)')" \
        [ "$(cat "$T/head.rc" 2>/dev/null)" = 0 ]
    check "| head -1: head got the refused line: $(cat "$T/head.out")" \
        grep -q "refused .* -> $S4:81 " "$T/head.out"
    check "| head -1: nothing on stderr besides the start line: $(grep -v 'capturing handshakes' "$T/head.err")" \
        [ -z "$(grep -v 'capturing handshakes' "$T/head.err")" ]
}

# user-filter: README's 'synscope live -i IFACE EXPRESSION'. The expression is and-ed with
# synscope's own filter and must select the same packets as it would alone: on untagged frames
# (real clients) and on 802.1Q and QinQ frames (written by send_frame.py, since the 8021q
# module may be absent: the receiving veth moves the outer tag into the packet's metadata, the
# sending side's capture sees it in the frame). An expression that matches nothing must give
# 0 packets, so that the positive checks are not passing on an empty capture.
test_user_filter() {
    setup_all
    local name
    start_live f-none "$NC" -i c0 -f json -o "$T/f-none.json" || finish
    start_live f-host "$NC" -i c0 -f json -o "$T/f-host.json" host $S4 || finish
    start_live f-port "$NC" -i c0 -f json -o "$T/f-port.json" 'tcp port 81' || finish
    start_live f-ip6 "$NC" -i c0 -f json -o "$T/f-ip6.json" ip6 || finish
    start_live f-nothing "$NC" -i c0 -f json -o "$T/f-nothing.json" host 10.97.9.9 || finish
    start_live f-vlan "$NC" -i c0 -f json -o "$T/f-vlan.json" vlan 100 || finish
    start_live f-tagged "$NC" -i c0 -f json -o "$T/f-tagged.json" net 10.97.1.64/26 || finish
    start_live f-any "$NC" -i any -f json -o "$T/f-any.json" 'tcp port 81' || finish
    local pids=("${PIDS[@]: -8}")

    # untagged: real clients
    client refused4 "$S4" 81 --timeout 3 --expect ECONNREFUSED
    client refused6 "$S6" 81 --timeout 3 --expect ECONNREFUSED
    http_get accepted "http://$S4:80/"
    check_client refused4
    check_client refused6
    check_http accepted
    # tagged: a SYN arrives on c0 from the router's side and c0 answers with a RST, for one
    # 802.1Q tag (VLAN 100) and for QinQ (802.1ad 7, then 802.1Q 100)
    local cmac rmac
    cmac=$(inc cat /sys/class/net/c0/address)
    rmac=$(ip netns exec "$NR" cat /sys/class/net/r1/address)
    local send="$PY $HERE/send_frame.py"
    ip netns exec "$NR" $send r1 "$rmac" "$cmac" 8100:100 10.97.1.77:40001 $C4:9001 S 1000 0 &&
        inc $send c0 "$cmac" "$rmac" 8100:100 $C4:9001 10.97.1.77:40001 RA 0 1001 &&
        ip netns exec "$NR" $send r1 "$rmac" "$cmac" 88a8:7,8100:100 10.97.1.78:40002 $C4:9002 S 2000 0 &&
        inc $send c0 "$cmac" "$rmac" 88a8:7,8100:100 $C4:9002 10.97.1.78:40002 RA 0 2001 ||
        fail "send_frame.py sent the tagged frames"
    sleep 3 # the accepted attempt's grace
    # each capture ends with exit 0 after SIGINT, also the one that matched nothing
    local names=(f-none f-host f-port f-ip6 f-nothing f-vlan f-tagged f-any) i
    for i in "${!pids[@]}"; do
        stop_live "${pids[$i]}" INT
        check "${names[$i]}: exit 0 after SIGINT (got $STOP_RC)" [ "$STOP_RC" = 0 ]
    done
    for name in "${names[@]}"; do
        check_stderr_clean "$T/$name.err" "$name"
    done

    # no expression: everything
    {
        echo "refused rst $S4 81 client=$C4 sender=server from=$S4"
        echo "refused rst $S6 81 client=$C6 sender=server from=$S6"
        echo "accepted syn-ack $S4 80 client=$C4 sender=server from=$S4 handshake=yes"
        echo "refused rst $C4 9001 client=10.97.1.77"
        echo "refused rst $C4 9002 client=10.97.1.78"
    } >"$T/spec-none"
    pycheck attempts "$T/f-none.json" "$T/spec-none"
    # 'host S4': the two IPv4 attempts to the server, nothing else
    grep -E " $S4 (80|81) " "$T/spec-none" >"$T/spec-host"
    pycheck attempts "$T/f-host.json" "$T/spec-host"
    # 'tcp port 81': both families' refusals
    grep -E " 81 " "$T/spec-none" >"$T/spec-port"
    pycheck attempts "$T/f-port.json" "$T/spec-port"
    # the same on -i any (Linux cooked frames: the expression's untagged form only)
    pycheck attempts "$T/f-any.json" "$T/spec-port"
    # 'ip6': the IPv6 refusal only
    grep -F " $S6 " "$T/spec-none" >"$T/spec-ip6"
    pycheck attempts "$T/f-ip6.json" "$T/spec-ip6"
    # 'vlan 100': the tagged attempts only (the QinQ one's outer tag is 7)
    grep -E " 9001 " "$T/spec-none" >"$T/spec-vlan"
    pycheck attempts "$T/f-vlan.json" "$T/spec-vlan"
    # 'net 10.97.1.64/26' (no vlan keyword): the 802.1Q and the QinQ attempt, as untagged
    grep -E " 900[12] " "$T/spec-none" >"$T/spec-tagged"
    pycheck attempts "$T/f-tagged.json" "$T/spec-tagged"
    # an expression that matches nothing: nothing read, not "nothing failed" on packets
    pycheck summary "$T/f-nothing.json" "s['packets'] == 0 and s['attempts'] == 0"
    pycheck summary "$T/f-nothing.json" "s['capture']['received'] == 0"
    check "f-nothing: stderr says no packet passed the filter" \
        grep -qF "no packet passed the filter 'host 10.97.9.9': nothing was judged" "$T/f-nothing.err"
    check "f-host: no such note when packets passed" \
        eval "! grep -q 'no packet passed' '$T/f-host.err'"
}

start_time=$(date +%s%N)
case $TEST in
verdicts-v4) run_verdicts 4 c0 full ;;
verdicts-v6) run_verdicts 6 c0 full ;;
any) run_verdicts 4 any mixed ;;
bulk-filter) test_bulk_filter ;;
privileges) test_privileges ;;
user-filter) test_user_filter ;;
save-file) test_save_file ;;
errors) test_errors ;;
json-duration) test_json_duration ;;
esac
echo "$TEST took $((($(date +%s%N) - start_time) / 1000000)) ms"
finish
