/* hev_owner.c - socket inode -> owning process: the /proc scan (readlink of every
 * /proc/PID/fd/N) and the cache that runs a lookup at most once a second. */
#include "hev_owner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the /proc scan --------------------------------------------------------------------- */

/* A decimal number of at most max_digits digits spanning all of s[0..len), without sign or
 * spaces (strtoull would take both) and without overflow; false if s is anything else. */
static bool parse_decimal(const char *s, size_t len, size_t max_digits, uint64_t *out)
{
    if (len == 0 || len > max_digits) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* The inode of a descriptor's link text "socket:[12345]"; false for anything else (files,
 * pipes, "anon_inode:[eventfd]"). */
static bool socket_inode(const char *link, size_t len, uint64_t *inode)
{
    static const char prefix[] = "socket:[";
    size_t plen = sizeof(prefix) - 1;
    if (len < plen + 2 || memcmp(link, prefix, plen) != 0 || link[len - 1] != ']') {
        return false;
    }
    return parse_decimal(link + plen, len - plen - 1, 20, inode);
}

/* /proc/PID/comm without its newline; bytes that a terminal would act on become '?', as the
 * name is the process's own choice (prctl PR_SET_NAME) and ends up in reports. */
static void read_comm(int pid_dir, char comm[16])
{
    comm[0] = '\0';
    int fd = openat(pid_dir, "comm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char buf[64];
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got <= 0) {
        return;
    }
    size_t n = (size_t)got;
    if (buf[n - 1] == '\n') {
        n--;
    }
    if (n > 15) {
        n = 15;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        comm[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    comm[n] = '\0';
}

struct wanted {
    uint64_t inode;
    size_t index; /* in owners */
};

struct scan {
    struct hev_socket_owner *owners;
    size_t count;
    struct wanted *order; /* the owners sorted by inode, for a binary search per socket */
    size_t left;          /* owners not found yet */
};

static int by_inode(const void *a, const void *b)
{
    uint64_t x = ((const struct wanted *)a)->inode;
    uint64_t y = ((const struct wanted *)b)->inode;
    return x < y ? -1 : x > y;
}

/* Marks every owner of this inode (the caller may ask for one inode twice) as held by pid. */
static void found(struct scan *s, uint64_t inode, int32_t pid, int pid_dir, char comm[16],
                  bool *comm_read)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) { /* first position whose inode >= the one sought */
        size_t mid = lo + (hi - lo) / 2;
        if (s->order[mid].inode < inode) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t k = lo; k < s->count && s->order[k].inode == inode; k++) {
        struct hev_socket_owner *o = &s->owners[s->order[k].index];
        if (o->status == HEV_OWNER_FOUND) {
            continue; /* a lower pid was found first: /proc lists pids in ascending order */
        }
        if (!*comm_read) {
            read_comm(pid_dir, comm);
            *comm_read = true;
        }
        o->status = HEV_OWNER_FOUND;
        o->pid = pid;
        memcpy(o->comm, comm, 16);
        s->left--;
    }
}

/* One process's descriptors; false when they could not be read for lack of permission. */
static bool scan_process(struct scan *s, int proc_dir, const char *name, int32_t pid)
{
    int pid_dir = openat(proc_dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pid_dir < 0) {
        return errno != EACCES && errno != EPERM; /* ENOENT: it exited meanwhile */
    }
    int fd_dir = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_dir < 0) {
        bool readable = errno != EACCES && errno != EPERM;
        close(pid_dir);
        return readable;
    }
    DIR *fds = fdopendir(fd_dir);
    if (!fds) {
        close(fd_dir);
        close(pid_dir);
        return true;
    }
    char comm[16] = "";
    bool comm_read = false;
    bool readable = true;
    while (s->left > 0) {
        errno = 0;
        struct dirent *de = readdir(fds);
        if (!de) {
            if (errno == EACCES || errno == EPERM) {
                readable = false;
            }
            break;
        }
        if (de->d_name[0] < '0' || de->d_name[0] > '9') {
            continue; /* "." and ".." */
        }
        char link[64];
        ssize_t len = readlinkat(fd_dir, de->d_name, link, sizeof(link));
        if (len < 0) {
            if (errno == EACCES || errno == EPERM) {
                readable = false;
            }
            continue; /* ENOENT: closed meanwhile */
        }
        uint64_t inode;
        if ((size_t)len < sizeof(link) && socket_inode(link, (size_t)len, &inode)) {
            found(s, inode, pid, pid_dir, comm, &comm_read);
        }
    }
    closedir(fds);
    close(pid_dir);
    return readable;
}

