/* tls.c - OpenSSL 3 contexts and non-blocking sessions on a libuv loop
 * (see tls.h for the policy).
 */
#include "lib/xport/tls.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

struct ch_tls_ctx {
	SSL_CTX *ssl;
	enum ch_tls_role role;
	enum ch_tls_verify_mode verify;
};

/* Appends OpenSSL's error queue (reasons, and the data OpenSSL attached,
 * such as the file it tried to open) to out, emptying the queue. */
static void drain_errors(char *out, size_t len)
{
	size_t start = strlen(out), used = start;
	unsigned long e;
	const char *data;
	size_t rl;
	int flags, n = 0;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char tmp[256];
		int w;

		if (ERR_SYSTEM_ERROR(e)) {
			reason = strerror(ERR_GET_REASON(e));
		} else if (reason == NULL) {
			ERR_error_string_n(e, tmp, sizeof(tmp));
			reason = tmp;
		}
		/* "PEM lib", "system lib": wrappers that add nothing to the
		 * first reason. */
		rl = strlen(reason);
		if (used > start && rl >= 4 &&
		    strcmp(reason + rl - 4, " lib") == 0)
			continue;
		if (n++ >= 4 || used + 1 >= len)
			continue;	/* keep draining, stop writing */
		w = snprintf(out + used, len - used, "%s%s%s%s%s",
			     used > start ? "; " : "", reason,
			     (flags & ERR_TXT_STRING) && data && *data
			     ? " (" : "",
			     (flags & ERR_TXT_STRING) && data ? data : "",
			     (flags & ERR_TXT_STRING) && data && *data
			     ? ")" : "");
		if (w > 0)
			used += (size_t)w < len - used ? (size_t)w : len - used - 1;
	}
	if (used == start && start + 1 < len)
		snprintf(out + start, len - start, "unknown OpenSSL error");
}

/* Logs "what path: <OpenSSL's reasons>" and returns CH_ERR_TLS. */
static int load_error(const char *what, const char *path)
{
	char msg[CH_TLS_ERR_LEN] = "";

	drain_errors(msg, sizeof(msg));
	ch_error("TLS: %s%s%s: %s", what, path ? " " : "", path ? path : "",
		 msg);
	return CH_ERR_TLS;
}

/* Encrypted keys are refused instead of prompting on a terminal. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return 0;
}

static void set_sent_chain(struct ch_tls *t, X509_STORE_CTX *x, X509 *leaf)
{
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(x);
	STACK_OF(X509) *sk;

	if ((sk = sk_X509_new_null()) == NULL)
		return;
	if (!sk_X509_push(sk, leaf)) {
		sk_X509_free(sk);
		return;
	}
	X509_up_ref(leaf);
	for (int i = 0; sent && i < sk_X509_num(sent); i++) {
		X509 *c = sk_X509_value(sent, i);

		if (X509_cmp(c, leaf) == 0)	/* the client's copy has it */
			continue;
		if (!sk_X509_push(sk, c))
			break;
		X509_up_ref(c);
	}
	t->sent_chain = sk;
}

