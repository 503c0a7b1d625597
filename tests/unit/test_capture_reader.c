/* test_capture_reader.c - our reader of classic pcap records against libpcap's: every capture
 * in pcaps/ and ../shared/external-pcaps/, and generated ones (truncated at every byte,
 * corrupted lengths, other byte order, ns timestamps, old versions, records larger than the
 * read buffer), must give the same packets, the same end and the same error text. */
#include <criterion/criterion.h>

#include <glob.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cap_int.h"
#include "test_paths.h"

/* ---- bytes and generated captures --------------------------------------------------------- */

struct bytes {
    uint8_t *p;
    size_t n;
    size_t cap;
};

static void put(struct bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->n + n) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        cr_assert_not_null(b->p);
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->n, src, n);
    }
    b->n += n;
}

static void put32(struct bytes *b, uint32_t v, bool big_endian)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    uint8_t be[4] = {le[3], le[2], le[1], le[0]};
    put(b, big_endian ? be : le, 4);
}

static void put16(struct bytes *b, uint16_t v, bool big_endian)
{
    uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    uint8_t be[2] = {le[1], le[0]};
    put(b, big_endian ? be : le, 2);
}

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

/* A pcap file header: magic, version, thiszone, sigfigs, snaplen, linktype. */
static void file_header(struct bytes *b, uint32_t magic, bool big_endian, uint16_t minor,
                        uint32_t snaplen, uint32_t linktype)
{
    put32(b, magic, big_endian);
    put16(b, 2, big_endian);
    put16(b, minor, big_endian);
    put32(b, 0, big_endian);
    put32(b, 0, big_endian);
    put32(b, snaplen, big_endian);
    put32(b, linktype, big_endian);
}

/* A record: header fields as given, then data_bytes of a pattern seeded by seed (data_bytes may
 * differ from caplen: that is how damaged files are made). */
static void record(struct bytes *b, bool big_endian, uint32_t sec, uint32_t frac, uint32_t caplen,
                   uint32_t len, size_t data_bytes, uint32_t seed)
{
    put32(b, sec, big_endian);
    put32(b, frac, big_endian);
    put32(b, caplen, big_endian);
    put32(b, len, big_endian);
    for (size_t i = 0; i < data_bytes; i++) {
        uint8_t byte = (uint8_t)(seed * 31u + i * 7u + (i >> 8));
        put(b, &byte, 1);
    }
}

/* A small Ethernet capture of varied records (sizes 0 to 1514), for sweeps. */
static void small_capture(struct bytes *b, uint32_t magic, bool big_endian, uint16_t minor)
{
    static const uint32_t sizes[] = {60, 0, 1514, 54, 1, 74, 200, 15};
    file_header(b, magic, big_endian, minor, 65535, 1 /* Ethernet */);
    for (uint32_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint32_t frac = magic == MAGIC_NS ? 123456789u + i : 654321u + i;
        record(b, big_endian, 1700000000u + i, frac, sizes[i], sizes[i] + (i % 3) * 10, sizes[i],
               i);
    }
}

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    struct bytes b = {0};
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        put(&b, chunk, got);
    }
    fclose(f);
    *size = b.n;
    return b.p;
}

/* ---- reading with both readers --------------------------------------------------------- */

struct packet_seen {
    int64_t ts_ns;
    uint32_t caplen;
    uint32_t wirelen;
    int linktype;
    size_t data_at; /* in run.data */
    uint64_t position;
};

struct run {
    struct packet_seen *packets;
    size_t count;
    size_t capacity;
    struct bytes data;
    int open_rc;
    int loop_rc;
    char err[CAP_ERRBUF_SIZE];
    bool ours; /* our reader read it */
    uint64_t end_position;
    struct cap_source *src;
    size_t pause_every; /* stop the loop every this many packets (then go on): 0 never */
};

#define PAUSE 7 /* the callback's stop value */

