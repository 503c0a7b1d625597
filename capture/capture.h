/* capture.h - packet sources (pcap/pcapng files, stdin): the only module that knows libpcap. */
#ifndef SYNSCOPE_CAPTURE_H
#define SYNSCOPE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define CAP_ERRBUF_SIZE 512

/* Error codes (negative returns). */
enum cap_error {
    CAP_ERR_OPEN = 1, /* the file could not be opened or is not a capture */
    CAP_ERR_LINKTYPE, /* link type that decode/ cannot read */
    CAP_ERR_FILTER,   /* BPF expression did not compile or could not be set */
    CAP_ERR_READ,     /* error while reading (truncated record, I/O error) */
    CAP_ERR_NOMEM,
};

/* Name of an error code ("open", "read", ...). */
const char *cap_strerror(int code);

/* One captured packet, valid only during the callback. */
struct cap_packet {
    int64_t ts_ns;       /* capture time, nanoseconds since the epoch */
    uint32_t caplen;     /* bytes captured */
    uint32_t wirelen;    /* bytes on the wire */
    const uint8_t *data; /* caplen bytes */
    int linktype;        /* DLT_ value */
};

/* Return a non-zero value to stop the loop (cap_loop then returns that value). */
typedef int (*cap_packet_fn)(const struct cap_packet *pkt, void *user);

struct cap_source;

/* Opens a pcap or pcapng file; "-" reads standard input. Checks that the link type is one
 * decode/ supports (supported(linktype) returns non-zero); CAP_ERR_LINKTYPE names it if not.
 * Returns 0 and *out, or a negative cap_error with a one-line message in errbuf. */
int cap_open_file(struct cap_source **out, const char *path, int (*supported)(int linktype),
                  char *errbuf, size_t errlen);

/* Compiles and sets a BPF filter. Returns 0 or -CAP_ERR_FILTER with libpcap's message. */
int cap_set_filter(struct cap_source *src, const char *expression, char *errbuf, size_t errlen);

/* The source's link type (DLT_ value) and libpcap's name for it. */
int cap_linktype(const struct cap_source *src);

/* Reads packets until the end, an error, or a non-zero return from fn.
 * Returns 0 at the end of the input, the callback's non-zero value if it stopped the loop, or
 * -CAP_ERR_READ with the message (naming the file and the record) in errbuf. Packets before
 * the damage were delivered. */
int cap_loop(struct cap_source *src, cap_packet_fn fn, void *user, char *errbuf, size_t errlen);

/* Input size in bytes (0 when unknown, e.g. stdin) and bytes consumed so far. */
uint64_t cap_size(const struct cap_source *src);

void cap_close(struct cap_source *src);

#endif
