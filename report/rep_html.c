/* rep_html.c - the HTML report: one self-contained page, a bar chart and a ladder per attempt. */
#include "rep_int.h"

#include <stdlib.h>
#include <string.h>

/* The page holds everything itself: inline CSS and SVG, no script, no font, no link to the
 * network, so it can be mailed or attached to a ticket and opened anywhere. Every string that
 * comes from the input or the command line goes through html_escape(). */

#define SERVICE_ROWS 50 /* rows of the services table */
#define CHART_ROWS 20   /* services in the bar chart */
#define SECTION_ROWS 20 /* services with a section of their own */

/* One colour per verdict, in enum order: green for accepted, warm colours for answers that
 * refuse, cool ones for silence, grey for "cannot tell". */
static const char *const verdict_colour[REP_VERDICT_COUNT] = {
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

/* Writes s with the five HTML special characters escaped: safe in text and in attributes. */
static void html_escape(FILE *out, const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*p, out);
            break;
        }
    }
}

/* Writes an explanation paragraph's text: escaped, PORT replaced by port (when not 0), and
 * `commands` set as code. */
static void html_prose(FILE *out, const char *text, unsigned port)
{
    bool in_code = false;
    char one[2] = {0, 0};
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '`') {
            fputs(in_code ? "</code>" : "<code>", out);
            in_code = !in_code;
        } else if (port != 0 && strncmp(p, "PORT", 4) == 0) {
            fprintf(out, "%u", port);
            p += 3;
        } else {
            one[0] = *p;
            html_escape(out, one);
        }
    }
    if (in_code) {
        fputs("</code>", out);
    }
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* Roughly how wide text is in pixels at a font size (proportional sans-serif). */
static double text_width(const char *text, double font_px)
{
    return (double)strlen(text) * font_px * 0.58;
}

/* An SVG <text> element; when the text would be wider than max_px it is squeezed to fit
 * (textLength), so labels never run into their neighbours. */
static void svg_text(FILE *out, double x, double y, const char *anchor, const char *attrs,
                     double font_px, double max_px, const char *text)
{
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.1f\"%s%s", x, y,
            anchor, font_px, attrs[0] != '\0' ? " " : "", attrs);
    if (max_px > 0 && text_width(text, font_px) > max_px) {
        fprintf(out, " textLength=\"%.1f\" lengthAdjust=\"spacingAndGlyphs\"", max_px);
    }
    fputc('>', out);
    html_escape(out, text);
    fputs("</text>\n", out);
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
        html_escape(out, input->files[0]);
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
        fprintf(out, "Input file%s: ", input->file_count == 1 ? "" : "s");
    }
    for (size_t i = 0; i < input->file_count; i++) {
        fputs(i > 0 ? ", <code>" : "<code>", out);
        html_escape(out, input->files[i]);
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
            (unsigned long long)input->packets, plural(input->packets),
            (unsigned long long)r->attempts, plural(r->attempts), (unsigned long long)failed);
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
            const char *name = rep_verdict_name((enum rep_verdict)v);
            fprintf(out, "%s<span class=\"swatch\" style=\"background:%s\"></span>",
                    first ? "" : " &nbsp; ", verdict_colour[v]);
            if (v != REP_ACCEPTED) {
                fprintf(out, "<a href=\"#v-%s\">%s</a> %llu", name, name,
                        (unsigned long long)r->counts[v]);
            } else {
                fprintf(out, "%s %llu", name, (unsigned long long)r->counts[v]);
            }
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
 * attempts ended in different ways. (Per-service diagnoses will add the services they are
 * about.) A scan of a thousand silent ports gets no sections: its table says it all. */
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
        char name[64];
        uint64_t refused, other;
        rep_service_columns(s, &refused, &other);
        int dominant = rep_service_dominant(s);
        rep_endpoint_str(s->family, &s->addr, s->port, name, sizeof(name));
        if (has_section(s, i)) {
            fprintf(out, "<tr><td><a href=\"#svc-%u\"><code>%s</code></a></td>", i, name);
        } else {
            fprintf(out, "<tr><td><code>%s</code></td>", name);
        }
        count_cell(out, s->total);
        count_cell(out, s->counts[REP_ACCEPTED]);
        count_cell(out, refused);
        count_cell(out, s->counts[REP_DROPPED]);
        count_cell(out, s->counts[REP_UNREACHABLE]);
        count_cell(out, other);
        fprintf(out,
                "<td class=\"state\"><span class=\"swatch\" style=\"background:%s\"></span>"
                "%s</td></tr>\n",
                verdict_colour[dominant >= 0 ? dominant : REP_ACCEPTED], rep_service_state(s));
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
        double w = 16 + text_width(text, 13) + LEGEND_GAP;
        if (lx > 0 && lx + w > width) {
            lx = 0;
            ly += 22;
            lines++;
        }
        if (out != NULL) {
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" rx=\"2\" "
                    "fill=\"%s\"/>\n",
                    lx, ly - 11, verdict_colour[v]);
            svg_text(out, lx + 16, ly, "start", "", 13, 0, text);
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
        rows < r->service_count ? "The " : "All ", rows, rows == 1 ? "" : "s");
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
        svg_text(out, label_w, y + bar_h - 3, "end", "", 13, label_w - 4, name);
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
                    x0, y, w, bar_h, verdict_colour[v], rep_verdict_name((enum rep_verdict)v),
                    (unsigned long long)n);
            char count[24];
            snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
            if (w >= text_width(count, 11) + 6) {
                svg_text(out, x0 + w / 2, y + bar_h - 4, "middle", "fill=\"#fff\"", 11, 0, count);
            }
            before += n;
        }
        char tail[64];
        uint64_t failed = rep_service_failures(s);
        snprintf(tail, sizeof(tail), "%llu attempt%s, %llu failed", (unsigned long long)s->total,
                 plural(s->total), (unsigned long long)failed);
        svg_text(out, end_x + 8, y + bar_h - 3, "start", "fill=\"#3d444d\"", 12, width - end_x - 10,
                 tail);
    }
    fputs("</svg>\n", out);
}

