/* server.c - the device's NETCONF server operations (RFC 6241 7, 8).
 *
 * Two modes, fixed at start by the command line:
 *  - schema-less (no --module; ag->ds is NULL): <get> and <get-config>
 *    of running from DATASTORE/running.xml as it is (the children of
 *    <data>), <close-session>, and operation-not-supported for the rest;
 *    only the base capabilities are advertised;
 *  - schema-aware (ag->ds, datastore.c): running, candidate and startup
 *    with edit-config, copy-config, delete-config, lock, unlock,
 *    validate, commit (confirmed too), cancel-commit, discard-changes.
 * In both, <get>/<get-config> take a subtree filter (RFC 6241 6; no
 * :xpath), applied to the serialised configuration, and <kill-session>
 * ends another live session (the registry below). In schema-aware mode,
 * with the ietf-netconf-monitoring module (RFC 6022), <get> adds the
 * <netconf-state> state data and <get-schema> serves the modules; and
 * RFC 5277 notifications (notif.c): <create-subscription> to the NETCONF
 * stream, netconf-config-change (RFC 6470) on every change of running.
 * With --on-commit (oncommit.c runs the program), a change of running
 * waits for the program's verdict, and a confirmed commit's rollback is
 * handed to it too.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/datastore.h"
#include "agent/notif.h"
#include "agent/oncommit.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/nc/filter.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"
#include "lib/nc/ncproto.h"

#define PARAM_TEXT_MAX 1024	/* a leaf parameter such as persist-id */
#define MON_NS "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
#define TIME_TEXT_MAX NOTIF_TIME_TEXT_MAX
#define NCN_NS "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
#define CAP_NOTIF "urn:ietf:params:netconf:capability:notification:1.0"
#define CAP_INTERLEAVE "urn:ietf:params:netconf:capability:interleave:1.0"
#define CAP_XPATH "urn:ietf:params:netconf:capability:xpath:1.0"
#define CAP_YANGLIB "urn:ietf:params:netconf:capability:yang-library:1.0"
#define YANGLIB_REV "2019-01-04"
#define XPATH_NS_MAX 64		/* in-scope namespaces of an xpath filter */

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

static int send_error(struct nc_server *s, struct ch_buf *out,
		      const struct ch_rpc *rpc, const struct ch_rpc_error *e)
{
	s->srv->errors_sent++;
	return ch_reply_error(out, rpc, e);
}

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

static void on_running_change(void *ctx, uint32_t sid, const char *edits,
			      size_t len);
static void rollback_flush(struct nc_srv *srv);
static void on_rollback_timer(uv_timer_t *t);

/* ag->notify: the NETCONF stream for the other modules. */
static void emit(struct agent *ag, const char *xml, size_t len)
{
	notif_emit(ag->srv->stream, xml, len);
}

static int has_module(const struct ch_ds *ds, const char *name)
{
	struct ch_ds_module m;
	uint32_t idx = 0;

	while (ch_ds_module_next(ds, &idx, &m))
		if (strcmp(m.name, name) == 0)
			return 1;
	return 0;
}

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
	ch_buf_init(&srv->rb.edits, (size_t)-1);
	if (ag->ds != NULL) {
		/* RFC 6022 needs its module in the schema context (it may
		 * already be there, from --module). */
		if (has_module(ag->ds, "ietf-netconf-monitoring"))
			srv->monitoring = 1;
		else if (access(AGENT_MONITORING_YANG, R_OK) != 0)
			ch_info("ietf-netconf-monitoring not offered: %s: %s",
				AGENT_MONITORING_YANG, strerror(errno));
		else if (ch_ds_load_module_file(ag->ds,
						AGENT_MONITORING_YANG) == CH_OK)
			srv->monitoring = 1;
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
		if (notif_stream_new(ag->loop, ag->cfg.datastore_dir,
				     &srv->stream) != CH_OK)
			goto fail;
		ch_ds_on_change(ag->ds, on_running_change, srv);
		ag->notify = emit;	/* for the other modules */
		if (ag->cfg.on_commit != NULL && ag->loop != NULL &&
		    uv_timer_init(ag->loop, &srv->rb.timer) == 0) {
			srv->rb.timer_init = 1;
			srv->rb.timer.data = srv;
			uv_unref((uv_handle_t *)&srv->rb.timer);
		}
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
	notif_stream_free(srv->stream);
	oncommit_cleanup(&srv->runs);
	ch_buf_cleanup(&srv->rb.edits);
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

static int reply_error(struct nc_server *s, struct ch_buf *out,
		       const struct ch_rpc *rpc, const char *type,
		       const char *tag, const char *message)
{
	struct ch_rpc_error e = {
		.type = type, .tag = tag, .message = message,
	};

	return send_error(s, out, rpc, &e);
}

static int reply_missing(struct nc_server *s, struct ch_buf *out,
			 const struct ch_rpc *rpc, const char *elem,
			 const char *message)
{
	char info[128];
	struct ch_rpc_error e = {
		.type = "protocol", .tag = "missing-element",
		.message = message, .info_xml = info,
	};

	snprintf(info, sizeof(info), "<bad-element>%s</bad-element>", elem);
	return send_error(s, out, rpc, &e);
}

static int reply_ds(struct nc_server *s, struct ch_buf *out,
		    const struct ch_rpc *rpc, int r, const struct ch_ds_err *de)
{
	struct ch_rpc_error e = {
		.type = de->type ? de->type : "application",
		.tag = de->tag ? de->tag : "operation-failed",
		.app_tag = de->app_tag[0] ? de->app_tag : NULL,
		.path = de->path[0] ? de->path : NULL,
		.message = de->message[0] ? de->message : ch_strerror(r),
		.info_xml = de->info[0] ? de->info : NULL,
	};

	if (r == CH_OK)
		return ch_reply_ok(out, rpc);
	if (r == CH_ERR_AGAIN) {	/* a dry run: the reply waits */
		s->srv->deferred_now = 1;
		return CH_OK;
	}
	return send_error(s, out, rpc, &e);
}

/* First element child of n named name in the base namespace, or NULL. */
static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)k->name, name) == 0 && k->ns &&
		    strcmp((const char *)k->ns->href, CH_NC_NS) == 0)
			return k;
	return NULL;
}

