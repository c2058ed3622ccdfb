/* control.c - the hub's operator API: JSON lines on a Unix stream socket.
 *
 * Per client: input is cut into lines in a bounded ch_buf; each line is one
 * request, parsed with jansson and handed to ops->handle with a
 * hub_ctl_req. Requests queue per client in arrival order and a response
 * leaves only when every earlier one has left, so answers keep request
 * order however late the hub gives them. A req outlives its client: when
 * the client goes, its unanswered reqs are detached (client = NULL) and
 * hub_ctl_respond() just frees them.
 *
 * Backpressure: with CH_CTL_MAX_PIPELINE requests unanswered, or too many
 * response bytes not yet taken by the client, we stop reading and stop
 * parsing; a zero-delay "kick" timer resumes later, never from inside
 * hub_ctl_respond (the hub must not be re-entered from its own call).
 *
 * Handles (listener, client pipe and timers) are freed only in their close
 * callbacks (style G3); a client is torn down only through client_close().
 */
#include "control.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_SOCKET_MODE 0600
#define CTL_SOCKET_MODE_SHARED 0660	/* --control-group */

/* A variable, not the constant, so the unit test can wait less. */
static unsigned int ctl_idle_ms = CH_CTL_IDLE_MS;

static const char internal_line[] =
	"{\"ok\":false,\"code\":\"internal\","
	"\"error\":\"the hub produced an invalid response\"}";

struct ctl_client;

struct hub_ctl_req {
	struct hub_ctl_req *next;
	struct ctl_client *client;	/* NULL once the client is gone */
	json_t *resp;			/* owned; valid when answered */
	bool answered;
	bool claimed;			/* a stream: see hub_ctl_claim */
	hub_ctl_handoff_cb handoff;	/* answered by hub_ctl_handoff */
	void *handoff_ctx;
	const struct hub_ctl_ops *ops;	/* for ops->answered */
	bool handled;			/* given to ops->handle */
	struct hub_actor actor;		/* a copy: req outlives its client */
	void *note;			/* the hub's: hub_ctl_set_note */
};

struct ctl_client {
	uv_pipe_t pipe;			/* data points back here */
	uv_timer_t idle;
	uv_timer_t kick;		/* resumes parsing on the next tick */
	struct hub_ctl *ctl;
	struct ctl_client *prev, *next;
	unsigned long id;		/* for log lines: ctl=N */
	struct hub_actor actor;		/* the peer, from SO_PEERCRED */
	struct ch_buf in;
	size_t scanned;			/* bytes of in known to hold no '\n' */
	unsigned long line;		/* request lines read so far */
	struct hub_ctl_req *head, *tail; /* unanswered or not yet sent */
	unsigned int queued;
	unsigned int writes;		/* uv_write calls not yet completed */
	int handles;			/* open handles; freed at zero */
	bool reading;
	bool eof;			/* the client will send no more */
	bool discard;			/* too-big: ignore further input */
	bool finishing;			/* close once everything is sent */
	bool closing;
	bool claimed;			/* input after a stream's line waits */
};

struct ctl_write {
	uv_write_t w;
	char *text;
	hub_ctl_handoff_cb handoff;	/* the line of a handoff */
	void *handoff_ctx;
};

/* A connection over CH_CTL_MAX_CLIENTS: told why, then closed. */
struct ctl_reject {
	uv_pipe_t pipe;
	struct hub_ctl *ctl;
};

struct hub_ctl {
	uv_loop_t *loop;
	uv_pipe_t listener;
	const struct hub_ctl_ops *ops;
	char *path;
	dev_t dev;			/* the socket file we created, so */
	ino_t ino;			/* stop unlinks ours and only ours */
	struct ctl_client *clients;
	int nclients;			/* including those still closing */
	int nrejects;
	unsigned long next_id;
	bool listener_open;
	bool stopping;
};

static void process(struct ctl_client *c);

/* ---- teardown ---- */

