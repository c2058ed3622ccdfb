/* tlsconn.c - one call-home connection over TLS on the device: TLS server,
 * cert-to-name, one NETCONF session (see tlsconn.h).
 */
#include "agent/tlsconn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/ncproto.h"
#include "lib/xport/tls.h"

#define KILL_WHY "killed by <kill-session>"
#define FLUSH_WHY "the manager did not read the <close-session> reply"

struct agent_tls_conn {
	struct agent *ag;
	struct ch_tls tls;
	struct ch_ctn_rule *rules;	/* owned copy */
	size_t nrules;
	struct ch_nc *nc;		/* once the manager is admitted */
	struct nc_server *srv;
	uint32_t session_id;
	char peer[64];
	char user[CH_CTN_NAME_MAX];
	char fp[CH_CERT_SHA256_LEN];	/* the manager's certificate */
	unsigned id;
	uint64_t last_active;
	struct agent_conn_result result;
	int closing;
	int ending;		/* <close-session> answered: flush, then close */
	int killed;		/* another session's <kill-session> */
	void (*done)(void *ctx, const struct agent_conn_result *);
	void *done_ctx;
};

/* Apart from agent.c's SSH numbering: "conn=T3". */
static unsigned next_conn_id = 1;

#define clog(lvl, c, fmt, ...) \
	ch_log(lvl, "conn=T%u peer=%s " fmt, (c)->id, (c)->peer, ##__VA_ARGS__)

/* The stage timer, unless a <kill-session> already holds it. */
static void set_deadline(struct agent_tls_conn *c, uint64_t ms,
			 const char *why)
{
	if (!c->killed)
		ch_tls_deadline(&c->tls, ms, why);
}

uint64_t agent_tls_conn_last_active(const struct agent_tls_conn *c)
{
	return c->last_active;
}

void agent_tls_conn_close(struct agent_tls_conn *c, const char *reason)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->result.reason = reason;
	if (c->nc && !c->ending)
		c->result.graceful = 0;	/* cut, not closed by the manager */
	if (c->srv)
		clog(CH_LOG_INFO, c, "session-id=%u ended: %s", c->session_id,
		     reason);
	/* The NETCONF state is freed in conn_closed: close may be called
	 * from inside ch_nc_input's callbacks. */
	ch_tls_close(&c->tls);
}

static void conn_closed(struct ch_tls *t)
{
	struct agent_tls_conn *c = t->data;

	if (c->srv)
		nc_server_free(c->srv);
	ch_nc_free(c->nc);
	clog(CH_LOG_INFO, c, "connection closed: %s", c->result.reason);
	c->done(c->done_ctx, &c->result);
	free(c->rules);
	free(c);
}

/* ---- the NETCONF session ---- */

static int nc_send(void *ctx, const char *data, size_t len)
{
	struct agent_tls_conn *c = ctx;

	return ch_tls_write(&c->tls, data, len);
}

static void nc_hello(void *ctx, const struct ch_hello *peer)
{
	struct agent_tls_conn *c = ctx;

	set_deadline(c, 0, NULL);
	clog(CH_LOG_INFO, c, "session-id=%u user=%s NETCONF hello done "
	     "(%zu client capabilities, %s)", c->session_id, c->user,
	     peer->ncaps, ch_nc_chunked(c->nc) ? "base:1.1" : "base:1.0");
	c->result.established = 1;
}

static int nc_message(void *ctx, const char *msg, size_t len)
{
	struct agent_tls_conn *c = ctx;
	int r;

	c->last_active = uv_now(c->ag->loop);
	r = nc_server_serve(c->srv, c->nc, msg, len);
	if (r == CH_ERR_CLOSED)
		c->result.graceful = 1;
	return r;
}

static const struct ch_nc_ops conn_nc_ops = {
	.send = nc_send,
	.on_hello = nc_hello,
	.on_message = nc_message,
};

/* Another session's <kill-session>: end soon, not from inside its call
 * (the stage timer, unused once the hello is done, fires at once). */