/* The first element child of n, or NULL. */
static xmlNode *first_element(xmlNode *n)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return k;
	return NULL;
}

/* Which datastore a <target> or <source> names: *id, or -1 with
 * *config for an inline <config> when allow_config. Otherwise the
 * rpc-error is in out and *replied is set. */
static int ds_param(struct nc_server *s, const struct ch_rpc *rpc,
		    const char *pname, int allow_config, int *id,
		    xmlNode **config, struct ch_buf *out, int *replied)
{
	xmlNode *p = child(rpc->op, pname), *k;
	char msg[160];

	*replied = 1;
	*id = -1;
	if (config)
		*config = NULL;
	if (p == NULL) {
		snprintf(msg, sizeof(msg), "<%s> needs a <%s>", rpc->op_name,
			 pname);
		return reply_missing(s, out, rpc, pname, msg);
	}
	k = first_element(p);
	if (k == NULL) {
		snprintf(msg, sizeof(msg), "<%s> names no datastore", pname);
		return reply_missing(s, out, rpc, "config-source", msg);
	}
	if (k->ns && strcmp((const char *)k->ns->href, CH_NC_NS) == 0) {
		if (strcmp((const char *)k->name, "url") == 0)
			return reply_error(s, out, rpc, "protocol",
					   "operation-not-supported",
					   "<url> needs the :url capability, "
					   "which this device does not "
					   "advertise");
		if (allow_config && strcmp((const char *)k->name,
					   "config") == 0) {
			*config = k;
			*replied = 0;
			return CH_OK;
		}
		if ((*id = ch_ds_id_parse((const char *)k->name)) >= 0) {
			*replied = 0;
			return CH_OK;
		}
	}
	snprintf(msg, sizeof(msg), "<%s>: no datastore named <%s> on this "
		 "device (running, candidate, startup)", pname,
		 (const char *)k->name);
	return reply_error(s, out, rpc, "protocol", "invalid-value", msg);
}

/* The running configuration of the schema-less mode: the file's
 * content, which must be well-formed XML content (it is checked on every
 * read: an integrator may edit it by hand). An absent file is an empty
 * datastore. */
static int read_running_file(struct nc_server *s, char **data, size_t *len,
			     const char **why)
{
	char path[4096];
	char *p;
	int r;

	*why = NULL;
	snprintf(path, sizeof(path), "%s/running.xml", s->ag->cfg.datastore_dir);
	r = ch_file_read(path, AGENT_RUNNING_MAX, data, len);
	if (r == CH_ERR_NOTFOUND) {
		if ((*data = strdup("")) == NULL)
			return CH_ERR_NOMEM;
		*len = 0;
	} else if (r != CH_OK) {
		*why = "cannot read the running datastore";
		return r;
	}
	/* An XML declaration may open the file; <data> content cannot. */
	p = *data;
	if (strncmp(p, "<?xml", 5) == 0 && (p = strstr(p, "?>")) != NULL) {
		p += 2;
		*len -= (size_t)(p - *data);
		memmove(*data, p, *len + 1);
	}
	return CH_OK;
}

/* data[0..len) under a <data> root, for filtering (free with
 * xmlFreeDoc). */
static int wrap_data(const char *data, size_t len, xmlDoc **doc)
{
	struct ch_buf wrap;
	int r;

	*doc = NULL;
	ch_buf_init(&wrap, AGENT_RUNNING_MAX + 64);
	if ((r = ch_buf_puts(&wrap, "<data>")) == CH_OK &&
	    (r = ch_buf_put(&wrap, data, len)) == CH_OK &&
	    (r = ch_buf_puts(&wrap, "</data>")) == CH_OK)
		r = ch_xml_parse(ch_buf_ptr(&wrap), ch_buf_len(&wrap), doc);
	ch_buf_cleanup(&wrap);
	return r;
}

/* Checks a <filter>'s type; CH_OK to go on, or the reply is in out. */
static int check_filter(struct nc_server *s, const struct ch_rpc *rpc,
			xmlNode *filter, struct ch_buf *out, int *replied)
{
	enum ch_filter_type type;
	struct ch_rpc_error e = {
		.type = "protocol", .tag = "bad-attribute",
		.message = "the filter type must be \"subtree\"",
		.info_xml = "<bad-attribute>type</bad-attribute>"
			    "<bad-element>filter</bad-element>",
	};

	*replied = 0;
	if (ch_filter_type(filter, &type) != CH_OK) {
		*replied = 1;
		return send_error(s, out, rpc, &e);
	}
	if (type == CH_FILTER_XPATH) {
		*replied = 1;
		return reply_error(s, out, rpc, "protocol",
				   "operation-not-supported",
				   "XPath filters need the :xpath capability, "
				   "which this device does not advertise: use a "
				   "subtree filter");
	}
	return CH_OK;
}

/* ---- ietf-netconf-monitoring (RFC 6022) ---- */

