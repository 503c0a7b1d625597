#!/usr/bin/env bash
# live_client.sh - host evidence on the client (issue 19, item 6): a rule of the client's own
# output chain drops its SYNs, so they never reach the wire and the capture never sees them;
# the kernel's events make the attempt (verdict dropped, reason local, host cause
# firewall-drop with the rule and NETFILTER_DROP), IPv4 and IPv6.
#   live_client.sh SYNSCOPE BUILD_DIR
SYNSCOPE=$(realpath "$1")
TEST=live_client
source "$(dirname "${BASH_SOURCE[0]}")/live_lib.bash"
command -v nft >/dev/null || { echo "FAIL: nft is needed"; exit 1; }

ip netns exec "$NC" nft -f - <<'NFT'
table inet out {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp dport 7050 drop
  }
}
NFT
OUT=$T/client.json
start_synscope "$NC" c0 "$OUT"
echo "client $SRV4:7050: $(client $SRV4 7050 1.5)"
echo "client $SRV6:7050: $(client $SRV6 7050 1.5)"
sleep 0.3
stop_synscope
for f in 4 6; do
    expect "v$f output drop: an attempt the capture never saw" "$OUT" "$(attempt 7050 $f) | .packets | length" 0
    expect "v$f output drop: verdict" "$OUT" "$(attempt 7050 $f) | \"\\(.verdict) \\(.reason)\"" "dropped local"
    expect "v$f output drop: side" "$OUT" "$(attempt 7050 $f) | .host.side" client
    expect "v$f output drop: cause" "$OUT" "$(attempt 7050 $f) | .host.cause" firewall-drop
    expect "v$f output drop: the rule" "$OUT" "$(attempt 7050 $f) | .host.rule" \
        "nft inet out output handle 2: tcp dport 7050 drop"
    expect "v$f output drop: kernel reason" "$OUT" "$(attempt 7050 $f) | .host.kernel_reason" NETFILTER_DROP
    expect "v$f output drop: retransmissions counted" "$OUT" "$(attempt 7050 $f) | .syns > 1" true
done
expect "the output drop's summary counts them as dropped" "$OUT" \
    'select(.type == "summary") | .verdicts.dropped' 2
finish
