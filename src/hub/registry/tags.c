/* tags.c - the registry's tags table (a device's key=value tags, its
 * groups among them) and the selection of devices by a struct
 * ch_select, which the devices, jobs and events walks share. */
#include "hub/registry/store_int.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <stdio.h>
#include <string.h>

const char *const reg_sql_tags[S_COUNT] = {
	[S_TAG_DEL_KEY] = "DELETE FROM tags WHERE device = " KEY_OF("?1")
			  " AND key = ?2",
	[S_TAG_DEL_ONE] = "DELETE FROM tags WHERE device = " KEY_OF("?1")
			  " AND key = ?2 AND value = ?3",
	/* No row when the device is unknown; none either when it has the
	 * tag already. */
	[S_TAG_ADD] = "INSERT OR IGNORE INTO tags (device, key, value)"
		      " SELECT fingerprint, ?2, ?3 FROM devices"
		      " WHERE fingerprint = " KEY_OF("?1"),
	[S_TAG_COUNT] = "SELECT count(*) FROM tags WHERE device = "
			KEY_OF("?1"),
	[S_TAG_ALL] = "SELECT key, value FROM tags WHERE device = "
		      KEY_OF("?1") " ORDER BY key, value",
	[S_DEV_SEL] = "SELECT " DEV_COLS " FROM devices d WHERE "
		      SEL_WHERE("d")
		      " ORDER BY name IS NULL, name, fingerprint",
};

/* [a-z0-9_.-], a letter first: a word an operator types in a shell
 * without quotes */
static int key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n < 1 || n > CH_TAG_KEY_MAX || !(k[0] >= 'a' && k[0] <= 'z'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_' ||
		      k[i] == '.' || k[i] == '-'))
			return 0;
	return 1;
}

/* [A-Za-z0-9._:/@+-]: no space, no quote, no glob or JSON character */
static int value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n < 1 || n > CH_TAG_VALUE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || strchr("._:/@+-", v[i])))
			return 0;
	return 1;
}

const char *ch_tag_check(const char *key, const char *value)
{
	if (key == NULL || !key_ok(key))
		return "a tag's key is 1 to " CH_STR(CH_TAG_KEY_MAX)
		       " of a-z 0-9 _ . -, starting with a letter";
	if (value && !value_ok(value))
		return "a tag's value is 1 to " CH_STR(CH_TAG_VALUE_MAX)
		       " of A-Z a-z 0-9 . _ : / @ + -";
	return NULL;
}

int reg_bind_select(sqlite3_stmt *s, const struct ch_select *sel)
{
	/* 2 quotes, a comma and brackets per tag around a checked key and
	 * value (no character that JSON would escape) */
	char json[CH_SEL_TAGS_MAX * (CH_TAG_KEY_MAX + CH_TAG_VALUE_MAX + 8)
		  + 4];
	size_t len = 1;

	json[0] = '[';
	for (int i = 0; sel && i < sel->ntags && i < CH_SEL_TAGS_MAX; i++) {
		const struct ch_tag *t = &sel->tags[i];

		if (ch_tag_check(t->key, t->value))
			return CH_ERR_INVAL;
		len += (size_t)snprintf(json + len, sizeof(json) - len,
					"%s[\"%s\",\"%s\"]", i ? "," : "",
					t->key, t->value);
	}
	snprintf(json + len, sizeof(json) - len, "]");
	sqlite3_bind_text(s, 10, json, -1, SQLITE_TRANSIENT);
	if (sel && sel->glob[0])
		sqlite3_bind_text(s, 11, sel->glob, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 11);
	sqlite3_bind_int(s, 12, sel && sel->state >= CH_SEL_ANY &&
			 sel->state <= CH_SEL_REVOKED ? sel->state : 0);
	return CH_OK;
}

