/* sshmux.c - the SSH kind of transport, both roles: one SSH connection,
 * many channels, each a ch_stream (xport.h).
 *
 * Client role (the hub): ssh_connect, the server's host key to the owner's
 * identify() before anything of ours is sent (RFC 8071 C5-C7), public key
 * authentication, then up(): the owner opens channels (session +
 * subsystem/shell/exec, with a pty when asked, or direct-tcpip). Channels
 * the server opens towards us are refused (RFC 4254 6.1, 7.2: a client
 * SHOULD reject them; queueing them would let a device grow our memory).
 *
 * Server role (the agent): key exchange, then public keys only: each key
 * the peer offers goes to identify() (probe or signed); the first signed
 * one accepted makes the connection up(). A session channel is a stream
 * whose type is known at its request (subsystem, shell, exec; pty-req
 * and env before it, env each to the owner's env()); direct-tcpip opens
 * are streams at once. Each is offered to the owner's accept(); a refused
 * request gets SSH's failure and the channel is closed.
 *
 * Session channels, RFC 4254 6: the server role writes stderr as extended
 * data from a queue of its own (ch_stream_write_err), takes signal
 * requests to the owner's signal(), and ends with exit-status or
 * exit-signal; the client role sends env before the request and signals
 * at once, and delivers stderr to data_err() (dropped without one).
 *
 * Flow control, per channel: our output waits in the channel's own
 * bounded queue (ch_chanout) while its window is closed; a paused stream
 * leaves the peer's data in libssh's channel buffer, which then stops
 * reopening the window (libssh grows it only while less than half is
 * buffered), so a stalled channel holds one window, not the connection.
 * Resuming takes what waited out of libssh at once (a read reopens the
 * window whatever libssh still buffers: take_held) and delivers it in
 * pieces the owner can pause between; a peer that sends past the window
 * (libssh accepts it) ends the channel at CH_STREAM_HELD_MAX.
 *
 * The pump: after authentication every wake-up of the fd runs
 * ssh_event_dopoll (callbacks for channel data and requests), then
 * after_pump(): opening channels advance, queues flush, ended channels
 * are retired, a lost connection is noticed.
 *
 * Who owns the fd (libssh 0.10, sshio.h): the server role gives libssh a
 * duplicate (ssh_bind_accept_fd; ssh_free closes it, and so does libssh
 * itself when the peer resets the connection) and keeps the fd it
 * watches, closed here after the poll handle: a listener accepting in the
 * same loop iteration as a reset must never get the watched number back
 * while its poll handle is still registered. The client role keeps it
 * (SSH_OPTIONS_FD; closed here after ssh_disconnect, unless libssh
 * closed it in an error path, which ssh_get_fd then shows).
 */
#include "lib/xport/xport_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <libssh/callbacks.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/id/sshkey.h"
#include "lib/xport/sshio.h"


enum sx_state {
	SX_KEX,		/* banner and key exchange */
	SX_AUTH,	/* client: authenticating; server: waiting for it */
	SX_OPEN,	/* authenticated: channels */
};

enum ss_state {
	SS_SESSION,	/* server: a session channel, its request not yet come */
	SS_OPENING,	/* client: channel open sent */
	SS_PTY,		/* client: pty-req sent */
	SS_ENV,		/* client: env requests being sent */
	SS_REQUEST,	/* client: subsystem / shell / exec sent */
	SS_OPEN,	/* data flows */
	SS_ENDED,	/* the channel is freed */
};

struct sx;

struct ss {				/* one channel: s->impl */
	struct ch_stream *s;
	struct sx *sx;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	struct ch_chanout out;
	struct ch_chanout err;	/* server role: stderr (extended data) */
	enum ss_state state;
	int paused;
	int held;		/* libssh holds data we did not take */
	int held_err;		/* ... and stderr (client role) */
	/* What was taken out of libssh's buffer in one go, delivered as
	 * the owner takes it: [0] data, [1] stderr (see drain_held) */
	struct ch_buf back[2];
	int want_close;		/* close once the queue is out */
	int hard;		/* ... or at once */
	int want_eof;		/* EOF once the queue is out */
	int eof_sent;
	int peer_eof;
	int eof_held;		/* the peer's EOF, told after held data */
	int peer_closed;
	int refused;		/* the owner refused its request */
	int has_exit;
	int exit_status;
	int has_exit_signal;	/* instead of the status */
	int exit_core;
	char exit_signal[CH_STREAM_SIGNAL_NAME_MAX + 1];
	char exit_msg[CH_STREAM_EXIT_MSG_MAX];
	size_t env_next;	/* client: the next env request to send */
	int want_resize;	/* client: a window-change to send */
	uint32_t cols, rows;
	size_t last_pending;	/* for drained() */
};

struct sx {				/* one connection: x->impl_data */
	struct ch_xport *x;
	struct ch_sshio io;
	ssh_session ssh;
	ssh_event event;
	enum sx_state state;
	struct ssh_server_callbacks_struct scb;
	int fd;			/* the one watched: ours (the server role
				 * gives libssh a duplicate) */
	ssh_key key;		/* client role: borrowed */
	char user[64];		/* client: who we are; server: who it is */
	uint32_t max_auth_tries;
	uint32_t auth_tries;
};

static struct sx *sx_of(const struct ch_xport *x) { return x->impl_data; }

/* One loop serves every connection: no call may block on the fd. */
static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void after_pump(struct sx *sx);
static void peer_gone(struct sx *sx, const char *fallback,
		      const char *detail);
static void ss_end(struct ss *ss, const char *why);

/* ---- channels ---- */

/* Data of the peer's waits for the owner (in libssh or our backlog). */
static int ss_waiting(const struct ss *ss)
{
	return ss->held || ss->held_err || ch_buf_len(&ss->back[0]) ||
	       ch_buf_len(&ss->back[1]);
}

