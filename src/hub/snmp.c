/* snmp.c - UDP endpoints for the NMS <-> `snmp` channels on the devices,
 * and the devices' notifications out to trap receivers (snmp.h).
 */
#include "hub/snmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/device.h"
#include "hub/hub.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/core/snmpframe.h"
#include "lib/net/hostport.h"
#include "lib/xport/xport.h"

#define SNMP_BIND_DEFAULT "127.0.0.1"
#define SNMP_LABEL_MAX 128	/* the device as the operator named it */
/* what waits while a source's channel opens: the in-flight bound's worth
 * would be 4 MB; a few messages are what an NMS sends before a reply */
#define SNMP_WAIT_MAX (4u * CH_SNMP_MSG_MAX)

struct snmp_dev {			/* per device, by registry key */
	struct hub_snmp *all;
	struct snmp_dev *next;
	char fp[CH_FP_LEN];
	struct ch_snmp_budget budget;
	struct ch_snmp_inflight inflight;
	struct ch_stream *trap_s;	/* its notification channel */
	struct ch_buf trap_in;
	struct ch_snmp_budget trap_budget;
	uint64_t traps, traps_dropped;
};

struct snmp_src {			/* one NMS address of an endpoint */
	struct snmp_ep *ep;
	struct snmp_src *next;
	struct sockaddr_storage addr;
	socklen_t len;
	char fp[CH_FP_LEN];
	struct ch_stream *s;		/* NULL once closed() came */
	int up;				/* the device took the channel */
	struct ch_buf in;		/* from the device, not yet cut */
	struct ch_buf wait;		/* to the device, before up */
	uint64_t last;			/* ms, loop time of the last message */
};

struct snmp_ep {
	struct hub_snmp *all;
	struct snmp_ep *next;
	char fp[CH_FP_LEN];		/* foreground: the device's key */
	char label[SNMP_LABEL_MAX];
	char addr_str[CH_ADDRSTR_LEN];
	int persistent;			/* --snmp-map: fp resolved per source */
	int closing;
	int handles;			/* open libuv handles */
	uv_udp_t udp;
	uv_timer_t idle;
	struct snmp_src *srcs;
	unsigned nsrcs;
	/* foreground: the CLI's connection, who, numbers */
	uv_pipe_t pipe;
	int piped;
	int started;			/* its snmp-start is recorded */
	struct hub_actor who;
	uint64_t since;
	uint64_t dg_in, dg_out, bytes_in, bytes_out, dropped;
	char why[CH_STREAM_WHY_MAX];
};

struct hub_snmp {
	struct hub *hub;
	struct snmp_ep *eps;
	unsigned neps;
	struct snmp_dev *devs;
	uv_udp_t tx4, tx6;		/* to the trap receivers */
	int tx4_open, tx6_open;
	char rbuf[CH_SNMP_MSG_MAX + 1];	/* one datagram read */
};

static const struct ch_stream_req snmp_req = {
	.type = CH_STREAM_SUBSYSTEM,
	.name = "snmp",
};

/* ---- parsing ---- */

int snmp_endpoint_parse(const char *arg, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char buf[CH_ADDRSTR_LEN + 16];

	/* a bare PORT: on 127.0.0.1 */
	if (strspn(arg, "0123456789") == strlen(arg) && *arg) {
		snprintf(buf, sizeof(buf), SNMP_BIND_DEFAULT ":%s", arg);
		arg = buf;
	}
	return ch_sockaddr_parse(arg, 0, 0, ss, len);
}

int snmp_map_parse(const char *arg, struct hub_snmp_map *m)
{
	const char *eq = strchr(arg, '=');

	memset(m, 0, sizeof(*m));
	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= CH_FP_LEN)
		return CH_ERR_INVAL;
	if (snmp_endpoint_parse(eq + 1, &m->addr, &m->len) != CH_OK)
		return CH_ERR_INVAL;
	m->device = arg;	/* up to the '=': see dev_name */
	return CH_OK;
}

