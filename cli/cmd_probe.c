/* cmd_probe.c - synscope probe: SYN probes to one target (inject/), every port classified and
 * written by report/. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "capture.h"
#include "commands.h"
#include "inject.h"
#include "options.h"
#include "report.h"
#include "session.h"
#include "signals.h"

static void usage_probe(FILE *out)
{
    fputs("usage: synscope probe TARGET -p PORTS [OPTIONS]\n"
          "\n"
          "Sends SYN probes to TARGET (an address or a host name) and classifies every port\n"
          "as nmap -sS --reason does (open, closed, filtered, unreachable, with the reason),\n"
          "plus synscope's verdict: a RST forged by a middlebox is told from the host's own by\n"
          "its hop distance. Every SYN-ACK is answered with a RST, so no half-open connection is\n"
          "left behind. Needs root (or CAP_NET_RAW and CAP_NET_ADMIN); as root, synscope\n"
          "becomes an unprivileged user once the raw socket and the capture are open.\n"
          "\n"
          "options:\n"
          "  -p, --ports PORTS      ports and ranges: 22,80,443,8000-8100 (required)\n"
          "      --retries N        re-send an unanswered probe N times (default 1)\n"
          "      --rate PPS         probes per second at most (default 100)\n"
          "      --count N          attempts per port, to catch intermittent failures (default 1)\n"
          "      --wait S           seconds to wait for an answer at least; grows to 3 times the\n"
          "                         slowest answer (default 1)\n"
          "      --trace            for filtered ports, send SYNs with TTL 1, 2, 3 ... and name\n"
          "                         the last router that answers before the silence\n"
          "  -f, --format FORMAT    text (default) or json\n"
          "  -o, --output FILE      write the result to FILE\n"
          "  -Z, --user USER        user to become after opening everything (default nobody)\n"
          "  -h, --help             this help\n",
          out);
}

/* PORTS: a comma-separated list of ports and ranges (1-65535), strictly. Returns the count,
 * or 0 with a message. */
static size_t parse_ports(const char *text, uint16_t *ports, size_t max, char *why, size_t whylen)
{
    size_t n = 0;
    const char *p = text;
    if (*p == '\0') {
        snprintf(why, whylen, "empty port list");
        return 0;
    }
    for (;;) {
        unsigned long lo, hi;
        char *end;
        if (*p < '0' || *p > '9') {
            snprintf(why, whylen, "'%s' is not a port number", p);
            return 0;
        }
        errno = 0;
        lo = strtoul(p, &end, 10);
        hi = lo;
        if (*end == '-') {
            const char *q = end + 1;
            if (*q < '0' || *q > '9') {
                snprintf(why, whylen, "range '%s' has no end", p);
                return 0;
            }
            hi = strtoul(q, &end, 10);
        }
        if (errno != 0 || lo < 1 || hi > 65535 || lo > 65535 || lo > hi) {
            snprintf(why, whylen, "'%.*s' is not a port or range within 1-65535", (int)(end - p),
                     p);
            return 0;
        }
        for (unsigned long v = lo; v <= hi; v++) {
            if (n == max) {
                snprintf(why, whylen, "more than %zu ports", max);
                return 0;
            }
            ports[n++] = (uint16_t)v;
        }
        if (*end == '\0') {
            return n;
        }
        if (*end != ',' || end[1] == '\0') {
            snprintf(why, whylen, "unexpected '%s'", end);
            return 0;
        }
        p = end + 1;
    }
}

