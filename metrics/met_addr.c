/* met_addr.c - the listening address of --metrics: "ADDR:PORT" or "[ADDR]:PORT", and the
 * "IP:PORT" label value of a server. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_int.h"

static int parse_port(const char *text, const char *whole, uint16_t *out, char *errbuf)
{
    char *end = NULL;
    if (*text < '0' || *text > '9') {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics address '%s': no port after the ':'", whole);
        return -MET_ERR_ADDR;
    }
    unsigned long port = strtoul(text, &end, 10);
    if (*end != '\0' || port > 65535 || end - text > 5) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics address '%s': port '%s' is not 0 to 65535",
                 whole, text);
        return -MET_ERR_ADDR;
    }
    *out = (uint16_t)port;
    return 0;
}

int met_addr_parse(const char *text, struct met_addr *out, char *errbuf)
{
    char host[64];
    const char *port_text;
    memset(out, 0, sizeof *out);
    if (strlen(text) > 80) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics address too long (ADDR:PORT or [ADDR]:PORT)");
        return -MET_ERR_ADDR;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(errbuf, MET_ERRBUF_SIZE,
                     "metrics address '%s': an IPv6 address is written [ADDR]:PORT", text);
            return -MET_ERR_ADDR;
        }
        size_t len = (size_t)(close - text - 1);
        if (len >= sizeof host) {
            len = sizeof host - 1;
        }
        memcpy(host, text + 1, len);
        host[len] = '\0';
        port_text = close + 2;
        out->family = 6;
        if (inet_pton(AF_INET6, host, out->addr) != 1) {
            snprintf(errbuf, MET_ERRBUF_SIZE, "metrics address '%s': '%s' is not an IPv6 address",
                     text, host);
            return -MET_ERR_ADDR;
        }
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(errbuf, MET_ERRBUF_SIZE,
                     "metrics address '%s': no port (ADDR:PORT, e.g. 127.0.0.1:9911)", text);
            return -MET_ERR_ADDR;
        }
        if (strchr(text, ':') != colon) {
            snprintf(errbuf, MET_ERRBUF_SIZE,
                     "metrics address '%s': an IPv6 address is written [ADDR]:PORT", text);
            return -MET_ERR_ADDR;
        }
        size_t len = (size_t)(colon - text);
        if (len >= sizeof host) {
            len = sizeof host - 1;
        }
        memcpy(host, text, len);
        host[len] = '\0';
        port_text = colon + 1;
        out->family = 4;
        if (inet_pton(AF_INET, host, out->addr) != 1) {
            snprintf(errbuf, MET_ERRBUF_SIZE,
                     "metrics address '%s': '%s' is not an IPv4 address (names are not looked up)",
                     text, host);
            return -MET_ERR_ADDR;
        }
    }
    return parse_port(port_text, text, &out->port, errbuf);
}

bool met_addr_is_loopback(const struct met_addr *addr)
{
    static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (addr->family == 4) {
        return addr->addr[0] == 127;
    }
    if (memcmp(addr->addr, loopback6, 16) == 0) {
        return true;
    }
    return memcmp(addr->addr, mapped, 12) == 0 && addr->addr[12] == 127;
}

static void format_ip_port(uint8_t family, const uint8_t *ip, uint16_t port, char *buf, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    if (family == 6) {
        inet_ntop(AF_INET6, ip, text, sizeof text);
        snprintf(buf, cap, "[%s]:%u", text, port);
    } else {
        inet_ntop(AF_INET, ip, text, sizeof text);
        snprintf(buf, cap, "%s:%u", text, port);
    }
}

void met_addr_format(const struct met_addr *addr, char *buf, size_t cap)
{
    format_ip_port(addr->family, addr->addr, addr->port, buf, cap);
}

void met_key_format(const struct met_key *key, char *buf, size_t cap)
{
    format_ip_port(key->family, key->addr, key->port, buf, cap);
}