static void ctl_maybe_free(struct hub_ctl *ctl)
{
	if (!ctl->stopping || ctl->listener_open || ctl->nclients > 0 ||
	    ctl->nrejects > 0)
		return;
	free(ctl->path);
	free(ctl);
}

static void client_closed(uv_handle_t *h)
{
	struct ctl_client *c = h->data;
	struct hub_ctl *ctl = c->ctl;

	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nclients--;
	ch_buf_cleanup(&c->in);
	free(c);
	ctl_maybe_free(ctl);
}

/* The one way a client ends. Safe to call twice and from any callback:
 * the memory goes only when the last handle's close callback runs. */
static void client_close(struct ctl_client *c)
{
	struct hub_ctl_req *req, *next;

	if (c->closing)
		return;
	c->closing = true;
	for (req = c->head; req; req = next) {
		next = req->next;
		if (req->answered) {	/* answered, waiting its turn */
			if (req->handoff)
				req->handoff(req->handoff_ctx, -1, NULL, 0);
			json_decref(req->resp);
			free(req);
		} else {		/* the hub still holds it */
			req->client = NULL;
			req->next = NULL;
		}
	}
	c->head = c->tail = NULL;
	c->queued = 0;
	ch_debug("ctl=%lu closed", c->id);
	uv_close((uv_handle_t *)&c->pipe, client_closed);
	uv_close((uv_handle_t *)&c->idle, client_closed);
	uv_close((uv_handle_t *)&c->kick, client_closed);
}

static void maybe_finish(struct ctl_client *c)
{
	if (!c->closing && c->finishing && c->queued == 0 && c->writes == 0)
		client_close(c);
}

/* ---- flow control ---- */

static bool throttled(struct ctl_client *c)
{
	return c->queued >= CH_CTL_MAX_PIPELINE ||
	       uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >
		       CH_CTL_MAX_UNSENT;
}

static void idle_cb(uv_timer_t *t)
{
	struct ctl_client *c = t->data;

	ch_info("ctl=%lu idle for %u ms; closing", c->id, ctl_idle_ms);
	client_close(c);
}

/* The idle clock runs only while nothing is owed either way; it restarts
 * on a request or a response, not on stray bytes (a slow drip of a line
 * that never ends does not keep a slot forever). */
static void idle_update(struct ctl_client *c)
{
	if (c->closing)
		return;
	if (c->queued == 0 && c->writes == 0)
		uv_timer_start(&c->idle, idle_cb, ctl_idle_ms, 0);
	else
		uv_timer_stop(&c->idle);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(CH_CTL_READ_CHUNK);
	buf->len = buf->base ? CH_CTL_READ_CHUNK : 0;	/* 0: UV_ENOBUFS */
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void reading_update(struct ctl_client *c)
{
	/* claimed: read on, unparsed and bounded, only to see the client
	 * leave while the hub prepares its stream */
	bool want = !c->closing && !c->eof && !c->discard &&
		    (c->claimed ? ch_buf_len(&c->in) < CH_CTL_READ_CHUNK
				: !throttled(c));

	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) <
		    0) {
			client_close(c);
			return;
		}
		c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->reading = false;
	}
}

static void kick_cb(uv_timer_t *t)
{
	process(t->data);
}

/* After a response left or was written: resume input that was held. */
static void resume_later(struct ctl_client *c)
{
	if (c->closing || c->reading || c->claimed || throttled(c))
		return;
	if (ch_buf_len(&c->in) > 0 || (!c->eof && !c->discard))
		uv_timer_start(&c->kick, kick_cb, 0, 0);
}

/* ---- output ---- */

/* The answer of a stream is out: the connection leaves for the handler,
 * with a copy of its fd and the bytes after the request line; ours is
 * closed. */
