/* test_report_html.c - the HTML report: balanced tags, nothing from the network, escaping, one
 * ladder diagram per listed attempt (with a router column for a router's ICMP error), the bar
 * chart, the counts and the limits. The report writes into a memory stream; attempts come from
 * the flow engine fed with events built in memory. */
#include <criterion/criterion.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow_fixtures.h"
#include "report.h"

/* ---- the report under test ------------------------------------------------------------------ */

struct page {
    char *html;
    size_t length;
};

/* Writes the HTML report of the attempts collected by rig, listing at most list_limit attempts
 * per verdict (0 = the default), with files as the input names. */
static struct page render(struct rig *rig, const char *const *files, size_t file_count,
                          uint32_t list_limit, const struct rep_input_stats *extra)
{
    struct page p = {NULL, 0};
    struct rep_report *rep = NULL;
    char errbuf[128] = "";
    struct flow_stats stats = stats_of(rig);
    struct rep_input_stats input;
    if (extra != NULL) {
        input = *extra;
    } else {
        memset(&input, 0, sizeof(input));
    }
    input.files = files;
    input.file_count = file_count;
    input.packets = rig->pkt;

    FILE *out = open_memstream(&p.html, &p.length);
    cr_assert_not_null(out);
    struct rep_options opts = {.format = REP_FORMAT_HTML,
                               .out = out,
                               .cfg = {.syn_timeout_ns = 3 * SEC},
                               .list_limit = list_limit};
    cr_assert_eq(rep_create(&rep, &opts, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    for (size_t i = 0; i < rig->got.count; i++) {
        rep_attempt(rep, &rig->got.items[i]);
    }
    cr_assert_eq(rep_finish(rep, &input, &stats, errbuf, sizeof(errbuf)), 0, "%s", errbuf);
    rep_destroy(rep);
    cr_assert_eq(fclose(out), 0);
    cr_assert_not_null(p.html);
    cr_assert_eq(strlen(p.html), p.length, "a NUL byte in the page");
    return p;
}

static size_t count_of(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* ---- a checker for the markup the writer emits ---------------------------------------------- */

/* Elements that never have an end tag in HTML. */
static bool is_void(const char *name)
{
    static const char *const names[] = {"meta", "br", "hr", "img", "input", "link", "wbr"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* True when every tag of html is well-formed and closed in order: start tags are pushed, end
 * tags must match the top of the stack, void elements and SVG's self-closing tags stand alone,
 * attribute values are quoted and hold no '<', and text holds no bare '<' or '>'. Writes the
 * first problem into why. */
static bool tags_balanced(const char *html, char *why, size_t whylen)
{
    char stack[64][16];
    size_t depth = 0;
    const char *p = html;
    while (*p != '\0') {
        if (*p == '>') {
            snprintf(why, whylen, "bare '>' in text at offset %zu", (size_t)(p - html));
            return false;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        if (strncmp(p, "<!DOCTYPE html>", 15) == 0) {
            p += 15;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0) {
            const char *end = strstr(p, "-->");
            if (end == NULL) {
                snprintf(why, whylen, "unterminated comment");
                return false;
            }
            p = end + 3;
            continue;
        }
        bool closing = p[1] == '/';
        const char *q = p + (closing ? 2 : 1);
        char name[16];
        size_t n = 0;
        while (isalnum((unsigned char)*q) && n + 1 < sizeof(name)) {
            name[n++] = (char)tolower((unsigned char)*q++);
        }
        name[n] = '\0';
        if (n == 0) {
            snprintf(why, whylen, "bare '<' at offset %zu", (size_t)(p - html));
            return false;
        }
        /* attributes: name="value" pairs up to '>' or '/>' */
        bool self_closing = false;
        for (;;) {
            while (*q == ' ' || *q == '\n') {
                q++;
            }
            if (*q == '>') {
                q++;
                break;
            }
            if (q[0] == '/' && q[1] == '>') {
                self_closing = true;
                q += 2;
                break;
            }
            if (closing || !(isalpha((unsigned char)*q))) {
                snprintf(why, whylen, "bad attribute in <%s> at offset %zu", name,
                         (size_t)(q - html));
                return false;
            }
            while (isalnum((unsigned char)*q) || *q == '-' || *q == ':') {
                q++;
            }
            if (q[0] != '=' || q[1] != '"') {
                snprintf(why, whylen, "unquoted attribute in <%s> at offset %zu", name,
                         (size_t)(q - html));
                return false;
            }
            const char *value_end = strchr(q + 2, '"');
            if (value_end == NULL || memchr(q + 2, '<', (size_t)(value_end - q - 2)) != NULL) {
                snprintf(why, whylen, "bad attribute value in <%s>", name);
                return false;
            }
            q = value_end + 1;
        }
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
                snprintf(why, whylen, "</%s> closes <%s> at offset %zu", name,
                         depth ? stack[depth - 1] : "nothing", (size_t)(p - html));
                return false;
            }
            depth--;
        } else if (!self_closing && !is_void(name)) {
            if (depth == sizeof(stack) / sizeof(stack[0])) {
                snprintf(why, whylen, "nesting too deep");
                return false;
            }
            snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
        }
        if (strcmp(name, "style") == 0 && !closing) {
            /* CSS may hold '>' (selectors): skip to the end tag */
            const char *end = strstr(q, "</style>");
            if (end == NULL) {
                snprintf(why, whylen, "unterminated <style>");
                return false;
            }
            q = end;
        }
        p = q;
    }
    if (depth != 0) {
        snprintf(why, whylen, "<%s> never closed", stack[depth - 1]);
        return false;
    }
    return true;
}

static void assert_page_ok(const struct page *p)
{
    char why[160] = "";
    cr_assert(strncmp(p->html, "<!DOCTYPE html>\n", 16) == 0, "no doctype");
    cr_assert_not_null(strstr(p->html, "<meta charset=\"utf-8\">"));
    cr_assert_not_null(strstr(p->html, "<title>synscope report"));
    cr_assert(tags_balanced(p->html, why, sizeof(why)), "markup: %s", why);
    /* self-contained: nothing is fetched from anywhere */
    char *lower = strdup(p->html);
    cr_assert_not_null(lower);
    for (char *c = lower; *c != '\0'; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    cr_assert_null(strstr(lower, "http://"));
    cr_assert_null(strstr(lower, "https://"));
    cr_assert_null(strstr(lower, "<script"));
    cr_assert_null(strstr(lower, "<link"));
    cr_assert_null(strstr(lower, "<img"));
    cr_assert_null(strstr(lower, "@import"));
    cr_assert_null(strstr(lower, "url("));
    free(lower);
    cr_assert(p->length > 0 && p->html[p->length - 1] == '\n');
}

Test(report_html, checker_self_test)
{
    char why[160];
    cr_assert(tags_balanced("<p>a <b>b</b><br></p><svg><line x1=\"1\"/></svg>", why, 160), "%s",
              why);
    cr_assert_not(tags_balanced("<p><b>x</p></b>", why, sizeof(why)));
    cr_assert_not(tags_balanced("<p>x", why, sizeof(why)));
    cr_assert_not(tags_balanced("<p>a < b</p>", why, sizeof(why)));
    cr_assert_not(tags_balanced("<p>a > b</p>", why, sizeof(why)));
    cr_assert_not(tags_balanced("<p class=x>a</p>", why, sizeof(why)));
    cr_assert_not(tags_balanced("<p title=\"<b>\">a</p>", why, sizeof(why)));
}

/* ---- scenarios ------------------------------------------------------------------------------ */

/* Seven attempts to six services: a refusal, a SYN dropped with 11 SYNs (more than the 8 times
 * kept), a host unreachable from a router, a reset after accept, a half-open, an IPv6 refusal
 * and an accepted connection. */
static void mixed(struct rig *r)
{
    struct tuple refused = tuple4(40001, 81);
    struct tuple open = tuple4(40002, 80);
    struct tuple dropped = tuple4(40003, 443);
    struct tuple unreach = tuple4(40004, 22);
    struct tuple reset = tuple4(40005, 8443);
    struct tuple refused6 = tuple6(40006, 80);
    struct tuple half = tuple4(40007, 25);
    struct dec_addr router = addr4(10, 99, 0, 254);
    dropped.server = addr4(10, 99, 0, 3);
    unreach.server = addr4(10, 99, 0, 4);
    half.server = addr4(10, 99, 0, 5);

    rig_init(r);
    feed(r, syn(&refused, 1000), 0);
    feed(r, rst_ack(&refused, false, 0, 1001), 50000); /* 0.05 ms */
    feed(r, syn(&open, 3000), 2 * MS);
    feed(r, synack(&open, 9000, 3001), 3 * MS);
    feed(r, ack_of(&open, true, 3001, 9001), 4 * MS);
    feed(r, data(&open, true, 3001, 9001, 100), 5 * MS);
    feed(r, data(&open, false, 9001, 3101, 1000), 6 * MS);
    feed(r, fin(&open, true, 3101, 10001), 7 * MS);
    feed(r, fin(&open, false, 10001, 3102), 8 * MS);
    feed(r, ack_of(&open, true, 3102, 10002), 9 * MS);
    feed(r, syn(&unreach, 4000), 10 * MS);
    feed(r, icmp_err(&router, &unreach, 4000, 3, 1), 12 * MS);
    feed(r, syn(&reset, 5000), 20 * MS);
    feed(r, synack(&reset, 7000, 5001), 21 * MS);
    feed(r, ack_of(&reset, true, 5001, 7001), 22 * MS);
    feed(r, rst_ack(&reset, false, 7001, 5001), 30 * MS);
    feed(r, syn(&refused6, 6000), 40 * MS);
    feed(r, rst_ack(&refused6, false, 0, 6001), 41 * MS);
    feed(r, syn(&half, 8000), 50 * MS);
    feed(r, synack(&half, 4000, 8001), 51 * MS);
    /* 11 SYNs, 1 s apart then doubling up to 16 s */
    int64_t at = 100 * MS;
    int64_t gap = 1 * SEC;
    for (int i = 0; i < 11; i++) {
        feed(r, syn(&dropped, 2000), at);
        at += gap;
        if (i >= 4 && gap < 16 * SEC) {
            gap *= 2;
        }
    }
    advance_to(r, at + 60 * SEC);
    finish_all(r);
    cr_assert_eq(r->got.count, 7);
}

Test(report_html, mixed_page_is_complete_and_well_formed)
{
    struct rig r;
    const char *files[] = {"capture.pcap"};
    mixed(&r);
    struct page p = render(&r, files, 1, 0, NULL);
    assert_page_ok(&p);

    /* the header: input, counts */
    cr_assert_not_null(strstr(p.html, "<code>capture.pcap</code>"));
    char summary[128];
    snprintf(summary, sizeof(summary), "%u packets, 7 connection attempts, 6 failed", r.pkt);
    cr_assert_not_null(strstr(p.html, summary), "no summary '%s'", summary);
    cr_assert_not_null(strstr(p.html, "2026-11-26T13:12:06.319804Z to "));

    /* the services table and the bar chart */
    cr_assert_eq(count_of(p.html, "<table>"), 1);
    cr_assert_not_null(strstr(p.html, "<th>unreachable</th>"));
    cr_assert_not_null(strstr(p.html, "<code>10.99.0.3:443</code>"));
    cr_assert_eq(count_of(p.html, "class=\"chart\""), 1);
    cr_assert_not_null(strstr(p.html, ">refused 2</text>"), "legend with counts");
    cr_assert_not_null(strstr(p.html, ">dropped 1</text>"));
    cr_assert_not_null(strstr(p.html, "<title>refused: 1</title>"));

    /* one ladder per failed attempt, in a section per verdict with its explanation */
    cr_assert_eq(count_of(p.html, "class=\"ladder\""), 6);
    cr_assert_eq(count_of(p.html, "<svg "), 7);
    cr_assert_not_null(strstr(p.html, "id=\"v-refused\""));
    cr_assert_not_null(strstr(p.html, "refused: 2 attempts</h2>"));
    cr_assert_not_null(strstr(p.html, "dropped: 1 attempt</h2>"));
    cr_assert_not_null(strstr(p.html, "nothing listens on that port"));
    cr_assert_not_null(strstr(p.html, "<code>tcpdump -ni any 'tcp port 443'</code>") ||
                       strstr(p.html, "<code>tcpdump -ni any &#39;tcp port 443&#39;</code>"));
    cr_assert_not_null(strstr(p.html, "<strong>host</strong>: Host unreachable"));
    cr_assert_null(strstr(p.html, "id=\"v-accepted\""));

    /* the ladders: SYNs and retries with relative times, the answers with their hop counts */
    cr_assert_not_null(strstr(p.html, ">SYN (retransmission)</text>"));
    cr_assert_not_null(strstr(p.html, ">+0.050 ms</text>"), "the refusal's time");
    cr_assert_not_null(strstr(p.html, ">+1.000 s</text>"), "the first retry");
    cr_assert_not_null(strstr(p.html, ">... 3 more SYNs, the last one here</text>"));
    cr_assert_not_null(strstr(p.html, ">from 10.99.0.2, ttl 63, 1 hop</text>"));
    cr_assert_not_null(strstr(p.html, ">RST+ACK</text>"));
    cr_assert_not_null(strstr(p.html, ">ICMP 3/1 host unreachable</text>"));
    cr_assert_not_null(strstr(p.html, ">from 10.99.0.254, ttl 62, 2 hops</text>"));
    cr_assert_eq(count_of(p.html, ">router</text>"), 1, "a router column for the router only");
    cr_assert_not_null(strstr(p.html, ">no answer; timed out</text>"));
    cr_assert_not_null(strstr(p.html, ">ACK</text>"), "the client's ACK of a reset attempt");
    cr_assert_not_null(strstr(p.html, ">from fd00:99::2, hlim 63, 1 hop</text>"));

    /* captions: verdict, reason, Zeek state, packets; evidence as in the text report */
    cr_assert_not_null(strstr(p.html, "<strong>reset-after-accept</strong> (rst)"));
    cr_assert_not_null(strstr(p.html, "Zeek conn_state <code>REJ</code>"));
    cr_assert_not_null(strstr(p.html, "Zeek conn_state <code>RSTR</code>"));
    cr_assert_not_null(strstr(p.html, "packets 1, 2<br>RST from 10.99.0.2 after 0.050 ms"));
    cr_assert_not_null(strstr(p.html, "11 SYNs over "));

    /* the counters at the end */
    cr_assert_not_null(strstr(p.html, "<li>Decode problems: none.</li>"));
    free(p.html);
    rig_free(&r);
}

Test(report_html, input_names_are_escaped)
{
    struct rig r;
    const char *files[] = {"a<b>&c\"d'.pcap", "<script>alert(1)</script>.pcap"};
    struct rep_input_stats input;
    memset(&input, 0, sizeof(input));
    input.error = "read <error> & more";
    input.decode_status[DEC_P_TCP_SHORT] = 2;
    mixed(&r);
    struct page p = render(&r, files, 2, 0, &input);
    assert_page_ok(&p);
    cr_assert_not_null(strstr(p.html, "<code>a&lt;b&gt;&amp;c&quot;d&#39;.pcap</code>"));
    cr_assert_not_null(strstr(p.html, "<title>synscope report: a&lt;b&gt;&amp;c&quot;d&#39;.pcap "
                                      "and 1 more</title>"));
    cr_assert_not_null(strstr(p.html, "&lt;script&gt;alert(1)&lt;/script&gt;.pcap"));
    cr_assert_null(strstr(p.html, "a<b>"));
    cr_assert_not_null(strstr(p.html, "Input error: read &lt;error&gt; &amp; more"));
    cr_assert_not_null(strstr(p.html, "<code>tcp-short</code> 2"));
    free(p.html);
    rig_free(&r);
}

Test(report_html, listing_limit_and_many_services)
{
    struct rig r;
    const char *files[] = {"scan.pcap"};
    rig_init(&r);
    /* 60 refused ports and 3 dropped ones of one host */
    for (uint16_t i = 0; i < 60; i++) {
        struct tuple t = tuple4((uint16_t)(41000 + i), (uint16_t)(1000 + i));
        feed(&r, syn(&t, 100u + i), i * MS);
        feed(&r, rst_ack(&t, false, 0, 101u + i), i * MS + 30000);
    }
    for (uint16_t i = 0; i < 3; i++) {
        struct tuple t = tuple4((uint16_t)(42000 + i), (uint16_t)(2000 + i));
        feed(&r, syn(&t, 500u + i), 100 * MS + i * MS);
    }
    advance_to(&r, 100 * SEC);
    finish_all(&r);
    struct page p = render(&r, files, 1, 5, NULL);
    assert_page_ok(&p);
    cr_assert_eq(count_of(p.html, "class=\"ladder\""), 8, "5 refused and 3 dropped listed");
    cr_assert_not_null(strstr(p.html, "&hellip; and 55 more (all of them with -f json)"));
    cr_assert_not_null(strstr(p.html, "&hellip; and 13 more services (all of them with -f json)"));
    cr_assert_eq(count_of(p.html, "<tr><td>"), 50, "at most 50 service rows");
    cr_assert_eq(count_of(p.html, "<rect ") - count_of(p.html, "rx=\"2\""), 20,
                 "20 bars in the chart");
    cr_assert_not_null(strstr(p.html, "63 connection attempts, 63 failed"));
    cr_assert_null(strstr(p.html, "id=\"svc-"), "a scan's services need no sections");
    free(p.html);
    rig_free(&r);
}

Test(report_html, empty_and_all_accepted)
{
    struct rig r;
    const char *files[] = {"empty.pcap"};
    rig_init(&r);
    finish_all(&r);
    struct page p = render(&r, files, 1, 0, NULL);
    assert_page_ok(&p);
    cr_assert_not_null(strstr(p.html, "0 connection attempts, 0 failed"));
    cr_assert_not_null(strstr(p.html, "No connection attempts."));
    cr_assert_null(strstr(p.html, "<svg"));
    free(p.html);
    rig_free(&r);

    struct tuple t = tuple4(40000, 80);
    rig_init(&r);
    handshake(&r, &t, 0);
    finish_all(&r);
    p = render(&r, files, 1, 0, NULL);
    assert_page_ok(&p);
    cr_assert_not_null(strstr(p.html, "1 connection attempt, 0 failed"));
    cr_assert_not_null(strstr(p.html, "No failed connection attempts."));
    cr_assert_eq(count_of(p.html, "class=\"chart\""), 1);
    cr_assert_eq(count_of(p.html, "class=\"ladder\""), 0);
    free(p.html);
    rig_free(&r);
}

Test(report_html, live_capture_counters)
{
    struct rig r;
    const char *files[] = {"eth0"};
    struct rep_input_stats input;
    memset(&input, 0, sizeof(input));
    input.live = true;
    input.duration_s = 12.5;
    input.cap_received = 40;
    input.cap_dropped = 3;
    mixed(&r);
    struct page p = render(&r, files, 1, 0, &input);
    assert_page_ok(&p);
    cr_assert_not_null(strstr(p.html, "Live capture on <code>eth0</code> for 12.5 s"));
    cr_assert_not_null(
        strstr(p.html, "40 packets passed the kernel filter, 3 dropped by the kernel"));
    free(p.html);
    rig_free(&r);
}

Test(report_html, a_service_that_fails_sometimes_has_a_section)
{
    struct rig r;
    const char *files[] = {"flaky.pcap"};
    struct tuple first = tuple4(40000, 80);
    struct tuple second = tuple4(40001, 80);
    rig_init(&r);
    handshake(&r, &first, 0);
    feed(&r, syn(&second, 5000), 10 * MS);
    feed(&r, rst_ack(&second, false, 0, 5001), 11 * MS);
    finish_all(&r);
    struct page p = render(&r, files, 1, 0, NULL);
    assert_page_ok(&p);
    cr_assert_not_null(strstr(p.html, "Services that fail sometimes</h2>"));
    cr_assert_not_null(strstr(p.html, "<a href=\"#svc-0\"><code>10.99.0.2:80</code></a>"));
    cr_assert_not_null(strstr(p.html, "id=\"svc-0\""));
    cr_assert_not_null(strstr(p.html, "<strong>failing sometimes</strong> &mdash; 2 attempts: 1 "
                                      "accepted, 1 <a href=\"#v-refused\">refused</a>."));
    free(p.html);
    rig_free(&r);
}
