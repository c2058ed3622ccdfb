/* fwdconfig.c - forwarding's configuration in running (fwdconfig.h). */
#include "agent/fwdconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"

#define PREFIX_TEXT_MAX 64	/* "ffff:...:ffff/128" */
#define RULE_TEXT_MAX 96	/* "[prefix]:65535-65535" */
#define XML_MAX (CH_AGENT_FWD_MAX_RULES * 256 + 256)

static const struct lyd_node *child(const struct lyd_node *n,
				    const char *name)
{
	const struct lyd_node *c;

	LY_LIST_FOR(lyd_child(n), c)
		if (c->schema && strcmp(c->schema->name, name) == 0)
			return c;
	return NULL;
}

static const char *str(const struct lyd_node *n, const char *name,
		       const char *def)
{
	const struct lyd_node *c = child(n, name);

	return c ? lyd_get_value(c) : def;
}

/* One allow entry: its prefix and ports in --forward-allow's form, then
 * the same parser. */
static int read_rule(const struct lyd_node *n, struct fwd_rule *r,
		     char *err, size_t size)
{
	const char *name = str(n, "name", "?"), *pfx = str(n, "prefix", "");
	char text[RULE_TEXT_MAX], why[FWDC_ERR_MAX];
	int v6 = strchr(pfx, ':') != NULL;

	if (snprintf(text, sizeof(text), "%s%s%s:%s-%s", v6 ? "[" : "", pfx,
		     v6 ? "]" : "", str(n, "port-min", "1"),
		     str(n, "port-max", "65535")) >= (int)sizeof(text) ||
	    fwd_rule_parse(text, r, why, sizeof(why)) != CH_OK) {
		snprintf(err, size, "forwarding allow %s: %s", name,
			 strlen(text) + 1 >= sizeof(text) ? "too long" : why);
		return CH_ERR_INVAL;
	}
	return CH_OK;
}

int fwdc_from_tree(const struct lyd_node *tree, struct fwd_policy *out,
		   int *present, char *err, size_t size)
{
	struct lyd_node *fw = NULL;
	const struct lyd_node *c;
	const char *en;
	int r;

	memset(out, 0, sizeof(*out));
	*present = 0;
	if (size)
		err[0] = '\0';
	if (tree == NULL || lyd_find_path(tree, FWDC_PATH, 0, &fw) !=
	    LY_SUCCESS || fw == NULL)
		return CH_OK;
	*present = 1;
	en = str(fw, "enabled", "false");
	LY_LIST_FOR(lyd_child(fw), c) {
		if (c->schema == NULL || strcmp(c->schema->name, "allow") != 0)
			continue;
		if (out->nrules >= CH_AGENT_FWD_MAX_RULES) {
			snprintf(err, size, "forwarding: more than %d allow "
				 "rules", CH_AGENT_FWD_MAX_RULES);
			memset(out, 0, sizeof(*out));
			return CH_ERR_LIMIT;
		}
		if ((r = read_rule(c, &out->rules[out->nrules], err, size)) !=
		    CH_OK) {
			memset(out, 0, sizeof(*out));
			return r;
		}
		out->nrules++;
	}
	out->enabled = strcmp(en, "true") == 0;
	return CH_OK;
}

int fwdc_to_xml(const struct fwd_policy *p, char **xml)
{
	struct ch_buf b;
	char pfx[PREFIX_TEXT_MAX];
	int r;

	*xml = NULL;
	ch_buf_init(&b, XML_MAX);
	r = ch_buf_printf(&b, "<config><forwarding xmlns=\"" BORDER_NS "\">"
			  "<enabled>"
			  "%s</enabled>", p->enabled ? "true" : "false");
	for (size_t i = 0; r == CH_OK && i < p->nrules; i++) {
		border_prefix_text(&p->rules[i].pfx, pfx, sizeof(pfx));
		r = ch_buf_printf(&b, "<allow><name>flag-%zu</name><prefix>%s"
				  "</prefix><port-min>%u</port-min>"
				  "<port-max>%u</port-max></allow>", i + 1,
				  pfx, p->rules[i].lo, p->rules[i].hi);
	}
	if (r == CH_OK)
		r = ch_buf_puts(&b, "</forwarding></config>");
	if (r == CH_OK && (*xml = ch_buf_take(&b)) == NULL)
		r = CH_ERR_NOMEM;
	ch_buf_cleanup(&b);
	return r;
}
