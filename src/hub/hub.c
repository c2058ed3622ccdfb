/* hub.c - the hub's core: starting and stopping its listeners, control
 * socket and devices; the door in front of every device (blocked
 * sources, the handshake limit); the live devices and the event log.
 * Admission is admission.c, the operator commands api/, the job runner
 * jobs.c.
 */
#include "hub/hub.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hub/blocklist.h"
#include "hub/listener.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

int64_t hub_now_s(void)
{
	return (int64_t)time(NULL);
}

struct device *hub_find_device(struct hub *hub, const char *fp)
{
	for (struct device *d = hub->devices; d; d = device_next(d))
		if (device_is_ready(d) && strcmp(device_key(d), fp) == 0)
			return d;
	return NULL;
}

void hub_event(struct hub *hub, const char *fp, const char *kind,
	       const char *detail)
{
	ch_store_event_add(hub->store, fp, kind, detail, hub_now_s());
}

/* A connection accepted on a listener: refused cheaply, before any
 * cryptography, when its source is blocked or too many handshakes are in
 * progress (RFC 8071 5: DoS through expensive handshakes); else a device
 * over SSH or TLS, by the listener. */
static void on_accepted(void *ctx, struct listener *l, int fd,
			const char *peer, const struct sockaddr *sa)
{
	struct hub *hub = ctx;
	uint64_t refused;
	int one = 1;

	if (blocklist_blocked(hub->blocklist, sa, hub_now_s())) {
		if (listener_refused(l) % 1000 == 0)
			ch_info("listener %s: %s is blocked, refused",
				listener_addr(l), peer);
		close(fd);
		return;
	}
	if (hub->handshakes >= hub->cfg.max_handshakes) {
		if ((refused = listener_refused(l)) % 1000 == 0)
			ch_warn("listener %s: %zu handshakes in progress, "
				"refusing %s (%llu refused)", listener_addr(l),
				hub->handshakes, peer,
				(unsigned long long)refused + 1);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (listener_tls(l))
		tlsdev_start(hub, fd, peer, sa);
	else
		device_start(hub, fd, peer, sa);
}

static struct listener_ops listener_ops = {
	.accepted = on_accepted,
};

/* ---- start and stop ---- */

int hub_start(struct hub *hub, const struct hub_ctl_ops *api)
{
	const struct hub_listen *ep;
	char path[4096];
	int r;

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
	snprintf(path, sizeof(path), "%s/hub.sock", hub->cfg.state_dir);
	if ((r = hub_ctl_start(hub->loop, path, api, &hub->ctl)) != CH_OK) {
		ch_error("control socket %s: %s", path, r == CH_ERR_EXISTS
			 ? "another hub is running on this state directory"
			 : ch_strerror(r));
		return r;
	}
	return CH_OK;
}

void hub_stop(struct hub *hub)
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
	while (hub->devices)
		device_close(hub->devices, "hub shutting down");
}
