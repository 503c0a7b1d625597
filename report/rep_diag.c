/* rep_diag.c - diagnoses that need many attempts: whose RST it was (host or middlebox), and
 * what is wrong with a service or a host (overloaded, SYN cookies, rate limits, unresolved
 * neighbours, per-client failures, firewall REJECT rules). Judgement only: the facts come from
 * decode/'s attempts. */
#include "rep_diag.h"
#include "rep_index.h"
#include "rep_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIAGNOSES 256
#define OVERLAP_SLACK_NS 5000000000LL /* "the same period": within 5 s */

/* What the server host's own packets look like. */
struct host_info {
    struct dec_addr addr;
    uint8_t family;
    uint16_t ipid_last;     /* to tell a counting IP ID from a random one */
    uint32_t own_packets;   /* SYN-ACKs, its own FINs, ICMP from itself */
    int hops_min, hops_max; /* hop distance of those packets */
    int64_t synack_rtt_min; /* fastest SYN-ACK, -1 none */
    uint32_t ipid_nonzero;  /* of its TCP packets with an IPv4 ID: how many were not 0 */
    uint32_t ipid_zero;
    uint32_t ipid_steps, ipid_small_steps; /* pairs of IDs seen; pairs 1..1000 apart, upward */
    uint32_t attempts;                     /* attempts to any of its ports */
    uint32_t as_client;                    /* attempts it made as a client */
};

/* What the diagnoses need of one service. */
struct service_info {
    struct dec_addr addr;
    uint8_t family;
    uint16_t port;
    uint32_t example; /* evidence of a middlebox attempt: rep_diag.examples[example - 1] */
    uint64_t counts[REP_VERDICT_COUNT];
    int64_t ok_first, ok_last;     /* accepted attempts (first SYN times) */
    int64_t lost_first, lost_last; /* dropped or half-open */
    int64_t ref_first, ref_last;   /* refused */
    uint32_t synacks, cookie_like, synack_after_ack, quick_resets;
    uint32_t synacks_stripped, synacks_full; /* MSS-only SYN-ACKs; ones with WS or SACK */
    uint32_t middlebox_resets;
    uint32_t port_unreachable;
    int64_t rst_first, rst_last; /* times of the refusing RSTs */
    struct dec_addr failed_client, ok_client;
    uint32_t failed_clients, ok_clients; /* 0, 1, or 2 meaning "more than one" */
    bool ok_from_other_client;
    /* whose SYNs went unanswered (dropped, half-open), and whether that one client was also
     * accepted here: a drop rule for one source is not an overloaded listener */
    struct dec_addr lost_client;
    uint32_t lost_clients;     /* 0, 1, or 2 meaning "more than one" */
    bool lost_client_accepted; /* or may have been: see ok_client_bits */
    uint64_t ok_client_bits;   /* bit client_bit() of every accepted client */
};

struct rep_diag {
    uint64_t seed;           /* of the hosts' and services' index hashes */
    struct host_info *hosts; /* dense, in the order they were first seen */
    uint32_t host_count, host_cap;
    struct rep_index host_index;
    struct service_info *services; /* dense, in the order they were first judged */
    uint32_t service_count, service_cap;
    struct rep_index service_index;
    uint32_t legacy_mask; /* see service_order() */
    char (*examples)[256];
    uint32_t example_count, example_cap;
    struct flow_neighbour *neighbours;
    uint32_t neighbour_count, neighbour_cap;
    uint64_t attempts; /* every attempt observed */
    /* across all services: who fails, and whether anyone else succeeds */
    struct dec_addr failed_client, ok_client;
    uint32_t failed_clients, ok_clients; /* 0, 1, or 2 meaning "more than one" */
    uint8_t failed_family;
    uint32_t failed_services; /* services where that client failed */
    uint64_t client_failures;
    struct rep_diagnosis results[MAX_DIAGNOSES];
    size_t result_count;
};

/* The hash of the table this file kept the services in before: service_order() uses it to
 * make the diagnoses in the same order as then, client_bit() because it is fixed. */
