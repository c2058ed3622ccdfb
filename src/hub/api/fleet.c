/* fleet.c - tags on devices and batches of jobs (fleet.h). A tag change
 * is an event on the device naming who made it, as a rename is. */
#include "hub/api/fleet.h"

#include <stdio.h>
#include <string.h>

#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "hub/select.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

/* The "tags" array of strings (1 to CH_TAG_PER_DEVICE_MAX) into t;
 * value_optional for untag. Fails req and returns -1 when not. */
static int tags_arg(struct hub_ctl_req *req, json_t *args,
		    int value_optional, struct ch_tag *t, size_t *n)
{
	json_t *arr = json_object_get(args, "tags"), *v;
	char why[256];
	size_t i;

	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > CH_TAG_PER_DEVICE_MAX) {
		hub_ctl_fail(req, "bad-request", value_optional
			     ? "\"tags\" is an array of 1 to "
			     CH_STR(CH_TAG_PER_DEVICE_MAX) " \"key\" or "
			     "\"key=value\"" : "\"tags\" is an array of 1 to "
			     CH_STR(CH_TAG_PER_DEVICE_MAX) " \"key=value\"");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL) {
			hub_ctl_fail(req, "bad-request", "\"tags\": each is a "
				     "string");
			return -1;
		}
		if (hub_tag_parse(s, value_optional, &t[i], why, sizeof(why))
		    != CH_OK) {
			hub_ctl_fail(req, "bad-request", why);
			return -1;
		}
	}
	*n = i;
	return 0;
}

/* Appends "key=value" (or "key") to text. */
static void add_text(char *text, size_t size, size_t *used,
		     const struct ch_tag *t)
{
	int k = snprintf(text + *used, size - *used, "%s%s%s%s",
			 *used ? " " : "", t->key, t->value[0] ? "=" : "",
			 t->value);

	if (k > 0 && *used + (size_t)k < size)
		*used += (size_t)k;
}

/* What changed is an event naming who, and the audit's detail; before
 * the answer, which ends the request. */
static void tags_changed(struct hub *hub, struct hub_ctl_req *req,
			 const struct ch_device_rec *rec, const char *kind,
			 const char *text)
{
	api_event(hub, req, rec->fingerprint, kind, "%s", text);
	api_audit_detail(req, "%s", text);
	ch_info("device=%s%s%s %s %s", rec->fingerprint,
		rec->name[0] ? " name=" : "", rec->name, kind, text);
}

