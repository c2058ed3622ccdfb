/* db.c - the registry's database: open (WAL, busy timeout, foreign keys),
 * schema migrations, statement preparation, the helpers the table files
 * share, and transactions. Every SQL statement of callhome lives under
 * src/hub/registry/ (style B4), each in the file of its table.
 *
 * One connection, opened once; every statement prepared once at open. Most
 * public calls are one statement, so SQLite's autocommit makes each logical
 * change one transaction; calls that need several statements (job_next,
 * jobs_recover, import_serials) and migrations take an explicit one. The
 * devices' own records are the exception: inside ch_store_group_enter()
 * their writes join one open transaction (store.h, "Group commit"), and
 * every write outside a group commits that group first (reg_exec).
 *
 * Aliases: a fingerprint argument is mapped to its device's key fingerprint
 * inside the statement itself (KEY_OF), so that mapping and the change are
 * one atomic step and no extra round trip is needed.
 */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

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
	/* 6: the audit log, who did what (audit.c); NULL where a field does
	 * not apply. Read by time, whole or of one device. */
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY,"
	" time INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" uid INTEGER,"
	" via TEXT NOT NULL,"
	" fingerprint TEXT,"
	" action TEXT NOT NULL,"
	" outcome TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '',"
	" recording TEXT,"
	" exit_status INTEGER,"
	" bytes_in INTEGER,"
	" bytes_out INTEGER,"
	" duration_ms INTEGER);"
	"CREATE INDEX audit_time ON audit(time);"
	"CREATE INDEX audit_fp_time ON audit(fingerprint, time);",
	/* 7: queued jobs expire on time (jobs.c's timer on the nearest
	 * expiry); and whether a change is copied to startup (0: the
	 * operator said not to) */
	("CREATE INDEX jobs_state_expires ON jobs(state, expires);"
	 "ALTER TABLE jobs ADD COLUMN startup INTEGER NOT NULL DEFAULT 1;"),
	/* 8: a pending or revoked device's refused calls, counted since its
	 * admission last changed, and when one was last logged */
	"ALTER TABLE devices ADD COLUMN refused_calls INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN last_refused INTEGER NOT NULL"
	" DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN refused_logged INTEGER NOT NULL"
	" DEFAULT 0;",
	/* 9: fleet operations: tags on devices (a group is the tag
	 * group=NAME, of which a device may have several), selected by
	 * key and value; bulk jobs, one job per device in one batch */
	("CREATE TABLE tags ("
	 " device TEXT NOT NULL REFERENCES devices(fingerprint)"
	 " ON DELETE CASCADE,"
	 " key TEXT NOT NULL,"
	 " value TEXT NOT NULL,"
	 " PRIMARY KEY (device, key, value)) WITHOUT ROWID;"
	 "CREATE INDEX tags_kv ON tags(key, value, device);"
	 "CREATE TABLE batches ("
	 " id INTEGER PRIMARY KEY,"
	 " created INTEGER NOT NULL,"
	 " kind TEXT NOT NULL,"
	 " selector TEXT NOT NULL DEFAULT '',"
	 " rate INTEGER NOT NULL DEFAULT 0,"
	 " actor TEXT NOT NULL DEFAULT '');"
	 "ALTER TABLE jobs ADD COLUMN batch INTEGER NOT NULL DEFAULT 0;"
	 "CREATE INDEX jobs_batch ON jobs(batch, state);"),
	/* 10: the configuration archive (configs.c): each device's running
	 * configuration, a version when its bytes changed; a device's
	 * versions go with it */
	"CREATE TABLE configs ("
	" id INTEGER PRIMARY KEY,"
	" device TEXT NOT NULL REFERENCES devices(fingerprint)"
	" ON DELETE CASCADE,"
	" version INTEGER NOT NULL,"
	" time INTEGER NOT NULL,"
	" hash TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" trigger TEXT NOT NULL DEFAULT '',"
	" content TEXT NOT NULL);"
	"CREATE UNIQUE INDEX configs_device_version ON configs(device, version);",
	/* 11: a new device's name is checked against every other without
	 * regard to case (ch_store_name_check): by index, not a scan of
	 * every device at each enrollment */
	"CREATE INDEX devices_name_nocase ON devices(name COLLATE NOCASE);",
	/* 12: which process of the hub holds a device's session and runs a
	 * job (its pid, ch_store_set_holder): when a worker dies, its own
	 * are ended, never a newer session or job of another worker */
	"ALTER TABLE devices ADD COLUMN holder INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN holder INTEGER NOT NULL DEFAULT 0;",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- prepared statements ---- */

