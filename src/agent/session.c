/* session.c - one NETCONF server session of the agent on a stream (see
 * session.h): lib/nc/session runs the protocol, server.c answers.
 */
#include "agent/session.h"

#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/session.h"
#include "lib/xport/xport.h"

#define KILL_WHY "killed by <kill-session>"

struct agent_session {
	struct agent_session_owner o;
	struct ch_ncs *ncs;
	struct nc_server *srv;
	const struct ch_logctx *log;	/* the stream's */
	uint32_t session_id;
};

static void on_hello(void *ctx, const struct ch_hello *peer)
{
	struct agent_session *a = ctx;

	ch_clog(CH_LOG_INFO, a->log, "session-id=%u user=%s NETCONF hello done "
		"(%zu client capabilities, %s)", a->session_id, a->o.user,
		peer->ncaps, ch_ncs_chunked(a->ncs) ? "base:1.1" : "base:1.0");
	a->o.hello(a->o.ctx);
}

static int on_rpc(void *ctx, const char *msg, size_t len)
{
	struct agent_session *a = ctx;

	a->o.active(a->o.ctx);
	return nc_server_serve(a->srv, ch_ncs_nc(a->ncs), msg, len);
}

static void on_ended(void *ctx, const char *why, int graceful)
{
	struct agent_session *a = ctx;

	if (ch_ncs_bad_hello(a->ncs))	/* RFC 6022 in-bad-hellos */
		nc_server_count_bad_hello(a->o.ag);
	ch_clog(CH_LOG_INFO, a->log, "session-id=%u ended: %s", a->session_id,
		graceful ? "closed by the manager (close-session)" : why);
	/* its locks and unconfirmed commit go with it (RFC 6241 2.1) */
	nc_server_free(a->srv);
	a->o.ended(a->o.ctx, graceful);
	free(a);
}

static const struct ch_ncs_ops session_ops = {
	.hello = on_hello,
	.on_rpc = on_rpc,
	.ended = on_ended,
};

/* Another session's <kill-session>: this one ends from the loop. */
static void session_kill(void *ctx)
{
	struct agent_session *a = ctx;

	ch_ncs_close(a->ncs, 1, KILL_WHY);
}

/* A message of the server's own (a notification), at any time. */
static int session_push(void *ctx, const char *msg, size_t len)
{
	struct agent_session *a = ctx;

	if (!ch_ncs_ready(a->ncs))
		return CH_ERR_CLOSED;
	return ch_ncs_send(a->ncs, msg, len);
}

int agent_session_start(const struct agent_session_owner *o,
			struct ch_stream *s)
{
	struct agent *ag = o->ag;
	struct agent_session *a = calloc(1, sizeof(*a));
	struct ch_ncs_opts no = {
		.loop = ag->loop,
		.role = CH_NC_SERVER,
		.max_msg = ag->cfg.max_message,
		.hello_timeout_ms = ag->cfg.hello_timeout_ms,
		.peer_name = "the manager",
	};

	if (a == NULL)
		return CH_ERR_NOMEM;
	a->o = *o;
	a->log = ch_stream_log(s);
	a->session_id = ag->next_session_id++;
	if (ag->next_session_id == 0)	/* session-id 0 is not valid */
		ag->next_session_id = 1;
	no.session_id = a->session_id;
	no.caps = nc_server_caps(ag, &no.ncaps);
	if ((a->srv = nc_server_new(ag, a->session_id, o->user)) == NULL ||
	    ch_ncs_new(s, &no, &session_ops, a, &a->ncs) != CH_OK) {
		if (a->srv)
			nc_server_free(a->srv);
		free(a);
		ch_clog(CH_LOG_ERROR, ch_stream_log(s), "cannot start a NETCONF "
			"session");
		return CH_ERR_NOMEM;
	}
	nc_server_set_chan(a->srv, o->peer, session_kill, session_push, a);
	nc_server_set_tls(a->srv, ch_xport_kind(ch_stream_xport(s)) ==
			  CH_XPORT_TLS);
	/* RFC 4254 6.10: a subsystem that ends says so, as sshd does;
	 * clients such as OpenSSH's exit non-zero without it */
	ch_stream_exit_status(s, 0);
	ch_clog(CH_LOG_INFO, a->log, "session-id=%u NETCONF session started "
		"(%s)", a->session_id, ch_xport_name(ch_stream_xport(s)));
	return CH_OK;
}
