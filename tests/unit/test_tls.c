/* test_tls.c - contexts and sessions over real loopback TCP, with a PKI
 * made at run time: a manufacturer CA (root and intermediate) issuing
 * device certificates, an operator CA for the hub, a rogue CA. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/id/certid.h"
#include "lib/core/err.h"
#include "testpki.h"
#include "lib/xport/tls.h"

/* ---- PKI ---- */

static X509 *mkcert(EVP_PKEY *key, const char *cn, const char *serial_attr,
		    X509 *issuer, EVP_PKEY *ikey, int ca, long from_s,
		    long to_s, long serial)
{
	X509 *c = X509_new();
	X509_NAME *nm = X509_NAME_new();

	X509_set_version(c, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), from_s);
	X509_gmtime_adj(X509_getm_notAfter(c), to_s);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	if (serial_attr)
		X509_NAME_add_entry_by_txt(nm, "serialNumber", MBSTRING_ASC,
				(const unsigned char *)serial_attr, -1, -1, 0);
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

static void mkcrl(X509 *ca, EVP_PKEY *key, long revoked, const char *path)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	FILE *f;

	X509_CRL_set_version(crl, X509_CRL_VERSION_2);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_gmtime_adj(t, -60);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 3600);
	X509_CRL_set1_nextUpdate(crl, t);
	if (revoked) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();

		ASN1_INTEGER_set(s, revoked);
		X509_REVOKED_set_serialNumber(r, s);
		X509_gmtime_adj(t, -30);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	assert_non_null(f = fopen(path, "w"));
	PEM_write_X509_CRL(f, crl);
	fclose(f);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
}

static void write_certs(const char *path, X509 *a, X509 *b)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	PEM_write_X509(f, a);
	if (b)
		PEM_write_X509(f, b);
	fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

/* ---- fixture ---- */

struct side {
	struct ch_tls t;
	int hs, hs_status;
	char in[2 * 1024 * 1024];
	size_t nin;
	int rd;			/* the first read failure */
	int nio;		/* io() calls */
	int closed;
	const char *why;	/* expired() */
};

struct fx {
	char dir[64];
	char p[32][300];	/* file names, see F_* */
	uv_loop_t loop;
	uv_timer_t guard;
	int guard_fired;
	struct side cli, srv;
	int cfd, sfd;
	struct ch_tls_ctx *cctx, *sctx;
};

enum {
	F_MROOT, F_MINTER, F_DEV, F_DEVKEY, F_DEVEXP, F_DEVREV, F_OROOT,
	F_HUB, F_HUBKEY, F_ROGUE, F_CRL_ROOT, F_CRL_INTER, F_BAD, F_MCHAIN,
};

static struct fx *F;