/* ---- per device ---- */

static struct snmp_dev *dev_get(struct hub_snmp *all, const char *fp)
{
	struct snmp_dev *v;

	for (v = all->devs; v; v = v->next)
		if (strcmp(v->fp, fp) == 0)
			return v;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->all = all;
	snprintf(v->fp, sizeof(v->fp), "%s", fp);
	ch_buf_init(&v->trap_in, CH_SNMP_MSG_MAX + CH_STREAM_READ_CHUNK);
	v->next = all->devs;
	all->devs = v;
	return v;
}

/* ---- an endpoint ---- */

static void ep_maybe_free(struct snmp_ep *ep)
{
	struct hub_snmp *all = ep->all;

	if (!ep->closing || ep->handles || ep->srcs)
		return;
	for (struct snmp_ep **pp = &all->eps; *pp; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	all->neps--;
	free(ep);
}

static void on_ep_handle_closed(uv_handle_t *h)
{
	struct snmp_ep *ep = h->data;

	ep->handles--;
	ep_maybe_free(ep);
}

/* The foreground session's end: its event and audit record. */
static void fg_event(struct snmp_ep *ep, int end)
{
	struct hub *hub = ep->all->hub;
	struct hub_audit_extra x = HUB_AUDIT_EXTRA_NONE;
	char text[CH_STORE_TEXT_MAX], who[HUB_ACTOR_STR_MAX];

	if (end)
		snprintf(text, sizeof(text), "snmp on udp %s %s (%s): %llu "
			 "datagrams in, %llu out, %llu dropped, %.1f s; %s",
			 ep->addr_str, "ended", hub_actor_str(&ep->who, who,
							      sizeof(who)),
			 (unsigned long long)ep->dg_in,
			 (unsigned long long)ep->dg_out,
			 (unsigned long long)ep->dropped,
			 (double)(uv_now(hub->loop) - ep->since) / 1000,
			 ep->why);
	else
		snprintf(text, sizeof(text), "snmp on udp %s started (%s)",
			 ep->addr_str, hub_actor_str(&ep->who, who,
						     sizeof(who)));
	hub_event(hub, ep->fp, "snmp", text);
	if (end) {
		x.bytes_in = (int64_t)ep->bytes_in;
		x.bytes_out = (int64_t)ep->bytes_out;
		x.duration_ms = (int64_t)(uv_now(hub->loop) - ep->since);
	}
	hub_audit_x(hub, &ep->who, ep->fp, end ? "snmp-end" : "snmp-start",
		    "ok", text, &x);
}

static void ep_close(struct snmp_ep *ep, const char *why)
{
	if (ep->closing)
		return;
	ep->closing = 1;
	snprintf(ep->why, sizeof(ep->why), "%s", why);
	ch_info("snmp: udp %s (device %s) closed: %s", ep->addr_str,
		ep->label, why);
	if (ep->started)
		fg_event(ep, 1);
	for (struct snmp_src *src = ep->srcs; src; src = src->next)
		if (src->s)
			ch_stream_close(src->s, 1, why);
	uv_close((uv_handle_t *)&ep->udp, on_ep_handle_closed);
	uv_close((uv_handle_t *)&ep->idle, on_ep_handle_closed);
	if (ep->piped)
		uv_close((uv_handle_t *)&ep->pipe, on_ep_handle_closed);
	ep_maybe_free(ep);
}

/* ---- a source's channel ---- */

static void src_drop(struct snmp_src *src, const char *why)
{
	char who[CH_ADDRSTR_LEN];

	src->ep->dropped++;
	ch_log_rl(CH_LOG_INFO, "snmp: udp %s: from %s to device %s: %s; "
		  "dropped (%llu dropped)", src->ep->addr_str,
		  ch_sockaddr_str((struct sockaddr *)&src->addr, who,
				  sizeof(who)), src->ep->label, why,
		  (unsigned long long)src->ep->dropped);
}

static void src_opened(struct ch_stream *s, int status, const char *why)
{
	struct snmp_src *src = ch_stream_ctx(s);

	if (status != CH_OK) {
		src_drop(src, why ? why : "the device refused the channel");
		return;		/* closed() follows */
	}
	src->up = 1;
	if (ch_buf_len(&src->wait) &&
	    ch_stream_write(s, ch_buf_ptr(&src->wait),
			    ch_buf_len(&src->wait)) != CH_OK)
		src_drop(src, "the channel's queue is full");
	ch_buf_reset(&src->wait);
}

/* The device's replies: each message one datagram to the source. */
static void src_data(struct ch_stream *s, const char *p, size_t n)
{
	struct snmp_src *src = ch_stream_ctx(s);
	struct snmp_ep *ep = src->ep;
	struct snmp_dev *v = dev_get(ep->all, src->fp);
	const char *why;
	size_t used;
	uv_buf_t b;
	int r;

	if (ep->closing)
		return;
	src->last = uv_now(ep->all->hub->loop);
	if (ch_buf_put(&src->in, p, n) != CH_OK) {
		ch_stream_close(s, 1, "a message over the size limit");
		return;
	}
	for (;;) {
		r = ch_snmp_frame_next((const uint8_t *)ch_buf_ptr(&src->in),
				       ch_buf_len(&src->in), CH_SNMP_MSG_MAX,
				       &used, &why);
		if (r == CH_ERR_AGAIN)
			return;
		if (r != CH_OK) {
			ch_clog_rl(CH_LOG_WARN, ch_stream_log(s), "snmp: %s; "
				   "closing the channel", why);
			ch_stream_close(s, 1, why);
			return;
		}
		if (v)
			ch_snmp_inflight_reply(&v->inflight);
		b = uv_buf_init((char *)ch_buf_ptr(&src->in), (unsigned)used);
		if (uv_udp_try_send(&ep->udp, &b, 1,
				    (struct sockaddr *)&src->addr) < 0) {
			src_drop(src, "cannot send the reply");
		} else {
			ep->dg_out++;
			ep->bytes_out += used;
		}
		ch_buf_consume(&src->in, used);
	}
}

static void src_closed(struct ch_stream *s, const char *why)
{
	struct snmp_src *src = ch_stream_ctx(s);
	struct snmp_ep *ep = src->ep;

	(void)why;
	src->s = NULL;
	for (struct snmp_src **pp = &ep->srcs; *pp; pp = &(*pp)->next) {
		if (*pp == src) {
			*pp = src->next;
			break;
		}
	}
	ep->nsrcs--;
	ch_buf_cleanup(&src->in);
	ch_buf_cleanup(&src->wait);
	free(src);
	ep_maybe_free(ep);
}

static const struct ch_stream_cb src_cb = {
	.opened = src_opened,
	.data = src_data,
	.closed = src_closed,
};

/* The device this endpoint maps to, now: its key in fp. */
static struct device *ep_device(struct snmp_ep *ep, char *fp)
{
	struct hub *hub = ep->all->hub;

	if (!ep->persistent)
		snprintf(fp, CH_FP_LEN, "%s", ep->fp);
	else if (ch_store_device_resolve(hub->store, ep->label, fp) != CH_OK)
		return NULL;
	return hub_find_device(hub, fp);
}

static struct snmp_src *src_new(struct snmp_ep *ep,
				const struct sockaddr *from)
{
	struct snmp_src *src, *lru = NULL;
	struct device *d;
	char fp[CH_FP_LEN], who[CH_ADDRSTR_LEN];
	const char *why;

	if ((d = ep_device(ep, fp)) == NULL) {
		ep->dropped++;
		ch_log_rl(CH_LOG_INFO, "snmp: udp %s: device %s is not "
			  "connected; dropped (%llu dropped)", ep->addr_str,
			  ep->label, (unsigned long long)ep->dropped);
		return NULL;
	}
	if (ep->nsrcs >= CH_HUB_SNMP_SOURCES) {
		for (src = ep->srcs; src; src = src->next)
			if (src->s && (lru == NULL || src->last < lru->last))
				lru = src;
		if (lru)	/* its closed() frees it */
			ch_stream_close(lru->s, 1, "another source took its "
					"place");
	}
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return NULL;
	src->ep = ep;
	memcpy(&src->addr, from, from->sa_family == AF_INET6
	       ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	src->len = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					       : sizeof(struct sockaddr_in);
	snprintf(src->fp, sizeof(src->fp), "%s", fp);
	ch_buf_init(&src->in, CH_SNMP_MSG_MAX + CH_STREAM_READ_CHUNK);
	ch_buf_init(&src->wait, SNMP_WAIT_MAX);
	src->last = uv_now(ep->all->hub->loop);
	if (device_open_stream(d, &snmp_req, &src_cb, src, &src->s, &why)
	    != CH_OK) {
		src_drop(src, why);
		ch_buf_cleanup(&src->in);
		ch_buf_cleanup(&src->wait);
		free(src);
		return NULL;
	}
	src->next = ep->srcs;
	ep->srcs = src;
	ep->nsrcs++;
	ch_info("snmp: udp %s: a channel to device %s for %s", ep->addr_str,
		ep->label, ch_sockaddr_str(from, who, sizeof(who)));
	return src;
}

static struct snmp_src *src_find(struct snmp_ep *ep,
				 const struct sockaddr *from)
{
	size_t n = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					       : sizeof(struct sockaddr_in);

	for (struct snmp_src *src = ep->srcs; src; src = src->next)
		if (src->s && src->len == n && memcmp(&src->addr, from, n) == 0)
			return src;
	return NULL;
}

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct snmp_ep *ep = h->data;

	(void)hint;
	buf->base = ep->all->rbuf;
	buf->len = sizeof(ep->all->rbuf);
}

/* A datagram from the NMS: one message to the device. */
static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
		   const struct sockaddr *from, unsigned flags)
{
	struct snmp_ep *ep = h->data;
	struct snmp_src *src;
	struct snmp_dev *v;
	uint64_t now = uv_now(ep->all->hub->loop);
	const char *why;
	size_t used;

	if (n <= 0 || from == NULL || ep->closing)
		return;
	ep->dg_in++;
	ep->bytes_in += (uint64_t)n;
	if ((flags & UV_UDP_PARTIAL) ||
	    ch_snmp_frame_next((const uint8_t *)buf->base, (size_t)n,
			       CH_SNMP_MSG_MAX, &used, &why) != CH_OK ||
	    used != (size_t)n) {
		ep->dropped++;
		ch_log_rl(CH_LOG_INFO, "snmp: udp %s: a datagram that is not "
			  "one SNMP message; dropped", ep->addr_str);
		return;
	}
	if ((src = src_find(ep, from)) == NULL &&
	    (src = src_new(ep, from)) == NULL)
		return;
	src->last = now;
	if ((v = dev_get(ep->all, src->fp)) == NULL ||
	    !ch_snmp_budget_take(&v->budget, now, CH_SNMP_RATE) ||
	    !ch_snmp_inflight_add(&v->inflight, now)) {
		src_drop(src, "over " CH_STR(CH_SNMP_RATE) " a second or "
			 CH_STR(CH_SNMP_INFLIGHT) " in flight to the device");
		return;
	}
	if (src->up ? ch_stream_write(src->s, buf->base, (size_t)n)
		    : ch_buf_put(&src->wait, buf->base, (size_t)n))
		src_drop(src, "the channel's queue is full");
}

