/* junos.c - Junos outbound-ssh at the hub's door (junos.h). */
#include "hub/junos.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/core/limits.h"
#include "lib/core/log.h"
#include "lib/id/junos.h"
#include "lib/id/sshkey.h"
#include "lib/net/hostport.h"

#define DETAIL_MAX 512		/* B, a refusal's text */
#define PEEK_MAX (CH_JUNOS_PREAMBLE_MAX + 16) /* B, one look at the socket */

struct jcall {
	struct junos_door *door;
	uv_poll_t poll;
	uv_timer_t deadline;
	uv_timer_t retry;		/* a line began with part of "SSH-" */
	int fd;
	int handles;			/* still open */
	char peer[CH_ADDRSTR_LEN];
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} addr;
	struct ch_junos_scan sc;
	struct jcall *prev, *next;
};

struct junos_door {
	const struct junos_config *cfg;
	const struct junos_ops *ops;
	struct jcall *calls;
	size_t closing;			/* calls whose handles are closing */
	int closed;
};

static void maybe_free_door(struct junos_door *j)
{
	if (j->closed && j->calls == NULL && j->closing == 0)
		free(j);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct jcall *c = h->data;
	struct junos_door *j = c->door;

	if (--c->handles > 0)
		return;
	free(c);
	j->closing--;
	maybe_free_door(j);
}

/* Unlinks c and closes its handles; the fd is closed too unless keep. */
static void finish(struct jcall *c, int keep_fd)
{
	struct junos_door *j = c->door;

	if (c->prev)
		c->prev->next = c->next;
	else
		j->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	j->closing++;
	c->handles = 3;
	/* uv_close detaches the fd from the loop at once: the transport
	 * may poll it next */
	uv_close((uv_handle_t *)&c->poll, on_handle_closed);
	uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
	uv_close((uv_handle_t *)&c->retry, on_handle_closed);
	if (!keep_fd)
		close(c->fd);
}

static void refuse(struct jcall *c, const char *device_id, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static void refuse(struct jcall *c, const char *device_id, const char *fmt,
		   ...)
{
	struct junos_door *j = c->door;
	char why[DETAIL_MAX / 2], detail[DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(detail, sizeof(detail), "Junos outbound-ssh from %s%s%s: %s",
		 c->peer, device_id ? ", DEVICE-ID " : "",
		 device_id ? device_id : "", why);
	ch_log_rl(CH_LOG_WARN, "refused: %s", detail);
	finish(c, 0);
	j->ops->refused(j->ops->ctx, c->peer, &c->addr.sa, detail);
}

/* The secrets file, read now (an edit applies to the next call); it must
 * be its owner's alone. CH_OK with *text (free it), CH_ERR_NOTFOUND when
 * no file is configured, else an error logged with the path. */
static int read_secrets(const char *path, char **text, size_t *len)
{
	struct stat st;
	int r;

	*text = NULL;
	*len = 0;
	if (path == NULL)
		return CH_ERR_NOTFOUND;
	if (stat(path, &st) != 0) {
		ch_log_errno(CH_LOG_ERROR, "--junos-secrets %s", path);
		return CH_ERR_IO;
	}
	if (st.st_mode & 077) {
		ch_error("--junos-secrets %s: readable or writable by others "
			 "(mode %03o): chmod 600 it", path,
			 (unsigned)(st.st_mode & 0777));
		return CH_ERR_DENIED;
	}
	r = ch_file_read(path, CH_JUNOS_SECRETS_MAX, text, len);
	if (r == CH_ERR_LIMIT)
		ch_error("--junos-secrets %s: larger than %u bytes", path,
			 CH_JUNOS_SECRETS_MAX);
	else if (r == CH_ERR_NOTFOUND)
		ch_error("--junos-secrets %s: no such file", path);
	return r == CH_ERR_NOTFOUND ? CH_ERR_IO : r;
}

/* The preamble is in c->sc and the banner is next: decide. */
static void decide(struct jcall *c)
{
	struct junos_door *j = c->door;
	struct junos_result res = { 0 };
	struct ch_junos_info info;
	const char *why, *secret = NULL;
	char *secrets = NULL, fp[CH_FP_LEN];
	size_t slen = 0, flen;
	int r, fd = c->fd;

	if (c->sc.len == 0) {		/* a plain SSH call home */
		finish(c, 1);
		j->ops->ready(j->ops->ctx, fd, c->peer, &c->addr.sa, &res);
		return;
	}
	if (ch_junos_parse(c->sc.text, c->sc.len, &info, &why) != CH_OK) {
		refuse(c, NULL, "%s", why);
		return;
	}
	r = read_secrets(j->cfg->secrets, &secrets, &flen);
	if (r == CH_OK)
		r = ch_junos_secret_find(secrets, flen, info.device_id,
					 &secret, &slen);
	if (r != CH_OK && r != CH_ERR_NOTFOUND) {
		refuse(c, info.device_id, "the secrets file is unusable "
		       "(see the hub's log)");
		goto out;
	}
	if (secret != NULL && slen == 0) {
		refuse(c, info.device_id, "its secret in --junos-secrets is "
		       "empty");
		goto out;
	}
	if (secret != NULL && info.hmac == NULL) {
		refuse(c, info.device_id, "no HOST-KEY and HMAC, but a secret "
		       "is configured for it");
		goto out;
	}
	if (secret == NULL && !j->cfg->allow_unsigned) {
		refuse(c, info.device_id, "no secret for this DEVICE-ID in "
		       "--junos-secrets (unsigned preambles need "
		       "--junos-allow-unsigned)");
		goto out;
	}
	if (secret != NULL && ch_junos_hmac_verify(info.host_key, info.hmac,
						    secret, slen) != CH_OK) {
		refuse(c, info.device_id, "bad HMAC: HOST-KEY was not signed "
		       "with this DEVICE-ID's secret");
		goto out;
	}
	if (info.host_key &&
	    ch_junos_host_key_fp(info.host_key, fp, sizeof(fp)) != CH_OK) {
		refuse(c, info.device_id, "HOST-KEY is not an SSH public key");
		goto out;
	}
	res.device_id = info.device_id;
	res.expect_fp = info.host_key ? fp : NULL;
	res.verified = secret != NULL;
	if (secret)
		ch_info("Junos outbound-ssh from %s: DEVICE-ID %s, HMAC "
			"verified, HOST-KEY %s", c->peer, info.device_id, fp);
	else
		ch_log_rl(CH_LOG_WARN, "Junos outbound-ssh from %s: DEVICE-ID "
			  "%s is UNAUTHENTICATED (no secret; "
			  "--junos-allow-unsigned)%s%s", c->peer,
			  info.device_id, info.host_key ? ", HOST-KEY " : "",
			  info.host_key ? fp : "");
	finish(c, 1);
	/* res points into c->sc, freed only from the loop */
	j->ops->ready(j->ops->ctx, fd, c->peer, &c->addr.sa, &res);
out:
	free(secrets);
}

static void on_readable(uv_poll_t *p, int status, int events);

static void on_retry(uv_timer_t *t)
{
	struct jcall *c = t->data;

	uv_poll_start(&c->poll, UV_READABLE, on_readable);
}

static void on_deadline(uv_timer_t *t)
{
	struct jcall *c = t->data;

	refuse(c, NULL, "no SSH banner within %u ms (%zu preamble bytes "
	       "read)", c->door->cfg->timeout_ms, c->sc.len);
}

/* Peeks at what the socket holds, consumes what is preamble, and stops
 * at the banner, never past it. */
static void on_readable(uv_poll_t *p, int status, int events)
{
	struct jcall *c = p->data;
	char buf[PEEK_MAX], sink[PEEK_MAX];
	size_t take;
	ssize_t n;
	int step;

	(void)events;
	if (status < 0) {
		refuse(c, NULL, "socket error before the SSH banner: %s",
		       uv_strerror(status));
		return;
	}
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_PEEK);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			      errno == EINTR))
			return;
		if (n <= 0) {
			refuse(c, NULL, "%s before its SSH banner (%zu preamble "
			       "bytes read)", n == 0 ? "closed" :
			       strerror(errno), c->sc.len);
			return;
		}
		step = ch_junos_scan(&c->sc, buf, (size_t)n, &take);
		if (step == CH_ERR_LIMIT) {
			refuse(c, NULL, "preamble longer than %u bytes",
			       CH_JUNOS_PREAMBLE_MAX);
			return;
		}
		/* exactly what was taken: the kernel holds at least that */
		if (take > 0 && recv(c->fd, sink, take, 0) != (ssize_t)take) {
			refuse(c, NULL, "read failed before the SSH banner");
			return;
		}
		if (step == CH_JUNOS_BANNER) {
			decide(c);
			return;
		}
		if (step == CH_JUNOS_PARTIAL) {
			/* the poll would fire at once while those bytes wait */
			uv_poll_stop(&c->poll);
			uv_timer_start(&c->retry, on_retry,
				       CH_JUNOS_PEEK_RETRY_MS, 0);
			return;
		}
	}
}

