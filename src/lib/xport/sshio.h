/* sshio.h - drives one non-blocking libssh session from a libuv loop
 * (style H1).
 *
 * libssh does the protocol; this module watches its socket with a
 * uv_poll_t (readable always, writable while libssh has output queued, from
 * ssh_get_poll_flags), and calls the owner's io callback on each wake-up so
 * the owner can pump libssh and advance its own state machine. It also
 * runs the two timers every connection needs: a deadline for the current
 * stage (handshake, authentication...) and keep-alives.
 *
 * Keep-alives (RFC 9644 max-wait, max-attempts): after `interval` without
 * a byte from the peer a keepalive@openssh.com global request (want-reply;
 * OpenSSH and libssh answer it, RFC 4254 4 says unknown names get a
 * failure reply, which proves liveness just as well) is sent, and another
 * every interval while nothing comes; when `count` probes in a row went
 * unanswered for an interval each, the peer is declared dead: exactly
 * interval * (count + 1) after its last byte (to the loop's granularity).
 *
 * Ownership of the fd differs by role in libssh 0.10, and the owner must
 * know which: after ssh_bind_accept_fd (the agent) libssh owns the fd and
 * closes it in ssh_disconnect or ssh_free; after SSH_OPTIONS_FD (the hub)
 * the caller owns it, except that libssh closes it itself in some error
 * paths (ssh_get_fd then returns SSH_INVALID_SOCKET), and ssh_disconnect
 * forgets it without closing it. Either way the poll handle must stop
 * watching the fd (ch_sshio_close) before it is closed.
 */
#ifndef CH_SSHIO_H
#define CH_SSHIO_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <uv.h>

#include "lib/core/buf.h"
#include "lib/core/limits.h"	/* CH_SSH_KEEPALIVE_*, CH_CHANOUT_MAX */

struct ch_sshio;

struct ch_sshio_cb {
	/* The socket is ready: pump libssh and advance. */
	void (*io)(struct ch_sshio *io);
	/* The stage deadline passed; why is the text given with it. */
	void (*expired)(struct ch_sshio *io, const char *why);
	/* Keep-alives went unanswered: the peer is dead. The owner should
	 * close. */
	void (*dead)(struct ch_sshio *io);
	/* Every handle is closed: the owner may now ssh_free and free. */
	void (*closed)(struct ch_sshio *io);
};

struct ch_sshio {			/* embedded in the owner's struct */
	uv_poll_t poll;
	uv_timer_t deadline;
	uv_timer_t keepalive;
	ssh_session ssh;		/* borrowed */
	struct ssh_counter_struct rx;	/* libssh counts socket bytes here */
	uint64_t rx_seen;		/* rx.in_bytes when last looked at */
	uint64_t last_rx;		/* loop ms of the last byte seen */
	uint32_t ka_interval;		/* ms; 0: off */
	uint32_t ka_count;
	uint32_t ka_unanswered;
	const char *deadline_why;
	int events;			/* UV_READABLE|UV_WRITABLE armed */
	unsigned poll_errors;		/* wake-ups with an error, in a row */
	int handles;			/* still open */
	int closing;
	const struct ch_sshio_cb *cb;
	void *data;			/* the owner */
};

/* Starts watching fd (already given to ssh) on loop. CH_ERR_IO if libuv
 * refuses the fd; then nothing was started and closed() is not called. */
int ch_sshio_start(struct ch_sshio *io, uv_loop_t *loop, ssh_session ssh,
		   int fd, const struct ch_sshio_cb *cb, void *data);

/* Re-arms the poll for what libssh needs now. Call after anything that may
 * queue output (the io callback is followed by it automatically). */
void ch_sshio_rearm(struct ch_sshio *io);

/* The current stage must end within ms (0 cancels). why names the stage. */
void ch_sshio_deadline(struct ch_sshio *io, uint64_t ms, const char *why);

/* Starts keep-alives (interval_ms 0 disables). */
void ch_sshio_keepalive(struct ch_sshio *io, uint32_t interval_ms,
			uint32_t count);

/* Stops everything; closed() follows from the loop. Idempotent. */
void ch_sshio_close(struct ch_sshio *io);

/* ---- a channel's outgoing bytes, bounded (style F1) ---- */

struct ch_chanout {
	ssh_channel ch;		/* borrowed */
	struct ch_buf q;	/* what the window or the socket did not take */
	int is_stderr;		/* extended data (RFC 4254 5.2): set after
				 * init */
};

void ch_chanout_init(struct ch_chanout *o, ssh_channel ch);
void ch_chanout_cleanup(struct ch_chanout *o);
/* Writes what the channel window allows now and queues the rest.
 * CH_ERR_LIMIT when the queue would exceed CH_CHANOUT_MAX (the peer is not
 * reading), CH_ERR_SSH when libssh fails. */
int ch_chanout_write(struct ch_chanout *o, const void *data, size_t len);
/* Retries the queue; call on every wake-up. */
int ch_chanout_flush(struct ch_chanout *o);
static inline size_t ch_chanout_pending(const struct ch_chanout *o)
{
	return ch_buf_len(&o->q);
}

/* Sends libssh's own messages through ch_log (debug level; protocol
 * detail only when we debug ourselves). Call after setting the level. */
void ch_log_route_libssh(void);

#endif