static void on_idle(uv_timer_t *t)
{
	struct snmp_ep *ep = t->data;
	uint64_t now = uv_now(ep->all->hub->loop);

	for (struct snmp_src *src = ep->srcs; src; src = src->next)
		if (src->s && now - src->last >= CH_HUB_SNMP_IDLE_MS)
			ch_stream_close(src->s, 0, "idle");
}

/* A bound endpoint (not yet listed). CH_OK, CH_ERR_IO (*err says). */
static int ep_open(struct hub_snmp *all, const struct sockaddr_storage *ss,
		   struct snmp_ep **out, char *err, size_t errlen)
{
	struct hub *hub = all->hub;
	struct snmp_ep *ep;
	struct sockaddr_storage got;
	int r, n = sizeof(got);

	*out = NULL;
	if (all->neps >= CH_HUB_SNMP_ENDPOINTS) {
		snprintf(err, errlen, "too many SNMP endpoints (at most "
			 CH_STR(CH_HUB_SNMP_ENDPOINTS) ")");
		return CH_ERR_LIMIT;
	}
	if ((ep = calloc(1, sizeof(*ep))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CH_ERR_NOMEM;
	}
	ep->all = all;
	uv_udp_init(hub->loop, &ep->udp);
	uv_timer_init(hub->loop, &ep->idle);
	ep->udp.data = ep->idle.data = ep;
	ep->handles = 2;
	ep->next = all->eps;
	all->eps = ep;
	all->neps++;
	ch_sockaddr_str((const struct sockaddr *)ss, ep->addr_str,
			sizeof(ep->addr_str));
	if ((r = uv_udp_bind(&ep->udp, (const struct sockaddr *)ss, 0)) < 0 ||
	    (r = uv_udp_recv_start(&ep->udp, udp_alloc, on_udp)) < 0) {
		snprintf(err, errlen, "udp %s: %s", ep->addr_str,
			 uv_strerror(r));
		ep_close(ep, err);
		return CH_ERR_IO;
	}
	if (uv_udp_getsockname(&ep->udp, (struct sockaddr *)&got, &n) == 0)
		ch_sockaddr_str((struct sockaddr *)&got, ep->addr_str,
				sizeof(ep->addr_str));
	uv_timer_start(&ep->idle, on_idle, CH_HUB_SNMP_IDLE_MS / 4,
		       CH_HUB_SNMP_IDLE_MS / 4);
	*out = ep;
	return CH_OK;
}

/* ---- a foreground session: the CLI's connection ---- */

static void fg_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char sink[64];	/* the CLI sends nothing: read for EOF */

