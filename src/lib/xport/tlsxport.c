/* tlsxport.c - the TLS kind of ch_xport (xport.h), either role (the
 * context's), on top of ch_tls (tls.h): the handshake, the peer's
 * certificate to identify(), then the one CH_STREAM_TLS stream that is
 * the session itself (NETCONF over TLS, RFC 7589).
 *
 *   - server role: the stream is offered to accept() right after up()
 *     ({CH_STREAM_TLS, "netconf"}); refused, the connection closes;
 *   - client role: ch_xport_open(CH_STREAM_TLS) gives it, once;
 *   - a paused stream (or one nobody took yet) is not read: ch_tls stops
 *     watching the fd, the peer's bytes wait in the kernel;
 *   - closing the stream closes the connection (close_notify), after its
 *     queue for a non-hard close, at most CH_STREAM_CLOSE_FLUSH_MS;
 *   - ch_stream_eof: TLS has no half-close here, so it is a non-hard
 *     close;
 *   - the peer's close_notify or EOF: the stream's eof() (if set), then
 *     the connection ends (ch_tls stops the fd once a read failed: our
 *     queue gets one last try in ch_tls_close);
 *   - no keep-alives (OpenSSL 3 has no heartbeat): the owner sets
 *     ch_tls_tcp_keepalive on the fd before the start and probes at its
 *     own level.
 *
 * What must come from the loop (opened() in the client role, reads after
 * a resume) is the generic deferred work (ch_xport_kick, tlx_soon): the
 * session's own handles are all the kind has.
 *
 * A failed handshake ends the connection with the reason; the owner can
 * still read ch_xport_tls(x) (verify result, the peer's certificate) in
 * down().
 */
#include "lib/xport/xport_impl.h"

#include <string.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/xport/tls.h"

#define TLX_STREAM_NAME "netconf"

struct tlx {
	struct ch_tls t;		/* closed() of it ends the teardown */
	struct ch_xport *x;
	int rd_done;			/* the peer ended (or reading failed) */
	int flushing;			/* a non-hard close waits for out */
	int had_pending;		/* output was queued at the last look */
	uint64_t rx;
};

static struct tlx *tlx_of(const struct ch_xport *x)
{
	return x->impl_data;
}

static int can_read(const struct tlx *f)
{
	return ch_stream_may_read(f->x->one) && !f->rd_done &&
	       !f->x->closing;
}

static void update_read(struct tlx *f)
{
	if (!f->x->torn_down)
		ch_tls_pause(&f->t, !can_read(f));
}

/* The stream is done: closed() comes from the loop, and the connection
 * ends with it. */
static void stream_done(struct tlx *f)
{
	struct ch_stream *s = f->x->one;

	if (s == NULL)
		return;
	f->flushing = 0;
	ch_xport_one_gone(s, NULL);
}

static void read_all(struct tlx *f)
{
	char buf[CH_TLS_READ_CHUNK];
	size_t n;
	int r;

	while (can_read(f)) {
		struct ch_stream *s = f->x->one;

		r = ch_tls_read(&f->t, buf, sizeof(buf), &n);
		if (r == CH_ERR_AGAIN)
			return;
		if (r == CH_ERR_CLOSED) {
			f->rd_done = 1;
			update_read(f);
			ch_clog(CH_LOG_DEBUG, ch_stream_log(s), "%s",
				ch_tls_error(&f->t));
			if (s->cb->eof)
				s->cb->eof(s);
			ch_stream_close(s, 1, "the peer closed the TLS session");
			return;
		}
		if (r != CH_OK) {
			f->rd_done = 1;
			ch_xport_fail(f->x, "TLS", ch_tls_error(&f->t));
			return;
		}
		f->rx += n;
		if (s->cb->data)
			s->cb->data(s, buf, n);
	}
}

/* Output moved: drained(), or the end of a close's flush. */
static void check_pending(struct tlx *f)
{
	struct ch_stream *s = f->x->one;
	size_t p = ch_tls_pending(&f->t);

	if (s == NULL || p > 0) {
		f->had_pending = p > 0;
		return;
	}
	if (f->flushing) {
		stream_done(f);
		return;
	}
	if (f->had_pending && s->cb && s->cb->drained && !s->closing) {
		f->had_pending = 0;
		s->cb->drained(s);
	}
	f->had_pending = 0;
}

/* ---- ch_tls's callbacks ---- */

static void on_handshake(struct ch_tls *t, int status)
{
	static const struct ch_stream_req req = {
		.type = CH_STREAM_TLS, .name = TLX_STREAM_NAME,
	};
	struct tlx *f = t->data;
	struct ch_xport *x = f->x;
	struct ch_peer_id id = { .kind = CH_XPORT_TLS };
	const char *why = NULL;

	if (x->closing)
		return;
	if (status != CH_OK) {
		ch_xport_fail(x, "TLS handshake failed", ch_tls_error(t));
		return;
	}
	ch_clog(CH_LOG_DEBUG, x->log, "TLS handshake done: %s %s",
		ch_tls_version(t), ch_tls_cipher(t));
	id.cert = ch_tls_peer_cert(t);
	id.chain = ch_tls_verified_chain(t);
	if (ch_xport_identify(x, &id, &why) != CH_OK) {
		ch_xport_fail(x, why ? why : "peer refused", NULL);
		return;
	}
	ch_xport_set_up(x);
	if (!x->closing && x->role == CH_XPORT_SERVER)
		ch_xport_offer_one(x, &req);
	update_read(f);
}

