/* termconfig.h - who may have a terminal on the agent and as whom: the
 * callhome-terminal YANG module's /terminal container (yang/,
 * docs/terminal.md) read into a struct, the --shell-user shortcut as the
 * same struct, and the pure decisions made from it (a manager, an env
 * name). No I/O beyond the tree; shell.c applies it.
 */
#ifndef CH_AGENT_TERMCONFIG_H
#define CH_AGENT_TERMCONFIG_H

#include <stddef.h>

#include "lib/core/limits.h"

struct lyd_node;

#define TERMC_MODULE "callhome-terminal"
#define TERMC_ACCOUNT_MAX 32		/* the module's length */
#define TERMC_NAME_MAX 128		/* an allowed-manager entry */
#define TERMC_ENV_NAME_MAX 64		/* an env pattern */

/* The YANG text of the module, built in (generated from yang/). */
extern const char termc_module_yang[];

struct termc {
	int present;			/* configured (container, or flag) */
	int enabled;
	char account[TERMC_ACCOUNT_MAX + 1];	/* "": none */
	int allow_root;
	char (*managers)[TERMC_NAME_MAX + 1];	/* none: every manager */
	size_t nmanagers;
	unsigned max_sessions;		/* 1..CH_AGENT_MAX_SHELLS */
	char (*env)[TERMC_ENV_NAME_MAX + 1];
	size_t nenv;
};

/* Reads /terminal from a data tree (running's top-level siblings, with
 * defaults; NULL is empty: present 0). CH_ERR_NOMEM; out is empty on
 * error. */
int termc_from_tree(const struct lyd_node *tree, struct termc *out);
/* The --shell-user shortcut: enabled, account user, root allowed when
 * it is root (naming it is explicit), every manager, the module's
 * default env allow-list. */
int termc_from_flag(const char *user, struct termc *out);
/* Deep copy (CH_ERR_NOMEM: *dst empty). */
int termc_copy(struct termc *dst, const struct termc *src);
void termc_free(struct termc *c);

/* Whether a manager authenticated as user with key fingerprint fp (either
 * may be NULL) is allowed: by fingerprint or user name; every manager
 * when the list is empty. */
int termc_manager_ok(const struct termc *c, const char *user,
		     const char *fp);
/* Whether env name may be set: a listed name or a prefix pattern
 * ("LC_*"), never one the agent sets itself (HOME USER LOGNAME SHELL
 * PATH), never one that is not [A-Za-z_][A-Za-z0-9_]*. */
int termc_env_ok(const struct termc *c, const char *name);

#endif