void nc_server_count_bad_hello(struct agent *ag)
{
	if (ag->srv != NULL)
		ag->srv->stats.in_bad_hellos++;
}

/* <name>escaped text</name>. */
static int put_leaf(struct ch_buf *b, const char *name, const char *text)
{
	int r;

	if ((r = ch_buf_printf(b, "<%s>", name)) != CH_OK ||
	    (r = ch_xml_escape(b, text, strlen(text))) != CH_OK)
		return r;
	return ch_buf_printf(b, "</%s>", name);
}

static int put_uint(struct ch_buf *b, const char *name, uint32_t v)
{
	return ch_buf_printf(b, "<%s>%u</%s>", name, v, name);
}

/* The manager's address without its port: "[::1]:830" -> "::1",
 * "192.0.2.1:830" -> "192.0.2.1" (inet:host). */
static void host_of(const char *peer, char *buf, size_t len)
{
	const char *end = NULL, *p = peer;

	if (*p == '[') {
		p++;
		end = strchr(p, ']');
	} else if ((end = strrchr(p, ':')) != NULL && strchr(p, ':') != end) {
		end = NULL;	/* a bare IPv6 address */
	}
	snprintf(buf, len, "%.*s", (int)(end ? (size_t)(end - p) : strlen(p)),
		 p);
}

static int put_sessions(const struct nc_srv *srv, struct ch_buf *b)
{
	char t[TIME_TEXT_MAX], host[64];
	int r = ch_buf_puts(b, "<sessions>");

	for (const struct nc_server *x = srv->sessions; r == CH_OK && x;
	     x = x->next) {
		if (x->killed)
			continue;
		notif_time_text(x->login_time, t, sizeof(t));
		host_of(x->peer, host, sizeof(host));
		if ((r = ch_buf_puts(b, "<session>")) != CH_OK ||
		    (r = put_uint(b, "session-id", x->session_id)) != CH_OK ||
		    (r = put_leaf(b, "transport", "netconf-ssh")) != CH_OK ||
		    (r = put_leaf(b, "username", x->user)) != CH_OK ||
		    (host[0] &&
		     (r = put_leaf(b, "source-host", host)) != CH_OK) ||
		    (r = put_leaf(b, "login-time", t)) != CH_OK ||
		    (r = put_uint(b, "in-rpcs", x->in_rpcs)) != CH_OK ||
		    (r = put_uint(b, "in-bad-rpcs", x->in_bad_rpcs)) != CH_OK ||
		    (r = put_uint(b, "out-rpc-errors",
				  x->out_rpc_errors)) != CH_OK ||
		    (r = put_uint(b, "out-notifications",
				  x->out_notifications)) != CH_OK)
			break;
		r = ch_buf_puts(b, "</session>");
	}
	return r == CH_OK ? ch_buf_puts(b, "</sessions>") : r;
}

static int put_datastores(struct ch_ds *ds, struct ch_buf *b)
{
	char t[TIME_TEXT_MAX];
	time_t since;
	uint32_t holder;
	int r = ch_buf_puts(b, "<datastores>");

	for (int i = 0; r == CH_OK && i < CH_DS_COUNT; i++) {
		if ((r = ch_buf_puts(b, "<datastore>")) != CH_OK ||
		    (r = put_leaf(b, "name", ch_ds_id_name(
					(enum ch_ds_id)i))) != CH_OK)
			break;
		holder = ch_ds_lock_info(ds, (enum ch_ds_id)i, &since);
		if (holder != 0) {
			notif_time_text(since, t, sizeof(t));
			if ((r = ch_buf_puts(b, "<locks><global-lock>")) !=
				    CH_OK ||
			    (r = put_uint(b, "locked-by-session", holder)) !=
				    CH_OK ||
			    (r = put_leaf(b, "locked-time", t)) != CH_OK ||
			    (r = ch_buf_puts(b, "</global-lock></locks>")) !=
				    CH_OK)
				break;
		}
		r = ch_buf_puts(b, "</datastore>");
	}
	return r == CH_OK ? ch_buf_puts(b, "</datastores>") : r;
}

static int put_schemas(struct ch_ds *ds, struct ch_buf *b)
{
	struct ch_ds_module m;
	uint32_t idx = 0;
	int r = ch_buf_puts(b, "<schemas>");

	while (r == CH_OK && ch_ds_module_next(ds, &idx, &m)) {
		if ((r = ch_buf_puts(b, "<schema>")) != CH_OK ||
		    (r = put_leaf(b, "identifier", m.name)) != CH_OK ||
		    (r = put_leaf(b, "version", m.revision)) != CH_OK ||
		    (r = put_leaf(b, "format", "yang")) != CH_OK ||
		    (r = put_leaf(b, "namespace", m.ns)) != CH_OK ||
		    (r = put_leaf(b, "location", "NETCONF")) != CH_OK)
			break;
		r = ch_buf_puts(b, "</schema>");
	}
	return r == CH_OK ? ch_buf_puts(b, "</schemas>") : r;
}

