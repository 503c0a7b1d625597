/* main.c - the synscope program: parses arguments and wires capture -> decode -> report. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "decode.h"
#include "inject.h"
#include "progress.h"
#include "reader.h"
#include "report.h"
#include "report_thread.h"

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_FAIL_ON 3

static const char *const version = "0.2.0";
static const char *command = "synscope"; /* the subcommand, for messages */

static void usage_main(FILE *out)
{
    fputs("usage: synscope COMMAND [OPTIONS] ...\n"
          "\n"
          "Explains why TCP connections failed, from their handshake packets.\n"
          "\n"
          "commands:\n"
          "  read FILE...        analyze pcap/pcapng captures ('-' reads standard input)\n"
          "  live -i IFACE [BPF] capture on an interface (root) and explain attempts as they "
          "happen\n"
          "  probe TARGET -p PORTS  send SYN probes (root) and classify every port\n"
          "\n"
          "  synscope COMMAND --help   options of a command\n"
          "  synscope --version\n"
          "\n"
          "exit codes: 0 success, 1 runtime failure, 2 usage error, 3 --fail-on matched\n",
          out);
}

static const char common_help[] =
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

static void usage_read(FILE *out)
{
    fputs("usage: synscope read [OPTIONS] FILE...\n"
          "\n"
          "Reads pcap or pcapng captures (several in a row, '-' for standard input), correlates\n"
          "the handshake packets into connection attempts and explains each one.\n"
          "\n"
          "options:\n"
          "      --filter BPF       only read packets matching this BPF expression (default: all)\n"
          "      --write-failed FILE  write the packets of the failed attempts to FILE (pcap),\n"
          "                         to hand over the packets that matter instead of the capture\n"
          "  -q, --quiet            no progress line (shown on standard error when it is a\n"
          "                         terminal and every input is a regular file)\n",
          out);
    fputs(common_help, out);
}

static void usage_live(FILE *out)
{
    fputs(
        "usage: synscope live -i IFACE [OPTIONS] [BPF EXPRESSION]\n"
        "\n"
        "Captures the handshake packets on an interface (a kernel filter passes only SYN,\n"
        "SYN-ACK, FIN, RST, ICMP errors, ARP and neighbour discovery), prints a line for each\n"
        "connection attempt as it is decided, and the full report on Ctrl-C, SIGTERM,\n"
        "--duration or --count. A BPF expression, if given, is and-ed with synscope's filter.\n"
        "Needs root (or CAP_NET_RAW and CAP_NET_ADMIN); as root, synscope becomes an\n"
        "unprivileged user once the capture and the files are open.\n"
        "\n"
        "options:\n"
        "  -i, --interface IFACE  interface to capture on ('any' for all)\n"
        "  -d, --duration S       stop after S seconds (default: run until interrupted)\n"
        "  -c, --count N          stop after N captured packets\n"
        "  -w, --write FILE       also save the captured packets to FILE (pcap); 'synscope read'\n"
        "                         on it gives the same verdicts\n"
        "  -Z, --user USER        user to become after opening everything (default nobody;\n"
        "                         'root' keeps the privileges)\n"
        "  -B, --buffer-size MiB  kernel capture buffer (default 8)\n"
        "  -s, --snaplen BYTES    bytes kept per packet, headers only (default 256)\n"
        "      --grace S          an accepted attempt is shown once it has lasted S seconds\n"
        "                         (default 2), so a reset right after accept is reported as such\n"
        "  -q, --failed-only      text: print lines for failed attempts only\n",
        out);
    fputs(common_help, out);
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
    fprintf(stderr, " (see 'synscope %s --help')\n", command);
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

/* ---- one analysis run: capture -> decode -> flows -> report ---------------------------- */

struct session {
    struct flow_config flow_cfg;
    struct rep_options rep_opts;
    const char *output; /* -o, or NULL for stdout */
    bool fail_on[REP_VERDICT_COUNT];

    struct flow_table *flows;
    struct rep_report *report;
    struct report_thread *report_thread; /* read: the report's own thread, or NULL */
    struct rep_input_stats input;
    uint64_t decode_status[DEC_P_COUNT];
    FILE *out;
    bool output_broken;
    bool reported;         /* session_report has run */
    char user_filter[160]; /* the user's BPF expression (shortened), "" when none */
    uint64_t evicted;      /* attempts pushed out by --max-flows (session_report) */
    uint64_t packet_limit; /* live --count, 0 = none */
    char input_error[CAP_ERRBUF_SIZE];
};

/* The flow table's hash seed, drawn for each run. With a seed known in advance, a capture
 * could be crafted (or a flood sent to a host being captured) whose tuples all fall in one
 * bucket, and every lookup would walk all of them. Nothing synscope prints depends on the
 * seed. Without the kernel's generator: the fixed seed, changed by the time and the pid. */
static uint64_t draw_hash_seed(uint64_t fixed)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed)) {
        return seed;
    }
    return fixed ^ (uint64_t)time(NULL) ^ (uint64_t)getpid() << 40;
}

