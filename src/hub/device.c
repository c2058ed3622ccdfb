/* device.c - one call-home connection at the hub: we accepted the TCP
 * connection, and now we are the SSH or TLS *client* (RFC 8071 C3) and
 * the NETCONF client on it.
 *
 * The NETCONF session (hello, operators' rpcs, idle close, keep-alive
 * probes, the registry's view) is the same whatever carries it; the
 * transport is reached through struct device_transport: SSH here, TLS in
 * tlsdev.c. The SSH transport: Every step is non-blocking: libssh returns
 * SSH_AGAIN and the step is retried when the socket is ready, so one slow
 * or hostile device never delays another.
 *
 *   CONNECT   SSH banner and key exchange (ssh_connect)
 *   VERIFY    host key fingerprint checked against the registry (C5)
 *   AUTH      public key authentication with the hub's key (C7: only
 *             after the device was identified)
 *   CHANNEL   session channel, then the netconf subsystem
 *   HELLO     hello exchange
 *   READY     operators' rpcs flow
 */
#include "hub/hub.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/frame.h"
#include "lib/nc/msg.h"
#include "lib/nc/ncproto.h"
#include "lib/xport/sshio.h"

enum dev_state {
	DEV_CONNECT,
	DEV_AUTH,
	DEV_CHANNEL,
	DEV_SUBSYSTEM,
	DEV_HELLO,
	DEV_READY,
	DEV_CLOSED,
};

struct pending_rpc {
	uint32_t message_id;
	uint64_t sent_ms;
	device_rpc_done done;
	void *ctx;
	struct pending_rpc *next;
};

struct device {
	struct hub *hub;
	const struct device_transport *tr;
	void *tdata;			/* the transport's (TLS) */
	int attached;			/* in hub->devices, timers live */
	struct ch_sshio io;
	ssh_session ssh;
	ssh_channel ch;
	struct ch_chanout out;
	struct ch_nc *nc;
	enum dev_state state;
	unsigned id;
	char peer[CH_ADDRSTR_LEN];
	char fp[CH_FP_LEN];		/* the key it presented */
	char key[CH_FP_LEN];		/* its registry key (first key) */
	struct sockaddr_storage addr;	/* for the blocklist */
	int counted_handshake;		/* in hub->handshakes */
	int admitted;
	void *job;			/* jobs.c's run, while one runs */
	uint32_t idle_close_s;		/* 0: keep the session open */
	uv_timer_t idle_timer;		/* --idle-close */
	int was_ready;
	uint32_t next_message_id;
	struct pending_rpc *pending;	/* oldest first */
	struct pending_rpc **pending_tail;
	size_t npending;
	uv_timer_t rpc_timer;
	const char *reason;
	char reason_buf[256];
	int closing_politely;		/* close-session sent (idle) */
	uv_timer_t probe_timer;		/* NETCONF keep-alive probes */
	uint64_t rx_total;		/* bytes the transport gave us */
	uint64_t rx_seen;		/* ... at the last probe tick */
	uint32_t probe_count;		/* unanswered ticks allowed */
	uint32_t probe_unanswered;
	uint32_t next_probe;
	int timers;			/* timers still closing */
	struct device *next;
};

static const char *const client_caps[] = { CH_NC_BASE10, CH_NC_BASE11 };

