/* borderpolicy.h - keeps the border's nftables ruleset (nftpolicy.h)
 * current: after every update of the border the ruleset is generated
 * again and, when its text changed, written to the policy file
 * (ch_file_write_atomic) and, when configured, applied with `nft -f
 * FILE` (uv_spawn: the loop never waits for it). The border's own
 * hold-down decides when: a change to exterior is in the next ruleset
 * at once, a change to interior after the hold-down.
 *
 * One nft at a time: a change while one runs is applied after it, from
 * the file, which by then holds the newest ruleset. A failure is logged
 * with nft's first line of error and kept for the state data; the next
 * change tries again. At a clean stop, with remove set, the table is
 * deleted (nft delete table inet callhome_border); otherwise it stays,
 * so the device stays filtered while the agent restarts.
 */
#ifndef CH_AGENT_BORDERPOLICY_H
#define CH_AGENT_BORDERPOLICY_H

#include <time.h>

#include <uv.h>

#include "agent/border.h"

/* The nft program, from PATH (Debian: /usr/sbin/nft, package nftables). */
#define BORDER_NFT_PROG "nft"
/* The policy file's name in the datastore directory when
 * --border-policy-apply is given without --border-policy-file. */
#define BORDER_POLICY_FILE "border-policy.nft"

struct border_policy_config {
	const char *file;		/* written on every change */
	int apply;			/* and loaded with nft -f */
	int remove;			/* the table deleted at a clean stop */
};

/* For the state data; strings borrowed until the next call on p. */
struct border_policy_state {
	const char *file;
	int apply;
	time_t written;			/* the file last written; 0: never */
	time_t applied;			/* the last nft run ended; 0: none */
	int ok;				/* it loaded the ruleset */
	const char *result;		/* "applied", or why not */
};

struct border_policy;

/* cfg is borrowed: it must outlive p. CH_OK or CH_ERR_NOMEM. */
int border_policy_new(uv_loop_t *loop, const struct border_policy_config *cfg,
		      struct border_policy **out);
/* The border changed (or was read for the first time): generate, and
 * write and apply what changed. */
void border_policy_update(struct border_policy *p, const struct border *b);
/* With apply: fn(ctx) once, after the first nft -f ended (loaded or
 * not), or after CH_BORDER_FIRST_LOAD_MS without one (the border never
 * read): the agent dials out after it, so its own connections are
 * tracked from their first packet. Connections opened before conntrack
 * runs in a network namespace are picked up mid-stream as new, and the
 * exterior chain drops their replies. Without apply: fn at once (from
 * the loop). */
void border_policy_when_loaded(struct border_policy *p,
			       void (*fn)(void *ctx), void *ctx);
/* Stops following: waits for a running nft, deletes the table when
 * cfg->remove, then calls done(ctx) from the loop. */
void border_policy_stop(struct border_policy *p, void (*done)(void *ctx),
			void *ctx);
void border_policy_state(const struct border_policy *p,
			 struct border_policy_state *st);
/* After the loop closed every handle. NULL is fine. */
void border_policy_free(struct border_policy *p);

#endif
