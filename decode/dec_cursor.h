/* dec_cursor.h - bounds-checked reader over untrusted packet bytes (private to decode/). */
#ifndef SYNSCOPE_DEC_CURSOR_H
#define SYNSCOPE_DEC_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A window on captured bytes. Every read checks the bounds first. A read that would run past
 * the end reads nothing, returns 0 and sets the sticky `bad` flag; a bad cursor has no bytes
 * left, so every later read also returns 0 and the caller may check `bad` once, at the end of
 * a group of reads. 0 is returned rather than -1 because -1 can be real data. */
struct dec_cursor {
    const uint8_t *p; /* next unread byte */
    size_t left;      /* bytes readable from p (0 once bad) */
    bool bad;         /* a read ran past the end */
};

/* Starts a cursor over len bytes at p (a NULL p reads as empty). */
static inline void cur_init(struct dec_cursor *cur, const uint8_t *p, size_t len)
{
    cur->p = p;
    cur->left = p != NULL ? len : 0;
    cur->bad = false;
}

/* Invariant, kept by cur_init, cur_fail and cur_take (nothing else writes a cursor): a bad
 * cursor has left == 0. The readers below rely on it so that a bounds check is one comparison
 * of `left` rather than a test of the flag as well, on every read of every packet. */

/* Bytes still readable; 0 for a bad cursor. */
static inline size_t cur_left(const struct dec_cursor *cur)
{
    return cur->left;
}

/* True when n more bytes can be read. A bad cursor can read nothing, not even 0 bytes: for
 * n > 0 its `left` of 0 says so, only n == 0 needs the flag (a constant n drops one branch). */
static inline bool cur_has(const struct dec_cursor *cur, size_t n)
{
    if (n > 0) {
        return cur->left >= n;
    }
    return !cur->bad;
}

/* Marks the cursor bad: it reads as empty from now on. */
static inline void cur_fail(struct dec_cursor *cur)
{
    cur->bad = true;
    cur->left = 0;
}

/* Consumes n bytes and returns where they start, or NULL (and the cursor goes bad) when fewer
 * than n are left. Callers with n == 0 must test `bad`, not the pointer (p may be NULL). */
static inline const uint8_t *cur_take(struct dec_cursor *cur, size_t n)
{
    const uint8_t *start = cur->p;

    if (!cur_has(cur, n)) {
        cur_fail(cur);
        return NULL;
    }
    if (n > 0) { /* never offset a NULL pointer, even by 0 */
        cur->p += n;
        cur->left -= n;
    }
    return start;
}

/* A run of bytes taken whole from a cursor (cur_hdr): one bounds check for a group of fields,
 * which are then read by their offset in the header, like the RFC diagrams. Every field reader
 * still checks that its field lies inside the run and reads 0 if not (a wrong offset can never
 * read outside); with a constant offset and a constant length, as in a fixed header, the
 * compiler proves the check true and drops it. */
struct dec_hdr {
    const uint8_t *p;
    size_t len;
    bool ok; /* the take succeeded: len bytes at p are readable. Tested rather than p, which the
              * compiler cannot tell from NULL; ok is the bounds check's own result, so testing
              * it again after cur_hdr costs nothing. */
};

/* Consumes n bytes as a header, or fails like cur_take (ok false, cursor bad). */
static inline struct dec_hdr cur_hdr(struct dec_cursor *cur, size_t n)
{
    struct dec_hdr hdr;

    hdr.ok = cur_has(cur, n);
    hdr.p = cur_take(cur, n);
    hdr.len = n;
    return hdr;
}

/* The field readers of a header are always inlined, whichever of the parser's files calls
 * them: the dropped check above needs the constants of the call, and they run for every field
 * of every packet. (Left to itself, gcc's inliner, weighing the whole chain of layers that
 * link-time optimisation puts into dec_packet, keeps some of them out of line.) */
#define HDR_READER static inline __attribute__((always_inline))

