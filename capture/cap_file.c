/* cap_file.c - offline packet sources: pcap and pcapng files and standard input (libpcap), with
 * our own reader for the records of classic pcap files. */
#include "cap_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libpcap says "unknown file format" for anything that is not pcap/pcapng, and "truncated dump
 * file" for a header cut short; make both say what the user needs to know. */
static void explain_open_error(const char *name, const char *pcap_msg, char *errbuf, size_t errlen)
{
    if (strstr(pcap_msg, "unknown file format") != NULL) {
        snprintf(errbuf, errlen, "%s: not a pcap or pcapng capture file", name);
    } else if (strstr(pcap_msg, "only got 0") != NULL) {
        snprintf(errbuf, errlen, "%s: empty file, not a capture", name);
    } else if (strstr(pcap_msg, "truncated") != NULL) {
        snprintf(errbuf, errlen, "%s: capture file header is truncated (%s)", name, pcap_msg);
    } else {
        snprintf(errbuf, errlen, "%s: %s", name, pcap_msg);
    }
}

static int open_pcap(struct cap_source **out, pcap_t *pcap, const char *pcap_err, const char *name,
                     uint64_t size, int (*supported)(int linktype), char *errbuf, size_t errlen);

#define READ_BUFFER (1u << 16) /* stdio buffer of a capture being read */

static void attach_reader(struct cap_source *src, FILE *f);

int cap_open_file(struct cap_source **out, const char *path, int (*supported)(int linktype),
                  char *errbuf, size_t errlen)
{
    return cap_open_file_with(out, path, supported, CAP_READ_AUTO, errbuf, errlen);
}

int cap_open_file_with(struct cap_source **out, const char *path, int (*supported)(int linktype),
                       enum cap_file_reading how, char *errbuf, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    struct stat st;
    uint64_t size = 0;

    *out = NULL;
    if (strcmp(path, "-") != 0) {
        if (stat(path, &st) != 0) {
            snprintf(errbuf, errlen, "%s: %s", name, strerror(errno));
            return -CAP_ERR_OPEN;
        }
        if (S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errlen, "%s: is a directory, not a capture file", name);
            return -CAP_ERR_OPEN;
        }
        if (S_ISREG(st.st_mode)) {
            size = (uint64_t)st.st_size;
            if (size == 0) {
                snprintf(errbuf, errlen, "%s: empty file, not a capture", name);
                return -CAP_ERR_OPEN;
            }
        }
    }
    /* opened here rather than by libpcap, to give the stream a larger buffer: with stdio's
     * default (the block size) reading a big capture is one read() per block; a much larger
     * one costs more again, as the copy out of it then sweeps the whole L2 cache */
    static char stdin_buffer[READ_BUFFER]; /* standard input's, for the whole run */
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        /* "x.pcap: Permission denied", the path once (libpcap's own message would repeat it) */
        snprintf(errbuf, errlen, "%s: %s", name, strerror(errno));
        return -CAP_ERR_OPEN;
    }
    /* our own buffer: glibc ignores the size asked for a buffer it allocates itself */
    char *buffer = f == stdin ? stdin_buffer : malloc(READ_BUFFER);
    if (buffer != NULL) {
        (void)setvbuf(f, buffer, _IOFBF, READ_BUFFER);
    }
    pcap_t *pcap =
        pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (pcap == NULL && f != stdin) {
        fclose(f); /* libpcap leaves the stream to us when the open fails */
    }
    int rc = open_pcap(out, pcap, pcap_err, name, size, supported, errbuf, errlen);
    if (rc == 0 && f != stdin) {
        (*out)->buffer = buffer; /* freed by cap_close, after the stream */
        if (how == CAP_READ_AUTO) {
            attach_reader(*out, f);
        }
    } else if (f != stdin) {
        free(buffer); /* the stream is closed */
    }
    return rc;
}

