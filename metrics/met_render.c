/* met_render.c - the registry in the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): HELP and TYPE once per
 * family, label values escaped (backslash, double quote, line feed), one line per sample.
 *
 * Series of a server appear in the order the servers got them, "other" last. Counters by
 * verdict or cause appear once non-zero (and stay, being counters); histograms once a
 * server has answered a SYN. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "met_int.h"

/* Output into a caller's buffer that counts what did not fit (snprintf's contract). */
struct met_out {
    char *buf;
    size_t cap;
    size_t len;
};

static void out_bytes(struct met_out *out, const char *bytes, size_t n)
{
    if (out->len < out->cap) {
        size_t room = out->cap - out->len;
        memcpy(out->buf + out->len, bytes, n < room ? n : room);
    }
    out->len += n;
}

__attribute__((format(printf, 2, 3))) static void out_printf(struct met_out *out,
                                                             const char *format, ...)
{
    char line[256];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n > 0) {
        out_bytes(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

static void out_str(struct met_out *out, const char *text)
{
    out_bytes(out, text, strlen(text));
}

static void out_u64(struct met_out *out, uint64_t value)
{
    char digits[24];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    out_bytes(out, digits + at, sizeof digits - at);
}

/* A label value: \ " and line feed escaped; the runs between them copied whole. */
static void out_label_value(struct met_out *out, const char *value)
{
    for (;;) {
        size_t run = strcspn(value, "\\\"\n");
        out_bytes(out, value, run);
        value += run;
        if (*value == '\0') {
            return;
        }
        out_bytes(out, *value == '\n' ? "\\n" : *value == '"' ? "\\\"" : "\\\\", 2);
        value++;
    }
}

static void out_family(struct met_out *out, const char *name, const char *type, const char *help)
{
    out_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{server="...",label="value"} count: label may be NULL. Written without printf: a scrape
 * of a full registry is tens of thousands of these lines, rendered in the capture's thread. */
static void out_sample(struct met_out *out, const char *name, const char *server, const char *label,
                       const char *value, uint64_t count)
{
    out_str(out, name);
    out_str(out, "{server=\"");
    out_label_value(out, server);
    if (label != NULL) {
        out_str(out, "\",");
        out_str(out, label);
        out_str(out, "=\"");
        out_label_value(out, value);
    }
    out_str(out, "\"} ");
    out_u64(out, count);
    out_str(out, "\n");
}

static const char *series_name(const struct met_series *series, const struct met_series *other,
                               char *buf, size_t cap)
{
    if (series == other) {
        return "other";
    }
    met_key_format(&series->key, buf, cap);
    return buf;
}

/* Calls each series, the servers' then "other" (when it counted anything). */
#define FOR_EACH_SERIES(registry, index, series)                                                   \
    for (unsigned index = 0; index <= (registry)->series_count; index++)                           \
        for (const struct met_series *series = index < (registry)->series_count                    \
                                                   ? &(registry)->series[index]                    \
                                                   : &(registry)->other;                           \
             series != NULL && series->score.attempts > 0; series = NULL)

static void render_counts(const struct met_registry *registry, struct met_out *out)
{
    char server[64];
    out_family(out, "synscope_attempts_total", "counter",
               "Connection attempts seen, by server (IP:PORT the SYN went to) and verdict.");
    FOR_EACH_SERIES(registry, i, series)
    {
        const char *name = series_name(series, &registry->other, server, sizeof server);
        for (unsigned v = 0; v < registry->verdict_count; v++) {
            if (series->verdicts[v] > 0) {
                out_sample(out, "synscope_attempts_total", name, "verdict", registry->verdicts[v],
                           series->verdicts[v]);
            }
        }
    }
    out_family(out, "synscope_syn_retransmissions_total", "counter",
               "SYN retransmissions of the attempts, by server.");
    FOR_EACH_SERIES(registry, i, series)
    {
        const char *name = series_name(series, &registry->other, server, sizeof server);
        out_sample(out, "synscope_syn_retransmissions_total", name, NULL, NULL,
                   series->syn_retransmissions);
    }
    out_family(out, "synscope_host_cause_total", "counter",
               "Attempts the local host's evidence explains, by server and cause.");
    FOR_EACH_SERIES(registry, i, series)
    {
        const char *name = series_name(series, &registry->other, server, sizeof server);
        for (unsigned c = 0; c < registry->cause_count; c++) {
            if (series->causes[c] > 0) {
                out_sample(out, "synscope_host_cause_total", name, "cause", registry->causes[c],
                           series->causes[c]);
            }
        }
    }
}

/* met_rtt_bounds as Prometheus reads them back ("%g"), and +Inf */
static const char *const rtt_labels[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                         "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                         "1",      "2.5",   "5",      "+Inf"};
_Static_assert(sizeof rtt_labels / sizeof rtt_labels[0] == MET_RTT_BOUNDS + 1,
               "one label per bound, and +Inf");

static void render_rtt(const struct met_registry *registry, struct met_out *out)
{
    char server[64];
    out_family(out, "synscope_handshake_rtt_seconds", "histogram",
               "Time from the SYN to the SYN-ACK, by server.");
    FOR_EACH_SERIES(registry, i, series)
    {
        uint64_t cumulative = 0;
        for (unsigned b = 0; b <= MET_RTT_BOUNDS; b++) {
            cumulative += series->rtt_buckets[b];
        }
        if (cumulative == 0) {
            continue;
        }
        const char *name = series_name(series, &registry->other, server, sizeof server);
        cumulative = 0;
        for (unsigned b = 0; b <= MET_RTT_BOUNDS; b++) {
            cumulative += series->rtt_buckets[b];
            out_sample(out, "synscope_handshake_rtt_seconds_bucket", name, "le", rtt_labels[b],
                       cumulative);
        }
        out_printf(out, "synscope_handshake_rtt_seconds_sum{server=\"");
        out_label_value(out, name);
        out_printf(out, "\"} %.17g\n", series->rtt_sum);
        out_sample(out, "synscope_handshake_rtt_seconds_count", name, NULL, NULL, cumulative);
    }
}

static void render_capture(const struct met_registry *registry, struct met_out *out)
{
    const struct met_capture *capture = &registry->capture;
    out_family(out, "synscope_capture_packets_total", "counter", "Packets captured.");
    out_printf(out, "synscope_capture_packets_total %llu\n", (unsigned long long)capture->packets);
    out_family(out, "synscope_capture_dropped_total", "counter",
               "Packets the kernel dropped before synscope read them (pcap_stats).");
    out_printf(out, "synscope_capture_dropped_total %llu\n", (unsigned long long)capture->dropped);
    out_family(out, "synscope_attempts_open", "gauge", "Attempts in the flow table now.");
    out_printf(out, "synscope_attempts_open %llu\n", (unsigned long long)capture->attempts_open);
    out_family(out, "synscope_attempts_evicted_total", "counter",
               "Attempts evicted from the full flow table before they finished.");
    out_printf(out, "synscope_attempts_evicted_total %llu\n", (unsigned long long)capture->evicted);
    out_family(out, "synscope_build_info", "gauge", "The version of synscope, as a label.");
    out_printf(out, "synscope_build_info{version=\"");
    out_label_value(out, registry->version);
    out_printf(out, "\"} 1\n");
}

size_t met_render(const struct met_registry *registry, char *buf, size_t cap)
{
    struct met_out out = {buf, cap, 0};
    render_counts(registry, &out);
    render_rtt(registry, &out);
    render_capture(registry, &out);
    if (cap > 0) {
        buf[out.len < cap ? out.len : cap - 1] = '\0';
    }
    return out.len;
}
