/* conn.c - one call-home connection of the agent, over SSH or TLS (see
 * conn.h). The transport does the protocol; this module decides who the
 * manager is and which streams it may have.
 */
#include "agent/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/forward.h"
#include "agent/session.h"
#include "agent/shell.h"
#include "agent/snmp.h"
#include "agent/tlsctx.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/id/certid.h"
#include "lib/id/sshkey.h"
#include "lib/xport/tls.h"
#include "lib/xport/xport.h"

struct agent_conn {
	struct agent *ag;
	struct ch_xport *x;
	struct ch_logctx log;
	char peer[64];
	char user[CH_CTN_NAME_MAX];
	char key_fp[CH_FP_LEN];		/* SSH: the manager's key */
	struct ch_ctn_rule *rules;	/* TLS: an owned copy */
	size_t nrules;
	uint32_t keepalive_ms, keepalive_count;
	struct agent_conn_result result;
	char reason[256];
	uint64_t last_active;
	void (*done)(void *ctx, const struct agent_conn_result *);
	void *done_ctx;
};

static int identify_ssh(struct agent_conn *c, const struct ch_peer_id *id,
			const char **why)
{
	if (!ch_authkeys_match(c->ag->authkeys, id->key)) {
		ch_clog_rl(CH_LOG_WARN, &c->log, "manager key %s for user '%s' "
			   "is not authorized", id->key_fp, id->user);
		*why = "key not authorized";
		return CH_ERR_DENIED;
	}
	if (id->probe)
		return CH_OK;
	snprintf(c->user, sizeof(c->user), "%s", id->user);
	snprintf(c->key_fp, sizeof(c->key_fp), "%s", id->key_fp);
	ch_clog(CH_LOG_INFO, &c->log, "manager authenticated as '%s' with key "
		"%s", id->user, id->key_fp);
	return CH_OK;
}

/* RFC 7589 7: the identity is checked before any NETCONF byte. */
static int identify_tls(struct agent_conn *c, const struct ch_peer_id *id,
			const char **why)
{
	struct ch_tls *t = ch_xport_tls(c->x);
	char subject[256] = "?", fp[CH_CERT_SHA256_LEN] = "?";
	char err[CH_CTN_ERR_LEN];
	uint32_t rule = 0;

	if (id->cert) {
		X509_NAME_oneline(X509_get_subject_name(id->cert), subject,
				  sizeof(subject));
		ch_cert_sha256(id->cert, fp, sizeof(fp));
	}
	if (ch_ctn_map(c->rules, c->nrules, id->cert, id->chain, c->user,
		       sizeof(c->user), &rule, err, sizeof(err)) != CH_OK) {
		ch_clog(CH_LOG_WARN, &c->log, "manager certificate %s (%s) "
			"maps to no user: %s", fp, subject, err);
		*why = "manager certificate matches no cert-to-name rule";
		return CH_ERR_DENIED;
	}
	ch_clog(CH_LOG_INFO, &c->log, "%s %s, manager certificate %s (%s) is "
		"user '%s' by cert-to-name rule %u (handshake %.1f ms)",
		ch_tls_version(t), ch_tls_cipher(t), fp, subject, c->user,
		rule, (double)t->hs_ns / 1e6);
	return CH_OK;
}

static int conn_identify(struct ch_xport *x, const struct ch_peer_id *id,
			 const char **why)
{
	struct agent_conn *c = ch_xport_owner(x);

	return id->kind == CH_XPORT_TLS ? identify_tls(c, id, why)
					: identify_ssh(c, id, why);
}

static void conn_up(struct ch_xport *x)
{
	struct agent_conn *c = ch_xport_owner(x);

	ch_xport_deadline(x, 0, NULL);
	/* SSH probes itself; TLS relies on the TCP keep-alives set at
	 * the start (tlsctx.h) */
	if (c->keepalive_ms)
		ch_xport_keepalive(x, c->keepalive_ms, c->keepalive_count);
}

/* ---- what sessions tell their connection ---- */

static void session_hello(void *ctx)
{
	struct agent_conn *c = ctx;

	c->result.established = 1;
}