static int collect(const struct cap_packet *pkt, void *user)
{
    struct run *r = user;
    if (r->count == r->capacity) {
        r->capacity = r->capacity == 0 ? 64 : r->capacity * 2;
        r->packets = realloc(r->packets, r->capacity * sizeof(r->packets[0]));
        cr_assert_not_null(r->packets);
    }
    struct packet_seen *seen = &r->packets[r->count++];
    seen->ts_ns = pkt->ts_ns;
    seen->caplen = pkt->caplen;
    seen->wirelen = pkt->wirelen;
    seen->linktype = pkt->linktype;
    seen->data_at = r->data.n;
    seen->position = cap_position(r->src);
    put(&r->data, pkt->data, pkt->caplen);
    return r->pause_every != 0 && r->count % r->pause_every == 0 ? PAUSE : 0;
}

static void read_capture(const char *path, enum cap_file_reading how, const char *filter,
                         size_t pause_every, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->pause_every = pause_every;
    r->open_rc = cap_open_file_with(&r->src, path, NULL, how, r->err, sizeof(r->err));
    if (r->open_rc != 0) {
        return;
    }
    r->ours = cap_reads_itself(r->src);
    if (filter != NULL) {
        int rc = cap_set_filter(r->src, filter, r->err, sizeof(r->err));
        cr_assert_eq(rc, 0, "filter '%s': %s", filter, r->err);
    }
    do {
        r->loop_rc = cap_loop(r->src, collect, r, r->err, sizeof(r->err));
    } while (r->loop_rc == PAUSE);
    r->end_position = cap_position(r->src);
    cap_close(r->src);
    r->src = NULL;
}

static void free_run(struct run *r)
{
    free(r->packets);
    free(r->data.p);
}

/* Reads path with libpcap and with our reader and requires the same packets, end and errors.
 * expect_ours: our reader must have read it (false: it must have left it to libpcap). */
static void compare_readers(const char *path, const char *label, const char *filter,
                            size_t pause_every, bool expect_ours)
{
    struct run want, got;
    read_capture(path, CAP_READ_LIBPCAP, filter, pause_every, &want);
    read_capture(path, CAP_READ_AUTO, filter, pause_every, &got);

    cr_assert_not(want.ours, "%s: libpcap's path was not forced", label);
    cr_assert_eq(got.open_rc, want.open_rc, "%s: open %d, libpcap %d", label, got.open_rc,
                 want.open_rc);
    if (want.open_rc != 0) {
        cr_assert_str_eq(got.err, want.err, "%s: open error", label);
        free_run(&want);
        free_run(&got);
        return;
    }
    cr_assert_eq(got.ours, expect_ours, "%s: our reader %s", label,
                 got.ours ? "read it" : "did not read it");
    size_t n = got.count < want.count ? got.count : want.count;
    for (size_t i = 0; i < n; i++) {
        const struct packet_seen *a = &want.packets[i];
        const struct packet_seen *b = &got.packets[i];
        cr_assert_eq(b->ts_ns, a->ts_ns, "%s: packet %zu ts_ns %lld, libpcap %lld", label, i + 1,
                     (long long)b->ts_ns, (long long)a->ts_ns);
        cr_assert_eq(b->caplen, a->caplen, "%s: packet %zu caplen %u, libpcap %u", label, i + 1,
                     b->caplen, a->caplen);
        cr_assert_eq(b->wirelen, a->wirelen, "%s: packet %zu wirelen %u, libpcap %u", label, i + 1,
                     b->wirelen, a->wirelen);
        cr_assert_eq(b->linktype, a->linktype, "%s: packet %zu linktype", label, i + 1);
        /* (a capture of only empty packets leaves data.p NULL: no memcmp on it) */
        cr_assert(a->caplen == 0 ||
                      memcmp(got.data.p + b->data_at, want.data.p + a->data_at, a->caplen) == 0,
                  "%s: packet %zu bytes differ", label, i + 1);
    }
    cr_assert_eq(got.count, want.count, "%s: %zu packets, libpcap %zu", label, got.count,
                 want.count);
    cr_assert_eq(got.loop_rc, want.loop_rc, "%s: cap_loop %d, libpcap %d (%s)", label, got.loop_rc,
                 want.loop_rc, got.err);
    if (want.loop_rc != 0) {
        cr_assert_str_eq(got.err, want.err, "%s: error text", label);
    }
    if (got.ours) {
        /* the progress bar's position: never backwards, the whole file at a clean end */
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        uint64_t last = 0;
        for (size_t i = 0; i < got.count; i++) {
            cr_assert_geq(got.packets[i].position, last, "%s: position went back", label);
            last = got.packets[i].position;
        }
        cr_assert_leq(got.end_position, (uint64_t)st.st_size, "%s: position", label);
        if (got.loop_rc == 0) {
            cr_assert_eq(got.end_position, (uint64_t)st.st_size, "%s: end position %llu of %llu",
                         label, (unsigned long long)got.end_position,
                         (unsigned long long)st.st_size);
        }
    }
    free_run(&want);
    free_run(&got);
}

