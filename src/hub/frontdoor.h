/* frontdoor.h - the NETCONF front door (docs/front-door.md): an SSH
 * server (the library's SSH server role, as the agent's) for operators'
 * standard NETCONF clients. The SSH user name picks the device ("r1" or
 * "alice+r1"), the operator authenticates by public key against
 * --operator-keys (opkeys.h: who the key is, which devices it reaches),
 * and each `netconf` subsystem request becomes a new netconf channel on
 * the device's call-home SSH connection (device_open_stream), relayed
 * byte for byte both ways: hello, session-id, capabilities, locks and
 * notifications are the device's own, end to end.
 *
 * A refusal (unknown or offline device, not allowed, a TLS device, a
 * limit) takes the subsystem request and answers one line of text
 * instead of a hello, then exit status 1 and close: ncclient shows the
 * line in its SessionCloseError, `ssh -s` prints it. An unknown key
 * fails authentication. Each refusal and each session (operator, device,
 * start, end, rpcs, bytes) is an audit record (via "front-door") and an
 * event.
 *
 * Bounded: CH_FD_MAX_CONNS connections, CH_FD_MAX_SESSIONS sessions,
 * CH_FD_OPERATOR_SESSIONS per operator, CH_FD_DEVICE_SESSIONS per device,
 * the handshake within CH_FD_HANDSHAKE_MS, a connection without a
 * session closed after CH_FD_NOSESSION_MS, an idle one after
 * --front-door-idle; each direction pauses the other side's channel past
 * CH_FD_QUEUE_HIGH queued. The rpc count watches the client's messages
 * with the framing decoder (lib/nc/frame.h), never parsing them.
 */
#ifndef CH_HUB_FRONTDOOR_H
#define CH_HUB_FRONTDOOR_H

struct hub;

/* Loads the operator keys and the host key (created at first start; its
 * fingerprint is logged) and listens on every --front-door address.
 * CH_OK, or an error already logged. */
int frontdoor_start(struct hub *hub);
/* Stops listening and closes every front-door connection (their
 * sessions end from the loop). Idempotent. */
void frontdoor_stop(struct hub *hub);
/* The front door's listeners (listener_next), or NULL. */
struct listener *frontdoor_listeners(const struct hub *hub);
/* After the loop ran out: frees what is left. */
void frontdoor_free(struct hub *hub);

#endif
