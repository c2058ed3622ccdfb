/* reply.c - rpc-error replies, rpc parameters and state-data leaves for
 * the server's operations (reply.h).
 */
#include "agent/server/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

int send_error(struct nc_server *s, struct ch_buf *out,
	       const struct ch_rpc *rpc, const struct ch_rpc_error *e)
{
	s->srv->errors_sent++;
	return ch_reply_error(out, rpc, e);
}

int reply_error(struct nc_server *s, struct ch_buf *out,
		const struct ch_rpc *rpc, const char *type,
		const char *tag, const char *message)
{
	struct ch_rpc_error e = {
		.type = type, .tag = tag, .message = message,
	};

	return send_error(s, out, rpc, &e);
}

int reply_missing(struct nc_server *s, struct ch_buf *out,
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

int reply_ds(struct nc_server *s, struct ch_buf *out,
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
xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)k->name, name) == 0 && k->ns &&
		    strcmp((const char *)k->ns->href, CH_NC_NS) == 0)
			return k;
	return NULL;
}

/* First element child of n named name in namespace ns, or NULL. */
xmlNode *child_ns(xmlNode *n, const char *name, const char *ns)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)k->name, name) == 0 && k->ns &&
		    strcmp((const char *)k->ns->href, ns) == 0)
			return k;
	return NULL;
}

/* The first element child of n, or NULL. */
xmlNode *first_element(xmlNode *n)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return k;
	return NULL;
}

/* Which datastore a <target> or <source> names: *id, or -1 with
 * *config for an inline <config> when allow_config. Otherwise the
 * rpc-error is in out and *replied is set. */
int ds_param(struct nc_server *s, const struct ch_rpc *rpc,
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

/* An optional enumerated parameter: *val is the index of its text in
 * names (0 when absent). Otherwise the rpc-error is in out. */
int enum_param(struct nc_server *s, const struct ch_rpc *rpc,
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

/* An optional text parameter into buf; *present says whether it was
 * given. Otherwise the rpc-error is in out. */
int text_param(struct nc_server *s, const struct ch_rpc *rpc,
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

/* <name>escaped text</name>. */
int put_leaf(struct ch_buf *b, const char *name, const char *text)
{
	int r;

	if ((r = ch_buf_printf(b, "<%s>", name)) != CH_OK ||
	    (r = ch_xml_escape(b, text, strlen(text))) != CH_OK)
		return r;
	return ch_buf_printf(b, "</%s>", name);
}

int put_uint(struct ch_buf *b, const char *name, uint32_t v)
{
	return ch_buf_printf(b, "<%s>%u</%s>", name, v, name);
}

/* The manager's address without its port: "[::1]:830" -> "::1",
 * "192.0.2.1:830" -> "192.0.2.1" (inet:host). */
void host_of(const char *peer, char *buf, size_t len)
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

int data_append(char **data, size_t *len, const char *more, size_t n)
{
	struct ch_buf b;
	char *t;
	int r;

	ch_buf_init(&b, CH_AGENT_REPLY_MAX);
	if ((r = ch_buf_put(&b, *data, *len)) == CH_OK &&
	    (r = ch_buf_put(&b, more, n)) == CH_OK) {
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
