/* hev_test_net.h - what the host inventory tests share: a network namespace of the test's
 * own, listening sockets made to order, a real connect() to check an answer against the
 * kernel. Header-only (static inline), as tests/host builds each test_*.c on its own. */
#ifndef SYNSCOPE_HEV_TEST_NET_H
#define SYNSCOPE_HEV_TEST_NET_H

/* the including file defines _GNU_SOURCE first (unshare, CLONE_NEWNET) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hev_listen.h"

/* The test namespace's addresses: on ssE-v0, one end of a veth pair whose other end, ssE-v1,
 * is up too (a veth has carrier only when both ends are up). */
#define HEVT_V4 "10.0.0.1"
#define HEVT_V4_OTHER "10.0.0.2" /* on no device */
#define HEVT_V6 "2001:db8::1"
#define HEVT_DEV "ssE-v0"

/* Runs a shell command (formatted); its exit status, or -1. */
static inline int hevt_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        return -1;
    }
    int status = system(cmd);
    return status == -1 ? -1 : (status & 0xff00) >> 8;
}

/* Waits (at most 2 s) until the kernel routes addr as a local address: an IPv6 address is
 * made local by a work queue after `ip addr add ... nodad` has returned. 0, or -1. */
static inline int hevt_wait_local(int family, const char *addr)
{
    for (int i = 0; i < 200; i++) {
        if (hevt_sh("ip -%d route get %s 2>/dev/null | grep -q '^local '",
                    family == AF_INET ? 4 : 6, addr) == 0) {
            return 0;
        }
        usleep(10000);
    }
    fprintf(stderr, "%s never became a local address\n", addr);
    return -1;
}

/* Moves the calling process (a Criterion test runs in a process of its own) into a new
 * network namespace with lo up and ssE-v0 holding HEVT_V4/24 and HEVT_V6/64. The namespace has
 * no name and dies with the process, so no exit path (a failed assertion, a crash) leaves it
 * behind. 0, or -1 with the reason on stderr. */
static inline int hevt_netns(void)
{
    if (unshare(CLONE_NEWNET) != 0) {
        fprintf(stderr, "unshare(CLONE_NEWNET): %s (these tests need root)\n", strerror(errno));
        return -1;
    }
    int ret = hevt_sh("ip link set lo up && "
                      "ip link add " HEVT_DEV " type veth peer name ssE-v1 && "
                      "ip link set " HEVT_DEV " up && ip link set ssE-v1 up && "
                      "ip addr add " HEVT_V4 "/24 dev " HEVT_DEV " && "
                      "ip addr add " HEVT_V6 "/64 dev " HEVT_DEV " nodad");
    if (ret != 0) {
        fprintf(stderr, "setting up the test namespace failed (%d)\n", ret);
        return -1;
    }
    return hevt_wait_local(AF_INET6, HEVT_V6);
}

/* Writes text to a file (a sysctl under /proc/sys); 0 or -1. */
static inline int hevt_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static inline socklen_t hevt_sockaddr(int family, const char *addr, uint16_t port,
                                      struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
            return 0;
        }
        return sizeof(*sin);
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) {
        return 0;
    }
    return sizeof(*sin6);
}

/* A listening TCP socket on addr:port. v6only: -1 leaves the default, else sets IPV6_V6ONLY;
 * device: SO_BINDTODEVICE (NULL: none); reuseport: SO_REUSEPORT. The descriptor, or -1 with
 * the reason on stderr. */
static inline int hevt_listen_opts(int family, const char *addr, uint16_t port, int backlog,
                                   int v6only, const char *device, int reuseport)
{
    struct sockaddr_storage ss;
    socklen_t len = hevt_sockaddr(family, addr, port, &ss);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (len == 0 || fd < 0) {
        fprintf(stderr, "socket for %s: %s\n", addr, strerror(errno));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        goto fail;
    }
    if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) {
        goto fail;
    }
    if (device &&
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)strlen(device)) != 0) {
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) {
        goto fail;
    }
    return fd;
fail:
    fprintf(stderr, "listening on %s port %u: %s\n", addr, (unsigned)port, strerror(errno));
    close(fd);
    return -1;
}

static inline int hevt_listen(int family, const char *addr, uint16_t port)
{
    return hevt_listen_opts(family, addr, port, 16, -1, NULL, 0);
}

/* A connect() to addr:port, waited for at most 2 s: 0 when it connected, else the errno
 * (ECONNREFUSED, ETIMEDOUT). */
static inline int hevt_connect(int family, const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len = hevt_sockaddr(family, addr, port, &ss);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (len == 0 || fd < 0) {
        return EINVAL;
    }
    int err = 0;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 2000) != 1) {
                err = ETIMEDOUT;
            } else {
                socklen_t elen = sizeof(err);
                (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
            }
        }
    }
    close(fd);
    return err;
}

/* Starts a connect() to addr:port and leaves it running: the descriptor (close it later). */
static inline int hevt_connect_async(int family, const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len = hevt_sockaddr(family, addr, port, &ss);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (len == 0 || fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* accept() on a listener, waiting at most 1 s for a connection (the handshake's last ACK
 * may still be on its way through the loopback device when connect() returns): the new
 * descriptor, or -1. */
static inline int hevt_accept(int listener)
{
    struct pollfd p = {.fd = listener, .events = POLLIN};
    if (poll(&p, 1, 1000) != 1) {
        return -1;
    }
    return accept(listener, NULL, NULL);
}

/* A SYN's destination; ifname: the device it comes in on (NULL: unknown). */
static inline struct hev_syn_dst hevt_dst(int family, const char *addr, uint16_t port,
                                          const char *ifname)
{
    struct hev_syn_dst d;
    memset(&d, 0, sizeof(d));
    d.family = (uint8_t)family;
    d.port = port;
    d.ifindex = ifname ? if_nametoindex(ifname) : 0;
    (void)inet_pton(family, addr, d.addr);
    return d;
}

/* An address in the form hev_listener.addr holds it. */
static inline void hevt_addr(int family, const char *text, uint8_t out[16])
{
    memset(out, 0, 16);
    (void)inet_pton(family, text, out);
}

/* The inode of a socket, as /proc/PID/fd shows it. */
static inline uint64_t hevt_inode(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

#endif
