/* callhome - the operator's command line: a thin client of the hub's
 * control socket (docs/control-api.md). cli.h says which file does what.
 *
 * Here: the options before the command, finding the command in the table,
 * and one round: build the request, exchange it with the hub, print the
 * answer. The exit status is the round's (cli.h, enum cli_exit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/help.h"
#include "cli/resp.h"
#include "lib/core/version.h"

static int run_command(struct run *run, int argc, char **argv)
{
	json_t *resp = NULL;
	int r;

	args_merge(run, ":", run->cmd->shortopts, run->cmd->longopts, NULL);
	optind = 0;	/* glibc: restart getopt on a new argv */
	r = run->cmd->build(run, argc, argv);
	if (r == CLI_HELPED)
		return CLI_OK;
	if (r != CLI_OK)
		return r;
	if (run->req == NULL)
		return cli_out_of_memory();
	if (run->cmd->stream)
		return run->cmd->stream(run);
	if ((r = conn_exchange(run, &resp)) != CLI_OK)
		goto out;
	if (json_is_false(json_object_get(resp, "ok")))
		r = resp_refused(run, resp);
	else
		r = run->cmd->print(run, resp);
out:
	json_decref(resp);
	/* SIGINT is how --follow ends, whatever it cut short */
	return cli_interrupted() ? CLI_OK : r;
}

int main(int argc, char **argv)
{
	static const struct option version = { "version", no_argument, NULL,
					       'V' };
	struct run run = { .timeout_s = CH_CLI_DEFAULT_TIMEOUT_S };
	const char *env = getenv(CLI_SOCKET_ENV);
	char more[128];
	int c, r, n;

	run.socket = env && env[0] ? env : CLI_DEFAULT_SOCKET;
	/* "+": options up to the command only; then the command's turn */
	args_merge(&run, "+:", "V", NULL, &version);
	while ((c = args_next(&run, argc, argv)) != -1) {
		if (c == 'h') {
			help_usage(stdout);
			return CLI_OK;
		}
		if (c == 'V') {
			printf("callhome %s (commit %s)\n", CH_VERSION,
			       ch_commit);
			return CLI_OK;
		}
		return CLI_USAGE;	/* args_next said why */
	}
	if (optind >= argc) {
		help_usage(stderr);
		return CLI_USAGE;
	}
	run.cmd = commands_find(argc - optind, argv + optind, &n);
	if (run.cmd == NULL) {
		if (commands_group(argv[optind], more, sizeof(more)))
			cli_fail("%s wants one of: %s (see: callhome help %s)",
				 argv[optind], more, argv[optind]);
		else
			cli_fail("unknown command '%s' (see: callhome --help)",
				 argv[optind]);
		return CLI_USAGE;
	}
	/* the command's last word plays argv[0] */
	optind += n - 1;
	r = run_command(&run, argc - optind, argv + optind);
	json_decref(run.req);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_fail_errno(errno, "writing to standard output");
		if (r == CLI_OK)
			r = CLI_HUB;
	}
	return r;
}
