/* Unit tests for the hub's tables by source address: the blocklist and
 * the handshake slots per source (srclimit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "hub/blocklist.h"
#include "hub/srclimit.h"
#include "lib/core/err.h"

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	return ss;
}

#define SA(x) ((struct sockaddr *)&(x))

static void test_blocks_after_threshold_then_expires(void **state)
{
	struct blocklist *bl = blocklist_new(3, 60, 300);
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");

	(void)state;
	assert_int_equal(blocklist_failure(bl, SA(a), 1000), 0);
	assert_int_equal(blocklist_failure(bl, SA(a), 1001), 0);
	assert_false(blocklist_blocked(bl, SA(a), 1001));
	assert_int_equal(blocklist_failure(bl, SA(a), 1002), 1);
	assert_true(blocklist_blocked(bl, SA(a), 1002));
	assert_true(blocklist_blocked(bl, SA(a), 1301));
	assert_false(blocklist_blocked(bl, SA(a), 1302));	/* block over */
	assert_false(blocklist_blocked(bl, SA(b), 1002));	/* others fine */
	blocklist_free(bl);
}

static void test_failures_outside_window_do_not_add_up(void **state)
{
	struct blocklist *bl = blocklist_new(3, 60, 300);
	struct sockaddr_storage a = v6("2001:db8::1");

	(void)state;
	blocklist_failure(bl, SA(a), 0);
	blocklist_failure(bl, SA(a), 30);
	assert_int_equal(blocklist_failure(bl, SA(a), 61), 0);	/* new window */
	assert_int_equal(blocklist_failure(bl, SA(a), 62), 0);
	assert_int_equal(blocklist_failure(bl, SA(a), 63), 1);
	assert_true(blocklist_blocked(bl, SA(a), 63));
	blocklist_free(bl);
}

static void test_good_device_address_is_never_blocked(void **state)
{
	struct blocklist *bl = blocklist_new(2, 60, 300);
	struct sockaddr_storage nat = v4("198.51.100.7");

	(void)state;
	blocklist_success(bl, SA(nat), 100);
	for (int i = 0; i < 50; i++)
		assert_int_equal(blocklist_failure(bl, SA(nat), 101 + i), 0);
	assert_false(blocklist_blocked(bl, SA(nat), 160));
	/* an exemption lasts CH_BLOCK_GOOD_S */
	blocklist_failure(bl, SA(nat), 100 + CH_BLOCK_GOOD_S);
	assert_int_equal(blocklist_failure(bl, SA(nat), 101 + CH_BLOCK_GOOD_S),
			 1);
	blocklist_free(bl);
}

static void test_success_lifts_a_block(void **state)
{
	struct blocklist *bl = blocklist_new(1, 60, 300);
	struct sockaddr_storage a = v4("203.0.113.9");

	(void)state;
	assert_int_equal(blocklist_failure(bl, SA(a), 10), 1);
	assert_true(blocklist_blocked(bl, SA(a), 11));
	blocklist_success(bl, SA(a), 12);
	assert_false(blocklist_blocked(bl, SA(a), 13));
	blocklist_free(bl);
}

static void test_threshold_zero_disables(void **state)
{
	struct blocklist *bl = blocklist_new(0, 60, 300);
	struct sockaddr_storage a = v4("192.0.2.50");

	(void)state;
	for (int i = 0; i < 100; i++)
		assert_int_equal(blocklist_failure(bl, SA(a), i), 0);
	assert_false(blocklist_blocked(bl, SA(a), 100));
	blocklist_free(bl);
}

/* The table is bounded: many more addresses than slots neither crash nor
 * grow; recent blocks of a few addresses survive a churn of others as
 * long as their probe run is not all newer. */
static void test_table_is_bounded(void **state)
{
	struct blocklist *bl = blocklist_new(1, 60, 300);
	char ip[64];

	(void)state;
	for (int i = 0; i < 5 * CH_BLOCK_MAX; i++) {
		struct sockaddr_storage a;

		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255,
			 (i >> 8) & 255, i & 255);
		a = v4(ip);
		blocklist_failure(bl, SA(a), 1000 + i);
	}
	{
		struct sockaddr_storage last = v4(ip);

		assert_true(blocklist_blocked(bl, SA(last),
					      1000 + 5 * CH_BLOCK_MAX));
	}
	blocklist_free(bl);
}

static void test_slots_per_address_and_prefix(void **state)
{
	struct srclimit *sl = srclimit_new(2, 3);
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct sockaddr_storage c = v4("192.0.2.3"), far = v4("198.51.100.1");
	struct sockaddr_storage x = v6("2001:db8:1:2::1");
	struct sockaddr_storage y = v6("2001:db8:1:3::1");
	struct sockaddr_storage z = v6("2001:db8:2::1");
	const char *why;

	(void)state;
	assert_non_null(sl);
	assert_int_equal(srclimit_take(sl, SA(a), &why), CH_OK);
	assert_int_equal(srclimit_take(sl, SA(a), &why), CH_OK);
	assert_int_equal(srclimit_take(sl, SA(a), &why), CH_ERR_LIMIT);
	assert_string_equal(why, "its address");
	assert_int_equal(srclimit_take(sl, SA(b), &why), CH_OK);
	/* 192.0.2.0/24 has its 3 */
	assert_int_equal(srclimit_take(sl, SA(c), &why), CH_ERR_LIMIT);
	assert_string_equal(why, "its prefix");
	assert_int_equal(srclimit_take(sl, SA(far), &why), CH_OK);
	srclimit_release(sl, SA(a));
	assert_int_equal(srclimit_take(sl, SA(c), &why), CH_OK);
	/* IPv6: the same /48, another /48 */
	assert_int_equal(srclimit_take(sl, SA(x), &why), CH_OK);
	assert_int_equal(srclimit_take(sl, SA(y), &why), CH_OK);
	assert_int_equal(srclimit_take(sl, SA(y), &why), CH_OK);
	assert_int_equal(srclimit_take(sl, SA(x), &why), CH_ERR_LIMIT);
	assert_string_equal(why, "its prefix");
	assert_int_equal(srclimit_take(sl, SA(z), &why), CH_OK);
	/* all given back: every entry gone (ASan finds a leak if not) */
	srclimit_release(sl, SA(a));
	srclimit_release(sl, SA(b));
	srclimit_release(sl, SA(c));
	srclimit_release(sl, SA(far));
	srclimit_release(sl, SA(x));
	srclimit_release(sl, SA(y));
	srclimit_release(sl, SA(y));
	srclimit_release(sl, SA(z));
	for (int i = 0; i < 2; i++)
		assert_int_equal(srclimit_take(sl, SA(a), &why), CH_OK);
	srclimit_free(sl);
}

static void test_slots_unlimited_at_zero(void **state)
{
	struct srclimit *sl = srclimit_new(0, 0);
	struct sockaddr_storage a = v4("192.0.2.1");
	const char *why;

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(srclimit_take(sl, SA(a), &why), CH_OK);
	for (int i = 0; i < 1000; i++)
		srclimit_release(sl, SA(a));
	srclimit_free(sl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_after_threshold_then_expires),
		cmocka_unit_test(test_failures_outside_window_do_not_add_up),
		cmocka_unit_test(test_good_device_address_is_never_blocked),
		cmocka_unit_test(test_success_lifts_a_block),
		cmocka_unit_test(test_threshold_zero_disables),
		cmocka_unit_test(test_table_is_bounded),
		cmocka_unit_test(test_slots_per_address_and_prefix),
		cmocka_unit_test(test_slots_unlimited_at_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
