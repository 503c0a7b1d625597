/* main.c - the synscope program: parses arguments and wires capture -> decode -> report. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "decode.h"
#include "report.h"

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_FAIL_ON 3

static const char *const version = "0.1.0";

static void usage_main(FILE *out)
{
    fputs("usage: synscope COMMAND [OPTIONS] ...\n"
          "\n"
          "Explains why TCP connections failed, from their handshake packets.\n"
          "\n"
          "commands:\n"
          "  read FILE...   analyze pcap/pcapng captures ('-' reads standard input)\n"
          "\n"
          "  synscope COMMAND --help   options of a command\n"
          "  synscope --version\n"
          "\n"
          "exit codes: 0 success, 1 runtime failure, 2 usage error, 3 --fail-on matched\n",
          out);
}

static void usage_read(FILE *out)
{
    fputs(
        "usage: synscope read [OPTIONS] FILE...\n"
        "\n"
        "Reads pcap or pcapng captures (several in a row, '-' for standard input), correlates\n"
        "the handshake packets into connection attempts and explains each one.\n"
        "\n"
        "options:\n"
        "  -f, --format FORMAT    text (default) or json (JSON lines: attempts, services, "
        "summary)\n"
        "  -o, --output FILE      write the report to FILE (default: standard output)\n"
        "      --filter BPF       only read packets matching this BPF expression (default: all)\n"
        "      --fail-on LIST     exit with 3 when an attempt has one of these verdicts\n"
        "                         (comma-separated, e.g. refused,dropped; 'failed' = any failure)\n"
        "      --syn-timeout S    seconds without an answer after the last SYN before an attempt\n"
        "                         is called dropped; grows with the retry backoff (default 3)\n"
        "      --idle-timeout S   seconds an established connection may stay silent before its\n"
        "                         record is written (default 300)\n"
        "      --max-flows N      attempts tracked at once; the oldest is evicted beyond\n"
        "                         (default 1000000)\n"
        "      --list N           failed attempts listed per verdict in text output (default 20)\n"
        "  -h, --help             this help\n",
        out);
}

/* Reports a usage error on one line and returns the usage exit code. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("synscope: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see 'synscope read --help')\n", stderr);
    return EXIT_USAGE;
}

/* Parses seconds: a finite decimal number in (0, max]. */
static int parse_seconds(const char *text, double max, int64_t *out_ns)
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

static int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out)
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

struct read_run {
    struct flow_table *flows;
    struct rep_report *report;
    struct rep_input_stats input;
    uint64_t decode_status[DEC_P_COUNT];
    FILE *out;
    bool output_broken;
};

static void on_attempt(const struct flow_attempt *attempt, void *user)
{
    struct read_run *run = user;
    rep_attempt(run->report, attempt);
}

static int on_packet(const struct cap_packet *pkt, void *user)
{
    struct read_run *run = user;
    struct dec_event ev;
    run->input.packets++;
    enum dec_status st = dec_packet(pkt->data, pkt->caplen, pkt->wirelen, pkt->linktype, &ev);
    run->decode_status[st]++;
    if (st == DEC_OK_TCP || st == DEC_OK_ICMP) {
        flow_event(run->flows, &ev, pkt->ts_ns, (uint32_t)run->input.packets);
    }
    if ((run->input.packets & 4095) == 0 && ferror(run->out)) {
        run->output_broken = true;
        return 1;
    }
    return 0;
}

static int link_supported(int linktype)
{
    return dec_link_supported(linktype) ? 1 : 0;
}

