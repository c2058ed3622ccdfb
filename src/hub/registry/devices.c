/* devices.c - the registry's devices table: admission, connection state,
 * TLS certificate and trust anchor, names, and resolving an operator's
 * DEVICE argument. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <stdio.h>
#include <string.h>

#define RESOLVE_MIN_PREFIX 4	/* chars after "SHA256:" for a prefix match */

/* col starts with p. substr, not LIKE: '%' and '_' in p stay literal; the
 * range before it (p up to p followed by U+10FFFF, above any character of
 * an identity) lets the primary key's index find the rows instead of a
 * scan of every device: a new device's name is checked against them. */
#define PREFIX_OF(col, p) \
	"(" col " >= " p " AND " col " < " p " || char(1114111)" \
	" AND substr(" col ", 1, length(" p ")) = " p ")"


const char *const reg_sql_devices[S_COUNT] = {
	[S_DEV_GET] = "SELECT " DEV_COLS " FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	/* An alias is not a new device: a 0-row insert means it exists. */
	[S_DEV_ADD] = "INSERT INTO devices (fingerprint, name, admission,"
		      " kind) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1"
		      " FROM identities WHERE fingerprint = ?1)",
	/* a change of admission starts the count of refusals again */
	[S_DEV_ADMISSION] = "UPDATE devices SET admission = ?2,"
			    " refused_calls = CASE WHEN admission = ?2"
			    " THEN refused_calls ELSE 0 END"
			    " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_REFUSED] = "UPDATE devices SET refused_calls ="
			  " refused_calls + 1, last_refused = ?2,"
			  " refused_logged = ?3"
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
		     " last_seen = max(last_seen, ?2), holder = ?4"
		     " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_DOWN] = "UPDATE devices SET connected = 0, connected_since = 0,"
		       " last_error = ?3, last_seen = max(last_seen, ?2)"
		       " WHERE fingerprint = " KEY_OF("?1"),
	[S_RESET] = "UPDATE devices SET connected = 0, connected_since = 0,"
		    " last_error = 'hub restarted' WHERE connected <> 0",
	/* a process of the hub is gone (ch_store_holder_lost): the devices
	 * whose sessions or running jobs it held */
	[S_LOST_SEL] = "SELECT fingerprint FROM devices"
		       " WHERE holder = ?1 AND connected <> 0"
		       " UNION SELECT device FROM jobs"
		       " WHERE holder = ?1 AND state = 1",
	[S_LOST_EV] = "INSERT INTO events (time, fingerprint, kind, detail)"
		      " SELECT ?2, fingerprint, 'disconnected', ?3 FROM devices"
		      " WHERE holder = ?1 AND connected <> 0",
	[S_LOST_DEV] = "UPDATE devices SET connected = 0, connected_since = 0,"
		       " last_error = ?3, last_seen = max(last_seen, ?2)"
		       " WHERE holder = ?1 AND connected <> 0",
	[S_BY_NAME] = "SELECT fingerprint FROM devices WHERE name = ?1",
	/* A key and an alias are never the same fingerprint: one row. */
	[S_BY_FP] = "SELECT fingerprint FROM devices WHERE fingerprint = ?1"
		    " UNION ALL SELECT device FROM identities"
		    " WHERE fingerprint = ?1",
	/* UNION counts a device once when its key and an alias both
	 * match. */
	[S_BY_PREFIX] = "SELECT fingerprint FROM devices"
			" WHERE " PREFIX_OF("fingerprint", "?1")
			" UNION SELECT device FROM identities"
			" WHERE " PREFIX_OF("fingerprint", "?1")
			" LIMIT 2",
	/* Named devices first, by name; then the unnamed by fingerprint. */
	/* The device's key fingerprint, given it or an alias. */
	[S_DEV_KEY] = "SELECT fingerprint FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	[S_DEV_RENAME] = "UPDATE devices SET name = ?2"
			 " WHERE fingerprint = " KEY_OF("?1"),
	/* by the index devices_name_nocase */
	[S_NAME_NOCASE] = "SELECT fingerprint FROM devices"
			  " WHERE name = ?1 COLLATE NOCASE",
	/* S_BY_PREFIX without its limit: to list the matches */
	[S_PREFIX_ALL] = "SELECT fingerprint FROM devices"
			 " WHERE " PREFIX_OF("fingerprint", "?1")
			 " UNION SELECT device FROM identities"
			 " WHERE " PREFIX_OF("fingerprint", "?1")
			 " ORDER BY 1",
	/* delete: what is left of its jobs are outcomes (the caller
	 * refused or cancelled the others); its events stay */
	[S_DEV_ACTIVE] = "SELECT id FROM jobs WHERE device = ?1"
			 " AND state IN (0, 1) LIMIT 1",
	[S_DEV_DEL_JOBS] = "DELETE FROM jobs WHERE device = ?1",
	[S_DEV_DEL_IDS] = "DELETE FROM identities WHERE device = ?1",
	[S_DEV_DEL] = "DELETE FROM devices WHERE fingerprint = ?1",
	/* (what, value, count): the fleet by admission and connection, its
	 * jobs by state; grouped scans, for `status`, not a hot path */
	[S_CENSUS] = "SELECT 'a', admission, count(*) FROM devices"
		     " GROUP BY admission"
		     " UNION ALL SELECT 'c', connected, count(*) FROM devices"
		     " GROUP BY connected"
		     " UNION ALL SELECT 'j', state, count(*) FROM jobs"
		     " GROUP BY state",
};

