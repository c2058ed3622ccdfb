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

#include "hub/blocklist.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/id/identity.h"
#include "lib/nc/msg.h"

#define ACCEPT_PAUSE_MS 1000	/* after EMFILE: let connections drain */

struct listener {
	struct hub *hub;
	int tls;		/* 4335: TLS call home */
	uv_poll_t poll;
	uv_timer_t pause;
	int fd;
	char addr[CH_ADDRSTR_LEN];
	uint64_t refused;	/* refused at accept, for the log */
	int handles;		/* still closing */
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
		if (device_is_ready(d) && strcmp(device_key(d), fp) == 0)
			return d;
	return NULL;
}

static void event(struct hub *hub, const char *fp, const char *kind,
		  const char *detail)
{
	ch_store_event_add(hub->store, fp, kind, detail, now_s());
}

void hub_event(struct hub *hub, const char *fp, const char *kind,
	       const char *detail)
{
	event(hub, fp, kind, detail);
}

/* Closes every live connection of the device whose registry key is key
 * (other than keep). Returns how many. */
static int close_sessions(struct hub *hub, const char *key,
			  struct device *keep, const char *why)
{
	int n = 0;
	struct device *d = hub->devices, *next;

	for (; d; d = next) {
		next = device_next(d);
		if (d != keep && device_admitted(d) &&
		    strcmp(device_key(d), key) == 0) {
			device_close(d, why);
			n++;
			next = hub->devices;	/* the list changed */
		}
	}
	return n;
}

/* The registry record for fp; an unknown fp is enrolled by the admission
 * policy first (or refused under known-only). what names the identity in
 * texts ("device", "serial number"). */
static int lookup_or_enroll(struct hub *hub, struct device *d, const char *fp,
			    const char *what, struct ch_device_rec *rec,
			    const char **why)
{
	char detail[256];
	int r;

	r = ch_store_device_get(hub->store, fp, rec);
	if (r == CH_ERR_NOTFOUND) {
		snprintf(detail, sizeof(detail), "unknown %s called from %s",
			 what, device_peer(d));
		if (hub->cfg.admission == HUB_ADMIT_KNOWN_ONLY) {
			event(hub, fp, "refused", detail);
			*why = strcmp(what, "device") == 0
			       ? "unknown device (--admission known-only)"
			       : "unknown serial number or certificate "
				 "(--admission known-only)";
			return CH_ERR_DENIED;
		}
		r = ch_store_device_add(hub->store, fp, NULL,
					hub->cfg.admission == HUB_ADMIT_TRUST_NEW
					? CH_ADMIT_ADMITTED : CH_ADMIT_PENDING);
		if (r == CH_OK && hub->cfg.admission == HUB_ADMIT_TRUST_NEW)
			event(hub, fp, "enrolled",
			      "admitted at first call (--admission trust-new)");
		if (r == CH_OK)
			r = ch_store_device_get(hub->store, fp, rec);
	}
	if (r != CH_OK) {
		*why = "registry unavailable";
		return CH_ERR_DENIED;
	}
	return CH_OK;
}

/* The part of admission common to SSH and TLS, once rec is known. */
static int admit_known(struct hub *hub, struct device *d, const char *fp,
		       struct ch_device_rec *rec, const char **why);

int hub_admit(struct hub *hub, struct device *d, const char *fp,
	      const char **why)
{
	struct ch_device_rec rec;

	*why = NULL;
	if (lookup_or_enroll(hub, d, fp, "device", &rec, why) != CH_OK)
		return CH_ERR_DENIED;
	return admit_known(hub, d, fp, &rec, why);
}

int hub_admit_tls(struct hub *hub, struct device *d, const char *serial_id,
		  const char *cert_id, const char *anchor_id,
		  const char **why)
{
	struct ch_device_rec rec;
	const char *fp = serial_id ? serial_id : cert_id;
	char prev[sizeof(rec.cert_fp)], detail[512];
	int r;

	*why = NULL;
	/* A pinned certificate first: it names one device exactly. */
	if (ch_store_device_get(hub->store, cert_id, &rec) == CH_OK)
		fp = cert_id;
	device_set_presented(d, fp);
	if (lookup_or_enroll(hub, d, fp, serial_id ? "serial number"
			     : "certificate", &rec, why) != CH_OK)
		return CH_ERR_DENIED;
	if ((r = admit_known(hub, d, fp, &rec, why)) != CH_OK)
		return r;
	/* Admitted under an anchor: the device is bound to it. Another
	 * manufacturer's CA may issue the same serial number. */
	if (ch_store_device_anchor(hub->store, rec.fingerprint, anchor_id,
				   prev) == CH_ERR_DENIED) {
		snprintf(detail, sizeof(detail), "%s: its chain leads to "
			 "trust anchor %s, but the device is bound to %s",
			 fp, anchor_id, prev);
		event(hub, fp, "refused", detail);
		device_log(CH_LOG_WARN, d, "refused: %s", detail);
		*why = "certificate chains to another trust anchor than the "
		       "one this device was admitted under";
		return CH_ERR_DENIED;
	}
	/* The chain validated (or we would not be here): a new certificate
	 * for a known serial is a rotation, admitted and recorded. */
	if (ch_store_device_cert_seen(hub->store, rec.fingerprint, cert_id,
				      prev) == CH_OK && prev[0] &&
	    strcmp(prev, cert_id) != 0) {
		snprintf(detail, sizeof(detail), "%s presented a new "
			 "certificate %s (was %s); its chain validated",
			 fp, cert_id, prev);
		event(hub, rec.fingerprint, "cert-rotated", detail);
		device_log(CH_LOG_INFO, d, "certificate rotated: %s (was %s)",
			   cert_id, prev);
	}
	return CH_OK;
}