int cap_open_stream(struct cap_source **out, FILE *f, const char *name,
                    int (*supported)(int linktype), char *errbuf, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    *out = NULL;
    pcap_t *pcap =
        pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (pcap == NULL) {
        fclose(f); /* libpcap leaves the stream to us when the open fails */
    }
    return open_pcap(out, pcap, pcap_err, name, 0, supported, errbuf, errlen);
}

/* Shared end of cap_open_file and cap_open_stream: checks the handle (NULL: pcap_err says why)
 * and its link type, and wraps it in a source. */
static int open_pcap(struct cap_source **out, pcap_t *pcap, const char *pcap_err, const char *name,
                     uint64_t size, int (*supported)(int linktype), char *errbuf, size_t errlen)
{
    if (pcap == NULL) {
        explain_open_error(name, pcap_err, errbuf, errlen);
        return -CAP_ERR_OPEN;
    }
    int linktype = pcap_datalink(pcap);
    if (supported != NULL && !supported(linktype)) {
        const char *dlt = pcap_datalink_val_to_name(linktype);
        snprintf(errbuf, errlen,
                 "%s: unsupported link type %d (%s): synscope reads Ethernet, "
                 "Linux cooked (SLL, SLL2), BSD loopback and raw IP captures",
                 name, linktype, dlt != NULL ? dlt : "unknown");
        pcap_close(pcap);
        return -CAP_ERR_LINKTYPE;
    }
    struct cap_source *src = cap_source_new(pcap, name, size);
    if (src == NULL) {
        snprintf(errbuf, errlen, "%s: out of memory", name);
        return -CAP_ERR_NOMEM;
    }
    *out = src;
    return 0;
}

/* ---- our reader of classic pcap records ---------------------------------------------------
 *
 * libpcap reads a pcap file with one fread of the 16-byte record header and one of the packet
 * for every record, copying each packet into its own buffer: two library calls and a copy per
 * packet. Once libpcap has opened the file (checking its header, giving the link type and
 * snapshot length, compiling filters, and wording the open errors), we read the records
 * ourselves: large pread()s into one buffer, records parsed where they lie, packets
 * handed out as pointers into it. Every rule below is libpcap 1.10's (sf-pcap.c,
 * pcap_next_packet), down to the text of its errors; tests/unit/test_capture_reader.c compares
 * the two readers on every capture we have and on damaged variants. */

#define PCAP_FILE_HEADER 24   /* magic, version, thiszone, sigfigs, snaplen, linktype */
#define PCAP_RECORD_HEADER 16 /* ts_sec, ts_usec (or ns), caplen, len */
#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
/* libpcap's MAXIMUM_SNAPLEN: the largest caplen it accepts for all but the link types that
 * attach_reader leaves to it */
#define LIBPCAP_MAX_CAPLEN 262144u
/* bytes asked of each pread: enough to make few system calls (the kernel's copy dominates the
 * time, whatever the size), few enough to stay in L2 */
#define READER_BUFFER (1u << 18)
#define READ_ALIGN 64 /* see reader_fill */

/* Versions 2.0 to 2.2 wrote caplen and len the other way round, and some 2.3 files too:
 * libpcap swaps them back (always, or when caplen > len), and so do we. */
enum lengths_order { LENGTHS_AS_IS, LENGTHS_SWAPPED, LENGTHS_MAYBE_SWAPPED };

struct cap_file_reader {
    int fd;            /* the stream's descriptor: read with pread only, stdio is not used */
    uint8_t *buffer;   /* records from the file, buffer[start, end) not yet consumed */
    size_t capacity;   /* bytes allocated at buffer */
    size_t start, end; /* unconsumed bytes */
    uint64_t offset;   /* file offset of buffer[end] */
    bool big_endian;   /* the byte order of the file's fields */
    bool swapped;      /* not in this host's byte order: libpcap widens times unsigned */
    bool nanoseconds;  /* timestamps in ns (magic 0xa1b23c4d) rather than us */
    enum lengths_order lengths;
    uint32_t snapshot; /* pcap_snapshot(): caplen above it is cut to it */
};