const char *const reg_sql_db[S_COUNT] = {
	/* IMMEDIATE: take the write lock at once, so a transaction never
	 * fails half-way on a lock upgrade. */
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* a transaction of several statements inside the open group */
	[S_SAVEPOINT] = "SAVEPOINT tx",
	[S_RELEASE] = "RELEASE tx",
	[S_ROLLBACK_TO] = "ROLLBACK TO tx",
};

static const char *const *const stmt_tables[] = {
	reg_sql_db, reg_sql_devices, reg_sql_identities, reg_sql_events,
	reg_sql_jobs, reg_sql_audit, reg_sql_tags, reg_sql_batches,
	reg_sql_configs,
};

/* The text of statement id, from the file that owns it. */
static const char *stmt_text(int id)
{
	for (size_t i = 0; i < sizeof(stmt_tables) / sizeof(stmt_tables[0]);
	     i++)
		if (stmt_tables[i][id])
			return stmt_tables[i][id];
	return NULL;
}

/* ---- helpers ---- */

int reg_fail(struct ch_store *st, const char *what)
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
void reg_copy_text(char *dst, size_t size, const unsigned char *src)
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
int reg_bind_text(sqlite3_stmt *s, int idx, const char *text, size_t size)
{
	if (text == NULL)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text,
				 (int)utf8_cut(text, strlen(text), size - 1),
				 SQLITE_TRANSIENT);
}

void reg_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int reg_prune(struct ch_store *st, int sid, int64_t keep, const char *what)
{
	sqlite3_stmt *s = st->stmt[sid];
	int r;

	if (keep < 0)
		return CH_ERR_INVAL;
	sqlite3_bind_int64(s, 1, keep);
	if ((r = reg_exec(st, s, what)) == CH_OK &&
	    sqlite3_changes(st->db) > 0)
		ch_info("store %s: dropped the %d oldest %s (%lld kept)",
			st->path, sqlite3_changes(st->db), what,
			(long long)keep);
	return r;
}

/* Steps a statement that returns no rows, as it is. */
static int step_done(struct ch_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s), r = CH_OK;

	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		r = CH_ERR_EXISTS;
	else if (rc != SQLITE_DONE)
		r = reg_fail(st, what);
	reg_done(s);
	return r;
}

/* ---- group commit (store.h) ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SQLite may roll a transaction back by itself (a full disk, an I/O
 * error): then the group is gone, and with it its writes. */
static void group_check_alive(struct ch_store *st)
{
	if (st->group_open && sqlite3_get_autocommit(st->db)) {
		ch_error("store %s: the records of the last %d ms were rolled "
			 "back (%d writes)", st->path,
			 (int)(mono_ms() - st->group_t0), st->group_n);
		st->group_open = 0;
		st->group_n = 0;
		st->tx_in_group = 0;
	}
}

int ch_store_flush(struct ch_store *st)
{
	int r;

	if (st == NULL)
		return CH_OK;
	group_check_alive(st);
	if (!st->group_open)
		return CH_OK;
	st->group_open = 0;
	st->group_n = 0;
	st->tx_in_group = 0;
	if ((r = step_done(st, st->stmt[S_COMMIT], "commit of records")) !=
	    CH_OK) {
		sqlite3_step(st->stmt[S_ROLLBACK]);
		reg_done(st->stmt[S_ROLLBACK]);
	}
	return r;
}

void ch_store_group_enter(struct ch_store *st)
{
	st->group_depth++;
}

