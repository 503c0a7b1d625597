#!/usr/bin/env bash
# html_render.sh - the HTML report of a capture renders in headless Chromium, and the picture
# shows what the capture holds (read back from the PNG's pixels, against `read -f json`):
#   - the verdict swatches under the title: one per verdict seen, in order, in its colour;
#   - the bar chart: one bar per service, 24 px apart, a segment per verdict in its colour and
#     as wide as its count (560 px for the largest service), services in the table's order
#     (most failures, then most attempts); the legend's swatches;
#   - the ladders: one per failed attempt listed, in the order of the verdict sections, each
#     between two lifelines 600 px apart, its arrows coloured by kind (SYN dark, SYN-ACK
#     green, RST red, ICMP purple, the client's ACK/data blue): as many SYN arrows as the
#     attempt sent, and the answer that makes its verdict.
# The colours are report/rep_html.c's (verdict_colour, row_colour), written here again so
# that a page in the wrong colours fails; so does a blank one.
# usage: html_render.sh SYNSCOPE CAPTURE OUTDIR
# Writes OUTDIR/html_render/report.html and report.png (kept, to be looked at). Exits 77 (skipped)
# when Chromium is not installed, except under CI=true, where scripts/setup installs it.
set -u
synscope=$1
capture=$2
outdir=$3
width=1200
height=6400 # the whole report of demo.pcap (about 6200 px)

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
if ! "$synscope" read -f json -o "$work/report.json" "$capture"; then
    echo "FAIL: synscope read -f json $capture failed"
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

python3 - "$png" "$width" "$height" "$work/report.json" <<'EOF' || exit 1
import collections, json, struct, sys, zlib
path, want_w, want_h, json_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)
    return cond

# ---- the PNG: 8-bit RGB or RGBA, not interlaced; rows unfiltered (PNG spec, filters 0-4)
raw = open(path, "rb").read()
if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
    sys.exit("FAIL: %s is not a PNG" % path)
off, idat, ihdr = 8, [], None
while off < len(raw):
    n, kind = struct.unpack(">I4s", raw[off:off + 8])
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", raw[off + 8:off + 21])
    elif kind == b"IDAT":
        idat.append(raw[off + 8:off + 8 + n])
    off += 12 + n
w, h, depth, ctype, _, _, interlace = ihdr
if (w, h) != (want_w, want_h):
    sys.exit("FAIL: %s is %dx%d, expected %dx%d" % (path, w, h, want_w, want_h))
if depth != 8 or ctype not in (2, 6) or interlace != 0:
    sys.exit("FAIL: %s: bit depth %d, colour type %d, interlace %d not handled" % (path, depth, ctype, interlace))