	(void)h;
	(void)hint;
	buf->base = sink;
	buf->len = sizeof(sink);
}

static void fg_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct snmp_ep *ep = st->data;

	(void)buf;
	if (n < 0)
		ep_close(ep, n == UV_EOF ? "the operator's command ended"
			 : "the operator's connection failed");
}

static void fg_handoff(void *ctx, int fd, const char *rest, size_t len)
{
	struct snmp_ep *ep = ctx;

	(void)rest;
	(void)len;
	if (fd < 0) {
		ep_close(ep, "the operator went away");
		return;
	}
	uv_pipe_init(ep->all->hub->loop, &ep->pipe, 0);
	ep->pipe.data = ep;
	ep->piped = 1;
	ep->handles++;
	if (uv_pipe_open(&ep->pipe, fd) < 0) {
		close(fd);
		ep_close(ep, "cannot take the operator's connection");
		return;
	}
	if (ep->closing)
		return;
	ep->since = uv_now(ep->all->hub->loop);
	ep->started = 1;
	fg_event(ep, 0);
	if (uv_read_start((uv_stream_t *)&ep->pipe, fg_alloc, fg_read) < 0)
		ep_close(ep, "cannot read the operator's connection");
}

void snmp_session(struct hub *hub, struct hub_ctl_req *req, const char *fp,
		  const char *label, const struct sockaddr_storage *addr,
		  socklen_t len)
{
	const struct hub_actor *who = hub_ctl_actor(req);
	const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
	struct snmp_ep *ep;
	char err[256];

	(void)len;
	if (hub->snmp == NULL) {
		hub_ctl_fail(req, "internal", "SNMP is not started");
		return;
	}
	/* in and in6 share the port's offset */
	if (ntohs(in->sin_port) != 0 && ntohs(in->sin_port) < 1024 &&
	    who->uid != 0) {
		hub_ctl_fail(req, "denied", "a port below 1024 needs root "
			     "(give another port, e.g. 1161)");
		return;
	}
	if (ep_open(hub->snmp, addr, &ep, err, sizeof(err)) != CH_OK) {
		hub_ctl_fail(req, "failed", err);
		return;
	}
	ep->who = *who;
	snprintf(ep->fp, sizeof(ep->fp), "%s", fp);
	snprintf(ep->label, sizeof(ep->label), "%s", label);
	ep->since = uv_now(hub->loop);
	ch_info("snmp: udp %s relays to device %s (%s)", ep->addr_str, label,
		who->name);
	if (hub_ctl_handoff(req, json_pack("{s:b, s:s}", "ok", 1, "address",
					   ep->addr_str), fg_handoff, ep)
	    != CH_OK) {
		ep_close(ep, "the operator went away");
	}
}

