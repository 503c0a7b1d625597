/* cap_filter.c - the BPF expression a capture is filtered with: synscope's own (live) and the
 * user's, on untagged frames and on frames with one or two VLAN tags. */
#include "cap_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpcap keywords after which every offset moves past an encapsulation header, for the
 * rest of the expression (pcap-filter(7): "vlan", "mpls", "pppoes", "geneve"; vxlan from
 * libpcap 1.11). An expression that uses one says itself where its packets sit. */
static const char *const shifting_keywords[] = {"vlan", "mpls", "pppoes", "geneve", "vxlan"};

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':';
}

bool cap_filter_names_encapsulation(const char *expression)
{
    /* a word is what can make one token: "mpls-gw" is a host name, not the keyword */
    const char *p = expression;
    while (*p != '\0') {
        if (!is_word_char(*p)) {
            p++;
            continue;
        }
        const char *word = p;
        while (is_word_char(*p)) {
            p++;
        }
        size_t len = (size_t)(p - word);
        for (size_t i = 0; i < sizeof(shifting_keywords) / sizeof(shifting_keywords[0]); i++) {
            if (strlen(shifting_keywords[i]) == len &&
                strncasecmp(word, shifting_keywords[i], len) == 0) {
                return true;
            }
        }
    }
    return false;
}

static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) {
        return NULL;
    }
    char *text = malloc((size_t)len + 1);
    if (text == NULL) {
        return NULL;
    }
    va_start(ap, fmt);
    (void)vsnprintf(text, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return text;
}

char *cap_filter_expression(const char *ours, const char *user, bool tagged)
{
    bool has_user = user != NULL && user[0] != '\0';
    if (!has_user && ours == NULL) {
        return NULL;
    }
    if (has_user && cap_filter_names_encapsulation(user)) {
        /* "vlan 100": the user's expression first, so that ours is compiled for the frames
         * it selected (the keyword moves the offsets of what follows it). */
        return ours != NULL ? format("(%s) and (%s)", user, ours) : format("%s", user);
    }
    char *one = has_user && ours != NULL ? format("(%s) and (%s)", ours, user)
                                         : format("%s", has_user ? user : ours);
    if (one == NULL || !tagged) {
        return one;
    }
    /* The vlan keyword moves the offsets of everything after it, so the same expression is
     * written three times: untagged, after one tag, after two (802.1Q or QinQ). On Linux the
     * first vlan tests the tag the kernel took off the frame too (libpcap's BPF extensions). */
    char *all = format("(%s) or (vlan and ((%s) or (vlan and (%s))))", one, one, one);
    free(one);
    return all;
}

int cap_compile_filter(pcap_t *pcap, struct bpf_program *prog, const char *ours, const char *user,
                       char *errbuf, size_t errlen)
{
    bool has_user = user != NULL && user[0] != '\0';
    if (has_user) {
        /* the user's expression alone first, so that its error message is about it */
        if (pcap_compile(pcap, prog, user, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(errbuf, errlen, "filter '%s': %s", user, pcap_geterr(pcap));
            return -CAP_ERR_FILTER;
        }
        pcap_freecode(prog);
    }
    /* Link types that cannot carry a tag in the frame (Linux cooked `any`, raw IP, BSD
     * loopback) do not accept the vlan keyword: then the untagged expression alone. */
    int rc = -1;
    for (int tagged = 1; tagged >= 0 && rc != 0; tagged--) {
        char *expr = cap_filter_expression(ours, user, tagged != 0);
        if (expr == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return -CAP_ERR_NOMEM;
        }
        rc = pcap_compile(pcap, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
        free(expr);
    }
    if (rc != 0) {
        if (has_user) {
            snprintf(errbuf, errlen, "filter '%s': %s", user, pcap_geterr(pcap));
        } else {
            snprintf(errbuf, errlen, "filter: %s", pcap_geterr(pcap));
        }
        return -CAP_ERR_FILTER;
    }
    return 0;
}