static void hand_over(struct ctl_client *c, bool failed,
		      hub_ctl_handoff_cb handoff, void *ctx)
{
	uv_os_fd_t fd;
	int nfd = -1;

	if (!failed && uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    (nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		ch_log_errno(CH_LOG_WARN, "ctl=%lu: cannot hand the "
			     "connection over", c->id);
	if (nfd < 0)
		handoff(ctx, -1, NULL, 0);
	else
		handoff(ctx, nfd, ch_buf_ptr(&c->in), ch_buf_len(&c->in));
	ch_debug("ctl=%lu handed over as a stream", c->id);
	client_close(c);
}

static void write_cb(uv_write_t *w, int status)
{
	struct ctl_write *wr = (struct ctl_write *)w;
	struct ctl_client *c = w->handle->data;
	hub_ctl_handoff_cb handoff = wr->handoff;
	void *handoff_ctx = wr->handoff_ctx;

	free(wr->text);
	free(wr);
	c->writes--;
	if (handoff) {
		hand_over(c, status < 0 || c->closing, handoff, handoff_ctx);
		return;
	}
	if (c->closing)
		return;
	if (status < 0) {
		ch_debug("ctl=%lu write: %s", c->id, uv_strerror(status));
		client_close(c);
		return;
	}
	resume_later(c);
	maybe_finish(c);
	idle_update(c);
}

/* Queues one response line (resp borrowed; NULL sends internal_line);
 * req's handoff, if any, follows its write. */
static void send_line(struct ctl_client *c, json_t *resp,
		      struct hub_ctl_req *req)
{
	struct ctl_write *wr;
	uv_buf_t bufs[2];
	char *text = NULL;
	int r;

	if (resp)
		text = json_dumps(resp, JSON_COMPACT);
	if (text == NULL)
		text = strdup(internal_line);
	if (text == NULL || (wr = malloc(sizeof(*wr))) == NULL) {
		ch_error("ctl=%lu: out of memory for a response", c->id);
		if (req->handoff)
			req->handoff(req->handoff_ctx, -1, NULL, 0);
		req->handoff = NULL;
		free(text);
		client_close(c);
		return;
	}
	/* JSON_COMPACT escapes control characters: the text has no '\n'. */
	wr->text = text;
	wr->handoff = req->handoff;
	wr->handoff_ctx = req->handoff_ctx;
	req->handoff = NULL;
	bufs[0] = uv_buf_init(text, (unsigned int)strlen(text));
	bufs[1] = uv_buf_init("\n", 1);
	r = uv_write(&wr->w, (uv_stream_t *)&c->pipe, bufs, 2, write_cb);
	if (r < 0) {
		ch_debug("ctl=%lu write: %s", c->id, uv_strerror(r));
		if (wr->handoff)
			wr->handoff(wr->handoff_ctx, -1, NULL, 0);
		free(text);
		free(wr);
		client_close(c);
		return;
	}
	c->writes++;
}

/* Sends every answered response at the head of the queue. */
static void flush(struct ctl_client *c)
{
	struct hub_ctl_req *req;

	while (!c->closing && c->head && c->head->answered) {
		req = c->head;
		c->head = req->next;
		if (c->head == NULL)
			c->tail = NULL;
		c->queued--;
		send_line(c, req->resp, req);
		json_decref(req->resp);
		free(req);
	}
	if (c->closing)
		return;
	resume_later(c);
	maybe_finish(c);
	idle_update(c);
}

static bool valid_response(json_t *resp)
{
	return json_is_object(resp) && json_is_boolean(json_object_get(resp,
									"ok"));
}

const struct hub_actor *hub_ctl_actor(const struct hub_ctl_req *req)
{
	return &req->actor;
}

void hub_ctl_set_note(struct hub_ctl_req *req, void *note)
{
	req->note = note;
}

void *hub_ctl_note(const struct hub_ctl_req *req)
{
	return req->note;
}

/* The hub's last look at a request it was given, once. */
static void tell_answered(struct hub_ctl_req *req, json_t *resp)
{
	if (!req->handled)
		return;
	req->handled = false;
	if (req->ops->answered)
		req->ops->answered(req->ops->ctx, req, resp);
	req->note = NULL;
}

void hub_ctl_respond(struct hub_ctl_req *req, json_t *resp)
{
	struct ctl_client *c = req->client;

	if (!req->answered)
		tell_answered(req, resp);
	if (c == NULL) {	/* the client left; nobody to tell */
		json_decref(resp);
		free(req);
		return;
	}
	if (req->answered) {
		ch_error("ctl=%lu: a request was answered twice", c->id);
		json_decref(resp);
		return;
	}
	if (!valid_response(resp)) {
		ch_error("ctl=%lu: response without a boolean \"ok\"", c->id);
		json_decref(resp);
		resp = NULL;	/* sent as internal_line */
	}
	req->resp = resp;
	req->answered = true;
	if (req->claimed && req->handoff == NULL) {
		/* a stream refused: the line, then the end */
		c->discard = true;
		c->finishing = true;
	}
	flush(c);
}

void hub_ctl_claim(struct hub_ctl_req *req)
{
	req->claimed = true;
	if (req->client)
		req->client->claimed = true;
}

int hub_ctl_handoff(struct hub_ctl_req *req, json_t *resp,
		    hub_ctl_handoff_cb cb, void *ctx)
{
	if (req->client == NULL || !req->claimed || req->answered ||
	    !json_is_true(json_object_get(resp, "ok"))) {
		if (req->client) {	/* misuse: answer it as a failure */
			hub_ctl_fail(req, "internal", "a stream was "
				     "answered wrongly");
		} else {
			tell_answered(req, resp);
			free(req);
		}
		json_decref(resp);
		return CH_ERR_CLOSED;
	}
	req->handoff = cb;
	req->handoff_ctx = ctx;
	hub_ctl_respond(req, resp);
	return CH_OK;
}

static json_t *fail_object(const char *code, const char *msg)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code",
			 code);
}