#define dlog(lvl, d, fmt, ...) \
	ch_log(lvl, "conn=%u peer=%s device=%s " fmt, (d)->id, (d)->peer, \
	       (d)->fp[0] ? (d)->fp : "?", ##__VA_ARGS__)

static const struct device_transport ssh_transport;

void device_logf(const struct device *d, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ch_log(level, "conn=%u peer=%s device=%s %s", d->id, d->peer,
	       d->fp[0] ? d->fp : "?", line);
}

void *device_tdata(const struct device *d) { return d->tdata; }
struct hub *device_hub(const struct device *d) { return d->hub; }

void device_set_presented(struct device *d, const char *id)
{
	snprintf(d->fp, sizeof(d->fp), "%s", id);
}

const char *device_fingerprint(const struct device *d) { return d->fp; }
const char *device_peer(const struct device *d) { return d->peer; }
unsigned device_conn_id(const struct device *d) { return d->id; }
int device_is_ready(const struct device *d) { return d->state == DEV_READY; }
struct device *device_next(const struct device *d) { return d->next; }

int device_is_authenticated(const struct device *d)
{
	return d->state >= DEV_CHANNEL && d->state != DEV_CLOSED;
}

int device_was_ready(const struct device *d) { return d->was_ready; }
const char *device_key(const struct device *d) { return d->key; }
int device_admitted(const struct device *d) { return d->admitted; }

const struct sockaddr *device_addr(const struct device *d)
{
	return (const struct sockaddr *)&d->addr;
}
void *device_job(const struct device *d) { return d->job; }
void device_set_job(struct device *d, void *job) { d->job = job; }

void device_set_key(struct device *d, const char *key_fp)
{
	snprintf(d->key, sizeof(d->key), "%s", key_fp);
	d->admitted = 1;
}

void device_set_idle_close(struct device *d, uint32_t seconds)
{
	d->idle_close_s = seconds;
	if (seconds == 0)
		uv_timer_stop(&d->idle_timer);
	else
		device_touch(d);
}

int device_has_cap(const struct device *d, const char *uri)
{
	const struct ch_hello *h;
	size_t n = strlen(uri);

	if (d->nc == NULL || !ch_nc_ready(d->nc))
		return 0;
	h = ch_nc_peer_hello(d->nc);
	for (size_t i = 0; i < h->ncaps; i++)
		if (strncmp(h->caps[i], uri, n) == 0 &&
		    (h->caps[i][n] == '\0' || h->caps[i][n] == '?'))
			return 1;
	return 0;
}

json_t *device_caps_json(const struct device *d)
{
	json_t *arr = json_array();
	const struct ch_hello *h;

	if (d->nc == NULL || !ch_nc_ready(d->nc))
		return arr;
	h = ch_nc_peer_hello(d->nc);
	for (size_t i = 0; i < h->ncaps; i++)
		json_array_append_new(arr, json_string(h->caps[i]));
	return arr;
}

static void on_idle(uv_timer_t *t)
{
	struct device *d = t->data;

	if (d->state != DEV_READY || d->job || d->npending)
		return;
	/* Polite end for periodic devices (RFC 8071 / RFC 9643 periodic
	 * connection-type): close-session, then the device hangs up. */
	dlog(CH_LOG_INFO, d, "idle for %u s with nothing queued: closing the "
	     "session", d->idle_close_s);
	ch_nc_send(d->nc, "<rpc xmlns=\"" CH_NC_NS "\" message-id=\"close\">"
		   "<close-session/></rpc>",
		   strlen("<rpc xmlns=\"" CH_NC_NS "\" message-id=\"close\">"
			  "<close-session/></rpc>"));
	d->closing_politely = 1;
	d->tr->deadline(d, 5000, "device did not end the session after "
			"close-session");
}

void device_touch(struct device *d)
{
	if (d == NULL || d->state != DEV_READY || d->idle_close_s == 0)
		return;
	uv_timer_start(&d->idle_timer, on_idle, 1000ull * d->idle_close_s, 0);
}
const char *device_close_reason(const struct device *d) { return d->reason; }

static void unlink_device(struct device *d)
{
	for (struct device **pp = &d->hub->devices; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			return;
		}
	}
}

static void handshake_done(struct device *d)
{
	if (d->counted_handshake) {
		d->counted_handshake = 0;
		d->hub->handshakes--;
	}
}

static void fail_pending(struct device *d, const char *why)
{
	struct pending_rpc *p;

	while ((p = d->pending) != NULL) {
		d->pending = p->next;
		d->npending--;
		p->done(p->ctx, CH_ERR_CLOSED, NULL, 0, why);
		free(p);
	}
	d->pending_tail = &d->pending;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct device *d = h->data;

	if (--d->timers > 0)	/* free once every timer is closed */
		return;
	ch_nc_free(d->nc);
	d->tr->free(d);
	free(d);
}

