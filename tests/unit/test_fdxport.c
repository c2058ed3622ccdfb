/* test_fdxport.c - the plain-fd transport kind over socketpairs: the
 * output bound, pause/resume, EOF both ways, close after flush. */
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
#include "lib/xport/xport.h"
#include "loopguard.h"
#include "xportpair.h"

#define GUARD_MS 20000

struct side {
	struct ch_xport *x;
	struct ch_stream *s;
	int refuse;
	int up, opened, eofs, drained, sclosed, down, xclosed;
	int use_eof_cb;
	char why[256];
	uint64_t got;
	unsigned char last;
	int order_ok;
};

struct fx {
	uv_loop_t loop;
	struct loopguard guard;
	struct side cli, srv;
};

static struct fx *F;
static unsigned char big[CH_STREAM_OUT_MAX];

/* Runs the loop until cond holds, GUARD_MS at most. */
#define RUN_UNTIL(cond) LOOP_UNTIL(&F->guard, &F->loop, cond)

static void s_opened(struct ch_stream *s, int status, const char *why)
{
	struct side *d = ch_stream_ctx(s);

	(void)why;
	assert_int_equal(status, CH_OK);
	d->opened = 1;
}

static void s_data(struct ch_stream *s, const char *p, size_t n)
{
	struct side *d = ch_stream_ctx(s);

	/* big[] holds i & 0xff at i: check the stream keeps order */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] != (unsigned char)((d->got + i) & 0xff))
			d->order_ok = 0;
	d->got += n;
}

static void s_eof(struct ch_stream *s)
{
	((struct side *)ch_stream_ctx(s))->eofs++;
}

static void s_drained(struct ch_stream *s)
{
	((struct side *)ch_stream_ctx(s))->drained++;
}

static void s_closed(struct ch_stream *s, const char *why)
{
	struct side *d = ch_stream_ctx(s);

	d->sclosed++;
	snprintf(d->why, sizeof(d->why), "%s", why);
	d->s = NULL;
}

static const struct ch_stream_cb cb_eof = {
	.opened = s_opened, .data = s_data, .eof = s_eof,
	.drained = s_drained, .closed = s_closed,
};
static const struct ch_stream_cb cb_noeof = {
	.opened = s_opened, .data = s_data, .drained = s_drained,
	.closed = s_closed,
};

static int x_accept(struct ch_xport *x, struct ch_stream *s,
		    const struct ch_stream_req *req, const char **why)
{
	struct side *d = ch_xport_owner(x);

	assert_int_equal(req->type, CH_STREAM_FD);
	if (d->refuse) {
		*why = "not today";
		return CH_ERR_DENIED;
	}
	d->s = s;
	ch_stream_set_cb(s, d->use_eof_cb ? &cb_eof : &cb_noeof, d);
	return CH_OK;
}

static void x_up(struct ch_xport *x)
{
	struct side *d = ch_xport_owner(x);
	struct ch_stream_req req = { .type = CH_STREAM_FD };
	struct ch_stream *s2;

	d->up = 1;
	if (ch_xport_role(x) != CH_XPORT_CLIENT)
		return;
	assert_int_equal(ch_xport_open(x, &req, d->use_eof_cb ? &cb_eof
							      : &cb_noeof,
				       d, &d->s), CH_OK);
	/* one stream only */
	assert_int_equal(ch_xport_open(x, &req, &cb_eof, d, &s2),
			 CH_ERR_INVAL);
	assert_false(d->opened);	/* from the loop */
}

static void x_down(struct ch_xport *x, const char *why)
{
	struct side *d = ch_xport_owner(x);

	d->down = 1;
	if (d->why[0] == '\0')
		snprintf(d->why, sizeof(d->why), "%s", why);
}

static void x_closed(struct ch_xport *x)
{
	struct side *d = ch_xport_owner(x);

	d->xclosed = 1;
	d->x = NULL;
}

