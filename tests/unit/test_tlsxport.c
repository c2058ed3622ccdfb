/* test_tlsxport.c - the TLS transport kind over loopback TCP with a PKI
 * made at run time: identify sees the certificate, a refusal closes, the
 * one stream carries 1 MiB both ways, close after flush, pause/resume. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/core/err.h"
#include "lib/xport/tls.h"
#include "lib/xport/xport.h"
#include "loopguard.h"
#include "xportpair.h"
#include "testpki.h"

#define GUARD_MS 20000
#define MIB (1024u * 1024)
#define SLICE (48u * 1024)	/* interleaved writes */
#define SOCK_BUF (64 * 1024)	/* SO_SNDBUF, SO_RCVBUF */

enum { P_CA, P_SRV, P_SRVKEY, P_CLI, P_CLIKEY, P_ROGUE, P_N };

struct side {
	struct ch_xport *x;
	struct ch_stream *s;
	int refuse;			/* identify() says no */
	int identified, up, opened, drained, sclosed, down, xclosed;
	char cn[64];
	int chain_len;
	char why[256];
	long verr;			/* in down() */
	uint64_t got;
	int order_ok;
};

struct fx {
	char dir[64];
	char p[P_N][300];
	uv_loop_t loop;
	struct loopguard guard;
	struct side cli, srv;
	struct ch_tls_ctx *cctx, *sctx;
};

static struct fx *F;
static unsigned char big[MIB];

/* ---- PKI ---- */

static X509 *mkcert(EVP_PKEY *key, const char *cn, X509 *issuer,
		    EVP_PKEY *ikey, int ca, long serial)
{
	X509 *c = X509_new();
	X509_NAME *nm = X509_NAME_new();

	X509_set_version(c, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), -60);
	X509_gmtime_adj(X509_getm_notAfter(c), 3600);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, nm);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : nm);
	X509_NAME_free(nm);
	X509_set_pubkey(c, key);
	tp_ext(c, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE"
						      : "CA:FALSE");
	if (ca)
		tp_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	assert_true(X509_sign(c, ikey ? ikey : key, EVP_sha256()) > 0);
	return c;
}

static void write_cert(const char *path, X509 *c)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	PEM_write_X509(f, c);
	fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static int group_setup(void **state)
{
	static const char *names[P_N] = {
		"ca.pem", "srv.pem", "srv.key", "cli.pem", "cli.key",
		"rogue.pem",
	};
	struct fx *f = calloc(1, sizeof(*f));
	EVP_PKEY *kca = tp_key(), *ks = tp_key(), *kc = tp_key(),
		 *kr = tp_key();
	X509 *ca, *c;

	signal(SIGPIPE, SIG_IGN);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_tlsxport.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (int i = 0; i < P_N; i++)
		snprintf(f->p[i], sizeof(f->p[i]), "%s/%s", f->dir, names[i]);
	ca = mkcert(kca, "Test Root", NULL, NULL, 1, 1);
	write_cert(f->p[P_CA], ca);
	c = mkcert(ks, "device", ca, kca, 0, 2);
	write_cert(f->p[P_SRV], c);
	X509_free(c);
	write_key(f->p[P_SRVKEY], ks);
	c = mkcert(kc, "hub", ca, kca, 0, 3);
	write_cert(f->p[P_CLI], c);
	X509_free(c);
	write_key(f->p[P_CLIKEY], kc);
	c = mkcert(kr, "Rogue Root", NULL, NULL, 1, 4);
	write_cert(f->p[P_ROGUE], c);
	X509_free(c);
	X509_free(ca);
	EVP_PKEY_free(kca);
	EVP_PKEY_free(ks);
	EVP_PKEY_free(kc);
	EVP_PKEY_free(kr);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i & 0xff);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- loop helpers ---- */

/* Runs the loop until cond, GUARD_MS at most. */
#define RUN_UNTIL(cond) LOOP_UNTIL(&F->guard, &F->loop, cond)

static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(l, NULL, NULL);
	assert_true(*b >= 0);
	close(l);
	/* Small kernel buffers: a peer that does not read fills them, and
	 * the queue above them, with far less than a MiB. */
	for (int k = 0; k < 2; k++) {
		int fd = k ? *b : *a, v = SOCK_BUF;

		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v,
					    sizeof(v)), 0);
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v,
					    sizeof(v)), 0);
	}
}

/* ---- the owners ---- */

static void s_opened(struct ch_stream *s, int status, const char *why)
{
	struct side *d = ch_stream_ctx(s);

	(void)why;
	assert_int_equal(status, CH_OK);
	d->opened = 1;
}

static void s_data(struct ch_stream *s, const char *p, size_t n)
{
	struct side *d = ch_stream_ctx(s);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] != (unsigned char)((d->got + i) & 0xff))
			d->order_ok = 0;
	d->got += n;
}

static void s_drained(struct ch_stream *s)
{
	((struct side *)ch_stream_ctx(s))->drained++;
}

