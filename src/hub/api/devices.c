/* devices.c - the operator commands on devices: list, show, approve,
 * add, rename, revoke, unrevoke, delete, set (docs/control-api.md).
 * What an operator changes is also an event on the device, naming who. */
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
	struct ch_select sel;
	json_t *arr, *obj;
	size_t i;
	int given;

	if (api_select_arg(req, args, &sel, &given) != 0)
		return;
	arr = json_array();
	/* the tags after the walk: one statement is stepped at a time */
	if (ch_store_device_select(hub->store, &sel, device_json, arr) != 0) {
		json_decref(arr);
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	json_array_foreach(arr, i, obj)
		api_device_tags(hub, json_string_value(json_object_get(obj,
				"fingerprint")), obj);
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
	api_device_tags(hub, rec.fingerprint, obj);
	if ((d = hub_find_device(hub, rec.fingerprint)) != NULL)
		json_object_set_new(obj, "capability_list",
				    device_caps_json(d));
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "device", obj));
}

/* Fails req unless name may name the device fp (NULL: a new device),
 * with the registry's one-line reason. */
static int name_ok(struct hub *hub, struct hub_ctl_req *req, const char *fp,
		   const char *name)
{
	char why[CH_STORE_TEXT_MAX];
	int r;

	if (name == NULL || *name == '\0')
		return 0;
	r = ch_store_name_check(hub->store, fp, name, why, sizeof(why));
	if (r == CH_OK)
		return 0;
	if (why[0] == '\0')
		snprintf(why, sizeof(why), "cannot check the name '%.64s': "
			 "%s", name, ch_strerror(r));
	hub_ctl_fail(req, r == CH_ERR_EXISTS ? "exists" : r == CH_ERR_INVAL
		     ? "bad-request" : "internal", why);
	return -1;
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
		snprintf(msg, sizeof(msg), "device %s is revoked; to admit it "
			 "again: callhome unrevoke %s", api_device_label(&rec),
			 api_device_label(&rec));
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if (name_ok(hub, req, rec.fingerprint, name) != 0)
		return;
	if (name && *name &&
	    (r = ch_store_device_rename(hub->store, rec.fingerprint, name))) {
		api_store_fail(req, r, "cannot name the device");
		return;
	}
	if (rec.admission != CH_ADMIT_ADMITTED) {
		ch_store_device_set_admission(hub->store, rec.fingerprint,
					      CH_ADMIT_ADMITTED);
		api_event(hub, req, rec.fingerprint, "approved", "admitted"
			  "%s%s (from its next call)", name && *name
			  ? " as " : "", name && *name ? name : "");
		ch_info("device=%s%s%s approved", rec.fingerprint,
			name && *name ? " name=" : rec.name[0] ? " name=" : "",
			name && *name ? name : rec.name);
	} else if (name && *name && strcmp(name, rec.name) != 0) {
		api_event(hub, req, rec.fingerprint, "renamed",
			  "'%s' -> '%s'", rec.name, name);
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
	struct ch_device_rec orec;
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
	/* the name of another device exactly (a prefix or serial it also
	 * matches is the name rule's) */
	if (name && *name &&
	    ch_store_device_resolve(hub->store, name, owner) == CH_OK &&
	    strcmp(owner, fp) != 0 &&
	    ch_store_device_get(hub->store, owner, &orec) == CH_OK &&
	    strcmp(orec.name, name) == 0) {
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
	if (name_ok(hub, req, fp, name) != 0)
		return;
	if ((r = ch_store_device_add(hub->store, fp, name && *name ? name
				     : NULL, CH_ADMIT_ADMITTED)) != CH_OK) {
		api_store_fail(req, r, "cannot add the device");
		return;
	}
	api_event(hub, req, fp, "added", "pre-provisioned, admitted%s%s",
		  name && *name ? ", named " : "", name && *name ? name : "");
	ch_info("device=%s%s%s added", fp, name && *name ? " name=" : "",
		name && *name ? name : "");
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
	struct device *d;
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (name == NULL) {
		hub_ctl_fail(req, "bad-request", "\"name\" is required (\"\" "
			     "removes the name)");
		return;
	}
	if (name_ok(hub, req, rec.fingerprint, name) != 0)
		return;
	if ((r = ch_store_device_rename(hub->store, rec.fingerprint, name))) {
		api_store_fail(req, r, "cannot rename the device");
		return;
	}
	api_audit_detail(req, "'%s' -> '%s'", rec.name, name);
	if ((d = hub_find_device(hub, rec.fingerprint)) != NULL)
		device_set_name(d, name);
	if (strcmp(rec.name, name) != 0) {
		api_event(hub, req, rec.fingerprint, "renamed", "'%s' -> '%s'",
			  rec.name, name);
		ch_info("device=%s name=%s renamed from '%s'", rec.fingerprint,
			name, rec.name);
	}
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
	api_event(hub, req, rec.fingerprint, "revoked", "revoked");
	/* Close first: a read-only job cut off by the close goes back to
	 * the queue, which is cancelled next. */
	n = admission_close_sessions(hub, rec.fingerprint, NULL, "identity revoked");
	cancel_queued(hub, rec.fingerprint, "device revoked");
	ch_info("device=%s%s%s revoked%s", rec.fingerprint,
		rec.name[0] ? " name=" : "", rec.name,
		n ? "; its session was closed" : "");
	api_audit_detail(req, "%s", n ? "its session was closed" : "");
	api_respond_device(hub, req, rec.fingerprint, "closed_session",
			   json_boolean(n > 0));
}

/* A revoked device admitted again: the operator undoes a revoke, so it
 * is admitted (not pending) from its next call. */
void cmd_unrevoke(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_device_rec rec;
	char msg[256];
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (rec.admission != CH_ADMIT_REVOKED) {
		snprintf(msg, sizeof(msg), "device %s is %s, not revoked",
			 api_device_label(&rec),
			 ch_admission_name(rec.admission));
		hub_ctl_fail(req, "invalid-state", msg);
		return;
	}
	if ((r = ch_store_device_set_admission(hub->store, rec.fingerprint,
					       CH_ADMIT_ADMITTED)) != CH_OK) {
		api_store_fail(req, r, "cannot admit the device again");
		return;
	}
	api_event(hub, req, rec.fingerprint, "unrevoked", "admitted again "
		  "(from its next call)");
	ch_info("device=%s%s%s unrevoked: admitted again", rec.fingerprint,
		rec.name[0] ? " name=" : "", rec.name);
	api_audit_detail(req, "revoked -> admitted");
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

struct job_ids {
	char text[CH_STORE_TEXT_MAX / 2];
	size_t len;
	int n;
};

static int note_job_id(void *ctx, const struct ch_job_rec *rec)
{
	struct job_ids *j = ctx;
	int k = snprintf(j->text + j->len, sizeof(j->text) - j->len, "%s%lld",
			 j->n++ ? ", " : "", (long long)rec->id);

	if (k > 0 && j->len + (size_t)k < sizeof(j->text))
		j->len += (size_t)k;
	return 0;
}

/* "device r1 has jobs 14, 13 queued: cancel ..." */
static void refuse_jobs(struct hub_ctl_req *req,
			const struct ch_device_rec *rec,
			const struct job_ids *j, const char *state,
			const char *advice)
{
	char msg[CH_STORE_TEXT_MAX];

	snprintf(msg, sizeof(msg), "device %s has %s %s %s: %s",
		 api_device_label(rec), j->n > 1 ? "jobs" : "job", j->text,
		 state, advice);
	hub_ctl_fail(req, "invalid-state", msg);
}

/* Removes the device's record and identities (its events stay, under
 * its fingerprint). Refused while a job runs on it; queued jobs refuse
 * it too unless "force", which cancels them. */
void cmd_delete(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	int force = json_is_true(json_object_get(args, "force"));
	struct job_ids running = { .len = 0 }, queued = { .len = 0 };
	struct ch_device_rec rec;
	int n, r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	ch_store_job_foreach(hub->store, rec.fingerprint, 0,
			     1u << CH_JOB_RUNNING, note_job_id, &running);
	ch_store_job_foreach(hub->store, rec.fingerprint, 0,
			     1u << CH_JOB_QUEUED, note_job_id, &queued);
	if (running.n) {
		refuse_jobs(req, &rec, &running, "running", "wait for the "
			    "outcome (callhome job ID)");
		return;
	}
	if (queued.n && !force) {
		refuse_jobs(req, &rec, &queued, "queued", "cancel (callhome "
			    "cancel ID) or delete with --force");
		return;
	}
	n = admission_close_sessions(hub, rec.fingerprint, NULL,
				     "device deleted");
	if (queued.n)
		cancel_queued(hub, rec.fingerprint, "device deleted");
	if ((r = ch_store_device_delete(hub->store, rec.fingerprint)) != CH_OK) {
		api_store_fail(req, r, "cannot delete the device");
		return;
	}
	api_event(hub, req, rec.fingerprint, "deleted", "device record "
		  "deleted%s%s%s%s%s", rec.name[0] ? " (was " : "", rec.name,
		  rec.name[0] ? ")" : "", queued.n ? "; cancelled jobs " : "",
		  queued.n ? queued.text : "");
	ch_info("device=%s%s%s deleted%s", rec.fingerprint,
		rec.name[0] ? " name=" : "", rec.name,
		n ? "; its session was closed" : "");
	api_audit_detail(req, "deleted%s%s%s%s", rec.name[0] ? " " : "",
			 rec.name, queued.n ? "; cancelled jobs " : "",
			 queued.n ? queued.text : "");
	hub_ctl_respond(req, json_pack("{s:b, s:s, s:b}", "ok", 1,
				       "fingerprint", rec.fingerprint,
				       "closed_session", n > 0));
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