bpp = 3 if ctype == 2 else 4
data = zlib.decompress(b"".join(idat))
stride = w * bpp
rows, prev = [], bytearray(stride)
# the Up filter adds two rows byte by byte: done on one big integer, with no carry from a byte
# to the next (the low 7 bits added, the top bit xor-ed)
LOW, HIGH = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
for y in range(h):
    f = data[y * (stride + 1)]
    cur = bytearray(data[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            cur[i] = (cur[i] + cur[i - bpp]) & 255
    elif f == 2:
        a, b = int.from_bytes(cur, "big"), int.from_bytes(prev, "big")
        cur = bytearray((((a & LOW) + (b & LOW)) ^ ((a ^ b) & HIGH)).to_bytes(stride, "big"))
    elif f == 3:
        for i in range(stride):
            cur[i] = (cur[i] + ((cur[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(bpp):
            cur[i] = (cur[i] + prev[i]) & 255
        for i in range(bpp, stride):
            a, b, c = cur[i - bpp], prev[i], prev[i - bpp]
            if a == b == c:
                cur[i] = (cur[i] + a) & 255
                continue
            pa, pb, pc = b - c, a - c, a + b - c - c
            pa, pb, pc = (pa if pa >= 0 else -pa), (pb if pb >= 0 else -pb), (pc if pc >= 0 else -pc)
            cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = cur
    if bpp == 4:  # RGB only, from here on
        cur = bytearray(cur)
        del cur[3::4]
    rows.append(bytes(cur))

def pixels(hexcolour):
    """The (x, y) of every pixel of exactly this colour."""
    c = bytes.fromhex(hexcolour.lstrip("#"))
    pts = set()
    for y, r in enumerate(rows):
        i = r.find(c)
        while i != -1:
            if i % 3 == 0:
                pts.add((i // 3, y))
            i = r.find(c, i + 1)
    return pts

def boxes(pts):
    """Connected areas (4-neighbours) as (x, y, width, height, pixel count)."""
    seen, out = set(), []
    for p in pts:
        if p in seen:
            continue
        stack, xs, ys = [p], [], []
        seen.add(p)
        while stack:
            x, y = stack.pop()
            xs.append(x)
            ys.append(y)
            for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if q in pts and q not in seen:
                    seen.add(q)
                    stack.append(q)
        out.append((min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1, len(xs)))
    return out

# report/rep_html.c: verdict_colour (enum order) and row_colour
VERDICTS = ["accepted", "reset-after-accept", "closed-after-accept", "refused",
            "refused-by-middlebox", "unreachable", "dropped", "half-open", "client-abort",
            "stale", "bad-synack", "undetermined"]
COLOUR = dict(zip(VERDICTS, ["#2e7d32", "#e65100", "#f9a825", "#c62828", "#ad1457", "#6a1b9a",
                             "#37474f", "#1565c0", "#00838f", "#8d6e63", "#5d4037", "#9e9e9e"]))
ROW = {"syn": "#24292f", "good": "#2e7d32", "bad": "#c62828", "icmp": "#6a1b9a",
       "client": "#0b5cad"}
LIFELINE = "#8c959f"

objs = [json.loads(l) for l in open(json_path)]
summary = objs[-1]
services = [o for o in objs if o["type"] == "service"]
attempts = [o for o in objs if o["type"] == "attempt"]
seen = [v for v in VERDICTS if summary["verdicts"][v] > 0]
need(len(seen) >= 3 and summary["attempts"] >= 5, "the capture has too little to draw")

areas = {v: boxes(pixels(COLOUR[v])) for v in seen}
# ---- the bar chart: segments 16 px high
segs = sorted((y, x, wd, v) for v in seen for (x, y, wd, ht, n) in areas[v]
              if ht == 16 and wd >= 2 and n >= wd * ht // 2)  # the count is written inside
bars = collections.OrderedDict()
for y, x, wd, v in segs:
    bars.setdefault(y, []).append((x, wd, v))
want_rows = min(len(services), 20)
if need(len(bars) == want_rows, "chart: %d bars, expected one per service (%d)" % (len(bars), want_rows)) and bars:
    ys = list(bars)
    need(all(b - a == 24 for a, b in zip(ys, ys[1:])), "chart: bars not 24 px apart: %s" % ys)
    left = min(x for row in bars.values() for x, _, _ in row)
    biggest = max(s["attempts"] for s in services[:want_rows])
    drawn = []
    for y, row in bars.items():
        row.sort()
        need(row[0][0] == left, "chart: the bar at y=%d starts at x=%d, not %d" % (y, row[0][0], left))
        for (x0, w0, _), (x1, _, _) in zip(row, row[1:]):
            need(abs(x0 + w0 - x1) <= 1, "chart: a gap in the bar at y=%d" % y)
        drawn.append(tuple((v, wd) for _, wd, v in row))
    def bar(s):
        return tuple((v, max(2, round(s["verdicts"][v] * 560 / biggest)))
                     for v in VERDICTS if s["verdicts"].get(v, 0) > 0)
    def same(d, e):
        return len(d) == len(e) and all(a[0] == b[0] and abs(a[1] - b[1]) <= 1 for a, b in zip(d, e))
    # the services' order: most failures, then most attempts; equal ones in any order
    def rank(s):
        return (-sum(n for v, n in s["verdicts"].items() if v not in ("accepted", "undetermined")),
                -s["attempts"])
    want = sorted(services, key=rank)[:want_rows]
    pending = list(want)
    for i, d in enumerate(drawn):
        match = [s for s in pending if same(d, bar(s)) and rank(s) == rank(pending[0])]
        if not need(match, "chart: bar %d is %s; no such service next (expected one of %s)"
                    % (i + 1, d, sorted({bar(s) for s in pending if rank(s) == rank(pending[0])}))):
            break
        pending.remove(match[0])
    # the legend (12 px) above the first bar, the swatches under the title (11 px): the
    # verdicts seen, in order
    for size, where, top, bottom in ((12, "chart legend", ys[0] - 80, ys[0]), (11, "title swatches", 0, ys[0] - 80)):
        found = sorted((y, x, v) for v in seen for (x, y, wd, ht, n) in areas[v]
                       if abs(wd - size) <= 1 and abs(ht - size) <= 1 and n >= (size - 1) ** 2
                       and top <= y < bottom)  # (edges on half pixels: 11 or 12 wide)
        firstline = [f for f in found if abs(f[0] - found[0][0]) <= 2] if found else []
        need([v for _, _, v in sorted(firstline, key=lambda f: f[1])] == seen,
             "%s: %s, expected %s" % (where, [v for _, _, v in sorted(firstline, key=lambda f: f[1])], seen))

# ---- the ladders: lifelines 600 px apart; the arrows crossing the column 60 px right of the
# client's lifeline, top to bottom
life = boxes(pixels(LIFELINE))
cols = collections.Counter(x for x, y, wd, ht, n in life if wd == 2 and ht >= 20)
ladders = []
if need(cols, "no ladder lifelines at all"):
    lx = min(x for x in cols if x + 600 in cols and cols[x] >= 3)
    segs = sorted((y, y + ht) for x, y, wd, ht, n in life if x == lx and wd == 2)
    for y0, y1 in segs:  # a lifeline is broken only by the dots and arrowheads on it
        if ladders and y0 - ladders[-1][1] <= 16:
            ladders[-1][1] = max(ladders[-1][1], y1)
        else:
            ladders.append([y0, y1])
    ladders = [l for l in ladders if l[1] < h - 2]  # cut by the bottom of the picture: left out
    kind_of = {bytes.fromhex(c.lstrip("#")): k for k, c in ROW.items()}
    probe = (lx + 60) * 3
    arrows_of = []
    for y0, y1 in ladders:
        seq = []
        last = None
        for y in range(y0, y1 + 1):
            k = kind_of.get(rows[y][probe:probe + 3])
            if k is not None and (k != last or y - lasty > 1):
                seq.append(k)
            if k is not None:
                last, lasty = k, y
        arrows_of.append(seq)

    # expected: the failed attempts of each verdict section (enum order, --list 20 each)
    failed = [v for v in seen if v != "accepted"]
    def verdict_of(seq):
        if "icmp" in seq:
            return "unreachable"
        if "bad" in seq:
            return "reset-after-accept" if "good" in seq else "refused"
        if "good" in seq:
            return "accepted-like"
        return "dropped"
    drawn = [verdict_of(s) for s in arrows_of]
    want = [v for v in failed for _ in range(min(summary["verdicts"][v], 20))]
    need(drawn == want, "ladders (by their arrows): %s, expected %s" % (drawn, want))
    for v in failed:
        syns_want = sorted(a["syns"] for a in attempts if a["verdict"] == v)
        syns_drawn = sorted(s.count("syn") for s, d in zip(arrows_of, drawn) if d == v)
        need(syns_drawn == syns_want, "%s ladders: SYN arrows %s, the attempts sent %s" % (v, syns_drawn, syns_want))
    need(all(s and s[0] == "syn" for s in arrows_of), "a ladder does not start with its SYN: %s" % arrows_of)
else:
    drawn = []

if problems:
    print("FAIL: %s does not show the report of the capture:" % path)
    for p in problems:
        print("  " + p)
    sys.exit(1)
print("ok: %s: %d bars, verdict swatches %s, %d ladders %s" % (path, len(bars), seen, len(ladders), drawn))
EOF
echo "ok: $html rendered to $png"
