/* hev_drop.c - user side of host/bpf/drops.bpf.c: loads and attaches the drop and reset
 * programs, names the kernel's reasons from its BTF, turns ring buffer records into
 * hev_drop_events with wall-clock times; and runs the socket-owner iterator. */
#include "hev_drop.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/drops.h"

/* the skeleton embeds the BPF object as one long string literal */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "bpf/drops.skel.h"
#pragma GCC diagnostic pop

#define DEFAULT_RING_BYTES (256u * 1024u)
/* reason numbers above this are subsystem-specific (SKB_DROP_REASON_SUBSYS_MASK): unnamed */
#define MAX_REASON 1024u

const char *hev_drop_strerror(int code)
{
    switch (code < 0 ? -code : code) {
    case HEV_DROP_ERR_NO_BTF:
        return "no-btf";
    case HEV_DROP_ERR_NO_TRACEPOINT:
        return "no-tracepoint";
    case HEV_DROP_ERR_PERM:
        return "perm";
    case HEV_DROP_ERR_LOAD:
        return "load";
    case HEV_DROP_ERR_NOMEM:
        return "nomem";
    case HEV_DROP_ERR_POLL:
        return "poll";
    default:
        return "unknown";
    }
}

/* ---- libbpf's messages -------------------------------------------------------------------- */

/* libbpf prints warnings (and the verifier's log) to stderr unless told otherwise; modules
 * never print. The first line of the first warning since the last reset is kept for the
 * error message of a failed load. libbpf's print function is process-wide; so is this. */
static char libbpf_first_warning[160];

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level != LIBBPF_WARN || libbpf_first_warning[0] != '\0') {
        return 0;
    }
    vsnprintf(libbpf_first_warning, sizeof(libbpf_first_warning), fmt, ap);
    libbpf_first_warning[strcspn(libbpf_first_warning, "\n")] = '\0';
    return 0;
}

static void libbpf_quiet(void)
{
    libbpf_set_print(quiet_print);
    libbpf_first_warning[0] = '\0';
}

/* The message for a libbpf error code err (negative errno) in step `what`. */
static int bpf_error(int err, const char *off, const char *what, char *errbuf, size_t errlen)
{
    if (err == -EPERM || err == -EACCES) {
        snprintf(errbuf, errlen, "%s: not permitted (needs root, or CAP_BPF and CAP_PERFMON)", off);
        return -HEV_DROP_ERR_PERM;
    }
    if (err == -ENOMEM) {
        snprintf(errbuf, errlen, "%s: out of memory (%s)", off, what);
        return -HEV_DROP_ERR_NOMEM;
    }
    snprintf(errbuf, errlen, "%s: %s failed: %s%s%s", off, what, strerror(-err),
             libbpf_first_warning[0] ? ": " : "", libbpf_first_warning);
    return -HEV_DROP_ERR_LOAD;
}

/* ---- the kernel's BTF ------------------------------------------------------------------- */

/* The running kernel's BTF, or -HEV_DROP_ERR_NO_BTF with "OFF: kernel has no BTF". */
static int vmlinux_btf(const struct hev_drop_options *opt, const char *off, struct btf **out,
                       char *errbuf, size_t errlen)
{
    *out = NULL;
    if (opt == NULL || !opt->pretend_no_btf) {
        *out = btf__load_vmlinux_btf();
    }
    if (*out == NULL) {
        snprintf(errbuf, errlen, "%s: kernel has no BTF", off);
        return -HEV_DROP_ERR_NO_BTF;
    }
    return 0;
}

/* Number of arguments of the tracepoint named tp (raw: the probe's context excluded), from
 * the btf_trace_TP typedef; -1 when the kernel has no such tracepoint. */
static int tracepoint_args(const struct btf *btf, const char *tp)
{
    char name[64];
    snprintf(name, sizeof(name), "btf_trace_%s", tp);
    int id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
    if (id < 0) {
        return -1;
    }
    const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
    const struct btf_type *ptr = t ? btf__type_by_id(btf, t->type) : NULL;
    const struct btf_type *proto = ptr && btf_is_ptr(ptr) ? btf__type_by_id(btf, ptr->type) : NULL;
    if (proto == NULL || !btf_is_func_proto(proto) || btf_vlen(proto) < 1) {
        return -1;
    }
    return btf_vlen(proto) - 1;
}

