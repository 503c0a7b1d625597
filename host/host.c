/* host.c - the aggregator behind host.h: opens every piece of host evidence it can (notes for
 * the others), turns the kernel's drop, reset and nftables events into host_events, and
 * answers the inventory questions (listeners with owners, local addresses, counters). */
#define _GNU_SOURCE
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hev_addr.h"
#include "hev_counters.h"
#include "hev_drop.h"
#include "hev_listen.h"
#include "hev_nft.h"
#include "hev_owner.h"

#define HOST_RULES 64      /* rule texts remembered; more: the oldest number is reused */
#define HOST_RULE_TEXT 200 /* bytes of one rule's text */
#define HOST_SERIES_SECONDS 3600
#define RECENT_NS 100000000LL /* 100 ms */

struct host {
    uint32_t netns_ino; /* events of other namespaces are not ours */
    int epfd;
    struct hev_drop *drop;
    struct hev_sockowner *sockowner;
    struct hev_nft *nft;
    struct hev_listen *listen;
    struct hev_addr *addr;
    struct hev_owner_cache *owners;
    struct hev_counters_src *counters;
    struct hev_series *series;
    int64_t counters_read_ns; /* last reading of the series */
    struct hev_counters last_reading;
    struct hev_counters recent; /* a reading since, for the second not closed yet: read again
                                   at most every RECENT_NS, not once per attempt (a flood's
                                   attempts are reported by the hundred thousand) */
    char rules[HOST_RULES][HOST_RULE_TEXT];
    uint32_t rule_count; /* numbers handed out (rule n is rules[(n - 1) % HOST_RULES]) */
    host_event_fn fn;
    void *user;
    int handed;
};

/* Appends "host evidence: LINE\n" to notes. */
static void add_note(char *notes, size_t len, const char *line)
{
    size_t used = strlen(notes);
    if (used < len) {
        snprintf(notes + used, len - used, "host evidence: %s\n", line);
    }
}

/* hev_owner_fn through the BPF iterator: it sees every process after the privilege drop. */
static int owner_by_iterator(void *ctx, struct hev_socket_owner *owners, size_t count, char *errbuf,
                             size_t errlen)
{
    struct hev_sockowner *so = ctx;
    for (size_t i = 0; i < count; i++) {
        struct hev_owner found;
        int rc = hev_sockowner_find(so, owners[i].inode, &found, errbuf, errlen);
        if (rc < 0) {
            return -HEV_ERR_PROC;
        }
        owners[i].status = rc == 1 ? HEV_OWNER_FOUND : HEV_OWNER_NOT_FOUND;
        if (rc == 1) {
            owners[i].pid = (int32_t)found.pid;
            memcpy(owners[i].comm, found.comm, sizeof(owners[i].comm));
            owners[i].comm[sizeof(owners[i].comm) - 1] = '\0';
        }
    }
    return 0;
}

static void watch(struct host *h, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    if (fd >= 0 && h->epfd >= 0) {
        epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* The kernel's pieces: drop reasons, socket owners, nftables tracing. */
static void open_kernel_pieces(struct host *h, const struct host_config *cfg, char *notes,
                               size_t notes_len)
{
    char err[HOST_ERRBUF_SIZE];
    struct hev_drop_options dopt = {.pretend_no_btf = cfg->pretend_no_btf,
                                    .only_netns = h->netns_ino};
    if (hev_drop_open(&h->drop, &dopt, err, sizeof(err)) != 0) {
        add_note(notes, notes_len, err);
        h->drop = NULL;
    }
    if (h->drop != NULL && hev_drop_note(h->drop)[0] != '\0') {
        add_note(notes, notes_len, hev_drop_note(h->drop));
    }
    if (hev_sockowner_open(&h->sockowner, &dopt, err, sizeof(err)) != 0) {
        add_note(notes, notes_len, err);
        h->sockowner = NULL;
    }
    char legacy[HOST_ERRBUF_SIZE];
    if (hev_nft_check_legacy(legacy, sizeof(legacy)) == 1) {
        add_note(notes, notes_len, legacy);
    }
    struct hev_nft_config ncfg = {.pretend_absent = cfg->pretend_no_nft};
    if (hev_nft_open(&h->nft, &ncfg, err, sizeof(err)) != 0) {
        add_note(notes, notes_len, err);
        h->nft = NULL;
    }
}

int host_open(struct host **out, const struct host_config *cfg, char *notes, size_t notes_len,
              char *errbuf, size_t errlen)
{
    char err[HOST_ERRBUF_SIZE];
    *out = NULL;
    if (notes_len > 0) {
        notes[0] = '\0';
    }
    struct host *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errbuf, errlen, "host evidence: out of memory");
        return -HOST_ERR_NOMEM;
    }
    struct stat st;
    if (stat("/proc/self/ns/net", &st) == 0) {
        h->netns_ino = (uint32_t)st.st_ino;
    }
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    open_kernel_pieces(h, cfg, notes, notes_len);
    watch(h, h->drop != NULL ? hev_drop_fd(h->drop) : -1);
    watch(h, h->nft != NULL ? hev_nft_fd(h->nft) : -1);
    if (hev_listen_open(&h->listen, err, sizeof(err)) != 0) {
        add_note(notes, notes_len, "listeners off");
        h->listen = NULL;
    }
    if (hev_addr_open(&h->addr, err, sizeof(err)) != 0) {
        add_note(notes, notes_len, "local addresses off");
        h->addr = NULL;
    }
    int rc =
        h->sockowner != NULL
            ? hev_owner_cache_new(&h->owners, owner_by_iterator, h->sockowner, err, sizeof(err))
            : hev_owner_cache_new(&h->owners, hev_owner_procfs, NULL, err, sizeof(err));
    if (rc != 0) {
        h->owners = NULL;
    }
    if (hev_counters_open(&h->counters, err, sizeof(err)) != 0 ||
        hev_series_new(&h->series, HOST_SERIES_SECONDS, err, sizeof(err)) != 0) {
        add_note(notes, notes_len, "listen-queue counters off");
        hev_counters_close(h->counters);
        h->counters = NULL;
    }
    *out = h;
    return 0;
}