static int setup(void **state)
{
	static const char *names[] = {
		"mroot.pem", "minter.pem", "dev.pem", "dev.key", "devexp.pem",
		"devrev.pem", "oroot.pem", "hub.pem", "hub.key", "rogue.pem",
		"crl-root.pem", "crl-inter.pem", "bad.pem", "mchain.pem",
	};
	struct fx *f = calloc(1, sizeof(*f));
	EVP_PKEY *km = tp_key(), *ki = tp_key(), *kd = tp_key(), *ko = tp_key();
	EVP_PKEY *kh = tp_key(), *kr = tp_key();
	X509 *mroot, *minter, *c, *oroot, *rroot;
	FILE *fp;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_tls.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		snprintf(f->p[i], sizeof(f->p[i]), "%s/%s", f->dir, names[i]);
	mroot = mkcert(km, "Manufacturer Root", NULL, NULL, NULL, 1, -60,
		       86400, 1);
	minter = mkcert(ki, "Manufacturer Devices", NULL, mroot, km, 1, -60,
			86400, 2);
	write_certs(f->p[F_MROOT], mroot, NULL);
	write_certs(f->p[F_MINTER], minter, NULL);
	write_certs(f->p[F_MCHAIN], minter, mroot);
	write_key(f->p[F_DEVKEY], kd);
	c = mkcert(kd, "dev1", "SN-0001", minter, ki, 0, -60, 3600, 10);
	write_certs(f->p[F_DEV], c, NULL);
	X509_free(c);
	c = mkcert(kd, "dev2", "SN-0002", minter, ki, 0, -7200, -3600, 11);
	write_certs(f->p[F_DEVEXP], c, NULL);
	X509_free(c);
	c = mkcert(kd, "dev3", "SN-0003", minter, ki, 0, -60, 3600, 66);
	write_certs(f->p[F_DEVREV], c, NULL);
	X509_free(c);
	mkcrl(mroot, km, 0, f->p[F_CRL_ROOT]);
	mkcrl(minter, ki, 66, f->p[F_CRL_INTER]);
	oroot = mkcert(ko, "Operator Root", NULL, NULL, NULL, 1, -60, 86400, 3);
	write_certs(f->p[F_OROOT], oroot, NULL);
	c = mkcert(kh, "hub", NULL, oroot, ko, 0, -60, 3600, 20);
	write_certs(f->p[F_HUB], c, NULL);
	write_key(f->p[F_HUBKEY], kh);
	X509_free(c);
	rroot = mkcert(kr, "Rogue Root", NULL, NULL, NULL, 1, -60, 86400, 4);
	c = mkcert(kd, "dev9", "SN-0009", rroot, kr, 0, -60, 3600, 30);
	write_certs(f->p[F_ROGUE], c, NULL);
	X509_free(c);
	assert_non_null(fp = fopen(f->p[F_BAD], "w"));
	fputs("not a PEM file\n", fp);
	fclose(fp);
	X509_free(mroot);
	X509_free(minter);
	X509_free(oroot);
	X509_free(rroot);
	EVP_PKEY_free(km);
	EVP_PKEY_free(ki);
	EVP_PKEY_free(kd);
	EVP_PKEY_free(ko);
	EVP_PKEY_free(kh);
	EVP_PKEY_free(kr);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void on_guard(uv_timer_t *t)
{
	((struct fx *)t->data)->guard_fired = 1;
}

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
}

/* A fresh loop and socket pair per test. */
static int each_setup(void **state)
{
	struct fx *f = *state;

	memset(&f->cli, 0, sizeof(f->cli));
	memset(&f->srv, 0, sizeof(f->srv));
	f->cctx = f->sctx = NULL;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->guard);
	f->guard.data = f;
	tcp_pair(&f->cfd, &f->sfd);
	F = f;
	return 0;
}

static int each_teardown(void **state)
{
	struct fx *f = *state;

	uv_close((uv_handle_t *)&f->guard, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	ch_tls_ctx_free(f->cctx);
	ch_tls_ctx_free(f->sctx);
	return 0;
}

#define RUN_UNTIL(f, cond) do { \
	(f)->guard_fired = 0; \
	uv_timer_start(&(f)->guard, on_guard, 10000, 0); \
	while (!(cond) && !(f)->guard_fired) \
		uv_run(&(f)->loop, UV_RUN_ONCE); \
	uv_timer_stop(&(f)->guard); \
	assert_false((f)->guard_fired); \
} while (0)

static void s_handshake(struct ch_tls *t, int status)
{
	struct side *s = t->data;

	assert_int_equal(s->hs, 0);	/* once */
	s->hs = 1;
	s->hs_status = status;
}

static void s_io(struct ch_tls *t)
{
	struct side *s = t->data;
	size_t n;
	int r;

	assert_int_equal(s->hs_status, CH_OK);
	s->nio++;
	while (s->rd == 0) {
		r = ch_tls_read(t, s->in + s->nin, sizeof(s->in) - s->nin, &n);
		if (r == CH_ERR_AGAIN)
			break;
		if (r != CH_OK) {
			s->rd = r;
			break;
		}
		s->nin += n;
	}
}

static void s_expired(struct ch_tls *t, const char *why)
{
	((struct side *)t->data)->why = why;
}

static void s_closed(struct ch_tls *t)
{
	((struct side *)t->data)->closed = 1;
}

static const struct ch_tls_cb side_cb = {
	.handshake = s_handshake,
	.io = s_io,
	.expired = s_expired,
	.closed = s_closed,
};

static const char *mfg_cas[] = { NULL };
static const char *op_cas[] = { NULL };

/* The device (server) with cert_idx, trusting the operator CA; the hub
 * (client) trusting the manufacturer root, with optional CRLs. */
