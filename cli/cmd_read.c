/* cmd_read.c - synscope read: captures from files or standard input, read on helper threads
 * (cli/reader.h, cli/report_thread.h) and analysed here. cmd_read starts the threads
 * (report_thread_start, then reader_start) and wires them together; this is their picture.
 *
 * synscope read FILE...: two threads (regular files)
 *
 *          report thread (nice +5)                        main thread
 *   +----------------------------------+   ring 1    +---------------------------+
 *   | reading, the companion's turn:   |  4,096 rec. |                           |
 *   |  cap_loop > dec_packet > hash ---+------------>| reader_next: flow table   |
 *   |  (reader_pump, a batch of 256)   |  reader.c   |  (flow_events)            |
 *   |                                  |             |                           |
 *   | report, up to 64 items a turn:   |   ring 2    |  finished attempts and    |
 *   |  rep_attempt, rep_neighbour  <---+-------------+- neighbours (callbacks:   |
 *   |  > output file or stdout         |  512 items  |  report_thread_attempt)   |
 *   +----------------------------------+ report_th.c +---------------------------+
 *   (the main thread takes SIGINT and SIGTERM; the report thread blocks every signal)
 *
 * synscope read - (a pipe, a terminal, or any file not regular): three threads
 *
 *   reader thread (nice +5)  --ring 1-->  main thread  --ring 2-->  report thread (nice +5)
 *   cap_loop > dec_packet > hash          flow table                report > output
 *   (takes SIGINT and SIGTERM: a read waiting on the pipe is cut short; the others block them)
 *
 * Who wakes whom (cli/ring.h: always under the ring's lock, and only a side that sleeps):
 *   ring 1, producer (report thread or reader thread) > main: once a quarter of the ring is
 *     filled (a pipe: every record; always at the end of a file and at the end);
 *   ring 1, main > producer: once half the ring is free (files: report_thread_wake, which
 *     wakes the report thread for its reading turn; a pipe: the reader thread's condition);
 *   ring 2, main > report thread: once half the ring waits, or when ring 2 is full, or at
 *     the end;
 *   ring 2, report thread > main (asleep on a full ring 2): once half of it is free, or when
 *     the report thread has emptied it.
 * The report thread sleeps only when it has neither reading nor report work. A thread that
 * cannot be created leaves its work to the others: without the report thread, the report runs
 * within the flow table's callbacks and files are read on a reader thread, as a pipe is;
 * without a reader thread, the reading runs within reader_next on the main thread. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "options.h"
#include "progress.h"
#include "reader.h"
#include "session.h"
#include "signals.h"

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

/* read's analysis: the reader's records, in packet order, into the flow table (as session_packet
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

/* read's own arguments (the common ones go to the session). */
struct read_args {
    const char *filter;       /* --filter, or NULL */
    const char *write_failed; /* --write-failed, or NULL */
    bool quiet;               /* -q */
};

/* Parses read's options into a and s; the files are argv[optind] on. Returns OPTIONS_GO_ON, or
 * the exit code to end with (--help, a usage error, reported). */
static int read_arguments(int argc, char **argv, struct session *s, struct read_args *a)
{
    enum { OPT_FILTER = 300, OPT_WRITE_FAILED };
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"filter", required_argument, NULL, OPT_FILTER},
        {"write-failed", required_argument, NULL, OPT_WRITE_FAILED},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = next_option(s, argc, argv, ":f:o:hq", longopts)) != -1) {
        switch (opt) {
        case OPT_FAILED:
            return EXIT_USAGE;
        case 'q':
            a->quiet = true;
            break;
        case OPT_FILTER:
            a->filter = optarg;
            break;
        case OPT_WRITE_FAILED:
            a->write_failed = optarg;
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
    if (stdin_count > 0 && a->write_failed != NULL) {
        return usage_error("--write-failed needs capture files: standard input cannot be read "
                           "twice (save it with tcpdump -w first)");
    }
    return OPTIONS_GO_ON;
}

int cmd_read(int argc, char **argv)
{
    struct session s;
    session_defaults(&s);
    struct read_args args = {0};
    int rc = read_arguments(argc, argv, &s, &args);
    if (rc != OPTIONS_GO_ON) {
        return rc;
    }
    s.rep_opts.keep_failed_packets = args.write_failed != NULL;
    if (args.filter != NULL) {
        session_set_filter(&s, args.filter);
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
    bool show_progress = !args.quiet && progress_wanted(&s, files, total_bytes);
    /* Files are read on the report's thread, in turns with the report (report_thread.c says
     * why); a pipe, which may keep its reader waiting, on a reader thread of its own. */
    bool hosted = s.report_thread != NULL && files;
    struct reader_config rcfg = {
        .paths = (const char *const *)&argv[optind],
        .path_count = (size_t)(argc - optind),
        .filter = args.filter,
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
    if (args.write_failed != NULL &&
        report) { /* the report is written first (it judges the last refusals), then the packets */
        session_report(&s);
        const uint32_t *numbers = NULL;
        size_t n = rep_failed_packets(s.report, &numbers);
        long written = cap_copy_packets((const char *const *)&argv[optind], (size_t)(argc - optind),
                                        numbers, n, args.write_failed, errbuf, sizeof(errbuf));
        if (written < 0) {
            fprintf(stderr, "synscope: --write-failed: %s\n", errbuf);
            status = EXIT_RUNTIME;
        }
    }
    return session_finish(&s, status, report);
}