int host_fd(const struct host *h)
{
    return h->drop != NULL || h->nft != NULL ? h->epfd : -1;
}

/* A packet this host sent and dropped before it left: no device yet (a rule of the output
 * hook, no route), or one from a local address to another host (a neighbour that did not
 * resolve). */
static bool is_output(const struct host *h, const struct hev_drop_event *ev)
{
    if (ev->ifindex == 0) {
        return true;
    }
    uint8_t af = ev->family == 6 ? AF_INET6 : AF_INET;
    return h->addr != NULL && hev_addr_is_local(h->addr, af, ev->src.b) &&
           !hev_addr_is_local(h->addr, af, ev->dst.b);
}

static int on_drop(const struct hev_drop_event *ev, void *user)
{
    struct host *h = user;
    if (ev->proto != 6 || ev->from_socket ||
        (ev->netns_ino != 0 && h->netns_ino != 0 && ev->netns_ino != h->netns_ino)) {
        return 0;
    }
    struct host_event out = {
        .ts_ns = ev->ts_ns,
        .kind = ev->kind == HEV_DROP_KFREE ? HOST_EV_DROP : HOST_EV_RESET_SENT,
        .family = ev->family,
        .tcp_flags = ev->tcp_flags,
        .output_path = ev->kind == HEV_DROP_KFREE && is_output(h, ev),
        .reason = (uint16_t)ev->reason,
        .has_reason = ev->has_reason != 0,
        .src = ev->src,
        .dst = ev->dst,
        .sport = ev->sport,
        .dport = ev->dport,
        .seq = ev->seq,
    };
    h->handed++;
    h->fn(&out, h->user);
    return 0;
}

/* A number for the rule's text; the same text keeps its number while it is remembered. */
static uint32_t rule_number(struct host *h, const struct hev_nft_event *ev)
{
    char text[HOST_RULE_TEXT];
    hev_nft_describe(ev, text, sizeof(text));
    uint32_t first = h->rule_count > HOST_RULES ? h->rule_count - HOST_RULES + 1 : 1;
    for (uint32_t n = first; n <= h->rule_count; n++) {
        if (strcmp(h->rules[(n - 1) % HOST_RULES], text) == 0) {
            return n;
        }
    }
    h->rule_count++;
    memcpy(h->rules[(h->rule_count - 1) % HOST_RULES], text, sizeof(text));
    return h->rule_count;
}

static void on_nft(const struct hev_nft_event *ev, void *user)
{
    struct host *h = user;
    if (!ev->have_tuple || ev->ip_proto != 6) {
        return;
    }
    struct host_event out = {
        .ts_ns = ev->ts_ns,
        .kind = ev->verdict == HEV_NFT_REJECT ? HOST_EV_NFT_REJECT : HOST_EV_NFT_DROP,
        .family = ev->family,
        .tcp_flags = ev->tcp_flags,
        .output_path = ev->iif == 0,
        .rule = rule_number(h, ev),
        .sport = ev->sport,
        .dport = ev->dport,
        .seq = ev->seq,
    };
    memcpy(out.src.b, ev->src, sizeof(out.src.b));
    memcpy(out.dst.b, ev->dst, sizeof(out.dst.b));
    h->handed++;
    h->fn(&out, h->user);
}

