/* test_control.c - the control socket: a real uv loop in this thread and
 * plain non-blocking client sockets, pumped together with deadlines.
 *
 * control.c is compiled into this test (WireGuard's fuzzers do the same
 * with config.c) so the test can shorten the idle timeout and watch the
 * client count; nothing else of its internals is touched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hub/control.c"

#include <pwd.h>

#include <fcntl.h>
#include <signal.h>
#include <time.h>

#define WAIT_MS 20000	/* generous: sanitizer builds on a busy machine */
#define MAX_HELD 512

struct t {
	uv_loop_t loop;
	char dir[64];
	char path[128];
	struct hub_ctl *ctl;
	struct hub_ctl_ops ops;
	struct hub_ctl_req *held[MAX_HELD];	/* "later" requests */
	int nheld;
	int handled;
	int stops;			/* ops.stop calls */
	int handoffs;			/* on_handoff calls */
	int handoff_fd;
	char *handoff_rest;
	int answered;			/* ops.answered calls */
	int answered_ok;		/* ... of them with "ok": true */
	int notes;			/* notes set and not yet seen back */
};

struct cl {
	int fd;
	struct ch_buf in;
	bool eof;
};

/* ---- the hub side: a handler with a few test commands ---- */

static void handler(void *ctx, struct hub_ctl_req *req, const char *cmd,
		    json_t *args)
{
	struct t *t = ctx;
	json_t *n = json_object_get(args, "n");

	t->handled++;
	if (strcmp(cmd, "echo") == 0) {
		hub_ctl_respond(req, json_pack("{s:b, s:O?}", "ok", 1, "n", n));
	} else if (strcmp(cmd, "later") == 0) {
		assert_true(t->nheld < MAX_HELD);
		t->held[t->nheld++] = req;
	} else if (strcmp(cmd, "size") == 0) {
		hub_ctl_respond(req, json_pack("{s:b, s:I}", "ok", 1, "len",
			(json_int_t)json_string_length(json_object_get(args,
								       "pad"))));
	} else if (strcmp(cmd, "nook") == 0) {
		hub_ctl_respond(req, json_pack("{s:i}", "x", 1));
	} else if (strcmp(cmd, "stream") == 0) {	/* held, claimed */
		hub_ctl_claim(req);
		assert_true(t->nheld < MAX_HELD);
		t->held[t->nheld++] = req;
	} else if (strcmp(cmd, "streamno") == 0) {
		hub_ctl_claim(req);
		hub_ctl_fail(req, "refused", "no stream");
	} else if (strcmp(cmd, "whoami") == 0) {	/* with a note */
		const struct hub_actor *a = hub_ctl_actor(req);

		hub_ctl_set_note(req, strdup("note"));
		t->notes++;
		hub_ctl_respond(req, json_pack("{s:b, s:s, s:I, s:s}", "ok", 1,
					       "name", a->name, "uid",
					       (json_int_t)a->uid, "via",
					       a->via));
	} else if (strcmp(cmd, "laternote") == 0) {
		hub_ctl_set_note(req, strdup("note"));
		t->notes++;
		assert_true(t->nheld < MAX_HELD);
		t->held[t->nheld++] = req;
	} else if (strcmp(cmd, "stop") == 0) {
		hub_ctl_stop(t->ctl);
		t->ctl = NULL;
		hub_ctl_respond(req, json_pack("{s:b}", "ok", 1));
	} else {
		hub_ctl_fail(req, "unknown-command", "no such command");
	}
}

static void on_answered(void *ctx, struct hub_ctl_req *req, json_t *resp)
{
	struct t *t = ctx;
	char *note = hub_ctl_note(req);

	t->answered++;
	t->answered_ok += json_is_true(json_object_get(resp, "ok"));
	if (note) {
		assert_string_equal(note, "note");
		free(note);
		t->notes--;
	}
}

/* Answers a held request with {"ok":true,"n":n}. */
static void answer(struct t *t, int i, int n)
{
	assert_true(i < t->nheld);
	assert_non_null(t->held[i]);
	hub_ctl_respond(t->held[i], json_pack("{s:b, s:i}", "ok", 1, "n", n));
	t->held[i] = NULL;
}

