/* fleet.h - the operator commands on a fleet: tags (tag, untag) and
 * batches of jobs (batch, batches, batch-cancel); a batch is made by rpc,
 * get-config or edit-config with a selection (api/jobs.c)
 * (docs/control-api.md, docs/operations.md). */
#ifndef CH_HUB_API_FLEET_H
#define CH_HUB_API_FLEET_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* Each answers req, now or later (hub_ctl_respond); args is borrowed. */
void cmd_tag(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_untag(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_batch(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_batches(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_batch_cancel(struct hub *hub, struct hub_ctl_req *req,
		      json_t *args);

#endif
