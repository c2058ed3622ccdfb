/* hub.c - the hub's listeners, device admission and operator commands. */
#include "hub/hub.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/msg.h"

#define ACCEPT_PAUSE_MS 1000	/* after EMFILE: let connections drain */

struct listener {
	struct hub *hub;
	uv_poll_t poll;
	uv_timer_t pause;
	int fd;
	char addr[CH_ADDRSTR_LEN];
	uint64_t refused;	/* over the handshake cap, for the log */
	struct listener *next;
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- admission and registry ---- */

struct device *hub_find_device(struct hub *hub, const char *fp)
{
	for (struct device *d = hub->devices; d; d = device_next(d))
		if (device_is_ready(d) && strcmp(device_fingerprint(d), fp) == 0)
			return d;
	return NULL;
}

static void event(struct hub *hub, const char *fp, const char *kind,
		  const char *detail)
{
	ch_store_event_add(hub->store, fp, kind, detail, now_s());
}

int hub_admit(struct hub *hub, struct device *d, const char *fp,
	      const char **why)
{
	struct ch_device_rec rec;
	char detail[256];
	int r;

	*why = NULL;
	r = ch_store_device_get(hub->store, fp, &rec);
	if (r == CH_ERR_NOTFOUND) {
		r = ch_store_device_add(hub->store, fp, NULL,
					hub->cfg.accept_new ? CH_ADMIT_ADMITTED
							    : CH_ADMIT_PENDING);
		if (r == CH_OK && hub->cfg.accept_new)
			event(hub, fp, "enrolled",
			      "admitted at first call (--accept-new)");
		rec.admission = hub->cfg.accept_new ? CH_ADMIT_ADMITTED
						    : CH_ADMIT_PENDING;
	}
	if (r != CH_OK) {
		*why = "registry unavailable";
		return CH_ERR_DENIED;
	}
	ch_store_device_seen(hub->store, fp, device_peer(d), now_s());
	snprintf(detail, sizeof(detail), "from %s", device_peer(d));
	event(hub, fp, "called", detail);

	if (rec.admission == CH_ADMIT_PENDING && hub->cfg.accept_new) {
		ch_store_device_set_admission(hub->store, fp, CH_ADMIT_ADMITTED);
		event(hub, fp, "enrolled", "admitted (--accept-new)");
		rec.admission = CH_ADMIT_ADMITTED;
	}
	if (rec.admission == CH_ADMIT_PENDING) {
		*why = "unknown device: recorded as pending, not admitted "
		       "(run the hub with --accept-new to admit new devices)";
		event(hub, fp, "refused", "not admitted (pending)");
		return CH_ERR_DENIED;
	}
	if (rec.admission == CH_ADMIT_REVOKED) {
		*why = "device identity revoked";
		event(hub, fp, "refused", "identity revoked");
		return CH_ERR_DENIED;
	}
	/* The same identity twice: the newer connection wins; the older one
	 * is most likely half-open (the device rebooted or changed
	 * address). */
	for (struct device *o = hub->devices; o; o = device_next(o)) {
		if (o == d || strcmp(device_fingerprint(o), fp) != 0 ||
		    !device_is_authenticated(o))
			continue;
		snprintf(detail, sizeof(detail), "conn=%u from %s replaced by "
			 "conn=%u from %s", device_conn_id(o), device_peer(o),
			 device_conn_id(d), device_peer(d));
		event(hub, fp, "replaced", detail);
		device_close(o, "replaced by a newer connection of the same "
			     "device");
		break;	/* device_close unlinked it: the list changed */
	}
	return CH_OK;
}

void hub_device_ready(struct hub *hub, struct device *d, size_t ncaps)
{
	const char *fp = device_fingerprint(d);

	ch_store_device_connected(hub->store, fp, 1, (int)ncaps, NULL,
				  now_s());
	event(hub, fp, "connected", device_peer(d));
}

void hub_device_gone(struct hub *hub, struct device *d)
{
	const char *fp = device_fingerprint(d);

	if (!device_was_ready(d))
		return;	/* never counted as connected */
	if (hub_find_device(hub, fp) == NULL)	/* no newer session is up */
		ch_store_device_connected(hub->store, fp, 0, 0,
					  device_close_reason(d), now_s());
	event(hub, fp, "disconnected", device_close_reason(d));
}

/* ---- listeners ---- */

static void on_acceptable(uv_poll_t *p, int status, int events);

static void on_pause_over(uv_timer_t *t)
{
	struct listener *l = t->data;

	if (!l->hub->stopping)
		uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

static void on_acceptable(uv_poll_t *p, int status, int events)
{
	struct listener *l = p->data;
	struct hub *hub = l->hub;

	(void)status;
	(void)events;
	for (int i = 0; i < HUB_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[CH_ADDRSTR_LEN];
		int one = 1, fd;

		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				ch_warn("listener %s: cannot accept: %s; "
					"pausing %d ms", l->addr,
					strerror(errno), ACCEPT_PAUSE_MS);
				uv_poll_stop(&l->poll);
				uv_timer_start(&l->pause, on_pause_over,
					       ACCEPT_PAUSE_MS, 0);
			}
			return;	/* EAGAIN, or a connection that died */
		}
		ch_sockaddr_str((struct sockaddr *)&ss, peer, sizeof(peer));
		if (hub->handshakes >= HUB_MAX_HANDSHAKES) {
			/* Cheap refusal before any crypto (RFC 8071 5: DoS
			 * through expensive handshakes). */
			if (l->refused++ % 1000 == 0)
				ch_warn("listener %s: %zu handshakes in "
					"progress, refusing %s (%llu refused)",
					l->addr, hub->handshakes, peer,
					(unsigned long long)l->refused);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		device_start(hub, fd, peer);
	}
}

static int listen_on(struct hub *hub, const struct sockaddr *sa,
		     socklen_t salen)
{
	struct listener *l;
	char addr[CH_ADDRSTR_LEN];
	int one = 1, fd;

	ch_sockaddr_str(sa, addr, sizeof(addr));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		ch_error("listen %s: socket: %s", addr, strerror(errno));
		return CH_ERR_IO;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* IPv6 sockets take IPv6 only, so [::] and 0.0.0.0 can coexist. */
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, salen) != 0 || listen(fd, HUB_LISTEN_BACKLOG) != 0) {
		ch_error("listen %s: %s", addr, strerror(errno));
		close(fd);
		return CH_ERR_IO;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	l->hub = hub;
	l->fd = fd;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	uv_poll_init(hub->loop, &l->poll, fd);
	uv_timer_init(hub->loop, &l->pause);
	l->poll.data = l->pause.data = l;
	uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
	l->next = hub->listeners;
	hub->listeners = l;
	ch_info("listening for call-home connections on %s", addr);
	return CH_OK;
}