void cmd_tag(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_tag t[CH_TAG_PER_DEVICE_MAX];
	struct ch_device_rec rec;
	char text[CH_STORE_TEXT_MAX / 2], msg[256];
	size_t n, used = 0;
	int changed, r;

	text[0] = '\0';
	if (api_device_arg(hub, req, args, &rec) != 0 ||
	    tags_arg(req, args, 0, t, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		r = ch_store_tag_set(hub->store, rec.fingerprint, t[i].key,
				     t[i].value, &changed);
		if (r == CH_ERR_LIMIT) {
			snprintf(msg, sizeof(msg), "device %s has "
				 CH_STR(CH_TAG_PER_DEVICE_MAX) " tags, the "
				 "most it may have: %s=%s not added%s%s",
				 api_device_label(&rec), t[i].key, t[i].value,
				 used ? "; added: " : "", text);
			if (used)
				tags_changed(hub, req, &rec, "tagged", text);
			hub_ctl_fail(req, "limit", msg);
			return;
		}
		if (r != CH_OK) {
			if (used)
				tags_changed(hub, req, &rec, "tagged", text);
			api_store_fail(req, r, "cannot tag the device");
			return;
		}
		if (changed)
			add_text(text, sizeof(text), &used, &t[i]);
	}
	if (used)
		tags_changed(hub, req, &rec, "tagged", text);
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

void cmd_untag(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_tag t[CH_TAG_PER_DEVICE_MAX];
	struct ch_device_rec rec;
	char text[CH_STORE_TEXT_MAX / 2];
	size_t n, used = 0;
	int removed, r;

	text[0] = '\0';
	if (api_device_arg(hub, req, args, &rec) != 0 ||
	    tags_arg(req, args, 1, t, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		r = ch_store_tag_unset(hub->store, rec.fingerprint, t[i].key,
				       t[i].value[0] ? t[i].value : NULL,
				       &removed);
		if (r != CH_OK) {
			if (used)
				tags_changed(hub, req, &rec, "untagged", text);
			api_store_fail(req, r, "cannot untag the device");
			return;
		}
		if (removed)
			add_text(text, sizeof(text), &used, &t[i]);
	}
	if (used)
		tags_changed(hub, req, &rec, "untagged", text);
	api_respond_device(hub, req, rec.fingerprint, NULL, NULL);
}

/* The batch named by "id": CH_OK, or req failed. */
static int batch_arg(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		     struct ch_batch_rec *b)
{
	json_t *jid = json_object_get(args, "id");
	char msg[96];

	if (!json_is_integer(jid)) {
		hub_ctl_fail(req, "bad-request", "\"id\" (a batch number) is "
			     "required");
		return -1;
	}
	if (ch_store_batch_get(hub->store, json_integer_value(jid), b) !=
	    CH_OK) {
		snprintf(msg, sizeof(msg), "no batch %lld",
			 (long long)json_integer_value(jid));
		hub_ctl_fail(req, "not-found", msg);
		return -1;
	}
	return 0;
}

void cmd_batch(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	json_t *jw = json_object_get(args, "wait"), *resp;
	struct ch_batch_rec b;

	if (jw && !json_is_boolean(jw)) {
		hub_ctl_fail(req, "bad-request", "\"wait\" must be true or "
			     "false");
		return;
	}
	if (batch_arg(hub, req, args, &b) != 0)
		return;
	if (json_is_true(jw)) {
		jobs_batch_wait(hub, b.id, req);
		return;
	}
	if ((resp = jobs_batch_response(hub, b.id)) == NULL) {
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	hub_ctl_respond(req, resp);
}

static int batch_json_cb(void *ctx, const struct ch_batch_rec *b)
{
	json_array_append_new(ctx, jobs_batch_json(b));
	return 0;
}

void cmd_batches(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	json_t *jl = json_object_get(args, "limit");
	json_t *arr = json_array();

	if (ch_store_batch_foreach(hub->store, jl ? (int)json_integer_value(jl)
				   : CH_HUB_LIST_DEFAULT, batch_json_cb, arr)
	    != CH_OK) {
		json_decref(arr);
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "batches", arr));
}

static int collect_queued(void *ctx, const struct ch_job_rec *rec)
{
	json_array_append_new(ctx, json_pack("{s:I, s:s}", "id",
					     (json_int_t)rec->id, "fp",
					     rec->fingerprint));
	return 0;
}

/* Cancels the batch's jobs not yet started; the running ones finish. */
void cmd_batch_cancel(struct hub *hub, struct hub_ctl_req *req,
		      json_t *args)
{
	struct ch_batch_rec b;
	json_t *todo = json_array(), *v, *resp;
	char detail[160], who[HUB_ACTOR_STR_MAX];
	size_t i;
	int n = 0;

	if (batch_arg(hub, req, args, &b) != 0) {
		json_decref(todo);
		return;
	}
	ch_store_batch_jobs(hub->store, b.id, 1u << CH_JOB_QUEUED,
			    collect_queued, todo);
	hub_actor_str(hub_ctl_actor(req), who, sizeof(who));
	json_array_foreach(todo, i, v) {
		int64_t id = json_integer_value(json_object_get(v, "id"));
		const char *fp = json_string_value(json_object_get(v, "fp"));

		if (ch_store_job_cancel(hub->store, id, hub_now_s()) != CH_OK)
			continue;	/* it started meanwhile */
		n++;
		snprintf(detail, sizeof(detail), "job %lld cancelled with "
			 "batch %lld by %s", (long long)id, (long long)b.id,
			 who);
		hub_event(hub, fp, "job-cancelled", detail);
		jobs_notify(hub, id);
	}
	json_decref(todo);
	ch_info("batch=%lld cancelled by %s: %d queued jobs", (long long)b.id,
		who, n);
	api_audit_detail(req, "batch %lld: %d queued jobs cancelled",
			 (long long)b.id, n);
	if ((resp = jobs_batch_response(hub, b.id)) == NULL) {
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	json_object_set_new(resp, "cancelled", json_integer(n));
	hub_ctl_respond(req, resp);
}
