/* main.c - the synscope program: dispatches to a command (cli/cmd_*.c), prints the usage and
 * the version. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "options.h"

#ifndef SYNSCOPE_VERSION
#error "SYNSCOPE_VERSION comes from project(VERSION) in CMakeLists.txt"
#endif

static void usage_main(FILE *out)
{
    fputs("usage: synscope COMMAND [OPTIONS] ...\n"
          "\n"
          "Explains why TCP connections failed, from their handshake packets.\n"
          "\n"
          "commands:\n"
          "  read FILE...        analyze pcap/pcapng captures ('-' reads standard input)\n"
          "  live -i IFACE [BPF] capture on an interface (root) and explain attempts as they "
          "happen\n"
          "  probe TARGET -p PORTS  send SYN probes (root) and classify every port\n"
          "\n"
          "  synscope COMMAND --help   options of a command\n"
          "  synscope --version\n"
          "\n"
          "exit codes: 0 success, 1 runtime failure, 2 usage error, 3 --fail-on matched\n",
          out);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed pipe becomes EPIPE, handled as a quiet end */
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("synscope %s\n", SYNSCOPE_VERSION);
        return EXIT_OK;
    }
    options_set_command(cmd);
    if (strcmp(cmd, "read") == 0) {
        return cmd_read(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "live") == 0) {
        return cmd_live(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "probe") == 0) {
        return cmd_probe(argc - 1, argv + 1);
    }
    fprintf(stderr, "synscope: unknown command '%s' (see 'synscope --help')\n", cmd);
    return EXIT_USAGE;
}
