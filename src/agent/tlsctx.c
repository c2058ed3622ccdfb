/* tlsctx.c - the agent's TLS contexts, one per endpoint, reused from call
 * to call while the files they were built from are unchanged (tlsctx.h).
 */
#include "agent/tlsctx.h"

#include <string.h>
#include <sys/stat.h>

#include "lib/core/err.h"
#include "lib/core/log.h"
#include "lib/xport/tls.h"

static int build_ctx(const struct ch_logctx *log,
		     const struct agent_tls_params *p, struct ch_tls_ctx **ctx)
{
	const char *cas[1] = { p->client_ca_file };
	const char *crls[1] = { p->crl_file };
	struct ch_tls_ctx_opts o = {
		.cert_file = p->cert_file,
		.key_file = p->key_file,
		.chain_file = p->chain_file,
		.ca_files = cas,
		.nca_files = 1,
		.crl_files = crls,
		.ncrl_files = p->crl_file ? 1 : 0,
		.verify = CH_TLS_VERIFY_REQUIRE,	/* RFC 7589 2, 7 */
	};

	if (p->client_ca_file == NULL) {
		ch_clog(CH_LOG_ERROR, log, "TLS call home needs a CA file for "
			"the manager's certificate");
		return CH_ERR_INVAL;
	}
	return ch_tls_server_ctx_new(&o, ctx);
}

/* What identifies the files' content: a missing or unset file is all
 * zeros (and fails later, when the context is built). */
static void stamps(const struct agent_tls_params *p,
		   struct agent_tls_stamp *out)
{
	const char *files[AGENT_TLS_FILES] = { p->cert_file, p->key_file,
		p->chain_file, p->client_ca_file, p->crl_file };
	struct stat st;

	memset(out, 0, AGENT_TLS_FILES * sizeof(*out));
	for (int k = 0; k < AGENT_TLS_FILES; k++)
		if (files[k] && stat(files[k], &st) == 0) {
			out[k].sec = st.st_mtim.tv_sec;
			out[k].nsec = st.st_mtim.tv_nsec;
			out[k].size = st.st_size;
			/* ctime no tool can set back; a file replaced by
			 * rename is another inode */
			out[k].csec = st.st_ctim.tv_sec;
			out[k].cnsec = st.st_ctim.tv_nsec;
			out[k].ino = (long long)st.st_ino;
			out[k].dev = (long long)st.st_dev;
		}
}

void agent_tls_cache_clear(struct agent_tls_cache *c)
{
	ch_tls_ctx_free(c->ctx);
	memset(c, 0, sizeof(*c));
}

int agent_tls_ctx_get(const struct ch_logctx *log,
		      const struct agent_tls_params *p, struct ch_tls_ctx **ctx,
		      int *owned)
{
	struct agent_tls_stamp now[AGENT_TLS_FILES];
	int r;

	*ctx = NULL;
	*owned = p->cache == NULL;
	if (p->cache == NULL)
		return build_ctx(log, p, ctx);
	stamps(p, now);
	if (p->cache->ctx &&
	    memcmp(now, p->cache->stamp, sizeof(now)) == 0) {
		*ctx = p->cache->ctx;
		return CH_OK;
	}
	if ((r = build_ctx(log, p, ctx)) != CH_OK)
		return r;
	if (p->cache->ctx)
		ch_clog(CH_LOG_INFO, log, "TLS files changed: new context");
	agent_tls_cache_clear(p->cache);
	p->cache->ctx = *ctx;
	memcpy(p->cache->stamp, now, sizeof(now));
	return CH_OK;
}

