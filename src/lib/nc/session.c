/* session.c - one NETCONF session on a ch_stream (see session.h). */
#include "lib/nc/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/frame.h"

#define CLOSE_SESSION_OP "<close-session/>"

struct pending {
	uint32_t message_id;
	uint64_t sent_ms;
	ch_ncs_done done;		/* NULL: our own close-session */
	void *ctx;
	struct pending *next;
};

struct ch_ncs {
	uv_loop_t *loop;
	struct ch_stream *stream;	/* NULL once it is gone */
	struct ch_nc *nc;
	enum ch_nc_role role;
	uint32_t session_id;
	const struct ch_ncs_ops *ops;
	void *ctx;
	size_t max_msg;
	uint64_t hello_ms, rpc_ms;
	size_t max_pending;
	char *peer;			/* how reasons name the peer */
	uv_timer_t timer;		/* start, hello deadline, rpc timeout */
	int started;			/* our hello went out */
	int opening;			/* client: waiting for opened() */
	int established;
	int bad_hello;
	int ending;			/* the end began: nothing is read */
	int graceful;
	int closing_session;		/* our close-session is pending */
	int ended;			/* ended() was called */
	uint32_t next_message_id;
	struct pending *pending;	/* oldest first */
	struct pending **tail;
	size_t npending;
	/* allocated when the end comes: idle sessions carry no buffers */
	char *why;
	const char *close_why;		/* ch_ncs_close_session's (static) */
};

static void on_timer(uv_timer_t *t);

/* ---- the end ---- */

static const struct ch_logctx *slog(const struct ch_ncs *s)
{
	static const struct ch_logctx none = { 0 };

	return s->stream ? ch_stream_log(s->stream) : &none;
}

static void ncs_free(struct ch_ncs *s)
{
	ch_nc_free(s->nc);
	free(s->peer);
	free(s->why);
	free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
	ncs_free(h->data);
}

/* The reason, cut to CH_NCS_WHY_MAX; a failed copy reads as "". */
static void set_why(struct ch_ncs *s, const char *why)
{
	free(s->why);
	s->why = ch_strndup(why, CH_NCS_WHY_MAX);
}

static const char *why_of(const struct ch_ncs *s)
{
	return s->why ? s->why : "";
}

/* Starts the end: records why (the first reason wins) and closes the
 * stream; the rest comes with the stream's closed(). */
static void end(struct ch_ncs *s, int hard, int graceful, const char *why)
{
	if (s->ending)
		return;
	s->ending = 1;
	s->graceful = graceful;
	set_why(s, why);
	uv_timer_stop(&s->timer);
	if (s->stream)
		ch_stream_close(s->stream, hard, why_of(s));
}

