/* jobs.c - deferred jobs: an operator's request is a row in the registry
 * first, and runs on the device when it is connected, one job at a time
 * per device, oldest first. The outcome is stored with the job.
 *
 * Configuration changes are applied as safely as the device allows
 * (chosen from its hello):
 *   candidate + confirmed-commit: lock candidate, edit candidate, commit
 *       with confirm-timeout, [soak --confirm-after], confirm, unlock.
 *       If the hub or the network fails before the confirm, the device
 *       rolls back by itself when the confirm-timeout expires.
 *   candidate: lock, edit, commit, unlock.
 *   writable-running: lock running, edit running (rollback-on-error when
 *       offered), unlock.
 * The method used is recorded with the job. A job whose device goes away
 * mid-way is in doubt unless it is read-only (then it is queued again);
 * one that was running when the hub died is found in doubt at the next
 * start (ch_store_jobs_recover) and re-run only if the operator says so.
 */
#include "hub/jobs.h"

#include "hub/archive.h"
#include "hub/hub.h"
#include "hub/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/nc/msg.h"

#define CAP "urn:ietf:params:netconf:capability:"

enum step {
	ST_SINGLE,		/* rpc, get-config: one exchange */
	ST_LOCK,
	ST_EDIT,
	ST_COMMIT,		/* plain or confirmed */
	ST_SOAK,		/* waiting before the confirming commit */
	ST_CONFIRM,
	ST_COPY_STARTUP,	/* running -> startup, the change made */
	ST_UNLOCK,
	ST_CLEANUP_DISCARD,	/* after a failure: drop candidate changes */
	ST_CLEANUP_UNLOCK,
};

enum method {
	M_RPC,
	M_CONFIRMED,		/* candidate + confirmed-commit */
	M_CANDIDATE,
	M_RUNNING,
};

static const char *method_names[] = {
	[M_RPC] = "rpc",
	[M_CONFIRMED] = "candidate+confirmed-commit",
	[M_CANDIDATE] = "candidate+commit",
	[M_RUNNING] = "running",
};

struct job_run {
	struct hub *hub;
	struct device *d;	/* NULL once the device is gone */
	struct ch_job_rec rec;
	enum method method;
	enum step step;
	int rollback_on_error;
	int copy_startup;	/* copy running to startup once changed */
	char *reply;		/* the reply that decides the outcome */
	size_t reply_len;
	int rpc_error;
	char error[512];	/* set when the job fails */
	uv_timer_t soak;
	int soak_init;
	struct job_run *next;	/* hub->runs */
};

struct job_waiter {
	int64_t id;
	struct hub_ctl_req *req;
	struct job_waiter *next;
};

/* A batch's rate: the next start it allows here, in microseconds of the
 * monotonic clock (slot_before: the workers share its slots). */
struct batch_pace {
	int64_t id;
	uint64_t gap_us;	/* 1,000,000 / rate: several may fall in
				 * one of the loop's milliseconds */
	uint64_t next_us;
	struct batch_pace *next;
};

/* A device whose next job is its batch's, and waits for the slot it
 * was given. */
struct paced_dev {
	char fp[CH_FP_LEN];
	uint64_t at_us;
	struct paced_dev *next;
};

struct batch_waiter {
	int64_t id;
	struct hub_ctl_req *req;
	struct batch_waiter *next;
};

static void batch_check(struct hub *hub, int64_t id);

