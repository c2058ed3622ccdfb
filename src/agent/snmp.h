/* snmp.h - the agent's `snmp` subsystem (RFC 5592; docs/snmp.md): SNMP
 * over the call-home SSH connection, relayed to the device's own SNMP
 * agent. Off unless --snmp-agent or --snmp-trap-listen is given.
 *
 * Requests. Each `snmp` channel the manager opens gets its own datagram
 * socket, connected to the device's snmpd (--snmp-agent udp:ADDR:PORT on
 * loopback, or unix:PATH; never a socket the network can reach, and
 * only datagrams from snmpd are read back). The channel's bytes are cut
 * into messages by their BER length (snmpframe.h) and each goes out as
 * one datagram, unchanged (SNMPv3 stays end to end); each datagram
 * snmpd answers goes back on the channel. Bounded per channel: messages
 * of at most CH_SNMP_MSG_MAX, CH_SNMP_RATE a second, CH_SNMP_INFLIGHT
 * without a reply (more are dropped, as UDP would: the manager retries);
 * at most CH_AGENT_SNMP_PER_CONN channels per connection. A message
 * that breaks the framing (another tag, an indefinite or oversized
 * length) ends that channel alone.
 *
 * Notifications. With --snmp-trap-listen ADDR:PORT (loopback only) the
 * agent receives snmpd's traps and informs (trap2sink/informsink
 * ADDR:PORT) and sends each, unchanged, on every connection's
 * notification channel: the oldest `snmp` channel that has not carried
 * a request (the hub opens one for this at connect). RFC 5592's
 * notification originator opens its own session; in call home the
 * manager's session is the one there is, as RFC 8071 turns the roles
 * round for NETCONF. A connection without one drops the notification
 * (counted, logged). At most CH_SNMP_TRAP_RATE a second.
 */
#ifndef CH_AGENT_SNMP_H
#define CH_AGENT_SNMP_H

struct agent;
struct ch_stream;
struct agent_snmp;

/* target: "udp:ADDR:PORT" (loopback), "unix:PATH", or NULL (no
 * requests: notifications only); trap_listen: "ADDR:PORT" (loopback) or
 * NULL. Binds the trap socket at once. CH_OK, CH_ERR_INVAL (*why: the
 * flag's error), CH_ERR_IO, CH_ERR_NOMEM. */
int agent_snmp_new(struct agent *ag, const char *target,
		   const char *trap_listen, struct agent_snmp **out,
		   const char **why);
/* After the loop closed every handle (the trap socket holds no loop
 * open): frees what is left. NULL is fine. */
void agent_snmp_free(struct agent_snmp *sn);

/* Inside the transport's accept(): serves s, an `snmp` subsystem
 * channel. sn NULL: SNMP is off, refused. CH_OK: taken. Else *why
 * (static text) says why it is refused. */
int agent_snmp_start(struct agent_snmp *sn, struct ch_stream *s,
		     const char **why);

#endif
