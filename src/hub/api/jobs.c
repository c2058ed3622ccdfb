/* jobs.c - the operator commands that make jobs (rpc, get-config,
 * edit-config) and those on jobs (jobs, job, cancel, retry): a job is
 * kept in the registry and run by the job runner (hub/jobs.h) when its
 * device is here (docs/control-api.md). */
#include "hub/api/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "hub/api/req.h"
#include "hub/hub.h"
#include "hub/jobs.h"
#include "hub/select.h"
#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

/* 1 if op_xml is one read-only operation (safe to run again). */
static int read_only_op(const char *op_xml)
{
	xmlDoc *doc = NULL;
	int ro = 0;

	if (ch_xml_parse(op_xml, strlen(op_xml), &doc) == CH_OK) {
		const char *n = (const char *)xmlDocGetRootElement(doc)->name;

		ro = strcmp(n, "get") == 0 || strcmp(n, "get-config") == 0 ||
		     strcmp(n, "get-schema") == 0;
	}
	xmlFreeDoc(doc);
	return ro;
}

struct batch_pick {
	struct hub *hub;
	int now_only;		/* mode now: connected devices only */
	char (*fps)[CH_FP_LEN];
	size_t n, max;
	int matched, skipped;	/* selected; left out (not admitted, or
				 * not connected with mode now) */
	char skipped_text[CH_STORE_TEXT_MAX / 2];
	size_t skipped_len;
};

static int pick_device(void *ctx, const struct ch_device_rec *rec)
{
	struct batch_pick *p = ctx;
	int k;

	p->matched++;
	if (rec->admission != CH_ADMIT_ADMITTED ||
	    (p->now_only && !rec->connected)) {
		/* named in the answer, the first few */
		if (p->skipped++ < CH_HUB_AMBIGUOUS_LIST) {
			k = snprintf(p->skipped_text + p->skipped_len,
				     sizeof(p->skipped_text) - p->skipped_len,
				     "%s%s (%s)", p->skipped > 1 ? ", " : "",
				     api_device_label(rec), rec->admission !=
				     CH_ADMIT_ADMITTED ? ch_admission_name(
				     rec->admission) : "not connected");
			if (k > 0 && p->skipped_len + (size_t)k <
			    sizeof(p->skipped_text))
				p->skipped_len += (size_t)k;
		}
		return 0;
	}
	if (p->n >= CH_BATCH_DEVICES_MAX)
		return 1;
	if (p->n == p->max) {
		size_t max = p->max ? 2 * p->max : 64;
		void *fps = realloc(p->fps, max * sizeof(*p->fps));

		if (fps == NULL)
			return -1;
		p->fps = fps;
		p->max = max;
	}
	snprintf(p->fps[p->n++], CH_FP_LEN, "%s", rec->fingerprint);
	return 0;
}

/* One job per device the request's "select" selects, as one batch
 * (docs/jobs.md, "Batches"): queued for the devices that are not
 * connected, started on the others at most "rate" a second. Answers
 * with the batch at once, or with "wait" when none of its jobs is left
 * queued or running. */
