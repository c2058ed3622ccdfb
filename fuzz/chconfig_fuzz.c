/* chconfig_fuzz.c - libFuzzer target for the agent's call-home
 * configuration (src/agent/chconfig.c): the callhome-netconf-server
 * module's /netconf-server/call-home data into struct chc_config.
 *
 * Input: XML data as in the running datastore or a startup.xml (top-level
 * elements, <netconf-server xmlns="urn:callhome:yang:callhome-netconf-
 * server"> ...), parsed by libyang against the built-in module the way
 * chc_from_xml does (strict, validated) and read by chc_from_tree. An
 * input that starts with "<config>" goes through chc_from_xml itself
 * instead (its own libyang context: slower, so only then). Checks: a
 * result within the CHC_* limits, every client with 1 to
 * CH_CHC_MAX_ENDPOINTS endpoints, each with a host, a canonical text, and
 * findable by name; on error an empty result and a reason.
 *
 * The same tree also goes to termc_from_tree (the callhome-terminal
 * module's /terminal, src/agent/termconfig.c; the module is loaded beside
 * the call-home one): a result with max-sessions in range, lists that
 * agree with their counts, and a copy equal to it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "agent/chconfig.h"
#include "agent/termconfig.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ly_ctx *ctx;

static void check_ok(const struct chc_config *c)
{
	int ssh = 0;

	if (c->n > CH_CHC_MAX_CLIENTS || (c->n && !c->present) ||
	    (c->n && c->clients == NULL))
		abort();
	for (size_t i = 0; i < c->n; i++) {
		const struct chc_client *cl = &c->clients[i];

		if (cl->neps < 1 || cl->neps > CH_CHC_MAX_ENDPOINTS ||
		    cl->canon == NULL || memchr(cl->name, 0, sizeof(cl->name))
		    == NULL || chc_find(c, cl->name) == NULL)
			abort();
		for (size_t k = 0; k < cl->neps; k++) {
			const struct chc_endpoint *e = &cl->eps[k];

			if (e->host == NULL || e->nctn > CH_CHC_MAX_CTN ||
			    (e->nctn && e->ctn == NULL) ||
			    (e->transport != CHC_SSH &&
			     e->transport != CHC_TLS) ||
			    (e->transport == CHC_SSH && e->nctn))
				abort();
			ssh |= e->transport == CHC_SSH;
		}
	}
	if (chc_uses_ssh(c) != ssh)
		abort();
}

static void check(int r, const struct chc_config *c)
{
	if (r == CH_OK) {
		check_ok(c);
		return;
	}
	if (c->n != 0 || c->clients != NULL || chc_last_error()[0] == '\0')
		abort();
}

static void check_term(const struct lyd_node *tree)
{
	struct termc t, u;

	if (termc_from_tree(tree, &t) != CH_OK)
		return;		/* out of memory */
	if (t.present && (t.max_sessions < 1 ||
			  t.max_sessions > CH_AGENT_MAX_SHELLS))
		abort();
	if ((t.nmanagers && t.managers == NULL) || (t.nenv && t.env == NULL) ||
	    memchr(t.account, 0, sizeof(t.account)) == NULL)
		abort();
	termc_manager_ok(&t, t.account, NULL);
	for (size_t i = 0; i < t.nenv; i++)
		termc_env_ok(&t, t.env[i]);
	if (termc_copy(&u, &t) == CH_OK) {
		if (u.nenv != t.nenv || u.nmanagers != t.nmanagers ||
		    strcmp(u.account, t.account) != 0)
			abort();
		termc_free(&u);
	}
	termc_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lyd_node *tree = NULL;
	struct chc_config c;
	char *xml;
	int r;

	if (ctx == NULL) {
		ch_log_set_level(CH_LOG_ERROR - 1);	/* below every level */
		ly_log_options(LY_LOSTORE_LAST);	/* no printing */
		if (ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIR_CWD |
			       LY_CTX_NO_YANGLIBRARY, &ctx) != LY_SUCCESS ||
		    lys_parse_mem(ctx, chc_module_yang, LYS_IN_YANG, NULL) !=
			    LY_SUCCESS ||
		    lys_parse_mem(ctx, termc_module_yang, LYS_IN_YANG, NULL) !=
			    LY_SUCCESS)
			abort();
	}
	if ((xml = malloc(size + 1)) == NULL)
		return 0;
	memcpy(xml, data, size);
	xml[size] = '\0';
	if (strncmp(xml, "<config>", 8) == 0) {
		check(chc_from_xml(xml, &c), &c);
		chc_free(&c);
		goto out;
	}
	if (lyd_parse_data_mem(ctx, xml, LYD_XML, LYD_PARSE_STRICT, 0, &tree) !=
	    LY_SUCCESS)
		goto out;
	r = chc_from_tree(tree, &c);
	check(r, &c);
	chc_free(&c);
	check_term(tree);
out:
	lyd_free_all(tree);
	free(xml);
	return 0;
}
