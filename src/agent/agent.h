/* agent.h - callhomed internals: configuration and state, the clients
 * and their dialers that keep calling home, and the NETCONF server's
 * operations. One connection is conn.h; one NETCONF session session.h.
 */
#ifndef CH_AGENT_H
#define CH_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <uv.h>

#include "lib/core/limits.h"
#include "agent/border.h"
#include "agent/borderpolicy.h"
#include "agent/chconfig.h"
#include "agent/datastore.h"
#include "agent/fwdpolicy.h"
#include "lib/core/backoff.h"
#include "lib/core/buf.h"
#include "lib/xport/sshio.h"
#include "lib/id/sshkey.h"

/* Limits: lib/core/limits.h (CH_AGENT_*). */

/* reconnect-strategy last-connected, kept across restarts (dialer.c). */
#define AGENT_LAST_FILE "callhome-last-connected"
/* RFC 6022's module, from Debian's netconfd (yuma123); without it the
 * agent offers no ietf-netconf-monitoring. */
#define AGENT_MONITORING_YANG \
	"/usr/share/yuma/modules/ietf/ietf-netconf-monitoring@2010-10-04.yang"

/* RFC 5277 replay log, DATASTORE/AGENT_NOTIF_LOG_FILE: the newest
 * CH_AGENT_NOTIF_LOG_MAX notifications, at most CH_AGENT_NOTIF_LOG_BYTES of
 * them; the file is appended to and rewritten (atomically) with only
 * those when it grows a quarter past either bound. */
#define AGENT_NOTIF_LOG_FILE "notifications.log"

struct agent_config {
	/* The call-home shortcut flags (chconfig.h): the configuration
	 * when running has none. */
	struct chc_flag_endpoint endpoints[CH_CHC_MAX_ENDPOINTS];
	size_t nendpoints;
	struct chc_flags chflags;
	const char *ctn[CH_CHC_MAX_CTN];
	const char *host_key_path;
	const char *authkeys_path;
	const char *datastore_dir;
	uint32_t keepalive_ms;
	uint32_t keepalive_count;
	uint32_t auth_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t backoff_base_ms;
	uint32_t backoff_max_ms;
	uint32_t hello_timeout_ms;
	size_t max_message;		/* one NETCONF message, bytes */
	/* YANG: with no module, the datastore is running.xml served
	 * read-only as it is (no schema); with modules, see datastore.h. */
	const char *yang_dirs[CH_DS_MAX_YANG_DIRS];
	size_t nyang_dirs;
	const char *modules[CH_DS_MAX_MODULES];
	size_t nmodules;
	/* The border (border.h): --interior, --exterior, --border-holddown */
	struct border_config border;
	/* Its policy (borderpolicy.h): --border-policy-*; file NULL: none */
	struct border_policy_config policy;
	const char *on_commit;		/* NULL: none */
	uint32_t on_commit_timeout_ms;
	uint32_t minute_ms;		/* of period and anchor-time */
	const char *shell_user;		/* NULL: no shell or exec */
	/* Forwarding (fwdpolicy.h): --forward, --forward-allow */
	struct fwd_policy forward;
	/* SNMP (snmp.h): --snmp-agent, --snmp-trap-listen; NULL: none */
	const char *snmp_agent;
	const char *snmp_trap_listen;
};

struct agent_conn;
struct dialer;
struct clients;
struct nc_srv;
struct agent_shells;
struct agent_forwards;
struct agent_snmp;

struct agent {
	uv_loop_t *loop;
	struct agent_config cfg;
	ssh_bind bind;			/* holds the host key; never listens */
	ssh_key host_key;
	char host_fp[CH_FP_LEN];
	struct ch_authkeys *authkeys;
	struct clients *clients;	/* one dialer per netconf-client */
	struct ch_ds *ds;		/* NULL: schema-less, read-only */
	/* The NETCONF server's state: its sessions, capabilities,
	 * statistics, notification stream (nc_server_init). */
	struct nc_srv *srv;
	/* Emits a notification on the NETCONF stream (the content element
	 * of <notification>); NULL without notifications. */
	void (*notify)(struct agent *ag, const char *xml, size_t len);
	/* Shell and exec streams (shell.h); NULL: refused. */
	struct agent_shells *shells;
	/* direct-tcpip streams (forward.h); NULL: refused (off). */
	struct agent_forwards *forwards;
	/* `snmp` subsystem channels (snmp.h); NULL: refused (off). */
	struct agent_snmp *snmp;
	/* The border kept current from the kernel (borderwatch.h); NULL
	 * when rtnetlink could not be read. */
	const struct border *border;
	/* Its nftables ruleset, written and applied (borderpolicy.h); NULL
	 * without --border-policy-file or -apply. */
	struct border_policy *policy;
	uint32_t next_session_id;	/* NETCONF session-ids, from 1 */
	unsigned next_conn_id;		/* connections, in logs */
	int stopping;
};

