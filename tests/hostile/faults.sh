#!/usr/bin/env bash
# faults.sh - output faults, signals, a vanishing interface and the privilege drop.
#
#   faults.sh SYNSCOPE TEST
#
# TEST is one of:
#   pipe          'synscope read big.pcap | head -1' (text, json, html) ends quietly with exit 0
#   full-disk     -o /dev/full, stdout on /dev/full, -o a directory: one clear line, exit 1
#   tmpfs         (root) a 64 KiB tmpfs in a private mount namespace (unshare -m): -o and
#                 --write-failed into it, and -o into a read-only mount: one line, exit 1
#   signals       SIGINT / SIGTERM during 'read' of a large file and of a pipe that stalls:
#                 the report of what was read, marked interrupted, exit 1; a second signal
#                 kills at once
#   iface-gone    (root, netns) 'live -i VETH', then the veth is deleted: a clear message, the
#                 final report, exit 1, ended within seconds without spinning; an interface
#                 that only goes down does not make it spin either
#   privileges    (root, netns) after start-up 'live' and 'probe' run as nobody (Uid/Gid
#                 65534, no supplementary group but 65534, CapEff/CapPrm/CapInh/CapAmb 0,
#                 NoNewPrivs 1, CapBnd 0 when the test holds CAP_SETPCAP), also when started
#                 with inheritable and ambient capabilities; with those credentials a root-only
#                 file (mode 0600) cannot be read or written and the process holds no file
#                 descriptor besides its capture socket, its output and its standard streams:
#                 a descriptor to a root-only file handed down as fd 7 is gone.
#   privileges-setcap
#                 (root, netns) the ways in that are not root: a copy of synscope with
#                 'setcap cap_net_raw,cap_net_admin=eip', and synscope with ambient capabilities,
#                 each started as nobody with fd 7 open on a root-only file: once capturing
#                 (live) or probing (probe), CapEff/CapPrm/CapInh/CapAmb 0, NoNewPrivs 1, fd 7
#                 gone, and the start-up line says "as nobody (uid 65534), capabilities
#                 dropped"; -Z root does not keep them when not started as root. The setcap
#                 copy run as daemon stays daemon and says "(not started as root: cannot
#                 become nobody)".
#
# What 'privileges' proves: the kernel's record of the process's credentials after the drop
# (what every access check of a packet-triggered bug would be made with) is nobody's, without
# capabilities and without a way back (NoNewPrivs: no setuid or file-capability exec), and the
# same credentials (setpriv with Uid/Gid 65534 and no capabilities) are refused the root-only
# file. It does not make synscope itself try to open the file: nothing in it opens files after
# the drop.
#
# Root-only tests print "SKIPPED: ..." and exit 77 without root or network namespaces, unless
# CI=true, then they fail. Prints "ok: ..." / "FAIL: ..." per check and "N passed, M failed".
set -u

if [ $# -ne 2 ]; then
    echo "usage: faults.sh SYNSCOPE TEST" >&2
    exit 2
fi
SYNSCOPE=$(realpath "$1")
TEST=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEN=$HERE/pcapgen.py
EXT=$(realpath "$HERE/../../../shared/external-pcaps" 2>/dev/null || echo "$HERE/../../../shared/external-pcaps")

PASSED=0
FAILED=0
T0=$(date +%s%N)
log() { echo "  [$((($(date +%s%N) - T0) / 1000000)) ms] $*"; }
ok() { echo "ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
check() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
    echo "$TEST took $((($(date +%s%N) - T0) / 1000000)) ms"
    echo "$TEST: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $TEST needs $1, and CI=true forbids skipping"
        echo "$TEST: 0 passed, 1 failed"
        exit 1
    fi
    echo "SKIPPED: $TEST needs $1"
    exit 77
}

case $TEST in
pipe | full-disk | tmpfs | signals | iface-gone | privileges | privileges-setcap) ;;
*)
    echo "faults.sh: unknown test '$TEST'" >&2
    exit 2
    ;;
esac
[ -x "$SYNSCOPE" ] || { echo "FAIL: $SYNSCOPE is not an executable"; exit 1; }