static void s_closed(struct ch_stream *s, const char *why)
{
	struct side *d = ch_stream_ctx(s);

	d->sclosed++;
	if (d->why[0] == '\0')
		snprintf(d->why, sizeof(d->why), "%s", why);
	d->s = NULL;
}

static const struct ch_stream_cb scb = {
	.opened = s_opened, .data = s_data, .drained = s_drained,
	.closed = s_closed,
};

static int x_identify(struct ch_xport *x, const struct ch_peer_id *id,
		      const char **why)
{
	struct side *d = ch_xport_owner(x);

	assert_int_equal(id->kind, CH_XPORT_TLS);
	assert_non_null(id->cert);
	X509_NAME_get_text_by_NID(X509_get_subject_name(id->cert),
				  NID_commonName, d->cn, sizeof(d->cn));
	d->chain_len = id->chain ? sk_X509_num(id->chain) : 0;
	d->identified = 1;
	if (d->refuse) {
		*why = "unknown device";
		return CH_ERR_DENIED;
	}
	return CH_OK;
}

static int x_accept(struct ch_xport *x, struct ch_stream *s,
		    const struct ch_stream_req *req, const char **why)
{
	struct side *d = ch_xport_owner(x);

	(void)why;
	assert_int_equal(req->type, CH_STREAM_TLS);
	assert_string_equal(req->name, "netconf");
	d->s = s;
	ch_stream_set_cb(s, &scb, d);
	return CH_OK;
}

static void x_up(struct ch_xport *x)
{
	struct side *d = ch_xport_owner(x);
	struct ch_stream_req req = { .type = CH_STREAM_TLS };
	struct ch_stream *s2;

	d->up = 1;
	if (ch_xport_role(x) != CH_XPORT_CLIENT)
		return;
	assert_int_equal(ch_xport_open(x, &req, &scb, d, &d->s), CH_OK);
	assert_int_equal(ch_xport_open(x, &req, &scb, d, &s2), CH_ERR_INVAL);
	assert_false(d->opened);
}

static void x_down(struct ch_xport *x, const char *why)
{
	struct side *d = ch_xport_owner(x);

	d->down = 1;
	d->verr = ch_tls_verify_result(ch_xport_tls(x), NULL, NULL);
	if (d->why[0] == '\0')
		snprintf(d->why, sizeof(d->why), "%s", why);
}

static void x_closed(struct ch_xport *x)
{
	struct side *d = ch_xport_owner(x);

	d->xclosed = 1;
	d->x = NULL;
}

static const struct ch_xport_ops xops = {
	.identify = x_identify, .up = x_up, .accept = x_accept,
	.down = x_down, .closed = x_closed,
};

/* ---- fixture ---- */

static const char *srv_cas[1], *cli_cas[1];

static int each_setup(void **state)
{
	struct fx *f = *state;

	memset(&f->cli, 0, sizeof(f->cli));
	memset(&f->srv, 0, sizeof(f->srv));
	f->cli.order_ok = f->srv.order_ok = 1;
	f->cctx = f->sctx = NULL;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	loopguard_init(&f->guard, &f->loop, GUARD_MS);
	F = f;
	return 0;
}

static int each_teardown(void **state)
{
	struct fx *f = *state;

	xport_pair_close(&f->guard, &f->loop, &f->cli.x, &f->srv.x);
	loopguard_close(&f->guard);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	ch_tls_ctx_free(f->cctx);
	ch_tls_ctx_free(f->sctx);
	return 0;
}

/* The device (TLS server) and the hub (TLS client); the hub trusts
 * cli_ca (the test's CA, or the rogue one). */
static void start_both(const char *cli_ca)
{
	struct ch_tls_ctx_opts so = {
		.cert_file = F->p[P_SRV], .key_file = F->p[P_SRVKEY],
		.ca_files = srv_cas, .nca_files = 1,
	};
	struct ch_tls_ctx_opts co = {
		.cert_file = F->p[P_CLI], .key_file = F->p[P_CLIKEY],
		.ca_files = cli_cas, .nca_files = 1,
	};
	struct ch_xport_opts xo = { 0 };
	int a, b;

	srv_cas[0] = F->p[P_CA];
	cli_cas[0] = cli_ca;
	assert_int_equal(ch_tls_server_ctx_new(&so, &F->sctx), CH_OK);
	assert_int_equal(ch_tls_client_ctx_new(&co, &F->cctx), CH_OK);
	tcp_pair(&a, &b);
	xo.tls = F->sctx;
	assert_int_equal(ch_xport_tls_start(&F->loop, a, &xo, &xops, &F->srv,
					    &F->srv.x), CH_OK);
	xo.tls = F->cctx;
	assert_int_equal(ch_xport_tls_start(&F->loop, b, &xo, &xops, &F->cli,
					    &F->cli.x), CH_OK);
	assert_int_equal(ch_xport_role(F->srv.x), CH_XPORT_SERVER);
	assert_int_equal(ch_xport_role(F->cli.x), CH_XPORT_CLIENT);
	assert_false(F->srv.identified || F->cli.identified);
}

