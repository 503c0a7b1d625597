#!/usr/bin/env bash
# write_failed.sh - `--write-failed FILE` keeps exactly the packets of the failed attempts:
# reading FILE back gives the same failures and no accepted attempt.
# usage: write_failed.sh SYNSCOPE PCAPS_DIR
set -u
synscope=$1
pcaps=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checked=0
for name in demo where-client rate-limited-v4 middlebox-reset-v6; do
    checked=$((checked + 1))
    if ! "$synscope" read -f json --write-failed "$work/$name.pcap" "$pcaps/$name.pcap" >"$work/full.json"; then
        echo "FAIL $name: synscope read --write-failed failed"; failures=$((failures + 1)); continue
    fi
    "$synscope" read -f json "$work/$name.pcap" >"$work/failed.json" || { echo "FAIL $name: re-read"; failures=$((failures + 1)); continue; }
    if ! python3 - "$work/full.json" "$work/failed.json" <<'PY'
import json, sys
def load(p):
    objs = [json.loads(l) for l in open(p)]
    summ = objs[-1]
    att = [o for o in objs if o["type"] == "attempt"]
    return summ, att
full, full_att = load(sys.argv[1])
part, part_att = load(sys.argv[2])
failed = {v: n for v, n in full["verdicts"].items() if v not in ("accepted", "undetermined")}
got = {v: n for v, n in part["verdicts"].items() if v not in ("accepted", "undetermined")}
assert failed == got, (failed, got)
assert sum(failed.values()) > 0
# only the failed attempts' packets: fewer packets than the whole capture
assert part["packets"] <= full["packets"], (part["packets"], full["packets"])
assert full["verdicts"]["accepted"] == 0 or part["packets"] < full["packets"]
want = sorted((a["client"]["port"], a["server"]["port"]) for a in full_att if a["verdict"] in failed)
have = sorted((a["client"]["port"], a["server"]["port"]) for a in part_att if a["verdict"] in failed)
assert want == have, (want, have)
PY
    then
        echo "FAIL $name: the failed packets do not give the same failures"; failures=$((failures + 1)); continue
    fi
    echo "ok $name"
done
# standard input cannot be read twice: a usage error
if "$synscope" read --write-failed "$work/x.pcap" - <"$pcaps/demo.pcap" >/dev/null 2>"$work/err"; then
    echo "FAIL stdin: accepted"; failures=$((failures + 1))
elif ! grep -q "needs capture files" "$work/err"; then
    echo "FAIL stdin: $(cat "$work/err")"; failures=$((failures + 1))
else
    echo "ok stdin"
fi
checked=$((checked + 1))
echo "$((checked - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
