/* req.c - what every operator command does with its request: read its
 * arguments, resolve its DEVICE, answer with a device or a failure. */
#include "hub/api/req.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub.h"
#include "hub/jobs.h"
#include "hub/select.h"
#include "lib/core/err.h"

json_t *api_device_obj(const struct ch_device_rec *rec)
{
	/* absent is null, never "" (docs/control-api.md, "--json") */
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s?, s:o, s:o, s:o, s:i, "
			 "s:s?, s:o, s:o, s:o, s:i, s:o}",
		"fingerprint", rec->fingerprint,
		"kind", ch_id_kind_name(rec->kind),
		"name", rec->name[0] ? json_string(rec->name) : json_null(),
		"admission", ch_admission_name(rec->admission),
		"state", rec->connected ? "connected" : "disconnected",
		"address", rec->address[0] ? rec->address : NULL,
		"connected_since", jobs_time_json(rec->connected_since),
		"first_seen", jobs_time_json(rec->first_seen),
		"last_seen", jobs_time_json(rec->last_seen),
		"capabilities", rec->capabilities,
		"last_error", rec->last_error[0] ? rec->last_error : NULL,
		"idle_close", rec->idle_close >= 0
			? json_integer(rec->idle_close) : json_null(),
		"certificate", rec->cert_fp[0] ? json_string(rec->cert_fp)
					       : json_null(),
		"trust_anchor", rec->anchor[0] ? json_string(rec->anchor)
					       : json_null(),
		"refused_calls", rec->refused_calls,
		"last_refused", jobs_time_json(rec->last_refused));
}

const char *api_arg(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

struct match_list {
	struct ch_store *st;
	char text[CH_STORE_TEXT_MAX];
	size_t len;
	int n;
};

static int add_match(void *ctx, const char *fp)
{
	struct match_list *m = ctx;
	struct ch_device_rec rec;
	int k;

	if (m->n++ >= CH_HUB_AMBIGUOUS_LIST)
		return 0;	/* counted, not listed */
	if (ch_store_device_get(m->st, fp, &rec) != CH_OK)
		rec.name[0] = '\0';
	k = snprintf(m->text + m->len, sizeof(m->text) - m->len, "%s%s%s%s%s",
		     m->n > 1 ? ", " : "", fp, rec.name[0] ? " (" : "",
		     rec.name, rec.name[0] ? ")" : "");
	if (k > 0 && m->len + (size_t)k < sizeof(m->text))
		m->len += (size_t)k;
	return 0;
}

/* "'q' matches N devices: A (r1), B: give more of the fingerprint" */
static void ambiguous(struct hub *hub, struct hub_ctl_req *req,
		      const char *q)
{
	struct match_list m = { .st = hub->store };
	char msg[CH_STORE_TEXT_MAX + 320];

	ch_store_device_matches(hub->store, q, add_match, &m);
	if (m.n < 2) {	/* a name that is also a serial number */
		snprintf(msg, sizeof(msg), "'%.200s' is a device's name and "
			 "another device's serial number: give serial:%.200s "
			 "or the fingerprint", q, q);
	} else {
		snprintf(msg, sizeof(msg), "'%.200s' matches %d devices: %s%s; "
			 "give more of the fingerprint", q, m.n, m.text,
			 m.n > CH_HUB_AMBIGUOUS_LIST ? ", ..." : "");
	}
	hub_ctl_fail(req, "ambiguous", msg);
}

/* Resolves the operator's "device" argument to the registry record.
 * Fails the request and returns non-zero when it cannot. */
int api_device_arg(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		   struct ch_device_rec *rec)
{
	const char *q = api_arg(args, "device");
	char fp[CH_FP_LEN], msg[512];
	int r;

	if (q == NULL || *q == '\0') {
		hub_ctl_fail(req, "bad-request", "\"device\" (a name or a "
			     "fingerprint) is required");
		return -1;
	}
	r = ch_store_device_resolve(hub->store, q, fp);
	if (r == CH_OK)
		r = ch_store_device_get(hub->store, fp, rec);
	if (r == CH_ERR_AMBIGUOUS) {
		ambiguous(hub, req, q);
		return -1;
	}
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "no device named '%.200s' or with "
			 "that fingerprint", q);
		hub_ctl_fail(req, "not-found", msg);
		return -1;
	}
	api_audit_device(req, rec->fingerprint);
	return 0;
}

int api_select_arg(struct hub_ctl_req *req, json_t *args,
		   struct ch_select *sel, int *given)
{
	char why[256];

	if (hub_select_parse(json_object_get(args, "select"), sel, given, why,
			     sizeof(why)) != CH_OK) {
		hub_ctl_fail(req, "bad-request", why);
		return -1;
	}
	return 0;
}

struct tag_objs {
	json_t *tags, *groups;
};

static int tag_json(void *ctx, const char *key, const char *value)
{
	struct tag_objs *t = ctx;

	if (strcmp(key, CH_TAG_GROUP) == 0)
		json_array_append_new(t->groups, json_string(value));
	else
		json_object_set_new(t->tags, key, json_string(value));
	return 0;
}

