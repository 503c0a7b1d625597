/* rep_diag_rules.c - the diagnoses made once every attempt is in, from the evidence rep_diag.c
 * gathered: what is wrong with a service (overloaded, SYN cookies, rate limits, middlebox
 * resets, per-client failures, firewall REJECT rules), a host (unresolved neighbours) or a
 * client. Each rule states its facts in a summary; the kinds' fixed texts are in one table. */
#include "rep_diag_int.h"
#include "rep_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVERLAP_SLACK_NS 5000000000LL /* "the same period": within 5 s */

/* The kinds of diagnosis. A single-client diagnosis is about one service or, across
 * services, about the client itself: the same name with other texts. */
enum kind {
    KIND_OVERLOADED,
    KIND_SYN_COOKIES,
    KIND_RATE_LIMITED,
    KIND_MIDDLEBOX_RESET,
    KIND_MIXED_REFUSAL,
    KIND_SINGLE_CLIENT,
    KIND_FIREWALL_REJECT,
    KIND_UNRESOLVED_NEIGHBOUR,
    KIND_CLIENT_FAILS,
};

/* How badly connections fare where a kind of diagnosis applies; the reports list the most
 * severe diagnoses first.
 *   BLOCKED      a rule or a fault refuses or cuts connections before the service has a say:
 *                firewall-reject, middlebox-reset, mixed-refusal, unresolved-neighbour
 *   LOSING       the service, or a limit in front of it, loses connections under load:
 *                overloaded, rate-limited
 *   ONE_CLIENT   the failures are those of one client: single-client (of a service, or of the
 *                client across services)
 *   DEGRADED     connections get through, with less: syn-cookies (window scaling and SACK
 *                may be lost) */
enum severity { DEGRADED = 0, ONE_CLIENT, LOSING, BLOCKED };

/* Each kind's name, severity, likely causes, what its evidence rules out, and the commands to
 * run next (PORT, SERVER and ADDR stand for the values; see rep_diag_next). */