static int listen_endpoint(struct hub *hub, const struct hub_listen *ep)
{
	struct addrinfo hints, *res, *ai;
	char port[8];
	int r, bound = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", ep->port);
	if ((r = getaddrinfo(ep->host, port, &hints, &res)) != 0) {
		ch_error("listen %s port %s: %s", ep->host ? ep->host : "*",
			 port, gai_strerror(r));
		return CH_ERR_INVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (listen_on(hub, ai->ai_addr, ai->ai_addrlen) == CH_OK)
			bound++;
	}
	freeaddrinfo(res);
	return bound ? CH_OK : CH_ERR_IO;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct listener *l = h->data;

	if (h == (uv_handle_t *)&l->pause)
		free(l);
}

/* ---- operator commands ---- */

struct rpc_call {
	struct hub_ctl_req *req;
	char fp[CH_FP_LEN];
};

static void rpc_done(void *ctx, int r, const char *reply, size_t len,
		     const char *error)
{
	struct rpc_call *call = ctx;
	struct ch_reply rep;
	json_t *resp, *text;

	if (r != CH_OK) {
		hub_ctl_fail(call->req, "device-gone", error ? error :
			     "the device went away before replying");
		free(call);
		return;
	}
	if ((text = json_stringn(reply, len)) == NULL) {
		hub_ctl_fail(call->req, "bad-reply",
			     "the device's reply is not valid UTF-8");
		free(call);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	ch_reply_parse(reply, len, &rep);
	resp = json_pack("{s:b, s:s, s:o, s:b}", "ok", 1, "device", call->fp,
			 "reply", text, "rpc_error", rep.has_error);
	if (rep.has_error && rep.error_tag)
		json_object_set_new(resp, "error_tag",
				    json_string(rep.error_tag));
	ch_reply_cleanup(&rep);
	hub_ctl_respond(call->req, resp);
	free(call);
}

/* Finds the live device an operator named. Fails the request if none. */
static struct device *ctl_device(struct hub *hub, struct hub_ctl_req *req,
				 json_t *args, char *fp)
{
	const char *q = json_string_value(json_object_get(args, "device"));
	struct ch_device_rec rec;
	struct device *d;
	char msg[512];
	int r;

	if (q == NULL || *q == '\0') {
		hub_ctl_fail(req, "bad-request", "\"device\" (a name or a "
			     "fingerprint) is required");
		return NULL;
	}
	r = ch_store_device_resolve(hub->store, q, fp);
	if (r == CH_ERR_AMBIGUOUS) {
		snprintf(msg, sizeof(msg), "'%s' matches several devices: give "
			 "more of the fingerprint", q);
		hub_ctl_fail(req, "ambiguous", msg);
		return NULL;
	}
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "no device named '%s' or with that "
			 "fingerprint", q);
		hub_ctl_fail(req, "not-found", msg);
		return NULL;
	}
	if ((d = hub_find_device(hub, fp)) == NULL) {
		if (ch_store_device_get(hub->store, fp, &rec) == CH_OK &&
		    rec.admission != CH_ADMIT_ADMITTED)
			snprintf(msg, sizeof(msg), "device %s is %s, not "
				 "admitted", fp,
				 ch_admission_name(rec.admission));
		else
			snprintf(msg, sizeof(msg), "device %s is not connected",
				 fp);
		hub_ctl_fail(req, "not-connected", msg);
		return NULL;
	}
	return d;
}

