/* listener.h - the hub's listening sockets: bind every address of an
 * endpoint, accept in batches when readable, and pause accepting for a
 * while when out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM) so that connections can drain. What happens to an accepted
 * connection is the owner's business, through ops->accepted.
 */
#ifndef CH_HUB_LISTENER_H
#define CH_HUB_LISTENER_H

#include "lib/core/limits.h"

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

/* Limits: CH_HUB_ACCEPT_BATCH, CH_HUB_LISTEN_BACKLOG, CH_HUB_ACCEPT_PAUSE_MS
 * (lib/core/limits.h). */

struct listener;

struct listener_ops {
	void *ctx;
	/* What is listened for, in the log ("operators' NETCONF clients");
	 * NULL: call-home connections over SSH or TLS. */
	const char *what;
	/* A connection accepted on l (non-blocking, close-on-exec) from peer
	 * (sa, and as text). Takes ownership of fd. */
	void (*accepted)(void *ctx, struct listener *l, int fd,
			 const char *peer, const struct sockaddr *sa);
};

enum {
	LISTENER_TLS = 1,	/* TLS call home (4335): listener_tls, the log */
	LISTENER_REUSEPORT = 2,	/* SO_REUSEPORT: one of the hub's workers,
				 * each with its own socket on the port */
};

/* Listens on every address of host:port (host NULL: every address, both
 * families) on loop, linking each listener into *list; flags as above.
 * Borrows
 * ops until the listeners are closed. CH_OK when at least one address
 * was bound; CH_ERR_INVAL when host does not resolve, CH_ERR_IO when no
 * address could be bound (each failure is logged). */
int listener_open(uv_loop_t *loop, const char *host, uint16_t port,
		  int flags, const struct listener_ops *ops,
		  struct listener **list);
/* Closes every listener of *list and empties it; the handles finish
 * closing on the loop, and are freed then. */
void listener_close_all(struct listener **list);

/* 1 for a TLS listener. */
int listener_tls(const struct listener *l);
/* The next listener of the list after l, or NULL. */
struct listener *listener_next(const struct listener *l);
/* The listener's address, for log lines. */
const char *listener_addr(const struct listener *l);
/* Counts a connection the owner refused at accept; returns the count
 * before this one (log the first refusal of every thousand). */
uint64_t listener_refused(struct listener *l);

#endif