static int admit_known(struct hub *hub, struct device *d, const char *fp,
		       struct ch_device_rec *prec, const char **why)
{
	struct ch_device_rec rec = *prec;
	char detail[256];

	ch_store_device_seen(hub->store, fp, device_peer(d), now_s());
	snprintf(detail, sizeof(detail), "from %s%s%s", device_peer(d),
		 strcmp(fp, rec.fingerprint) ? " with key " : "",
		 strcmp(fp, rec.fingerprint) ? fp : "");
	event(hub, fp, "called", detail);

	if (rec.admission == CH_ADMIT_PENDING &&
	    hub->cfg.admission == HUB_ADMIT_TRUST_NEW) {
		ch_store_device_set_admission(hub->store, fp, CH_ADMIT_ADMITTED);
		event(hub, fp, "enrolled", "admitted (--admission trust-new)");
		rec.admission = CH_ADMIT_ADMITTED;
	}
	if (rec.admission == CH_ADMIT_PENDING) {
		*why = ch_id_kind(fp) == CH_ID_SERIAL
		       ? "unknown serial number: recorded as pending, not "
			 "admitted (admit it with `callhome approve` or "
			 "`callhome import-serials`)"
		       : "unknown device: recorded as pending, not admitted "
			 "(admit it with `callhome approve`)";
		event(hub, fp, "refused", ch_id_kind(fp) == CH_ID_SERIAL
		      ? "unknown serial number: not admitted (pending "
			"approval)" : "not admitted (pending approval)");
		return CH_ERR_DENIED;
	}
	if (rec.admission == CH_ADMIT_REVOKED) {
		*why = "device identity revoked";
		event(hub, fp, "refused", "identity revoked");
		return CH_ERR_DENIED;
	}
	device_set_key(d, rec.fingerprint);
	device_set_idle_close(d, rec.idle_close >= 0 ? (uint32_t)rec.idle_close
						     : hub->cfg.idle_close_s);
	blocklist_success(hub->blocklist, device_addr(d), now_s());
	/* The same identity twice: the newer connection wins; the older one
	 * is most likely half-open (the device rebooted or moved). */
	for (struct device *o = hub->devices; o; o = device_next(o)) {
		if (o == d || !device_admitted(o) ||
		    strcmp(device_key(o), rec.fingerprint) != 0)
			continue;
		snprintf(detail, sizeof(detail), "conn=%u from %s replaced by "
			 "conn=%u from %s", device_conn_id(o), device_peer(o),
			 device_conn_id(d), device_peer(d));
		event(hub, fp, "replaced", detail);
		device_close(o, "replaced by a newer connection of the same "
			     "device");
		break;	/* device_close unlinked it: the list changed */
	}
	*prec = rec;
	return CH_OK;
}

void hub_device_ready(struct hub *hub, struct device *d, size_t ncaps)
{
	const char *key = device_key(d);

	ch_store_device_connected(hub->store, key, 1, (int)ncaps, NULL,
				  now_s());
	event(hub, key, "connected", device_peer(d));
	jobs_kick(hub, key);	/* what was kept for it runs now */
}

void hub_device_gone(struct hub *hub, struct device *d)
{
	const char *key = device_key(d);

	if (!device_admitted(d)) {
		/* Never identified and admitted: a failure of this address. */
		if (blocklist_failure(hub->blocklist, device_addr(d), now_s()))
			ch_warn("blocking %s for %u s after %u failed "
				"handshakes", device_peer(d),
				hub->cfg.block_for_s, hub->cfg.block_after);
		return;
	}
	if (!device_was_ready(d))
		return;	/* never counted as connected */
	if (hub_find_device(hub, key) == NULL)	/* no newer session is up */
		ch_store_device_connected(hub->store, key, 0, 0,
					  device_close_reason(d), now_s());
	event(hub, key, "disconnected", device_close_reason(d));
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
		if (blocklist_blocked(hub->blocklist, (struct sockaddr *)&ss,
				      now_s())) {
			if (l->refused++ % 1000 == 0)
				ch_info("listener %s: %s is blocked, refused",
					l->addr, peer);
			close(fd);
			continue;
		}
		if (hub->handshakes >= hub->cfg.max_handshakes) {
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
		if (l->tls)
			tlsdev_start(hub, fd, peer, (struct sockaddr *)&ss);
		else
			device_start(hub, fd, peer, (struct sockaddr *)&ss);
	}
}

