/* rep_html.c - the HTML report: one self-contained page with the services' table and bar chart,
 * the diagnoses, and a section per verdict whose attempts have a ladder each
 * (rep_html_ladder.c). */
#include "rep_html.h"
#include "rep_int.h"

#include <stdlib.h>
#include <string.h>

/* The page holds everything itself: inline CSS and SVG, no script, no font, no link to the
 * network, so it can be mailed or attached to a ticket and opened anywhere. Every string that
 * comes from the input or the command line goes through rep_html_escape(). */

#define SERVICE_ROWS 50 /* rows of the services table */
#define CHART_ROWS 20   /* services in the bar chart */
#define SECTION_ROWS 20 /* services with a section of their own */

/* One colour per verdict, in enum order: green for accepted, warm colours for answers that
 * refuse, cool ones for silence, grey for "cannot tell". */
const char *const rep_html_colour[REP_VERDICT_COUNT] = {
    [REP_ACCEPTED] = "#2e7d32",
    [REP_RESET_AFTER_ACCEPT] = "#e65100",
    [REP_CLOSED_AFTER_ACCEPT] = "#f9a825",
    [REP_REFUSED] = "#c62828",
    [REP_REFUSED_BY_MIDDLEBOX] = "#ad1457",
    [REP_UNREACHABLE] = "#6a1b9a",
    [REP_DROPPED] = "#37474f",
    [REP_HALF_OPEN] = "#1565c0",
    [REP_CLIENT_ABORT] = "#00838f",
    [REP_STALE] = "#8d6e63",
    [REP_BAD_SYNACK] = "#5d4037",
    [REP_UNDETERMINED] = "#9e9e9e",
};

static const char page_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "sans-serif;font-size:15px;line-height:1.45;color:#1f2328;background:#fff;max-width:1080px;"
    "margin:0 auto;padding:12px 24px 40px}\n"
    "h1{font-size:24px;margin:10px 0 4px}\n"
    "h2{font-size:19px;margin:30px 0 8px;padding-bottom:4px;border-bottom:1px solid #d0d7de}\n"
    "h3{font-size:15px;margin:16px 0 4px}\n"
    "code{font-family:ui-monospace,'SFMono-Regular','DejaVu Sans Mono',Menlo,Consolas,"
    "monospace;font-size:13px;background:#f3f4f6;padding:1px 4px;border-radius:3px}\n"
    "p{margin:6px 0}\n"
    ".summary{font-size:17px}\n"
    ".muted{color:#57606a}\n"
    "table{border-collapse:collapse;font-size:14px;margin:8px 0}\n"
    "th,td{padding:3px 12px;border-bottom:1px solid #e5e7eb;text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "th{background:#f6f8fa;font-weight:600}\n"
    "th:first-child,td:first-child,td.state,th.state{text-align:left}\n"
    "td.zero{color:#aab1b9}\n"
    ".swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;"
    "vertical-align:-1px}\n"
    "ul.advice{margin:6px 0;padding-left:22px}\n"
    "figure{margin:14px 0 26px;padding:10px 12px;border:1px solid #e5e7eb;border-radius:6px}\n"
    "figure .head{font-size:14px;margin-bottom:4px}\n"
    "figcaption{font-size:13px;color:#3d444d;margin-top:4px}\n"
    "svg{display:block;max-width:100%;height:auto}\n"
    "svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}\n"
    "svg .lbl{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}\n"
    "section.service p{margin:3px 0}\n"
    "ul.counters{padding-left:22px}\n";

/* ---- escaping ------------------------------------------------------------------------------ */

/* The entity of each of the five HTML special characters. */
static const char *const html_entities[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

/* Writes n bytes of s escaped (rep_html_escape). */
static void html_write(FILE *out, const char *s, size_t n)
{
    size_t plain = 0;
    for (size_t i = 0; i < n; i++) {
        const char *entity = html_entities[(unsigned char)s[i]];
        if (entity != NULL) {
            fwrite(s + plain, 1, i - plain, out);
            fputs(entity, out);
            plain = i + 1;
        }
    }
    fwrite(s + plain, 1, n - plain, out);
}

void rep_html_escape(FILE *out, const char *s)
{
    html_write(out, s, strlen(s));
}

/* Writes an explanation paragraph's text: escaped, PORT replaced by port (when not 0), and
 * `commands` set as code. */
static void html_prose(FILE *out, const char *text, unsigned port)
{
    char buf[2048];
    struct rep_text filled;
    rep_text_init(&filled, buf, sizeof(buf));
    rep_text_fill(&filled, text, port, NULL);
    bool in_code = false;
    for (const char *p = buf;;) {
        const char *tick = strchr(p, '`');
        html_write(out, p, tick != NULL ? (size_t)(tick - p) : strlen(p));
        if (tick == NULL) {
            break;
        }
        fputs(in_code ? "</code>" : "<code>", out);
        in_code = !in_code;
        p = tick + 1;
    }
    if (in_code) {
        fputs("</code>", out);
    }
}

double rep_html_text_width(const char *text, double font_px)
{
    return (double)strlen(text) * font_px * 0.58;
}

void rep_svg_text(FILE *out, double x, double y, const char *anchor, const char *attrs,
                  double font_px, double max_px, const char *text)
{
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.1f\"%s%s", x, y,
            anchor, font_px, attrs[0] != '\0' ? " " : "", attrs);
    if (max_px > 0 && rep_html_text_width(text, font_px) > max_px) {
        fprintf(out, " textLength=\"%.1f\" lengthAdjust=\"spacingAndGlyphs\"", max_px);
    }
    fputc('>', out);
    rep_html_escape(out, text);
    fputs("</text>\n", out);
}

/* A verdict's name, linked to its section (accepted has none). */
static void verdict_link(FILE *out, enum rep_verdict v)
{
    const char *name = rep_verdict_name(v);
    if (v == REP_ACCEPTED) {
        fputs(name, out);
    } else {
        fprintf(out, "<a href=\"#v-%s\">%s</a>", name, name);
    }
}

/* ---- head, summary ------------------------------------------------------------------------- */

static void html_head(FILE *out, const struct rep_input_stats *input)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>synscope report",
          out);
    if (input->file_count > 0) {
        fputs(": ", out);
        rep_html_escape(out, input->files[0]);
        if (input->file_count > 1) {
            fprintf(out, " and %zu more", input->file_count - 1);
        }
    }
    fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", page_style);
}

