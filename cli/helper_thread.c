/* helper_thread.c - read's helper threads: their priority. */
#define _GNU_SOURCE /* gettid */
#include "helper_thread.h"

#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#define HELPER_NICE 5 /* nice values above the flow table's thread */
#define NICE_MAX 19

void helper_thread_start(void)
{
    /* Linux: PRIO_PROCESS with a thread id is that thread's nice value alone, which a new
     * thread inherits from its creator. Lowering it needs no privilege; a failure (a seccomp
     * policy, say) leaves the thread as it was: only slower. */
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (now == -1 && errno != 0) {
        return;
    }
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(),
                      now + HELPER_NICE > NICE_MAX ? NICE_MAX : now + HELPER_NICE);
}
