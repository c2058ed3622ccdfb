/* schedule.h - when and where the agent calls home: the start times of a
 * periodic connection (anchor-time, period) and the order of attempts in
 * a round over a client's endpoints (reconnect-strategy). Pure functions:
 * no clock, no I/O, so every case has a unit test.
 */
#ifndef CH_SCHEDULE_H
#define CH_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define CH_ROUND_NONE ((size_t)-1)	/* no endpoint connected yet */

enum ch_start_with {
	CH_START_FIRST_LISTED = 0,
	CH_START_LAST_CONNECTED,
	CH_START_RANDOM,
};

/* Milliseconds from now_ms to the next periodic start: the first
 * anchor_ms + k * period_ms (k any integer) at or after now_ms. The
 * remaining part of the current period, whether the anchor lies in the
 * past or the future; 0 when now is a start. period_ms 0 gives 0. */
uint64_t ch_sched_periodic_wait(int64_t now_ms, int64_t anchor_ms,
				uint64_t period_ms);

/* The endpoint (of n) a round starts with: the first, the one of the
 * last connection (last; the first when CH_ROUND_NONE or out of range),
 * or rnd % n. */
size_t ch_round_first(enum ch_start_with how, size_t n, size_t last,
		      uint32_t rnd);

/* One round: every endpoint once, from start, round robin, each tried up
 * to max_attempts times in a row. */
struct ch_round {
	size_t n;
	size_t start;
	size_t visited;		/* endpoints begun, start included */
	uint32_t max_attempts;
	uint32_t attempt;	/* attempts on the current endpoint */
};

/* n >= 1, start < n (else 0), max_attempts >= 1 (else 1). */
void ch_round_begin(struct ch_round *r, size_t n, size_t start,
		    uint32_t max_attempts);
/* The next attempt: 1 with *ep, and *again set when it is the same
 * endpoint as the previous attempt (a retry); 0 when the round is
 * over. */
int ch_round_next(struct ch_round *r, size_t *ep, int *again);

/* An RFC 3339 date-and-time (YANG yang:date-and-time: fractions ignored,
 * "Z" or a +hh:mm/-hh:mm offset) as milliseconds since the epoch.
 * CH_ERR_INVAL when it is not one. */
int ch_sched_parse_time(const char *s, int64_t *ms);

#endif
