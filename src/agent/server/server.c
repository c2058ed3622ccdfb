/* server.c - the device's NETCONF server (agent.h's nc_server_*): its
 * state's life, the sessions, and the dispatch of each <rpc> to the
 * operation that answers it, in order, deferred while --on-commit's
 * program checks a change of running.
 *
 * Two modes, fixed at start by the command line:
 *  - schema-less (no --module; ag->ds is NULL): <get> and <get-config>
 *    of running from DATASTORE/running.xml as it is (the children of
 *    <data>), <close-session>, and operation-not-supported for the rest;
 *    only the base capabilities are advertised;
 *  - schema-aware (ag->ds, datastore/): running, candidate and startup
 *    with edit-config, copy-config, delete-config, lock, unlock,
 *    validate, commit (confirmed too), cancel-commit, discard-changes.
 * In both, <get>/<get-config> take a subtree filter (RFC 6241 6),
 * applied to the serialised configuration, and <kill-session> ends
 * another live session (srv->sessions). In schema-aware mode,
 * with the ietf-netconf-monitoring module (RFC 6022), <get> adds the
 * <netconf-state> state data and <get-schema> serves the modules; and
 * RFC 5277 notifications (notif.c): <create-subscription> to the NETCONF
 * stream, netconf-config-change (RFC 6470) on every change of running.
 * With --on-commit (oncommit.c runs the program), a change of running
 * waits for the program's verdict, and a confirmed commit's rollback is
 * handed to it too.
 *
 * The other files of src/agent/server/: ops.c (the operations),
 * monitor.c (RFC 6022), events.c (notifications, the rollback's
 * --on-commit run), reply.c (rpc-errors, parameters, leaves);
 * internal.h holds the state they share.
 */
#include "agent/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/datastore.h"
#include "agent/notif.h"
#include "agent/oncommit.h"
#include "agent/server/events.h"
#include "agent/server/internal.h"
#include "agent/server/monitor.h"
#include "agent/server/ops.h"
#include "agent/server/reply.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"
#include "lib/nc/ncproto.h"

#define CAP_NOTIF "urn:ietf:params:netconf:capability:notification:1.0"
#define CAP_INTERLEAVE "urn:ietf:params:netconf:capability:interleave:1.0"
#define CAP_XPATH "urn:ietf:params:netconf:capability:xpath:1.0"
#define YANGLIB_REV "2019-01-04"

static const char *const base_caps[] = {
	CH_NC_BASE10,
	CH_NC_BASE11,
};

/* Schema-aware mode only: RFC 5277 notifications, XPath filters. */
static const char *const notif_caps[] = {
	CAP_NOTIF,
	CAP_INTERLEAVE,
	CAP_XPATH,
};
#define NOTIF_NCAPS (sizeof(notif_caps) / sizeof(notif_caps[0]))

int nc_server_init(struct agent *ag)
{
	const size_t nbase = sizeof(base_caps) / sizeof(base_caps[0]);
	const char *const *dcaps = NULL;
	struct nc_srv *srv;
	size_t ndcaps = 0;

	nc_server_cleanup(ag);
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return CH_ERR_NOMEM;
	ag->srv = srv;
	srv->ag = ag;
	srv->start_time = time(NULL);
	ch_buf_init(&srv->rb.edits, CH_DS_EDITS_MAX);
	if (ag->ds != NULL) {
		srv_monitor_init(srv);
		dcaps = ch_ds_caps(ag->ds, &ndcaps);
	}
	if ((srv->caps = calloc(nbase + NOTIF_NCAPS + 1 + ndcaps,
				sizeof(*srv->caps))) == NULL)
		goto fail;
	for (size_t i = 0; i < nbase; i++)
		srv->caps[srv->ncaps++] = base_caps[i];
	if (ag->ds != NULL) {
		for (size_t i = 0; i < NOTIF_NCAPS; i++)
			srv->caps[srv->ncaps++] = notif_caps[i];
		snprintf(srv->yanglib_cap, sizeof(srv->yanglib_cap),
			 CAP_YANGLIB "?revision=" YANGLIB_REV
			 "&module-set-id=%u", ch_ds_yanglib_id(ag->ds));
		srv->caps[srv->ncaps++] = srv->yanglib_cap;
		if (srv_events_init(srv) != CH_OK)
			goto fail;
	}
	for (size_t i = 0; i < ndcaps; i++)
		srv->caps[srv->ncaps++] = dcaps[i];
	return CH_OK;
fail:
	nc_server_cleanup(ag);
	return CH_ERR_NOMEM;
}

/* After the loop closed every handle (the rollback timer with them). */
void nc_server_cleanup(struct agent *ag)
{
	struct nc_srv *srv = ag->srv;

	if (srv == NULL)
		return;
	srv_events_cleanup(srv);
	free(srv->caps);
	free(srv);
	ag->srv = NULL;
	ag->notify = NULL;
}

