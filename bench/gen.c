/* gen.c - deterministic generator of realistic handshake captures for the benchmarks.
 *
 * usage: gen [--profile mix|gateway] [--attempts N] [--flood N] [--seed S] [--rate PER_SECOND]
 *            OUT.pcap
 *
 * --profile gateway writes the gateway mix instead (issue 22; its distributions are at "the
 * gateway profile" below). The bench mix (issue 7): 60% accepted with data and a clean close (an
 * HTTP-like exchange of 11 or 12 packets, about 3 KB), 20% refused (RST+ACK), 15% dropped (a SYN
 * and two retransmissions, 1 s and 3 s later), 5% rejected by ICMP admin-prohibited from the
 * server; 10% of all attempts are IPv6. A million attempts make 7.8 million packets in 1.9 GB, the
 * capture issue 7 describes. Attempts start at --rate per second (default 10000), so with
 * retransmissions and closes tens of thousands are open at once; packets are written in time order
 * with correct IP, TCP and ICMP checksums.
 * --flood N writes N distinct SYNs that nobody answers.
 * Prints the expected verdict counts as one JSON object on stdout (the gateway's also its
 * distinct services, clients and servers per family, and its length in seconds): the
 * benchmark's correctness check compares them with synscope's summary. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_ACCEPTED, K_REFUSED, K_DROPPED, K_ICMP, K_FLOOD };

struct event {
    int64_t t_ns;
    uint32_t attempt;
    uint8_t step;
};

static struct event *heap;
static size_t heap_len, heap_cap;

static int earlier(const struct event *a, const struct event *b)
{
    return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->attempt < b->attempt);
}

static void push(struct event e)
{
    if (heap_len == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 1 << 16;
        heap = realloc(heap, heap_cap * sizeof(*heap));
        if (heap == NULL) {
            perror("gen");
            exit(1);
        }
    }
    size_t i = heap_len++;
    heap[i] = e;
    while (i > 0 && earlier(&heap[i], &heap[(i - 1) / 2])) {
        struct event tmp = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static struct event pop(void)
{
    struct event top = heap[0];
    heap[0] = heap[--heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_len && earlier(&heap[l], &heap[m])) {
            m = l;
        }
        if (r < heap_len && earlier(&heap[r], &heap[m])) {
            m = r;
        }
        if (m == i) {
            return top;
        }
        struct event tmp = heap[i];
        heap[i] = heap[m];
        heap[m] = tmp;
        i = m;
    }
}

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* splitmix64: deterministic for a seed */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (uint32_t)(z ^ (z >> 31));
}

/* ---- packets --------------------------------------------------------------------------- */

static FILE *out;
static uint64_t packets;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint32_t sum_bytes(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static void write_frame(int64_t t_ns, const uint8_t *frame, size_t len)
{
    uint8_t rec[16];
    uint32_t sec = (uint32_t)(t_ns / 1000000000), usec = (uint32_t)(t_ns % 1000000000 / 1000);
    memcpy(rec, &sec, 4);
    memcpy(rec + 4, &usec, 4);
    uint32_t l = (uint32_t)len;
    memcpy(rec + 8, &l, 4);
    memcpy(rec + 12, &l, 4);
    fwrite(rec, 1, sizeof(rec), out);
    fwrite(frame, 1, len, out);
    packets++;
}

struct ends {
    int family;
    uint8_t src[16], dst[16];
};

/* Ethernet + IP header for a payload of len bytes of protocol proto; returns the offset of the
 * payload. */
static size_t ip_header(uint8_t *f, const struct ends *e, uint8_t proto, size_t len, uint8_t ttl)
{
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    memcpy(f, macs, 12);
    if (e->family == 4) {
        put16(f + 12, 0x0800);
        uint8_t *ip = f + 14;
        memset(ip, 0, 20);
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)(20 + len));
        put16(ip + 4, (uint16_t)rnd());
        ip[6] = 0x40;
        ip[8] = ttl;
        ip[9] = proto;
        memcpy(ip + 12, e->src, 4);
        memcpy(ip + 16, e->dst, 4);
        put16(ip + 10, fold(sum_bytes(ip, 20, 0)));
        return 34;
    }
    put16(f + 12, 0x86dd);
    uint8_t *ip = f + 14;
    memset(ip, 0, 40);
    ip[0] = 0x60;
    put16(ip + 4, (uint16_t)len);
    ip[6] = proto;
    ip[7] = ttl;
    memcpy(ip + 8, e->src, 16);
    memcpy(ip + 24, e->dst, 16);
    return 54;
}

static uint32_t pseudo_sum(const struct ends *e, uint8_t proto, size_t len)
{
    size_t alen = e->family == 4 ? 4 : 16;
    uint32_t sum = sum_bytes(e->src, alen, 0);
    sum = sum_bytes(e->dst, alen, sum);
    return sum + proto + (uint32_t)len;
}

/* A TCP segment with the TCP options opts (optlen bytes, a multiple of 4). */
static void tcp_opts(int64_t t, const struct ends *e, uint16_t sport, uint16_t dport, uint32_t seq,
                     uint32_t ack, uint8_t flags, size_t payload, uint8_t ttl, const uint8_t *opts,
                     size_t optlen)
{
    uint8_t f[1600];
    size_t tlen = 20 + optlen + payload;
    size_t off = ip_header(f, e, 6, tlen, ttl);
    uint8_t *th = f + off;
    memset(th, 0, tlen);
    put16(th, sport);
    put16(th + 2, dport);
    put32(th + 4, seq);
    put32(th + 8, ack);
    th[12] = (uint8_t)((20 + optlen) / 4 << 4);
    th[13] = flags;
    put16(th + 14, 64240);
    memcpy(th + 20, opts, optlen);
    for (size_t i = 0; i < payload; i++) {
        th[20 + optlen + i] = (uint8_t)('a' + i % 26);
    }
    put16(th + 16, fold(sum_bytes(th, tlen, pseudo_sum(e, 6, tlen))));
    write_frame(t, f, off + tlen);
}