/* Names of one kernel enum, indexed by value, prefix stripped. */
struct reason_names {
    char *name[MAX_REASON];
};

static void reason_names_free(struct reason_names *names)
{
    for (size_t i = 0; i < MAX_REASON; i++) {
        free(names->name[i]);
        names->name[i] = NULL;
    }
}

/* Fills names from the enum called enum_name in btf (none if the kernel has no such enum:
 * the events then carry numbers only). -1 when out of memory. */
static int reason_names_load(const struct btf *btf, const char *enum_name, const char *prefix,
                             struct reason_names *names)
{
    int id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
    const struct btf_type *t = id < 0 ? NULL : btf__type_by_id(btf, (__u32)id);
    if (t == NULL) {
        return 0;
    }
    const struct btf_enum *value = btf_enum(t);
    size_t prefix_len = strlen(prefix);
    for (__u16 i = 0; i < btf_vlen(t); i++, value++) {
        const char *name = btf__name_by_offset(btf, value->name_off);
        if (name == NULL || (__u32)value->val >= MAX_REASON || names->name[value->val]) {
            continue;
        }
        if (strncmp(name, prefix, prefix_len) == 0) {
            name += prefix_len;
        }
        names->name[value->val] = strdup(name);
        if (names->name[value->val] == NULL) {
            return -1;
        }
    }
    return 0;
}

/* ---- clocks --------------------------------------------------------------------------- */

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME minus CLOCK_BOOTTIME (bpf_ktime_get_boot_ns), read now: the wall clock can
 * be stepped, so it is read again for every batch of events. */
static int64_t boot_to_real(void)
{
    int64_t before = clock_ns(CLOCK_BOOTTIME);
    int64_t real = clock_ns(CLOCK_REALTIME);
    int64_t after = clock_ns(CLOCK_BOOTTIME);
    return real - (before + (after - before) / 2);
}

/* ---- drop events -------------------------------------------------------------------------- */

struct hev_drop {
    struct drops *skel;
    struct ring_buffer *ring;
    struct reason_names drop_names; /* enum skb_drop_reason */
    struct reason_names rst_names;  /* enum sk_rst_reason */
    char note[128];
    /* during hev_drop_poll */
    hev_drop_fn fn;
    void *user;
    int stopped;
    int64_t clock_offset;
};

static void copy_addr(struct dec_addr *to, const __u8 *from, int family)
{
    memset(to, 0, sizeof(*to));
    memcpy(to->b, from, family == 4 ? 4 : 16);
}

static bool v4_mapped(const struct dec_addr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a->b, prefix, sizeof(prefix)) == 0;
}

/* The public event of one ring buffer record. */
static void event_from_raw(const struct drops_raw *raw, int64_t clock_offset,
                           struct hev_drop_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->ts_ns = (int64_t)raw->boot_ns + clock_offset;
    ev->location = raw->location;
    ev->netns_ino = raw->netns_ino;
    ev->reason = raw->reason;
    ev->ifindex = raw->ifindex;
    ev->kind = raw->kind;
    ev->has_reason = raw->has_reason;
    ev->from_socket = raw->origin == DROPS_ORIGIN_SOCKET;
    ev->family = raw->family;
    ev->proto = raw->proto;
    ev->tcp_flags = raw->tcp_flags;
    copy_addr(&ev->src, raw->saddr, raw->family);
    copy_addr(&ev->dst, raw->daddr, raw->family);
    ev->sport = ntohs(raw->sport);
    ev->dport = ntohs(raw->dport);
    ev->seq = ntohl(raw->seq);
    ev->ack = ntohl(raw->ack);
    ev->icmp_type = raw->icmp_type;
    ev->icmp_code = raw->icmp_code;
    if (raw->icmp_type != 0) {
        copy_addr(&ev->quoted_src, raw->inner_saddr, raw->family);
        copy_addr(&ev->quoted_dst, raw->inner_daddr, raw->family);
        ev->quoted_sport = ntohs(raw->inner_sport);
        ev->quoted_dport = ntohs(raw->inner_dport);
        ev->quoted_seq = ntohl(raw->inner_seq);
    }
    /* an IPv6 socket talking IPv4 holds v4-mapped addresses (RFC 4291 2.5.5.2) */
    if (ev->from_socket && ev->family == 6 && v4_mapped(&ev->src) && v4_mapped(&ev->dst)) {
        ev->family = 4;
        memmove(ev->src.b, ev->src.b + 12, 4);
        memset(ev->src.b + 4, 0, 12);
        memmove(ev->dst.b, ev->dst.b + 12, 4);
        memset(ev->dst.b + 4, 0, 12);
    }
}

