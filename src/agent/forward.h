/* forward.h - the agent's direct-tcpip streams (docs/remote-access.md,
 * "Forwarding"): a manager reaches a host behind the device through the
 * connection the device opened, as far as the border and the allow rules
 * let it (fwdpolicy.h).
 *
 * Life of one: accept() -> an address literal is judged at once (refused:
 * the manager's open fails, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED); a name
 * is taken, resolved on the device (bounded by CH_AGENT_FWD_RESOLVE_MS)
 * and every resolved address judged (one refused: the stream is closed,
 * no rebinding around the rule) -> TCP connect from the device's address
 * on the interface whose connected prefix holds the destination (its
 * internal presence; the kernel's choice for a routed destination),
 * bounded by CH_AGENT_FWD_CONNECT_MS -> bytes both ways with flow control
 * (past CH_AGENT_FWD_OUT_HIGH unsent towards one side, the other is left
 * unread or paused), EOF both ways (shutdown(SHUT_WR), channel EOF) ->
 * closed after both EOFs, an error, or CH_AGENT_FWD_IDLE_MS without a
 * byte; the byte counts are logged.
 *
 * Every refusal is logged with its reason (rate-limited) and, with
 * notifications, is the callhome-border forward-refused notification.
 * Caps: CH_AGENT_FWD_MAX per agent, CH_AGENT_FWD_PER_CONN per connection.
 */
#ifndef CH_AGENT_FORWARD_H
#define CH_AGENT_FORWARD_H

struct agent;
struct ch_stream;
struct ch_stream_req;
struct agent_forwards;

/* Forwarding for ag under ag->cfg.forward (borrowed, with ag->border
 * read at each request). With a datastore, ag->cfg.forward follows
 * running's forwarding container (fwdconfig.h) after every change.
 * CH_OK or CH_ERR_NOMEM. */
int agent_forwards_new(struct agent *ag, struct agent_forwards **out);
/* After the loop closed every handle: frees what is left. NULL is fine. */
void agent_forwards_free(struct agent_forwards *fw);

/* Inside the transport's accept(): serves s (a CH_STREAM_DIRECT_TCPIP
 * stream; req its request). fw NULL: forwarding is off, refused. CH_OK:
 * taken. Else *why (static text) says why it is refused. */
int agent_forward_start(struct agent_forwards *fw, struct ch_stream *s,
			const struct ch_stream_req *req, const char **why);

#endif
