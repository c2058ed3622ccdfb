/* devices.c - the operator commands on devices: list, show, approve,
 * add, rename, revoke, set (docs/control-api.md). */
#include "hub/api/devices.h"

#include <stdio.h>
#include <string.h>

#include "hub/admission.h"
#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/id/identity.h"

static int device_json(void *ctx, const struct ch_device_rec *rec)
{
	json_array_append_new(ctx, api_device_obj(rec));
	return 0;
}

void cmd_devices(struct hub *hub, struct hub_ctl_req *req,
		 json_t *args)
{
	json_t *arr = json_array();

	(void)args;
	if (ch_store_device_foreach(hub->store, device_json, arr) != 0) {
		json_decref(arr);
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "devices", arr));
}

static int identity_json(void *ctx, const char *fp, int64_t added)
{
	(void)added;
	json_array_append_new(ctx, json_string(fp));
	return 0;
}

void cmd_device(struct hub *hub, struct hub_ctl_req *req,
		json_t *args)
{
	struct ch_device_rec rec;
	struct device *d;
	json_t *obj, *ids = json_array();
	int n = 0;

	if (api_device_arg(hub, req, args, &rec) != 0) {
		json_decref(ids);
		return;
	}
	ch_store_identity_foreach(hub->store, rec.fingerprint, identity_json,
				  ids);
	ch_store_job_count_queued(hub->store, rec.fingerprint, &n);
	obj = api_device_obj(&rec);
	json_object_set_new(obj, "identities", ids);
	json_object_set_new(obj, "queued_jobs", json_integer(n));
	if ((d = hub_find_device(hub, rec.fingerprint)) != NULL)
		json_object_set_new(obj, "capability_list",
				    device_caps_json(d));
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "device", obj));
}

