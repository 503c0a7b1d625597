/* progress.c - the progress line of 'synscope read' (see progress.h). */
#include "progress.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 250000000LL /* at most four lines a second */

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void progress_start(struct progress *p, FILE *tty, uint64_t total_bytes)
{
    memset(p, 0, sizeof(*p));
    p->tty = tty;
    p->total_bytes = total_bytes;
    p->started_ns = monotonic_ns();
    p->width = 80;
    struct winsize ws;
    int saved_errno = errno;
    if (ioctl(fileno(tty), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        p->width = ws.ws_col;
    }
    errno = saved_errno;
}

/* "412.3/803.5 MiB": both in the unit of the total */
static void format_bytes(char *buf, size_t len, uint64_t done, uint64_t total)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double scale = 1;
    size_t u = 0;
    while ((double)total / scale >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        scale *= 1024;
        u++;
    }
    snprintf(buf, len, u == 0 ? "%.0f/%.0f %s" : "%.1f/%.1f %s", (double)done / scale,
             (double)total / scale, units[u]);
}

/* "0:07", "1:02:03" */
static void format_duration(char *buf, size_t len, double seconds)
{
    if (!(seconds >= 0) || seconds > 359999) {
        snprintf(buf, len, "--");
        return;
    }
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600) {
        snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    } else {
        snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
    }
}

void progress_update(struct progress *p, uint64_t bytes, uint64_t packets, uint64_t attempts_open)
{
    int64_t now = monotonic_ns();
    if (p->drawn_ns != 0 && now - p->drawn_ns < REDRAW_NS) {
        return;
    }
    p->drawn_ns = now;
    if (bytes > p->total_bytes) {
        bytes = p->total_bytes; /* the stream's offset runs a buffer ahead of the packets */
    }
    double elapsed = (double)(now - p->started_ns) / 1e9;
    double percent = p->total_bytes > 0 ? 100.0 * (double)bytes / (double)p->total_bytes : 0;
    double rate = elapsed > 0 ? (double)packets / elapsed : 0;
    double eta = -1;
    if (elapsed >= 0.5 && bytes > 0) {
        eta = elapsed * (double)(p->total_bytes - bytes) / (double)bytes;
    }
    char bytes_text[48], left[24], speed[24];
    char line[1 + 256 + 3]; /* \r, the text, \033[K */
    format_bytes(bytes_text, sizeof(bytes_text), bytes, p->total_bytes);
    format_duration(left, sizeof(left), eta);
    if (rate >= 1e6) {
        snprintf(speed, sizeof(speed), "%.1fM/s", rate / 1e6);
    } else if (rate >= 1e3) {
        snprintf(speed, sizeof(speed), "%.0fk/s", rate / 1e3);
    } else {
        snprintf(speed, sizeof(speed), "%.0f/s", rate);
    }
    /* "51% 412.3/803.5 MiB, 2613408 pkts 712k/s, 12345 attempts open, ETA 0:07": about 75
     * columns, cut to the terminal's width below */
    int n = snprintf(line + 1, 256, "%d%% %s, %llu pkts %s, %llu attempts open, ETA %s",
                     (int)percent, bytes_text, (unsigned long long)packets, speed,
                     (unsigned long long)attempts_open, left);
    if (n < 0) {
        return;
    }
    /* one line on the terminal: a wrapped line could not be redrawn in place */
    size_t text = n < 256 ? (size_t)n : 255;
    if (p->width > 1 && text > (size_t)p->width - 1) {
        text = (size_t)p->width - 1;
    }
    line[0] = '\r';
    size_t used = 1 + text;
    memcpy(line + used, "\033[K", 3); /* erase what a longer line left */
    used += 3;
    int saved_errno = errno;
    fwrite(line, 1, used, p->tty);
    fflush(p->tty);
    errno = saved_errno;
}

void progress_end(struct progress *p)
{
    if (p->drawn_ns == 0) {
        return;
    }
    int saved_errno = errno;
    fputs("\r\033[K", p->tty);
    fflush(p->tty);
    errno = saved_errno;
    p->drawn_ns = 0;
}