void hub_ctl_fail(struct hub_ctl_req *req, const char *code, const char *msg)
{
	json_t *resp = fail_object(code, msg);

	/* json_pack refuses text that is not UTF-8: keep the code at least */
	if (resp == NULL)
		resp = fail_object(code, "(error text was not valid UTF-8)");
	hub_ctl_respond(req, resp);
}

/* ---- input ---- */

static struct hub_ctl_req *enqueue(struct ctl_client *c)
{
	struct hub_ctl_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->client = c;
	req->ops = c->ctl->ops;
	req->actor = c->actor;
	if (c->tail)
		c->tail->next = req;
	else
		c->head = req;
	c->tail = req;
	c->queued++;
	return req;
}

static const char *json_kind(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

static int bad_line(char *msg, size_t msg_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_line(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return CH_ERR_INVAL;
}

int hub_ctl_parse_line(const char *p, size_t len, unsigned long lineno,
		       json_t **root, const char **cmd, char *msg,
		       size_t msg_len)
{
	json_error_t jerr;
	json_t *j, *c;
	int r;

	*root = NULL;
	*cmd = NULL;
	if (msg_len)
		msg[0] = '\0';
	if (blank(p, len))	/* tolerated, like an empty shell line */
		return CH_ERR_AGAIN;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	j = json_loadb(p, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
		       &jerr);
	if (j == NULL)
		return bad_line(msg, msg_len, "request line %lu: invalid JSON "
				"at byte %d: %s", lineno, jerr.position,
				jerr.text);
	c = json_object_get(j, "cmd");
	if (!json_is_object(j))
		r = bad_line(msg, msg_len, "request line %lu: expected a JSON "
			     "object such as {\"cmd\":\"devices\"}, got %s",
			     lineno, json_kind(j));
	else if (c == NULL)
		r = bad_line(msg, msg_len, "request line %lu: the object has "
			     "no \"cmd\" member naming the command", lineno);
	else if (!json_is_string(c))
		r = bad_line(msg, msg_len, "request line %lu: \"cmd\" must be "
			     "a string, got %s", lineno, json_kind(c));
	else if (json_string_length(c) == 0)
		r = bad_line(msg, msg_len, "request line %lu: \"cmd\" is empty",
			     lineno);
	else
		r = CH_OK;
	if (r != CH_OK) {
		json_decref(j);
		return r;
	}
	*cmd = json_string_value(c);
	*root = j;
	return CH_OK;
}

/* One request line (without its '\n'). The line is parsed (copied) before
 * ops->handle runs; after handle returns the req may already be gone. */
static void handle_line(struct ctl_client *c, const char *p, size_t len)
{
	struct hub_ctl_req *req;
	char msg[CH_CTL_ERR_MAX];
	const char *cmd;
	json_t *root;
	int r;

	r = hub_ctl_parse_line(p, len, c->line, &root, &cmd, msg, sizeof(msg));
	if (r == CH_ERR_AGAIN)
		return;
	if ((req = enqueue(c)) == NULL) {
		ch_error("ctl=%lu: out of memory for a request", c->id);
		json_decref(root);
		client_close(c);
		return;
	}
	if (r != CH_OK) {
		hub_ctl_fail(req, "bad-request", msg);
		return;
	}
	req->handled = true;
	c->ctl->ops->handle(c->ctl->ops->ctx, req, cmd, root);
	json_decref(root);
}

static void too_big(struct ctl_client *c)
{
	struct hub_ctl_req *req;
	char msg[160];

	ch_info("ctl=%lu: request line %lu over %u bytes; closing", c->id,
		c->line + 1, CH_CTL_MAX_REQUEST);
	c->discard = true;
	ch_buf_cleanup(&c->in);	/* up to 32 MiB we will never look at */
	c->scanned = 0;
	if ((req = enqueue(c)) == NULL) {
		client_close(c);
		return;
	}
	snprintf(msg, sizeof(msg), "request line %lu is longer than the "
		 "limit of %u bytes", c->line + 1, CH_CTL_MAX_REQUEST);
	hub_ctl_fail(req, "too-big", msg);
}

/* Takes complete lines from the input while the client may have more
 * requests in flight; then decides whether to keep reading. */
static void process(struct ctl_client *c)
{
	bool handled = false;

	while (!c->closing && !c->discard && !c->claimed && !throttled(c)) {
		const char *p = ch_buf_ptr(&c->in);
		size_t len = ch_buf_len(&c->in), line_len, used;
		const char *nl;

		nl = memchr(p + c->scanned, '\n', len - c->scanned);
		if (nl == NULL) {
			c->scanned = len;
			if (len > CH_CTL_MAX_REQUEST) {
				too_big(c);
				break;
			}
			if (!c->eof || len == 0)
				break;
			line_len = used = len;	/* last line, unterminated */
		} else {
			line_len = (size_t)(nl - p);
			used = line_len + 1;
		}
		if (line_len > CH_CTL_MAX_REQUEST) {
			too_big(c);
			break;
		}
		c->line++;
		handle_line(c, p, line_len);
		/* handle() may have closed c; its memory stays until the
		 * close callbacks, so consuming is still safe */
		ch_buf_consume(&c->in, used);
		c->scanned = 0;
		handled = true;
	}
	if (c->closing)
		return;
	if (c->discard || (c->eof && ch_buf_len(&c->in) == 0))
		c->finishing = true;
	reading_update(c);
	maybe_finish(c);
	if (handled)
		idle_update(c);
}

/* After EOF on read: did the client only shut down its sending side (it
 * still waits for answers) or is it gone? A fully closed peer shows
 * POLLHUP on an AF_UNIX stream socket. */
static bool peer_gone(struct ctl_client *c)
{
	struct pollfd pfd = { .events = POLLOUT };
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0)
		return true;
	pfd.fd = fd;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_client *c = s->data;
	int r;

	if (nread > 0 && !c->closing && !c->discard) {
		r = ch_buf_put(&c->in, buf->base, (size_t)nread);
		if (r == CH_ERR_LIMIT) {
			too_big(c);
		} else if (r != CH_OK) {
			ch_error("ctl=%lu: out of memory for input", c->id);
			client_close(c);
		}
	} else if (nread == UV_EOF) {
		c->eof = true;
		if (peer_gone(c)) {
			ch_debug("ctl=%lu: client left", c->id);
			client_close(c);
		}
	} else if (nread < 0) {
		ch_debug("ctl=%lu read: %s", c->id, uv_strerror((int)nread));
		client_close(c);
	}
	free(buf->base);
	if (!c->closing)
		process(c);
}

/* ---- accepting ---- */

static void reject_closed(uv_handle_t *h)
{
	struct ctl_reject *rj = h->data;
	struct hub_ctl *ctl = rj->ctl;

	ctl->nrejects--;
	free(rj);
	ctl_maybe_free(ctl);
}

static void reject(struct hub_ctl *ctl)
{
	static char line[] = "{\"ok\":false,\"code\":\"busy\",\"error\":"
			     "\"too many control connections; try again "
			     "later\"}\n";
	struct ctl_reject *rj = calloc(1, sizeof(*rj));
	uv_buf_t b = uv_buf_init(line, sizeof(line) - 1);

	if (rj == NULL)
		return;
	rj->ctl = ctl;
	uv_pipe_init(ctl->loop, &rj->pipe, 0);
	rj->pipe.data = rj;
	ctl->nrejects++;
	/* One short line into an empty socket buffer: never blocks. */
	if (uv_accept((uv_stream_t *)&ctl->listener,
		      (uv_stream_t *)&rj->pipe) == 0)
		uv_try_write((uv_stream_t *)&rj->pipe, &b, 1);
	uv_close((uv_handle_t *)&rj->pipe, reject_closed);
}

/* Who is on the other end: the kernel's credentials of the process that
 * connected (SO_PEERCRED), never what it says. */
static void peer_actor(struct ctl_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    len != sizeof(cred)) {
		ch_log_errno(CH_LOG_WARN, "ctl=%lu: cannot read the peer's "
			     "credentials", c->id);
		hub_actor_unknown(&c->actor);
		return;
	}
	hub_actor_local(&c->actor, cred.uid, cred.pid);
}

