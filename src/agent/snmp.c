/* snmp.c - the `snmp` subsystem: channels <-> the device's snmpd, and
 * snmpd's notifications out on the connections (snmp.h).
 */
#include "agent/snmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/core/snmpframe.h"
#include "lib/net/hostport.h"
#include "lib/xport/xport.h"

struct snmp_chan {
	struct agent_snmp *sn;
	struct snmp_chan *prev, *next;	/* in the order they opened */
	struct ch_stream *s;		/* NULL once closed() came */
	int fd;
	uv_poll_t poll;
	int requested;			/* carried a request */
	struct ch_buf in;		/* the channel's bytes, not yet cut */
	struct ch_snmp_budget budget;
	struct ch_snmp_inflight inflight;
	uint64_t reqs, replies, dropped, traps;
};

struct agent_snmp {
	struct agent *ag;
	struct sockaddr_storage target;
	socklen_t target_len;		/* 0: no requests (traps only) */
	char target_str[CH_ADDRSTR_LEN + 108];
	struct snmp_chan *head, *tail;
	uv_udp_t trap;
	int trap_open;
	struct ch_snmp_budget trap_budget;
	uint64_t traps, traps_dropped;
	uint8_t dgram[CH_SNMP_MSG_MAX + 1];	/* one read from snmpd */
};

static int parse_target(struct agent_snmp *sn, const char *t,
			const char **why)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&sn->target;

	if (strncmp(t, "udp:", 4) == 0) {
		if (ch_sockaddr_parse(t + 4, 0, 1, &sn->target,
				      &sn->target_len) != CH_OK) {
			*why = "--snmp-agent udp:ADDR:PORT takes a loopback "
			       "address and a port (the device's own snmpd)";
			return CH_ERR_INVAL;
		}
		ch_sockaddr_str((struct sockaddr *)&sn->target,
				sn->target_str, sizeof(sn->target_str));
		return CH_OK;
	}
	if (strncmp(t, "unix:", 5) == 0 && t[5] == '/' &&
	    strlen(t + 5) < sizeof(un->sun_path)) {
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, t + 5, strlen(t + 5) + 1);
		sn->target_len = sizeof(*un);
		snprintf(sn->target_str, sizeof(sn->target_str), "%s", t);
		return CH_OK;
	}
	*why = "--snmp-agent takes udp:ADDR:PORT (loopback) or unix:/PATH";
	return CH_ERR_INVAL;
}

/* ---- a channel ---- */

static void chan_unlink(struct snmp_chan *c)
{
	struct agent_snmp *sn = c->sn;

	if (c->prev)
		c->prev->next = c->next;
	else
		sn->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		sn->tail = c->prev;
}

static void on_poll_closed(uv_handle_t *h)
{
	struct snmp_chan *c = h->data;

	close(c->fd);
	ch_buf_cleanup(&c->in);
	free(c);
}

static void chan_end(struct ch_stream *s, const char *why)
{
	ch_clog_rl(CH_LOG_WARN, ch_stream_log(s), "snmp: %s; closing the "
		   "channel", why);
	ch_stream_close(s, 1, why);
}

/* One message from the manager: a datagram to snmpd. */
static void to_snmpd(struct snmp_chan *c, const uint8_t *p, size_t n)
{
	struct agent_snmp *sn = c->sn;
	uint64_t now = uv_now(sn->ag->loop);

	c->requested = 1;
	if (!ch_snmp_budget_take(&c->budget, now, CH_SNMP_RATE) ||
	    !ch_snmp_inflight_add(&c->inflight, now)) {
		c->dropped++;
		ch_clog_rl(CH_LOG_INFO, ch_stream_log(c->s), "snmp: request "
			   "dropped: over " CH_STR(CH_SNMP_RATE) " a second or "
			   CH_STR(CH_SNMP_INFLIGHT) " without a reply (%llu "
			   "dropped)", (unsigned long long)c->dropped);
		return;
	}
	if (send(c->fd, p, n, MSG_DONTWAIT) < 0) {
		c->dropped++;
		ch_clog_rl(CH_LOG_INFO, ch_stream_log(c->s), "snmp: to %s: "
			   "%s; request dropped", sn->target_str,
			   strerror(errno));
		return;
	}
	c->reqs++;
}