static void submit_batch(struct hub *hub, struct hub_ctl_req *req,
			 json_t *args, const char *kind, const char *payload,
			 int flags, const char *mode, int64_t expires)
{
	json_t *jrate = json_object_get(args, "rate");
	struct batch_pick p = { .hub = hub };
	struct ch_select sel;
	const char **fps = NULL;
	int64_t id = 0, *job_ids = NULL, now = hub_now_s();
	char text[CH_STORE_TEXT_MAX / 2], who[HUB_ACTOR_STR_MAX];
	char msg[CH_STORE_TEXT_MAX + 128];
	int given, rate = CH_BATCH_RATE_DEFAULT, r;

	if (api_select_arg(req, args, &sel, &given) != 0)
		return;
	hub_select_text(json_object_get(args, "select"), text, sizeof(text));
	if (!given) {
		hub_ctl_fail(req, "bad-request", "\"select\" selects nothing:"
			     " give a tag, group, name or state (every admitted"
			     " device, named or not: state admitted)");
		return;
	}
	if (jrate && !json_is_null(jrate)) {
		if (!json_is_integer(jrate) || json_integer_value(jrate) < 1 ||
		    json_integer_value(jrate) > CH_BATCH_RATE_MAX) {
			hub_ctl_fail(req, "bad-request", "\"rate\" is jobs "
				     "started per second, 1 to "
				     CH_STR(CH_BATCH_RATE_MAX));
			return;
		}
		rate = (int)json_integer_value(jrate);
	}
	p.now_only = strcmp(mode, "now") == 0;
	r = ch_store_device_select(hub->store, &sel, pick_device, &p);
	if (r < 0) {
		hub_ctl_fail(req, "internal", r == -1 ? "out of memory"
			     : "registry unavailable");
		goto out;
	}
	if (r > 0) {
		hub_ctl_fail(req, "bad-request", "the selection has more than "
			     CH_STR(CH_BATCH_DEVICES_MAX) " devices: narrow it");
		goto out;
	}
	if (p.n == 0) {
		if (p.matched == 0)
			snprintf(msg, sizeof(msg), "no device matches %s",
				 text);
		else
			snprintf(msg, sizeof(msg), "none of the %d devices "
				 "that match %s can take a job%s: %s%s",
				 p.matched, text, p.now_only ? " now" : "",
				 p.skipped_text, p.skipped >
				 CH_HUB_AMBIGUOUS_LIST ? ", ..." : "");
		hub_ctl_fail(req, p.matched ? "invalid-state" : "not-found",
			     msg);
		goto out;
	}
	if ((fps = calloc(p.n, sizeof(*fps))) == NULL ||
	    (job_ids = calloc(p.n, sizeof(*job_ids))) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p.n; i++)
		fps[i] = p.fps[i];
	hub_actor_str(hub_ctl_actor(req), who, sizeof(who));
	if ((r = ch_store_batch_add(hub->store, kind, payload, flags,
				    expires, text, rate, who, fps, p.n, now,
				    &id, job_ids)) != CH_OK) {
		api_store_fail(req, r, "cannot queue the batch");
		goto out;
	}
	jobs_batch_pace(hub, id, rate);
	for (size_t i = 0; i < p.n; i++) {
		int live = hub_find_device(hub, fps[i]) != NULL;

		snprintf(msg, sizeof(msg), "job %lld %s (batch %lld)%s",
			 (long long)job_ids[i], kind, (long long)id,
			 live ? "" : " (device not connected)");
		hub_event(hub, fps[i], "job-queued", msg);
	}
	ch_info("batch=%lld %s: %zu jobs for %s (%d left out), rate %d/s, "
		"by %s", (long long)id, kind, p.n, text, p.skipped, rate, who);
	api_audit_detail(req, "batch %lld: %s on %zu devices (%s)",
			 (long long)id, kind, p.n, text);
	api_audit_now(hub, req);
	for (size_t i = 0; i < p.n; i++)
		jobs_kick(hub, fps[i]);
	if (json_is_true(json_object_get(args, "wait"))) {
		jobs_batch_wait(hub, id, req);
	} else {
		json_t *resp = jobs_batch_response(hub, id);

		if (resp == NULL) {
			hub_ctl_fail(req, "internal", "registry unavailable");
			goto out;
		}
		json_object_set_new(resp, "skipped", json_integer(p.skipped));
		hub_ctl_respond(req, resp);
	}
out:
	free(job_ids);
	free(fps);
	free(p.fps);
}

/* rpc, get-config, edit-config: a job, run now if the device is here;
 * with "select" instead of "device", a batch of them. */