static void iso(char *buf, size_t len, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

json_t *jobs_time_json(int64_t t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	iso(buf, sizeof(buf), t);
	return json_string(buf);
}

json_t *jobs_json(struct hub *hub, const struct ch_job_rec *rec, int full)
{
	struct ch_device_rec dev;
	json_t *j;

	memset(&dev, 0, sizeof(dev));
	ch_store_device_get(hub->store, rec->fingerprint, &dev);
	/* absent is null, never "" (docs/control-api.md, "--json") */
	j = json_pack("{s:I, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:s?, "
		      "s:b, s:s?}",
		      "id", (json_int_t)rec->id,
		      "device", rec->fingerprint,
		      "name", dev.name[0] ? json_string(dev.name) : json_null(),
		      "kind", rec->kind,
		      "state", ch_job_state_name(rec->state),
		      "created", jobs_time_json(rec->created),
		      "expires", jobs_time_json(rec->expires),
		      "started", jobs_time_json(rec->started),
		      "finished", jobs_time_json(rec->finished),
		      "method", rec->method[0] ? rec->method : NULL,
		      "rpc_error", rec->rpc_error,
		      "error", rec->error[0] ? rec->error : NULL);
	if (j && full) {
		json_object_set_new(j, "payload", rec->payload ?
				    json_string(rec->payload) : json_null());
		json_object_set_new(j, "result", rec->result ?
				    json_string(rec->result) : json_null());
	}
	return j;
}

json_t *jobs_response(struct hub *hub, const struct ch_job_rec *rec)
{
	json_t *resp = json_pack("{s:b, s:o}", "ok", 1, "job",
				 jobs_json(hub, rec, 0));

	if (rec->state == CH_JOB_DONE || rec->state == CH_JOB_FAILED) {
		json_object_set_new(resp, "reply", rec->result ?
				    json_string(rec->result) : json_null());
		json_object_set_new(resp, "rpc_error",
				    json_boolean(rec->rpc_error));
	}
	return resp;
}

static int finished_state(int state)
{
	return state != CH_JOB_QUEUED && state != CH_JOB_RUNNING;
}

/* 1 when an operator here waits for job id, or for a batch. */
static int anyone_waits(struct hub *hub, int64_t id)
{
	for (struct job_waiter *w = hub->waiters; w; w = w->next)
		if (w->id == id)
			return 1;
	return hub->batch_waiters != NULL;
}

void jobs_notify(struct hub *hub, int64_t id)
{
	jobs_notify_here(hub, id);
	worker_job(hub, id);	/* the other workers' operators */
}

/* Answers every operator waiting for job id, from the registry. */
void jobs_notify_here(struct hub *hub, int64_t id)
{
	struct job_waiter **pp = &hub->waiters, *w;
	struct ch_job_rec rec;
	int have;

	if (!anyone_waits(hub, id))
		return;
	memset(&rec, 0, sizeof(rec));
	have = ch_store_job_get(hub->store, id, &rec) == CH_OK;
	if (have && rec.batch && finished_state(rec.state))
		batch_check(hub, rec.batch);
	while ((w = *pp) != NULL) {
		if (w->id != id) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (!have)
			hub_ctl_fail(w->req, "internal", "job vanished from "
				     "the registry");
		else if (!finished_state(rec.state))
			hub_ctl_respond(w->req, jobs_response(hub, &rec));
		else
			hub_ctl_respond(w->req, jobs_response(hub, &rec));
		free(w);
	}
	ch_job_rec_cleanup(&rec);
}

void jobs_wait(struct hub *hub, int64_t id, struct hub_ctl_req *req)
{
	struct ch_job_rec rec;
	struct job_waiter *w;

	memset(&rec, 0, sizeof(rec));
	if (ch_store_job_get(hub->store, id, &rec) != CH_OK) {
		hub_ctl_fail(req, "not-found", "no such job");
		return;
	}
	if (finished_state(rec.state)) {
		hub_ctl_respond(req, jobs_response(hub, &rec));
		ch_job_rec_cleanup(&rec);
		return;
	}
	ch_job_rec_cleanup(&rec);
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	w->id = id;
	w->req = req;
	w->next = hub->waiters;
	hub->waiters = w;
}

static void run_free(struct job_run *run)
{
	ch_job_rec_cleanup(&run->rec);
	free(run->reply);
	free(run);
}

static void on_soak_closed(uv_handle_t *h)
{
	run_free(h->data);
}

static struct job_run *run_of(struct hub *hub, const struct device *d)
{
	for (struct job_run *r = hub->runs; r; r = r->next)
		if (r->d == d)
			return r;
	return NULL;
}

static void run_unlink(struct job_run *run)
{
	for (struct job_run **pp = &run->hub->runs; *pp; pp = &(*pp)->next)
		if (*pp == run) {
			*pp = run->next;
			return;
		}
}

int jobs_running_on(struct hub *hub, const struct device *d)
{
	return run_of(hub, d) != NULL;
}

/* A read-only job cut off by the device's end runs again at its next
 * call - unless the device was revoked meanwhile (the rpc fails after the
 * revoke cancelled what was queued): then it is cancelled too. */
static void requeue_or_cancel(struct hub *hub, struct job_run *run)
{
	struct ch_device_rec dev;
	char detail[128];
	int64_t id = run->rec.id;

	memset(&dev, 0, sizeof(dev));
	if (ch_store_job_requeue(hub->store, id) != CH_OK ||
	    ch_store_device_get(hub->store, run->rec.fingerprint, &dev)
	    != CH_OK || dev.admission != CH_ADMIT_REVOKED ||
	    ch_store_job_cancel(hub->store, id, hub_now_s()) != CH_OK)
		return;
	snprintf(detail, sizeof(detail), "job %lld cancelled: device revoked",
		 (long long)id);
	ch_store_event_add(hub->store, run->rec.fingerprint, "job-cancelled",
			   detail, hub_now_s());
}

/* Records the outcome, frees the run, and starts the device's next job. */
static void run_end(struct job_run *run, int state)
{
	struct hub *hub = run->hub;
	struct device *d = run->d;
	int64_t id = run->rec.id;
	char detail[CH_STORE_TEXT_MAX];
	const char *kind;

	char method[64];

	/* "+startup": the change was copied to startup too */
	snprintf(method, sizeof(method), "%s%s", method_names[run->method],
		 run->copy_startup && run->step > ST_COPY_STARTUP &&
		 state == CH_JOB_DONE ? "+startup" : "");
	ch_store_job_finish(hub->store, id, state == CH_JOB_IN_DOUBT ?
			    CH_JOB_IN_DOUBT : state, run->reply,
			    run->rpc_error, method,
			    run->error[0] ? run->error : NULL, hub_now_s());
	kind = state == CH_JOB_DONE ? "job-done" :
	       state == CH_JOB_IN_DOUBT ? "job-in-doubt" : "job-failed";
	snprintf(detail, sizeof(detail), "job %lld %s via %s%s%s",
		 (long long)id, run->rec.kind, method,
		 run->error[0] ? ": " : "", run->error);
	ch_store_event_add(hub->store, run->rec.fingerprint, kind, detail,
			   hub_now_s());
	ch_log(state == CH_JOB_DONE ? CH_LOG_INFO : CH_LOG_WARN,
	       "device=%s job=%lld %s: %s%s%s", run->rec.fingerprint,
	       (long long)id, run->rec.kind, ch_job_state_name(state),
	       run->error[0] ? ": " : "", run->error);
	if (state == CH_JOB_IN_DOUBT && run->rec.read_only)
		requeue_or_cancel(hub, run);	/* harmless to redo */
	/* a change of ours: the archive fetches the result (the device's
	 * netconf-config-change of it, from our session, does not) */
	if (state == CH_JOB_DONE && d && !run->rpc_error &&
	    !run->rec.read_only && strcmp(run->rec.kind, "get-config") != 0) {
		snprintf(detail, sizeof(detail), "job %lld", (long long)id);
		archive_changed(hub, d, detail);
	}
	run_unlink(run);
	jobs_notify(hub, id);
	if (run->soak_init)
		uv_close((uv_handle_t *)&run->soak, on_soak_closed);
	else
		run_free(run);
	if (d && !hub->stopping)
		jobs_kick(hub, device_key(d));
}

static void step_send(struct job_run *run);

static void fail_at(struct job_run *run, const char *what,
		    const char *detail)
{
	snprintf(run->error, sizeof(run->error), "%s%s%s", what,
		 detail && *detail ? ": " : "", detail ? detail : "");
}

static void on_soak(uv_timer_t *t)
{
	struct job_run *run = t->data;

	run->step = ST_CONFIRM;
	step_send(run);
}

void jobs_device_gone(struct hub *hub, struct device *d)
{
	struct job_run *run = run_of(hub, d);

	/* with an rpc out, its done() ends the run; only the soak waits
	 * with none */
	if (run == NULL || run->step != ST_SOAK)
		return;
	uv_timer_stop(&run->soak);
	run->d = NULL;
	fail_at(run, "device went away before the change was confirmed; it "
		"rolls back by itself when the confirm-timeout expires",
		device_close_reason(d));
	run_end(run, CH_JOB_IN_DOUBT);
}

static void keep_reply(struct job_run *run, const char *reply, size_t len)
{
	free(run->reply);
	run->reply = strndup(reply, len);
	run->reply_len = len;
}

/* After a failed step of a change: undo what can be undone. */
static void cleanup_or_end(struct job_run *run)
{
	if (run->method == M_CONFIRMED || run->method == M_CANDIDATE) {
		if (run->step >= ST_EDIT && run->step <= ST_COMMIT) {
			run->step = ST_CLEANUP_DISCARD;
			step_send(run);
			return;
		}
		if (run->step > ST_LOCK && run->step < ST_CLEANUP_DISCARD) {
			run->step = ST_CLEANUP_UNLOCK;
			step_send(run);
			return;
		}
	} else if (run->method == M_RUNNING && (run->step == ST_EDIT ||
		   run->step == ST_COPY_STARTUP)) {
		run->step = ST_CLEANUP_UNLOCK;
		step_send(run);
		return;
	}
	run_end(run, CH_JOB_FAILED);
}

static void on_reply(void *ctx, int r, const char *reply, size_t len,
		     const char *error)
{
	struct job_run *run = ctx;
	struct ch_reply rep;
	char what[64];

	if (r != CH_OK) {
		/* The device went away with this step outstanding. */
		run->d = NULL;
		if (run->step == ST_SINGLE) {
			fail_at(run, "device went away before replying",
				error);
			run_end(run, run->rec.read_only ? CH_JOB_IN_DOUBT
							: CH_JOB_IN_DOUBT);
		} else if (run->step == ST_COPY_STARTUP) {
			fail_at(run, "device went away while copying running "
				"to startup: running has the change, startup "
				"may not (it would be lost at the device's "
				"next restart)", error);
			run_end(run, CH_JOB_IN_DOUBT);
		} else if (run->step >= ST_CONFIRM ||
			   run->step == ST_SOAK) {
			fail_at(run, "device went away before the change was "
				"confirmed; it rolls back by itself when the "
				"confirm-timeout expires", error);
			run_end(run, CH_JOB_IN_DOUBT);
		} else {
			fail_at(run, "device went away during the change",
				error);
			run_end(run, CH_JOB_IN_DOUBT);
		}
		return;
	}
	device_touch(run->d);
	memset(&rep, 0, sizeof(rep));
	ch_reply_parse(reply, len, &rep);
	if (run->step == ST_CLEANUP_DISCARD || run->step == ST_CLEANUP_UNLOCK) {
		ch_reply_cleanup(&rep);
		if (run->step == ST_CLEANUP_DISCARD) {
			run->step = ST_CLEANUP_UNLOCK;
			step_send(run);
		} else {
			run_end(run, CH_JOB_FAILED);
		}
		return;
	}
	if (run->step == ST_SINGLE || run->step == ST_EDIT ||
	    rep.has_error)
		keep_reply(run, reply, len);
	if (rep.has_error) {
		static const char *names[] = {
			[ST_LOCK] = "lock", [ST_EDIT] = "edit-config",
			[ST_COMMIT] = "commit", [ST_CONFIRM] = "confirming commit",
			[ST_COPY_STARTUP] = "copy-config of running to "
					    "startup",
			[ST_UNLOCK] = "unlock",
		};
		run->rpc_error = 1;
		if (run->step == ST_SINGLE) {	/* the device's own answer */
			ch_reply_cleanup(&rep);
			run_end(run, CH_JOB_DONE);
			return;
		}
		snprintf(what, sizeof(what), "%s refused (%s)",
			 names[run->step] ? names[run->step] : "step",
			 rep.error_tag ? rep.error_tag : "rpc-error");
		fail_at(run, what, rep.error_message);
		if (run->step == ST_COPY_STARTUP)
			snprintf(run->error + strlen(run->error),
				 sizeof(run->error) - strlen(run->error),
				 "; running has the change, startup does "
				 "not: it is lost at the device's next "
				 "restart unless copied (copy-config)");
		ch_reply_cleanup(&rep);
		cleanup_or_end(run);
		return;
	}
	ch_reply_cleanup(&rep);
	switch (run->step) {
	case ST_SINGLE:
		run_end(run, CH_JOB_DONE);
		return;
	case ST_LOCK:
		run->step = ST_EDIT;
		break;
	case ST_EDIT:
		run->step = run->method != M_RUNNING ? ST_COMMIT :
			    run->copy_startup ? ST_COPY_STARTUP : ST_UNLOCK;
		break;
	case ST_COMMIT:
		if (run->method == M_CONFIRMED) {
			run->step = ST_SOAK;
			ch_info("device=%s job=%lld: confirmed commit accepted; "
				"confirming in %u s", run->rec.fingerprint,
				(long long)run->rec.id,
				run->hub->cfg.confirm_after_s);
			uv_timer_init(run->hub->loop, &run->soak);
			run->soak.data = run;
			run->soak_init = 1;
			uv_timer_start(&run->soak, on_soak,
				       1000ull * run->hub->cfg.confirm_after_s,
				       0);
			return;
		}
		run->step = run->copy_startup ? ST_COPY_STARTUP : ST_UNLOCK;
		break;
	case ST_CONFIRM:
		run->step = run->copy_startup ? ST_COPY_STARTUP : ST_UNLOCK;
		break;
	case ST_COPY_STARTUP:
		run->step = ST_UNLOCK;
		break;
	case ST_UNLOCK:
		run_end(run, CH_JOB_DONE);
		return;
	default:
		break;
	}
	step_send(run);
}

static void step_send(struct job_run *run)
{
	const char *target = run->method == M_RUNNING ? "running"
						      : "candidate";
	struct ch_buf op;
	const char *why = NULL;
	int r;

	if (run->d == NULL) {
		fail_at(run, "device went away", NULL);
		run_end(run, CH_JOB_IN_DOUBT);
		return;
	}
	ch_buf_init(&op, CH_JOB_RPC_MAX);
	switch (run->step) {
	case ST_SINGLE:
		r = ch_buf_puts(&op, run->rec.payload);
		break;
	case ST_LOCK:
		r = ch_buf_printf(&op, "<lock><target><%s/></target></lock>",
				  target);
		break;
	case ST_EDIT:
		r = ch_buf_printf(&op, "<edit-config><target><%s/></target>%s"
				  "<config>", target, run->rollback_on_error ?
				  "<error-option>rollback-on-error"
				  "</error-option>" : "");
		if (r == CH_OK)
			r = ch_buf_puts(&op, run->rec.payload);
		if (r == CH_OK)
			r = ch_buf_puts(&op, "</config></edit-config>");
		break;
	case ST_COMMIT:
		r = run->method == M_CONFIRMED
			? ch_buf_printf(&op, "<commit><confirmed/>"
					"<confirm-timeout>%u</confirm-timeout>"
					"</commit>",
					run->hub->cfg.confirm_timeout_s)
			: ch_buf_puts(&op, "<commit/>");
		break;
	case ST_CONFIRM:
		r = ch_buf_puts(&op, "<commit/>");
		break;
	case ST_COPY_STARTUP:
		r = ch_buf_puts(&op, "<copy-config><target><startup/></target>"
				"<source><running/></source></copy-config>");
		break;
	case ST_UNLOCK:
	case ST_CLEANUP_UNLOCK:
		r = ch_buf_printf(&op, "<unlock><target><%s/></target>"
				  "</unlock>", target);
		break;
	case ST_CLEANUP_DISCARD:
		r = ch_buf_puts(&op, "<discard-changes/>");
		break;
	default:
		r = CH_ERR_INVAL;
		break;
	}
	if (r == CH_OK)
		r = device_rpc(run->d, ch_buf_ptr(&op), on_reply, run, &why);
	ch_buf_cleanup(&op);
	if (r != CH_OK) {
		fail_at(run, "cannot send to the device",
			why ? why : ch_strerror(r));
		run_end(run, r == CH_ERR_PROTO ? CH_JOB_FAILED
					       : CH_JOB_IN_DOUBT);
	}
}

/* Picks how to apply a change on this device. -1: it offers no way. */
static int choose_method(struct device *d, int *rollback)
{
	*rollback = 0;
	if (device_has_cap(d, CAP "candidate:1.0")) {
		if (device_has_cap(d, CAP "confirmed-commit:1.1") ||
		    device_has_cap(d, CAP "confirmed-commit:1.0"))
			return M_CONFIRMED;
		return M_CANDIDATE;
	}
	if (device_has_cap(d, CAP "writable-running:1.0")) {
		*rollback = device_has_cap(d, CAP "rollback-on-error:1.0");
		return M_RUNNING;
	}
	return -1;
}

/* ---- expiry: a queued job expires on time, device or not ---- */

struct due {
	int64_t id[CH_JOB_EXPIRE_BATCH];
	char fp[CH_JOB_EXPIRE_BATCH][128];
	size_t n;
};

static int due_cb(void *ctx, const struct ch_job_rec *rec)
{
	struct due *due = ctx;

	due->id[due->n] = rec->id;
	snprintf(due->fp[due->n], sizeof(due->fp[0]), "%s", rec->fingerprint);
	due->n++;
	return 0;
}

static void on_expiry(uv_timer_t *t);

/* Expires what is due at now and sets the timer to the next expiry. */
static void expire_due(struct hub *hub, int64_t now)
{
	struct due *due;
	int64_t next = 0;
	size_t moved;
	char msg[96];

	if (!hub->job_expiry_on || hub->stopping)
		return;
	if ((due = calloc(1, sizeof(*due))) == NULL)
		return;
	do {
		due->n = moved = 0;
		if (ch_store_job_foreach_due(hub->store, now,
					     CH_JOB_EXPIRE_BATCH, due_cb, due)
		    != CH_OK)
			break;
		for (size_t i = 0; i < due->n; i++) {
			if (ch_store_job_expire(hub->store, due->id[i], now)
			    != CH_OK)
				continue;	/* it started or was cancelled */
			moved++;
			snprintf(msg, sizeof(msg), "job %lld expired before "
				 "the device called", (long long)due->id[i]);
			hub_event(hub, due->fp[i], "job-expired", msg);
			ch_info("device=%s %s", due->fp[i], msg);
			jobs_notify(hub, due->id[i]);
		}
	} while (due->n == CH_JOB_EXPIRE_BATCH && moved > 0);
	free(due);
	uv_timer_stop(&hub->job_expiry);
	if (ch_store_job_next_expiry(hub->store, &next) != CH_OK || next == 0)
		return;
	/* whole seconds: at most a second late, never a busy loop */
	uv_timer_start(&hub->job_expiry, on_expiry,
		       next > now ? 1000ull * (uint64_t)(next - now) : 0, 0);
}

static void on_expiry(uv_timer_t *t)
{
	expire_due(t->data, hub_now_s());
}

void jobs_start(struct hub *hub)
{
	uv_timer_init(hub->loop, &hub->job_expiry);
	hub->job_expiry.data = hub;
	uv_timer_init(hub->loop, &hub->pace_timer);
	hub->pace_timer.data = hub;
	hub->job_expiry_on = 1;
	expire_due(hub, hub_now_s());
}

/* ---- a batch's rate ----
 *
 * A batch starts at most rate jobs per second across its devices: each
 * start takes the batch's next slot; a device whose slot is later waits
 * in hub->paced, and the pace timer starts it then. Only starts are
 * paced; a device's jobs still run one at a time, in order. */

static struct batch_pace *pace_of(struct hub *hub, int64_t id)
{
	struct ch_batch_rec b;
	struct batch_pace *p;

	for (p = hub->paces; p; p = p->next)
		if (p->id == id)
			return p;
	/* after a restart: the rate the batch was made with */
	if (ch_store_batch_get(hub->store, id, &b) != CH_OK || b.rate <= 0)
		return NULL;
	jobs_batch_pace(hub, id, b.rate);
	return hub->paces && hub->paces->id == id ? hub->paces : NULL;
}

void jobs_batch_pace(struct hub *hub, int64_t id, int rate)
{
	struct batch_pace *p;

	for (p = hub->paces; p; p = p->next)
		if (p->id == id)
			return;
	if (rate <= 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->id = id;
	p->gap_us = 1000000u / (unsigned)rate;
	p->next = hub->paces;
	hub->paces = p;
}

static struct paced_dev **paced_find(struct hub *hub, const char *fp)
{
	struct paced_dev **pp;

	for (pp = &hub->paced; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->fp, fp) == 0)
			return pp;
	return NULL;
}

static void on_pace(uv_timer_t *t);

/* The monotonic clock, shared by the hub's workers, in microseconds. */
static uint64_t now_us(void)
{
	return uv_hrtime() / 1000;
}

static void pace_arm(struct hub *hub)
{
	uint64_t now = now_us(), first = UINT64_MAX;

	for (struct paced_dev *p = hub->paced; p; p = p->next)
		if (p->at_us < first)
			first = p->at_us;
	uv_timer_stop(&hub->pace_timer);
	if (first != UINT64_MAX)
		uv_timer_start(&hub->pace_timer, on_pace,
			       first > now ? (first - now + 999) / 1000 : 0, 0);
}

/* The batch's start slots are the multiples of its gap on the monotonic
 * clock; of N workers, worker k takes those whose index is k modulo N,
 * so that together they start at most rate a second with no word
 * between them. The latest slot of ours at or before t. */
static uint64_t slot_before(struct hub *hub, const struct batch_pace *p,
			    uint64_t t)
{
	uint64_t n = hub->nworkers > 1 ? (uint64_t)hub->nworkers : 1;
	uint64_t k = hub->nworkers > 1 ? (uint64_t)hub->worker : 0;
	uint64_t i = t / p->gap_us, r = i % n;	/* the latest slot's index */

	if (r >= k)
		i -= r - k;
	else if (i >= r + n - k)
		i -= r + n - k;
	else
		i = 0;		/* none of ours yet (the clock's first slots) */
	return i * p->gap_us;
}

/* 1: the device fp may start its job of batch id now; 0: it waits for
 * the slot it was given. */
static int pace_ok(struct hub *hub, const char *fp, int64_t id)
{
	struct batch_pace *p = pace_of(hub, id);
	uint64_t now = now_us(), step, last;
	struct paced_dev *w;

	if (p == NULL || hub->stopping)
		return 1;
	step = p->gap_us * (hub->nworkers > 1 ? (uint64_t)hub->nworkers : 1);
	/* a start at one of our slots, never late within another's window:
	 * now if our latest slot is this millisecond's and unused, else at
	 * our next free one (a slot passed unused is lost, not saved up for
	 * a burst) */
	last = slot_before(hub, p, now);
	if (last >= p->next_us && now - last < 1000) {
		p->next_us = last + step;
		return 1;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return 1;	/* unpaced rather than never */
	snprintf(w->fp, sizeof(w->fp), "%s", fp);
	w->at_us = p->next_us > last + step ? p->next_us : last + step;
	p->next_us = w->at_us + step;
	w->next = hub->paced;
	hub->paced = w;
	/* a batch's slots come later and later: a rescan of every waiting
	 * device per new one would be quadratic in the batch's size */
	if (!uv_is_active((uv_handle_t *)&hub->pace_timer) ||
	    now + uv_timer_get_due_in(&hub->pace_timer) * 1000 > w->at_us)
		pace_arm(hub);
	return 0;
}

static void kick(struct hub *hub, const char *fp, int slot_taken);

/* fp's queue is looked at again in CH_HUB_JOB_RETRY_MS (by the pace
 * timer, which holds the devices waiting for a time). */
static void retry_later(struct hub *hub, const char *fp)
{
	struct paced_dev *w;

	if (hub->stopping || paced_find(hub, fp) ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return;
	snprintf(w->fp, sizeof(w->fp), "%s", fp);
	w->at_us = now_us() + CH_HUB_JOB_RETRY_MS * 1000ull;
	w->next = hub->paced;
	hub->paced = w;
	pace_arm(hub);
}

static void on_pace(uv_timer_t *t)
{
	struct hub *hub = t->data;
	uint64_t now = now_us();
	struct paced_dev **pp = &hub->paced, *w, *due = NULL;

	while ((w = *pp) != NULL) {
		if (w->at_us <= now) {
			*pp = w->next;
			w->next = due;
			due = w;
		} else {
			pp = &w->next;
		}
	}
	while ((w = due) != NULL) {
		due = w->next;
		kick(hub, w->fp, 1);
		free(w);
	}
	pace_arm(hub);
}

json_t *jobs_batch_json(const struct ch_batch_rec *rec)
{
	json_t *counts = json_object();

	for (int st = 0; st <= CH_JOB_EXPIRED; st++)
		json_object_set_new(counts, ch_job_state_name(st),
				    json_integer(rec->count[st]));
	return json_pack("{s:I, s:o, s:s, s:s?, s:i, s:s?, s:i, s:o}",
			 "id", (json_int_t)rec->id,
			 "created", jobs_time_json(rec->created),
			 "kind", rec->kind,
			 "selector", rec->selector[0] ? rec->selector : NULL,
			 "rate", rec->rate,
			 "actor", rec->actor[0] ? rec->actor : NULL,
			 "total", rec->total, "counts", counts);
}

struct batch_walk {
	struct hub *hub;
	json_t *arr;
};

static int batch_job_cb(void *ctx, const struct ch_job_rec *rec)
{
	struct batch_walk *w = ctx;

	json_array_append_new(w->arr, jobs_json(w->hub, rec, 0));
	return 0;
}

json_t *jobs_batch_response(struct hub *hub, int64_t id)
{
	struct ch_batch_rec b;
	struct batch_walk w = { hub, NULL };

	if (ch_store_batch_get(hub->store, id, &b) != CH_OK)
		return NULL;
	w.arr = json_array();
	ch_store_batch_jobs(hub->store, id, 0, batch_job_cb, &w);
	return json_pack("{s:b, s:o, s:o}", "ok", 1, "batch",
			 jobs_batch_json(&b), "jobs", w.arr);
}

static int batch_open(const struct ch_batch_rec *b)
{
	return b->count[CH_JOB_QUEUED] + b->count[CH_JOB_RUNNING] > 0;
}

/* Answers whoever waits for batch id if none of its jobs is left. */
static void batch_check(struct hub *hub, int64_t id)
{
	struct batch_waiter **pp = &hub->batch_waiters, *w;
	int have = -1, open = 0;

	while ((w = *pp) != NULL) {
		if (w->id != id) {
			pp = &w->next;
			continue;
		}
		if (have < 0)
			have = ch_store_batch_open(hub->store, id, &open) ==
			       CH_OK;
		if (have && open)
			return;
		*pp = w->next;
		if (have)
			hub_ctl_respond(w->req, jobs_batch_response(hub, id));
		else
			hub_ctl_fail(w->req, "internal", "batch vanished from "
				     "the registry");
		free(w);
	}
}

void jobs_batch_wait(struct hub *hub, int64_t id, struct hub_ctl_req *req)
{
	struct ch_batch_rec b;
	struct batch_waiter *w;

	if (ch_store_batch_get(hub->store, id, &b) != CH_OK) {
		hub_ctl_fail(req, "not-found", "no such batch");
		return;
	}
	if (!batch_open(&b)) {
		hub_ctl_respond(req, jobs_batch_response(hub, id));
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		hub_ctl_fail(req, "internal", "out of memory");
		return;
	}
	w->id = id;
	w->req = req;
	w->next = hub->batch_waiters;
	hub->batch_waiters = w;
}

void jobs_kick(struct hub *hub, const char *fp)
{
	if (hub_find_device(hub, fp) == NULL)
		worker_kick(hub, fp);	/* it may be on another worker */
	kick(hub, fp, 0);
}

void jobs_kick_here(struct hub *hub, const char *fp)
{
	kick(hub, fp, 0);
}

/* slot_taken: the device's batch slot has come (on_pace) */
static void kick(struct hub *hub, const char *fp, int slot_taken)
{
	struct device *d = hub_find_device(hub, fp);
	struct job_run *run;
	int64_t now = hub_now_s();
	int m, rollback;

	/* with events, before ch_store_job_next (same now: it finds none to
	 * expire silently); and the timer follows the queue */
	expire_due(hub, now);
	if (d == NULL || run_of(hub, d) != NULL || hub->stopping)
		return;
	/* waiting for its slot already: that comes first */
	if (!slot_taken && paced_find(hub, device_key(d)))
		return;
	if ((run = calloc(1, sizeof(*run))) == NULL)
		return;
	run->hub = hub;
	run->d = d;
	if (ch_store_job_next(hub->store, device_key(d), now,
			      &run->rec) != CH_OK) {
		ch_job_rec_cleanup(&run->rec);
		free(run);
		device_touch(d);	/* nothing to do: idle from now */
		return;
	}
	if (run->rec.batch && !slot_taken &&
	    !pace_ok(hub, device_key(d), run->rec.batch)) {
		ch_job_rec_cleanup(&run->rec);
		free(run);
		return;
	}
	if (ch_store_job_start(hub->store, run->rec.id, hub_now_s()) != CH_OK) {
		/* cancelled or expired meanwhile, or another of the device's
		 * jobs runs on the session another worker is replacing: look
		 * again in a moment */
		ch_job_rec_cleanup(&run->rec);
		free(run);
		retry_later(hub, device_key(d));
		return;
	}
	run->next = hub->runs;
	hub->runs = run;
	ch_info("device=%s job=%lld %s: started", fp,
		(long long)run->rec.id, run->rec.kind);
	{
		char detail[96];

		snprintf(detail, sizeof(detail), "job %lld %s",
			 (long long)run->rec.id, run->rec.kind);
		ch_store_event_add(hub->store, fp, "job-started", detail,
				   hub_now_s());
	}
	if (strcmp(run->rec.kind, "edit-config") != 0) {
		run->method = M_RPC;
		run->step = ST_SINGLE;
	} else if ((m = choose_method(d, &rollback)) < 0) {
		run->method = M_RPC;
		fail_at(run, "the device offers no writable datastore "
			"(neither :candidate nor :writable-running)", NULL);
		run_end(run, CH_JOB_FAILED);
		return;
	} else {
		run->method = (enum method)m;
		run->rollback_on_error = rollback;
		/* as NETCONF managers do: a change the device would lose at
		 * its next restart is not done */
		run->copy_startup = !run->rec.no_startup &&
				    device_has_cap(d, CAP "startup:1.0");
		run->step = ST_LOCK;
	}
	step_send(run);
}

void jobs_stop(struct hub *hub)
{
	struct job_waiter *w;

	if (hub->job_expiry_on) {
		hub->job_expiry_on = 0;
		uv_close((uv_handle_t *)&hub->job_expiry, NULL);
		uv_close((uv_handle_t *)&hub->pace_timer, NULL);
	}
	while (hub->paced) {
		struct paced_dev *p = hub->paced;

		hub->paced = p->next;
		free(p);
	}
	while (hub->paces) {
		struct batch_pace *p = hub->paces;

		hub->paces = p->next;
		free(p);
	}
	while (hub->batch_waiters) {
		struct batch_waiter *b = hub->batch_waiters;

		hub->batch_waiters = b->next;
		hub_ctl_fail(b->req, "hub-stopping", "the hub is shutting "
			     "down; see the batch with `callhome batch ID` "
			     "after it restarts");
		free(b);
	}

	while ((w = hub->waiters) != NULL) {
		hub->waiters = w->next;
		hub_ctl_fail(w->req, "hub-stopping", "the hub is shutting down; "
			     "see the job's outcome with `callhome job ID` "
			     "after it restarts");
		free(w);
	}
}
