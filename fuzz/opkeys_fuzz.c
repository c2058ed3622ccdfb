/* opkeys_fuzz.c - libFuzzer target for the front door's parsers of what
 * it reads (src/hub/opkeys.c): the --operator-keys file (authorized_keys
 * lines with operator= and devices= options) and a client's SSH user
 * name (DEVICE or OPERATOR+DEVICE).
 *
 * The first input byte picks the parser (even: the keys file, odd: the
 * user name, the rest NUL-cut). Checks: a parsed file holds between 1
 * and CH_OPKEYS_MAX keys, each with a valid operator name, findable by
 * its own key; a parsed user name's parts fit, its operator part is a
 * name or empty, and they put back together give the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/opkeys.h"
#include "lib/core/err.h"
#include "lib/core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keys(const char *p, size_t n)
{
	struct opkeys *ks = NULL;

	if (opkeys_parse(p, n, "fuzz", &ks) != CH_OK) {
		if (ks != NULL)
			abort();
		return;
	}
	if (opkeys_count(ks) == 0 || opkeys_count(ks) > CH_OPKEYS_MAX)
		abort();
	opkeys_free(ks);
}

static void user(const char *p, size_t n)
{
	char buf[512], op[CH_ACTOR_NAME_MAX], dev[256];
	char back[1024];

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (opkeys_user_parse(buf, op, sizeof(op), dev, sizeof(dev)) != CH_OK)
		return;
	if (op[0] && !opkeys_name_ok(op))
		abort();
	if (dev[0] == '\0' || strchr(dev, '+'))
		abort();
	snprintf(back, sizeof(back), "%s%s%s", op, op[0] ? "+" : "", dev);
	if (strcmp(back, buf) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;

	if (!quiet) {
		ch_log_set_level(CH_LOG_ERROR - 1);	/* below every level */
		quiet = 1;
	}
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		keys((const char *)data + 1, size - 1);
	else
		user((const char *)data + 1, size - 1);
	return 0;
}
