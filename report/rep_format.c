/* rep_format.c - the string builder's printf and placeholders, and the addresses and times
 * (rep_format.h): those written for every attempt by hand, the same text as inet_ntop(3) and
 * strftime(3). */
#include "rep_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

const char rep_two_digits[201] = "0001020304050607080910111213141516171819"
                                 "2021222324252627282930313233343536373839"
                                 "4041424344454647484950515253545556575859"
                                 "6061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* clang-format off */
const uint64_t rep_powers_of_10[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL, 10000000000000000000ULL};
/* clang-format on */

void rep_text_printf(struct rep_text *t, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, args);
    va_end(args);
    if (n > 0) {
        t->len += (size_t)n;
        if (t->len >= t->size) {
            t->len = t->size - 1; /* cut, as snprintf cuts */
        }
    }
}

void rep_text_fill(struct rep_text *t, const char *text, unsigned port, const char *addr)
{
    for (const char *p = text; *p != '\0';) {
        if (port != 0 && strncmp(p, "PORT", 4) == 0) {
            rep_text_uint(t, port);
            p += 4;
        } else if (addr != NULL && strncmp(p, "SERVER", 6) == 0) {
            rep_text_str(t, addr);
            p += 6;
        } else if (addr != NULL && strncmp(p, "ADDR", 4) == 0) {
            rep_text_str(t, addr);
            p += 4;
        } else {
            rep_text_mem(t, p++, 1);
        }
    }
}

/* The digits of a byte as "%u" prints them; returns the length. Every address of every
 * attempt goes through here: one division, and the last two digits from a table. */
static size_t put_byte(char *out, unsigned v)
{
    if (v >= 100) {
        out[0] = (char)('0' + v / 100);
        rep_put2(out + 1, v % 100);
        return 3;
    }
    if (v >= 10) {
        rep_put2(out, v);
        return 2;
    }
    out[0] = (char)('0' + v);
    return 1;
}

static size_t put_quad(char *out, const uint8_t *b)
{
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        n += put_byte(out + n, b[i]);
        out[n++] = '.';
    }
    return n - 1;
}

/* A 16-bit group as "%x" prints it. */
static size_t put_group(char *out, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (int shift = 12; shift > 0; shift -= 4) {
        if (v >> shift != 0 || n != 0) {
            out[n++] = hex[(v >> shift) & 0xf];
        }
    }
    out[n++] = hex[v & 0xf];
    return n;
}

/* IPv6 as glibc's inet_ntop prints it (RFC 5952 4): lower-case hex without leading zeros,
 * the first longest run of two or more zero groups as "::", and the IPv4 forms ::a.b.c.d
 * (IPv4-compatible, RFC 4291 2.5.5.1) and ::ffff:a.b.c.d (IPv4-mapped) in dotted quad. */
static size_t put_ip6(char *out, const uint8_t *b)
{
    unsigned words[8];
    for (int i = 0; i < 8; i++) {
        words[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    }
    int best = -1, best_len = 0, cur = -1, cur_len = 0;
    for (int i = 0; i < 8; i++) {
        if (words[i] == 0) {
            if (cur < 0) {
                cur = i;
                cur_len = 0;
            }
            cur_len++;
            if (cur_len > best_len) {
                best = cur;
                best_len = cur_len;
            }
        } else {
            cur = -1;
        }
    }
    if (best_len < 2) {
        best = -1;
    }
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best) {
                out[n++] = ':';
            }
            continue;
        }
        if (i != 0) {
            out[n++] = ':';
        }
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))) {
            return n + put_quad(out + n, b + 12);
        }
        n += put_group(out + n, words[i]);
    }
    if (best >= 0 && best + best_len == 8) {
        out[n++] = ':';
    }
    return n;
}

size_t rep_addr_format(int family, const struct dec_addr *addr, char out[REP_ADDR_LEN])
{
    size_t n;
    if (family == 4) {
        n = put_quad(out, addr->b);
    } else if (family == 6) {
        n = put_ip6(out, addr->b);
    } else {
        out[0] = '?';
        n = 1;
    }
    out[n] = '\0';
    return n;
}

const char *rep_addr_str(int family, const struct dec_addr *addr, char out[REP_ADDR_LEN])
{
    rep_addr_format(family, addr, out);
    return out;
}

const char *rep_endpoint_str(int family, const struct dec_addr *addr, uint16_t port, char *buf,
                             size_t buflen)
{
    char ip[REP_ADDR_LEN];
    size_t n = rep_addr_format(family, addr, ip);
    struct rep_text t;
    rep_text_init(&t, buf, buflen);
    if (family == 6) {
        REP_TEXT_LIT(&t, "[");
        rep_text_mem(&t, ip, n);
        REP_TEXT_LIT(&t, "]:");
    } else {
        rep_text_mem(&t, ip, n);
        REP_TEXT_LIT(&t, ":");
    }
    rep_text_uint(&t, port);
    return buf;
}

/* The date of a day number (days since 1970-01-01, proleptic Gregorian, UTC): Howard
 * Hinnant's civil_from_days, no table, no time zone, any day. */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2);
}

size_t rep_time_iso_sec(int64_t sec, char out[REP_TIME_LEN])
{
    int64_t days = sec / 86400, sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 1000 || year > 9999) {
        /* never for an int64_t of nanoseconds (1677 to 2262), but %Y would not pad */
        time_t t = (time_t)sec;
        struct tm tm;
        if (gmtime_r(&t, &tm) == NULL) {
            out[0] = '\0';
            return 0;
        }
        return strftime(out, REP_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    }
    unsigned y = (unsigned)year;
    rep_put2(out, y / 100);
    rep_put2(out + 2, y % 100);
    out[4] = '-';
    rep_put2(out + 5, month);
    out[7] = '-';
    rep_put2(out + 8, day);
    out[10] = 'T';
    *rep_put_hms(out + 11, (unsigned)sod) = '\0';
    return 19;
}

const char *rep_time_iso(int64_t ns, char *buf, size_t buflen)
{
    int64_t sec = ns / 1000000000;
    int64_t usec = ns % 1000000000 / 1000;
    if (usec < 0) {
        usec += 1000000;
        sec -= 1;
    }
    char date[REP_TIME_LEN];
    struct rep_text t;
    rep_text_init(&t, buf, buflen);
    if (rep_time_iso_sec(sec, date) == 0) {
        REP_TEXT_LIT(&t, "invalid-time");
        return buf;
    }
    char frac[8];
    *rep_put_micros(frac, (unsigned)usec) = 'Z';
    rep_text_str(&t, date);
    rep_text_mem(&t, frac, sizeof(frac));
    return buf;
}

const char *rep_clock_str(int64_t ns, char *buf, size_t buflen)
{
    struct rep_text t;
    rep_text_init(&t, buf, buflen);
    if (ns < 0) {
        REP_TEXT_LIT(&t, "??:??:??");
        return buf;
    }
    char clock[16];
    char *end = rep_put_hms(clock, (unsigned)(ns / 1000000000 % 86400));
    end = rep_put_micros(end, (unsigned)(ns % 1000000000 / 1000));
    rep_text_mem(&t, clock, (size_t)(end - clock));
    return buf;
}

void rep_fmt_ms(char *buf, size_t buflen, int64_t ns)
{
    double ms = (double)ns / 1e6;
    if (ms >= 1000.0) {
        snprintf(buf, buflen, "%.1f s", ms / 1000.0);
    } else {
        snprintf(buf, buflen, "%.3f ms", ms);
    }
}
