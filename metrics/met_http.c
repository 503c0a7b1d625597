/* met_http.c - the /metrics endpoint: non-blocking sockets driven by met_http_step(), called
 * by the thread that owns the registry (so the registry needs no lock, and the capture never
 * waits on a client: a step does one read and one write per connection and returns).
 *
 * One request per connection: the response says "Connection: close", the write side is shut
 * and what the client still sends is read and dropped until it closes (a lingering close, so
 * that a reset does not destroy the response in flight). A connection lives at most
 * timeout_ms from its accept, request and response together: a slow client (slowloris) holds
 * one of max_clients places for that long at most, and gives it up earlier to a new client
 * when all places are taken (free_place); when no place can be freed, the new client gets a
 * 503 and is closed at once. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "met_int.h"

#define MET_HTTP_DEFAULT_CLIENTS 8
#define MET_HTTP_DEFAULT_TIMEOUT_MS 5000
#define MET_HTTP_ACCEPTS_PER_STEP 16

enum conn_state { CONN_FREE = 0, CONN_READING, CONN_WRITING, CONN_DRAINING };

struct met_conn {
    enum conn_state state;
    int fd;
    uint64_t deadline_ms;
    size_t request_len;
    char request[MET_HTTP_REQUEST_MAX];
    char *response; /* malloc'd, freed at close */
    size_t response_len;
    size_t response_sent;
};

struct met_http {
    int listen_fd;
    uint16_t port;
    unsigned max_clients;
    unsigned timeout_ms;
    const struct met_registry *registry;
    size_t render_hint; /* the last exposition's size, to render once in the usual case */
    struct met_conn *conns;
    struct met_http_stats stats;
};

static const char refusal[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                              "Connection: close\r\nRetry-After: 1\r\n\r\n";

static int listen_socket(const struct met_addr *addr, uint16_t *port, char *errbuf)
{
    struct sockaddr_storage storage;
    socklen_t storage_len;
    memset(&storage, 0, sizeof storage);
    if (addr->family == 6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&storage;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr->addr, 16);
        sin6->sin6_port = htons(addr->port);
        storage_len = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&storage;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr->addr, 4);
        sin->sin_port = htons(addr->port);
        storage_len = sizeof *sin;
    }
    char text[64];
    met_addr_format(addr, text, sizeof text);
    int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics %s: socket: %s", text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->family == 6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, (struct sockaddr *)&storage, storage_len) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&storage, &storage_len) < 0) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics %s: %s", text, strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(storage.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&storage)->sin6_port
                                                : ((struct sockaddr_in *)&storage)->sin_port);
    return fd;
}

struct met_http *met_http_new(const struct met_http_config *config, char *errbuf)
{
    if (!config->allow_remote && !met_addr_is_loopback(&config->listen)) {
        char text[64];
        met_addr_format(&config->listen, text, sizeof text);
        snprintf(errbuf, MET_ERRBUF_SIZE,
                 "metrics %s: not a loopback address; serving metrics beyond this host must "
                 "be asked for (--metrics-allow-remote)",
                 text);
        return NULL;
    }
    struct met_http *http = calloc(1, sizeof *http);
    if (http == NULL) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: out of memory");
        return NULL;
    }
    http->max_clients = config->max_clients ? config->max_clients : MET_HTTP_DEFAULT_CLIENTS;
    http->timeout_ms = config->timeout_ms ? config->timeout_ms : MET_HTTP_DEFAULT_TIMEOUT_MS;
    http->registry = config->registry;
    http->render_hint = 4096;
    http->conns = calloc(http->max_clients, sizeof *http->conns);
    if (http->conns == NULL || http->max_clients > 1024) {
        snprintf(errbuf, MET_ERRBUF_SIZE, "metrics: cannot serve %u clients", http->max_clients);
        free(http->conns);
        free(http);
        return NULL;
    }
    http->listen_fd = listen_socket(&config->listen, &http->port, errbuf);
    if (http->listen_fd < 0) {
        free(http->conns);
        free(http);
        return NULL;
    }
    return http;
}

static void conn_close(struct met_conn *conn)
{
    close(conn->fd);
    free(conn->response);
    conn->response = NULL;
    conn->state = CONN_FREE;
}

void met_http_free(struct met_http *http)
{
    if (http == NULL) {
        return;
    }
    for (unsigned i = 0; i < http->max_clients; i++) {
        if (http->conns[i].state != CONN_FREE) {
            conn_close(&http->conns[i]);
        }
    }
    close(http->listen_fd);
    free(http->conns);
    free(http);
}

uint16_t met_http_port(const struct met_http *http)
{
    return http->port;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Bad Request";
    }
}