static int on_data(ssh_session session, ssh_channel ch, void *data,
		   uint32_t len, int is_stderr, void *ud)
{
	struct ss *ss = ud;
	struct ch_stream *s = ss->s;

	(void)session;
	(void)ch;
	/* a client's stderr means nothing; a server's, only to an owner
	 * that takes it */
	if (is_stderr && (ss->sx->x->role == CH_XPORT_SERVER ||
			  (s->cb && s->cb->data_err == NULL)))
		return (int)len;
	if (s->cb == NULL || ss->refused || s->closing) {
		/* data before the session's request was taken: drop it, and
		 * the channel with it */
		if (s->cb == NULL && !s->closing)
			ss->refused = 1;
		return (int)len;
	}
	/* paused, or a client's stream whose request is not answered yet
	 * (a server may send before its success reply: the hello of a
	 * netconf subsystem does), or older data of this kind waits (libssh
	 * gives its whole buffer: drain_held delivers it in order, in
	 * pieces the owner can pause between) */
	if (ss->paused || ss->state != SS_OPEN ||
	    (is_stderr ? ss->held_err : ss->held) ||
	    ch_buf_len(&ss->back[is_stderr != 0])) {
		if (is_stderr)
			ss->held_err = 1;
		else
			ss->held = 1;
		if (!ss->paused && ss->state == SS_OPEN)
			ch_xport_kick(s->x);
		return 0;	/* stays in libssh's buffer; window closes */
	}
	if (is_stderr)
		s->cb->data_err(s, data, len);
	else if (s->cb->data)
		s->cb->data(s, data, len);
	return (int)len;
}

static void on_eof(ssh_session session, ssh_channel ch, void *ud)
{
	struct ss *ss = ud;

	(void)session;
	(void)ch;
	ss->peer_eof = 1;
	if (ss->held || ss->held_err || ch_buf_len(&ss->back[0]) ||
	    ch_buf_len(&ss->back[1])) {	/* data first: after drain_held */
		ss->eof_held = 1;
		return;
	}
	if (ss->s->cb && ss->s->cb->eof && !ss->s->closing)
		ss->s->cb->eof(ss->s);
}

static void on_close(ssh_session session, ssh_channel ch, void *ud)
{
	struct ss *ss = ud;

	(void)session;
	(void)ch;
	ss->peer_eof = 1;
	ss->peer_closed = 1;
}

static void on_exit_status(ssh_session session, ssh_channel ch, int status,
			   void *ud)
{
	struct ss *ss = ud;

	(void)session;
	(void)ch;
	if (ss->s->cb && ss->s->cb->exited)
		ss->s->cb->exited(ss->s, status, NULL);
}

static void on_exit_signal(ssh_session session, ssh_channel ch,
			   const char *signal, int core, const char *errmsg,
			   const char *lang, void *ud)
{
	struct ss *ss = ud;

	(void)session;
	(void)ch;
	(void)lang;
	ch_clog(CH_LOG_DEBUG, &ss->s->log, "exit-signal %s%s%s%s",
		signal ? signal : "?", core ? " (core dumped)" : "",
		errmsg && *errmsg ? ": " : "", errmsg ? errmsg : "");
	if (ss->s->cb && ss->s->cb->exited)
		ss->s->cb->exited(ss->s, -1, signal);
}

/* Server role: the session channel's request decides its type. */
static int offer(struct ss *ss, enum ch_stream_type type, const char *name)
{
	struct ch_stream *s = ss->s;

	if (ss->state != SS_SESSION || ss->refused || s->closing)
		return -1;
	s->req.type = type;
	if (name) {
		if (ch_text_set(&s->name, name, CH_STREAM_NAME_MAX) != CH_OK)
			return -1;
		s->req.name = s->name;
	}
	ss->state = SS_OPEN;	/* the owner may write in accept() */
	if (ch_stream_offer(s) != CH_OK) {
		ss->state = SS_SESSION;
		ss->refused = 1;	/* closed after this pump */
		return -1;
	}
	return 0;
}

/* Server role: env before the request (RFC 4254 6.4): the owner's
 * choice. */
static int on_env(ssh_session session, ssh_channel ch, const char *name,
		  const char *value, void *ud)
{
	struct ss *ss = ud;

	(void)session;
	(void)ch;
	if (ss->state != SS_SESSION || ss->refused || ss->s->closing)
		return -1;
	return ch_stream_env_offer(ss->s, name, value) == CH_OK ? 0 : -1;
}

/* Server role: a signal for the command (RFC 4254 6.9). */
static void on_signal(ssh_session session, ssh_channel ch,
		      const char *signal, void *ud)
{
	struct ss *ss = ud;
	struct ch_stream *s = ss->s;

	(void)session;
	(void)ch;
	if (ss->state != SS_OPEN || s->closing || s->cb == NULL ||
	    !ch_stream_signal_name_ok(signal)) {
		ch_clog_rl(CH_LOG_INFO, &s->log, "signal request ignored "
			   "(%s)", ss->state != SS_OPEN ? "no command yet"
			   : "not a signal's name");
		return;
	}
	if (s->cb->signal)
		s->cb->signal(s, signal);
}

static int on_subsystem(ssh_session session, ssh_channel ch,
			const char *name, void *ud)
{
	(void)session;
	(void)ch;
	return offer(ud, CH_STREAM_SUBSYSTEM, name);
}

static int on_shell(ssh_session session, ssh_channel ch, void *ud)
{
	(void)session;
	(void)ch;
	return offer(ud, CH_STREAM_SHELL, NULL);
}

static int on_exec(ssh_session session, ssh_channel ch, const char *cmd,
		   void *ud)
{
	(void)session;
	(void)ch;
	return offer(ud, CH_STREAM_EXEC, cmd);
}

static int on_pty(ssh_session session, ssh_channel ch, const char *term,
		  int cols, int rows, int pxw, int pxh, void *ud)
{
	struct ss *ss = ud;
	struct ch_stream *s = ss->s;

	(void)session;
	(void)ch;
	(void)pxw;
	(void)pxh;
	if (ss->state != SS_SESSION || s->req.pty)
		return -1;
	if (ch_text_set(&s->term, term ? term : "", CH_STREAM_TERM_MAX) != CH_OK)
		return -1;
	s->req.pty = 1;
	s->req.term = s->term;
	s->req.cols = cols > 0 ? (uint32_t)cols : 0;
	s->req.rows = rows > 0 ? (uint32_t)rows : 0;
	return 0;
}

static int on_window_change(ssh_session session, ssh_channel ch, int cols,
			    int rows, int pxw, int pxh, void *ud)
{
	struct ss *ss = ud;
	struct ch_stream *s = ss->s;

	(void)session;
	(void)ch;
	(void)pxw;
	(void)pxh;
	if (!s->req.pty || cols <= 0 || rows <= 0)
		return -1;
	s->req.cols = (uint32_t)cols;
	s->req.rows = (uint32_t)rows;
	if (s->cb && s->cb->resize && ss->state == SS_OPEN)
		s->cb->resize(s, s->req.cols, s->req.rows);
	return 0;
}

/* The channel of ss (NULL until a direct-tcpip open is answered). */
static void ss_attach(struct ss *ss, ssh_channel ch)
{
	ss->ch = ch;
	ss->out.ch = ch;
	ss->err.ch = ch;
	ssh_set_channel_callbacks(ch, &ss->cb);
}