static const struct kind_text {
    const char *name;
    enum severity severity;
    const char *causes, *ruled_out, *next;
} kinds[] = {
    [KIND_OVERLOADED] =
        {"overloaded", LOSING,
         "the application does not call accept() fast enough (blocked, busy, too few workers); "
         "the listen() backlog or net.core.somaxconn is too small; with tcp_abort_on_overflow=1 "
         "the kernel answers with a RST instead",
         "a firewall drop (it would drop every SYN, not some); nothing listening (the kernel "
         "would refuse with a RST)",
         "`ss -ltn 'sport = :PORT'` (Recv-Q up to Send-Q: accept queue full); `nstat -az "
         "TcpExtListenOverflows TcpExtListenDrops`; `sysctl net.core.somaxconn "
         "net.ipv4.tcp_max_syn_backlog`"},
    [KIND_SYN_COOKIES] =
        {"syn-cookies", DEGRADED,
         "a SYN flood, or a listener so busy that its SYN queue fills (tcp_max_syn_backlog); "
         "tcp_syncookies=2 sends cookies always",
         "a lost connection: cookies still let clients in, with fewer TCP options (window "
         "scaling, SACK may be lost)",
         "`nstat -az TcpExtSyncookiesSent TcpExtSyncookiesRecv TcpExtSyncookiesFailed "
         "TcpExtListenDrops`; `sysctl net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog`"},
    [KIND_RATE_LIMITED] =
        {"rate-limited", LOSING,
         "a firewall rule such as `limit rate 1/second ... reject` followed by a drop; ICMP or "
         "RST rate limiting (net.ipv4.icmp_ratelimit, tcp_invalid_ratelimit)",
         "an overloaded listener (it would accept some, not refuse them)",
         "`nft list ruleset | grep -n limit`; `iptables -S | grep limit`; `sysctl "
         "net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec`"},
    [KIND_MIDDLEBOX_RESET] =
        {"middlebox-reset", BLOCKED,
         "a firewall, IPS or proxy between client and server rejecting with a TCP reset "
         "(nft/iptables `reject with tcp reset` in a forward chain, an IPS signature, a load "
         "balancer)",
         "the server itself (its own packets come from another distance)",
         "`traceroute -T -p PORT SERVER` to find the hop; the firewall rules there (`nft list "
         "ruleset`); capture on the server to see whether the SYN arrives at all"},
    [KIND_MIXED_REFUSAL] =
        {"mixed-refusal", BLOCKED,
         "two problems at once: a middlebox rule for some clients or source ports, and a closed "
         "port or host firewall for the others",
         "a single cause",
         "compare the source ports and clients of both kinds; `traceroute -T -p PORT SERVER`; "
         "`ss -ltnp 'sport = :PORT'` on the server"},
    [KIND_SINGLE_CLIENT] =
        {"single-client", ONE_CLIENT,
         "a rule for that source address (firewall, security group, fail2ban, a rate limit per "
         "source), or a route, NAT or MTU problem on that client's path",
         "the service being down (it accepts other clients)",
         "`nft list ruleset | grep CLIENT` and the fail2ban/security-group lists on the server; "
         "`ip route get SERVER` on the failing client"},
    [KIND_FIREWALL_REJECT] =
        {"firewall-reject", BLOCKED,
         "a plain `reject` rule (nft) or `-j REJECT` (iptables) on the host that sent the ICMP "
         "error",
         "a closed port (RST), a silent drop (no answer)",
         "`nft list ruleset | grep -n reject` or `iptables -S | grep REJECT` on the host that "
         "sent the error"},
    [KIND_UNRESOLVED_NEIGHBOUR] =
        {"unresolved-neighbour", BLOCKED,
         "the host is down or disconnected, the address is wrong or moved, the host is on "
         "another VLAN, or a firewall drops ARP/ND",
         "a firewall dropping the connection (the SYN never left the client)",
         "`ip neigh show ADDR` (FAILED or INCOMPLETE) on the client; `arping` / `ndisc6` to the "
         "address; check that the host is up and where it is plugged in"},
    [KIND_CLIENT_FAILS] =
        {"single-client", ONE_CLIENT,
         "the client's own firewall, routes, DNS answers or MTU; a rule about its address on the "
         "way (security group, fail2ban, per-source rate limit)",
         "the services being down (they accept other clients)",
         "on ADDR: `ip route get` and `tracepath` to the servers it fails to reach, `nft list "
         "ruleset`; on those servers and the firewalls on the way: rules that match ADDR"},
};

/* A new diagnosis of a kind with its fixed texts, its summary still to write; NULL when there
 * is no more room. */
static struct rep_diagnosis *add(struct rep_diag *d, enum kind kind, int family,
                                 const struct dec_addr *addr, uint16_t port)
{
    if (d->result_count == MAX_DIAGNOSES) {
        return NULL;
    }
    struct rep_diagnosis *r = &d->results[d->result_count++];
    memset(r, 0, sizeof(*r));
    r->kind = kinds[kind].name;
    r->family = (uint8_t)family;
    r->addr = *addr;
    r->port = port;
    r->about_client = kind == KIND_CLIENT_FAILS;
    r->causes = kinds[kind].causes;
    r->ruled_out = kinds[kind].ruled_out;
    r->next = kinds[kind].next;
    return r;
}

static struct rep_diagnosis *add_service(struct rep_diag *d, enum kind kind,
                                         const struct service_info *s)
{
    return add(d, kind, s->family, &s->addr, s->port);
}

static bool overlaps(int64_t a_first, int64_t a_last, int64_t b_first, int64_t b_last)
{
    return a_first != 0 && b_first != 0 && a_first <= b_last + OVERLAP_SLACK_NS &&
           b_first <= a_last + OVERLAP_SLACK_NS;
}