/* ---- temporary files ------------------------------------------------------------------- */

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ss-reader-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir));
}

static void remove_tmp_dir(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/capture.pcap", tmp_dir);
    unlink(path);
    rmdir(tmp_dir);
}

/* Writes n bytes to the test's capture file and returns its path. */
static const char *write_capture(const uint8_t *bytes, size_t n)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/capture.pcap", tmp_dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static void compare_bytes(const uint8_t *bytes, size_t n, const char *label, bool expect_ours)
{
    compare_readers(write_capture(bytes, n), label, NULL, 0, expect_ours);
}

/* Every cut of a capture: at each length from 24 (a whole file header; shorter ones fail to
 * open, the same way for both) to the whole file. */
static void truncation_sweep(const struct bytes *b, const char *name)
{
    char label[128];
    for (size_t cut = 0; cut <= b->n; cut++) {
        snprintf(label, sizeof(label), "%s cut at %zu", name, cut);
        compare_bytes(b->p, cut, label, cut >= 24);
    }
}

TestSuite(reader, .init = make_tmp_dir, .fini = remove_tmp_dir);

/* ---- the captures we have ----------------------------------------------------------------- */

static bool is_classic_pcap(const char *path)
{
    uint8_t magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    size_t got = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    uint32_t le =
        (uint32_t)magic[3] << 24 | (uint32_t)magic[2] << 16 | (uint32_t)magic[1] << 8 | magic[0];
    uint32_t be =
        (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 | (uint32_t)magic[2] << 8 | magic[3];
    return got == 4 && (le == MAGIC_US || le == MAGIC_NS || be == MAGIC_US || be == MAGIC_NS);
}

static size_t compare_glob(const char *pattern, const char *filter, size_t pause_every)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        return 0;
    }
    cr_assert_eq(rc, 0, "glob %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i];
        compare_readers(path, path, filter, pause_every, is_classic_pcap(path));
    }
    size_t n = g.gl_pathc;
    globfree(&g);
    return n;
}

Test(reader, repository_and_external_captures)
{
    char root[4096], pattern[4200];
    repo_root(root, sizeof(root));
    snprintf(pattern, sizeof(pattern), "%s/pcaps/*.pcap*", root);
    cr_assert_gt(compare_glob(pattern, NULL, 0), 10, "no captures in %s", pattern);
    snprintf(pattern, sizeof(pattern), "%s/../shared/external-pcaps/*", root);
    cr_assert_gt(compare_glob(pattern, NULL, 0), 10, "no captures in %s", pattern);
}

/* cli/reader.c stops the loop when its ring is full and calls cap_loop again */
Test(reader, loop_stopped_and_resumed)
{
    char root[4096], pattern[4200];
    repo_root(root, sizeof(root));
    snprintf(pattern, sizeof(pattern), "%s/pcaps/*.pcap*", root);
    cr_assert_gt(compare_glob(pattern, NULL, 3), 10);
}

