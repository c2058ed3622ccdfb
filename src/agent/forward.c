/* forward.c - direct-tcpip streams served by a TCP connection of the
 * device (forward.h).
 *
 * One struct fwd per taken stream: its TCP handle and timer are made at
 * once (the timer bounds the resolution, then the connect, then watches
 * the idle time); the fwd is freed once the stream's closed() came, both
 * handles are closed and no getaddrinfo is running (libuv cannot cancel
 * one that started: its callback frees the result).
 */
#include "agent/forward.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "agent/agent.h"
#include "agent/fwdconfig.h"
#include "agent/fwdpolicy.h"
#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"
#include "lib/net/hostport.h"
#include "lib/xport/xport.h"

#define WHY_CAP "too many forwarded streams on this device (at most " \
	CH_STR(CH_AGENT_FWD_MAX) ")"
#define WHY_CONN_CAP "too many forwarded streams on this connection (at " \
	"most " CH_STR(CH_AGENT_FWD_PER_CONN) ")"
#define WHY_NAME "no destination host"
#define WHY_START "cannot start forwarding"
#define DEST_MAX (CH_STREAM_NAME_MAX + 8)	/* "host:port", "[v6]:port" */

struct agent_forwards {
	struct agent *ag;
	struct fwd *list;
	unsigned n;
	uv_timer_t reconf;		/* running changed: read it again */
};

struct fwd {
	struct agent_forwards *all;
	struct fwd *next;
	struct ch_stream *s;		/* NULL after its closed() */
	const struct ch_xport *x;	/* its connection, for the cap */
	struct ch_logctx log;		/* the stream's, while it lives */
	char dest[DEST_MAX];
	char orig[DEST_MAX];		/* the originator the manager gave */
	char name[CH_STREAM_NAME_MAX];	/* to resolve; "" for a literal */
	struct sockaddr_storage dst, src;	/* a literal's, judged */
	char addr[CH_ADDRSTR_LEN];	/* the address connected to */
	uint16_t port;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_connect_t conn;
	uv_shutdown_t shut;
	int resolving, connected, reading, in_paused;
	int tcp_eof, stream_eof, shut_sent, shut_done;
	int freeing, nopen;
	uint64_t started, last, to_dest, from_dest;
	char chunk[CH_AGENT_FWD_READ_CHUNK];
};

struct wreq {
	uv_write_t req;
	struct fwd *f;
	char data[];
};

/* ---- refusals ---- */

static void refused(struct agent *ag, const struct ch_logctx *log,
		    const char *dest, const char *orig, const char *why)
{
	ch_clog_rl(CH_LOG_WARN, log, "forwarding to %s refused (from %s): %s",
		   dest, orig, why);
	nc_server_forward_refused(ag, dest, why);
}

/* ---- the device's side of a destination ---- */

static void canon(struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6 ||
	    memcmp(s6->sin6_addr.s6_addr, mapped, sizeof(mapped)) != 0)
		return;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, s6->sin6_addr.s6_addr + 12, 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

static const uint8_t *bytes(const struct sockaddr *sa, size_t *n)
{
	if (sa->sa_family == AF_INET) {
		*n = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)sa)->
			sin_addr;
	}
	*n = 16;
	return ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
}

/* Whether dst is one of the device's own addresses, and the source to
 * leave from: the address on the interface whose connected prefix holds
 * dst (src's family AF_UNSPEC: none, the kernel chooses). */
static void local_side(const struct sockaddr *dst, int *own,
		       struct sockaddr_storage *src)
{
	struct ifaddrs *ifs, *i;
	const uint8_t *d, *a, *m;
	size_t n, k;

