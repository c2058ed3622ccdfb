/* dialer.c - keeps calling home (persistent connection).
 *
 * A round walks the endpoints in order; for each, the host name is
 * resolved again (addresses change) and every address is tried with a
 * connect deadline. The first TCP connection becomes the call-home
 * connection. When a round fails the dialer waits a capped exponential
 * back-off with full jitter, then starts a new round; when an established
 * session ends it calls again at once, from the first endpoint, with the
 * back-off reset (RFC 9643 persistent: reconnect immediately).
 */
#include "agent.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/hostport.h"
#include "lib/log.h"

enum dial_state {
	DIAL_IDLE,		/* waiting for the back-off timer */
	DIAL_RESOLVING,
	DIAL_CONNECTING,
	DIAL_HANDOVER,		/* connected; poll handle closing */
	DIAL_CONNECTED,		/* a call-home connection is live */
	DIAL_STOPPED,
};

struct dialer {
	struct agent *ag;
	enum dial_state state;
	struct ch_backoff backoff;
	size_t ep;			/* endpoint being tried */
	uv_getaddrinfo_t gai;
	struct addrinfo *addrs;		/* results for the endpoint */
	struct addrinfo *cur;		/* address being tried */
	int fd;
	uv_poll_t poll;			/* the connect in progress */
	int poll_active;
	uv_timer_t timer;		/* back-off and connect deadline */
	char peer[CH_ADDRSTR_LEN];
	struct agent_conn *conn;
	int failures;			/* rounds failed in a row */
	void (*stopped)(void *ctx);
	void *stopped_ctx;
	int handles;
};

static void next_endpoint(struct dialer *d);
static void try_address(struct dialer *d);
static void start_round(struct dialer *d);

static const struct agent_endpoint *endpoint(struct dialer *d)
{
	return &d->ag->cfg.endpoints[d->ep];
}

static void maybe_stopped(struct dialer *d)
{
	if (d->state == DIAL_STOPPED && d->handles == 0 && d->conn == NULL &&
	    !d->poll_active) {
		if (d->addrs)
			uv_freeaddrinfo(d->addrs);
		d->addrs = NULL;
		if (d->stopped)
			d->stopped(d->stopped_ctx);
		free(d);
	}
}

static void on_timer_closed(uv_handle_t *h)
{
	struct dialer *d = h->data;

	d->handles--;
	maybe_stopped(d);
}

static void on_round_timer(uv_timer_t *t)
{
	start_round(t->data);
}

static void round_failed(struct dialer *d)
{
	uint32_t delay = ch_backoff_next(&d->backoff);

	d->failures++;
	d->state = DIAL_IDLE;
	ch_info("no manager reachable (round %d failed); calling again in "
		"%u.%03u s", d->failures, delay / 1000, delay % 1000);
	uv_timer_start(&d->timer, on_round_timer, delay, 0);
}

static void conn_done(void *ctx, const struct agent_conn_result *res)
{
	struct dialer *d = ctx;

	d->conn = NULL;
	if (d->state == DIAL_STOPPED) {
		maybe_stopped(d);
		return;
	}
	if (res->established) {
		/* A session ran: the manager is there; call again now. */
		ch_backoff_reset(&d->backoff);
		d->failures = 0;
		ch_info("call-home session ended (%s); calling again",
			res->reason);
		start_round(d);
		return;
	}
	ch_info("call home to %s failed: %s", d->peer, res->reason);
	next_endpoint(d);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct dialer *d = h->data;
	int fd = d->fd;
	int r;

	d->poll_active = 0;
	if (d->state == DIAL_STOPPED) {
		if (fd >= 0)
			close(fd);
		d->fd = -1;
		maybe_stopped(d);
		return;
	}
	if (d->state != DIAL_HANDOVER) {	/* this address failed */
		if (fd >= 0)
			close(fd);
		d->fd = -1;
		d->cur = d->cur ? d->cur->ai_next : NULL;
		try_address(d);
		return;
	}
	d->fd = -1;
	d->state = DIAL_CONNECTED;
	r = agent_conn_start(d->ag, fd, d->peer, conn_done, d, &d->conn);
	if (r != CH_OK) {	/* fd already closed by agent_conn_start */
		ch_warn("cannot start a session with %s: %s", d->peer,
			ch_strerror(r));
		next_endpoint(d);
	}
}

static void end_attempt(struct dialer *d, enum dial_state next)
{
	uv_timer_stop(&d->timer);
	d->state = next;
	uv_close((uv_handle_t *)&d->poll, on_poll_closed);
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct dialer *d = t->data;

	ch_info("call home to %s: no answer within %u ms", d->peer,
		d->ag->cfg.connect_timeout_ms);
	end_attempt(d, DIAL_CONNECTING);
}