/* A client struct with its handles initialised and linked into ctl; its
 * pipe is not yet bound to a socket. NULL when out of memory. */
static struct ctl_client *client_new(struct hub_ctl *ctl)
{
	struct ctl_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ctl = ctl;
	c->id = ++ctl->next_id;
	ch_buf_init(&c->in, CH_CTL_MAX_REQUEST + 1 + CH_CTL_READ_CHUNK);
	uv_pipe_init(ctl->loop, &c->pipe, 0);
	uv_timer_init(ctl->loop, &c->idle);
	uv_timer_init(ctl->loop, &c->kick);
	c->pipe.data = c->idle.data = c->kick.data = c;
	c->handles = 3;
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	return c;
}

/* c's socket is connected: who is there, then its requests. */
static void client_begin(struct ctl_client *c)
{
	char who[HUB_ACTOR_STR_MAX];

	peer_actor(c);
	ch_debug("ctl=%lu connected: %s", c->id,
		 hub_actor_str(&c->actor, who, sizeof(who)));
	idle_update(c);
	reading_update(c);
}

static void connection_cb(uv_stream_t *server, int status)
{
	struct hub_ctl *ctl = server->data;
	struct ctl_client *c;

	if (status < 0) {
		ch_log_rl(CH_LOG_WARN, "control socket %s: accept: %s",
			  ctl->path, uv_strerror(status));
		return;
	}
	if (ctl->nclients >= CH_CTL_MAX_CLIENTS) {
		ch_log_rl(CH_LOG_WARN, "control socket %s: %d clients already; "
			  "refusing one", ctl->path, ctl->nclients);
		reject(ctl);
		return;
	}
	if ((c = client_new(ctl)) == NULL) {
		reject(ctl);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		client_close(c);
		return;
	}
	client_begin(c);
}

