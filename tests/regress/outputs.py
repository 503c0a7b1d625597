#!/usr/bin/env python3
"""outputs.py - every report synscope writes, byte for byte, on every capture we hold.

For each capture in pcaps/ and in ../shared/external-pcaps, synscope `read` runs in four
forms (text, text listing every failed attempt, JSON, HTML); the SHA-256 of what it writes
(standard output, standard error and the exit code) is compared with the manifest
tests/regress/outputs.sha256. A change that moves one byte of one report fails here; a
change meant to alter reports regenerates the manifest in the same commit and says so.

usage:
  outputs.py SYNSCOPE MANIFEST DIR...             check (the test regress/outputs)
  outputs.py SYNSCOPE MANIFEST DIR... --update    rewrite the manifest
  outputs.py SYNSCOPE MANIFEST DIR... --against OLD_SYNSCOPE
      run both programs and show the first lines that differ, report by report (to see
      what a change did before regenerating the manifest)
"""
import difflib
import hashlib
import os
import subprocess
import sys

FORMS = {
    "text": [],
    "text-all": ["--list", "1000000"],
    "json": ["-f", "json"],
    "html": ["-f", "html"],
}


def captures(dirs):
    """(label, folder, file name) of every capture, in a fixed order."""
    for d in dirs:
        label = os.path.basename(os.path.normpath(d))
        for name in sorted(os.listdir(d)):
            if name.endswith((".pcap", ".pcapng")):
                yield label, d, name


def run(synscope, folder, name, form):
    """What synscope writes for one capture in one form, as one byte string. It runs in the
    capture's folder on the bare file name, so that no path of this checkout is in it."""
    env = dict(os.environ, TZ="UTC")
    p = subprocess.run([synscope, "read", "-q", *FORMS[form], name], cwd=folder, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return (b"== stdout\n" + p.stdout + b"\n== stderr\n" + p.stderr +
            b"\n== exit %d\n" % p.returncode)


def key(label, name, form):
    return f"{label}/{name} {form}"


def main(argv):
    update = "--update" in argv
    against = None
    if "--against" in argv:
        i = argv.index("--against")
        against = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    args = [a for a in argv[1:] if a != "--update"]
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    synscope, manifest, dirs = os.path.abspath(args[0]), args[1], args[2:]
    for d in dirs:
        if not os.path.isdir(d):
            print(f"outputs: capture folder {d} is missing", file=sys.stderr)
            return 1

    if against:
        differ = 0
        for label, folder, name in captures(dirs):
            for form in FORMS:
                new = run(synscope, folder, name, form)
                old = run(against, folder, name, form)
                if new != old:
                    differ += 1
                    print(f"DIFFERS {key(label, name, form)}")
                    lines = difflib.unified_diff(
                        old.decode("utf-8", "replace").splitlines(),
                        new.decode("utf-8", "replace").splitlines(), "old", "new", lineterm="", n=1)
                    for line in list(lines)[:40]:
                        print("  " + line)
        print(f"{differ} reports differ")
        return 1 if differ else 0

    got = {}
    for label, folder, name in captures(dirs):
        for form in FORMS:
            got[key(label, name, form)] = hashlib.sha256(
                run(synscope, folder, name, form)).hexdigest()
    if update:
        with open(manifest, "w") as f:
            for k in sorted(got):
                f.write(f"{got[k]}  {k}\n")
        print(f"outputs: {len(got)} reports written to {manifest}")
        return 0

    want = {}
    with open(manifest) as f:
        for line in f:
            digest, k = line.rstrip("\n").split("  ", 1)
            want[k] = digest
    failures = 0
    for k in sorted(set(want) | set(got)):
        if k not in got:
            print(f"FAIL {k}: in the manifest, but no such capture was read")
            failures += 1
        elif k not in want:
            print(f"FAIL {k}: not in the manifest (a new capture: run with --update)")
            failures += 1
        elif got[k] != want[k]:
            print(f"FAIL {k}: the report changed")
            failures += 1
    print(f"outputs: {len(got) - failures} of {len(got)} reports as in the manifest")
    if failures:
        print("to see what changed: outputs.py NEW_SYNSCOPE MANIFEST DIR... --against "
              "OLD_SYNSCOPE; when the change is meant, regenerate with --update")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