static void on_connect_ready(uv_poll_t *p, int status, int events)
{
	struct dialer *d = p->data;
	int err = 0;
	socklen_t elen = sizeof(err);
	int one = 1;

	(void)events;
	/* libuv reports POLLERR as UV_EBADF; the real reason of a failed
	 * connect is in SO_ERROR. */
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		err = errno;
	else if (err == 0 && status < 0)
		err = -status;
	uv_poll_stop(p);
	if (err) {
		ch_info("call home to %s: %s", d->peer, strerror(err));
		end_attempt(d, DIAL_CONNECTING);
		return;
	}
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ch_info("connected to manager %s", d->peer);
	end_attempt(d, DIAL_HANDOVER);
}

/* Tries d->cur, then the following addresses; then the next endpoint. */
static void try_address(struct dialer *d)
{
	for (; d->cur; d->cur = d->cur->ai_next) {
		struct addrinfo *ai = d->cur;
		int fd, r;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		ch_sockaddr_str(ai->ai_addr, d->peer, sizeof(d->peer));
		ch_info("calling home to %s (%s)", d->peer, endpoint(d)->host);
		fd = socket(ai->ai_family,
			    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			ch_warn("call home to %s: socket: %s", d->peer,
				strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			ch_info("call home to %s: %s", d->peer,
				strerror(errno));
			close(fd);
			continue;
		}
		if ((r = uv_poll_init(d->ag->loop, &d->poll, fd)) != 0) {
			ch_warn("call home to %s: %s", d->peer, uv_strerror(r));
			close(fd);
			continue;
		}
		d->fd = fd;
		d->poll.data = d;
		d->poll_active = 1;
		d->state = DIAL_CONNECTING;
		uv_poll_start(&d->poll, UV_WRITABLE, on_connect_ready);
		uv_timer_start(&d->timer, on_connect_timeout,
			       d->ag->cfg.connect_timeout_ms, 0);
		return;
	}
	next_endpoint(d);
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
			struct addrinfo *res)
{
	struct dialer *d = req->data;

	if (d->state == DIAL_STOPPED) {
		if (res)
			uv_freeaddrinfo(res);
		d->handles--;
		maybe_stopped(d);
		return;
	}
	d->handles--;
	if (status < 0) {
		ch_info("call home to %s: cannot resolve: %s",
			endpoint(d)->host, uv_strerror(status));
		next_endpoint(d);
		return;
	}
	if (d->addrs)
		uv_freeaddrinfo(d->addrs);
	d->addrs = d->cur = res;
	try_address(d);
}

static void resolve(struct dialer *d)
{
	struct addrinfo hints;
	char port[8];
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", endpoint(d)->port);
	d->state = DIAL_RESOLVING;
	d->gai.data = d;
	d->handles++;
	r = uv_getaddrinfo(d->ag->loop, &d->gai, on_resolved,
			   endpoint(d)->host, port, &hints);
	if (r != 0) {
		d->handles--;
		ch_warn("call home to %s: %s", endpoint(d)->host,
			uv_strerror(r));
		next_endpoint(d);
	}
}

static void next_endpoint(struct dialer *d)
{
	if (++d->ep >= d->ag->cfg.nendpoints) {
		round_failed(d);
		return;
	}
	resolve(d);
}

static void start_round(struct dialer *d)
{
	d->ep = 0;
	resolve(d);
}

int dialer_start(struct agent *ag, struct dialer **out)
{
	struct dialer *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return CH_ERR_NOMEM;
	d->ag = ag;
	d->fd = -1;
	ch_backoff_init(&d->backoff, ag->cfg.backoff_base_ms,
			ag->cfg.backoff_max_ms, 0);
	uv_timer_init(ag->loop, &d->timer);
	d->timer.data = d;
	d->handles = 1;
	*out = d;
	start_round(d);
	return CH_OK;
}

void dialer_stop(struct dialer *d, void (*done)(void *ctx), void *ctx)
{
	enum dial_state was = d->state;

	d->state = DIAL_STOPPED;
	d->stopped = done;
	d->stopped_ctx = ctx;
	if (was == DIAL_RESOLVING)
		uv_cancel((uv_req_t *)&d->gai);
	if (d->poll_active && !uv_is_closing((uv_handle_t *)&d->poll))
		uv_close((uv_handle_t *)&d->poll, on_poll_closed);
	if (d->conn)
		agent_conn_close(d->conn, "agent shutting down");
	uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}
