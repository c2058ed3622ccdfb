/* hub.c - the hub's core: the live devices and the event log. Starting
 * and stopping is service.c, admission admission.c, the operator
 * commands api/, the job runner jobs.c.
 */
#include "hub/hub.h"

#include <string.h>
#include <time.h>

#include "lib/core/err.h"
#include "lib/core/log.h"

int64_t hub_now_s(void)
{
	return (int64_t)time(NULL);
}

struct device *hub_find_device(struct hub *hub, const char *fp)
{
	for (struct device *d = hub->devices; d; d = device_next(d))
		if (device_is_ready(d) && strcmp(device_key(d), fp) == 0)
			return d;
	return NULL;
}

void hub_event(struct hub *hub, const char *fp, const char *kind,
	       const char *detail)
{
	ch_store_event_add(hub->store, fp, kind, detail, hub_now_s());
}

void hub_link_device(struct hub *hub, struct device *d)
{
	device_set_next(d, hub->devices);
	hub->devices = d;
}

void hub_unlink_device(struct hub *hub, struct device *d)
{
	struct device *p;

	if (hub->devices == d) {
		hub->devices = device_next(d);
		return;
	}
	for (p = hub->devices; p; p = device_next(p)) {
		if (device_next(p) == d) {
			device_set_next(p, device_next(d));
			return;
		}
	}
}