static void make_ctxs(struct fx *f, int dev_cert, int chain,
		      const char *const *crls, size_t ncrls,
		      enum ch_tls_verify_mode cverify)
{
	struct ch_tls_ctx_opts so = {
		.cert_file = f->p[dev_cert], .key_file = f->p[F_DEVKEY],
		.chain_file = chain ? f->p[F_MINTER] : NULL,
		.ca_files = op_cas, .nca_files = 1,
	};
	struct ch_tls_ctx_opts co = {
		.cert_file = f->p[F_HUB], .key_file = f->p[F_HUBKEY],
		.ca_files = mfg_cas, .nca_files = 1,
		.crl_files = crls, .ncrl_files = ncrls, .verify = cverify,
	};

	op_cas[0] = f->p[F_OROOT];
	mfg_cas[0] = f->p[F_MROOT];
	assert_int_equal(ch_tls_server_ctx_new(&so, &f->sctx), CH_OK);
	assert_int_equal(ch_tls_client_ctx_new(&co, &f->cctx), CH_OK);
	assert_int_equal(ch_tls_ctx_role(f->sctx), CH_TLS_SERVER);
	assert_int_equal(ch_tls_ctx_role(f->cctx), CH_TLS_CLIENT);
}

static void start_both(struct fx *f)
{
	assert_int_equal(ch_tls_start(&f->srv.t, &f->loop, f->sctx, f->sfd,
				      &side_cb, &f->srv), CH_OK);
	assert_int_equal(ch_tls_start(&f->cli.t, &f->loop, f->cctx, f->cfd,
				      &side_cb, &f->cli), CH_OK);
	/* nothing is called back from inside start */
	assert_int_equal(f->srv.hs + f->cli.hs, 0);
	RUN_UNTIL(f, f->srv.hs && f->cli.hs);
}

static void close_both(struct fx *f)
{
	ch_tls_close(&f->cli.t);
	ch_tls_close(&f->srv.t);
	RUN_UNTIL(f, f->cli.closed && f->srv.closed);
}

/* ---- tests ---- */

static void test_ctx_errors(void **state)
{
	struct fx *f = *state;
	struct ch_tls_ctx *c = (struct ch_tls_ctx *)1;
	const char *cas[] = { f->p[F_OROOT] }, *bad[] = { f->p[F_BAD] };
	struct ch_tls_ctx_opts o = {
		.cert_file = f->p[F_DEV], .key_file = f->p[F_DEVKEY],
		.ca_files = cas, .nca_files = 1,
	};

	assert_int_equal(ch_tls_server_ctx_new(&o, &c), CH_OK);
	ch_tls_ctx_free(c);
	o.cert_file = "/nonexistent/dev.pem";
	assert_int_equal(ch_tls_server_ctx_new(&o, &c), CH_ERR_TLS);
	assert_null(c);
	o.cert_file = f->p[F_DEV];
	o.key_file = f->p[F_HUBKEY];		/* not dev's key */
	assert_int_equal(ch_tls_server_ctx_new(&o, &c), CH_ERR_TLS);
	o.key_file = f->p[F_BAD];
	assert_int_equal(ch_tls_client_ctx_new(&o, &c), CH_ERR_TLS);
	o.key_file = f->p[F_DEVKEY];
	o.chain_file = f->p[F_BAD];
	assert_int_equal(ch_tls_server_ctx_new(&o, &c), CH_ERR_TLS);
	o.chain_file = NULL;
	o.ca_files = bad;
	assert_int_equal(ch_tls_server_ctx_new(&o, &c), CH_ERR_TLS);
	o.ca_files = cas;
	o.crl_files = bad;
	o.ncrl_files = 1;
	assert_int_equal(ch_tls_client_ctx_new(&o, &c), CH_ERR_TLS);
	o.ncrl_files = 0;
	o.nca_files = 0;			/* REQUIRE needs a CA */
	assert_int_equal(ch_tls_client_ctx_new(&o, &c), CH_ERR_INVAL);
	o.verify = CH_TLS_VERIFY_REPORT;
	assert_int_equal(ch_tls_client_ctx_new(&o, &c), CH_OK);
	ch_tls_ctx_free(c);
	o.key_file = NULL;
	assert_int_equal(ch_tls_client_ctx_new(&o, &c), CH_ERR_INVAL);
	o.key_file = f->p[F_DEVKEY];
	o.nca_files = CH_TLS_MAX_FILES + 1;
	assert_int_equal(ch_tls_client_ctx_new(&o, &c), CH_ERR_INVAL);
	assert_null(c);
	assert_int_equal(ERR_peek_error(), 0);	/* the queue was drained */
	close(f->cfd);
	close(f->sfd);
}