/* Called by OpenSSL for every certificate of the peer's chain. Keeps the
 * leaf, the chain as sent and the first failure; in REPORT mode lets the
 * handshake go on whatever the result. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x,
				SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ch_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;

	if (t == NULL)
		return ok;
	if (t->vleaf == NULL) {
		X509 *leaf = X509_STORE_CTX_get0_cert(x);

		if (leaf && X509_up_ref(leaf)) {
			t->vleaf = leaf;
			set_sent_chain(t, x, leaf);
		}
	}
	if (!ok && t->verr == X509_V_OK) {
		X509 *bad = X509_STORE_CTX_get_current_cert(x);
		int err = X509_STORE_CTX_get_error(x);

		t->verr = err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err;
		t->vdepth = X509_STORE_CTX_get_error_depth(x);
		t->vsubject[0] = '\0';
		if (bad)
			X509_NAME_oneline(X509_get_subject_name(bad),
					  t->vsubject, sizeof(t->vsubject));
		snprintf(t->vreason, sizeof(t->vreason), "%s (depth %d: %s)",
			 X509_verify_cert_error_string(t->verr), t->vdepth,
			 t->vsubject[0] ? t->vsubject : "?");
	}
	return t->verify == CH_TLS_VERIFY_REPORT ? 1 : ok;
}

static int load_chain_file(SSL_CTX *s, const char *path)
{
	BIO *bio;
	X509 *c;
	int n = 0, r = CH_OK;

	if ((bio = BIO_new_file(path, "r")) == NULL)
		return load_error("cannot read chain file", path);
	while ((c = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
		if (!SSL_CTX_add0_chain_cert(s, c)) {	/* takes c on success */
			X509_free(c);
			r = load_error("cannot use chain file", path);
			goto out;
		}
		n++;
	}
	/* The loop ends on "no start line" at the end of the file: expected
	 * once at least one certificate was read. */
	if (n == 0) {
		r = load_error("no certificate in chain file", path);
		goto out;
	}
	ERR_clear_error();
out:
	BIO_free(bio);
	return r;
}

static void warn_validity(SSL_CTX *s, const char *path)
{
	X509 *leaf = SSL_CTX_get0_certificate(s);

	if (leaf == NULL)
		return;
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
		ch_warn("certificate %s has expired: peers will refuse it",
			path);
	else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
		ch_warn("certificate %s is not valid yet: peers will refuse it",
			path);
}

static int load_cas(SSL_CTX *s, enum ch_tls_role role,
		    const struct ch_tls_ctx_opts *o)
{
	STACK_OF(X509_NAME) *names = NULL;

	if (role == CH_TLS_SERVER &&
	    (names = sk_X509_NAME_new_null()) == NULL)
		return CH_ERR_NOMEM;
	for (size_t i = 0; i < o->nca_files; i++) {
		if (!SSL_CTX_load_verify_file(s, o->ca_files[i])) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			return load_error("cannot load CA file",
					  o->ca_files[i]);
		}
		/* The CertificateRequest names the acceptable issuers, which
		 * helps a client that holds several certificates. */
		if (names && !SSL_add_file_cert_subjects_to_stack(names,
							o->ca_files[i]))
			ERR_clear_error();
	}
	if (names)
		SSL_CTX_set_client_CA_list(s, names);	/* takes names */
	return CH_OK;
}

static int load_crls(SSL_CTX *s, const struct ch_tls_ctx_opts *o)
{
	X509_STORE *st = SSL_CTX_get_cert_store(s);
	X509_LOOKUP *lu;

	if (o->ncrl_files == 0)
		return CH_OK;
	if ((lu = X509_STORE_add_lookup(st, X509_LOOKUP_file())) == NULL)
		return CH_ERR_NOMEM;
	for (size_t i = 0; i < o->ncrl_files; i++)
		if (X509_load_crl_file(lu, o->crl_files[i],
				       X509_FILETYPE_PEM) <= 0)
			return load_error("cannot load CRL file",
					  o->crl_files[i]);
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK |
			     X509_V_FLAG_CRL_CHECK_ALL);
	return CH_OK;
}

static int ctx_new(enum ch_tls_role role, const struct ch_tls_ctx_opts *o,
		   struct ch_tls_ctx **out)
{
	struct ch_tls_ctx *c = NULL;
	SSL_CTX *s = NULL;
	int r;

