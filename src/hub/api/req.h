/* req.h - what the operator commands share: reading a request's
 * arguments, resolving its DEVICE, and the answers every command gives
 * (docs/control-api.md). On a failure each function has answered the
 * request already: the command just returns.
 */
#ifndef CH_HUB_API_REQ_H
#define CH_HUB_API_REQ_H

#include <jansson.h>

#include "hub/control.h"
#include "hub/registry/store.h"

struct hub;

/* The JSON form of a registry device (a new reference). */
json_t *api_device_obj(const struct ch_device_rec *rec);
/* The string argument key of a request, or NULL (borrowed from args). */
const char *api_arg(json_t *args, const char *key);
/* Resolves the operator's "device" argument to the registry record.
 * Fails the request and returns non-zero when it cannot. */
int api_device_arg(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		   struct ch_device_rec *rec);
/* Fails req with invalid-state unless the device is admitted. */
int api_admitted(struct hub_ctl_req *req, const struct ch_device_rec *rec);
/* Responds {"ok":true,"device":{...}} for fp, plus member key with val
 * when key is not NULL (takes ownership of val). */
void api_respond_device(struct hub *hub, struct hub_ctl_req *req,
			const char *fp, const char *key, json_t *val);
/* Fails req for a registry error r of the change named by what. */
void api_store_fail(struct hub_ctl_req *req, int r, const char *what);

#endif
