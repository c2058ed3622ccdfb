/* worker.c - a worker's side of the supervisor's channel (worker.h). */
#include "hub/worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub/hub.h"
#include "hub/wlink.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

/* The request bytes of the next control connection, when they did not
 * fit a message: a memory file sent just before it (supervisor.c). */
static int pending_memfd = -1;

/* The bytes of memfd (closed), in *out (malloc'd). */
static int read_memfd(int memfd, char **out, size_t *len)
{
	struct stat st;
	char *p = NULL;
	int r = CH_ERR_IO;

	*out = NULL;
	*len = 0;
	if (fstat(memfd, &st) != 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > CH_CTL_MAX_REQUEST + 2 * CH_CTL_READ_CHUNK)
		goto out;
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	if (pread(memfd, p, (size_t)st.st_size, 0) != st.st_size) {
		free(p);
		goto out;
	}
	*out = p;
	*len = (size_t)st.st_size;
	r = CH_OK;
out:
	close(memfd);
	return r;
}

static void on_control(struct hub *hub, const char *payload, size_t len,
		       int fd)
{
	char *big = NULL;
	size_t blen = 0;

	if (fd < 0) {
		ch_error("worker %d: a control connection came without its "
			 "socket", hub->worker);
		return;
	}
	if (pending_memfd >= 0) {
		int m = pending_memfd;

		pending_memfd = -1;
		if (read_memfd(m, &big, &blen) != CH_OK) {
			ch_error("worker %d: cannot read a routed request",
				 hub->worker);
			close(fd);
			return;
		}
		payload = big;
		len = blen;
	}
	hub->wops->control(hub, fd, payload, len);
	free(big);
}

/* "ID WHAT ARGS": the answer "ID JSON" (null: nothing to say). */
static void on_query(struct hub *hub, struct wlink *l, const char *payload)
{
	char what[32];
	unsigned long long id;
	int off = 0;
	json_t *args = NULL, *ans = NULL;
	char *text = NULL;

	if (sscanf(payload, "%llu %31s %n", &id, what, &off) < 2 || off == 0)
		return;
	args = json_loads(payload + off, 0, NULL);
	if (json_is_object(args))
		ans = hub->wops->query(hub, what, args);
	text = json_dumps(ans ? ans : json_null(),
			  JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL ||
	    wlink_sendf(l, WLINK_ANSWER, "%llu %s", id, text) == CH_ERR_LIMIT) {
		ch_warn("worker %d: the answer to '%s' is over %u bytes; "
			"left out", hub->worker, what, CH_HUB_WLINK_MSG_MAX);
		wlink_sendf(l, WLINK_ANSWER, "%llu null", id);
	}
	free(text);
	json_decref(ans);
	json_decref(args);
}

static void on_message(void *ctx, struct wlink *l, int type,
		       const char *payload, size_t len, int fd)
{
	struct hub *hub = ctx;
	long long id;

	switch (type) {
	case WLINK_BIG:	/* the next control connection's bytes */
		if (pending_memfd >= 0)
			close(pending_memfd);
		pending_memfd = fd;
		return;
	case WLINK_CONTROL:
		on_control(hub, payload, len, fd);
		return;
	case WLINK_KICK:
		hub->wops->kick(hub, payload);
		break;
	case WLINK_JOB:
		if (sscanf(payload, "%lld", &id) == 1)
			hub->wops->job(hub, (int64_t)id);
		break;
	case WLINK_DROP:
		hub->wops->drop(hub, payload);
		break;
	case WLINK_QUERY:
		on_query(hub, l, payload);
		break;
	case WLINK_FAILED:
	case WLINK_ADMITTED:
		if (len >= sizeof(sa_family_t) &&
		    len <= sizeof(struct sockaddr_storage)) {
			struct sockaddr_storage ss;

			memset(&ss, 0, sizeof(ss));
			memcpy(&ss, payload, len);
			hub->wops->source(hub, (struct sockaddr *)&ss,
					  type == WLINK_ADMITTED);
		}
		break;
	default:
		ch_debug("worker %d: message '%c' ignored", hub->worker, type);
	}
	if (fd >= 0)
		close(fd);
}

/* The supervisor is gone (it crashed: a stop would have come as
 * SIGTERM first): nobody routes operators here or restarts us. The
 * kernel's SIGKILL is on its way (PR_SET_PDEATHSIG); end as it would,
 * at once, so that a crash of the hub means the same whatever process
 * it was, and the next start recovers it alike. */
static void on_closed(void *ctx, struct wlink *l)
{
	struct hub *hub = ctx;

	(void)l;
	hub->wlink = NULL;
	if (hub->stopping)
		return;
	ch_error("worker %d: the supervisor is gone; exiting", hub->worker);
	_exit(1);
}

static struct wlink_ops link_ops = {
	.message = on_message,
	.closed = on_closed,
};

int worker_start(struct hub *hub, int fd, const struct worker_ops *ops)
{
	hub->wops = ops;
	link_ops.ctx = hub;
	if ((hub->wlink = wlink_open(hub->loop, fd, &link_ops)) == NULL)
		return CH_ERR_NOMEM;
	return CH_OK;
}

void worker_ready(struct hub *hub)
{
	wlink_sendf(hub->wlink, WLINK_READY, "%ld", (long)getpid());
}

void worker_device_up(struct hub *hub, const char *fp)
{
	wlink_sendf(hub->wlink, WLINK_UP, "%s", fp);
}

void worker_device_gone(struct hub *hub, const char *fp)
{
	wlink_sendf(hub->wlink, WLINK_GONE, "%s", fp);
}

void worker_kick(struct hub *hub, const char *fp)
{
	wlink_sendf(hub->wlink, WLINK_KICK, "%s", fp);
}

void worker_job(struct hub *hub, int64_t id)
{
	wlink_sendf(hub->wlink, WLINK_JOB, "%" PRId64, id);
}

void worker_source(struct hub *hub, const struct sockaddr *sa, int ok)
{
	size_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
		     sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		     0;

	if (len)
		wlink_send(hub->wlink, ok ? WLINK_ADMITTED : WLINK_FAILED,
			   (const char *)sa, len, -1);
}

void worker_stop(struct hub *hub)
{
	wlink_close(hub->wlink);
	hub->wlink = NULL;
	if (pending_memfd >= 0) {
		close(pending_memfd);
		pending_memfd = -1;
	}
}
