/* audit.h - the operator command that reads the hub's audit log: who
 * did what to which device (docs/control-api.md, docs/terminal.md). */
#ifndef CH_HUB_API_AUDIT_H
#define CH_HUB_API_AUDIT_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* {"device":D, "since":T, "until":T, "actor":A, "limit":N}, each
 * optional (T unix seconds). Answers req now; args is borrowed. */
void cmd_audit(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
