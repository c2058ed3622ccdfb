/* conn.c - talking to the hub: one request, one response, over a
 * non-blocking Unix socket driven by poll() with one deadline for the
 * whole exchange. A connection per exchange, so a restarted hub is simply
 * the next connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/conn.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* deadline: CLOCK_MONOTONIC ms */
static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

/* Three different stories: no hub there (a wrong path or a stopped hub),
 * a hub this user may not talk to (--control-group), anything else. */
static void unreachable(const struct run *run, int err)
{
	if (err == EACCES || err == EPERM)
		cli_fail("%s: permission denied (ask to be added to the hub's "
			 "--control-group, or run as root)", run->socket);
	else if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
		cli_fail("no hub is listening at %s: %s (is callhome-hub "
			 "running? --hub or " CLI_SOCKET_ENV ")", run->socket,
			 strerror(err));
	else
		cli_fail("cannot reach the hub at %s: %s", run->socket,
			 strerror(err));
}

static void timed_out(const struct run *run, const char *what)
{
	cli_fail("%s the hub at %s: gave up after %u s (--timeout)%s", what,
		 run->socket, run->timeout_s, run->wait_hint);
}

static int hub_connect(const struct run *run, int64_t deadline, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int left = remaining_ms(deadline);
	struct timeval tv = { .tv_sec = left / 1000,
			      .tv_usec = (left % 1000) * 1000 };
	size_t len = strlen(run->socket);
	int fd;

	*fd_out = -1;
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		cli_fail("hub socket path '%s' is empty or longer than %zu "
			 "bytes", run->socket, sizeof(sa.sun_path) - 1);
		return CLI_HUB;
	}
	memcpy(sa.sun_path, run->socket, len + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		cli_fail_errno(errno, "socket");
		return CLI_HUB;
	}
	/* connect() waits on a full accept backlog: bound it like the rest */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			timed_out(run, "connecting to");
		else
			unreachable(run, errno);
		close(fd);
		return CLI_HUB;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*fd_out = fd;
	return CLI_OK;
}

/* Waits for fd to be ready for events until the deadline. 1 ready, 0 timed
 * out, -1 error (errno; EINTR after SIGINT in --follow). */
static int wait_fd(int64_t deadline, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		if (cli_interrupted()) {
			errno = EINTR;
			return -1;
		}
		n = poll(&p, 1, remaining_ms(deadline));
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Sends all of data. 0, or the errno that stopped it (ETIMEDOUT). */
static int send_all(int64_t deadline, int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			int w = wait_fd(deadline, fd, POLLOUT);

			if (w == 0)
				return ETIMEDOUT;
			if (w < 0)
				return errno;
		} else {
			return n < 0 ? errno : EPIPE;
		}
	}
	return 0;
}

/* Reads one response line into a new object; what came after the line
 * goes into rest (NULL: nobody wants it). */
static int recv_response(const struct run *run, int64_t deadline, int fd,
			 json_t **out, struct ch_buf *rest)
{
	struct ch_buf in;
	char chunk[65536];
	size_t scanned = 0;
	const char *nl = NULL;
	json_error_t jerr;
	int r = CLI_HUB;

	*out = NULL;
	ch_buf_init(&in, CH_CLI_MAX_RESPONSE);
	while (nl == NULL) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n > 0) {
			if (ch_buf_put(&in, chunk, (size_t)n) != CH_OK) {
				cli_fail("the hub's response is larger than "
					 "%u MiB", CH_CLI_MAX_RESPONSE >> 20);
				goto out;
			}
			nl = memchr(ch_buf_ptr(&in) + scanned, '\n',
				    ch_buf_len(&in) - scanned);
			scanned = ch_buf_len(&in);
		} else if (n == 0 || errno == ECONNRESET) {
			cli_fail("the hub at %s closed the connection %s",
				 run->socket, ch_buf_len(&in) ? "in the "
				 "middle of its response" : "without "
				 "answering");
			goto out;
		} else if (errno == EAGAIN) {
			int w = wait_fd(deadline, fd, POLLIN);

			if (w == 0 && run->wait_job) {
				r = CLI_STILL_WAITING;	/* the caller says */
				goto out;
			}
			if (w == 0) {
				timed_out(run, "waiting for");
				goto out;
			}
			if (w < 0) {
				cli_fail_errno(errno, "poll");
				goto out;
			}
		} else if (errno != EINTR) {
			cli_fail_errno(errno, "reading from the hub");
			goto out;
		}
	}
	*out = json_loadb(ch_buf_ptr(&in), (size_t)(nl - ch_buf_ptr(&in)), 0,
			  &jerr);
	if (*out == NULL) {
		cli_fail("the hub sent malformed JSON: %s", jerr.text);
		goto out;
	}
	if (!json_is_object(*out) ||
	    !json_is_boolean(json_object_get(*out, "ok"))) {
		cli_fail("the hub's response has no boolean \"ok\"");
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	r = CLI_OK;
	if (rest && ch_buf_put(rest, nl + 1, (size_t)(ch_buf_ptr(&in) +
			       ch_buf_len(&in) - (nl + 1))) != CH_OK) {
		cli_fail("out of memory");
		json_decref(*out);
		*out = NULL;
		r = CLI_HUB;
	}
out:
	ch_buf_cleanup(&in);
	return r;
}

/* One request and its response line on a new connection; *fd stays open
 * when fd_out is not NULL. */
static int exchange(const struct run *run, json_t **resp, int *fd_out,
		    struct ch_buf *rest)
{
	int64_t deadline = now_ms() + (int64_t)run->timeout_s * 1000;
	char *line = NULL;
	int fd = -1, r, err;

	*resp = NULL;
	if (fd_out)
		*fd_out = -1;
	if ((r = hub_connect(run, deadline, &fd)) != CLI_OK)
		return r;
	if ((line = json_dumps(run->req, JSON_COMPACT)) == NULL) {
		cli_fail("out of memory");
		r = CLI_HUB;
		goto out;
	}
	err = send_all(deadline, fd, line, strlen(line));
	if (err == 0)
		err = send_all(deadline, fd, "\n", 1);
	if (err == ETIMEDOUT) {
		timed_out(run, "sending to");
		r = CLI_HUB;
		goto out;
	}
	/* On EPIPE the hub may still have said why (e.g. too many clients):
	 * a response, if any, explains better than the errno. */
	r = recv_response(run, deadline, fd, resp, rest);
	if (r != CLI_OK && err != 0)
		cli_fail_errno(err, "sending to the hub");
	if (r == CLI_OK && fd_out) {
		*fd_out = fd;
		fd = -1;
	}
out:
	free(line);
	if (fd >= 0)
		close(fd);
	return r;
}

int conn_exchange(const struct run *run, json_t **resp)
{
	return exchange(run, resp, NULL, NULL);
}

int conn_open_stream(const struct run *run, json_t **resp, int *fd,
		     struct ch_buf *rest)
{
	return exchange(run, resp, fd, rest);
}
