/* hello_fuzz.c - libFuzzer target for the <hello> parser (RFC 6241 8.1).
 *
 * The input is one received hello. Whatever parses is negotiated in both
 * roles, then rebuilt with ch_hello_build and parsed again: capabilities
 * and session-id must come back unchanged. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void negotiate(const struct ch_hello *h, int is_server)
{
	const char *why = NULL;
	int chunked = -1;
	int r = ch_hello_negotiate(h, is_server, &chunked, &why);

	if (r == CH_OK && (why != NULL || (chunked != 0 && chunked != 1)))
		abort();
	if (r != CH_OK && (r != CH_ERR_PROTO || why == NULL || chunked != 0))
		abort();
	/* base:1.1 offered means chunked, whichever role we play */
	if (r == CH_OK) {
		int has11 = 0;

		for (size_t i = 0; i < h->ncaps; i++)
			if (strcmp(h->caps[i], CH_NC_BASE11) == 0)
				has11 = 1;
		if (chunked != has11)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_hello h, again;
	struct ch_buf b;
	int r;

	if (ch_hello_parse((const char *)data, size, &h) != CH_OK)
		return 0;
	if (h.ncaps > CH_HELLO_MAX_CAPS || (h.ncaps && h.caps == NULL) ||
	    (h.has_session_id && h.session_id == 0) ||
	    (!h.has_session_id && h.session_id != 0))
		abort();
	for (size_t i = 0; i < h.ncaps; i++)
		if (h.caps[i][0] == '\0' ||
		    strlen(h.caps[i]) > CH_HELLO_MAX_CAP_LEN)
			abort();
	negotiate(&h, 0);
	negotiate(&h, 1);

	ch_buf_init(&b, CH_XML_MAX_SIZE);
	r = ch_hello_build(&b, (const char *const *)h.caps, h.ncaps,
			   h.has_session_id ? h.session_id : 0);
	if (r != CH_OK)
		abort();
	if (ch_hello_parse(ch_buf_ptr(&b), ch_buf_len(&b), &again) != CH_OK)
		abort();
	if (again.ncaps != h.ncaps ||
	    again.has_session_id != h.has_session_id ||
	    again.session_id != h.session_id)
		abort();
	for (size_t i = 0; i < h.ncaps; i++)
		if (strcmp(again.caps[i], h.caps[i]) != 0)
			abort();
	ch_hello_cleanup(&again);
	ch_buf_cleanup(&b);
	ch_hello_cleanup(&h);
	return 0;
}
