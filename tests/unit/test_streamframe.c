/* test_streamframe.c - the terminal stream's framing: round trips, frames
 * cut anywhere, and what breaks a stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/streamframe.h"

#define MAX 1024

static size_t frame(uint8_t *out, enum ch_sframe_type t, const void *p,
		    uint32_t n)
{
	ch_sframe_header(out, t, n);
	memcpy(out + CH_SFRAME_HDR, p, n);
	return CH_SFRAME_HDR + n;
}

static void test_data_round_trip(void **state)
{
	uint8_t buf[64];
	struct ch_sframe f;
	size_t n = frame(buf, CH_SFRAME_STDOUT, "hello", 5), used;

	(void)state;
	assert_int_equal(n, 10);
	assert_int_equal(buf[0], 2);
	assert_memory_equal(buf + 1, "\0\0\0\5", 4);
	assert_int_equal(ch_sframe_parse(buf, n, MAX, &f, &used), CH_OK);
	assert_int_equal(used, n);
	assert_int_equal(f.type, CH_SFRAME_STDOUT);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "hello", 5);
	assert_string_equal(ch_sframe_type_name(f.type), "stdout");
	assert_string_equal(ch_sframe_type_name(99), "?");
}

/* Every cut of two frames: AGAIN until the first is whole, never more. */
static void test_partial(void **state)
{
	uint8_t buf[64];
	struct ch_sframe f;
	size_t n1 = frame(buf, CH_SFRAME_STDIN, "abc", 3), used;
	size_t n = n1 + frame(buf + n1, CH_SFRAME_EOF, "", 0);

	(void)state;
	for (size_t cut = 0; cut < n1; cut++) {
		assert_int_equal(ch_sframe_parse(buf, cut, MAX, &f, &used),
				 CH_ERR_AGAIN);
		assert_int_equal(used, 0);
	}
	assert_int_equal(ch_sframe_parse(buf, n, MAX, &f, &used), CH_OK);
	assert_int_equal(used, n1);
	assert_int_equal(ch_sframe_parse(buf + used, n - used, MAX, &f, &used),
			 CH_OK);
	assert_int_equal(f.type, CH_SFRAME_EOF);
	assert_int_equal(f.len, 0);
}

static void test_resize_and_exit(void **state)
{
	uint8_t buf[64], pl[4 + CH_SFRAME_SIGNAL_MAX];
	char sig[CH_SFRAME_SIGNAL_MAX + 1];
	struct ch_sframe f;
	uint32_t cols, rows;
	int32_t status;
	size_t n, used;

	(void)state;
	ch_sframe_resize_put(pl, 132, 43);
	n = frame(buf, CH_SFRAME_RESIZE, pl, 8);
	assert_int_equal(ch_sframe_parse(buf, n, MAX, &f, &used), CH_OK);
	ch_sframe_resize_get(&f, &cols, &rows);
	assert_int_equal(cols, 132);
	assert_int_equal(rows, 43);

	n = frame(buf, CH_SFRAME_EXIT, pl, (uint32_t)ch_sframe_exit_put(pl, 3,
								       NULL));
	assert_int_equal(ch_sframe_parse(buf, n, MAX, &f, &used), CH_OK);
	ch_sframe_exit_get(&f, &status, sig);
	assert_int_equal(status, 3);
	assert_string_equal(sig, "");

	n = frame(buf, CH_SFRAME_EXIT, pl, (uint32_t)ch_sframe_exit_put(pl, -1,
								       "KILL"));
	assert_int_equal(ch_sframe_parse(buf, n, MAX, &f, &used), CH_OK);
	ch_sframe_exit_get(&f, &status, sig);
	assert_int_equal(status, -1);
	assert_string_equal(sig, "KILL");
}

static void test_broken(void **state)
{
	uint8_t buf[64] = { 0 };
	struct ch_sframe f;
	size_t used;

	(void)state;
	/* unknown types, judged from the header alone */
	buf[0] = 0;
	assert_int_equal(ch_sframe_parse(buf, 5, MAX, &f, &used), CH_ERR_INVAL);
	buf[0] = 8;
	assert_int_equal(ch_sframe_parse(buf, 5, MAX, &f, &used), CH_ERR_INVAL);
	/* over the limit: refused before the payload comes */
	ch_sframe_header(buf, CH_SFRAME_STDIN, MAX + 1);
	assert_int_equal(ch_sframe_parse(buf, 5, MAX, &f, &used), CH_ERR_INVAL);
	ch_sframe_header(buf, CH_SFRAME_STDIN, MAX);
	assert_int_equal(ch_sframe_parse(buf, 5, MAX, &f, &used), CH_ERR_AGAIN);
	/* payloads the type does not allow */
	ch_sframe_header(buf, CH_SFRAME_EOF, 1);
	assert_int_equal(ch_sframe_parse(buf, 6, MAX, &f, &used), CH_ERR_INVAL);
	ch_sframe_header(buf, CH_SFRAME_RESIZE, 7);
	assert_int_equal(ch_sframe_parse(buf, 12, MAX, &f, &used),
			 CH_ERR_INVAL);
	ch_sframe_header(buf, CH_SFRAME_EXIT, 3);
	assert_int_equal(ch_sframe_parse(buf, 8, MAX, &f, &used), CH_ERR_INVAL);
	ch_sframe_header(buf, CH_SFRAME_EXIT, 4 + CH_SFRAME_SIGNAL_MAX + 1);
	assert_int_equal(ch_sframe_parse(buf, 5, MAX, &f, &used), CH_ERR_INVAL);
	ch_sframe_header(buf, CH_SFRAME_EXIT, 6);
	memcpy(buf + 9, "A\n", 2);
	assert_int_equal(ch_sframe_parse(buf, 11, MAX, &f, &used),
			 CH_ERR_INVAL);
	assert_int_equal(used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_round_trip),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_resize_and_exit),
		cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
