/* test_ncsession.c - NETCONF sessions (lib/nc/session.h) over socketpair
 * streams (fdxport): a client and a server engine against each other,
 * and a server against a raw, hostile peer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/nc/msg.h"
#include "lib/nc/session.h"
#include "lib/xport/xport.h"
#include "loopguard.h"
#include "xportpair.h"

#define GUARD_MS 10000
#define MAX_RPCS 16

static const char *const both[] = { CH_NC_BASE10, CH_NC_BASE11 };
static const char *const only10[] = { CH_NC_BASE10 };

enum srv_mode {
	SRV_ANSWER,		/* <ok/> at once */
	SRV_SILENT,		/* never answers */
	SRV_REVERSE,		/* answers the first n_hold rpcs in reverse */
};

struct side {
	struct ch_xport *x;
	struct ch_ncs *s;
	struct ch_ncs_opts o;
	int xclosed;
	int hellos;
	int ended;
	char why[CH_NCS_WHY_MAX];
	int graceful, bad_hello, established;
	/* server */
	enum srv_mode mode;
	int rpcs;
	struct ch_rpc *held[MAX_RPCS];
	int nheld, n_hold;
	/* client */
	int others;
	char other[512];
};

struct done_rec {
	int status;
	char id[32];
	char why[CH_NCS_WHY_MAX];
};

struct fx {
	uv_loop_t loop;
	struct loopguard guard;
	struct side cli, srv;
	int raw;			/* the raw peer's fd, or -1 */
	struct done_rec done[MAX_RPCS];
	int ndone;
};

static struct fx *F;

/* Runs the loop until cond holds, GUARD_MS at most. */
#define RUN_UNTIL(cond) LOOP_UNTIL(&F->guard, &F->loop, cond)

/* ---- the engines' owners ---- */

static void o_hello(void *ctx, const struct ch_hello *peer)
{
	struct side *d = ctx;

	(void)peer;
	d->hellos++;
}

static int reply_ok(struct side *d, const struct ch_rpc *rpc)
{
	struct ch_buf out;
	int r;

	ch_buf_init(&out, 1 << 20);
	assert_int_equal(ch_reply_ok(&out, rpc), CH_OK);
	r = ch_ncs_send(d->s, ch_buf_ptr(&out), ch_buf_len(&out));
	ch_buf_cleanup(&out);
	return r;
}

static int o_rpc(void *ctx, const char *msg, size_t len)
{
	struct side *d = ctx;
	struct ch_rpc *rpc;
	int r = CH_OK;

	d->rpcs++;
	assert_int_equal(ch_rpc_parse(msg, len, &rpc), CH_OK);
	if (rpc->op_name && strcmp(rpc->op_name, "close-session") == 0) {
		assert_int_equal(reply_ok(d, rpc), CH_OK);
		ch_rpc_free(rpc);
		return CH_ERR_CLOSED;
	}
	switch (d->mode) {
	case SRV_ANSWER:
		r = reply_ok(d, rpc);
		break;
	case SRV_SILENT:
		break;
	case SRV_REVERSE:
		d->held[d->nheld++] = rpc;
		rpc = NULL;
		if (d->nheld == d->n_hold) {
			while (d->nheld > 0) {
				struct ch_rpc *h = d->held[--d->nheld];

				assert_int_equal(reply_ok(d, h), CH_OK);
				ch_rpc_free(h);
			}
			/* and a reply nobody asked for */
			ch_ncs_send(d->s, "<rpc-reply xmlns=\"" CH_NC_NS
				    "\" message-id=\"999\"><ok/></rpc-reply>",
				    strlen("<rpc-reply xmlns=\"" CH_NC_NS
					   "\" message-id=\"999\"><ok/>"
					   "</rpc-reply>"));
		}
		break;
	}
	ch_rpc_free(rpc);
	return r;
}

static void o_other(void *ctx, const char *msg, size_t len)
{
	struct side *d = ctx;

	d->others++;
	snprintf(d->other, sizeof(d->other), "%.*s", (int)len, msg);
}

