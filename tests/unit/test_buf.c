/* test_buf.c - the bounded byte buffer: limits, consume and compaction,
 * printf, take. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"

static void test_empty(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 16);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_string_equal(ch_buf_ptr(&b), "");
	assert_null(b.data);
	ch_buf_consume(&b, 0);
	ch_buf_reset(&b);
	ch_buf_cleanup(&b);
	ch_buf_cleanup(&b);	/* twice is fine */
	assert_null(b.data);
}

static void test_put_and_limit(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 8);
	assert_int_equal(ch_buf_put(&b, "abc", 3), CH_OK);
	assert_int_equal(ch_buf_puts(&b, "defgh"), CH_OK);	/* exactly 8 */
	assert_int_equal(ch_buf_len(&b), 8);
	assert_string_equal(ch_buf_ptr(&b), "abcdefgh");
	/* one byte over: refused, content unchanged */
	assert_int_equal(ch_buf_put(&b, "i", 1), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), 8);
	assert_string_equal(ch_buf_ptr(&b), "abcdefgh");
	assert_int_equal(ch_buf_put(&b, NULL, 0), CH_OK);
	/* consuming makes room again: the limit is on content */
	ch_buf_consume(&b, 3);
	assert_int_equal(ch_buf_put(&b, "xyz", 3), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "defghxyz");
	assert_int_equal(ch_buf_put(&b, "!", 1), CH_ERR_LIMIT);
	ch_buf_cleanup(&b);

	/* one append bigger than the limit */
	ch_buf_init(&b, 4);
	assert_int_equal(ch_buf_put(&b, "12345", 5), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_string_equal(ch_buf_ptr(&b), "");
	ch_buf_cleanup(&b);

	/* a limit of 0 takes nothing */
	ch_buf_init(&b, 0);
	assert_int_equal(ch_buf_put(&b, "a", 1), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_put(&b, "", 0), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "");
	ch_buf_cleanup(&b);
}

/* Binary content with NULs; always NUL-terminated past the end. */
static void test_binary(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 64);
	assert_int_equal(ch_buf_put(&b, "a\0b", 3), CH_OK);
	assert_int_equal(ch_buf_len(&b), 3);
	assert_memory_equal(ch_buf_ptr(&b), "a\0b", 4);
	ch_buf_consume(&b, 1);
	assert_memory_equal(ch_buf_ptr(&b), "\0b", 3);
	ch_buf_cleanup(&b);
}

static void test_growth(void **state)
{
	const size_t n = 100000;
	struct ch_buf b;
	size_t i;
	char c;

	(void)state;
	ch_buf_init(&b, n);
	for (i = 0; i < n; i++) {
		c = (char)('a' + i % 26);
		assert_int_equal(ch_buf_put(&b, &c, 1), CH_OK);
	}
	assert_int_equal(ch_buf_len(&b), n);
	assert_true(b.cap > n);		/* room for the NUL */
	for (i = 0; i < n; i++)
		assert_int_equal(ch_buf_ptr(&b)[i], 'a' + i % 26);
	assert_int_equal(ch_buf_ptr(&b)[n], '\0');
	assert_int_equal(ch_buf_put(&b, "x", 1), CH_ERR_LIMIT);
	ch_buf_cleanup(&b);
}

static void test_consume(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 1024);
	assert_int_equal(ch_buf_puts(&b, "hello world"), CH_OK);
	ch_buf_consume(&b, 0);
	assert_string_equal(ch_buf_ptr(&b), "hello world");
	ch_buf_consume(&b, 6);
	assert_int_equal(ch_buf_len(&b), 5);
	assert_string_equal(ch_buf_ptr(&b), "world");
	ch_buf_consume(&b, 5);		/* all of it */
	assert_int_equal(ch_buf_len(&b), 0);
	assert_string_equal(ch_buf_ptr(&b), "");
	assert_int_equal(b.off, 0);
	assert_int_equal(ch_buf_puts(&b, "again"), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "again");
	ch_buf_reset(&b);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_string_equal(ch_buf_ptr(&b), "");
	ch_buf_cleanup(&b);
}

