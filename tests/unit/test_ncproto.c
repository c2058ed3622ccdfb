/* Unit tests for ncproto: a client and a server engine wired back to back
 * through in-memory pipes, plus hostile byte streams. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/nc/ncproto.h"

struct end {
	struct ch_buf wire;	/* what this end sent */
	int hellos;
	int messages;
	char last[256];
	int stop_after;		/* on_message returns CH_ERR_CLOSED at this count */
};

static int end_send(void *ctx, const char *data, size_t len)
{
	struct end *e = ctx;

	return ch_buf_put(&e->wire, data, len);
}

static void end_hello(void *ctx, const struct ch_hello *peer)
{
	struct end *e = ctx;

	(void)peer;
	e->hellos++;
}

static int end_message(void *ctx, const char *msg, size_t len)
{
	struct end *e = ctx;

	e->messages++;
	snprintf(e->last, sizeof(e->last), "%.*s", (int)len, msg);
	if (e->stop_after && e->messages == e->stop_after)
		return CH_ERR_CLOSED;
	return CH_OK;
}

static const struct ch_nc_ops ops = {
	.send = end_send,
	.on_hello = end_hello,
	.on_message = end_message,
};

static const char *const both[] = { CH_NC_BASE10, CH_NC_BASE11 };
static const char *const only10[] = { CH_NC_BASE10 };

static void end_init(struct end *e)
{
	memset(e, 0, sizeof(*e));
	ch_buf_init(&e->wire, 1u << 24);
}

/* Moves everything one end sent into the other engine. */
static int deliver(struct end *from, struct ch_nc *to)
{
	int r = ch_nc_input(to, ch_buf_ptr(&from->wire), ch_buf_len(&from->wire));

	ch_buf_reset(&from->wire);
	return r;
}

static void test_hello_negotiates_chunked(void **state)
{
	struct end ce, se;
	struct ch_nc *c, *s;

	(void)state;
	end_init(&ce);
	end_init(&se);
	c = ch_nc_new(CH_NC_CLIENT, 0, both, 2, 0, &ops, &ce);
	s = ch_nc_new(CH_NC_SERVER, 42, both, 2, 0, &ops, &se);
	assert_non_null(c);
	assert_non_null(s);
	assert_int_equal(ch_nc_send(c, "<x/>", 4), CH_ERR_INVAL);
	assert_int_equal(ch_nc_start(c), CH_OK);
	assert_int_equal(ch_nc_start(s), CH_OK);
	/* hellos are always end-of-message framed */
	assert_non_null(strstr(ch_buf_ptr(&se.wire), "]]>]]>"));
	assert_non_null(strstr(ch_buf_ptr(&se.wire), "<session-id>42</session-id>"));
	assert_null(strstr(ch_buf_ptr(&ce.wire), "session-id"));
	assert_int_equal(deliver(&ce, s), CH_OK);
	assert_int_equal(deliver(&se, c), CH_OK);
	assert_true(ch_nc_ready(c) && ch_nc_ready(s));
	assert_true(ch_nc_chunked(c) && ch_nc_chunked(s));
	assert_int_equal(ch_nc_peer_hello(c)->session_id, 42);
	assert_int_equal(ce.hellos + se.hellos, 2);

	assert_int_equal(ch_nc_send(c, "<rpc/>", 6), CH_OK);
	assert_string_equal(ch_buf_ptr(&ce.wire), "\n#6\n<rpc/>\n##\n");
	assert_int_equal(deliver(&ce, s), CH_OK);
	assert_int_equal(se.messages, 1);
	assert_string_equal(se.last, "<rpc/>");
	ch_nc_free(c);
	ch_nc_free(s);
	ch_buf_cleanup(&ce.wire);
	ch_buf_cleanup(&se.wire);
}

