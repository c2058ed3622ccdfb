/* store.c - the hub's registry in SQLite: every SQL statement of callhome
 * lives in this file (style B4).
 *
 * One connection, opened once; every statement prepared once at open. Most
 * public calls are one statement, so SQLite's autocommit makes each logical
 * change one transaction; calls that need several statements (job_next,
 * jobs_recover) and migrations take an explicit one.
 *
 * Aliases: a fingerprint argument is mapped to its device's key fingerprint
 * inside the statement itself (KEY_OF), so that mapping and the change are
 * one atomic step and no extra round trip is needed.
 */
#include "hub/registry/store.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP_PREFIX CH_ID_SSH_PREFIX
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
	/* 2: further keys of a device, and deferred jobs */
	"CREATE TABLE identities ("
	" fingerprint TEXT PRIMARY KEY,"
	" device TEXT NOT NULL REFERENCES devices(fingerprint)"
	" ON DELETE CASCADE,"
	" added INTEGER NOT NULL DEFAULT 0);"
	/* for identity_foreach and for the cascade on a device delete */
	"CREATE INDEX identities_device ON identities(device);"
	"CREATE TABLE jobs ("
	" id INTEGER PRIMARY KEY,"
	" device TEXT NOT NULL REFERENCES devices(fingerprint),"
	" kind TEXT NOT NULL,"
	" payload TEXT,"
	" read_only INTEGER NOT NULL DEFAULT 0,"
	" state INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL DEFAULT 0,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" started INTEGER NOT NULL DEFAULT 0,"
	" finished INTEGER NOT NULL DEFAULT 0,"
	" result TEXT,"
	" rpc_error INTEGER NOT NULL DEFAULT 0,"
	" method TEXT NOT NULL DEFAULT '',"
	" error TEXT NOT NULL DEFAULT '');"
	/* job_next and job_count_queued: one device's queued jobs by id */
	"CREATE INDEX jobs_device_state_id ON jobs(device, state, id);",
	/* 3: a device's own idle-close time (-1: the hub's default) */
	"ALTER TABLE devices ADD COLUMN idle_close INTEGER NOT NULL DEFAULT -1;",
	/* 4: TLS identities: every identity has a kind (every earlier one is
	 * an SSH host key), and a TLS device's last certificate is kept to
	 * tell a rotation */
	"ALTER TABLE identities ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN cert_fp TEXT NOT NULL DEFAULT '';",
	/* 5: the trust anchor a TLS device's chain led to when it was first
	 * admitted: a serial number is only unique per manufacturer */
	"ALTER TABLE devices ADD COLUMN anchor TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- prepared statements ---- */

#define DEV_COLS "fingerprint, name, admission, connected, address, " \
	"first_seen, last_seen, connected_since, capabilities, last_error, " \
	"idle_close, kind, cert_fp, anchor"
#define EV_COLS "id, time, fingerprint, kind, detail"
#define JOB_COLS "id, device, kind, payload, read_only, state, created, " \
	"expires, started, finished, result, rpc_error, method, error"
/* The device key fingerprint for parameter p, which may be an alias; an
 * unknown fingerprint stays itself (and then matches no device). The
 * subquery does not depend on the row, so an index on the compared column
 * is still used. */
#define KEY_OF(p) "coalesce((SELECT device FROM identities" \
	" WHERE fingerprint = " p "), " p ")"