static void conn_kill(void *ctx)
{
	struct agent_tls_conn *c = ctx;

	if (c->closing || c->killed)
		return;
	c->killed = 1;
	ch_tls_deadline(&c->tls, 1, KILL_WHY);
}

/* A message of the server's own (a notification), at any time. */
static int conn_push(void *ctx, const char *msg, size_t len)
{
	struct agent_tls_conn *c = ctx;

	if (c->closing || c->ending || c->nc == NULL || !ch_nc_ready(c->nc))
		return CH_ERR_CLOSED;
	return ch_nc_send(c->nc, msg, len);
}

static int start_netconf(struct agent_tls_conn *c)
{
	struct agent *ag = c->ag;
	const char *const *caps;
	size_t ncaps;

	c->session_id = ag->next_session_id++;
	if (ag->next_session_id == 0)	/* session-id 0 is not valid */
		ag->next_session_id = 1;
	caps = nc_server_caps(ag, &ncaps);
	c->srv = nc_server_new(ag, c->session_id, c->user);
	c->nc = ch_nc_new(CH_NC_SERVER, c->session_id, caps, ncaps,
			  ag->cfg.max_message, &conn_nc_ops, c);
	if (c->srv == NULL || c->nc == NULL || ch_nc_start(c->nc) != CH_OK)
		return CH_ERR_NOMEM;
	nc_server_set_chan(c->srv, c->peer, conn_kill, conn_push, c);
	c->last_active = uv_now(ag->loop);
	set_deadline(c, ag->cfg.hello_timeout_ms,
		     "the manager sent no NETCONF hello in time");
	clog(CH_LOG_INFO, c, "session-id=%u NETCONF session started",
	     c->session_id);
	return CH_OK;
}

/* ---- TLS callbacks ---- */

static void conn_handshake(struct ch_tls *t, int status)
{
	struct agent_tls_conn *c = t->data;
	char subject[256] = "?", why[CH_CTN_ERR_LEN];
	uint32_t rule = 0;
	X509 *cert;

	if (status != CH_OK) {
		clog(CH_LOG_WARN, c, "TLS handshake failed: %s",
		     ch_tls_error(t));
		agent_tls_conn_close(c, ch_tls_verify_result(t, NULL, NULL)
				     != X509_V_OK
				     ? "manager certificate refused"
				     : "TLS handshake failed");
		return;
	}
	cert = ch_tls_peer_cert(t);
	if (cert) {
		X509_NAME_oneline(X509_get_subject_name(cert), subject,
				  sizeof(subject));
		ch_cert_sha256(cert, c->fp, sizeof(c->fp));
	}
	/* RFC 7589 7: the identity is checked before any NETCONF byte. */
	if (ch_ctn_map(c->rules, c->nrules, cert, ch_tls_verified_chain(t),
		       c->user, sizeof(c->user), &rule, why,
		       sizeof(why)) != CH_OK) {
		clog(CH_LOG_WARN, c, "manager certificate %s (%s) maps to no "
		     "user: %s", c->fp, subject, why);
		agent_tls_conn_close(c, "manager certificate matches no "
				     "cert-to-name rule");
		return;
	}
	clog(CH_LOG_INFO, c, "%s %s, manager certificate %s (%s) is user "
	     "'%s' by cert-to-name rule %u (handshake %.1f ms)",
	     ch_tls_version(t), ch_tls_cipher(t), c->fp, subject, c->user,
	     rule, (double)t->hs_ns / 1e6);
	if (start_netconf(c) != CH_OK) {
		clog(CH_LOG_ERROR, c, "cannot start a NETCONF session");
		agent_tls_conn_close(c, "out of memory");
	}
}

