/* term.h - the operator commands that open a terminal stream on a device:
 * exec and shell (docs/control-api.md, "Streams"). */
#ifndef CH_HUB_API_TERM_H
#define CH_HUB_API_TERM_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

void cmd_exec(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_shell(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