static struct ss *ss_new(struct sx *sx, struct ch_stream *s, ssh_channel ch)
{
	struct ss *ss = calloc(1, sizeof(*ss));

	if (ss == NULL)
		return NULL;
	ss->s = s;
	ss->sx = sx;
	ch_chanout_init(&ss->out, NULL);
	ch_chanout_init(&ss->err, NULL);
	ss->err.is_stderr = 1;
	ch_buf_init(&ss->back[0], CH_STREAM_HELD_MAX);
	ch_buf_init(&ss->back[1], CH_STREAM_HELD_MAX);
	ss->cb.userdata = ss;
	ss->cb.channel_data_function = on_data;
	ss->cb.channel_eof_function = on_eof;
	ss->cb.channel_close_function = on_close;
	if (sx->x->role == CH_XPORT_SERVER) {
		ss->cb.channel_subsystem_request_function = on_subsystem;
		ss->cb.channel_shell_request_function = on_shell;
		ss->cb.channel_exec_request_function = on_exec;
		ss->cb.channel_pty_request_function = on_pty;
		ss->cb.channel_pty_window_change_function = on_window_change;
		ss->cb.channel_env_request_function = on_env;
		ss->cb.channel_signal_function = on_signal;
	} else {
		ss->cb.channel_exit_status_function = on_exit_status;
		ss->cb.channel_exit_signal_function = on_exit_signal;
	}
	ssh_callbacks_init(&ss->cb);
	if (ch)
		ss_attach(ss, ch);
	s->impl = ss;
	return ss;
}

/* Ends the channel on the wire and lets libssh free it: our callbacks go
 * first, as libssh may still see packets for it (the peer's close). */
static void ss_end(struct ss *ss, const char *why)
{
	ssh_channel ch = ss->ch;

	if (ss->state == SS_ENDED)
		return;
	ss->state = SS_ENDED;
	ss->ch = NULL;
	ch_chanout_cleanup(&ss->out);
	ch_chanout_cleanup(&ss->err);
	ch_buf_cleanup(&ss->back[0]);
	ch_buf_cleanup(&ss->back[1]);
	if (ch) {
		ssh_remove_channel_callbacks(ch, &ss->cb);
		if (ssh_is_connected(ss->sx->ssh)) {
			/* RFC 4254 6.10: a session channel's command status,
			 * as sshd sends it (OpenSSH exits non-zero without) */
			if (ss->has_exit_signal && ssh_channel_is_open(ch))
				ssh_channel_request_send_exit_signal(
					ch, ss->exit_signal, ss->exit_core,
					ss->exit_msg, "");
			else if (ss->has_exit && ssh_channel_is_open(ch))
				ssh_channel_request_send_exit_status(
					ch, ss->exit_status);
			/* EOF and CLOSE, also when the peer closed first
			 * (4254 5.3: it MUST be answered) */
			ssh_channel_close(ch);
		}
		ssh_channel_free(ch);
	}
	ch_stream_gone(ss->s, why);
}

/* Server role: a session channel (the request decides what it is). */
static ssh_channel on_session_open(ssh_session session, void *ud)
{
	struct sx *sx = ud;
	struct ch_stream_req req = { .type = CH_STREAM_SHELL };
	struct ch_stream *s;
	ssh_channel ch;
	int capped;

	if (sx->state != SX_OPEN)
		return NULL;
	if ((s = ch_stream_new(sx->x, &req, &capped)) == NULL) {
		ch_clog_rl(CH_LOG_WARN, sx->x->log, "refused a session channel "
			   "(%s, %zu open)", capped ? "at the cap" : "no memory",
			   sx->x->nstreams);
		return NULL;
	}
	if ((ch = ssh_channel_new(session)) == NULL || ss_new(sx, s, ch) == NULL) {
		ssh_channel_free(ch);
		s->gone = s->closing = 1;	/* untaken: no closed() */
		ch_xport_kick(sx->x);
		return NULL;
	}
	((struct ss *)s->impl)->state = SS_SESSION;
	return ch;
}

/* Server role: direct-tcpip opens come as messages (libssh 0.10 has no
 * callback for them); everything else gets libssh's default refusal. */
static int on_message(ssh_session session, ssh_message m, void *ud)
{
	struct sx *sx = ud;
	struct ch_stream_req req = { .type = CH_STREAM_DIRECT_TCPIP };
	struct ch_stream *s;
	struct ss *ss;
	ssh_channel ch;
	int capped;

	(void)session;
	if (sx->x->role != CH_XPORT_SERVER || sx->state != SX_OPEN ||
	    ssh_message_type(m) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(m) != SSH_CHANNEL_DIRECT_TCPIP)
		return 1;
	req.name = ssh_message_channel_request_open_destination(m);
	req.port = (uint16_t)ssh_message_channel_request_open_destination_port(m);
	req.orig_host = ssh_message_channel_request_open_originator(m);
	req.orig_port = (uint16_t)
		ssh_message_channel_request_open_originator_port(m);
	if (req.name == NULL)
		return 1;
	if ((s = ch_stream_new(sx->x, &req, &capped)) == NULL) {
		ch_clog_rl(CH_LOG_WARN, sx->x->log, "refused a direct-tcpip "
			   "channel (%s)", capped ? "at the cap" : "no memory");
		return 1;
	}
	/* the stream exists before its channel: what the owner writes in
	 * accept() waits in its queue */
	if ((ss = ss_new(sx, s, NULL)) == NULL) {
		s->gone = s->closing = 1;
		ch_xport_kick(sx->x);
		return 1;
	}
	ss->state = SS_OPEN;
	if (ch_stream_offer(s) != CH_OK) {
		ss->state = SS_ENDED;
		s->gone = s->closing = 1;
		ch_xport_kick(sx->x);
		return 1;
	}
	if ((ch = ssh_message_channel_request_open_reply_accept(m)) == NULL) {
		ss->state = SS_ENDED;	/* taken: the owner hears closed() */
		ch_stream_gone(s, "cannot open the channel");
		return 0;
	}
	ss_attach(ss, ch);
	ch_xport_kick(sx->x);	/* flush what accept() queued */
	return 0;
}

/* Client role: every message the server sends us that libssh does not
 * handle itself (channel opens, requests) gets the default refusal. */
static int refuse_message(ssh_session session, ssh_message m, void *ud)
{
	(void)session;
	(void)m;
	(void)ud;
	return 1;
}