static int count_tags(struct ch_store *st, const char *fp, int *n)
{
	sqlite3_stmt *s = st->stmt[S_TAG_COUNT];
	int r = CH_OK;

	sqlite3_bind_text(s, 1, fp, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		*n = sqlite3_column_int(s, 0);
	else
		r = reg_fail(st, "tag count");
	reg_done(s);
	return r;
}

int ch_store_tag_set(struct ch_store *st, const char *fp, const char *key,
		     const char *value, int *changed)
{
	sqlite3_stmt *del = st->stmt[S_TAG_DEL_KEY], *add = st->stmt[S_TAG_ADD];
	sqlite3_stmt *one = st->stmt[S_TAG_DEL_ONE];
	char dev[FP_SIZE];
	int r, n = 0, moved = 0;

	if (changed)
		*changed = 0;
	if (value == NULL || ch_tag_check(key, value))
		return CH_ERR_INVAL;
	if (reg_check_fp(fp) != CH_OK ||
	    reg_lookup(st, S_DEV_KEY, fp, dev) != CH_OK)
		return CH_ERR_NOTFOUND;
	if ((r = reg_tx_begin(st)) != CH_OK)
		return r;
	/* the same tag again changes nothing */
	sqlite3_bind_text(one, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_text(one, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(one, 3, value, -1, SQLITE_STATIC);
	if ((r = reg_exec(st, one, "tag set")) != CH_OK)
		goto out;
	moved = sqlite3_changes(st->db) == 0;
	if (strcmp(key, CH_TAG_GROUP) != 0) {
		sqlite3_bind_text(del, 1, dev, -1, SQLITE_STATIC);
		sqlite3_bind_text(del, 2, key, -1, SQLITE_STATIC);
		if ((r = reg_exec(st, del, "tag set")) != CH_OK)
			goto out;
	}
	sqlite3_bind_text(add, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(add, 3, value, -1, SQLITE_STATIC);
	if ((r = reg_exec(st, add, "tag set")) != CH_OK ||
	    (r = count_tags(st, dev, &n)) != CH_OK)
		goto out;
	if (n > CH_TAG_PER_DEVICE_MAX)
		r = CH_ERR_LIMIT;
out:
	if (r == CH_OK)
		r = reg_tx_commit(st);
	else
		reg_tx_rollback(st);
	if (r == CH_OK && changed)
		*changed = moved;
	return r;
}

int ch_store_tag_unset(struct ch_store *st, const char *fp, const char *key,
		       const char *value, int *removed)
{
	sqlite3_stmt *s = st->stmt[value ? S_TAG_DEL_ONE : S_TAG_DEL_KEY];
	char dev[FP_SIZE];
	int r;

	*removed = 0;
	if (reg_check_fp(fp) != CH_OK ||
	    reg_lookup(st, S_DEV_KEY, fp, dev) != CH_OK)
		return CH_ERR_NOTFOUND;
	if (key == NULL)
		return CH_ERR_INVAL;
	sqlite3_bind_text(s, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(s, 3, value, -1, SQLITE_STATIC);
	if ((r = reg_exec(st, s, "tag unset")) == CH_OK)
		*removed = sqlite3_changes(st->db);
	return r;
}

int ch_store_tag_foreach(struct ch_store *st, const char *fp,
			 int (*fn)(void *ctx, const char *key,
				   const char *value),
			 void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_TAG_ALL];
	int rc, r = CH_OK;

	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested tag walk", st->path);
		return CH_ERR_INVAL;
	}
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((r = fn(ctx, (const char *)sqlite3_column_text(s, 0),
			    (const char *)sqlite3_column_text(s, 1))) != 0)
			break;
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "tag list");
	reg_done(s);
	return r;
}

int ch_store_device_select(struct ch_store *st, const struct ch_select *sel,
			   int (*fn)(void *ctx, const struct ch_device_rec *),
			   void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_DEV_SEL];
	struct ch_device_rec rec;
	int rc, r;

	/* One statement per walk: a nested walk would restart this one. */
	if (sqlite3_stmt_busy(s)) {
		ch_error("store %s: nested device walk", st->path);
		return CH_ERR_INVAL;
	}
	if ((r = reg_bind_select(s, sel)) != CH_OK) {
		reg_done(s);
		return r;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		reg_row_to_device(s, &rec);
		if ((r = fn(ctx, &rec)) != 0)
			break;
	}
	if (r == CH_OK && rc != SQLITE_DONE)
		r = reg_fail(st, "device selection");
	reg_done(s);
	return r;
}
