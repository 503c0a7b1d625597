/* rep_int.h - report/'s private structures, shared by its writers. Never included elsewhere. */
#ifndef SYNSCOPE_REP_INT_H
#define SYNSCOPE_REP_INT_H

#include "report.h"

/* Totals for one server address:port. */
struct rep_service {
    uint8_t family;
    struct dec_addr addr;
    uint16_t port;
    uint64_t total;
    uint64_t counts[REP_VERDICT_COUNT];
};

/* A failed attempt kept for the text listing. */
struct rep_listed {
    struct flow_attempt attempt;
    struct rep_judgement judgement;
};

struct rep_report {
    struct rep_options opts;
    uint64_t attempts;
    uint64_t counts[REP_VERDICT_COUNT];
    struct rep_service *services;
    uint32_t service_count, service_cap;
    uint32_t *service_index; /* open addressing: service number + 1, 0 = empty */
    uint32_t index_mask;
    struct rep_listed *listed[REP_VERDICT_COUNT];
    uint32_t listed_count[REP_VERDICT_COUNT];
    int64_t first_ns, last_ns; /* time span of the attempts */
    bool alloc_failed;
};

/* Writers: one attempt as a JSON line; the service and summary objects; the text report. */
void rep_json_attempt(struct rep_report *r, const struct flow_attempt *a,
                      const struct rep_judgement *j);
void rep_json_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows);
void rep_text_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows);
/* Live text: one line for an attempt as it is decided (provisional: accepted, still open). */
void rep_text_live_line(struct rep_report *r, const struct flow_attempt *a,
                        const struct rep_judgement *j, bool provisional);

/* Formats "10.0.0.1:80" or "[fd00::1]:80" into buf (64 bytes). */
const char *rep_endpoint_str(int family, const struct dec_addr *addr, uint16_t port, char *buf,
                             size_t buflen);

/* Formats a time as "2026-11-26T13:12:06.319804Z" (buf 40 bytes). */
const char *rep_time_iso(int64_t ns, char *buf, size_t buflen);

#endif