static void on_handoff(void *ctx, int fd, const char *rest, size_t len)
{
	struct t *t = ctx;

	t->handoffs++;
	t->handoff_fd = fd;
	t->handoff_rest = fd >= 0 ? strndup(rest, len) : NULL;
}

/* ---- the client side ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pump(struct t *t)
{
	uv_run(&t->loop, UV_RUN_NOWAIT);
}

#define WAIT_FOR(t, cond) do { \
	int64_t end_ = now_ms() + WAIT_MS; \
	while (!(cond) && now_ms() < end_) { \
		pump(t); \
		usleep(500); \
	} \
	assert_true(cond); \
} while (0)

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(fill_addr(path, &sa), CH_OK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void cl_open(struct t *t, struct cl *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = raw_connect(t->path);
	assert_true(c->fd >= 0);
	ch_buf_init(&c->in, 64u * 1024 * 1024);
	pump(t);	/* accept it: the backlog is finite */
}

static void cl_close(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	ch_buf_cleanup(&c->in);
}

static void cl_send(struct t *t, struct cl *c, const char *p, size_t len)
{
	int64_t end = now_ms() + WAIT_MS;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		assert_true(now_ms() < end);
		pump(t);
	}
	pump(t);
}

static void cl_sends(struct t *t, struct cl *c, const char *s)
{
	cl_send(t, c, s, strlen(s));
}

/* Moves whatever the server sent into c->in; notes EOF. */
static void cl_drain(struct cl *c)
{
	char tmp[65536];
	ssize_t n;

	while ((n = recv(c->fd, tmp, sizeof(tmp), 0)) > 0)
		assert_int_equal(ch_buf_put(&c->in, tmp, (size_t)n), CH_OK);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		c->eof = true;
}

/* Next line from the server, without '\n' (free it), or NULL at EOF. */
static char *cl_line(struct t *t, struct cl *c)
{
	int64_t end = now_ms() + WAIT_MS;
	const char *nl;

	for (;;) {
		cl_drain(c);
		nl = memchr(ch_buf_ptr(&c->in), '\n', ch_buf_len(&c->in));
		if (nl) {
			size_t len = (size_t)(nl - ch_buf_ptr(&c->in));
			char *s = strndup(ch_buf_ptr(&c->in), len);

			assert_non_null(s);
			ch_buf_consume(&c->in, len + 1);
			return s;
		}
		if (c->eof)
			return NULL;
		assert_true(now_ms() < end);
		pump(t);
		usleep(200);
	}
}

static void expect_line(struct t *t, struct cl *c, const char *want)
{
	char *got = cl_line(t, c);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void expect_eof(struct t *t, struct cl *c)
{
	char *got = cl_line(t, c);

	assert_null(got);
	assert_int_equal(ch_buf_len(&c->in), 0);
}

/* Runs the loop for ms and checks that nothing arrived meanwhile. */
static void expect_quiet(struct t *t, struct cl *c, int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end) {
		pump(t);
		usleep(500);
	}
	cl_drain(c);
	assert_int_equal(ch_buf_len(&c->in), 0);
	assert_false(c->eof);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(uv_loop_init(&t->loop), 0);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_control.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/hub.sock", t->dir);
	t->ops.ctx = t;
	t->ops.handle = handler;
	t->ops.answered = on_answered;
	assert_int_equal(hub_ctl_start(&t->loop, t->path, &t->ops, &t->ctl),
			 CH_OK);
	assert_non_null(t->ctl);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	hub_ctl_stop(t->ctl);
	for (int i = 0; i < t->nheld; i++)	/* the hub's duty: answer all */
		if (t->held[i])
			answer(t, i, -1);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	/* every handle closed and freed: a leak here fails the test */
	assert_int_equal(uv_loop_close(&t->loop), 0);
	unlink(t->path);
	assert_int_equal(rmdir(t->dir), 0);
	ctl_idle_ms = CH_CTL_IDLE_MS;
	free(t);
	return 0;
}

/* ---- tests ---- */

static void test_socket_mode_and_echo(void **state)
{
	struct t *t = *state;
	struct stat st;
	struct cl c;

	assert_int_equal(lstat(t->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"echo\",\"n\":7}\n");
	expect_line(t, &c, "{\"ok\":true,\"n\":7}");
	cl_sends(t, &c, "{\"cmd\":\"nosuch\"}\n");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"no such command\","
		    "\"code\":\"unknown-command\"}");
	cl_close(&c);
}

