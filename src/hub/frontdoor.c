/* frontdoor.c - the NETCONF front door (frontdoor.h).
 *
 * Life of a session: the client's `netconf` subsystem request comes to
 * accept(); the checks pass, the device is asked for a netconf channel
 * and the client's channel is paused until opened() says the device took
 * it; then bytes flow both ways unchanged, each direction pausing the
 * other side's channel while CH_FD_QUEUE_HIGH waits towards it (resumed
 * when that queue drains). Either side's EOF is passed on; either side's
 * close closes the other once its queue is out. The session's audit
 * record comes when both channels are gone.
 */
#include "hub/frontdoor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/device.h"
#include "hub/hub.h"
#include "hub/listener.h"
#include "hub/opkeys.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/frame.h"
#include "lib/nc/msg.h"
#include "lib/xport/xport.h"

#define FD_VIA "front-door"
#define FD_BASE11 "urn:ietf:params:netconf:base:1.1"

struct fdconn;

struct frontdoor {
	struct hub *hub;
	ssh_bind bind;
	char host_fp[CH_FP_LEN];
	struct opkeys *keys;
	struct listener *listeners;
	struct fdconn *conns;
	size_t nconns;
	struct fdsess *sessions;
	size_t nsessions;
	unsigned next_conn;
	int stopping;
};

/* One client's SSH connection. */
struct fdconn {
	struct frontdoor *fd;
	struct fdconn *prev, *next;
	struct ch_xport *x;
	struct ch_logctx log;
	char peer[CH_ADDRSTR_LEN];
	const struct opkey *key;	/* once authenticated */
	char key_fp[CH_FP_LEN];
	char user[CH_STREAM_NAME_MAX];
	char op[CH_ACTOR_NAME_MAX];	/* named in the user name, or "" */
	char dev[CH_STREAM_NAME_MAX];	/* the device part */
	int refusal_audited;		/* a refused key, once per connection */
	unsigned nsess;
	uint64_t touched;		/* ms: the idle deadline was set */
};

/* One NETCONF session: the client's channel and the device's. */
struct fdsess {
	struct frontdoor *fd;
	struct fdsess *prev, *next;
	struct fdconn *c;		/* NULL once the client's channel is
					 * gone */
	struct ch_stream *cs, *ds;	/* NULL once gone */
	int started;			/* the device took the channel */
	int refused;
	int cs_paused, ds_paused;
	struct hub_actor who;
	char fp[CH_FP_LEN];		/* "" before the device is resolved */
	char label[CH_STREAM_NAME_MAX];	/* its name, or what was asked */
	char peer[CH_ADDRSTR_LEN];
	char why[CH_STREAM_WHY_MAX];
	uint64_t since;
	uint64_t bytes_in, bytes_out;	/* from, to the client */
	/* the rpc count: the client's messages after its hello, framed as
	 * the two hellos decide */
	struct ch_frame *cf, *df;
	int c_hello, d_hello, c11, d11;
	uint64_t rpcs;
	const char *count_lost;		/* why counting stopped, or NULL */
};

/* ---- audit and events ---- */

static void actor(struct hub_actor *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->via, sizeof(a->via), FD_VIA);
	snprintf(a->name, sizeof(a->name), "%s", name && *name ? name
						    : "unknown");
	a->uid = -1;
	a->pid = -1;
}

static void record(struct fdsess *se, const char *action, const char *outcome,
		   const char *text, const struct hub_audit_extra *x)
{
	struct hub *hub = se->fd->hub;
	const char *fp = se->fp[0] ? se->fp : NULL;

	hub_event(hub, fp, "netconf", text);
	hub_audit_x(hub, &se->who, fp, action, outcome, text, x);
}

static void count_free(struct fdsess *se)
{
	ch_frame_free(se->cf);
	ch_frame_free(se->df);
	se->cf = se->df = NULL;
}