/* The bench mix's segment: an MSS of 1460 on SYNs and SYN-ACKs, no other option. */
static void tcp(int64_t t, const struct ends *e, uint16_t sport, uint16_t dport, uint32_t seq,
                uint32_t ack, uint8_t flags, size_t payload, uint8_t ttl)
{
    static const uint8_t mss[4] = {2, 4, 1460 >> 8, 1460 & 0xff};
    tcp_opts(t, e, sport, dport, seq, ack, flags, payload, ttl, mss, (flags & 0x02) ? 4 : 0);
}

/* An ICMP error (IPv4 type 3, ICMPv6 type 1, code code) sent from `from` with TTL ttl, quoting
 * the SYN's IP header (its TTL as it arrived there: quote_ttl) and first 8 TCP bytes. */
static void icmp_error(int64_t t, const struct ends *client_to_server, const uint8_t *from,
                       uint8_t ttl, uint8_t code, uint8_t quote_ttl, uint16_t sport, uint16_t dport,
                       uint32_t isn)
{
    struct ends back = {client_to_server->family, {0}, {0}};
    memcpy(back.src, from, 16);
    memcpy(back.dst, client_to_server->src, 16);
    uint8_t quote[48];
    size_t qlen;
    if (client_to_server->family == 4) {
        memset(quote, 0, 20);
        quote[0] = 0x45;
        put16(quote + 2, 44);
        quote[8] = quote_ttl;
        quote[9] = 6;
        memcpy(quote + 12, client_to_server->src, 4);
        memcpy(quote + 16, client_to_server->dst, 4);
        put16(quote + 10, fold(sum_bytes(quote, 20, 0)));
        qlen = 20;
    } else {
        memset(quote, 0, 40);
        quote[0] = 0x60;
        put16(quote + 4, 24);
        quote[6] = 6;
        quote[7] = quote_ttl;
        memcpy(quote + 8, client_to_server->src, 16);
        memcpy(quote + 24, client_to_server->dst, 16);
        qlen = 40;
    }
    put16(quote + qlen, sport);
    put16(quote + qlen + 2, dport);
    put32(quote + qlen + 4, isn);
    qlen += 8;
    uint8_t f[200];
    size_t len = 8 + qlen;
    uint8_t proto = back.family == 4 ? 1 : 58;
    size_t off = ip_header(f, &back, proto, len, ttl);
    uint8_t *ic = f + off;
    memset(ic, 0, 8);
    ic[0] = back.family == 4 ? 3 : 1;
    ic[1] = code;
    memcpy(ic + 8, quote, qlen);
    uint32_t sum = back.family == 4 ? 0 : pseudo_sum(&back, 58, len);
    put16(ic + 2, fold(sum_bytes(ic, len, sum)));
    write_frame(t, f, off + len);
}

/* The bench mix's ICMP admin-prohibited (IPv4 3/13, ICMPv6 1/1) from the server, at the same
 * distance as its TCP. */
static void icmp_reject(int64_t t, const struct ends *client_to_server, uint16_t sport,
                        uint16_t dport, uint32_t isn)
{
    icmp_error(t, client_to_server, client_to_server->dst, 63,
               client_to_server->family == 4 ? 13 : 1, 63, sport, dport, isn);
}

/* ---- attempts ------------------------------------------------------------------------- */

struct attempt {
    uint8_t kind, family;
    uint16_t sport, dport;
    uint32_t index, isn, sisn;
};

static void ends_of(const struct attempt *a, struct ends *e, int from_client)
{
    struct ends c = {a->family, {0}, {0}};
    if (a->family == 4) {
        uint8_t cl[4] = {10, (uint8_t)(a->index >> 16), (uint8_t)(a->index >> 8), 10};
        uint8_t sv[4] = {172, 16, (uint8_t)(a->index % 200), 2};
        memcpy(c.src, cl, 4);
        memcpy(c.dst, sv, 4);
    } else {
        uint8_t cl[16] = {0xfd,
                          0,
                          0,
                          1,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          (uint8_t)(a->index >> 24),
                          (uint8_t)(a->index >> 16),
                          (uint8_t)(a->index >> 8),
                          1};
        uint8_t sv[16] = {0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(a->index % 200),
                          2};
        memcpy(c.src, cl, 16);
        memcpy(c.dst, sv, 16);
    }
    if (from_client) {
        *e = c;
    } else {
        e->family = c.family;
        memcpy(e->src, c.dst, 16);
        memcpy(e->dst, c.src, 16);
    }
}

#define MS 1000000LL

/* payload sizes of an accepted connection (see play) */
#define REQUEST 200u
#define SEGMENT 1448u
#define MIDDLE 700u
#define LAST 300u
#define RESPONSE(a) (SEGMENT + middle(a) + LAST)

static int long_response(const struct attempt *a)
{
    return a->index % 5 < 2;
}

static uint32_t middle(const struct attempt *a)
{
    return long_response(a) ? MIDDLE : 0;
}