static int listen_on(struct hub *hub, const struct sockaddr *sa,
		     socklen_t salen, int tls)
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
	l->tls = tls;
	l->fd = fd;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	uv_poll_init(hub->loop, &l->poll, fd);
	uv_timer_init(hub->loop, &l->pause);
	l->poll.data = l->pause.data = l;
	uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
	l->next = hub->listeners;
	hub->listeners = l;
	ch_info("listening for call-home connections over %s on %s",
		tls ? "TLS" : "SSH", addr);
	return CH_OK;
}

static int listen_endpoint(struct hub *hub, const struct hub_listen *ep,
			   int tls)
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
		if (listen_on(hub, ai->ai_addr, ai->ai_addrlen, tls) == CH_OK)
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

/* ---- operator commands (docs/control-api.md) ---- */

static json_t *time_or_null(int64_t t)
{
	char buf[32];
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
	return json_string(buf);
}

static json_t *device_obj(const struct ch_device_rec *rec)
{
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:i, "
			 "s:s, s:o, s:o, s:o}",
		"fingerprint", rec->fingerprint,
		"kind", ch_id_kind_name(rec->kind),
		"name", rec->name[0] ? json_string(rec->name) : json_null(),
		"admission", ch_admission_name(rec->admission),
		"state", rec->connected ? "connected" : "disconnected",
		"address", rec->address,
		"connected_since", time_or_null(rec->connected_since),
		"first_seen", time_or_null(rec->first_seen),
		"last_seen", time_or_null(rec->last_seen),
		"capabilities", rec->capabilities,
		"last_error", rec->last_error,
		"idle_close", rec->idle_close >= 0
			? json_integer(rec->idle_close) : json_null(),
		"certificate", rec->cert_fp[0] ? json_string(rec->cert_fp)
					       : json_null(),
		"trust_anchor", rec->anchor[0] ? json_string(rec->anchor)
					       : json_null());
}

static int device_json(void *ctx, const struct ch_device_rec *rec)
{
	json_array_append_new(ctx, device_obj(rec));
	return 0;
}

static const char *arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

/* Resolves the operator's "device" argument to the registry record.
 * Fails the request and returns non-zero when it cannot. */
static int ctl_device(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		      struct ch_device_rec *rec)
{
	const char *q = arg_str(args, "device");
	char fp[CH_FP_LEN], msg[512];
	int r;

	if (q == NULL || *q == '\0') {
		hub_ctl_fail(req, "bad-request", "\"device\" (a name or a "
			     "fingerprint) is required");
		return -1;
	}
	r = ch_store_device_resolve(hub->store, q, fp);
	if (r == CH_OK)
		r = ch_store_device_get(hub->store, fp, rec);
	if (r == CH_ERR_AMBIGUOUS) {
		snprintf(msg, sizeof(msg), "'%.200s' matches several devices: "
			 "give more of the fingerprint", q);
		hub_ctl_fail(req, "ambiguous", msg);
		return -1;
	}
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "no device named '%.200s' or with "
			 "that fingerprint", q);
		hub_ctl_fail(req, "not-found", msg);
		return -1;
	}
	return 0;
}

/* Responds {"ok":true,"device":{...}} for fp, plus an optional member. */
static void respond_device(struct hub *hub, struct hub_ctl_req *req,
			   const char *fp, const char *key, json_t *val)
{
	struct ch_device_rec rec;
	json_t *resp;

	if (ch_store_device_get(hub->store, fp, &rec) != CH_OK) {
		json_decref(val);
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	resp = json_pack("{s:b, s:o}", "ok", 1, "device", device_obj(&rec));
	if (key)
		json_object_set_new(resp, key, val);
	hub_ctl_respond(req, resp);
}

#define IDENTITY_FORMS "an SSH fingerprint (SHA256: and 43 base64 " \
	"characters), serial:SERIAL, or a SHA-256 certificate fingerprint " \
	"(04:AB:..., SHA256:<64 hex>, or AB:CD:... as openssl prints it)"

static void store_fail(struct hub_ctl_req *req, int r, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", what, r == CH_ERR_INVAL
		 ? "names are 1 to 64 of A-Z a-z 0-9 . _ - and may not "
		   "start with SHA256:" : ch_strerror(r));
	hub_ctl_fail(req, r == CH_ERR_EXISTS ? "exists" :
		     r == CH_ERR_NOTFOUND ? "not-found" :
		     r == CH_ERR_INVAL ? "bad-request" : "internal", msg);
}

static void cmd_devices(struct hub *hub, struct hub_ctl_req *req,
			json_t *args)
{
	json_t *arr = json_array();

	(void)args;
	if (ch_store_device_foreach(hub->store, device_json, arr) != 0) {
		json_decref(arr);
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "devices", arr));
}

static int identity_json(void *ctx, const char *fp, int64_t added)
{
	(void)added;
	json_array_append_new(ctx, json_string(fp));
	return 0;
}

