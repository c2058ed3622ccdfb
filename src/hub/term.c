/* term.c - terminal sessions and forwards: the device's channel, its
 * owner and watchers, the ring of recent output, detach and attach, the
 * recording, the events and the audit (term.h).
 *
 * Life: term_start asks the device for the channel with the first owner
 * waiting for its connection; opened() answers the request, the control
 * socket hands the connection over (on_handoff), then frames flow both
 * ways until the channel's closed(): the exit status and a close frame
 * go to every connection, which is shut down (within
 * CH_STREAM_CLOSE_FLUSH_MS), and the term is freed once every handle is
 * closed. The owner's close frame closes the channel (its processes are
 * the device's to end). The owner's connection ending without one
 * detaches a pty session (the grace timer runs) and closes any other.
 *
 * The device's channel is paused while the owner's connection is not
 * ours yet, while it holds CH_TERM_CLI_HIGH unsent bytes (until
 * CH_TERM_CLI_LOW), and while detached with a ring's worth unseen.
 */
#include "hub/term.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/device.h"
#include "hub/hub.h"
#include "hub/record.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/core/streamframe.h"
#include "lib/xport/xport.h"

#define TERM_WHAT_MAX 300	/* "exec 'cmd...'", "forward to HOST:PORT" */
#define TERM_LABEL_MAX 128	/* the device as the operator named it */

/* One operator's connection to a session. */
struct tconn {
	struct term *t;
	struct tconn *next;		/* the term's connections */
	int watcher;
	int handoff_due;		/* the control socket owes on_handoff */
	int piped;			/* pipe and timer initialised */
	int handles;			/* of those, not yet closed */
	int reading;
	int ending;			/* the connection is going */
	int held;			/* (owner) channel paused for it */
	uint32_t cols, rows;		/* (attach) the new terminal's size */
	struct hub_actor who;		/* the request's (hub_ctl_actor) */
	uv_pipe_t pipe;
	uv_timer_t flush;		/* bounds the last frames' flush */
	uv_shutdown_t shut;
	struct ch_buf in;		/* frames from the operator */
};

struct term {
	struct hub *hub;
	struct term *prev, *next;
	unsigned id;
	char fp[CH_FP_LEN];		/* the device's registry key */
	char label[TERM_LABEL_MAX];
	char what[TERM_WHAT_MAX];
	char command[CH_STREAM_NAME_MAX];
	char termtype[CH_STREAM_TERM_MAX];
	int shell, pty;
	int forward;			/* a direct-tcpip channel */
	uint32_t cols, rows;
	int started;			/* the device took the channel */
	int attached_once;		/* an owner's connection was ours */
	struct hub_ctl_req *req;	/* until answered */
	struct ch_stream *s;		/* NULL once closed() came */
	int stream_done;		/* closed() came, or never opened */
	int paused;
	int closing;			/* we closed the channel */
	struct tconn *owner;		/* NULL: detached */
	struct tconn *conns;		/* the owner and the watchers */
	unsigned nwatchers;
	uv_timer_t grace;
	int timer_open;
	int64_t started_at, detached_at;	/* unix s; 0: never, attached */
	uint64_t unseen;		/* output since detached */
	int out_eof;			/* the device's EOF came */
	int have_exit;
	int32_t exit_status;
	char exit_sig[CH_SFRAME_SIGNAL_MAX + 1];
	char why[CH_STREAM_WHY_MAX];
	uint64_t bytes_in, bytes_out;
	struct hub_actor who;		/* who started it */
	uint64_t since;			/* ms, loop time it started */
	struct record *rec;
	int rec_id;			/* it was recorded (rec may be closed) */
	int rec_tried;
	size_t ring_len, ring_head;	/* ring[head..) then ring[..head) */
	char ring[CH_TERM_RING];
};

struct term_write {
	uv_write_t w;
	uint8_t data[];
};

static void conn_end(struct tconn *c, int flush);
static void owner_lost(struct tconn *c, const char *why);

static const char *kind(const struct term *t)
{
	return t->forward ? "forward" : t->shell ? "shell" : "exec";
}

static void maybe_free(struct term *t)
{
	struct hub *hub = t->hub;

	if (!t->stream_done || t->conns || t->timer_open)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		hub->terms = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->forward)
		hub->nfwds--;
	else
		hub->nterms--;
	record_close(t->rec);
	free(t);
}

/* ---- events ---- */

