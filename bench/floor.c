/* floor.c - the benchmark's reference: a bare libpcap read loop (pcap_next_ex) that only
 * counts packets and TCP SYN flags (no decoding beyond one offset check), on one thread. It
 * measures libpcap's own reading speed on the file, not a limit: a reader that does less per
 * record than libpcap (synscope's own pcap reader, for one) or spreads the work over several
 * threads can be faster, so figures relative to it compare with "what tcpdump-like tools pay
 * to read the file", not with a lower bound.  usage: floor FILE.pcap */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: floor FILE.pcap\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (p == NULL) {
        fprintf(stderr, "floor: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long long packets = 0, syns = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        packets++;
        /* Ethernet + IPv4 without options: TCP flags at 14 + 20 + 13 */
        if (h->caplen > 47 && d[12] == 0x08 && d[13] == 0 && d[23] == 6 && (d[47] & 0x02)) {
            syns++;
        }
    }
    pcap_close(p);
    printf("%llu packets, %llu IPv4 SYNs\n", packets, syns);
    return rc == PCAP_ERROR ? 1 : 0;
}
