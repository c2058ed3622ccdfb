/* cli.h - what every part of the callhome CLI shares: the exit codes, the
 * run context of one invocation, the command table's entry, and the one
 * way to say that something failed.
 *
 * The CLI is a thin client of the hub's control socket
 * (docs/control-api.md). Its files:
 *   main.c      options before the command, dispatch, the exit status
 *   cli.c       failure messages, SIGINT
 *   commands.c  the command table (style A2) and looking names up in it
 *   help.c      --help and `callhome help`, generated from the table
 *   args.c      getopt over global + command options, operands, values
 *   request.c   building the request object
 *   conn.c      one exchange with the hub, bounded in size and time
 *   resp.c      reading the hub's answer and printing it
 *   table.c     aligned tables and "label: value" views for a terminal
 *   devices.c jobs.c events.c   the commands' build and print functions
 *   select.c    the selector options (--tag, --group, --name, a state)
 *   term.c      exec and shell: the stream, raw mode, attach and watch; the
 *               stream client of connect; forward.c forward, connect
 *   sessions.c  sessions, recordings; play.c and castread.c: play
 */
#ifndef CH_CLI_H
#define CH_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/core/limits.h"

#define CLI_DEFAULT_SOCKET "/var/lib/callhome/hub.sock"
#define CLI_SOCKET_ENV "CALLHOME_HUB"
#define CLI_MAX_OPTS 24		/* global + one command's long options */
#define CLI_SHORTOPTS_MAX 64
#define CLI_MSG_MAX 1024	/* one error line */
#define CLI_HINT_MAX 256

#define CLI_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The exit status, as docs/control-api.md lists it. */
enum cli_exit {
	CLI_OK = 0,
	CLI_USAGE = 1,
	CLI_HUB = 2,		/* unreachable, timed out, protocol error */
	CLI_RPC_ERROR = 3,	/* the device answered with an rpc-error */
	CLI_REFUSED = 4,	/* the hub answered {"ok": false} */
	CLI_JOB_FAILED = 5,	/* the job ended without a result */
	CLI_STILL_WAITING = 6,	/* --wait ran out; the job stays */
	/* exec, shell: the session ended without the remote command's
	 * exit status (lost, left with ~., killed by a signal), as ssh */
	CLI_STREAM_LOST = 255,
	CLI_HELPED = -1,	/* internal: help was printed, exit 0 */
};

struct command;

/* One invocation: what the options said and the request being built. */
struct run {
	const char *socket;
	bool json;
	bool follow;		/* events --follow */
	uint32_t timeout_s;
	const struct command *cmd;
	json_t *req;		/* built by cmd->build */
	char wait_hint[CLI_HINT_MAX];	/* said when --wait runs out */
	bool wait_job;		/* --wait: a timeout while waiting for the
				 * response is CLI_STILL_WAITING, unsaid */
	char shortopts[CLI_SHORTOPTS_MAX];	/* global + command options */
	const char *own_shortopts;	/* the command's: a letter both have
					 * is the command's (exec -t) */
	struct option longopts[CLI_MAX_OPTS];
};

/* One entry of the command table (commands.c). */
struct command {
	const char *name;	/* one word, or two: "identity add" */
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line for the command list */
	const char *help;	/* paragraphs for `callhome help NAME` */
	const char *shortopts;	/* the command's own options */
	const struct option *longopts;
	const char *done;	/* past tense for print_changed: "approved" */
	/* Turns the command line (argv[0] is the command's last word) into
	 * run->req. Returns CLI_OK, CLI_USAGE (message printed) or
	 * CLI_HELPED. */
	int (*build)(struct run *run, int argc, char **argv);
	/* Handles the hub's {"ok": true} response; returns the exit code.
	 * NULL: a command that never talks to the hub. */
	int (*print)(struct run *run, json_t *resp);
	/* Instead of print: a command whose connection becomes a stream
	 * (exec, shell); it sends run->req itself and returns the exit
	 * code. */
	int (*stream)(struct run *run);
};

/* Says what failed: "callhome: <message>", one line on stderr (control
 * characters, e.g. from the hub's sentences, become spaces). Silent while
 * muted and after SIGINT; cli_last_failure() has the message either way. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_fail() with ": " and the text of error number e (a saved errno)
 * appended. */
void cli_fail_errno(int e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* cli_fail() for a command line that makes no sense, pointing at the help
 * of run->cmd (or --help before a command). Returns CLI_USAGE. */
int cli_usage_error(const struct run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Says "out of memory"; returns CLI_USAGE. */
int cli_out_of_memory(void);

/* events --follow retries a hub that went away: it says so once, with the
 * message of a failure it kept quiet. */
void cli_fail_mute(bool muted);
const char *cli_last_failure(void);

/* SIGINT from now on ends waits early (no SA_RESTART) and sets the flag
 * cli_interrupted() reads: how events --follow stops. */
void cli_catch_sigint(void);
bool cli_interrupted(void);

#endif