/* An event of the session; its start and end are audit records too (a
 * refusal is audited with the request's answer, api/req.c). */
static void event(struct term *t, const char *verb, const char *detail)
{
	char text[CH_STORE_TEXT_MAX], rec[48], who[HUB_ACTOR_STR_MAX];
	char action[CH_AUDIT_ACTION_MAX], recid[16];
	struct hub_audit_extra x = HUB_AUDIT_EXTRA_NONE;
	int end = strcmp(verb, "ended") == 0;

	if (t->rec)
		snprintf(rec, sizeof(rec), ", recording %u", t->id);
	else
		snprintf(rec, sizeof(rec), "%s", t->forward ? ""
			 : ", not recorded");
	snprintf(text, sizeof(text), "%s %s (session %u%s, %s)%s%s", t->what,
		 verb, t->id, rec, hub_actor_str(&t->who, who, sizeof(who)),
		 detail ? ": " : "", detail ? detail : "");
	hub_event(t->hub, t->fp, kind(t), text);
	if (!end && strcmp(verb, "started") != 0)
		return;
	snprintf(action, sizeof(action), "%s-%s", kind(t),
		 end ? "end" : "start");
	if (t->rec || t->rec_id) {
		snprintf(recid, sizeof(recid), "%u", t->id);
		x.recording = recid;
	}
	if (end) {
		x.exit_status = t->have_exit && !t->exit_sig[0]
			? (int64_t)(uint32_t)t->exit_status : -1;
		x.bytes_in = (int64_t)t->bytes_in;
		x.bytes_out = (int64_t)t->bytes_out;
		x.duration_ms = (int64_t)(uv_now(t->hub->loop) - t->since);
	}
	hub_audit_x(t->hub, &t->who, t->fp, action, !end || t->have_exit ||
		    t->forward ? "ok" : "lost", text, &x);
}

/* How a session ended, for its "ended" event and the log. */
static void end_detail(const struct term *t, char *buf, size_t size)
{
	size_t n;

	if (t->forward)
		snprintf(buf, size, "closed");
	else if (t->have_exit && t->exit_sig[0])
		snprintf(buf, size, "signal %s", t->exit_sig);
	else if (t->have_exit)
		snprintf(buf, size, "exit %d", (int)t->exit_status);
	else
		snprintf(buf, size, "no exit status");
	n = strlen(buf);
	snprintf(buf + n, size - n, ", %llu bytes in, %llu out, %.1f s; %s",
		 (unsigned long long)t->bytes_in,
		 (unsigned long long)t->bytes_out,
		 (double)(uv_now(t->hub->loop) - t->since) / 1000, t->why);
}

/* ---- the ring ---- */

static void ring_put(struct term *t, const char *p, size_t n)
{
	if (n >= CH_TERM_RING) {
		memcpy(t->ring, p + n - CH_TERM_RING, CH_TERM_RING);
		t->ring_len = CH_TERM_RING;
		t->ring_head = 0;
		return;
	}
	for (size_t k; n; p += k, n -= k) {
		size_t end = (t->ring_head + t->ring_len) % CH_TERM_RING;

		if (t->ring_len == CH_TERM_RING) {	/* full: overwrite */
			k = CH_TERM_RING - t->ring_head;
			k = k < n ? k : n;
			memcpy(t->ring + t->ring_head, p, k);
			t->ring_head = (t->ring_head + k) % CH_TERM_RING;
			continue;
		}
		k = (end >= t->ring_head ? CH_TERM_RING : t->ring_head) - end;
		k = k < n ? k : n;
		memcpy(t->ring + end, p, k);
		t->ring_len += k;
	}
}

/* ---- to an operator ---- */

