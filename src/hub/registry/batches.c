/* batches.c - the registry's batches table: a bulk job is one job per
 * selected device, each a row of jobs with its batch's id; the batch
 * keeps what the operator asked for, its counts come from its jobs. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"

#include <string.h>

#define BATCH_COLS "id, created, kind, selector, rate, actor"

const char *const reg_sql_batches[S_COUNT] = {
	[S_BATCH_ADD] = "INSERT INTO batches (created, kind, selector, rate,"
			" actor) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_BATCH_GET] = "SELECT " BATCH_COLS " FROM batches WHERE id = ?1",
	[S_BATCH_ALL] = "SELECT " BATCH_COLS " FROM batches"
			" ORDER BY id DESC LIMIT ?1",
	[S_BATCH_COUNTS] = "SELECT state, count(*) FROM jobs WHERE batch = ?1"
			   " GROUP BY state",
	/* one index probe (jobs_batch): asked at every job's end while an
	 * operator waits, so never a count over the whole batch */
	[S_BATCH_OPEN] = "SELECT 1 FROM jobs WHERE batch = ?1"
			 " AND state IN (0, 1) LIMIT 1",
	[S_JOB_BATCH] = "SELECT " JOB_COLS " FROM jobs WHERE batch = ?3"
			" AND (?2 = 0 OR (?2 >> state) & 1)"
			" ORDER BY id LIMIT ?1",
};

int ch_store_batch_add(struct ch_store *st, const char *kind,
		       const char *payload, int flags, int64_t expires,
		       const char *selector, int rate, const char *actor,
		       const char *const *fps, size_t n, int64_t now,
		       int64_t *id, int64_t *job_ids)
{
	sqlite3_stmt *s = st->stmt[S_BATCH_ADD];
	int64_t batch = 0, job;
	int r;

	*id = 0;
	if (n == 0 || n > CH_BATCH_DEVICES_MAX || kind == NULL ||
	    strlen(kind) >= sizeof(((struct ch_batch_rec *)0)->kind))
		return CH_ERR_INVAL;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	reg_bind_text(s, 3, selector ? selector : "", CH_STORE_TEXT_MAX);
	sqlite3_bind_int(s, 4, rate);
	reg_bind_text(s, 5, actor ? actor : "", CH_ACTOR_NAME_MAX);
	if ((r = reg_exec(st, s, "batch add")) != CH_OK)
		goto out;
	batch = sqlite3_last_insert_rowid(st->db);
	for (size_t i = 0; i < n; i++) {
		if ((r = ch_store_job_add_in(st, batch, fps[i], kind, payload,
					     flags, expires, now, &job)) !=
		    CH_OK)
			goto out;
		if (job_ids)
			job_ids[i] = job;
	}
out:
	if (r == CH_OK)
		r = reg_tx_commit(st);
	else
		reg_tx_rollback(st);
	if (r == CH_OK)
		*id = batch;
	return r;
}

/* Fills the counts of rec from its jobs. */
static int batch_counts(struct ch_store *st, struct ch_batch_rec *rec)
{
	sqlite3_stmt *s = st->stmt[S_BATCH_COUNTS];
	int rc, r = CH_OK;

	memset(rec->count, 0, sizeof(rec->count));
	rec->total = 0;
	sqlite3_bind_int64(s, 1, rec->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int state = sqlite3_column_int(s, 0), n = sqlite3_column_int(s, 1);

		if (state >= 0 && state <= CH_JOB_EXPIRED)
			rec->count[state] = n;
		rec->total += n;
	}
	if (rc != SQLITE_DONE)
		r = reg_fail(st, "batch counts");
	reg_done(s);
	return r;
}

static void row_to_batch(sqlite3_stmt *s, struct ch_batch_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->id = sqlite3_column_int64(s, 0);
	rec->created = sqlite3_column_int64(s, 1);
	reg_copy_text(rec->kind, sizeof(rec->kind), sqlite3_column_text(s, 2));
	reg_copy_text(rec->selector, sizeof(rec->selector),
		      sqlite3_column_text(s, 3));
	rec->rate = sqlite3_column_int(s, 4);
	reg_copy_text(rec->actor, sizeof(rec->actor), sqlite3_column_text(s, 5));
}

int ch_store_batch_get(struct ch_store *st, int64_t id,
		       struct ch_batch_rec *rec)
{
	sqlite3_stmt *s = st->stmt[S_BATCH_GET];
	int rc, r;

	memset(rec, 0, sizeof(*rec));
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_to_batch(s, rec);
		r = CH_OK;
	} else {
		r = rc == SQLITE_DONE ? CH_ERR_NOTFOUND
				      : reg_fail(st, "batch get");
	}
	reg_done(s);
	return r == CH_OK ? batch_counts(st, rec) : r;
}

int ch_store_batch_foreach(struct ch_store *st, int limit,
			   int (*fn)(void *ctx, const struct ch_batch_rec *),
			   void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_BATCH_ALL];
	struct ch_batch_rec rec;
	int rc, r = CH_OK;

	if ((r = reg_walk_begin(st, s, "batch", limit, 0, NULL)) != CH_OK)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_batch(s, &rec);
		if ((r = batch_counts(st, &rec)) != CH_OK ||
		    (r = fn(ctx, &rec)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "batch list");
	reg_done(s);
	return r;
}

int ch_store_batch_jobs(struct ch_store *st, int64_t id, unsigned states_mask,
			int (*fn)(void *ctx, const struct ch_job_rec *),
			void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_JOB_BATCH];
	int r;

	if ((r = reg_walk_begin(st, s, "batch job", 0, states_mask, NULL)) !=
	    CH_OK)
		return r;
	sqlite3_bind_int64(s, 3, id);
	return reg_job_walk(st, s, "batch job list", fn, ctx);
}

int ch_store_batch_open(struct ch_store *st, int64_t id, int *open)
{
	sqlite3_stmt *s = st->stmt[S_BATCH_OPEN];
	int rc;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	*open = rc == SQLITE_ROW;
	reg_done(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CH_OK
						     : reg_fail(st, "batch open");
}