void device_transport_closed(struct device *d)
{
	d->timers = 3;
	uv_close((uv_handle_t *)&d->rpc_timer, on_timer_closed);
	uv_close((uv_handle_t *)&d->idle_timer, on_timer_closed);
	uv_close((uv_handle_t *)&d->probe_timer, on_timer_closed);
}

void device_close(struct device *d, const char *reason)
{
	if (d->state == DEV_CLOSED)
		return;
	d->state = DEV_CLOSED;
	d->reason = reason;
	handshake_done(d);
	dlog(CH_LOG_INFO, d, "connection closed: %s", reason);
	fail_pending(d, reason);
	uv_timer_stop(&d->idle_timer);
	uv_timer_stop(&d->probe_timer);
	unlink_device(d);
	hub_device_gone(d->hub, d);	/* the registry records why */
	d->tr->close(d);
}

void device_close_with(struct device *d, const char *what, const char *detail)
{
	if (d->state == DEV_CLOSED)
		return;
	snprintf(d->reason_buf, sizeof(d->reason_buf), "%s%s%s", what,
		 detail && *detail ? ": " : "", detail ? detail : "");
	device_close(d, d->reason_buf);
}

/* Closes with a reason built at run time (kept in the device). */
static void close_why(struct device *d, const char *what, const char *detail)
{
	device_close_with(d, what, detail);
}

static int nc_send(void *ctx, const char *data, size_t len)
{
	struct device *d = ctx;

	return d->tr->send(d, data, len);
}

/* NETCONF-level keep-alive, for transports without their own: every
 * interval without a byte from the device, a probe goes out; after count
 * ticks in a row with nothing received the device is declared dead. Any
 * byte counts as an answer (a reply to an operator's rpc as well as to
 * the probe), like the SSH keep-alives. At most one probe is in flight. */
static void on_probe(uv_timer_t *t)
{
	struct device *d = t->data;
	char msg[256];
	int n;

	if (d->state != DEV_READY)
		return;
	if (d->rx_total != d->rx_seen) {
		d->rx_seen = d->rx_total;
		d->probe_unanswered = 0;
		return;
	}
	if (d->probe_unanswered >= d->probe_count) {
		device_close(d, "no answer to keep-alives");
		return;
	}
	d->probe_unanswered++;
	if (d->probe_unanswered > 1)
		return;		/* the probe sent before is still out */
	n = snprintf(msg, sizeof(msg), "<rpc xmlns=\"%s\" message-id=\""
		     HUB_PROBE_ID_PREFIX "%u\"><get><filter type=\"subtree\">"
		     "<probe xmlns=\"" HUB_PROBE_NS "\"/></filter></get></rpc>",
		     CH_NC_NS, d->next_probe++);
	dlog(CH_LOG_DEBUG, d, "keep-alive probe");
	if (ch_nc_send(d->nc, msg, (size_t)n) != CH_OK)
		device_close(d, "cannot send a keep-alive probe");
}

static void probe_start(struct device *d, uint32_t interval_ms, uint32_t count)
{
	d->probe_count = count;
	d->probe_unanswered = 0;
	d->rx_seen = d->rx_total;
	if (interval_ms)
		uv_timer_start(&d->probe_timer, on_probe, interval_ms,
			       interval_ms);
}

static void nc_hello(void *ctx, const struct ch_hello *peer)
{
	struct device *d = ctx;

	d->state = DEV_READY;
	d->was_ready = 1;
	d->tr->deadline(d, 0, NULL);
	if (d->tr->keepalive)
		d->tr->keepalive(d, d->hub->cfg.keepalive_ms,
				 d->hub->cfg.keepalive_count);
	else
		probe_start(d, d->hub->cfg.keepalive_ms,
			    d->hub->cfg.keepalive_count);
	dlog(CH_LOG_INFO, d, "NETCONF session up: session-id=%u, "
	     "%zu capabilities, %s, over %s", peer->session_id, peer->ncaps,
	     ch_nc_chunked(d->nc) ? "base:1.1" : "base:1.0", d->tr->name);
	hub_device_ready(d->hub, d, peer->ncaps);
}

