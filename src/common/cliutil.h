/* cliutil.h - command-line error handling shared by the binaries. Not
 * part of libcallhome: these print and exit, which the library never does
 * (style D5). */
#ifndef CH_CLIUTIL_H
#define CH_CLIUTIL_H

#include <getopt.h>
#include <stdint.h>

#include "lib/core/conffile.h"

/* Prints "PROG: [WHERE: ]<what><arg><rest>" and "Try 'PROG --help'.",
 * exits 1. WHERE is the configuration file's line of the option being
 * parsed (cli_args_at), if it came from there. */
__attribute__((noreturn))
void cli_die(const char *prog, const char *what, const char *arg,
	     const char *rest);

/* The value of option --opt as a whole number in [min, max], or exits
 * with a message naming the option and the range. */
uint32_t cli_u32(const char *prog, const char *opt, const char *arg,
		 uint32_t min, uint32_t max);

/* Applies --log-level LEVEL (error, warn, info, debug), or exits. */
void cli_log_level(const char *prog, const char *arg);

/* Applies --log-target auto|stderr|syslog (log.h), or exits. */
void cli_log_target(const char *prog, const char *arg);

/* ---- a daemon's configuration file (conffile.h) ----
 *
 * The arguments one getopt_long loop parses: the file's settings, then
 * the command line's, so the command line wins; an option the command
 * line gives drops the file's lines of it (a repeatable one is replaced,
 * not added to). The file is the last --config FILE (option value
 * config_val in opts; it must exist), else dflt when it exists. Exits
 * with "PROG: FILE:LINE: ..." on a bad file. The arguments live until
 * exit (the configuration keeps pointers into them). */
struct cli_args {
	int argc;
	char **argv;
	char **where;		/* argc entries: "FILE:LINE" or NULL */
	const char *file;	/* the file read, or NULL */
	struct ch_conf_args conf;
};

void cli_args_build(const char *prog, int argc, char **argv,
		    const char *shortopts, const struct option *opts,
		    int config_val, const char *dflt, struct cli_args *out);

/* Call before each getopt_long on out->argv: errors then name the file's
 * line of the option parsed next. After the loop, cli_args_done. */
void cli_args_at(const struct cli_args *a);
void cli_args_done(void);

#endif
