/* rep_text.c - the report for people: services, failed attempts by verdict, what to check. */
#include "rep_int.h"

#include <stdlib.h>
#include <string.h>

#define SERVICE_ROWS 30

void rep_print_wrapped(FILE *out, const char *text, const char *indent, int width, unsigned port)
{
    char expanded[2048];
    struct rep_text filled;
    rep_text_init(&filled, expanded, sizeof(expanded));
    rep_text_fill(&filled, text, port, NULL);
    const char *p = expanded;
    while (*p != '\0') {
        int len = (int)strlen(p);
        int take = len;
        if (len > width) {
            /* break at the last space that is not inside a `command` */
            bool quoted = false;
            int last_space = 0;
            for (int k = 0; k <= width && k < len; k++) {
                if (p[k] == '`') {
                    quoted = !quoted;
                } else if (p[k] == ' ' && !quoted) {
                    last_space = k;
                }
            }
            take = last_space;
            if (take == 0) {
                take = width;
            }
        }
        fprintf(out, "%s%.*s\n", indent, take, p);
        p += take;
        while (*p == ' ') {
            p++;
        }
    }
}

static void print_packets(FILE *out, const struct flow_attempt *a)
{
    fputs("  pkts ", out);
    for (uint32_t i = 0; i < a->packet_count && i < 8; i++) {
        fprintf(out, "%s%u", i ? "," : "", a->packets[i]);
    }
    if (a->packet_count > 8) {
        fputs(",...", out);
    }
    fputc('\n', out);
}

static void print_tuple(FILE *out, const struct flow_attempt *a)
{
    char cli[64], srv[64];
    fprintf(out, "%s -> %s",
            rep_endpoint_str(a->family, &a->client, a->client_port, cli, sizeof(cli)),
            rep_endpoint_str(a->family, &a->server, a->server_port, srv, sizeof(srv)));
}

/* One line of evidence for a failed attempt in the report. */
static void print_attempt(FILE *out, const struct rep_listed *l, int64_t syn_timeout_ns)
{
    char when[32];
    fprintf(out, "  %s  ", rep_clock_str(l->judgement.start_ns, when, sizeof(when)));
    print_tuple(out, &l->attempt);
    fputs("  ", out);
    char evidence[512];
    fputs(rep_evidence(evidence, sizeof(evidence), &l->attempt, &l->judgement, syn_timeout_ns),
          out);
    if (l->judgement.evidence[0] != '\0') {
        fprintf(out, "; %s", l->judgement.evidence);
    }
    print_packets(out, &l->attempt);
    if (l->host_detail[0] != '\0') {
        fprintf(out, "    host: %s\n", l->host_detail);
    }
}

size_t rep_host_findings(const struct rep_report *r, enum rep_verdict v, const char **findings,
                         size_t max)
{
    size_t count = 0;
    for (uint32_t i = 0; i < r->listed_count[v]; i++) {
        const char *d = r->listed[v][i].host_detail;
        if (d[0] == '\0') {
            return 0; /* host evidence is off for some: the generic paragraph stays */
        }
        bool seen = false;
        for (size_t k = 0; k < count && !seen; k++) {
            seen = strcmp(findings[k], d) == 0;
        }
        if (!seen && count < max) {
            findings[count++] = d;
        }
    }
    return count;
}

/* The paragraph under a verdict's heading: this host's findings, or the generic one. */
static void print_explanation(FILE *out, struct rep_report *r, enum rep_verdict v)
{
    const char *findings[5];
    size_t count = rep_host_findings(r, v, findings, 5);
    if (count == 0) {
        rep_print_wrapped(out, rep_explanation(v), "  ", 94, rep_common_port(r, v));
        return;
    }
    for (size_t k = 0; k < count; k++) {
        char text[480];
        snprintf(text, sizeof(text), "On this host: %s.", findings[k]);
        rep_print_wrapped(out, text, "  ", 94, 0);
    }
}

/* What the attempts say together: one paragraph per diagnosis, with its likely causes, what
 * it rules out and what to run next. */
static void print_diagnoses(FILE *out, const struct rep_report *r)
{
    if (r->diagnosis_count == 0) {
        return;
    }
    fprintf(out, "DIAGNOSES: %zu\n", r->diagnosis_count);
    for (size_t i = 0; i < r->diagnosis_count; i++) {
        const struct rep_diagnosis *d = &r->diagnoses[i];
        char where[64], next[600], text[1200];
        fprintf(out, "  %s %s\n", d->kind, rep_diag_where(d, where, sizeof(where)));
        rep_print_wrapped(out, d->summary, "    ", 92, 0);
        snprintf(text, sizeof(text), "Likely: %s.", d->causes);
        rep_print_wrapped(out, text, "    ", 92, 0);
        snprintf(text, sizeof(text), "Ruled out: %s.", d->ruled_out);
        rep_print_wrapped(out, text, "    ", 92, 0);
        rep_diag_next(d, next, sizeof(next));
        snprintf(text, sizeof(text), "Next: %s.", next);
        rep_print_wrapped(out, text, "    ", 92, 0);
    }
    fputc('\n', out);
}

