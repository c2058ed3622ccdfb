/* internal.h - the NETCONF server's state, shared by the files of
 * src/agent/server/ and no one else: struct nc_srv (one per agent,
 * ag->srv: sessions, capabilities, RFC 6022 statistics, the RFC 5277
 * stream, the --on-commit runs and rollback) and struct nc_server (one
 * NETCONF session). The public API is agent.h's nc_server_*.
 */
#ifndef CH_AGENT_SERVER_INTERNAL_H
#define CH_AGENT_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uv.h>

#include "agent/agent.h"
#include "agent/notif.h"
#include "agent/oncommit.h"
#include "lib/core/buf.h"

#define PARAM_TEXT_MAX 1024	/* a leaf parameter such as persist-id */
#define MON_NS "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
#define CAP_YANGLIB "urn:ietf:params:netconf:capability:yang-library:1.0"

/* The rollback of a confirmed commit, due to --on-commit's program: the
 * datastore tells of the rollback from inside its own call, where it
 * must not be called back: the program starts right after
 * (rollback_flush), at the latest on the next loop turn (the timer). */
struct rollback {
	int pending;
	struct ch_buf edits;		/* RFC 6470 <edit>s of the rollback */
	uv_timer_t timer;
	int timer_init;
	int cancelling;			/* inside <cancel-commit> */
};

/* RFC 6022 statistics, for the whole server. */
struct nc_stats {
	uint32_t in_bad_hellos;
	uint32_t in_sessions;
	uint32_t dropped_sessions;
	uint32_t in_rpcs;
	uint32_t in_bad_rpcs;
	uint32_t out_rpc_errors;
	uint32_t out_notifications;
};

/* The server's state: one per agent (ag->srv), from nc_server_init to
 * nc_server_cleanup. The agent runs one libuv loop: no locking. */
struct nc_srv {
	struct agent *ag;
	/* Every live session of this agent, for kill-session. */
	struct nc_server *sessions;
	int deferred_now;	/* set by reply_ds: a dry run deferred */
	/* ietf-netconf-monitoring (RFC 6022): offered when its module
	 * loaded. */
	int monitoring;
	time_t start_time;
	struct nc_stats stats;
	/* <rpc-error> replies sent, for out-rpc-errors (every error goes
	 * through send_error). */
	uint32_t errors_sent;
	/* The hello's list: the base capabilities, then the datastore's. */
	const char **caps;
	size_t ncaps;
	/* RFC 7950 5.6.4: yang-library with the module set's id. */
	char yanglib_cap[sizeof(CAP_YANGLIB) + 64];
	struct notif_stream *stream;	/* NULL: no notifications */
	struct oncommit_run *runs;	/* live --on-commit programs */
	struct rollback rb;
};

struct nc_server {
	struct nc_srv *srv;		/* the server it is a session of */
	struct agent *ag;
	uint32_t session_id;
	char user[64];
	char peer[64];			/* the manager's address */
	int tls;			/* RFC 6022 transport: netconf-tls */
	void (*kill)(void *ctx);	/* closes this session's channel */
	void *kill_ctx;
	int (*push)(void *ctx, const char *msg, size_t len);
	int killed;			/* by another session's kill-session */
	int closed;			/* by its own close-session */
	time_t login_time;
	/* RFC 6022 counters */
	uint32_t in_rpcs;
	uint32_t in_bad_rpcs;
	uint32_t out_rpc_errors;
	uint32_t out_notifications;
	/* RFC 5277 subscription: at most one per session. */
	struct notif_sub *sub;
	/* --on-commit: the rpc whose reply waits for the program, and the
	 * rpcs that came after it (answered in order). */
	struct oncommit_run *hook;
	char *deferred;
	size_t deferred_len;
	struct queued *queue, **qtail;
	size_t nqueued;
	struct nc_server *next;		/* srv->sessions */
};

/* An rpc waiting behind a deferred reply. */
struct queued {
	char *msg;
	size_t len;
	struct queued *next;
};

#endif