static size_t unsent(struct tconn *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

static int live(const struct tconn *c)
{
	return c && c->piped && !c->ending;
}

/* Whether the channel should be paused, and pausing it so. */
static void flow(struct term *t)
{
	int want;

	if (t->s == NULL)
		return;
	if (t->owner)
		want = !live(t->owner) || t->owner->held;
	else
		want = t->unseen >= CH_TERM_RING;
	if (want != t->paused) {
		t->paused = want;
		ch_stream_pause(t->s, want);
	}
}

static void write_cb(uv_write_t *w, int status)
{
	struct tconn *c = w->handle->data;

	free(w);
	if (status < 0) {
		if (!c->ending)
			owner_lost(c, "the operator's connection failed");
		return;
	}
	if (c->held && c == c->t->owner && !c->ending &&
	    unsent(c) <= CH_TERM_CLI_LOW) {
		c->held = 0;
		flow(c->t);
	}
}

static void send_frame(struct tconn *c, enum ch_sframe_type type,
		       const void *p, size_t n)
{
	struct term_write *w;

	if (!live(c))
		return;
	if ((w = malloc(sizeof(*w) + CH_SFRAME_HDR + n)) == NULL) {
		owner_lost(c, "out of memory");
		return;
	}
	ch_sframe_header(w->data, type, (uint32_t)n);
	memcpy(w->data + CH_SFRAME_HDR, p, n);
	uv_buf_t b = uv_buf_init((char *)w->data,
				 (unsigned)(CH_SFRAME_HDR + n));
	if (uv_write(&w->w, (uv_stream_t *)&c->pipe, &b, 1, write_cb) < 0) {
		free(w);
		owner_lost(c, "the operator's connection failed");
	}
}

/* Output (type: stdout or stderr) in frames of at most CH_TERM_FRAME_MAX. */
static void send_data(struct tconn *c, enum ch_sframe_type type,
		      const char *p, size_t n)
{
	for (size_t off = 0, k; off < n && live(c); off += k) {
		k = n - off < CH_TERM_FRAME_MAX ? n - off : CH_TERM_FRAME_MAX;
		send_frame(c, type, p + off, k);
	}
}

/* What the ring holds: the screen so far, for who joins. */
static void send_ring(struct tconn *c)
{
	struct term *t = c->t;
	size_t first = CH_TERM_RING - t->ring_head;

	if (first > t->ring_len)
		first = t->ring_len;
	send_data(c, CH_SFRAME_STDOUT, t->ring + t->ring_head, first);
	send_data(c, CH_SFRAME_STDOUT, t->ring, t->ring_len - first);
}

/* The end of the channel: its exit status, then why it closed. */
static void send_end(struct tconn *c)
{
	struct term *t = c->t;
	uint8_t pl[4 + CH_SFRAME_SIGNAL_MAX];

	if (t->have_exit)
		send_frame(c, CH_SFRAME_EXIT, pl, ch_sframe_exit_put(pl,
			   t->exit_status, t->exit_sig[0] ? t->exit_sig
							  : NULL));
	send_frame(c, CH_SFRAME_CLOSE, t->why, strlen(t->why));
	conn_end(c, 1);
}

/* ---- an operator's connection ---- */

static void conn_unlink(struct tconn *c)
{
	struct term *t = c->t;

	for (struct tconn **pp = &t->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->watcher)
		t->nwatchers--;
	if (t->owner == c)
		t->owner = NULL;
	ch_buf_cleanup(&c->in);
	free(c);
	maybe_free(t);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct tconn *c = h->data;

	if (--c->handles == 0)
		conn_unlink(c);
}

static void close_handles(struct tconn *c)
{
	if (!c->piped || uv_is_closing((uv_handle_t *)&c->pipe))
		return;
	uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&c->flush, on_handle_closed);
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
static void conn_end(struct tconn *c, int flush)
{
	if (!c->piped || c->ending)
		return;
	c->ending = 1;
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->pipe);
	c->reading = 0;
	c->shut.data = c;
	if (flush && !c->t->hub->stopping &&
	    uv_shutdown(&c->shut, (uv_stream_t *)&c->pipe, on_shut) == 0) {
		uv_timer_start(&c->flush, on_flush_timeout,
			       CH_STREAM_CLOSE_FLUSH_MS, 0);
		return;
	}
	close_handles(c);
}

static void on_grace(uv_timer_t *tm)
{
	struct term *t = tm->data;
	char why[96];

	if (t->s == NULL || t->owner)
		return;
	snprintf(why, sizeof(why), "detached for longer than the grace "
		 "period (%u s)", t->hub->cfg.term_grace_s);
	ch_info("term=%u device=%s: %s; closing the %s", t->id, t->fp, why,
		kind(t));
	t->closing = 1;
	ch_stream_close(t->s, 1, why);
}

/* The owner's connection ended without a close frame. */
static void detach(struct term *t, const char *why)
{
	t->owner = NULL;
	t->unseen = 0;
	t->detached_at = hub_now_s();
	uv_timer_start(&t->grace, on_grace,
		       (uint64_t)t->hub->cfg.term_grace_s * 1000, 0);
	ch_info("term=%u device=%s: %s; detached, kept %u s for "
		"`callhome shell %s --attach %u`", t->id, t->fp, why,
		t->hub->cfg.term_grace_s, t->label, t->id);
	event(t, "detached", why);
	flow(t);
}