static void conn_io(struct ch_tls *t)
{
	struct agent_tls_conn *c = t->data;
	char buf[CH_TLS_READ_CHUNK];
	size_t n;
	int r;

	while (!c->closing) {
		r = ch_tls_read(t, buf, sizeof(buf), &n);
		if (r == CH_ERR_AGAIN)
			break;
		if (r == CH_ERR_CLOSED) {
			clog(CH_LOG_INFO, c, "%s", ch_tls_error(t));
			agent_tls_conn_close(c, c->result.established
				? "manager closed the connection"
				: "closed by the manager before a NETCONF "
				  "session");
			return;
		}
		if (r != CH_OK) {
			clog(CH_LOG_WARN, c, "TLS: %s", ch_tls_error(t));
			agent_tls_conn_close(c, "TLS error");
			return;
		}
		if (c->ending)
			continue;	/* nothing after <close-session> */
		r = ch_nc_input(c->nc, buf, n);
		if (r == CH_ERR_CLOSED) {
			c->ending = 1;
			set_deadline(c, AGENT_TLS_CLOSE_FLUSH_MS, FLUSH_WHY);
		} else if (r != CH_OK) {
			clog(CH_LOG_WARN, c, "session-id=%u: %s", c->session_id,
			     ch_nc_error(c->nc)[0] ? ch_nc_error(c->nc)
						   : ch_strerror(r));
			agent_tls_conn_close(c, r == CH_ERR_LIMIT
					     ? "manager over a limit"
					     : "NETCONF protocol error");
			return;
		}
	}
	/* The reply to <close-session> is out: end the TLS session. */
	if (c->ending && !c->closing && ch_tls_pending(t) == 0)
		agent_tls_conn_close(c, "closed by the manager "
				     "(close-session)");
}

static void conn_expired(struct ch_tls *t, const char *why)
{
	struct agent_tls_conn *c = t->data;

	if (c->killed) {
		agent_tls_conn_close(c, KILL_WHY);
		return;
	}
	clog(CH_LOG_WARN, c, "%s", why);
	agent_tls_conn_close(c, why);
}

static const struct ch_tls_cb conn_tls_cb = {
	.handshake = conn_handshake,
	.io = conn_io,
	.expired = conn_expired,
	.closed = conn_closed,
};

static int build_ctx(struct agent_tls_conn *c,
		     const struct agent_tls_params *p, struct ch_tls_ctx **ctx)
{
	const char *cas[1] = { p->client_ca_file };
	const char *crls[1] = { p->crl_file };
	struct ch_tls_ctx_opts o = {
		.cert_file = p->cert_file,
		.key_file = p->key_file,
		.chain_file = p->chain_file,
		.ca_files = cas,
		.nca_files = 1,
		.crl_files = crls,
		.ncrl_files = p->crl_file ? 1 : 0,
		.verify = CH_TLS_VERIFY_REQUIRE,	/* RFC 7589 2, 7 */
	};

	if (p->client_ca_file == NULL) {
		clog(CH_LOG_ERROR, c, "TLS call home needs a CA file for the "
		     "manager's certificate");
		return CH_ERR_INVAL;
	}
	return ch_tls_server_ctx_new(&o, ctx);
}

/* What identifies the files' content: a missing or unset file is all
 * zeros (and fails later, when the context is built). */
static void stamps(const struct agent_tls_params *p,
		   struct agent_tls_stamp *out)
{
	const char *files[AGENT_TLS_FILES] = { p->cert_file, p->key_file,
		p->chain_file, p->client_ca_file, p->crl_file };
	struct stat st;

	memset(out, 0, AGENT_TLS_FILES * sizeof(*out));
	for (int k = 0; k < AGENT_TLS_FILES; k++)
		if (files[k] && stat(files[k], &st) == 0) {
			out[k].sec = st.st_mtim.tv_sec;
			out[k].nsec = st.st_mtim.tv_nsec;
			out[k].size = st.st_size;
			/* ctime no tool can set back; a file replaced by
			 * rename is another inode */
			out[k].csec = st.st_ctim.tv_sec;
			out[k].cnsec = st.st_ctim.tv_nsec;
			out[k].ino = (long long)st.st_ino;
			out[k].dev = (long long)st.st_dev;
		}
}

