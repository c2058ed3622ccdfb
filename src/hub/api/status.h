/* status.h - `status`: what the hub is and does now, in one answer
 * (docs/control-api.md): its build, uptime, listeners, live sessions, the
 * fleet and the queue in numbers. */
#ifndef CH_HUB_API_STATUS_H
#define CH_HUB_API_STATUS_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

void cmd_status(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
