/* cmd_live.c - synscope live: captures on an interface and explains attempts as they are
 * decided, the full report at the end. */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "session.h"
#include "signals.h"

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
        "  -q, --failed-only      text: print lines for failed attempts only\n"
        "      --no-host-evidence do not ask this host's kernel about the attempts (drop\n"
        "                         reasons, firewall rules, listeners, queue counters); on by\n"
        "                         default as root\n",
        out);
    fputs(common_help, out);
}

struct live_run {
    struct session *session;
    int64_t deadline_ns; /* --duration, 0 = none */
};

/* Between batches: the clock drives the timers (verdicts appear within their timeout). */
static int live_tick(void *user)
{
    struct live_run *run = user;
    int64_t now = clock_now_ns();
    session_host_drain(run->session, now); /* kernel events before the verdicts they explain */
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
    return session_packet(pkt, run->session);
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

/* live's own arguments (the common ones go to the session). */
struct live_args {
    struct cap_live_config capture; /* interface, snaplen, buffer, save file; filter: below */
    const char *user;               /* -Z */
    int64_t duration_ns;            /* --duration, 0 = none */
    int64_t grace_ns;               /* --grace */
    bool no_host_evidence;          /* --no-host-evidence */
};

/* Parses live's options into a and s. Returns OPTIONS_GO_ON, or the exit code to end with
 * (--help, a usage error, reported). */
static int live_arguments(int argc, char **argv, struct session *s, struct live_args *a)
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
        {"no-host-evidence", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    unsigned long n;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = next_option(s, argc, argv, ":f:o:hi:d:c:w:Z:B:s:q", longopts)) != -1) {
        switch (opt) {
        case OPT_FAILED:
            return EXIT_USAGE;
        case 'i':
            a->capture.interface = optarg;
            break;
        case 'd':
            if (parse_seconds(optarg, 31536000, &a->duration_ns) != 0) {
                return usage_error("--duration: '%s' is not a number of seconds", optarg);
            }
            break;
        case 'c':
            if (parse_uint(optarg, 1, 1000000000000UL, &n) != 0) {
                return usage_error("--count: '%s' is not a whole number of packets", optarg);
            }
            s->packet_limit = n;
            break;
        case 'w':
            a->capture.save_path = optarg;
            break;
        case 'Z':
            a->user = optarg;
            break;
        case 'B':
            if (parse_uint(optarg, 1, 2047, &n) != 0) {
                return usage_error("--buffer-size: '%s' is not a number of MiB from 1 to 2047",
                                   optarg);
            }
            a->capture.buffer_bytes = (int)(n << 20);
            break;
        case 's':
            if (parse_uint(optarg, 96, 262144, &n) != 0) {
                return usage_error("--snaplen: '%s' is not a number of bytes from 96 to 262144",
                                   optarg);
            }
            a->capture.snaplen = (int)n;
            break;
        case 'g':
            if (parse_seconds(optarg, 3600, &a->grace_ns) != 0) {
                return usage_error("--grace: '%s' is not a number of seconds in (0, 3600]", optarg);
            }
            break;
        case 'q':
            s->rep_opts.failed_only = true;
            break;
        case 'N':
            a->no_host_evidence = true;
            break;
        case 'h':
            usage_live(stdout);
            return EXIT_OK;
        default:
            return bad_option(opt, argv);
        }
    }
    if (a->capture.interface == NULL) {
        return usage_error("live: no interface given (-i IFACE, or -i any)");
    }
    return OPTIONS_GO_ON;
}

/* Captures until a stop (a signal, --duration, --count, a broken output) or an error, and
 * takes the kernel's counters and the duration into s->input. Returns the exit code so far. */
