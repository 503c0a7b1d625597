/* test_listen_owner.c - the process that holds a listening socket (host/hev_owner.c): a real
 * python3 listener found as `ss -ltnp` finds it, the /proc scan on a made-up proc tree with
 * hostile links and names, and the cache's once-a-second rule with a counting hook. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "hev_listen.h"
#include "hev_owner.h"
#include "hev_test_net.h"

#define PORT 8765

TestSuite(owner, .timeout = 30);

static char errbuf[HEV_ERRBUF_SIZE];

/* ---- a real listener ---------------------------------------------------------------------- */

static pid_t python_pid = -1;
static int python_stdin = -1;
static int python_stdout = -1;

/* Starts python3 listening on 127.0.0.1:PORT and waits until it does. It exits when its
 * standard input closes, so it dies with the test whatever way the test ends. */
static void start_python(void)
{
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    python_pid = fork();
    cr_assert_geq(python_pid, 0);
    if (python_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/python3", "python3", "-c",
              "import socket, sys\n"
              "s = socket.socket()\n"
              "s.bind(('127.0.0.1', 8765))\n"
              "s.listen(5)\n"
              "print('ready', flush=True)\n"
              "sys.stdin.read()\n",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    python_stdin = in[1];
    python_stdout = out[0]; /* kept open: python3 must not meet a closed pipe */
    char line[16] = "";
    ssize_t got = read(out[0], line, sizeof(line) - 1);
    cr_assert(got > 0 && strncmp(line, "ready", 5) == 0, "python3 did not start");
}

static void stop_python(void)
{
    if (python_pid > 0) {
        close(python_stdin);
        close(python_stdout);
        kill(python_pid, SIGTERM);
        waitpid(python_pid, NULL, 0);
        python_pid = -1;
    }
}

/* `ss -ltnp` for PORT: the pid and the command it names. */
static void ss_owner(int *pid, char comm[16])
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ss -Hltnp 'sport = :%d'", PORT);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[512] = "";
    cr_assert_not_null(fgets(line, sizeof(line), p));
    pclose(p);
    /* ... users:(("python3",pid=1234,fd=3)) */
    const char *users = strstr(line, "users:((\"");
    cr_assert_not_null(users, "ss said: %s", line);
    cr_assert_eq(sscanf(users, "users:((\"%15[^\"]\",pid=%d", comm, pid), 2, "ss said: %s", line);
}

static void real_setup(void)
{
    cr_assert_eq(hevt_netns(), 0);
}