/* c goes (a watcher: only it; the owner: the session detaches or ends). */
static void owner_lost(struct tconn *c, const char *why)
{
	struct term *t = c->t;

	if (c == t->owner) {
		t->owner = NULL;
		if (t->s && !t->closing && t->pty && t->attached_once &&
		    t->hub->cfg.term_grace_s && !t->hub->stopping) {
			detach(t, why);
		} else if (t->s && !t->closing) {
			t->closing = 1;
			ch_info("term=%u: %s; closing the %s", t->id, why,
				kind(t));
			ch_stream_close(t->s, 1, why);
		}
	}
	conn_end(c, 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(CH_CTL_READ_CHUNK);
	buf->len = buf->base ? CH_CTL_READ_CHUNK : 0;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void read_update(struct tconn *c)
{
	struct term *t = c->t;
	int want = live(c) && (c->watcher || (t->s &&
		   ch_stream_pending(t->s) <= CH_TERM_DEV_HIGH));

	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb,
				  read_cb) < 0) {
			owner_lost(c, "cannot read the operator's connection");
			return;
		}
		c->reading = 1;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->reading = 0;
	}
}

static void broken(struct tconn *c, const char *what)
{
	struct term *t = c->t;
	char why[CH_STREAM_WHY_MAX];

	ch_log_rl(CH_LOG_WARN, "term=%u: the operator's client broke the "
		  "stream protocol: %s", t->id, what);
	snprintf(why, sizeof(why), "protocol error from the client: %s",
		 what);
	if (c == t->owner && t->s) {
		snprintf(t->why, sizeof(t->why), "%s", why);
		t->closing = 1;
		ch_stream_close(t->s, 1, why);
	}
	send_frame(c, CH_SFRAME_CLOSE, why, strlen(why));
	conn_end(c, 1);
}

/* A watcher's frames: it may only leave; its input goes nowhere. */
static void on_watcher_frame(struct tconn *c, const struct ch_sframe *f)
{
	switch (f->type) {
	case CH_SFRAME_STDIN:
	case CH_SFRAME_EOF:
	case CH_SFRAME_RESIZE:
		return;		/* read-only: dropped */
	case CH_SFRAME_CLOSE:
		conn_end(c, 0);
		return;
	default:
		broken(c, "a frame the hub does not take");
		return;
	}
}

static void on_frame(struct tconn *c, const struct ch_sframe *f)
{
	struct term *t = c->t;
	uint32_t cols, rows;

	if (c->watcher) {
		on_watcher_frame(c, f);
		return;
	}
	switch (f->type) {
	case CH_SFRAME_STDIN:
		t->bytes_in += f->len;
		if (t->hub->cfg.record_input)
			record_input(t->rec, f->payload, f->len);
		/* after our EOF the channel takes nothing: dropped */
		if (f->len && ch_stream_write(t->s, f->payload, f->len) ==
		    CH_ERR_LIMIT)
			broken(c, "input past the channel's queue");
		return;
	case CH_SFRAME_EOF:
		ch_stream_eof(t->s);
		return;
	case CH_SFRAME_RESIZE:
		ch_sframe_resize_get(f, &cols, &rows);
		t->cols = cols;
		t->rows = rows;
		record_resize(t->rec, cols, rows);
		ch_stream_resize(t->s, cols, rows);
		return;
	case CH_SFRAME_CLOSE:
		t->closing = 1;
		ch_stream_close(t->s, 0, "closed by the operator");
		return;
	default:
		broken(c, "a frame the hub does not take");
		return;
	}
}

/* Frames while the channel takes input; then whether to read more. */
static void process(struct tconn *c)
{
	struct term *t = c->t;
	struct ch_sframe f;
	size_t used;
	int r;

	while (live(c) && (c->watcher || (t->s && c == t->owner &&
	       ch_stream_pending(t->s) <= CH_TERM_DEV_HIGH))) {
		r = ch_sframe_parse((const uint8_t *)ch_buf_ptr(&c->in),
				    ch_buf_len(&c->in), CH_TERM_FRAME_MAX, &f,
				    &used);
		if (r == CH_ERR_AGAIN)
			break;
		if (r != CH_OK) {
			broken(c, "a malformed frame");
			return;
		}
		on_frame(c, &f);
		ch_buf_consume(&c->in, used);
	}
	read_update(c);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct tconn *c = st->data;

	if (nread > 0 && !c->ending &&
	    ch_buf_put(&c->in, buf->base, (size_t)nread) != CH_OK)
		broken(c, "a frame over the limit");
	free(buf->base);
	if (nread < 0 && !c->ending)
		owner_lost(c, "the operator's connection ended");
	if (nread > 0 && !c->ending)
		process(c);
}

