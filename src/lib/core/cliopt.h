/* cliopt.h - parsing helpers shared by the command lines of all binaries. */
#ifndef CH_CLIOPT_H
#define CH_CLIOPT_H

#include <stdint.h>

/* Parses a whole decimal number in [min, max]. CH_OK or CH_ERR_INVAL
 * (empty, sign, junk after the digits, out of range). */
int ch_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/* Parses a point in time given on a command line, into unix seconds:
 *   2026-12-07T14:05:00Z  2026-12-07T14:05  2026-12-07 14:05  2026-12-07
 *     (UTC, as the CLI prints times; the Z and the seconds optional)
 *   30s 15m 2h 7d 2w     that long before now
 *   @1765116300          unix seconds
 *   now
 * CH_OK or CH_ERR_INVAL (nothing else, a date that does not exist, a
 * time before 1970 or past CH_CLI_MAX_TIME_YEAR). Pure: now is given. */
int ch_parse_time(const char *s, int64_t now, int64_t *out);

#endif