static void html_header(FILE *out, const struct rep_report *r, const struct rep_input_stats *input)
{
    uint64_t failed = rep_failed_total(r);
    fputs("<header>\n<h1>synscope report</h1>\n<p class=\"muted\">", out);
    if (input->live) {
        fputs("Live capture on ", out);
    } else {
        fprintf(out, "Input file%s: ", rep_plural(input->file_count));
    }
    for (size_t i = 0; i < input->file_count; i++) {
        fputs(i > 0 ? ", <code>" : "<code>", out);
        rep_html_escape(out, input->files[i]);
        fputs("</code>", out);
    }
    if (input->file_count == 0) {
        fputs("(none)", out);
    }
    if (input->live) {
        fprintf(out, " for %.1f s", input->duration_s);
    }
    fputs("</p>\n", out);
    fprintf(out,
            "<p class=\"summary\"><strong>%llu packet%s, %llu connection attempt%s, %llu "
            "failed</strong>",
            (unsigned long long)input->packets, rep_plural(input->packets),
            (unsigned long long)r->attempts, rep_plural(r->attempts), (unsigned long long)failed);
    if (r->attempts > 0) {
        char t1[40], t2[40];
        fprintf(out, " <span class=\"muted\">(%s to %s)</span>",
                rep_time_iso(r->first_ns, t1, sizeof(t1)),
                rep_time_iso(r->last_ns, t2, sizeof(t2)));
    }
    fputs("</p>\n", out);
    if (r->attempts > 0) {
        /* the verdicts in a line, each linking to its section */
        fputs("<p>", out);
        bool first = true;
        for (int v = 0; v < REP_VERDICT_COUNT; v++) {
            if (r->counts[v] == 0) {
                continue;
            }
            fprintf(out, "%s<span class=\"swatch\" style=\"background:%s\"></span>",
                    first ? "" : " &nbsp; ", rep_html_colour[v]);
            verdict_link(out, (enum rep_verdict)v);
            fprintf(out, " %llu", (unsigned long long)r->counts[v]);
            first = false;
        }
        fputs("</p>\n", out);
    }
    fputs("</header>\n", out);
}

/* ---- services table and bar chart ---------------------------------------------------------- */

static void count_cell(FILE *out, uint64_t n)
{
    fprintf(out, "<td%s>%llu</td>", n == 0 ? " class=\"zero\"" : "", (unsigned long long)n);
}

/* Services with a section of their own (see html_service_section), among the first
 * SECTION_ROWS in table order: those whose row does not tell the whole story, because their
 * attempts ended in different ways. A scan of a thousand silent ports gets no sections: its
 * table says it all. */