	*own = 0;
	memset(src, 0, sizeof(*src));
	if (getifaddrs(&ifs) != 0)
		return;
	d = bytes(dst, &n);
	for (i = ifs; i; i = i->ifa_next) {
		int inside = 1;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
		    dst->sa_family || !(i->ifa_flags & IFF_UP))
			continue;
		a = bytes(i->ifa_addr, &n);
		if (memcmp(a, d, n) == 0)
			*own = 1;
		if (i->ifa_netmask == NULL || src->ss_family != AF_UNSPEC)
			continue;
		m = bytes(i->ifa_netmask, &n);
		for (k = 0; k < n && inside; k++)
			inside = ((a[k] ^ d[k]) & m[k]) == 0;
		if (inside && !(dst->sa_family == AF_INET6 &&
				IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)
						      (const void *)a)))
			memcpy(src, i->ifa_addr, dst->sa_family == AF_INET
			       ? sizeof(struct sockaddr_in)
			       : sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifs);
}

/* The verdict on one address (canonical), with the source to use. */
static const char *judge(struct agent_forwards *all,
			 const struct sockaddr *dst, uint16_t port,
			 struct sockaddr_storage *src)
{
	int own;

	local_side(dst, &own, src);
	return fwd_policy_check(&all->ag->cfg.forward, all->ag->border, dst,
				port, own);
}

/* ---- the end of a fwd ---- */

static void maybe_free(struct fwd *f)
{
	if (!f->freeing || f->nopen > 0 || f->resolving)
		return;
	free(f);
}

static void handle_closed(uv_handle_t *h)
{
	struct fwd *f = h->data;

	f->nopen--;
	maybe_free(f);
}

static void fwd_close_handles(struct fwd *f)
{
	if (!uv_is_closing((uv_handle_t *)&f->tcp))
		uv_close((uv_handle_t *)&f->tcp, handle_closed);
	else
		f->nopen--;	/* the agent's walk closed it */
	if (!uv_is_closing((uv_handle_t *)&f->timer))
		uv_close((uv_handle_t *)&f->timer, handle_closed);
	else
		f->nopen--;
}

/* Ends the stream saying why to the manager: the line goes as the
 * channel's stderr (extended data) before the close, since the channel
 * was confirmed before the connect and a close carries no reason
 * (`callhome connect` shows it; OpenSSH drops it). What the stream still
 * had queued goes first, unless it cannot take the line. */
static void end_with(struct fwd *f, const char *why)
{
	char line[CH_STREAM_WHY_MAX + 1];
	int n = snprintf(line, sizeof(line), "%s\n", why);

	if (n < 0 || (size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (ch_stream_write_err(f->s, line, (size_t)n) == CH_OK)
		ch_stream_close(f->s, 0, why);
	else
		ch_stream_close(f->s, 1, why);
}

/* Closes the stream: "forwarding to DEST: WHAT[: DETAIL]", logged. */
static void fail(struct fwd *f, const char *what, const char *detail)
{
	char why[CH_STREAM_NAME_MAX + 160];

	if (f->s == NULL)
		return;
	snprintf(why, sizeof(why), "forwarding to %s: %s%s%s", f->dest, what,
		 detail ? ": " : "", detail ? detail : "");
	ch_clog(CH_LOG_INFO, &f->log, "%s", why);
	end_with(f, why);
}

/* Both ways ended: the stream closes once its queue is out. */
static void maybe_done(struct fwd *f)
{
	if (f->s && f->tcp_eof && f->shut_done)
		ch_stream_close(f->s, 0, "both sides ended");
}

/* ---- the timer: resolution, connect, idle ---- */

static void on_idle(uv_timer_t *t)
{
	struct fwd *f = t->data;
	uint64_t now = uv_now(t->loop), left;

	if (now - f->last >= CH_AGENT_FWD_IDLE_MS) {
		fail(f, "idle for " CH_STR(CH_AGENT_FWD_IDLE_MS) " ms: closed",
		     NULL);
		return;
	}
	left = CH_AGENT_FWD_IDLE_MS - (now - f->last);
	uv_timer_start(t, on_idle, left, 0);
}

static void on_deadline(uv_timer_t *t)
{
	struct fwd *f = t->data;

	fail(f, f->resolving
	     ? "resolving the name timed out (" CH_STR(CH_AGENT_FWD_RESOLVE_MS)
	       " ms)"
	     : "the connect timed out (" CH_STR(CH_AGENT_FWD_CONNECT_MS)
	       " ms)", NULL);
}

/* ---- the destination's side ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct fwd *f = h->data;

	(void)hint;
	*buf = uv_buf_init(f->chunk, sizeof(f->chunk));
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	struct fwd *f = h->data;

	if (n == 0 || f->s == NULL)
		return;
	if (n == UV_EOF) {
		f->tcp_eof = 1;
		f->reading = 0;
		uv_read_stop(h);
		ch_stream_eof(f->s);
		maybe_done(f);
		return;
	}
	if (n < 0) {
		fail(f, "reading failed",
		     uv_strerror((int)n));
		return;
	}
	f->from_dest += (uint64_t)n;
	f->last = uv_now(h->loop);
	if (ch_stream_write(f->s, buf->base, (size_t)n) != CH_OK) {
		fail(f, "cannot queue for the manager", NULL);
		return;
	}
	if (ch_stream_pending(f->s) > CH_AGENT_FWD_OUT_HIGH) {
		f->reading = 0;		/* resumed by drained() */
		uv_read_stop(h);
	}
}

