#!/usr/bin/env bash
# live_firewall.sh - host evidence names the nftables rule (issue 19, item 3): on the server,
# for IPv4 and IPv6, a `drop` rule (firewall-drop), `reject with tcp reset` (firewall-reject,
# verdict refused) and `reject with icmpx admin-prohibited` (firewall-reject, verdict
# unreachable), each with the rule's text and the kernel's NETFILTER_DROP; the live text line
# of a reject says so too (its announcement waits for the trace of the verdict). The trace
# table is gone once synscope has ended.
#   live_firewall.sh SYNSCOPE BUILD_DIR
SYNSCOPE=$(realpath "$1")
TEST=live_firewall
source "$(dirname "${BASH_SOURCE[0]}")/live_lib.bash"
command -v nft >/dev/null || { echo "FAIL: nft is needed"; exit 1; }

# the rules exist before synscope starts: their text comes from its start-up snapshot
ip netns exec "$NS" nft -f - <<'NFT'
table inet fw {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 7010 drop
    tcp dport 7011 reject with tcp reset
    tcp dport 7012 reject with icmpx admin-prohibited
  }
}
NFT
OUT=$T/fw.json
start_synscope "$NS" s0 "$OUT"
for addr in $SRV4 $SRV6; do
    for port in 7010 7011 7012; do echo "client $addr:$port: $(client $addr $port 1.5)"; done
done
sleep 0.3
stop_synscope

for f in 4 6; do
    expect "v$f drop rule: cause" "$OUT" "$(attempt 7010 $f) | .host.cause" firewall-drop
    expect "v$f drop rule: the rule" "$OUT" "$(attempt 7010 $f) | .host.rule" \
        "nft inet fw input handle 2: tcp dport 7010 drop"
    expect "v$f drop rule: kernel reason" "$OUT" "$(attempt 7010 $f) | .host.kernel_reason" NETFILTER_DROP
    expect "v$f reject tcp reset: verdict" "$OUT" "$(attempt 7011 $f) | .verdict" refused
    expect "v$f reject tcp reset: cause" "$OUT" "$(attempt 7011 $f) | .host.cause" firewall-reject
    expect "v$f reject tcp reset: the rule" "$OUT" "$(attempt 7011 $f) | .host.rule" \
        "nft inet fw input handle 3: tcp dport 7011 reject with tcp reset"
    expect "v$f reject icmpx: verdict" "$OUT" "$(attempt 7012 $f) | .verdict" unreachable
    expect "v$f reject icmpx: cause" "$OUT" "$(attempt 7012 $f) | .host.cause" firewall-reject
    expect "v$f reject icmpx: the rule" "$OUT" "$(attempt 7012 $f) | .host.rule" \
        "nft inet fw input handle 4: tcp dport 7012 reject with icmpx admin-prohibited"
    expect "v$f reject icmpx: detail" "$OUT" \
        "$(attempt 7012 $f) | .host.detail | test(\"firewall rejected the SYN\")" true
done
if ip netns exec "$NS" nft list tables | grep -q synscope_trace; then
    fail "a trace table is left: $(ip netns exec "$NS" nft list tables)"
else
    ok "no trace table left after the run"
fi

# text: each live line of a reject carries the finding (the announcement waits for the trace)
TXT=$T/fw.txt
ip netns exec "$NS" "$SYNSCOPE" live -i s0 >"$TXT" 2>"$TXT.err" &
SYN_PID=$!
PIDS+=($SYN_PID)
for i in $(seq 100); do grep -q capturing "$TXT.err" && break; sleep 0.1; done
for i in 1 2 3 4 5 6 7 8; do client $SRV4 7011 >/dev/null; done
sleep 0.5
stop_synscope
lines=$(grep -c "^    host: refused: this host's firewall rejected the SYN" "$TXT")
if [ "$lines" -ge 8 ]; then
    ok "text: all 8 refusals name the rule ($lines lines with the finding)"
else
    fail "text: $lines of 8 refusals name the rule: $(cat "$TXT")"
fi
finish