static void ctl_rpc(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		    const char *op_xml)
{
	struct rpc_call *call;
	struct device *d;
	const char *why = NULL;
	char fp[CH_FP_LEN];
	int r;

	if ((d = ctl_device(hub, req, args, fp)) == NULL)
		return;
	if ((call = calloc(1, sizeof(*call))) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	call->req = req;
	snprintf(call->fp, sizeof(call->fp), "%s", fp);
	if ((r = device_rpc(d, op_xml, rpc_done, call, &why)) != CH_OK) {
		hub_ctl_fail(req, r == CH_ERR_PROTO ? "bad-xml" : "rpc-failed",
			     why ? why : ch_strerror(r));
		free(call);
	}
}

static int device_json(void *ctx, const struct ch_device_rec *rec)
{
	json_t *arr = ctx;
	char since[32] = "", seen[32] = "";
	struct tm tm;
	time_t t;

	if (rec->connected_since) {
		t = (time_t)rec->connected_since;
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&t, &tm));
	}
	if (rec->last_seen) {
		t = (time_t)rec->last_seen;
		strftime(seen, sizeof(seen), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&t, &tm));
	}
	json_array_append_new(arr, json_pack(
		"{s:s, s:o, s:s, s:s, s:s, s:o, s:o, s:i, s:s}",
		"fingerprint", rec->fingerprint,
		"name", rec->name[0] ? json_string(rec->name) : json_null(),
		"admission", ch_admission_name(rec->admission),
		"state", rec->connected ? "connected" : "disconnected",
		"address", rec->address,
		"connected_since", since[0] ? json_string(since) : json_null(),
		"last_seen", seen[0] ? json_string(seen) : json_null(),
		"capabilities", rec->capabilities,
		"last_error", rec->last_error));
	return 0;
}

static void ctl_handle(void *ctx, struct hub_ctl_req *req, const char *cmd,
		       json_t *args)
{
	struct hub *hub = ctx;

	if (strcmp(cmd, "devices") == 0) {
		json_t *arr = json_array();

		if (ch_store_device_foreach(hub->store, device_json, arr) != 0) {
			json_decref(arr);
			hub_ctl_fail(req, "internal", "registry unavailable");
			return;
		}
		hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1,
					       "devices", arr));
	} else if (strcmp(cmd, "get-config") == 0) {
		const char *src = json_string_value(json_object_get(args,
								   "source"));
		char op[128];

		if (src == NULL)
			src = "running";
		if (strcmp(src, "running") != 0 &&
		    strcmp(src, "candidate") != 0 &&
		    strcmp(src, "startup") != 0) {
			hub_ctl_fail(req, "bad-request", "\"source\" must be "
				     "running, candidate or startup");
			return;
		}
		snprintf(op, sizeof(op), "<get-config><source><%s/></source>"
			 "</get-config>", src);
		ctl_rpc(hub, req, args, op);
	} else if (strcmp(cmd, "rpc") == 0) {
		const char *xml = json_string_value(json_object_get(args, "xml"));

		if (xml == NULL || *xml == '\0') {
			hub_ctl_fail(req, "bad-request",
				     "\"xml\" (the operation) is required");
			return;
		}
		ctl_rpc(hub, req, args, xml);
	} else {
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown command '%.100s'", cmd);
		hub_ctl_fail(req, "unknown-command", msg);
	}
}

static struct hub_ctl_ops ctl_ops = {
	.handle = ctl_handle,
};

/* ---- start and stop ---- */

int hub_start(struct hub *hub)
{
	char path[4096];
	int r;

	for (size_t i = 0; i < hub->cfg.nlisten; i++)
		if ((r = listen_endpoint(hub, &hub->cfg.listen[i])) != CH_OK)
			return r;
	snprintf(path, sizeof(path), "%s/hub.sock", hub->cfg.state_dir);
	ctl_ops.ctx = hub;
	if ((r = hub_ctl_start(hub->loop, path, &ctl_ops, &hub->ctl)) != CH_OK) {
		ch_error("control socket %s: %s", path, r == CH_ERR_EXISTS
			 ? "another hub is running on this state directory"
			 : ch_strerror(r));
		return r;
	}
	return CH_OK;
}

void hub_stop(struct hub *hub)
{
	struct listener *l;

	if (hub->stopping)
		return;
	hub->stopping = 1;
	while ((l = hub->listeners) != NULL) {
		hub->listeners = l->next;
		uv_close((uv_handle_t *)&l->poll, NULL);
		close(l->fd);	/* uv_poll does not own it */
		uv_close((uv_handle_t *)&l->pause, on_listener_closed);
	}
	while (hub->devices)
		device_close(hub->devices, "hub shutting down");
	if (hub->ctl) {
		hub_ctl_stop(hub->ctl);
		hub->ctl = NULL;
	}
}
