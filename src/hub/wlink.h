/* wlink.h - one end of the channel between the hub's supervisor and one
 * of its workers (supervisor.h): a SOCK_SEQPACKET socket pair, so that
 * every message arrives whole and alone, and a descriptor sent with a
 * message (a control connection handed to a worker) arrives with that
 * message and no other.
 *
 * A message is a type byte (enum wlink_type) and a payload of at most
 * CH_HUB_WLINK_MSG_MAX bytes, text in practice. Sends never block: what
 * the socket does not take waits in a queue of at most
 * CH_HUB_WLINK_QUEUE_MAX messages; a peer that lets it fill is taken for
 * dead (the channel is closed, ops->closed says so).
 */
#ifndef CH_HUB_WLINK_H
#define CH_HUB_WLINK_H

#include <stddef.h>

#include <uv.h>

#include "lib/core/limits.h"

struct wlink;

enum wlink_type {
	WLINK_READY = 'R',	/* worker -> supervisor: listening, pid */
	WLINK_CONTROL = 'C',	/* supervisor -> worker: a control
				 * connection (fd) and what was read of it */
	WLINK_UP = 'U',		/* worker -> supervisor: it holds device fp */
	WLINK_GONE = 'G',	/* worker -> supervisor: it no longer does */
	WLINK_DROP = 'D',	/* supervisor -> worker: fp is up elsewhere */
	WLINK_KICK = 'K',	/* either way: fp has jobs due (broadcast) */
	WLINK_JOB = 'J',	/* either way: job id changed (broadcast) */
	WLINK_FAILED = 'F',	/* either way: a handshake failed from a
				 * source address (struct sockaddr) */
	WLINK_ADMITTED = 'S',	/* either way: a device admitted from one */
	WLINK_BIG = 'M',	/* supervisor -> worker: the next control
				 * connection's bytes, in a memory file */
	WLINK_QUERY = 'Q',	/* supervisor -> worker: "ID WHAT ARGS" */
	WLINK_ANSWER = 'A',	/* worker -> supervisor: "ID JSON" */
};

struct wlink_ops {
	void *ctx;
	/* A message; fd (the receiver's to close) or -1. payload is
	 * NUL-terminated for convenience, and borrowed for the call. */
	void (*message)(void *ctx, struct wlink *l, int type,
			const char *payload, size_t len, int fd);
	/* The peer closed its end, or the channel failed: l is closed and
	 * freed after this returns. */
	void (*closed)(void *ctx, struct wlink *l);
};

/* Serves fd (one end of socketpair(AF_UNIX, SOCK_SEQPACKET)) on loop;
 * takes fd. NULL when out of memory (fd closed). */
struct wlink *wlink_open(uv_loop_t *loop, int fd,
			 const struct wlink_ops *ops);
/* Queues one message, with fd (sent as SCM_RIGHTS; the caller keeps its
 * own copy and closes it when it likes) or -1. CH_OK, CH_ERR_LIMIT
 * (payload too long), CH_ERR_CLOSED (the channel is gone or its queue
 * is full: then it is being closed). */
int wlink_send(struct wlink *l, int type, const char *payload, size_t len,
	       int fd);
/* wlink_send of a printf-formatted payload. */
int wlink_sendf(struct wlink *l, int type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Closes the channel without calling ops->closed; NULL is fine. */
void wlink_close(struct wlink *l);

#endif
