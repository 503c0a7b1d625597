#!/usr/bin/env python3
"""sweep.py - truncation and corruption sweep: every capture in a folder, cut at every record
boundary and at a sample of byte offsets, and with random bytes flipped (fixed seed), read by
'synscope read -f json'.

    sweep.py SYNSCOPE PCAP_DIR [SEED]

Every run must end within TIMEOUT seconds (a hang is a failure), exit 0 or 1 (never a signal),
and print nothing a sanitizer or a crash prints. Besides:
  - cut at a record boundary: a valid, shorter capture. Exit 0, stderr empty, and the JSON
    summary counts exactly the records before the cut;
  - cut anywhere else: the file is broken. Exit 1 and exactly one line on stderr naming the
    file; inside a record, the line says "damaged after record K" with K the number of whole
    records before the cut, and the report of those K packets is still written;
  - bytes flipped: exit 0, or exit 1 with exactly one line on stderr naming the file.
Prints one line per failure, the counts per kind and the time taken.
"""
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapgen import record_boundaries  # noqa: E402

TIMEOUT = 10
OFFSETS_PER_FILE = 8  # byte offsets that are not record boundaries, per capture
FLIPS_PER_FILE = 8  # corrupted copies per capture
CRASH = re.compile(r"Sanitizer|runtime error:|Segmentation|Aborted|core dumped|LeakSanitizer")


def run(synscope, path):
    """(exit code or None on timeout, stdout, stderr)"""
    try:
        p = subprocess.run([synscope, "read", "-f", "json", path], capture_output=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b""
    return p.returncode, p.stdout, p.stderr


def summary_of(stdout):
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return None
    try:
        last = json.loads(lines[-1])
    except ValueError:
        return None
    return last if last.get("type") == "summary" else None


def check(case):
    """Runs one case; returns a list of problems (empty: passed)."""
    synscope, kind, path, expect = case
    rc, out, err = run(synscope, path)
    text = err.decode("utf-8", "replace")
    name = os.path.basename(path)
    problems = []
    if rc is None:
        return ["hang: no end within %d s" % TIMEOUT]
    if rc < 0:
        problems.append("killed by signal %d" % -rc)
    if CRASH.search(text):
        problems.append("crash or sanitizer report: %s" % text[:300])
    if problems:
        return problems
    lines = text.splitlines()
    if kind == "boundary":
        s = summary_of(out)
        if rc != 0 or text:
            problems.append("exit %d, stderr %r (a cut at a record boundary is a valid capture)"
                            % (rc, text[:200]))
        elif s is None or s["packets"] != expect:
            problems.append("summary counts %s packets, the cut keeps %d records"
                            % (None if s is None else s["packets"], expect))
    elif kind == "offset":
        if rc != 1 or len(lines) != 1 or name not in lines[0]:
            problems.append("exit %d, stderr %r: want exit 1 and one line naming the file"
                            % (rc, text[:300]))
        elif expect is not None:
            m = re.search(r"damaged after record (\d+)", lines[0])
            if m is None or int(m.group(1)) != expect:
                problems.append("%r: want 'damaged after record %d'" % (lines[0], expect))
            s = summary_of(out)
            if expect > 0 and (s is None or s["packets"] != expect or "input_error" not in s):
                problems.append("the report of the %d packets before the damage is missing"
                                % expect)
    elif kind == "flip":
        if rc not in (0, 1):
            problems.append("exit %d: want 0 or 1" % rc)
        elif rc == 1 and (len(lines) != 1 or name not in lines[0]):
            problems.append("exit 1 with stderr %r: want one line naming the file" % text[:300])
    return problems


def cases_for(synscope, capture, work, rng):
    data = open(capture, "rb").read()
    stem = os.path.basename(capture)
    ext = ".pcapng" if stem.endswith(".pcapng") else ".pcap"
    stem = stem[: -len(ext)]
    bounds = record_boundaries(capture)
    is_pcap = not data.startswith(b"\x0a\x0d\x0d\x0a")
    cases = []

    def write(tag, content):
        path = os.path.join(work, "%s.%s%s" % (stem, tag, ext))
        with open(path, "wb") as f:
            f.write(content)
        return path

    # every record boundary (for pcap the first is the end of the file header: 0 records)
    for k, b in enumerate(bounds):
        if b < len(data):
            records = k if is_pcap else None
            if records is None:
                continue  # pcapng: blocks are not all packets; covered by the offsets below
            cases.append((synscope, "boundary", write("cut%d" % b, data[:b]), records))
    # a sample of byte offsets that are not boundaries: inside the file header and records
    inner = [o for o in range(1, len(data)) if o not in set(bounds)]
    for o in sorted(rng.sample(inner, min(OFFSETS_PER_FILE, len(inner)))):
        records = None
        if is_pcap and o > bounds[0]:
            records = sum(1 for b in bounds[1:] if b <= o)
        cases.append((synscope, "offset", write("cut%d" % o, data[:o]), records))
    # random bytes flipped: 1 to 16 bytes anywhere, each xored with a non-zero value
    for n in range(FLIPS_PER_FILE):
        copy = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            copy[rng.randrange(len(copy))] ^= rng.randint(1, 255)
        cases.append((synscope, "flip", write("flip%d" % n, bytes(copy)), None))
    return cases


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: sweep.py SYNSCOPE PCAP_DIR [SEED]\n")
        return 2
    synscope, folder = argv[1], argv[2]
    seed = int(argv[3]) if len(argv) == 4 else 6
    rng = random.Random(seed)
    captures = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                      if f.endswith(".pcap") or f.endswith(".pcapng"))
    if not captures:
        print("FAIL: no captures in %s" % folder)
        return 1
    t0 = time.monotonic()
    counts = {"boundary": 0, "offset": 0, "flip": 0}
    failures = 0
    with tempfile.TemporaryDirectory(prefix="sssweep.") as work:
        cases = []
        for capture in captures:
            cases += cases_for(synscope, capture, work, rng)
        workers = max(1, min(4, os.cpu_count() or 1))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for case, problems in zip(cases, pool.map(check, cases)):
                counts[case[1]] += 1
                for p in problems:
                    failures += 1
                    print("FAIL %s %s: %s" % (case[1], os.path.basename(case[2]), p))
    took = time.monotonic() - t0
    print("sweep (seed %d): %d captures; %d cuts at record boundaries, %d cuts at other "
          "offsets, %d copies with flipped bytes; %d runs in %.1f s, %d failed"
          % (seed, len(captures), counts["boundary"], counts["offset"], counts["flip"],
             sum(counts.values()), took, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
