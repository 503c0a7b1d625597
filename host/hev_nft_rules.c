/* hev_nft_rules.c - the text of every nftables rule, by (family, table, chain, handle), from one
 * run of `nft -a list ruleset` at start-up (while synscope is still root).
 *
 * Why nft's own listing: the user wrote the rule in nft's syntax, and only nft renders it back
 * (libnftnl gives the expressions, "payload load 2b @ transport header + 2 => reg 1"). The
 * handle suffix ("# handle 7") ties each line to the handle the kernel puts in a trace. Rules
 * added later are not in the snapshot and are reported by handle; rules deleted later (or
 * whose table was flushed and rebuilt, which reuses handles) are marked changed by the
 * ruleset notifications, so a stale text is never shown. */
#define _GNU_SOURCE /* pipe2 */
#include "hev_nft_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LISTING_MAX (256u << 20) /* a ruleset listing larger than this is cut */
#define NFT_RUN_TIMEOUT_MS 10000

struct nft_rules {
    char *listing; /* the listing, cut into NUL-terminated names and texts */
    struct nft_rule_text *rule;
    size_t count;
};

static const struct {
    const char *name;
    uint8_t family;
} families[] = {
    {"ip", NFPROTO_IPV4}, {"ip6", NFPROTO_IPV6},      {"inet", NFPROTO_INET},
    {"arp", NFPROTO_ARP}, {"bridge", NFPROTO_BRIDGE}, {"netdev", NFPROTO_NETDEV},
};

static uint8_t family_of(const char *name)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        if (strcmp(families[i].name, name) == 0) {
            return families[i].family;
        }
    }
    return 0;
}

/* Cuts the next name off *s: a word up to a space, or a "quoted" one (nft quotes names that
 * are not plain identifiers). Returns it, NUL-terminated, or NULL. */
static char *take_name(char **s)
{
    char *p = *s;
    while (*p == ' ') {
        p++;
    }
    if (*p == '\0') {
        return NULL;
    }
    char *name = p;
    char *end;
    if (*p == '"') {
        name = p + 1;
        end = strchr(name, '"');
    } else {
        end = strchr(p, ' ');
    }
    if (end == NULL) {
        end = name + strlen(name);
        *s = end;
    } else {
        *end = '\0';
        *s = end + 1;
    }
    return name;
}

/* A rule line's handle: the number after the last " # handle ", which is cut off the text.
 * Returns 0 when the line has none (chain type and policy lines, comments). */
static uint64_t cut_handle(char *line)
{
    static const char marker[] = " # handle ";
    char *at = NULL;
    for (char *p = strstr(line, marker); p != NULL; p = strstr(p + 1, marker)) {
        at = p;
    }
    if (at == NULL) {
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long handle = strtoull(at + sizeof(marker) - 1, &end, 10);
    if (errno != 0 || end == at + sizeof(marker) - 1 || (*end != '\0' && *end != ' ')) {
        return 0;
    }
    *at = '\0';
    return handle;
}

static int compare_rules(const void *a, const void *b)
{
    const struct nft_rule_text *x = a, *y = b;
    if (x->family != y->family) {
        return x->family < y->family ? -1 : 1;
    }
    int c = strcmp(x->table, y->table);
    if (c == 0) {
        c = strcmp(x->chain, y->chain);
    }
    if (c != 0) {
        return c;
    }
    return x->handle < y->handle ? -1 : x->handle > y->handle;
}

static bool add_rule(struct nft_rules *r, size_t *cap, const struct nft_rule_text *rule)
{
    if (r->count == *cap) {
        size_t grown = *cap == 0 ? 64 : *cap * 2;
        struct nft_rule_text *more = realloc(r->rule, grown * sizeof(*more));
        if (more == NULL) {
            return false;
        }
        r->rule = more;
        *cap = grown;
    }
    r->rule[r->count++] = *rule;
    return true;
}

/* The listing's shape (nft 0.9 to 1.1): "table FAMILY NAME { # handle N" at depth 0,
 * "chain NAME { # handle N" (or set, map, flowtable, ... blocks) at depth 1, rules at depth 2
 * inside a chain, one per line, each ending in " # handle N"; depth is the number of tabs. */
struct nft_rules *nft_rules_parse(const char *listing, size_t len)
{
    struct nft_rules *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->listing = malloc(len + 1)) == NULL) {
        free(r);
        return NULL;
    }
    memcpy(r->listing, listing, len);
    r->listing[len] = '\0';
    size_t cap = 0;
    struct nft_rule_text cur = {0};
    char *next;
    for (char *line = r->listing; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        size_t depth = strspn(line, "\t");
        char *s = line + depth;
        if (*s == '\0') {
            continue; /* the blank line between two chains or sets */
        }
        if (depth == 0) {
            cur.table = cur.chain = NULL;
            if (strncmp(s, "table ", 6) == 0) {
                s += 6;
                const char *family = take_name(&s);
                cur.family = family != NULL ? family_of(family) : 0;
                cur.table = cur.family != 0 ? take_name(&s) : NULL;
            }
        } else if (depth == 1) {
            cur.chain = NULL;
            if (cur.table != NULL && strncmp(s, "chain ", 6) == 0) {
                s += 6;
                cur.chain = take_name(&s);
            }
        } else if (depth == 2 && cur.chain != NULL) {
            cur.handle = cut_handle(s);
            cur.text = s;
            if (cur.handle != 0 && !add_rule(r, &cap, &cur)) {
                nft_rules_free(r);
                return NULL;
            }
        }
    }
    if (r->count > 1) {
        qsort(r->rule, r->count, sizeof(r->rule[0]), compare_rules);
    }
    return r;
}