static void session_defaults(struct session *s)
{
    memset(s, 0, sizeof(*s));
    flow_config_default(&s->flow_cfg);
    s->flow_cfg.hash_seed = draw_hash_seed(s->flow_cfg.hash_seed);
    s->rep_opts.format = REP_FORMAT_TEXT;
    s->out = stdout;
}

enum { OPT_FAIL_ON = 256, OPT_SYN_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_MAX_FLOWS, OPT_LIST };

#define COMMON_LONGOPTS                                                                            \
    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},            \
        {"fail-on", required_argument, NULL, OPT_FAIL_ON},                                         \
        {"syn-timeout", required_argument, NULL, OPT_SYN_TIMEOUT},                                 \
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},                               \
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},                                     \
        {"list", required_argument, NULL, OPT_LIST},                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* Handles an option every command has. Returns 0 when handled, 1 when it is not a common
 * option, or EXIT_USAGE after reporting a bad value. */
static int common_option(struct session *s, int opt, const char *arg)
{
    unsigned long n;
    switch (opt) {
    case 'f':
        if (strcmp(arg, "text") == 0) {
            s->rep_opts.format = REP_FORMAT_TEXT;
        } else if (strcmp(arg, "json") == 0) {
            s->rep_opts.format = REP_FORMAT_JSON;
        } else if (strcmp(arg, "html") == 0) {
            s->rep_opts.format = REP_FORMAT_HTML;
        } else {
            return usage_error("-f: unknown format '%s' (text, json or html)", arg);
        }
        return 0;
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

#define OPT_FAILED (-2) /* a common option had a bad value; the usage error was reported */

/* getopt_long that handles the options every command has: returns the next option that is
 * the command's own (or ':' / '?' for getopt's complaints), -1 at the end of the options, or
 * OPT_FAILED. */
static int next_option(struct session *s, int argc, char **argv, const char *optstring,
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

/* getopt's verdict on an option it does not know or that lacks its value. */
static int bad_option(int opt, char **argv)
{
    if (opt == ':') {
        return usage_error("option '%s' needs a value", argv[optind - 1]);
    }
    return usage_error("unknown option '%s'", argv[optind - 1]);
}

static void on_attempt(const struct flow_attempt *attempt, void *user)
{
    struct session *s = user;
    if (s->report_thread != NULL) {
        report_thread_attempt(s->report_thread, attempt);
    } else {
        rep_attempt(s->report, attempt);
    }
}

static void on_neighbour(const struct flow_neighbour *neighbour, void *user)
{
    struct session *s = user;
    if (s->report_thread != NULL) {
        report_thread_neighbour(s->report_thread, neighbour);
    } else {
        rep_neighbour(s->report, neighbour);
    }
}

static void on_provisional(const struct flow_attempt *attempt, void *user)
{
    struct session *s = user;
    rep_provisional(s->report, attempt);
}

/* SIGINT or SIGTERM received: read and live stop reading and write the report of what they
 * have. A second signal (either of them) kills at once, so a report that takes long to write
 * can still be cut short: the default action is restored and the signal raised again (both
 * async-signal-safe). An atomic (lock-free, so usable in a handler): read's reader thread
 * takes the signals while the main thread looks at the flag. */
static atomic_int stop_signal;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "stop_signal must be lock-free to be set in a handler");

static void on_stop_signal(int sig)
{
    if (stop_signal != 0) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

/* Installs on_stop_signal for SIGINT and SIGTERM, without SA_RESTART: a read or poll that
 * waits returns at once with EINTR. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int on_packet(const struct cap_packet *pkt, void *user)
{
    struct session *s = user;
    if (stop_signal != 0) {
        return 1; /* this packet and the rest are not read */
    }
    struct dec_event ev;
    s->input.packets++;
    enum dec_status st = dec_packet(pkt->data, pkt->caplen, pkt->wirelen, pkt->linktype, &ev);
    s->decode_status[st]++;
    if (st == DEC_OK_TCP || st == DEC_OK_ICMP || st == DEC_OK_NEIGH) {
        flow_event(s->flows, &ev, pkt->ts_ns, (uint32_t)s->input.packets);
    }
    if ((s->input.packets & 4095) == 0 && ferror(s->out)) {
        s->output_broken = true;
        return 1;
    }
    if (s->packet_limit != 0 && s->input.packets >= s->packet_limit) {
        return 1;
    }
    return 0;
}

static int link_supported(int linktype)
{
    return dec_link_supported(linktype) ? 1 : 0;
}

/* read's analysis: the reader's records, in packet order, into the flow table (as on_packet
 * does with packets it decodes itself). Every 4096 packets: the output's error flag (a
 * broken output stops the reading) and the progress line. */
static void analyse_records(struct session *s, struct reader *reader, struct progress *progress)
{
    const struct reader_record *records;
    const struct flow_input *inputs;
    size_t count;
    while ((count = reader_next(reader, &records, &inputs)) > 0) {
        uint64_t before = s->input.packets;
        for (size_t i = 0; i < count; i++) {
            s->decode_status[records[i].status]++;
        }
        /* a chunk goes to the flow table as one batch (its lookups overlap); the reader
         * numbered its packets as they are counted here */
        flow_events(s->flows, inputs, count);
        s->input.packets += count;
        reader_release(reader, count);
        if ((s->input.packets >> 12) != (before >> 12)) { /* every 4096 packets */
            if (ferror(s->out)) {
                s->output_broken = true;
                reader_stop(reader);
                return;
            }
            if (progress != NULL) {
                struct flow_stats fstats;
                flow_get_stats(s->flows, &fstats);
                progress_update(progress, reader_position(reader), s->input.packets, fstats.open);
            }
        }
    }
}

/* True when every path is a regular file; *total_bytes is then their size together. */
static bool regular_files(char *const *paths, int count, uint64_t *total_bytes)
{
    uint64_t total = 0;
    for (int i = 0; i < count; i++) {
        struct stat st;
        if (strcmp(paths[i], "-") == 0 || stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            return false;
        }
        total += (uint64_t)st.st_size;
    }
    *total_bytes = total;
    return true;
}

/* The progress line is drawn when standard error is a terminal, every input is a regular file
 * (files: regular_files, whose sizes total_bytes is), and the report does not stream JSON lines
 * to a terminal while the files are read (they would mix with the line). */
static bool progress_wanted(const struct session *s, bool files, uint64_t total_bytes)
{
    if (!isatty(STDERR_FILENO) ||
        (s->rep_opts.format == REP_FORMAT_JSON && isatty(fileno(s->out)))) {
        return false;
    }
    return files && total_bytes > 0;
}

/* The report thread's companion when it reads (cli/reader.h, cli/report_thread.h). */
static bool pump_reader(void *reader)
{
    return reader_pump(reader);
}

static bool reader_ready(void *reader)
{
    return reader_pump_ready(reader);
}

static void wake_report_thread(void *report_thread)
{
    report_thread_wake(report_thread);
}

/* Opens the output and creates the report and the flow table. Returns 0 or EXIT_RUNTIME. */
static int session_start(struct session *s)
{
    char errbuf[CAP_ERRBUF_SIZE];
    s->rep_opts.cfg.syn_timeout_ns = s->flow_cfg.syn_timeout_ns;
    if (s->output != NULL && strcmp(s->output, "-") != 0) {
        FILE *out = fopen(s->output, "w");
        if (out == NULL) {
            fprintf(stderr, "synscope: cannot write '%s': %s\n", s->output, strerror(errno));
            return EXIT_RUNTIME;
        }
        s->out = out;
    }
    s->rep_opts.out = s->out;
    if (rep_create(&s->report, &s->rep_opts, errbuf, sizeof(errbuf)) != 0 ||
        flow_create(&s->flows, &s->flow_cfg, on_attempt, s, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        return EXIT_RUNTIME;
    }
    flow_set_neighbour_callback(s->flows, on_neighbour);
    return EXIT_OK;
}

/* Notes an input error that stopped reading; the report still covers what came before. */
static void session_input_error(struct session *s, const char *message)
{
    fprintf(stderr, "synscope: %s\n", message);
    snprintf(s->input_error, sizeof(s->input_error), "%s", message);
    s->input.error = s->input_error;
}

/* True when out is a pipe or socket whose reader has gone away (the write failed with EPIPE
 * at some point; errno may have changed since). poll() reports POLLERR on such a write end. */
static bool reader_gone(FILE *out)
{
    struct stat st;
    int fd = fileno(out);
    if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
        return false;
    }
    struct pollfd pfd = {.fd = fd, .events = 0};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

/* Flushes the flows, writes the rest of the report, closes the output, and turns status
 * (so far) into the exit code: a write error, then --fail-on. */
/* Ends the flows (the last attempts are judged) and writes the rest of the report, once. */
static void session_report(struct session *s)
{
    char errbuf[CAP_ERRBUF_SIZE];
    struct flow_stats fstats = {0};
    if (s->reported) {
        return;
    }
    s->reported = true;
    if (s->flows != NULL) {
        flow_finish(s->flows);
        flow_get_stats(s->flows, &fstats);
        s->evicted = fstats.evicted;
    }
    report_thread_finish(s->report_thread); /* every attempt is in the report */
    s->report_thread = NULL;
    memcpy(s->input.decode_status, s->decode_status, sizeof(s->decode_status));
    if (s->report != NULL && !s->output_broken &&
        rep_finish(s->report, &s->input, &fstats, errbuf, sizeof(errbuf)) != 0) {
        s->output_broken = true;
    }
    /* "0 failed" after a filter that let nothing through is no finding: say so */
    if (s->user_filter[0] != '\0' && s->input.packets == 0) {
        fprintf(stderr, "synscope: no packet passed the filter '%s': nothing was judged\n",
                s->user_filter);
    }
}

/* Keeps the user's BPF expression for session_report's note. */
static void session_set_filter(struct session *s, const char *expression)
{
    size_t len = strlen(expression);
    size_t room = sizeof(s->user_filter);
    if (len < room) {
        memcpy(s->user_filter, expression, len + 1);
    } else {
        snprintf(s->user_filter, room, "%.*s...", (int)(room - 4), expression);
    }
}

static int session_finish(struct session *s, int status, bool report)
{
    if (report) {
        session_report(s);
    }
    int write_errno = errno;
    if (s->output_broken && reader_gone(s->out)) {
        write_errno = EPIPE;
    }
    if (s->out != stdout) {
        if (fclose(s->out) != 0 && !s->output_broken) {
            s->output_broken = true;
            write_errno = errno;
        }
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        write_errno = !s->output_broken && errno != 0 ? errno : write_errno;
        s->output_broken = true;
        if (reader_gone(stdout)) {
            write_errno = EPIPE;
        }
    }
    if (s->output_broken && write_errno != EPIPE) {
        /* a reader that went away (EPIPE) ends us quietly; anything else is a failure */
        fprintf(stderr, "synscope: writing the report to %s failed: %s\n",
                s->output != NULL ? s->output : "standard output", strerror(write_errno));
        status = EXIT_RUNTIME;
    }
    /* --fail-on (README, exit codes): 3 when a listed verdict was seen. A failure to read the
     * input to its end (1) takes precedence, as grep's 2 does over a match: the report covers
     * only what came before the damage, but what it found is said. Attempts evicted before
     * their verdict are undetermined: a list without "undetermined" cannot speak for them. */
    bool fail_on_set = false, matched = false;
    for (int v = 0; v < REP_VERDICT_COUNT && s->report != NULL; v++) {
        bool seen = rep_verdict_count(s->report, (enum rep_verdict)v) > 0;
        fail_on_set = fail_on_set || s->fail_on[v];
        matched = matched || (s->fail_on[v] && seen);
    }
    if (matched && status == EXIT_OK) {
        status = EXIT_FAIL_ON;
    } else if (matched && status == EXIT_RUNTIME && !s->output_broken) {
        fputs("synscope: --fail-on matched in what was read; exit 1 for the input error takes "
              "precedence over 3\n",
              stderr);
    }
    if (fail_on_set && s->evicted > 0 && !s->fail_on[REP_UNDETERMINED]) {
        fprintf(stderr,
                "synscope: %llu attempts were evicted by --max-flows; those evicted before "
                "their verdict are undetermined, which --fail-on does not match unless it lists "
                "'undetermined'\n",
                (unsigned long long)s->evicted);
    }
    report_thread_finish(s->report_thread);
    s->report_thread = NULL;
    flow_destroy(s->flows);
    rep_destroy(s->report);
    return status;
}

/* ---- synscope read ------------------------------------------------------------------- */

static int cmd_read(int argc, char **argv)
{
    enum { OPT_FILTER = 300, OPT_WRITE_FAILED };
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"filter", required_argument, NULL, OPT_FILTER},
        {"write-failed", required_argument, NULL, OPT_WRITE_FAILED},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    struct session s;
    session_defaults(&s);
    const char *filter = NULL, *write_failed = NULL;
    bool quiet = false;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = next_option(&s, argc, argv, ":f:o:hq", longopts)) != -1) {
        switch (opt) {
        case OPT_FAILED:
            return EXIT_USAGE;
        case 'q':
            quiet = true;
            break;
        case OPT_FILTER:
            filter = optarg;
            break;
        case OPT_WRITE_FAILED:
            write_failed = optarg;
            break;
        case 'h':
            usage_read(stdout);
            return EXIT_OK;
        default:
            return bad_option(opt, argv);
        }
    }
    if (optind >= argc) {
        return usage_error("read: no capture file given");
    }
    int stdin_count = 0;
    for (int i = optind; i < argc; i++) {
        stdin_count += strcmp(argv[i], "-") == 0;
    }
    if (stdin_count > 1) {
        return usage_error("read: standard input ('-') can be read only once");
    }
    if (stdin_count > 0 && write_failed != NULL) {
        return usage_error("--write-failed needs capture files: standard input cannot be read "
                           "twice (save it with tcpdump -w first)");
    }
    s.rep_opts.keep_failed_packets = write_failed != NULL;
    if (filter != NULL) {
        session_set_filter(&s, filter);
    }
    int status = session_start(&s);
    if (status != EXIT_OK) {
        return session_finish(&s, status, false);
    }
    s.input.files = (const char *const *)&argv[optind];
    s.input.file_count = (size_t)(argc - optind);
    /* without a thread (NULL) the callbacks report directly */
    (void)report_thread_start(&s.report_thread, s.report);

    char errbuf[CAP_ERRBUF_SIZE];
    catch_stop_signals();
    /* the reader opens, reads and decodes (on the report's thread, or a thread of its own);
     * this one analyses (cli/reader.h) */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    struct progress progress;
    uint64_t total_bytes = 0;
    bool files = regular_files(&argv[optind], argc - optind, &total_bytes);
    bool show_progress = !quiet && progress_wanted(&s, files, total_bytes);
    /* Files are read on the report's thread, in turns with the report (report_thread.c says
     * why); a pipe, which may keep its reader waiting, on a reader thread of its own. */
    bool hosted = s.report_thread != NULL && files;
    struct reader_config rcfg = {
        .paths = (const char *const *)&argv[optind],
        .path_count = (size_t)(argc - optind),
        .filter = filter,
        .supported = link_supported,
        .stop_flag = &stop_signal,
        .reader_signals = &stop_signals,
        .track_position = show_progress,
        .threaded = true,
        .host_wake = hosted ? wake_report_thread : NULL,
        .host_arg = s.report_thread,
        .flows = &s.flow_cfg,
    };
    struct reader *reader = NULL;
    if (reader_start(&reader, &rcfg) != 0) {
        fputs("synscope: out of memory\n", stderr);
        return session_finish(&s, EXIT_RUNTIME, false);
    }
    if (hosted) {
        report_thread_adopt(s.report_thread,
                            &(struct report_companion){pump_reader, reader_ready, reader});
    }
    if (show_progress) {
        progress_start(&progress, stderr, total_bytes);
    }
    analyse_records(&s, reader, show_progress ? &progress : NULL);
    if (show_progress) {
        progress_end(&progress);
    }
    report_thread_drop(s.report_thread); /* the reader is ours again */
    enum reader_end end = reader_finish(reader, errbuf, sizeof(errbuf));
    if (s.output_broken) {
        /* reading stopped there: what the reader met beyond does not count */
    } else if (end == READER_END_INPUT) {
        session_input_error(&s, errbuf);
        status = EXIT_RUNTIME;
    } else if (end == READER_END_FILTER) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        status = EXIT_USAGE;
    } /* nothing read and an error: the error line says it all */
    if (stop_signal != 0) {
        /* interrupted: the report of what was read, marked as such; exit 1 because the input
         * was not read to its end (README, exit codes) */
        char note[160];
        snprintf(note, sizeof(note), "interrupted by %s after %llu packets",
                 stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)s.input.packets);
        session_input_error(&s, note);
        status = EXIT_RUNTIME;
    }
    bool report = !(s.input.packets == 0 && status != EXIT_OK) || stop_signal != 0;
    if (write_failed != NULL &&
        report) { /* the report is written first (it judges the last refusals), then the packets */
        session_report(&s);
        const uint32_t *numbers = NULL;
        size_t n = rep_failed_packets(s.report, &numbers);
        long written = cap_copy_packets((const char *const *)&argv[optind], (size_t)(argc - optind),
                                        numbers, n, write_failed, errbuf, sizeof(errbuf));
        if (written < 0) {
            fprintf(stderr, "synscope: --write-failed: %s\n", errbuf);
            status = EXIT_RUNTIME;
        }
    }
    return session_finish(&s, status, report);
}

