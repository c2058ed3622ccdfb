/* term.h - the operator commands that open or join a stream on a device:
 * exec and shell (a new session, or "attach"/"watch" an existing one),
 * connect (a direct-tcpip channel to a host behind the device, for
 * `callhome forward` and `callhome connect`); sessions, recordings and
 * play (docs/control-api.md, "Streams"). */
#ifndef CH_HUB_API_TERM_H
#define CH_HUB_API_TERM_H

#include <jansson.h>

#include "hub/control.h"

struct hub;

void cmd_exec(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_shell(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_connect(struct hub *hub, struct hub_ctl_req *req, json_t *args);
/* snmp: a UDP endpoint for the device while the connection lasts
 * (hub/snmp.h). */
void cmd_snmp(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_sessions(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_recordings(struct hub *hub, struct hub_ctl_req *req, json_t *args);
void cmd_play(struct hub *hub, struct hub_ctl_req *req, json_t *args);

#endif
