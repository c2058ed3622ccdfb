/* archive.h - the operator commands on the configuration archive
 * (hub/archive.h; docs/control-api.md, "Configuration archive"): one
 * version with its content, and the list of versions. The diff of two
 * is the CLI's (it asks for both): no diff runs in the hub's loop. */
#ifndef CH_HUB_API_ARCHIVE_H
#define CH_HUB_API_ARCHIVE_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

/* Each answers req, now; args is borrowed. */
void cmd_config(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_history(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