static void session_ended(struct fdsess *se)
{
	struct frontdoor *fd = se->fd;
	struct hub_audit_extra x = HUB_AUDIT_EXTRA_NONE;
	char text[CH_STORE_TEXT_MAX], rpcs[96];
	uint64_t ms = uv_now(fd->hub->loop) - se->since;

	if (se->started) {
		if (se->count_lost)
			snprintf(rpcs, sizeof(rpcs), "at least %llu rpcs "
				 "(count stopped: %s)",
				 (unsigned long long)se->rpcs, se->count_lost);
		else
			snprintf(rpcs, sizeof(rpcs), "%llu rpcs",
				 (unsigned long long)se->rpcs);
		snprintf(text, sizeof(text), "front-door netconf session on "
			 "%s ended (%s from %s): %s, %llu bytes in, %llu out, "
			 "%.1f s; %s", se->label, se->who.name, se->peer, rpcs,
			 (unsigned long long)se->bytes_in,
			 (unsigned long long)se->bytes_out, (double)ms / 1000,
			 se->why[0] ? se->why : "closed");
		x.bytes_in = (int64_t)se->bytes_in;
		x.bytes_out = (int64_t)se->bytes_out;
		x.duration_ms = (int64_t)ms;
		ch_info("%s", text);
		record(se, "netconf-end", "ok", text, &x);
	}
	if (se->prev)
		se->prev->next = se->next;
	else
		fd->sessions = se->next;
	if (se->next)
		se->next->prev = se->prev;
	fd->nsessions--;
	count_free(se);
	free(se);
}

static void maybe_end(struct fdsess *se)
{
	if (se->cs == NULL && se->ds == NULL)
		session_ended(se);
}

/* The client is shown reason instead of a hello; the refusal is
 * recorded. Only before any byte of the device's went to the client. */
static void refuse(struct fdsess *se, const char *reason)
{
	char line[CH_FD_REASON_MAX], text[CH_STORE_TEXT_MAX];
	int n;

	se->refused = 1;
	n = snprintf(line, sizeof(line), "callhome-hub: refused: %s\n", reason);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	snprintf(text, sizeof(text), "front-door netconf session on %s "
		 "refused (%s from %s, user '%s'): %s", se->label,
		 se->who.name, se->peer, se->c ? se->c->user : "?", reason);
	if (se->c)
		ch_clog(CH_LOG_INFO, &se->c->log, "%s", text);
	else
		ch_info("%s", text);
	record(se, "netconf-start", "refused", text, NULL);
	if (se->cs) {
		/* closed when the client's hello comes (cs_data): a client
		 * that sends it after the subsystem's success would otherwise
		 * meet a closed channel and show that instead of the line */
		snprintf(se->why, sizeof(se->why), "refused: %s", reason);
		ch_stream_pause(se->cs, 0);
		ch_stream_write(se->cs, line, (size_t)n);
		ch_stream_exit_status(se->cs, 1);
		if (se->c && se->c->nsess == 1)
			ch_xport_deadline(se->c->x, CH_FD_REFUSED_LINGER_MS,
					  "a refused client did not leave");
	}
	if (se->ds)
		ch_stream_close(se->ds, 1, "refused");
}

/* ---- the rpc count ---- */

static int has_base11(const char *msg, size_t len, int *yes)
{
	struct ch_hello h;

	*yes = 0;
	if (ch_hello_parse(msg, len, &h) != CH_OK)
		return -1;
	for (size_t i = 0; i < h.ncaps; i++)
		if (strcmp(h.caps[i], FD_BASE11) == 0)
			*yes = 1;
	ch_hello_cleanup(&h);
	return 0;
}

static void count_stop(struct fdsess *se, const char *why)
{
	if (se->count_lost == NULL)
		se->count_lost = why;
	count_free(se);
}

/* The device's hello, when its decoder holds it: then the decoder goes.
 * 0, or -1 when counting stopped. */
static int count_device_hello(struct fdsess *se)
{
	char *msg;
	size_t len;
	int r;

	if (se->df == NULL || se->d_hello)
		return 0;
	r = ch_frame_next(se->df, &msg, &len);
	if (r == CH_ERR_AGAIN)
		return 0;
	if (r != CH_OK) {
		count_stop(se, "the device's framing");
		return -1;
	}
	r = has_base11(msg, len, &se->d11);
	free(msg);
	if (r != 0) {
		count_stop(se, "the device's hello did not parse");
		return -1;
	}
	se->d_hello = 1;
	ch_frame_free(se->df);
	se->df = NULL;
	if (se->c_hello && se->c11 && se->d11 && se->cf)
		ch_frame_set_mode(se->cf, CH_FRAME_CHUNKED);
	return 0;
}

