/* status.c - `status`: the hub's build, listeners, sessions and the
 * registry's counts; everything is read, nothing changed. */
#include "hub/api/status.h"

#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "hub/api/req.h"
#include "hub/blocklist.h"
#include "hub/device.h"
#include "hub/frontdoor.h"
#include "hub/hub.h"
#include "hub/listener.h"
#include "hub/registry/store.h"
#include "lib/core/err.h"
#include "lib/core/version.h"

/* [{"address":A,"serves":S}] of one listener list. */
static void add_listeners(json_t *arr, const struct listener *l,
			  const char *serves)
{
	for (; l; l = listener_next(l))
		json_array_append_new(arr, json_pack("{s:s, s:s}", "address",
			listener_addr(l), "serves", serves ? serves :
			listener_tls(l) ? "call-home-tls" : "call-home-ssh"));
}

static json_t *sessions_obj(struct hub *hub)
{
	size_t ssh = 0, tls = 0, handshaking = 0;

	for (struct device *d = hub->devices; d; d = device_next(d)) {
		if (!device_is_ready(d))
			handshaking++;
		else if (device_is_tls(d))
			tls++;
		else
			ssh++;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "netconf_ssh",
			 (json_int_t)ssh, "netconf_tls", (json_int_t)tls,
			 "handshaking", (json_int_t)handshaking, "terminals",
			 (json_int_t)hub->nterms, "forwards",
			 (json_int_t)hub->nfwds);
}

/* {"admitted":N,...} for the registry's devices; {"queued":N,...} for
 * its jobs: every state named, 0 included, so a script need not guess. */
static json_t *census_obj(const struct ch_census *c, json_t **jobs)
{
	json_t *dev = json_pack("{s:I, s:I}", "total",
				(json_int_t)c->devices, "connected",
				(json_int_t)c->connected);

	for (int i = 0; i < CH_CENSUS_ADMISSIONS; i++)
		json_object_set_new(dev, ch_admission_name(i),
				    json_integer(c->admission[i]));
	*jobs = json_object();
	for (int i = 0; i < CH_CENSUS_JOB_STATES; i++)
		json_object_set_new(*jobs, ch_job_state_name(i),
				    json_integer(c->jobs[i]));
	return dev;
}

json_t *api_status_live(struct hub *hub)
{
	json_t *listeners = json_array();

	add_listeners(listeners, hub->listeners, NULL);
	add_listeners(listeners, frontdoor_listeners(hub), "front-door");
	return json_pack("{s:i, s:i, s:o, s:o, s:I}", "worker", hub->worker,
			 "pid", (int)getpid(), "listeners", listeners,
			 "sessions", sessions_obj(hub), "blocked_sources",
			 (json_int_t)blocklist_count(hub->blocklist,
						     hub_now_s()));
}

void api_status_respond(struct hub *hub, struct hub_ctl_req *req,
			json_t *live, json_t *workers)
{
	json_t *jobs, *devices, *resp;
	struct passwd *pw = getpwuid(geteuid());
	struct ch_census c;
	int64_t now = hub_now_s();
	char sock[CH_HUB_PATH_MAX + 16];
	int r;

	if ((r = ch_store_census(hub->store, &c)) != CH_OK) {
		json_decref(live);
		json_decref(workers);
		api_store_fail(req, r, "cannot count the registry");
		return;
	}
	devices = census_obj(&c, &jobs);
	snprintf(sock, sizeof(sock), "%s/hub.sock", hub->cfg.state_dir);
	resp = json_pack(
		"{s:b, s:s, s:s, s:i, s:I, s:I, s:s, s:i, s:s, s:s, s:s, s:s,"
		" s:O, s:O, s:o, s:o, s:O, s:i}",
		"ok", 1, "version", CH_VERSION, "commit", ch_commit,
		"pid", (int)getpid(), "started", (json_int_t)hub->started,
		"uptime_s", (json_int_t)(now - hub->started),
		"unix_user", pw ? pw->pw_name : "?", "uid", (int)geteuid(),
		"ssh_user", hub->cfg.user, "state_dir", hub->cfg.state_dir,
		"control_socket", sock, "admission",
		hub_admission_policy_name(hub->cfg.admission), "listeners",
		json_object_get(live, "listeners"),
		"sessions", json_object_get(live, "sessions"), "devices",
		devices, "jobs", jobs, "blocked_sources",
		json_object_get(live, "blocked_sources"), "workers",
		hub->nworkers);
	if (resp && workers)
		json_object_set(resp, "worker_list", workers);
	json_decref(live);
	json_decref(workers);
	if (resp == NULL)
		hub_ctl_fail(req, "internal", "status: incomplete live figures");
	else
		hub_ctl_respond(req, resp);
}

void cmd_status(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	(void)args;
	api_status_respond(hub, req, api_status_live(hub), NULL);
}
