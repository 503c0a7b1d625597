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

/* A label value: \ " and line feed escaped. */
static void out_label_value(struct met_out *out, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\') {
            out_bytes(out, "\\\\", 2);
        } else if (*p == '"') {
            out_bytes(out, "\\\"", 2);
        } else if (*p == '\n') {
            out_bytes(out, "\\n", 2);
        } else {
            out_bytes(out, p, 1);
        }
    }
}

static void out_family(struct met_out *out, const char *name, const char *type, const char *help)
{
    out_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{server="...",label="value"} count: label may be NULL */
static void out_sample(struct met_out *out, const char *name, const char *server, const char *label,
                       const char *value, uint64_t count)
{
    out_printf(out, "%s{server=\"", name);
    out_label_value(out, server);
    if (label != NULL) {
        out_printf(out, "\",%s=\"", label);
        out_label_value(out, value);
    }
    out_printf(out, "\"} %llu\n", (unsigned long long)count);
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
            char bound[32];
            cumulative += series->rtt_buckets[b];
            if (b < MET_RTT_BOUNDS) {
                snprintf(bound, sizeof bound, "%g", met_rtt_bounds[b]);
            } else {
                snprintf(bound, sizeof bound, "+Inf");
            }
            out_sample(out, "synscope_handshake_rtt_seconds_bucket", name, "le", bound, cumulative);
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
