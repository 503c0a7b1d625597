#!/usr/bin/env bash
# html_render.sh - the HTML report of a capture renders in headless Chromium to a full PNG.
# usage: html_render.sh SYNSCOPE CAPTURE OUTDIR
# Writes OUTDIR/html_render/report.html and report.png (kept, to be looked at). Exits 77 (skipped)
# when Chromium is not installed, except under CI=true, where scripts/setup installs it.
set -u
synscope=$1
capture=$2
outdir=$3
width=1200
height=4000

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: chromium is not installed; scripts/setup should have installed the Debian" \
            "package 'chromium' on CI"
        exit 1
    fi
    echo "SKIPPED: chromium not installed"
    exit 77
fi

work="$outdir/html_render"
mkdir -p "$work" || exit 1
html="$work/report.html"
png="$work/report.png"
rm -f "$html" "$png"

if ! "$synscope" read -f html -o "$html" "$capture"; then
    echo "FAIL: synscope read -f html $capture failed"
    exit 1
fi
if ! grep -q '<svg' "$html"; then
    echo "FAIL: $html has no SVG picture"
    exit 1
fi

# A fresh profile, and nothing that talks to the network: the page must render on its own.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$png" --window-size="$width,$height" \
    "file://$(cd "$(dirname "$html")" && pwd)/$(basename "$html")" >"$work/chromium.log" 2>&1
status=$?
if [ ! -f "$png" ]; then
    echo "FAIL: chromium (exit $status) wrote no screenshot; its log:"
    tail -20 "$work/chromium.log"
    exit 1
fi

# A blank 1200x4000 page compresses to about 23 KB; the report with its diagrams to far more.
size=$(wc -c <"$png")
if [ "$size" -lt 100000 ]; then
    echo "FAIL: $png is only $size bytes: the page looks empty"
    exit 1
fi

python3 - "$png" "$width" "$height" <<'EOF' || exit 1
import struct, sys
path, want_w, want_h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as f:
    head = f.read(33)
if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
    sys.exit("FAIL: %s is not a PNG" % path)
w, h, depth, colour = struct.unpack(">IIBB", head[16:26])
if (w, h) != (want_w, want_h):
    sys.exit("FAIL: %s is %dx%d, expected %dx%d" % (path, w, h, want_w, want_h))
print("ok: %s is a %dx%d PNG (bit depth %d, colour type %d)" % (path, w, h, depth, colour))
EOF
echo "ok: $html rendered to $png ($size bytes)"
