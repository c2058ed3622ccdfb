/* agent.c - one call-home connection on the device: after our TCP connect
 * we are the SSH *server* (RFC 8071 S3), authenticate the manager by public
 * key only, and serve netconf subsystem channels (RFC 6242).
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/callbacks.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/ncproto.h"
#include "lib/xport/sshio.h"

enum conn_state {
	CONN_KEX,		/* key exchange in progress */
	CONN_AUTH,		/* waiting for the manager to authenticate */
	CONN_OPEN,		/* authenticated: channels may come */
};

struct chan {
	struct agent_conn *conn;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	struct ch_chanout out;
	struct ch_nc *nc;		/* once the netconf subsystem started */
	struct nc_server *srv;
	uint32_t session_id;
	uint64_t hello_deadline;	/* loop ms; the client's hello is due */
	int closing;			/* close-session answered, or EOF */
	int closed_by_rpc;		/* by the manager's <close-session> */
	struct chan *next;
};

struct agent_conn {
	struct agent *ag;
	struct ch_sshio io;
	ssh_session ssh;
	ssh_event event;
	enum conn_state state;
	struct ssh_server_callbacks_struct scb;
	char peer[64];
	char user[64];
	unsigned id;
	int auth_tries;
	struct chan *chans;
	size_t nchans;
	struct agent_conn_result result;
	struct agent_conn_opts opts;
	uint64_t last_active;		/* loop ms of the last message */
	int closing;
	int in_pump;			/* inside conn_io's ssh_event_dopoll */
	void (*done)(void *ctx, const struct agent_conn_result *);
	void *done_ctx;
};

static unsigned next_conn_id = 1;

#define clog(lvl, c, fmt, ...) \
	ch_log(lvl, "conn=%u peer=%s " fmt, (c)->id, (c)->peer, ##__VA_ARGS__)

static void arm_hello_deadline(struct agent_conn *c);

/* Detaches our callbacks first: libssh may still see packets for this
 * channel (the peer's close) after we are gone. */
static void chan_free(struct chan *h)
{
	ssh_remove_channel_callbacks(h->ch, &h->cb);
	if (h->srv)
		nc_server_free(h->srv);
	ch_nc_free(h->nc);
	ch_chanout_cleanup(&h->out);
	free(h);
}

static void chan_unlink(struct chan *h)
{
	struct agent_conn *c = h->conn;

	for (struct chan **pp = &c->chans; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			c->nchans--;
			return;
		}
	}
}

/* Ends one NETCONF session: EOF, then the channel is freed (libssh sends
 * the close and keeps its half until the peer's close arrives). */
static void chan_end(struct chan *h, const char *why)
{
	struct agent_conn *c = h->conn;
	ssh_channel ch = h->ch;

	if (h->nc) {
		clog(CH_LOG_INFO, c, "session-id=%u ended: %s", h->session_id,
		     why);
		/* Graceful when the last session to end did so by RPC. */
		c->result.graceful = h->closed_by_rpc;
	}
	chan_unlink(h);
	chan_free(h);
	if (ssh_channel_is_open(ch)) {
		/* RFC 4254 6.10: say the subsystem ended normally, as sshd does;
		 * clients such as OpenSSH's exit non-zero without it. */
		ssh_channel_request_send_exit_status(ch, 0);
		ssh_channel_send_eof(ch);
	}
	ssh_channel_free(ch);
	ch_sshio_rearm(&c->io);
}

static int chan_send(void *ctx, const char *data, size_t len)
{
	struct chan *h = ctx;
	int r = ch_chanout_write(&h->out, data, len);

	ch_sshio_rearm(&h->conn->io);
	return r;
}

static void chan_hello(void *ctx, const struct ch_hello *peer)
{
	struct chan *h = ctx;

	arm_hello_deadline(h->conn);
	clog(CH_LOG_INFO, h->conn, "session-id=%u user=%s NETCONF hello done "
	     "(%zu client capabilities, %s)", h->session_id, h->conn->user,
	     peer->ncaps, ch_nc_chunked(h->nc) ? "base:1.1" : "base:1.0");
	h->conn->result.established = 1;
}

static int chan_message(void *ctx, const char *msg, size_t len)
{
	struct chan *h = ctx;
	int r;

	h->conn->last_active = uv_now(h->conn->ag->loop);
	r = nc_server_serve(h->srv, h->nc, msg, len);
	if (r == CH_ERR_CLOSED)
		h->closed_by_rpc = 1;
	return r;
}

static const struct ch_nc_ops chan_nc_ops = {
	.send = chan_send,
	.on_hello = chan_hello,
	.on_message = chan_message,
};

