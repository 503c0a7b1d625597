/* replay.c - runs files through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer
 * (libpcap's onefile.c habit), so that every corpus file and crash reproducer is an ordinary
 * test of the normal build (release and ASan+UBSan).
 *
 * Usage: <target>_replay FILE|DIR...   (a directory: every regular file in it, sorted; a
 * missing directory holds no files). Exit 0 when every input ran; a crash ends the process. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
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

/* Runs every regular file of dir (not those starting with '.'); returns the count or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 0 : -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    long status = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, cap * sizeof(*names));
            if (bigger == NULL) {
                status = -1;
                break;
            }
            names = bigger;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (names[count] == NULL) {
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
        struct stat st;
        if (status >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            status = run_file(names[i]) == 0 ? status + 1 : -1;
        }
        free(names[i]);
    }
    free(names);
    return status;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            n = run_dir(argv[i]);
        } else if (stat(argv[i], &st) != 0 && errno == ENOENT) {
            n = 0; /* a corpus folder that does not exist (yet) holds nothing */
        } else {
            n = run_file(argv[i]) == 0 ? 1 : -1;
        }
        if (n < 0) {
            fprintf(stderr, "replay: %s: could not be read\n", argv[i]);
            return 1;
        }
        total += n;
    }
    printf("replay: %ld inputs ran\n", total);
    return 0;
}
