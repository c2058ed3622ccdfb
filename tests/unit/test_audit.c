/* test_audit.c - the registry's audit log (store.h, "the audit log") on a
 * temporary SQLite file: writing, the filters, order and limit, aliases,
 * the optional fields, pruning, and the query plans. */
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

#define FP_A "SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_A2 "SHA256:AAAA2222CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
#define FP_B "SHA256:BBBBxxxxCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"

struct fixture {
	char dir[64];
	char path[128];
	struct ch_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hub.db", f->dir);
	assert_int_equal(ch_store_open(f->path, &f->st), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_A, "r1",
					     CH_ADMIT_ADMITTED), CH_OK);
	assert_int_equal(ch_store_device_add(f->st, FP_B, "r2",
					     CH_ADMIT_ADMITTED), CH_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	struct fixture *f = *state;
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

static void add(struct ch_store *st, int64_t time, const char *actor,
		int64_t uid, const char *fp, const char *action,
		const char *outcome)
{
	struct ch_audit_rec rec;

	ch_audit_rec_init(&rec);
	rec.time = time;
	snprintf(rec.actor, sizeof(rec.actor), "%s", actor);
	rec.uid = uid;
	snprintf(rec.via, sizeof(rec.via), "local");
	snprintf(rec.fingerprint, sizeof(rec.fingerprint), "%s",
		 fp ? fp : "");
	snprintf(rec.action, sizeof(rec.action), "%s", action);
	snprintf(rec.outcome, sizeof(rec.outcome), "%s", outcome);
	snprintf(rec.detail, sizeof(rec.detail), "%s at %lld", action,
		 (long long)time);
	assert_int_equal(ch_store_audit_add(st, &rec), CH_OK);
}

/* The records a filter selects, as "time:action" joined by spaces. */
struct seen {
	char text[1024];
	int n;
	int stop_at;	/* non-zero: stop after this many */
	struct ch_audit_rec last;
};

static int collect(void *ctx, const struct ch_audit_rec *rec)
{
	struct seen *s = ctx;
	size_t len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s%lld:%s",
		 len ? " " : "", (long long)rec->time, rec->action);
	s->last = *rec;
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static const char *query(struct ch_store *st, const struct ch_audit_filter *f,
			 struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(ch_store_audit_foreach(st, f, collect, s), CH_OK);
	return s->text;
}

static void fill(struct ch_store *st)
{
	add(st, 100, "root", 0, FP_A, "approve", "ok");
	add(st, 200, "alice", 1000, FP_B, "rename", "ok");
	add(st, 300, "root", 0, NULL, "import-serials", "ok");
	add(st, 400, "alice", 1000, FP_A, "shell-start", "refused");
	add(st, 500, "bob", 1001, FP_A2, "revoke", "ok"); /* an alias of A */
}

static void test_add_and_read_back(void **state)
{
	struct fixture *f = *state;
	struct ch_audit_filter flt = { 0 };
	struct ch_audit_rec rec;
	struct seen s;

	ch_audit_rec_init(&rec);
	rec.time = 42;
	snprintf(rec.actor, sizeof(rec.actor), "alice");
	rec.uid = 1000;
	snprintf(rec.via, sizeof(rec.via), "local");
	snprintf(rec.fingerprint, sizeof(rec.fingerprint), FP_A);
	snprintf(rec.action, sizeof(rec.action), "shell-end");
	snprintf(rec.outcome, sizeof(rec.outcome), "ok");
	snprintf(rec.detail, sizeof(rec.detail), "exit 3");
	snprintf(rec.recording, sizeof(rec.recording), "rec-17");
	rec.exit_status = 3;
	rec.bytes_in = 12;
	rec.bytes_out = 0;	/* zero is a count, not "none" */
	rec.duration_ms = 1500;
	assert_int_equal(ch_store_audit_add(f->st, &rec), CH_OK);
	add(f->st, 43, "root", 0, NULL, "import-serials", "ok");

	assert_string_equal(query(f->st, &flt, &s),
			    "42:shell-end 43:import-serials");
	/* the second: every optional field absent */
	assert_int_equal(s.last.uid, 0);
	assert_string_equal(s.last.fingerprint, "");
	assert_string_equal(s.last.recording, "");
	assert_int_equal(s.last.exit_status, -1);
	assert_int_equal(s.last.bytes_in, -1);
	assert_int_equal(s.last.bytes_out, -1);
	assert_int_equal(s.last.duration_ms, -1);

	flt.fp = FP_A;
	query(f->st, &flt, &s);
	assert_int_equal(s.n, 1);
	assert_true(s.last.id > 0);
	assert_string_equal(s.last.actor, "alice");
	assert_int_equal(s.last.uid, 1000);
	assert_string_equal(s.last.via, "local");
	assert_string_equal(s.last.fingerprint, FP_A);
	assert_string_equal(s.last.outcome, "ok");
	assert_string_equal(s.last.detail, "exit 3");
	assert_string_equal(s.last.recording, "rec-17");
	assert_int_equal(s.last.exit_status, 3);
	assert_int_equal(s.last.bytes_in, 12);
	assert_int_equal(s.last.bytes_out, 0);
	assert_int_equal(s.last.duration_ms, 1500);
}

static void test_add_validates(void **state)
{
	struct fixture *f = *state;
	struct ch_audit_rec rec;

	ch_audit_rec_init(&rec);
	snprintf(rec.actor, sizeof(rec.actor), "root");
	snprintf(rec.outcome, sizeof(rec.outcome), "ok");
	assert_int_equal(ch_store_audit_add(f->st, &rec), CH_ERR_INVAL);
	snprintf(rec.action, sizeof(rec.action), "approve");
	rec.outcome[0] = '\0';
	assert_int_equal(ch_store_audit_add(f->st, &rec), CH_ERR_INVAL);
	snprintf(rec.outcome, sizeof(rec.outcome), "ok");
	rec.actor[0] = '\0';
	assert_int_equal(ch_store_audit_add(f->st, &rec), CH_ERR_INVAL);
	snprintf(rec.actor, sizeof(rec.actor), "root");
	assert_int_equal(ch_store_audit_add(f->st, &rec), CH_OK);
}

static void test_filters(void **state)
{
	struct fixture *f = *state;
	struct ch_audit_filter flt = { 0 };
	struct seen s;

	assert_int_equal(ch_store_identity_add(f->st, FP_A, FP_A2, 1), CH_OK);
	fill(f->st);
	assert_string_equal(query(f->st, &flt, &s), "100:approve 200:rename "
			    "300:import-serials 400:shell-start 500:revoke");
	/* a device: by its key or an alias, stored as its key */
	flt.fp = FP_A;
	assert_string_equal(query(f->st, &flt, &s),
			    "100:approve 400:shell-start 500:revoke");
	assert_string_equal(s.last.fingerprint, FP_A);
	flt.fp = FP_A2;
	assert_string_equal(query(f->st, &flt, &s),
			    "100:approve 400:shell-start 500:revoke");
	/* time, both ends included */
	flt.fp = NULL;
	flt.since = 200;
	flt.until = 400;
	assert_string_equal(query(f->st, &flt, &s), "200:rename "
			    "300:import-serials 400:shell-start");
	flt.until = 0;
	assert_string_equal(query(f->st, &flt, &s), "200:rename "
			    "300:import-serials 400:shell-start 500:revoke");
	flt.since = 0;
	flt.until = 250;
	assert_string_equal(query(f->st, &flt, &s), "100:approve 200:rename");
	/* an actor by name or by uid */
	flt.until = 0;
	flt.actor = "alice";
	assert_string_equal(query(f->st, &flt, &s),
			    "200:rename 400:shell-start");
	flt.actor = "1001";
	assert_string_equal(query(f->st, &flt, &s), "500:revoke");
	flt.actor = "0";
	assert_string_equal(query(f->st, &flt, &s),
			    "100:approve 300:import-serials");
	flt.actor = "mallory";
	assert_string_equal(query(f->st, &flt, &s), "");
	/* all of them at once */
	flt.actor = "alice";
	flt.fp = FP_A;
	flt.since = 300;
	assert_string_equal(query(f->st, &flt, &s), "400:shell-start");
	/* an unknown device matches nothing */
	memset(&flt, 0, sizeof(flt));
	flt.fp = "SHA256:nope";
	assert_string_equal(query(f->st, &flt, &s), "");
}

static void test_limit_and_stop(void **state)
{
	struct fixture *f = *state;
	struct ch_audit_filter flt = { .limit = 2 };
	struct seen s;

	fill(f->st);
	/* the newest two, oldest first */
	assert_string_equal(query(f->st, &flt, &s),
			    "400:shell-start 500:revoke");
	flt.fp = FP_A;
	assert_string_equal(query(f->st, &flt, &s),
			    "100:approve 400:shell-start");
	/* a clock that stepped back: ordered by time, not by id */
	add(f->st, 50, "root", 0, FP_B, "set", "ok");
	flt.fp = NULL;
	flt.limit = 0;
	assert_string_equal(query(f->st, &flt, &s), "50:set 100:approve "
			    "200:rename 300:import-serials 400:shell-start "
			    "500:revoke");
	/* fn's non-zero return ends the walk and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(ch_store_audit_foreach(f->st, &flt, collect, &s), 7);
	assert_int_equal(s.n, 2);
	/* and the statement is free again */
	assert_string_equal(query(f->st, &flt, &s), "50:set 100:approve "
			    "200:rename 300:import-serials 400:shell-start "
			    "500:revoke");
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	struct ch_audit_filter flt = { 0 };
	struct seen s;

	fill(f->st);
	assert_int_equal(ch_store_audit_prune(f->st, 10), CH_OK);
	query(f->st, &flt, &s);
	assert_int_equal(s.n, 5);
	assert_int_equal(ch_store_audit_prune(f->st, 2), CH_OK);
	assert_string_equal(query(f->st, &flt, &s),
			    "400:shell-start 500:revoke");
	/* ids go on from the newest: later prunes keep the newest */
	add(f->st, 600, "root", 0, FP_B, "set", "ok");
	assert_int_equal(ch_store_audit_prune(f->st, 2), CH_OK);
	assert_string_equal(query(f->st, &flt, &s), "500:revoke 600:set");
	assert_int_equal(ch_store_audit_prune(f->st, 0), CH_OK);
	assert_string_equal(query(f->st, &flt, &s), "");
	assert_int_equal(ch_store_audit_prune(f->st, -1), CH_ERR_INVAL);
}

/* Writing prunes by itself every CH_AUDIT_PRUNE_EVERY records; with
 * fewer than CH_AUDIT_KEEP nothing goes. */
static void test_add_prunes_only_over_keep(void **state)
{
	struct fixture *f = *state;
	struct ch_audit_filter flt = { 0 };
	struct seen s;

	for (int i = 0; i < CH_AUDIT_PRUNE_EVERY + 1; i++)
		add(f->st, i + 1, "root", 0, FP_A, "set", "ok");
	flt.limit = 0;
	flt.until = 1;
	query(f->st, &flt, &s);
	assert_int_equal(s.n, 1);	/* the first is still there */
}

/* The device and time queries use the indexes, not a scan. */
static void test_query_plans(void **state)
{
	static const char *const sql[] = {
		"EXPLAIN QUERY PLAN SELECT id FROM audit WHERE"
		" fingerprint = 'x' AND time >= 1 AND time <= 2"
		" ORDER BY time DESC, id DESC LIMIT 5",
		"EXPLAIN QUERY PLAN SELECT id FROM audit WHERE"
		" time >= 1 AND time <= 2 ORDER BY time DESC, id DESC LIMIT 5",
	};
	struct fixture *f = *state;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *s = NULL;
		int indexed = 0, sorted = 0;

		assert_int_equal(sqlite3_prepare_v2(db, sql[i], -1, &s, NULL),
				 SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(s,
									  3);

			indexed |= strstr(d, "INDEX audit_") != NULL;
			sorted |= strstr(d, "TEMP B-TREE") != NULL;
		}
		sqlite3_finalize(s);
		assert_true(indexed);
		assert_false(sorted);
	}
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_add_and_read_back),
		T(test_add_validates),
		T(test_filters),
		T(test_limit_and_stop),
		T(test_prune),
		T(test_add_prunes_only_over_keep),
		T(test_query_plans),
#undef T
	};

	ch_log_set_level(CH_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