/* True when the n bytes at off lie inside the header (written so that nothing can overflow). */
HDR_READER bool hdr_has(struct dec_hdr hdr, size_t off, size_t n)
{
    return hdr.ok && off <= hdr.len && hdr.len - off >= n;
}

HDR_READER uint8_t hdr_u8(struct dec_hdr hdr, size_t off)
{
    return hdr_has(hdr, off, 1) ? hdr.p[off] : 0;
}

HDR_READER uint16_t hdr_be16(struct dec_hdr hdr, size_t off)
{
    if (!hdr_has(hdr, off, 2)) {
        return 0;
    }
    return (uint16_t)(((uint32_t)hdr.p[off] << 8) | (uint32_t)hdr.p[off + 1]);
}

HDR_READER uint32_t hdr_be32(struct dec_hdr hdr, size_t off)
{
    const uint8_t *b;

    if (!hdr_has(hdr, off, 4)) {
        return 0;
    }
    b = hdr.p + off; /* only now: NULL + off would be undefined */
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Copies n bytes at off to out; out is zeroed when they are not all inside the header. */
HDR_READER void hdr_bytes(struct dec_hdr hdr, size_t off, void *out, size_t n)
{
    if (n == 0) {
        return;
    }
    if (!hdr_has(hdr, off, n)) {
        memset(out, 0, n);
        return;
    }
    memcpy(out, hdr.p + off, n);
}

/* The fixed-size readers take their bytes as a header (cur_hdr): its `ok` is the bounds check
 * itself, where a test of cur_take's pointer would be one more comparison per read. */
static inline uint8_t cur_u8(struct dec_cursor *cur)
{
    return hdr_u8(cur_hdr(cur, 1), 0);
}

/* Reads the next byte without consuming it (a short read still sets `bad`). */
static inline uint8_t cur_peek_u8(struct dec_cursor *cur)
{
    if (!cur_has(cur, 1)) {
        cur_fail(cur);
        return 0;
    }
    return cur->p[0];
}

static inline uint16_t cur_be16(struct dec_cursor *cur)
{
    return hdr_be16(cur_hdr(cur, 2), 0);
}

static inline uint32_t cur_be32(struct dec_cursor *cur)
{
    return hdr_be32(cur_hdr(cur, 4), 0);
}

/* Little-endian: for the BSD NULL link type, whose header is in the capturing host's order. */
static inline uint32_t cur_le32(struct dec_cursor *cur)
{
    const uint8_t *b = cur_take(cur, 4);

    if (b == NULL) {
        return 0;
    }
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

/* Skips n bytes. Returns false (and the cursor goes bad) when fewer are left. */
static inline bool cur_skip(struct dec_cursor *cur, size_t n)
{
    (void)cur_take(cur, n);
    return !cur->bad;
}

/* Takes the next n bytes as a cursor of their own and advances past them. When fewer than n
 * are left, both the parent and the returned cursor are bad. */
static inline struct dec_cursor cur_sub(struct dec_cursor *cur, size_t n)
{
    struct dec_cursor sub;
    const uint8_t *start = cur_take(cur, n);

    cur_init(&sub, start, n);
    if (cur->bad) {
        cur_fail(&sub);
    }
    return sub;
}

/* Keeps only the next n bytes readable (a clamp to a length field); more than are left changes
 * nothing. A bad cursor stays bad and empty. */
static inline void cur_limit(struct dec_cursor *cur, size_t n)
{
    if (n < cur->left) {
        cur->left = n;
    }
}

/* Copies the next n bytes to out. On a short read out is zeroed, so no stale or uninitialised
 * bytes escape, and false is returned. */
static inline bool cur_bytes(struct dec_cursor *cur, void *out, size_t n)
{
    const uint8_t *b = cur_take(cur, n);

    if (cur->bad) {
        if (n > 0) {
            memset(out, 0, n);
        }
        return false;
    }
    if (n > 0) {
        memcpy(out, b, n);
    }
    return true;
}

#endif