static void start_recording(struct term *t)
{
	struct record_meta m = {
		.id = t->id, .fp = t->fp, .label = t->label,
		.kind = kind(t), .command = t->shell ? NULL : t->command,
		.term = t->pty ? t->termtype : NULL,
		.cols = t->cols, .rows = t->rows,
		.uid = t->who.uid, .user = t->who.name,
	};

	t->rec_tried = 1;
	/* shells, and execs with a pty: what a terminal shows (a plain
	 * exec carries data, such as a tar stream) */
	if ((t->shell || t->pty) && t->hub->rec_dir[0])
		t->rec = record_open(t->hub->rec_dir, &m);
}

static void on_handoff(void *ctx, int fd, const char *rest, size_t len)
{
	struct tconn *c = ctx;
	struct term *t = c->t;

	c->handoff_due = 0;
	if (fd < 0) {
		if (c == t->owner && !t->attached_once && t->s)
			ch_stream_close(t->s, 1, "the operator went away");
		else if (c == t->owner)
			owner_lost(c, "the operator went away");
		conn_unlink(c);
		return;
	}
	uv_pipe_init(t->hub->loop, &c->pipe, 0);
	uv_timer_init(t->hub->loop, &c->flush);
	c->pipe.data = c->flush.data = c;
	c->piped = 1;
	c->handles = 2;
	if (uv_pipe_open(&c->pipe, fd) < 0) {
		close(fd);	/* not the handle's */
		owner_lost(c, "cannot take the operator's connection");
		return;
	}
	if (ch_buf_put(&c->in, rest, len) != CH_OK) {
		broken(c, "a frame over the limit");
		return;
	}
	if (c == t->owner && !t->attached_once) {
		start_recording(t);
		t->rec_id = t->rec != NULL;
		event(t, "started", NULL);
	} else if (c == t->owner) {
		char who[HUB_ACTOR_STR_MAX + 8];

		snprintf(who, sizeof(who), "by ");
		hub_actor_str(&c->who, who + 3, sizeof(who) - 3);
		event(t, "attached", who);
	}
	if (c == t->owner) {
		t->attached_once = 1;
		t->detached_at = 0;
	}
	/* an attach or a watcher sees the screen so far first */
	if (c->watcher || (c == t->owner && t->bytes_out))
		send_ring(c);
	if (t->out_eof)
		send_frame(c, CH_SFRAME_EOF, "", 0);
	if (t->s == NULL) {	/* it ended while we waited */
		send_end(c);
		return;
	}
	if (c == t->owner && c->cols && c->rows &&
	    (c->cols != t->cols || c->rows != t->rows)) {
		t->cols = c->cols;
		t->rows = c->rows;
		record_resize(t->rec, c->cols, c->rows);
		ch_stream_resize(t->s, c->cols, c->rows);
	}
	flow(t);
	process(c);
}

static struct tconn *conn_new(struct term *t, int watcher)
{
	struct tconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->t = t;
	c->watcher = watcher;
	c->handoff_due = 1;
	ch_buf_init(&c->in, CH_SFRAME_HDR + CH_TERM_FRAME_MAX +
		    CH_CTL_READ_CHUNK);
	c->next = t->conns;
	t->conns = c;
	if (watcher)
		t->nwatchers++;
	return c;
}

/* ---- the device's channel ---- */

static void s_opened(struct ch_stream *s, int status, const char *why)
{
	struct term *t = ch_stream_ctx(s);
	struct hub_ctl_req *req = t->req;
	struct tconn *c = t->owner;
	char msg[CH_STREAM_WHY_MAX + TERM_WHAT_MAX + 128];

	t->req = NULL;
	if (status != CH_OK) {
		snprintf(msg, sizeof(msg), "the device refused the %s: %s",
			 t->forward ? t->what : kind(t), why ? why
							     : "refused");
		hub_ctl_fail(req, "refused", msg);
		event(t, "refused", why ? why : "refused");
		conn_unlink(c);	/* its handoff will not come */
		return;		/* closed() follows */
	}
	t->started = 1;
	t->started_at = hub_now_s();
	t->since = uv_now(t->hub->loop);
	/* nothing is delivered until the connection is ours */
	flow(t);
	if (hub_ctl_handoff(req, json_pack("{s:b, s:i}", "ok", 1, "stream",
					   (json_int_t)t->id), on_handoff,
			    c) != CH_OK) {
		conn_unlink(c);
		ch_stream_close(s, 1, "the operator went away");
	}
}