/* One service's section: its attempts by verdict, linked to the verdict sections. This is where
 * the diagnoses that need many attempts of one service (DESIGN.md) add their paragraphs. */
static void html_service_section(FILE *out, const struct rep_service *s, uint32_t rank)
{
    char name[64];
    rep_endpoint_str(s->family, &s->addr, s->port, name, sizeof(name));
    int dominant = rep_service_dominant(s);
    fprintf(out,
            "<section class=\"service\" id=\"svc-%u\">\n<p><span class=\"swatch\" "
            "style=\"background:%s\"></span><code>%s</code> <strong>%s</strong> &mdash; ",
            rank, verdict_colour[dominant >= 0 ? dominant : REP_ACCEPTED], name,
            rep_service_state(s));
    fprintf(out, "%llu attempt%s:", (unsigned long long)s->total, plural(s->total));
    bool first = true;
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (s->counts[v] == 0) {
            continue;
        }
        const char *vname = rep_verdict_name((enum rep_verdict)v);
        fprintf(out, "%s %llu ", first ? "" : ",", (unsigned long long)s->counts[v]);
        if (v == REP_ACCEPTED) {
            fputs(vname, out);
        } else {
            fprintf(out, "<a href=\"#v-%s\">%s</a>", vname, vname);
        }
        first = false;
    }
    fputs(".</p>\n", out);
    /* the per-service diagnoses (paragraphs, escaped with html_prose) go here */
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
        if (d->port != 0) {
            rep_endpoint_str(d->family, &d->addr, d->port, where, sizeof(where));
        } else {
            dec_addr_str(&d->addr, d->family, where, sizeof(where));
            if (d->about_client) {
                snprintf(where + strlen(where), sizeof(where) - strlen(where), " (client)");
            }
        }
        rep_diag_next(d, next, sizeof(next));
        fputs("<section class=\"diagnosis\">\n<h3>", out);
        html_escape(out, d->kind);
        fputs(" &mdash; <code>", out);
        html_escape(out, where);
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

/* ---- ladder diagrams ----------------------------------------------------------------------- */

enum ladder_col { COL_CLIENT = 0, COL_ROUTER, COL_SERVER };

/* Kinds of rows, for their colour. */
enum ladder_kind { ROW_SYN, ROW_GOOD, ROW_BAD, ROW_ICMP, ROW_CLIENT, ROW_NOTE };