void ch_store_group_leave(struct ch_store *st)
{
	if (st->group_depth > 0)
		st->group_depth--;
	group_check_alive(st);
	if (st->group_open && st->group_depth == 0 && !st->tx_in_group &&
	    (st->group_n >= CH_STORE_GROUP_MAX ||
	     mono_ms() - st->group_t0 >= st->group_ms))
		ch_store_flush(st);
}

void ch_store_set_group_ms(struct ch_store *st, int ms)
{
	st->group_ms = ms;
}

int ch_store_group_ms(const struct ch_store *st)
{
	return st->group_ms;
}

/* Another process (a worker of the hub) has the write lock: wait for it
 * in short steps. SQLite's own handler sleeps longer and longer (up to
 * 100 ms a time) and the loop with it, long after the lock is free;
 * several processes taking turns at short transactions want a waiter
 * that notices at once. Up to CH_STORE_BUSY_MS in all. */
static int busy_wait(void *ctx, int count)
{
	struct ch_store *st = ctx;
	int64_t now = mono_ms();

	if (count == 0)
		st->busy_t0 = now;
	if (now - st->busy_t0 >= CH_STORE_BUSY_MS)
		return 0;
	usleep(count < 10 ? 50 : 200);
	return 1;
}

int ch_store_group_pending(const struct ch_store *st)
{
	return st != NULL && st->group_open;
}

/* Before a write: into the group (opened now if need be) inside
 * ch_store_group_enter(), else the group committed first. */
static int group_before_write(struct ch_store *st)
{
	int r;

	group_check_alive(st);
	if (st->group_depth == 0)
		return ch_store_flush(st);
	if (st->group_open)
		return CH_OK;
	if ((r = step_done(st, st->stmt[S_BEGIN], "begin of records")) !=
	    CH_OK)
		return r;
	st->group_open = 1;
	st->group_n = 0;
	st->group_t0 = mono_ms();
	return CH_OK;
}

int reg_exec(struct ch_store *st, sqlite3_stmt *s, const char *what)
{
	int r;

	/* A failed begin leaves an autocommit write: still written. */
	group_before_write(st);
	r = step_done(st, s, what);
	if (st->group_open)
		st->group_n++;
	return r;
}

/* Steps an UPDATE of one device: CH_ERR_NOTFOUND when no row matched. */
int reg_exec_update(struct ch_store *st, sqlite3_stmt *s, const char *what)
{
	int r = reg_exec(st, s, what);

	if (r == CH_OK && sqlite3_changes(st->db) == 0)
		r = CH_ERR_NOTFOUND;
	return r;
}

int reg_check_fp(const char *fp)
{
	size_t n;

	if (fp == NULL || (n = strlen(fp)) == 0 ||
	    n >= FP_SIZE)
		return CH_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)fp[i] <= 0x20 || fp[i] == 0x7f)
			return CH_ERR_INVAL;
	return CH_OK;
}

const char *reg_name_problem(const char *name)
{
	char id[CH_ID_LEN];
	size_t n = strlen(name);

	if (n < 1 || n > CH_NAME_MAX)
		return "a name is 1 to " CH_STR(CH_NAME_MAX) " characters";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return "a name is made of A-Z a-z 0-9 . _ -";
	}
	/* An option to the CLI, a directory to a shell */
	if (name[0] == '-')
		return "a name may not start with '-'";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "a name may not be '.' or '..'";
	/* A name must never read as an identity: "SHA256:" (':' is refused
	 * above anyway), the base64 of an SSH fingerprint without it, or
	 * a certificate fingerprint in hex. */
	if ((snprintf(id, sizeof(id), FP_PREFIX "%s", name) < (int)sizeof(id)
	     && ch_id_ssh_valid(id)) ||
	    ch_id_cert_normalize(name, id, sizeof(id)))
		return "a name may not look like a fingerprint";
	return NULL;
}

int reg_check_name(const char *name)
{
	return reg_name_problem(name) ? CH_ERR_INVAL : CH_OK;
}