void agent_tls_cache_clear(struct agent_tls_cache *c)
{
	ch_tls_ctx_free(c->ctx);
	memset(c, 0, sizeof(*c));
}

/* The context for this call: the cached one while its files are
 * unchanged, else a new one (cached when there is a cache). *owned: the
 * caller frees it after starting the session. */
static int make_ctx(struct agent_tls_conn *c, const struct agent_tls_params *p,
		    struct ch_tls_ctx **ctx, int *owned)
{
	struct agent_tls_stamp now[AGENT_TLS_FILES];
	int r;

	*ctx = NULL;
	*owned = p->cache == NULL;
	if (p->cache == NULL)
		return build_ctx(c, p, ctx);
	stamps(p, now);
	if (p->cache->ctx &&
	    memcmp(now, p->cache->stamp, sizeof(now)) == 0) {
		*ctx = p->cache->ctx;
		return CH_OK;
	}
	if ((r = build_ctx(c, p, ctx)) != CH_OK)
		return r;
	if (p->cache->ctx)
		clog(CH_LOG_INFO, c, "TLS files changed: new context");
	agent_tls_cache_clear(p->cache);
	p->cache->ctx = *ctx;
	memcpy(p->cache->stamp, now, sizeof(now));
	return CH_OK;
}

int agent_tls_conn_start(struct agent *ag, const struct agent_tls_params *p,
			 int fd, const char *peer,
			 void (*done)(void *ctx,
				      const struct agent_conn_result *),
			 void *ctx, struct agent_tls_conn **out)
{
	struct agent_tls_conn *c;
	struct ch_tls_ctx *tctx = NULL;
	char err[CH_CTN_ERR_LEN] = "";
	int r, owned = 1;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return CH_ERR_NOMEM;
	}
	c->ag = ag;
	c->id = next_conn_id++;
	c->done = done;
	c->done_ctx = ctx;
	c->result.reason = "closed";
	c->last_active = uv_now(ag->loop);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if ((r = ch_ctn_check(p->rules, p->nrules, err, sizeof(err))) != CH_OK) {
		clog(CH_LOG_ERROR, c, "%s", err);
		goto fail;
	}
	if (p->nrules &&
	    (c->rules = calloc(p->nrules, sizeof(*c->rules))) == NULL) {
		r = CH_ERR_NOMEM;
		goto fail;
	}
	if (p->nrules)
		memcpy(c->rules, p->rules, p->nrules * sizeof(*c->rules));
	c->nrules = p->nrules;
	if (c->nrules == 0)
		clog(CH_LOG_WARN, c, "no cert-to-name rule: every manager "
		     "will be refused");
	if ((r = make_ctx(c, p, &tctx, &owned)) != CH_OK)
		goto fail;
	if (p->keepalive_ms &&
	    ch_tls_tcp_keepalive(fd, p->keepalive_ms, p->keepalive_count)
	    != CH_OK)
		clog(CH_LOG_WARN, c, "no TCP keep-alives: a dead manager is "
		     "found only when a write fails");
	if ((r = ch_tls_start(&c->tls, ag->loop, tctx, fd, &conn_tls_cb,
			      c)) != CH_OK)
		goto fail;
	if (owned)
		ch_tls_ctx_free(tctx);	/* the session holds its own ref */
	/* RFC 8071 S5: a manager that does not authenticate in time is
	 * dropped; the TLS handshake is its authentication. */
	ch_tls_deadline(&c->tls, ag->cfg.auth_timeout_ms,
			"manager did not complete the TLS handshake in time");
	clog(CH_LOG_INFO, c, "connected, starting TLS server (%zu "
	     "cert-to-name rules)", c->nrules);
	*out = c;
	return CH_OK;
fail:
	if (owned)
		ch_tls_ctx_free(tctx);
	close(fd);
	free(c->rules);
	free(c);
	return r;
}