int host_poll(struct host *h, host_event_fn fn, void *user, char *errbuf, size_t errlen)
{
    h->fn = fn;
    h->user = user;
    h->handed = 0;
    int failed = 0;
    if (h->drop != NULL && hev_drop_poll(h->drop, 0, on_drop, h, errbuf, errlen) < 0) {
        hev_drop_close(h->drop);
        h->drop = NULL;
        failed = 1;
    }
    if (h->nft != NULL && hev_nft_read(h->nft, on_nft, h, errbuf, errlen) < 0) {
        char ignored[HOST_ERRBUF_SIZE];
        hev_nft_close(h->nft, ignored, sizeof(ignored));
        h->nft = NULL;
        failed = 1;
    }
    return failed ? -HOST_ERR_POLL : h->handed;
}

const char *host_reason_name(const struct host *h, uint8_t kind, uint16_t reason)
{
    if (h->drop == NULL) {
        return NULL;
    }
    struct hev_drop_event ev = {
        .kind = kind == HOST_EV_DROP ? HEV_DROP_KFREE : HEV_DROP_RESET_SENT,
        .has_reason = 1,
        .reason = reason,
    };
    return hev_drop_reason_name(h->drop, &ev);
}

const char *host_rule_text(const struct host *h, uint32_t rule)
{
    if (rule == 0 || rule > h->rule_count || h->rule_count - rule >= HOST_RULES) {
        return NULL;
    }
    return h->rules[(rule - 1) % HOST_RULES];
}

static uint8_t af_of(uint8_t family)
{
    return family == 6 ? AF_INET6 : AF_INET;
}

bool host_is_local(struct host *h, uint8_t family, const struct dec_addr *addr, int64_t now_ns)
{
    char err[HOST_ERRBUF_SIZE];
    if (h->addr == NULL) {
        return false;
    }
    hev_addr_maybe_refresh(h->addr, now_ns, err, sizeof(err));
    return hev_addr_is_local(h->addr, af_of(family), addr->b);
}

/* Fills the owners of the listeners found (through the once-a-second cache). */
static void fill_owners(struct host *h, const struct hev_listener *found, size_t n,
                        struct host_listener *out, int64_t now_ns)
{
    char err[HOST_ERRBUF_SIZE];
    struct hev_socket_owner owners[HOST_MAX_LISTENERS];
    for (size_t i = 0; i < n; i++) {
        owners[i] = (struct hev_socket_owner){.inode = found[i].inode};
    }
    if (h->owners != NULL) {
        hev_owner_cache_get(h->owners, owners, n, now_ns, err, sizeof(err));
    }
    for (size_t i = 0; i < n; i++) {
        out[i].pid = owners[i].status == HEV_OWNER_FOUND ? owners[i].pid : -1;
        memcpy(out[i].comm, owners[i].comm, sizeof(out[i].comm));
        out[i].comm[sizeof(out[i].comm) - 1] = '\0';
        if (out[i].pid < 0) {
            out[i].comm[0] = '\0';
        }
    }
}

int host_listeners(struct host *h, uint16_t port, int64_t now_ns, struct host_listener *out,
                   size_t max)
{
    char err[HOST_ERRBUF_SIZE];
    struct hev_listener found[HOST_MAX_LISTENERS];
    size_t total = 0;
    if (h->listen == NULL || port == 0) {
        return -1;
    }
    if (max > HOST_MAX_LISTENERS) {
        max = HOST_MAX_LISTENERS;
    }
    if (hev_listen_get(h->listen, port, now_ns, found, max, &total, err, sizeof(err)) < 0) {
        return -1;
    }
    size_t n = total < max ? total : max;
    for (size_t i = 0; i < n; i++) {
        struct host_listener *l = &out[i];
        memset(l, 0, sizeof(*l));
        l->family = found[i].family == AF_INET6 ? 6 : 4;
        l->v6only = found[i].v6only;
        l->port = found[i].port;
        memcpy(l->addr.b, found[i].addr, sizeof(l->addr.b));
        snprintf(l->ifname, sizeof(l->ifname), "%s", found[i].ifname);
        l->queue = found[i].queue;
        l->backlog = found[i].backlog;
    }
    fill_owners(h, found, n, out, now_ns);
    return (int)total;
}

