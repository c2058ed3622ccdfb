/* session.h - one NETCONF server session of the agent on a stream of a
 * call-home connection: a netconf subsystem channel over SSH or the TLS
 * session (RFC 6242, RFC 7589). The protocol engine is lib/nc/session;
 * the operations are server.c's. The connection is not known by name:
 * it hands its operations to the session when it makes it, and the
 * session tells it what happened through them.
 */
#ifndef CH_AGENT_SESSION_H
#define CH_AGENT_SESSION_H

struct agent;
struct ch_stream;

/* What a session gets from its connection (borrowed until ended). */
struct agent_session_owner {
	struct agent *ag;
	const char *user;		/* the authenticated manager */
	const char *peer;		/* its address, for monitoring */
	/* The manager's hello was accepted. */
	void (*hello)(void *ctx);
	/* A message came from the manager (for the periodic idle-timeout). */
	void (*active)(void *ctx);
	/* The session ended (graceful: by <close-session>); the last call. */
	void (*ended)(void *ctx, int graceful);
	void *ctx;
};

/* Starts a session on s (inside the transport's accept(): it takes the
 * stream's callbacks); our hello goes out from the loop. o is copied.
 * CH_OK, or CH_ERR_NOMEM (nothing started). */
int agent_session_start(const struct agent_session_owner *o,
			struct ch_stream *s);

#endif
