/* backoff.h - reconnect delay: capped exponential back-off, full jitter.
 *
 * The n-th delay (n from 0) is uniform in [0, min(cap, base * 2^n)]
 * milliseconds, so a fleet that lost its manager at the same instant does
 * not call back in step. The generator is seeded per process (and may be
 * seeded explicitly in tests) and needs no locking: one per dialer.
 */
#ifndef CH_BACKOFF_H
#define CH_BACKOFF_H

#include <stdint.h>

struct ch_backoff {
	uint32_t base_ms;
	uint32_t cap_ms;
	uint32_t attempt;	/* delays handed out since the last reset */
	uint64_t rng;		/* xorshift64* state, never 0 */
};

/* seed 0 picks a seed from getrandom(). base_ms >= 1, cap_ms >= base_ms. */
void ch_backoff_init(struct ch_backoff *b, uint32_t base_ms, uint32_t cap_ms,
		     uint64_t seed);
/* The ceiling of the next delay, without consuming it. */
uint32_t ch_backoff_ceiling(const struct ch_backoff *b);
/* Returns the next delay and advances. */
uint32_t ch_backoff_next(struct ch_backoff *b);
/* A number uniform in [0, bound) from the same generator (0 when bound
 * is 0): jitter and random choices of the dialer. */
uint32_t ch_backoff_random(struct ch_backoff *b, uint32_t bound);
/* After a success: the next delay starts from base again. */
void ch_backoff_reset(struct ch_backoff *b);

#endif
