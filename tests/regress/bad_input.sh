#!/usr/bin/env bash
# bad_input.sh - hostile and broken input: one clear line on stderr, the right exit code, and
# what was read before the damage still reported.  usage: bad_input.sh SYNSCOPE EXTERNAL_PCAPS
set -u
synscope=$1
ext=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

# expect NAME EXIT_CODE STDERR_PATTERN -- COMMAND...
expect() {
    local name=$1 code=$2 pattern=$3
    shift 4
    "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    local lines
    lines=$(wc -l <"$work/err")
    if [ "$rc" -ne "$code" ]; then
        echo "FAIL $name: exit $rc, expected $code; stderr: $(cat "$work/err")"
        failures=$((failures + 1))
    elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$work/err"; then
        echo "FAIL $name: stderr does not match /$pattern/: $(cat "$work/err")"
        failures=$((failures + 1))
    elif [ "$code" -ne 0 ] && [ "$code" -ne 3 ] && [ "$lines" -ne 1 ]; then
        echo "FAIL $name: expected one line on stderr, got $lines: $(cat "$work/err")"
        failures=$((failures + 1))
    else
        echo "ok $name"
        passes=$((passes + 1))
    fi
}

check() { # NAME CONDITION-COMMAND...
    local name=$1
    shift
    if "$@"; then
        echo "ok $name"
        passes=$((passes + 1))
    else
        echo "FAIL $name"
        failures=$((failures + 1))
    fi
}

good=$ext/zeek_pop3.pcap
[ -f "$good" ] || { echo "FAIL: $good is missing (../shared/external-pcaps)"; exit 1; }

expect missing-file 1 'nosuch\.pcap: No such file' -- "$synscope" read "$work/nosuch.pcap"
printf 'this is not a capture\n' >"$work/text.pcap"
expect not-a-capture 1 'text\.pcap: not a pcap or pcapng' -- "$synscope" read "$work/text.pcap"
: >"$work/empty.pcap"
expect empty-file 1 'empty\.pcap: empty file' -- "$synscope" read "$work/empty.pcap"
expect directory 1 'is a directory' -- "$synscope" read "$work"
printf '\xd4\xc3\xb2\xa1\x02\x00' >"$work/shorthdr.pcap"
expect short-header 1 'shorthdr\.pcap: .*truncated' -- "$synscope" read "$work/shorthdr.pcap"
# pcap header with link type 147 (USER0)
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x93\x00\x00\x00' >"$work/user0.pcap"
expect unsupported-linktype 1 'unsupported link type 147' -- "$synscope" read "$work/user0.pcap"

# a capture cut in the middle of a record: the error names the file, the report still comes
size=$(stat -c %s "$good")
head -c $((size - 50)) "$good" >"$work/cut.pcap"
expect truncated-record 1 'cut\.pcap: damaged after record [0-9]+' -- "$synscope" read -f json "$work/cut.pcap"
check truncated-record-still-reports grep -q '"type":"summary".*"input_error"' "$work/out"
check truncated-record-has-attempts grep -q '"verdict":"refused"' "$work/out"
expect truncated-record-text 1 'damaged' -- "$synscope" read "$work/cut.pcap"
check truncated-record-text-report grep -q 'Input error: .*cut.pcap' "$work/out"

