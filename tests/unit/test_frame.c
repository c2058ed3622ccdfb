/* test_frame.c - RFC 6242 framing: grammar edges, split feeds, limits,
 * mode switch, encode/decode round trips, sticky errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/frame.h"

#define MAX_EXPECT 8

struct expect {
	const char *msg[MAX_EXPECT];	/* NUL-free expected messages */
	size_t n;
};

static struct ch_frame *new_frame(size_t max_msg, enum ch_frame_mode mode)
{
	struct ch_frame *f = ch_frame_new(max_msg);

	assert_non_null(f);
	assert_int_equal(ch_frame_mode(f), CH_FRAME_EOM);
	ch_frame_set_mode(f, mode);
	assert_int_equal(ch_frame_mode(f), mode);
	return f;
}

/* Takes every complete message; switches to chunked after the first one
 * when asked. Returns the count taken so far in *got. */
static void drain(struct ch_frame *f, const struct expect *e, size_t *got,
		  int switch_after_first)
{
	char *m;
	size_t len;
	int r;

	for (;;) {
		m = (char *)1;
		len = 99;
		r = ch_frame_next(f, &m, &len);
		if (r == CH_ERR_AGAIN) {
			assert_null(m);
			assert_int_equal(len, 0);
			return;
		}
		assert_int_equal(r, CH_OK);
		assert_true(*got < e->n);
		assert_int_equal(len, strlen(e->msg[*got]));
		assert_memory_equal(m, e->msg[*got], len);
		assert_int_equal(m[len], '\0');
		free(m);
		(*got)++;
		if (switch_after_first && *got == 1)
			ch_frame_set_mode(f, CH_FRAME_CHUNKED);
	}
}

/* Feeds in as two pieces split at every position, and once byte by byte;
 * every way must give exactly the expected messages. */
static void check_splits(enum ch_frame_mode mode, const char *in,
			 const struct expect *e, int switch_after_first)
{
	struct ch_frame *f;
	size_t inlen = strlen(in), split, i, got;

	for (split = 0; split <= inlen; split++) {
		f = new_frame(0, mode);
		got = 0;
		assert_int_equal(ch_frame_feed(f, in, split), CH_OK);
		drain(f, e, &got, switch_after_first);
		assert_int_equal(ch_frame_feed(f, in + split, inlen - split),
				 CH_OK);
		drain(f, e, &got, switch_after_first);
		assert_int_equal(got, e->n);
		assert_string_equal(ch_frame_error(f), "");
		ch_frame_free(f);
	}
	f = new_frame(0, mode);
	got = 0;
	for (i = 0; i < inlen; i++) {
		assert_int_equal(ch_frame_feed(f, in + i, 1), CH_OK);
		drain(f, e, &got, switch_after_first);
	}
	assert_int_equal(got, e->n);
	ch_frame_free(f);
}

/* Feeds in whole and expects err from ch_frame_next, with the text. */
static void check_error(size_t max_msg, enum ch_frame_mode mode,
			const char *in, size_t inlen, int err, const char *text)
{
	struct ch_frame *f = new_frame(max_msg, mode);
	char *m = NULL;
	size_t len = 0;
	int r;

	assert_int_equal(ch_frame_feed(f, in, inlen), CH_OK);
	while ((r = ch_frame_next(f, &m, &len)) == CH_OK)
		free(m);
	assert_int_equal(r, err);
	assert_null(m);
	assert_int_equal(len, 0);
	assert_string_equal(ch_frame_error(f), text);
	ch_frame_free(f);
}

static void test_new_free(void **state)
{
	struct ch_frame *f = ch_frame_new(0);

	(void)state;
	assert_non_null(f);
	assert_int_equal(ch_frame_mode(f), CH_FRAME_EOM);
	assert_string_equal(ch_frame_error(f), "");
	ch_frame_free(f);
	ch_frame_free(NULL);
}

static void test_eom_basic(void **state)
{
	struct ch_frame *f = new_frame(0, CH_FRAME_EOM);
	char *m;
	size_t len;

	(void)state;
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	assert_int_equal(ch_frame_feed(f, "<a/>]]>]]>", 10), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, 4);
	assert_string_equal(m, "<a/>");
	free(m);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	assert_null(m);
	/* an empty message is framing-valid; XML will refuse it */
	assert_int_equal(ch_frame_feed(f, "]]>]]>", 6), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, 0);
	assert_string_equal(m, "");
	free(m);
	ch_frame_free(f);
}

