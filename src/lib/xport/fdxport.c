/* fdxport.c - the plain-fd kind of ch_xport (xport.h): a connected
 * socket or pipe, no handshake, no identity, one CH_STREAM_FD stream.
 * For tests (a socketpair stands in for SSH or TLS) and local relays.
 *
 * One uv_poll_t watches the fd: readable while the stream is taken, not
 * paused and not closing (so a paused stream leaves the bytes in the
 * kernel: TCP backpressure); writable while output is queued. What must
 * come from the loop (up(); opened() in the client role) is the generic
 * deferred work (ch_xport_kick, fdx_soon); a timer is the stage deadline
 * and bounds a close's flush.
 */
#include "lib/xport/xport_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

/* Reads per wake-up before the loop serves the others (level-triggered
 * poll: the rest comes on the next turn). */
#define FDX_READS_PER_WAKE 16

struct fdx {
	struct ch_xport *x;
	int fd;
	uv_poll_t poll;
	uv_timer_t deadline;
	int handles;			/* still open */
	int events;			/* armed on poll */
	const char *deadline_why;
	struct ch_buf out;		/* bounded by CH_STREAM_OUT_MAX */
	int rd_eof;			/* the peer's EOF was seen */
	int eof_want;			/* ch_stream_eof: shut down after flush */
	int eof_sent;
	int flushing;			/* a non-hard close waits for out */
	int failed;			/* the fd failed: no more I/O */
	uint64_t rx;
};

static void on_poll(uv_poll_t *p, int status, int events);

static struct fdx *fdx_of(const struct ch_xport *x)
{
	return x->impl_data;
}

static void rearm(struct fdx *f)
{
	const struct ch_stream *s = f->x->one;	/* the stream, if any */
	int want = 0;

	if (f->x->torn_down)
		return;
	if (!f->failed) {
		if (ch_stream_may_read(s) && !f->rd_eof)
			want |= UV_READABLE;
		if (ch_buf_len(&f->out))
			want |= UV_WRITABLE;
	}
	if (want == f->events)
		return;
	f->events = want;
	if (want)
		uv_poll_start(&f->poll, want, on_poll);
	else
		uv_poll_stop(&f->poll);
}

/* The stream is done: closed() comes from the loop, and with it the
 * connection ends (a fd carries one stream). */
static void stream_done(struct fdx *f, const char *why)
{
	struct ch_stream *s = f->x->one;

	if (s == NULL)
		return;
	f->flushing = 0;
	ch_buf_reset(&f->out);
	ch_xport_one_gone(s, why);	/* NULL keeps the close's own */
	rearm(f);
}

/* After the queue moved: drained(), a pending shutdown or close. */
static void after_flush(struct fdx *f, int was_pending)
{
	struct ch_stream *s = f->x->one;

	if (s == NULL || ch_buf_len(&f->out))
		return;
	if (f->flushing) {
		stream_done(f, NULL);
		return;
	}
	if (f->eof_want && !f->eof_sent) {
		f->eof_sent = 1;
		shutdown(f->fd, SHUT_WR);
	}
	if (was_pending && s->cb && s->cb->drained && !s->closing)
		s->cb->drained(s);
	/* Both ways ended: nothing more can happen on the stream. */
	if (f->eof_sent && f->rd_eof && !s->closing)
		stream_done(f, "both sides sent EOF");
}

/* Writes what the socket takes. CH_OK, or CH_ERR_IO (the fd failed). */
static int write_out(struct fdx *f, const char *p, size_t n, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t w = write(f->fd, p + *done, n - *done);

		if (w > 0) {
			*done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return CH_OK;
		return CH_ERR_IO;
	}
	return CH_OK;
}

static void fail_io(struct fdx *f, const char *what, int err)
{
	f->failed = 1;
	ch_buf_reset(&f->out);
	rearm(f);
	ch_xport_fail(f->x, what, err ? strerror(err) : NULL);
}

static void do_write(struct fdx *f)
{
	size_t done, before = ch_buf_len(&f->out);

	if (before == 0)
		return;
	if (write_out(f, ch_buf_ptr(&f->out), before, &done) != CH_OK) {
		fail_io(f, "write", errno);
		return;
	}
	ch_buf_consume(&f->out, done);
	after_flush(f, 1);
}

