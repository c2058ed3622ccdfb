#include "log.h"
#include "err.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int ch_log_threshold = CH_LOG_INFO;
static const char *log_ident = "callhome";

void ch_log_set_level(int level)
{
	ch_log_threshold = level;
}

void ch_log_set_ident(const char *ident)
{
	log_ident = ident;
}

int ch_log_parse_level(const char *name, int *level)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(name, names[i]) == 0) {
			*level = i;
			return CH_OK;
		}
	}
	return CH_ERR_INVAL;
}

void ch_log_write(int level, const char *func, const char *fmt, ...)
{
	static const char *tags[] = { "error", "warn", "info", "debug" };
	char msg[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A peer's bytes may reach a log line: never let them forge lines. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (level < 0 || level > CH_LOG_DEBUG)
		level = CH_LOG_DEBUG;
	fprintf(stderr, "%s.%03ldZ %s[%s] %s%s%s\n", stamp, ts.tv_nsec / 1000000,
		log_ident, tags[level], func ? func : "", func ? ": " : "", msg);
}

/* libssh's messages are detail: every failure it reports reaches our own
 * log as one line with the connection's context (E2), so its warnings
 * (a normal disconnect is one) would only repeat that at a louder level. */
static void libssh_log_cb(int priority, const char *function,
			  const char *buffer, void *userdata)
{
	int level = CH_LOG_DEBUG;

	(void)userdata;
	(void)function;
	(void)priority;
	if (level <= ch_log_threshold)
		ch_log_write(level, NULL, "libssh: %s", buffer);
}

void ch_log_route_libssh(void)
{
	ssh_set_log_callback(libssh_log_cb);
	/* Protocol detail from libssh only when we are debugging ourselves. */
	ssh_set_log_level(ch_log_threshold >= CH_LOG_DEBUG ? SSH_LOG_PROTOCOL
							   : SSH_LOG_NONE);
}