static void test_malformed(void **state)
{
	struct t *t = *state;
	struct cl c;

	cl_open(t, &c);
	cl_sends(t, &c,
		 "{\"cmd\":\n"
		 "[1,2]\n"
		 "{\"x\":1}\n"
		 "{\"cmd\":5}\n"
		 "{\"cmd\":\"a\",\"cmd\":\"b\"}\n"
		 "\"str\"\n"
		 "{\"cmd\":\"\"}\n"
		 "\n"
		 "\xff\n"
		 "{\"cmd\":\"echo\",\"n\":1}\r\n");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 1: invalid "
		    "JSON at byte 7: unexpected token near end of file\","
		    "\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 2: expected "
		    "a JSON object such as {\\\"cmd\\\":\\\"devices\\\"}, got "
		    "an array\",\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 3: the "
		    "object has no \\\"cmd\\\" member naming the command\","
		    "\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 4: "
		    "\\\"cmd\\\" must be a string, got a number\","
		    "\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 5: invalid "
		    "JSON at byte 16: duplicate object key near '\\\"cmd\\\"'\","
		    "\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 6: expected "
		    "a JSON object such as {\\\"cmd\\\":\\\"devices\\\"}, got "
		    "a string\",\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 7: "
		    "\\\"cmd\\\" is empty\",\"code\":\"bad-request\"}");
	/* line 8 is blank: skipped, not answered */
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 9: invalid "
		    "JSON at byte 0: unable to decode byte 0xff\","
		    "\"code\":\"bad-request\"}");
	expect_line(t, &c, "{\"ok\":true,\"n\":1}");
	assert_int_equal(t->handled, 1);	/* only the good one */
	cl_close(&c);
}

/* The pure line parser the socket uses (and fuzz/ctlline_fuzz.c). */
static void test_parse_line(void **state)
{
	char msg[CH_CTL_ERR_MAX];
	const char *cmd;
	json_t *root;

	(void)state;
	assert_int_equal(hub_ctl_parse_line(" \t\r", 3, 1, &root, &cmd, msg,
					    sizeof(msg)), CH_ERR_AGAIN);
	assert_null(root);
	assert_null(cmd);
	assert_int_equal(hub_ctl_parse_line("{\"cmd\":\"x\",\"a\":2}\r", 18,
					    2, &root, &cmd, msg, sizeof(msg)),
			 CH_OK);
	assert_string_equal(cmd, "x");
	assert_int_equal(json_integer_value(json_object_get(root, "a")), 2);
	json_decref(root);
	assert_int_equal(hub_ctl_parse_line("{\"cmd\":7}", 9, 3, &root, &cmd,
					    msg, sizeof(msg)), CH_ERR_INVAL);
	assert_null(root);
	assert_null(cmd);
	assert_string_equal(msg, "request line 3: \"cmd\" must be a string, "
			    "got a number");
}

static void test_async_and_order(void **state)
{
	struct t *t = *state;
	struct cl c;

	cl_open(t, &c);
	/* one write, three requests: answered 3rd, then 1st; 2nd at once */
	cl_sends(t, &c, "{\"cmd\":\"later\",\"n\":1}\n"
			"{\"cmd\":\"echo\",\"n\":2}\n"
			"{\"cmd\":\"later\",\"n\":3}\n");
	WAIT_FOR(t, t->handled == 3);
	expect_quiet(t, &c, 50);
	answer(t, 1, 3);
	expect_quiet(t, &c, 50);
	answer(t, 0, 1);
	expect_line(t, &c, "{\"ok\":true,\"n\":1}");
	expect_line(t, &c, "{\"ok\":true,\"n\":2}");
	expect_line(t, &c, "{\"ok\":true,\"n\":3}");
	/* the connection carries on */
	cl_sends(t, &c, "{\"cmd\":\"later\"}\n");
	WAIT_FOR(t, t->handled == 4);
	expect_quiet(t, &c, 30);
	answer(t, 2, 4);
	expect_line(t, &c, "{\"ok\":true,\"n\":4}");
	cl_close(&c);
}