/* Attempts that went unanswered: dropped or half-open. */
static uint64_t lost(const struct service_info *s)
{
    return s->counts[REP_DROPPED] + s->counts[REP_HALF_OPEN];
}

/* ---- per service (name: its address:port) ------------------------------------------------ */

/* Some SYNs accepted and others silently dropped in the same period, SYN-ACKs re-sent after
 * the client's ACK, or resets right after the handshake: the listener's queues are full. */
static void overloaded(struct rep_diag *d, const struct service_info *s, const char *name)
{
    uint64_t ok = s->counts[REP_ACCEPTED];
    /* Every unanswered SYN from one client that is never accepted here, while others are:
     * a rule about that source (single-client), not a full queue, which drops whoever comes
     * when it is full. */
    bool one_source_dropped = s->lost_clients == 1 && !s->lost_client_accepted;
    bool mixed = ok > 0 && lost(s) > 0 && !one_source_dropped &&
                 overlaps(s->ok_first, s->ok_last, s->lost_first, s->lost_last);
    /* a reset right after the handshake alone is also what an application that accepts and
     * aborts does: it counts only next to accepted connections of the same service */
    bool quick = s->quick_resets >= 2 && ok > 0;
    struct rep_diagnosis *r;
    if (!(mixed || s->synack_after_ack > 0 || quick) ||
        (r = add_service(d, KIND_OVERLOADED, s)) == NULL) {
        return;
    }
    char facts[256];
    struct rep_text t;
    rep_text_init(&t, facts, sizeof(facts));
    rep_text_printf(&t, "%s accepted %llu attempt%s", name, (unsigned long long)ok,
                    rep_plural((int64_t)ok));
    if (lost(s) > 0) {
        rep_text_printf(&t, " and silently dropped %llu in the same period",
                        (unsigned long long)lost(s));
    }
    if (s->synack_after_ack > 0) {
        rep_text_printf(&t, "; it re-sent its SYN-ACK after the client's ACK %u time%s",
                        s->synack_after_ack, rep_plural(s->synack_after_ack));
    }
    if (quick) {
        rep_text_printf(&t, "; it reset %u connections right after the handshake", s->quick_resets);
    }
    snprintf(r->summary, sizeof(r->summary),
             "%s. The listener's queues are full: Linux drops SYNs (and ACKs it cannot queue) "
             "silently instead of refusing them.",
             facts);
}

/* SYN-ACKs with the marks of a Linux SYN cookie (rep_diag.c counts them). */
static void syn_cookies(struct rep_diag *d, const struct service_info *s, const char *name)
{
    uint32_t cookies = s->cookie_like + (s->synacks_full > 0 ? s->synacks_stripped : 0);
    struct rep_diagnosis *r;
    if (cookies >= 1 && (r = add_service(d, KIND_SYN_COOKIES, s)) != NULL) {
        snprintf(r->summary, sizeof(r->summary),
                 "%u of %u handshakes with %s show a Linux SYN cookie (a SYN-ACK stripped to its "
                 "MSS, or data segments sized from the cookie MSS table instead of the client's "
                 "MSS): the server's SYN queue overflowed, or cookies are forced.",
                 cookies, s->synacks, name);
    }
}

/* Refusals spread evenly, about one per 0.5-2 s, while other SYNs go unanswered. */
static void rate_limited(struct rep_diag *d, const struct service_info *s, const char *name)
{
    uint64_t refused = s->counts[REP_REFUSED];
    int64_t spacing = refused >= 2 ? (s->rst_last - s->rst_first) / (int64_t)(refused - 1) : 0;
    struct rep_diagnosis *r;
    if (refused >= 2 && lost(s) >= 1 &&
        overlaps(s->ref_first, s->ref_last, s->lost_first, s->lost_last) &&
        spacing >= 500000000LL && spacing <= 2000000000LL &&
        (r = add_service(d, KIND_RATE_LIMITED, s)) != NULL) {
        snprintf(r->summary, sizeof(r->summary),
                 "%s refused %llu attempts and ignored %llu in the same period, the refusals "
                 "%.1f s apart on average: a reject rule with a rate limit (the packets over the "
                 "limit are dropped).",
                 name, (unsigned long long)refused, (unsigned long long)lost(s),
                 (double)spacing / 1e9);
    }
}

