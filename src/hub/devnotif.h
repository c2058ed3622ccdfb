/* devnotif.h - device notifications at the hub: when a device's hello
 * offers :notification (RFC 5277), the hub sends <create-subscription>
 * (the NETCONF stream) on its session after the hello, and records each
 * <notification> as an event of kind "notification" (its event name and
 * eventTime; netconf-config-change (RFC 6470) with who changed what: the
 * text of devxml_notif_text), which `callhome events --follow` streams.
 * A netconf-config-change of running made by another session than the
 * hub's also asks the archive to fetch (archive_changed).
 *
 * Bounded: an event's text is at most CH_STORE_TEXT_MAX bytes; a device
 * gets at most CH_NOTIF_EVENT_BURST events at once, refilled at
 * CH_NOTIF_EVENT_PER_MIN a minute (a token bucket), the counts below
 * included; past it its notifications are counted, not recorded, and
 * the next token goes to one event saying how many (the notification
 * that came with it is counted in the next such event); when the device
 * goes, what is counted is said too.
 *
 * Off with --no-device-notifications (hub_config.no_device_notifications):
 * then nothing is subscribed.
 */
#ifndef CH_HUB_DEVNOTIF_H
#define CH_HUB_DEVNOTIF_H

#include <stddef.h>

struct hub;
struct device;

/* d's NETCONF session is up: subscribe when offered. */
void devnotif_device_ready(struct hub *hub, struct device *d);
/* A notification from d (the whole message). */
void devnotif_received(struct hub *hub, struct device *d, const char *msg,
		       size_t len);
/* d is gone: its count of unrecorded notifications is said, its state
 * freed. */
void devnotif_device_gone(struct hub *hub, struct device *d);

#endif