static void cmd_device(struct hub *hub, struct hub_ctl_req *req,
		       json_t *args)
{
	struct ch_device_rec rec;
	struct device *d;
	json_t *obj, *ids = json_array();
	int n = 0;

	if (ctl_device(hub, req, args, &rec) != 0) {
		json_decref(ids);
		return;
	}
	ch_store_identity_foreach(hub->store, rec.fingerprint, identity_json,
				  ids);
	ch_store_job_count_queued(hub->store, rec.fingerprint, &n);
	obj = device_obj(&rec);
	json_object_set_new(obj, "identities", ids);
	json_object_set_new(obj, "queued_jobs", json_integer(n));
	if ((d = hub_find_device(hub, rec.fingerprint)) != NULL)
		json_object_set_new(obj, "capability_list",
				    device_caps_json(d));
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "device", obj));
}

static void cmd_approve(struct hub *hub, struct hub_ctl_req *req,
			json_t *args)
{
	const char *name = arg_str(args, "name");
	struct ch_device_rec rec;
	char msg[256];
	int r;

	if (ctl_device(hub, req, args, &rec) != 0)
		return;
	if (rec.admission == CH_ADMIT_REVOKED) {
		snprintf(msg, sizeof(msg), "device %s is revoked; add it again "
			 "with a new key", rec.fingerprint);
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if (name && *name &&
	    (r = ch_store_device_rename(hub->store, rec.fingerprint, name))) {
		store_fail(req, r, "cannot name the device");
		return;
	}
	if (rec.admission != CH_ADMIT_ADMITTED) {
		ch_store_device_set_admission(hub->store, rec.fingerprint,
					      CH_ADMIT_ADMITTED);
		event(hub, rec.fingerprint, "approved",
		      "admitted by the operator; from its next call");
		ch_info("device=%s approved", rec.fingerprint);
	}
	respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

static void cmd_add(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	const char *name = arg_str(args, "name");
	const char *ssh_fp = arg_str(args, "fingerprint");
	const char *serial = arg_str(args, "serial");
	const char *cert = arg_str(args, "cert_fingerprint");
	char owner[CH_FP_LEN], msg[512], id[CH_FP_LEN];
	const char *fp = id;
	int r;

	if (!!ssh_fp + !!serial + !!cert != 1) {
		hub_ctl_fail(req, "bad-request", "give exactly one of "
			     "\"fingerprint\" (SSH host key), \"serial\" "
			     "(X520 serialNumber) or \"cert_fingerprint\"");
		return;
	}
	if (ssh_fp && !ch_id_ssh_valid(ssh_fp)) {
		hub_ctl_fail(req, "bad-request", "\"fingerprint\" must be "
			     "SHA256: and 43 base64 characters, as "
			     "`ssh-keygen -lf` prints it");
		return;
	}
	if (serial && !ch_serial_valid(serial)) {
		hub_ctl_fail(req, "bad-request", "\"serial\" must be 1 to 64 "
			     "of A-Z a-z 0-9 ' ( ) + - . / : = ?");
		return;
	}
	if (cert && !ch_id_cert_normalize(cert, id, sizeof(id))) {
		hub_ctl_fail(req, "bad-request", "\"cert_fingerprint\" must "
			     "be a SHA-256 certificate fingerprint: 04:AB:... "
			     "(RFC 7407), SHA256:<64 hex> or AB:CD:... as "
			     "`openssl x509 -fingerprint -sha256` prints it");
		return;
	}
	if (ssh_fp)
		snprintf(id, sizeof(id), "%s", ssh_fp);
	else if (serial)
		snprintf(id, sizeof(id), CH_ID_SERIAL_PREFIX "%.64s", serial);
	if (name && *name &&
	    ch_store_device_resolve(hub->store, name, owner) == CH_OK &&
	    strcmp(owner, fp) != 0) {
		/* A name comes with its key: another key for it must be an
		 * explicit identity change, never a silent takeover. */
		snprintf(msg, sizeof(msg), "add of '%.64s' with key %s refused: "
			 "the name belongs to %s", name, fp, owner);
		event(hub, owner, "identity-mismatch", msg);
		snprintf(msg, sizeof(msg), "'%.64s' already belongs to device %s;"
			 " to give it another key: callhome identity add %.64s "
			 "%s", name, owner, name, fp);
		hub_ctl_fail(req, "exists", msg);
		return;
	}
	if ((r = ch_store_device_add(hub->store, fp, name && *name ? name
				     : NULL, CH_ADMIT_ADMITTED)) != CH_OK) {
		store_fail(req, r, "cannot add the device");
		return;
	}
	event(hub, fp, "added", "pre-provisioned by the operator");
	respond_device(hub, req, fp, NULL, NULL);
}

static void cmd_rename(struct hub *hub, struct hub_ctl_req *req,
		       json_t *args)
{
	const char *name = arg_str(args, "name");
	struct ch_device_rec rec;
	int r;

	if (ctl_device(hub, req, args, &rec) != 0)
		return;
	if (name == NULL) {
		hub_ctl_fail(req, "bad-request", "\"name\" is required (\"\" "
			     "removes the name)");
		return;
	}
	if ((r = ch_store_device_rename(hub->store, rec.fingerprint, name))) {
		store_fail(req, r, "cannot rename the device");
		return;
	}
	respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

static int collect_job_id(void *ctx, const struct ch_job_rec *rec)
{
	json_array_append_new(ctx, json_integer(rec->id));
	return 0;
}

/* A revoked device will never run its queue: cancel it, and say so. */
static void cancel_queued(struct hub *hub, const char *fp, const char *why)
{
	json_t *ids = json_array(), *v;
	char detail[128];
	size_t i;

	ch_store_job_foreach(hub->store, fp, 0, 1u << CH_JOB_QUEUED,
			     collect_job_id, ids);
	json_array_foreach(ids, i, v) {
		int64_t id = json_integer_value(v);

		if (ch_store_job_cancel(hub->store, id, now_s()) != CH_OK)
			continue;
		snprintf(detail, sizeof(detail), "job %lld cancelled: %s",
			 (long long)id, why);
		event(hub, fp, "job-cancelled", detail);
		jobs_notify(hub, id);
	}
	json_decref(ids);
}

static void cmd_revoke(struct hub *hub, struct hub_ctl_req *req,
		       json_t *args)
{
	struct ch_device_rec rec;
	int n;

	if (ctl_device(hub, req, args, &rec) != 0)
		return;
	ch_store_device_set_admission(hub->store, rec.fingerprint,
				      CH_ADMIT_REVOKED);
	event(hub, rec.fingerprint, "revoked", "revoked by the operator");
	/* Close first: a read-only job cut off by the close goes back to
	 * the queue, which is cancelled next. */
	n = close_sessions(hub, rec.fingerprint, NULL, "identity revoked");
	cancel_queued(hub, rec.fingerprint, "device revoked");
	ch_info("device=%s revoked%s", rec.fingerprint,
		n ? "; its session was closed" : "");
	respond_device(hub, req, rec.fingerprint, "closed_session",
		       json_boolean(n > 0));
}

/* Per-device settings: {"idle_close": seconds | null (the hub's default)}. */
static void cmd_set(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	json_t *jic = json_object_get(args, "idle_close");
	struct ch_device_rec rec;
	struct device *d;
	json_int_t v;
	int r;

	if (ctl_device(hub, req, args, &rec) != 0)
		return;
	if (jic == NULL) {
		hub_ctl_fail(req, "bad-request", "nothing to set: give "
			     "\"idle_close\" (seconds, 0 = never, null = the "
			     "hub's default)");
		return;
	}
	v = json_is_null(jic) ? -1 : json_is_integer(jic)
		? json_integer_value(jic) : -2;
	if (v < -1 || v > 7 * 86400) {
		hub_ctl_fail(req, "bad-request", "\"idle_close\" must be 0 to "
			     "604800 seconds, or null");
		return;
	}
	if ((r = ch_store_device_set_idle_close(hub->store, rec.fingerprint,
						 (int)v)) != CH_OK) {
		store_fail(req, r, "cannot change the device");
		return;
	}
	if ((d = hub_find_device(hub, rec.fingerprint)) != NULL)
		device_set_idle_close(d, v >= 0 ? (uint32_t)v
						: hub->cfg.idle_close_s);
	respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

static void cmd_identity_add(struct hub *hub, struct hub_ctl_req *req,
			     json_t *args)
{
	char id[CH_FP_LEN];
	const char *fp = id;
	struct ch_device_rec rec;
	char detail[256];
	int r;

	if (ctl_device(hub, req, args, &rec) != 0)
		return;
	if (!ch_id_normalize(arg_str(args, "fingerprint"), id, sizeof(id))) {
		hub_ctl_fail(req, "bad-request", "\"fingerprint\" must be "
			     IDENTITY_FORMS);
		return;
	}
	if ((r = ch_store_identity_add(hub->store, rec.fingerprint, fp,
				       now_s())) != CH_OK) {
		store_fail(req, r, "cannot add the identity");
		return;
	}
	snprintf(detail, sizeof(detail), "new %s %s",
		 ch_id_kind(fp) == CH_ID_SSH ? "key" : "identity", fp);
	event(hub, rec.fingerprint, "identity-added", detail);
	respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

static void cmd_identity_remove(struct hub *hub, struct hub_ctl_req *req,
				json_t *args)
{
	const char *fp = arg_str(args, "fingerprint");
	struct device *d, *next;
	char id[CH_FP_LEN];
	int r;

	if (ch_id_normalize(fp, id, sizeof(id)))
		fp = id;	/* a certificate fingerprint in another form */

	if (fp == NULL || (r = ch_store_identity_remove(hub->store, fp))) {
		store_fail(req, fp ? r : CH_ERR_INVAL,
			   "cannot remove the identity");
		return;
	}
	for (d = hub->devices; d; d = next) {	/* sessions with that key */
		next = device_next(d);
		if (strcmp(device_fingerprint(d), fp) == 0) {
			device_close(d, "identity removed");
			next = hub->devices;
		}
	}
	hub_ctl_respond(req, json_pack("{s:b}", "ok", 1));
}

#define IMPORT_MAX_ERRORS 20	/* refused lines listed in the answer */

static void import_bad(void *ctx, unsigned line, const char *why)
{
	if (json_array_size(ctx) < IMPORT_MAX_ERRORS)
		json_array_append_new(ctx, json_pack("{s:i, s:s}", "line",
						     (int)line, "error", why));
}

/* A manufacturer's list of serial numbers: devices admitted at their
 * first call (TLS, RFC 8071 C6: identifiers known before the call). */
static void cmd_import_serials(struct hub *hub, struct hub_ctl_req *req,
			       json_t *args)
{
	json_t *jt = json_object_get(args, "text"), *errs;
	const char *anchor_arg = arg_str(args, "anchor");
	char anchor[CH_FP_LEN];
	struct ch_import_counts c;
	char msg[160];
	int r;

	if (!json_is_string(jt)) {
		hub_ctl_fail(req, "bad-request", "\"text\" (the list: one "
			     "serial per line, optionally ,NAME) is required");
		return;
	}
	if (anchor_arg && !ch_id_cert_normalize(anchor_arg, anchor, sizeof(anchor))) {
		hub_ctl_fail(req, "bad-request", "\"anchor\" must be the "
			     "SHA-256 fingerprint of the manufacturer's CA "
			     "certificate (x509:SHA256:<hex>, SHA256:<hex> "
			     "or AB:CD:...)");
		return;
	}
	errs = json_array();
	r = ch_store_import_serials(hub->store, json_string_value(jt),
				    json_string_length(jt),
				    anchor_arg ? anchor : NULL, now_s(), &c,
				    import_bad, errs);
	if (r != CH_OK) {
		json_decref(errs);
		if (r == CH_ERR_LIMIT) {
			snprintf(msg, sizeof(msg), "the list has more than %d "
				 "lines: split it", CH_IMPORT_MAX_LINES);
			hub_ctl_fail(req, "too-large", msg);
		} else {
			store_fail(req, r, "cannot import the serials");
		}
		return;
	}
	ch_info("imported serials: %d added, %d already known (%d of them "
		"now admitted), %d invalid", c.added, c.known, c.approved,
		c.invalid);
	hub_ctl_respond(req, json_pack("{s:b, s:i, s:i, s:i, s:i, s:o}",
				       "ok", 1, "added", c.added, "known",
				       c.known, "approved", c.approved,
				       "invalid", c.invalid, "errors", errs));
}

/* 1 if op_xml is one read-only operation (safe to run again). */
static int read_only_op(const char *op_xml)
{
	xmlDoc *doc = NULL;
	int ro = 0;

	if (ch_xml_parse(op_xml, strlen(op_xml), &doc) == CH_OK) {
		const char *n = (const char *)xmlDocGetRootElement(doc)->name;

		ro = strcmp(n, "get") == 0 || strcmp(n, "get-config") == 0 ||
		     strcmp(n, "get-schema") == 0;
	}
	xmlFreeDoc(doc);
	return ro;
}

/* rpc, get-config, edit-config: a job, run now if the device is here. */
static void submit(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		   const char *kind, const char *payload, int read_only)
{
	const char *mode = arg_str(args, "mode");
	json_t *jw = json_object_get(args, "wait");
	json_t *jexp = json_object_get(args, "expires");
	struct ch_device_rec rec;
	struct ch_job_rec job;
	struct ch_buf check;
	const char *why = NULL;
	int64_t id, expires = 0, now = now_s();
	int live, wait, r;
	char msg[300];

	if (ctl_device(hub, req, args, &rec) != 0)
		return;
	if (mode == NULL)
		mode = "auto";
	if (strcmp(mode, "auto") && strcmp(mode, "now") &&
	    strcmp(mode, "queue")) {
		hub_ctl_fail(req, "bad-request", "\"mode\" must be auto, now "
			     "or queue");
		return;
	}
	if (jexp && !json_is_null(jexp)) {
		if (!json_is_integer(jexp) || json_integer_value(jexp) <= 0) {
			hub_ctl_fail(req, "bad-request", "\"expires\" must be "
				     "a positive number of seconds");
			return;
		}
		expires = now + json_integer_value(jexp);
	}
	if (rec.admission != CH_ADMIT_ADMITTED) {
		snprintf(msg, sizeof(msg), "device %s is %s, not admitted%s",
			 rec.fingerprint, ch_admission_name(rec.admission),
			 rec.admission == CH_ADMIT_PENDING
			 ? ": approve it first (callhome approve)" : "");
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	/* Refuse bad XML now, not when the device calls in a week. */
	ch_buf_init(&check, CH_JOB_PAYLOAD_MAX + 4096);
	r = ch_rpc_build(&check, 1, payload, &why);
	ch_buf_cleanup(&check);
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "the operation is not acceptable "
			 "XML: %s", why ? why : ch_strerror(r));
		hub_ctl_fail(req, "bad-xml", msg);
		return;
	}
	live = hub_find_device(hub, rec.fingerprint) != NULL;
	if (!live && strcmp(mode, "now") == 0) {
		snprintf(msg, sizeof(msg), "device %s is not connected "
			 "(nothing was queued)", rec.fingerprint);
		hub_ctl_fail(req, "not-connected", msg);
		return;
	}
	if ((r = ch_store_job_add(hub->store, rec.fingerprint, kind, payload,
				  read_only, expires, now, &id)) != CH_OK) {
		store_fail(req, r, "cannot queue the job");
		return;
	}
	snprintf(msg, sizeof(msg), "job %lld %s%s", (long long)id, kind,
		 live ? "" : " (device not connected)");
	event(hub, rec.fingerprint, "job-queued", msg);
	wait = json_is_true(jw) || (live && strcmp(mode, "queue") != 0);
	jobs_kick(hub, rec.fingerprint);
	if (wait) {
		jobs_wait(hub, id, req);
		return;
	}
	memset(&job, 0, sizeof(job));
	if (ch_store_job_get(hub->store, id, &job) != CH_OK) {
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	hub_ctl_respond(req, jobs_response(hub, &job));
	ch_job_rec_cleanup(&job);
}

static void cmd_rpc(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	const char *xml = arg_str(args, "xml");

	if (xml == NULL || *xml == '\0') {
		hub_ctl_fail(req, "bad-request",
			     "\"xml\" (the operation) is required");
		return;
	}
	submit(hub, req, args, "rpc", xml, read_only_op(xml));
}

static void cmd_get_config(struct hub *hub, struct hub_ctl_req *req,
			   json_t *args)
{
	const char *src = arg_str(args, "source");
	char op[128];

	if (src == NULL)
		src = "running";
	if (strcmp(src, "running") && strcmp(src, "candidate") &&
	    strcmp(src, "startup")) {
		hub_ctl_fail(req, "bad-request", "\"source\" must be running, "
			     "candidate or startup");
		return;
	}
	snprintf(op, sizeof(op), "<get-config><source><%s/></source>"
		 "</get-config>", src);
	submit(hub, req, args, "get-config", op, 1);
}

static void cmd_edit_config(struct hub *hub, struct hub_ctl_req *req,
			    json_t *args)
{
	const char *config = arg_str(args, "config");

	if (config == NULL || *config == '\0') {
		hub_ctl_fail(req, "bad-request", "\"config\" (the content of "
			     "<config>) is required");
		return;
	}
	submit(hub, req, args, "edit-config", config, 0);
}

struct jobs_walk {
	struct hub *hub;
	json_t *arr;
};

static int job_json_cb(void *ctx, const struct ch_job_rec *rec)
{
	struct jobs_walk *w = ctx;

	json_array_append_new(w->arr, jobs_json(w->hub, rec, 0));
	return 0;
}

static void cmd_jobs(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct jobs_walk w = { hub, NULL };
	struct ch_device_rec rec;
	const char *state = arg_str(args, "state");
	json_t *jl = json_object_get(args, "limit");
	unsigned mask = 0;
	int limit = jl ? (int)json_integer_value(jl) : 50;

	if (state) {
		for (int st = 0; st <= CH_JOB_EXPIRED; st++)
			if (strcmp(state, ch_job_state_name(st)) == 0)
				mask = 1u << st;
		if (mask == 0) {
			hub_ctl_fail(req, "bad-request", "unknown job state");
			return;
		}
	}
	if (json_object_get(args, "device") &&
	    ctl_device(hub, req, args, &rec) != 0)
		return;
	w.arr = json_array();
	ch_store_job_foreach(hub->store, json_object_get(args, "device")
			     ? rec.fingerprint : NULL, limit, mask,
			     job_json_cb, &w);
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "jobs", w.arr));
}

/* The job named by "id", or a failed request. */
static int ctl_job(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		   struct ch_job_rec *job)
{
	json_t *jid = json_object_get(args, "id");

	memset(job, 0, sizeof(*job));
	if (!json_is_integer(jid)) {
		hub_ctl_fail(req, "bad-request", "\"id\" (a job number) is "
			     "required");
		return -1;
	}
	if (ch_store_job_get(hub->store, json_integer_value(jid), job)) {
		hub_ctl_fail(req, "not-found", "no such job");
		return -1;
	}
	return 0;
}

static void cmd_job(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_job_rec job;

	if (ctl_job(hub, req, args, &job) != 0)
		return;
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "job",
				       jobs_json(hub, &job, 1)));
	ch_job_rec_cleanup(&job);
}

static void cmd_cancel_retry(struct hub *hub, struct hub_ctl_req *req,
			     json_t *args, int retry)
{
	struct ch_job_rec job;
	char msg[160];
	int r;

	if (ctl_job(hub, req, args, &job) != 0)
		return;
	r = retry ? ch_store_job_requeue(hub->store, job.id)
		  : ch_store_job_cancel(hub->store, job.id, now_s());
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "job %lld is %s; only %s", (long long)
			 job.id, ch_job_state_name(job.state), retry
			 ? "in-doubt or failed jobs can be retried"
			 : "queued jobs can be cancelled");
		hub_ctl_fail(req, "invalid-state", msg);
		ch_job_rec_cleanup(&job);
		return;
	}
	snprintf(msg, sizeof(msg), "job %lld %s by the operator",
		 (long long)job.id, retry ? "queued again" : "cancelled");
	event(hub, job.fingerprint, retry ? "job-retry" : "job-cancelled", msg);
	ch_job_rec_cleanup(&job);
	ch_store_job_get(hub->store, json_integer_value(json_object_get(args,
						      "id")), &job);
	if (retry)
		jobs_kick(hub, job.fingerprint);
	else
		jobs_notify(hub, job.id);
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "job",
				       jobs_json(hub, &job, 0)));
	ch_job_rec_cleanup(&job);
}

