/* control.h - the hub's operator API on a Unix stream socket.
 *
 * Protocol (docs/control-api.md): each request is one JSON object on one
 * line, {"cmd": "...", ...}; each response is one JSON object on one line,
 * {"ok": true, ...} or {"ok": false, "error": "text", "code": "word"}.
 * Requests on one connection are answered in order. Limits: a request line
 * of at most CH_CTL_MAX_REQUEST bytes, CH_CTL_MAX_CLIENTS connections, an
 * idle client dropped after CH_CTL_IDLE_MS.
 *
 * This module owns the socket and the JSON framing; what a command does is
 * the hub's business, through ops->handle. Who asked is the kernel's
 * word: the client's uid from SO_PEERCRED, read once per connection and
 * kept with each of its requests (hub_ctl_actor), never anything the
 * client sends.
 */
#ifndef CH_HUB_CONTROL_H
#define CH_HUB_CONTROL_H

#include <jansson.h>
#include <uv.h>

#include "hub/actor.h"
#include "lib/core/limits.h"

struct hub_ctl;
struct hub_ctl_req;

struct hub_ctl_ops {
	void *ctx;
	/* Called for each well-formed request. req is live until
	 * hub_ctl_respond(req, ...) is called, exactly once, now or later
	 * (after the client went away too: the response is then dropped).
	 * cmd and args are borrowed for the duration of the call only. */
	void (*handle)(void *ctx, struct hub_ctl_req *req, const char *cmd,
		       json_t *args);
	/* NULL, or called once, first thing in hub_ctl_stop: the last chance
	 * to answer requests held for later while their clients are still
	 * connected. */
	void (*stop)(void *ctx);
	/* NULL, or called once for each request handle() was given, with
	 * its answer (borrowed; NULL or an object without a boolean "ok" is
	 * sent as an internal error) just before it is sent or dropped (the
	 * client gone): the last look at req and its note. */
	void (*answered)(void *ctx, struct hub_ctl_req *req, json_t *resp);
};

/* Parses one request line p[0..len) (without its '\n'; a trailing '\r'
 * is dropped; lineno, counted from 1, is for the message). CH_OK: *root is
 * the request object (new reference, json_decref it) and *cmd its
 * non-empty "cmd" string (borrowed from *root). CH_ERR_AGAIN: a blank line
 * (spaces, tabs, '\r'), nothing to answer. CH_ERR_INVAL: not a request,
 * msg (msg_len bytes) says why for a bad-request answer. *root and *cmd
 * are NULL unless CH_OK. Pure: no socket, no log. */
int hub_ctl_parse_line(const char *p, size_t len, unsigned long lineno,
		       json_t **root, const char **cmd, char *msg,
		       size_t msg_len);

/* Binds path (mode 0600; a stale socket file is replaced, a live one is
 * CH_ERR_EXISTS) and starts serving on loop. Borrows ops until stop.
 * path NULL: no socket; the connections come from hub_ctl_adopt (a
 * worker of the hub, supervisor.h). */
int hub_ctl_start(uv_loop_t *loop, const char *path,
		  const struct hub_ctl_ops *ops, struct hub_ctl **out);
/* Makes the socket usable by group gid too (mode 0660, that group;
 * --control-group): its members are operators like the hub's user. */
int hub_ctl_share(struct hub_ctl *ctl, gid_t gid);
/* Who sent req: the connection's peer as SO_PEERCRED gave it at accept
 * (a local user; "unknown", uid -1, if the kernel would not say). Valid
 * until req is answered. */
const struct hub_actor *hub_ctl_actor(const struct hub_ctl_req *req);
/* One pointer the hub may keep with req until it is answered (its
 * ops->answered frees what it points to); NULL until set. */
void hub_ctl_set_note(struct hub_ctl_req *req, void *note);
void *hub_ctl_note(const struct hub_ctl_req *req);
/* Sends resp (takes ownership; must contain "ok") and frees req. */
void hub_ctl_respond(struct hub_ctl_req *req, json_t *resp);
/* Convenience: {"ok":false,"error":msg,"code":code}. */
void hub_ctl_fail(struct hub_ctl_req *req, const char *code, const char *msg);

/* ---- streams (docs/control-api.md, "Streams") ----
 *
 * A request may turn its connection into a byte stream: the handler
 * claims it (inside handle()), so that nothing after its line is read as
 * requests, then answers it either with a failure (the connection closes
 * once the line is out) or with hub_ctl_handoff: once that answer is
 * written, the connection leaves the control socket for the handler. */

/* The connection goes to cb: fd (the receiver's to close; -1 when the
 * client went away first or the answer could not be written, then rest
 * is NULL) and the bytes the client sent after the request line (rest,
 * len: borrowed for the call). Called once, from the loop, or from inside
 * hub_ctl_stop. */
typedef void (*hub_ctl_handoff_cb)(void *ctx, int fd, const char *rest,
				   size_t len);

/* Inside handle(): nothing after req's line is read as a request (what
 * comes is kept for the handoff, at most 2 x CH_CTL_READ_CHUNK bytes). */
void hub_ctl_claim(struct hub_ctl_req *req);
/* Answers a claimed req with resp (taken; must have "ok": true) and hands
 * the connection to cb once it is written. CH_OK: cb will come.
 * CH_ERR_CLOSED: the client is gone (req freed, resp dropped); no cb. */
int hub_ctl_handoff(struct hub_ctl_req *req, json_t *resp,
		    hub_ctl_handoff_cb cb, void *ctx);

/* Serves fd, a control connection accepted elsewhere (the supervisor's
 * socket), as if accepted here: its peer from SO_PEERCRED, read the
 * bytes already read from it (its first request line, at least).
 * Takes fd. CH_OK, or an error (fd closed: the client sees the end). */
int hub_ctl_adopt(struct hub_ctl *ctl, int fd, const char *read,
		  size_t len);
/* Inside handle(), for a request that is its connection's only one so
 * far: the connection leaves unanswered, with everything read of it
 * (from this request's line on), to cb (which owns fd), and req is gone.
 * CH_OK; CH_ERR_INVAL when other requests of the connection are pending
 * (answer req as usual then); CH_ERR_IO when fd could not be copied. */
int hub_ctl_route(struct hub_ctl_req *req, hub_ctl_handoff_cb cb, void *ctx);
/* Calls ops->stop, then closes the listener and all clients (requests
 * still pending are answered when the hub responds; those responses are
 * dropped). Unlinks the socket. The
 * handles finish closing on the next loop iterations. */
void hub_ctl_stop(struct hub_ctl *ctl);

#endif
