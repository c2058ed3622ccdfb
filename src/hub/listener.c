/* listener.c - the hub's listening sockets (listener.h). */
#include "hub/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/net/hostport.h"

struct listener {
	const struct listener_ops *ops;
	int tls;		/* 4335: TLS call home */
	uv_poll_t poll;
	uv_timer_t pause;
	int fd;
	char addr[CH_ADDRSTR_LEN];
	uint64_t refused;	/* refused at accept, for the log */
	int closing;
	int handles;		/* still closing */
	struct listener *next;
};

static void on_acceptable(uv_poll_t *p, int status, int events);

static void on_pause_over(uv_timer_t *t)
{
	struct listener *l = t->data;

	if (!l->closing)
		uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

static void on_acceptable(uv_poll_t *p, int status, int events)
{
	struct listener *l = p->data;

	(void)status;
	(void)events;
	for (int i = 0; i < CH_HUB_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[CH_ADDRSTR_LEN];
		int fd;

		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				ch_log_errno(CH_LOG_WARN, "listener %s: "
					     "cannot accept (pausing %d ms)",
					     l->addr, CH_HUB_ACCEPT_PAUSE_MS);
				uv_poll_stop(&l->poll);
				uv_timer_start(&l->pause, on_pause_over,
					       CH_HUB_ACCEPT_PAUSE_MS, 0);
			}
			return;	/* EAGAIN, or a connection that died */
		}
		ch_sockaddr_str((struct sockaddr *)&ss, peer, sizeof(peer));
		l->ops->accepted(l->ops->ctx, l, fd, peer,
				 (struct sockaddr *)&ss);
	}
}

static int listen_on(uv_loop_t *loop, const struct sockaddr *sa,
		     socklen_t salen, int flags,
		     const struct listener_ops *ops, struct listener **list)
{
	struct listener *l;
	char addr[CH_ADDRSTR_LEN];
	int one = 1, fd;

	ch_sockaddr_str(sa, addr, sizeof(addr));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		ch_log_errno(CH_LOG_ERROR, "listen %s: socket", addr);
		return CH_ERR_IO;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((flags & LISTENER_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		ch_log_errno(CH_LOG_ERROR, "listen %s: SO_REUSEPORT", addr);
		close(fd);
		return CH_ERR_IO;
	}
	/* IPv6 sockets take IPv6 only, so [::] and 0.0.0.0 can coexist. */
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, salen) != 0 || listen(fd, CH_HUB_LISTEN_BACKLOG) != 0) {
		ch_log_errno(CH_LOG_ERROR, "listen %s", addr);
		close(fd);
		return CH_ERR_IO;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	l->ops = ops;
	l->tls = flags & LISTENER_TLS;
	l->fd = fd;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	uv_poll_init(loop, &l->poll, fd);
	uv_timer_init(loop, &l->pause);
	l->poll.data = l->pause.data = l;
	uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
	l->next = *list;
	*list = l;
	if (ops->what)
		ch_info("listening for %s on %s", ops->what, addr);
	else
		ch_info("listening for call-home connections over %s on %s",
			l->tls ? "TLS" : "SSH", addr);
	return CH_OK;
}

int listener_open(uv_loop_t *loop, const char *host, uint16_t port,
		  int flags, const struct listener_ops *ops,
		  struct listener **list)
{
	struct addrinfo hints, *res, *ai;
	char service[8];
	int r, bound = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0) {
		ch_error("listen %s port %s: %s", host ? host : "*",
			 service, gai_strerror(r));
		return CH_ERR_INVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (listen_on(loop, ai->ai_addr, ai->ai_addrlen, flags, ops,
			      list) == CH_OK)
			bound++;
	}
	freeaddrinfo(res);
	return bound ? CH_OK : CH_ERR_IO;
}

/* libuv finishes closes in no promised order: free after both. */
static void on_listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	if (--l->handles == 0)
		free(l);
}

void listener_close_all(struct listener **list)
{
	struct listener *l;

	while ((l = *list) != NULL) {
		*list = l->next;
		l->closing = 1;
		l->handles = 2;
		uv_close((uv_handle_t *)&l->poll, on_listener_closed);
		close(l->fd);	/* uv_poll does not own it */
		uv_close((uv_handle_t *)&l->pause, on_listener_closed);
	}
}

int listener_tls(const struct listener *l)
{
	return l->tls;
}

struct listener *listener_next(const struct listener *l)
{
	return l->next;
}

const char *listener_addr(const struct listener *l)
{
	return l->addr;
}

uint64_t listener_refused(struct listener *l)
{
	return l->refused++;
}
