/* test_decode_cursor.c - the bounds-checked cursor: every reader at its exact length and one
 * byte short, the sticky bad flag, sub-cursors and skips. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "dec_cursor.h"

/* Copies n bytes into a heap block of exactly n bytes, so AddressSanitizer reports a read of
 * even one byte past the end. */
static uint8_t *exact_copy(const uint8_t *bytes, size_t n)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);

    cr_assert_not_null(copy);
    if (n > 0) {
        memcpy(copy, bytes, n);
    }
    return copy;
}

static const uint8_t sample[] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};

Test(cursor, init_and_left)
{
    struct dec_cursor cur;

    cur_init(&cur, sample, sizeof(sample));
    cr_assert_eq(cur_left(&cur), 8);
    cr_assert_not(cur.bad);
    cr_assert(cur_has(&cur, 8));
    cr_assert_not(cur_has(&cur, 9));
}

Test(cursor, null_pointer_reads_as_empty)
{
    struct dec_cursor cur;

    cur_init(&cur, NULL, 100);
    cr_assert_eq(cur_left(&cur), 0);
    cr_assert_eq(cur_u8(&cur), 0);
    cr_assert(cur.bad);
}

Test(cursor, zero_length_reads_on_empty_cursor)
{
    struct dec_cursor cur;
    struct dec_cursor sub;

    cur_init(&cur, NULL, 0);
    cr_assert(cur_skip(&cur, 0));
    sub = cur_sub(&cur, 0);
    cr_assert_not(sub.bad);
    cr_assert_eq(cur_left(&sub), 0);
    cr_assert(cur_bytes(&cur, NULL, 0));
    cr_assert_not(cur.bad);
}

Test(cursor, u8_exact_and_short)
{
    uint8_t *bytes = exact_copy(sample, 1);
    struct dec_cursor cur;

    cur_init(&cur, bytes, 1);
    cr_assert_eq(cur_u8(&cur), 0x12);
    cr_assert_not(cur.bad);
    cr_assert_eq(cur_left(&cur), 0);
    cr_assert_eq(cur_u8(&cur), 0);
    cr_assert(cur.bad);
    free(bytes);
}

Test(cursor, peek_does_not_consume)
{
    uint8_t *bytes = exact_copy(sample, 1);
    struct dec_cursor cur;

    cur_init(&cur, bytes, 1);
    cr_assert_eq(cur_peek_u8(&cur), 0x12);
    cr_assert_eq(cur_left(&cur), 1);
    cr_assert_eq(cur_u8(&cur), 0x12);
    cr_assert_eq(cur_peek_u8(&cur), 0);
    cr_assert(cur.bad);
    free(bytes);
}

Test(cursor, be16_exact_and_short)
{
    uint8_t *bytes = exact_copy(sample, 2);
    struct dec_cursor cur;

    cur_init(&cur, bytes, 2);
    cr_assert_eq(cur_be16(&cur), 0x1234);
    cr_assert_not(cur.bad);

    cur_init(&cur, bytes, 1);
    cr_assert_eq(cur_be16(&cur), 0);
    cr_assert(cur.bad);
    free(bytes);
}

Test(cursor, be32_exact_and_short)
{
    uint8_t *bytes = exact_copy(sample + 4, 4);
    struct dec_cursor cur;

    cur_init(&cur, bytes, 4);
    /* high bit set: built with unsigned widening, no signed overflow */
    cr_assert_eq(cur_be32(&cur), 0x9abcdef0u);
    cr_assert_not(cur.bad);

    cur_init(&cur, bytes, 3);
    cr_assert_eq(cur_be32(&cur), 0);
    cr_assert(cur.bad);
    free(bytes);
}