T=$(mktemp -d /tmp/ssfaults.XXXXXX)
chmod 755 "$T"
NAMESPACES=()
PIDS=()
alive() { # PID: running and not a zombie
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    [ "${s%% *}" != Z ]
}
cleanup() {
    local rc=$? p ns
    set +e
    trap - EXIT INT TERM HUP
    for p in "${PIDS[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        [ -e "/run/netns/$ns" ] && ip netns del "$ns"
    done
    rm -rf "$T"
    [ -n "${SETCAP_DIR:-}" ] && rm -rf "$SETCAP_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 130' INT TERM HUP

# wait_until DECISECONDS COMMAND...: true once COMMAND succeeds, false at the deadline
wait_until() {
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
# one_line NAME FILE REGEX: FILE holds exactly one line, matching REGEX, and no crash report
one_line() {
    local lines
    lines=$(wc -l <"$2")
    check "$1: exactly one line on stderr (got $lines: $(head -c 400 "$2"))" [ "$lines" = 1 ]
    check "$1: the line matches /$3/" grep -qE -- "$3" "$2"
    check_clean "$1" "$2"
}
check_clean() { # NAME FILE
    check "$1: no sanitizer or crash report" \
        eval "! grep -qE 'Sanitizer|runtime error:|Segmentation|Aborted' '$2'"
}
# cpu_ticks PID: user + system clock ticks used so far
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
summary_field() { # FILE PYTHON-EXPRESSION over s (the JSON summary)
    python3 -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

need_root() {
    [ "$(id -u)" = 0 ] || skip_or_fail "root"
}
add_ns() {
    if ! ip netns add "$1" 2>"$T/netns.err"; then
        skip_or_fail "network namespaces (ip netns add: $(head -1 "$T/netns.err"))"
    fi
    NAMESPACES+=("$1")
    ip -n "$1" link set lo up
}

# a large capture: N distinct SYNs (about 56 bytes each)
big_capture() { # N FILE
    python3 "$GEN" flood "$1" "$2" || { fail "generating $2"; finish; }
}

test_pipe() {
    big_capture 300000 "$T/big.pcap"
    local fmt rc
    for fmt in text json html; do
        "$SYNSCOPE" read -f $fmt "$T/big.pcap" 2>"$T/pipe-$fmt.err" | head -1 >"$T/pipe-$fmt.out"
        rc=${PIPESTATUS[0]}
        check "| head -1 ($fmt): exit 0 (got $rc)" [ "$rc" = 0 ]
        check "| head -1 ($fmt): nothing on stderr ($(head -c 300 "$T/pipe-$fmt.err"))" \
            [ ! -s "$T/pipe-$fmt.err" ]
        check "| head -1 ($fmt): head got the first line" [ -s "$T/pipe-$fmt.out" ]
    done
    # the reader leaves before anything is written: the first write fails
    "$SYNSCOPE" read -f json "$T/big.pcap" 2>"$T/pipe-closed.err" | true
    rc=${PIPESTATUS[0]}
    check "| true (reader gone at once): exit 0 (got $rc), stderr empty" \
        [ "$rc" = 0 -a ! -s "$T/pipe-closed.err" ]
}

test_full_disk() {
    [ -w /dev/full ] || { fail "/dev/full is not writable here"; finish; }
    big_capture 100000 "$T/big.pcap"
    local fmt rc
    for fmt in text json html; do
        "$SYNSCOPE" read -f $fmt -o /dev/full "$T/big.pcap" >"$T/full.out" 2>"$T/full-$fmt.err"
        rc=$?
        check "-o /dev/full ($fmt): exit 1 (got $rc)" [ "$rc" = 1 ]
        one_line "-o /dev/full ($fmt)" "$T/full-$fmt.err" \
            '^synscope: writing the report to /dev/full failed: No space left on device$'
        "$SYNSCOPE" read -f $fmt "$T/big.pcap" >/dev/full 2>"$T/stdout-$fmt.err"
        rc=$?
        check "stdout on /dev/full ($fmt): exit 1 (got $rc)" [ "$rc" = 1 ]
        one_line "stdout on /dev/full ($fmt)" "$T/stdout-$fmt.err" \
            '^synscope: writing the report to standard output failed: No space left on device$'
    done
    mkdir "$T/dir"
    "$SYNSCOPE" read -o "$T/dir" "$T/big.pcap" >/dev/null 2>"$T/dir.err"
    rc=$?
    check "-o DIRECTORY: exit 1 (got $rc)" [ "$rc" = 1 ]
    one_line "-o DIRECTORY" "$T/dir.err" "^synscope: cannot write '.*/dir': Is a directory$"
    "$SYNSCOPE" read --write-failed /dev/full "$EXT/ndpi_synscan.pcap" >/dev/null 2>"$T/wf.err"
    rc=$?
    check "--write-failed /dev/full: exit 1 (got $rc)" [ "$rc" = 1 ]
    one_line "--write-failed /dev/full" "$T/wf.err" '^synscope: --write-failed: .*No space left'
}

test_tmpfs() {
    need_root
    command -v unshare >/dev/null || skip_or_fail "unshare (util-linux)"
    unshare -m true 2>/dev/null || skip_or_fail "mount namespaces (unshare -m)"
    big_capture 100000 "$T/big.pcap"
    mkdir "$T/mnt"
    # everything inside one private mount namespace; the results come back in files
    unshare -m bash -c '
        S=$1 T=$2 EXT=$3
        mount -t tmpfs -o size=64k synscope-test "$T/mnt" || exit 99
        for fmt in text json; do
            # text: --list makes the report list every attempt (the summary alone fits)
            "$S" read -f $fmt --list 1000000 -o "$T/mnt/report" "$T/big.pcap" >/dev/null \
                2>"$T/tmpfs-$fmt.err"
            echo $? >"$T/tmpfs-$fmt.rc"
            rm -f "$T/mnt/report"
        done
        "$S" read --write-failed "$T/mnt/failed.pcap" "$EXT/ndpi_synscan.pcap" >/dev/null \
            2>"$T/tmpfs-wf.err"
        echo $? >"$T/tmpfs-wf.rc"
        rm -f "$T/mnt/failed.pcap"
        mount -o remount,ro "$T/mnt" || exit 98
        "$S" read -o "$T/mnt/report" "$T/big.pcap" >/dev/null 2>"$T/tmpfs-ro.err"
        echo $? >"$T/tmpfs-ro.rc"
    ' tmpfs "$SYNSCOPE" "$T" "$EXT"
    local rc=$?
    [ $rc = 99 ] && skip_or_fail "mounting a tmpfs in a private mount namespace"
    check "tmpfs script ran (exit $rc)" [ $rc = 0 ]
    local fmt
    for fmt in text json; do
        check "-o on a full 64k tmpfs ($fmt): exit 1 (got $(cat "$T/tmpfs-$fmt.rc"))" \
            [ "$(cat "$T/tmpfs-$fmt.rc")" = 1 ]
        one_line "-o on a full 64k tmpfs ($fmt)" "$T/tmpfs-$fmt.err" \
            '^synscope: writing the report to .*/mnt/report failed: No space left on device$'
    done
    check "--write-failed on a full tmpfs: exit 1 (got $(cat "$T/tmpfs-wf.rc"))" \
        [ "$(cat "$T/tmpfs-wf.rc")" = 1 ]
    one_line "--write-failed on a full tmpfs" "$T/tmpfs-wf.err" \
        "^synscope: --write-failed: writing '.*/mnt/failed.pcap' failed: No space left on device$"
    check "-o on a read-only mount: exit 1 (got $(cat "$T/tmpfs-ro.rc"))" \
        [ "$(cat "$T/tmpfs-ro.rc")" = 1 ]
    one_line "-o on a read-only mount" "$T/tmpfs-ro.err" \
        "^synscope: cannot write '.*/mnt/report': Read-only file system$"
    check "the tmpfs stayed private (not mounted here)" eval "! grep -q ' $T/mnt ' /proc/mounts"
}

# interrupt NAME SIGNAL DELAY ARGS...: runs 'synscope ARGS' (stdout NAME.out, stderr NAME.err),
# sends SIGNAL after DELAY seconds; sets RC and MS (time from the signal to the end)
interrupt() {
    local name=$1 sig=$2 delay=$3 pid t1
    shift 3
    "$SYNSCOPE" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    PIDS+=("$pid")
    sleep "$delay"
    alive "$pid" || fail "$name: synscope ended before SIG$sig ($delay s): the capture is too small"
    t1=$(date +%s%N)
    kill -s "$sig" "$pid"
    wait_until 100 eval '! alive '"$pid" || { fail "$name: still running 10 s after SIG$sig"; kill -KILL "$pid"; }
    wait "$pid"
    RC=$?
    MS=$((($(date +%s%N) - t1) / 1000000))
}

test_signals() {
    big_capture 2000000 "$T/big.pcap"
    local total=2000000 sig fmt n
    for sig in INT TERM; do
        interrupt read-$sig-json "$sig" 0.5 read -f json "$T/big.pcap"
        check "SIG$sig during read (json): exit 1 (got $RC), within $MS ms" [ "$RC" = 1 ]
        one_line "SIG$sig during read (json)" "$T/read-$sig-json.err" \
            "^synscope: interrupted by SIG$sig after [0-9]+ packets$"
        n=$(summary_field "$T/read-$sig-json.out" 's["packets"]')
        check "SIG$sig (json): the summary covers what was read (0 < ${n:-none} < $total)" \
            [ "${n:-0}" -gt 0 -a "${n:-0}" -lt $total ]
        check "SIG$sig (json): the summary says it was interrupted" \
            [ "$(summary_field "$T/read-$sig-json.out" 's["input_error"]')" = "interrupted by SIG$sig after $n packets" ]
        check "SIG$sig (json): every attempt read has its line ($n)" \
            [ "$(grep -c '"type":"attempt"' "$T/read-$sig-json.out")" = "$n" ]
        interrupt read-$sig-text "$sig" 0.5 read "$T/big.pcap"
        check "SIG$sig during read (text): exit 1 (got $RC)" [ "$RC" = 1 ]
        check "SIG$sig (text): the report is written" grep -qE '^synscope: [0-9]+ packets?, ' "$T/read-$sig-text.out"
        check "SIG$sig (text): the report says it was interrupted" \
            grep -q "^Input error: interrupted by SIG$sig after [0-9]* packets" "$T/read-$sig-text.out"
        check_clean "SIG$sig (text)" "$T/read-$sig-text.err"
    done
    # standard input that stalls: the signal ends the wait at once
    mkfifo "$T/fifo"
    "$SYNSCOPE" read -f json - <"$T/fifo" >"$T/fifo.out" 2>"$T/fifo.err" &
    local pid=$!
    PIDS+=("$pid")
    exec 3>"$T/fifo"
    head -c 2000 "$T/big.pcap" >&3 # the file header and 35 whole records
    sleep 0.5
    kill -INT "$pid"
    wait_until 50 eval '! alive '"$pid"
    alive "$pid" && { fail "read - (stalled pipe): still running 5 s after SIGINT"; kill -KILL "$pid"; }
    wait "$pid"
    RC=$?
    exec 3>&-
    check "SIGINT while read - waits on a pipe: exit 1 (got $RC)" [ "$RC" = 1 ]
    one_line "SIGINT while read - waits" "$T/fifo.err" '^synscope: interrupted by SIGINT after 35 packets$'
    check "read - (stalled pipe): the report of the 35 packets" \
        [ "$(summary_field "$T/fifo.out" 's["packets"]')" = 35 ]
    # a second signal kills at once: both arrive while the process is stopped
    "$SYNSCOPE" read -f json "$T/big.pcap" >/dev/null 2>"$T/twice.err" &
    pid=$!
    PIDS+=("$pid")
    sleep 0.3
    kill -STOP "$pid"
    kill -INT "$pid"
    kill -TERM "$pid"
    kill -CONT "$pid"
    wait_until 50 eval '! alive '"$pid"
    wait "$pid"
    RC=$?
    check "a second signal kills at once: killed by SIGINT or SIGTERM (exit $RC: 130 or 143)" \
        [ "$RC" = 130 -o "$RC" = 143 ]
}

test_iface_gone() {
    need_root
    command -v ip >/dev/null || skip_or_fail "the 'ip' command"
    local ns=sshostile-$$ pid t1 ms ticks rc
    add_ns "$ns"
    ip -n "$ns" link add ssv0 type veth peer name ssv1 || { fail "veth created"; finish; }
    ip -n "$ns" link set ssv0 up && ip -n "$ns" link set ssv1 up
    # deleted: the capture fails, the report is written, exit 1
    ip netns exec "$ns" "$SYNSCOPE" live -i ssv0 >"$T/gone.out" 2>"$T/gone.err" &
    pid=$!
    PIDS+=("$pid")
    wait_until 100 grep -qs 'capturing handshakes on ssv0' "$T/gone.err" ||
        { fail "live did not start: $(cat "$T/gone.err")"; finish; }
    t1=$(date +%s%N)
    ip -n "$ns" link del ssv0
    wait_until 50 eval '! alive '"$pid"
    ms=$((($(date +%s%N) - t1) / 1000000))
    if alive "$pid"; then
        ticks=$(cpu_ticks "$pid")
        fail "live still runs 5 s after its interface was deleted (CPU ticks $ticks)"
        kill -KILL "$pid"
    fi
    wait "$pid"
    rc=$?
    check "interface deleted: exit 1 (got $rc), ended $ms ms after" [ "$rc" = 1 -a "$ms" -lt 5000 ]
    check "interface deleted: one error line after the start line: $(sed -n 2,5p "$T/gone.err")" \
        [ "$(wc -l <"$T/gone.err")" = 2 ]
    check "interface deleted: the line says what happened" \
        grep -qE '^synscope: capture on ssv0 failed: The interface disappeared' "$T/gone.err"
    check "interface deleted: the final report is on stdout" grep -qE '^synscope: [0-9]+ packets?, ' "$T/gone.out"
    check "interface deleted: the report names the error" \
        grep -q '^Input error: capture on ssv0 failed' "$T/gone.out"
    check_clean "interface deleted" "$T/gone.err"

    # down (not deleted): it waits for the interface, without spinning; SIGINT ends it
    ip -n "$ns" link add ssv2 type veth peer name ssv3 && ip -n "$ns" link set ssv2 up &&
        ip -n "$ns" link set ssv3 up
    ip netns exec "$ns" "$SYNSCOPE" live -i ssv2 -f json >"$T/down.out" 2>"$T/down.err" &
    pid=$!
    PIDS+=("$pid")
    wait_until 100 grep -qs 'capturing handshakes on ssv2' "$T/down.err" ||
        { fail "live did not start: $(cat "$T/down.err")"; finish; }
    ip -n "$ns" link set ssv2 down
    local before after
    before=$(cpu_ticks "$pid")
    sleep 2
    if alive "$pid"; then
        after=$(cpu_ticks "$pid")
        check "interface down: no spin (CPU $((after - before)) ticks in 2 s, at most 20)" \
            [ $((after - before)) -le 20 ]
        kill -INT "$pid"
        wait_until 50 eval '! alive '"$pid"
    else
        log "interface down: live ended by itself: $(tail -1 "$T/down.err")"
    fi
    alive "$pid" && kill -KILL "$pid"
    wait "$pid"
    rc=$?
    # ended by itself (libpcap reports the interface down: exit 1) or by SIGINT (exit 0)
    check "interface down: ended with a report (exit $rc)" \
        [ "$(summary_field "$T/down.out" 's["type"]')" = summary -a \( "$rc" = 0 -o "$rc" = 1 \) ]
    check_clean "interface down" "$T/down.err"
}

# proc_field PID FIELD: the value of a /proc/PID/status line, blanks squeezed
proc_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# the process's credentials are RUN_UID's and RUN_GID's (nobody's unless a test says
# otherwise), without capabilities or a way back
RUN_UID=65534 RUN_GID=65534
check_dropped() { # WHAT PID
    local what=$1 pid=$2 f u=$RUN_UID g=$RUN_GID
    check "$what: Uid '$(proc_field "$pid" Uid)' all $u" [ "$(echo $(proc_field "$pid" Uid))" = "$u $u $u $u" ]
    check "$what: Gid '$(proc_field "$pid" Gid)' all $g" [ "$(echo $(proc_field "$pid" Gid))" = "$g $g $g $g" ]
    check "$what: Groups '$(proc_field "$pid" Groups)' nothing but $g" \
        [ -z "$(proc_field "$pid" Groups | tr ' ' '\n' | grep -vx -e "$g" -e '')" ]
    for f in CapEff CapPrm CapInh CapAmb; do
        check "$what: $f $(proc_field "$pid" $f) is 0" [ "$(proc_field "$pid" $f)" = 0000000000000000 ]
    done
    check "$what: NoNewPrivs $(proc_field "$pid" NoNewPrivs) is 1" [ "$(proc_field "$pid" NoNewPrivs)" = 1 ]
    # what it holds open: sockets, pipes, the output file, /dev/null, standard streams, and
    # live's host evidence: BPF objects (anon_inode) and the namespace's TcpExt counters
    local fds
    fds=$(ls -l "/proc/$pid/fd" 2>/dev/null | awk 'NR > 1 { print $NF }' |
        grep -vE '^(socket:|pipe:|anon_inode:|/dev/null$|/dev/pts/|'"$T"'/)' |
        grep -vE '^/proc/[0-9]+/task/[0-9]+/net/netstat$')
    check "$what: no descriptor besides sockets, pipes and its own files (extra: '$fds')" [ -z "$fds" ]
}

# A root-only file (0600) that the tests hand down to synscope as descriptor 7, as a parent
# that opened a secret or a log would; INHERITED is its path.
INHERITED=
make_inherited() {
    INHERITED=$T/inherited-secret
    printf 'inherited secret\n' >"$INHERITED"
    chmod 0600 "$INHERITED"
    chown 0:0 "$INHERITED"
}
# the descriptor handed down as fd 7 was closed at start-up: no fd 7, none on the file
check_inherited_closed() { # WHAT PID
    local what=$1 pid=$2 held
    held=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -F -- "$INHERITED")
    # (the number itself may be taken again by a descriptor synscope opened afterwards)
    check "$what: fd 7 (inherited, on a root-only file) is closed" \
        [ "$(readlink "/proc/$pid/fd/7" 2>/dev/null)" != "$INHERITED" ]
    check "$what: no descriptor on the inherited root-only file (got '$held')" [ -z "$held" ]
}

# the same credentials cannot touch a root-only file
check_root_file() {
    local secret=$T/root-only
    printf 'root only\n' >"$secret"
    chmod 0600 "$secret"
    chown 0:0 "$secret"
    local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all
        --ambient-caps=-all --no-new-privs)
    check "a root-only file (0600) is readable by root" grep -q 'root only' "$secret"
    check "the same credentials as synscope's (65534, no caps) cannot read it" \
        eval "! ${as_nobody[*]} cat '$secret' >/dev/null 2>&1"
    check "... nor write it" eval "! ${as_nobody[*]} sh -c 'echo x >>\"$secret\"' 2>/dev/null"
    check "... nor regain root (setuid(0) and sudo-like exec refused)" \
        eval "! ${as_nobody[*]} python3 -c 'import os; os.setuid(0)' 2>/dev/null"
    check "the file is unchanged" [ "$(cat "$secret")" = "root only" ]
}

# the synscope process in namespace NS whose command line holds MARK (run from EXE, by
# default $SYNSCOPE)
find_pid() { # NS MARK [EXE]
    local p
    for p in $(ip netns pids "$1"); do
        if [ "$(readlink "/proc/$p/exe")" = "${3:-$SYNSCOPE}" ] &&
            tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# the network of the privilege tests: namespaces $PRIV_NC (synscope, 10.98.1.2 on c0) and
# $PRIV_NR (10.98.1.1 on r1), whose port 9 drops SYNs; $T is made writable for nobody
PRIV_NC= PRIV_NR=
priv_setup() {
    need_root
    command -v ip >/dev/null || skip_or_fail "the 'ip' command"
    command -v setpriv >/dev/null || { fail "setpriv (util-linux) is needed"; finish; }
    command -v nft >/dev/null || { fail "nft is needed"; finish; }
    [ "$(id -u nobody 2>/dev/null):$(id -g nobody 2>/dev/null)" = 65534:65534 ] ||
        { fail "user nobody is 65534:65534 here"; finish; }
    PRIV_NC=sshostile-$$-cli PRIV_NR=sshostile-$$-rtr
    local nc=$PRIV_NC nr=$PRIV_NR
    add_ns "$nc"
    add_ns "$nr"
    ip link add c0 netns "$nc" type veth peer name r1 netns "$nr" || { fail "veth"; finish; }
    ip -n "$nc" addr add 10.98.1.2/24 dev c0 && ip -n "$nr" addr add 10.98.1.1/24 dev r1 &&
        ip -n "$nc" link set c0 up && ip -n "$nr" link set r1 up || { fail "addresses"; finish; }
    # port 9 of the peer drops SYNs: probe waits for answers that never come
    ip netns exec "$nr" nft -f - <<'EOF' || { fail "nft rule"; finish; }
table inet sshostile {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 9 drop
    }
}
EOF
    chmod 777 "$T"
    make_inherited
}
# a SYN from the capture namespace to the dropped port
send_syn() {
    ip netns exec "$PRIV_NC" python3 -c 'import socket; s=socket.socket(); s.settimeout(0.3)
try: s.connect(("10.98.1.1", 9))
except OSError: pass' 2>/dev/null
}

test_privileges() {
    priv_setup
    local nc=$PRIV_NC pid
    # CAP_SETPCAP (bit 8) held here: synscope empties the bounding set as well
    local bnd_check=0
    (( 0x$(proc_field $$ CapEff) & (1 << 8) )) && bnd_check=1

    # live, started with inheritable and ambient capabilities handed down (a service manager
    # can do that) and a root-only file open as fd 7: all of them gone after start-up
    ip netns exec "$nc" setpriv --inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin \
        "$SYNSCOPE" live -i c0 -f json -o "$T/live-priv.json" 7<"$INHERITED" \
        >"$T/live-priv.out" 2>"$T/live-priv.err" &
    PIDS+=($!)
    wait_until 100 grep -qs 'capturing handshakes on c0' "$T/live-priv.err" ||
        { fail "live did not start: $(cat "$T/live-priv.err")"; finish; }
    pid=$(find_pid "$nc" live-priv.json)
    check "found the live process ($pid)" [ -n "$pid" ]
    if [ -n "$pid" ]; then
        check_dropped "live" "$pid"
        check_inherited_closed "live" "$pid"
        [ $bnd_check = 1 ] &&
            check "live: CapBnd $(proc_field "$pid" CapBnd) is 0" [ "$(proc_field "$pid" CapBnd)" = 0000000000000000 ]
        check "live: the start-up line says nobody, no capabilities: $(head -1 "$T/live-priv.err")" \
            grep -q 'capturing handshakes on c0 as nobody (uid 65534), no capabilities;' "$T/live-priv.err"
        # it still captures after the drop: a SYN to the dropped port is parsed as nobody
        send_syn
        sleep 0.3
        kill -INT "$pid"
        wait_until 50 eval '! alive '"$pid"
        check "live: the SYN parsed after the drop is in the report" \
            grep -q '"port":9}' "$T/live-priv.json"
        check_clean "live" "$T/live-priv.err"
    fi

    # probe: 3 attempts at 1 per second on the filtered port, a few seconds as nobody
    ip netns exec "$nc" setpriv --inh-caps=+net_raw --ambient-caps=+net_raw \
        "$SYNSCOPE" probe 10.98.1.1 -p 9 --count 3 --rate 1 --retries 0 --wait 1 -f json \
        -o "$T/probe-priv.json" 7<"$INHERITED" >"$T/probe-priv.out" 2>"$T/probe-priv.err" &
    local ppid=$!
    PIDS+=("$ppid")
    wait_until 30 eval 'pid=$(find_pid '"$nc"' probe-priv.json) && [ "$(proc_field $pid Uid | cut -d\  -f1)" = 65534 ]'
    pid=$(find_pid "$nc" probe-priv.json)
    check "found the probe process ($pid), still probing" [ -n "$pid" ]
    if [ -n "$pid" ]; then
        check_dropped "probe" "$pid"
        check_inherited_closed "probe" "$pid"
    fi
    wait_until 150 eval '! alive '"$ppid"
    wait "$ppid"
    local rc=$?
    check "probe: exit 0 (got $rc), the port filtered" \
        [ "$rc" = 0 -a -n "$(grep '"state":"filtered"' "$T/probe-priv.json")" ]
    check_clean "probe" "$T/probe-priv.err"
    check_root_file
}

# A copy of synscope with the capture capabilities in its file (setcap ...=eip), in a directory
# of our own that nobody can reach and run it from, on a filesystem not mounted nosuid (the
# kernel ignores file capabilities there): $T (under /tmp), else beside the binary. Sets
# SETCAP_COPY; the directory is removed on exit.
SETCAP_COPY= SETCAP_DIR=
make_setcap_copy() {
    command -v setcap >/dev/null || { fail "setcap (Debian package libcap2-bin) is needed"; finish; }
    local base dir why=""
    for base in "$T" "$(dirname "$SYNSCOPE")"; do
        if findmnt -n -o OPTIONS -T "$base" | tr ',' '\n' | grep -qx nosuid; then
            why="$why; $base is on a nosuid mount"
            continue
        fi
        dir=$(mktemp -d "$base/sssetcap.XXXXXX") || continue
        [ "$base" = "$T" ] || SETCAP_DIR=$dir
        chmod 755 "$dir"
        if cp "$SYNSCOPE" "$dir/synscope" && chmod 755 "$dir/synscope" &&
            setcap cap_net_raw,cap_net_admin=eip "$dir/synscope" 2>"$T/setcap.err" &&
            setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$dir/synscope"; then
            SETCAP_COPY=$dir/synscope
            log "setcap copy: $(getcap "$SETCAP_COPY" 2>/dev/null)"
            return 0
        fi
        why="$why; no usable setcap copy in $base ($(head -1 "$T/setcap.err" 2>/dev/null))"
        rm -rf "$dir"
        SETCAP_DIR=
    done
    skip_or_fail "a filesystem without nosuid where nobody can run a setcap'ed copy${why}"
}

# NAME EXE [SETPRIV-ARGS...] [-- LIVE-ARGS...]: 'EXE live -i c0 -f json -o $T/NAME.json
# LIVE-ARGS' run by 'setpriv --reuid=RUN_UID --regid=RUN_GID --clear-groups SETPRIV-ARGS'
# (nobody unless a test sets RUN_UID/RUN_GID) in the capture namespace, with the root-only file
# as fd 7; waits until it captures, checks the credentials and the descriptors, that the
# start-up line says 'as LINE' (global), and that a SYN is still parsed. Ends it with SIGINT.
LINE=
run_live_as() {
    local name=$1 exe=$2 pid
    shift 2
    local setpriv_args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        setpriv_args+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    ip netns exec "$PRIV_NC" setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --clear-groups \
        "${setpriv_args[@]}" "$exe" live -i c0 -f json -o "$T/$name.json" "$@" 7<"$INHERITED" \
        >"$T/$name.out" 2>"$T/$name.err" &
    local lpid=$!
    PIDS+=("$lpid")
    if ! wait_until 100 grep -qs 'capturing handshakes on c0' "$T/$name.err"; then
        fail "$name: live did not start: $(cat "$T/$name.err")"
        return
    fi
    pid=$(find_pid "$PRIV_NC" "$name.json" "$exe")
    check "$name: found the live process ($pid)" [ -n "$pid" ]
    [ -n "$pid" ] || return
    check_dropped "$name" "$pid"
    check_inherited_closed "$name" "$pid"
    check "$name: the start-up line says '$LINE': $(head -1 "$T/$name.err")" \
        grep -qF "capturing handshakes on c0 as $LINE; Ctrl-C" "$T/$name.err"
    send_syn
    sleep 0.3
    kill -INT "$pid"
    wait_until 50 eval '! alive '"$pid"
    wait "$lpid"
    local rc=$?
    check "$name: exit 0 after SIGINT (got $rc)" [ "$rc" = 0 ]
    check "$name: the SYN parsed after the drop is in the report" grep -q '"port":9}' "$T/$name.json"
    check_clean "$name" "$T/$name.err"
}

test_privileges_setcap() {
    priv_setup
    make_setcap_copy
    local nc=$PRIV_NC pid

    # setcap, as nobody: capabilities from the file, none left once capturing
    LINE="nobody (uid 65534), capabilities dropped"
    run_live_as setcap-live "$SETCAP_COPY"
    # -Z root is no opt-out when not started as root: dropped all the same, and said so
    LINE="nobody (uid 65534), capabilities dropped (-Z root keeps privileges only when started as root)"
    run_live_as setcap-zroot "$SETCAP_COPY" -- -Z root
    # the setcap copy run by another ordinary user (daemon): changing user needs root, so it
    # stays daemon, without capabilities, and the start-up line says so in README's words
    if id daemon >/dev/null 2>&1; then
        RUN_UID=$(id -u daemon) RUN_GID=$(id -g daemon)
        LINE="daemon (uid $RUN_UID), capabilities dropped (not started as root: cannot become nobody)"
        run_live_as setcap-daemon "$SETCAP_COPY"
        RUN_UID=65534 RUN_GID=65534
    else
        fail "user daemon exists (Debian's uid 1), to run the setcap copy as an ordinary user"
    fi
    # ambient capabilities (a service manager's AmbientCapabilities=), as nobody
    LINE="nobody (uid 65534), capabilities dropped"
    run_live_as ambient-live "$SYNSCOPE" --inh-caps=+net_raw,+net_admin \
        --ambient-caps=+net_raw,+net_admin

    # probe from the setcap copy, as nobody: 4 attempts at 1 per second on the filtered port
    ip netns exec "$nc" setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$SETCAP_COPY" probe 10.98.1.1 -p 9 --count 4 --rate 1 --retries 0 --wait 1 -f json \
        -o "$T/setcap-probe.json" 7<"$INHERITED" >"$T/setcap-probe.out" 2>"$T/setcap-probe.err" &
    local ppid=$!
    PIDS+=("$ppid")
    # the uid is nobody's from the start: wait for no_new_privs, the drop's last step (2 s at
    # most: the probe lasts 4 s or more, so it is still there to be looked at without it)
    wait_until 20 eval 'pid=$(find_pid '"$nc"' setcap-probe.json "$SETCAP_COPY") && [ "$(proc_field $pid NoNewPrivs)" = 1 ]'
    pid=$(find_pid "$nc" setcap-probe.json "$SETCAP_COPY")
    check "setcap-probe: found the probe process ($pid), still probing" [ -n "$pid" ]
    if [ -n "$pid" ]; then
        check_dropped "setcap-probe" "$pid"
        check_inherited_closed "setcap-probe" "$pid"
    fi
    wait_until 150 eval '! alive '"$ppid"
    wait "$ppid"
    local rc=$?
    check "setcap-probe: exit 0 (got $rc), the port filtered" \
        [ "$rc" = 0 -a -n "$(grep '"state":"filtered"' "$T/setcap-probe.json")" ]
    check_clean "setcap-probe" "$T/setcap-probe.err"
}

start=$(date +%s%N)
case $TEST in
pipe) test_pipe ;;
full-disk) test_full_disk ;;
tmpfs) test_tmpfs ;;
signals) test_signals ;;
iface-gone) test_iface_gone ;;
privileges) test_privileges ;;
privileges-setcap) test_privileges_setcap ;;
esac
finish
