/* streamframe_fuzz.c - libFuzzer target for the terminal stream's framing
 * (ch_sframe_parse, src/lib/core/streamframe.c).
 *
 * Input: the bytes a peer writes after the {"ok":true,"stream":ID} line,
 * parsed as the hub does: frame after frame until one is incomplete or
 * broken. Checks the contract: CH_OK consumes the header and exactly its
 * payload, within the input and the limit; a frame re-encoded parses to
 * the same thing; resize and exit payloads read back within their sizes;
 * AGAIN and INVAL consume nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/err.h"
#include "lib/core/streamframe.h"

#define FUZZ_MAX 4096	/* a small limit, so that it is hit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ch_sframe *f, size_t used, size_t left)
{
	uint8_t again[CH_SFRAME_HDR + FUZZ_MAX];
	char sig[CH_SFRAME_SIGNAL_MAX + 1];
	struct ch_sframe g;
	uint32_t cols, rows;
	int32_t status;
	size_t used2;

	if (used != CH_SFRAME_HDR + (size_t)f->len || used > left ||
	    f->len > FUZZ_MAX)
		abort();
	ch_sframe_header(again, f->type, f->len);
	memcpy(again + CH_SFRAME_HDR, f->payload, f->len);
	if (ch_sframe_parse(again, used, FUZZ_MAX, &g, &used2) != CH_OK ||
	    used2 != used || g.type != f->type || g.len != f->len ||
	    memcmp(g.payload, f->payload, f->len) != 0)
		abort();
	if (f->type == CH_SFRAME_RESIZE)
		ch_sframe_resize_get(f, &cols, &rows);
	if (f->type == CH_SFRAME_EXIT) {
		ch_sframe_exit_get(f, &status, sig);
		if (strlen(sig) != f->len - 4)
			abort();
	}
	if (strcmp(ch_sframe_type_name(f->type), "?") == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_sframe f;
	size_t used;
	int r;

	for (;;) {
		r = ch_sframe_parse(data, size, FUZZ_MAX, &f, &used);
		if (r != CH_OK) {
			if ((r != CH_ERR_AGAIN && r != CH_ERR_INVAL) ||
			    used != 0)
				abort();
			return 0;
		}
		check(&f, used, size);
		data += used;
		size -= used;
	}
}