static bool has_section(const struct rep_service *s, uint32_t rank)
{
    if (rank >= SECTION_ROWS || rep_service_failures(s) == 0) {
        return false;
    }
    int dominant = rep_service_dominant(s);
    return s->counts[dominant] != s->total;
}

static void html_services_table(FILE *out, const struct rep_report *r,
                                const struct rep_service **order)
{
    fputs("<h2 id=\"services\">Services</h2>\n", out);
    if (r->service_count == 0) {
        fputs("<p>No connection attempts.</p>\n", out);
        return;
    }
    fputs("<table>\n<thead><tr><th>service</th><th>attempts</th><th>accepted</th>"
          "<th>refused</th><th>dropped</th><th>unreachable</th><th>other</th>"
          "<th class=\"state\">state</th></tr></thead>\n<tbody>\n",
          out);
    uint32_t rows = r->service_count < SERVICE_ROWS ? r->service_count : SERVICE_ROWS;
    for (uint32_t i = 0; i < rows; i++) {
        const struct rep_service *s = order[i];
        struct rep_service_row row;
        rep_service_row(s, &row);
        int dominant = rep_service_dominant(s);
        if (has_section(s, i)) {
            fprintf(out, "<tr><td><a href=\"#svc-%u\"><code>%s</code></a></td>", i, row.name);
        } else {
            fprintf(out, "<tr><td><code>%s</code></td>", row.name);
        }
        for (int k = 0; k < REP_ROW_COUNTS; k++) {
            count_cell(out, row.counts[k]);
        }
        fprintf(out,
                "<td class=\"state\"><span class=\"swatch\" style=\"background:%s\"></span>"
                "%s</td></tr>\n",
                rep_html_colour[dominant >= 0 ? dominant : REP_ACCEPTED], row.state);
    }
    fputs("</tbody>\n</table>\n", out);
    if (r->service_count > rows) {
        fprintf(out,
                "<p class=\"muted\">&hellip; and %u more services (all of them with -f json)</p>\n",
                r->service_count - rows);
    }
}

/* Horizontal stacked bars: one per service (the first CHART_ROWS in table order), one
 * segment per verdict, the counts in the segments that are wide enough and after the bar. */
/* Lays out the chart's legend (one swatch and "verdict count" per verdict seen) in lines that
 * fit width, drawing it when out is not NULL. Returns the number of lines. */
#define LEGEND_GAP 22.0 /* pixels between legend entries */

static int chart_legend(FILE *out, const struct rep_report *r, double width)
{
    double lx = 0, ly = 16;
    int lines = 1;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (r->counts[v] == 0) {
            continue;
        }
        char text[64];
        snprintf(text, sizeof(text), "%s %llu", rep_verdict_name((enum rep_verdict)v),
                 (unsigned long long)r->counts[v]);
        double w = 16 + rep_html_text_width(text, 13) + LEGEND_GAP;
        if (lx > 0 && lx + w > width) {
            lx = 0;
            ly += 22;
            lines++;
        }
        if (out != NULL) {
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" rx=\"2\" "
                    "fill=\"%s\"/>\n",
                    lx, ly - 11, rep_html_colour[v]);
            rep_svg_text(out, lx + 16, ly, "start", "", 13, 0, text);
        }
        lx += w;
    }
    return lines;
}