static void test_base10_peer_keeps_eom(void **state)
{
	struct end ce, se;
	struct ch_nc *c, *s;

	(void)state;
	end_init(&ce);
	end_init(&se);
	c = ch_nc_new(CH_NC_CLIENT, 0, only10, 1, 0, &ops, &ce);
	s = ch_nc_new(CH_NC_SERVER, 7, both, 2, 0, &ops, &se);
	ch_nc_start(c);
	ch_nc_start(s);
	assert_int_equal(deliver(&ce, s), CH_OK);
	assert_int_equal(deliver(&se, c), CH_OK);
	assert_false(ch_nc_chunked(s));
	assert_int_equal(ch_nc_send(s, "<a/>", 4), CH_OK);
	assert_string_equal(ch_buf_ptr(&se.wire), "<a/>]]>]]>");
	ch_nc_free(c);
	ch_nc_free(s);
	ch_buf_cleanup(&ce.wire);
	ch_buf_cleanup(&se.wire);
}

/* The framing is what both offered, not what the peer offered (found by
 * fuzz/ncsession_fuzz.c): an end offering only base:1.0 stays EOM when
 * the peer offers base:1.1, and no base in common ends the session. */
static void test_own_caps_count(void **state)
{
	static const char *const only11[] = { CH_NC_BASE11 };
	struct end ce, se;
	struct ch_nc *c, *s;

	(void)state;
	end_init(&ce);
	end_init(&se);
	c = ch_nc_new(CH_NC_CLIENT, 0, only10, 1, 0, &ops, &ce);
	s = ch_nc_new(CH_NC_SERVER, 7, both, 2, 0, &ops, &se);
	ch_nc_start(c);
	ch_nc_start(s);
	assert_int_equal(deliver(&se, c), CH_OK);
	assert_true(ch_nc_ready(c));
	assert_false(ch_nc_chunked(c));
	ch_nc_free(c);
	ch_nc_free(s);

	c = ch_nc_new(CH_NC_CLIENT, 0, only10, 1, 0, &ops, &ce);
	s = ch_nc_new(CH_NC_SERVER, 7, only11, 1, 0, &ops, &se);
	ch_buf_reset(&ce.wire);
	ch_buf_reset(&se.wire);
	ch_nc_start(c);
	ch_nc_start(s);
	assert_int_equal(deliver(&ce, s), CH_ERR_PROTO);
	assert_false(ch_nc_ready(s));
	assert_string_equal(ch_nc_error(s),
			    "hello refused: no common NETCONF base version");
	assert_int_equal(deliver(&se, c), CH_ERR_PROTO);
	assert_false(ch_nc_ready(c));
	ch_nc_free(c);
	ch_nc_free(s);
	ch_buf_cleanup(&ce.wire);
	ch_buf_cleanup(&se.wire);
}

/* The client's hello and its first chunked rpc arrive in one read, split
 * at every possible position: the engine must switch framing exactly at
 * the hello's end. */
static void test_hello_and_rpc_split_everywhere(void **state)
{
	struct end ce, se;
	struct ch_nc *c, *s;
	char *stream;
	size_t len;

	(void)state;
	end_init(&ce);
	c = ch_nc_new(CH_NC_CLIENT, 0, both, 2, 0, &ops, &ce);
	ch_nc_start(c);
	ch_buf_puts(&ce.wire, "\n#3\n<a>\n#4\n</a>\n##\n");
	len = ch_buf_len(&ce.wire);
	stream = malloc(len);
	memcpy(stream, ch_buf_ptr(&ce.wire), len);
	for (size_t cut = 0; cut <= len; cut++) {
		end_init(&se);
		s = ch_nc_new(CH_NC_SERVER, 1, both, 2, 0, &ops, &se);
		ch_nc_start(s);
		assert_int_equal(ch_nc_input(s, stream, cut), CH_OK);
		assert_int_equal(ch_nc_input(s, stream + cut, len - cut), CH_OK);
		assert_int_equal(se.hellos, 1);
		assert_int_equal(se.messages, 1);
		assert_string_equal(se.last, "<a></a>");
		ch_nc_free(s);
		ch_buf_cleanup(&se.wire);
	}
	free(stream);
	ch_nc_free(c);
	ch_buf_cleanup(&ce.wire);
}