static int check_admission(int admission)
{
	return admission >= CH_ADMIT_PENDING && admission <= CH_ADMIT_REVOKED
		       ? CH_OK
		       : CH_ERR_INVAL;
}

void reg_row_to_device(sqlite3_stmt *s, struct ch_device_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	reg_copy_text(rec->fingerprint, sizeof(rec->fingerprint),
		      sqlite3_column_text(s, 0));
	reg_copy_text(rec->name, sizeof(rec->name), sqlite3_column_text(s, 1));
	rec->admission = sqlite3_column_int(s, 2);
	rec->connected = sqlite3_column_int(s, 3);
	reg_copy_text(rec->address, sizeof(rec->address), sqlite3_column_text(s, 4));
	rec->first_seen = sqlite3_column_int64(s, 5);
	rec->last_seen = sqlite3_column_int64(s, 6);
	rec->connected_since = sqlite3_column_int64(s, 7);
	rec->capabilities = sqlite3_column_int(s, 8);
	reg_copy_text(rec->last_error, sizeof(rec->last_error),
		      sqlite3_column_text(s, 9));
	rec->idle_close = sqlite3_column_int(s, 10);
	rec->kind = sqlite3_column_int(s, 11);
	reg_copy_text(rec->cert_fp, sizeof(rec->cert_fp),
		      sqlite3_column_text(s, 12));
	reg_copy_text(rec->anchor, sizeof(rec->anchor), sqlite3_column_text(s, 13));
	rec->refused_calls = sqlite3_column_int(s, 14);
	rec->last_refused = sqlite3_column_int64(s, 15);
	rec->refused_logged = sqlite3_column_int64(s, 16);
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

int ch_store_device_get(struct ch_store *st, const char *fp,
			struct ch_device_rec *rec)
{
	sqlite3_stmt *s = st->stmt[S_DEV_GET];
	int rc, r = CH_OK;

	memset(rec, 0, sizeof(*rec));
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		reg_row_to_device(s, rec);
	else if (rc == SQLITE_DONE)
		r = CH_ERR_NOTFOUND;
	else
		r = reg_fail(st, "device get");
	reg_done(s);
	return r;
}

int ch_store_device_add(struct ch_store *st, const char *fp, const char *name,
			int admission)
{
	sqlite3_stmt *s = st->stmt[S_DEV_ADD];
	char why[CH_STORE_TEXT_MAX];
	int r;

	if (reg_check_fp(fp) != CH_OK || check_admission(admission) != CH_OK)
		return CH_ERR_INVAL;
	if (name && name[0] == '\0')	/* as a record shows "unnamed" */
		name = NULL;
	if (name && (r = ch_store_name_check(st, fp, name, why,
					     sizeof(why))) != CH_OK)
		return r;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	reg_bind_text(s, 2, name, CH_NAME_MAX + 1);
	sqlite3_bind_int(s, 3, admission);
	sqlite3_bind_int(s, 4, ch_id_kind(fp));
	r = reg_exec(st, s, "device add");
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
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, admission);
	return reg_exec_update(st, s, "device set admission");
}

int ch_store_device_refused(struct ch_store *st, const char *fp,
			    int64_t now, int64_t log_every, int *count,
			    int *log_it)
{
	sqlite3_stmt *s = st->stmt[S_DEV_REFUSED];
	struct ch_device_rec rec;
	int r;

	*count = 0;
	*log_it = 0;
	if ((r = ch_store_device_get(st, fp, &rec)) != CH_OK)
		return r;
	*count = rec.refused_calls + 1;
	*log_it = *count == 1 || now - rec.refused_logged >= log_every;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, *log_it ? now : rec.refused_logged);
	return reg_exec_update(st, s, "device refused");
}