static void cmd_cancel(struct hub *hub, struct hub_ctl_req *req,
		       json_t *args)
{
	cmd_cancel_retry(hub, req, args, 0);
}

static void cmd_retry(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	cmd_cancel_retry(hub, req, args, 1);
}

struct events_walk {
	struct hub *hub;
	json_t *arr;
	int64_t last;
};

static int event_json_cb(void *ctx, const struct ch_event_rec *ev)
{
	struct events_walk *w = ctx;
	struct ch_device_rec rec;
	int known = ch_store_device_get(w->hub->store, ev->fingerprint,
					&rec) == CH_OK && rec.name[0];

	json_array_append_new(w->arr, json_pack(
		"{s:I, s:o, s:s, s:o, s:s, s:s}", "id", (json_int_t)ev->id,
		"time", time_or_null(ev->time), "device", ev->fingerprint,
		"name", known ? json_string(rec.name) : json_null(),
		"kind", ev->kind, "detail", ev->detail));
	if (ev->id > w->last)
		w->last = ev->id;
	return 0;
}

static void cmd_events(struct hub *hub, struct hub_ctl_req *req,
		       json_t *args)
{
	struct events_walk w = { hub, NULL, 0 };
	struct ch_device_rec rec;
	json_t *js = json_object_get(args, "since");
	json_t *jl = json_object_get(args, "limit");
	const char *fp = NULL;
	int limit = jl ? (int)json_integer_value(jl) : 50;

	if (json_object_get(args, "device")) {
		if (ctl_device(hub, req, args, &rec) != 0)
			return;
		fp = rec.fingerprint;
	}
	w.arr = json_array();
	if (js && json_is_integer(js)) {
		w.last = json_integer_value(js);
		ch_store_event_foreach_since(hub->store, fp, w.last, limit,
					     event_json_cb, &w);
	} else {
		ch_store_event_foreach(hub->store, fp, limit, event_json_cb,
				       &w);
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o, s:I}", "ok", 1, "events",
				       w.arr, "last_id", (json_int_t)w.last));
}