static const char *const row_colour[] = {
    [ROW_SYN] = "#24292f",  [ROW_GOOD] = "#2e7d32",   [ROW_BAD] = "#c62828",
    [ROW_ICMP] = "#6a1b9a", [ROW_CLIENT] = "#0b5cad", [ROW_NOTE] = "#57606a",
};

/* One packet (an arrow from one column to another) or a note (from == to) in a ladder. */
struct ladder_row {
    int64_t ns;
    enum ladder_col from, to;
    enum ladder_kind kind;
    uint32_t order; /* insertion order: keeps rows with the same time in causal order */
    char label[96];
    char detail[128];
};

#define LADDER_MAX_ROWS 24

struct ladder {
    struct ladder_row rows[LADDER_MAX_ROWS];
    uint32_t count;
};

static struct ladder_row *ladder_add(struct ladder *l, int64_t ns, enum ladder_col from,
                                     enum ladder_col to, enum ladder_kind kind, const char *label)
{
    if (l->count == LADDER_MAX_ROWS) {
        return NULL;
    }
    struct ladder_row *row = &l->rows[l->count];
    memset(row, 0, sizeof(*row));
    row->ns = ns;
    row->from = from;
    row->to = to;
    row->kind = kind;
    row->order = l->count++;
    snprintf(row->label, sizeof(row->label), "%s", label);
    return row;
}

/* "from 10.0.0.5, ttl 63, 1 hop" for a packet of the answering side. */
static void answer_detail(char *buf, size_t buflen, const struct flow_attempt *a,
                          const struct flow_reply *reply, bool with_from)
{
    char from[64] = "";
    int hops = rep_hops(reply->ttl);
    if (with_from) {
        char ip[64];
        snprintf(from, sizeof(from), "from %s, ",
                 dec_addr_str(&reply->from, a->family, ip, sizeof(ip)));
    }
    if (hops >= 0) {
        snprintf(buf, buflen, "%s%s %u, %d hop%s", from, a->family == 6 ? "hlim" : "ttl",
                 reply->ttl, hops, hops == 1 ? "" : "s");
    } else {
        snprintf(buf, buflen, "%s%s %u", from, a->family == 6 ? "hlim" : "ttl", reply->ttl);
    }
}

static const char *tcp_flag_name(uint8_t flags)
{
    if (flags & DEC_TCP_RST) {
        return flags & DEC_TCP_ACK ? "RST+ACK" : "RST";
    }
    if (flags & DEC_TCP_FIN) {
        return flags & DEC_TCP_ACK ? "FIN+ACK" : "FIN";
    }
    return "ACK";
}

/* The deciding answer as a row. */
static void ladder_answer(struct ladder *l, const struct flow_attempt *a,
                          const struct rep_judgement *j, bool router)
{
    struct ladder_row *row = NULL;
    char label[96];
    switch (a->answer) {
    case FLOW_ANS_SYNACK:
        if (a->synack_count > 1) {
            snprintf(label, sizeof(label), "SYN-ACK (%u sent)", a->synack_count);
        } else {
            snprintf(label, sizeof(label), "SYN-ACK");
        }
        row = ladder_add(l, a->reply.ts_ns, COL_SERVER, COL_CLIENT, ROW_GOOD, label);
        break;
    case FLOW_ANS_BAD_SYNACK:
        snprintf(label, sizeof(label), "SYN-ACK acking %u (SYN was %u)", a->reply.ack, a->isn);
        row = ladder_add(l, a->reply.ts_ns, COL_SERVER, COL_CLIENT, ROW_BAD, label);
        break;
    case FLOW_ANS_RST:
        if (a->server_rst_count > 1) {
            snprintf(label, sizeof(label), "%s (%u in all)", tcp_flag_name(a->reply.flags),
                     a->server_rst_count);
        } else {
            snprintf(label, sizeof(label), "%s", tcp_flag_name(a->reply.flags));
        }
        row = ladder_add(l, a->reply.ts_ns, COL_SERVER, COL_CLIENT, ROW_BAD, label);
        break;
    case FLOW_ANS_ICMP:
        snprintf(label, sizeof(label), "ICMP%s %u/%u %s", a->family == 6 ? "v6" : "",
                 a->reply.icmp_type, a->reply.icmp_code, rep_icmp_label(j->reason));
        if (a->icmp_count > 1) {
            size_t used = strlen(label);
            snprintf(label + used, sizeof(label) - used, " (%u in all)", a->icmp_count);
        }
        row = ladder_add(l, a->reply.ts_ns, router ? COL_ROUTER : COL_SERVER, COL_CLIENT, ROW_ICMP,
                         label);
        break;
    case FLOW_ANS_BARE_ACK:
        snprintf(label, sizeof(label), "ACK %u, no SYN (stale state)", a->reply.ack);
        row = ladder_add(l, a->reply.ts_ns, COL_SERVER, COL_CLIENT, ROW_BAD, label);
        break;
    case FLOW_ANS_NONE:
        break;
    }
    if (row != NULL) {
        answer_detail(row->detail, sizeof(row->detail), a, &a->reply, true);
    }
}

