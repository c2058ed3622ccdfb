/* store_int.h - the registry's insides, shared by its files (style C2):
 * the connection and its prepared statements, and the helpers every
 * table's file uses. Only src/hub/registry/ includes this.
 *
 * Each table's file owns its SQL: a table of statement texts indexed by
 * enum stmt_id (the ids of other files left NULL); db.c prepares them all
 * at open.
 */
#ifndef CH_STORE_INT_H
#define CH_STORE_INT_H

#include <sqlite3.h>

#include "hub/registry/store.h"

#define FP_PREFIX CH_ID_SSH_PREFIX
#define FP_PREFIX_LEN (sizeof(FP_PREFIX) - 1)
#define FP_SIZE sizeof(((struct ch_device_rec *)0)->fingerprint)

/* The device key fingerprint for parameter p, which may be an alias; an
 * unknown fingerprint stays itself (and then matches no device). The
 * subquery does not depend on the row, so an index on the compared column
 * is still used. */
#define KEY_OF(p) "coalesce((SELECT device FROM identities" \
	" WHERE fingerprint = " p "), " p ")"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_DEV_GET,
	S_DEV_ADD,
	S_DEV_ADMISSION,
	S_DEV_REFUSED,
	S_DEV_IDLE_CLOSE,
	S_DEV_SEEN,
	S_DEV_CERT,
	S_DEV_ANCHOR,
	S_DEV_UP,
	S_DEV_DOWN,
	S_RESET,
	S_LOST_SEL,
	S_LOST_EV,
	S_LOST_DEV,
	S_BY_NAME,
	S_BY_FP,
	S_BY_PREFIX,
	S_DEV_KEY,
	S_DEV_RENAME,
	S_NAME_NOCASE,
	S_PREFIX_ALL,
	S_DEV_ACTIVE,
	S_DEV_DEL_JOBS,
	S_DEV_DEL_IDS,
	S_DEV_DEL,
	S_CENSUS,
	S_ID_ADD,
	S_ID_DEL,
	S_ID_ALL,
	S_EV_ADD,
	S_EV_ALL,
	S_EV_FP,
	S_EV_SINCE_ALL,
	S_EV_SINCE_FP,
	S_JOB_ADD,
	S_JOB_EXPIRE,
	S_JOB_NEXT,
	S_JOB_ANY,
	S_JOB_START,
	S_JOB_FINISH,
	S_JOB_CANCEL,
	S_JOB_REQUEUE,
	S_JOB_GET,
	S_JOB_STATE,
	S_JOB_ALL,
	S_JOB_FP,
	S_JOB_COUNT,
	S_JOB_NEXT_EXPIRY,
	S_JOB_DUE,
	S_JOB_EXPIRE_ID,
	S_REC_EVENTS,
	S_REC_DOUBT,
	S_REC_REQUEUE,
	S_AU_ADD,
	S_AU_ALL,
	S_AU_FP,
	S_AU_PRUNE,
	S_TAG_DEL_KEY,
	S_TAG_DEL_ONE,
	S_TAG_ADD,
	S_TAG_COUNT,
	S_TAG_ALL,
	S_DEV_SEL,
	S_JOB_SEL,
	S_EV_SEL,
	S_EV_SEL_SINCE,
	S_EV_PRUNE,
	S_BATCH_ADD,
	S_BATCH_GET,
	S_BATCH_ALL,
	S_BATCH_COUNTS,
	S_BATCH_OPEN,
	S_JOB_BATCH,
	S_CFG_LATEST,
	S_CFG_ADD,
	S_CFG_PRUNE,
	S_CFG_GET_VER,
	S_CFG_GET_AT,
	S_CFG_ALL,
	S_COUNT
};

/* The statement texts of each file, by id. */
extern const char *const reg_sql_db[S_COUNT];		/* db.c */
extern const char *const reg_sql_devices[S_COUNT];	/* devices.c */
extern const char *const reg_sql_identities[S_COUNT];	/* identities.c */
extern const char *const reg_sql_events[S_COUNT];	/* events.c */
extern const char *const reg_sql_jobs[S_COUNT];		/* jobs.c */
extern const char *const reg_sql_audit[S_COUNT];	/* audit.c */
extern const char *const reg_sql_tags[S_COUNT];		/* tags.c */
extern const char *const reg_sql_batches[S_COUNT];	/* batches.c */
extern const char *const reg_sql_configs[S_COUNT];	/* configs.c */

/* Statements are shared, so one ch_store serves one thread at a time (hence
 * SQLITE_OPEN_NOMUTEX); a worker thread opens its own. */
struct ch_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	char *path;		/* for log lines */
	/* group commit (store.h, "Group commit") */
	int group_depth;	/* ch_store_group_enter()s not left yet */
	int group_open;		/* the group's transaction is open */
	int group_n;		/* writes in it */
	int64_t group_t0;	/* ms (monotonic) it was opened at */
	int tx_in_group;	/* a reg_tx_begin() inside it: a savepoint */
	int64_t holder;		/* ch_store_set_holder: this process */
	int group_ms;		/* ch_store_set_group_ms */
	int64_t busy_t0;	/* ms: when the current wait for the lock began */
};

/* ---- helpers (db.c) ---- */