/* Client role: why the server refused an open. libssh says it as
 * "Channel opening failure: channel N error (CODE) DESCRIPTION"; the
 * reason codes of RFC 4254 5.1 are said in words, with the server's
 * description when it gave one. A channel the server confirmed and closed
 * at once fails the same way, with a stale text: said as such. */
static void open_failure(ssh_session ssh, ssh_channel ch, const char *what,
			 char *why, size_t size)
{
	static const char *const codes[] = {
		NULL, "administratively prohibited", "connect failed",
		"unknown channel type", "resource shortage",
	};
	const char *e = ssh_get_error(ssh), *p = strstr(e, "error (");
	unsigned long code = 0;
	char *end = NULL;

	/* confirmed (it has a window) and closed in the same read: libssh
	 * fails the open, and its error text is an older one */
	if (ssh_channel_window_size(ch) > 0) {
		snprintf(why, size, "%s channel closed by the server as it "
			 "opened", what);
		return;
	}
	if (p)
		code = strtoul(p + strlen("error ("), &end, 10);
	if (p && code >= 1 && code < sizeof(codes) / sizeof(codes[0]) &&
	    *end == ')') {
		for (end++; *end == ' '; end++)
			;
		snprintf(why, size, "%s channel refused: %s%s%s", what,
			 codes[code], *end ? ": " : "", end);
		return;
	}
	snprintf(why, size, "%s channel refused: %s", what, e);
}

/* Client role: advances one channel being opened. */
static void step_open(struct ss *ss)
{
	struct ch_stream *s = ss->s;
	const struct ch_stream_req *q = &s->req;
	char why[CH_STREAM_NAME_MAX + 64];
	int r = SSH_OK;

	switch (ss->state) {
	case SS_OPENING:
		r = q->type == CH_STREAM_DIRECT_TCPIP
			? ssh_channel_open_forward(ss->ch, q->name, q->port,
				q->orig_host ? q->orig_host : "127.0.0.1",
				q->orig_port)
			: ssh_channel_open_session(ss->ch);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			open_failure(ss->sx->ssh, ss->ch, q->type ==
				     CH_STREAM_DIRECT_TCPIP ? "direct-tcpip"
				     : "session", why, sizeof(why));
			break;
		}
		if (q->type == CH_STREAM_DIRECT_TCPIP) {
			ss->state = SS_OPEN;
			ch_stream_opened(s, CH_OK, NULL);
			return;
		}
		ss->state = q->pty ? SS_PTY : SS_ENV;
		/* fall through */
	case SS_PTY:
		if (ss->state == SS_PTY) {
			r = ssh_channel_request_pty_size(ss->ch,
				q->term && *q->term ? q->term : "xterm",
				(int)q->cols, (int)q->rows);
			if (r == SSH_AGAIN)
				return;
			if (r != SSH_OK) {
				snprintf(why, sizeof(why), "pty refused");
				break;
			}
			ss->state = SS_ENV;
		}
		/* fall through */
	case SS_ENV:
		ss->state = SS_ENV;
		while (ss->env_next < q->nenv) {
			const char *e = q->env[ss->env_next];
			const char *eq = strchr(e, '=');
			char name[CH_STREAM_ENV_LEN];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - e), e);
			r = ssh_channel_request_env(ss->ch, name, eq + 1);
			if (r == SSH_AGAIN)
				return;
			if (r != SSH_OK)	/* the server's choice */
				ch_clog(CH_LOG_DEBUG, &s->log, "env %s "
					"refused by the peer", name);
			ss->env_next++;
		}
		ss->state = SS_REQUEST;
		/* fall through */
	case SS_REQUEST:
		r = q->type == CH_STREAM_SUBSYSTEM
			? ssh_channel_request_subsystem(ss->ch, q->name)
			: q->type == CH_STREAM_EXEC
			? ssh_channel_request_exec(ss->ch, q->name)
			: ssh_channel_request_shell(ss->ch);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			if (q->type == CH_STREAM_SUBSYSTEM)
				snprintf(why, sizeof(why), "subsystem %s "
					 "refused", q->name);
			else
				snprintf(why, sizeof(why), "%s refused",
					 q->type == CH_STREAM_EXEC ? "exec"
								   : "shell");
			break;
		}
		ss->state = SS_OPEN;
		ch_stream_opened(s, CH_OK, NULL);
		return;
	default:
		return;
	}
	ch_stream_opened(s, CH_ERR_DENIED, why);
	s->closing = 1;
	ss_end(ss, why);
}

/* Takes everything libssh buffered of one kind into back[err], in one
 * go. libssh reopens the window at each read that finds it under half
 * (whatever it still buffers): reading piece by piece as the owner takes
 * them would let a peer add a window per piece. Read at once, the window
 * is reopened once per backlog, so at most a backlog and a window wait.
 * A read of an empty buffer handles packets, whose data may be held
 * meanwhile (on_data sets the flag again): a flag is cleared only by a
 * read of its own buffer that found it empty. -1: the channel is over
 * (a peer past the window, or no memory). */
static int take_held(struct ss *ss, int err)
{
	char buf[CH_STREAM_READ_CHUNK];
	int n;

	for (;;) {
		n = ssh_channel_read_nonblocking(ss->ch, buf, sizeof(buf), err);
		if (n <= 0) {
			if (err)
				ss->held_err = 0;
			else
				ss->held = 0;
			return 0;	/* an error shows in the pump */
		}
		if (ch_buf_put(&ss->back[err], buf, (size_t)n) != CH_OK)
			return -1;
	}
}

/* Delivers what waited while the stream was paused (data, then stderr:
 * their order is not kept, nor is it by ssh), in pieces, until the owner
 * pauses again. */
static void drain_held(struct ss *ss)
{
	struct ch_stream *s = ss->s;
	size_t n;
	int err;

	while (!ss->paused && ss->state == SS_OPEN && !s->closing && s->cb) {
		err = !(ss->held || ch_buf_len(&ss->back[0]));
		if (!ch_buf_len(&ss->back[err])) {
			if (!(err ? ss->held_err : ss->held))
				return;		/* nothing waits */
			if (take_held(ss, err) != 0) {
				ch_clog_rl(CH_LOG_WARN, &s->log, "the peer "
					   "sent past the channel's window");
				s->closing = 1;
				ss_end(ss, "the peer sent past the window");
				return;
			}
			continue;
		}
		n = ch_buf_len(&ss->back[err]);
		if (n > CH_STREAM_READ_CHUNK)
			n = CH_STREAM_READ_CHUNK;
		if (err && s->cb->data_err)
			s->cb->data_err(s, ch_buf_ptr(&ss->back[1]), n);
		else if (!err && s->cb->data)
			s->cb->data(s, ch_buf_ptr(&ss->back[0]), n);
		if (ss->state == SS_ENDED)
			return;
		ch_buf_consume(&ss->back[err], n);
	}
}

