/* term.h - terminal sessions and forwards through the hub: an operator's
 * shell or exec on a device, or a forward (a direct-tcpip channel to a
 * host behind it, `callhome forward` and `callhome connect`), carried
 * between the device's SSH channel (device.h,
 * device_open_stream) and operators' control connections, which a
 * request hands over (control.h, hub_ctl_handoff) and which then carry
 * the frames of lib/core/streamframe.h (docs/control-api.md, "Streams").
 *
 * A session has at most one owner (its input goes to the device) and up
 * to CH_TERM_WATCHERS read-only watchers. A pty session outlives its
 * owner's connection when that ends without a close frame: it is
 * detached for the hub's --term-grace, then its channel is closed (and
 * the device ends its processes); an attach within the grace resumes it.
 * The last CH_TERM_RING bytes of output are kept to redraw an attach or
 * a new watcher. Shells and execs with a pty are recorded (record.h).
 * A forward has one owner, no watchers, no grace and no recording: its
 * stdin/stdout frames are the TCP stream's bytes, eof frames its
 * half-closes, and it carries no exit status.
 *
 * Bounded both ways: output queued to the owner past CH_TERM_CLI_HIGH,
 * or CH_TERM_RING bytes unseen while detached, pause the device's
 * channel (its SSH window closes, so the device's process blocks, not
 * the hub's memory); a watcher past CH_TERM_WATCH_MAX is dropped; input
 * queued to the device past CH_TERM_DEV_HIGH leaves the owner's socket
 * unread; a frame is at most CH_TERM_FRAME_MAX; at most CH_HUB_MAX_TERMS
 * shells and execs and CH_HUB_MAX_FWDS forwards at once
 * (CH_HUB_DEVICE_FWDS on one device).
 *
 * Each stream is an event and an audit record when it starts and when it
 * ends (who asked, what, bytes each way, duration, recording): event()
 * in term.c, the one place.
 */
#ifndef CH_HUB_TERM_H
#define CH_HUB_TERM_H

#include <jansson.h>
#include <stdint.h>

#include "hub/control.h"

struct hub;
struct device;
struct term;

struct term_spec {
	int shell;		/* 1: shell, 0: exec of command (or forward) */
	const char *command;
	int forward;		/* 1: a direct-tcpip channel to host:port */
	const char *host;
	uint16_t port;
	int pty;		/* 1: with a pty of term, cols x rows */
	const char *term;
	uint32_t cols, rows;
	const char *label;	/* the device as the operator named it */
};

/* Before any session: the recordings' directory, and session IDs that
 * go on after the recordings already there. CH_OK or CH_ERR_IO. */
int term_init(struct hub *hub);
/* Inside the control socket's handle(), req claimed (hub_ctl_claim): asks
 * d for the stream and answers req when the device took it (then the
 * connection is handed over) or refused it. */
void term_start(struct hub *hub, struct hub_ctl_req *req, struct device *d,
		const struct term_spec *spec);
/* The same, req claimed: joins session id as its owner (watch 0: it
 * must be a detached pty session; fp, if not NULL, must be its device;
 * spec's pty size is sent on) or as a watcher (watch 1). */
void term_join(struct hub *hub, struct hub_ctl_req *req, unsigned id,
	       const char *fp, const struct term_spec *spec, int watch);
/* The live sessions (of device fp unless NULL): a new JSON array. */
json_t *term_list(struct hub *hub, const char *fp);
/* The hub stops: every terminal stream and connection is closed. */
void term_stop_all(struct hub *hub);

#endif