/* Takes what the decoders hold: the device's hello, the client's hello,
 * and after both the client's messages in the framing both chose (the
 * client's next messages wait in its decoder until the device's hello
 * says which). */
static void count_run(struct fdsess *se)
{
	char *msg;
	size_t len;
	int r;

	if (count_device_hello(se) != 0)
		return;
	while (se->cf && !(se->c_hello && !se->d_hello)) {
		r = ch_frame_next(se->cf, &msg, &len);
		if (r == CH_ERR_AGAIN)
			return;
		if (r != CH_OK) {
			count_stop(se, r == CH_ERR_LIMIT
				   ? "a message past --max-message"
				   : "the client's framing");
			return;
		}
		if (se->c_hello) {
			se->rpcs++;
			free(msg);
			continue;
		}
		r = has_base11(msg, len, &se->c11);
		free(msg);
		if (r != 0) {
			count_stop(se, "the client's hello did not parse");
			return;
		}
		se->c_hello = 1;
		if (se->d_hello && se->c11 && se->d11)
			ch_frame_set_mode(se->cf, CH_FRAME_CHUNKED);
	}
}

static void count_feed(struct fdsess *se, struct ch_frame *f, const char *p,
		       size_t n)
{
	if (f == NULL)
		return;
	if (ch_frame_feed(f, p, n) != CH_OK) {
		count_stop(se, "a message past --max-message");
		return;
	}
	count_run(se);
}

/* ---- the relay ---- */

/* Activity: the connection's idle deadline starts again (at most once a
 * second: a deadline costs a timer restart). */
static void touch(struct fdconn *c)
{
	struct hub *hub = c->fd->hub;
	uint64_t now = uv_now(hub->loop);

	if (now - c->touched < 1000)
		return;
	c->touched = now;
	ch_xport_deadline(c->x, 1000ull * hub->cfg.front_door_idle_s,
			  "idle: no byte either way (--front-door-idle)");
}

/* Writes to one side; past CH_FD_QUEUE_HIGH the other side is paused. */
static void relay(struct fdsess *se, struct ch_stream *to,
		  struct ch_stream *from, int *from_paused, const char *p,
		  size_t n)
{
	if (to == NULL)
		return;
	if (ch_stream_write(to, p, n) != CH_OK) {
		snprintf(se->why, sizeof(se->why), "cannot queue to the %s",
			 to == se->ds ? "device" : "client");
		ch_stream_close(to, 1, se->why);
		ch_stream_close(from, 1, se->why);
		return;
	}
	if (!*from_paused && ch_stream_pending(to) > CH_FD_QUEUE_HIGH) {
		*from_paused = 1;
		ch_stream_pause(from, 1);
	}
}

static void cs_data(struct ch_stream *s, const char *p, size_t n)
{
	struct fdsess *se = ch_stream_ctx(s);

	if (se->refused) {	/* its hello came: the line is out */
		ch_stream_close(s, 0, se->why);
		return;
	}
	if (!se->started)
		return;
	se->bytes_in += n;
	if (se->c)
		touch(se->c);
	count_feed(se, se->cf, p, n);
	relay(se, se->ds, s, &se->cs_paused, p, n);
}

static void ds_data(struct ch_stream *s, const char *p, size_t n)
{
	struct fdsess *se = ch_stream_ctx(s);

	if (se->refused)
		return;
	se->bytes_out += n;
	if (se->c)
		touch(se->c);
	if (se->df)
		count_feed(se, se->df, p, n);
	relay(se, se->cs, s, &se->ds_paused, p, n);
}

static void cs_drained(struct ch_stream *s)
{
	struct fdsess *se = ch_stream_ctx(s);

	if (se->ds_paused && se->ds) {
		se->ds_paused = 0;
		ch_stream_pause(se->ds, 0);
	}
}

static void ds_drained(struct ch_stream *s)
{
	struct fdsess *se = ch_stream_ctx(s);

	if (se->cs_paused && se->cs && se->started) {
		se->cs_paused = 0;
		ch_stream_pause(se->cs, 0);
	}
}

