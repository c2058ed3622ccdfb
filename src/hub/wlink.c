/* wlink.c - the supervisor-worker channel (wlink.h). */
#include "hub/wlink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/log.h"

struct wmsg {
	struct wmsg *next;
	int fd;				/* a dup, closed once sent */
	size_t len;
	char data[];			/* type byte, payload */
};

struct wlink {
	uv_poll_t poll;
	int fd;
	const struct wlink_ops *ops;
	struct wmsg *head, *tail;
	size_t queued;
	bool closing;
	bool in_read;			/* ops->message is running */
	bool failed;			/* close when the read loop ends */
};

static void free_queue(struct wlink *l)
{
	struct wmsg *m;

	while ((m = l->head) != NULL) {
		l->head = m->next;
		if (m->fd >= 0)
			close(m->fd);
		free(m);
	}
	l->tail = NULL;
	l->queued = 0;
}

static void on_closed(uv_handle_t *h)
{
	struct wlink *l = h->data;

	free_queue(l);
	close(l->fd);
	free(l);
}

void wlink_close(struct wlink *l)
{
	if (l == NULL || l->closing)
		return;
	l->closing = true;
	uv_close((uv_handle_t *)&l->poll, on_closed);
}

/* The channel is broken: the owner hears it once, then it goes. */
static void fail(struct wlink *l)
{
	if (l->closing)
		return;
	if (l->in_read) {
		l->failed = true;
		return;
	}
	if (l->ops->closed)
		l->ops->closed(l->ops->ctx, l);
	wlink_close(l);
}

/* One message out; 1 sent, 0 the socket is full, -1 failed. */
static int send_one(struct wlink *l, const struct wmsg *m)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)m->data, .iov_len = m->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (m->fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &m->fd, sizeof(int));
	}
	do
		n = sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	ch_debug("worker channel: send: %s", strerror(errno));
	return -1;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_update(struct wlink *l)
{
	if (l->closing)
		return;
	uv_poll_start(&l->poll, UV_READABLE | (l->head ? UV_WRITABLE : 0),
		      on_poll);
}

static void flush(struct wlink *l)
{
	struct wmsg *m;
	int r;

	while ((m = l->head) != NULL) {
		if ((r = send_one(l, m)) == 0)
			break;
		if (r < 0) {
			fail(l);
			return;
		}
		l->head = m->next;
		if (l->head == NULL)
			l->tail = NULL;
		l->queued--;
		if (m->fd >= 0)
			close(m->fd);
		free(m);
	}
	poll_update(l);
}

/* The descriptor a message carried, or -1. */
static int received_fd(struct msghdr *mh)
{
	int fd = -1;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		/* one is all we send; more would be a bug: close them */
		for (size_t i = 0; i * sizeof(int) + CMSG_LEN(0) < c->cmsg_len;
		     i++) {
			int x;

			memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(x));
			if (fd < 0)
				fd = x;
			else
				close(x);
		}
	}
	return fd;
}

static void read_all(struct wlink *l)
{
	static char buf[CH_HUB_WLINK_MSG_MAX + 2];
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh;
	ssize_t n;
	int fd;

	l->in_read = true;
	while (!l->closing && !l->failed) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(l->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {		/* 0: the other end closed */
			l->failed = true;
			break;
		}
		fd = received_fd(&mh);
		if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		    (size_t)n > CH_HUB_WLINK_MSG_MAX + 1) {
			ch_error("worker channel: a message over %u bytes; "
				 "closing the channel", CH_HUB_WLINK_MSG_MAX);
			if (fd >= 0)
				close(fd);
			l->failed = true;
			break;
		}
		buf[n] = '\0';
		l->ops->message(l->ops->ctx, l, (unsigned char)buf[0],
				buf + 1, (size_t)n - 1, fd);
	}
	l->in_read = false;
	if (l->failed && !l->closing) {
		l->failed = false;
		fail(l);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct wlink *l = h->data;

	if (status < 0) {
		fail(l);
		return;
	}
	if (events & UV_READABLE)
		read_all(l);
	if (!l->closing && (events & UV_WRITABLE))
		flush(l);
}

struct wlink *wlink_open(uv_loop_t *loop, int fd,
			 const struct wlink_ops *ops)
{
	struct wlink *l = calloc(1, sizeof(*l));

	if (l == NULL || uv_poll_init(loop, &l->poll, fd) != 0) {
		free(l);
		close(fd);
		return NULL;
	}
	l->fd = fd;
	l->ops = ops;
	l->poll.data = l;
	poll_update(l);
	return l;
}

int wlink_send(struct wlink *l, int type, const char *payload, size_t len,
	       int fd)
{
	struct wmsg *m;

	if (l == NULL || l->closing)
		return CH_ERR_CLOSED;
	if (len > CH_HUB_WLINK_MSG_MAX)
		return CH_ERR_LIMIT;
	if (l->queued >= CH_HUB_WLINK_QUEUE_MAX) {
		ch_error("worker channel: %u messages unsent; taking the "
			 "other end for dead", CH_HUB_WLINK_QUEUE_MAX);
		fail(l);
		return CH_ERR_CLOSED;
	}
	if ((m = malloc(sizeof(*m) + len + 1)) == NULL)
		return CH_ERR_NOMEM;
	m->next = NULL;
	m->len = len + 1;
	m->data[0] = (char)type;
	memcpy(m->data + 1, payload, len);
	m->fd = -1;
	if (fd >= 0 && (m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(m);
		return CH_ERR_IO;
	}
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->queued++;
	if (l->queued == 1)
		flush(l);	/* nothing ahead of it: try now */
	return l->closing ? CH_ERR_CLOSED : CH_OK;
}

int wlink_sendf(struct wlink *l, int type, const char *fmt, ...)
{
	char buf[CH_HUB_WLINK_MSG_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > CH_HUB_WLINK_MSG_MAX)
		return CH_ERR_LIMIT;
	return wlink_send(l, type, buf, (size_t)n, -1);
}