int hub_ctl_adopt(struct hub_ctl *ctl, int fd, const char *read,
		  size_t len)
{
	struct ctl_client *c;

	if (ctl->stopping || ctl->nclients >= CH_CTL_MAX_CLIENTS ||
	    (c = client_new(ctl)) == NULL) {
		close(fd);
		return CH_ERR_LIMIT;
	}
	if (uv_pipe_open(&c->pipe, fd) != 0) {
		close(fd);
		client_close(c);
		return CH_ERR_IO;
	}
	if (len > 0 && ch_buf_put(&c->in, read, len) != CH_OK) {
		client_close(c);
		return CH_ERR_NOMEM;
	}
	client_begin(c);
	if (len > 0)	/* the request already read: from the loop */
		uv_timer_start(&c->kick, kick_cb, 0, 0);
	return CH_OK;
}

int hub_ctl_route(struct hub_ctl_req *req, hub_ctl_handoff_cb cb, void *ctx)
{
	struct ctl_client *c = req->client;
	uv_os_fd_t fd;
	int nfd;

	if (c == NULL || c->head != req || c->queued != 1 || req->answered)
		return CH_ERR_INVAL;
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    (nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		ch_log_errno(CH_LOG_WARN, "ctl=%lu: cannot route the "
			     "connection", c->id);
		return CH_ERR_IO;
	}
	c->head = c->tail = NULL;
	c->queued = 0;
	free(req);
	cb(ctx, nfd, ch_buf_ptr(&c->in), ch_buf_len(&c->in));
	ch_debug("ctl=%lu routed", c->id);
	client_close(c);
	return CH_OK;
}