/* Emits step `step` of attempt a at t, and schedules the next step. */
static void play(struct attempt *a, const struct event *ev)
{
    struct ends c2s, s2c;
    ends_of(a, &c2s, 1);
    ends_of(a, &s2c, 0);
    int64_t t = ev->t_ns;
    uint32_t i = a->isn, s = a->sisn;
    int next_ms = -1;
    switch (a->kind) {
    case K_ACCEPTED:
        /* an HTTP-like exchange: a 200-byte request, its ACK, a response of 1448 + 300 bytes
         * (with a 700-byte segment between them for 40% of the connections), the client's
         * ACK of it, and a clean close: 11 or 12 packets */
        switch (ev->step) {
        case 0:
            tcp(t, &c2s, a->sport, a->dport, i, 0, 0x02, 0, 64);
            next_ms = 1;
            break;
        case 1:
            tcp(t, &s2c, a->dport, a->sport, s, i + 1, 0x12, 0, 63);
            next_ms = 1;
            break;
        case 2:
            tcp(t, &c2s, a->sport, a->dport, i + 1, s + 1, 0x10, 0, 64);
            next_ms = 1;
            break;
        case 3:
            tcp(t, &c2s, a->sport, a->dport, i + 1, s + 1, 0x18, REQUEST, 64);
            next_ms = 1;
            break;
        case 4:
            tcp(t, &s2c, a->dport, a->sport, s + 1, i + 1 + REQUEST, 0x10, 0, 63);
            next_ms = 4;
            break;
        case 5:
            tcp(t, &s2c, a->dport, a->sport, s + 1, i + 1 + REQUEST, 0x10, SEGMENT, 63);
            next_ms = 0;
            break;
        case 6:
            if (long_response(a)) {
                tcp(t, &s2c, a->dport, a->sport, s + 1 + SEGMENT, i + 1 + REQUEST, 0x10, MIDDLE,
                    63);
            }
            next_ms = 0;
            break;
        case 7:
            tcp(t, &s2c, a->dport, a->sport, s + 1 + SEGMENT + middle(a), i + 1 + REQUEST, 0x18,
                LAST, 63);
            next_ms = 1;
            break;
        case 8:
            tcp(t, &c2s, a->sport, a->dport, i + 1 + REQUEST, s + 1 + RESPONSE(a), 0x10, 0, 64);
            next_ms = 1;
            break;
        case 9:
            tcp(t, &c2s, a->sport, a->dport, i + 1 + REQUEST, s + 1 + RESPONSE(a), 0x11, 0, 64);
            next_ms = 1;
            break;
        case 10:
            tcp(t, &s2c, a->dport, a->sport, s + 1 + RESPONSE(a), i + 2 + REQUEST, 0x11, 0, 63);
            next_ms = 1;
            break;
        case 11:
            tcp(t, &c2s, a->sport, a->dport, i + 2 + REQUEST, s + 2 + RESPONSE(a), 0x10, 0, 64);
            break;
        }
        break;
    case K_REFUSED:
        if (ev->step == 0) {
            tcp(t, &c2s, a->sport, a->dport, i, 0, 0x02, 0, 64);
            next_ms = 1;
        } else {
            tcp(t, &s2c, a->dport, a->sport, 0, i + 1, 0x14, 0, 63);
        }
        break;
    case K_DROPPED:
        tcp(t, &c2s, a->sport, a->dport, i, 0, 0x02, 0, 64);
        next_ms = ev->step == 0 ? 1000 : ev->step == 1 ? 2000 : -1;
        break;
    case K_ICMP:
        if (ev->step == 0) {
            tcp(t, &c2s, a->sport, a->dport, i, 0, 0x02, 0, 64);
            next_ms = 1;
        } else {
            icmp_reject(t, &c2s, a->sport, a->dport, i);
        }
        break;
    case K_FLOOD:
        tcp(t, &c2s, a->sport, a->dport, i, 0, 0x02, 0, 64);
        break;
    }
    if (next_ms >= 0) {
        push((struct event){t + next_ms * MS, ev->attempt, (uint8_t)(ev->step + 1)});
    }
}

/* ---- the gateway profile ---------------------------------------------------------------- */

/* What a busy gateway's inside interface sees (issue 22). Every draw comes from rnd(), seeded
 * by --seed; the distributions (also in bench/RESULTS.md):
 * - family: IPv6 for 40% of the attempts; per family 65,000 clients and 16,000 servers.
 * - popularity: the server of an attempt is Zipf-distributed over its family's servers with
 *   exponent 1.0 (the most popular gets about 10% of them, the top 100 half, the 12,000 least
 *   popular a few each), its client Zipf with exponent 0.5 (the busiest client makes 0.2%).
 * - addresses: distinct by construction (a bijection of the index), IPv4 servers in 20-119.x,
 *   clients in 10/8, IPv6 servers in 2a0X::/16, clients in fd00::/8, routers elsewhere.
 * - server RTT (gateway to server and back): log-uniform from 0.1 to 300 ms (median 5.5 ms),
 *   fixed per server; the client's turnaround on the inside, uniform 0.05-1 ms per client.
 * - server stacks: Linux 60% (initial TTL 64), Windows 25% (128), network devices 15% (255);
 *   hops = 1 + floor(3 log2(1 + RTT/ms)) + uniform{0..3}, at most 30, so the TTL seen is
 *   34-254 and always tells its initial value. Clients: Linux 55% (TTL 64), Windows 45% (128),
 *   0, 1 or 2 hops inside (50/30/20%); ephemeral ports counted up per client from a random
 *   start (Linux 32768-60999, Windows 49152-65535), so no 4-tuple repeats.
 * - verdicts as the bench mix: 60% accepted, 20% refused, 15% dropped, 5% ICMP-rejected.
 * - ports by verdict (primary: the server's own, drawn once from the well-known weights;
 *   well-known: drawn from the weights below; ephemeral: uniform 1024-65535):
 *   accepted 80/15/5%, refused 10/30/60%, dropped 20/40/40%, ICMP 20/50/30%.
 * - accepted: the bench mix's HTTP-like exchange, each step one RTT or one client turnaround
 *   apart, the server thinking 0.1-5 ms (uniform) before its response; 2% lose their first SYN
 *   (the client retries after its OS's first RTO); 5% are aborted by the client's RST right
 *   after its ACK (a Happy Eyeballs loser), 5% by a RST instead of its FIN; the rest close.
 * - retries: Linux doubles from 1 s (1, 2, 4, 8, 16, 32 s), Windows from 3 s (3, 6 s). A
 *   dropped attempt is 7 SYNs (Linux's default of 6 retries) for 40% of Linux clients, 4 for
 *   30%, 3 for 30%; 3 SYNs for 80% of Windows clients, 2 for 20%. Windows sends its SYN again
 *   500 ms after a RST or ICMP error, twice; Linux gives up at once.
 * - ICMP: half from the server (IPv4 3/13, 3/10 or 3/3, ICMPv6 1/1 or 1/4, with the server's
 *   TTL), half from a router on the way (IPv4 3/13 or 3/1, ICMPv6 1/1 or 1/3, initial TTL
 *   255, half the server's hops and half its RTT).
 * - arrivals: Poisson, --rate per second (default 3846: 1,000,000 attempts in 260 s).
 * Segments carry TCP options on SYNs and SYN-ACKs only (each stack's own set). */

