/* events.h - what the server tells and hands on about changes of
 * running: the RFC 5277 NETCONF stream (<create-subscription>, the
 * subscriptions' pushes), netconf-config-change (RFC 6470) on every
 * change, and --on-commit's run on a confirmed commit's rollback.
 */
#ifndef CH_AGENT_SERVER_EVENTS_H
#define CH_AGENT_SERVER_EVENTS_H

#include "agent/oncommit.h"
#include "agent/server/internal.h"
#include "lib/core/buf.h"
#include "lib/nc/msg.h"

/* At nc_server_init, schema-aware mode: opens the stream, follows the
 * changes of running, sets ag->notify, and readies the rollback's
 * timer. CH_OK or CH_ERR_NOMEM. */
int srv_events_init(struct nc_srv *srv);
/* At nc_server_cleanup, after the loop closed every handle. */
void srv_events_cleanup(struct nc_srv *srv);

/* <create-subscription> (RFC 5277 2.1.1). */
int op_create_subscription(struct nc_server *s,
			   const struct ch_rpc *rpc,
			   struct ch_buf *out);

/* A run of --on-commit's program per the agent's configuration. */
void spec_init(const struct agent *ag, struct oncommit_spec *spec,
	       enum oncommit_kind kind, const char *running,
	       const char *diff);

/* Runs the program on running as a rollback left it (nothing when none
 * is pending). */
void rollback_flush(struct nc_srv *srv);

#endif