/* Attempts reset by a device on the path (rep_diag_middlebox told), with the first one's
 * evidence. */
static void middlebox_reset(struct rep_diag *d, const struct service_info *s, const char *name)
{
    struct rep_diagnosis *r;
    if (s->middlebox_resets > 0 && (r = add_service(d, KIND_MIDDLEBOX_RESET, s)) != NULL) {
        snprintf(r->summary, sizeof(r->summary),
                 "%u attempt%s to %s %s reset by a device on the path, not by the server: %s.",
                 s->middlebox_resets, rep_plural(s->middlebox_resets), name,
                 s->middlebox_resets == 1 ? "was" : "were",
                 s->example != 0 ? d->examples[s->example - 1] : "");
    }
}

/* Refused by the host itself at some times and by a middlebox at others. */
static void mixed_refusal(struct rep_diag *d, const struct service_info *s, const char *name)
{
    uint64_t refused = s->counts[REP_REFUSED], by_middlebox = s->counts[REP_REFUSED_BY_MIDDLEBOX];
    struct rep_diagnosis *r;
    if (refused > 0 && by_middlebox > 0 && (r = add_service(d, KIND_MIXED_REFUSAL, s)) != NULL) {
        snprintf(r->summary, sizeof(r->summary),
                 "%s was refused %llu time%s by the host itself and %llu time%s by a device on "
                 "the path.",
                 name, (unsigned long long)refused, rep_plural((int64_t)refused),
                 (unsigned long long)by_middlebox, rep_plural((int64_t)by_middlebox));
    }
}

/* Every failure at the service comes from one client, while another connects. */
static void single_client(struct rep_diag *d, const struct service_info *s, const char *name)
{
    uint64_t failed = 0;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (rep_verdict_is_failure((enum rep_verdict)v) && v != REP_CLIENT_ABORT) {
            failed += s->counts[v];
        }
    }
    struct rep_diagnosis *r;
    if (failed == 0 || s->failed_clients != 1 || !s->ok_from_other_client || s->ok_clients == 0 ||
        (s->ok_clients == 1 && rep_addr_equal(&s->ok_client, &s->failed_client)) ||
        (r = add_service(d, KIND_SINGLE_CLIENT, s)) == NULL) {
        return;
    }
    char bad[REP_ADDR_LEN], good[REP_ADDR_LEN];
    snprintf(r->summary, sizeof(r->summary),
             "every failure at %s (%llu) comes from %s, while %s%s connect%s fine.", name,
             (unsigned long long)failed, rep_addr_str(s->family, &s->failed_client, bad),
             rep_addr_str(s->family, &s->ok_client, good), s->ok_clients > 1 ? " and others" : "",
             s->ok_clients > 1 ? "" : "s");
}

/* ICMP port unreachable answers to TCP: a firewall's REJECT rule. */
static void firewall_reject(struct rep_diag *d, const struct service_info *s, const char *name)
{
    struct rep_diagnosis *r;
    if (s->port_unreachable > 0 && (r = add_service(d, KIND_FIREWALL_REJECT, s)) != NULL) {
        snprintf(r->summary, sizeof(r->summary),
                 "%u attempt%s to %s got ICMP port unreachable: for TCP that is a firewall REJECT "
                 "rule, since a TCP stack answers a closed port with a RST.",
                 s->port_unreachable, rep_plural(s->port_unreachable), name);
    }
}

/* ---- per host and per client ------------------------------------------------------------- */

/* A host the client asked for again and again (ARP, neighbour discovery) without an answer,
 * and no SYN to it on the wire: connect() fails on the client itself. */