/* The file's integers, in its byte order, assembled from bytes (gcc makes each one load). */
static inline uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | (uint32_t)b[0];
}

static inline uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static inline uint16_t field16(const uint8_t *b, bool big_endian)
{
    return big_endian ? (uint16_t)(b[0] << 8 | b[1]) : (uint16_t)(b[1] << 8 | b[0]);
}

/* A record header's four fields, as the file has them. */
struct record_header {
    uint32_t sec;
    uint32_t frac; /* microseconds or nanoseconds */
    uint32_t caplen;
    uint32_t len;
};

/* Parses a record header from the left bytes at p; false when fewer than 16 are there. The
 * byte order is tested once per record rather than once per field: this runs for every
 * packet. */
static inline bool parse_record_header(const uint8_t *p, size_t left, bool big_endian,
                                       struct record_header *rh)
{
    if (left < PCAP_RECORD_HEADER) {
        return false;
    }
    if (big_endian) {
        *rh = (struct record_header){be32(p), be32(p + 4), be32(p + 8), be32(p + 12)};
    } else {
        *rh = (struct record_header){le32(p), le32(p + 4), le32(p + 8), le32(p + 12)};
    }
    return true;
}

/* A timestamp field as libpcap 1.10 widens it: its struct pcap_timeval has signed 32-bit
 * fields, sign-extended into the timeval when the file is in this host's byte order; in the
 * other order its SWAPLONG yields an unsigned int, zero-extended. (Sign extension without
 * relying on the implementation-defined conversion of a large unsigned value.) */
static int64_t widen_time(uint32_t v, bool swapped)
{
    return swapped ? (int64_t)v : (int64_t)(v ^ 0x80000000u) - 0x80000000;
}

/* Takes the reading of src's records over from libpcap when the file is a classic pcap file
 * our reader reproduces libpcap's reading of exactly; otherwise (pcapng, the modified formats,
 * link types whose packets libpcap rewrites, a pipe, no memory) leaves src as it is. f is the
 * stream libpcap opened, positioned after the 24-byte file header. */
static void attach_reader(struct cap_source *src, FILE *f)
{
    int fd = fileno(f);
    struct stat st;
    /* ftello is where libpcap's reading stands (its stdio buffer has read further ahead) */
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ftello(f) != PCAP_FILE_HEADER) {
        return;
    }
    uint8_t head[PCAP_FILE_HEADER];
    if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head)) {
        return;
    }
    bool big_endian = false;
    uint32_t magic = le32(head);
    if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
        big_endian = true;
        magic = be32(head);
        if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
            return; /* pcapng, Kuznetzov's or Navtel's format: libpcap's */
        }
    }
    uint16_t major = field16(head + 4, big_endian);
    uint16_t minor = field16(head + 6, big_endian);
    if (major != 2 || minor > 4) {
        return; /* libpcap also reads DG/UX's 543.0; 2.5 and later it refused to open */
    }
    int linktype = pcap_datalink(src->pcap);
    /* the link types whose maximum caplen is not 262144 (128 MiB, 8 MiB and 1 MiB in 1.10,
     * other values in other versions): libpcap's, and our buffer stays under 257 KiB */
    if (linktype == DLT_DBUS || linktype == 279 /* DLT_EBHSCR */ ||
        linktype == 249 /* DLT_USBPCAP */) {
        return;
    }
    /* a file written in the other byte order: libpcap also byte-swaps the pseudo-headers of
     * some link types (USB, NFLOG, CAN in Linux cooked), in a list that grows between
     * versions; we read only those it leaves alone */
    if (pcap_is_swapped(src->pcap) && linktype != DLT_EN10MB && linktype != DLT_RAW &&
        linktype != DLT_IPV4 && linktype != DLT_IPV6 && linktype != DLT_NULL &&
        linktype != DLT_LOOP) {
        return;
    }
    int snapshot = pcap_snapshot(src->pcap);
    /* libpcap 1.10 takes any snapshot length from 1 to INT_MAX (0 and "negative" ones become
     * the maximum): one above the maximum caplen is allowed */
    if (snapshot <= 0) {
        return;
    }
    struct cap_file_reader *rd = calloc(1, sizeof(*rd));
    uint8_t *buffer = aligned_alloc(READ_ALIGN, READER_BUFFER);
    if (rd == NULL || buffer == NULL) {
        free(rd);
        free(buffer);
        return; /* libpcap reads it, as well */
    }
    rd->fd = fd;
    rd->buffer = buffer;
    rd->capacity = READER_BUFFER;
    rd->offset = PCAP_FILE_HEADER;
    rd->big_endian = big_endian;
    rd->swapped = pcap_is_swapped(src->pcap) != 0;
    rd->nanoseconds = magic == PCAP_MAGIC_NS;
    rd->lengths = minor < 3 ? LENGTHS_SWAPPED : minor == 3 ? LENGTHS_MAYBE_SWAPPED : LENGTHS_AS_IS;
    rd->snapshot = (uint32_t)snapshot;
    src->reader = rd;
}