/* One channel after a pump: flush, deliver, end what is over. */
static void ss_tend(struct ss *ss)
{
	struct ch_stream *s = ss->s;
	size_t pending;

	if (ss->state == SS_ENDED)
		return;
	if (ss->want_close && (ss->hard || ss->sx->x->closing)) {
		ss_end(ss, NULL);
		return;
	}
	if (ss->state == SS_OPENING || ss->state == SS_PTY ||
	    ss->state == SS_ENV || ss->state == SS_REQUEST) {
		step_open(ss);
		if (ss->state != SS_OPEN)
			return;
	}
	if (ss->refused) {
		ss_end(ss, "request refused");
		return;
	}
	if (ss->peer_closed && ss->state == SS_SESSION) {
		ss_end(ss, "closed by the peer before its request");
		return;
	}
	if (ch_chanout_flush(&ss->out) != CH_OK ||
	    ch_chanout_flush(&ss->err) != CH_OK) {
		ss_end(ss, "cannot write to the channel");
		return;
	}
	pending = ch_chanout_pending(&ss->out) + ch_chanout_pending(&ss->err);
	if (pending == 0 && ss->last_pending && s->cb && s->cb->drained &&
	    !s->closing)
		s->cb->drained(s);
	ss->last_pending = pending;
	if (!ss->paused)
		drain_held(ss);
	if (ss->state == SS_ENDED)
		return;
	if (ss->eof_held && !ss_waiting(ss)) {
		ss->eof_held = 0;
		if (s->cb && s->cb->eof && !s->closing)
			s->cb->eof(s);
	}
	if (ss->want_resize && ssh_channel_is_open(ss->ch) &&
	    ssh_channel_change_pty_size(ss->ch, (int)ss->cols,
					(int)ss->rows) != SSH_AGAIN)
		ss->want_resize = 0;
	if (ss->want_eof && !ss->eof_sent && pending == 0 &&
	    ssh_channel_is_open(ss->ch)) {
		ss->eof_sent = 1;
		ssh_channel_send_eof(ss->ch);
	}
	if (ss->peer_closed && !(ss_waiting(ss) && ss->paused)) {
		ss_end(ss, "closed by the peer");
		return;
	}
	if (ss->want_close && (pending == 0 || !ssh_channel_is_open(ss->ch)))
		ss_end(ss, NULL);
}

/* ---- the connection ---- */

static void after_pump(struct sx *sx)
{
	struct ch_xport *x = sx->x;
	struct ch_stream *s, *next;
	char what[96];

	for (s = x->streams; s; s = next) {
		next = s->next;
		if (s->impl)
			ss_tend(s->impl);
		else if (s->closing)
			ch_stream_gone(s, NULL);
	}
	if (!x->closing && (!ssh_is_connected(sx->ssh) ||
	    (ssh_get_status(sx->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR)))) {
		snprintf(what, sizeof(what), "%s disconnected%s", x->peer_name,
			 x->up ? "" : " during the handshake");
		peer_gone(sx, what, NULL);
	}
	if (!x->closing)
		ch_sshio_rearm(&sx->io);
}

static int on_auth_pubkey(ssh_session session, const char *user,
			  struct ssh_key_struct *key, char sig_state, void *ud)
{
	struct sx *sx = ud;
	struct ch_peer_id id = { .kind = CH_XPORT_SSH };
	char fp[CH_FP_LEN] = "?";
	const char *why;

	(void)session;
	ch_key_fingerprint(key, fp, sizeof(fp));
	if (sx->state != SX_AUTH)
		return SSH_AUTH_DENIED;
	if (++sx->auth_tries > sx->max_auth_tries) {
		ch_clog_rl(CH_LOG_WARN, sx->x->log, "too many authentication "
			   "attempts");
		ch_xport_close(sx->x, "too many authentication attempts");
		return SSH_AUTH_DENIED;
	}
	if (sig_state != SSH_PUBLICKEY_STATE_NONE &&
	    sig_state != SSH_PUBLICKEY_STATE_VALID) {
		ch_clog_rl(CH_LOG_WARN, sx->x->log, "bad signature from key %s",
			   fp);
		return SSH_AUTH_DENIED;
	}
	id.key = key;
	id.key_fp = fp;
	id.user = user;
	id.probe = sig_state == SSH_PUBLICKEY_STATE_NONE;
	/* the owner logs its decision */
	if (ch_xport_identify(sx->x, &id, &why) != CH_OK)
		return SSH_AUTH_DENIED;
	if (id.probe)
		return SSH_AUTH_SUCCESS;	/* "would you accept this key" */
	snprintf(sx->user, sizeof(sx->user), "%s", user);
	sx->state = SX_OPEN;
	ch_xport_set_up(sx->x);
	return SSH_AUTH_SUCCESS;
}

static int pump_start(struct sx *sx)
{
	if ((sx->event = ssh_event_new()) == NULL ||
	    ssh_event_add_session(sx->event, sx->ssh) != SSH_OK) {
		ch_xport_close(sx->x, "out of memory");
		return CH_ERR_NOMEM;
	}
	return CH_OK;
}

/* Client role: identify the server's host key before anything of ours. */
static int client_identify(struct sx *sx)
{
	struct ch_peer_id id = { .kind = CH_XPORT_SSH };
	char fp[CH_FP_LEN];
	const char *why;
	ssh_key srv = NULL;
	int r;

	if (ssh_get_server_publickey(sx->ssh, &srv) != SSH_OK ||
	    ch_key_fingerprint(srv, fp, sizeof(fp)) != CH_OK) {
		ssh_key_free(srv);
		ch_xport_close(sx->x, "host key unreadable");
		return CH_ERR_SSH;
	}
	id.key = srv;
	id.key_fp = fp;
	r = ch_xport_identify(sx->x, &id, &why);
	ssh_key_free(srv);
	if (r != CH_OK) {
		ch_xport_close(sx->x, why);
		return r;
	}
	return CH_OK;
}

/* The peer's SSH_MSG_DISCONNECT description, if it sent one: libssh 0.10
 * keeps it only in its error text ("Received SSH_MSG_DISCONNECT:
 * CODE:TEXT"; ssh_get_disconnect_message answers only after our own
 * disconnect). NULL if the peer just went away. */
