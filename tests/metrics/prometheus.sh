#!/usr/bin/env bash
# tests/metrics/prometheus.sh - the /metrics endpoint against real clients: curl (good and bad
# requests, while 20 slow clients hold connections), promtool check metrics, and a real
# Prometheus server (Debian's) that scrapes it every second; the values Prometheus's HTTP API
# returns must equal the known counts of metrics_serve.c.
# usage: prometheus.sh METRICS_SERVE   (exit 77: prometheus missing and CI not set)
set -euo pipefail

serve_bin=$1
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    if [[ -n "${CI:-}" ]]; then
        echo "prometheus.sh: prometheus or promtool missing (Debian package prometheus)" >&2
        exit 1
    fi
    echo "prometheus.sh: skipped, prometheus missing (apt-get install prometheus)" >&2
    exit 77
fi

tmp=$(mktemp -d /tmp/ssJ-prom.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() {
    echo "prometheus.sh: FAIL: $*" >&2
    exit 1
}

# --- a non-local address is refused, one line ---
if "$serve_bin" 0.0.0.0:0 >"$tmp/remote.out" 2>"$tmp/remote.err"; then
    fail "0.0.0.0 was bound without --allow-remote"
fi
grep -q "not a loopback address" "$tmp/remote.err" || fail "no reason given: $(cat "$tmp/remote.err")"
[[ $(wc -l <"$tmp/remote.err") -eq 1 ]] || fail "the refusal is not one line"

# --- the server of known counts ---
"$serve_bin" 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 100); do
    grep -q '^port ' "$tmp/serve.out" 2>/dev/null && break
    sleep 0.05
done
port=$(awk '/^port /{print $2}' "$tmp/serve.out")
[[ -n "$port" ]] || fail "metrics_serve did not start: $(cat "$tmp/serve.err")"
url="http://127.0.0.1:$port/metrics"

# --- curl: good and bad requests ---
curl -sf --max-time 5 "$url" >"$tmp/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$tmp/metrics.txt" || fail "promtool check metrics"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[[ $(code -I "$url") == 200 ]] || fail "HEAD /metrics"
[[ $(code "http://127.0.0.1:$port/") == 404 ]] || fail "GET / is not 404"
[[ $(code -X POST "$url") == 405 ]] || fail "POST is not 405"
[[ $(code -H 'Content-Length: 3' --data-binary abc -X GET "$url") == 413 ]] || fail "a body is not 413"
[[ $(code -H "X-Long: $(head -c 9000 /dev/zero | tr '\0' x)" "$url") == 431 ]] || fail "431"
[[ $(code "$url?$(head -c 2000 /dev/zero | tr '\0' x)") == 414 ]] || fail "414"

# --- a full registry (1,000 servers and "other"): megabytes sent over several steps ---
"$serve_bin" 127.0.0.1:0 --fill >"$tmp/full.out" 2>"$tmp/full.err" &
pids+=($!)
for _ in $(seq 200); do
    grep -q '^port ' "$tmp/full.out" 2>/dev/null && break
    sleep 0.05
done
port_full=$(awk '/^port /{print $2}' "$tmp/full.out")
[[ -n "$port_full" ]] || fail "metrics_serve --fill did not start: $(cat "$tmp/full.err")"
curl -sf --max-time 10 "http://127.0.0.1:$port_full/metrics" >"$tmp/full.txt" || fail "full GET"
promtool check metrics <"$tmp/full.txt" || fail "promtool check metrics, full registry"
servers=$(grep -o 'server="[^"]*"' "$tmp/full.txt" | sort -u | wc -l)
[[ $servers -eq 1001 ]] || fail "$servers server label values, not 1,000 and other"
echo "prometheus.sh: full registry: $(wc -c <"$tmp/full.txt") bytes, $servers server values"

# --- IPv6: [::1]:PORT ---
"$serve_bin" '[::1]:0' >"$tmp/serve6.out" 2>"$tmp/serve6.err" &
pids+=($!)
for _ in $(seq 100); do
    grep -q '^port ' "$tmp/serve6.out" 2>/dev/null && break
    sleep 0.05
done
port6=$(awk '/^port /{print $2}' "$tmp/serve6.out")
[[ -n "$port6" ]] || fail "metrics_serve [::1]:0 did not start: $(cat "$tmp/serve6.err")"
curl -sfg --max-time 5 "http://[::1]:$port6/metrics" | grep -q '^synscope_build_info' ||
    fail "GET /metrics over IPv6"

# --- 20 slow clients (slowloris) hold connections: curl is still served ---
python3 - "$port" <<'EOF' &
import socket, sys, time
socks = []
for i in range(20):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.send(b"GET /metr")
    socks.append(s)
for _ in range(40):
    for s in socks:
        try:
            s.send(b"i")
        except OSError:
            pass
    time.sleep(0.1)
EOF
slow_pid=$!
pids+=($slow_pid)
sleep 0.5
curl -sf --max-time 3 "$url" >/dev/null || fail "not served while 20 slow clients are connected"
wait "$slow_pid" || true

# --- a real Prometheus scrapes it ---
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: synscope
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prom.log" 2>&1 &
pids+=($!)

python3 - "$prom_port" <<'EOF' || { tail -20 "$tmp/prom.log" >&2; fail "Prometheus's values"; }
import json, sys, time, urllib.parse, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
want = {
    'up{job="synscope"}': 1,
    'synscope_attempts_total{server="10.0.0.1:80",verdict="accepted"}': 5,
    'synscope_attempts_total{server="10.0.0.1:80",verdict="refused"}': 3,
    'synscope_attempts_total{server="[2001:db8::1]:22",verdict="dropped"}': 4,
    'synscope_attempts_total{server="other",verdict="refused"}': 7,
    'sum(synscope_attempts_total)': 19,
    'synscope_syn_retransmissions_total{server="[2001:db8::1]:22"}': 8,
    'synscope_host_cause_total{server="10.0.0.1:80",cause="no-listener"}': 3,
    'synscope_host_cause_total{server="[2001:db8::1]:22",cause="firewall-drop"}': 4,
    'synscope_handshake_rtt_seconds_count{server="10.0.0.1:80"}': 5,
    'synscope_handshake_rtt_seconds_bucket{server="10.0.0.1:80",le="0.001"}': 0,
    'synscope_handshake_rtt_seconds_bucket{server="10.0.0.1:80",le="0.0025"}': 5,
    'synscope_capture_packets_total': 1234,
    'synscope_capture_dropped_total': 7,
    'synscope_attempts_open': 3,
    'synscope_attempts_evicted_total': 1,
    'synscope_build_info{version="0.0.0-test"}': 1,
}
def query(expr):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]
deadline = time.time() + 60
while True:
    try:
        if query('synscope_build_info'):
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("Prometheus never scraped the endpoint")
    time.sleep(0.5)
bad = 0
for expr, value in want.items():
    result = query(expr)
    got = [float(r["value"][1]) for r in result]
    ok = got == [float(value)]
    print("%s %s = %s (want %s)" % ("ok  " if ok else "FAIL", expr, got, value))
    bad += not ok
series = query('count(synscope_attempts_total)')
print("series of attempts_total:", series[0]["value"][1])
sys.exit(1 if bad else 0)
EOF
echo "prometheus.sh: ok"
