#!/usr/bin/env bash
# progress.sh - 'synscope read' draws a progress line on standard error when it is a terminal
# and every input is a regular file, erases it before the report, and stays silent otherwise
# (stderr a file, -q, standard input, JSON lines going to the terminal).
#   usage: progress.sh SYNSCOPE GEN    (GEN: bench/gen.c, built by CMake as bench_gen)
# The terminal is a pty made by script(1) (Debian package bsdutils, from util-linux's sources;
# Essential, and in scripts/setup's list all the same). Exits 77 (skipped) when script(1) is
# missing, except under CI=true, where scripts/setup installs it.
set -u
synscope=$(realpath "$1")
gen=$(realpath "$2")
failures=0
checked=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ok() { echo "ok: $*"; checked=$((checked + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); checked=$((checked + 1)); }
if ! command -v script >/dev/null; then
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: script(1) is not installed; scripts/setup should have installed the Debian" \
            "package 'bsdutils' on CI"
        exit 1
    fi
    echo "SKIPPED: script(1) is not installed (Debian package bsdutils)"
    exit 77
fi

# 3000 attempts: about 23000 packets, so the line is drawn (at the first 4096 packets)
"$gen" --attempts 3000 "$T/cap.pcap" >/dev/null || { echo "FAIL: bench generator"; exit 1; }
progress_re='[0-9]+% [0-9.]+/[0-9.]+ (B|KiB|MiB|GiB), [0-9]+ pkts [0-9.]+[kM]?/s, [0-9]+ attempts open, ETA [0-9:-]+'

# on_pty NAME COMMAND: runs COMMAND (a shell command line) with its standard streams on a pty;
# what the pty showed goes to NAME.tty
on_pty() {
    script -qec "$2" /dev/null </dev/null >"$T/$1.tty" 2>&1
}

# (a) stderr on a terminal: the line, with the packet count, then erased before the report
on_pty shown "'$synscope' read '$T/cap.pcap'"
if grep -aqE "$progress_re" "$T/shown.tty"; then
    ok "stderr a terminal: a progress line ($(grep -aoE "$progress_re" "$T/shown.tty" | head -1))"
else
    fail "stderr a terminal: no progress line in: $(head -c 300 "$T/shown.tty" | cat -v)"
fi
# the last progress text is followed by the erase sequence, and the report comes after it
last=$(tr '\r' '\n' <"$T/shown.tty" | grep -anE "$progress_re" | tail -1 | cut -d: -f1)
report=$(tr '\r' '\n' <"$T/shown.tty" | grep -anE $'^(\x1b\\[K)?synscope: [0-9]+ packets' | head -1 | cut -d: -f1)
if [ -n "$last" ] && [ -n "$report" ] && [ "$last" -lt "$report" ] &&
    tr '\r' '\n' <"$T/shown.tty" | sed -n "$((last + 1))p" | grep -aq $'^\x1b\[K'; then
    ok "the line is erased (\\r ESC [K) before the report"
else
    fail "the line is not erased before the report (last line $last, report $report): $(tail -c 400 "$T/shown.tty" | cat -v)"
fi
on_pty shown-o "'$synscope' read -o '$T/report.txt' '$T/cap.pcap'"
if grep -aqE "$progress_re" "$T/shown-o.tty" && grep -q '^synscope: [0-9]* packets' "$T/report.txt"; then
    ok "-o FILE, stderr a terminal: a progress line, the report in the file"
else
    fail "-o FILE, stderr a terminal: $(head -c 300 "$T/shown-o.tty" | cat -v)"
fi

# (b) stderr a file (stdout still a terminal): nothing on stderr for a clean file
on_pty stderr-file "'$synscope' read '$T/cap.pcap' 2>'$T/stderr'"
if [ ! -s "$T/stderr" ]; then
    ok "stderr a file: empty"
else
    fail "stderr a file: $(head -c 300 "$T/stderr" | cat -v)"
fi

# (c) -q and --quiet on a terminal: no line
for q in -q --quiet; do
    on_pty quiet "'$synscope' read $q '$T/cap.pcap'"
    if grep -aqE "$progress_re" "$T/quiet.tty" || grep -aq $'\r' <(sed 's/\r$//' "$T/quiet.tty"); then
        fail "$q: a progress line: $(head -c 300 "$T/quiet.tty" | cat -v)"
    elif grep -aq 'synscope: [0-9]* packets' "$T/quiet.tty"; then
        ok "$q: no progress line, the report"
    else
        fail "$q: no report: $(head -c 300 "$T/quiet.tty" | cat -v)"
    fi
done

# (d) standard input on a terminal: the size is unknown, no line
on_pty stdin "'$synscope' read - <'$T/cap.pcap'"
if grep -aqE "$progress_re" "$T/stdin.tty"; then
    fail "standard input: a progress line: $(head -c 300 "$T/stdin.tty" | cat -v)"
elif grep -aq 'synscope: [0-9]* packets' "$T/stdin.tty"; then
    ok "standard input: no progress line, the report"
else
    fail "standard input: no report: $(head -c 300 "$T/stdin.tty" | cat -v)"
fi

# JSON lines written to the terminal while reading would mix with the line: none
on_pty json "'$synscope' read -f json '$T/cap.pcap'"
if grep -aqE "$progress_re" "$T/json.tty"; then
    fail "-f json to the terminal: a progress line"
else
    ok "-f json to the terminal: no progress line"
fi

echo "$((checked - failures)) passed, $failures failed"
[ "$failures" -eq 0 ] && [ "$checked" -gt 0 ]