enum stmt_id {
	S_DEV_GET,
	S_DEV_ADD,
	S_DEV_ADMISSION,
	S_DEV_IDLE_CLOSE,
	S_DEV_SEEN,
	S_DEV_CERT,
	S_DEV_ANCHOR,
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
	S_EV_SINCE_ALL,
	S_EV_SINCE_FP,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_DEV_KEY,
	S_DEV_RENAME,
	S_ID_ADD,
	S_ID_DEL,
	S_ID_ALL,
	S_JOB_ADD,
	S_JOB_EXPIRE,
	S_JOB_NEXT,
	S_JOB_START,
	S_JOB_FINISH,
	S_JOB_CANCEL,
	S_JOB_REQUEUE,
	S_JOB_GET,
	S_JOB_STATE,
	S_JOB_ALL,
	S_JOB_FP,
	S_JOB_COUNT,
	S_REC_EVENTS,
	S_REC_DOUBT,
	S_REC_REQUEUE,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_DEV_GET] = "SELECT " DEV_COLS " FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	/* An alias is not a new device: a 0-row insert means it exists. */
	[S_DEV_ADD] = "INSERT INTO devices (fingerprint, name, admission,"
		      " kind) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1"
		      " FROM identities WHERE fingerprint = ?1)",
	[S_DEV_ADMISSION] = "UPDATE devices SET admission = ?2"
			    " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_IDLE_CLOSE] = "UPDATE devices SET idle_close = ?2"
			     " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_SEEN] = "UPDATE devices SET address = ?2, last_seen = ?3,"
		       " first_seen = CASE WHEN first_seen = 0 THEN ?3"
		       " ELSE first_seen END"
		       " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_CERT] = "UPDATE devices SET cert_fp = ?2"
		       " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_ANCHOR] = "UPDATE devices SET anchor = ?2"
			 " WHERE fingerprint = " KEY_OF("?1"),
	/* A session's start and end also count as having seen the device. */
	[S_DEV_UP] = "UPDATE devices SET connected = 1, connected_since = ?2,"
		     " capabilities = ?3, last_error = '',"
		     " last_seen = max(last_seen, ?2)"
		     " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_DOWN] = "UPDATE devices SET connected = 0, connected_since = 0,"
		       " last_error = ?3, last_seen = max(last_seen, ?2)"
		       " WHERE fingerprint = " KEY_OF("?1"),
	[S_RESET] = "UPDATE devices SET connected = 0, connected_since = 0,"
		    " last_error = 'hub restarted' WHERE connected <> 0",
	[S_BY_NAME] = "SELECT fingerprint FROM devices WHERE name = ?1",
	/* A key and an alias are never the same fingerprint: one row. */
	[S_BY_FP] = "SELECT fingerprint FROM devices WHERE fingerprint = ?1"
		    " UNION ALL SELECT device FROM identities"
		    " WHERE fingerprint = ?1",
	/* substr, not LIKE: '%' and '_' in the query stay literal. UNION
	 * counts a device once when its key and an alias both match. */
	[S_BY_PREFIX] = "SELECT fingerprint FROM devices"
			" WHERE substr(fingerprint, 1, length(?1)) = ?1"
			" UNION SELECT device FROM identities"
			" WHERE substr(fingerprint, 1, length(?1)) = ?1"
			" LIMIT 2",
	/* Named devices first, by name; then the unnamed by fingerprint. */
	[S_DEV_ALL] = "SELECT " DEV_COLS " FROM devices"
		      " ORDER BY name IS NULL, name, fingerprint",
	[S_EV_ADD] = "INSERT INTO events (time, fingerprint, kind, detail)"
		     " VALUES (?1, " KEY_OF("?2") ", ?3, ?4)",
	/* The newest limit rows, handed out oldest first. */
	[S_EV_ALL] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		     " ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EV_FP] = "SELECT * FROM (SELECT " EV_COLS " FROM events"
		    " WHERE fingerprint = " KEY_OF("?2")
		    " ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_EV_SINCE_ALL] = "SELECT " EV_COLS " FROM events WHERE id > ?2"
			   " ORDER BY id LIMIT ?1",
	[S_EV_SINCE_FP] = "SELECT " EV_COLS " FROM events"
			  " WHERE fingerprint = " KEY_OF("?3")
			  " AND id > ?2 ORDER BY id LIMIT ?1",
	/* IMMEDIATE: take the write lock at once, so a transaction never
	 * fails half-way on a lock upgrade. */
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* The device's key fingerprint, given it or an alias. */
	[S_DEV_KEY] = "SELECT fingerprint FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_RENAME] = "UPDATE devices SET name = ?2"
			 " WHERE fingerprint = " KEY_OF("?1"),
	/* One statement: no row when dev_fp is unknown or fp is a device's
	 * key (told apart afterwards); a PRIMARY KEY conflict when fp is
	 * an alias already. */
	[S_ID_ADD] = "INSERT INTO identities (fingerprint, device, added,"
		     " kind) SELECT ?2, d.fingerprint, ?3, ?4 FROM devices d"
		     " WHERE d.fingerprint = " KEY_OF("?1")
		     " AND NOT EXISTS (SELECT 1 FROM devices"
		     " WHERE fingerprint = ?2)",
	[S_ID_DEL] = "DELETE FROM identities WHERE fingerprint = ?1",
	/* The key first (dated by the first call: devices keep no date of
	 * their own), then the aliases in the order they were added. */
	[S_ID_ALL] = "SELECT fingerprint, first_seen, 0 AS o, 0 AS r"
		     " FROM devices WHERE fingerprint = " KEY_OF("?1")
		     " UNION ALL SELECT fingerprint, added, 1, rowid"
		     " FROM identities WHERE device = " KEY_OF("?1")
		     " ORDER BY o, 2, r",
	/* No row when the device is unknown. */
	[S_JOB_ADD] = "INSERT INTO jobs (device, kind, payload, read_only,"
		      " state, created, expires)"
		      " SELECT fingerprint, ?2, ?3, ?4, 0, ?5, ?6 FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	[S_JOB_EXPIRE] = "UPDATE jobs SET state = 6, finished = ?2"
			 " WHERE device = " KEY_OF("?1") " AND state = 0"
			 " AND expires > 0 AND expires <= ?2",
	[S_JOB_NEXT] = "SELECT " JOB_COLS " FROM jobs"
		       " WHERE device = " KEY_OF("?1") " AND state = 0"
		       " ORDER BY id LIMIT 1",
	/* Each transition names the state it leaves: a job another call
	 * moved first is not moved again (sqlite3_changes says 0). */
	[S_JOB_START] = "UPDATE jobs SET state = 1, started = ?2"
			" WHERE id = ?1 AND state = 0",
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
	/* Recovery: the events first, while the jobs are still running. */
	[S_REC_EVENTS] = "INSERT INTO events (time, fingerprint, kind, detail)"
			 " SELECT ?1, device, CASE WHEN read_only"
			 " THEN 'job-requeued' ELSE 'job-in-doubt' END,"
			 " 'job ' || id || ' (' || kind || '): running when"
			 " the hub stopped; ' || CASE WHEN read_only"
			 " THEN 'read-only, queued again'"
			 " ELSE 'it may or may not have been applied' END"
			 " FROM jobs WHERE state = 1 ORDER BY id",
	[S_REC_DOUBT] = "UPDATE jobs SET state = 4,"
			" error = 'the hub stopped while the job was running'"
			" WHERE state = 1 AND read_only = 0",
	[S_REC_REQUEUE] = "UPDATE jobs SET state = 0, started = 0"
			  " WHERE state = 1 AND read_only <> 0",
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
	rec->idle_close = sqlite3_column_int(s, 10);
	rec->kind = sqlite3_column_int(s, 11);
	copy_text(rec->cert_fp, sizeof(rec->cert_fp),
		  sqlite3_column_text(s, 12));
	copy_text(rec->anchor, sizeof(rec->anchor), sqlite3_column_text(s, 13));
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
	int r;

	if (name && name[0] == '\0')	/* as a record shows "unnamed" */
		name = NULL;
	if (check_fp(fp) != CH_OK || check_admission(admission) != CH_OK ||
	    (name && check_name(name) != CH_OK))
		return CH_ERR_INVAL;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	bind_text(s, 2, name, CH_NAME_MAX + 1);
	sqlite3_bind_int(s, 3, admission);
	sqlite3_bind_int(s, 4, ch_id_kind(fp));
	r = exec_stmt(st, s, "device add");
	if (r == CH_OK && sqlite3_changes(st->db) == 0)
		r = CH_ERR_EXISTS;	/* fp is another device's alias */
	return r;
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

int ch_store_device_set_idle_close(struct ch_store *st, const char *fp,
				   int seconds)
{
	sqlite3_stmt *s = st->stmt[S_DEV_IDLE_CLOSE];

	if (seconds < -1)
		return CH_ERR_INVAL;
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, seconds);
	return exec_update(st, s, "device set idle-close");
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

int ch_store_device_cert_seen(struct ch_store *st, const char *fp,
			      const char *cert_fp, char *prev)
{
	sqlite3_stmt *s = st->stmt[S_DEV_CERT];
	struct ch_device_rec rec;
	int r;

	prev[0] = '\0';
	if (cert_fp == NULL || check_fp(cert_fp) != CH_OK)
		return CH_ERR_INVAL;
	if ((r = ch_store_device_get(st, fp, &rec)) != CH_OK)
		return r;
	memcpy(prev, rec.cert_fp, sizeof(rec.cert_fp));
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	bind_text(s, 2, cert_fp, sizeof(rec.cert_fp));
	return exec_update(st, s, "device certificate seen");
}

int ch_store_device_anchor(struct ch_store *st, const char *fp,
			   const char *anchor, char *bound)
{
	sqlite3_stmt *s = st->stmt[S_DEV_ANCHOR];
	struct ch_device_rec rec;
	int r;

	bound[0] = '\0';
	if (anchor == NULL || check_fp(anchor) != CH_OK)
		return CH_ERR_INVAL;
	if ((r = ch_store_device_get(st, fp, &rec)) != CH_OK)
		return r;
	if (rec.anchor[0]) {
		memcpy(bound, rec.anchor, sizeof(rec.anchor));
		return strcmp(rec.anchor, anchor) == 0 ? CH_OK
						       : CH_ERR_DENIED;
	}
	snprintf(bound, sizeof(rec.anchor), "%s", anchor);
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	bind_text(s, 2, anchor, sizeof(rec.anchor));
	return exec_update(st, s, "device trust anchor");
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
	if ((r = lookup(st, S_BY_NAME, query, fp_out)) == CH_OK) {
		char other[sizeof(prefix)];

		/* A name that is also another device's serial number: the
		 * operator must say which (approve, revoke: no guessing). */
		if (ch_serial_valid(query) &&
		    snprintf(prefix, sizeof(prefix), CH_ID_SERIAL_PREFIX "%s",
			     query) < (int)sizeof(prefix) &&
		    lookup(st, S_BY_FP, prefix, other) == CH_OK &&
		    strcmp(other, fp_out) != 0) {
			fp_out[0] = '\0';
			return CH_ERR_AMBIGUOUS;
		}
		return CH_OK;
	}
	if (r != CH_ERR_NOTFOUND ||
	    (r = lookup(st, S_BY_FP, query, fp_out)) != CH_ERR_NOTFOUND)
		return r;
	/* A bare serial number, as printed on the box. */
	if (ch_serial_valid(query) &&
	    snprintf(prefix, sizeof(prefix), CH_ID_SERIAL_PREFIX "%s",
		     query) < (int)sizeof(prefix) &&
	    (r = lookup(st, S_BY_FP, prefix, fp_out)) != CH_ERR_NOTFOUND)
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

static void row_to_event(sqlite3_stmt *s, struct ch_event_rec *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = sqlite3_column_int64(s, 0);
	ev->time = sqlite3_column_int64(s, 1);
	copy_text(ev->fingerprint, sizeof(ev->fingerprint),
		  sqlite3_column_text(s, 2));
	copy_text(ev->kind, sizeof(ev->kind), sqlite3_column_text(s, 3));
	copy_text(ev->detail, sizeof(ev->detail), sqlite3_column_text(s, 4));
}

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
		row_to_event(s, &ev);
		if ((r = fn(ctx, &ev)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = db_fail(st, "event list");
	done(s);
	return r;
}

/* Starts a filtered walk: ?1 the row limit (<= 0: all), ?2 the walk's
 * own argument, ?3 the fingerprint when filtering by device. A statement
 * already stepping means a walk inside a walk's callback: refused. */
static int walk_begin(struct ch_store *st, sqlite3_stmt *s, const char *what,
		      int limit, int64_t arg, const char *fp)
{
	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested %s walk", st->path, what);
		return CH_ERR_INVAL;
	}
	sqlite3_bind_int(s, 1, limit > 0 ? limit : -1);
	sqlite3_bind_int64(s, 2, arg);
	if (fp)
		sqlite3_bind_text(s, 3, fp, -1, SQLITE_STATIC);
	return CH_OK;
}

int ch_store_event_foreach_since(struct ch_store *st, const char *fp,
				 int64_t since_id, int limit,
				 int (*fn)(void *ctx,
					   const struct ch_event_rec *),
				 void *ctx)
{
	sqlite3_stmt *s = st->stmt[fp ? S_EV_SINCE_FP : S_EV_SINCE_ALL];
	struct ch_event_rec ev;
	int rc, r;

	if ((r = walk_begin(st, s, "event", limit, since_id, fp)) != CH_OK)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_event(s, &ev);
		if ((r = fn(ctx, &ev)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = db_fail(st, "event list");
	done(s);
	return r;
}

/* ---- transactions (for calls of more than one statement) ---- */

static int tx_begin(struct ch_store *st)
{
	return exec_stmt(st, st->stmt[S_BEGIN], "begin");
}

static void tx_rollback(struct ch_store *st)
{
	sqlite3_stmt *s = st->stmt[S_ROLLBACK];

	/* Fails only when SQLite has rolled back by itself already. */
	sqlite3_step(s);
	done(s);
}

/* Commits, or rolls back when that fails so that the connection is not
 * left inside a transaction. */
static int tx_commit(struct ch_store *st)
{
	int r = exec_stmt(st, st->stmt[S_COMMIT], "commit");

	if (r != CH_OK)
		tx_rollback(st);
	return r;
}

/* ---- identities ---- */

int ch_store_identity_add(struct ch_store *st, const char *dev_fp,
			  const char *fp, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_ID_ADD];
	char key[sizeof(((struct ch_device_rec *)0)->fingerprint)];
	int r;

	if (check_fp(fp) != CH_OK)
		return CH_ERR_INVAL;
	if (check_fp(dev_fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, dev_fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int(s, 4, ch_id_kind(fp));
	r = exec_stmt(st, s, "identity add");
	if (r != CH_OK || sqlite3_changes(st->db) > 0)
		return r;
	/* No row: either the device is unknown or fp is a device's key. */
	r = lookup(st, S_DEV_KEY, dev_fp, key);
	return r == CH_OK ? CH_ERR_EXISTS : r;
}

int ch_store_identity_remove(struct ch_store *st, const char *fp)
{
	sqlite3_stmt *s = st->stmt[S_ID_DEL];
	char key[sizeof(((struct ch_device_rec *)0)->fingerprint)];
	int r;

	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	r = exec_stmt(st, s, "identity remove");
	if (r != CH_OK || sqlite3_changes(st->db) > 0)
		return r;
	/* Not an alias: a device's own key may not go (revoke instead). */
	r = lookup(st, S_DEV_KEY, fp, key);
	return r == CH_OK ? CH_ERR_INVAL : r;
}

int ch_store_identity_foreach(struct ch_store *st, const char *dev_fp,
			      int (*fn)(void *ctx, const char *fp,
					int64_t added),
			      void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_ID_ALL];
	char fp[sizeof(((struct ch_device_rec *)0)->fingerprint)];
	int rc, n = 0, r = CH_OK;

	if (check_fp(dev_fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested identity walk", st->path);
		return CH_ERR_INVAL;
	}
	sqlite3_bind_text(s, 1, dev_fp, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n++;
		copy_text(fp, sizeof(fp), sqlite3_column_text(s, 0));
		if ((r = fn(ctx, fp, sqlite3_column_int64(s, 1))) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = db_fail(st, "identity list");
	else if (r == CH_OK && n == 0)	/* a device has at least its key */
		r = CH_ERR_NOTFOUND;
	done(s);
	return r;
}

int ch_store_device_rename(struct ch_store *st, const char *fp,
			   const char *name)
{
	sqlite3_stmt *s = st->stmt[S_DEV_RENAME];

	if (name && name[0] == '\0')
		name = NULL;
	if (name && check_name(name) != CH_OK)
		return CH_ERR_INVAL;
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	bind_text(s, 2, name, CH_NAME_MAX + 1);
	return exec_update(st, s, "device rename");
}

/* ---- bulk import of serial numbers ---- */

#define IMPORT_LINE_MAX 256	/* longer lines are refused, not cut */

static const char *trim(const char *p, const char *end, const char **tend)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		end--;
	*tend = end;
	return p;
}

/* One line into serial and name ("" if none). NULL, or why it is bad;
 * *skip for a blank or comment line. */
static const char *import_line(const char *p, const char *end, char *serial,
			       char *name, int *skip)
{
	const char *comma, *a, *ae, *b, *be;

	*skip = 0;
	serial[0] = name[0] = '\0';
	if ((comma = memchr(p, '#', (size_t)(end - p))) != NULL)
		end = comma;	/* '#' is in no serial and no name */
	a = trim(p, end, &ae);
	if (a == ae) {
		*skip = 1;
		return NULL;
	}
	if (ae - a > IMPORT_LINE_MAX)
		return "line too long";
	comma = memchr(a, ',', (size_t)(ae - a));
	b = be = ae;
	if (comma) {
		b = trim(comma + 1, ae, &be);
		a = trim(a, comma, &ae);
	}
	memcpy(serial, a, (size_t)(ae - a));
	serial[ae - a] = '\0';
	memcpy(name, b, (size_t)(be - b));
	name[be - b] = '\0';
	if (!ch_serial_valid(serial))
		return "not a serial number (1 to 64 of A-Z a-z 0-9 ' ( ) + - "
		       ". / : = ?)";
	if (name[0] && check_name(name) != CH_OK)
		return "bad NAME (1 to 64 of A-Z a-z 0-9 . _ -)";
	return NULL;
}

/* One serial inside the import's transaction: *why set when the line is
 * refused. An error return (CH_ERR_DB) aborts the whole import. */
static int import_one(struct ch_store *st, const char *serial,
		      const char *name, const char *anchor, int64_t now,
		      struct ch_import_counts *c, const char **why)
{
	char id[sizeof(CH_ID_SERIAL_PREFIX) + CH_SERIAL_MAX];
	char key[sizeof(((struct ch_device_rec *)0)->fingerprint)];
	char bound[sizeof(((struct ch_device_rec *)0)->anchor)];
	struct ch_device_rec rec;
	int r;

	*why = NULL;
	snprintf(id, sizeof(id), CH_ID_SERIAL_PREFIX "%s", serial);
	r = lookup(st, S_BY_FP, id, key);
	if (r == CH_OK) {
		/* the list's manufacturer must be the one it is bound to */
		if (anchor && (r = ch_store_device_anchor(st, key, anchor,
							  bound)) != CH_OK) {
			if (r != CH_ERR_DENIED)
				return r;
			*why = "serial already bound to another trust anchor";
			return CH_OK;
		}
		c->known++;
		if ((r = ch_store_device_get(st, key, &rec)) != CH_OK)
			return r == CH_ERR_NOTFOUND ? CH_OK : r;
		if (rec.admission != CH_ADMIT_PENDING)
			return CH_OK;
		if ((r = ch_store_device_set_admission(st, key,
				CH_ADMIT_ADMITTED)) != CH_OK ||
		    (r = ch_store_event_add(st, key, "approved", "admitted: "
				"listed in an imported serial list",
				now)) != CH_OK)
			return r;
		c->approved++;
		return CH_OK;
	}
	if (r != CH_ERR_NOTFOUND)
		return r;
	r = ch_store_device_add(st, id, name[0] ? name : NULL,
				CH_ADMIT_ADMITTED);
	if (r == CH_ERR_EXISTS || r == CH_ERR_INVAL) {
		*why = "NAME already belongs to another device";
		return CH_OK;
	}
	if (r != CH_OK || (r = ch_store_event_add(st, id, "added",
				anchor ? "pre-provisioned from a serial list, "
				"bound to its manufacturer's trust anchor"
				: "pre-provisioned from a serial list",
				now)) != CH_OK ||
	    (anchor && (r = ch_store_device_anchor(st, id, anchor, bound)) !=
		    CH_OK))
		return r;
	c->added++;
	return CH_OK;
}

int ch_store_import_serials(struct ch_store *st, const char *text, size_t len,
			    const char *anchor, int64_t now,
			    struct ch_import_counts *counts,
			    void (*bad)(void *ctx, unsigned line,
					const char *why),
			    void *ctx)
{
	const char *p = text, *end = text + len, *nl, *why;
	char serial[IMPORT_LINE_MAX + 1], name[IMPORT_LINE_MAX + 1];
	size_t lines = 0;
	unsigned lineno = 0;
	int skip, r;

	memset(counts, 0, sizeof(*counts));
	if (anchor && check_fp(anchor) != CH_OK)
		return CH_ERR_INVAL;
	for (const char *q = text; q < end; q++)
		if (*q == '\n')
			lines++;
	if (lines > CH_IMPORT_MAX_LINES ||
	    (lines == CH_IMPORT_MAX_LINES && len && end[-1] != '\n'))
		return CH_ERR_LIMIT;
	if ((r = tx_begin(st)) != CH_OK)
		return r;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		why = import_line(p, nl, serial, name, &skip);
		if (skip)
			continue;
		if (why == NULL &&
		    (r = import_one(st, serial, name, anchor, now, counts,
				    &why)) !=
			    CH_OK) {
			tx_rollback(st);
			memset(counts, 0, sizeof(*counts));
			return r;
		}
		if (why == NULL)
			continue;
		counts->invalid++;
		if (bad)
			bad(ctx, lineno, why);
	}
	if ((r = tx_commit(st)) != CH_OK)
		memset(counts, 0, sizeof(*counts));
	return r;
}

/* ---- jobs ---- */

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
	copy_text(rec->fingerprint, sizeof(rec->fingerprint),
		  sqlite3_column_text(s, 1));
	copy_text(rec->kind, sizeof(rec->kind), sqlite3_column_text(s, 2));
	rec->read_only = sqlite3_column_int(s, 4);
	rec->state = sqlite3_column_int(s, 5);
	rec->created = sqlite3_column_int64(s, 6);
	rec->expires = sqlite3_column_int64(s, 7);
	rec->started = sqlite3_column_int64(s, 8);
	rec->finished = sqlite3_column_int64(s, 9);
	rec->rpc_error = sqlite3_column_int(s, 11);
	copy_text(rec->method, sizeof(rec->method), sqlite3_column_text(s, 12));
	copy_text(rec->error, sizeof(rec->error), sqlite3_column_text(s, 13));
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
		r = db_fail(st, what);
	done(s);
	return r;
}

/* Runs a transition of job id (an UPDATE ... WHERE state = expected).
 * When no row moved, tells an unknown job (CH_ERR_NOTFOUND) from one
 * in another state (CH_ERR_INVAL). */
static int job_transition(struct ch_store *st, sqlite3_stmt *s, int64_t id,
			  const char *what)
{
	sqlite3_stmt *q = st->stmt[S_JOB_STATE];
	int rc, r = exec_stmt(st, s, what);

	if (r != CH_OK || sqlite3_changes(st->db) > 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = CH_ERR_INVAL;
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;
	else
		r = db_fail(st, what);
	done(q);
	return r;
}

int ch_store_job_add(struct ch_store *st, const char *fp, const char *kind,
		     const char *payload, int read_only, int64_t expires,
		     int64_t now, int64_t *id)
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
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	if (payload)
		sqlite3_bind_text(s, 3, payload, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, read_only != 0);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, expires);
	r = exec_stmt(st, s, "job add");
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
	int r;

	memset(rec, 0, sizeof(*rec));
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	/* One transaction: a job cannot expire between the two steps. */
	if ((r = tx_begin(st)) != CH_OK)
		return r;
	sqlite3_bind_text(x, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(x, 2, now);
	if ((r = exec_stmt(st, x, "job expire")) != CH_OK)
		goto out;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	r = read_job(st, s, rec, "job next");
out:
	/* The expiries stand whatever the read found (or failed to copy). */
	if (r == CH_ERR_DB) {
		tx_rollback(st);
	} else {
		int c = tx_commit(st);

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
		r = db_fail(st, "job finish: storing the result");
		done(s);
		return r;
	}
	sqlite3_bind_int(s, 5, rpc_error != 0);
	bind_text(s, 6, method ? method : "",
		  sizeof(((struct ch_job_rec *)0)->method));
	bind_text(s, 7, error ? error : "", CH_STORE_TEXT_MAX);
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

int ch_store_job_foreach(struct ch_store *st, const char *fp, int limit,
			 unsigned states_mask,
			 int (*fn)(void *ctx, const struct ch_job_rec *),
			 void *ctx)
{
	sqlite3_stmt *s = st->stmt[fp ? S_JOB_FP : S_JOB_ALL];
	struct ch_job_rec rec;
	int rc, r;

	if ((r = walk_begin(st, s, "job", limit, states_mask, fp)) != CH_OK)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = row_to_job(s, &rec)) != CH_OK)
			break;
		r = fn(ctx, &rec);
		ch_job_rec_cleanup(&rec);
		if (r != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = db_fail(st, "job list");
	done(s);
	return r;
}

int ch_store_job_count_queued(struct ch_store *st, const char *fp, int *n)
{
	sqlite3_stmt *s = st->stmt[S_JOB_COUNT];
	int rc, r = CH_OK;

	*n = 0;
	if (check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int(s, 0);
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;	/* no such device */
	else
		r = db_fail(st, "job count");
	done(s);
	return r;
}

int ch_store_jobs_recover(struct ch_store *st, int64_t now, int *in_doubt)
{
	sqlite3_stmt *ev = st->stmt[S_REC_EVENTS];
	int n = 0, r;

	*in_doubt = 0;
	if ((r = tx_begin(st)) != CH_OK)
		return r;
	/* Events first, while the jobs still say which were running. */
	sqlite3_bind_int64(ev, 1, now);
	if ((r = exec_stmt(st, ev, "job recovery")) != CH_OK ||
	    (r = exec_stmt(st, st->stmt[S_REC_DOUBT], "job recovery")) !=
		    CH_OK)
		goto out;
	n = sqlite3_changes(st->db);
	r = exec_stmt(st, st->stmt[S_REC_REQUEUE], "job recovery");
out:
	if (r == CH_OK)
		r = tx_commit(st);
	else
		tx_rollback(st);
	if (r == CH_OK)
		*in_doubt = n;
	return r;
}
