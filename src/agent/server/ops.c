/* ops.c - the NETCONF operations (ops.h): reading the configuration,
 * changing the datastores, ending another session.
 */
#include "agent/server/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/datastore.h"
#include "agent/server/borderstate.h"
#include "agent/server/events.h"
#include "agent/server/monitor.h"
#include "agent/server/reply.h"
#include "lib/core/fileio.h"
#include "lib/nc/filter.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define XPATH_NS_MAX 64		/* in-scope namespaces of an xpath filter */

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
	r = ch_file_read(path, CH_AGENT_RUNNING_MAX, data, len);
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
	ch_buf_init(&wrap, CH_AGENT_REPLY_MAX);
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
	char *lib = NULL;
	int r;

	if ((r = ch_ds_yanglib(s->ag->ds, &lib)) != CH_OK)
		return r;
	r = data_append(data, len, lib, strlen(lib));
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

int op_get(struct nc_server *s, const struct ch_rpc *rpc,
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
	    ((r = add_border_state(s, &data, &len)) != CH_OK ||
	     (r = add_yanglib(s, &data, &len)) != CH_OK)) {
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
int op_kill_session(struct nc_server *s, const struct ch_rpc *rpc,
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

/* The operations of the schema-aware mode; -1 when op is not one. */
int handle_ds_op(struct nc_server *s, const struct ch_rpc *rpc,
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
