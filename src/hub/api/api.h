/* api.h - the hub's operator API: one table of commands behind the
 * control socket (docs/control-api.md). The API sits above the hub: it
 * uses the registry, the job runner and the live devices, and the hub
 * reaches it only through the ops that main hands to service_start.
 */
#ifndef CH_HUB_API_H
#define CH_HUB_API_H

#include "hub/control.h"

struct hub;

/* The control socket's ops, bound to hub: dispatch by the command table;
 * at stop, operators still waiting for a job are answered. The ops are
 * one static object: one hub per process. */
const struct hub_ctl_ops *api_ops(struct hub *hub);
/* A worker's part of a question the supervisor answers from all of them
 * (supervisor.h): "status" (api_status_live) or "sessions" ({"sessions":
 * [...]}, of the device args["fp"] or all); NULL for anything else. */
json_t *api_query(struct hub *hub, const char *what, json_t *args);

#endif
