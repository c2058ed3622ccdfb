/* identities.c - the registry's identities table: further keys of a
 * device (key rotation, aliases). */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <string.h>

const char *const reg_sql_identities[S_COUNT] = {
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
};

int ch_store_identity_add(struct ch_store *st, const char *dev_fp,
			  const char *fp, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_ID_ADD];
	char key[FP_SIZE];
	int r;

	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_INVAL;
	if (reg_check_fp(dev_fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, dev_fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int(s, 4, ch_id_kind(fp));
	r = reg_exec(st, s, "identity add");
	if (r != CH_OK || sqlite3_changes(st->db) > 0)
		return r;
	/* No row: either the device is unknown or fp is a device's key. */
	r = reg_lookup(st, S_DEV_KEY, dev_fp, key);
	return r == CH_OK ? CH_ERR_EXISTS : r;
}

int ch_store_identity_remove(struct ch_store *st, const char *fp)
{
	sqlite3_stmt *s = st->stmt[S_ID_DEL];
	char key[FP_SIZE];
	int r;

	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	r = reg_exec(st, s, "identity remove");
	if (r != CH_OK || sqlite3_changes(st->db) > 0)
		return r;
	/* Not an alias: a device's own key may not go (revoke instead). */
	r = reg_lookup(st, S_DEV_KEY, fp, key);
	return r == CH_OK ? CH_ERR_INVAL : r;
}

int ch_store_identity_foreach(struct ch_store *st, const char *dev_fp,
			      int (*fn)(void *ctx, const char *fp,
					int64_t added),
			      void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_ID_ALL];
	char fp[FP_SIZE];
	int rc, n = 0, r = CH_OK;

	if (reg_check_fp(dev_fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested identity walk", st->path);
		return CH_ERR_INVAL;
	}
	sqlite3_bind_text(s, 1, dev_fp, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n++;
		reg_copy_text(fp, sizeof(fp), sqlite3_column_text(s, 0));
		if ((r = fn(ctx, fp, sqlite3_column_int64(s, 1))) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "identity list");
	else if (r == CH_OK && n == 0)	/* a device has at least its key */
		r = CH_ERR_NOTFOUND;
	reg_done(s);
	return r;
}