static void start_reading(struct fwd *f)
{
	if (f->reading || f->tcp_eof || !f->connected || f->s == NULL)
		return;
	if (uv_read_start((uv_stream_t *)&f->tcp, on_alloc, on_read) == 0)
		f->reading = 1;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct fwd *f = req->data;

	if (status == UV_ECANCELED)
		return;
	f->shut_done = 1;
	maybe_done(f);
}

static void send_eof(struct fwd *f)
{
	if (f->shut_sent || !f->connected)
		return;
	f->shut_sent = 1;
	f->shut.data = f;
	if (uv_shutdown(&f->shut, (uv_stream_t *)&f->tcp, on_shutdown) != 0)
		f->shut_done = 1;
	maybe_done(f);
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct fwd *f = w->f;

	free(w);
	if (status == UV_ECANCELED)
		return;
	if (status < 0) {
		fail(f, "writing failed",
		     uv_strerror(status));
		return;
	}
	if (f->in_paused && f->s &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&f->tcp) <=
	    CH_AGENT_FWD_OUT_HIGH) {
		f->in_paused = 0;
		ch_stream_pause(f->s, 0);
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	struct fwd *f = req->data;

	if (status == UV_ECANCELED || f->s == NULL)
		return;
	uv_timer_stop(&f->timer);
	if (status < 0) {
		fail(f, "cannot connect",
		     uv_strerror(status));
		return;
	}
	f->connected = 1;
	f->last = uv_now(f->all->ag->loop);
	ch_clog(CH_LOG_INFO, &f->log, "forwarding to %s: connected to %s",
		f->dest, f->addr);
	uv_timer_start(&f->timer, on_idle, CH_AGENT_FWD_IDLE_MS, 0);
	start_reading(f);
	f->in_paused = 0;
	ch_stream_pause(f->s, 0);
	if (f->stream_eof)
		send_eof(f);
}