Test(reader, filters)
{
    static const char *const filters[] = {"tcp[tcpflags] & tcp-syn != 0",
                                          "greater 100",
                                          "icmp or icmp6",
                                          "ip6",
                                          "less 60",
                                          "tcp port 80"};
    char root[4096], pattern[4200];
    repo_root(root, sizeof(root));
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        snprintf(pattern, sizeof(pattern), "%s/pcaps/*.pcap", root);
        cr_assert_gt(compare_glob(pattern, filters[i], 0), 10);
        snprintf(pattern, sizeof(pattern), "%s/../shared/external-pcaps/*.pcap", root);
        compare_glob(pattern, filters[i], 0);
    }
    /* the filter must really select: demo.pcap has SYNs and other packets */
    char path[4200];
    snprintf(path, sizeof(path), "%s/pcaps/demo.pcap", root);
    struct run all, syns;
    read_capture(path, CAP_READ_AUTO, NULL, 0, &all);
    read_capture(path, CAP_READ_AUTO, filters[0], 0, &syns);
    cr_assert(syns.ours);
    cr_assert_gt(syns.count, 0);
    cr_assert_lt(syns.count, all.count);
    free_run(&all);
    free_run(&syns);
}

/* a damaged file read through a filter: "damaged after record N" counts the packets delivered */
Test(reader, filter_on_truncated_capture)
{
    char root[4096], path[4200], label[128];
    repo_root(root, sizeof(root));
    snprintf(path, sizeof(path), "%s/pcaps/demo.pcap", root);
    size_t n;
    uint8_t *bytes = read_whole(path, &n);
    for (size_t cut = 24; cut < n; cut += 37) {
        snprintf(label, sizeof(label), "demo.pcap cut at %zu, filtered", cut);
        compare_readers(write_capture(bytes, cut), label, "tcp[tcpflags] & tcp-syn != 0", 0, true);
    }
    free(bytes);
}

/* ---- damaged and unusual files --------------------------------------------------------- */

Test(reader, repository_capture_truncated_at_every_byte)
{
    char root[4096], path[4200];
    repo_root(root, sizeof(root));
    snprintf(path, sizeof(path), "%s/pcaps/accepted-v4.pcap", root);
    struct bytes b = {0};
    b.p = read_whole(path, &b.n);
    truncation_sweep(&b, "accepted-v4.pcap");
    free(b.p);
}

Test(reader, generated_captures_truncated_at_every_byte)
{
    static const struct {
        uint32_t magic;
        bool big_endian;
        uint16_t minor;
        const char *name;
    } kinds[] = {
        {MAGIC_US, false, 4, "us little-endian"}, {MAGIC_US, true, 4, "us big-endian"},
        {MAGIC_NS, false, 4, "ns little-endian"}, {MAGIC_NS, true, 4, "ns big-endian"},
        {MAGIC_US, false, 2, "version 2.2"},      {MAGIC_US, true, 3, "version 2.3"},
    };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct bytes b = {0};
        small_capture(&b, kinds[k].magic, kinds[k].big_endian, kinds[k].minor);
        truncation_sweep(&b, kinds[k].name);
        free(b.p);
    }
}

/* A record above the snapshot length (read whole, delivered cut to it), cut everywhere: before
 * the snapshot length libpcap names it in the error, after it the record's caplen. */
Test(reader, caplen_above_snaplen_truncated_at_every_byte)
{
    struct bytes b = {0};
    file_header(&b, MAGIC_US, false, 4, 64, 1);
    record(&b, false, 1, 2, 60, 60, 60, 1);
    record(&b, false, 3, 4, 200, 300, 200, 2);
    record(&b, false, 5, 6, 65, 65, 65, 3);
    truncation_sweep(&b, "caplen above snaplen");
    free(b.p);
}