static void submit(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		   const char *kind, const char *payload, int flags)
{
	const char *mode = api_arg(args, "mode");
	json_t *jw = json_object_get(args, "wait");
	json_t *jexp = json_object_get(args, "expires");
	int batch = json_object_get(args, "select") != NULL &&
		    json_object_get(args, "device") == NULL;
	struct ch_device_rec rec;
	struct ch_job_rec job;
	struct ch_buf check;
	const char *why = NULL;
	int64_t id, expires = 0, now = hub_now_s();
	int live, wait, r;
	char msg[300];

	if (!batch && api_device_arg(hub, req, args, &rec) != 0)
		return;
	if (mode == NULL)
		mode = "auto";
	if (strcmp(mode, "auto") && strcmp(mode, "now") &&
	    strcmp(mode, "queue")) {
		hub_ctl_fail(req, "bad-request", "\"mode\" must be auto, now "
			     "or queue");
		return;
	}
	if (jexp && !json_is_null(jexp)) {
		if (!json_is_integer(jexp) || json_integer_value(jexp) <= 0) {
			hub_ctl_fail(req, "bad-request", "\"expires\" must be "
				     "a positive number of seconds");
			return;
		}
		expires = now + json_integer_value(jexp);
	}
	if (!batch && api_admitted(req, &rec) != 0)
		return;
	/* Refuse bad XML now, not when the device calls in a week. */
	ch_buf_init(&check, CH_JOB_PAYLOAD_MAX + 4096);
	r = ch_rpc_build(&check, 1, payload, &why);
	ch_buf_cleanup(&check);
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "%s: %s", strcmp(kind,
			 "edit-config") == 0 ? "the config is not acceptable "
			 "XML (expected the configuration's elements, bare or "
			 "inside one <config> element)" : strcmp(kind,
			 "get-config") == 0 ? "the filter is not acceptable "
			 "XML" : "the operation is not acceptable XML",
			 why ? why : ch_strerror(r));
		hub_ctl_fail(req, "bad-xml", msg);
		return;
	}
	if (batch) {
		submit_batch(hub, req, args, kind, payload, flags, mode,
			     expires);
		return;
	}
	live = hub_find_device(hub, rec.fingerprint) != NULL;
	if (!live && strcmp(mode, "now") == 0) {
		snprintf(msg, sizeof(msg), "device %s is not connected "
			 "(nothing was queued)", rec.fingerprint);
		hub_ctl_fail(req, "not-connected", msg);
		return;
	}
	if ((r = ch_store_job_add(hub->store, rec.fingerprint, kind, payload,
				  flags, expires, now, &id)) != CH_OK) {
		api_store_fail(req, r, "cannot queue the job");
		return;
	}
	snprintf(msg, sizeof(msg), "job %lld %s%s", (long long)id, kind,
		 live ? "" : " (device not connected)");
	hub_event(hub, rec.fingerprint, "job-queued", msg);
	api_audit_detail(req, "%s", msg);
	api_audit_now(hub, req);	/* the answer may wait for the outcome */
	wait = json_is_true(jw) || (live && strcmp(mode, "queue") != 0);
	jobs_kick(hub, rec.fingerprint);
	if (wait) {
		jobs_wait(hub, id, req);
		return;
	}
	memset(&job, 0, sizeof(job));
	if (ch_store_job_get(hub->store, id, &job) != CH_OK) {
		hub_ctl_fail(req, "internal", "registry unavailable");
		return;
	}
	hub_ctl_respond(req, jobs_response(hub, &job));
	ch_job_rec_cleanup(&job);
}

void cmd_rpc(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	const char *xml = api_arg(args, "xml");

	if (xml == NULL || *xml == '\0') {
		hub_ctl_fail(req, "bad-request",
			     "\"xml\" (the operation) is required");
		return;
	}
	submit(hub, req, args, "rpc", xml,
	       read_only_op(xml) ? CH_JOB_F_READ_ONLY : 0);
}

/* 1 if s is an XML prefix we pass on: an NCName of ASCII letters,
 * digits, '_', '-' and '.', not starting with a digit, '-' or '.'. */
static int prefix_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CH_XML_PREFIX_MAX || strchr("0123456789-.", s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("_-.", s[i])))
			return 0;
	return 1;
}

/* The <filter> of a get-config into op (RFC 6241 6 and 8.9): a subtree
 * filter's content as given (submit checks the whole operation is
 * well-formed), or an XPath with the namespaces of its prefixes. NULL,
 * or why the request is bad (a static text). */
