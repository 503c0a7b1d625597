/* fuzz_pipeline.c - libFuzzer target: a whole capture file (pcap or pcapng) through the offline
 * pipeline of `synscope read`: cap_open_stream -> cap_loop -> dec_packet -> flow_event ->
 * flow_finish -> rep_finish, with one flow table feeding a text, a JSON and an HTML report.
 * The input is the file itself, so any capture is a seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "decode.h"
#include "flows.h"
#include "fuzz.h"
#include "report.h"

#define FORMATS 3

struct run {
    struct flow_table *flows;
    struct rep_report *reports[FORMATS];
    struct rep_input_stats input;
};

static void on_attempt(const struct flow_attempt *attempt, void *user)
{
    struct run *r = user;
    for (int i = 0; i < FORMATS; i++) {
        rep_attempt(r->reports[i], attempt);
    }
}

static void on_neighbour(const struct flow_neighbour *neighbour, void *user)
{
    struct run *r = user;
    for (int i = 0; i < FORMATS; i++) {
        rep_neighbour(r->reports[i], neighbour);
    }
}

static int on_packet(const struct cap_packet *pkt, void *user)
{
    struct run *r = user;
    struct dec_event ev;
    r->input.packets++;
    enum dec_status st = dec_packet(pkt->data, pkt->caplen, pkt->wirelen, pkt->linktype, &ev);
    r->input.decode_status[st]++;
    if (st == DEC_OK_TCP || st == DEC_OK_ICMP || st == DEC_OK_NEIGH) {
        flow_event(r->flows, &ev, pkt->ts_ns, (uint32_t)r->input.packets);
    }
    return 0;
}

static int link_supported(int linktype)
{
    return dec_link_supported(linktype) ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[CAP_ERRBUF_SIZE];
    struct run r;
    memset(&r, 0, sizeof(r));
    const char *files[] = {"fuzz.pcap"};
    r.input.files = files;
    r.input.file_count = 1;

    /* fmemopen needs a non-empty buffer; an empty file is refused before libpcap sees it */
    if (size == 0) {
        return 0;
    }
    FILE *in = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (in == NULL) {
        return 0;
    }
    struct cap_source *src = NULL;
    if (cap_open_stream(&src, in, "fuzz.pcap", link_supported, errbuf, sizeof(errbuf)) != 0) {
        return 0; /* the stream was closed */
    }

    char *text[FORMATS] = {NULL};
    size_t len[FORMATS] = {0};
    FILE *out[FORMATS] = {NULL};
    struct flow_config fcfg;
    flow_config_default(&fcfg);
    fcfg.max_attempts = 64; /* small, so that eviction runs too */
    fcfg.hash_seed = 1;
    bool ok = true;
    for (int i = 0; i < FORMATS && ok; i++) {
        out[i] = open_memstream(&text[i], &len[i]);
        struct rep_options ropts = {.format = (enum rep_format)i,
                                    .out = out[i],
                                    .list_limit = 5,
                                    .keep_failed_packets = true};
        ropts.cfg.syn_timeout_ns = fcfg.syn_timeout_ns;
        ok = out[i] != NULL && rep_create(&r.reports[i], &ropts, errbuf, sizeof(errbuf)) == 0;
    }
    if (ok && flow_create(&r.flows, &fcfg, on_attempt, &r, errbuf, sizeof(errbuf)) == 0) {
        flow_set_neighbour_callback(r.flows, on_neighbour);
        if (cap_loop(src, on_packet, &r, errbuf, sizeof(errbuf)) < 0) {
            r.input.error = errbuf;
        }
        flow_finish(r.flows);
        struct flow_stats fstats;
        flow_get_stats(r.flows, &fstats);
        for (int i = 0; i < FORMATS; i++) {
            rep_finish(r.reports[i], &r.input, &fstats, errbuf, sizeof(errbuf));
            const uint32_t *numbers = NULL;
            (void)rep_failed_packets(r.reports[i], &numbers);
            (void)rep_verdict_count(r.reports[i], REP_REFUSED);
        }
    }
    flow_destroy(r.flows);
    for (int i = 0; i < FORMATS; i++) {
        rep_destroy(r.reports[i]);
        if (out[i] != NULL) {
            fclose(out[i]);
        }
        free(text[i]);
    }
    cap_close(src);
    return 0;
}
