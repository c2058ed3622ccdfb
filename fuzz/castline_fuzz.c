/* castline_fuzz.c - callhome play's reading of asciicast v2 lines
 * (src/cli/castread.c): any bytes, as a header and as an event. */
#include <stddef.h>
#include <stdint.h>

#include "cli/castread.h"
#include "lib/core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cast_header h;
	const char *d;
	size_t len;
	double t;
	char code;
	json_t *keep;

	cast_header_parse((const char *)data, size, &h);
	if (cast_event_parse((const char *)data, size, &t, &code, &d, &len,
			     &keep) == CH_OK) {
		if (len && d == NULL)
			__builtin_trap();
		if (!(t >= 0 && t <= CAST_TIME_MAX))
			__builtin_trap();
		json_decref(keep);
	}
	return 0;
}