Test(cursor, le32_exact_and_short)
{
    uint8_t *bytes = exact_copy(sample + 4, 4);
    struct dec_cursor cur;

    cur_init(&cur, bytes, 4);
    cr_assert_eq(cur_le32(&cur), 0xf0debc9au);
    cr_assert_not(cur.bad);

    cur_init(&cur, bytes, 3);
    cr_assert_eq(cur_le32(&cur), 0);
    cr_assert(cur.bad);
    free(bytes);
}

Test(cursor, bytes_exact_and_short)
{
    uint8_t *bytes = exact_copy(sample, 8);
    uint8_t out[8];
    struct dec_cursor cur;

    cur_init(&cur, bytes, 8);
    cr_assert(cur_bytes(&cur, out, 8));
    cr_assert_arr_eq(out, sample, 8);
    cr_assert_eq(cur_left(&cur), 0);

    memset(out, 0xee, sizeof(out));
    cur_init(&cur, bytes, 7);
    cr_assert_not(cur_bytes(&cur, out, 8));
    cr_assert(cur.bad);
    for (size_t i = 0; i < sizeof(out); i++) {
        cr_assert_eq(out[i], 0, "a short copy must zero the output, byte %zu", i);
    }
    free(bytes);
}

Test(cursor, short_read_consumes_nothing_and_reads_zero)
{
    struct dec_cursor cur;

    cur_init(&cur, sample, 3);
    cr_assert_eq(cur_be32(&cur), 0);
    cr_assert(cur.bad);
    cr_assert_eq(cur_left(&cur), 0);
}

Test(cursor, bad_is_sticky)
{
    struct dec_cursor cur;

    cur_init(&cur, sample, sizeof(sample));
    cr_assert_eq(cur_be16(&cur), 0x1234);
    cr_assert_eq(cur_be32(&cur), 0x56789abcu); /* 4 wanted, 6 left: fine */
    cr_assert_not(cur.bad);
    cr_assert_eq(cur_be32(&cur), 0); /* 4 wanted, 2 left: bad */
    cr_assert(cur.bad);
    /* everything reads 0 and fails from now on, even reads that would have fit before */
    cr_assert_eq(cur_u8(&cur), 0);
    cr_assert_eq(cur_be16(&cur), 0);
    cr_assert_not(cur_skip(&cur, 0));
    cr_assert_not(cur_has(&cur, 0));
    cr_assert(cur.bad);
}

Test(cursor, reads_advance_in_order)
{
    struct dec_cursor cur;

    cur_init(&cur, sample, sizeof(sample));
    cr_assert_eq(cur_u8(&cur), 0x12);
    cr_assert_eq(cur_be16(&cur), 0x3456);
    cr_assert_eq(cur_be32(&cur), 0x789abcdeu);
    cr_assert_eq(cur_u8(&cur), 0xf0);
    cr_assert_eq(cur_left(&cur), 0);
    cr_assert_not(cur.bad);
}

Test(cursor, skip_exact_and_past_end)
{
    struct dec_cursor cur;

    cur_init(&cur, sample, sizeof(sample));
    cr_assert(cur_skip(&cur, 3));
    cr_assert_eq(cur_left(&cur), 5);
    cr_assert_eq(cur_u8(&cur), 0x78);
    cr_assert(cur_skip(&cur, 4));
    cr_assert_eq(cur_left(&cur), 0);
    cr_assert_not(cur.bad);
    cr_assert(cur_skip(&cur, 0));
    cr_assert_not(cur_skip(&cur, 1));
    cr_assert(cur.bad);

    cur_init(&cur, sample, sizeof(sample));
    cr_assert_not(cur_skip(&cur, SIZE_MAX)); /* no wrap-around */
    cr_assert(cur.bad);
}