const char *const *nc_server_caps(const struct agent *ag, size_t *n)
{
	if (ag->srv == NULL) {	/* nc_server_init not called */
		*n = sizeof(base_caps) / sizeof(base_caps[0]);
		return base_caps;
	}
	*n = ag->srv->ncaps;
	return ag->srv->caps;
}

struct nc_server *nc_server_new(struct agent *ag, uint32_t session_id,
				const char *user)
{
	struct nc_server *s;

	if (ag->srv == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->srv = ag->srv;
	s->ag = ag;
	s->session_id = session_id;
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->login_time = time(NULL);
	s->next = s->srv->sessions;
	s->srv->sessions = s;
	s->srv->stats.in_sessions++;
	return s;
}

void nc_server_set_chan(struct nc_server *s, const char *peer,
			void (*kill)(void *ctx),
			int (*push)(void *ctx, const char *msg, size_t len),
			void *ctx)
{
	snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "");
	s->kill = kill;
	s->push = push;
	s->kill_ctx = ctx;
}

void nc_server_set_tls(struct nc_server *s, int tls)
{
	s->tls = tls;
}

/* s's check will never be made: the datastore need not keep its dry
 * run (a copy of running; nor would ch_ds_close free it), unless
 * another session's check runs, whose dry run it may be (one slot). */
static void drop_dry_run(struct nc_server *s)
{
	for (struct nc_server *x = s->srv->sessions; x; x = x->next)
		if (x != s && x->hook != NULL)
			return;
	ch_ds_gate(s->ag->ds, CH_DS_GATE_DRY);	/* frees it */
	ch_ds_gate(s->ag->ds, CH_DS_GATE_OFF);
}

void nc_server_free(struct nc_server *s)
{
	if (s == NULL)
		return;
	for (struct nc_server **pp = &s->srv->sessions; *pp;
	     pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	/* RFC 6022: neither close-session nor kill-session is a drop. */
	if (!s->closed && !s->killed)
		s->srv->stats.dropped_sessions++;
	ch_ds_session_end(s->ag->ds, s->session_id);
	rollback_flush(s->srv);
	notif_sub_free(s->sub);
	if (s->hook != NULL) {
		oncommit_detach(s->hook);	/* runs on, result dropped */
		drop_dry_run(s);
	}
	free(s->deferred);
	while (s->queue) {
		struct queued *q = s->queue;

		s->queue = q->next;
		free(q->msg);
		free(q);
	}
	free(s);
}

void nc_server_after_reply(struct nc_server *s)
{
	notif_sub_after_reply(s->sub);
}

/* ---- --on-commit: an external check of every change of running ---- */

/* How an rpc is handled (handle_one). */
enum pass {
	PASS_NORMAL,		/* a change of running may be deferred */
	PASS_APPROVED,		/* the program accepted: make it */
	PASS_REJECTED,		/* the program refused: answer why */
};

static int handle_one(struct nc_server *s, const char *msg, size_t len,
		      struct ch_buf *out, enum pass pass, const char *why);

/* Sends a reply built outside nc_server_handle. */
static void push_reply(struct nc_server *s, struct ch_buf *b)
{
	if (ch_buf_len(b) && s->push)
		s->push(s->kill_ctx, ch_buf_ptr(b), ch_buf_len(b));
	ch_buf_reset(b);
}

/* The rpcs queued behind the deferred one, in order, until one is
 * deferred again. */
static void drain_queue(struct nc_server *s)
{
	struct ch_buf out;
	struct queued *q;
	int r;

	ch_buf_init(&out, CH_AGENT_REPLY_MAX);
	while (s->deferred == NULL && (q = s->queue) != NULL) {
		s->queue = q->next;
		s->nqueued--;
		r = handle_one(s, q->msg, q->len, &out, PASS_NORMAL, NULL);
		push_reply(s, &out);
		free(q->msg);
		free(q);
		if (r == CH_ERR_CLOSED) {	/* close-session */
			if (s->kill)
				s->kill(s->kill_ctx);
			break;
		}
	}
	ch_buf_cleanup(&out);
}

/* The program checked the deferred rpc: it is answered (made, or
 * refused with the program's reason), then the rpcs behind it. */
static void on_check_done(void *ctx, const struct oncommit_result *res)
{
	struct nc_server *s = ctx;
	struct ch_buf out;
	char *msg = s->deferred;
	size_t len = s->deferred_len;

	s->hook = NULL;
	s->deferred = NULL;
	ch_buf_init(&out, CH_AGENT_REPLY_MAX);
	if (res->accepted) {
		ch_info("session-id=%u: the on-commit program accepted the "
			"change", s->session_id);
		handle_one(s, msg, len, &out, PASS_APPROVED, NULL);
	} else {
		ch_warn("session-id=%u: the on-commit program rejected the "
			"change: %s", s->session_id, res->why);
		handle_one(s, msg, len, &out, PASS_REJECTED, res->why);
	}
	push_reply(s, &out);
	ch_buf_cleanup(&out);
	free(msg);
	drain_queue(s);
}


/* Starts the program on the dry run's result. 1: nothing would change
 * (no check needed), 0: started, <0: failed (logged). */
static int hook_start(struct nc_server *s)
{
	struct oncommit_spec spec;
	char *run = NULL, *diff = NULL;
	int r;

	if ((r = ch_ds_gate_files(s->ag->ds, &run, &diff)) != CH_OK)
		return r;
	if (diff[0] == '\0') {
		r = 1;
		goto out;
	}
	spec_init(s->ag, &spec, ONCOMMIT_CHECK, run, diff);
	if ((r = oncommit_start(&s->srv->runs, &spec, on_check_done, s,
				&s->hook)) == CH_OK)
		ch_info("session-id=%u: on-commit program %s started (pid %d)",
			s->session_id, spec.prog, oncommit_pid(s->hook));
out:
	free(run);
	free(diff);
	return r;
}




/* Whether the rpc may change running: edit-config or copy-config with
 * <running/> as target, commit. */
static int changes_running(const struct ch_rpc *rpc)
{
	xmlNode *t, *k;

	if (rpc->op_ns == NULL || strcmp(rpc->op_ns, CH_NC_NS) != 0)
		return 0;
	if (strcmp(rpc->op_name, "commit") == 0)
		return 1;
	if (strcmp(rpc->op_name, "edit-config") != 0 &&
	    strcmp(rpc->op_name, "copy-config") != 0)
		return 0;
	t = child(rpc->op, "target");
	k = first_element(t);
	return k != NULL && strcmp((const char *)k->name, "running") == 0;
}


int nc_server_handle(struct nc_server *s, const char *msg, size_t len,
		     struct ch_buf *out)
{
	struct queued *q;

	if (s->killed)		/* nothing after kill-session */
		return CH_ERR_CLOSED;
	if (s->deferred == NULL)
		return handle_one(s, msg, len, out, PASS_NORMAL, NULL);
	/* Replies go in order (RFC 6241 4.1): this one waits too. */
	if (s->nqueued >= CH_AGENT_DEFERRED_MAX) {
		ch_log_rl(CH_LOG_WARN, "session-id=%u: more than %d rpcs "
			  "behind a deferred reply", s->session_id,
			  CH_AGENT_DEFERRED_MAX);
		return CH_ERR_LIMIT;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->msg = malloc(len + 1)) == NULL) {
		free(q);
		return CH_ERR_NOMEM;
	}
	memcpy(q->msg, msg, len);
	q->msg[len] = '\0';
	q->len = len;
	if (s->queue == NULL)
		s->qtail = &s->queue;
	*s->qtail = q;
	s->qtail = &q->next;
	s->nqueued++;
	return CH_OK;
}

