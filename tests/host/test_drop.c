/* test_drop.c - host/hev_drop against the real kernel (root): SYNs sent by a real client
 * (Python's connect) between two network namespaces joined by a veth, and what the kernel says
 * about them: no listener (a NO_SOCKET drop and the reset it sent, v4 and v6), nftables drop,
 * reject with tcp reset, reject with icmpx admin-prohibited, a drop in the client's own output
 * chain; the one-line messages (no BTF, not permitted); detaching at close and when the
 * process is killed; the ring buffer and the socket-owner iterator after the privilege drop.
 *
 * The namespaces have no name: each is held by a child process that dies with the test
 * (PR_SET_PDEATHSIG), and with it the namespace, its veth and its nftables tables, whatever
 * way the test ends (a failed assertion, a crash, SIGKILL). The client reads its own ISN
 * from the kernel (TCP_REPAIR, TCP_QUEUE_SEQ) so that the events' sequence numbers are checked
 * against a source independent of the BPF program. The BPF program sees the whole machine:
 * every assertion picks the events of the test's namespaces by their inode. */
#define _GNU_SOURCE /* unshare, setns */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hev_drop.h"

/* A whole decimal number from a command's output (trailing newline allowed), or -1. */
static long parse_number(const char *text, long max)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || (*end != '\0' && *end != '\n') || v < 0 || v > max) {
        return -1;
    }
    return v;
}

/* ---- namespaces --------------------------------------------------------------------------- */

struct netns {
    pid_t holder;   /* the process that keeps it alive */
    uint32_t inode; /* what the events carry */
    char path[64];  /* /proc/PID/ns/net */
};

static struct netns cli, srv;
static int srv_ifindex;

/* A new network namespace held by a child that dies with this process. */
static void netns_create(struct netns *ns)
{
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char ok = 'r';
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || unshare(CLONE_NEWNET) != 0 || write(ready[1], &ok, 1) != 1) {
            _exit(1);
        }
        for (;;) {
            pause();
        }
    }
    close(ready[1]);
    char ok = 0;
    cr_assert_eq(read(ready[0], &ok, 1), 1, "the namespace holder failed");
    close(ready[0]);
    ns->holder = pid;
    snprintf(ns->path, sizeof(ns->path), "/proc/%d/ns/net", (int)pid);
    struct stat st;
    cr_assert_eq(stat(ns->path, &st), 0);
    ns->inode = (uint32_t)st.st_ino;
}

static void netns_destroy(struct netns *ns)
{
    if (ns->holder > 0) {
        kill(ns->holder, SIGKILL);
        waitpid(ns->holder, NULL, 0);
        ns->holder = 0;
    }
}

/* Runs argv in namespace ns (NULL: this one) with input on its standard input; its standard
 * output goes to out. Returns the exit status (-1 when it did not exit). */
