/* commands.h - the commands of synscope, each in its own file (cmd_*.c). */
#ifndef SYNSCOPE_CLI_COMMANDS_H
#define SYNSCOPE_CLI_COMMANDS_H

/* Each runs one command: argv[0] is the command's name, the rest its arguments. Returns the
 * exit code (options.h: EXIT_*). */
int cmd_read(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_probe(int argc, char **argv);

#endif