/* The device's stdout or stderr (extended data), as frames of its type;
 * the ring and the recording keep both as the terminal shows them. */
static void out_frames(struct ch_stream *s, enum ch_sframe_type type,
		       const char *p, size_t n)
{
	struct term *t = ch_stream_ctx(s);
	struct tconn *c, *next;

	t->bytes_out += n;
	ring_put(t, p, n);
	record_output(t->rec, p, n);
	if (live(t->owner)) {
		send_data(t->owner, type, p, n);
		if (live(t->owner) && unsent(t->owner) > CH_TERM_CLI_HIGH)
			t->owner->held = 1;	/* the device's window closes */
	} else if (t->owner == NULL) {
		t->unseen += n;
	}
	for (c = t->conns; c; c = next) {
		next = c->next;
		if (!c->watcher || !live(c))
			continue;
		send_data(c, type, p, n);
		if (live(c) && unsent(c) > CH_TERM_WATCH_MAX) {
			ch_info("term=%u: a watcher fell more than %u bytes "
				"behind; dropped", t->id, CH_TERM_WATCH_MAX);
			conn_end(c, 0);
		}
	}
	flow(t);
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

	t->out_eof = 1;
	for (struct tconn *c = t->conns; c; c = c->next)
		send_frame(c, CH_SFRAME_EOF, "", 0);
}

static void s_drained(struct ch_stream *s)
{
	struct term *t = ch_stream_ctx(s);
	struct tconn *c = t->owner;

	if (live(c) && !c->reading)
		process(c);	/* what waited in our buffer first */
}

static void s_exited(struct ch_stream *s, int status, const char *signal)
{
	struct term *t = ch_stream_ctx(s);

	t->have_exit = 1;
	t->exit_status = status;
	snprintf(t->exit_sig, sizeof(t->exit_sig), "%s", signal ? signal : "");
}

static void on_grace_closed(uv_handle_t *h)
{
	struct term *t = h->data;

	t->timer_open = 0;
	maybe_free(t);
}

