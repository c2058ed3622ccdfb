/* ops.h - the NETCONF operations of RFC 6241 7 and 8 on the datastore
 * (or, schema-less, on running.xml): <get>, <get-config> with their
 * filters, <kill-session>, and the schema-aware mode's edit-config,
 * copy-config, delete-config, lock, unlock, validate, commit,
 * cancel-commit and discard-changes. Each appends one reply to out.
 */
#ifndef CH_AGENT_SERVER_OPS_H
#define CH_AGENT_SERVER_OPS_H

#include "agent/server/internal.h"
#include "lib/core/buf.h"
#include "lib/nc/msg.h"
/* <get> (state data too) or, config_only, <get-config>. */
int op_get(struct nc_server *s, const struct ch_rpc *rpc,
	   struct ch_buf *out, int config_only);

/* <kill-session> (RFC 6241 7.9): the other session's locks and pending
 * confirmed commit go now, its channel is closed by the agent. */
int op_kill_session(struct nc_server *s, const struct ch_rpc *rpc,
		    struct ch_buf *out);

/* The operations of the schema-aware mode; -1 when op is not one. */
int handle_ds_op(struct nc_server *s, const struct ch_rpc *rpc,
		 struct ch_buf *out, int *r);

#endif
