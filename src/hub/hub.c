/* hub.c - the hub's core: the live devices and the event log. Starting
 * and stopping is service.c, admission admission.c, the operator
 * commands api/, the job runner jobs.c.
 */
#include "hub/hub.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hub/device.h"
#include "hub/devindex.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

const char *hub_admission_policy_name(int policy)
{
	switch (policy) {
	case HUB_ADMIT_APPROVE: return "approve";
	case HUB_ADMIT_TRUST_NEW: return "trust-new";
	case HUB_ADMIT_KNOWN_ONLY: return "known-only";
	}
	return "?";
}

int64_t hub_now_s(void)
{
	return (int64_t)time(NULL);
}

struct device *hub_find_device(struct hub *hub, const char *fp)
{
	return devindex_find(hub->index, fp, NULL, 1);
}

static void on_records_timer(uv_timer_t *t)
{
	struct hub *hub = t->data;

	ch_store_flush(hub->store);
}

void hub_records_begin(struct hub *hub)
{
	ch_store_group_enter(hub->store);
}

void hub_records_end(struct hub *hub)
{
	ch_store_group_leave(hub->store);
	if (hub->stopping || hub->loop == NULL) {
		/* every session ends now: a commit per device would be
		 * 100,000 of them. The group still commits at its bounds,
		 * the rest at the store's close. */
		if (hub->records_timer_on) {
			hub->records_timer_on = 0;
			uv_close((uv_handle_t *)&hub->records_timer, NULL);
		}
		return;
	}
	if (!ch_store_group_pending(hub->store))
		return;
	if (!hub->records_timer_on) {
		uv_timer_init(hub->loop, &hub->records_timer);
		hub->records_timer.data = hub;
		/* never what keeps the loop running: the store's close
		 * commits what is left */
		uv_unref((uv_handle_t *)&hub->records_timer);
		hub->records_timer_on = 1;
	}
	if (!uv_is_active((uv_handle_t *)&hub->records_timer))
		uv_timer_start(&hub->records_timer, on_records_timer,
			       (uint64_t)ch_store_group_ms(hub->store), 0);
}

void hub_records_stop(struct hub *hub)
{
	ch_store_flush(hub->store);
	if (hub->records_timer_on) {
		hub->records_timer_on = 0;
		uv_close((uv_handle_t *)&hub->records_timer, NULL);
	}
}

void hub_event(struct hub *hub, const char *fp, const char *kind,
	       const char *detail)
{
	ch_store_event_add(hub->store, fp, kind, detail, hub_now_s());
}

void hub_audit(struct hub *hub, const struct hub_actor *who, const char *fp,
	       const char *action, const char *outcome, const char *detail)
{
	hub_audit_x(hub, who, fp, action, outcome, detail, NULL);
}

void hub_audit_x(struct hub *hub, const struct hub_actor *who,
		 const char *fp, const char *action, const char *outcome,
		 const char *detail, const struct hub_audit_extra *x)
{
	struct ch_audit_rec rec;
	struct hub_actor self;
	char name[HUB_ACTOR_STR_MAX];

	if (who == NULL) {
		hub_actor_hub(&self);
		who = &self;
	}
	ch_audit_rec_init(&rec);
	rec.time = hub_now_s();
	snprintf(rec.actor, sizeof(rec.actor), "%s", who->name);
	rec.uid = who->uid;
	snprintf(rec.via, sizeof(rec.via), "%s", who->via);
	snprintf(rec.fingerprint, sizeof(rec.fingerprint), "%s",
		 fp ? fp : "");
	snprintf(rec.action, sizeof(rec.action), "%s", action);
	snprintf(rec.outcome, sizeof(rec.outcome), "%s", outcome);
	snprintf(rec.detail, sizeof(rec.detail), "%s", detail ? detail : "");
	if (x) {
		snprintf(rec.recording, sizeof(rec.recording), "%s",
			 x->recording ? x->recording : "");
		rec.exit_status = x->exit_status;
		rec.bytes_in = x->bytes_in;
		rec.bytes_out = x->bytes_out;
		rec.duration_ms = x->duration_ms;
	}
	ch_info("audit: %s %s%s%s: %s%s%s",
		hub_actor_str(who, name, sizeof(name)), action,
		fp ? " device=" : "", fp ? fp : "", outcome,
		rec.detail[0] ? "; " : "", rec.detail);
	if (hub->store)
		ch_store_audit_add(hub->store, &rec);
}

void hub_link_device(struct hub *hub, struct device *d)
{
	device_set_prev(d, NULL);
	device_set_next(d, hub->devices);
	if (hub->devices)
		device_set_prev(hub->devices, d);
	hub->devices = d;
}

void hub_unlink_device(struct hub *hub, struct device *d)
{
	struct device *prev = device_prev(d), *next = device_next(d);

	if (device_admitted(d))
		devindex_remove(hub->index, d);
	if (prev)
		device_set_next(prev, next);
	else if (hub->devices == d)
		hub->devices = next;
	if (next)
		device_set_prev(next, prev);
	device_set_next(d, NULL);
	device_set_prev(d, NULL);
}
