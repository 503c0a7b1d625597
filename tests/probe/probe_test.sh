#!/usr/bin/env bash
# probe_test.sh - tests of 'synscope probe' in network namespaces (root).
#
#   probe_test.sh SYNSCOPE TEST
#
# TEST is one of: probe-v4 probe-v6 probe-trace probe-errors probe-count probe-forged. Each
# test builds its
# own namespaces (ssprobe-<pid>-cli, -rtr, -srv), so the tests can run in parallel:
#
#   ssprobe-N-cli                ssprobe-N-rtr                        ssprobe-N-srv
#   c0 10.97.1.2/24  ── veth ──  r1 10.97.1.1/24   r2 10.97.2.1/24 ── veth ── s0 10.97.2.2/24
#      fd97:1::2/64                 fd97:1::1/64      fd97:2::1/64               fd97:2::2/64
#
# Ports of the server 10.97.2.2 / fd97:2::2:
#   80, 8080  real listeners (tests/lab/lab.py, HTTP)     -> open / syn-ack / accepted
#   81        nothing listens                              -> closed / reset / refused
#   82        server nft: reject with tcp reset            -> closed / reset / refused
#   83        server nft: drop                             -> filtered / no-response / dropped
#   84        server nft: reject with icmp(v6) admin-prohibited
#                                                          -> unreachable / admin-prohibited
#                                                             from the server / unreachable
#   85        a listener on the server, but the ROUTER's forward chain rejects with tcp reset
#                                                          -> closed / reset / refused-by-middlebox
#                                                             (RST 0 hops away, SYN-ACKs 1 hop)
#   86        the ROUTER's forward chain drops it          -> filtered; with --trace last_hop is
#                                                             the router's address facing the client
# probe-forged adds a server nft rule dropping port 87 (a third filtered port) and runs
# tests/probe/forge.py in the router, which answers every probe SYN with a forged SYN-ACK, RST
# and ICMP error that fail the ISN check (see test_forged).
# probe-trace puts a second router (ssprobe-N-rt2, 10.97.3.2 / fd97:3::2 facing the first router,
# 10.97.2.1 / fd97:2::1 facing the server) between the router and the server, so that --trace
# has to tell a drop at the first router (86) from one at the server (83).
# The client has routes only to the namespaces' own subnets; everything it sends stays inside
# the namespaces. The server and router answer ICMP without rate limit so that a busy machine
# (tests in parallel) cannot make an answer go missing. Everything is removed on exit, also on
# failure or interruption.
#
# Not root or no network namespaces: prints "SKIPPED: ..." and exits 77, unless CI=true, then it
# fails. Prints "ok: ..." / "FAIL: ..." per check and "N passed, M failed" at the end.
set -u

if [ $# -ne 2 ]; then
    echo "usage: probe_test.sh SYNSCOPE TEST" >&2
    exit 2
fi
SYNSCOPE=$(realpath "$1")
TEST=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$(realpath "$HERE/../lab/lab.py")
FORGE=$HERE/forge.py

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
    echo "$TEST took $((($(date +%s%N) - T0) / 1000000)) ms"
    echo "$TEST: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}

skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: probe tests need root and network namespaces ($1), and CI=true forbids skipping"
        echo "$TEST: 0 passed, 1 failed"
        exit 1
    fi
    echo "SKIPPED: probe tests need root and network namespaces ($1)"
    exit 77
}

case $TEST in
probe-v4 | probe-v6 | probe-trace | probe-errors | probe-count | probe-forged) ;;
*)
    echo "probe_test.sh: unknown test '$TEST'" >&2
    exit 2
    ;;
esac
[ -x "$SYNSCOPE" ] || { echo "FAIL: $SYNSCOPE is not an executable"; exit 1; }
[ "$(id -u)" = 0 ] || skip_or_fail "not root"
command -v ip >/dev/null || skip_or_fail "no 'ip' command"

P=${PROBE_PREFIX:-ssprobe}-$$
NC=$P-cli NR=$P-rtr NR2=$P-rt2 NS=$P-srv
NAMESPACES=()
PIDS=()
T=$(mktemp -d /tmp/ssprobe.XXXXXX)
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

for t in nft curl python3 ss; do
    command -v "$t" >/dev/null || { echo "FAIL: '$t' is needed by the probe tests"; exit 1; }
done
PY=$(python3 -c 'import sys; print(sys.executable)')
[ -f "$LAB" ] || { echo "FAIL: $LAB is missing"; exit 1; }

