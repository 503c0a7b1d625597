# live_lib.bash - what the tests/host/live_*.sh tests share (sourced, not a test itself): two
# network namespaces joined by a veth pair, real listeners and clients, 'synscope live' in the
# server's namespace (or the client's), checks on its JSON output, cleanup on every exit.
#
#   ssH-N-cli  c0 10.98.1.2/24 fd98:1::2/64  ── veth ──  s0 10.98.1.1/24 fd98:1::1/64  ssH-N-srv
#
# Usage: source it with SYNSCOPE and TEST set; it skips (77) when not root, unless CI=true.
set -u
PASSED=0
FAILED=0
ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
finish() {
    echo "$TEST: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: host evidence tests need root and network namespaces ($1); CI=true forbids skipping"
        exit 1
    fi
    echo "SKIPPED: host evidence tests need root and network namespaces ($1)"
    exit 77
}
[ -x "$SYNSCOPE" ] || { echo "FAIL: $SYNSCOPE is not an executable"; exit 1; }
[ "$(id -u)" = 0 ] || skip_or_fail "not root"
command -v ip >/dev/null || skip_or_fail "no 'ip' command"
command -v jq >/dev/null || { echo "FAIL: jq is needed"; exit 1; }
PY=$(command -v python3) || { echo "FAIL: python3 is needed"; exit 1; }

P=ssH-$$
NC=$P-cli NS=$P-srv
SRV4=10.98.1.1 CLI4=10.98.1.2 SRV6=fd98:1::1 CLI6=fd98:1::2
T=$(mktemp -d /tmp/ssH.XXXXXX)
chmod 755 "$T"
PIDS=()
SYN_PID=

cleanup() {
    local rc=$? p ns
    set +e
    trap - EXIT INT TERM HUP
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for ns in "$NC" "$NS"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    sleep 0.2
    for ns in "$NC" "$NS"; do [ -e "/run/netns/$ns" ] && ip netns del "$ns"; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 130' INT TERM HUP

ip netns add "$NS" 2>/dev/null || skip_or_fail "ip netns add failed"
ip netns add "$NC"
ip link add s0 netns "$NS" type veth peer name c0 netns "$NC"
ip -n "$NS" addr add $SRV4/24 dev s0
ip -n "$NS" addr add $SRV6/64 dev s0 nodad
ip -n "$NC" addr add $CLI4/24 dev c0
ip -n "$NC" addr add $CLI6/64 dev c0 nodad
for ns in "$NS" "$NC"; do ip -n "$ns" link set lo up; done
ip -n "$NS" link set s0 up
ip -n "$NC" link set c0 up

# A listener: lsn FAMILY ADDR PORT [v6only] [backlog=N] [noaccept]; prints "ready" once listening.
cat >"$T/lsn.py" <<'PYEOF'
import socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == '6' else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if 'v6only' in sys.argv else 0)
s.bind((sys.argv[2], int(sys.argv[3])))
backlog = 16
for a in sys.argv[4:]:
    if a.startswith('backlog='):
        backlog = int(a[8:])
s.listen(backlog)
print('ready', flush=True)
if 'noaccept' in sys.argv:
    time.sleep(3600)
while True:
    c, _ = s.accept()
    c.close()
PYEOF
# A client: connects, prints ok / refused / timeout / the error; never waits more than $3 s.
cat >"$T/cli.py" <<'PYEOF'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET)
s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 2)
try:
    s.connect((addr, port))
    print('ok')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
except OSError as e:
    print(e.strerror)
PYEOF

# start_listener NAME ARGS...: in the server's namespace, waits for "ready".
start_listener() {
    local name=$1 i
    shift
    ip netns exec "$NS" "$PY" "$T/lsn.py" "$@" >"$T/$name.lsn" 2>&1 &
    PIDS+=($!)
    eval "LSN_$name=$!"
    for i in $(seq 50); do grep -q ready "$T/$name.lsn" 2>/dev/null && return 0; sleep 0.1; done
    fail "listener $name did not start: $(cat "$T/$name.lsn")"
    return 1
}
# client ADDR PORT [TIMEOUT]: from the client's namespace; prints the outcome.
client() { ip netns exec "$NC" "$PY" "$T/cli.py" "$@"; }

# start_synscope NAMESPACE IFACE OUT [OPTIONS...]: live capture, JSON to OUT, stderr to OUT.err.
start_synscope() {
    local ns=$1 iface=$2 out=$3 i
    shift 3
    ip netns exec "$ns" "$SYNSCOPE" live -i "$iface" -f json "$@" >"$out" 2>"$out.err" &
    SYN_PID=$!
    PIDS+=($SYN_PID)
    for i in $(seq 100); do grep -q capturing "$out.err" 2>/dev/null && return 0; sleep 0.1; done
    fail "synscope did not start: $(cat "$out.err")"
    return 1
}
stop_synscope() {
    kill -INT "$SYN_PID" 2>/dev/null
    wait "$SYN_PID" 2>/dev/null
}

# expect WHAT OUT FILTER EXPECTED: the jq FILTER over OUT's lines gives EXPECTED (one line).
expect() {
    local what=$1 out=$2 filter=$3 want=$4 got
    got=$(jq -r "$filter" "$out" 2>&1 | head -1)
    if [ "$got" = "$want" ]; then ok "$what"; else fail "$what: got '$got', want '$want'"; fi
}
# expect_all WHAT OUT FILTER EXPECTED: the same over all of OUT's lines as one array (jq -s).
expect_all() {
    local what=$1 out=$2 filter=$3 want=$4 got
    got=$(jq -rs "$filter" "$out" 2>&1 | head -1)
    if [ "$got" = "$want" ]; then ok "$what"; else fail "$what: got '$got', want '$want'"; fi
}
# attempt PORT FAMILY: the jq selector of the attempts to that port and family.
attempt() { echo "select(.type==\"attempt\" and .server.port==$1 and .family==$2)"; }
