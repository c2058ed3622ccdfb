/* borderwatch.h - keeps a border (border.h) current from the kernel:
 * links, addresses and routes over rtnetlink (libmnl), dumped at start
 * and then followed from the kernel's events on a socket watched by
 * uv_poll (no polling), the hold-down run by a uv_timer. Every
 * classification made or changed is logged (with its reason and time)
 * and handed to the owner's callback.
 *
 * Lost events (ENOBUFS) are repaired by dumping everything again; the
 * classifications survive it.
 */
#ifndef CH_AGENT_BORDERWATCH_H
#define CH_AGENT_BORDERWATCH_H

#include <uv.h>

#include "agent/border.h"

struct border_watch;

/* Opens the rtnetlink socket and starts the dumps on loop. cfg is
 * borrowed: it must outlive the watch. on_change(ctx, c) is called for
 * each classification made (c->first) or changed, during the update (the
 * interior prefix set is derived after it); it may be NULL. Returns
 * CH_OK or CH_ERR_IO / CH_ERR_NOMEM (logged); *out is then NULL. */
int border_watch_start(uv_loop_t *loop, const struct border_config *cfg,
		       void (*on_change)(void *ctx,
					 const struct border_change *c),
		       void *ctx,
		       struct border_watch **out);

/* fn(ctx, b) is called after every classification pass once the first
 * dumps are read (an event, the end of a hold-down), changed or not:
 * for what derives from the whole border (the ruleset, borderpolicy.h).
 * NULL: none. */
void border_watch_on_update(struct border_watch *w,
			    void (*fn)(void *ctx, const struct border *b),
			    void *ctx);

/* The border it keeps (borrowed; valid until border_watch_free). Its
 * interfaces appear once the first dumps are read. */
const struct border *border_watch_border(const struct border_watch *w);

/* Frees w after the loop closed its handles (uv_walk + uv_run at
 * shutdown, as main.c does); the socket is closed here. NULL is fine. */
void border_watch_free(struct border_watch *w);

#endif
