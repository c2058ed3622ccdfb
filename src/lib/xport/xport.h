/* xport.h - the transport layer: one call-home connection and the byte
 * streams it carries, one interface for both roles and every kind (in the
 * spirit of curl's connection filters: the layers above never know which
 * transport they run on).
 *
 *   ch_xport   one connection over an fd we connected (the agent) or
 *              accepted (the hub): handshake, the peer's identity, a stage
 *              deadline, keep-alives, close
 *   ch_stream  one bidirectional byte stream on it: an SSH channel (many
 *              per connection, each of its own type, each with its own
 *              flow control) or the TLS session itself (exactly one)
 *
 * Kinds (each in its own file): SSH client (the hub), SSH server (the
 * agent), both in sshmux.c; TLS, either role, in tlsxport.c; a plain fd
 * in fdxport.c (tests, local relays).
 *
 * Life of a connection (RFC 8071: TCP by the device, then the protocol
 * roles as always):
 *
 *   start --handshake--> identify(peer) --CH_OK--> [authentication]
 *         --> up() --> streams opened (client role) or accepted (server
 *         role) ... --> ch_xport_close(why) or a failure
 *         --> every stream's closed() --> down(why) --> closed()
 *
 * identify() is the only call up from this layer: the owner decides
 * whether the peer it now knows (a host key, a certificate, a user's key)
 * may go on, before any credential of ours is sent (RFC 8071 C5-C7) or
 * any channel of the peer's is served.
 *
 * Streams. The server role offers every stream the peer asks for to the
 * owner's accept(), which takes it (and sets its callbacks) or refuses it
 * (the peer gets the protocol's failure). The client role opens streams
 * with ch_xport_open(); opened() says whether the peer took it. Each
 * stream has:
 *   - its own output queue, bounded by CH_STREAM_OUT_MAX: a peer that
 *     stops reading one channel fills that channel's queue and SSH window
 *     only; the others go on;
 *   - its own input flow control: ch_stream_pause() stops delivering data
 *     and, for SSH, stops opening the peer's window, so at most one window
 *     (about 1 MiB, libssh's) waits in memory;
 *   - a per-connection cap on how many are open (max_streams).
 *
 * Callbacks run from the loop (inside a wake-up of the fd or a timer),
 * never from inside a ch_xport_* / ch_stream_* call the owner makes; a
 * callback may call any function here, including closes. The xport frees
 * itself after closed() returns; a stream after its closed() returns.
 *
 * Who owns the fd: the xport, from a successful start on (it closes it
 * before closed()); the caller never closes it, not even after a failed
 * start: then it was closed, or - in the SSH server role, when
 * ssh_bind_accept_fd failed and libssh may have taken it - deliberately
 * left alone rather than risk a double close (sshmux.c).
 */
#ifndef CH_XPORT_H
#define CH_XPORT_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <openssl/x509.h>
#include <uv.h>

#include "lib/core/limits.h"	/* CH_STREAM_*, CH_XPORT_* */
#include "lib/core/log.h"

#define CH_STREAM_NAME_MAX 256		/* subsystem, exec command, host */
#define CH_STREAM_TERM_MAX 64		/* pty-req TERM */

struct ch_xport;
struct ch_stream;
struct ch_tls;
struct ch_tls_ctx;

enum ch_xport_kind {
	CH_XPORT_SSH = 0,
	CH_XPORT_TLS = 1,
	CH_XPORT_FD = 2,
};

enum ch_xport_role {
	CH_XPORT_CLIENT = 0,	/* SSH/TLS client: the hub, a manager */
	CH_XPORT_SERVER = 1,	/* SSH/TLS server: the agent, a device */
};

/* What the peer presented, for identify(); everything is borrowed for
 * the call. */
struct ch_peer_id {
	enum ch_xport_kind kind;
	/* SSH client role: the server's host key. SSH server role: the key
	 * the peer authenticates with; probe is 1 when it only asks
	 * whether the key would do (no signature yet), and then answering
	 * CH_OK does not authenticate it. */
	ssh_key key;
	const char *key_fp;	/* "SHA256:..." of key */
	const char *user;	/* SSH server role: the user name asked for */
	int probe;
	/* TLS: the peer's certificate (NULL: none) and, when its chain
	 * verified, the chain leaf first, anchor last (else NULL). */
	X509 *cert;
	STACK_OF(X509) *chain;
};