static void test_session(void **state)
{
	struct fx *f = *state;
	static char big[1024 * 1024 + 7];
	char serial[CH_SERIAL_MAX + 1];
	const char *reason = "x";
	int depth = 5;
	X509 *hub;
	FILE *fp;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	start_both(f);
	assert_int_equal(f->srv.hs_status, CH_OK);
	assert_int_equal(f->cli.hs_status, CH_OK);
	assert_string_equal(ch_tls_version(&f->cli.t), "TLSv1.3");
	assert_string_equal(ch_tls_version(&f->srv.t), "TLSv1.3");
	assert_true(strlen(ch_tls_cipher(&f->cli.t)) > 0);
	assert_string_equal(ch_tls_cipher(&f->cli.t), ch_tls_cipher(&f->srv.t));
	assert_int_equal(ch_tls_verify_result(&f->cli.t, &depth, &reason),
			 X509_V_OK);
	assert_int_equal(depth, -1);
	assert_string_equal(reason, "");
	assert_string_equal(ch_tls_error(&f->cli.t), "");

	/* the device sent its full chain: leaf and intermediate */
	assert_int_equal(sk_X509_num(ch_tls_peer_chain(&f->cli.t)), 2);
	assert_int_equal(X509_cmp(sk_X509_value(ch_tls_peer_chain(&f->cli.t),
						0), ch_tls_peer_cert(&f->cli.t)),
			 0);
	assert_int_equal(sk_X509_num(ch_tls_verified_chain(&f->cli.t)), 3);
	assert_int_equal(ch_cert_serial_number(ch_tls_peer_cert(&f->cli.t),
					       serial, sizeof(serial)), CH_OK);
	assert_string_equal(serial, "SN-0001");
	/* the hub's certificate as the device sees it (leaf first too) */
	assert_non_null(fp = fopen(f->p[F_HUB], "r"));
	hub = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_int_equal(X509_cmp(ch_tls_peer_cert(&f->srv.t), hub), 0);
	assert_int_equal(sk_X509_num(ch_tls_peer_chain(&f->srv.t)), 1);
	assert_int_equal(sk_X509_num(ch_tls_verified_chain(&f->srv.t)), 2);
	X509_free(hub);

	/* both directions; a megabyte goes through the queue */
	assert_int_equal(ch_tls_write(&f->cli.t, "hello", 5), CH_OK);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(ch_tls_write(&f->srv.t, big, sizeof(big)), CH_OK);
	RUN_UNTIL(f, f->srv.nin == 5 && f->cli.nin == sizeof(big) &&
		  ch_tls_pending(&f->srv.t) == 0);
	assert_memory_equal(f->srv.in, "hello", 5);
	assert_memory_equal(f->cli.in, big, sizeof(big));
	assert_int_equal(ch_tls_write(&f->srv.t, big, CH_TLS_OUT_MAX + 1),
			 CH_ERR_LIMIT);

	/* close_notify from the device ends the hub's reads */
	ch_tls_close(&f->srv.t);
	assert_int_equal(ch_tls_write(&f->srv.t, "x", 1), CH_ERR_INVAL);
	RUN_UNTIL(f, f->cli.rd != 0 && f->srv.closed);
	assert_int_equal(f->cli.rd, CH_ERR_CLOSED);
	assert_string_equal(ch_tls_error(&f->cli.t),
			    "read: the peer closed the TLS session "
			    "(close_notify)");
	ch_tls_close(&f->cli.t);
	RUN_UNTIL(f, f->cli.closed);
}

static void test_tls12(void **state)
{
	struct fx *f = *state;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	SSL_CTX_set_max_proto_version(ch_tls_ctx_ssl(f->cctx), TLS1_2_VERSION);
	start_both(f);
	assert_int_equal(f->cli.hs_status, CH_OK);
	assert_int_equal(f->srv.hs_status, CH_OK);
	assert_string_equal(ch_tls_version(&f->srv.t), "TLSv1.2");
	assert_int_equal(ch_tls_write(&f->srv.t, "<hello/>", 8), CH_OK);
	RUN_UNTIL(f, f->cli.nin == 8);
	close_both(f);
}