static int on_record(void *ctx, void *data, size_t size)
{
    struct hev_drop *h = ctx;
    struct drops_raw raw;
    struct hev_drop_event ev;

    if (size < sizeof(raw)) {
        return 0;
    }
    memcpy(&raw, data, sizeof(raw));
    event_from_raw(&raw, h->clock_offset, &ev);
    h->stopped = h->fn(&ev, h->user);
    return h->stopped != 0 ? -ECANCELED : 0;
}

/* Chooses the reset program that fits this kernel's tcp:tcp_send_reset (none without it). */
static void choose_reset_program(struct hev_drop *h, int reset_args)
{
    bool with_reason = reset_args >= 3;
    bool without = reset_args == 2;
    bpf_program__set_autoload(h->skel->progs.on_send_reset, with_reason);
    bpf_program__set_autoload(h->skel->progs.on_send_reset_noreason, without);
    if (!with_reason && !without) {
        snprintf(h->note, sizeof(h->note), "reset events off: no tracepoint tcp:tcp_send_reset");
    }
}

/* Attaches prog (a raw tracepoint); *link is destroyed with the skeleton. */
static int attach_tracepoint(struct bpf_program *prog, struct bpf_link **link, const char *tp,
                             char *errbuf, size_t errlen)
{
    *link = bpf_program__attach(prog);
    if (*link != NULL) {
        return 0;
    }
    int err = -errno;
    if (err == -ENOENT) {
        snprintf(errbuf, errlen, "drop reasons off: no tracepoint %s", tp);
        return -HEV_DROP_ERR_NO_TRACEPOINT;
    }
    char what[64];
    snprintf(what, sizeof(what), "attaching to %s", tp);
    return bpf_error(err, "drop reasons off", what, errbuf, errlen);
}

/* Reads the kernel's BTF into h: reason names and the tracepoints' shapes. */
static int inspect_kernel(struct hev_drop *h, const struct hev_drop_options *opt, int *reset_args,
                          char *errbuf, size_t errlen)
{
    struct btf *btf;
    int rc = vmlinux_btf(opt, "drop reasons off", &btf, errbuf, errlen);
    if (rc < 0) {
        return rc;
    }
    int drop_args = tracepoint_args(btf, "kfree_skb");
    *reset_args = tracepoint_args(btf, "tcp_send_reset");
    if (drop_args < 0) {
        snprintf(errbuf, errlen, "drop reasons off: no tracepoint skb:kfree_skb");
        rc = -HEV_DROP_ERR_NO_TRACEPOINT;
    } else if (drop_args < 3) { /* (skb, location, reason) since 5.17 */
        snprintf(errbuf, errlen, "drop reasons off: skb:kfree_skb has no reason on this kernel");
        rc = -HEV_DROP_ERR_NO_TRACEPOINT;
    } else if (reason_names_load(btf, "skb_drop_reason", "SKB_DROP_REASON_", &h->drop_names) ||
               reason_names_load(btf, "sk_rst_reason", "SK_RST_REASON_", &h->rst_names)) {
        snprintf(errbuf, errlen, "drop reasons off: out of memory");
        rc = -HEV_DROP_ERR_NOMEM;
    }
    btf__free(btf);
    return rc;
}