/* What a stream is. The server role learns it from the peer (a session
 * channel becomes a subsystem, shell or exec when the peer's request
 * comes; pty-req and env may come before it); the client role asks for
 * it. */
enum ch_stream_type {
	CH_STREAM_SUBSYSTEM = 0,	/* name: "netconf", "snmp", ... */
	CH_STREAM_SHELL = 1,
	CH_STREAM_EXEC = 2,		/* name: the command */
	CH_STREAM_DIRECT_TCPIP = 3,	/* name: the host to reach; port */
	CH_STREAM_TLS = 4,		/* the TLS session: NETCONF over TLS */
	CH_STREAM_FD = 5,		/* the fd itself */
};

struct ch_stream_req {
	enum ch_stream_type type;
	const char *name;		/* see the type; NULL for shell */
	uint16_t port;			/* direct-tcpip: the port to reach */
	const char *orig_host;		/* direct-tcpip: the originator */
	uint16_t orig_port;
	/* pty-req (session channels): pty is 1 when one was asked for */
	int pty;
	const char *term;
	uint32_t cols, rows;
	/* env requests (RFC 4254 6.4), each "NAME=VALUE", at most
	 * CH_STREAM_ENV_MAX of at most CH_STREAM_ENV_LEN bytes. Server role:
	 * those the owner's env() kept, in the order they came. Client
	 * role: sent before the request; a refusal is not an error (the
	 * server's choice, as OpenSSH's AcceptEnv). */
	const char *const *env;
	size_t nenv;
};

/* The owner of a connection: given at start, borrowed for its life. */
struct ch_xport_ops {
	/* The peer presented its identity (see ch_peer_id). CH_OK lets the
	 * connection go on; anything else refuses it: the xport closes
	 * with *why (static text, or the owner's until closed()). NULL:
	 * every peer is refused. */
	int (*identify)(struct ch_xport *x, const struct ch_peer_id *id,
			const char **why);
	/* Authenticated both ways: streams may now be opened/accepted. */
	void (*up)(struct ch_xport *x);
	/* Server role: the peer asks for a stream. CH_OK takes it: the
	 * owner must have called ch_stream_set_cb. Anything else refuses it
	 * (the peer gets a failure); *why is logged. NULL: every stream is
	 * refused. */
	int (*accept)(struct ch_xport *x, struct ch_stream *s,
		      const struct ch_stream_req *req, const char **why);
	/* Server role: the peer asks to set an environment variable on a
	 * session channel, before its shell or exec (RFC 4254 6.4). CH_OK
	 * keeps it in the stream's req.env; anything else refuses it (the
	 * peer gets a failure; the owner logs its reason). NULL: every
	 * env request is refused. */
	int (*env)(struct ch_xport *x, struct ch_stream *s, const char *name,
		   const char *value);
	/* The connection ended (every stream's closed() came first). why:
	 * valid until closed() returns. NULL: not told. */
	void (*down)(struct ch_xport *x, const char *why);
	/* Every handle is closed, the fd too: the owner lets go of x (it is
	 * freed when this returns). */
	void (*closed)(struct ch_xport *x);
};

struct ch_stream_cb {
	/* Client role: the peer took the stream (CH_OK) or refused it (why
	 * says how); after a refusal closed() follows. NULL: not told. */
	void (*opened)(struct ch_stream *s, int status, const char *why);
	/* Bytes from the peer (not while paused). */
	void (*data)(struct ch_stream *s, const char *p, size_t n);
	/* Client role: the peer's stderr (SSH extended data of type
	 * SSH_EXTENDED_DATA_STDERR, RFC 4254 5.2), paused with data and
	 * sharing its window. NULL: dropped (a netconf subsystem's
	 * stderr is no part of the protocol). */
	void (*data_err)(struct ch_stream *s, const char *p, size_t n);
	/* The peer sends nothing more on this stream. NULL: the stream is
	 * closed at the peer's EOF. */
	void (*eof)(struct ch_stream *s);
	/* The output queue became empty. NULL: not told. */
	void (*drained)(struct ch_stream *s);
	/* A terminal's new size (window-change). NULL: ignored. */
	void (*resize)(struct ch_stream *s, uint32_t cols, uint32_t rows);
	/* Client role: the remote command ended (exit-status; signal is
	 * NULL, or the exit-signal name without "SIG" and status -1; the
	 * core-dumped flag and message are logged). NULL: ignored. */
	void (*exited)(struct ch_stream *s, int status, const char *signal);
	/* Server role: the peer asks for a signal to be delivered (RFC
	 * 4254 6.9; name without "SIG", e.g. "INT"). NULL: ignored. */
	void (*signal)(struct ch_stream *s, const char *name);
	/* The stream is gone (closed by either side, or the connection
	 * ended); the last call. why: valid during the call. */
	void (*closed)(struct ch_stream *s, const char *why);
};