/* Connects to dst (judged allowed), from src when it has a family. */
static void connect_to(struct fwd *f, struct sockaddr_storage *dst,
		       const struct sockaddr_storage *src)
{
	char from[CH_ADDRSTR_LEN] = "the kernel's choice";
	int r;

	if (dst->ss_family == AF_INET)
		((struct sockaddr_in *)dst)->sin_port = htons(f->port);
	else
		((struct sockaddr_in6 *)dst)->sin6_port = htons(f->port);
	ch_sockaddr_str((struct sockaddr *)dst, f->addr, sizeof(f->addr));
	if (src->ss_family != AF_UNSPEC) {
		ch_sockaddr_str((const struct sockaddr *)src, from,
				sizeof(from));
		if ((r = uv_tcp_bind(&f->tcp, (const struct sockaddr *)src, 0))
		    != 0) {
			fail(f, "cannot bind the source address",
			     uv_strerror(r));
			return;
		}
	}
	f->conn.data = f;
	if ((r = uv_tcp_connect(&f->conn, &f->tcp, (struct sockaddr *)dst,
				on_connect)) != 0) {
		fail(f, "cannot connect", uv_strerror(r));
		return;
	}
	ch_clog(CH_LOG_DEBUG, &f->log, "forwarding to %s: connecting to %s "
		"from %s", f->dest, f->addr, from);
	uv_timer_start(&f->timer, on_deadline, CH_AGENT_FWD_CONNECT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
			struct addrinfo *res)
{
	struct fwd *f = req->data;
	struct sockaddr_storage first, src, a, asrc;
	struct addrinfo *ai;
	const char *why = NULL;
	unsigned n = 0;

	f->resolving = 0;
	if (f->s == NULL) {		/* closed meanwhile */
		uv_freeaddrinfo(res);
		maybe_free(f);
		return;
	}
	uv_timer_stop(&f->timer);
	if (status < 0) {
		uv_freeaddrinfo(res);
		fail(f, "cannot resolve the name",
		     uv_strerror(status));
		return;
	}
	/* every address the name has here: one refused refuses it all */
	memset(&first, 0, sizeof(first));
	memset(&src, 0, sizeof(src));
	for (ai = res; ai && n < CH_AGENT_FWD_MAX_ADDRS && !why;
	     ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(a))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(&a, ai->ai_addr, ai->ai_addrlen);
		canon(&a);
		why = judge(f->all, (struct sockaddr *)&a, f->port, &asrc);
		if (why)
			ch_sockaddr_str((struct sockaddr *)&a, f->addr,
					sizeof(f->addr));
		if (n++ == 0) {
			first = a;
			src = asrc;
		}
	}
	uv_freeaddrinfo(res);
	if (n == 0)
		why = "the name has no IPv4 or IPv6 address";
	if (why) {
		char full[CH_STREAM_NAME_MAX + 256];
		char line[sizeof(full) + CH_STREAM_NAME_MAX + 64];

		snprintf(full, sizeof(full), "%s%s%s", n ? "resolves to " : "",
			 n ? f->addr : "", n ? ": " : "");
		snprintf(full + strlen(full), sizeof(full) - strlen(full), "%s",
			 why);
		refused(f->all->ag, &f->log, f->dest, f->orig, full);
		snprintf(line, sizeof(line), "forwarding to %s refused by the "
			 "device's policy: %s", f->dest, full);
		end_with(f, line);
		return;
	}
	connect_to(f, &first, &src);
}

/* ---- the stream ---- */

static void st_data(struct ch_stream *s, const char *p, size_t n)
{
	struct fwd *f = ch_stream_ctx(s);
	struct wreq *w;
	uv_buf_t b;

	if (!f->connected || f->shut_sent)
		return;
	if ((w = malloc(sizeof(*w) + n)) == NULL) {
		fail(f, "out of memory", NULL);
		return;
	}
	w->f = f;
	memcpy(w->data, p, n);
	b = uv_buf_init(w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&f->tcp, &b, 1, on_written)
	    != 0) {
		free(w);
		fail(f, "cannot write", NULL);
		return;
	}
	f->to_dest += n;
	f->last = uv_now(f->all->ag->loop);
	if (!f->in_paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&f->tcp) >
	    CH_AGENT_FWD_OUT_HIGH) {
		f->in_paused = 1;	/* resumed by on_written */
		ch_stream_pause(s, 1);
	}
}

static void st_eof(struct ch_stream *s)
{
	struct fwd *f = ch_stream_ctx(s);

	f->stream_eof = 1;
	send_eof(f);
}

static void st_drained(struct ch_stream *s)
{
	start_reading(ch_stream_ctx(s));
}