static void o_ended(void *ctx, const char *why, int graceful)
{
	struct side *d = ctx;

	assert_int_equal(d->ended, 0);
	d->ended = 1;
	snprintf(d->why, sizeof(d->why), "%s", why);
	d->graceful = graceful;
	d->bad_hello = ch_ncs_bad_hello(d->s);
	d->established = ch_ncs_established(d->s);
	for (int i = 0; i < d->nheld; i++)
		ch_rpc_free(d->held[i]);
	d->nheld = 0;
	d->s = NULL;
}

static const struct ch_ncs_ops side_ops = {
	.hello = o_hello,
	.on_rpc = o_rpc,
	.on_other = o_other,
	.ended = o_ended,
};

static void on_done(void *ctx, int status, const char *reply, size_t len,
		    const char *why)
{
	struct done_rec *r = &F->done[F->ndone++];
	const char *p;

	(void)ctx;
	r->status = status;
	if (status == CH_OK) {
		struct ch_reply rep;

		assert_non_null(reply);
		assert_int_equal(ch_reply_parse(reply, len, &rep), CH_OK);
		assert_true(rep.is_ok);
		snprintf(r->id, sizeof(r->id), "%s", rep.message_id);
		ch_reply_cleanup(&rep);
		/* the reply handed over is the one for this rpc */
		assert_non_null(p = strstr(reply, "message-id"));
	} else {
		snprintf(r->why, sizeof(r->why), "%s", why);
	}
}

/* ---- the connections' owners ---- */

static int x_accept(struct ch_xport *x, struct ch_stream *st,
		    const struct ch_stream_req *req, const char **why)
{
	struct side *d = ch_xport_owner(x);

	(void)why;
	assert_int_equal(req->type, CH_STREAM_FD);
	return ch_ncs_new(st, &d->o, &side_ops, d, &d->s);
}

static void x_up(struct ch_xport *x)
{
	struct side *d = ch_xport_owner(x);
	struct ch_stream_req req = { .type = CH_STREAM_FD };

	if (ch_xport_role(x) == CH_XPORT_CLIENT)
		assert_int_equal(ch_ncs_open(x, &req, &d->o, &side_ops, d,
					     &d->s), CH_OK);
}

static void x_closed(struct ch_xport *x)
{
	struct side *d = ch_xport_owner(x);

	d->xclosed = 1;
	d->x = NULL;
}

static const struct ch_xport_ops xops = {
	.up = x_up,
	.accept = x_accept,
	.closed = x_closed,
};

/* ---- fixture ---- */

static int each_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	loopguard_init(&f->guard, &f->loop, GUARD_MS);
	f->raw = -1;
	f->cli.o = (struct ch_ncs_opts){
		.loop = &f->loop, .role = CH_NC_CLIENT, .caps = both,
		.ncaps = 2, .peer_name = "device",
	};
	f->srv.o = (struct ch_ncs_opts){
		.loop = &f->loop, .role = CH_NC_SERVER, .session_id = 7,
		.caps = both, .ncaps = 2, .peer_name = "the manager",
	};
	F = f;
	*state = f;
	return 0;
}

