/* termconfig.c - the terminal configuration (termconfig.h). */
#include "agent/termconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "lib/core/err.h"

/* The module's defaults for env, and for the flag shortcut. */
static const char *const default_env[] = { "LANG", "LC_*", "TERM", "TZ" };
/* Set by the agent for every process: never from a manager. */
static const char *const own_env[] = { "HOME", "USER", "LOGNAME", "SHELL",
				       "PATH" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void termc_free(struct termc *c)
{
	free(c->managers);
	free(c->env);
	memset(c, 0, sizeof(*c));
}

static int add_env(struct termc *c, const char *v, size_t cap)
{
	if (c->env == NULL && (c->env = calloc(cap, sizeof(*c->env))) == NULL)
		return CH_ERR_NOMEM;
	if (c->nenv < cap)
		snprintf(c->env[c->nenv++], sizeof(c->env[0]), "%s", v);
	return CH_OK;
}

static const struct lyd_node *child(const struct lyd_node *n,
				    const char *name)
{
	const struct lyd_node *k;

	LY_LIST_FOR(lyd_child(n), k)
		if (k->schema && strcmp(k->schema->name, name) == 0)
			return k;
	return NULL;
}

static size_t count(const struct lyd_node *n, const char *name)
{
	const struct lyd_node *k;
	size_t m = 0;

	LY_LIST_FOR(lyd_child(n), k)
		if (k->schema && strcmp(k->schema->name, name) == 0)
			m++;
	return m;
}

int termc_from_tree(const struct lyd_node *tree, struct termc *out)
{
	const struct lyd_node *t = NULL, *k;
	const char *v;
	size_t nm, ne;

	memset(out, 0, sizeof(*out));
	LY_LIST_FOR(tree, k)
		if (k->schema && strcmp(k->schema->name, "terminal") == 0 &&
		    strcmp(k->schema->module->name, TERMC_MODULE) == 0)
			t = k;
	if (t == NULL)
		return CH_OK;
	out->present = 1;
	out->max_sessions = CH_AGENT_MAX_SHELLS;
	if ((k = child(t, "enabled")) && (v = lyd_get_value(k)))
		out->enabled = strcmp(v, "true") == 0;
	if ((k = child(t, "allow-root")) && (v = lyd_get_value(k)))
		out->allow_root = strcmp(v, "true") == 0;
	if ((k = child(t, "account")) && (v = lyd_get_value(k)))
		snprintf(out->account, sizeof(out->account), "%s", v);
	if ((k = child(t, "max-sessions")) && (v = lyd_get_value(k))) {
		unsigned long m = strtoul(v, NULL, 10);

		if (m >= 1 && m <= CH_AGENT_MAX_SHELLS)
			out->max_sessions = (unsigned)m;
	}
	nm = count(t, "allowed-manager");
	ne = count(t, "env");
	if ((nm && (out->managers = calloc(nm, sizeof(*out->managers))) ==
	     NULL) ||
	    (ne && (out->env = calloc(ne, sizeof(*out->env))) == NULL)) {
		termc_free(out);
		return CH_ERR_NOMEM;
	}
	LY_LIST_FOR(lyd_child(t), k) {
		if (k->schema == NULL || (v = lyd_get_value(k)) == NULL)
			continue;
		if (strcmp(k->schema->name, "allowed-manager") == 0 &&
		    out->nmanagers < nm)
			snprintf(out->managers[out->nmanagers++],
				 sizeof(out->managers[0]), "%s", v);
		else if (strcmp(k->schema->name, "env") == 0 && out->nenv < ne)
			snprintf(out->env[out->nenv++], sizeof(out->env[0]),
				 "%s", v);
	}
	return CH_OK;
}

int termc_from_flag(const char *user, struct termc *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->present = 1;
	out->enabled = 1;
	snprintf(out->account, sizeof(out->account), "%s", user);
	out->allow_root = 1;	/* checked against the account's uid */
	out->max_sessions = CH_AGENT_MAX_SHELLS;
	for (i = 0; i < NELEM(default_env); i++)
		if (add_env(out, default_env[i], NELEM(default_env)) != CH_OK) {
			termc_free(out);
			return CH_ERR_NOMEM;
		}
	return CH_OK;
}

int termc_copy(struct termc *dst, const struct termc *src)
{
	*dst = *src;
	dst->managers = NULL;
	dst->env = NULL;
	if ((src->nmanagers && (dst->managers = calloc(src->nmanagers,
		sizeof(*dst->managers))) == NULL) ||
	    (src->nenv && (dst->env = calloc(src->nenv,
		sizeof(*dst->env))) == NULL)) {
		termc_free(dst);
		return CH_ERR_NOMEM;
	}
	if (src->nmanagers)
		memcpy(dst->managers, src->managers,
		       src->nmanagers * sizeof(*dst->managers));
	if (src->nenv)
		memcpy(dst->env, src->env, src->nenv * sizeof(*dst->env));
	return CH_OK;
}

int termc_manager_ok(const struct termc *c, const char *user,
		     const char *fp)
{
	size_t i;

	if (c->nmanagers == 0)
		return 1;
	for (i = 0; i < c->nmanagers; i++)
		if ((fp && strcmp(c->managers[i], fp) == 0) ||
		    (user && *user && strcmp(c->managers[i], user) == 0))
			return 1;
	return 0;
}

int termc_env_ok(const struct termc *c, const char *name)
{
	size_t i, n;

	if (name == NULL || !((*name >= 'A' && *name <= 'Z') ||
			      (*name >= 'a' && *name <= 'z') || *name == '_'))
		return 0;
	for (i = 1; name[i]; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	for (i = 0; i < NELEM(own_env); i++)
		if (strcmp(name, own_env[i]) == 0)
			return 0;
	for (i = 0; i < c->nenv; i++) {
		n = strlen(c->env[i]);
		if (n && c->env[i][n - 1] == '*'
		    ? strncmp(name, c->env[i], n - 1) == 0
		    : strcmp(name, c->env[i]) == 0)
			return 1;
	}
	return 0;
}