# usage errors: exit 2
expect unknown-option 2 "unknown option '--bogus'" -- "$synscope" read --bogus "$good"
expect unknown-command 2 "unknown command 'reed'" -- "$synscope" reed "$good"
expect no-file 2 'no capture file' -- "$synscope" read
expect bad-format 2 "unknown format 'xml'" -- "$synscope" read -f xml "$good"
expect bad-max-flows 2 "--max-flows: 'abc'" -- "$synscope" read --max-flows abc "$good"
expect zero-max-flows 2 "--max-flows: '0'" -- "$synscope" read --max-flows 0 "$good"
expect huge-max-flows 2 "--max-flows" -- "$synscope" read --max-flows 99999999999999999999 "$good"
expect negative-timeout 2 "--syn-timeout: '-1'" -- "$synscope" read --syn-timeout -1 "$good"
expect nan-timeout 2 "--syn-timeout: 'nan'" -- "$synscope" read --syn-timeout nan "$good"
expect bad-fail-on 2 "--fail-on: 'refused,bogus'" -- "$synscope" read --fail-on refused,bogus "$good"
expect missing-value 2 "needs a value" -- "$synscope" read "$good" -o
expect two-stdin 2 "only once" -- "$synscope" read - -
expect bad-filter 2 "filter 'tcp port banana'" -- "$synscope" read --filter 'tcp port banana' "$good"
expect unwritable-output 1 "cannot write '/nonexistent/dir/x.json'" -- "$synscope" read -o /nonexistent/dir/x.json "$good"
# a full disk: /dev/full, or else (root) a 64 KiB tmpfs filled up first, in a private mount
# namespace; neither: a visible skip of this case, a failure under CI=true
if [ -w /dev/full ]; then
    expect full-disk 1 "writing the report to /dev/full failed: No space left on device" -- \
        "$synscope" read -o /dev/full "$good"
elif [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
    mkdir "$work/mnt"
    # shellcheck disable=SC2016 # the inner shell expands its own arguments
    expect full-disk-tmpfs 1 "writing the report to .*/mnt/report failed: No space left on device" -- \
        unshare -m sh -c 'mount -t tmpfs -o size=64k synscope-test "$1" 2>/dev/null || exit 99
            dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
            exec "$2" read -o "$1/report" "$3"' full "$work/mnt" "$synscope" "$good"
elif [ "${CI:-}" = "true" ]; then
    echo "FAIL full-disk: /dev/full is not writable and a tmpfs cannot be mounted (not root)"
    failures=$((failures + 1))
else
    echo "SKIPPED full-disk: /dev/full is not writable and a tmpfs cannot be mounted (not root)"
fi

# --fail-on: 3 when matched, 0 when not
expect fail-on-match 3 '' -- "$synscope" read --fail-on refused,dropped "$good"
expect fail-on-any-failure 3 '' -- "$synscope" read --fail-on failed "$good"
expect fail-on-no-match 0 '' -- "$synscope" read --fail-on unreachable "$good"

# stdin gives the same report as the file; several files add up
"$synscope" read -f json "$good" | grep -v '"type":"summary"' >"$work/file.json"
"$synscope" read -f json - <"$good" | grep -v '"type":"summary"' >"$work/stdin.json"
check stdin-same-as-file cmp -s "$work/file.json" "$work/stdin.json"
n1=$("$synscope" read -f json "$good" | grep -c '"type":"attempt"')
n2=$("$synscope" read -f json "$ext/zeek_get.pcap" | grep -c '"type":"attempt"')
n12=$("$synscope" read -f json "$good" "$ext/zeek_get.pcap" | grep -c '"type":"attempt"')
check several-files-add-up [ "$n12" -eq $((n1 + n2)) ]
check help-lists-options sh -c "'$synscope' read --help | grep -q -- '--max-flows'"
# a reader that goes away (| head -1) ends synscope quietly: exit 0, nothing on stderr
for fmt in json text; do
    "$synscope" read -f $fmt "$ext/ndpi_synscan.pcap" "$ext/ndpi_gnutella.pcap" 2>"$work/pipe.err" | head -1 >/dev/null
    rc=${PIPESTATUS[0]}
    check "closed-pipe-quiet-$fmt" sh -c "[ $rc -eq 0 ] && [ ! -s '$work/pipe.err' ]"
done

# --max-flows: a scan of 1994 ports with room for 10 attempts evicts the oldest, counts them,
# and still accounts for every attempt in the summary
"$synscope" read --max-flows 10 -f json "$ext/ndpi_synscan.pcap" | tail -1 >"$work/evict.json"
check eviction-bounded-and-counted python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["peak_tracked"] <= 10, d["peak_tracked"]
assert d["evicted"] > 1900, d["evicted"]
assert sum(d["verdicts"].values()) == d["attempts"] >= 1994
assert d["verdicts"]["undetermined"] >= d["evicted"] - 10
' "$work/evict.json"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