static void free_reader(struct cap_file_reader *rd)
{
    if (rd != NULL) {
        free(rd->buffer);
        free(rd);
    }
}

/* Makes at least `need` unconsumed bytes available at buffer + start. Returns 0 when they are,
 * 1 at the end of the file with fewer (end - start says how many), -1 on a read error (errno
 * set), -2 out of memory. The bytes left are moved to the front (fewer than one record, so it is
 * cheap) and the rest of the buffer is filled: one pread per buffer, whatever the record sizes.
 *
 * Each pread lands at the same offset modulo READ_ALIGN in the buffer as in the file: the
 * kernel's copy out of the page cache (most of the time spent reading) runs several times
 * slower on some processors when the destination is a few bytes past the source's alignment
 * (as a malloc header in front of page-aligned reads would put it). */
static int reader_fill(struct cap_file_reader *rd, size_t need)
{
    size_t have = rd->end - rd->start;
    if (have >= need) {
        return 0;
    }
    uint64_t position = rd->offset - (uint64_t)have; /* file offset of buffer[start] */
    size_t front = (size_t)(position % READ_ALIGN);
    if (front + need > rd->capacity) {
        /* a record larger than the buffer (up to 16 + 262144 bytes): grow to hold it */
        size_t capacity = (front + need + READ_ALIGN - 1) / READ_ALIGN * READ_ALIGN;
        uint8_t *bigger = aligned_alloc(READ_ALIGN, capacity);
        if (bigger == NULL) {
            return -2;
        }
        memcpy(bigger + front, rd->buffer + rd->start, have);
        free(rd->buffer);
        rd->buffer = bigger;
        rd->capacity = capacity;
    } else if (rd->start != front) {
        memmove(rd->buffer + front, rd->buffer + rd->start, have);
    }
    rd->start = front;
    rd->end = front + have;
    while (rd->end - rd->start < need) {
        ssize_t got =
            pread(rd->fd, rd->buffer + rd->end, rd->capacity - rd->end, (off_t)rd->offset);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (got == 0) {
            return 1;
        }
        rd->end += (size_t)got;
        rd->offset += (uint64_t)got;
    }
    return 0;
}

/* libpcap's messages for a failed read (pcap_fmt_errmsg_for_errno) and a failed buffer growth
 * (grow_buffer); reader_fill's code rc. Returns -1. */
static int read_failed(int rc, char *msg, size_t msglen)
{
    if (rc == -2) {
        snprintf(msg, msglen, "out of memory");
    } else {
        snprintf(msg, msglen, "error reading dump file: %s", strerror(errno));
    }
    return -1;
}

/* Reads the next record as libpcap's pcap_next_packet does. Returns 1 with *hdr and *data
 * (valid until the next call), 0 at the end of the file, or -1 with libpcap's message. */