int ch_store_device_set_idle_close(struct ch_store *st, const char *fp,
				   int seconds)
{
	sqlite3_stmt *s = st->stmt[S_DEV_IDLE_CLOSE];

	if (seconds < -1)
		return CH_ERR_INVAL;
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, seconds);
	return reg_exec_update(st, s, "device set idle-close");
}

int ch_store_device_seen(struct ch_store *st, const char *fp,
			 const char *address, int64_t now)
{
	sqlite3_stmt *s = st->stmt[S_DEV_SEEN];

	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	reg_bind_text(s, 2, address ? address : "",
		      sizeof(((struct ch_device_rec *)0)->address));
	sqlite3_bind_int64(s, 3, now);
	return reg_exec_update(st, s, "device seen");
}

int ch_store_device_connected(struct ch_store *st, const char *fp,
			      int connected, int ncaps, const char *reason,
			      int64_t now)
{
	sqlite3_stmt *s = st->stmt[connected ? S_DEV_UP : S_DEV_DOWN];

	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (connected) {
		sqlite3_bind_int(s, 3, ncaps);
		sqlite3_bind_int64(s, 4, st->holder);
	} else
		reg_bind_text(s, 3, reason ? reason : "",
			      sizeof(((struct ch_device_rec *)0)->last_error));
	return reg_exec_update(st, s, "device connected");
}

int ch_store_device_cert_seen(struct ch_store *st, const char *fp,
			      const char *cert_fp, char *prev)
{
	sqlite3_stmt *s = st->stmt[S_DEV_CERT];
	struct ch_device_rec rec;
	int r;

	prev[0] = '\0';
	if (cert_fp == NULL || reg_check_fp(cert_fp) != CH_OK)
		return CH_ERR_INVAL;
	if ((r = ch_store_device_get(st, fp, &rec)) != CH_OK)
		return r;
	memcpy(prev, rec.cert_fp, sizeof(rec.cert_fp));
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	reg_bind_text(s, 2, cert_fp, sizeof(rec.cert_fp));
	return reg_exec_update(st, s, "device certificate seen");
}

int ch_store_device_anchor(struct ch_store *st, const char *fp,
			   const char *anchor, char *bound)
{
	sqlite3_stmt *s = st->stmt[S_DEV_ANCHOR];
	struct ch_device_rec rec;
	int r;

	bound[0] = '\0';
	if (anchor == NULL || reg_check_fp(anchor) != CH_OK)
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
	reg_bind_text(s, 2, anchor, sizeof(rec.anchor));
	return reg_exec_update(st, s, "device trust anchor");
}

void ch_store_set_holder(struct ch_store *st, int64_t holder)
{
	st->holder = holder;
}

int ch_store_holder_lost(struct ch_store *st, int64_t holder,
			 const char *why, int64_t now,
			 void (*fn)(void *ctx, const char *fp), void *ctx,
			 int *in_doubt)
{
	sqlite3_stmt *sel = st->stmt[S_LOST_SEL];
	char fp[FP_SIZE];
	int rc, r;

	*in_doubt = 0;
	if (holder == 0)
		return CH_ERR_INVAL;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	sqlite3_bind_int64(sel, 1, holder);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		reg_copy_text(fp, sizeof(fp), sqlite3_column_text(sel, 0));
		if (fn)
			fn(ctx, fp);
	}
	reg_done(sel);
	if (rc != SQLITE_DONE) {
		r = reg_fail(st, "lost sessions");
		goto out;
	}
	for (int id = S_LOST_EV; id <= S_LOST_DEV; id++) {
		sqlite3_stmt *s = st->stmt[id];

		sqlite3_bind_int64(s, 1, holder);
		sqlite3_bind_int64(s, 2, now);
		reg_bind_text(s, 3, why, sizeof(((struct ch_device_rec *)0)->
						last_error));
		if ((r = reg_exec(st, s, "lost sessions")) != CH_OK)
			goto out;
	}
	r = reg_jobs_recover(st, holder, now, in_doubt);
out:
	if (r == CH_OK)
		r = reg_tx_commit(st);
	else
		reg_tx_rollback(st);
	if (r != CH_OK)
		*in_doubt = 0;
	return r;
}

int ch_store_reset_connections(struct ch_store *st)
{
	return reg_exec(st, st->stmt[S_RESET], "reset connections");
}

/* The SSH fingerprint prefix an operator's query stands for, in out
 * (FP_SIZE): "SHA256:" and at least RESOLVE_MIN_PREFIX characters. */
