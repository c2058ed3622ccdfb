/* monitor.c - ietf-netconf-monitoring (RFC 6022): <netconf-state> and
 * <get-schema> (monitor.h).
 */
#include "agent/server/monitor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/server/reply.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define TIME_TEXT_MAX NOTIF_TIME_TEXT_MAX

void nc_server_count_bad_hello(struct agent *ag)
{
	if (ag->srv != NULL)
		ag->srv->stats.in_bad_hellos++;
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

void srv_monitor_init(struct nc_srv *srv)
{
	struct ch_ds *ds = srv->ag->ds;

	/* RFC 6022 needs its module in the schema context (it may already
	 * be there, from --module). */
	if (has_module(ds, "ietf-netconf-monitoring"))
		srv->monitoring = 1;
	else if (access(AGENT_MONITORING_YANG, R_OK) != 0)
		ch_log_errno(CH_LOG_INFO, "ietf-netconf-monitoring not "
			     "offered: %s", AGENT_MONITORING_YANG);
	else if (ch_ds_load_module_file(ds, AGENT_MONITORING_YANG) == CH_OK)
		srv->monitoring = 1;
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
		    (r = put_leaf(b, "transport", x->tls ? "netconf-tls"
						   : "netconf-ssh")) != CH_OK ||
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
int add_state(struct nc_server *s, char **data, size_t *len)
{
	struct ch_buf b;
	int r;

	ch_buf_init(&b, CH_AGENT_REPLY_MAX);
	if ((r = put_netconf_state(s, &b)) == CH_OK)
		r = data_append(data, len, ch_buf_ptr(&b), ch_buf_len(&b));
	ch_buf_cleanup(&b);
	return r;
}

/* <get-schema> (RFC 6022 3.1): the YANG text in the monitoring
 * namespace's <data>. */
int op_get_schema(struct nc_server *s, const struct ch_rpc *rpc,
		  struct ch_buf *out)
{
	xmlNode *id = child_ns(rpc->op, "identifier", MON_NS);
	xmlNode *ver = child_ns(rpc->op, "version", MON_NS);
	xmlNode *fmt = child_ns(rpc->op, "format", MON_NS);
	char name[PARAM_TEXT_MAX], rev[PARAM_TEXT_MAX], f[64];
	char msg[PARAM_TEXT_MAX + 64];
	const char *local;
	struct ch_buf b, reply;
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
	 * (base namespace) one; out takes the whole reply or nothing (a
	 * reply over out's bound is answered too-big). */
	ch_buf_init(&b, out->max);
	ch_buf_init(&reply, out->max);
	tail = sizeof(data_end) - 1;
	if ((r = ch_reply_data(&b, rpc, "", 0)) == CH_OK &&
	    (ch_buf_len(&b) < tail ||
	     memcmp(ch_buf_ptr(&b) + ch_buf_len(&b) - tail, data_end, tail)))
		r = CH_ERR_INVAL;
	if (r == CH_OK &&
	    (r = ch_buf_put(&reply, ch_buf_ptr(&b), ch_buf_len(&b) - tail)) ==
		    CH_OK &&
	    (r = ch_buf_puts(&reply, "<data xmlns=\"" MON_NS "\">")) ==
		    CH_OK &&
	    (r = ch_xml_escape(&reply, text, len)) == CH_OK &&
	    (r = ch_buf_puts(&reply, "</data></rpc-reply>")) == CH_OK)
		r = ch_buf_put(out, ch_buf_ptr(&reply), ch_buf_len(&reply));
	ch_buf_cleanup(&reply);
	ch_buf_cleanup(&b);
	free(text);
	return r;
}
