/* select_fuzz.c - libFuzzer target for an operator's selection of
 * devices (src/hub/select.c), which every local operator may send over
 * the control socket: the "select" object as JSON, and a name glob
 * alone.
 *
 * The first input byte picks (even: the JSON object, odd: the glob, the
 * rest NUL-cut). Checks: a parsed selection has at most CH_SEL_TAGS_MAX
 * tags, each a valid tag, a NUL-terminated glob and a known state; a
 * glob turned into SQL fits and, for a glob without sets or escapes,
 * is the glob itself; the text of a selection is a string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/select.h"
#include "lib/core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void selection(const char *p, size_t n)
{
	struct ch_select sel;
	char why[256], text[512];
	json_t *obj = json_loadb(p, n, JSON_DECODE_ANY, NULL);
	int given;

	if (obj == NULL)
		return;
	if (hub_select_parse(obj, &sel, &given, why, sizeof(why)) == CH_OK) {
		if (sel.ntags < 0 || sel.ntags > CH_SEL_TAGS_MAX ||
		    sel.state < CH_SEL_ANY || sel.state > CH_SEL_REVOKED ||
		    memchr(sel.glob, '\0', sizeof(sel.glob)) == NULL)
			abort();
		for (int i = 0; i < sel.ntags; i++)
			if (ch_tag_check(sel.tags[i].key, sel.tags[i].value))
				abort();
	} else if (why[0] == '\0') {
		abort();
	}
	hub_select_text(obj, text, sizeof(text));
	if (memchr(text, '\0', sizeof(text)) == NULL)
		abort();
	json_decref(obj);
}

static void glob(const char *p, size_t n)
{
	char in[CH_SEL_GLOB_MAX * 2], out[CH_SEL_GLOB_MAX + 1];

	if (n >= sizeof(in))
		n = sizeof(in) - 1;
	memcpy(in, p, n);
	in[n] = '\0';
	if (hub_glob_to_sql(in, out, sizeof(out)) != CH_OK)
		return;
	if (strlen(out) >= sizeof(out))
		abort();
	if (strpbrk(in, "[\\") == NULL && strcmp(in, out) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		glob((const char *)data + 1, size - 1);
	else
		selection((const char *)data + 1, size - 1);
	return 0;
}
