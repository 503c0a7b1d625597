#!/usr/bin/env bash
# live_missing.sh - host evidence without a kernel feature (issue 19): SYNSCOPE_PRETEND_NO_BTF
# and SYNSCOPE_PRETEND_NO_NFT make synscope behave as on a kernel without BTF or nf_tables:
# one line each on stderr, the wire verdicts as always, and what is left of the evidence
# (listeners; the kernel's reason without the rule). A run killed with SIGKILL leaves no trace
# table behind (the kernel owns it). --no-host-evidence prints no note.
#   live_missing.sh SYNSCOPE BUILD_DIR
SYNSCOPE=$(realpath "$1")
TEST=live_missing
source "$(dirname "${BASH_SOURCE[0]}")/live_lib.bash"
command -v nft >/dev/null || { echo "FAIL: nft is needed"; exit 1; }

ip netns exec "$NS" nft add table inet fw
ip netns exec "$NS" nft add chain inet fw input '{ type filter hook input priority 0; policy accept; }'
ip netns exec "$NS" nft add rule inet fw input tcp dport 7011 reject with tcp reset

OUT=$T/nobtf.json
SYNSCOPE_PRETEND_NO_BTF=1 start_synscope "$NS" s0 "$OUT"
echo "client: $(client $SRV4 7001) $(client $SRV4 7011)"
sleep 0.3
stop_synscope
if grep -qx "host evidence: drop reasons off: kernel has no BTF" "$OUT.err"; then
    ok "no BTF: the one line"
else
    fail "no BTF: no line: $(cat "$OUT.err")"
fi
expect "no BTF: the wire verdict" "$OUT" "$(attempt 7001 4) | .verdict" refused
expect "no BTF: listeners still give the cause" "$OUT" "$(attempt 7001 4) | .host.cause" no-listener
expect "no BTF: no kernel reason" "$OUT" "$(attempt 7001 4) | .host.kernel_reason" null
expect "no BTF: the rule from nftables tracing" "$OUT" "$(attempt 7011 4) | .host.cause" firewall-reject

OUT=$T/nonft.json
SYNSCOPE_PRETEND_NO_NFT=1 start_synscope "$NS" s0 "$OUT"
echo "client: $(client $SRV4 7011)"
sleep 0.3
stop_synscope
if grep -q "^host evidence: nftables tracing off" "$OUT.err"; then
    ok "no nftables: the one line ($(grep '^host evidence' "$OUT.err"))"
else
    fail "no nftables: no line: $(cat "$OUT.err")"
fi
expect "no nftables: the wire verdict" "$OUT" "$(attempt 7011 4) | .verdict" refused
expect "no nftables: the kernel's reason still says firewall" "$OUT" "$(attempt 7011 4) | .host.cause" firewall-reject
expect "no nftables: no rule" "$OUT" "$(attempt 7011 4) | .host.rule" null
ip netns exec "$NS" nft list tables | grep -q synscope_trace && fail "pretend no nftables made a table"

# SIGKILL: the owned trace table goes with the process
OUT=$T/killed.json
start_synscope "$NS" s0 "$OUT"
if ip netns exec "$NS" nft list tables | grep -q synscope_trace; then
    ok "the trace table exists while synscope runs"
else
    fail "no trace table while synscope runs"
fi
kill -KILL "$SYN_PID"
wait "$SYN_PID" 2>/dev/null
sleep 0.5
if ip netns exec "$NS" nft list tables | grep -q synscope_trace; then
    fail "a killed run left its trace table: $(ip netns exec "$NS" nft list tables)"
else
    ok "a killed run leaves no trace table"
fi

OUT=$T/off.json
start_synscope "$NS" s0 "$OUT" --no-host-evidence
stop_synscope
if grep -q "^host evidence" "$OUT.err"; then fail "--no-host-evidence printed notes"; else ok "--no-host-evidence: no notes"; fi
ip netns exec "$NS" nft list tables | grep -q synscope_trace && fail "--no-host-evidence made a table"
finish