static void s_data(struct ch_stream *s, const char *p, size_t n)
{
	struct snmp_chan *c = ch_stream_ctx(s);
	const char *why;
	size_t used;
	int r;

	if (c->sn->target_len == 0) {
		chan_end(s, "this device relays no SNMP requests (no "
			 "--snmp-agent), only notifications");
		return;
	}
	if (ch_buf_put(&c->in, p, n) != CH_OK) {
		chan_end(s, "a message over the size limit");
		return;
	}
	for (;;) {
		r = ch_snmp_frame_next((const uint8_t *)ch_buf_ptr(&c->in),
				       ch_buf_len(&c->in), CH_SNMP_MSG_MAX,
				       &used, &why);
		if (r == CH_ERR_AGAIN)
			return;
		if (r != CH_OK) {
			chan_end(s, why);
			return;
		}
		to_snmpd(c, (const uint8_t *)ch_buf_ptr(&c->in), used);
		ch_buf_consume(&c->in, used);
	}
}

/* snmpd's answers: each datagram, whole, on the channel. */
static void on_readable(uv_poll_t *h, int status, int events)
{
	struct snmp_chan *c = h->data;
	struct agent_snmp *sn = c->sn;
	const char *why;
	size_t used;
	ssize_t n;

	(void)events;
	if (status < 0 || c->s == NULL)
		return;
	for (;;) {
		n = recv(c->fd, sn->dgram, sizeof(sn->dgram), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			      errno == EINTR))
			return;
		if (n < 0) {	/* ECONNREFUSED: no snmpd there */
			ch_clog_rl(CH_LOG_WARN, ch_stream_log(c->s), "snmp: "
				   "from %s: %s", sn->target_str,
				   strerror(errno));
			continue;
		}
		if (ch_snmp_frame_next(sn->dgram, (size_t)n, CH_SNMP_MSG_MAX,
				       &used, &why) != CH_OK ||
		    used != (size_t)n) {
			ch_clog_rl(CH_LOG_WARN, ch_stream_log(c->s), "snmp: a "
				   "datagram from %s that is not one SNMP "
				   "message (%zd bytes); dropped",
				   sn->target_str, n);
			continue;
		}
		ch_snmp_inflight_reply(&c->inflight);
		if (ch_stream_write(c->s, sn->dgram, (size_t)n) != CH_OK)
			c->dropped++;
		else
			c->replies++;
	}
}

static void s_closed(struct ch_stream *s, const char *why)
{
	struct snmp_chan *c = ch_stream_ctx(s);

	ch_clog(CH_LOG_INFO, ch_stream_log(s), "snmp: channel closed: %s "
		"(%llu requests, %llu replies, %llu notifications, %llu "
		"dropped)", why, (unsigned long long)c->reqs,
		(unsigned long long)c->replies,
		(unsigned long long)c->traps,
		(unsigned long long)c->dropped);
	c->s = NULL;
	if (uv_is_closing((uv_handle_t *)&c->poll))
		return;		/* the stopping loop's walk: freed at the end */
	chan_unlink(c);
	uv_poll_stop(&c->poll);
	uv_close((uv_handle_t *)&c->poll, on_poll_closed);
}

static const struct ch_stream_cb snmp_stream_cb = {
	.data = s_data,
	.closed = s_closed,
};

static unsigned on_conn(struct agent_snmp *sn, struct ch_xport *x)
{
	unsigned n = 0;

	for (struct snmp_chan *c = sn->head; c; c = c->next)
		n += c->s && ch_stream_xport(c->s) == x;
	return n;
}