static int nc_message(void *ctx, const char *msg, size_t len)
{
	struct device *d = ctx;
	struct ch_reply rep;
	struct pending_rpc *p, **pp;
	uint32_t id = 0;
	char *end;

	if (ch_reply_parse(msg, len, &rep) != CH_OK) {
		/* Notifications come with a later issue; anything else that is
		 * not a reply is logged and ignored. */
		dlog(CH_LOG_DEBUG, d, "ignored a message that is not an "
		     "<rpc-reply> (%zu bytes)", len);
		return CH_OK;
	}
	if (rep.message_id && strncmp(rep.message_id, HUB_PROBE_ID_PREFIX,
				      strlen(HUB_PROBE_ID_PREFIX)) == 0) {
		/* the probe's answer: liveness only (counted in rx_total),
		 * not activity for --idle-close */
		dlog(CH_LOG_DEBUG, d, "keep-alive answered");
		ch_reply_cleanup(&rep);
		return CH_OK;
	}
	if (d->closing_politely && rep.message_id &&
	    strcmp(rep.message_id, "close") == 0) {
		ch_reply_cleanup(&rep);
		device_close(d, "idle: closed with close-session");
		return CH_ERR_CLOSED;
	}
	device_touch(d);
	if (rep.message_id)
		id = (uint32_t)strtoul(rep.message_id, &end, 10);
	for (pp = &d->pending; (p = *pp) != NULL; pp = &p->next)
		if (rep.message_id && *end == '\0' && p->message_id == id)
			break;
	if (p == NULL) {
		dlog(CH_LOG_WARN, d, "reply with unknown message-id '%s' "
		     "ignored", rep.message_id ? rep.message_id : "(none)");
		ch_reply_cleanup(&rep);
		return CH_OK;
	}
	*pp = p->next;
	if (d->pending_tail == &p->next)
		d->pending_tail = pp;
	d->npending--;
	dlog(CH_LOG_DEBUG, d, "reply to message-id=%u%s%s", id,
	     rep.has_error ? ", rpc-error " : "",
	     rep.has_error && rep.error_tag ? rep.error_tag : "");
	ch_reply_cleanup(&rep);
	p->done(p->ctx, CH_OK, msg, len, NULL);
	free(p);
	return CH_OK;
}

static const struct ch_nc_ops device_nc_ops = {
	.send = nc_send,
	.on_hello = nc_hello,
	.on_message = nc_message,
};

static void on_rpc_timer(uv_timer_t *t)
{
	struct device *d = t->data;
	uint64_t now = uv_now(d->hub->loop);

	if (d->pending == NULL) {	/* runs only while rpcs are out */
		uv_timer_stop(t);
		return;
	}
	/* Replies come in order (RFC 6241 4.5): if the oldest is overdue
	 * the device is stuck; the session cannot be trusted to resync. */
	if (d->pending && now - d->pending->sent_ms >= d->hub->cfg.rpc_timeout_ms) {
		dlog(CH_LOG_WARN, d, "no reply to message-id=%u within %u s",
		     d->pending->message_id, d->hub->cfg.rpc_timeout_ms / 1000);
		device_close(d, "device did not answer an rpc in time");
	}
}