static uint64_t legacy_hash(int family, const struct dec_addr *addr, uint16_t port)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)family ^ ((uint64_t)port << 8);
    for (size_t i = 0; i < sizeof(addr->b); i++) {
        h = (h ^ addr->b[i]) * 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

#define LEGACY_SERVICE_SLOTS 1024u

struct rep_diag *rep_diag_create(void)
{
    struct rep_diag *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    /* the seed only has to be unknown to whoever made the capture: the heap address differs
     * from run to run (ASLR), and nothing printed depends on it */
    d->seed = (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ULL;
    d->legacy_mask = LEGACY_SERVICE_SLOTS - 1;
    if (!rep_index_init(&d->host_index, 256) || !rep_index_init(&d->service_index, 1024)) {
        rep_diag_destroy(d);
        return NULL;
    }
    return d;
}

void rep_diag_destroy(struct rep_diag *d)
{
    if (d == NULL) {
        return;
    }
    free(d->hosts);
    rep_index_free(&d->host_index);
    free(d->services);
    rep_index_free(&d->service_index);
    free(d->examples);
    free(d->neighbours);
    free(d);
}

/* Dense tables behind open-addressing indexes that double at half load; a lookup that would
 * need more memory than there is returns NULL (the diagnoses then miss that host or service,
 * nothing else). */

/* Caps on the evidence kept, whatever the capture holds: a spoofed SYN flood brings a new
 * client address with every packet and a scan a new service, and the flow table's
 * --max-flows bound means nothing if these tables grow with them. Beyond the caps, new hosts
 * and services get no evidence of their own: 2^16 hosts (5 MiB with their index) and 2^14
 * services (5 MiB with their index). */
#define DIAG_MAX_HOSTS (1u << 16)
#define DIAG_MAX_SERVICES (1u << 14)

/* Grows a dense array of *cap elements of size bytes to hold one more. */
static bool make_room(void *array_ptr, uint32_t count, uint32_t *cap, size_t size, uint32_t first)
{
    if (count < *cap) {
        return true;
    }
    void **array = array_ptr;
    uint32_t grown_cap = *cap ? *cap * 2 : first;
    void *grown = realloc(*array, (size_t)grown_cap * size);
    if (grown == NULL) {
        return false;
    }
    *array = grown;
    *cap = grown_cap;
    return true;
}

static uint32_t host_hash(const struct rep_diag *d, int family, const struct dec_addr *addr)
{
    return rep_key_hash(d->seed, family, addr, 0);
}

/* The host's number, a new one when add and there is room; UINT32_MAX when none. hash is
 * host_hash(d, family, addr). */
static uint32_t host_number(struct rep_diag *d, int family, const struct dec_addr *addr,
                            uint32_t hash, bool add)
{
    uint32_t pos = hash, e;
    while ((e = rep_index_next(&d->host_index, hash, &pos)) != UINT32_MAX) {
        const struct host_info *h = &d->hosts[e];
        if (h->family == family && rep_addr_equal(&h->addr, addr)) {
            return e;
        }
    }
    if (!add || d->host_count >= DIAG_MAX_HOSTS || !rep_index_has_room(&d->host_index) ||
        !make_room(&d->hosts, d->host_count, &d->host_cap, sizeof(*d->hosts), 256)) {
        return UINT32_MAX; /* full: known hosts only, memory stays bounded */
    }
    struct host_info *h = &d->hosts[d->host_count];
    memset(h, 0, sizeof(*h));
    h->family = (uint8_t)family;
    h->addr = *addr;
    h->synack_rtt_min = -1;
    h->hops_min = 1000;
    h->hops_max = -1;
    rep_index_add(&d->host_index, pos, hash, d->host_count);
    return d->host_count++;
}

static struct host_info *find_host(const struct rep_diag *d, int family,
                                   const struct dec_addr *addr)
{
    uint32_t e = host_number((struct rep_diag *)d, family, addr, host_hash(d, family, addr), false);
    return e != UINT32_MAX ? &d->hosts[e] : NULL;
}

static struct service_info *get_service(struct rep_diag *d, const struct flow_attempt *a)
{
    if (d->service_count < DIAG_MAX_SERVICES && (d->service_count + 1) * 2 > d->legacy_mask + 1) {
        d->legacy_mask = d->legacy_mask * 2 + 1; /* what the old table did here */
    }
    uint32_t hash = rep_key_hash(d->seed, a->family, &a->server, a->server_port);
    uint32_t pos = hash, e;
    while ((e = rep_index_next(&d->service_index, hash, &pos)) != UINT32_MAX) {
        struct service_info *s = &d->services[e];
        if (s->port == a->server_port && s->family == a->family &&
            rep_addr_equal(&s->addr, &a->server)) {
            return s;
        }
    }
    if (d->service_count >= DIAG_MAX_SERVICES || !rep_index_has_room(&d->service_index) ||
        !make_room(&d->services, d->service_count, &d->service_cap, sizeof(*d->services), 64)) {
        return NULL; /* full: known services only */
    }
    struct service_info *s = &d->services[d->service_count];
    memset(s, 0, sizeof(*s));
    s->family = a->family;
    s->addr = a->server;
    s->port = a->server_port;
    rep_index_add(&d->service_index, pos, hash, d->service_count++);
    return s;
}

static void legacy_put(const struct rep_diag *d, uint32_t *tab, uint32_t mask, uint32_t s)
{
    const struct service_info *svc = &d->services[s];
    uint32_t pos = (uint32_t)(legacy_hash(svc->family, &svc->addr, svc->port) & mask);
    while (tab[pos] != 0) {
        pos = (pos + 1) & mask;
    }
    tab[pos] = s + 1;
}

static uint32_t *legacy_grow(const struct rep_diag *d, uint32_t *tab, uint32_t *mask)
{
    uint32_t grown_mask = *mask * 2 + 1;
    uint32_t *grown = calloc((size_t)grown_mask + 1, sizeof(*grown));
    if (grown != NULL) {
        for (uint32_t i = 0; i <= *mask; i++) {
            if (tab[i] != 0) {
                legacy_put(d, grown, grown_mask, tab[i] - 1);
            }
        }
        *mask = grown_mask;
    }
    free(tab);
    return grown;
}

/* The services in the order the table of earlier versions held them (slot order of a
 * legacy_hash table with linear probing, 1024 slots doubled when a lookup found it half
 * full): the diagnoses are made, and printed, in this order, and reports do not change with
 * the table. Fills order with service numbers and returns how many, or 0 when out of memory
 * (then the order is the dense one). */
static uint32_t service_order(const struct rep_diag *d, uint32_t *order)
{
    uint32_t mask = LEGACY_SERVICE_SLOTS - 1;
    uint32_t *tab = calloc(mask + 1, sizeof(*tab));
    for (uint32_t s = 0; s < d->service_count && tab != NULL; s++) {
        if ((s + 1) * 2 > mask + 1) {
            tab = legacy_grow(d, tab, &mask);
        }
        if (tab != NULL) {
            legacy_put(d, tab, mask, s);
        }
    }
    if (tab != NULL && mask < d->legacy_mask) {
        tab = legacy_grow(d, tab, &mask); /* grown by a lookup after the last service came */
    }
    if (tab == NULL) {
        return 0;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i <= mask; i++) {
        if (tab[i] != 0) {
            order[n++] = tab[i] - 1;
        }
    }
    free(tab);
    return n;
}

/* ---- the host's own packets -------------------------------------------------------------- */

static void own_packet(struct host_info *h, const struct flow_reply *r)
{
    int hops = rep_hops(r->ttl);
    h->own_packets++;
    if (hops < h->hops_min) {
        h->hops_min = hops;
    }
    if (hops > h->hops_max) {
        h->hops_max = hops;
    }
    /* IDs of TCP packets only: the RST they are compared with is TCP, and a host may number
     * its ICMP errors apart (Linux counts them per destination, while its own RSTs and DF
     * SYN-ACKs carry 0) */
    if (r->has_ip_id && r->flags != 0) {
        if (r->ip_id == 0) {
            h->ipid_zero++;
        } else {
            if (h->ipid_nonzero > 0) {
                uint16_t step = (uint16_t)(r->ip_id - h->ipid_last);
                h->ipid_steps++;
                h->ipid_small_steps += step >= 1 && step <= 1000;
            }
            h->ipid_last = r->ip_id;
            h->ipid_nonzero++;
        }
    }
}

static bool same_addr(const struct dec_addr *x, const struct dec_addr *y)
{
    return rep_addr_equal(x, y);
}

/* The entry the index slot for hash points to, if any, on its way into the cache. */
static void prefetch_entry(const struct rep_index *x, uint32_t hash, const void *entries,
                           size_t size)
{
    const struct rep_slot *slot = &x->slots[hash & x->mask];
    if (slot->entry != 0) {
        __builtin_prefetch((const char *)entries + (size_t)(slot->entry - 1) * size);
    }
}

void rep_diag_prefetch(const struct rep_diag *d, const struct flow_attempt *a,
                       struct rep_diag_keys *keys)
{
    if (d == NULL) {
        return;
    }
    keys->server = host_hash(d, a->family, &a->server);
    keys->client = host_hash(d, a->family, &a->client);
    uint32_t service = rep_key_hash(d->seed, a->family, &a->server, a->server_port);
    /* the three slots at once, then the three entries at once: two waits instead of six */
    __builtin_prefetch(&d->host_index.slots[keys->server & d->host_index.mask]);
    __builtin_prefetch(&d->host_index.slots[keys->client & d->host_index.mask]);
    __builtin_prefetch(&d->service_index.slots[service & d->service_index.mask]);
    prefetch_entry(&d->host_index, keys->server, d->hosts, sizeof(*d->hosts));
    prefetch_entry(&d->host_index, keys->client, d->hosts, sizeof(*d->hosts));
    prefetch_entry(&d->service_index, service, d->services, sizeof(*d->services));
}

void rep_diag_observe(struct rep_diag *d, const struct flow_attempt *a,
                      const struct rep_diag_keys *keys)
{
    if (d == NULL) {
        return;
    }
    uint32_t server = host_number(d, a->family, &a->server, keys->server, true);
    if (server == UINT32_MAX) {
        return;
    }
    d->hosts[server].attempts++;
    d->attempts++;
    uint32_t client = host_number(d, a->family, &a->client, keys->client, true);
    if (client != UINT32_MAX) {
        d->hosts[client].as_client++;
    }
    struct host_info *h = &d->hosts[server]; /* the table may have moved */
    if (a->answer == FLOW_ANS_SYNACK) {
        own_packet(h, &a->reply);
        if (a->saw_syn) {
            int64_t rtt = a->reply.ts_ns - a->syn_last_ns;
            if (a->syn_count == 1) {
                rtt = a->reply.ts_ns - a->syn_ns[0];
            }
            if (rtt >= 0 && (h->synack_rtt_min < 0 || rtt < h->synack_rtt_min)) {
                h->synack_rtt_min = rtt;
            }
        }
        if (a->server_end.ts_ns != 0 && !(a->server_end.flags & DEC_TCP_RST)) {
            own_packet(h, &a->server_end); /* its FIN */
        }
    }
    if (a->synack_after_answer.ts_ns != 0) {
        own_packet(h, &a->synack_after_answer);
    }
    if (a->answer == FLOW_ANS_ICMP && same_addr(&a->reply.from, &a->server)) {
        own_packet(h, &a->reply);
    }
}

/* ---- whose RST ----------------------------------------------------------------------------- */

static void describe_host_hops(char *buf, size_t len, const struct flow_attempt *a,
                               const struct host_info *h)
{
    char ip[64];
    dec_addr_str(&a->server, a->family, ip, sizeof(ip));
    snprintf(buf, len, "%s's own packets arrive %d hop%s away", ip, h->hops_min,
             h->hops_min == 1 ? "" : "s");
}

static bool looks_like_cookie(const struct flow_attempt *a);
static bool synack_stripped(const struct flow_attempt *a);
static bool synack_full(const struct flow_attempt *a);

/* The service of an attempt, if it was counted before; never adds one. */
static const struct service_info *find_service(const struct rep_diag *d,
                                               const struct flow_attempt *a)
{
    uint32_t hash = rep_key_hash(d->seed, a->family, &a->server, a->server_port);
    uint32_t pos = hash, e;
    while ((e = rep_index_next(&d->service_index, hash, &pos)) != UINT32_MAX) {
        const struct service_info *s = &d->services[e];
        if (s->port == a->server_port && s->family == a->family &&
            rep_addr_equal(&s->addr, &a->server)) {
            return s;
        }
    }
    return NULL;
}

/* The syncookie and synack-after-ack flags, from the same facts rep_diag_account counts for
 * the syn-cookies and overloaded diagnoses: a flagged attempt's service always gets the
 * diagnosis. A SYN-ACK stripped to its MSS counts only once the service has answered with its
 * full options (some stacks never send any), so it is flagged only when such an answer came
 * before it; the diagnosis, made at the end, also counts the stripped ones before that. */
static void service_flags(const struct rep_diag *d, const struct flow_attempt *a,
                          struct rep_judgement *j)
{
    if (a->answer != FLOW_ANS_SYNACK || !a->saw_syn) {
        return;
    }
    if (a->synack_after_ack_ns != 0) {
        j->flags |= REP_FLAG_SYNACK_AFTER_ACK;
    }
    if (looks_like_cookie(a)) {
        j->flags |= REP_FLAG_SYNCOOKIE;
    } else if (d != NULL && synack_stripped(a)) {
        const struct service_info *s = find_service(d, a);
        if (s != NULL && s->synacks_full > 0) {
            j->flags |= REP_FLAG_SYNCOOKIE;
        }
    }
}

void rep_diag_middlebox(const struct rep_diag *d, const struct flow_attempt *a,
                        struct rep_judgement *j)
{
    if (a->synack_after_answer.ts_ns != 0 && a->answer != FLOW_ANS_NONE) {
        j->flags |= REP_FLAG_LATE_SYNACK;
    }
    service_flags(d, a, j);

    /* An established connection ended by a RST: is it the server's? Its SYN-ACK is the
     * reference within the attempt itself. */
    if (a->answer == FLOW_ANS_SYNACK && a->server_end.ts_ns != 0 &&
        (a->server_end.flags & DEC_TCP_RST)) {
        int rst_hops = rep_hops(a->server_end.ttl);
        int ref_hops = rep_hops(a->reply.ttl);
        if (rst_hops != ref_hops) {
            j->flags |= REP_FLAG_MIDDLEBOX_RESET;
            snprintf(j->evidence, sizeof(j->evidence),
                     "the RST arrived with TTL %u = %d hop%s; the server's SYN-ACK with TTL %u = "
                     "%d hop%s: a device on the path reset the connection",
                     a->server_end.ttl, rst_hops, rst_hops == 1 ? "" : "s", a->reply.ttl, ref_hops,
                     ref_hops == 1 ? "" : "s");
        }
        return;
    }
    if (j->verdict != REP_REFUSED) {
        return;
    }
    const struct host_info *h = d != NULL ? find_host(d, a->family, &a->server) : NULL;
    bool host_known = h != NULL && h->own_packets > 0 && h->hops_min == h->hops_max;
    int rst_hops = rep_hops(a->reply.ttl);
    char sign[200];
    sign[0] = '\0';
    if (a->synack_after_answer.ts_ns != 0) {
        snprintf(sign, sizeof(sign), "the server's own SYN-ACK (TTL %u) came after the RST",
                 a->synack_after_answer.ttl);
    } else if (host_known && rst_hops != h->hops_min) {
        char host_text[128];
        describe_host_hops(host_text, sizeof(host_text), a, h);
        snprintf(sign, sizeof(sign), "the RST arrived with TTL %u = %d hop%s; %s", a->reply.ttl,
                 rst_hops, rst_hops == 1 ? "" : "s", host_text);
    } else if (h != NULL && h->synack_rtt_min > 1000000 && j->rtt_ns >= 0 &&
               j->rtt_ns * 2 < h->synack_rtt_min) {
        char t1[32], t2[32];
        rep_fmt_ms(t1, sizeof(t1), j->rtt_ns);
        rep_fmt_ms(t2, sizeof(t2), h->synack_rtt_min);
        snprintf(sign, sizeof(sign),
                 "the RST came after %s, the server's fastest SYN-ACK after %s: it came from "
                 "closer than the server",
                 t1, t2);
    } else if (h != NULL && h->ipid_zero == 0 && h->ipid_steps >= 3 &&
               h->ipid_small_steps * 5 >= h->ipid_steps * 4 && a->reply.has_ip_id &&
               a->reply.ip_id == 0) {
        /* only a host whose IDs count up (4 steps in 5 small and upward): random IDs are 0
         * once in 65536 by chance */
        snprintf(sign, sizeof(sign),
                 "the RST has IP ID 0 while the server's own packets carry counting IDs");
    }
    /* every refusal gets one of these sentences: written by hand, not by snprintf */
    struct rep_text ev;
    rep_text_init(&ev, j->evidence, sizeof(j->evidence));
    if (sign[0] != '\0') {
        j->verdict = REP_REFUSED_BY_MIDDLEBOX;
        rep_text_str(&ev, sign);
    } else if (host_known) {
        REP_TEXT_LIT(&ev, "the RST arrived ");
        rep_text_int(&ev, rst_hops);
        if (rst_hops == 1) {
            REP_TEXT_LIT(&ev, " hop away, like the server's own packets");
        } else {
            REP_TEXT_LIT(&ev, " hops away, like the server's own packets");
        }
    } else {
        REP_TEXT_LIT(&ev, "not enough evidence to tell the host from a middlebox: no other "
                          "packet from the server in the capture to compare the RST with");
    }
}

/* ---- per-service accounting -------------------------------------------------------------- */

/* Linux SYN cookies (net/ipv4/syncookies.c) leave two marks on the wire. A SYN without
 * timestamps gets a SYN-ACK carrying only an MSS, whatever else the SYN offered (the options
 * cannot be stored). And the MSS the server then uses is one of the cookie table's values
 * (msstab: 536, 1300, 1440, 1460 for IPv4; 1220, 1420, 1440, 8940 for IPv6), the largest one
 * not above the client's: a client offering 1400 gets segments of 1300 (1288 with the 12
 * bytes of timestamps) instead of 1400. (With timestamps, the low 6 bits of the cookie's
 * TSval encode the options, but Linux adds a random offset per connection since 4.10, so
 * that mark is not visible.) */
static bool looks_like_cookie(const struct flow_attempt *a)
{
    static const uint32_t table4[] = {536, 1300, 1440, 1460};
    static const uint32_t table6[] = {1220, 1420, 1440, 8940};
    const struct dec_tcp_opts *syn = &a->syn_opts, *ack = &a->reply.opts;
    if (!(syn->present & DEC_OPT_MSS) || a->server_max_segment == 0) {
        return false;
    }
    uint32_t used = a->server_max_segment;
    if ((syn->present & DEC_OPT_TIMESTAMP) && (ack->present & DEC_OPT_TIMESTAMP)) {
        used += 12; /* the timestamp option rides in every segment */
    }
    const uint32_t *table = a->family == 4 ? table4 : table6;
    for (size_t i = 0; i < 4; i++) {
        if (used == table[i] && used < syn->mss && (ack->mss == 0 || used < ack->mss)) {
            return true;
        }
    }
    return false;
}

/* A SYN without timestamps that offered window scaling or SACK, answered by a SYN-ACK with
 * its MSS only (what a Linux cookie keeps), or with those options (a normal answer). */
static bool synack_options_tell(const struct flow_attempt *a)
{
    return !(a->syn_opts.present & DEC_OPT_TIMESTAMP) &&
           (a->syn_opts.present & (DEC_OPT_WSCALE | DEC_OPT_SACK_OK)) != 0;
}

static bool synack_stripped(const struct flow_attempt *a)
{
    return synack_options_tell(a) && a->reply.opts.present == DEC_OPT_MSS;
}

static bool synack_full(const struct flow_attempt *a)
{
    return synack_options_tell(a) && (a->reply.opts.present & (DEC_OPT_WSCALE | DEC_OPT_SACK_OK));
}

static void note_client(struct dec_addr *slot, uint32_t *count, const struct dec_addr *client)
{
    if (*count == 0) {
        *slot = *client;
        *count = 1;
    } else if (*count == 1 && !same_addr(slot, client)) {
        *count = 2;
    }
}

/* One of 64 bits per client address, from a fixed hash so that the diagnoses do not change
 * from run to run: a clear bit means "never accepted here" for sure, a set one "maybe". */
static uint64_t client_bit(int family, const struct dec_addr *client)
{
    return 1ULL << (legacy_hash(family, client, 0) & 63);
}

static void widen(int64_t *first, int64_t *last, int64_t t)
{
    if (*first == 0 || t < *first) {
        *first = t;
    }
    if (t > *last) {
        *last = t;
    }
}

uint32_t rep_diag_account(struct rep_diag *d, const struct flow_attempt *a,
                          const struct rep_judgement *j)
{
    if (d == NULL) {
        return UINT32_MAX;
    }
    struct service_info *s = get_service(d, a);
    if (s == NULL) {
        return UINT32_MAX;
    }
    s->counts[j->verdict]++;
    if (a->answer == FLOW_ANS_SYNACK && a->saw_syn) {
        s->synacks++;
        if (looks_like_cookie(a)) {
            s->cookie_like++;
        }
        /* stripped options only mean a cookie when the same service answers with its full
         * options at other times: some stacks and NATs never send any */
        if (synack_stripped(a)) {
            s->synacks_stripped++;
        } else if (synack_full(a)) {
            s->synacks_full++;
        }
        if (a->synack_after_ack_ns != 0) {
            s->synack_after_ack++;
        }
    }
    if (j->verdict == REP_RESET_AFTER_ACCEPT && a->handshake_ns != 0 &&
        a->server_end.ts_ns - a->handshake_ns < 10000000) {
        s->quick_resets++; /* tcp_abort_on_overflow answers an ACK it cannot queue with RST */
    }
    if (j->flags & REP_FLAG_MIDDLEBOX_RESET || j->verdict == REP_REFUSED_BY_MIDDLEBOX) {
        if (s->middlebox_resets++ == 0 &&
            make_room(&d->examples, d->example_count, &d->example_cap, sizeof(*d->examples), 16)) {
            snprintf(d->examples[d->example_count], sizeof(*d->examples), "%s", j->evidence);
            s->example = ++d->example_count;
        }
    }
    switch (j->verdict) {
    case REP_ACCEPTED:
        widen(&s->ok_first, &s->ok_last, j->start_ns);
        break;
    case REP_DROPPED:
    case REP_HALF_OPEN:
        widen(&s->lost_first, &s->lost_last, j->start_ns);
        if (s->lost_clients == 0) { /* was this client accepted before? */
            s->lost_client_accepted =
                s->ok_clients == 1 ? same_addr(&s->ok_client, &a->client)
                                   : (s->ok_client_bits & client_bit(a->family, &a->client)) != 0;
        }
        note_client(&s->lost_client, &s->lost_clients, &a->client);
        break;
    case REP_REFUSED:
        widen(&s->ref_first, &s->ref_last, j->start_ns);
        widen(&s->rst_first, &s->rst_last, a->reply.ts_ns);
        break;
    case REP_UNREACHABLE:
        if (strcmp(j->reason, "port") == 0) {
            s->port_unreachable++;
        }
        break;
    default:
        break;
    }
    if ((rep_verdict_is_failure(j->verdict) && j->verdict != REP_CLIENT_ABORT) ||
        (j->flags & REP_FLAG_MIDDLEBOX_RESET)) {
        if (s->failed_clients == 0 || !same_addr(&s->failed_client, &a->client)) {
            d->failed_services++; /* a service where this client fails for the first time */
        }
        note_client(&d->failed_client, &d->failed_clients, &a->client);
        d->failed_family = a->family;
        d->client_failures++;
        note_client(&s->failed_client, &s->failed_clients, &a->client);
    } else if (j->verdict == REP_ACCEPTED) {
        note_client(&d->ok_client, &d->ok_clients, &a->client);
        note_client(&s->ok_client, &s->ok_clients, &a->client);
        s->ok_client_bits |= client_bit(a->family, &a->client);
        if (s->lost_clients >= 1 && same_addr(&s->lost_client, &a->client)) {
            s->lost_client_accepted = true;
        }
        if (s->failed_clients == 0 || !same_addr(&s->failed_client, &a->client)) {
            s->ok_from_other_client = true;
        }
    }
    return (uint32_t)(s - d->services);
}

void rep_diag_neighbour(struct rep_diag *d, const struct flow_neighbour *n)
{
    if (d == NULL || n->replies != 0 || n->requests == 0) {
        return;
    }
    if (d->neighbour_count == d->neighbour_cap) {
        uint32_t cap = d->neighbour_cap ? d->neighbour_cap * 2 : 16;
        struct flow_neighbour *nn = realloc(d->neighbours, cap * sizeof(*nn));
        if (nn == NULL) {
            return;
        }
        d->neighbours = nn;
        d->neighbour_cap = cap;
    }
    d->neighbours[d->neighbour_count++] = *n;
}

/* ---- the diagnoses ----------------------------------------------------------------------- */

static struct rep_diagnosis *add(struct rep_diag *d, const char *kind, int family,
                                 const struct dec_addr *addr, uint16_t port)
{
    if (d->result_count == MAX_DIAGNOSES) {
        return NULL;
    }
    struct rep_diagnosis *r = &d->results[d->result_count++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->family = (uint8_t)family;
    r->addr = *addr;
    r->port = port;
    return r;
}

static bool overlaps(int64_t a_first, int64_t a_last, int64_t b_first, int64_t b_last)
{
    return a_first != 0 && b_first != 0 && a_first <= b_last + OVERLAP_SLACK_NS &&
           b_first <= a_last + OVERLAP_SLACK_NS;
}

static void diagnose_service(struct rep_diag *d, const struct service_info *s)
{
    char name[64];
    rep_endpoint_str(s->family, &s->addr, s->port, name, sizeof(name));
    uint64_t ok = s->counts[REP_ACCEPTED];
    uint64_t lost = s->counts[REP_DROPPED] + s->counts[REP_HALF_OPEN];
    uint64_t refused = s->counts[REP_REFUSED];
    struct rep_diagnosis *r;

    /* Every unanswered SYN from one client that is never accepted here, while others are:
     * a rule about that source (single-client), not a full queue, which drops whoever comes
     * when it is full. */
    bool one_source_dropped = s->lost_clients == 1 && !s->lost_client_accepted;
    bool mixed = ok > 0 && lost > 0 && !one_source_dropped &&
                 overlaps(s->ok_first, s->ok_last, s->lost_first,
                          s->lost_last); /* a reset right after the handshake alone is also what an
                                          * application that accepts and aborts does: it counts only
                                          * next to accepted connections of the same service */
    bool quick = s->quick_resets >= 2 && ok > 0;
    if (mixed || s->synack_after_ack > 0 || quick) {
        if ((r = add(d, "overloaded", s->family, &s->addr, s->port)) != NULL) {
            char facts[256];
            int n = snprintf(facts, sizeof(facts), "%s accepted %llu attempt%s", name,
                             (unsigned long long)ok, ok == 1 ? "" : "s");
            if (lost > 0 && n > 0 && (size_t)n < sizeof(facts)) {
                n += snprintf(facts + n, sizeof(facts) - (size_t)n,
                              " and silently dropped %llu in the same period",
                              (unsigned long long)lost);
            }
            if (s->synack_after_ack > 0 && n > 0 && (size_t)n < sizeof(facts)) {
                n += snprintf(facts + n, sizeof(facts) - (size_t)n,
                              "; it re-sent its SYN-ACK after the client's ACK %u time%s",
                              s->synack_after_ack, s->synack_after_ack == 1 ? "" : "s");
            }
            if (quick && n > 0 && (size_t)n < sizeof(facts)) {
                snprintf(facts + n, sizeof(facts) - (size_t)n,
                         "; it reset %u connections right after the handshake", s->quick_resets);
            }
            snprintf(r->summary, sizeof(r->summary),
                     "%s. The listener's queues are full: Linux drops SYNs (and ACKs it cannot "
                     "queue) silently instead of refusing them.",
                     facts);
            r->causes = "the application does not call accept() fast enough (blocked, busy, too "
                        "few workers); the listen() backlog or net.core.somaxconn is too small; "
                        "with tcp_abort_on_overflow=1 the kernel answers with a RST instead";
            r->ruled_out = "a firewall drop (it would drop every SYN, not some); nothing "
                           "listening (the kernel would refuse with a RST)";
            r->next = "`ss -ltn 'sport = :PORT'` (Recv-Q up to Send-Q: accept queue full); "
                      "`nstat -az TcpExtListenOverflows TcpExtListenDrops`; "
                      "`sysctl net.core.somaxconn net.ipv4.tcp_max_syn_backlog`";
        }
    }
    uint32_t cookies = s->cookie_like + (s->synacks_full > 0 ? s->synacks_stripped : 0);
    if (cookies >= 1) {
        if ((r = add(d, "syn-cookies", s->family, &s->addr, s->port)) != NULL) {
            snprintf(r->summary, sizeof(r->summary),
                     "%u of %u handshakes with %s show a Linux SYN cookie (a SYN-ACK stripped "
                     "to its MSS, or data segments sized from the cookie MSS table instead of "
                     "the client's MSS): the server's SYN queue overflowed, or cookies are "
                     "forced.",
                     cookies, s->synacks, name);
            r->causes = "a SYN flood, or a listener so busy that its SYN queue fills "
                        "(tcp_max_syn_backlog); tcp_syncookies=2 sends cookies always";
            r->ruled_out = "a lost connection: cookies still let clients in, with fewer TCP "
                           "options (window scaling, SACK may be lost)";
            r->next = "`nstat -az TcpExtSyncookiesSent TcpExtSyncookiesRecv "
                      "TcpExtSyncookiesFailed TcpExtListenDrops`; `sysctl "
                      "net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog`";
        }
    }
    /* refusals spread evenly, about one per 0.5-2 s, while other SYNs go unanswered */
    int64_t spacing = refused >= 2 ? (s->rst_last - s->rst_first) / (int64_t)(refused - 1) : 0;
    if (refused >= 2 && lost >= 1 &&
        overlaps(s->ref_first, s->ref_last, s->lost_first, s->lost_last) &&
        spacing >= 500000000LL && spacing <= 2000000000LL) {
        if ((r = add(d, "rate-limited", s->family, &s->addr, s->port)) != NULL) {
            snprintf(r->summary, sizeof(r->summary),
                     "%s refused %llu attempts and ignored %llu in the same period, the "
                     "refusals %.1f s apart on average: a reject rule with a rate limit (the "
                     "packets over the limit are dropped).",
                     name, (unsigned long long)refused, (unsigned long long)lost,
                     (double)spacing / 1e9);
            r->causes = "a firewall rule such as `limit rate 1/second ... reject` followed by a "
                        "drop; ICMP or RST rate limiting (net.ipv4.icmp_ratelimit, "
                        "tcp_invalid_ratelimit)";
            r->ruled_out = "an overloaded listener (it would accept some, not refuse them)";
            r->next = "`nft list ruleset | grep -n limit`; `iptables -S | grep limit`; `sysctl "
                      "net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec`";
        }
    }
    if (s->middlebox_resets > 0) {
        if ((r = add(d, "middlebox-reset", s->family, &s->addr, s->port)) != NULL) {
            snprintf(r->summary, sizeof(r->summary),
                     "%u attempt%s to %s %s reset by a device on the path, not by the server: "
                     "%s.",
                     s->middlebox_resets, s->middlebox_resets == 1 ? "" : "s", name,
                     s->middlebox_resets == 1 ? "was" : "were",
                     s->example != 0 ? d->examples[s->example - 1] : "");
            r->causes = "a firewall, IPS or proxy between client and server rejecting with a "
                        "TCP reset (nft/iptables `reject with tcp reset` in a forward chain, "
                        "an IPS signature, a load balancer)";
            r->ruled_out = "the server itself (its own packets come from another distance)";
            r->next = "`traceroute -T -p PORT SERVER` to find the hop; the firewall rules "
                      "there (`nft list ruleset`); capture on the server to see whether the "
                      "SYN arrives at all";
        }
    }
    if (refused > 0 && s->counts[REP_REFUSED_BY_MIDDLEBOX] > 0) {
        if ((r = add(d, "mixed-refusal", s->family, &s->addr, s->port)) != NULL) {
            snprintf(r->summary, sizeof(r->summary),
                     "%s was refused %llu time%s by the host itself and %llu time%s by a "
                     "device on the path.",
                     name, (unsigned long long)refused, refused == 1 ? "" : "s",
                     (unsigned long long)s->counts[REP_REFUSED_BY_MIDDLEBOX],
                     s->counts[REP_REFUSED_BY_MIDDLEBOX] == 1 ? "" : "s");
            r->causes = "two problems at once: a middlebox rule for some clients or source "
                        "ports, and a closed port or host firewall for the others";
            r->ruled_out = "a single cause";
            r->next = "compare the source ports and clients of both kinds; `traceroute -T -p "
                      "PORT SERVER`; `ss -ltnp 'sport = :PORT'` on the server";
        }
    }
    uint64_t failed = 0;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v) && v != REP_CLIENT_ABORT) {
            failed += s->counts[v];
        }
    }
    if (failed >= 1 && s->failed_clients == 1 && s->ok_from_other_client && s->ok_clients >= 1 &&
        !(s->ok_clients == 1 && same_addr(&s->ok_client, &s->failed_client))) {
        if ((r = add(d, "single-client", s->family, &s->addr, s->port)) != NULL) {
            char bad[64], good[64];
            dec_addr_str(&s->failed_client, s->family, bad, sizeof(bad));
            dec_addr_str(&s->ok_client, s->family, good, sizeof(good));
            snprintf(r->summary, sizeof(r->summary),
                     "every failure at %s (%llu) comes from %s, while %s%s connect%s fine.", name,
                     (unsigned long long)failed, bad, good, s->ok_clients > 1 ? " and others" : "",
                     s->ok_clients > 1 ? "" : "s");
            r->causes = "a rule for that source address (firewall, security group, fail2ban, "
                        "a rate limit per source), or a route, NAT or MTU problem on that "
                        "client's path";
            r->ruled_out = "the service being down (it accepts other clients)";
            r->next = "`nft list ruleset | grep CLIENT` and the fail2ban/security-group lists "
                      "on the server; `ip route get SERVER` on the failing client";
        }
    }
    if (s->port_unreachable > 0) {
        if ((r = add(d, "firewall-reject", s->family, &s->addr, s->port)) != NULL) {
            snprintf(r->summary, sizeof(r->summary),
                     "%u attempt%s to %s got ICMP port unreachable: for TCP that is a firewall "
                     "REJECT rule, since a TCP stack answers a closed port with a RST.",
                     s->port_unreachable, s->port_unreachable == 1 ? "" : "s", name);
            r->causes = "a plain `reject` rule (nft) or `-j REJECT` (iptables) on the host that "
                        "sent the ICMP error";
            r->ruled_out = "a closed port (RST), a silent drop (no answer)";
            r->next = "`nft list ruleset | grep -n reject` or `iptables -S | grep REJECT` on "
                      "the host that sent the error";
        }
    }
}