/* Logs what failed with SQLite's text; returns CH_ERR_DB. */
int reg_fail(struct ch_store *st, const char *what);
/* Copies column text into a fixed field, truncating safely; NULL -> "". */
void reg_copy_text(char *dst, size_t size, const unsigned char *src);
/* Binds s (NULL binds SQL NULL) cut to the field size it is read back
 * into, so the database never holds what a record cannot show. */
int reg_bind_text(sqlite3_stmt *s, int idx, const char *text, size_t size);
/* Resets a statement and clears its bindings, for its next use. */
void reg_done(sqlite3_stmt *s);
/* Steps a statement that returns no rows. Every write goes through here:
 * inside ch_store_group_enter() it joins the open group (opening it);
 * outside, it commits the open group first, so that an immediate write
 * is never held back by the records before it. */
int reg_exec(struct ch_store *st, sqlite3_stmt *s, const char *what);
/* Runs statement sid, "DELETE ... WHERE id <= max(id) - ?1", keeping the
 * newest keep rows of a log table (what: "audit records", "events");
 * says how many went. */
int reg_prune(struct ch_store *st, int sid, int64_t keep, const char *what);
/* Steps an UPDATE of one device: CH_ERR_NOTFOUND when no row matched. */
int reg_exec_update(struct ch_store *st, sqlite3_stmt *s, const char *what);
/* CH_OK for an identity that fits a record: printable, no space. */
int reg_check_fp(const char *fp);
/* NULL for a well-formed device name, else why not (a static text):
 * 1 to CH_NAME_MAX of [A-Za-z0-9._-], not starting with '-',
 * not "." or "..", not an SSH fingerprint's base64 or a certificate
 * fingerprint in hex. Whether it collides with another device is
 * ch_store_name_check's. */
const char *reg_name_problem(const char *name);
/* CH_OK when reg_name_problem finds none, else CH_ERR_INVAL. */
int reg_check_name(const char *name);
/* Runs a one-column lookup bound to text; copies a unique hit to fp_out.
 * CH_OK, CH_ERR_NOTFOUND, CH_ERR_AMBIGUOUS (a second row). */
int reg_lookup(struct ch_store *st, enum stmt_id id, const char *text,
	       char *fp_out);
/* Starts a filtered walk: ?1 the row limit (<= 0: all), ?2 the walk's
 * own argument, ?3 the fingerprint when filtering by device. A statement
 * already stepping means a walk inside a walk's callback: refused. */
int reg_walk_begin(struct ch_store *st, sqlite3_stmt *s, const char *what,
		   int limit, int64_t arg, const char *fp);

/* ---- transactions (db.c), for calls of more than one statement ---- */

/* BEGIN IMMEDIATE (the open group committed first); inside a group, a
 * savepoint of the group's transaction instead. */
int reg_tx_begin(struct ch_store *st);
/* Inside a transaction: the jobs that were running in the process holder
 * (0: in any) are in doubt, or queued again when read-only, each an
 * event (jobs.c). *in_doubt: how many are in doubt. */
int reg_jobs_recover(struct ch_store *st, int64_t holder, int64_t now,
		     int *in_doubt);
/* Fails only when SQLite has rolled back by itself already. */
void reg_tx_rollback(struct ch_store *st);
/* Commits, or rolls back when that fails so that the connection is not
 * left inside a transaction. */
int reg_tx_commit(struct ch_store *st);

/* The selection of devices d by a struct ch_select, bound by
 * reg_bind_select: ?10 the tags as a JSON array of [key, value] (every
 * one must be on the device), ?11 the name's GLOB or NULL, ?12 the
 * state (enum ch_sel_state). Done in SQL: tags_kv and the primary keys
 * keep it an index lookup per device and tag. */
#define SEL_WHERE(d) \
	"(?11 IS NULL OR " d ".name GLOB ?11)" \
	" AND (?12 = 0 OR (?12 = 1 AND " d ".connected = 1)" \
	" OR (?12 = 2 AND " d ".connected = 0)" \
	" OR (?12 >= 3 AND " d ".admission = ?12 - 3))" \
	" AND NOT EXISTS (SELECT 1 FROM json_each(?10) j WHERE NOT EXISTS" \
	" (SELECT 1 FROM tags t WHERE t.device = " d ".fingerprint" \
	" AND t.key = json_extract(j.value, '$[0]')" \
	" AND t.value = json_extract(j.value, '$[1]')))"
/* tags.c: binds sel (NULL: every device) to ?10..?12 of s. */
int reg_bind_select(sqlite3_stmt *s, const struct ch_select *sel);
/* jobs.c: steps a bound JOB_COLS query into fn (the walk of
 * ch_store_job_foreach). */
int reg_job_walk(struct ch_store *st, sqlite3_stmt *s, const char *what,
		 int (*fn)(void *ctx, const struct ch_job_rec *), void *ctx);
/* jobs.c: the columns of a job row, as reg_job_walk reads them. */
#define JOB_COLS "id, device, kind, payload, read_only, state, created, " \
	"expires, started, finished, result, rpc_error, method, error, " \
	"startup, batch"
/* devices.c: the columns of a device row, as reg_row_to_device reads. */
#define DEV_COLS "fingerprint, name, admission, connected, address, " \
	"first_seen, last_seen, connected_since, capabilities, last_error, " \
	"idle_close, kind, cert_fp, anchor, refused_calls, last_refused, " \
	"refused_logged"

/* devices.c: a device row (DEV_COLS) into rec. */
void reg_row_to_device(sqlite3_stmt *s, struct ch_device_rec *rec);

#endif