/* The <netconf-state> state data, appended to b. */
static int put_netconf_state(struct nc_server *s, struct ch_buf *b)
{
	const struct nc_srv *srv = s->srv;
	const struct nc_stats *st = &srv->stats;
	char t[TIME_TEXT_MAX];
	int r;

	notif_time_text(srv->start_time, t, sizeof(t));
	if ((r = ch_buf_puts(b, "<netconf-state xmlns=\"" MON_NS "\">"
			     "<capabilities>")) != CH_OK)
		return r;
	for (size_t i = 0; i < srv->ncaps; i++)
		if ((r = put_leaf(b, "capability", srv->caps[i])) != CH_OK)
			return r;
	if ((r = ch_buf_puts(b, "</capabilities>")) != CH_OK ||
	    (r = put_datastores(s->ag->ds, b)) != CH_OK ||
	    (r = put_schemas(s->ag->ds, b)) != CH_OK ||
	    (r = put_sessions(srv, b)) != CH_OK ||
	    (r = ch_buf_puts(b, "<statistics>")) != CH_OK ||
	    (r = put_leaf(b, "netconf-start-time", t)) != CH_OK ||
	    (r = put_uint(b, "in-bad-hellos", st->in_bad_hellos)) != CH_OK ||
	    (r = put_uint(b, "in-sessions", st->in_sessions)) != CH_OK ||
	    (r = put_uint(b, "dropped-sessions",
			  st->dropped_sessions)) != CH_OK ||
	    (r = put_uint(b, "in-rpcs", st->in_rpcs)) != CH_OK ||
	    (r = put_uint(b, "in-bad-rpcs", st->in_bad_rpcs)) != CH_OK ||
	    (r = put_uint(b, "out-rpc-errors", st->out_rpc_errors)) !=
		    CH_OK ||
	    (r = put_uint(b, "out-notifications",
			  st->out_notifications)) != CH_OK)
		return r;
	return ch_buf_puts(b, "</statistics></netconf-state>");
}

/* <get>'s content: the configuration, then the state data. Replaces
 * *data (the caller frees it either way). */
static int add_state(struct nc_server *s, char **data, size_t *len)
{
	struct ch_buf b;
	char *t;
	int r;

	ch_buf_init(&b, AGENT_RUNNING_MAX + 64);
	if ((r = ch_buf_put(&b, *data, *len)) == CH_OK &&
	    (r = put_netconf_state(s, &b)) == CH_OK) {
		*len = ch_buf_len(&b);
		if ((t = ch_buf_take(&b)) == NULL) {
			r = CH_ERR_NOMEM;
		} else {
			free(*data);
			*data = t;
		}
	}
	ch_buf_cleanup(&b);
	return r;
}

/* First element child of n named name in namespace ns, or NULL. */
static xmlNode *child_ns(xmlNode *n, const char *name, const char *ns)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)k->name, name) == 0 && k->ns &&
		    strcmp((const char *)k->ns->href, ns) == 0)
			return k;
	return NULL;
}

/* <get-schema> (RFC 6022 3.1): the YANG text in the monitoring
 * namespace's <data>. */
static int op_get_schema(struct nc_server *s, const struct ch_rpc *rpc,
			 struct ch_buf *out)
{
	xmlNode *id = child_ns(rpc->op, "identifier", MON_NS);
	xmlNode *ver = child_ns(rpc->op, "version", MON_NS);
	xmlNode *fmt = child_ns(rpc->op, "format", MON_NS);
	char name[PARAM_TEXT_MAX], rev[PARAM_TEXT_MAX], f[64];
	char msg[PARAM_TEXT_MAX + 64];
	const char *local;
	struct ch_buf b;
	char *text = NULL;
	size_t len, tail;
	static const char data_end[] = "<data></data></rpc-reply>";
	int r;

	if (id == NULL)
		return reply_missing(s, out, rpc, "identifier",
				     "<get-schema> needs an <identifier>");
	if (ch_xml_text(id, name, sizeof(name)) != CH_OK || name[0] == '\0')
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   "<identifier> must name a module");
	rev[0] = '\0';
	if (ver != NULL && ch_xml_text(ver, rev, sizeof(rev)) != CH_OK)
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   "<version> is too long");
	if (fmt != NULL) {
		/* An identityref: "yang", with or without a prefix. */
		if (ch_xml_text(fmt, f, sizeof(f)) != CH_OK)
			f[0] = '\0';
		local = strchr(f, ':') ? strchr(f, ':') + 1 : f;
		if (strcmp(local, "yang") != 0)
			return reply_error(s, out, rpc, "protocol",
					   "invalid-value", "this device "
					   "serves its schemas in the yang "
					   "format only");
	}
	r = ch_ds_schema(s->ag->ds, name, rev, &text, &len);
	if (r == CH_ERR_NOTFOUND) {
		snprintf(msg, sizeof(msg), "no module %s%s%s on this device",
			 name, rev[0] ? "@" : "", rev);
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   msg);
	}
	if (r != CH_OK)
		return reply_error(s, out, rpc, "application",
				   "operation-failed",
				   "cannot read the module's text");
	/* The base reply's opening, with our own <data> in place of its
	 * (base namespace) one. */
	ch_buf_init(&b, out->max);
	tail = sizeof(data_end) - 1;
	if ((r = ch_reply_data(&b, rpc, "", 0)) == CH_OK &&
	    (ch_buf_len(&b) < tail ||
	     memcmp(ch_buf_ptr(&b) + ch_buf_len(&b) - tail, data_end, tail)))
		r = CH_ERR_INVAL;
	if (r == CH_OK &&
	    (r = ch_buf_put(out, ch_buf_ptr(&b), ch_buf_len(&b) - tail)) ==
		    CH_OK &&
	    (r = ch_buf_puts(out, "<data xmlns=\"" MON_NS "\">")) == CH_OK &&
	    (r = ch_xml_escape(out, text, len)) == CH_OK)
		r = ch_buf_puts(out, "</data></rpc-reply>");
	ch_buf_cleanup(&b);
	free(text);
	return r;
}

