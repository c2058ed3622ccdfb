/* tls.h - one non-blocking TLS session (OpenSSL 3) driven from a libuv
 * loop: the TLS counterpart of sshio.h (style H1, H2).
 *
 * Contexts (ch_tls_ctx) are built from PEM files. Policy, the same for
 * both roles:
 *   - TLS 1.2 minimum (RFC 7589 8), TLS 1.3 allowed and preferred;
 *   - no 0-RTT (max early data 0; draft-ietf-netconf-over-tls13), no
 *     renegotiation, no compression, no session tickets or session cache
 *     (every connection is a full handshake with a fresh peer check);
 *   - ciphers: OpenSSL's default secure lists (and Debian's system
 *     SECLEVEL=2), left alone on purpose: they contain the TLS 1.2 suite
 *     RFC 7589 requires (ECDHE-RSA-AES128-GCM-SHA256) and the TLS 1.3
 *     AES-GCM/ChaCha20 suites, and follow security updates of the
 *     distribution instead of a list frozen here;
 *   - the peer MUST present a certificate, in both roles: the server always
 *     sends a CertificateRequest (RFC 7589 2) and, in the default
 *     CH_TLS_VERIFY_REQUIRE mode, a peer that sends none or whose chain does
 *     not verify (path validation, RFC 5280; CRLs when given) fails the
 *     handshake with the matching TLS alert;
 *   - our own certificate is sent with the whole chain of intermediates of
 *     chain_file (RFC 8071 S4), and only that: no automatic chain building
 *     from the verification store, which belongs to the peer's PKI.
 *
 * Why a verification failed is always kept (the error of the first failing
 * depth, e.g. expired, unknown CA, revoked), with the peer's leaf
 * certificate when it sent one, so the owner can log it and record it
 * (ch_tls_verify_result, ch_tls_peer_cert) even after an aborted handshake.
 *
 * Sessions: ch_tls_start takes a connected non-blocking fd; the module
 * watches it with a uv_poll_t (readable always, writable while output is
 * queued or OpenSSL wants to write), drives the handshake itself, runs a
 * stage deadline timer the owner sets, and calls back the owner:
 * handshake(status) once, then io() on every later wake-up. All callbacks
 * come from the loop, never from inside a ch_tls_* call (D6).
 *
 * Dead peers: OpenSSL 3 removed RFC 6520 heartbeats, so RFC 8071 C4/S7
 * cannot be met over TLS; ch_tls_tcp_keepalive sets TCP keep-alives on the
 * fd, and a NETCONF-level probe is the owner's job.
 *
 * One session belongs to one loop thread. Contexts may be shared by the
 * sessions of one thread. The process must ignore SIGPIPE: OpenSSL
 * writes to the socket with write(2), and a peer that reset the
 * connection would otherwise kill it.
 */
#ifndef CH_TLS_H
#define CH_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uv.h>

#include "lib/core/buf.h"
#include "lib/core/limits.h"	/* CH_TLS_*: sizes and waits; CH_PORT_TLS */

#define CH_TLS_READ_CHUNK (16u * 1024)	/* B, one TLS record's payload (RFC 8446 5.1) */
#define CH_TLS_ERR_LEN 256		/* ch_tls_error text */
#define CH_TLS_REASON_LEN 512		/* ch_tls_verify_result text */

/* Not an X509_V_ERR_*: the peer sent no certificate at all. */
#define CH_TLS_VERIFY_NO_CERT (-1L)

enum ch_tls_role {
	CH_TLS_CLIENT = 0,	/* the hub: accepts TCP, then TLS client */
	CH_TLS_SERVER = 1,	/* the agent: dials TCP, then TLS server */
};

enum ch_tls_verify_mode {
	/* A peer without a certificate or whose chain does not verify
	 * fails the handshake (SSL_VERIFY_PEER|FAIL_IF_NO_PEER_CERT). */
	CH_TLS_VERIFY_REQUIRE = 0,
	/* A certificate is still required, but a chain that does not
	 * verify completes the handshake: the owner MUST then look at
	 * ch_tls_verify_result and decide (e.g. a pinned fingerprint, RFC
	 * 7589 5 "or match a locally configured fingerprint"), and close
	 * unless it admits the peer by other means. */
	CH_TLS_VERIFY_REPORT = 1,
};

