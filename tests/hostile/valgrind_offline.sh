#!/usr/bin/env bash
# valgrind_offline.sh - the offline path under valgrind memcheck: 'synscope read' in text, json
# and html of every capture in the given folders, each run failing on any memcheck error or a
# definite leak (--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite).
# Runs on a release build (valgrind cannot run an ASan binary); scripts/test calls it after the
# two ctest runs.   usage: valgrind_offline.sh SYNSCOPE DIR...
set -u
if [ $# -lt 2 ]; then
    echo "usage: valgrind_offline.sh SYNSCOPE DIR..." >&2
    exit 2
fi
synscope=$(realpath "$1")
shift
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed"; exit 1; }
if nm -a "$synscope" 2>/dev/null | grep -q __asan_init; then
    echo "FAIL: $synscope is an ASan build; valgrind needs the release build"
    exit 1
fi
work=$(mktemp -d /tmp/ssvalgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s%N)

# one job per line: NUMBER FORMAT CAPTURE (capture paths without blanks)
n=0
for dir in "$@"; do
    [ -d "$dir" ] || { echo "FAIL: capture folder $dir is missing"; exit 1; }
    for f in "$dir"/*.pcap "$dir"/*.pcapng; do
        [ -f "$f" ] || continue
        case $f in *[[:space:]]*) echo "FAIL: blank in the path '$f'"; exit 1 ;; esac
        for fmt in text json html; do
            n=$((n + 1))
            echo "$n $fmt $(realpath "$f")"
        done
    done
done >"$work/jobs"
runs=$(wc -l <"$work/jobs")
[ "$runs" -gt 0 ] || { echo "FAIL: no captures found"; exit 1; }

# each job writes WORK/N.log (valgrind's report) and prints "RC N FORMAT CAPTURE"
export synscope work
run_one() {
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --log-file="$work/$1.log" "$synscope" read -f "$2" "$3" >/dev/null 2>"$work/$1.err"
    echo "$? $1 $2 $3"
}
export -f run_one
xargs -P "$(nproc)" -L 1 bash -c 'run_one "$@"' run_one <"$work/jobs" >"$work/results"

failures=0
while read -r rc n fmt capture; do
    # exit 0 for a good capture; 1 is what a damaged capture gives (none here, but the
    # damage is not memcheck's business): 99 is memcheck's verdict
    if [ "$rc" != 0 ] && [ "$rc" != 1 ] || [ -s "$work/$n.log" ]; then
        echo "FAIL $fmt $capture: exit $rc"
        head -40 "$work/$n.log"
        failures=$((failures + 1))
    fi
done <"$work/results"
checked=$(wc -l <"$work/results")
echo "valgrind memcheck: $checked runs of 'synscope read' (text, json, html of $((runs / 3)) captures), $failures with errors or definite leaks, $((($(date +%s%N) - t0) / 1000000000)) s"
[ "$checked" = "$runs" ] || { echo "FAIL: $((runs - checked)) runs did not report"; exit 1; }
[ "$failures" -eq 0 ]
