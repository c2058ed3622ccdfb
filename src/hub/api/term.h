/* term.h - the operator commands that open a stream on a device: exec and
 * shell, and connect (a direct-tcpip channel to a host behind the device,
 * for `callhome forward` and `callhome connect`) (docs/control-api.md,
 * "Streams"). */
#ifndef CH_HUB_API_TERM_H
#define CH_HUB_API_TERM_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

void cmd_exec(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_shell(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_connect(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