static int fp_prefix(const char *query, char *out)
{
	const char *tail = query;

	if (strncmp(query, FP_PREFIX, FP_PREFIX_LEN) == 0)
		tail = query + FP_PREFIX_LEN;
	/* Too short a prefix would match by accident, not by intent. */
	if (strlen(tail) < RESOLVE_MIN_PREFIX)
		return CH_ERR_NOTFOUND;
	if (snprintf(out, FP_SIZE, "%s%s", FP_PREFIX, tail) >= (int)FP_SIZE)
		return CH_ERR_NOTFOUND;
	return CH_OK;
}

int ch_store_device_resolve(struct ch_store *st, const char *query,
			    char *fp_out)
{
	char prefix[128];
	int r;

	fp_out[0] = '\0';
	if (query == NULL || query[0] == '\0')
		return CH_ERR_NOTFOUND;
	if ((r = reg_lookup(st, S_BY_NAME, query, fp_out)) == CH_OK) {
		char other[sizeof(prefix)];

		/* A name that is also another device's serial number: the
		 * operator must say which (approve, revoke: no guessing). */
		if (ch_serial_valid(query) &&
		    snprintf(prefix, sizeof(prefix), CH_ID_SERIAL_PREFIX "%s",
			     query) < (int)sizeof(prefix) &&
		    reg_lookup(st, S_BY_FP, prefix, other) == CH_OK &&
		    strcmp(other, fp_out) != 0) {
			fp_out[0] = '\0';
			return CH_ERR_AMBIGUOUS;
		}
		return CH_OK;
	}
	if (r != CH_ERR_NOTFOUND ||
	    (r = reg_lookup(st, S_BY_FP, query, fp_out)) != CH_ERR_NOTFOUND)
		return r;
	/* A bare serial number, as printed on the box. */
	if (ch_serial_valid(query) &&
	    snprintf(prefix, sizeof(prefix), CH_ID_SERIAL_PREFIX "%s",
		     query) < (int)sizeof(prefix) &&
	    (r = reg_lookup(st, S_BY_FP, prefix, fp_out)) != CH_ERR_NOTFOUND)
		return r;
	if (fp_prefix(query, prefix) != CH_OK)
		return CH_ERR_NOTFOUND;
	return reg_lookup(st, S_BY_PREFIX, prefix, fp_out);
}

/* Calls fn with the key of each device statement id finds for text;
 * a non-zero return stops the walk and is returned. */
static int each_fp(struct ch_store *st, enum stmt_id id, const char *text,
		   int (*fn)(void *ctx, const char *fp), void *ctx)
{
	sqlite3_stmt *s = st->stmt[id];
	char fp[FP_SIZE];
	int rc, r = CH_OK;

	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested device match walk", st->path);
		return CH_ERR_INVAL;
	}
	sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		reg_copy_text(fp, sizeof(fp), sqlite3_column_text(s, 0));
		if ((r = fn(ctx, fp)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "device match");
	reg_done(s);
	return r;
}

int ch_store_device_matches(struct ch_store *st, const char *query,
			    int (*fn)(void *ctx, const char *fp), void *ctx)
{
	char prefix[FP_SIZE];

	if (query == NULL || fp_prefix(query, prefix) != CH_OK)
		return CH_OK;
	return each_fp(st, S_PREFIX_ALL, prefix, fn, ctx);
}

struct name_clash {
	const char *fp;		/* the device being named; NULL: a new one */
	char other[FP_SIZE];	/* the first other device found */
};

static int note_other(void *ctx, const char *fp)
{
	struct name_clash *c = ctx;

	if (c->fp && strcmp(c->fp, fp) == 0)
		return 0;
	snprintf(c->other, sizeof(c->other), "%s", fp);
	return 1;
}