static void cs_eof(struct ch_stream *s)
{
	struct fdsess *se = ch_stream_ctx(s);

	if (se->refused)
		ch_stream_close(s, 0, se->why);
	else if (se->ds && se->started)
		ch_stream_eof(se->ds);
	else if (se->ds)
		ch_stream_close(se->ds, 1, "the client left");
}

static void ds_eof(struct ch_stream *s)
{
	struct fdsess *se = ch_stream_ctx(s);

	if (se->cs && !se->refused)
		ch_stream_eof(se->cs);
}

static void conn_session_gone(struct fdconn *c)
{
	if (--c->nsess == 0 && !c->fd->stopping)
		ch_xport_deadline(c->x, CH_FD_NOSESSION_MS,
				  "no NETCONF session open");
}

static void cs_closed(struct ch_stream *s, const char *why)
{
	struct fdsess *se = ch_stream_ctx(s);

	se->cs = NULL;
	if (!se->why[0])
		snprintf(se->why, sizeof(se->why), "client: %s",
			 why ? why : "closed");
	if (se->c)
		conn_session_gone(se->c);
	se->c = NULL;
	if (se->ds)
		ch_stream_close(se->ds, 0, "the client closed its session");
	maybe_end(se);
}

static void ds_closed(struct ch_stream *s, const char *why)
{
	struct fdsess *se = ch_stream_ctx(s);

	se->ds = NULL;
	if (!se->why[0])
		snprintf(se->why, sizeof(se->why), "device: %s",
			 why ? why : "closed");
	if (se->cs && !se->started && !se->refused) {
		char reason[CH_FD_REASON_MAX];	/* closed before it opened */

		snprintf(reason, sizeof(reason), "device %s: %s", se->label,
			 why ? why : "closed");
		refuse(se, reason);
	}
	else if (se->cs)
		ch_stream_close(se->cs, 0, se->why);
	maybe_end(se);
}

static void ds_opened(struct ch_stream *s, int status, const char *why)
{
	struct fdsess *se = ch_stream_ctx(s);
	char text[CH_STORE_TEXT_MAX], reason[CH_FD_REASON_MAX];

	if (se->refused || se->cs == NULL)
		return;
	if (status != CH_OK) {
		snprintf(reason, sizeof(reason), "device %s refused the "
			 "netconf channel: %s", se->label, why ? why : "?");
		refuse(se, reason);
		return;
	}
	se->started = 1;
	se->since = uv_now(se->fd->hub->loop);
	snprintf(text, sizeof(text), "front-door netconf session on %s "
		 "started (%s from %s, key %s)", se->label, se->who.name,
		 se->peer, se->c ? se->c->key_fp : "?");
	ch_clog(CH_LOG_INFO, ch_stream_log(se->cs), "%s", text);
	record(se, "netconf-start", "ok", text, NULL);
	se->cs_paused = 0;
	ch_stream_pause(se->cs, 0);
}

static const struct ch_stream_cb client_cb = {
	.data = cs_data,
	.eof = cs_eof,
	.drained = cs_drained,
	.closed = cs_closed,
};

static const struct ch_stream_cb device_cb = {
	.opened = ds_opened,
	.data = ds_data,
	.eof = ds_eof,
	.drained = ds_drained,
	.closed = ds_closed,
};

/* ---- a session's checks ---- */

static size_t count_sessions(const struct frontdoor *fd, const char *op,
			     const char *fp)
{
	size_t n = 0;

	for (const struct fdsess *se = fd->sessions; se; se = se->next)
		if (!se->refused && (op == NULL ||
		    strcmp(se->who.name, op) == 0) &&
		    (fp == NULL || strcmp(se->fp, fp) == 0))
			n++;
	return n;
}

/* Every check before the device is asked; a reason when refused. */
static int check(struct fdsess *se, char *reason, size_t size,
		 struct device **out)
{
	struct fdconn *c = se->c;
	struct frontdoor *fd = c->fd;
	struct hub *hub = fd->hub;
	const char *op = opkey_operator(c->key);
	struct ch_device_rec rec;
	int r;