int hev_owner_procfs(void *ctx, struct hev_socket_owner *owners, size_t count, char *errbuf,
                     size_t errlen)
{
    const char *root = ctx ? (const char *)ctx : "/proc";
    for (size_t i = 0; i < count; i++) {
        owners[i].status = HEV_OWNER_UNKNOWN;
        owners[i].pid = 0;
        owners[i].comm[0] = '\0';
    }
    if (count == 0) {
        return 0;
    }
    struct wanted *order = malloc(count * sizeof(*order));
    if (!order) {
        snprintf(errbuf, errlen, "owners: out of memory");
        return -HEV_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        order[i] = (struct wanted){.inode = owners[i].inode, .index = i};
    }
    qsort(order, count, sizeof(*order), by_inode);
    struct scan s = {.owners = owners, .count = count, .order = order, .left = count};

    int proc_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *proc = proc_fd >= 0 ? fdopendir(proc_fd) : NULL;
    if (!proc) {
        snprintf(errbuf, errlen, "owners: cannot read %s: %s", root, strerror(errno));
        if (proc_fd >= 0) {
            close(proc_fd);
        }
        free(order);
        return -HEV_ERR_PROC;
    }
    size_t unreadable = 0;
    struct dirent *de;
    while (s.left > 0 && (de = readdir(proc)) != NULL) {
        uint64_t pid;
        if (!parse_decimal(de->d_name, strlen(de->d_name), 10, &pid) || pid == 0 ||
            pid > INT32_MAX) {
            continue; /* "self", "net", "sys", ... */
        }
        if (!scan_process(&s, proc_fd, de->d_name, (int32_t)pid)) {
            unreadable++;
        }
    }
    closedir(proc);
    free(order);
    for (size_t i = 0; i < count; i++) {
        if (owners[i].status != HEV_OWNER_FOUND) {
            owners[i].status = unreadable > 0 ? HEV_OWNER_NO_PERMISSION : HEV_OWNER_NOT_FOUND;
        }
    }
    return 0;
}

/* ---- the cache -------------------------------------------------------------------------- */

struct owner_entry {
    bool used;
    uint64_t last_use; /* the cache's use counter when last wanted: the lowest is evicted */
    struct hev_socket_owner owner;
};

struct hev_owner_cache {
    hev_owner_fn fn;
    void *ctx;
    bool ran;
    int64_t last_run_ns;
    uint64_t use_counter;
    struct owner_entry entries[HEV_OWNER_CACHE_MAX];
};

int hev_owner_cache_new(struct hev_owner_cache **out, hev_owner_fn fn, void *ctx, char *errbuf,
                        size_t errlen)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) {
        snprintf(errbuf, errlen, "owners: out of memory");
        return -HEV_ERR_NOMEM;
    }
    (*out)->fn = fn;
    (*out)->ctx = ctx;
    return 0;
}

void hev_owner_cache_free(struct hev_owner_cache *c)
{
    free(c);
}

static struct owner_entry *cache_entry(struct hev_owner_cache *c, uint64_t inode)
{
    struct owner_entry *victim = NULL;
    for (size_t i = 0; i < HEV_OWNER_CACHE_MAX; i++) {
        struct owner_entry *e = &c->entries[i];
        if (e->used && e->owner.inode == inode) {
            e->last_use = ++c->use_counter;
            return e;
        }
        if (!victim || (!e->used && victim->used) ||
            (e->used == victim->used && e->last_use < victim->last_use)) {
            victim = e;
        }
    }
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    victim->owner.inode = inode;
    victim->owner.status = HEV_OWNER_UNKNOWN;
    victim->last_use = ++c->use_counter;
    return victim;
}

int hev_owner_cache_get(struct hev_owner_cache *c, struct hev_socket_owner *owners, size_t count,
                        int64_t now_ns, char *errbuf, size_t errlen)
{
    if (count > HEV_OWNER_CACHE_MAX) {
        snprintf(errbuf, errlen, "owners: %zu inodes asked at once, at most %d", count,
                 HEV_OWNER_CACHE_MAX);
        return -HEV_ERR_ARG;
    }
    size_t missing = 0;
    for (size_t i = 0; i < count; i++) {
        struct owner_entry *e = cache_entry(c, owners[i].inode);
        owners[i] = e->owner;
        if (e->owner.status != HEV_OWNER_FOUND) {
            missing++;
        }
    }
    bool due =
        !c->ran || now_ns < c->last_run_ns || now_ns - c->last_run_ns >= HEV_OWNER_REFRESH_NS;
    if (missing == 0 || !due) {
        return 0;
    }
    struct hev_socket_owner *ask = malloc(missing * sizeof(*ask));
    if (!ask) {
        snprintf(errbuf, errlen, "owners: out of memory");
        return -HEV_ERR_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (owners[i].status != HEV_OWNER_FOUND) {
            ask[n] = owners[i];
            n++;
        }
    }
    c->ran = true;
    c->last_run_ns = now_ns;
    int ret = c->fn(c->ctx, ask, n, errbuf, errlen);
    if (ret == 0) {
        /* the entries are still the ones the first pass found or made: count is at most the
         * cache's size and every entry of this call is more recent than the others */
        for (size_t k = 0; k < n; k++) {
            cache_entry(c, ask[k].inode)->owner = ask[k];
        }
        for (size_t i = 0; i < count; i++) {
            owners[i] = cache_entry(c, owners[i].inode)->owner;
        }
    }
    free(ask);
    return ret < 0 ? ret : 1;
}

const char *hev_owner_status_name(enum hev_owner_status status)
{
    switch (status) {
    case HEV_OWNER_UNKNOWN:
        return "unknown";
    case HEV_OWNER_FOUND:
        return "found";
    case HEV_OWNER_NOT_FOUND:
        return "not-found";
    case HEV_OWNER_NO_PERMISSION:
        return "no-permission";
    }
    return "unknown";
}