/* Loads the skeleton with the programs chosen and attaches them, and maps the ring. */
static int load_and_attach(struct hev_drop *h, const struct hev_drop_options *opt, int reset_args,
                           char *errbuf, size_t errlen)
{
    struct drops *skel = h->skel;
    uint32_t ring = opt != NULL && opt->ring_bytes != 0 ? opt->ring_bytes : DEFAULT_RING_BYTES;
    bpf_program__set_autoload(skel->progs.socket_owners, false);
    choose_reset_program(h, reset_args);
    int err = bpf_map__set_max_entries(skel->maps.events, ring);
    if (err == 0) {
        err = drops__load(skel);
    }
    if (err != 0) {
        return bpf_error(err, "drop reasons off", "loading the BPF program", errbuf, errlen);
    }
    int rc = attach_tracepoint(skel->progs.on_kfree_skb, &skel->links.on_kfree_skb, "skb:kfree_skb",
                               errbuf, errlen);
    if (rc == 0 && reset_args >= 2) {
        struct bpf_program *prog =
            reset_args >= 3 ? skel->progs.on_send_reset : skel->progs.on_send_reset_noreason;
        struct bpf_link **link =
            reset_args >= 3 ? &skel->links.on_send_reset : &skel->links.on_send_reset_noreason;
        rc = attach_tracepoint(prog, link, "tcp:tcp_send_reset", errbuf, errlen);
    }
    if (rc < 0) {
        return rc;
    }
    h->ring = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, h, NULL);
    if (h->ring == NULL) {
        return bpf_error(-errno, "drop reasons off", "mapping the ring buffer", errbuf, errlen);
    }
    return 0;
}