	*out = NULL;
	if (c->op[0] && strcmp(c->op, op) != 0) {
		snprintf(reason, size, "the user name names operator '%s' but "
			 "the key is operator '%s''s", c->op, op);
		return -1;
	}
	if (!opkey_reaches(c->key, c->dev) && strncmp(c->dev, "SHA256:", 7)) {
		snprintf(reason, size, "operator '%s' may not reach device "
			 "'%s'", op, c->dev);
		return -1;
	}
	r = ch_store_device_resolve(hub->store, c->dev, se->fp);
	if (r == CH_OK)
		r = ch_store_device_get(hub->store, se->fp, &rec);
	if (r != CH_OK) {
		se->fp[0] = '\0';
		snprintf(reason, size, r == CH_ERR_AMBIGUOUS
			 ? "'%s' matches several devices: give more of the "
			   "fingerprint" : "no device named '%s' or with that "
			   "fingerprint", c->dev);
		return -1;
	}
	snprintf(se->label, sizeof(se->label), "%s", rec.name[0] ? rec.name
								 : se->fp);
	if (!opkey_reaches(c->key, rec.name)) {
		snprintf(reason, size, "operator '%s' may not reach device "
			 "'%s'", op, se->label);
		return -1;
	}
	if (rec.admission != CH_ADMIT_ADMITTED) {
		snprintf(reason, size, "device %s is %s, not admitted",
			 se->label, ch_admission_name(rec.admission));
		return -1;
	}
	if ((*out = hub_find_device(hub, se->fp)) == NULL) {
		snprintf(reason, size, "device %s is offline: it has no "
			 "call-home connection up", se->label);
		return -1;
	}
	if (fd->nsessions > CH_FD_MAX_SESSIONS) {
		snprintf(reason, size, "the front door carries "
			 CH_STR(CH_FD_MAX_SESSIONS) " sessions already");
		return -1;
	}
	if (count_sessions(fd, op, NULL) > CH_FD_OPERATOR_SESSIONS) {
		snprintf(reason, size, "operator '%s' holds "
			 CH_STR(CH_FD_OPERATOR_SESSIONS) " sessions already",
			 op);
		return -1;
	}
	if (count_sessions(fd, NULL, se->fp) > CH_FD_DEVICE_SESSIONS) {
		snprintf(reason, size, "device %s carries "
			 CH_STR(CH_FD_DEVICE_SESSIONS) " front-door sessions "
			 "already", se->label);
		return -1;
	}
	return 0;
}

/* ---- the connection ---- */

static int fd_identify(struct ch_xport *x, const struct ch_peer_id *id,
		       const char **why)
{
	struct fdconn *c = ch_xport_owner(x);
	const struct opkey *k = opkeys_find(c->fd->keys, id->key);
	char op[CH_ACTOR_NAME_MAX], dev[CH_STREAM_NAME_MAX];
	char text[CH_STORE_TEXT_MAX];
	struct hub_actor who;

	if (k == NULL) {
		ch_clog_rl(CH_LOG_WARN, &c->log, "key %s for user '%.64s' is "
			   "not an operator key", id->key_fp, id->user);
		if (!c->refusal_audited) {
			c->refusal_audited = 1;
			actor(&who, NULL);
			snprintf(text, sizeof(text), "front door: key %s (user "
				 "'%.64s', from %s) is not an operator key",
				 id->key_fp, id->user, c->peer);
			hub_event(c->fd->hub, NULL, "netconf", text);
			hub_audit(c->fd->hub, &who, NULL, "netconf-auth",
				  "refused", text);
		}
		*why = "not an operator key";
		return CH_ERR_DENIED;
	}
	if (opkeys_user_parse(id->user, op, sizeof(op), dev, sizeof(dev)) !=
	    CH_OK) {
		ch_clog_rl(CH_LOG_WARN, &c->log, "user name '%.64s' is not "
			   "DEVICE or OPERATOR+DEVICE", id->user);
		*why = "bad user name";
		return CH_ERR_DENIED;
	}
	if (id->probe)
		return CH_OK;
	c->key = k;
	snprintf(c->key_fp, sizeof(c->key_fp), "%s", id->key_fp);
	snprintf(c->user, sizeof(c->user), "%s", id->user);
	snprintf(c->op, sizeof(c->op), "%s", op);
	snprintf(c->dev, sizeof(c->dev), "%s", dev);
	ch_clog(CH_LOG_INFO, &c->log, "operator '%s' authenticated with key "
		"%s as user '%s'", opkey_operator(k), id->key_fp, id->user);
	return CH_OK;
}

