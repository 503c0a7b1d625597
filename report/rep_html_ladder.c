/* rep_html_ladder.c - the HTML report's failed attempts: a ladder diagram of each one's packets
 * (SVG), with a heading and a caption of its judgement. */
#include "rep_html.h"
#include "rep_int.h"

#include <string.h>

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
        snprintf(from, sizeof(from), "from %s, ", rep_addr_str(a->family, &reply->from, ip));
    }
    if (hops >= 0) {
        snprintf(buf, buflen, "%s%s %u, %d hop%s", from, a->family == 6 ? "hlim" : "ttl",
                 reply->ttl, hops, rep_plural(hops));
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
    struct rep_text t;
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
        rep_text_init(&t, label, sizeof(label));
        rep_text_printf(&t, "ICMP%s %u/%u %s", a->family == 6 ? "v6" : "", a->reply.icmp_type,
                        a->reply.icmp_code, rep_icmp_label(j->reason));
        if (a->icmp_count > 1) {
            rep_text_printf(&t, " (%u in all)", a->icmp_count);
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
                 rep_plural(more));
        ladder_add(l, a->syn_last_ns, COL_CLIENT, COL_CLIENT, ROW_NOTE, label);
    }
    ladder_answer(l, a, j, router);
    if (a->handshake_done) {
        ladder_add(l, a->handshake_ns, COL_CLIENT, COL_SERVER, ROW_CLIENT, "ACK");
    }
    if (a->client_first_data_ns != 0) {
        char label[96];
        snprintf(label, sizeof(label), "data (%llu byte%s in all)",
                 (unsigned long long)a->client_bytes, rep_plural(a->client_bytes));
        ladder_add(l, a->client_first_data_ns, COL_CLIENT, COL_SERVER, ROW_CLIENT, label);
    }
    if (a->server_first_data_ns != 0) {
        char label[96];
        snprintf(label, sizeof(label), "data (%llu byte%s in all)",
                 (unsigned long long)a->server_bytes, rep_plural(a->server_bytes));
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
    rep_svg_text(out, x, 18, "middle", "font-weight=\"600\"", 14, max_w, role);
    rep_svg_text(out, x, 36, "middle", "fill=\"#3d444d\"", 12.5, max_w, address);
}

/* One row of a ladder at height ry: its time on the left, then its arrow and labels, or its
 * note. */
static void ladder_row_svg(FILE *out, const struct ladder_row *row, double ry, const double *col_x,
                           int64_t start_ns)
{
    const char *colour = row_colour[row->kind];
    char when[32];
    fmt_relative(when, sizeof(when), row->ns - start_ns);
    /* the time on the left, a faint guide to where the packet leaves */
    rep_svg_text(out, LADDER_TIME_X, ry + 4, "end", "fill=\"#3d444d\"", 12, 0, when);
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
            rep_svg_text(out, x_from + 12, ry + 4, "start",
                         "font-style=\"italic\" fill=\"#57606a\"", 12.5,
                         col_x[COL_SERVER] - x_from - 24, row->label);
        } else {
            /* a dashed line across, interrupted where the note is written */
            double half = rep_html_text_width(row->label, 12.5) / 2 + 8;
            double mid = (x_from + x_to) / 2;
            fprintf(out,
                    "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#8c959f\" "
                    "stroke-dasharray=\"6 4\"/>\n",
                    x_from, ry, mid - half, mid + half, ry, x_to);
            rep_svg_text(out, (x_from + x_to) / 2, ry + 4, "middle",
                         "class=\"lbl\" font-style=\"italic\" fill=\"#57606a\"", 12.5,
                         x_to - x_from - 24, row->label);
        }
        return;
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
    rep_svg_text(out, mid_x, mid_y - 7, "middle", attrs, 13, span - 24, row->label);
    if (row->detail[0] != '\0') {
        rep_svg_text(out, mid_x, mid_y + 17, "middle", "class=\"lbl\" fill=\"#3d444d\"", 12,
                     span - 24, row->detail);
    }
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
        rep_addr_str(a->family, &a->reply.from, rtr);
        column_head(out, col_x[COL_ROUTER], head_w, "router", rtr);
    }
    rep_svg_text(out, LADDER_TIME_X, 36, "end", "fill=\"#57606a\"", 12, 0, "time");
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
        ladder_row_svg(out, &l.rows[i], ys[i], col_x, j->start_ns);
    }
    fputs("</svg>\n", out);
}

/* One listed attempt: a heading line, its ladder, and a caption with the judgement. */
void rep_html_attempt(FILE *out, const struct rep_listed *item, int64_t syn_timeout_ns)
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
            rep_html_colour[j->verdict], rep_verdict_name(j->verdict));
    rep_html_escape(out, j->reason);
    fputs(") &middot; Zeek conn_state <code>", out);
    rep_html_escape(out, j->zeek_state);
    fputs("</code> &middot; history <code>", out);
    rep_html_escape(out, a->history[0] != '\0' ? a->history : "-");
    fprintf(out, "</code> &middot; packet%s ", rep_plural(a->packet_total));
    for (uint32_t i = 0; i < a->packet_count && i < FLOW_MAX_PACKETS; i++) {
        fprintf(out, "%s%u", i ? ", " : "", a->packets[i]);
    }
    if (a->packet_total > a->packet_count) {
        fprintf(out, " &hellip; (%u in all)", a->packet_total);
    }
    fputs("<br>", out);
    rep_html_escape(out, rep_evidence(evidence, sizeof(evidence), a, j, syn_timeout_ns));
    fputs("</figcaption>\n</figure>\n", out);
}
