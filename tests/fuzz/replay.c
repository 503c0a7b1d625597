/* replay.c - runs files through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer
 * (libpcap's onefile.c habit), so that every corpus file and crash reproducer is an ordinary
 * test of the normal build (release and ASan+UBSan).
 *
 * Usage: <target>_replay [--corpus DIR | --crashes DIR | FILE]...
 *   --corpus DIR   every input of DIR; DIR must be a folder holding at least one input
 *   --crashes DIR  the same, but DIR may hold none (no crash found yet, or all of them fixed
 *                  and deleted): it is kept in git by its README.md
 *   FILE           one input (a reproducer replayed by hand)
 * The inputs of a folder are its regular files, sorted by name, but for hidden files and
 * README / README.* (what keeps a folder in git and says what it is for). A path that is
 * missing, unreadable or of the wrong kind, and a folder entry that is not a regular file, is
 * a failure with one line on stderr naming it: a corpus that is not where the test looks must
 * not pass as "0 inputs ran". Exit 0 when every input ran, 1 on such a failure, 2 on a usage
 * error; a crash ends the process. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "replay: %s: not a regular file\n", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        uint8_t *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (buf == NULL || err) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        free(buf);
        return -1;
    }
    /* an exact-size copy: a read past the input's end is an ASan report, as under libFuzzer */
    uint8_t *exact = malloc(n > 0 ? n : 1);
    if (exact == NULL) {
        free(buf);
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Not an input: hidden files, and the README that keeps an empty crashes folder in git. */
static bool skipped(const char *name)
{
    return name[0] == '.' || strcmp(name, "README") == 0 || strncmp(name, "README.", 7) == 0;
}

/* Runs every input of dir; returns how many ran, or -1 after one line on stderr. */
static long run_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "replay: %s: not a folder\n", dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    long status = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0) {
                fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
                status = -1;
            }
            break;
        }
        if (skipped(e->d_name)) {
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof(*names));
            if (bigger == NULL) {
                fprintf(stderr, "replay: %s: out of memory\n", dir);
                status = -1;
                break;
            }
            names = bigger;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (names[count] == NULL) {
            fprintf(stderr, "replay: %s: out of memory\n", dir);
            status = -1;
            break;
        }
        snprintf(names[count], len, "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    if (count > 0) {
        qsort(names, count, sizeof(*names), compare_names);
    }
    for (size_t i = 0; i < count; i++) {
        if (status >= 0) {
            status = run_file(names[i]) == 0 ? status + 1 : -1;
        }
        free(names[i]);
    }
    free(names);
    return status;
}

static int usage(void)
{
    fprintf(stderr, "usage: replay [--corpus DIR | --crashes DIR | FILE]...\n");
    return 2;
}

int main(int argc, char **argv)
{
    long total = 0;
    int paths = 0;
    if (argc < 2) {
        return usage();
    }
    for (int i = 1; i < argc; i++, paths++) {
        bool corpus = strcmp(argv[i], "--corpus") == 0;
        bool crashes = strcmp(argv[i], "--crashes") == 0;
        if (corpus || crashes) {
            if (++i == argc) {
                return usage();
            }
            long n = run_dir(argv[i]);
            if (n < 0) {
                return 1;
            }
            if (n == 0 && corpus) {
                fprintf(stderr, "replay: %s: no inputs (a corpus folder must hold at least one)\n",
                        argv[i]);
                return 1;
            }
            printf("replay: %s: %ld inputs ran%s\n", argv[i], n,
                   n == 0 ? " (a crashes folder may be empty)" : "");
            total += n;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage();
        } else {
            if (run_file(argv[i]) != 0) {
                return 1;
            }
            total++;
        }
    }
    if (paths > 1) {
        printf("replay: %ld inputs ran in all\n", total);
    }
    return 0;
}