int ch_store_name_check(struct ch_store *st, const char *fp,
			const char *name, char *why, size_t len)
{
	struct name_clash c = { NULL, "" };
	char id[FP_SIZE], key[FP_SIZE];
	const char *bad;
	int r;

	why[0] = '\0';
	if ((bad = reg_name_problem(name)) != NULL) {
		snprintf(why, len, "'%.64s' is not a device name: %s", name,
			 bad);
		return CH_ERR_INVAL;
	}
	if (fp && reg_lookup(st, S_DEV_KEY, fp, key) == CH_OK)
		c.fp = key;
	else
		c.fp = fp;
	/* R1 and r1 would be two devices an operator cannot tell apart */
	if ((r = each_fp(st, S_NAME_NOCASE, name, note_other, &c)) < 0)
		return r;
	if (r) {
		snprintf(why, len, "'%.64s' is taken: device %s is named so "
			 "(names are unique without regard to case)", name,
			 c.other);
		return CH_ERR_EXISTS;
	}
	/* A lookup of the name must not find another device by its
	 * serial number or a fingerprint prefix. */
	if (ch_serial_valid(name) &&
	    snprintf(id, sizeof(id), CH_ID_SERIAL_PREFIX "%s", name) <
	    (int)sizeof(id) &&
	    (r = each_fp(st, S_BY_FP, id, note_other, &c)) != 0) {
		if (r < 0)
			return r;
		snprintf(why, len, "'%.64s' is the serial number of device %s",
			 name, c.other);
		return CH_ERR_EXISTS;
	}
	if (fp_prefix(name, id) == CH_OK &&
	    (r = each_fp(st, S_PREFIX_ALL, id, note_other, &c)) != 0) {
		if (r < 0)
			return r;
		snprintf(why, len, "'%.64s' is a prefix of the fingerprint of "
			 "device %s", name, c.other);
		return CH_ERR_EXISTS;
	}
	return CH_OK;
}

int ch_store_device_foreach(struct ch_store *st,
			    int (*fn)(void *ctx, const struct ch_device_rec *),
			    void *ctx)
{
	return ch_store_device_select(st, NULL, fn, ctx);	/* tags.c */
}

int ch_store_device_rename(struct ch_store *st, const char *fp,
			   const char *name)
{
	sqlite3_stmt *s = st->stmt[S_DEV_RENAME];
	char why[CH_STORE_TEXT_MAX];
	int r;

	if (name && name[0] == '\0')
		name = NULL;
	if (reg_check_fp(fp) != CH_OK)
		return CH_ERR_NOTFOUND;
	if (name && (r = ch_store_name_check(st, fp, name, why,
					     sizeof(why))) != CH_OK)
		return r;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	reg_bind_text(s, 2, name, CH_NAME_MAX + 1);
	return reg_exec_update(st, s, "device rename");
}


int ch_store_device_delete(struct ch_store *st, const char *fp)
{
	char key[FP_SIZE];
	sqlite3_stmt *s = st->stmt[S_DEV_ACTIVE];
	int rc, r;

	if (reg_check_fp(fp) != CH_OK ||
	    reg_lookup(st, S_DEV_KEY, fp, key) != CH_OK)
		return CH_ERR_NOTFOUND;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	reg_done(s);
	if (rc != SQLITE_DONE) {	/* a queued or running job */
		reg_tx_rollback(st);
		return rc == SQLITE_ROW ? CH_ERR_EXISTS
					: reg_fail(st, "device delete");
	}
	sqlite3_bind_text(st->stmt[S_DEV_DEL_JOBS], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->stmt[S_DEV_DEL_IDS], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->stmt[S_DEV_DEL], 1, key, -1, SQLITE_STATIC);
	if ((r = reg_exec(st, st->stmt[S_DEV_DEL_JOBS], "device delete jobs"))
	    != CH_OK ||
	    (r = reg_exec(st, st->stmt[S_DEV_DEL_IDS],
			  "device delete identities")) != CH_OK ||
	    (r = reg_exec_update(st, st->stmt[S_DEV_DEL], "device delete"))
	    != CH_OK) {
		reg_tx_rollback(st);
		return r;
	}
	return reg_tx_commit(st);
}

int ch_store_census(struct ch_store *st, struct ch_census *c)
{
	sqlite3_stmt *s = st->stmt[S_CENSUS];
	int rc;

	memset(c, 0, sizeof(*c));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *what = (const char *)sqlite3_column_text(s, 0);
		int v = sqlite3_column_int(s, 1);
		int64_t n = sqlite3_column_int64(s, 2);

		c->devices += what[0] == 'a' ? n : 0;
		if (what[0] == 'a' && v >= 0 && v < CH_CENSUS_ADMISSIONS)
			c->admission[v] = n;
		else if (what[0] == 'c' && v == 1)
			c->connected = n;
		else if (what[0] == 'j' && v >= 0 && v < CH_CENSUS_JOB_STATES)
			c->jobs[v] = n;
	}
	reg_done(s);
	return rc == SQLITE_DONE ? CH_OK : reg_fail(st, "census");
}

_Static_assert(CH_CENSUS_ADMISSIONS == CH_ADMIT_REVOKED + 1 &&
	       CH_CENSUS_JOB_STATES == CH_JOB_EXPIRED + 1,
	       "struct ch_census has a count for every admission and state");