static int each_teardown(void **state)
{
	struct fx *f = *state;

	xport_pair_close(&f->guard, &f->loop, &f->cli.x, &f->srv.x);
	if (f->raw >= 0)
		close(f->raw);
	loopguard_close(&f->guard);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void start_side(struct side *d, int fd, enum ch_xport_role role)
{
	assert_int_equal(ch_xport_fd_start(&F->loop, fd, role, NULL, &xops, d,
					   &d->x), CH_OK);
}

/* Both engines over a socketpair, up to the end of the hello exchange. */
static void start_both(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	start_side(&F->srv, sv[0], CH_XPORT_SERVER);
	start_side(&F->cli, sv[1], CH_XPORT_CLIENT);
	RUN_UNTIL(F->cli.hellos && F->srv.hellos);
	assert_true(ch_ncs_ready(F->cli.s));
	assert_true(ch_ncs_ready(F->srv.s));
}

/* The server engine against a raw fd the test writes to. */
static void start_raw_server(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	start_side(&F->srv, sv[0], CH_XPORT_SERVER);
	F->raw = sv[1];
}

static void raw_write(const char *p, size_t n)
{
	assert_int_equal(write(F->raw, p, n), (ssize_t)n);
}

static void rpc_ok(const char *op)
{
	const char *why = "x";

	assert_int_equal(ch_ncs_rpc(F->cli.s, op, on_done, NULL, NULL, &why),
			 CH_OK);
	assert_null(why);
}

/* ---- tests ---- */

static void test_hello_base11(void **state)
{
	(void)state;
	start_both();
	assert_true(ch_ncs_chunked(F->cli.s));
	assert_true(ch_ncs_chunked(F->srv.s));
	assert_int_equal(ch_ncs_session_id(F->cli.s), 7);
	assert_int_equal(ch_ncs_session_id(F->srv.s), 7);
	assert_int_equal(ch_ncs_peer_hello(F->cli.s)->ncaps, 2);
	assert_true(ch_ncs_established(F->cli.s));
	rpc_ok("<get/>");
	RUN_UNTIL(F->ndone == 1);
	assert_int_equal(F->done[0].status, CH_OK);
}

/* One side offers base:1.0 only: both frame with EOM, whichever it is. */
static void test_hello_base10(void **state)
{
	(void)state;
	F->cli.o.caps = only10;
	F->cli.o.ncaps = 1;
	start_both();
	assert_false(ch_ncs_chunked(F->cli.s));
	assert_false(ch_ncs_chunked(F->srv.s));
	rpc_ok("<get/>");
	RUN_UNTIL(F->ndone == 1);
	assert_int_equal(F->done[0].status, CH_OK);
}

static void test_hello_base10_server(void **state)
{
	(void)state;
	F->srv.o.caps = only10;
	F->srv.o.ncaps = 1;
	start_both();
	assert_false(ch_ncs_chunked(F->cli.s));
	assert_false(ch_ncs_chunked(F->srv.s));
	rpc_ok("<get/>");
	RUN_UNTIL(F->ndone == 1);
	assert_int_equal(F->done[0].status, CH_OK);
}

static void test_pipelined(void **state)
{
	char id[16];

	(void)state;
	start_both();
	for (int i = 0; i < 8; i++)
		rpc_ok("<get-config><source><running/></source></get-config>");
	assert_int_equal(ch_ncs_npending(F->cli.s), 8);
	RUN_UNTIL(F->ndone == 8);
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "%d", i + 1);
		assert_int_equal(F->done[i].status, CH_OK);
		assert_string_equal(F->done[i].id, id);
	}
	assert_int_equal(F->srv.rpcs, 8);
	assert_int_equal(ch_ncs_npending(F->cli.s), 0);
}

/* Replies in another order are matched by message-id; a reply to no
 * pending rpc goes to on_other. */
static void test_matched_by_id(void **state)
{
	uint32_t id = 0;
	const char *why;

	(void)state;
	F->srv.mode = SRV_REVERSE;
	F->srv.n_hold = 3;
	start_both();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ch_ncs_rpc(F->cli.s, "<get/>", on_done, NULL,
					    &id, &why), CH_OK);
		assert_int_equal(id, (uint32_t)i + 1);
	}
	RUN_UNTIL(F->ndone == 3 && F->cli.others == 1);
	assert_string_equal(F->done[0].id, "3");
	assert_string_equal(F->done[1].id, "2");
	assert_string_equal(F->done[2].id, "1");
	assert_non_null(strstr(F->cli.other, "message-id=\"999\""));
	assert_false(F->cli.ended);
}

static void test_rpc_timeout(void **state)
{
	(void)state;
	F->srv.mode = SRV_SILENT;
	F->cli.o.rpc_timeout_ms = 100;
	start_both();
	rpc_ok("<get/>");
	rpc_ok("<get/>");
	RUN_UNTIL(F->cli.ended && F->srv.ended);
	assert_string_equal(F->cli.why, "device did not answer an rpc in time");
	assert_false(F->cli.graceful);
	assert_int_equal(F->ndone, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(F->done[i].status, CH_ERR_CLOSED);
		assert_string_equal(F->done[i].why, F->cli.why);
	}
	RUN_UNTIL(F->cli.xclosed && F->srv.xclosed);
}