static void test_eom_splits(void **state)
{
	const struct expect two = { { "<hello/>", "<rpc a=\"]]>\"/>" }, 2 };
	const struct expect tricky = { { "x]", "]]>]", "]]]]>]]", "y" }, 4 };
	const struct expect ws = { { "<a/>", "<b/> \n", "" }, 3 };

	(void)state;
	check_splits(CH_FRAME_EOM, "<hello/>]]>]]><rpc a=\"]]>\"/>]]>]]>",
		     &two, 0);
	/* delimiter overlaps with itself and with partial prefixes */
	check_splits(CH_FRAME_EOM,
		     "x]]]>]]>]]>]]]>]]>]]]]>]]]]>]]>y]]>]]>", &tricky, 0);
	/* leading whitespace is dropped, inner and trailing is kept */
	check_splits(CH_FRAME_EOM, "\r\n \t<a/>]]>]]>\n<b/> \n]]>]]>\n]]>]]>",
		     &ws, 0);
}

static void test_eom_partial_delimiter(void **state)
{
	struct ch_frame *f = new_frame(0, CH_FRAME_EOM);
	char *m;
	size_t len;

	(void)state;
	assert_int_equal(ch_frame_feed(f, "<a/>]]>]]", 9), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	assert_int_equal(ch_frame_feed(f, "]", 1), CH_OK);	/* not '>' */
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	assert_int_equal(ch_frame_feed(f, "]>]]>", 5), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_string_equal(m, "<a/>]]>]]");
	assert_int_equal(len, 9);
	free(m);
	ch_frame_free(f);
}

/* 1 MiB fed one byte at a time with a ch_frame_next() after each: a
 * decoder that rescans from the start would need ~5e11 steps and hit the
 * test timeout. */
static void test_eom_drip_is_linear(void **state)
{
	const size_t n = 1024 * 1024;
	struct ch_frame *f = new_frame(2 * n, CH_FRAME_EOM);
	char *m;
	size_t i, len;

	(void)state;
	for (i = 0; i < n; i++) {
		assert_int_equal(ch_frame_feed(f, i % 2 ? "]" : "x", 1), CH_OK);
		assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	}
	for (i = 0; i < 6; i++)
		assert_int_equal(ch_frame_feed(f, &"]]>]]>"[i], 1), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, n);
	assert_int_equal(m[0], 'x');
	assert_int_equal(m[n - 1], ']');
	free(m);
	ch_frame_free(f);
}

static void test_eom_limit(void **state)
{
	struct ch_frame *f;
	char *m;
	size_t len;

	(void)state;
	/* exactly max_msg is fine */
	f = new_frame(10, CH_FRAME_EOM);
	assert_int_equal(ch_frame_feed(f, "0123456789]]>]]>", 16), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, 10);
	free(m);
	/* 10 bytes + a partial delimiter: may still end in time */
	assert_int_equal(ch_frame_feed(f, "0123456789]]>]]", 15), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	assert_int_equal(ch_frame_feed(f, ">", 1), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	free(m);
	ch_frame_free(f);

	/* one byte over, delimiter present */
	check_error(10, CH_FRAME_EOM, "01234567890]]>]]>", 17, CH_ERR_LIMIT,
		    "message exceeds 10 bytes without \"]]>]]>\"");
	/* one byte over, before any delimiter arrived */
	check_error(10, CH_FRAME_EOM, "01234567890", 11, CH_ERR_LIMIT,
		    "message exceeds 10 bytes without \"]]>]]>\"");
	check_error(10, CH_FRAME_EOM, "0123456789]]>]]x", 16, CH_ERR_LIMIT,
		    "message exceeds 10 bytes without \"]]>]]>\"");
}

static void test_feed_limit(void **state)
{
	const size_t big = 4 * 1024 * 1024;
	struct ch_frame *f = new_frame(16, CH_FRAME_EOM);
	char *junk = calloc(1, big), *m;
	size_t len;

	(void)state;
	assert_non_null(junk);
	assert_int_equal(ch_frame_feed(f, junk, 1024), CH_OK);
	assert_int_equal(ch_frame_feed(f, junk, big), CH_ERR_LIMIT);
	assert_int_equal(ch_frame_feed(f, "x", 1), CH_ERR_LIMIT);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_LIMIT);
	assert_string_not_equal(ch_frame_error(f), "");
	free(junk);
	ch_frame_free(f);
}

static void test_chunked_basic(void **state)
{
	struct ch_frame *f = new_frame(0, CH_FRAME_CHUNKED);
	char *m;
	size_t len;

	(void)state;
	assert_int_equal(ch_frame_feed(f, "\n#4\n<a/>\n##\n", 12), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, 4);
	assert_string_equal(m, "<a/>");
	free(m);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	/* binary data, NUL included, and the delimiter of the other mode */
	assert_int_equal(ch_frame_feed(f, "\n#3\na\0b\n#6\n]]>]]>\n##\n", 21),
			 CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, 9);
	assert_memory_equal(m, "a\0b]]>]]>", 10);
	free(m);
	ch_frame_free(f);
}

static void test_chunked_splits(void **state)
{
	const struct expect e = { { "<rpc/>", "abcdefghijkl", "\n##\n" }, 3 };

	(void)state;
	check_splits(CH_FRAME_CHUNKED,
		     "\n#6\n<rpc/>\n##\n"
		     "\n#1\na\n#2\nbc\n#9\ndefghijkl\n##\n"
		     "\n#4\n\n##\n\n##\n", &e, 0);
}

static void test_chunked_grammar(void **state)
{
	(void)state;
	check_error(0, CH_FRAME_CHUNKED, "\n##\n", 4, CH_ERR_PROTO,
		    "end-of-chunks before any chunk");
	check_error(0, CH_FRAME_CHUNKED, "\n#0\n", 4, CH_ERR_PROTO,
		    "chunk size starts with '0' (zero or leading zero)");
	check_error(0, CH_FRAME_CHUNKED, "\n#01\na\n##\n", 10, CH_ERR_PROTO,
		    "chunk size starts with '0' (zero or leading zero)");
	check_error(0, CH_FRAME_CHUNKED, "\n#4294967296\n", 13, CH_ERR_PROTO,
		    "chunk size above 4294967295");
	check_error(0, CH_FRAME_CHUNKED, "\n#99999999999\n", 14, CH_ERR_PROTO,
		    "chunk size above 4294967295");
	check_error(0, CH_FRAME_CHUNKED, "\n#12345678901\n", 14, CH_ERR_PROTO,
		    "chunk size has more than 10 digits");
	check_error(0, CH_FRAME_CHUNKED, "A", 1, CH_ERR_PROTO,
		    "expected LF before chunk header, got 0x41");
	check_error(0, CH_FRAME_CHUNKED, "\r\n#1\na\n##\n", 10, CH_ERR_PROTO,
		    "expected LF before chunk header, got 0x0d");
	check_error(0, CH_FRAME_CHUNKED, "\nA", 2, CH_ERR_PROTO,
		    "expected '#' after LF in chunk header, got 0x41");
	check_error(0, CH_FRAME_CHUNKED, "\n\n#1\na\n##\n", 10, CH_ERR_PROTO,
		    "expected '#' after LF in chunk header, got 0x0a");
	check_error(0, CH_FRAME_CHUNKED, "\n#A", 3, CH_ERR_PROTO,
		    "expected chunk size or '#' after \"\\n#\", got 0x41");
	check_error(0, CH_FRAME_CHUNKED, "\n#-1\n", 5, CH_ERR_PROTO,
		    "expected chunk size or '#' after \"\\n#\", got 0x2d");
	check_error(0, CH_FRAME_CHUNKED, "\n# 1\n", 5, CH_ERR_PROTO,
		    "expected chunk size or '#' after \"\\n#\", got 0x20");
	check_error(0, CH_FRAME_CHUNKED, "\n#\n", 3, CH_ERR_PROTO,
		    "expected chunk size or '#' after \"\\n#\", got 0x0a");
	check_error(0, CH_FRAME_CHUNKED, "\n#4A", 4, CH_ERR_PROTO,
		    "expected digit or LF in chunk size, got 0x41");
	check_error(0, CH_FRAME_CHUNKED, "\n#1\r\na\n##\n", 10, CH_ERR_PROTO,
		    "expected digit or LF in chunk size, got 0x0d");
	/* more data than the chunk size announced */
	check_error(0, CH_FRAME_CHUNKED, "\n#1\nab\n##\n", 10, CH_ERR_PROTO,
		    "expected LF before chunk header, got 0x62");
	check_error(0, CH_FRAME_CHUNKED, "\n#1\na\n##x", 9, CH_ERR_PROTO,
		    "expected LF after \"\\n##\", got 0x78");
	check_error(0, CH_FRAME_CHUNKED, "\n#1\na\n###\n", 10, CH_ERR_PROTO,
		    "expected LF after \"\\n##\", got 0x23");
	/* the error hits after a good message, which still comes out */
	check_error(0, CH_FRAME_CHUNKED, "\n#1\na\n##\n\n##\n", 13, CH_ERR_PROTO,
		    "end-of-chunks before any chunk");
}

/* The largest legal chunk-size is a valid header when max_msg allows it;
 * only the header and 3 bytes are fed, nothing near 4 GB is allocated. */
static void test_chunked_max_size_header(void **state)
{
	struct ch_frame *f;
	char *m;
	size_t len;

	(void)state;
	if ((uint64_t)SIZE_MAX < CH_FRAME_CHUNK_SIZE_MAX)
		skip();
	f = new_frame((size_t)CH_FRAME_CHUNK_SIZE_MAX, CH_FRAME_CHUNKED);
	assert_int_equal(ch_frame_feed(f, "\n#4294967295\nabc", 16), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	assert_string_equal(ch_frame_error(f), "");
	ch_frame_free(f);

	/* one more is out of the grammar whatever max_msg says */
	check_error((size_t)CH_FRAME_CHUNK_SIZE_MAX + 1, CH_FRAME_CHUNKED,
		    "\n#4294967296\n", 13, CH_ERR_PROTO,
		    "chunk size above 4294967295");
}

static void test_chunked_limit(void **state)
{
	struct ch_frame *f = new_frame(10, CH_FRAME_CHUNKED);
	char *m;
	size_t len;

	(void)state;
	/* exactly max_msg, in two chunks */
	assert_int_equal(ch_frame_feed(f, "\n#5\nabcde\n#5\nfghij\n##\n", 22),
			 CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_int_equal(len, 10);
	assert_string_equal(m, "abcdefghij");
	free(m);
	ch_frame_free(f);

	/* a single chunk above max_msg: at its header, before any data */
	check_error(10, CH_FRAME_CHUNKED, "\n#11\n", 5, CH_ERR_LIMIT,
		    "chunk size 11 above the message limit 10");
	check_error(10, CH_FRAME_CHUNKED, "\n#4294967295\n", 13, CH_ERR_LIMIT,
		    "chunk size 4294967295 above the message limit 10");
	/* accumulated chunks above max_msg */
	check_error(10, CH_FRAME_CHUNKED, "\n#6\nabcdef\n#5\n", 14,
		    CH_ERR_LIMIT, "chunked message above the limit 10");
	/* the limit is per message: the second message starts from 0 */
	f = new_frame(10, CH_FRAME_CHUNKED);
	assert_int_equal(ch_frame_feed(f, "\n#8\nabcdefgh\n##\n\n#8\n12345678"
				       "\n##\n", 32), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	free(m);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_string_equal(m, "12345678");
	free(m);
	ch_frame_free(f);
}

static void test_several_in_one_feed(void **state)
{
	const char eom[] = "<a/>]]>]]><b/>]]>]]><c/>]]>]]>";
	const char chk[] = "\n#4\n<a/>\n##\n\n#4\n<b/>\n##\n\n#4\n<c/>\n##\n";
	const char *want[] = { "<a/>", "<b/>", "<c/>" };
	struct ch_frame *f;
	char *m;
	size_t len, i;

	(void)state;
	f = new_frame(0, CH_FRAME_EOM);
	assert_int_equal(ch_frame_feed(f, eom, sizeof(eom) - 1), CH_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
		assert_string_equal(m, want[i]);
		free(m);
	}
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	ch_frame_free(f);

	f = new_frame(0, CH_FRAME_CHUNKED);
	assert_int_equal(ch_frame_feed(f, chk, sizeof(chk) - 1), CH_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
		assert_string_equal(m, want[i]);
		free(m);
	}
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	ch_frame_free(f);
}

static void test_mode_switch(void **state)
{
	const char in[] = "<hello/>]]>]]>\n#3\nabc\n##\n\n#2\nde\n##\n";
	const struct expect e = { { "<hello/>", "abc", "de" }, 3 };
	struct ch_frame *f;
	char *m;
	size_t len;

	(void)state;
	/* the chunked bytes are already buffered with the hello; an extra
	 * ch_frame_next() in EOM mode must not eat them */
	f = new_frame(0, CH_FRAME_EOM);
	assert_int_equal(ch_frame_feed(f, in, sizeof(in) - 1), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_string_equal(m, "<hello/>");
	free(m);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	ch_frame_set_mode(f, CH_FRAME_CHUNKED);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_string_equal(m, "abc");
	free(m);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_string_equal(m, "de");
	free(m);
	ch_frame_free(f);

	check_splits(CH_FRAME_EOM, in, &e, 1);
}

/* Setting the current mode again keeps a half-decoded message. */
static void test_set_same_mode(void **state)
{
	struct ch_frame *f = new_frame(0, CH_FRAME_CHUNKED);
	char *m;
	size_t len;

	(void)state;
	assert_int_equal(ch_frame_feed(f, "\n#5\nab", 6), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_AGAIN);
	ch_frame_set_mode(f, CH_FRAME_CHUNKED);
	assert_int_equal(ch_frame_feed(f, "cde\n##\n", 7), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
	assert_string_equal(m, "abcde");
	free(m);
	ch_frame_free(f);
}

static void test_sticky(void **state)
{
	struct ch_frame *f = new_frame(0, CH_FRAME_CHUNKED);
	const char *text = "expected '#' after LF in chunk header, got 0x41";
	char *m;
	size_t len;

	(void)state;
	assert_int_equal(ch_frame_feed(f, "\nA", 2), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_PROTO);
	assert_string_equal(ch_frame_error(f), text);
	/* good input afterwards changes nothing */
	assert_int_equal(ch_frame_feed(f, "\n#1\na\n##\n", 9), CH_ERR_PROTO);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_PROTO);
	assert_null(m);
	ch_frame_set_mode(f, CH_FRAME_EOM);
	assert_int_equal(ch_frame_feed(f, "<a/>]]>]]>", 10), CH_ERR_PROTO);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_PROTO);
	assert_string_equal(ch_frame_error(f), text);
	ch_frame_free(f);

	f = new_frame(4, CH_FRAME_EOM);
	assert_int_equal(ch_frame_feed(f, "12345", 5), CH_OK);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_LIMIT);
	assert_int_equal(ch_frame_feed(f, "]]>]]>", 6), CH_ERR_LIMIT);
	assert_int_equal(ch_frame_next(f, &m, &len), CH_ERR_LIMIT);
	ch_frame_free(f);
}

static void test_encode_exact(void **state)
{
	const char *back[] = { "]]", "]]>]", "]]>]]" };
	struct ch_frame *f;
	struct ch_buf out;
	size_t i, len;
	char *m;

	(void)state;
	ch_buf_init(&out, 1024);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "<a/>", 4), CH_OK);
	assert_string_equal(ch_buf_ptr(&out), "<a/>]]>]]>");
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_CHUNKED, "<b/>", 4),
			 CH_OK);
	assert_string_equal(ch_buf_ptr(&out),
			    "<a/>]]>]]>\n#4\n<b/>\n##\n");
	/* refusals append nothing */
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_CHUNKED, "", 0),
			 CH_ERR_INVAL);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "a]]>]]>b", 8),
			 CH_ERR_INVAL);
	/* "x]]>" + "]]>]]>" would decode as "x" */
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "x]]>", 4),
			 CH_ERR_INVAL);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "]]>", 3),
			 CH_ERR_INVAL);
	assert_int_equal(ch_buf_len(&out), 22);
	/* other near-delimiter endings are fine */
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "]]", 2), CH_OK);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "]]>]", 4), CH_OK);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "]]>]]", 5),
			 CH_OK);
	assert_string_equal(ch_buf_ptr(&out) + 22,
			    "]]]]>]]>]]>]]]>]]>]]>]]]]>]]>");
	f = new_frame(0, CH_FRAME_EOM);
	assert_int_equal(ch_frame_feed(f, ch_buf_ptr(&out) + 22,
				       ch_buf_len(&out) - 22), CH_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
		assert_string_equal(m, back[i]);
		free(m);
	}
	ch_frame_free(f);
	ch_buf_reset(&out);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_CHUNKED, "<a/>", 4),
			 CH_OK);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "<b/>", 4), CH_OK);
	assert_int_equal(ch_buf_len(&out), 22);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, NULL, 0), CH_OK);
	assert_int_equal(ch_buf_len(&out), 28);
	ch_buf_cleanup(&out);

	/* out's limit: exact fit works, one byte less appends nothing */
	ch_buf_init(&out, 12);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_CHUNKED, "<a/>", 4),
			 CH_OK);
	assert_int_equal(ch_buf_len(&out), 12);
	ch_buf_cleanup(&out);
	ch_buf_init(&out, 11);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_CHUNKED, "<a/>", 4),
			 CH_ERR_LIMIT);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_EOM, "<a/>123", 7),
			 CH_ERR_LIMIT);
	assert_int_equal(ch_buf_len(&out), 0);
	ch_buf_cleanup(&out);
}

