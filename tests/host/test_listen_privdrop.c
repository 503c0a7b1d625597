/* test_listen_privdrop.c - the inventory's handles opened as root, used after the privilege
 * drop that `synscope live` does (nobody, no capability): sock_diag dumps, link names,
 * RTM_GETADDR and the counters go on working; the /proc owner scan cannot see root's
 * processes any more and says so (no permission, not an error). */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hev_addr.h"
#include "hev_counters.h"
#include "hev_listen.h"
#include "hev_owner.h"
#include "hev_test_net.h"

#define PORT 8765
#define NOBODY 65534

TestSuite(privdrop, .timeout = 30);

/* What the child saw after the drop, sent to the parent, which judges. */
struct after_drop {
    int dropped;    /* 1: uid and gid 65534, no supplementary group, no capability */
    int listen_ret; /* hev_listen_get */
    size_t listen_total;
    uint32_t listener_uid;
    uint64_t listener_inode;
    char ifname[IF_NAMESIZE];
    int addr_ret;     /* hev_addr_refresh */
    int addr_local;   /* HEVT_V4 is local */
    int counters_ret; /* hev_counters_read: the number of counters present */
    int owner_ret;    /* hev_owner_cache_get */
    int owner_status;
    int reopen_listen; /* opening the handles anew, after the drop */
    int reopen_addr;
    int reopen_counters;
    char message[HEV_ERRBUF_SIZE];
};

static bool no_capability(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) != 0) {
        return false;
    }
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (data[i].permitted || data[i].effective || data[i].inheritable) {
            return false;
        }
    }
    return true;
}

static void child(int out, struct hev_listen *lt, struct hev_addr *addrs,
                  struct hev_counters_src *ctr, struct hev_owner_cache *owners)
{
    struct after_drop r;
    memset(&r, 0, sizeof(r));
    char *eb = r.message;
    size_t el = sizeof(r.message);
    /* as cap_drop_privileges does it: groups, gid, uid, and no way back up */
    if (setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0 &&
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
        r.dropped = getuid() == NOBODY && geteuid() == NOBODY && getgid() == NOBODY &&
                    getgroups(0, NULL) == 0 && no_capability();
    }
    struct hev_listener l[4];
    memset(l, 0, sizeof(l));
    r.listen_ret = hev_listen_get(lt, PORT, 1, l, 4, &r.listen_total, eb, el);
    r.listener_uid = l[0].uid;
    r.listener_inode = l[0].inode;
    memcpy(r.ifname, l[0].ifname, sizeof(r.ifname));
    r.addr_ret = hev_addr_refresh(addrs, 1, eb, el);
    uint8_t v4[16];
    hevt_addr(AF_INET, HEVT_V4, v4);
    r.addr_local = hev_addr_is_local(addrs, AF_INET, v4);
    struct hev_counters c;
    r.counters_ret = hev_counters_read(ctr, 1, &c, eb, el);
    struct hev_socket_owner o = {.inode = l[0].inode};
    r.owner_ret = hev_owner_cache_get(owners, &o, 1, 1, eb, el);
    r.owner_status = o.status;

    char scratch[HEV_ERRBUF_SIZE];
    struct hev_listen *lt2 = NULL;
    struct hev_addr *addrs2 = NULL;
    struct hev_counters_src *ctr2 = NULL;
    r.reopen_listen = hev_listen_open(&lt2, scratch, sizeof(scratch));
    r.reopen_addr = hev_addr_open(&addrs2, scratch, sizeof(scratch));
    r.reopen_counters = hev_counters_open(&ctr2, scratch, sizeof(scratch));
    hev_listen_close(lt2);
    hev_addr_close(addrs2);
    hev_counters_close(ctr2);
    ssize_t n = write(out, &r, sizeof(r));
    _exit(n == (ssize_t)sizeof(r) ? 0 : 1);
}

Test(privdrop, handles_work_as_nobody)
{
    cr_assert_eq(hevt_netns(), 0);
    char errbuf[HEV_ERRBUF_SIZE];
    struct hev_listen *lt;
    struct hev_addr *addrs;
    struct hev_counters_src *ctr;
    struct hev_owner_cache *owners;
    cr_assert_eq(hev_listen_open(&lt, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_assert_eq(hev_addr_open(&addrs, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_assert_eq(hev_counters_open(&ctr, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    cr_assert_eq(hev_owner_cache_new(&owners, hev_owner_procfs, NULL, errbuf, sizeof(errbuf)), 0);
    /* root's listener, bound to a device so that its name is asked after the drop */
    int fd = hevt_listen_opts(AF_INET, "0.0.0.0", PORT, 16, -1, HEVT_DEV, 0);
    cr_assert_geq(fd, 0);

    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(pipefd[0]);
        close(fd); /* the listener stays root's, in the parent only */
        child(pipefd[1], lt, addrs, ctr, owners);
    }
    close(pipefd[1]);
    struct after_drop r;
    ssize_t got = read(pipefd[0], &r, sizeof(r));
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert_eq(got, (ssize_t)sizeof(r), "the child said nothing (status %d)", status);

    cr_assert(r.dropped, "the child did not become nobody without capabilities");
    cr_expect_eq(r.listen_ret, 1, "sock_diag after the drop: %s", r.message);
    cr_expect_eq(r.listen_total, 1);
    cr_expect_eq(r.listener_uid, 0, "root's socket, seen by nobody");
    cr_expect_eq(r.listener_inode, hevt_inode(fd));
    cr_expect_str_eq(r.ifname, HEVT_DEV, "RTM_GETLINK after the drop");
    cr_expect_eq(r.addr_ret, 0, "RTM_GETADDR after the drop: %s", r.message);
    cr_expect(r.addr_local);
    cr_expect_eq(r.counters_ret, HEV_CTR_COUNT, "/proc/net/netstat after the drop");
    cr_expect_eq(r.owner_ret, 1, "the scan ran and is no error: %s", r.message);
    cr_expect_eq(r.owner_status, HEV_OWNER_NO_PERMISSION, "%s",
                 hev_owner_status_name(r.owner_status));
    /* opening anew works too (none of these needs a privilege), but `live` opens first */
    cr_expect_eq(r.reopen_listen, 0);
    cr_expect_eq(r.reopen_addr, 0);
    cr_expect_eq(r.reopen_counters, 0);

    close(fd);
    hev_owner_cache_free(owners);
    hev_counters_close(ctr);
    hev_addr_close(addrs);
    hev_listen_close(lt);
}
