/* tlsctx.h - what a TLS call home needs on the device (RFC 8071 S3, RFC
 * 7589): the endpoint's files and cert-to-name rules, and a context per
 * endpoint reused between calls. conn.c runs the connection.
 *
 * Dead managers: TLS has no heartbeat in OpenSSL 3 and a NETCONF server
 * has no request it may send to its client, so with keepalive_ms the
 * connection relies on TCP keep-alives (ch_tls_tcp_keepalive: idle and
 * interval keepalive_ms, keepalive_count probes, TCP_USER_TIMEOUT for
 * unacknowledged output); a dead peer then shows as a failed read.
 */
#ifndef CH_AGENT_TLSCTX_H
#define CH_AGENT_TLSCTX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/log.h"
#include "lib/id/certid.h"

struct ch_tls_ctx;

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

/* The context for this call: the cached one while its files are
 * unchanged, else a new one (cached when p->cache is set). *owned: the
 * caller frees it once the session started (sessions hold their own
 * reference). Errors: CH_ERR_INVAL (no CA file), CH_ERR_TLS (a file that
 * does not load: logged), CH_ERR_NOMEM. */
int agent_tls_ctx_get(const struct ch_logctx *log,
		      const struct agent_tls_params *p, struct ch_tls_ctx **ctx,
		      int *owned);

#endif