Test(cursor, sub_cursor_bounds)
{
    uint8_t *bytes = exact_copy(sample, 8);
    struct dec_cursor cur;
    struct dec_cursor sub;

    cur_init(&cur, bytes, 8);
    (void)cur_u8(&cur);
    sub = cur_sub(&cur, 4);
    cr_assert_not(sub.bad);
    cr_assert_eq(cur_left(&sub), 4);
    cr_assert_eq(cur_left(&cur), 3, "the parent advances past the sub-cursor");
    cr_assert_eq(cur_u8(&cur), 0xbc);

    /* the sub-cursor ends where it was cut, even though the parent's bytes follow */
    cr_assert_eq(cur_be32(&sub), 0x3456789au);
    cr_assert_eq(cur_u8(&sub), 0);
    cr_assert(sub.bad);
    cr_assert_not(cur.bad, "a sub-cursor's failure does not spread to the parent");

    /* a sub-cursor longer than what is left: both are bad and empty */
    sub = cur_sub(&cur, 3);
    cr_assert(sub.bad);
    cr_assert_eq(cur_left(&sub), 0);
    cr_assert(cur.bad);
    free(bytes);
}

Test(cursor, sub_cursor_exact)
{
    struct dec_cursor cur;
    struct dec_cursor sub;

    cur_init(&cur, sample, sizeof(sample));
    sub = cur_sub(&cur, sizeof(sample));
    cr_assert_not(sub.bad);
    cr_assert_eq(cur_left(&sub), sizeof(sample));
    cr_assert_eq(cur_left(&cur), 0);
    cr_assert_not(cur.bad);
    cr_assert_eq(cur_be32(&sub), 0x12345678u);
}

Test(cursor, every_reader_at_every_length)
{
    /* Each reader on every prefix of the sample: it succeeds exactly when it fits. */
    for (size_t len = 0; len <= sizeof(sample); len++) {
        uint8_t *bytes = exact_copy(sample, len);
        struct dec_cursor cur;

        cur_init(&cur, bytes, len);
        (void)cur_u8(&cur);
        cr_assert_eq(cur.bad, len < 1);
        cur_init(&cur, bytes, len);
        (void)cur_be16(&cur);
        cr_assert_eq(cur.bad, len < 2);
        cur_init(&cur, bytes, len);
        (void)cur_be32(&cur);
        cr_assert_eq(cur.bad, len < 4);
        cur_init(&cur, bytes, len);
        (void)cur_le32(&cur);
        cr_assert_eq(cur.bad, len < 4);
        cur_init(&cur, bytes, len);
        (void)cur_skip(&cur, 5);
        cr_assert_eq(cur.bad, len < 5);
        cur_init(&cur, bytes, len);
        (void)cur_sub(&cur, 6);
        cr_assert_eq(cur.bad, len < 6);
        free(bytes);
    }
}

Test(cursor, bad_cursor_is_empty_even_for_zero_bytes)
{
    /* The invariant the one-comparison bounds checks rely on: bad means left == 0, and a bad
     * cursor cannot even take 0 bytes. */
    struct dec_cursor cur;

    cur_init(&cur, sample, 3);
    (void)cur_be32(&cur);
    cr_assert(cur.bad);
    cr_assert_eq(cur.left, 0);
    cr_assert_not(cur_has(&cur, 0));
    cr_assert_not(cur_has(&cur, 1));
    cr_assert_not(cur_hdr(&cur, 0).ok);
    cr_assert_not(cur_skip(&cur, 0));
    cur_limit(&cur, 5);
    cr_assert(cur.bad);
    cr_assert_eq(cur_left(&cur), 0, "a limit never makes a bad cursor readable");
}

