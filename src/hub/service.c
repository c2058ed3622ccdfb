/* service.c - the running hub (see service.h). */
#include "hub/service.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hub/admission.h"
#include "hub/archive.h"
#include "hub/blocklist.h"
#include "hub/device.h"
#include "hub/devnotif.h"
#include "hub/frontdoor.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "hub/junos.h"
#include "hub/listener.h"
#include "hub/snmp.h"
#include "hub/srclimit.h"
#include "hub/term.h"
#include "hub/worker.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

/* ---- what a device session asks of its owner ---- */

static int dev_admit(void *ctx, struct device *d, const struct device_id *id,
		     const char **why)
{
	return admission_admit(ctx, d, id, why);
}

/* A refused TLS handshake or chain: filed under no device (what it
 * claimed is unverified). */
static void dev_refused(void *ctx, struct device *d, const char *detail)
{
	(void)d;
	hub_event(ctx, NULL, "refused", detail);
}

/* ---- handshake slots: the hub's (--max-handshakes) and each source's
 * (srclimit.h), taken at accept, given back when the peer is
 * authenticated or gone ---- */

static void handshake_end(struct hub *hub, const struct sockaddr *sa)
{
	if (hub->handshakes > 0)
		hub->handshakes--;
	srclimit_release(hub->srclimit, sa);
}

static void dev_handshake_done(void *ctx, struct device *d)
{
	handshake_end(ctx, device_addr(d));
}

static void dev_ready(void *ctx, struct device *d, size_t ncaps)
{
	struct hub *hub = ctx;

	worker_device_up(hub, device_key(d));	/* routing; older ones go */
	admission_connected(hub, d, ncaps);
	devnotif_device_ready(hub, d);	/* its notifications, first */
	archive_device_ready(hub, d);	/* its running configuration */
	jobs_kick(hub, device_key(d));	/* what was kept for it runs now */
	snmp_device_ready(hub, d);	/* its notification channel */
}

static void dev_notification(void *ctx, struct device *d, const char *msg,
			     size_t len)
{
	devnotif_received(ctx, d, msg, len);
}

static int dev_busy(void *ctx, const struct device *d)
{
	return jobs_running_on(ctx, d);
}

static void dev_gone(void *ctx, struct device *d)
{
	struct hub *hub = ctx;

	hub_unlink_device(hub, d);
	jobs_device_gone(hub, d);
	devnotif_device_gone(hub, d);
	archive_device_gone(hub, d);
	admission_gone(hub, d);		/* the registry records why */
	if (device_admitted(d) && device_was_ready(d) &&
	    !device_superseded(d) && hub_find_device(hub, device_key(d)) ==
	    NULL)
		worker_device_gone(hub, device_key(d));
}

static const struct device_owner device_owner = {
	.admit = dev_admit,
	.refused = dev_refused,
	.handshake_done = dev_handshake_done,
	.ready = dev_ready,
	.notification = dev_notification,
	.busy = dev_busy,
	.gone = dev_gone,
};

/* ---- the door ---- */

/* A device session on fd; jr: what it announced before its SSH banner
 * (Junos outbound-ssh), or NULL. */
static void start_device(struct hub *hub, int fd, int tls, const char *peer,
			 const struct sockaddr *sa,
			 const struct junos_result *jr)
{
	struct device_owner owner = device_owner;
	struct device *d;

	owner.ctx = hub;
	if (device_start(&hub->devcfg, &owner, fd, tls, peer, sa,
			 hub->next_conn_id++, &d) != CH_OK) {
		handshake_end(hub, sa);
		return;		/* fd closed, logged */
	}
	if (jr && jr->device_id)
		device_set_announced(d, jr->device_id, jr->expect_fp);
	/* most slots taken: a silent peer must not hold one for long */
	if (hub->handshakes * 4 > (size_t)hub->cfg.max_handshakes * 3 &&
	    hub->cfg.handshake_timeout_ms > CH_HUB_HANDSHAKE_PRESSURE_MS)
		device_shorten_handshake(d, CH_HUB_HANDSHAKE_PRESSURE_MS);
	hub_link_device(hub, d);
}

/* A connection accepted on a listener: refused cheaply, before any
 * cryptography, when its source is blocked, too many handshakes are in
 * progress, or its address or prefix has all the handshakes it may (RFC
 * 8071 5: DoS through expensive handshakes); else a device over SSH or
 * TLS, by the listener; over SSH, its Junos preamble first when those
 * are read. Each takes a handshake slot until handshake_end(). */
