/* test_store.c - the registry on a temporary SQLite file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "hub/registry/store.h"

#define SCHEMA_NOW 12	/* store.c: the version a new file gets */
#define FP_SIZE_T 128	/* struct ch_device_rec's fingerprint */
#define SCHEMA_NEWER 13	/* SCHEMA_NOW + 1: written by a newer hub */

#define FP_A "SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_B "SHA256:AAAAxxxxCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_C "SHA256:Zzzz0000CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"

struct fixture {
	char dir[64];
	char path[128];
	struct ch_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_non_null(f->st);
	*state = f;
	return 0;
}

static void remove_db(struct fixture *f)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[160];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ch_store_close(f->st);
	remove_db(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Reads one integer with a side connection, as another process would. */
static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_open_migrates_empty(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *s;
	sqlite3 *db;

	/* a fresh file goes 0 -> 1 -> 2 -> 3 -> 4 */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema"
				 " WHERE name IN ('devices', 'events',"
				 " 'events_fp_id', 'identities',"
				 " 'identities_device', 'jobs',"
				 " 'jobs_device_state_id')"), 7);
	/* WAL is a property of the file: a fresh connection sees it. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "called", "x", 5),
			 CH_OK);
	ch_store_close(f->st);
	f->st = NULL;
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.name, "r1");
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 1);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct ch_store *st = (struct ch_store *)0x1;

	ch_store_close(f->st);
	f->st = NULL;
	raw_exec(f->path, "PRAGMA user_version = " CH_STR(SCHEMA_NEWER));
	assert_int_equal(ch_store_open(f->path, &st), CH_ERR_DB);
	assert_null(st);
	/* Refusing must not touch the file. */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"),
			 SCHEMA_NEWER);
}

static void test_open_bad_path(void **state)
{
	struct ch_store *st = (struct ch_store *)0x1;

	(void)state;
	assert_int_equal(ch_store_open("/nonexistent-dir/x/hub.db", &st),
			 CH_ERR_DB);
	assert_null(st);
}

static void test_admission_names(void **state)
{
	(void)state;
	assert_string_equal(ch_admission_name(CH_ADMIT_PENDING), "pending");
	assert_string_equal(ch_admission_name(CH_ADMIT_ADMITTED), "admitted");
	assert_string_equal(ch_admission_name(CH_ADMIT_REVOKED), "revoked");
	assert_string_equal(ch_admission_name(7), "unknown");
}

static void test_add_get(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_C, "",
					     CH_ADMIT_PENDING), CH_OK);
	/* same key, same name */
	assert_int_equal(ch_store_device_add(f->st, FP_A, "other",
					     CH_ADMIT_PENDING), CH_ERR_EXISTS);
	assert_int_equal(ch_store_device_add(f->st, "SHA256:new", "r1",
					     CH_ADMIT_PENDING), CH_ERR_EXISTS);

	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.fingerprint, FP_A);
	assert_string_equal(rec.name, "r1");
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_int_equal(rec.connected, 0);
	assert_string_equal(rec.address, "");
	assert_int_equal(rec.first_seen, 0);
	assert_int_equal(rec.last_seen, 0);
	assert_int_equal(rec.connected_since, 0);
	assert_int_equal(rec.capabilities, 0);
	assert_string_equal(rec.last_error, "");
	assert_int_equal(ch_store_device_get(f->st, FP_B, &rec), CH_OK);
	assert_string_equal(rec.name, "");
	assert_int_equal(rec.admission, CH_ADMIT_PENDING);
	/* two unnamed devices do not collide on the UNIQUE name */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"
				 " WHERE name IS NULL"), 2);

	memset(&rec, 'x', sizeof(rec));
	assert_int_equal(ch_store_device_get(f->st, "SHA256:nope", &rec),
			 CH_ERR_NOTFOUND);
	assert_string_equal(rec.fingerprint, "");	/* cleared */
}

static void test_add_validates(void **state)
{
	struct fixture *f = *state;
	char long_name[CH_NAME_MAX + 2];
	struct ch_device_rec rec;
	char long_fp[200];

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';	/* 65 chars */
	assert_int_equal(ch_store_device_add(f->st, "SHA256:1", long_name,
					     CH_ADMIT_PENDING), CH_ERR_INVAL);
	long_name[CH_NAME_MAX] = '\0';			/* 64 chars */
	assert_int_equal(ch_store_device_add(f->st, "SHA256:1", long_name,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, "SHA256:1", &rec), CH_OK);
	assert_string_equal(rec.name, long_name);

	static const char *const bad[] = { "a b", "r/1", "r:1", "SHA256:x",
					   "caf\xc3\xa9", "a\n", "*" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ch_store_device_add(f->st, "SHA256:2", bad[i],
						     CH_ADMIT_PENDING),
				 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_add(f->st, "SHA256:2", "a.B_c-9",
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, "SHA256:3", NULL, 3),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_add(f->st, "SHA256:3", NULL, -1),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_add(f->st, "", NULL,
					     CH_ADMIT_PENDING), CH_ERR_INVAL);
	memset(long_fp, 'f', sizeof(long_fp) - 1);
	long_fp[sizeof(long_fp) - 1] = '\0';
	assert_int_equal(ch_store_device_add(f->st, long_fp, NULL,
					     CH_ADMIT_PENDING), CH_ERR_INVAL);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"), 2);
}

static void test_set_admission(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;

	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_set_admission(f->st, FP_A,
						       CH_ADMIT_REVOKED), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_REVOKED);
	assert_int_equal(ch_store_device_set_admission(f->st, FP_B,
						       CH_ADMIT_ADMITTED),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_set_admission(f->st, FP_A, 9),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_REVOKED);
}

static void test_seen(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	char addr[100];

	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_seen(f->st, FP_A, "[::1]:50412", 100),
			 CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.first_seen, 100);
	assert_int_equal(rec.last_seen, 100);
	assert_string_equal(rec.address, "[::1]:50412");
	assert_int_equal(ch_store_device_seen(f->st, FP_A, "192.0.2.7:4000",
					      250), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.first_seen, 100);		/* kept */
	assert_int_equal(rec.last_seen, 250);
	assert_string_equal(rec.address, "192.0.2.7:4000");
	assert_int_equal(ch_store_device_seen(f->st, FP_B, "x", 1),
			 CH_ERR_NOTFOUND);

	/* 62 ASCII bytes then a 2-byte character: cut before it, not inside */
	memset(addr, 'a', 62);
	memcpy(addr + 62, "\xc3\xa9zz", 5);
	assert_int_equal(ch_store_device_seen(f->st, FP_A, addr, 300), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(strlen(rec.address), 62);
	assert_memory_equal(rec.address, addr, 62);
	/* 61 + 2-byte char fits exactly in 63 */
	memset(addr, 'a', 61);
	memcpy(addr + 61, "\xc3\xa9zz", 5);
	assert_int_equal(ch_store_device_seen(f->st, FP_A, addr, 300), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(strlen(rec.address), 63);
	assert_memory_equal(rec.address, addr, 63);
}

static void test_connected(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	char reason[400];

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_seen(f->st, FP_A, "[::1]:1", 10),
			 CH_OK);
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 1, 12, NULL,
						   20), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.connected, 1);
	assert_int_equal(rec.connected_since, 20);
	assert_int_equal(rec.capabilities, 12);
	assert_int_equal(rec.last_seen, 20);
	assert_string_equal(rec.last_error, "");

	assert_int_equal(ch_store_device_connected(f->st, FP_A, 0, 0,
						   "keepalive timeout", 90),
			 CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.connected, 0);
	assert_int_equal(rec.connected_since, 0);
	assert_int_equal(rec.capabilities, 12);	/* from the last hello */
	assert_int_equal(rec.last_seen, 90);
	assert_int_equal(rec.first_seen, 10);
	assert_string_equal(rec.last_error, "keepalive timeout");

	/* up again clears the error; a long reason is cut to the field */
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 1, 3, "ignored",
						   100), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.last_error, "");
	assert_int_equal(rec.capabilities, 3);
	memset(reason, 'e', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 0, 0, reason,
						   110), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(strlen(rec.last_error), sizeof(rec.last_error) - 1);
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 0, 0, NULL,
						   120), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.last_error, "");
	assert_int_equal(ch_store_device_connected(f->st, FP_B, 1, 1, NULL, 1),
			 CH_ERR_NOTFOUND);
}

static void test_reset_connections(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;

	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 1, 5, NULL, 7),
			 CH_OK);
	assert_int_equal(ch_store_device_connected(f->st, FP_B, 0, 0, "eof", 7),
			 CH_OK);
	assert_int_equal(ch_store_reset_connections(f->st), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.connected, 0);
	assert_int_equal(rec.connected_since, 0);
	assert_string_equal(rec.last_error, "hub restarted");
	assert_int_equal(ch_store_device_get(f->st, FP_B, &rec), CH_OK);
	assert_string_equal(rec.last_error, "eof");	/* untouched */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"
				 " WHERE connected <> 0"), 0);
}

static void test_resolve(void **state)
{
	struct fixture *f = *state;
	char fp[128];

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_C, "Zzzz0",
					     CH_ADMIT_ADMITTED), CH_OK);

	assert_int_equal(ch_store_device_resolve(f->st, "r1", fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, FP_B, fp), CH_OK);
	assert_string_equal(fp, FP_B);
	/* prefixes with and without the scheme */
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:AAAAb", fp),
			 CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAAx", fp), CH_OK);
	assert_string_equal(fp, FP_B);
	assert_int_equal(ch_store_device_resolve(f->st, &FP_C[7], fp), CH_OK);
	assert_string_equal(fp, FP_C);
	/* a name wins over a fingerprint prefix it also matches */
	assert_int_equal(ch_store_device_resolve(f->st, "Zzzz0", fp), CH_OK);
	assert_string_equal(fp, FP_C);
	assert_int_equal(ch_store_device_add(f->st, "SHA256:Zzzz0xyz", NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_resolve(f->st, "Zzzz0", fp), CH_OK);
	assert_string_equal(fp, FP_C);
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:Zzzz0", fp),
			 CH_ERR_AMBIGUOUS);
	/* a name that is also another device's bare serial: ambiguous; the
	 * full identity says which */
	assert_int_equal(ch_store_device_add(f->st, "serial:SN-7", "n7",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_resolve(f->st, "SN-7", fp), CH_OK);
	assert_string_equal(fp, "serial:SN-7");
	/* the name rule refuses such a name now; a device whose serial is
	 * an older name still makes it ambiguous */
	assert_int_equal(ch_store_device_rename(f->st, FP_B, "SN-7"),
			 CH_ERR_EXISTS);
	assert_int_equal(ch_store_device_rename(f->st, FP_B, "SN-8"), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, "serial:SN-8", NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_resolve(f->st, "SN-8", fp),
			 CH_ERR_AMBIGUOUS);
	assert_string_equal(fp, "");
	assert_int_equal(ch_store_device_resolve(f->st, "serial:SN-8", fp),
			 CH_OK);
	assert_string_equal(fp, "serial:SN-8");
	assert_int_equal(ch_store_device_rename(f->st, FP_B, NULL), CH_OK);

	snprintf(fp, sizeof(fp), "junk");	/* cleared on failure */
	assert_int_equal(ch_store_device_resolve(f->st, "AAAA", fp),
			 CH_ERR_AMBIGUOUS);
	assert_string_equal(fp, "");
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:AAAA", fp),
			 CH_ERR_AMBIGUOUS);
	/* under 4 characters after the scheme is never a prefix */
	assert_int_equal(ch_store_device_resolve(f->st, "AAA", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:AAA", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "r2", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAAq", fp),
			 CH_ERR_NOTFOUND);
	/* LIKE wildcards are literal */
	assert_int_equal(ch_store_device_resolve(f->st, "%%%%", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAA_bbb", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:____", fp),
			 CH_ERR_NOTFOUND);
	/* the full fingerprint without its scheme, or one char too many */
	assert_int_equal(ch_store_device_resolve(f->st, &FP_A[7], fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, FP_A "x", fp),
			 CH_ERR_NOTFOUND);
}

