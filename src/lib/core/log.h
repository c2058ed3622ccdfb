/* log.h - one logger for the daemons, the CLI and the library (style E1).
 *
 * Lines go to stderr as "TIME LEVEL message", or to the journal or syslog
 * (ch_log_set_target). The level test happens in the
 * macro, before the arguments are evaluated, so a disabled debug line costs
 * nothing. Lines about one connection start with "conn=N peer=ADDR" (E2).
 */
#ifndef CH_LOG_H
#define CH_LOG_H

#include <errno.h>
#include <stdarg.h>

#include "lib/core/limits.h"

enum ch_log_level {
	CH_LOG_ERROR = 0,
	CH_LOG_WARN = 1,
	CH_LOG_INFO = 2,
	CH_LOG_DEBUG = 3,
};

extern int ch_log_threshold;

void ch_log_set_level(int level);
/* Parses "error|warn|info|debug"; returns CH_OK or CH_ERR_INVAL. */
int ch_log_parse_level(const char *name, int *level);
/* Name this process in every line, e.g. "callhomed". Borrows ident. */
void ch_log_set_ident(const char *ident);

/* Where lines go. auto: to the journal when stderr is the journal's
 * stream (systemd sets JOURNAL_STREAM to its "DEV:INO"), else stderr as
 * ever (a file, a pipe or a terminal: what tests, containers and
 * supervisors read). journal: "<N>message", sd-daemon(3) priority
 * prefixes, so the journal keeps each line's level and adds the time
 * itself. syslog: syslog(3), facility daemon, the ident and pid. */
enum ch_log_target {
	CH_LOG_TARGET_AUTO = 0,
	CH_LOG_TARGET_STDERR,
	CH_LOG_TARGET_SYSLOG,
	CH_LOG_TARGET_JOURNAL,	/* what auto resolves to; not a name */
};
/* Parses "auto|stderr|syslog"; CH_OK or CH_ERR_INVAL. */
int ch_log_parse_target(const char *name, int *target);
/* Resolves auto at once (reads JOURNAL_STREAM and fstat(2)). */
void ch_log_set_target(int target);
/* The target in use: CH_LOG_TARGET_STDERR, _SYSLOG or _JOURNAL. */
int ch_log_target(void);

void ch_log_write(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ch_log(level, ...) do { \
	if ((level) <= ch_log_threshold) \
		ch_log_write((level), NULL, __VA_ARGS__); \
} while (0)
/* _f: prefix the function name, for debugging-oriented lines. */
#define ch_log_f(level, ...) do { \
	if ((level) <= ch_log_threshold) \
		ch_log_write((level), __func__, __VA_ARGS__); \
} while (0)

/* _r: append ": " and ch_strerror(r), the one way an error code reaches
 * a line. */
#define ch_log_r(level, r, ...) do { \
	if ((level) <= ch_log_threshold) \
		ch_log_write_r((level), (r), __VA_ARGS__); \
} while (0)
void ch_log_write_r(int level, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* _errno: append ": " and the text of errno, the one way a system error
 * reaches a line. errno is saved before the arguments are evaluated, so
 * a call among them cannot change what is reported. */
#define ch_log_errno(level, ...) do { \
	int ch_errno_ = errno; \
	if ((level) <= ch_log_threshold) \
		ch_log_write_errno((level), ch_errno_, __VA_ARGS__); \
} while (0)
/* The same with an error number saved earlier (e, not errno). */
void ch_log_write_errno(int level, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with a libuv error code: a negative errno on Unix
 * (uv/errno.h); not for getaddrinfo's UV_EAI_*, which are not. */
#define ch_log_uv(level, uvr, ...) do { \
	if ((level) <= ch_log_threshold) \
		ch_log_write_errno((level), -(uvr), __VA_ARGS__); \
} while (0)

/* ---- lines about one connection (E2) ----
 *
 * Every line that concerns a connection starts the same way:
 *   client=NAME conn=N peer=ADDR device=ID chan=K <message>
 * client= appears on the agent's lines about one of its netconf-clients
 * (the manager it calls; its dialer has no connection between calls:
 * conn=0 is then left out), device= once the peer is known to be a
 * device (the hub; "?" before it identified itself), name= once a known
 * device's registry name is (the hub), chan= when the line
 * is about one channel of the connection. The owner embeds a ch_logctx
 * and keeps its strings alive; a lower layer logs through the owner's
 * context. */
struct ch_logctx {
	unsigned conn;		/* 0: not a connection */
	const char *peer;	/* NULL: not shown */
	const char *device;	/* NULL: not shown; "" shows "?" */
	const char *name;	/* the device's name; NULL or "": not shown */
	unsigned chan;		/* 0: not shown */
	const char *client;	/* NULL: not shown */
};

void ch_clog_write(int level, const struct ch_logctx *c, int r,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define ch_clog(level, c, ...) do { \
	if ((level) <= ch_log_threshold) \
		ch_clog_write((level), (c), 0, __VA_ARGS__); \
} while (0)
#define ch_clog_r(level, c, r, ...) do { \
	if ((level) <= ch_log_threshold) \
		ch_clog_write((level), (c), (r), __VA_ARGS__); \
} while (0)
#define ch_clog_errno(level, c, ...) do { \
	int ch_errno_ = errno; \
	if ((level) <= ch_log_threshold) \
		ch_clog_write_errno((level), (c), ch_errno_, __VA_ARGS__); \
} while (0)
void ch_clog_write_errno(int level, const struct ch_logctx *c, int e,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same context for one channel of the connection. */
static inline struct ch_logctx ch_logctx_chan(const struct ch_logctx *c,
					      unsigned chan)
{
	struct ch_logctx k = *c;

	k.chan = chan;
	return k;
}

/* ---- floods (style E3) ----
 *
 * A line that a peer can trigger at will (a refused connection, a bad
 * packet) goes through a rate limit per call site: at most
 * CH_LOG_BURST lines per CH_LOG_BURST_WINDOW_MS, then one line saying how
 * many were suppressed when the next window opens. */

struct ch_ratelimit {
	unsigned long long window_start_ms;
	unsigned lines;
	unsigned long suppressed;
};
/* 1: log this line now (a summary of what was suppressed was logged
 * first when a new window opened); 0: suppress it. */
int ch_ratelimit_pass(struct ch_ratelimit *rl, int level);
#define ch_log_rl(level, ...) do { \
	static struct ch_ratelimit ch_rl_; \
	if ((level) <= ch_log_threshold && ch_ratelimit_pass(&ch_rl_, (level))) \
		ch_log_write((level), NULL, __VA_ARGS__); \
} while (0)
#define ch_clog_rl(level, c, ...) do { \
	static struct ch_ratelimit ch_rl_; \
	if ((level) <= ch_log_threshold && ch_ratelimit_pass(&ch_rl_, (level))) \
		ch_clog_write((level), (c), 0, __VA_ARGS__); \
} while (0)

#define ch_error(...) ch_log(CH_LOG_ERROR, __VA_ARGS__)
#define ch_warn(...)  ch_log(CH_LOG_WARN, __VA_ARGS__)
#define ch_info(...)  ch_log(CH_LOG_INFO, __VA_ARGS__)
#define ch_debug(...) ch_log_f(CH_LOG_DEBUG, __VA_ARGS__)

#endif
