/* events.h - the operator command on the registry's event log
 * (docs/control-api.md). */
#ifndef CH_HUB_API_EVENTS_H
#define CH_HUB_API_EVENTS_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* Each answers req, now or later (hub_ctl_respond); args is borrowed. */
void cmd_events(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
