/* test_shell.c - the pure part of agent/shell.c: finding a process's
 * session in /proc/PID/stat, which decides what is killed at close. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <unistd.h>

#include "agent/shell.h"
#include "lib/core/err.h"

static void test_stat_sid(void **st)
{
	pid_t sid;

	(void)st;
	assert_int_equal(agent_shell_stat_sid("4321 (sleep) S 1 4321 4300 0 -1",
					      &sid), CH_OK);
	assert_int_equal(sid, 4300);
	/* a name with spaces and parentheses: counted from the last ')' */
	assert_int_equal(agent_shell_stat_sid("77 (a) b (c)) R 5 6 7 8\n",
					      &sid), CH_OK);
	assert_int_equal(sid, 7);
	assert_int_equal(agent_shell_stat_sid("77 (x) S 5 6\n", &sid),
			 CH_ERR_PROTO);
	assert_int_equal(sid, 0);
	assert_int_equal(agent_shell_stat_sid("no name here", &sid),
			 CH_ERR_PROTO);
	assert_int_equal(agent_shell_stat_sid("1 (x) S 1 1 zz 0", &sid),
			 CH_ERR_PROTO);
}

/* Our own line agrees with getsid(). */
static void test_stat_sid_self(void **st)
{
	char line[1024];
	pid_t sid;
	ssize_t n;
	FILE *f = fopen("/proc/self/stat", "r");

	(void)st;
	assert_non_null(f);
	n = (ssize_t)fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	assert_true(n > 0);
	line[n] = '\0';
	assert_int_equal(agent_shell_stat_sid(line, &sid), CH_OK);
	assert_int_equal(sid, getsid(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_sid),
		cmocka_unit_test(test_stat_sid_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
