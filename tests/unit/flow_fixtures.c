/* flow_fixtures.c - the shared fixtures of the flow and report unit tests (flow_fixtures.h). */
#include "flow_fixtures.h"
#include "test_paths.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dec_addr addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct dec_addr x;

    memset(&x, 0, sizeof(x));
    x.b[0] = a;
    x.b[1] = b;
    x.b[2] = c;
    x.b[3] = d;
    return x;
}

struct dec_addr addr6(const char *text)
{
    struct dec_addr x;

    memset(&x, 0, sizeof(x));
    cr_assert_eq(inet_pton(AF_INET6, text, x.b), 1, "bad test address %s", text);
    return x;
}

/* 10.99.0.1:client_port -> 10.99.0.2:server_port */
struct tuple tuple4(uint16_t client_port, uint16_t server_port)
{
    struct tuple t = {.family = 4, .client_port = client_port, .server_port = server_port};

    t.client = addr4(10, 99, 0, 1);
    t.server = addr4(10, 99, 0, 2);
    return t;
}

/* [fd00:99::1]:client_port -> [fd00:99::2]:server_port */
struct tuple tuple6(uint16_t client_port, uint16_t server_port)
{
    struct tuple t = {.family = 6, .client_port = client_port, .server_port = server_port};

    t.client = addr6("fd00:99::1");
    t.server = addr6("fd00:99::2");
    return t;
}

/* A TCP segment of the tuple; the client's packets have TTL 64, the server's 63 (one hop). */
struct dec_event segment(const struct tuple *t, bool from_client, uint8_t flags, uint32_t seq,
                         uint32_t ack, uint32_t payload_len)
{
    struct dec_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = DEC_EV_TCP;
    ev.family = t->family;
    ev.ttl = from_client ? 64 : 63;
    ev.tcp_flags = flags;
    ev.has_ip_id = t->family == 4;
    ev.ip_id = from_client ? 0x1111 : 0x2222;
    ev.src = from_client ? t->client : t->server;
    ev.dst = from_client ? t->server : t->client;
    ev.sport = from_client ? t->client_port : t->server_port;
    ev.dport = from_client ? t->server_port : t->client_port;
    ev.seq = seq;
    ev.ack = ack;
    ev.window = 64240;
    ev.payload_len = payload_len;
    return ev;
}

struct dec_event syn(const struct tuple *t, uint32_t isn)
{
    struct dec_event ev = segment(t, true, DEC_TCP_SYN, isn, 0, 0);

    ev.opts.present = DEC_OPT_MSS | DEC_OPT_SACK_OK | DEC_OPT_WSCALE;
    ev.opts.mss = 1460;
    ev.opts.wscale = 7;
    return ev;
}

struct dec_event synack(const struct tuple *t, uint32_t server_isn, uint32_t ack)
{
    return segment(t, false, DEC_TCP_SYN | DEC_TCP_ACK, server_isn, ack, 0);
}

/* A pure ACK (no payload) from either side. */
struct dec_event ack_of(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack)
{
    return segment(t, from_client, DEC_TCP_ACK, seq, ack, 0);
}

struct dec_event data(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack,
                      uint32_t len)
{
    return segment(t, from_client, DEC_TCP_PSH | DEC_TCP_ACK, seq, ack, len);
}

struct dec_event fin(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack)
{
    return segment(t, from_client, DEC_TCP_FIN | DEC_TCP_ACK, seq, ack, 0);
}

struct dec_event rst_ack(const struct tuple *t, bool from_client, uint32_t seq, uint32_t ack)
{
    return segment(t, from_client, DEC_TCP_RST | DEC_TCP_ACK, seq, ack, 0);
}

struct dec_event rst(const struct tuple *t, bool from_client, uint32_t seq)
{
    return segment(t, from_client, DEC_TCP_RST, seq, 0, 0);
}

/* An ICMP/ICMPv6 error sent by `from` to the client, quoting a SYN of `quoted` with quoted_seq. */
struct dec_event icmp_err(const struct dec_addr *from, const struct tuple *quoted,
                          uint32_t quoted_seq, uint8_t type, uint8_t code)
{
    struct dec_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = DEC_EV_ICMP;
    ev.family = quoted->family;
    ev.ttl = 62;
    ev.src = *from;
    ev.dst = quoted->client;
    ev.icmp_type = type;
    ev.icmp_code = code;
    ev.quoted_family = quoted->family;
    ev.quoted_src = quoted->client;
    ev.quoted_dst = quoted->server;
    ev.quoted_sport = quoted->client_port;
    ev.quoted_dport = quoted->server_port;
    ev.quoted_seq = quoted_seq;
    return ev;
}

