/* help.h - the help texts, generated from the command table. */
#ifndef CH_CLI_HELP_H
#define CH_CLI_HELP_H

#include <stdio.h>

#include "cli/cli.h"

/* callhome --help: the synopsis, every command, the global options and
 * the exit codes. */
void help_usage(FILE *f);

/* callhome help COMMAND, or COMMAND --help. */
void help_command(FILE *f, const struct command *cmd);

#endif