static void start_open(void)
{
	start_both(F->p[P_CA]);
	RUN_UNTIL(F->cli.opened && F->srv.s);
}

/* ---- tests ---- */

static void test_identify_and_stream(void **state)
{
	size_t off[2] = { 0, 0 };

	(void)state;
	start_open();
	assert_true(F->srv.identified && F->cli.identified);
	assert_string_equal(F->srv.cn, "hub");
	assert_string_equal(F->cli.cn, "device");
	assert_int_equal(F->cli.chain_len, 2);	/* leaf and anchor */
	assert_string_equal(ch_xport_name(F->cli.x), "tls");
	assert_int_equal(ch_xport_kind(F->cli.x), CH_XPORT_TLS);
	assert_non_null(ch_xport_tls(F->cli.x));
	assert_int_equal(ch_xport_keepalive(F->cli.x, 1000, 3), CH_ERR_INVAL);
	assert_int_equal(ch_stream_req(F->cli.s)->type, CH_STREAM_TLS);
	/* 1 MiB each way, in slices written alternately from both sides */
	while (off[0] < MIB || off[1] < MIB) {
		for (int k = 0; k < 2; k++) {
			struct side *d = k ? &F->srv : &F->cli;
			size_t n = MIB - off[k] < SLICE ? MIB - off[k] : SLICE;

			if (n == 0)
				continue;
			assert_int_equal(ch_stream_write(d->s, big + off[k], n),
					 CH_OK);
			off[k] += n;
		}
		loop_spin(&F->loop, 2);
	}
	RUN_UNTIL(F->cli.got == MIB && F->srv.got == MIB);
	assert_true(F->cli.order_ok && F->srv.order_ok);
	assert_true(ch_xport_rx_bytes(F->cli.x) >= MIB);
	assert_true(ch_xport_rx_bytes(F->srv.x) >= MIB);
}

/* The client writes 1 MiB that the server does not read yet, then closes:
 * everything arrives before the close_notify. */
static void test_close_after_flush(void **state)
{
	(void)state;
	start_open();
	ch_stream_pause(F->srv.s, 1);
	assert_int_equal(ch_stream_write(F->cli.s, big, MIB), CH_OK);
	loop_spin(&F->loop, 20);
	assert_true(ch_stream_pending(F->cli.s) > 0);
	ch_stream_close(F->cli.s, 0, "done");
	assert_int_equal(ch_stream_write(F->cli.s, big, 1), CH_ERR_CLOSED);
	loop_spin(&F->loop, 20);
	assert_int_equal(F->cli.sclosed, 0);	/* waits for its queue */
	ch_stream_pause(F->srv.s, 0);
	RUN_UNTIL(F->cli.xclosed && F->srv.xclosed);
	assert_int_equal(F->srv.got, MIB);
	assert_true(F->srv.order_ok);
	assert_string_equal(F->cli.why, "done");
	assert_string_equal(F->srv.why, "the peer closed the TLS session");
}

static void test_pause_resume(void **state)
{
	(void)state;
	start_open();
	ch_stream_pause(F->srv.s, 1);
	assert_int_equal(ch_stream_write(F->cli.s, big, 200000), CH_OK);
	RUN_UNTIL(ch_stream_pending(F->cli.s) == 0);
	loop_spin(&F->loop, 20);
	assert_int_equal(F->srv.got, 0);
	ch_stream_pause(F->srv.s, 0);
	RUN_UNTIL(F->srv.got == 200000);
	assert_true(F->srv.order_ok);
	/* a few bytes only: they may sit decrypted in OpenSSL */
	ch_stream_pause(F->srv.s, 1);
	assert_int_equal(ch_stream_write(F->cli.s, big + 200000 % 256, 10),
			 CH_OK);
	loop_spin(&F->loop, 20);
	ch_stream_pause(F->srv.s, 0);
	RUN_UNTIL(F->srv.got == 200010);
}

static void test_refused_identify(void **state)
{
	(void)state;
	F->srv.refuse = 1;
	start_both(F->p[P_CA]);
	RUN_UNTIL(F->srv.xclosed && F->cli.xclosed);
	assert_true(F->srv.identified);
	assert_false(F->srv.up);
	assert_int_equal(F->srv.sclosed, 0);
	assert_string_equal(F->srv.why, "unknown device");
	assert_true(F->cli.down);
}

/* The hub does not trust the device's CA: the handshake fails; down()
 * can still read why from the TLS session. */
static void test_handshake_failed(void **state)
{
	(void)state;
	start_both(F->p[P_ROGUE]);
	RUN_UNTIL(F->cli.xclosed && F->srv.xclosed);
	assert_false(F->cli.identified);
	assert_false(F->cli.up);
	assert_non_null(strstr(F->cli.why, "TLS handshake failed"));
	assert_int_not_equal(F->cli.verr, X509_V_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, each_setup, each_teardown)
		T(test_identify_and_stream),
		T(test_close_after_flush),
		T(test_pause_resume),
		T(test_refused_identify),
		T(test_handshake_failed),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
