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

#include "err.h"
#include "log.h"
#include "store.h"

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

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[160];

	ch_store_close(f->st);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
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

	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema"
				 " WHERE name IN ('devices', 'events',"
				 " 'events_fp_id')"), 3);
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
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM events"), 1);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct ch_store *st = (struct ch_store *)0x1;

	ch_store_close(f->st);
	f->st = NULL;
	raw_exec(f->path, "PRAGMA user_version = 2");
	assert_int_equal(ch_store_open(f->path, &st), CH_ERR_DB);
	assert_null(st);
	/* Refusing must not touch the file. */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 2);
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
		T(test_foreach),
		T(test_events),
		T(test_events_stop),
		T(test_busy_is_db_error),
#undef T
	};

	ch_log_set_level(CH_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
