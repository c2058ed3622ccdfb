/* service.h - the running hub (service.c): opens the listeners and the
 * control socket, keeps the door in front of every device (blocked
 * sources, the handshake limit), starts a device session for each
 * accepted connection and gives it its owner's operations - admission,
 * the registry's record, the job queue - and stops it all.
 */
#ifndef CH_HUB_SERVICE_H
#define CH_HUB_SERVICE_H

struct hub;
struct hub_ctl_ops;

/* Opens the listeners and the control socket, whose commands are api's
 * (api_ops in api/api.h: the API sits above, never called by name).
 * Borrows api until service_stop. */
int service_start(struct hub *hub, const struct hub_ctl_ops *api);
/* Closes listeners, the control socket (api->stop first) and devices; the
 * loop then runs out of handles and uv_run returns. Idempotent. */
void service_stop(struct hub *hub);

#endif