/* Each record's caplen and len fields set to values around the limits. */
Test(reader, corrupted_lengths)
{
    static const uint32_t values[] = {0,           1,           14,         65534,  65535,
                                      65536,       262143,      262144,     262145, 0x7fffffffu,
                                      0x80000000u, 0xfffffff0u, 0xffffffffu};
    char label[160];
    for (int big = 0; big <= 1; big++) {
        struct bytes b = {0};
        small_capture(&b, MAGIC_US, big != 0, 4);
        /* the offsets of the records' caplen fields */
        size_t at = 24;
        size_t offsets[16];
        size_t records = 0;
        while (at + 16 <= b.n && records < 16) {
            offsets[records++] = at + 8;
            uint32_t caplen = big ? (uint32_t)b.p[at + 8] << 24 | (uint32_t)b.p[at + 9] << 16 |
                                        (uint32_t)b.p[at + 10] << 8 | b.p[at + 11]
                                  : (uint32_t)b.p[at + 11] << 24 | (uint32_t)b.p[at + 10] << 16 |
                                        (uint32_t)b.p[at + 9] << 8 | b.p[at + 8];
            at += 16 + caplen;
        }
        cr_assert_eq(at, b.n);
        for (size_t r = 0; r < records; r++) {
            for (size_t field = 0; field < 2; field++) { /* caplen, len */
                for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                    struct bytes c = {0};
                    put(&c, b.p, b.n);
                    size_t o = offsets[r] + field * 4;
                    uint32_t x = values[v];
                    uint8_t le[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16),
                                     (uint8_t)(x >> 24)};
                    for (int i = 0; i < 4; i++) {
                        c.p[o + (size_t)i] = big ? le[3 - i] : le[i];
                    }
                    snprintf(label, sizeof(label), "%s record %zu %s = %u",
                             big ? "big-endian" : "little-endian", r + 1,
                             field == 0 ? "caplen" : "len", x);
                    compare_bytes(c.p, c.n, label, true);
                    free(c.p);
                }
            }
        }
        free(b.p);
    }
}

/* caplen above the maximum: libpcap's two messages (above the snapshot length too, and not) */
Test(reader, caplen_above_maximum)
{
    static const uint32_t snaplens[] = {0, 1, 64, 65535, 262143, 262144, 262145, 0xffffffffu};
    static const uint32_t caplens[] = {0, 64, 65, 262144, 262145, 0xffffffffu};
    char label[128];
    for (size_t s = 0; s < sizeof(snaplens) / sizeof(snaplens[0]); s++) {
        for (size_t c = 0; c < sizeof(caplens) / sizeof(caplens[0]); c++) {
            struct bytes b = {0};
            file_header(&b, MAGIC_US, false, 4, snaplens[s], 1);
            record(&b, false, 1, 1, 10, 10, 10, 1);
            size_t data = caplens[c] <= 262145 ? caplens[c] : 100;
            record(&b, false, 2, 2, caplens[c], 1500, data, 2);
            record(&b, false, 3, 3, 10, 10, 10, 3);
            snprintf(label, sizeof(label), "snaplen %u caplen %u", snaplens[s], caplens[c]);
            compare_bytes(b.p, b.n, label, true);
            free(b.p);
        }
    }
}