enum os { OS_LINUX, OS_WINDOWS, OS_DEVICE };

#define GW_CLIENTS 65000u
#define GW_SERVERS 16000u

struct gw_host {
    uint8_t addr[16];
    uint8_t ttl, os, port_rank, hops;
    uint32_t rtt_ns;    /* servers: round trip from the gateway; clients: turnaround */
    uint16_t next_port; /* clients: the next ephemeral port */
};

struct gw_family {
    struct gw_host clients[GW_CLIENTS], servers[GW_SERVERS];
};

static struct gw_family *gw[2]; /* IPv4, IPv6 */
static double *zipf_servers, *zipf_clients;

/* The well-known ports' weights (per cent) for the primary and the other well-known ports. */
static const uint16_t wk_port[] = {443,  80,    22,   53,   25,   587,  993,  3389, 445,  8080,
                                   8443, 21,    23,   139,  135,  3306, 5432, 995,  143,  110,
                                   6379, 27017, 9200, 1433, 5060, 5222, 1194, 3128, 8000, 8888,
                                   9090, 11211, 2049, 389,  636,  853,  5900, 1883, 8883, 5671};
static const uint8_t wk_weight[] = {30, 20, 8, 4, 4, 3, 3, 4, 4, 4, 3, 2, 2, 2, 1, 2, 2, 1, 1, 1,
                                    1,  1,  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
#define WK_PORTS (sizeof(wk_port) / sizeof(wk_port[0]))

static double unit(void)
{
    return rnd() / 4294967296.0; /* [0, 1) */
}

/* ln and exp from arithmetic only, so that gen.c needs no libm: the argument halved or doubled
 * into [0.5, 1], then ln x = 2 atanh((x - 1) / (x + 1)) as a series. */
static double ln(double x)
{
    int k = 0;
    while (x > 1.0) {
        x /= 2;
        k++;
    }
    while (x < 0.5) {
        x *= 2;
        k--;
    }
    double y = (x - 1) / (x + 1), y2 = y * y, term = y, sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= y2;
    }
    return 2 * sum + k * 0.69314718055994530942;
}

static double expo(double x)
{
    int k = (int)(x / 0.69314718055994530942);
    double r = x - k * 0.69314718055994530942, term = 1, sum = 1;
    for (int i = 1; i < 30; i++) {
        term *= r / i;
        sum += term;
    }
    for (; k > 0; k--) {
        sum *= 2;
    }
    for (; k < 0; k++) {
        sum /= 2;
    }
    return sum;
}

/* Cumulative Zipf weights of ranks 1..n with exponent s. */
static double *zipf_table(uint32_t n, double s)
{
    double *cum = malloc(n * sizeof(*cum)), total = 0;
    if (cum == NULL) {
        perror("gen");
        exit(1);
    }
    for (uint32_t k = 0; k < n; k++) {
        total += expo(-s * ln(k + 1.0));
        cum[k] = total;
    }
    return cum;
}

static uint32_t zipf_draw(const double *cum, uint32_t n)
{
    double u = unit() * cum[n - 1];
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cum[mid] > u) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

static uint32_t well_known_rank(void)
{
    uint32_t r = rnd() % 100, k = 0;
    while (r >= wk_weight[k]) {
        r -= wk_weight[k++];
    }
    return k;
}

/* Host i of a family: distinct addresses from a bijection of the 24-bit index. */
static void gw_address(uint8_t *addr, int family, int server, uint32_t i)
{
    uint32_t x = (i * 2654435761u) & 0xffffff;
    memset(addr, 0, 16);
    if (family == 4) {
        uint8_t a[4] = {(uint8_t)(server ? 20 + i % 100 : 10), (uint8_t)(x >> 16),
                        (uint8_t)(x >> 8), (uint8_t)x};
        memcpy(addr, a, 4);
        return;
    }
    addr[0] = server ? 0x2a : 0xfd;
    addr[1] = (uint8_t)(server ? i % 16 : 0);
    addr[2] = (uint8_t)(x >> 16);
    addr[3] = (uint8_t)(x >> 8);
    addr[4] = (uint8_t)x;
    for (int b = 8; b < 16; b++) {
        addr[b] = (uint8_t)rnd(); /* interface identifier */
    }
}

