#include "common/cliutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/cliopt.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/log.h"

/* The configuration file's line of the option being parsed, or NULL. */
static const char *cli_where;

void cli_die(const char *prog, const char *what, const char *arg,
	     const char *rest)
{
	fprintf(stderr, "%s: %s%s%s%s%s\nTry '%s --help'.\n", prog,
		cli_where ? cli_where : "", cli_where ? ": " : "", what, arg,
		rest, prog);
	exit(1);
}

uint32_t cli_u32(const char *prog, const char *opt, const char *arg,
		 uint32_t min, uint32_t max)
{
	uint32_t v;

	if (ch_parse_u32(arg, min, max, &v) != CH_OK) {
		fprintf(stderr, "%s: %s%s--%s: '%s' is not a number in "
			"%u..%u\n", prog, cli_where ? cli_where : "",
			cli_where ? ": " : "", opt, arg, min, max);
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

void cli_log_target(const char *prog, const char *arg)
{
	int target;

	if (ch_log_parse_target(arg, &target) != CH_OK)
		cli_die(prog, "--log-target: '", arg, "' is not one of auto, "
			"stderr, syslog");
	ch_log_set_target(target);
}

/* The option of opts that "--name[=value]" names, or NULL. */
static const struct option *option_of(const struct option *opts,
				      const char *arg)
{
	size_t n = strcspn(arg + 2, "=");

	for (; opts->name != NULL; opts++)
		if (strlen(opts->name) == n &&
		    strncmp(opts->name, arg + 2, n) == 0)
			return opts;
	return NULL;
}

void cli_args_build(const char *prog, int argc, char **argv,
		    const char *shortopts, const struct option *opts,
		    int config_val, const char *dflt, struct cli_args *out)
{
	static const char *const refused[] = { "help", "version", "config",
					       NULL };
	char **scan, err[512], *text = NULL;
	unsigned char given[1024] = { 0 };	/* option values seen */
	const char *file = NULL;
	size_t len = 0, k;
	int c, r;

	memset(out, 0, sizeof(*out));
	/* Pass 1, quiet, on a copy (getopt permutes): --config, and which
	 * options the command line gives. */
	scan = calloc((size_t)argc + 1, sizeof(*scan));
	if (scan == NULL)
		cli_die(prog, "out of memory", "", "");
	memcpy(scan, argv, (size_t)argc * sizeof(*scan));
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, scan, shortopts, opts, NULL)) != -1) {
		if (c >= 0 && c < (int)sizeof(given))
			given[c] = 1;
		if (c == config_val)
			file = optarg;
	}
	free(scan);
	opterr = 1;
	optind = 0;	/* glibc: start over */

	if (file == NULL && dflt != NULL && access(dflt, F_OK) == 0)
		file = dflt;
	if (file != NULL) {
		r = ch_file_read(file, CH_CONF_FILE_MAX, &text, &len);
		if (r == CH_ERR_NOTFOUND)
			cli_die(prog, "--config: '", file, "': no such file");
		if (r == CH_ERR_LIMIT)
			cli_die(prog, file, ": larger than "
				CH_STR(CH_CONF_FILE_MAX) " bytes", "");
		if (r != CH_OK)
			cli_die(prog, file, ": cannot be read", "");
		if (ch_conf_parse(file, text, len, opts, refused, &out->conf,
				  err, sizeof(err)) != CH_OK)
			cli_die(prog, err, "", "");
		free(text);
		out->file = file;
	}
	out->argv = calloc(out->conf.n + (size_t)argc + 1, sizeof(char *));
	out->where = calloc(out->conf.n + (size_t)argc + 1, sizeof(char *));
	if (out->argv == NULL || out->where == NULL)
		cli_die(prog, "out of memory", "", "");
	out->argv[0] = argv[0];
	k = 1;
	for (size_t i = 0; i < out->conf.n; i++) {
		const struct option *o = option_of(opts, out->conf.argv[i]);

		if (o != NULL && o->val >= 0 && o->val < (int)sizeof(given) &&
		    given[o->val])
			continue;	/* the command line's wins */
		out->where[k] = out->conf.where[i];
		out->argv[k++] = out->conf.argv[i];
	}
	for (int i = 1; i < argc; i++)
		out->argv[k++] = argv[i];
	out->argc = (int)k;
}

void cli_args_at(const struct cli_args *a)
{
	int i = optind > 0 ? optind : 1;

	cli_where = i < a->argc ? a->where[i] : NULL;
}

void cli_args_done(void)
{
	cli_where = NULL;
}
