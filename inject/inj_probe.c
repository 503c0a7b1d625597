/* inj_probe.c - SYN probes with libnet, answers through capture/ and decode/, a keyed cookie in
 * each ISN so that only answers to our own probes are believed, a RST after every SYN-ACK so
 * that no half-open connection is left on the target, and TTL-limited probes (--trace) to find
 * where a filtered port's SYNs die. */
#include "inject.h"

#include <errno.h>
#include <libnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

#define SPORT_BASE 40000u
#define SPORT_SPAN 20000u
#define TRACE_MAX_TTL 12
#define PROBE_MSS 1460
#define POLL_MS 2

/* One SYN (with its retransmissions) to one port, or one TTL-limited trace probe. */
struct slot {
    uint32_t port_index;
    uint16_t sport;
    uint32_t isn;
    uint8_t ttl;
    bool trace;
    unsigned sent;
    int64_t last_sent;
    bool done;
    enum inj_state state;
    const char *reason;
    struct dec_addr from;
    uint8_t answer_ttl, icmp_type, icmp_code;
    int64_t rtt_ns;
};

struct inj_probe {
    struct inj_config cfg;
    uint16_t *ports;
    libnet_t *net;
    struct cap_source *cap;
    struct dec_addr source;
    uint64_t secret; /* keys the ISN cookies; new every run */
    struct slot *slots;
    size_t slot_count, slot_cap;
    size_t main_slots; /* slots before the trace ones */
    size_t next_unsent;
    uint32_t *index; /* open addressing on (dport, sport): slot number + 1 */
    size_t index_mask;
    double allowance;
    int64_t last_tick;
    int64_t max_rtt;
    bool tracing;
    const atomic_int *stop;
    struct inj_stats stats;
    char *errbuf;
    size_t errlen;
    int error;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* The ISN cookie: the tuple hashed with the run's secret (zmap's validation idea). An answer
 * must acknowledge it + 1, or an ICMP error quote it, to be believed. */
static uint32_t cookie(const struct inj_probe *p, uint16_t sport, uint16_t dport, uint8_t ttl)
{
    uint64_t h = p->secret;
    for (size_t i = 0; i < 16; i += 8) {
        uint64_t a = 0, b = 0;
        memcpy(&a, p->source.b + i, 8);
        memcpy(&b, p->cfg.target.b + i, 8);
        h = mix(h ^ a);
        h = mix(h ^ b);
    }
    return (uint32_t)mix(h ^ ((uint64_t)sport << 24 | (uint64_t)dport << 8 | ttl));
}

/* ---- the slot index ------------------------------------------------------------------------ */

static size_t key_pos(const struct inj_probe *p, uint16_t dport, uint16_t sport)
{
    return (size_t)mix(p->secret ^ ((uint64_t)dport << 16 | sport)) & p->index_mask;
}

static struct slot *find_slot(const struct inj_probe *p, uint16_t dport, uint16_t sport)
{
    for (size_t pos = key_pos(p, dport, sport), n = 0; n <= p->index_mask;
         pos = (pos + 1) & p->index_mask, n++) {
        uint32_t v = p->index[pos];
        if (v == 0) {
            return NULL;
        }
        struct slot *s = &p->slots[v - 1];
        if (s->sport == sport && p->ports[s->port_index] == dport) {
            return s;
        }
    }
    return NULL;
}