/* ---- start, stop ---- */

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sa->sun_path)) {
		ch_error("control socket path '%s': empty or longer than %zu "
			 "bytes", path, sizeof(sa->sun_path) - 1);
		return CH_ERR_INVAL;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return CH_OK;
}

/* A socket file nobody listens on (a hub that crashed) is removed; one
 * with a live listener means another hub: refuse, do not steal it. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return CH_OK;
		ch_log_errno(CH_LOG_ERROR, "control socket %s", path);
		return CH_ERR_IO;
	}
	if (!S_ISSOCK(st.st_mode)) {
		ch_error("control socket %s: exists and is not a socket; "
			 "not replacing it", path);
		return CH_ERR_EXISTS;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ch_log_errno(CH_LOG_ERROR, "control socket: socket");
		return CH_ERR_IO;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	err = errno;
	close(fd);
	/* EAGAIN: alive, with its accept backlog full */
	if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
		ch_error("control socket %s: another hub is listening there",
			 path);
		return CH_ERR_EXISTS;
	}
	if (err != ECONNREFUSED) {
		ch_log_write_errno(CH_LOG_ERROR, err, "control socket %s: "
				   "cannot probe it", path);
		return CH_ERR_IO;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		ch_log_errno(CH_LOG_ERROR, "control socket %s: cannot remove "
			     "the stale socket", path);
		return CH_ERR_IO;
	}
	ch_info("control socket %s: removed a stale socket", path);
	return CH_OK;
}

/* Socket, bind (mode 0600 from the first instant), listen: all before any
 * libuv handle exists, so failing here leaves nothing to close. */
static int bind_listen(const char *path, const struct sockaddr_un *sa,
		       int *fd_out, struct stat *st)
{
	int fd, r = CH_ERR_IO;

	*fd_out = -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ch_log_errno(CH_LOG_ERROR, "control socket: socket");
		return CH_ERR_IO;
	}
	/* Linux gives the socket file the socket inode's mode (less the
	 * umask): set it before bind so there is no window at 0777. */
	if (fchmod(fd, CTL_SOCKET_MODE) != 0) {
		ch_log_errno(CH_LOG_ERROR, "control socket: fchmod");
		goto out;
	}
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
		if (errno == EADDRINUSE) {	/* lost a race with a hub */
			ch_error("control socket %s: another hub took it",
				 path);
			r = CH_ERR_EXISTS;
		} else {
			ch_log_errno(CH_LOG_ERROR, "control socket %s: bind",
				     path);
		}
		goto out;
	}
	if (chmod(path, CTL_SOCKET_MODE) != 0 || lstat(path, st) != 0 ||
	    listen(fd, CH_CTL_BACKLOG) != 0) {
		ch_log_errno(CH_LOG_ERROR, "control socket %s", path);
		unlink(path);
		goto out;
	}
	*fd_out = fd;
	fd = -1;	/* transferred */
	r = CH_OK;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static void listener_closed(uv_handle_t *h)
{
	struct hub_ctl *ctl = h->data;

	ctl->listener_open = false;
	ctl_maybe_free(ctl);
}