static const char *filter_xml(struct ch_buf *op, const char *subtree,
			      const char *xpath, json_t *nss)
{
	const char *prefix;
	json_t *uri;

	if (subtree) {
		size_t at = ch_buf_len(op);
		xmlDoc *doc = NULL;
		int r;

		if (ch_buf_puts(op, "<filter type=\"subtree\">") ||
		    ch_buf_puts(op, subtree) ||
		    ch_buf_puts(op, "</filter>"))
			return "the filter is too large";
		/* a document of its own: content that closed <filter> and
		 * opened another operation would still balance the <rpc> */
		r = ch_xml_parse(ch_buf_ptr(op) + at, ch_buf_len(op) - at, &doc);
		xmlFreeDoc(doc);
		return r == CH_OK ? NULL : "the filter is not well-formed XML "
			"(its content: elements, balanced, inside <filter>)";
	}
	if (nss && !json_is_object(nss))
		return "\"namespaces\" must be an object {PREFIX: URI}";
	if (json_object_size(nss) > CH_XPATH_NS_MAX)
		return "too many \"namespaces\" (at most "
		       CH_STR(CH_XPATH_NS_MAX) ")";
	if (ch_buf_puts(op, "<filter type=\"xpath\" select=\"") ||
	    ch_xml_escape(op, xpath, strlen(xpath)) ||
	    ch_buf_puts(op, "\""))
		return "the XPath is too large";
	json_object_foreach(nss, prefix, uri) {
		if (!prefix_ok(prefix) || strcmp(prefix, "xml") == 0 ||
		    strcmp(prefix, "xmlns") == 0)
			return "a namespace prefix must be an XML name (letters, "
			       "digits, _ - .; not xml or xmlns)";
		if (!json_is_string(uri) || json_string_length(uri) == 0)
			return "a namespace must be a non-empty URI string";
		if (ch_buf_puts(op, " xmlns:") ||
		    ch_buf_puts(op, prefix) ||
		    ch_buf_puts(op, "=\"") ||
		    ch_xml_escape(op, json_string_value(uri),
				  json_string_length(uri)) ||
		    ch_buf_puts(op, "\""))
			return "the namespaces are too large";
	}
	return ch_buf_puts(op, "/>") ? "the XPath is too large" : NULL;
}

void cmd_get_config(struct hub *hub, struct hub_ctl_req *req,
		    json_t *args)
{
	const char *src = api_arg(args, "source");
	const char *subtree = api_arg(args, "filter");
	const char *xpath = api_arg(args, "xpath");
	json_t *nss = json_object_get(args, "namespaces");
	const char *why = NULL;
	struct ch_buf op;

	if (src == NULL)
		src = "running";
	if (strcmp(src, "running") && strcmp(src, "candidate") &&
	    strcmp(src, "startup"))
		why = "\"source\" must be running, candidate or startup";
	else if (subtree && xpath)
		why = "give \"filter\" (a subtree filter) or \"xpath\", not "
		      "both";
	else if ((subtree && !*subtree) || (xpath && !*xpath))
		why = "an empty filter: leave it out to get everything";
	else if (nss && !xpath)
		why = "\"namespaces\" are those of an \"xpath\" filter";
	if (why) {
		hub_ctl_fail(req, "bad-request", why);
		return;
	}
	ch_buf_init(&op, CH_JOB_PAYLOAD_MAX);
	if (ch_buf_puts(&op, "<get-config><source><") ||
	    ch_buf_puts(&op, src) ||
	    ch_buf_puts(&op, "/></source>") ||
	    ((subtree || xpath) &&
	     (why = filter_xml(&op, subtree, xpath, nss)) != NULL) ||
	    ch_buf_puts(&op, "</get-config>")) {
		ch_buf_cleanup(&op);
		hub_ctl_fail(req, why == NULL ? "too-large" :
			     strstr(why, "well-formed") ? "bad-xml" :
			     "bad-request",
			     why ? why : "the get-config is too large");
		return;
	}
	submit(hub, req, args, "get-config", ch_buf_ptr(&op),
	       CH_JOB_F_READ_ONLY);
	ch_buf_cleanup(&op);
}