	*out = NULL;
	if (o == NULL || o->cert_file == NULL || o->key_file == NULL) {
		ch_error("TLS: a certificate and a private key are required");
		return CH_ERR_INVAL;
	}
	if (o->nca_files > CH_TLS_MAX_FILES || o->ncrl_files > CH_TLS_MAX_FILES) {
		ch_error("TLS: at most %d CA files and %d CRL files",
			 CH_TLS_MAX_FILES, CH_TLS_MAX_FILES);
		return CH_ERR_INVAL;
	}
	if (o->verify == CH_TLS_VERIFY_REQUIRE && o->nca_files == 0) {
		ch_error("TLS: no CA file to verify the peer's certificate");
		return CH_ERR_INVAL;
	}
	ERR_clear_error();
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = CH_ERR_NOMEM;
		goto out;
	}
	c->role = role;
	c->verify = o->verify;
	s = SSL_CTX_new(role == CH_TLS_SERVER ? TLS_server_method()
					      : TLS_client_method());
	if (s == NULL) {
		r = load_error("cannot create a context", NULL);
		goto out;
	}
	if (!SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION)) {
		r = load_error("cannot set the TLS 1.2 minimum", NULL);
		goto out;
	}
	SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
			    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* No 0-RTT, no resumption: every connection verifies its peer. */
	SSL_CTX_set_max_early_data(s, 0);
	SSL_CTX_set_recv_max_early_data(s, 0);
	SSL_CTX_set_num_tickets(s, 0);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	/* Partial writes and a queue that may move (ch_buf reallocates);
	 * idle sessions give their record buffers back; the chain sent is
	 * exactly the configured one. */
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_default_passwd_cb(s, no_passphrase);
	if (!SSL_CTX_use_certificate_chain_file(s, o->cert_file)) {
		r = load_error("cannot load certificate", o->cert_file);
		goto out;
	}
	if (o->chain_file && (r = load_chain_file(s, o->chain_file)) != CH_OK)
		goto out;
	if (!SSL_CTX_use_PrivateKey_file(s, o->key_file, SSL_FILETYPE_PEM)) {
		r = load_error("cannot use private key (PEM, "
			       "unencrypted)", o->key_file);
		goto out;
	}
	if (!SSL_CTX_check_private_key(s)) {
		r = load_error("certificate and private key do not "
			       "match:", o->key_file);
		goto out;
	}
	warn_validity(s, o->cert_file);
	if ((r = load_cas(s, role, o)) != CH_OK ||
	    (r = load_crls(s, o)) != CH_OK)
		goto out;
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   verify_cb);
	SSL_CTX_set_verify_depth(s, CH_TLS_VERIFY_DEPTH);
	c->ssl = s;
	s = NULL;	/* transferred */
	*out = c;
	c = NULL;
	r = CH_OK;
out:
	SSL_CTX_free(s);
	free(c);
	ERR_clear_error();
	return r;
}

int ch_tls_server_ctx_new(const struct ch_tls_ctx_opts *o,
			  struct ch_tls_ctx **out)
{
	return ctx_new(CH_TLS_SERVER, o, out);
}

int ch_tls_client_ctx_new(const struct ch_tls_ctx_opts *o,
			  struct ch_tls_ctx **out)
{
	return ctx_new(CH_TLS_CLIENT, o, out);
}