static void on_io(struct ch_tls *t)
{
	struct tlx *f = t->data;

	if (f->x->torn_down)
		return;
	read_all(f);
	if (!f->x->closing)
		check_pending(f);
	update_read(f);
}

static void on_expired(struct ch_tls *t, const char *why)
{
	struct tlx *f = t->data;

	ch_xport_fail(f->x, why ? why : "deadline passed", NULL);
}

/* The session's handles are closed (the fd too): the last of the kind. */
static void on_tls_closed(struct ch_tls *t)
{
	struct tlx *f = t->data;

	ch_xport_finish(f->x);	/* frees f with x, from the loop */
}

static const struct ch_tls_cb tlx_tls_cb = {
	.handshake = on_handshake,
	.io = on_io,
	.expired = on_expired,
	.closed = on_tls_closed,
};

/* ---- the kind's operations ---- */

/* From the loop, after a due opened() or a resume: OpenSSL may hold what
 * the fd will not signal. */
static void tlx_soon(struct ch_xport *x)
{
	struct tlx *f = tlx_of(x);

	if (x->closing)
		return;
	read_all(f);
	update_read(f);
}

static void tlx_deadline(struct ch_xport *x, uint64_t ms, const char *why)
{
	struct tlx *f = tlx_of(x);

	if (!f->flushing && !x->torn_down)
		ch_tls_deadline(&f->t, ms, why);
}

static int tlx_open(struct ch_xport *x, struct ch_stream *s)
{
	return ch_xport_open_one(x, s, CH_STREAM_TLS);
}

static int tlx_write(struct ch_stream *s, const void *p, size_t n)
{
	struct tlx *f = tlx_of(s->x);
	int r;

	if (s->open_due)
		return CH_ERR_INVAL;	/* not open yet */
	r = ch_tls_write(&f->t, p, n);
	if (ch_tls_pending(&f->t))
		f->had_pending = 1;
	switch (r) {
	case CH_OK:
	case CH_ERR_LIMIT:
	case CH_ERR_NOMEM:
		return r;
	default:
		return CH_ERR_CLOSED;	/* io() reports the failure */
	}
}

static size_t tlx_pending(const struct ch_stream *s)
{
	return ch_tls_pending(&tlx_of(s->x)->t);
}

static void tlx_pause(struct ch_stream *s, int paused)
{
	update_read(tlx_of(s->x));
	if (!paused)
		ch_xport_kick(s->x);	/* tlx_soon reads what waits */
}

static void tlx_stream_close(struct ch_stream *s, int hard)
{
	struct tlx *f = tlx_of(s->x);

	update_read(f);		/* nothing more is delivered */
	if (hard || f->rd_done || ch_tls_pending(&f->t) == 0) {
		stream_done(f);
		return;
	}
	f->flushing = 1;
	ch_tls_deadline(&f->t, CH_STREAM_CLOSE_FLUSH_MS,
			"the peer did not read the last output in time");
}

static void tlx_eof(struct ch_stream *s)
{
	/* No half-close on a TLS session: the end, after the queue. */
	ch_stream_close(s, 0, "EOF sent");
}

static void tlx_teardown(struct ch_xport *x)
{
	struct tlx *f = tlx_of(x);

	ch_tls_close(&f->t);	/* close_notify unless it failed; then
				 * on_tls_closed */
}

static uint64_t tlx_rx_bytes(const struct ch_xport *x)
{
	return tlx_of(x)->rx;
}

static struct ch_tls *tlx_tls(const struct ch_xport *x)
{
	return &tlx_of(x)->t;
}

static const struct ch_xport_impl tls_impl = {
	.name = "tls",
	.kind = CH_XPORT_TLS,
	.deadline = tlx_deadline,
	.keepalive = NULL,	/* no heartbeat in OpenSSL 3 */
	.open = tlx_open,
	.write = tlx_write,
	.pending = tlx_pending,
	.pause = tlx_pause,
	.eof = tlx_eof,
	.exit_status = NULL,
	.stream_close = tlx_stream_close,
	.teardown = tlx_teardown,
	.rx_bytes = tlx_rx_bytes,
	.soon = tlx_soon,
	.tls = tlx_tls,
};

int ch_xport_tls_start(uv_loop_t *loop, int fd, const struct ch_xport_opts *o,
		       const struct ch_xport_ops *ops, void *owner,
		       struct ch_xport **out)
{
	struct ch_xport *x;
	struct tlx *f;
	enum ch_xport_role role;
	int r;

	*out = NULL;
	if (o == NULL || o->tls == NULL) {
		close(fd);
		return CH_ERR_INVAL;
	}
	role = ch_tls_ctx_role(o->tls) == CH_TLS_SERVER ? CH_XPORT_SERVER
							: CH_XPORT_CLIENT;
	if ((f = ch_xport_new(loop, fd, &tls_impl, role, o, ops, owner,
			      sizeof(*f), &x)) == NULL)
		return CH_ERR_NOMEM;
	f->x = x;
	if ((r = ch_tls_start(&f->t, loop, o->tls, fd, &tlx_tls_cb, f))
	    != CH_OK) {
		close(fd);	/* still ours after a failed ch_tls_start */
		ch_xport_abort(x);	/* frees f too */
		return r;
	}
	ch_tls_deadline(&f->t, CH_TLS_HANDSHAKE_TIMEOUT_MS,
			"the TLS handshake did not finish in time");
	*out = x;
	return CH_OK;
}
