/* term.c - an operator's shell or exec on a device, between the device's
 * channel and the operator's connection (term.h).
 *
 * Life: term_start asks the device for the channel and claims the
 * control connection; opened() answers the request, the control socket
 * hands the connection over (on_handoff), then frames flow both ways
 * until the channel's closed(): the exit status and a close frame go
 * out, the connection is shut down (within CH_STREAM_CLOSE_FLUSH_MS) and
 * the term is freed once its handles are closed. The operator's
 * connection ending closes the channel at once (its processes are the
 * device's to end).
 *
 * The device's channel is paused until the connection is ours, and
 * whenever the operator's socket holds CH_TERM_CLI_HIGH unsent bytes.
 */
#include "hub/term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/device.h"
#include "hub/hub.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/core/streamframe.h"
#include "lib/xport/xport.h"

#define TERM_WHAT_MAX 80	/* "exec 'cmd...'" in logs and events */

struct term {
	struct hub *hub;
	struct term *prev, *next;
	unsigned id;
	char fp[CH_FP_LEN];		/* the device's registry key */
	char what[TERM_WHAT_MAX];
	int shell;
	int started;			/* the device took the channel */
	struct hub_ctl_req *req;	/* until answered */
	struct ch_stream *s;		/* NULL once closed() came */
	int stream_done;		/* closed() came, or never opened */
	int handoff_due;		/* the control socket owes on_handoff */
	uv_pipe_t pipe;			/* the operator's connection */
	uv_timer_t flush;		/* bounds the last frames' flush */
	uv_shutdown_t shut;
	int piped;			/* pipe and timer initialised */
	int handles;			/* of those, not yet closed */
	int reading;
	int ending;			/* the connection is going */
	int held;			/* channel paused for the operator */
	int eof_due;			/* the device's EOF, before handoff */
	int have_exit;
	int32_t exit_status;
	char exit_sig[CH_SFRAME_SIGNAL_MAX + 1];
	char why[CH_STREAM_WHY_MAX];
	uint64_t bytes_in, bytes_out;
	struct ch_buf in;		/* frames from the operator */
};

struct term_write {
	uv_write_t w;
	uint8_t data[];
};

static void pipe_end(struct term *t, int flush);

static void maybe_free(struct term *t)
{
	struct hub *hub = t->hub;

	if (!t->stream_done || t->handoff_due || t->handles > 0)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		hub->terms = t->next;
	if (t->next)
		t->next->prev = t->prev;
	hub->nterms--;
	ch_buf_cleanup(&t->in);
	free(t);
}

/* ---- to the operator ---- */

static size_t unsent(struct term *t)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&t->pipe);
}

static void cli_gone(struct term *t, const char *why)
{
	if (t->s) {
		ch_info("term=%u: %s; closing the %s", t->id, why,
			t->shell ? "shell" : "exec");
		ch_stream_close(t->s, 1, why);
	}
	pipe_end(t, 0);
}

static void write_cb(uv_write_t *w, int status)
{
	struct term *t = w->handle->data;

	free(w);
	if (status < 0) {
		if (!t->ending)
			cli_gone(t, "the operator's connection failed");
		return;
	}
	if (t->held && t->s && !t->ending && unsent(t) <= CH_TERM_CLI_LOW) {
		t->held = 0;
		ch_stream_pause(t->s, 0);
	}
}

static void send_frame(struct term *t, enum ch_sframe_type type,
		       const void *p, size_t n)
{
	struct term_write *w;

	if (!t->piped || t->ending)
		return;
	if ((w = malloc(sizeof(*w) + CH_SFRAME_HDR + n)) == NULL) {
		cli_gone(t, "out of memory");
		return;
	}
	ch_sframe_header(w->data, type, (uint32_t)n);
	memcpy(w->data + CH_SFRAME_HDR, p, n);
	uv_buf_t b = uv_buf_init((char *)w->data,
				 (unsigned)(CH_SFRAME_HDR + n));
	if (uv_write(&w->w, (uv_stream_t *)&t->pipe, &b, 1, write_cb) < 0) {
		free(w);
		cli_gone(t, "the operator's connection failed");
	}
}

