/* log.h - one logger for the daemons, the CLI and the library (style E1).
 *
 * Lines go to stderr as "TIME LEVEL message". The level test happens in the
 * macro, before the arguments are evaluated, so a disabled debug line costs
 * nothing. Lines about one connection start with "conn=N peer=ADDR" (E2).
 */
#ifndef CH_LOG_H
#define CH_LOG_H

#include <stdarg.h>

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

#define ch_error(...) ch_log(CH_LOG_ERROR, __VA_ARGS__)
#define ch_warn(...)  ch_log(CH_LOG_WARN, __VA_ARGS__)
#define ch_info(...)  ch_log(CH_LOG_INFO, __VA_ARGS__)
#define ch_debug(...) ch_log_f(CH_LOG_DEBUG, __VA_ARGS__)

#endif
