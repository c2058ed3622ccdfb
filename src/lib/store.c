/* store.c - the hub's registry in SQLite: every SQL statement of callhome
 * lives in this file (style B4).
 *
 * One connection, opened once; every statement prepared once at open. Each
 * public call is one statement, so SQLite's autocommit makes each logical
 * change one transaction; migrations take an explicit one.
 */
#include "store.h"
#include "err.h"
#include "log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP_PREFIX "SHA256:"
#define FP_PREFIX_LEN (sizeof(FP_PREFIX) - 1)
#define RESOLVE_MIN_PREFIX 4	/* chars after "SHA256:" for a prefix match */

/* ---- schema ---- */

/* migrations[i] takes user_version i to i + 1. Append only: never edit a
 * migration that has shipped. */
static const char *const migrations[] = {
	/* 1: devices and their event log */
	"CREATE TABLE devices ("
	" fingerprint TEXT PRIMARY KEY,"
	" name TEXT UNIQUE,"
	" admission INTEGER NOT NULL DEFAULT 0,"
	" connected INTEGER NOT NULL DEFAULT 0,"
	" address TEXT NOT NULL DEFAULT '',"
	" first_seen INTEGER NOT NULL DEFAULT 0,"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" connected_since INTEGER NOT NULL DEFAULT 0,"
	" capabilities INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" time INTEGER NOT NULL,"
	" fingerprint TEXT,"
	" kind TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_fp_id ON events(fingerprint, id);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- prepared statements ---- */

#define DEV_COLS "fingerprint, name, admission, connected, address, " \
	"first_seen, last_seen, connected_since, capabilities, last_error"
#define EV_COLS "id, time, fingerprint, kind, detail"

enum stmt_id {
	S_DEV_GET,
	S_DEV_ADD,
	S_DEV_ADMISSION,
	S_DEV_SEEN,
	S_DEV_UP,
	S_DEV_DOWN,
	S_RESET,
	S_BY_NAME,
	S_BY_FP,
	S_BY_PREFIX,
	S_DEV_ALL,
	S_EV_ADD,
	S_EV_ALL,
	S_EV_FP,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE fingerprint = ?1",
	[S_DEV_ADD] = "INSERT INTO devices (fingerprint, name, admission)"
		      " VALUES (?1, ?2, ?3)",
	[S_DEV_ADMISSION] = "UPDATE devices SET admission = ?2"
			    " WHERE fingerprint = ?1",
	[S_DEV_SEEN] = "UPDATE devices SET address = ?2, last_seen = ?3,"
		       " first_seen = CASE WHEN first_seen = 0 THEN ?3"
		       " ELSE first_seen END WHERE fingerprint = ?1",
	/* A session's start and end also count as having seen the device. */
	[S_DEV_UP] = "UPDATE devices SET connected = 1, connected_since = ?2,"
		     " capabilities = ?3, last_error = '',"
		     " last_seen = max(last_seen, ?2) WHERE fingerprint = ?1",
	[S_DEV_DOWN] = "UPDATE devices SET connected = 0, connected_since = 0,"
		       " last_error = ?3, last_seen = max(last_seen, ?2)"
		       " WHERE fingerprint = ?1",
	[S_RESET] = "UPDATE devices SET connected = 0, connected_since = 0,"
		    " last_error = 'hub restarted' WHERE connected <> 0",
	[S_BY_NAME] = "SELECT fingerprint FROM devices WHERE name = ?1",
	[S_BY_FP] = "SELECT fingerprint FROM devices WHERE fingerprint = ?1",
	/* substr, not LIKE: '%' and '_' in the query stay literal. */
	[S_BY_PREFIX] = "SELECT fingerprint FROM devices"
			" WHERE substr(fingerprint, 1, length(?1)) = ?1 LIMIT 2",
	/* Named devices first, by name; then the unnamed by fingerprint. */
	[S_DEV_ALL] = "SELECT " DEV_COLS " FROM devices"
		      " ORDER BY name IS NULL, name, fingerprint",
	[S_EV_ADD] = "INSERT INTO events (time, fingerprint, kind, detail)"
		     " VALUES (?1, ?2, ?3, ?4)",
	/* The newest limit rows, handed out oldest first. */
	[S_EV_ALL] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		     " ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EV_FP] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		    " WHERE fingerprint = ?2 ORDER BY id DESC LIMIT ?1)"
		    " ORDER BY id",
};

/* Statements are shared, so one ch_store serves one thread at a time (hence
 * SQLITE_OPEN_NOMUTEX); a worker thread opens its own. */
struct ch_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	char *path;		/* for log lines */
};

/* ---- helpers ---- */