/* A datagram socket connected to snmpd: only its datagrams are read. */
static int open_socket(struct agent_snmp *sn, const struct ch_logctx *log)
{
	const struct sockaddr *sa = (const struct sockaddr *)&sn->target;
	sa_family_t fam = sa->sa_family;
	int fd;

	if (sn->target_len == 0)	/* notifications only: a placeholder */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
	else
		fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ch_clog_errno(CH_LOG_WARN, log, "snmp: socket");
		return -1;
	}
	if (sn->target_len == 0)
		return fd;
	/* unix: an autobound abstract name, so that snmpd can answer */
	if (fam == AF_UNIX && bind(fd, sa, sizeof(sa_family_t)) < 0) {
		ch_clog_errno(CH_LOG_WARN, log, "snmp: bind");
		close(fd);
		return -1;
	}
	if (connect(fd, sa, sn->target_len) < 0) {
		ch_clog_errno(CH_LOG_WARN, log, "snmp: connect to %s",
			      sn->target_str);
		close(fd);
		return -1;
	}
	return fd;
}

int agent_snmp_start(struct agent_snmp *sn, struct ch_stream *s,
		     const char **why)
{
	struct snmp_chan *c;

	if (sn == NULL) {
		*why = "SNMP is off on this device (no --snmp-agent)";
		return CH_ERR_DENIED;
	}
	if (on_conn(sn, ch_stream_xport(s)) >= CH_AGENT_SNMP_PER_CONN) {
		*why = "too many snmp channels on this connection (at most "
		       CH_STR(CH_AGENT_SNMP_PER_CONN) ")";
		return CH_ERR_LIMIT;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*why = "out of memory";
		return CH_ERR_NOMEM;
	}
	c->sn = sn;
	c->s = s;
	if ((c->fd = open_socket(sn, ch_stream_log(s))) < 0) {
		free(c);
		*why = "cannot reach the device's SNMP agent";
		return CH_ERR_IO;
	}
	if (uv_poll_init(sn->ag->loop, &c->poll, c->fd) < 0) {
		close(c->fd);
		free(c);
		*why = "cannot poll the SNMP agent's socket";
		return CH_ERR_IO;
	}
	c->poll.data = c;
	if (sn->target_len)
		uv_poll_start(&c->poll, UV_READABLE, on_readable);
	/* the data's own deliveries are at most CH_STREAM_READ_CHUNK */
	ch_buf_init(&c->in, CH_SNMP_MSG_MAX + CH_STREAM_READ_CHUNK);
	c->prev = sn->tail;
	if (sn->tail)
		sn->tail->next = c;
	else
		sn->head = c;
	sn->tail = c;
	ch_stream_set_cb(s, &snmp_stream_cb, c);
	ch_clog(CH_LOG_INFO, ch_stream_log(s), "snmp: channel to %s",
		sn->target_len ? sn->target_str : "(notifications only)");
	return CH_OK;
}

/* ---- notifications ---- */

/* The connection's notification channel: its oldest that carried no
 * request. */
static struct snmp_chan *notif_chan(struct agent_snmp *sn,
				    struct ch_xport *x)
{
	for (struct snmp_chan *c = sn->head; c; c = c->next)
		if (c->s && !c->requested && ch_stream_xport(c->s) == x)
			return c;
	return NULL;
}

static void forward_trap(struct agent_snmp *sn, const uint8_t *p, size_t n)
{
	unsigned sent = 0;

	for (struct snmp_chan *c = sn->head; c; c = c->next) {
		if (c->s == NULL || notif_chan(sn, ch_stream_xport(c->s)) != c)
			continue;
		if (ch_stream_write(c->s, p, n) == CH_OK) {
			c->traps++;
			sent++;
		}
	}
	sn->traps++;
	if (sent == 0) {
		sn->traps_dropped++;
		ch_log_rl(CH_LOG_INFO, "snmp: a notification from snmpd and "
			  "no manager's notification channel to carry it; "
			  "dropped (%llu dropped)",
			  (unsigned long long)sn->traps_dropped);
	}
}

