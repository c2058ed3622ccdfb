/* jobs.c - the registry's jobs table: operators' requests kept until the
 * device calls, their transitions and recovery at start. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"

#include <stdlib.h>
#include <string.h>


const char *const reg_sql_jobs[S_COUNT] = {
	/* No row when the device is unknown. */
	[S_JOB_ADD] = "INSERT INTO jobs (device, kind, payload, read_only,"
		      " state, created, expires, startup, batch)"
		      " SELECT fingerprint, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8"
		      " FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	[S_JOB_EXPIRE] = "UPDATE jobs SET state = 6, finished = ?2"
			 " WHERE device = " KEY_OF("?1") " AND state = 0"
			 " AND expires > 0 AND expires <= ?2",
	[S_JOB_NEXT] = "SELECT " JOB_COLS " FROM jobs"
		       " WHERE device = " KEY_OF("?1") " AND state = 0"
		       " ORDER BY id LIMIT 1",
	/* whether job_next has anything to do: a read of the index
	 * jobs_device_state_id, no write transaction */
	[S_JOB_ANY] = "SELECT 1 FROM jobs"
		      " WHERE device = " KEY_OF("?1") " AND state = 0"
		      " LIMIT 1",
	/* Each transition names the state it leaves: a job another call
	 * moved first is not moved again (sqlite3_changes says 0). */
	/* One at a time per device, whichever process starts it: not while
	 * another of the device's jobs runs (two sessions of a device on two
	 * workers of the hub, for the moment one replaces the other). */
	[S_JOB_START] = "UPDATE jobs SET state = 1, started = ?2, holder = ?3"
			" WHERE id = ?1 AND state = 0"
			" AND NOT EXISTS (SELECT 1 FROM jobs r"
			" WHERE r.device = jobs.device AND r.state = 1)",
	[S_JOB_FINISH] = "UPDATE jobs SET state = ?2, finished = ?3,"
			 " result = ?4, rpc_error = ?5, method = ?6,"
			 " error = ?7 WHERE id = ?1 AND state = 1",
	[S_JOB_CANCEL] = "UPDATE jobs SET state = 5, finished = ?2"
			 " WHERE id = ?1 AND state = 0",
	/* A fresh attempt: the last one's outcome goes (its event stays). */
	[S_JOB_REQUEUE] = "UPDATE jobs SET state = 0, started = 0,"
			  " finished = 0, result = NULL, rpc_error = 0,"
			  " method = '', error = ''"
			  " WHERE id = ?1 AND state IN (3, 4)",
	[S_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
	[S_JOB_STATE] = "SELECT state FROM jobs WHERE id = ?1",
	[S_JOB_ALL] = "SELECT " JOB_COLS " FROM jobs"
		      " WHERE ?2 = 0 OR (?2 >> state) & 1"
		      " ORDER BY id DESC LIMIT ?1",
	[S_JOB_FP] = "SELECT " JOB_COLS " FROM jobs"
		     " WHERE device = " KEY_OF("?3")
		     " AND (?2 = 0 OR (?2 >> state) & 1)"
		     " ORDER BY id DESC LIMIT ?1",
	/* No row when the device is unknown. */
	[S_JOB_COUNT] = "SELECT (SELECT count(*) FROM jobs"
			" WHERE device = d.fingerprint AND state = 0)"
			" FROM devices d WHERE d.fingerprint = " KEY_OF("?1"),
	/* The nearest expiry of a queued job; NULL when none expires. */
	[S_JOB_NEXT_EXPIRY] = "SELECT min(expires) FROM jobs"
			      " WHERE state = 0 AND expires > 0",
	[S_JOB_DUE] = "SELECT " JOB_COLS " FROM jobs"
		      " WHERE state = 0 AND expires > 0 AND expires <= ?2"
		      " ORDER BY id LIMIT ?1",
	[S_JOB_SEL] = "SELECT " JOB_COLS " FROM jobs"
		      " WHERE (?2 = 0 OR (?2 >> state) & 1)"
		      " AND device IN (SELECT d.fingerprint FROM devices d"
		      " WHERE " SEL_WHERE("d") ")"
		      " ORDER BY id DESC LIMIT ?1",
	[S_JOB_EXPIRE_ID] = "UPDATE jobs SET state = 6, finished = ?2"
			    " WHERE id = ?1 AND state = 0",
	/* Recovery: the events first, while the jobs are still running. */
	[S_REC_EVENTS] = "INSERT INTO events (time, fingerprint, kind, detail)"
			 " SELECT ?1, device, CASE WHEN read_only"
			 " THEN 'job-requeued' ELSE 'job-in-doubt' END,"
			 " 'job ' || id || ' (' || kind || '): running when"
			 " the hub stopped; ' || CASE WHEN read_only"
			 " THEN 'read-only, queued again'"
			 " ELSE 'it may or may not have been applied' END"
			 " FROM jobs WHERE state = 1"
			 " AND (?2 IS NULL OR holder = ?2) ORDER BY id",
	[S_REC_DOUBT] = "UPDATE jobs SET state = 4,"
			" error = 'the hub stopped while the job was running'"
			" WHERE state = 1 AND read_only = 0"
			" AND (?2 IS NULL OR holder = ?2)",
	[S_REC_REQUEUE] = "UPDATE jobs SET state = 0, started = 0"
			  " WHERE state = 1 AND read_only <> 0"
			  " AND (?2 IS NULL OR holder = ?2)",
};