/* Timestamps at the extremes of the signed 32-bit fields, in both units and byte orders. */
Test(reader, extreme_timestamps)
{
    static const uint32_t secs[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    static const uint32_t fracs[] = {0,           1,           999999,      1000000,    999999999u,
                                     1000000000u, 0x7fffffffu, 0x80000000u, 0xffffffffu};
    for (int big = 0; big <= 1; big++) {
        for (int ns = 0; ns <= 1; ns++) {
            struct bytes b = {0};
            file_header(&b, ns ? MAGIC_NS : MAGIC_US, big != 0, 4, 65535, 1);
            uint32_t seed = 0;
            for (size_t s = 0; s < sizeof(secs) / sizeof(secs[0]); s++) {
                for (size_t f = 0; f < sizeof(fracs) / sizeof(fracs[0]); f++) {
                    record(&b, big != 0, secs[s], fracs[f], 20, 60, 20, seed++);
                }
            }
            char label[64];
            snprintf(label, sizeof(label), "timestamps %s %s", ns ? "ns" : "us",
                     big ? "big-endian" : "little-endian");
            compare_bytes(b.p, b.n, label, true);
            free(b.p);
        }
    }
}

/* Versions 2.0 to 2.4: caplen and len swapped before 2.3, and in 2.3 when caplen > len. */
Test(reader, old_versions_swap_lengths)
{
    for (uint16_t minor = 0; minor <= 4; minor++) {
        for (int big = 0; big <= 1; big++) {
            struct bytes b = {0};
            file_header(&b, MAGIC_US, big != 0, minor, 65535, 1);
            /* (caplen field, len field, data bytes): either order */
            record(&b, big != 0, 1, 1, 60, 100, 60, 1);
            record(&b, big != 0, 2, 2, 100, 60, 100, 2);
            record(&b, big != 0, 3, 3, 100, 60, 60, 3);
            record(&b, big != 0, 4, 4, 50, 50, 50, 4);
            record(&b, big != 0, 5, 5, 0, 70000, 0, 5);
            record(&b, big != 0, 6, 6, 70000, 0, 0, 6);
            char label[64];
            snprintf(label, sizeof(label), "version 2.%u %s", minor,
                     big ? "big-endian" : "little-endian");
            compare_bytes(b.p, b.n, label, true);
            free(b.p);
        }
    }
}

/* Records up to the maximum caplen, larger than the read buffer, among small ones, so that
 * records and headers straddle every refill; and a capture of a few MB of random sizes. */
Test(reader, large_records_and_buffer_boundaries)
{
    static const uint32_t sizes[] = {262144, 14, 262143, 0, 131072, 100000, 262144, 1, 70000};
    struct bytes b = {0};
    file_header(&b, MAGIC_NS, false, 4, 262144, 1);
    for (uint32_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        record(&b, false, i, i, sizes[i], sizes[i], sizes[i], i);
    }
    compare_bytes(b.p, b.n, "large records", true);
    free(b.p);

    for (int big = 0; big <= 1; big++) {
        struct bytes r = {0};
        file_header(&r, MAGIC_US, big != 0, 4, 9000, 1);
        uint32_t state = 12345;
        while (r.n < 3u * 1024 * 1024) {
            state = state * 1103515245u + 12345u;
            uint32_t size = (state >> 8) % 9200; /* some above the snapshot length of 9000 */
            record(&r, big != 0, state, state % 1000000, size, size + (state & 7), size, state);
        }
        compare_bytes(r.p, r.n, big ? "random sizes big-endian" : "random sizes", true);
        /* and every cut near the first buffer boundaries */
        char label[64];
        for (size_t cut = 262144 - 300; cut < 262144 + 300 && cut < r.n; cut++) {
            snprintf(label, sizeof(label), "random sizes cut at %zu", cut);
            compare_bytes(r.p, cut, label, true);
        }
        free(r.p);
    }
}

/* Random damage: bytes of the records overwritten and the file cut, a few hundred times. */
Test(reader, random_damage)
{
    struct bytes b = {0};
    small_capture(&b, MAGIC_US, false, 4);
    uint32_t state = 42;
    char label[64];
    for (int round = 0; round < 600; round++) {
        struct bytes c = {0};
        put(&c, b.p, b.n);
        for (int flips = 0; flips < 1 + round % 4; flips++) {
            state = state * 1103515245u + 12345u;
            size_t at = 24 + (state >> 8) % (c.n - 24);
            state = state * 1103515245u + 12345u;
            c.p[at] = (uint8_t)(state >> 16);
        }
        state = state * 1103515245u + 12345u;
        size_t n = round % 2 == 0 ? c.n : 24 + (state >> 8) % (c.n - 24);
        snprintf(label, sizeof(label), "random damage round %d", round);
        compare_bytes(c.p, n, label, true);
        free(c.p);
    }
    free(b.p);
}

/* ---- what stays libpcap's ---------------------------------------------------------------- */

Test(reader, other_formats_stay_with_libpcap)
{
    /* pcapng: a section header, an Ethernet interface and one enhanced packet of 4 bytes */
    struct bytes ng = {0};
    put32(&ng, 0x0a0d0d0a, false);
    put32(&ng, 28, false);
    put32(&ng, 0x1a2b3c4d, false);
    put16(&ng, 1, false);
    put16(&ng, 0, false);
    put32(&ng, 0xffffffffu, false);
    put32(&ng, 0xffffffffu, false);
    put32(&ng, 28, false);
    put32(&ng, 1, false);
    put32(&ng, 20, false);
    put16(&ng, 1, false);
    put16(&ng, 0, false);
    put32(&ng, 0, false);
    put32(&ng, 20, false);
    put32(&ng, 6, false);
    put32(&ng, 36, false);
    put32(&ng, 0, false);
    put32(&ng, 0, false);
    put32(&ng, 1000, false);
    put32(&ng, 4, false);
    put32(&ng, 4, false);
    put32(&ng, 0xdeadbeefu, false);
    put32(&ng, 36, false);
    compare_bytes(ng.p, ng.n, "pcapng", false);
    free(ng.p);

    /* Kuznetzov's modified format, Navtel's */
    struct bytes k = {0};
    file_header(&k, 0xa1b2cd34u, false, 4, 65535, 1);
    compare_bytes(k.p, k.n, "Kuznetzov", false);
    free(k.p);
    struct bytes nv = {0};
    file_header(&nv, 0xa12b3c4du, false, 4, 65535, 1);
    compare_bytes(nv.p, nv.n, "Navtel", false);
    free(nv.p);

    /* the other byte order, in link types whose pseudo-headers libpcap byte-swaps (Linux
     * cooked: CAN IDs; NFLOG; Linux USB), and the link types with other maximum caplens */
    static const uint32_t swapped_kept[] = {113 /* SLL */, 239 /* NFLOG */, 189 /* USB_LINUX */,
                                            220 /* USB_LINUX_MMAPPED */};
    for (size_t i = 0; i < sizeof(swapped_kept) / sizeof(swapped_kept[0]); i++) {
        struct bytes s = {0};
        file_header(&s, MAGIC_US, true, 4, 65535, swapped_kept[i]);
        record(&s, true, 1, 1, 64, 64, 64, 1);
        compare_bytes(s.p, s.n, "swapped pseudo-headers", false);
        free(s.p);
        struct bytes same = {0};
        file_header(&same, MAGIC_US, false, 4, 65535, swapped_kept[i]);
        record(&same, false, 1, 1, 64, 64, 64, 1);
        compare_bytes(same.p, same.n, "host-order pseudo-headers", true);
        free(same.p);
    }
    static const uint32_t other_maximum[] = {231 /* DBUS */, 279 /* EBHSCR */, 249 /* USBPCAP */};
    for (size_t i = 0; i < sizeof(other_maximum) / sizeof(other_maximum[0]); i++) {
        struct bytes s = {0};
        file_header(&s, MAGIC_US, false, 4, 0, other_maximum[i]);
        record(&s, false, 1, 1, 300000, 300000, 300000, 1);
        compare_bytes(s.p, s.n, "other maximum caplen", false);
        free(s.p);
    }
    /* the byte-swapped link types that need nothing: read by us */
    static const uint32_t swapped_ours[] = {1 /* Ethernet */, 0 /* BSD loopback */, 101 /* raw */,
                                            228 /* IPv4 */, 229 /* IPv6 */};
    for (size_t i = 0; i < sizeof(swapped_ours) / sizeof(swapped_ours[0]); i++) {
        struct bytes s = {0};
        file_header(&s, MAGIC_NS, true, 4, 65535, swapped_ours[i]);
        record(&s, true, 1, 1, 64, 64, 64, 1);
        compare_bytes(s.p, s.n, "swapped, nothing to rewrite", true);
        free(s.p);
    }
}

/* A stream (the fuzz targets' fmemopen) is always libpcap's. */
Test(reader, streams_stay_with_libpcap)
{
    struct bytes b = {0};
    small_capture(&b, MAGIC_US, false, 4);
    FILE *f = fmemopen(b.p, b.n, "rb");
    cr_assert_not_null(f);
    struct cap_source *src;
    char err[CAP_ERRBUF_SIZE];
    cr_assert_eq(cap_open_stream(&src, f, "memory", NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_not(cap_reads_itself(src));
    cap_close(src);
    free(b.p);
}