void ch_tls_ctx_free(struct ch_tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

SSL_CTX *ch_tls_ctx_ssl(struct ch_tls_ctx *ctx)
{
	return ctx->ssl;
}

enum ch_tls_role ch_tls_ctx_role(const struct ch_tls_ctx *ctx)
{
	return ctx->role;
}

/* ---- sessions ---- */

static void on_poll(uv_poll_t *p, int status, int events);

/* No more I/O possible on this session. */
static int dead(const struct ch_tls *t)
{
	return t->fatal || t->rd_err || t->wr_err;
}

static void rearm(struct ch_tls *t)
{
	int want = UV_READABLE;

	if (t->closing)
		return;
	if ((t->hs_done && !t->hs_ok) || (dead(t) && t->dead_told)) {
		/* Nothing more can come, and the owner knows: stop, or an fd
		 * at EOF would wake us until the owner closes. */
		if (t->events) {
			uv_poll_stop(&t->poll);
			t->events = 0;
		}
		return;
	}
	/* Paused: the peer's bytes wait in the kernel (a write that waits
	 * for input, or a failure to report, still needs the fd). */
	if (t->rd_paused && t->hs_ok && !t->wr_wants_read && !dead(t))
		want = 0;
	/* A failure the owner has not seen (a write outside our callbacks
	 * whose error it may have dropped): a dead fd polls ready at once,
	 * and io() then lets the owner read the error. */
	if (dead(t) || t->want_write ||
	    (t->hs_ok && ch_buf_len(&t->out) && !t->wr_wants_read))
		want |= UV_WRITABLE;	/* not while a write waits to read */
	if (want != t->events) {
		t->events = want;
		if (want)
			uv_poll_start(&t->poll, want, on_poll);
		else
			uv_poll_stop(&t->poll);
	}
}

void ch_tls_pause(struct ch_tls *t, int paused)
{
	t->rd_paused = paused;
	rearm(t);
}

/* Turns a failed SSL call into a code and t->err. saved_errno is errno
 * right after the call. Everything but the peer's close_notify is fatal
 * (no close_notify may follow, RFC 8446 6.2 / OpenSSL's rules). */
static int failure(struct ch_tls *t, int e, int ret, int saved_errno,
		   const char *what)
{
	unsigned long pe = ERR_peek_error();
	int rc = CH_ERR_TLS;

	t->err[0] = '\0';
	t->fatal = 1;
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		t->fatal = 0;
		snprintf(t->err, sizeof(t->err), "%s: the peer closed the TLS "
			 "session (close_notify)", what);
		rc = CH_ERR_CLOSED;
		break;
	case SSL_ERROR_SYSCALL:
		if (pe != 0)
			goto ssl;
		if (ret == 0 || saved_errno == 0)
			snprintf(t->err, sizeof(t->err), "%s: connection closed "
				 "by the peer", what);
		else
			snprintf(t->err, sizeof(t->err), "%s: %s", what,
				 strerror(saved_errno));
		rc = CH_ERR_CLOSED;
		break;
	case SSL_ERROR_SSL:
ssl:
		if (ERR_GET_LIB(pe) == ERR_LIB_SSL &&
		    ERR_GET_REASON(pe) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			snprintf(t->err, sizeof(t->err), "%s: connection closed "
				 "by the peer without close_notify", what);
			rc = CH_ERR_CLOSED;
			break;
		}
		if (ERR_GET_LIB(pe) == ERR_LIB_SSL &&
		    ERR_GET_REASON(pe) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE &&
		    t->verr == X509_V_OK) {
			t->verr = CH_TLS_VERIFY_NO_CERT;
			t->vdepth = -1;
			snprintf(t->vreason, sizeof(t->vreason),
				 "the peer sent no certificate");
		}
		snprintf(t->err, sizeof(t->err), "%s: ", what);
		drain_errors(t->err, sizeof(t->err));
		if (t->verr != X509_V_OK) {
			size_t u = strlen(t->err);

			snprintf(t->err + u, sizeof(t->err) - u, ": %s",
				 t->vreason);
		}
		break;
	default:
		snprintf(t->err, sizeof(t->err), "%s: unexpected OpenSSL "
			 "state %d", what, e);
		break;
	}
	ERR_clear_error();
	return rc;
}

/* Writes as much of p as the session takes; *done says how much. */
static int write_some(struct ch_tls *t, const char *p, size_t len,
		      size_t *done)
{
	*done = 0;
	while (*done < len) {
		size_t n = len - *done;
		int w, e, saved;

		if (n > (size_t)1 << 30)
			n = (size_t)1 << 30;
		ERR_clear_error();
		w = SSL_write(t->ssl, p + *done, (int)n);
		if (w > 0) {
			*done += (size_t)w;
			continue;
		}
		saved = errno;
		e = SSL_get_error(t->ssl, w);
		if (e == SSL_ERROR_WANT_WRITE)
			return CH_OK;	/* the queue keeps the rest */
		if (e == SSL_ERROR_WANT_READ) {
			t->wr_wants_read = 1;
			return CH_OK;
		}
		t->wr_err = failure(t, e, w, saved, "write");
		return t->wr_err;
	}
	return CH_OK;
}

static void flush(struct ch_tls *t)
{
	size_t done;

	if (!t->hs_ok || t->wr_err || t->wr_wants_read ||
	    ch_buf_len(&t->out) == 0)
		return;
	write_some(t, ch_buf_ptr(&t->out), ch_buf_len(&t->out), &done);
	ch_buf_consume(&t->out, done);
}

