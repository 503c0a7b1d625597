#!/usr/bin/env bash
# tsan_read.sh - 'synscope read' runs on two threads (the flow table; the reading and the
# report, in turns), or three when it reads a pipe or standard input (the reading on its own);
# this runs it, built with ThreadSanitizer, through every path where they meet: captures of
# every kind and every output format, several files, standard input, a pipe, a damaged file,
# --filter, --write-failed, a generated capture large enough to fill both rings many times, a
# reader that goes away (| head), a full disk, and SIGINT in the middle. Any data race or other
# ThreadSanitizer report fails the run (exit code 66), and so does a crash.
#   usage: tsan_read.sh SYNSCOPE_TSAN GEN PCAP_DIR
set -u
synscope=$(realpath "$1")
gen=$(realpath "$2")
pcaps=$(realpath "$3")
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
failures=0
runs=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# check NAME RC: a ThreadSanitizer report exits 66; a signal death is 128+N
check() {
    runs=$((runs + 1))
    if [ "$2" -eq 66 ] || [ "$2" -ge 128 ]; then
        echo "FAIL: $1 (exit $2)"
        sed -n '1,40p' "$T/err"
        failures=$((failures + 1))
    fi
}

"$gen" --attempts 20000 "$T/big.pcap" >/dev/null || { echo "FAIL: bench generator"; exit 1; }
for f in "$pcaps"/*.pcap* "$T/big.pcap"; do
    case "$f" in *.expected) continue ;; esac
    for fmt in json text html; do
        "$synscope" read -f "$fmt" -o /dev/null "$f" 2>"$T/err"
        check "read -f $fmt $(basename "$f")" $?
    done
done
"$synscope" read -f json -o /dev/null "$pcaps/demo.pcap" "$T/big.pcap" "$pcaps/demo.pcap" 2>"$T/err"
check "three files" $?
"$synscope" read -f json -o /dev/null - <"$T/big.pcap" 2>"$T/err"
check "standard input" $?
cat "$T/big.pcap" | "$synscope" read -f json -o /dev/null - 2>"$T/err"
check "a pipe" "${PIPESTATUS[1]}"
head -c 300000 "$T/big.pcap" >"$T/cut.pcap"
"$synscope" read -f json -o /dev/null "$T/cut.pcap" 2>"$T/err"
check "a damaged file" $?
"$synscope" read -f json -o /dev/null --filter 'tcp port 80' "$T/big.pcap" 2>"$T/err"
check "--filter" $?
"$synscope" read -o /dev/null --write-failed "$T/failed.pcap" "$T/big.pcap" 2>"$T/err"
check "--write-failed" $?
"$synscope" read -f json "$T/big.pcap" 2>"$T/err" | head -1 >/dev/null
check "| head -1" "${PIPESTATUS[0]}"
if [ -w /dev/full ]; then
    "$synscope" read -f json -o /dev/full "$T/big.pcap" 2>"$T/err"
    check "/dev/full" $?
fi
# SIGINT while the threads are busy: a bigger capture, interrupted after a moment
"$gen" --attempts 200000 "$T/huge.pcap" >/dev/null
"$synscope" read -f json -o /dev/null "$T/huge.pcap" 2>"$T/err" &
pid=$!
sleep 1
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
check "SIGINT" "$rc"
if [ "$rc" -ne 1 ] && [ "$rc" -ne 0 ]; then
    echo "FAIL: SIGINT ended with exit $rc (expected 1, or 0 if it had finished)"
    failures=$((failures + 1))
fi

echo "tsan_read: $runs runs of 'synscope read' under ThreadSanitizer, $failures failed"
[ "$failures" -eq 0 ]