/* ---- synscope live ------------------------------------------------------------------- */

struct live_run {
    struct session *session;
    int64_t deadline_ns; /* --duration, 0 = none */
};

static int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Between batches: the clock drives the timers (verdicts appear within their timeout). */
static int live_tick(void *user)
{
    struct live_run *run = user;
    int64_t now = clock_now_ns();
    flow_advance(run->session->flows, now);
    if (stop_signal != 0) {
        return 1;
    }
    if (run->deadline_ns != 0 && now >= run->deadline_ns) {
        return 1;
    }
    if (ferror(run->session->out)) {
        run->session->output_broken = true;
        return 1;
    }
    return 0;
}

static int live_packet(const struct cap_packet *pkt, void *user)
{
    struct live_run *run = user;
    return on_packet(pkt, run->session);
}

/* Joins the remaining arguments into one BPF expression, as tcpdump does. */
static char *join_words(int count, char **words)
{
    size_t len = 1;
    for (int i = 0; i < count; i++) {
        len += strlen(words[i]) + 1;
    }
    char *text = malloc(len);
    if (text == NULL) {
        return NULL;
    }
    text[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        used += (size_t)snprintf(text + used, len - used, "%s%s", i ? " " : "", words[i]);
    }
    return text;
}

static int cmd_live(int argc, char **argv)
{
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"interface", required_argument, NULL, 'i'},
        {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'c'},
        {"write", required_argument, NULL, 'w'},
        {"user", required_argument, NULL, 'Z'},
        {"buffer-size", required_argument, NULL, 'B'},
        {"snaplen", required_argument, NULL, 's'},
        {"grace", required_argument, NULL, 'g'},
        {"failed-only", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    struct session s;
    session_defaults(&s);
    struct cap_live_config live = {.snaplen = 256, .buffer_bytes = 8 << 20};
    const char *user = "nobody";
    int64_t duration_ns = 0, grace_ns = 2000000000LL;
    unsigned long n;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = next_option(&s, argc, argv, ":f:o:hi:d:c:w:Z:B:s:q", longopts)) != -1) {
        switch (opt) {
        case OPT_FAILED:
            return EXIT_USAGE;
        case 'i':
            live.interface = optarg;
            break;
        case 'd':
            if (parse_seconds(optarg, 31536000, &duration_ns) != 0) {
                return usage_error("--duration: '%s' is not a number of seconds", optarg);
            }
            break;
        case 'c':
            if (parse_uint(optarg, 1, 1000000000000UL, &n) != 0) {
                return usage_error("--count: '%s' is not a whole number of packets", optarg);
            }
            s.packet_limit = n;
            break;
        case 'w':
            live.save_path = optarg;
            break;
        case 'Z':
            user = optarg;
            break;
        case 'B':
            if (parse_uint(optarg, 1, 2047, &n) != 0) {
                return usage_error("--buffer-size: '%s' is not a number of MiB from 1 to 2047",
                                   optarg);
            }
            live.buffer_bytes = (int)(n << 20);
            break;
        case 's':
            if (parse_uint(optarg, 96, 262144, &n) != 0) {
                return usage_error("--snaplen: '%s' is not a number of bytes from 96 to 262144",
                                   optarg);
            }
            live.snaplen = (int)n;
            break;
        case 'g':
            if (parse_seconds(optarg, 3600, &grace_ns) != 0) {
                return usage_error("--grace: '%s' is not a number of seconds in (0, 3600]", optarg);
            }
            break;
        case 'q':
            s.rep_opts.failed_only = true;
            break;
        case 'h':
            usage_live(stdout);
            return EXIT_OK;
        default:
            return bad_option(opt, argv);
        }
    }
    if (live.interface == NULL) {
        return usage_error("live: no interface given (-i IFACE, or -i any)");
    }
    cap_close_inherited();
    if (strcmp(user, "root") != 0 && getpwnam(user) == NULL) {
        return usage_error("-Z: unknown user '%s'", user);
    }
    char *filter = NULL;
    if (optind < argc) {
        filter = join_words(argc - optind, argv + optind);
        if (filter == NULL) {
            fputs("synscope: out of memory\n", stderr);
            return EXIT_RUNTIME;
        }
        live.filter = filter;
        session_set_filter(&s, filter);
    }

    /* Open everything first (capture, save file, output), then drop privileges. */
    char errbuf[CAP_ERRBUF_SIZE];
    struct cap_source *src = NULL;
    int rc = cap_open_live(&src, &live, link_supported, errbuf, sizeof(errbuf));
    free(filter);
    if (rc != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        return rc == -CAP_ERR_NO_DEVICE || rc == -CAP_ERR_FILTER ? EXIT_USAGE : EXIT_RUNTIME;
    }
    s.rep_opts.live = true;
    int status = session_start(&s);
    char privileges[CAP_ERRBUF_SIZE] = ""; /* what is the case after the drop, for the message */
    if (status == EXIT_OK &&
        cap_drop_privileges(user, privileges, sizeof(privileges), errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        status = EXIT_RUNTIME;
    }
    if (status != EXIT_OK) {
        cap_close(src);
        return session_finish(&s, status, false);
    }
    flow_set_provisional(s.flows, on_provisional, grace_ns);
    catch_stop_signals(); /* no SA_RESTART: poll() returns at once */

    const char *iface_name = live.interface;
    s.input.files = &iface_name;
    s.input.file_count = 1;
    s.input.live = true;
    fprintf(stderr, "synscope: capturing handshakes on %s as %s; Ctrl-C prints the report\n",
            live.interface, privileges);
    int64_t started = clock_now_ns();
    struct live_run run = {.session = &s, .deadline_ns = duration_ns ? started + duration_ns : 0};
    rc = cap_loop_live(src, live_packet, live_tick, &run, 200, errbuf, sizeof(errbuf));
    if (rc < 0) {
        session_input_error(&s, errbuf);
        status = EXIT_RUNTIME;
    }
    struct cap_stats cs;
    if (cap_get_stats(src, &cs, errbuf, sizeof(errbuf)) == 0) {
        s.input.cap_received = cs.received;
        s.input.cap_dropped = cs.dropped;
        s.input.cap_if_dropped = cs.if_dropped;
    }
    cap_close(src);
    s.input.duration_s = (double)(clock_now_ns() - started) / 1e9;
    /* What is still waiting is judged against the real clock, not the last packet. */
    flow_advance(s.flows, clock_now_ns());
    flow_finish(s.flows); /* the last verdict lines come before the report */
    if (s.rep_opts.format == REP_FORMAT_TEXT && !s.output_broken) {
        fputc('\n', s.out);
    }
    return session_finish(&s, status, true);
}