static void fd_up(struct ch_xport *x)
{
	struct fdconn *c = ch_xport_owner(x);
	struct hub *hub = c->fd->hub;

	ch_xport_deadline(x, CH_FD_NOSESSION_MS, "no NETCONF session open");
	if (hub->cfg.keepalive_ms)
		ch_xport_keepalive(x, hub->cfg.keepalive_ms,
				   hub->cfg.keepalive_count);
}

static int fd_accept(struct ch_xport *x, struct ch_stream *s,
		     const struct ch_stream_req *req, const char **why)
{
	struct fdconn *c = ch_xport_owner(x);
	struct frontdoor *fd = c->fd;
	struct ch_stream_req dreq = {
		.type = CH_STREAM_SUBSYSTEM,
		.name = "netconf",
	};
	char reason[CH_FD_REASON_MAX];
	struct fdsess *se;
	struct device *d;
	const char *dwhy;

	if (req->type != CH_STREAM_SUBSYSTEM ||
	    strcmp(req->name, "netconf") != 0) {
		*why = "only the netconf subsystem is served here";
		return CH_ERR_DENIED;
	}
	if ((se = calloc(1, sizeof(*se))) == NULL) {
		*why = "out of memory";
		return CH_ERR_NOMEM;
	}
	se->fd = fd;
	se->c = c;
	se->cs = s;
	se->since = uv_now(fd->hub->loop);
	actor(&se->who, opkey_operator(c->key));
	snprintf(se->label, sizeof(se->label), "%s", c->dev);
	snprintf(se->peer, sizeof(se->peer), "%s", c->peer);
	se->next = fd->sessions;
	if (fd->sessions)
		fd->sessions->prev = se;
	fd->sessions = se;
	fd->nsessions++;
	c->nsess++;
	touch(c);
	ch_stream_set_cb(s, &client_cb, se);
	ch_stream_pause(s, 1);		/* until the device's channel opens */
	se->cs_paused = 1;
	if (check(se, reason, sizeof(reason), &d) != 0) {
		refuse(se, reason);
		return CH_OK;
	}
	if (device_open_stream(d, &dreq, &device_cb, se, &se->ds, &dwhy) !=
	    CH_OK) {
		snprintf(reason, sizeof(reason), "device %s: %s", se->label,
			 dwhy ? dwhy : "cannot open a channel");
		se->ds = NULL;
		refuse(se, reason);
		return CH_OK;
	}
	se->cf = ch_frame_new(fd->hub->cfg.max_message);
	se->df = ch_frame_new(fd->hub->cfg.max_message);
	if (se->cf == NULL || se->df == NULL)
		count_stop(se, "out of memory");
	return CH_OK;
}

static void fd_down(struct ch_xport *x, const char *why)
{
	struct fdconn *c = ch_xport_owner(x);

	ch_clog(CH_LOG_INFO, &c->log, "front-door connection closed: %s",
		why);
}

static void fd_closed(struct ch_xport *x)
{
	struct fdconn *c = ch_xport_owner(x);
	struct frontdoor *fd = c->fd;

	if (c->prev)
		c->prev->next = c->next;
	else
		fd->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	fd->nconns--;
	free(c);
}

static const struct ch_xport_ops fd_ops = {
	.identify = fd_identify,
	.up = fd_up,
	.accept = fd_accept,
	.down = fd_down,
	.closed = fd_closed,
};

