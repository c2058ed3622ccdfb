/* jobs.c - the commands about jobs: rpc, get-config and edit-config,
 * which submit one, and jobs, job, cancel, retry. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/conn.h"
#include "cli/request.h"
#include "cli/resp.h"
#include "cli/select.h"
#include "cli/table.h"
#include "lib/core/cliopt.h"
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
	uint32_t rate;		/* --rate; 0: not given */
	int text_at;		/* argv index of the XML or FILE operand */
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
	struct cli_select sel = { NULL };
	const char *mode;
	bool taken;
	int c, r;

	*ja = (struct job_args){ .mode = "auto", .source = "running" };
	while ((c = args_next(run, argc, argv)) != -1) {
		if (c != OPT_STATE &&
		    (r = sel_option(run, &sel, c, optarg, &taken)) != CLI_OK)
			goto fail;
		if (c != OPT_STATE && taken)
			continue;
		switch (c) {
		case OPT_RATE:
			if (ch_parse_u32(optarg, 1, CH_BATCH_RATE_MAX,
					 &ja->rate) != CH_OK) {
				r = cli_usage_error(run, "--rate wants jobs "
						    "per second, 1 to %d, not "
						    "'%s'", CH_BATCH_RATE_MAX,
						    optarg);
				goto fail;
			}
			break;
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
			r = args_opt_done(run, c);
			goto fail;
		}
	}
	if (sel_given(&sel)) {
		/* a batch: the selection stands for DEVICE */
		if ((r = args_operands(run, argc, nargs - 1, nargs - 1,
				       want)) != CLI_OK)
			goto fail;
		ja->text_at = optind;
	} else if (ja->rate) {
		r = cli_usage_error(run, "--rate is for a batch: select "
				    "devices with --tag, --group, --name or "
				    "--device-state");
		goto fail;
	} else if ((r = args_device_operands(run, argc, argv, nargs,
					     want)) != CLI_OK) {
		goto fail;
	} else {
		ja->text_at = optind + 1;
	}
	if (ja->expires && strcmp(ja->mode, "now") == 0) {
		r = cli_usage_error(run, "--expires is for a job that may "
				    "wait; --now never queues");
		goto fail;
	}
	if (sel_given(&sel)) {
		/* a batch answers at once; --wait asks for it after */
		run->wait_job = ja->wait;
		if ((r = req_start(run, NULL)) != CLI_OK ||
		    (r = sel_finish(run, &sel)) != CLI_OK ||
		    (r = req_set(run, "mode", json_string(ja->mode))) !=
			    CLI_OK ||
		    (ja->rate && (r = req_set(run, "rate",
					      json_integer(ja->rate))) !=
			    CLI_OK) ||
		    (ja->no_startup && (r = req_set(run, "startup",
						    json_false())) != CLI_OK))
			return r;
		return ja->expires ? req_set(run, "expires",
					     json_integer(ja->expires)) : CLI_OK;
	}
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
fail:
	sel_drop(&sel);
	return r;
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
	return req_text(run, key, argv[ja.text_at], is_path, what);
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

/* {"cmd":cmd,"id":id,"wait":true} after the submit, within --timeout;
 * run->req is the submit again after it. CLI_STILL_WAITING when the
 * wait ran out (unsaid). */
static int wait_exchange(struct run *run, const char *cmd, json_int_t id,
			 json_t **resp)
{
	json_t *submit = run->req;
	int r;

	run->req = json_pack("{s:s, s:I, s:b}", "cmd", cmd, "id", id, "wait",
			     1);
	if (run->req == NULL) {
		run->req = submit;
		return cli_out_of_memory();
	}
	run->wait_job = true;
	r = conn_exchange(run, resp);
	json_decref(run->req);
	run->req = submit;
	run->wait_job = false;
	return r;
}

/* --wait for a job the hub answered for while it was queued or running:
 * {"cmd":"job","id":N,"wait":true}, within --timeout. */
