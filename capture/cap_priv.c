/* cap_priv.c - what live and probe do around opening their handles: close the descriptors
 * they inherited, and give up every privilege once the handles are open. */
#include "cap_int.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* live and probe, started as root to become USER: closes every descriptor beyond standard
 * input, output and error before anything is opened. A descriptor inherited from the parent
 * (a log file a root shell or a test harness left open) would otherwise stay usable after the
 * privilege drop, whatever the file's owner and mode: a bug triggered by a packet could write
 * to it. */
void cap_close_inherited(const char *user)
{
    if (geteuid() != 0 || strcmp(user, "root") == 0) {
        return;
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0) {
        return;
    }
#endif
    long max = sysconf(_SC_OPEN_MAX); /* kernels before 5.9: one by one */
    for (long fd = 3; fd < (max > 0 && max < 1048576 ? max : 1048576); fd++) {
        (void)close((int)fd);
    }
}

int cap_drop_privileges(const char *user, char *errbuf, size_t errlen)
{
    if (geteuid() != 0 || strcmp(user, "root") == 0) {
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(errbuf, errlen, "unknown user '%s'", user);
        return -CAP_ERR_PRIV;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    /* p0f's order: supplementary groups, then the group, then the user */
    if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(errbuf, errlen, "cannot become '%s': %s", user, strerror(errno));
        return -CAP_ERR_PRIV;
    }
    /* verify that it took, and that root cannot be had back (zmap ignores this; we don't) */
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        (uid != 0 && setuid(0) == 0)) {
        snprintf(errbuf, errlen, "privileges of '%s' did not take", user);
        return -CAP_ERR_PRIV;
    }
    /* setuid() from root clears the permitted, effective and ambient capabilities but not the
     * inheritable ones (capabilities(7)): a parent that handed some down (capsh --inh, a
     * service manager) would leave them. Clear every set, and check that none is left. */
    struct __user_cap_header_struct cap_hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct cap_data[_LINUX_CAPABILITY_U32S_3];
    memset(cap_data, 0, sizeof(cap_data));
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (uid != 0 && (syscall(SYS_capset, &cap_hdr, cap_data) != 0 ||
                     syscall(SYS_capget, &cap_hdr, cap_data) != 0)) {
        snprintf(errbuf, errlen, "cannot drop the capabilities as '%s': %s", user, strerror(errno));
        return -CAP_ERR_PRIV;
    }
    for (size_t i = 0; uid != 0 && i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (cap_data[i].permitted != 0 || cap_data[i].effective != 0 ||
            cap_data[i].inheritable != 0) {
            snprintf(errbuf, errlen, "capabilities are left after becoming '%s'", user);
            return -CAP_ERR_PRIV;
        }
    }
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}