static void endf(struct ch_ncs *s, int hard, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void endf(struct ch_ncs *s, int hard, const char *fmt, ...)
{
	char why[CH_NCS_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	end(s, hard, 0, why);
}

/* The stream is gone: fail what is pending, tell the owner, free. */
static void finish(struct ch_ncs *s, const char *stream_why)
{
	struct pending *p;

	s->stream = NULL;
	if (!s->ending) {
		s->ending = 1;
		set_why(s, stream_why ? stream_why : "closed");
	}
	uv_timer_stop(&s->timer);
	while ((p = s->pending) != NULL) {
		s->pending = p->next;
		s->npending--;
		if (p->done)
			p->done(p->ctx, CH_ERR_CLOSED, NULL, 0, why_of(s));
		free(p);
	}
	s->tail = &s->pending;
	s->ended = 1;
	if (s->ops->ended)
		s->ops->ended(s->ctx, why_of(s), s->graceful);
	uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

/* ---- ncproto's side ---- */

static int nc_send(void *ctx, const char *data, size_t len)
{
	struct ch_ncs *s = ctx;

	if (s->stream == NULL)
		return CH_ERR_CLOSED;
	return ch_stream_write(s->stream, data, len);
}

static void arm_rpc_timer(struct ch_ncs *s)
{
	uint64_t now, due;

	if (s->ending)
		return;
	if (s->pending == NULL) {
		uv_timer_stop(&s->timer);
		return;
	}
	now = uv_now(s->loop);
	due = s->pending->sent_ms + (s->pending->done ? s->rpc_ms
						      : CH_NCS_CLOSE_WAIT_MS);
	if (s->pending->done && s->rpc_ms == 0) {
		uv_timer_stop(&s->timer);
		return;
	}
	uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

static void nc_hello(void *ctx, const struct ch_hello *peer)
{
	struct ch_ncs *s = ctx;

	s->established = 1;
	if (s->role == CH_NC_CLIENT)
		s->session_id = peer->session_id;
	uv_timer_stop(&s->timer);	/* the hello deadline */
	ch_clog(CH_LOG_DEBUG, slog(s), "session-id=%u hello done (%zu "
		"capabilities, %s)", s->session_id, peer->ncaps,
		ch_nc_chunked(s->nc) ? "base:1.1" : "base:1.0");
	if (s->ops->hello)
		s->ops->hello(s->ctx, peer);
}

/* Client role: a reply to a pending rpc, or something else. */
static int client_message(struct ch_ncs *s, const char *msg, size_t len)
{
	struct pending *p, **pp;
	struct ch_reply rep;
	unsigned long id = 0;
	char *endp = NULL;

	if (ch_reply_parse(msg, len, &rep) == CH_OK && rep.message_id) {
		id = strtoul(rep.message_id, &endp, 10);
		if (endp != rep.message_id && *endp == '\0' &&
		    id <= UINT32_MAX) {
			for (pp = &s->pending; (p = *pp) != NULL;
			     pp = &p->next)
				if (p->message_id == (uint32_t)id)
					break;
		} else {
			p = NULL;
		}
		ch_reply_cleanup(&rep);
		if (p != NULL) {
			*pp = p->next;
			if (s->tail == &p->next)
				s->tail = pp;
			s->npending--;
			arm_rpc_timer(s);
			if (p->done) {
				p->done(p->ctx, CH_OK, msg, len, NULL);
			} else {	/* our close-session was answered */
				s->closing_session = 0;
				end(s, 0, 1, s->close_why);
			}
			free(p);
			return s->ending ? CH_ERR_CLOSED : CH_OK;
		}
	} else {
		ch_reply_cleanup(&rep);
	}
	if (s->ops->on_other)
		s->ops->on_other(s->ctx, msg, len);
	else
		ch_clog(CH_LOG_DEBUG, slog(s), "ignored a message that "
			"answers no pending rpc (%zu bytes)", len);
	return s->ending ? CH_ERR_CLOSED : CH_OK;
}

static int nc_message(void *ctx, const char *msg, size_t len)
{
	struct ch_ncs *s = ctx;
	int r;

	if (s->ending)
		return CH_ERR_CLOSED;
	if (s->role == CH_NC_CLIENT)
		return client_message(s, msg, len);
	r = s->ops->on_rpc ? s->ops->on_rpc(s->ctx, msg, len) : CH_ERR_INVAL;
	if (r == CH_ERR_CLOSED) {
		end(s, 0, 1, "closed by close-session");
		return r;
	}
	if (r != CH_OK && !s->ending)
		endf(s, 1, "cannot serve an rpc: %s", ch_strerror(r));
	return s->ending ? CH_ERR_CLOSED : CH_OK;
}

static const struct ch_nc_ops ncs_nc_ops = {
	.send = nc_send,
	.on_hello = nc_hello,
	.on_message = nc_message,
};

/* ---- the start ---- */

static void start(struct ch_ncs *s)
{
	int r;

	if (s->started || s->ending)
		return;
	s->started = 1;
	if ((r = ch_nc_start(s->nc)) != CH_OK) {
		endf(s, 1, "cannot send our hello: %s", ch_strerror(r));
		return;
	}
	uv_timer_start(&s->timer, on_timer, s->hello_ms, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct ch_ncs *s = t->data;
	uint64_t now = uv_now(s->loop);

	if (s->ending)
		return;
	if (!s->started) {
		start(s);
		return;
	}
	if (!ch_nc_ready(s->nc)) {
		/* RFC 6241 8.1 gives no timeout; an unbounded wait would pin
		 * the stream for ever */
		ch_clog(CH_LOG_WARN, slog(s), "session-id=%u: %s sent no NETCONF "
			"hello in time", s->session_id, s->peer);
		endf(s, 1, "%s sent no NETCONF hello in time", s->peer);
		return;
	}
	if (s->pending == NULL)
		return;
	if (s->pending->done == NULL &&
	    now - s->pending->sent_ms >= CH_NCS_CLOSE_WAIT_MS) {
		endf(s, 1, "%s did not answer close-session in time",
		     s->peer);
		return;
	}
	if (s->pending->done && s->rpc_ms &&
	    now - s->pending->sent_ms >= s->rpc_ms) {
		ch_clog(CH_LOG_WARN, slog(s), "no reply to message-id=%u "
			"within %llu ms", s->pending->message_id,
			(unsigned long long)s->rpc_ms);
		endf(s, 1, "%s did not answer an rpc in time", s->peer);
		return;
	}
	arm_rpc_timer(s);
}

/* ---- the stream's side ---- */

static void st_opened(struct ch_stream *st, int status, const char *why)
{
	struct ch_ncs *s = ch_stream_ctx(st);

	s->opening = 0;
	if (status != CH_OK) {
		endf(s, 1, "the stream was refused%s%s", why ? ": " : "",
		     why ? why : "");
		return;
	}
	start(s);
}

static void st_data(struct ch_stream *st, const char *p, size_t n)
{
	struct ch_ncs *s = ch_stream_ctx(st);
	int r;

	if (s->ending)
		return;		/* nothing after the end began */
	start(s);		/* our hello goes before any answer */
	if (s->ending)
		return;
	r = ch_nc_input(s->nc, p, n);
	if (r == CH_OK || s->ending)
		return;
	if (!ch_nc_ready(s->nc))
		s->bad_hello = 1;
	ch_clog(CH_LOG_WARN, slog(s), "session-id=%u: %s", s->session_id,
		ch_nc_error(s->nc)[0] ? ch_nc_error(s->nc) : ch_strerror(r));
	endf(s, 1, "%s from %s: %s", r == CH_ERR_LIMIT ? "over a limit"
		: "NETCONF protocol error", s->peer,
	     ch_nc_error(s->nc)[0] ? ch_nc_error(s->nc) : ch_strerror(r));
}

static void st_eof(struct ch_stream *st)
{
	struct ch_ncs *s = ch_stream_ctx(st);

	if (s->ending)
		return;
	endf(s, 0, "%s closed the session%s", s->peer,
	     s->established ? "" : " before hello");
}

static void st_closed(struct ch_stream *st, const char *why)
{
	finish(ch_stream_ctx(st), why);
}

static const struct ch_stream_cb ncs_stream_cb = {
	.opened = st_opened,
	.data = st_data,
	.eof = st_eof,
	.closed = st_closed,
};

/* ---- the API ---- */

static int make(const struct ch_ncs_opts *o, const struct ch_ncs_ops *ops,
		void *ctx, struct ch_ncs **out)
{
	struct ch_ncs *s = NULL;
	int r = CH_ERR_INVAL;

	*out = NULL;
	if (o == NULL || o->loop == NULL || ops == NULL ||
	    (o->role == CH_NC_SERVER && (o->session_id == 0 ||
					 ops->on_rpc == NULL)))
		goto out;
	r = CH_ERR_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->loop = o->loop;
	s->role = o->role;
	s->session_id = o->role == CH_NC_SERVER ? o->session_id : 0;
	s->ops = ops;
	s->ctx = ctx;
	s->max_msg = o->max_msg;
	s->hello_ms = o->hello_timeout_ms ? o->hello_timeout_ms
					  : CH_NC_HELLO_TIMEOUT_MS;
	s->rpc_ms = o->rpc_timeout_ms;
	s->max_pending = o->max_pending ? o->max_pending : CH_NCS_MAX_PENDING;
	if ((s->peer = strdup(o->peer_name ? o->peer_name : "the peer"))
	    == NULL)
		goto out;
	s->next_message_id = 1;
	s->tail = &s->pending;
	if ((s->nc = ch_nc_new(o->role, o->session_id, o->caps, o->ncaps,
			       o->max_msg, &ncs_nc_ops, s)) == NULL)
		goto out;
	if (uv_timer_init(o->loop, &s->timer) != 0) {
		r = CH_ERR_IO;
		goto out;
	}
	s->timer.data = s;
	*out = s;
	s = NULL;	/* transferred */
	r = CH_OK;
out:
	if (s) {
		ncs_free(s);
	}
	return r;
}

int ch_ncs_new(struct ch_stream *stream, const struct ch_ncs_opts *o,
	       const struct ch_ncs_ops *ops, void *ctx, struct ch_ncs **out)
{
	struct ch_ncs *s;
	int r;

	*out = NULL;
	if (stream == NULL)
		return CH_ERR_INVAL;
	if ((r = make(o, ops, ctx, &s)) != CH_OK)
		return r;
	s->stream = stream;
	ch_stream_set_cb(stream, &ncs_stream_cb, s);
	/* Our hello goes out from the loop (or before the first input):
	 * never from inside the owner's call. */
	uv_timer_start(&s->timer, on_timer, 0, 0);
	*out = s;
	return CH_OK;
}

int ch_ncs_open(struct ch_xport *x, const struct ch_stream_req *req,
		const struct ch_ncs_opts *o, const struct ch_ncs_ops *ops,
		void *ctx, struct ch_ncs **out)
{
	struct ch_ncs *s;
	int r;

	*out = NULL;
	if (o && o->role != CH_NC_CLIENT)
		return CH_ERR_INVAL;
	if ((r = make(o, ops, ctx, &s)) != CH_OK)
		return r;
	s->opening = 1;
	if ((r = ch_xport_open(x, req, &ncs_stream_cb, s, &s->stream))
	    != CH_OK) {
		/* the timer handle is closed from the loop; no ended() */
		uv_close((uv_handle_t *)&s->timer, on_timer_closed);
		return r;
	}
	*out = s;
	return CH_OK;
}

/* done NULL: our own close-session. */
static int send_rpc(struct ch_ncs *s, const char *op_xml, ch_ncs_done done,
		    void *ctx, uint32_t *id, const char **why)
{
	struct pending *p = NULL;
	struct ch_buf msg;
	int r;

	*why = NULL;
	if (id)
		*id = 0;
	ch_buf_init(&msg, s->max_msg ? s->max_msg : CH_FRAME_MAX_MSG_DEFAULT);
	if (s->role != CH_NC_CLIENT) {
		*why = "only a NETCONF client sends rpcs";
		r = CH_ERR_INVAL;
		goto out;
	}
	if (!ch_ncs_ready(s) || s->closing_session) {
		*why = "the NETCONF session is not up";
		r = CH_ERR_CLOSED;
		goto out;
	}
	if (s->npending >= s->max_pending) {
		*why = "too many rpcs outstanding on this session";
		r = CH_ERR_LIMIT;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		*why = "out of memory";
		r = CH_ERR_NOMEM;
		goto out;
	}
	p->message_id = s->next_message_id++;
	if ((r = ch_rpc_build(&msg, p->message_id, op_xml, why)) != CH_OK)
		goto out;
	if ((r = ch_nc_send(s->nc, ch_buf_ptr(&msg), ch_buf_len(&msg)))
	    != CH_OK) {
		*why = r == CH_ERR_LIMIT ? "the connection cannot take more "
					   "data" : "the connection failed";
		goto out;
	}
	p->sent_ms = uv_now(s->loop);
	p->done = done;
	p->ctx = ctx;
	*s->tail = p;
	s->tail = &p->next;
	if (s->npending++ == 0)
		arm_rpc_timer(s);
	if (id)
		*id = p->message_id;
	ch_clog(CH_LOG_DEBUG, slog(s), "sent message-id=%u", p->message_id);
	p = NULL;	/* transferred */
out:
	if (r != CH_OK && *why == NULL)
		*why = ch_strerror(r);
	free(p);
	ch_buf_cleanup(&msg);
	return r;
}

int ch_ncs_rpc(struct ch_ncs *s, const char *op_xml, ch_ncs_done done,
	       void *ctx, uint32_t *id, const char **why)
{
	if (done == NULL || op_xml == NULL) {
		*why = "no operation or no callback";
		if (id)
			*id = 0;
		return CH_ERR_INVAL;
	}
	return send_rpc(s, op_xml, done, ctx, id, why);
}

int ch_ncs_send(struct ch_ncs *s, const char *msg, size_t len)
{
	if (!ch_ncs_ready(s))
		return CH_ERR_CLOSED;
	return ch_nc_send(s->nc, msg, len);
}

int ch_ncs_close_session(struct ch_ncs *s, const char *why)
{
	const char *ignored;
	int r;

	if (s->role != CH_NC_CLIENT)
		return CH_ERR_INVAL;
	if (!ch_ncs_ready(s) || s->closing_session)
		return CH_ERR_CLOSED;
	/* The pending cap does not hold a polite end back. */
	s->max_pending++;
	r = send_rpc(s, CLOSE_SESSION_OP, NULL, NULL, NULL, &ignored);
	s->max_pending--;
	if (r != CH_OK)
		return r;
	s->closing_session = 1;
	s->close_why = why ? why : "closed with close-session";
	arm_rpc_timer(s);
	return CH_OK;
}

void ch_ncs_close(struct ch_ncs *s, int hard, const char *why)
{
	end(s, hard, 0, why ? why : "closed");
}

int ch_ncs_ready(const struct ch_ncs *s)
{
	return !s->ending && ch_nc_ready(s->nc);
}

int ch_ncs_established(const struct ch_ncs *s) { return s->established; }
int ch_ncs_bad_hello(const struct ch_ncs *s) { return s->bad_hello; }
int ch_ncs_chunked(const struct ch_ncs *s) { return ch_nc_chunked(s->nc); }

const struct ch_hello *ch_ncs_peer_hello(const struct ch_ncs *s)
{
	return ch_nc_peer_hello(s->nc);
}

uint32_t ch_ncs_session_id(const struct ch_ncs *s) { return s->session_id; }
size_t ch_ncs_npending(const struct ch_ncs *s) { return s->npending; }
struct ch_nc *ch_ncs_nc(struct ch_ncs *s) { return s->nc; }
struct ch_stream *ch_ncs_stream(const struct ch_ncs *s) { return s->stream; }
