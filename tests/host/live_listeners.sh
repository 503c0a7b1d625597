#!/usr/bin/env bash
# live_listeners.sh - host evidence in 'synscope live' on the server (issue 19, the server side
# causes): for IPv4 and IPv6, a port nothing listens on (no-listener), a listener on loopback
# only while the client uses the server's address (bound-elsewhere, loopback), an IPV6_V6ONLY
# listener and an IPv4 client (bound-elsewhere, v6only), a listener that accepts (listening),
# each with the listener's owner as seen after the privilege drop; the text line says the same;
# --no-host-evidence gives the wire verdicts without a host object.
#   live_listeners.sh SYNSCOPE BUILD_DIR
SYNSCOPE=$(realpath "$1")
TEST=live_listeners
source "$(dirname "${BASH_SOURCE[0]}")/live_lib.bash"

start_listener lo4 4 127.0.0.1 7002
start_listener lo6 6 ::1 7002
start_listener v6only 6 :: 7003 v6only
start_listener any4 4 0.0.0.0 7004
start_listener any6 6 :: 7005

OUT=$T/server.json
start_synscope "$NS" s0 "$OUT"
for addr in $SRV4 $SRV6; do
    for port in 7001 7002 7003 7004; do
        echo "client $addr:$port: $(client $addr $port)"
    done
done
echo "client $SRV6:7005: $(client $SRV6 7005)"
sleep 0.5
stop_synscope

grep -q "^host evidence" "$OUT.err" && fail "notes on a kernel with every feature: $(cat "$OUT.err")"
for f in 4 6; do
    expect "v$f no listener: refused" "$OUT" "$(attempt 7001 $f) | .verdict" refused
    expect "v$f no listener: cause" "$OUT" "$(attempt 7001 $f) | .host.cause" no-listener
    expect "v$f no listener: side" "$OUT" "$(attempt 7001 $f) | .host.side" server
    expect "v$f no listener: kernel reason" "$OUT" "$(attempt 7001 $f) | .host.kernel_reason" NO_SOCKET
    expect "v$f no listener: no listeners" "$OUT" "$(attempt 7001 $f) | .host.listeners | length" 0
    expect "v$f loopback only: cause" "$OUT" "$(attempt 7002 $f) | .host.cause" bound-elsewhere
    expect "v$f loopback only: the listener's owner after the privilege drop" "$OUT" \
        "$(attempt 7002 $f) | .host.listeners[] | select(.ip == \"$([ $f = 4 ] && echo 127.0.0.1 || echo ::1)\") | \"\\(.pid) \\(.comm)\"" \
        "$(eval echo \$LSN_lo$f) python3"
    expect "v$f loopback only: detail" "$OUT" \
        "$(attempt 7002 $f) | .host.detail | test(\"bound to loopback only\")" true
done
expect "v4 accepting listener: cause" "$OUT" "$(attempt 7004 4) | .host.cause" listening
expect "v6 client, IPv4 listener only: cause" "$OUT" "$(attempt 7004 6) | .host.cause" bound-elsewhere
expect "v4 client, IPV6_V6ONLY listener: cause" "$OUT" "$(attempt 7003 4) | .host.cause" bound-elsewhere
expect "v4 client, IPV6_V6ONLY listener: detail" "$OUT" \
    "$(attempt 7003 4) | .host.detail | test(\"IPV6_V6ONLY\")" true
expect "v4 client, IPV6_V6ONLY listener: the listener" "$OUT" \
    "$(attempt 7003 4) | .host.listeners[0] | \"\\(.ip) \\(.v6only)\"" ":: true"
expect "v6 client, IPV6_V6ONLY listener: listening" "$OUT" "$(attempt 7003 6) | .host.cause" listening
expect "v6 client, wildcard listener: listening" "$OUT" "$(attempt 7005 6) | .host.cause" listening
expect "v6 wildcard listener: backlog" "$OUT" "$(attempt 7005 6) | .host.listeners[0].backlog" 16

# text: the line and the host finding under it
TXT=$T/server.txt
ip netns exec "$NS" "$SYNSCOPE" live -i s0 >"$TXT" 2>"$TXT.err" &
SYN_PID=$!
PIDS+=($SYN_PID)
for i in $(seq 100); do grep -q capturing "$TXT.err" && break; sleep 0.1; done
client $SRV4 7002 >/dev/null
sleep 0.5
stop_synscope
if grep -q "host: refused: no listener on $SRV4:7002, but python3 (pid $LSN_lo4) listens on 127.0.0.1:7002" "$TXT"; then
    ok "text: the live line's host finding"
else
    fail "text: no host finding: $(cat "$TXT")"
fi
if grep -q "On this host: refused: no listener" "$TXT" && ! grep -q "nothing listens on that port at that address" "$TXT"; then
    ok "text: the report's paragraph is the finding"
else
    fail "text: the report keeps the generic paragraph: $(cat "$TXT")"
fi

# --no-host-evidence: the same verdicts, no host object
OFF=$T/off.json
start_synscope "$NS" s0 "$OFF" --no-host-evidence
client $SRV4 7002 >/dev/null
sleep 0.3
stop_synscope
expect "--no-host-evidence: the wire verdict" "$OFF" "$(attempt 7002 4) | .verdict" refused
expect "--no-host-evidence: no host object" "$OFF" "$(attempt 7002 4) | has(\"host\")" false
finish