static void gw_hosts(void)
{
    for (int f = 0; f < 2; f++) {
        gw[f] = calloc(1, sizeof(*gw[f]));
        if (gw[f] == NULL) {
            perror("gen");
            exit(1);
        }
        for (uint32_t i = 0; i < GW_SERVERS; i++) {
            struct gw_host *h = &gw[f]->servers[i];
            gw_address(h->addr, f ? 6 : 4, 1, i);
            double rtt_ms = 0.1 * expo(unit() * ln(3000.0));
            h->rtt_ns = (uint32_t)(rtt_ms * 1e6);
            uint32_t hops = 1 + (uint32_t)(3 * ln(1 + rtt_ms) / ln(2.0)) + rnd() % 4;
            h->hops = (uint8_t)(hops > 30 ? 30 : hops);
            uint32_t r = rnd() % 100;
            h->os = r < 60 ? OS_LINUX : r < 85 ? OS_WINDOWS : OS_DEVICE;
            h->ttl = (uint8_t)((h->os == OS_LINUX     ? 64
                                : h->os == OS_WINDOWS ? 128
                                                      : 255) -
                               h->hops);
            h->port_rank = (uint8_t)well_known_rank();
        }
        for (uint32_t i = 0; i < GW_CLIENTS; i++) {
            struct gw_host *h = &gw[f]->clients[i];
            gw_address(h->addr, f ? 6 : 4, 0, i);
            h->os = rnd() % 100 < 55 ? OS_LINUX : OS_WINDOWS;
            uint32_t r = rnd() % 100;
            h->hops = (uint8_t)(r < 50 ? 0 : r < 80 ? 1 : 2);
            h->ttl = (uint8_t)((h->os == OS_LINUX ? 64 : 128) - h->hops);
            h->rtt_ns = 50000 + rnd() % 950000;
            h->next_port =
                (uint16_t)(h->os == OS_LINUX ? 32768 + rnd() % 28232 : 49152 + rnd() % 16384);
        }
    }
    zipf_servers = zipf_table(GW_SERVERS, 1.0);
    zipf_clients = zipf_table(GW_CLIENTS, 0.5);
}

enum gw_step {
    G_SYN,
    G_SYNACK,
    G_ACK,
    G_REQ,
    G_REQACK,
    G_SEG1,
    G_SEG2,
    G_SEG3,
    G_CACK,
    G_CFIN,
    G_SFIN,
    G_LAST,
    G_RST_EARLY,
    G_RST_LATE,
    G_ANSWER, /* refused: the RST; ICMP-rejected: the ICMP error */
    G_END
};

enum gw_abort { AB_NONE, AB_EARLY, AB_LATE };

struct gw_attempt {
    uint8_t kind, family, syns, sent, abort, long_response, icmp_variant;
    uint16_t sport, dport;
    uint32_t client, server, isn, sisn;
};

static struct gw_host *gw_client(const struct gw_attempt *a)
{
    return &gw[a->family == 6]->clients[a->client];
}

static struct gw_host *gw_server(const struct gw_attempt *a)
{
    return &gw[a->family == 6]->servers[a->server];
}

/* The SYN's options: Linux MSS, SACK permitted, timestamps, window scale 7 (20 bytes);
 * Windows MSS, window scale 8, SACK permitted (12 bytes), no timestamps. */
