/* capture.h - packet sources (pcap/pcapng files, stdin, live interfaces) and the privilege
 * drop after they are open: the only module that knows libpcap. */
#ifndef SYNSCOPE_CAPTURE_H
#define SYNSCOPE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CAP_ERRBUF_SIZE 512

/* Error codes (negative returns). */
enum cap_error {
    CAP_ERR_OPEN = 1, /* the file could not be opened or is not a capture */
    CAP_ERR_LINKTYPE, /* link type that decode/ cannot read */
    CAP_ERR_FILTER,   /* BPF expression did not compile or could not be set */
    CAP_ERR_READ,     /* error while reading (truncated record, I/O error) */
    CAP_ERR_NOMEM,
    CAP_ERR_PERM,      /* not allowed to capture (needs root or CAP_NET_RAW/CAP_NET_ADMIN) */
    CAP_ERR_NO_DEVICE, /* no such interface (errbuf lists those that exist) */
    CAP_ERR_PRIV,      /* the privilege drop failed */
    CAP_ERR_SAVE,      /* the save file could not be written */
};

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

/* Like cap_open_file, for an already open stream (the fuzz targets read a capture held in
 * memory through fmemopen). The source takes f over: cap_close closes it, and so does a failed
 * open. name is used in messages only. */
int cap_open_stream(struct cap_source **out, FILE *f, const char *name,
                    int (*supported)(int linktype), char *errbuf, size_t errlen);

/* Compiles and sets a BPF filter. An expression that names no encapsulation (vlan, mpls, ...)
 * also selects the frames with one or two VLAN tags that it would select untagged ("host X"
 * is X's packets, tagged or not); one that does is applied as written. Returns 0 or
 * -CAP_ERR_FILTER with libpcap's message. */
int cap_set_filter(struct cap_source *src, const char *expression, char *errbuf, size_t errlen);

/* Reads packets until the end, an error, or a non-zero return from fn.
 * Returns 0 at the end of the input, the callback's non-zero value if it stopped the loop, or
 * -CAP_ERR_READ with the message (naming the file and the record) in errbuf. Packets before
 * the damage were delivered. */
int cap_loop(struct cap_source *src, cap_packet_fn fn, void *user, char *errbuf, size_t errlen);

/* Input size in bytes: the size of a regular file, 0 when unknown (stdin, a pipe, live). */
uint64_t cap_size(const struct cap_source *src);

/* Bytes of an offline source consumed so far: exactly the end of the record last delivered
 * for a classic pcap file (read by capture/ itself), else the offset of libpcap's stream,
 * which runs ahead by at most one stdio buffer. 0 when unknown (live, or a stream that
 * cannot tell its offset such as a pipe). Only from the thread reading src. */
uint64_t cap_position(const struct cap_source *src);

/* ---- live capture ------------------------------------------------------------------------ */

struct cap_live_config {
    const char *interface; /* interface name, or "any" */
    const char *filter;    /* the user's BPF expression, and-ed with synscope's; NULL: none */
    int snaplen;           /* bytes kept per packet (headers only) */
    int buffer_bytes;      /* kernel capture buffer */
    const char *save_path; /* also write the captured packets to this pcap file; NULL: none */
};

/* The BPF expression of the kernel filter that passes only what the verdicts need: SYN,
 * SYN-ACK, FIN, RST, ICMP and ICMPv6 errors, ARP and neighbour discovery, in IPv4 and IPv6, as
 * written for an untagged frame; cap_open_live applies it (and the user's expression) to
 * frames with one or two VLAN tags too. */
const char *cap_handshake_filter(void);

/* Opens a live capture in immediate mode with synscope's filter (and the user's) set, and the
 * save file open. Returns 0, or a negative cap_error with a one-line message in errbuf:
 * CAP_ERR_PERM (how to get the privilege), CAP_ERR_NO_DEVICE (the interfaces that exist),
 * CAP_ERR_FILTER (libpcap's message). */
int cap_open_live(struct cap_source **out, const struct cap_live_config *cfg,
                  int (*supported)(int linktype), char *errbuf, size_t errlen);

/* Called between batches of packets, at least every poll_ms; a non-zero return stops the loop
 * (cap_loop_live then returns that value). */
typedef int (*cap_tick_fn)(void *user);

/* Reads a live source until tick or fn stops it, or an error (the interface went down:
 * -CAP_ERR_READ with the message). Packets are written to the save file before fn sees
 * them; the save file is flushed at every tick. */
int cap_loop_live(struct cap_source *src, cap_packet_fn fn, cap_tick_fn tick, void *user,
                  int poll_ms, char *errbuf, size_t errlen);

/* Kernel counters of a live source (pcap_stats). */
struct cap_stats {
    uint64_t received;   /* packets that passed the filter */
    uint64_t dropped;    /* dropped by the kernel for lack of buffer space */
    uint64_t if_dropped; /* dropped by the interface or its driver */
};
int cap_get_stats(struct cap_source *src, struct cap_stats *stats, char *errbuf, size_t errlen);

/* live and probe, once every handle is open: gives up every privilege, whatever the way in.
 * Started as root: becomes USER (initgroups, setgid, setuid; checked). Not root but with
 * capabilities (setcap on the binary, ambient ones): stays the caller, as changing user needs
 * root; a USER that is not the caller does not apply (said tells). Either way, afterwards no
 * capability is left in any set (checked with capget), root cannot be had back, and
 * no_new_privs is set. USER "root", started as root, is the opt-out: nothing is dropped.
 * said (CAP_ERRBUF_SIZE bytes hold any of them) receives what is now the case, for the
 * start-up message ("nobody (uid 65534), no capabilities", "alice (uid 1000), capabilities
 * dropped", "root, privileges kept (-Z root)"). Returns 0, or -CAP_ERR_PRIV with the reason
 * in errbuf (the caller must then stop before reading any packet). See cap_priv.c. */
int cap_drop_privileges(const char *user, char *said, size_t saidlen, char *errbuf, size_t errlen);

/* live and probe, before anything is opened, in every case (-Z root included): closes every
 * descriptor beyond standard input, output and error, so that none inherited from the parent
 * is reachable once the privileges are dropped. */
void cap_close_inherited(void);

void cap_close(struct cap_source *src);

/* Copies the packets with the given 1-based numbers (sorted; numbering runs on across the
 * files, as when they were read) from the capture files into a new pcap file at out_path.
 * All files must share a link type. Returns the number of packets written, or a negative
 * cap_error with a one-line message in errbuf. */
long cap_copy_packets(const char *const *paths, size_t path_count, const uint32_t *numbers,
                      size_t count, const char *out_path, char *errbuf, size_t errlen);

#endif