struct walk {
	char seen[8][128];
	int n;
	int stop_at;
	struct ch_store *st;
	int nested;
};

static int walk_dev(void *ctx, const struct ch_device_rec *rec)
{
	struct walk *w = ctx;

	snprintf(w->seen[w->n++], sizeof(w->seen[0]), "%s",
		 rec->name[0] ? rec->name : rec->fingerprint);
	if (w->st)
		w->nested = ch_store_device_foreach(w->st, walk_dev, w);
	return w->n == w->stop_at ? 42 : 0;
}

static void test_foreach(void **state)
{
	struct fixture *f = *state;
	struct walk w = { 0 };

	assert_int_equal(ch_store_device_foreach(f->st, walk_dev, &w), CH_OK);
	assert_int_equal(w.n, 0);
	assert_int_equal(ch_store_device_add(f->st, FP_C, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "zeta",
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, "SHA256:q", "alpha",
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_foreach(f->st, walk_dev, &w), CH_OK);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.seen[0], "alpha");
	assert_string_equal(w.seen[1], "zeta");
	assert_string_equal(w.seen[2], FP_A);
	assert_string_equal(w.seen[3], FP_C);

	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	assert_int_equal(ch_store_device_foreach(f->st, walk_dev, &w), 42);
	assert_int_equal(w.n, 2);
	/* the walk was reset: a new one starts from the top */
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_device_foreach(f->st, walk_dev, &w), CH_OK);
	assert_string_equal(w.seen[0], "alpha");

	memset(&w, 0, sizeof(w));
	w.st = f->st;
	w.stop_at = 1;
	assert_int_equal(ch_store_device_foreach(f->st, walk_dev, &w), 42);
	assert_int_equal(w.nested, CH_ERR_INVAL);
}

struct evs {
	struct ch_event_rec ev[16];
	int n;
};

static int walk_ev(void *ctx, const struct ch_event_rec *ev)
{
	struct evs *e = ctx;

	assert_true(e->n < 16);
	e->ev[e->n++] = *ev;
	return 0;
}

/* The event log keeps its newest: devices feed it. */
static void test_events_pruned(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 10; i++)
		assert_int_equal(ch_store_event_add(f->st, NULL, "called", "x",
						    100 + i), CH_OK);
	assert_int_equal(ch_store_events_prune(f->st, 3), CH_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 3);
	assert_int_equal(raw_int(f->path, "SELECT min(time) FROM events"),
			 107);
	assert_int_equal(ch_store_events_prune(f->st, -1), CH_ERR_INVAL);
}

static void test_events(void **state)
{
	struct fixture *f = *state;
	char detail[CH_STORE_TEXT_MAX + 50];
	struct evs e = { 0 };
	char kind[40];

	for (int i = 0; i < 6; i++) {
		snprintf(kind, sizeof(kind), "k%d", i);
		assert_int_equal(ch_store_event_add(f->st, i % 2 ? FP_B : FP_A,
						    kind, "d", 100 + i), CH_OK);
	}
	assert_int_equal(ch_store_event_add(f->st, NULL, "hub", NULL, 200),
			 CH_OK);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "", "x", 1),
			 CH_ERR_INVAL);

	assert_int_equal(ch_store_event_foreach(f->st, NULL, 0, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 7);
	for (int i = 1; i < 7; i++)
		assert_true(e.ev[i].id > e.ev[i - 1].id);
	assert_string_equal(e.ev[0].kind, "k0");
	assert_int_equal(e.ev[0].time, 100);
	assert_string_equal(e.ev[0].fingerprint, FP_A);
	assert_string_equal(e.ev[0].detail, "d");
	assert_string_equal(e.ev[6].kind, "hub");
	assert_string_equal(e.ev[6].fingerprint, "");
	assert_string_equal(e.ev[6].detail, "");

	/* the newest 3, oldest first */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach(f->st, NULL, 3, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.ev[0].kind, "k4");
	assert_string_equal(e.ev[1].kind, "k5");
	assert_string_equal(e.ev[2].kind, "hub");

	/* one device, limited */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach(f->st, FP_B, 2, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.ev[0].kind, "k3");
	assert_string_equal(e.ev[1].kind, "k5");
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach(f->st, FP_A, 100, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.ev[0].kind, "k0");
	assert_string_equal(e.ev[2].kind, "k4");
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach(f->st, FP_C, 0, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 0);

	/* long texts are cut to the record's fields */
	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	assert_int_equal(ch_store_event_add(f->st, FP_C,
					    "a-kind-much-longer-than-32-bytes",
					    detail, 300), CH_OK);
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach(f->st, FP_C, 1, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 1);
	assert_int_equal(strlen(e.ev[0].detail), CH_STORE_TEXT_MAX - 1);
	assert_string_equal(e.ev[0].kind, "a-kind-much-longer-than-32-byte");
	assert_int_equal(e.ev[0].time, 300);
}

static int stop_ev(void *ctx, const struct ch_event_rec *ev)
{
	(void)ev;
	return ++*(int *)ctx == 2 ? -77 : 0;
}

static void test_events_stop(void **state)
{
	struct fixture *f = *state;
	int n = 0;

	for (int i = 0; i < 4; i++)
		assert_int_equal(ch_store_event_add(f->st, FP_A, "k", "", i),
				 CH_OK);
	assert_int_equal(ch_store_event_foreach(f->st, FP_A, 0, stop_ev, &n),
			 -77);
	assert_int_equal(n, 2);
}

/* Another connection holds the write lock: the busy timeout makes us wait
 * and then fail cleanly with CH_ERR_DB, not hang or crash. */
static void test_busy_is_db_error(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_PENDING), CH_ERR_DB);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_PENDING), CH_OK);
}

/* ---- schema version 2 ---- */

/* The schema as version 1 shipped it (store.c migration 1, frozen). */
static const char v1_schema[] =
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
	"CREATE INDEX events_fp_id ON events(fingerprint, id);"
	"PRAGMA user_version = 1;";

static void test_migrate_v1_to_current(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	struct ch_job_rec job;
	int64_t id;

	ch_store_close(f->st);
	f->st = NULL;
	remove_db(f);
	raw_exec(f->path, v1_schema);
	raw_exec(f->path, "INSERT INTO devices (fingerprint, name, admission,"
		 " address, first_seen, last_seen, capabilities, last_error)"
		 " VALUES ('" FP_A "', 'r1', 1, '[::1]:7', 10, 20, 5, 'eof');"
		 "INSERT INTO events (time, fingerprint, kind, detail)"
		 " VALUES (15, '" FP_A "', 'called', 'from [::1]:7');");
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);

	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.idle_close, -1);	/* migration 3's default */
	assert_string_equal(rec.name, "r1");
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_string_equal(rec.address, "[::1]:7");
	assert_int_equal(rec.first_seen, 10);
	assert_int_equal(rec.last_seen, 20);
	assert_int_equal(rec.capabilities, 5);
	assert_string_equal(rec.last_error, "eof");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"
				 " WHERE fingerprint = '" FP_A "'"
				 " AND kind = 'called' AND time = 15"), 1);
	/* the new tables work with the old rows */
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_B, 30), CH_OK);
	assert_int_equal(ch_store_job_add(f->st, FP_B, "get-config", NULL, 1,
					  0, 40, &id), CH_OK);
	assert_int_equal(ch_store_job_get(f->st, id, &job), CH_OK);
	assert_string_equal(job.fingerprint, FP_A);
	ch_job_rec_cleanup(&job);
	/* a second open has nothing left to do */
	ch_store_close(f->st);
	f->st = NULL;
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM jobs"), 1);
}

/* job_next and job_count_queued look jobs up by (device, state) in id
 * order; this index is what makes that a search instead of a scan (the
 * plans were checked with EXPLAIN QUERY PLAN). */
static void test_jobs_index(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
				 " pragma_index_info('jobs_device_state_id')"),
			 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
				 " pragma_index_info('jobs_device_state_id')"
				 " WHERE (seqno = 0 AND name = 'device')"
				 " OR (seqno = 1 AND name = 'state')"
				 " OR (seqno = 2 AND name = 'id')"), 3);
}

/* A new device's name is checked without regard to case by an index,
 * and a fingerprint prefix is found by a range of the primary key: no
 * scan of every device at each enrollment. */
static void test_name_and_prefix_indexed(void **state)
{
	struct fixture *f = *state;
	char plan[] = "SELECT count(*) FROM (SELECT 1 FROM"
		      " pragma_index_list('devices')"
		      " WHERE name = 'devices_name_nocase')";
	char fp[FP_SIZE_T];

	assert_int_equal(raw_int(f->path, plan), 1);
	assert_int_equal(ch_store_device_add(f->st, FP_A, "Router1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_C, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "router1",
					     CH_ADMIT_PENDING), CH_ERR_EXISTS);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAAbb", fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:Zzzz0", fp),
			 CH_OK);
	assert_string_equal(fp, FP_C);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAAbbX", fp),
			 CH_ERR_NOTFOUND);
}

/* ---- identities ---- */

#define FP_A2 "SHA256:Qqqq1111CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_A3 "SHA256:AAAAbbbbZZZZddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_A4 "SHA256:Zzzz1111CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_EARLY "SHA256:Eeee1111CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"

static void test_identity_add(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 10), CH_OK);
	/* a second time, or to another device */
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 11),
			 CH_ERR_EXISTS);
	assert_int_equal(ch_store_identity_add(f->st, FP_B, FP_A2, 11),
			 CH_ERR_EXISTS);
	/* a device's key, its own or another's */
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A, 11),
			 CH_ERR_EXISTS);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_B, 11),
			 CH_ERR_EXISTS);
	assert_int_equal(ch_store_identity_add(f->st, FP_C, FP_A3, 11),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, "", 11),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, "SHA256:a b", 11),
			 CH_ERR_INVAL);
	/* given an alias as the device, it goes to the owner */
	assert_int_equal(ch_store_identity_add(f->st, FP_A2, FP_A3, 12), CH_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM identities"
				 " WHERE device = '" FP_A "'"), 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM identities"),
			 2);
	/* an alias is not a new device */
	assert_int_equal(ch_store_device_add(f->st, FP_A2, NULL,
					     CH_ADMIT_PENDING), CH_ERR_EXISTS);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"), 2);
}

static void test_identity_alias_resolution(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	struct evs e = { 0 };
	char fp[128];

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_C, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 10), CH_OK);

	assert_int_equal(ch_store_device_get(f->st, FP_A2, &rec), CH_OK);
	assert_string_equal(rec.fingerprint, FP_A);	/* the key */
	assert_string_equal(rec.name, "r1");
	assert_int_equal(ch_store_device_set_admission(f->st, FP_A2,
						       CH_ADMIT_ADMITTED),
			 CH_OK);
	assert_int_equal(ch_store_device_seen(f->st, FP_A2, "[::1]:9", 100),
			 CH_OK);
	assert_int_equal(ch_store_device_connected(f->st, FP_A2, 1, 7, NULL,
						   110), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_string_equal(rec.address, "[::1]:9");
	assert_int_equal(rec.first_seen, 100);
	assert_int_equal(rec.last_seen, 110);
	assert_int_equal(rec.connected, 1);
	assert_int_equal(rec.connected_since, 110);
	assert_int_equal(rec.capabilities, 7);
	assert_int_equal(ch_store_device_connected(f->st, FP_A2, 0, 0, "eof",
						   120), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.connected, 0);
	assert_string_equal(rec.last_error, "eof");
	/* the other devices are untouched */
	assert_int_equal(ch_store_device_get(f->st, FP_B, &rec), CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_PENDING);
	assert_int_equal(rec.last_seen, 0);

	/* events under the key; an unknown fingerprint stays itself */
	assert_int_equal(ch_store_event_add(f->st, FP_A2, "called", "x", 130),
			 CH_OK);
	assert_int_equal(ch_store_event_add(f->st, FP_A3, "refused", "y", 131),
			 CH_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"
				 " WHERE fingerprint = '" FP_A "'"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"
				 " WHERE fingerprint = '" FP_A2 "'"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"
				 " WHERE fingerprint = '" FP_A3 "'"), 1);
	assert_int_equal(ch_store_event_foreach(f->st, FP_A2, 0, walk_ev, &e),
			 CH_OK);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0].kind, "called");
	assert_string_equal(e.ev[0].fingerprint, FP_A);

	/* resolve: the whole alias, its prefix, with or without scheme */
	assert_int_equal(ch_store_device_resolve(f->st, FP_A2, fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "Qqqq1", fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "SHA256:Qqqq", fp),
			 CH_OK);
	assert_string_equal(fp, FP_A);
	/* key and alias of one device matching one prefix: still unique */
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A3, 140), CH_OK);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAAbbbb", fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAAbbbbZ", fp),
			 CH_OK);
	assert_string_equal(fp, FP_A);
	/* an alias prefix that also matches another device's key */
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A4, 150), CH_OK);
	assert_int_equal(ch_store_device_resolve(f->st, "Zzzz", fp),
			 CH_ERR_AMBIGUOUS);
	assert_int_equal(ch_store_device_resolve(f->st, "Zzzz1", fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "Zzzz0", fp), CH_OK);
	assert_string_equal(fp, FP_C);
}

