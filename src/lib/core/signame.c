/* signame.c - RFC 4254 signal names (signame.h). */
#include "lib/core/signame.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>

static const struct {
	const char *name;
	int num;
} signals[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "FPE", SIGFPE },
	{ "HUP", SIGHUP }, { "ILL", SIGILL }, { "INT", SIGINT },
	{ "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "QUIT", SIGQUIT },
	{ "SEGV", SIGSEGV }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 },
};

#define NSIGNALS (sizeof(signals) / sizeof(signals[0]))

int ch_signal_num(const char *name)
{
	for (size_t i = 0; name && i < NSIGNALS; i++)
		if (strcmp(name, signals[i].name) == 0)
			return signals[i].num;
	return 0;
}

const char *ch_signal_name(int sig)
{
	for (size_t i = 0; i < NSIGNALS; i++)
		if (signals[i].num == sig)
			return signals[i].name;
	return NULL;
}
