/* castread.h - reading an asciicast v2 recording back, one line at a time
 * (callhome play). The recording comes from the hub, which wrote it from
 * what a device sent: every line is checked, nothing is trusted. Pure:
 * no I/O. */
#ifndef CH_CLI_CASTREAD_H
#define CH_CLI_CASTREAD_H

#include <jansson.h>
#include <stddef.h>

#define CAST_TIME_MAX 1e9	/* s, an event's time: about 31 years */

struct cast_header {
	unsigned width, height;
	double idle_limit;	/* idle_time_limit, 0 if none */
};

/* The header line p[0..n): an object with "version": 2. CH_OK, or
 * CH_ERR_INVAL. */
int cast_header_parse(const char *p, size_t n, struct cast_header *h);

/* An event line p[0..n): [time, "code", "data"], time a number from 0 to
 * CAST_TIME_MAX. CH_OK: *t, *code (the code's first character), *data
 * and *len (borrowed from *keep, which the caller json_decrefs).
 * CH_ERR_AGAIN: an empty line. CH_ERR_INVAL otherwise (*keep NULL). */
int cast_event_parse(const char *p, size_t n, double *t, char *code,
		     const char **data, size_t *len, json_t **keep);

#endif