/* The hub refuses the device; returns the hub's verify result. */
static long refused(struct fx *f, int *depth, const char **reason)
{
	start_both(f);
	assert_int_equal(f->cli.hs_status, CH_ERR_TLS);
	assert_int_not_equal(f->srv.hs_status, CH_OK);
	assert_non_null(strstr(ch_tls_error(&f->cli.t),
			       "certificate verify failed"));
	assert_null(ch_tls_verified_chain(&f->cli.t));
	assert_string_equal(ch_tls_version(&f->cli.t), "");
	/* no further I/O may be attempted */
	assert_int_equal(ch_tls_write(&f->cli.t, "x", 1), CH_ERR_TLS);
	return ch_tls_verify_result(&f->cli.t, depth, reason);
}

static void test_expired(void **state)
{
	struct fx *f = *state;
	char serial[CH_SERIAL_MAX + 1], want[300];
	const char *reason;
	int depth;

	make_ctxs(f, F_DEVEXP, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	assert_int_equal(refused(f, &depth, &reason),
			 X509_V_ERR_CERT_HAS_EXPIRED);
	assert_int_equal(depth, 0);
	snprintf(want, sizeof(want), "certificate has expired (depth 0: "
		 "/CN=dev2/serialNumber=SN-0002)");
	assert_string_equal(reason, want);
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_CERT_HAS_EXPIRED),
			    "expired");
	/* the hub still knows who it refused */
	assert_int_equal(ch_cert_serial_number(ch_tls_peer_cert(&f->cli.t),
					       serial, sizeof(serial)), CH_OK);
	assert_string_equal(serial, "SN-0002");
	assert_int_equal(sk_X509_num(ch_tls_peer_chain(&f->cli.t)), 2);
	/* the device learnt it from the alert */
	assert_non_null(strstr(ch_tls_error(&f->srv.t), "certificate expired"));
	close_both(f);
}