static void diagnose_neighbour(struct rep_diag *d, const struct flow_neighbour *n)
{
    const struct host_info *h = find_host(d, n->family, &n->addr);
    if (h != NULL && h->attempts > 0) {
        return; /* SYNs did go to it: not a local resolution failure */
    } /* ARP requests are broadcast but replies unicast: a capture sees the requests of every
       * host on the segment and only the replies to itself. So an unanswered request counts
       * only when the capture is the asker's own: its connection attempts are in it, or the
       * capture holds no connection attempt at all (taken on the client while connect()
       * failed locally). And it must have asked again (Linux asks 3 times). */
    const struct host_info *asking = find_host(d, n->family, &n->asked_by);
    bool own_capture = (asking != NULL && asking->as_client > 0) || d->attempts == 0;
    if (!own_capture || n->requests < 2) {
        return;
    }
    struct rep_diagnosis *r = add(d, "unresolved-neighbour", n->family, &n->addr, 0);
    if (r == NULL) {
        return;
    }
    char addr[64], asker[64];
    dec_addr_str(&n->addr, n->family, addr, sizeof(addr));
    dec_addr_str(&n->asked_by, n->family, asker, sizeof(asker));
    snprintf(r->summary, sizeof(r->summary),
             "%s asked %u time%s for %s (%s) and never got an answer, and no SYN to %s is on "
             "the wire: the connection fails on the client itself with \"No route to host\" "
             "(EHOSTUNREACH).",
             asker, n->requests, n->requests == 1 ? "" : "s", addr,
             n->family == 4 ? "ARP" : "neighbour solicitation", addr);
    r->causes = "the host is down or disconnected, the address is wrong or moved, the host is "
                "on another VLAN, or a firewall drops ARP/ND";
    r->ruled_out = "a firewall dropping the connection (the SYN never left the client)";
    r->next = "`ip neigh show ADDR` (FAILED or INCOMPLETE) on the client; `arping` / "
              "`ndisc6` to the address; check that the host is up and where it is plugged in";
}