static void test_client_leaves_first(void **state)
{
	struct t *t = *state;
	struct cl c;

	cl_open(t, &c);
	/* 1 is held by the hub; 2 is answered but must wait behind 1 */
	cl_sends(t, &c, "{\"cmd\":\"later\",\"n\":1}\n"
			"{\"cmd\":\"echo\",\"n\":2}\n");
	WAIT_FOR(t, t->handled == 2);
	assert_int_equal(t->ctl->nclients, 1);
	cl_close(&c);
	WAIT_FOR(t, t->ctl->nclients == 0);
	/* the req outlived its client: answering it is dropped and freed
	 * (ASan reports a leak or a use after free otherwise) */
	answer(t, 0, 1);
}

/* The actor is the peer's uid from the kernel, whatever the request
 * says; every request given to handle() is seen once more by answered(),
 * with its note, even after its client left. */
static void test_actor_and_answered(void **state)
{
	struct t *t = *state;
	struct passwd *pw = getpwuid(getuid());
	char line[256], *line_free;
	struct cl c;

	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"whoami\",\"uid\":4242,"
			"\"name\":\"mallory\"}\n");
	snprintf(line, sizeof(line), "{\"ok\":true,\"name\":\"%s\","
		 "\"uid\":%lu,\"via\":\"local\"}", pw ? pw->pw_name : "?",
		 (unsigned long)getuid());
	expect_line(t, &c, line);
	assert_int_equal(t->answered, 1);
	assert_int_equal(t->answered_ok, 1);
	assert_int_equal(t->notes, 0);
	/* a failure is seen too; a line that never reached handle() not */
	cl_sends(t, &c, "{\"cmd\":\"nosuch\"}\nnot json\n");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"no such command\","
		    "\"code\":\"unknown-command\"}");
	line_free = cl_line(t, &c);
	assert_non_null(line_free);
	assert_non_null(strstr(line_free, "\"bad-request\""));
	free(line_free);
	assert_int_equal(t->answered, 2);
	assert_int_equal(t->answered_ok, 1);
	/* held, then the client leaves: answered() still comes, once */
	cl_sends(t, &c, "{\"cmd\":\"laternote\"}\n");
	WAIT_FOR(t, t->nheld == 1);
	cl_close(&c);
	WAIT_FOR(t, t->ctl->nclients == 0);
	assert_int_equal(t->answered, 2);
	answer(t, 0, 1);
	assert_int_equal(t->answered, 3);
	assert_int_equal(t->notes, 0);
}

static void test_half_close(void **state)
{
	struct t *t = *state;
	struct cl c;

	cl_open(t, &c);
	/* the last line has no '\n': EOF ends it */
	cl_sends(t, &c, "{\"cmd\":\"later\",\"n\":1}\n{\"cmd\":\"echo\",\"n\":2}");
	assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
	WAIT_FOR(t, t->handled == 2);
	expect_quiet(t, &c, 30);
	answer(t, 0, 1);
	expect_line(t, &c, "{\"ok\":true,\"n\":1}");
	expect_line(t, &c, "{\"ok\":true,\"n\":2}");
	expect_eof(t, &c);
	WAIT_FOR(t, t->ctl->nclients == 0);
	cl_close(&c);
}

/* A stream: what follows its line is not parsed; once the answer is out
 * the connection, with those bytes, is the handler's. */
static void test_stream_handoff(void **state)
{
	struct t *t = *state;
	char buf[8];
	struct cl c;

	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"later\",\"n\":1}\n{\"cmd\":\"stream\"}\n"
			"RAW{\"cmd\":\"echo\",\"n\":2}\n");
	WAIT_FOR(t, t->handled == 2);
	expect_quiet(t, &c, 30);	/* the echo was not a request */
	assert_int_equal(hub_ctl_handoff(t->held[1], json_pack("{s:b, s:i}",
			 "ok", 1, "stream", 1), on_handoff, t), CH_OK);
	t->held[1] = NULL;
	expect_quiet(t, &c, 30);	/* in order: 1 is not answered yet */
	assert_int_equal(t->handoffs, 0);
	answer(t, 0, 1);
	expect_line(t, &c, "{\"ok\":true,\"n\":1}");
	expect_line(t, &c, "{\"ok\":true,\"stream\":1}");
	WAIT_FOR(t, t->handoffs == 1 && t->ctl->nclients == 0);
	assert_true(t->handoff_fd >= 0);
	assert_string_equal(t->handoff_rest, "RAW{\"cmd\":\"echo\",\"n\":2}\n");
	/* the connection lives on in the handler's fd */
	assert_int_equal(write(t->handoff_fd, "hi", 2), 2);
	WAIT_FOR(t, recv(c.fd, buf, sizeof(buf), MSG_PEEK) == 2);
	close(t->handoff_fd);
	free(t->handoff_rest);
	cl_close(&c);
}

