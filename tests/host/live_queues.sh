#!/usr/bin/env bash
# live_queues.sh - full listen queues and a restarted service (issue 19, items 1 and 4), on
# the server, IPv4 and IPv6. A listener with backlog 1 that never calls accept(), hit by 6
# clients at once: the first connections fill the accept queue, the SYNs of the others are
# dropped (this kernel counts them in ListenOverflows and ListenDrops, with or without SYN
# cookies): accept-queue-full with the listener's queue and backlog; the service object has
# the listener and the counters' differences over the capture. Then a service down (refused,
# no-listener) started during the same capture (accepted, listening): listeners are asked
# again at the time of each attempt (at most once a second per port).
#   live_queues.sh SYNSCOPE BUILD_DIR
SYNSCOPE=$(realpath "$1")
TEST=live_queues
source "$(dirname "${BASH_SOURCE[0]}")/live_lib.bash"

# many_clients ADDR PORT N: N clients at once, each waits up to 2.5 s
many_clients() {
    local i
    for i in $(seq "$3"); do client "$1" "$2" 2.5 & done
    wait
}

for cookies in 0 1; do
    ip netns exec "$NS" sysctl -qw net.ipv4.tcp_syncookies=$cookies
    port=$((7020 + cookies))
    start_listener q4c$cookies 4 0.0.0.0 $port backlog=1 noaccept
    start_listener q6c$cookies 6 :: $((port + 10)) v6only backlog=1 noaccept
    OUT=$T/queue$cookies.json
    start_synscope "$NS" s0 "$OUT"
    echo "syncookies=$cookies v4: $(many_clients $SRV4 $port 6 | sort | uniq -c | tr '\n' ' ')"
    echo "syncookies=$cookies v6: $(many_clients $SRV6 $((port + 10)) 6 | sort | uniq -c | tr '\n' ' ')"
    stop_synscope
    for f in 4 6; do
        p=$port
        [ $f = 6 ] && p=$((port + 10))
        what="syncookies=$cookies v$f"
        expect_all "$what: accepted attempts say listening" "$OUT" \
            "[.[] | $(attempt $p $f) | select(.verdict == \"accepted\") | .host.cause] | unique | join(\",\")" listening
        expect_all "$what: unanswered attempts say accept-queue-full" "$OUT" \
            "[.[] | $(attempt $p $f) | select(.verdict != \"accepted\") | .host.cause] | unique | join(\",\")" accept-queue-full
        expect_all "$what: some SYNs were dropped" "$OUT" \
            "[.[] | $(attempt $p $f) | select(.verdict != \"accepted\")] | length > 0" true
        expect "$what: the listener's backlog" "$OUT" \
            "$(attempt $p $f) | select(.verdict != \"accepted\") | .host.listeners[0].backlog" 1
        expect "$what: detail names ListenOverflows" "$OUT" \
            "$(attempt $p $f) | select(.verdict != \"accepted\") | .host.detail | test(\"accept queue is full.*ListenOverflows\")" true
        expect "$what: service: the listener and its owner" "$OUT" \
            "select(.type == \"service\" and .server.port == $p) | .host.listeners[0] | \"\\(.backlog) \\(.comm)\"" "1 python3"
        expect "$what: service: ListenOverflows moved" "$OUT" \
            "select(.type == \"service\" and .server.port == $p) | .host.counters.ListenOverflows > 0" true
    done
done

# a service restarted during the capture
OUT=$T/restart.json
start_synscope "$NS" s0 "$OUT"
echo "before: $(client $SRV4 7040) $(client $SRV6 7040)"
sleep 1.2 # past the listeners' once-a-second refresh
start_listener restarted 6 :: 7040
echo "after: $(client $SRV4 7040) $(client $SRV6 7040)"
sleep 0.3
stop_synscope
for f in 4 6; do
    expect_all "v$f restarted service: no-listener, then listening" "$OUT" \
        "[.[] | $(attempt 7040 $f) | .host.cause] | join(\",\")" "no-listener,listening"
done
finish
