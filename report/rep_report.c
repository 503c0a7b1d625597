/* rep_report.c - collects judged attempts: totals per verdict and per service, the listing. */
#include "rep_diag.h"
#include "rep_int.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIST_LIMIT 20

int rep_create(struct rep_report **out, const struct rep_options *opts, char *errbuf, size_t errlen)
{
    struct rep_report *r = calloc(1, sizeof(*r));
    *out = NULL;
    if (r == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    r->opts = *opts;
    if (r->opts.list_limit == 0) {
        r->opts.list_limit = DEFAULT_LIST_LIMIT;
    }
    r->diag = rep_diag_create(); /* NULL: no diagnoses, everything else works */
    /* nothing printed depends on the seed: the heap address differs from run to run */
    r->service_seed = (uint64_t)(uintptr_t)r * 0xc2b2ae3d27d4eb4fULL;
    if (!rep_index_init(&r->service_index, 256)) {
        rep_diag_destroy(r->diag);
        free(r);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    *out = r;
    return 0;
}

void rep_destroy(struct rep_report *r)
{
    if (r == NULL) {
        return;
    }
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        free(r->listed[v]);
    }
    free(r->services);
    rep_index_free(&r->service_index);
    rep_diag_destroy(r->diag);
    free(r->pending);
    free(r->failed_packets);
    free(r->json_buf);
    free(r);
}

uint64_t rep_verdict_count(const struct rep_report *r, enum rep_verdict verdict)
{
    return (unsigned)verdict < REP_VERDICT_COUNT ? r->counts[verdict] : 0;
}

/* The service row of an attempt's server address:port, a new one when it is new; NULL when
 * the table is full (counted as unlisted) or memory ran out. number is the diagnoses' number
 * for it (rep_diag_account), tried first: both tables number services in the order they come,
 * so it is almost always right, and the index (a cache miss) is looked at only when not. */
static struct rep_service *find_service(struct rep_report *r, const struct flow_attempt *a,
                                        uint32_t number)
{
    if (number < r->service_count) {
        struct rep_service *svc = &r->services[number];
        if (svc->port == a->server_port && svc->family == a->family &&
            rep_addr_equal(&svc->addr, &a->server)) {
            return svc;
        }
    }
    uint32_t hash = rep_key_hash(r->service_seed, a->family, &a->server, a->server_port);
    uint32_t pos = hash, e;
    while ((e = rep_index_next(&r->service_index, hash, &pos)) != UINT32_MAX) {
        struct rep_service *svc = &r->services[e];
        if (svc->port == a->server_port && svc->family == a->family &&
            rep_addr_equal(&svc->addr, &a->server)) {
            return svc;
        }
    }
    if (r->service_count >= REP_MAX_SERVICES || !rep_index_has_room(&r->service_index)) {
        r->unlisted_attempts++; /* full (or the index could not grow): no row of its own */
        return NULL;
    }
    if (r->service_count == r->service_cap) {
        uint32_t cap = r->service_cap ? r->service_cap * 2 : 64;
        struct rep_service *ns = realloc(r->services, cap * sizeof(*ns));
        if (ns == NULL) {
            return NULL;
        }
        r->services = ns;
        r->service_cap = cap;
    }
    struct rep_service *svc = &r->services[r->service_count];
    memset(svc, 0, sizeof(*svc));
    svc->family = a->family;
    svc->addr = a->server;
    svc->port = a->server_port;
    svc->addr_text.len = rep_addr_format(a->family, &a->server, svc->addr_text.text);
    if (!rep_index_add(&r->service_index, pos, hash, r->service_count++)) {
        r->alloc_failed = true;
    }
    return svc;
}

static void keep_for_listing(struct rep_report *r, const struct flow_attempt *a,
                             const struct rep_judgement *j)
{
    enum rep_verdict v = j->verdict;
    if (r->listed_count[v] >= r->opts.list_limit) {
        return;
    }
    if (r->listed[v] == NULL) {
        r->listed[v] = calloc(r->opts.list_limit, sizeof(*r->listed[v]));
        if (r->listed[v] == NULL) {
            r->alloc_failed = true;
            return;
        }
    }
    struct rep_listed *slot = &r->listed[v][r->listed_count[v]++];
    slot->attempt = *a;
    slot->judgement = *j;
    slot->host_detail[0] = '\0';
    if (r->host != NULL) {
        rep_host_detail(slot->host_detail, sizeof(slot->host_detail), a, j, r->host,
                        rep_host_cause(a, j, r->host));
    }
}

/* The verdict a live line showed when the attempt was announced with this answer. */
static enum rep_verdict announced_verdict(uint8_t answer)
{
    switch (answer) {
    case FLOW_ANS_RST:
        return REP_REFUSED;
    case FLOW_ANS_ICMP:
        return REP_UNREACHABLE;
    default:
        return REP_ACCEPTED;
    }
}

/* Remembers the packet numbers of a failed attempt (--write-failed). */
static void keep_packets(struct rep_report *r, const struct flow_attempt *a)
{
    if (r->failed_count + a->packet_count > r->failed_cap) {
        size_t cap = r->failed_cap ? r->failed_cap * 2 : 1024;
        while (cap < r->failed_count + a->packet_count) {
            cap *= 2;
        }
        uint32_t *grown = realloc(r->failed_packets, cap * sizeof(*grown));
        if (grown == NULL) {
            r->alloc_failed = true;
            return;
        }
        r->failed_packets = grown;
        r->failed_cap = cap;
    }
    for (uint32_t i = 0; i < a->packet_count; i++) {
        r->failed_packets[r->failed_count++] = a->packets[i];
    }
}

static int packet_order(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

size_t rep_failed_packets(struct rep_report *r, const uint32_t **numbers)
{
    if (r->failed_count > 1) {
        qsort(r->failed_packets, r->failed_count, sizeof(*r->failed_packets), packet_order);
        size_t kept = 1;
        for (size_t i = 1; i < r->failed_count; i++) {
            if (r->failed_packets[i] != r->failed_packets[kept - 1]) {
                r->failed_packets[kept++] = r->failed_packets[i];
            }
        }
        r->failed_count = kept;
    }
    *numbers = r->failed_packets;
    return r->failed_count;
}

/* Judges an attempt with everything known about its server, and writes or keeps it. */
static void finalize(struct rep_report *r, const struct flow_attempt *a)
{
    struct rep_judgement j;
    rep_judge(a, &r->opts.cfg, &j);
    rep_diag_middlebox(r->diag, a, &j);
    uint32_t service_number = rep_diag_account(r->diag, a, &j);
    r->attempts++;
    r->counts[j.verdict]++;
    if (r->first_ns == 0 || j.start_ns < r->first_ns) {
        r->first_ns = j.start_ns;
    }
    if (a->last_ns > r->last_ns) {
        r->last_ns = a->last_ns;
    }
    struct rep_service *svc = find_service(r, a, service_number);
    if (svc != NULL) {
        svc->total++;
        svc->counts[j.verdict]++;
    }
    if (r->opts.keep_failed_packets &&
        (rep_verdict_is_failure(j.verdict) || (j.flags & REP_FLAG_MIDDLEBOX_RESET))) {
        keep_packets(r, a);
    }
    if (r->opts.format == REP_FORMAT_JSON) {
        rep_json_attempt(r, a, &j, svc);
        if (r->opts.live) {
            rep_json_flush(r);
            fflush(r->opts.out);
        }
        return;
    }
    if (j.verdict != REP_ACCEPTED) {
        keep_for_listing(r, a, &j);
    }
    bool shown = a->announced != FLOW_ANS_NONE && j.verdict == announced_verdict(a->announced);
    bool wanted = !r->opts.failed_only || rep_verdict_is_failure(j.verdict);
    if (r->opts.live && r->opts.format == REP_FORMAT_TEXT && !shown && wanted) {
        rep_text_live_line(r, a, &j, false);
    }
}

/* Refusals wait (at most PENDING_MAX of them, at most PENDING_NS of packet time) before they
 * are judged: whether the RST is the server's is told by the server's own packets, which may
 * come in other attempts after this one finished. */
#define PENDING_MAX 4096
#define PENDING_NS 30000000000LL

static void finalize_oldest(struct rep_report *r)
{
    struct flow_attempt *a = &r->pending[r->pending_head];
    r->pending_head = (r->pending_head + 1) % PENDING_MAX;
    r->pending_count--;
    finalize(r, a);
}

void rep_attempt(struct rep_report *r, const struct flow_attempt *a)
{
    struct rep_diag_keys keys;
    rep_diag_prefetch(r->diag, a, &keys);
    rep_diag_observe(r->diag, a, &keys);
    if (a->last_ns > r->newest_ns) {
        r->newest_ns = a->last_ns;
    }
    while (r->pending_count > 0 &&
           r->pending[r->pending_head].last_ns + PENDING_NS < r->newest_ns) {
        finalize_oldest(r);
    }
    /* live: a record is written when it is decided, with the evidence seen so far */
    if (a->answer == FLOW_ANS_RST && a->saw_syn && r->diag != NULL && !r->opts.live) {
        if (r->pending == NULL) {
            r->pending = malloc(PENDING_MAX * sizeof(*r->pending));
        }
        if (r->pending != NULL) {
            if (r->pending_count == PENDING_MAX) {
                finalize_oldest(r);
            }
            r->pending[(r->pending_head + r->pending_count) % PENDING_MAX] = *a;
            r->pending_count++;
            return;
        }
    }
    finalize(r, a);
}

void rep_attempt_host(struct rep_report *r, const struct flow_attempt *a,
                      const struct rep_host *host)
{
    r->host = host; /* live: finalize runs within this call (no refusal waits in live) */
    rep_attempt(r, a);
    r->host = NULL;
}

void rep_provisional_host(struct rep_report *r, const struct flow_attempt *a,
                          const struct rep_host *host)
{
    r->host = host;
    rep_provisional(r, a);
    r->host = NULL;
}

void rep_set_service_host(struct rep_report *r, rep_service_host_fn fn, void *user)
{
    r->service_host = fn;
    r->service_host_user = user;
}

void rep_neighbour(struct rep_report *r, const struct flow_neighbour *n)
{
    rep_diag_neighbour(r->diag, n);
}

void rep_provisional(struct rep_report *r, const struct flow_attempt *a)
{
    if (r->opts.format != REP_FORMAT_TEXT || !r->opts.live) {
        return;
    }
    struct rep_judgement j;
    rep_judge(a, &r->opts.cfg, &j);
    if (r->opts.failed_only && !rep_verdict_is_failure(j.verdict)) {
        return;
    }
    rep_text_live_line(r, a, &j, j.verdict == REP_ACCEPTED);
}

int rep_finish(struct rep_report *r, const struct rep_input_stats *input,
               const struct flow_stats *flows, char *errbuf, size_t errlen)
{
    while (r->pending_count > 0) {
        finalize_oldest(r);
    }
    r->diagnosis_count = rep_diag_finish(r->diag, &r->diagnoses);
    if (r->opts.format == REP_FORMAT_JSON) {
        rep_json_finish(r, input, flows);
    } else if (r->opts.format == REP_FORMAT_HTML) {
        rep_html_finish(r, input, flows);
    } else {
        rep_text_finish(r, input, flows);
    }
    if (fflush(r->opts.out) != 0 || ferror(r->opts.out)) {
        snprintf(errbuf, errlen, "writing the report failed");
        return -1;
    }
    return 0;
}
