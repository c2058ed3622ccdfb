/* xport.c - the generic part of every transport kind: streams, the cap,
 * the owner's callbacks and the order of the end (xport_impl.h).
 */
#include "lib/xport/xport_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

static void soon_run(uv_timer_t *t);

int ch_text_set(char **dst, const char *src, size_t max)
{
	char *copy = NULL;

	if (src && (copy = ch_strndup(src, max)) == NULL)
		return CH_ERR_NOMEM;
	free(*dst);
	*dst = copy;
	return CH_OK;
}

static void stream_texts_free(struct ch_stream *s)
{
	for (size_t i = 0; s->env && i < s->req.nenv; i++)
		free(s->env[i]);
	free(s->env);
	free(s->name);
	free(s->orig_host);
	free(s->term);
	free(s->why);
}

int ch_xport_init(struct ch_xport *x, uv_loop_t *loop,
		  const struct ch_xport_impl *impl, enum ch_xport_role role,
		  const struct ch_xport_opts *o,
		  const struct ch_xport_ops *ops, void *owner)
{
	x->impl = impl;
	x->loop = loop;
	x->role = role;
	x->ops = ops;
	x->owner = owner;
	x->log = o && o->log ? o->log : &x->log_default;
	x->max_streams = o && o->max_streams ? o->max_streams
					     : CH_XPORT_MAX_STREAMS;
	x->peer_name = o && o->peer_name ? o->peer_name : "peer";
	x->own_key_name = o && o->own_key_name ? o->own_key_name : "our";
	x->next_stream_id = 1;
	x->why = "closed";
	if (uv_timer_init(loop, &x->soon) != 0)
		return CH_ERR_IO;
	x->soon.data = x;
	x->soon_open = 1;
	return CH_OK;
}

void *ch_xport_new(uv_loop_t *loop, int fd, const struct ch_xport_impl *impl,
		   enum ch_xport_role role, const struct ch_xport_opts *o,
		   const struct ch_xport_ops *ops, void *owner, size_t size,
		   struct ch_xport **xp)
{
	struct ch_xport *x;

	*xp = NULL;
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->impl_data = calloc(1, size)) == NULL) {
		free(x);
		close(fd);
		return NULL;
	}
	if (ch_xport_init(x, loop, impl, role, o, ops, owner) != CH_OK) {
		close(fd);
		ch_xport_abort(x);	/* frees impl_data too */
		return NULL;
	}
	*xp = x;
	return x->impl_data;
}

static void xport_free(struct ch_xport *x)
{
	free(x->why_buf);
	free(x->impl_data);
	free(x);
}

static void on_soon_closed_abort(uv_handle_t *h)
{
	xport_free(h->data);
}

void ch_xport_abort(struct ch_xport *x)
{
	if (x->soon_open) {
		x->soon_open = 0;
		uv_close((uv_handle_t *)&x->soon, on_soon_closed_abort);
	} else {
		xport_free(x);
	}
}

void ch_xport_kick(struct ch_xport *x)
{
	if (x->soon_open && !uv_is_active((uv_handle_t *)&x->soon))
		uv_timer_start(&x->soon, soon_run, 0, 0);
}

int ch_xport_identify(struct ch_xport *x, const struct ch_peer_id *id,
		      const char **why)
{
	*why = NULL;
	if (x->closing) {
		*why = x->why;
		return CH_ERR_CLOSED;
	}
	if (x->ops->identify == NULL) {
		*why = "no peer is accepted";
		return CH_ERR_DENIED;
	}
	if (x->ops->identify(x, id, why) == CH_OK)
		return CH_OK;
	if (*why == NULL)
		*why = "peer refused";
	return CH_ERR_DENIED;
}

void ch_xport_set_up(struct ch_xport *x)
{
	if (x->up || x->closing)
		return;
	x->up = 1;
	if (x->ops->up)
		x->ops->up(x);
}