/* Every packet the attempt's record knows of, as rows in time order. */
static void ladder_build(struct ladder *l, const struct flow_attempt *a,
                         const struct rep_judgement *j, bool router)
{
    l->count = 0;
    uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
    if (!a->saw_syn) {
        ladder_add(l, a->first_ns, COL_CLIENT, COL_CLIENT, ROW_NOTE,
                   "the SYN is not in the capture");
        kept = 0;
    }
    /* when a router answered for the server, the SYNs got as far as the router */
    enum ladder_col syn_to = router ? COL_ROUTER : COL_SERVER;
    for (uint32_t i = 0; i < kept; i++) {
        struct ladder_row *row = ladder_add(l, a->syn_ns[i], COL_CLIENT, syn_to, ROW_SYN,
                                            i == 0 ? "SYN" : "SYN (retransmission)");
        if (row != NULL && i == 0) {
            snprintf(row->detail, sizeof(row->detail), "seq %u", a->isn);
        }
    }
    if (a->syn_count > kept && a->saw_syn) {
        char label[96];
        uint32_t more = a->syn_count - kept;
        snprintf(label, sizeof(label), "... %u more SYN%s, the last one here", more,
                 more == 1 ? "" : "s");
        ladder_add(l, a->syn_last_ns, COL_CLIENT, COL_CLIENT, ROW_NOTE, label);
    }
    ladder_answer(l, a, j, router);
    if (a->handshake_done) {
        ladder_add(l, a->handshake_ns, COL_CLIENT, COL_SERVER, ROW_CLIENT, "ACK");
    }
    if (a->client_first_data_ns != 0) {
        char label[96];
        snprintf(label, sizeof(label), "data (%llu byte%s in all)",
                 (unsigned long long)a->client_bytes, plural(a->client_bytes));
        ladder_add(l, a->client_first_data_ns, COL_CLIENT, COL_SERVER, ROW_CLIENT, label);
    }
    if (a->server_first_data_ns != 0) {
        char label[96];
        snprintf(label, sizeof(label), "data (%llu byte%s in all)",
                 (unsigned long long)a->server_bytes, plural(a->server_bytes));
        ladder_add(l, a->server_first_data_ns, COL_SERVER, COL_CLIENT, ROW_GOOD, label);
    }
    if (a->server_end.ts_ns != 0) {
        bool reset = (a->server_end.flags & DEC_TCP_RST) != 0;
        struct ladder_row *row =
            ladder_add(l, a->server_end.ts_ns, COL_SERVER, COL_CLIENT, reset ? ROW_BAD : ROW_GOOD,
                       tcp_flag_name(a->server_end.flags));
        if (row != NULL) {
            answer_detail(row->detail, sizeof(row->detail), a, &a->server_end, false);
        }
    }
    if (a->server_fin_ns != 0 && a->server_fin_ns != a->server_end.ts_ns) {
        ladder_add(l, a->server_fin_ns, COL_SERVER, COL_CLIENT, ROW_GOOD, "FIN");
    }
    if (a->client_fin_ns != 0) {
        ladder_add(l, a->client_fin_ns, COL_CLIENT, COL_SERVER, ROW_CLIENT, "FIN");
    }
    if (a->client_rst_ns != 0) {
        ladder_add(l, a->client_rst_ns, COL_CLIENT, COL_SERVER, ROW_CLIENT,
                   "RST (from the client)");
    }
    if (a->answer == FLOW_ANS_NONE && a->client_rst_ns == 0 && a->saw_syn) {
        const char *why = a->end == FLOW_END_CAPTURE_END ? "no answer; the capture ends"
                          : a->end == FLOW_END_EVICTED   ? "no answer; evicted by --max-flows"
                                                         : "no answer; timed out";
        int64_t at = a->seen_until_ns > a->last_ns ? a->seen_until_ns : a->last_ns;
        ladder_add(l, at, COL_CLIENT, COL_SERVER, ROW_NOTE, why);
    }
    if (a->answer == FLOW_ANS_SYNACK && !a->handshake_done && a->client_rst_ns == 0 &&
        a->client_fin_ns == 0) {
        const char *why = a->end == FLOW_END_CAPTURE_END
                              ? "no ACK from the client; the capture ends"
                              : "no ACK from the client; timed out";
        int64_t at = a->seen_until_ns > a->last_ns ? a->seen_until_ns : a->last_ns;
        ladder_add(l, at, COL_CLIENT, COL_SERVER, ROW_NOTE, why);
    }
    /* insertion sort by time; equal times keep the order they were added in */
    for (uint32_t i = 1; i < l->count; i++) {
        struct ladder_row row = l->rows[i];
        uint32_t k = i;
        while (k > 0 && (l->rows[k - 1].ns > row.ns ||
                         (l->rows[k - 1].ns == row.ns && l->rows[k - 1].order > row.order))) {
            l->rows[k] = l->rows[k - 1];
            k--;
        }
        l->rows[k] = row;
    }
}