static void test_session_id_rules(void **state)
{
	struct end e;
	struct ch_nc *c, *s;
	const char *no_sid = "<hello xmlns=\"" CH_NC_NS "\"><capabilities>"
		"<capability>" CH_NC_BASE11 "</capability></capabilities>"
		"</hello>]]>]]>";
	const char *with_sid = "<hello xmlns=\"" CH_NC_NS "\"><capabilities>"
		"<capability>" CH_NC_BASE11 "</capability></capabilities>"
		"<session-id>3</session-id></hello>]]>]]>";

	(void)state;
	end_init(&e);
	/* a client must terminate when the server sends no session-id */
	c = ch_nc_new(CH_NC_CLIENT, 0, both, 2, 0, &ops, &e);
	assert_int_equal(ch_nc_input(c, no_sid, strlen(no_sid)), CH_ERR_PROTO);
	assert_non_null(strstr(ch_nc_error(c), "hello refused"));
	ch_nc_free(c);
	/* a server must terminate when the client sends one */
	s = ch_nc_new(CH_NC_SERVER, 1, both, 2, 0, &ops, &e);
	assert_int_equal(ch_nc_input(s, with_sid, strlen(with_sid)),
			 CH_ERR_PROTO);
	ch_nc_free(s);
	assert_int_equal(e.hellos, 0);
	ch_buf_cleanup(&e.wire);
}

static void test_garbage_and_limits(void **state)
{
	struct end e;
	struct ch_nc *s;
	const char *junk = "GET / HTTP/1.1\r\n\r\n]]>]]>";
	char big[4096];

	(void)state;
	end_init(&e);
	s = ch_nc_new(CH_NC_SERVER, 1, both, 2, 0, &ops, &e);
	assert_int_equal(ch_nc_input(s, junk, strlen(junk)), CH_ERR_PROTO);
	assert_non_null(strstr(ch_nc_error(s), "not a valid <hello>"));
	ch_nc_free(s);

	/* a hello that never ends is bounded by max_msg */
	s = ch_nc_new(CH_NC_SERVER, 1, both, 2, 1024, &ops, &e);
	memset(big, 'x', sizeof(big));
	assert_int_equal(ch_nc_input(s, big, sizeof(big)), CH_ERR_LIMIT);
	assert_int_equal(e.hellos, 0);
	ch_nc_free(s);
	ch_buf_cleanup(&e.wire);
}

/* After close-session nothing more is processed (RFC 6242 5), even if it
 * arrived in the same read. */
static void test_stop_after_message(void **state)
{
	struct end ce, se;
	struct ch_nc *c, *s;

	(void)state;
	end_init(&ce);
	end_init(&se);
	se.stop_after = 1;
	c = ch_nc_new(CH_NC_CLIENT, 0, both, 2, 0, &ops, &ce);
	s = ch_nc_new(CH_NC_SERVER, 9, both, 2, 0, &ops, &se);
	ch_nc_start(c);
	ch_nc_start(s);
	deliver(&se, c);
	assert_int_equal(deliver(&ce, s), CH_OK);
	ch_nc_send(c, "<close-session/>", 16);
	ch_nc_send(c, "<get/>", 6);
	assert_int_equal(deliver(&ce, s), CH_ERR_CLOSED);
	assert_int_equal(se.messages, 1);
	assert_string_equal(se.last, "<close-session/>");
	ch_nc_free(c);
	ch_nc_free(s);
	ch_buf_cleanup(&ce.wire);
	ch_buf_cleanup(&se.wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_negotiates_chunked),
		cmocka_unit_test(test_base10_peer_keeps_eom),
		cmocka_unit_test(test_own_caps_count),
		cmocka_unit_test(test_hello_and_rpc_split_everywhere),
		cmocka_unit_test(test_session_id_rules),
		cmocka_unit_test(test_garbage_and_limits),
		cmocka_unit_test(test_stop_after_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
