/* test_asciicast.c - asciicast v2 event lines: JSON escaping, UTF-8 cut
 * between chunks at every position, invalid bytes as U+FFFD. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/core/asciicast.h"
#include "lib/core/err.h"

#define MAX 4096
#define FFFD "\xef\xbf\xbd"

/* The event line of p[0..n) in one chunk. */
static void one(const char *p, size_t n, const char *want)
{
	struct ch_buf b;
	struct ch_cast_utf8 u = { .ntail = 0 };

	ch_buf_init(&b, MAX);
	assert_int_equal(ch_cast_event(&b, 1.5, 'o', &u, p, n, 1), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), want);
	assert_int_equal(u.ntail, 0);
	ch_buf_cleanup(&b);
}

static void test_escapes(void **state)
{
	(void)state;
	one("hi", 2, "[1.500000, \"o\", \"hi\"]\n");
	one("a\"b\\c\r\n\t\x01\x1b[0m\x7f", 14,
	    "[1.500000, \"o\", \"a\\\"b\\\\c\\r\\n\\t\\u0001\\u001b[0m\x7f\"]\n");
	one("\0", 1, "[1.500000, \"o\", \"\\u0000\"]\n");
	one("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	    "[1.500000, \"o\", \"caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80\"]\n");
}

static void test_invalid_bytes(void **state)
{
	(void)state;
	/* a lone continuation, an overlong "/", a surrogate, past U+10FFFF,
	 * 0xff */
	one("a\x80" "b", 3, "[1.500000, \"o\", \"a" FFFD "b\"]\n");
	one("\xc0\xaf", 2, "[1.500000, \"o\", \"" FFFD FFFD "\"]\n");
	one("\xed\xa0\x80", 3, "[1.500000, \"o\", \"" FFFD FFFD FFFD "\"]\n");
	one("\xf4\x90\x80\x80", 4,
	    "[1.500000, \"o\", \"" FFFD FFFD FFFD FFFD "\"]\n");
	one("\xff", 1, "[1.500000, \"o\", \"" FFFD "\"]\n");
	/* cut at the very end of a final chunk */
	one("x\xe2\x82", 3, "[1.500000, \"o\", \"x" FFFD FFFD "\"]\n");
}

/* The data of every line in b, concatenated (the lines are ours: the
 * data is between the third '"' and the last '"'). */
static void datas(const char *lines, char *out)
{
	const char *l = lines, *nl;

	*out = '\0';
	while ((nl = strchr(l, '\n')) != NULL) {
		const char *q = strstr(l, "\", \"") + 4;

		strncat(out, q, (size_t)(nl - 2 - q));
		l = nl + 1;
	}
}

/* Every cut of a text with 2-, 3- and 4-byte characters into two and
 * three chunks gives the same data as one chunk, and no line carries a
 * piece of a character. */
static void test_cut_anywhere(void **state)
{
	static const char text[] = "a\xc3\xa9z\xe2\x82\xac-\xf0\x9f\x98\x80!";
	size_t n = sizeof(text) - 1;
	char got[MAX];

	(void)state;
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct ch_buf b;
			struct ch_cast_utf8 u = { .ntail = 0 };
			int r;

			ch_buf_init(&b, MAX);
			r = ch_cast_event(&b, 0, 'o', &u, text, i, 0);
			assert_true(r == CH_OK || r == CH_ERR_AGAIN);
			r = ch_cast_event(&b, 0, 'o', &u, text + i, j - i, 0);
			assert_true(r == CH_OK || r == CH_ERR_AGAIN);
			r = ch_cast_event(&b, 0, 'o', &u, text + j, n - j, 1);
			assert_true(r == CH_OK || r == CH_ERR_AGAIN);
			assert_int_equal(u.ntail, 0);
			datas(ch_buf_ptr(&b), got);
			assert_string_equal(got, text);
			assert_null(strstr(ch_buf_ptr(&b), FFFD));
			ch_buf_cleanup(&b);
		}
	}
}

/* One byte at a time, a 4-byte character: three chunks carry, the
 * fourth writes it. */
static void test_byte_by_byte(void **state)
{
	static const char ch[] = "\xf0\x9f\x98\x80";
	struct ch_buf b;
	struct ch_cast_utf8 u = { .ntail = 0 };

	(void)state;
	ch_buf_init(&b, MAX);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ch_cast_event(&b, 0, 'o', &u, ch + i, 1, 0),
				 CH_ERR_AGAIN);
	assert_int_equal(ch_buf_len(&b), 0);
	assert_int_equal(ch_cast_event(&b, 2, 'o', &u, ch + 3, 1, 0), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
			    "[2.000000, \"o\", \"\xf0\x9f\x98\x80\"]\n");
	/* a carried lead followed by ASCII: the lead alone is U+FFFD */
	ch_buf_reset(&b);
	assert_int_equal(ch_cast_event(&b, 0, 'o', &u, "\xe2", 1, 0),
			 CH_ERR_AGAIN);
	assert_int_equal(ch_cast_event(&b, 0, 'i', &u, "ok", 2, 0), CH_OK);
	assert_string_equal(ch_buf_ptr(&b),
			    "[0.000000, \"i\", \"" FFFD "ok\"]\n");
	/* an empty final chunk flushes a carried sequence */
	ch_buf_reset(&b);
	assert_int_equal(ch_cast_event(&b, 0, 'o', &u, "\xc3", 1, 0),
			 CH_ERR_AGAIN);
	assert_int_equal(ch_cast_event(&b, 0, 'o', &u, "", 0, 1), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "[0.000000, \"o\", \"" FFFD "\"]\n");
	assert_int_equal(ch_cast_event(&b, 0, 'o', &u, "", 0, 1),
			 CH_ERR_AGAIN);
	ch_buf_cleanup(&b);
}

/* Past the buffer's maximum: CH_ERR_LIMIT, the buffer and the carried
 * bytes unchanged. */
static void test_limit(void **state)
{
	struct ch_buf b;
	struct ch_cast_utf8 u = { .ntail = 0 };

	(void)state;
	ch_buf_init(&b, 30);
	assert_int_equal(ch_cast_event(&b, 0, 'o', &u, "ab\xc3", 3, 0), CH_OK);
	assert_int_equal(u.ntail, 1);
	size_t len = ch_buf_len(&b);
	assert_int_equal(ch_cast_event(&b, 0, 'o', &u, "\xa9 and much more",
				       16, 0), CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&b), len);
	assert_int_equal(u.ntail, 1);
	assert_int_equal(u.tail[0], 0xc3);
	ch_buf_cleanup(&b);
}

static void test_string(void **state)
{
	struct ch_buf b;

	(void)state;
	ch_buf_init(&b, MAX);
	assert_int_equal(ch_cast_string(&b, "x\"\xc3", 3), CH_OK);
	assert_string_equal(ch_buf_ptr(&b), "\"x\\\"" FFFD "\"");
	ch_buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_invalid_bytes),
		cmocka_unit_test(test_cut_anywhere),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