Test(owner, python3_listener, .init = real_setup, .fini = stop_python)
{
    start_python();
    struct hev_listen *lt;
    cr_assert_eq(hev_listen_open(&lt, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    struct hev_listener l;
    size_t total = 0;
    cr_assert_eq(hev_listen_dump(lt, PORT, &l, 1, &total, errbuf, sizeof(errbuf)), 0);
    cr_assert_eq(total, 1);
    hev_listen_close(lt);

    struct hev_socket_owner owners[2] = {{.inode = l.inode}, {.inode = 1}};
    cr_assert_eq(hev_owner_procfs(NULL, owners, 2, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_eq(owners[0].status, HEV_OWNER_FOUND, "%s", hev_owner_status_name(owners[0].status));
    cr_expect_eq(owners[0].pid, python_pid);
    cr_expect_str_eq(owners[0].comm, "python3");
    /* no process holds inode 1: not found, or, where even root cannot read some process's
     * descriptors (a sandbox's pid 1), no permission */
    cr_expect(owners[1].status == HEV_OWNER_NOT_FOUND ||
                  owners[1].status == HEV_OWNER_NO_PERMISSION,
              "%s", hev_owner_status_name(owners[1].status));

    int ss_pid = 0;
    char ss_comm[16] = "";
    ss_owner(&ss_pid, ss_comm);
    cr_expect_eq(owners[0].pid, ss_pid);
    cr_expect_str_eq(owners[0].comm, ss_comm);

    /* through the cache */
    struct hev_owner_cache *cache;
    cr_assert_eq(hev_owner_cache_new(&cache, hev_owner_procfs, NULL, errbuf, sizeof(errbuf)), 0);
    struct hev_socket_owner o = {.inode = l.inode};
    cr_expect_eq(hev_owner_cache_get(cache, &o, 1, 1, errbuf, sizeof(errbuf)), 1);
    cr_expect_eq(o.pid, python_pid);
    /* once found, it is the answer: the hook is not run again */
    struct hev_socket_owner again = {.inode = l.inode};
    cr_expect_eq(hev_owner_cache_get(cache, &again, 1, 5000000000LL, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(again.status, HEV_OWNER_FOUND);
    cr_expect_eq(again.pid, python_pid);
    hev_owner_cache_free(cache);
}

/* ---- a made-up proc tree ------------------------------------------------------------------ */

static char tree[64];

/* The tree is made on a tmpfs mounted over /tmp in a mount namespace of the test's own: it
 * goes away with the test's process, whatever way that ends (a crash included). */
static void make_tree(void)
{
    cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
    cr_assert_eq(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    cr_assert_eq(mount("ssE-proc", "/tmp", "tmpfs", 0, "size=1m"), 0, "%s", strerror(errno));
    snprintf(tree, sizeof(tree), "/tmp/ssE-proc-XXXXXX");
    cr_assert_not_null(mkdtemp(tree));
    int ret = hevt_sh(
        "cd %s && mkdir -p 100/fd 250/fd net/fd 0/fd 99999999999/fd 300 && "
        "ln -s 'socket:[555]' 100/fd/3 && ln -s 'pipe:[555]' 100/fd/4 && "
        "ln -s 'socket:[abc]' 100/fd/5 && ln -s 'socket:[99999999999999999999999]' 100/fd/6 && "
        "ln -s 'socket:[556' 100/fd/7 && ln -s 'socket:[]' 100/fd/8 && "
        "ln -s 'socket:[18446744073709551617]' 100/fd/10 && ln -s 'socket:[ 558]' 100/fd/11 && "
        "mkdir -p 260/fd && ln -s 'socket:[650]' 260/fd/0 && printf 0123456789abcdef > 260/comm && "
        "ln -s 'socket:[557]' 100/fd/notanfd && "
        "printf 'ev\\033[31mil\\n' > 100/comm && "
        "ln -s 'socket:[600]' 250/fd/9 && printf 'a-name-longer-than-fifteen\\n' > 250/comm && "
        "ln -s 'socket:[700]' net/fd/1 && ln -s 'socket:[701]' 0/fd/1 && "
        "ln -s 'socket:[702]' 99999999999/fd/1 && ln -s 100 self",
        tree);
    cr_assert_eq(ret, 0);
}

Test(owner, hostile_proc_tree, .init = make_tree)
{
    struct hev_socket_owner owners[] = {
        {.inode = 555}, /* 100's socket */
        {.inode = 600}, /* 250's, with a long name */
        {.inode = 556}, /* "socket:[556": no closing bracket */
        {.inode = 557}, /* behind a name that is no descriptor number: still a link there */
        {.inode = 700}, /* in "net", which is no process */
        {.inode = 701}, /* pid 0 */
        {.inode = 702}, /* a pid out of range */
        {.inode = 555}, /* asked twice */
        {.inode = 55},  /* "socket:[556" read without its closing bracket would be 55 */
        {.inode = 1},   /* UINT64_MAX + 2, wrapped */
        {.inode = 558}, /* "socket:[ 558]": no spaces in a number */
        {.inode = 650}, /* 260's, whose comm has 16 bytes and no newline */
    };
    size_t n = sizeof(owners) / sizeof(owners[0]);
    cr_assert_eq(hev_owner_procfs(tree, owners, n, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_expect_eq(owners[0].status, HEV_OWNER_FOUND);
    cr_expect_eq(owners[0].pid, 100);
    cr_expect_str_eq(owners[0].comm, "ev?[31mil", "the escape byte is not passed on");
    cr_expect_eq(owners[1].status, HEV_OWNER_FOUND);
    cr_expect_eq(owners[1].pid, 250);
    cr_expect_str_eq(owners[1].comm, "a-name-longer-t", "15 bytes, as the kernel keeps");
    cr_expect_eq(owners[2].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[3].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[4].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[5].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[6].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[7].status, HEV_OWNER_FOUND);
    cr_expect_eq(owners[7].pid, 100);
    cr_expect_eq(owners[8].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[9].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[10].status, HEV_OWNER_NOT_FOUND);
    cr_expect_eq(owners[11].status, HEV_OWNER_FOUND);
    cr_expect_str_eq(owners[11].comm, "0123456789abcde");

    /* no proc root at all: an error, nothing found */
    struct hev_socket_owner o = {.inode = 555, .status = HEV_OWNER_FOUND};
    cr_expect_eq(hev_owner_procfs("/nonexistent-ssE", &o, 1, errbuf, sizeof(errbuf)),
                 -HEV_ERR_PROC);
    cr_expect_eq(o.status, HEV_OWNER_UNKNOWN);
    cr_expect_neq(strstr(errbuf, "/nonexistent-ssE"), NULL, "%s", errbuf);
    cr_expect_eq(hev_owner_procfs(tree, NULL, 0, errbuf, sizeof(errbuf)), 0);
}

/* ---- the cache's rule --------------------------------------------------------------------- */

struct counting {
    int runs;
    size_t asked;           /* inodes asked in the last run */
    uint64_t resolvable[4]; /* inodes this hook knows, owned by pid 4242 */
    int fail;               /* the next run fails */
};

static int counting_hook(void *ctx, struct hev_socket_owner *owners, size_t count, char *eb,
                         size_t el)
{
    struct counting *c = ctx;
    c->runs++;
    c->asked = count;
    if (c->fail) {
        c->fail = 0;
        snprintf(eb, el, "counting: failed on purpose");
        return -HEV_ERR_PROC;
    }
    for (size_t i = 0; i < count; i++) {
        owners[i].status = HEV_OWNER_NO_PERMISSION;
        for (int k = 0; k < 4; k++) {
            if (c->resolvable[k] == owners[i].inode) {
                owners[i].status = HEV_OWNER_FOUND;
                owners[i].pid = 4242;
                snprintf(owners[i].comm, sizeof(owners[i].comm), "hook");
            }
        }
    }
    return 0;
}

Test(owner, cache_at_most_once_a_second)
{
    const int64_t t0 = 100000000000LL, s = HEV_OWNER_REFRESH_NS;
    struct counting hook = {.resolvable = {11}};
    struct hev_owner_cache *cache;
    cr_assert_eq(hev_owner_cache_new(&cache, counting_hook, &hook, errbuf, sizeof(errbuf)), 0);

    struct hev_socket_owner o[2] = {{.inode = 11}, {.inode = 12}};
    cr_expect_eq(hev_owner_cache_get(cache, o, 2, t0, errbuf, sizeof(errbuf)), 1);
    cr_expect_eq(hook.runs, 1);
    cr_expect_eq(o[0].status, HEV_OWNER_FOUND);
    cr_expect_eq(o[0].pid, 4242);
    cr_expect_str_eq(o[0].comm, "hook");
    cr_expect_eq(o[1].status, HEV_OWNER_NO_PERMISSION);

    /* within the second: no run, a new inode stays unknown */
    struct hev_socket_owner n[2] = {{.inode = 12}, {.inode = 13}};
    cr_expect_eq(hev_owner_cache_get(cache, n, 2, t0 + s - 1, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(hook.runs, 1);
    cr_expect_eq(n[0].status, HEV_OWNER_NO_PERMISSION);
    cr_expect_eq(n[1].status, HEV_OWNER_UNKNOWN);

    /* a second later: one run, for the two not found only */
    hook.resolvable[1] = 13;
    struct hev_socket_owner m[3] = {{.inode = 11}, {.inode = 12}, {.inode = 13}};
    cr_expect_eq(hev_owner_cache_get(cache, m, 3, t0 + s, errbuf, sizeof(errbuf)), 1);
    cr_expect_eq(hook.runs, 2);
    cr_expect_eq(hook.asked, 2);
    cr_expect_eq(m[2].status, HEV_OWNER_FOUND);

    /* everything found: no run even when due */
    struct hev_socket_owner f[2] = {{.inode = 11}, {.inode = 13}};
    cr_expect_eq(hev_owner_cache_get(cache, f, 2, t0 + 10 * s, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(hook.runs, 2);

    /* a failing hook: its error, the cache as it was, and no run before the next second */
    hook.fail = 1;
    struct hev_socket_owner e = {.inode = 14};
    cr_expect_eq(hev_owner_cache_get(cache, &e, 1, t0 + 20 * s, errbuf, sizeof(errbuf)),
                 -HEV_ERR_PROC);
    cr_expect_str_eq(errbuf, "counting: failed on purpose");
    cr_expect_eq(e.status, HEV_OWNER_UNKNOWN);
    cr_expect_eq(hev_owner_cache_get(cache, &e, 1, t0 + 20 * s + 1, errbuf, sizeof(errbuf)), 0);
    cr_expect_eq(hook.runs, 3);

    /* the clock went back: due */
    cr_expect_eq(hev_owner_cache_get(cache, &e, 1, t0, errbuf, sizeof(errbuf)), 1);
    cr_expect_eq(hook.runs, 4);
    hev_owner_cache_free(cache);
    hev_owner_cache_free(NULL);
}

Test(owner, cache_is_bounded)
{
    /* more inodes than the cache holds, over time: the oldest make room, the answers hold */
    struct counting hook = {.resolvable = {5}};
    struct hev_owner_cache *cache;
    cr_assert_eq(hev_owner_cache_new(&cache, counting_hook, &hook, errbuf, sizeof(errbuf)), 0);
    int64_t t = 1;
    for (uint64_t inode = 1; inode <= 3 * HEV_OWNER_CACHE_MAX; inode++) {
        struct hev_socket_owner o = {.inode = inode};
        cr_assert_geq(hev_owner_cache_get(cache, &o, 1, t, errbuf, sizeof(errbuf)), 0);
        t += HEV_OWNER_REFRESH_NS;
    }
    cr_expect_eq(hook.runs, 3 * HEV_OWNER_CACHE_MAX);
    struct hev_socket_owner o = {.inode = 5};
    cr_expect_eq(hev_owner_cache_get(cache, &o, 1, t, errbuf, sizeof(errbuf)), 1,
                 "evicted long ago: asked again");
    cr_expect_eq(o.status, HEV_OWNER_FOUND);
    struct hev_socket_owner *too_many = calloc(HEV_OWNER_CACHE_MAX + 1, sizeof(*too_many));
    cr_expect_eq(
        hev_owner_cache_get(cache, too_many, HEV_OWNER_CACHE_MAX + 1, t, errbuf, sizeof(errbuf)),
        -HEV_ERR_ARG);
    free(too_many);
    hev_owner_cache_free(cache);
}

Test(owner, status_names)
{
    cr_expect_str_eq(hev_owner_status_name(HEV_OWNER_FOUND), "found");
    cr_expect_str_eq(hev_owner_status_name(HEV_OWNER_NOT_FOUND), "not-found");
    cr_expect_str_eq(hev_owner_status_name(HEV_OWNER_NO_PERMISSION), "no-permission");
    cr_expect_str_eq(hev_owner_status_name(HEV_OWNER_UNKNOWN), "unknown");
}
