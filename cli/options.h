/* options.h - what the commands share in parsing their arguments: exit codes, usage errors,
 * number and format parsing, and the options read and live have in common. */
#ifndef SYNSCOPE_CLI_OPTIONS_H
#define SYNSCOPE_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_FAIL_ON 3

struct session;

/* The help of the options every analysing command has (read, live), after its own. */
extern const char common_help[];

/* Names the subcommand in usage errors ("see 'synscope COMMAND --help'"); command must live
 * as long as the program (an argv string). */
void options_set_command(const char *command);

/* Reports a usage error on one line and returns the usage exit code. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses seconds: a finite decimal number in (0, max]. 0, or -1 with *out_ns unspecified. */
int parse_seconds(const char *text, double max, int64_t *out_ns);

/* Parses a whole decimal number in [min, max], without a sign. 0, or -1. */
int parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *out);

/* -f FORMAT: text, json, and html when html is true. 0 with *format set, or EXIT_USAGE after
 * reporting the bad value. */
int parse_format(const char *arg, bool html, enum rep_format *format);

enum { OPT_FAIL_ON = 256, OPT_SYN_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_MAX_FLOWS, OPT_LIST };

/* The long options of common_help, first in a command's table. */
#define COMMON_LONGOPTS                                                                            \
    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},            \
        {"fail-on", required_argument, NULL, OPT_FAIL_ON},                                         \
        {"syn-timeout", required_argument, NULL, OPT_SYN_TIMEOUT},                                 \
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},                               \
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},                                     \
        {"list", required_argument, NULL, OPT_LIST},                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

#define OPT_FAILED (-2) /* a common option had a bad value; the usage error was reported */

/* A command's parsing of its arguments: they are all good, carry on (else an exit code). */
#define OPTIONS_GO_ON (-1)

/* getopt_long that handles the options every command has: returns the next option that is
 * the command's own (or ':' / '?' for getopt's complaints), -1 at the end of the options, or
 * OPT_FAILED. */
int next_option(struct session *s, int argc, char **argv, const char *optstring,
                const struct option *longopts);

/* getopt's verdict on an option it does not know or that lacks its value: reports it and
 * returns EXIT_USAGE. */
int bad_option(int opt, char **argv);

#endif