/* Runs a one-column lookup bound to text; copies a unique hit to fp_out.
 * CH_OK, CH_ERR_NOTFOUND, CH_ERR_AMBIGUOUS (a second row). */
int reg_lookup(struct ch_store *st, enum stmt_id id, const char *text,
	       char *fp_out)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc, r = CH_ERR_NOTFOUND;

	sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		reg_copy_text(fp_out, FP_SIZE, sqlite3_column_text(s, 0));
		r = CH_OK;
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			r = CH_ERR_AMBIGUOUS;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = reg_fail(st, "device resolve");
	reg_done(s);
	if (r != CH_OK)
		fp_out[0] = '\0';
	return r;
}

/* Starts a filtered walk: ?1 the row limit (<= 0: all), ?2 the walk's
 * own argument, ?3 the fingerprint when filtering by device. A statement
 * already stepping means a walk inside a walk's callback: refused. */
int reg_walk_begin(struct ch_store *st, sqlite3_stmt *s, const char *what,
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

/* ---- open, migrate, close ---- */

static int get_user_version(struct ch_store *st, int *version)
{
	sqlite3_stmt *s = NULL;
	int r = CH_OK;

	*version = 0;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
		    SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		r = reg_fail(st, "reading the schema version");
	else
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return r;
}

static int exec_sql(struct ch_store *st, const char *sql, const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return reg_fail(st, what);
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
		r = reg_fail(st, sql);
	else
		reg_copy_text(out, size, sqlite3_column_text(s, 0));
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
		reg_fail(st, "cannot open");
		goto out;
	}
	/* Constraint failures come back as e.g. SQLITE_CONSTRAINT_UNIQUE. */
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_handler(st->db, busy_wait, st);
	st->group_ms = CH_STORE_GROUP_MS;
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
		const char *sql = stmt_text(i);

		if (sql == NULL ||
		    sqlite3_prepare_v3(st->db, sql, -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK) {
			r = reg_fail(st, "preparing a statement");
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
	ch_store_flush(st);	/* the records of the last moments too */
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	/* With every statement finalized this cannot fail with BUSY. */
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		ch_error("store %s: close: %s", st->path,
			 sqlite3_errmsg(st->db));
	free(st->path);
	free(st);
}

/* ---- transactions (for calls of more than one statement) ---- */

int reg_tx_begin(struct ch_store *st)
{
	int r;

	if ((r = group_before_write(st)) != CH_OK || !st->group_open)
		return step_done(st, st->stmt[S_BEGIN], "begin");
	if (st->tx_in_group) {
		ch_error("store %s: nested transaction", st->path);
		return CH_ERR_INVAL;
	}
	if ((r = step_done(st, st->stmt[S_SAVEPOINT], "savepoint")) == CH_OK)
		st->tx_in_group = 1;
	return r;
}

void reg_tx_rollback(struct ch_store *st)
{
	sqlite3_stmt *s = st->stmt[S_ROLLBACK];

	group_check_alive(st);
	if (st->group_open && st->tx_in_group) {
		/* the transaction's writes only, not the group's */
		st->tx_in_group = 0;
		step_done(st, st->stmt[S_ROLLBACK_TO], "rollback to");
		step_done(st, st->stmt[S_RELEASE], "release");
		return;
	}
	/* Fails only when SQLite has rolled back by itself already. */
	sqlite3_step(s);
	reg_done(s);
}

/* Commits, or rolls back when that fails so that the connection is not
 * left inside a transaction. */
int reg_tx_commit(struct ch_store *st)
{
	int r;

	group_check_alive(st);
	if (st->group_open && st->tx_in_group) {
		if ((r = step_done(st, st->stmt[S_RELEASE], "release")) !=
		    CH_OK) {
			reg_tx_rollback(st);	/* to the savepoint */
			return r;
		}
		st->tx_in_group = 0;
		st->group_n++;
		return r;
	}
	if ((r = step_done(st, st->stmt[S_COMMIT], "commit")) != CH_OK)
		reg_tx_rollback(st);
	return r;
}