static void do_read(struct fdx *f)
{
	char buf[CH_STREAM_READ_CHUNK];

	for (int i = 0; i < FDX_READS_PER_WAKE; i++) {
		struct ch_stream *s = f->x->one;
		ssize_t n;

		if (!ch_stream_may_read(s) || f->rd_eof || f->failed ||
		    f->x->closing)
			return;
		n = read(f->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			fail_io(f, "read", errno);
			return;
		}
		if (n == 0) {
			f->rd_eof = 1;
			rearm(f);
			if (s->cb->eof) {
				s->cb->eof(s);
				after_flush(f, 0);
			} else {
				ch_stream_close(s, 0, "the peer sent EOF");
			}
			return;
		}
		f->rx += (uint64_t)n;
		if (s->cb->data)
			s->cb->data(s, buf, (size_t)n);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct fdx *f = p->data;

	if (status < 0) {
		f->failed = 1;
		rearm(f);
		ch_xport_fail(f->x, "socket", uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE)
		do_write(f);
	if (events & UV_READABLE)
		do_read(f);
	rearm(f);
}

static void on_deadline(uv_timer_t *t)
{
	struct fdx *f = t->data;

	ch_xport_fail(f->x, f->deadline_why ? f->deadline_why
					    : "deadline passed", NULL);
}

/* ---- the kind's operations ---- */

/* From the loop, after the start: up(), then (server role) the stream is
 * offered. Afterwards: reading starts once a due opened() was told. */
static void fdx_soon(struct ch_xport *x)
{
	static const struct ch_stream_req req = { .type = CH_STREAM_FD };
	struct fdx *f = fdx_of(x);

	if (x->closing)
		return;
	if (!x->up) {
		ch_xport_set_up(x);
		if (!x->closing && x->role == CH_XPORT_SERVER)
			ch_xport_offer_one(x, &req);
	}
	rearm(f);
}

static void fdx_deadline(struct ch_xport *x, uint64_t ms, const char *why)
{
	struct fdx *f = fdx_of(x);

	if (f->flushing || x->torn_down)
		return;		/* the close's own bound holds */
	f->deadline_why = why;
	if (ms)
		uv_timer_start(&f->deadline, on_deadline, ms, 0);
	else
		uv_timer_stop(&f->deadline);
}

static int fdx_open(struct ch_xport *x, struct ch_stream *s)
{
	return ch_xport_open_one(x, s, CH_STREAM_FD);
}

static int fdx_write(struct ch_stream *s, const void *p, size_t n)
{
	struct fdx *f = fdx_of(s->x);
	size_t done = 0;

	if (f->failed || f->eof_want)
		return CH_ERR_CLOSED;
	if (n > CH_STREAM_OUT_MAX - ch_buf_len(&f->out))
		return CH_ERR_LIMIT;
	if (ch_buf_len(&f->out) == 0 &&
	    write_out(f, p, n, &done) != CH_OK) {
		/* told from the loop: the poll sees the dead fd */
		f->failed = 1;
		uv_timer_start(&f->deadline, on_deadline, 0, 0);
		f->deadline_why = "write failed";
		return CH_ERR_IO;
	}
	if (done < n && ch_buf_put(&f->out, (const char *)p + done,
				   n - done) != CH_OK)
		return CH_ERR_NOMEM;
	rearm(f);
	return CH_OK;
}

static size_t fdx_pending(const struct ch_stream *s)
{
	return ch_buf_len(&fdx_of(s->x)->out);
}

static void fdx_pause(struct ch_stream *s, int paused)
{
	/* Resuming needs no kick: the poll is level-triggered, and what
	 * waits is still in the kernel. */
	(void)paused;
	rearm(fdx_of(s->x));
}

static void fdx_eof(struct ch_stream *s)
{
	struct fdx *f = fdx_of(s->x);

	if (f->eof_want)
		return;
	f->eof_want = 1;
	if (ch_buf_len(&f->out) == 0) {
		f->eof_sent = 1;
		shutdown(f->fd, SHUT_WR);
		if (f->rd_eof) {	/* both ways ended: from the loop */
			f->deadline_why = "both sides sent EOF";
			f->flushing = 1;
			uv_timer_start(&f->deadline, on_deadline, 0, 0);
		}
	}
}

static void fdx_stream_close(struct ch_stream *s, int hard)
{
	struct fdx *f = fdx_of(s->x);

	if (hard || f->failed || ch_buf_len(&f->out) == 0) {
		stream_done(f, NULL);
		return;
	}
	f->flushing = 1;
	f->deadline_why = "the peer did not read the last output in time";
	uv_timer_start(&f->deadline, on_deadline, CH_STREAM_CLOSE_FLUSH_MS, 0);
	rearm(f);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct fdx *f = h->data;

	if (--f->handles > 0)
		return;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	ch_buf_cleanup(&f->out);
	ch_xport_finish(f->x);	/* frees f with x, from the loop */
}

static void fdx_teardown(struct ch_xport *x)
{
	struct fdx *f = fdx_of(x);

	f->events = 0;
	uv_close((uv_handle_t *)&f->poll, on_handle_closed);
	uv_close((uv_handle_t *)&f->deadline, on_handle_closed);
}

static uint64_t fdx_rx_bytes(const struct ch_xport *x)
{
	return fdx_of(x)->rx;
}

static const struct ch_xport_impl fd_impl = {
	.name = "fd",
	.kind = CH_XPORT_FD,
	.deadline = fdx_deadline,
	.keepalive = NULL,
	.open = fdx_open,
	.write = fdx_write,
	.pending = fdx_pending,
	.pause = fdx_pause,
	.eof = fdx_eof,
	.exit_status = NULL,
	.stream_close = fdx_stream_close,
	.teardown = fdx_teardown,
	.rx_bytes = fdx_rx_bytes,
	.soon = fdx_soon,
};

int ch_xport_fd_start(uv_loop_t *loop, int fd, enum ch_xport_role role,
		      const struct ch_xport_opts *o,
		      const struct ch_xport_ops *ops, void *owner,
		      struct ch_xport **out)
{
	struct ch_xport *x;
	struct fdx *f;
	int fl;

	*out = NULL;
	if ((f = ch_xport_new(loop, fd, &fd_impl, role, o, ops, owner,
			      sizeof(*f), &x)) == NULL)
		return CH_ERR_NOMEM;
	f->x = x;
	f->fd = fd;
	ch_buf_init(&f->out, CH_STREAM_OUT_MAX);
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    uv_poll_init(loop, &f->poll, fd) != 0) {
		ch_clog(CH_LOG_ERROR, x->log, "cannot watch fd %d", fd);
		close(fd);
		ch_xport_abort(x);	/* frees f too */
		return CH_ERR_IO;
	}
	uv_timer_init(loop, &f->deadline);
	f->poll.data = f->deadline.data = f;
	f->handles = 2;
	ch_xport_kick(x);	/* up() from the loop: fdx_soon */
	*out = x;
	return CH_OK;
}