static const char *peer_disconnect_text(ssh_session ssh)
{
	static const char pfx[] = "Received SSH_MSG_DISCONNECT: ";
	const char *e = ssh_get_error(ssh), *p;

	if (e == NULL || strncmp(e, pfx, sizeof(pfx) - 1) != 0)
		return NULL;
	e += sizeof(pfx) - 1;
	p = strchr(e, ':');
	return p ? p + 1 : e;
}

/* The peer closed: say why when it did. Before the session is up, a
 * reason means it refused us (a hub refusing a pending device). */
static void peer_gone(struct sx *sx, const char *fallback,
		      const char *detail)
{
	struct ch_xport *x = sx->x;
	const char *m = peer_disconnect_text(sx->ssh);
	char what[96];

	if (m && *m && !x->up)
		snprintf(what, sizeof(what), "the %s refused us", x->peer_name);
	else if (m && *m)
		snprintf(what, sizeof(what), "%s disconnected", x->peer_name);
	else
		snprintf(what, sizeof(what), "%s", fallback);
	ch_xport_fail(x, what, m && *m ? m : detail);
}

/* After authentication: libssh's callbacks, then our own steps. */
static void pump(struct sx *sx)
{
	if (ssh_event_dopoll(sx->event, 0) == SSH_ERROR &&
	    !ssh_is_connected(sx->ssh)) {
		peer_gone(sx, "connection lost", NULL);
		return;
	}
	if (!sx->x->closing)
		after_pump(sx);
}

static void client_io(struct sx *sx)
{
	struct ch_xport *x = sx->x;
	int r;

	switch (sx->state) {
	case SX_KEX:
		r = ssh_connect(sx->ssh);
		/* libssh 0.10 makes a given fd blocking when it first sees it
		 * writable (socket.c, "connecting" state): then one peer that
		 * stops reading would stall the whole loop. Undo it. */
		set_nonblocking(sx->fd);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			peer_gone(sx, "SSH handshake failed",
				  ssh_get_error(sx->ssh));
			return;
		}
		if (client_identify(sx) != CH_OK)
			return;
		sx->state = SX_AUTH;
		/* fall through */
	case SX_AUTH:
		r = ssh_userauth_publickey(sx->ssh, NULL, sx->key);
		if (r == SSH_AUTH_AGAIN)
			return;
		if (r != SSH_AUTH_SUCCESS) {
			char what[128];

			snprintf(what, sizeof(what), "%s refused %s key for "
				 "user '%s'", x->peer_name, x->own_key_name,
				 sx->user);
			ch_xport_fail(x, what, NULL);
			return;
		}
		if (pump_start(sx) != CH_OK)
			return;
		sx->state = SX_OPEN;
		ch_xport_set_up(x);
		break;
	case SX_OPEN:
		pump(sx);
		return;
	}
	if (!x->closing)
		after_pump(sx);
}

static void server_io(struct sx *sx)
{
	int r;

	if (sx->state == SX_KEX) {
		r = ssh_handle_key_exchange(sx->ssh);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			peer_gone(sx, "SSH key exchange failed",
				  ssh_get_error(sx->ssh));
			return;
		}
		sx->state = SX_AUTH;
		if (pump_start(sx) != CH_OK)
			return;
	}
	pump(sx);
}

static void sx_io(struct ch_sshio *io)
{
	struct sx *sx = io->data;

	if (sx->x->closing)
		return;
	if (sx->x->role == CH_XPORT_CLIENT)
		client_io(sx);
	else
		server_io(sx);
}

static void sx_expired(struct ch_sshio *io, const char *why)
{
	struct sx *sx = io->data;

	ch_xport_close(sx->x, why);
}

static void sx_dead(struct ch_sshio *io)
{
	struct sx *sx = io->data;

	ch_xport_close(sx->x, "no answer to keep-alives");
}

static void sx_closed(struct ch_sshio *io)
{
	struct sx *sx = io->data;

	if (sx->event) {
		ssh_event_remove_session(sx->event, sx->ssh);
		ssh_event_free(sx->event);
		sx->event = NULL;
	}
	ssh_free(sx->ssh);	/* server role: closes the fd */
	sx->ssh = NULL;
	ch_xport_finish(sx->x);
}

static const struct ch_sshio_cb sx_io_cb = {
	.io = sx_io,
	.expired = sx_expired,
	.dead = sx_dead,
	.closed = sx_closed,
};

/* ---- the kind's operations ---- */

static void sx_deadline(struct ch_xport *x, uint64_t ms, const char *why)
{
	ch_sshio_deadline(&sx_of(x)->io, ms, why);
}

static int sx_keepalive(struct ch_xport *x, uint32_t interval_ms,
			uint32_t count)
{
	ch_sshio_keepalive(&sx_of(x)->io, interval_ms, count);
	return CH_OK;
}

static int sx_open(struct ch_xport *x, struct ch_stream *s)
{
	struct sx *sx = sx_of(x);
	const struct ch_stream_req *q = &s->req;
	ssh_channel ch;

	if (q->type == CH_STREAM_TLS || q->type == CH_STREAM_FD ||
	    ((q->type == CH_STREAM_SUBSYSTEM || q->type == CH_STREAM_EXEC ||
	      q->type == CH_STREAM_DIRECT_TCPIP) &&
	     (q->name == NULL || *q->name == '\0')))
		return CH_ERR_INVAL;
	if ((ch = ssh_channel_new(sx->ssh)) == NULL)
		return CH_ERR_NOMEM;
	if (ss_new(sx, s, ch) == NULL) {
		ssh_channel_free(ch);
		return CH_ERR_NOMEM;
	}
	((struct ss *)s->impl)->state = SS_OPENING;
	/* the open goes out from the loop: opened() never comes from
	 * inside this call */
	ch_xport_kick(x);
	return CH_OK;
}

static int sx_write(struct ch_stream *s, const void *p, size_t n)
{
	struct ss *ss = s->impl;
	int r;

	if (ss->state != SS_OPEN || ss->want_eof)
		return CH_ERR_CLOSED;
	if (ss->ch == NULL)	/* a direct-tcpip open not yet answered */
		return ch_buf_put(&ss->out.q, p, n);
	r = ch_chanout_write(&ss->out, p, n);
	/* what stays queued is seen as pending by the next step, even if
	 * that step then sends it all: drained() must follow (an owner that
	 * stopped reading past its high-water mark waits for it) */
	if (ch_chanout_pending(&ss->out) + ch_chanout_pending(&ss->err) >
	    ss->last_pending)
		ss->last_pending = ch_chanout_pending(&ss->out) +
				   ch_chanout_pending(&ss->err);
	/* A write outside a pump (an owner's timer) may be what finds the
	 * connection gone; libssh then closes the fd itself (server role),
	 * and a closed fd wakes no poll: the next step must look now. */
	if (r != CH_OK || !ssh_is_connected(ss->sx->ssh))
		ch_xport_kick(s->x);
	else
		ch_sshio_rearm(&ss->sx->io);
	return r == CH_ERR_SSH ? CH_ERR_CLOSED : r;
}

