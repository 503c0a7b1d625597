#!/usr/bin/env bash
# readme_demo.sh - README.md shows what `synscope read pcaps/demo.pcap` prints (the block after
# the line "$ synscope read pcaps/demo.pcap"): the text report, byte for byte, so that the
# README cannot drift from the program.
# usage: readme_demo.sh SYNSCOPE REPO_ROOT
set -u
synscope=$1
root=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
awk '/^\$ synscope read pcaps\/demo\.pcap$/ { on = 1; next } on && /^```$/ { exit } on' \
    "$root/README.md" >"$T/readme.txt"
if [ ! -s "$T/readme.txt" ]; then
    echo "FAIL: README.md has no block after '\$ synscope read pcaps/demo.pcap'"
    exit 1
fi
if ! TZ=UTC "$synscope" read "$root/pcaps/demo.pcap" >"$T/actual.txt" 2>"$T/err"; then
    echo "FAIL: synscope read pcaps/demo.pcap failed: $(cat "$T/err")"
    exit 1
fi
if diff -u "$T/readme.txt" "$T/actual.txt" >"$T/diff"; then
    echo "ok: README's demo report is what synscope prints ($(wc -l <"$T/actual.txt") lines)"
    echo "readme-demo: 1 passed, 0 failed"
    exit 0
fi
echo "FAIL: README's demo report differs from what synscope prints (- README, + synscope):"
cat "$T/diff"
echo "readme-demo: 0 passed, 1 failed"
exit 1