static const struct {
	const char *name;
	void (*fn)(struct hub *, struct hub_ctl_req *, json_t *);
} commands[] = {
	{ "devices", cmd_devices },
	{ "device", cmd_device },
	{ "approve", cmd_approve },
	{ "add", cmd_add },
	{ "rename", cmd_rename },
	{ "revoke", cmd_revoke },
	{ "set", cmd_set },
	{ "identity-add", cmd_identity_add },
	{ "identity-remove", cmd_identity_remove },
	{ "import-serials", cmd_import_serials },
	{ "rpc", cmd_rpc },
	{ "get-config", cmd_get_config },
	{ "edit-config", cmd_edit_config },
	{ "jobs", cmd_jobs },
	{ "job", cmd_job },
	{ "cancel", cmd_cancel },
	{ "retry", cmd_retry },
	{ "events", cmd_events },
};

static void ctl_handle(void *ctx, struct hub_ctl_req *req, const char *cmd,
		       json_t *args)
{
	char msg[160];

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) == 0) {
			commands[i].fn(ctx, req, args);
			return;
		}
	}
	snprintf(msg, sizeof(msg), "unknown command '%.100s'", cmd);
	hub_ctl_fail(req, "unknown-command", msg);
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
		if ((r = listen_endpoint(hub, &hub->cfg.listen[i], 0)) != CH_OK)
			return r;
	for (size_t i = 0; i < hub->cfg.nlisten_tls; i++)
		if ((r = listen_endpoint(hub, &hub->cfg.listen_tls[i], 1)) !=
		    CH_OK)
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
		l->handles = 2;
		uv_close((uv_handle_t *)&l->poll, on_listener_closed);
		close(l->fd);	/* uv_poll does not own it */
		uv_close((uv_handle_t *)&l->pause, on_listener_closed);
	}
	jobs_stop(hub);
	while (hub->devices)
		device_close(hub->devices, "hub shutting down");
	if (hub->ctl) {
		hub_ctl_stop(hub->ctl);
		hub->ctl = NULL;
	}
}