static void session_active(void *ctx)
{
	struct agent_conn *c = ctx;

	c->last_active = uv_now(c->ag->loop);
}

/* Graceful when the last session to end did so by <close-session>. */
static void session_ended(void *ctx, int graceful)
{
	struct agent_conn *c = ctx;

	c->result.graceful = graceful;
	/* TLS carries one session: the connection ends with it (RFC 7589
	 * 4), for the reason the session gives */
	if (ch_xport_kind(c->x) == CH_XPORT_TLS && graceful &&
	    c->result.reason == NULL)
		c->result.reason = "closed by the manager (close-session)";
}

static int conn_accept(struct ch_xport *x, struct ch_stream *s,
		       const struct ch_stream_req *req, const char **why)
{
	struct agent_conn *c = ch_xport_owner(x);
	struct agent_session_owner o = {
		.ag = c->ag,
		.user = c->user,
		.peer = c->peer,
		.hello = session_hello,
		.active = session_active,
		.ended = session_ended,
		.ctx = c,
	};
	struct agent_shell_who who = { .user = c->user, .fp = c->key_fp };

	if (req->type == CH_STREAM_SHELL || req->type == CH_STREAM_EXEC)
		return agent_shell_start(c->ag->shells, s, req, &who, why);
	if (req->type == CH_STREAM_DIRECT_TCPIP)
		return agent_forward_start(c->ag->forwards, s, req, why);
	if (req->type == CH_STREAM_SUBSYSTEM && strcmp(req->name, "snmp") == 0)
		return agent_snmp_start(c->ag->snmp, s, why);
	if (!(req->type == CH_STREAM_TLS ||
	      (req->type == CH_STREAM_SUBSYSTEM &&
	       strcmp(req->name, "netconf") == 0))) {
		*why = "not offered by this device";
		return CH_ERR_DENIED;
	}
	if (agent_session_start(&o, s) != CH_OK) {
		*why = "cannot start a NETCONF session";
		return CH_ERR_NOMEM;
	}
	return CH_OK;
}

static void conn_down(struct ch_xport *x, const char *why)
{
	struct agent_conn *c = ch_xport_owner(x);
	struct ch_tls *t = ch_xport_tls(x);

	/* a failed TLS handshake: the detail in the log, the kind of
	 * failure as the reason (the dialer's and the events') */
	if (t && c->result.reason == NULL &&
	    strncmp(why, "TLS handshake failed", 20) == 0) {
		ch_clog_rl(CH_LOG_WARN, &c->log, "%s", why);
		c->result.reason = ch_tls_verify_result(t, NULL, NULL) != X509_V_OK
			? "manager certificate refused" : "TLS handshake failed";
	}
	if (c->result.reason == NULL) {
		snprintf(c->reason, sizeof(c->reason), "%s", why);
		c->result.reason = c->reason;
	}
	ch_clog(CH_LOG_INFO, &c->log, "connection closed: %s",
		c->result.reason);
}

static void conn_closed(struct ch_xport *x)
{
	struct agent_conn *c = ch_xport_owner(x);

	c->done(c->done_ctx, &c->result);
	free(c->rules);
	free(c);
}

/* env before a shell or exec: the terminal configuration's allow-list. */
static int conn_env(struct ch_xport *x, struct ch_stream *s, const char *name,
		    const char *value)
{
	struct agent_conn *c = ch_xport_owner(x);

	(void)value;
	if (agent_shell_env_ok(c->ag->shells, name))
		return CH_OK;
	ch_clog_rl(CH_LOG_INFO, ch_stream_log(s), "env %.64s refused: not in "
		   "the terminal env allow-list", name);
	return CH_ERR_DENIED;
}

static const struct ch_xport_ops conn_ops = {
	.identify = conn_identify,
	.up = conn_up,
	.accept = conn_accept,
	.env = conn_env,
	.down = conn_down,
	.closed = conn_closed,
};

void agent_conn_close(struct agent_conn *c, const char *reason)
{
	/* a reason of ours (idle-timeout, stopping) wins over how the
	 * transport then sees the end */
	if (c->result.reason == NULL)
		c->result.reason = reason;
	ch_xport_close(c->x, reason);
}

