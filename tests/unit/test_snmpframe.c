/* test_snmpframe.c - SNMP messages on a byte stream: BER lengths in both
 * forms, messages cut anywhere, what ends a stream; the rate budget and
 * the in-flight count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/snmpframe.h"

/* A v2c get-request as snmpget sends it (public, sysDescr.0). */
static const uint8_t get[] = {
	0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i',
	'c', 0xa0, 0x1c, 0x02, 0x04, 0x12, 0x34, 0x56, 0x78, 0x02, 0x01,
	0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b,
	0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
};

static void test_short_form(void **state)
{
	size_t used;
	const char *why;

	(void)state;
	assert_int_equal(ch_snmp_frame_next(get, sizeof(get), CH_SNMP_MSG_MAX,
					    &used, &why), CH_OK);
	assert_int_equal(used, sizeof(get));
	assert_null(why);
}

/* Every cut of two messages: AGAIN until the first is whole. */
static void test_cuts(void **state)
{
	uint8_t two[2 * sizeof(get)];
	size_t used;
	const char *why;

	(void)state;
	memcpy(two, get, sizeof(get));
	memcpy(two + sizeof(get), get, sizeof(get));
	for (size_t cut = 0; cut < sizeof(get); cut++) {
		assert_int_equal(ch_snmp_frame_next(two, cut, CH_SNMP_MSG_MAX,
						    &used, &why), CH_ERR_AGAIN);
		assert_int_equal(used, 0);
	}
	assert_int_equal(ch_snmp_frame_next(two, sizeof(two), CH_SNMP_MSG_MAX,
					    &used, &why), CH_OK);
	assert_int_equal(used, sizeof(get));
	assert_int_equal(ch_snmp_frame_next(two + used, sizeof(two) - used,
					    CH_SNMP_MSG_MAX, &used, &why),
			 CH_OK);
	assert_int_equal(used, sizeof(get));
}

/* Long forms, with net-snmp's leading zero octets. */
static void test_long_form(void **state)
{
	static uint8_t m[300];
	size_t used;
	const char *why;

	(void)state;
	m[0] = 0x30;
	m[1] = 0x82;
	m[2] = 0x00;
	m[3] = 0x05;
	assert_int_equal(ch_snmp_frame_next(m, 3, 100, &used, &why),
			 CH_ERR_AGAIN);
	assert_int_equal(ch_snmp_frame_next(m, 8, 100, &used, &why),
			 CH_ERR_AGAIN);
	assert_int_equal(ch_snmp_frame_next(m, 9, 100, &used, &why), CH_OK);
	assert_int_equal(used, 9);
	m[1] = 0x81;
	m[2] = 0xc8;	/* 200 */
	assert_int_equal(ch_snmp_frame_next(m, sizeof(m), 300, &used, &why),
			 CH_OK);
	assert_int_equal(used, 203);
	/* over the limit: header and content count */
	assert_int_equal(ch_snmp_frame_next(m, sizeof(m), 202, &used, &why),
			 CH_ERR_PROTO);
	assert_int_equal(used, 0);
	assert_non_null(why);
	m[1] = 0x84;
	m[2] = 0x7f; m[3] = 0xff; m[4] = 0xff; m[5] = 0xff;
	assert_int_equal(ch_snmp_frame_next(m, 6, CH_SNMP_MSG_MAX, &used,
					    &why), CH_ERR_PROTO);
	/* more length octets than any message we take */
	m[1] = 0x85;
	assert_int_equal(ch_snmp_frame_next(m, 2, CH_SNMP_MSG_MAX, &used,
					    &why), CH_ERR_PROTO);
	m[1] = 0xff;
	assert_int_equal(ch_snmp_frame_next(m, 2, CH_SNMP_MSG_MAX, &used,
					    &why), CH_ERR_PROTO);
}

static void test_refused(void **state)
{
	const uint8_t indefinite[] = { 0x30, 0x80, 0x02, 0x01, 0x01, 0, 0 };
	const uint8_t garbage[] = "GET / HTTP/1.0\r\n";
	size_t used;
	const char *why;

	(void)state;
	assert_int_equal(ch_snmp_frame_next(indefinite, sizeof(indefinite),
					    CH_SNMP_MSG_MAX, &used, &why),
			 CH_ERR_PROTO);
	assert_non_null(strstr(why, "indefinite"));
	assert_int_equal(ch_snmp_frame_next(garbage, 1, CH_SNMP_MSG_MAX,
					    &used, &why), CH_ERR_PROTO);
	assert_int_equal(ch_snmp_frame_next(garbage, 0, CH_SNMP_MSG_MAX,
					    &used, &why), CH_ERR_AGAIN);
}

static void test_budget(void **state)
{
	struct ch_snmp_budget b = { 0 };

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(ch_snmp_budget_take(&b, 5000, 3));
	assert_false(ch_snmp_budget_take(&b, 5999, 3));
	assert_true(ch_snmp_budget_take(&b, 6000, 3));
	/* a clock that went back starts a window */
	assert_true(ch_snmp_budget_take(&b, 10, 3));
}

static void test_inflight(void **state)
{
	struct ch_snmp_inflight f = { 0 };

	(void)state;
	for (int i = 0; i < CH_SNMP_INFLIGHT; i++)
		assert_true(ch_snmp_inflight_add(&f, 1000 + (uint64_t)i));
	assert_false(ch_snmp_inflight_add(&f, 1100));
	ch_snmp_inflight_reply(&f);
	assert_int_equal(ch_snmp_inflight_count(&f, 1100),
			 CH_SNMP_INFLIGHT - 1);
	assert_true(ch_snmp_inflight_add(&f, 1100));
	assert_false(ch_snmp_inflight_add(&f, 1100));
	/* the unanswered expire oldest first */
	assert_int_equal(ch_snmp_inflight_count(&f, 1001 +
						CH_SNMP_REPLY_WAIT_MS), 63);
	assert_int_equal(ch_snmp_inflight_count(&f, 1100 +
						CH_SNMP_REPLY_WAIT_MS), 0);
	ch_snmp_inflight_reply(&f);	/* none in flight: nothing */
	assert_int_equal(ch_snmp_inflight_count(&f, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_form),
		cmocka_unit_test(test_cuts),
		cmocka_unit_test(test_long_form),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_inflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
