/* term.h - streams through the hub: an operator's shell or exec on a
 * device, or a forward (a direct-tcpip channel to a host behind it,
 * `callhome forward` and `callhome connect`), carried between the
 * device's SSH channel (device.h,
 * device_open_stream) and the operator's control connection, which the
 * request hands over (control.h, hub_ctl_handoff) and which then carries
 * the frames of lib/core/streamframe.h (docs/control-api.md, "Streams").
 *
 * Bounded both ways: output queued to the operator past CH_TERM_CLI_HIGH
 * pauses the device's channel (its SSH window closes, so the device's
 * process blocks, not the hub's memory); input queued to the device past
 * CH_TERM_DEV_HIGH leaves the operator's socket unread; a frame is at
 * most CH_TERM_FRAME_MAX; at most CH_HUB_MAX_TERMS shells and execs and
 * CH_HUB_MAX_FWDS forwards at once (CH_HUB_DEVICE_FWDS on one device).
 * A forward carries no exit status: its stdin/stdout frames are the TCP
 * stream's bytes, eof frames its half-closes.
 *
 * Each stream is an event when it starts and when it ends (who asked,
 * what, bytes each way, duration): event() in term.c, the one place.
 */
#ifndef CH_HUB_TERM_H
#define CH_HUB_TERM_H

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

/* Inside the control socket's handle(), req claimed (hub_ctl_claim): asks
 * d for the stream and answers req when the device took it (then the
 * connection is handed over) or refused it. */
void term_start(struct hub *hub, struct hub_ctl_req *req, struct device *d,
		const struct term_spec *spec);
/* The hub stops: every terminal stream and connection is closed. */
void term_stop_all(struct hub *hub);

#endif