int device_rpc(struct device *d, const char *op_xml, device_rpc_done done,
	       void *ctx, const char **why)
{
	struct pending_rpc *p;
	struct ch_buf msg;
	int r;

	*why = NULL;
	if (d->state != DEV_READY) {
		*why = "the device's NETCONF session is not up";
		return CH_ERR_CLOSED;
	}
	if (d->npending >= HUB_MAX_PENDING_RPC) {
		*why = "too many rpcs outstanding on this device";
		return CH_ERR_LIMIT;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return CH_ERR_NOMEM;
	ch_buf_init(&msg, d->hub->cfg.max_message);
	p->message_id = d->next_message_id++;
	r = ch_rpc_build(&msg, p->message_id, op_xml, why);
	if (r == CH_OK && (r = ch_nc_send(d->nc, ch_buf_ptr(&msg),
					  ch_buf_len(&msg))) != CH_OK)
		*why = "the device's connection cannot take more data";
	ch_buf_cleanup(&msg);
	if (r != CH_OK) {
		if (*why == NULL)
			*why = ch_strerror(r);
		free(p);
		return r;
	}
	p->sent_ms = uv_now(d->hub->loop);
	p->done = done;
	p->ctx = ctx;
	*d->pending_tail = p;
	d->pending_tail = &p->next;
	d->npending++;
	if (!uv_is_active((uv_handle_t *)&d->rpc_timer))
		uv_timer_start(&d->rpc_timer, on_rpc_timer, 1000, 1000);
	dlog(CH_LOG_DEBUG, d, "sent message-id=%u", p->message_id);
	return CH_OK;
}

/* Reads whatever the channel has and feeds NETCONF. */
static void read_channel(struct device *d)
{
	char buf[HUB_READ_CHUNK];
	int n;

	while (d->state == DEV_HELLO || d->state == DEV_READY) {
		n = ssh_channel_read_nonblocking(d->ch, buf, sizeof(buf), 0);
		if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(d->ch))) {
			device_close(d, d->was_ready
				? "device closed the NETCONF session"
				: "device closed the channel before hello");
			return;
		}
		if (n < 0) {
			if (!ssh_is_connected(d->ssh))
				close_why(d, d->closing_politely
					  ? "idle: closed with close-session"
					  : "device disconnected",
					  ssh_get_disconnect_message(d->ssh));
			else
				close_why(d, "SSH error", ssh_get_error(d->ssh));
			return;
		}
		if (n == 0)
			return;
		if (device_input(d, buf, (size_t)n) != CH_OK)
			return;
	}
}

int device_input(struct device *d, const char *data, size_t len)
{
	int r;

	if (d->state != DEV_HELLO && d->state != DEV_READY)
		return CH_ERR_CLOSED;
	d->rx_total += len;
	if ((r = ch_nc_input(d->nc, data, len)) != CH_OK) {
		close_why(d, "NETCONF error", ch_nc_error(d->nc)[0]
			  ? ch_nc_error(d->nc) : ch_strerror(r));
		return r;
	}
	return d->state == DEV_CLOSED ? CH_ERR_CLOSED : CH_OK;
}

int device_nc_start(struct device *d)
{
	handshake_done(d);
	d->nc = ch_nc_new(CH_NC_CLIENT, 0, client_caps, 2,
			  d->hub->cfg.max_message, &device_nc_ops, d);
	if (d->nc == NULL) {
		device_close(d, "out of memory");
		return CH_ERR_NOMEM;
	}
	d->state = DEV_HELLO;
	if (ch_nc_start(d->nc) != CH_OK) {
		device_close(d, "cannot send hello");
		return CH_ERR_CLOSED;
	}
	return CH_OK;
}