/* The reply to rpc would be over out's bound (CH_AGENT_REPLY_MAX; out
 * is unchanged): a too-big rpc-error instead, and the session goes on.
 * When even that does not fit (the rpc's own attributes, which every
 * reply repeats, are too big) CH_ERR_LIMIT ends the session. */
static int reply_too_big(struct nc_server *s, const struct ch_rpc *rpc,
			 struct ch_buf *out)
{
	ch_log_rl(CH_LOG_WARN, "session-id=%u message-id=%s: the reply to "
		  "<%s> is over %zu bytes: answered too-big", s->session_id,
		  rpc->message_id, rpc->op_name, out->max);
	return reply_error(s, out, rpc, "application", "too-big",
			   "the reply would be larger than this device "
			   "sends");
}

/* One rpc. PASS_NORMAL: a change of running, with --on-commit, is
 * computed (dry run) and its reply deferred until the program ends;
 * PASS_APPROVED makes it; PASS_REJECTED answers operation-failed with
 * why. */
static int handle_one(struct nc_server *s, const char *msg, size_t len,
		      struct ch_buf *out, enum pass pass, const char *why)
{
	struct ch_rpc *rpc = NULL;
	struct nc_srv *srv = s->srv;
	uint32_t errors = srv->errors_sent;
	int r, bad = 1, gated = 0;