/* What a context is built from. Every path is borrowed for the call. */
struct ch_tls_ctx_opts {
	const char *cert_file;	/* PEM: our certificate (required); more
				 * certificates after it are sent as chain */
	const char *key_file;	/* PEM: its private key, unencrypted
				 * (required; encrypted keys are refused, never
				 * prompted for) */
	const char *chain_file;	/* PEM: intermediates sent after our
				 * certificate, in order; NULL: none */
	const char *const *ca_files;	/* PEM bundles: trust anchors that
					 * verify the peer (at least one in
					 * REQUIRE mode) */
	size_t nca_files;		/* <= CH_TLS_MAX_FILES */
	const char *const *crl_files;	/* PEM CRLs; when any is given,
					 * X509_V_FLAG_CRL_CHECK|CRL_CHECK_ALL:
					 * every CA of the peer's chain then
					 * needs its CRL loaded, or verification
					 * fails ("unable to get certificate
					 * CRL") */
	size_t ncrl_files;		/* <= CH_TLS_MAX_FILES */
	enum ch_tls_verify_mode verify;
};

struct ch_tls_ctx;

/* Build a context for the device (TLS server) or the hub (TLS client).
 * Returns a new *out (free with ch_tls_ctx_free). Errors: CH_ERR_INVAL (a
 * required option missing, too many files), CH_ERR_TLS (a file that cannot
 * be loaded, a key that does not match the certificate: one log line
 * naming the file, with OpenSSL's error queue text), CH_ERR_NOMEM. A
 * certificate that is already expired or not yet valid only gets a
 * warning. */
int ch_tls_server_ctx_new(const struct ch_tls_ctx_opts *o,
			  struct ch_tls_ctx **out);
int ch_tls_client_ctx_new(const struct ch_tls_ctx_opts *o,
			  struct ch_tls_ctx **out);
/* Sessions keep what they need (SSL_CTX is reference counted): a context
 * may be freed while sessions made from it still run. NULL is fine. */
void ch_tls_ctx_free(struct ch_tls_ctx *ctx);
/* The OpenSSL context, borrowed, for settings this module does not
 * offer. */
SSL_CTX *ch_tls_ctx_ssl(struct ch_tls_ctx *ctx);
enum ch_tls_role ch_tls_ctx_role(const struct ch_tls_ctx *ctx);

/* ---- one session ---- */

struct ch_tls;

struct ch_tls_cb {
	/* Once: the handshake ended. status CH_OK: verified (or, in REPORT
	 * mode, completed: check ch_tls_verify_result). Otherwise
	 * CH_ERR_TLS (protocol or verification failure: ch_tls_error and
	 * ch_tls_verify_result say why) or CH_ERR_CLOSED (the peer closed
	 * or reset before the end, the fd failed). After a failure the owner
	 * should call ch_tls_close. Application data the peer sent along
	 * with its last handshake flight may already wait: with CH_OK an
	 * io() call follows at once.
	 * Note for clients: in TLS 1.3 the client's handshake ends before
	 * the server has checked the client's certificate; a server that
	 * refuses it is then seen as CH_ERR_TLS from ch_tls_read (e.g.
	 * "tlsv1 alert unknown ca"), not here. */
	void (*handshake)(struct ch_tls *t, int status);
	/* After the handshake, on every wake-up of the fd: read with
	 * ch_tls_read until CH_ERR_AGAIN (OpenSSL may hold decrypted bytes
	 * that the fd will not signal again), check ch_tls_pending. After a
	 * failure (also one a ch_tls_write returned), io() comes once more
	 * so that ch_tls_read reports it; the owner should then close. */
	void (*io)(struct ch_tls *t);
	/* The stage deadline passed; why is the text given with it. */
	void (*expired)(struct ch_tls *t, const char *why);
	/* Every handle is closed, the SSL freed and the fd closed: the owner
	 * may free t now (and not earlier). Peer information is gone. */
	void (*closed)(struct ch_tls *t);
};

