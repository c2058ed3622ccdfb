#include "lib/core/log.h"
#include "lib/core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

int ch_log_threshold = CH_LOG_INFO;
static const char *log_ident = "callhome";
static int log_target = CH_LOG_TARGET_STDERR;

void ch_log_set_level(int level)
{
	ch_log_threshold = level;
}

void ch_log_set_ident(const char *ident)
{
	log_ident = ident;
}

int ch_log_parse_target(const char *name, int *target)
{
	static const char *names[] = { "auto", "stderr", "syslog" };

	for (int i = 0; i < 3; i++) {
		if (strcmp(name, names[i]) == 0) {
			*target = i;
			return CH_OK;
		}
	}
	return CH_ERR_INVAL;
}

/* 1 if stderr is the stream JOURNAL_STREAM ("DEV:INO") names. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(2, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void ch_log_set_target(int target)
{
	if (log_target == CH_LOG_TARGET_SYSLOG)
		closelog();
	if (target == CH_LOG_TARGET_AUTO)
		target = stderr_is_journal() ? CH_LOG_TARGET_JOURNAL
					     : CH_LOG_TARGET_STDERR;
	log_target = target;
	if (target == CH_LOG_TARGET_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
}

int ch_log_target(void)
{
	return log_target;
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
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
				    LOG_DEBUG };
	char msg[CH_LOG_LINE_MAX];
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

	if (level < 0 || level > CH_LOG_DEBUG)
		level = CH_LOG_DEBUG;
	if (log_target == CH_LOG_TARGET_SYSLOG) {
		syslog(prio[level], "%s%s%s", func ? func : "",
		       func ? ": " : "", msg);
		return;
	}
	if (log_target == CH_LOG_TARGET_JOURNAL) {
		fprintf(stderr, "<%d>%s%s%s\n", prio[level], func ? func : "",
			func ? ": " : "", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%s] %s%s%s\n", stamp, ts.tv_nsec / 1000000,
		log_ident, tags[level], func ? func : "", func ? ": " : "", msg);
}

/* One line: msg, then ": suffix" unless suffix is NULL. */
__attribute__((format(printf, 3, 0)))
static void vwrite_suffix(int level, const char *suffix, const char *fmt,
			  va_list ap)
{
	char msg[CH_LOG_LINE_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suffix)
		ch_log_write(level, NULL, "%s: %s", msg, suffix);
	else
		ch_log_write(level, NULL, "%s", msg);
}

void ch_log_write_r(int level, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwrite_suffix(level, ch_strerror(r), fmt, ap);
	va_end(ap);
}

void ch_log_write_errno(int level, int e, const char *fmt, ...)
{
	char text[128];
	va_list ap;

	va_start(ap, fmt);
	vwrite_suffix(level, strerror_r(e, text, sizeof(text)), fmt, ap);
	va_end(ap);
}

/* "client=C conn=N peer=A device=ID name=NAME chan=K msg[: suffix]" */
__attribute__((format(printf, 4, 0)))
static void vclog(int level, const struct ch_logctx *c, const char *suffix,
		  const char *fmt, va_list ap)
{
	char msg[CH_LOG_LINE_MAX], pre[384], conn[32] = "", chan[32] = "";
	int named = c->device && c->name && c->name[0];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->conn || c->client == NULL)
		snprintf(conn, sizeof(conn), "%sconn=%u", c->client ? " " : "",
			 c->conn);
	if (c->chan)
		snprintf(chan, sizeof(chan), " chan=%u", c->chan);
	snprintf(pre, sizeof(pre), "%s%s%s%s%s%s%s%s%s%s",
		 c->client ? "client=" : "", c->client ? c->client : "", conn,
		 c->peer ? " peer=" : "", c->peer ? c->peer : "",
		 c->device ? " device=" : "",
		 c->device ? (c->device[0] ? c->device : "?") : "",
		 named ? " name=" : "", named ? c->name : "", chan);
	if (suffix)
		ch_log_write(level, NULL, "%s %s: %s", pre, msg, suffix);
	else
		ch_log_write(level, NULL, "%s %s", pre, msg);
}

void ch_clog_write(int level, const struct ch_logctx *c, int r,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vclog(level, c, r ? ch_strerror(r) : NULL, fmt, ap);
	va_end(ap);
}

void ch_clog_write_errno(int level, const struct ch_logctx *c, int e,
			 const char *fmt, ...)
{
	char text[128];
	va_list ap;

	va_start(ap, fmt);
	vclog(level, c, strerror_r(e, text, sizeof(text)), fmt, ap);
	va_end(ap);
}

static unsigned long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 +
	       (unsigned long long)ts.tv_nsec / 1000000;
}

int ch_ratelimit_pass(struct ch_ratelimit *rl, int level)
{
	unsigned long long now = mono_ms();

	if (rl->window_start_ms == 0 ||
	    now - rl->window_start_ms >= CH_LOG_BURST_WINDOW_MS) {
		if (rl->suppressed)
			ch_log_write(level, NULL, "(%lu similar lines "
				     "suppressed in %u s)", rl->suppressed,
				     CH_LOG_BURST_WINDOW_MS / 1000);
		rl->window_start_ms = now;
		rl->lines = 0;
		rl->suppressed = 0;
	}
	if (rl->lines >= CH_LOG_BURST) {
		rl->suppressed++;
		return 0;
	}
	rl->lines++;
	return 1;
}
