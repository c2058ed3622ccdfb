/* frame.h - NETCONF message framing, RFC 6242 section 4 (style B2).
 *
 * A streaming decoder: bytes in (ch_frame_feed), whole messages out
 * (ch_frame_next); never touches a socket. Two modes:
 *   CH_FRAME_EOM      base:1.0, each message ends with "]]>]]>"
 *   CH_FRAME_CHUNKED  base:1.1, "\n#<size>\n<data>" ... "\n##\n"
 * A decoder starts in EOM mode (hellos are always EOM framed) and is
 * switched once, after the hello exchange, by ch_frame_set_mode(); bytes
 * already fed but not yet decoded are then decoded in the new mode.
 *
 * Errors are sticky: after CH_ERR_PROTO or CH_ERR_LIMIT every further call
 * returns the same code, and the session must end (RFC 6242 4.2: an invalid
 * chunk MUST close the channel). ch_frame_error() says what was wrong.
 */
#ifndef CH_FRAME_H
#define CH_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/limits.h"
#include "lib/core/buf.h"

#define CH_FRAME_CHUNK_SIZE_MAX 4294967295ull	    /* RFC 6242 4.2 */
#define CH_FRAME_ENCODE_CHUNK (64u * 1024)	    /* chunks we emit */

enum ch_frame_mode {
	CH_FRAME_EOM = 0,
	CH_FRAME_CHUNKED = 1,
};

struct ch_frame;

/* Returns a new decoder in EOM mode, or NULL on allocation failure.
 * max_msg caps one decoded message (0 selects CH_FRAME_MAX_MSG_DEFAULT);
 * it also caps the bytes buffered while waiting for a message's end. */
struct ch_frame *ch_frame_new(size_t max_msg);
void ch_frame_free(struct ch_frame *f);	/* NULL is fine */

void ch_frame_set_mode(struct ch_frame *f, enum ch_frame_mode mode);
enum ch_frame_mode ch_frame_mode(const struct ch_frame *f);

/* Copies len bytes into the decoder. CH_OK, CH_ERR_LIMIT (more undecoded
 * input than max_msg allows), CH_ERR_NOMEM, or a sticky error. */
int ch_frame_feed(struct ch_frame *f, const void *data, size_t len);

/* Takes the next whole message. CH_OK: *msg is a new NUL-terminated string
 * of *len bytes (framing removed), free with free(). CH_ERR_AGAIN: need
 * more bytes. CH_ERR_PROTO: malformed framing. CH_ERR_LIMIT: message larger
 * than max_msg. *msg is NULL unless CH_OK. */
int ch_frame_next(struct ch_frame *f, char **msg, size_t *len);

/* Text for the sticky error, or "" when there is none. */
const char *ch_frame_error(const struct ch_frame *f);

/* Appends msg[0..len) framed in mode to out (chunked: chunks of at most
 * CH_FRAME_ENCODE_CHUNK bytes, then "\n##\n"; EOM: msg then "]]>]]>").
 * An empty message in chunked mode is not representable: CH_ERR_INVAL. */
int ch_frame_encode(struct ch_buf *out, enum ch_frame_mode mode,
		    const char *msg, size_t len);
/* The most bytes ch_frame_encode appends for a len-byte message: one
 * chunk header ("\n#" + at most 10 digits + "\n") per
 * CH_FRAME_ENCODE_CHUNK bytes and one more, then "\n##\n"; EOM adds
 * "]]>]]>". */
#define CH_FRAME_ENCODED_MAX(len) \
	((len) + ((len) / CH_FRAME_ENCODE_CHUNK + 1) * 13 + 6)

#endif