const char *ch_job_state_name(int state)
{
	switch (state) {
	case CH_JOB_QUEUED: return "queued";
	case CH_JOB_RUNNING: return "running";
	case CH_JOB_DONE: return "done";
	case CH_JOB_FAILED: return "failed";
	case CH_JOB_IN_DOUBT: return "in-doubt";
	case CH_JOB_CANCELLED: return "cancelled";
	case CH_JOB_EXPIRED: return "expired";
	}
	return "unknown";
}

void ch_job_rec_cleanup(struct ch_job_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->payload);
	free(rec->result);
	rec->payload = NULL;
	rec->result = NULL;
}

/* Copies a column into a new heap string; SQL NULL gives NULL. */
static int dup_text(sqlite3_stmt *s, int col, char **out)
{
	const unsigned char *t;

	*out = NULL;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return CH_OK;
	/* NULL here is SQLite running out of memory converting the value */
	if ((t = sqlite3_column_text(s, col)) == NULL ||
	    (*out = strdup((const char *)t)) == NULL)
		return CH_ERR_NOMEM;
	return CH_OK;
}

/* Fills rec from a JOB_COLS row. On failure rec holds no heap memory. */
static int row_to_job(sqlite3_stmt *s, struct ch_job_rec *rec)
{
	int r;

	memset(rec, 0, sizeof(*rec));
	rec->id = sqlite3_column_int64(s, 0);
	reg_copy_text(rec->fingerprint, sizeof(rec->fingerprint),
		      sqlite3_column_text(s, 1));
	reg_copy_text(rec->kind, sizeof(rec->kind), sqlite3_column_text(s, 2));
	rec->read_only = sqlite3_column_int(s, 4);
	rec->state = sqlite3_column_int(s, 5);
	rec->created = sqlite3_column_int64(s, 6);
	rec->expires = sqlite3_column_int64(s, 7);
	rec->started = sqlite3_column_int64(s, 8);
	rec->finished = sqlite3_column_int64(s, 9);
	rec->rpc_error = sqlite3_column_int(s, 11);
	reg_copy_text(rec->method, sizeof(rec->method), sqlite3_column_text(s, 12));
	reg_copy_text(rec->error, sizeof(rec->error), sqlite3_column_text(s, 13));
	rec->no_startup = sqlite3_column_int(s, 14) == 0;
	rec->batch = sqlite3_column_int64(s, 15);
	if ((r = dup_text(s, 3, &rec->payload)) != CH_OK ||
	    (r = dup_text(s, 10, &rec->result)) != CH_OK)
		ch_job_rec_cleanup(rec);
	return r;
}

/* Steps a one-row job query into rec: CH_ERR_NOTFOUND for no row. */
static int read_job(struct ch_store *st, sqlite3_stmt *s,
		    struct ch_job_rec *rec, const char *what)
{
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_ROW)
		r = row_to_job(s, rec);
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;
	else
		r = reg_fail(st, what);
	reg_done(s);
	return r;
}

/* Runs a transition of job id (an UPDATE ... WHERE state = expected).
 * When no row moved, tells an unknown job (CH_ERR_NOTFOUND) from one
 * in another state (CH_ERR_INVAL). */