static void st_closed(struct ch_stream *s, const char *why)
{
	struct fwd *f = ch_stream_ctx(s);
	struct fwd **pp;
	uint64_t ms = uv_now(f->all->ag->loop) - f->started;

	if (f->connected)
		ch_clog(CH_LOG_INFO, &f->log, "forwarding to %s (%s) ended "
			"after %llu.%03llu s: %llu bytes to it, %llu from it (%s)",
			f->dest, f->addr, (unsigned long long)(ms / 1000),
			(unsigned long long)(ms % 1000),
			(unsigned long long)f->to_dest,
			(unsigned long long)f->from_dest, why ? why : "by us");
	f->s = NULL;
	for (pp = &f->all->list; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->all->n--;
	f->freeing = 1;
	fwd_close_handles(f);
}

static const struct ch_stream_cb fwd_cb = {
	.data = st_data,
	.eof = st_eof,
	.drained = st_drained,
	.closed = st_closed,
};

/* From the loop, just after the stream was taken: connect to the
 * literal, or resolve the name. */
static void on_begin(uv_timer_t *t)
{
	struct fwd *f = t->data;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	char port[8];
	int r;

	if (f->s == NULL)
		return;
	if (f->name[0] == '\0') {
		connect_to(f, &f->dst, &f->src);
		return;
	}
	snprintf(port, sizeof(port), "%u", f->port);
	f->gai.data = f;
	if ((r = uv_getaddrinfo(t->loop, &f->gai, on_resolved, f->name, port,
				&hints)) != 0) {
		fail(f, "cannot resolve the name", uv_strerror(r));
		return;
	}
	f->resolving = 1;
	uv_timer_start(&f->timer, on_deadline, CH_AGENT_FWD_RESOLVE_MS, 0);
}

/* ---- starting one ---- */

static unsigned on_conn(const struct agent_forwards *all,
			const struct ch_xport *x)
{
	unsigned n = 0;

	for (const struct fwd *f = all->list; f; f = f->next)
		n += f->x == x;
	return n;
}

/* The destination as an address, when the name is a literal. */
static int literal(const char *name, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, name, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		canon(ss);
		return 1;
	}
	return 0;
}

int agent_forward_start(struct agent_forwards *all, struct ch_stream *s,
			const struct ch_stream_req *req, const char **why)
{
	const struct ch_logctx *log = ch_stream_log(s);
	struct sockaddr_storage dst, src;
	char orig[DEST_MAX], dest[DEST_MAX];
	struct agent *ag = all ? all->ag : NULL;
	int is_literal;
	struct fwd *f;

	snprintf(orig, sizeof(orig), "%s:%u", req->orig_host ? req->orig_host
		 : "?", req->orig_port);
	if (req->name && strchr(req->name, ':'))
		snprintf(dest, sizeof(dest), "[%s]:%u", req->name, req->port);
	else
		snprintf(dest, sizeof(dest), "%s:%u", req->name ? req->name
			 : "", req->port);
	if (all == NULL || !ag->cfg.forward.enabled) {
		ch_clog_rl(CH_LOG_WARN, log, "forwarding to %s refused (from "
			   "%s): %s", dest, orig, FWD_WHY_OFF);
		*why = FWD_WHY_OFF;
		return CH_ERR_DENIED;
	}
	if (req->name == NULL || *req->name == '\0') {
		*why = WHY_NAME;
		refused(ag, log, dest, orig, *why);
		return CH_ERR_DENIED;
	}
	if (all->n >= CH_AGENT_FWD_MAX ||
	    on_conn(all, ch_stream_xport(s)) >= CH_AGENT_FWD_PER_CONN) {
		*why = all->n >= CH_AGENT_FWD_MAX ? WHY_CAP : WHY_CONN_CAP;
		refused(ag, log, dest, orig, *why);
		return CH_ERR_LIMIT;
	}
	is_literal = literal(req->name, &dst);
	if (is_literal &&
	    (*why = judge(all, (struct sockaddr *)&dst, req->port, &src))) {
		refused(ag, log, dest, orig, *why);
		return CH_ERR_DENIED;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		*why = WHY_START;
		return CH_ERR_NOMEM;
	}
	f->all = all;
	f->s = s;
	f->x = ch_stream_xport(s);
	f->log = *log;
	f->port = req->port;
	f->started = f->last = uv_now(ag->loop);
	snprintf(f->dest, sizeof(f->dest), "%s", dest);
	if (uv_tcp_init(ag->loop, &f->tcp) != 0) {
		free(f);
		*why = WHY_START;
		return CH_ERR_IO;
	}
	uv_timer_init(ag->loop, &f->timer);
	f->tcp.data = f->timer.data = f;
	f->nopen = 2;
	f->next = all->list;
	all->list = f;
	all->n++;
	ch_stream_set_cb(s, &fwd_cb, f);
	/* nothing from the manager until the destination is connected */
	f->in_paused = 1;
	ch_stream_pause(s, 1);
	ch_clog(CH_LOG_INFO, log, "forwarding to %s (from %s)%s", dest, orig,
		is_literal ? "" : ": resolving the name on the device");
	snprintf(f->orig, sizeof(f->orig), "%s", orig);
	if (is_literal) {
		f->dst = dst;
		f->src = src;
	} else {
		snprintf(f->name, sizeof(f->name), "%s", req->name);
	}
	/* the rest from the loop: a failure closes a stream already taken,
	 * never from inside accept() */
	uv_timer_start(&f->timer, on_begin, 0, 0);
	return CH_OK;
}