static void html_chart(FILE *out, const struct rep_report *r, const struct rep_service **order)
{
    const double width = 1000, label_w = 250, bar_x = 262, bar_w = 560;
    const double row_h = 24, bar_h = 16;
    uint32_t rows = r->service_count < CHART_ROWS ? r->service_count : CHART_ROWS;
    if (rows == 0) {
        return;
    }
    uint64_t max_total = 1;
    for (uint32_t i = 0; i < rows; i++) {
        if (order[i]->total > max_total) {
            max_total = order[i]->total;
        }
    }
    /* the legend: verdicts seen anywhere, laid out in lines that fit the width */
    int legend_lines = chart_legend(NULL, r, width);
    double top = 16 + legend_lines * 22.0;
    double height = top + rows * row_h + 8;

    fprintf(
        out,
        "<h2 id=\"chart\">Verdicts per service</h2>\n"
        "<p class=\"muted\">%s%u service%s with the most failures, then the most attempts.</p>\n",
        rows < r->service_count ? "The " : "All ", rows, rep_plural(rows));
    fprintf(out,
            "<svg width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"verdicts per service\" "
            "class=\"chart\">\n",
            width, height, width, height);
    (void)chart_legend(out, r, width);
    double scale = bar_w / (double)max_total;
    for (uint32_t i = 0; i < rows; i++) {
        const struct rep_service *s = order[i];
        double y = top + i * row_h;
        char name[64];
        rep_endpoint_str(s->family, &s->addr, s->port, name, sizeof(name));
        rep_svg_text(out, label_w, y + bar_h - 3, "end", "", 13, label_w - 4, name);
        uint64_t before = 0;
        double end_x = bar_x;
        for (int v = 0; v < REP_VERDICT_COUNT; v++) {
            uint64_t n = s->counts[v];
            if (n == 0) {
                continue;
            }
            double x0 = bar_x + (double)before * scale;
            double w = (double)n * scale;
            if (w < 2) {
                w = 2; /* a single attempt among thousands stays visible */
            }
            end_x = x0 + w > end_x ? x0 + w : end_x;
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\">"
                    "<title>%s: %llu</title></rect>\n",
                    x0, y, w, bar_h, rep_html_colour[v], rep_verdict_name((enum rep_verdict)v),
                    (unsigned long long)n);
            char count[24];
            snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
            if (w >= rep_html_text_width(count, 11) + 6) {
                rep_svg_text(out, x0 + w / 2, y + bar_h - 4, "middle", "fill=\"#fff\"", 11, 0,
                             count);
            }
            before += n;
        }
        char tail[64];
        uint64_t failed = rep_service_failures(s);
        snprintf(tail, sizeof(tail), "%llu attempt%s, %llu failed", (unsigned long long)s->total,
                 rep_plural(s->total), (unsigned long long)failed);
        rep_svg_text(out, end_x + 8, y + bar_h - 3, "start", "fill=\"#3d444d\"", 12,
                     width - end_x - 10, tail);
    }
    fputs("</svg>\n", out);
}

/* One service's section: its attempts by verdict, linked to the verdict sections. (The
 * diagnoses have a section of their own, html_diagnoses.) */
static void html_service_section(FILE *out, const struct rep_service *s, uint32_t rank)
{
    char name[64];
    rep_endpoint_str(s->family, &s->addr, s->port, name, sizeof(name));
    int dominant = rep_service_dominant(s);
    fprintf(out,
            "<section class=\"service\" id=\"svc-%u\">\n<p><span class=\"swatch\" "
            "style=\"background:%s\"></span><code>%s</code> <strong>%s</strong> &mdash; ",
            rank, rep_html_colour[dominant >= 0 ? dominant : REP_ACCEPTED], name,
            rep_service_state(s));
    fprintf(out, "%llu attempt%s:", (unsigned long long)s->total, rep_plural(s->total));
    bool first = true;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (s->counts[v] == 0) {
            continue;
        }
        fprintf(out, "%s %llu ", first ? "" : ",", (unsigned long long)s->counts[v]);
        verdict_link(out, (enum rep_verdict)v);
        first = false;
    }
    fputs(".</p>\n", out);
    fputs("</section>\n", out);
}

/* The diagnoses across attempts: per service and per host, each with its evidence, likely
 * causes, what it rules out and the commands to run next. */
static void html_diagnoses(FILE *out, const struct rep_report *r)
{
    if (r->diagnosis_count == 0) {
        return;
    }
    fputs("<h2 id=\"diagnoses\">Diagnoses</h2>\n", out);
    for (size_t i = 0; i < r->diagnosis_count; i++) {
        const struct rep_diagnosis *d = &r->diagnoses[i];
        char where[64], next[600];
        rep_diag_where(d, where, sizeof(where));
        rep_diag_next(d, next, sizeof(next));
        fputs("<section class=\"diagnosis\">\n<h3>", out);
        rep_html_escape(out, d->kind);
        fputs(" &mdash; <code>", out);
        rep_html_escape(out, where);
        fputs("</code></h3>\n<p>", out);
        html_prose(out, d->summary, 0);
        fputs("</p>\n<p><strong>Likely:</strong> ", out);
        html_prose(out, d->causes, 0);
        fputs(".</p>\n<p><strong>Ruled out:</strong> ", out);
        html_prose(out, d->ruled_out, 0);
        fputs(".</p>\n<p><strong>Next:</strong> ", out);
        html_prose(out, next, 0);
        fputs(".</p>\n</section>\n", out);
    }
}

static void html_service_sections(FILE *out, const struct rep_report *r,
                                  const struct rep_service **order)
{
    bool any = false;
    for (uint32_t i = 0; i < r->service_count && i < SECTION_ROWS; i++) {
        if (!has_section(order[i], i)) {
            continue;
        }
        if (!any) {
            fputs("<h2 id=\"detail\">Services that fail sometimes</h2>\n", out);
            any = true;
        }
        html_service_section(out, order[i], i);
    }
}

