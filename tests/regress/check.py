#!/usr/bin/env python3
"""check.py - runs `synscope read -f json` on a capture and compares its attempts with an
expected-verdicts file (tcpdump's TESTLIST habit: name, input, expected, options).

usage: check.py SYNSCOPE CAPTURE EXPECTED [extra synscope options...]

EXPECTED holds one line per group of attempts, '#' starts a comment:
    verdict=refused reason=rst server=10.99.2.2:81 syns=1 from=10.99.2.2 count=1
Keys: verdict reason client server syns (N or >=N) from sender handshake (yes/no) hops
zeek (zeek_conn_state) history flag (NAME: the attempt's "flags" list holds NAME; none: it
has no flags) count. Every line must match exactly `count` attempts and
every attempt must be matched by one line, unless a line says just `others` (then attempts
not described are allowed: for third-party captures where only some attempts are checked).

Diagnoses: `diagnosis=KIND server=IP:PORT` (a service), `diagnosis=KIND host=IP` (a host) or
`diagnosis=KIND client=IP` (a client object). Each such line must be present in the report,
and every diagnosis of every service, host and client in the report must be listed by one,
unless the file says `others` (which allows undescribed attempts and diagnoses alike).
"""
import json
import subprocess
import sys


def endpoint(ep):
    ip = ep["ip"]
    return f"[{ip}]:{ep['port']}" if ":" in ip else f"{ip}:{ep['port']}"


def matches(spec, att):
    for key, want in spec.items():
        if key == "count":
            continue
        if key == "verdict":
            got = att["verdict"]
        elif key == "reason":
            got = att["reason"]
        elif key == "client":
            got = att["client"]["ip"]
        elif key == "server":
            got = endpoint(att["server"])
        elif key == "syns":
            if want.startswith(">="):
                if att["syns"] < int(want[2:]):
                    return False
                continue
            got = str(att["syns"])
        elif key == "from":
            got = att.get("answer", {}).get("from")
        elif key == "sender":
            got = att.get("answer", {}).get("sender")
        elif key == "hops":
            got = str(att.get("answer", {}).get("hops"))
        elif key == "handshake":
            got = "yes" if att["handshake"] else "no"
        elif key == "zeek":
            got = att["zeek_conn_state"]
        elif key == "history":
            got = att["history"]
        elif key == "flag":
            flags = att.get("flags", [])
            if (want in flags) if want != "none" else not flags:
                continue
            return False
        else:
            raise SystemExit(f"unknown key '{key}' in expected file")
        if got != want:
            return False
    return True


def parse_expected(path):
    specs = []
    others = False
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line == "others":
                others = True
                continue
            spec = {}
            for word in line.split():
                if "=" not in word:
                    raise SystemExit(f"{path}:{lineno}: '{word}' is not key=value")
                key, value = word.split("=", 1)
                spec[key] = value
            if "verdict" not in spec and "diagnosis" not in spec:
                raise SystemExit(f"{path}:{lineno}: no verdict= or diagnosis=")
            spec["_line"] = lineno
            specs.append(spec)
    return specs, others


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    synscope, capture, expected = sys.argv[1:4]
    extra = sys.argv[4:]
    proc = subprocess.run([synscope, "read", "-f", "json", *extra, capture],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"FAIL: synscope exited with {proc.returncode}")
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    attempts = [o for o in objects if o["type"] == "attempt"]
    summaries = [o for o in objects if o["type"] == "summary"]
    assert len(summaries) == 1, "exactly one summary object"
    assert sum(summaries[0]["verdicts"].values()) == len(attempts), "summary counts every attempt"

    specs, others = parse_expected(expected)
    # diagnosis=KIND server=IP:PORT | host=IP | client=IP: that service, host or client must
    # carry the diagnosis, and (unless `others`) carry no diagnosis the file does not list
    failures = []
    reported = set()
    for o in objects:
        if o["type"] == "service":
            where = ("server", endpoint(o["server"]))
        elif o["type"] == "host":
            where = ("host", o["server"]["ip"])
        elif o["type"] == "client":
            where = ("client", o["client"]["ip"])
        else:
            continue
        for d in o.get("diagnoses", []):
            reported.add((d["kind"], where))
            if not others and not any(
                    s.get("diagnosis") == d["kind"] and s.get(where[0]) == where[1]
                    for s in specs):
                failures.append(f"unexpected diagnosis '{d['kind']}' for {where[0]} "
                                f"{where[1]}: {d.get('summary', '')}")
    for spec in [s for s in specs if "diagnosis" in s]:
        kind = spec["diagnosis"]
        where = [(k, spec[k]) for k in ("server", "host", "client") if k in spec]
        if len(where) != 1:
            raise SystemExit(f"{expected}:{spec['_line']}: diagnosis= needs one of server=, "
                             "host=, client=")
        if (kind, where[0]) not in reported:
            failures.append(f"line {spec['_line']}: no diagnosis '{kind}' for {where[0][1]}")
    specs = [s for s in specs if "diagnosis" not in s]
    # most specific lines first, so a generic line does not take a specific line's attempt
    specs.sort(key=lambda s: -len(s))
    used = [False] * len(attempts)
    for spec in specs:
        line = spec.pop("_line")
        want = int(spec.get("count", "1"))
        got = 0
        for i, att in enumerate(attempts):
            if got == want:
                break
            if not used[i] and matches(spec, att):
                used[i] = True
                got += 1
        if got != want:
            text = " ".join(f"{k}={v}" for k, v in spec.items())
            failures.append(f"line {line}: expected {want} attempt(s) matching '{text}', found {got}")
    for i, att in enumerate(attempts):
        if not used[i] and not others:
            failures.append("unexpected attempt: " + json.dumps(
                {k: att.get(k) for k in ("client", "server", "verdict", "reason", "syns",
                                         "answer", "zeek_conn_state", "history", "packets")}))
    if failures:
        print(f"FAIL {capture}:")
        for f in failures:
            print("  " + f)
        print("synscope said:")
        for att in attempts:
            print("  ", endpoint(att["client"]), "->", endpoint(att["server"]), att["verdict"],
                  att["reason"], "syns", att["syns"], att["zeek_conn_state"], att["history"],
                  att.get("answer", {}))
        return 1
    print(f"ok {capture}: {len(attempts)} attempts as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
