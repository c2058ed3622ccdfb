/* test_xport_ssh.c - the SSH transport, both roles, over a real loopback
 * TCP connection in one loop: identify in both directions, several channels of
 * several types on one connection with interleaved traffic, a stalled
 * channel that does not block the others, refusals, the cap, exit status,
 * direct-tcpip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/id/sshkey.h"
#include "lib/xport/xport.h"
#include "loopguard.h"
#include "xportpair.h"

#define GUARD_MS 10000
#define MAXS 16
#define BIG (4u * 1024 * 1024)

/* One side's view of one stream. */
struct end {
	struct ch_stream *s;
	struct ch_buf in;
	int opened;		/* 1 ok, -1 refused */
	int eof, closed;
	int exit_status;
	char exit_sig[32];
	struct ch_buf err;	/* client: the peer's stderr */
	int echo;		/* server: write back what comes */
};

struct side {
	const char *name;
	struct ch_xport *x;
	int up, down, closed;
	char down_why[256];
	int refuse_identify;
	int refuse_accept;	/* server: refuse every stream */
	int pause_first;	/* server: pause the first stream taken */
	int exec_exit;		/* server: exec streams write and exit */
	int exec_sig;		/* server: exec writes out and err, then
				 * ends by the signal it is sent */
	char env[4][64];	/* server: what the last request kept */
	size_t nenv;
	char got_signal[32];
	char seen_user[64], seen_fp[CH_FP_LEN];
	struct end ends[MAXS];
	int nends;
	struct ch_stream_req last_req;
	char last_name[256];
	char last_term[64];
};

static uv_loop_t loop;
static struct loopguard guard;
static ssh_bind bind_;
static ssh_key host_key, client_key;
static char host_fp[CH_FP_LEN], client_fp[CH_FP_LEN];

static struct end *end_of(struct ch_stream *s)
{
	return ch_stream_ctx(s);
}

static void on_data(struct ch_stream *s, const char *p, size_t n)
{
	struct end *e = end_of(s);

	if (e->echo)
		assert_int_equal(ch_stream_write(s, p, n), CH_OK);
	else
		assert_int_equal(ch_buf_put(&e->in, p, n), CH_OK);
}

static void on_eof(struct ch_stream *s)
{
	end_of(s)->eof = 1;
}

static void on_opened(struct ch_stream *s, int status, const char *why)
{
	(void)why;
	end_of(s)->opened = status == CH_OK ? 1 : -1;
}

static void on_exited(struct ch_stream *s, int status, const char *sig)
{
	end_of(s)->exit_status = status;
	snprintf(end_of(s)->exit_sig, sizeof(end_of(s)->exit_sig), "%s",
		 sig ? sig : "");
}

static void on_data_err(struct ch_stream *s, const char *p, size_t n)
{
	assert_int_equal(ch_buf_put(&end_of(s)->err, p, n), CH_OK);
}

/* server: a signal ends the command with exit-signal TERM */
static void on_signal(struct ch_stream *s, const char *name)
{
	struct side *sd = ch_xport_owner(ch_stream_xport(s));

	snprintf(sd->got_signal, sizeof(sd->got_signal), "%s", name);
	ch_stream_exit_signal(s, "TERM", 1, "bye");
	ch_stream_close(s, 0, "signalled");
}

static void on_sclosed(struct ch_stream *s, const char *why)
{
	(void)why;
	end_of(s)->closed = 1;
	end_of(s)->s = NULL;
}

static const struct ch_stream_cb stream_cb = {
	.opened = on_opened,
	.data = on_data,
	.eof = on_eof,
	.exited = on_exited,
	.closed = on_sclosed,
	.data_err = on_data_err,
	.signal = on_signal,
};

static int identify(struct ch_xport *x, const struct ch_peer_id *id,
		    const char **why)
{
	struct side *sd = ch_xport_owner(x);

	snprintf(sd->seen_fp, sizeof(sd->seen_fp), "%s", id->key_fp);
	if (id->user)
		snprintf(sd->seen_user, sizeof(sd->seen_user), "%s", id->user);
	if (sd->refuse_identify) {
		*why = "not this one";
		return CH_ERR_DENIED;
	}
	return CH_OK;
}

static void up(struct ch_xport *x)
{
	((struct side *)ch_xport_owner(x))->up = 1;
}

