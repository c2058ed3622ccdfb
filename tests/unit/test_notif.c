/* test_notif.c - RFC 5277 notifications (src/agent/notif.c): the replay
 * log's bounds (count and bytes) and its atomic rewrite, reload after a
 * restart, a torn last record, startTime/stopTime selection, RFC 3339
 * times, <create-subscription> parameters and the stream itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/notif.h"
#include "lib/core/err.h"
#include "lib/core/fileio.h"
#include "lib/nc/msg.h"

struct fx {
	char dir[64];
	char path[128];		/* dir/notifications.log */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_notif-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/" AGENT_NOTIF_LOG_FILE,
		 f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *e;
	char p[512];
	DIR *d = opendir(f->dir);

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The names in the directory, but . and .. */
static int dir_entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static ino_t inode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void append_n(struct notif_log *log, time_t t0, size_t from,
		     size_t to)
{
	char body[64];

	for (size_t i = from; i < to; i++) {
		snprintf(body, sizeof(body), "<e>%zu</e>", i);
		assert_int_equal(notif_log_append(log, t0 + (time_t)i, body,
						  strlen(body)), CH_OK);
	}
}

/* The record idx of log, its body as a string. */
static void assert_rec(struct notif_log *log, size_t idx, time_t t,
		       const char *body)
{
	struct notif_rec rec;
	size_t i = idx;

	assert_int_equal(notif_log_next(log, &i, 0, NULL, &rec), 1);
	assert_int_equal(rec.t, t);
	assert_int_equal(rec.len, strlen(body));
	assert_memory_equal(rec.body, body, rec.len);
}

