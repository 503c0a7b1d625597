/* nft_lab.h - the laboratory of the nftables tracing tests: two network namespaces (client and
 * server, ssG-<pid>-c and ssG-<pid>-s) joined by a veth, IPv4 and IPv6, nft rules in them, a
 * connect() whose SYN carries a chosen ISN, and a loop that collects hev_nft events. Every nft
 * table of the tests lives in these namespaces and goes with them. */
#ifndef SYNSCOPE_TEST_NFT_LAB_H
#define SYNSCOPE_TEST_NFT_LAB_H

#define _GNU_SOURCE /* setns */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hev_nft.h"

#define LAB_FN static __attribute__((unused))
#define LAB_PREFIX "ssG-"
#define LAB_CLI4 "10.66.0.1"
#define LAB_SRV4 "10.66.0.2"
#define LAB_CLI6 "fd66::1"
#define LAB_SRV6 "fd66::2"
#define LAB_PORT 8080
#define LAB_MAX_EVENTS 16

struct lab {
    char cli[32]; /* namespace names */
    char srv[32];
    int home_fd; /* the test's own namespace */
    bool up;
    pid_t child[8]; /* processes forked by the test, killed by lab_down if still there */
    int children;
};

static struct lab lab;

/* Root tests: skipped with a message without root, failed when CI=true forbids skipping. */
LAB_FN void lab_require_root(void)
{
    if (geteuid() == 0) {
        return;
    }
    const char *ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0) {
        cr_assert_fail("nftables tracing tests need root, and CI=true forbids skipping");
    }
    cr_skip_test("nftables tracing tests need root");
}

/* Runs a shell command; returns its exit status (-1 when it did not run). */
LAB_FN int lab_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

/* Namespaces of earlier runs of these tests whose process is gone (a crash skips .fini). */
LAB_FN void lab_remove_leftovers(void)
{
    DIR *d = opendir("/run/netns");
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, LAB_PREFIX, strlen(LAB_PREFIX)) != 0) {
            continue;
        }
        long pid = strtol(e->d_name + strlen(LAB_PREFIX), NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            lab_sh("ip netns del '%s' 2>/dev/null", e->d_name);
        }
    }
    closedir(d);
}

LAB_FN void lab_enter(const char *ns)
{
    char path[96];
    snprintf(path, sizeof(path), "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert(setns(fd, CLONE_NEWNET) == 0, "setns %s: %s", ns, strerror(errno));
    close(fd);
}

LAB_FN void lab_home(void)
{
    if (lab.home_fd >= 0) {
        (void)setns(lab.home_fd, CLONE_NEWNET);
    }
}

/* fork() for a test: the child dies with the test process (PR_SET_PDEATHSIG), and lab_down
 * kills it if a failed assertion left it behind. */
LAB_FN pid_t lab_fork(void)
{
    cr_assert(lab.children < (int)(sizeof(lab.child) / sizeof(lab.child[0])));
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
            _exit(1);
        }
        return 0;
    }
    lab.child[lab.children++] = pid;
    return pid;
}

LAB_FN void lab_down(void)
{
    for (int i = 0; i < lab.children; i++) {
        if (waitpid(lab.child[i], NULL, WNOHANG) == 0) {
            kill(lab.child[i], SIGKILL);
            waitpid(lab.child[i], NULL, 0);
        }
    }
    lab.children = 0;
    lab_home();
    if (lab.up) {
        lab_sh("ip netns del '%s' 2>/dev/null", lab.cli);
        lab_sh("ip netns del '%s' 2>/dev/null", lab.srv);
        lab.up = false;
    }
    if (lab.home_fd >= 0) {
        close(lab.home_fd);
        lab.home_fd = -1;
    }
}

/* .init of every suite: the two namespaces, addressed and up. */
LAB_FN void lab_up(void)
{
    lab.home_fd = -1;
    lab_require_root();
    lab_remove_leftovers();
    snprintf(lab.cli, sizeof(lab.cli), LAB_PREFIX "%ld-c", (long)getpid());
    snprintf(lab.srv, sizeof(lab.srv), LAB_PREFIX "%ld-s", (long)getpid());
    lab.home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    cr_assert(lab.home_fd >= 0);
    lab.up = true;
    int rc = lab_sh("ip netns add %s && ip netns add %s", lab.cli, lab.srv);
    if (rc != 0) {
        cr_assert_fail("ip netns add failed (%d)", rc);
    }
    rc = lab_sh("ip link add ssg0 netns %s type veth peer name ssg1 netns %s && "
                "ip -n %s addr add " LAB_CLI4 "/24 dev ssg0 && "
                "ip -n %s addr add " LAB_CLI6 "/64 dev ssg0 nodad && "
                "ip -n %s addr add " LAB_SRV4 "/24 dev ssg1 && "
                "ip -n %s addr add " LAB_SRV6 "/64 dev ssg1 nodad && "
                "ip -n %s link set ssg0 up && ip -n %s link set lo up && "
                "ip -n %s link set ssg1 up && ip -n %s link set lo up",
                lab.cli, lab.srv, lab.cli, lab.cli, lab.srv, lab.srv, lab.cli, lab.cli, lab.srv,
                lab.srv);
    cr_assert(rc == 0, "veth set-up failed (%d)", rc);
}

/* Loads an nft script into a namespace. */
LAB_FN void lab_nft(const char *ns, const char *script)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ip netns exec %s nft -f -", ns);
    FILE *p = popen(cmd, "w");
    cr_assert(p != NULL);
    fputs(script, p);
    int rc = pclose(p);
    cr_assert(rc == 0, "nft -f failed for:\n%s", script);
}