/* ---- the agent's ---- */

static void log_policy(const struct agent *ag, const char *from)
{
	const struct fwd_policy *p = &ag->cfg.forward;
	char text[96];

	if (!p->enabled) {
		ch_info("forwarding off%s: every direct-tcpip channel is "
			"refused", from);
		return;
	}
	ch_info("forwarding enabled%s: interior destinations%s, %zu allow "
		"rule(s); at most %d streams, %d per connection", from,
		ag->border ? "" : " (none: no border classification)",
		p->nrules, CH_AGENT_FWD_MAX, CH_AGENT_FWD_PER_CONN);
	for (size_t i = 0; i < p->nrules; i++) {
		fwd_rule_text(&p->rules[i], text, sizeof(text));
		ch_info("forwarding allowed to %s", text);
	}
}

/* Running changed: its forwarding container is the configuration from
 * now on (channels open already go on). */
static void on_reconf(uv_timer_t *t)
{
	struct agent_forwards *all = t->data;
	struct agent *ag = all->ag;
	struct fwd_policy p;
	char err[FWDC_ERR_MAX];
	int present;

	if (ag->ds == NULL)
		return;
	if (fwdc_from_tree(ch_ds_running_tree(ag->ds), &p, &present, err,
			   sizeof(err)) != CH_OK) {
		ch_error("%s: forwarding keeps its previous configuration",
			 err);
		return;
	}
	if (memcmp(&p, &ag->cfg.forward, sizeof(p)) == 0)
		return;
	ag->cfg.forward = p;
	log_policy(ag, present ? " (running changed)" :
		   " (running changed: no forwarding configuration)");
}

/* The datastore's change listener: read from the loop, not inside. */
static void on_ds_change(void *ctx, uint32_t sid, const char *edits,
			 size_t len)
{
	struct agent_forwards *all = ctx;

	(void)sid;
	(void)edits;
	(void)len;
	uv_timer_start(&all->reconf, on_reconf, 0, 0);
}

int agent_forwards_new(struct agent *ag, struct agent_forwards **out)
{
	struct agent_forwards *all = calloc(1, sizeof(*all));

	*out = NULL;
	if (all == NULL)
		return CH_ERR_NOMEM;
	all->ag = ag;
	uv_timer_init(ag->loop, &all->reconf);
	all->reconf.data = all;
	uv_unref((uv_handle_t *)&all->reconf);
	if (ag->ds != NULL)
		ch_ds_on_change(ag->ds, on_ds_change, all);
	log_policy(ag, "");
	*out = all;
	return CH_OK;
}

void agent_forwards_free(struct agent_forwards *all)
{
	struct fwd *f, *next;

	if (all == NULL)
		return;
	for (f = all->list; f; f = next) {
		next = f->next;
		if (!f->resolving)
			free(f);	/* its handles were closed by the walk */
	}
	free(all);
}
