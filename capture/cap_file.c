/* cap_file.c - offline packet sources: pcap and pcapng files and standard input (libpcap). */
#include "cap_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const cap_error_names[] = {
    [CAP_ERR_OPEN] = "open", [CAP_ERR_LINKTYPE] = "link type",  [CAP_ERR_FILTER] = "filter",
    [CAP_ERR_READ] = "read", [CAP_ERR_NOMEM] = "out of memory",
};

const char *cap_strerror(int code)
{
    if (code < 0) {
        code = -code;
    }
    if (code <= 0 || (size_t)code >= sizeof(cap_error_names) / sizeof(cap_error_names[0]) ||
        cap_error_names[code] == NULL) {
        return "unknown error";
    }
    return cap_error_names[code];
}

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

int cap_open_file(struct cap_source **out, const char *path, int (*supported)(int linktype),
                  char *errbuf, size_t errlen)
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
     * default (the 4 KiB block size) reading a big capture is one read() per 4 KiB; 64 KiB
     * took the least system time on the 1M bench file (1 MiB took more: the copy then
     * sweeps the whole L2 cache) */
    static char stdin_buffer[READ_BUFFER]; /* standard input's, for the whole run */
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        snprintf(pcap_err, sizeof(pcap_err), "%s: %s", path, strerror(errno)); /* as libpcap */
        return open_pcap(out, NULL, pcap_err, name, size, supported, errbuf, errlen);
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
    if (pcap_compile(src->pcap, &prog, expression, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, errlen, "filter '%s': %s", expression, pcap_geterr(src->pcap));
        return -CAP_ERR_FILTER;
    }
    int rc = pcap_setfilter(src->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(errbuf, errlen, "filter '%s': %s", expression, pcap_geterr(src->pcap));
        return -CAP_ERR_FILTER;
    }
    return 0;
}

int cap_linktype(const struct cap_source *src)
{
    return src->linktype;
}

uint64_t cap_size(const struct cap_source *src)
{
    return src->size;
}

uint64_t cap_position(const struct cap_source *src)
{
    FILE *f = pcap_file(src->pcap); /* NULL for a live handle */
    if (f == NULL) {
        return 0;
    }
    off_t pos = ftello(f);
    return pos > 0 ? (uint64_t)pos : 0;
}

int cap_loop(struct cap_source *src, cap_packet_fn fn, void *user, char *errbuf, size_t errlen)
{
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
