/* status.h - `status`: what the hub is and does now, in one answer
 * (docs/control-api.md): its build, uptime, listeners, live sessions, the
 * fleet and the queue in numbers. */
#ifndef CH_HUB_API_STATUS_H
#define CH_HUB_API_STATUS_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

void cmd_status(struct hub *hub, struct hub_ctl_req *req, json_t *args);
/* What this process holds now: {"worker", "pid", "listeners",
 * "sessions": {...}, "blocked_sources"} (a new reference). */
json_t *api_status_live(struct hub *hub);
/* Answers a status request with the registry's counts and live (taken:
 * one process's api_status_live, or the sum of the workers'); workers
 * (taken, may be NULL): each worker's, listed as "worker_list". */
void api_status_respond(struct hub *hub, struct hub_ctl_req *req,
			json_t *live, json_t *workers);

#endif
