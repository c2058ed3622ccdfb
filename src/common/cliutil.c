#include "common/cliutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/core/cliopt.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

void cli_die(const char *prog, const char *what, const char *arg,
	     const char *rest)
{
	fprintf(stderr, "%s: %s%s%s\nTry '%s --help'.\n", prog, what, arg,
		rest, prog);
	exit(1);
}

uint32_t cli_u32(const char *prog, const char *opt, const char *arg,
		 uint32_t min, uint32_t max)
{
	uint32_t v;

	if (ch_parse_u32(arg, min, max, &v) != CH_OK) {
		fprintf(stderr, "%s: --%s: '%s' is not a number in %u..%u\n",
			prog, opt, arg, min, max);
		exit(1);
	}
	return v;
}

void cli_log_level(const char *prog, const char *arg)
{
	int level;

	if (ch_log_parse_level(arg, &level) != CH_OK)
		cli_die(prog, "--log-level: '", arg, "' is not one of error, "
			"warn, info, debug");
	ch_log_set_level(level);
}