static void step(struct device *d)
{
	const char *why = NULL;
	ssh_key srv = NULL;
	int r;

	switch (d->state) {
	case DEV_CONNECT:
		r = ssh_connect(d->ssh);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			close_why(d, "SSH handshake failed",
				  ssh_get_error(d->ssh));
			return;
		}
		if (ssh_get_server_publickey(d->ssh, &srv) != SSH_OK ||
		    ch_key_fingerprint(srv, d->fp, sizeof(d->fp)) != CH_OK) {
			ssh_key_free(srv);
			device_close(d, "device host key unreadable");
			return;
		}
		ssh_key_free(srv);
		/* Identify before authenticating: our credentials go only to
		 * a device we know (RFC 8071 C5-C7). */
		if (hub_admit(d->hub, d, d->fp, &why) != CH_OK) {
			device_close(d, why);
			return;
		}
		d->state = DEV_AUTH;
		/* fall through */
	case DEV_AUTH:
		r = ssh_userauth_publickey(d->ssh, NULL, d->hub->key);
		if (r == SSH_AUTH_AGAIN)
			return;
		if (r != SSH_AUTH_SUCCESS) {
			close_why(d, "device refused the hub's key for user",
				  d->hub->cfg.user);
			return;
		}
		handshake_done(d);
		dlog(CH_LOG_INFO, d, "authenticated to the device as '%s'",
		     d->hub->cfg.user);
		if ((d->ch = ssh_channel_new(d->ssh)) == NULL) {
			device_close(d, "out of memory");
			return;
		}
		ch_chanout_init(&d->out, d->ch);
		d->state = DEV_CHANNEL;
		/* fall through */
	case DEV_CHANNEL:
		r = ssh_channel_open_session(d->ch);
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			close_why(d, "device refused a session channel",
				  ssh_get_error(d->ssh));
			return;
		}
		d->state = DEV_SUBSYSTEM;
		/* fall through */
	case DEV_SUBSYSTEM:
		r = ssh_channel_request_subsystem(d->ch, "netconf");
		if (r == SSH_AGAIN)
			return;
		if (r != SSH_OK) {
			device_close(d, "device refused the netconf subsystem");
			return;
		}
		if (device_nc_start(d) != CH_OK)
			return;
		/* fall through */
	case DEV_HELLO:
	case DEV_READY:
		if (ch_chanout_flush(&d->out) != CH_OK) {
			close_why(d, "SSH error", ssh_get_error(d->ssh));
			return;
		}
		read_channel(d);
		if (d->state == DEV_READY || d->state == DEV_HELLO) {
			if (ch_chanout_flush(&d->out) != CH_OK)
				close_why(d, "SSH error", ssh_get_error(d->ssh));
		}
		break;
	case DEV_CLOSED:
		return;
	}
	if (d->state != DEV_CLOSED && (!ssh_is_connected(d->ssh) ||
	    (ssh_get_status(d->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR))))
		device_close(d, d->was_ready ? "device disconnected"
					     : "device disconnected during "
					       "the handshake");
}

static void device_io(struct ch_sshio *io)
{
	step(io->data);
}

static void device_dead(struct ch_sshio *io)
{
	device_close(io->data, "no answer to keep-alives");
}

static void device_expired(struct ch_sshio *io, const char *why)
{
	device_close(io->data, why);
}

static void device_closed(struct ch_sshio *io)
{
	device_transport_closed(io->data);
}

static const struct ch_sshio_cb device_io_cb = {
	.io = device_io,
	.expired = device_expired,
	.dead = device_dead,
	.closed = device_closed,
};

/* ---- the SSH transport's ops ---- */

static int ssh_tr_send(struct device *d, const char *data, size_t len)
{
	int r = ch_chanout_write(&d->out, data, len);

	ch_sshio_rearm(&d->io);
	return r;
}

static void ssh_tr_deadline(struct device *d, uint64_t ms, const char *why)
{
	ch_sshio_deadline(&d->io, ms, why);
}

static void ssh_tr_keepalive(struct device *d, uint32_t interval_ms,
			     uint32_t count)
{
	ch_sshio_keepalive(&d->io, interval_ms, count);
}

static void ssh_tr_close(struct device *d)
{
	socket_t fd;

	ch_chanout_cleanup(&d->out);
	/* The fd given with SSH_OPTIONS_FD is ours in libssh 0.10, except
	 * in error paths where libssh already closed it (then ssh_get_fd is
	 * invalid). ssh_disconnect sends the goodbye and forgets the fd
	 * without closing it; we close it once nothing watches it. */
	fd = ssh_get_fd(d->ssh);
	ch_sshio_close(&d->io);
	ssh_disconnect(d->ssh);		/* frees the channel too */
	d->ch = NULL;
	if (fd != SSH_INVALID_SOCKET)
		close(fd);
}