/* The children of root (a <config>) as text, each element copied into
 * a document of its own so that it carries the namespaces it inherited
 * from <config>. NULL when out of memory. */
static char *children_text(xmlNode *root)
{
	xmlBuffer *xb = xmlBufferCreate();
	char *s = NULL;
	int ok = xb != NULL;

	for (xmlNode *c = root->children; ok && c; c = c->next) {
		xmlDoc *d;
		xmlNode *n;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if ((d = xmlNewDoc(BAD_CAST "1.0")) == NULL ||
		    (n = xmlDocCopyNode(c, d, 1)) == NULL) {
			xmlFreeDoc(d);
			ok = 0;
			break;
		}
		xmlDocSetRootElement(d, n);
		ok = xmlNodeDump(xb, d, n, 0, 0) >= 0;
		xmlFreeDoc(d);
	}
	if (ok)
		s = strdup((const char *)xmlBufferContent(xb));
	if (xb)
		xmlBufferFree(xb);
	return s;
}

/* A config given whole, as ncclient users write it (<config> in the
 * NETCONF namespace or in none, around the content): its content, a new
 * string. NULL when config is not one such <config> element (or out of
 * memory); then it is used as it is. */
static char *unwrap_config(const char *config)
{
	const char *p = config;
	xmlDoc *doc = NULL;
	xmlNode *root;
	char *s = NULL;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (strncmp(p, "<?xml", 5) == 0 && (p = strstr(p, "?>")) != NULL)
		for (p += 2; *p == ' ' || *p == '\t' || *p == '\r' ||
			     *p == '\n'; p++)
			;
	if (p == NULL || strncmp(p, "<config", 7) != 0 ||
	    !(p[7] == '>' || p[7] == '/' || p[7] == ' ' || p[7] == '\t' ||
	      p[7] == '\r' || p[7] == '\n'))
		return NULL;
	if (ch_xml_parse(config, strlen(config), &doc) != CH_OK)
		return NULL;	/* not well-formed: the check below says so */
	root = xmlDocGetRootElement(doc);
	if (root && strcmp((const char *)root->name, "config") == 0 &&
	    (root->ns == NULL || root->ns->href == NULL ||
	     strcmp((const char *)root->ns->href, CH_NC_NS) == 0))
		s = children_text(root);
	xmlFreeDoc(doc);
	return s;
}

void cmd_edit_config(struct hub *hub, struct hub_ctl_req *req,
		     json_t *args)
{
	const char *config = api_arg(args, "config");
	json_t *js = json_object_get(args, "startup");
	char *inner;

	if (config == NULL || *config == '\0') {
		hub_ctl_fail(req, "bad-request", "\"config\" (the content of "
			     "<config>) is required");
		return;
	}
	if (js && !json_is_boolean(js)) {
		hub_ctl_fail(req, "bad-request", "\"startup\" must be true "
			     "(copy the change to startup, the default) or "
			     "false");
		return;
	}
	if ((inner = unwrap_config(config)) != NULL && *inner == '\0') {
		hub_ctl_fail(req, "bad-xml", "the <config> element is empty: "
			     "expected the configuration inside it");
		free(inner);
		return;
	}
	submit(hub, req, args, "edit-config", inner ? inner : config,
	       json_is_false(js) ? CH_JOB_F_NO_STARTUP : 0);
	free(inner);
}

struct jobs_walk {
	struct hub *hub;
	json_t *arr;
};

static int job_json_cb(void *ctx, const struct ch_job_rec *rec)
{
	struct jobs_walk *w = ctx;

	json_array_append_new(w->arr, jobs_json(w->hub, rec, 0));
	return 0;
}