static void handshake(struct ch_tls *t)
{
	int r, e, saved, status;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->hs_done = t->hs_ok = 1;
		t->want_write = 0;
		t->hs_ns = uv_hrtime() - t->hs_start_ns;
		t->cb->handshake(t, CH_OK);
		if (!t->closing) {
			flush(t);
			t->cb->io(t);	/* data may have come with Finished */
		}
		return;
	}
	saved = errno;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		t->want_write = 0;
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		t->want_write = 1;
		return;
	}
	status = failure(t, e, r, saved, "TLS handshake");
	/* A peer that closes in the middle of a handshake did not agree. */
	t->fatal = 1;
	t->hs_done = 1;
	t->want_write = 0;
	t->hs_ns = uv_hrtime() - t->hs_start_ns;
	t->cb->handshake(t, status);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct ch_tls *t = p->data;

	if (t->closing)
		return;
	if (status < 0 && !t->fatal) {
		/* The fd failed (libuv saw an error, e.g. EBADF): no I/O may
		 * follow, the owner learns it like any failure. */
		t->fatal = 1;
		snprintf(t->err, sizeof(t->err), "socket: %s",
			 uv_strerror(status));
		if (!t->hs_done) {
			t->hs_done = 1;
			t->hs_ns = uv_hrtime() - t->hs_start_ns;
			t->cb->handshake(t, CH_ERR_CLOSED);
		} else {
			t->rd_err = t->wr_err = CH_ERR_CLOSED;
			t->cb->io(t);
		}
		t->dead_told = 1;
		rearm(t);
		return;
	}
	if (events & UV_READABLE)
		t->wr_wants_read = 0;
	if (!t->hs_done) {
		handshake(t);
	} else if (t->hs_ok) {
		flush(t);
		if (!t->closing)
			t->cb->io(t);
	}
	if (dead(t))
		t->dead_told = 1;	/* through handshake() or io() */
	rearm(t);
}

static void on_deadline(uv_timer_t *tm)
{
	struct ch_tls *t = tm->data;

	if (!t->closing)
		t->cb->expired(t, t->deadline_why ? t->deadline_why
						  : "deadline passed");
}

static void on_handle_closed(uv_handle_t *h)
{
	struct ch_tls *t = h->data;

	if (--t->handles > 0)
		return;
	SSL_free(t->ssl);
	t->ssl = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	X509_free(t->vleaf);
	t->vleaf = NULL;
	sk_X509_pop_free(t->sent_chain, X509_free);
	t->sent_chain = NULL;
	ch_buf_cleanup(&t->out);
	t->cb->closed(t);	/* may free t */
}

int ch_tls_start(struct ch_tls *t, uv_loop_t *loop, struct ch_tls_ctx *ctx,
		 int fd, const struct ch_tls_cb *cb, void *data)
{
	int r, fl;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->cb = cb;
	t->data = data;
	t->role = ctx->role;
	t->verify = ctx->verify;
	t->verr = X509_V_OK;
	t->vdepth = -1;
	ch_buf_init(&t->out, CH_TLS_OUT_MAX);
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		ch_log_errno(CH_LOG_ERROR, "TLS: cannot make fd %d "
			     "non-blocking", fd);
		return CH_ERR_IO;
	}
	ERR_clear_error();
	if ((t->ssl = SSL_new(ctx->ssl)) == NULL) {
		char msg[CH_TLS_ERR_LEN] = "";

		drain_errors(msg, sizeof(msg));
		ch_error("TLS: cannot create a session: %s", msg);
		return CH_ERR_NOMEM;
	}
	SSL_set_app_data(t->ssl, t);
	if (!SSL_set_fd(t->ssl, fd)) {	/* the BIO does not close fd */
		char msg[CH_TLS_ERR_LEN] = "";

		drain_errors(msg, sizeof(msg));
		ch_error("TLS: cannot attach fd %d: %s", fd, msg);
		SSL_free(t->ssl);
		t->ssl = NULL;
		return CH_ERR_TLS;
	}
	if (t->role == CH_TLS_SERVER)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	if ((r = uv_poll_init(loop, &t->poll, fd)) != 0) {
		ch_log_uv(CH_LOG_ERROR, r, "TLS: cannot watch fd %d", fd);
		SSL_free(t->ssl);
		t->ssl = NULL;
		return CH_ERR_IO;
	}
	uv_timer_init(loop, &t->deadline);
	t->poll.data = t->deadline.data = t;
	t->handles = 2;
	t->fd = fd;		/* ours from here on */
	t->hs_start_ns = uv_hrtime();
	/* The first tick drives the handshake (a client's hello). */
	t->want_write = 1;
	rearm(t);
	return CH_OK;
}