static void stream_close(struct ch_stream *s, int hard)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->x->impl->stream_close(s, hard);
}

void ch_xport_close(struct ch_xport *x, const char *why)
{
	if (x->closing)
		return;
	x->closing = 1;
	x->why = why ? why : "closed";
	x->impl->deadline(x, 0, NULL);
	for (struct ch_stream *s = x->streams; s; s = s->next) {
		if (s->why == NULL)	/* the streams end for its reason */
			ch_text_set(&s->why, x->why, CH_STREAM_WHY_MAX);
		stream_close(s, 1);
	}
	ch_xport_kick(x);
}

void ch_xport_fail(struct ch_xport *x, const char *what, const char *detail)
{
	char buf[CH_XPORT_WHY_MAX];

	if (x->closing)
		return;
	snprintf(buf, sizeof(buf), "%s%s%s", what,
		 detail && *detail ? ": " : "", detail ? detail : "");
	ch_text_set(&x->why_buf, buf, sizeof(buf));
	ch_xport_close(x, x->why_buf ? x->why_buf : what);
}

static void on_soon_closed(uv_handle_t *h)
{
	struct ch_xport *x = h->data;

	if (x->ops->closed)
		x->ops->closed(x);
	xport_free(x);
}

void ch_xport_finish(struct ch_xport *x)
{
	/* closed() runs once the soon handle is closed too: nothing of x
	 * is left in the loop when the owner lets go. */
	if (x->soon_open) {
		x->soon_open = 0;
		uv_close((uv_handle_t *)&x->soon, on_soon_closed);
	}
}

static void stream_unlink_free(struct ch_stream *s)
{
	struct ch_xport *x = s->x;

	for (struct ch_stream **pp = &x->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			x->nstreams--;
			break;
		}
	}
	if (x->one == s)
		x->one = NULL;
	if (x->impl->stream_free)
		x->impl->stream_free(s);
	stream_texts_free(s);
	free(s);
}

/* Deferred work: opened() of the streams opened at once, the kind's own;
 * closed() of the streams the kind is done with; then, when the
 * connection is closing and no stream is left, down() and the kind's
 * teardown. */
static void soon_run(uv_timer_t *t)
{
	struct ch_xport *x = t->data;
	struct ch_stream *s, *next;

	/* A callback may close streams or open new ones (at the head): no
	 * stream is freed before the loop below. */
	for (s = x->streams; s && !x->closing; s = s->next) {
		if (s->open_due && !s->closing) {
			s->open_due = 0;
			ch_stream_opened(s, CH_OK, NULL);
		}
	}
	if (x->impl->soon && !x->torn_down)
		x->impl->soon(x);
	for (s = x->streams; s; s = next) {
		next = s->next;
		if (!s->gone)
			continue;
		if (s->cb && s->cb->closed && !s->told) {
			s->told = 1;
			s->cb->closed(s, ch_stream_why(s));
		}
		/* the callback may have closed other streams: restart */
		next = s->next;
		stream_unlink_free(s);
	}
	if (!x->closing || x->streams || x->torn_down)
		return;
	if (!x->down_told) {
		x->down_told = 1;
		if (x->ops->down)
			x->ops->down(x, x->why);
	}
	x->torn_down = 1;
	x->impl->teardown(x);
}