C4=10.97.1.2 R4C=10.97.1.1 R4S=10.97.2.1 S4=10.97.2.2
C6=fd97:1::2 R6C=fd97:1::1 R6S=fd97:2::1 S6=fd97:2::2
M4R=10.97.3.1 M4Q=10.97.3.2 M6R=fd97:3::1 M6Q=fd97:3::2 # between the routers (probe-trace)
NAME4=srv4.probe.test NAME6=srv6.probe.test

inc() { ip netns exec "$NC" "$@"; }
inr() { ip netns exec "$NR" "$@"; }
ins() { ip netns exec "$NS" "$@"; }

# name_files: $T/etc/{hosts,resolv.conf,nsswitch.conf}, which 'probe' mounts over /etc in the
# private mount namespace of each run in the client namespace (the host's /etc is not touched):
# the server's names come from the hosts file, any other name goes to a DNS server on the
# client's own loopback (none listens, so the lookup fails at once), and no lookup leaves the
# namespace (no mDNS, no resolver daemon of the host).
name_files() {
    mkdir -p "$T/etc" || return 1
    printf '127.0.0.1 localhost\n::1 localhost\n%s %s\n%s %s\n' \
        "$S4" "$NAME4" "$S6" "$NAME6" >"$T/etc/hosts"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$T/etc/resolv.conf"
    printf 'hosts: files dns\n' >"$T/etc/nsswitch.conf"
}

# setup_topology [2]: the namespaces, links, addresses and routes; with 2, a second router
# ssprobe-N-rt2 sits between the router and the server (for the trace):
#   cli c0 ── r1 rtr r2 10.97.3.1/24 fd97:3::1/64 ── q1 10.97.3.2/24 fd97:3::2/64 rt2 q2 ── s0 srv
# where q2 has the addresses r2 has with one router (10.97.2.1, fd97:2::1).
setup_topology() {
    local ns l two=${1:-1} all
    all="$NC $NR $NS"
    [ "$two" = 2 ] && all="$NC $NR $NR2 $NS"
    for ns in $all; do add_ns "$ns"; done
    name_files || return 1
    ip link add c0 netns "$NC" type veth peer name r1 netns "$NR" || return 1
    if [ "$two" = 2 ]; then
        ip link add r2 netns "$NR" type veth peer name q1 netns "$NR2" || return 1
        ip link add q2 netns "$NR2" type veth peer name s0 netns "$NS" || return 1
    else
        ip link add r2 netns "$NR" type veth peer name s0 netns "$NS" || return 1
    fi
    for ns in $all; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 \
            net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
    done
    for ns in $all; do
        [ "$ns" = "$NC" ] && continue
        # every ICMP error is sent (time-exceeded of the trace, admin-prohibited of port 84)
        ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 ||
            return 1
        [ "$ns" = "$NS" ] && continue
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
            return 1
    done
    ip -n "$NC" addr add $C4/24 dev c0 && ip -n "$NC" addr add $C6/64 dev c0 nodad &&
        ip -n "$NR" addr add $R4C/24 dev r1 && ip -n "$NR" addr add $R6C/64 dev r1 nodad &&
        ip -n "$NS" addr add $S4/24 dev s0 && ip -n "$NS" addr add $S6/64 dev s0 nodad || return 1
    if [ "$two" = 2 ]; then
        ip -n "$NR" addr add $M4R/24 dev r2 && ip -n "$NR" addr add $M6R/64 dev r2 nodad &&
            ip -n "$NR2" addr add $M4Q/24 dev q1 && ip -n "$NR2" addr add $M6Q/64 dev q1 nodad &&
            ip -n "$NR2" addr add $R4S/24 dev q2 && ip -n "$NR2" addr add $R6S/64 dev q2 nodad ||
            return 1
        set -- "$NC c0" "$NR r1" "$NR r2" "$NR2 q1" "$NR2 q2" "$NS s0"
    else
        ip -n "$NR" addr add $R4S/24 dev r2 && ip -n "$NR" addr add $R6S/64 dev r2 nodad ||
            return 1
        set -- "$NC c0" "$NR r1" "$NR r2" "$NS s0"
    fi
    for l in "$@"; do
        set -- $l
        ip netns exec "$1" sysctl -qw net.ipv6.conf."$2".accept_dad=0 || return 1
        ip -n "$1" link set "$2" up || return 1
    done
    # routes to the namespaces' subnets only, no default route anywhere
    ip -n "$NC" route add 10.97.0.0/16 via $R4C && ip -n "$NC" -6 route add fd97::/16 via $R6C &&
        ip -n "$NS" route add 10.97.0.0/16 via $R4S && ip -n "$NS" -6 route add fd97::/16 via $R6S ||
        return 1
    if [ "$two" = 2 ]; then
        ip -n "$NR" route add 10.97.2.0/24 via $M4Q && ip -n "$NR" -6 route add fd97:2::/64 via $M6Q &&
            ip -n "$NR2" route add 10.97.1.0/24 via $M4R &&
            ip -n "$NR2" -6 route add fd97:1::/64 via $M6R || return 1
    fi
    ins nft -f - <<'EOF' || return 1
table inet ssprobe {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 82 reject with tcp reset
        tcp dport 83 drop
        meta nfproto ipv4 tcp dport 84 reject with icmp type admin-prohibited
        meta nfproto ipv6 tcp dport 84 reject with icmpv6 type admin-prohibited
    }
}
EOF
    inr nft -f - <<'EOF' || return 1
