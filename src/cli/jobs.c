/* jobs.c - the commands about jobs: rpc, get-config and edit-config,
 * which submit one, and jobs, job, cancel, retry. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/table.h"
#include "lib/core/err.h"
#include "lib/core/limits.h"
#include "lib/nc/msg.h"

/* ---- rpc, get-config, edit-config: jobs on a device ---- */

struct job_args {
	const char *mode;	/* "auto", "now" or "queue" */
	bool wait;
	uint32_t expires;	/* seconds; 0: not given */
	const char *source;	/* get-config --source */
	const char *filter;	/* get-config --filter */
	const char *xpath;	/* get-config --xpath */
	json_t *ns;		/* get-config --ns: {prefix: uri}, or NULL */
	bool no_startup;	/* edit-config --no-startup */
};

/* --ns PREFIX=URI into *ns (created at the first). */
static int ns_arg(struct run *run, const char *arg, json_t **ns)
{
	const char *eq = strchr(arg, '=');
	char prefix[CH_XML_PREFIX_MAX + 1];

	if (eq == NULL || eq == arg || eq[1] == '\0' ||
	    (size_t)(eq - arg) > CH_XML_PREFIX_MAX)
		return cli_usage_error(run, "--ns wants PREFIX=URI (a prefix "
				       "of the --xpath expression and its "
				       "namespace), not '%s'", arg);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(eq - arg), arg);
	if (*ns == NULL && (*ns = json_object()) == NULL)
		return cli_out_of_memory();
	if (json_object_size(*ns) >= CH_XPATH_NS_MAX)
		return cli_usage_error(run, "at most %d --ns", CH_XPATH_NS_MAX);
	json_object_set_new(*ns, prefix, json_string(eq + 1));
	return CLI_OK;
}

/* Options and operands of a job command: nargs operands, the first of
 * them DEVICE; want says what they are. Starts run->req with cmd, device,
 * mode, wait and expires; the caller adds what its command needs. */
static int job_request(struct run *run, int argc, char **argv, int nargs,
		       const char *want, struct job_args *ja)
{
	const char *mode;
	int c, r;

	*ja = (struct job_args){ .mode = "auto", .source = "running" };
	while ((c = args_next(run, argc, argv)) != -1) {
		switch (c) {
		case OPT_NOW:
		case OPT_QUEUE:
			mode = c == OPT_NOW ? "now" : "queue";
			if (strcmp(ja->mode, "auto") != 0 &&
			    strcmp(ja->mode, mode) != 0)
				return cli_usage_error(run, "--now and --queue "
						       "exclude each other");
			ja->mode = mode;
			break;
		case OPT_WAIT:
			ja->wait = true;
			break;
		case OPT_EXPIRES:
			if (args_duration(optarg, &ja->expires) != CH_OK)
				return cli_usage_error(run, "--expires wants "
						       "a duration such as "
						       "3600, 30m, 2h or 7d "
						       "(at most %dd), not "
						       "'%s'",
						       CH_CLI_MAX_EXPIRES_DAYS,
						       optarg);
			break;
		case 's':
			ja->source = optarg;
			break;
		case OPT_NO_STARTUP:
			ja->no_startup = true;
			break;
		case OPT_FILTER:
			ja->filter = optarg;
			break;
		case OPT_XPATH:
			ja->xpath = optarg;
			break;
		case OPT_NS:
			if ((r = ns_arg(run, optarg, &ja->ns)) != CLI_OK)
				return r;
			break;
		default:
			return args_opt_done(run, c);
		}
	}
	if ((r = args_device_operands(run, argc, argv, nargs, want)) != CLI_OK)
		return r;
	if (ja->expires && strcmp(ja->mode, "now") == 0)
		return cli_usage_error(run, "--expires is for a job that may "
				       "wait; --now never queues");
	/* --wait: the job's number first (mode queue answers at once; auto
	 * differs from it only in waiting), then {"cmd":"job","wait":true}
	 * (print_job_result), so that a wait that runs out can name it */
	if (ja->wait && strcmp(ja->mode, "auto") == 0)
		ja->mode = "queue";
	run->wait_job = ja->wait;
	if ((r = req_start(run, argv[optind])) != CLI_OK ||
	    (r = req_set(run, "mode", json_string(ja->mode))) != CLI_OK ||
	    (r = req_set(run, "wait", json_false())) != CLI_OK)
		return r;
	if (ja->no_startup &&
	    (r = req_set(run, "startup", json_false())) != CLI_OK)
		return r;
	if (ja->expires)
		return req_set(run, "expires", json_integer(ja->expires));
	return CLI_OK;
}

