/* audit.c - the operator command that reads the audit log, filtered by
 * device, time and actor (the records are written by hub_audit). */
#include "hub/api/audit.h"

#include <stdio.h>

#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "lib/core/err.h"

struct audit_walk {
	struct hub *hub;
	json_t *arr;
};

static json_t *opt_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *opt_str(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static int audit_json_cb(void *ctx, const struct ch_audit_rec *a)
{
	struct audit_walk *w = ctx;
	struct ch_device_rec rec;
	int named = a->fingerprint[0] &&
		    ch_store_device_get(w->hub->store, a->fingerprint,
					&rec) == CH_OK && rec.name[0];

	json_array_append_new(w->arr, json_pack(
		"{s:I, s:o, s:s, s:o, s:s, s:o, s:o, s:s, s:s, s:o, s:o, s:o,"
		" s:o, s:o, s:o}",
		"id", (json_int_t)a->id, "time", jobs_time_json(a->time),
		"actor", a->actor, "uid", opt_int(a->uid), "via", a->via,
		"device", opt_str(a->fingerprint),
		"name", named ? json_string(rec.name) : json_null(),
		"action", a->action, "outcome", a->outcome,
		"detail", opt_str(a->detail),
		"recording", opt_str(a->recording),
		"exit_status", opt_int(a->exit_status),
		"bytes_in", opt_int(a->bytes_in),
		"bytes_out", opt_int(a->bytes_out),
		"duration_ms", opt_int(a->duration_ms)));
	return 0;
}

/* An optional whole number >= min: 0 and CH_OK when absent (or null). */
static int int_arg(struct hub_ctl_req *req, json_t *args, const char *key,
		   json_int_t min, int64_t *out)
{
	json_t *j = json_object_get(args, key);
	char msg[128];

	*out = 0;
	if (j == NULL || json_is_null(j))
		return CH_OK;
	if (!json_is_integer(j) || json_integer_value(j) < min) {
		snprintf(msg, sizeof(msg), "\"%s\" must be a whole number "
			 "from %lld", key, (long long)min);
		hub_ctl_fail(req, "bad-request", msg);
		return CH_ERR_INVAL;
	}
	*out = json_integer_value(j);
	return CH_OK;
}

void cmd_audit(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct audit_walk w = { hub, NULL };
	struct ch_audit_filter f = { 0 };
	struct ch_device_rec rec;
	json_t *ja = json_object_get(args, "actor");
	int64_t limit;
	int r;

	if (int_arg(req, args, "since", 0, &f.since) != CH_OK ||
	    int_arg(req, args, "until", 0, &f.until) != CH_OK ||
	    int_arg(req, args, "limit", 1, &limit) != CH_OK)
		return;
	if (ja && !json_is_null(ja) && (!json_is_string(ja) ||
					json_string_length(ja) == 0)) {
		hub_ctl_fail(req, "bad-request", "\"actor\" must be a user "
			     "name or a uid");
		return;
	}
	f.actor = json_string_value(ja);
	f.limit = limit == 0 ? CH_HUB_LIST_DEFAULT
		: limit > CH_CLI_MAX_LIMIT ? (int)CH_CLI_MAX_LIMIT : (int)limit;
	if (json_object_get(args, "device")) {
		if (api_device_arg(hub, req, args, &rec) != 0)
			return;
		f.fp = rec.fingerprint;
	}
	w.arr = json_array();
	if ((r = ch_store_audit_foreach(hub->store, &f, audit_json_cb,
					&w)) != CH_OK) {
		json_decref(w.arr);
		api_store_fail(req, r, "cannot read the audit log");
		return;
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "audit", w.arr));
}
