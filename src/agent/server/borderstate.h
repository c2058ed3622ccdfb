/* borderstate.h - the border (agent/border.h) over NETCONF: the
 * callhome-border module's state data for <get>, and its border-change
 * notification on the NETCONF stream (nc_server_border_change, agent.h).
 */
#ifndef CH_AGENT_SERVER_BORDERSTATE_H
#define CH_AGENT_SERVER_BORDERSTATE_H

#include <stddef.h>

#include "agent/server/internal.h"

/* Appends the <border> state data to <get>'s content *data (nothing when
 * the agent follows no border). */
int add_border_state(struct nc_server *s, char **data, size_t *len);

#endif