static void diagnose_neighbour(struct rep_diag *d, const struct flow_neighbour *n)
{
    const struct host_info *h = rep_diag_find_host(d, n->family, &n->addr);
    if (h != NULL && h->attempts > 0) {
        return; /* SYNs did go to it: not a local resolution failure */
    }
    /* ARP requests are broadcast but replies unicast: a capture sees the requests of every
     * host on the segment and only the replies to itself. So an unanswered request counts
     * only when the capture is the asker's own: its connection attempts are in it, or the
     * capture holds no connection attempt at all (taken on the client while connect()
     * failed locally). And it must have asked again (Linux asks 3 times). */
    const struct host_info *asking = rep_diag_find_host(d, n->family, &n->asked_by);
    bool own_capture = (asking != NULL && asking->as_client > 0) || d->attempts == 0;
    struct rep_diagnosis *r;
    if (!own_capture || n->requests < 2 ||
        (r = add(d, KIND_UNRESOLVED_NEIGHBOUR, n->family, &n->addr, 0)) == NULL) {
        return;
    }
    char addr[REP_ADDR_LEN], asker[REP_ADDR_LEN];
    rep_addr_str(n->family, &n->addr, addr);
    snprintf(r->summary, sizeof(r->summary),
             "%s asked %u time%s for %s (%s) and never got an answer, and no SYN to %s is on "
             "the wire: the connection fails on the client itself with \"No route to host\" "
             "(EHOSTUNREACH).",
             rep_addr_str(n->family, &n->asked_by, asker), n->requests, rep_plural(n->requests),
             addr, n->family == 4 ? "ARP" : "neighbour solicitation", addr);
}

/* Every failure in the capture, across several services, comes from one client while other
 * clients connect: the problem is on that client's side or in a rule about it. (One service
 * only is the per-service single-client diagnosis.) */
static void diagnose_one_client(struct rep_diag *d)
{
    bool other_ok = d->ok_clients == 2 ||
                    (d->ok_clients == 1 && !rep_addr_equal(&d->ok_client, &d->failed_client));
    struct rep_diagnosis *r;
    if (d->failed_clients != 1 || d->failed_services < 2 || !other_ok ||
        (r = add(d, KIND_CLIENT_FAILS, d->failed_family, &d->failed_client, 0)) == NULL) {
        return;
    }
    char bad[REP_ADDR_LEN];
    snprintf(r->summary, sizeof(r->summary),
             "all %llu failures in the capture, at %u services, come from %s, while other "
             "clients connect.",
             (unsigned long long)d->client_failures, d->failed_services,
             rep_addr_str(d->failed_family, &d->failed_client, bad));
}

/* ---- the diagnoses, in their order ------------------------------------------------------ */

/* The rules for a service, in the order of the kinds. */
static const struct service_rule {
    enum kind kind;
    void (*rule)(struct rep_diag *d, const struct service_info *s, const char *name);
} service_rules[] = {
    {KIND_OVERLOADED, overloaded},           {KIND_SYN_COOKIES, syn_cookies},
    {KIND_RATE_LIMITED, rate_limited},       {KIND_MIDDLEBOX_RESET, middlebox_reset},
    {KIND_MIXED_REFUSAL, mixed_refusal},     {KIND_SINGLE_CLIENT, single_client},
    {KIND_FIREWALL_REJECT, firewall_reject},
};

/* The order of what diagnoses are about: by address family, address, then port (a host's or a
 * client's own diagnoses, port 0, come before its services'); a client after a host. */
static int target_order(int family_a, const struct dec_addr *addr_a, unsigned port_a, bool client_a,
                        int family_b, const struct dec_addr *addr_b, unsigned port_b, bool client_b)
{
    if (family_a != family_b) {
        return family_a < family_b ? -1 : 1;
    }
    int c = memcmp(addr_a->b, addr_b->b, sizeof(addr_a->b));
    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    if (port_a != port_b) {
        return port_a < port_b ? -1 : 1;
    }
    return (int)client_a - (int)client_b;
}

