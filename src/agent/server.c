/* server.c - the device's NETCONF server operations.
 *
 * This first version serves <get> and <get-config> of running from
 * DATASTORE/running.xml (the children of <data>), with or without a
 * subtree filter (RFC 6241 6; no :xpath), <close-session>, and a proper
 * <rpc-error> for everything else; the schema-aware datastore
 * replaces the file later without changing this module's interface.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/filter.h"
#include "lib/log.h"
#include "lib/msg.h"

struct nc_server {
	struct agent *ag;
	uint32_t session_id;
	char user[64];
};

static const char *const server_caps[] = {
	CH_NC_BASE10,
	CH_NC_BASE11,
};

const char *const *nc_server_caps(size_t *n)
{
	*n = sizeof(server_caps) / sizeof(server_caps[0]);
	return server_caps;
}

struct nc_server *nc_server_new(struct agent *ag, uint32_t session_id,
				const char *user)
{
	struct nc_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ag = ag;
	s->session_id = session_id;
	snprintf(s->user, sizeof(s->user), "%s", user);
	return s;
}

void nc_server_free(struct nc_server *s)
{
	free(s);
}

static int reply_error(struct ch_buf *out, const struct ch_rpc *rpc,
		       const char *type, const char *tag, const char *message)
{
	struct ch_rpc_error e = {
		.type = type, .tag = tag, .message = message,
	};

	return ch_reply_error(out, rpc, &e);
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

/* The running configuration: the file's content, which must be
 * well-formed XML content (it is checked on every read: an integrator may
 * edit it by hand). An absent file is an empty datastore. When doc is not
 * NULL it receives the content parsed under a <data> root (free with
 * xmlFreeDoc), for filtering. */
static int read_running(struct nc_server *s, char **data, size_t *len,
			xmlDoc **doc, const char **why)
{
	char path[4096];
	struct ch_buf wrap;
	xmlDoc *d = NULL;
	char *p;
	int r;

	*why = NULL;
	if (doc != NULL)
		*doc = NULL;
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
	ch_buf_init(&wrap, AGENT_RUNNING_MAX + 64);
	if ((r = ch_buf_puts(&wrap, "<data>")) == CH_OK &&
	    (r = ch_buf_put(&wrap, *data, *len)) == CH_OK &&
	    (r = ch_buf_puts(&wrap, "</data>")) == CH_OK)
		r = ch_xml_parse(ch_buf_ptr(&wrap), ch_buf_len(&wrap), &d);
	ch_buf_cleanup(&wrap);
	if (r != CH_OK) {
		ch_error("%s: not well-formed XML content", path);
		*why = "the running datastore file is not well-formed XML";
		free(*data);
		*data = NULL;
		return r;
	}
	if (doc != NULL) {
		*doc = d;
		d = NULL;	/* transferred */
	}
	xmlFreeDoc(d);
	return CH_OK;
}

/* Checks a <filter>'s type; CH_OK to go on, or the reply is in out. */
static int check_filter(const struct ch_rpc *rpc, xmlNode *filter,
			struct ch_buf *out, int *replied)
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
		return ch_reply_error(out, rpc, &e);
	}
	if (type == CH_FILTER_XPATH) {
		*replied = 1;
		return reply_error(out, rpc, "protocol",
				   "operation-not-supported",
				   "XPath filters need the :xpath capability, "
				   "which this device does not advertise: use a "
				   "subtree filter");
	}
	return CH_OK;
}

static int op_get(struct nc_server *s, const struct ch_rpc *rpc,
		  struct ch_buf *out, int config_only)
{
	xmlNode *src, *filter = child(rpc->op, "filter");
	struct ch_buf inner;
	xmlDoc *doc = NULL;
	const char *why;
	char *data = NULL;
	size_t len;
	int r, replied;

	if (config_only) {
		src = child(rpc->op, "source");
		if (src == NULL)
			return reply_error(out, rpc, "protocol",
					   "missing-element",
					   "<get-config> needs a <source>");
		if (child(src, "running") == NULL)
			return reply_error(out, rpc, "protocol", "invalid-value",
					   "only the running datastore exists "
					   "on this device");
	}
	if (filter != NULL &&
	    ((r = check_filter(rpc, filter, out, &replied)) != CH_OK ||
	     replied))
		return r;
	if ((r = read_running(s, &data, &len, filter ? &doc : NULL,
			      &why)) != CH_OK)
		return reply_error(out, rpc, "application", "operation-failed",
				   why ? why : ch_strerror(r));
	if (filter == NULL) {	/* everything (RFC 6241 6.4.1) */
		r = ch_reply_data(out, rpc, data, len);
		free(data);
		return r;
	}
	free(data);
	ch_buf_init(&inner, out->max);
	r = ch_filter_subtree(xmlDocGetRootElement(doc), filter, &inner, &why);
	if (r == CH_OK)
		r = ch_reply_data(out, rpc, ch_buf_ptr(&inner),
				  ch_buf_len(&inner));
	else if (r == CH_ERR_INVAL)
		r = reply_error(out, rpc, "protocol", "invalid-value",
				why ? why : "not a subtree filter");
	else if (r == CH_ERR_LIMIT)
		r = reply_error(out, rpc, "application", "too-big",
				"the filtered data is too big for one reply");
	else if (r != CH_ERR_NOMEM)
		r = reply_error(out, rpc, "application", "operation-failed",
				ch_strerror(r));
	ch_buf_cleanup(&inner);
	xmlFreeDoc(doc);
	return r;
}

int nc_server_handle(struct nc_server *s, const char *msg, size_t len,
		     struct ch_buf *out)
{
	struct ch_rpc *rpc = NULL;
	int r;

	if (ch_rpc_parse(msg, len, &rpc) != CH_OK) {
		ch_info("session-id=%u: malformed message (%zu bytes) "
			"answered with malformed-message", s->session_id, len);
		return reply_error(out, NULL, "rpc", "malformed-message",
				   "the message is not a well-formed <rpc> "
				   "in the NETCONF base namespace");
	}
	if (rpc->message_id == NULL) {
		struct ch_rpc_error e = {
			.type = "rpc", .tag = "missing-attribute",
			.message = "<rpc> has no message-id attribute",
			.info_xml = "<bad-attribute>message-id</bad-attribute>"
				    "<bad-element>rpc</bad-element>",
		};
		r = ch_reply_error(out, NULL, &e);
		goto out;
	}
	if (rpc->op == NULL) {
		r = reply_error(out, rpc, "protocol", "missing-element",
				"<rpc> has no operation");
		goto out;
	}
	ch_debug("session-id=%u message-id=%s op=%s", s->session_id,
		 rpc->message_id, rpc->op_name);
	if (rpc->op_ns == NULL || strcmp(rpc->op_ns, CH_NC_NS) != 0) {
		r = reply_error(out, rpc, "protocol", "operation-not-supported",
				"this device implements no operation in that "
				"namespace");
	} else if (strcmp(rpc->op_name, "get-config") == 0) {
		r = op_get(s, rpc, out, 1);
	} else if (strcmp(rpc->op_name, "get") == 0) {
		r = op_get(s, rpc, out, 0);
	} else if (strcmp(rpc->op_name, "close-session") == 0) {
		if ((r = ch_reply_ok(out, rpc)) == CH_OK)
			r = CH_ERR_CLOSED;
	} else {
		r = reply_error(out, rpc, "protocol", "operation-not-supported",
				"this device does not implement that operation "
				"yet");
	}
out:
	ch_rpc_free(rpc);
	return r;
}
