/* admission.h - who may call in (admission.c). The decisions themselves,
 * hub_admit and hub_admit_tls, and the session up/down records,
 * hub_device_ready and hub_device_gone, are declared in hub.h, where the
 * device sessions that call them look.
 */
#ifndef CH_HUB_ADMISSION_H
#define CH_HUB_ADMISSION_H

struct hub;
struct device;

/* Closes every live, admitted connection of the device whose registry
 * key is key, other than keep (may be NULL), with reason why. Returns how
 * many. */
int admission_close_sessions(struct hub *hub, const char *key,
			     struct device *keep, const char *why);

#endif
