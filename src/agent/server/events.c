/* events.c - notifications and the rollback's --on-commit run
 * (events.h).
 */
#include "agent/server/events.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/datastore.h"
#include "agent/notif.h"
#include "agent/server/reply.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define NCN_NS "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
/* DIFF.xml of a rollback: its edits under <edits>. */
#define DIFF_OPEN "<edits xmlns=\"" NCN_NS "\">"
#define DIFF_CLOSE "</edits>\n"

static void on_rollback_timer(uv_timer_t *t);

/* ag->notify: the NETCONF stream for the other modules. */
static void emit(struct agent *ag, const char *xml, size_t len)
{
	notif_emit(ag->srv->stream, xml, len);
}

/* The subscription's push: one notification on s's channel, counted. */
static int sub_push(void *ctx, const char *msg, size_t len)
{
	struct nc_server *s = ctx;
	int r;

	if (s->push == NULL || s->killed || s->closed)
		return CH_ERR_CLOSED;
	if ((r = s->push(s->kill_ctx, msg, len)) == CH_OK) {
		s->out_notifications++;
		s->srv->stats.out_notifications++;
	}
	return r;
}

/* <netconf-config-change> (RFC 6470) into b: changed-by who (NULL:
 * the server), then the edits unless with_edits is clear. */
static int config_change(struct ch_buf *b, const struct nc_server *who,
			 const char *edits, size_t len, int with_edits)
{
	char host[64];
	int r;

	r = ch_buf_puts(b, "<netconf-config-change xmlns=\"" NCN_NS "\">"
			"<changed-by>");
	if (r == CH_OK && who != NULL) {
		host_of(who->peer, host, sizeof(host));
		if ((r = put_leaf(b, "username", who->user)) == CH_OK &&
		    (r = put_uint(b, "session-id", who->session_id)) ==
			    CH_OK && host[0])
			r = put_leaf(b, "source-host", host);
	} else if (r == CH_OK) {
		r = ch_buf_puts(b, "<server/>");
	}
	if (r == CH_OK)
		r = ch_buf_puts(b, "</changed-by><datastore>running"
				"</datastore>");
	if (r == CH_OK && with_edits)
		r = ch_buf_put(b, edits, len);
	if (r == CH_OK)
		r = ch_buf_puts(b, "</netconf-config-change>");
	return r;
}

/* The datastore's hook: running changed (RFC 6470 netconf-config-change).
 * A confirmed commit's rollback is also due to the on-commit program:
 * inside <cancel-commit>, or the agent's doing (sid 0: the timer, the end
 * of the session) while the commit is still pending (the datastore ends
 * it after telling). Other changes with sid 0 (the agent writing its
 * own configuration at start) are not rollbacks. */
static void on_running_change(void *ctx, uint32_t sid, const char *edits,
			      size_t len)
{
	struct nc_srv *srv = ctx;
	struct rollback *rb = &srv->rb;
	struct nc_server *who = NULL;
	struct ch_buf b;
	int r;

	if (srv->ag->cfg.on_commit != NULL &&
	    ((sid == 0 && ch_ds_confirm_pending(srv->ag->ds)) ||
	     rb->cancelling)) {
		/* One change's edits fit (CH_DS_EDITS_MAX); a second before
		 * the program ran may not. */
		if ((r = ch_buf_put(&rb->edits, edits, len)) != CH_OK)
			ch_log_r(CH_LOG_ERROR, r, "on-commit: a rollback's "
				 "%zu bytes of edits are left out of the "
				 "program's diff", len);
		rb->pending = 1;
		if (rb->timer_init)
			uv_timer_start(&rb->timer, on_rollback_timer, 0, 0);
	}
	for (struct nc_server *x = srv->sessions; sid && x; x = x->next)
		if (x->session_id == sid)
			who = x;
	/* Bounded as the stream's notifications are; the edits are
	 * optional (RFC 6470): a change too big to list is still told. */
	ch_buf_init(&b, CH_NOTIF_MAX);
	if ((r = config_change(&b, who, edits, len, 1)) == CH_ERR_LIMIT) {
		ch_log(CH_LOG_WARN, "netconf-config-change: its %zu bytes of "
		       "edits are over %u bytes (CH_NOTIF_MAX): sent without "
		       "them", len, (unsigned)CH_NOTIF_MAX);
		ch_buf_reset(&b);
		r = config_change(&b, who, edits, len, 0);
	}
	if (r == CH_OK)
		notif_emit(srv->stream, ch_buf_ptr(&b), ch_buf_len(&b));
	else
		ch_log_r(CH_LOG_ERROR, r, "netconf-config-change not sent");
	ch_buf_cleanup(&b);
}

int srv_events_init(struct nc_srv *srv)
{
	struct agent *ag = srv->ag;

	if (notif_stream_new(ag->loop, ag->cfg.datastore_dir,
			     &srv->stream) != CH_OK)
		return CH_ERR_NOMEM;
	ch_ds_on_change(ag->ds, on_running_change, srv);
	ag->notify = emit;	/* for the other modules */
	if (ag->cfg.on_commit != NULL && ag->loop != NULL &&
	    uv_timer_init(ag->loop, &srv->rb.timer) == 0) {
		srv->rb.timer_init = 1;
		srv->rb.timer.data = srv;
		uv_unref((uv_handle_t *)&srv->rb.timer);
	}
	return CH_OK;
}