void api_device_tags(struct hub *hub, const char *fp, json_t *obj)
{
	struct tag_objs t = { json_object(), json_array() };

	ch_store_tag_foreach(hub->store, fp, tag_json, &t);
	json_object_set_new(obj, "tags", t.tags);
	json_object_set_new(obj, "groups", t.groups);
}

int api_admitted(struct hub_ctl_req *req, const struct ch_device_rec *rec)
{
	char msg[512];

	if (rec->admission == CH_ADMIT_ADMITTED)
		return 0;
	snprintf(msg, sizeof(msg), "device %s is %s, not admitted%s",
		 rec->fingerprint, ch_admission_name(rec->admission),
		 rec->admission == CH_ADMIT_PENDING
		 ? ": approve it first (callhome approve)" : "");
	hub_ctl_fail(req, "invalid-state", msg);
	return -1;
}

/* Responds {"ok":true,"device":{...}} for fp, plus an optional member. */
void api_respond_device(struct hub *hub, struct hub_ctl_req *req,
			const char *fp, const char *key, json_t *val)
{
	struct ch_device_rec rec;
	json_t *resp;

	if (ch_store_device_get(hub->store, fp, &rec) != CH_OK) {
		json_decref(val);
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	resp = json_pack("{s:b, s:o}", "ok", 1, "device", api_device_obj(&rec));
	api_device_tags(hub, rec.fingerprint, json_object_get(resp, "device"));
	if (key)
		json_object_set_new(resp, key, val);
	hub_ctl_respond(req, resp);
}

void api_event(struct hub *hub, struct hub_ctl_req *req, const char *fp,
	       const char *kind, const char *fmt, ...)
{
	char detail[CH_STORE_TEXT_MAX], who[HUB_ACTOR_STR_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(detail))
		snprintf(detail + n, sizeof(detail) - (size_t)n, " by %s",
			 hub_actor_str(hub_ctl_actor(req), who, sizeof(who)));
	hub_event(hub, fp, kind, detail);
}

const char *api_device_label(const struct ch_device_rec *rec)
{
	return rec->name[0] ? rec->name : rec->fingerprint;
}

void api_store_fail(struct hub_ctl_req *req, int r, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", what, ch_strerror(r));
	hub_ctl_fail(req, r == CH_ERR_EXISTS ? "exists" :
		     r == CH_ERR_NOTFOUND ? "not-found" :
		     r == CH_ERR_INVAL ? "bad-request" : "internal", msg);
}

/* ---- audit ---- */

struct api_note {
	const char *action;
	char fp[CH_FP_LEN];		/* "" until known */
	char detail[CH_STORE_TEXT_MAX];
	int recorded;			/* nothing left to audit */
	int elsewhere;			/* a success is not ours to audit */
};

void api_audit_begin(struct hub_ctl_req *req, const char *action)
{
	struct api_note *n = calloc(1, sizeof(*n));

	if (n == NULL) {	/* the hub_audit log line still says it */
		ch_error("audit: out of memory for the note of %s", action);
		return;
	}
	n->action = action;
	hub_ctl_set_note(req, n);
}

void api_audit_action(struct hub_ctl_req *req, const char *action)
{
	struct api_note *n = hub_ctl_note(req);

	if (n)
		n->action = action;
}

void api_audit_device(struct hub_ctl_req *req, const char *fp)
{
	struct api_note *n = hub_ctl_note(req);

	if (n)
		snprintf(n->fp, sizeof(n->fp), "%s", fp);
}

void api_audit_detail(struct hub_ctl_req *req, const char *fmt, ...)
{
	struct api_note *n = hub_ctl_note(req);
	va_list ap;

	if (n == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(n->detail, sizeof(n->detail), fmt, ap);
	va_end(ap);
}

void api_audit_now(struct hub *hub, struct hub_ctl_req *req)
{
	struct api_note *n = hub_ctl_note(req);

	if (n == NULL || n->recorded)
		return;
	hub_audit(hub, hub_ctl_actor(req), n->fp[0] ? n->fp : NULL,
		  n->action, "ok", n->detail);
	n->recorded = 1;
}

void api_audit_elsewhere(struct hub_ctl_req *req)
{
	struct api_note *n = hub_ctl_note(req);

	if (n)
		n->elsewhere = 1;
}

void api_answered(struct hub *hub, struct hub_ctl_req *req, json_t *resp)
{
	struct api_note *n = hub_ctl_note(req);
	const char *code, *err;
	char detail[CH_STORE_TEXT_MAX];

	if (n == NULL)
		return;
	if (json_is_true(json_object_get(resp, "ok"))) {
		if (!n->elsewhere)
			api_audit_now(hub, req);
	} else if (!n->recorded) {
		code = json_string_value(json_object_get(resp, "code"));
		err = json_string_value(json_object_get(resp, "error"));
		snprintf(detail, sizeof(detail), "%s: %s",
			 code ? code : "internal", err ? err : "no answer");
		hub_audit(hub, hub_ctl_actor(req), n->fp[0] ? n->fp : NULL,
			  n->action, code == NULL || !strcmp(code, "internal")
			  || !strcmp(code, "closed") ? "failed" : "refused",
			  detail);
	}
	hub_ctl_set_note(req, NULL);
	free(n);
}
