/* cap_priv.c - what live and probe do around opening their handles: close the descriptors
 * they inherited, and give up every privilege once the handles are open. */
#define _GNU_SOURCE /* getresuid, getresgid */
#include "cap_int.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* live and probe, before anything is opened, whoever started them and whatever -Z says
 * (-Z root included: synscope never uses a descriptor it did not open itself): closes every
 * descriptor beyond standard input, output and error. A descriptor inherited from the parent
 * (a log file a root shell or a test harness left open, a secret a wrapper read) would
 * otherwise stay usable after the privilege drop, whatever the file's owner and mode: a bug
 * triggered by a packet could read or write it. */
void cap_close_inherited(void)
{
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

typedef struct __user_cap_data_struct cap_sets[_LINUX_CAPABILITY_U32S_3];

/* This process's permitted, effective and inheritable sets; -1 with errno on failure. */
static int caps_get(cap_sets sets)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    memset(sets, 0, sizeof(cap_sets));
    return (int)syscall(SYS_capget, &hdr, sets);
}

static bool caps_any(const cap_sets sets)
{
    for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (sets[i].permitted != 0 || sets[i].effective != 0 || sets[i].inheritable != 0) {
            return true;
        }
    }
    return false;
}

/* Whether an ambient capability is left (PR_CAP_AMBIENT_IS_SET on each capability the
 * kernel knows; it answers EINVAL past the last one, and for all on kernels without ambient
 * capabilities). */
static bool ambient_any(void)
{
    for (unsigned long cap = 0; cap < 64; cap++) {
        int set = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
        if (set < 0) {
            return false;
        }
        if (set > 0) {
            return true;
        }
    }
    return false;
}

/* With CAP_SETPCAP in the effective set (root, before the setuid), empties the bounding set
 * too. Once no_new_privs is set the bounding set is irrelevant: it only caps what an execve
 * could add to the permitted set, and under no_new_privs an execve gains nothing (the kernel
 * intersects the new permitted set with the old, empty one, setuid and file capabilities
 * included), while capset can only lower the sets. It is emptied when that is possible all
 * the same, so that a mistake elsewhere does not leave a way up. Without CAP_SETPCAP (a
 * setcap'ed or ambient start) it cannot be changed, and no_new_privs alone holds. */
static int drop_bounding_set(char *errbuf, size_t errlen)
{
    cap_sets sets;
    if (caps_get(sets) != 0 ||
        (sets[CAP_SETPCAP / 32].effective & (1u << (CAP_SETPCAP % 32))) == 0) {
        return 0;
    }
    for (unsigned long cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) {
            return 0; /* EINVAL: past the last capability the kernel knows */
        }
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            snprintf(errbuf, errlen, "cannot empty the capability bounding set: %s",
                     strerror(errno));
            return -CAP_ERR_PRIV;
        }
    }
    return 0;
}

/* Root: becomes pw (p0f's order: supplementary groups, then the group, then the user), and
 * checks that it took. */
static int become_user(const struct passwd *pw, char *errbuf, size_t errlen)
{
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(errbuf, errlen, "cannot become '%s': %s", pw->pw_name, strerror(errno));
        return -CAP_ERR_PRIV;
    }
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 || ruid != uid ||
        euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
        snprintf(errbuf, errlen, "privileges of '%s' did not take", pw->pw_name);
        return -CAP_ERR_PRIV;
    }
    return 0;
}

/* live and probe, once every handle is open. Whatever the way in, afterwards no capability
 * is left in any set (permitted, effective, inheritable, ambient; checked with capget), root
 * cannot be had back, and no_new_privs is set (checked), so no execve can give any back:
 *   started as root (effective uid 0), -Z USER (default nobody): becomes USER (initgroups,
 *     setgid, setuid) and checks it; the bounding set is emptied too (CAP_SETPCAP is held).
 *   not root, with capabilities (setcap on the binary, ambient ones from a service manager):
 *     changing user would need CAP_SETUID and CAP_SETGID, which such a start does not hold,
 *     so the uid, the gids and the groups stay the caller's and -Z does not apply; the note
 *     in said tells, when USER is not the caller. A real or saved uid of 0 next to a non-zero
 *     effective one is refused (it would let the process take uid 0 back).
 *   -Z root, started as root: the documented opt-out, nothing is dropped (uid 0 and its
 *     capabilities stay; no no_new_privs). Not started as root, -Z root keeps nothing: it is
 *     the case above.
 * said receives what is now the case, for the start-up message: "nobody (uid 65534), no
 * capabilities", "alice (uid 1000), capabilities dropped", "root, privileges kept (-Z root)". */