void ch_tls_deadline(struct ch_tls *t, uint64_t ms, const char *why)
{
	if (t->closing)
		return;
	t->deadline_why = why;
	if (ms)
		uv_timer_start(&t->deadline, on_deadline, ms, 0);
	else
		uv_timer_stop(&t->deadline);
}

int ch_tls_read(struct ch_tls *t, void *buf, size_t cap, size_t *n)
{
	int r, e, saved;

	*n = 0;
	if (t->closing)
		return CH_ERR_CLOSED;
	if (!t->hs_done)
		return CH_ERR_AGAIN;
	if (!t->hs_ok)
		return CH_ERR_TLS;
	if (t->rd_err)
		return t->rd_err;
	if (t->wr_err)
		return t->wr_err;
	if (cap == 0)
		return CH_ERR_AGAIN;
	if (cap > INT_MAX)
		cap = INT_MAX;
	ERR_clear_error();
	r = SSL_read(t->ssl, buf, (int)cap);
	if (r > 0) {
		*n = (size_t)r;
		return CH_OK;
	}
	saved = errno;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		t->want_write = 0;
		return CH_ERR_AGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		t->want_write = 1;
		rearm(t);
		return CH_ERR_AGAIN;
	}
	t->rd_err = failure(t, e, r, saved, "read");
	rearm(t);
	return t->rd_err;
}

int ch_tls_write(struct ch_tls *t, const void *data, size_t len)
{
	size_t done = 0;
	int r;

	if (t->closing)
		return CH_ERR_INVAL;
	if (t->hs_done && !t->hs_ok)
		return CH_ERR_TLS;
	if (t->wr_err)
		return t->wr_err;
	if (len == 0)
		return CH_OK;
	if (len > CH_TLS_OUT_MAX - ch_buf_len(&t->out))
		return CH_ERR_LIMIT;
	/* Order: only write directly when nothing waits in the queue. */
	if (t->hs_ok && !t->wr_wants_read && ch_buf_len(&t->out) == 0 &&
	    (r = write_some(t, data, len, &done)) != CH_OK)
		return r;
	r = ch_buf_put(&t->out, (const char *)data + done, len - done);
	rearm(t);
	return r;
}

void ch_tls_close(struct ch_tls *t)
{
	if (t->closing)
		return;
	if (t->hs_ok && !t->fatal) {
		flush(t);
		/* A close_notify after a truncated queue would look like a
		 * clean end; leave it out then. */
		if (!t->fatal && ch_buf_len(&t->out) == 0) {
			ERR_clear_error();
			SSL_shutdown(t->ssl);	/* once; not waiting for the
						 * peer's close_notify */
			t->shut_sent = 1;
		}
	}
	ERR_clear_error();
	t->closing = 1;
	uv_close((uv_handle_t *)&t->poll, on_handle_closed);
	uv_close((uv_handle_t *)&t->deadline, on_handle_closed);
}

X509 *ch_tls_peer_cert(const struct ch_tls *t)
{
	X509 *c;

	if (t->vleaf)
		return t->vleaf;
	if (t->ssl && (c = SSL_get0_peer_certificate(t->ssl)) != NULL)
		return c;
	return NULL;
}