/* A peer that never says hello. */
static void test_hello_deadline(void **state)
{
	(void)state;
	F->srv.o.hello_timeout_ms = 100;
	start_raw_server();
	RUN_UNTIL(F->srv.ended);
	assert_string_equal(F->srv.why,
			    "the manager sent no NETCONF hello in time");
	assert_false(F->srv.graceful);
	assert_false(F->srv.bad_hello);
	assert_false(F->srv.established);
	RUN_UNTIL(F->srv.xclosed);
}

static void test_close_session(void **state)
{
	(void)state;
	start_both();
	rpc_ok("<get/>");
	assert_int_equal(ch_ncs_close_session(F->cli.s, "idle"), CH_OK);
	assert_int_equal(ch_ncs_close_session(F->cli.s, "idle"),
			 CH_ERR_CLOSED);
	RUN_UNTIL(F->cli.ended && F->srv.ended);
	/* the rpc before it was answered, the close-session reply too */
	assert_int_equal(F->ndone, 1);
	assert_int_equal(F->done[0].status, CH_OK);
	assert_true(F->srv.graceful);
	assert_string_equal(F->srv.why, "closed by close-session");
	assert_true(F->cli.graceful);
	assert_string_equal(F->cli.why, "idle");
	RUN_UNTIL(F->cli.xclosed && F->srv.xclosed);
}