/* ---- synscope probe ------------------------------------------------------------------ */

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

static volatile int probe_stop;

static void on_probe_signal(int sig)
{
    probe_stop = sig;
}

static int cmd_probe(int argc, char **argv)
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
    struct inj_config cfg = {.count = 1, .retries = 1, .rate_pps = 100, .wait_ns = 1000000000LL};
    enum rep_format format = REP_FORMAT_TEXT;
    const char *ports_text = NULL, *output = NULL, *user = "nobody";
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
            cfg.retries = (unsigned)n;
            break;
        case OPT_RATE:
            if (parse_uint(optarg, 1, 100000, &n) != 0) {
                return usage_error("--rate: '%s' is not a number of probes per second from 1 to "
                                   "100000",
                                   optarg);
            }
            cfg.rate_pps = (unsigned)n;
            break;
        case OPT_COUNT:
            if (parse_uint(optarg, 1, 10000, &n) != 0) {
                return usage_error("--count: '%s' is not a whole number from 1 to 10000", optarg);
            }
            cfg.count = (unsigned)n;
            break;
        case OPT_WAIT:
            if (parse_seconds(optarg, 60, &cfg.wait_ns) != 0) {
                return usage_error("--wait: '%s' is not a number of seconds in (0, 60]", optarg);
            }
            break;
        case OPT_TRACE:
            cfg.trace = true;
            break;
        case 'f':
            if (strcmp(optarg, "text") == 0) {
                format = REP_FORMAT_TEXT;
            } else if (strcmp(optarg, "json") == 0) {
                format = REP_FORMAT_JSON;
            } else {
                return usage_error("-f: unknown format '%s' (text or json)", optarg);
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'Z':
            user = optarg;
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
    if (port_count * cfg.count > 1000000) {
        return usage_error("--count: %zu ports x %u attempts is more than 1000000 probes",
                           port_count, cfg.count);
    }
    cap_close_inherited();
    if (strcmp(user, "root") != 0 && getpwnam(user) == NULL) {
        return usage_error("-Z: unknown user '%s'", user);
    }
    const char *target = argv[optind];
    int rc = resolve_target(target, &cfg.family, &cfg.target);
    if (rc != 0) {
        return rc;
    }
    cfg.ports = ports;
    cfg.port_count = port_count;

    /* open everything (raw socket, capture, output), then drop privileges */
    char errbuf[INJ_ERRBUF_SIZE];
    struct inj_probe *probe = NULL;
    rc = inj_open(&probe, &cfg, errbuf, sizeof(errbuf));
    if (rc != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        return EXIT_RUNTIME;
    }
    FILE *out = stdout;
    if (output != NULL && strcmp(output, "-") != 0 && (out = fopen(output, "w")) == NULL) {
        fprintf(stderr, "synscope: cannot write '%s': %s\n", output, strerror(errno));
        inj_close(probe);
        return EXIT_RUNTIME;
    }
    char privileges[CAP_ERRBUF_SIZE]; /* what is now the case; probe has no start-up line */
    if (cap_drop_privileges(user, privileges, sizeof(privileges), errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        inj_close(probe);
        if (out != stdout) {
            fclose(out);
        }
        return EXIT_RUNTIME;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_probe_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct inj_port *results = calloc(port_count, sizeof(*results));
    struct rep_port *rows = calloc(port_count, sizeof(*rows));
    struct inj_stats stats = {0};
    int status = EXIT_OK;
    int64_t started = clock_now_ns();
    if (results == NULL || rows == NULL) {
        fputs("synscope: out of memory\n", stderr);
        status = EXIT_RUNTIME;
    } else if (inj_run(probe, results, &stats, &probe_stop, errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        status = EXIT_RUNTIME;
    } else {
        for (size_t i = 0; i < port_count; i++) {
            const struct inj_port *r = &results[i];
            struct rep_port *row = &rows[i];
            row->family = cfg.family;
            row->target = cfg.target;
            row->port = r->port;
            row->state = (enum rep_port_state)r->state;
            row->reason = r->reason;
            row->answered = r->answered;
            row->from = r->from;
            row->ttl = r->ttl;
            row->rtt_ns = r->rtt_ns;
            row->probes = r->probes;
            row->answers = r->answers;
            memcpy(row->states, r->states, sizeof(row->states));
            row->has_last_hop = r->has_last_hop;
            row->last_hop = r->last_hop;
            row->last_hop_ttl = r->last_hop_ttl;
        }
        rep_ports_judge(rows, port_count);
        struct rep_probe_summary sum = {
            .target = target,
            .sent = stats.sent,
            .ignored_answers = stats.ignored_answers,
            .duration_s = (double)(clock_now_ns() - started) / 1e9,
            .interrupted = probe_stop != 0,
        };
        rep_ports_write(out, format, rows, port_count, &sum);
        if (fflush(out) != 0 || ferror(out)) {
            if (!reader_gone(out)) {
                fprintf(stderr, "synscope: writing the result failed: %s\n", strerror(errno));
                status = EXIT_RUNTIME;
            }
        }
    }
    free(results);
    free(rows);
    inj_close(probe);
    if (out != stdout) {
        fclose(out);
    }
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
    command = cmd;
    if (strcmp(cmd, "read") == 0) {
        return cmd_read(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "live") == 0) {
        return cmd_live(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "probe") == 0) {
        return cmd_probe(argc - 1, argv + 1);
    }
    fprintf(stderr, "synscope: unknown command '%s' (see 'synscope --help')\n", cmd);
    return EXIT_USAGE;
}