static void test_stream_refused_and_gone(void **state)
{
	struct t *t = *state;
	struct cl c;

	/* refused: the line, then the end */
	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"streamno\"}\nxyz\n");
	expect_line(t, &c, "{\"ok\":false,\"error\":\"no stream\","
		    "\"code\":\"refused\"}");
	expect_eof(t, &c);
	cl_close(&c);
	/* the client left before the answer: no handoff, req freed */
	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"stream\"}\n");
	WAIT_FOR(t, t->handled == 2);
	cl_close(&c);
	WAIT_FOR(t, t->ctl->nclients == 0);
	assert_int_equal(hub_ctl_handoff(t->held[0], json_pack("{s:b}", "ok",
			 1), on_handoff, t), CH_ERR_CLOSED);
	t->held[0] = NULL;
	assert_int_equal(t->handoffs, 0);
}

static void test_bad_response_replaced(void **state)
{
	struct t *t = *state;
	struct cl c;

	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"nook\"}\n{\"cmd\":\"echo\"}\n");
	expect_line(t, &c, internal_line);
	expect_line(t, &c, "{\"ok\":true,\"n\":null}");
	cl_close(&c);
}

static char *big_request(size_t total)
{
	static const char head[] = "{\"cmd\":\"size\",\"pad\":\"";
	char *s = malloc(total + 2);

	assert_non_null(s);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', total - (sizeof(head) - 1) - 2);
	memcpy(s + total - 2, "\"}\n", 4);	/* line of total bytes + '\n' */
	return s;
}

static void test_largest_line_accepted(void **state)
{
	struct t *t = *state;
	char *req = big_request(CH_CTL_MAX_REQUEST);
	char want[64];
	struct cl c;

	cl_open(t, &c);
	cl_send(t, &c, req, CH_CTL_MAX_REQUEST + 1);
	snprintf(want, sizeof(want), "{\"ok\":true,\"len\":%u}",
		 CH_CTL_MAX_REQUEST - 23);
	expect_line(t, &c, want);
	cl_sends(t, &c, "{\"cmd\":\"echo\",\"n\":2}\n");
	expect_line(t, &c, "{\"ok\":true,\"n\":2}");
	free(req);
	cl_close(&c);
}

static void test_too_big_in_order(void **state)
{
	struct t *t = *state;
	char *req = big_request(CH_CTL_MAX_REQUEST + 1);
	char want[160];
	struct cl c;

	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"later\",\"n\":1}\n");
	WAIT_FOR(t, t->handled == 1);
	cl_send(t, &c, req, CH_CTL_MAX_REQUEST + 2);
	/* the error waits its turn behind request 1 */
	expect_quiet(t, &c, 50);
	answer(t, 0, 1);
	expect_line(t, &c, "{\"ok\":true,\"n\":1}");
	snprintf(want, sizeof(want), "{\"ok\":false,\"error\":\"request line 2 "
		 "is longer than the limit of %u bytes\",\"code\":\"too-big\"}",
		 CH_CTL_MAX_REQUEST);
	expect_line(t, &c, want);
	expect_eof(t, &c);
	assert_int_equal(t->handled, 1);
	WAIT_FOR(t, t->ctl->nclients == 0);
	free(req);
	cl_close(&c);
}

static void test_too_big_without_newline(void **state)
{
	struct t *t = *state;
	size_t n = CH_CTL_MAX_REQUEST + 1;
	char *junk = malloc(n);
	struct cl c;

	assert_non_null(junk);
	memset(junk, ' ', n);	/* never a whole line: no '\n' at all */
	cl_open(t, &c);
	cl_send(t, &c, junk, n);
	expect_line(t, &c, "{\"ok\":false,\"error\":\"request line 1 is longer "
		    "than the limit of 33554432 bytes\",\"code\":\"too-big\"}");
	expect_eof(t, &c);
	free(junk);
	cl_close(&c);
}