static int reader_next(struct cap_file_reader *rd, struct pcap_pkthdr *hdr, const uint8_t **data,
                       char *msg, size_t msglen)
{
    struct record_header rh;
    if (!parse_record_header(rd->buffer + rd->start, rd->end - rd->start, rd->big_endian, &rh)) {
        int rc = reader_fill(rd, PCAP_RECORD_HEADER);
        if (rc < 0) {
            return read_failed(rc, msg, msglen);
        }
        if (rc > 0) {
            size_t got = rd->end - rd->start;
            if (got == 0) {
                return 0; /* the end, between two records */
            }
            snprintf(msg, msglen,
                     "truncated dump file; tried to read %u header bytes, only got %zu",
                     (unsigned)PCAP_RECORD_HEADER, got);
            return -1;
        }
        if (!parse_record_header(rd->buffer + rd->start, rd->end - rd->start, rd->big_endian,
                                 &rh)) {
            snprintf(msg, msglen, "record header out of the read buffer"); /* not reached */
            return -1;
        }
    }
    uint32_t caplen = rh.caplen;
    uint32_t len = rh.len;
    if (rd->lengths == LENGTHS_SWAPPED || (rd->lengths == LENGTHS_MAYBE_SWAPPED && caplen > len)) {
        uint32_t t = caplen;
        caplen = len;
        len = t;
    }
    /* libpcap scales microseconds up in a long */
    hdr->ts.tv_sec = (time_t)widen_time(rh.sec, rd->swapped);
    hdr->ts.tv_usec =
        (suseconds_t)(widen_time(rh.frac, rd->swapped) * (rd->nanoseconds ? 1 : 1000));
    hdr->len = len;
    /* a damaged or fuzzed file: libpcap names the snapshot length when caplen is above it
     * too, the maximum when the file's snapshot length is itself above the maximum */
    if (caplen > LIBPCAP_MAX_CAPLEN) {
        if (caplen > rd->snapshot) {
            snprintf(msg, msglen, "invalid packet capture length %u, bigger than snaplen of %d",
                     caplen, (int)rd->snapshot);
        } else {
            snprintf(msg, msglen, "invalid packet capture length %u, bigger than maximum of %u",
                     caplen, LIBPCAP_MAX_CAPLEN);
        }
        return -1;
    }
    size_t record = PCAP_RECORD_HEADER + (size_t)caplen;
    int rc = rd->end - rd->start >= record ? 0 : reader_fill(rd, record);
    if (rc < 0) {
        return read_failed(rc, msg, msglen);
    }
    if (rc > 0) {
        /* libpcap reads up to the snapshot length first and then the rest, and names the
         * length of the read that came short */
        size_t got = rd->end - rd->start - PCAP_RECORD_HEADER;
        uint32_t tried = caplen > rd->snapshot && got < rd->snapshot ? rd->snapshot : caplen;
        snprintf(msg, msglen, "truncated dump file; tried to read %u captured bytes, only got %zu",
                 tried, got);
        return -1;
    }
    /* a caplen above the file's snapshot length: the whole record was read, the packet is cut
     * to the snapshot length (libpcap's guard for callers with snapshot-sized buffers) */
    hdr->caplen = caplen > rd->snapshot ? rd->snapshot : caplen;
    *data = rd->buffer + rd->start + PCAP_RECORD_HEADER;
    rd->start += record;
    return 1;
}

/* The bytes of the file consumed: up to the end of the record last read. */
static uint64_t reader_position(const struct cap_file_reader *rd)
{
    return rd->offset - (uint64_t)(rd->end - rd->start);
}

bool cap_reads_itself(const struct cap_source *src)
{
    return src->reader != NULL;
}

