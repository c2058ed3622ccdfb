/* dialer.c - calls one netconf-client (manager) per its configuration.
 *
 * A round tries every endpoint once, round robin from the one
 * reconnect-strategy start-with names, each up to max-attempts times in
 * a row (CH_AGENT_RETRY_DELAY_MS apart, jittered); an attempt resolves the
 * host name again (addresses change) and tries each address with a
 * max-wait connect deadline. The first TCP connection becomes the
 * call-home connection (SSH or TLS, as the endpoint says). When a round
 * fails the dialer waits a capped exponential back-off with full jitter
 * (backoff.h), tells subscribed managers (call-home-client-unreachable)
 * and starts a new round.
 *
 * Persistent: when a session that worked ends, the dialer calls again at
 * once, back-off reset. Periodic: it calls at anchor + k * period (the
 * remaining part of the period, schedule.h), closes a connection idle
 * for idle-timeout, and calls again at once only when a connection ended
 * without a graceful close (RFC 8071 / ietf-netconf-server periodic).
 */
#include "agent.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "agent/conn.h"
#include "agent/tlsctx.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/net/hostport.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"
#include "lib/xport/tls.h"

#define REASON_MAX 128

enum dial_state {
	DIAL_IDLE,		/* waiting: back-off, retry or period */
	DIAL_RESOLVING,
	DIAL_CONNECTING,
	DIAL_HANDOVER,		/* connected; poll handle closing */
	DIAL_CONNECTED,		/* a call-home connection is live */
	DIAL_STOPPED,
};

struct dialer {
	struct agent *ag;
	const struct chc_client *cl;
	enum dial_state state;
	struct ch_backoff backoff;
	struct ch_round round;
	size_t ep;			/* endpoint being tried */
	size_t last_connected;		/* CH_ROUND_NONE before any */
	uv_getaddrinfo_t gai;
	struct addrinfo *addrs;		/* results for the endpoint */
	struct addrinfo *cur;		/* address being tried */
	int fd;
	uv_poll_t poll;			/* the connect in progress */
	int poll_active;
	uv_timer_t timer;		/* waits, deadlines, idle checks */
	char peer[CH_ADDRSTR_LEN];
	char why[REASON_MAX];		/* the last attempt's failure */
	struct agent_conn *conn;	/* the live call, SSH or TLS */
	uint64_t conn_start;		/* loop ms */
	int short_sessions;		/* in a row */
	int idle_closed;		/* we closed it: idle-timeout */
	int64_t anchor_ms;		/* periodic: epoch ms */
	uint32_t failures;		/* rounds failed in a row */
	struct agent_tls_cache tls_cache[CH_CHC_MAX_ENDPOINTS];
	struct ch_logctx log;		/* client=NAME: cl's name */
	void (*stopped)(void *ctx);
	void *stopped_ctx;
	int handles;
};

static void next_attempt(struct dialer *d);
static void try_address(struct dialer *d);
static void begin_round(struct dialer *d);
static void resolve(struct dialer *d);

