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
/* The request's "select" (hub/select.h) into sel; *given is 1 when it
 * selects anything. Fails the request and returns non-zero when it is
 * not a selection. */
int api_select_arg(struct hub_ctl_req *req, json_t *args,
		   struct ch_select *sel, int *given);
/* Adds the device fp's "tags" ({"key": "value"}) and "groups"
 * (["NAME"]) to obj. */
void api_device_tags(struct hub *hub, const char *fp, json_t *obj);
/* Fails req with invalid-state unless the device is admitted. */
int api_admitted(struct hub_ctl_req *req, const struct ch_device_rec *rec);
/* Responds {"ok":true,"device":{...}} for fp, plus member key with val
 * when key is not NULL (takes ownership of val). */
void api_respond_device(struct hub *hub, struct hub_ctl_req *req,
			const char *fp, const char *key, json_t *val);
/* An event on the device fp caused by req's operator: detail, printf-
 * style, gets " by NAME(uid=N)" appended. */
void api_event(struct hub *hub, struct hub_ctl_req *req, const char *fp,
	       const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* How a device is called in texts: its name, else its fingerprint. */
const char *api_device_label(const struct ch_device_rec *rec);
/* Fails req for a registry error r of the change named by what. */
void api_store_fail(struct hub_ctl_req *req, int r, const char *what);

/* ---- the audit of a command that changes something (hub_audit) ----
 *
 * The dispatch gives such a request a note naming its action; whatever
 * the command does, its answer is audited when it goes (api_answered):
 * a failure as "refused" ("failed" for the hub's own errors) with the
 * error's code and text, a success as "ok" with the detail the command
 * set, on the device it resolved. Without a note every call is a no-op.
 */

/* Dispatch: req is action's (a static string). */
void api_audit_begin(struct hub_ctl_req *req, const char *action);
/* The action is another than the dispatch's (a shell that attaches). */
void api_audit_action(struct hub_ctl_req *req, const char *action);
/* The device the request is about (its key). api_device_arg sets it. */
void api_audit_device(struct hub_ctl_req *req, const char *fp);
/* The detail of a success, printf-style. */
void api_audit_detail(struct hub_ctl_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Records the success now, not when the answer goes (a job whose
 * operator waits for its outcome). */
void api_audit_now(struct hub *hub, struct hub_ctl_req *req);
/* The success is another module's to record (a stream's start, with its
 * id): only a failure is audited here. */
void api_audit_elsewhere(struct hub_ctl_req *req);
/* The control socket's answered(): audits and frees the note. */
void api_answered(struct hub *hub, struct hub_ctl_req *req, json_t *resp);

#endif
