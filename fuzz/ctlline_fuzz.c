/* ctlline_fuzz.c - libFuzzer target for the hub's control-API request
 * lines (hub_ctl_parse_line, src/hub/control.c).
 *
 * Input: what a client writes on the control socket, cut into lines at
 * '\n' as the socket does; each line is parsed on its own, numbered from
 * 1. Checks the contract: CH_OK gives an object whose "cmd" is the
 * returned non-empty string, and it survives a print-and-parse round
 * trip; CH_ERR_AGAIN only for blank lines; CH_ERR_INVAL explains itself
 * in a NUL-terminated message naming the line; out-parameters are NULL
 * unless CH_OK.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hub/control.h"
#include "lib/core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(json_t *root, const char *cmd, unsigned long lineno)
{
	char msg[CH_CTL_ERR_MAX];
	const char *cmd2;
	json_t *again;
	char *text;
	int r;

	if (!json_is_object(root) || cmd == NULL || cmd[0] == '\0' ||
	    cmd != json_string_value(json_object_get(root, "cmd")))
		abort();
	/* what we accepted, printed, is accepted again with the same cmd */
	if ((text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return;		/* out of memory */
	if (memchr(text, '\n', strlen(text)) != NULL)
		abort();	/* compact output is one line */
	r = hub_ctl_parse_line(text, strlen(text), lineno, &again, &cmd2, msg,
			       sizeof(msg));
	if (r != CH_OK || strcmp(cmd, cmd2) != 0 || !json_equal(root, again))
		abort();
	json_decref(again);
	free(text);
}

static void one_line(const char *p, size_t len, unsigned long lineno)
{
	char msg[CH_CTL_ERR_MAX], prefix[64];
	const char *cmd = "unset";
	json_t *root = (json_t *)&root;	/* not NULL: must be cleared */
	int r;

	memset(msg, 'x', sizeof(msg));
	r = hub_ctl_parse_line(p, len, lineno, &root, &cmd, msg, sizeof(msg));
	if (r == CH_OK) {
		check_ok(root, cmd, lineno);
		json_decref(root);
		return;
	}
	if (root != NULL || cmd != NULL || memchr(msg, 0, sizeof(msg)) == NULL)
		abort();
	if (r == CH_ERR_AGAIN) {
		for (size_t i = 0; i < len; i++)
			if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
				abort();
		return;
	}
	snprintf(prefix, sizeof(prefix), "request line %lu: ", lineno);
	if (r != CH_ERR_INVAL || strncmp(msg, prefix, strlen(prefix)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	unsigned long lineno = 0;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;	/* the last line, unterminated */
		one_line(p, (size_t)(nl - p), ++lineno);
		p = nl + 1;
	}
	return 0;
}
