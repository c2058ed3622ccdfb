/* tlsconn.h - one call-home connection of the agent over TLS (RFC 8071
 * S3, RFC 7589): after our TCP connect we are the TLS *server*; we always
 * request and verify the manager's certificate, map it to a NETCONF user
 * name by the cert-to-name rules (RFC 7589 7), and serve ONE NETCONF
 * session on the connection (RFC 6242 framing). <close-session> ends the
 * TLS session (close_notify, RFC 7589 4).
 *
 * Dead managers: TLS has no heartbeat in OpenSSL 3 and a NETCONF server
 * has no request it may send to its client, so with keepalive_ms the
 * connection relies on TCP keep-alives (ch_tls_tcp_keepalive: idle and
 * interval keepalive_ms, keepalive_count probes, TCP_USER_TIMEOUT for
 * unacknowledged output); a dead peer then shows as a failed read.
 */
#ifndef CH_AGENT_TLSCONN_H
#define CH_AGENT_TLSCONN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/limits.h"
#include "lib/id/certid.h"

/* Old name of CH_AGENT_TLS_CLOSE_FLUSH_MS, for tlsconn.c until it
 * switches. */
#define AGENT_TLS_CLOSE_FLUSH_MS CH_AGENT_TLS_CLOSE_FLUSH_MS

struct agent;
struct agent_conn_result;
struct ch_tls_ctx;
struct agent_tls_conn;

#define AGENT_TLS_FILES 5	/* cert, key, chain, client CA, CRL */

/* A dialer's context for one endpoint, reused from call to call while
 * the files it was built from are unchanged (inode, size, change and
 * modification times): building one costs more than the handshake's crypto, and a
 * renewed certificate or CRL is still used by the next call. */
struct agent_tls_cache {
	struct ch_tls_ctx *ctx;		/* NULL: none yet */
	struct agent_tls_stamp {
		long long sec, nsec, size, csec, cnsec, ino, dev;
	} stamp[AGENT_TLS_FILES];
};
/* Frees the cached context (sessions made from it keep running). */
void agent_tls_cache_clear(struct agent_tls_cache *c);

struct agent_tls_params {	/* from the call-home configuration */
	const char *cert_file, *key_file, *chain_file; /* chain may be NULL */
	const char *client_ca_file;	/* verifies the manager's certificate */
	const char *crl_file;		/* NULL: none */
	const struct ch_ctn_rule *rules; size_t nrules;	/* copied */
	uint32_t keepalive_ms, keepalive_count;	/* TCP keep-alives; 0: off */
	struct agent_tls_cache *cache;	/* NULL: a context per connection */
};

/* As agent_conn_start: takes ownership of the connected fd (even on error:
 * it is closed); p and peer are copied (the files are read here: one SSL
 * context per connection). done() is called once, after every handle is
 * closed; the connection is freed right after it returns. Errors:
 * CH_ERR_NOMEM, CH_ERR_INVAL (bad parameters or rules), CH_ERR_TLS (a file
 * that does not load: logged), CH_ERR_IO. */
int agent_tls_conn_start(struct agent *ag, const struct agent_tls_params *p,
			 int fd, const char *peer,
			 void (*done)(void *ctx,
				      const struct agent_conn_result *),
			 void *ctx, struct agent_tls_conn **out);
/* Closes the connection (idempotent); done() follows. reason: static. */
void agent_tls_conn_close(struct agent_tls_conn *c, const char *reason);
/* Loop time (uv_now) of the last NETCONF message from the manager, or of
 * the connection's start (for the idle-timeout, as agent_conn_last_active). */
uint64_t agent_tls_conn_last_active(const struct agent_tls_conn *c);

#endif