/* The configuration to serve: from the datastore, or the file. */
static int content(struct nc_server *s, const struct ch_rpc *rpc, int id,
		   char **data, size_t *len, struct ch_buf *out, int *replied)
{
	struct ch_ds_err de;
	const char *why;
	int r;

	*replied = 0;
	if (s->ag->ds != NULL) {
		r = ch_ds_get(s->ag->ds, (enum ch_ds_id)id, data, len, &de);
		if (r != CH_OK) {
			*replied = 1;
			return reply_ds(s, out, rpc, r, &de);
		}
		return CH_OK;
	}
	if ((r = read_running_file(s, data, len, &why)) != CH_OK) {
		*replied = 1;
		return reply_error(s, out, rpc, "application",
				   "operation-failed",
				   why ? why : ch_strerror(r));
	}
	return CH_OK;
}

/* <get>'s ietf-yang-library state (RFC 8525), after the rest. */
static int add_yanglib(struct nc_server *s, char **data, size_t *len)
{
	struct ch_buf b;
	char *lib = NULL, *t;
	int r;

	if ((r = ch_ds_yanglib(s->ag->ds, &lib)) != CH_OK)
		return r;
	ch_buf_init(&b, AGENT_RUNNING_MAX + 64);
	if ((r = ch_buf_put(&b, *data, *len)) == CH_OK &&
	    (r = ch_buf_puts(&b, lib)) == CH_OK) {
		*len = ch_buf_len(&b);
		if ((t = ch_buf_take(&b)) == NULL) {
			r = CH_ERR_NOMEM;
		} else {
			free(*data);
			*data = t;
		}
	}
	ch_buf_cleanup(&b);
	free(lib);
	return r;
}

/* An XPath filter (:xpath, RFC 6241 8.9) on data, NUL-terminated:
 * select's prefixes are the filter element's in-scope declarations. */
static int get_xpath(struct nc_server *s, const struct ch_rpc *rpc,
		     xmlNode *filter, const char *data, struct ch_buf *out)
{
	const char *prefixes[XPATH_NS_MAX], *nss[XPATH_NS_MAX];
	struct ch_rpc_error e = {
		.type = "protocol", .tag = "missing-attribute",
		.message = "an xpath filter needs a select attribute",
		.info_xml = "<bad-attribute>select</bad-attribute>"
			    "<bad-element>filter</bad-element>",
	};
	xmlChar *select = xmlGetProp(filter, (const xmlChar *)"select");
	xmlNs **list = xmlGetNsList(filter->doc, filter);
	struct ch_ds_err de;
	char *res = NULL;
	size_t n = 0;
	int r;

	if (select == NULL) {
		xmlFree(list);
		return send_error(s, out, rpc, &e);
	}
	for (size_t i = 0; list && list[i] && n < XPATH_NS_MAX; i++) {
		if (list[i]->prefix == NULL)
			continue;	/* XPath names need a prefix */
		prefixes[n] = (const char *)list[i]->prefix;
		nss[n++] = (const char *)list[i]->href;
	}
	r = ch_ds_xpath(s->ag->ds, data, (const char *)select, prefixes, nss,
			n, &res, &de);
	if (r == CH_OK)
		r = ch_reply_data(out, rpc, res, strlen(res));
	else
		r = reply_ds(s, out, rpc, r, &de);
	free(res);
	xmlFree(list);
	xmlFree(select);
	return r;
}

static int op_get(struct nc_server *s, const struct ch_rpc *rpc,
		  struct ch_buf *out, int config_only)
{
	xmlNode *filter = child(rpc->op, "filter");
	struct ch_buf inner;
	xmlDoc *doc = NULL;
	const char *why = NULL;
	char *data = NULL;
	size_t len;
	enum ch_filter_type ftype;
	int r, replied, id = CH_DS_RUNNING, xpath = 0;

	if (config_only) {
		if ((r = ds_param(s, rpc, "source", 0, &id, NULL, out,
				  &replied)) != CH_OK || replied)
			return r;
		if (s->ag->ds == NULL && id != CH_DS_RUNNING)
			return reply_error(s, out, rpc, "protocol",
					   "invalid-value", "only the running "
					   "datastore exists on this device");
	}
	if (filter != NULL && s->ag->ds != NULL &&
	    ch_filter_type(filter, &ftype) == CH_OK &&
	    ftype == CH_FILTER_XPATH)
		xpath = 1;
	else if (filter != NULL &&
		 ((r = check_filter(s, rpc, filter, out, &replied)) != CH_OK ||
		  replied))
		return r;
	if ((r = content(s, rpc, id, &data, &len, out, &replied)) != CH_OK ||
	    replied)
		return r;
	if (!config_only && s->srv->monitoring &&
	    (r = add_state(s, &data, &len)) != CH_OK) {
		free(data);
		return r == CH_ERR_NOMEM ? r :
			reply_error(s, out, rpc, "application", "too-big",
				    "the state data is too big for one reply");
	}
	if (!config_only && s->ag->ds != NULL &&
	    (r = add_yanglib(s, &data, &len)) != CH_OK) {
		free(data);
		return r == CH_ERR_NOMEM ? r :
			reply_error(s, out, rpc, "application", "too-big",
				    "the state data is too big for one reply");
	}
	if (xpath) {
		r = get_xpath(s, rpc, filter, data, out);
		free(data);
		return r;
	}
	if (filter == NULL) {	/* everything (RFC 6241 6.4.1) */
		/* The file is checked on every read (an integrator may edit
		 * it by hand); libyang's output is well-formed. */
		if (s->ag->ds == NULL && (r = wrap_data(data, len, &doc))) {
			ch_error("%s/running.xml: not well-formed XML content",
				 s->ag->cfg.datastore_dir);
			free(data);
			return reply_error(s, out, rpc, "application",
					   "operation-failed", "the running "
					   "datastore file is not well-formed "
					   "XML");
		}
		xmlFreeDoc(doc);
		r = ch_reply_data(out, rpc, data, len);
		free(data);
		return r;
	}
	r = wrap_data(data, len, &doc);
	free(data);
	if (r != CH_OK) {
		if (s->ag->ds == NULL)
			ch_error("%s/running.xml: not well-formed XML content",
				 s->ag->cfg.datastore_dir);
		return reply_error(s, out, rpc, "application",
				   "operation-failed",
				   s->ag->ds ? "cannot filter the configuration"
					     : "the running datastore file is "
					       "not well-formed XML");
	}
	ch_buf_init(&inner, out->max);
	r = ch_filter_subtree(xmlDocGetRootElement(doc), filter, &inner, &why);
	if (r == CH_OK)
		r = ch_reply_data(out, rpc, ch_buf_ptr(&inner),
				  ch_buf_len(&inner));
	else if (r == CH_ERR_INVAL)
		r = reply_error(s, out, rpc, "protocol", "invalid-value",
				why ? why : "not a subtree filter");
	else if (r == CH_ERR_LIMIT)
		r = reply_error(s, out, rpc, "application", "too-big",
				"the filtered data is too big for one reply");
	else if (r != CH_ERR_NOMEM)
		r = reply_error(s, out, rpc, "application", "operation-failed",
				ch_strerror(r));
	ch_buf_cleanup(&inner);
	xmlFreeDoc(doc);
	return r;
}

