/* test_log.c - log.h: the connection prefix, the _r and _errno suffixes,
 * the level test before the arguments, and the rate limiter. Lines are
 * read back from stderr through a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"

#define CAPTURE_MAX 65536	/* more than a pipe holds unread: never reached */

struct capture {
	int saved;		/* the real stderr */
	int rd;			/* the pipe's read end */
	char text[CAPTURE_MAX];
};

static int setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	int p[2];

	if (c == NULL || pipe(p) != 0)
		return -1;
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	c->rd = p[0];
	fcntl(c->rd, F_SETFL, O_NONBLOCK);
	ch_log_set_level(CH_LOG_INFO);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct capture *c = *state;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->rd);
	free(c);
	return 0;
}

/* What was logged since the last call, NUL-terminated. */
static const char *logged(struct capture *c)
{
	size_t n = 0;
	ssize_t k;

	fflush(stderr);
	while (n < sizeof(c->text) - 1 &&
	       (k = read(c->rd, c->text + n, sizeof(c->text) - 1 - n)) > 0)
		n += (size_t)k;
	c->text[n] = '\0';
	return c->text;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The message part of a single line: after "LEVEL] ". */
static const char *message(const char *line)
{
	const char *p = strstr(line, "] ");

	assert_non_null(p);
	return p + 2;
}

static void test_clog_prefix(void **state)
{
	struct capture *c = *state;
	struct ch_logctx ctx = { .conn = 17, .peer = "[::1]:50412" };
	struct ch_logctx chan;

	ch_clog(CH_LOG_INFO, &ctx, "called %d", 1);
	assert_string_equal(message(logged(c)),
			    "conn=17 peer=[::1]:50412 called 1\n");

	ctx.device = "";	/* a device, not yet identified */
	ch_clog(CH_LOG_WARN, &ctx, "hello late");
	assert_string_equal(message(logged(c)),
			    "conn=17 peer=[::1]:50412 device=? hello late\n");

	ctx.device = "SHA256:abc";
	chan = ch_logctx_chan(&ctx, 3);
	ch_clog(CH_LOG_INFO, &chan, "session up");
	assert_string_equal(message(logged(c)),
			    "conn=17 peer=[::1]:50412 device=SHA256:abc chan=3 "
			    "session up\n");
	assert_int_equal(ctx.chan, 0);	/* the owner's context is untouched */

	ctx.name = "r1";	/* a known device's registry name */
	ch_clog(CH_LOG_INFO, &ctx, "named");
	assert_string_equal(message(logged(c)),
			    "conn=17 peer=[::1]:50412 device=SHA256:abc name=r1 "
			    "named\n");
	ctx.name = "";		/* unnamed: not shown */
	ch_clog(CH_LOG_INFO, &ctx, "unnamed");
	assert_string_equal(message(logged(c)),
			    "conn=17 peer=[::1]:50412 device=SHA256:abc "
			    "unnamed\n");
	ctx.name = NULL;

	ctx.peer = NULL;
	ctx.device = NULL;
	ch_clog(CH_LOG_INFO, &ctx, "bare");
	assert_string_equal(message(logged(c)), "conn=17 bare\n");
	/* the level and the ident come first */
	assert_non_null(strstr(c->text, "[info] conn=17 bare"));
}

/* The agent's lines about one netconf-client: client= first; a dialer
 * between calls has no connection, and no conn=0. */
static void test_clog_client(void **state)
{
	struct capture *c = *state;
	struct ch_logctx ctx = { .client = "noc" };

	ch_clog(CH_LOG_INFO, &ctx, "call-home session ended (%s)", "eof");
	assert_string_equal(message(logged(c)),
			    "client=noc call-home session ended (eof)\n");

	ch_clog_r(CH_LOG_WARN, &ctx, CH_ERR_LIMIT, "not sent");
	assert_non_null(strstr(logged(c), "client=noc not sent: "));

	ctx.conn = 4;
	ctx.peer = "192.0.2.7:4334";
	ch_clog(CH_LOG_INFO, &ctx, "up");
	assert_string_equal(message(logged(c)),
			    "client=noc conn=4 peer=192.0.2.7:4334 up\n");

	/* without a client, conn=0 is still shown: the line is about a
	 * connection that has no number */
	ctx.client = NULL;
	ctx.conn = 0;
	ctx.peer = NULL;
	ch_clog(CH_LOG_INFO, &ctx, "x");
	assert_string_equal(message(logged(c)), "conn=0 x\n");
}

static void test_r_suffix(void **state)
{
	struct capture *c = *state;
	struct ch_logctx ctx = { .conn = 2, .peer = "192.0.2.1:4334" };
	char want[256];

	ch_log_r(CH_LOG_ERROR, CH_ERR_LIMIT, "reading %s", "x");
	snprintf(want, sizeof(want), "reading x: %s\n",
		 ch_strerror(CH_ERR_LIMIT));
	assert_string_equal(message(logged(c)), want);

	ch_clog_r(CH_LOG_WARN, &ctx, CH_ERR_PROTO, "framing");
	snprintf(want, sizeof(want), "conn=2 peer=192.0.2.1:4334 framing: %s\n",
		 ch_strerror(CH_ERR_PROTO));
	assert_string_equal(message(logged(c)), want);

	/* r = 0 adds nothing on a connection line */
	ch_clog_r(CH_LOG_WARN, &ctx, CH_OK, "fine");
	assert_string_equal(message(logged(c)),
			    "conn=2 peer=192.0.2.1:4334 fine\n");
}

/* An argument that clobbers errno, as a libc call among them might. */
static const char *clobber(const char *s)
{
	errno = EINVAL;
	return s;
}

static void test_errno_suffix(void **state)
{
	struct capture *c = *state;
	struct ch_logctx ctx = { .conn = 5 };
	char want[256];

	errno = ENOENT;
	ch_log_errno(CH_LOG_ERROR, "%s: cannot open", clobber("/x"));
	snprintf(want, sizeof(want), "/x: cannot open: %s\n", strerror(ENOENT));
	assert_string_equal(message(logged(c)), want);

	errno = ECONNREFUSED;
	ch_clog_errno(CH_LOG_WARN, &ctx, "connect");
	snprintf(want, sizeof(want), "conn=5 connect: %s\n",
		 strerror(ECONNREFUSED));
	assert_string_equal(message(logged(c)), want);

	ch_log_write_errno(CH_LOG_ERROR, EACCES, "bind");
	snprintf(want, sizeof(want), "bind: %s\n", strerror(EACCES));
	assert_string_equal(message(logged(c)), want);

	/* a libuv code is a negative errno */
	ch_log_uv(CH_LOG_ERROR, UV_EADDRINUSE, "listen on %d", 4334);
	snprintf(want, sizeof(want), "listen on 4334: %s\n",
		 strerror(EADDRINUSE));
	assert_string_equal(message(logged(c)), want);
}

static int evaluated;

static int touch(void)
{
	return ++evaluated;
}

static void test_level_before_arguments(void **state)
{
	struct capture *c = *state;
	struct ch_logctx ctx = { .conn = 1 };

	evaluated = 0;
	ch_log(CH_LOG_DEBUG, "%d", touch());
	ch_clog(CH_LOG_DEBUG, &ctx, "%d", touch());
	ch_log_r(CH_LOG_DEBUG, CH_ERR_IO, "%d", touch());
	ch_clog_rl(CH_LOG_DEBUG, &ctx, "%d", touch());
	ch_log_uv(CH_LOG_DEBUG, UV_EBADF, "%d", touch());
	assert_int_equal(evaluated, 0);
	assert_string_equal(logged(c), "");
}

static void test_ratelimit(void **state)
{
	struct capture *c = *state;
	struct ch_ratelimit rl = { 0 };
	unsigned passed = 0;
	char want[128];

	/* a burst passes, the rest of the window is counted */
	for (int i = 0; i < CH_LOG_BURST + 7; i++)
		passed += (unsigned)ch_ratelimit_pass(&rl, CH_LOG_WARN);
	assert_int_equal(passed, CH_LOG_BURST);
	assert_int_equal(rl.suppressed, 7);
	assert_string_equal(logged(c), "");

	/* a new window: one line says how many were dropped, then the
	 * line itself passes */
	rl.window_start_ms -= CH_LOG_BURST_WINDOW_MS;
	assert_int_equal(ch_ratelimit_pass(&rl, CH_LOG_WARN), 1);
	snprintf(want, sizeof(want), "(7 similar lines suppressed in %u s)\n",
		 CH_LOG_BURST_WINDOW_MS / 1000);
	assert_string_equal(message(logged(c)), want);
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.lines, 1);

	/* a quiet window says nothing more */
	rl.window_start_ms -= CH_LOG_BURST_WINDOW_MS;
	assert_int_equal(ch_ratelimit_pass(&rl, CH_LOG_WARN), 1);
	assert_string_equal(logged(c), "");
}

