/* test_nft_life.c - the life of synscope's nftables trace table against the real kernel: gone
 * after close, after hev_nft_abandon, after SIGKILL (owned), removed by the next start
 * (unowned, killed); events after the privilege drop; the one-line messages (no privilege,
 * nftables absent, iptables-legacy loaded). */
#include "nft_lab.h"

#include <grp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

TestSuite(nft_life, .init = lab_up, .fini = lab_down, .timeout = 30);

static const char fw_drop[] = "table inet fw {\n"
                              "  chain input { type filter hook input priority 0;\n"
                              "    tcp dport 8080 drop\n"
                              "  }\n"
                              "}\n";

/* Waits up to ms for the table to go (the kernel removes an owned table as the socket is
 * released). */
static bool table_gone_within(const char *ns, const char *name, int ms)
{
    for (int waited = 0; waited <= ms; waited += 50) {
        if (!lab_table_exists(ns, name)) {
            return true;
        }
        usleep(50 * 1000);
    }
    return false;
}

Test(nft_life, close_removes_table)
{
    struct hev_nft *h = lab_open(lab.srv, NULL);
    char name[HEV_NFT_NAME_SIZE];
    snprintf(name, sizeof(name), "%s", hev_nft_table(h));
    char want[HEV_NFT_NAME_SIZE];
    snprintf(want, sizeof(want), HEV_NFT_TABLE_PREFIX "%ld", (long)getpid());
    cr_expect_str_eq(name, want);
    cr_expect(hev_nft_owned(h), "this kernel (6.x) knows the owner flag");
    cr_assert(lab_table_exists(lab.srv, name));
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_assert_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
    cr_expect(!lab_table_exists(lab.srv, name), "table left after close");
}

/* The same, unowned: hev_nft_close itself removes it (root still). */
Test(nft_life, close_removes_unowned_table)
{
    struct hev_nft_config cfg = {.no_owner = true};
    struct hev_nft *h = lab_open(lab.srv, &cfg);
    cr_expect(!hev_nft_owned(h));
    char name[HEV_NFT_NAME_SIZE];
    snprintf(name, sizeof(name), "%s", hev_nft_table(h));
    cr_assert(lab_table_exists(lab.srv, name));
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_assert_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
    cr_expect(!lab_table_exists(lab.srv, name), "table left after close");
}

/* A child that opens tracing in the server namespace (then, if asked, becomes nobody without
 * capabilities and calls hev_nft_abandon, as the signal path would), writes the table's name
 * and waits to be killed. Returns its pid; name is filled. */
static pid_t child_with_table(bool owned, bool drop_and_abandon, char *name, size_t len)
{
    int p[2];
    cr_assert(pipe(p) == 0);
    pid_t pid = lab_fork();
    if (pid == 0) {
        close(p[0]);
        char path[96], err[HEV_NFT_ERRBUF_SIZE];
        snprintf(path, sizeof(path), "/run/netns/%s", lab.srv);
        int fd = open(path, O_RDONLY);
        struct hev_nft_config cfg = {.no_owner = !owned, .no_rule_text = true};
        struct hev_nft *h = NULL;
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0 || hev_nft_open(&h, &cfg, err, sizeof(err))) {
            _exit(1);
        }
        if (drop_and_abandon) {
            if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
                _exit(1);
            }
            hev_nft_abandon(h);
        }
        char out[HEV_NFT_NAME_SIZE] = "";
        snprintf(out, sizeof(out), "%s", hev_nft_table(h));
        if (write(p[1], out, sizeof(out)) != (ssize_t)sizeof(out)) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    close(p[1]);
    cr_assert(read(p[0], name, len) == (ssize_t)len, "the child did not open tracing");
    close(p[0]);
    return pid;
}