static int add_slot(struct inj_probe *p, uint32_t port_index, uint8_t ttl, bool trace)
{
    if (p->slot_count == p->slot_cap) {
        size_t cap = p->slot_cap ? p->slot_cap * 2 : 256;
        struct slot *grown = realloc(p->slots, cap * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        p->slots = grown;
        p->slot_cap = cap;
    }
    /* the index stays at most half full */
    if ((p->slot_count + 1) * 2 > p->index_mask + 1) {
        size_t mask = p->index_mask ? p->index_mask * 2 + 1 : 1023;
        uint32_t *index = calloc(mask + 1, sizeof(*index));
        if (index == NULL) {
            return -1;
        }
        free(p->index);
        p->index = index;
        p->index_mask = mask;
        for (size_t i = 0; i < p->slot_count; i++) {
            size_t pos = key_pos(p, p->ports[p->slots[i].port_index], p->slots[i].sport);
            while (p->index[pos] != 0) {
                pos = (pos + 1) & p->index_mask;
            }
            p->index[pos] = (uint32_t)i + 1;
        }
    }
    struct slot *s = &p->slots[p->slot_count];
    memset(s, 0, sizeof(*s));
    s->port_index = port_index;
    s->sport = (uint16_t)(SPORT_BASE + (p->slot_count % SPORT_SPAN));
    s->ttl = ttl;
    s->trace = trace;
    s->isn = cookie(p, s->sport, p->ports[port_index], ttl);
    s->rtt_ns = -1;
    size_t pos = key_pos(p, p->ports[port_index], s->sport);
    while (p->index[pos] != 0) {
        pos = (pos + 1) & p->index_mask;
    }
    p->index[pos] = (uint32_t)++p->slot_count;
    return 0;
}

/* ---- opening ------------------------------------------------------------------------------- */

/* The source address the kernel would use toward the target: connect() a UDP socket (no packet
 * is sent) and read its name. Fails with ENETUNREACH when there is no route. */
static int source_address(const struct inj_config *cfg, struct dec_addr *src, char *errbuf,
                          size_t errlen)
{
    char ip[64];
    dec_addr_str(&cfg->target, cfg->family, ip, sizeof(ip));
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (cfg->family == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(9);
        memcpy(&sin->sin_addr, cfg->target.b, 4);
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(9);
        memcpy(&sin6->sin6_addr, cfg->target.b, 16);
        len = sizeof(*sin6);
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
        }
        snprintf(errbuf, errlen, "no route to %s: %s", ip, strerror(err));
        return -INJ_ERR_ROUTE;
    }
    len = sizeof(ss);
    int rc = getsockname(fd, (struct sockaddr *)&ss, &len);
    close(fd);
    if (rc != 0) {
        snprintf(errbuf, errlen, "no source address toward %s: %s", ip, strerror(errno));
        return -INJ_ERR_ROUTE;
    }
    memset(src, 0, sizeof(*src));
    if (cfg->family == 4) {
        memcpy(src->b, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else {
        memcpy(src->b, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
    return 0;
}

/* Cuts trailing newlines and spaces: messages are one line. */
static void trim(char *text)
{
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r')) {
        text[--len] = '\0';
    }
}

static int link_ok(int linktype)
{
    return dec_link_supported(linktype) ? 1 : 0;
}

int inj_open(struct inj_probe **out, const struct inj_config *cfg, char *errbuf, size_t errlen)
{
    *out = NULL;
    struct inj_probe *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -INJ_ERR_NOMEM;
    }
    p->cfg = *cfg;
    p->ports = malloc(cfg->port_count * sizeof(*p->ports));
    if (p->ports == NULL) {
        free(p);
        snprintf(errbuf, errlen, "out of memory");
        return -INJ_ERR_NOMEM;
    }
    memcpy(p->ports, cfg->ports, cfg->port_count * sizeof(*p->ports));
    p->cfg.ports = p->ports;
    int rc = source_address(cfg, &p->source, errbuf, errlen);
    if (rc != 0) {
        inj_close(p);
        return rc;
    }
    if (getrandom(&p->secret, sizeof(p->secret), 0) != (ssize_t)sizeof(p->secret)) {
        p->secret = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
    }
    char lerr[LIBNET_ERRBUF_SIZE] = "";
    p->net = libnet_init(cfg->family == 4 ? LIBNET_RAW4 : LIBNET_RAW6, NULL, lerr);
    if (p->net == NULL) {
        trim(lerr); /* libnet ends its messages with a newline */
        bool perm = strstr(lerr, "ermission") != NULL || strstr(lerr, "ot permitted") != NULL;
        snprintf(errbuf, errlen,
                 perm ? "sending raw SYN probes is not permitted: run as root, or give the "
                        "program the capabilities with 'setcap cap_net_raw,cap_net_admin=eip "
                        "synscope' (%s)"
                      : "cannot open a raw socket: %s",
                 lerr);
        inj_close(p);
        return perm ? -INJ_ERR_PERM : -INJ_ERR_OPEN;
    }
    char ip[64], filter[128];
    dec_addr_str(&cfg->target, cfg->family, ip, sizeof(ip));
    /* the target's answers, and ICMP errors from routers on the way */
    snprintf(filter, sizeof(filter), "host %s or icmp or icmp6", ip);
    struct cap_live_config live = {
        .interface = "any", .filter = filter, .snaplen = 256, .buffer_bytes = 4 << 20};
    char cerr[CAP_ERRBUF_SIZE];
    rc = cap_open_live(&p->cap, &live, link_ok, cerr, sizeof(cerr));
    if (rc != 0) {
        snprintf(errbuf, errlen, "%s", cerr);
        inj_close(p);
        return rc == -CAP_ERR_PERM ? -INJ_ERR_PERM : -INJ_ERR_OPEN;
    }
    for (uint32_t i = 0; i < cfg->port_count; i++) {
        for (unsigned k = 0; k < (cfg->count ? cfg->count : 1); k++) {
            if (add_slot(p, i, 64, false) != 0) {
                snprintf(errbuf, errlen, "out of memory");
                inj_close(p);
                return -INJ_ERR_NOMEM;
            }
        }
    }
    p->main_slots = p->slot_count;
    *out = p;
    return 0;
}

void inj_close(struct inj_probe *p)
{
    if (p == NULL) {
        return;
    }
    if (p->net != NULL) {
        libnet_destroy(p->net);
    }
    cap_close(p->cap);
    free(p->slots);
    free(p->index);
    free(p->ports);
    free(p);
}

/* ---- sending ------------------------------------------------------------------------------- */

/* Builds and sends one TCP segment (a SYN with an MSS option, or a bare RST) from our source. */
static int send_segment(struct inj_probe *p, uint16_t sport, uint16_t dport, uint32_t seq,
                        uint8_t flags, uint8_t ttl)
{
    static const uint8_t mss_option[4] = {2, 4, PROBE_MSS >> 8, PROBE_MSS & 0xff};
    bool syn = (flags & TH_SYN) != 0;
    uint32_t opt_len = syn ? sizeof(mss_option) : 0;
    uint16_t tcp_len = (uint16_t)(LIBNET_TCP_H + opt_len);
    libnet_clear_packet(p->net);
    if (syn && libnet_build_tcp_options(mss_option, opt_len, p->net, 0) == -1) {
        goto fail;
    }
    if (libnet_build_tcp(sport, dport, seq, 0, flags, syn ? 64240 : 0, 0, 0, tcp_len, NULL, 0,
                         p->net, 0) == -1) {
        goto fail;
    }
    if (p->cfg.family == 4) {
        uint32_t src, dst;
        memcpy(&src, p->source.b, 4);
        memcpy(&dst, p->cfg.target.b, 4);
        if (libnet_build_ipv4((uint16_t)(LIBNET_IPV4_H + tcp_len), 0,
                              (uint16_t)(libnet_get_prand(LIBNET_PRu16)), 0x4000, ttl, IPPROTO_TCP,
                              0, src, dst, NULL, 0, p->net, 0) == -1) {
            goto fail;
        }
    } else {
        struct libnet_in6_addr src, dst;
        memcpy(&src, p->source.b, 16);
        memcpy(&dst, p->cfg.target.b, 16);
        if (libnet_build_ipv6(0, 0, tcp_len, IPPROTO_TCP, ttl, src, dst, NULL, 0, p->net, 0) ==
            -1) {
            goto fail;
        }
    }
    if (libnet_write(p->net) == -1) {
        goto fail;
    }
    if (syn) {
        p->stats.sent++; /* SYN probes; the RSTs that close open ports are not counted */
    }
    return 0;
fail:
    snprintf(p->errbuf, p->errlen, "sending a probe failed: %s", libnet_geterror(p->net));
    trim(p->errbuf);
    p->error = -INJ_ERR_SEND;
    return -1;
}

static int64_t answer_wait(const struct inj_probe *p)
{
    int64_t wait = p->cfg.wait_ns;
    return 3 * p->max_rtt > wait ? 3 * p->max_rtt : wait;
}

/* The next slot due: never sent, or unanswered past the wait with retries left. */
static struct slot *next_due(struct inj_probe *p, int64_t now)
{
    size_t first = p->tracing ? p->main_slots : 0;
    if (p->next_unsent < first) {
        p->next_unsent = first;
    }
    if (p->next_unsent < p->slot_count) {
        return &p->slots[p->next_unsent++];
    }
    unsigned tries = 1 + (p->tracing ? 0 : p->cfg.retries);
    for (size_t i = first; i < p->slot_count; i++) {
        struct slot *s = &p->slots[i];
        if (!s->done && s->sent < tries && now - s->last_sent >= answer_wait(p)) {
            return s;
        }
    }
    return NULL;
}

static bool phase_finished(const struct inj_probe *p, int64_t now)
{
    size_t first = p->tracing ? p->main_slots : 0;
    unsigned tries = 1 + (p->tracing ? 0 : p->cfg.retries);
    if (p->next_unsent < p->slot_count) {
        return false;
    }
    for (size_t i = first; i < p->slot_count; i++) {
        const struct slot *s = &p->slots[i];
        if (!s->done && (s->sent < tries || now - s->last_sent < answer_wait(p))) {
            return false;
        }
    }
    return true;
}

/* After the main phase, with --trace: TTL-limited SYNs to every port that stayed silent. */
static void start_trace(struct inj_probe *p)
{
    p->tracing = true;
    for (uint32_t i = 0; i < p->cfg.port_count; i++) {
        bool silent = true;
        for (size_t k = 0; k < p->main_slots; k++) {
            silent = silent && !(p->slots[k].port_index == i && p->slots[k].done);
        }
        for (uint8_t ttl = 1; silent && ttl <= TRACE_MAX_TTL; ttl++) {
            if (add_slot(p, i, ttl, true) != 0) {
                return;
            }
        }
    }
}

static int on_tick(void *user)
{
    struct inj_probe *p = user;
    int64_t now = now_ns();
    if (p->stop != NULL && *p->stop) {
        return 1;
    }
    /* token bucket: rate_pps probes a second, in small bursts at most */
    double rate = p->cfg.rate_pps ? (double)p->cfg.rate_pps : 100.0;
    if (p->last_tick != 0) {
        p->allowance += (double)(now - p->last_tick) * rate / 1e9;
    }
    p->last_tick = now;
    double burst = rate / 50.0 > 1.0 ? rate / 50.0 : 1.0;
    if (p->allowance > burst) {
        p->allowance = burst;
    }
    while (p->allowance >= 1.0) {
        struct slot *s = next_due(p, now);
        if (s == NULL) {
            break;
        }
        if (send_segment(p, s->sport, p->ports[s->port_index], s->isn, TH_SYN, s->ttl) != 0) {
            return 1;
        }
        s->sent++;
        s->last_sent = now;
        p->allowance -= 1.0;
    }
    if (phase_finished(p, now)) {
        if (!p->tracing && p->cfg.trace) {
            start_trace(p);
            return p->slot_count > p->main_slots ? 0 : 1;
        }
        return 1;
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------------------------- */

static bool addr_is(const struct dec_addr *a, const struct dec_addr *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static const char *icmp_reason(int family, uint8_t type, uint8_t code)
{
    /* nmap's reason names (RFC 792 / RFC 4443 codes) */
    static const char *const v4[] = {
        "net-unreach",   "host-unreach",     "proto-unreach",   "port-unreach",
        "frag-needed",   "source-route",     "net-unknown",     "host-unknown",
        "host-isolated", "net-prohibited",   "host-prohibited", "net-tos",
        "host-tos",      "admin-prohibited", "host-precedence", "precedence-cutoff"};
    static const char *const v6[] = {"no-route",     "admin-prohibited", "beyond-scope",
                                     "addr-unreach", "port-unreach",     "policy-failed",
                                     "reject-route"};
    if ((family == 4 && type == 11) || (family == 6 && type == 3)) {
        return "time-exceeded";
    }
    if (family == 4) {
        return code < sizeof(v4) / sizeof(v4[0]) ? v4[code] : "unreach";
    }
    return code < sizeof(v6) / sizeof(v6[0]) ? v6[code] : "unreach";
}

static void on_answer(struct inj_probe *p, struct slot *s, const struct dec_event *ev, int64_t ts,
                      enum inj_state state, const char *reason)
{
    p->stats.packets++;
    if (s->done) {
        return; /* a duplicate answer */
    }
    s->done = true;
    s->state = state;
    s->reason = reason;
    s->from = ev->src;
    s->answer_ttl = ev->ttl;
    s->icmp_type = ev->icmp_type;
    s->icmp_code = ev->icmp_code;
    s->rtt_ns = ts - s->last_sent;
    if (s->rtt_ns < 0) {
        s->rtt_ns = 0;
    }
    if (!s->trace && s->rtt_ns > p->max_rtt) {
        p->max_rtt = s->rtt_ns;
    }
}

static int on_packet(const struct cap_packet *pkt, void *user)
{
    struct inj_probe *p = user;
    struct dec_event ev;
    enum dec_status st = dec_packet(pkt->data, pkt->caplen, pkt->wirelen, pkt->linktype, &ev);
    if (st == DEC_OK_TCP && ev.family == p->cfg.family && addr_is(&ev.src, &p->cfg.target) &&
        addr_is(&ev.dst, &p->source)) {
        struct slot *s = find_slot(p, ev.sport, ev.dport);
        bool valid = s != NULL && (ev.tcp_flags & TH_ACK) && ev.ack == s->isn + 1;
        if (!valid) {
            p->stats.ignored_answers++;
            return 0;
        }
        if ((ev.tcp_flags & (TH_SYN | TH_RST)) == TH_SYN) {
            /* close it at once: no half-open connection left on the target */
            (void)send_segment(p, s->sport, ev.sport, s->isn + 1, TH_RST, 64);
            on_answer(p, s, &ev, pkt->ts_ns, INJ_OPEN, "syn-ack");
        } else if (ev.tcp_flags & TH_RST) {
            on_answer(p, s, &ev, pkt->ts_ns, INJ_CLOSED, "reset");
        } else {
            p->stats.ignored_answers++;
        }
    } else if (st == DEC_OK_ICMP && ev.quoted_family == p->cfg.family &&
               addr_is(&ev.quoted_src, &p->source) && addr_is(&ev.quoted_dst, &p->cfg.target)) {
        struct slot *s = find_slot(p, ev.quoted_dport, ev.quoted_sport);
        if (s == NULL || ev.quoted_seq != s->isn) {
            p->stats.ignored_answers++;
            return 0;
        }
        const char *reason = icmp_reason(ev.family, ev.icmp_type, ev.icmp_code);
        on_answer(p, s, &ev, pkt->ts_ns, INJ_UNREACHABLE, reason);
    }
    return p->error != 0 ? 1 : 0;
}

/* ---- results ------------------------------------------------------------------------------- */

static void summarize(const struct inj_probe *p, uint32_t port_index, struct inj_port *r)
{
    memset(r, 0, sizeof(*r));
    r->port = p->ports[port_index];
    r->rtt_ns = -1;
    const struct slot *first_of[INJ_STATE_COUNT] = {NULL};
    for (size_t i = 0; i < p->main_slots; i++) {
        const struct slot *s = &p->slots[i];
        if (s->port_index != port_index) {
            continue;
        }
        enum inj_state st = s->done ? s->state : INJ_FILTERED;
        r->probes += s->sent;
        r->answers += s->done;
        r->states[st]++;
        if (first_of[st] == NULL) {
            first_of[st] = s;
        }
    }
    enum inj_state best = INJ_FILTERED;
    for (int st = 0; st < INJ_STATE_COUNT; st++) {
        if (r->states[st] > r->states[best]) {
            best = (enum inj_state)st;
        }
    }
    r->state = best;
    const struct slot *s = first_of[best];
    if (s != NULL && s->done) {
        r->answered = true;
        r->reason = s->reason;
        r->from = s->from;
        r->ttl = s->answer_ttl;
        r->icmp_type = s->icmp_type;
        r->icmp_code = s->icmp_code;
        r->rtt_ns = s->rtt_ns;
    } else {
        r->reason = "no-response";
    }
    /* --trace: the farthest router that answered a TTL-limited SYN with time exceeded */
    for (size_t i = p->main_slots; i < p->slot_count; i++) {
        const struct slot *t = &p->slots[i];
        if (t->port_index == port_index && t->done && strcmp(t->reason, "time-exceeded") == 0 &&
            (!r->has_last_hop || t->ttl > r->last_hop_ttl)) {
            r->has_last_hop = true;
            r->last_hop = t->from;
            r->last_hop_ttl = t->ttl;
        }
    }
}

int inj_run(struct inj_probe *p, struct inj_port *results, struct inj_stats *stats,
            const atomic_int *stop, char *errbuf, size_t errlen)
{
    p->stop = stop;
    p->errbuf = errbuf;
    p->errlen = errlen;
    p->allowance = 1.0;
    char cerr[CAP_ERRBUF_SIZE];
    int rc = cap_loop_live(p->cap, on_packet, on_tick, p, POLL_MS, cerr, sizeof(cerr));
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", cerr);
        return -INJ_ERR_OPEN;
    }
    if (p->error != 0) {
        return p->error;
    }
    for (uint32_t i = 0; i < p->cfg.port_count; i++) {
        summarize(p, i, &results[i]);
    }
    *stats = p->stats;
    return 0;
}