/* The end of the channel: its exit status, then why it closed. */
static void send_end(struct term *t)
{
	uint8_t pl[4 + CH_SFRAME_SIGNAL_MAX];

	if (t->have_exit)
		send_frame(t, CH_SFRAME_EXIT, pl, ch_sframe_exit_put(pl,
			   t->exit_status, t->exit_sig[0] ? t->exit_sig
							  : NULL));
	send_frame(t, CH_SFRAME_CLOSE, t->why, strlen(t->why));
	pipe_end(t, 1);
}

/* ---- the operator's connection ---- */

static void on_handle_closed(uv_handle_t *h)
{
	struct term *t = h->data;

	t->handles--;
	maybe_free(t);
}

static void close_handles(struct term *t)
{
	if (!t->piped || uv_is_closing((uv_handle_t *)&t->pipe))
		return;
	uv_close((uv_handle_t *)&t->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&t->flush, on_handle_closed);
}

static void on_shut(uv_shutdown_t *sh, int status)
{
	(void)status;
	close_handles(sh->data);
}

static void on_flush_timeout(uv_timer_t *tm)
{
	close_handles(tm->data);
}

/* Stops reading; with flush, what is queued goes out first (bounded in
 * time: an operator who stopped reading does not hold the term). */
static void pipe_end(struct term *t, int flush)
{
	if (!t->piped || t->ending)
		return;
	t->ending = 1;
	if (t->reading)
		uv_read_stop((uv_stream_t *)&t->pipe);
	t->reading = 0;
	t->shut.data = t;
	if (flush && !t->hub->stopping &&
	    uv_shutdown(&t->shut, (uv_stream_t *)&t->pipe, on_shut) == 0) {
		uv_timer_start(&t->flush, on_flush_timeout,
			       CH_STREAM_CLOSE_FLUSH_MS, 0);
		return;
	}
	close_handles(t);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(CH_CTL_READ_CHUNK);
	buf->len = buf->base ? CH_CTL_READ_CHUNK : 0;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void read_update(struct term *t)
{
	int want = t->piped && !t->ending && t->s &&
		   ch_stream_pending(t->s) <= CH_TERM_DEV_HIGH;

	if (want && !t->reading) {
		if (uv_read_start((uv_stream_t *)&t->pipe, alloc_cb,
				  read_cb) < 0) {
			cli_gone(t, "cannot read the operator's connection");
			return;
		}
		t->reading = 1;
	} else if (!want && t->reading) {
		uv_read_stop((uv_stream_t *)&t->pipe);
		t->reading = 0;
	}
}

static void broken(struct term *t, const char *what)
{
	ch_log_rl(CH_LOG_WARN, "term=%u: the operator's client broke the "
		  "stream protocol: %s", t->id, what);
	snprintf(t->why, sizeof(t->why), "protocol error from the client: %s",
		 what);
	if (t->s)
		ch_stream_close(t->s, 1, t->why);
	send_frame(t, CH_SFRAME_CLOSE, t->why, strlen(t->why));
	pipe_end(t, 1);
}

static void on_frame(struct term *t, const struct ch_sframe *f)
{
	uint32_t cols, rows;

	switch (f->type) {
	case CH_SFRAME_STDIN:
		t->bytes_in += f->len;
		/* after our EOF the channel takes nothing: dropped */
		if (f->len && ch_stream_write(t->s, f->payload, f->len) ==
		    CH_ERR_LIMIT)
			broken(t, "input past the channel's queue");
		return;
	case CH_SFRAME_EOF:
		ch_stream_eof(t->s);
		return;
	case CH_SFRAME_RESIZE:
		ch_sframe_resize_get(f, &cols, &rows);
		ch_stream_resize(t->s, cols, rows);
		return;
	case CH_SFRAME_CLOSE:
		ch_stream_close(t->s, 0, "closed by the operator");
		return;
	default:
		broken(t, "a frame the hub does not take");
		return;
	}
}

/* Frames while the channel takes input; then whether to read more. */
static void process(struct term *t)
{
	struct ch_sframe f;
	size_t used;
	int r;

	while (t->s && !t->ending &&
	       ch_stream_pending(t->s) <= CH_TERM_DEV_HIGH) {
		r = ch_sframe_parse((const uint8_t *)ch_buf_ptr(&t->in),
				    ch_buf_len(&t->in), CH_TERM_FRAME_MAX, &f,
				    &used);
		if (r == CH_ERR_AGAIN)
			break;
		if (r != CH_OK) {
			broken(t, "a malformed frame");
			return;
		}
		on_frame(t, &f);
		ch_buf_consume(&t->in, used);
	}
	read_update(t);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct term *t = st->data;

	if (nread > 0 && !t->ending &&
	    ch_buf_put(&t->in, buf->base, (size_t)nread) != CH_OK)
		broken(t, "a frame over the limit");
	free(buf->base);
	if (nread < 0 && !t->ending)
		cli_gone(t, "the operator's connection ended");
	if (nread > 0 && !t->ending)
		process(t);
}

static void on_handoff(void *ctx, int fd, const char *rest, size_t len)
{
	struct term *t = ctx;

	t->handoff_due = 0;
	if (fd < 0) {
		if (t->s)
			ch_stream_close(t->s, 1, "the operator went away");
		maybe_free(t);
		return;
	}
	uv_pipe_init(t->hub->loop, &t->pipe, 0);
	uv_timer_init(t->hub->loop, &t->flush);
	t->pipe.data = t->flush.data = t;
	t->piped = 1;
	t->handles = 2;
	if (uv_pipe_open(&t->pipe, fd) < 0) {
		close(fd);	/* not the handle's */
		cli_gone(t, "cannot take the operator's connection");
		return;
	}
	if (ch_buf_put(&t->in, rest, len) != CH_OK) {
		broken(t, "a frame over the limit");
		return;
	}
	if (t->eof_due)
		send_frame(t, CH_SFRAME_EOF, "", 0);
	if (t->s == NULL) {	/* it ended while we waited */
		send_end(t);
		return;
	}
	t->held = 0;
	ch_stream_pause(t->s, 0);
	process(t);
}

/* ---- the device's channel ---- */

static void event(struct term *t, const char *verb, const char *detail)
{
	char text[CH_STORE_TEXT_MAX];

	snprintf(text, sizeof(text), "%s %s (term %u)%s%s", t->what, verb,
		 t->id, detail ? ": " : "", detail ? detail : "");
	hub_event(t->hub, t->fp, t->shell ? "shell" : "exec", text);
}

static void s_opened(struct ch_stream *s, int status, const char *why)
{
	struct term *t = ch_stream_ctx(s);
	struct hub_ctl_req *req = t->req;
	char msg[CH_STREAM_WHY_MAX + 128];

	t->req = NULL;
	if (status != CH_OK) {
		snprintf(msg, sizeof(msg), "the device refused the %s: %s",
			 t->shell ? "shell" : "exec", why ? why : "refused");
		hub_ctl_fail(req, "refused", msg);
		return;		/* closed() follows */
	}
	/* nothing is delivered until the connection is ours */
	t->held = 1;
	ch_stream_pause(s, 1);
	t->handoff_due = 1;
	if (hub_ctl_handoff(req, json_pack("{s:b, s:i}", "ok", 1, "stream",
					   (json_int_t)t->id), on_handoff,
			    t) != CH_OK) {
		t->handoff_due = 0;
		ch_stream_close(s, 1, "the operator went away");
		return;
	}
	t->started = 1;
	event(t, "started", NULL);
}

/* The device's stdout or stderr (extended data), as frames of its type. */
static void out_frames(struct ch_stream *s, enum ch_sframe_type type,
		       const char *p, size_t n)
{
	struct term *t = ch_stream_ctx(s);

	t->bytes_out += n;
	for (size_t off = 0, k; off < n; off += k) {
		k = n - off < CH_TERM_FRAME_MAX ? n - off : CH_TERM_FRAME_MAX;
		send_frame(t, type, p + off, k);
	}
	if (t->piped && !t->ending && !t->held &&
	    unsent(t) > CH_TERM_CLI_HIGH) {
		t->held = 1;	/* the device's window closes */
		ch_stream_pause(s, 1);
	}
}

static void s_data(struct ch_stream *s, const char *p, size_t n)
{
	out_frames(s, CH_SFRAME_STDOUT, p, n);
}

static void s_data_err(struct ch_stream *s, const char *p, size_t n)
{
	out_frames(s, CH_SFRAME_STDERR, p, n);
}

static void s_eof(struct ch_stream *s)
{
	struct term *t = ch_stream_ctx(s);

	if (t->piped)
		send_frame(t, CH_SFRAME_EOF, "", 0);
	else
		t->eof_due = 1;
}

static void s_drained(struct ch_stream *s)
{
	struct term *t = ch_stream_ctx(s);

	if (!t->reading && t->piped && !t->ending)
		process(t);	/* what waited in our buffer first */
}

static void s_exited(struct ch_stream *s, int status, const char *signal)
{
	struct term *t = ch_stream_ctx(s);

	t->have_exit = 1;
	t->exit_status = status;
	snprintf(t->exit_sig, sizeof(t->exit_sig), "%s", signal ? signal : "");
}

static void s_closed(struct ch_stream *s, const char *why)
{
	struct term *t = ch_stream_ctx(s);
	char detail[CH_STREAM_WHY_MAX + 96];

	t->s = NULL;
	t->stream_done = 1;
	snprintf(t->why, sizeof(t->why), "%s", why && *why ? why : "closed");
	if (t->req) {		/* ended before it was answered */
		snprintf(detail, sizeof(detail), "the %s did not start: %s",
			 t->shell ? "shell" : "exec", t->why);
		hub_ctl_fail(t->req, "closed", detail);
		t->req = NULL;
	} else if (t->started) {
		if (t->have_exit && t->exit_sig[0])
			snprintf(detail, sizeof(detail), "signal %s",
				 t->exit_sig);
		else if (t->have_exit)
			snprintf(detail, sizeof(detail), "exit %d",
				 (int)t->exit_status);
		else
			snprintf(detail, sizeof(detail), "no exit status");
		snprintf(detail + strlen(detail), sizeof(detail) -
			 strlen(detail), ", %llu bytes in, %llu out; %s",
			 (unsigned long long)t->bytes_in,
			 (unsigned long long)t->bytes_out, t->why);
		ch_info("term=%u device=%s: %s ended: %s", t->id, t->fp,
			t->what, detail);
		event(t, "ended", detail);
	}
	if (t->piped && !t->ending)
		send_end(t);
	maybe_free(t);
}

static const struct ch_stream_cb term_stream_cb = {
	.opened = s_opened,
	.data = s_data,
	.data_err = s_data_err,
	.eof = s_eof,
	.drained = s_drained,
	.exited = s_exited,
	.closed = s_closed,
};

/* ---- start, stop ---- */

void term_start(struct hub *hub, struct hub_ctl_req *req, struct device *d,
		const struct term_spec *spec)
{
	struct ch_stream_req sreq = {
		.type = spec->shell ? CH_STREAM_SHELL : CH_STREAM_EXEC,
		.name = spec->shell ? NULL : spec->command,
		.pty = spec->pty,
		.term = spec->term,
		.cols = spec->cols,
		.rows = spec->rows,
	};
	const char *why;
	char msg[CH_STREAM_WHY_MAX + 128];
	struct term *t;

	if (hub->nterms >= CH_HUB_MAX_TERMS) {
		hub_ctl_fail(req, "busy", "too many shells and execs through "
			     "the hub (at most " CH_STR(CH_HUB_MAX_TERMS) ")");
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	t->hub = hub;
	t->id = ++hub->next_term_id;
	t->shell = spec->shell;
	t->req = req;
	snprintf(t->fp, sizeof(t->fp), "%s", device_key(d));
	if (spec->shell)
		snprintf(t->what, sizeof(t->what), "shell%s",
			 spec->pty ? "" : " (no pty)");
	else
		snprintf(t->what, sizeof(t->what), "exec '%.60s'%s",
			 spec->command, spec->pty ? " (pty)" : "");
	ch_buf_init(&t->in, CH_SFRAME_HDR + CH_TERM_FRAME_MAX +
		    CH_CTL_READ_CHUNK);
	if (device_open_stream(d, &sreq, &term_stream_cb, t, &t->s, &why) !=
	    CH_OK) {
		snprintf(msg, sizeof(msg), "device %s: %s", spec->label, why);
		hub_ctl_fail(req, "refused", msg);
		free(t);
		return;
	}
	t->next = hub->terms;
	if (t->next)
		t->next->prev = t;
	hub->terms = t;
	hub->nterms++;
	ch_info("term=%u device=%s: %s asked for", t->id, t->fp, t->what);
}

void term_stop_all(struct hub *hub)
{
	struct term *t, *next;

	for (t = hub->terms; t; t = next) {
		next = t->next;
		if (t->s)
			ch_stream_close(t->s, 1, "hub shutting down");
		pipe_end(t, 0);
	}
}