static int job_transition(struct ch_store *st, sqlite3_stmt *s, int64_t id,
			  const char *what)
{
	sqlite3_stmt *q = st->stmt[S_JOB_STATE];
	int rc, r = reg_exec(st, s, what);

	if (r != CH_OK || sqlite3_changes(st->db) > 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = CH_ERR_INVAL;
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;
	else
		r = reg_fail(st, what);
	reg_done(q);
	return r;
}

int ch_store_job_add(struct ch_store *st, const char *fp, const char *kind,
		     const char *payload, int flags, int64_t expires,
		     int64_t now, int64_t *id)
{
	return ch_store_job_add_in(st, 0, fp, kind, payload, flags, expires,
				   now, id);
}

int ch_store_job_add_in(struct ch_store *st, int64_t batch, const char *fp,
			const char *kind, const char *payload, int flags,
			int64_t expires, int64_t now, int64_t *id)
{
	sqlite3_stmt *s = st->stmt[S_JOB_ADD];
	size_t len = 0;
	int r;

	if (id)
		*id = 0;
	/* kind is a short word that must come back whole, not cut */
	if (kind == NULL || kind[0] == '\0' ||
	    strlen(kind) >= sizeof(((struct ch_job_rec *)0)->kind) ||
	    expires < 0)
		return CH_ERR_INVAL;
	if (payload && (len = strlen(payload)) > CH_JOB_PAYLOAD_MAX)
		return CH_ERR_LIMIT;
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	if (payload)
		sqlite3_bind_text(s, 3, payload, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, (flags & CH_JOB_F_READ_ONLY) != 0);
	sqlite3_bind_int(s, 7, (flags & CH_JOB_F_NO_STARTUP) == 0);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, expires);
	sqlite3_bind_int64(s, 8, batch);
	r = reg_exec(st, s, "job add");
	if (r == CH_OK && sqlite3_changes(st->db) == 0)
		r = CH_ERR_NOTFOUND;	/* no such device */
	if (r == CH_OK && id)
		*id = sqlite3_last_insert_rowid(st->db);
	return r;
}

int ch_store_job_next(struct ch_store *st, const char *fp, int64_t now,
		      struct ch_job_rec *rec)
{
	sqlite3_stmt *x = st->stmt[S_JOB_EXPIRE], *s = st->stmt[S_JOB_NEXT];
	sqlite3_stmt *q = st->stmt[S_JOB_ANY];
	int rc, r;

	memset(rec, 0, sizeof(*rec));
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	/* Most devices have no job queued: every connect asks, and a write
	 * transaction for nothing would also commit the open group. */
	sqlite3_bind_text(q, 1, fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	reg_done(q);
	if (rc == SQLITE_DONE)
		return CH_ERR_NOTFOUND;
	if (rc != SQLITE_ROW)
		return reg_fail(st, "job next");
	/* One transaction: a job cannot expire between the two steps. */
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	sqlite3_bind_text(x, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(x, 2, now);
	if ((r = reg_exec(st, x, "job expire")) != CH_OK)
		goto out;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	r = read_job(st, s, rec, "job next");
out:
	/* The expiries stand whatever the read found (or failed to copy). */
	if (r == CH_ERR_DB) {
		reg_tx_rollback(st);
	} else {
		int c = reg_tx_commit(st);

		if (c != CH_OK) {
			ch_job_rec_cleanup(rec);
			r = c;
		}
	}
	return r;
}

int ch_store_job_start(struct ch_store *st, int64_t id, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_JOB_START];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, st->holder);
	return job_transition(st, s, id, "job start");
}

int ch_store_job_finish(struct ch_store *st, int64_t id, int state,
			const char *result, int rpc_error, const char *method,
			const char *error, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_JOB_FINISH];
	int r;

	if (state != CH_JOB_DONE && state != CH_JOB_FAILED &&
	    state != CH_JOB_IN_DOUBT)
		return CH_ERR_INVAL;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, state);
	sqlite3_bind_int64(s, 3, now);
	/* Not cut: a reply is bounded by the session's message limit. Too
	 * big for SQLite is an error, not a silently empty result. */
	if (result && sqlite3_bind_text64(s, 4, result, strlen(result),
					  SQLITE_STATIC, SQLITE_UTF8) !=
			      SQLITE_OK) {
		r = reg_fail(st, "job finish: storing the result");
		reg_done(s);
		return r;
	}
	sqlite3_bind_int(s, 5, rpc_error != 0);
	reg_bind_text(s, 6, method ? method : "",
		      sizeof(((struct ch_job_rec *)0)->method));
	reg_bind_text(s, 7, error ? error : "", CH_STORE_TEXT_MAX);
	return job_transition(st, s, id, "job finish");
}

int ch_store_job_cancel(struct ch_store *st, int64_t id, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_JOB_CANCEL];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	return job_transition(st, s, id, "job cancel");
}

int ch_store_job_requeue(struct ch_store *st, int64_t id)
{
	sqlite3_stmt *s = st->stmt[S_JOB_REQUEUE];

	sqlite3_bind_int64(s, 1, id);
	return job_transition(st, s, id, "job requeue");
}