static int on_chan_data(ssh_session s, ssh_channel ch, void *data,
			uint32_t len, int is_stderr, void *ud)
{
	struct chan *h = ud;
	int r;

	(void)s;
	(void)ch;
	if (is_stderr || h->closing)
		return (int)len;	/* nothing after close-session */
	if (h->nc == NULL) {		/* data before a subsystem: drop it */
		h->closing = 1;
		return (int)len;
	}
	r = ch_nc_input(h->nc, data, len);
	if (r == CH_ERR_CLOSED) {
		h->closing = 1;
	} else if (r != CH_OK) {
		if (!ch_nc_ready(h->nc))	/* RFC 6022 in-bad-hellos */
			nc_server_count_bad_hello(h->conn->ag);
		clog(CH_LOG_WARN, h->conn, "session-id=%u: %s", h->session_id,
		     ch_nc_error(h->nc)[0] ? ch_nc_error(h->nc) : ch_strerror(r));
		h->closing = 1;
	}
	return (int)len;
}

static void on_chan_eof(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *h = ud;

	(void)s;
	(void)ch;
	h->closing = 1;
}

static void on_chan_close(ssh_session s, ssh_channel ch, void *ud)
{
	on_chan_eof(s, ch, ud);
}

static void conn_after_pump(struct agent_conn *c);

/* Another session's <kill-session>: the channel ends after the current
 * pump, or now when its connection is not pumping. */
static void chan_kill(void *ctx)
{
	struct chan *h = ctx;

	h->closing = 1;
	if (!h->conn->in_pump && !h->conn->closing)
		conn_after_pump(h->conn);
}

/* A message of the server's own (a notification), at any time. */
static int chan_push(void *ctx, const char *msg, size_t len)
{
	struct chan *h = ctx;

	if (h->closing || h->nc == NULL || !ch_nc_ready(h->nc))
		return CH_ERR_CLOSED;
	return ch_nc_send(h->nc, msg, len);
}

static int on_subsystem(ssh_session s, ssh_channel ch, const char *name,
			void *ud)
{
	struct chan *h = ud;
	struct agent *ag = h->conn->ag;
	const char *const *caps;
	size_t ncaps;

	(void)s;
	(void)ch;
	if (strcmp(name, "netconf") != 0 || h->nc != NULL) {
		clog(CH_LOG_INFO, h->conn, "refused subsystem '%s'", name);
		return -1;
	}
	h->session_id = ag->next_session_id++;
	if (ag->next_session_id == 0)	/* session-id 0 is not valid */
		ag->next_session_id = 1;
	caps = nc_server_caps(ag, &ncaps);
	h->srv = nc_server_new(ag, h->session_id, h->conn->user);
	h->nc = ch_nc_new(CH_NC_SERVER, h->session_id, caps, ncaps,
			  ag->cfg.max_message, &chan_nc_ops, h);
	if (h->srv == NULL || h->nc == NULL || ch_nc_start(h->nc) != CH_OK) {
		clog(CH_LOG_ERROR, h->conn, "cannot start a NETCONF session");
		h->closing = 1;
		return -1;
	}
	nc_server_set_chan(h->srv, h->conn->peer, chan_kill, chan_push, h);
	clog(CH_LOG_INFO, h->conn, "session-id=%u netconf subsystem started",
	     h->session_id);
	h->hello_deadline = uv_now(ag->loop) + ag->cfg.hello_timeout_ms;
	arm_hello_deadline(h->conn);
	return 0;
}

static ssh_channel on_channel_open(ssh_session s, void *ud)
{
	struct agent_conn *c = ud;
	struct chan *h;

	if (c->state != CONN_OPEN || c->nchans >= AGENT_MAX_CHANNELS) {
		clog(CH_LOG_WARN, c, "refused a session channel (%zu open)",
		     c->nchans);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->ch = ssh_channel_new(s)) == NULL) {
		free(h);
		return NULL;
	}
	h->conn = c;
	ch_chanout_init(&h->out, h->ch);
	h->cb.userdata = h;
	h->cb.channel_data_function = on_chan_data;
	h->cb.channel_eof_function = on_chan_eof;
	h->cb.channel_close_function = on_chan_close;
	h->cb.channel_subsystem_request_function = on_subsystem;
	ssh_callbacks_init(&h->cb);
	ssh_set_channel_callbacks(h->ch, &h->cb);
	h->next = c->chans;
	c->chans = h;
	c->nchans++;
	return h->ch;
}

