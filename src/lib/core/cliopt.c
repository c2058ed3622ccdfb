#include "lib/core/cliopt.h"
#include "lib/core/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

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