enum host_accept host_accepts(struct host *h, const struct host_listener *list, size_t count,
                              uint8_t family, const struct dec_addr *addr, uint16_t port,
                              const char **why, int *nearest)
{
    struct hev_listener ls[HOST_MAX_LISTENERS];
    if (count > HOST_MAX_LISTENERS) {
        count = HOST_MAX_LISTENERS;
    }
    for (size_t i = 0; i < count; i++) {
        memset(&ls[i], 0, sizeof(ls[i]));
        ls[i].family = af_of(list[i].family);
        ls[i].v6only = list[i].v6only;
        ls[i].port = list[i].port;
        memcpy(ls[i].addr, list[i].addr.b, sizeof(ls[i].addr));
        /* a device-bound listener: the device is compared by index, which only the name
         * stands for here; unknown devices are taken as a match (device_unchecked) */
    }
    struct hev_syn_dst dst = {.family = af_of(family), .port = port};
    memcpy(dst.addr, addr->b, sizeof(dst.addr));
    if (h->addr != NULL) {
        const struct hev_local_addr *local = hev_addr_lookup(h->addr, dst.family, addr->b);
        if (local != NULL && local->scope == 254 /* RT_SCOPE_HOST: loopback */) {
            dst.ifindex = local->ifindex;
        }
    }
    struct hev_accept_result res;
    hev_listen_accepts(ls, count, &dst, &res);
    *why = res.accept == HEV_ACCEPT_BOUND_ELSEWHERE ? hev_bound_name(res.why) : NULL;
    *nearest = res.listener;
    if (res.accept == HEV_ACCEPT_NO_LISTENER) {
        return HOST_ACCEPT_NO_LISTENER;
    }
    return res.accept == HEV_ACCEPT_BOUND_ELSEWHERE ? HOST_ACCEPT_BOUND_ELSEWHERE
                                                    : HOST_ACCEPT_LISTENING;
}

/* host_counter to hev_counter */
static const enum hev_counter counter_map[HOST_CTR_COUNT] = {
    HEV_CTR_LISTEN_OVERFLOWS,     HEV_CTR_LISTEN_DROPS,    HEV_CTR_REQQ_FULL_DROP,
    HEV_CTR_REQQ_FULL_DO_COOKIES, HEV_CTR_SYNCOOKIES_SENT, HEV_CTR_SYNCOOKIES_FAILED,
};

const char *host_counter_name(enum host_counter c)
{
    return (unsigned)c < HOST_CTR_COUNT ? hev_counter_name(counter_map[c]) : "?";
}

static void read_counters(struct host *h, int64_t now_ns)
{
    char err[HOST_ERRBUF_SIZE];
    struct hev_counters reading;
    if (hev_counters_read(h->counters, now_ns, &reading, err, sizeof(err)) >= 0) {
        hev_series_add(h->series, &reading);
        h->last_reading = reading;
        h->counters_read_ns = now_ns;
    }
}

void host_counters_tick(struct host *h, int64_t now_ns)
{
    if (h->counters != NULL &&
        (h->counters_read_ns == 0 || now_ns - h->counters_read_ns >= 1000000000LL ||
         now_ns < h->counters_read_ns)) {
        read_counters(h, now_ns);
    }
}

static void from_delta(const struct hev_counters *delta, struct host_counters *out)
{
    out->known = true;
    for (int c = 0; c < HOST_CTR_COUNT; c++) {
        enum hev_counter k = counter_map[c];
        out->value[c] = (delta->present & (1u << k)) ? delta->value[k] : 0;
    }
}

void host_counters_at(struct host *h, int64_t ts_ns, struct host_counters *out)
{
    memset(out, 0, sizeof(*out));
    if (h->counters == NULL || h->counters_read_ns == 0) {
        return;
    }
    const struct hev_counter_interval *in = hev_series_at(h->series, ts_ns);
    if (in != NULL) {
        from_delta(&in->delta, out);
        return;
    }
    if (ts_ns > h->counters_read_ns) { /* the current second: what moved since its start */
        char err[HOST_ERRBUF_SIZE];
        struct hev_counters delta;
        if (h->recent.ts_ns < h->counters_read_ns || ts_ns - h->recent.ts_ns >= RECENT_NS) {
            if (hev_counters_read(h->counters, ts_ns, &h->recent, err, sizeof(err)) < 0) {
                return;
            }
        }
        hev_counters_delta(&h->last_reading, &h->recent, &delta);
        from_delta(&delta, out);
    }
}

void host_counters_total(struct host *h, int64_t now_ns, struct host_counters *out)
{
    memset(out, 0, sizeof(*out));
    if (h->counters == NULL) {
        return;
    }
    read_counters(h, now_ns);
    struct hev_counters total;
    if (hev_series_total(h->series, &total) == 0) {
        from_delta(&total, out);
    }
}

void host_close(struct host *h)
{
    char err[HOST_ERRBUF_SIZE];
    if (h == NULL) {
        return;
    }
    hev_drop_close(h->drop);
    hev_sockowner_close(h->sockowner);
    hev_nft_close(h->nft, err, sizeof(err));
    hev_listen_close(h->listen);
    hev_addr_close(h->addr);
    hev_owner_cache_free(h->owners);
    hev_counters_close(h->counters);
    hev_series_free(h->series);
    if (h->epfd >= 0) {
        close(h->epfd);
    }
    free(h);
}

void host_abandon(struct host *h)
{
    if (h != NULL && h->nft != NULL) {
        hev_nft_abandon(h->nft);
    }
}
