/* args.h - the command line after `callhome`: getopt over the global
 * options merged with the command's own, operand checks, and parsers for
 * option values. Each call that can refuse says why (cli_usage_error) and
 * returns CLI_USAGE. */
#ifndef CH_CLI_ARGS_H
#define CH_CLI_ARGS_H

#include <jansson.h>

#include "lib/core/limits.h"
#include "cli/cli.h"

/* Options with no one-letter form: getopt values past any character. */
enum {
	OPT_NOW = 256,
	OPT_QUEUE,
	OPT_WAIT,
	OPT_EXPIRES,
	OPT_NAME,
	OPT_FINGERPRINT,
	OPT_STATE,
	OPT_IDLE_CLOSE,
	OPT_SERIAL,
	OPT_CERT_FINGERPRINT,
	OPT_ANCHOR,
	OPT_TIMEOUT,
	OPT_DEVICE,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_ACTOR,
	OPT_ATTACH,
	OPT_WATCH,
	OPT_SPEED,
	OPT_IDLE_LIMIT,
	OPT_NO_STARTUP,
	OPT_FORCE,
	OPT_FILTER,
	OPT_XPATH,
	OPT_NS,
	OPT_TAG,
	OPT_GROUP,
	OPT_DEVICE_STATE,
	OPT_RATE,
	OPT_AT,
};

/* Sets run->shortopts and run->longopts to the global options plus
 * shortopts, longopts and extra (each may be NULL), after the getopt
 * prefix ("+:" stops at the first operand, ":" reports missing values). */
void args_merge(struct run *run, const char *prefix, const char *shortopts,
		const struct option *longopts, const struct option *extra);

/* getopt_long over the merged options; global ones are taken here.
 * Returns a command option, -1 at the end, 'h', or '?' after printing a
 * usage error. */
int args_next(struct run *run, int argc, char **argv);

/* The common tail of every build's option loop, for an option c it does
 * not take: help (CLI_HELPED) or a usage error. */
int args_opt_done(struct run *run, int c);

/* The option loop of a command with at most one option of its own: own
 * (0: none), whose value goes into *own_arg (optarg, or "" for a flag;
 * left NULL if not given), and with limit, -n/--limit into *limit. Leaves
 * optind at the first operand. */
int args_opts(struct run *run, int argc, char **argv, int own,
	      const char **own_arg, uint32_t *limit);

/* args_opts for a command that has no options of its own. */
int args_no_opts(struct run *run, int argc, char **argv);

/* Checks that min..max operands are left after the options; want says
 * what they should be. */
int args_operands(struct run *run, int argc, int min, int max,
		  const char *want);

/* Refuses an empty operand: "<what> is empty". */
int args_nonempty(struct run *run, const char *s, const char *what);

/* Exactly n operands, the first a DEVICE (at argv[optind]). */
int args_device_operands(struct run *run, int argc, char **argv, int n,
			 const char *want);

/* [DEVICE]: *dev is the operand (borrowed from argv), or NULL. */
int args_optional_device(struct run *run, int argc, char **argv,
			 const char **dev);

/* --limit: a whole number in [1, CH_CLI_MAX_LIMIT]. */
int args_limit(struct run *run, const char *s, uint32_t *out);

/* A job ID: a whole number from 1. */
int args_job_id(struct run *run, const char *s, json_int_t *id);

/* --expires: whole seconds, or a number with s, m, h or d after it, at
 * most CH_CLI_MAX_EXPIRES_S. CH_OK or CH_ERR_INVAL; says nothing. */
int args_duration(const char *s, uint32_t *out);

#endif
