/* rep_diag.c - the evidence across attempts: what each server host's own packets look like,
 * whose RST it was (the host's or a middlebox's), and what each service's attempts showed, for
 * the diagnoses rep_diag_rules.c makes at the end. Judgement only: the facts come from
 * decode/'s attempts. */
#include "rep_diag_int.h"
#include "rep_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rep_diag *rep_diag_create(void)
{
    struct rep_diag *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    /* the seed only has to be unknown to whoever made the capture: the heap address differs
     * from run to run (ASLR), and nothing printed depends on it */
    d->seed = (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ULL;
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

struct host_info *rep_diag_find_host(const struct rep_diag *d, int family,
                                     const struct dec_addr *addr)
{
    uint32_t e = host_number((struct rep_diag *)d, family, addr, host_hash(d, family, addr), false);
    return e != UINT32_MAX ? &d->hosts[e] : NULL;
}

/* The service of an attempt's server address:port, a new one when add and there is room;
 * NULL when none. */
static struct service_info *service_of(struct rep_diag *d, const struct flow_attempt *a, bool add)
{
    uint32_t hash = rep_key_hash(d->seed, a->family, &a->server, a->server_port);
    uint32_t pos = hash, e;
    while ((e = rep_index_next(&d->service_index, hash, &pos)) != UINT32_MAX) {
        struct service_info *s = &d->services[e];
        if (s->port == a->server_port && s->family == a->family &&
            rep_addr_equal(&s->addr, &a->server)) {
            return s;
        }
    }
    if (!add || d->service_count >= DIAG_MAX_SERVICES || !rep_index_has_room(&d->service_index) ||
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
    if (a->answer == FLOW_ANS_ICMP && rep_addr_equal(&a->reply.from, &a->server)) {
        own_packet(h, &a->reply);
    }
}

/* ---- whose RST ----------------------------------------------------------------------------- */

static void describe_host_hops(char *buf, size_t len, const struct flow_attempt *a,
                               const struct host_info *h)
{
    char ip[64];
    rep_addr_str(a->family, &a->server, ip);
    snprintf(buf, len, "%s's own packets arrive %d hop%s away", ip, h->hops_min,
             rep_plural(h->hops_min));
}

static bool looks_like_cookie(const struct flow_attempt *a);
static bool synack_stripped(const struct flow_attempt *a);
static bool synack_full(const struct flow_attempt *a);

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
        const struct service_info *s = service_of((struct rep_diag *)d, a, false);
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
                     a->server_end.ttl, rst_hops, rep_plural(rst_hops), a->reply.ttl, ref_hops,
                     rep_plural(ref_hops));
        }
        return;
    }
    if (j->verdict != REP_REFUSED) {
        return;
    }
    const struct host_info *h = d != NULL ? rep_diag_find_host(d, a->family, &a->server) : NULL;
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
                 rst_hops, rep_plural(rst_hops), host_text);
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
    } else if (*count == 1 && !rep_addr_equal(slot, client)) {
        *count = 2;
    }
}

/* One of 64 bits per client address, from a fixed hash (FNV-1a) so that the diagnoses do not
 * change from run to run: a clear bit means "never accepted here" for sure, a set one "maybe". */
static uint64_t client_bit(int family, const struct dec_addr *client)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)family;
    for (size_t i = 0; i < sizeof(client->b); i++) {
        h = (h ^ client->b[i]) * 1099511628211ULL;
    }
    return 1ULL << ((h ^ (h >> 29)) & 63);
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
    struct service_info *s = service_of(d, a, true);
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
                s->ok_clients == 1 ? rep_addr_equal(&s->ok_client, &a->client)
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
        if (s->failed_clients == 0 || !rep_addr_equal(&s->failed_client, &a->client)) {
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
        if (s->lost_clients >= 1 && rep_addr_equal(&s->lost_client, &a->client)) {
            s->lost_client_accepted = true;
        }
        if (s->failed_clients == 0 || !rep_addr_equal(&s->failed_client, &a->client)) {
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
    if (make_room(&d->neighbours, d->neighbour_count, &d->neighbour_cap, sizeof(*d->neighbours),
                  16)) {
        d->neighbours[d->neighbour_count++] = *n;
    }
}