static int live_capture(struct session *s, struct cap_source *src, int64_t duration_ns)
{
    char errbuf[CAP_ERRBUF_SIZE];
    int status = EXIT_OK;
    int64_t started = clock_now_ns();
    struct live_run run = {.session = s, .deadline_ns = duration_ns ? started + duration_ns : 0};
    int rc = cap_loop_live(src, live_packet, live_tick, &run, 200, errbuf, sizeof(errbuf));
    if (rc < 0) {
        session_input_error(s, errbuf);
        status = EXIT_RUNTIME;
    }
    struct cap_stats cs;
    if (cap_get_stats(src, &cs, errbuf, sizeof(errbuf)) == 0) {
        s->input.cap_received = cs.received;
        s->input.cap_dropped = cs.dropped;
        s->input.cap_if_dropped = cs.if_dropped;
    }
    cap_close(src);
    s->input.duration_s = (double)(clock_now_ns() - started) / 1e9;
    return status;
}

int cmd_live(int argc, char **argv)
{
    struct session s;
    session_defaults(&s);
    struct live_args a = {
        .capture = {.snaplen = 256, .buffer_bytes = 8 << 20},
        .user = "nobody",
        .grace_ns = 2000000000LL,
    };
    int rc = live_arguments(argc, argv, &s, &a);
    if (rc != OPTIONS_GO_ON) {
        return rc;
    }
    cap_close_inherited();
    if (strcmp(a.user, "root") != 0 && getpwnam(a.user) == NULL) {
        return usage_error("-Z: unknown user '%s'", a.user);
    }
    char *filter = NULL;
    if (optind < argc) {
        filter = join_words(argc - optind, argv + optind);
        if (filter == NULL) {
            fputs("synscope: out of memory\n", stderr);
            return EXIT_RUNTIME;
        }
        a.capture.filter = filter;
        session_set_filter(&s, filter);
    }

    /* Open everything first (capture, save file, output), then drop privileges. */
    char errbuf[CAP_ERRBUF_SIZE];
    struct cap_source *src = NULL;
    rc = cap_open_live(&src, &a.capture, link_supported, errbuf, sizeof(errbuf));
    free(filter);
    if (rc != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        return rc == -CAP_ERR_NO_DEVICE || rc == -CAP_ERR_FILTER ? EXIT_USAGE : EXIT_RUNTIME;
    }
    s.rep_opts.live = true;
    int status = session_start(&s);
    /* host evidence is opened before the drop too; SYNSCOPE_PRETEND_NO_BTF and
     * SYNSCOPE_PRETEND_NO_NFT (tests) simulate a kernel without the feature */
    if (status == EXIT_OK && !a.no_host_evidence && geteuid() == 0) {
        session_host_open(&s, getenv("SYNSCOPE_PRETEND_NO_BTF") != NULL,
                          getenv("SYNSCOPE_PRETEND_NO_NFT") != NULL);
    }
    char privileges[CAP_ERRBUF_SIZE] = ""; /* what is the case after the drop, for the message */
    if (status == EXIT_OK &&
        cap_drop_privileges(a.user, privileges, sizeof(privileges), errbuf, sizeof(errbuf)) != 0) {
        fprintf(stderr, "synscope: %s\n", errbuf);
        status = EXIT_RUNTIME;
    }
    if (status != EXIT_OK) {
        cap_close(src);
        session_host_close(&s);
        return session_finish(&s, status, false);
    }
    flow_set_provisional(s.flows, session_provisional, a.grace_ns);
    catch_stop_signals(); /* no SA_RESTART: poll() returns at once */

    const char *iface_name = a.capture.interface;
    s.input.files = &iface_name;
    s.input.file_count = 1;
    s.input.live = true;
    fprintf(stderr, "synscope: capturing handshakes on %s as %s; Ctrl-C prints the report\n",
            a.capture.interface, privileges);
    status = live_capture(&s, src, a.duration_ns);
    /* What is still waiting is judged against the real clock, not the last packet. */
    session_host_drain(&s, clock_now_ns());
    flow_advance(s.flows, clock_now_ns());
    flow_finish(s.flows); /* the last verdict lines come before the report */
    if (s.rep_opts.format == REP_FORMAT_TEXT && !s.output_broken) {
        fputc('\n', s.out);
    }
    session_report(&s); /* with host evidence still open: the services' listeners */
    session_host_close(&s);
    return session_finish(&s, status, true);
}