void srv_events_cleanup(struct nc_srv *srv)
{
	notif_stream_free(srv->stream);
	srv->stream = NULL;
	oncommit_cleanup(&srv->runs);
	ch_buf_cleanup(&srv->rb.edits);
}

/* <create-subscription> (RFC 5277 2.1.1). */
int op_create_subscription(struct nc_server *s,
			   const struct ch_rpc *rpc,
			   struct ch_buf *out)
{
	struct notif_req req;
	struct notif_err ne;
	struct notif_sub *sub;
	int r;

	if (notif_sub_active(s->sub))
		return reply_error(s, out, rpc, "protocol", "operation-failed",
				   "this session already has a "
				   "subscription");
	if (notif_parse_request(rpc->op, time(NULL), &req, &ne) != CH_OK) {
		struct ch_rpc_error e = {
			.type = "protocol", .tag = ne.tag,
			.message = ne.message,
			.info_xml = ne.info[0] ? ne.info : NULL,
		};

		return send_error(s, out, rpc, &e);
	}
	if ((r = notif_subscribe(s->srv->stream, &req, sub_push, s,
				 &sub)) != CH_OK)
		return r;
	if ((r = ch_reply_ok(out, rpc)) != CH_OK) {
		notif_sub_free(sub);
		return r;
	}
	notif_sub_free(s->sub);		/* one that reached its stopTime */
	s->sub = sub;
	ch_info("session-id=%u subscribed to the NETCONF stream%s",
		s->session_id, req.has_start ? " with replay" : "");
	return CH_OK;
}

void spec_init(const struct agent *ag, struct oncommit_spec *spec,
	       enum oncommit_kind kind, const char *running,
	       const char *diff)
{
	memset(spec, 0, sizeof(*spec));
	spec->loop = ag->loop;
	spec->prog = ag->cfg.on_commit;
	spec->dir = ag->cfg.datastore_dir;
	spec->timeout_ms = ag->cfg.on_commit_timeout_ms;
	spec->msg_max = CH_AGENT_ON_COMMIT_MSG_MAX;
	spec->kind = kind;
	spec->running = running;
	spec->diff = diff;
}

static void on_rollback_done(void *ctx, const struct oncommit_result *res)
{
	(void)ctx;
	if (res->accepted)
		ch_info("the on-commit program applied the rolled-back "
			"configuration");
	else
		ch_error("the on-commit program failed on the rolled-back "
			 "configuration: %s: the device's configuration may "
			 "differ from running", res->why);
}

/* Runs the program on running as a rollback left it: RUNNING.xml is
 * running, DIFF.xml the change as RFC 6470 <edit> elements under
 * <edits> (what the datastore tells of a change). It cannot refuse:
 * running is already back. */
void rollback_flush(struct nc_srv *srv)
{
	struct rollback *rb = &srv->rb;
	struct oncommit_spec spec;
	struct oncommit_run *run;
	struct ch_ds_err de;
	struct ch_buf diff;
	char *xml = NULL;
	size_t len;

	if (!rb->pending)
		return;
	rb->pending = 0;
	if (rb->timer_init)
		uv_timer_stop(&rb->timer);
	ch_buf_init(&diff, sizeof(DIFF_OPEN) + CH_DS_EDITS_MAX +
		    sizeof(DIFF_CLOSE));	/* rb->edits fits */
	if (ch_ds_get(srv->ag->ds, CH_DS_RUNNING, &xml, &len, &de) != CH_OK ||
	    ch_buf_puts(&diff, DIFF_OPEN) != CH_OK ||
	    ch_buf_put(&diff, ch_buf_ptr(&rb->edits),
		       ch_buf_len(&rb->edits)) != CH_OK ||
	    ch_buf_puts(&diff, DIFF_CLOSE) != CH_OK) {
		ch_error("on-commit: cannot prepare the rolled-back "
			 "configuration: the program was not run and the "
			 "device's configuration may differ from running");
		goto out;
	}
	spec_init(srv->ag, &spec, ONCOMMIT_ROLLBACK, xml, ch_buf_ptr(&diff));
	if (oncommit_start(&srv->runs, &spec, on_rollback_done, NULL,
			   &run) != CH_OK)
		ch_error("on-commit: the program could not be run on the "
			 "rolled-back configuration: the device's "
			 "configuration may differ from running");
	else
		ch_info("on-commit program %s started on the rolled-back "
			"configuration (pid %d)", spec.prog,
			oncommit_pid(run));
out:
	ch_buf_reset(&rb->edits);
	ch_buf_cleanup(&diff);
	free(xml);
}

static void on_rollback_timer(uv_timer_t *t)
{
	rollback_flush(t->data);
}
