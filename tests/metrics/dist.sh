#!/usr/bin/env bash
# tests/metrics/dist.sh - the files of dist/: the alerting rules pass `promtool check rules`
# and fire as tests/metrics/alerts_test.yml expects (`promtool test rules`); `cmake --install`
# installs the systemd unit, which passes `systemd-analyze verify` (ExecStart pointed at the
# installed binary of a temporary prefix) and keeps its `systemd-analyze security` exposure
# under 3.0 (the score is printed).
# usage: dist.sh SOURCE_DIR BUILD_DIR   (exit 77: promtool or systemd-analyze missing, CI unset)
set -euo pipefail

src=$1
build=$2
for tool in promtool systemd-analyze; do
    if ! command -v "$tool" >/dev/null; then
        [[ -n "${CI:-}" ]] && { echo "dist.sh: $tool missing" >&2; exit 1; }
        echo "dist.sh: skipped, $tool missing (Debian packages prometheus, systemd)" >&2
        exit 77
    fi
done

tmp=$(mktemp -d /tmp/ssJ-dist.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() {
    echo "dist.sh: FAIL: $*" >&2
    exit 1
}

# --- alerting rules ---
cp "$src/dist/synscope-alerts.yml" "$src/tests/metrics/alerts_test.yml" "$tmp/"
(cd "$tmp" && promtool check rules synscope-alerts.yml && promtool test rules alerts_test.yml) ||
    fail "alerting rules"

# --- the unit, as cmake --install puts it ---
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
    fail "cmake --install: $(tail -3 "$tmp/install.log")"
unit=$tmp/prefix/lib/systemd/system/synscope.service
[[ -f "$unit" ]] || fail "cmake --install did not install lib/systemd/system/synscope.service"
grep -q '^ExecStart=/usr/local/bin/synscope live ' "$unit" || fail "ExecStart is not synscope live"
mkdir "$tmp/units"
sed "s|/usr/local/bin/synscope|$tmp/prefix/bin/synscope|" "$unit" >"$tmp/units/synscope.service"
# Documentation=man:synscope(1): verify runs man, which finds the installed page
MANPATH=$tmp/prefix/share/man systemd-analyze verify "$tmp/units/synscope.service" \
    >"$tmp/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$tmp/verify.log")"
if [[ -s "$tmp/verify.log" ]]; then
    fail "systemd-analyze verify warns: $(cat "$tmp/verify.log")"
fi

systemd-analyze security --offline=yes "$tmp/units/synscope.service" >"$tmp/security.log" 2>&1 ||
    true # exits non-zero when the exposure is above its --threshold (100 by default)
score=$(sed -n 's/.*Overall exposure level for synscope.service: \([0-9.]*\).*/\1/p' \
    "$tmp/security.log")
[[ -n "$score" ]] || fail "no security score: $(tail -3 "$tmp/security.log")"
echo "dist.sh: systemd-analyze security: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s < 3.0) }' || fail "exposure $score, not under 3.0"
echo "dist.sh: ok"