struct ids {
	char fp[8][128];
	int64_t added[8];
	int n;
	int stop_at;
};

static int walk_id(void *ctx, const char *fp, int64_t added)
{
	struct ids *w = ctx;

	assert_true(w->n < 8);
	snprintf(w->fp[w->n], sizeof(w->fp[0]), "%s", fp);
	w->added[w->n++] = added;
	return w->n == w->stop_at ? 9 : 0;
}

static void test_identity_foreach_remove(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	struct ids w = { 0 };

	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_seen(f->st, FP_A, "x", 5), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A3, 20), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_B, FP_C, 25), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 30), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A4, 30), CH_OK);
	/* recorded late with an earlier date (e.g. imported) */
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_EARLY, 15),
			 CH_OK);

	/* the key first (dated by first_seen), then by date added */
	assert_int_equal(ch_store_identity_foreach(f->st, FP_A, walk_id, &w),
			 CH_OK);
	assert_int_equal(w.n, 5);
	assert_string_equal(w.fp[0], FP_A);
	assert_int_equal(w.added[0], 5);
	assert_string_equal(w.fp[1], FP_EARLY);
	assert_int_equal(w.added[1], 15);
	assert_string_equal(w.fp[2], FP_A3);
	assert_int_equal(w.added[2], 20);
	assert_string_equal(w.fp[3], FP_A2);	/* same date: added first */
	assert_int_equal(w.added[3], 30);
	assert_string_equal(w.fp[4], FP_A4);
	/* through an alias: the same list */
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_identity_foreach(f->st, FP_A4, walk_id, &w),
			 CH_OK);
	assert_int_equal(w.n, 5);
	assert_string_equal(w.fp[0], FP_A);
	assert_string_equal(w.fp[4], FP_A4);
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	assert_int_equal(ch_store_identity_foreach(f->st, FP_A, walk_id, &w),
			 9);
	assert_int_equal(w.n, 2);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_identity_foreach(f->st, "SHA256:nope",
						   walk_id, &w),
			 CH_ERR_NOTFOUND);
	assert_int_equal(w.n, 0);

	/* the key cannot go; an alias can, once */
	assert_int_equal(ch_store_identity_remove(f->st, FP_A), CH_ERR_INVAL);
	assert_int_equal(ch_store_identity_remove(f->st, "SHA256:nope"),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_identity_remove(f->st, FP_A2), CH_OK);
	assert_int_equal(ch_store_identity_remove(f->st, FP_A2),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_get(f->st, FP_A2, &rec),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_identity_foreach(f->st, FP_A, walk_id, &w),
			 CH_OK);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.fp[1], FP_EARLY);
	assert_string_equal(w.fp[2], FP_A3);
	assert_string_equal(w.fp[3], FP_A4);
	/* a removed alias may be given out again */
	assert_int_equal(ch_store_identity_add(f->st, FP_B, FP_A2, 40), CH_OK);

	/* deleting a device takes its aliases along (ON DELETE CASCADE) */
	raw_exec(f->path, "PRAGMA foreign_keys = ON;"
		 "DELETE FROM devices WHERE fingerprint = '" FP_A "'");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM identities"
				 " WHERE device = '" FP_A "'"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM identities"
				 " WHERE device = '" FP_B "'"), 2);
	assert_int_equal(ch_store_device_get(f->st, FP_A3, &rec),
			 CH_ERR_NOTFOUND);
}

static void test_rename(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	char fp[128];

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "r2",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 1), CH_OK);
	assert_int_equal(ch_store_device_rename(f->st, FP_A2, "core-1"),
			 CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.name, "core-1");
	assert_int_equal(ch_store_device_resolve(f->st, "core-1", fp), CH_OK);
	assert_string_equal(fp, FP_A);
	assert_int_equal(ch_store_device_resolve(f->st, "r1", fp),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_rename(f->st, FP_A, "core-1"), CH_OK);
	assert_int_equal(ch_store_device_rename(f->st, FP_A, "r2"),
			 CH_ERR_EXISTS);
	assert_int_equal(ch_store_device_rename(f->st, FP_A, "a b"),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_rename(f->st, FP_A, "SHA256:x"),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_rename(f->st, FP_C, "r3"),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.name, "core-1");
	assert_int_equal(ch_store_device_rename(f->st, FP_A, ""), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_string_equal(rec.name, "");
	assert_int_equal(ch_store_device_rename(f->st, FP_B, NULL), CH_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"
				 " WHERE name IS NULL"), 2);
}

/* ---- jobs ---- */

static void test_job_state_names(void **state)
{
	static const char *const names[] = { "queued", "running", "done",
		"failed", "in-doubt", "cancelled", "expired" };

	(void)state;
	for (int i = 0; i < 7; i++)
		assert_string_equal(ch_job_state_name(i), names[i]);
	assert_string_equal(ch_job_state_name(7), "unknown");
	assert_string_equal(ch_job_state_name(-1), "unknown");
}

static int64_t add_job(struct fixture *f, const char *fp, const char *kind,
		       int read_only, int64_t expires, int64_t now)
{
	int64_t id = -1;

	assert_int_equal(ch_store_job_add(f->st, fp, kind, "<x/>", read_only,
					  expires, now, &id), CH_OK);
	assert_true(id > 0);
	return id;
}

static int job_state(struct fixture *f, int64_t id)
{
	struct ch_job_rec j;
	int st;

	assert_int_equal(ch_store_job_get(f->st, id, &j), CH_OK);
	st = j.state;
	ch_job_rec_cleanup(&j);
	return st;
}

static void two_devices(struct fixture *f)
{
	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "r2",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 1), CH_OK);
}

static void test_job_add_get(void **state)
{
	struct fixture *f = *state;
	struct ch_job_rec j;
	int64_t id = 77, id2;

	two_devices(f);
	assert_int_equal(ch_store_job_add(f->st, FP_A2, "edit-config",
					  "<config><a/></config>", 0, 500, 100,
					  &id), CH_OK);
	assert_true(id > 0);
	memset(&j, 'x', sizeof(j));
	assert_int_equal(ch_store_job_get(f->st, id, &j), CH_OK);
	assert_int_equal(j.id, id);
	assert_string_equal(j.fingerprint, FP_A);	/* the key, not FP_A2 */
	assert_string_equal(j.kind, "edit-config");
	assert_string_equal(j.payload, "<config><a/></config>");
	assert_int_equal(j.read_only, 0);
	assert_int_equal(j.state, CH_JOB_QUEUED);
	assert_int_equal(j.created, 100);
	assert_int_equal(j.expires, 500);
	assert_int_equal(j.started, 0);
	assert_int_equal(j.finished, 0);
	assert_null(j.result);
	assert_int_equal(j.rpc_error, 0);
	assert_string_equal(j.method, "");
	assert_string_equal(j.error, "");
	ch_job_rec_cleanup(&j);
	assert_null(j.payload);
	ch_job_rec_cleanup(&j);		/* twice is harmless */

	/* no payload; read_only is stored as 0/1 */
	assert_int_equal(ch_store_job_add(f->st, FP_B, "get-config", NULL, 5,
					  0, 101, &id2), CH_OK);
	assert_true(id2 > id);
	assert_int_equal(ch_store_job_get(f->st, id2, &j), CH_OK);
	assert_null(j.payload);
	assert_int_equal(j.read_only, 1);
	assert_string_equal(j.fingerprint, FP_B);
	ch_job_rec_cleanup(&j);

	id = 77;
	assert_int_equal(ch_store_job_add(f->st, FP_C, "rpc", "<x/>", 0, 0, 1,
					  &id), CH_ERR_NOTFOUND);
	assert_int_equal(id, 0);			/* cleared */
	assert_int_equal(ch_store_job_add(f->st, FP_A, NULL, "<x/>", 0, 0, 1,
					  &id), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_add(f->st, FP_A, "", "<x/>", 0, 0, 1,
					  &id), CH_ERR_INVAL);
	/* 16 bytes do not fit kind[16]: refused, not cut */
	assert_int_equal(ch_store_job_add(f->st, FP_A, "0123456789abcdef",
					  "<x/>", 0, 0, 1, &id), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_add(f->st, FP_A, "0123456789abcde",
					  "<x/>", 0, 0, 1, NULL), CH_OK);
	assert_int_equal(ch_store_job_add(f->st, FP_A, "rpc", "<x/>", 0, -1,
					  1, &id), CH_ERR_INVAL);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM jobs"), 3);

	memset(&j, 'x', sizeof(j));
	assert_int_equal(ch_store_job_get(f->st, 999, &j), CH_ERR_NOTFOUND);
	assert_null(j.payload);
	assert_int_equal(j.id, 0);
}

static void test_job_payload_limit(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(CH_JOB_PAYLOAD_MAX + 2);
	struct ch_job_rec j;
	int64_t id;

	assert_non_null(big);
	two_devices(f);
	memset(big, 'p', CH_JOB_PAYLOAD_MAX + 1);
	big[CH_JOB_PAYLOAD_MAX + 1] = '\0';
	assert_int_equal(ch_store_job_add(f->st, FP_A, "rpc", big, 0, 0, 1,
					  &id), CH_ERR_LIMIT);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM jobs"), 0);
	big[CH_JOB_PAYLOAD_MAX] = '\0';
	assert_int_equal(ch_store_job_add(f->st, FP_A, "rpc", big, 0, 0, 1,
					  &id), CH_OK);
	assert_int_equal(ch_store_job_get(f->st, id, &j), CH_OK);
	assert_int_equal(strlen(j.payload), CH_JOB_PAYLOAD_MAX);
	assert_memory_equal(j.payload, big, CH_JOB_PAYLOAD_MAX);
	ch_job_rec_cleanup(&j);
	free(big);
}