static int db_fail(struct ch_store *st, const char *what)
{
	ch_error("store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return CH_ERR_DB;
}

/* Length of s cut to at most max bytes without splitting a UTF-8
 * sequence (continuation bytes are 10xxxxxx). */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Copies column text into a fixed field, truncating safely; NULL -> "". */
static void copy_text(char *dst, size_t size, const unsigned char *src)
{
	size_t n;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	n = utf8_cut((const char *)src, strlen((const char *)src), size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Binds s (NULL binds SQL NULL) cut to the field size it is read back
 * into, so the database never holds what a record cannot show. */
static int bind_text(sqlite3_stmt *s, int idx, const char *text, size_t size)
{
	if (text == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text,
				 (int)utf8_cut(text, strlen(text), size - 1),
				 SQLITE_TRANSIENT);
}

static void done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Steps a statement that returns no rows. */
static int exec_stmt(struct ch_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s), r = CH_OK;

	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		r = CH_ERR_EXISTS;
	else if (rc != SQLITE_DONE)
		r = db_fail(st, what);
	done(s);
	return r;
}

/* Steps an UPDATE of one device: CH_ERR_NOTFOUND when no row matched. */
static int exec_update(struct ch_store *st, sqlite3_stmt *s, const char *what)
{
	int r = exec_stmt(st, s, what);

	if (r == CH_OK && sqlite3_changes(st->db) == 0)
		r = CH_ERR_NOTFOUND;
	return r;
}

static int check_fp(const char *fp)
{
	size_t n;

	if (fp == NULL || (n = strlen(fp)) == 0 ||
	    n >= sizeof(((struct ch_device_rec *)0)->fingerprint))
		return CH_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)fp[i] <= 0x20 || fp[i] == 0x7f)
			return CH_ERR_INVAL;
	return CH_OK;
}

static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > CH_NAME_MAX)
		return CH_ERR_INVAL;
	/* ':' is not allowed anyway; say it so a name never reads as a key */
	if (strncmp(name, FP_PREFIX, FP_PREFIX_LEN) == 0)
		return CH_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return CH_ERR_INVAL;
	}
	return CH_OK;
}

static int check_admission(int admission)
{
	return admission >= CH_ADMIT_PENDING && admission <= CH_ADMIT_REVOKED
		       ? CH_OK
		       : CH_ERR_INVAL;
}

static void row_to_device(sqlite3_stmt *s, struct ch_device_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	copy_text(rec->fingerprint, sizeof(rec->fingerprint),
		  sqlite3_column_text(s, 0));
	copy_text(rec->name, sizeof(rec->name), sqlite3_column_text(s, 1));
	rec->admission = sqlite3_column_int(s, 2);
	rec->connected = sqlite3_column_int(s, 3);
	copy_text(rec->address, sizeof(rec->address), sqlite3_column_text(s, 4));
	rec->first_seen = sqlite3_column_int64(s, 5);
	rec->last_seen = sqlite3_column_int64(s, 6);
	rec->connected_since = sqlite3_column_int64(s, 7);
	rec->capabilities = sqlite3_column_int(s, 8);
	copy_text(rec->last_error, sizeof(rec->last_error),
		  sqlite3_column_text(s, 9));
}

/* ---- open, migrate, close ---- */

static int get_user_version(struct ch_store *st, int *version)
{
	sqlite3_stmt *s = NULL;
	int r = CH_OK;

	*version = 0;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
		    SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		r = db_fail(st, "reading the schema version");
	else
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return r;
}

static int exec_sql(struct ch_store *st, const char *sql, const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(st, what);
	return CH_OK;
}

static int refuse_newer(struct ch_store *st, int version)
{
	ch_error("store %s: schema version %d is newer than this callhome "
		 "understands (%d); refusing to open it (was it written by a "
		 "newer callhome-hub?)", st->path, version, SCHEMA_VERSION);
	return CH_ERR_DB;
}

/* Runs each missing migration in its own transaction, user_version bumped
 * inside it, so a crash leaves the schema at a whole version. */