/* An optional enumerated parameter: *val is the index of its text in
 * names (0 when absent). Otherwise the rpc-error is in out. */
static int enum_param(struct nc_server *s, const struct ch_rpc *rpc,
		      const char *pname, const char *const *names, size_t n,
		      int *val, struct ch_buf *out, int *replied)
{
	xmlNode *p = child(rpc->op, pname);
	char text[64], msg[160];

	*val = 0;
	*replied = 0;
	if (p == NULL)
		return CH_OK;
	if (ch_xml_text(p, text, sizeof(text)) == CH_OK)
		for (size_t i = 0; i < n; i++)
			if (strcmp(text, names[i]) == 0) {
				*val = (int)i;
				return CH_OK;
			}
	*replied = 1;
	snprintf(msg, sizeof(msg), "<%s> has a value this device does not "
		 "know", pname);
	return reply_error(s, out, rpc, "protocol", "invalid-value", msg);
}

static int op_edit_config(struct nc_server *s, const struct ch_rpc *rpc,
			  struct ch_buf *out)
{
	static const char *const defops[] = { "merge", "replace", "none" };
	static const char *const tests[] = { "test-then-set", "set",
					     "test-only" };
	static const char *const erropts[] = { "stop-on-error",
					       "rollback-on-error",
					       "continue-on-error" };
	struct ch_ds_err de;
	xmlNode *config;
	int r, replied, target, defop, test, erropt;

	if ((r = ds_param(s, rpc, "target", 0, &target, NULL, out,
			  &replied)) != CH_OK || replied)
		return r;
	if ((r = enum_param(s, rpc, "default-operation", defops, 3, &defop, out,
			    &replied)) != CH_OK || replied ||
	    (r = enum_param(s, rpc, "test-option", tests, 3, &test, out,
			    &replied)) != CH_OK || replied ||
	    (r = enum_param(s, rpc, "error-option", erropts, 3, &erropt, out,
			    &replied)) != CH_OK || replied)
		return r;
	/* Edits are all-or-nothing: stop-on-error and rollback-on-error
	 * are both that; continue-on-error would apply a part. */
	if (erropt == 2)
		return reply_error(s, out, rpc, "protocol",
				   "operation-not-supported", "continue-on-"
				   "error is not supported: edits are applied "
				   "all or nothing (rollback-on-error)");
	if (child(rpc->op, "url") != NULL)
		return reply_error(s, out, rpc, "protocol",
				   "operation-not-supported", "<url> needs "
				   "the :url capability, which this device "
				   "does not advertise");
	if ((config = child(rpc->op, "config")) == NULL)
		return reply_missing(s, out, rpc, "config",
				     "<edit-config> needs a <config>");
	r = ch_ds_edit(s->ag->ds, s->session_id, (enum ch_ds_id)target,
		       (enum ch_ds_defop)defop, (enum ch_ds_test)test, config,
		       &de);
	return reply_ds(s, out, rpc, r, &de);
}

static int op_copy_config(struct nc_server *s, const struct ch_rpc *rpc,
			  struct ch_buf *out)
{
	struct ch_ds_err de;
	xmlNode *config;
	int r, replied, target, source;

	if ((r = ds_param(s, rpc, "target", 0, &target, NULL, out,
			  &replied)) != CH_OK || replied ||
	    (r = ds_param(s, rpc, "source", 1, &source, &config, out,
			  &replied)) != CH_OK || replied)
		return r;
	r = ch_ds_copy(s->ag->ds, s->session_id, (enum ch_ds_id)target,
		       source, config, &de);
	return reply_ds(s, out, rpc, r, &de);
}

static int op_target(struct nc_server *s, const struct ch_rpc *rpc,
		     struct ch_buf *out,
		     int (*fn)(struct ch_ds *, uint32_t, enum ch_ds_id,
			       struct ch_ds_err *))
{
	struct ch_ds_err de;
	int r, replied, target;

	if ((r = ds_param(s, rpc, "target", 0, &target, NULL, out,
			  &replied)) != CH_OK || replied)
		return r;
	r = fn(s->ag->ds, s->session_id, (enum ch_ds_id)target, &de);
	return reply_ds(s, out, rpc, r, &de);
}

