/* snmp.h - SNMP over call home at the hub (RFC 5592 `snmp` subsystem;
 * docs/snmp.md): an ordinary UDP endpoint per device for the NMS, and
 * the devices' notifications re-emitted to trap receivers.
 *
 * Endpoints. One UDP socket (127.0.0.1 by default) maps to one device:
 * persistent ones from --snmp-map DEVICE=[BIND:]PORT, run by the hub
 * itself; foreground ones for the life of a `callhome snmp DEVICE
 * [BIND:]PORT` connection (the CLI's control connection is handed over
 * and watched: when it ends, the endpoint closes). Each NMS source
 * address gets its own `snmp` channel on the device's call-home SSH
 * connection, so that every reply on it goes back to that address: SNMP
 * request ids are inside the PDU (encrypted with SNMPv3 authPriv), and a
 * channel per source needs no mapping at all. Datagrams are carried
 * unchanged both ways (SNMPv3 stays end to end with the device's
 * snmpd). At most CH_HUB_SNMP_SOURCES sources per endpoint hold a
 * channel (a new one closes the least recently used); a channel idle for
 * CH_HUB_SNMP_IDLE_MS is closed. While a channel opens, what comes waits
 * (counted in flight). Per device: CH_SNMP_RATE messages a second and
 * CH_SNMP_INFLIGHT requests without a reply; over, dropped (the NMS
 * retries). A device not connected: dropped, logged (rate-limited).
 *
 * Notifications. With --snmp-trap-to HOST:PORT (repeatable) the hub
 * opens one `snmp` channel on each SSH device as it becomes ready and
 * never writes on it: the agent sends its snmpd's notifications there
 * (agent/snmp.h); each is sent, unchanged, as a datagram to every trap
 * receiver (CH_SNMP_TRAP_RATE a second per device).
 *
 * Each `callhome snmp` session is an event and an audit record when it
 * starts and ends (snmp-start, snmp-end: datagrams each way, duration).
 */
#ifndef CH_HUB_SNMP_H
#define CH_HUB_SNMP_H

#include <stdint.h>
#include <sys/socket.h>

#include "hub/control.h"

struct hub;
struct device;
struct hub_snmp_map;

/* "DEVICE=[BIND:]PORT" (BIND: a numeric address, 127.0.0.1 when left
 * out). CH_OK or CH_ERR_INVAL. device points into arg. */
int snmp_map_parse(const char *arg, struct hub_snmp_map *m);
/* "[BIND:]PORT" alone (callhome snmp's), the same way. */
int snmp_endpoint_parse(const char *arg, struct sockaddr_storage *ss,
			socklen_t *len);

/* At the start: the persistent endpoints (bound now: CH_ERR_IO when
 * one cannot be) and the trap receivers' socket. */
int snmp_start(struct hub *hub);
/* A device became ready: its notification channel, with trap
 * receivers. */
void snmp_device_ready(struct hub *hub, struct device *d);
/* Inside handle(), req claimed: a foreground endpoint at addr for the
 * device fp (label as the operator named it); answers req. */
void snmp_session(struct hub *hub, struct hub_ctl_req *req, const char *fp,
		  const char *label, const struct sockaddr_storage *addr,
		  socklen_t len);
/* The hub stops: every endpoint and channel is closed. */
void snmp_stop_all(struct hub *hub);
/* After the loop closed every handle. */
void snmp_free(struct hub *hub);

#endif
