/* hev_owner.h - which process holds a socket (pid and command, as `ss -p` shows them), from
 * its inode: one hook type with two parts here, the /proc scan and a rate-limited cache. */
#ifndef SYNSCOPE_HEV_OWNER_H
#define SYNSCOPE_HEV_OWNER_H

#include <stddef.h>
#include <stdint.h>

#include "hev_err.h"

/* The hook is called at most this often by the cache. */
#define HEV_OWNER_REFRESH_NS 1000000000LL
/* Inodes remembered by the cache; the one wanted longest ago makes room for a new one. */
#define HEV_OWNER_CACHE_MAX 1024

enum hev_owner_status {
    HEV_OWNER_UNKNOWN = 0,   /* not looked up yet */
    HEV_OWNER_FOUND,         /* pid and comm hold the answer */
    HEV_OWNER_NOT_FOUND,     /* every process could be looked at, and none holds the socket
                                (it was closed, or its process is in another PID namespace) */
    HEV_OWNER_NO_PERMISSION, /* not among the processes that could be looked at, and some
                                could not: after the privilege drop, every other user's (and,
                                even for root, a sandbox's pid 1 may refuse) */
};

struct hev_socket_owner {
    uint64_t inode;               /* in: the socket's inode (hev_listener.inode) */
    enum hev_owner_status status; /* out */
    int32_t pid;                  /* FOUND: the process; when several share the socket, the
                                     first in /proc's order, which is by ascending pid (a
                                     server's parent before its workers) */
    char comm[16];                /* FOUND: its command name (/proc/PID/comm), "" if that
                                     could not be read */
};

/* An owner lookup: for each owners[i].inode (count of them), fills status, pid and comm.
 * ctx is the implementation's. Must not print or exit; a lookup that cannot see some
 * processes says so per inode (HEV_OWNER_NO_PERMISSION), which is not an error. Returns 0, or
 * a negative hev_err with a message in errbuf when it could not look at all (owners are then
 * left HEV_OWNER_UNKNOWN). Another implementation (a BPF task-file iterator, which sees every
 * process after the privilege drop too) has the same type. */
typedef int (*hev_owner_fn)(void *ctx, struct hev_socket_owner *owners, size_t count, char *errbuf,
                            size_t errlen);

/* The /proc implementation: reads the links of /proc/PID/fd/N of every process ("socket:[N]")
 * and /proc/PID/comm, stopping once every inode is found. ctx: the proc mount's path as a
 * const char * (NULL: "/proc"). As root it sees every process; without CAP_SYS_PTRACE /
 * CAP_DAC_READ_SEARCH (after the privilege drop) only its own user's, and says
 * HEV_OWNER_NO_PERMISSION for the rest. Costs one readlink per descriptor of the host: call it
 * through the cache. Returns 0, or -HEV_ERR_PROC when the proc root cannot be read. */
int hev_owner_procfs(void *ctx, struct hev_socket_owner *owners, size_t count, char *errbuf,
                     size_t errlen);

struct hev_owner_cache;

/* A cache in front of fn (with its ctx, which must outlive the cache), for one thread at a
 * time. Returns 0 and *out, or -HEV_ERR_NOMEM. */
int hev_owner_cache_new(struct hev_owner_cache **out, hev_owner_fn fn, void *ctx, char *errbuf,
                        size_t errlen);

/* Frees the cache; c may be NULL. */
void hev_owner_cache_free(struct hev_owner_cache *c);

/* Fills owners[i] (inode set by the caller) from the cache. When some of them are not known
 * as FOUND and fn last ran HEV_OWNER_REFRESH_NS or more before now_ns (or never, or now_ns
 * went back), fn runs first, once, for all of those: an inode asked for within a second of the
 * last run stays HEV_OWNER_UNKNOWN until a call a second later (ask again when reporting). A
 * found owner is kept for the inode's life in the cache (a socket keeps its inode). now_ns is
 * the caller's clock, one throughout. Returns 1 when fn ran, 0 when not, or fn's negative
 * hev_err (the owners it did not resolve are left as they were in the cache). */
int hev_owner_cache_get(struct hev_owner_cache *c, struct hev_socket_owner *owners, size_t count,
                        int64_t now_ns, char *errbuf, size_t errlen);

/* "unknown", "found", "not-found", "no-permission". */
const char *hev_owner_status_name(enum hev_owner_status status);

#endif