static int migrate(struct ch_store *st)
{
	char sql[64];
	int version, r;

	if ((r = get_user_version(st, &version)) != CH_OK)
		return r;
	if (version > SCHEMA_VERSION)
		return refuse_newer(st, version);
	while (version < SCHEMA_VERSION) {
		/* IMMEDIATE: take the write lock before re-reading the
		 * version, so two hubs starting at once do not both migrate */
		if ((r = exec_sql(st, "BEGIN IMMEDIATE", "migration")) != CH_OK)
			return r;
		if ((r = get_user_version(st, &version)) != CH_OK)
			goto rollback;
		if (version > SCHEMA_VERSION) {
			r = refuse_newer(st, version);
			goto rollback;
		}
		if (version == SCHEMA_VERSION) {
			r = exec_sql(st, "COMMIT", "migration");
			break;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			 version + 1);
		if ((r = exec_sql(st, migrations[version], "migration")) !=
			    CH_OK ||
		    (r = exec_sql(st, sql, "migration")) != CH_OK ||
		    (r = exec_sql(st, "COMMIT", "migration")) != CH_OK)
			goto rollback;
		ch_info("store %s: schema migrated to version %d", st->path,
			version + 1);
		version++;
	}
	return r;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int query_text(struct ch_store *st, const char *sql, char *out,
		      size_t size)
{
	sqlite3_stmt *s = NULL;
	int r = CH_OK;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		r = db_fail(st, sql);
	else
		copy_text(out, size, sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return r;
}

int ch_store_open(const char *path, struct ch_store **out)
{
	struct ch_store *st;
	char mode[16];
	int r = CH_ERR_DB;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->path = strdup(path)) == NULL) {
		free(st);
		return CH_ERR_NOMEM;
	}
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		if (st->db == NULL) {
			r = CH_ERR_NOMEM;
			goto out;
		}
		db_fail(st, "cannot open");
		goto out;
	}
	/* Constraint failures come back as e.g. SQLITE_CONSTRAINT_UNIQUE. */
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, CH_STORE_BUSY_MS);
	if ((r = query_text(st, "PRAGMA journal_mode = WAL", mode,
			    sizeof(mode))) != CH_OK)
		goto out;
	if (strcmp(mode, "wal") != 0) {
		ch_error("store %s: cannot switch to WAL journal (got %s)",
			 path, mode);
		r = CH_ERR_DB;
		goto out;
	}
	/* NORMAL, not FULL: in WAL mode this syncs only at checkpoints, not
	 * at every commit. A power cut may lose the last few commits (a
	 * last_seen, an event line) but never corrupts the database, and the
	 * loop thread does not wait for an fsync on every call. */
	if ((r = exec_sql(st, "PRAGMA synchronous = NORMAL", "pragma")) !=
		    CH_OK ||
	    (r = exec_sql(st, "PRAGMA foreign_keys = ON", "pragma")) != CH_OK ||
	    (r = migrate(st)) != CH_OK)
		goto out;
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK) {
			r = db_fail(st, "preparing a statement");
			goto out;
		}
	}
	*out = st;
	st = NULL;	/* transferred */
	r = CH_OK;
out:
	ch_store_close(st);
	return r;
}

void ch_store_close(struct ch_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	/* With every statement finalized this cannot fail with BUSY. */
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		ch_error("store %s: close: %s", st->path,
			 sqlite3_errmsg(st->db));
	free(st->path);
	free(st);
}

const char *ch_admission_name(int admission)
{
	switch (admission) {
	case CH_ADMIT_PENDING: return "pending";
	case CH_ADMIT_ADMITTED: return "admitted";
	case CH_ADMIT_REVOKED: return "revoked";
	}
	return "unknown";
}

/* ---- devices ---- */

int ch_store_device_get(struct ch_store *st, const char *fp,
			struct ch_device_rec *rec)
{
	sqlite3_stmt *s = st->stmt[S_DEV_GET];
	int rc, r = CH_OK;

	memset(rec, 0, sizeof(*rec));
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		row_to_device(s, rec);
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;
	else
		r = db_fail(st, "device get");
	done(s);
	return r;
}

int ch_store_device_add(struct ch_store *st, const char *fp, const char *name,
			int admission)
{
	sqlite3_stmt *s = st->stmt[S_DEV_ADD];

	if (name && name[0] == '\0')	/* as a record shows "unnamed" */
		name = NULL;
	if (check_fp(fp) != CH_OK || check_admission(admission) != CH_OK ||
	    (name && check_name(name) != CH_OK))
		return CH_ERR_INVAL;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	bind_text(s, 2, name, CH_NAME_MAX + 1);
	sqlite3_bind_int(s, 3, admission);
	return exec_stmt(st, s, "device add");
}

int ch_store_device_set_admission(struct ch_store *st, const char *fp,
				  int admission)
{
	sqlite3_stmt *s = st->stmt[S_DEV_ADMISSION];

	if (check_admission(admission) != CH_OK)
		return CH_ERR_INVAL;
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, admission);
	return exec_update(st, s, "device set admission");
}

int ch_store_device_seen(struct ch_store *st, const char *fp,
			 const char *address, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_DEV_SEEN];

	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	bind_text(s, 2, address ? address : "",
		  sizeof(((struct ch_device_rec *)0)->address));
	sqlite3_bind_int64(s, 3, now);
	return exec_update(st, s, "device seen");
}

