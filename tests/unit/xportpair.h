/* xportpair.h - the end of a unit test that runs two transports (a client
 * and a server side) on one loop: close whichever is still open and wait
 * until both owners have heard closed(). */
#ifndef CH_XPORTPAIR_H
#define CH_XPORTPAIR_H

#include "lib/xport/xport.h"
#include "loopguard.h"

/* *a and *b are the owners' transport pointers, which their closed()
 * callbacks set to NULL. */
static inline void xport_pair_close(struct loopguard *g, uv_loop_t *loop,
				    struct ch_xport **a, struct ch_xport **b)
{
	if (*a)
		ch_xport_close(*a, "test over");
	if (*b)
		ch_xport_close(*b, "test over");
	LOOP_UNTIL(g, loop, *a == NULL && *b == NULL);
}

#endif