static void test_job_run_outcomes(void **state)
{
	struct fixture *f = *state;
	struct ch_job_rec j;
	int64_t a, b, c;

	two_devices(f);
	a = add_job(f, FP_A, "edit-config", 0, 0, 100);
	b = add_job(f, FP_A, "rpc", 0, 0, 101);
	c = add_job(f, FP_A, "get-config", 1, 0, 102);

	/* done with data */
	assert_int_equal(ch_store_job_next(f->st, FP_A, 110, &j), CH_OK);
	assert_int_equal(j.id, a);
	assert_string_equal(j.payload, "<x/>");
	assert_int_equal(j.state, CH_JOB_QUEUED);
	ch_job_rec_cleanup(&j);
	/* finishing a job that was never started */
	assert_int_equal(ch_store_job_finish(f->st, a, CH_JOB_DONE, "<ok/>", 0,
					     NULL, NULL, 111), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_start(f->st, a, 120), CH_OK);
	assert_int_equal(ch_store_job_start(f->st, a, 121), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_get(f->st, a, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_RUNNING);
	assert_int_equal(j.started, 120);
	ch_job_rec_cleanup(&j);
	/* running jobs are not handed out again */
	assert_int_equal(ch_store_job_next(f->st, FP_A, 122, &j), CH_OK);
	assert_int_equal(j.id, b);
	ch_job_rec_cleanup(&j);
	/* only done, failed or in-doubt end a job */
	assert_int_equal(ch_store_job_finish(f->st, a, CH_JOB_QUEUED, NULL, 0,
					     NULL, NULL, 123), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_finish(f->st, a, CH_JOB_CANCELLED, NULL,
					     0, NULL, NULL, 123), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_finish(f->st, a, CH_JOB_DONE, "<ok/>", 0,
					     "candidate+confirmed-commit",
					     NULL, 130), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, a, CH_JOB_FAILED, NULL, 0,
					     NULL, "again", 131), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_get(f->st, a, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_DONE);
	assert_int_equal(j.started, 120);
	assert_int_equal(j.finished, 130);
	assert_string_equal(j.result, "<ok/>");
	assert_int_equal(j.rpc_error, 0);
	assert_string_equal(j.method, "candidate+confirmed-commit");
	assert_string_equal(j.error, "");
	ch_job_rec_cleanup(&j);

	/* done with an rpc-error */
	assert_int_equal(ch_store_job_start(f->st, b, 140), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, b, CH_JOB_DONE,
					     "<rpc-error/>", 5, "running",
					     NULL, 141), CH_OK);
	assert_int_equal(ch_store_job_get(f->st, b, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_DONE);
	assert_int_equal(j.rpc_error, 1);
	assert_string_equal(j.result, "<rpc-error/>");
	ch_job_rec_cleanup(&j);

	/* failed, no reply */
	assert_int_equal(ch_store_job_start(f->st, c, 150), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, c, CH_JOB_FAILED, NULL, 0,
					     NULL, "session closed", 151),
			 CH_OK);
	assert_int_equal(ch_store_job_get(f->st, c, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_FAILED);
	assert_null(j.result);
	assert_string_equal(j.error, "session closed");
	assert_string_equal(j.method, "");
	assert_int_equal(j.finished, 151);
	ch_job_rec_cleanup(&j);

	memset(&j, 'x', sizeof(j));
	assert_int_equal(ch_store_job_next(f->st, FP_A, 160, &j),
			 CH_ERR_NOTFOUND);
	assert_null(j.payload);
	assert_int_equal(j.id, 0);
	/* unknown ids */
	assert_int_equal(ch_store_job_start(f->st, 999, 1), CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_job_finish(f->st, 999, CH_JOB_DONE, NULL, 0,
					     NULL, NULL, 1), CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_job_cancel(f->st, 999, 1), CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_job_requeue(f->st, 999), CH_ERR_NOTFOUND);
}

/* The device went away mid-job: the outcome is unknown, so the job is
 * in doubt, and the operator may queue it again. */
static void test_job_finish_in_doubt(void **state)
{
	struct fixture *f = *state;
	int64_t a;

	two_devices(f);
	a = add_job(f, FP_A, "edit-config", 0, 0, 100);
	assert_int_equal(ch_store_job_start(f->st, a, 101), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, a, CH_JOB_IN_DOUBT, NULL,
					     0, "running", "device went away",
					     102), CH_OK);
	assert_int_equal(job_state(f, a), CH_JOB_IN_DOUBT);
	assert_int_equal(ch_store_job_requeue(f->st, a), CH_OK);
	assert_int_equal(job_state(f, a), CH_JOB_QUEUED);
}

static void test_device_idle_close(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;

	two_devices(f);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.idle_close, -1);
	assert_int_equal(ch_store_device_set_idle_close(f->st, FP_A, 300),
			 CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.idle_close, 300);
	assert_int_equal(ch_store_device_set_idle_close(f->st, FP_A, -2),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_device_set_idle_close(f->st, FP_C, 5),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_set_idle_close(f->st, FP_A, -1),
			 CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.idle_close, -1);
}

static void test_job_fifo(void **state)
{
	struct fixture *f = *state;
	int64_t ids[6];
	struct ch_job_rec j;
	int n;

	two_devices(f);
	/* interleaved; created times out of order on purpose: id decides */
	for (int i = 0; i < 6; i++)
		ids[i] = add_job(f, i % 2 ? FP_B : FP_A, "rpc", 0, 0, 100 - i);
	assert_int_equal(ch_store_job_count_queued(f->st, FP_A, &n), CH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ch_store_job_count_queued(f->st, FP_A2, &n), CH_OK);
	assert_int_equal(n, 3);
	for (int i = 0; i < 6; i += 2) {
		/* the same job until it is started */
		assert_int_equal(ch_store_job_next(f->st, FP_A2, 200, &j),
				 CH_OK);
		assert_int_equal(j.id, ids[i]);
		ch_job_rec_cleanup(&j);
		assert_int_equal(ch_store_job_next(f->st, FP_A, 200, &j),
				 CH_OK);
		assert_int_equal(j.id, ids[i]);
		assert_string_equal(j.fingerprint, FP_A);
		ch_job_rec_cleanup(&j);
		assert_int_equal(ch_store_job_start(f->st, ids[i], 200), CH_OK);
		assert_int_equal(ch_store_job_finish(f->st, ids[i], CH_JOB_DONE,
						     "<ok/>", 0, NULL, NULL,
						     200), CH_OK);
	}
	assert_int_equal(ch_store_job_next(f->st, FP_A, 200, &j),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_job_count_queued(f->st, FP_A, &n), CH_OK);
	assert_int_equal(n, 0);
	/* B's jobs were not touched */
	assert_int_equal(ch_store_job_count_queued(f->st, FP_B, &n), CH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ch_store_job_next(f->st, FP_B, 200, &j), CH_OK);
	assert_int_equal(j.id, ids[1]);
	ch_job_rec_cleanup(&j);
	n = 5;
	assert_int_equal(ch_store_job_count_queued(f->st, FP_C, &n),
			 CH_ERR_NOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(ch_store_job_next(f->st, FP_C, 200, &j),
			 CH_ERR_NOTFOUND);
}

static int collect_due(void *ctx, const struct ch_job_rec *rec)
{
	int64_t *ids = ctx;

	while (*ids)
		ids++;
	*ids = rec->id;
	return 0;
}

/* The hub's expiry timer: the nearest expiry of a queued job, the jobs
 * due, one expired at a time (never a job that has left the queue). */
static void test_job_expiry_sweep(void **state)
{
	struct fixture *f = *state;
	int64_t when = -1, due[8] = { 0 }, a, b, c, d;

	two_devices(f);
	assert_int_equal(ch_store_job_next_expiry(f->st, &when), CH_OK);
	assert_int_equal(when, 0);			/* none */
	add_job(f, FP_A, "rpc", 0, 0, 10);		/* never expires */
	a = add_job(f, FP_A, "rpc", 0, 300, 10);
	b = add_job(f, FP_B, "rpc", 0, 200, 10);
	c = add_job(f, FP_A, "rpc", 0, 100, 10);
	d = add_job(f, FP_B, "rpc", 0, 150, 10);
	assert_int_equal(ch_store_job_next_expiry(f->st, &when), CH_OK);
	assert_int_equal(when, 100);
	assert_int_equal(ch_store_job_start(f->st, d, 20), CH_OK);
	assert_int_equal(ch_store_job_foreach_due(f->st, 250, 10,
						  collect_due, due), CH_OK);
	assert_int_equal(due[0], b);		/* oldest first, d running */
	assert_int_equal(due[1], c);
	assert_int_equal(due[2], 0);
	assert_int_equal(ch_store_job_expire(f->st, b, 250), CH_OK);
	assert_int_equal(ch_store_job_expire(f->st, c, 250), CH_OK);
	assert_int_equal(ch_store_job_expire(f->st, c, 251), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_expire(f->st, d, 251), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_expire(f->st, 9999, 251),
			 CH_ERR_NOTFOUND);
	assert_int_equal(job_state(f, b), CH_JOB_EXPIRED);
	assert_int_equal(job_state(f, d), CH_JOB_RUNNING);
	assert_int_equal(ch_store_job_next_expiry(f->st, &when), CH_OK);
	assert_int_equal(when, 300);
	(void)a;
}

/* edit-config's opt-out of the copy to startup comes back with the job */
static void test_job_no_startup_flag(void **state)
{
	struct fixture *f = *state;
	struct ch_job_rec j;
	int64_t id1, id2;

	two_devices(f);
	id1 = add_job(f, FP_A, "edit-config", 0, 0, 10);
	id2 = add_job(f, FP_A, "edit-config", CH_JOB_F_NO_STARTUP, 0, 10);
	assert_int_equal(ch_store_job_get(f->st, id1, &j), CH_OK);
	assert_int_equal(j.no_startup, 0);
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_job_get(f->st, id2, &j), CH_OK);
	assert_int_equal(j.no_startup, 1);
	assert_int_equal(j.read_only, 0);
	ch_job_rec_cleanup(&j);
}

static void test_job_expiry(void **state)
{
	struct fixture *f = *state;
	struct ch_job_rec j;
	int64_t e1, never, later, edge, other;
	int n;

	two_devices(f);
	e1 = add_job(f, FP_A, "rpc", 0, 50, 10);
	never = add_job(f, FP_A, "rpc", 0, 0, 11);
	later = add_job(f, FP_A, "rpc", 0, 200, 12);
	edge = add_job(f, FP_A, "rpc", 0, 100, 13);
	other = add_job(f, FP_B, "rpc", 0, 50, 14);

	assert_int_equal(ch_store_job_next(f->st, FP_A, 100, &j), CH_OK);
	assert_int_equal(j.id, never);
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_job_get(f->st, e1, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_EXPIRED);
	assert_int_equal(j.finished, 100);
	ch_job_rec_cleanup(&j);
	assert_int_equal(job_state(f, edge), CH_JOB_EXPIRED);	/* <= now */
	assert_int_equal(job_state(f, later), CH_JOB_QUEUED);
	assert_int_equal(job_state(f, other), CH_JOB_QUEUED);	/* not B */
	assert_int_equal(ch_store_job_count_queued(f->st, FP_A, &n), CH_OK);
	assert_int_equal(n, 2);
	/* an expired job is never started, cancelled or requeued */
	assert_int_equal(ch_store_job_start(f->st, e1, 101), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_cancel(f->st, e1, 101), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_requeue(f->st, e1), CH_ERR_INVAL);

	/* the only queued job having expired: nothing is returned */
	assert_int_equal(ch_store_job_start(f->st, never, 101), CH_OK);
	assert_int_equal(ch_store_job_next(f->st, FP_A, 300, &j),
			 CH_ERR_NOTFOUND);
	assert_int_equal(job_state(f, later), CH_JOB_EXPIRED);
	assert_int_equal(job_state(f, never), CH_JOB_RUNNING);
	assert_int_equal(ch_store_job_next(f->st, FP_B, 49, &j), CH_OK);
	assert_int_equal(j.id, other);
	ch_job_rec_cleanup(&j);
}