static void test_untrusted(void **state)
{
	struct fx *f = *state;
	const char *reason;
	int depth;
	long v;

	make_ctxs(f, F_ROGUE, 0, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	v = refused(f, &depth, &reason);
	assert_int_equal(v, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_string_equal(ch_tls_verify_kind(v), "untrusted");
	assert_string_equal(reason, "unable to get local issuer certificate "
			    "(depth 0: /CN=dev9/serialNumber=SN-0009)");
	close_both(f);
}

static void test_missing_chain(void **state)
{
	struct fx *f = *state;
	int depth;

	/* without the intermediate the hub cannot build the path */
	make_ctxs(f, F_DEV, 0, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	assert_int_equal(refused(f, &depth, NULL),
			 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_int_equal(sk_X509_num(ch_tls_peer_chain(&f->cli.t)), 1);
	close_both(f);
}

static void test_revoked(void **state)
{
	struct fx *f = *state;
	const char *crls[] = { f->p[F_CRL_ROOT], f->p[F_CRL_INTER] };
	const char *reason;
	int depth;

	make_ctxs(f, F_DEVREV, 1, crls, 2, CH_TLS_VERIFY_REQUIRE);
	assert_int_equal(refused(f, &depth, &reason), X509_V_ERR_CERT_REVOKED);
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_CERT_REVOKED),
			    "revoked");
	assert_int_equal(depth, 0);
	close_both(f);
}

static void test_crl_ok_and_missing(void **state)
{
	struct fx *f = *state;
	const char *both[] = { f->p[F_CRL_ROOT], f->p[F_CRL_INTER] };

	/* a certificate not on the CRL passes */
	make_ctxs(f, F_DEV, 1, both, 2, CH_TLS_VERIFY_REQUIRE);
	start_both(f);
	assert_int_equal(f->cli.hs_status, CH_OK);
	close_both(f);
}

static void test_crl_missing(void **state)
{
	struct fx *f = *state;
	const char *one[] = { f->p[F_CRL_INTER] };
	int depth;
	long v;

	/* CRL_CHECK_ALL: the root's CRL is missing */
	make_ctxs(f, F_DEV, 1, one, 1, CH_TLS_VERIFY_REQUIRE);
	v = refused(f, &depth, NULL);
	assert_int_equal(v, X509_V_ERR_UNABLE_TO_GET_CRL);
	assert_int_equal(depth, 1);
	assert_string_equal(ch_tls_verify_kind(v), "crl");
	close_both(f);
}

static void test_report_mode(void **state)
{
	struct fx *f = *state;

	make_ctxs(f, F_ROGUE, 0, NULL, 0, CH_TLS_VERIFY_REPORT);
	start_both(f);
	assert_int_equal(f->cli.hs_status, CH_OK);
	assert_int_equal(f->srv.hs_status, CH_OK);
	assert_int_equal(ch_tls_verify_result(&f->cli.t, NULL, NULL),
			 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_null(ch_tls_verified_chain(&f->cli.t));
	assert_non_null(ch_tls_peer_cert(&f->cli.t));
	assert_int_equal(ch_tls_verify_result(&f->srv.t, NULL, NULL),
			 X509_V_OK);
	close_both(f);
}

static void test_device_refuses_hub(void **state)
{
	struct fx *f = *state;
	const char *cas[] = { f->p[F_MROOT] };
	struct ch_tls_ctx_opts so = {
		.cert_file = f->p[F_DEV], .key_file = f->p[F_DEVKEY],
		.chain_file = f->p[F_MINTER], .ca_files = cas, .nca_files = 1,
	};
	const char *reason;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	ch_tls_ctx_free(f->sctx);
	/* the device trusts only the manufacturer, not the operator CA */
	assert_int_equal(ch_tls_server_ctx_new(&so, &f->sctx), CH_OK);
	start_both(f);
	assert_int_equal(f->srv.hs_status, CH_ERR_TLS);
	assert_int_equal(ch_tls_verify_result(&f->srv.t, NULL, &reason),
			 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	assert_string_equal(reason, "unable to get local issuer certificate "
			    "(depth 0: /CN=hub)");
	/* A TLS 1.3 client is done before the server checked its
	 * certificate: it learns of the refusal from the alert. */
	assert_int_equal(f->cli.hs_status, CH_OK);
	RUN_UNTIL(f, f->cli.rd != 0);
	assert_int_equal(f->cli.rd, CH_ERR_TLS);
	assert_non_null(strstr(ch_tls_error(&f->cli.t), "unknown ca"));
	close_both(f);
}

/* The hub's context holds a certificate: drop it when the device asks. */
static int no_cert_cb(SSL *ssl, void *arg)
{
	(void)arg;
	SSL_certs_clear(ssl);
	return 1;
}

static void test_hub_sends_no_cert(void **state)
{
	struct fx *f = *state;
	const char *reason;
	long v;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	SSL_CTX_set_cert_cb(ch_tls_ctx_ssl(f->cctx), no_cert_cb, NULL);
	start_both(f);
	assert_int_equal(f->srv.hs_status, CH_ERR_TLS);
	v = ch_tls_verify_result(&f->srv.t, NULL, &reason);
	assert_int_equal(v, CH_TLS_VERIFY_NO_CERT);
	assert_string_equal(ch_tls_verify_kind(v), "no-cert");
	assert_string_equal(reason, "the peer sent no certificate");
	assert_string_equal(ch_tls_error(&f->srv.t), "TLS handshake: peer did "
			    "not return a certificate: the peer sent no "
			    "certificate");
	assert_null(ch_tls_peer_cert(&f->srv.t));
	assert_null(ch_tls_peer_chain(&f->srv.t));
	if (f->cli.hs_status == CH_OK)	/* TLS 1.3: told by an alert */
		RUN_UNTIL(f, f->cli.rd != 0);
	close_both(f);
}

static void test_old_tls_refused(void **state)
{
	struct fx *f = *state;
	SSL_CTX *c;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	c = ch_tls_ctx_ssl(f->cctx);
	SSL_CTX_set_security_level(c, 0);
	SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
	SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION);
	start_both(f);
	assert_int_equal(f->srv.hs_status, CH_ERR_TLS);
	assert_non_null(strstr(ch_tls_error(&f->srv.t), "unsupported protocol"));
	assert_int_equal(ch_tls_verify_result(&f->srv.t, NULL, NULL), X509_V_OK);
	assert_null(ch_tls_peer_cert(&f->srv.t));
	assert_int_not_equal(f->cli.hs_status, CH_OK);
	close_both(f);
}

static void test_deadline_and_eof(void **state)
{
	struct fx *f = *state;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	/* a manager that never speaks: the stage deadline fires */
	assert_int_equal(ch_tls_start(&f->srv.t, &f->loop, f->sctx, f->sfd,
				      &side_cb, &f->srv), CH_OK);
	ch_tls_deadline(&f->srv.t, 50, "no TLS handshake in time");
	RUN_UNTIL(f, f->srv.why != NULL);
	assert_string_equal(f->srv.why, "no TLS handshake in time");
	assert_int_equal(f->srv.hs, 0);
	/* then it hangs up: the handshake ends as closed */
	close(f->cfd);
	RUN_UNTIL(f, f->srv.hs);
	assert_int_equal(f->srv.hs_status, CH_ERR_CLOSED);
	assert_non_null(strstr(ch_tls_error(&f->srv.t),
			       "connection closed by the peer"));
	ch_tls_close(&f->srv.t);
	RUN_UNTIL(f, f->srv.closed);
}

static void test_eof_after_handshake(void **state)
{
	struct fx *f = *state;
	char buf[16];
	size_t n = 9;
	int nio;

	make_ctxs(f, F_DEV, 1, NULL, 0, CH_TLS_VERIFY_REQUIRE);
	start_both(f);
	assert_int_equal(f->srv.hs_status, CH_OK);
	shutdown(f->cli.t.fd, SHUT_RDWR);	/* no close_notify */
	RUN_UNTIL(f, f->srv.rd != 0);
	assert_int_equal(f->srv.rd, CH_ERR_CLOSED);
	assert_non_null(strstr(ch_tls_error(&f->srv.t),
			       "connection closed by the peer"));
	/* The owner knows and has not closed yet: the fd at EOF must not
	 * wake it again and again; reads and writes keep failing. */
	nio = f->srv.nio;
	uv_timer_start(&f->guard, on_guard, 100, 0);
	f->guard_fired = 0;
	while (!f->guard_fired)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->srv.nio, nio);
	assert_int_equal(ch_tls_read(&f->srv.t, buf, sizeof(buf), &n),
			 CH_ERR_CLOSED);
	assert_int_equal(n, 0);
	close_both(f);
}

static int getopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &l), 0);
	return v;
}