static void on_accepted(void *ctx, struct listener *l, int fd,
			const char *peer, const struct sockaddr *sa)
{
	struct hub *hub = ctx;
	const char *whose;
	int one = 1;

	if (blocklist_blocked(hub->blocklist, sa, hub_now_s())) {
		ch_log_rl(CH_LOG_INFO, "listener %s: %s is blocked, refused "
			  "(%llu refused)", listener_addr(l), peer,
			  (unsigned long long)listener_refused(l) + 1);
		close(fd);
		return;
	}
	if (hub->handshakes >= hub->cfg.max_handshakes) {
		ch_log_rl(CH_LOG_WARN, "listener %s: %zu handshakes in "
			  "progress, refusing %s (%llu refused)",
			  listener_addr(l), hub->handshakes, peer,
			  (unsigned long long)listener_refused(l) + 1);
		close(fd);
		return;
	}
	if (srclimit_take(hub->srclimit, sa, &whose) != CH_OK) {
		/* two call sites: each rate-limited on its own */
		if (whose && strcmp(whose, "its prefix") == 0)
			ch_log_rl(CH_LOG_WARN, "listener %s: %s refused: its "
				  "prefix has all the handshakes in progress "
				  "it may have (--max-handshakes-per-prefix)",
				  listener_addr(l), peer);
		else
			ch_log_rl(CH_LOG_WARN, "listener %s: %s refused: %s "
				  "(--max-handshakes-per-address)",
				  listener_addr(l), peer, whose ? "its address "
				  "has all the handshakes in progress it may "
				  "have" : "out of memory");
		listener_refused(l);
		close(fd);
		return;
	}
	hub->handshakes++;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (hub->junos && !listener_tls(l)) {
		if (junos_door_read(hub->junos, fd, peer, sa) != CH_OK)
			handshake_end(hub, sa);		/* fd closed */
		return;
	}
	start_device(hub, fd, listener_tls(l), peer, sa, NULL);
}

/* ---- Junos outbound-ssh: the preamble read (junos.h) ---- */

static void junos_ready(void *ctx, int fd, const char *peer,
			const struct sockaddr *sa,
			const struct junos_result *res)
{
	start_device(ctx, fd, 0, peer, sa, res);	/* its slot goes on */
}

/* Refused at the preamble: an event under no device (what it claimed is
 * unverified), and a failure of its address for the blocklist. */
static void junos_refused(void *ctx, const char *peer,
			  const struct sockaddr *sa, const char *detail)
{
	struct hub *hub = ctx;

	handshake_end(hub, sa);
	hub_event(hub, NULL, "refused", detail);
	worker_source(hub, sa, 0);
	if (blocklist_failure(hub->blocklist, sa, hub_now_s()))
		ch_log_rl(CH_LOG_WARN, "blocking %s for %u s after %u failed "
			  "handshakes", peer, hub->cfg.block_for_s,
			  hub->cfg.block_after);
}

static struct junos_ops junos_ops = {
	.ready = junos_ready,
	.refused = junos_refused,
};

static struct listener_ops listener_ops = {
	.accepted = on_accepted,
};

/* ---- one of several workers (worker.h) ---- */

static json_t *(*api_query)(struct hub *hub, const char *what,
			    json_t *args);

static void w_control(struct hub *hub, int fd, const char *read, size_t len)
{
	if (hub->ctl == NULL)		/* stopping: the client sees the end */
		close(fd);
	if (hub->ctl == NULL || hub_ctl_adopt(hub->ctl, fd, read, len) !=
	    CH_OK)		/* hub_ctl_adopt closed fd */
		ch_log_rl(CH_LOG_WARN, "worker %d: a control connection "
			  "refused (stopping, or too many)", hub->worker);
}

static void w_source(struct hub *hub, const struct sockaddr *sa, int ok)
{
	if (ok)
		blocklist_success(hub->blocklist, sa, hub_now_s());
	else if (blocklist_failure(hub->blocklist, sa, hub_now_s()))
		ch_debug("worker %d: a source blocked after failures seen by "
			 "another worker", hub->worker);
}

static json_t *w_query(struct hub *hub, const char *what, json_t *args)
{
	return api_query ? api_query(hub, what, args) : NULL;
}

static const struct worker_ops worker_ops = {
	.control = w_control,
	.kick = jobs_kick_here,
	.job = jobs_notify_here,
	.drop = admission_superseded,
	.source = w_source,
	.query = w_query,
};

/* ---- start and stop ---- */