static void test_job_cancel_requeue(void **state)
{
	struct fixture *f = *state;
	struct ch_job_rec j;
	int64_t q, r, d, fl;
	int n;

	two_devices(f);
	q = add_job(f, FP_A, "rpc", 0, 0, 10);
	r = add_job(f, FP_A, "rpc", 0, 0, 11);
	d = add_job(f, FP_A, "rpc", 0, 0, 12);
	fl = add_job(f, FP_A, "rpc", 0, 0, 13);
	assert_int_equal(ch_store_job_start(f->st, d, 20), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, d, CH_JOB_DONE, "<ok/>", 0,
					     NULL, NULL, 21), CH_OK);
	assert_int_equal(ch_store_job_start(f->st, fl, 20), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, fl, CH_JOB_FAILED, "<r/>",
					     1, "m", "timeout", 22), CH_OK);
	assert_int_equal(ch_store_job_start(f->st, r, 20), CH_OK);
	/* one at a time per device, whoever starts it (another worker) */
	assert_int_equal(ch_store_job_start(f->st, q, 23), CH_ERR_INVAL);
	assert_int_equal(job_state(f, q), CH_JOB_QUEUED);

	/* requeue: only from failed (or in-doubt, see recover) */
	assert_int_equal(ch_store_job_requeue(f->st, q), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_requeue(f->st, r), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_requeue(f->st, d), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_requeue(f->st, fl), CH_OK);
	assert_int_equal(ch_store_job_requeue(f->st, fl), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_get(f->st, fl, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_QUEUED);
	assert_int_equal(j.started, 0);
	assert_int_equal(j.finished, 0);
	assert_null(j.result);
	assert_int_equal(j.rpc_error, 0);
	assert_string_equal(j.method, "");
	assert_string_equal(j.error, "");
	assert_string_equal(j.payload, "<x/>");
	assert_int_equal(j.created, 13);
	ch_job_rec_cleanup(&j);

	/* cancel: only when queued */
	assert_int_equal(ch_store_job_cancel(f->st, r, 30), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_cancel(f->st, d, 30), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_cancel(f->st, q, 30), CH_OK);
	assert_int_equal(ch_store_job_cancel(f->st, q, 31), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_get(f->st, q, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_CANCELLED);
	assert_int_equal(j.finished, 30);
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_job_requeue(f->st, q), CH_ERR_INVAL);
	assert_int_equal(ch_store_job_start(f->st, q, 32), CH_ERR_INVAL);
	assert_int_equal(job_state(f, r), CH_JOB_RUNNING);
	assert_int_equal(job_state(f, d), CH_JOB_DONE);

	/* the requeued job is next; the cancelled one is skipped */
	assert_int_equal(ch_store_job_next(f->st, FP_A, 40, &j), CH_OK);
	assert_int_equal(j.id, fl);
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_job_count_queued(f->st, FP_A, &n), CH_OK);
	assert_int_equal(n, 1);
}

static void count_fp(void *ctx, const char *fp)
{
	(void)fp;
	(*(int *)ctx)++;
}

/* A worker of the hub died: only what its process held is ended. */
static void test_holder_lost(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	int64_t a_job, b_job, a_next;
	int doubt = -1, seen = 0;

	two_devices(f);
	ch_store_set_holder(f->st, 100);	/* worker one */
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 1, 3, NULL,
						   10), CH_OK);
	a_job = add_job(f, FP_A, "edit-config", 0, 0, 11);
	a_next = add_job(f, FP_A, "rpc", 0, 0, 12);
	assert_int_equal(ch_store_job_start(f->st, a_job, 13), CH_OK);
	ch_store_set_holder(f->st, 200);	/* worker two */
	assert_int_equal(ch_store_device_connected(f->st, FP_B, 1, 3, NULL,
						   10), CH_OK);
	b_job = add_job(f, FP_B, "edit-config", 0, 0, 11);
	assert_int_equal(ch_store_job_start(f->st, b_job, 13), CH_OK);
	/* A's next job cannot start while its first runs, wherever */
	assert_int_equal(ch_store_job_start(f->st, a_next, 14), CH_ERR_INVAL);

	assert_int_equal(ch_store_holder_lost(f->st, 100, "worker 0 ended",
					      20, count_fp, &seen, &doubt),
			 CH_OK);
	assert_int_equal(seen, 1);
	assert_int_equal(doubt, 1);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.connected, 0);
	assert_string_equal(rec.last_error, "worker 0 ended");
	assert_int_equal(job_state(f, a_job), CH_JOB_IN_DOUBT);
	assert_int_equal(job_state(f, a_next), CH_JOB_QUEUED);
	/* the other worker's device and job are untouched */
	assert_int_equal(ch_store_device_get(f->st, FP_B, &rec), CH_OK);
	assert_int_equal(rec.connected, 1);
	assert_int_equal(job_state(f, b_job), CH_JOB_RUNNING);
	/* A called worker two meanwhile: worker one's end is not its end */
	assert_int_equal(ch_store_device_connected(f->st, FP_A, 1, 3, NULL,
						   21), CH_OK);
	assert_int_equal(ch_store_holder_lost(f->st, 100, "again", 22, NULL,
					      NULL, &doubt), CH_OK);
	assert_int_equal(doubt, 0);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.connected, 1);
	assert_int_equal(ch_store_job_start(f->st, a_next, 23), CH_OK);
	assert_int_equal(ch_store_holder_lost(f->st, 0, "x", 24, NULL, NULL,
					      &doubt), CH_ERR_INVAL);
}

static void test_jobs_recover(void **state)
{
	struct fixture *f = *state;
	struct evs e = { 0 };
	int64_t doubt, ro, queued, done_id, first_ev;
	char want[CH_STORE_TEXT_MAX];
	struct ch_job_rec j;
	int n = -1;

	two_devices(f);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "called", "", 1),
			 CH_OK);
	doubt = add_job(f, FP_A2, "edit-config", 0, 0, 10);
	ro = add_job(f, FP_B, "get-config", 1, 0, 11);
	queued = add_job(f, FP_A, "rpc", 0, 0, 12);
	done_id = add_job(f, FP_B, "rpc", 0, 0, 13);
	assert_int_equal(ch_store_job_start(f->st, doubt, 20), CH_OK);
	assert_int_equal(ch_store_job_start(f->st, done_id, 22), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, done_id, CH_JOB_DONE,
					     "<ok/>", 0, NULL, NULL, 23),
			 CH_OK);
	assert_int_equal(ch_store_job_start(f->st, ro, 21), CH_OK);
	first_ev = raw_int(f->path, "SELECT max(id) FROM events");

	assert_int_equal(ch_store_jobs_recover(f->st, 100, &n), CH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ch_store_job_get(f->st, doubt, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_IN_DOUBT);
	assert_string_equal(j.error,
			    "the hub stopped while the job was running");
	assert_int_equal(j.started, 20);
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_job_get(f->st, ro, &j), CH_OK);
	assert_int_equal(j.state, CH_JOB_QUEUED);
	assert_int_equal(j.started, 0);
	ch_job_rec_cleanup(&j);
	assert_int_equal(job_state(f, queued), CH_JOB_QUEUED);
	assert_int_equal(job_state(f, done_id), CH_JOB_DONE);

	/* one event per changed job, on its device, naming id and kind */
	assert_int_equal(ch_store_event_foreach_since(f->st, NULL, first_ev, 0,
						      walk_ev, &e), CH_OK);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.ev[0].kind, "job-in-doubt");
	assert_string_equal(e.ev[0].fingerprint, FP_A);
	assert_int_equal(e.ev[0].time, 100);
	snprintf(want, sizeof(want), "job %lld (edit-config): running when "
		 "the hub stopped; it may or may not have been applied",
		 (long long)doubt);
	assert_string_equal(e.ev[0].detail, want);
	assert_string_equal(e.ev[1].kind, "job-requeued");
	assert_string_equal(e.ev[1].fingerprint, FP_B);
	snprintf(want, sizeof(want), "job %lld (get-config): running when "
		 "the hub stopped; read-only, queued again", (long long)ro);
	assert_string_equal(e.ev[1].detail, want);

	/* nothing left running: a second recovery changes nothing */
	assert_int_equal(ch_store_jobs_recover(f->st, 200, &n), CH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 3);

	/* the operator may queue an in-doubt job again */
	assert_int_equal(ch_store_job_requeue(f->st, doubt), CH_OK);
	assert_int_equal(ch_store_job_next(f->st, FP_A, 300, &j), CH_OK);
	assert_int_equal(j.id, doubt);
	assert_string_equal(j.error, "");
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_job_next(f->st, FP_B, 300, &j), CH_OK);
	assert_int_equal(j.id, ro);
	ch_job_rec_cleanup(&j);
}

/* A running job survives a real close and reopen, then is recovered. */
static void test_jobs_recover_after_reopen(void **state)
{
	struct fixture *f = *state;
	int64_t id;
	int n = -1;

	two_devices(f);
	id = add_job(f, FP_A, "edit-config", 0, 0, 10);
	assert_int_equal(ch_store_job_start(f->st, id, 20), CH_OK);
	ch_store_close(f->st);
	f->st = NULL;
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(job_state(f, id), CH_JOB_RUNNING);
	assert_int_equal(ch_store_jobs_recover(f->st, 30, &n), CH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(job_state(f, id), CH_JOB_IN_DOUBT);
}

struct jobs {
	int64_t id[16];
	char payload[16][16];
	char fp[16][128];
	int n;
	int stop_at;
};

static int walk_job(void *ctx, const struct ch_job_rec *rec)
{
	struct jobs *w = ctx;

	assert_true(w->n < 16);
	w->id[w->n] = rec->id;
	snprintf(w->payload[w->n], sizeof(w->payload[0]), "%s",
		 rec->payload ? rec->payload : "(null)");
	snprintf(w->fp[w->n], sizeof(w->fp[0]), "%s", rec->fingerprint);
	w->n++;
	return w->n == w->stop_at ? 5 : 0;
}

static void test_job_foreach(void **state)
{
	struct fixture *f = *state;
	struct jobs w = { 0 };
	int64_t ids[6];

	two_devices(f);
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 0, 0, walk_job, &w),
			 CH_OK);
	assert_int_equal(w.n, 0);
	/* A: 0 done, 2 queued, 4 failed; B: 1 queued, 3 running, 5 queued */
	for (int i = 0; i < 6; i++)
		ids[i] = add_job(f, i % 2 ? FP_B : FP_A, "rpc", 0, 0, i);
	assert_int_equal(ch_store_job_start(f->st, ids[0], 10), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, ids[0], CH_JOB_DONE, NULL,
					     0, NULL, NULL, 11), CH_OK);
	assert_int_equal(ch_store_job_start(f->st, ids[3], 10), CH_OK);
	assert_int_equal(ch_store_job_start(f->st, ids[4], 10), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, ids[4], CH_JOB_FAILED,
					     NULL, 0, NULL, "x", 11), CH_OK);

	/* all, newest first */
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 0, 0, walk_job, &w),
			 CH_OK);
	assert_int_equal(w.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(w.id[i], ids[5 - i]);
	assert_string_equal(w.payload[0], "<x/>");
	assert_string_equal(w.fp[0], FP_B);
	assert_string_equal(w.fp[1], FP_A);

	/* one device, by an alias; limited to the newest two */
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, FP_A2, 0, 0, walk_job, &w),
			 CH_OK);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.id[0], ids[4]);
	assert_int_equal(w.id[1], ids[2]);
	assert_int_equal(w.id[2], ids[0]);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, FP_A, 2, 0, walk_job, &w),
			 CH_OK);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.id[0], ids[4]);
	assert_int_equal(w.id[1], ids[2]);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 4, 0, walk_job, &w),
			 CH_OK);
	assert_int_equal(w.n, 4);
	assert_int_equal(w.id[3], ids[2]);

	/* state masks */
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 0,
					      1u << CH_JOB_QUEUED, walk_job,
					      &w), CH_OK);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.id[0], ids[5]);
	assert_int_equal(w.id[1], ids[2]);
	assert_int_equal(w.id[2], ids[1]);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, FP_A, 0,
					      (1u << CH_JOB_DONE) |
						      (1u << CH_JOB_FAILED),
					      walk_job, &w), CH_OK);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.id[0], ids[4]);
	assert_int_equal(w.id[1], ids[0]);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, FP_B, 1,
					      1u << CH_JOB_QUEUED, walk_job,
					      &w), CH_OK);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.id[0], ids[5]);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 0,
					      1u << CH_JOB_EXPIRED, walk_job,
					      &w), CH_OK);
	assert_int_equal(w.n, 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(ch_store_job_foreach(f->st, FP_C, 0, 0, walk_job, &w),
			 CH_OK);
	assert_int_equal(w.n, 0);

	/* fn's non-zero return stops the walk and is returned */
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 0, 0, walk_job, &w),
			 5);
	assert_int_equal(w.n, 2);
}