size_t nft_rules_count(const struct nft_rules *rules)
{
    return rules != NULL ? rules->count : 0;
}

struct nft_rule_text *nft_rules_find(struct nft_rules *rules, uint8_t family, const char *table,
                                     const char *chain, uint64_t handle)
{
    if (rules == NULL || rules->count == 0) {
        return NULL;
    }
    struct nft_rule_text key = {.family = family, .table = table, .chain = chain, .handle = handle};
    return bsearch(&key, rules->rule, rules->count, sizeof(key), compare_rules);
}

void nft_rules_mark_changed(struct nft_rules *rules, uint8_t family, const char *table,
                            const char *chain, uint64_t handle)
{
    if (rules == NULL) {
        return;
    }
    for (size_t i = 0; i < rules->count; i++) {
        struct nft_rule_text *rule = &rules->rule[i];
        if (table == NULL) {
            rule->changed = true;
        } else if (rule->family == family && strcmp(rule->table, table) == 0 &&
                   (chain == NULL || strcmp(rule->chain, chain) == 0) &&
                   (handle == 0 || rule->handle == handle)) {
            rule->changed = true;
        }
    }
}

bool nft_rule_text_rejects(const char *text)
{
    bool quoted = false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '"') {
            quoted = !quoted;
        } else if (!quoted && strncmp(p, "reject", 6) == 0 && (p == text || p[-1] == ' ') &&
                   (p[6] == '\0' || p[6] == ' ')) {
            return true;
        }
    }
    return false;
}

void nft_rules_free(struct nft_rules *rules)
{
    if (rules != NULL) {
        free(rules->rule);
        free(rules->listing);
        free(rules);
    }
}

/* ---- running nft ------------------------------------------------------------------------ */

static const char *find_nft(const char *path)
{
    static const char *const places[] = {"/usr/sbin/nft", "/sbin/nft", "/usr/local/sbin/nft"};
    if (path != NULL) {
        return access(path, X_OK) == 0 ? path : NULL;
    }
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
        if (access(places[i], X_OK) == 0) {
            return places[i];
        }
    }
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads fd to its end into *out (NUL-terminated), within the deadline. Returns 0 or a
 * negative errno (-ETIMEDOUT). */
static int read_all(int fd, char **out, size_t *out_len, int64_t deadline)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return -ENOMEM;
    }
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            free(buf);
            return -ETIMEDOUT;
        }
        if (len + 1 == cap) {
            char *more = cap < LISTING_MAX ? realloc(buf, cap * 2) : NULL;
            if (more == NULL) {
                break; /* cut: the rules beyond it are reported by handle */
            }
            buf = more;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            free(buf);
            return -err;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* nft runs with a fixed environment, standard input and error on /dev/null, its output on a
 * pipe; it is killed when it takes longer than NFT_RUN_TIMEOUT_MS. */
int nft_rules_snapshot(struct nft_rules **out, const char *nft_path)
{
    *out = NULL;
    const char *nft = find_nft(nft_path);
    if (nft == NULL) {
        return 1;
    }
    int pipe_fd[2];
    if (pipe2(pipe_fd, O_CLOEXEC) != 0) {
        return -errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipe_fd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *const argv[] = {(char *)nft, "-a", "list", "ruleset", NULL};
    char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, nft, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(pipe_fd[1]);
    if (rc != 0) {
        close(pipe_fd[0]);
        return -rc;
    }
    char *listing = NULL;
    size_t len = 0;
    rc = read_all(pipe_fd[0], &listing, &len, now_ms() + NFT_RUN_TIMEOUT_MS);
    close(pipe_fd[0]);
    if (rc != 0) {
        kill(pid, SIGKILL);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        rc = -EIO;
    }
    if (rc == 0 && (*out = nft_rules_parse(listing, len)) == NULL) {
        rc = -ENOMEM;
    }
    free(listing);
    return rc;
}