struct ch_tls {				/* embedded in the owner's struct;
					 * fields are read-only to it */
	uv_poll_t poll;
	uv_timer_t deadline;
	SSL *ssl;
	int fd;				/* owned once started */
	enum ch_tls_role role;
	enum ch_tls_verify_mode verify;
	struct ch_buf out;		/* bytes SSL_write did not take yet */
	int events;			/* UV_READABLE|UV_WRITABLE armed */
	int handles;			/* still open */
	int hs_done;			/* handshake callback ran */
	int hs_ok;			/* ... with CH_OK */
	int want_write;			/* OpenSSL wants the fd writable */
	int wr_wants_read;		/* SSL_write waits for input */
	int rd_err;			/* sticky ch_tls_read failure */
	int wr_err;			/* sticky write failure */
	int dead_told;			/* the owner saw the failure */
	int fatal;			/* no close_notify may be sent */
	int shut_sent;			/* close_notify went out */
	int closing;
	int rd_paused;			/* ch_tls_pause */
	const char *deadline_why;
	/* verification: the first failure seen, or X509_V_OK */
	long verr;
	int vdepth;
	X509 *vleaf;			/* the peer's leaf, owned */
	char vsubject[CH_TLS_REASON_LEN / 2]; /* subject of the failing cert */
	char vreason[CH_TLS_REASON_LEN];
	STACK_OF(X509) *sent_chain;	/* as sent, leaf first; owned */
	char err[CH_TLS_ERR_LEN];
	uint64_t hs_start_ns;		/* uv_hrtime at start */
	uint64_t hs_ns;			/* handshake duration, once done */
	const struct ch_tls_cb *cb;
	void *data;			/* the owner */
};

/* Starts a session of ctx's role over the connected fd (made non-blocking
 * here), on loop. On CH_OK the session owns fd and closes it before
 * closed(); the handshake starts from the loop (a client's ClientHello
 * goes out on the first tick). On error (CH_ERR_NOMEM, CH_ERR_TLS,
 * CH_ERR_IO when libuv refuses the fd) nothing was started, fd is still
 * the caller's and closed() is never called. ctx and cb are borrowed (cb
 * for the life of the session). No deadline is armed: call
 * ch_tls_deadline. */
int ch_tls_start(struct ch_tls *t, uv_loop_t *loop, struct ch_tls_ctx *ctx,
		 int fd, const struct ch_tls_cb *cb, void *data);

/* The current stage must end within ms (0 cancels). why (borrowed, static
 * text) is handed to expired(). */
void ch_tls_deadline(struct ch_tls *t, uint64_t ms, const char *why);

/* Reads decrypted bytes. CH_OK with *n > 0; CH_ERR_AGAIN: nothing now
 * (the handshake is not done yet, or wait for the fd); CH_ERR_CLOSED: the
 * peer sent close_notify, or the connection ended (EOF, reset) - then
 * ch_tls_error says which; CH_ERR_TLS: a protocol error (ch_tls_error).
 * *n is 0 unless CH_OK. */
int ch_tls_read(struct ch_tls *t, void *buf, size_t cap, size_t *n);

/* Writes len bytes: what the socket takes now, the rest queued (also
 * before the handshake ends: sent after it) and flushed as the fd allows.
 * CH_ERR_LIMIT when the queue would exceed CH_TLS_OUT_MAX (the peer is
 * not reading; nothing was queued), CH_ERR_TLS / CH_ERR_CLOSED when the
 * session failed, CH_ERR_INVAL when closing. */
int ch_tls_write(struct ch_tls *t, const void *data, size_t len);

/* 1: stop watching the fd for reading once the handshake is done (TCP
 * backpressure: the peer's bytes wait in the kernel); io() still comes
 * as queued output drains or after a failure. 0: watch it again. OpenSSL
 * may already hold decrypted bytes the fd will not signal: after
 * resuming, the owner reads at once (from the loop). */