/* ---- events since an id ---- */

static void test_events_since(void **state)
{
	struct fixture *f = *state;
	struct evs e = { 0 };
	int64_t third;
	char kind[8];

	two_devices(f);
	for (int i = 0; i < 6; i++) {
		snprintf(kind, sizeof(kind), "k%d", i);
		assert_int_equal(ch_store_event_add(f->st,
						    i % 2 ? FP_B : FP_A2, kind,
						    "", 100 + i), CH_OK);
	}
	assert_int_equal(ch_store_event_foreach_since(f->st, NULL, 0, 0,
						      walk_ev, &e), CH_OK);
	assert_int_equal(e.n, 6);
	assert_string_equal(e.ev[0].kind, "k0");
	assert_string_equal(e.ev[0].fingerprint, FP_A);
	assert_string_equal(e.ev[5].kind, "k5");
	third = e.ev[2].id;

	/* after the third, oldest first, at most 2 */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach_since(f->st, NULL, third, 2,
						      walk_ev, &e), CH_OK);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.ev[0].kind, "k3");
	assert_string_equal(e.ev[1].kind, "k4");
	/* one device, named by an alias */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach_since(f->st, FP_A2, third, 0,
						      walk_ev, &e), CH_OK);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.ev[0].kind, "k4");
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach_since(f->st, FP_B, 0, 0,
						      walk_ev, &e), CH_OK);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.ev[0].kind, "k1");
	assert_string_equal(e.ev[2].kind, "k5");
	/* nothing newer than the newest */
	memset(&e, 0, sizeof(e));
	assert_int_equal(ch_store_event_foreach_since(f->st, NULL,
						      third + 3, 0, walk_ev,
						      &e), CH_OK);
	assert_int_equal(e.n, 0);
}


/* ---- schema version 4: TLS identities ---- */

/* The schema as version 3 shipped it (migrations 1-3, frozen). */
static const char v3_schema_extra[] =
	"CREATE TABLE identities ("
	" fingerprint TEXT PRIMARY KEY,"
	" device TEXT NOT NULL REFERENCES devices(fingerprint)"
	" ON DELETE CASCADE,"
	" added INTEGER NOT NULL DEFAULT 0);"
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
	"CREATE INDEX jobs_device_state_id ON jobs(device, state, id);"
	"ALTER TABLE devices ADD COLUMN idle_close INTEGER NOT NULL DEFAULT -1;"
	"PRAGMA user_version = 3;";

static void test_migrate_v3_to_current(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	struct ch_job_rec job;
	char fp[128];

	ch_store_close(f->st);
	f->st = NULL;
	remove_db(f);
	raw_exec(f->path, v1_schema);
	raw_exec(f->path, v3_schema_extra);
	raw_exec(f->path, "INSERT INTO devices (fingerprint, name, admission,"
		 " address, first_seen, last_seen, idle_close)"
		 " VALUES ('" FP_A "', 'r1', 1, '[::1]:7', 10, 20, 30);"
		 "INSERT INTO identities (fingerprint, device, added)"
		 " VALUES ('" FP_B "', '" FP_A "', 25);"
		 "INSERT INTO jobs (device, kind, payload, state, created)"
		 " VALUES ('" FP_A "', 'get-config', '<x/>', 0, 26);");
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 3);

	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
	/* the old rows are SSH host keys, with no certificate */
	assert_int_equal(ch_store_device_get(f->st, FP_B, &rec), CH_OK);
	assert_string_equal(rec.fingerprint, FP_A);
	assert_string_equal(rec.name, "r1");
	assert_int_equal(rec.idle_close, 30);
	assert_int_equal(rec.kind, CH_ID_SSH);
	assert_string_equal(rec.cert_fp, "");
	assert_int_equal(raw_int(f->path, "SELECT kind FROM identities"
				 " WHERE fingerprint = '" FP_B "'"), 0);
	assert_int_equal(ch_store_job_next(f->st, FP_A, 27, &job), CH_OK);
	assert_string_equal(job.payload, "<x/>");
	ch_job_rec_cleanup(&job);
	/* new identities carry their kind */
	assert_int_equal(ch_store_device_add(f->st, "serial:SN-1", "t1",
					     CH_ADMIT_PENDING), CH_OK);
	/* identities name a device by identity, never by name */
	assert_int_equal(ch_store_identity_add(f->st, "t1",
		"x509:SHA256:abc", 40), CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_identity_add(f->st, "serial:SN-1",
		"x509:SHA256:abc", 40), CH_OK);
	assert_int_equal(raw_int(f->path, "SELECT kind FROM devices"
				 " WHERE fingerprint = 'serial:SN-1'"),
			 CH_ID_SERIAL);
	assert_int_equal(raw_int(f->path, "SELECT kind FROM identities"
				 " WHERE fingerprint = 'x509:SHA256:abc'"),
			 CH_ID_CERT);
	assert_int_equal(ch_store_device_get(f->st, "x509:SHA256:abc", &rec),
			 CH_OK);
	assert_string_equal(rec.fingerprint, "serial:SN-1");
	assert_int_equal(rec.kind, CH_ID_SERIAL);
	/* migration 5: a TLS device is bound to its first trust anchor,
	 * also when named by another identity of its own */
	{
		char bound[128];

		assert_string_equal(rec.anchor, "");
		assert_int_equal(ch_store_device_anchor(f->st, "serial:SN-1",
			"x509:SHA256:root1", bound), CH_OK);
		assert_string_equal(bound, "x509:SHA256:root1");
		assert_int_equal(ch_store_device_anchor(f->st,
			"x509:SHA256:abc", "x509:SHA256:root1", bound), CH_OK);
		assert_int_equal(ch_store_device_anchor(f->st, "serial:SN-1",
			"x509:SHA256:root2", bound), CH_ERR_DENIED);
		assert_string_equal(bound, "x509:SHA256:root1");
		assert_int_equal(ch_store_device_anchor(f->st, "serial:NONE",
			"x509:SHA256:root1", bound), CH_ERR_NOTFOUND);
		assert_int_equal(ch_store_device_get(f->st, "serial:SN-1",
						     &rec), CH_OK);
		assert_string_equal(rec.anchor, "x509:SHA256:root1");
	}
	assert_int_equal(ch_store_device_resolve(f->st, "SN-1", fp), CH_OK);
	assert_string_equal(fp, "serial:SN-1");
	/* a second open has nothing left to do */
	ch_store_close(f->st);
	f->st = NULL;
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), SCHEMA_NOW);
}

static void test_cert_seen(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	char prev[128];

	assert_int_equal(ch_store_device_add(f->st, "serial:S1", NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, "serial:S1",
					       "x509:SHA256:pin", 1), CH_OK);
	snprintf(prev, sizeof(prev), "junk");
	assert_int_equal(ch_store_device_cert_seen(f->st, "serial:S1",
				"x509:SHA256:one", prev), CH_OK);
	assert_string_equal(prev, "");
	/* by an alias too */
	assert_int_equal(ch_store_device_cert_seen(f->st, "x509:SHA256:pin",
				"x509:SHA256:two", prev), CH_OK);
	assert_string_equal(prev, "x509:SHA256:one");
	assert_int_equal(ch_store_device_get(f->st, "serial:S1", &rec), CH_OK);
	assert_string_equal(rec.cert_fp, "x509:SHA256:two");
	assert_int_equal(ch_store_device_cert_seen(f->st, "serial:nope",
				"x509:SHA256:two", prev), CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_cert_seen(f->st, "serial:S1",
				"bad value", prev), CH_ERR_INVAL);
}

struct bad_lines {
	unsigned line[8];
	char why[8][128];
	int n;
};

static void on_bad(void *ctx, unsigned line, const char *why)
{
	struct bad_lines *b = ctx;

	if (b->n < 8) {
		b->line[b->n] = line;
		snprintf(b->why[b->n], sizeof(b->why[0]), "%s", why);
	}
	b->n++;
}

static void test_import_serials(void **state)
{
	struct fixture *f = *state;
	struct ch_import_counts c;
	struct ch_device_rec rec;
	struct bad_lines b;
	static const char list[] =
		"# ACME serials, batch 7\n"		/* 1 */
		"\n"					/* 2 */
		"SN-0001\n"				/* 3 */
		"  SN-0002 , edge-2  \r\n"		/* 4 */
		"SN-0003,taken\n"			/* 5 */
		"bad serial\n"				/* 6 */
		"SN-0004,bad name!\n"			/* 7 */
		"SN-0001\n"				/* 8: again */
		"SN-PEND # called before the list came\n"	/* 9 */
		"SN-REV\n"				/* 10 */
		"SN-0005,edge-5";			/* 11: no newline */

	assert_int_equal(ch_store_device_add(f->st, FP_A, "taken",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, "serial:SN-PEND", NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, "serial:SN-REV", NULL,
					     CH_ADMIT_REVOKED), CH_OK);
	memset(&b, 0, sizeof(b));
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_SERIALS, list,
					 strlen(list), NULL, 100, &c, on_bad,
					 &b), CH_OK);
	assert_int_equal(c.added, 3);		/* 0001, 0002, 0005 */
	assert_int_equal(c.known, 3);		/* 0001 again, PEND, REV */
	assert_int_equal(c.approved, 1);	/* PEND */
	assert_int_equal(c.invalid, 3);		/* lines 5, 6, 7 */
	assert_int_equal(b.n, 3);
	assert_int_equal(b.line[0], 5);
	assert_string_equal(b.why[0], "NAME already belongs to another device");
	assert_int_equal(b.line[1], 6);
	assert_int_equal(b.line[2], 7);
	assert_int_equal(ch_store_device_get(f->st, "serial:SN-0002", &rec),
			 CH_OK);
	assert_string_equal(rec.name, "edge-2");
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_int_equal(rec.kind, CH_ID_SERIAL);
	assert_int_equal(ch_store_device_get(f->st, "serial:SN-0005", &rec),
			 CH_OK);
	assert_string_equal(rec.name, "edge-5");
	assert_int_equal(ch_store_device_get(f->st, "serial:SN-0001", &rec),
			 CH_OK);
	assert_string_equal(rec.name, "");
	assert_int_equal(ch_store_device_get(f->st, "serial:SN-PEND", &rec),
			 CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_int_equal(ch_store_device_get(f->st, "serial:SN-REV", &rec),
			 CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_REVOKED);	/* stays */
	assert_int_equal(ch_store_device_get(f->st, "serial:SN-0003", &rec),
			 CH_ERR_NOTFOUND);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"
				 " WHERE kind = 'added' AND time = 100"), 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"
				 " WHERE kind = 'approved' AND fingerprint ="
				 " 'serial:SN-PEND'"), 1);
	/* again: everything is known now, nothing changes */
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_SERIALS, list,
					 strlen(list), NULL, 101, &c, NULL,
					 NULL), CH_OK);
	assert_int_equal(c.added, 0);
	assert_int_equal(c.known, 6);
	assert_int_equal(c.approved, 0);
	assert_int_equal(c.invalid, 3);
	/* empty input */
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_SERIALS, "", 0, NULL,
					 1, &c, NULL, NULL), CH_OK);
	assert_int_equal(c.added + c.known + c.invalid, 0);
}

/* Keys as .pub lines and as known_hosts has them. */
#define KEY_ED "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVcnVylk3hxf3ub/55Jp" \
	"Yyh4gSL8EmlFLlXyZlTulz6"
#define KEY_ED_FP "SHA256:O73hnRphVT37Zv3jauKW2fvArZDuk5dN93rlE2zM3og"
#define KEY_EC "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbml" \
	"zdHAyNTYAAABBBGrK067d0AzpRXq3js5rr4/fcjwoORQHF2x0/38wo579LQ9dkrAl4" \
	"3GqXN3tP9DgijwQQI0sY8pWmpbpyYULdzo="