static const struct ch_xport_ops xops = {
	.up = x_up, .accept = x_accept, .down = x_down, .closed = x_closed,
};

static int each_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	loopguard_init(&f->guard, &f->loop, GUARD_MS);
	f->cli.order_ok = f->srv.order_ok = 1;
	F = f;
	*state = f;
	return 0;
}

static int each_teardown(void **state)
{
	struct fx *f = *state;

	xport_pair_close(&f->guard, &f->loop, &f->cli.x, &f->srv.x);
	loopguard_close(&f->guard);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void start_both(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ch_xport_fd_start(&F->loop, sv[0], CH_XPORT_SERVER,
					   NULL, &xops, &F->srv, &F->srv.x),
			 CH_OK);
	assert_int_equal(ch_xport_fd_start(&F->loop, sv[1], CH_XPORT_CLIENT,
					   NULL, &xops, &F->cli, &F->cli.x),
			 CH_OK);
	assert_false(F->srv.up || F->cli.up);	/* from the loop */
	RUN_UNTIL(F->cli.opened && F->srv.s);
	assert_string_equal(ch_xport_name(F->cli.x), "fd");
	assert_int_equal(ch_xport_keepalive(F->cli.x, 1000, 3), CH_ERR_INVAL);
	assert_null(ch_xport_tls(F->cli.x));
}

static void fill_big(void)
{
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i & 0xff);
}

/* ---- tests ---- */

static void test_queue_bound(void **state)
{
	size_t pend;

	(void)state;
	fill_big();
	start_both();
	ch_stream_pause(F->cli.s, 1);
	assert_int_equal(ch_stream_write(F->srv.s, big, sizeof(big)), CH_OK);
	pend = ch_stream_pending(F->srv.s);
	assert_true(pend > 0 && pend <= CH_STREAM_OUT_MAX);
	/* one byte more than the room left: refused, nothing queued */
	assert_int_equal(ch_stream_write(F->srv.s, big,
					 CH_STREAM_OUT_MAX - pend + 1),
			 CH_ERR_LIMIT);
	assert_int_equal(ch_stream_pending(F->srv.s), pend);
	loop_spin(&F->loop, 10);
	assert_int_equal(F->cli.got, 0);	/* paused */
	ch_stream_pause(F->cli.s, 0);
	RUN_UNTIL(F->cli.got == sizeof(big) && F->srv.drained);
	assert_true(F->cli.order_ok);
	assert_int_equal(ch_stream_pending(F->srv.s), 0);
	assert_int_equal(ch_xport_rx_bytes(F->cli.x), sizeof(big));
}

static void test_pause_resume(void **state)
{
	(void)state;
	fill_big();
	start_both();
	ch_stream_pause(F->srv.s, 1);
	assert_int_equal(ch_stream_write(F->cli.s, big, 100000), CH_OK);
	RUN_UNTIL(ch_stream_pending(F->cli.s) == 0);
	loop_spin(&F->loop, 10);
	assert_int_equal(F->srv.got, 0);
	ch_stream_pause(F->srv.s, 0);
	RUN_UNTIL(F->srv.got == 100000);
	assert_true(F->srv.order_ok);
	/* pause in the middle of a flow, then resume */
	ch_stream_pause(F->srv.s, 1);
	assert_int_equal(ch_stream_write(F->cli.s, big + 100000 % 256, 1000),
			 CH_OK);
	loop_spin(&F->loop, 10);
	assert_int_equal(F->srv.got, 100000);
	ch_stream_pause(F->srv.s, 0);
	RUN_UNTIL(F->srv.got == 101000);
}