static int accept_(struct ch_xport *x, struct ch_stream *s,
		   const struct ch_stream_req *req, const char **why)
{
	struct side *sd = ch_xport_owner(x);
	struct end *e;

	sd->last_req = *req;
	sd->nenv = 0;
	for (size_t i = 0; i < req->nenv && i < 4; i++)
		snprintf(sd->env[sd->nenv++], sizeof(sd->env[0]), "%s",
			 req->env[i]);
	snprintf(sd->last_name, sizeof(sd->last_name), "%s",
		 req->name ? req->name : "");
	snprintf(sd->last_term, sizeof(sd->last_term), "%s",
		 req->term ? req->term : "");
	if (sd->refuse_accept || (req->type == CH_STREAM_SUBSYSTEM &&
				  strcmp(req->name, "nope") == 0)) {
		*why = "no such subsystem here";
		return CH_ERR_DENIED;
	}
	assert_true(sd->nends < MAXS);
	e = &sd->ends[sd->nends++];
	e->s = s;
	e->echo = !(sd->pause_first && sd->nends == 1);
	ch_buf_init(&e->in, 64u << 20);
	ch_stream_set_cb(s, &stream_cb, e);
	if (sd->pause_first && sd->nends == 1)
		ch_stream_pause(s, 1);
	if (req->type == CH_STREAM_EXEC && sd->exec_sig) {
		assert_int_equal(ch_stream_write(s, "out", 3), CH_OK);
		assert_int_equal(ch_stream_write_err(s, "err", 3), CH_OK);
	}
	if (req->type == CH_STREAM_EXEC && sd->exec_exit) {
		assert_int_equal(ch_stream_write(s, "hi\n", 3), CH_OK);
		ch_stream_exit_status(s, 3);
		ch_stream_close(s, 0, "done");
	}
	return CH_OK;
}

static void down(struct ch_xport *x, const char *why)
{
	struct side *sd = ch_xport_owner(x);

	sd->down = 1;
	snprintf(sd->down_why, sizeof(sd->down_why), "%s", why);
}

static void closed(struct ch_xport *x)
{
	struct side *sd = ch_xport_owner(x);

	sd->closed = 1;
	sd->x = NULL;
}

/* server: names starting with OK_ are kept */
static int env_(struct ch_xport *x, struct ch_stream *s, const char *name,
		const char *value)
{
	(void)x;
	(void)s;
	(void)value;
	return strncmp(name, "OK_", 3) == 0 ? CH_OK : CH_ERR_DENIED;
}

static const struct ch_xport_ops ops = {
	.identify = identify,
	.up = up,
	.accept = accept_,
	.env = env_,
	.down = down,
	.closed = closed,
};

static struct side cli, srv;
static struct ch_logctx cli_log = { .conn = 1, .peer = "server" };
static struct ch_logctx srv_log = { .conn = 2, .peer = "client" };

/* Runs the loop until cond() holds (or GUARD_MS pass); the test's own
 * assertions tell whether it did. */
static void run_cond(int (*cond)(void))
{
	loopguard_start(&guard);
	while (!cond() && !guard.fired)
		uv_run(&loop, UV_RUN_ONCE);
	loopguard_stop(&guard);
}

/* A real loopback TCP connection: sv[0] the accepted end (the device's
 * role is the server's, whichever end dialled). */
static void tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
	sv[0] = accept(l, NULL, NULL);
	assert_true(sv[0] >= 0);
	close(l);
}

static void start_pair(uint32_t max_streams)
{
	int sv[2];
	struct ch_xport_opts co = { .log = &cli_log, .user = "netconf",
				    .key = client_key,
				    .max_streams = max_streams };
	struct ch_xport_opts so = { .log = &srv_log, .bind = bind_,
				    .max_streams = max_streams };

	tcp_pair(sv);
	assert_int_equal(ch_xport_ssh_server_start(&loop, sv[0], &so, &ops,
						   &srv, &srv.x), CH_OK);
	assert_int_equal(ch_xport_ssh_client_start(&loop, sv[1], &co, &ops,
						   &cli, &cli.x), CH_OK);
}

static int both_up(void) { return (cli.up && srv.up) || cli.down || srv.down; }
static int both_closed(void) { return cli.closed && srv.closed; }

static void finish(void)
{
	xport_pair_close(&guard, &loop, &cli.x, &srv.x);
	assert_true(cli.closed && srv.closed);
	for (int i = 0; i < MAXS; i++) {
		ch_buf_cleanup(&cli.ends[i].in);
		ch_buf_cleanup(&srv.ends[i].in);
	}
}

