/* test_conffile.c - a daemon's configuration file into arguments for the
 * getopt_long table that parses its command line (conffile.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "lib/core/conffile.h"
#include "lib/core/err.h"

static const struct option opts[] = {
	{ "listen", required_argument, NULL, 'L' },
	{ "accept-new", no_argument, NULL, 1 },
	{ "state", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
static const char *const refused[] = { "help", NULL };

static int parse(const char *text, struct ch_conf_args *a, char *err,
		 size_t errlen)
{
	return ch_conf_parse("hub.conf", text, strlen(text), opts, refused,
			     a, err, errlen);
}

static void bad(const char *text, const char *want)
{
	struct ch_conf_args a;
	char err[256];

	assert_int_equal(parse(text, &a, err, sizeof(err)), CH_ERR_INVAL);
	assert_string_equal(err, want);
	assert_int_equal(a.n, 0);
	assert_null(a.argv);
}

static void test_lines(void **state)
{
	struct ch_conf_args a;
	char err[256];

	(void)state;
	assert_int_equal(parse("# the hub\n\n  listen = 10.0.0.1:4334 \n"
			       "listen=[::1]:4335\r\n\taccept-new = Yes\n"
			       "state = /var/lib/x y\n"
			       "# accept-new = no\n"
			       "accept-new = off", &a, err, sizeof(err)),
			 CH_OK);
	assert_int_equal(a.n, 4);
	assert_string_equal(a.argv[0], "--listen=10.0.0.1:4334");
	assert_string_equal(a.where[0], "hub.conf:3");
	assert_string_equal(a.argv[1], "--listen=[::1]:4335");
	assert_string_equal(a.argv[2], "--accept-new");
	assert_string_equal(a.where[2], "hub.conf:5");
	assert_string_equal(a.argv[3], "--state=/var/lib/x y");
	assert_string_equal(a.where[3], "hub.conf:6");
	ch_conf_free(&a);
	assert_int_equal(parse("", &a, err, sizeof(err)), CH_OK);
	assert_int_equal(a.n, 0);
}

static void test_errors(void **state)
{
	(void)state;
	bad("\n\nlistn = x\n", "hub.conf:3: unknown key 'listn'");
	bad("listen\n", "hub.conf:1: 'listen' is not 'key = value'");
	bad("listen =  \n", "hub.conf:1: listen: no value");
	bad("accept-new = 1\n",
	    "hub.conf:1: accept-new: not yes, no, true or false");
	bad("help = yes\n", "hub.conf:1: not a configuration file key 'help'");
	bad("--listen = x\n", "hub.conf:1: unknown key '--listen'");
	bad("l\033x = 1\n", "hub.conf:1: unknown key 'l?x'");
}

static void test_nul(void **state)
{
	static const char text[] = "state = a\0b\n";
	struct ch_conf_args a;
	char err[256];

	(void)state;
	assert_int_equal(ch_conf_parse("hub.conf", text, sizeof(text) - 1,
				       opts, refused, &a, err, sizeof(err)),
			 CH_ERR_INVAL);
	assert_string_equal(err, "hub.conf:1: a NUL byte");
}

static void test_limits(void **state)
{
	static char big[CH_CONF_LINE_MAX + 16];
	struct ch_conf_args a;
	char err[256];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "state = ", 8);
	assert_int_equal(parse(big, &a, err, sizeof(err)), CH_ERR_INVAL);
	assert_string_equal(err, "hub.conf:1: longer than "
			    "4096 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