static void test_backpressure(void **state)
{
	struct t *t = *state;
	struct ch_buf reqs;
	char want[64];
	struct cl c;

	ch_buf_init(&reqs, 1u << 20);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ch_buf_printf(&reqs, "{\"cmd\":\"later\","
					       "\"n\":%d}\n", i), CH_OK);
	cl_open(t, &c);
	cl_send(t, &c, ch_buf_ptr(&reqs), ch_buf_len(&reqs));
	WAIT_FOR(t, t->handled == CH_CTL_MAX_PIPELINE);
	expect_quiet(t, &c, 50);
	assert_int_equal(t->handled, CH_CTL_MAX_PIPELINE);	/* no more taken */
	for (int i = 0; i < 100; i++) {
		WAIT_FOR(t, t->nheld > i);
		answer(t, i, i);
		snprintf(want, sizeof(want), "{\"ok\":true,\"n\":%d}", i);
		expect_line(t, &c, want);
	}
	assert_int_equal(t->handled, 100);
	ch_buf_cleanup(&reqs);
	cl_close(&c);
}

static void test_max_clients(void **state)
{
	struct t *t = *state;
	static struct cl c[CH_CTL_MAX_CLIENTS + 1];

	for (int i = 0; i < CH_CTL_MAX_CLIENTS; i++)
		cl_open(t, &c[i]);
	WAIT_FOR(t, t->ctl->nclients == CH_CTL_MAX_CLIENTS);
	cl_open(t, &c[CH_CTL_MAX_CLIENTS]);
	expect_line(t, &c[CH_CTL_MAX_CLIENTS],
		    "{\"ok\":false,\"code\":\"busy\",\"error\":\"too many "
		    "control connections; try again later\"}");
	expect_eof(t, &c[CH_CTL_MAX_CLIENTS]);
	cl_close(&c[CH_CTL_MAX_CLIENTS]);
	/* the others are served; a freed slot is usable again */
	cl_sends(t, &c[0], "{\"cmd\":\"echo\",\"n\":0}\n");
	expect_line(t, &c[0], "{\"ok\":true,\"n\":0}");
	cl_close(&c[1]);
	WAIT_FOR(t, t->ctl->nclients == CH_CTL_MAX_CLIENTS - 1);
	cl_open(t, &c[1]);
	cl_sends(t, &c[1], "{\"cmd\":\"echo\",\"n\":1}\n");
	expect_line(t, &c[1], "{\"ok\":true,\"n\":1}");
	for (int i = 0; i < CH_CTL_MAX_CLIENTS; i++)
		cl_close(&c[i]);
}

static void test_idle_timeout(void **state)
{
	struct t *t = *state;
	struct cl quiet, busy;

	ctl_idle_ms = 100;
	cl_open(t, &quiet);
	cl_open(t, &busy);
	cl_sends(t, &busy, "{\"cmd\":\"later\",\"n\":1}\n");
	WAIT_FOR(t, t->handled == 1);
	expect_eof(t, &quiet);
	/* a client waiting for an answer is not idle */
	expect_quiet(t, &busy, 300);
	answer(t, 0, 1);
	expect_line(t, &busy, "{\"ok\":true,\"n\":1}");
	expect_eof(t, &busy);
	cl_close(&quiet);
	cl_close(&busy);
}

static void test_stop_with_pending(void **state)
{
	struct t *t = *state;
	struct cl a, b;

	cl_open(t, &a);
	cl_open(t, &b);
	cl_sends(t, &a, "{\"cmd\":\"later\",\"n\":1}\n");
	WAIT_FOR(t, t->handled == 1 && t->ctl->nclients == 2);
	hub_ctl_stop(t->ctl);
	t->ctl = NULL;
	expect_eof(t, &a);
	expect_eof(t, &b);
	assert_int_equal(access(t->path, F_OK), -1);	/* unlinked */
	answer(t, 0, 1);	/* dropped, freed */
	cl_close(&a);
	cl_close(&b);
}

/* ops.stop: answers every held request, as the hub's API does for the
 * operators waiting for jobs. */
static void on_stop(void *ctx)
{
	struct t *t = ctx;

	t->stops++;
	for (int i = 0; i < t->nheld; i++)
		if (t->held[i])
			answer(t, i, -2);
}