static int run_in(const struct netns *ns, const char *const *argv, const char *input, char *out,
                  size_t outlen)
{
    int to[2], from[2];
    cr_assert_eq(pipe(to), 0);
    cr_assert_eq(pipe(from), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = ns ? open(ns->path, O_RDONLY | O_CLOEXEC) : -1;
        if (ns != NULL && (fd < 0 || setns(fd, CLONE_NEWNET) != 0)) {
            _exit(126);
        }
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    if (input != NULL) {
        cr_assert_eq(write(to[1], input, strlen(input)), (ssize_t)strlen(input));
    }
    close(to[1]);
    size_t used = 0;
    ssize_t n;
    char sink[256];
    while ((n = read(from[0], out && used + 1 < outlen ? out + used : sink,
                     out && used + 1 < outlen ? outlen - used - 1 : sizeof(sink))) > 0) {
        used += out && used + 1 < outlen ? (size_t)n : 0;
    }
    if (out != NULL) {
        out[used] = '\0';
    }
    close(from[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A shell command in ns; asserts that it succeeds. */
static void sh_in(const struct netns *ns, const char *cmd)
{
    const char *argv[] = {"sh", "-c", cmd, NULL};
    cr_assert_eq(run_in(ns, argv, NULL, NULL, 0), 0, "failed: %s", cmd);
}

/* A table "ssF" in ns with one chain on hook ("input", "output") holding rules (one a line). */
static void nft_in(const struct netns *ns, const char *hook, const char *rules)
{
    char text[512];
    snprintf(text, sizeof(text),
             "table inet ssF {\n chain c {\n  type filter hook %s priority 0;\n%s\n }\n}\n", hook,
             rules);
    const char *argv[] = {"nft", "-f", "-", NULL};
    cr_assert_eq(run_in(ns, argv, text, NULL, 0), 0, "nft refused: %s", text);
}

static void need_root(void)
{
    if (getuid() != 0) {
        if (getenv("CI") && strcmp(getenv("CI"), "true") == 0) {
            cr_assert_fail("host tests need root, and CI=true forbids skipping");
        }
        cr_skip_test("SKIPPED: host tests need root");
    }
}

/*   cli: c0 10.77.1.1/24 fd77:1::1/64  ── veth ──  srv: s0 10.77.1.2/24 fd77:1::2/64 */
static void two_hosts(void)
{
    need_root();
    netns_create(&cli);
    netns_create(&srv);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ip link add c0 netns %d type veth peer name s0 netns %d",
             (int)cli.holder, (int)srv.holder);
    sh_in(NULL, cmd);
    sh_in(&cli, "ip addr add 10.77.1.1/24 dev c0 && ip addr add fd77:1::1/64 dev c0 nodad && "
                "ip link set c0 up && ip link set lo up");
    sh_in(&srv, "ip addr add 10.77.1.2/24 dev s0 && ip addr add fd77:1::2/64 dev s0 nodad && "
                "ip link set s0 up && ip link set lo up");
    char out[64];
    const char *ifx[] = {"sh", "-c", "ip -o link show s0 | cut -d: -f1", NULL};
    cr_assert_eq(run_in(&srv, ifx, NULL, out, sizeof(out)), 0);
    srv_ifindex = (int)parse_number(out, 1 << 30);
    cr_assert_gt(srv_ifindex, 0);
}

static void teardown(void)
{
    netns_destroy(&cli);
    netns_destroy(&srv);
}

/* ---- the client --------------------------------------------------------------------------- */

/* One SYN from a real client, its source port and ISN as the kernel holds them: a
 * non-blocking connect sends the SYN, then TCP_REPAIR reads write_seq (ISN + 1 once the SYN is
 * out) and lets the socket close without sending anything more. */
static const char client_py[] =
    "import socket, sys\n"
    "addr, port = sys.argv[1], int(sys.argv[2])\n"
    "s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET)\n"
    "s.setblocking(False)\n"
    "try:\n"
    "    s.connect((addr, port))\n"
    "except OSError:\n"
    "    pass\n"
    "sport = s.getsockname()[1]\n"
    "s.setsockopt(socket.IPPROTO_TCP, 19, 1)  # TCP_REPAIR\n"
    "s.setsockopt(socket.IPPROTO_TCP, 20, 2)  # TCP_REPAIR_QUEUE = TCP_SEND_QUEUE\n"
    "print(sport, (s.getsockopt(socket.IPPROTO_TCP, 21) - 1) & 0xffffffff)  # TCP_QUEUE_SEQ\n";

struct syn {
    int family;
    struct dec_addr src, dst;
    uint16_t sport, dport;
    uint32_t isn;
    int64_t before_ns, after_ns; /* CLOCK_REALTIME around the client */
};

/* Debian's python3 (a python3 earlier in PATH may be a slow shim, such as pyenv's) */
static const char *python3(void)
{
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct dec_addr addr_of(int family, const char *text)
{
    struct dec_addr a;
    memset(&a, 0, sizeof(a));
    cr_assert_eq(inet_pton(family == 4 ? AF_INET : AF_INET6, text, a.b), 1);
    return a;
}

/* Connects from cli to the server's address of that family, port dport. */
static struct syn send_syn(int family, uint16_t dport)
{
    struct syn s = {.family = family, .dport = dport};
    const char *server = family == 4 ? "10.77.1.2" : "fd77:1::2";
    s.src = addr_of(family, family == 4 ? "10.77.1.1" : "fd77:1::1");
    s.dst = addr_of(family, server);
    char port[8], out[64];
    snprintf(port, sizeof(port), "%u", dport);
    const char *argv[] = {python3(), "-c", client_py, server, port, NULL};
    s.before_ns = realtime_ns();
    cr_assert_eq(run_in(&cli, argv, NULL, out, sizeof(out)), 0, "the client failed");
    s.after_ns = realtime_ns();
    unsigned sport = 0;
    unsigned long isn = 0;
    cr_assert_eq(sscanf(out, "%u %lu", &sport, &isn), 2, "client said '%s'", out);
    s.sport = (uint16_t)sport;
    s.isn = (uint32_t)isn;
    return s;
}

/* ---- events ------------------------------------------------------------------------------- */

#define MAX_SEEN 256

/* The events of the test's two namespaces. */
struct seen {
    struct hev_drop_event ev[MAX_SEEN];
    int count;
};

static int keep_ours(const struct hev_drop_event *ev, void *user)
{
    struct seen *seen = user;
    if ((ev->netns_ino == cli.inode || ev->netns_ino == srv.inode) && seen->count < MAX_SEEN) {
        seen->ev[seen->count++] = *ev;
    }
    return 0;
}

static struct hev_drop *open_drops(void)
{
    struct hev_drop *h = NULL;
    char err[256] = "";
    struct hev_drop_options opt = {0};
    int rc = hev_drop_open(&h, &opt, err, sizeof(err));
    cr_assert_eq(rc, 0, "hev_drop_open: %s", err);
    cr_assert_str_empty(hev_drop_note(h), "note: %s", hev_drop_note(h));
    return h;
}

/* Whether ev is about syn s (the packet the SYN was, or the one a reset answered). */
static bool about(const struct hev_drop_event *ev, const struct syn *s)
{
    return ev->proto == IPPROTO_TCP && ev->family == s->family && ev->sport == s->sport &&
           ev->dport == s->dport && memcmp(&ev->src, &s->src, sizeof(s->src)) == 0 &&
           memcmp(&ev->dst, &s->dst, sizeof(s->dst)) == 0 && !ev->from_socket;
}

/* The first event of that kind about s in namespace ns, or NULL. */
static const struct hev_drop_event *find(const struct seen *seen, int kind, const struct syn *s,
                                         const struct netns *ns)
{
    for (int i = 0; i < seen->count; i++) {
        const struct hev_drop_event *ev = &seen->ev[i];
        if (ev->kind == kind && ev->netns_ino == ns->inode && about(ev, s)) {
            return ev;
        }
    }
    return NULL;
}

/* Polls until an event of that kind about s in ns arrived (or 3 s passed). */
static const struct hev_drop_event *wait_for(struct hev_drop *h, struct seen *seen, int kind,
                                             const struct syn *s, const struct netns *ns)
{
    char err[256];
    for (int i = 0; i < 30 && find(seen, kind, s, ns) == NULL; i++) {
        cr_assert_geq(hev_drop_poll(h, 100, keep_ours, seen, err, sizeof(err)), 0, "%s", err);
    }
    return find(seen, kind, s, ns);
}

/* Collects whatever else arrives in the next ms milliseconds. */
static void drain(struct hev_drop *h, struct seen *seen, int ms)
{
    char err[256];
    for (int i = 0; i < ms / 50; i++) {
        cr_assert_geq(hev_drop_poll(h, 50, keep_ours, seen, err, sizeof(err)), 0, "%s", err);
    }
}

/* ev is the SYN s, dropped or answered in namespace ns with the reason named `reason`. */
static void assert_syn_event(struct hev_drop *h, const struct hev_drop_event *ev,
                             const struct syn *s, const char *reason, const char *what)
{
    cr_assert_not_null(ev, "%s: no event for %u -> %u", what, s->sport, s->dport);
    cr_expect_eq(ev->tcp_flags, DEC_TCP_SYN, "%s: flags %#x", what, ev->tcp_flags);
    cr_expect_eq(ev->seq, s->isn, "%s: seq %u, the client's ISN is %u", what, ev->seq, s->isn);
    cr_expect_eq(ev->ack, 0);
    cr_expect(ev->has_reason, "%s: no reason", what);
    const char *name = hev_drop_reason_name(h, ev);
    cr_expect(name != NULL && strcmp(name, reason) == 0, "%s: reason %u (%s), expected %s", what,
              ev->reason, name ? name : "no name", reason);
    cr_expect(ev->ts_ns >= s->before_ns && ev->ts_ns <= s->after_ns,
              "%s: time %lld outside the client's run [%lld, %lld]", what, (long long)ev->ts_ns,
              (long long)s->before_ns, (long long)s->after_ns);
}

static int count_kind(const struct seen *seen, int kind, const struct syn *s)
{
    int n = 0;
    for (int i = 0; i < seen->count; i++) {
        n += seen->ev[i].kind == kind && about(&seen->ev[i], s);
    }
    return n;
}

/* ---- scenarios ---------------------------------------------------------------------------- */

TestSuite(drop, .init = two_hosts, .fini = teardown, .timeout = 60);

/* Nothing listens: tcp_v4_rcv/tcp_v6_rcv drop the SYN as NO_SOCKET and answer it with a
 * reset (tcp_send_reset with reason NO_SOCKET); both carry the client's tuple and ISN. */
static void no_listener(int family)
{
    struct hev_drop *h = open_drops();
    struct seen seen = {.count = 0};
    struct syn s = send_syn(family, 81);
    const struct hev_drop_event *drop = wait_for(h, &seen, HEV_DROP_KFREE, &s, &srv);
    const struct hev_drop_event *reset = wait_for(h, &seen, HEV_DROP_RESET_SENT, &s, &srv);
    assert_syn_event(h, drop, &s, "NO_SOCKET", "drop");
    cr_expect_eq(drop->ifindex, srv_ifindex, "drop on ifindex %d, s0 is %d", drop->ifindex,
                 srv_ifindex);
    cr_expect_neq(drop->location, 0);
    assert_syn_event(h, reset, &s, "NO_SOCKET", "reset");
    cr_expect_null(find(&seen, HEV_DROP_KFREE, &s, &cli), "the client dropped something");
    hev_drop_close(h);
}

Test(drop, no_listener_v4)
{
    no_listener(4);
}

Test(drop, no_listener_v6)
{
    no_listener(6);
}

/* An nftables drop rule on the server's input: NETFILTER_DROP, and no reset. */
static void nft_drop(int family)
{
    nft_in(&srv, "input", "tcp dport 83 drop");
    struct hev_drop *h = open_drops();
    struct seen seen = {.count = 0};
    struct syn s = send_syn(family, 83);
    assert_syn_event(h, wait_for(h, &seen, HEV_DROP_KFREE, &s, &srv), &s, "NETFILTER_DROP",
                     "nft drop");
    drain(h, &seen, 300);
    cr_expect_eq(count_kind(&seen, HEV_DROP_RESET_SENT, &s), 0, "a reset was sent");
    hev_drop_close(h);
}

Test(drop, nft_drop_v4)
{
    nft_drop(4);
}

Test(drop, nft_drop_v6)
{
    nft_drop(6);
}

/* `reject with tcp reset`: the rule drops the SYN (NETFILTER_DROP: a reject is a drop to
 * the kernel) and nf_reject builds the RST itself, so tcp_send_reset does not fire. */
static void nft_reject_reset(int family)
{
    nft_in(&srv, "input", "tcp dport 82 reject with tcp reset");
    struct hev_drop *h = open_drops();
    struct seen seen = {.count = 0};
    struct syn s = send_syn(family, 82);
    assert_syn_event(h, wait_for(h, &seen, HEV_DROP_KFREE, &s, &srv), &s, "NETFILTER_DROP",
                     "reject with tcp reset");
    drain(h, &seen, 300);
    cr_expect_eq(count_kind(&seen, HEV_DROP_RESET_SENT, &s), 0,
                 "tcp_send_reset fired for an nftables reset");
    hev_drop_close(h);
}

Test(drop, nft_reject_reset_v4)
{
    nft_reject_reset(4);
}

Test(drop, nft_reject_reset_v6)
{
    nft_reject_reset(6);
}

/* `reject with icmpx admin-prohibited`: NETFILTER_DROP of the SYN on the server; the ICMP
 * error it sends back is dropped by a rule on the client, whose drop event carries the
 * error's type and code and the SYN it quotes (tuple and ISN). */
static void nft_reject_icmp(int family)
{
    nft_in(&srv, "input", "tcp dport 84 reject with icmpx admin-prohibited");
    nft_in(&cli, "input",
           "icmp type destination-unreachable drop\nicmpv6 type destination-unreachable drop");
    struct hev_drop *h = open_drops();
    struct seen seen = {.count = 0};
    struct syn s = send_syn(family, 84);
    assert_syn_event(h, wait_for(h, &seen, HEV_DROP_KFREE, &s, &srv), &s, "NETFILTER_DROP",
                     "reject with icmpx");
    const struct hev_drop_event *icmp = NULL;
    for (int round = 0; round < 30 && icmp == NULL; round++) {
        for (int i = 0; i < seen.count && icmp == NULL; i++) {
            const struct hev_drop_event *ev = &seen.ev[i];
            if (ev->netns_ino == cli.inode && ev->icmp_type != 0 && ev->quoted_sport == s.sport) {
                icmp = ev;
            }
        }
        drain(h, &seen, 100);
    }
    cr_assert_not_null(icmp, "no drop of the ICMP error at the client");
    cr_expect_eq(icmp->proto, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    cr_expect_eq(icmp->icmp_type, family == 4 ? 3 : 1);  /* destination unreachable */
    cr_expect_eq(icmp->icmp_code, family == 4 ? 13 : 1); /* administratively prohibited */
    cr_expect_eq(memcmp(&icmp->src, &s.dst, sizeof(s.dst)), 0, "not from the server");
    cr_expect_eq(memcmp(&icmp->quoted_src, &s.src, sizeof(s.src)), 0);
    cr_expect_eq(memcmp(&icmp->quoted_dst, &s.dst, sizeof(s.dst)), 0);
    cr_expect_eq(icmp->quoted_dport, s.dport);
    cr_expect_eq(icmp->quoted_seq, s.isn, "quoted seq %u, ISN %u", icmp->quoted_seq, s.isn);
    const char *name = hev_drop_reason_name(h, icmp);
    cr_expect(name && strcmp(name, "NETFILTER_DROP") == 0, "ICMP dropped as %s", name ? name : "?");
    hev_drop_close(h);
}

Test(drop, nft_reject_icmpx_v4)
{
    nft_reject_icmp(4);
}

Test(drop, nft_reject_icmpx_v6)
{
    nft_reject_icmp(6);
}

/* A drop rule in the client's own output chain: the SYN never reaches the wire; the event
 * comes from the client's namespace, with no device yet, and holds the tuple and ISN. */
static void output_drop(int family)
{
    nft_in(&cli, "output", "tcp dport 85 drop");
    struct hev_drop *h = open_drops();
    struct seen seen = {.count = 0};
    struct syn s = send_syn(family, 85);
    assert_syn_event(h, wait_for(h, &seen, HEV_DROP_KFREE, &s, &cli), &s, "NETFILTER_DROP",
                     "output drop");
    drain(h, &seen, 200);
    cr_expect_null(find(&seen, HEV_DROP_KFREE, &s, &srv), "the SYN reached the server");
    hev_drop_close(h);
}

Test(drop, output_drop_v4)
{
    output_drop(4);
}

Test(drop, output_drop_v6)
{
    output_drop(6);
}

/* A server that accepts, lets the client's data arrive unread and closes: the kernel aborts
 * the connection with a reset of its own, with no packet to answer (RFC 2525 2.17), reason
 * TCP_ABORT_ON_CLOSE; the event holds the server socket's tuple, local to remote. */
static const char abort_server_py[] =
    "import socket, sys, time\n"
    "fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
    "l = socket.socket(fam)\n"
    "l.bind((sys.argv[1], 86))\n"
    "l.listen(1)\n"
    "print('ready', flush=True)\n"
    "c, _ = l.accept()\n"
    "time.sleep(0.3)\n"
    "c.close()\n";
static const char abort_client_py[] = "import socket, sys, time\n"
                                      "s = socket.create_connection((sys.argv[1], 86))\n"
                                      "s.send(b'unread')\n"
                                      "print(s.getsockname()[1], flush=True)\n"
                                      "time.sleep(0.6)\n";

static void reset_from_socket(int family)
{
    const char *server = family == 4 ? "10.77.1.2" : "fd77:1::2";
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(srv.path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0 || dup2(out[1], 1) < 0) {
            _exit(126);
        }
        execlp(python3(), python3(), "-c", abort_server_py, server, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char ready[16] = "";
    cr_assert_gt(read(out[0], ready, sizeof(ready) - 1), 0, "the server did not start");
    close(out[0]);
    struct hev_drop *h = open_drops();
    char port[64];
    const char *argv[] = {python3(), "-c", abort_client_py, server, NULL};
    cr_assert_eq(run_in(&cli, argv, NULL, port, sizeof(port)), 0, "the client failed");
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    long dport = parse_number(port, 65535);
    cr_assert_gt(dport, 0, "the client printed no port: '%s'", port);
    struct syn s = {.family = family, .sport = 86, .dport = (uint16_t)dport};
    s.src = addr_of(family, server);
    s.dst = addr_of(family, family == 4 ? "10.77.1.1" : "fd77:1::1");
    struct seen seen = {.count = 0};
    const struct hev_drop_event *reset = NULL;
    for (int round = 0; round < 30 && reset == NULL; round++) {
        drain(h, &seen, 100);
        for (int i = 0; i < seen.count && reset == NULL; i++) {
            const struct hev_drop_event *ev = &seen.ev[i];
            if (ev->kind == HEV_DROP_RESET_SENT && ev->from_socket && ev->netns_ino == srv.inode &&
                ev->family == family && ev->sport == s.sport && ev->dport == s.dport &&
                memcmp(&ev->src, &s.src, sizeof(s.src)) == 0 &&
                memcmp(&ev->dst, &s.dst, sizeof(s.dst)) == 0) {
                reset = ev;
            }
        }
    }
    cr_assert_not_null(reset, "no reset from the server's socket to port %u", s.dport);
    const char *name = hev_drop_reason_name(h, reset);
    cr_expect(name && strcmp(name, "TCP_ABORT_ON_CLOSE") == 0, "reset reason %u (%s)",
              reset->reason, name ? name : "no name");
    hev_drop_close(h);
}

Test(drop, reset_from_socket_v4)
{
    reset_from_socket(4);
}

Test(drop, reset_from_socket_v6)
{
    reset_from_socket(6);
}

/* A full ring buffer refuses events and counts them: a 4 KiB ring, 100 refused connects (two
 * events each), nothing read meanwhile. */
Test(drop, lost_events_counted)
{
    struct hev_drop *h = NULL;
    char err[256] = "";
    struct hev_drop_options opt = {.ring_bytes = 4096};
    cr_assert_eq(hev_drop_open(&h, &opt, err, sizeof(err)), 0, "%s", err);
    static const char flood_py[] = "import socket\n"
                                   "for i in range(100):\n"
                                   "    s = socket.socket()\n"
                                   "    try: s.connect(('10.77.1.2', 81))\n"
                                   "    except OSError: pass\n"
                                   "    s.close()\n";
    const char *argv[] = {python3(), "-c", flood_py, NULL};
    cr_assert_eq(run_in(&cli, argv, NULL, NULL, 0), 0, "the clients failed");
    struct seen seen = {.count = 0};
    drain(h, &seen, 200);
    cr_expect_gt(seen.count, 0, "nothing delivered");
    cr_expect_gt(hev_drop_lost(h), 0, "%d events delivered, none lost", seen.count);
    hev_drop_close(h);
}

/* ---- what is left in the kernel ----------------------------------------------------------- */

/* Occurrences of needle in the output of a command. */
static int count_in_output(const char *const *argv, const char *needle)
{
    static char out[1 << 20];
    run_in(NULL, argv, NULL, out, sizeof(out));
    int n = 0;
    for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

/* Our programs loaded, and links to kfree_skb. */
static int programs_loaded(void)
{
    static const char *const argv[] = {"bpftool", "-j", "prog", "show", NULL};
    return count_in_output(argv, "\"name\":\"on_kfree_skb\"");
}

static int kfree_skb_links(void)
{
    static const char *const argv[] = {"bpftool", "-j", "link", "show", NULL};
    return count_in_output(argv, "\"tp_name\":\"kfree_skb\"");
}

/* The kernel frees a program after its last descriptor is gone, asynchronously. */
static bool gone_within(int programs, int links, int ms)
{
    for (int i = 0; i < ms / 50; i++) {
        if (programs_loaded() == programs && kfree_skb_links() == links) {
            return true;
        }
        usleep(50 * 1000);
    }
    return programs_loaded() == programs && kfree_skb_links() == links;
}

TestSuite(kernel, .init = need_root, .timeout = 60);

Test(kernel, detached_at_close)
{
    int programs = programs_loaded(), links = kfree_skb_links();
    struct hev_drop *h = open_drops();
    cr_assert_eq(programs_loaded(), programs + 1);
    cr_assert_eq(kfree_skb_links(), links + 1);
    hev_drop_close(h);
    cr_expect(gone_within(programs, links, 3000), "left after close: %d programs, %d links",
              programs_loaded() - programs, kfree_skb_links() - links);
}

Test(kernel, detached_when_killed)
{
    int programs = programs_loaded(), links = kfree_skb_links();
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct hev_drop *h = NULL;
        char err[256];
        char ok = hev_drop_open(&h, NULL, err, sizeof(err)) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) {
            _exit(1);
        }
        for (;;) {
            pause(); /* until SIGKILL: hev_drop_close never runs */
        }
    }
    char ok = 0;
    cr_assert_eq(read(ready[0], &ok, 1), 1);
    cr_assert_eq(ok, 'y', "the child could not open");
    cr_expect_eq(programs_loaded(), programs + 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_expect(gone_within(programs, links, 3000), "left after SIGKILL: %d programs, %d links",
              programs_loaded() - programs, kfree_skb_links() - links);
}

Test(kernel, pretend_no_btf)
{
    struct hev_drop_options opt = {.pretend_no_btf = 1};
    char err[256] = "";
    struct hev_drop *h = (struct hev_drop *)&err; /* must be set to NULL */
    cr_expect_eq(hev_drop_open(&h, &opt, err, sizeof(err)), -HEV_DROP_ERR_NO_BTF);
    cr_expect_null(h);
    cr_expect_str_eq(err, "drop reasons off: kernel has no BTF");
    struct hev_sockowner *so = NULL;
    cr_expect_eq(hev_sockowner_open(&so, &opt, err, sizeof(err)), -HEV_DROP_ERR_NO_BTF);
    cr_expect_null(so);
    cr_expect_str_eq(err, "socket owners off: kernel has no BTF");
    hev_drop_close(NULL);
    hev_sockowner_close(NULL);
}

/* ---- privileges --------------------------------------------------------------------------- */

/* Becomes nobody with no capability left, as cap_drop_privileges does; 0 or -1. */
static int become_nobody(void)
{
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
        return -1;
    }
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int zero = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if ((strncmp(line, "CapPrm:", 7) == 0 || strncmp(line, "CapEff:", 7) == 0 ||
             strncmp(line, "CapAmb:", 7) == 0) &&
            strtoull(line + 7, NULL, 16) == 0) {
            zero++;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return zero == 3 && getuid() == 65534 && geteuid() == 65534 ? 0 : -1;
}

Test(kernel, not_permitted)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct hev_drop *h = NULL;
        char err[256] = "";
        if (become_nobody() != 0) {
            _exit(2);
        }
        int rc = hev_drop_open(&h, NULL, err, sizeof(err));
        _exit(rc == -HEV_DROP_ERR_PERM &&
                      strcmp(err, "drop reasons off: not permitted (needs root, or CAP_BPF and "
                                  "CAP_PERFMON)") == 0
                  ? 0
                  : 3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "as nobody: exit %d (2: could not drop, 3: not the EPERM line)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* ---- socket owners ------------------------------------------------------------------------ */

static uint64_t socket_inode(int fd)
{
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    return st.st_ino;
}

static void own_comm(char *comm, size_t len)
{
    FILE *f = fopen("/proc/self/comm", "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(comm, (int)len, f));
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
}

Test(kernel, socket_owner)
{
    struct hev_sockowner *so = NULL;
    char err[256] = "";
    cr_assert_eq(hev_sockowner_open(&so, NULL, err, sizeof(err)), 0, "%s", err);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    uint64_t inode = socket_inode(fd);
    struct hev_owner owner;
    cr_assert_eq(hev_sockowner_find(so, inode, &owner, err, sizeof(err)), 1, "%s", err);
    char comm[32];
    own_comm(comm, sizeof(comm));
    cr_expect_eq(owner.pid, (uint32_t)getpid());
    cr_expect_eq(owner.fd, (uint32_t)fd);
    cr_expect_str_eq(owner.comm, comm);
    close(fd);
    cr_expect_eq(hev_sockowner_find(so, inode, &owner, err, sizeof(err)), 0,
                 "a closed socket still has an owner");
    cr_expect_eq(hev_sockowner_find(so, 0, &owner, err, sizeof(err)), 0);
    hev_sockowner_close(so);
}

/* The child of after_privilege_drop: opens as root, becomes nobody, then must still receive
 * the drop of the SYN the parent sends and name the owner of the parent's socket. Exit 0, or
 * what failed: 2 the drop of privileges, 3 no event, 4 no owner, 5 opening. */
static int unprivileged_child(int commands, int answers)
{
    struct hev_drop *h = NULL;
    struct hev_sockowner *so = NULL;
    char err[256];
    if (hev_drop_open(&h, NULL, err, sizeof(err)) != 0 ||
        hev_sockowner_open(&so, NULL, err, sizeof(err)) != 0) {
        return 5;
    }
    if (become_nobody() != 0) {
        return 2;
    }
    if (write(answers, "d", 1) != 1) {
        return 1;
    }
    FILE *in = fdopen(commands, "r");
    struct syn s = {.family = 4, .dport = 81};
    unsigned sport, isn;
    unsigned long long inode;
    if (in == NULL || fscanf(in, "%u %u %llu", &sport, &isn, &inode) != 3) {
        return 1;
    }
    s.sport = (uint16_t)sport;
    s.isn = isn;
    inet_pton(AF_INET, "10.77.1.1", s.src.b);
    inet_pton(AF_INET, "10.77.1.2", s.dst.b);
    static struct seen seen;
    const struct hev_drop_event *ev = NULL;
    for (int i = 0; i < 30 && ev == NULL; i++) {
        if (hev_drop_poll(h, 100, keep_ours, &seen, err, sizeof(err)) < 0) {
            return 3;
        }
        ev = find(&seen, HEV_DROP_KFREE, &s, &srv);
    }
    if (ev == NULL || ev->seq != s.isn) {
        return 3;
    }
    struct hev_owner owner;
    if (hev_sockowner_find(so, inode, &owner, err, sizeof(err)) != 1 ||
        owner.pid != (uint32_t)getppid()) {
        return 4;
    }
    hev_sockowner_close(so);
    hev_drop_close(h);
    return 0;
}

/* Everything is opened before the privilege drop; afterwards, as nobody with no capability,
 * the ring buffer still delivers events and the socket-owner iterator still runs. */
Test(drop, after_privilege_drop)
{
    int commands[2], answers[2];
    cr_assert_eq(pipe(commands), 0);
    cr_assert_eq(pipe(answers), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(commands[1]);
        close(answers[0]);
        _exit(unprivileged_child(commands[0], answers[1]));
    }
    close(commands[0]);
    close(answers[1]);
    char dropped = 0;
    cr_assert_eq(read(answers[0], &dropped, 1), 1, "the child did not get as far as the drop");
    struct syn s = send_syn(4, 81);
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    dprintf(commands[1], "%u %u %llu\n", s.sport, s.isn, (unsigned long long)socket_inode(fd));
    close(commands[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    close(fd);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "as nobody: exit %d (2: could not drop, 3: no event, 4: no owner, 5: open)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