static void trap_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct agent_snmp *sn = h->data;

	(void)hint;
	buf->base = (char *)sn->dgram;
	buf->len = sizeof(sn->dgram);
}

static void on_trap(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
		    const struct sockaddr *from, unsigned flags)
{
	struct agent_snmp *sn = h->data;
	char who[CH_ADDRSTR_LEN];
	const char *why;
	size_t used;

	if (n <= 0 || from == NULL)
		return;
	ch_sockaddr_str(from, who, sizeof(who));
	if (!ch_sockaddr_is_loopback(from) || (flags & UV_UDP_PARTIAL) ||
	    ch_snmp_frame_next((const uint8_t *)buf->base, (size_t)n,
			       CH_SNMP_MSG_MAX, &used, &why) != CH_OK ||
	    used != (size_t)n) {
		ch_log_rl(CH_LOG_WARN, "snmp: a datagram from %s on the trap "
			  "port that is not one SNMP message from loopback; "
			  "dropped", who);
		return;
	}
	if (!ch_snmp_budget_take(&sn->trap_budget, uv_now(sn->ag->loop),
				 CH_SNMP_TRAP_RATE)) {
		sn->traps_dropped++;
		ch_log_rl(CH_LOG_WARN, "snmp: notifications over "
			  CH_STR(CH_SNMP_TRAP_RATE) " a second; dropped "
			  "(%llu dropped)",
			  (unsigned long long)sn->traps_dropped);
		return;
	}
	forward_trap(sn, (const uint8_t *)buf->base, (size_t)n);
}

static int trap_listen(struct agent_snmp *sn, const char *addr,
		       const char **why)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int r;

	if (ch_sockaddr_parse(addr, 0, 1, &ss, &len) != CH_OK) {
		*why = "--snmp-trap-listen takes a loopback ADDR:PORT";
		return CH_ERR_INVAL;
	}
	uv_udp_init(sn->ag->loop, &sn->trap);
	sn->trap.data = sn;
	sn->trap_open = 1;
	if ((r = uv_udp_bind(&sn->trap, (struct sockaddr *)&ss, 0)) < 0 ||
	    (r = uv_udp_recv_start(&sn->trap, trap_alloc, on_trap)) < 0) {
		ch_error("--snmp-trap-listen %s: %s", addr, uv_strerror(r));
		*why = "cannot listen for notifications";
		return CH_ERR_IO;
	}
	uv_unref((uv_handle_t *)&sn->trap);	/* holds no loop open */
	ch_info("snmp: notifications from snmpd taken on udp %s", addr);
	return CH_OK;
}

int agent_snmp_new(struct agent *ag, const char *target,
		   const char *trap_listen_addr, struct agent_snmp **out,
		   const char **why)
{
	struct agent_snmp *sn;
	int r;

	*out = NULL;
	*why = NULL;
	if ((sn = calloc(1, sizeof(*sn))) == NULL)
		return CH_ERR_NOMEM;
	sn->ag = ag;
	if (target && (r = parse_target(sn, target, why)) != CH_OK)
		goto fail;
	if (trap_listen_addr &&
	    (r = trap_listen(sn, trap_listen_addr, why)) != CH_OK)
		goto fail;
	if (target)
		ch_info("snmp: the manager's snmp channels reach %s",
			sn->target_str);
	*out = sn;
	return CH_OK;
fail:
	if (sn->trap_open) {	/* the loop frees it; sn goes with the process */
		uv_close((uv_handle_t *)&sn->trap, NULL);
		return r;
	}
	free(sn);
	return r;
}

void agent_snmp_free(struct agent_snmp *sn)
{
	struct snmp_chan *c, *next;

	if (sn == NULL)
		return;
	for (c = sn->head; c; c = next) {	/* the walk closed the polls */
		next = c->next;
		close(c->fd);
		ch_buf_cleanup(&c->in);
		free(c);
	}
	free(sn);
}