static int cmd_read(int argc, char **argv)
{
    enum {
        OPT_FILTER = 256,
        OPT_FAIL_ON,
        OPT_SYN_TIMEOUT,
        OPT_IDLE_TIMEOUT,
        OPT_MAX_FLOWS,
        OPT_LIST
    };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"fail-on", required_argument, NULL, OPT_FAIL_ON},
        {"syn-timeout", required_argument, NULL, OPT_SYN_TIMEOUT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
        {"list", required_argument, NULL, OPT_LIST},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct flow_config fcfg;
    flow_config_default(&fcfg);
    struct rep_options ropts = {.format = REP_FORMAT_TEXT, .out = stdout};
    const char *output = NULL, *filter = NULL;
    bool fail_on[REP_VERDICT_COUNT] = {false};
    unsigned long n;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":f:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "text") == 0) {
                ropts.format = REP_FORMAT_TEXT;
            } else if (strcmp(optarg, "json") == 0) {
                ropts.format = REP_FORMAT_JSON;
            } else {
                return usage_error("-f: unknown format '%s' (text or json)", optarg);
            }
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_FILTER:
            filter = optarg;
            break;
        case OPT_FAIL_ON:
            if (parse_fail_on(optarg, fail_on) != 0) {
                return usage_error("--fail-on: '%s' is not a list of verdict names "
                                   "(refused,dropped,unreachable,... or failed)",
                                   optarg);
            }
            break;
        case OPT_SYN_TIMEOUT:
            if (parse_seconds(optarg, 3600, &fcfg.syn_timeout_ns) != 0) {
                return usage_error("--syn-timeout: '%s' is not a number of seconds in (0, 3600]",
                                   optarg);
            }
            break;
        case OPT_IDLE_TIMEOUT:
            if (parse_seconds(optarg, 86400, &fcfg.idle_timeout_ns) != 0) {
                return usage_error("--idle-timeout: '%s' is not a number of seconds in (0, 86400]",
                                   optarg);
            }
            break;
        case OPT_MAX_FLOWS:
            if (parse_uint(optarg, 1, 1u << 30, &n) != 0) {
                return usage_error("--max-flows: '%s' is not a whole number from 1 to 1073741824",
                                   optarg);
            }
            fcfg.max_attempts = (uint32_t)n;
            break;
        case OPT_LIST:
            if (parse_uint(optarg, 1, 1000000, &n) != 0) {
                return usage_error("--list: '%s' is not a whole number from 1 to 1000000", optarg);
            }
            ropts.list_limit = (uint32_t)n;
            break;
        case 'h':
            usage_read(stdout);
            return EXIT_OK;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        return usage_error("%s", "read: no capture file given");
    }
    int stdin_count = 0;
    for (int i = optind; i < argc; i++) {
        stdin_count += strcmp(argv[i], "-") == 0;
    }
    if (stdin_count > 1) {
        return usage_error("%s", "read: standard input ('-') can be read only once");
    }
    ropts.cfg.syn_timeout_ns = fcfg.syn_timeout_ns;

    FILE *out = stdout;
    if (output != NULL && strcmp(output, "-") != 0) {
        out = fopen(output, "w");
        if (out == NULL) {
            fprintf(stderr, "synscope: cannot write '%s': %s\n", output, strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    ropts.out = out;

    char errbuf[CAP_ERRBUF_SIZE];
    struct read_run run;
    memset(&run, 0, sizeof(run));
    run.out = out;
    int status = EXIT_OK;
    if (rep_create(&run.report, &ropts, errbuf, sizeof(errbuf)) != 0 ||
        flow_create(&run.flows, &fcfg, on_attempt, &run, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        rep_destroy(run.report);
        if (out != stdout) {
            fclose(out);
        }
        return EXIT_RUNTIME;
    }
    run.input.files = (const char *const *)&argv[optind];
    run.input.file_count = (size_t)(argc - optind);

    static char input_error[CAP_ERRBUF_SIZE];
    for (int i = optind; i < argc && !run.output_broken; i++) {
        struct cap_source *src = NULL;
        int rc = cap_open_file(&src, argv[i], link_supported, errbuf, sizeof(errbuf));
        if (rc == 0 && filter != NULL) {
            rc = cap_set_filter(src, filter, errbuf, sizeof(errbuf));
            if (rc != 0) {
                cap_close(src);
                fprintf(stderr, "synscope: %s\n", errbuf);
                status = EXIT_USAGE;
                break;
            }
        }
        if (rc == 0) {
            rc = cap_loop(src, on_packet, &run, errbuf, sizeof(errbuf));
            cap_close(src);
        }
        if (rc < 0) {
            fprintf(stderr, "synscope: %s\n", errbuf);
            snprintf(input_error, sizeof(input_error), "%s", errbuf);
            run.input.error = input_error;
            status = EXIT_RUNTIME;
            break;
        }
    }
    flow_finish(run.flows);
    struct flow_stats fstats;
    flow_get_stats(run.flows, &fstats);
    memcpy(run.input.decode_status, run.decode_status, sizeof(run.decode_status));

    bool nothing_read = run.input.packets == 0 && status != EXIT_OK;
    if (!nothing_read && !run.output_broken) {
        if (rep_finish(run.report, &run.input, &fstats, errbuf, sizeof(errbuf)) != 0) {
            run.output_broken = true;
        }
    }
    int write_errno = errno;
    if (out != stdout) {
        if (fclose(out) != 0 && !run.output_broken) {
            run.output_broken = true;
            write_errno = errno;
        }
    } else if (fflush(stdout) != 0) {
        run.output_broken = true;
        write_errno = errno;
    }
    if (run.output_broken) {
        if (write_errno == EPIPE) {
            status = status == EXIT_OK ? EXIT_OK : status; /* reader went away: quiet */
        } else {
            fprintf(stderr, "synscope: writing the report to %s failed: %s\n",
                    output != NULL ? output : "standard output", strerror(write_errno));
            status = EXIT_RUNTIME;
        }
    }
    if (status == EXIT_OK) {
        for (int v = 0; v < REP_VERDICT_COUNT; v++) {
            if (fail_on[v] && rep_verdict_count(run.report, (enum rep_verdict)v) > 0) {
                status = EXIT_FAIL_ON;
                break;
            }
        }
    }
    flow_destroy(run.flows);
    rep_destroy(run.report);
    return status;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed pipe becomes EPIPE, handled as a quiet end */
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("synscope %s\n", version);
        return EXIT_OK;
    }
    if (strcmp(cmd, "read") == 0) {
        return cmd_read(argc - 1, argv + 1);
    }
    fprintf(stderr, "synscope: unknown command '%s' (see 'synscope --help')\n", cmd);
    return EXIT_USAGE;
}
