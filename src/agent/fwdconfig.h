/* fwdconfig.h - forwarding's configuration (fwdpolicy.h) in the
 * running datastore: the callhome-border module's /forwarding container
 * read into a struct fwd_policy, and the --forward, --forward-allow
 * flags written as that container.
 *
 * Precedence, as for the call-home flags (docs/remote-access.md): when
 * running holds a forwarding container, it is the configuration and the
 * flags are ignored; when it holds none at start, the flags are written
 * to it. Without a datastore (no --module) the flags are the
 * configuration.
 */
#ifndef CH_AGENT_FWDCONFIG_H
#define CH_AGENT_FWDCONFIG_H

#include <stddef.h>

#include "agent/fwdpolicy.h"

struct lyd_node;

#define FWDC_PATH "/" BORDER_MODULE ":forwarding"
#define FWDC_ERR_MAX 256

/* Reads the forwarding container of tree (running's top-level siblings;
 * NULL is empty). *present: whether there is one (when not, *out is
 * cleared: off, no rule). CH_OK, or CH_ERR_INVAL / CH_ERR_LIMIT with the
 * reason in err (a rule fwd_rule_parse refuses; more rules than
 * CH_AGENT_FWD_MAX_RULES) and *out cleared. */
int fwdc_from_tree(const struct lyd_node *tree, struct fwd_policy *out,
		   int *present, char *err, size_t size);

/* p as a <config> element holding <forwarding> (as chc_flags_xml), the
 * rules named
 * "flag-1", "flag-2"... in order, in a new string. CH_OK or
 * CH_ERR_NOMEM. */
int fwdc_to_xml(const struct fwd_policy *p, char **xml);

#endif