void rep_text_live_line(struct rep_report *r, const struct flow_attempt *a,
                        const struct rep_judgement *j, bool provisional)
{
    char when[32];
    FILE *out = r->opts.out;
    fprintf(out, "%s  %-19s ", rep_clock_str(j->start_ns, when, sizeof(when)),
            rep_verdict_name(j->verdict));
    print_tuple(out, a);
    fputs("  ", out);
    char evidence[512];
    fputs(rep_evidence(evidence, sizeof(evidence), a, j, r->opts.cfg.syn_timeout_ns), out);
    if (provisional) {
        fputs("  (still open)", out);
    }
    print_packets(out, a);
    if (r->host != NULL) {
        char detail[768];
        rep_host_detail(detail, sizeof(detail), a, j, r->host, rep_host_cause(a, j, r->host));
        fprintf(out, "    host: %s\n", detail);
    }
    fflush(out);
}

static void print_services(FILE *out, struct rep_report *r)
{
    const struct rep_service **order = rep_services_sorted(r);
    if (order == NULL) {
        return;
    }
    fprintf(out, "%-32s %8s %8s %8s %8s %8s %8s  %s\n", "SERVICE", "ATTEMPTS", "ACCEPTED",
            "REFUSED", "DROPPED", "UNREACH", "OTHER", "STATE");
    uint32_t rows = r->service_count < SERVICE_ROWS ? r->service_count : SERVICE_ROWS;
    for (uint32_t i = 0; i < rows; i++) {
        struct rep_service_row row;
        rep_service_row(order[i], &row);
        if (strlen(row.name) > 32) {
            /* a long IPv6 endpoint gets a line of its own, so the columns stay aligned */
            fprintf(out, "%s\n", row.name);
            row.name[0] = '\0';
        }
        fprintf(out, "%-32s", row.name);
        for (int k = 0; k < REP_ROW_COUNTS; k++) {
            fprintf(out, " %8llu", (unsigned long long)row.counts[k]);
        }
        fprintf(out, "  %s\n", row.state);
    }
    if (r->service_count > rows) {
        fprintf(out, "... and %u more services (all of them with -f json)\n",
                r->service_count - rows);
    }
    if (r->unlisted_attempts != 0) {
        fprintf(out, "... and %llu attempts to further services, beyond the %u listed\n",
                (unsigned long long)r->unlisted_attempts, REP_MAX_SERVICES);
    }
    fputc('\n', out);
    free(order);
}

static void print_unreachable_advice(FILE *out, const struct rep_report *r)
{
    const char *reasons[16];
    size_t count = rep_icmp_reasons(r, reasons, 16);
    for (size_t i = 0; i < count; i++) {
        char text[1024];
        snprintf(text, sizeof(text), "%s: %s", reasons[i], rep_icmp_advice(reasons[i]));
        rep_print_wrapped(out, text, "  ", 94, 0);
    }
}

static void print_note(const char *sentence, void *ctx)
{
    fprintf((FILE *)ctx, "%s\n", sentence);
}

void rep_text_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows)
{
    FILE *out = r->opts.out;
    uint64_t failed = rep_failed_total(r);
    char t1[40], t2[40];
    fprintf(out, "synscope: %llu packet%s, %llu connection attempt%s, %llu failed",
            (unsigned long long)input->packets, rep_plural(input->packets),
            (unsigned long long)r->attempts, rep_plural(r->attempts), (unsigned long long)failed);
    if (r->attempts > 0) {
        fprintf(out, " (%s to %s)", rep_time_iso(r->first_ns, t1, sizeof(t1)),
                rep_time_iso(r->last_ns, t2, sizeof(t2)));
    }
    fputs("\n\n", out);
    print_services(out, r);
    print_diagnoses(out, r);
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (v == REP_ACCEPTED || r->counts[v] == 0) {
            continue;
        }
        char upper[32];
        const char *name = rep_verdict_name((enum rep_verdict)v);
        size_t k = 0;
        for (; name[k] != '\0' && k + 1 < sizeof(upper); k++) {
            upper[k] = (char)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 32 : name[k]);
        }
        upper[k] = '\0';
        fprintf(out, "%s: %llu attempt%s\n", upper, (unsigned long long)r->counts[v],
                rep_plural(r->counts[v]));
        print_explanation(out, r, (enum rep_verdict)v);
        if (v == REP_UNREACHABLE) {
            print_unreachable_advice(out, r);
        }
        rep_sort_listed(r, (enum rep_verdict)v);
        for (uint32_t i = 0; i < r->listed_count[v]; i++) {
            print_attempt(out, &r->listed[v][i], r->opts.cfg.syn_timeout_ns);
        }
        if (r->counts[v] > r->listed_count[v]) {
            fprintf(out, "  ... and %llu more (all of them with -f json)\n",
                    (unsigned long long)(r->counts[v] - r->listed_count[v]));
        }
        fputc('\n', out);
    }
    if (failed == 0 && r->attempts > 0) {
        fputs("No failed connection attempts.\n\n", out);
    }
    char problems[REP_PROBLEMS_LEN];
    fprintf(out, "%s\n", rep_decode_problems(problems, input, "", ""));
    rep_closing_notes(input, flows, print_note, out);
}