void cmd_approve(struct hub *hub, struct hub_ctl_req *req,
		 json_t *args)
{
	const char *name = api_arg(args, "name");
	struct ch_device_rec rec;
	char msg[256];
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (rec.admission == CH_ADMIT_REVOKED) {
		snprintf(msg, sizeof(msg), "device %s is revoked; add it again "
			 "with a new key", rec.fingerprint);
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if (name && *name &&
	    (r = ch_store_device_rename(hub->store, rec.fingerprint, name))) {
		api_store_fail(req, r, "cannot name the device");
		return;
	}
	if (rec.admission != CH_ADMIT_ADMITTED) {
		ch_store_device_set_admission(hub->store, rec.fingerprint,
					      CH_ADMIT_ADMITTED);
		hub_event(hub, rec.fingerprint, "approved",
			  "admitted by the operator; from its next call");
		ch_info("device=%s approved", rec.fingerprint);
	}
	api_audit_detail(req, "%s%s%s", rec.admission != CH_ADMIT_ADMITTED
			 ? "admitted" : "already admitted", name && *name
			 ? ", named " : "", name && *name ? name : "");
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

void cmd_add(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	const char *name = api_arg(args, "name");
	const char *ssh_fp = api_arg(args, "fingerprint");
	const char *serial = api_arg(args, "serial");
	const char *cert = api_arg(args, "cert_fingerprint");
	char owner[CH_FP_LEN], msg[512], id[CH_FP_LEN];
	const char *fp = id;
	int r;

	if (!!ssh_fp + !!serial + !!cert != 1) {
		hub_ctl_fail(req, "bad-request", "give exactly one of "
			     "\"fingerprint\" (SSH host key), \"serial\" "
			     "(X520 serialNumber) or \"cert_fingerprint\"");
		return;
	}
	if (ssh_fp && !ch_id_ssh_valid(ssh_fp)) {
		hub_ctl_fail(req, "bad-request", "\"fingerprint\" must be "
			     "SHA256: and 43 base64 characters, as "
			     "`ssh-keygen -lf` prints it");
		return;
	}
	if (serial && !ch_serial_valid(serial)) {
		hub_ctl_fail(req, "bad-request", "\"serial\" must be 1 to 64 "
			     "of A-Z a-z 0-9 ' ( ) + - . / : = ?");
		return;
	}
	if (cert && !ch_id_cert_normalize(cert, id, sizeof(id))) {
		hub_ctl_fail(req, "bad-request", "\"cert_fingerprint\" must "
			     "be a SHA-256 certificate fingerprint: 04:AB:... "
			     "(RFC 7407), SHA256:<64 hex> or AB:CD:... as "
			     "`openssl x509 -fingerprint -sha256` prints it");
		return;
	}
	if (ssh_fp)
		snprintf(id, sizeof(id), "%s", ssh_fp);
	else if (serial)
		snprintf(id, sizeof(id), CH_ID_SERIAL_PREFIX "%.64s", serial);
	if (name && *name &&
	    ch_store_device_resolve(hub->store, name, owner) == CH_OK &&
	    strcmp(owner, fp) != 0) {
		/* A name comes with its key: another key for it must be an
		 * explicit identity change, never a silent takeover. */
		snprintf(msg, sizeof(msg), "add of '%.64s' with key %s refused: "
			 "the name belongs to %s", name, fp, owner);
		hub_event(hub, owner, "identity-mismatch", msg);
		snprintf(msg, sizeof(msg), "'%.64s' already belongs to device %s;"
			 " to give it another key: callhome identity add %.64s "
			 "%s", name, owner, name, fp);
		hub_ctl_fail(req, "exists", msg);
		return;
	}
	if ((r = ch_store_device_add(hub->store, fp, name && *name ? name
				     : NULL, CH_ADMIT_ADMITTED)) != CH_OK) {
		api_store_fail(req, r, "cannot add the device");
		return;
	}
	hub_event(hub, fp, "added", "pre-provisioned by the operator");
	api_audit_device(req, fp);
	api_audit_detail(req, "%s%s", name && *name ? "named " : "unnamed",
			 name && *name ? name : "");
	api_respond_device(hub, req, fp, NULL, NULL);
}

void cmd_rename(struct hub *hub, struct hub_ctl_req *req,
		json_t *args)
{
	const char *name = api_arg(args, "name");
	struct ch_device_rec rec;
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (name == NULL) {
		hub_ctl_fail(req, "bad-request", "\"name\" is required (\"\" "
			     "removes the name)");
		return;
	}
	if ((r = ch_store_device_rename(hub->store, rec.fingerprint, name))) {
		api_store_fail(req, r, "cannot rename the device");
		return;
	}
	api_audit_detail(req, "'%s' -> '%s'", rec.name, name);
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

static int collect_job_id(void *ctx, const struct ch_job_rec *rec)
{
	json_array_append_new(ctx, json_integer(rec->id));
	return 0;
}

/* A revoked device will never run its queue: cancel it, and say so. */
static void cancel_queued(struct hub *hub, const char *fp, const char *why)
{
	json_t *ids = json_array(), *v;
	char detail[128];
	size_t i;

	ch_store_job_foreach(hub->store, fp, 0, 1u << CH_JOB_QUEUED,
			     collect_job_id, ids);
	json_array_foreach(ids, i, v) {
		int64_t id = json_integer_value(v);

		if (ch_store_job_cancel(hub->store, id, hub_now_s()) != CH_OK)
			continue;
		snprintf(detail, sizeof(detail), "job %lld cancelled: %s",
			 (long long)id, why);
		hub_event(hub, fp, "job-cancelled", detail);
		jobs_notify(hub, id);
	}
	json_decref(ids);
}

void cmd_revoke(struct hub *hub, struct hub_ctl_req *req,
		json_t *args)
{
	struct ch_device_rec rec;
	int n;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	ch_store_device_set_admission(hub->store, rec.fingerprint,
				      CH_ADMIT_REVOKED);
	hub_event(hub, rec.fingerprint, "revoked", "revoked by the operator");
	/* Close first: a read-only job cut off by the close goes back to
	 * the queue, which is cancelled next. */
	n = admission_close_sessions(hub, rec.fingerprint, NULL, "identity revoked");
	cancel_queued(hub, rec.fingerprint, "device revoked");
	ch_info("device=%s revoked%s", rec.fingerprint,
		n ? "; its session was closed" : "");
	api_audit_detail(req, "%s", n ? "its session was closed" : "");
	api_respond_device(hub, req, rec.fingerprint, "closed_session",
			   json_boolean(n > 0));
}

/* Per-device settings: {"idle_close": seconds | null (the hub's default)}. */
void cmd_set(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	json_t *jic = json_object_get(args, "idle_close");
	struct ch_device_rec rec;
	struct device *d;
	json_int_t v;
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (jic == NULL) {
		hub_ctl_fail(req, "bad-request", "nothing to set: give "
			     "\"idle_close\" (seconds, 0 = never, null = the "
			     "hub's default)");
		return;
	}
	v = json_is_null(jic) ? -1 : json_is_integer(jic)
		? json_integer_value(jic) : -2;
	if (v < -1 || v > 7 * 86400) {
		hub_ctl_fail(req, "bad-request", "\"idle_close\" must be 0 to "
			     "604800 seconds, or null");
		return;
	}
	if ((r = ch_store_device_set_idle_close(hub->store, rec.fingerprint,
						 (int)v)) != CH_OK) {
		api_store_fail(req, r, "cannot change the device");
		return;
	}
	api_audit_detail(req, v < 0 ? "idle_close: the hub's default"
			 : "idle_close: %lld s", (long long)v);
	if ((d = hub_find_device(hub, rec.fingerprint)) != NULL)
		device_set_idle_close(d, v >= 0 ? (uint32_t)v
						: hub->cfg.idle_close_s);
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}
