/* test_backoff.c - ceilings, bounds, spread and seeding of the back-off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include "lib/core/backoff.h"

#define DRAWS 10000

static void test_bounds(void **state)
{
	static const uint32_t cfg[][2] = {
		{ 1, 1 }, { 1, 10 }, { 100, 30000 }, { 500, 60000 },
		{ 1000, 1000 }, { 3, UINT32_MAX }, { UINT32_MAX, UINT32_MAX },
		{ 7, 1000000 },
	};
	struct ch_backoff b;
	uint64_t want;
	uint32_t c, d;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		ch_backoff_init(&b, cfg[i][0], cfg[i][1], 1 + i);
		want = cfg[i][0];
		for (k = 0; k < DRAWS; k++) {
			if (k == DRAWS / 2) {	/* and again after a reset */
				ch_backoff_reset(&b);
				want = cfg[i][0];
			}
			c = ch_backoff_ceiling(&b);
			assert_int_equal(c, want);
			d = ch_backoff_next(&b);
			assert_true(d <= c);
			want = want * 2 > cfg[i][1] ? cfg[i][1] : want * 2;
		}
	}
}

static void test_ceiling_doubles_then_caps(void **state)
{
	static const uint32_t want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	struct ch_backoff b;
	size_t i;

	(void)state;
	ch_backoff_init(&b, 100, 1000, 7);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(ch_backoff_ceiling(&b), want[i]);
		/* asking does not consume */
		assert_int_equal(ch_backoff_ceiling(&b), want[i]);
		assert_int_equal(b.attempt, i);
		ch_backoff_next(&b);
	}
	ch_backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	assert_int_equal(ch_backoff_ceiling(&b), 100);
}

/* base << n must saturate, not wrap, once it no longer fits 32 bits. */
static void test_shift_saturates(void **state)
{
	struct ch_backoff b;
	uint32_t i;

	(void)state;
	ch_backoff_init(&b, 1, UINT32_MAX, 9);
	for (i = 0; i < 32; i++) {
		assert_int_equal(ch_backoff_ceiling(&b), (uint32_t)1 << i);
		ch_backoff_next(&b);
	}
	for (i = 0; i < 100; i++) {
		assert_int_equal(ch_backoff_ceiling(&b), UINT32_MAX);
		ch_backoff_next(&b);
	}

	ch_backoff_init(&b, 3000, 600000, 9);
	b.attempt = 31;		/* 3000 << 31 overflows 32 bits */
	assert_int_equal(ch_backoff_ceiling(&b), 600000);
	b.attempt = 1000;
	assert_int_equal(ch_backoff_ceiling(&b), 600000);
	b.attempt = UINT32_MAX;	/* the counter itself does not wrap */
	assert_true(ch_backoff_next(&b) <= 600000);
	assert_int_equal(b.attempt, UINT32_MAX);
	assert_int_equal(ch_backoff_ceiling(&b), 600000);
}

static void test_spread(void **state)
{
	const uint32_t ceil = 10000;
	struct ch_backoff b;
	uint64_t sum = 0;
	uint32_t d, lo = UINT32_MAX, hi = 0;
	int i, zero = 0, one = 0;

	(void)state;
	ch_backoff_init(&b, ceil, ceil, 12345);
	for (i = 0; i < DRAWS; i++) {
		d = ch_backoff_next(&b);
		sum += d;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(sum / DRAWS >= ceil * 45 / 100);
	assert_true(sum / DRAWS <= ceil * 55 / 100);
	assert_true(lo < ceil / 100);		/* both ends are reached */
	assert_true(hi > ceil - ceil / 100);

	/* ceiling 1: both values occur, about evenly */
	ch_backoff_init(&b, 1, 1, 99);
	for (i = 0; i < DRAWS; i++) {
		d = ch_backoff_next(&b);
		assert_true(d <= 1);
		if (d == 0)
			zero++;
		else
			one++;
	}
	assert_true(zero > DRAWS * 45 / 100);
	assert_true(one > DRAWS * 45 / 100);
}

static void test_seeding(void **state)
{
	struct ch_backoff a, b;
	int i, same = 0;

	(void)state;
	ch_backoff_init(&a, 1000, 1000000, 42);
	ch_backoff_init(&b, 1000, 1000000, 42);
	for (i = 0; i < 1000; i++)
		assert_int_equal(ch_backoff_next(&a), ch_backoff_next(&b));

	ch_backoff_init(&a, 1000, 1000000, 42);
	ch_backoff_init(&b, 1000, 1000000, 43);
	for (i = 0; i < 1000; i++)
		if (ch_backoff_next(&a) == ch_backoff_next(&b))
			same++;
	assert_true(same < 20);

	/* seed 0: getrandom(); two inits differ and the state is never 0 */
	ch_backoff_init(&a, 1000, 1000000, 0);
	ch_backoff_init(&b, 1000, 1000000, 0);
	assert_true(a.rng != 0);
	assert_true(b.rng != 0);
	assert_true(a.rng != b.rng);
}

/* Out-of-contract arguments are clamped, not trusted. */
static void test_init_clamps(void **state)
{
	struct ch_backoff b;

	(void)state;
	ch_backoff_init(&b, 0, 0, 5);
	assert_int_equal(b.base_ms, 1);
	assert_int_equal(b.cap_ms, 1);
	ch_backoff_init(&b, 500, 100, 5);
	assert_int_equal(b.base_ms, 500);
	assert_int_equal(b.cap_ms, 500);
	assert_int_equal(b.attempt, 0);
	assert_true(b.rng != 0);
}

/* The dialer's jitter and random start: in range, every value seen,
 * and the back-off sequence is not advanced by it. */
static void test_random(void **state)
{
	struct ch_backoff b;
	int seen[7] = { 0 };

	(void)state;
	ch_backoff_init(&b, 100, 1000, 9);
	assert_int_equal(ch_backoff_random(&b, 0), 0);
	assert_int_equal(ch_backoff_random(&b, 1), 0);
	for (int i = 0; i < 7000; i++) {
		uint32_t v = ch_backoff_random(&b, 7);

		assert_true(v < 7);
		seen[v]++;
	}
	for (int v = 0; v < 7; v++)
		assert_true(seen[v] > 800 && seen[v] < 1200);
	assert_int_equal(b.attempt, 0);
	assert_int_equal(ch_backoff_ceiling(&b), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_ceiling_doubles_then_caps),
		cmocka_unit_test(test_shift_saturates),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_seeding),
		cmocka_unit_test(test_init_clamps),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
