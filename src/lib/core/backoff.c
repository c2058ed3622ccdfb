/* backoff.c - capped exponential back-off with full jitter.
 *
 * xorshift64* (Vigna) is plenty for spreading reconnects; it is not used
 * for anything secret. The seed goes through splitmix64 first so that
 * seeds 1, 2, 3 in tests do not start with look-alike states.
 */
#include "lib/core/backoff.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define SEED_FALLBACK 0x9e3779b97f4a7c15ull	/* any non-zero constant */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rng_next(struct ch_backoff *b)
{
	uint64_t x = b->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Non-blocking: an agent started early at boot must not wait for the
 * entropy pool; jitter only needs to differ between devices. */
static uint64_t seed_random(void)
{
	struct timespec ts;
	uint64_t s = 0;
	ssize_t n;

	do {
		n = getrandom(&s, sizeof(s), GRND_NONBLOCK);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(s) && s != 0)
		return s;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 16);
}

void ch_backoff_init(struct ch_backoff *b, uint32_t base_ms, uint32_t cap_ms,
		     uint64_t seed)
{
	/* Out-of-contract values are clamped rather than trusted. */
	if (base_ms == 0)
		base_ms = 1;
	if (cap_ms < base_ms)
		cap_ms = base_ms;
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	b->attempt = 0;
	b->rng = splitmix64(seed ? seed : seed_random());
	if (b->rng == 0)	/* xorshift never leaves state 0 */
		b->rng = SEED_FALLBACK;
}

uint32_t ch_backoff_ceiling(const struct ch_backoff *b)
{
	uint64_t c;

	if (b->attempt >= 32)	/* base << n would not fit: saturate */
		return b->cap_ms;
	c = (uint64_t)b->base_ms << b->attempt;
	return c > b->cap_ms ? b->cap_ms : (uint32_t)c;
}

/* Uniform in [0, range), range >= 1. */
static uint64_t uniform(struct ch_backoff *b, uint64_t range)
{
	/* Reject the short bottom slice of 2^64 so r % range is unbiased. */
	uint64_t limit = -range % range, r;

	do {
		r = rng_next(b);
	} while (r < limit);
	return r % range;
}

uint32_t ch_backoff_next(struct ch_backoff *b)
{
	uint64_t range = (uint64_t)ch_backoff_ceiling(b) + 1;	/* [0, ceil] */

	if (b->attempt < UINT32_MAX)
		b->attempt++;
	return (uint32_t)uniform(b, range);
}

uint32_t ch_backoff_random(struct ch_backoff *b, uint32_t bound)
{
	return bound ? (uint32_t)uniform(b, bound) : 0;
}

void ch_backoff_reset(struct ch_backoff *b)
{
	b->attempt = 0;
}
