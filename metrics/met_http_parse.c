/* met_http_parse.c - a strict reader of one HTTP/1.1 request head (RFC 9112): the request
 * line and the header fields, nothing else. What a scraper sends passes; anything else gets
 * the status that names what is wrong, as soon as it is known. Every byte is hostile: the
 * parser only reads the len bytes it is given, and decides again from the start each time
 * more arrive (at most MET_HTTP_REQUEST_MAX bytes). */
#include <stdbool.h>
#include <string.h>

#include "met_int.h"

/* tchar of RFC 9110 5.6.2 */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-value bytes (RFC 9110 5.5): visible, space, tab, obs-text; no other control */
static bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool name_is(const char *name, size_t len, const char *want)
{
    size_t n = strlen(want);
    if (len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != want[i]) {
            return false;
        }
    }
    return true;
}

/* The request line (without CRLF): 0 when good, else the status. */
static int parse_request_line(const char *line, size_t len, bool *head, bool *http11,
                              bool *is_metrics)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i])) {
        i++;
    }
    size_t method_len = i;
    if (method_len == 0 || i >= len || line[i] != ' ') {
        return 400;
    }
    size_t target = ++i;
    while (i < len && (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f) {
        i++;
    }
    size_t target_len = i - target;
    if (target_len == 0 || i >= len || line[i] != ' ') {
        return 400;
    }
    const char *version = line + i + 1;
    size_t version_len = len - i - 1;
    if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' ||
        version[5] > '9' || version[6] != '.' || version[7] < '0' || version[7] > '9') {
        return 400;
    }
    if (version[5] != '1') {
        return 505; /* HTTP/2 and later do not start like this, HTTP/0.9 is not spoken */
    }
    *http11 = version[7] != '0';
    /* origin-form only (RFC 9112 3.2.1): a path, maybe a query, nothing else */
    const char *path = line + target;
    size_t path_len = target_len;
    const char *query = memchr(path, '?', path_len);
    if (query != NULL) {
        path_len = (size_t)(query - path);
    }
    if (path[0] != '/') {
        return 400;
    }
    *is_metrics = path_len == 8 && memcmp(path, "/metrics", 8) == 0;
    if (method_len == 4 && memcmp(line, "HEAD", 4) == 0) {
        *head = true;
    } else if (!(method_len == 3 && memcmp(line, "GET", 3) == 0)) {
        return 405; /* decided after the headers: a malformed request is a 400 first */
    }
    return 0;
}

struct head_facts {
    unsigned hosts;
    bool body;
};

/* One header field line (without CRLF): 0 when good, else the status. */
static int parse_field(const char *line, size_t len, struct head_facts *facts)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i])) {
        i++;
    }
    /* no name, whitespace before the colon, or a line folded onto the previous one
     * (obs-fold): all rejected (RFC 9112 5.1, 5.2) */
    if (i == 0 || i >= len || line[i] != ':') {
        return 400;
    }
    size_t name_len = i;
    for (i++; i < len; i++) {
        if (!is_field_byte((unsigned char)line[i])) {
            return 400;
        }
    }
    const char *value = line + name_len + 1;
    size_t value_len = len - name_len - 1;
    while (value_len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t')) {
        value_len--;
    }
    if (name_is(line, name_len, "host")) {
        facts->hosts++;
    } else if (name_is(line, name_len, "transfer-encoding")) {
        facts->body = true;
    } else if (name_is(line, name_len, "content-length")) {
        if (value_len == 0) {
            return 400;
        }
        for (size_t k = 0; k < value_len; k++) {
            if (value[k] < '0' || value[k] > '9') {
                return 400;
            }
            if (value[k] != '0') {
                facts->body = true;
            }
        }
    }
    return 0;
}

int met_http_parse(const char *buf, size_t len, bool *head)
{
    bool http11 = false;
    bool is_metrics = false;
    *head = false;
    const char *eol = memchr(buf, '\n', len < MET_HTTP_LINE_MAX ? len : MET_HTTP_LINE_MAX);
    if (eol == NULL) {
        return len >= MET_HTTP_LINE_MAX ? 414 : 0;
    }
    size_t line_len = (size_t)(eol - buf);
    if (line_len == 0 || buf[line_len - 1] != '\r') {
        return 400; /* a bare line feed, or an empty line before the request */
    }
    int status = parse_request_line(buf, line_len - 1, head, &http11, &is_metrics);
    if (status != 0 && status != 405) {
        return status;
    }
    int method_status = status;
    struct head_facts facts = {0, false};
    size_t pos = line_len + 1;
    for (unsigned fields = 0;; fields++) {
        const char *next = memchr(buf + pos, '\n', len - pos);
        if (next == NULL) {
            return len >= MET_HTTP_REQUEST_MAX ? 431 : 0;
        }
        size_t field_len = (size_t)(next - (buf + pos));
        if (field_len == 0 || buf[pos + field_len - 1] != '\r') {
            return 400;
        }
        if (field_len == 1) {
            break; /* the empty line: the end of the head */
        }
        if (fields == MET_HTTP_HEADERS_MAX) {
            return 431;
        }
        status = parse_field(buf + pos, field_len - 1, &facts);
        if (status != 0) {
            return status;
        }
        pos += field_len + 1;
    }
    /* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in 1.0 */
    if ((http11 && facts.hosts != 1) || facts.hosts > 1) {
        return 400;
    }
    if (method_status != 0) {
        return method_status;
    }
    if (facts.body) {
        return 413; /* GET and HEAD of /metrics take no body, and none is read */
    }
    return is_metrics ? 200 : 404;
}