/* Every failure in the capture, across several services, comes from one client while other
 * clients connect: the problem is on that client's side or in a rule about it. (One service
 * only is the per-service single-client diagnosis.) */
static void diagnose_one_client(struct rep_diag *d)
{
    bool other_ok =
        d->ok_clients == 2 || (d->ok_clients == 1 && !same_addr(&d->ok_client, &d->failed_client));
    if (d->failed_clients != 1 || d->failed_services < 2 || !other_ok) {
        return;
    }
    struct rep_diagnosis *r = add(d, "single-client", d->failed_family, &d->failed_client, 0);
    if (r == NULL) {
        return;
    }
    r->about_client = true;
    char bad[64];
    dec_addr_str(&d->failed_client, d->failed_family, bad, sizeof(bad));
    snprintf(r->summary, sizeof(r->summary),
             "all %llu failures in the capture, at %u services, come from %s, while other "
             "clients connect.",
             (unsigned long long)d->client_failures, d->failed_services, bad);
    r->causes = "the client's own firewall, routes, DNS answers or MTU; a rule about its "
                "address on the way (security group, fail2ban, per-source rate limit)";
    r->ruled_out = "the services being down (they accept other clients)";
    r->next = "on ADDR: `ip route get` and `tracepath` to the servers it fails to reach, `nft "
              "list ruleset`; on those servers and the firewalls on the way: rules that match "
              "ADDR";
}