struct cap_source *cap_source_new(pcap_t *pcap, const char *name, uint64_t size)
{
    struct cap_source *src = calloc(1, sizeof(*src));
    char *copy = strdup(name);
    if (src == NULL || copy == NULL) {
        free(src);
        free(copy);
        pcap_close(pcap);
        return NULL;
    }
    src->pcap = pcap;
    src->name = copy;
    src->size = size;
    src->linktype = pcap_datalink(pcap);
    return src;
}

void cap_packet_from(struct cap_packet *pkt, const struct pcap_pkthdr *hdr, const u_char *data,
                     int linktype)
{
    /* pcapng's 64-bit timestamps reach far beyond what int64 nanoseconds hold: clamp the
     * seconds to +-2^32 (136 years around 1970; pcap's own 32-bit field is within), so that
     * no time arithmetic, here or in the flow engine, can overflow */
    const int64_t lim = (int64_t)1 << 32;
    int64_t sec = (int64_t)hdr->ts.tv_sec;
    sec = sec < -lim ? -lim : sec > lim ? lim : sec;
    pkt->ts_ns = sec * 1000000000 + (int64_t)hdr->ts.tv_usec;
    pkt->caplen = hdr->caplen;
    pkt->wirelen = hdr->len < hdr->caplen ? hdr->caplen : hdr->len;
    pkt->data = data;
    pkt->linktype = linktype;
}

int cap_set_filter(struct cap_source *src, const char *expression, char *errbuf, size_t errlen)
{
    struct bpf_program prog;
    int rc = cap_compile_filter(src->pcap, &prog, NULL, expression, errbuf, errlen);
    if (rc != 0) {
        return rc;
    }
    /* set on the handle even when our reader applies it: the same checks, the same errors */
    rc = pcap_setfilter(src->pcap, &prog);
    if (rc != 0) {
        pcap_freecode(&prog);
        snprintf(errbuf, errlen, "filter '%s': %s", expression, pcap_geterr(src->pcap));
        return -CAP_ERR_FILTER;
    }
    if (src->reader == NULL) {
        pcap_freecode(&prog); /* libpcap made its own copy */
        return 0;
    }
    if (src->has_filter) {
        pcap_freecode(&src->filter); /* replaced, as pcap_setfilter replaces */
    }
    src->filter = prog; /* freed by cap_close */
    src->has_filter = true;
    return 0;
}

uint64_t cap_size(const struct cap_source *src)
{
    return src->size;
}

uint64_t cap_position(const struct cap_source *src)
{
    if (src->reader != NULL) {
        return reader_position(src->reader);
    }
    FILE *f = pcap_file(src->pcap); /* NULL for a live handle */
    if (f == NULL) {
        return 0;
    }
    off_t pos = ftello(f);
    return pos > 0 ? (uint64_t)pos : 0;
}

/* cap_loop for a source our reader reads: pcap_next_ex's loop (pcap_offline_read), with the
 * filter applied as libpcap applies it and the records it rejects skipped uncounted. */
static int reader_loop(struct cap_source *src, cap_packet_fn fn, void *user, char *errbuf,
                       size_t errlen)
{
    struct cap_file_reader *rd = src->reader;
    char msg[PCAP_ERRBUF_SIZE];
    for (;;) {
        struct pcap_pkthdr hdr;
        const uint8_t *data = NULL;
        int rc = reader_next(rd, &hdr, &data, msg, sizeof(msg));
        if (rc == 0) {
            return 0;
        }
        if (rc < 0) {
            snprintf(errbuf, errlen, "%s: damaged after record %llu: %s", src->name,
                     (unsigned long long)src->count, msg);
            return -CAP_ERR_READ;
        }
        if (src->has_filter && pcap_offline_filter(&src->filter, &hdr, data) == 0) {
            continue;
        }
        src->count++;
        struct cap_packet pkt;
        cap_packet_from(&pkt, &hdr, data, src->linktype);
        int stop = fn(&pkt, user);
        if (stop != 0) {
            return stop;
        }
    }
}

