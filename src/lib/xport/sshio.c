#include "lib/xport/sshio.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <libssh/server.h>
#include <string.h>

static void on_handle_closed(uv_handle_t *h)
{
	struct ch_sshio *io = h->data;

	if (--io->handles == 0 && io->cb->closed)
		io->cb->closed(io);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct ch_sshio *io = p->data;

	(void)events;
	if (io->closing)
		return;
	/* An error on the fd (status < 0) is left for libssh to find when
	 * the owner pumps it: it then reports the session closed. But libuv
	 * has stopped the handle (POLLERR): it must be started again, or a
	 * pump that did not get to the error (data still to read first)
	 * leaves the connection unwatched for ever. A socket that keeps
	 * failing while libssh sees nothing is ended. */
	if (status < 0) {
		io->events = 0;
		if (++io->poll_errors > CH_SSHIO_POLL_ERRORS_MAX) {
			io->cb->expired(io, "socket error");
			return;
		}
	} else {
		io->poll_errors = 0;
	}
	io->cb->io(io);
	/* Bytes from the peer: it is alive, the keep-alive count restarts
	 * from now (the timer is re-aimed when it next fires). */
	if (io->rx.in_bytes != io->rx_seen) {
		io->rx_seen = io->rx.in_bytes;
		io->last_rx = uv_now(p->loop);
		io->ka_unanswered = 0;
	}
	if (!io->closing)
		ch_sshio_rearm(io);
}

static void on_deadline(uv_timer_t *t)
{
	struct ch_sshio *io = t->data;

	if (!io->closing)
		io->cb->expired(io, io->deadline_why ? io->deadline_why
						     : "deadline passed");
}

static void on_keepalive(uv_timer_t *t)
{
	struct ch_sshio *io = t->data;
	uint64_t now = uv_now(t->loop), idle;

	if (io->closing)
		return;
	if (io->rx.in_bytes != io->rx_seen) {	/* read outside on_poll */
		io->rx_seen = io->rx.in_bytes;
		io->last_rx = now;
		io->ka_unanswered = 0;
	}
	idle = now - io->last_rx;
	if (idle < io->ka_interval) {	/* heard from it since: wait more */
		uv_timer_start(&io->keepalive, on_keepalive,
			       io->ka_interval - idle, 0);
		return;
	}
	if (io->ka_unanswered >= io->ka_count) {
		io->cb->dead(io);
		return;
	}
	uv_timer_start(&io->keepalive, on_keepalive, io->ka_interval, 0);
	/* In non-blocking mode libssh sends a request only when none is
	 * outstanding; a call that finds the previous answer consumes it and
	 * sends nothing, so call twice: at most one probe is ever in flight,
	 * and a new one goes out on every tick that has no answer pending. */
	ssh_send_keepalive(io->ssh);
	ssh_send_keepalive(io->ssh);
	io->ka_unanswered++;
	ch_sshio_rearm(io);
	/* Sending may have pumped libssh and found the session gone. */
	if (!io->closing && !ssh_is_connected(io->ssh))
		io->cb->io(io);
}

int ch_sshio_start(struct ch_sshio *io, uv_loop_t *loop, ssh_session ssh,
		   int fd, const struct ch_sshio_cb *cb, void *data)
{
	int r;

	memset(io, 0, sizeof(*io));
	io->ssh = ssh;
	io->cb = cb;
	io->data = data;
	if ((r = uv_poll_init(loop, &io->poll, fd)) != 0) {
		ch_log_uv(CH_LOG_ERROR, r, "cannot watch fd %d", fd);
		return CH_ERR_IO;
	}
	uv_timer_init(loop, &io->deadline);
	uv_timer_init(loop, &io->keepalive);
	io->poll.data = io->deadline.data = io->keepalive.data = io;
	io->handles = 3;
	ssh_set_counters(ssh, &io->rx, NULL);
	ch_sshio_rearm(io);
	return CH_OK;
}

void ch_sshio_rearm(struct ch_sshio *io)
{
	int want = UV_READABLE;

	if (io->closing)
		return;
	/* libssh closed the fd itself (a peer's SSH_MSG_DISCONNECT, some
	 * errors): stop watching a number the kernel may already have given
	 * to another file; libuv aborts on a watcher whose fd is gone. */
	if (ssh_get_fd(io->ssh) == SSH_INVALID_SOCKET) {
		if (io->events) {
			io->events = 0;
			uv_poll_stop(&io->poll);
		}
		return;
	}
	if (ssh_get_poll_flags(io->ssh) & SSH_WRITE_PENDING)
		want |= UV_WRITABLE;
	if (want != io->events) {
		io->events = want;
		uv_poll_start(&io->poll, want, on_poll);
	}
}