static void test_stop_hook_answers_pending(void **state)
{
	struct t *t = *state;
	struct cl c;

	t->ops.stop = on_stop;
	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"later\",\"n\":1}\n");
	WAIT_FOR(t, t->handled == 1);
	hub_ctl_stop(t->ctl);
	hub_ctl_stop(t->ctl);	/* once only */
	t->ctl = NULL;
	assert_int_equal(t->stops, 1);
	/* answered before the client was closed: it still gets the line */
	expect_line(t, &c, "{\"ok\":true,\"n\":-2}");
	expect_eof(t, &c);
	cl_close(&c);
}

static void test_stop_from_handler(void **state)
{
	struct t *t = *state;
	struct cl c;

	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"stop\"}\n{\"cmd\":\"echo\"}\n");
	expect_eof(t, &c);
	assert_int_equal(t->handled, 1);	/* nothing after stop */
	cl_close(&c);
}

static void test_stale_live_and_bad_paths(void **state)
{
	struct t *t = *state;
	struct sockaddr_un sa;
	struct hub_ctl *other = (struct hub_ctl *)0x1;
	char path[160], longp[200];
	struct cl c;
	int fd;

	/* a live hub owns t->path: refused, and left alone */
	assert_int_equal(hub_ctl_start(&t->loop, t->path, &t->ops, &other),
			 CH_ERR_EXISTS);
	assert_null(other);
	cl_open(t, &c);
	cl_sends(t, &c, "{\"cmd\":\"echo\",\"n\":5}\n");
	expect_line(t, &c, "{\"ok\":true,\"n\":5}");
	cl_close(&c);

	/* a stale socket (bound, nobody listening) is replaced */
	snprintf(path, sizeof(path), "%s/stale.sock", t->dir);
	assert_int_equal(fill_addr(path, &sa), CH_OK);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(raw_connect(path), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(hub_ctl_start(&t->loop, path, &t->ops, &other), CH_OK);
	assert_non_null(other);
	fd = raw_connect(path);
	assert_true(fd >= 0);
	close(fd);
	hub_ctl_stop(other);
	assert_int_equal(access(path, F_OK), -1);

	/* a file that is not a socket is never removed */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hub_ctl_start(&t->loop, path, &t->ops, &other),
			 CH_ERR_EXISTS);
	assert_null(other);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(hub_ctl_start(&t->loop, longp, &t->ops, &other),
			 CH_ERR_INVAL);
	assert_int_equal(hub_ctl_start(&t->loop, "", &t->ops, &other),
			 CH_ERR_INVAL);
	snprintf(path, sizeof(path), "%s/no/such/dir.sock", t->dir);
	assert_int_equal(hub_ctl_start(&t->loop, path, &t->ops, &other),
			 CH_ERR_IO);
	assert_null(other);
}

/* stop does not unlink a socket file that is no longer ours */
static void test_stop_leaves_foreign_socket(void **state)
{
	struct t *t = *state;
	struct sockaddr_un sa;
	int fd;

	assert_int_equal(unlink(t->path), 0);
	assert_int_equal(fill_addr(t->path, &sa), CH_OK);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	hub_ctl_stop(t->ctl);
	t->ctl = NULL;
	assert_int_equal(access(t->path, F_OK), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_socket_mode_and_echo),
		T(test_malformed),
		cmocka_unit_test(test_parse_line),
		T(test_async_and_order),
		T(test_client_leaves_first),
		T(test_actor_and_answered),
		T(test_half_close),
		T(test_bad_response_replaced),
		T(test_stream_handoff),
		T(test_stream_refused_and_gone),
		T(test_largest_line_accepted),
		T(test_too_big_in_order),
		T(test_too_big_without_newline),
		T(test_backpressure),
		T(test_max_clients),
		T(test_idle_timeout),
		T(test_stop_with_pending),
		T(test_stop_hook_answers_pending),
		T(test_stop_from_handler),
		T(test_stale_live_and_bad_paths),
		T(test_stop_leaves_foreign_socket),
#undef T
	};

	/* libuv writes with write(2): a vanished client must not kill us */
	signal(SIGPIPE, SIG_IGN);
	ch_log_set_level(CH_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
