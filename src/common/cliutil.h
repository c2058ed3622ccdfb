/* cliutil.h - command-line error handling shared by the binaries. Not
 * part of libcallhome: these print and exit, which the library never does
 * (style D5). */
#ifndef CH_CLIUTIL_H
#define CH_CLIUTIL_H

#include <stdint.h>

/* Prints "PROG: <what><arg><rest>" and "Try 'PROG --help'.", exits 1. */
__attribute__((noreturn))
void cli_die(const char *prog, const char *what, const char *arg,
	     const char *rest);

/* The value of option --opt as a whole number in [min, max], or exits
 * with a message naming the option and the range. */
uint32_t cli_u32(const char *prog, const char *opt, const char *arg,
		 uint32_t min, uint32_t max);

/* Applies --log-level LEVEL (error, warn, info, debug), or exits. */
void cli_log_level(const char *prog, const char *arg);

#endif