void ch_tls_pause(struct ch_tls *t, int paused);

/* Bytes queued and not yet taken by the socket. */
static inline size_t ch_tls_pending(const struct ch_tls *t)
{
	return ch_buf_len(&t->out);
}

/* Ends the session (idempotent): tries once more to flush the queue, sends
 * close_notify once if the handshake succeeded and nothing fatal happened
 * (best effort: a full socket drops it), stops watching, and closes the
 * handles; closed() follows from the loop. An owner that wants its last
 * message delivered waits for ch_tls_pending() == 0 first (io() is called
 * as the fd drains). */
void ch_tls_close(struct ch_tls *t);

/* ---- after the handshake (peer data: valid until closed()) ---- */

/* The peer's certificate, borrowed; NULL if it sent none. Also set after
 * a handshake that failed verification. */
X509 *ch_tls_peer_cert(const struct ch_tls *t);
/* The chain the peer sent, leaf first (both roles), borrowed; NULL if it
 * sent no certificate. Not verified: for logs and "was the full chain
 * sent" checks. */
STACK_OF(X509) *ch_tls_peer_chain(const struct ch_tls *t);
/* The verified chain, leaf first and the trust anchor last, borrowed;
 * NULL unless verification succeeded. This is the chain cert-to-name
 * matches CA fingerprints against (RFC 7589 7). */
STACK_OF(X509) *ch_tls_verified_chain(const struct ch_tls *t);

/* X509_V_OK (0) when the peer's chain verified; otherwise the
 * X509_V_ERR_* of the first failure seen (or CH_TLS_VERIFY_NO_CERT), and
 * when reason is not NULL a text that names it and where, e.g.
 * "certificate has expired (depth 0: /CN=dev1/serialNumber=A123)". depth
 * may be NULL; -1 when not applicable. Before the handshake ended:
 * X509_V_OK and "". */
long ch_tls_verify_result(const struct ch_tls *t, int *depth,
			  const char **reason);
/* A short stable word for a verify result, for events and metrics:
 * "ok", "no-cert", "expired", "not-yet-valid", "revoked", "crl" (a CRL
 * missing, expired or bad), "untrusted" (no path to a trust anchor,
 * self-signed), "bad-signature", "purpose" (wrong key usage), "depth", or
 * "invalid" (anything else). */
const char *ch_tls_verify_kind(long verr);

/* The negotiated protocol ("TLSv1.3") and cipher, for logs; "" before the
 * handshake. Static or SSL-owned strings. */
const char *ch_tls_version(const struct ch_tls *t);
const char *ch_tls_cipher(const struct ch_tls *t);

/* The text of the last failure of this session (handshake, read, write),
 * built from OpenSSL's error queue or errno, or "" when there was none. */
const char *ch_tls_error(const struct ch_tls *t);

/* ---- dead-peer detection ---- */

/* TCP keep-alives on any socket (RFC 9643 tcp-client-parameters): the
 * first probe after idle_s of silence, then every interval_s, the
 * connection dropped after count unanswered probes; each value clamped
 * to what Linux takes (1..32767 s, 1..127 probes). CH_OK or CH_ERR_IO
 * (logged). */
int ch_tcp_keepalive(int fd, uint32_t idle_s, uint32_t interval_s,
		     uint32_t count);

/* Enables TCP keep-alives on fd: the first probe after interval_ms of
 * silence, then every interval_ms, the connection dropped after count
 * unanswered probes (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, in whole
 * seconds, at least CH_TLS_KEEPALIVE_MIN_MS). It also sets
 * TCP_USER_TIMEOUT to interval_ms * (count + 1), so unacknowledged
 * output (where keep-alives do not run) fails in the same time. A dead
 * peer then shows as CH_ERR_CLOSED from ch_tls_read (ETIMEDOUT).
 * interval_ms 0 turns keep-alives off. CH_OK or CH_ERR_IO (logged). */
int ch_tls_tcp_keepalive(int fd, uint32_t interval_ms, uint32_t count);

#endif
