/* test_cliopt.c - command-line value parsing: numbers and times. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/core/cliopt.h"
#include "lib/core/err.h"

#define NOW 1765116300	/* 2025-12-07T14:05:00Z */

static int64_t t_ok(const char *s)
{
	int64_t v = -1;

	assert_int_equal(ch_parse_time(s, NOW, &v), CH_OK);
	return v;
}

static void t_bad(const char *s)
{
	int64_t v = -1;

	assert_int_equal(ch_parse_time(s, NOW, &v), CH_ERR_INVAL);
	assert_int_equal(v, 0);
}

static void test_time_dates(void **state)
{
	(void)state;
	assert_int_equal(t_ok("2025-12-07T14:05:00Z"), NOW);
	assert_int_equal(t_ok("2025-12-07T14:05:00"), NOW);
	assert_int_equal(t_ok("2025-12-07T14:05Z"), NOW);
	assert_int_equal(t_ok("2025-12-07 14:05"), NOW);
	assert_int_equal(t_ok("2025-12-07"), NOW - (14 * 3600 + 5 * 60));
	assert_int_equal(t_ok("1970-01-01"), 0);
	assert_int_equal(t_ok("2024-02-29"), 1709164800);
	t_bad("2025-02-29");	/* not a leap year */
	t_bad("2025-04-31");
	t_bad("2025-13-01");
	t_bad("2025-00-10");
	t_bad("2025-12-07T24:00");
	t_bad("2025-12-07T14:60");
	t_bad("2025-12-07T14:05:60");
	t_bad("2025-12-07T14");
	t_bad("2025-12-07T14:05:00+02:00");
	t_bad("2025-12-07x");
	t_bad("1969-12-31");
	t_bad("2025-1-07");
}

static void test_time_relative(void **state)
{
	(void)state;
	assert_int_equal(t_ok("now"), NOW);
	assert_int_equal(t_ok("30s"), NOW - 30);
	assert_int_equal(t_ok("15m"), NOW - 900);
	assert_int_equal(t_ok("1h"), NOW - 3600);
	assert_int_equal(t_ok("2d"), NOW - 2 * 86400);
	assert_int_equal(t_ok("1w"), NOW - 7 * 86400);
	assert_int_equal(t_ok("0h"), NOW);
	assert_int_equal(t_ok("@1700000000"), 1700000000);
	assert_int_equal(t_ok("@0"), 0);
	t_bad("");
	t_bad("h");
	t_bad("1");		/* a bare number: seconds or a time? */
	t_bad("1y");
	t_bad("1hh");
	t_bad("-1h");
	t_bad("@");
	t_bad("@12x");
	t_bad("@-5");
	t_bad("99999999999999999999d");
	t_bad("100000d");	/* before 1970 */
	t_bad("yesterday");
}

static void test_u32(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(ch_parse_u32("17", 1, 20, &v), CH_OK);
	assert_int_equal(v, 17);
	assert_int_equal(ch_parse_u32("21", 1, 20, &v), CH_ERR_INVAL);
	assert_int_equal(ch_parse_u32("+1", 1, 20, &v), CH_ERR_INVAL);
	assert_int_equal(ch_parse_u32("1x", 1, 20, &v), CH_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_dates),
		cmocka_unit_test(test_time_relative),
		cmocka_unit_test(test_u32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
