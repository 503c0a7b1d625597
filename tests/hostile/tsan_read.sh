#!/usr/bin/env bash
# tsan_read.sh - 'synscope read' runs on two threads (the flow table; the reading and the
# report, in turns), or three when it reads a pipe or standard input (the reading on its own);
# this runs it, built with ThreadSanitizer, through every path where they meet: captures of
# every kind (pcap, and pcapng: the external ndpi_tcp_scan.pcapng and the generated capture
# written again as pcapng) and every output format, several files, standard input, a pipe, a
# damaged pcap and a damaged pcapng, --filter, --write-failed, a generated capture large
# enough to fill both rings many times, a reader that goes away (| head), a full disk, and
# SIGINT in the middle.
# Every run must end with the exit code README documents for it (0 success, 1 runtime failure:
# damaged file, full disk, interrupted); anything else fails, and so a ThreadSanitizer report
# (exit code 66, and its WARNING on stderr) or a crash (128+N) does.
#   usage: tsan_read.sh SYNSCOPE_TSAN GEN PCAP_DIR [EXTERNAL_PCAPS_DIR]
# (EXTERNAL_PCAPS_DIR, default PCAP_DIR/../../shared/external-pcaps, holds ndpi_tcp_scan.pcapng;
# missing, that file is a failure under CI=true and a visible skip otherwise.)
set -u
synscope=$(realpath "$1")
gen=$(realpath "$2")
pcaps=$(realpath "$3")
ext=${4:-$pcaps/../../shared/external-pcaps}
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
failures=0
runs=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# check NAME RC EXPECTED [STDERR_PATTERN]: the exit code is exactly EXPECTED, stderr has no
# ThreadSanitizer report, and matches STDERR_PATTERN when given (else is empty for exit 0)
check() {
    runs=$((runs + 1))
    local why=""
    if [ "$2" -ne "$3" ]; then
        why="exit $2, expected $3"
    elif grep -q 'ThreadSanitizer' "$T/err"; then
        why="a ThreadSanitizer report"
    elif [ -n "${4:-}" ] && ! grep -qE -- "$4" "$T/err"; then
        why="stderr does not match /$4/"
    elif [ -z "${4:-}" ] && [ "$3" -eq 0 ] && [ -s "$T/err" ]; then
        why="exit 0 with something on stderr"
    fi
    if [ -n "$why" ]; then
        echo "FAIL: $1 ($why)"
        sed -n '1,40p' "$T/err"
        failures=$((failures + 1))
    fi
}

# to_pcapng IN OUT: the pcap IN written again as pcapng (a section header, one interface with
# IN's link type and time resolution, an enhanced packet block per record)
to_pcapng() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
raw = open(sys.argv[1], "rb").read()
e, nano = {b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
           b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True)}[raw[:4]]
snaplen, linktype = struct.unpack(e + "II", raw[16:24])
def block(kind, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
opts = (struct.pack("<HHB3x", 9, 1, 9) if nano else b"") + struct.pack("<HH", 0, 0)  # if_tsresol
out.append(block(1, struct.pack("<HHI", linktype, 0, snaplen) + opts))
off, unit = 24, 1000000000 if nano else 1000000
while off < len(raw):
    sec, frac, incl, orig = struct.unpack(e + "IIII", raw[off:off + 16])
    ts = sec * unit + frac
    out.append(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig)
                     + raw[off + 16:off + 16 + incl]))
    off += 16 + incl
open(sys.argv[2], "wb").write(b"".join(out))
EOF
}

"$gen" --attempts 20000 "$T/big.pcap" >/dev/null || { echo "FAIL: bench generator"; exit 1; }
to_pcapng "$T/big.pcap" "$T/big.pcapng" || { echo "FAIL: writing big.pcap as pcapng"; exit 1; }
# the pcapng says what the pcap says (the converter, and synscope's pcapng path, both right)
"$synscope" read -f json "$T/big.pcap" 2>"$T/err" | grep -v '"type":"summary"' >"$T/big-pcap.json"
check "read -f json big.pcap" "${PIPESTATUS[0]}" 0
"$synscope" read -f json "$T/big.pcapng" 2>"$T/err" | grep -v '"type":"summary"' >"$T/big-pcapng.json"
check "read -f json big.pcapng" "${PIPESTATUS[0]}" 0
if [ "$(grep -c '"type":"attempt"' "$T/big-pcap.json")" -lt 20000 ] ||
    ! cmp -s "$T/big-pcap.json" "$T/big-pcapng.json"; then
    echo "FAIL: big.pcapng does not give big.pcap's attempts and services"
    failures=$((failures + 1))