static int service_order(const void *x, const void *y)
{
    const struct service_info *a = *(const struct service_info *const *)x;
    const struct service_info *b = *(const struct service_info *const *)y;
    return target_order(a->family, &a->addr, a->port, false, b->family, &b->addr, b->port, false);
}

/* Sorts n diagnoses by what they are about, keeping the order of those about the same (their
 * kinds' order): insertion sort, stable, of at most MAX_DIAGNOSES. */
static void sort_by_target(struct rep_diagnosis *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct rep_diagnosis moving = r[i];
        size_t k = i;
        while (k > 0 &&
               target_order(r[k - 1].family, &r[k - 1].addr, r[k - 1].port, r[k - 1].about_client,
                            moving.family, &moving.addr, moving.port, moving.about_client) > 0) {
            r[k] = r[k - 1];
            k--;
        }
        r[k] = moving;
    }
}

/* The diagnoses of one severity, for the services in the order of service_order, then the
 * hosts and the client; sorted by what they are about. */
static void diagnose_severity(struct rep_diag *d, enum severity severity,
                              const struct service_info *const *services, uint32_t count)
{
    size_t first = d->result_count;
    for (uint32_t i = 0; i < count; i++) {
        char name[64];
        rep_endpoint_str(services[i]->family, &services[i]->addr, services[i]->port, name,
                         sizeof(name));
        for (size_t k = 0; k < sizeof(service_rules) / sizeof(service_rules[0]); k++) {
            if (kinds[service_rules[k].kind].severity == severity) {
                service_rules[k].rule(d, services[i], name);
            }
        }
    }
    if (kinds[KIND_UNRESOLVED_NEIGHBOUR].severity == severity) {
        for (uint32_t i = 0; i < d->neighbour_count; i++) {
            diagnose_neighbour(d, &d->neighbours[i]);
        }
    }
    if (kinds[KIND_CLIENT_FAILS].severity == severity) {
        diagnose_one_client(d);
    }
    sort_by_target(d->results + first, d->result_count - first);
}

/* Most severe first (enum severity), then by what they are about (target_order), then in the
 * order of the kinds. When there are more than MAX_DIAGNOSES, the least severe are left out. */
size_t rep_diag_finish(struct rep_diag *d, const struct rep_diagnosis **out)
{
    *out = NULL;
    if (d == NULL) {
        return 0;
    }
    d->result_count = 0;
    const struct service_info **services =
        malloc(((size_t)d->service_count + 1) * sizeof(*services));
    uint32_t count = services != NULL ? d->service_count : 0; /* out of memory: hosts only */
    for (uint32_t i = 0; i < count; i++) {
        services[i] = &d->services[i];
    }
    if (count > 1) {
        qsort(services, count, sizeof(*services), service_order);
    }
    for (int severity = BLOCKED; severity >= DEGRADED; severity--) {
        diagnose_severity(d, (enum severity)severity, services, count);
    }
    free(services);
    *out = d->results;
    return d->result_count;
}

/* ---- what the reports print of a diagnosis ----------------------------------------------- */

void rep_diag_next(const struct rep_diagnosis *r, char *buf, size_t len)
{
    char ip[REP_ADDR_LEN];
    struct rep_text t;
    rep_text_init(&t, buf, len);
    rep_text_fill(&t, r->next, r->port, rep_addr_str(r->family, &r->addr, ip));
}

const char *rep_diag_where(const struct rep_diagnosis *r, char *buf, size_t len)
{
    if (r->port != 0) {
        return rep_endpoint_str(r->family, &r->addr, r->port, buf, len);
    }
    char ip[REP_ADDR_LEN];
    struct rep_text t;
    rep_text_init(&t, buf, len);
    rep_text_str(&t, rep_addr_str(r->family, &r->addr, ip));
    if (r->about_client) {
        REP_TEXT_LIT(&t, " (client)");
    }
    return buf;
}