struct ch_stream *ch_stream_new(struct ch_xport *x,
				const struct ch_stream_req *req, int *capped)
{
	struct ch_stream *s;

	*capped = 0;
	if (x->closing)
		return NULL;
	if (x->nstreams >= x->max_streams) {
		*capped = 1;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->x = x;
	s->id = x->next_stream_id++;
	s->req = *req;
	s->req.env = NULL;
	s->req.nenv = 0;
	if (ch_text_set(&s->name, req->name, CH_STREAM_NAME_MAX) != CH_OK ||
	    ch_text_set(&s->orig_host, req->orig_host,
			CH_STREAM_NAME_MAX) != CH_OK ||
	    ch_text_set(&s->term, req->term, CH_STREAM_TERM_MAX) != CH_OK) {
		stream_texts_free(s);
		free(s);
		return NULL;
	}
	s->req.name = s->name;
	s->req.orig_host = s->orig_host;
	s->req.term = s->term;
	for (size_t i = 0; i < req->nenv; i++) {
		const char *eq = strchr(req->env[i], '=');
		char name[CH_STREAM_ENV_LEN];
		int r;

		if (eq == NULL || (size_t)(eq - req->env[i]) >= sizeof(name))
			continue;	/* not NAME=VALUE: not sent */
		memcpy(name, req->env[i], (size_t)(eq - req->env[i]));
		name[eq - req->env[i]] = '\0';
		r = ch_stream_env_add(s, name, eq + 1);
		if (r == CH_ERR_NOMEM) {
			stream_texts_free(s);
			free(s);
			return NULL;
		}
	}
	s->log = ch_logctx_chan(x->log, s->id);
	s->next = x->streams;
	x->streams = s;
	x->nstreams++;
	return s;
}

int ch_stream_env_add(struct ch_stream *s, const char *name,
		      const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	char **env;
	char *e;

	if (nl == 0 || strchr(name, '=') != NULL)
		return CH_ERR_INVAL;
	if (s->req.nenv >= CH_STREAM_ENV_MAX || nl + 1 + vl >= CH_STREAM_ENV_LEN)
		return CH_ERR_LIMIT;
	if (s->env == NULL &&
	    (s->env = calloc(CH_STREAM_ENV_MAX, sizeof(*s->env))) == NULL)
		return CH_ERR_NOMEM;
	if ((e = malloc(nl + 1 + vl + 1)) == NULL)
		return CH_ERR_NOMEM;
	memcpy(e, name, nl);
	e[nl] = '=';
	memcpy(e + nl + 1, value, vl + 1);
	env = s->env;
	env[s->req.nenv++] = e;
	s->req.env = (const char *const *)env;
	return CH_OK;
}

int ch_stream_env_offer(struct ch_stream *s, const char *name,
			const char *value)
{
	struct ch_xport *x = s->x;
	int r;

	if (x->closing || x->ops->env == NULL || name == NULL || value == NULL)
		return CH_ERR_DENIED;
	if ((r = x->ops->env(x, s, name, value)) != CH_OK)
		return r;
	if ((r = ch_stream_env_add(s, name, value)) != CH_OK)
		ch_clog_rl(CH_LOG_WARN, &s->log, "env %s refused: %s", name,
			   r == CH_ERR_LIMIT ? "too many or too long (at most "
			   CH_STR(CH_STREAM_ENV_MAX) " of "
			   CH_STR(CH_STREAM_ENV_LEN) " B)" : ch_strerror(r));
	return r;
}

int ch_stream_signal_name_ok(const char *name)
{
	size_t i;

	if (name == NULL || *name == '\0' ||
	    strlen(name) > CH_STREAM_SIGNAL_NAME_MAX)
		return 0;
	for (i = 0; name[i] && name[i] != '@'; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return 0;
	if (i == 0)
		return 0;
	if (name[i] == '@') {
		if (name[i + 1] == '\0')
			return 0;
		for (i++; name[i]; i++)
			if (name[i] <= ' ' || name[i] > '~')
				return 0;
	}
	return 1;
}

int ch_stream_offer(struct ch_stream *s)
{
	struct ch_xport *x = s->x;
	const char *why = NULL;
	int r;

	if (x->closing || x->ops->accept == NULL)
		return CH_ERR_DENIED;
	r = x->ops->accept(x, s, &s->req, &why);
	if (r == CH_OK && s->cb == NULL)
		r = CH_ERR_INVAL;	/* taken without callbacks: a bug */
	if (r != CH_OK) {
		s->cb = NULL;
		ch_clog(CH_LOG_INFO, &s->log, "refused: %s",
			why ? why : "not offered");
	}
	return r;
}

void ch_stream_opened(struct ch_stream *s, int status, const char *why)
{
	if (s->cb && s->cb->opened)
		s->cb->opened(s, status, why);
}

void ch_stream_gone(struct ch_stream *s, const char *why)
{
	if (s->gone)
		return;
	s->gone = 1;
	s->closing = 1;
	if (why && why != s->why)	/* a kind may hand back s->why */
		ch_text_set(&s->why, why, CH_STREAM_WHY_MAX);
	if (s->why == NULL)
		s->why = strdup("closed");	/* NULL still reads "" */
	ch_xport_kick(s->x);
}

void ch_stream_open_soon(struct ch_stream *s)
{
	s->open_due = 1;
	ch_xport_kick(s->x);
}

int ch_stream_may_read(const struct ch_stream *s)
{
	return s && s->cb && !s->open_due && !s->paused && !s->closing &&
	       !s->gone;
}

/* ---- kinds that carry one stream ---- */

int ch_xport_open_one(struct ch_xport *x, struct ch_stream *s,
		      enum ch_stream_type type)
{
	if (s->req.type != type || x->one != NULL)
		return CH_ERR_INVAL;
	x->one = s;
	ch_stream_open_soon(s);
	return CH_OK;
}

void ch_xport_offer_one(struct ch_xport *x, const struct ch_stream_req *req)
{
	struct ch_stream *s;
	int capped;

	if ((s = ch_stream_new(x, req, &capped)) == NULL) {
		ch_xport_close(x, "out of memory");
		return;
	}
	x->one = s;
	if (ch_stream_offer(s) != CH_OK) {
		ch_stream_gone(s, "refused");
		ch_xport_close(x, "the stream was refused");
	}
}

void ch_xport_one_gone(struct ch_stream *s, const char *why)
{
	struct ch_xport *x = s->x;

	ch_stream_gone(s, x->closing ? x->why : why);
	ch_xport_fail(x, ch_stream_why(s), NULL);
}

/* ---- the public API ---- */

void ch_xport_deadline(struct ch_xport *x, uint64_t ms, const char *why)
{
	if (!x->closing)
		x->impl->deadline(x, ms, why);
}

int ch_xport_keepalive(struct ch_xport *x, uint32_t interval_ms,
		       uint32_t count)
{
	if (x->impl->keepalive == NULL)
		return CH_ERR_INVAL;
	return x->impl->keepalive(x, interval_ms, count);
}

int ch_xport_open(struct ch_xport *x, const struct ch_stream_req *req,
		  const struct ch_stream_cb *cb, void *ctx,
		  struct ch_stream **out)
{
	struct ch_stream *s;
	int capped, r;

	*out = NULL;
	if (!x->up || x->closing || x->role != CH_XPORT_CLIENT ||
	    x->impl->open == NULL)
		return CH_ERR_INVAL;
	if ((s = ch_stream_new(x, req, &capped)) == NULL)
		return capped ? CH_ERR_LIMIT : CH_ERR_NOMEM;
	s->cb = cb;
	s->ctx = ctx;
	if ((r = x->impl->open(x, s)) != CH_OK) {
		stream_unlink_free(s);
		return r;
	}
	*out = s;
	return CH_OK;
}

enum ch_xport_kind ch_xport_kind(const struct ch_xport *x)
{
	return x->impl->kind;
}

enum ch_xport_role ch_xport_role(const struct ch_xport *x) { return x->role; }
const char *ch_xport_name(const struct ch_xport *x) { return x->impl->name; }
void *ch_xport_owner(const struct ch_xport *x) { return x->owner; }
const struct ch_logctx *ch_xport_log(const struct ch_xport *x) { return x->log; }
int ch_xport_is_up(const struct ch_xport *x) { return x->up && !x->closing; }
size_t ch_xport_nstreams(const struct ch_xport *x) { return x->nstreams; }

uint64_t ch_xport_rx_bytes(const struct ch_xport *x)
{
	return x->impl->rx_bytes ? x->impl->rx_bytes(x) : 0;
}

ssh_session ch_xport_ssh(const struct ch_xport *x)
{
	return x->impl->ssh ? x->impl->ssh(x) : NULL;
}

struct ch_tls *ch_xport_tls(const struct ch_xport *x)
{
	return x->impl->tls ? x->impl->tls(x) : NULL;
}

void ch_stream_set_cb(struct ch_stream *s, const struct ch_stream_cb *cb,
		      void *ctx)
{
	s->cb = cb;
	s->ctx = ctx;
}

int ch_stream_write(struct ch_stream *s, const void *p, size_t n)
{
	if (s->closing || s->gone)
		return CH_ERR_CLOSED;
	if (n == 0)
		return CH_OK;
	return s->x->impl->write(s, p, n);
}

int ch_stream_write_err(struct ch_stream *s, const void *p, size_t n)
{
	if (s->closing || s->gone)
		return CH_ERR_CLOSED;
	if (n == 0)
		return CH_OK;
	if (s->x->impl->write_err == NULL || s->x->role != CH_XPORT_SERVER)
		return s->x->impl->write(s, p, n);
	return s->x->impl->write_err(s, p, n);
}

size_t ch_stream_pending(const struct ch_stream *s)
{
	return s->gone ? 0 : s->x->impl->pending(s);
}

void ch_stream_pause(struct ch_stream *s, int paused)
{
	if (s->gone)
		return;
	s->paused = paused != 0;
	s->x->impl->pause(s, paused);
}

void ch_stream_eof(struct ch_stream *s)
{
	if (!s->closing && !s->gone)
		s->x->impl->eof(s);
}

void ch_stream_exit_status(struct ch_stream *s, int status)
{
	if (!s->closing && !s->gone && s->x->impl->exit_status)
		s->x->impl->exit_status(s, status);
}

void ch_stream_exit_signal(struct ch_stream *s, const char *signal, int core,
			   const char *msg)
{
	if (!s->closing && !s->gone && s->x->impl->exit_signal &&
	    ch_stream_signal_name_ok(signal))
		s->x->impl->exit_signal(s, signal, core, msg);
}

int ch_stream_signal(struct ch_stream *s, const char *name)
{
	if (s->x->role != CH_XPORT_CLIENT || s->x->impl->signal == NULL ||
	    (s->req.type != CH_STREAM_SHELL && s->req.type != CH_STREAM_EXEC) ||
	    !ch_stream_signal_name_ok(name))
		return CH_ERR_INVAL;
	if (s->closing || s->gone)
		return CH_ERR_CLOSED;
	return s->x->impl->signal(s, name);
}

void ch_stream_resize(struct ch_stream *s, uint32_t cols, uint32_t rows)
{
	if (!s->closing && !s->gone && s->x->role == CH_XPORT_CLIENT &&
	    s->req.pty && s->x->impl->resize)
		s->x->impl->resize(s, cols, rows);
}

void ch_stream_close(struct ch_stream *s, int hard, const char *why)
{
	if (s->closing || s->gone)
		return;
	if (why)
		ch_text_set(&s->why, why, CH_STREAM_WHY_MAX);
	stream_close(s, hard);
}

unsigned ch_stream_id(const struct ch_stream *s) { return s->id; }

const struct ch_stream_req *ch_stream_req(const struct ch_stream *s)
{
	return &s->req;
}

struct ch_xport *ch_stream_xport(const struct ch_stream *s) { return s->x; }
void *ch_stream_ctx(const struct ch_stream *s) { return s->ctx; }
const struct ch_logctx *ch_stream_log(const struct ch_stream *s)
{
	return &s->log;
}