/* TARGET: an address or a name (getaddrinfo; the first address). 0, or an exit code. */
static int resolve_target(const char *target, int *family, struct dec_addr *addr)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(target, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        fprintf(stderr, "synscope: cannot resolve '%s': %s\n", target, gai_strerror(rc));
        return rc == EAI_NONAME || rc == EAI_FAIL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    memset(addr, 0, sizeof(*addr));
    if (res->ai_family == AF_INET) {
        *family = 4;
        memcpy(addr->b, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, 4);
    } else {
        *family = 6;
        memcpy(addr->b, &((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr, 16);
    }
    freeaddrinfo(res);
    return 0;
}

/* Each module names the four nmap states; row->states is indexed by report's. */
_Static_assert((int)INJ_STATE_COUNT == (int)REP_PORT_STATES,
               "a port state in one module and not the other");

/* inject's port state as report's: the same four nmap states, named by each module. */
static enum rep_port_state port_state(enum inj_state state)
{
    switch (state) {
    case INJ_OPEN:
        return REP_PORT_OPEN;
    case INJ_CLOSED:
        return REP_PORT_CLOSED;
    case INJ_FILTERED:
        return REP_PORT_FILTERED;
    case INJ_UNREACHABLE:
        return REP_PORT_UNREACHABLE;
    case INJ_STATE_COUNT: /* not a state: never in a result */
        break;
    }
    return REP_PORT_UNREACHABLE;
}

/* One port's result from inject as the row report writes (rep_ports_judge fills the rest). */
static void probe_row(struct rep_port *row, const struct inj_port *result,
                      const struct inj_config *cfg)
{
    memset(row, 0, sizeof(*row));
    row->family = cfg->family;
    row->target = cfg->target;
    row->port = result->port;
    row->state = port_state(result->state);
    row->reason = result->reason;
    row->answered = result->answered;
    row->from = result->from;
    row->ttl = result->ttl;
    row->rtt_ns = result->rtt_ns;
    row->probes = result->probes;
    row->answers = result->answers;
    for (int k = 0; k < INJ_STATE_COUNT; k++) { /* the outcome of each attempt, by state */
        row->states[port_state((enum inj_state)k)] += result->states[k];
    }
    row->has_last_hop = result->has_last_hop;
    row->last_hop = result->last_hop;
    row->last_hop_ttl = result->last_hop_ttl;
}

/* probe's arguments. */
struct probe_args {
    struct inj_config cfg; /* without the target, which resolve_target fills */
    enum rep_format format;
    const char *output; /* -o, or NULL for standard output */
    const char *user;   /* -Z */
    const char *target; /* TARGET as given */
};

/* Parses probe's arguments into a (its ports into a static array). Returns OPTIONS_GO_ON, or
 * the exit code to end with (--help, a usage error, reported). */
static int probe_arguments(int argc, char **argv, struct probe_args *a)
{
    enum { OPT_RETRIES = 400, OPT_RATE, OPT_COUNT, OPT_WAIT, OPT_TRACE };
    static const struct option longopts[] = {
        {"ports", required_argument, NULL, 'p'},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"rate", required_argument, NULL, OPT_RATE},
        {"count", required_argument, NULL, OPT_COUNT},
        {"wait", required_argument, NULL, OPT_WAIT},
        {"trace", no_argument, NULL, OPT_TRACE},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"user", required_argument, NULL, 'Z'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static uint16_t ports[65535];
    struct inj_config *cfg = &a->cfg;
    const char *ports_text = NULL;
    unsigned long n;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":p:f:o:Z:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            ports_text = optarg;
            break;
        case OPT_RETRIES:
            if (parse_uint(optarg, 0, 10, &n) != 0) {
                return usage_error("--retries: '%s' is not a whole number from 0 to 10", optarg);
            }
            cfg->retries = (unsigned)n;
            break;
        case OPT_RATE:
            if (parse_uint(optarg, 1, 100000, &n) != 0) {
                return usage_error("--rate: '%s' is not a number of probes per second from 1 to "
                                   "100000",
                                   optarg);
            }
            cfg->rate_pps = (unsigned)n;
            break;
        case OPT_COUNT:
            if (parse_uint(optarg, 1, 10000, &n) != 0) {
                return usage_error("--count: '%s' is not a whole number from 1 to 10000", optarg);
            }
            cfg->count = (unsigned)n;
            break;
        case OPT_WAIT:
            if (parse_seconds(optarg, 60, &cfg->wait_ns) != 0) {
                return usage_error("--wait: '%s' is not a number of seconds in (0, 60]", optarg);
            }
            break;
        case OPT_TRACE:
            cfg->trace = true;
            break;
        case 'f':
            if (parse_format(optarg, false, &a->format) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'o':
            a->output = optarg;
            break;
        case 'Z':
            a->user = optarg;
            break;
        case 'h':
            usage_probe(stdout);
            return EXIT_OK;
        default:
            return bad_option(opt, argv);
        }
    }
    if (optind >= argc) {
        return usage_error("probe: no target given");
    }
    if (optind + 1 < argc) {
        return usage_error("probe: one target only ('%s' is extra)", argv[optind + 1]);
    }
    if (ports_text == NULL) {
        return usage_error("probe: no ports given (-p 22,80,443,8000-8100)");
    }
    char why[160];
    size_t port_count =
        parse_ports(ports_text, ports, sizeof(ports) / sizeof(ports[0]), why, sizeof(why));
    if (port_count == 0) {
        return usage_error("-p: %s", why);
    }
    if (port_count * cfg->count > 1000000) {
        return usage_error("--count: %zu ports x %u attempts is more than 1000000 probes",
                           port_count, cfg->count);
    }
    cfg->ports = ports;
    cfg->port_count = port_count;
    a->target = argv[optind];
    return OPTIONS_GO_ON;
}

/* Probes every port, then judges and writes the result to out. Returns the exit code. */
static int probe_ports(struct inj_probe *probe, const struct probe_args *a, FILE *out)
{
    size_t port_count = a->cfg.port_count;
    struct inj_port *results = calloc(port_count, sizeof(*results));
    struct rep_port *rows = calloc(port_count, sizeof(*rows));
    struct inj_stats stats = {0};
    char errbuf[INJ_ERRBUF_SIZE];
    int status = EXIT_OK;
    int64_t started = clock_now_ns();
    if (results == NULL || rows == NULL) {
        fputs("synscope: out of memory\n", stderr);
        status = EXIT_RUNTIME;
    } else if (inj_run(probe, results, &stats, &stop_signal, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        status = EXIT_RUNTIME;
    } else {
        for (size_t i = 0; i < port_count; i++) {
            probe_row(&rows[i], &results[i], &a->cfg);
        }
        rep_ports_judge(rows, port_count);
        struct rep_probe_summary sum = {
            .target = a->target,
            .sent = stats.sent,
            .ignored_answers = stats.ignored_answers,
            .duration_s = (double)(clock_now_ns() - started) / 1e9,
            .interrupted = stop_signal != 0,
        };
        rep_ports_write(out, a->format, rows, port_count, &sum);
        if (fflush(out) != 0 || ferror(out)) {
            if (!reader_gone(out)) {
                fprintf(stderr, "synscope: writing the result failed: %s\n", strerror(errno));
                status = EXIT_RUNTIME;
            }
        }
    }
    free(results);
    free(rows);
    return status;
}

int cmd_probe(int argc, char **argv)
{
    struct probe_args a = {
        .cfg = {.count = 1, .retries = 1, .rate_pps = 100, .wait_ns = 1000000000LL},
        .format = REP_FORMAT_TEXT,
        .user = "nobody",
    };
    int rc = probe_arguments(argc, argv, &a);
    if (rc != OPTIONS_GO_ON) {
        return rc;
    }
    cap_close_inherited();
    if (strcmp(a.user, "root") != 0 && getpwnam(a.user) == NULL) {
        return usage_error("-Z: unknown user '%s'", a.user);
    }
    rc = resolve_target(a.target, &a.cfg.family, &a.cfg.target);
    if (rc != 0) {
        return rc;
    }

    /* open everything (raw socket, capture, output), then drop privileges */
    char errbuf[INJ_ERRBUF_SIZE];
    struct inj_probe *probe = NULL;
    rc = inj_open(&probe, &a.cfg, errbuf, sizeof(errbuf));
    if (rc != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        return EXIT_RUNTIME;
    }
    FILE *out = stdout;
    if (a.output != NULL && strcmp(a.output, "-") != 0 && (out = fopen(a.output, "w")) == NULL) {
        fprintf(stderr, "synscope: cannot write '%s': %s\n", a.output, strerror(errno));
        inj_close(probe);
        return EXIT_RUNTIME;
    }
    char privileges[CAP_ERRBUF_SIZE]; /* what is now the case; probe has no start-up line */
    int status = EXIT_OK;
    if (cap_drop_privileges(a.user, privileges, sizeof(privileges), errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        status = EXIT_RUNTIME;
    } else {
        catch_stop_signals();
        status = probe_ports(probe, &a, out);
    }
    inj_close(probe);
    if (out != stdout) {
        fclose(out);
    }
    return status;
}