int service_start(struct hub *hub, const struct hub_ctl_ops *api,
		  json_t *(*query)(struct hub *hub, const char *what,
				   json_t *args))
{
	const struct hub_listen *ep;
	int worker = hub->nworkers > 1 ? LISTENER_REUSEPORT : 0;
	char path[4096];
	int r;

	hub->devcfg = (struct device_config){
		.loop = hub->loop,
		.user = hub->cfg.user,
		.key = hub->key,
		.tls = hub->tls_ctx,
		.handshake_timeout_ms = hub->cfg.handshake_timeout_ms,
		.rpc_timeout_ms = hub->cfg.rpc_timeout_ms,
		.keepalive_ms = hub->cfg.keepalive_ms,
		.keepalive_count = hub->cfg.keepalive_count,
		.idle_close_s = hub->cfg.idle_close_s,
		.max_message = hub->cfg.max_message,
	};
	listener_ops.ctx = hub;
	if (hub->cfg.junos_secrets || hub->cfg.junos_allow_unsigned) {
		junos_ops.ctx = hub;
		hub->junos_cfg = (struct junos_config){
			.loop = hub->loop,
			.secrets = hub->cfg.junos_secrets,
			.allow_unsigned = hub->cfg.junos_allow_unsigned,
			.timeout_ms = hub->cfg.handshake_timeout_ms <
				      CH_JUNOS_PREAMBLE_TIMEOUT_MS
				      ? hub->cfg.handshake_timeout_ms
				      : CH_JUNOS_PREAMBLE_TIMEOUT_MS,
		};
		if ((r = junos_door_new(&hub->junos_cfg, &junos_ops,
					&hub->junos)) != CH_OK)
			return r;
	}
	for (size_t i = 0; i < hub->cfg.nlisten; i++) {
		ep = &hub->cfg.listen[i];
		if ((r = listener_open(hub->loop, ep->host, ep->port, worker,
				       &listener_ops, &hub->listeners)) != CH_OK)
			return r;
	}
	for (size_t i = 0; i < hub->cfg.nlisten_tls; i++) {
		ep = &hub->cfg.listen_tls[i];
		if ((r = listener_open(hub->loop, ep->host, ep->port,
				       worker | LISTENER_TLS, &listener_ops,
				       &hub->listeners)) != CH_OK)
			return r;
	}
	if ((r = frontdoor_start(hub)) != CH_OK)
		return r;
	if ((r = term_init(hub)) != CH_OK)
		return r;
	if ((r = snmp_start(hub)) != CH_OK)
		return r;
	if (worker) {		/* the supervisor has the socket */
		api_query = query;
		if ((r = hub_ctl_start(hub->loop, NULL, api, &hub->ctl)) !=
		    CH_OK ||
		    (r = worker_start(hub, hub->wlink_fd, &worker_ops)) !=
		    CH_OK)
			return r;
		hub->wlink_fd = -1;	/* taken */
		jobs_start(hub);
		worker_ready(hub);
		return CH_OK;
	}
	snprintf(path, sizeof(path), "%s/hub.sock", hub->cfg.state_dir);
	if ((r = hub_ctl_start(hub->loop, path, api, &hub->ctl)) != CH_OK) {
		if (r == CH_ERR_EXISTS)
			ch_error("control socket %s: another hub is running "
				 "on this state directory", path);
		else
			ch_log_r(CH_LOG_ERROR, r, "control socket %s", path);
		return r;
	}
	jobs_start(hub);	/* queued jobs expire on time */
	if (hub->cfg.control_group &&
	    (r = hub_ctl_share(hub->ctl, hub->cfg.control_gid)) != CH_OK)
		return r;
	return CH_OK;
}

void service_stop(struct hub *hub)
{
	if (hub->stopping)
		return;
	hub->stopping = 1;
	listener_close_all(&hub->listeners);
	junos_door_close(hub->junos);
	hub->junos = NULL;
	worker_stop(hub);	/* nothing routed here any more */
	/* The API answers the operators waiting for jobs first (ops->stop),
	 * before the devices' closing can settle those jobs. */
	if (hub->ctl) {
		hub_ctl_stop(hub->ctl);
		hub->ctl = NULL;
	}
	frontdoor_stop(hub);
	jobs_stop(hub);		/* again: its expiry timer (no ctl) */
	term_stop_all(hub);
	snmp_stop_all(hub);
	while (hub->devices)
		device_close(hub->devices, "hub shutting down");
	hub_records_stop(hub);	/* the last records commit at the close */
}