/* A job command whose second operand is text: rpc XML, edit-config FILE
 * (is_path). */
static int job_with_text(struct run *run, int argc, char **argv,
			 const char *want, const char *key, bool is_path,
			 const char *what)
{
	struct job_args ja;
	int r;

	if ((r = job_request(run, argc, argv, 2, want, &ja)) != CLI_OK)
		return r;
	return req_text(run, key, argv[optind + 1], is_path, what);
}

int build_rpc(struct run *run, int argc, char **argv)
{
	return job_with_text(run, argc, argv, "wants DEVICE and XML (or - to "
			     "read the XML from standard input)", "xml",
			     false, "the XML");
}

int build_edit_config(struct run *run, int argc, char **argv)
{
	return job_with_text(run, argc, argv, "wants DEVICE and FILE (or - to "
			     "read the config from standard input)", "config",
			     true, "the config");
}

/* Whether s is one of the n words. */
static bool one_of(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

int build_get_config(struct run *run, int argc, char **argv)
{
	static const char *const sources[] = { "running", "candidate",
					       "startup" };
	struct job_args ja;
	int r;

	if ((r = job_request(run, argc, argv, 1, "wants exactly one DEVICE",
			     &ja)) != CLI_OK)
		goto out;
	if (!one_of(ja.source, sources, CLI_NELEMS(sources)))
		r = cli_usage_error(run, "--source is running, candidate or "
				    "startup, not '%s'", ja.source);
	else if (ja.filter && ja.xpath)
		r = cli_usage_error(run, "--filter (subtree) and --xpath "
				    "exclude each other");
	else if (ja.ns && !ja.xpath)
		r = cli_usage_error(run, "--ns gives the prefixes of an "
				    "--xpath expression: give --xpath too");
	else if ((r = req_str(run, "source", ja.source, "--source")) ==
		 CLI_OK && ja.filter)
		/* <...> is the filter itself; anything else names a file */
		r = req_text(run, "filter", ja.filter, ja.filter[0] != '<',
			     "the --filter");
	else if (r == CLI_OK && ja.xpath &&
		 (r = req_str(run, "xpath", ja.xpath, "--xpath")) == CLI_OK &&
		 ja.ns) {
		r = req_set(run, "namespaces", ja.ns);
		ja.ns = NULL;
	}
out:
	json_decref(ja.ns);
	return r;
}

/* How a job that ran (or will) ends for the command that submitted it,
 * when the hub's answer carries no reply. */
static const struct {
	const char *state;
	const char *says;	/* after "job N for DEVICE " */
	int status;
} job_ends[] = {
	{ "running", "is running", CLI_OK },
	{ "done", "is done", CLI_OK },
	{ "failed", "failed", CLI_JOB_FAILED },
	{ "in-doubt", "is in doubt (it may or may not have taken effect)",
	  CLI_JOB_FAILED },
	{ "cancelled", "was cancelled", CLI_JOB_FAILED },
	{ "expired", "expired before it could run", CLI_JOB_FAILED },
};

/* What became of a job the hub answered for without a reply (or with
 * one, when the job still failed): a line, and the exit status. */
static int job_end(struct run *run, json_t *job, bool have_reply)
{
	const char *state = resp_str(job, "state", "?");
	const char *dev = resp_str(job, "name", resp_str(job, "device", "?"));
	const char *error = resp_str(job, "error", NULL);
	json_int_t id = json_integer_value(json_object_get(job, "id"));
	/* in mode auto that is the one reason to queue */
	const char *why = strcmp(resp_str(run->req, "mode", ""), "auto") == 0
				  ? " (not connected)" : "";
	char says[64];
	int status = CLI_OK;

	if (strcmp(state, "queued") == 0) {
		if (!run->json)
			printf("queued as job %" JSON_INTEGER_FORMAT " for "
			       "%s%s; see: callhome job %" JSON_INTEGER_FORMAT
			       "\n", id, dev, why, id);
		return CLI_OK;
	}
	snprintf(says, sizeof(says), "is %s", state);
	for (size_t i = 0; i < CLI_NELEMS(job_ends); i++) {
		if (strcmp(state, job_ends[i].state) == 0) {
			snprintf(says, sizeof(says), "%s", job_ends[i].says);
			status = job_ends[i].status;
		}
	}
	if (status != CLI_OK) {
		fflush(stdout);
		cli_fail("job %" JSON_INTEGER_FORMAT " for %s %s%s%s (see: "
			 "callhome job %" JSON_INTEGER_FORMAT ")", id, dev,
			 says, error ? ": " : "", error ? error : "", id);
	} else if (!have_reply && !run->json) {
		printf("job %" JSON_INTEGER_FORMAT " for %s %s; see: callhome "
		       "job %" JSON_INTEGER_FORMAT "\n", id, dev, says, id);
	}
	return status;
}

/* Did the device answer with an rpc-error, and with which tag? The hub
 * says whether in "rpc_error"; a hub that does not is asked of the XML.
 * The tag is "error_tag" if the hub sent one, else read from the XML. */
static bool reply_error(json_t *resp, const char *reply, char *tag,
			size_t size)
{
	json_t *flag = json_object_get(resp, "rpc_error");
	const char *t = resp_str(resp, "error_tag", NULL);
	struct ch_reply rep;
	bool err = json_is_true(flag);

	snprintf(tag, size, "%s", t ? t : "");
	if (json_is_false(flag) || (err && t))
		return err;	/* no need to parse a large reply */
	if (ch_reply_parse(reply, strlen(reply), &rep) != CH_OK)
		return err;
	if (!json_is_boolean(flag))
		err = rep.has_error;
	if (t == NULL && rep.error_tag)
		snprintf(tag, size, "%s", rep.error_tag);
	ch_reply_cleanup(&rep);
	return err;
}

/* --wait for a job the hub answered for while it was queued or running:
 * {"cmd":"job","id":N,"wait":true}, within --timeout. */
static int wait_for_job(struct run *run, json_t *job)
{
	json_int_t id = json_integer_value(json_object_get(job, "id"));
	const char *state = resp_str(job, "state", "queued");
	const char *dev = resp_str(job, "name", resp_str(job, "device", "?"));
	json_t *submit = run->req, *resp = NULL;
	int r;

	run->req = json_pack("{s:s, s:I, s:b}", "cmd", "job", "id", id,
			     "wait", 1);
	if (run->req == NULL) {
		run->req = submit;
		return cli_out_of_memory();
	}
	r = conn_exchange(run, &resp);
	json_decref(run->req);
	run->req = submit;
	run->wait_job = false;
	if (r == CLI_STILL_WAITING) {
		fflush(stdout);
		cli_fail("job %" JSON_INTEGER_FORMAT " on %s still %s after "
			 "%u s; it stays %s (see: callhome job %"
			 JSON_INTEGER_FORMAT ")", id, dev, state,
			 run->timeout_s, state, id);
	} else if (r == CLI_OK && json_is_false(json_object_get(resp, "ok"))) {
		r = resp_refused(run, resp);
	} else if (r == CLI_OK) {
		r = print_job_result(run, resp);
	}
	json_decref(resp);
	return r;
}

/* The answer to rpc, get-config, edit-config: the device's reply, or
 * what became of the job. */
int print_job_result(struct run *run, json_t *resp)
{
	const char *reply = json_string_value(json_object_get(resp, "reply"));
	json_t *job = json_object_get(resp, "job");
	const char *state = resp_str(job, "state", "");
	char tag[128];
	bool err;

	if (run->wait_job && reply == NULL && (strcmp(state, "queued") == 0 ||
					       strcmp(state, "running") == 0))
		return wait_for_job(run, job);

	if (reply == NULL && !json_is_object(job)) {
		cli_fail("the hub's answer has neither \"reply\" nor \"job\"");
		return CLI_HUB;
	}
	if (run->json && resp_print_json(resp) != CLI_OK)
		return CLI_HUB;
	if (reply == NULL)
		return job_end(run, job, false);
	err = reply_error(resp, reply, tag, sizeof(tag));
	if (!run->json)
		resp_print_xml(reply);
	if (err) {
		fflush(stdout);
		if (tag[0])
			cli_fail("the device answered with an rpc-error (%s)",
				 tag);
		else
			cli_fail("the device answered with an rpc-error");
		return CLI_RPC_ERROR;
	}
	return json_is_object(job) ? job_end(run, job, true) : CLI_OK;
}

/* ---- jobs, job, cancel, retry ---- */

int build_jobs(struct run *run, int argc, char **argv)
{
	static const char *const states[] = {
		"queued", "running", "done", "failed", "in-doubt",
		"cancelled", "expired",
	};
	const char *state = NULL, *dev;
	uint32_t limit = 0;
	int r;

	if ((r = args_opts(run, argc, argv, OPT_STATE, &state,
			   &limit)) != CLI_OK)
		return r;
	if (state && !one_of(state, states, CLI_NELEMS(states)))
		return cli_usage_error(run, "--state is queued, running, done, "
				       "failed, in-doubt, cancelled or "
				       "expired, not '%s'", state);
	if ((r = args_optional_device(run, argc, argv, &dev)) != CLI_OK ||
	    (r = req_start(run, dev)) != CLI_OK ||
	    (state && (r = req_str(run, "state", state,
				   "--state")) != CLI_OK))
		return r;
	return req_limit(run, limit);
}

enum { JOB_ID, JOB_DEV, JOB_KIND, JOB_STATE, JOB_CREATED, JOB_FINISHED,
       JOB_NOTE, JOB_NCOLS };

static void job_row(json_t *job, struct cells *c)
{
	table_cell_int(c, JOB_ID,
		       json_integer_value(json_object_get(job, "id")));
	c->cell[JOB_DEV] = resp_device_label(job, c->buf[JOB_DEV], CELL_MAX);
	c->cell[JOB_KIND] = resp_str(job, "kind", "?");
	c->cell[JOB_STATE] = resp_str(job, "state", "?");
	c->cell[JOB_CREATED] = resp_str(job, "created", "-");
	c->cell[JOB_FINISHED] = resp_str(job, "finished", "-");
	/* why it failed matters more than how it was applied */
	c->cell[JOB_NOTE] = resp_str(job, "error",
				     resp_str(job, "method", "-"));
}

int print_jobs(struct run *run, json_t *resp)
{
	struct table t = {
		{ "ID", "DEVICE", "KIND", "STATE", "CREATED", "FINISHED",
		  "METHOD/ERROR" },
		JOB_NCOLS, job_row, { 0 },
	};

	return resp_print_list(run, resp, "jobs", &t);
}

/* COMMAND ID: job, cancel, retry. */
int build_on_job(struct run *run, int argc, char **argv)
{
	json_int_t id;
	int r;

	if ((r = args_no_opts(run, argc, argv)) != CLI_OK ||
	    (r = args_operands(run, argc, 1, 1,
			       "wants one job ID")) != CLI_OK ||
	    (r = args_job_id(run, argv[optind], &id)) != CLI_OK ||
	    (r = req_start(run, NULL)) != CLI_OK)
		return r;
	return req_set(run, "id", json_integer(id));
}

static const struct resp_field job_fields[] = {
	{ "kind:", "kind", FIELD_STR, "?" },
	{ "state:", "state", FIELD_STR, "?" },
	{ "created:", "created", FIELD_STR, "-" },
	{ "expires:", "expires", FIELD_STR, "never" },
	{ "started:", "started", FIELD_STR, "-" },
	{ "finished:", "finished", FIELD_STR, "-" },
	{ "method:", "method", FIELD_STR, "-" },
	{ "rpc error:", "rpc_error", FIELD_YESNO, NULL },
	{ "error:", "error", FIELD_STR, "-" },
};

static void show_job(struct run *run, json_t *resp, json_t *job)
{
	static const struct resp_field id_field = { "job:", "id", FIELD_INT,
						    NULL };
	const char *name = resp_str(job, "name", NULL);
	const char *fp = resp_str(job, "device", "?");
	const char *payload, *result;
	char dev[256];

	(void)run;
	(void)resp;
	if (name)
		snprintf(dev, sizeof(dev), "%s (%s)", name, fp);
	else
		snprintf(dev, sizeof(dev), "%s", fp);
	resp_print_fields(job, &id_field, 1);
	table_field("device:", dev);
	resp_print_fields(job, job_fields, CLI_NELEMS(job_fields));
	payload = json_string_value(json_object_get(job, "payload"));
	result = json_string_value(json_object_get(job, "result"));
	fputs("\npayload:\n", stdout);
	resp_print_text(payload ? payload : "-");
	fputs("\nresult:\n", stdout);
	if (result)
		resp_print_xml(result);
	else
		resp_print_text("-");
}

int print_job(struct run *run, json_t *resp)
{
	return resp_print_object(run, resp, "job", show_job);
}

/* "job 17 (edit-config for r1): queued" */
static void show_job_changed(struct run *run, json_t *resp, json_t *job)
{
	char buf[CELL_MAX];

	(void)run;
	(void)resp;
	printf("job %" JSON_INTEGER_FORMAT " (%s for %s): %s\n",
	       json_integer_value(json_object_get(job, "id")),
	       resp_str(job, "kind", "?"),
	       resp_device_label(job, buf, sizeof(buf)),
	       resp_str(job, "state", "?"));
}

/* cancel, retry: the job as it is now. */
int print_job_changed(struct run *run, json_t *resp)
{
	return resp_print_object(run, resp, "job", show_job_changed);
}