Test(cursor, header_fields_by_offset)
{
    uint8_t *bytes = exact_copy(sample, sizeof(sample));
    struct dec_cursor cur;
    struct dec_hdr hdr;
    uint8_t out[4];

    cur_init(&cur, bytes, sizeof(sample));
    hdr = cur_hdr(&cur, 6);
    cr_assert(hdr.ok);
    cr_assert_eq(cur_left(&cur), 2, "the header is consumed whole");
    cr_assert_eq(hdr_u8(hdr, 0), 0x12);
    cr_assert_eq(hdr_u8(hdr, 5), 0xbc);
    cr_assert_eq(hdr_be16(hdr, 4), 0x9abc);
    cr_assert_eq(hdr_be32(hdr, 2), 0x56789abcu);
    hdr_bytes(hdr, 1, out, 4);
    cr_assert_eq(memcmp(out, sample + 1, 4), 0);
    /* fields reaching past the header read 0, even though the bytes exist in the buffer */
    cr_assert_eq(hdr_u8(hdr, 6), 0);
    cr_assert_eq(hdr_be16(hdr, 5), 0);
    cr_assert_eq(hdr_be32(hdr, 3), 0);
    cr_assert_eq(hdr_be32(hdr, SIZE_MAX - 1), 0, "no overflow in the offset check");
    memset(out, 0xff, sizeof(out));
    hdr_bytes(hdr, 4, out, 4);
    cr_assert_eq(out[0] | out[1] | out[2] | out[3], 0, "a short copy zeroes its output");
    free(bytes);
}

Test(cursor, header_short_take_reads_zero)
{
    uint8_t *bytes = exact_copy(sample, 3);
    struct dec_cursor cur;
    struct dec_hdr hdr;
    uint8_t out[2] = {0xff, 0xff};

    cur_init(&cur, bytes, 3);
    hdr = cur_hdr(&cur, 4);
    cr_assert_not(hdr.ok);
    cr_assert(cur.bad);
    cr_assert_eq(hdr_u8(hdr, 0), 0);
    cr_assert_eq(hdr_be16(hdr, 0), 0);
    cr_assert_eq(hdr_be32(hdr, 0), 0);
    hdr_bytes(hdr, 0, out, 2);
    cr_assert_eq(out[0] | out[1], 0);
    free(bytes);
}

Test(cursor, header_every_length)
{
    /* A header of every size on every prefix: ok exactly when it fits. */
    for (size_t len = 0; len <= sizeof(sample); len++) {
        uint8_t *bytes = exact_copy(sample, len);

        for (size_t n = 0; n <= sizeof(sample) + 1; n++) {
            struct dec_cursor cur;
            struct dec_hdr hdr;

            cur_init(&cur, bytes, len);
            hdr = cur_hdr(&cur, n);
            cr_assert_eq(hdr.ok, n <= len, "header %zu of %zu", n, len);
            cr_assert_eq(cur.bad, n > len);
            cr_assert_eq(cur_left(&cur), n <= len ? len - n : 0);
            for (size_t off = 0; off < n; off++) {
                cr_assert_eq(hdr_u8(hdr, off), n <= len ? sample[off] : 0);
            }
        }
        free(bytes);
    }
}

Test(cursor, null_bytes_header)
{
    struct dec_cursor cur;
    struct dec_hdr hdr;

    cur_init(&cur, NULL, 20);
    hdr = cur_hdr(&cur, 0);
    cr_assert(hdr.ok, "0 bytes of an empty cursor can be taken");
    cr_assert_eq(hdr_u8(hdr, 0), 0, "but nothing read from them");
    hdr = cur_hdr(&cur, 1);
    cr_assert_not(hdr.ok);
    cr_assert(cur.bad);
}

Test(cursor, limit_clamps_in_place)
{
    struct dec_cursor cur;

    cur_init(&cur, sample, sizeof(sample));
    (void)cur_u8(&cur);
    cur_limit(&cur, 3);
    cr_assert_eq(cur_left(&cur), 3);
    cr_assert_eq(cur_u8(&cur), 0x34, "the limit keeps the position");
    cur_limit(&cur, 10);
    cr_assert_eq(cur_left(&cur), 2, "a limit beyond what is left changes nothing");
    cr_assert_eq(cur_be16(&cur), 0x5678);
    cr_assert_eq(cur_u8(&cur), 0, "nothing past the limit is read");
    cr_assert(cur.bad);
}
