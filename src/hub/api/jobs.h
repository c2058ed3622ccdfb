/* jobs.h - the operator commands that make jobs (rpc,
 * get-config, edit-config) and those on jobs (jobs, job, cancel, retry)
 * (docs/control-api.md). */
#ifndef CH_HUB_API_JOBS_H
#define CH_HUB_API_JOBS_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* Each answers req, now or later (hub_ctl_respond); args is borrowed. */
void cmd_rpc(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_get_config(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_edit_config(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_jobs(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_job(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_cancel(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_retry(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