size_t rep_diag_finish(struct rep_diag *d, const struct rep_diagnosis **out)
{
    *out = NULL;
    if (d == NULL) {
        return 0;
    }
    d->result_count = 0;
    uint32_t *order = malloc(((size_t)d->service_count + 1) * sizeof(*order));
    uint32_t ordered = order != NULL ? service_order(d, order) : 0;
    for (uint32_t i = 0; i < d->service_count; i++) {
        diagnose_service(d, &d->services[ordered == d->service_count ? order[i] : i]);
    }
    free(order);
    for (uint32_t i = 0; i < d->neighbour_count; i++) {
        diagnose_neighbour(d, &d->neighbours[i]);
    }
    diagnose_one_client(d);
    *out = d->results;
    return d->result_count;
}

/* Replaces PORT, SERVER and ADDR in a diagnosis's commands by its values. */
void rep_diag_next(const struct rep_diagnosis *r, char *buf, size_t len)
{
    char ip[64], port[8];
    dec_addr_str(&r->addr, r->family, ip, sizeof(ip));
    snprintf(port, sizeof(port), "%u", (unsigned)r->port);
    size_t o = 0;
    for (const char *p = r->next; *p != '\0' && o + 1 < len;) {
        const char *value = NULL;
        size_t skip = 0;
        if (strncmp(p, "PORT", 4) == 0 && r->port != 0) {
            value = port;
            skip = 4;
        } else if (strncmp(p, "SERVER", 6) == 0) {
            value = ip;
            skip = 6;
        } else if (strncmp(p, "ADDR", 4) == 0) {
            value = ip;
            skip = 4;
        }
        if (value != NULL) {
            int n = snprintf(buf + o, len - o, "%s", value);
            o = n < 0 ? o : (size_t)n + o >= len ? len - 1 : o + (size_t)n;
            p += skip;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o < len ? o : len - 1] = '\0';
}