void collect(const struct flow_attempt *attempt, void *user)
{
    struct collector *c = user;

    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct flow_attempt *items = realloc(c->items, cap * sizeof(*items));

        cr_assert_not_null(items);
        c->items = items;
        c->cap = cap;
    }
    c->items[c->count++] = *attempt;
}

void rig_init_cap(struct rig *r, uint32_t max_attempts)
{
    char errbuf[128];

    memset(r, 0, sizeof(*r));
    flow_config_default(&r->cfg);
    r->cfg.syn_timeout_ns = 3 * SEC;
    r->cfg.hash_seed = 0x0123456789abcdefULL;
    r->cfg.max_attempts = max_attempts;
    cr_assert_eq(flow_create(&r->table, &r->cfg, collect, &r->got, errbuf, sizeof(errbuf)), 0, "%s",
                 errbuf);
}

void rig_init(struct rig *r)
{
    rig_init_cap(r, 1000000);
}

/* Feeds ev at T0 + at_ns as the next packet number. */
void feed(struct rig *r, struct dec_event ev, int64_t at_ns)
{
    flow_event(r->table, &ev, T0 + at_ns, ++r->pkt);
}

void advance_to(struct rig *r, int64_t at_ns)
{
    flow_advance(r->table, T0 + at_ns);
}

struct flow_stats stats_of(const struct rig *r)
{
    struct flow_stats s;

    flow_get_stats(r->table, &s);
    return s;
}

void rig_init_syn(struct rig *r, const struct tuple *t, uint32_t isn)
{
    rig_init(r);
    feed(r, syn(t, isn), 0);
}

void handshake(struct rig *r, const struct tuple *t, int64_t at_ns)
{
    feed(r, syn(t, 1000), at_ns);
    feed(r, synack(t, 7000, 1001), at_ns + 1 * MS);
    feed(r, ack_of(t, true, 1001, 7001), at_ns + 2 * MS);
}

/* Ends the input and checks that every attempt started was emitted exactly once: the counts
 * agree, nothing is held, and no two records start with the same packet. */
void finish_all(struct rig *r)
{
    flow_finish(r->table);
    struct flow_stats s = stats_of(r);

    cr_assert_eq(s.tracked, 0);
    cr_assert_eq(s.attempts, r->got.count, "%llu attempts started, %zu emitted",
                 (unsigned long long)s.attempts, r->got.count);
    for (size_t i = 0; i < r->got.count; i++) {
        cr_assert_geq(r->got.items[i].packet_count, 1);
        for (size_t k = i + 1; k < r->got.count; k++) {
            cr_assert_neq(r->got.items[i].packets[0], r->got.items[k].packets[0],
                          "attempts %zu and %zu both start at packet %u", i, k,
                          r->got.items[i].packets[0]);
        }
    }
}

void rig_free(struct rig *r)
{
    flow_destroy(r->table);
    free(r->got.items);
}

void judge(const struct flow_attempt *a, struct rep_judgement *j)
{
    struct rep_config cfg = {.syn_timeout_ns = 3 * SEC};

    rep_judge(a, &cfg, j);
}

struct rep_judgement judge_only(struct rig *r)
{
    struct rep_judgement j;

    finish_all(r);
    cr_assert_eq(r->got.count, 1, "%zu attempts emitted", r->got.count);
    judge(&r->got.items[0], &j);
    return j;
}

void repo_root(char *out, size_t outlen)
{
    size_t n = strlen(SYNSCOPE_SOURCE_DIR);
    cr_assert_lt(n, outlen, "source folder name too long");
    memcpy(out, SYNSCOPE_SOURCE_DIR, n + 1);
}

char *report_json_with(struct rig *r, const struct flow_neighbour *neighbours, size_t count)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert_not_null(out);
    struct rep_options opts = {.format = REP_FORMAT_JSON, .out = out};
    opts.cfg.syn_timeout_ns = r->cfg.syn_timeout_ns;
    struct rep_report *rep = NULL;
    char err[128];
    cr_assert_eq(rep_create(&rep, &opts, err, sizeof(err)), 0);
    for (size_t i = 0; i < count; i++) {
        rep_neighbour(rep, &neighbours[i]); /* as flow_finish does, before the attempts */
    }
    for (size_t i = 0; i < r->got.count; i++) {
        rep_attempt(rep, &r->got.items[i]);
    }
    struct rep_input_stats input = {0};
    struct flow_stats fs = stats_of(r);
    cr_assert_eq(rep_finish(rep, &input, &fs, err, sizeof(err)), 0);
    rep_destroy(rep);
    fclose(out);
    return buf;
}