int cap_drop_privileges(const char *user, char *said, size_t saidlen, char *errbuf, size_t errlen)
{
    bool as_root = geteuid() == 0;
    bool keep_root = strcmp(user, "root") == 0;
    snprintf(said, saidlen, "?");
    if (as_root && keep_root) {
        snprintf(said, saidlen, "root, privileges kept (-Z root)");
        return 0;
    }
    cap_sets sets;
    if (caps_get(sets) != 0) {
        snprintf(errbuf, errlen, "cannot read the capabilities: %s", strerror(errno));
        return -CAP_ERR_PRIV;
    }
    bool had_caps = caps_any(sets) || ambient_any();
    char name[64];     /* the user now, for the messages */
    bool named = true; /* name is a user name, not "uid N" */
    const char *note = "";
    char note_buf[160];

    int rc = drop_bounding_set(errbuf, errlen);
    if (rc != 0) {
        return rc;
    }
    if (as_root) {
        errno = 0;
        struct passwd *pw = getpwnam(user);
        if (pw == NULL) {
            snprintf(errbuf, errlen, "unknown user '%s'", user);
            return -CAP_ERR_PRIV;
        }
        snprintf(name, sizeof(name), "%s", pw->pw_name);
        rc = become_user(pw, errbuf, errlen);
        if (rc != 0) {
            return rc;
        }
    } else {
        uid_t ruid, euid, suid;
        if (getresuid(&ruid, &euid, &suid) != 0 || ruid == 0 || suid == 0) {
            snprintf(errbuf, errlen,
                     "started with a real or saved user id of 0 but effective user id %u: "
                     "start as root or as an ordinary user",
                     (unsigned)geteuid());
            return -CAP_ERR_PRIV;
        }
        struct passwd *pw = getpwuid(euid);
        if (pw != NULL) {
            snprintf(name, sizeof(name), "%s", pw->pw_name);
        } else {
            snprintf(name, sizeof(name), "uid %u", (unsigned)euid);
            named = false;
        }
        if (keep_root) {
            note = " (-Z root keeps privileges only when started as root)";
        } else if (pw == NULL || strcmp(user, pw->pw_name) != 0) {
            snprintf(note_buf, sizeof(note_buf), " (not started as root: cannot become %s)", user);
            note = note_buf;
        }
    }

    /* Clear every set: setuid() from root clears the permitted, effective and ambient sets
     * but not the inheritable one (capabilities(7)), and a start that is not root keeps them
     * all. Lowering sets needs no privilege; emptying permitted and inheritable empties the
     * ambient set as well (it is always a subset of both). Then check that none is left. */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    cap_sets none;
    memset(none, 0, sizeof(none));
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (syscall(SYS_capset, &hdr, none) != 0 || caps_get(sets) != 0) {
        snprintf(errbuf, errlen, "cannot drop the capabilities as %s: %s", name, strerror(errno));
        return -CAP_ERR_PRIV;
    }
    if (caps_any(sets) || ambient_any()) {
        snprintf(errbuf, errlen, "capabilities are left as %s after dropping them", name);
        return -CAP_ERR_PRIV;
    }
    /* root cannot be had back (zmap ignores this; we don't) */
    if (getuid() != 0 && setuid(0) == 0) {
        snprintf(errbuf, errlen, "%s can become root again", name);
        return -CAP_ERR_PRIV;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        snprintf(errbuf, errlen, "cannot set no_new_privs: %s", strerror(errno));
        return -CAP_ERR_PRIV;
    }
    if (as_root) {
        snprintf(said, saidlen, "%s (uid %u), no capabilities", name, (unsigned)getuid());
    } else if (!named) {
        snprintf(said, saidlen, "%s, %s%s", name,
                 had_caps ? "capabilities dropped" : "no capabilities", note);
    } else {
        snprintf(said, saidlen, "%s (uid %u), %s%s", name, (unsigned)getuid(),
                 had_caps ? "capabilities dropped" : "no capabilities", note);
    }
    return 0;
}
