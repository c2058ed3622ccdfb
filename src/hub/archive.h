/* archive.h - the configuration archive (what RANCID and Oxidized give
 * operators, done the call-home way): the hub fetches a device's running
 * configuration (<get-config> of running) when it calls, when it reports
 * a change (devnotif.c: netconf-config-change from another session) and
 * after a job the hub ran that may have changed it, and keeps a version
 * in the registry when the bytes differ from the newest one's
 * (ch_store_config_add: hashed, deduplicated, at most CH_ARCHIVE_VERSIONS
 * per device). The text kept is devxml_config's: indented, one element a
 * line. Changes reported within CH_ARCHIVE_SETTLE_MS are one fetch; at
 * most one fetch per device is out at a time.
 *
 * Off with --no-config-archive (hub_config.no_config_archive).
 */
#ifndef CH_HUB_ARCHIVE_H
#define CH_HUB_ARCHIVE_H

#include <stdint.h>

struct hub;
struct device;

/* d's NETCONF session is up: fetch now (trigger "call"). */
void archive_device_ready(struct hub *hub, struct device *d);
/* d's configuration may have changed: fetch after CH_ARCHIVE_SETTLE_MS
 * (why: what the history will say, e.g. "config-change by alice@host",
 * "job 12"). */
void archive_changed(struct hub *hub, struct device *d, const char *why);
/* d is gone: what is pending for it is dropped. */
void archive_device_gone(struct hub *hub, struct device *d);

#endif