/* ---- starting a connection (each takes fd, see above) ---- */

struct ch_xport_opts {
	const struct ch_logctx *log;	/* borrowed: conn=, peer=, device= */
	uint32_t max_streams;		/* 0: CH_XPORT_MAX_STREAMS */
	/* In the reasons this layer gives: who the peer is ("device",
	 * "manager"; NULL: "peer") and whose key we show ("the hub's";
	 * NULL: "our"). */
	const char *peer_name;
	const char *own_key_name;
	/* SSH client role: who we are to the server. */
	const char *user;
	ssh_key key;			/* borrowed */
	/* SSH server role: the host key (ssh_bind holding it, borrowed);
	 * the accepted authentication methods are public keys only. */
	ssh_bind bind;
	uint32_t max_auth_tries;	/* 0: 6 */
	/* TLS: the context, whose role decides ours (borrowed; the
	 * session keeps its own reference). */
	struct ch_tls_ctx *tls;
};

int ch_xport_ssh_client_start(uv_loop_t *loop, int fd,
			      const struct ch_xport_opts *o,
			      const struct ch_xport_ops *ops, void *owner,
			      struct ch_xport **out);
int ch_xport_ssh_server_start(uv_loop_t *loop, int fd,
			      const struct ch_xport_opts *o,
			      const struct ch_xport_ops *ops, void *owner,
			      struct ch_xport **out);
int ch_xport_tls_start(uv_loop_t *loop, int fd, const struct ch_xport_opts *o,
		       const struct ch_xport_ops *ops, void *owner,
		       struct ch_xport **out);
/* A plain connected fd: no handshake, no identity (identify is not
 * called); up() comes from the loop, then one CH_STREAM_FD stream is
 * offered to accept() (server role) or opened by ch_xport_open (client
 * role). */
int ch_xport_fd_start(uv_loop_t *loop, int fd, enum ch_xport_role role,
		      const struct ch_xport_opts *o,
		      const struct ch_xport_ops *ops, void *owner,
		      struct ch_xport **out);

/* ---- a connection ---- */

/* The current stage must end within ms (0 cancels): the connection is
 * then closed with why (static text). */
void ch_xport_deadline(struct ch_xport *x, uint64_t ms, const char *why);
/* Transport keep-alives (RFC 8071 S7): SSH global requests; the peer is
 * declared dead (closed with "no answer to keep-alives") interval_ms *
 * (count + 1) after its last byte. CH_ERR_INVAL where the transport has
 * none (TLS under OpenSSL 3, fd): the owner probes at its own level. */
int ch_xport_keepalive(struct ch_xport *x, uint32_t interval_ms,
		       uint32_t count);
/* Closes every stream and the connection (idempotent); the callbacks
 * follow from the loop. why: static text. */
void ch_xport_close(struct ch_xport *x, const char *why);
/* Client role, once up: asks the peer for a stream (req is copied).
 * CH_OK: *out is valid until its closed(), and opened() comes. Errors:
 * CH_ERR_LIMIT (max_streams open), CH_ERR_INVAL (not up, not the client
 * role, a type this kind does not carry, or TLS's one stream already
 * taken), CH_ERR_NOMEM. */
int ch_xport_open(struct ch_xport *x, const struct ch_stream_req *req,
		  const struct ch_stream_cb *cb, void *ctx,
		  struct ch_stream **out);

