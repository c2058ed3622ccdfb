/* junos_fuzz.c - libFuzzer target for the Junos outbound-ssh preamble
 * (src/lib/id/junos.c).
 *
 * Input: the first byte picks how the bytes arrive (1 to 64 at a time),
 * the rest is what a device sends on its call-home connection. The
 * scanner is fed as the hub feeds it (what it takes is consumed, the rest
 * peeked again with more); checked: it never takes more than it was
 * shown, never past the cap, and when it finds the banner the rest starts
 * with "SSH-" and no line it took does. Then what was taken is parsed and,
 * when it parses, the HMAC and fingerprint checks run on its fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/id/junos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ch_junos_scan sc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t n, step, pos = 0, avail = 0, take;
	struct ch_junos_info info;
	const char *why;
	char fp[128];
	int r = CH_JUNOS_PARTIAL;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 64) + 1;
	n = size - 1;
	ch_junos_scan_init(&sc);
	for (;;) {
		if (r == CH_JUNOS_PARTIAL && avail == n)
			break;	/* no more is coming */
		avail = avail + step < n ? avail + step : n;
		if (avail == pos)
			break;
		r = ch_junos_scan(&sc, in + pos, avail - pos, &take);
		if (r < 0) {
			if (r != CH_ERR_LIMIT || take != 0)
				abort();
			break;
		}
		if (take > avail - pos || sc.len > CH_JUNOS_PREAMBLE_MAX ||
		    memcmp(sc.text + sc.len - take, in + pos, take) != 0)
			abort();
		pos += take;
		if (r == CH_JUNOS_BANNER) {
			if (avail - pos < 4 || memcmp(in + pos, "SSH-", 4))
				abort();
			break;
		}
	}
	if (sc.len != pos)
		abort();
	if (ch_junos_parse(sc.text, sc.len, &info, &why) != CH_OK) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (info.device_id == NULL || strlen(info.device_id) == 0)
		abort();
	if (info.host_key) {
		ch_junos_hmac_verify(info.host_key, info.hmac, "k", 1);
		if (ch_junos_host_key_fp(info.host_key, fp, sizeof(fp)) ==
		    CH_OK && strncmp(fp, "SHA256:", 7) != 0)
			abort();
	}
	return 0;
}
