#include "lib/core/log.h"
#include "lib/core/err.h"

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