static int on_auth_pubkey(ssh_session s, const char *user,
			  struct ssh_key_struct *key, char sig_state, void *ud)
{
	struct agent_conn *c = ud;
	char fp[CH_FP_LEN] = "?";

	(void)s;
	ch_key_fingerprint(key, fp, sizeof(fp));
	if (++c->auth_tries > AGENT_MAX_AUTH_TRIES) {
		clog(CH_LOG_WARN, c, "too many authentication attempts");
		return SSH_AUTH_DENIED;
	}
	if (!ch_authkeys_match(c->ag->authkeys, key)) {
		clog(CH_LOG_WARN, c, "manager key %s for user '%s' is not "
		     "authorized", fp, user);
		return SSH_AUTH_DENIED;
	}
	if (sig_state == SSH_PUBLICKEY_STATE_NONE)
		return SSH_AUTH_SUCCESS;	/* "would you accept this key" */
	if (sig_state != SSH_PUBLICKEY_STATE_VALID) {
		clog(CH_LOG_WARN, c, "bad signature from key %s", fp);
		return SSH_AUTH_DENIED;
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	c->state = CONN_OPEN;
	ch_sshio_deadline(&c->io, 0, NULL);
	ch_sshio_keepalive(&c->io, c->opts.keepalive_ms,
			   c->opts.keepalive_count);
	clog(CH_LOG_INFO, c, "manager authenticated as '%s' with key %s", user,
	     fp);
	return SSH_AUTH_SUCCESS;
}

static void conn_closed(struct ch_sshio *io)
{
	struct agent_conn *c = io->data;

	if (c->event) {
		ssh_event_remove_session(c->event, c->ssh);
		ssh_event_free(c->event);
	}
	ssh_free(c->ssh);		/* closes the fd */
	clog(CH_LOG_INFO, c, "connection closed: %s", c->result.reason);
	c->done(c->done_ctx, &c->result);
	free(c);
}

void agent_conn_close(struct agent_conn *c, const char *reason)
{
	struct chan *h;

	if (c->closing)
		return;
	c->closing = 1;
	c->result.reason = reason;
	/* Our channel state goes first: ssh_disconnect frees libssh's
	 * channels, and their callbacks point at ours. */
	while ((h = c->chans) != NULL) {
		c->chans = h->next;
		if (h->nc) {
			clog(CH_LOG_INFO, c, "session-id=%u ended: %s",
			     h->session_id, reason);
			c->result.graceful = 0;	/* cut, not closed */
		}
		ch_chanout_flush(&h->out);
		chan_free(h);
	}
	c->nchans = 0;
	if (ssh_is_connected(c->ssh))
		ssh_disconnect(c->ssh);
	ch_sshio_close(&c->io);
}

/* Once authenticated, the stage deadline serves the channels: it fires at
 * the earliest hello still due. */
static void arm_hello_deadline(struct agent_conn *c)
{
	uint64_t now = uv_now(c->ag->loop), first = 0;

	for (struct chan *h = c->chans; h; h = h->next)
		if (h->nc && !ch_nc_ready(h->nc) && !h->closing &&
		    (first == 0 || h->hello_deadline < first))
			first = h->hello_deadline;
	ch_sshio_deadline(&c->io, first == 0 ? 0 : first > now ? first - now : 1,
			  "the manager sent no NETCONF hello in time");
}

static void conn_expired(struct ch_sshio *io, const char *why)
{
	struct agent_conn *c = io->data;
	uint64_t now = uv_now(c->ag->loop);

	if (c->state != CONN_OPEN) {
		clog(CH_LOG_WARN, c, "%s", why);
		agent_conn_close(c, why);
		return;
	}
	/* A session whose hello never came ends alone (RFC 6241 8.1 gives
	 * no timeout; an unbounded wait would pin the channel forever). */
	for (struct chan *h = c->chans; h; h = h->next) {
		if (h->nc && !ch_nc_ready(h->nc) && h->hello_deadline <= now) {
			clog(CH_LOG_WARN, c, "session-id=%u: %s",
			     h->session_id, why);
			h->closing = 1;
		}
	}
	conn_after_pump(c);
	if (!c->closing)
		arm_hello_deadline(c);
}

/* After a pump: flush channels, retire ended ones, notice a dead session. */
static void conn_after_pump(struct agent_conn *c)
{
	struct chan *h, *next;

	for (h = c->chans; h; h = next) {
		next = h->next;
		if (ch_chanout_flush(&h->out) != CH_OK)
			h->closing = 1;
		/* A closing channel first sends what it queued (the
		 * close-session reply), unless the peer closed it. */
		if (h->closing && (ch_chanout_pending(&h->out) == 0 ||
				   !ssh_channel_is_open(h->ch)))
			chan_end(h, ssh_channel_is_open(h->ch)
				? "closed by the manager (close-session or EOF)"
				: "channel closed by the manager");
	}
	if (!ssh_is_connected(c->ssh) ||
	    (ssh_get_status(c->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR)))
		agent_conn_close(c, c->result.established
			? "manager closed the connection"
			: "closed by the manager before a NETCONF session");
}

static void conn_io(struct ch_sshio *io)
{
	struct agent_conn *c = io->data;
	int r;

	if (c->state == CONN_KEX) {
		r = ssh_handle_key_exchange(c->ssh);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			clog(CH_LOG_WARN, c, "SSH key exchange failed: %s",
			     ssh_get_error(c->ssh));
			agent_conn_close(c, "key exchange failed");
			return;
		}
		clog(CH_LOG_INFO, c, "SSH key exchange done, waiting for the "
		     "manager to authenticate");
		c->state = CONN_AUTH;
		ch_sshio_deadline(&c->io, c->ag->cfg.auth_timeout_ms,
				  "manager did not authenticate in time");
		if ((c->event = ssh_event_new()) == NULL ||
		    ssh_event_add_session(c->event, c->ssh) != SSH_OK) {
			agent_conn_close(c, "out of memory");
			return;
		}
	}
	c->in_pump = 1;
	r = ssh_event_dopoll(c->event, 0);
	c->in_pump = 0;
	if (r == SSH_ERROR && !ssh_is_connected(c->ssh)) {
		agent_conn_close(c, "connection lost");
		return;
	}
	conn_after_pump(c);
}

