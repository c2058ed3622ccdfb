/* conffile_fuzz.c - libFuzzer target for the daemons' configuration file
 * parser (lib/core/conffile.c), against an option table of every kind
 * (a value, a flag, a refused key).
 *
 * Checks: a parsed file gives at most CH_CONF_MAX_LINES arguments, each
 * "--NAME" for a flag or "--NAME=VALUE" for an option with a value, NAME
 * in the table and not refused, VALUE non-empty and without a newline,
 * with a "FILE:LINE" where; a refused file leaves nothing and an error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/conffile.h"
#include "lib/core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct option opts[] = {
	{ "listen", required_argument, NULL, 'L' },
	{ "accept-new", no_argument, NULL, 1 },
	{ "state", required_argument, NULL, 's' },
	{ "key", required_argument, NULL, 'k' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
static const char *const refused[] = { "help", NULL };

static void check(const char *arg, const char *where)
{
	const struct option *o;
	size_t n;

	if (strncmp(arg, "--", 2) != 0 || strchr(arg, '\n') ||
	    strncmp(where, "f:", 2) != 0)
		abort();
	n = strcspn(arg + 2, "=");
	for (o = opts; o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
			break;
	if (o->name == NULL || strcmp(o->name, "help") == 0)
		abort();
	if ((o->has_arg == no_argument) != (arg[2 + n] == '\0'))
		abort();
	if (o->has_arg != no_argument && arg[3 + n] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_conf_args a;
	char err[256];
	int r;

	r = ch_conf_parse("f", (const char *)data, size, opts, refused, &a,
			  err, sizeof(err));
	if (r != CH_OK) {
		if (a.n != 0 || a.argv != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (a.n > CH_CONF_MAX_LINES)
		abort();
	for (size_t i = 0; i < a.n; i++)
		check(a.argv[i], a.where[i]);
	ch_conf_free(&a);
	return 0;
}
