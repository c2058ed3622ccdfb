/* archive.c - the operator commands on the configuration archive: config
 * (one version) and history (every version kept). */
#include "hub/api/archive.h"

#include <stdio.h>
#include <time.h>

#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "lib/core/err.h"

/* A version's fields (and its content when it has one): a new ref. */
static json_t *version_json(const struct ch_config_rec *c)
{
	json_t *o = json_pack("{s:I, s:o, s:I, s:s, s:s?}",
			      "version", (json_int_t)c->version,
			      "time", jobs_time_json(c->time),
			      "size", (json_int_t)c->size,
			      "hash", c->hash,
			      "trigger", c->trigger[0] ? c->trigger : NULL);

	if (o && c->content)
		json_object_set_new(o, "content", json_string(c->content));
	return o;
}

/* An optional integer argument >= 1 (0 when absent); non-zero after
 * failing req when it is something else. */
static int positive_arg(struct hub_ctl_req *req, json_t *args,
			const char *key, int64_t *out)
{
	json_t *v = json_object_get(args, key);
	char msg[128];

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		snprintf(msg, sizeof(msg), "\"%s\" must be a positive "
			 "integer", key);
		hub_ctl_fail(req, "bad-request", msg);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

void cmd_config(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_device_rec rec;
	struct ch_config_rec c;
	char msg[CH_STORE_TEXT_MAX], when[32];
	int64_t version, at;
	struct tm tm;
	time_t t;
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0 ||
	    positive_arg(req, args, "version", &version) != 0 ||
	    positive_arg(req, args, "at", &at) != 0)
		return;
	r = ch_store_config_get(hub->store, rec.fingerprint, version, at, &c);
	if (r == CH_ERR_NOTFOUND) {
		t = (time_t)at;
		if (version)
			snprintf(msg, sizeof(msg), "%s has no archived "
				 "configuration version %lld (see: callhome "
				 "history %s)", api_device_label(&rec),
				 (long long)version, api_device_label(&rec));
		else if (at && gmtime_r(&t, &tm) &&
			 strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
				  &tm))
			snprintf(msg, sizeof(msg), "%s has no configuration "
				 "archived at or before %s (see: callhome "
				 "history %s)", api_device_label(&rec), when,
				 api_device_label(&rec));
		else
			snprintf(msg, sizeof(msg), "%s has no archived "
				 "configuration yet (it is fetched when the "
				 "device calls)", api_device_label(&rec));
		hub_ctl_fail(req, "not-found", msg);
		return;
	}
	if (r != CH_OK) {
		api_store_fail(req, r, "reading the archive");
		return;
	}
	api_respond_device(hub, req, rec.fingerprint, "config",
			   version_json(&c));
	ch_config_rec_cleanup(&c);
}

static int history_cb(void *ctx, const struct ch_config_rec *c)
{
	json_array_append_new(ctx, version_json(c));
	return 0;
}

void cmd_history(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct ch_device_rec rec;
	json_t *arr;
	int r;

	if (api_device_arg(hub, req, args, &rec) != 0)
		return;
	arr = json_array();
	if ((r = ch_store_config_foreach(hub->store, rec.fingerprint,
					 history_cb, arr)) != CH_OK) {
		json_decref(arr);
		api_store_fail(req, r, "reading the archive");
		return;
	}
	api_respond_device(hub, req, rec.fingerprint, "versions", arr);
}