STACK_OF(X509) *ch_tls_peer_chain(const struct ch_tls *t)
{
	return t->sent_chain;
}

STACK_OF(X509) *ch_tls_verified_chain(const struct ch_tls *t)
{
	if (t->ssl == NULL || !t->hs_ok || t->verr != X509_V_OK)
		return NULL;
	return SSL_get0_verified_chain(t->ssl);
}

long ch_tls_verify_result(const struct ch_tls *t, int *depth,
			  const char **reason)
{
	if (depth)
		*depth = t->vdepth;
	if (reason)
		*reason = t->vreason;
	return t->verr;
}

const char *ch_tls_verify_kind(long verr)
{
	switch (verr) {
	case X509_V_OK:
		return "ok";
	case CH_TLS_VERIFY_NO_CERT:
		return "no-cert";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "not-yet-valid";
	case X509_V_ERR_CERT_REVOKED:
		return "revoked";
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
		return "crl";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return "untrusted";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
		return "bad-signature";
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_CERT_REJECTED:
		return "purpose";
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		return "depth";
	default:
		return "invalid";
	}
}

const char *ch_tls_version(const struct ch_tls *t)
{
	return t->ssl && t->hs_ok ? SSL_get_version(t->ssl) : "";
}

const char *ch_tls_cipher(const struct ch_tls *t)
{
	const char *c;

	if (t->ssl == NULL || !t->hs_ok)
		return "";
	c = SSL_get_cipher_name(t->ssl);
	return c ? c : "";
}

const char *ch_tls_error(const struct ch_tls *t)
{
	return t->err;
}

/* ---- dead-peer detection ---- */

static int set_opt(int fd, int level, int name, int val, const char *what)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) != 0) {
		ch_log_errno(CH_LOG_ERROR, "cannot set %s on fd %d", what,
			     fd);
		return CH_ERR_IO;
	}
	return CH_OK;
}

/* Linux's limits for the keep-alive socket options. */
#define TCP_KA_TIME_MAX 32767	/* TCP_KEEPIDLE, TCP_KEEPINTVL, seconds */
#define TCP_KA_COUNT_MAX 127	/* TCP_KEEPCNT */

static int clamp(uint32_t v, uint32_t max)
{
	return (int)(v == 0 ? 1 : v > max ? max : v);
}

int ch_tcp_keepalive(int fd, uint32_t idle_s, uint32_t interval_s,
		     uint32_t count)
{
	int r;

	if ((r = set_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE,
			 clamp(idle_s, TCP_KA_TIME_MAX), "TCP_KEEPIDLE")) ||
	    (r = set_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL,
			 clamp(interval_s, TCP_KA_TIME_MAX), "TCP_KEEPINTVL")) ||
	    (r = set_opt(fd, IPPROTO_TCP, TCP_KEEPCNT,
			 clamp(count, TCP_KA_COUNT_MAX), "TCP_KEEPCNT")))
		return r;
	return set_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
}

int ch_tls_tcp_keepalive(int fd, uint32_t interval_ms, uint32_t count)
{
	uint64_t secs, user_ms;
	int r;

	if (interval_ms == 0) {
		if ((r = set_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 0,
				 "SO_KEEPALIVE")) != CH_OK)
			return r;
		return set_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 0,
			       "TCP_USER_TIMEOUT");
	}
	if (interval_ms < CH_TLS_KEEPALIVE_MIN_MS)
		interval_ms = CH_TLS_KEEPALIVE_MIN_MS;
	secs = (uint64_t)clamp((interval_ms + 999u) / 1000u, TCP_KA_TIME_MAX);
	count = (uint32_t)clamp(count, TCP_KA_COUNT_MAX);
	user_ms = secs * 1000u * (count + 1u);
	if (user_ms > INT_MAX)
		user_ms = INT_MAX;
	if ((r = ch_tcp_keepalive(fd, (uint32_t)secs, (uint32_t)secs,
				  count)) != CH_OK)
		return r;
	return set_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)user_ms,
		       "TCP_USER_TIMEOUT");
}