/* "+0.049 ms" below a second, "+1.001 s" from a second on. */
static void fmt_relative(char *buf, size_t buflen, int64_t ns)
{
    const char *sign = ns < 0 ? "-" : "+";
    int64_t mag = ns < 0 ? -ns : ns;
    if (mag < 1000000000) {
        snprintf(buf, buflen, "%s%.3f ms", sign, (double)mag / 1e6);
    } else {
        snprintf(buf, buflen, "%s%.3f s", sign, (double)mag / 1e9);
    }
}

/* Vertical distance between two rows dt apart: ordinal with a logarithmic stretch, so a
 * 0.05 ms answer and a 30 s retry gap are both readable (44 px plus ~7 px per decade of
 * microseconds). */
static double row_gap(int64_t dt_ns)
{
    double v = dt_ns > 0 ? (double)dt_ns / 1000.0 + 1.0 : 1.0;
    double decades = 0;
    while (v >= 10.0) {
        v /= 10.0;
        decades += 1.0;
    }
    decades += (v - 1.0) / 9.0;
    if (decades > 9) {
        decades = 9;
    }
    return 44.0 + 7.0 * decades;
}

#define LADDER_WIDTH 1000.0
#define LADDER_TIME_X 104.0 /* right edge of the time labels */
#define LADDER_TOP 78.0     /* y of the first row */
#define LADDER_SLOPE 10.0   /* an arrow drops this much: packets take time */

static void column_head(FILE *out, double x, double max_w, const char *role, const char *address)
{
    svg_text(out, x, 18, "middle", "font-weight=\"600\"", 14, max_w, role);
    svg_text(out, x, 36, "middle", "fill=\"#3d444d\"", 12.5, max_w, address);
}

