/* frame_fuzz.c - libFuzzer target for the RFC 6242 decoder.
 *
 * The first input byte steers the run, the rest is the byte stream:
 *   bit 0     initial mode (0 EOM, 1 chunked)
 *   bit 1     switch to chunked after the first message (hello exchange)
 *   bits 2-4  how the stream is cut into ch_frame_feed() calls
 *   bits 5-6  max_msg: default, 16, 100 or 1000 bytes
 * Every decoded message is re-encoded in both modes and must decode back to
 * the same bytes; any mismatch or broken invariant aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/buf.h"
#include "lib/core/err.h"
#include "lib/nc/frame.h"
#include "piece.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t max_msgs[4] = { 0, 16, 100, 1000 };

static int is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Encodes msg in mode, decodes it again, and checks the bytes. EOM drops
 * leading whitespace on decode, so that part is not compared. */
static void round_trip(const char *msg, size_t len, enum ch_frame_mode mode)
{
	struct ch_frame *g;
	struct ch_buf out;
	size_t ws = 0, got_len;
	char *got;
	int r;

	ch_buf_init(&out, 2 * len + 1024);
	r = ch_frame_encode(&out, mode, msg, len);
	if (mode == CH_FRAME_CHUNKED && len == 0) {
		if (r != CH_ERR_INVAL)
			abort();
		goto out;
	}
	if (mode == CH_FRAME_EOM && (memmem(msg, len, "]]>]]>", 6) ||
				     (len >= 3 && !memcmp(msg + len - 3, "]]>", 3)))) {
		if (r != CH_ERR_INVAL)
			abort();
		goto out;
	}
	if (r != CH_OK)
		abort();
	if (mode == CH_FRAME_EOM)
		while (ws < len && is_xml_space(msg[ws]))
			ws++;
	if ((g = ch_frame_new(len ? len : 1)) == NULL)
		abort();
	ch_frame_set_mode(g, mode);
	if (ch_frame_feed(g, ch_buf_ptr(&out), ch_buf_len(&out)) != CH_OK ||
	    ch_frame_next(g, &got, &got_len) != CH_OK)
		abort();
	if (got_len != len - ws || memcmp(got, msg + ws, got_len) != 0 ||
	    got[got_len] != '\0')
		abort();
	free(got);
	if (ch_frame_next(g, &got, &got_len) != CH_ERR_AGAIN)
		abort();
	ch_frame_free(g);
out:
	ch_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_frame *f;
	unsigned int ctl, pattern;
	size_t off = 0, i, len, max_msg, nmsg = 0;
	char *msg;
	int r = CH_OK;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	pattern = (ctl >> 2) & 7;
	max_msg = max_msgs[(ctl >> 5) & 3];
	if ((f = ch_frame_new(max_msg)) == NULL)
		return 0;
	if (max_msg == 0)
		max_msg = CH_FRAME_MAX_MSG_DEFAULT;
	ch_frame_set_mode(f, (ctl & 1) ? CH_FRAME_CHUNKED : CH_FRAME_EOM);

	for (i = 0; off < size && r == CH_OK; i++) {
		len = fuzz_piece(pattern, i, size - off);
		if ((r = ch_frame_feed(f, data + off, len)) != CH_OK)
			break;
		off += len;
		while ((r = ch_frame_next(f, &msg, &len)) == CH_OK) {
			if (len > max_msg || msg[len] != '\0')
				abort();
			if (ch_frame_mode(f) == CH_FRAME_EOM &&
			    memmem(msg, len, "]]>]]>", 6) != NULL)
				abort();
			round_trip(msg, len, CH_FRAME_EOM);
			round_trip(msg, len, CH_FRAME_CHUNKED);
			free(msg);
			if (++nmsg == 1 && (ctl & 2))
				ch_frame_set_mode(f, CH_FRAME_CHUNKED);
		}
		if (r == CH_ERR_AGAIN) {
			if (msg != NULL || len != 0)
				abort();
			r = CH_OK;
		}
	}
	/* A failure must be sticky and explained. */
	if (r != CH_OK) {
		if (r != CH_ERR_PROTO && r != CH_ERR_LIMIT)
			abort();
		if (ch_frame_error(f)[0] == '\0' ||
		    ch_frame_next(f, &msg, &len) != r || msg != NULL ||
		    ch_frame_feed(f, "\n#1\na\n##\n", 9) != r)
			abort();
	} else if (ch_frame_error(f)[0] != '\0') {
		abort();
	}
	ch_frame_free(f);
	return 0;
}
