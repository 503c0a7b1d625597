/* cap_int.h - capture/'s private source structure, shared by its files. */
#ifndef SYNSCOPE_CAP_INT_H
#define SYNSCOPE_CAP_INT_H

#include <pcap/pcap.h>

#include "capture.h"

struct cap_source {
    pcap_t *pcap;
    pcap_dumper_t *dumper; /* live: the save file, or NULL */
    char *name;            /* path or interface, for messages */
    uint64_t size;         /* file size, 0 for stdin and live */
    uint64_t count;        /* records read so far */
    int linktype;
    char *buffer; /* the stream's stdio buffer (files we opened), freed after it */
};

/* Allocates a source for an open handle (which it then owns). NULL when out of memory. */
struct cap_source *cap_source_new(pcap_t *pcap, const char *name, uint64_t size);

/* Converts a libpcap header into a cap_packet. */
void cap_packet_from(struct cap_packet *pkt, const struct pcap_pkthdr *hdr, const u_char *data,
                     int linktype);

#endif
