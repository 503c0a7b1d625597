/* hev_err.h - the error codes of host/'s inventory (listeners, owners, counters, local
 * addresses): negative returns, each with its name, as capture/'s cap_error. */
#ifndef SYNSCOPE_HEV_ERR_H
#define SYNSCOPE_HEV_ERR_H

#include <stddef.h>

#define HEV_ERRBUF_SIZE 256

/* Error codes (functions return 0 or more, or the negative of one of these, with a one-line
 * message in the caller's errbuf). */
enum hev_err {
    HEV_ERR_SOCKET = 1, /* a netlink socket could not be opened or bound */
    HEV_ERR_SEND,       /* a request could not be sent */
    HEV_ERR_RECV,       /* no answer (timeout, socket error) */
    HEV_ERR_KERNEL,     /* the kernel answered the request with an error (errno in errbuf) */
    HEV_ERR_PARSE,      /* an answer or a /proc file was not what it must be */
    HEV_ERR_NOMEM,
    HEV_ERR_PROC, /* a /proc file could not be opened or read */
    HEV_ERR_ARG,  /* an argument out of range (family, size) */
    HEV_ERR_FULL, /* a table reached its fixed limit; what fits was kept */
};

/* Name of an error code ("socket", "kernel", ...); "unknown" for any other value. Accepts the
 * code with either sign. */
const char *hev_strerror(int code);

#endif