int ch_store_device_connected(struct ch_store *st, const char *fp,
			      int connected, int ncaps, const char *reason,
			      int64_t now)
{
	sqlite3_stmt *s = st->stmt[connected ? S_DEV_UP : S_DEV_DOWN];

	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (connected)
		sqlite3_bind_int(s, 3, ncaps);
	else
		bind_text(s, 3, reason ? reason : "",
			  sizeof(((struct ch_device_rec *)0)->last_error));
	return exec_update(st, s, "device connected");
}

int ch_store_reset_connections(struct ch_store *st)
{
	return exec_stmt(st, st->stmt[S_RESET], "reset connections");
}

/* Runs a one-column lookup bound to text; copies a unique hit to fp_out.
 * CH_OK, CH_ERR_NOTFOUND, CH_ERR_AMBIGUOUS (a second row). */
static int lookup(struct ch_store *st, enum stmt_id id, const char *text,
		  char *fp_out)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc, r = CH_ERR_NOTFOUND;

	sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		copy_text(fp_out, sizeof(((struct ch_device_rec *)0)->fingerprint),
			  sqlite3_column_text(s, 0));
		r = CH_OK;
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			r = CH_ERR_AMBIGUOUS;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_fail(st, "device resolve");
	done(s);
	if (r != CH_OK)
		fp_out[0] = '\0';
	return r;
}

int ch_store_device_resolve(struct ch_store *st, const char *query,
			    char *fp_out)
{
	char prefix[128];
	const char *tail = query;
	int r;

	fp_out[0] = '\0';
	if (query == NULL || query[0] == '\0')
		return CH_ERR_NOTFOUND;
	if ((r = lookup(st, S_BY_NAME, query, fp_out)) != CH_ERR_NOTFOUND ||
	    (r = lookup(st, S_BY_FP, query, fp_out)) != CH_ERR_NOTFOUND)
		return r;
	if (strncmp(query, FP_PREFIX, FP_PREFIX_LEN) == 0)
		tail = query + FP_PREFIX_LEN;
	/* Too short a prefix would match by accident, not by intent. */
	if (strlen(tail) < RESOLVE_MIN_PREFIX)
		return CH_ERR_NOTFOUND;
	if (snprintf(prefix, sizeof(prefix), "%s%s", FP_PREFIX, tail) >=
	    (int)sizeof(prefix))
		return CH_ERR_NOTFOUND;
	return lookup(st, S_BY_PREFIX, prefix, fp_out);
}

int ch_store_device_foreach(struct ch_store *st,
			    int (*fn)(void *ctx, const struct ch_device_rec *),
			    void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_DEV_ALL];
	struct ch_device_rec rec;
	int rc, r = CH_OK;

	/* One statement per walk: a nested walk would restart this one. */
	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested device walk", st->path);
		return CH_ERR_INVAL;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_device(s, &rec);
		if ((r = fn(ctx, &rec)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = db_fail(st, "device list");
	done(s);
	return r;
}

/* ---- events ---- */

int ch_store_event_add(struct ch_store *st, const char *fp, const char *kind,
		       const char *detail, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_EV_ADD];

	if (kind == NULL || kind[0] == '\0')
		return CH_ERR_INVAL;
	sqlite3_bind_int64(s, 1, now);
	bind_text(s, 2, fp, sizeof(((struct ch_event_rec *)0)->fingerprint));
	bind_text(s, 3, kind, sizeof(((struct ch_event_rec *)0)->kind));
	bind_text(s, 4, detail ? detail : "", CH_STORE_TEXT_MAX);
	return exec_stmt(st, s, "event add");
}

int ch_store_event_foreach(struct ch_store *st, const char *fp, int limit,
			   int (*fn)(void *ctx, const struct ch_event_rec *),
			   void *ctx)
{
	sqlite3_stmt *s = st->stmt[fp ? S_EV_FP : S_EV_ALL];
	struct ch_event_rec ev;
	int rc, r = CH_OK;

	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested event walk", st->path);
		return CH_ERR_INVAL;
	}
	/* limit <= 0: no limit (SQLite reads a negative LIMIT as none) */
	sqlite3_bind_int(s, 1, limit > 0 ? limit : -1);
	if (fp)
		sqlite3_bind_text(s, 2, fp, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.id = sqlite3_column_int64(s, 0);
		ev.time = sqlite3_column_int64(s, 1);
		copy_text(ev.fingerprint, sizeof(ev.fingerprint),
			  sqlite3_column_text(s, 2));
		copy_text(ev.kind, sizeof(ev.kind), sqlite3_column_text(s, 3));
		copy_text(ev.detail, sizeof(ev.detail),
			  sqlite3_column_text(s, 4));
		if ((r = fn(ctx, &ev)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = db_fail(st, "event list");
	done(s);
	return r;
}