int cap_loop(struct cap_source *src, cap_packet_fn fn, void *user, char *errbuf, size_t errlen)
{
    if (src->reader != NULL) {
        return reader_loop(src, fn, user, errbuf, errlen);
    }
    struct pcap_pkthdr *hdr;
    const u_char *data;
    for (;;) {
        int rc = pcap_next_ex(src->pcap, &hdr, &data);
        if (rc == PCAP_ERROR_BREAK) {
            return 0;
        }
        if (rc == PCAP_ERROR) {
            snprintf(errbuf, errlen, "%s: damaged after record %llu: %s", src->name,
                     (unsigned long long)src->count, pcap_geterr(src->pcap));
            return -CAP_ERR_READ;
        }
        if (rc != 1) {
            continue; /* 0: live timeout, not for files */
        }
        src->count++;
        struct cap_packet pkt;
        cap_packet_from(&pkt, hdr, data, src->linktype);
        int stop = fn(&pkt, user);
        if (stop != 0) {
            return stop;
        }
    }
}

void cap_close(struct cap_source *src)
{
    if (src == NULL) {
        return;
    }
    if (src->dumper != NULL) {
        pcap_dump_close(src->dumper);
    }
    if (src->has_filter) {
        pcap_freecode(&src->filter);
    }
    free_reader(src->reader); /* before pcap_close closes the descriptor it reads */
    pcap_close(src->pcap);
    free(src->buffer);
    free(src->name);
    free(src);
}

long cap_copy_packets(const char *const *paths, size_t path_count, const uint32_t *numbers,
                      size_t count, const char *out_path, char *errbuf, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE];
    pcap_dumper_t *dumper = NULL;
    pcap_t *first = NULL;
    uint64_t number = 0;
    size_t next = 0;
    long written = 0;
    int linktype = -1;
    for (size_t f = 0; f < path_count; f++) {
        pcap_t *pcap =
            pcap_open_offline_with_tstamp_precision(paths[f], PCAP_TSTAMP_PRECISION_NANO, pcap_err);
        if (pcap == NULL) {
            snprintf(errbuf, errlen, "%s: %s", paths[f], pcap_err);
            written = -CAP_ERR_OPEN;
            break;
        }
        if (dumper == NULL) {
            linktype = pcap_datalink(pcap);
            dumper = pcap_dump_open(pcap, out_path);
            if (dumper == NULL) {
                snprintf(errbuf, errlen, "cannot write '%s': %s", out_path, pcap_geterr(pcap));
                pcap_close(pcap);
                written = -CAP_ERR_SAVE;
                break;
            }
            first = pcap; /* the dumper's header came from it: keep it open */
        } else if (pcap_datalink(pcap) != linktype) {
            snprintf(errbuf, errlen,
                     "%s: link type differs from the first file's; one pcap file cannot hold "
                     "both",
                     paths[f]);
            pcap_close(pcap);
            written = -CAP_ERR_LINKTYPE;
            break;
        }
        struct pcap_pkthdr *hdr;
        const u_char *data;
        while (next < count && pcap_next_ex(pcap, &hdr, &data) == 1) {
            number++;
            if (number == numbers[next]) {
                pcap_dump((u_char *)dumper, hdr, data);
                written++;
                while (next < count && numbers[next] <= number) {
                    next++;
                }
            }
        }
        if (pcap != first) {
            pcap_close(pcap);
        }
        if (next == count) {
            break;
        }
    }
    if (dumper != NULL) {
        /* pcap_dump() cannot report a failed write (a full disk): the stream's error flag
         * remembers it, and the last flush may well succeed */
        if ((pcap_dump_flush(dumper) != 0 || ferror(pcap_dump_file(dumper))) && written >= 0) {
            snprintf(errbuf, errlen, "writing '%s' failed: %s", out_path, strerror(errno));
            written = -CAP_ERR_SAVE;
        }
        pcap_dump_close(dumper);
    }
    if (first != NULL) {
        pcap_close(first);
    }
    return written;
}