/* ---- notifications ---- */

static void trap_emit(struct snmp_dev *v, const char *p, size_t n)
{
	struct hub_snmp *all = v->all;
	const struct hub_config *cfg = &all->hub->cfg;
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
	const struct sockaddr *to;

	if (!ch_snmp_budget_take(&v->trap_budget, uv_now(all->hub->loop),
				 CH_SNMP_TRAP_RATE)) {
		v->traps_dropped++;
		ch_log_rl(CH_LOG_WARN, "snmp: device %s: notifications over "
			  CH_STR(CH_SNMP_TRAP_RATE) " a second; dropped (%llu "
			  "dropped)", v->fp,
			  (unsigned long long)v->traps_dropped);
		return;
	}
	v->traps++;
	for (size_t i = 0; i < cfg->nsnmp_trap_to; i++) {
		to = (const struct sockaddr *)&cfg->snmp_trap_to[i].addr;
		if (uv_udp_try_send(to->sa_family == AF_INET6 ? &all->tx6
							      : &all->tx4,
				    &b, 1, to) < 0)
			ch_log_rl(CH_LOG_WARN, "snmp: device %s: a "
				  "notification could not be sent to a trap "
				  "receiver", v->fp);
	}
}

static void trap_data(struct ch_stream *s, const char *p, size_t n)
{
	struct snmp_dev *v = ch_stream_ctx(s);
	const char *why;
	size_t used;
	int r;

	if (ch_buf_put(&v->trap_in, p, n) != CH_OK) {
		ch_stream_close(s, 1, "a message over the size limit");
		return;
	}
	for (;;) {
		r = ch_snmp_frame_next((const uint8_t *)
				       ch_buf_ptr(&v->trap_in),
				       ch_buf_len(&v->trap_in),
				       CH_SNMP_MSG_MAX, &used, &why);
		if (r == CH_ERR_AGAIN)
			return;
		if (r != CH_OK) {
			ch_clog_rl(CH_LOG_WARN, ch_stream_log(s), "snmp: "
				   "notification channel: %s; closing it",
				   why);
			ch_stream_close(s, 1, why);
			return;
		}
		trap_emit(v, ch_buf_ptr(&v->trap_in), used);
		ch_buf_consume(&v->trap_in, used);
	}
}

