#!/usr/bin/env bash
# read_all.sh - every external and lab capture is read without an error, a crash or a
# sanitizer report, in text and JSON, and the JSON summary accounts for every attempt.
# usage: read_all.sh SYNSCOPE DIR...
set -u
synscope=$1
shift
failures=0
count=0
for dir in "$@"; do
    [ -d "$dir" ] || { echo "FAIL: capture folder $dir is missing"; failures=$((failures + 1)); continue; }
    for f in "$dir"/*.pcap "$dir"/*.pcapng; do
        [ -f "$f" ] || continue
        count=$((count + 1))
        if ! "$synscope" read "$f" >/tmp/read_all.$$ 2>&1; then
            echo "FAIL text $f: $(tail -3 /tmp/read_all.$$)"
            failures=$((failures + 1))
            continue
        fi
        if ! out=$("$synscope" read -f json "$f" 2>&1); then
            echo "FAIL json $f: $(echo "$out" | tail -3)"
            failures=$((failures + 1))
            continue
        fi
        if ! echo "$out" | python3 -c '
import json, sys
objs = [json.loads(l) for l in sys.stdin]
att = [o for o in objs if o["type"] == "attempt"]
summ = [o for o in objs if o["type"] == "summary"]
assert len(summ) == 1 and objs[-1]["type"] == "summary"
assert sum(summ[0]["verdicts"].values()) == len(att) == summ[0]["attempts"]
for a in att:
    assert a["verdict"] in summ[0]["verdicts"], a
'; then
            echo "FAIL json-check $f"
            failures=$((failures + 1))
            continue
        fi
        echo "ok $f"
    done
done
rm -f /tmp/read_all.$$
[ "$count" -gt 0 ] || { echo "FAIL: no captures found"; exit 1; }
echo "$((count - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