/* The whole response into conn->response; the exposition only for 200. */
static int respond(struct met_http *http, struct met_conn *conn, int status, bool head)
{
    char header[256];
    const char *type = "text/plain; charset=utf-8";
    size_t body_len = 0;
    char *body = NULL;
    if (status == 200) {
        type = "text/plain; version=0.0.4; charset=utf-8";
        size_t cap = http->render_hint + 4096;
        for (int tries = 0; tries < 2; tries++) {
            body = malloc(cap);
            if (body == NULL) {
                return -1;
            }
            body_len = met_render(http->registry, body, cap);
            if (body_len < cap) {
                break;
            }
            free(body);
            body = NULL;
            cap = body_len + 1;
        }
        if (body == NULL) {
            return -1;
        }
        http->render_hint = body_len;
        http->stats.served++;
    } else {
        body_len = strlen(reason(status)) + 1;
        http->stats.rejected++;
    }
    int header_len = snprintf(header, sizeof header,
                              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "%sConnection: close\r\n\r\n",
                              status, reason(status), type, body_len,
                              status == 405 ? "Allow: GET, HEAD\r\n" : "");
    size_t total = (size_t)header_len + (head ? 0 : body_len);
    conn->response = malloc(total + 1);
    if (conn->response == NULL) {
        free(body);
        return -1;
    }
    memcpy(conn->response, header, (size_t)header_len);
    if (!head) {
        if (body != NULL) {
            memcpy(conn->response + header_len, body, body_len);
        } else {
            snprintf(conn->response + header_len, body_len + 1, "%s\n", reason(status));
        }
    }
    free(body);
    conn->response_len = total;
    conn->response_sent = 0;
    conn->state = CONN_WRITING;
    return 0;
}

/* A place for a new client: a free one, else that of the oldest client still sending its
 * request and accepted in an earlier step (a slow client loses its place to a new one, so
 * that slow clients cannot keep scrapers out; a scraper sends its request at once). */
static struct met_conn *free_place(struct met_http *http, uint64_t now_ms)
{
    struct met_conn *oldest = NULL;
    for (unsigned i = 0; i < http->max_clients; i++) {
        struct met_conn *conn = &http->conns[i];
        if (conn->state == CONN_FREE) {
            return conn;
        }
        if (conn->state == CONN_READING && conn->deadline_ms < now_ms + http->timeout_ms &&
            (oldest == NULL || conn->deadline_ms < oldest->deadline_ms)) {
            oldest = conn;
        }
    }
    if (oldest != NULL) {
        conn_close(oldest);
        http->stats.evicted++;
    }
    return oldest;
}

static void serve(struct met_http *http, struct met_conn *conn);

static void accept_clients(struct met_http *http, uint64_t now_ms)
{
    for (unsigned n = 0; n < MET_HTTP_ACCEPTS_PER_STEP; n++) {
        int fd = accept4(http->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or an aborted connection: try again next step */
        }
        struct met_conn *conn = free_place(http, now_ms);
        if (conn == NULL) {
            /* best effort: a fresh socket's send buffer takes these bytes */
            (void)!send(fd, refusal, sizeof refusal - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            http->stats.refused++;
            continue;
        }
        conn->state = CONN_READING;
        conn->fd = fd;
        conn->deadline_ms = now_ms + http->timeout_ms;
        conn->request_len = 0;
        conn->response = NULL;
        serve(http, conn); /* the request is often there already */
    }
}

/* One read, one write: what this connection can do now. */
static void serve(struct met_http *http, struct met_conn *conn)
{
    if (conn->state == CONN_READING) {
        ssize_t n = recv(conn->fd, conn->request + conn->request_len,
                         sizeof conn->request - conn->request_len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(conn);
            return;
        }
        if (n < 0) {
            return;
        }
        conn->request_len += (size_t)n;
        bool head = false;
        int status = met_http_parse(conn->request, conn->request_len, &head);
        if (status == 0) {
            return;
        }
        if (respond(http, conn, status, head) < 0) {
            conn_close(conn);
            return;
        }
    }
    if (conn->state == CONN_WRITING) {
        ssize_t n = send(conn->fd, conn->response + conn->response_sent,
                         conn->response_len - conn->response_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close(conn);
            return;
        }
        if (n > 0) {
            conn->response_sent += (size_t)n;
        }
        if (conn->response_sent == conn->response_len) {
            shutdown(conn->fd, SHUT_WR);
            free(conn->response);
            conn->response = NULL;
            conn->state = CONN_DRAINING;
        }
        return;
    }
    if (conn->state == CONN_DRAINING) {
        ssize_t n = recv(conn->fd, conn->request, sizeof conn->request, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            conn_close(conn);
        }
    }
}

unsigned met_http_step(struct met_http *http, uint64_t now_ms)
{
    for (unsigned i = 0; i < http->max_clients; i++) {
        struct met_conn *conn = &http->conns[i];
        if (conn->state == CONN_FREE) {
            continue;
        }
        if (now_ms >= conn->deadline_ms) {
            if (conn->state != CONN_DRAINING) {
                http->stats.timeouts++;
            }
            conn_close(conn);
            continue;
        }
        serve(http, conn);
    }
    accept_clients(http, now_ms);
    unsigned open = 0;
    for (unsigned i = 0; i < http->max_clients; i++) {
        open += http->conns[i].state != CONN_FREE;
    }
    return open;
}

size_t met_http_fds(const struct met_http *http, int *fds, short *events, size_t cap)
{
    size_t n = 0;
    if (n < cap) {
        fds[n] = http->listen_fd;
        events[n++] = POLLIN;
    }
    for (unsigned i = 0; i < http->max_clients && n < cap; i++) {
        const struct met_conn *conn = &http->conns[i];
        if (conn->state != CONN_FREE) {
            fds[n] = conn->fd;
            events[n++] = conn->state == CONN_WRITING ? POLLOUT : POLLIN;
        }
    }
    return n;
}

void met_http_stats(const struct met_http *http, struct met_http_stats *out)
{
    *out = http->stats;
}