enum ch_xport_kind ch_xport_kind(const struct ch_xport *x);
enum ch_xport_role ch_xport_role(const struct ch_xport *x);
const char *ch_xport_name(const struct ch_xport *x);	/* "ssh", "tls" */
void *ch_xport_owner(const struct ch_xport *x);
const struct ch_logctx *ch_xport_log(const struct ch_xport *x);
int ch_xport_is_up(const struct ch_xport *x);
size_t ch_xport_nstreams(const struct ch_xport *x);
/* Total bytes received from the peer, every stream and the protocol's
 * own (liveness for owner-level probes). */
uint64_t ch_xport_rx_bytes(const struct ch_xport *x);
/* The session underneath, for what this layer does not offer (logs,
 * verify results); NULL when the kind differs. */
ssh_session ch_xport_ssh(const struct ch_xport *x);
struct ch_tls *ch_xport_tls(const struct ch_xport *x);

/* ---- a stream ---- */

/* Server role, inside accept(): the owner's callbacks (borrowed for the
 * stream's life) and context. */
void ch_stream_set_cb(struct ch_stream *s, const struct ch_stream_cb *cb,
		      void *ctx);
/* Queues bytes: what the window and socket take now goes out, the rest
 * as they allow. CH_ERR_LIMIT when the queue would pass
 * CH_STREAM_OUT_MAX (nothing queued), CH_ERR_CLOSED after eof/close. */
int ch_stream_write(struct ch_stream *s, const void *p, size_t n);
/* Server role, an SSH session channel: bytes for the peer's stderr
 * (extended data, RFC 4254 5.2), in a queue of their own bounded as the
 * data's; both share the channel's window. Elsewhere (a TLS or fd stream,
 * the client role) they go as data. Errors as ch_stream_write. */
int ch_stream_write_err(struct ch_stream *s, const void *p, size_t n);
/* What waits in the output queue(s), data and stderr together. */
size_t ch_stream_pending(const struct ch_stream *s);
/* 1: stop delivering data (the peer's window is not reopened); 0:
 * deliver again, what waited first. */
void ch_stream_pause(struct ch_stream *s, int paused);
/* Sends EOF once the queue is out; writing ends. */
void ch_stream_eof(struct ch_stream *s);
/* Server role, before ch_stream_close: the command's exit status (RFC
 * 4254 6.10; only on SSH session channels, ignored elsewhere). */
void ch_stream_exit_status(struct ch_stream *s, int status);
/* Server role, instead of an exit status: the command was killed by
 * signal (its name without "SIG", RFC 4254 6.10), core: whether it
 * dumped core, msg: NULL or a line for the operator. */
void ch_stream_exit_signal(struct ch_stream *s, const char *signal, int core,
			   const char *msg);
/* Client role, an open session channel: asks the server to deliver a
 * signal (RFC 4254 6.9, name without "SIG"). CH_ERR_INVAL on another
 * stream or a name that is not [A-Z0-9]+ (or past
 * CH_STREAM_SIGNAL_NAME_MAX), CH_ERR_CLOSED when it is not open. The
 * server may ignore it (OpenSSH delivers it since 7.9). */
int ch_stream_signal(struct ch_stream *s, const char *name);
/* Client role, a session channel opened with a pty: the terminal's new
 * size (window-change, RFC 4254 6.7), sent from the loop; only the last
 * size asked for goes out. Ignored elsewhere. */
void ch_stream_resize(struct ch_stream *s, uint32_t cols, uint32_t rows);
/* Closes the stream once its queue is out (or at once with hard: the
 * queue is dropped); closed() follows from the loop. Idempotent. On a
 * TLS or fd stream this closes the connection; the wait for the queue is
 * bounded by CH_STREAM_CLOSE_FLUSH_MS. */
void ch_stream_close(struct ch_stream *s, int hard, const char *why);

unsigned ch_stream_id(const struct ch_stream *s);	/* from 1 */
const struct ch_stream_req *ch_stream_req(const struct ch_stream *s);
struct ch_xport *ch_stream_xport(const struct ch_stream *s);
void *ch_stream_ctx(const struct ch_stream *s);
/* The stream's log context: its connection's, with chan=. */
const struct ch_logctx *ch_stream_log(const struct ch_stream *s);

#endif
