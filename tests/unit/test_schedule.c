/* test_schedule.c - periodic start times, attempt order, RFC 3339. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include "lib/core/err.h"
#include "lib/core/schedule.h"

#define MIN_MS (60 * 1000)
#define HOUR_MS (60 * MIN_MS)

/* The remaining part of the period, never the elapsed part. */
static void test_periodic_wait_is_the_remaining_part(void **state)
{
	int64_t anchor = 1000LL * 1700000000;	/* any instant */

	(void)state;
	/* 10 min into a 60 min period: 50 min remain */
	assert_int_equal(ch_sched_periodic_wait(anchor + 10 * MIN_MS, anchor,
						HOUR_MS), 50 * MIN_MS);
	/* exactly on a start, at the anchor and whole periods after */
	assert_int_equal(ch_sched_periodic_wait(anchor, anchor, HOUR_MS), 0);
	assert_int_equal(ch_sched_periodic_wait(anchor + 5 * HOUR_MS, anchor,
						HOUR_MS), 0);
	/* 1 ms after a start: a whole period but 1 ms */
	assert_int_equal(ch_sched_periodic_wait(anchor + 3 * HOUR_MS + 1,
						anchor, HOUR_MS),
			 HOUR_MS - 1);
	/* 1 ms before a period boundary */
	assert_int_equal(ch_sched_periodic_wait(anchor + 2 * HOUR_MS - 1,
						anchor, HOUR_MS), 1);
}

static void test_periodic_wait_with_the_anchor_in_the_future(void **state)
{
	int64_t anchor = 1000LL * 1700000000;

	(void)state;
	/* 10 min before the anchor: the start 10 min from now */
	assert_int_equal(ch_sched_periodic_wait(anchor - 10 * MIN_MS, anchor,
						HOUR_MS), 10 * MIN_MS);
	/* 70 min before: a start lies 10 min ahead (anchor - 1 period) */
	assert_int_equal(ch_sched_periodic_wait(anchor - 70 * MIN_MS, anchor,
						HOUR_MS), 10 * MIN_MS);
	/* days before, on a boundary */
	assert_int_equal(ch_sched_periodic_wait(anchor - 48 * HOUR_MS, anchor,
						HOUR_MS), 0);
	/* a period that does not divide the distance */
	assert_int_equal(ch_sched_periodic_wait(anchor - 100, anchor, 7), 2);
	assert_int_equal(ch_sched_periodic_wait(anchor + 100, anchor, 7), 5);
}

static void test_periodic_wait_degenerate(void **state)
{
	(void)state;
	assert_int_equal(ch_sched_periodic_wait(5, 0, 0), 0);
	assert_int_equal(ch_sched_periodic_wait(0, 0, 1), 0);
	assert_int_equal(ch_sched_periodic_wait(INT64_MAX, INT64_MIN + 1, 3),
			 (uint64_t)(3 - (((__int128)INT64_MAX -
					  (INT64_MIN + 1)) % 3)) % 3);
}

/* Collects a whole round as a string of endpoint digits; '+' marks a
 * retry of the same endpoint. */
static void round_str(size_t n, size_t start, uint32_t attempts, char *out,
		      size_t cap)
{
	struct ch_round r;
	size_t ep, k = 0;
	int again;

	ch_round_begin(&r, n, start, attempts);
	while (ch_round_next(&r, &ep, &again) && k + 3 < cap) {
		if (again)
			out[k++] = '+';
		out[k++] = (char)('0' + ep);
	}
	out[k] = '\0';
}

static void test_round_order(void **state)
{
	char s[64];

	(void)state;
	round_str(3, 0, 1, s, sizeof(s));
	assert_string_equal(s, "012");
	round_str(3, 2, 1, s, sizeof(s));	/* round robin from 2 */
	assert_string_equal(s, "201");
	round_str(3, 1, 3, s, sizeof(s));	/* max-attempts 3 each */
	assert_string_equal(s, "1+1+12+2+20+0+0");
	round_str(1, 0, 2, s, sizeof(s));
	assert_string_equal(s, "0+0");
	round_str(2, 5, 1, s, sizeof(s));	/* out-of-range start */
	assert_string_equal(s, "01");
	round_str(2, 0, 0, s, sizeof(s));	/* 0 attempts means 1 */
	assert_string_equal(s, "01");
	round_str(0, 0, 3, s, sizeof(s));
	assert_string_equal(s, "");
}

static void test_round_first(void **state)
{
	(void)state;
	assert_int_equal(ch_round_first(CH_START_FIRST_LISTED, 4, 2, 7), 0);
	assert_int_equal(ch_round_first(CH_START_LAST_CONNECTED, 4, 2, 7), 2);
	assert_int_equal(ch_round_first(CH_START_LAST_CONNECTED, 4,
					CH_ROUND_NONE, 7), 0);
	assert_int_equal(ch_round_first(CH_START_LAST_CONNECTED, 2, 3, 7), 0);
	assert_int_equal(ch_round_first(CH_START_RANDOM, 4, 2, 7), 3);
	assert_int_equal(ch_round_first(CH_START_RANDOM, 4, 2, 8), 0);
	assert_int_equal(ch_round_first(CH_START_RANDOM, 0, 2, 8), 0);
}

/* February 29th only in leap years (found by fuzz/notiftime_fuzz.c:
 * 2023-02-29 was read as March 1st). */
static void test_parse_time_feb29(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(ch_sched_parse_time("2023-02-29T00:00:00Z", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ms, 0);
	assert_int_equal(ch_sched_parse_time("1900-02-29T00:00:00Z", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2000-02-29T00:00:00Z", &ms),
			 CH_OK);
	assert_int_equal(ms, 951782400000LL);
	assert_int_equal(ch_sched_parse_time("2023-02-28T00:00:00Z", &ms),
			 CH_OK);
}

static void test_parse_time(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(ch_sched_parse_time("1970-01-01T00:00:00Z", &ms),
			 CH_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00Z", &ms),
			 CH_OK);
	assert_int_equal(ms, 1795433400000LL);
	/* the same instant with an offset, and with a fraction */
	assert_int_equal(ch_sched_parse_time("2026-11-23T13:30:00+02:00", &ms),
			 CH_OK);
	assert_int_equal(ms, 1795433400000LL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T06:30:00.250-05:00",
					     &ms), CH_OK);
	assert_int_equal(ms, 1795433400000LL);
	assert_int_equal(ch_sched_parse_time("2024-02-29T00:00:00Z", &ms),
			 CH_OK);
	assert_int_equal(ms, 1709164800000LL);
	/* not date-and-time */
	assert_int_equal(ch_sched_parse_time("2026-11-23 11:30:00Z", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-13-01T00:00:00Z", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00Zx", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T24:00:00Z", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00+2:00", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("", &ms), CH_ERR_INVAL);
	/* cut inside the offset: nothing past the end is read */
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00+1", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00+01", &ms),
			 CH_ERR_INVAL);
	assert_int_equal(ch_sched_parse_time("2026-11-23T11:30:00+01:0", &ms),
			 CH_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periodic_wait_is_the_remaining_part),
		cmocka_unit_test(test_periodic_wait_with_the_anchor_in_the_future),
		cmocka_unit_test(test_periodic_wait_degenerate),
		cmocka_unit_test(test_round_order),
		cmocka_unit_test(test_round_first),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_time_feb29),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
