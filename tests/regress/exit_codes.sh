#!/usr/bin/env bash
# exit_codes.sh - the exit codes and messages README documents for the cases where two rules
# meet, and for empty results:
#   - a damaged capture, or a read interrupted by SIGINT, whose readable part matches
#     --fail-on: exit 1 (the input error takes precedence over 3), the report of what was
#     read, and a note that --fail-on matched;
#   - attempts evicted by --max-flows before their verdict are undetermined: --fail-on failed
#     does not match them (exit 0, with a note saying so), --fail-on undetermined does (3);
#   - an unreadable capture: one line naming its path once, exit 1;
#   - several files are one capture: packet numbers continue across them;
#   - a --filter that lets no packet through: exit 0 and a note that nothing was judged.
# usage: exit_codes.sh SYNSCOPE PCAPS_DIR HOSTILE_DIR (for pcapgen.py)
set -u
synscope=$(realpath "$1")
pcaps=$(realpath "$2")
hostile=$(realpath "$3")
T=$(mktemp -d)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# expect WHAT CODE COMMAND...: runs COMMAND (stdout in $T/out, stderr in $T/err), checks the code
expect() {
    local what=$1 want=$2 rc
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$what: exit $rc"; else fail "$what: exit $rc, want $want; stderr: $(head -c 400 "$T/err")"; fi
}
has_err() { # WHAT FIXED-STRING: stderr holds it
    if grep -qF -- "$2" "$T/err"; then ok "$1"; else fail "$1: stderr lacks '$2': $(head -c 400 "$T/err")"; fi
}
lacks_err() {
    if grep -qF -- "$2" "$T/err"; then fail "$1: stderr has '$2'"; else ok "$1"; fi
}

# 1. damaged after record 27 of demo.pcap (3 of its 6 attempts failed by then)
head -c 3000 "$pcaps/demo.pcap" >"$T/damaged.pcap"
expect "damaged capture, --fail-on failed" 1 "$synscope" read --fail-on failed "$T/damaged.pcap"
has_err "damaged: the damage is named" "$T/damaged.pcap: damaged after record 27"
has_err "damaged: --fail-on's match is said" "--fail-on matched in what was read; exit 1"
if grep -qE '^synscope: 27 packets, 6 connection attempts, 3 failed' "$T/out"; then
    ok "damaged: the report of what was read is written"
else
    fail "damaged: no report of the 27 packets read: $(head -3 "$T/out")"
fi
expect "damaged capture, --fail-on not matching" 1 "$synscope" read --fail-on stale "$T/damaged.pcap"
lacks_err "damaged, no match: no --fail-on note" "--fail-on matched"
expect "the whole capture, --fail-on failed" 3 "$synscope" read --fail-on failed "$pcaps/demo.pcap"

# 1b. interrupted: demo.pcap through a pipe that then stays open; SIGINT after 1 s
mkfifo "$T/fifo"
(cat "$pcaps/demo.pcap"; exec sleep 30) >"$T/fifo" &
writer=$!
"$synscope" read --fail-on failed - <"$T/fifo" >"$T/out" 2>"$T/err" &
reader=$!
sleep 1
kill -INT "$reader"
wait "$reader"
rc=$?
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
if [ "$rc" = 1 ]; then ok "interrupted read, --fail-on matched: exit 1"; else fail "interrupted read: exit $rc, want 1; stderr: $(head -c 400 "$T/err")"; fi
has_err "interrupted: the interruption is said" "interrupted by SIGINT after"
has_err "interrupted: --fail-on's match is said" "--fail-on matched in what was read; exit 1"
if grep -qE '^synscope: 78 packets, 14 connection attempts, 10 failed' "$T/out"; then
    ok "interrupted: the report of what was read is written"
else
    fail "interrupted: no report of demo.pcap's attempts: $(head -3 "$T/out")"
fi

# 2. 2000 distinct SYNs, 1 us apart, none answered; --max-flows 100 evicts 1900 of them before
# their timeout: all are undetermined (evicted or capture-ended)
python3 "$hostile/pcapgen.py" flood 2000 "$T/flood.pcap" || fail "pcapgen.py flood"
expect "evicted, --fail-on failed" 0 "$synscope" read -q --max-flows 100 --fail-on failed "$T/flood.pcap"
has_err "evicted: the note says --fail-on cannot match them" \
    "1900 attempts were evicted by --max-flows; those evicted before their verdict are undetermined"
expect "evicted, --fail-on failed,undetermined" 3 "$synscope" read -q --max-flows 100 \
    --fail-on failed,undetermined "$T/flood.pcap"
lacks_err "evicted, undetermined listed: no note" "were evicted"
expect "no eviction, --fail-on failed" 0 "$synscope" read -q --fail-on failed "$T/flood.pcap"
lacks_err "no eviction: no note" "were evicted"

# 3. an unreadable capture: as root, read it as nobody
cp "$pcaps/demo.pcap" "$T/secret.pcap" && chmod 000 "$T/secret.pcap"
as_user=()
if [ "$(id -u)" = 0 ]; then
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    command -v setpriv >/dev/null || as_user=()
fi
if [ "$(id -u)" != 0 ] || [ ${#as_user[@]} -gt 0 ]; then
    expect "unreadable capture" 1 "${as_user[@]}" "$synscope" read "$T/secret.pcap"
    if [ "$(cat "$T/err")" = "synscope: $T/secret.pcap: Permission denied" ]; then
        ok "unreadable: one line, the path once: $(cat "$T/err")"
    else
        fail "unreadable: want 'synscope: $T/secret.pcap: Permission denied', got: $(cat "$T/err")"
    fi
else
    fail "unreadable: root without setpriv(1) cannot try an unreadable file"
fi

# 3b. several files are one capture: packet numbers continue across them (README, Input)
"$synscope" read -f json "$pcaps/refused-closed-v4.pcap" "$pcaps/dropped-v4.pcap" >"$T/two.json" 2>"$T/err"
first=$(python3 - "$T/two.json" "$pcaps/refused-closed-v4.pcap" <<'PY'
import json, struct, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
# records in the first file (classic pcap: 24-byte header, 16-byte record headers)
data = open(sys.argv[2], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
pos, count = 24, 0
while pos + 16 <= len(data):
    pos += 16 + struct.unpack(end + "I", data[pos + 8:pos + 12])[0]
    count += 1
second = [o for o in objs if o.get("type") == "attempt" and o["server"]["port"] == 83]
print(count, min(second[0]["packets"]) if len(second) == 1 and second[0].get("packets") else -1)
PY
)
set -- $first
if [ "${1:-0}" -gt 0 ] && [ "${2:--1}" = $(( ${1:-0} + 1 )) ]; then
    ok "two files: the second file's first packet is number $2 (the first file has $1)"
else
    fail "two files: want the dropped attempt's first packet to be number $(( ${1:-0} + 1 )), got '${2:-}' (first file: ${1:-?} records)"
fi

# 4. a filter that selects nothing
expect "--filter selecting nothing" 0 "$synscope" read --filter 'host 192.0.2.99' "$pcaps/demo.pcap"
has_err "--filter selecting nothing: the note" \
    "no packet passed the filter 'host 192.0.2.99': nothing was judged"
if grep -qE '^synscope: 0 packets, 0 connection attempts' "$T/out"; then
    ok "--filter selecting nothing: the report says 0 packets"
else
    fail "--filter selecting nothing: report header: $(head -1 "$T/out")"
fi
expect "--filter selecting something" 0 "$synscope" read --filter 'tcp' "$pcaps/demo.pcap"
lacks_err "--filter selecting something: no note" "no packet passed"

echo "exit-codes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