static void kill_and_wait(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    cr_assert(waitpid(pid, &status, 0) == pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* The signal path as root: the prepared batch removes the table at once, while the process
 * lives on. */
Test(nft_life, abandon_unowned)
{
    struct hev_nft_config cfg = {.no_owner = true};
    struct hev_nft *h = lab_open(lab.srv, &cfg);
    char name[HEV_NFT_NAME_SIZE];
    snprintf(name, sizeof(name), "%s", hev_nft_table(h));
    cr_assert(lab_table_exists(lab.srv, name));
    hev_nft_abandon(h);
    cr_expect(table_gone_within(lab.srv, name, 1000), "table left after hev_nft_abandon");
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* The signal path after the privilege drop: the delete is refused, and releasing the socket
 * takes the owned table with it while the process still lives. */
Test(nft_life, abandon_owned_after_drop)
{
    char name[HEV_NFT_NAME_SIZE];
    pid_t pid = child_with_table(true, true, name, sizeof(name));
    cr_expect(table_gone_within(lab.srv, name, 1000), "table left after hev_nft_abandon");
    kill_and_wait(pid);
}

/* Owned: the kernel removes the table of a killed process by itself. */
Test(nft_life, killed_owned_leaves_nothing)
{
    char name[HEV_NFT_NAME_SIZE];
    pid_t pid = child_with_table(true, false, name, sizeof(name));
    cr_assert(lab_table_exists(lab.srv, name));
    kill_and_wait(pid);
    cr_expect(table_gone_within(lab.srv, name, 1000), "owned table %s left by SIGKILL", name);
}

/* Unowned (a kernel before 5.12): the killed run's table stays, the next start removes it. */
Test(nft_life, killed_unowned_removed_at_next_start)
{
    char name[HEV_NFT_NAME_SIZE];
    pid_t pid = child_with_table(false, false, name, sizeof(name));
    kill_and_wait(pid);
    usleep(200 * 1000);
    cr_assert(lab_table_exists(lab.srv, name), "the killed run's table is there");
    struct hev_nft *h = lab_open(lab.srv, NULL);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_expect_eq(st.stale_removed, 1);
    cr_expect(!lab_table_exists(lab.srv, name), "the next start did not remove %s", name);
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* A live run's table is never removed by another start, owned or not. */
Test(nft_life, live_run_table_kept)
{
    char name[HEV_NFT_NAME_SIZE];
    pid_t pid = child_with_table(false, false, name, sizeof(name));
    struct hev_nft *h = lab_open(lab.srv, NULL);
    struct hev_nft_stats st;
    hev_nft_get_stats(h, &st);
    cr_expect_eq(st.stale_removed, 0);
    cr_expect(lab_table_exists(lab.srv, name), "a live run's table was removed");
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
    kill_and_wait(pid);
}

/* A second handle in the same process and namespace is refused, and the first is intact. */
Test(nft_life, second_open_refused)
{
    struct hev_nft *h = lab_open(lab.srv, NULL);
    struct hev_nft *again = NULL;
    char err[HEV_NFT_ERRBUF_SIZE] = "";
    lab_enter(lab.srv);
    int rc = hev_nft_open(&again, NULL, err, sizeof(err));
    lab_home();
    cr_expect_eq(rc, -HEV_NFT_ERR_EXISTS, "%d %s", rc, err);
    cr_expect_null(again);
    cr_expect(lab_table_exists(lab.srv, hev_nft_table(h)));
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* ---- after the privilege drop --------------------------------------------------------- */

struct child_report {
    int step; /* how far the child got: 4 is everything */
    int events;
    uint64_t handle;
    uint32_t seq;
    int verdict;
    int close_rc;
    char close_err[HEV_NFT_ERRBUF_SIZE];
    char table[HEV_NFT_NAME_SIZE];
    unsigned long long cap_eff;
};

/* CapEff of /proc/self/status, or ~0 when unreadable. */
static unsigned long long cap_effective(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long caps = ~0ull;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "CapEff:", 7) == 0) {
            caps = strtoull(line + 7, NULL, 16);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return caps;
}

/* synscope's order: open as root, become nobody with no capability, then read and close. */
static void unprivileged_child(bool owned, int ready_fd, int report_fd)
{
    struct child_report r = {0};
    char path[96], err[HEV_NFT_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "/run/netns/%s", lab.srv);
    int fd = open(path, O_RDONLY);
    struct hev_nft_config cfg = {.no_owner = !owned};
    struct hev_nft *h = NULL;
    if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0 && hev_nft_open(&h, &cfg, err, sizeof(err)) == 0) {
        r.step = 1;
        snprintf(r.table, sizeof(r.table), "%s", hev_nft_table(h));
        if (setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0 &&
            getuid() == 65534 && geteuid() == 65534) {
            r.step = 2;
            r.cap_eff = cap_effective();
        }
    }
    if (write(ready_fd, &r.step, sizeof(r.step)) != (ssize_t)sizeof(r.step) || r.step != 2) {
        _exit(1);
    }
    struct lab_events got = {0};
    int64_t end = lab_ms() + 4000;
    while (got.n == 0 && lab_ms() < end) {
        struct pollfd p = {.fd = hev_nft_fd(h), .events = POLLIN};
        if (poll(&p, 1, 100) > 0 && hev_nft_read(h, lab_on_event, &got, err, sizeof(err)) < 0) {
            break;
        }
    }
    r.step = 3;
    r.events = got.n;
    if (got.n > 0) {
        r.handle = got.ev[0].rule_handle;
        r.seq = got.ev[0].seq;
        r.verdict = got.ev[0].verdict;
    }
    r.close_rc = hev_nft_close(h, r.close_err, sizeof(r.close_err));
    r.step = 4;
    _exit(write(report_fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
}

static void after_privilege_drop(bool owned, struct child_report *r)
{
    lab_nft(lab.srv, fw_drop);
    int ready[2], report[2];
    cr_assert(pipe(ready) == 0 && pipe(report) == 0);
    pid_t pid = lab_fork();
    if (pid == 0) {
        close(ready[0]);
        close(report[0]);
        unprivileged_child(owned, ready[1], report[1]);
    }
    close(ready[1]);
    close(report[1]);
    int step = 0;
    cr_assert(read(ready[0], &step, sizeof(step)) == (ssize_t)sizeof(step) && step == 2,
              "the child did not open and drop (step %d)", step);
    int fd = lab_connect(false, LAB_PORT, 0x5eed, 44000);
    memset(r, 0, sizeof(*r));
    ssize_t n = read(report[0], r, sizeof(*r));
    int status;
    waitpid(pid, &status, 0);
    close(fd);
    close(ready[0]);
    close(report[0]);
    cr_assert(n == (ssize_t)sizeof(*r) && r->step == 4, "child report: %zd bytes, step %d", n,
              r->step);
    cr_log_info("after the drop: CapEff %llx, %d event(s), close %d (%s)", r->cap_eff, r->events,
                r->close_rc, r->close_err);
    cr_expect_eq(r->cap_eff, 0ull, "no capability left");
    cr_expect_eq(r->events, 1, "the subscribed trace socket keeps delivering");
    cr_expect_eq(r->seq, 0x5eedu);
    cr_expect_eq(r->verdict, HEV_NFT_DROP);
    cr_expect_eq(r->handle, 2);
}

/* Owned: the delete is refused (EPERM) but the table goes when the socket closes. */
Test(nft_life, privilege_drop_owned)
{
    struct child_report r;
    after_privilege_drop(true, &r);
    cr_expect_eq(r.close_rc, 0, "%s", r.close_err);
    cr_expect(table_gone_within(lab.srv, r.table, 1000), "owned table left after the drop");
}

/* Unowned: the kernel refuses the delete after the drop (nfnetlink checks CAP_NET_ADMIN of the
 * sending task, not only the socket's opener); close says so and the next start removes it. */
Test(nft_life, privilege_drop_unowned)
{
    struct child_report r;
    after_privilege_drop(false, &r);
    cr_expect_eq(r.close_rc, -HEV_NFT_ERR_LEFT);
    cr_expect(strstr(r.close_err, "Operation not permitted") != NULL, "%s", r.close_err);
    cr_expect(strstr(r.close_err, "nft delete table inet synscope_trace_") != NULL, "%s",
              r.close_err);
    cr_assert(lab_table_exists(lab.srv, r.table), "the unowned table is left");
    struct hev_nft *h = lab_open(lab.srv, NULL);
    cr_expect(!lab_table_exists(lab.srv, r.table), "the next start removes it");
    char err[HEV_NFT_ERRBUF_SIZE];
    cr_expect_eq(hev_nft_close(h, err, sizeof(err)), 0, "%s", err);
}

/* Opening without the privilege: one line, nothing left. */
Test(nft_life, no_privilege)
{
    int p[2];
    cr_assert(pipe(p) == 0);
    pid_t pid = lab_fork();
    if (pid == 0) {
        char err[HEV_NFT_ERRBUF_SIZE] = "";
        struct hev_nft *h = NULL;
        lab_enter(lab.srv);
        int rc = -1;
        if (setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0) {
            rc = hev_nft_open(&h, NULL, err, sizeof(err));
        }
        (void)!write(p[1], &rc, sizeof(rc));
        (void)!write(p[1], err, sizeof(err));
        _exit(0);
    }
    close(p[1]);
    int rc = 0;
    char err[HEV_NFT_ERRBUF_SIZE] = "";
    cr_assert(read(p[0], &rc, sizeof(rc)) == (ssize_t)sizeof(rc));
    cr_assert(read(p[0], err, sizeof(err)) == (ssize_t)sizeof(err));
    waitpid(pid, NULL, 0);
    close(p[0]);
    cr_log_info("unprivileged open: %s", err);
    cr_expect_eq(rc, -HEV_NFT_ERR_PERM, "%d %s", rc, err);
    cr_expect(strstr(err, "CAP_NET_ADMIN") != NULL && strchr(err, '\n') == NULL, "%s", err);
}

Test(nft_life, pretend_absent)
{
    struct hev_nft_config cfg = {.pretend_absent = true};
    struct hev_nft *h = NULL;
    char err[HEV_NFT_ERRBUF_SIZE] = "";
    lab_enter(lab.srv);
    int rc = hev_nft_open(&h, &cfg, err, sizeof(err));
    lab_home();
    cr_expect_eq(rc, -HEV_NFT_ERR_ABSENT);
    cr_expect_null(h);
    static const char want[] = "nftables tracing off: this kernel has no nf_tables";
    cr_expect(strncmp(err, want, sizeof(want) - 1) == 0, "%s", err);
    cr_expect_eq(lab_sh("ip netns exec %s nft list tables | grep -q synscope_trace_", lab.srv), 1,
                 "nothing left in the kernel");
}

/* Loads a legacy table in the calling thread's namespace, as `iptables-legacy -L` does: the
 * kernel instantiates a table on the first IPT_SO_GET_INFO that names it. */
static void load_legacy_table(int family, const char *name)
{
    int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    cr_assert(fd >= 0);
    struct ipt_getinfo info;
    memset(&info, 0, sizeof(info));
    snprintf(info.name, sizeof(info.name), "%s", name);
    socklen_t len = sizeof(info);
    int rc = family == AF_INET ? getsockopt(fd, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len)
                               : getsockopt(fd, IPPROTO_IPV6, IP6T_SO_GET_INFO, &info, &len);
    close(fd);
    cr_assert(rc == 0, "IPT_SO_GET_INFO %s: %s", name, strerror(errno));
}

Test(nft_life, legacy_tables)
{
    char msg[256] = "x";
    lab_enter(lab.srv);
    int none = hev_nft_check_legacy(msg, sizeof(msg));
    cr_expect_eq(none, 0, "%s", msg);
    cr_expect_str_eq(msg, "");
    load_legacy_table(AF_INET, "filter");
    load_legacy_table(AF_INET6, "mangle");
    int some = hev_nft_check_legacy(msg, sizeof(msg));
    lab_home();
    cr_log_info("legacy: %s", msg);
    cr_expect_eq(some, 1);
    cr_expect(strstr(msg, "ip: filter empty; ip6: mangle empty") != NULL, "%s", msg);
    cr_expect(strncmp(msg, "iptables-legacy tables are loaded", 33) == 0, "%s", msg);
}
