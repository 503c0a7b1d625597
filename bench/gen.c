/* gen.c - deterministic generator of realistic handshake captures for the benchmarks.
 *
 * usage: gen [--attempts N] [--flood N] [--seed S] [--rate PER_SECOND] OUT.pcap
 *
 * The mix (issue 7): 60% accepted with data and a clean close (an HTTP-like exchange of 11 or
 * 12 packets, about 3 KB), 20% refused (RST+ACK), 15% dropped (a SYN and two retransmissions,
 * 1 s and 3 s later), 5% rejected by ICMP admin-prohibited from the server; 10% of all attempts
 * are IPv6. A million attempts make 7.8 million packets in 1.9 GB, the capture issue 7
 * describes. Attempts start at --rate per second (default 10000), so with retransmissions and
 * closes tens of thousands are open at once; packets are written in time order with correct
 * IP, TCP and ICMP checksums.
 * --flood N writes N distinct SYNs that nobody answers.
 * Prints the expected verdict counts as one JSON object on stdout: the benchmark's correctness
 * check compares them with synscope's summary. */
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

static void tcp(int64_t t, const struct ends *e, uint16_t sport, uint16_t dport, uint32_t seq,
                uint32_t ack, uint8_t flags, size_t payload, uint8_t ttl)
{
    uint8_t f[1600];
    size_t opt = (flags & 0x02) ? 4 : 0;
    size_t tlen = 20 + opt + payload;
    size_t off = ip_header(f, e, 6, tlen, ttl);
    uint8_t *th = f + off;
    memset(th, 0, tlen);
    put16(th, sport);
    put16(th + 2, dport);
    put32(th + 4, seq);
    put32(th + 8, ack);
    th[12] = (uint8_t)((20 + opt) / 4 << 4);
    th[13] = flags;
    put16(th + 14, 64240);
    if (opt) {
        th[20] = 2;
        th[21] = 4;
        put16(th + 22, 1460);
    }
    for (size_t i = 0; i < payload; i++) {
        th[20 + opt + i] = (uint8_t)('a' + i % 26);
    }
    put16(th + 16, fold(sum_bytes(th, tlen, pseudo_sum(e, 6, tlen))));
    write_frame(t, f, off + tlen);
}

/* An ICMP admin-prohibited (IPv4 3/13, ICMPv6 1/1) from the server quoting the SYN's IP
 * header and first 8 TCP bytes. */
static void icmp_reject(int64_t t, const struct ends *client_to_server, uint16_t sport,
                        uint16_t dport, uint32_t isn)
{
    struct ends back = {client_to_server->family, {0}, {0}};
    memcpy(back.src, client_to_server->dst, 16);
    memcpy(back.dst, client_to_server->src, 16);
    uint8_t quote[48];
    size_t qlen;
    if (client_to_server->family == 4) {
        memset(quote, 0, 20);
        quote[0] = 0x45;
        put16(quote + 2, 44);
        quote[8] = 63;
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
        quote[7] = 63;
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
    size_t off =
        ip_header(f, &back, proto, len, 63); /* from the server: same distance as its TCP */
    uint8_t *ic = f + off;
    memset(ic, 0, 8);
    ic[0] = back.family == 4 ? 3 : 1;
    ic[1] = back.family == 4 ? 13 : 1;
    memcpy(ic + 8, quote, qlen);
    uint32_t sum = back.family == 4 ? 0 : pseudo_sum(&back, 58, len);
    put16(ic + 2, fold(sum_bytes(ic, len, sum)));
    write_frame(t, f, off + len);
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

int main(int argc, char **argv)
{
    uint64_t attempts = 10000, flood = 0, seed = 1, rate = 10000;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--attempts") == 0 && i + 1 < argc) {
            attempts = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--flood") == 0 && i + 1 < argc) {
            flood = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            rate = strtoull(argv[++i], NULL, 10);
        } else if (argv[i][0] != '-' && path == NULL) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: gen [--attempts N] [--flood N] [--seed S] [--rate R] OUT\n");
            return 2;
        }
    }
    if (path == NULL || rate == 0) {
        fprintf(stderr, "usage: gen [--attempts N] [--flood N] [--seed S] [--rate R] OUT\n");
        return 2;
    }
    rng_state = seed;
    uint64_t n = flood ? flood : attempts;
    struct attempt *all = calloc(n, sizeof(*all));
    out = fopen(path, "wb");
    if (all == NULL || out == NULL) {
        perror("gen");
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof(buf));
    uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    fwrite(hdr, 1, sizeof(hdr), out);
    uint64_t counts[4] = {0};
    int64_t t0 = 1795698726LL * 1000000000LL; /* 2026-11-26 */
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
    if (fclose(out) != 0) {
        perror("gen");
        return 1;
    }
    if (flood) {
        printf("{\"attempts\":%llu,\"packets\":%llu,\"flood\":true}\n", (unsigned long long)n,
               (unsigned long long)packets);
    } else {
        printf("{\"attempts\":%llu,\"packets\":%llu,\"verdicts\":{\"accepted\":%llu,"
               "\"refused\":%llu,\"dropped\":%llu,\"unreachable\":%llu}}\n",
               (unsigned long long)n, (unsigned long long)packets,
               (unsigned long long)counts[K_ACCEPTED], (unsigned long long)counts[K_REFUSED],
               (unsigned long long)counts[K_DROPPED], (unsigned long long)counts[K_ICMP]);
    }
    free(all);
    free(heap);
    return 0;
}
