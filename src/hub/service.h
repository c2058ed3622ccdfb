/* service.h - the running hub (service.c): opens the listeners and the
 * control socket, keeps the door in front of every device (blocked
 * sources, the handshake limit), starts a device session for each
 * accepted connection and gives it its owner's operations - admission,
 * the registry's record, the job queue - and stops it all.
 */
#ifndef CH_HUB_SERVICE_H
#define CH_HUB_SERVICE_H

#include <jansson.h>

struct hub;
struct hub_ctl_ops;

/* Opens the listeners and the control socket, whose commands are api's
 * (api_ops in api/api.h: the API sits above, never called by name).
 * Borrows api until service_stop. A worker of several (hub->nworkers >
 * 1) listens with SO_REUSEPORT, has no socket of its own but serves the
 * control connections the supervisor hands it over hub->wlink_fd, and
 * answers the supervisor's questions with query (worker.h). */
int service_start(struct hub *hub, const struct hub_ctl_ops *api,
		  json_t *(*query)(struct hub *hub, const char *what,
				   json_t *args));
/* Closes listeners, the control socket (api->stop first) and devices; the
 * loop then runs out of handles and uv_run returns. Idempotent. */
void service_stop(struct hub *hub);

#endif
