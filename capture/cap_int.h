/* cap_int.h - capture/'s private source structure, shared by its files. */
#ifndef SYNSCOPE_CAP_INT_H
#define SYNSCOPE_CAP_INT_H

#include <stdbool.h>

#include <pcap/pcap.h>

#include "capture.h"

/* Our own reader of classic pcap records (cap_file.c); NULL in a source libpcap reads. */
struct cap_file_reader;

struct cap_source {
    pcap_t *pcap;
    pcap_dumper_t *dumper; /* live: the save file, or NULL */
    char *name;            /* path or interface, for messages */
    uint64_t size;         /* file size, 0 for stdin and live */
    uint64_t count;        /* records delivered so far (those the filter passed) */
    int linktype;
    char *buffer; /* the stream's stdio buffer (files we opened), freed after it */
    struct cap_file_reader *reader; /* reads the records of a classic pcap file, or NULL */
    struct bpf_program filter;      /* the reader's filter (libpcap keeps its own copy) */
    bool has_filter;
};

/* How cap_open_file_with reads a classic pcap file. */
enum cap_file_reading {
    CAP_READ_AUTO,    /* our reader when the file allows it (what cap_open_file does) */
    CAP_READ_LIBPCAP, /* always libpcap's: the reference the tests compare our reader with */
};

/* cap_open_file, with the choice of reader. */
int cap_open_file_with(struct cap_source **out, const char *path, int (*supported)(int linktype),
                       enum cap_file_reading how, char *errbuf, size_t errlen);

/* True when src's records are read by our reader rather than libpcap's. */
bool cap_reads_itself(const struct cap_source *src);

/* Allocates a source for an open handle (which it then owns). NULL when out of memory. */
struct cap_source *cap_source_new(pcap_t *pcap, const char *name, uint64_t size);

/* ---- filters (cap_filter.c) ---- */

/* True when EXPRESSION uses a keyword after which libpcap moves every offset past an
 * encapsulation header (vlan, mpls, pppoes, geneve, vxlan): it then says itself where its
 * packets sit, and is applied as written. */
bool cap_filter_names_encapsulation(const char *expression);

/* The expression a capture is filtered with: OURS (synscope's, or NULL) and-ed with USER (or
 * NULL), for untagged frames and, when TAGGED, for frames with one or two VLAN tags too (a
 * USER that names an encapsulation is applied as written, followed by OURS). NULL when both
 * are NULL or out of memory; the caller frees it. */
char *cap_filter_expression(const char *ours, const char *user, bool tagged);

/* Compiles cap_filter_expression(OURS, USER) for PCAP's link type: the tagged form where the
 * link type accepts the vlan keyword, else the untagged one. USER is first compiled alone, so
 * a mistake in it is reported as "filter 'USER': libpcap's message". Returns 0 and *PROG (the
 * caller frees it with pcap_freecode), or -CAP_ERR_FILTER / -CAP_ERR_NOMEM with errbuf. */
int cap_compile_filter(pcap_t *pcap, struct bpf_program *prog, const char *ours, const char *user,
                       char *errbuf, size_t errlen);

/* Converts a libpcap header into a cap_packet. */
void cap_packet_from(struct cap_packet *pkt, const struct pcap_pkthdr *hdr, const u_char *data,
                     int linktype);

#endif
