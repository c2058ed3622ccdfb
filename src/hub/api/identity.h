/* identity.h - the operator commands on identities: identity-add,
 * identity-remove, import-serials, import-keys (docs/control-api.md). */
#ifndef CH_HUB_API_IDENTITY_H
#define CH_HUB_API_IDENTITY_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* Each answers req, now or later (hub_ctl_respond); args is borrowed. */
void cmd_identity_add(struct hub *hub, struct hub_ctl_req *req,
		      json_t *args);
/* Also closes the sessions that presented the identity. */
void cmd_identity_remove(struct hub *hub, struct hub_ctl_req *req,
			 json_t *args);
/* A manufacturer's serial list: devices admitted at their first call. */
void cmd_import_serials(struct hub *hub, struct hub_ctl_req *req,
			json_t *args);
/* SSH host keys (.pub lines, known_hosts): likewise. */
void cmd_import_keys(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