static void ladder_svg(FILE *out, const struct flow_attempt *a, const struct rep_judgement *j)
{
    bool router = a->answer == FLOW_ANS_ICMP && j->sender == REP_SENDER_ROUTER;
    double col_x[3] = {260, 560, 860};
    struct ladder l;
    ladder_build(&l, a, j, router);

    double ys[LADDER_MAX_ROWS];
    double y = LADDER_TOP;
    for (uint32_t i = 0; i < l.count; i++) {
        if (i > 0) {
            y += row_gap(l.rows[i].ns - l.rows[i - 1].ns);
        }
        ys[i] = y;
    }
    double bottom = y + 34;
    double height = bottom + 8;

    fprintf(out,
            "<svg width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"ladder diagram\" "
            "class=\"ladder\">\n",
            LADDER_WIDTH, height, LADDER_WIDTH, height);
    /* headers and lifelines */
    char cli[64], srv[64], rtr[64];
    double head_w = router ? 280 : 420;
    rep_endpoint_str(a->family, &a->client, a->client_port, cli, sizeof(cli));
    rep_endpoint_str(a->family, &a->server, a->server_port, srv, sizeof(srv));
    column_head(out, col_x[COL_CLIENT], head_w, "client", cli);
    column_head(out, col_x[COL_SERVER], head_w, "server", srv);
    if (router) {
        dec_addr_str(&a->reply.from, a->family, rtr, sizeof(rtr));
        column_head(out, col_x[COL_ROUTER], head_w, "router", rtr);
    }
    svg_text(out, LADDER_TIME_X, 36, "end", "fill=\"#57606a\"", 12, 0, "time");
    for (int c = 0; c < 3; c++) {
        if (c == COL_ROUTER && !router) {
            continue;
        }
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"46\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#8c959f\" "
                "stroke-width=\"2\"/>\n",
                col_x[c], col_x[c], bottom);
    }
    fprintf(out,
            "<line x1=\"%.1f\" y1=\"46\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d0d7de\" "
            "stroke-width=\"1\"/>\n",
            LADDER_TIME_X + 8, LADDER_TIME_X + 8, bottom);

    for (uint32_t i = 0; i < l.count; i++) {
        const struct ladder_row *row = &l.rows[i];
        const char *colour = row_colour[row->kind];
        char when[32];
        fmt_relative(when, sizeof(when), row->ns - j->start_ns);
        double ry = ys[i];
        /* the time on the left, a faint guide to where the packet leaves */
        svg_text(out, LADDER_TIME_X, ry + 4, "end", "fill=\"#3d444d\"", 12, 0, when);
        double x_from = col_x[row->from], x_to = col_x[row->to];
        double guide_to = x_from < x_to ? x_from : x_to;
        if (row->from == row->to) {
            guide_to = col_x[COL_CLIENT];
        }
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d0d7de\" "
                "stroke-dasharray=\"2 3\"/>\n",
                LADDER_TIME_X + 8, ry, guide_to, ry);
        if (row->kind == ROW_NOTE) {
            if (row->from == row->to) {
                svg_text(out, x_from + 12, ry + 4, "start",
                         "font-style=\"italic\" fill=\"#57606a\"", 12.5,
                         col_x[COL_SERVER] - x_from - 24, row->label);
            } else {
                /* a dashed line across, interrupted where the note is written */
                double half = text_width(row->label, 12.5) / 2 + 8;
                double mid = (x_from + x_to) / 2;
                fprintf(out,
                        "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#8c959f\" "
                        "stroke-dasharray=\"6 4\"/>\n",
                        x_from, ry, mid - half, mid + half, ry, x_to);
                svg_text(out, (x_from + x_to) / 2, ry + 4, "middle",
                         "class=\"lbl\" font-style=\"italic\" fill=\"#57606a\"", 12.5,
                         x_to - x_from - 24, row->label);
            }
            continue;
        }
        double dir = x_to > x_from ? 1.0 : -1.0;
        double y2 = ry + LADDER_SLOPE;
        double span = (x_to - x_from) * dir;
        double tip_x = x_to - dir * 2;
        double head_dy = 9.0 * LADDER_SLOPE / span;
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n",
                x_from, ry, tip_x - dir * 8, y2 - head_dy * 8 / 9, colour);
        fprintf(out, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", tip_x, y2,
                tip_x - dir * 10, y2 - head_dy - 5, tip_x - dir * 10, y2 - head_dy + 5, colour);
        fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x_from, ry, colour);
        double mid_x = (x_from + x_to) / 2, mid_y = ry + LADDER_SLOPE / 2;
        char attrs[96];
        snprintf(attrs, sizeof(attrs), "class=\"lbl\" font-weight=\"600\" fill=\"%s\"", colour);
        svg_text(out, mid_x, mid_y - 7, "middle", attrs, 13, span - 24, row->label);
        if (row->detail[0] != '\0') {
            svg_text(out, mid_x, mid_y + 17, "middle", "class=\"lbl\" fill=\"#3d444d\"", 12,
                     span - 24, row->detail);
        }
    }
    fputs("</svg>\n", out);
}