static int op_validate(struct nc_server *s, const struct ch_rpc *rpc,
		       struct ch_buf *out)
{
	struct ch_ds_err de;
	xmlNode *config;
	int r, replied, source;

	if ((r = ds_param(s, rpc, "source", 1, &source, &config, out,
			  &replied)) != CH_OK || replied)
		return r;
	r = ch_ds_validate(s->ag->ds, source, config, &de);
	return reply_ds(s, out, rpc, r, &de);
}

/* An optional text parameter into buf; *present says whether it was
 * given. Otherwise the rpc-error is in out. */
static int text_param(struct nc_server *s, const struct ch_rpc *rpc,
		      const char *pname, char *buf, size_t len, int *present,
		      struct ch_buf *out, int *replied)
{
	xmlNode *p = child(rpc->op, pname);
	char msg[128];

	*replied = 0;
	*present = p != NULL;
	buf[0] = '\0';
	if (p == NULL || ch_xml_text(p, buf, len) == CH_OK)
		return CH_OK;
	*replied = 1;
	snprintf(msg, sizeof(msg), "<%s> is too long", pname);
	return reply_error(s, out, rpc, "protocol", "invalid-value", msg);
}

static int op_commit(struct nc_server *s, const struct ch_rpc *rpc,
		     struct ch_buf *out)
{
	char timeout[32], persist[PARAM_TEXT_MAX], pid[PARAM_TEXT_MAX];
	struct ch_ds_commit c = { .confirmed = 0 };
	struct ch_ds_err de;
	int r, replied, has_timeout, has_persist, has_pid;
	unsigned long v;
	char *end;

	c.confirmed = child(rpc->op, "confirmed") != NULL;
	if ((r = text_param(s, rpc, "confirm-timeout", timeout, sizeof(timeout),
			    &has_timeout, out, &replied)) != CH_OK ||
	    replied ||
	    (r = text_param(s, rpc, "persist", persist, sizeof(persist),
			    &has_persist, out, &replied)) != CH_OK ||
	    replied ||
	    (r = text_param(s, rpc, "persist-id", pid, sizeof(pid), &has_pid,
			    out, &replied)) != CH_OK || replied)
		return r;
	if (has_timeout) {
		errno = 0;
		v = strtoul(timeout, &end, 10);
		if (!c.confirmed || timeout[0] < '1' || timeout[0] > '9' ||
		    *end != '\0' || errno != 0 || v > UINT32_MAX)
			return reply_error(s, out, rpc, "protocol",
					   "invalid-value", "<confirm-timeout> "
					   "must be a number of seconds "
					   "1..4294967295, with <confirmed/>");
		c.timeout_s = (uint32_t)v;
	}
	if (has_persist && !c.confirmed)
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   "<persist> goes with <confirmed/>");
	c.persist = has_persist ? persist : NULL;
	c.persist_id = has_pid ? pid : NULL;
	r = ch_ds_commit(s->ag->ds, s->session_id, &c, &de);
	return reply_ds(s, out, rpc, r, &de);
}

static int op_cancel_commit(struct nc_server *s, const struct ch_rpc *rpc,
			    struct ch_buf *out)
{
	char pid[PARAM_TEXT_MAX];
	struct ch_ds_err de;
	int r, replied, has_pid;

	if ((r = text_param(s, rpc, "persist-id", pid, sizeof(pid), &has_pid,
			    out, &replied)) != CH_OK || replied)
		return r;
	s->srv->rb.cancelling = 1;	/* its rollback goes to --on-commit */
	r = ch_ds_cancel_commit(s->ag->ds, s->session_id,
				has_pid ? pid : NULL, &de);
	s->srv->rb.cancelling = 0;
	rollback_flush(s->srv);
	return reply_ds(s, out, rpc, r, &de);
}

static int op_discard(struct nc_server *s, const struct ch_rpc *rpc,
		      struct ch_buf *out)
{
	struct ch_ds_err de;
	int r = ch_ds_discard(s->ag->ds, s->session_id, &de);

	return reply_ds(s, out, rpc, r, &de);
}

/* <kill-session> (RFC 6241 7.9): the other session's locks and pending
 * confirmed commit go now, its channel is closed by the agent. */
static int op_kill_session(struct nc_server *s, const struct ch_rpc *rpc,
			   struct ch_buf *out)
{
	xmlNode *p = child(rpc->op, "session-id");
	struct nc_server *t;
	char text[32], msg[128];
	unsigned long v = 0;
	char *end = NULL;

	if (p == NULL)
		return reply_missing(s, out, rpc, "session-id",
				     "<kill-session> needs a <session-id>");
	if (ch_xml_text(p, text, sizeof(text)) == CH_OK && text[0] >= '1' &&
	    text[0] <= '9') {
		errno = 0;
		v = strtoul(text, &end, 10);
		if (*end != '\0' || errno != 0 || v > UINT32_MAX)
			v = 0;
	}
	if (v == 0)
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   "<session-id> must be a session-id "
				   "1..4294967295");
	if (v == s->session_id)
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   "a session cannot kill itself: use "
				   "<close-session>");
	for (t = s->srv->sessions; t; t = t->next)
		if (t->session_id == v && !t->killed)
			break;
	if (t == NULL) {
		snprintf(msg, sizeof(msg), "no NETCONF session %lu on this "
			 "device", v);
		return reply_error(s, out, rpc, "protocol", "invalid-value",
				   msg);
	}
	ch_info("session-id=%u: kill-session of session-id=%u", s->session_id,
		t->session_id);
	t->killed = 1;
	ch_ds_session_end(s->ag->ds, t->session_id);
	rollback_flush(s->srv);
	if (t->kill)
		t->kill(t->kill_ctx);
	return ch_reply_ok(out, rpc);
}