/* Consumed front space is reused by compaction instead of growing. */
static void test_compaction(void **state)
{
	char chunk[200];
	struct ch_buf b;
	size_t cap, i;

	(void)state;
	memset(chunk, 'q', sizeof(chunk));
	ch_buf_init(&b, 1000);
	assert_int_equal(ch_buf_put(&b, chunk, 200 - 1), CH_OK);
	cap = b.cap;
	assert_int_equal(cap, 256);
	/* a FIFO that never holds more than 200 bytes stays at 256 */
	for (i = 0; i < 1000; i++) {
		ch_buf_consume(&b, 100);
		chunk[0] = (char)('0' + i % 10);
		assert_int_equal(ch_buf_put(&b, chunk, 100), CH_OK);
		assert_int_equal(ch_buf_len(&b), 199);
		assert_int_equal(b.cap, cap);
		assert_true(b.off + b.len < b.cap);
		assert_int_equal(ch_buf_ptr(&b)[99], '0' + i % 10);
		assert_int_equal(ch_buf_ptr(&b)[199], '\0');
	}
	/* growth with data at an offset keeps the content */
	ch_buf_consume(&b, 99);
	assert_true(b.off > 0);
	assert_int_equal(ch_buf_put(&b, chunk, 200), CH_OK);
	assert_int_equal(b.off, 0);
	assert_int_equal(ch_buf_len(&b), 300);
	assert_true(b.cap > 256);
	assert_int_equal(ch_buf_ptr(&b)[0], '0' + 999 % 10);
	assert_int_equal(ch_buf_ptr(&b)[300], '\0');
	ch_buf_cleanup(&b);
}

static void test_printf(void **state)
{
	struct ch_buf b;
	char big[600];

	(void)state;
	ch_buf_init(&b, 20);
	assert_int_equal(ch_buf_printf(&b, "%s=%d", "port", 4334), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "port=4334");
	assert_int_equal(ch_buf_len(&b), 9);
	assert_int_equal(ch_buf_printf(&b, "%s", ""), CH_OK);
	assert_int_equal(ch_buf_len(&b), 9);
	assert_int_equal(ch_buf_printf(&b, ";%05u;", 42u), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "port=4334;00042;");
	/* 16 + 5 > 20: refused, content and terminator unchanged */
	assert_int_equal(ch_buf_printf(&b, "%s", "abcde"), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), 16);
	assert_string_equal(ch_buf_ptr(&b), "port=4334;00042;");
	assert_int_equal(ch_buf_printf(&b, "%d", 1234), CH_OK);	/* = 20 */
	assert_string_equal(ch_buf_ptr(&b), "port=4334;00042;1234");
	ch_buf_cleanup(&b);

	/* printf that has to grow past the first allocation, at an offset */
	ch_buf_init(&b, 4096);
	assert_int_equal(ch_buf_puts(&b, "xxxx"), CH_OK);
	ch_buf_consume(&b, 2);
	memset(big, 'B', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ch_buf_printf(&b, "<%s>", big), CH_OK);
	assert_int_equal(ch_buf_len(&b), 2 + 1 + 599 + 1);
	assert_memory_equal(ch_buf_ptr(&b), "xx<BBB", 6);
	assert_string_equal(ch_buf_ptr(&b) + 2 + 1 + 599, ">");
	ch_buf_cleanup(&b);
}

static void test_take(void **state)
{
	struct ch_buf b;
	char *s;

	(void)state;
	/* never allocated: an empty heap string */
	ch_buf_init(&b, 64);
	s = ch_buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	/* after a consume: only the rest, moved to the front */
	assert_int_equal(ch_buf_puts(&b, "<hello/>tail"), CH_OK);
	ch_buf_consume(&b, 8);
	s = ch_buf_take(&b);
	assert_string_equal(s, "tail");
	free(s);
	/* the buffer is empty, keeps its limit and is reusable */
	assert_null(b.data);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_int_equal(b.max, 64);
	assert_string_equal(ch_buf_ptr(&b), "");
	assert_int_equal(ch_buf_puts(&b, "next"), CH_OK);
	s = ch_buf_take(&b);
	assert_string_equal(s, "next");
	free(s);

	/* everything consumed, storage still allocated */
	assert_int_equal(ch_buf_puts(&b, "gone"), CH_OK);
	ch_buf_consume(&b, 4);
	s = ch_buf_take(&b);
	assert_string_equal(s, "");
	free(s);
	ch_buf_cleanup(&b);
}

static void test_cleanup_reuse(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, 32);
	assert_int_equal(ch_buf_puts(&b, "secret"), CH_OK);
	ch_buf_cleanup(&b);
	assert_null(b.data);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 32);
	assert_int_equal(ch_buf_puts(&b, "again"), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "again");
	ch_buf_cleanup(&b);
}

/* max = SIZE_MAX means "no limit"; sizes near it must be refused, not
 * wrap around and pass (found by review: need = len + n + 1 overflowed). */
static void test_unbounded_max_does_not_wrap(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, SIZE_MAX);
	assert_int_equal(ch_buf_put(&b, "ab", 2), CH_OK);
	assert_int_equal(ch_buf_put(&b, "x", SIZE_MAX - 2), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_put(&b, "x", SIZE_MAX - 1), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), 2);
	assert_memory_equal(ch_buf_ptr(&b), "ab", 3);
	ch_buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_put_and_limit),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_cleanup_reuse),
		cmocka_unit_test(test_unbounded_max_does_not_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