static void conn_dead(struct ch_sshio *io)
{
	struct agent_conn *c = io->data;

	clog(CH_LOG_WARN, c, "no answer to keep-alives");
	agent_conn_close(c, "no answer to keep-alives");
}

static const struct ch_sshio_cb conn_io_cb = {
	.io = conn_io,
	.expired = conn_expired,
	.dead = conn_dead,
	.closed = conn_closed,
};

uint64_t agent_conn_last_active(const struct agent_conn *c)
{
	return c->last_active;
}

int agent_conn_start(struct agent *ag, int fd, const char *peer,
		     const struct agent_conn_opts *o,
		     void (*done)(void *ctx, const struct agent_conn_result *),
		     void *ctx, struct agent_conn **out)
{
	struct agent_conn *c;
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	c->ag = ag;
	c->id = next_conn_id++;
	c->done = done;
	c->done_ctx = ctx;
	c->opts = *o;
	c->last_active = uv_now(ag->loop);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->result.reason = "closed";
	if ((c->ssh = ssh_new()) == NULL) {
		close(fd);
		free(c);
		return CH_ERR_NOMEM;
	}
	/* From here on the session owns fd: libssh closes it in ssh_free.
	 * If accept_fd fails it is unclear whether the fd was taken, so we
	 * forget it rather than risk a double close (as libnetconf2 does). */
	if (ssh_bind_accept_fd(ag->bind, c->ssh, fd) != SSH_OK) {
		clog(CH_LOG_ERROR, c, "cannot start the SSH server: %s",
		     ssh_get_error(ag->bind));
		ssh_free(c->ssh);
		free(c);
		return CH_ERR_SSH;
	}
	c->scb.userdata = c;
	c->scb.auth_pubkey_function = on_auth_pubkey;
	c->scb.channel_open_request_session_function = on_channel_open;
	ssh_callbacks_init(&c->scb);
	ssh_set_server_callbacks(c->ssh, &c->scb);
	ssh_set_auth_methods(c->ssh, SSH_AUTH_METHOD_PUBLICKEY);
	ssh_set_blocking(c->ssh, 0);
	if ((r = ch_sshio_start(&c->io, ag->loop, c->ssh, fd, &conn_io_cb,
				c)) != CH_OK) {
		ssh_free(c->ssh);
		free(c);
		return r;
	}
	/* The key exchange has the same deadline as authentication: a
	 * manager that stalls either is dropped (RFC 8071 S5). */
	ch_sshio_deadline(&c->io, ag->cfg.auth_timeout_ms,
			  "manager did not complete the SSH handshake in time");
	clog(CH_LOG_INFO, c, "connected, starting SSH server (host key %s)",
	     ag->host_fp);
	conn_io(&c->io);	/* send our banner now */
	if (!c->closing)
		ch_sshio_rearm(&c->io);
	*out = c;
	return CH_OK;
}