static int setup(void **st)
{
	(void)st;
	memset(&cli, 0, sizeof(cli));
	memset(&srv, 0, sizeof(srv));
	cli.name = "client";
	srv.name = "server";
	return 0;
}

static struct end *open_stream(const struct ch_stream_req *req)
{
	struct end *e = &cli.ends[cli.nends++];

	ch_buf_init(&e->in, 64u << 20);
	assert_int_equal(ch_xport_open(cli.x, req, &stream_cb, e, &e->s), CH_OK);
	return e;
}

static struct end *cur;
static size_t want;
static int got_enough(void) { return ch_buf_len(&cur->in) >= want || cur->closed; }
static int cur_opened(void) { return cur->opened != 0; }
static int cur_closed(void) { return cur->closed; }

static void test_identify_both_ways(void **st)
{
	(void)st;
	start_pair(0);
	run_cond(both_up);
	assert_true(cli.up && srv.up);
	assert_string_equal(cli.seen_fp, host_fp);	/* the server's host key */
	assert_string_equal(srv.seen_fp, client_fp);	/* the client's key */
	assert_string_equal(srv.seen_user, "netconf");
	finish();
	assert_string_equal(cli.down_why, "test over");
}

static void test_client_refuses_host_key(void **st)
{
	(void)st;
	cli.refuse_identify = 1;
	start_pair(0);
	run_cond(both_closed);
	assert_true(cli.closed && srv.closed);
	assert_false(cli.up);
	assert_false(srv.up);
	assert_string_equal(cli.down_why, "not this one");
}

static void test_server_refuses_key(void **st)
{
	(void)st;
	srv.refuse_identify = 1;
	start_pair(0);
	run_cond(both_closed);
	assert_false(srv.up);
	assert_non_null(strstr(cli.down_why, "peer refused our key"));
}

/* Three subsystem channels and an exec channel, traffic interleaved. */
static void test_interleaved_channels(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_SUBSYSTEM };
	struct end *e[3];
	char chunk[1000];
	(void)st;
	start_pair(0);
	run_cond(both_up);
	for (int i = 0; i < 3; i++) {
		req.name = i == 2 ? "snmp" : "netconf";
		e[i] = open_stream(&req);
		cur = e[i];
		run_cond(cur_opened);
		assert_int_equal(e[i]->opened, 1);
	}
	assert_int_equal(srv.nends, 3);
	assert_string_equal(srv.last_name, "snmp");
	for (int round = 0; round < 200; round++)
		for (int i = 0; i < 3; i++) {
			memset(chunk, 'a' + i, sizeof(chunk));
			snprintf(chunk, 16, "%d:%d;", i, round);
			assert_int_equal(ch_stream_write(e[i]->s, chunk,
							 sizeof(chunk)), CH_OK);
		}
	for (int i = 0; i < 3; i++) {
		cur = e[i];
		want = 200 * sizeof(chunk);
		run_cond(got_enough);
		assert_int_equal(ch_buf_len(&e[i]->in), want);
		for (int round = 0; round < 200; round++) {
			char head[16];

			snprintf(head, sizeof(head), "%d:%d;", i, round);
			assert_memory_equal(ch_buf_ptr(&e[i]->in) +
					    (size_t)round * sizeof(chunk), head,
					    strlen(head));
			assert_int_equal(ch_buf_ptr(&e[i]->in)
					 [(size_t)round * sizeof(chunk) + 999],
					 'a' + i);
		}
	}
	assert_int_equal(ch_xport_nstreams(cli.x), 3);
	finish();
}

/* The server does not read channel 1 (paused); channel 2 still echoes
 * 1 MiB while channel 1's data waits; then channel 1 resumes and gets
 * everything in order. */
/* A connection whose server pauses its first stream, and that stream. */
static struct end *open_paused(const struct ch_stream_req *req)
{
	srv.pause_first = 1;
	start_pair(0);
	run_cond(both_up);
	cur = open_stream(req);
	run_cond(cur_opened);
	return cur;
}