int ch_store_job_get(struct ch_store *st, int64_t id, struct ch_job_rec *rec)
{
	sqlite3_stmt *s = st->stmt[S_JOB_GET];

	memset(rec, 0, sizeof(*rec));
	sqlite3_bind_int64(s, 1, id);
	return read_job(st, s, rec, "job get");
}

/* Steps a bound job query, handing each row to fn until it returns
 * non-zero (returned); then resets the statement. */
int reg_job_walk(struct ch_store *st, sqlite3_stmt *s, const char *what,
		 int (*fn)(void *ctx, const struct ch_job_rec *), void *ctx)
{
	struct ch_job_rec rec;
	int rc, r = CH_OK;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = row_to_job(s, &rec)) != CH_OK)
			break;
		r = fn(ctx, &rec);
		ch_job_rec_cleanup(&rec);
		if (r != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, what);
	reg_done(s);
	return r;
}

int ch_store_job_foreach(struct ch_store *st, const char *fp, int limit,
			 unsigned states_mask,
			 int (*fn)(void *ctx, const struct ch_job_rec *),
			 void *ctx)
{
	sqlite3_stmt *s = st->stmt[fp ? S_JOB_FP : S_JOB_ALL];
	int r;

	if ((r = reg_walk_begin(st, s, "job", limit, states_mask, fp)) != CH_OK)
		return r;
	return reg_job_walk(st, s, "job list", fn, ctx);
}

int ch_store_job_count_queued(struct ch_store *st, const char *fp, int *n)
{
	sqlite3_stmt *s = st->stmt[S_JOB_COUNT];
	int rc, r = CH_OK;

	*n = 0;
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int(s, 0);
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;	/* no such device */
	else
		r = reg_fail(st, "job count");
	reg_done(s);
	return r;
}

int reg_jobs_recover(struct ch_store *st, int64_t holder, int64_t now,
		     int *in_doubt)
{
	sqlite3_stmt *ev = st->stmt[S_REC_EVENTS];
	int r;

	*in_doubt = 0;
	for (int id = S_REC_EVENTS; id <= S_REC_REQUEUE; id++)
		if (holder)	/* else NULL: every process's */
			sqlite3_bind_int64(st->stmt[id], 2, holder);
	/* Events first, while the jobs still say which were running. */
	sqlite3_bind_int64(ev, 1, now);
	if ((r = reg_exec(st, ev, "job recovery")) != CH_OK ||
	    (r = reg_exec(st, st->stmt[S_REC_DOUBT], "job recovery")) !=
		    CH_OK) {
		reg_done(st->stmt[S_REC_REQUEUE]);	/* its binding */
		return r;
	}
	*in_doubt = sqlite3_changes(st->db);
	return reg_exec(st, st->stmt[S_REC_REQUEUE], "job recovery");
}

int ch_store_jobs_recover(struct ch_store *st, int64_t now, int *in_doubt)
{
	int n = 0, r;

	*in_doubt = 0;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	r = reg_jobs_recover(st, 0, now, &n);
	if (r == CH_OK)
		r = reg_tx_commit(st);
	else
		reg_tx_rollback(st);
	if (r == CH_OK)
		*in_doubt = n;
	return r;
}

int ch_store_job_next_expiry(struct ch_store *st, int64_t *when)
{
	sqlite3_stmt *s = st->stmt[S_JOB_NEXT_EXPIRY];
	int rc, r = CH_OK;

	*when = 0;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*when = sqlite3_column_int64(s, 0);	/* NULL reads 0 */
	else
		r = reg_fail(st, "job next expiry");
	reg_done(s);
	return r;
}

int ch_store_job_foreach_due(struct ch_store *st, int64_t now, int limit,
			     int (*fn)(void *ctx, const struct ch_job_rec *),
			     void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_JOB_DUE];
	int r;

	if ((r = reg_walk_begin(st, s, "due job", limit, now, NULL)) != CH_OK)
		return r;
	return reg_job_walk(st, s, "due job list", fn, ctx);
}

int ch_store_job_expire(struct ch_store *st, int64_t id, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_JOB_EXPIRE_ID];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	return job_transition(st, s, id, "job expire");
}

int ch_store_job_foreach_sel(struct ch_store *st,
			     const struct ch_select *sel, int limit,
			     unsigned states_mask,
			     int (*fn)(void *ctx, const struct ch_job_rec *),
			     void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_JOB_SEL];
	int r;

	if ((r = reg_walk_begin(st, s, "job", limit, states_mask, NULL)) !=
		    CH_OK)
		return r;
	if ((r = reg_bind_select(s, sel)) != CH_OK) {
		reg_done(s);
		return r;
	}
	return reg_job_walk(st, s, "job list", fn, ctx);
}
