/* audit.c - the registry's audit table: who did what to which device
 * (store.h, "the audit log").
 *
 * Written on the loop like an event: one INSERT in autocommit, and every
 * CH_AUDIT_PRUNE_EVERY ids one DELETE of the oldest id range. Ids are
 * never reused and only the oldest are deleted, so they are contiguous
 * from the oldest kept to the newest and "all but the newest keep" is
 * the range up to max(id) - keep, found through the primary key.
 */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <stdlib.h>
#include <string.h>

#define AU_COLS "id, time, actor, uid, via, fingerprint, action, outcome," \
	" detail, recording, exit_status, bytes_in, bytes_out, duration_ms"

/* ?1 limit, ?2 since, ?3 device, ?4 until, ?5 actor, ?6 its uid. The
 * newest rows first (audit_time or audit_fp_time, whose entries end in
 * the rowid), handed out oldest first. */
#define AU_WHERE " time >= ?2 AND time <= ?4" \
	" AND (?5 IS NULL OR actor = ?5 OR uid = ?6)"
#define AU_NEWEST " ORDER BY time DESC, id DESC LIMIT ?1) ORDER BY time, id"

const char *const reg_sql_audit[S_COUNT] = {
	[S_AU_ADD] = "INSERT INTO audit (time, actor, uid, via, fingerprint,"
		     " action, outcome, detail, recording, exit_status,"
		     " bytes_in, bytes_out, duration_ms) VALUES (?1, ?2, ?3,"
		     " ?4, " KEY_OF("?5") ", ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
		     " ?13)",
	[S_AU_ALL] = "SELECT * FROM (SELECT " AU_COLS " FROM audit WHERE"
		     AU_WHERE AU_NEWEST,
	[S_AU_FP] = "SELECT * FROM (SELECT " AU_COLS " FROM audit"
		    " WHERE fingerprint = " KEY_OF("?3") " AND" AU_WHERE
		    AU_NEWEST,
	[S_AU_PRUNE] = "DELETE FROM audit"
		       " WHERE id <= (SELECT max(id) FROM audit) - ?1",
};

#define REC_SIZE(f) sizeof(((struct ch_audit_rec *)0)->f)

void ch_audit_rec_init(struct ch_audit_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->uid = -1;
	rec->exit_status = -1;
	rec->bytes_in = -1;
	rec->bytes_out = -1;
	rec->duration_ms = -1;
}

/* An optional number: -1 (not applicable) is NULL. */
static void bind_opt(sqlite3_stmt *s, int idx, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(s, idx);
	else
		sqlite3_bind_int64(s, idx, v);
}

static int64_t column_opt(sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return -1;
	return sqlite3_column_int64(s, col);
}

int ch_store_audit_add(struct ch_store *st, const struct ch_audit_rec *rec)
{
	sqlite3_stmt *s = st->stmt[S_AU_ADD];
	int64_t id;
	int r;

	if (rec->action[0] == '\0' || rec->outcome[0] == '\0' ||
	    rec->actor[0] == '\0')
		return CH_ERR_INVAL;
	sqlite3_bind_int64(s, 1, rec->time);
	reg_bind_text(s, 2, rec->actor, REC_SIZE(actor));
	bind_opt(s, 3, rec->uid);
	reg_bind_text(s, 4, rec->via, REC_SIZE(via));
	reg_bind_text(s, 5, rec->fingerprint[0] ? rec->fingerprint : NULL,
		      REC_SIZE(fingerprint));
	reg_bind_text(s, 6, rec->action, REC_SIZE(action));
	reg_bind_text(s, 7, rec->outcome, REC_SIZE(outcome));
	reg_bind_text(s, 8, rec->detail, REC_SIZE(detail));
	reg_bind_text(s, 9, rec->recording[0] ? rec->recording : NULL,
		      REC_SIZE(recording));
	bind_opt(s, 10, rec->exit_status);
	bind_opt(s, 11, rec->bytes_in);
	bind_opt(s, 12, rec->bytes_out);
	bind_opt(s, 13, rec->duration_ms);
	if ((r = reg_exec(st, s, "audit add")) != CH_OK)
		return r;
	id = sqlite3_last_insert_rowid(st->db);
	if (id % CH_AUDIT_PRUNE_EVERY == 0)
		ch_store_audit_prune(st, CH_AUDIT_KEEP);
	return CH_OK;
}

int ch_store_audit_prune(struct ch_store *st, int64_t keep)
{
	return reg_prune(st, S_AU_PRUNE, keep, "audit records");
}

static void row_to_audit(sqlite3_stmt *s, struct ch_audit_rec *rec)
{
	ch_audit_rec_init(rec);
	rec->id = sqlite3_column_int64(s, 0);
	rec->time = sqlite3_column_int64(s, 1);
	reg_copy_text(rec->actor, REC_SIZE(actor), sqlite3_column_text(s, 2));
	rec->uid = column_opt(s, 3);
	reg_copy_text(rec->via, REC_SIZE(via), sqlite3_column_text(s, 4));
	reg_copy_text(rec->fingerprint, REC_SIZE(fingerprint),
		      sqlite3_column_text(s, 5));
	reg_copy_text(rec->action, REC_SIZE(action), sqlite3_column_text(s, 6));
	reg_copy_text(rec->outcome, REC_SIZE(outcome),
		      sqlite3_column_text(s, 7));
	reg_copy_text(rec->detail, REC_SIZE(detail), sqlite3_column_text(s, 8));
	reg_copy_text(rec->recording, REC_SIZE(recording),
		      sqlite3_column_text(s, 9));
	rec->exit_status = column_opt(s, 10);
	rec->bytes_in = column_opt(s, 11);
	rec->bytes_out = column_opt(s, 12);
	rec->duration_ms = column_opt(s, 13);
}

/* A uid given as the actor: all digits, and small enough. */
static int actor_uid(const char *actor, int64_t *uid)
{
	char *end;
	unsigned long long v;

	if (actor[0] < '0' || actor[0] > '9')
		return 0;
	v = strtoull(actor, &end, 10);
	if (*end != '\0' || v > INT64_MAX)
		return 0;
	*uid = (int64_t)v;
	return 1;
}

int ch_store_audit_foreach(struct ch_store *st,
			   const struct ch_audit_filter *f,
			   int (*fn)(void *ctx, const struct ch_audit_rec *),
			   void *ctx)
{
	sqlite3_stmt *s = st->stmt[f->fp ? S_AU_FP : S_AU_ALL];
	struct ch_audit_rec *rec;
	int64_t uid;
	int rc, r;

	if ((r = reg_walk_begin(st, s, "audit", f->limit, f->since,
				f->fp)) != CH_OK)
		return r;
	sqlite3_bind_int64(s, 4, f->until > 0 ? f->until : INT64_MAX);
	if (f->actor) {
		sqlite3_bind_text(s, 5, f->actor, -1, SQLITE_STATIC);
		if (actor_uid(f->actor, &uid))
			sqlite3_bind_int64(s, 6, uid);
	}
	if ((rec = malloc(sizeof(*rec))) == NULL) {
		reg_done(s);
		return CH_ERR_NOMEM;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_audit(s, rec);
		if ((r = fn(ctx, rec)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "audit list");
	reg_done(s);
	free(rec);
	return r;
}