/* stderr of a session channel (server role): its own queue. */
static int sx_write_err(struct ch_stream *s, const void *p, size_t n)
{
	struct ss *ss = s->impl;
	size_t pending;
	int r;

	if (ss->state != SS_OPEN || ss->want_eof)
		return CH_ERR_CLOSED;
	if (ss->ch == NULL)	/* not a session channel */
		return sx_write(s, p, n);
	r = ch_chanout_write(&ss->err, p, n);
	pending = ch_chanout_pending(&ss->out) + ch_chanout_pending(&ss->err);
	if (pending > ss->last_pending)
		ss->last_pending = pending;
	if (r != CH_OK || !ssh_is_connected(ss->sx->ssh))
		ch_xport_kick(s->x);
	else
		ch_sshio_rearm(&ss->sx->io);
	return r == CH_ERR_SSH ? CH_ERR_CLOSED : r;
}

static size_t sx_pending(const struct ch_stream *s)
{
	const struct ss *ss = s->impl;

	return ss->state == SS_ENDED ? 0 : ch_chanout_pending(&ss->out) +
		ch_chanout_pending(&ss->err);
}

static void sx_pause(struct ch_stream *s, int paused)
{
	struct ss *ss = s->impl;

	ss->paused = paused;
	if (!paused && ss_waiting(ss))
		ch_xport_kick(s->x);	/* delivered from the loop */
}

static void sx_eof(struct ch_stream *s)
{
	struct ss *ss = s->impl;

	ss->want_eof = 1;
	ch_xport_kick(s->x);
}

static void sx_exit_status(struct ch_stream *s, int status)
{
	struct ss *ss = s->impl;

	ss->has_exit = 1;
	ss->exit_status = status;
}

static void sx_exit_signal(struct ch_stream *s, const char *signal, int core,
			   const char *msg)
{
	struct ss *ss = s->impl;

	ss->has_exit_signal = 1;
	ss->exit_core = core != 0;
	snprintf(ss->exit_signal, sizeof(ss->exit_signal), "%s", signal);
	snprintf(ss->exit_msg, sizeof(ss->exit_msg), "%s", msg ? msg : "");
}

/* Client role: no reply is asked for (RFC 4254 6.9), so it goes now. */
static int sx_signal(struct ch_stream *s, const char *name)
{
	struct ss *ss = s->impl;

	if (ss->state != SS_OPEN || ss->ch == NULL ||
	    !ssh_channel_is_open(ss->ch))
		return CH_ERR_CLOSED;
	if (ssh_channel_request_send_signal(ss->ch, name) != SSH_OK)
		return CH_ERR_SSH;
	ch_sshio_rearm(&ss->sx->io);
	return CH_OK;
}

static void sx_resize(struct ch_stream *s, uint32_t cols, uint32_t rows)
{
	struct ss *ss = s->impl;

	ss->want_resize = 1;
	ss->cols = cols;
	ss->rows = rows;
	ch_xport_kick(s->x);	/* sent from the loop */
}

static void sx_stream_close(struct ch_stream *s, int hard)
{
	struct ss *ss = s->impl;

	if (ss == NULL || ss->state == SS_ENDED) {
		ch_stream_gone(s, NULL);
		return;
	}
	/* ended from the loop: never inside a libssh callback, which may
	 * still use the channel when it returns */
	ss->want_close = 1;
	if (hard || ss->state != SS_OPEN)
		ss->hard = 1;
	ch_xport_kick(s->x);
}

static void sx_stream_free(struct ch_stream *s)
{
	struct ss *ss = s->impl;

	if (ss == NULL)
		return;
	if (ss->state != SS_ENDED) {	/* never ended on the wire */
		ss->s->closing = 1;
		ss_end(ss, NULL);
	}
	free(ss);
	s->impl = NULL;
}

/* From the loop: the first step (our banner, a client's KEXINIT) and the
 * handshake until it is done; afterwards the channels' deferred work
 * (held data after a resume, closes, opens). */
static void sx_soon(struct ch_xport *x)
{
	struct sx *sx = sx_of(x);

	if (sx->state != SX_OPEN && !x->closing)
		sx_io(&sx->io);
	else
		after_pump(sx);
	if (!x->closing)
		ch_sshio_rearm(&sx->io);
}