static void test_stalled_channel_does_not_block(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_SUBSYSTEM,
				     .name = "netconf" };
	struct end *a, *b;
	char *big = malloc(BIG);
	(void)st;
	a = open_paused(&req);
	cur = b = open_stream(&req);
	run_cond(cur_opened);
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)(i * 7);
	assert_int_equal(ch_stream_write(a->s, big, BIG), CH_OK);
	/* the window closes: most of a's data waits on the client */
	assert_int_equal(ch_stream_write(b->s, big, 1u << 20), CH_OK);
	cur = b;
	want = 1u << 20;
	run_cond(got_enough);
	assert_int_equal(ch_buf_len(&b->in), 1u << 20);
	assert_memory_equal(ch_buf_ptr(&b->in), big, 1u << 20);
	assert_int_equal(ch_buf_len(&srv.ends[0].in), 0);	/* paused */
	assert_true(ch_stream_pending(a->s) > 0);	/* held by the window */
	ch_stream_pause(srv.ends[0].s, 0);
	cur = &srv.ends[0];
	want = BIG;
	run_cond(got_enough);
	assert_int_equal(ch_buf_len(&srv.ends[0].in), BIG);
	assert_memory_equal(ch_buf_ptr(&srv.ends[0].in), big, BIG);
	assert_int_equal(ch_stream_pending(a->s), 0);
	free(big);
	finish();
}

/* The peer's EOF after data that waits while the stream is paused comes
 * after that data, not before it. */
static int srv_eof(void) { return srv.ends[0].eof; }
static int srv_eof_or_waited(void)
{
	return srv.ends[0].eof || guard.ticks >= 400 / LOOPGUARD_TICK_MS;
}

static void test_eof_after_held_data(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_EXEC, .name = "cat" };
	struct end *a;
	size_t n = 300000;
	char *big = malloc(n);

	(void)st;
	a = open_paused(&req);
	memset(big, 'x', n);
	assert_int_equal(ch_stream_write(a->s, big, n), CH_OK);
	ch_stream_eof(a->s);
	cur = &srv.ends[0];
	run_cond(srv_eof_or_waited);	/* 400 ms: the data waits */
	assert_false(srv.ends[0].eof);
	ch_stream_pause(srv.ends[0].s, 0);
	run_cond(srv_eof);
	assert_true(srv.ends[0].eof);
	assert_int_equal(ch_buf_len(&srv.ends[0].in), n);
	free(big);
	finish();
}

static void test_refused_subsystem_and_cap(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_SUBSYSTEM,
				     .name = "nope" };
	struct end *e;
	struct ch_stream *extra;
	(void)st;
	start_pair(2);
	run_cond(both_up);
	cur = e = open_stream(&req);
	run_cond(cur_closed);
	assert_int_equal(e->opened, -1);
	assert_true(e->closed);
	req.name = "netconf";
	cur = open_stream(&req);
	run_cond(cur_opened);
	cur = open_stream(&req);
	run_cond(cur_opened);
	assert_int_equal(cur->opened, 1);
	/* the client's own cap */
	assert_int_equal(ch_xport_open(cli.x, &req, &stream_cb, &cli.ends[9],
				       &extra), CH_ERR_LIMIT);
	finish();
}

static void test_exec_exit_status_and_eof(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_EXEC,
				     .name = "uptime", .pty = 1,
				     .term = "xterm", .cols = 100, .rows = 30 };
	struct end *e;
	(void)st;
	srv.exec_exit = 1;
	start_pair(0);
	run_cond(both_up);
	cur = e = open_stream(&req);
	e->exit_status = -100;
	run_cond(cur_closed);
	assert_int_equal(e->opened, 1);
	assert_int_equal(ch_buf_len(&e->in), 3);
	assert_memory_equal(ch_buf_ptr(&e->in), "hi\n", 3);
	assert_int_equal(e->exit_status, 3);
	assert_int_equal(srv.last_req.type, CH_STREAM_EXEC);
	assert_string_equal(srv.last_name, "uptime");
	assert_int_equal(srv.last_req.pty, 1);
	assert_int_equal(srv.last_req.cols, 100);
	assert_int_equal(srv.last_req.rows, 30);
	assert_string_equal(srv.last_term, "xterm");
	finish();
}

static int cur_has_output(void)
{
	return (ch_buf_len(&cur->in) >= 3 && ch_buf_len(&cur->err) >= 3) ||
	       cur->closed;
}

/* RFC 4254 6.4, 5.2, 6.9, 6.10 between our two roles: env kept by the
 * owner's choice, stderr apart from data, a signal to the server, its
 * exit-signal back. */
