/* rep_format.h - report/'s one string builder and its formatters of numbers, addresses and
 * times. Those written for every attempt are written by hand: the same text as printf,
 * inet_ntop(3) and strftime(3) write, without their machinery, which is slow. Private to
 * report/ (rep_format.c). */
#ifndef SYNSCOPE_REP_FORMAT_H
#define SYNSCOPE_REP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode.h"

/* ---- numbers ------------------------------------------------------------------------------- */

/* "00", "01", ... "99": the two digits of n at rep_two_digits + 2 * n. */
extern const char rep_two_digits[201];

/* 1, 10, ... 10^19: where the count of decimal digits goes up. */
extern const uint64_t rep_powers_of_10[20];

/* "" for one, "s" for any other count: "1 hop", "2 hops", "-1 hops". */
static inline const char *rep_plural(int64_t n)
{
    return n == 1 ? "" : "s";
}

/* v (below 100) as two digits at p; returns the end. */
static inline char *rep_put2(char *p, unsigned v)
{
    memcpy(p, rep_two_digits + 2 * v, 2);
    return p + 2;
}

/* How many decimal digits v has, from its bit length ("integer log base 10" of Bit Twiddling
 * Hacks: bits * 1233 / 4096 is log10(2) * bits, at most one too small). v | 1 has as many
 * digits as v (v + 1 gains one only when v is 99..9, odd) and a bit length of at least 1. */
static inline size_t rep_digit_count(uint64_t v)
{
    uint64_t w = v | 1;
    unsigned t = (unsigned)(64 - __builtin_clzll(w)) * 1233 >> 12;
    return t + (w >= rep_powers_of_10[t]);
}

/* v in decimal ("%llu") at p, written in place from its last digit, two digits at a time; in
 * 32-bit arithmetic (cheaper divisions by 100) once it fits, which is at once for almost all.
 * Returns the end (at most 20 characters, no NUL). */
static inline char *rep_put_u64(char *p, uint64_t v)
{
    if (v < 100) { /* most counts, TTLs, hops and whole milliseconds */
        if (v < 10) {
            *p = (char)('0' + v);
            return p + 1;
        }
        return rep_put2(p, (unsigned)v);
    }
    char *end = p + rep_digit_count(v);
    char *q = end;
    while (v > UINT32_MAX) {
        q -= 2;
        rep_put2(q, (unsigned)(v % 100));
        v /= 100;
    }
    uint32_t small = (uint32_t)v;
    while (small >= 100) {
        q -= 2;
        rep_put2(q, small % 100);
        small /= 100;
    }
    if (small >= 10) {
        rep_put2(q - 2, small);
    } else {
        q[-1] = (char)('0' + small);
    }
    return end;
}

/* v as "%lld" prints it. */
static inline char *rep_put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return rep_put_u64(p, (uint64_t)(-(v + 1)) + 1);
    }
    return rep_put_u64(p, (uint64_t)v);
}

/* ---- the string builder -------------------------------------------------------------------- */

/* A string built in a caller's buffer, cut (and always NUL-terminated) where snprintf would cut
 * it. The one builder of report/ for text of a bounded size; only the JSON attempt lines are
 * written through a bare cursor instead (rep_json.c says why). */
struct rep_text {
    char *buf;
    size_t size; /* of buf, more than 0 */
    size_t len;  /* always below size */
};

static inline void rep_text_init(struct rep_text *t, char *buf, size_t size)
{
    t->buf = buf;
    t->size = size;
    t->len = 0;
    buf[0] = '\0';
}

static inline void rep_text_mem(struct rep_text *t, const char *s, size_t n)
{
    size_t room = t->size - 1 - t->len;
    if (n > room) {
        n = room;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* A string literal (its length known when compiling). */
#define REP_TEXT_LIT(t, s) rep_text_mem((t), (s), sizeof(s) - 1)

static inline void rep_text_str(struct rep_text *t, const char *s)
{
    rep_text_mem(t, s, strlen(s));
}

static inline void rep_text_uint(struct rep_text *t, uint64_t v)
{
    char digits[20];
    rep_text_mem(t, digits, (size_t)(rep_put_u64(digits, v) - digits));
}

static inline void rep_text_int(struct rep_text *t, int64_t v)
{
    char digits[21];
    rep_text_mem(t, digits, (size_t)(rep_put_i64(digits, v) - digits));
}

/* Appends what snprintf would write (for text that is not written for every attempt). */
void rep_text_printf(struct rep_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends text with its placeholders filled in: PORT by port when port is not 0, SERVER and
 * ADDR by addr when addr is not NULL; any other placeholder stays as it is. */
void rep_text_fill(struct rep_text *t, const char *text, unsigned port, const char *addr);

/* ---- addresses ----------------------------------------------------------------------------- */

/* Room for any address rep_addr_format writes, NUL included (INET6_ADDRSTRLEN is 46). */
#define REP_ADDR_LEN 48

/* An address as rep_addr_format writes it, with its length. */
struct rep_addr_text {
    size_t len;
    char text[REP_ADDR_LEN];
};

/* An address as inet_ntop writes it, "?" for an unknown family, into out; returns its length.
 * By hand: it is written several times for every attempt. */
size_t rep_addr_format(int family, const struct dec_addr *addr, char out[REP_ADDR_LEN]);

/* The same, returning out: for an address in a sentence. */
const char *rep_addr_str(int family, const struct dec_addr *addr, char out[REP_ADDR_LEN]);

/* "10.0.0.1:80" or "[fd00::1]:80" into buf (64 bytes is always enough). Returns buf. */
const char *rep_endpoint_str(int family, const struct dec_addr *addr, uint16_t port, char *buf,
                             size_t buflen);

/* ---- times --------------------------------------------------------------------------------- */

/* Room for rep_time_iso_sec's date and time. */
#define REP_TIME_LEN 32

/* A second of the day (below 86400) as "13:12:06" at p; returns the end. */
static inline char *rep_put_hms(char *p, unsigned sod)
{
    p = rep_put2(p, sod / 3600);
    *p++ = ':';
    p = rep_put2(p, sod / 60 % 60);
    *p++ = ':';
    return rep_put2(p, sod % 60);
}

/* Microseconds (below 1000000) as ".319804" at p; returns the end. */
static inline char *rep_put_micros(char *p, unsigned us)
{
    *p++ = '.';
    p = rep_put2(p, us / 10000);
    p = rep_put2(p, us / 100 % 100);
    return rep_put2(p, us % 100);
}

/* A time in seconds as "2026-11-26T13:12:06" (UTC), what strftime's "%Y-%m-%dT%H:%M:%S" writes
 * for gmtime; returns its length (0 and "" when gmtime cannot represent it). */
size_t rep_time_iso_sec(int64_t sec, char out[REP_TIME_LEN]);

/* A time as "2026-11-26T13:12:06.319804Z" (buf 40 bytes). Returns buf. */
const char *rep_time_iso(int64_t ns, char *buf, size_t buflen);

/* A time as "15:52:01.097003" (UTC), "??:??:??" before 1970 (buf 32 bytes). Returns buf. */
const char *rep_clock_str(int64_t ns, char *buf, size_t buflen);

/* A duration as "0.049 ms", "12.345 ms" below a second, "11.3 s" from a second on. */
void rep_fmt_ms(char *buf, size_t buflen, int64_t ns);

#endif