static void sx_teardown(struct ch_xport *x)
{
	struct sx *sx = sx_of(x);
	socket_t fd = SSH_INVALID_SOCKET;

	if (x->role == CH_XPORT_CLIENT)
		fd = ssh_get_fd(sx->ssh);
	else
		fd = sx->fd;	/* libssh closes its duplicate */
	ch_sshio_close(&sx->io);
	/* The peer learns why (a refusal, an idle close...), not "Bye Bye".
	 * libssh writes only when its own poll saw the fd writable since its
	 * last write, else it queues, and ssh_disconnect closes with the
	 * queue unsent: we poll the fd ourselves, so say it is writable (a
	 * full socket buffer still only loses the message). */
	if (x->why)
		ssh_session_set_disconnect_message(sx->ssh, x->why);
	if (ssh_is_connected(sx->ssh)) {
		ssh_set_fd_towrite(sx->ssh);
		ssh_disconnect(sx->ssh);	/* frees the channels too */
	}
	/* client role: libssh forgets the fd without closing it (or closed
	 * it itself in an error path: then ssh_get_fd was invalid). Unread
	 * input (the peer's EXT_INFO after a refusal) would make close()
	 * send a reset that can destroy our disconnect message in flight:
	 * read it away first, after our FIN. */
	if (fd != SSH_INVALID_SOCKET) {
		char sink[CH_SSH_DRAIN_CHUNK];

		shutdown(fd, SHUT_WR);
		for (int i = 0; i < CH_SSH_DRAIN_READS &&
		     recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
			;
		close(fd);
	}
}

static uint64_t sx_rx_bytes(const struct ch_xport *x)
{
	return sx_of(x)->io.rx.in_bytes;
}

static ssh_session sx_ssh(const struct ch_xport *x)
{
	return sx_of(x)->ssh;
}

static const struct ch_xport_impl ssh_impl = {
	.name = "ssh",
	.kind = CH_XPORT_SSH,
	.deadline = sx_deadline,
	.keepalive = sx_keepalive,
	.open = sx_open,
	.write = sx_write,
	.write_err = sx_write_err,
	.pending = sx_pending,
	.pause = sx_pause,
	.eof = sx_eof,
	.exit_status = sx_exit_status,
	.exit_signal = sx_exit_signal,
	.signal = sx_signal,
	.resize = sx_resize,
	.stream_close = sx_stream_close,
	.stream_free = sx_stream_free,
	.teardown = sx_teardown,
	.rx_bytes = sx_rx_bytes,
	.soon = sx_soon,
	.ssh = sx_ssh,
};

/* The common start: x and sx allocated and linked, or everything freed
 * (and fd closed) on failure. */
static int sx_new(uv_loop_t *loop, int fd, enum ch_xport_role role,
		  const struct ch_xport_opts *o,
		  const struct ch_xport_ops *ops, void *owner,
		  struct ch_xport **xp, struct sx **sxp)
{
	struct ch_xport *x = calloc(1, sizeof(*x));
	struct sx *sx = calloc(1, sizeof(*sx));

	if (x == NULL || sx == NULL || (sx->ssh = ssh_new()) == NULL) {
		free(x);
		free(sx);
		close(fd);
		return CH_ERR_NOMEM;
	}
	if (ch_xport_init(x, loop, &ssh_impl, role, o, ops, owner) != CH_OK) {
		ssh_free(sx->ssh);
		free(sx);
		free(x);
		close(fd);
		return CH_ERR_IO;
	}
	x->impl_data = sx;
	sx->x = x;
	sx->fd = fd;
	set_nonblocking(fd);
	sx->max_auth_tries = o->max_auth_tries ? o->max_auth_tries
					       : CH_XPORT_MAX_AUTH_TRIES;
	*xp = x;
	*sxp = sx;
	return CH_OK;
}

/* Undoes sx_new once ssh holds what it holds (fd per role, see above). */
static void sx_undo(struct ch_xport *x, struct sx *sx, int close_fd)
{
	ssh_free(sx->ssh);
	if (close_fd)
		close(sx->fd);
	x->impl_data = NULL;
	free(sx);
	ch_xport_abort(x);
}

static int sx_go(uv_loop_t *loop, struct ch_xport *x, struct sx *sx,
		 int close_fd_on_fail, struct ch_xport **out)
{
	int r;

	ssh_set_blocking(sx->ssh, 0);
	if ((r = ch_sshio_start(&sx->io, loop, sx->ssh, sx->fd, &sx_io_cb,
				sx)) != CH_OK) {
		sx_undo(x, sx, close_fd_on_fail);
		return r;
	}
	*out = x;
	/* the first step (our banner, a client's KEXINIT) from the loop */
	ch_xport_kick(x);
	return CH_OK;
}

int ch_xport_ssh_client_start(uv_loop_t *loop, int fd,
			      const struct ch_xport_opts *o,
			      const struct ch_xport_ops *ops, void *owner,
			      struct ch_xport **out)
{
	struct ch_xport *x;
	struct sx *sx;
	int off = 0, r;
	const char *nul = "/dev/null";

	*out = NULL;
	if (o->key == NULL || o->user == NULL) {
		close(fd);
		return CH_ERR_INVAL;
	}
	if ((r = sx_new(loop, fd, CH_XPORT_CLIENT, o, ops, owner, &x, &sx))
	    != CH_OK)
		return r;
	sx->key = o->key;
	snprintf(sx->user, sizeof(sx->user), "%s", o->user);
	/* The fd stays ours. No ~/.ssh/config or known_hosts: identity is
	 * the owner's (identify). */
	if (ssh_options_set(sx->ssh, SSH_OPTIONS_FD, &fd) != SSH_OK ||
	    ssh_options_set(sx->ssh, SSH_OPTIONS_PROCESS_CONFIG, &off) != SSH_OK ||
	    ssh_options_set(sx->ssh, SSH_OPTIONS_KNOWNHOSTS, nul) != SSH_OK ||
	    ssh_options_set(sx->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, nul) != SSH_OK ||
	    ssh_options_set(sx->ssh, SSH_OPTIONS_USER, o->user) != SSH_OK) {
		ch_clog(CH_LOG_ERROR, x->log, "cannot set up SSH: %s",
			ssh_get_error(sx->ssh));
		sx_undo(x, sx, 1);
		return CH_ERR_SSH;
	}
	ssh_set_message_callback(sx->ssh, refuse_message, sx);
	return sx_go(loop, x, sx, 1, out);
}

int ch_xport_ssh_server_start(uv_loop_t *loop, int fd,
			      const struct ch_xport_opts *o,
			      const struct ch_xport_ops *ops, void *owner,
			      struct ch_xport **out)
{
	struct ch_xport *x;
	struct sx *sx;
	int r, lfd;

	*out = NULL;
	if (o->bind == NULL) {
		close(fd);
		return CH_ERR_INVAL;
	}
	if ((r = sx_new(loop, fd, CH_XPORT_SERVER, o, ops, owner, &x, &sx))
	    != CH_OK)
		return r;
	/* libssh gets a duplicate and closes it in ssh_free (or at a reset);
	 * the watched fd stays ours (see the top). If accept_fd fails it is
	 * unclear whether the duplicate was taken, so it is forgotten
	 * rather than risk a double close (as libnetconf2 does). */
	if ((lfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		ch_clog_errno(CH_LOG_ERROR, x->log, "cannot start the SSH "
			      "server: dup");
		sx_undo(x, sx, 1);
		return CH_ERR_IO;
	}
	if (ssh_bind_accept_fd(o->bind, sx->ssh, lfd) != SSH_OK) {
		ch_clog(CH_LOG_ERROR, x->log, "cannot start the SSH server: %s",
			ssh_get_error(o->bind));
		sx_undo(x, sx, 1);
		return CH_ERR_SSH;
	}
	sx->scb.userdata = sx;
	sx->scb.auth_pubkey_function = on_auth_pubkey;
	sx->scb.channel_open_request_session_function = on_session_open;
	ssh_callbacks_init(&sx->scb);
	ssh_set_server_callbacks(sx->ssh, &sx->scb);
	ssh_set_message_callback(sx->ssh, on_message, sx);
	ssh_set_auth_methods(sx->ssh, SSH_AUTH_METHOD_PUBLICKEY);
	return sx_go(loop, x, sx, 1, out);
}
