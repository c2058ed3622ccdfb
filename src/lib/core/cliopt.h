/* cliopt.h - parsing helpers shared by the command lines of all binaries. */
#ifndef CH_CLIOPT_H
#define CH_CLIOPT_H

#include <stdint.h>

/* Parses a whole decimal number in [min, max]. CH_OK or CH_ERR_INVAL
 * (empty, sign, junk after the digits, out of range). */
int ch_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

#endif