static void test_import_keys(void **state)
{
	struct fixture *f = *state;
	struct ch_import_counts c;
	struct ch_device_rec rec;
	struct bad_lines b;
	char fp[128];
	static const char list[] =
		"# from ~/.ssh/known_hosts\n"			/* 1 */
		"r2,192.0.2.2 " KEY_EC " comment\n"		/* 2 */
		KEY_ED " pending-dev\n"				/* 3 */
		"@revoked * " KEY_ED "\n"			/* 4 */
		"other-name " KEY_ED "\n"			/* 5: known */
		"2001:db8::1 " KEY_ED "\n"			/* 6 */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVc\n"	/* 7 */
		"[r4]:2222 ssh-rsa\n"				/* 8 */
		"|1|aGFzaA==|c2FsdA== " KEY_ED "\n";		/* 9: known */

	assert_int_equal(ch_store_device_add(f->st, FP_A, "taken",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, KEY_ED_FP, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	memset(&b, 0, sizeof(b));
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_HOST_KEYS, list,
					 strlen(list), NULL, 100, &c, on_bad,
					 &b), CH_OK);
	assert_int_equal(c.added, 1);		/* r2 */
	assert_int_equal(c.known, 3);		/* the pending one, 3 times */
	assert_int_equal(c.approved, 1);
	assert_int_equal(c.invalid, 4);		/* 4, 6, 7, 8 */
	assert_int_equal(b.n, 4);
	assert_int_equal(b.line[0], 4);
	assert_int_equal(b.line[1], 6);		/* not a NAME */
	assert_int_equal(b.line[3], 8);
	assert_string_equal(b.why[3], "no key after the type");
	assert_int_equal(ch_store_device_resolve(f->st, "r2", fp), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, fp, &rec), CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_int_equal(rec.kind, CH_ID_SSH);
	assert_int_equal(ch_store_device_get(f->st, KEY_ED_FP, &rec), CH_OK);
	assert_int_equal(rec.admission, CH_ADMIT_ADMITTED);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events WHERE"
				 " detail = 'pre-provisioned from a host key "
				 "list'"), 1);
	/* an anchor is for serial lists only */
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_HOST_KEYS, list,
					 strlen(list), "x509:SHA256:ab", 1,
					 &c, NULL, NULL), CH_ERR_INVAL);
}

static void test_import_limit(void **state)
{
	struct fixture *f = *state;
	struct ch_import_counts c;
	size_t n = CH_IMPORT_MAX_LINES + 1, len = n * 2;
	char *text = malloc(len);

	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		text[2 * i] = 'A';
		text[2 * i + 1] = '\n';
	}
	c.added = 99;
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_SERIALS, text, len,
					 NULL, 1, &c, NULL, NULL),
			 CH_ERR_LIMIT);
	assert_int_equal(c.added, 0);
	/* exactly the limit is fine (the same serial: one device) */
	assert_int_equal(ch_store_import(f->st, CH_IMPORT_SERIALS, text,
					 len - 2, NULL, 1, &c, NULL, NULL),
			 CH_OK);
	assert_int_equal(c.added, 1);
	assert_int_equal(c.known, CH_IMPORT_MAX_LINES - 1);
	free(text);
}

static int count_ev(void *ctx, const struct ch_event_rec *ev)
{
	(void)ev;
	(*(int *)ctx)++;
	return 0;
}

static int count_match(void *ctx, const char *fp)
{
	(void)fp;
	(*(int *)ctx)++;
	return 0;
}

/* Names that would read as something else, or select another device. */
static void test_name_rule(void **state)
{
	struct fixture *f = *state;
	char why[256], fp[128];
	int n = 0;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_C, "Zzzz0",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, "serial:SN-1", "s1",
					     CH_ADMIT_ADMITTED), CH_OK);
	/* malformed */
	assert_int_equal(ch_store_name_check(f->st, NULL, "-r", why,
					     sizeof(why)), CH_ERR_INVAL);
	assert_non_null(strstr(why, "'-r'"));
	assert_int_equal(ch_store_name_check(f->st, NULL, ".", why,
					     sizeof(why)), CH_ERR_INVAL);
	assert_int_equal(ch_store_name_check(f->st, NULL, "..", why,
					     sizeof(why)), CH_ERR_INVAL);
	assert_int_equal(ch_store_name_check(f->st, NULL, &FP_B[7], why,
					     sizeof(why)), CH_ERR_INVAL);
	assert_non_null(strstr(why, "fingerprint"));
	assert_int_equal(ch_store_device_add(f->st, FP_B, "..",
					     CH_ADMIT_ADMITTED), CH_ERR_INVAL);
	/* another device's: name regardless of case, serial, prefix */
	assert_int_equal(ch_store_name_check(f->st, FP_B, "R1", why,
					     sizeof(why)), CH_ERR_EXISTS);
	assert_non_null(strstr(why, FP_A));
	assert_int_equal(ch_store_device_add(f->st, FP_B, "R1",
					     CH_ADMIT_ADMITTED), CH_ERR_EXISTS);
	assert_int_equal(ch_store_name_check(f->st, FP_B, "SN-1", why,
					     sizeof(why)), CH_ERR_EXISTS);
	assert_non_null(strstr(why, "serial"));
	assert_int_equal(ch_store_name_check(f->st, FP_C, "AAAAbb", why,
					     sizeof(why)), CH_ERR_EXISTS);
	assert_non_null(strstr(why, "prefix"));
	assert_non_null(strstr(why, FP_A));
	/* its own: fine (a case change, a prefix of its own key) */
	assert_int_equal(ch_store_name_check(f->st, FP_A, "R1", why,
					     sizeof(why)), CH_OK);
	assert_int_equal(ch_store_device_rename(f->st, FP_A, "R1"), CH_OK);
	assert_int_equal(ch_store_name_check(f->st, FP_C, "Zzzz0", why,
					     sizeof(why)), CH_OK);
	assert_int_equal(ch_store_name_check(f->st, NULL, "r-2.x_y", why,
					     sizeof(why)), CH_OK);
	assert_string_equal(why, "");
	/* an ambiguous prefix's matches, for the error */
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_resolve(f->st, "AAAA", fp),
			 CH_ERR_AMBIGUOUS);
	assert_int_equal(ch_store_device_matches(f->st, "AAAA", count_match,
						 &n), CH_OK);
	assert_int_equal(n, 2);
}

/* Refused calls are counted; a change of admission starts again. */
static void test_refused_count(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	int n, log_it;

	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_refused(f->st, FP_A, 100, 600, &n,
						 &log_it), CH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(log_it, 1);
	assert_int_equal(ch_store_device_refused(f->st, FP_A, 200, 600, &n,
						 &log_it), CH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(log_it, 0);
	assert_int_equal(ch_store_device_refused(f->st, FP_A, 700, 600, &n,
						 &log_it), CH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(log_it, 1);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.refused_calls, 3);
	assert_int_equal(rec.last_refused, 700);
	/* the same admission again keeps the count; another resets it */
	assert_int_equal(ch_store_device_set_admission(f->st, FP_A,
						       CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.refused_calls, 3);
	assert_int_equal(ch_store_device_set_admission(f->st, FP_A,
						       CH_ADMIT_REVOKED), CH_OK);
	assert_int_equal(ch_store_device_refused(f->st, FP_A, 800, 600, &n,
						 &log_it), CH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(log_it, 1);
	assert_int_equal(ch_store_device_refused(f->st, FP_B, 800, 600, &n,
						 &log_it), CH_ERR_NOTFOUND);
}

/* Delete: the record and identities go, events stay; not while a job
 * waits or runs. */
static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	int64_t id;
	int n = 0;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 1), CH_OK);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "called", "", 1),
			 CH_OK);
	assert_int_equal(ch_store_job_add(f->st, FP_A, "rpc", "<x/>", 0, 0, 1,
					  &id), CH_OK);
	assert_int_equal(ch_store_device_delete(f->st, FP_A), CH_ERR_EXISTS);
	assert_int_equal(ch_store_job_start(f->st, id, 2), CH_OK);
	assert_int_equal(ch_store_device_delete(f->st, FP_A2), CH_ERR_EXISTS);
	assert_int_equal(ch_store_job_finish(f->st, id, CH_JOB_DONE, "<ok/>",
					     0, NULL, NULL, 3), CH_OK);
	assert_int_equal(ch_store_device_delete(f->st, FP_A2), CH_OK);
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_get(f->st, FP_A2, &rec),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_device_delete(f->st, FP_A),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_event_foreach(f->st, FP_A, 0, count_ev, &n),
			 CH_OK);
	assert_int_equal(n, 1);
	/* the name and the keys are free again */
	assert_int_equal(ch_store_device_add(f->st, FP_A2, "r1",
					     CH_ADMIT_PENDING), CH_OK);
}

static int tag_cat(void *ctx, const char *key, const char *value)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s%s=%s", n ? "," : "", key, value);
	return 0;
}

static int dev_cat(void *ctx, const struct ch_device_rec *rec)
{
	char *out = ctx;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s%s", n ? "," : "", rec->name);
	return 0;
}

static const char *selected(struct ch_store *st, const char *glob,
			    int state, const char *k1, const char *v1,
			    const char *k2, const char *v2)
{
	static char out[256];
	struct ch_select sel;

	memset(&sel, 0, sizeof(sel));
	snprintf(sel.glob, sizeof(sel.glob), "%s", glob ? glob : "");
	sel.state = state;
	if (k1) {
		snprintf(sel.tags[0].key, sizeof(sel.tags[0].key), "%s", k1);
		snprintf(sel.tags[0].value, sizeof(sel.tags[0].value), "%s", v1);
		sel.ntags = 1;
	}
	if (k2) {
		snprintf(sel.tags[1].key, sizeof(sel.tags[1].key), "%s", k2);
		snprintf(sel.tags[1].value, sizeof(sel.tags[1].value), "%s", v2);
		sel.ntags = 2;
	}
	out[0] = '\0';
	assert_int_equal(ch_store_device_select(st, &sel, dev_cat, out), CH_OK);
	return out;
}

/* A key has one value, a group several; selecting by tags (AND), glob,
 * state; the per-device cap; an alias tags its device. */