/* ---- notifications (RFC 5277) and netconf-config-change (RFC 6470) ---- */

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
	char host[64];
	struct ch_buf b;
	int r;

	if (srv->ag->cfg.on_commit != NULL &&
	    ((sid == 0 && ch_ds_confirm_pending(srv->ag->ds)) ||
	     rb->cancelling)) {
		if (ch_buf_put(&rb->edits, edits, len) != CH_OK)
			ch_error("on-commit: no memory for a rollback's "
				 "change");
		rb->pending = 1;
		if (rb->timer_init)
			uv_timer_start(&rb->timer, on_rollback_timer, 0, 0);
	}
	for (struct nc_server *x = srv->sessions; sid && x; x = x->next)
		if (x->session_id == sid)
			who = x;
	ch_buf_init(&b, (size_t)-1);
	r = ch_buf_puts(&b, "<netconf-config-change xmlns=\"" NCN_NS "\">"
			"<changed-by>");
	if (r == CH_OK && who != NULL) {
		host_of(who->peer, host, sizeof(host));
		if ((r = put_leaf(&b, "username", who->user)) == CH_OK &&
		    (r = put_uint(&b, "session-id", who->session_id)) ==
			    CH_OK && host[0])
			r = put_leaf(&b, "source-host", host);
	} else if (r == CH_OK) {
		r = ch_buf_puts(&b, "<server/>");
	}
	if (r == CH_OK &&
	    (r = ch_buf_puts(&b, "</changed-by><datastore>running"
			     "</datastore>")) == CH_OK &&
	    (r = ch_buf_put(&b, edits, len)) == CH_OK &&
	    (r = ch_buf_puts(&b, "</netconf-config-change>")) == CH_OK)
		notif_emit(srv->stream, ch_buf_ptr(&b), ch_buf_len(&b));
	ch_buf_cleanup(&b);
}

/* <create-subscription> (RFC 5277 2.1.1). */
static int op_create_subscription(struct nc_server *s,
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

	ch_buf_init(&out, (size_t)-1);
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
	ch_buf_init(&out, (size_t)-1);
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

static void spec_init(const struct agent *ag, struct oncommit_spec *spec,
		      enum oncommit_kind kind, const char *running,
		      const char *diff)
{
	memset(spec, 0, sizeof(*spec));
	spec->loop = ag->loop;
	spec->prog = ag->cfg.on_commit;
	spec->dir = ag->cfg.datastore_dir;
	spec->timeout_ms = ag->cfg.on_commit_timeout_ms;
	spec->msg_max = AGENT_ON_COMMIT_MSG_MAX;
	spec->kind = kind;
	spec->running = running;
	spec->diff = diff;
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

/* ---- --on-commit on a confirmed commit's rollback ---- */

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
static void rollback_flush(struct nc_srv *srv)
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
	ch_buf_init(&diff, (size_t)-1);
	if (ch_ds_get(srv->ag->ds, CH_DS_RUNNING, &xml, &len, &de) != CH_OK ||
	    ch_buf_puts(&diff, "<edits xmlns=\"" NCN_NS "\">") != CH_OK ||
	    ch_buf_put(&diff, ch_buf_ptr(&rb->edits),
		       ch_buf_len(&rb->edits)) != CH_OK ||
	    ch_buf_puts(&diff, "</edits>\n") != CH_OK) {
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

/* The operations of the schema-aware mode; -1 when op is not one. */
static int handle_ds_op(struct nc_server *s, const struct ch_rpc *rpc,
			struct ch_buf *out, int *r)
{
	const char *op = rpc->op_name;

	if (strcmp(op, "edit-config") == 0)
		*r = op_edit_config(s, rpc, out);
	else if (strcmp(op, "copy-config") == 0)
		*r = op_copy_config(s, rpc, out);
	else if (strcmp(op, "delete-config") == 0)
		*r = op_target(s, rpc, out, ch_ds_delete);
	else if (strcmp(op, "lock") == 0)
		*r = op_target(s, rpc, out, ch_ds_lock);
	else if (strcmp(op, "unlock") == 0)
		*r = op_target(s, rpc, out, ch_ds_unlock);
	else if (strcmp(op, "validate") == 0)
		*r = op_validate(s, rpc, out);
	else if (strcmp(op, "commit") == 0)
		*r = op_commit(s, rpc, out);
	else if (strcmp(op, "cancel-commit") == 0)
		*r = op_cancel_commit(s, rpc, out);
	else if (strcmp(op, "discard-changes") == 0)
		*r = op_discard(s, rpc, out);
	else
		return -1;
	return 0;
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
	if (s->nqueued >= AGENT_DEFERRED_MAX) {
		ch_warn("session-id=%u: more than %d rpcs behind a deferred "
			"reply", s->session_id, AGENT_DEFERRED_MAX);
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
		ch_info("session-id=%u: malformed message (%zu bytes) "
			"answered with malformed-message", s->session_id, len);
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

	ch_buf_init(&reply, (size_t)-1);
	r = nc_server_handle(s, msg, len, &reply);
	if (ch_buf_len(&reply) &&
	    (rs = ch_nc_send(nc, ch_buf_ptr(&reply), ch_buf_len(&reply))))
		r = rs;
	ch_buf_cleanup(&reply);
	if (r == CH_OK)
		nc_server_after_reply(s);
	return r;
}