void ch_sshio_deadline(struct ch_sshio *io, uint64_t ms, const char *why)
{
	if (io->closing)
		return;
	io->deadline_why = why;
	if (ms)
		uv_timer_start(&io->deadline, on_deadline, ms, 0);
	else
		uv_timer_stop(&io->deadline);
}

void ch_sshio_keepalive(struct ch_sshio *io, uint32_t interval_ms,
			uint32_t count)
{
	if (io->closing)
		return;
	io->ka_count = count;
	io->ka_interval = interval_ms;
	io->ka_unanswered = 0;
	io->rx_seen = io->rx.in_bytes;
	io->last_rx = uv_now(io->keepalive.loop);
	if (interval_ms)
		uv_timer_start(&io->keepalive, on_keepalive, interval_ms, 0);
	else
		uv_timer_stop(&io->keepalive);
}

void ch_sshio_close(struct ch_sshio *io)
{
	if (io->closing)
		return;
	io->closing = 1;
	/* libssh keeps a pointer to the counters until ssh_free. */
	uv_close((uv_handle_t *)&io->poll, on_handle_closed);
	uv_close((uv_handle_t *)&io->deadline, on_handle_closed);
	uv_close((uv_handle_t *)&io->keepalive, on_handle_closed);
}

void ch_chanout_init(struct ch_chanout *o, ssh_channel ch)
{
	o->ch = ch;
	o->is_stderr = 0;
	ch_buf_init(&o->q, CH_CHANOUT_MAX);
}

void ch_chanout_cleanup(struct ch_chanout *o)
{
	ch_buf_cleanup(&o->q);
	o->ch = NULL;
}

/* Writes as much of p as the channel takes; returns bytes taken or < 0. */
static int write_some(ssh_channel ch, int is_stderr, const char *p,
		      size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint32_t win = ssh_channel_window_size(ch);
		size_t n = len - done;
		int w;

		if (win == 0)
			break;
		if (n > win)
			n = win;
		if (n > 1u << 20)
			n = 1u << 20;
		w = is_stderr ? ssh_channel_write_stderr(ch, p + done,
							 (uint32_t)n)
			      : ssh_channel_write(ch, p + done, (uint32_t)n);
		if (w < 0)
			return -1;
		if (w == 0)
			break;
		done += (size_t)w;
	}
	return (int)done;
}

int ch_chanout_flush(struct ch_chanout *o)
{
	int w;

	if (o->ch == NULL || ch_buf_len(&o->q) == 0)
		return CH_OK;
	w = write_some(o->ch, o->is_stderr, ch_buf_ptr(&o->q),
		       ch_buf_len(&o->q));
	if (w < 0)
		return CH_ERR_SSH;
	ch_buf_consume(&o->q, (size_t)w);
	return CH_OK;
}

int ch_chanout_write(struct ch_chanout *o, const void *data, size_t len)
{
	const char *p = data;
	int r, w = 0;

	if ((r = ch_chanout_flush(o)) != CH_OK)
		return r;
	if (ch_buf_len(&o->q) == 0) {	/* keep order: queue drains first */
		if ((w = write_some(o->ch, o->is_stderr, p, len)) < 0)
			return CH_ERR_SSH;
	}
	return ch_buf_put(&o->q, p + w, len - (size_t)w);
}

/* libssh's messages are detail: every failure it reports reaches our own
 * log as one line with the connection's context (E2), so its warnings
 * (a normal disconnect is one) would only repeat that at a louder level. */
static void libssh_log_cb(int priority, const char *function,
			  const char *buffer, void *userdata)
{
	int level = CH_LOG_DEBUG;

	(void)userdata;
	(void)function;
	(void)priority;
	if (level <= ch_log_threshold)
		ch_log_write(level, NULL, "libssh: %s", buffer);
}

void ch_log_route_libssh(void)
{
	ssh_set_log_callback(libssh_log_cb);
	/* Protocol detail from libssh only when we are debugging ourselves. */
	ssh_set_log_level(ch_log_threshold >= CH_LOG_DEBUG ? SSH_LOG_PROTOCOL
							   : SSH_LOG_NONE);
}
