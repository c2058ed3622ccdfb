/* ncproto.h - one NETCONF session's protocol engine, transport-agnostic.
 *
 * It owns the hello exchange (RFC 6241 8.1, RFC 6242 4.1) and the framing
 * switch; the transport (an SSH channel, the TLS session; lib/nc/session.c) hands it the bytes it
 * received and gives it a way to send. Both roles send their hello at
 * start, without waiting for the peer's (8.1: MUST NOT wait). Messages
 * are only delivered, and may only be sent, once the peer's hello has
 * been accepted.
 *
 * Callbacks run inside ch_nc_input(); they must not free the session
 * (defer teardown to the loop, style G3).
 */
#ifndef CH_NCPROTO_H
#define CH_NCPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/limits.h"
#include "lib/nc/msg.h"

enum ch_nc_role {
	CH_NC_CLIENT = 0,
	CH_NC_SERVER = 1,
};

struct ch_nc;

struct ch_nc_ops {
	/* Queue bytes on the transport. Non-zero means the transport is
	 * gone or over its limit; the error is returned to the caller. */
	int (*send)(void *ctx, const char *data, size_t len);
	/* The peer's hello was accepted. peer is borrowed for the call. */
	void (*on_hello)(void *ctx, const struct ch_hello *peer);
	/* One whole message after the hello. A non-zero return stops input
	 * processing (e.g. after <close-session>: RFC 6242 5 says nothing
	 * after it is processed) and ch_nc_input returns that value. */
	int (*on_message)(void *ctx, const char *msg, size_t len);
};

/* Returns a new session, or NULL on allocation failure. caps are copied;
 * session_id is sent in a server's hello (must be non-zero for servers).
 * max_msg as for ch_frame_new. ops and ctx are borrowed for the life of
 * the session. */
struct ch_nc *ch_nc_new(enum ch_nc_role role, uint32_t session_id,
			const char *const *caps, size_t ncaps, size_t max_msg,
			const struct ch_nc_ops *ops, void *ctx);
void ch_nc_free(struct ch_nc *nc);

/* Sends our hello. Call once, as soon as the transport is up. */
int ch_nc_start(struct ch_nc *nc);

/* Feeds received bytes. CH_OK; CH_ERR_PROTO or CH_ERR_LIMIT when the
 * session must end (ch_nc_error says why); or a callback's non-zero. */
int ch_nc_input(struct ch_nc *nc, const void *data, size_t len);

/* Frames and sends one message. CH_ERR_INVAL before the hello exchange
 * completed; CH_ERR_LIMIT over CH_MAX_MESSAGE_MAX (logged); the
 * transport's error otherwise. */
int ch_nc_send(struct ch_nc *nc, const char *msg, size_t len);

int ch_nc_ready(const struct ch_nc *nc);	/* hello exchange done */
int ch_nc_chunked(const struct ch_nc *nc);	/* base:1.1 framing in use */
/* The peer's capabilities, valid once ready. */
const struct ch_hello *ch_nc_peer_hello(const struct ch_nc *nc);
const char *ch_nc_error(const struct ch_nc *nc);

#endif
