/* schedule.c - periodic start times and the attempt order of a round. */
#include "lib/core/schedule.h"

#include <string.h>

#include "lib/core/err.h"

uint64_t ch_sched_periodic_wait(int64_t now_ms, int64_t anchor_ms,
				uint64_t period_ms)
{
	__int128 p, off;

	if (period_ms == 0)
		return 0;
	p = (__int128)period_ms;
	/* How far now is into its period, as a floor modulo: correct on
	 * both sides of the anchor (C's % truncates towards zero); in 128
	 * bits, as the distance may not fit in 64. */
	off = ((__int128)now_ms - anchor_ms) % p;
	if (off < 0)
		off += p;
	return off == 0 ? 0 : (uint64_t)(p - off);
}

size_t ch_round_first(enum ch_start_with how, size_t n, size_t last,
		      uint32_t rnd)
{
	if (n == 0)
		return 0;
	switch (how) {
	case CH_START_LAST_CONNECTED:
		return last < n ? last : 0;
	case CH_START_RANDOM:
		return rnd % n;
	case CH_START_FIRST_LISTED:
	default:
		return 0;
	}
}

void ch_round_begin(struct ch_round *r, size_t n, size_t start,
		    uint32_t max_attempts)
{
	r->n = n;
	r->start = start < n ? start : 0;
	r->visited = 0;
	r->max_attempts = max_attempts ? max_attempts : 1;
	r->attempt = 0;
}

int ch_round_next(struct ch_round *r, size_t *ep, int *again)
{
	*again = 0;
	if (r->n == 0)
		return 0;
	if (r->visited > 0 && r->attempt < r->max_attempts) {
		r->attempt++;
		*again = 1;
	} else {
		if (r->visited == r->n)
			return 0;
		r->visited++;
		r->attempt = 1;
	}
	*ep = (r->start + r->visited - 1) % r->n;
	return 1;
}

/* n decimal digits at p, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;

	for (int k = 0; k < n; k++) {
		if (p[k] < '0' || p[k] > '9')
			return -1;
		v = v * 10 + (p[k] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int ch_sched_parse_time(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;

	*ms = 0;
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return CH_ERR_INVAL;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && (y % 4 != 0 ||
				    (y % 100 == 0 && y % 400 != 0))) ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return CH_ERR_INVAL;	/* second 60, a leap second, is kept */
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return CH_ERR_INVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		/* Each field is read only when the one before it was there:
		 * p may end anywhere. */
		oh = digits(p + 1, 2);
		om = oh < 0 || p[3] != ':' ? -1 : digits(p + 4, 2);
		if (oh > 23 || om < 0 || om > 59)
			return CH_ERR_INVAL;
		p += 6;
	} else {
		return CH_ERR_INVAL;
	}
	if (*p != '\0')
		return CH_ERR_INVAL;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	       (int64_t)sign * (oh * 3600 + om * 60)) * 1000;
	return CH_OK;
}
