/* session.h - one NETCONF session on any byte stream (ch_stream: an SSH
 * channel, the TLS session, a plain fd), either role.
 *
 * It joins ncproto (hello exchange, framing switch) to a stream: it takes
 * the stream's callbacks, sends our hello first thing from the loop, ends
 * a session whose peer sends no hello in time, and delivers whole
 * messages to its owner:
 *
 *   server role  every message after the hello is one rpc for on_rpc();
 *                on_rpc returning CH_ERR_CLOSED means <close-session>
 *                was answered: nothing more is read, the reply is
 *                flushed, then the stream closes (graceful).
 *   client role  ch_ncs_rpc() sends <rpc message-id=N> and keeps it in a
 *                FIFO of pending rpcs (at most max_pending); a reply is
 *                matched by message-id and handed to its done() once;
 *                everything else (notifications, replies to messages the
 *                owner sent itself with ch_ncs_send, e.g. keep-alive
 *                probes) goes to on_other(). When the oldest pending rpc
 *                is older than rpc_timeout_ms the session ends ("... did
 *                not answer an rpc in time": replies come in order, RFC
 *                6241 4.5, so a session that skipped one cannot be
 *                trusted to resync).
 *
 * The end, whatever causes it (ch_ncs_close, a timeout, a protocol error,
 * the peer's EOF, the stream or its connection closing): the stream is
 * closed (after its queue for a polite end, at once otherwise), and once
 * it is gone every pending rpc's done() gets CH_ERR_CLOSED with the
 * reason, then ended() is called exactly once. The session frees itself
 * when ended() returns (its timer handle is closed from the loop): the
 * owner must not use it after that. A session that ended while its stream
 * is still flushing only waits; nothing is delivered any more.
 *
 * Callbacks run from the loop (a wake-up of the stream or the timer),
 * never from inside a ch_ncs_* call; they may call any ch_ncs_* function,
 * ch_ncs_close included.
 */
#ifndef CH_NC_SESSION_H
#define CH_NC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "lib/core/limits.h"
#include "lib/nc/msg.h"
#include "lib/nc/ncproto.h"
#include "lib/xport/xport.h"

/* CH_NCS_MAX_PENDING, CH_NCS_CLOSE_WAIT_MS: lib/core/limits.h */
#define CH_NCS_WHY_MAX 256		/* the reason's text */

struct ch_ncs;

/* The reply to one rpc (client role). status CH_OK: reply[0..len) is the
 * whole <rpc-reply> (borrowed for the call; it may carry <rpc-error>s).
 * CH_ERR_CLOSED: the session ended before the reply; why says how. */
typedef void (*ch_ncs_done)(void *ctx, int status, const char *reply,
			    size_t len, const char *why);

struct ch_ncs_ops {
	/* The peer's hello was accepted (its capabilities:
	 * ch_ncs_peer_hello). NULL: not told. */
	void (*hello)(void *ctx, const struct ch_hello *peer);
	/* Server role: one rpc (the whole message, borrowed). CH_OK goes on;
	 * CH_ERR_CLOSED: <close-session> was answered (flush, then close;
	 * graceful); any other error ends the session at once. */
	int (*on_rpc)(void *ctx, const char *msg, size_t len);
	/* Client role: a message that answers no pending rpc (a
	 * notification, a reply to the owner's own message). NULL: dropped
	 * with a debug line. */
	void (*on_other)(void *ctx, const char *msg, size_t len);
	/* Exactly once, the last call: why is valid during the call.
	 * graceful: ended by <close-session> (server: answered and flushed;
	 * client: ch_ncs_close_session was answered). ch_ncs_bad_hello and
	 * ch_ncs_established may be asked during the call. */
	void (*ended)(void *ctx, const char *why, int graceful);
};

struct ch_ncs_opts {
	uv_loop_t *loop;		/* the stream's loop (required) */
	enum ch_nc_role role;
	uint32_t session_id;		/* server: the id in our hello (!= 0) */
	const char *const *caps;	/* our hello's capabilities (copied) */
	size_t ncaps;
	size_t max_msg;			/* one message; 0: the frame default */
	uint64_t hello_timeout_ms;	/* 0: CH_NC_HELLO_TIMEOUT_MS */
	uint64_t rpc_timeout_ms;	/* client: 0 waits for ever */
	size_t max_pending;		/* client: 0: CH_NCS_MAX_PENDING */
	/* How reasons name the peer, e.g. "the manager", "device" (the
	 * text is copied); NULL: "the peer". */
	const char *peer_name;
};

