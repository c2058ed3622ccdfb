/* args.c - getopt over the global and the command's options, operands,
 * option values. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/help.h"
#include "lib/core/cliopt.h"
#include "lib/core/err.h"

static const struct option global_longopts[] = {
	{ "hub", required_argument, NULL, 'H' },
	{ "json", no_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
};
#define GLOBAL_SHORTOPTS "H:jt:h"
#define NGLOBAL CLI_NELEMS(global_longopts)

/* Global options are accepted after the command too
 * (`callhome devices --json`): merge them with the command's own. */
void args_merge(struct run *run, const char *prefix, const char *shortopts,
		const struct option *longopts, const struct option *extra)
{
	char global[sizeof(GLOBAL_SHORTOPTS)];
	size_t n = 0, k = 0;
	int kept = 0;

	/* a letter the command has too is the command's (its long form
	 * stays global) */
	for (const char *g = GLOBAL_SHORTOPTS; *g; g++) {
		if (*g != ':')
			kept = !(shortopts && strchr(shortopts, *g));
		if (kept)
			global[k++] = *g;
	}
	global[k] = '\0';
	run->own_shortopts = shortopts;
	snprintf(run->shortopts, sizeof(run->shortopts), "%s%s%s", prefix,
		 global, shortopts ? shortopts : "");
	for (size_t i = 0; i < NGLOBAL; i++)
		run->longopts[n++] = global_longopts[i];
	for (; longopts && longopts->name && n < CLI_MAX_OPTS - 2; longopts++)
		run->longopts[n++] = *longopts;
	if (extra)
		run->longopts[n++] = *extra;
	memset(&run->longopts[n], 0, sizeof(run->longopts[n]));
}

int args_next(struct run *run, int argc, char **argv)
{
	char shortname[3];
	const char *bad;
	int c;

	for (;;) {
		c = getopt_long(argc, argv, run->shortopts, run->longopts,
				NULL);
		if (c > 0 && c != ':' && c != '?' && run->own_shortopts &&
		    strchr(run->own_shortopts, c))
			return c;
		switch (c) {
		case 'H':
			run->socket = optarg;
			continue;
		case 'j':
			run->json = true;
			continue;
		case 't':
		case OPT_TIMEOUT:
			if (ch_parse_u32(optarg, 1, CH_CLI_MAX_TIMEOUT_S,
					 &run->timeout_s) != CH_OK) {
				cli_usage_error(run, "--timeout wants whole "
						"seconds from 1 to %d, not "
						"'%s'", CH_CLI_MAX_TIMEOUT_S,
						optarg);
				return '?';
			}
			continue;
		case '?':
		case ':':
			/* a long option is named only in argv; a short one,
			 * perhaps inside a cluster like -jx, in optopt */
			bad = argv[optind - 1];
			if (strncmp(bad, "--", 2) != 0 && optopt) {
				snprintf(shortname, sizeof(shortname), "-%c",
					 optopt);
				bad = shortname;
			}
			if (c == ':')
				cli_usage_error(run, "option '%s' needs a "
						"value", bad);
			else
				cli_usage_error(run, "unknown option '%s'",
						bad);
			return '?';
		}
		return c;
	}
}

int args_opt_done(struct run *run, int c)
{
	if (c == 'h') {
		help_command(stdout, run->cmd);
		return CLI_HELPED;
	}
	if (c == '?')
		return CLI_USAGE;
	return cli_usage_error(run, "unexpected option");
}

int args_opts(struct run *run, int argc, char **argv, int own,
	      const char **own_arg, uint32_t *limit)
{
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (own && c == own) {
			*own_arg = optarg ? optarg : "";
		} else if (limit && c == 'n') {
			if ((r = args_limit(run, optarg, limit)) != CLI_OK)
				return r;
		} else {
			return args_opt_done(run, c);
		}
	}
	return CLI_OK;
}

int args_no_opts(struct run *run, int argc, char **argv)
{
	return args_opts(run, argc, argv, 0, NULL, NULL);
}

int args_operands(struct run *run, int argc, int min, int max,
		  const char *want)
{
	int n = argc - optind;

	if (n < min || n > max)
		return cli_usage_error(run, "%s", want);
	return CLI_OK;
}

int args_nonempty(struct run *run, const char *s, const char *what)
{
	if (s[0] == '\0')
		return cli_usage_error(run, "%s is empty", what);
	return CLI_OK;
}

int args_device_operands(struct run *run, int argc, char **argv, int n,
			 const char *want)
{
	int r;

	if ((r = args_operands(run, argc, n, n, want)) != CLI_OK)
		return r;
	return args_nonempty(run, argv[optind], "DEVICE");
}

int args_optional_device(struct run *run, int argc, char **argv,
			 const char **dev)
{
	int r;

	*dev = NULL;
	if ((r = args_operands(run, argc, 0, 1,
			       "wants one DEVICE or none")) != CLI_OK)
		return r;
	if (optind < argc &&
	    (r = args_nonempty(run, argv[optind], "DEVICE")) != CLI_OK)
		return r;
	*dev = optind < argc ? argv[optind] : NULL;
	return CLI_OK;
}

int args_limit(struct run *run, const char *s, uint32_t *out)
{
	if (ch_parse_u32(s, 1, CH_CLI_MAX_LIMIT, out) != CH_OK)
		return cli_usage_error(run, "--limit wants a whole number "
				       "from 1 to %u, not '%s'", CH_CLI_MAX_LIMIT,
				       s);
	return CLI_OK;
}

int args_job_id(struct run *run, const char *s, json_int_t *id)
{
	uint32_t v;

	*id = 0;
	if (ch_parse_u32(s, 1, UINT32_MAX, &v) != CH_OK)
		return cli_usage_error(run, "ID is a job number such as 17, "
				       "not '%s'", s);
	*id = v;
	return CLI_OK;
}

int args_duration(const char *s, uint32_t *out)
{
	static const struct {
		char unit;
		uint32_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char num[16];
	size_t len = strlen(s);
	uint32_t mult = 1, n;

	*out = 0;
	if (len == 0 || len >= sizeof(num))
		return CH_ERR_INVAL;
	memcpy(num, s, len + 1);
	for (size_t i = 0; i < CLI_NELEMS(units); i++) {
		if (num[len - 1] == units[i].unit) {
			mult = units[i].seconds;
			num[len - 1] = '\0';
			break;
		}
	}
	if (ch_parse_u32(num, 1, CH_CLI_MAX_EXPIRES_S / mult, &n) != CH_OK)
		return CH_ERR_INVAL;
	*out = n * mult;
	return CH_OK;
}