fi
inputs=("$pcaps"/*.pcap "$T/big.pcap" "$T/big.pcapng")
if [ -f "$ext/ndpi_tcp_scan.pcapng" ]; then
    inputs+=("$ext/ndpi_tcp_scan.pcapng")
elif [ "${CI:-}" = "true" ]; then
    echo "FAIL: $ext/ndpi_tcp_scan.pcapng is missing"
    failures=$((failures + 1))
else
    echo "SKIPPED: $ext/ndpi_tcp_scan.pcapng is missing (the generated pcapng is still read)"
fi
for f in "${inputs[@]}"; do
    for fmt in json text html; do
        "$synscope" read -f "$fmt" -o /dev/null "$f" 2>"$T/err"
        rc=$? # before the $(basename) below, which sets $? to its own
        check "read -f $fmt $(basename "$f")" "$rc" 0
    done
done
"$synscope" read -f json -o /dev/null "$pcaps/demo.pcap" "$T/big.pcap" "$T/big.pcapng" \
    "$pcaps/demo.pcap" 2>"$T/err"
check "four files, pcap and pcapng" $? 0
"$synscope" read -f json -o /dev/null - <"$T/big.pcap" 2>"$T/err"
check "standard input" $? 0
"$synscope" read -f json -o /dev/null - <"$T/big.pcapng" 2>"$T/err"
check "standard input, pcapng" $? 0
# shellcheck disable=SC2002 # a real pipe, not a file on stdin
cat "$T/big.pcap" | "$synscope" read -f json -o /dev/null - 2>"$T/err"
check "a pipe" "${PIPESTATUS[1]}" 0
# shellcheck disable=SC2002 # a real pipe, not a file on stdin
cat "$T/big.pcapng" | "$synscope" read -f json -o /dev/null - 2>"$T/err"
check "a pipe, pcapng" "${PIPESTATUS[1]}" 0
# damaged: exit 1, one line naming the file (README, exit codes)
head -c 300000 "$T/big.pcap" >"$T/cut.pcap"
"$synscope" read -f json -o /dev/null "$T/cut.pcap" 2>"$T/err"
check "a damaged pcap" $? 1 'cut\.pcap: damaged after record [0-9]+'
head -c 300000 "$T/big.pcapng" >"$T/cut.pcapng"
"$synscope" read -f json -o /dev/null "$T/cut.pcapng" 2>"$T/err"
check "a damaged pcapng" $? 1 'cut\.pcapng: damaged after record [0-9]+'
head -c 300000 "$T/big.pcapng" | "$synscope" read -f json -o /dev/null - 2>"$T/err"
check "a damaged pcapng through a pipe" "${PIPESTATUS[1]}" 1 'damaged after record [0-9]+'
"$synscope" read -f json -o /dev/null --filter 'tcp port 80' "$T/big.pcap" 2>"$T/err"
check "--filter" $? 0
"$synscope" read -f json -o /dev/null --filter 'tcp port 80' "$T/big.pcapng" 2>"$T/err"
check "--filter, pcapng" $? 0
"$synscope" read -o /dev/null --write-failed "$T/failed.pcap" "$T/big.pcap" 2>"$T/err"
check "--write-failed" $? 0
"$synscope" read -o /dev/null --write-failed "$T/failed2.pcap" "$T/big.pcapng" 2>"$T/err"
check "--write-failed, pcapng" $? 0
# a reader that goes away ends synscope quietly: exit 0 (README)
"$synscope" read -f json "$T/big.pcap" 2>"$T/err" | head -1 >/dev/null
check "| head -1" "${PIPESTATUS[0]}" 0
"$synscope" read -f json "$T/big.pcapng" 2>"$T/err" | head -1 >/dev/null
check "| head -1, pcapng" "${PIPESTATUS[0]}" 0
if [ -w /dev/full ]; then
    "$synscope" read -f json -o /dev/full "$T/big.pcap" 2>"$T/err"
    # (not the errno: built with ThreadSanitizer, a JSON report that fails while reading says
    # "Inappropriate ioctl for device" where the release build says "No space left on device")
    check "/dev/full" $? 1 '^synscope: writing the report to /dev/full failed: '
elif [ "${CI:-}" = "true" ]; then
    echo "FAIL: /dev/full is not writable"
    failures=$((failures + 1))
else
    echo "SKIPPED: /dev/full is not writable (the full-disk run)"
fi
# SIGINT while the threads are busy: a bigger capture, interrupted after a moment: exit 1 and
# the note (or 0 and nothing on stderr if it had already finished)
"$gen" --attempts 200000 "$T/huge.pcap" >/dev/null
"$synscope" read -f json -o /dev/null "$T/huge.pcap" 2>"$T/err" &
pid=$!
sleep 1
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" -eq 0 ]; then
    echo "note: SIGINT came after the end of the read"
    check "SIGINT" "$rc" 0
else
    check "SIGINT" "$rc" 1 'interrupted by SIGINT after [0-9]+ packets'
fi

echo "tsan_read: $runs runs of 'synscope read' under ThreadSanitizer, $failures failed"
[ "$failures" -eq 0 ] && [ "$runs" -gt 0 ]