void cmd_jobs(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	struct jobs_walk w = { hub, NULL };
	struct ch_device_rec rec;
	const char *state = api_arg(args, "state");
	json_t *jl = json_object_get(args, "limit");
	struct ch_select sel;
	unsigned mask = 0;
	int limit = jl ? (int)json_integer_value(jl) : 50, given;

	if (state) {
		for (int st = 0; st <= CH_JOB_EXPIRED; st++)
			if (strcmp(state, ch_job_state_name(st)) == 0)
				mask = 1u << st;
		if (mask == 0) {
			hub_ctl_fail(req, "bad-request", "unknown job state");
			return;
		}
	}
	if (api_select_arg(req, args, &sel, &given) != 0)
		return;
	if (json_object_get(args, "device") &&
	    api_device_arg(hub, req, args, &rec) != 0)
		return;
	w.arr = json_array();
	if (given)
		ch_store_job_foreach_sel(hub->store, &sel, limit, mask,
					 job_json_cb, &w);
	else
		ch_store_job_foreach(hub->store, json_object_get(args,
				     "device") ? rec.fingerprint : NULL,
				     limit, mask, job_json_cb, &w);
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "jobs", w.arr));
}

/* The job named by "id", or a failed request. */
static int ctl_job(struct hub *hub, struct hub_ctl_req *req, json_t *args,
		   struct ch_job_rec *job)
{
	json_t *jid = json_object_get(args, "id");

	memset(job, 0, sizeof(*job));
	if (!json_is_integer(jid)) {
		hub_ctl_fail(req, "bad-request", "\"id\" (a job number) is "
			     "required");
		return -1;
	}
	if (ch_store_job_get(hub->store, json_integer_value(jid), job)) {
		hub_ctl_fail(req, "not-found", "no such job");
		return -1;
	}
	return 0;
}

void cmd_job(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	json_t *jw = json_object_get(args, "wait");
	struct ch_job_rec job;

	if (jw && !json_is_boolean(jw)) {
		hub_ctl_fail(req, "bad-request", "\"wait\" must be true or "
			     "false");
		return;
	}
	if (ctl_job(hub, req, args, &job) != 0)
		return;
	if (json_is_true(jw)) {	/* answered as rpc etc. are with "wait" */
		jobs_wait(hub, job.id, req);
		ch_job_rec_cleanup(&job);
		return;
	}
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "job",
				       jobs_json(hub, &job, 1)));
	ch_job_rec_cleanup(&job);
}

static void cmd_cancel_retry(struct hub *hub, struct hub_ctl_req *req,
			     json_t *args, int retry)
{
	struct ch_job_rec job;
	char msg[160];
	int r;

	if (ctl_job(hub, req, args, &job) != 0)
		return;
	api_audit_device(req, job.fingerprint);
	api_audit_detail(req, "job %lld", (long long)job.id);
	r = retry ? ch_store_job_requeue(hub->store, job.id)
		  : ch_store_job_cancel(hub->store, job.id, hub_now_s());
	if (r != CH_OK) {
		snprintf(msg, sizeof(msg), "job %lld is %s; only %s", (long long)
			 job.id, ch_job_state_name(job.state), retry
			 ? "in-doubt or failed jobs can be retried"
			 : "queued jobs can be cancelled");
		hub_ctl_fail(req, "invalid-state", msg);
		ch_job_rec_cleanup(&job);
		return;
	}
	snprintf(msg, sizeof(msg), "job %lld %s by the operator",
		 (long long)job.id, retry ? "queued again" : "cancelled");
	hub_event(hub, job.fingerprint, retry ? "job-retry" : "job-cancelled", msg);
	ch_job_rec_cleanup(&job);
	ch_store_job_get(hub->store, json_integer_value(json_object_get(args,
						      "id")), &job);
	if (retry)
		jobs_kick(hub, job.fingerprint);
	else
		jobs_notify(hub, job.id);
	hub_ctl_respond(req, json_pack("{s:b, s:o}", "ok", 1, "job",
				       jobs_json(hub, &job, 0)));
	ch_job_rec_cleanup(&job);
}

void cmd_cancel(struct hub *hub, struct hub_ctl_req *req,
		json_t *args)
{
	cmd_cancel_retry(hub, req, args, 0);
}

void cmd_retry(struct hub *hub, struct hub_ctl_req *req, json_t *args)
{
	cmd_cancel_retry(hub, req, args, 1);
}