/* ---- verdict sections ---------------------------------------------------------------------- */

static void html_verdict_section(FILE *out, struct rep_report *r, enum rep_verdict v)
{
    const char *name = rep_verdict_name(v);
    rep_sort_listed(r, v);
    fprintf(out,
            "<section class=\"verdict\" id=\"v-%s\">\n<h2><span class=\"swatch\" "
            "style=\"background:%s\"></span>%s: %llu attempt%s</h2>\n<p>",
            name, rep_html_colour[v], name, (unsigned long long)r->counts[v],
            rep_plural(r->counts[v]));
    const char *findings[5];
    size_t found = rep_host_findings(r, v, findings, 5);
    if (found == 0) {
        html_prose(out, rep_explanation(v), rep_common_port(r, v));
    }
    for (size_t k = 0; k < found; k++) {
        fputs(k > 0 ? "<br>On this host: " : "On this host: ", out);
        rep_html_escape(out, findings[k]);
        fputc('.', out);
    }
    fputs("</p>\n", out);
    if (v == REP_UNREACHABLE) {
        const char *reasons[16];
        size_t count = rep_icmp_reasons(r, reasons, 16);
        if (count > 0) {
            fputs("<ul class=\"advice\">\n", out);
            for (size_t i = 0; i < count; i++) {
                fputs("<li><strong>", out);
                rep_html_escape(out, reasons[i]);
                fputs("</strong>: ", out);
                html_prose(out, rep_icmp_advice(reasons[i]), 0);
                fputs("</li>\n", out);
            }
            fputs("</ul>\n", out);
        }
    }
    for (uint32_t i = 0; i < r->listed_count[v]; i++) {
        rep_html_attempt(out, &r->listed[v][i], r->opts.cfg.syn_timeout_ns);
    }
    if (r->counts[v] > r->listed_count[v]) {
        fprintf(out, "<p class=\"muted\">&hellip; and %llu more (all of them with -f json)</p>\n",
                (unsigned long long)(r->counts[v] - r->listed_count[v]));
    }
    fputs("</section>\n", out);
}

/* ---- the counters at the end --------------------------------------------------------------- */

static void html_note(const char *sentence, void *ctx)
{
    FILE *out = ctx;
    fputs("<li>", out);
    rep_html_escape(out, sentence);
    fputs("</li>\n", out);
}

static void html_counters(FILE *out, const struct rep_input_stats *input,
                          const struct flow_stats *flows)
{
    char problems[REP_PROBLEMS_LEN];
    fputs("<h2 id=\"input\">Input</h2>\n<ul class=\"counters\">\n", out);
    /* the problems' names are static and plain: the sentence needs no escaping */
    fprintf(out, "<li>%s</li>\n", rep_decode_problems(problems, input, "<code>", "</code>"));
    rep_closing_notes(input, flows, html_note, out);
    fputs("</ul>\n", out);
}

void rep_html_finish(struct rep_report *r, const struct rep_input_stats *input,
                     const struct flow_stats *flows)
{
    FILE *out = r->opts.out;
    const struct rep_service **order = rep_services_sorted(r);
    html_head(out, input);
    html_header(out, r, input);
    fputs("<main>\n", out);
    if (order != NULL) {
        html_services_table(out, r, order);
        html_chart(out, r, order);
        html_diagnoses(out, r);
        html_service_sections(out, r, order);
    } else if (r->service_count == 0) {
        fputs("<h2 id=\"services\">Services</h2>\n<p>No connection attempts.</p>\n", out);
    }
    uint64_t failed = rep_failed_total(r);
    if (failed > 0) {
        fputs("<p class=\"muted\" id=\"failed\">Each failed attempt below has a diagram of "
              "its packets as the capture saw them: the client on the left, the server on the "
              "right (and a router in the middle when it answered), time going down. The "
              "vertical spacing is not to scale, so a 0.05 ms answer and a 30 s retry are both "
              "readable; the times on the left are relative to the first SYN.</p>\n",
              out);
    }
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (v != REP_ACCEPTED && r->counts[v] != 0) {
            html_verdict_section(out, r, (enum rep_verdict)v);
        }
    }
    if (failed == 0 && r->attempts > 0) {
        fputs("<p>No failed connection attempts.</p>\n", out);
    }
    html_counters(out, input, flows);
    fputs("</main>\n</body>\n</html>\n", out);
    free(order);
}