uint64_t agent_conn_last_active(const struct agent_conn *c)
{
	return c->last_active;
}

static int start_tls(struct agent_conn *c, int fd,
		     const struct agent_tls_params *p,
		     const struct ch_xport_opts *xo)
{
	struct ch_xport_opts o = *xo;
	struct ch_tls_ctx *ctx = NULL;
	char err[CH_CTN_ERR_LEN] = "";
	int r, owned = 1;

	if ((r = ch_ctn_check(p->rules, p->nrules, err, sizeof(err))) != CH_OK) {
		ch_clog(CH_LOG_ERROR, &c->log, "%s", err);
		close(fd);
		return r;
	}
	if (p->nrules &&
	    (c->rules = calloc(p->nrules, sizeof(*c->rules))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	if (p->nrules)
		memcpy(c->rules, p->rules, p->nrules * sizeof(*c->rules));
	c->nrules = p->nrules;
	if (c->nrules == 0)
		ch_clog(CH_LOG_WARN, &c->log, "no cert-to-name rule: every "
			"manager will be refused");
	if ((r = agent_tls_ctx_get(&c->log, p, &ctx, &owned)) != CH_OK) {
		close(fd);
		return r;
	}
	if (p->keepalive_ms &&
	    ch_tls_tcp_keepalive(fd, p->keepalive_ms, p->keepalive_count)
	    != CH_OK)
		ch_clog(CH_LOG_WARN, &c->log, "no TCP keep-alives: a dead "
			"manager is found only when a write fails");
	o.tls = ctx;
	r = ch_xport_tls_start(c->ag->loop, fd, &o, &conn_ops, c, &c->x);
	if (owned)
		ch_tls_ctx_free(ctx);	/* the session holds its own ref */
	if (r == CH_OK)
		ch_clog(CH_LOG_INFO, &c->log, "connected, starting TLS server "
			"(%zu cert-to-name rules)", c->nrules);
	return r;
}

int agent_conn_start(struct agent *ag, int fd, const char *peer,
		     const struct agent_conn_params *p,
		     void (*done)(void *ctx, const struct agent_conn_result *),
		     void *ctx, struct agent_conn **out)
{
	struct agent_conn *c;
	struct ch_xport_opts o = {
		/* NETCONF's, the terminal's (the agent-wide max-sessions is
		 * the shells' own cap: a refused channel is closed at once),
		 * forwarding's, SNMP's */
		.max_streams = CH_AGENT_MAX_CHANNELS + CH_AGENT_MAX_SHELLS +
			       (ag->forwards ? CH_AGENT_FWD_PER_CONN : 0) +
			       (ag->snmp ? CH_AGENT_SNMP_PER_CONN : 0),
		.peer_name = "manager",
		.bind = ag->bind,
		.max_auth_tries = CH_XPORT_MAX_AUTH_TRIES,
	};
	int r;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	c->ag = ag;
	c->done = done;
	c->done_ctx = ctx;
	c->last_active = uv_now(ag->loop);
	c->keepalive_ms = p->tls ? 0 : p->keepalive_ms;
	c->keepalive_count = p->keepalive_count;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	/* one numbering for SSH and TLS; the transport is named where the
	 * connection starts */
	c->log.conn = ++ag->next_conn_id;
	c->log.peer = c->peer;
	o.log = &c->log;
	if (p->tls) {
		r = start_tls(c, fd, p->tls, &o);
	} else {
		r = ch_xport_ssh_server_start(ag->loop, fd, &o, &conn_ops, c,
					      &c->x);
		if (r == CH_OK)
			ch_clog(CH_LOG_INFO, &c->log, "connected, starting SSH "
				"server (host key %s)", ag->host_fp);
	}
	if (r != CH_OK) {	/* the fd is closed */
		free(c->rules);
		free(c);
		return r;
	}
	/* RFC 8071 S5: a manager that does not authenticate in time is
	 * dropped; for TLS the handshake is its authentication. */
	ch_xport_deadline(c->x, ag->cfg.auth_timeout_ms, p->tls
			  ? "manager did not complete the TLS handshake in time"
			  : "manager did not complete the SSH handshake in "
			    "time");
	*out = c;
	return CH_OK;
}