static void test_env_stderr_signal_exit_signal(void **st)
{
	static const char *const env[] = { "OK_A=1", "BAD=2", "OK_B=x=y",
					   "novalue" };
	struct ch_stream_req req = { .type = CH_STREAM_EXEC, .name = "cmd",
				     .env = env, .nenv = 4 };
	struct end *e;

	(void)st;
	srv.exec_sig = 1;
	start_pair(0);
	run_cond(both_up);
	cur = e = open_stream(&req);
	ch_buf_init(&e->err, 1024);
	run_cond(cur_opened);
	assert_int_equal(e->opened, 1);
	assert_int_equal(srv.nenv, 2);
	assert_string_equal(srv.env[0], "OK_A=1");
	assert_string_equal(srv.env[1], "OK_B=x=y");
	run_cond(cur_has_output);
	assert_memory_equal(ch_buf_ptr(&e->in), "out", 3);
	assert_memory_equal(ch_buf_ptr(&e->err), "err", 3);
	assert_int_equal(ch_stream_signal(e->s, "int"), CH_ERR_INVAL);
	assert_int_equal(ch_stream_signal(e->s, ""), CH_ERR_INVAL);
	assert_int_equal(ch_stream_signal(e->s, "INT"), CH_OK);
	run_cond(cur_closed);
	assert_string_equal(srv.got_signal, "INT");
	assert_int_equal(e->exit_status, -1);
	assert_string_equal(e->exit_sig, "TERM");
	ch_buf_cleanup(&e->err);
	finish();
}

static void test_direct_tcpip(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_DIRECT_TCPIP,
				     .name = "192.0.2.7", .port = 8080,
				     .orig_host = "127.0.0.1",
				     .orig_port = 5555 };
	struct end *e;
	(void)st;
	start_pair(0);
	run_cond(both_up);
	cur = e = open_stream(&req);
	run_cond(cur_opened);
	assert_int_equal(e->opened, 1);
	assert_int_equal(srv.last_req.type, CH_STREAM_DIRECT_TCPIP);
	assert_string_equal(srv.last_name, "192.0.2.7");
	assert_int_equal(srv.last_req.port, 8080);
	assert_int_equal(ch_stream_write(e->s, "GET /\r\n", 7), CH_OK);
	want = 7;
	run_cond(got_enough);
	assert_memory_equal(ch_buf_ptr(&e->in), "GET /\r\n", 7);
	/* the client ends it: the server's side sees it closed */
	ch_stream_close(e->s, 0, "done");
	cur = &srv.ends[0];
	run_cond(cur_closed);
	assert_true(srv.ends[0].closed);
	finish();
}

/* The peer vanishes: every stream hears closed(), then down(). */
static void test_peer_gone(void **st)
{
	struct ch_stream_req req = { .type = CH_STREAM_SUBSYSTEM,
				     .name = "netconf" };
	struct end *e;
	(void)st;
	start_pair(0);
	run_cond(both_up);
	cur = e = open_stream(&req);
	run_cond(cur_opened);
	ch_xport_close(srv.x, "server goes");
	run_cond(both_closed);
	assert_true(e->closed);
	assert_true(cli.down);
	assert_non_null(strstr(cli.down_why, "disconnected"));
	finish();
}

static void test_deadline(void **st)
{
	(void)st;
	start_pair(0);
	ch_xport_deadline(srv.x, 1, "too slow");
	run_cond(both_closed);
	assert_string_equal(srv.down_why, "too slow");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_identify_both_ways, setup),
		cmocka_unit_test_setup(test_client_refuses_host_key, setup),
		cmocka_unit_test_setup(test_server_refuses_key, setup),
		cmocka_unit_test_setup(test_interleaved_channels, setup),
		cmocka_unit_test_setup(test_stalled_channel_does_not_block,
				       setup),
		cmocka_unit_test_setup(test_eof_after_held_data, setup),
		cmocka_unit_test_setup(test_refused_subsystem_and_cap, setup),
		cmocka_unit_test_setup(test_exec_exit_status_and_eof, setup),
		cmocka_unit_test_setup(test_direct_tcpip, setup),
		cmocka_unit_test_setup(test_env_stderr_signal_exit_signal,
				       setup),
		cmocka_unit_test_setup(test_peer_gone, setup),
		cmocka_unit_test_setup(test_deadline, setup),
	};
	int r;

	uv_loop_init(&loop);
	loopguard_init(&guard, &loop, GUARD_MS);
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &host_key),
			 SSH_OK);
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &client_key),
			 SSH_OK);
	ch_key_fingerprint(host_key, host_fp, sizeof(host_fp));
	ch_key_fingerprint(client_key, client_fp, sizeof(client_fp));
	bind_ = ssh_bind_new();
	assert_int_equal(ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_IMPORT_KEY,
					      host_key), SSH_OK);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	ssh_bind_free(bind_);
	ssh_key_free(client_key);
	loopguard_close(&guard);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return r;
}
