/* session.c - one analysis run shared by read and live: output, flow table and report, the
 * callbacks from flows to report, and the end (report, output closed, exit code). */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "signals.h"

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

void session_defaults(struct session *s)
{
    memset(s, 0, sizeof(*s));
    flow_config_default(&s->flow_cfg);
    s->flow_cfg.hash_seed = draw_hash_seed(s->flow_cfg.hash_seed);
    s->rep_opts.format = REP_FORMAT_TEXT;
    s->out = stdout;
}

static void on_attempt(const struct flow_attempt *attempt, void *user)
{
    struct session *s = user;
    if (s->report_thread != NULL) {
        report_thread_attempt(s->report_thread, attempt);
    } else if (s->host != NULL) {
        session_host_attempt(s, attempt, false);
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

void session_provisional(const struct flow_attempt *attempt, void *user)
{
    struct session *s = user;
    if (s->host != NULL) {
        session_host_attempt(s, attempt, true);
        return;
    }
    rep_provisional(s->report, attempt);
}

int session_packet(const struct cap_packet *pkt, void *user)
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

int link_supported(int linktype)
{
    return dec_link_supported(linktype) ? 1 : 0;
}

int session_start(struct session *s)
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

void session_input_error(struct session *s, const char *message)
{
    fprintf(stderr, "synscope: %s\n", message);
    snprintf(s->input_error, sizeof(s->input_error), "%s", message);
    s->input.error = s->input_error;
}

/* True when out is a pipe or socket whose reader has gone away (the write failed with EPIPE
 * at some point; errno may have changed since). poll() reports POLLERR on such a write end. */
bool reader_gone(FILE *out)
{
    struct stat st;
    int fd = fileno(out);
    if (fd < 0 || fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
        return false;
    }
    struct pollfd pfd = {.fd = fd, .events = 0};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)) != 0;
}

void session_report(struct session *s)
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

void session_set_filter(struct session *s, const char *expression)
{
    size_t len = strlen(expression);
    size_t room = sizeof(s->user_filter);
    if (len < room) {
        memcpy(s->user_filter, expression, len + 1);
    } else {
        snprintf(s->user_filter, room, "%.*s...", (int)(room - 4), expression);
    }
}

int session_finish(struct session *s, int status, bool report)
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

int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
