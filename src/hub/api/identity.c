/* identity.c - the operator commands on identities: another key or
 * certificate for a device, its removal, and a manufacturer's serial list
 * (docs/control-api.md). */
#include "hub/api/identity.h"

#include <stdio.h>
#include <string.h>

#include "hub/api/req.h"
#include "hub/hub.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/id/identity.h"

#define IDENTITY_FORMS "an SSH fingerprint (SHA256: and 43 base64 " \
	"characters), serial:SERIAL, or a SHA-256 certificate fingerprint " \
	"(04:AB:..., SHA256:<64 hex>, or AB:CD:... as openssl prints it)"

void cmd_identity_add(struct hub *hub, struct hub_ctl_req *req,
		      json_t *args)
{
	char id[CH_FP_LEN];
	const char *fp = id;
	struct ch_device_rec rec;
	char detail[256];
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (!ch_id_normalize(api_arg(args, "fingerprint"), id, sizeof(id))) {
		hub_ctl_fail(req, "bad-request", "\"fingerprint\" must be "
			     IDENTITY_FORMS);
		return;
	}
	if ((r = ch_store_identity_add(hub->store, rec.fingerprint, fp,
				       hub_now_s())) != CH_OK) {
		api_store_fail(req, r, "cannot add the identity");
		return;
	}
	snprintf(detail, sizeof(detail), "new %s %s",
		 ch_id_kind(fp) == CH_ID_SSH ? "key" : "identity", fp);
	hub_event(hub, rec.fingerprint, "identity-added", detail);
	api_audit_detail(req, "%s", detail);
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

void cmd_identity_remove(struct hub *hub, struct hub_ctl_req *req,
			 json_t *args)
{
	const char *fp = api_arg(args, "fingerprint");
	struct ch_device_rec rec;
	struct device *d, *next;
	char id[CH_FP_LEN], msg[512];
	int r;

	if (ch_id_normalize(fp, id, sizeof(id)))
		fp = id;	/* a certificate fingerprint in another form */
	if (fp == NULL || *fp == '\0') {
		hub_ctl_fail(req, "bad-request", "\"fingerprint\" (the "
			     "identity to remove) is required");
		return;
	}
	/* the device it belonged to, while it still does */
	if (ch_store_device_get(hub->store, fp, &rec) != CH_OK) {
		snprintf(msg, sizeof(msg), "no device has the identity "
			 "'%.200s'", fp);
		hub_ctl_fail(req, "not-found", msg);
		return;
	}
	api_audit_device(req, rec.fingerprint);
	api_audit_detail(req, "removed %s", fp);
	if (strcmp(fp, rec.fingerprint) == 0) {
		snprintf(msg, sizeof(msg), "%s is the primary identity of "
			 "device %s (its record's key) and cannot be removed; "
			 "to retire it, delete the device (callhome delete %s) "
			 "and add it again under another identity, or revoke "
			 "it", fp, api_device_label(&rec),
			 api_device_label(&rec));
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if ((r = ch_store_identity_remove(hub->store, fp)) != CH_OK) {
		api_store_fail(req, r, "cannot remove the identity");
		return;
	}
	api_event(hub, req, rec.fingerprint, "identity-removed", "%s", fp);
	for (d = hub->devices; d; d = next) {	/* sessions with that key */
		next = device_next(d);
		if (strcmp(device_fingerprint(d), fp) == 0) {
			device_close(d, "identity removed");
			next = hub->devices;
		}
	}
	hub_ctl_respond(req, json_pack("{s:b}", "ok", 1));
}

static void import_bad(void *ctx, unsigned line, const char *why)
{
	if (json_array_size(ctx) < CH_HUB_IMPORT_MAX_ERRORS)
		json_array_append_new(ctx, json_pack("{s:i, s:s}", "line",
						     (int)line, "error", why));
}

/* Either list into the registry; "text" is the list, anchor its CA's
 * fingerprint (serial lists) or NULL. */
static void import_list(struct hub *hub, struct hub_ctl_req *req,
			json_t *args, enum ch_import_list list,
			const char *anchor, const char *what)
{
	json_t *jt = json_object_get(args, "text"), *errs;
	struct ch_import_counts c;
	char msg[160];
	int r;

	if (!json_is_string(jt)) {
		snprintf(msg, sizeof(msg), "\"text\" (the list: %s) is "
			 "required", list == CH_IMPORT_SERIALS ? "one serial "
			 "per line, optionally ,NAME" : "one [NAME] TYPE "
			 "BASE64 per line");
		hub_ctl_fail(req, "bad-request", msg);
		return;
	}
	errs = json_array();
	r = ch_store_import(hub->store, list, json_string_value(jt),
			    json_string_length(jt), anchor, hub_now_s(), &c,
			    import_bad, errs);
	if (r != CH_OK) {
		json_decref(errs);
		if (r == CH_ERR_LIMIT) {
			snprintf(msg, sizeof(msg), "the list has more than %d "
				 "lines: split it", CH_IMPORT_MAX_LINES);
			hub_ctl_fail(req, "too-large", msg);
		} else {
			snprintf(msg, sizeof(msg), "cannot import the %s",
				 what);
			api_store_fail(req, r, msg);
		}
		return;
	}
	ch_info("imported %s: %d added, %d already known (%d of them now "
		"admitted), %d invalid", what, c.added, c.known, c.approved,
		c.invalid);
	api_audit_detail(req, "%d added, %d already known (%d of them now "
			 "admitted), %d invalid", c.added, c.known,
			 c.approved, c.invalid);
	hub_ctl_respond(req, json_pack("{s:b, s:i, s:i, s:i, s:i, s:o}",
				       "ok", 1, "added", c.added, "known",
				       c.known, "approved", c.approved,
				       "invalid", c.invalid, "errors", errs));
}

/* A manufacturer's list of serial numbers: devices admitted at their
 * first call (TLS, RFC 8071 C6: identifiers known before the call). */
void cmd_import_serials(struct hub *hub, struct hub_ctl_req *req,
			json_t *args)
{
	const char *anchor_arg = api_arg(args, "anchor");
	char anchor[CH_FP_LEN];

	if (anchor_arg &&
	    !ch_id_cert_normalize(anchor_arg, anchor, sizeof(anchor))) {
		hub_ctl_fail(req, "bad-request", "\"anchor\" must be the "
			     "SHA-256 fingerprint of the manufacturer's CA "
			     "certificate (x509:SHA256:<hex>, SHA256:<hex> "
			     "or AB:CD:...)");
		return;
	}
	import_list(hub, req, args, CH_IMPORT_SERIALS,
		    anchor_arg ? anchor : NULL, "serials");
}

/* Devices' SSH host keys, as .pub lines or a known_hosts file: admitted
 * at their first call (what `callhome add --fingerprint` does, many at
 * once). */
void cmd_import_keys(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	import_list(hub, req, args, CH_IMPORT_HOST_KEYS, NULL, "host keys");
}
