/* cli.c - the CLI's one shape of failure message, and SIGINT. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Set by SIGINT during events --follow. */
static volatile sig_atomic_t interrupted;
/* While --follow waits for a hub that went away, every failed poll would
 * say the same: it says it once, from last_fail. */
static bool fail_muted;
static char last_fail[CLI_MSG_MAX];

/* After SIGINT, what fails is the interruption itself, not worth a line. */
void cli_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_fail, sizeof(last_fail), fmt, ap);
	va_end(ap);
	/* the hub's sentences end up here too: keep it one line */
	for (char *p = last_fail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!fail_muted && !interrupted)
		fprintf(stderr, "callhome: %s\n", last_fail);
}

void cli_fail_errno(int e, const char *fmt, ...)
{
	char msg[CLI_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_fail("%s: %s", msg, strerror(e));
}

int cli_usage_error(const struct run *run, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (run->cmd)
		cli_fail("%s: %s (see: callhome help %s)", run->cmd->name, msg,
			 run->cmd->name);
	else
		cli_fail("%s (see: callhome --help)", msg);
	return CLI_USAGE;
}

int cli_out_of_memory(void)
{
	cli_fail("out of memory");
	return CLI_USAGE;
}

void cli_fail_mute(bool muted)
{
	fail_muted = muted;
}

const char *cli_last_failure(void)
{
	return last_fail;
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

void cli_catch_sigint(void)
{
	struct sigaction sa = { .sa_handler = on_sigint };

	/* no SA_RESTART: SIGINT must cut a wait short */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

bool cli_interrupted(void)
{
	return interrupted != 0;
}