/* A raw client's close-session: the reply is flushed before the close. */
static void test_close_session_flush(void **state)
{
	static const char hello[] = "<hello xmlns=\"" CH_NC_NS "\"><capabilities>"
		"<capability>" CH_NC_BASE10 "</capability></capabilities>"
		"</hello>]]>]]>";
	static const char close_rpc[] = "<rpc xmlns=\"" CH_NC_NS "\" "
		"message-id=\"5\"><close-session/></rpc>]]>]]>"
		"<rpc xmlns=\"" CH_NC_NS "\" message-id=\"6\"><get/></rpc>]]>]]>";
	char buf[8192];
	size_t n = 0;
	ssize_t r;

	(void)state;
	start_raw_server();
	raw_write(hello, strlen(hello));
	raw_write(close_rpc, strlen(close_rpc));
	RUN_UNTIL(F->srv.ended);
	assert_true(F->srv.graceful);
	assert_int_equal(F->srv.rpcs, 1);	/* nothing after close-session */
	RUN_UNTIL(F->srv.xclosed);
	while ((r = read(F->raw, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	assert_non_null(strstr(buf, "<session-id>7</session-id>"));
	assert_non_null(strstr(buf, "message-id=\"5\""));
	assert_non_null(strstr(buf, "<ok/>"));
	assert_null(strstr(buf, "message-id=\"6\""));
}

static void test_garbage_hello(void **state)
{
	static const char junk[] = "this is not XML at all]]>]]>";

	(void)state;
	start_raw_server();
	raw_write(junk, strlen(junk));
	RUN_UNTIL(F->srv.ended);
	assert_true(F->srv.bad_hello);
	assert_false(F->srv.graceful);
	assert_non_null(strstr(F->srv.why, "NETCONF protocol error from "
				"the manager"));
	assert_non_null(strstr(F->srv.why, "<hello>"));
	RUN_UNTIL(F->srv.xclosed);
}

static void test_oversized(void **state)
{
	static char big[4096];

	(void)state;
	F->srv.o.max_msg = 1024;
	memset(big, 'a', sizeof(big));
	start_raw_server();
	raw_write(big, sizeof(big));
	RUN_UNTIL(F->srv.ended);
	assert_non_null(strstr(F->srv.why, "over a limit from the manager"));
	assert_true(F->srv.bad_hello);
	RUN_UNTIL(F->srv.xclosed);
}

/* Garbage after a good hello: not a bad hello, but the end. */
static void test_garbage_after_hello(void **state)
{
	static const char bad_chunk[] = "\n#zz\n";

	(void)state;
	F->srv.mode = SRV_SILENT;
	start_both();
	rpc_ok("<get/>");
	RUN_UNTIL(F->srv.rpcs == 1);
	/* the client's own stream carries garbage now */
	assert_int_equal(ch_stream_write(ch_ncs_stream(F->cli.s), bad_chunk,
					 strlen(bad_chunk)), CH_OK);
	RUN_UNTIL(F->srv.ended && F->cli.ended);
	assert_false(F->srv.bad_hello);
	assert_true(F->srv.established);
	assert_non_null(strstr(F->srv.why, "NETCONF protocol error"));
	assert_int_equal(F->ndone, 1);
	assert_int_equal(F->done[0].status, CH_ERR_CLOSED);
}

static void test_peer_disappears(void **state)
{
	(void)state;
	F->srv.mode = SRV_SILENT;
	start_both();
	rpc_ok("<get/>");
	rpc_ok("<get/>");
	rpc_ok("<get/>");
	RUN_UNTIL(F->srv.rpcs == 3);
	ch_xport_close(F->srv.x, "gone");
	RUN_UNTIL(F->cli.ended);
	assert_int_equal(F->ndone, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(F->done[i].status, CH_ERR_CLOSED);
		assert_string_equal(F->done[i].why, F->cli.why);
	}
	assert_string_equal(F->cli.why, "device closed the session");
	assert_false(F->cli.graceful);
}

static void test_pending_cap(void **state)
{
	const char *why = NULL;

	(void)state;
	F->srv.mode = SRV_SILENT;
	F->cli.o.max_pending = 3;
	start_both();
	rpc_ok("<get/>");
	rpc_ok("<get/>");
	rpc_ok("<get/>");
	assert_int_equal(ch_ncs_rpc(F->cli.s, "<get/>", on_done, NULL, NULL,
				    &why), CH_ERR_LIMIT);
	assert_non_null(why);
	assert_int_equal(ch_ncs_rpc(F->cli.s, "<a><b></a>", on_done, NULL,
				    NULL, &why), CH_ERR_LIMIT);
	assert_int_equal(ch_ncs_npending(F->cli.s), 3);
	RUN_UNTIL(F->srv.rpcs == 3);
	assert_int_equal(F->ndone, 0);	/* never for a refused rpc */
}

static void test_rpc_errors(void **state)
{
	const char *why = NULL;

	(void)state;
	start_both();
	assert_int_equal(ch_ncs_rpc(F->cli.s, "<a><b></a>", on_done, NULL,
				    NULL, &why), CH_ERR_PROTO);
	assert_non_null(why);
	assert_int_equal(ch_ncs_rpc(F->srv.s, "<get/>", on_done, NULL, NULL,
				    &why), CH_ERR_INVAL);
	ch_ncs_close(F->cli.s, 1, "enough");
	assert_int_equal(ch_ncs_rpc(F->cli.s, "<get/>", on_done, NULL, NULL,
				    &why), CH_ERR_CLOSED);
	assert_int_equal(ch_ncs_send(F->cli.s, "<x/>", 4), CH_ERR_CLOSED);
	assert_false(F->cli.ended);	/* from the loop, not inside */
	RUN_UNTIL(F->cli.ended && F->srv.ended);
	assert_string_equal(F->cli.why, "enough");
	assert_int_equal(F->ndone, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, each_setup, each_teardown)
		T(test_hello_base11),
		T(test_hello_base10),
		T(test_hello_base10_server),
		T(test_pipelined),
		T(test_matched_by_id),
		T(test_rpc_timeout),
		T(test_hello_deadline),
		T(test_close_session),
		T(test_close_session_flush),
		T(test_garbage_hello),
		T(test_oversized),
		T(test_garbage_after_hello),
		T(test_peer_disappears),
		T(test_pending_cap),
		T(test_rpc_errors),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
