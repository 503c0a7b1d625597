/* hev_err.c - names of host/'s inventory error codes. */
#include "hev_err.h"

const char *hev_strerror(int code)
{
    static const char *const names[] = {
        [HEV_ERR_SOCKET] = "socket", [HEV_ERR_SEND] = "send",    [HEV_ERR_RECV] = "receive",
        [HEV_ERR_KERNEL] = "kernel", [HEV_ERR_PARSE] = "parse",  [HEV_ERR_NOMEM] = "out of memory",
        [HEV_ERR_PROC] = "proc",     [HEV_ERR_ARG] = "argument", [HEV_ERR_FULL] = "table full",
    };
    if (code < 0) {
        code = -code;
    }
    if (code <= 0 || (size_t)code >= sizeof(names) / sizeof(names[0]) || !names[code]) {
        return "unknown";
    }
    return names[code];
}