static void test_count_bound_and_atomic_rewrite(void **state)
{
	struct fx *f = *state;
	struct notif_log *log, *again;
	size_t n, bytes;
	ino_t before;

	assert_int_equal(notif_log_open(f->path, 8, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 0);
	append_n(log, 1000, 0, 10);
	/* memory: the newest 8; the file: all 10 (8 + a quarter) */
	assert_int_equal(notif_log_count(log), 8);
	assert_rec(log, 0, 1002, "<e>2</e>");
	assert_rec(log, 7, 1009, "<e>9</e>");
	notif_log_file_size(log, &n, &bytes);
	assert_int_equal(n, 10);
	before = inode(f->path);
	/* one more would make 11 > 10: the file is replaced instead */
	append_n(log, 1000, 10, 11);
	assert_int_equal(notif_log_count(log), 8);
	notif_log_file_size(log, &n, &bytes);
	assert_int_equal(n, 8);
	/* by rename (a new inode), not rewritten in place; no temp left */
	assert_true(inode(f->path) != before);
	assert_int_equal(dir_entries(f->dir), 1);
	/* and it holds exactly the newest 8 */
	assert_int_equal(notif_log_open(f->path, 100, 1 << 20, &again),
			 CH_OK);
	assert_int_equal(notif_log_count(again), 8);
	assert_rec(again, 0, 1003, "<e>3</e>");
	assert_rec(again, 7, 1010, "<e>10</e>");
	notif_log_free(again);
	notif_log_free(log);
}

static void test_bytes_bound(void **state)
{
	struct fx *f = *state;
	struct notif_log *log, *again;
	char body[101], big[5001];
	size_t n, bytes;

	memset(body, 'x', 100);
	body[100] = '\0';
	assert_int_equal(notif_log_open(f->path, 1000, 1000, &log), CH_OK);
	for (int i = 0; i < 11; i++)
		assert_int_equal(notif_log_append(log, 1000 + i, body, 100),
				 CH_OK);
	/* 10 x 100 bytes of content fit; the 11th pushed the first out */
	assert_int_equal(notif_log_count(log), 10);
	assert_rec(log, 0, 1001, body);
	/* "1000 100\n" + 100 + "\n": 110 bytes a record on file */
	notif_log_file_size(log, &n, &bytes);
	assert_int_equal(n, 11);
	assert_int_equal(bytes, 1210);
	/* the 12th makes 1320 > 1250: replaced by the newest 10 */
	assert_int_equal(notif_log_append(log, 1011, body, 100), CH_OK);
	notif_log_file_size(log, &n, &bytes);
	assert_int_equal(n, 10);
	assert_int_equal(bytes, 1100);
	assert_int_equal(notif_log_open(f->path, 1000, 1000, &again), CH_OK);
	assert_int_equal(notif_log_count(again), 10);
	assert_rec(again, 0, 1002, body);
	notif_log_free(again);
	/* one record larger than the bound is kept, alone */
	memset(big, 'y', 5000);
	big[5000] = '\0';
	assert_int_equal(notif_log_append(log, 1012, big, 5000), CH_OK);
	assert_int_equal(notif_log_count(log), 1);
	assert_rec(log, 0, 1012, big);
	/* but none over CH_NOTIF_MAX (its length is checked first: the
	 * body is never read) */
	assert_int_equal(notif_log_append(log, 1013, big,
					  (size_t)CH_NOTIF_MAX + 1),
			 CH_ERR_LIMIT);
	assert_int_equal(notif_log_count(log), 1);
	assert_rec(log, 0, 1012, big);
	notif_log_free(log);
}

static void test_reload_after_restart(void **state)
{
	struct fx *f = *state;
	struct notif_log *log;
	char *data;
	size_t len;

	assert_int_equal(notif_log_open(f->path, 1000, 1 << 20, &log), CH_OK);
	append_n(log, 5000, 0, 3);
	notif_log_free(log);
	/* the format, exactly */
	assert_int_equal(ch_file_read(f->path, 4096, &data, &len), CH_OK);
	assert_string_equal(data, "5000 8\n<e>0</e>\n5001 8\n<e>1</e>\n"
			    "5002 8\n<e>2</e>\n");
	free(data);
	assert_int_equal(notif_log_open(f->path, 1000, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 3);
	assert_rec(log, 0, 5000, "<e>0</e>");
	assert_rec(log, 2, 5002, "<e>2</e>");
	append_n(log, 5000, 3, 4);	/* appended after the reload */
	notif_log_free(log);
	assert_int_equal(notif_log_open(f->path, 1000, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 4);
	assert_rec(log, 3, 5003, "<e>3</e>");
	notif_log_free(log);
	/* a bound smaller than the file: the newest only */
	assert_int_equal(notif_log_open(f->path, 2, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 2);
	assert_rec(log, 0, 5002, "<e>2</e>");
	notif_log_free(log);
	assert_int_equal(notif_log_open(f->path, 0, 1, &log), CH_ERR_INVAL);
	assert_null(log);
}

/* A file of two good records and then tail; it loads as the two, and
 * is rewritten as exactly them. */
static void check_torn(struct fx *f, const char *tail)
{
	static const char good[] = "100 3\n<a>\n200 4\n<bb>\n";
	struct notif_log *log;
	char content[256], *data;
	size_t len;

	snprintf(content, sizeof(content), "%s%s", good, tail);
	assert_int_equal(ch_file_write_atomic(f->path, content,
					      strlen(content), 0600), CH_OK);
	assert_int_equal(notif_log_open(f->path, 1000, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 2);
	assert_rec(log, 1, 200, "<bb>");
	notif_log_free(log);
	assert_int_equal(ch_file_read(f->path, 4096, &data, &len), CH_OK);
	assert_string_equal(data, good);
	free(data);
}

static void test_torn_last_record_is_dropped(void **state)
{
	struct fx *f = *state;

	check_torn(f, "300 50\n<partial");	/* body cut short */
	check_torn(f, "300 3\n<c>");		/* its final newline */
	check_torn(f, "30");			/* the header cut */
	check_torn(f, "300 ");
	check_torn(f, "300 3\n<c>x");		/* wrong length */
	check_torn(f, "garbage\n");
}

static void test_replay_selection(void **state)
{
	struct fx *f = *state;
	struct notif_log *log;
	struct notif_rec rec;
	time_t stop;
	size_t idx;

	assert_int_equal(notif_log_open(f->path, 1000, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_append(log, 100, "a", 1), CH_OK);
	assert_int_equal(notif_log_append(log, 200, "b", 1), CH_OK);
	assert_int_equal(notif_log_append(log, 300, "c", 1), CH_OK);
	assert_int_equal(notif_log_append(log, 400, "d", 1), CH_OK);
	/* both bounds inclusive */
	idx = 0;
	stop = 300;
	assert_int_equal(notif_log_next(log, &idx, 200, &stop, &rec), 1);
	assert_int_equal(rec.t, 200);
	assert_int_equal(notif_log_next(log, &idx, 200, &stop, &rec), 1);
	assert_int_equal(rec.t, 300);
	assert_memory_equal(rec.body, "c", 1);
	assert_int_equal(notif_log_next(log, &idx, 200, &stop, &rec), 0);
	/* no stopTime: up to the newest */
	idx = 0;
	assert_int_equal(notif_log_next(log, &idx, 250, NULL, &rec), 1);
	assert_int_equal(rec.t, 300);
	assert_int_equal(notif_log_next(log, &idx, 250, NULL, &rec), 1);
	assert_int_equal(rec.t, 400);
	assert_int_equal(notif_log_next(log, &idx, 250, NULL, &rec), 0);
	/* nothing that late; nothing in the window */
	idx = 0;
	assert_int_equal(notif_log_next(log, &idx, 401, NULL, &rec), 0);
	idx = 0;
	stop = 150;
	assert_int_equal(notif_log_next(log, &idx, 110, &stop, &rec), 0);
	idx = 0;
	stop = 100;
	assert_int_equal(notif_log_next(log, &idx, 0, &stop, &rec), 1);
	assert_int_equal(rec.t, 100);
	assert_int_equal(notif_log_next(log, &idx, 0, &stop, &rec), 0);
	notif_log_free(log);
}

static void test_parse_time(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(notif_parse_time("2024-05-01T12:00:00Z", &t), CH_OK);
	assert_int_equal(t, 1714564800);
	assert_int_equal(notif_parse_time("2024-05-01t12:00:00.123456z", &t),
			 CH_OK);
	assert_int_equal(t, 1714564800);
	assert_int_equal(notif_parse_time("2024-05-01T14:30:00+02:30", &t),
			 CH_OK);
	assert_int_equal(t, 1714564800);
	assert_int_equal(notif_parse_time("2024-05-01T10:00:00-02:00", &t),
			 CH_OK);
	assert_int_equal(t, 1714564800);
	assert_int_equal(notif_parse_time("1970-01-01T00:00:00Z", &t), CH_OK);
	assert_int_equal(t, 0);
	/* each of these ends early or is out of range: never read past */
	static const char *const bad[] = {
		"", "2", "2024-05-01", "2024-05-01T12:00:00",
		"2024-13-01T00:00:00Z", "2024-05-00T00:00:00Z",
		"2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
		"2024-05-01 12:00:00Z", "2024-05-01T12:00:00.Z",
		"2024-05-01T12:00:00+02", "2024-05-01T12:00:00+0200",
		"2024-05-01T12:00:00Zx", "yesterday",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = strdup(bad[i]);	/* exact size for ASan */

		assert_int_equal(notif_parse_time(copy, &t), CH_ERR_INVAL);
		free(copy);
	}
}

/* Parses <create-subscription> with body as its content. */
static int parse_req(const char *body, struct notif_req *req,
		     struct notif_err *err, xmlDoc **doc)
{
	char xml[1024];

	snprintf(xml, sizeof(xml), "<create-subscription xmlns=\"" NOTIF_NS
		 "\">%s</create-subscription>", body);
	assert_int_equal(ch_xml_parse(xml, strlen(xml), doc), CH_OK);
	return notif_parse_request(xmlDocGetRootElement(*doc), 1714564800,
				   req, err);
}

static void test_request(void **state)
{
	static const struct {
		const char *body, *tag, *info;
	} bad[] = {
		{ "<stream>OTHER</stream>", "invalid-value",
		  "<bad-element>stream</bad-element>" },
		{ "<stopTime>2000-01-01T00:00:00Z</stopTime>",
		  "missing-element", "<bad-element>startTime</bad-element>" },
		{ "<startTime>2030-01-01T00:00:00Z</startTime>", "bad-element",
		  "<bad-element>startTime</bad-element>" },
		{ "<startTime>2001-01-01T00:00:00Z</startTime>"
		  "<stopTime>2000-01-01T00:00:00Z</stopTime>", "bad-element",
		  "<bad-element>stopTime</bad-element>" },
		{ "<startTime>yesterday</startTime>", "invalid-value",
		  "<bad-element>startTime</bad-element>" },
		{ "<filter type=\"xpath\" select=\"/a\"/>",
		  "operation-not-supported", "" },
		{ "<filter type=\"regex\"/>", "bad-attribute",
		  "<bad-attribute>type</bad-attribute>"
		  "<bad-element>filter</bad-element>" },
	};
	struct notif_req req;
	struct notif_err err;
	xmlDoc *doc;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_req(bad[i].body, &req, &err, &doc),
				 CH_ERR_INVAL);
		assert_string_equal(err.tag, bad[i].tag);
		assert_string_equal(err.info, bad[i].info);
		assert_true(err.message[0] != '\0');
		xmlFreeDoc(doc);
	}
	assert_int_equal(parse_req("<stream>NETCONF</stream>"
				   "<startTime>2024-05-01T11:00:00Z</startTime>"
				   "<stopTime>2024-05-01T13:00:00Z</stopTime>"
				   "<filter type=\"subtree\"><a xmlns=\"urn:a\"/>"
				   "</filter>", &req, &err, &doc), CH_OK);
	assert_true(req.has_start && req.has_stop);
	assert_int_equal(req.start, 1714564800 - 3600);
	assert_int_equal(req.stop, 1714564800 + 3600);
	assert_non_null(req.filter);
	assert_string_equal((const char *)req.filter->name, "filter");
	xmlFreeDoc(doc);
	assert_int_equal(parse_req("", &req, &err, &doc), CH_OK);
	assert_false(req.has_start || req.has_stop);
	assert_null(req.filter);
	xmlFreeDoc(doc);
}

/* A subscriber's channel: what was pushed. */
struct chan {
	char msgs[8][512];
	int n;
};

static int push(void *ctx, const char *msg, size_t len)
{
	struct chan *c = ctx;

	assert_true(c->n < 8 && len < sizeof(c->msgs[0]));
	memcpy(c->msgs[c->n], msg, len);
	c->msgs[c->n++][len] = '\0';
	return CH_OK;
}

static void test_stream(void **state)
{
	struct fx *f = *state;
	struct chan all = { .n = 0 }, some = { .n = 0 }, replay = { .n = 0 };
	struct notif_sub *s1, *s2, *s3;
	struct notif_stream *st = NULL;
	struct notif_req req;
	struct notif_err err;
	xmlDoc *doc;

	/* no stream (the schema-less mode): nothing happens, nothing is
	 * written */
	notif_emit(NULL, "<a xmlns=\"urn:a\"/>", 18);
	assert_int_equal(dir_entries(f->dir), 0);
	assert_int_equal(notif_stream_new(NULL, f->dir, &st), CH_OK);
	assert_non_null(st);
	assert_int_equal(parse_req("", &req, &err, &doc), CH_OK);
	assert_int_equal(notif_subscribe(st, &req, push, &all, &s1), CH_OK);
	xmlFreeDoc(doc);
	assert_int_equal(parse_req("<filter><b xmlns=\"urn:b\"/></filter>",
				   &req, &err, &doc), CH_OK);
	assert_int_equal(notif_subscribe(st, &req, push, &some, &s2), CH_OK);
	xmlFreeDoc(doc);	/* the subscription has its own copy */
	notif_emit(st, "<a xmlns=\"urn:a\"/>", 18);
	notif_emit(st, "<b xmlns=\"urn:b\"><x>1</x></b>", 29);
	assert_int_equal(all.n, 2);
	assert_non_null(strstr(all.msgs[0], "<notification xmlns=\""
			       NOTIF_NS "\"><eventTime>"));
	assert_non_null(strstr(all.msgs[0], "</eventTime><a xmlns=\"urn:a\"/>"
			       "</notification>"));
	assert_int_equal(some.n, 1);
	assert_non_null(strstr(some.msgs[0], "<x>1</x></b></notification>"));
	/* a replay from the start: both, then replayComplete */
	assert_int_equal(parse_req("<startTime>1970-01-01T00:00:00Z"
				   "</startTime>", &req, &err, &doc), CH_OK);
	assert_int_equal(notif_subscribe(st, &req, push, &replay, &s3),
			 CH_OK);
	xmlFreeDoc(doc);
	assert_int_equal(replay.n, 0);	/* waits for the reply */
	notif_sub_after_reply(s3);
	assert_int_equal(replay.n, 3);
	assert_non_null(strstr(replay.msgs[0], "<a xmlns=\"urn:a\"/>"));
	assert_non_null(strstr(replay.msgs[1], "<x>1</x>"));
	assert_non_null(strstr(replay.msgs[2], "<replayComplete"));
	assert_true(notif_sub_active(s3));
	notif_sub_free(s2);
	notif_emit(st, "<b xmlns=\"urn:b\"/>", 18);
	assert_int_equal(some.n, 1);
	assert_int_equal(all.n, 3);
	assert_int_equal(replay.n, 4);
	notif_stream_free(st);	/* frees s1 and s3 */
	/* the log went to the file */
	struct notif_log *log;

	assert_int_equal(notif_log_open(f->path, 10, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 3);
	notif_log_free(log);
}

/* Two streams (two agents' state) share nothing: an event reaches only
 * the subscriptions and the log of the stream it is emitted on. */
static void test_streams_apart(void **state)
{
	struct fx *f = *state, *g = NULL;
	struct chan a = { .n = 0 }, b = { .n = 0 };
	struct notif_stream *sa = NULL, *sb = NULL;
	struct notif_sub *suba, *subb;
	struct notif_log *log;
	struct notif_req req;
	struct notif_err err;
	xmlDoc *doc;

	assert_int_equal(setup((void **)&g), 0);
	assert_int_equal(notif_stream_new(NULL, f->dir, &sa), CH_OK);
	assert_int_equal(notif_stream_new(NULL, g->dir, &sb), CH_OK);
	assert_int_equal(parse_req("", &req, &err, &doc), CH_OK);
	assert_int_equal(notif_subscribe(sa, &req, push, &a, &suba), CH_OK);
	assert_int_equal(notif_subscribe(sb, &req, push, &b, &subb), CH_OK);
	xmlFreeDoc(doc);
	notif_emit(sa, "<a xmlns=\"urn:a\"/>", 18);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 0);
	notif_sub_free(suba);	/* leaves the other stream's alone */
	notif_emit(sb, "<b xmlns=\"urn:b\"/>", 18);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	notif_stream_free(sa);
	notif_stream_free(sb);	/* frees subb */
	assert_int_equal(notif_log_open(f->path, 10, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 1);
	notif_log_free(log);
	assert_int_equal(notif_log_open(g->path, 10, 1 << 20, &log), CH_OK);
	assert_int_equal(notif_log_count(log), 1);
	notif_log_free(log);
	teardown((void **)&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_count_bound_and_atomic_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bytes_bound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reload_after_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_torn_last_record_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_selection, setup,
						teardown),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_request),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streams_apart, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