int junos_door_new(const struct junos_config *cfg, const struct junos_ops *ops,
		   struct junos_door **out)
{
	struct junos_door *j;
	char *text = NULL;
	size_t len;

	*out = NULL;
	if (cfg->secrets) {
		if (read_secrets(cfg->secrets, &text, &len) != CH_OK)
			return CH_ERR_INVAL;
		free(text);
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return CH_ERR_NOMEM;
	j->cfg = cfg;
	j->ops = ops;
	ch_info("Junos outbound-ssh: preambles read on the SSH listeners "
		"(secrets %s%s)", cfg->secrets ? cfg->secrets : "none",
		cfg->allow_unsigned ? "; unsigned ones accepted" : "");
	*out = j;
	return CH_OK;
}

int junos_door_read(struct junos_door *j, int fd, const char *peer,
		    const struct sockaddr *sa)
{
	struct jcall *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		ch_log_rl(CH_LOG_WARN, "%s: out of memory, refused", peer);
		close(fd);
		return CH_ERR_NOMEM;
	}
	if (uv_poll_init(j->cfg->loop, &c->poll, fd) != 0) {
		ch_log_rl(CH_LOG_WARN, "%s: cannot watch the socket, refused",
			  peer);
		free(c);
		close(fd);
		return CH_ERR_IO;
	}
	c->door = j;
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	memcpy(&c->addr, sa, sa->sa_family == AF_INET6
	       ? sizeof(c->addr.sin6) : sizeof(c->addr.sin));
	ch_junos_scan_init(&c->sc);
	uv_timer_init(j->cfg->loop, &c->deadline);
	uv_timer_init(j->cfg->loop, &c->retry);
	c->poll.data = c->deadline.data = c->retry.data = c;
	c->next = j->calls;
	if (j->calls)
		j->calls->prev = c;
	j->calls = c;
	uv_poll_start(&c->poll, UV_READABLE, on_readable);
	uv_timer_start(&c->deadline, on_deadline, j->cfg->timeout_ms, 0);
	return CH_OK;
}

void junos_door_close(struct junos_door *j)
{
	if (j == NULL)
		return;
	j->closed = 1;
	while (j->calls)
		finish(j->calls, 0);
	maybe_free_door(j);
}