/* Runs a session on a stream that is open now: the server role's, inside
 * the xport's accept() (this sets the stream's callbacks, as accept()
 * requires), or a client's after its opened(CH_OK). The stream is
 * borrowed until ended(). o, caps and peer_name are copied; ops and ctx
 * are borrowed until ended(). Errors (CH_ERR_INVAL: a bad option,
 * CH_ERR_NOMEM): nothing was started, the stream's callbacks are
 * untouched and ended() is never called. */
int ch_ncs_new(struct ch_stream *stream, const struct ch_ncs_opts *o,
	       const struct ch_ncs_ops *ops, void *ctx, struct ch_ncs **out);

/* Client role: opens a stream of req on x (ch_xport_open) and runs the
 * session on it once the peer took it; a refusal ends the session (with
 * the refusal as why). Errors as ch_ncs_new, or ch_xport_open's; then
 * nothing was started. */
int ch_ncs_open(struct ch_xport *x, const struct ch_stream_req *req,
		const struct ch_ncs_opts *o, const struct ch_ncs_ops *ops,
		void *ctx, struct ch_ncs **out);

/* Client role: sends op_xml as <rpc message-id=N> (ch_rpc_build; op_xml
 * may itself be an <rpc>, whose message-id is replaced) and keeps it
 * pending. CH_OK: done() comes exactly once, later, from the loop.
 * Otherwise done() is never called and *why (static text) says why:
 * CH_ERR_CLOSED (not up yet, or ending), CH_ERR_LIMIT (max_pending
 * pending, or the stream's queue is full), CH_ERR_PROTO (op_xml is not
 * well-formed), CH_ERR_INVAL (the server role), CH_ERR_NOMEM. id (may be
 * NULL) gets the message-id. */
int ch_ncs_rpc(struct ch_ncs *s, const char *op_xml, ch_ncs_done done,
	       void *ctx, uint32_t *id, const char **why);

/* Frames and sends one whole message (a reply, a notification, a probe)
 * once the hello exchange is done. CH_ERR_CLOSED before it or once
 * ending; the stream's error otherwise (CH_ERR_LIMIT: its queue is
 * full). */
int ch_ncs_send(struct ch_ncs *s, const char *msg, size_t len);

/* Client role, once up: a polite end: <close-session>; its reply ends the
 * session gracefully (the peer then closes too), no reply within
 * CH_NCS_CLOSE_WAIT_MS ends it anyway. why (static) is the reason given
 * to ended(). Pending rpcs still get their replies first. CH_ERR_CLOSED
 * when not up or already ending, else as ch_ncs_rpc. */
int ch_ncs_close_session(struct ch_ncs *s, const char *why);

/* Ends the session (idempotent): hard drops what is queued; otherwise
 * the stream's queue goes out first (bounded by the transport, see
 * ch_stream_close). why: copied. ended() follows from the loop. */
void ch_ncs_close(struct ch_ncs *s, int hard, const char *why);

/* The hello exchange is done (and the session is not ending). */
int ch_ncs_ready(const struct ch_ncs *s);
/* The hello exchange was done at some point. */
int ch_ncs_established(const struct ch_ncs *s);
/* The session ended because the peer's first message was not an
 * acceptable hello (RFC 6022 in-bad-hellos). */
int ch_ncs_bad_hello(const struct ch_ncs *s);
/* base:1.1 chunked framing is in use. */
int ch_ncs_chunked(const struct ch_ncs *s);
/* The peer's hello (capabilities, and the server's session-id), valid
 * once ready, until ended() returns. */
const struct ch_hello *ch_ncs_peer_hello(const struct ch_ncs *s);
/* The session-id: ours (server role) or the server's (client role, once
 * ready; 0 before). */
uint32_t ch_ncs_session_id(const struct ch_ncs *s);
size_t ch_ncs_npending(const struct ch_ncs *s);
/* The protocol engine underneath, for code that answers on it (the
 * agent's nc_server_serve); valid until ended() returns. */
struct ch_nc *ch_ncs_nc(struct ch_ncs *s);
struct ch_stream *ch_ncs_stream(const struct ch_ncs *s);

#endif
