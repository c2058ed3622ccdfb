/* events.c - the registry's events table: each device's log. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <string.h>

#define EV_COLS "id, time, fingerprint, kind, detail"

const char *const reg_sql_events[S_COUNT] = {
	[S_EV_ADD] = "INSERT INTO events (time, fingerprint, kind, detail)"
		     " VALUES (?1, " KEY_OF("?2") ", ?3, ?4)",
	[S_EV_PRUNE] = "DELETE FROM events"
		       " WHERE id <= (SELECT max(id) FROM events) - ?1",
	/* The newest limit rows, handed out oldest first. */
	[S_EV_ALL] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		     " ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EV_FP] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		    " WHERE fingerprint = " KEY_OF("?2")
		    " ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EV_SEL] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		     " WHERE fingerprint IN (SELECT d.fingerprint"
		     " FROM devices d WHERE " SEL_WHERE("d") ")"
		     " ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EV_SEL_SINCE] = "SELECT " EV_COLS " FROM events WHERE id > ?2"
			   " AND fingerprint IN (SELECT d.fingerprint"
			   " FROM devices d WHERE " SEL_WHERE("d") ")"
			   " ORDER BY id LIMIT ?1",
	[S_EV_SINCE_ALL] = "SELECT " EV_COLS " FROM events WHERE id > ?2"
			   " ORDER BY id LIMIT ?1",
	[S_EV_SINCE_FP] = "SELECT " EV_COLS " FROM events"
			  " WHERE fingerprint = " KEY_OF("?3")
			  " AND id > ?2 ORDER BY id LIMIT ?1",
};

static void row_to_event(sqlite3_stmt *s, struct ch_event_rec *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = sqlite3_column_int64(s, 0);
	ev->time = sqlite3_column_int64(s, 1);
	reg_copy_text(ev->fingerprint, sizeof(ev->fingerprint),
		      sqlite3_column_text(s, 2));
	reg_copy_text(ev->kind, sizeof(ev->kind), sqlite3_column_text(s, 3));
	reg_copy_text(ev->detail, sizeof(ev->detail), sqlite3_column_text(s, 4));
}

/* Steps a bound event query, handing each row to fn until it returns
 * non-zero (returned); then resets the statement. */
static int walk(struct ch_store *st, sqlite3_stmt *s,
		int (*fn)(void *ctx, const struct ch_event_rec *), void *ctx)
{
	struct ch_event_rec ev;
	int rc, r = CH_OK;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_event(s, &ev);
		if ((r = fn(ctx, &ev)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "event list");
	reg_done(s);
	return r;
}

int ch_store_event_add(struct ch_store *st, const char *fp, const char *kind,
		       const char *detail, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_EV_ADD];
	int r;

	if (kind == NULL || kind[0] == '\0')
		return CH_ERR_INVAL;
	sqlite3_bind_int64(s, 1, now);
	reg_bind_text(s, 2, fp, sizeof(((struct ch_event_rec *)0)->fingerprint));
	reg_bind_text(s, 3, kind, sizeof(((struct ch_event_rec *)0)->kind));
	reg_bind_text(s, 4, detail ? detail : "", CH_STORE_TEXT_MAX);
	if ((r = reg_exec(st, s, "event add")) != CH_OK)
		return r;
	/* devices feed the log (their notifications): it keeps the newest */
	if (sqlite3_last_insert_rowid(st->db) % CH_EVENTS_PRUNE_EVERY == 0)
		ch_store_events_prune(st, CH_EVENTS_KEEP);
	return CH_OK;
}

int ch_store_events_prune(struct ch_store *st, int64_t keep)
{
	return reg_prune(st, S_EV_PRUNE, keep, "events");
}

int ch_store_event_foreach(struct ch_store *st, const char *fp, int limit,
			   int (*fn)(void *ctx, const struct ch_event_rec *),
			   void *ctx)
{
	sqlite3_stmt *s = st->stmt[fp ? S_EV_FP : S_EV_ALL];

	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested event walk", st->path);
		return CH_ERR_INVAL;
	}
	/* limit <= 0: no limit (SQLite reads a negative LIMIT as none) */
	sqlite3_bind_int(s, 1, limit > 0 ? limit : -1);
	if (fp)
		sqlite3_bind_text(s, 2, fp, -1, SQLITE_STATIC);
	return walk(st, s, fn, ctx);
}

int ch_store_event_foreach_since(struct ch_store *st, const char *fp,
				 int64_t since_id, int limit,
				 int (*fn)(void *ctx,
					   const struct ch_event_rec *),
				 void *ctx)
{
	sqlite3_stmt *s = st->stmt[fp ? S_EV_SINCE_FP : S_EV_SINCE_ALL];
	int r;

	if ((r = reg_walk_begin(st, s, "event", limit, since_id, fp)) != CH_OK)
		return r;
	return walk(st, s, fn, ctx);
}


int ch_store_event_foreach_sel(struct ch_store *st,
			       const struct ch_select *sel, int64_t since_id,
			       int limit,
			       int (*fn)(void *ctx,
					 const struct ch_event_rec *),
			       void *ctx)
{
	sqlite3_stmt *s = st->stmt[since_id >= 0 ? S_EV_SEL_SINCE : S_EV_SEL];
	int r;

	if ((r = reg_walk_begin(st, s, "event", limit, since_id, NULL)) !=
		    CH_OK)
		return r;
	if ((r = reg_bind_select(s, sel)) != CH_OK) {
		reg_done(s);
		return r;
	}
	return walk(st, s, fn, ctx);
}
