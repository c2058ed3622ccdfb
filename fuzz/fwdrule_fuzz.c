/* fwdrule_fuzz.c - libFuzzer target for forwarding's allow rules
 * (src/agent/fwdpolicy.c): the text --forward-allow and the running
 * configuration's allow entries (fwdconfig.c) go through
 * fwd_rule_parse. A rule that parses has its host bits off and a port
 * range within 1-65535, and its own text (fwd_rule_text) parses back to
 * the same rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fwdpolicy.h"
#include "lib/core/err.h"

#define TEXT_MAX 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[TEXT_MAX], again[TEXT_MAX], err[256];
	struct fwd_rule r, r2;
	unsigned full;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (fwd_rule_parse(text, &r, err, sizeof(err)) != CH_OK) {
		if (err[0] == '\0')
			abort();	/* a refusal says why */
		return 0;
	}
	full = r.pfx.family == AF_INET ? 32 : 128;
	if ((r.pfx.family != AF_INET && r.pfx.family != AF_INET6) ||
	    r.pfx.len > full || r.lo < 1 || r.hi < r.lo)
		abort();
	for (unsigned b = r.pfx.len; b < full; b++)
		if (r.pfx.addr[b / 8] & (0x80 >> (b % 8)))
			abort();	/* a host bit left on */
	fwd_rule_text(&r, again, sizeof(again));
	if (fwd_rule_parse(again, &r2, err, sizeof(err)) != CH_OK ||
	    memcmp(&r, &r2, sizeof(r)) != 0)
		abort();
	return 0;
}
