/* monitor.h - ietf-netconf-monitoring (RFC 6022): whether it is
 * offered, the <netconf-state> state data of <get> and <get-schema>.
 * The statistics it reports are counted where they happen (struct
 * nc_stats); nc_server_count_bad_hello (agent.h) is here.
 */
#ifndef CH_AGENT_SERVER_MONITOR_H
#define CH_AGENT_SERVER_MONITOR_H

#include <stddef.h>

#include "agent/server/internal.h"
#include "lib/core/buf.h"
#include "lib/nc/msg.h"

/* At nc_server_init, schema-aware mode: loads the module into the
 * datastore's schema context when it is not there yet; sets
 * srv->monitoring when it is offered. */
void srv_monitor_init(struct nc_srv *srv);

/* <get>'s content: the configuration, then the state data. Replaces
 * *data (the caller frees it either way). */
int add_state(struct nc_server *s, char **data, size_t *len);

/* <get-schema> (RFC 6022 3.1): the YANG text in the monitoring
 * namespace's <data>. */
int op_get_schema(struct nc_server *s, const struct ch_rpc *rpc,
		  struct ch_buf *out);

#endif