static int wait_for_job(struct run *run, json_t *job)
{
	json_int_t id = json_integer_value(json_object_get(job, "id"));
	const char *state = resp_str(job, "state", "queued");
	const char *dev = resp_str(job, "name", resp_str(job, "device", "?"));
	json_t *resp = NULL;
	int r;

	r = wait_exchange(run, "job", id, &resp);
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

static int print_batch_made(struct run *run, json_t *resp);

/* The answer to rpc, get-config, edit-config: the device's reply, or
 * what became of the job. */
int print_job_result(struct run *run, json_t *resp)
{
	const char *reply = json_string_value(json_object_get(resp, "reply"));
	json_t *job = json_object_get(resp, "job");
	const char *state = resp_str(job, "state", "");
	char tag[128];
	bool err;

	if (json_is_object(json_object_get(resp, "batch")))
		return print_batch_made(run, resp);
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
	struct cli_select sel = { NULL };
	const char *state = NULL, *dev = NULL;
	uint32_t limit = 0;
	bool taken;
	int c, r;

	while ((c = args_next(run, argc, argv)) != -1) {
		if (c == OPT_STATE) {
			state = optarg;
			continue;
		}
		if ((r = sel_option(run, &sel, c, optarg, &taken)) != CLI_OK)
			goto fail;
		if (taken)
			continue;
		if (c == 'n') {
			if ((r = args_limit(run, optarg, &limit)) != CLI_OK)
				goto fail;
			continue;
		}
		r = args_opt_done(run, c);
		goto fail;
	}
	if (state && !one_of(state, states, CLI_NELEMS(states))) {
		r = cli_usage_error(run, "--state is queued, running, done, "
				    "failed, in-doubt, cancelled or "
				    "expired, not '%s'", state);
		goto fail;
	}
	if ((r = sel_device_or_glob(run, argc, argv, &sel, &dev)) !=
		    CLI_OK ||
	    (r = req_start(run, dev)) != CLI_OK ||
	    (r = sel_finish(run, &sel)) != CLI_OK ||
	    (state && (r = req_str(run, "state", state,
				   "--state")) != CLI_OK))
		goto fail;
	return req_limit(run, limit);
fail:
	sel_drop(&sel);
	return r;
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

/* ---- batches ---- */

static const char *const batch_states[] = {
	"done", "failed", "queued", "running", "in-doubt", "cancelled",
	"expired",
};

/* "done 40  failed 0  queued 10 ..." */
static void print_counts(json_t *batch)
{
	json_t *counts = json_object_get(batch, "counts");

	for (size_t i = 0; i < CLI_NELEMS(batch_states); i++)
		printf("%s%s %" JSON_INTEGER_FORMAT, i ? "  " : "",
		       batch_states[i], json_integer_value(
		       json_object_get(counts, batch_states[i])));
	putchar('\n');
}

/* "batch 3: edit-config on 50 devices (--tag role=cpe), 10/s" */
static void print_batch_head(json_t *batch)
{
	printf("batch %" JSON_INTEGER_FORMAT ": %s on %" JSON_INTEGER_FORMAT
	       " devices (%s), at most %" JSON_INTEGER_FORMAT " jobs/s, by "
	       "%s at %s\n",
	       json_integer_value(json_object_get(batch, "id")),
	       resp_str(batch, "kind", "?"),
	       json_integer_value(json_object_get(batch, "total")),
	       resp_str(batch, "selector", "-"),
	       json_integer_value(json_object_get(batch, "rate")),
	       resp_str(batch, "actor", "?"), resp_str(batch, "created", "?"));
}

/* Whether a job of a batch did not succeed: its state, or a device's
 * rpc-error. */
static bool job_bad(json_t *job)
{
	const char *state = resp_str(job, "state", "?");

	return strcmp(state, "queued") && strcmp(state, "running") &&
	       (strcmp(state, "done") ||
		json_is_true(json_object_get(job, "rpc_error")));
}

/* After a wait: 0 if every job is done without an rpc-error, else
 * CLI_JOB_FAILED with which, on stderr. */
static int batch_outcome(json_t *resp)
{
	json_t *batch = json_object_get(resp, "batch");
	json_t *jobs = json_object_get(resp, "jobs"), *job;
	char which[CLI_MSG_MAX / 2], dev[CELL_MAX];
	size_t i, used = 0;
	int bad = 0, k;

	which[0] = '\0';
	json_array_foreach(jobs, i, job) {
		if (!job_bad(job))
			continue;
		if (bad++ < 8 && used < sizeof(which)) {
			k = snprintf(which + used, sizeof(which) - used,
				     "%s%s (job %" JSON_INTEGER_FORMAT " %s)",
				     used ? ", " : "",
				     resp_device_label(job, dev, sizeof(dev)),
				     json_integer_value(json_object_get(job,
									"id")),
				     strcmp(resp_str(job, "state", "?"), "done")
				     ? resp_str(job, "state", "?") : "rpc-error");
			if (k > 0)
				used = used + (size_t)k < sizeof(which)
				       ? used + (size_t)k : sizeof(which);
		}
	}
	if (bad == 0)
		return CLI_OK;
	fflush(stdout);
	cli_fail("batch %" JSON_INTEGER_FORMAT ": %d of %" JSON_INTEGER_FORMAT
		 " jobs did not succeed: %s%s (see: callhome batch %"
		 JSON_INTEGER_FORMAT ")",
		 json_integer_value(json_object_get(batch, "id")), bad,
		 json_integer_value(json_object_get(batch, "total")), which,
		 bad > 8 ? ", ..." : "",
		 json_integer_value(json_object_get(batch, "id")));
	return CLI_JOB_FAILED;
}

static int show_batch(struct run *run, json_t *resp, bool waited)
{
	struct table t = {
		{ "ID", "DEVICE", "KIND", "STATE", "CREATED", "FINISHED",
		  "METHOD/ERROR" },
		JOB_NCOLS, job_row, { 0 },
	};
	json_t *batch = resp_need(resp, "batch", JSON_OBJECT);

	if (batch == NULL)
		return CLI_HUB;
	if (run->json) {
		if (resp_print_json(resp) != CLI_OK)
			return CLI_HUB;
	} else {
		print_batch_head(batch);
		print_counts(batch);
		if (json_array_size(json_object_get(resp, "jobs"))) {
			putchar('\n');
			table_print(&t, json_object_get(resp, "jobs"));
		}
	}
	return waited ? batch_outcome(resp) : CLI_OK;
}

/* --wait on a batch: {"cmd":"batch","id":N,"wait":true} within
 * --timeout. */
static int wait_for_batch(struct run *run, json_int_t id)
{
	json_t *resp = NULL;
	int r;

	r = wait_exchange(run, "batch", id, &resp);
	if (r == CLI_STILL_WAITING) {
		fflush(stdout);
		cli_fail("batch %" JSON_INTEGER_FORMAT " still has jobs queued "
			 "or running after %u s; they stay (see: callhome "
			 "batch %" JSON_INTEGER_FORMAT ")", id,
			 run->timeout_s, id);
	} else if (r == CLI_OK && json_is_false(json_object_get(resp, "ok"))) {
		r = resp_refused(run, resp);
	} else if (r == CLI_OK) {
		r = show_batch(run, resp, true);
	}
	json_decref(resp);
	return r;
}

/* A job command with a selection made a batch. */
static int print_batch_made(struct run *run, json_t *resp)
{
	json_t *batch = json_object_get(resp, "batch");
	json_int_t id = json_integer_value(json_object_get(batch, "id"));
	json_int_t skipped = json_integer_value(json_object_get(resp,
								"skipped"));

	if (run->wait_job)
		return wait_for_batch(run, id);
	if (run->json)
		return resp_print_json(resp);
	printf("batch %" JSON_INTEGER_FORMAT ": %s on %" JSON_INTEGER_FORMAT
	       " devices (%s)", id, resp_str(batch, "kind", "?"),
	       json_integer_value(json_object_get(batch, "total")),
	       resp_str(batch, "selector", "-"));
	if (skipped)
		printf(", %" JSON_INTEGER_FORMAT " selected devices left out "
		       "(not admitted%s)", skipped, strcmp(resp_str(run->req,
		       "mode", ""), "now") == 0 ? " or not connected" : "");
	printf("; see: callhome batch %" JSON_INTEGER_FORMAT "\n", id);
	print_counts(batch);
	return CLI_OK;
}

/* batch ID [--wait], batch-cancel ID */
int build_batch(struct run *run, int argc, char **argv)
{
	const char *wait = NULL;
	json_int_t id;
	uint32_t v;
	int r;

	if ((r = args_opts(run, argc, argv, strcmp(run->cmd->name, "batch")
			   == 0 ? OPT_WAIT : 0, &wait, NULL)) != CLI_OK ||
	    (r = args_operands(run, argc, 1, 1,
			       "wants one batch ID")) != CLI_OK)
		return r;
	if (ch_parse_u32(argv[optind], 1, UINT32_MAX, &v) != CH_OK)
		return cli_usage_error(run, "ID is a batch number such as 3, "
				       "not '%s'", argv[optind]);
	id = v;
	run->wait_job = wait != NULL;
	/* the batch first, then {"cmd":"batch","wait":true}
	 * (wait_for_batch), so that a wait that runs out says so */
	if ((r = req_start(run, NULL)) != CLI_OK)
		return r;
	return req_set(run, "id", json_integer(id));
}

int print_batch(struct run *run, json_t *resp)
{
	json_int_t n = json_integer_value(json_object_get(resp, "cancelled"));
	json_t *batch = json_object_get(resp, "batch");
	int r;

	if (run->wait_job && json_is_object(batch))
		return wait_for_batch(run, json_integer_value(
					      json_object_get(batch, "id")));
	r = show_batch(run, resp, false);

	if (r == CLI_OK && !run->json && json_object_get(resp, "cancelled"))
		printf("cancelled %" JSON_INTEGER_FORMAT " queued job%s\n", n,
		       n == 1 ? "" : "s");
	return r;
}

int build_batches(struct run *run, int argc, char **argv)
{
	uint32_t limit = 0;
	int r;

	if ((r = args_opts(run, argc, argv, 0, NULL, &limit)) != CLI_OK ||
	    (r = args_operands(run, argc, 0, 0, "takes no arguments")) !=
		    CLI_OK ||
	    (r = req_start(run, NULL)) != CLI_OK)
		return r;
	return req_limit(run, limit);
}

enum { B_ID, B_KIND, B_SEL, B_TOTAL, B_DONE, B_FAILED, B_OPEN, B_CREATED,
       B_NCOLS };

static void batch_row(json_t *b, struct cells *c)
{
	json_t *counts = json_object_get(b, "counts");
	json_int_t bad = 0;

	table_cell_int(c, B_ID, json_integer_value(json_object_get(b, "id")));
	c->cell[B_KIND] = resp_str(b, "kind", "?");
	c->cell[B_SEL] = resp_str(b, "selector", "-");
	table_cell_int(c, B_TOTAL,
		       json_integer_value(json_object_get(b, "total")));
	table_cell_int(c, B_DONE,
		       json_integer_value(json_object_get(counts, "done")));
	for (size_t i = 1; i < CLI_NELEMS(batch_states); i++)
		if (strcmp(batch_states[i], "queued") &&
		    strcmp(batch_states[i], "running"))
			bad += json_integer_value(json_object_get(counts,
							batch_states[i]));
	table_cell_int(c, B_FAILED, bad);
	table_cell_int(c, B_OPEN,
		       json_integer_value(json_object_get(counts, "queued")) +
		       json_integer_value(json_object_get(counts, "running")));
	c->cell[B_CREATED] = resp_str(b, "created", "-");
}

int print_batches(struct run *run, json_t *resp)
{
	struct table t = {
		{ "ID", "KIND", "SELECTION", "JOBS", "DONE", "NOT DONE",
		  "OPEN", "CREATED" },
		B_NCOLS, batch_row, { 0 },
	};

	return resp_print_list(run, resp, "batches", &t);
}
