/* rss.c - runs a command and reports its wall time and peak RSS (wait4), from a small C
 * process so that the parent's own memory is not counted in the child's peak (a child forked
 * from a large interpreter starts with the interpreter's pages).
 * usage: rss COMMAND [ARGS...]   prints "RSS WALL_SECONDS PEAK_RSS_KIB EXIT_CODE CPU_SECONDS"
 * (user + system) as the last line on stderr, and exits with the command's code */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rss COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
        perror("rss");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    fprintf(stderr, "RSS %.6f %ld %d %.6f\n", wall, ru.ru_maxrss, code, cpu);
    return code;
}