static void s_closed(struct ch_stream *s, const char *why)
{
	struct term *t = ch_stream_ctx(s);
	char detail[CH_STREAM_WHY_MAX + TERM_WHAT_MAX + 96];
	struct tconn *c, *next;

	t->s = NULL;
	t->stream_done = 1;
	if (!t->why[0])
		snprintf(t->why, sizeof(t->why), "%s", why && *why ? why
								  : "closed");
	if (t->req) {		/* ended before it was answered */
		snprintf(detail, sizeof(detail), "the %s did not start: %s",
			 t->forward ? t->what : kind(t), t->why);
		hub_ctl_fail(t->req, "closed", detail);
		t->req = NULL;
		if (t->owner)	/* its handoff will not come */
			conn_unlink(t->owner);
	} else if (t->started) {
		end_detail(t, detail, sizeof(detail));
		ch_info("term=%u device=%s: %s ended: %s", t->id, t->fp,
			t->what, detail);
		event(t, "ended", detail);
	}
	record_close(t->rec);
	t->rec = NULL;
	for (c = t->conns; c; c = next) {
		next = c->next;
		if (live(c))
			send_end(c);
	}
	if (t->timer_open && !uv_is_closing((uv_handle_t *)&t->grace))
		uv_close((uv_handle_t *)&t->grace, on_grace_closed);
	else
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

/* ---- start, join, list, stop ---- */

/* The next session ID. With several workers, worker k takes only IDs
 * that are k modulo their number: no two give the same ID (a recording's
 * name), and the supervisor knows where a session lives by its ID. */
static unsigned next_id(struct hub *hub)
{
	unsigned id = hub->next_term_id + 1, n = (unsigned)hub->nworkers;

	if (n > 1)
		id += ((unsigned)hub->worker + n - id % n) % n;
	hub->next_term_id = id;
	return id;
}

int term_init(struct hub *hub)
{
	if (record_dir(hub->cfg.state_dir, hub->rec_dir,
		       sizeof(hub->rec_dir)) != CH_OK) {
		hub->rec_dir[0] = '\0';
		return CH_ERR_IO;
	}
	hub->next_term_id = record_last_id(hub->rec_dir);
	return CH_OK;
}

/* The forwards to the device whose key is fp (at most CH_HUB_MAX_FWDS). */
static unsigned forwards_on(struct hub *hub, const char *fp)
{
	unsigned n = 0;

	for (struct term *t = hub->terms; t; t = t->next)
		n += t->forward && strcmp(t->fp, fp) == 0;
	return n;
}

void term_start(struct hub *hub, struct hub_ctl_req *req, struct device *d,
		const struct term_spec *spec)
{
	struct ch_stream_req sreq = {
		.type = spec->forward ? CH_STREAM_DIRECT_TCPIP : spec->shell
			? CH_STREAM_SHELL : CH_STREAM_EXEC,
		.name = spec->forward ? spec->host : spec->shell ? NULL
			: spec->command,
		.port = spec->port,
		.pty = spec->pty,
		.term = spec->term,
		.cols = spec->cols,
		.rows = spec->rows,
	};
	const char *why;
	char msg[CH_STREAM_WHY_MAX + TERM_WHAT_MAX + 128];
	char who[HUB_ACTOR_STR_MAX];
	struct term *t;

	if (!spec->forward && hub->nterms >= CH_HUB_MAX_TERMS) {
		hub_ctl_fail(req, "busy", "too many shells and execs through "
			     "the hub (at most " CH_STR(CH_HUB_MAX_TERMS) ")");
		return;
	}
	if (spec->forward && hub->nfwds >= CH_HUB_MAX_FWDS) {
		hub_ctl_fail(req, "busy", "too many forwards through the hub "
			     "(at most " CH_STR(CH_HUB_MAX_FWDS) ")");
		return;
	}
	if (spec->forward && forwards_on(hub, device_key(d)) >=
	    CH_HUB_DEVICE_FWDS) {
		snprintf(msg, sizeof(msg), "too many forwards to device %s "
			 "(at most " CH_STR(CH_HUB_DEVICE_FWDS) ")",
			 spec->label);
		hub_ctl_fail(req, "busy", msg);
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	t->hub = hub;
	t->id = next_id(hub);
	t->shell = spec->shell;
	t->forward = spec->forward;
	t->pty = spec->pty;
	t->cols = spec->cols;
	t->rows = spec->rows;
	t->who = *hub_ctl_actor(req);
	t->req = req;
	snprintf(t->fp, sizeof(t->fp), "%s", device_key(d));
	snprintf(t->label, sizeof(t->label), "%s", spec->label);
	snprintf(t->termtype, sizeof(t->termtype), "%s",
		 spec->term ? spec->term : "");
	if (!spec->shell && !spec->forward)
		snprintf(t->command, sizeof(t->command), "%s", spec->command);
	if (spec->forward)
		snprintf(t->what, sizeof(t->what), strchr(spec->host, ':')
			 ? "forward to [%s]:%u" : "forward to %s:%u",
			 spec->host, (unsigned)spec->port);
	else if (spec->shell)
		snprintf(t->what, sizeof(t->what), "shell%s",
			 spec->pty ? "" : " (no pty)");
	else
		snprintf(t->what, sizeof(t->what), "exec '%.60s'%s",
			 spec->command, spec->pty ? " (pty)" : "");
	if (device_open_stream(d, &sreq, &term_stream_cb, t, &t->s, &why) !=
	    CH_OK) {
		snprintf(msg, sizeof(msg), "device %s: %s", spec->label, why);
		hub_ctl_fail(req, "refused", msg);
		free(t);
		return;
	}
	uv_timer_init(hub->loop, &t->grace);
	t->grace.data = t;
	t->timer_open = 1;
	t->next = hub->terms;
	if (t->next)
		t->next->prev = t;
	hub->terms = t;
	if (t->forward)
		hub->nfwds++;
	else
		hub->nterms++;
	ch_info("term=%u device=%s: %s asked for (%s)", t->id, t->fp, t->what,
		hub_actor_str(&t->who, who, sizeof(who)));
	if ((t->owner = conn_new(t, 0)) != NULL)
		t->owner->who = t->who;
	if (t->owner == NULL) {
		/* the stream's closed() frees the term */
		hub_ctl_fail(req, "internal", "out of memory");
		t->req = NULL;
		t->closing = 1;
		ch_stream_close(t->s, 1, "out of memory");
	}
}

static struct term *find(struct hub *hub, unsigned id)
{
	for (struct term *t = hub->terms; t; t = t->next)
		if (t->id == id && t->s && t->started && !t->req)
			return t;
	return NULL;
}

void term_join(struct hub *hub, struct hub_ctl_req *req, unsigned id,
	       const char *fp, const struct term_spec *spec, int watch)
{
	struct term *t = find(hub, id);
	struct tconn *c;
	char msg[256];

	if (t == NULL || (fp && strcmp(fp, t->fp) != 0)) {
		snprintf(msg, sizeof(msg), "no live session %u%s (see: "
			 "callhome sessions)", id, t ? " on that device" : "");
		hub_ctl_fail(req, "not-found", msg);
		return;
	}
	if (t->forward) {
		snprintf(msg, sizeof(msg), "session %u is a forward, not a "
			 "terminal: it cannot be attached or watched", id);
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if (watch && t->nwatchers >= CH_TERM_WATCHERS) {
		snprintf(msg, sizeof(msg), "session %u has %u watchers already "
			 "(the most)", id, t->nwatchers);
		hub_ctl_fail(req, "busy", msg);
		return;
	}
	if (!watch && !t->pty) {
		snprintf(msg, sizeof(msg), "session %u has no pty: only a "
			 "terminal session can be attached again (watch it "
			 "with --watch)", id);
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if (!watch && t->owner) {
		snprintf(msg, sizeof(msg), "session %u is attached (watch it "
			 "with --watch)", id);
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if ((c = conn_new(t, watch)) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	c->who = *hub_ctl_actor(req);
	if (!watch) {
		uv_timer_stop(&t->grace);
		t->owner = c;
		c->cols = spec->pty ? spec->cols : 0;
		c->rows = spec->pty ? spec->rows : 0;
		flow(t);	/* paused until the connection is ours */
	}
	if (hub_ctl_handoff(req, json_pack("{s:b, s:i, s:s}", "ok", 1,
					   "stream", (json_int_t)t->id,
					   "mode", watch ? "watch" : "attach"),
			    on_handoff, c) != CH_OK) {
		/* the client went: as if it attached and left at once */
		if (!watch)
			detach(t, "the operator went away");
		conn_unlink(c);
		return;
	}
	ch_info("term=%u device=%s: %s", t->id, t->fp, watch ?
		"a watcher joins" : "attached again");
}

json_t *term_list(struct hub *hub, const char *fp)
{
	json_t *arr = json_array(), *o;

	for (struct term *t = hub->terms; t && arr; t = t->next) {
		if (!t->started || t->s == NULL || (fp && strcmp(fp, t->fp)))
			continue;
		o = json_pack("{s:i, s:s, s:s, s:s, s:s?, s:b, s:I, s:s, "
			      "s:i, s:I, s:I, s:s?, s:i}",
			      "id", (json_int_t)t->id, "device", t->fp,
			      "name", t->label, "kind", kind(t),
			      "command", t->shell || t->forward ? NULL
								: t->command,
			      "pty", t->pty, "started", (json_int_t)t->started_at,
			      "state", t->owner ? "attached" : "detached",
			      "watchers", (int)t->nwatchers,
			      "bytes_in", (json_int_t)t->bytes_in,
			      "bytes_out", (json_int_t)t->bytes_out,
			      "user", t->who.name,
			      "recording", t->rec ? (int)t->id : -1);
		if (o == NULL)
			continue;
		/* every key, absent ones null (docs/control-api.md) */
		json_object_set_new(o, "uid", t->who.uid >= 0
				    ? json_integer(t->who.uid) : json_null());
		if (!t->rec)
			json_object_set_new(o, "recording", json_null());
		json_object_set_new(o, "detached_since", t->owner ? json_null()
				    : json_integer(t->detached_at));
		json_array_append_new(arr, o);
	}
	return arr;
}

void term_stop_all(struct hub *hub)
{
	struct term *t, *next;
	struct tconn *c, *cn;

	for (t = hub->terms; t; t = next) {
		next = t->next;
		if (t->s)
			ch_stream_close(t->s, 1, "hub shutting down");
		for (c = t->conns; c; c = cn) {
			cn = c->next;
			conn_end(c, 0);
		}
	}
}