	if (ch_rpc_parse(msg, len, &rpc) != CH_OK) {
		ch_log_rl(CH_LOG_INFO, "session-id=%u: malformed message "
			  "(%zu bytes) answered with malformed-message",
			  s->session_id, len);
		r = reply_error(s, out, NULL, "rpc", "malformed-message",
				"the message is not a well-formed <rpc> in the "
				"NETCONF base namespace");
		goto out;
	}
	if (rpc->message_id == NULL) {
		struct ch_rpc_error e = {
			.type = "rpc", .tag = "missing-attribute",
			.message = "<rpc> has no message-id attribute",
			.info_xml = "<bad-attribute>message-id</bad-attribute>"
				    "<bad-element>rpc</bad-element>",
		};
		r = send_error(s, out, NULL, &e);
		goto out;
	}
	if (rpc->op == NULL) {
		r = reply_error(s, out, rpc, "protocol", "missing-element",
				"<rpc> has no operation");
		goto out;
	}
	ch_debug("session-id=%u message-id=%s op=%s", s->session_id,
		 rpc->message_id, rpc->op_name);
	bad = 0;
	if (s->ag->ds && s->ag->cfg.on_commit && changes_running(rpc)) {
		if (pass == PASS_REJECTED) {
			r = reply_error(s, out, rpc, "application",
					"operation-failed", why);
			goto out;
		}
		gated = 1;
		ch_ds_gate(s->ag->ds, pass == PASS_APPROVED ?
			   CH_DS_GATE_EXPECT : CH_DS_GATE_DRY);
		srv->deferred_now = 0;
	}
	if (srv->monitoring && rpc->op_ns && strcmp(rpc->op_ns, MON_NS) == 0 &&
	    strcmp(rpc->op_name, "get-schema") == 0) {
		r = op_get_schema(s, rpc, out);
	} else if (srv->stream != NULL && rpc->op_ns &&
		   strcmp(rpc->op_ns, NOTIF_NS) == 0 &&
		   strcmp(rpc->op_name, "create-subscription") == 0) {
		r = op_create_subscription(s, rpc, out);
	} else if (rpc->op_ns == NULL || strcmp(rpc->op_ns, CH_NC_NS) != 0) {
		r = reply_error(s, out, rpc, "protocol",
				"operation-not-supported",
				"this device implements no operation in that "
				"namespace");
	} else if (strcmp(rpc->op_name, "get-config") == 0) {
		r = op_get(s, rpc, out, 1);
	} else if (strcmp(rpc->op_name, "get") == 0) {
		r = op_get(s, rpc, out, 0);
	} else if (strcmp(rpc->op_name, "kill-session") == 0) {
		r = op_kill_session(s, rpc, out);
	} else if (strcmp(rpc->op_name, "close-session") == 0) {
		if ((r = ch_reply_ok(out, rpc)) == CH_OK) {
			s->closed = 1;
			r = CH_ERR_CLOSED;
		}
	} else if (s->ag->ds == NULL || handle_ds_op(s, rpc, out, &r) < 0) {
		r = reply_error(s, out, rpc, "protocol",
				"operation-not-supported",
				s->ag->ds ? "this device does not implement "
					    "that operation"
					  : "this device serves its "
					    "configuration read-only (started "
					    "without YANG modules)");
	}
	if (gated) {
		ch_ds_gate(s->ag->ds, CH_DS_GATE_OFF);
		if (srv->deferred_now) {
			srv->deferred_now = 0;
			r = hook_start(s);
			if (r == 1) {	/* nothing would change */
				ch_rpc_free(rpc);
				return handle_one(s, msg, len, out,
						  PASS_APPROVED, NULL);
			}
			if (r == CH_OK) {
				if ((s->deferred = malloc(len + 1)) == NULL) {
					oncommit_detach(s->hook);
					s->hook = NULL;
					r = CH_ERR_NOMEM;
				} else {
					memcpy(s->deferred, msg, len);
					s->deferred[len] = '\0';
					s->deferred_len = len;
					ch_rpc_free(rpc);
					return CH_OK;	/* counted then */
				}
			}
			r = reply_error(s, out, rpc, "application",
					"operation-failed", "the on-commit "
					"program could not be run");
		}
	}
	if (r == CH_ERR_LIMIT)
		r = reply_too_big(s, rpc, out);
out:
	if (bad) {
		s->in_bad_rpcs++;
		srv->stats.in_bad_rpcs++;
	} else {
		s->in_rpcs++;
		srv->stats.in_rpcs++;
	}
	s->out_rpc_errors += srv->errors_sent - errors;
	srv->stats.out_rpc_errors += srv->errors_sent - errors;
	ch_rpc_free(rpc);
	return r;
}

int nc_server_serve(struct nc_server *s, struct ch_nc *nc, const char *msg,
		    size_t len)
{
	struct ch_buf reply;
	int r, rs;

	ch_buf_init(&reply, CH_AGENT_REPLY_MAX);
	r = nc_server_handle(s, msg, len, &reply);
	if (ch_buf_len(&reply) &&
	    (rs = ch_nc_send(nc, ch_buf_ptr(&reply), ch_buf_len(&reply))))
		r = rs;
	ch_buf_cleanup(&reply);
	if (r == CH_OK)
		nc_server_after_reply(s);
	return r;
}