/* Adds a rule ("inet fw input", "tcp dport 8080 drop") and returns its handle, from nft's
 * echo ("add rule inet fw input tcp dport 8080 drop # handle 2"). */
LAB_FN uint64_t lab_add_rule(const char *ns, const char *where, const char *rule)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof(cmd), "ip netns exec %s nft -e -a add rule %s %s", ns, where, rule);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    uint64_t handle = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        const char *at = strstr(line, "# handle ");
        if (at != NULL) {
            handle = strtoull(at + 9, NULL, 10);
        }
    }
    cr_assert(pclose(p) == 0, "%s failed", cmd);
    cr_assert(handle != 0, "no handle in the echo of: %s", cmd);
    return handle;
}

/* Whether table inet NAME exists in a namespace. */
LAB_FN bool lab_table_exists(const char *ns, const char *name)
{
    return lab_sh("ip netns exec %s nft list table inet %s >/dev/null 2>&1", ns, name) == 0;
}

/* Opens tracing inside a namespace (the sockets stay there). */
LAB_FN struct hev_nft *lab_open(const char *ns, const struct hev_nft_config *cfg)
{
    char err[HEV_NFT_ERRBUF_SIZE] = "";
    struct hev_nft *h = NULL;
    lab_enter(ns);
    int rc = hev_nft_open(&h, cfg, err, sizeof(err));
    lab_home();
    cr_assert(rc == 0, "hev_nft_open: %d %s", rc, err);
    return h;
}

/* A TCP socket in the client namespace whose connect() sends a SYN with this ISN from this
 * port: TCP_REPAIR sets the send queue's sequence number while the socket is closed, and
 * connect() keeps a non-zero one (tcp_v4_connect, tcp_v6_connect). Non-blocking. */
LAB_FN int lab_connect(bool v6, uint16_t port, uint32_t isn, uint16_t sport)
{
    lab_enter(lab.cli);
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    lab_home();
    cr_assert(fd >= 0);
    int on = 1, off = 0, queue = TCP_SEND_QUEUE;
    cr_assert(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == 0);
    cr_assert(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) == 0);
    cr_assert(setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &isn, sizeof(isn)) == 0);
    cr_assert(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) == 0);
    cr_assert(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0);
    struct sockaddr_storage local = {0}, remote = {0};
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *l = (void *)&local, *r = (void *)&remote;
        l->sin6_family = r->sin6_family = AF_INET6;
        inet_pton(AF_INET6, LAB_CLI6, &l->sin6_addr);
        inet_pton(AF_INET6, LAB_SRV6, &r->sin6_addr);
        l->sin6_port = htons(sport);
        r->sin6_port = htons(port);
        len = sizeof(*l);
    } else {
        struct sockaddr_in *l = (void *)&local, *r = (void *)&remote;
        l->sin_family = r->sin_family = AF_INET;
        inet_pton(AF_INET, LAB_CLI4, &l->sin_addr);
        inet_pton(AF_INET, LAB_SRV4, &r->sin_addr);
        l->sin_port = htons(sport);
        r->sin_port = htons(port);
        len = sizeof(*l);
    }
    cr_assert(bind(fd, (struct sockaddr *)&local, len) == 0, "bind: %s", strerror(errno));
    int rc = connect(fd, (struct sockaddr *)&remote, len);
    cr_assert(rc == 0 || errno == EINPROGRESS || errno == EPERM, "connect: %s", strerror(errno));
    return fd;
}

/* A listener on the server's address and port (v6only for IPv6). */
LAB_FN int lab_listen(bool v6, uint16_t port)
{
    lab_enter(lab.srv);
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    lab_home();
    cr_assert(fd >= 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    struct sockaddr_storage a = {0};
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *s = (void *)&a;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        inet_pton(AF_INET6, LAB_SRV6, &s->sin6_addr);
        len = sizeof(*s);
    } else {
        struct sockaddr_in *s = (void *)&a;
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        inet_pton(AF_INET, LAB_SRV4, &s->sin_addr);
        len = sizeof(*s);
    }
    cr_assert(bind(fd, (struct sockaddr *)&a, len) == 0, "bind: %s", strerror(errno));
    cr_assert(listen(fd, 8) == 0);
    return fd;
}

struct lab_events {
    int n;
    struct hev_nft_event ev[LAB_MAX_EVENTS];
    char text[LAB_MAX_EVENTS][256]; /* rule_text, copied ("" when NULL) */
};

LAB_FN void lab_on_event(const struct hev_nft_event *ev, void *user)
{
    struct lab_events *got = user;
    if (got->n < LAB_MAX_EVENTS) {
        got->ev[got->n] = *ev;
        snprintf(got->text[got->n], sizeof(got->text[0]), "%s",
                 ev->rule_text != NULL ? ev->rule_text : "");
        got->n++;
    }
}

LAB_FN int64_t lab_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads events for up to ms milliseconds, or until `want` have come (0: the whole time). */
LAB_FN void lab_collect(struct hev_nft *h, struct lab_events *got, int ms, int want)
{
    int64_t end = lab_ms() + ms;
    char err[HEV_NFT_ERRBUF_SIZE];
    while ((want == 0 || got->n < want) && lab_ms() < end) {
        struct pollfd p = {.fd = hev_nft_fd(h), .events = POLLIN};
        int left = (int)(end - lab_ms());
        if (poll(&p, 1, left > 0 ? left : 0) > 0) {
            int rc = hev_nft_read(h, lab_on_event, got, err, sizeof(err));
            cr_assert(rc >= 0, "hev_nft_read: %s", err);
        }
    }
}

/* The address as text, for messages. */
LAB_FN const char *lab_addr(const struct hev_nft_event *ev, const uint8_t *a, char *buf, size_t len)
{
    return inet_ntop(ev->family == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)len);
}

#endif
