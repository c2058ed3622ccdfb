/* help.c - --help and `callhome help`, generated from the command table
 * so that a new command documents itself. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "lib/core/limits.h"

static const char exit_text[] =
"Exit status:\n"
"  0  success; for rpc, get-config, edit-config also: the job was queued\n"
"  1  usage error\n"
"  2  the hub is unreachable, timed out, or broke the protocol\n"
"  3  the device answered with an rpc-error (the reply is still printed)\n"
"  4  the hub refused the request (e.g. no such device, or --now and it\n"
"     is not connected): its error on standard error, and with --json\n"
"     its response on stdout\n"
"  5  the job ended without success: failed, in doubt, cancelled or\n"
"     expired (rpc, get-config, edit-config; see: callhome job ID)\n"
"  6  --wait ran out of --timeout: the job is still queued or running\n"
"     (it stays; see: callhome job ID)\n";

void help_usage(FILE *f)
{
	char synopsis[128];

	fputs("Usage: callhome [--hub SOCKET] [--json] [--timeout SECONDS] "
	      "COMMAND [ARG]...\n"
	      "The operator's client of callhome-hub, through its control "
	      "socket.\n\nCommands:\n", f);
	for (size_t i = 0; i < ncommands; i++) {
		snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name,
			 commands[i].args);
		if (strlen(synopsis) > 24)
			fprintf(f, "  %s\n  %-24s  %s\n", synopsis, "",
				commands[i].summary);
		else
			fprintf(f, "  %-24s  %s\n", synopsis,
				commands[i].summary);
	}
	fprintf(f,
"\nOptions (before or after COMMAND):\n"
"  -H, --hub SOCKET        the hub's control socket [$" CLI_SOCKET_ENV
", else\n"
"                          " CLI_DEFAULT_SOCKET "]\n"
"  -j, --json              print the hub's response object instead of\n"
"                          text: {\"ok\": true, ...}, absent values null\n"
"                          (events --follow: one event object a line)\n"
"  -t, --timeout SECONDS   give up on the hub after this long [%d]\n"
"  -h, --help              this text (callhome help COMMAND for one)\n"
"  -V, --version           print the version\n"
"\n"
"XML a device sent (rpc, get-config, a job's result) is indented on a\n"
"terminal, and its bytes as they came into a pipe or a file.\n"
"\n"
"DEVICE is a device's name, its fingerprint (SHA256:...), or a unique\n"
"prefix of the fingerprint, with or without SHA256: (at least "
CH_STR(CH_RESOLVE_MIN_PREFIX) "\n"
"characters after it); for TLS devices also serial:S, the serial S\n"
"alone, or x509:SHA256:<hex> (docs/tls.md).\n\n%s", CH_CLI_DEFAULT_TIMEOUT_S, exit_text);
}

static void command_usage(FILE *f, const struct command *cmd)
{
	fprintf(f, "Usage: callhome [OPTION]... %s %s\n%s.\n\n%s\n",
		cmd->name, cmd->args, cmd->summary, cmd->help);
}

void help_command(FILE *f, const struct command *cmd)
{
	command_usage(f, cmd);
	fputs(cmd->print ? exit_text : "", f);
}

/* help [COMMAND]: prints and returns CLI_HELPED; never talks to the hub. */
int build_help(struct run *run, int argc, char **argv)
{
	const struct command *cmd;
	char more[128];
	int r, n;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK)
		return r;
	if (optind >= argc) {
		help_usage(stdout);
		return CLI_HELPED;
	}
	cmd = commands_find(argc - optind, argv + optind, &n);
	if (cmd && n == argc - optind) {
		help_command(stdout, cmd);
		return CLI_HELPED;
	}
	/* "help identity": every command of the group */
	if (argc - optind == 1 &&
	    commands_group(argv[optind], more, sizeof(more))) {
		for (size_t i = 0; i < ncommands; i++)
			if (commands_in_group(commands[i].name, argv[optind]))
				command_usage(stdout, &commands[i]);
		fputs(exit_text, stdout);
		return CLI_HELPED;
	}
	return cli_usage_error(run, "no command '%s'", argv[optind]);
}