static void test_keepalive(void **state)
{
	struct fx *f = *state;
	int sp[2];

	assert_int_equal(ch_tls_tcp_keepalive(f->cfd, 5000, 3), CH_OK);
	assert_int_equal(getopt_int(f->cfd, SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_KEEPIDLE), 5);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_KEEPINTVL), 5);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_KEEPCNT), 3);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT),
			 20000);
	/* below a second rounds up to one */
	assert_int_equal(ch_tls_tcp_keepalive(f->cfd, 10, 2), CH_OK);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_KEEPIDLE), 1);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT),
			 3000);
	assert_int_equal(ch_tls_tcp_keepalive(f->cfd, 0, 0), CH_OK);
	assert_int_equal(getopt_int(f->cfd, SOL_SOCKET, SO_KEEPALIVE), 0);
	assert_int_equal(getopt_int(f->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	/* not TCP */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(ch_tls_tcp_keepalive(sp[0], 5000, 3), CH_ERR_IO);
	close(sp[0]);
	close(sp[1]);
	close(f->cfd);
	close(f->sfd);
}

static void test_verify_kind(void **state)
{
	(void)state;
	assert_string_equal(ch_tls_verify_kind(X509_V_OK), "ok");
	assert_string_equal(ch_tls_verify_kind(CH_TLS_VERIFY_NO_CERT),
			    "no-cert");
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_CERT_NOT_YET_VALID),
			    "not-yet-valid");
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_CRL_HAS_EXPIRED),
			    "crl");
	assert_string_equal(ch_tls_verify_kind(
			X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT), "untrusted");
	assert_string_equal(ch_tls_verify_kind(
			X509_V_ERR_CERT_SIGNATURE_FAILURE), "bad-signature");
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_INVALID_PURPOSE),
			    "purpose");
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_CERT_CHAIN_TOO_LONG),
			    "depth");
	assert_string_equal(ch_tls_verify_kind(X509_V_ERR_INVALID_CA),
			    "invalid");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, each_setup, each_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ctx_errors),
		T(test_session),
		T(test_tls12),
		T(test_expired),
		T(test_untrusted),
		T(test_missing_chain),
		T(test_revoked),
		T(test_crl_ok_and_missing),
		T(test_crl_missing),
		T(test_report_mode),
		T(test_device_refuses_hub),
		T(test_hub_sends_no_cert),
		T(test_old_tls_refused),
		T(test_deadline_and_eof),
		T(test_eof_after_handshake),
		T(test_keepalive),
		T(test_verify_kind),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