/* Chunk layout of a message just over one encode chunk. */
static void test_encode_chunk_layout(void **state)
{
	const size_t n = CH_FRAME_ENCODE_CHUNK + 1;
	char *msg = malloc(n), hdr[32];
	const char *p;
	struct ch_buf out;
	int h;

	(void)state;
	assert_non_null(msg);
	memset(msg, 'z', n);
	ch_buf_init(&out, 2 * n);
	assert_int_equal(ch_frame_encode(&out, CH_FRAME_CHUNKED, msg, n), CH_OK);
	p = ch_buf_ptr(&out);
	h = snprintf(hdr, sizeof(hdr), "\n#%u\n", CH_FRAME_ENCODE_CHUNK);
	assert_memory_equal(p, hdr, (size_t)h);
	p += h + CH_FRAME_ENCODE_CHUNK;
	assert_memory_equal(p, "\n#1\nz\n##\n", 9);
	assert_int_equal(ch_buf_len(&out),
			 (size_t)h + CH_FRAME_ENCODE_CHUNK + 9);
	ch_buf_cleanup(&out);
	free(msg);
}

static void test_round_trip(void **state)
{
	const size_t sizes[] = { 1, 2, 100, CH_FRAME_ENCODE_CHUNK - 1,
		CH_FRAME_ENCODE_CHUNK, CH_FRAME_ENCODE_CHUNK + 1,
		3 * CH_FRAME_ENCODE_CHUNK + 5 };
	enum ch_frame_mode mode;
	struct ch_frame *f;
	struct ch_buf out;
	char *msg, *m;
	size_t i, j, len;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		msg = malloc(sizes[i]);
		assert_non_null(msg);
		/* printable, no whitespace first, never "]]>]]>" */
		for (j = 0; j < sizes[i]; j++)
			msg[j] = (char)('!' + (j * 7 + i) % 90);
		for (mode = CH_FRAME_EOM; mode <= CH_FRAME_CHUNKED; mode++) {
			ch_buf_init(&out, 2 * sizes[i] + 1024);
			assert_int_equal(ch_frame_encode(&out, mode, msg,
							 sizes[i]), CH_OK);
			f = new_frame(sizes[i], mode);
			assert_int_equal(ch_frame_feed(f, ch_buf_ptr(&out),
						       ch_buf_len(&out)), CH_OK);
			assert_int_equal(ch_frame_next(f, &m, &len), CH_OK);
			assert_int_equal(len, sizes[i]);
			assert_memory_equal(m, msg, len);
			free(m);
			assert_int_equal(ch_frame_next(f, &m, &len),
					 CH_ERR_AGAIN);
			ch_frame_free(f);
			ch_buf_cleanup(&out);
		}
		free(msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_free),
		cmocka_unit_test(test_eom_basic),
		cmocka_unit_test(test_eom_splits),
		cmocka_unit_test(test_eom_partial_delimiter),
		cmocka_unit_test(test_eom_drip_is_linear),
		cmocka_unit_test(test_eom_limit),
		cmocka_unit_test(test_feed_limit),
		cmocka_unit_test(test_chunked_basic),
		cmocka_unit_test(test_chunked_splits),
		cmocka_unit_test(test_chunked_grammar),
		cmocka_unit_test(test_chunked_max_size_header),
		cmocka_unit_test(test_chunked_limit),
		cmocka_unit_test(test_several_in_one_feed),
		cmocka_unit_test(test_mode_switch),
		cmocka_unit_test(test_set_same_mode),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_encode_exact),
		cmocka_unit_test(test_encode_chunk_layout),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
