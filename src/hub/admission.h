/* admission.h - who may call in (admission.c): the decision on the
 * identity a device presented (a host key, or a certificate's serial
 * number, fingerprint and trust anchor), and the registry's record of its
 * sessions coming and going.
 */
#ifndef CH_HUB_ADMISSION_H
#define CH_HUB_ADMISSION_H

#include <stddef.h>

struct hub;
struct device;
struct device_id;

/* RFC 8071 C5-C7: CH_OK to go on (the device's registry key and idle
 * close are set, an older session of the same device is replaced), or
 * CH_ERR_DENIED with a static reason. Records the call. */
int admission_admit(struct hub *hub, struct device *d,
		    const struct device_id *id, const char **why);
/* The NETCONF session is up: the registry says connected. */
void admission_connected(struct hub *hub, struct device *d, size_t ncaps);
/* The connection ended (d is already out of hub->devices): the registry
 * says disconnected, unless a newer session is up; a device that never
 * got in counts as a failure of its address (the blocklist). */
void admission_gone(struct hub *hub, struct device *d);
/* A newer session of the device key is up on another worker of the hub:
 * the ones here close, each a "replaced" event, and their end does not
 * make the device disconnected (device_set_superseded). */
void admission_superseded(struct hub *hub, const char *key);
/* Closes every live, admitted connection of the device whose registry
 * key is key, other than keep (may be NULL), with reason why. Returns how
 * many. */
int admission_close_sessions(struct hub *hub, const char *key,
			     struct device *keep, const char *why);

#endif
