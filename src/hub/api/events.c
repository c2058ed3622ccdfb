/* events.c - the operator command that reads the registry's event log,
 * whole or since an id (`callhome events --follow`). */
#include "hub/api/events.h"

#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "lib/core/err.h"
#include "lib/id/identity.h"

struct events_walk {
	struct hub *hub;
	json_t *arr;
	int64_t last;
};

static int event_json_cb(void *ctx, const struct ch_event_rec *ev)
{
	struct events_walk *w = ctx;
	struct ch_device_rec rec;
	int known = ch_store_device_get(w->hub->store, ev->fingerprint,
					&rec) == CH_OK && rec.name[0];

	json_array_append_new(w->arr, json_pack(
		"{s:I, s:o, s:s?, s:o, s:s, s:s?}", "id", (json_int_t)ev->id,
		"time", jobs_time_json(ev->time),
		"device", ev->fingerprint[0] ? ev->fingerprint : NULL,
		"name", known ? json_string(rec.name) : json_null(),
		"kind", ev->kind, "detail", ev->detail[0] ? ev->detail : NULL));
	if (ev->id > w->last)
		w->last = ev->id;
	return 0;
}

void cmd_events(struct hub *hub, struct hub_ctl_req *req,
		json_t *args)
{
	struct events_walk w = { hub, NULL, 0 };
	struct ch_device_rec rec;
	json_t *js = json_object_get(args, "since");
	json_t *jl = json_object_get(args, "limit");
	const char *fp = NULL, *q = api_arg(args, "device");
	char id[CH_FP_LEN], key[CH_FP_LEN];
	int limit = jl ? (int)json_integer_value(jl) : 50, given;
	struct ch_select sel;

	/* A deleted device's events stay: its full identity still finds
	 * them when no device has it any more. */
	if (q && ch_id_normalize(q, id, sizeof(id)) &&
	    ch_store_device_resolve(hub->store, q, key) == CH_ERR_NOTFOUND) {
		fp = id;
	} else if (json_object_get(args, "device")) {
		if (api_device_arg(hub, req, args, &rec) != 0)
			return;
		fp = rec.fingerprint;
	}
	if (api_select_arg(req, args, &sel, &given) != 0)
		return;
	w.arr = json_array();
	if (given && fp == NULL) {
		if (js && json_is_integer(js))
			w.last = json_integer_value(js);
		ch_store_event_foreach_sel(hub->store, &sel, js &&
					   json_is_integer(js) ? w.last : -1,
					   limit, event_json_cb, &w);
	} else if (js && json_is_integer(js)) {
		w.last = json_integer_value(js);
		ch_store_event_foreach_since(hub->store, fp, w.last, limit,
					     event_json_cb, &w);
	} else {
		ch_store_event_foreach(hub->store, fp, limit, event_json_cb,
				       &w);
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o, s:I}", "ok", 1, "events",
				       w.arr, "last_id", (json_int_t)w.last));
}
