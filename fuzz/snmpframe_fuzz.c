/* snmpframe_fuzz.c - libFuzzer target for the SNMP message framer of the
 * `snmp` subsystem (ch_snmp_frame_next, src/lib/core/snmpframe.c).
 *
 * Input: the bytes a peer writes on an snmp channel, cut into reads as a
 * transport would (piece.h) and fed as the agent and the hub do: a
 * buffer, message after message until one is incomplete or broken.
 * Checks the contract: CH_OK takes a whole message that starts with a
 * SEQUENCE, within the buffer and the limit; AGAIN and PROTO take
 * nothing; a refused message stays refused however much more comes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/snmpframe.h"

#define FUZZ_MAX 2048	/* a small limit, so that it is hit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[FUZZ_MAX * 2];
	size_t have = 0, used, off = 0, step;
	const char *why;
	int r;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 64 + 1;	/* the read size */
	data++;
	size--;
	while (off < size) {
		size_t k = size - off < step ? size - off : step;

		if (have + k > sizeof(buf))
			return 0;	/* the caller's buffer bound */
		memcpy(buf + have, data + off, k);
		have += k;
		off += k;
		for (;;) {
			r = ch_snmp_frame_next(buf, have, FUZZ_MAX, &used,
					       &why);
			if (r == CH_ERR_PROTO) {
				if (used != 0 || why == NULL)
					abort();
				/* more bytes never make it a message */
				if (ch_snmp_frame_next(buf, sizeof(buf),
						       FUZZ_MAX, &used,
						       &why) != CH_ERR_PROTO)
					abort();
				return 0;
			}
			if (r == CH_ERR_AGAIN) {
				if (used != 0 || have >= FUZZ_MAX + 2 +
				    CH_SNMP_HDR_MAX)
					abort();
				break;
			}
			if (r != CH_OK || used < 2 || used > have ||
			    used > FUZZ_MAX || buf[0] != 0x30)
				abort();
			memmove(buf, buf + used, have - used);
			have -= used;
		}
	}
	return 0;
}
