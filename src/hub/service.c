/* service.c - the running hub (see service.h). */
#include "hub/service.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hub/admission.h"
#include "hub/blocklist.h"
#include "hub/device.h"
#include "hub/frontdoor.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "hub/listener.h"
#include "hub/term.h"
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

static void dev_handshake_done(void *ctx, struct device *d)
{
	struct hub *hub = ctx;

	(void)d;
	if (hub->handshakes > 0)
		hub->handshakes--;
}

static void dev_ready(void *ctx, struct device *d, size_t ncaps)
{
	struct hub *hub = ctx;

	admission_connected(hub, d, ncaps);
	jobs_kick(hub, device_key(d));	/* what was kept for it runs now */
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
	admission_gone(hub, d);		/* the registry records why */
}

static const struct device_owner device_owner = {
	.admit = dev_admit,
	.refused = dev_refused,
	.handshake_done = dev_handshake_done,
	.ready = dev_ready,
	.busy = dev_busy,
	.gone = dev_gone,
};

/* ---- the door ---- */

/* A connection accepted on a listener: refused cheaply, before any
 * cryptography, when its source is blocked or too many handshakes are in
 * progress (RFC 8071 5: DoS through expensive handshakes); else a device
 * over SSH or TLS, by the listener. */
static void on_accepted(void *ctx, struct listener *l, int fd,
			const char *peer, const struct sockaddr *sa)
{
	struct hub *hub = ctx;
	struct device_owner owner = device_owner;
	struct device *d;
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
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	owner.ctx = hub;
	if (device_start(&hub->devcfg, &owner, fd, listener_tls(l), peer, sa,
			 hub->next_conn_id++, &d) != CH_OK)
		return;		/* fd closed, logged */
	hub->handshakes++;
	hub_link_device(hub, d);
}

static struct listener_ops listener_ops = {
	.accepted = on_accepted,
};

/* ---- start and stop ---- */

int service_start(struct hub *hub, const struct hub_ctl_ops *api)
{
	const struct hub_listen *ep;
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
	for (size_t i = 0; i < hub->cfg.nlisten; i++) {
		ep = &hub->cfg.listen[i];
		if ((r = listener_open(hub->loop, ep->host, ep->port, 0,
				       &listener_ops, &hub->listeners)) != CH_OK)
			return r;
	}
	for (size_t i = 0; i < hub->cfg.nlisten_tls; i++) {
		ep = &hub->cfg.listen_tls[i];
		if ((r = listener_open(hub->loop, ep->host, ep->port, 1,
				       &listener_ops, &hub->listeners)) != CH_OK)
			return r;
	}
	if ((r = frontdoor_start(hub)) != CH_OK)
		return r;
	if ((r = term_init(hub)) != CH_OK)
		return r;
	snprintf(path, sizeof(path), "%s/hub.sock", hub->cfg.state_dir);
	if ((r = hub_ctl_start(hub->loop, path, api, &hub->ctl)) != CH_OK) {
		if (r == CH_ERR_EXISTS)
			ch_error("control socket %s: another hub is running "
				 "on this state directory", path);
		else
			ch_log_r(CH_LOG_ERROR, r, "control socket %s", path);
		return r;
	}
	return CH_OK;
}

void service_stop(struct hub *hub)
{
	if (hub->stopping)
		return;
	hub->stopping = 1;
	listener_close_all(&hub->listeners);
	/* The API answers the operators waiting for jobs first (ops->stop),
	 * before the devices' closing can settle those jobs. */
	if (hub->ctl) {
		hub_ctl_stop(hub->ctl);
		hub->ctl = NULL;
	}
	frontdoor_stop(hub);
	term_stop_all(hub);
	while (hub->devices)
		device_close(hub->devices, "hub shutting down");
}
