/* options.c - argument parsing shared by the commands: usage errors, numbers, formats, and
 * the options read and live have in common (applied to their session). */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

static const char *command = "synscope"; /* the subcommand, for messages */

void options_set_command(const char *name)
{
    command = name;
}

const char common_help[] =
    "  -f, --format FORMAT    text (default), json (JSON lines: attempts, services, summary)\n"
    "                         or html (one self-contained page with diagrams)\n"
    "  -o, --output FILE      write the report to FILE (default: standard output)\n"
    "      --fail-on LIST     exit with 3 when an attempt has one of these verdicts\n"
    "                         (comma-separated, e.g. refused,dropped; 'failed' = any failure)\n"
    "      --syn-timeout S    seconds without an answer after the last SYN before an attempt\n"
    "                         is called dropped; grows with the retry backoff (default 3)\n"
    "      --idle-timeout S   seconds an established connection may stay silent before its\n"
    "                         record is written (default 300)\n"
    "      --max-flows N      attempts tracked at once; the oldest is evicted beyond\n"
    "                         (default 1000000)\n"
    "      --list N           failed attempts listed per verdict in the text report (default 20)\n"
    "  -h, --help             this help\n";

int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("synscope: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'synscope %s --help')\n", command);
    return EXIT_USAGE;
}

/* Parses seconds: a finite decimal number in (0, max]. */
int parse_seconds(const char *text, double max, int64_t *out_ns)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v <= 0 || v > max) {
        return -1;
    }
    *out_ns = (int64_t)(v * 1e9);
    return *out_ns > 0 ? 0 : -1;
}

int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    if (text[0] == '-' || text[0] == '+' || text[0] == '\0') {
        return -1;
    }
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int parse_format(const char *arg, bool html, enum rep_format *format)
{
    if (strcmp(arg, "text") == 0) {
        *format = REP_FORMAT_TEXT;
    } else if (strcmp(arg, "json") == 0) {
        *format = REP_FORMAT_JSON;
    } else if (html && strcmp(arg, "html") == 0) {
        *format = REP_FORMAT_HTML;
    } else if (html) {
        return usage_error("-f: unknown format '%s' (text, json or html)", arg);
    } else {
        return usage_error("-f: unknown format '%s' (text or json)", arg);
    }
    return 0;
}

/* --fail-on: a comma-separated list of verdict names, or "failed". */
static int parse_fail_on(const char *text, bool *set)
{
    char buf[512];
    if (strlen(text) >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, text, strlen(text) + 1);
    char *save = NULL;
    int count = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        enum rep_verdict v;
        if (strcmp(tok, "failed") == 0) {
            for (int k = 0; k < REP_VERDICT_COUNT; k++) {
                set[k] = set[k] || rep_verdict_is_failure((enum rep_verdict)k);
            }
        } else if (rep_verdict_parse(tok, &v) == 0) {
            set[v] = true;
        } else {
            return -1;
        }
        count++;
    }
    return count > 0 ? 0 : -1;
}

/* Handles an option every command has. Returns 0 when handled, 1 when it is not a common
 * option, or EXIT_USAGE after reporting a bad value. */
static int common_option(struct session *s, int opt, const char *arg)
{
    unsigned long n;
    switch (opt) {
    case 'f':
        return parse_format(arg, true, &s->rep_opts.format);
    case 'o':
        s->output = arg;
        return 0;
    case OPT_FAIL_ON:
        if (parse_fail_on(arg, s->fail_on) != 0) {
            return usage_error("--fail-on: '%s' is not a list of verdict names "
                               "(refused,dropped,unreachable,... or failed)",
                               arg);
        }
        return 0;
    case OPT_SYN_TIMEOUT:
        if (parse_seconds(arg, 3600, &s->flow_cfg.syn_timeout_ns) != 0) {
            return usage_error("--syn-timeout: '%s' is not a number of seconds in (0, 3600]", arg);
        }
        return 0;
    case OPT_IDLE_TIMEOUT:
        if (parse_seconds(arg, 86400, &s->flow_cfg.idle_timeout_ns) != 0) {
            return usage_error("--idle-timeout: '%s' is not a number of seconds in (0, 86400]",
                               arg);
        }
        return 0;
    case OPT_MAX_FLOWS:
        if (parse_uint(arg, 1, 1u << 30, &n) != 0) {
            return usage_error("--max-flows: '%s' is not a whole number from 1 to 1073741824", arg);
        }
        s->flow_cfg.max_attempts = (uint32_t)n;
        return 0;
    case OPT_LIST:
        if (parse_uint(arg, 1, 1000000, &n) != 0) {
            return usage_error("--list: '%s' is not a whole number from 1 to 1000000", arg);
        }
        s->rep_opts.list_limit = (uint32_t)n;
        return 0;
    default:
        return 1;
    }
}

int next_option(struct session *s, int argc, char **argv, const char *optstring,
                const struct option *longopts)
{
    for (;;) {
        int opt = getopt_long(argc, argv, optstring, longopts, NULL);
        if (opt == -1) {
            return -1;
        }
        int rc = common_option(s, opt, optarg);
        if (rc == 1) {
            return opt;
        }
        if (rc != 0) {
            return OPT_FAILED;
        }
    }
}

int bad_option(int opt, char **argv)
{
    if (opt == ':') {
        return usage_error("option '%s' needs a value", argv[optind - 1]);
    }
    return usage_error("unknown option '%s'", argv[optind - 1]);
}