static void ssh_tr_free(struct device *d)
{
	ch_chanout_cleanup(&d->out);
	ssh_free(d->ssh);	/* the fd was closed in ssh_tr_close */
}

static const struct device_transport ssh_transport = {
	.name = "ssh",
	.send = ssh_tr_send,
	.deadline = ssh_tr_deadline,
	.keepalive = ssh_tr_keepalive,
	.close = ssh_tr_close,
	.free = ssh_tr_free,
};

/* Anything the device asks of us (channel opens, forwarding...) is
 * refused with libssh's default reply: a client SHOULD reject these
 * (RFC 4254 6.1, 7.2), and queueing them would let a device grow our
 * memory. */
static int refuse_message(ssh_session s, ssh_message m, void *ud)
{
	(void)s;
	(void)m;
	(void)ud;
	return 1;
}

struct device *device_alloc(struct hub *hub, const char *peer,
			    const struct sockaddr *sa,
			    const struct device_transport *tr, void *tdata)
{
	struct device *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->hub = hub;
	d->tr = tr;
	d->tdata = tdata;
	d->id = hub->next_conn_id++;
	d->next_message_id = 1;
	d->next_probe = 1;
	d->pending_tail = &d->pending;
	snprintf(d->peer, sizeof(d->peer), "%s", peer);
	memcpy(&d->addr, sa, sa->sa_family == AF_INET6
	       ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	return d;
}

void device_discard(struct device *d)
{
	if (d && !d->attached)
		free(d);
}

void device_attach(struct device *d)
{
	struct hub *hub = d->hub;

	d->attached = 1;
	uv_timer_init(hub->loop, &d->rpc_timer);
	uv_timer_init(hub->loop, &d->idle_timer);
	uv_timer_init(hub->loop, &d->probe_timer);
	d->rpc_timer.data = d->idle_timer.data = d->probe_timer.data = d;
	d->counted_handshake = 1;
	hub->handshakes++;
	d->next = hub->devices;
	hub->devices = d;
	d->tr->deadline(d, hub->cfg.handshake_timeout_ms,
			"handshake did not finish in time");
	dlog(CH_LOG_INFO, d, "device called (%s)", d->tr->name);
}

int device_start(struct hub *hub, int fd, const char *peer,
		 const struct sockaddr *sa)
{
	struct device *d = device_alloc(hub, peer, sa, &ssh_transport, NULL);
	int off = 0, r;
	const char *nul = "/dev/null";

	if (d == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	if ((d->ssh = ssh_new()) == NULL) {
		close(fd);
		free(d);
		return CH_ERR_NOMEM;
	}
	/* The fd stays ours (see device_close). No ~/.ssh/config or
	 * known_hosts: identity is the registry's. */
	if (ssh_options_set(d->ssh, SSH_OPTIONS_FD, &fd) != SSH_OK ||
	    ssh_options_set(d->ssh, SSH_OPTIONS_PROCESS_CONFIG, &off) != SSH_OK ||
	    ssh_options_set(d->ssh, SSH_OPTIONS_KNOWNHOSTS, nul) != SSH_OK ||
	    ssh_options_set(d->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, nul) != SSH_OK ||
	    ssh_options_set(d->ssh, SSH_OPTIONS_USER, hub->cfg.user) != SSH_OK) {
		dlog(CH_LOG_ERROR, d, "cannot set up SSH: %s",
		     ssh_get_error(d->ssh));
		ssh_free(d->ssh);
		close(fd);
		free(d);
		return CH_ERR_SSH;
	}
	ssh_set_message_callback(d->ssh, refuse_message, d);
	ssh_set_blocking(d->ssh, 0);
	if ((r = ch_sshio_start(&d->io, hub->loop, d->ssh, fd, &device_io_cb,
				d)) != CH_OK) {
		ssh_free(d->ssh);	/* not connected yet: leaves fd alone */
		close(fd);
		free(d);
		return r;
	}
	device_attach(d);
	step(d);
	if (d->state != DEV_CLOSED)
		ch_sshio_rearm(&d->io);
	return CH_OK;
}