int hev_drop_open(struct hev_drop **out, const struct hev_drop_options *opt, char *errbuf,
                  size_t errlen)
{
    *out = NULL;
    libbpf_quiet();
    struct hev_drop *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errbuf, errlen, "drop reasons off: out of memory");
        return -HEV_DROP_ERR_NOMEM;
    }
    int reset_args = -1;
    int rc = inspect_kernel(h, opt, &reset_args, errbuf, errlen);
    if (rc == 0) {
        h->skel = drops__open();
        if (h->skel == NULL) {
            rc = bpf_error(-errno, "drop reasons off", "opening the BPF object", errbuf, errlen);
        } else if (opt != NULL) {
            h->skel->bss->only_netns = opt->only_netns; /* before the programs are attached */
        }
    }
    if (rc == 0) {
        rc = load_and_attach(h, opt, reset_args, errbuf, errlen);
    }
    if (rc < 0) {
        hev_drop_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

const char *hev_drop_note(const struct hev_drop *h)
{
    return h->note;
}

int hev_drop_fd(const struct hev_drop *h)
{
    return ring_buffer__epoll_fd(h->ring);
}

int hev_drop_poll(struct hev_drop *h, int timeout_ms, hev_drop_fn fn, void *user, char *errbuf,
                  size_t errlen)
{
    h->fn = fn;
    h->user = user;
    h->stopped = 0;
    h->clock_offset = boot_to_real();
    int rc = ring_buffer__poll(h->ring, timeout_ms);
    if (h->stopped != 0) {
        return h->stopped;
    }
    if (rc == -EINTR) {
        return 0;
    }
    if (rc < 0) {
        snprintf(errbuf, errlen, "reading the drop events: %s", strerror(-rc));
        return -HEV_DROP_ERR_POLL;
    }
    return rc;
}

const char *hev_drop_reason_name(const struct hev_drop *h, const struct hev_drop_event *ev)
{
    if (!ev->has_reason || ev->reason >= MAX_REASON) {
        return NULL;
    }
    if (ev->kind == HEV_DROP_KFREE) {
        return h->drop_names.name[ev->reason];
    }
    return h->rst_names.name[ev->reason];
}

uint64_t hev_drop_lost(const struct hev_drop *h)
{
    return h->skel->bss->lost;
}

void hev_drop_close(struct hev_drop *h)
{
    if (h == NULL) {
        return;
    }
    ring_buffer__free(h->ring);
    drops__destroy(h->skel); /* links first, then programs and maps */
    reason_names_free(&h->drop_names);
    reason_names_free(&h->rst_names);
    free(h);
}

/* ---- socket owners ------------------------------------------------------------------------ */

struct hev_sockowner {
    struct drops *skel;
};

int hev_sockowner_open(struct hev_sockowner **out, const struct hev_drop_options *opt, char *errbuf,
                       size_t errlen)
{
    static const char off[] = "socket owners off";
    *out = NULL;
    libbpf_quiet();
    struct btf *btf;
    int rc = vmlinux_btf(opt, off, &btf, errbuf, errlen); /* iterators need it */
    if (rc < 0) {
        return rc;
    }
    btf__free(btf);
    struct hev_sockowner *so = calloc(1, sizeof(*so));
    if (so == NULL || (so->skel = drops__open()) == NULL) {
        free(so);
        snprintf(errbuf, errlen, "%s: out of memory", off);
        return -HEV_DROP_ERR_NOMEM;
    }
    struct drops *skel = so->skel;
    bpf_program__set_autoload(skel->progs.on_kfree_skb, false);
    bpf_program__set_autoload(skel->progs.on_send_reset, false);
    bpf_program__set_autoload(skel->progs.on_send_reset_noreason, false);
    int err = bpf_map__set_max_entries(skel->maps.events, (uint32_t)sysconf(_SC_PAGESIZE));
    if (err == 0) {
        err = drops__load(skel);
    }
    if (err != 0) {
        rc = bpf_error(err, off, "loading the iterator", errbuf, errlen);
    } else if ((skel->links.socket_owners =
                    bpf_program__attach_iter(skel->progs.socket_owners, NULL)) == NULL) {
        rc = bpf_error(-errno, off, "attaching the iterator", errbuf, errlen);
    }
    if (rc < 0) {
        hev_sockowner_close(so);
        return rc;
    }
    *out = so;
    return 0;
}

/* Reads the iterator's records from fd into *owner, the lowest pid winning. */
static int read_owners(int fd, struct hev_owner *owner, char *errbuf, size_t errlen)
{
    union {
        struct drops_owner rec[64];
        char bytes[64 * sizeof(struct drops_owner)];
    } buf;
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t n = read(fd, buf.bytes + have, sizeof(buf.bytes) - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(errbuf, errlen, "reading the socket-owner iterator: %s", strerror(errno));
            return -HEV_DROP_ERR_POLL;
        }
        if (n == 0) {
            return found;
        }
        have += (size_t)n;
        size_t whole = have / sizeof(struct drops_owner);
        for (size_t i = 0; i < whole; i++) {
            const struct drops_owner *rec = &buf.rec[i];
            if (!found || rec->pid < owner->pid) {
                owner->pid = rec->pid;
                owner->fd = rec->fd;
                memcpy(owner->comm, rec->comm, sizeof(owner->comm));
                owner->comm[sizeof(owner->comm) - 1] = '\0';
                found = 1;
            }
        }
        have -= whole * sizeof(struct drops_owner);
        memmove(buf.bytes, buf.bytes + whole * sizeof(struct drops_owner), have);
    }
}

int hev_sockowner_find(struct hev_sockowner *so, uint64_t inode, struct hev_owner *owner,
                       char *errbuf, size_t errlen)
{
    memset(owner, 0, sizeof(*owner));
    if (inode == 0) {
        return 0;
    }
    so->skel->bss->owner_inode = inode; /* the program emits that inode only */
    int fd = bpf_iter_create(bpf_link__fd(so->skel->links.socket_owners));
    if (fd < 0) {
        snprintf(errbuf, errlen, "running the socket-owner iterator: %s", strerror(errno));
        return -HEV_DROP_ERR_POLL;
    }
    int rc = read_owners(fd, owner, errbuf, errlen);
    close(fd);
    return rc;
}

void hev_sockowner_close(struct hev_sockowner *so)
{
    if (so == NULL) {
        return;
    }
    drops__destroy(so->skel);
    free(so);
}