static void trap_opened(struct ch_stream *s, int status, const char *why)
{
	struct snmp_dev *v = ch_stream_ctx(s);

	if (status != CH_OK)
		ch_clog(CH_LOG_INFO, ch_stream_log(s), "snmp: device %s "
			"refused the notification channel: %s", v->fp,
			why ? why : "refused");
	else
		ch_clog(CH_LOG_INFO, ch_stream_log(s), "snmp: notification "
			"channel open");
}

static void trap_closed(struct ch_stream *s, const char *why)
{
	struct snmp_dev *v = ch_stream_ctx(s);

	(void)why;
	if (v->trap_s == s)
		v->trap_s = NULL;
	ch_buf_reset(&v->trap_in);
}

static const struct ch_stream_cb trap_cb = {
	.opened = trap_opened,
	.data = trap_data,
	.closed = trap_closed,
};

void snmp_device_ready(struct hub *hub, struct device *d)
{
	struct snmp_dev *v;
	const char *why;

	if (hub->snmp == NULL || hub->cfg.nsnmp_trap_to == 0 ||
	    (v = dev_get(hub->snmp, device_key(d))) == NULL)
		return;
	if (v->trap_s)		/* an earlier connection's, going */
		ch_stream_close(v->trap_s, 1, "the device called again");
	v->trap_s = NULL;
	ch_buf_reset(&v->trap_in);
	if (device_open_stream(d, &snmp_req, &trap_cb, v, &v->trap_s, &why)
	    != CH_OK) {
		v->trap_s = NULL;
		ch_clog(CH_LOG_INFO, device_log(d), "snmp: no notification "
			"channel: %s", why);
	}
}