static const struct chc_endpoint *endpoint(struct dialer *d)
{
	return &d->cl->eps[d->ep];
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* reconnect-strategy last-connected survives a restart (a device that
 * reboots should call where it last got through): DATASTORE/
 * AGENT_LAST_FILE holds "CLIENT<TAB>ENDPOINT" lines. */
static int last_path(struct dialer *d, char *path, size_t len)
{
	return snprintf(path, len, "%s/" AGENT_LAST_FILE,
			d->ag->cfg.datastore_dir) < (int)len ? CH_OK
							     : CH_ERR_LIMIT;
}

/* The endpoint this client last connected to, from the file. */
static size_t last_load(struct dialer *d)
{
	char path[4096], *data = NULL, *line, *next, *tab;
	size_t len, found = CH_ROUND_NONE;

	if (last_path(d, path, sizeof(path)) != CH_OK ||
	    ch_file_read(path, CH_AGENT_LAST_MAX, &data, &len) != CH_OK)
		return CH_ROUND_NONE;
	for (line = data; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab++ = '\0';
		if (strcmp(line, d->cl->name) != 0)
			continue;
		for (size_t k = 0; k < d->cl->neps; k++)
			if (strcmp(d->cl->eps[k].name, tab) == 0)
				found = k;
	}
	free(data);
	return found;
}

/* Records d->last_connected for d's client, keeping the other lines. */
static void last_save(struct dialer *d)
{
	char path[4096], *data = NULL, *line, *next, *tab;
	struct ch_buf b;
	size_t len;

	if (last_path(d, path, sizeof(path)) != CH_OK)
		return;
	ch_buf_init(&b, CH_AGENT_LAST_MAX);
	if (ch_file_read(path, CH_AGENT_LAST_MAX, &data, &len) == CH_OK) {
		for (line = data; line && *line; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			tab = strchr(line, '\t');
			if (tab && (size_t)(tab - line) == strlen(d->cl->name) &&
			    strncmp(line, d->cl->name, (size_t)(tab - line)) == 0)
				continue;
			if (ch_buf_printf(&b, "%s\n", line) != CH_OK)
				break;
		}
	}
	free(data);
	if (ch_buf_printf(&b, "%s\t%s\n", d->cl->name,
			  d->cl->eps[d->last_connected].name) == CH_OK)
		ch_file_write_atomic(path, ch_buf_ptr(&b), ch_buf_len(&b),
				     0600);
	ch_buf_cleanup(&b);
}

static void maybe_stopped(struct dialer *d)
{
	if (d->state == DIAL_STOPPED && d->handles == 0 && d->conn == NULL &&
	    !d->poll_active) {
		if (d->addrs)
			uv_freeaddrinfo(d->addrs);
		d->addrs = NULL;
		for (size_t k = 0; k < CH_CHC_MAX_ENDPOINTS; k++)
			agent_tls_cache_clear(&d->tls_cache[k]);
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
	begin_round(t->data);
}

static void on_retry_timer(uv_timer_t *t)
{
	resolve(t->data);
}

/* call-home-client-unreachable, for managers that subscribed. */
static void notify_unreachable(struct dialer *d, uint32_t delay)
{
	struct ch_buf b;
	int r;

	if (d->ag->notify == NULL)
		return;
	ch_buf_init(&b, CH_AGENT_EVENT_NOTIF_MAX);
	if ((r = ch_buf_puts(&b, "<call-home-client-unreachable xmlns=\""
			     CHC_NS "\"><client>")) == CH_OK &&
	    (r = ch_xml_escape(&b, d->cl->name, strlen(d->cl->name))) ==
		    CH_OK &&
	    (r = ch_buf_printf(&b, "</client><rounds-failed>%u"
			       "</rounds-failed><next-round-in>%u"
			       "</next-round-in><reason>", d->failures,
			       delay)) == CH_OK &&
	    (r = ch_xml_escape(&b, d->why, strlen(d->why))) == CH_OK &&
	    (r = ch_buf_puts(&b, "</reason>"
			     "</call-home-client-unreachable>")) == CH_OK)
		d->ag->notify(d->ag, ch_buf_ptr(&b), ch_buf_len(&b));
	else
		ch_clog_r(CH_LOG_ERROR, &d->log, r, "call-home-client-"
			  "unreachable not sent (CH_AGENT_EVENT_NOTIF_MAX is "
			  "%u bytes)", (unsigned)CH_AGENT_EVENT_NOTIF_MAX);
	ch_buf_cleanup(&b);
}

static void round_failed(struct dialer *d)
{
	uint32_t delay = ch_backoff_next(&d->backoff);

	d->failures++;
	d->state = DIAL_IDLE;
	ch_clog(CH_LOG_WARN, &d->log, "no endpoint reachable (round %u failed: "
		"%s); calling again in %u.%03u s", d->failures, d->why,
		delay / 1000, delay % 1000);
	notify_unreachable(d, delay);
	uv_timer_start(&d->timer, on_round_timer, delay, 0);
}

static void schedule_period(struct dialer *d)
{
	uint64_t period = (uint64_t)d->cl->period_min * d->ag->cfg.minute_ms;
	uint64_t wait;

	/* The timer counts from the loop's time: bring it to now, or the
	 * call starts early by however stale it was. */
	uv_update_time(d->ag->loop);
	wait = ch_sched_periodic_wait(wall_ms(), d->anchor_ms, period);
	d->state = DIAL_IDLE;
	ch_clog(CH_LOG_INFO, &d->log, "periodic: next call in %llu.%03llu s",
		(unsigned long long)(wait / 1000),
		(unsigned long long)(wait % 1000));
	uv_timer_start(&d->timer, on_round_timer, wait, 0);
}

static void conn_ended(struct dialer *d, const struct agent_conn_result *res)
{
	uint64_t lasted = uv_now(d->ag->loop) - d->conn_start;
	int graceful = res->graceful || d->idle_closed;

	uv_timer_stop(&d->timer);	/* the idle check */
	if (d->state == DIAL_STOPPED) {
		maybe_stopped(d);
		return;
	}
	if (!res->established) {
		snprintf(d->why, sizeof(d->why), "%s: %s", d->peer,
			 res->reason);
		ch_clog(CH_LOG_INFO, &d->log, "call home to %s failed: %s",
			d->peer, res->reason);
		next_attempt(d);
		return;
	}
	d->failures = 0;
	d->short_sessions = lasted < CH_AGENT_STABLE_SESSION_MS
		? d->short_sessions + 1 : 0;
	if (d->cl->periodic && graceful) {
		ch_backoff_reset(&d->backoff);
		ch_clog(CH_LOG_INFO, &d->log, "call-home session ended (%s)",
			d->idle_closed ? "idle-timeout" : res->reason);
		schedule_period(d);
		return;
	}
	if (d->short_sessions >= 2) {
		/* Accepted and dropped again and again: not a manager that
		 * works; wait as after a failed round. */
		snprintf(d->why, sizeof(d->why), "%s: sessions end at once "
			 "(%s)", d->peer, res->reason);
		round_failed(d);
		return;
	}
	ch_backoff_reset(&d->backoff);
	ch_clog(CH_LOG_INFO, &d->log, "call-home session ended (%s); calling "
		"again", res->reason);
	begin_round(d);
}

static void conn_done(void *ctx, const struct agent_conn_result *res)
{
	struct dialer *d = ctx;

	d->conn = NULL;
	conn_ended(d, res);
}

/* Periodic idle-timeout: checks the connection's last message. */
static void on_idle_timer(uv_timer_t *t)
{
	struct dialer *d = t->data;
	uint64_t limit = (uint64_t)d->cl->idle_timeout_s * 1000;
	uint64_t now = uv_now(d->ag->loop), last;

	if (d->conn == NULL)
		return;
	last = agent_conn_last_active(d->conn);
	if (now - last < limit) {
		uv_timer_start(&d->timer, on_idle_timer, limit - (now - last),
			       0);
		return;
	}
	ch_clog(CH_LOG_INFO, &d->log, "no NETCONF message for %u s: closing "
		"(idle-timeout)", d->cl->idle_timeout_s);
	d->idle_closed = 1;
	agent_conn_close(d->conn, "idle-timeout");
}

/* TCP keep-alives as the endpoint configures them (RFC 9643). For a TLS
 * endpoint with test-peer-aliveness, conn.c sets its own timing over
 * these. A failure is logged; the call goes on without. */
static void set_tcp_keepalives(int fd, const struct chc_endpoint *e)
{
	if (e->tcp_keepalives)
		ch_tcp_keepalive(fd, e->tcp_idle_s, e->tcp_interval_s,
				 e->tcp_probes);
}

static int start_conn(struct dialer *d, int fd)
{
	const struct chc_endpoint *e = endpoint(d);
	struct agent_tls_params tls = {
		.cert_file = e->cert_file,
		.key_file = e->key_file,
		.chain_file = e->chain_file,
		.client_ca_file = e->ca_file,
		.crl_file = e->crl_file,
		.keepalive_ms = e->keepalives ? e->ka_max_wait_s * 1000 : 0,
		.keepalive_count = e->ka_max_attempts,
		.rules = e->ctn,
		.nrules = e->nctn,
		.cache = &d->tls_cache[d->ep],
	};
	struct agent_conn_params p = {
		.tls = e->transport == CHC_TLS ? &tls : NULL,
		.keepalive_ms = e->keepalives ? e->ka_max_wait_s * 1000 : 0,
		.keepalive_count = e->ka_max_attempts,
	};

	set_tcp_keepalives(fd, e);
	d->conn_start = uv_now(d->ag->loop);
	d->idle_closed = 0;
	return agent_conn_start(d->ag, fd, d->peer, &p, conn_done, d,
				&d->conn);
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
	r = start_conn(d, fd);
	if (r != CH_OK) {	/* fd already closed by the start */
		snprintf(d->why, sizeof(d->why), "%s: cannot start a "
			 "session: %s", d->peer, ch_strerror(r));
		ch_clog(CH_LOG_WARN, &d->log, "%s", d->why);
		next_attempt(d);
		return;
	}
	/* The endpoint answered: it is the last connected one (kept on
	 * disk for start-with last-connected). */
	if (d->last_connected != d->ep) {
		d->last_connected = d->ep;
		if (d->cl->start_with == CH_START_LAST_CONNECTED)
			last_save(d);
	}
	if (d->cl->periodic && d->cl->idle_timeout_s)
		uv_timer_start(&d->timer, on_idle_timer,
			       (uint64_t)d->cl->idle_timeout_s * 1000, 0);
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

	snprintf(d->why, sizeof(d->why), "%s: no answer within %u s",
		 d->peer, d->cl->max_wait_s);
	ch_clog(CH_LOG_INFO, &d->log, "call home to %s", d->why);
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
		snprintf(d->why, sizeof(d->why), "%s: %s", d->peer,
			 strerror(err));
		ch_clog(CH_LOG_INFO, &d->log, "call home to %s", d->why);
		end_attempt(d, DIAL_CONNECTING);
		return;
	}
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ch_clog(CH_LOG_INFO, &d->log, "connected to manager %s (endpoint %s, "
		"%s)", d->peer, endpoint(d)->name,
		endpoint(d)->transport == CHC_TLS ? "TLS" : "SSH");
	end_attempt(d, DIAL_HANDOVER);
}

/* Binds fd to the endpoint's local-address, if it has one. */
static int bind_local(struct dialer *d, int fd, int family)
{
	const char *la = endpoint(d)->local_address;
	struct sockaddr_storage ss;
	socklen_t len;

	if (la == NULL)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		len = sizeof(*a);
		if (inet_pton(AF_INET, la, &a->sin_addr) != 1)
			return -1;	/* an IPv6 local-address: skip */
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		len = sizeof(*a);
		if (inet_pton(AF_INET6, la, &a->sin6_addr) != 1)
			return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		snprintf(d->why, sizeof(d->why), "bind to %s: %s", la,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* Tries d->cur, then the following addresses; then the next attempt. */
static void try_address(struct dialer *d)
{
	for (; d->cur; d->cur = d->cur->ai_next) {
		struct addrinfo *ai = d->cur;
		int fd, r;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		ch_sockaddr_str(ai->ai_addr, d->peer, sizeof(d->peer));
		ch_clog(CH_LOG_INFO, &d->log, "calling home to %s (endpoint "
			"%s: %s)", d->peer, endpoint(d)->name,
			endpoint(d)->host);
		fd = socket(ai->ai_family,
			    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(d->why, sizeof(d->why), "socket: %s",
				 strerror(errno));
			continue;
		}
		if (bind_local(d, fd, ai->ai_family) != 0) {
			close(fd);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			snprintf(d->why, sizeof(d->why), "%s: %s", d->peer,
				 strerror(errno));
			ch_clog(CH_LOG_INFO, &d->log, "call home to %s",
				d->why);
			close(fd);
			continue;
		}
		if ((r = uv_poll_init(d->ag->loop, &d->poll, fd)) != 0) {
			snprintf(d->why, sizeof(d->why), "%s: %s", d->peer,
				 uv_strerror(r));
			close(fd);
			continue;
		}
		d->fd = fd;
		d->poll.data = d;
		d->poll_active = 1;
		d->state = DIAL_CONNECTING;
		uv_poll_start(&d->poll, UV_WRITABLE, on_connect_ready);
		uv_timer_start(&d->timer, on_connect_timeout,
			       (uint64_t)d->cl->max_wait_s * 1000, 0);
		return;
	}
	next_attempt(d);
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
			struct addrinfo *res)
{
	struct dialer *d = req->data;

	d->handles--;
	if (d->state == DIAL_STOPPED) {
		if (res)
			uv_freeaddrinfo(res);
		maybe_stopped(d);
		return;
	}
	if (status < 0) {
		snprintf(d->why, sizeof(d->why), "%s: cannot resolve: %s",
			 endpoint(d)->host, uv_strerror(status));
		ch_clog(CH_LOG_INFO, &d->log, "call home to %s", d->why);
		next_attempt(d);
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
		snprintf(d->why, sizeof(d->why), "%s: %s", endpoint(d)->host,
			 uv_strerror(r));
		next_attempt(d);
	}
}

static void next_attempt(struct dialer *d)
{
	int again;
	uint32_t delay;

	if (!ch_round_next(&d->round, &d->ep, &again)) {
		round_failed(d);
		return;
	}
	if (!again) {
		resolve(d);
		return;
	}
	/* A retry of the same endpoint: a little later. */
	delay = CH_AGENT_RETRY_DELAY_MS / 2 +
		ch_backoff_random(&d->backoff, CH_AGENT_RETRY_DELAY_MS / 2 + 1);
	d->state = DIAL_IDLE;
	uv_timer_start(&d->timer, on_retry_timer, delay, 0);
}

static void begin_round(struct dialer *d)
{
	size_t first = ch_round_first(d->cl->start_with, d->cl->neps,
				      d->last_connected,
				      ch_backoff_random(&d->backoff,
							UINT32_MAX));

	ch_round_begin(&d->round, d->cl->neps, first, d->cl->max_attempts);
	next_attempt(d);
}

int dialer_start(struct agent *ag, const struct chc_client *cl,
		 struct dialer **out)
{
	struct dialer *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return CH_ERR_NOMEM;
	d->ag = ag;
	d->cl = cl;
	d->log.client = cl->name;
	d->fd = -1;
	d->last_connected = cl->start_with == CH_START_LAST_CONNECTED
		? last_load(d) : CH_ROUND_NONE;
	ch_backoff_init(&d->backoff, ag->cfg.backoff_base_ms,
			ag->cfg.backoff_max_ms, 0);
	uv_timer_init(ag->loop, &d->timer);
	d->timer.data = d;
	d->handles = 1;
	*out = d;
	for (size_t i = 0; i < cl->neps; i++)
		ch_clog(CH_LOG_INFO, &d->log, "endpoint %zu: %s %s port %u",
			i + 1, cl->eps[i].transport == CHC_TLS ? "tls" : "ssh",
			cl->eps[i].host, cl->eps[i].port);
	if (cl->periodic) {
		/* Without an anchor, periods count from now: call at once. */
		d->anchor_ms = cl->has_anchor ? cl->anchor_ms : wall_ms();
		ch_clog(CH_LOG_INFO, &d->log, "periodic: every %u min (of %u "
			"ms), idle-timeout %u s", cl->period_min,
			ag->cfg.minute_ms, cl->idle_timeout_s);
		schedule_period(d);
	} else {
		begin_round(d);
	}
	return CH_OK;
}

void dialer_rebind(struct dialer *d, const struct chc_client *cl)
{
	d->cl = cl;
	d->log.client = cl->name;	/* the old copy goes */
}

void dialer_stop(struct dialer *d, const char *why,
		 void (*done)(void *ctx), void *ctx)
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
		agent_conn_close(d->conn, why);
	uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}