/* ---- clients.c: the call-home clients of the configuration ---- */

/* Starts a dialer per netconf-client of cfg (taken) and, with a
 * datastore, follows the call-home configuration of running. */
int clients_start(struct agent *ag, struct chc_config *cfg);
/* Stops every dialer; done() runs when all are stopped. */
void clients_stop(struct agent *ag, void (*done)(void *ctx), void *ctx);

/* ---- dialer.c: calls one netconf-client per its configuration ---- */

/* Starts calling cl's endpoints per its reconnect-strategy and
 * connection-type. cl is borrowed: it must stay valid until the dialer
 * is stopped or rebound. */
int dialer_start(struct agent *ag, const struct chc_client *cl,
		 struct dialer **out);
/* Points the dialer at an equal client (same canon) in a newer copy of
 * the configuration. */
void dialer_rebind(struct dialer *d, const struct chc_client *cl);
/* Stops: the live connection is closed politely; done() runs when all
 * handles are closed (the dialer is freed right after). */
void dialer_stop(struct dialer *d, const char *why,
		 void (*done)(void *ctx), void *ctx);

/* ---- server/server.c: the NETCONF server (src/agent/server/) ---- */

struct nc_server;

/* Once, before the first session: makes ag->srv, the server's state,
 * with the hello's capabilities from ag->ds (the base ones only when it
 * is NULL). nc_server_cleanup frees it, after the loop closed every
 * handle. */
int nc_server_init(struct agent *ag);
void nc_server_cleanup(struct agent *ag);
/* A NETCONF server session of ag (after nc_server_init). Returns NULL
 * on allocation failure. */
struct nc_server *nc_server_new(struct agent *ag, uint32_t session_id,
				const char *user);
/* The channel behind s: peer (the manager's address, for monitoring),
 * kill(ctx), which another session's <kill-session> calls to close it
 * (the channel is to be ended soon, not from inside the call), and
 * push(ctx, msg, len), which queues one whole message (a notification)
 * on it at any time, outside nc_server_handle's reply. */
void nc_server_set_chan(struct nc_server *s, const char *peer,
			void (*kill)(void *ctx),
			int (*push)(void *ctx, const char *msg, size_t len),
			void *ctx);
/* The session runs over TLS (RFC 6022 transport netconf-tls), not SSH. */
void nc_server_set_tls(struct nc_server *s, int tls);
/* After the reply of nc_server_handle was sent: pushes what must follow
 * it (the replay of a new subscription). */
void nc_server_after_reply(struct nc_server *s);
/* Ends the session: its locks and its unconfirmed confirmed commit go
 * with it (RFC 6241 2.1, 8.4.1). */
void nc_server_free(struct nc_server *s);
/* A session was dropped because the client's <hello> was not valid:
 * RFC 6022 statistics/in-bad-hellos. Once per such session. */
void nc_server_count_bad_hello(struct agent *ag);
/* An interface's classification changed: the callhome-border
 * border-change notification on the NETCONF stream (nothing for a first
 * classification, or without notifications). */
void nc_server_border_change(struct agent *ag,
			     const struct border_change *c);
/* A direct-tcpip destination ("host:port") was refused for why: the
 * callhome-border forward-refused notification on the NETCONF stream
 * (nothing without notifications). */
void nc_server_forward_refused(struct agent *ag, const char *dest,
			       const char *why);
/* The capabilities this agent advertises. */
const char *const *nc_server_caps(const struct agent *ag, size_t *n);
/* Handles one <rpc> message; appends the reply (unframed) to out. Returns
 * CH_OK, or CH_ERR_CLOSED after <close-session> was answered: nothing more
 * may be processed and the channel is to be closed. */
int nc_server_handle(struct nc_server *s, const char *msg, size_t len,
		     struct ch_buf *out);
struct ch_nc;
/* nc_server_handle for a transport: the reply goes out on nc, then what
 * must follow it (nc_server_after_reply). Returns as nc_server_handle,
 * or the send's error. */
int nc_server_serve(struct nc_server *s, struct ch_nc *nc, const char *msg,
		    size_t len);

#endif