static void test_tags_and_selection(void **state)
{
	struct fixture *f = *state;
	char out[256] = "";
	int changed, removed;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "lyon-1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 1), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "paris-1",
					     CH_ADMIT_PENDING), CH_OK);
	assert_int_equal(ch_store_tag_set(f->st, FP_A2, "site", "lyon",
					  &changed), CH_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "site", "lyon",
					  &changed), CH_OK);
	assert_int_equal(changed, 0);
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "site", "paris",
					  &changed), CH_OK);
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "group", "core",
					  NULL), CH_OK);
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "group", "edge",
					  NULL), CH_OK);
	assert_int_equal(ch_store_tag_set(f->st, FP_B, "site", "paris",
					  NULL), CH_OK);
	assert_int_equal(ch_store_tag_foreach(f->st, FP_A, tag_cat, out),
			 CH_OK);
	assert_string_equal(out, "group=core,group=edge,site=paris");
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "Site", "x", NULL),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "site", "a b", NULL),
			 CH_ERR_INVAL);
	assert_int_equal(ch_store_tag_set(f->st, FP_C, "site", "x", NULL),
			 CH_ERR_NOTFOUND);

	assert_string_equal(selected(f->st, NULL, 0, "site", "paris", NULL,
				     NULL), "lyon-1,paris-1");
	assert_string_equal(selected(f->st, NULL, 0, "site", "paris",
				     "group", "edge"), "lyon-1");
	assert_string_equal(selected(f->st, "paris-*", 0, NULL, NULL, NULL,
				     NULL), "paris-1");
	assert_string_equal(selected(f->st, "*-[^2]", CH_SEL_PENDING, NULL,
				     NULL, NULL, NULL), "paris-1");
	assert_string_equal(selected(f->st, NULL, CH_SEL_CONNECTED, NULL,
				     NULL, NULL, NULL), "");
	assert_string_equal(selected(f->st, NULL, CH_SEL_DISCONNECTED, "group",
				     "nope", NULL, NULL), "");

	assert_int_equal(ch_store_tag_unset(f->st, FP_A, "group", "edge",
					    &removed), CH_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(ch_store_tag_unset(f->st, FP_A, "group", NULL,
					    &removed), CH_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(ch_store_tag_unset(f->st, FP_A, "group", NULL,
					    &removed), CH_OK);
	assert_int_equal(removed, 0);
	/* the cap: a transaction that would pass it changes nothing */
	for (int i = 1; i < CH_TAG_PER_DEVICE_MAX; i++) {
		char v[16];

		snprintf(v, sizeof(v), "g%d", i);
		assert_int_equal(ch_store_tag_set(f->st, FP_A, "group", v,
						  NULL), CH_OK);
	}
	assert_int_equal(ch_store_tag_set(f->st, FP_A, "group", "one-more",
					  NULL), CH_ERR_LIMIT);
	assert_string_equal(selected(f->st, NULL, 0, "group", "one-more",
				     NULL, NULL), "");
	/* tags go with the device */
	assert_int_equal(ch_store_device_delete(f->st, FP_B), CH_OK);
	out[0] = '\0';
	assert_int_equal(ch_store_tag_foreach(f->st, FP_B, tag_cat, out),
			 CH_OK);
	assert_string_equal(out, "");
}

static int batch_job_count(void *ctx, const struct ch_job_rec *rec)
{
	(*(int *)ctx)++;
	assert_true(rec->batch > 0);
	return 0;
}

/* A batch: its jobs in one transaction, its counts from their states. */
static void test_batches(void **state)
{
	struct fixture *f = *state;
	const char *fps[] = { FP_A, FP_B }, *bad[] = { FP_A, FP_C };
	struct ch_batch_rec b;
	int64_t id, ids[2];
	int n = 0;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "a",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "b",
					     CH_ADMIT_ADMITTED), CH_OK);
	/* an unknown device: nothing is made */
	assert_int_equal(ch_store_batch_add(f->st, "edit-config", "<x/>", 0,
					    0, "--tag role=cpe", 10, "alice",
					    bad, 2, 5, &id, ids),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_job_foreach(f->st, NULL, 0, 0,
					      batch_job_count, &n), CH_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ch_store_batch_add(f->st, "edit-config", "<x/>", 0,
					    0, "--tag role=cpe", 10, "alice",
					    fps, 2, 5, &id, ids), CH_OK);
	assert_true(id > 0);
	assert_int_equal(ch_store_job_start(f->st, ids[0], 6), CH_OK);
	assert_int_equal(ch_store_job_finish(f->st, ids[0], CH_JOB_DONE,
					     "<ok/>", 0, NULL, NULL, 7), CH_OK);
	assert_int_equal(ch_store_batch_get(f->st, id, &b), CH_OK);
	assert_string_equal(b.kind, "edit-config");
	assert_string_equal(b.selector, "--tag role=cpe");
	assert_string_equal(b.actor, "alice");
	assert_int_equal(b.rate, 10);
	assert_int_equal(b.total, 2);
	assert_int_equal(b.count[CH_JOB_DONE], 1);
	assert_int_equal(b.count[CH_JOB_QUEUED], 1);
	assert_int_equal(ch_store_batch_jobs(f->st, id, 1u << CH_JOB_QUEUED,
					     batch_job_count, &n), CH_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ch_store_batch_get(f->st, id + 1, &b),
			 CH_ERR_NOTFOUND);
}

static int count_versions(void *ctx, const struct ch_config_rec *c)
{
	int *n = ctx;

	assert_null(c->content);
	assert_int_equal(c->version, 100 + *n);	/* oldest first */
	(*n)++;
	return 0;
}

/* The archive: a version only for new bytes, one transaction each, the
 * oldest past keep pruned, lookups by version and time, through an alias
 * too, and gone with its device. */
static void test_configs(void **state)
{
	struct fixture *f = *state;
	struct ch_config_rec c;
	char hash[32];
	int64_t v;
	int added, n = 0;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_B, 1), CH_OK);
	assert_int_equal(ch_store_config_get(f->st, FP_A, 0, 0, &c),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_config_add(f->st, FP_A, 1000, "sha256:1",
					     "call", "<a/>\n", 5, 3, &v,
					     &added), CH_OK);
	assert_int_equal(v, 1);
	assert_int_equal(added, 1);
	/* the same hash: nothing new, the newest said */
	assert_int_equal(ch_store_config_add(f->st, FP_B, 2000, "sha256:1",
					     "call", "<a/>\n", 5, 3, &v,
					     &added), CH_OK);
	assert_int_equal(v, 1);
	assert_int_equal(added, 0);
	assert_int_equal(ch_store_config_add(f->st, FP_B, 3000, "sha256:2",
					     "job 4", "<b/>\n", 5, 3, &v,
					     &added), CH_OK);
	assert_int_equal(v, 2);
	assert_int_equal(added, 1);
	/* the newest; one by number; the one in force at a time */
	assert_int_equal(ch_store_config_get(f->st, FP_A, 0, 0, &c), CH_OK);
	assert_int_equal(c.version, 2);
	assert_string_equal(c.content, "<b/>\n");
	assert_string_equal(c.trigger, "job 4");
	assert_int_equal(c.size, 5);
	assert_int_equal(c.time, 3000);
	ch_config_rec_cleanup(&c);
	assert_int_equal(ch_store_config_get(f->st, FP_A, 1, 0, &c), CH_OK);
	assert_string_equal(c.content, "<a/>\n");
	assert_string_equal(c.hash, "sha256:1");
	ch_config_rec_cleanup(&c);
	assert_int_equal(ch_store_config_get(f->st, FP_B, 0, 2999, &c), CH_OK);
	assert_int_equal(c.version, 1);
	ch_config_rec_cleanup(&c);
	assert_int_equal(ch_store_config_get(f->st, FP_A, 0, 999, &c),
			 CH_ERR_NOTFOUND);
	assert_int_equal(ch_store_config_get(f->st, FP_A, 3, 0, &c),
			 CH_ERR_NOTFOUND);
	/* past keep (3) the oldest go */
	for (int i = 3; i <= 102; i++) {
		snprintf(hash, sizeof(hash), "sha256:%d", i);
		assert_int_equal(ch_store_config_add(f->st, FP_A, 3000 + i,
						     hash, "call", "x", 1, 3,
						     &v, &added), CH_OK);
		assert_int_equal(v, i);
	}
	assert_int_equal(ch_store_config_foreach(f->st, FP_A, count_versions,
						 &n), CH_OK);
	assert_int_equal(n, 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM configs"), 3);
	assert_int_equal(ch_store_config_add(f->st, FP_A, 1, "", "call", "x",
					     1, 3, &v, &added), CH_ERR_INVAL);
	assert_int_equal(ch_store_config_add(f->st, FP_A, 1, "sha256:9",
					     "call", "x", 1, 0, &v, &added),
			 CH_ERR_INVAL);
	/* a device's versions go with it */
	assert_int_equal(ch_store_device_delete(f->st, FP_A), CH_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM configs"), 0);
}

/* Group commit: the records written in a group are seen at once on the
 * store's own connection and by another connection only at the commit;
 * a write outside a group commits the group first; a multi-statement
 * call inside a group rolls back alone; close commits what is left. */
static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct ch_device_rec rec;
	struct ch_job_rec j;
	int64_t id;

	assert_int_equal(ch_store_device_add(f->st, FP_A, "a",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_false(ch_store_group_pending(f->st));
	ch_store_group_enter(f->st);
	assert_int_equal(ch_store_device_seen(f->st, FP_A, "10.0.0.1", 50),
			 CH_OK);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "called", "x", 50),
			 CH_OK);
	ch_store_group_enter(f->st);	/* nested */
	assert_int_equal(ch_store_device_add(f->st, FP_B, NULL,
					     CH_ADMIT_PENDING), CH_OK);
	ch_store_group_leave(f->st);
	ch_store_group_leave(f->st);
	assert_true(ch_store_group_pending(f->st));
	/* this connection sees it, another one not yet */
	assert_int_equal(ch_store_device_get(f->st, FP_A, &rec), CH_OK);
	assert_int_equal(rec.last_seen, 50);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 0);
	assert_int_equal(ch_store_flush(f->st), CH_OK);
	assert_false(ch_store_group_pending(f->st));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM devices"), 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(ch_store_flush(f->st), CH_OK);	/* nothing to do */

	/* an operator's change outside the group commits it with itself */
	ch_store_group_enter(f->st);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "connected", "", 51),
			 CH_OK);
	ch_store_group_leave(f->st);
	assert_true(ch_store_group_pending(f->st));
	assert_int_equal(ch_store_device_set_admission(f->st, FP_B,
						       CH_ADMIT_ADMITTED),
			 CH_OK);
	assert_false(ch_store_group_pending(f->st));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 2);
	assert_int_equal(raw_int(f->path, "SELECT admission FROM devices"
				 " WHERE fingerprint = '" FP_B "'"),
			 CH_ADMIT_ADMITTED);

	/* a transaction inside the group: a savepoint of it */
	assert_int_equal(ch_store_job_add(f->st, FP_A, "get", "<x/>", 0, 0,
					  100, &id), CH_OK);
	ch_store_group_enter(f->st);
	assert_int_equal(ch_store_event_add(f->st, FP_A, "called", "", 52),
			 CH_OK);
	assert_int_equal(ch_store_job_next(f->st, FP_A, 101, &j), CH_OK);
	assert_int_equal(j.id, id);
	ch_job_rec_cleanup(&j);
	assert_int_equal(ch_store_device_add(f->st, FP_A, NULL,
					     CH_ADMIT_PENDING), CH_ERR_EXISTS);
	ch_store_group_leave(f->st);
	assert_true(ch_store_group_pending(f->st));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 2);

	/* a device with no job queued: no transaction, the group stays */
	ch_store_group_enter(f->st);
	assert_int_equal(ch_store_job_next(f->st, FP_B, 101, &j),
			 CH_ERR_NOTFOUND);
	ch_store_group_leave(f->st);
	assert_true(ch_store_group_pending(f->st));

	/* the close commits the rest */
	ch_store_close(f->st);
	f->st = NULL;
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 3);
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_migrates_empty),
		T(test_reopen_keeps_data),
		T(test_newer_schema_refused),
		cmocka_unit_test(test_open_bad_path),
		cmocka_unit_test(test_admission_names),
		T(test_add_get),
		T(test_add_validates),
		T(test_set_admission),
		T(test_seen),
		T(test_connected),
		T(test_reset_connections),
		T(test_resolve),
		T(test_name_rule),
		T(test_delete),
		T(test_tags_and_selection),
		T(test_batches),
		T(test_refused_count),
		T(test_foreach),
		T(test_events),
		T(test_events_pruned),
		T(test_events_stop),
		T(test_configs),
		T(test_busy_is_db_error),
		T(test_migrate_v1_to_current),
		T(test_jobs_index),
		T(test_identity_add),
		T(test_identity_alias_resolution),
		T(test_identity_foreach_remove),
		T(test_rename),
		cmocka_unit_test(test_job_state_names),
		T(test_job_add_get),
		T(test_job_payload_limit),
		T(test_job_run_outcomes),
		T(test_job_fifo),
		T(test_job_finish_in_doubt),
		T(test_device_idle_close),
		T(test_job_expiry),
		T(test_job_expiry_sweep),
		T(test_job_no_startup_flag),
		T(test_job_cancel_requeue),
		T(test_jobs_recover),
		T(test_holder_lost),
		T(test_jobs_recover_after_reopen),
		T(test_job_foreach),
		T(test_events_since),
		T(test_migrate_v3_to_current),
		T(test_cert_seen),
		T(test_import_serials),
		T(test_import_keys),
		T(test_import_limit),
		T(test_group_commit),
		T(test_name_and_prefix_indexed),
#undef T
	};

	ch_log_set_level(CH_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