static void on_accepted(void *ctx, struct listener *l, int fd_,
			const char *peer, const struct sockaddr *sa)
{
	struct frontdoor *fd = ctx;
	struct fdconn *c;
	struct ch_xport_opts o = {
		.max_streams = CH_FD_CONN_STREAMS,
		.peer_name = "client",
		.bind = fd->bind,
		.max_auth_tries = CH_XPORT_MAX_AUTH_TRIES,
	};
	int one = 1;

	(void)sa;
	if (fd->stopping || fd->nconns >= CH_FD_MAX_CONNS) {
		ch_log_rl(CH_LOG_WARN, "front door %s: %zu connections, "
			  "refusing %s (%llu refused)", listener_addr(l),
			  fd->nconns, peer,
			  (unsigned long long)listener_refused(l) + 1);
		close(fd_);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd_);
		return;
	}
	setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->log.conn = fd->hub->next_conn_id++;
	c->log.peer = c->peer;
	o.log = &c->log;
	if (ch_xport_ssh_server_start(fd->hub->loop, fd_, &o, &fd_ops, c,
				      &c->x) != CH_OK) {
		free(c);
		return;		/* the fd is the transport's */
	}
	c->next = fd->conns;
	if (fd->conns)
		fd->conns->prev = c;
	fd->conns = c;
	fd->nconns++;
	ch_clog(CH_LOG_INFO, &c->log, "front-door client connected");
	ch_xport_deadline(c->x, CH_FD_HANDSHAKE_MS, "client did not "
			  "authenticate in time");
}

static struct listener_ops fd_listener_ops = {
	.what = "operators' NETCONF clients (the front door)",
	.accepted = on_accepted,
};

/* ---- start and stop ---- */

int frontdoor_start(struct hub *hub)
{
	struct frontdoor *fd;
	char path[CH_HUB_PATH_MAX];
	const char *key_path = hub->cfg.front_door_key;
	ssh_key key = NULL;
	int created = 0, r;

	if (hub->cfg.nfront_door == 0)
		return CH_OK;
	if ((fd = calloc(1, sizeof(*fd))) == NULL)
		return CH_ERR_NOMEM;
	fd->hub = hub;
	hub->frontdoor = fd;
	if ((r = opkeys_load(hub->cfg.operator_keys, &fd->keys)) != CH_OK)
		return r;
	if (key_path == NULL) {
		snprintf(path, sizeof(path), "%s/front_door_host_key",
			 hub->cfg.state_dir);
		key_path = path;
	}
	if ((r = ch_key_load_or_create(key_path, &key, &created)) != CH_OK)
		return r;
	ch_key_fingerprint(key, fd->host_fp, sizeof(fd->host_fp));
	ch_info("front door host key %s%s: %s", key_path,
		created ? " (created)" : "", fd->host_fp);
	if ((fd->bind = ssh_bind_new()) == NULL ||
	    ssh_bind_options_set(fd->bind, SSH_BIND_OPTIONS_PROCESS_CONFIG,
				 &(int){0}) != SSH_OK ||
	    ssh_bind_options_set(fd->bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) !=
	    SSH_OK) {
		ssh_key_free(key);
		ch_error("cannot load the front door host key into libssh");
		return CH_ERR_SSH;
	}
	/* the key is the bind's now: ssh_bind_free frees it */
	fd_listener_ops.ctx = fd;
	for (size_t i = 0; i < hub->cfg.nfront_door; i++) {
		const struct hub_listen *ep = &hub->cfg.front_door[i];

		if ((r = listener_open(hub->loop, ep->host, ep->port, 0,
				       &fd_listener_ops, &fd->listeners)) !=
		    CH_OK)
			return r;
		ch_info("front door: NETCONF clients on %s port %u (%zu "
			"operator keys)", ep->host ? ep->host : "*",
			(unsigned)ep->port, opkeys_count(fd->keys));
	}
	return CH_OK;
}

struct listener *frontdoor_listeners(const struct hub *hub)
{
	return hub->frontdoor ? hub->frontdoor->listeners : NULL;
}

void frontdoor_stop(struct hub *hub)
{
	struct frontdoor *fd = hub->frontdoor;

	if (fd == NULL || fd->stopping)
		return;
	fd->stopping = 1;
	listener_close_all(&fd->listeners);
	for (struct fdconn *c = fd->conns; c; c = c->next)
		ch_xport_close(c->x, "hub shutting down");
}

void frontdoor_free(struct hub *hub)
{
	struct frontdoor *fd = hub->frontdoor;

	if (fd == NULL)
		return;
	listener_close_all(&fd->listeners);
	opkeys_free(fd->keys);
	if (fd->bind)
		ssh_bind_free(fd->bind);
	free(fd);
	hub->frontdoor = NULL;
}