static void test_rl_macros(void **state)
{
	struct capture *c = *state;
	struct ch_logctx ctx = { .conn = 9, .peer = "p" };
	const char *text;

	/* one call site, one limit */
	for (int i = 0; i < CH_LOG_BURST + 5; i++)
		ch_log_rl(CH_LOG_WARN, "refused %d", i);
	text = logged(c);
	assert_int_equal(count_lines(text), CH_LOG_BURST);
	assert_non_null(strstr(text, "refused 0\n"));
	assert_null(strstr(text, "refused 20\n"));

	/* another call site has its own */
	for (int i = 0; i < 3; i++)
		ch_clog_rl(CH_LOG_WARN, &ctx, "bad hello %d", i);
	text = logged(c);
	assert_int_equal(count_lines(text), 3);
	assert_non_null(strstr(text, "conn=9 peer=p bad hello 2\n"));
}

/* auto: the journal only when JOURNAL_STREAM names stderr (here, the
 * capture pipe); then "<N>message" with sd-daemon priorities. */
static void test_target_journal(void **state)
{
	struct capture *c = *state;
	struct stat st;
	char js[64];
	int t = -1;

	assert_int_equal(ch_log_parse_target("syslog", &t), CH_OK);
	assert_int_equal(t, CH_LOG_TARGET_SYSLOG);
	assert_int_equal(ch_log_parse_target("journal", &t), CH_ERR_INVAL);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", js, 1);
	ch_log_set_target(CH_LOG_TARGET_AUTO);
	assert_int_equal(ch_log_target(), CH_LOG_TARGET_STDERR);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	ch_log_set_target(CH_LOG_TARGET_AUTO);
	assert_int_equal(ch_log_target(), CH_LOG_TARGET_JOURNAL);
	ch_log_set_level(CH_LOG_DEBUG);
	ch_warn("disk %d%% full", 93);
	ch_error("x\ny");
	ch_log(CH_LOG_DEBUG, "d");
	assert_string_equal(logged(c), "<4>disk 93% full\n<3>x?y\n<7>d\n");
	ch_log_set_target(CH_LOG_TARGET_STDERR);
	unsetenv("JOURNAL_STREAM");
	ch_info("plain");
	assert_string_equal(message(logged(c)), "plain\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clog_prefix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_clog_client, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_r_suffix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errno_suffix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_level_before_arguments,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ratelimit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_target_journal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rl_macros, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