/* ---- start and stop ---- */

int snmp_start(struct hub *hub)
{
	struct hub_snmp *all;
	struct snmp_ep *ep;
	struct sockaddr_in any4 = { .sin_family = AF_INET };
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };
	char err[256];
	const char *name;
	int r;

	if ((all = calloc(1, sizeof(*all))) == NULL)
		return CH_ERR_NOMEM;
	all->hub = hub;
	hub->snmp = all;
	/* the trap receivers' sockets: bound now (an ephemeral port) */
	for (size_t i = 0; i < hub->cfg.nsnmp_trap_to; i++) {
		int six = hub->cfg.snmp_trap_to[i].addr.ss_family == AF_INET6;
		uv_udp_t *u = six ? &all->tx6 : &all->tx4;
		int *open = six ? &all->tx6_open : &all->tx4_open;

		if (*open)
			continue;
		uv_udp_init(hub->loop, u);
		*open = 1;
		r = uv_udp_bind(u, six ? (struct sockaddr *)&any6
				       : (struct sockaddr *)&any4, 0);
		if (r < 0) {
			ch_error("--snmp-trap-to: cannot bind a socket: %s",
				 uv_strerror(r));
			return CH_ERR_IO;
		}
	}
	for (size_t i = 0; i < hub->cfg.nsnmp_maps; i++) {
		const struct hub_snmp_map *m = &hub->cfg.snmp_maps[i];

		if (ep_open(all, &m->addr, &ep, err, sizeof(err)) != CH_OK) {
			ch_error("--snmp-map: %s", err);
			return CH_ERR_IO;
		}
		ep->persistent = 1;
		name = m->device;
		snprintf(ep->label, sizeof(ep->label), "%.*s",
			 (int)(strchr(name, '=') - name), name);
		ch_info("snmp: udp %s relays to device %s (--snmp-map)",
			ep->addr_str, ep->label);
	}
	return CH_OK;
}

void snmp_stop_all(struct hub *hub)
{
	struct hub_snmp *all = hub->snmp;
	struct snmp_ep *ep, *next;

	if (all == NULL)
		return;
	for (ep = all->eps; ep; ep = next) {
		next = ep->next;
		ep_close(ep, "hub shutting down");
	}
	for (struct snmp_dev *v = all->devs; v; v = v->next)
		if (v->trap_s)
			ch_stream_close(v->trap_s, 1, "hub shutting down");
	if (all->tx4_open && !uv_is_closing((uv_handle_t *)&all->tx4))
		uv_close((uv_handle_t *)&all->tx4, NULL);
	if (all->tx6_open && !uv_is_closing((uv_handle_t *)&all->tx6))
		uv_close((uv_handle_t *)&all->tx6, NULL);
}

void snmp_free(struct hub *hub)
{
	struct hub_snmp *all = hub->snmp;
	struct snmp_dev *v, *next;

	if (all == NULL)
		return;
	for (v = all->devs; v; v = next) {
		next = v->next;
		ch_buf_cleanup(&v->trap_in);
		free(v);
	}
	free(all);
	hub->snmp = NULL;
}
