/* fuzz_decode.c - libFuzzer target: one frame through dec_packet, over every link type, and the
 * event (if any) through a flow table and a JSON report.
 *
 * Input: byte 0 picks the link type (DEC_LINK_* list; beyond it, an unsupported value),
 * byte 1 how many bytes the frame had beyond those captured (caplen < wirelen), the rest is
 * the captured frame. tests/fuzz/seed.py writes seeds in this form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flows.h"
#include "fuzz.h"
#include "report.h"

static const int links[] = {
    DEC_LINK_NULL, DEC_LINK_EN10MB,    DEC_LINK_RAW,  DEC_LINK_RAW_OPENBSD, DEC_LINK_RAW_LT,
    DEC_LINK_LOOP, DEC_LINK_LINUX_SLL, DEC_LINK_IPV4, DEC_LINK_IPV6,        DEC_LINK_LINUX_SLL2,
};
#define LINK_COUNT (sizeof(links) / sizeof(links[0]))

static void on_attempt(const struct flow_attempt *attempt, void *user)
{
    rep_attempt(user, attempt);
}

static void on_neighbour(const struct flow_neighbour *neighbour, void *user)
{
    rep_neighbour(user, neighbour);
}

/* Feeds the event to a fresh flow table: at t, again a second later (a retransmission or a
 * duplicate), and with source and destination swapped (the other side's view). */
static void run_flows(const struct dec_event *ev)
{
    char errbuf[256];
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    if (out == NULL) {
        return;
    }
    struct rep_options ropts = {.format = REP_FORMAT_JSON, .out = out, .keep_failed_packets = true};
    struct flow_config fcfg;
    flow_config_default(&fcfg);
    fcfg.max_attempts = 4;
    fcfg.hash_seed = 1;
    ropts.cfg.syn_timeout_ns = fcfg.syn_timeout_ns;
    struct rep_report *report = NULL;
    struct flow_table *flows = NULL;
    if (rep_create(&report, &ropts, errbuf, sizeof(errbuf)) == 0 &&
        flow_create(&flows, &fcfg, on_attempt, report, errbuf, sizeof(errbuf)) == 0) {
        flow_set_neighbour_callback(flows, on_neighbour);
        const int64_t t0 = 1700000000LL * 1000000000LL;
        struct dec_event swapped = *ev;
        swapped.src = ev->dst;
        swapped.dst = ev->src;
        swapped.sport = ev->dport;
        swapped.dport = ev->sport;
        flow_event(flows, ev, t0, 1);
        flow_event(flows, ev, t0 + 1000000000LL, 2);
        flow_event(flows, &swapped, t0 + 1500000000LL, 3);
        flow_finish(flows);
        struct flow_stats fstats;
        flow_get_stats(flows, &fstats);
        struct rep_input_stats input = {.packets = 3};
        const char *files[] = {"fuzz"};
        input.files = files;
        input.file_count = 1;
        rep_finish(report, &input, &fstats, errbuf, sizeof(errbuf));
        const uint32_t *numbers = NULL;
        (void)rep_failed_packets(report, &numbers);
    }
    flow_destroy(flows);
    rep_destroy(report);
    fclose(out);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    int linktype = data[0] < LINK_COUNT ? links[data[0]] : data[0];
    size_t caplen = size - 2;
    size_t wirelen = caplen + (size_t)data[1] * 7;
    /* an exact-size copy, so that a read past caplen is an ASan report */
    uint8_t *frame = malloc(caplen > 0 ? caplen : 1);
    if (frame == NULL) {
        return 0;
    }
    memcpy(frame, data + 2, caplen);
    struct dec_event ev;
    memset(&ev, 0xa5, sizeof(ev)); /* "ev undefined" unless OK: nothing may read it then */
    enum dec_status st = dec_packet(frame, caplen, wirelen, linktype, &ev);
    (void)dec_status_name(st);
    (void)dec_status_is_problem(st);
    char name[24];
    (void)dec_link_name(linktype, name, sizeof(name));
    if (st == DEC_OK_TCP || st == DEC_OK_ICMP || st == DEC_OK_NEIGH) {
        char a[46], b[46];
        (void)dec_addr_str(&ev.src, ev.family, a, sizeof(a));
        (void)dec_addr_str(&ev.dst, ev.family, b, sizeof(b));
        run_flows(&ev);
    }
    free(frame);
    return 0;
}
