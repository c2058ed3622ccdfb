#include "lib/core/cliopt.h"
#include "lib/core/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/core/limits.h"

int ch_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	*out = 0;
	if (s == NULL || !isdigit((unsigned char)s[0]))
		return CH_ERR_INVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return CH_ERR_INVAL;
	*out = (uint32_t)v;
	return CH_OK;
}

/* n digits at *p into *v, advancing *p. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return 0;
		*v = *v * 10 + (**p - '0');
	}
	return 1;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS]][Z], UTC. */
static int parse_date(const char *p, int64_t *out)
{
	struct tm tm = { 0 }, back;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	time_t t;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return CH_ERR_INVAL;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return CH_ERR_INVAL;
		if (*p == ':' && (p++, !digits(&p, 2, &sec)))
			return CH_ERR_INVAL;
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0' || y < 1970 || y > CH_CLI_MAX_TIME_YEAR || mo < 1 ||
	    mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return CH_ERR_INVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm moves 31 April to 1 May: such a date does not exist */
	if (gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
	    back.tm_mon != mo - 1)
		return CH_ERR_INVAL;
	*out = (int64_t)t;
	return CH_OK;
}

int ch_parse_time(const char *s, int64_t now, int64_t *out)
{
	static const struct {
		char unit;
		uint32_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 },
		      { 'd', 86400 }, { 'w', 7 * 86400 } };
	/* 10000 years in seconds: a bound for @N and for N ago */
	const uint64_t max_s = (uint64_t)CH_CLI_MAX_TIME_YEAR * 366 * 86400;
	unsigned long long v;
	char *end;
	size_t len;

	*out = 0;
	if (s == NULL || (len = strlen(s)) == 0)
		return CH_ERR_INVAL;
	if (strcmp(s, "now") == 0) {
		*out = now;
		return CH_OK;
	}
	if (len >= 10 && s[4] == '-')
		return parse_date(s, out);
	if (s[0] == '@' || isdigit((unsigned char)s[0])) {
		const char *p = s[0] == '@' ? s + 1 : s;

		if (!isdigit((unsigned char)*p))
			return CH_ERR_INVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno != 0 || v > max_s)
			return CH_ERR_INVAL;
		if (s[0] == '@') {
			if (*end != '\0')
				return CH_ERR_INVAL;
			*out = (int64_t)v;
			return CH_OK;
		}
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (end[0] != units[i].unit || end[1] != '\0')
				continue;
			if (v > max_s / units[i].seconds ||
			    (int64_t)(v * units[i].seconds) > now)
				return CH_ERR_INVAL;
			*out = now - (int64_t)(v * units[i].seconds);
			return CH_OK;
		}
	}
	return CH_ERR_INVAL;
}
