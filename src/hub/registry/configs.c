/* configs.c - the registry's configs table: the configuration archive,
 * each device's running configuration as versions 1, 2, ... (a new one
 * only when its hash differs from the newest), the oldest pruned past a
 * bound. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <stdlib.h>
#include <string.h>

#define CFG_COLS "version, time, hash, size, trigger"

const char *const reg_sql_configs[S_COUNT] = {
	[S_CFG_LATEST] = "SELECT version, hash FROM configs"
			 " WHERE device = " KEY_OF("?1")
			 " ORDER BY version DESC LIMIT 1",
	[S_CFG_ADD] = "INSERT INTO configs"
		      " (device, version, time, hash, size, trigger, content)"
		      " VALUES (" KEY_OF("?1") ", ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_CFG_PRUNE] = "DELETE FROM configs WHERE device = " KEY_OF("?1")
			" AND version <= ?2",
	[S_CFG_GET_VER] = "SELECT " CFG_COLS ", content FROM configs"
			  " WHERE device = " KEY_OF("?1") " AND version = ?2",
	/* the version in force at ?2: the newest stored at or before it */
	[S_CFG_GET_AT] = "SELECT " CFG_COLS ", content FROM configs"
			 " WHERE device = " KEY_OF("?1") " AND time <= ?2"
			 " ORDER BY version DESC LIMIT 1",
	[S_CFG_ALL] = "SELECT " CFG_COLS " FROM configs"
		      " WHERE device = " KEY_OF("?1") " ORDER BY version",
};

void ch_config_rec_cleanup(struct ch_config_rec *rec)
{
	free(rec->content);
	rec->content = NULL;
}

/* The columns CFG_COLS of s into rec (content left alone). */
static void row_to_config(sqlite3_stmt *s, struct ch_config_rec *rec)
{
	rec->version = sqlite3_column_int64(s, 0);
	rec->time = sqlite3_column_int64(s, 1);
	reg_copy_text(rec->hash, sizeof(rec->hash), sqlite3_column_text(s, 2));
	rec->size = sqlite3_column_int64(s, 3);
	reg_copy_text(rec->trigger, sizeof(rec->trigger),
		      sqlite3_column_text(s, 4));
}

/* The newest version of fp and its hash (0 and "" when none). */
static int latest(struct ch_store *st, const char *fp, int64_t *version,
		  char *hash, size_t hlen)
{
	sqlite3_stmt *s = st->stmt[S_CFG_LATEST];
	int rc, r = CH_OK;

	*version = 0;
	hash[0] = '\0';
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*version = sqlite3_column_int64(s, 0);
		reg_copy_text(hash, hlen, sqlite3_column_text(s, 1));
	} else if (rc != SQLITE_DONE) {
		r = reg_fail(st, "config latest");
	}
	reg_done(s);
	return r;
}

int ch_store_config_add(struct ch_store *st, const char *fp, int64_t now,
			const char *hash, const char *trigger,
			const char *content, size_t len, int keep,
			int64_t *version, int *added)
{
	sqlite3_stmt *s = st->stmt[S_CFG_ADD], *p = st->stmt[S_CFG_PRUNE];
	char prev[CH_CONFIG_HASH_LEN];
	int64_t v;
	int r;

	*version = 0;
	*added = 0;
	if (reg_check_fp(fp) != CH_OK || hash == NULL || hash[0] == '\0' ||
	    strlen(hash) >= sizeof(prev) || keep < 1 || len > INT32_MAX)
		return CH_ERR_INVAL;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	if ((r = latest(st, fp, &v, prev, sizeof(prev))) != CH_OK)
		goto rollback;
	if (v > 0 && strcmp(prev, hash) == 0) {
		*version = v;		/* the same bytes: nothing new */
		reg_tx_rollback(st);
		return CH_OK;
	}
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v + 1);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_text(s, 4, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (int64_t)len);
	reg_bind_text(s, 6, trigger ? trigger : "", CH_STORE_TEXT_MAX);
	sqlite3_bind_text(s, 7, content ? content : "", (int)len,
			  SQLITE_STATIC);
	if ((r = reg_exec(st, s, "config add")) != CH_OK)
		goto rollback;
	sqlite3_bind_text(p, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 2, v + 1 - keep);
	if ((r = reg_exec(st, p, "config prune")) != CH_OK)
		goto rollback;
	if ((r = reg_tx_commit(st)) != CH_OK)
		return r;
	*version = v + 1;
	*added = 1;
	return CH_OK;
rollback:
	reg_tx_rollback(st);
	return r;
}

int ch_store_config_get(struct ch_store *st, const char *fp, int64_t version,
			int64_t at, struct ch_config_rec *rec)
{
	sqlite3_stmt *s = st->stmt[version > 0 ? S_CFG_GET_VER : S_CFG_GET_AT];
	const unsigned char *c;
	int rc, r = CH_ERR_NOTFOUND;
	int n;

	memset(rec, 0, sizeof(*rec));
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, version > 0 ? version
				 : at > 0 ? at : INT64_MAX);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_to_config(s, rec);
		c = sqlite3_column_text(s, 5);
		n = sqlite3_column_bytes(s, 5);
		if ((rec->content = malloc((size_t)n + 1)) == NULL) {
			r = CH_ERR_NOMEM;
		} else {
			memcpy(rec->content, c ? (const char *)c : "",
			       (size_t)n);
			rec->content[n] = '\0';
			r = CH_OK;
		}
	} else if (rc != SQLITE_DONE) {
		r = reg_fail(st, "config get");
	}
	reg_done(s);
	return r;
}

int ch_store_config_foreach(struct ch_store *st, const char *fp,
			    int (*fn)(void *ctx,
				      const struct ch_config_rec *rec),
			    void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_CFG_ALL];
	struct ch_config_rec rec;
	int rc, r = CH_OK;

	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested config walk", st->path);
		return CH_ERR_INVAL;
	}
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&rec, 0, sizeof(rec));
		row_to_config(s, &rec);
		if ((r = fn(ctx, &rec)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "config list");
	reg_done(s);
	return r;
}