static void test_eof_both_ways(void **state)
{
	(void)state;
	fill_big();
	F->cli.use_eof_cb = F->srv.use_eof_cb = 1;
	start_both();
	assert_int_equal(ch_stream_write(F->cli.s, big, 5000), CH_OK);
	ch_stream_eof(F->cli.s);
	assert_int_equal(ch_stream_write(F->cli.s, big, 1), CH_ERR_CLOSED);
	RUN_UNTIL(F->srv.eofs == 1);
	assert_int_equal(F->srv.got, 5000);	/* data first, then EOF */
	/* the other way still works */
	assert_int_equal(ch_stream_write(F->srv.s, big, 7000), CH_OK);
	RUN_UNTIL(F->cli.got == 7000);
	assert_int_equal(F->srv.sclosed + F->cli.sclosed, 0);
	ch_stream_eof(F->srv.s);
	RUN_UNTIL(F->cli.eofs == 1 && F->cli.sclosed && F->srv.sclosed);
	RUN_UNTIL(F->cli.xclosed && F->srv.xclosed);
	assert_true(F->cli.down && F->srv.down);
}

/* No eof callback: the peer's EOF closes the stream, and the connection. */
static void test_eof_closes(void **state)
{
	(void)state;
	start_both();
	ch_stream_eof(F->cli.s);
	RUN_UNTIL(F->srv.sclosed && F->srv.xclosed);
	assert_string_equal(F->srv.why, "the peer sent EOF");
	RUN_UNTIL(F->cli.xclosed);
}

static void test_close_after_flush(void **state)
{
	(void)state;
	fill_big();
	start_both();
	ch_stream_pause(F->cli.s, 1);
	assert_int_equal(ch_stream_write(F->srv.s, big, 4 << 20), CH_OK);
	assert_true(ch_stream_pending(F->srv.s) > 0);
	ch_stream_close(F->srv.s, 0, "done here");
	assert_int_equal(ch_stream_write(F->srv.s, big, 1), CH_ERR_CLOSED);
	loop_spin(&F->loop, 10);
	assert_int_equal(F->srv.sclosed, 0);	/* waits for the queue */
	ch_stream_pause(F->cli.s, 0);
	RUN_UNTIL(F->srv.xclosed && F->cli.xclosed);
	assert_int_equal(F->cli.got, 4 << 20);
	assert_true(F->cli.order_ok);
	assert_string_equal(F->srv.why, "done here");
}

static void test_hard_close(void **state)
{
	(void)state;
	fill_big();
	start_both();
	ch_stream_pause(F->cli.s, 1);
	assert_int_equal(ch_stream_write(F->srv.s, big, 4 << 20), CH_OK);
	ch_stream_close(F->srv.s, 1, "cut");
	assert_int_equal(F->srv.sclosed, 0);	/* from the loop */
	RUN_UNTIL(F->srv.xclosed);
	assert_string_equal(F->srv.why, "cut");
	ch_stream_pause(F->cli.s, 0);
	RUN_UNTIL(F->cli.xclosed);
	assert_true(F->cli.got < (4u << 20));
}

static void test_refused(void **state)
{
	int sv[2];

	(void)state;
	F->srv.refuse = 1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ch_xport_fd_start(&F->loop, sv[0], CH_XPORT_SERVER,
					   NULL, &xops, &F->srv, &F->srv.x),
			 CH_OK);
	close(sv[1]);
	RUN_UNTIL(F->srv.xclosed);
	assert_true(F->srv.down);
	assert_int_equal(F->srv.sclosed, 0);	/* never taken */
	assert_string_equal(F->srv.why, "the stream was refused");
}

static void test_deadline(void **state)
{
	(void)state;
	start_both();
	ch_xport_deadline(F->srv.x, 50, "too slow");
	RUN_UNTIL(F->srv.xclosed && F->cli.xclosed);
	assert_string_equal(F->srv.why, "too slow");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, each_setup, each_teardown)
		T(test_queue_bound),
		T(test_pause_resume),
		T(test_eof_both_ways),
		T(test_eof_closes),
		T(test_close_after_flush),
		T(test_hard_close),
		T(test_refused),
		T(test_deadline),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