/* One listed attempt: a heading line, its ladder, and a caption with the judgement. */
static void html_attempt(FILE *out, const struct rep_report *r, const struct rep_listed *item)
{
    const struct flow_attempt *a = &item->attempt;
    const struct rep_judgement *j = &item->judgement;
    char when[32], cli[64], srv[64], evidence[512];
    rep_endpoint_str(a->family, &a->client, a->client_port, cli, sizeof(cli));
    rep_endpoint_str(a->family, &a->server, a->server_port, srv, sizeof(srv));
    fprintf(out,
            "<figure class=\"attempt\">\n<div class=\"head\"><strong>%s</strong> &nbsp;"
            "<code>%s</code> &rarr; <code>%s</code></div>\n",
            rep_clock_str(j->start_ns, when, sizeof(when)), cli, srv);
    ladder_svg(out, a, j);
    fprintf(out,
            "<figcaption><span class=\"swatch\" style=\"background:%s\"></span>"
            "<strong>%s</strong> (",
            verdict_colour[j->verdict], rep_verdict_name(j->verdict));
    html_escape(out, j->reason);
    fputs(") &middot; Zeek conn_state <code>", out);
    html_escape(out, j->zeek_state);
    fputs("</code> &middot; history <code>", out);
    html_escape(out, a->history[0] != '\0' ? a->history : "-");
    fprintf(out, "</code> &middot; packet%s ", a->packet_total == 1 ? "" : "s");
    for (uint32_t i = 0; i < a->packet_count && i < FLOW_MAX_PACKETS; i++) {
        fprintf(out, "%s%u", i ? ", " : "", a->packets[i]);
    }
    if (a->packet_total > a->packet_count) {
        fprintf(out, " &hellip; (%u in all)", a->packet_total);
    }
    fputs("<br>", out);
    html_escape(out, rep_evidence(evidence, sizeof(evidence), a, j, r->opts.cfg.syn_timeout_ns));
    fputs("</figcaption>\n</figure>\n", out);
}

/* ---- verdict sections ---------------------------------------------------------------------- */

static void html_verdict_section(FILE *out, struct rep_report *r, enum rep_verdict v)
{
    const char *name = rep_verdict_name(v);
    rep_sort_listed(r, v);
    fprintf(out,
            "<section class=\"verdict\" id=\"v-%s\">\n<h2><span class=\"swatch\" "
            "style=\"background:%s\"></span>%s: %llu attempt%s</h2>\n<p>",
            name, verdict_colour[v], name, (unsigned long long)r->counts[v], plural(r->counts[v]));
    html_prose(out, rep_explanation(v), rep_common_port(r, v));
    fputs("</p>\n", out);
    if (v == REP_UNREACHABLE) {
        const char *reasons[16];
        size_t count = rep_icmp_reasons(r, reasons, 16);
        if (count > 0) {
            fputs("<ul class=\"advice\">\n", out);
            for (size_t i = 0; i < count; i++) {
                fputs("<li><strong>", out);
                html_escape(out, reasons[i]);
                fputs("</strong>: ", out);
                html_prose(out, rep_icmp_advice(reasons[i]), 0);
                fputs("</li>\n", out);
            }
            fputs("</ul>\n", out);
        }
    }
    for (uint32_t i = 0; i < r->listed_count[v]; i++) {
        html_attempt(out, r, &r->listed[v][i]);
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
    html_escape(out, sentence);
    fputs("</li>\n", out);
}

static void html_counters(FILE *out, const struct rep_input_stats *input,
                          const struct flow_stats *flows)
{
    uint64_t total = 0;
    for (int s = DEC_SKIP_COUNT_END; s < DEC_P_COUNT; s++) {
        total += input->decode_status[s];
    }
    fputs("<h2 id=\"input\">Input</h2>\n<ul class=\"counters\">\n", out);
    if (total == 0) {
        fputs("<li>Decode problems: none.</li>\n", out);
    } else {
        fprintf(out, "<li>Decode problems: %llu packet%s could not be decoded:",
                (unsigned long long)total, plural(total));
        for (int s = DEC_SKIP_COUNT_END; s < DEC_P_COUNT; s++) {
            if (input->decode_status[s] != 0) {
                fprintf(out, " <code>%s</code> %llu", dec_status_name((enum dec_status)s),
                        (unsigned long long)input->decode_status[s]);
            }
        }
        fputs("</li>\n", out);
    }
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
