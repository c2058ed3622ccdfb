/* loopguard.h - running a test's libuv loop until a condition holds, with
 * a time bound: the loop-driving harness of the transport and session unit
 * tests. The guard is a timer that ticks every LOOPGUARD_TICK_MS while a
 * wait runs, so a state reached inside a timer callback (nothing more on
 * the fds) is seen within a tick, and the wait gives up after guard_ms. */
#ifndef CH_LOOPGUARD_H
#define CH_LOOPGUARD_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <uv.h>

#define LOOPGUARD_TICK_MS 5

struct loopguard {
	uv_timer_t timer;
	unsigned ticks, max_ticks;	/* ticks of this wait; the bound */
	int fired;			/* the bound was reached */
};

static inline void loopguard_on_tick(uv_timer_t *t)
{
	struct loopguard *g = t->data;

	if (++g->ticks >= g->max_ticks)
		g->fired = 1;
}

/* A guard on loop that gives a wait guard_ms at most; loopguard_close()
 * it before the loop is closed. */
static inline void loopguard_init(struct loopguard *g, uv_loop_t *loop,
				  unsigned guard_ms)
{
	uv_timer_init(loop, &g->timer);
	g->timer.data = g;
	g->ticks = 0;
	g->max_ticks = guard_ms / LOOPGUARD_TICK_MS;
	g->fired = 0;
}

static inline void loopguard_close(struct loopguard *g)
{
	uv_close((uv_handle_t *)&g->timer, NULL);
}

/* The start and the end of one wait (LOOP_UNTIL's, or a test's own). */
static inline void loopguard_start(struct loopguard *g)
{
	g->fired = 0;
	g->ticks = 0;
	uv_timer_start(&g->timer, loopguard_on_tick, LOOPGUARD_TICK_MS,
		       LOOPGUARD_TICK_MS);
}

static inline void loopguard_stop(struct loopguard *g)
{
	uv_timer_stop(&g->timer);
}

/* Runs loop until cond holds; fails the test if the guard's bound passes
 * first. A macro, so that a failure names the test's line. */
#define LOOP_UNTIL(g, loop, cond) do { \
	loopguard_start(g); \
	while (!(cond) && !(g)->fired) \
		uv_run((loop), UV_RUN_ONCE); \
	loopguard_stop(g); \
	assert_false((g)->fired); \
} while (0)

/* n turns of the loop that do not wait (for "nothing happens" checks). */
static inline void loop_spin(uv_loop_t *loop, int n)
{
	for (int i = 0; i < n; i++)
		uv_run(loop, UV_RUN_NOWAIT);
}

#endif