table inet ssprobe {
    chain forward {
        type filter hook forward priority filter; policy accept;
        tcp dport 85 counter reject with tcp reset
        tcp dport 86 counter drop
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

# http_ok URL: curl in the client namespace gets HTTP 200
http_ok() {
    [ "$(inc curl -g -s -m 5 -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ]
}

# setup_all [2]: setup_topology, listeners, and the paths checked
setup_all() {
    setup_topology "${1:-1}" || { fail "network namespaces, veths, routes and nftables rules set up"; finish; }
    start_server 80 http && start_server 8080 http && start_server 85 http ||
        { fail "listeners started"; finish; }
    # the paths work both ways before any probe (neighbours resolved, routes in place)
    check "the server answers HTTP from the client on $S4:80" http_ok "http://$S4:80/"
    check "the server answers HTTP from the client on [$S6]:8080" http_ok "http://[$S6]:8080/"
    check "port 85 has a real listener on the server (only the router refuses it)" \
        eval "ins ss -Hltn 'sport = :85' | grep -q LISTEN"
    [ "$FAILED" = 0 ] || finish
}

# probe NAME NAMESPACE ARGS...: 'synscope probe ARGS' in NAMESPACE, with the name-service files
# of name_files; stdout in $T/NAME.out, stderr in $T/NAME.err; sets RC and MS (how long it ran)
RC=
MS=
probe() {
    local name=$1 ns=$2 t0
    shift 2
    t0=$(date +%s%N)
    # 'ip netns exec' runs the command in a mount namespace of its own
    ip netns exec "$ns" sh -c 'for f in hosts resolv.conf nsswitch.conf; do
            mount --bind "$0/$f" "/etc/$f" || exit 99
        done; exec "$@"' "$T/etc" "$SYNSCOPE" probe "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
    [ "$RC" = 99 ] && fail "$name: name-service files mounted over /etc: $(cat "$T/$name.err")"
    MS=$((($(date +%s%N) - t0) / 1000000))
    log "synscope probe $* ($name): exit $RC after $MS ms"
}

# no sanitizer report or crash message in a stderr file
check_stderr_clean() {
    if grep -qE 'Sanitizer|runtime error:|Segmentation|Aborted' "$1"; then
        fail "$2: sanitizer or crash report on stderr: $(grep -m3 -E 'Sanitizer|runtime error:|Segmentation|Aborted' "$1")"
    else
        ok "$2: no sanitizer or crash report on stderr"
    fi
}

# one_line_error NAME WHAT WANT_RC [REGEX]: the run NAME exited WANT_RC ("nonzero": any but 0)
# with exactly one line on stderr (matching the extended REGEX, case-insensitive) and nothing on
# stdout
one_line_error() {
    local name=$1 what=$2 want=$3 re=${4:-}
    local err
    err=$(cat "$T/$name.err")
    if [ "$want" = nonzero ]; then
        check "$what: non-zero exit (got $RC)" [ "$RC" != 0 ]
    else
        check "$what: exit $want (got $RC)" [ "$RC" = "$want" ]
    fi
    check "$what: exactly one line on stderr (got $(wc -l <"$T/$name.err"): $err)" \
        [ "$(wc -l <"$T/$name.err")" = 1 ]
    if [ -n "$re" ]; then
        check "$what: the line matches /$re/: $err" grep -qiE -- "$re" "$T/$name.err"
    fi
    check "$what: nothing on stdout (got: $(head -c 300 "$T/$name.out"))" [ ! -s "$T/$name.out" ]
    check_stderr_clean "$T/$name.err" "$what"
}

# no_half_open SERVER_NS CLIENT_IP WHAT: no SYN-RECV or ESTAB connection from CLIENT_IP on the
# server
no_half_open() {
    local left
    left=$(ip netns exec "$1" ss -Htan | awk -v c="$2" '
        ($1 == "SYN-RECV" || $1 == "ESTAB") {
            peer = $5; sub(/:[0-9]+$/, "", peer); gsub(/[\[\]]/, "", peer)
            if (peer == c || peer == "::ffff:" c) print }')
    check "$3: no SYN-RECV or ESTAB connection from $2 left on the server${left:+: $(echo $left)}" \
        [ -z "$left" ]
}

# ---------------------------------------------------------------- checks in Python
cat >"$T/check.py" <<'PYEOF'
"""Checks of synscope probe's JSON output; prints ok:/FAIL: lines.

  check.py ports FILE TARGET_IP SPEC [IGNORED]
    SPEC: one line per probed port: PORT STATE REASON VERDICT [key=value...]; keys:
      from=IP hops=N last_hop=IP|none probes=N answers=N states=name:n,name:n
    Every port of the spec is there exactly once (and no other), with its target, state,
    reason, verdict and the given fields; the last line is the one summary, whose port counts
    match the port lines, and whose ignored_answers is IGNORED (default 0: no answer was
    ignored).
"""
import json
import sys

STATES = ("open", "closed", "filtered", "unreachable")


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
    spec = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            e = {"port": int(w[0]), "state": w[1], "reason": w[2], "verdict": w[3]}
            for kv in w[4:]:
                k, v = kv.split("=", 1)
                e[k] = v
            spec.append(e)
    return spec


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_port(path, e, o):
    problems = []
    for k in ("state", "reason", "verdict"):
        if o.get(k) != e[k]:
            problems.append("%s %r, want %r" % (k, o.get(k), e[k]))
    for k in ("from", "last_hop"):
        if k in e:
            want = None if e[k] == "none" else e[k]
            if o.get(k) != want:
                problems.append("%s %r, want %r" % (k, o.get(k), want))
    for k in ("hops", "probes", "answers"):
        if k in e and o.get(k) != int(e[k]):
            problems.append("%s %r, want %s" % (k, o.get(k), e[k]))
    if "states" in e:
        want = {kv.split(":")[0]: int(kv.split(":")[1]) for kv in e["states"].split(",")}
        got = {k: v for k, v in (o.get("states") or {}).items() if v}
        if got != want:
            problems.append("states %r, want %r" % (o.get("states"), want))
    # the general shape: attempts sent, answers counted, and for an answer who sent it and when
    if not (isinstance(o.get("probes"), int) and o["probes"] >= 1):
        problems.append("probes %r, want >= 1" % o.get("probes"))
    if not isinstance(o.get("answers"), int):
        problems.append("answers %r, want a number" % o.get("answers"))
    if e["state"] == "filtered":
        if o.get("answers") != 0:
            problems.append("answers %r for a filtered port, want 0" % o.get("answers"))
    else:
        if not (isinstance(o.get("answers"), int) and o["answers"] >= 1):
            problems.append("answers %r, want >= 1" % o.get("answers"))
        if not isinstance(o.get("from"), str):
            problems.append("no 'from' (%r)" % o.get("from"))
        if not (isinstance(o.get("ttl"), int) and 1 <= o["ttl"] <= 255):
            problems.append("ttl %r, want 1..255" % o.get("ttl"))
        if not (isinstance(o.get("hops"), int) and o["hops"] >= 0):
            problems.append("hops %r, want a number >= 0" % o.get("hops"))
        if not (is_num(o.get("rtt_ms")) and 0 <= o["rtt_ms"] < 5000):
            problems.append("rtt_ms %r, want 0..5000" % o.get("rtt_ms"))
    out(not problems, "%s: port %d %s/%s %s%s" % (
        path, e["port"], e["state"], e["reason"], e["verdict"],
        (": " + "; ".join(problems) + "; got " + json.dumps(o)) if problems else ""))


def cmd_ports(path, target, specpath, ignored="0"):
    objs = load_json(path)
    spec = read_spec(specpath)
    ports = [o for o in objs if o.get("type") == "port"]
    summ = [o for o in objs if o.get("type") == "summary"]
    others = [o.get("type") for o in objs if o.get("type") not in ("port", "summary")]
    out(not others, "%s: only port and summary lines (others: %s)" % (path, others))
    good = len(summ) == 1 and objs[-1].get("type") == "summary"
    out(good, "%s: ends with exactly one summary object (%d summaries)" % (path, len(summ)))
    for e in spec:
        got = [o for o in ports if (o.get("target") or {}).get("port") == e["port"]]
        if len(got) != 1:
            out(False, "%s: want one port line for port %d, got %d: %s"
                % (path, e["port"], len(got), [json.dumps(o) for o in got]))
            continue
        o = got[0]
        out(o["target"].get("ip") == target, "%s: port %d: target ip %r, want %r"
            % (path, e["port"], o["target"].get("ip"), target))
        check_port(path, e, o)
    want = {e["port"] for e in spec}
    extra = [o for o in ports if (o.get("target") or {}).get("port") not in want]
    out(not extra, "%s: no port lines besides ports %s%s"
        % (path, sorted(want), (": " + str([json.dumps(o) for o in extra])) if extra else ""))
    if not summ:
        return
    s = summ[-1]
    counts = {k: sum(1 for e in spec if e["state"] == k) for k in STATES}
    got = s.get("ports")
    out(isinstance(got, dict) and {k: got.get(k) for k in STATES} == counts,
        "%s: summary ports %s, want %s" % (path, json.dumps(got), json.dumps(counts)))
    if ignored == "0":
        out(s.get("ignored_answers") == 0,
            "%s: summary ignored_answers %r, want 0 (nothing stale or spoofed in the namespaces)"
            % (path, s.get("ignored_answers")))
    else:
        out(s.get("ignored_answers") == int(ignored),
            "%s: summary ignored_answers %r, want %s (the forged answers, and nothing else)"
            % (path, s.get("ignored_answers"), ignored))


def cmd_text(path, specpath):
    """the text output has a row per port naming the port, its state and its reason"""
    import re
    with open(path) as f:
        lines = f.read().splitlines()
    for e in read_spec(specpath):
        rows = [l for l in lines if re.search(r"(^|[^\d.:])%d(/tcp)?\b" % e["port"], l)
                and re.search(r"\b%s\b" % e["state"], l) and e["reason"] in l]
        out(len(rows) >= 1, "%s: a row for port %d with %s and %s%s"
            % (path, e["port"], e["state"], e["reason"], (": " + rows[0].strip()) if rows else
               " (none in: %r)" % lines[:20]))


if __name__ == "__main__":
    {"ports": cmd_ports, "text": cmd_text}[sys.argv[1]](*sys.argv[2:])
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

# probe-v4 / probe-v6: every kind of port classified, nothing half-open left on the server
test_classify() {
    local fam=$1 S C R name
    if [ "$fam" = 6 ]; then S=$S6 C=$C6 R=$R6C name=$NAME6; else S=$S4 C=$C4 R=$R4C name=$NAME4; fi
    setup_all

    probe main "$NC" "$S" -p 80,81,82,83,84,85,8080 -f json
    check "probe $S: exit 0 (got $RC; stderr: $(head -c 300 "$T/main.err"))" [ "$RC" = 0 ]
    check_stderr_clean "$T/main.err" "probe $S"
    cat >"$T/spec" <<EOF
80 open syn-ack accepted from=$S hops=1
8080 open syn-ack accepted from=$S hops=1
81 closed reset refused from=$S hops=1
82 closed reset refused from=$S hops=1
83 filtered no-response dropped
84 unreachable admin-prohibited unreachable from=$S hops=1
85 closed reset refused-by-middlebox hops=0
EOF
    pycheck ports "$T/main.out" "$S" "$T/spec"
    check "router: its forward rule rejected port 85 ($(inr nft list chain inet ssprobe forward | grep -o 'dport 85 counter packets [0-9]*'))" \
        eval "inr nft list chain inet ssprobe forward | grep -qE 'dport 85 counter packets [1-9]'"
    cat "$T/main.out"
    sleep 1
    no_half_open "$NS" "$C" "after the probe"

    # Only synscope's own RST may close the half-open connections: the client's kernel does not
    # see the SYN-ACKs (dropped in its input hook; the capture sees them before that), so it
    # sends no RST of its own.
    inc nft -f - <<'EOF' || fail "client: nft rule dropping SYN-ACKs before the kernel's TCP"
table inet ssprobe {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp flags & (syn | ack) == syn | ack counter drop
    }
}
EOF
    probe norst "$NC" "$S" -p 80,8080 -f json
    check "probe $S -p 80,8080 with the client kernel's RSTs suppressed: exit 0 (got $RC; $(head -c 300 "$T/norst.err"))" [ "$RC" = 0 ]
    grep -E '^(80|8080) ' "$T/spec" >"$T/spec-norst"
    pycheck ports "$T/norst.out" "$S" "$T/spec-norst"
    check "client: the SYN-ACKs never reached the client's TCP ($(inc nft list chain inet ssprobe input | grep -o 'counter packets [0-9]*'))" \
        eval "inc nft list chain inet ssprobe input | grep -qE 'counter packets [1-9]'"
    sleep 1
    no_half_open "$NS" "$C" "with only synscope's RSTs"
    inc nft delete table inet ssprobe

    # a host name (getaddrinfo, from the hosts file); ranges and the highest port
    probe name "$NC" "$name" -p 80,1-2,65535 -f json
    check "probe $name: exit 0 (got $RC; $(head -c 300 "$T/name.err"))" [ "$RC" = 0 ]
    cat >"$T/spec-name" <<EOF
80 open syn-ack accepted from=$S
1 closed reset refused from=$S
2 closed reset refused from=$S
65535 closed reset refused from=$S
EOF
    pycheck ports "$T/name.out" "$S" "$T/spec-name"

    # text output (the default) into a file with -o: one row per port with state and reason
    probe text "$NC" "$S" -p 80,81,84 -o "$T/text.txt"
    check "probe $S -o FILE (text): exit 0 (got $RC; $(head -c 300 "$T/text.err"))" [ "$RC" = 0 ]
    check "probe -o FILE: nothing on stdout" [ ! -s "$T/text.out" ]
    grep -E '^(80|81|84) ' "$T/spec" >"$T/spec-text"
    pycheck text "$T/text.txt" "$T/spec-text"
    echo "--- text output"
    cat "$T/text.txt"
    sleep 1
    no_half_open "$NS" "$C" "after all probes"
}

# probe-trace: --trace names the last router that answers before the silence. Two routers
# here, so that where the SYN is dropped makes a difference: port 86 is dropped by the first
# router (which still answers the TTL 1 SYN: the TTL is checked before its forward chain), so
# the last hop is its address facing the client; port 83 is dropped by the server, which never
# answers a TTL-limited SYN, so the last hop is the second router (its address facing the
# first, from where its time-exceeded comes).
test_trace() {
    setup_all 2
    local fam S R Q
    for fam in 4 6; do
        if [ "$fam" = 6 ]; then S=$S6 R=$R6C Q=$M6Q; else S=$S4 R=$R4C Q=$M4Q; fi
        probe trace$fam "$NC" "$S" -p 86,83,80 --trace -f json
        check "probe --trace $S: exit 0 (got $RC; $(head -c 300 "$T/trace$fam.err"))" [ "$RC" = 0 ]
        check_stderr_clean "$T/trace$fam.err" "probe --trace $S"
        cat >"$T/spec-trace$fam" <<EOF
86 filtered no-response dropped last_hop=$R
83 filtered no-response dropped last_hop=$Q
80 open syn-ack accepted from=$S hops=2
EOF
        pycheck ports "$T/trace$fam.out" "$S" "$T/spec-trace$fam"
        cat "$T/trace$fam.out"
    done
    check "router: its forward rule dropped port 86 ($(inr nft list chain inet ssprobe forward | grep -o 'dport 86 counter packets [0-9]*'))" \
        eval "inr nft list chain inet ssprobe forward | grep -qE 'dport 86 counter packets [1-9]'"
}

# probe-count: --count N sends N attempts to each port; --retries N re-sends unanswered ones
test_count() {
    setup_all
    probe count "$NC" "$S4" -p 80,81 --count 5 -f json
    check "probe --count 5: exit 0 (got $RC; $(head -c 300 "$T/count.err"))" [ "$RC" = 0 ]
    check_stderr_clean "$T/count.err" "probe --count 5"
    cat >"$T/spec" <<EOF
80 open syn-ack accepted probes=5 answers=5 states=open:5
81 closed reset refused probes=5 answers=5 states=closed:5
EOF
    pycheck ports "$T/count.out" "$S4" "$T/spec"
    cat "$T/count.out"
    # --retries 2: an unanswered probe is sent 3 times in all
    probe retries "$NC" "$S4" -p 83 --retries 2 -f json
    check "probe --retries 2: exit 0 (got $RC; $(head -c 300 "$T/retries.err"))" [ "$RC" = 0 ]
    echo "83 filtered no-response dropped probes=3 answers=0" >"$T/spec-retries"
    pycheck ports "$T/retries.out" "$S4" "$T/spec-retries"
    sleep 1
    no_half_open "$NS" "$C4" "after --count 5"
}

# probe-forged: synscope believes only answers to its own SYNs (the ISN is a keyed cookie:
# a SYN-ACK or RST must acknowledge it + 1, an ICMP error must quote it). forge.py in the
# router namespace watches r1 and answers every probe SYN at once, before the server can, with
# a SYN-ACK acknowledging ISN + 2, a RST+ACK acknowledging an unrelated number and an ICMP
# admin-prohibited (v6: 1/1) from the router quoting the SYN with sequence number ISN + 1, in
# an order that turns with the port: for the filtered ports 83 (server drop), 86 (router drop)
# and 87 (server drop) the first forged answer is a SYN-ACK, a RST and an ICMP error. The port
# states must be the true ones, and the summary's ignored_answers must be exactly the number of
# packets forge.py sent (each reaches the client: veths do not lose packets, and nothing else
# in the namespaces answers wrongly). The client's kernel does not see the SYN-ACKs (dropped in
# its input hook, as in probe-v4's second run; synscope's capture sees them before): otherwise
# it would answer a forged SYN-ACK with a RST, and the server's nft would answer that RST to
# port 84 with an ICMP error quoting it, one more ignored answer that no one forged. With the
# check disabled in inject/inj_probe.c this test fails: 83, 86, 87 come out open, closed and
# unreachable, and ignored_answers is 0.
test_forged() {
    setup_all
    ins nft add rule inet ssprobe input tcp dport 87 counter drop ||
        { fail "server: nft rule dropping port 87"; return; }
    inc nft -f - <<'EOF' || { fail "client: nft rule dropping SYN-ACKs before the kernel's TCP"; return; }
table inet ssprobe {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp flags & (syn | ack) == syn | ack counter drop
    }
}
EOF
    local fam S C R ports=83,86,87,80,81,84 n syns total=0
    for fam in 4 6; do
        if [ "$fam" = 6 ]; then S=$S6 C=$C6 R=$R6C; else S=$S4 C=$C4 R=$R4C; fi
        : >"$T/forged$fam.log"
        inr "$PY" "$FORGE" r1 "$C" "$S" "$R" "$ports" "$T/forged$fam.log" >"$T/forge$fam.out" 2>&1 &
        local fpid=$!
        PIDS+=($fpid)
        local i
        for i in $(seq 1 50); do grep -q '^ready' "$T/forge$fam.out" && break; sleep 0.1; done
        check "forge.py (IPv$fam) listens on the router's r1: $(head -c 300 "$T/forge$fam.out")" \
            grep -q '^ready' "$T/forge$fam.out"
        probe forged$fam "$NC" "$S" -p $ports -f json
        sleep 0.5
        kill "$fpid" 2>/dev/null
        wait "$fpid" 2>/dev/null
        check "probe $S -p $ports with forged answers: exit 0 (got $RC; $(head -c 300 "$T/forged$fam.err"))" [ "$RC" = 0 ]
        check_stderr_clean "$T/forged$fam.err" "probe $S with forged answers"
        n=$(wc -l <"$T/forged$fam.log")
        syns=$(awk '$2 == "syn-ack"' "$T/forged$fam.log" | wc -l)
        log "forge.py (IPv$fam) answered $syns SYNs with $n forged packets: $(awk '{print $1 "/" $2}' "$T/forged$fam.log" | tr '\n' ' ')"
        # every probed port's SYN was seen (filtered ones twice: --retries 1), three forgeries each
        check "forge.py (IPv$fam): three forged answers to each of at least 9 SYNs (got $n for $syns)" \
            [ "$syns" -ge 9 -a "$n" = $((3 * syns)) ]
        total=$((total + syns))
        check "forge.py (IPv$fam): each kind of forgery was the first answer to one filtered port" \
            [ "$(awk '!seen[$1]++ {print $1 ":" $2}' "$T/forged$fam.log" | grep -E '^8[367]:' | sort | tr '\n' ' ')" = "83:syn-ack 86:rst 87:icmp " ]
        cat >"$T/spec-forged$fam" <<EOF
80 open syn-ack accepted from=$S hops=1
81 closed reset refused from=$S hops=1
83 filtered no-response dropped
84 unreachable admin-prohibited unreachable from=$S hops=1
86 filtered no-response dropped
87 filtered no-response dropped
EOF
        pycheck ports "$T/forged$fam.out" "$S" "$T/spec-forged$fam" "$n"
        cat "$T/forged$fam.out"
    done
    check "client: the forged SYN-ACKs reached it ($(inc nft list chain inet ssprobe input | grep -o 'counter packets [0-9]*'), want >= $total)" \
        eval "[ \"\$(inc nft list chain inet ssprobe input | grep -o 'counter packets [0-9]*' | grep -o '[0-9]*$')\" -ge $total ]"
    sleep 1
    no_half_open "$NS" "$C4" "after the probes with forged answers (IPv4)"
    no_half_open "$NS" "$C6" "after the probes with forged answers (IPv6)"
}

# probe-errors: usage errors (exit 2), runtime errors (exit 1), each one line
test_errors() {
    add_ns "$NC"
    name_files || fail "name-service files for $NC"
    # a client with one link and its subnet, no default route (IPv4 or IPv6)
    ip -n "$NC" link add c0 type veth peer name c1 &&
        ip -n "$NC" addr add $C4/24 dev c0 && ip -n "$NC" addr add $C6/64 dev c0 nodad &&
        ip -n "$NC" link set c0 up && ip -n "$NC" link set c1 up ||
        fail "veth pair c0/c1 with $C4/24 and $C6/64 in $NC"
    check "the client namespace has no IPv4 default route: $(ip -n "$NC" route show default)" \
        [ -z "$(ip -n "$NC" route show default)" ]
    check "the client namespace has no IPv6 default route: $(ip -n "$NC" -6 route show default)" \
        [ -z "$(ip -n "$NC" -6 route show default)" ]

    local i p
    i=0
    # strict port lists: exit 2, one line naming the problem
    for p in 0 70000 65536 80-70 a 80, "" ,80 80,,81 80- -80 1-65536 80x 8.0; do
        i=$((i + 1))
        probe badport$i "$NC" $R4C -p "$p"
        one_line_error badport$i "-p '$p'" 2
    done
    probe noport "$NC" $R4C
    check "no -p: exit 2 (got $RC; $(head -2 "$T/noport.err"))" [ "$RC" = 2 ]
    probe notarget "$NC" -p 80
    check "no target: exit 2 (got $RC; $(head -2 "$T/notarget.err"))" [ "$RC" = 2 ]
    probe badopt "$NC" $R4C -p 80 --no-such-option
    check "unknown option: exit 2 (got $RC; $(head -2 "$T/badopt.err"))" [ "$RC" = 2 ]
    for p in "--count 0" "--count x" "--rate 0" "--rate -5" "--retries -1" "--retries x" \
        "--wait x" "-f xml"; do
        i=$((i + 1))
        probe badval$i "$NC" $R4C -p 80 $p
        check "'$p': exit 2 (got $RC; $(head -2 "$T/badval$i.err"))" [ "$RC" = 2 ]
        check_stderr_clean "$T/badval$i.err" "'$p'"
    done
    probe badz "$NC" $R4C -p 80 -Z nosuchuser
    check "-Z nosuchuser: exit 2 as in 'synscope live' (got $RC; $(head -2 "$T/badz.err"))" [ "$RC" = 2 ]
    check "-Z nosuchuser: stderr names the user" grep -q nosuchuser "$T/badz.err"

    # a name that does not resolve (the lookup stays in the namespace: hosts file, then a DNS
    # server on the namespace's loopback that does not exist)
    probe badname "$NC" nosuch.probe.test -p 80
    one_line_error badname "unknown host name (exit $RC)" nonzero 'nosuch\.probe\.test'
    check "unknown host name: a usage error or a runtime error, exit 2 or 1 (got $RC)" \
        [ "$RC" = 2 -o "$RC" = 1 ]

    # no route to the target: no packet can leave; one line, exit 1, at once
    inc nft -f - <<'EOF' || fail "client: nft counter of the TCP packets it sends"
table inet ssprobe {
    chain output {
        type filter hook output priority filter; policy accept;
        meta l4proto tcp counter
    }
}
EOF
    probe noroute4 "$NC" 203.0.113.1 -p 80
    one_line_error noroute4 "no route to 203.0.113.1" 1 '203\.0\.113\.1'
    check "no route to 203.0.113.1: ends at once ($MS ms, want < 3000)" [ "$MS" -lt 3000 ]
    probe noroute6 "$NC" 2001:db8::1 -p 80
    one_line_error noroute6 "no route to 2001:db8::1" 1 '2001:db8::1'
    check "no route to 2001:db8::1: ends at once ($MS ms, want < 3000)" [ "$MS" -lt 3000 ]
    check "no route: no TCP packet left the client ($(inc nft list chain inet ssprobe output | grep -o 'counter packets [0-9]*'))" \
        eval "inc nft list chain inet ssprobe output | grep -q 'counter packets 0 '"

    # without the privilege to send raw packets
    if command -v setpriv >/dev/null; then
        inc setpriv --reuid=65534 --regid=65534 --clear-groups "$SYNSCOPE" probe $R4C -p 80 \
            >"$T/nopriv.out" 2>"$T/nopriv.err"
        RC=$?
        one_line_error nopriv "as nobody" 1 'root|capabilit|CAP_NET_RAW|setcap'
    else
        fail "setpriv (util-linux) is needed for the unprivileged case"
    fi
}

case $TEST in
probe-v4) test_classify 4 ;;
probe-v6) test_classify 6 ;;
probe-trace) test_trace ;;
probe-count) test_count ;;
probe-forged) test_forged ;;
probe-errors) test_errors ;;
esac
finish
