/* conn.h - one call-home connection of the agent, over SSH or TLS: the
 * dialer's TCP connection becomes a transport (lib/xport) in the server
 * role (RFC 8071 S3), whose peer this module identifies - a manager key
 * from the authorized keys (SSH, public keys only), or a certificate
 * mapped to a user by the cert-to-name rules (TLS, RFC 7589 7) - and whose
 * streams it serves: NETCONF sessions (session.c), one per netconf
 * subsystem channel over SSH, the one TLS stream over TLS; shell and
 * exec channels over SSH (shell.c), when terminal access is on. Every
 * other stream is refused with the reason logged. The device still listens on
 * nothing: all of this rides on the connection it opened.
 */
#ifndef CH_AGENT_CONN_H
#define CH_AGENT_CONN_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct agent_conn;
struct agent_tls_params;

/* How a connection ended, for the dialer's reconnect decision. */
struct agent_conn_result {
	int established;	/* a NETCONF session was up at some point */
	int graceful;		/* its last session ended by <close-session> */
	const char *reason;	/* valid during done() */
};

struct agent_conn_params {
	/* NULL: SSH (the agent's host key and authorized keys) */
	const struct agent_tls_params *tls;
	/* SSH keep-alives (RFC 9644 max-wait, max-attempts); 0: none. TLS
	 * uses TCP keep-alives from tls->keepalive_*. */
	uint32_t keepalive_ms;
	uint32_t keepalive_count;
};

/* Takes ownership of the connected fd (even on error: it is closed);
 * peer and p are copied. done() is called once, after every handle is
 * closed; the connection is freed right after it returns. Errors:
 * CH_ERR_NOMEM, CH_ERR_INVAL (bad TLS parameters or rules), CH_ERR_TLS (a
 * file that does not load: logged), CH_ERR_SSH, CH_ERR_IO. */
int agent_conn_start(struct agent *ag, int fd, const char *peer,
		     const struct agent_conn_params *p,
		     void (*done)(void *ctx, const struct agent_conn_result *),
		     void *ctx, struct agent_conn **out);
/* Closes the connection (idempotent); done() follows. reason: static. */
void agent_conn_close(struct agent_conn *c, const char *reason);
/* Loop time (uv_now) of the last NETCONF message from the manager, or of
 * the connection's start (for the periodic idle-timeout). */
uint64_t agent_conn_last_active(const struct agent_conn *c);

#endif