static size_t syn_options(uint8_t *o, const struct gw_attempt *a)
{
    uint16_t mss = a->family == 4 ? 1460 : 1440;
    uint8_t linux_opts[20] = {
        2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
    uint8_t windows_opts[12] = {2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 3, 3, 8, 1, 1, 4, 2};
    if (gw_client(a)->os == OS_LINUX) {
        put32(linux_opts + 8, a->isn ^ 0x5a5a5a5a); /* TSval */
        memcpy(o, linux_opts, 20);
        return 20;
    }
    memcpy(o, windows_opts, 12);
    return 12;
}

/* The SYN-ACK's: Linux echoes timestamps when offered; Windows never sends them; a network
 * device answers with its MSS only. */
static size_t synack_options(uint8_t *o, const struct gw_attempt *a)
{
    uint16_t mss = a->family == 4 ? 1460 : 1440;
    uint8_t with_ts[20] = {
        2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
    uint8_t plain[12] = {2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 1, 4, 2, 1, 3, 3, 7};
    const struct gw_host *s = gw_server(a);
    if (s->os == OS_LINUX && gw_client(a)->os == OS_LINUX) {
        put32(with_ts + 8, a->sisn ^ 0xa5a5a5a5);
        put32(with_ts + 12, a->isn ^ 0x5a5a5a5a);
        memcpy(o, with_ts, 20);
        return 20;
    }
    if (s->os == OS_WINDOWS) {
        plain[11] = 8;
    }
    memcpy(o, plain, s->os == OS_DEVICE ? 4 : 12);
    return s->os == OS_DEVICE ? 4 : 12;
}

/* RFC 6298 backoff from the stack's initial RTO: Linux 1 s, Windows 3 s. */
static int64_t retry_gap(const struct gw_host *c, unsigned retry)
{
    return (c->os == OS_LINUX ? 1000 : 3000) * MS << retry;
}

/* The router that rejects for a server (ICMP from the path): its address and distance. */
static void router_of(const struct gw_attempt *a, uint8_t *addr)
{
    uint32_t x = (a->server * 2654435761u) & 0xffffff;
    memset(addr, 0, 16);
    if (a->family == 4) {
        uint8_t r[4] = {(uint8_t)(120 + a->server % 5), (uint8_t)(x >> 16), (uint8_t)(x >> 8),
                        (uint8_t)x};
        memcpy(addr, r, 4);
    } else {
        uint8_t r[8] = {0x20,       0x01, 0x0d, 0xb8, (uint8_t)(x >> 16), (uint8_t)(x >> 8),
                        (uint8_t)x, 0};
        memcpy(addr, r, 8);
        addr[15] = 1;
    }
}

/* The ICMP error of an ICMP-rejected attempt: icmp_variant's bit 0 says from a router, the
 * rest picks the code. */
static void gw_icmp(int64_t t, const struct gw_attempt *a, const struct ends *c2s)
{
    static const uint8_t server4[] = {13, 10, 3}, router4[] = {13, 1};
    static const uint8_t server6[] = {1, 4}, router6[] = {1, 3};
    const struct gw_host *s = gw_server(a), *c = gw_client(a);
    unsigned pick = a->icmp_variant >> 1;
    if (a->icmp_variant & 1) {
        uint8_t from[16];
        router_of(a, from);
        uint8_t hops = (uint8_t)(s->hops / 2 > 0 ? s->hops / 2 : 1);
        uint8_t code = a->family == 4 ? router4[pick % 2] : router6[pick % 2];
        icmp_error(t, c2s, from, (uint8_t)(255 - hops), code, (uint8_t)(c->ttl - hops), a->sport,
                   a->dport, a->isn);
    } else {
        uint8_t code = a->family == 4 ? server4[pick % 3] : server6[pick % 2];
        icmp_error(t, c2s, c2s->dst, s->ttl, code, (uint8_t)(c->ttl - s->hops), a->sport, a->dport,
                   a->isn);
    }
}

#define US 1000LL

/* The client's SYN (first or again) and what comes after it; returns the next step and sets
 * *delay. */
static int gw_syn(int64_t t, struct gw_attempt *a, const struct ends *c2s, int64_t *delay)
{
    const struct gw_host *c = gw_client(a), *s = gw_server(a);
    uint8_t o[20] = {0};
    size_t olen = syn_options(o, a);
    tcp_opts(t, c2s, a->sport, a->dport, a->isn, 0, 0x02, 0, c->ttl, o, olen);
    a->sent++;
    switch (a->kind) {
    case K_ACCEPTED:
        if (a->sent < a->syns) {
            *delay = retry_gap(c, a->sent - 1u); /* this one is lost beyond the gateway */
            return G_SYN;
        }
        *delay = s->rtt_ns;
        return G_SYNACK;
    case K_DROPPED:
        *delay = retry_gap(c, a->sent - 1u);
        return a->sent < a->syns ? G_SYN : G_END;
    case K_ICMP:
        *delay = (a->icmp_variant & 1) ? s->rtt_ns / 2 : s->rtt_ns;
        return G_ANSWER;
    default:
        *delay = s->rtt_ns;
        return G_ANSWER;
    }
}

/* An accepted attempt after its SYN: the bench mix's exchange at this client's and server's
 * pace. */
static int gw_accepted(int64_t t, int step, const struct gw_attempt *a, const struct ends *c2s,
                       const struct ends *s2c, int64_t *delay)
{
    const struct gw_host *c = gw_client(a), *s = gw_server(a);
    uint32_t i = a->isn, v = a->sisn, seg = a->family == 4 ? 1448 : 1428;
    uint32_t response = seg + (a->long_response ? MIDDLE : 0) + LAST;
    uint16_t cp = a->sport, sp = a->dport;
    uint8_t o[20] = {0};
    switch (step) {
    case G_SYNACK:
        tcp_opts(t, s2c, sp, cp, v, i + 1, 0x12, 0, s->ttl, o, synack_options(o, a));
        *delay = c->rtt_ns;
        return G_ACK;
    case G_ACK:
        tcp_opts(t, c2s, cp, sp, i + 1, v + 1, 0x10, 0, c->ttl, o, 0);
        *delay = a->abort == AB_EARLY ? MS + (v % 49) * MS : 30 * US;
        return a->abort == AB_EARLY ? G_RST_EARLY : G_REQ;
    case G_REQ:
        tcp_opts(t, c2s, cp, sp, i + 1, v + 1, 0x18, REQUEST, c->ttl, o, 0);
        *delay = s->rtt_ns;
        return G_REQACK;
    case G_REQACK:
        tcp_opts(t, s2c, sp, cp, v + 1, i + 1 + REQUEST, 0x10, 0, s->ttl, o, 0);
        *delay = 100 * US + (v % 4900) * US; /* the server thinks */
        return G_SEG1;
    case G_SEG1:
        tcp_opts(t, s2c, sp, cp, v + 1, i + 1 + REQUEST, 0x10, seg, s->ttl, o, 0);
        *delay = 12 * US;
        return a->long_response ? G_SEG2 : G_SEG3;
    case G_SEG2:
        tcp_opts(t, s2c, sp, cp, v + 1 + seg, i + 1 + REQUEST, 0x10, MIDDLE, s->ttl, o, 0);
        *delay = 12 * US;
        return G_SEG3;
    case G_SEG3:
        tcp_opts(t, s2c, sp, cp, v + 1 + response - LAST, i + 1 + REQUEST, 0x18, LAST, s->ttl, o,
                 0);
        *delay = c->rtt_ns;
        return G_CACK;
    case G_CACK:
        tcp_opts(t, c2s, cp, sp, i + 1 + REQUEST, v + 1 + response, 0x10, 0, c->ttl, o, 0);
        *delay = MS;
        return a->abort == AB_LATE ? G_RST_LATE : G_CFIN;
    case G_CFIN:
        tcp_opts(t, c2s, cp, sp, i + 1 + REQUEST, v + 1 + response, 0x11, 0, c->ttl, o, 0);
        *delay = s->rtt_ns;
        return G_SFIN;
    case G_SFIN:
        tcp_opts(t, s2c, sp, cp, v + 1 + response, i + 2 + REQUEST, 0x11, 0, s->ttl, o, 0);
        *delay = c->rtt_ns;
        return G_LAST;
    case G_LAST:
        tcp_opts(t, c2s, cp, sp, i + 2 + REQUEST, v + 2 + response, 0x10, 0, c->ttl, o, 0);
        return G_END;
    case G_RST_EARLY:
        tcp_opts(t, c2s, cp, sp, i + 1, v + 1, 0x14, 0, c->ttl, o, 0);
        return G_END;
    case G_RST_LATE:
        tcp_opts(t, c2s, cp, sp, i + 1 + REQUEST, v + 1 + response, 0x14, 0, c->ttl, o, 0);
        return G_END;
    }
    return G_END;
}

/* Emits step ev->step of attempt a and schedules the next one. */
static void gw_play(struct gw_attempt *a, const struct event *ev)
{
    struct ends c2s = {a->family, {0}, {0}}, s2c = {a->family, {0}, {0}};
    memcpy(c2s.src, gw_client(a)->addr, 16);
    memcpy(c2s.dst, gw_server(a)->addr, 16);
    memcpy(s2c.src, c2s.dst, 16);
    memcpy(s2c.dst, c2s.src, 16);
    int64_t delay = 0;
    int next = G_END;
    if (ev->step == G_SYN) {
        next = gw_syn(ev->t_ns, a, &c2s, &delay);
    } else if (ev->step == G_ANSWER) {
        if (a->kind == K_REFUSED) {
            uint8_t none[1] = {0};
            tcp_opts(ev->t_ns, &s2c, a->dport, a->sport, 0, a->isn + 1, 0x14, 0, gw_server(a)->ttl,
                     none, 0);
        } else {
            gw_icmp(ev->t_ns, a, &c2s);
        }
        /* Windows sends its SYN again after a RST or an ICMP error, twice; Linux gives up */
        if (gw_client(a)->os == OS_WINDOWS && a->sent < 3) {
            next = G_SYN;
            delay = 500 * MS;
        }
    } else {
        next = gw_accepted(ev->t_ns, ev->step, a, &c2s, &s2c, &delay);
    }
    if (next != G_END) {
        push((struct event){ev->t_ns + delay, ev->attempt, (uint8_t)next});
    }
}

/* The next ephemeral port of client c: counted up within its stack's range. */
static uint16_t gw_port(struct gw_host *c)
{
    uint32_t lo = c->os == OS_LINUX ? 32768 : 49152, hi = c->os == OS_LINUX ? 61000 : 65536;
    uint16_t p = c->next_port;
    c->next_port = (uint16_t)(p + 1u >= hi ? lo : p + 1u);
    return p;
}

/* Draws attempt a: its family, verdict, server, client, port and what it will do. */
static void gw_draw(struct gw_attempt *a)
{
    static const uint8_t primary[4] = {80, 10, 20, 20}, well_known[4] = {15, 30, 40, 50};
    a->family = rnd() % 100 < 40 ? 6 : 4;
    uint32_t r = rnd() % 100;
    a->kind = r < 60 ? K_ACCEPTED : r < 80 ? K_REFUSED : r < 95 ? K_DROPPED : K_ICMP;
    a->server = zipf_draw(zipf_servers, GW_SERVERS);
    a->client = zipf_draw(zipf_clients, GW_CLIENTS);
    struct gw_host *c = gw_client(a);
    r = rnd() % 100;
    if (r < primary[a->kind]) {
        a->dport = wk_port[gw_server(a)->port_rank];
    } else if (r < primary[a->kind] + well_known[a->kind]) {
        a->dport = wk_port[well_known_rank()];
    } else {
        a->dport = (uint16_t)(1024 + rnd() % 64512);
    }
    a->sport = gw_port(c);
    a->isn = rnd();
    a->sisn = rnd();
    r = rnd() % 100;
    a->syns = 1;
    if (a->kind == K_ACCEPTED) {
        a->syns = r < 2 ? 2 : 1;
        r = rnd() % 100;
        a->abort = r < 5 ? AB_EARLY : r < 10 ? AB_LATE : AB_NONE;
        a->long_response = rnd() % 5 < 2;
    } else if (a->kind == K_DROPPED) {
        if (c->os == OS_LINUX) {
            a->syns = r < 40 ? 7 : r < 70 ? 4 : 3;
        } else {
            a->syns = r < 80 ? 3 : 2;
        }
    } else if (a->kind == K_ICMP) {
        a->icmp_variant = (uint8_t)(r % 6);
    }
}

/* Distinct services (server address:port per family), clients and servers seen. */
struct gw_seen {
    uint64_t *set;
    size_t mask, services;
    uint8_t clients[2][GW_CLIENTS], servers[2][GW_SERVERS];
};

static void gw_note(struct gw_seen *seen, const struct gw_attempt *a)
{
    int f = a->family == 6;
    seen->clients[f][a->client] = 1;
    seen->servers[f][a->server] = 1;
    uint64_t key = ((uint64_t)(f + 1) << 40 | (uint64_t)a->server << 16) | a->dport;
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & seen->mask;
    while (seen->set[i] != 0 && seen->set[i] != key) {
        i = (i + 1) & seen->mask;
    }
    seen->services += seen->set[i] == 0;
    seen->set[i] = key;
}

static unsigned count_seen(const uint8_t *seen, size_t n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++) {
        c += seen[i];
    }
    return c;
}

/* The gateway profile: n attempts, Poisson arrivals at rate a second. */
static int gw_run(uint64_t n, uint64_t rate, int64_t t0, char *summary, size_t size)
{
    gw_hosts();
    struct gw_attempt *all = calloc(n, sizeof(*all));
    struct gw_seen *seen = calloc(1, sizeof(*seen));
    size_t cap = 1024;
    while (cap < 2 * n) {
        cap *= 2;
    }
    if (all == NULL || seen == NULL || (seen->set = calloc(cap, sizeof(uint64_t))) == NULL) {
        perror("gen");
        return 1;
    }
    seen->mask = cap - 1;
    uint64_t counts[4] = {0};
    int64_t t = t0;
    for (uint64_t k = 0; k < n; k++) {
        struct gw_attempt *a = &all[k];
        gw_draw(a);
        gw_note(seen, a);
        counts[a->kind]++;
        push((struct event){t, (uint32_t)k, G_SYN});
        while (heap_len > 0 && heap[0].t_ns <= t) {
            struct event ev = pop();
            gw_play(&all[ev.attempt], &ev);
        }
        t += (int64_t)(-ln(1.0 - unit()) / (double)rate * 1e9); /* exponential gaps */
    }
    while (heap_len > 0) {
        struct event ev = pop();
        gw_play(&all[ev.attempt], &ev);
    }
    snprintf(summary, size,
             "{\"attempts\":%llu,\"packets\":%llu,\"profile\":\"gateway\",\"verdicts\":{"
             "\"accepted\":%llu,\"refused\":%llu,\"dropped\":%llu,\"unreachable\":%llu},"
             "\"services\":%zu,\"clients\":[%u,%u],\"servers\":[%u,%u],\"seconds\":%.1f}\n",
             (unsigned long long)n, (unsigned long long)packets,
             (unsigned long long)counts[K_ACCEPTED], (unsigned long long)counts[K_REFUSED],
             (unsigned long long)counts[K_DROPPED], (unsigned long long)counts[K_ICMP],
             seen->services, count_seen(seen->clients[0], GW_CLIENTS),
             count_seen(seen->clients[1], GW_CLIENTS), count_seen(seen->servers[0], GW_SERVERS),
             count_seen(seen->servers[1], GW_SERVERS), (double)(t - t0) / 1e9);
    free(seen->set);
    free(seen);
    free(all);
    return 0;
}

#define USAGE                                                                                      \
    "usage: gen [--profile mix|gateway] [--attempts N] [--flood N] [--seed S] [--rate R] OUT\n"

/* The bench mix (or the flood): n attempts, one every 1/rate s. */
static int mix_run(uint64_t n, uint64_t flood, uint64_t rate, int64_t t0, char *summary,
                   size_t size)
{
    struct attempt *all = calloc(n, sizeof(*all));
    if (all == NULL) {
        perror("gen");
        return 1;
    }
    uint64_t counts[4] = {0};
    int64_t gap = 1000000000LL / (int64_t)rate;
    for (uint64_t k = 0; k < n; k++) {
        struct attempt *a = &all[k];
        a->index = (uint32_t)k;
        a->family = (rnd() % 10 == 0) ? 6 : 4;
        uint32_t r = rnd() % 100;
        a->kind = flood    ? K_FLOOD
                  : r < 60 ? K_ACCEPTED
                  : r < 80 ? K_REFUSED
                  : r < 95 ? K_DROPPED
                           : K_ICMP;
        a->sport = (uint16_t)(1024 + k % 60000);
        a->dport = (uint16_t)(flood ? 80 : 80 + rnd() % 4);
        a->isn = rnd();
        a->sisn = rnd();
        if (!flood) {
            counts[a->kind]++;
        }
        push((struct event){t0 + (int64_t)k * gap, (uint32_t)k, 0});
        /* keep the heap small: play what is due before the next attempt starts */
        while (heap_len > 0 && heap[0].t_ns <= t0 + (int64_t)k * gap) {
            struct event ev = pop();
            play(&all[ev.attempt], &ev);
        }
    }
    while (heap_len > 0) {
        struct event ev = pop();
        play(&all[ev.attempt], &ev);
    }
    if (flood) {
        snprintf(summary, size, "{\"attempts\":%llu,\"packets\":%llu,\"flood\":true}\n",
                 (unsigned long long)n, (unsigned long long)packets);
    } else {
        snprintf(summary, size,
                 "{\"attempts\":%llu,\"packets\":%llu,\"verdicts\":{\"accepted\":%llu,"
                 "\"refused\":%llu,\"dropped\":%llu,\"unreachable\":%llu}}\n",
                 (unsigned long long)n, (unsigned long long)packets,
                 (unsigned long long)counts[K_ACCEPTED], (unsigned long long)counts[K_REFUSED],
                 (unsigned long long)counts[K_DROPPED], (unsigned long long)counts[K_ICMP]);
    }
    free(all);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t attempts = 10000, flood = 0, seed = 1, rate = 0;
    const char *path = NULL, *profile = "mix";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--attempts") == 0 && i + 1 < argc) {
            attempts = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--flood") == 0 && i + 1 < argc) {
            flood = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            rate = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            profile = argv[++i];
        } else if (argv[i][0] != '-' && path == NULL) {
            path = argv[i];
        } else {
            fputs(USAGE, stderr);
            return 2;
        }
    }
    bool gateway = strcmp(profile, "gateway") == 0;
    if (path == NULL || (!gateway && strcmp(profile, "mix") != 0) || (gateway && flood) ||
        attempts > UINT32_MAX || flood > UINT32_MAX) {
        fputs(USAGE, stderr);
        return 2;
    }
    if (rate == 0) {
        rate = gateway ? 3846 : 10000; /* the gateway's 1,000,000 attempts in 260 s */
    }
    rng_state = seed;
    out = fopen(path, "wb");
    if (out == NULL) {
        perror("gen");
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof(buf));
    uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    fwrite(hdr, 1, sizeof(hdr), out);
    int64_t t0 = 1795698726LL * 1000000000LL; /* 2026-11-26 */
    char summary[512];
    int rc = gateway ? gw_run(attempts, rate, t0, summary, sizeof(summary))
                     : mix_run(flood ? flood : attempts, flood, rate, t0, summary, sizeof(summary));
    if (fclose(out) != 0) {
        perror("gen");
        return 1;
    }
    if (rc == 0) {
        fputs(summary, stdout);
    }
    free(heap);
    return rc;
}
