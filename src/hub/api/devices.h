/* devices.h - the operator commands on devices: devices, device,
 * approve, add, rename, revoke, set (docs/control-api.md). */
#ifndef CH_HUB_API_DEVICES_H
#define CH_HUB_API_DEVICES_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* Each answers req, now or later (hub_ctl_respond); args is borrowed. */
void cmd_devices(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_device(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_approve(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_add(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_rename(struct hub *hub, struct hub_ctl_req *req, json_t *args);
/* Also closes the device's sessions and cancels its queued jobs. */
void cmd_revoke(struct hub *hub, struct hub_ctl_req *req, json_t *args);
/* A revoked device admitted again (from its next call). */
void cmd_unrevoke(struct hub *hub, struct hub_ctl_req *req, json_t *args);
/* Removes the device's record and identities; its events stay. Refused
 * while a job runs on it, or is queued unless {"force": true}, which
 * cancels them. Closes its session. */
void cmd_delete(struct hub *hub, struct hub_ctl_req *req, json_t *args);
/* Per-device settings: {"idle_close": seconds | null}. */
void cmd_set(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