/* Removes the socket file if it is still the one we bound. */
static void unlink_ours(struct hub_ctl *ctl)
{
	struct stat st;

	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
}

int hub_ctl_start(uv_loop_t *loop, const char *path,
		  const struct hub_ctl_ops *ops, struct hub_ctl **out)
{
	struct sockaddr_un sa;
	struct hub_ctl *ctl;
	struct stat st;
	int fd = -1, r;

	*out = NULL;
	if (path == NULL) {	/* a worker's: connections come adopted */
		if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
			return CH_ERR_NOMEM;
		ctl->loop = loop;
		ctl->ops = ops;
		*out = ctl;
		return CH_OK;
	}
	if ((r = fill_addr(path, &sa)) != CH_OK ||
	    (r = clear_stale(path, &sa)) != CH_OK ||
	    (r = bind_listen(path, &sa, &fd, &st)) != CH_OK)
		return r;
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->path = strdup(path)) == NULL) {
		free(ctl);
		unlink(path);
		close(fd);
		return CH_ERR_NOMEM;
	}
	ctl->loop = loop;
	ctl->ops = ops;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	uv_pipe_init(loop, &ctl->listener, 0);
	ctl->listener.data = ctl;
	ctl->listener_open = true;
	if ((r = uv_pipe_open(&ctl->listener, fd)) < 0) {
		close(fd);	/* not taken by the handle */
		goto fail;
	}
	/* listen() again inside libuv is harmless; this arms the watcher */
	if ((r = uv_listen((uv_stream_t *)&ctl->listener, CH_CTL_BACKLOG,
			   connection_cb)) < 0)
		goto fail;
	ch_info("control socket %s: listening", path);
	*out = ctl;
	return CH_OK;
fail:
	ch_log_uv(CH_LOG_ERROR, r, "control socket %s", path);
	/* the handle exists: it and ctl go on the next loop iteration */
	hub_ctl_stop(ctl);
	return CH_ERR_IO;
}

int hub_ctl_share(struct hub_ctl *ctl, gid_t gid)
{
	struct stat st;

	/* lchown: the path must still be our socket, never what a link
	 * would point to */
	if (lchown(ctl->path, (uid_t)-1, gid) != 0 ||
	    chmod(ctl->path, CTL_SOCKET_MODE_SHARED) != 0 ||
	    lstat(ctl->path, &st) != 0) {
		ch_log_errno(CH_LOG_ERROR, "control socket %s: cannot give it "
			     "to group %lu", ctl->path, (unsigned long)gid);
		return CH_ERR_IO;
	}
	if (st.st_dev != ctl->dev || st.st_ino != ctl->ino ||
	    !S_ISSOCK(st.st_mode)) {
		ch_error("control socket %s: replaced under us", ctl->path);
		return CH_ERR_IO;
	}
	ch_info("control socket %s: mode 0660, group %lu", ctl->path,
		(unsigned long)gid);
	return CH_OK;
}

void hub_ctl_stop(struct hub_ctl *ctl)
{
	if (ctl == NULL || ctl->stopping)
		return;
	if (ctl->ops->stop)
		ctl->ops->stop(ctl->ops->ctx);
	ctl->stopping = true;
	if (ctl->listener_open) {
		unlink_ours(ctl);
		uv_close((uv_handle_t *)&ctl->listener, listener_closed);
	}
	for (struct ctl_client *c = ctl->clients; c; c = c->next)
		client_close(c);
	ctl_maybe_free(ctl);	/* a worker's, with no client left */
}
